/*
 * rotate.c: staged root rotation over the ledger (see rotate.h). The
 * ledger's own constraint (one active authority per trust domain) backs
 * up the checks here; every step runs in one transaction so a crash
 * leaves the previous stage or the next, never two signers or none.
 */
#include <stdio.h>
#include <string.h>

#include "ca/rotate.h"
#include "common/status.h"
#include "store/authorities.h"
#include "store/certs.h"
#include "store/events.h"

int
ca_rotate_prepare(struct store_db *db, const struct ca_kek *kek,
    const char *trust_domain, enum ca_key_type kt, int64_t lifetime,
    int64_t now, const char *actor, int64_t *id, struct mc_err *e)
{
	struct store_authority *v = NULL;
	struct ca_authority *a = NULL;
	size_t n = 0, i;
	int ret = -1;

	if (store_authority_list(db, trust_domain, &v, &n, e) == -1)
		return -1;
	for (i = 0; i < n; i++) {
		if (v[i].state == STORE_AUTH_PREPARED) {
			mc_err_set(e, MC_ST_REJECTED, 0, "rotate: authority "
			    "%lld is already prepared for %s; activate it "
			    "first", (long long)v[i].id, trust_domain);
			goto out;
		}
	}
	if (ca_authority_create_root(trust_domain, kt, lifetime, now, &a,
	    e) == -1 || ca_authority_save(db, kek, a, STORE_AUTH_PREPARED, now,
	    "rotate-prepare", actor, e) == -1)
		goto out;
	*id = a->id;
	ret = 0;
out:
	ca_authority_free(a);
	store_authority_list_free(v, n);
	return ret;
}

int
ca_rotate_activate(struct store_db *db, const char *trust_domain,
    int64_t now, const char *actor, struct mc_err *e)
{
	struct store_authority *v = NULL;
	size_t n = 0, i;
	int64_t prepared = 0, active = 0;
	char details[96];
	int ret = -1;

	if (store_begin(db, e) == -1)
		return -1;
	if (store_authority_list(db, trust_domain, &v, &n, e) == -1)
		goto fail;
	for (i = 0; i < n; i++) {
		if (v[i].state == STORE_AUTH_PREPARED)
			prepared = v[i].id;
		else if (v[i].state == STORE_AUTH_ACTIVE)
			active = v[i].id;
	}
	if (prepared == 0) {
		mc_err_set(e, MC_ST_REJECTED, 0, "rotate: no prepared authority "
		    "for %s (prepare one first)", trust_domain);
		goto fail;
	}
	snprintf(details, sizeof(details), "active=%lld retiring=%lld",
	    (long long)prepared, (long long)active);
	if ((active != 0 && store_authority_set_state(db, active,
	    STORE_AUTH_RETIRING, e) == -1) ||
	    store_authority_set_state(db, prepared, STORE_AUTH_ACTIVE, e) ==
	    -1 || store_event_append(db, now, "rotate-activate", actor,
	    trust_domain, details, e) == -1 || store_commit(db, e) == -1)
		goto fail;
	ret = 0;
	goto out;
fail:
	store_rollback(db);
out:
	store_authority_list_free(v, n);
	return ret;
}

int
ca_rotate_retire(struct store_db *db, int64_t id, int64_t now, bool force,
    const char *actor, struct mc_err *e)
{
	struct store_authority a = { 0 };
	char details[96];
	int64_t live = 0;
	bool found;
	int ret = -1;

	if (store_begin(db, e) == -1)
		return -1;
	if (store_authority_get(db, id, &a, &found, e) == -1)
		goto fail;
	if (!found || a.state != STORE_AUTH_RETIRING) {
		mc_err_set(e, MC_ST_REJECTED, 0, "rotate: authority %lld is %s, "
		    "not retiring (activate its successor first)",
		    (long long)id, found ? store_auth_state_name(a.state) :
		    "unknown");
		goto fail;
	}
	if (store_cert_count_unexpired(db, id, now, &live, e) == -1)
		goto fail;
	if (live > 0 && !force) {
		mc_err_set(e, MC_ST_REJECTED, 0, "rotate: authority %lld still "
		    "has %lld unexpired leaves; its root must stay in the "
		    "bundle until they expire (or force)", (long long)id,
		    (long long)live);
		goto fail;
	}
	snprintf(details, sizeof(details), "authority=%lld unexpired=%lld%s",
	    (long long)id, (long long)live, force ? " forced" : "");
	if (store_authority_set_state(db, id, STORE_AUTH_RETIRED, e) == -1 ||
	    store_event_append(db, now, "rotate-retire", actor, a.trust_domain,
	    details, e) == -1 || store_commit(db, e) == -1)
		goto fail;
	ret = 0;
	goto out;
fail:
	store_rollback(db);
out:
	store_authority_clear(&a);
	return ret;
}

int
ca_bundle_pem(struct store_db *db, const char *trust_domain,
    struct mc_buf *out, struct mc_err *e)
{
	struct store_authority *v = NULL;
	size_t n = 0, i, j;
	bool dup;
	int ret = -1;

	if (store_authority_list(db, trust_domain, &v, &n, e) == -1)
		return -1;
	for (i = 0; i < n; i++) {
		if (v[i].state == STORE_AUTH_RETIRED)
			continue;
		for (dup = false, j = 0; j < i; j++)
			dup = dup || (v[j].state != STORE_AUTH_RETIRED &&
			    strcmp(v[j].root_pem, v[i].root_pem) == 0);
		if (!dup && mc_buf_puts(out, v[i].root_pem, e) == -1)
			goto out;
	}
	ret = 0;
out:
	store_authority_list_free(v, n);
	return ret;
}
