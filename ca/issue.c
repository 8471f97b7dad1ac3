/*
 * issue.c: the issuing path (see issue.h). Trusts the caller for who may
 * have which identity (that is authorization, done by the CLI's operator
 * or the daemon's ServiceAccount watch) and checks everything else: the
 * ID's syntax and trust domain, the TTL against the maximum. Kept lean
 * because it is the hot path of a fleet-wide mint: the key generator is
 * reused, the public key reaches the signer as DER we lay out ourselves,
 * and PEM is written without OpenSSL's encoders (keygen.c).
 */
#include <string.h>

#include <meshca/id.h>

#include "ca/csr.h"
#include "ca/issue.h"
#include "common/alloc.h"
#include "common/status.h"
#include "store/certs.h"
#include "store/events.h"

#define NKEYTYPES (CA_KEY_ED25519 + 1)

struct ca_issuer {
	struct ca_signer *signer;
	int64_t authority_id;
	struct ca_issue_limits lim;
	struct ca_keygen *gen[NKEYTYPES];
	struct ca_sign_cache *cache;
};

void
ca_issue_limits_default(struct ca_issue_limits *l)
{
	l->default_ttl = CA_LEAF_TTL_DEFAULT;
	l->max_ttl = CA_LEAF_TTL_MAX_DEFAULT;
	l->backdate = CA_CLOCK_SKEW_DEFAULT;
}

struct ca_issuer *
ca_issuer_new(struct ca_signer *signer, int64_t authority_id,
    const struct ca_issue_limits *limits, struct mc_err *e)
{
	struct ca_issuer *is;

	if ((is = mc_calloc(1, sizeof(*is))) == NULL) {
		mc_err_set(e, MC_ST_NOMEM, 0, "issuer: out of memory");
		return NULL;
	}
	is->signer = signer;
	is->authority_id = authority_id;
	if ((is->cache = ca_sign_cache_new(signer, e)) == NULL) {
		mc_free(is);
		return NULL;
	}
	if (limits != NULL)
		is->lim = *limits;
	else
		ca_issue_limits_default(&is->lim);
	return is;
}

void
ca_issuer_free(struct ca_issuer *is)
{
	size_t i;

	if (is == NULL)
		return;
	for (i = 0; i < NKEYTYPES; i++)
		ca_keygen_free(is->gen[i]);
	ca_sign_cache_free(is->cache);
	mc_free(is);
}

void
ca_issued_clear(struct ca_issued *v)
{
	if (v == NULL)
		return;
	mc_free(v->spiffe_id);
	mc_free(v->ns);
	mc_free(v->sa);
	mc_free(v->cert_pem);
	mc_buf_free(&v->key_pem);
	memset(v, 0, sizeof(*v));
}

/* The ID to certify, from the request; fills v->spiffe_id, ns, sa. */
static int
resolve_id(const struct ca_issuer *is, const struct ca_issue_req *r,
    struct ca_issued *v, struct mc_err *e)
{
	struct meshca_id *id = NULL;
	struct meshca_error me;
	char ns[256], sa[256];
	enum meshca_status st;
	const char *td = ca_signer_get0_trust_domain(is->signer);
	int ret = -1;

	if (r->spiffe_id != NULL)
		st = meshca_id_parse(r->spiffe_id, strlen(r->spiffe_id), &id,
		    &me);
	else if (r->ns != NULL && r->sa != NULL)
		st = meshca_id_from_service_account(td, r->ns, r->sa, &id, &me);
	else {
		mc_err_set(e, MC_ST_USAGE, 0, "issue: give a SPIFFE ID or a "
		    "namespace and service account");
		return -1;
	}
	if (st != MESHCA_OK) {
		mc_err_set(e, st == MESHCA_ERR_NOMEM ? MC_ST_NOMEM :
		    MC_ST_USAGE, MESHCA_REASON_ID_INVALID, "issue: %s",
		    me.message);
		goto out;
	}
	if (!meshca_id_is_member_of(id, td)) {
		mc_err_set(e, MC_ST_REJECTED, MESHCA_REASON_TRUST_DOMAIN,
		    "issue: %s is outside trust domain %s",
		    meshca_id_get0_string(id), td);
		goto out;
	}
	if ((v->spiffe_id = mc_strdup(meshca_id_get0_string(id))) == NULL)
		goto nomem;
	if (meshca_id_get_service_account(id, ns, sizeof(ns), sa, sizeof(sa),
	    NULL) == MESHCA_OK) {
		if ((v->ns = mc_strdup(ns)) == NULL ||
		    (v->sa = mc_strdup(sa)) == NULL)
			goto nomem;
	}
	ret = 0;
	goto out;
nomem:
	mc_err_set(e, MC_ST_NOMEM, 0, "issue: out of memory");
out:
	meshca_id_free(id);
	return ret;
}

static int
sign(struct ca_issuer *is, const struct ca_issue_req *r,
    const unsigned char *spki, size_t spki_len, struct ca_issued *v,
    struct mc_err *e)
{
	struct ca_sign_req sr;
	struct ca_sign_resp resp;
	struct mc_buf pem;
	int64_t ttl = r->ttl != 0 ? r->ttl : is->lim.default_ttl;
	int ret = -1;

	if (ttl < 0 || ttl > is->lim.max_ttl) {
		mc_err_set(e, MC_ST_REJECTED, 0, "issue: %s: TTL %lld s is "
		    "outside 1..%lld s (the configured maximum)", v->spiffe_id,
		    (long long)ttl, (long long)is->lim.max_ttl);
		return -1;
	}
	memset(&sr, 0, sizeof(sr));
	sr.spiffe_id = v->spiffe_id;
	sr.dns = r->dns;
	sr.ndns = r->ndns;
	sr.spki = spki;
	sr.spki_len = spki_len;
	sr.key_checked = true; /* our own key, or a CSR's decoded by csr.c */
	sr.not_before = r->now - is->lim.backdate;
	sr.not_after = r->now + ttl;
	if (ca_signer_sign_cached(is->signer, is->cache, &sr, &resp, e) == -1)
		return -1;
	mc_buf_init(&pem, CA_SIGN_MAX_DER * 2);
	if (ca_pem_encode("CERTIFICATE", resp.der, resp.der_len, &pem, e) ==
	    -1)
		goto out;
	v->cert_pem = mc_buf_steal(&pem, &v->cert_pem_len);
	memcpy(v->serial, resp.serial_hex, sizeof(v->serial));
	v->not_before = resp.not_before;
	v->not_after = resp.not_after;
	v->clamped = resp.clamped;
	ret = 0;
out:
	mc_buf_free(&pem);
	ca_sign_resp_clear(&resp);
	return ret;
}

int
ca_issue_keypair(struct ca_issuer *is, const struct ca_issue_req *r,
    struct ca_issued *out, struct mc_err *e)
{
	struct ca_key k = { 0 };
	unsigned char spki[CA_SPKI_MAX];
	size_t spki_len;
	int ret = -1;

	memset(out, 0, sizeof(*out));
	mc_buf_init_secret(&out->key_pem, CA_KEY_PEM_MAX);
	if ((unsigned)r->key_type >= NKEYTYPES) {
		mc_err_set(e, MC_ST_USAGE, 0, "issue: unknown key type");
		goto out;
	}
	if (resolve_id(is, r, out, e) == -1)
		goto out;
	if (is->gen[r->key_type] == NULL &&
	    (is->gen[r->key_type] = ca_keygen_new(r->key_type, e)) == NULL)
		goto out;
	if (ca_keygen_generate(is->gen[r->key_type], &k, e) == -1 ||
	    ca_key_spki_der(&k, spki, sizeof(spki), &spki_len, e) == -1 ||
	    sign(is, r, spki, spki_len, out, e) == -1 ||
	    ca_key_pkcs8_pem(&k, &out->key_pem, e) == -1)
		goto out;
	ret = 0;
out:
	ca_key_clear(&k);
	if (ret == -1)
		ca_issued_clear(out);
	return ret;
}

int
ca_issue_csr(struct ca_issuer *is, const struct ca_issue_req *r,
    const char *csr_pem, size_t csr_len, struct ca_issued *out,
    struct mc_err *e)
{
	unsigned char spki[CA_SPKI_MAX];
	size_t spki_len;
	int ret = -1;

	memset(out, 0, sizeof(*out));
	mc_buf_init_secret(&out->key_pem, CA_KEY_PEM_MAX);
	if (resolve_id(is, r, out, e) == -1 ||
	    ca_csr_check(csr_pem, csr_len, out->spiffe_id, spki, &spki_len,
	    e) == -1 || sign(is, r, spki, spki_len, out, e) == -1)
		goto out;
	ret = 0;
out:
	if (ret == -1)
		ca_issued_clear(out);
	return ret;
}

int
ca_issue_record(struct store_db *db, const struct ca_issuer *is,
    const struct ca_issued *v, size_t n, bool supersede, const char *actor,
    int64_t now, struct mc_err *e)
{
	struct store_cert c;
	char details[96];
	size_t i;

	if (store_begin(db, e) == -1)
		return -1;
	for (i = 0; i < n; i++) {
		memset(&c, 0, sizeof(c));
		c.serial = (char *)v[i].serial;
		c.spiffe_id = v[i].spiffe_id;
		c.namespace_ = v[i].ns;
		c.service_account = v[i].sa;
		c.not_before = v[i].not_before;
		c.not_after = v[i].not_after;
		c.issued_at = now;
		c.authority_id = is->authority_id;
		c.cert_pem = v[i].cert_pem;
		snprintf(details, sizeof(details), "serial=%s%s", v[i].serial,
		    v[i].clamped ? " clamped" : "");
		if ((supersede && store_cert_supersede(db, v[i].spiffe_id,
		    NULL, NULL, e) == -1) || store_cert_insert(db, &c, e) ==
		    -1 || store_event_append(db, now, "issue", actor,
		    v[i].spiffe_id, details, e) == -1) {
			store_rollback(db);
			return -1;
		}
	}
	return store_commit(db, e);
}
