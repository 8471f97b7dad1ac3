/*
 * meshca.h: the umbrella header of libmeshca-verify, and the types every
 * other public header shares: the status codes, the caller-owned error
 * record and the visibility macro.
 *
 * Conventions for the whole API (libmeshca-verify(3)):
 *  - every fallible call returns enum meshca_status, MESHCA_OK (0) on
 *    success; objects come back through an out-parameter that is set only
 *    on success;
 *  - every call that can fail takes an optional struct meshca_error *
 *    (NULL is allowed) that receives the specific reason;
 *  - every object type has a _free function that accepts NULL;
 *  - "get0" accessors return pointers borrowed from their object, valid
 *    until that object is freed;
 *  - there is no global mutable state: distinct objects may be used from
 *    different threads at once; what a single object allows is stated at
 *    its declaration.
 */
#ifndef MESHCA_MESHCA_H
#define MESHCA_MESHCA_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define MESHCA_API __attribute__((visibility("default")))
#else
#define MESHCA_API
#endif

/* Status of a call. The values are stable: they are part of the ABI. */
enum meshca_status {
	MESHCA_OK = 0,
	MESHCA_ERR_USAGE = 1,	 /* bad argument: NULL where not allowed, ... */
	MESHCA_ERR_PARSE = 2,	 /* the input is not well-formed */
	MESHCA_ERR_REJECTED = 3, /* well-formed, but fails a rule */
	MESHCA_ERR_IO = 4,	 /* a file could not be read or written */
	MESHCA_ERR_NOMEM = 5,	 /* an allocation failed */
	MESHCA_ERR_INTERNAL = 6	 /* a library below us failed unexpectedly */
};

/*
 * Why a certificate chain or identity was rejected, set in
 * meshca_error.reason when status is MESHCA_ERR_REJECTED (and
 * MESHCA_REASON_NONE otherwise). Values are stable.
 */
enum meshca_reason {
	MESHCA_REASON_NONE = 0,
	MESHCA_REASON_ID_INVALID = 1,	     /* not a valid SPIFFE ID */
	MESHCA_REASON_NO_URI_SAN = 2,	     /* leaf has no URI SAN */
	MESHCA_REASON_MULTIPLE_URI_SANS = 3, /* leaf has more than one */
	MESHCA_REASON_ID_NOT_WORKLOAD = 4,   /* leaf ID has no path */
	MESHCA_REASON_LEAF_IS_CA = 5,	     /* leaf has CA:true */
	MESHCA_REASON_KEY_USAGE = 6,	     /* keyUsage missing or wrong */
	MESHCA_REASON_EXT_KEY_USAGE = 7,     /* EKU lacks serverAuth/clientAuth */
	MESHCA_REASON_SIGNING_CERT = 8,	     /* an intermediate is not a CA */
	MESHCA_REASON_UNTRUSTED = 9,	     /* no path to a bundle root */
	MESHCA_REASON_EXPIRED = 10,	     /* outside a validity period */
	MESHCA_REASON_NOT_YET_VALID = 11,
	MESHCA_REASON_REVOKED = 12,	     /* listed in a CRL */
	MESHCA_REASON_CRL = 13,		     /* CRL missing, expired or bad */
	MESHCA_REASON_TRUST_DOMAIN = 14,     /* ID outside the trust domain */
	MESHCA_REASON_NOT_AUTHORIZED = 15,   /* secure naming said no */
	MESHCA_REASON_PATH = 16		     /* other RFC 5280 path failure */
};

#define MESHCA_ERROR_MESSAGE_MAX 256

/*
 * Caller-owned error record. On failure a call fills status, reason and a
 * NUL-terminated message naming the object and the rule, e.g.
 * "leaf: X509-SVID 4.3: keyCertSign set". Messages never carry key
 * material. On success the record is left untouched.
 */
struct meshca_error {
	enum meshca_status status;
	enum meshca_reason reason;
	char message[MESHCA_ERROR_MESSAGE_MAX];
};

/* A static, human-readable name for a status; never NULL. Thread-safe. */
MESHCA_API const char *meshca_strerror(enum meshca_status status);

/* A static, human-readable name for a reason; never NULL. Thread-safe. */
MESHCA_API const char *meshca_strreason(enum meshca_reason reason);

/* Frees memory the library returned as caller-owned (strings, buffers). */
MESHCA_API void meshca_free(void *ptr);

#ifdef __cplusplus
}
#endif

#endif /* MESHCA_MESHCA_H */
