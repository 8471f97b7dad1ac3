/*
 * api.c: the parts of the public API that belong to no single unit:
 * status and reason names, meshca_free(), the copy of an internal
 * struct mc_err into the caller's struct meshca_error, and the
 * read-then-parse body of the *_load_file() functions (the path is the
 * caller's; the file's bytes are only bounded here, the parser judges
 * them).
 */
#include <string.h>

#include <meshca/meshca.h>

#include "common/alloc.h"
#include "common/buf.h"
#include "common/status.h"
#include "spiffe/api.h"

_Static_assert(MC_ST_OK == MESHCA_OK && MC_ST_USAGE == MESHCA_ERR_USAGE &&
    MC_ST_PARSE == MESHCA_ERR_PARSE && MC_ST_REJECTED == MESHCA_ERR_REJECTED &&
    MC_ST_IO == MESHCA_ERR_IO && MC_ST_NOMEM == MESHCA_ERR_NOMEM &&
    MC_ST_INTERNAL == MESHCA_ERR_INTERNAL,
    "common/status.h must mirror enum meshca_status");

MESHCA_API const char *
meshca_strerror(enum meshca_status status)
{
	switch (status) {
	case MESHCA_OK:
		return "success";
	case MESHCA_ERR_USAGE:
		return "invalid argument";
	case MESHCA_ERR_PARSE:
		return "malformed input";
	case MESHCA_ERR_REJECTED:
		return "rejected";
	case MESHCA_ERR_IO:
		return "input/output error";
	case MESHCA_ERR_NOMEM:
		return "out of memory";
	case MESHCA_ERR_INTERNAL:
		return "internal error";
	}
	return "unknown status";
}

MESHCA_API const char *
meshca_strreason(enum meshca_reason reason)
{
	switch (reason) {
	case MESHCA_REASON_NONE:
		return "none";
	case MESHCA_REASON_ID_INVALID:
		return "invalid SPIFFE ID";
	case MESHCA_REASON_NO_URI_SAN:
		return "no URI SAN";
	case MESHCA_REASON_MULTIPLE_URI_SANS:
		return "more than one URI SAN";
	case MESHCA_REASON_ID_NOT_WORKLOAD:
		return "SPIFFE ID names a trust domain, not a workload";
	case MESHCA_REASON_LEAF_IS_CA:
		return "leaf is a CA";
	case MESHCA_REASON_KEY_USAGE:
		return "bad key usage";
	case MESHCA_REASON_EXT_KEY_USAGE:
		return "bad extended key usage";
	case MESHCA_REASON_SIGNING_CERT:
		return "bad signing certificate";
	case MESHCA_REASON_UNTRUSTED:
		return "untrusted";
	case MESHCA_REASON_EXPIRED:
		return "expired";
	case MESHCA_REASON_NOT_YET_VALID:
		return "not yet valid";
	case MESHCA_REASON_REVOKED:
		return "revoked";
	case MESHCA_REASON_CRL:
		return "CRL problem";
	case MESHCA_REASON_TRUST_DOMAIN:
		return "wrong trust domain";
	case MESHCA_REASON_NOT_AUTHORIZED:
		return "not authorized";
	case MESHCA_REASON_PATH:
		return "certification path invalid";
	}
	return "unknown reason";
}

MESHCA_API void
meshca_free(void *ptr)
{
	mc_free(ptr);
}

enum meshca_status
spiffe_api_error(const struct mc_err *e, struct meshca_error *err)
{
	enum meshca_status st = (enum meshca_status)e->status;

	if (st == MESHCA_OK)
		st = MESHCA_ERR_INTERNAL;
	if (err != NULL) {
		err->status = st;
		err->reason = st == MESHCA_ERR_REJECTED || st == MESHCA_ERR_PARSE ?
		    (enum meshca_reason)e->reason : MESHCA_REASON_NONE;
		memcpy(err->message, e->msg, sizeof(err->message));
		err->message[sizeof(err->message) - 1] = '\0';
	}
	return st;
}

enum meshca_status
spiffe_load_file(const char *path, size_t max, spiffe_parse_fn parse,
    void *arg, struct meshca_error *err)
{
	struct mc_err e = { 0 };
	struct mc_buf b;
	enum meshca_status st;

	mc_buf_init(&b, max);
	if (mc_buf_read_file(&b, path, &e) == -1) {
		st = spiffe_api_error(&e, err);
		goto out;
	}
	st = parse(b.data, b.len, arg, err);
	if (st != MESHCA_OK && err != NULL) {
		mc_err_set(&e, st, err->reason, "%s", err->message);
		mc_err_prefix(&e, "%s", path);
		spiffe_api_error(&e, err);
	}
out:
	mc_buf_free(&b);
	return st;
}
