/*
 * test_keygen.c: key types, the hand-made SPKI and PKCS#8 encodings
 * against OpenSSL's (including scalars with leading zero bytes, which
 * must be padded), and the refusal of weak or unknown keys.
 */
#include <setjmp.h>
#include <stdbool.h>
#include <stdlib.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "ca/keygen.h"
#include "common/status.h"

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

static void
test_type_names(void **state)
{
	enum ca_key_type t;
	struct mc_err e = { 0 };
	int i;

	for (i = CA_KEY_EC_P256; i <= CA_KEY_ED25519; i++) {
		assert_int_equal(ca_key_type_parse(ca_key_type_name(
		    (enum ca_key_type)i), &t, &e), 0);
		assert_int_equal(t, i);
	}
	assert_int_equal(ca_key_type_parse("rsa1024", &t, &e), -1);
	assert_int_equal(e.status, MC_ST_USAGE);
	assert_non_null(strstr(e.msg, "rsa1024"));
	assert_int_equal(ca_key_type_parse(NULL, &t, &e), -1);
	assert_true(ca_key_type_is_ec(CA_KEY_EC_P384));
	assert_false(ca_key_type_is_ec(CA_KEY_ED25519));
	assert_true(ca_key_type_is_rsa(CA_KEY_RSA4096));
}

/* The same key through our encoders and OpenSSL's. */
static void
same_encodings(const struct ca_key *k)
{
	struct mc_buf a, b;
	struct mc_err e = { 0 };
	unsigned char spki[CA_SPKI_MAX], *ref = NULL;
	size_t n;
	int m;

	mc_buf_init_secret(&a, 8192);
	mc_buf_init_secret(&b, 8192);
	assert_int_equal(ca_key_pkcs8_pem(k, &a, &e), 0);
	assert_int_equal(ca_key_pkcs8_pem_openssl(k->pkey, &b, &e), 0);
	assert_int_equal(a.len, b.len);
	assert_memory_equal(a.data, b.data, a.len);
	assert_int_equal(ca_key_spki_der(k, spki, sizeof(spki), &n, &e), 0);
	m = i2d_PUBKEY(k->pkey, &ref);
	assert_int_equal((size_t)m, n);
	assert_memory_equal(spki, ref, n);
	OPENSSL_free(ref);
	mc_buf_free(&a);
	mc_buf_free(&b);
}

static void
test_generated_keys(void **state)
{
	struct ca_keygen *g;
	struct ca_key k;
	struct mc_err e = { 0 };
	int t, i;

	for (t = CA_KEY_EC_P256; t <= CA_KEY_ED25519; t++) {
		if (t == CA_KEY_RSA3072 || t == CA_KEY_RSA4096)
			continue; /* slow, and the same code as 2048 */
		assert_non_null(g = ca_keygen_new((enum ca_key_type)t, &e));
		for (i = 0; i < (ca_key_type_is_ec((enum ca_key_type)t) &&
		    !torture() ? 64 : 1); i++) {
			assert_int_equal(ca_keygen_generate(g, &k, &e), 0);
			assert_int_equal(k.type, t);
			if (ca_key_type_is_ec(k.type)) {
				assert_int_equal(k.publen, t == CA_KEY_EC_P256 ?
				    65 : 97);
				assert_int_equal(k.privlen, t == CA_KEY_EC_P256 ?
				    32 : 48);
			}
			same_encodings(&k);
			ca_key_clear(&k);
			assert_null(k.pkey);
		}
		ca_keygen_free(g);
	}
}

/* An EC key with private scalar d (small, so its encoding needs
 * padding with leading zero bytes). */
static EVP_PKEY *
ec_key_with_scalar(const char *group, int nid, unsigned long d)
{
	EC_GROUP *grp = EC_GROUP_new_by_curve_name(nid);
	EC_POINT *pt = EC_POINT_new(grp);
	BIGNUM *bn = BN_new();
	OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
	OSSL_PARAM *params;
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
	EVP_PKEY *pk = NULL;
	unsigned char pub[133];
	size_t publen;

	assert_non_null(pt);
	assert_non_null(bn);
	assert_non_null(bld);
	assert_non_null(ctx);
	assert_int_equal(BN_set_word(bn, d), 1);
	assert_int_equal(EC_POINT_mul(grp, pt, bn, NULL, NULL, NULL), 1);
	publen = EC_POINT_point2oct(grp, pt, POINT_CONVERSION_UNCOMPRESSED,
	    pub, sizeof(pub), NULL);
	OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME,
	    group, 0);
	OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, pub,
	    publen);
	OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_PRIV_KEY, bn);
	params = OSSL_PARAM_BLD_to_param(bld);
	assert_int_equal(EVP_PKEY_fromdata_init(ctx), 1);
	assert_int_equal(EVP_PKEY_fromdata(ctx, &pk, EVP_PKEY_KEYPAIR, params),
	    1);
	OSSL_PARAM_free(params);
	OSSL_PARAM_BLD_free(bld);
	EVP_PKEY_CTX_free(ctx);
	BN_free(bn);
	EC_POINT_free(pt);
	EC_GROUP_free(grp);
	return pk;
}

static void
test_padded_scalars(void **state)
{
	struct ca_key k;
	struct mc_err e = { 0 };
	EVP_PKEY *pk;
	unsigned long ds[] = { 1, 2, 0xffff, 0x1234567 };
	size_t i;

	for (i = 0; i < sizeof(ds) / sizeof(ds[0]); i++) {
		pk = ec_key_with_scalar("P-256", NID_X9_62_prime256v1, ds[i]);
		assert_int_equal(ca_key_from_pkey(pk, &k, &e), 0);
		assert_int_equal(k.privlen, 32);
		assert_int_equal(k.priv[0], 0);
		same_encodings(&k);
		ca_key_clear(&k);
		EVP_PKEY_free(pk);
		pk = ec_key_with_scalar("P-384", NID_secp384r1, ds[i]);
		assert_int_equal(ca_key_from_pkey(pk, &k, &e), 0);
		assert_int_equal(k.privlen, 48);
		same_encodings(&k);
		ca_key_clear(&k);
		EVP_PKEY_free(pk);
	}
}

static void
test_weak_and_unknown_keys(void **state)
{
	struct ca_key k;
	struct mc_err e = { 0 };
	EVP_PKEY *pk;

	pk = EVP_RSA_gen(1024);
	assert_int_equal(ca_key_from_pkey(pk, &k, &e), -1);
	assert_int_equal(e.status, MC_ST_REJECTED);
	assert_non_null(strstr(e.msg, "1024 bits is too weak"));
	EVP_PKEY_free(pk);
	pk = EVP_EC_gen("secp256k1");
	assert_int_equal(ca_key_from_pkey(pk, &k, &e), -1);
	assert_non_null(strstr(e.msg, "secp256k1 is not accepted"));
	EVP_PKEY_free(pk);
	pk = EVP_EC_gen("P-521");
	assert_int_equal(ca_key_from_pkey(pk, &k, &e), -1);
	assert_non_null(strstr(e.msg, "not accepted"));
	EVP_PKEY_free(pk);
	pk = EVP_PKEY_Q_keygen(NULL, NULL, "ED448");
	assert_int_equal(ca_key_from_pkey(pk, &k, &e), -1);
	assert_non_null(strstr(e.msg, "ED448"));
	EVP_PKEY_free(pk);
	/* accepted ones carry their type */
	if (torture())
		return;
	pk = EVP_RSA_gen(3072);
	assert_int_equal(ca_key_from_pkey(pk, &k, &e), 0);
	assert_int_equal(k.type, CA_KEY_RSA3072);
	ca_key_clear(&k);
	EVP_PKEY_free(pk);
}

static void
test_pem_layout(void **state)
{
	struct mc_buf b;
	struct mc_err e = { 0 };
	unsigned char der[100];
	size_t i;

	for (i = 0; i < sizeof(der); i++)
		der[i] = (unsigned char)i;
	mc_buf_init(&b, 4096);
	assert_int_equal(ca_pem_encode("X", der, 96, &b, &e), 0);
	/* 96 bytes: exactly two full 64-column lines */
	assert_string_equal(b.data + b.len - 16, "-----END X-----\n");
	assert_int_equal(b.len, strlen("-----BEGIN X-----\n") + 2 * 65 +
	    strlen("-----END X-----\n"));
	mc_buf_reset(&b);
	/* an output ceiling is honoured */
	mc_buf_free(&b);
	mc_buf_init(&b, 20);
	assert_int_equal(ca_pem_encode("X", der, 100, &b, &e), -1);
	mc_buf_free(&b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_type_names),
		cmocka_unit_test(test_generated_keys),
		cmocka_unit_test(test_padded_scalars),
		cmocka_unit_test(test_weak_and_unknown_keys),
		cmocka_unit_test(test_pem_layout),
	};

	return cmocka_run_group_tests_name("ca_keygen", tests, NULL, NULL);
}
