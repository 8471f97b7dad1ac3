/*
 * crl.c: revocation and CRLs (see crl.h). Serial numbers come from the
 * ledger and are re-checked as hex before use; reason codes are checked
 * against RFC 5280 5.3.1. The CRL is built with OpenSSL's X509_CRL API
 * so `openssl crl -verify` and X509_V_FLAG_CRL_CHECK read it as they
 * read any other.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "ca/crl.h"
#include "common/alloc.h"
#include "common/status.h"
#include "store/certs.h"
#include "store/events.h"

static const char *const reasons[] = {
	"unspecified", "keyCompromise", "cACompromise", "affiliationChanged",
	"superseded", "cessationOfOperation", "certificateHold", NULL,
	"removeFromCRL", "privilegeWithdrawn", "aACompromise"
};
#define NREASONS (sizeof(reasons) / sizeof(reasons[0]))

const char *
ca_crl_reason_name(int reason)
{
	if (reason < 0 || (size_t)reason >= NREASONS || reasons[reason] == NULL)
		return "unknown";
	return reasons[reason];
}

int
ca_crl_reason_parse(const char *s, int *reason, struct mc_err *e)
{
	size_t i;

	for (i = 0; s != NULL && i < NREASONS; i++) {
		if (reasons[i] != NULL && strcmp(s, reasons[i]) == 0) {
			*reason = (int)i;
			return 0;
		}
	}
	mc_err_set(e, MC_ST_USAGE, 0, "revocation reason \"%s\": not an RFC "
	    "5280 5.3.1 CRLReason (keyCompromise, superseded, "
	    "cessationOfOperation, ...)", s != NULL ? s : "");
	return -1;
}

static int
add_entry(X509_CRL *crl, const struct ca_crl_entry *en, struct mc_err *e)
{
	X509_REVOKED *rev = NULL;
	ASN1_INTEGER *sn = NULL;
	ASN1_TIME *t = NULL;
	ASN1_ENUMERATED *rc = NULL;
	BIGNUM *bn = NULL;
	size_t len = strlen(en->serial_hex);
	int ret = -1;

	if (len == 0 || len > 2 * CA_SERIAL_LEN ||
	    strspn(en->serial_hex, "0123456789abcdef") != len ||
	    en->reason < 0 || (size_t)en->reason >= NREASONS ||
	    reasons[en->reason] == NULL) {
		mc_err_set(e, MC_ST_PARSE, 0, "CRL: entry \"%.40s\" (reason "
		    "%d): bad serial or reason", en->serial_hex, en->reason);
		return -1;
	}
	if ((rev = X509_REVOKED_new()) == NULL || !BN_hex2bn(&bn,
	    en->serial_hex) || (sn = BN_to_ASN1_INTEGER(bn, NULL)) == NULL ||
	    !X509_REVOKED_set_serialNumber(rev, sn) ||
	    (t = ASN1_TIME_set(NULL, (time_t)en->revoked_at)) == NULL ||
	    !X509_REVOKED_set_revocationDate(rev, t))
		goto ossl;
	/* RFC 5280 5.3.1: "the reason code CRL entry extension SHOULD be
	 * absent instead of using the unspecified (0) reasonCode value". */
	if (en->reason != 0) {
		if ((rc = ASN1_ENUMERATED_new()) == NULL ||
		    !ASN1_ENUMERATED_set(rc, en->reason) ||
		    !X509_REVOKED_add1_ext_i2d(rev, NID_crl_reason, rc, 0, 0))
			goto ossl;
	}
	if (!X509_CRL_add0_revoked(crl, rev))
		goto ossl;
	rev = NULL;
	ret = 0;
	goto out;
ossl:
	ca_openssl_error(e, MC_ST_INTERNAL, "CRL: entry");
out:
	X509_REVOKED_free(rev);
	ASN1_INTEGER_free(sn);
	ASN1_TIME_free(t);
	ASN1_ENUMERATED_free(rc);
	BN_free(bn);
	return ret;
}

static const EVP_MD *
crl_md(EVP_PKEY *key)
{
	if (EVP_PKEY_is_a(key, "ED25519"))
		return NULL;
	if (EVP_PKEY_is_a(key, "EC") && EVP_PKEY_get_bits(key) > 256)
		return EVP_sha384();
	return EVP_sha256();
}

int
ca_crl_build(const struct ca_authority *a, const struct ca_crl_entry *v,
    size_t n, int64_t number, int64_t this_update, int64_t next_update,
    struct mc_buf *out, struct mc_err *e)
{
	X509_CRL *crl = NULL;
	ASN1_TIME *t1 = NULL, *t2 = NULL;
	ASN1_INTEGER *num = NULL;
	AUTHORITY_KEYID *aki = NULL;
	const ASN1_OCTET_STRING *ski;
	unsigned char *der = NULL;
	size_t i;
	int len, ret = -1;

	if ((X509_get_extension_flags(a->cert) & EXFLAG_KUSAGE) &&
	    (X509_get_key_usage(a->cert) & KU_CRL_SIGN) == 0) {
		mc_err_set(e, MC_ST_REJECTED, 0, "CRL: authority %lld lacks "
		    "cRLSign (RFC 5280 4.2.1.3)", (long long)a->id);
		return -1;
	}
	if (next_update <= this_update) {
		mc_err_set(e, MC_ST_USAGE, 0, "CRL: nextUpdate must follow "
		    "thisUpdate");
		return -1;
	}
	if ((crl = X509_CRL_new()) == NULL ||
	    !X509_CRL_set_version(crl, X509_CRL_VERSION_2) ||
	    !X509_CRL_set_issuer_name(crl, X509_get_subject_name(a->cert)) ||
	    (t1 = ASN1_TIME_set(NULL, (time_t)this_update)) == NULL ||
	    (t2 = ASN1_TIME_set(NULL, (time_t)next_update)) == NULL ||
	    !X509_CRL_set1_lastUpdate(crl, t1) ||
	    !X509_CRL_set1_nextUpdate(crl, t2))
		goto ossl;
	for (i = 0; i < n; i++)
		if (add_entry(crl, &v[i], e) == -1)
			goto out;
	if (!X509_CRL_sort(crl))
		goto ossl;
	/* RFC 5280 5.2.1: conforming CAs MUST include the AKI in CRLs;
	 * 5.2.3: and the CRL number. */
	if ((ski = X509_get0_subject_key_id(a->cert)) != NULL) {
		if ((aki = AUTHORITY_KEYID_new()) == NULL ||
		    (aki->keyid = ASN1_OCTET_STRING_dup(ski)) == NULL ||
		    !X509_CRL_add1_ext_i2d(crl, NID_authority_key_identifier,
		    aki, 0, 0))
			goto ossl;
	}
	if ((num = ASN1_INTEGER_new()) == NULL ||
	    !ASN1_INTEGER_set_int64(num, number) ||
	    !X509_CRL_add1_ext_i2d(crl, NID_crl_number, num, 0, 0))
		goto ossl;
	if (X509_CRL_sign(crl, a->key, crl_md(a->key)) <= 0)
		goto ossl;
	/*
	 * OpenSSL 3.0's ECDSA signer reports success with a signature
	 * length of (unsigned)-1 when an allocation in i2d_ECDSA_SIG()
	 * fails (ossl_ecdsa_sign() stores its -1), and X509_CRL_sign()
	 * then keeps an empty signature: found by check-torture. A CRL
	 * leaves here only once its signature verifies.
	 */
	if (X509_CRL_verify(crl, a->key) != 1) {
		ca_openssl_error(e, MC_ST_INTERNAL, "CRL: signature check");
		goto out;
	}
	if ((len = i2d_X509_CRL(crl, &der)) <= 0)
		goto ossl;
	if (ca_pem_encode("X509 CRL", der, (size_t)len, out, e) == -1)
		goto out;
	ret = 0;
	goto out;
ossl:
	ca_openssl_error(e, MC_ST_INTERNAL, "CRL: build");
out:
	OPENSSL_free(der);
	AUTHORITY_KEYID_free(aki);
	ASN1_INTEGER_free(num);
	ASN1_TIME_free(t1);
	ASN1_TIME_free(t2);
	X509_CRL_free(crl);
	return ret;
}

int
ca_revoke(struct store_db *db, const char *serial, int reason, int64_t now,
    const char *actor, struct mc_err *e)
{
	char details[64];

	if (reason < 0 || (size_t)reason >= NREASONS ||
	    reasons[reason] == NULL) {
		mc_err_set(e, MC_ST_USAGE, 0, "revoke %s: reason %d is not an "
		    "RFC 5280 5.3.1 CRLReason", serial, reason);
		return -1;
	}
	snprintf(details, sizeof(details), "reason=%s", reasons[reason]);
	if (store_begin(db, e) == -1)
		return -1;
	if (store_cert_revoke(db, serial, reason, now, e) == -1 ||
	    store_event_append(db, now, "revoke", actor, serial, details,
	    e) == -1 || store_commit(db, e) == -1) {
		store_rollback(db);
		return -1;
	}
	return 0;
}

struct collect {
	struct ca_crl_entry *v;
	size_t n, cap;
};

static int
collect_cb(const struct store_cert *c, void *arg, struct mc_err *e)
{
	struct collect *k = arg;
	struct ca_crl_entry *nv;

	if (k->n == k->cap) {
		k->cap = k->cap == 0 ? 64 : k->cap * 2;
		if ((nv = mc_realloc(k->v, k->cap * sizeof(*nv))) == NULL) {
			mc_err_set(e, MC_ST_NOMEM, 0, "CRL: out of memory");
			return -1;
		}
		k->v = nv;
	}
	if ((k->v[k->n].serial_hex = mc_strdup(c->serial)) == NULL) {
		mc_err_set(e, MC_ST_NOMEM, 0, "CRL: out of memory");
		return -1;
	}
	k->v[k->n].revoked_at = c->revoked_at;
	k->v[k->n].reason = c->reason;
	k->n++;
	return 0;
}

int
ca_crl_issue(struct store_db *db, const struct ca_authority *a, int64_t now,
    int64_t validity, const char *actor, struct mc_buf *out,
    struct mc_err *e)
{
	struct collect k = { 0 };
	char details[64];
	int64_t number;
	size_t i;
	int ret = -1;

	if (validity <= 0)
		validity = CA_CRL_VALIDITY_DEFAULT;
	if (store_begin(db, e) == -1)
		return -1;
	if (store_cert_revoked(db, a->id, now, collect_cb, &k, e) == -1 ||
	    store_crl_next_number(db, a->id, now, &number, e) == -1 ||
	    ca_crl_build(a, k.v, k.n, number, now, now + validity, out,
	    e) == -1)
		goto fail;
	snprintf(details, sizeof(details), "number=%lld entries=%zu",
	    (long long)number, k.n);
	if (store_event_append(db, now, "crl", actor, a->trust_domain,
	    details, e) == -1 || store_commit(db, e) == -1)
		goto fail;
	ret = 0;
	goto out;
fail:
	store_rollback(db);
out:
	for (i = 0; i < k.n; i++)
		mc_free((char *)k.v[i].serial_hex);
	mc_free(k.v);
	return ret;
}
