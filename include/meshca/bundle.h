/*
 * bundle.h: trust bundles (SPIFFE_Trust_Domain_and_Bundle.md): the CA
 * certificates that anchor X.509-SVID validation, for one or several
 * trust domains (federation).
 *
 * A struct meshca_bundle is immutable once loaded and reference-counted,
 * so a verifier can swap in a reloaded bundle while handshakes still hold
 * the old one (meshca_bundle_up_ref / meshca_bundle_free are atomic).
 */
#ifndef MESHCA_BUNDLE_H
#define MESHCA_BUNDLE_H

#include <stddef.h>
#include <stdint.h>

#include <meshca/meshca.h>

#ifdef __cplusplus
extern "C" {
#endif

struct meshca_bundle;

/* Largest bundle file or buffer accepted, in bytes. */
#define MESHCA_BUNDLE_MAX (4u * 1024 * 1024)

/*
 * Loads a bundle from memory, detecting the format: a document whose
 * first non-blank byte is '{' (or '[', to report it as a JSON error) is
 * SPIFFE bundle JSON (x509-svid keys only; keys of other "use" or unknown
 * "kty" are skipped; an x509-svid key needs exactly one certificate in
 * x5c, and any key parameters must match it), anything else is PEM
 * "CERTIFICATE" blocks (text around them is ignored; other block types
 * are errors). trust_domain names the trust domain the roots
 * belong to; NULL means "any" (PEM roots with no trust domain, as plain
 * OpenSSL would use them), which SPIFFE JSON does not allow.
 * Every certificate must be a CA certificate. An empty JSON "keys" array
 * is a valid bundle that trusts nothing; a PEM document with no
 * certificate is MESHCA_ERR_PARSE.
 * Returns MESHCA_ERR_USAGE, MESHCA_ERR_PARSE, MESHCA_ERR_REJECTED
 * (a non-CA certificate, bad trust domain), MESHCA_ERR_NOMEM.
 */
MESHCA_API enum meshca_status meshca_bundle_parse(const char *data,
    size_t len, const char *trust_domain, struct meshca_bundle **out,
    struct meshca_error *err);

/* Reads path (at most MESHCA_BUNDLE_MAX bytes) and parses it as above.
 * MESHCA_ERR_IO when the file cannot be read. */
MESHCA_API enum meshca_status meshca_bundle_load_file(const char *path,
    const char *trust_domain, struct meshca_bundle **out,
    struct meshca_error *err);

/*
 * Federation: returns a new bundle holding the roots of a, then those of
 * b, each keeping its trust domain (a root already present under the same
 * trust domain is kept once). Neither input is changed; the new bundle's
 * sequence and refresh hint are 0. MESHCA_ERR_USAGE, MESHCA_ERR_NOMEM.
 */
MESHCA_API enum meshca_status meshca_bundle_merge(const struct meshca_bundle *a,
    const struct meshca_bundle *b, struct meshca_bundle **out,
    struct meshca_error *err);

/* Takes one more reference; returns b. Thread-safe. */
MESHCA_API struct meshca_bundle *meshca_bundle_up_ref(struct meshca_bundle *b);

/* Drops one reference, freeing at zero; NULL is allowed. Thread-safe. */
MESHCA_API void meshca_bundle_free(struct meshca_bundle *b);

/* Number of root certificates, over all trust domains. */
MESHCA_API size_t meshca_bundle_count(const struct meshca_bundle *b);

/* spiffe_sequence of a JSON bundle (0 when absent or PEM). */
MESHCA_API uint64_t meshca_bundle_sequence(const struct meshca_bundle *b);

/* spiffe_refresh_hint in seconds (0 when absent or PEM). */
MESHCA_API int64_t meshca_bundle_refresh_hint(const struct meshca_bundle *b);

/*
 * Writes the roots of trust_domain (those tagged with it plus the untagged
 * ones; NULL: all roots) as a SPIFFE bundle JSON document (one "x509-svid"
 * JWK per root with its public key parameters and the certificate in x5c;
 * spiffe_sequence and spiffe_refresh_hint when given as non-zero). *out is
 * NUL-terminated, *outlen (NULL allowed) its length; free it with
 * meshca_free(). Returns MESHCA_ERR_USAGE (b or out NULL, a bad trust
 * domain, sequence above INT64_MAX, negative refresh_hint),
 * MESHCA_ERR_REJECTED (a root whose key has no JWK form: not EC P-256,
 * P-384, P-521, RSA or Ed25519), MESHCA_ERR_NOMEM.
 */
MESHCA_API enum meshca_status meshca_bundle_write_spiffe_json(
    const struct meshca_bundle *b, const char *trust_domain, uint64_t sequence,
    int64_t refresh_hint, char **out, size_t *outlen, struct meshca_error *err);

/* Writes the same roots as PEM; free with meshca_free(). An empty set
 * gives "". MESHCA_ERR_USAGE (b or out NULL, a bad trust domain),
 * MESHCA_ERR_NOMEM. */
MESHCA_API enum meshca_status meshca_bundle_write_pem(
    const struct meshca_bundle *b, const char *trust_domain, char **out,
    size_t *outlen, struct meshca_error *err);

#ifdef __cplusplus
}
#endif

#endif /* MESHCA_BUNDLE_H */
