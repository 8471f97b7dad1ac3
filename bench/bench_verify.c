/*
 * bench_verify.c: the cost of meshca's X.509-SVID chain verification
 * against OpenSSL's bare path validation, in process. The chain is a
 * P-256 SVID leaf and its intermediate, made at run time with
 * tests/helpers/pki.c; the root is the only trust anchor of both sides.
 *
 *  - meshca: meshca_verify_chain_x509() with a verifier holding the root
 *    as the bundle of example.org, returning the peer ID (what a proxy
 *    asks for);
 *  - openssl: X509_STORE_CTX_new/init + X509_verify_cert() + free on an
 *    X509_STORE holding the same root, as a TLS stack does per handshake.
 *
 * The two run in interleaved rounds (order alternating) of a fixed
 * iteration count, timed in process CPU time; the figure is the median
 * of the per-round ratios meshca/openssl.
 *
 * Prints: verify.chain_vs_openssl (ratio, target <= 1.3),
 * verify.chain_rate_meshca and verify.chain_rate_openssl (chains/s).
 */
#include <stdio.h>
#include <stdlib.h>

#include <openssl/x509.h>
#include <openssl/x509_vfy.h>

#include <meshca/bundle.h>
#include <meshca/openssl.h>
#include <meshca/svid.h>

#include "bench/bench.h"
#include "tests/helpers/pki.h"

#define LEAF_ID "spiffe://example.org/ns/default/sa/bench"

struct fixture {
	struct pki_cert root, inter, leaf;
	STACK_OF(X509) *untrusted;
	X509_STORE *store;
	struct meshca_verifier *v;
};

static void
fixture_init(struct fixture *f)
{
	struct meshca_bundle *b = NULL;
	struct meshca_error err;
	char *pem;
	size_t len;

	pki_root("example.org", &f->root);
	pki_intermediate("example.org", &f->root, &f->inter);
	pki_leaf(LEAF_ID, &f->inter, &f->leaf);

	if ((f->untrusted = sk_X509_new_null()) == NULL ||
	    !sk_X509_push(f->untrusted, f->inter.cert))
		bench_die("sk_X509_push failed");
	if ((f->store = X509_STORE_new()) == NULL ||
	    X509_STORE_add_cert(f->store, f->root.cert) != 1)
		bench_die("X509_STORE_add_cert failed");

	pem = pki_pem(&f->root.cert, 1, &len);
	if (meshca_bundle_parse(pem, len, "example.org", &b, &err) != MESHCA_OK)
		bench_die("meshca_bundle_parse: %s", err.message);
	free(pem);
	if (meshca_verifier_new(&f->v, &err) != MESHCA_OK ||
	    meshca_verifier_set_bundle(f->v, b, &err) != MESHCA_OK)
		bench_die("verifier: %s", err.message);
	meshca_bundle_free(b);
}

static void
fixture_free(struct fixture *f)
{
	meshca_verifier_free(f->v);
	X509_STORE_free(f->store);
	sk_X509_free(f->untrusted);
	pki_cert_clear(&f->leaf);
	pki_cert_clear(&f->inter);
	pki_cert_clear(&f->root);
}

static void
run_meshca(struct fixture *f, long n)
{
	struct meshca_error err;
	struct meshca_id *peer;

	while (n-- > 0) {
		peer = NULL;
		if (meshca_verify_chain_x509(f->v, f->leaf.cert, f->untrusted,
			&peer, &err) != MESHCA_OK)
			bench_die("meshca_verify_chain_x509: %s", err.message);
		meshca_id_free(peer);
	}
}

static void
run_openssl(struct fixture *f, long n)
{
	X509_STORE_CTX *ctx;

	while (n-- > 0) {
		if ((ctx = X509_STORE_CTX_new()) == NULL ||
		    X509_STORE_CTX_init(ctx, f->store, f->leaf.cert,
			f->untrusted) != 1)
			bench_die("X509_STORE_CTX_init failed");
		if (X509_verify_cert(ctx) != 1)
			bench_die("X509_verify_cert: %s",
			    X509_verify_cert_error_string(
				X509_STORE_CTX_get_error(ctx)));
		X509_STORE_CTX_free(ctx);
	}
}

/* CPU seconds per iteration over n iterations of one variant. */
static double
timed(void (*fn)(struct fixture *, long), struct fixture *f, long n)
{
	double t0 = bench_cpu_now();

	fn(f, n);
	return (bench_cpu_now() - t0) / (double)n;
}

int
main(int argc, char *argv[])
{
	static const struct bench_opts defaults = { false, 41, 0.15 };
	double ratio[BENCH_ROUNDS_MAX], rate_m[BENCH_ROUNDS_MAX],
	    rate_o[BENCH_ROUNDS_MAX];
	struct bench_opts o;
	struct fixture f;
	double tm, to;
	long n;
	int r;

	bench_parse_args(argc, argv, &defaults, &o);
	fixture_init(&f);

	/* Both sides must really verify: the leaf alone has no path. */
	if (meshca_verify_chain_x509(f.v, f.leaf.cert, NULL, NULL, NULL) ==
	    MESHCA_OK)
		bench_die("meshca accepted a leaf without its intermediate");

	/* Warm up both, and size a block from the OpenSSL variant. */
	run_meshca(&f, 20);
	to = timed(run_openssl, &f, 50);
	n = (long)(o.block / to);
	if (n < 10)
		n = 10;

	for (r = 0; r < o.rounds; r++) {
		if (r % 2 == 0) {
			tm = timed(run_meshca, &f, n);
			to = timed(run_openssl, &f, n);
		} else {
			to = timed(run_openssl, &f, n);
			tm = timed(run_meshca, &f, n);
		}
		ratio[r] = tm / to;
		rate_m[r] = 1 / tm;
		rate_o[r] = 1 / to;
	}
	bench_report("verify.chain_vs_openssl", ratio, o.rounds, "ratio");
	bench_report("verify.chain_rate_meshca", rate_m, o.rounds, "chains/s");
	bench_report("verify.chain_rate_openssl", rate_o, o.rounds, "chains/s");
	fixture_free(&f);
	return 0;
}
