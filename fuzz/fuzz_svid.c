/*
 * fuzz_svid.c: libFuzzer target for the X.509-SVID verifier
 * (spiffe/svid.c via meshca_verify_chain_pem()): chain bytes in, verdict
 * out, against a fixed bundle (the root below, made by
 * fuzz/corpus/svid-gen.sh) at a fixed time, so a verdict depends on the
 * input alone.
 *
 * The first input byte picks the form of the rest: even, the rest is the
 * PEM document itself; odd, it is a list of DER certificates, each
 * preceded by its length in two bytes (big-endian), which the target
 * wraps in PEM, so that mutations reach into the DER. Bit 1 requires the
 * trust domain example.org.
 *
 * Differential: a chain we accept must also pass plain OpenSSL path
 * validation (X509_verify_cert() with the same root, the same
 * intermediates and the same time), and the peer ID we return must be
 * the leaf's one URI SAN, a valid workload ID of example.org.
 */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include <meshca/meshca.h>
#include <meshca/bundle.h>
#include <meshca/id.h>
#include <meshca/svid.h>

#include "fuzz/fuzz.h"

#define FUZZ_TIME ((time_t)1900000000) /* 2030-03-17, inside validity */
#define FUZZ_TD "example.org"

static const char root_pem[] =
	"-----BEGIN CERTIFICATE-----\n"
	"MIIBozCCAUmgAwIBAgIUUFoBLNs8P5nRYj3FxCEVJTgsBrwwCgYIKoZIzj0EAwIw\n"
	"HjENMAsGA1UECgwEZnV6ejENMAsGA1UEAwwEcm9vdDAgFw0yNjExMjYxNTM4NDBa\n"
	"GA8yMTI2MTEwMjE1Mzg0MFowHjENMAsGA1UECgwEZnV6ejENMAsGA1UEAwwEcm9v\n"
	"dDBZMBMGByqGSM49AgEGCCqGSM49AwEHA0IABGXAs/Uiu/NoQ538jIgFn3WkwkKZ\n"
	"cK1iF4eD0cTvoP/owqSd4raFtRnI8ZuHD+dmMIwyPTriE32Dsb71PV8/xZijYzBh\n"
	"MA8GA1UdEwEB/wQFMAMBAf8wDgYDVR0PAQH/BAQDAgEGMB0GA1UdDgQWBBSF/ttP\n"
	"vaFgWiz2t/d5tJQ/fQbefDAfBgNVHREEGDAWhhRzcGlmZmU6Ly9leGFtcGxlLm9y\n"
	"ZzAKBggqhkjOPQQDAgNIADBFAiB+Q+qi6bDrXkGrFWDZOH7Ngz+E8K+axsUROcbX\n"
	"YqxRKQIhAIluUI5LNFBimu0vOqlzI+ouzluEg6n0FogLKy7idmGt\n"
	"-----END CERTIFICATE-----\n"
	;

static struct meshca_bundle *bundle;
static X509 *root;

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	BIO *bio;

	(void)argc;
	(void)argv;
	/* Under tools/torture.sh these may fail; the runs then go on with
	 * no bundle (every chain untrusted) and still must not crash. */
	if (meshca_bundle_parse(root_pem, sizeof(root_pem) - 1, FUZZ_TD,
	    &bundle, NULL) != MESHCA_OK && !fuzz_injecting())
		abort();
	if (((bio = BIO_new_mem_buf(root_pem, -1)) == NULL ||
	    (root = PEM_read_bio_X509(bio, NULL, NULL, NULL)) == NULL) &&
	    !fuzz_injecting())
		abort();
	BIO_free(bio);
	return 0;
}

/* Wraps length-prefixed DER certificates as PEM; NULL when malformed. */
static char *
der_list_to_pem(const uint8_t *p, size_t n, size_t *outlen)
{
	static const char begin[] = "-----BEGIN CERTIFICATE-----\n";
	static const char end[] = "-----END CERTIFICATE-----\n";
	char *pem, *o;
	size_t len, cap = 0, i;

	for (i = 0; i + 2 <= n; i += 2 + len) {
		len = (size_t)p[i] << 8 | p[i + 1];
		if (len > n - i - 2)
			len = n - i - 2;
		cap += 60 + (len + 2) / 3 * 4 + len / 48 + 2;
	}
	if ((pem = malloc(cap + 1)) == NULL)
		return NULL;
	o = pem;
	for (i = 0; i + 2 <= n; i += 2 + len) {
		size_t j, chunk;

		len = (size_t)p[i] << 8 | p[i + 1];
		if (len > n - i - 2)
			len = n - i - 2;
		memcpy(o, begin, sizeof(begin) - 1);
		o += sizeof(begin) - 1;
		for (j = 0; j < len; j += chunk) {
			chunk = len - j < 48 ? len - j : 48;
			o += EVP_EncodeBlock((unsigned char *)o,
			    p + i + 2 + j, (int)chunk);
			*o++ = '\n';
		}
		memcpy(o, end, sizeof(end) - 1);
		o += sizeof(end) - 1;
	}
	*o = '\0';
	*outlen = (size_t)(o - pem);
	return pem;
}

/* The leaf's URI SANs: exactly one, equal to id. */
static bool
leaf_uri_is(X509 *leaf, const char *id)
{
	GENERAL_NAMES *gens;
	const GENERAL_NAME *g;
	int i, uris = 0;
	bool same = false;

	gens = X509_get_ext_d2i(leaf, NID_subject_alt_name, NULL, NULL);
	for (i = 0; i < sk_GENERAL_NAME_num(gens); i++) {
		g = sk_GENERAL_NAME_value(gens, i);
		if (g->type != GEN_URI)
			continue;
		uris++;
		same = (size_t)ASN1_STRING_length(g->d.uniformResourceIdentifier)
		    == strlen(id) &&
		    memcmp(ASN1_STRING_get0_data(g->d.uniformResourceIdentifier),
		    id, strlen(id)) == 0;
	}
	GENERAL_NAMES_free(gens);
	return uris == 1 && same;
}

/* Plain OpenSSL path validation of the same chain; true if it passes. */
static bool
openssl_accepts(const char *pem, size_t len, const char *id)
{
	BIO *bio = NULL;
	X509_STORE *st = NULL;
	X509_STORE_CTX *ctx = NULL;
	STACK_OF(X509) *untrusted = NULL;
	X509 *leaf = NULL, *x;
	bool ok = false;

	if ((bio = BIO_new_mem_buf(pem, (int)len)) == NULL ||
	    (st = X509_STORE_new()) == NULL || !X509_STORE_add_cert(st, root) ||
	    (untrusted = sk_X509_new_null()) == NULL ||
	    (ctx = X509_STORE_CTX_new()) == NULL)
		goto out;
	leaf = PEM_read_bio_X509(bio, NULL, NULL, NULL);
	while ((x = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL)
		if (!sk_X509_push(untrusted, x))
			X509_free(x);
	if (leaf == NULL || !X509_STORE_CTX_init(ctx, st, leaf, untrusted))
		goto out;
	X509_STORE_CTX_set_time(ctx, 0, FUZZ_TIME);
	ok = X509_verify_cert(ctx) == 1;
	if (ok && !leaf_uri_is(leaf, id)) {
		fprintf(stderr, "peer ID %s is not the leaf's one URI SAN\n",
		    id);
		ok = false;
	}
out:
	ERR_clear_error();
	X509_STORE_CTX_free(ctx);
	sk_X509_pop_free(untrusted, X509_free);
	X509_free(leaf);
	X509_STORE_free(st);
	BIO_free(bio);
	return ok;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct meshca_verifier *v = NULL;
	struct meshca_id *peer = NULL;
	struct meshca_error err;
	enum meshca_status st;
	const char *id;
	char *pem = NULL;
	size_t len = 0;

	if (size < 1)
		return 0;
	if (data[0] & 1) {
		if ((pem = der_list_to_pem(data + 1, size - 1, &len)) == NULL)
			return 0;
	} else {
		if ((pem = malloc(size)) == NULL)
			return 0;
		len = size - 1;
		memcpy(pem, data + 1, len);
	}
	st = meshca_verifier_new(&v, NULL);
	if (st == MESHCA_OK)
		st = meshca_verifier_set_bundle(v, bundle, NULL);
	if (st == MESHCA_OK)
		st = meshca_verifier_set_time(v, FUZZ_TIME, NULL);
	if (st == MESHCA_OK && (data[0] & 2))
		st = meshca_verifier_set_trust_domain(v, FUZZ_TD, NULL);
	if (st != MESHCA_OK) {
		FUZZ_CHECK(st == MESHCA_ERR_NOMEM && fuzz_injecting(),
		    "verifier set-up");
		goto out;
	}

	memset(&err, 0, sizeof(err));
	st = meshca_verify_chain_pem(v, pem, len, &peer, &err);
	FUZZ_CHECK(st == MESHCA_OK || st == MESHCA_ERR_PARSE ||
	    st == MESHCA_ERR_REJECTED || st == MESHCA_ERR_NOMEM ||
	    st == MESHCA_ERR_INTERNAL, "status is one the header lists");
	FUZZ_CHECK((st == MESHCA_OK) == (peer != NULL), "peer iff success");
	if (getenv("FUZZ_VERBOSE") != NULL)
		fprintf(stderr, "verdict %d: %s\n", (int)st, st == MESHCA_OK ?
		    meshca_id_get0_string(peer) : err.message);
	if (st != MESHCA_OK) {
		FUZZ_CHECK(err.status == st && err.message[0] != '\0' &&
		    memchr(err.message, '\0', sizeof(err.message)) != NULL,
		    "error record filled");
		FUZZ_CHECK(st != MESHCA_ERR_REJECTED ||
		    err.reason != MESHCA_REASON_NONE, "rejection has a reason");
		goto out;
	}
	id = meshca_id_get0_string(peer);
	FUZZ_CHECK(meshca_id_check(id, strlen(id), NULL) == MESHCA_OK,
	    "peer ID is valid");
	FUZZ_CHECK(!meshca_id_is_trust_domain(peer), "peer is a workload");
	FUZZ_CHECK(meshca_id_is_member_of(peer, FUZZ_TD), "peer's TD");
	if (!fuzz_injecting())
		FUZZ_CHECK(openssl_accepts(pem, len, id),
		    "OpenSSL accepts the chain we accept");
out:
	meshca_id_free(peer);
	meshca_verifier_free(v);
	free(pem);
	return 0;
}
