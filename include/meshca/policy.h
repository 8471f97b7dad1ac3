/*
 * policy.h: secure naming. An authorizer says which SPIFFE IDs it
 * accepts; a policy maps service names (e.g.
 * "reviews.default.svc.cluster.local") to authorizers, so a client can
 * ask "may the peer that answered carry out service S?".
 *
 * Authorizers and policies are reference-counted. Once built (after the
 * last meshca_policy_add()) they are read-only and may be used from any
 * number of threads at once; building is not thread-safe.
 *
 * Policy JSON (meshca_policy_parse_json()):
 *
 *   {"services": {
 *      "reviews.default.svc.cluster.local":
 *          {"ids": ["spiffe://cluster.local/ns/default/sa/reviews"]},
 *      "ratings.default.svc.cluster.local":
 *          {"trust_domain": "cluster.local"},
 *      "echo.test.svc.cluster.local": {"any": true}}}
 *
 * The top level is an object with exactly the key "services"; each
 * service name (1 to MESHCA_SERVICE_MAX bytes, no NUL or control
 * characters) maps to an object with exactly one of "ids" (a non-empty
 * array of SPIFFE ID strings), "trust_domain" (a trust domain name) or
 * "any" (true). Unknown keys, duplicate keys, other types and nesting
 * deeper than this are rejected; the document is at most
 * MESHCA_POLICY_MAX bytes.
 */
#ifndef MESHCA_POLICY_H
#define MESHCA_POLICY_H

#include <stdbool.h>
#include <stddef.h>

#include <meshca/meshca.h>
#include <meshca/id.h>
#include <meshca/svid.h>

#ifdef __cplusplus
extern "C" {
#endif

struct meshca_authorizer;
struct meshca_policy;

/* Largest policy document, in bytes; longest service name. */
#define MESHCA_POLICY_MAX (1024u * 1024)
#define MESHCA_SERVICE_MAX 253

/*
 * Authorizers. Each constructor returns a new authorizer holding one
 * reference in *out, released with meshca_authorizer_free().
 *  - _id: accepts exactly id (the authorizer keeps its own copy);
 *  - _one_of: accepts any of the n IDs (n >= 1; copies kept);
 *  - _trust_domain: accepts every ID of trust domain td (NUL-terminated,
 *    checked with meshca_trust_domain_check());
 *  - _any: accepts every ID (authentication without authorization).
 * Return MESHCA_ERR_USAGE (NULL argument, n == 0), MESHCA_ERR_PARSE (bad
 * trust domain), MESHCA_ERR_NOMEM.
 */
MESHCA_API enum meshca_status meshca_authorizer_id(const struct meshca_id *id,
    struct meshca_authorizer **out, struct meshca_error *err);
MESHCA_API enum meshca_status meshca_authorizer_one_of(
    const struct meshca_id *const *ids, size_t n,
    struct meshca_authorizer **out, struct meshca_error *err);
MESHCA_API enum meshca_status meshca_authorizer_trust_domain(const char *td,
    struct meshca_authorizer **out, struct meshca_error *err);
MESHCA_API enum meshca_status meshca_authorizer_any(
    struct meshca_authorizer **out, struct meshca_error *err);

/* Takes one more reference; returns a. NULL is allowed. Thread-safe. */
MESHCA_API struct meshca_authorizer *meshca_authorizer_up_ref(
    struct meshca_authorizer *a);

/* Drops one reference, freeing at zero. NULL is allowed. Thread-safe. */
MESHCA_API void meshca_authorizer_free(struct meshca_authorizer *a);

/* True when a accepts id; false when either is NULL. Thread-safe. */
MESHCA_API bool meshca_authorizer_allows(const struct meshca_authorizer *a,
    const struct meshca_id *id);

/*
 * Makes an empty policy (it allows nothing). *out holds one reference;
 * release it with meshca_policy_free().
 * Returns MESHCA_ERR_USAGE (out NULL), MESHCA_ERR_NOMEM.
 */
MESHCA_API enum meshca_status meshca_policy_new(struct meshca_policy **out,
    struct meshca_error *err);

/* Takes one more reference; returns p. NULL is allowed. Thread-safe. */
MESHCA_API struct meshca_policy *meshca_policy_up_ref(struct meshca_policy *p);

/* Drops one reference, freeing at zero. NULL is allowed. Thread-safe. */
MESHCA_API void meshca_policy_free(struct meshca_policy *p);

/*
 * Maps service (NUL-terminated; rules as in the JSON format) to a. The
 * policy takes over the caller's reference to a, on failure too (a is
 * then freed). Not thread-safe: build a policy before sharing it.
 * Returns MESHCA_ERR_USAGE (NULL argument, bad or duplicate service
 * name), MESHCA_ERR_NOMEM.
 */
MESHCA_API enum meshca_status meshca_policy_add(struct meshca_policy *p,
    const char *service, struct meshca_authorizer *a,
    struct meshca_error *err);

/*
 * Parses a policy document (len bytes at data, the JSON format above).
 * *out as for meshca_policy_new(). Returns MESHCA_ERR_USAGE,
 * MESHCA_ERR_PARSE (not JSON, too large, too deep, wrong shape, unknown
 * or duplicate key, bad ID or trust domain; the message gives the JSON
 * path, e.g. "services.\"a.b\".ids[2]"), MESHCA_ERR_NOMEM.
 */
MESHCA_API enum meshca_status meshca_policy_parse_json(const char *data,
    size_t len, struct meshca_policy **out, struct meshca_error *err);

/* Reads path (at most MESHCA_POLICY_MAX bytes) and parses it as above;
 * MESHCA_ERR_IO when the file cannot be read. */
MESHCA_API enum meshca_status meshca_policy_load_file(const char *path,
    struct meshca_policy **out, struct meshca_error *err);

/*
 * True when the policy maps service (NUL-terminated, compared exactly,
 * byte for byte) to an authorizer that accepts id. Services absent from
 * the policy allow nobody. False when any argument is NULL. Thread-safe.
 */
MESHCA_API bool meshca_policy_allows(const struct meshca_policy *p,
    const char *service, const struct meshca_id *id);

/*
 * Verifies the PEM chain with meshca_verify_chain_pem(v, ...) and then
 * requires meshca_policy_allows(p, service, peer). On success and when
 * peer_out is not NULL, *peer_out is the peer's ID (caller frees).
 * Returns the statuses of meshca_verify_chain_pem(); a chain that
 * verifies but whose ID the policy does not allow for service gives
 * MESHCA_ERR_REJECTED with reason MESHCA_REASON_NOT_AUTHORIZED.
 * MESHCA_ERR_USAGE when p, v, service or chain_pem is NULL. Thread-safe.
 */
MESHCA_API enum meshca_status meshca_policy_check_chain(
    const struct meshca_policy *p, struct meshca_verifier *v,
    const char *service, const char *chain_pem, size_t len,
    struct meshca_id **peer_out, struct meshca_error *err);

#ifdef __cplusplus
}
#endif

#endif /* MESHCA_POLICY_H */
