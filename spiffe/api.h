/*
 * api.h: helpers shared by the units of spiffe/ at the public API
 * boundary.
 */
#ifndef SPIFFE_API_H
#define SPIFFE_API_H

#include <stddef.h>

#include <meshca/meshca.h>

#include "common/err.h"

/* Copies e into err (NULL allowed) and returns e's status as an
 * enum meshca_status (MESHCA_ERR_INTERNAL if e says "ok"). */
enum meshca_status spiffe_api_error(const struct mc_err *e,
    struct meshca_error *err);

/* Parses a whole file's bytes; arg carries the parser's own arguments. */
typedef enum meshca_status (*spiffe_parse_fn)(const char *data, size_t len,
    void *arg, struct meshca_error *err);

/*
 * The body of every *_load_file() of libmeshca-verify: reads path whole
 * into a buffer of at most max bytes (common/buf.c mc_buf_read_file,
 * whose error names path) and hands the bytes to parse, whose error gets
 * "PATH: " before its message. Returns MESHCA_OK or what failed; err
 * may be NULL. Internal (hidden, like everything outside the map).
 */
enum meshca_status spiffe_load_file(const char *path, size_t max,
    spiffe_parse_fn parse, void *arg, struct meshca_error *err);

#endif /* SPIFFE_API_H */
