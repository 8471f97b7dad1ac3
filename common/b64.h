/*
 * b64.h: the one strict base64 decoder (RFC 4648 §4, the standard
 * alphabet, padded) behind every place meshca reads base64: kubeconfig
 * certificate and key data and Secret data (k8s/config.c
 * k8s_base64_decode, used by daemon/), and the x5c certificates of a
 * SPIFFE bundle (spiffe/bundle_json.c). Callers differ only in what the
 * flags say.
 */
#ifndef MC_B64_H
#define MC_B64_H

#include <stddef.h>

#include "common/err.h"

/* CR and LF anywhere are skipped (base64 as YAML or a JSON Secret may
 * wrap it); without it every byte must be a base64 character. */
#define MC_B64_SKIP_CRLF 0x1u
/* Empty input (after skipping, if MC_B64_SKIP_CRLF) is an error. */
#define MC_B64_NONEMPTY 0x2u

/*
 * Decodes in[0..inlen): whole 4-character quanta of the alphabet of
 * RFC 4648 table 1, where only the last quantum may end in "=" or "=="
 * (§3.2, §4); nothing but skipped CR/LF may follow it. The unused bits
 * of a padded quantum are not checked (§3.5 allows a decoder to accept
 * them). On success *out is a new buffer (mc_free) of *outlen bytes
 * plus a NUL after them. Returns -1 with e set (MC_ST_PARSE,
 * "invalid base64 (RFC 4648 section 4, padded)", or MC_ST_NOMEM) and
 * *out untouched otherwise. e may be NULL.
 */
int mc_b64_decode(const char *in, size_t inlen, unsigned flags,
    unsigned char **out, size_t *outlen, struct mc_err *e);

#endif /* MC_B64_H */
