/*
 * keygen.c: key generation and key encodings (see keygen.h). Keys made
 * here are trusted; keys handed to ca_key_from_pkey() come from disk or
 * from a CSR and are checked for type and strength before use.
 *
 * Why the hand-made DER: on OpenSSL 3.0, X509_set_pubkey() and
 * PEM_write_bio_PrivateKey() go through the provider encoder machinery
 * and cost ~146 and ~54 microseconds per call, while generating a P-256
 * key costs ~10. The structures are fixed-layout for a given curve
 * (RFC 5480 section 2 for SubjectPublicKeyInfo, RFC 5208 section 5 for
 * PrivateKeyInfo, RFC 5915 section 3 for ECPrivateKey), so we lay them
 * out from the point and scalar directly.
 */
#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#include "ca/keygen.h"
#include "common/alloc.h"
#include "common/status.h"

struct ca_keygen {
	enum ca_key_type type;
	EVP_PKEY_CTX *ctx;
};

static const char *const type_names[] = {
	"ec-p256", "ec-p384", "rsa2048", "rsa3072", "rsa4096", "ed25519"
};

const char *
ca_key_type_name(enum ca_key_type t)
{
	if ((unsigned)t >= sizeof(type_names) / sizeof(type_names[0]))
		return "unknown";
	return type_names[t];
}

int
ca_key_type_parse(const char *s, enum ca_key_type *out, struct mc_err *e)
{
	size_t i;

	for (i = 0; i < sizeof(type_names) / sizeof(type_names[0]); i++) {
		if (s != NULL && strcmp(s, type_names[i]) == 0) {
			*out = (enum ca_key_type)i;
			return 0;
		}
	}
	mc_err_set(e, MC_ST_USAGE, 0, "key type \"%s\": expected ec-p256, "
	    "ec-p384, rsa2048, rsa3072, rsa4096 or ed25519",
	    s != NULL ? s : "");
	return -1;
}

bool
ca_key_type_is_ec(enum ca_key_type t)
{
	return t == CA_KEY_EC_P256 || t == CA_KEY_EC_P384;
}

bool
ca_key_type_is_rsa(enum ca_key_type t)
{
	return t == CA_KEY_RSA2048 || t == CA_KEY_RSA3072 ||
	    t == CA_KEY_RSA4096;
}

void
ca_openssl_error(struct mc_err *e, int status, const char *what)
{
	char buf[160];
	unsigned long code;

	if ((code = ERR_get_error()) != 0)
		ERR_error_string_n(code, buf, sizeof(buf));
	else
		snprintf(buf, sizeof(buf), "no detail from OpenSSL");
	ERR_clear_error();
	mc_err_set(e, status, 0, "%s: %s", what, buf);
}

/* Fixed DER prefixes, by curve. */
static const unsigned char spki_p256[] = {
	0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d,
	0x02, 0x01, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01,
	0x07, 0x03, 0x42, 0x00
};
static const unsigned char spki_p384[] = {
	0x30, 0x76, 0x30, 0x10, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d,
	0x02, 0x01, 0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22, 0x03, 0x62,
	0x00
};
/*
 * PrivateKeyInfo { version 0, AlgorithmIdentifier { id-ecPublicKey,
 * namedCurve }, OCTET STRING { ECPrivateKey { version 1, privateKey,
 * [1] publicKey } } }. OpenSSL leaves out ECPrivateKey's [0] parameters
 * inside PKCS#8 (RFC 5915 section 3: they are in the AlgorithmIdentifier),
 * and so do we.
 */
static const unsigned char p8_p256_head[] = {
	0x30, 0x81, 0x87, 0x02, 0x01, 0x00, 0x30, 0x13, 0x06, 0x07, 0x2a,
	0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a, 0x86, 0x48,
	0xce, 0x3d, 0x03, 0x01, 0x07, 0x04, 0x6d, 0x30, 0x6b, 0x02, 0x01,
	0x01, 0x04, 0x20
};
static const unsigned char p8_p256_mid[] = { 0xa1, 0x44, 0x03, 0x42, 0x00 };
static const unsigned char p8_p384_head[] = {
	0x30, 0x81, 0xb6, 0x02, 0x01, 0x00, 0x30, 0x10, 0x06, 0x07, 0x2a,
	0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x05, 0x2b, 0x81, 0x04,
	0x00, 0x22, 0x04, 0x81, 0x9e, 0x30, 0x81, 0x9b, 0x02, 0x01, 0x01,
	0x04, 0x30
};
static const unsigned char p8_p384_mid[] = { 0xa1, 0x64, 0x03, 0x62, 0x00 };

struct ca_keygen *
ca_keygen_new(enum ca_key_type t, struct mc_err *e)
{
	struct ca_keygen *g = NULL;
	const char *alg;
	int ok;

	if ((g = mc_calloc(1, sizeof(*g))) == NULL) {
		mc_err_set(e, MC_ST_NOMEM, 0, "keygen: out of memory");
		return NULL;
	}
	g->type = t;
	alg = ca_key_type_is_ec(t) ? "EC" : ca_key_type_is_rsa(t) ? "RSA" :
	    "ED25519";
	if ((g->ctx = EVP_PKEY_CTX_new_from_name(NULL, alg, NULL)) == NULL ||
	    EVP_PKEY_keygen_init(g->ctx) <= 0)
		goto fail;
	switch (t) {
	case CA_KEY_EC_P256:
		ok = EVP_PKEY_CTX_set_group_name(g->ctx, "P-256");
		break;
	case CA_KEY_EC_P384:
		ok = EVP_PKEY_CTX_set_group_name(g->ctx, "P-384");
		break;
	case CA_KEY_RSA2048:
		ok = EVP_PKEY_CTX_set_rsa_keygen_bits(g->ctx, 2048);
		break;
	case CA_KEY_RSA3072:
		ok = EVP_PKEY_CTX_set_rsa_keygen_bits(g->ctx, 3072);
		break;
	case CA_KEY_RSA4096:
		ok = EVP_PKEY_CTX_set_rsa_keygen_bits(g->ctx, 4096);
		break;
	default:
		ok = 1;
		break;
	}
	if (ok <= 0)
		goto fail;
	return g;
fail:
	ca_openssl_error(e, MC_ST_INTERNAL, "keygen: set up generator");
	ca_keygen_free(g);
	return NULL;
}

void
ca_keygen_free(struct ca_keygen *g)
{
	if (g == NULL)
		return;
	EVP_PKEY_CTX_free(g->ctx);
	mc_free(g);
}

/* Reads the point (and the scalar, when present) of an EC key. */
static int
ec_raw(struct ca_key *k, struct mc_err *e)
{
	BIGNUM *d = NULL;
	size_t want = k->type == CA_KEY_EC_P256 ? 65 : 97;
	int ret = -1;

	if (EVP_PKEY_get_octet_string_param(k->pkey,
	    OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, k->pub, sizeof(k->pub),
	    &k->publen) != 1 || k->publen != want || k->pub[0] != 0x04) {
		ca_openssl_error(e, MC_ST_INTERNAL, "key: read EC point");
		goto out;
	}
	k->privlen = 0;
	if (EVP_PKEY_get_bn_param(k->pkey, OSSL_PKEY_PARAM_PRIV_KEY, &d) ==
	    1) {
		k->privlen = k->type == CA_KEY_EC_P256 ? 32 : 48;
		if (BN_bn2binpad(d, k->priv, (int)k->privlen) < 0) {
			ca_openssl_error(e, MC_ST_INTERNAL, "key: read scalar");
			goto out;
		}
	}
	ERR_clear_error();
	ret = 0;
out:
	BN_clear_free(d);
	return ret;
}

int
ca_keygen_generate(struct ca_keygen *g, struct ca_key *k, struct mc_err *e)
{
	memset(k, 0, sizeof(*k));
	k->type = g->type;
	if (EVP_PKEY_generate(g->ctx, &k->pkey) <= 0) {
		ca_openssl_error(e, MC_ST_INTERNAL, "keygen: generate");
		return -1;
	}
	if (ca_key_type_is_ec(k->type) && ec_raw(k, e) == -1) {
		ca_key_clear(k);
		return -1;
	}
	return 0;
}

int
ca_key_from_pkey(EVP_PKEY *pkey, struct ca_key *k, struct mc_err *e)
{
	char group[32];
	int bits;

	memset(k, 0, sizeof(*k));
	if (pkey == NULL) {
		mc_err_set(e, MC_ST_USAGE, 0, "key: no key given");
		return -1;
	}
	if (EVP_PKEY_is_a(pkey, "EC")) {
		if (EVP_PKEY_get_utf8_string_param(pkey,
		    OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof(group),
		    NULL) != 1) {
			ERR_clear_error();
			mc_err_set(e, MC_ST_REJECTED, 0, "key: EC key without "
			    "a named curve (explicit parameters are refused)");
			return -1;
		}
		if (strcmp(group, "prime256v1") == 0 ||
		    strcmp(group, "P-256") == 0)
			k->type = CA_KEY_EC_P256;
		else if (strcmp(group, "secp384r1") == 0 ||
		    strcmp(group, "P-384") == 0)
			k->type = CA_KEY_EC_P384;
		else {
			mc_err_set(e, MC_ST_REJECTED, 0, "key: EC curve %s is "
			    "not accepted (P-256 or P-384)", group);
			return -1;
		}
	} else if (EVP_PKEY_is_a(pkey, "RSA")) {
		bits = EVP_PKEY_get_bits(pkey);
		if (bits < 2048) {
			mc_err_set(e, MC_ST_REJECTED, 0, "key: RSA key of %d "
			    "bits is too weak (at least 2048)", bits);
			return -1;
		}
		k->type = bits >= 4096 ? CA_KEY_RSA4096 : bits >= 3072 ?
		    CA_KEY_RSA3072 : CA_KEY_RSA2048;
	} else if (EVP_PKEY_is_a(pkey, "ED25519")) {
		k->type = CA_KEY_ED25519;
	} else {
		mc_err_set(e, MC_ST_REJECTED, 0, "key: type %s is not "
		    "accepted (EC P-256/P-384, RSA >= 2048, Ed25519)",
		    EVP_PKEY_get0_type_name(pkey) != NULL ?
		    EVP_PKEY_get0_type_name(pkey) : "unknown");
		return -1;
	}
	if (!EVP_PKEY_up_ref(pkey)) {
		ca_openssl_error(e, MC_ST_INTERNAL, "key: reference");
		return -1;
	}
	k->pkey = pkey;
	if (ca_key_type_is_ec(k->type) && ec_raw(k, e) == -1) {
		ca_key_clear(k);
		return -1;
	}
	return 0;
}

void
ca_key_clear(struct ca_key *k)
{
	if (k == NULL)
		return;
	EVP_PKEY_free(k->pkey);
	OPENSSL_cleanse(k->priv, sizeof(k->priv));
	memset(k, 0, sizeof(*k));
}

int
ca_key_spki_der(const struct ca_key *k, unsigned char *out, size_t cap,
    size_t *len, struct mc_err *e)
{
	unsigned char *p = NULL;
	const unsigned char *pre;
	size_t prelen;
	int n;

	if (ca_key_type_is_ec(k->type) && k->publen > 0) {
		pre = k->type == CA_KEY_EC_P256 ? spki_p256 : spki_p384;
		prelen = k->type == CA_KEY_EC_P256 ? sizeof(spki_p256) :
		    sizeof(spki_p384);
		if (prelen + k->publen > cap)
			goto small;
		memcpy(out, pre, prelen);
		memcpy(out + prelen, k->pub, k->publen);
		*len = prelen + k->publen;
		return 0;
	}
	if ((n = i2d_PUBKEY(k->pkey, &p)) <= 0) {
		ca_openssl_error(e, MC_ST_INTERNAL, "key: encode public key");
		return -1;
	}
	if ((size_t)n > cap) {
		OPENSSL_free(p);
		goto small;
	}
	memcpy(out, p, (size_t)n);
	*len = (size_t)n;
	OPENSSL_free(p);
	return 0;
small:
	mc_err_set(e, MC_ST_INTERNAL, 0, "key: public key larger than %zu "
	    "bytes", cap);
	return -1;
}

int
ca_pem_encode(const char *label, const unsigned char *der, size_t len,
    struct mc_buf *out, struct mc_err *e)
{
	char line[66];
	size_t off, n;
	int w;

	if (mc_buf_puts(out, "-----BEGIN ", e) == -1 ||
	    mc_buf_puts(out, label, e) == -1 ||
	    mc_buf_puts(out, "-----\n", e) == -1)
		return -1;
	/* 48 bytes of DER make one 64-column line, as PEM_write does. */
	for (off = 0; off < len; off += n) {
		n = len - off > 48 ? 48 : len - off;
		w = EVP_EncodeBlock((unsigned char *)line, der + off, (int)n);
		line[w] = '\n';
		if (mc_buf_append(out, line, (size_t)w + 1, e) == -1) {
			OPENSSL_cleanse(line, sizeof(line));
			return -1;
		}
	}
	OPENSSL_cleanse(line, sizeof(line));
	if (mc_buf_puts(out, "-----END ", e) == -1 ||
	    mc_buf_puts(out, label, e) == -1 ||
	    mc_buf_puts(out, "-----\n", e) == -1)
		return -1;
	return 0;
}

int
ca_key_pkcs8_pem(const struct ca_key *k, struct mc_buf *out,
    struct mc_err *e)
{
	unsigned char der[256];
	const unsigned char *head, *mid;
	size_t headlen, midlen, n;
	int ret;

	if (!ca_key_type_is_ec(k->type) || k->privlen == 0)
		return ca_key_pkcs8_pem_openssl(k->pkey, out, e);
	if (k->type == CA_KEY_EC_P256) {
		head = p8_p256_head;
		headlen = sizeof(p8_p256_head);
		mid = p8_p256_mid;
		midlen = sizeof(p8_p256_mid);
	} else {
		head = p8_p384_head;
		headlen = sizeof(p8_p384_head);
		mid = p8_p384_mid;
		midlen = sizeof(p8_p384_mid);
	}
	n = 0;
	memcpy(der, head, headlen);
	n += headlen;
	memcpy(der + n, k->priv, k->privlen);
	n += k->privlen;
	memcpy(der + n, mid, midlen);
	n += midlen;
	memcpy(der + n, k->pub, k->publen);
	n += k->publen;
	ret = ca_pem_encode("PRIVATE KEY", der, n, out, e);
	OPENSSL_cleanse(der, sizeof(der));
	return ret;
}

int
ca_key_pkcs8_pem_openssl(EVP_PKEY *pkey, struct mc_buf *out,
    struct mc_err *e)
{
	BIO *bio = NULL;
	char *p;
	long n;
	int ret = -1;

	if ((bio = BIO_new(BIO_s_secmem())) == NULL ||
	    !PEM_write_bio_PrivateKey(bio, pkey, NULL, NULL, 0, NULL, NULL)) {
		ca_openssl_error(e, MC_ST_INTERNAL, "key: write PKCS#8");
		goto out;
	}
	n = BIO_get_mem_data(bio, &p);
	if (n <= 0 || mc_buf_append(out, p, (size_t)n, e) == -1)
		goto out;
	ret = 0;
out:
	BIO_free(bio);
	return ret;
}
