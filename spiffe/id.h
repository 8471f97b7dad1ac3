/*
 * id.h: the internal side of SPIFFE ID checking (spiffe/id.c), for the
 * other units of spiffe/ that validate trust domain names and IDs without
 * going through the public API.
 */
#ifndef SPIFFE_ID_H
#define SPIFFE_ID_H

#include <stddef.h>

#include "common/err.h"

/*
 * Checks the len bytes at s as a SPIFFE ID (SPIFFE-ID.md 2). On success
 * *tdlen (NULL allowed) is the length of the trust domain, which starts
 * at s + 9. -1 with status MC_ST_PARSE, reason MESHCA_REASON_ID_INVALID
 * and a message quoting s and naming the rule otherwise.
 */
int spiffe_id_check(const char *s, size_t len, size_t *tdlen,
    struct mc_err *e);

/* Checks a bare trust domain name (SPIFFE-ID.md 2.1), as above. */
int spiffe_td_check(const char *td, size_t len, struct mc_err *e);

#endif /* SPIFFE_ID_H */
