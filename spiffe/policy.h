/*
 * policy.h: the internal side of secure naming (spiffe/policy.c).
 */
#ifndef SPIFFE_POLICY_H
#define SPIFFE_POLICY_H

#include "common/err.h"

/*
 * Checks a service name as policy.h defines it: 1 to MESHCA_SERVICE_MAX
 * bytes, no control characters (bytes below 0x20 and 0x7f). -1 with
 * MC_ST_USAGE and a message naming "what" otherwise.
 */
int spiffe_service_check(const char *what, const char *service,
    struct mc_err *e);

#endif /* SPIFFE_POLICY_H */
