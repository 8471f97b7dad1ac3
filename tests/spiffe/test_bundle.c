/*
 * test_bundle.c: trust bundles (spiffe/bundle.c, spiffe/bundle_json.c):
 * PEM and SPIFFE bundle JSON, read and written, with certificates made
 * here with OpenSSL from committed keys (EC P-256 and P-384, RSA,
 * Ed25519; tests/data/spiffe/keys) and the committed corpus in
 * tests/data/spiffe/{good,bad} (see gen.sh there). The
 * per-trust-domain X509_STOREs are checked by verifying real chains.
 */
#include <dirent.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <meshca/bundle.h>

#include "spiffe/bundle.h"

#define DATA TOP_SRCDIR "/tests/data/spiffe"

enum { K_EC256, K_EC384, K_RSA, K_ED25519, NKEYS };

struct pki {
	EVP_PKEY *key[NKEYS];
	X509 *root[NKEYS];     /* self-signed CAs, one per key type */
	X509 *leaf;	       /* CA:false, signed by root[K_EC256] */
	X509 *leaf_ku;	       /* CA:true but keyUsage digitalSignature */
	X509 *v1;	       /* no extensions at all */
};

/*
 * Key k, read from tests/data/spiffe/keys/ (test keys, made once with
 * openssl genpkey): a fixture that makes the same allocations on every
 * run, so that an allocation-failure finding in it (check-torture)
 * happens again at the same N. A fresh RSA key took a different number
 * of allocations each time.
 */
static EVP_PKEY *
keygen(int k)
{
	static const char *const file[NKEYS] = { "ec256.pem", "ec384.pem",
		"rsa2048.pem", "ed25519.pem" };
	char path[512];
	EVP_PKEY *key;
	BIO *b;

	snprintf(path, sizeof(path), "%s/keys/%s", DATA, file[k]);
	if ((b = BIO_new_file(path, "r")) == NULL)
		return NULL;
	key = PEM_read_bio_PrivateKey(b, NULL, NULL, NULL);
	BIO_free(b);
	return key;
}

static void
add_ext(X509 *x, X509 *issuer, int nid, const char *value)
{
	X509V3_CTX ctx;
	X509_EXTENSION *ext;

	X509V3_set_ctx(&ctx, issuer, x, NULL, NULL, 0);
	ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
	assert_non_null(ext);
	assert_true(X509_add_ext(x, ext, -1));
	X509_EXTENSION_free(ext);
}

/* A certificate for key, signed by ikey (issuer NULL: self-signed). */
static X509 *
mkcert(const char *cn, EVP_PKEY *key, X509 *issuer, EVP_PKEY *ikey,
    const char *bc, const char *ku)
{
	static long serial = 1;
	X509 *x = X509_new();
	X509_NAME *name = X509_NAME_new();

	assert_non_null(x);
	assert_true(X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
	    (const unsigned char *)cn, -1, -1, 0));
	if (bc != NULL)
		assert_true(X509_set_version(x, 2));
	ASN1_INTEGER_set(X509_get_serialNumber(x), serial++);
	X509_set_subject_name(x, name);
	X509_set_issuer_name(x, issuer != NULL ?
	    X509_get_subject_name(issuer) : name);
	X509_gmtime_adj(X509_getm_notBefore(x), -3600);
	X509_gmtime_adj(X509_getm_notAfter(x), 86400);
	assert_true(X509_set_pubkey(x, key));
	if (bc != NULL)
		add_ext(x, issuer != NULL ? issuer : x, NID_basic_constraints,
		    bc);
	if (ku != NULL)
		add_ext(x, issuer != NULL ? issuer : x, NID_key_usage, ku);
	if (ikey == NULL)
		ikey = key;
	assert_true(X509_sign(x, ikey, EVP_PKEY_get_base_id(ikey) ==
	    EVP_PKEY_ED25519 ? NULL : EVP_sha256()) > 0);
	X509_NAME_free(name);
	return x;
}

static int
setup(void **state)
{
	struct pki *p = calloc(1, sizeof(*p));
	char cn[32];
	int k;

	/* Set first: teardown frees what a failed setup made (torture). */
	*state = p;
	if (p == NULL)
		return -1;
	for (k = 0; k < NKEYS; k++) {
		if ((p->key[k] = keygen(k)) == NULL)
			return -1;
		snprintf(cn, sizeof(cn), "root %d", k);
		p->root[k] = mkcert(cn, p->key[k], NULL, NULL,
		    "critical,CA:TRUE", "critical,keyCertSign,cRLSign");
	}
	p->leaf = mkcert("leaf", p->key[K_EC384], p->root[K_EC256],
	    p->key[K_EC256], "critical,CA:FALSE", "critical,digitalSignature");
	p->leaf_ku = mkcert("ku", p->key[K_EC384], NULL, NULL,
	    "critical,CA:TRUE", "critical,digitalSignature");
	p->v1 = mkcert("v1", p->key[K_EC384], NULL, NULL, NULL, NULL);
	return 0;
}

static int
teardown(void **state)
{
	struct pki *p = *state;
	int k;

	if (p == NULL)
		return 0;
	for (k = 0; k < NKEYS; k++) {
		EVP_PKEY_free(p->key[k]);
		X509_free(p->root[k]);
	}
	X509_free(p->leaf);
	X509_free(p->leaf_ku);
	X509_free(p->v1);
	free(p);
	return 0;
}

/* PEM of the given certificates, NUL-terminated; free(). */
static char *
pem(X509 *const *xs, size_t n)
{
	BIO *bio = BIO_new(BIO_s_mem());
	BUF_MEM *mem;
	char *s;
	size_t i;

	for (i = 0; i < n; i++)
		assert_true(PEM_write_bio_X509(bio, xs[i]));
	BIO_get_mem_ptr(bio, &mem);
	s = strndup(mem->data, mem->length);
	BIO_free(bio);
	return s;
}

static struct meshca_bundle *
load_pem(X509 *const *xs, size_t n, const char *td)
{
	struct meshca_bundle *b = NULL;
	struct meshca_error err;
	char *s = pem(xs, n);

	if (meshca_bundle_parse(s, strlen(s), td, &b, &err) != MESHCA_OK)
		fail_msg("%s", err.message);
	free(s);
	return b;
}

/* Does leaf verify against the store (with no intermediates)? */
static bool
verifies(X509_STORE *st, X509 *leaf)
{
	X509_STORE_CTX *ctx;
	bool ok;

	if (st == NULL)
		return false;
	ctx = X509_STORE_CTX_new();
	assert_true(X509_STORE_CTX_init(ctx, st, leaf, NULL));
	ok = X509_verify_cert(ctx) == 1;
	X509_STORE_CTX_free(ctx);
	return ok;
}

static void
test_pem_basic(void **state)
{
	struct pki *p = *state;
	struct meshca_bundle *b;
	const char *td = "x";

	b = load_pem(p->root, NKEYS, "a.org");
	assert_int_equal(meshca_bundle_count(b), NKEYS);
	assert_int_equal(spiffe_bundle_nroots(b), NKEYS);
	assert_int_equal(X509_cmp(spiffe_bundle_get0_root(b, 2, &td),
	    p->root[2]), 0);
	assert_string_equal(td, "a.org");
	assert_null(spiffe_bundle_get0_root(b, NKEYS, &td));
	assert_non_null(spiffe_bundle_get0_store(b, "a.org"));
	assert_null(spiffe_bundle_get0_store(b, "b.org"));
	assert_null(spiffe_bundle_get0_store(b, NULL));
	assert_int_equal(meshca_bundle_sequence(b), 0);
	assert_int_equal(meshca_bundle_refresh_hint(b), 0);
	assert_true(verifies(spiffe_bundle_get0_store(b, "a.org"), p->leaf));
	meshca_bundle_free(b);

	/* No trust domain: the roots anchor every trust domain. */
	b = load_pem(p->root, 1, NULL);
	assert_non_null(spiffe_bundle_get0_root(b, 0, &td));
	assert_null(td);
	assert_non_null(spiffe_bundle_get0_store(b, NULL));
	assert_ptr_equal(spiffe_bundle_get0_store(b, "any.td"),
	    spiffe_bundle_get0_store(b, NULL));
	assert_true(verifies(spiffe_bundle_get0_store(b, "z"), p->leaf));
	meshca_bundle_free(b);

	/* The same root twice is one root. */
	X509 *twice[2] = { p->root[0], p->root[0] };
	b = load_pem(twice, 2, "a.org");
	assert_int_equal(meshca_bundle_count(b), 1);
	meshca_bundle_free(b);
}

static void
test_federation(void **state)
{
	struct pki *p = *state;
	struct meshca_bundle *a, *b, *c, *ab, *abc;
	struct meshca_error err;
	X509 *leaf_c;
	const char *td;

	a = load_pem(&p->root[K_EC256], 1, "a.org");
	b = load_pem(&p->root[K_RSA], 1, "b.org");
	c = load_pem(&p->root[K_ED25519], 1, NULL);
	assert_int_equal(meshca_bundle_merge(a, b, &ab, &err), MESHCA_OK);
	assert_int_equal(meshca_bundle_merge(ab, c, &abc, &err), MESHCA_OK);
	assert_int_equal(meshca_bundle_count(abc), 3);
	assert_non_null(spiffe_bundle_get0_root(abc, 1, &td));
	assert_string_equal(td, "b.org");
	/* root A anchors a.org only; the untagged root C anchors all. */
	assert_true(verifies(spiffe_bundle_get0_store(ab, "a.org"), p->leaf));
	assert_false(verifies(spiffe_bundle_get0_store(ab, "b.org"), p->leaf));
	assert_null(spiffe_bundle_get0_store(ab, "c.org"));
	assert_true(verifies(spiffe_bundle_get0_store(abc, "a.org"), p->leaf));
	assert_false(verifies(spiffe_bundle_get0_store(abc, "b.org"),
	    p->leaf));
	assert_false(verifies(spiffe_bundle_get0_store(abc, "c.org"),
	    p->leaf));
	leaf_c = mkcert("leaf c", p->key[K_EC384], p->root[K_ED25519],
	    p->key[K_ED25519], "critical,CA:FALSE", NULL);
	assert_true(verifies(spiffe_bundle_get0_store(abc, "b.org"), leaf_c));
	assert_true(verifies(spiffe_bundle_get0_store(abc, "c.org"), leaf_c));
	assert_false(verifies(spiffe_bundle_get0_store(ab, "b.org"), leaf_c));
	X509_free(leaf_c);
	/* Merging a bundle with itself adds nothing. */
	meshca_bundle_free(ab);
	assert_int_equal(meshca_bundle_merge(abc, abc, &ab, &err), MESHCA_OK);
	assert_int_equal(meshca_bundle_count(ab), 3);
	assert_int_equal(meshca_bundle_merge(a, NULL, &ab, &err),
	    MESHCA_ERR_USAGE);
	meshca_bundle_free(ab);
	meshca_bundle_free(abc);
	meshca_bundle_free(a);
	meshca_bundle_free(b);
	meshca_bundle_free(c);
}

static void
expect_reject(X509 *const *xs, size_t n, enum meshca_status st,
    const char *why)
{
	struct meshca_bundle *b = NULL;
	struct meshca_error err;
	char *s = pem(xs, n);

	assert_int_equal(meshca_bundle_parse(s, strlen(s), "td", &b, &err), st);
	assert_null(b);
	if (strstr(err.message, why) == NULL)
		fail_msg("\"%s\" lacks \"%s\"", err.message, why);
	free(s);
}

static void
test_not_ca(void **state)
{
	struct pki *p = *state;
	X509 *two[2] = { p->root[0], p->leaf };

	expect_reject(&p->leaf, 1, MESHCA_ERR_REJECTED,
	    "certificate 1 (/CN=leaf): RFC 5280 4.2.1.9: not a CA");
	expect_reject(two, 2, MESHCA_ERR_REJECTED, "certificate 2 (/CN=leaf)");
	expect_reject(&p->leaf_ku, 1, MESHCA_ERR_REJECTED,
	    "X509-SVID 4.3: keyUsage lacks keyCertSign");
	expect_reject(&p->v1, 1, MESHCA_ERR_REJECTED, "not a CA");
}

static struct meshca_bundle *
json_roundtrip(struct meshca_bundle *in, const char *td, uint64_t seq,
    int64_t hint, char **text)
{
	struct meshca_bundle *out = NULL;
	struct meshca_error err;
	size_t len;

	if (meshca_bundle_write_spiffe_json(in, td, seq, hint, text, &len,
	    &err) != MESHCA_OK)
		fail_msg("write: %s", err.message);
	assert_int_equal(strlen(*text), len);
	if (meshca_bundle_parse(*text, len, td != NULL ? td : "t.org", &out,
	    &err) != MESHCA_OK)
		fail_msg("re-read: %s\n%s", err.message, *text);
	return out;
}

static void
test_json_roundtrip(void **state)
{
	static const char *kty[NKEYS] = { "\"kty\": \"EC\"",
	    "\"crv\": \"P-384\"", "\"kty\": \"RSA\"", "\"crv\": \"Ed25519\"" };
	struct pki *p = *state;
	struct meshca_bundle *in, *out;
	char *text;
	int k;

	for (k = 0; k < NKEYS; k++) {
		in = load_pem(&p->root[k], 1, "t.org");
		out = json_roundtrip(in, "t.org", 42, 300, &text);
		assert_int_equal(meshca_bundle_count(out), 1);
		assert_int_equal(X509_cmp(spiffe_bundle_get0_root(out, 0,
		    NULL), p->root[k]), 0);
		assert_int_equal(meshca_bundle_sequence(out), 42);
		assert_int_equal(meshca_bundle_refresh_hint(out), 300);
		assert_non_null(strstr(text, kty[k]));
		assert_non_null(strstr(text, "\"use\": \"x509-svid\""));
		assert_null(strstr(text, "\"kid\""));
		meshca_free(text);
		meshca_bundle_free(out);
		meshca_bundle_free(in);
	}
	/* All four at once; zero sequence and hint are left out. */
	in = load_pem(p->root, NKEYS, "t.org");
	out = json_roundtrip(in, "t.org", 0, 0, &text);
	assert_int_equal(meshca_bundle_count(out), NKEYS);
	assert_null(strstr(text, "spiffe_sequence"));
	assert_null(strstr(text, "spiffe_refresh_hint"));
	meshca_free(text);
	meshca_bundle_free(out);
	meshca_bundle_free(in);
}

/* A certificate whose key is not the one the JWK parameters describe. */
static void
test_json_mismatch(void **state)
{
	struct pki *p = *state;
	struct meshca_bundle *a, *b, *out = NULL;
	struct meshca_error err;
	char *ta, *tb, *xa, *xb, *e;
	size_t n;

	a = load_pem(&p->root[K_EC256], 1, "t.org");
	b = load_pem(&p->root[K_EC384], 1, "t.org");
	assert_int_equal(meshca_bundle_write_spiffe_json(a, "t.org", 1, 0,
	    &ta, NULL, NULL), MESHCA_OK);
	assert_int_equal(meshca_bundle_write_spiffe_json(b, "t.org", 1, 0,
	    &tb, NULL, NULL), MESHCA_OK);
	/* Put B's x5c into A's key. */
	xa = strstr(ta, "\"x5c\"");
	xb = strstr(tb, "\"x5c\"");
	e = strchr(xb, ']');
	n = (size_t)(e - xb);
	char *mix = malloc(strlen(ta) + strlen(tb));
	memcpy(mix, ta, (size_t)(xa - ta));
	memcpy(mix + (xa - ta), xb, n);
	e = strchr(xa, ']');
	memcpy(mix + (xa - ta) + n, e, strlen(e) + 1);
	assert_int_equal(meshca_bundle_parse(mix, strlen(mix), "t.org", &out,
	    &err), MESHCA_ERR_REJECTED);
	assert_non_null(strstr(err.message, "keys[0]"));
	assert_non_null(strstr(err.message, "does not match the "
	    "certificate's public key"));
	free(mix);
	meshca_free(ta);
	meshca_free(tb);
	meshca_bundle_free(a);
	meshca_bundle_free(b);
}

static void
test_pem_write(void **state)
{
	struct pki *p = *state;
	struct meshca_bundle *a, *any, *m, *back;
	struct meshca_error err;
	char *s;
	size_t len;

	a = load_pem(p->root, 2, "a.org");
	any = load_pem(&p->root[K_RSA], 1, NULL);
	assert_int_equal(meshca_bundle_merge(a, any, &m, &err), MESHCA_OK);
	assert_int_equal(meshca_bundle_write_pem(m, NULL, &s, &len, &err),
	    MESHCA_OK);
	assert_int_equal(strlen(s), len);
	assert_int_equal(meshca_bundle_parse(s, len, "z.org", &back, &err),
	    MESHCA_OK);
	assert_int_equal(meshca_bundle_count(back), 3);
	meshca_bundle_free(back);
	meshca_free(s);
	/* The roots of b.org: only the untagged one. */
	assert_int_equal(meshca_bundle_write_pem(m, "b.org", &s, &len, &err),
	    MESHCA_OK);
	assert_int_equal(meshca_bundle_parse(s, len, "b.org", &back, &err),
	    MESHCA_OK);
	assert_int_equal(meshca_bundle_count(back), 1);
	assert_int_equal(X509_cmp(spiffe_bundle_get0_root(back, 0, NULL),
	    p->root[K_RSA]), 0);
	meshca_bundle_free(back);
	meshca_free(s);
	/* JSON for a.org holds a.org's roots and the untagged one. */
	assert_int_equal(meshca_bundle_write_spiffe_json(m, "a.org", 0, 0, &s,
	    &len, &err), MESHCA_OK);
	assert_int_equal(meshca_bundle_parse(s, len, "a.org", &back, &err),
	    MESHCA_OK);
	assert_int_equal(meshca_bundle_count(back), 3);
	meshca_bundle_free(back);
	meshca_free(s);
	assert_int_equal(meshca_bundle_write_spiffe_json(m, "A.org", 0, 0, &s,
	    &len, &err), MESHCA_ERR_USAGE);
	assert_int_equal(meshca_bundle_write_pem(m, "A.org", &s, &len, &err),
	    MESHCA_ERR_USAGE);
	assert_non_null(strstr(err.message, "trust domain \"A.org\""));
	assert_int_equal(meshca_bundle_write_spiffe_json(m, "a.org", 0, -1, &s,
	    &len, &err), MESHCA_ERR_USAGE);
	meshca_bundle_free(m);
	meshca_bundle_free(any);
	meshca_bundle_free(a);
}

struct corpus_case {
	const char *file;
	enum meshca_status st;
	const char *why;
};

/* Every file in bad/ must be listed here, with how it must fail. */
static const struct corpus_case bad[] = {
	{ "bad-base64.pem", MESHCA_ERR_PARSE, "PEM block 1: malformed" },
	{ "deep-nested.json", MESHCA_ERR_PARSE, "depth" },
	{ "duplicate-keys.json", MESHCA_ERR_PARSE, "duplicate" },
	{ "empty.pem", MESHCA_ERR_PARSE, "no PEM CERTIFICATE" },
	{ "garbage.bin", MESHCA_ERR_PARSE, "no PEM CERTIFICATE" },
	{ "keys-element-not-object.json", MESHCA_ERR_PARSE,
	  "keys[0]: not an object" },
	{ "keys-missing.json", MESHCA_ERR_PARSE, "4.1.3: \"keys\" is missing" },
	{ "keys-not-array.json", MESHCA_ERR_PARSE, "not an array" },
	{ "kty-mismatch.json", MESHCA_ERR_REJECTED, "kty \"RSA\"" },
	{ "no-end-line.pem", MESHCA_ERR_PARSE, "malformed" },
	{ "non-ca.pem", MESHCA_ERR_REJECTED, "not a CA" },
	{ "not-object.json", MESHCA_ERR_PARSE, "not a JSON object" },
	{ "nul-byte.json", MESHCA_ERR_PARSE, "bundle JSON" },
	{ "param-mismatch.json", MESHCA_ERR_REJECTED, "\"x\" does not match" },
	{ "public-key.pem", MESHCA_ERR_PARSE, "\"PUBLIC KEY\", not" },
	{ "refresh-hint-float.json", MESHCA_ERR_PARSE, "4.1.2" },
	{ "root-then-non-ca.pem", MESHCA_ERR_REJECTED, "certificate 2" },
	{ "sequence-huge.json", MESHCA_ERR_PARSE, "too big" },
	{ "sequence-negative.json", MESHCA_ERR_PARSE, "4.1.1" },
	{ "sequence-string.json", MESHCA_ERR_PARSE, "4.1.1" },
	{ "text-only.pem", MESHCA_ERR_PARSE, "no PEM CERTIFICATE" },
	{ "trailing-garbage.json", MESHCA_ERR_PARSE, "end of file expected" },
	{ "truncated.json", MESHCA_ERR_PARSE, "premature end" },
	{ "truncated.pem", MESHCA_ERR_PARSE, "malformed" },
	{ "use-missing.json", MESHCA_ERR_PARSE, "\"use\" missing" },
	{ "x5c-bad-base64.json", MESHCA_ERR_PARSE, "not padded standard" },
	{ "x5c-base64url.json", MESHCA_ERR_PARSE, "(base64url?)" },
	{ "x5c-empty.json", MESHCA_ERR_PARSE, "exactly one" },
	{ "x5c-missing.json", MESHCA_ERR_PARSE, "exactly one" },
	{ "x5c-non-ca.json", MESHCA_ERR_REJECTED, "not a CA" },
	{ "x5c-not-der.json", MESHCA_ERR_PARSE, "not a DER X.509" },
	{ "x5c-trailing-bytes.json", MESHCA_ERR_PARSE, "trailing bytes" },
	{ "x5c-two-certs.json", MESHCA_ERR_PARSE, "exactly one" },
};

/* Roots each file of good/ must yield, and its spiffe_sequence. */
static const struct {
	const char *file;
	size_t count;
	uint64_t seq;
} good[] = {
	{ "blank-before.pem", 1, 0 },
	{ "ec-root.pem", 1, 0 },
	{ "ec.json", 1, 7 },
	{ "empty-keys.json", 0, 0 },
	{ "extra-members.json", 1, 0 },
	{ "mixed.json", 3, 1 },
	{ "params-absent.json", 1, 0 },
	{ "three-roots.pem", 3, 0 },
	{ "with-text.pem", 1, 0 },
};

static void
test_corpus(void **state)
{
	struct meshca_bundle *b;
	struct meshca_error err;
	struct dirent *de;
	char path[512];
	DIR *d;
	size_t i, seen = 0;

	(void)state;
	assert_non_null(d = opendir(DATA "/bad"));
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
			if (strcmp(bad[i].file, de->d_name) == 0)
				break;
		if (i == sizeof(bad) / sizeof(bad[0]))
			fail_msg("bad/%s: no expected result", de->d_name);
		seen++;
		snprintf(path, sizeof(path), DATA "/bad/%s", de->d_name);
		b = NULL;
		memset(&err, 0, sizeof(err));
		if (meshca_bundle_load_file(path, "example.org", &b, &err) !=
		    bad[i].st || strstr(err.message, bad[i].why) == NULL)
			fail_msg("bad/%s: status %d \"%s\", want %d \"%s\"",
			    de->d_name, err.status, err.message, bad[i].st,
			    bad[i].why);
		assert_null(b);
		/* The message names the file. */
		assert_non_null(strstr(err.message, de->d_name));
	}
	closedir(d);
	assert_int_equal(seen, sizeof(bad) / sizeof(bad[0]));

	seen = 0;
	assert_non_null(d = opendir(DATA "/good"));
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		for (i = 0; i < sizeof(good) / sizeof(good[0]); i++)
			if (strcmp(good[i].file, de->d_name) == 0)
				break;
		if (i == sizeof(good) / sizeof(good[0]))
			fail_msg("good/%s: no expected result", de->d_name);
		seen++;
		snprintf(path, sizeof(path), DATA "/good/%s", de->d_name);
		if (meshca_bundle_load_file(path, "example.org", &b, &err) !=
		    MESHCA_OK)
			fail_msg("good/%s: %s", de->d_name, err.message);
		assert_int_equal(meshca_bundle_count(b), good[i].count);
		assert_int_equal(meshca_bundle_sequence(b), good[i].seq);
		if (good[i].count == 0)
			assert_null(spiffe_bundle_get0_store(b,
			    "example.org"));
		else
			assert_non_null(spiffe_bundle_get0_store(b,
			    "example.org"));
		meshca_bundle_free(b);
	}
	closedir(d);
	assert_int_equal(seen, sizeof(good) / sizeof(good[0]));
}

static void
test_limits(void **state)
{
	struct pki *p = *state;
	struct meshca_bundle *b = NULL;
	struct meshca_error err;
	char *s = pem(p->root, 1), *big, tmpl[] = "/tmp/test_bundle.XXXXXX";
	size_t n = strlen(s);
	int fd;

	/* Exactly MESHCA_BUNDLE_MAX bytes is accepted, one more is not. */
	big = malloc(MESHCA_BUNDLE_MAX + 1);
	memcpy(big, s, n);
	memset(big + n, '\n', MESHCA_BUNDLE_MAX + 1 - n);
	assert_int_equal(meshca_bundle_parse(big, MESHCA_BUNDLE_MAX, "td", &b,
	    &err), MESHCA_OK);
	meshca_bundle_free(b);
	assert_int_equal(meshca_bundle_parse(big, MESHCA_BUNDLE_MAX + 1, "td",
	    &b, &err), MESHCA_ERR_PARSE);
	assert_non_null(strstr(err.message, "larger than 4194304 bytes"));
	/* JSON too: the limit holds before any parsing. */
	big[0] = '{';
	assert_int_equal(meshca_bundle_parse(big, MESHCA_BUNDLE_MAX + 1, "td",
	    &b, &err), MESHCA_ERR_PARSE);
	/* And for files. */
	assert_true((fd = mkstemp(tmpl)) != -1);
	assert_int_equal(write(fd, big, MESHCA_BUNDLE_MAX + 1),
	    MESHCA_BUNDLE_MAX + 1);
	close(fd);
	assert_int_equal(meshca_bundle_load_file(tmpl, "td", &b, &err),
	    MESHCA_ERR_PARSE);
	assert_non_null(strstr(err.message, tmpl));
	unlink(tmpl);
	assert_int_equal(meshca_bundle_load_file(tmpl, "td", &b, &err),
	    MESHCA_ERR_IO);
	free(big);
	free(s);
}

static void
test_usage(void **state)
{
	struct pki *p = *state;
	struct meshca_bundle *b = NULL;
	struct meshca_error err;
	char *s = pem(p->root, 1), *out;

	assert_int_equal(meshca_bundle_parse(NULL, 0, "td", &b, &err),
	    MESHCA_ERR_USAGE);
	assert_int_equal(meshca_bundle_parse(s, strlen(s), "td", NULL, &err),
	    MESHCA_ERR_USAGE);
	assert_int_equal(meshca_bundle_parse("{\"keys\": []}", 12, NULL, &b,
	    &err), MESHCA_ERR_USAGE);
	assert_non_null(strstr(err.message, "needs a trust domain"));
	assert_int_equal(meshca_bundle_parse(s, strlen(s), "TD", &b, &err),
	    MESHCA_ERR_REJECTED);
	assert_non_null(strstr(err.message, "trust domain \"TD\""));
	assert_int_equal(meshca_bundle_parse(s, strlen(s), "spiffe://td", &b,
	    &err), MESHCA_ERR_REJECTED);
	assert_int_equal(meshca_bundle_load_file(NULL, "td", &b, &err),
	    MESHCA_ERR_USAGE);
	assert_int_equal(meshca_bundle_write_pem(NULL, NULL, &out, NULL, &err),
	    MESHCA_ERR_USAGE);
	assert_null(b);
	meshca_bundle_free(NULL);
	assert_null(meshca_bundle_up_ref(NULL));
	assert_int_equal(meshca_bundle_count(NULL), 0);
	assert_null(spiffe_bundle_get0_store(NULL, "td"));
	/* An empty bundle writes as empty PEM and an empty JWK Set. */
	assert_int_equal(meshca_bundle_parse(" {\"keys\": []}", 13, "td", &b,
	    &err), MESHCA_OK);
	assert_int_equal(meshca_bundle_write_pem(b, NULL, &out, NULL, &err),
	    MESHCA_OK);
	assert_string_equal(out, "");
	meshca_free(out);
	assert_int_equal(meshca_bundle_write_spiffe_json(b, "td", 0, 0, &out,
	    NULL, &err), MESHCA_OK);
	assert_string_equal(out, "{\n  \"keys\": []\n}\n");
	meshca_free(out);
	meshca_bundle_free(b);
	free(s);
}

/* A failing call leaves the caller's OpenSSL error queue as it was. */
static void
test_error_queue(void **state)
{
	struct pki *p = *state;
	struct meshca_bundle *b = NULL;
	struct meshca_error err;
	unsigned long mine;
	char *s = pem(&p->leaf, 1), *out;
	static const char *junk[] = { "-----BEGIN CERTIFICATE-----\nAAA",
		"junk", ("{\"keys\": [{\"use\": \"x509-svid\", \"kty\": "
		"\"EC\", \"x5c\": [\"MAA=\"]}]}") }; /* () : one string */
	size_t i;

	ERR_clear_error();
	ERR_raise(ERR_LIB_USER, 42);
	mine = ERR_peek_last_error();
	for (i = 0; i < sizeof(junk) / sizeof(junk[0]); i++) {
		assert_int_equal(meshca_bundle_parse(junk[i], strlen(junk[i]),
		    "td", &b, &err), MESHCA_ERR_PARSE);
		assert_int_equal(ERR_peek_last_error(), mine);
	}
	assert_int_equal(meshca_bundle_parse(s, strlen(s), "td", &b, &err),
	    MESHCA_ERR_REJECTED);
	assert_int_equal(ERR_peek_last_error(), mine);
	b = load_pem(p->root, NKEYS, "td");
	assert_int_equal(meshca_bundle_write_spiffe_json(b, "td", 1, 1, &out,
	    NULL, &err), MESHCA_OK);
	meshca_free(out);
	meshca_bundle_free(b);
	assert_int_equal(ERR_get_error(), mine);
	assert_int_equal(ERR_get_error(), 0);
	free(s);
}

static void *
hammer(void *arg)
{
	struct meshca_bundle *b = arg;
	int i;

	for (i = 0; i < 100000; i++) {
		meshca_bundle_up_ref(b);
		assert_non_null(spiffe_bundle_get0_store(b, "td"));
		meshca_bundle_free(b);
	}
	return NULL;
}

/* The reference count is atomic: threads taking and dropping references
 * leave exactly the owner's, which frees it (valgrind checks the rest). */
static void
test_refcount(void **state)
{
	struct pki *p = *state;
	struct meshca_bundle *b = load_pem(p->root, 1, "td");
	pthread_t t[4];
	int i;

	for (i = 0; i < 4; i++)
		assert_int_equal(pthread_create(&t[i], NULL, hammer, b), 0);
	for (i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	assert_ptr_equal(meshca_bundle_up_ref(b), b);
	meshca_bundle_free(b);
	assert_int_equal(meshca_bundle_count(b), 1);
	meshca_bundle_free(b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pem_basic),
		cmocka_unit_test(test_federation),
		cmocka_unit_test(test_not_ca),
		cmocka_unit_test(test_json_roundtrip),
		cmocka_unit_test(test_json_mismatch),
		cmocka_unit_test(test_pem_write),
		cmocka_unit_test(test_corpus),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_usage),
		cmocka_unit_test(test_error_queue),
		cmocka_unit_test(test_refcount),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
