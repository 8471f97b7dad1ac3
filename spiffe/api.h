/*
 * api.h: helpers shared by the units of spiffe/ at the public API
 * boundary.
 */
#ifndef SPIFFE_API_H
#define SPIFFE_API_H

#include <meshca/meshca.h>

#include "common/err.h"

/* Copies e into err (NULL allowed) and returns e's status as an
 * enum meshca_status (MESHCA_ERR_INTERNAL if e says "ok"). */
enum meshca_status spiffe_api_error(const struct mc_err *e,
    struct meshca_error *err);

#endif /* SPIFFE_API_H */
