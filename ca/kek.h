/*
 * kek.h: keys at rest. An authority's private key is stored in the
 * ledger sealed with AES-256-GCM under a key-encryption key (KEK): 32
 * random bytes in a file of its own, mode 0600, kept apart from the
 * ledger. The authority id is the additional authenticated data, so a
 * sealed key moved to another authority's row does not open.
 */
#ifndef CA_KEK_H
#define CA_KEK_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

#include "common/err.h"

#define CA_KEK_LEN 32

struct ca_kek {
	unsigned char key[CA_KEK_LEN];
};

/* Creates path (O_EXCL, 0600) with 32 fresh random bytes; MC_ST_IO if it
 * exists or cannot be written. */
int ca_kek_create(const char *path, struct ca_kek *k, struct mc_err *e);

/*
 * Loads a KEK file. MC_ST_REJECTED when the file is readable or writable
 * by group or others, or is not exactly 32 bytes.
 */
int ca_kek_load(const char *path, struct ca_kek *k, struct mc_err *e);

/* Wipes the key. */
void ca_kek_clear(struct ca_kek *k);

/*
 * Seals key (written as PKCS#8 DER inside) for authority_id. *blob is
 * "MCK1" || nonce (12) || ciphertext || tag (16); free with mc_free.
 */
int ca_kek_seal(const struct ca_kek *k, int64_t authority_id, EVP_PKEY *key,
    unsigned char **blob, size_t *len, struct mc_err *e);

/* Opens a sealed key. A wrong KEK, a blob of another authority or a
 * damaged blob is MC_ST_REJECTED: "KEK does not decrypt authority N". */
int ca_kek_open(const struct ca_kek *k, int64_t authority_id,
    const unsigned char *blob, size_t len, EVP_PKEY **key, struct mc_err *e);

/* Refuses (MC_ST_REJECTED) a key file that group or others may read or
 * write; what names the file in the message. */
int ca_check_private_file(const char *path, const char *what,
    struct mc_err *e);

#endif /* CA_KEK_H */
