/*
 * test_sslhook.c: the OpenSSL handshake hooks (spiffe/sslhook.c) in real
 * TLS 1.3 mutual-authentication handshakes between two OpenSSL endpoints
 * in this process (tests/helpers/tls_pair.c), with SVIDs made at run
 * time: allowed peers connect both ways and learn each other's ID;
 * peers with a valid chain but the wrong ID, expired, revoked, foreign
 * trust domain or untrusted-root peers are refused during the handshake
 * with the expected TLS alert; bundle reloads apply to the next
 * handshake; handshakes from several threads race reloads.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include <openssl/ssl.h>

#include <meshca/bundle.h>
#include <meshca/openssl.h>
#include <meshca/policy.h>
#include <meshca/svid.h>

#include "tests/helpers/pki.h"
#include "tests/helpers/tls_pair.h"

#define TD "cluster.local"
#define TD2 "other.example"
#define ID_SRV "spiffe://cluster.local/ns/default/sa/reviews"
#define ID_CLI "spiffe://cluster.local/ns/default/sa/productpage"
#define ID_EVIL "spiffe://cluster.local/ns/default/sa/evil"
#define ID_SRV2 "spiffe://other.example/ns/default/sa/reviews"
#define SVC "reviews.default.svc.cluster.local"
#define SVC_RATINGS "ratings.default.svc.cluster.local"
#define SVC_FED "reviews.other.example"

/* TLS alert descriptions, RFC 8446 6. */
#define AL_HANDSHAKE_FAILURE 40
#define AL_BAD_CERTIFICATE 42
#define AL_UNSUPPORTED_CERTIFICATE 43
#define AL_CERTIFICATE_REVOKED 44
#define AL_CERTIFICATE_EXPIRED 45
#define AL_UNKNOWN_CA 48
#define AL_CERTIFICATE_REQUIRED 116

static const char policy_json[] =
    "{\"services\": {"
    "\"" SVC "\": {\"ids\": [\"" ID_SRV "\"]},"
    "\"" SVC_RATINGS "\": {\"ids\": [\"spiffe://cluster.local/ns/default/"
    "sa/ratings\"]},"
    "\"" SVC_FED "\": {\"trust_domain\": \"" TD2 "\"}}}";

struct fx {
	struct pki_cert root, root2, rogue;
	struct pki_cert srv, cli, evil, srv2, srv_rogue, cli_rogue;
	struct meshca_bundle *bundle;	/* root + root2 */
	struct meshca_policy *policy;
	struct meshca_authorizer *authz; /* ID_CLI only */
};

static struct fx F;

static struct meshca_bundle *
bundle_of(X509 *const *roots, const char *const *tds, size_t n)
{
	struct meshca_bundle *b = NULL, *one, *m;
	size_t i, len;
	char *pem;

	for (i = 0; i < n; i++) {
		pem = pki_pem(&roots[i], 1, &len);
		if (meshca_bundle_parse(pem, len, tds[i], &one, NULL) !=
		    MESHCA_OK)
			exit(99);
		free(pem);
		if (b == NULL) {
			b = one;
			continue;
		}
		if (meshca_bundle_merge(b, one, &m, NULL) != MESHCA_OK)
			exit(99);
		meshca_bundle_free(b);
		meshca_bundle_free(one);
		b = m;
	}
	return b;
}

static int
group_setup(void **state)
{
	struct meshca_id *id;

	(void)state;
	pki_root(TD, &F.root);
	pki_root(TD2, &F.root2);
	pki_root(TD, &F.rogue);
	pki_leaf(ID_SRV, &F.root, &F.srv);
	pki_leaf(ID_CLI, &F.root, &F.cli);
	pki_leaf(ID_EVIL, &F.root, &F.evil);
	pki_leaf(ID_SRV2, &F.root2, &F.srv2);
	pki_leaf(ID_SRV, &F.rogue, &F.srv_rogue);
	pki_leaf(ID_CLI, &F.rogue, &F.cli_rogue);
	F.bundle = bundle_of((X509 *[]){ F.root.cert, F.root2.cert },
	    (const char *[]){ TD, TD2 }, 2);
	if (meshca_policy_parse_json(policy_json, sizeof(policy_json) - 1,
	    &F.policy, NULL) != MESHCA_OK)
		exit(99);
	if (meshca_id_parse(ID_CLI, strlen(ID_CLI), &id, NULL) != MESHCA_OK ||
	    meshca_authorizer_id(id, &F.authz, NULL) != MESHCA_OK)
		exit(99);
	meshca_id_free(id);
	return 0;
}

static int
group_teardown(void **state)
{
	(void)state;
	pki_cert_clear(&F.root);
	pki_cert_clear(&F.root2);
	pki_cert_clear(&F.rogue);
	pki_cert_clear(&F.srv);
	pki_cert_clear(&F.cli);
	pki_cert_clear(&F.evil);
	pki_cert_clear(&F.srv2);
	pki_cert_clear(&F.srv_rogue);
	pki_cert_clear(&F.cli_rogue);
	meshca_bundle_free(F.bundle);
	meshca_policy_free(F.policy);
	meshca_authorizer_free(F.authz);
	return 0;
}

static struct meshca_verifier *
verifier(struct meshca_bundle *b)
{
	struct meshca_verifier *v;

	assert_int_equal(meshca_verifier_new(&v, NULL), MESHCA_OK);
	assert_int_equal(meshca_verifier_set_bundle(v, b, NULL), MESHCA_OK);
	return v;
}

/* A client context presenting cert (NULL: none) verifying with v. The
 * context keeps its own references: the caller's are dropped here. */
static SSL_CTX *
client_ctx(const struct pki_cert *cert, struct meshca_verifier *v)
{
	SSL_CTX *ctx = tls_ctx_new(false, cert, NULL, 0);

	assert_int_equal(meshca_ssl_ctx_install_client(ctx, v, F.policy,
	    NULL), MESHCA_OK);
	meshca_verifier_free(v);
	return ctx;
}

static SSL_CTX *
server_ctx(const struct pki_cert *cert, struct meshca_verifier *v)
{
	SSL_CTX *ctx = tls_ctx_new(true, cert, NULL, 0);

	assert_int_equal(meshca_ssl_ctx_install_server(ctx, v, F.authz,
	    NULL), MESHCA_OK);
	meshca_verifier_free(v);
	return ctx;
}

static void
assert_peer(SSL *ssl, const char *want)
{
	struct meshca_id *id = NULL;
	struct meshca_error err;

	if (meshca_ssl_get_peer_id(ssl, &id, &err) != MESHCA_OK)
		fail_msg("peer id: %s", err.message);
	assert_string_equal(meshca_id_get0_string(id), want);
	meshca_id_free(id);
}

static void
assert_no_peer(SSL *ssl)
{
	struct meshca_id *id = NULL;
	struct meshca_error err;

	assert_int_equal(meshca_ssl_get_peer_id(ssl, &id, &err),
	    MESHCA_ERR_REJECTED);
	assert_int_equal(err.reason, MESHCA_REASON_UNTRUSTED);
	assert_null(id);
}

/* Runs one handshake, dialling service (NULL: none). */
static bool
handshake(SSL_CTX *c, SSL_CTX *s, const char *service, struct tls_pair *p)
{
	tls_pair_init(p, c, s);
	if (service != NULL)
		assert_int_equal(meshca_ssl_set_service(p->client, service,
		    NULL), MESHCA_OK);
	return tls_pair_run(p);
}

static void
test_allowed_both_ways(void **state)
{
	SSL_CTX *c, *s;
	struct tls_pair p;

	(void)state;
	c = client_ctx(&F.cli, verifier(F.bundle));
	s = server_ctx(&F.srv, verifier(F.bundle));
	assert_true(handshake(c, s, SVC, &p));
	assert_true(p.c.handshake_ok && p.s.handshake_ok);
	assert_int_equal(p.c.alert_sent, -1);
	assert_int_equal(p.s.alert_sent, -1);
	assert_peer(p.client, ID_SRV);
	assert_peer(p.server, ID_CLI);
	assert_int_equal(SSL_version(p.client), TLS1_3_VERSION);
	tls_pair_free(&p);

	/* A federated server, allowed by trust domain for its service. */
	SSL_CTX_free(s);
	s = server_ctx(&F.srv2, verifier(F.bundle));
	assert_true(handshake(c, s, SVC_FED, &p));
	assert_peer(p.client, ID_SRV2);
	tls_pair_free(&p);
	SSL_CTX_free(c);
	SSL_CTX_free(s);
}

/* Secure naming: a valid server chain whose ID may not run the service
 * the client dialled is refused by the client during the handshake. */
static void
test_wrong_service(void **state)
{
	SSL_CTX *c, *s;
	struct tls_pair p;

	(void)state;
	c = client_ctx(&F.cli, verifier(F.bundle));
	s = server_ctx(&F.srv, verifier(F.bundle));
	assert_false(handshake(c, s, SVC_RATINGS, &p));
	assert_false(p.c.handshake_ok);
	assert_false(p.s.handshake_ok);
	assert_int_equal(p.c.alert_sent, AL_HANDSHAKE_FAILURE);
	assert_int_equal(p.s.alert_received, AL_HANDSHAKE_FAILURE);
	assert_int_equal(p.c.verify_result,
	    X509_V_ERR_APPLICATION_VERIFICATION);
	assert_no_peer(p.client);
	tls_pair_free(&p);

	/* A service the policy does not know, and no service at all. */
	assert_false(handshake(c, s, "unknown.svc", &p));
	assert_int_equal(p.c.alert_sent, AL_HANDSHAKE_FAILURE);
	tls_pair_free(&p);
	assert_false(handshake(c, s, NULL, &p));
	assert_int_equal(p.c.alert_sent, AL_HANDSHAKE_FAILURE);
	tls_pair_free(&p);
	/* Naming the service afterwards, before the handshake, works. */
	tls_pair_init(&p, c, s);
	assert_int_equal(meshca_ssl_set_service(p.client, SVC_RATINGS, NULL),
	    MESHCA_OK);
	assert_int_equal(meshca_ssl_set_service(p.client, SVC, NULL),
	    MESHCA_OK);
	assert_true(tls_pair_run(&p));
	tls_pair_free(&p);
	SSL_CTX_free(c);
	SSL_CTX_free(s);
}

/* The server refuses a verified client its authorizer does not allow;
 * in TLS 1.3 the client learns it from the alert after its Finished. */
static void
test_client_not_allowed(void **state)
{
	SSL_CTX *c, *s;
	struct tls_pair p;

	(void)state;
	c = client_ctx(&F.evil, verifier(F.bundle));
	s = server_ctx(&F.srv, verifier(F.bundle));
	assert_false(handshake(c, s, SVC, &p));
	assert_false(p.s.handshake_ok);
	assert_int_equal(p.s.alert_sent, AL_HANDSHAKE_FAILURE);
	assert_int_equal(p.c.alert_received, AL_HANDSHAKE_FAILURE);
	assert_false(p.c.data_ok);
	assert_no_peer(p.server);
	tls_pair_free(&p);
	SSL_CTX_free(c);
	SSL_CTX_free(s);

	/* No client certificate at all. */
	c = client_ctx(NULL, verifier(F.bundle));
	s = server_ctx(&F.srv, verifier(F.bundle));
	assert_false(handshake(c, s, SVC, &p));
	assert_int_equal(p.s.alert_sent, AL_CERTIFICATE_REQUIRED);
	tls_pair_free(&p);
	SSL_CTX_free(c);
	SSL_CTX_free(s);
}

static void
test_expired(void **state)
{
	struct pki_opts o = { 0 };
	struct pki_cert old;
	SSL_CTX *c, *s;
	struct tls_pair p;
	time_t now = time(NULL);

	(void)state;
	o.cn = "";
	o.san_critical = 1;
	o.uris[0] = ID_SRV;
	o.not_before = now - 7200;
	o.not_after = now - 60;
	pki_make(&o, &F.root, &old);
	c = client_ctx(&F.cli, verifier(F.bundle));
	s = server_ctx(&old, verifier(F.bundle));
	assert_false(handshake(c, s, SVC, &p));
	assert_int_equal(p.c.alert_sent, AL_CERTIFICATE_EXPIRED);
	assert_int_equal(p.s.alert_received, AL_CERTIFICATE_EXPIRED);
	assert_int_equal(p.c.verify_result, X509_V_ERR_CERT_HAS_EXPIRED);
	tls_pair_free(&p);
	SSL_CTX_free(c);
	SSL_CTX_free(s);
	pki_cert_clear(&old);
}

static void
test_wrong_trust_domain(void **state)
{
	struct meshca_verifier *v = verifier(F.bundle);
	SSL_CTX *c, *s;
	struct tls_pair p;

	(void)state;
	/* The policy allows TD2 for SVC_FED, but this client requires TD. */
	assert_int_equal(meshca_verifier_set_trust_domain(v, TD, NULL),
	    MESHCA_OK);
	c = client_ctx(&F.cli, v);
	s = server_ctx(&F.srv2, verifier(F.bundle));
	assert_false(handshake(c, s, SVC_FED, &p));
	assert_int_equal(p.c.alert_sent, AL_BAD_CERTIFICATE);
	assert_int_equal(p.s.alert_received, AL_BAD_CERTIFICATE);
	tls_pair_free(&p);
	SSL_CTX_free(c);
	SSL_CTX_free(s);
}

static void
test_revoked(void **state)
{
	struct meshca_verifier *v = verifier(F.bundle);
	X509_CRL *crl;
	SSL_CTX *c, *s;
	struct tls_pair p;
	size_t len;
	char *pem;

	(void)state;
	crl = pki_crl(&F.root, (X509 *[]){ F.cli.cert }, 1, 0, 0);
	pem = pki_crl_pem(&crl, 1, &len);
	assert_int_equal(meshca_verifier_set_crls_pem(v, pem, len, NULL),
	    MESHCA_OK);
	c = client_ctx(&F.cli, verifier(F.bundle));
	s = server_ctx(&F.srv, v);
	assert_false(handshake(c, s, SVC, &p));
	assert_int_equal(p.s.alert_sent, AL_CERTIFICATE_REVOKED);
	assert_int_equal(p.c.alert_received, AL_CERTIFICATE_REVOKED);
	assert_int_equal(p.s.verify_result, X509_V_ERR_CERT_REVOKED);
	tls_pair_free(&p);
	SSL_CTX_free(c);
	SSL_CTX_free(s);
	X509_CRL_free(crl);
	free(pem);
}

static void
test_untrusted_root(void **state)
{
	SSL_CTX *c, *s;
	struct tls_pair p;

	(void)state;
	c = client_ctx(&F.cli, verifier(F.bundle));
	s = server_ctx(&F.srv_rogue, verifier(F.bundle));
	assert_false(handshake(c, s, SVC, &p));
	assert_int_equal(p.c.alert_sent, AL_UNKNOWN_CA);
	assert_int_equal(p.s.alert_received, AL_UNKNOWN_CA);
	tls_pair_free(&p);
	SSL_CTX_free(s);
	/* Untrusted client towards a good server. */
	SSL_CTX_free(c);
	c = client_ctx(&F.cli_rogue, verifier(F.bundle));
	s = server_ctx(&F.srv, verifier(F.bundle));
	assert_false(handshake(c, s, SVC, &p));
	assert_int_equal(p.s.alert_sent, AL_UNKNOWN_CA);
	tls_pair_free(&p);
	SSL_CTX_free(c);
	SSL_CTX_free(s);
}

/*
 * Root rotation seen from a client: the server moves to a certificate
 * from a new root; the client's handshakes fail until its verifier's
 * bundle is reloaded, and succeed from the next handshake on. The old
 * bundle stays valid for whoever still holds it.
 */
/* The alert tells the peer which rule its certificate broke. */
static void
test_alerts(void **state)
{
	static const struct {
		const char *eku;
		const char *inter_bc;
		time_t nb;
		int alert;
	} cases[] = {
		{ "serverAuth", NULL, 0, AL_UNSUPPORTED_CERTIFICATE },
		{ NULL, "critical,CA:FALSE", 0, AL_UNKNOWN_CA },
		{ NULL, NULL, 1, AL_BAD_CERTIFICATE },
	};
	struct pki_opts o;
	struct pki_cert inter, leaf;
	SSL_CTX *c, *s;
	struct tls_pair p;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		memset(&o, 0, sizeof(o));
		o.ca = 1;
		o.basic_constraints = cases[i].inter_bc;
		pki_make(&o, &F.root, &inter);
		memset(&o, 0, sizeof(o));
		o.cn = "";
		o.san_critical = 1;
		o.uris[0] = ID_SRV;
		o.ext_key_usage = cases[i].eku;
		if (cases[i].nb) {
			o.not_before = time(NULL) + 3600;
			o.not_after = time(NULL) + 7200;
		}
		pki_make(&o, &inter, &leaf);
		c = client_ctx(&F.cli, verifier(F.bundle));
		s = tls_ctx_new(true, &leaf, &inter.cert, 1);
		assert_false(handshake(c, s, SVC, &p));
		if (p.c.alert_sent != cases[i].alert)
			fail_msg("case %zu: alert %d, want %d", i,
			    p.c.alert_sent, cases[i].alert);
		assert_int_equal(p.s.alert_received, cases[i].alert);
		tls_pair_free(&p);
		SSL_CTX_free(c);
		SSL_CTX_free(s);
		pki_cert_clear(&leaf);
		pki_cert_clear(&inter);
	}
}

static void
test_reload(void **state)
{
	struct meshca_verifier *v = verifier(F.bundle), *other;
	struct meshca_bundle *rotated;
	SSL_CTX *c, *s;
	struct tls_pair p, early;

	(void)state;
	rotated = bundle_of((X509 *[]){ F.root.cert, F.rogue.cert },
	    (const char *[]){ TD, TD }, 2);
	c = client_ctx(&F.cli, meshca_verifier_up_ref(v));
	s = server_ctx(&F.srv_rogue, verifier(F.bundle));
	assert_false(handshake(c, s, SVC, &p));
	assert_int_equal(p.c.alert_sent, AL_UNKNOWN_CA);
	tls_pair_free(&p);

	/* A connection set up before the reload, handshaking after it,
	 * uses the bundle current when it verifies. */
	tls_pair_init(&early, c, s);
	assert_int_equal(meshca_ssl_set_service(early.client, SVC, NULL),
	    MESHCA_OK);
	assert_int_equal(meshca_verifier_set_bundle(v, rotated, NULL),
	    MESHCA_OK);
	assert_true(tls_pair_run(&early));
	tls_pair_free(&early);
	assert_true(handshake(c, s, SVC, &p));
	assert_peer(p.client, ID_SRV);
	tls_pair_free(&p);

	/* The old bundle is still whole for another verifier. */
	other = verifier(F.bundle);
	{
		size_t len;
		char *pem = pki_pem(&F.srv.cert, 1, &len);

		assert_int_equal(meshca_verify_chain_pem(other, pem, len,
		    NULL, NULL), MESHCA_OK);
		free(pem);
	}
	meshca_verifier_free(other);

	/* Dropping the rogue root again refuses the next handshake. */
	assert_int_equal(meshca_verifier_set_bundle(v, F.bundle, NULL),
	    MESHCA_OK);
	assert_false(handshake(c, s, SVC, &p));
	tls_pair_free(&p);
	meshca_verifier_free(v);
	meshca_bundle_free(rotated);
	SSL_CTX_free(c);
	SSL_CTX_free(s);
}

/* Installing twice replaces the first install (and frees it). */
static void
test_reinstall(void **state)
{
	struct meshca_verifier *v = verifier(F.bundle);
	struct meshca_authorizer *any;
	SSL_CTX *c, *s;
	struct tls_pair p;

	(void)state;
	c = client_ctx(&F.evil, verifier(F.bundle));
	s = server_ctx(&F.srv, meshca_verifier_up_ref(v));
	assert_false(handshake(c, s, SVC, &p));
	tls_pair_free(&p);
	assert_int_equal(meshca_authorizer_any(&any, NULL), MESHCA_OK);
	assert_int_equal(meshca_ssl_ctx_install_server(s, v, any, NULL),
	    MESHCA_OK);
	meshca_authorizer_free(any);
	meshca_verifier_free(v);
	assert_true(handshake(c, s, SVC, &p));
	assert_peer(p.server, ID_EVIL);
	tls_pair_free(&p);
	SSL_CTX_free(c);
	SSL_CTX_free(s);
}

/*
 * A resumed TLS 1.3 session skips certificate verification (RFC 8446
 * 2.2); meshca_ssl_get_peer_id() still reports the peer, taken from the
 * certificate the session was made with.
 */
static void
test_resumption(void **state)
{
	SSL_CTX *c, *s;
	SSL_SESSION *sess;
	struct tls_pair p;

	(void)state;
	c = client_ctx(&F.cli, verifier(F.bundle));
	s = server_ctx(&F.srv, verifier(F.bundle));
	SSL_CTX_clear_options(c, SSL_OP_NO_TICKET);
	SSL_CTX_clear_options(s, SSL_OP_NO_TICKET);
	SSL_CTX_set_session_cache_mode(c, SSL_SESS_CACHE_CLIENT);
	SSL_CTX_set_session_cache_mode(s, SSL_SESS_CACHE_SERVER);
	/* Required to resume sessions with client certificates. */
	assert_int_equal(SSL_CTX_set_session_id_context(s,
	    (const unsigned char *)"test", 4), 1);
	assert_true(handshake(c, s, SVC, &p));
	assert_false(SSL_session_reused(p.client));
	sess = SSL_get1_session(p.client);
	assert_non_null(sess);
	tls_pair_free(&p);
	assert_true(SSL_SESSION_is_resumable(sess));

	tls_pair_init(&p, c, s);
	assert_int_equal(meshca_ssl_set_service(p.client, SVC, NULL),
	    MESHCA_OK);
	assert_int_equal(SSL_set_session(p.client, sess), 1);
	assert_true(tls_pair_run(&p));
	assert_true(SSL_session_reused(p.client));
	assert_peer(p.client, ID_SRV);
	assert_peer(p.server, ID_CLI);
	tls_pair_free(&p);
	SSL_SESSION_free(sess);
	SSL_CTX_free(c);
	SSL_CTX_free(s);
}

static void
test_usage(void **state)
{
	struct meshca_verifier *v = verifier(F.bundle);
	struct meshca_error err;
	struct meshca_id *id;
	SSL_CTX *ctx = tls_ctx_new(false, NULL, NULL, 0);
	SSL *ssl = SSL_new(ctx);
	char longname[MESHCA_SERVICE_MAX + 2];

	(void)state;
	assert_int_equal(meshca_ssl_ctx_install_client(NULL, v, F.policy,
	    &err), MESHCA_ERR_USAGE);
	assert_int_equal(meshca_ssl_ctx_install_client(ctx, NULL, F.policy,
	    &err), MESHCA_ERR_USAGE);
	assert_int_equal(meshca_ssl_ctx_install_client(ctx, v, NULL, &err),
	    MESHCA_ERR_USAGE);
	assert_int_equal(meshca_ssl_ctx_install_server(ctx, v, NULL, &err),
	    MESHCA_ERR_USAGE);
	assert_int_equal(meshca_ssl_set_service(ssl, NULL, &err),
	    MESHCA_ERR_USAGE);
	assert_int_equal(meshca_ssl_set_service(ssl, "", &err),
	    MESHCA_ERR_USAGE);
	assert_int_equal(meshca_ssl_set_service(ssl, "a\nb", &err),
	    MESHCA_ERR_USAGE);
	memset(longname, 'a', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	assert_int_equal(meshca_ssl_set_service(ssl, longname, &err),
	    MESHCA_ERR_USAGE);
	longname[MESHCA_SERVICE_MAX] = '\0';
	assert_int_equal(meshca_ssl_set_service(ssl, longname, &err),
	    MESHCA_OK);
	assert_int_equal(meshca_ssl_set_service(NULL, SVC, &err),
	    MESHCA_ERR_USAGE);
	assert_int_equal(meshca_ssl_get_peer_id(ssl, NULL, &err),
	    MESHCA_ERR_USAGE);
	/* Before any handshake there is no peer. */
	assert_int_equal(meshca_ssl_get_peer_id(ssl, &id, &err),
	    MESHCA_ERR_REJECTED);
	/* SSL_dup() copies the service, not the pointer to it. */
	{
		SSL *dup = SSL_dup(ssl);

		assert_non_null(dup);
		SSL_free(ssl);
		ssl = dup;
		assert_int_equal(meshca_ssl_get_peer_id(ssl, &id, &err),
		    MESHCA_ERR_REJECTED);
	}
	SSL_free(ssl);
	SSL_CTX_free(ctx);
	meshca_verifier_free(v);
}

/*
 * Handshakes from several threads over shared contexts while the main
 * thread keeps reloading the client's bundle between two bundles that
 * both trust the server: every handshake must succeed.
 */
struct hs_race {
	SSL_CTX *c, *s;
	int ok, failed;
};

static atomic_int hs_done;

static void *
hs_thread(void *arg)
{
	struct hs_race *r = arg;
	struct tls_side cs, ss;
	int i;

	for (i = 0; i < 15; i++) {
		if (tls_pair_once(r->c, r->s, SVC, &cs, &ss))
			r->ok++;
		else
			r->failed++;
	}
	atomic_fetch_add(&hs_done, 1);
	return NULL;
}

static void
test_threads_reload(void **state)
{
	struct meshca_verifier *v = verifier(F.bundle);
	struct meshca_bundle *b2;
	struct hs_race r[4];
	pthread_t t[4];
	int i, swaps = 0, reload_failed = 0;
	SSL_CTX *c, *s;

	(void)state;
	b2 = bundle_of((X509 *[]){ F.root.cert, F.rogue.cert },
	    (const char *[]){ TD, TD }, 2);
	c = client_ctx(&F.cli, meshca_verifier_up_ref(v));
	s = server_ctx(&F.srv, verifier(F.bundle));
	atomic_store(&hs_done, 0);
	for (i = 0; i < 4; i++) {
		r[i].c = c;
		r[i].s = s;
		r[i].ok = r[i].failed = 0;
		assert_int_equal(pthread_create(&t[i], NULL, hs_thread, &r[i]),
		    0);
	}
	/* No assertion while the threads run: leaving the test early would
	 * free what they use. */
	while (atomic_load(&hs_done) < 4) {
		if (meshca_verifier_set_bundle(v, swaps++ % 2 ? F.bundle : b2,
		    NULL) != MESHCA_OK)
			reload_failed++;
		nanosleep(&(struct timespec){ 0, 500000 }, NULL);
	}
	for (i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	assert_int_equal(reload_failed, 0);
	for (i = 0; i < 4; i++) {
		assert_int_equal(r[i].failed, 0);
		assert_int_equal(r[i].ok, 15);
	}
	print_message("threads: 60 handshakes, %d reloads\n", swaps);
	meshca_verifier_free(v);
	meshca_bundle_free(b2);
	SSL_CTX_free(c);
	SSL_CTX_free(s);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_allowed_both_ways),
		cmocka_unit_test(test_wrong_service),
		cmocka_unit_test(test_client_not_allowed),
		cmocka_unit_test(test_expired),
		cmocka_unit_test(test_wrong_trust_domain),
		cmocka_unit_test(test_revoked),
		cmocka_unit_test(test_untrusted_root),
		cmocka_unit_test(test_alerts),
		cmocka_unit_test(test_reload),
		cmocka_unit_test(test_reinstall),
		cmocka_unit_test(test_resumption),
		cmocka_unit_test(test_usage),
		cmocka_unit_test(test_threads_reload),
	};

	return cmocka_run_group_tests_name("sslhook", tests, group_setup,
	    group_teardown);
}
