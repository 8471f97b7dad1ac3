/*
 * svid.h: the internal side of X.509-SVID verification (spiffe/svid.c),
 * for the handshake hooks and the policy unit.
 */
#ifndef SPIFFE_SVID_H
#define SPIFFE_SVID_H

#include <openssl/x509.h>

#include <meshca/id.h>
#include <meshca/svid.h>

#include "common/err.h"

/*
 * Verifies leaf with the intermediates in untrusted (NULL allowed) as
 * meshca_verify_chain_x509() documents. On success and when peer is not
 * NULL, *peer is the leaf's ID. -1 with e set (status MC_ST_REJECTED and
 * a MESHCA_REASON_* for a rejected chain) otherwise. Leaves OpenSSL's
 * error queue as it found it.
 */
int spiffe_verify_x509(struct meshca_verifier *v, X509 *leaf,
    STACK_OF(X509) *untrusted, struct meshca_id **peer, struct mc_err *e);

/*
 * Checks the leaf rules of X509-SVID.md alone (no path validation) and
 * returns the leaf's ID in *id. For a peer certificate OpenSSL already
 * verified, e.g. on a resumed session.
 */
int spiffe_svid_leaf_id(X509 *leaf, struct meshca_id **id, struct mc_err *e);

#endif /* SPIFFE_SVID_H */
