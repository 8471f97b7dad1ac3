/*
 * fuzz_id.c: libFuzzer target for the SPIFFE ID parser (spiffe/id.c),
 * differential. Arbitrary bytes go to meshca_id_check(),
 * meshca_id_parse() and meshca_trust_domain_check(), and each verdict
 * is compared with ref_id_valid() below: a second, deliberately plain
 * reading of SPIFFE-ID.md written from the spec and sharing no code
 * with spiffe/id.c. An accepted ID must also survive a round trip
 * through its accessors and meshca_id_from_parts().
 *
 * The input is untrusted in full: any byte, any length, no NUL.
 */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include <meshca/meshca.h>
#include <meshca/id.h>

#include "fuzz/fuzz.h"

static bool
ref_is_td_char(unsigned char c)
{
	/* SPIFFE-ID.md 2.1: "Trust domain names ... MUST contain only
	 * lowercase letters, numbers, dots, dashes, and underscores". */
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' ||
	    c == '-' || c == '_';
}

static bool
ref_is_path_char(unsigned char c)
{
	/* SPIFFE-ID.md 2.2: "Valid segment characters are letters,
	 * numbers, dots, dashes, and underscores." */
	return ref_is_td_char(c) || (c >= 'A' && c <= 'Z');
}

static bool
ref_td_valid(const char *s, size_t len)
{
	size_t i;

	/* 2.1: not empty; at most 255 bytes (MESHCA_TRUST_DOMAIN_MAX). */
	if (len == 0 || len > MESHCA_TRUST_DOMAIN_MAX)
		return false;
	for (i = 0; i < len; i++)
		if (!ref_is_td_char((unsigned char)s[i]))
			return false;
	return true;
}

/*
 * The path: empty, or "/" segment repeated; no empty segment (so no
 * "//" and no trailing "/"), no "." or ".." segment (2.2), no
 * percent-encoding, query or fragment (the characters are excluded).
 */
static bool
ref_path_valid(const char *s, size_t len)
{
	size_t i = 0, start;

	while (i < len) {
		if (s[i] != '/')
			return false;
		start = ++i;
		while (i < len && s[i] != '/') {
			if (!ref_is_path_char((unsigned char)s[i]))
				return false;
			i++;
		}
		if (i == start)
			return false;
		if (i - start == 1 && s[start] == '.')
			return false;
		if (i - start == 2 && s[start] == '.' && s[start + 1] == '.')
			return false;
	}
	return true;
}

/* On success, *tdlen is the length of the trust domain after "spiffe://". */
static bool
ref_id_valid(const char *s, size_t len, size_t *tdlen)
{
	static const char scheme[] = "spiffe://";
	const size_t slen = sizeof(scheme) - 1;
	const char *td, *slash;
	size_t rest;

	/* 2.3: IDs longer than 2048 bytes are refused (MESHCA_ID_MAX). */
	if (len > MESHCA_ID_MAX || len < slen || memcmp(s, scheme, slen) != 0)
		return false;
	td = s + slen;
	rest = len - slen;
	slash = memchr(td, '/', rest);
	*tdlen = slash == NULL ? rest : (size_t)(slash - td);
	return ref_td_valid(td, *tdlen) &&
	    ref_path_valid(td + *tdlen, rest - *tdlen);
}

static void
check_error(enum meshca_status st, const struct meshca_error *err)
{
	FUZZ_CHECK(st == MESHCA_ERR_PARSE, "invalid ID gives a parse error");
	FUZZ_CHECK(err->status == st, "error record carries the status");
	FUZZ_CHECK(memchr(err->message, '\0', sizeof(err->message)) != NULL,
	    "error message is NUL-terminated");
	FUZZ_CHECK(err->message[0] != '\0', "error message says why");
}

static void
check_accepted(const char *s, size_t len, size_t tdlen,
    struct meshca_id *id)
{
	struct meshca_id *again = NULL, *dup = NULL;
	const char *whole, *td, *path;
	char td0[MESHCA_TRUST_DOMAIN_MAX + 1];
	char ns[MESHCA_ID_MAX + 1], sa[MESHCA_ID_MAX + 1];
	enum meshca_status st;

	whole = meshca_id_get0_string(id);
	td = meshca_id_get0_trust_domain(id);
	path = meshca_id_get0_path(id);
	FUZZ_CHECK(whole != NULL && td != NULL && path != NULL, "accessors");
	/* A valid ID has nothing to normalize: it comes back unchanged. */
	FUZZ_CHECK(strlen(whole) == len && memcmp(whole, s, len) == 0,
	    "string round trip");
	FUZZ_CHECK(strlen(td) == tdlen && memcmp(td, s + 9, tdlen) == 0,
	    "trust domain split");
	FUZZ_CHECK(strlen(path) == len - 9 - tdlen &&
	    memcmp(path, s + 9 + tdlen, len - 9 - tdlen) == 0, "path split");
	FUZZ_CHECK(meshca_id_is_trust_domain(id) == (path[0] == '\0'),
	    "trust-domain ID iff empty path");
	memcpy(td0, td, tdlen + 1);
	FUZZ_CHECK(meshca_id_is_member_of(id, td0), "member of its own TD");

	st = meshca_id_from_parts(td, path, &again, NULL);
	FUZZ_CHECK(st == MESHCA_OK || st == MESHCA_ERR_NOMEM,
	    "from_parts accepts the parts of a valid ID");
	if (again != NULL)
		FUZZ_CHECK(meshca_id_equal(id, again), "from_parts is equal");
	if ((dup = meshca_id_dup(id)) != NULL)
		FUZZ_CHECK(meshca_id_equal(id, dup), "dup is equal");

	/* spiffe://TD/ns/NS/sa/SA splits, anything else is REJECTED. */
	st = meshca_id_get_service_account(id, ns, sizeof(ns), sa, sizeof(sa),
	    NULL);
	FUZZ_CHECK(st == MESHCA_OK || st == MESHCA_ERR_REJECTED,
	    "service account split verdict");
	if (st == MESHCA_OK) {
		struct meshca_id *rebuilt = NULL;

		FUZZ_CHECK(meshca_id_from_service_account(td0, ns, sa,
		    &rebuilt, NULL) != MESHCA_ERR_PARSE, "rebuild from SA");
		if (rebuilt != NULL)
			FUZZ_CHECK(meshca_id_equal(id, rebuilt),
			    "SA rebuild is equal");
		meshca_id_free(rebuilt);
	}
	/* Tiny buffers are a usage error, never an overflow. */
	st = meshca_id_get_service_account(id, ns, 1, sa, 1, NULL);
	FUZZ_CHECK(st == MESHCA_ERR_USAGE || st == MESHCA_ERR_REJECTED,
	    "tiny buffers");
	meshca_id_free(again);
	meshca_id_free(dup);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data;
	struct meshca_error err;
	struct meshca_id *id = NULL;
	enum meshca_status st;
	size_t tdlen = 0;
	bool want;

	want = ref_id_valid(s, size, &tdlen);

	memset(&err, 0, sizeof(err));
	st = meshca_id_check(s, size, &err);
	if (want)
		FUZZ_CHECK(st == MESHCA_OK, "check accepts what the spec does");
	else {
		FUZZ_CHECK(st != MESHCA_OK, "check rejects what the spec does");
		check_error(st, &err);
		FUZZ_CHECK(err.reason == MESHCA_REASON_ID_INVALID, "reason");
	}

	memset(&err, 0, sizeof(err));
	st = meshca_id_parse(s, size, &id, &err);
	if (st == MESHCA_ERR_NOMEM)
		goto td;
	if (want) {
		FUZZ_CHECK(st == MESHCA_OK && id != NULL,
		    "parse accepts what the spec does");
		check_accepted(s, size, tdlen, id);
	} else {
		FUZZ_CHECK(st != MESHCA_OK, "parse rejects what the spec does");
		FUZZ_CHECK(id == NULL, "no object on failure");
		check_error(st, &err);
	}
td:
	/* The same bytes as a bare trust domain name. */
	st = meshca_trust_domain_check(s, size, NULL);
	FUZZ_CHECK((st == MESHCA_OK) == ref_td_valid(s, size),
	    "trust domain verdict");
	meshca_id_free(id);
	return 0;
}
