/*
 * svid.h: X.509-SVID verification (X509-SVID.md): a verifier holds a
 * trust bundle, optional CRLs, an optional required trust domain and an
 * optional fixed verification time, and checks certificate chains
 * against them.
 *
 * A struct meshca_verifier is reference-counted and thread-safe: any
 * number of threads may verify with one verifier while another thread
 * replaces its bundle, CRLs or settings. Each verification works on the
 * configuration that was current when it started (a snapshot taken under
 * a mutex); a change applies to verifications that start after it.
 */
#ifndef MESHCA_SVID_H
#define MESHCA_SVID_H

#include <stddef.h>
#include <time.h>

#include <meshca/meshca.h>
#include <meshca/bundle.h>
#include <meshca/id.h>

#ifdef __cplusplus
extern "C" {
#endif

struct meshca_verifier;

/* Largest PEM chain or CRL document accepted, in bytes. */
#define MESHCA_CHAIN_MAX (1024u * 1024)
#define MESHCA_CRL_MAX (16u * 1024 * 1024)

/* Most certificates in a chain given to meshca_verify_chain_pem(). */
#define MESHCA_CHAIN_CERTS_MAX 16

/*
 * Makes a verifier with no bundle (it rejects every chain with
 * MESHCA_REASON_UNTRUSTED until a bundle is set), no CRLs, no required
 * trust domain, verifying at the current time. *out holds one reference;
 * release it with meshca_verifier_free().
 * Returns MESHCA_ERR_USAGE (out is NULL), MESHCA_ERR_NOMEM.
 */
MESHCA_API enum meshca_status meshca_verifier_new(
    struct meshca_verifier **out, struct meshca_error *err);

/* Takes one more reference; returns v. NULL is allowed. Thread-safe. */
MESHCA_API struct meshca_verifier *meshca_verifier_up_ref(
    struct meshca_verifier *v);

/*
 * Drops one reference, freeing the verifier (and its references to the
 * bundle and CRLs) at zero. NULL is allowed. Thread-safe; the caller must
 * not use v afterwards through this reference.
 */
MESHCA_API void meshca_verifier_free(struct meshca_verifier *v);

/*
 * Replaces the trust bundle. The verifier takes its own reference to b
 * (the caller keeps, and must still free, its own); the previous bundle
 * is released once no verification in flight uses it. b NULL removes
 * the bundle. Thread-safe.
 * Returns MESHCA_ERR_USAGE (v NULL), MESHCA_ERR_NOMEM.
 */
MESHCA_API enum meshca_status meshca_verifier_set_bundle(
    struct meshca_verifier *v, struct meshca_bundle *b,
    struct meshca_error *err);

/*
 * Loads a bundle file with meshca_bundle_load_file(path, trust_domain)
 * and installs it as meshca_verifier_set_bundle() does. On failure the
 * current bundle stays. Thread-safe.
 * Returns the statuses of meshca_bundle_load_file() and
 * MESHCA_ERR_USAGE (v or path NULL).
 */
MESHCA_API enum meshca_status meshca_verifier_load_bundle_file(
    struct meshca_verifier *v, const char *path, const char *trust_domain,
    struct meshca_error *err);

/*
 * Replaces the CRLs with the "X509 CRL" PEM blocks in the len bytes at
 * data (at most MESHCA_CRL_MAX). With CRLs set, every certificate of a
 * chain below the root must be covered by a current CRL from its issuer
 * (RFC 5280 6.3; OpenSSL's X509_V_FLAG_CRL_CHECK | X509_V_FLAG_CRL_CHECK_ALL),
 * else the chain is rejected with MESHCA_REASON_CRL; listed certificates
 * are rejected with MESHCA_REASON_REVOKED. data NULL with len 0 removes
 * all CRLs and turns the check off. Thread-safe; on failure the current
 * CRLs stay.
 * Returns MESHCA_ERR_USAGE, MESHCA_ERR_PARSE (no CRL found, bad PEM,
 * too large), MESHCA_ERR_NOMEM.
 */
MESHCA_API enum meshca_status meshca_verifier_set_crls_pem(
    struct meshca_verifier *v, const char *data, size_t len,
    struct meshca_error *err);

/*
 * Reads path (at most MESHCA_CRL_MAX bytes) and installs its CRLs as
 * meshca_verifier_set_crls_pem() does. Returns its statuses and
 * MESHCA_ERR_IO when the file cannot be read.
 */
MESHCA_API enum meshca_status meshca_verifier_load_crl_file(
    struct meshca_verifier *v, const char *path, struct meshca_error *err);

/*
 * Requires the leaf's SPIFFE ID to belong to trust_domain (a bare trust
 * domain name, NUL-terminated, checked with meshca_trust_domain_check());
 * chains from another trust domain are rejected with
 * MESHCA_REASON_TRUST_DOMAIN even when the bundle holds roots for it.
 * NULL lifts the requirement. Thread-safe.
 * Returns MESHCA_ERR_USAGE (v NULL), MESHCA_ERR_PARSE (bad name),
 * MESHCA_ERR_NOMEM.
 */
MESHCA_API enum meshca_status meshca_verifier_set_trust_domain(
    struct meshca_verifier *v, const char *trust_domain,
    struct meshca_error *err);

/*
 * Verifies at the fixed time at (seconds since the epoch) instead of the
 * current time; 0 returns to the current time. Thread-safe.
 * Returns MESHCA_ERR_USAGE (v NULL, at negative), MESHCA_ERR_NOMEM.
 */
MESHCA_API enum meshca_status meshca_verifier_set_time(
    struct meshca_verifier *v, time_t at, struct meshca_error *err);

/*
 * Verifies a PEM certificate chain (len bytes at pem, at most
 * MESHCA_CHAIN_MAX and MESHCA_CHAIN_CERTS_MAX certificates): the leaf
 * first, then intermediates in any order; a root may be included but is
 * only trusted when the bundle holds it. Checks X509-SVID.md:
 *  - the leaf has exactly one URI SAN, a SPIFFE ID with a non-root path
 *    (2, 3.1, 5.2), in a critical extension when the subject is empty
 *    (3.1), CA:false (4.1), a critical keyUsage with digitalSignature
 *    and without keyCertSign and cRLSign (4.3), and, when present, an
 *    extendedKeyUsage with serverAuth and clientAuth (4.4);
 *  - every signing certificate in the path is a CA with a critical
 *    keyUsage holding keyCertSign, and its SPIFFE ID, if it has one,
 *    has no path (3.2, 4.1, 4.3);
 *  - RFC 5280 path validation (5.1) to a bundle root of the leaf's trust
 *    domain (or a root loaded without trust domain): signatures,
 *    validity at the verifier's time, path length, name constraints,
 *    unknown critical extensions, and the CRLs when set;
 *  - the verifier's required trust domain, when set.
 * On success and when peer_out is not NULL, *peer_out is the leaf's
 * SPIFFE ID, owned by the caller (meshca_id_free()). Thread-safe.
 * Returns MESHCA_ERR_USAGE (v or pem NULL), MESHCA_ERR_PARSE (not PEM
 * certificates, too large, too many), MESHCA_ERR_REJECTED with
 * err->reason set to the rule broken and a message naming the
 * certificate ("leaf", "cert 1", ...) and the rule, MESHCA_ERR_NOMEM,
 * MESHCA_ERR_INTERNAL.
 */
MESHCA_API enum meshca_status meshca_verify_chain_pem(
    struct meshca_verifier *v, const char *pem, size_t len,
    struct meshca_id **peer_out, struct meshca_error *err);

#ifdef __cplusplus
}
#endif

#endif /* MESHCA_SVID_H */
