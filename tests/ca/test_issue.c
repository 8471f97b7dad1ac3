/*
 * test_issue.c: authorities and leaf X.509-SVIDs, checked with OpenSSL
 * itself: the leaf profile field by field, X509_verify_cert and
 * `openssl verify` against the root, the fast EC path byte for byte
 * against OpenSSL's own encoders, clamping, TTL and ID refusals, CSR
 * policy, keys at rest under the KEK, the Istio cacerts import and the
 * signer's wire form.
 */
#include <sys/stat.h>

#include <setjmp.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "ca/authority.h"
#include "ca/csr.h"
#include "ca/issue.h"
#include "ca/kek.h"
#include "ca/keygen.h"
#include "ca/signer.h"
#include "common/status.h"
#include "store/certs.h"
#include "store/db.h"

#define TD "cluster.local"

/* Under make check-torture (allocation failures injected) the loops are
 * cut short and the slow key types left out: every allocation of the
 * full run is walked in turn, so a short run is what keeps it feasible.
 * The clean runs of make check stay full. */
static bool
torture(void)
{
	return getenv("MC_ALLOC_FAIL") != NULL ||
	    getenv("MC_OSSL_FAIL") != NULL ||
	    getenv("MC_OSSL_COUNT_FILE") != NULL;
}

struct fx {
	char dir[64];
	char path[128];
	int64_t now;
	struct ca_authority *root;
	struct ca_signer *signer;
	struct ca_issuer *is;
};

static void sh(const char *, ...) __attribute__((format(printf, 1, 2)));

static void
sh(const char *fmt, ...)
{
	char cmd[2048];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	/* NOLINTNEXTLINE(cert-env33-c): shell on purpose */
	if (system(cmd) != 0) /* style: allow system (openssl) */
		fail_msg("command failed: %s", cmd);
}

static int teardown(void **state);

static int
setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct mc_err e = { 0 };

	assert_non_null(f);
	snprintf(f->dir, sizeof(f->dir), "/tmp/mc-ca-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	f->now = (int64_t)time(NULL);
	*state = f;
	if (ca_authority_create_root(TD, CA_KEY_EC_P256,
	    CA_ROOT_LIFETIME_DEFAULT, f->now, &f->root, &e) == -1 ||
	    (f->signer = ca_authority_signer(f->root, &e)) == NULL ||
	    (f->is = ca_issuer_new(f->signer, 0, NULL, &e)) == NULL) {
		/* an error, not a leak, under make check-torture */
		print_error("setup: %s\n", e.msg);
		teardown(state);
		return -1;
	}
	return 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;

	ca_issuer_free(f->is);
	ca_signer_free(f->signer);
	ca_authority_free(f->root);
	sh("rm -rf '%s'", f->dir);
	free(f);
	return 0;
}

static X509 *
pem_cert(const char *pem)
{
	BIO *b = BIO_new_mem_buf(pem, -1);
	X509 *x = PEM_read_bio_X509(b, NULL, NULL, NULL);

	BIO_free(b);
	assert_non_null(x);
	return x;
}

static int
verify(X509 *root, X509 *leaf, STACK_OF(X509) *chain, time_t at)
{
	X509_STORE *st = X509_STORE_new();
	X509_STORE_CTX *ctx = X509_STORE_CTX_new();
	int rc;

	assert_non_null(st);
	assert_non_null(ctx);
	/* (each can fail for want of memory under check-torture) */
	assert_int_equal(X509_STORE_add_cert(st, root), 1);
	assert_int_equal(X509_STORE_CTX_init(ctx, st, leaf, chain), 1);
	X509_VERIFY_PARAM_set_time(X509_STORE_CTX_get0_param(ctx), at);
	rc = X509_verify_cert(ctx);
	if (rc != 1)
		print_message("verify: %s\n", X509_verify_cert_error_string(
		    X509_STORE_CTX_get_error(ctx)));
	X509_STORE_CTX_free(ctx);
	X509_STORE_free(st);
	return rc;
}

static void
issue_ok(struct fx *f, const struct ca_issue_req *r, struct ca_issued *v)
{
	struct mc_err e = { 0 };

	if (ca_issue_keypair(f->is, r, v, &e) == -1)
		fail_msg("issue: %s", e.msg);
}

static void
check_profile(X509 *x, const char *id, bool rsa)
{
	GENERAL_NAMES *gens;
	GENERAL_NAME *g;
	int crit, i, uris = 0;
	uint32_t ku;

	assert_int_equal(X509_NAME_entry_count(X509_get_subject_name(x)), 0);
	gens = X509_get_ext_d2i(x, NID_subject_alt_name, &crit, NULL);
	assert_non_null(gens);
	assert_int_equal(crit, 1); /* empty subject: SAN critical */
	for (i = 0; i < sk_GENERAL_NAME_num(gens); i++) {
		g = sk_GENERAL_NAME_value(gens, i);
		if (g->type == GEN_URI) {
			uris++;
			assert_string_equal(ASN1_STRING_get0_data(
			    g->d.uniformResourceIdentifier), id);
		}
	}
	assert_int_equal(uris, 1);
	GENERAL_NAMES_free(gens);
	assert_int_equal(X509_get_extension_flags(x) & EXFLAG_CA, 0);
	assert_true(X509_get_extension_flags(x) & EXFLAG_BCONS);
	assert_int_equal(X509_get_ext_by_critical(x, 1, -1) >= 0, 1);
	assert_int_equal(X509_EXTENSION_get_critical(X509_get_ext(x,
	    X509_get_ext_by_NID(x, NID_key_usage, -1))), 1);
	assert_int_equal(X509_EXTENSION_get_critical(X509_get_ext(x,
	    X509_get_ext_by_NID(x, NID_basic_constraints, -1))), 1);
	ku = X509_get_key_usage(x);
	assert_true(ku & KU_DIGITAL_SIGNATURE);
	assert_int_equal(!!(ku & KU_KEY_ENCIPHERMENT), rsa);
	assert_int_equal(ku & (KU_KEY_CERT_SIGN | KU_CRL_SIGN), 0);
	assert_int_equal(X509_get_extended_key_usage(x),
	    XKU_SSL_SERVER | XKU_SSL_CLIENT);
	assert_non_null(X509_get0_subject_key_id(x));
	assert_non_null(X509_get0_authority_key_id(x));
	/* 128 random bits, positive */
	{
		BIGNUM *bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(x),
		    NULL);

		assert_non_null(bn); /* (no memory under check-torture) */
		assert_false(BN_is_negative(bn));
		assert_true(BN_num_bytes(bn) <= 16);
		assert_true(BN_num_bits(bn) > 64);
		BN_free(bn);
	}
}

static void
test_leaf_profile_and_verify(void **state)
{
	struct fx *f = *state;
	struct ca_issue_req r = { 0 };
	struct ca_issued v;
	const char *dns[] = { "web.default.svc", "web.default.svc.cluster.local" };
	X509 *x;
	int64_t t;
	char hex[CA_SERIAL_HEX];
	struct mc_err e = { 0 };

	r.ns = "default";
	r.sa = "web";
	r.dns = dns;
	r.ndns = 2;
	r.now = f->now;
	issue_ok(f, &r, &v);
	assert_string_equal(v.spiffe_id,
	    "spiffe://cluster.local/ns/default/sa/web");
	assert_string_equal(v.ns, "default");
	assert_string_equal(v.sa, "web");
	assert_false(v.clamped);
	assert_int_equal(v.not_before, f->now - 300);
	assert_int_equal(v.not_after, f->now + 86400);
	x = pem_cert(v.cert_pem);
	check_profile(x, v.spiffe_id, false);
	assert_int_equal(ca_time_from_asn1(X509_get0_notBefore(x), &t), 0);
	assert_int_equal(t, f->now - 300);
	assert_int_equal(ca_cert_serial_hex(x, hex, &e), 0);
	assert_string_equal(hex, v.serial);
	/* AKI of the leaf is the root's SKI */
	assert_int_equal(ASN1_OCTET_STRING_cmp(X509_get0_authority_key_id(x),
	    X509_get0_subject_key_id(f->root->cert)), 0);
	assert_int_equal(verify(f->root->cert, x, NULL, (time_t)f->now), 1);
	/* not valid after its notAfter */
	assert_int_not_equal(verify(f->root->cert, x, NULL,
	    (time_t)(f->now + 86401)), 1);
	X509_free(x);
	ca_issued_clear(&v);
}

static void
test_root_profile(void **state)
{
	struct fx *f = *state;
	X509 *x = f->root->cert;
	GENERAL_NAMES *gens;

	assert_true(X509_get_extension_flags(x) & EXFLAG_CA);
	assert_true(X509_get_extension_flags(x) & EXFLAG_SS);
	assert_int_equal(X509_get_key_usage(x), KU_KEY_CERT_SIGN | KU_CRL_SIGN);
	assert_int_equal(X509_EXTENSION_get_critical(X509_get_ext(x,
	    X509_get_ext_by_NID(x, NID_basic_constraints, -1))), 1);
	assert_int_equal(X509_EXTENSION_get_critical(X509_get_ext(x,
	    X509_get_ext_by_NID(x, NID_key_usage, -1))), 1);
	assert_non_null(X509_get0_subject_key_id(x));
	gens = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
	assert_int_equal(sk_GENERAL_NAME_num(gens), 1);
	assert_string_equal(ASN1_STRING_get0_data(sk_GENERAL_NAME_value(gens,
	    0)->d.uniformResourceIdentifier), "spiffe://cluster.local");
	GENERAL_NAMES_free(gens);
	assert_int_equal(f->root->not_after, f->now + CA_ROOT_LIFETIME_DEFAULT);
}

/*
 * The fast path against the straightforward one for the same key: the
 * PKCS#8 PEM and the whole to-be-signed certificate are byte-identical
 * to what PEM_write_bio_PrivateKey and X509_set_pubkey (plus OpenSSL's
 * "hash" subject key identifier) produce.
 */
static void
fast_vs_openssl(struct fx *f, enum ca_key_type kt, int rounds)
{
	struct ca_issue_req r = { 0 };
	struct ca_issued v;
	struct mc_buf ref;
	struct mc_err e = { 0 };
	unsigned char *t1 = NULL, *t2 = NULL;
	X509 *x, *y;
	EVP_PKEY *pk;
	BIO *b;
	X509V3_CTX ctx;
	X509_EXTENSION *ski;
	int i, n1, n2, loc;

	r.spiffe_id = "spiffe://cluster.local/ns/a/sa/b";
	r.key_type = kt;
	r.now = f->now;
	for (i = 0; i < rounds; i++) {
		issue_ok(f, &r, &v);
		b = BIO_new_mem_buf(v.key_pem.data, (int)v.key_pem.len);
		pk = PEM_read_bio_PrivateKey(b, NULL, NULL, NULL);
		BIO_free(b);
		assert_non_null(pk);
		mc_buf_init(&ref, 8192);
		assert_int_equal(ca_key_pkcs8_pem_openssl(pk, &ref, &e), 0);
		assert_int_equal(ref.len, v.key_pem.len);
		assert_memory_equal(ref.data, v.key_pem.data, ref.len);
		mc_buf_free(&ref);

		x = pem_cert(v.cert_pem);
		y = X509_dup(x);
		assert_int_equal(X509_set_pubkey(y, pk), 1);
		/* SKI recomputed by OpenSSL from the key it just encoded */
		loc = X509_get_ext_by_NID(y, NID_subject_key_identifier, -1);
		X509V3_set_ctx(&ctx, NULL, y, NULL, NULL, 0);
		ski = X509V3_EXT_conf_nid(NULL, &ctx,
		    NID_subject_key_identifier, "hash");
		assert_non_null(ski);
		X509_EXTENSION_free(X509_delete_ext(y, loc));
		assert_int_equal(X509_add_ext(y, ski, loc), 1);
		X509_EXTENSION_free(ski);
		n1 = i2d_re_X509_tbs(x, &t1);
		n2 = i2d_re_X509_tbs(y, &t2);
		assert_true(n1 > 0);
		assert_int_equal(n1, n2);
		assert_memory_equal(t1, t2, (size_t)n1);
		OPENSSL_free(t1);
		OPENSSL_free(t2);
		t1 = t2 = NULL;
		/* and the fast certificate's key is the private key's */
		assert_int_equal(X509_check_private_key(x, pk), 1);
		X509_free(x);
		X509_free(y);
		EVP_PKEY_free(pk);
		ca_issued_clear(&v);
	}
}

static void
test_fast_path_byte_identical_p256(void **state)
{
	/* 300 keys: a scalar with a leading zero byte shows up with
	 * probability ~1 - (255/256)^300 = 69%; the padded case is also
	 * covered deterministically in test_keygen. */
	fast_vs_openssl(*state, CA_KEY_EC_P256, torture() ? 1 : 300);
}

static void
test_fast_path_byte_identical_p384(void **state)
{
	fast_vs_openssl(*state, CA_KEY_EC_P384, torture() ? 1 : 50);
}

/*
 * The signer lays the certificate out as DER itself (signer.c); here the
 * same leaf is built with OpenSSL's own API (X509_set_*, extensions from
 * their configuration strings, X509_sign) and its TBSCertificate must be
 * the signer's byte for byte: for authorities of every key type, leaf
 * keys on both the fast and the decoding path, DNS names, IDs and SANs
 * long enough for multi-octet lengths, and a notAfter past 2049
 * (GeneralizedTime).
 */
/* A copy of the first element inside the outer SEQUENCE of der (the
 * TBSCertificate of a certificate, as written) and its length. */
static int
der_first_inner(const unsigned char *der, size_t len, unsigned char **out)
{
	const unsigned char *p = der, *start;
	long inner;
	int tag, cls, n;

	assert_int_equal(ASN1_get_object(&p, &inner, &tag, &cls, (long)len) &
	    0x80, 0);
	assert_int_equal(tag, V_ASN1_SEQUENCE);
	start = p;
	assert_int_equal(ASN1_get_object(&p, &inner, &tag, &cls,
	    (long)(len - (size_t)(start - der))) & 0x80, 0);
	assert_int_equal(tag, V_ASN1_SEQUENCE);
	n = (int)(p - start) + (int)inner;
	assert_non_null(*out = OPENSSL_malloc((size_t)n));
	memcpy(*out, start, (size_t)n);
	return n;
}

static void
der_vs_openssl(struct ca_authority *a, struct ca_signer *s,
    enum ca_key_type kt, const char *id, const char *const *dns,
    size_t ndns, int64_t nb, int64_t na)
{
	struct ca_sign_cache *c;
	struct ca_sign_req r = { 0 };
	struct ca_sign_resp resp;
	struct mc_err e = { 0 };
	struct ca_keygen *g;
	struct ca_key k;
	unsigned char spki[CA_SPKI_MAX], *t1 = NULL, *t2 = NULL, *t3 = NULL;
	const unsigned char *p;
	char san[4096], *q;
	const char *mdname = NULL;
	bool rsa = ca_key_type_is_rsa(kt);
	X509V3_CTX ctx;
	X509_EXTENSION *ext;
	X509 *x, *y;
	BIGNUM *bn;
	size_t n, i;
	int n1, n2, n3, pass;
	struct {
		int nid;
		const char *val;
	} exts[] = {
		{ NID_basic_constraints, "critical,CA:FALSE" },
		{ NID_key_usage, rsa ? "critical,digitalSignature,"
		    "keyEncipherment" : "critical,digitalSignature" },
		{ NID_ext_key_usage, "serverAuth,clientAuth" },
		{ NID_subject_key_identifier, "hash" },
		{ NID_authority_key_identifier, "keyid:always" },
		{ NID_subject_alt_name, san },
	};

	q = san + snprintf(san, sizeof(san), "critical,URI:%s", id);
	for (i = 0; i < ndns; i++)
		q += snprintf(q, sizeof(san) - (size_t)(q - san), ",DNS:%s",
		    dns[i]);
	if (EVP_PKEY_is_a(a->key, "EC"))
		mdname = EVP_PKEY_get_bits(a->key) > 256 ? "SHA384" : "SHA256";
	else if (EVP_PKEY_is_a(a->key, "RSA"))
		mdname = "SHA256";
	assert_non_null(g = ca_keygen_new(kt, &e));
	assert_int_equal(ca_keygen_generate(g, &k, &e), 0);
	assert_int_equal(ca_key_spki_der(&k, spki, sizeof(spki), &n, &e), 0);
	assert_non_null(c = ca_sign_cache_new(s, &e));
	r.spiffe_id = id;
	r.dns = dns;
	r.ndns = ndns;
	r.spki = spki;
	r.spki_len = n;
	r.not_before = nb;
	r.not_after = na;
	/* both paths: with the per-thread cache and without; the vouched
	 * EC fast path and the decoding one */
	for (pass = 0; pass < 4; pass++) {
		r.key_checked = pass & 1;
		if (ca_signer_sign_cached(s, pass & 2 ? c : NULL, &r, &resp,
		    &e) == -1)
			fail_msg("sign: %s", e.msg);
		p = resp.der;
		assert_non_null(x = d2i_X509(NULL, &p, (long)resp.der_len));
		assert_ptr_equal(p, resp.der + resp.der_len);
		assert_int_equal(X509_verify(x, a->key), 1);

		assert_non_null(y = X509_new());
		assert_int_equal(X509_set_version(y, X509_VERSION_3), 1);
		assert_non_null(bn = BN_bin2bn(resp.serial, CA_SERIAL_LEN,
		    NULL));
		assert_non_null(BN_to_ASN1_INTEGER(bn,
		    X509_get_serialNumber(y)));
		BN_free(bn);
		assert_int_equal(X509_set_issuer_name(y,
		    X509_get_subject_name(a->cert)), 1);
		assert_non_null(ASN1_TIME_set(X509_getm_notBefore(y),
		    (time_t)resp.not_before));
		assert_non_null(ASN1_TIME_set(X509_getm_notAfter(y),
		    (time_t)resp.not_after));
		assert_int_equal(X509_set_pubkey(y, k.pkey), 1);
		X509V3_set_ctx(&ctx, a->cert, y, NULL, NULL, 0);
		for (i = 0; i < sizeof(exts) / sizeof(exts[0]); i++) {
			ext = X509V3_EXT_conf_nid(NULL, &ctx, exts[i].nid,
			    exts[i].val);
			assert_non_null(ext);
			assert_int_equal(X509_add_ext(y, ext, -1), 1);
			X509_EXTENSION_free(ext);
		}
		assert_true(X509_sign(y, a->key, mdname != NULL ?
		    EVP_get_digestbyname(mdname) : NULL) > 0);

		/* the bytes we wrote, OpenSSL's from the same fields, and
		 * OpenSSL's re-encoding of what it parsed from ours */
		n1 = der_first_inner(resp.der, resp.der_len, &t1);
		n2 = i2d_re_X509_tbs(y, &t2);
		n3 = i2d_re_X509_tbs(x, &t3);
		assert_true(n1 > 0);
		assert_int_equal(n1, n2);
		assert_memory_equal(t1, t2, (size_t)n1);
		assert_int_equal(n1, n3);
		assert_memory_equal(t1, t3, (size_t)n1);
		/* and the whole certificate re-encodes to itself */
		OPENSSL_free(t1);
		t1 = NULL;
		n1 = i2d_X509(x, &t1);
		assert_int_equal((size_t)n1, resp.der_len);
		assert_memory_equal(t1, resp.der, resp.der_len);
		OPENSSL_free(t1);
		OPENSSL_free(t2);
		OPENSSL_free(t3);
		t1 = t2 = t3 = NULL;
		X509_free(x);
		X509_free(y);
		ca_sign_resp_clear(&resp);
	}
	ca_sign_cache_free(c);
	ca_key_clear(&k);
	ca_keygen_free(g);
}

static void
test_der_as_openssl_builds_it(void **state)
{
	struct fx *f = *state;
	static const char *const dns[] = { "web.default.svc",
		"web.default.svc.cluster.local", "*.web.example",
		"a-very-long-host-name-label-to-push-lengths-past-one-octet."
		"another-long-label-of-sixty-characters-or-so-for-the-test."
		"and-one-more-so-the-san-content-passes-two-hundred-fifty-six."
		"example" };
	char longid[600];
	enum ca_key_type roots[] = { CA_KEY_EC_P384, CA_KEY_RSA2048,
		CA_KEY_ED25519 };
	enum ca_key_type leaves[] = { CA_KEY_EC_P256, CA_KEY_EC_P384,
		CA_KEY_RSA2048, CA_KEY_ED25519 };
	struct ca_authority *a;
	struct ca_signer *s;
	struct mc_err e = { 0 };
	/* 2049-12-31T23:00:00Z: its notAfter falls in 2050 */
	int64_t late = 2524604400LL;
	size_t i;

	snprintf(longid, sizeof(longid), "spiffe://cluster.local/ns/a/sa/%0*d",
	    500, 7);
	for (i = 0; i < sizeof(leaves) / sizeof(leaves[0]); i++) {
		if (torture() && ca_key_type_is_rsa(leaves[i]))
			continue;
		der_vs_openssl(f->root, f->signer, leaves[i],
		    "spiffe://cluster.local/ns/a/sa/b", NULL, 0, f->now - 300,
		    f->now + 86400);
	}
	der_vs_openssl(f->root, f->signer, CA_KEY_EC_P256, longid, dns, 4,
	    f->now - 300, f->now + 86400);
	for (i = 0; i < sizeof(roots) / sizeof(roots[0]); i++) {
		if (torture() && ca_key_type_is_rsa(roots[i]))
			continue;
		/* long-lived enough for the leaf that ends in 2050 */
		assert_int_equal(ca_authority_create_root(TD, roots[i],
		    late + 86400 - f->now, f->now, &a, &e), 0);
		assert_non_null(s = ca_authority_signer(a, &e));
		der_vs_openssl(a, s, CA_KEY_EC_P256,
		    "spiffe://cluster.local/ns/a/sa/b", dns, 2, f->now - 300,
		    f->now + 86400);
		der_vs_openssl(a, s, CA_KEY_EC_P256,
		    "spiffe://cluster.local/x", dns, 1, late, late + 7200);
		ca_signer_free(s);
		ca_authority_free(a);
	}
}

static void
test_other_key_types(void **state)
{
	struct fx *f = *state;
	struct ca_issue_req r = { 0 };
	struct ca_issued v;
	enum ca_key_type kts[] = { CA_KEY_RSA2048, CA_KEY_ED25519,
		CA_KEY_EC_P384 };
	X509 *x;
	size_t i;

	r.spiffe_id = "spiffe://cluster.local/ns/a/sa/b";
	r.now = f->now;
	for (i = 0; i < sizeof(kts) / sizeof(kts[0]); i++) {
		r.key_type = kts[i];
		issue_ok(f, &r, &v);
		x = pem_cert(v.cert_pem);
		check_profile(x, r.spiffe_id, kts[i] == CA_KEY_RSA2048);
		assert_int_equal(verify(f->root->cert, x, NULL,
		    (time_t)f->now), 1);
		assert_non_null(strstr(v.key_pem.data, "BEGIN PRIVATE KEY"));
		X509_free(x);
		ca_issued_clear(&v);
	}
}

static void
test_roots_of_every_type(void **state)
{
	struct fx *f = *state;
	enum ca_key_type kts[] = { CA_KEY_EC_P384, CA_KEY_RSA3072,
		CA_KEY_ED25519 };
	struct ca_authority *a;
	struct ca_signer *s;
	struct ca_issuer *is;
	struct ca_issue_req r = { 0 };
	struct ca_issued v;
	struct mc_err e = { 0 };
	X509 *x;
	size_t i;

	r.spiffe_id = "spiffe://cluster.local/ns/a/sa/b";
	r.now = f->now;
	for (i = 0; i < sizeof(kts) / sizeof(kts[0]); i++) {
		if (torture() && kts[i] == CA_KEY_RSA3072)
			continue;
		assert_int_equal(ca_authority_create_root(TD, kts[i], 86400 * 30,
		    f->now, &a, &e), 0);
		assert_non_null(s = ca_authority_signer(a, &e));
		assert_non_null(is = ca_issuer_new(s, 0, NULL, &e));
		assert_int_equal(ca_issue_keypair(is, &r, &v, &e), 0);
		x = pem_cert(v.cert_pem);
		assert_int_equal(verify(a->cert, x, NULL, (time_t)f->now), 1);
		X509_free(x);
		ca_issued_clear(&v);
		ca_issuer_free(is);
		ca_signer_free(s);
		ca_authority_free(a);
	}
}

static void
test_clamp_to_authority(void **state)
{
	struct fx *f = *state;
	struct ca_authority *a;
	struct ca_signer *s;
	struct ca_issuer *is;
	struct ca_issue_req r = { 0 };
	struct ca_issued v;
	struct mc_err e = { 0 };

	assert_int_equal(ca_authority_create_root(TD, CA_KEY_EC_P256, 3600,
	    f->now, &a, &e), 0);
	assert_non_null(s = ca_authority_signer(a, &e));
	assert_non_null(is = ca_issuer_new(s, 0, NULL, &e));
	r.spiffe_id = "spiffe://cluster.local/ns/a/sa/b";
	r.now = f->now;
	assert_int_equal(ca_issue_keypair(is, &r, &v, &e), 0);
	assert_true(v.clamped);
	assert_int_equal(v.not_after, f->now + 3600);
	assert_int_equal(v.not_after, ca_signer_not_after(s));
	ca_issued_clear(&v);
	/* an authority already expired at now: nothing valid to give */
	r.now = f->now + 7200;
	assert_int_equal(ca_issue_keypair(is, &r, &v, &e), -1);
	assert_int_equal(e.status, MC_ST_REJECTED);
	assert_non_null(strstr(e.msg, "authority expires first"));
	ca_issuer_free(is);
	ca_signer_free(s);
	ca_authority_free(a);
}

static void
test_refusals(void **state)
{
	struct fx *f = *state;
	struct ca_issue_req r = { 0 };
	struct ca_issued v;
	struct mc_err e = { 0 };
	const char *bad_dns[] = { "-bad-.example" };

	r.now = f->now;
	r.spiffe_id = "spiffe://other.org/ns/a/sa/b";
	assert_int_equal(ca_issue_keypair(f->is, &r, &v, &e), -1);
	assert_int_equal(e.status, MC_ST_REJECTED);
	assert_non_null(strstr(e.msg, "outside trust domain cluster.local"));
	r.spiffe_id = "spiffe://cluster.local";
	assert_int_equal(ca_issue_keypair(f->is, &r, &v, &e), -1);
	assert_non_null(strstr(e.msg, "must have a path"));
	r.spiffe_id = "spiffe://cluster.local/ns/../sa/b";
	assert_int_equal(ca_issue_keypair(f->is, &r, &v, &e), -1);
	assert_int_equal(e.status, MC_ST_USAGE);
	r.spiffe_id = NULL;
	assert_int_equal(ca_issue_keypair(f->is, &r, &v, &e), -1);
	assert_int_equal(e.status, MC_ST_USAGE);
	r.spiffe_id = "spiffe://cluster.local/ns/a/sa/b";
	r.ttl = CA_LEAF_TTL_MAX_DEFAULT + 1;
	assert_int_equal(ca_issue_keypair(f->is, &r, &v, &e), -1);
	assert_non_null(strstr(e.msg, "configured maximum"));
	r.ttl = 0;
	r.dns = bad_dns;
	r.ndns = 1;
	assert_int_equal(ca_issue_keypair(f->is, &r, &v, &e), -1);
	assert_non_null(strstr(e.msg, "not a host name"));
}

static void
test_openssl_cli_verify(void **state)
{
	struct fx *f = *state;
	struct ca_issue_req r = { 0 };
	struct ca_issued v;
	struct mc_buf b;
	struct mc_err e = { 0 };
	char path[160];
	FILE *fp;

	r.spiffe_id = "spiffe://cluster.local/ns/a/sa/b";
	r.now = f->now;
	issue_ok(f, &r, &v);
	mc_buf_init(&b, 65536);
	assert_int_equal(ca_cert_pem(f->root->cert, &b, &e), 0);
	snprintf(path, sizeof(path), "%s/root.pem", f->dir);
	assert_non_null(fp = fopen(path, "w"));
	fputs(b.data, fp);
	fclose(fp);
	snprintf(path, sizeof(path), "%s/leaf.pem", f->dir);
	assert_non_null(fp = fopen(path, "w"));
	fputs(v.cert_pem, fp);
	fclose(fp);
	sh("openssl verify -purpose sslclient -CAfile %s/root.pem %s/leaf.pem "
	    ">/dev/null", f->dir, f->dir);
	sh("openssl verify -purpose sslserver -CAfile %s/root.pem %s/leaf.pem "
	    ">/dev/null", f->dir, f->dir);
	/* and it must be able to fail: the leaf is not its own anchor */
	/* NOLINTNEXTLINE(cert-env33-c): shell on purpose */
	assert_int_not_equal(system("openssl verify -CAfile /dev/null " /* style: allow system */
	    "/dev/null >/dev/null 2>&1"), 0);
	mc_buf_free(&b);
	ca_issued_clear(&v);
}

static char *
read_all(const char *path)
{
	struct mc_buf b;
	struct mc_err e = { 0 };

	mc_buf_init(&b, 1 << 20);
	if (mc_buf_read_file(&b, path, &e) == -1)
		fail_msg("%s", e.msg);
	return mc_buf_steal(&b, NULL);
}

static int
csr_try(struct fx *f, const char *keyopt, const char *san, const char *ext,
    struct mc_err *e, struct ca_issued *v)
{
	struct ca_issue_req r = { 0 };
	char *pem;
	int rc;

	sh("cd %s && openssl req -new -newkey %s -nodes -keyout csr.key "
	    "-subj /CN=x %s%s %s%s -out csr.pem 2>/dev/null", f->dir, keyopt,
	    san != NULL ? "-addext subjectAltName=" : "", san != NULL ? san : "",
	    ext != NULL ? "-addext " : "", ext != NULL ? ext : "");
	{
		char path[160];

		snprintf(path, sizeof(path), "%s/csr.pem", f->dir);
		pem = read_all(path);
	}
	r.spiffe_id = "spiffe://cluster.local/ns/a/sa/b";
	r.now = f->now;
	rc = ca_issue_csr(f->is, &r, pem, strlen(pem), v, e);
	free(pem);
	return rc;
}

static void
test_csr_policy(void **state)
{
	struct fx *f = *state;
	struct ca_issued v;
	struct mc_err e = { 0 };
	X509 *x;

	/* matching ID: accepted, and the DNS the CSR asked for is ignored */
	assert_int_equal(csr_try(f, "ec -pkeyopt ec_paramgen_curve:P-256",
	    "URI:spiffe://cluster.local/ns/a/sa/b,DNS:evil.example", NULL, &e,
	    &v), 0);
	x = pem_cert(v.cert_pem);
	check_profile(x, "spiffe://cluster.local/ns/a/sa/b", false);
	assert_int_equal(verify(f->root->cert, x, NULL, (time_t)f->now), 1);
	assert_int_equal(X509_get_ext_by_NID(x, NID_subject_alt_name, -1) >= 0,
	    1);
	{
		char *txt = NULL;
		BIO *b = BIO_new(BIO_s_mem());

		X509V3_EXT_print(b, X509_get_ext(x, X509_get_ext_by_NID(x,
		    NID_subject_alt_name, -1)), 0, 0);
		BIO_write(b, "", 1);
		BIO_get_mem_data(b, &txt);
		assert_null(strstr(txt, "evil.example"));
		BIO_free(b);
	}
	X509_free(x);
	ca_issued_clear(&v);
	/* no SAN at all: fine, the caller's ID is used */
	assert_int_equal(csr_try(f, "rsa:2048", NULL, NULL, &e, &v), 0);
	x = pem_cert(v.cert_pem);
	check_profile(x, "spiffe://cluster.local/ns/a/sa/b", true);
	X509_free(x);
	ca_issued_clear(&v);
	/* another ID */
	assert_int_equal(csr_try(f, "ec -pkeyopt ec_paramgen_curve:P-256",
	    "URI:spiffe://cluster.local/ns/kube-system/sa/admin", NULL, &e,
	    &v), -1);
	assert_int_equal(e.status, MC_ST_REJECTED);
	assert_non_null(strstr(e.msg, "asks for spiffe://cluster.local/ns/"
	    "kube-system/sa/admin"));
	/* a CA bit */
	assert_int_equal(csr_try(f, "ec -pkeyopt ec_paramgen_curve:P-256",
	    NULL, "basicConstraints=critical,CA:TRUE", &e, &v), -1);
	assert_non_null(strstr(e.msg, "CA:true"));
	assert_int_equal(csr_try(f, "ec -pkeyopt ec_paramgen_curve:P-256",
	    NULL, "keyUsage=keyCertSign", &e, &v), -1);
	assert_non_null(strstr(e.msg, "keyCertSign"));
	/* weak keys */
	assert_int_equal(csr_try(f, "rsa:1024", NULL, NULL, &e, &v), -1);
	assert_non_null(strstr(e.msg, "1024 bits is too weak"));
	assert_int_equal(csr_try(f, "ec -pkeyopt ec_paramgen_curve:secp256k1",
	    NULL, NULL, &e, &v), -1);
	assert_non_null(strstr(e.msg, "secp256k1 is not accepted"));
	/* garbage */
	{
		struct ca_issue_req r = { 0 };

		r.spiffe_id = "spiffe://cluster.local/ns/a/sa/b";
		r.now = f->now;
		assert_int_equal(ca_issue_csr(f->is, &r, "junk", 4, &v, &e),
		    -1);
		assert_int_equal(e.status, MC_ST_PARSE);
	}
}

static void
test_csr_bad_signature(void **state)
{
	struct fx *f = *state;
	struct ca_issued v;
	struct mc_err e = { 0 };
	unsigned char spki[CA_SPKI_MAX];
	size_t n;
	char path[160], *pem;

	/* Re-sign nothing: flip one byte of the signature in DER. */
	sh("cd %s && openssl req -new -newkey ec -pkeyopt "
	    "ec_paramgen_curve:P-256 -nodes -keyout k.pem -subj /CN=x "
	    "-outform DER -out csr.der 2>/dev/null && "
	    "python3 -c \"import sys; d=bytearray(open('csr.der','rb').read());"
	    " d[-5]^=1; open('bad.der','wb').write(d)\" && "
	    "openssl req -inform DER -in bad.der -out bad.pem", f->dir);
	snprintf(path, sizeof(path), "%s/bad.pem", f->dir);
	pem = read_all(path);
	assert_int_equal(ca_csr_check(pem, strlen(pem),
	    "spiffe://cluster.local/ns/a/sa/b", spki, &n, &e), -1);
	assert_int_equal(e.status, MC_ST_REJECTED);
	assert_non_null(strstr(e.msg, "signature does not verify"));
	free(pem);
	(void)v;
}

static void
test_kek_and_ledger(void **state)
{
	struct fx *f = *state;
	struct store_db *db = NULL;
	struct ca_kek kek, other;
	struct ca_authority *back = NULL;
	struct mc_err e = { 0 };
	char kpath[160], k2path[160], dpath[160];
	struct stat st;

	snprintf(kpath, sizeof(kpath), "%s/kek", f->dir);
	snprintf(k2path, sizeof(k2path), "%s/kek2", f->dir);
	snprintf(dpath, sizeof(dpath), "%s/ledger.db", f->dir);
	assert_int_equal(ca_kek_create(kpath, &kek, &e), 0);
	assert_int_equal(stat(kpath, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(st.st_size, CA_KEK_LEN);
	assert_int_equal(ca_kek_create(kpath, &other, &e), -1); /* exists */
	assert_int_equal(store_open(dpath, STORE_CREATE, &db, &e), 0);
	assert_int_equal(ca_authority_save(db, &kek, f->root, STORE_AUTH_ACTIVE,
	    f->now, "init", "test", &e), 0);
	assert_int_equal(f->root->id, 1);
	assert_int_equal(ca_authority_load_active(db, &kek, TD, &back, &e), 0);
	assert_int_equal(X509_cmp(back->cert, f->root->cert), 0);
	assert_int_equal(EVP_PKEY_eq(back->key, f->root->key), 1);
	ca_authority_free(back);
	back = NULL;
	/* the wrong KEK is a clear error, not a crash */
	assert_int_equal(ca_kek_create(k2path, &other, &e), 0);
	assert_int_equal(ca_authority_load(db, &other, 1, &back, &e), -1);
	assert_int_equal(e.status, MC_ST_REJECTED);
	assert_string_equal(e.msg, "KEK does not decrypt authority 1 (wrong "
	    "KEK file, or the sealed key was altered)");
	/* a KEK readable by others is refused */
	chmod(k2path, 0640);
	assert_int_equal(ca_kek_load(k2path, &other, &e), -1);
	assert_non_null(strstr(e.msg, "mode 640"));
	chmod(k2path, 0600);
	assert_int_equal(ca_kek_load(k2path, &other, &e), 0);
	/* truncated KEK file */
	assert_int_equal(truncate(k2path, 16), 0);
	assert_int_equal(ca_kek_load(k2path, &other, &e), -1);
	assert_non_null(strstr(e.msg, "exactly 32 bytes"));
	/* a sealed key moved to another row does not open (AAD) */
	{
		unsigned char *blob;
		size_t len;
		EVP_PKEY *pk = NULL;

		assert_int_equal(ca_kek_seal(&kek, 1, f->root->key, &blob, &len,
		    &e), 0);
		assert_int_equal(ca_kek_open(&kek, 2, blob, len, &pk, &e), -1);
		assert_non_null(strstr(e.msg, "authority 2"));
		assert_int_equal(ca_kek_open(&kek, 1, blob, len, &pk, &e), 0);
		EVP_PKEY_free(pk);
		free(blob);
	}
	/* no active authority elsewhere */
	assert_int_equal(ca_authority_load_active(db, &kek, "other.org", &back,
	    &e), -1);
	assert_non_null(strstr(e.msg, "no active authority"));
	ca_kek_clear(&kek);
	ca_kek_clear(&other);
	store_close(db);
}

static void
test_record_in_ledger(void **state)
{
	struct fx *f = *state;
	struct store_db *db = NULL;
	struct ca_kek kek;
	struct ca_issuer *is;
	struct ca_issue_req r = { 0 };
	struct ca_issued v[3];
	struct store_cert c;
	struct mc_err e = { 0 };
	char kpath[160], dpath[160];
	bool found;
	int i;

	snprintf(kpath, sizeof(kpath), "%s/kek", f->dir);
	snprintf(dpath, sizeof(dpath), "%s/ledger.db", f->dir);
	assert_int_equal(ca_kek_create(kpath, &kek, &e), 0);
	assert_int_equal(store_open(dpath, STORE_CREATE, &db, &e), 0);
	assert_int_equal(ca_authority_save(db, &kek, f->root, STORE_AUTH_ACTIVE,
	    f->now, "init", "test", &e), 0);
	assert_non_null(is = ca_issuer_new(f->signer, f->root->id, NULL,
	    &e));
	r.ns = "default";
	r.sa = "web";
	r.now = f->now;
	for (i = 0; i < 3; i++)
		assert_int_equal(ca_issue_keypair(is, &r, &v[i], &e), 0);
	assert_int_equal(ca_issue_record(db, is, v, 2, false, "test", f->now,
	    &e), 0);
	assert_int_equal(ca_issue_record(db, is, &v[2], 1, true, "test",
	    f->now, &e), 0);
	assert_int_equal(store_cert_get(db, v[0].serial, &c, &found, &e), 0);
	assert_true(found);
	assert_int_equal(c.status, STORE_CERT_SUPERSEDED);
	assert_string_equal(c.cert_pem, v[0].cert_pem);
	assert_string_equal(c.namespace_, "default");
	store_cert_clear(&c);
	assert_int_equal(store_cert_get(db, v[2].serial, &c, &found, &e), 0);
	assert_int_equal(c.status, STORE_CERT_ACTIVE);
	store_cert_clear(&c);
	/* the same serial twice is refused, and nothing of the batch stays */
	assert_int_equal(ca_issue_record(db, is, v, 1, false, "test", f->now,
	    &e), -1);
	for (i = 0; i < 3; i++)
		ca_issued_clear(&v[i]);
	ca_issuer_free(is);
	ca_kek_clear(&kek);
	store_close(db);
}

static void
test_import_istio_cacerts(void **state)
{
	struct fx *f = *state;
	struct ca_authority *a = NULL;
	struct ca_signer *s;
	struct ca_issuer *is;
	struct ca_issue_req r = { 0 };
	struct ca_issued v;
	struct mc_buf chain;
	struct mc_err e = { 0 };
	STACK_OF(X509) *sk = NULL;
	X509 *leaf, *eroot;
	char path[160], *pem;

	sh("cd %s && mkdir cacerts && cd cacerts && "
	    "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 "
	    "-nodes -keyout root-key.pem -out root-cert.pem -days 30 "
	    "-subj '/O=Enterprise/CN=Enterprise Root' "
	    "-addext basicConstraints=critical,CA:TRUE "
	    "-addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null && "
	    "openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 "
	    "-nodes -keyout ca-key.pem -out ca.csr -subj "
	    "'/O=Enterprise/CN=meshca intermediate' 2>/dev/null && "
	    "printf 'basicConstraints=critical,CA:TRUE,pathlen:0\\n"
	    "keyUsage=critical,keyCertSign,cRLSign\\n"
	    "subjectKeyIdentifier=hash\\nauthorityKeyIdentifier=keyid\\n"
	    "subjectAltName=URI:spiffe://cluster.local\\n' > ext.cnf && "
	    "openssl x509 -req -in ca.csr -CA root-cert.pem -CAkey "
	    "root-key.pem -CAcreateserial -days 20 -extfile ext.cnf "
	    "-out ca-cert.pem 2>/dev/null && "
	    "cat ca-cert.pem root-cert.pem > cert-chain.pem && "
	    "chmod 644 ca-key.pem", f->dir);
	snprintf(path, sizeof(path), "%s/cacerts", f->dir);
	/* openssl stamped notBefore with its own clock, maybe a second
	 * after setup's */
	f->now = (int64_t)time(NULL) + 2;
	/* a key file others can read is refused */
	assert_int_equal(ca_authority_import_istio(path, TD, f->now, &a, &e),
	    -1);
	assert_int_equal(e.status, MC_ST_REJECTED);
	assert_non_null(strstr(e.msg, "ca-key.pem: mode 644"));
	sh("chmod 600 %s/cacerts/ca-key.pem", f->dir);
	/* the wrong trust domain is refused (the CA's own ID says so) */
	assert_int_equal(ca_authority_import_istio(path, "other.org", f->now,
	    &a, &e), -1);
	assert_non_null(strstr(e.msg, "is not spiffe://other.org"));
	/* after the intermediate expires: refused */
	assert_int_equal(ca_authority_import_istio(path, TD,
	    f->now + 25 * 86400, &a, &e), -1);
	assert_non_null(strstr(e.msg, "does not chain"));
	assert_int_equal(ca_authority_import_istio(path, TD, f->now, &a, &e),
	    0);
	assert_non_null(s = ca_authority_signer(a, &e));
	assert_non_null(is = ca_issuer_new(s, 0, NULL, &e));
	r.spiffe_id = "spiffe://cluster.local/ns/a/sa/b";
	r.now = f->now;
	assert_int_equal(ca_issue_keypair(is, &r, &v, &e), 0);
	assert_false(v.clamped);
	leaf = pem_cert(v.cert_pem);
	mc_buf_init(&chain, 1 << 16);
	assert_int_equal(ca_authority_chain_pem(a, &chain, &e), 0);
	assert_int_equal(ca_certs_from_pem(chain.data, chain.len, "chain", &sk,
	    &e), 0);
	assert_int_equal(sk_X509_num(sk), 1); /* the intermediate */
	snprintf(path, sizeof(path), "%s/cacerts/root-cert.pem", f->dir);
	pem = read_all(path);
	eroot = pem_cert(pem);
	free(pem);
	assert_int_equal(verify(eroot, leaf, sk, (time_t)f->now), 1);
	/* without the intermediate there is no path */
	assert_int_not_equal(verify(eroot, leaf, NULL, (time_t)f->now), 1);
	/* a 30-day leaf under a 20-day intermediate is clamped */
	ca_issued_clear(&v);
	r.ttl = 30 * 86400;
	assert_int_equal(ca_issue_keypair(is, &r, &v, &e), 0);
	assert_true(v.clamped);
	assert_int_equal(v.not_after, a->not_after);
	ERR_clear_error();
	sk_X509_pop_free(sk, X509_free);
	X509_free(eroot);
	X509_free(leaf);
	mc_buf_free(&chain);
	ca_issued_clear(&v);
	ca_issuer_free(is);
	ca_signer_free(s);
	ca_authority_free(a);
	/* a key that does not match the certificate */
	sh("cd %s/cacerts && openssl genpkey -algorithm EC -pkeyopt "
	    "ec_paramgen_curve:P-256 -out ca-key.pem 2>/dev/null && "
	    "chmod 600 ca-key.pem", f->dir);
	snprintf(path, sizeof(path), "%s/cacerts", f->dir);
	assert_int_equal(ca_authority_import_istio(path, TD, f->now, &a, &e),
	    -1);
	assert_non_null(strstr(e.msg, "does not match"));
}

static void
test_signer_wire(void **state)
{
	struct fx *f = *state;
	struct ca_sign_req r = { 0 };
	struct ca_sign_req_msg m;
	struct ca_sign_resp resp, back;
	struct mc_buf b, rb;
	struct mc_err e = { 0 }, err = { 0 };
	struct ca_keygen *g;
	struct ca_key k;
	unsigned char spki[CA_SPKI_MAX];
	const char *dns[] = { "a.example", "b.example" };
	size_t n, i;

	assert_non_null(g = ca_keygen_new(CA_KEY_EC_P256, &e));
	assert_int_equal(ca_keygen_generate(g, &k, &e), 0);
	assert_int_equal(ca_key_spki_der(&k, spki, sizeof(spki), &n, &e), 0);
	r.spiffe_id = "spiffe://cluster.local/ns/a/sa/b";
	r.dns = dns;
	r.ndns = 2;
	r.spki = spki;
	r.spki_len = n;
	r.not_before = f->now;
	r.not_after = f->now + 60;
	mc_buf_init(&b, 1 << 16);
	assert_int_equal(ca_sign_req_encode(&r, &b, &e), 0);
	assert_int_equal(ca_sign_req_decode((unsigned char *)b.data, b.len, &m,
	    &e), 0);
	assert_string_equal(m.req.spiffe_id, r.spiffe_id);
	assert_int_equal(m.req.ndns, 2);
	assert_string_equal(m.req.dns[1], "b.example");
	assert_int_equal(m.req.spki_len, n);
	assert_memory_equal(m.req.spki, spki, n);
	assert_int_equal(m.req.not_after, f->now + 60);
	/* every truncation and one trailing byte are refused */
	for (i = 0; i < b.len; i++)
		assert_int_equal(ca_sign_req_decode((unsigned char *)b.data, i,
		    &(struct ca_sign_req_msg){ 0 }, &e), -1);
	assert_int_equal(mc_buf_append(&b, "x", 1, &e), 0);
	assert_int_equal(ca_sign_req_decode((unsigned char *)b.data, b.len,
	    &(struct ca_sign_req_msg){ 0 }, &e), -1);
	/* sign the decoded request and carry the answer back */
	assert_int_equal(ca_signer_sign(f->signer, &m.req, &resp, &e), 0);
	mc_buf_init(&rb, 1 << 17);
	assert_int_equal(ca_sign_resp_encode(&resp, NULL, &rb, &e), 0);
	assert_int_equal(ca_sign_resp_decode((unsigned char *)rb.data, rb.len,
	    &back, &e), 0);
	assert_string_equal(back.serial_hex, resp.serial_hex);
	assert_int_equal(back.der_len, resp.der_len);
	assert_memory_equal(back.der, resp.der, resp.der_len);
	ca_sign_resp_clear(&back);
	/* an error travels too */
	mc_buf_reset(&rb);
	mc_err_set(&err, MC_ST_REJECTED, 0, "sign request: nope");
	assert_int_equal(ca_sign_resp_encode(NULL, &err, &rb, &e), 0);
	assert_int_equal(ca_sign_resp_decode((unsigned char *)rb.data, rb.len,
	    &back, &e), -1);
	assert_int_equal(e.status, MC_ST_REJECTED);
	assert_string_equal(e.msg, "sign request: nope");
	ca_sign_resp_clear(&resp);
	/* from the wire, an EC point off its curve is refused... */
	spki[n - 1] ^= 0x01;
	assert_int_equal(ca_signer_sign(f->signer, &m.req, &resp, &e), 0);
	ca_sign_resp_clear(&resp); /* m.req holds its own copy: still good */
	{
		struct ca_sign_req_msg bad;
		struct mc_buf bb;

		mc_buf_init(&bb, 1 << 16);
		assert_int_equal(ca_sign_req_encode(&r, &bb, &e), 0);
		assert_int_equal(ca_sign_req_decode((unsigned char *)bb.data,
		    bb.len, &bad, &e), 0);
		assert_false(bad.req.key_checked);
		assert_int_equal(ca_signer_sign(f->signer, &bad.req, &resp,
		    &e), -1);
		assert_non_null(strstr(e.msg, "lie on its curve"));
		/* ...while a caller vouching for its key skips the decode */
		r.key_checked = true;
		assert_int_equal(ca_signer_sign(f->signer, &r, &resp, &e), 0);
		ca_sign_resp_clear(&resp);
		r.key_checked = false;
		ca_sign_req_msg_clear(&bad);
		mc_buf_free(&bb);
	}
	spki[n - 1] ^= 0x01;
	/* a weak key in the SPKI is refused by the signer itself */
	{
		EVP_PKEY *rsa = EVP_RSA_gen(1024);
		unsigned char *p = NULL;
		int len = i2d_PUBKEY(rsa, &p);

		m.req.spki = p;
		m.req.spki_len = (size_t)len;
		assert_int_equal(ca_signer_sign(f->signer, &m.req, &resp, &e),
		    -1);
		assert_non_null(strstr(e.msg, "too weak"));
		OPENSSL_free(p);
		EVP_PKEY_free(rsa);
	}
	ca_sign_resp_clear(&resp);
	ca_sign_req_msg_clear(&m);
	mc_buf_free(&b);
	mc_buf_free(&rb);
	ca_key_clear(&k);
	ca_keygen_free(g);
}

int
main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_leaf_profile_and_verify),
		T(test_root_profile),
		T(test_fast_path_byte_identical_p256),
		T(test_fast_path_byte_identical_p384),
		T(test_der_as_openssl_builds_it),
		T(test_other_key_types),
		T(test_roots_of_every_type),
		T(test_clamp_to_authority),
		T(test_refusals),
		T(test_openssl_cli_verify),
		T(test_csr_policy),
		T(test_csr_bad_signature),
		T(test_kek_and_ledger),
		T(test_record_in_ledger),
		T(test_import_istio_cacerts),
		T(test_signer_wire),
	};

	return cmocka_run_group_tests_name("ca_issue", tests, NULL, NULL);
}
