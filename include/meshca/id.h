/*
 * id.h: SPIFFE IDs (SPIFFE-ID.md): parse, check, format, split.
 *
 * A struct meshca_id is immutable once made, so one ID may be read from
 * many threads at once.
 */
#ifndef MESHCA_ID_H
#define MESHCA_ID_H

#include <stdbool.h>
#include <stddef.h>

#include <meshca/meshca.h>

#ifdef __cplusplus
extern "C" {
#endif

struct meshca_id;

/* Longest SPIFFE ID (SPIFFE-ID.md 2.3) and trust domain (2.1), in bytes. */
#define MESHCA_ID_MAX 2048
#define MESHCA_TRUST_DOMAIN_MAX 255

/*
 * Parses the len bytes at s as a SPIFFE ID (no NUL needed; an embedded
 * NUL is an error). On success *out is a new ID the caller frees with
 * meshca_id_free(). Returns MESHCA_ERR_USAGE when s or out is NULL,
 * MESHCA_ERR_PARSE (reason MESHCA_REASON_ID_INVALID) with the rule broken
 * when the string is not a SPIFFE ID, MESHCA_ERR_NOMEM.
 */
MESHCA_API enum meshca_status meshca_id_parse(const char *s, size_t len,
    struct meshca_id **out, struct meshca_error *err);

/*
 * Checks the len bytes at s as a SPIFFE ID without allocating. Same
 * statuses as meshca_id_parse() but never MESHCA_ERR_NOMEM.
 */
MESHCA_API enum meshca_status meshca_id_check(const char *s, size_t len,
    struct meshca_error *err);

/*
 * Checks a bare trust domain name (no scheme), e.g. "cluster.local".
 * MESHCA_ERR_PARSE when it breaks SPIFFE-ID.md 2.1.
 */
MESHCA_API enum meshca_status meshca_trust_domain_check(const char *td,
    size_t len, struct meshca_error *err);

/*
 * Builds "spiffe://TD/ns/NS/sa/SA". NUL-terminated inputs; each part must
 * be a valid trust domain or path segment. *out as for meshca_id_parse().
 */
MESHCA_API enum meshca_status meshca_id_from_service_account(const char *td,
    const char *ns, const char *sa, struct meshca_id **out,
    struct meshca_error *err);

/*
 * Builds an ID from a trust domain and a path ("" or "/a/b"). The path
 * must follow SPIFFE-ID.md 2.2.
 */
MESHCA_API enum meshca_status meshca_id_from_parts(const char *td,
    const char *path, struct meshca_id **out, struct meshca_error *err);

/* Frees an ID; NULL is allowed. */
MESHCA_API void meshca_id_free(struct meshca_id *id);

/* Copies an ID (NULL on allocation failure); free with meshca_id_free(). */
MESHCA_API struct meshca_id *meshca_id_dup(const struct meshca_id *id);

/*
 * Borrowed, NUL-terminated views, valid until the ID is freed:
 * the whole ID "spiffe://td/path", the trust domain "td", and the path
 * "/path" ("" for a trust-domain ID).
 */
MESHCA_API const char *meshca_id_get0_string(const struct meshca_id *id);
MESHCA_API const char *meshca_id_get0_trust_domain(const struct meshca_id *id);
MESHCA_API const char *meshca_id_get0_path(const struct meshca_id *id);

/* True when the ID has no path: it names a trust domain, not a workload. */
MESHCA_API bool meshca_id_is_trust_domain(const struct meshca_id *id);

/* True when the ID belongs to trust domain td (NUL-terminated). */
MESHCA_API bool meshca_id_is_member_of(const struct meshca_id *id,
    const char *td);

/* True when both IDs are the same (byte-for-byte; IDs are normalized). */
MESHCA_API bool meshca_id_equal(const struct meshca_id *a,
    const struct meshca_id *b);

/*
 * Splits an ID of the form spiffe://TD/ns/NS/sa/SA. On success the
 * namespace and account are written NUL-terminated into ns (nslen bytes)
 * and sa (salen bytes). MESHCA_ERR_REJECTED when the path is not of that
 * form, MESHCA_ERR_USAGE when a buffer is too small or NULL.
 */
MESHCA_API enum meshca_status meshca_id_get_service_account(
    const struct meshca_id *id, char *ns, size_t nslen, char *sa, size_t salen,
    struct meshca_error *err);

#ifdef __cplusplus
}
#endif

#endif /* MESHCA_ID_H */
