/*
 * authorities.c: authority rows and CRL numbers (see authorities.h).
 * Trusts its callers for meaning (ca/ decides what a state change means)
 * and the database only as far as sqlite does: rows read back are copied
 * with their lengths, NULL columns become empty strings.
 */
#include <string.h>

#include <sqlite3.h>

#include "common/alloc.h"
#include "common/status.h"
#include "store/authorities.h"

static const char *const state_names[] = {
	"prepared", "active", "retiring", "retired"
};

const char *
store_auth_state_name(enum store_auth_state s)
{
	if ((unsigned)s >= sizeof(state_names) / sizeof(state_names[0]))
		return "unknown";
	return state_names[s];
}

static int
state_from_name(const char *s, enum store_auth_state *out)
{
	size_t i;

	for (i = 0; i < sizeof(state_names) / sizeof(state_names[0]); i++) {
		if (s != NULL && strcmp(s, state_names[i]) == 0) {
			*out = (enum store_auth_state)i;
			return 0;
		}
	}
	return -1;
}

static char *
col_dup(sqlite3_stmt *st, int i)
{
	const unsigned char *t = sqlite3_column_text(st, i);

	return mc_strndup(t != NULL ? (const char *)t : "",
	    (size_t)sqlite3_column_bytes(st, i));
}

int
store_authority_insert(struct store_db *db, const struct store_authority *a,
    int64_t *id, struct mc_err *e)
{
	sqlite3_stmt *st;
	int ret = -1;

	st = store_stmt(db, STORE_SLOT_AUTH_INSERT, "INSERT INTO authorities "
	    "(trust_domain, cert_pem, chain_pem, root_pem, key_blob, state, "
	    "not_after, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)", e);
	if (st == NULL)
		return -1;
	sqlite3_bind_text(st, 1, a->trust_domain, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, a->cert_pem, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, a->chain_pem != NULL ? a->chain_pem : "", -1,
	    SQLITE_STATIC);
	sqlite3_bind_text(st, 4, a->root_pem, -1, SQLITE_STATIC);
	if (a->key_blob != NULL)
		sqlite3_bind_blob(st, 5, a->key_blob, (int)a->key_blob_len,
		    SQLITE_STATIC);
	sqlite3_bind_text(st, 6, store_auth_state_name(a->state), -1,
	    SQLITE_STATIC);
	sqlite3_bind_int64(st, 7, a->not_after);
	sqlite3_bind_int64(st, 8, a->created_at);
	if (store_stmt_step(db, st, "insert authority", e) == -1)
		goto out;
	*id = sqlite3_last_insert_rowid(store_handle(db));
	ret = 0;
out:
	store_stmt_reset(st);
	return ret;
}

int
store_authority_set_key(struct store_db *db, int64_t id,
    const unsigned char *blob, size_t len, struct mc_err *e)
{
	sqlite3_stmt *st;
	int ret = -1;

	st = store_stmt(db, STORE_SLOT_AUTH_SET_KEY,
	    "UPDATE authorities SET key_blob = ? WHERE id = ?", e);
	if (st == NULL)
		return -1;
	sqlite3_bind_blob(st, 1, blob, (int)len, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, id);
	if (store_stmt_step(db, st, "store authority key", e) == -1)
		goto out;
	if (sqlite3_changes(store_handle(db)) != 1) {
		mc_err_set(e, MC_ST_REJECTED, 0, "ledger %s: no authority %lld",
		    store_path(db), (long long)id);
		goto out;
	}
	ret = 0;
out:
	store_stmt_reset(st);
	return ret;
}

int
store_authority_set_state(struct store_db *db, int64_t id,
    enum store_auth_state state, struct mc_err *e)
{
	sqlite3_stmt *st;
	int ret = -1;

	st = store_stmt(db, STORE_SLOT_AUTH_SET_STATE,
	    "UPDATE authorities SET state = ? WHERE id = ?", e);
	if (st == NULL)
		return -1;
	sqlite3_bind_text(st, 1, store_auth_state_name(state), -1,
	    SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, id);
	if (store_stmt_step(db, st, "set authority state", e) == -1) {
		if ((sqlite3_extended_errcode(store_handle(db)) & 0xff) ==
		    SQLITE_CONSTRAINT)
			mc_err_set(e, MC_ST_REJECTED, 0, "ledger %s: authority "
			    "%lld: another authority of its trust domain is "
			    "already active", store_path(db), (long long)id);
		goto out;
	}
	if (sqlite3_changes(store_handle(db)) != 1) {
		mc_err_set(e, MC_ST_REJECTED, 0, "ledger %s: no authority %lld",
		    store_path(db), (long long)id);
		goto out;
	}
	ret = 0;
out:
	store_stmt_reset(st);
	return ret;
}

static int
read_row(struct store_db *db, sqlite3_stmt *st, struct store_authority *a,
    struct mc_err *e)
{
	const void *blob;
	int n;

	memset(a, 0, sizeof(*a));
	a->id = sqlite3_column_int64(st, 0);
	a->trust_domain = col_dup(st, 1);
	a->cert_pem = col_dup(st, 2);
	a->chain_pem = col_dup(st, 3);
	a->root_pem = col_dup(st, 4);
	blob = sqlite3_column_blob(st, 5);
	n = sqlite3_column_bytes(st, 5);
	if (blob != NULL && n > 0) {
		if ((a->key_blob = mc_malloc((size_t)n)) == NULL)
			goto nomem;
		memcpy(a->key_blob, blob, (size_t)n);
		a->key_blob_len = (size_t)n;
	}
	if (a->trust_domain == NULL || a->cert_pem == NULL ||
	    a->chain_pem == NULL || a->root_pem == NULL)
		goto nomem;
	if (state_from_name((const char *)sqlite3_column_text(st, 6),
	    &a->state) == -1) {
		mc_err_set(e, MC_ST_PARSE, 0, "ledger %s: authority %lld: "
		    "unknown state", store_path(db), (long long)a->id);
		store_authority_clear(a);
		return -1;
	}
	a->not_after = sqlite3_column_int64(st, 7);
	a->created_at = sqlite3_column_int64(st, 8);
	return 0;
nomem:
	store_authority_clear(a);
	mc_err_set(e, MC_ST_NOMEM, 0, "ledger: out of memory");
	return -1;
}

#define AUTH_COLUMNS "id, trust_domain, cert_pem, chain_pem, root_pem, " \
	"key_blob, state, not_after, created_at"

/* The authorities read so far; list_row appends one. */
struct auth_list {
	struct store_db *db;
	struct store_authority *v;
	size_t n, cap;
};

static int
list_row(sqlite3_stmt *st, void *arg, struct mc_err *e)
{
	struct auth_list *l = arg;
	struct store_authority *nv;
	size_t cap;

	if (l->n == l->cap) {
		cap = l->cap == 0 ? 4 : l->cap * 2;
		if ((nv = mc_realloc(l->v, cap * sizeof(*nv))) == NULL) {
			mc_err_set(e, MC_ST_NOMEM, 0, "ledger: out of memory");
			return -1;
		}
		l->v = nv;
		l->cap = cap;
	}
	if (read_row(l->db, st, &l->v[l->n], e) == -1)
		return -1;
	l->n++;
	return 0;
}

int
store_authority_get(struct store_db *db, int64_t id,
    struct store_authority *out, bool *found, struct mc_err *e)
{
	struct auth_list l = { db, NULL, 0, 0 };
	sqlite3_stmt *st;
	int ret = -1;

	*found = false;
	st = store_stmt(db, STORE_SLOT_AUTH_GET, "SELECT " AUTH_COLUMNS
	    " FROM authorities WHERE id = ?", e);
	if (st == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, id);
	/* id is the primary key: one row at most */
	if (store_stmt_rows(db, st, "read authority", list_row, &l, e) == -1)
		goto out;
	if (l.n == 1) {
		*out = l.v[0];
		l.n = 0;
		*found = true;
	}
	ret = 0;
out:
	store_authority_list_free(l.v, l.n);
	store_stmt_reset(st);
	return ret;
}

int
store_authority_list(struct store_db *db, const char *trust_domain,
    struct store_authority **out, size_t *n, struct mc_err *e)
{
	struct auth_list l = { db, NULL, 0, 0 };
	sqlite3_stmt *st;
	int ret = -1;

	st = store_stmt(db, STORE_SLOT_AUTH_LIST, "SELECT " AUTH_COLUMNS
	    " FROM authorities WHERE trust_domain = ? ORDER BY id", e);
	if (st == NULL)
		return -1;
	sqlite3_bind_text(st, 1, trust_domain, -1, SQLITE_STATIC);
	if (store_stmt_rows(db, st, "list authorities", list_row, &l, e) == -1)
		goto out;
	*out = l.v;
	*n = l.n;
	l.v = NULL;
	l.n = 0;
	ret = 0;
out:
	store_authority_list_free(l.v, l.n);
	store_stmt_reset(st);
	return ret;
}

void
store_authority_clear(struct store_authority *a)
{
	if (a == NULL)
		return;
	mc_free(a->trust_domain);
	mc_free(a->cert_pem);
	mc_free(a->chain_pem);
	mc_free(a->root_pem);
	mc_free_secret(a->key_blob, a->key_blob_len);
	memset(a, 0, sizeof(*a));
}

void
store_authority_list_free(struct store_authority *a, size_t n)
{
	size_t i;

	if (a == NULL)
		return;
	for (i = 0; i < n; i++)
		store_authority_clear(&a[i]);
	mc_free(a);
}

int
store_crl_next_number(struct store_db *db, int64_t id, int64_t now,
    int64_t *number, struct mc_err *e)
{
	sqlite3_stmt *up, *sel = NULL;
	int ret = -1;

	/* Two statements, not RETURNING: that needs sqlite 3.35, we allow
	 * 3.34. The caller's transaction makes the pair atomic. */
	up = store_stmt(db, STORE_SLOT_CRL_NEXT, "INSERT INTO crl_numbers "
	    "(authority_id, number, issued_at) VALUES (?, 1, ?) "
	    "ON CONFLICT (authority_id) DO UPDATE SET number = number + 1, "
	    "issued_at = excluded.issued_at", e);
	if (up == NULL)
		return -1;
	sqlite3_bind_int64(up, 1, id);
	sqlite3_bind_int64(up, 2, now);
	if (store_stmt_step(db, up, "next CRL number", e) == -1)
		goto out;
	sel = store_stmt(db, STORE_SLOT_CRL_GET,
	    "SELECT number FROM crl_numbers WHERE authority_id = ?", e);
	if (sel == NULL)
		goto out;
	sqlite3_bind_int64(sel, 1, id);
	*number = 0;
	if (store_stmt_rows(db, sel, "read CRL number", store_row_int64,
	    number, e) == -1)
		goto out;
	if (*number <= 0) {
		mc_err_set(e, MC_ST_INTERNAL, 0, "ledger %s: authority %lld: "
		    "no CRL number after counting", store_path(db),
		    (long long)id);
		goto out;
	}
	ret = 0;
out:
	store_stmt_reset(up);
	store_stmt_reset(sel);
	return ret;
}
