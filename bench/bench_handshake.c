/*
 * bench_handshake.c: what meshca's verification costs a TLS connection.
 * Full TLS 1.3 mutual handshakes (P-256 keys, ECDHE, no tickets, no
 * session cache; leaf + intermediate presented by each side) between two
 * in-process OpenSSL endpoints over a BIO pair (tests/helpers/tls_pair.c),
 * each followed by one byte each way, in two set-ups:
 *
 *  - plain: SSL_VERIFY_PEER (and FAIL_IF_NO_PEER_CERT on the server)
 *    with the root in each SSL_CTX's X509_STORE: OpenSSL's own chain
 *    verification and nothing else;
 *  - meshca: meshca_ssl_ctx_install_client() with a policy that allows
 *    only the server's SPIFFE ID for the service dialled, and
 *    meshca_ssl_ctx_install_server() with an authorizer that allows only
 *    the client's ID: X.509-SVID verification plus secure naming on both
 *    sides.
 *
 * Every handshake must succeed (the benchmark stops otherwise). The two
 * set-ups run in interleaved rounds, order alternating, timed in process
 * CPU time; the figures are medians over rounds.
 *
 * Prints: verify.handshake_overhead (meshca/plain, target <= 1.02),
 * verify.handshake_rate_plain and verify.handshake_rate_meshca
 * (handshakes per CPU second, both endpoints together).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <meshca/bundle.h>
#include <meshca/id.h>
#include <meshca/openssl.h>
#include <meshca/policy.h>
#include <meshca/svid.h>

#include "bench/bench.h"
#include "tests/helpers/pki.h"
#include "tests/helpers/tls_pair.h"

#define SERVER_ID "spiffe://example.org/ns/default/sa/server"
#define CLIENT_ID "spiffe://example.org/ns/default/sa/client"
#define SERVICE "server.default.svc.cluster.local"

struct setup {
	SSL_CTX *client;
	SSL_CTX *server;
	const char *service; /* set on each client connection, or NULL */
};

struct fixture {
	struct pki_cert root, inter, server, client;
	struct setup plain, meshca;
};

static void
trust_root(SSL_CTX *ctx, X509 *root, int mode)
{
	if (X509_STORE_add_cert(SSL_CTX_get_cert_store(ctx), root) != 1)
		bench_die("X509_STORE_add_cert failed");
	SSL_CTX_set_verify(ctx, mode, NULL);
}

static struct meshca_id *
id_or_die(const char *s)
{
	struct meshca_error err;
	struct meshca_id *id;

	if (meshca_id_parse(s, strlen(s), &id, &err) != MESHCA_OK)
		bench_die("meshca_id_parse: %s", err.message);
	return id;
}

static void
fixture_init(struct fixture *f)
{
	struct meshca_verifier *v = NULL;
	struct meshca_bundle *b = NULL;
	struct meshca_policy *p = NULL;
	struct meshca_authorizer *a = NULL;
	struct meshca_id *id;
	struct meshca_error err;
	char *pem;
	size_t len;

	pki_root("example.org", &f->root);
	pki_intermediate("example.org", &f->root, &f->inter);
	pki_leaf(SERVER_ID, &f->inter, &f->server);
	pki_leaf(CLIENT_ID, &f->inter, &f->client);

	f->plain.client = tls_ctx_new(false, &f->client, &f->inter.cert, 1);
	f->plain.server = tls_ctx_new(true, &f->server, &f->inter.cert, 1);
	f->plain.service = NULL;
	trust_root(f->plain.client, f->root.cert, SSL_VERIFY_PEER);
	trust_root(f->plain.server, f->root.cert,
	    SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT);

	f->meshca.client = tls_ctx_new(false, &f->client, &f->inter.cert, 1);
	f->meshca.server = tls_ctx_new(true, &f->server, &f->inter.cert, 1);
	f->meshca.service = SERVICE;
	pem = pki_pem(&f->root.cert, 1, &len);
	if (meshca_bundle_parse(pem, len, "example.org", &b, &err) !=
		MESHCA_OK ||
	    meshca_verifier_new(&v, &err) != MESHCA_OK ||
	    meshca_verifier_set_bundle(v, b, &err) != MESHCA_OK)
		bench_die("verifier: %s", err.message);
	free(pem);

	/* Client: only the server's ID may answer for SERVICE. */
	id = id_or_die(SERVER_ID);
	if (meshca_policy_new(&p, &err) != MESHCA_OK ||
	    meshca_authorizer_id(id, &a, &err) != MESHCA_OK ||
	    meshca_policy_add(p, SERVICE, a, &err) != MESHCA_OK ||
	    meshca_ssl_ctx_install_client(f->meshca.client, v, p, &err) !=
		MESHCA_OK)
		bench_die("client install: %s", err.message);
	meshca_id_free(id);
	meshca_policy_free(p);

	/* Server: only the client's ID may connect. */
	id = id_or_die(CLIENT_ID);
	if (meshca_authorizer_id(id, &a, &err) != MESHCA_OK ||
	    meshca_ssl_ctx_install_server(f->meshca.server, v, a, &err) !=
		MESHCA_OK)
		bench_die("server install: %s", err.message);
	meshca_id_free(id);
	meshca_authorizer_free(a);
	meshca_verifier_free(v);
	meshca_bundle_free(b);
}

static void
fixture_free(struct fixture *f)
{
	SSL_CTX_free(f->plain.client);
	SSL_CTX_free(f->plain.server);
	SSL_CTX_free(f->meshca.client);
	SSL_CTX_free(f->meshca.server);
	pki_cert_clear(&f->client);
	pki_cert_clear(&f->server);
	pki_cert_clear(&f->inter);
	pki_cert_clear(&f->root);
}

/* CPU seconds per handshake over n handshakes of one set-up. */
static double
timed(const struct setup *s, long n, const char *name)
{
	struct tls_side c, sv;
	double t0 = bench_cpu_now();
	long i;

	for (i = 0; i < n; i++) {
		if (!tls_pair_once(s->client, s->server, s->service, &c, &sv))
			bench_die("%s handshake failed: client \"%s\" alert "
				  "%d/%d, server \"%s\" alert %d/%d",
			    name, c.error, c.alert_sent, c.alert_received,
			    sv.error, sv.alert_sent, sv.alert_received);
	}
	return (bench_cpu_now() - t0) / (double)n;
}

int
main(int argc, char *argv[])
{
	static const struct bench_opts defaults = { false, 41, 0.2 };
	double ratio[BENCH_ROUNDS_MAX], rate_p[BENCH_ROUNDS_MAX],
	    rate_m[BENCH_ROUNDS_MAX];
	struct bench_opts o;
	struct fixture f;
	double tp, tm;
	long n;
	int r;

	bench_parse_args(argc, argv, &defaults, &o);
	fixture_init(&f);

	/*
	 * The meshca set-up must really check names: a client that dials
	 * another service must be refused, or the figures measure nothing.
	 */
	if (tls_pair_once(f.meshca.client, f.meshca.server,
		"other.default.svc.cluster.local", NULL, NULL))
		bench_die("meshca accepted the server for the wrong service");

	/* Warm up both, and size a block from the plain set-up. */
	timed(&f.meshca, 5, "meshca");
	tp = timed(&f.plain, 10, "plain");
	n = (long)(o.block / tp);
	if (n < 3)
		n = 3;

	for (r = 0; r < o.rounds; r++) {
		if (r % 2 == 0) {
			tp = timed(&f.plain, n, "plain");
			tm = timed(&f.meshca, n, "meshca");
		} else {
			tm = timed(&f.meshca, n, "meshca");
			tp = timed(&f.plain, n, "plain");
		}
		ratio[r] = tm / tp;
		rate_p[r] = 1 / tp;
		rate_m[r] = 1 / tm;
	}
	bench_report("verify.handshake_overhead", ratio, o.rounds, "ratio");
	bench_report("verify.handshake_rate_plain", rate_p, o.rounds,
	    "handshakes/s");
	bench_report("verify.handshake_rate_meshca", rate_m, o.rounds,
	    "handshakes/s");
	fixture_free(&f);
	return 0;
}
