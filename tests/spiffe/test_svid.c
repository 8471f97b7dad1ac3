/*
 * test_svid.c: X.509-SVID verification (spiffe/svid.c) against chains
 * built at run time by tests/helpers/pki.c: every rule of X509-SVID.md
 * with a passing and a failing case, RFC 5280 path validation through
 * OpenSSL (signatures, validity, path length, name constraints, unknown
 * critical extensions, CRLs), trust-domain binding of roots, the PEM
 * reader's limits, and bundle reloads racing verifications.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include <meshca/bundle.h>
#include <meshca/openssl.h>
#include <meshca/svid.h>

#include "tests/helpers/pki.h"

#define TD "cluster.local"
#define TD2 "other.example"
#define ID_A "spiffe://cluster.local/ns/default/sa/reviews"
#define ID_B "spiffe://other.example/ns/default/sa/ratings"

struct fx {
	struct pki_cert root;	/* TD */
	struct pki_cert inter;	/* TD, under root */
	struct pki_cert root2;	/* TD2 */
	struct pki_cert rogue;	/* in no bundle */
	struct meshca_bundle *bundle; /* root (TD) + root2 (TD2) */
	struct meshca_bundle *bundle1; /* root (TD) only */
	struct meshca_verifier *v;
};

static struct fx F;

static struct meshca_bundle *
bundle_of(X509 *x, const char *td)
{
	struct meshca_bundle *b = NULL;
	struct meshca_error err;
	size_t len;
	char *pem = pki_pem(&x, 1, &len);

	if (meshca_bundle_parse(pem, len, td, &b, &err) != MESHCA_OK) {
		fprintf(stderr, "bundle: %s\n", err.message);
		exit(99);
	}
	free(pem);
	return b;
}

static int
group_setup(void **state)
{
	struct meshca_bundle *b2;

	(void)state;
	pki_root(TD, &F.root);
	pki_intermediate(TD, &F.root, &F.inter);
	pki_root(TD2, &F.root2);
	pki_root(TD, &F.rogue);
	F.bundle1 = bundle_of(F.root.cert, TD);
	b2 = bundle_of(F.root2.cert, TD2);
	if (meshca_bundle_merge(F.bundle1, b2, &F.bundle, NULL) != MESHCA_OK)
		exit(99);
	meshca_bundle_free(b2);
	return 0;
}

static int
group_teardown(void **state)
{
	(void)state;
	pki_cert_clear(&F.root);
	pki_cert_clear(&F.inter);
	pki_cert_clear(&F.root2);
	pki_cert_clear(&F.rogue);
	meshca_bundle_free(F.bundle);
	meshca_bundle_free(F.bundle1);
	return 0;
}

/* A fresh verifier over the two-domain bundle for every test. */
static int
setup(void **state)
{
	(void)state;
	assert_int_equal(meshca_verifier_new(&F.v, NULL), MESHCA_OK);
	assert_int_equal(meshca_verifier_set_bundle(F.v, F.bundle, NULL),
	    MESHCA_OK);
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	meshca_verifier_free(F.v);
	F.v = NULL;
	return 0;
}

/* Verifies the n certificates (leaf first) as PEM; returns the status
 * and fills err. On success checks the peer ID is want_id (if given). */
static enum meshca_status
verify_certs(X509 *const *certs, size_t n, const char *want_id,
    struct meshca_error *err)
{
	struct meshca_id *peer = NULL;
	enum meshca_status st;
	size_t len;
	char *pem = pki_pem(certs, n, &len);

	memset(err, 0, sizeof(*err));
	st = meshca_verify_chain_pem(F.v, pem, len, &peer, err);
	free(pem);
	if (st == MESHCA_OK) {
		assert_non_null(peer);
		if (want_id != NULL)
			assert_string_equal(meshca_id_get0_string(peer),
			    want_id);
	} else
		assert_null(peer);
	meshca_id_free(peer);
	return st;
}

static void
expect_reject(X509 *const *certs, size_t n, enum meshca_reason reason,
    const char *msg_part)
{
	struct meshca_error err;

	assert_int_equal(verify_certs(certs, n, NULL, &err),
	    MESHCA_ERR_REJECTED);
	if (err.reason != reason || (msg_part != NULL &&
	    strstr(err.message, msg_part) == NULL))
		fail_msg("want reason %d \"%s\", got %d \"%s\"", reason,
		    msg_part != NULL ? msg_part : "", err.reason, err.message);
}

static void
expect_ok(X509 *const *certs, size_t n, const char *id)
{
	struct meshca_error err;

	if (verify_certs(certs, n, id, &err) != MESHCA_OK)
		fail_msg("want OK, got \"%s\"", err.message);
}

/* A leaf under issuer with options tweaked by the caller. */
static void
leaf_opts(struct pki_opts *o, const char *id)
{
	memset(o, 0, sizeof(*o));
	o->cn = "";
	o->san_critical = 1;
	o->uris[0] = id;
}

static void
test_good_chains(void **state)
{
	struct pki_cert leaf, leaf2, i2;

	(void)state;
	pki_leaf(ID_A, &F.root, &leaf);
	expect_ok((X509 *[]){ leaf.cert }, 1, ID_A);
	/* The root itself may travel in the chain. */
	expect_ok((X509 *[]){ leaf.cert, F.root.cert }, 2, ID_A);
	pki_cert_clear(&leaf);

	pki_leaf(ID_A, &F.inter, &leaf);
	expect_ok((X509 *[]){ leaf.cert, F.inter.cert }, 2, ID_A);
	/* Without the intermediate there is no path. */
	expect_reject((X509 *[]){ leaf.cert }, 1, MESHCA_REASON_UNTRUSTED,
	    "leaf: RFC 5280");
	pki_cert_clear(&leaf);

	/* Two intermediates given in the wrong order. */
	pki_intermediate(TD, &F.inter, &i2);
	pki_leaf(ID_A, &i2, &leaf);
	expect_ok((X509 *[]){ leaf.cert, F.inter.cert, i2.cert }, 3, ID_A);
	expect_ok((X509 *[]){ leaf.cert, i2.cert, F.inter.cert }, 3, ID_A);
	pki_cert_clear(&leaf);
	pki_cert_clear(&i2);

	/* The second trust domain of a federated bundle. */
	pki_leaf(ID_B, &F.root2, &leaf2);
	expect_ok((X509 *[]){ leaf2.cert }, 1, ID_B);
	pki_cert_clear(&leaf2);
}

static void
test_key_types(void **state)
{
	static const enum pki_key_type types[] = { PKI_KEY_P256,
	    PKI_KEY_P384, PKI_KEY_RSA2048, PKI_KEY_ED25519 };
	struct pki_opts o;
	struct pki_cert leaf;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		leaf_opts(&o, ID_A);
		o.key_type = types[i];
		if (types[i] == PKI_KEY_RSA2048)
			o.key_usage = "critical,digitalSignature,"
			    "keyEncipherment";
		pki_make(&o, &F.root, &leaf);
		expect_ok((X509 *[]){ leaf.cert }, 1, ID_A);
		pki_cert_clear(&leaf);
	}
}

/* X509-SVID.md 2: exactly one URI SAN; other SAN types are fine. */
static void
test_uri_sans(void **state)
{
	struct pki_opts o;
	struct pki_cert leaf;

	(void)state;
	leaf_opts(&o, NULL);
	o.dns[0] = "reviews.default.svc";
	pki_make(&o, &F.root, &leaf);
	expect_reject((X509 *[]){ leaf.cert }, 1, MESHCA_REASON_NO_URI_SAN,
	    "leaf: X509-SVID 2: no URI SAN");
	pki_cert_clear(&leaf);

	o.cn = "";
	o.dns[0] = NULL;
	o.san_critical = 0;
	o.cn = "no san at all";
	pki_make(&o, &F.root, &leaf);
	expect_reject((X509 *[]){ leaf.cert }, 1, MESHCA_REASON_NO_URI_SAN,
	    NULL);
	pki_cert_clear(&leaf);

	leaf_opts(&o, ID_A);
	o.uris[1] = "spiffe://cluster.local/ns/default/sa/other";
	pki_make(&o, &F.root, &leaf);
	expect_reject((X509 *[]){ leaf.cert }, 1,
	    MESHCA_REASON_MULTIPLE_URI_SANS, "2 URI SANs");
	pki_cert_clear(&leaf);

	leaf_opts(&o, ID_A);
	o.uris[1] = "https://example.com/";
	pki_make(&o, &F.root, &leaf);
	expect_reject((X509 *[]){ leaf.cert }, 1,
	    MESHCA_REASON_MULTIPLE_URI_SANS, NULL);
	pki_cert_clear(&leaf);

	leaf_opts(&o, ID_A);
	o.dns[0] = "reviews.default.svc";
	pki_make(&o, &F.root, &leaf);
	expect_ok((X509 *[]){ leaf.cert }, 1, ID_A);
	pki_cert_clear(&leaf);

	/* X509-SVID.md 3.1: no subject needs a critical SAN extension. */
	leaf_opts(&o, ID_A);
	o.san_critical = 0;
	pki_make(&o, &F.root, &leaf);
	expect_reject((X509 *[]){ leaf.cert }, 1, MESHCA_REASON_PATH,
	    "leaf: X509-SVID 3.1: empty subject and a non-critical "
	    "subjectAltName");
	pki_cert_clear(&leaf);
	o.cn = "reviews";
	pki_make(&o, &F.root, &leaf);
	expect_ok((X509 *[]){ leaf.cert }, 1, ID_A);
	pki_cert_clear(&leaf);
}

/* X509-SVID.md 5.2: scheme spiffe, non-root path. */
static void
test_id_rules(void **state)
{
	static const char *bad[] = { "https://cluster.local/ns/a/sa/b",
	    "spiffe://Cluster.Local/ns/a", "spiffe://cluster.local/a//b",
	    "spiffe://cluster.local/a/", "spiffe://cluster.local:80/a",
	    "SPIFFE://cluster.local/a" };
	struct pki_opts o;
	struct pki_cert leaf;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		leaf_opts(&o, bad[i]);
		pki_make(&o, &F.root, &leaf);
		expect_reject((X509 *[]){ leaf.cert }, 1,
		    MESHCA_REASON_ID_INVALID, "leaf: X509-SVID 2: URI SAN");
		pki_cert_clear(&leaf);
	}
	/* A hostile URI does not put control bytes into the message. */
	leaf_opts(&o, "spiffe://cluster.local/a\x1b[31m");
	pki_make(&o, &F.root, &leaf);
	{
		struct meshca_error err;
		size_t j;

		assert_int_equal(verify_certs((X509 *[]){ leaf.cert }, 1,
		    NULL, &err), MESHCA_ERR_REJECTED);
		assert_int_equal(err.reason, MESHCA_REASON_ID_INVALID);
		for (j = 0; err.message[j] != '\0'; j++)
			assert_true((unsigned char)err.message[j] >= 0x20 &&
			    err.message[j] != 0x7f);
	}
	pki_cert_clear(&leaf);

	leaf_opts(&o, "spiffe://cluster.local");
	pki_make(&o, &F.root, &leaf);
	expect_reject((X509 *[]){ leaf.cert }, 1,
	    MESHCA_REASON_ID_NOT_WORKLOAD, "X509-SVID 3.1");
	pki_cert_clear(&leaf);
}

/* X509-SVID.md 4.1: leaf CA:false (an absent extension means false). */
static void
test_leaf_ca(void **state)
{
	struct pki_opts o;
	struct pki_cert leaf;

	(void)state;
	leaf_opts(&o, ID_A);
	o.basic_constraints = "critical,CA:TRUE";
	pki_make(&o, &F.root, &leaf);
	expect_reject((X509 *[]){ leaf.cert }, 1, MESHCA_REASON_LEAF_IS_CA,
	    "leaf: X509-SVID 4.1: basicConstraints CA:true");
	pki_cert_clear(&leaf);

	leaf_opts(&o, ID_A);
	o.basic_constraints = "none";
	pki_make(&o, &F.root, &leaf);
	expect_ok((X509 *[]){ leaf.cert }, 1, ID_A);
	pki_cert_clear(&leaf);
}

/* X509-SVID.md 4.3 on the leaf. */
static void
test_leaf_key_usage(void **state)
{
	static const struct {
		const char *ku;
		const char *msg;
	} bad[] = {
		{ "none", "leaf: X509-SVID 4.3: keyUsage missing" },
		{ "digitalSignature", "leaf: X509-SVID 4.3: keyUsage not "
		    "critical" },
		{ "critical,digitalSignature,keyCertSign",
		    "leaf: X509-SVID 4.3: keyCertSign set" },
		{ "critical,digitalSignature,cRLSign",
		    "leaf: X509-SVID 4.3: cRLSign set" },
		{ "critical,keyEncipherment",
		    "leaf: X509-SVID 4.3: digitalSignature not set" },
	};
	struct pki_opts o;
	struct pki_cert leaf;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		leaf_opts(&o, ID_A);
		o.key_usage = bad[i].ku;
		pki_make(&o, &F.root, &leaf);
		expect_reject((X509 *[]){ leaf.cert }, 1,
		    MESHCA_REASON_KEY_USAGE, bad[i].msg);
		pki_cert_clear(&leaf);
	}
	leaf_opts(&o, ID_A);
	o.key_usage = "critical,digitalSignature,keyAgreement";
	pki_make(&o, &F.root, &leaf);
	expect_ok((X509 *[]){ leaf.cert }, 1, ID_A);
	pki_cert_clear(&leaf);
}

/* X509-SVID.md 4.4: EKU optional, but when present both TLS purposes. */
static void
test_leaf_eku(void **state)
{
	static const char *bad[] = { "serverAuth", "clientAuth",
	    "anyExtendedKeyUsage", "codeSigning" };
	struct pki_opts o;
	struct pki_cert leaf;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		leaf_opts(&o, ID_A);
		o.ext_key_usage = bad[i];
		pki_make(&o, &F.root, &leaf);
		expect_reject((X509 *[]){ leaf.cert }, 1,
		    MESHCA_REASON_EXT_KEY_USAGE, "leaf: X509-SVID 4.4");
		pki_cert_clear(&leaf);
	}
	leaf_opts(&o, ID_A);
	o.ext_key_usage = "none";
	pki_make(&o, &F.root, &leaf);
	expect_ok((X509 *[]){ leaf.cert }, 1, ID_A);
	pki_cert_clear(&leaf);

	leaf_opts(&o, ID_A);
	o.ext_key_usage = "critical,clientAuth,serverAuth,codeSigning";
	pki_make(&o, &F.root, &leaf);
	expect_ok((X509 *[]){ leaf.cert }, 1, ID_A);
	pki_cert_clear(&leaf);
}

/* X509-SVID.md 3.2, 4.1, 4.3 on the signing certificates. */
static void
test_signing_certs(void **state)
{
	static const struct {
		const char *bc;
		const char *ku;
		const char *msg;
	} bad[] = {
		{ "critical,CA:FALSE", NULL, NULL },
		{ "none", NULL, NULL },
		{ NULL, "critical,cRLSign", NULL },
		{ NULL, "keyCertSign,cRLSign", "cert 1: X509-SVID 4.3: "
		    "keyUsage not critical" },
		{ NULL, "none", "cert 1: X509-SVID 4.3: keyUsage missing" },
	};
	struct pki_opts o;
	struct pki_cert inter, leaf;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memset(&o, 0, sizeof(o));
		o.ca = 1;
		o.cn = "bad intermediate";
		o.basic_constraints = bad[i].bc;
		o.key_usage = bad[i].ku;
		pki_make(&o, &F.root, &inter);
		pki_leaf(ID_A, &inter, &leaf);
		expect_reject((X509 *[]){ leaf.cert, inter.cert }, 2,
		    MESHCA_REASON_SIGNING_CERT, bad[i].msg);
		pki_cert_clear(&leaf);
		pki_cert_clear(&inter);
	}

	/* X509-SVID.md 3.2: a signing certificate's SPIFFE ID has no
	 * path; other URIs are not SPIFFE IDs and do not matter. */
	memset(&o, 0, sizeof(o));
	o.ca = 1;
	o.uris[0] = "spiffe://cluster.local/ns/ca";
	pki_make(&o, &F.root, &inter);
	pki_leaf(ID_A, &inter, &leaf);
	expect_reject((X509 *[]){ leaf.cert, inter.cert }, 2,
	    MESHCA_REASON_SIGNING_CERT, "cert 1: X509-SVID 3.2: signing "
	    "certificate's SPIFFE ID has a path");
	pki_cert_clear(&leaf);
	pki_cert_clear(&inter);
	o.uris[0] = "https://ca.example/ns/ca";
	pki_make(&o, &F.root, &inter);
	pki_leaf(ID_A, &inter, &leaf);
	expect_ok((X509 *[]){ leaf.cert, inter.cert }, 2, ID_A);
	pki_cert_clear(&leaf);
	pki_cert_clear(&inter);
}

static void
test_untrusted(void **state)
{
	struct pki_cert leaf, fake;
	struct pki_opts o;

	(void)state;
	/* A root with the same name but another key. */
	pki_leaf(ID_A, &F.rogue, &leaf);
	expect_reject((X509 *[]){ leaf.cert }, 1, MESHCA_REASON_UNTRUSTED,
	    NULL);
	expect_reject((X509 *[]){ leaf.cert, F.rogue.cert }, 2,
	    MESHCA_REASON_UNTRUSTED, NULL);
	pki_cert_clear(&leaf);

	/* A trust domain the bundle has no root for. */
	pki_leaf("spiffe://nowhere.example/a", &F.root, &leaf);
	expect_reject((X509 *[]){ leaf.cert }, 1, MESHCA_REASON_UNTRUSTED,
	    "no bundle root for trust domain \"nowhere.example\"");
	pki_cert_clear(&leaf);

	/* A root anchors only its own trust domain: TD's root may not
	 * vouch for an ID of TD2. */
	pki_leaf(ID_B, &F.root, &leaf);
	expect_reject((X509 *[]){ leaf.cert }, 1, MESHCA_REASON_UNTRUSTED,
	    NULL);
	pki_cert_clear(&leaf);

	/* Self-signed leaf. */
	leaf_opts(&o, ID_A);
	pki_make(&o, NULL, &fake);
	expect_reject((X509 *[]){ fake.cert }, 1, MESHCA_REASON_UNTRUSTED,
	    NULL);
	pki_cert_clear(&fake);
}

static void
test_trust_domain(void **state)
{
	struct pki_cert leaf;
	struct meshca_error err;

	(void)state;
	pki_leaf(ID_B, &F.root2, &leaf);
	expect_ok((X509 *[]){ leaf.cert }, 1, ID_B);
	assert_int_equal(meshca_verifier_set_trust_domain(F.v, TD, NULL),
	    MESHCA_OK);
	expect_reject((X509 *[]){ leaf.cert }, 1, MESHCA_REASON_TRUST_DOMAIN,
	    "leaf: trust domain \"other.example\" is not the required "
	    "\"cluster.local\"");
	assert_int_equal(meshca_verifier_set_trust_domain(F.v, "Bad..TD",
	    &err), MESHCA_ERR_PARSE);
	/* The failed call left the requirement as it was. */
	expect_reject((X509 *[]){ leaf.cert }, 1, MESHCA_REASON_TRUST_DOMAIN,
	    NULL);
	assert_int_equal(meshca_verifier_set_trust_domain(F.v, NULL, NULL),
	    MESHCA_OK);
	expect_ok((X509 *[]){ leaf.cert }, 1, ID_B);
	pki_cert_clear(&leaf);
}

static void
test_validity(void **state)
{
	struct pki_opts o;
	struct pki_cert leaf;
	time_t now = time(NULL);

	(void)state;
	leaf_opts(&o, ID_A);
	o.not_before = now - 3000;
	o.not_after = now - 600;
	pki_make(&o, &F.root, &leaf);
	expect_reject((X509 *[]){ leaf.cert }, 1, MESHCA_REASON_EXPIRED,
	    "leaf: RFC 5280 6.1: certificate has expired");
	/* At a time inside its validity (and the root's) it passes. */
	assert_int_equal(meshca_verifier_set_time(F.v, now - 1200, NULL),
	    MESHCA_OK);
	expect_ok((X509 *[]){ leaf.cert }, 1, ID_A);
	assert_int_equal(meshca_verifier_set_time(F.v, 0, NULL), MESHCA_OK);
	pki_cert_clear(&leaf);

	leaf_opts(&o, ID_A);
	o.not_before = now + 3600;
	o.not_after = now + 7200;
	pki_make(&o, &F.root, &leaf);
	expect_reject((X509 *[]){ leaf.cert }, 1,
	    MESHCA_REASON_NOT_YET_VALID, NULL);
	pki_cert_clear(&leaf);

	/* A valid leaf checked at a time after its end. */
	pki_leaf(ID_A, &F.root, &leaf);
	assert_int_equal(meshca_verifier_set_time(F.v, now + 2 * 86400,
	    NULL), MESHCA_OK);
	expect_reject((X509 *[]){ leaf.cert }, 1, MESHCA_REASON_EXPIRED,
	    NULL);
	assert_int_equal(meshca_verifier_set_time(F.v, -1, NULL),
	    MESHCA_ERR_USAGE);
	pki_cert_clear(&leaf);
}

/* An expired intermediate is named by its depth. */
static void
test_expired_intermediate(void **state)
{
	struct pki_opts o;
	struct pki_cert inter, leaf;
	time_t now = time(NULL);

	(void)state;
	memset(&o, 0, sizeof(o));
	o.ca = 1;
	o.not_before = now - 7200;
	o.not_after = now - 60;
	pki_make(&o, &F.root, &inter);
	pki_leaf(ID_A, &inter, &leaf);
	expect_reject((X509 *[]){ leaf.cert, inter.cert }, 2,
	    MESHCA_REASON_EXPIRED, "cert 1: RFC 5280 6.1");
	pki_cert_clear(&leaf);
	pki_cert_clear(&inter);
}

/* RFC 5280 4.2.1.9 path length, 4.2.1.10 name constraints, and 4.2
 * unknown critical extensions. */
static void
test_rfc5280(void **state)
{
	struct pki_opts o;
	struct pki_cert i1, i2, leaf;

	(void)state;
	memset(&o, 0, sizeof(o));
	o.ca = 1;
	o.basic_constraints = "critical,CA:TRUE,pathlen:0";
	pki_make(&o, &F.root, &i1);
	pki_intermediate(TD, &i1, &i2);
	pki_leaf(ID_A, &i2, &leaf);
	expect_reject((X509 *[]){ leaf.cert, i2.cert, i1.cert }, 3,
	    MESHCA_REASON_PATH, "path length constraint exceeded");
	pki_cert_clear(&leaf);
	/* pathlen:0 still allows a leaf right below. */
	pki_leaf(ID_A, &i1, &leaf);
	expect_ok((X509 *[]){ leaf.cert, i1.cert }, 2, ID_A);
	pki_cert_clear(&leaf);
	pki_cert_clear(&i1);
	pki_cert_clear(&i2);

	memset(&o, 0, sizeof(o));
	o.ca = 1;
	o.name_constraints = "critical,permitted;URI:cluster.local";
	pki_make(&o, &F.root, &i1);
	pki_leaf(ID_A, &i1, &leaf);
	expect_ok((X509 *[]){ leaf.cert, i1.cert }, 2, ID_A);
	pki_cert_clear(&leaf);
	pki_cert_clear(&i1);
	o.name_constraints = "critical,permitted;URI:payments.cluster.local";
	pki_make(&o, &F.root, &i1);
	pki_leaf(ID_A, &i1, &leaf);
	expect_reject((X509 *[]){ leaf.cert, i1.cert }, 2,
	    MESHCA_REASON_PATH, "permitted subtree violation");
	pki_cert_clear(&leaf);
	pki_cert_clear(&i1);

	leaf_opts(&o, ID_A);
	o.unknown_critical_oid = "1.3.6.1.4.1.55555.1";
	pki_make(&o, &F.root, &leaf);
	expect_reject((X509 *[]){ leaf.cert }, 1, MESHCA_REASON_PATH,
	    "unhandled critical extension");
	pki_cert_clear(&leaf);
}

/* A leaf whose signature does not verify under the named issuer. */
static void
test_bad_signature(void **state)
{
	struct pki_cert leaf;
	unsigned char *der = NULL, *p;
	const unsigned char *q;
	X509 *x;
	int len;

	(void)state;
	pki_leaf(ID_A, &F.root, &leaf);
	len = i2d_X509(leaf.cert, &der);
	assert_true(len > 10);
	/* Flip a bit in the signature value, the last byte. */
	der[len - 1] ^= 1;
	q = p = der;
	x = d2i_X509(NULL, &q, len);
	assert_non_null(x);
	expect_reject((X509 *[]){ x }, 1, MESHCA_REASON_UNTRUSTED,
	    "signature");
	X509_free(x);
	OPENSSL_free(p);
	pki_cert_clear(&leaf);
}

static void
set_crls(X509_CRL *const *crls, size_t n)
{
	struct meshca_error err;
	size_t len;
	char *pem = pki_crl_pem(crls, n, &len);

	if (meshca_verifier_set_crls_pem(F.v, pem, len, &err) != MESHCA_OK)
		fail_msg("set_crls: %s", err.message);
	free(pem);
}

static void
test_crl(void **state)
{
	struct pki_cert leaf, good;
	X509_CRL *crl_root, *crl_inter, *crl_old;
	time_t now = time(NULL);
	struct meshca_error err;

	(void)state;
	pki_leaf(ID_A, &F.inter, &leaf);
	pki_leaf(ID_A, &F.inter, &good);
	crl_root = pki_crl(&F.root, NULL, 0, 0, 0);
	crl_inter = pki_crl(&F.inter, (X509 *[]){ leaf.cert }, 1, 0, 0);
	crl_old = pki_crl(&F.inter, NULL, 0, now - 7200, now - 3600);

	set_crls((X509_CRL *[]){ crl_root, crl_inter }, 2);
	expect_reject((X509 *[]){ leaf.cert, F.inter.cert }, 2,
	    MESHCA_REASON_REVOKED, "leaf: RFC 5280 6.1: certificate revoked");
	expect_ok((X509 *[]){ good.cert, F.inter.cert }, 2, ID_A);

	/* Every certificate below the root needs a current CRL. */
	set_crls((X509_CRL *[]){ crl_root }, 1);
	expect_reject((X509 *[]){ good.cert, F.inter.cert }, 2,
	    MESHCA_REASON_CRL, "unable to get certificate CRL");
	set_crls((X509_CRL *[]){ crl_root, crl_old }, 2);
	expect_reject((X509 *[]){ good.cert, F.inter.cert }, 2,
	    MESHCA_REASON_CRL, "CRL has expired");

	/* Turning the check off. */
	assert_int_equal(meshca_verifier_set_crls_pem(F.v, NULL, 0, NULL),
	    MESHCA_OK);
	expect_ok((X509 *[]){ leaf.cert, F.inter.cert }, 2, ID_A);

	/* Bad CRL input is refused and changes nothing. */
	assert_int_equal(meshca_verifier_set_crls_pem(F.v, "junk", 4, &err),
	    MESHCA_ERR_PARSE);
	assert_non_null(strstr(err.message, "no \"X509 CRL\" PEM block"));
	assert_int_equal(meshca_verifier_set_crls_pem(F.v,
	    "-----BEGIN X509 CRL-----\nAAAA\n-----END X509 CRL-----\n", 50,
	    &err), MESHCA_ERR_PARSE);
	expect_ok((X509 *[]){ leaf.cert, F.inter.cert }, 2, ID_A);

	X509_CRL_free(crl_root);
	X509_CRL_free(crl_inter);
	X509_CRL_free(crl_old);
	pki_cert_clear(&leaf);
	pki_cert_clear(&good);
}

static void
test_crl_file(void **state)
{
	struct pki_cert leaf;
	X509_CRL *crls[2];
	struct meshca_error err;
	char path[] = "/tmp/test_svid_crlXXXXXX";
	size_t len;
	char *pem;
	int fd;

	(void)state;
	pki_leaf(ID_A, &F.root, &leaf);
	crls[0] = pki_crl(&F.root, (X509 *[]){ leaf.cert }, 1, 0, 0);
	pem = pki_crl_pem(crls, 1, &len);
	assert_true((fd = mkstemp(path)) != -1);
	close(fd);
	pki_write_file(path, pem, len);
	assert_int_equal(meshca_verifier_load_crl_file(F.v, path, &err),
	    MESHCA_OK);
	expect_reject((X509 *[]){ leaf.cert }, 1, MESHCA_REASON_REVOKED,
	    NULL);
	unlink(path);
	assert_int_equal(meshca_verifier_load_crl_file(F.v, path, &err),
	    MESHCA_ERR_IO);
	free(pem);
	X509_CRL_free(crls[0]);
	pki_cert_clear(&leaf);
}

static void
test_pem_input(void **state)
{
	struct meshca_error err;
	struct pki_cert leaf;
	X509 *many[MESHCA_CHAIN_CERTS_MAX + 1];
	char *pem;
	size_t len, i;

	(void)state;
	assert_int_equal(meshca_verify_chain_pem(F.v, "", 0, NULL, &err),
	    MESHCA_ERR_PARSE);
	assert_string_equal(err.message,
	    "chain: RFC 7468: no CERTIFICATE PEM block");
	assert_int_equal(meshca_verify_chain_pem(F.v, "hello", 5, NULL, &err),
	    MESHCA_ERR_PARSE);
	assert_int_equal(meshca_verify_chain_pem(NULL, "x", 1, NULL, &err),
	    MESHCA_ERR_USAGE);
	assert_int_equal(meshca_verify_chain_pem(F.v, NULL, 1, NULL, &err),
	    MESHCA_ERR_USAGE);
	assert_int_equal(meshca_verify_chain_pem(F.v, "x",
	    MESHCA_CHAIN_MAX + 1, NULL, &err), MESHCA_ERR_PARSE);

	pki_leaf(ID_A, &F.root, &leaf);
	pem = pki_pem(&leaf.cert, 1, &len);
	/* Truncated in the middle of the base64. */
	assert_int_equal(meshca_verify_chain_pem(F.v, pem, len / 2, NULL,
	    &err), MESHCA_ERR_PARSE);
	/* Good leaf, then a broken second block. */
	{
		char buf[8192];
		int n = snprintf(buf, sizeof(buf), "%s-----BEGIN CERTIFICATE-"
		    "----\nZm9v\n-----END CERTIFICATE-----\n", pem);

		assert_int_equal(meshca_verify_chain_pem(F.v, buf, (size_t)n,
		    NULL, &err), MESHCA_ERR_PARSE);
		assert_string_equal(err.message,
		    "cert 1: RFC 7468: not a well-formed CERTIFICATE");
	}
	/* Exactly the length given is read: no NUL is needed. */
	assert_int_equal(meshca_verify_chain_pem(F.v, pem, len, NULL, &err),
	    MESHCA_OK);
	free(pem);

	for (i = 0; i <= MESHCA_CHAIN_CERTS_MAX; i++)
		many[i] = leaf.cert;
	pem = pki_pem(many, MESHCA_CHAIN_CERTS_MAX + 1, &len);
	assert_int_equal(meshca_verify_chain_pem(F.v, pem, len, NULL, &err),
	    MESHCA_ERR_PARSE);
	assert_non_null(strstr(err.message, "more than 16 certificates"));
	free(pem);
	pem = pki_pem(many, MESHCA_CHAIN_CERTS_MAX, &len);
	assert_int_equal(meshca_verify_chain_pem(F.v, pem, len, NULL, &err),
	    MESHCA_OK);
	free(pem);
	pki_cert_clear(&leaf);
}

static void
test_x509_api(void **state)
{
	struct pki_cert leaf;
	struct meshca_id *peer = NULL;
	STACK_OF(X509) *sk = sk_X509_new_null();

	(void)state;
	pki_leaf(ID_A, &F.inter, &leaf);
	assert_int_equal(meshca_verify_chain_x509(F.v, leaf.cert, NULL, NULL,
	    NULL), MESHCA_ERR_REJECTED);
	sk_X509_push(sk, F.inter.cert);
	assert_int_equal(meshca_verify_chain_x509(F.v, leaf.cert, sk, &peer,
	    NULL), MESHCA_OK);
	assert_string_equal(meshca_id_get0_string(peer), ID_A);
	meshca_id_free(peer);
	assert_int_equal(meshca_verify_chain_x509(F.v, NULL, sk, NULL, NULL),
	    MESHCA_ERR_USAGE);
	sk_X509_free(sk);
	pki_cert_clear(&leaf);
}

static void
test_no_bundle_and_refs(void **state)
{
	struct meshca_verifier *v2, *ref;
	struct meshca_bundle *b;
	struct pki_cert leaf;
	struct meshca_error err;
	size_t len;
	char *pem;

	(void)state;
	pki_leaf(ID_A, &F.root, &leaf);
	pem = pki_pem(&leaf.cert, 1, &len);
	assert_int_equal(meshca_verifier_new(&v2, NULL), MESHCA_OK);
	assert_int_equal(meshca_verify_chain_pem(v2, pem, len, NULL, &err),
	    MESHCA_ERR_REJECTED);
	assert_int_equal(err.reason, MESHCA_REASON_UNTRUSTED);

	/* The verifier keeps its own reference to the bundle. */
	b = bundle_of(F.root.cert, TD);
	assert_int_equal(meshca_verifier_set_bundle(v2, b, NULL), MESHCA_OK);
	meshca_bundle_free(b);
	assert_int_equal(meshca_verify_chain_pem(v2, pem, len, NULL, NULL),
	    MESHCA_OK);
	/* A second reference outlives the first. */
	ref = meshca_verifier_up_ref(v2);
	meshca_verifier_free(v2);
	assert_int_equal(meshca_verify_chain_pem(ref, pem, len, NULL, NULL),
	    MESHCA_OK);
	assert_int_equal(meshca_verifier_set_bundle(ref, NULL, NULL),
	    MESHCA_OK);
	assert_int_equal(meshca_verify_chain_pem(ref, pem, len, NULL, NULL),
	    MESHCA_ERR_REJECTED);
	meshca_verifier_free(ref);
	meshca_verifier_free(NULL);
	assert_int_equal(meshca_verifier_new(NULL, NULL), MESHCA_ERR_USAGE);
	assert_int_equal(meshca_verifier_set_bundle(NULL, NULL, NULL),
	    MESHCA_ERR_USAGE);
	free(pem);
	pki_cert_clear(&leaf);
}

static void
test_load_bundle_file(void **state)
{
	char path[] = "/tmp/test_svid_bundleXXXXXX";
	struct pki_cert leaf;
	struct meshca_error err;
	char *pem;
	size_t len;
	int fd;

	(void)state;
	pki_leaf(ID_A, &F.root, &leaf);
	assert_int_equal(meshca_verifier_set_bundle(F.v, NULL, NULL),
	    MESHCA_OK);
	expect_reject((X509 *[]){ leaf.cert }, 1, MESHCA_REASON_UNTRUSTED,
	    NULL);
	pem = pki_pem(&F.root.cert, 1, &len);
	assert_true((fd = mkstemp(path)) != -1);
	close(fd);
	pki_write_file(path, pem, len);
	assert_int_equal(meshca_verifier_load_bundle_file(F.v, path, TD,
	    &err), MESHCA_OK);
	expect_ok((X509 *[]){ leaf.cert }, 1, ID_A);
	/* A failed load keeps the bundle in place. */
	pki_write_file(path, "junk", 4);
	assert_int_not_equal(meshca_verifier_load_bundle_file(F.v, path, TD,
	    &err), MESHCA_OK);
	expect_ok((X509 *[]){ leaf.cert }, 1, ID_A);
	unlink(path);
	assert_int_equal(meshca_verifier_load_bundle_file(F.v, path, TD,
	    &err), MESHCA_ERR_IO);
	free(pem);
	pki_cert_clear(&leaf);
}

/*
 * Reloads racing verifications: verifier threads check a chain that one
 * bundle trusts and the other does not while the main thread swaps the
 * bundles. Every result must be OK or UNTRUSTED, and both must occur.
 */
struct race {
	char *pem;
	size_t len;
	int rounds;
	int ok;
	int untrusted;
	int other;
};

static atomic_int race_done;

/*
 * Verifications per thread: RACE_ROUNDS, or MC_TEST_ROUNDS from the
 * environment. tools/torture.sh sets a few: every N it fails re-runs
 * the whole race, and the allocation sites are all reached in the first
 * rounds.
 */
#define RACE_ROUNDS 300

static int
race_rounds(void)
{
	const char *s = getenv("MC_TEST_ROUNDS");
	char *end;
	long v;

	if (s == NULL || *s == '\0')
		return RACE_ROUNDS;
	v = strtol(s, &end, 10);
	return *end == '\0' && v > 0 && v <= RACE_ROUNDS ? (int)v :
	    RACE_ROUNDS;
}

static void *
race_thread(void *arg)
{
	struct race *r = arg;
	struct meshca_error err;
	int i;

	for (i = 0; i < r->rounds; i++) {
		switch (meshca_verify_chain_pem(F.v, r->pem, r->len, NULL,
		    &err)) {
		case MESHCA_OK:
			r->ok++;
			break;
		case MESHCA_ERR_REJECTED:
			if (err.reason == MESHCA_REASON_UNTRUSTED) {
				r->untrusted++;
				break;
			}
			/* FALLTHROUGH */
		default:
			r->other++;
		}
	}
	atomic_fetch_add(&race_done, 1);
	return NULL;
}

static void
test_reload_race(void **state)
{
	struct pki_cert leaf;
	struct meshca_bundle *only2;
	struct race r[4];
	pthread_t t[4];
	size_t len;
	char *pem;
	int i, ok = 0, untrusted = 0, swaps = 0, reload_failed = 0;
	int rounds = race_rounds();

	(void)state;
	pki_leaf(ID_A, &F.root, &leaf);
	pem = pki_pem(&leaf.cert, 1, &len);
	only2 = bundle_of(F.root2.cert, TD2);
	memset(r, 0, sizeof(r));
	atomic_store(&race_done, 0);
	for (i = 0; i < 4; i++) {
		r[i].pem = pem;
		r[i].len = len;
		r[i].rounds = rounds;
		assert_int_equal(pthread_create(&t[i], NULL, race_thread,
		    &r[i]), 0);
	}
	/* Swap until every verifier thread is done (bounded: RACE_ROUNDS checks
	 * each), pausing so both bundles are seen. */
	while (atomic_load(&race_done) < 4) {
		if (meshca_verifier_set_bundle(F.v, swaps++ % 2 ? F.bundle :
		    only2, NULL) != MESHCA_OK)
			reload_failed++;
		nanosleep(&(struct timespec){ 0, 200000 }, NULL);
	}
	for (i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	assert_int_equal(reload_failed, 0);
	for (i = 0; i < 4; i++) {
		assert_int_equal(r[i].other, 0);
		ok += r[i].ok;
		untrusted += r[i].untrusted;
	}
	assert_int_equal(ok + untrusted, 4 * rounds);
	print_message("reload race: %d swaps, %d OK, %d untrusted\n", swaps,
	    ok, untrusted);
	/* A short run may see one bundle only. */
	if (rounds >= RACE_ROUNDS) {
		assert_true(ok > 0);
		assert_true(untrusted > 0);
	}
	meshca_bundle_free(only2);
	free(pem);
	pki_cert_clear(&leaf);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_good_chains, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_key_types, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_uri_sans, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_id_rules, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_leaf_ca, setup, teardown),
		cmocka_unit_test_setup_teardown(test_leaf_key_usage, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_leaf_eku, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_signing_certs, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_untrusted, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_trust_domain, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_validity, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_expired_intermediate,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_rfc5280, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_signature, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_crl, setup, teardown),
		cmocka_unit_test_setup_teardown(test_crl_file, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_pem_input, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_x509_api, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_no_bundle_and_refs, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_load_bundle_file, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_reload_race, setup,
		    teardown),
	};

	return cmocka_run_group_tests_name("svid", tests, group_setup,
	    group_teardown);
}
