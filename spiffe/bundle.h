/*
 * bundle.h: the internal side of trust bundles (spiffe/bundle.c and
 * spiffe/bundle_json.c): what the X.509-SVID verifier needs to anchor a
 * chain, and the builder the two readers share.
 *
 * A bundle is built (spiffe_bundle_new, _add_root, _set_meta), sealed
 * once (spiffe_bundle_seal, which builds the X509_STOREs), and never
 * changed afterwards; only sealed bundles leave these units.
 */
#ifndef SPIFFE_BUNDLE_H
#define SPIFFE_BUNDLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/x509.h>
#include <openssl/x509_vfy.h>

#include <meshca/bundle.h>

#include "common/err.h"

/*
 * Borrowed X509_STORE holding the roots trusted for IDs of trust domain
 * td: the roots tagged td plus the roots with no trust domain. Built once
 * at load time (so verification never rebuilds it); valid while b lives.
 * td NULL asks for the roots with no trust domain only. NULL when nothing
 * in b anchors td. The store is only read (OpenSSL locks its lookups), so
 * it may be used by many threads at once.
 */
X509_STORE *spiffe_bundle_get0_store(const struct meshca_bundle *b,
    const char *td);

/* Number of roots and the i-th root with its trust domain (NULL = any).
 * Both borrowed, valid while b lives; NULL when i is out of range. */
size_t spiffe_bundle_nroots(const struct meshca_bundle *b);
X509 *spiffe_bundle_get0_root(const struct meshca_bundle *b, size_t i,
    const char **td);

/* True when a root tagged root_td is one of the roots of td (td NULL:
 * every root; root_td NULL: a root of every trust domain). */
bool spiffe_bundle_root_of(const char *root_td, const char *td);

/* An empty, unsealed bundle with one reference; NULL (nomem) on failure. */
struct meshca_bundle *spiffe_bundle_new(struct mc_err *e);

/*
 * Adds root x (the bundle takes its own reference) under trust domain td
 * (copied; NULL: any). what names x in errors ("certificate 2"). x must
 * be a CA certificate: -1 (MC_ST_REJECTED) otherwise. A root already in b
 * under the same trust domain is skipped.
 */
int spiffe_bundle_add_root(struct meshca_bundle *b, X509 *x, const char *td,
    const char *what, struct mc_err *e);

/* Records spiffe_sequence and spiffe_refresh_hint. */
void spiffe_bundle_set_meta(struct meshca_bundle *b, uint64_t sequence,
    int64_t refresh_hint);

/* Builds the per-trust-domain stores; after this b is read-only. */
int spiffe_bundle_seal(struct meshca_bundle *b, struct mc_err *e);

/*
 * Reads SPIFFE bundle JSON (SPIFFE_Trust_Domain_and_Bundle.md 4,
 * X509-SVID.md 6) into a new sealed bundle whose roots are tagged td.
 */
int spiffe_bundle_parse_json(const char *data, size_t len, const char *td,
    struct meshca_bundle **out, struct mc_err *e);

/* Writes the roots of td as SPIFFE bundle JSON (mc_malloc'd, NUL-ended). */
int spiffe_bundle_write_json(const struct meshca_bundle *b, const char *td,
    uint64_t sequence, int64_t refresh_hint, char **out, size_t *outlen,
    struct mc_err *e);

/* True when the OpenSSL error queue says an allocation failed, so that a
 * failed read is reported as MC_ST_NOMEM rather than as bad input. */
bool spiffe_ossl_nomem(void);

/* Names x for an error message: "certificate 2 (/CN=root)" into buf. */
const char *spiffe_cert_name(char *buf, size_t len, const char *what,
    X509 *x);

#endif /* SPIFFE_BUNDLE_H */
