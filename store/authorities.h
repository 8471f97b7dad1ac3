/*
 * authorities.h: ledger rows for signing authorities (roots made by
 * meshca, or imported intermediates) and their CRL numbers. The key is an
 * opaque blob (ca/kek.c seals it); store/ never sees a plaintext key.
 */
#ifndef STORE_AUTHORITIES_H
#define STORE_AUTHORITIES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/err.h"
#include "store/db.h"

/* The life of an authority through a staged root rotation. */
enum store_auth_state {
	STORE_AUTH_PREPARED = 0, /* in the bundle, not signing yet */
	STORE_AUTH_ACTIVE,	 /* signing (one per trust domain) */
	STORE_AUTH_RETIRING,	 /* in the bundle, no longer signing */
	STORE_AUTH_RETIRED	 /* out of the bundle */
};

/* One row. Strings and the blob are owned by the row when it came from a
 * query (free with store_authority_clear()), borrowed when inserting. */
struct store_authority {
	int64_t id;
	char *trust_domain;
	char *cert_pem;	 /* the signing certificate */
	char *chain_pem; /* certificates above it, up to the root ("" if root) */
	char *root_pem;	 /* the trust anchor the bundle publishes */
	unsigned char *key_blob;
	size_t key_blob_len;
	enum store_auth_state state;
	int64_t not_after;
	int64_t created_at;
};

const char *store_auth_state_name(enum store_auth_state s);

/* Inserts a row (a->id is ignored) and returns the new id in *id. The key
 * blob may be NULL and set later (in the same transaction). */
int store_authority_insert(struct store_db *db,
    const struct store_authority *a, int64_t *id, struct mc_err *e);

/* Sets the sealed key of authority id. */
int store_authority_set_key(struct store_db *db, int64_t id,
    const unsigned char *blob, size_t len, struct mc_err *e);

/* Changes the state of authority id. MC_ST_REJECTED when a second
 * authority would become active in one trust domain. */
int store_authority_set_state(struct store_db *db, int64_t id,
    enum store_auth_state state, struct mc_err *e);

/* Reads authority id into *out; *found says whether it exists. */
int store_authority_get(struct store_db *db, int64_t id,
    struct store_authority *out, bool *found, struct mc_err *e);

/*
 * Reads the authorities of trust_domain in id order into a new array
 * *out of *n rows (free with store_authority_list_free()).
 */
int store_authority_list(struct store_db *db, const char *trust_domain,
    struct store_authority **out, size_t *n, struct mc_err *e);

void store_authority_clear(struct store_authority *a);
void store_authority_list_free(struct store_authority *a, size_t n);

/*
 * Takes the next CRL number of authority id (1, 2, ...), remembering it
 * with the time it was issued. Call inside the transaction that records
 * the CRL, so a number is never used twice.
 */
int store_crl_next_number(struct store_db *db, int64_t id, int64_t now,
    int64_t *number, struct mc_err *e);

#endif /* STORE_AUTHORITIES_H */
