/*
 * sslhook.c: X.509-SVID verification and secure naming inside OpenSSL
 * handshakes. An installed SSL_CTX carries a struct hook (verifier plus
 * policy or authorizer, all referenced) in its ex_data and replaces
 * OpenSSL's chain verification with ours through
 * SSL_CTX_set_cert_verify_callback(); each SSL carries a struct conn
 * with the service it dials and, after a successful handshake, the
 * peer's ID.
 *
 * The peer's certificates are untrusted input; they reach us already
 * decoded by OpenSSL and are verified in place (no copies, no PEM).
 * A rejection sets an X509_V_ERR code on the store context, from which
 * OpenSSL picks the TLS alert it sends.
 */
#include <stdbool.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>

#include <meshca/openssl.h>

#include "common/alloc.h"
#include "common/err.h"
#include "common/status.h"
#include "spiffe/api.h"
#include "spiffe/policy.h"
#include "spiffe/svid.h"

struct hook {
	struct meshca_verifier *v;
	struct meshca_policy *policy;	/* client side */
	struct meshca_authorizer *authz; /* server side */
};

struct conn {
	char *service;
	struct meshca_id *peer;
};

/*
 * The ex_data indexes are process-wide and written once, under
 * CRYPTO_THREAD_run_once(), before any reader can see them.
 */
static CRYPTO_ONCE hook_once = CRYPTO_ONCE_STATIC_INIT;
static int hook_ctx_idx = -1;
static int hook_ssl_idx = -1;

static void
hook_free(struct hook *h)
{
	if (h == NULL)
		return;
	meshca_verifier_free(h->v);
	meshca_policy_free(h->policy);
	meshca_authorizer_free(h->authz);
	mc_free(h);
}

static void
conn_free(struct conn *c)
{
	if (c == NULL)
		return;
	mc_free(c->service);
	meshca_id_free(c->peer);
	mc_free(c);
}

static void
hook_ctx_free_cb(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx,
    long argl, void *argp)
{
	(void)parent;
	(void)ad;
	(void)idx;
	(void)argl;
	(void)argp;
	hook_free(ptr);
}

static void
hook_ssl_free_cb(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx,
    long argl, void *argp)
{
	(void)parent;
	(void)ad;
	(void)idx;
	(void)argl;
	(void)argp;
	conn_free(ptr);
}

/* SSL_dup(): the copy dials the same service but has no peer yet. */
static int
hook_ssl_dup_cb(CRYPTO_EX_DATA *to, const CRYPTO_EX_DATA *from, void **from_d,
    int idx, long argl, void *argp)
{
	struct conn *c = *from_d, *n = NULL;

	(void)to;
	(void)from;
	(void)idx;
	(void)argl;
	(void)argp;
	if (c == NULL)
		return 1;
	if ((n = mc_calloc(1, sizeof(*n))) == NULL ||
	    (c->service != NULL &&
	    (n->service = mc_strdup(c->service)) == NULL)) {
		conn_free(n);
		*from_d = NULL;
		return 0;
	}
	*from_d = n;
	return 1;
}

static void
hook_init(void)
{
	hook_ctx_idx = SSL_CTX_get_ex_new_index(0, NULL, NULL, NULL,
	    hook_ctx_free_cb);
	hook_ssl_idx = SSL_get_ex_new_index(0, NULL, NULL, hook_ssl_dup_cb,
	    hook_ssl_free_cb);
}

static int
hook_indexes(struct mc_err *e)
{
	if (!CRYPTO_THREAD_run_once(&hook_once, hook_init) ||
	    hook_ctx_idx < 0 || hook_ssl_idx < 0) {
		mc_err_set(e, MC_ST_INTERNAL, 0,
		    "openssl: no ex_data index for meshca");
		return -1;
	}
	return 0;
}

/*
 * The X509_V_ERR code whose alert (RFC 8446 6.2) fits a rejection;
 * OpenSSL maps it to the alert (ssl_x509err2alert): certificate_expired,
 * bad_certificate, certificate_revoked, unknown_ca (CRL, untrusted,
 * signing certificate), unsupported_certificate (EKU), handshake_failure
 * (not authorized; OpenSSL has no code for access_denied), and
 * bad_certificate for the rest.
 */
static int
hook_x509_error(int reason)
{
	switch (reason) {
	case MESHCA_REASON_EXPIRED:
		return X509_V_ERR_CERT_HAS_EXPIRED;
	case MESHCA_REASON_NOT_YET_VALID:
		return X509_V_ERR_CERT_NOT_YET_VALID;
	case MESHCA_REASON_REVOKED:
		return X509_V_ERR_CERT_REVOKED;
	case MESHCA_REASON_CRL:
		return X509_V_ERR_UNABLE_TO_GET_CRL;
	case MESHCA_REASON_UNTRUSTED:
		return X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY;
	case MESHCA_REASON_SIGNING_CERT:
		return X509_V_ERR_INVALID_CA;
	case MESHCA_REASON_EXT_KEY_USAGE:
		return X509_V_ERR_INVALID_PURPOSE;
	case MESHCA_REASON_NOT_AUTHORIZED:
		return X509_V_ERR_APPLICATION_VERIFICATION;
	}
	return X509_V_ERR_CERT_REJECTED;
}

static struct conn *
hook_conn(SSL *ssl, bool create)
{
	struct conn *c = SSL_get_ex_data(ssl, hook_ssl_idx);

	if (c == NULL && create) {
		if ((c = mc_calloc(1, sizeof(*c))) == NULL)
			return NULL;
		if (!SSL_set_ex_data(ssl, hook_ssl_idx, c)) {
			mc_free(c);
			return NULL;
		}
	}
	return c;
}

static int
hook_verify_cb(X509_STORE_CTX *xctx, void *arg)
{
	struct hook *h = arg;
	struct mc_err e = { 0 };
	struct meshca_id *id = NULL;
	struct conn *c;
	SSL *ssl;
	bool ok;
	int verr = X509_V_ERR_UNSPECIFIED;

	ssl = X509_STORE_CTX_get_ex_data(xctx,
	    SSL_get_ex_data_X509_STORE_CTX_idx());
	if (ssl == NULL || h == NULL)
		goto out;
	c = hook_conn(ssl, false);
	if (c != NULL) {
		meshca_id_free(c->peer);
		c->peer = NULL;
	}
	if (spiffe_verify_x509(h->v, X509_STORE_CTX_get0_cert(xctx),
	    X509_STORE_CTX_get0_untrusted(xctx), &id, &e) == -1) {
		verr = e.status == MC_ST_REJECTED ?
		    hook_x509_error(e.reason) : X509_V_ERR_OUT_OF_MEM;
		goto out;
	}
	if (h->authz != NULL)
		ok = meshca_authorizer_allows(h->authz, id);
	else
		ok = c != NULL && c->service != NULL &&
		    meshca_policy_allows(h->policy, c->service, id);
	if (!ok) {
		verr = X509_V_ERR_APPLICATION_VERIFICATION;
		goto out;
	}
	if ((c = hook_conn(ssl, true)) == NULL) {
		verr = X509_V_ERR_OUT_OF_MEM;
		goto out;
	}
	c->peer = id;
	id = NULL;
	verr = X509_V_OK;
out:
	meshca_id_free(id);
	X509_STORE_CTX_set_error(xctx, verr);
	return verr == X509_V_OK;
}

static enum meshca_status
hook_install(SSL_CTX *ctx, struct meshca_verifier *v,
    struct meshca_policy *p, struct meshca_authorizer *a,
    struct meshca_error *err)
{
	struct mc_err e = { 0 };
	struct hook *h = NULL, *old;

	if (ctx == NULL || v == NULL || (p == NULL && a == NULL)) {
		mc_err_set(&e, MC_ST_USAGE, 0, "openssl: NULL %s",
		    ctx == NULL ? "SSL_CTX" : v == NULL ? "verifier" :
		    a == NULL ? "policy" : "authorizer");
		goto out;
	}
	if (hook_indexes(&e) == -1)
		goto out;
	if ((h = mc_calloc(1, sizeof(*h))) == NULL) {
		mc_err_set(&e, MC_ST_NOMEM, 0, "openssl: out of memory");
		goto out;
	}
	h->v = meshca_verifier_up_ref(v);
	h->policy = meshca_policy_up_ref(p);
	h->authz = meshca_authorizer_up_ref(a);
	old = SSL_CTX_get_ex_data(ctx, hook_ctx_idx);
	if (!SSL_CTX_set_ex_data(ctx, hook_ctx_idx, h)) {
		mc_err_set(&e, MC_ST_NOMEM, 0, "openssl: SSL_CTX_set_ex_data "
		    "failed");
		goto out;
	}
	/* The new hook is in place: the old one has no more users. */
	hook_free(old);
	SSL_CTX_set_cert_verify_callback(ctx, hook_verify_cb, h);
	SSL_CTX_set_verify(ctx, a != NULL ? SSL_VERIFY_PEER |
	    SSL_VERIFY_FAIL_IF_NO_PEER_CERT : SSL_VERIFY_PEER, NULL);
	h = NULL;
out:
	hook_free(h);
	return e.status == MC_ST_OK ? MESHCA_OK : spiffe_api_error(&e, err);
}

MESHCA_API enum meshca_status
meshca_ssl_ctx_install_client(SSL_CTX *ctx, struct meshca_verifier *v,
    struct meshca_policy *p, struct meshca_error *err)
{
	struct mc_err e = { 0 };

	if (p == NULL) {
		mc_err_set(&e, MC_ST_USAGE, 0, "openssl: NULL policy");
		return spiffe_api_error(&e, err);
	}
	return hook_install(ctx, v, p, NULL, err);
}

MESHCA_API enum meshca_status
meshca_ssl_ctx_install_server(SSL_CTX *ctx, struct meshca_verifier *v,
    struct meshca_authorizer *a, struct meshca_error *err)
{
	struct mc_err e = { 0 };

	if (a == NULL) {
		mc_err_set(&e, MC_ST_USAGE, 0, "openssl: NULL authorizer");
		return spiffe_api_error(&e, err);
	}
	return hook_install(ctx, v, NULL, a, err);
}

MESHCA_API enum meshca_status
meshca_ssl_set_service(SSL *ssl, const char *service,
    struct meshca_error *err)
{
	struct mc_err e = { 0 };
	struct conn *c;
	char *s;

	if (ssl == NULL) {
		mc_err_set(&e, MC_ST_USAGE, 0, "openssl: NULL SSL");
		return spiffe_api_error(&e, err);
	}
	if (spiffe_service_check("openssl", service, &e) == -1 ||
	    hook_indexes(&e) == -1)
		return spiffe_api_error(&e, err);
	if ((s = mc_strdup(service)) == NULL ||
	    (c = hook_conn(ssl, true)) == NULL) {
		mc_free(s);
		mc_err_set(&e, MC_ST_NOMEM, 0, "openssl: out of memory");
		return spiffe_api_error(&e, err);
	}
	mc_free(c->service);
	c->service = s;
	return MESHCA_OK;
}

MESHCA_API enum meshca_status
meshca_ssl_get_peer_id(SSL *ssl, struct meshca_id **out,
    struct meshca_error *err)
{
	struct mc_err e = { 0 };
	struct conn *c;
	X509 *peer;

	if (ssl == NULL || out == NULL) {
		mc_err_set(&e, MC_ST_USAGE, 0, "openssl: NULL %s",
		    ssl == NULL ? "SSL" : "out");
		return spiffe_api_error(&e, err);
	}
	if (hook_indexes(&e) == -1)
		return spiffe_api_error(&e, err);
	c = hook_conn(ssl, false);
	if (c != NULL && c->peer != NULL) {
		if ((*out = meshca_id_dup(c->peer)) == NULL) {
			mc_err_set(&e, MC_ST_NOMEM, 0,
			    "openssl: out of memory");
			return spiffe_api_error(&e, err);
		}
		return MESHCA_OK;
	}
	/*
	 * A resumed session skipped verification; its peer certificate was
	 * verified by our hook when the session was made (the session
	 * keeps that verify result).
	 */
	peer = SSL_get0_peer_certificate(ssl);
	if (SSL_session_reused(ssl) && peer != NULL &&
	    SSL_get_verify_result(ssl) == X509_V_OK &&
	    SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), hook_ctx_idx) != NULL) {
		if (spiffe_svid_leaf_id(peer, out, &e) == -1)
			return spiffe_api_error(&e, err);
		return MESHCA_OK;
	}
	mc_err_set(&e, MC_ST_REJECTED, MESHCA_REASON_UNTRUSTED,
	    "openssl: connection has no peer verified by meshca");
	return spiffe_api_error(&e, err);
}
