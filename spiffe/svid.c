/*
 * svid.c: X.509-SVID verification (spiffe/spiffe standards/X509-SVID.md)
 * and the verifier that holds what it is checked against.
 *
 * The chains verified here come from peers and are untrusted: every
 * property the SVID profile requires is checked on the leaf and on the
 * signing certificates, and RFC 5280 path validation is left to
 * OpenSSL's X509_verify_cert() against the bundle's per-trust-domain
 * X509_STORE, which spiffe/bundle.c builds once per bundle. The bundle,
 * CRLs and settings are trusted configuration.
 *
 * A verifier's configuration is an immutable, reference-counted snapshot
 * (struct vconf). A verification takes a reference to the current
 * snapshot under the verifier's mutex and works on it unlocked; a setter
 * builds a new snapshot and swaps it in. So a reload never changes what
 * a verification in flight sees, and verifications never wait on each
 * other beyond the pointer swap.
 */
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include <meshca/openssl.h>
#include <meshca/svid.h>

#include "common/alloc.h"
#include "common/buf.h"
#include "common/err.h"
#include "common/status.h"
#include "spiffe/api.h"
#include "spiffe/bundle.h"
#include "spiffe/id.h"
#include "spiffe/svid.h"

struct vconf {
	atomic_int refs;
	struct meshca_bundle *bundle;	/* NULL: trust nothing */
	STACK_OF(X509_CRL) *crls;	/* NULL: no revocation check */
	char *td;			/* NULL: any trust domain */
	time_t at;			/* 0: now */
};

struct meshca_verifier {
	atomic_int refs;
	pthread_mutex_t lock;		/* guards conf */
	pthread_mutex_t wlock;		/* serializes setters */
	struct vconf *conf;		/* never NULL */
};

static void
vconf_free(struct vconf *c)
{
	if (c == NULL || atomic_fetch_sub(&c->refs, 1) != 1)
		return;
	meshca_bundle_free(c->bundle);
	sk_X509_CRL_pop_free(c->crls, X509_CRL_free);
	mc_free(c->td);
	mc_free(c);
}

/* A new snapshot equal to old (NULL: the defaults), holding its own
 * references. */
/* CRLs are immutable once parsed: snapshots share them. */
static X509_CRL *
vconf_crl_ref(const X509_CRL *crl)
{
	X509_CRL *c = (X509_CRL *)crl;

	return X509_CRL_up_ref(c) ? c : NULL;
}

static struct vconf *
vconf_copy(const struct vconf *old, struct mc_err *e)
{
	struct vconf *c;

	if ((c = mc_calloc(1, sizeof(*c))) == NULL)
		goto nomem;
	atomic_init(&c->refs, 1);
	if (old == NULL)
		return c;
	c->at = old->at;
	if (old->td != NULL && (c->td = mc_strdup(old->td)) == NULL)
		goto nomem;
	if (old->crls != NULL) {
		if ((c->crls = sk_X509_CRL_deep_copy(old->crls,
		    vconf_crl_ref, X509_CRL_free)) == NULL)
			goto nomem;
	}
	if (old->bundle != NULL)
		c->bundle = meshca_bundle_up_ref(old->bundle);
	return c;
nomem:
	vconf_free(c);
	mc_err_set(e, MC_ST_NOMEM, 0, "verifier: out of memory");
	return NULL;
}

static struct vconf *
verifier_get_conf(struct meshca_verifier *v)
{
	struct vconf *c;

	pthread_mutex_lock(&v->lock);
	c = v->conf;
	atomic_fetch_add(&c->refs, 1);
	pthread_mutex_unlock(&v->lock);
	return c;
}

/*
 * A setter copies the current snapshot (verifier_begin), changes the
 * copy and installs it (verifier_commit). Setters hold wlock from begin
 * to commit so that two of them never copy the same snapshot and lose
 * one change; verifications never take wlock. NULL from begin (nomem)
 * leaves nothing held.
 */
static struct vconf *
verifier_begin(struct meshca_verifier *v, struct mc_err *e)
{
	struct vconf *c;

	pthread_mutex_lock(&v->wlock);
	/* Only setters change v->conf, and they hold wlock. */
	if ((c = vconf_copy(v->conf, e)) == NULL)
		pthread_mutex_unlock(&v->wlock);
	return c;
}

/* Installs c (taking over the caller's reference). */
static void
verifier_commit(struct meshca_verifier *v, struct vconf *c)
{
	struct vconf *old;

	pthread_mutex_lock(&v->lock);
	old = v->conf;
	v->conf = c;
	pthread_mutex_unlock(&v->lock);
	pthread_mutex_unlock(&v->wlock);
	vconf_free(old);
}

MESHCA_API enum meshca_status
meshca_verifier_new(struct meshca_verifier **out, struct meshca_error *err)
{
	struct mc_err e = { 0 };
	struct meshca_verifier *v = NULL;

	if (out == NULL) {
		mc_err_set(&e, MC_ST_USAGE, 0, "verifier: out is NULL");
		goto out;
	}
	if ((v = mc_calloc(1, sizeof(*v))) == NULL) {
		mc_err_set(&e, MC_ST_NOMEM, 0, "verifier: out of memory");
		goto out;
	}
	atomic_init(&v->refs, 1);
	if ((v->conf = vconf_copy(NULL, &e)) == NULL)
		goto out;
	if (pthread_mutex_init(&v->lock, NULL) != 0) {
		mc_err_set(&e, MC_ST_INTERNAL, 0,
		    "verifier: mutex init failed");
		goto out;
	}
	if (pthread_mutex_init(&v->wlock, NULL) != 0) {
		pthread_mutex_destroy(&v->lock);
		mc_err_set(&e, MC_ST_INTERNAL, 0,
		    "verifier: mutex init failed");
		goto out;
	}
	*out = v;
	v = NULL;
out:
	if (v != NULL) {
		vconf_free(v->conf);
		mc_free(v);
	}
	return e.status == MC_ST_OK ? MESHCA_OK : spiffe_api_error(&e, err);
}

MESHCA_API struct meshca_verifier *
meshca_verifier_up_ref(struct meshca_verifier *v)
{
	if (v != NULL)
		atomic_fetch_add(&v->refs, 1);
	return v;
}

MESHCA_API void
meshca_verifier_free(struct meshca_verifier *v)
{
	if (v == NULL || atomic_fetch_sub(&v->refs, 1) != 1)
		return;
	vconf_free(v->conf);
	pthread_mutex_destroy(&v->lock);
	pthread_mutex_destroy(&v->wlock);
	mc_free(v);
}

MESHCA_API enum meshca_status
meshca_verifier_set_bundle(struct meshca_verifier *v, struct meshca_bundle *b,
    struct meshca_error *err)
{
	struct mc_err e = { 0 };
	struct vconf *c;

	if (v == NULL) {
		mc_err_set(&e, MC_ST_USAGE, 0, "verifier: NULL verifier");
		return spiffe_api_error(&e, err);
	}
	c = verifier_begin(v, &e);
	if (c == NULL)
		return spiffe_api_error(&e, err);
	meshca_bundle_free(c->bundle);
	c->bundle = b != NULL ? meshca_bundle_up_ref(b) : NULL;
	verifier_commit(v, c);
	return MESHCA_OK;
}

MESHCA_API enum meshca_status
meshca_verifier_load_bundle_file(struct meshca_verifier *v, const char *path,
    const char *trust_domain, struct meshca_error *err)
{
	struct meshca_bundle *b = NULL;
	enum meshca_status st;
	struct mc_err e = { 0 };

	if (v == NULL || path == NULL) {
		mc_err_set(&e, MC_ST_USAGE, 0, "verifier: NULL %s",
		    v == NULL ? "verifier" : "path");
		return spiffe_api_error(&e, err);
	}
	if ((st = meshca_bundle_load_file(path, trust_domain, &b, err)) !=
	    MESHCA_OK)
		return st;
	st = meshca_verifier_set_bundle(v, b, err);
	meshca_bundle_free(b);
	return st;
}

MESHCA_API enum meshca_status
meshca_verifier_set_crls_pem(struct meshca_verifier *v, const char *data,
    size_t len, struct meshca_error *err)
{
	struct mc_err e = { 0 };
	STACK_OF(X509_CRL) *crls = NULL;
	X509_CRL *crl = NULL;
	struct vconf *c = NULL;
	BIO *bio = NULL;
	unsigned long code;

	ERR_set_mark();
	if (v == NULL || (data == NULL && len != 0)) {
		mc_err_set(&e, MC_ST_USAGE, 0, "CRL: NULL %s",
		    v == NULL ? "verifier" : "data");
		goto out;
	}
	if (len > MESHCA_CRL_MAX || len > INT_MAX) {
		mc_err_set(&e, MC_ST_PARSE, 0,
		    "CRL: document of %zu bytes exceeds the %u-byte limit", len,
		    MESHCA_CRL_MAX);
		goto out;
	}
	if (data != NULL) {
		if ((crls = sk_X509_CRL_new_null()) == NULL ||
		    (bio = BIO_new_mem_buf(data, (int)len)) == NULL) {
			mc_err_set(&e, MC_ST_NOMEM, 0, "CRL: out of memory");
			goto out;
		}
		while ((crl = PEM_read_bio_X509_CRL(bio, NULL, NULL, NULL)) !=
		    NULL) {
			if (!sk_X509_CRL_push(crls, crl)) {
				X509_CRL_free(crl);
				mc_err_set(&e, MC_ST_NOMEM, 0,
				    "CRL: out of memory");
				goto out;
			}
		}
		code = ERR_peek_last_error();
		if (ERR_GET_REASON(code) != PEM_R_NO_START_LINE ||
		    sk_X509_CRL_num(crls) == 0) {
			bool none = sk_X509_CRL_num(crls) == 0 &&
			    ERR_GET_REASON(code) == PEM_R_NO_START_LINE;

			mc_err_set(&e, MC_ST_PARSE, MESHCA_REASON_CRL,
			    "CRL %d: RFC 7468: %s", sk_X509_CRL_num(crls) + 1,
			    none ? "no \"X509 CRL\" PEM block" :
			    "not a well-formed X509 CRL");
			goto out;
		}
	}
	c = verifier_begin(v, &e);
	if (c == NULL)
		goto out;
	sk_X509_CRL_pop_free(c->crls, X509_CRL_free);
	c->crls = crls;
	crls = NULL;
	verifier_commit(v, c);
out:
	BIO_free(bio);
	sk_X509_CRL_pop_free(crls, X509_CRL_free);
	ERR_pop_to_mark();
	return e.status == MC_ST_OK ? MESHCA_OK : spiffe_api_error(&e, err);
}

static enum meshca_status
crl_parse_file(const char *data, size_t len, void *arg,
    struct meshca_error *err)
{
	return meshca_verifier_set_crls_pem(arg, data, len, err);
}

MESHCA_API enum meshca_status
meshca_verifier_load_crl_file(struct meshca_verifier *v, const char *path,
    struct meshca_error *err)
{
	struct mc_err e = { 0 };

	if (v == NULL || path == NULL) {
		mc_err_set(&e, MC_ST_USAGE, 0, "CRL: NULL %s",
		    v == NULL ? "verifier" : "path");
		return spiffe_api_error(&e, err);
	}
	return spiffe_load_file(path, MESHCA_CRL_MAX, crl_parse_file, v, err);
}

MESHCA_API enum meshca_status
meshca_verifier_set_trust_domain(struct meshca_verifier *v,
    const char *trust_domain, struct meshca_error *err)
{
	struct mc_err e = { 0 };
	struct vconf *c;
	char *td = NULL;
	enum meshca_status st;

	if (v == NULL) {
		mc_err_set(&e, MC_ST_USAGE, 0, "verifier: NULL verifier");
		return spiffe_api_error(&e, err);
	}
	if (trust_domain != NULL) {
		if ((st = meshca_trust_domain_check(trust_domain,
		    strlen(trust_domain), err)) != MESHCA_OK)
			return st;
		if ((td = mc_strdup(trust_domain)) == NULL) {
			mc_err_set(&e, MC_ST_NOMEM, 0,
			    "verifier: out of memory");
			return spiffe_api_error(&e, err);
		}
	}
	c = verifier_begin(v, &e);
	if (c == NULL) {
		mc_free(td);
		return spiffe_api_error(&e, err);
	}
	mc_free(c->td);
	c->td = td;
	verifier_commit(v, c);
	return MESHCA_OK;
}

MESHCA_API enum meshca_status
meshca_verifier_set_time(struct meshca_verifier *v, time_t at,
    struct meshca_error *err)
{
	struct mc_err e = { 0 };
	struct vconf *c;

	if (v == NULL || at < 0) {
		mc_err_set(&e, MC_ST_USAGE, 0, "verifier: %s",
		    v == NULL ? "NULL verifier" : "negative time");
		return spiffe_api_error(&e, err);
	}
	c = verifier_begin(v, &e);
	if (c == NULL)
		return spiffe_api_error(&e, err);
	c->at = at;
	verifier_commit(v, c);
	return MESHCA_OK;
}

/*
 * The leaf rules of X509-SVID.md. On success *peer is the leaf's ID.
 */
static int
svid_check_leaf(X509 *leaf, struct meshca_id **peer, struct mc_err *e)
{
	GENERAL_NAMES *sans = NULL;
	const GENERAL_NAME *gn;
	const ASN1_IA5STRING *uri = NULL;
	struct meshca_error merr;
	struct meshca_id *id = NULL;
	X509_EXTENSION *ext;
	uint32_t flags, ku;
	int crit, i, nuri = 0, rc = -1;

	flags = X509_get_extension_flags(leaf);
	if (flags & EXFLAG_INVALID) {
		mc_err_set(e, MC_ST_REJECTED, MESHCA_REASON_PATH,
		    "leaf: RFC 5280 4.2: malformed or repeated extension");
		goto out;
	}

	/*
	 * X509-SVID.md 2: "An X.509 SVID MUST contain exactly one URI SAN,
	 * and by extension, exactly one SPIFFE ID." and "Validators
	 * encountering an SVID containing more than one URI SAN MUST reject
	 * the SVID."
	 */
	sans = X509_get_ext_d2i(leaf, NID_subject_alt_name, &crit, NULL);
	for (i = 0; sans != NULL && i < sk_GENERAL_NAME_num(sans); i++) {
		gn = sk_GENERAL_NAME_value(sans, i);
		if (gn->type == GEN_URI) {
			uri = gn->d.uniformResourceIdentifier;
			nuri++;
		}
	}
	if (nuri == 0) {
		mc_err_set(e, MC_ST_REJECTED, MESHCA_REASON_NO_URI_SAN,
		    "leaf: X509-SVID 2: no URI SAN");
		goto out;
	}
	if (nuri > 1) {
		mc_err_set(e, MC_ST_REJECTED, MESHCA_REASON_MULTIPLE_URI_SANS,
		    "leaf: X509-SVID 2: %d URI SANs, exactly one allowed",
		    nuri);
		goto out;
	}
	/*
	 * X509-SVID.md 3.1: "The Subject field is not required, however the
	 * URI SAN extension MUST be marked as critical if Subject is
	 * omitted, per section 4.1.2.6 of RFC 5280."
	 */
	if (X509_NAME_entry_count(X509_get_subject_name(leaf)) == 0 &&
	    crit != 1) {
		mc_err_set(e, MC_ST_REJECTED, MESHCA_REASON_PATH,
		    "leaf: X509-SVID 3.1: empty subject and a non-critical "
		    "subjectAltName");
		goto out;
	}
	/*
	 * X509-SVID.md 5.2: "The validator MUST also ensure that the scheme
	 * of the SPIFFE ID is set to `spiffe`, and MUST ensure that the
	 * SPIFFE ID has a non-root path component".
	 */
	if (meshca_id_parse((const char *)ASN1_STRING_get0_data(uri),
	    (size_t)ASN1_STRING_length(uri), &id, &merr) != MESHCA_OK) {
		/* The message quotes the peer's URI: no control bytes in
		 * what ends up in a log line. */
		for (i = 0; merr.message[i] != '\0'; i++)
			if ((unsigned char)merr.message[i] < 0x20 ||
			    (unsigned char)merr.message[i] == 0x7f)
				merr.message[i] = '?';
		mc_err_set(e, merr.status == MESHCA_ERR_NOMEM ? MC_ST_NOMEM :
		    MC_ST_REJECTED, MESHCA_REASON_ID_INVALID,
		    "leaf: X509-SVID 2: URI SAN: %s", merr.message);
		goto out;
	}
	if (meshca_id_is_trust_domain(id)) {
		mc_err_set(e, MC_ST_REJECTED, MESHCA_REASON_ID_NOT_WORKLOAD,
		    "leaf: X509-SVID 3.1: SPIFFE ID \"%s\" has no path",
		    meshca_id_get0_string(id));
		goto out;
	}

	/*
	 * X509-SVID.md 4.1: "leaf certificates MUST set the `cA` field to
	 * `false`"; 5.2: "the validator MUST ensure that the `CA` field in
	 * the basic constraints extension is set to `false`".
	 */
	if ((flags & EXFLAG_BCONS) && (flags & EXFLAG_CA)) {
		mc_err_set(e, MC_ST_REJECTED, MESHCA_REASON_LEAF_IS_CA,
		    "leaf: X509-SVID 4.1: basicConstraints CA:true");
		goto out;
	}

	/*
	 * X509-SVID.md 4.3: "The key usage extension MUST be set on all
	 * SVIDs, and MUST be marked critical." "Leaf SVIDs MUST set
	 * `digitalSignature`." "Leaf SVIDs MUST NOT set `keyCertSign` or
	 * `cRLSign`."
	 */
	if (!(flags & EXFLAG_KUSAGE)) {
		mc_err_set(e, MC_ST_REJECTED, MESHCA_REASON_KEY_USAGE,
		    "leaf: X509-SVID 4.3: keyUsage missing");
		goto out;
	}
	i = X509_get_ext_by_NID(leaf, NID_key_usage, -1);
	ext = X509_get_ext(leaf, i);
	if (ext == NULL || !X509_EXTENSION_get_critical(ext)) {
		mc_err_set(e, MC_ST_REJECTED, MESHCA_REASON_KEY_USAGE,
		    "leaf: X509-SVID 4.3: keyUsage not critical");
		goto out;
	}
	ku = X509_get_key_usage(leaf);
	if (ku & KU_KEY_CERT_SIGN) {
		mc_err_set(e, MC_ST_REJECTED, MESHCA_REASON_KEY_USAGE,
		    "leaf: X509-SVID 4.3: keyCertSign set");
		goto out;
	}
	if (ku & KU_CRL_SIGN) {
		mc_err_set(e, MC_ST_REJECTED, MESHCA_REASON_KEY_USAGE,
		    "leaf: X509-SVID 4.3: cRLSign set");
		goto out;
	}
	if (!(ku & KU_DIGITAL_SIGNATURE)) {
		mc_err_set(e, MC_ST_REJECTED, MESHCA_REASON_KEY_USAGE,
		    "leaf: X509-SVID 4.3: digitalSignature not set");
		goto out;
	}

	/*
	 * X509-SVID.md 4.4: "Leaf SVIDs SHOULD include this extension ...
	 * When included, fields `id-kp-serverAuth` and `id-kp-clientAuth`
	 * MUST be set." anyExtendedKeyUsage sets neither.
	 */
	if ((flags & EXFLAG_XKUSAGE) &&
	    (X509_get_extended_key_usage(leaf) & (XKU_SSL_SERVER |
	    XKU_SSL_CLIENT)) != (XKU_SSL_SERVER | XKU_SSL_CLIENT)) {
		mc_err_set(e, MC_ST_REJECTED, MESHCA_REASON_EXT_KEY_USAGE,
		    "leaf: X509-SVID 4.4: extendedKeyUsage lacks %s",
		    X509_get_extended_key_usage(leaf) & XKU_SSL_SERVER ?
		    "clientAuth" : "serverAuth");
		goto out;
	}
	*peer = id;
	id = NULL;
	rc = 0;
out:
	GENERAL_NAMES_free(sans);
	meshca_id_free(id);
	return rc;
}

int
spiffe_svid_leaf_id(X509 *leaf, struct meshca_id **id, struct mc_err *e)
{
	int rc;

	ERR_set_mark();
	rc = svid_check_leaf(leaf, id, e);
	ERR_pop_to_mark();
	return rc;
}

/*
 * X509-SVID.md 3.2: "If present, the SPIFFE ID of a signing certificate
 * MUST NOT have a path component". URI SANs of other schemes are not
 * SPIFFE IDs and are left alone.
 */
static int
svid_check_signing_id(X509 *x, int depth, struct mc_err *e)
{
	GENERAL_NAMES *sans;
	const GENERAL_NAME *gn;
	const ASN1_IA5STRING *uri;
	const unsigned char *p;
	size_t len, tdlen;
	int i, rc = 0;

	if ((sans = X509_get_ext_d2i(x, NID_subject_alt_name, NULL,
	    NULL)) == NULL)
		return 0;
	for (i = 0; i < sk_GENERAL_NAME_num(sans); i++) {
		gn = sk_GENERAL_NAME_value(sans, i);
		if (gn->type != GEN_URI)
			continue;
		uri = gn->d.uniformResourceIdentifier;
		p = ASN1_STRING_get0_data(uri);
		len = (size_t)ASN1_STRING_length(uri);
		if (len < 9 || memcmp(p, "spiffe://", 9) != 0)
			continue;
		if (spiffe_id_check((const char *)p, len, &tdlen, NULL) == 0 &&
		    9 + tdlen < len) {
			mc_err_set(e, MC_ST_REJECTED,
			    MESHCA_REASON_SIGNING_CERT,
			    "cert %d: X509-SVID 3.2: signing certificate's "
			    "SPIFFE ID has a path", depth);
			rc = -1;
			break;
		}
	}
	GENERAL_NAMES_free(sans);
	return rc;
}

/*
 * The signing-certificate rules on the chain OpenSSL built: every
 * certificate between the leaf and the trust anchor.
 */
static int
svid_check_signing(STACK_OF(X509) *chain, struct mc_err *e)
{
	X509 *x;
	X509_EXTENSION *ext;
	uint32_t flags;
	int i, n = sk_X509_num(chain);

	for (i = 1; i < n - 1; i++) {
		x = sk_X509_value(chain, i);
		flags = X509_get_extension_flags(x);
		if (svid_check_signing_id(x, i, e) == -1)
			return -1;
		/*
		 * X509-SVID.md 4.1: "Signing certificates MUST set the `cA`
		 * field to `true`". 4.3: "The key usage extension MUST be
		 * set on all SVIDs, and MUST be marked critical. SVID
		 * signing certificates MUST set `keyCertSign`."
		 */
		if (!(flags & EXFLAG_BCONS) || !(flags & EXFLAG_CA)) {
			mc_err_set(e, MC_ST_REJECTED,
			    MESHCA_REASON_SIGNING_CERT,
			    "cert %d: X509-SVID 4.1: signing certificate "
			    "without CA:true", i);
			return -1;
		}
		ext = X509_get_ext(x, X509_get_ext_by_NID(x, NID_key_usage,
		    -1));
		if (!(flags & EXFLAG_KUSAGE) || ext == NULL) {
			mc_err_set(e, MC_ST_REJECTED,
			    MESHCA_REASON_SIGNING_CERT,
			    "cert %d: X509-SVID 4.3: keyUsage missing", i);
			return -1;
		}
		if (!X509_EXTENSION_get_critical(ext)) {
			mc_err_set(e, MC_ST_REJECTED,
			    MESHCA_REASON_SIGNING_CERT,
			    "cert %d: X509-SVID 4.3: keyUsage not critical", i);
			return -1;
		}
		if (!(X509_get_key_usage(x) & KU_KEY_CERT_SIGN)) {
			mc_err_set(e, MC_ST_REJECTED,
			    MESHCA_REASON_SIGNING_CERT,
			    "cert %d: X509-SVID 4.3: keyCertSign not set", i);
			return -1;
		}
	}
	return 0;
}

static int
svid_reason(int verr)
{
	switch (verr) {
	case X509_V_ERR_CERT_HAS_EXPIRED:
		return MESHCA_REASON_EXPIRED;
	case X509_V_ERR_CERT_NOT_YET_VALID:
		return MESHCA_REASON_NOT_YET_VALID;
	case X509_V_ERR_CERT_REVOKED:
		return MESHCA_REASON_REVOKED;
	case X509_V_ERR_UNABLE_TO_GET_CRL:
	case X509_V_ERR_UNABLE_TO_DECRYPT_CRL_SIGNATURE:
	case X509_V_ERR_CRL_SIGNATURE_FAILURE:
	case X509_V_ERR_CRL_NOT_YET_VALID:
	case X509_V_ERR_CRL_HAS_EXPIRED:
	case X509_V_ERR_ERROR_IN_CRL_LAST_UPDATE_FIELD:
	case X509_V_ERR_ERROR_IN_CRL_NEXT_UPDATE_FIELD:
	case X509_V_ERR_UNABLE_TO_GET_CRL_ISSUER:
	case X509_V_ERR_KEYUSAGE_NO_CRL_SIGN:
	case X509_V_ERR_UNHANDLED_CRITICAL_CRL_EXTENSION:
	case X509_V_ERR_DIFFERENT_CRL_SCOPE:
		return MESHCA_REASON_CRL;
	case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
	case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
	case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
	case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
	case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
	case X509_V_ERR_CERT_UNTRUSTED:
	case X509_V_ERR_CERT_SIGNATURE_FAILURE:
		return MESHCA_REASON_UNTRUSTED;
	case X509_V_ERR_INVALID_CA:
	case X509_V_ERR_KEYUSAGE_NO_CERTSIGN:
		return MESHCA_REASON_SIGNING_CERT;
	}
	return MESHCA_REASON_PATH;
}

int
spiffe_verify_x509(struct meshca_verifier *v, X509 *leaf,
    STACK_OF(X509) *untrusted, struct meshca_id **peer, struct mc_err *e)
{
	struct vconf *c = NULL;
	struct meshca_id *id = NULL;
	X509_STORE *store;
	X509_STORE_CTX *ctx = NULL;
	X509_VERIFY_PARAM *param;
	const char *td;
	char who[32];
	int depth, verr, rc = -1;

	ERR_set_mark();
	if (v == NULL || leaf == NULL) {
		mc_err_set(e, MC_ST_USAGE, 0, "verify: NULL %s",
		    v == NULL ? "verifier" : "leaf");
		goto out;
	}
	c = verifier_get_conf(v);
	if (svid_check_leaf(leaf, &id, e) == -1)
		goto out;
	td = meshca_id_get0_trust_domain(id);
	if (c->td != NULL && strcmp(td, c->td) != 0) {
		mc_err_set(e, MC_ST_REJECTED, MESHCA_REASON_TRUST_DOMAIN,
		    "leaf: trust domain \"%s\" is not the required \"%s\"", td,
		    c->td);
		goto out;
	}
	/*
	 * X509-SVID.md 5.1: "The validation of trust in a given SVID is
	 * based on standard X.509 path validation, and MUST follow RFC 5280
	 * path validation semantics." Only the roots of the leaf's own
	 * trust domain (and roots bound to none) anchor it.
	 */
	store = c->bundle != NULL ? spiffe_bundle_get0_store(c->bundle, td) :
	    NULL;
	if (store == NULL) {
		mc_err_set(e, MC_ST_REJECTED, MESHCA_REASON_UNTRUSTED,
		    "leaf: X509-SVID 5.1: no bundle root for trust domain "
		    "\"%s\"", td);
		goto out;
	}
	if ((ctx = X509_STORE_CTX_new()) == NULL ||
	    !X509_STORE_CTX_init(ctx, store, leaf, untrusted)) {
		mc_err_set(e, MC_ST_NOMEM, 0, "verify: out of memory");
		goto out;
	}
	param = X509_STORE_CTX_get0_param(ctx);
	/* A SPIFFE bundle is a set of trust anchors, self-signed or not
	 * (X509-SVID.md 6.1: the certificate "SHOULD be self-signed"). */
	X509_VERIFY_PARAM_set_flags(param, X509_V_FLAG_PARTIAL_CHAIN);
	if (c->at != 0)
		X509_VERIFY_PARAM_set_time(param, c->at);
	if (c->crls != NULL) {
		X509_STORE_CTX_set0_crls(ctx, c->crls);
		X509_VERIFY_PARAM_set_flags(param, X509_V_FLAG_CRL_CHECK |
		    X509_V_FLAG_CRL_CHECK_ALL);
	}
	if (X509_verify_cert(ctx) != 1) {
		verr = X509_STORE_CTX_get_error(ctx);
		depth = X509_STORE_CTX_get_error_depth(ctx);
		if (verr == X509_V_ERR_OUT_OF_MEM) {
			mc_err_set(e, MC_ST_NOMEM, 0, "verify: out of memory");
			goto out;
		}
		if (depth <= 0)
			snprintf(who, sizeof(who), "leaf");
		else
			snprintf(who, sizeof(who), "cert %d", depth);
		mc_err_set(e, MC_ST_REJECTED, svid_reason(verr),
		    "%s: RFC 5280 6.1: %s", who,
		    X509_verify_cert_error_string(verr));
		goto out;
	}
	if (svid_check_signing(X509_STORE_CTX_get0_chain(ctx), e) == -1)
		goto out;
	if (peer != NULL) {
		*peer = id;
		id = NULL;
	}
	rc = 0;
out:
	X509_STORE_CTX_free(ctx);
	meshca_id_free(id);
	vconf_free(c);
	ERR_pop_to_mark();
	return rc;
}

MESHCA_API enum meshca_status
meshca_verify_chain_x509(struct meshca_verifier *v, X509 *leaf,
    STACK_OF(X509) *untrusted, struct meshca_id **peer,
    struct meshca_error *err)
{
	struct mc_err e = { 0 };

	if (spiffe_verify_x509(v, leaf, untrusted, peer, &e) == -1)
		return spiffe_api_error(&e, err);
	return MESHCA_OK;
}

MESHCA_API enum meshca_status
meshca_verify_chain_pem(struct meshca_verifier *v, const char *pem,
    size_t len, struct meshca_id **peer_out, struct meshca_error *err)
{
	struct mc_err e = { 0 };
	STACK_OF(X509) *certs = NULL;
	X509 *x;
	BIO *bio = NULL;
	unsigned long code;
	int n;

	ERR_set_mark();
	if (v == NULL || pem == NULL) {
		mc_err_set(&e, MC_ST_USAGE, 0, "chain: NULL %s",
		    v == NULL ? "verifier" : "PEM");
		goto out;
	}
	if (len > MESHCA_CHAIN_MAX) {
		mc_err_set(&e, MC_ST_PARSE, 0,
		    "chain: %zu bytes exceeds the %u-byte limit", len,
		    MESHCA_CHAIN_MAX);
		goto out;
	}
	if ((certs = sk_X509_new_null()) == NULL ||
	    (bio = BIO_new_mem_buf(pem, (int)len)) == NULL) {
		mc_err_set(&e, MC_ST_NOMEM, 0, "chain: out of memory");
		goto out;
	}
	for (;;) {
		if ((x = PEM_read_bio_X509(bio, NULL, NULL, NULL)) == NULL)
			break;
		if (sk_X509_num(certs) == MESHCA_CHAIN_CERTS_MAX) {
			X509_free(x);
			mc_err_set(&e, MC_ST_PARSE, 0,
			    "chain: more than %d certificates",
			    MESHCA_CHAIN_CERTS_MAX);
			goto out;
		}
		if (!sk_X509_push(certs, x)) {
			X509_free(x);
			mc_err_set(&e, MC_ST_NOMEM, 0, "chain: out of memory");
			goto out;
		}
	}
	code = ERR_peek_last_error();
	n = sk_X509_num(certs);
	if (ERR_GET_LIB(code) != ERR_LIB_PEM ||
	    ERR_GET_REASON(code) != PEM_R_NO_START_LINE) {
		if (n == 0)
			mc_err_set(&e, MC_ST_PARSE, 0,
			    "leaf: RFC 7468: not a well-formed CERTIFICATE");
		else
			mc_err_set(&e, MC_ST_PARSE, 0,
			    "cert %d: RFC 7468: not a well-formed CERTIFICATE",
			    n);
		goto out;
	}
	if (n == 0) {
		mc_err_set(&e, MC_ST_PARSE, 0,
		    "chain: RFC 7468: no CERTIFICATE PEM block");
		goto out;
	}
	/* The leaf comes first; the rest are candidate intermediates in
	 * any order, which X509_verify_cert() searches. */
	x = sk_X509_shift(certs);
	if (spiffe_verify_x509(v, x, certs, peer_out, &e) == -1) {
		X509_free(x);
		goto out;
	}
	X509_free(x);
out:
	BIO_free(bio);
	sk_X509_pop_free(certs, X509_free);
	ERR_pop_to_mark();
	return e.status == MC_ST_OK ? MESHCA_OK : spiffe_api_error(&e, err);
}
