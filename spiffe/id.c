/*
 * id.c: SPIFFE IDs (SPIFFE-ID.md, sections 2 to 2.3): checking, parsing,
 * building from parts and from Kubernetes service accounts, and splitting
 * the service-account form apart again.
 *
 * Input is untrusted: any bytes, of any length, with or without a NUL.
 * Nothing is normalized: an ID is accepted only in the one spelling the
 * specification allows (lowercase scheme and trust domain, no percent-
 * encoding, no dot segments), so two valid IDs name the same workload
 * exactly when their bytes are equal.
 */
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <meshca/id.h>

#include "common/alloc.h"
#include "common/err.h"
#include "common/status.h"
#include "spiffe/api.h"
#include "spiffe/id.h"

#define ID_SCHEME "spiffe://"
#define ID_SCHEME_LEN 9

/* The ID string, then the trust domain; the path is a suffix of str. */
struct meshca_id {
	const char *td;
	const char *path;
	char str[];
};

/* Longest piece of untrusted input quoted in an error message. */
#define QUOTE_MAX 48

/*
 * Writes s as a C-style quoted string into q (at least QUOTE_MAX * 4 + 8
 * bytes), escaping what is not printable and cutting it short with "...".
 */
static void
quote(char *q, size_t qlen, const char *s, size_t len)
{
	size_t i, o = 0;
	unsigned char c;

	q[o++] = '"';
	for (i = 0; i < len && i < QUOTE_MAX && o + 5 < qlen; i++) {
		c = (unsigned char)s[i];
		if (c == '"' || c == '\\')
			o += snprintf(q + o, qlen - o, "\\%c", c);
		else if (c < 0x20 || c > 0x7e)
			o += snprintf(q + o, qlen - o, "\\x%02x", c);
		else
			q[o++] = (char)c;
	}
	if (i < len && o + 4 < qlen)
		o += snprintf(q + o, qlen - o, "...");
	q[o++] = '"';
	q[o] = '\0';
}

/* Records why s is not a valid ID (or trust domain, or path: kind). */
static int bad(struct mc_err *, const char *, const char *, size_t,
    const char *, ...) __attribute__((format(printf, 5, 6)));

static int
bad(struct mc_err *e, const char *kind, const char *s, size_t len,
    const char *fmt, ...)
{
	char q[QUOTE_MAX * 4 + 8], why[MC_ERR_MAX];
	va_list ap;

	if (e == NULL)
		return -1;
	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	quote(q, sizeof(q), s, len);
	mc_err_set(e, MC_ST_PARSE, MESHCA_REASON_ID_INVALID, "%s%s: %s", kind,
	    q, why);
	return -1;
}

static bool
is_td_char(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' ||
	    c == '-' || c == '_';
}

static bool
is_path_char(unsigned char c)
{
	return is_td_char(c) || (c >= 'A' && c <= 'Z');
}

/* Names a byte for a message: 'c' when printable, else 0xHH. */
static const char *
byte_name(char *buf, size_t len, unsigned char c)
{
	if (c > 0x20 && c < 0x7f)
		snprintf(buf, len, "'%c'", c);
	else
		snprintf(buf, len, "byte 0x%02x", c);
	return buf;
}

/*
 * The trust domain td (tdlen bytes) of s, which is quoted in errors.
 * SPIFFE-ID.md 2.1: "The host part of the authority MUST NOT be empty.
 * The userinfo and port parts of the authority component MUST be empty.
 * The host part of the authority MUST be lowercase. [It] MUST contain only
 * letters, numbers, dots, dashes, and underscores ([a-z0-9.-_]). [It]
 * MUST NOT contain percent-encoded characters." 2.3: "a maximum length of
 * a trust domain name is 255 bytes."
 */
static int
td_check(const char *td, size_t tdlen, const char *kind, const char *s,
    size_t len, struct mc_err *e)
{
	char b[16];
	unsigned char c;
	size_t i;

	if (tdlen == 0)
		return bad(e, kind, s, len, "SPIFFE-ID 2.1: trust domain is "
		    "empty");
	if (tdlen > MESHCA_TRUST_DOMAIN_MAX)
		return bad(e, kind, s, len, "SPIFFE-ID 2.3: trust domain is "
		    "longer than %d bytes", MESHCA_TRUST_DOMAIN_MAX);
	/* Before ':' is taken for a port: "user:pw@host" is userinfo. */
	if (memchr(td, '@', tdlen) != NULL)
		return bad(e, kind, s, len, "SPIFFE-ID 2.1: trust domain has "
		    "a userinfo part ('@')");
	for (i = 0; i < tdlen; i++) {
		c = (unsigned char)td[i];
		if (is_td_char(c))
			continue;
		if (c >= 'A' && c <= 'Z')
			return bad(e, kind, s, len, "SPIFFE-ID 2.1: trust "
			    "domain contains an uppercase letter");
		if (c == ':')
			return bad(e, kind, s, len, "SPIFFE-ID 2.1: trust "
			    "domain has a port (':')");
		if (c == '%')
			return bad(e, kind, s, len, "SPIFFE-ID 2.1: trust "
			    "domain contains percent-encoding");
		if (c == '?')
			return bad(e, kind, s, len, "SPIFFE-ID 2: has a "
			    "query ('?')");
		if (c == '#')
			return bad(e, kind, s, len, "SPIFFE-ID 2: has a "
			    "fragment ('#')");
		return bad(e, kind, s, len, "SPIFFE-ID 2.1: trust domain "
		    "contains %s, not one of [a-z0-9.-_]",
		    byte_name(b, sizeof(b), c));
	}
	return 0;
}

/*
 * The path p (plen bytes, "" or starting with '/') of s.
 * SPIFFE-ID.md 2.2: "The path component MUST NOT include percent-encoded
 * characters. [It] MUST NOT include segments that are empty or are
 * relative path modifiers (i.e. ., ..). [It] MUST NOT include a trailing
 * /. Individual path segments MUST contain only letters, numbers, dots,
 * dashes, and underscores ([a-zA-Z0-9.-_])."
 */
static int
path_check(const char *p, size_t plen, const char *kind, const char *s,
    size_t len, struct mc_err *e)
{
	char b[16];
	unsigned char c;
	size_t i, seg, n;

	if (plen == 0)
		return 0;
	if (p[0] != '/')
		return bad(e, kind, s, len, "SPIFFE-ID 2.2: path does not "
		    "start with '/'");
	for (seg = i = 1; i <= plen; i++) {
		if (i == plen || p[i] == '/') {
			n = i - seg;
			if (n == 0 && i == plen)
				return bad(e, kind, s, len, "SPIFFE-ID 2.2: "
				    "path has a trailing '/'");
			if (n == 0)
				return bad(e, kind, s, len, "SPIFFE-ID 2.2: "
				    "path has an empty segment");
			if (p[seg] == '.' && (n == 1 ||
			    (n == 2 && p[seg + 1] == '.')))
				return bad(e, kind, s, len, "SPIFFE-ID 2.2: "
				    "path has a '.' or '..' segment");
			seg = i + 1;
			continue;
		}
		c = (unsigned char)p[i];
		if (is_path_char(c))
			continue;
		if (c == '%')
			return bad(e, kind, s, len, "SPIFFE-ID 2.2: path "
			    "contains percent-encoding");
		if (c == '?')
			return bad(e, kind, s, len, "SPIFFE-ID 2: has a "
			    "query ('?')");
		if (c == '#')
			return bad(e, kind, s, len, "SPIFFE-ID 2: has a "
			    "fragment ('#')");
		return bad(e, kind, s, len, "SPIFFE-ID 2.2: path contains %s, "
		    "not one of [a-zA-Z0-9.-_]", byte_name(b, sizeof(b), c));
	}
	return 0;
}

int
spiffe_id_check(const char *s, size_t len, size_t *tdlenp, struct mc_err *e)
{
	const char *td, *slash;
	size_t tdlen;

	if (len == 0)
		return bad(e, "", s, len, "SPIFFE-ID 2: empty");
	/*
	 * 2.3: "the maximum length of a SPIFFE ID is 2048 bytes." First, so
	 * that no check reads more than that much of a long input.
	 */
	if (len > MESHCA_ID_MAX)
		return bad(e, "", s, len, "SPIFFE-ID 2.3: longer than %d bytes",
		    MESHCA_ID_MAX);
	if (memchr(s, '\0', len) != NULL)
		return bad(e, "", s, len, "SPIFFE-ID 2: contains a NUL byte");
	/*
	 * 2: "Valid SPIFFE IDs MUST use the spiffe scheme"; we accept only
	 * the lowercase spelling so that equal IDs have equal bytes.
	 */
	if (len < ID_SCHEME_LEN || memcmp(s, ID_SCHEME, ID_SCHEME_LEN) != 0) {
		if (len >= ID_SCHEME_LEN &&
		    strncasecmp(s, ID_SCHEME, ID_SCHEME_LEN) == 0)
			return bad(e, "", s, len, "SPIFFE-ID 2: scheme is not "
			    "lowercase \"spiffe\"");
		if (len >= 7 && memcmp(s, "spiffe:", 7) == 0)
			return bad(e, "", s, len, "SPIFFE-ID 2: no \"//\" "
			    "and trust domain after \"spiffe:\"");
		return bad(e, "", s, len, "SPIFFE-ID 2: scheme is not "
		    "\"spiffe\"");
	}
	td = s + ID_SCHEME_LEN;
	slash = memchr(td, '/', len - ID_SCHEME_LEN);
	tdlen = slash == NULL ? len - ID_SCHEME_LEN : (size_t)(slash - td);
	if (td_check(td, tdlen, "", s, len, e) == -1 ||
	    path_check(td + tdlen, len - ID_SCHEME_LEN - tdlen, "", s, len,
	    e) == -1)
		return -1;
	if (tdlenp != NULL)
		*tdlenp = tdlen;
	return 0;
}

int
spiffe_td_check(const char *td, size_t len, struct mc_err *e)
{
	if (len <= MESHCA_TRUST_DOMAIN_MAX && memchr(td, '\0', len) != NULL)
		return bad(e, "trust domain ", td, len, "SPIFFE-ID 2.1: "
		    "contains a NUL byte");
	return td_check(td, len, "trust domain ", td, len, e);
}

/* Makes an ID from s, already checked, whose trust domain is tdlen long. */
static struct meshca_id *
id_new(const char *s, size_t len, size_t tdlen, struct mc_err *e)
{
	struct meshca_id *id;
	char *td;

	if ((id = mc_malloc(sizeof(*id) + len + 1 + tdlen + 1)) == NULL) {
		mc_err_set(e, MC_ST_NOMEM, 0, "SPIFFE ID: out of memory");
		return NULL;
	}
	memcpy(id->str, s, len);
	id->str[len] = '\0';
	td = id->str + len + 1;
	memcpy(td, s + ID_SCHEME_LEN, tdlen);
	td[tdlen] = '\0';
	id->td = td;
	id->path = id->str + ID_SCHEME_LEN + tdlen;
	return id;
}

MESHCA_API enum meshca_status
meshca_id_check(const char *s, size_t len, struct meshca_error *err)
{
	struct mc_err e;

	mc_err_clear(&e);
	if (s == NULL) {
		mc_err_set(&e, MC_ST_USAGE, 0, "meshca_id_check: s is NULL");
		return spiffe_api_error(&e, err);
	}
	if (spiffe_id_check(s, len, NULL, &e) == -1)
		return spiffe_api_error(&e, err);
	return MESHCA_OK;
}

MESHCA_API enum meshca_status
meshca_id_parse(const char *s, size_t len, struct meshca_id **out,
    struct meshca_error *err)
{
	struct mc_err e;
	size_t tdlen = 0;
	struct meshca_id *id;

	mc_err_clear(&e);
	if (s == NULL || out == NULL) {
		mc_err_set(&e, MC_ST_USAGE, 0, "meshca_id_parse: s or out is "
		    "NULL");
		return spiffe_api_error(&e, err);
	}
	if (spiffe_id_check(s, len, &tdlen, &e) == -1 ||
	    (id = id_new(s, len, tdlen, &e)) == NULL)
		return spiffe_api_error(&e, err);
	*out = id;
	return MESHCA_OK;
}

MESHCA_API enum meshca_status
meshca_trust_domain_check(const char *td, size_t len,
    struct meshca_error *err)
{
	struct mc_err e;

	mc_err_clear(&e);
	if (td == NULL) {
		mc_err_set(&e, MC_ST_USAGE, 0, "meshca_trust_domain_check: td "
		    "is NULL");
		return spiffe_api_error(&e, err);
	}
	if (spiffe_td_check(td, len, &e) == -1)
		return spiffe_api_error(&e, err);
	return MESHCA_OK;
}

/* Builds an ID from a trust domain and a path, both NUL-terminated. */
static struct meshca_id *
id_from_parts(const char *td, const char *path, struct mc_err *e)
{
	char s[MESHCA_ID_MAX + 1];
	size_t tdlen, plen;

	tdlen = strlen(td);
	plen = strlen(path);
	if (td_check(td, tdlen, "trust domain ", td, tdlen, e) == -1 ||
	    path_check(path, plen, "path ", path, plen, e) == -1)
		return NULL;
	if (ID_SCHEME_LEN + tdlen + plen > MESHCA_ID_MAX) {
		bad(e, "path ", path, plen, "SPIFFE-ID 2.3: the ID would be "
		    "longer than %d bytes", MESHCA_ID_MAX);
		return NULL;
	}
	/* Fits: the length was checked against MESHCA_ID_MAX above. */
	snprintf(s, sizeof(s), "%s%s%s", ID_SCHEME, td, path);
	return id_new(s, ID_SCHEME_LEN + tdlen + plen, tdlen, e);
}

MESHCA_API enum meshca_status
meshca_id_from_parts(const char *td, const char *path, struct meshca_id **out,
    struct meshca_error *err)
{
	struct mc_err e;
	struct meshca_id *id;

	mc_err_clear(&e);
	if (td == NULL || path == NULL || out == NULL) {
		mc_err_set(&e, MC_ST_USAGE, 0, "meshca_id_from_parts: td, "
		    "path or out is NULL");
		return spiffe_api_error(&e, err);
	}
	if ((id = id_from_parts(td, path, &e)) == NULL)
		return spiffe_api_error(&e, err);
	*out = id;
	return MESHCA_OK;
}

/* A namespace or account name must be one valid path segment. */
static int
segment_check(const char *what, const char *seg, struct mc_err *e)
{
	size_t len = strlen(seg);

	if (len == 0)
		return bad(e, what, seg, len, "SPIFFE-ID 2.2: empty segment");
	if (memchr(seg, '/', len) != NULL)
		return bad(e, what, seg, len, "SPIFFE-ID 2.2: contains '/', "
		    "so is more than one path segment");
	return 0;
}

MESHCA_API enum meshca_status
meshca_id_from_service_account(const char *td, const char *ns, const char *sa,
    struct meshca_id **out, struct meshca_error *err)
{
	char path[MESHCA_ID_MAX + 1];
	struct mc_err e;
	struct meshca_id *id;
	int n;

	mc_err_clear(&e);
	if (td == NULL || ns == NULL || sa == NULL || out == NULL) {
		mc_err_set(&e, MC_ST_USAGE, 0, "meshca_id_from_service_account:"
		    " td, ns, sa or out is NULL");
		return spiffe_api_error(&e, err);
	}
	if (segment_check("namespace ", ns, &e) == -1 ||
	    segment_check("service account ", sa, &e) == -1)
		return spiffe_api_error(&e, err);
	n = snprintf(path, sizeof(path), "/ns/%s/sa/%s", ns, sa);
	if (n < 0 || (size_t)n >= sizeof(path)) {
		bad(&e, "service account ", sa, strlen(sa), "SPIFFE-ID 2.3: "
		    "the ID would be longer than %d bytes", MESHCA_ID_MAX);
		return spiffe_api_error(&e, err);
	}
	if ((id = id_from_parts(td, path, &e)) == NULL)
		return spiffe_api_error(&e, err);
	*out = id;
	return MESHCA_OK;
}

MESHCA_API void
meshca_id_free(struct meshca_id *id)
{
	mc_free(id);
}

MESHCA_API struct meshca_id *
meshca_id_dup(const struct meshca_id *id)
{
	if (id == NULL)
		return NULL;
	return id_new(id->str, strlen(id->str), strlen(id->td), NULL);
}

MESHCA_API const char *
meshca_id_get0_string(const struct meshca_id *id)
{
	return id == NULL ? NULL : id->str;
}

MESHCA_API const char *
meshca_id_get0_trust_domain(const struct meshca_id *id)
{
	return id == NULL ? NULL : id->td;
}

MESHCA_API const char *
meshca_id_get0_path(const struct meshca_id *id)
{
	return id == NULL ? NULL : id->path;
}

MESHCA_API bool
meshca_id_is_trust_domain(const struct meshca_id *id)
{
	return id != NULL && id->path[0] == '\0';
}

MESHCA_API bool
meshca_id_is_member_of(const struct meshca_id *id, const char *td)
{
	return id != NULL && td != NULL && strcmp(id->td, td) == 0;
}

MESHCA_API bool
meshca_id_equal(const struct meshca_id *a, const struct meshca_id *b)
{
	return a != NULL && b != NULL && strcmp(a->str, b->str) == 0;
}

MESHCA_API enum meshca_status
meshca_id_get_service_account(const struct meshca_id *id, char *ns,
    size_t nslen, char *sa, size_t salen, struct meshca_error *err)
{
	struct mc_err e;
	const char *n, *nend, *s;
	size_t nl, sl;

	mc_err_clear(&e);
	if (id == NULL || ns == NULL || sa == NULL) {
		mc_err_set(&e, MC_ST_USAGE, 0, "meshca_id_get_service_account:"
		    " id, ns or sa is NULL");
		return spiffe_api_error(&e, err);
	}
	/* The path is valid, so its segments are non-empty. */
	n = nend = s = NULL;
	if (strncmp(id->path, "/ns/", 4) == 0) {
		n = id->path + 4;
		if ((nend = strchr(n, '/')) != NULL &&
		    strncmp(nend, "/sa/", 4) == 0)
			s = nend + 4;
	}
	if (s == NULL || strchr(s, '/') != NULL) {
		bad(&e, "", id->str, strlen(id->str), "path is not "
		    "/ns/NAMESPACE/sa/ACCOUNT");
		e.status = MC_ST_REJECTED;
		e.reason = 0;
		return spiffe_api_error(&e, err);
	}
	nl = (size_t)(nend - n);
	sl = strlen(s);
	if (nl >= nslen || sl >= salen) {
		mc_err_set(&e, MC_ST_USAGE, 0, "meshca_id_get_service_account:"
		    " buffer too small for the %s (%zu bytes needed)",
		    nl >= nslen ? "namespace" : "account",
		    (nl >= nslen ? nl : sl) + 1);
		return spiffe_api_error(&e, err);
	}
	memcpy(ns, n, nl);
	ns[nl] = '\0';
	memcpy(sa, s, sl + 1);
	return MESHCA_OK;
}
