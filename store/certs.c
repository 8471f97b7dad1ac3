/*
 * certs.c: issued-certificate rows, revocation and the queries the CA
 * and the daemon need (see certs.h). Each query walks an index made for
 * it in migrate.c. Trusts its callers for meaning; checks only what the
 * database can (unknown serial, unknown authority, double revocation).
 */
#include <string.h>

#include <sqlite3.h>

#include "common/alloc.h"
#include "common/status.h"
#include "store/certs.h"

static const char *const status_names[] = {
	"active", "superseded", "revoked"
};

const char *
store_cert_status_name(enum store_cert_status s)
{
	if ((unsigned)s >= sizeof(status_names) / sizeof(status_names[0]))
		return "unknown";
	return status_names[s];
}

static void
bind_text_or_null(sqlite3_stmt *st, int i, const char *s)
{
	if (s != NULL)
		sqlite3_bind_text(st, i, s, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(st, i);
}

int
store_cert_insert(struct store_db *db, const struct store_cert *c,
    struct mc_err *e)
{
	sqlite3_stmt *st;
	int rc, ret = -1;

	st = store_stmt(db, STORE_SLOT_CERT_INSERT, "INSERT INTO certificates "
	    "(serial, spiffe_id, namespace, service_account, not_before, "
	    "not_after, issued_at, authority_id, cert_pem) "
	    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", e);
	if (st == NULL)
		return -1;
	sqlite3_bind_text(st, 1, c->serial, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, c->spiffe_id, -1, SQLITE_STATIC);
	bind_text_or_null(st, 3, c->namespace_);
	bind_text_or_null(st, 4, c->service_account);
	sqlite3_bind_int64(st, 5, c->not_before);
	sqlite3_bind_int64(st, 6, c->not_after);
	sqlite3_bind_int64(st, 7, c->issued_at);
	sqlite3_bind_int64(st, 8, c->authority_id);
	sqlite3_bind_text(st, 9, c->cert_pem, -1, SQLITE_STATIC);
	if (store_stmt_step(db, st, "insert certificate", e) == -1) {
		rc = sqlite3_extended_errcode(store_handle(db));
		if (rc == SQLITE_CONSTRAINT_PRIMARYKEY)
			mc_err_set(e, MC_ST_REJECTED, 0, "ledger %s: serial %s "
			    "already recorded", store_path(db), c->serial);
		else if (rc == SQLITE_CONSTRAINT_FOREIGNKEY)
			mc_err_set(e, MC_ST_REJECTED, 0, "ledger %s: serial %s: "
			    "no authority %lld", store_path(db), c->serial,
			    (long long)c->authority_id);
		goto out;
	}
	ret = 0;
out:
	store_stmt_reset(st);
	return ret;
}

int
store_cert_insert_batch(struct store_db *db, const struct store_cert *c,
    size_t n, struct mc_err *e)
{
	size_t i;

	if (store_begin(db, e) == -1)
		return -1;
	for (i = 0; i < n; i++) {
		if (store_cert_insert(db, &c[i], e) == -1) {
			store_rollback(db);
			return -1;
		}
	}
	return store_commit(db, e);
}

#define CERT_COLUMNS "serial, spiffe_id, namespace, service_account, " \
	"not_before, not_after, issued_at, authority_id, cert_pem, status, " \
	"revoked_at, reason"

/* Fills c with borrowed pointers into the statement's current row. */
static void
row_view(sqlite3_stmt *st, struct store_cert *c)
{
	const char *s;

	memset(c, 0, sizeof(*c));
	c->serial = (char *)sqlite3_column_text(st, 0);
	c->spiffe_id = (char *)sqlite3_column_text(st, 1);
	c->namespace_ = (char *)sqlite3_column_text(st, 2);
	c->service_account = (char *)sqlite3_column_text(st, 3);
	c->not_before = sqlite3_column_int64(st, 4);
	c->not_after = sqlite3_column_int64(st, 5);
	c->issued_at = sqlite3_column_int64(st, 6);
	c->authority_id = sqlite3_column_int64(st, 7);
	c->cert_pem = (char *)sqlite3_column_text(st, 8);
	s = (const char *)sqlite3_column_text(st, 9);
	c->status = STORE_CERT_ACTIVE;
	if (s != NULL && strcmp(s, "superseded") == 0)
		c->status = STORE_CERT_SUPERSEDED;
	else if (s != NULL && strcmp(s, "revoked") == 0)
		c->status = STORE_CERT_REVOKED;
	c->revoked_at = sqlite3_column_int64(st, 10);
	c->reason = sqlite3_column_int(st, 11);
}

static char *
dup_or_null(const char *s, bool *bad)
{
	char *d;

	if (s == NULL)
		return NULL;
	if ((d = mc_strdup(s)) == NULL)
		*bad = true;
	return d;
}

struct get {
	struct store_cert *out;
	bool *found;
};

/* Copies the row into the caller's struct store_cert. */
static int
get_row(sqlite3_stmt *st, void *arg, struct mc_err *e)
{
	struct get *g = arg;
	struct store_cert v, *out = g->out;
	bool bad = false;

	row_view(st, &v);
	*out = v;
	out->serial = dup_or_null(v.serial, &bad);
	out->spiffe_id = dup_or_null(v.spiffe_id, &bad);
	out->namespace_ = dup_or_null(v.namespace_, &bad);
	out->service_account = dup_or_null(v.service_account, &bad);
	out->cert_pem = dup_or_null(v.cert_pem, &bad);
	if (bad) {
		store_cert_clear(out);
		mc_err_set(e, MC_ST_NOMEM, 0, "ledger: out of memory");
		return -1;
	}
	*g->found = true;
	return 0;
}

int
store_cert_get(struct store_db *db, const char *serial,
    struct store_cert *out, bool *found, struct mc_err *e)
{
	struct get g = { out, found };
	sqlite3_stmt *st;
	int ret;

	*found = false;
	st = store_stmt(db, STORE_SLOT_CERT_GET, "SELECT " CERT_COLUMNS
	    " FROM certificates WHERE serial = ?", e);
	if (st == NULL)
		return -1;
	sqlite3_bind_text(st, 1, serial, -1, SQLITE_STATIC);
	/* serial is the primary key: one row at most */
	ret = store_stmt_rows(db, st, "read certificate", get_row, &g, e);
	store_stmt_reset(st);
	return ret;
}

int
store_cert_revoke(struct store_db *db, const char *serial, int reason,
    int64_t at, struct mc_err *e)
{
	sqlite3_stmt *st;
	int ret = -1;

	st = store_stmt(db, STORE_SLOT_CERT_REVOKE, "UPDATE certificates SET "
	    "status = 'revoked', revoked_at = ?, reason = ? "
	    "WHERE serial = ? AND status <> 'revoked'", e);
	if (st == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, at);
	sqlite3_bind_int(st, 2, reason);
	sqlite3_bind_text(st, 3, serial, -1, SQLITE_STATIC);
	if (store_stmt_step(db, st, "revoke certificate", e) == -1)
		goto out;
	if (sqlite3_changes(store_handle(db)) != 1) {
		mc_err_set(e, MC_ST_REJECTED, 0, "ledger %s: serial %s: unknown "
		    "or already revoked", store_path(db), serial);
		goto out;
	}
	ret = 0;
out:
	store_stmt_reset(st);
	return ret;
}

int
store_cert_supersede(struct store_db *db, const char *spiffe_id,
    const char *keep_serial, size_t *n, struct mc_err *e)
{
	sqlite3_stmt *st;
	int ret = -1;

	st = store_stmt(db, STORE_SLOT_CERT_SUPERSEDE, "UPDATE certificates "
	    "SET status = 'superseded' WHERE spiffe_id = ? AND "
	    "status = 'active' AND serial <> ?", e);
	if (st == NULL)
		return -1;
	sqlite3_bind_text(st, 1, spiffe_id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, keep_serial != NULL ? keep_serial : "", -1,
	    SQLITE_STATIC);
	if (store_stmt_step(db, st, "supersede certificates", e) == -1)
		goto out;
	if (n != NULL)
		*n = (size_t)sqlite3_changes(store_handle(db));
	ret = 0;
out:
	store_stmt_reset(st);
	return ret;
}

struct walk {
	store_cert_cb cb;
	void *arg;
};

static int
walk_row(sqlite3_stmt *st, void *arg, struct mc_err *e)
{
	struct walk *w = arg;
	struct store_cert c;

	row_view(st, &c);
	return w->cb(&c, w->arg, e);
}

static int
walk(struct store_db *db, sqlite3_stmt *st, const char *what,
    store_cert_cb cb, void *arg, struct mc_err *e)
{
	struct walk w = { cb, arg };
	int ret;

	ret = store_stmt_rows(db, st, what, walk_row, &w, e);
	store_stmt_reset(st);
	return ret;
}

int
store_cert_live(struct store_db *db, const char *spiffe_id, int64_t now,
    store_cert_cb cb, void *arg, struct mc_err *e)
{
	sqlite3_stmt *st;

	st = store_stmt(db, STORE_SLOT_CERT_LIVE, "SELECT " CERT_COLUMNS
	    " FROM certificates INDEXED BY certificates_live WHERE "
	    "spiffe_id = ? AND status = 'active' AND not_after > ? "
	    "ORDER BY not_after DESC", e);
	if (st == NULL)
		return -1;
	sqlite3_bind_text(st, 1, spiffe_id, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, now);
	return walk(db, st, "live certificates", cb, arg, e);
}

int
store_cert_expiring(struct store_db *db, int64_t t, store_cert_cb cb,
    void *arg, struct mc_err *e)
{
	sqlite3_stmt *st;

	st = store_stmt(db, STORE_SLOT_CERT_EXPIRING, "SELECT " CERT_COLUMNS
	    " FROM certificates INDEXED BY certificates_expiry WHERE "
	    "not_after < ? AND status = 'active' ORDER BY not_after", e);
	if (st == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, t);
	return walk(db, st, "expiring certificates", cb, arg, e);
}

int
store_cert_revoked(struct store_db *db, int64_t authority_id, int64_t now,
    store_cert_cb cb, void *arg, struct mc_err *e)
{
	sqlite3_stmt *st;

	st = store_stmt(db, STORE_SLOT_CERT_REVOKED, "SELECT " CERT_COLUMNS
	    " FROM certificates INDEXED BY certificates_revoked WHERE "
	    "authority_id = ? AND status = 'revoked' AND not_after > ? "
	    "ORDER BY serial", e);
	if (st == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, authority_id);
	sqlite3_bind_int64(st, 2, now);
	return walk(db, st, "revoked certificates", cb, arg, e);
}

int
store_cert_query(struct store_db *db, const struct store_cert_filter *f,
    store_cert_cb cb, void *arg, struct mc_err *e)
{
	sqlite3_stmt *st;

	/* One statement for every combination: a NULL parameter turns its
	 * filter off, so the cached statement serves them all. */
	st = store_stmt(db, STORE_SLOT_CERT_QUERY, "SELECT " CERT_COLUMNS
	    " FROM certificates WHERE (?1 IS NULL OR status = ?1) AND "
	    "(?2 IS NULL OR namespace = ?2) AND "
	    "(?3 IS NULL OR spiffe_id = ?3) AND "
	    "(?4 IS NULL OR not_after < ?4) "
	    "ORDER BY issued_at, serial", e);
	if (st == NULL)
		return -1;
	if (f->status >= 0)
		sqlite3_bind_text(st, 1, store_cert_status_name(
		    (enum store_cert_status)f->status), -1, SQLITE_STATIC);
	bind_text_or_null(st, 2, f->namespace_);
	bind_text_or_null(st, 3, f->spiffe_id);
	if (f->expiring_before != 0)
		sqlite3_bind_int64(st, 4, f->expiring_before);
	return walk(db, st, "list certificates", cb, arg, e);
}

int
store_cert_count_unexpired(struct store_db *db, int64_t authority_id,
    int64_t now, int64_t *n, struct mc_err *e)
{
	sqlite3_stmt *st;
	int ret;

	st = store_stmt(db, STORE_SLOT_CERT_COUNT_UNEXPIRED, "SELECT count(*) "
	    "FROM certificates INDEXED BY certificates_by_authority WHERE "
	    "authority_id = ? AND not_after > ?", e);
	if (st == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, authority_id);
	sqlite3_bind_int64(st, 2, now);
	*n = 0;
	ret = store_stmt_rows(db, st, "count certificates", store_row_int64, n,
	    e);
	store_stmt_reset(st);
	return ret;
}

void
store_cert_clear(struct store_cert *c)
{
	if (c == NULL)
		return;
	mc_free(c->serial);
	mc_free(c->spiffe_id);
	mc_free(c->namespace_);
	mc_free(c->service_account);
	mc_free(c->cert_pem);
	memset(c, 0, sizeof(*c));
}
