/*
 * keygen.h: key pairs for leaves and authorities, and their encodings.
 * EC P-256 and P-384 take a fast path that never goes through OpenSSL
 * 3's encoder/decoder machinery: the public point and private scalar are
 * read once after generation, and SubjectPublicKeyInfo and PKCS#8 are
 * DER-encoded here from them, byte-identical to what OpenSSL writes
 * (tests/ca/test_keygen.c holds us to that). RSA and Ed25519 use
 * OpenSSL's own encoders.
 */
#ifndef CA_KEYGEN_H
#define CA_KEYGEN_H

#include <stdbool.h>
#include <stddef.h>

#include <openssl/evp.h>

#include "common/buf.h"
#include "common/err.h"

enum ca_key_type {
	CA_KEY_EC_P256 = 0, /* the default */
	CA_KEY_EC_P384,
	CA_KEY_RSA2048,
	CA_KEY_RSA3072,
	CA_KEY_RSA4096,
	CA_KEY_ED25519
};

/* "ec-p256", "ec-p384", "rsa2048", "rsa3072", "rsa4096", "ed25519". */
const char *ca_key_type_name(enum ca_key_type t);
int ca_key_type_parse(const char *s, enum ca_key_type *out, struct mc_err *e);
bool ca_key_type_is_ec(enum ca_key_type t);
bool ca_key_type_is_rsa(enum ca_key_type t);

/* Largest encodings we make by hand (P-384). */
#define CA_EC_POINT_MAX 97
#define CA_EC_SCALAR_MAX 48
#define CA_SPKI_MAX 1024 /* any SPKI we sign: RSA-4096 is 550 bytes */

/*
 * A key pair. For EC keys pub/priv hold the uncompressed point and the
 * private scalar (padded to the order's length); priv is wiped by
 * ca_key_clear().
 */
struct ca_key {
	EVP_PKEY *pkey;
	enum ca_key_type type;
	unsigned char pub[CA_EC_POINT_MAX];
	size_t publen;
	unsigned char priv[CA_EC_SCALAR_MAX];
	size_t privlen;
};

/*
 * A generator for one key type. It keeps its EVP_PKEY_CTX between keys,
 * which is most of what makes EC generation fast. Use one per thread.
 */
struct ca_keygen;

struct ca_keygen *ca_keygen_new(enum ca_key_type t, struct mc_err *e);
void ca_keygen_free(struct ca_keygen *g);

/* Generates a key into *k (ca_key_clear() it after use). */
int ca_keygen_generate(struct ca_keygen *g, struct ca_key *k,
    struct mc_err *e);

/* Wraps an existing key (a CA key read from disk, a CSR's public key);
 * takes a reference to pkey. MC_ST_REJECTED for unsupported or weak keys
 * (RSA below 2048 bits, curves other than P-256/P-384). */
int ca_key_from_pkey(EVP_PKEY *pkey, struct ca_key *k, struct mc_err *e);

/* Frees the EVP_PKEY and wipes the private scalar. */
void ca_key_clear(struct ca_key *k);

/* The DER SubjectPublicKeyInfo of k into out (at most cap bytes). */
int ca_key_spki_der(const struct ca_key *k, unsigned char *out, size_t cap,
    size_t *len, struct mc_err *e);

/*
 * Appends the unencrypted PKCS#8 PEM ("PRIVATE KEY") of k to out, which
 * should be a secret buffer (mc_buf_init_secret). Same bytes as
 * PEM_write_bio_PrivateKey(bio, k->pkey, NULL, NULL, 0, NULL, NULL).
 */
int ca_key_pkcs8_pem(const struct ca_key *k, struct mc_buf *out,
    struct mc_err *e);

/* The same through OpenSSL's encoder, for any key (the reference path). */
int ca_key_pkcs8_pem_openssl(EVP_PKEY *pkey, struct mc_buf *out,
    struct mc_err *e);

/* Appends DER der (len bytes) to out as PEM with the given label,
 * 64 columns, as OpenSSL's PEM writer lays it out. */
int ca_pem_encode(const char *label, const unsigned char *der, size_t len,
    struct mc_buf *out, struct mc_err *e);

/* Appends OpenSSL's error queue, oldest first, to e's message and
 * clears it. */
void ca_openssl_error(struct mc_err *e, int status, const char *what);

#endif /* CA_KEYGEN_H */
