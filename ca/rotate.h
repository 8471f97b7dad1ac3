/*
 * rotate.h: staged root rotation (DESIGN.md, Lifecycle): (1) prepare a
 * new root and add it to the trust bundle while the old one still signs;
 * (2) activate it: signing switches, the old root stays in the bundle
 * (state retiring); (3) retire the old root, taking it out of the bundle,
 * once no unexpired leaf it signed remains (earlier only when forced).
 * Each step is one transaction with its audit event.
 */
#ifndef CA_ROTATE_H
#define CA_ROTATE_H

#include <stdbool.h>
#include <stdint.h>

#include "ca/authority.h"
#include "ca/kek.h"
#include "common/buf.h"
#include "common/err.h"
#include "store/db.h"

/* Step 1. MC_ST_REJECTED when a prepared root already waits. *id is the
 * new authority's ledger row. */
int ca_rotate_prepare(struct store_db *db, const struct ca_kek *kek,
    const char *trust_domain, enum ca_key_type kt, int64_t lifetime,
    int64_t now, const char *actor, int64_t *id, struct mc_err *e);

/* Step 2: the prepared root signs from now on; the active one retires. */
int ca_rotate_activate(struct store_db *db, const char *trust_domain,
    int64_t now, const char *actor, struct mc_err *e);

/* Step 3 for authority id (which must be retiring). Without force,
 * MC_ST_REJECTED while leaves it signed are unexpired at now. */
int ca_rotate_retire(struct store_db *db, int64_t id, int64_t now,
    bool force, const char *actor, struct mc_err *e);

/* The trust bundle of trust_domain as PEM: the roots of every prepared,
 * active and retiring authority, each once. */
int ca_bundle_pem(struct store_db *db, const char *trust_domain,
    struct mc_buf *out, struct mc_err *e);

#endif /* CA_ROTATE_H */
