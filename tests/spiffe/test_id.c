/*
 * test_id.c: SPIFFE IDs (spiffe/id.c) through the public API: a table of
 * good and bad IDs covering every rule of SPIFFE-ID.md 2-2.3 with the
 * rule each bad one must be refused for, the length caps exactly at and
 * one past each limit, the builders and accessors, and a differential
 * test against an independent checker (POSIX regular expressions written
 * from the specification) over many generated strings.
 */
#include <regex.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <meshca/id.h>

struct id_case {
	const char *s;
	const char *why; /* NULL: valid; else a substring of the message */
};

static const struct id_case cases[] = {
	/* Valid: SPIFFE-ID.md's own examples and the edges of each rule. */
	{ "spiffe://trust-domain-name/path", NULL },
	{ "spiffe://staging.example.com/payments/mysql", NULL },
	{ "spiffe://staging.example.com/payments/web-fe", NULL },
	{ "spiffe://k8s-west.example.com/ns/staging/sa/default", NULL },
	{ "spiffe://example.com/9eebccd2-12bf-40a6-b262-65fe0487d453", NULL },
	{ "spiffe://example.org", NULL },
	{ "spiffe://a", NULL },
	{ "spiffe://1.2.3.4/x", NULL },
	{ "spiffe://under_score.example-org.9/A/b.C/d-E/f_G", NULL },
	{ "spiffe://td/...", NULL },
	{ "spiffe://td/.a/a./..b/-/_", NULL },
	{ "spiffe://td/ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	  "0123456789.-_", NULL },
	/* Scheme (2). */
	{ "", "SPIFFE-ID 2: empty" },
	{ "http://example.org/a", "scheme is not \"spiffe\"" },
	{ "spiffe", "scheme is not \"spiffe\"" },
	{ "spiffe:/", "no \"//\"" },
	{ "spiffe:example.org/a", "no \"//\"" },
	{ "spiffe:/example.org", "no \"//\"" },
	{ "SPIFFE://example.org", "scheme is not lowercase" },
	{ "Spiffe://example.org/a", "scheme is not lowercase" },
	{ "spiffE://example.org", "scheme is not lowercase" },
	{ " spiffe://example.org", "scheme is not \"spiffe\"" },
	{ "://example.org", "scheme is not \"spiffe\"" },
	{ "spiffe://", "trust domain is empty" },
	{ "spiffe:///", "trust domain is empty" },
	{ "spiffe:///path", "trust domain is empty" },
	/* Trust domain (2.1). */
	{ "spiffe://Ex.com/a", "SPIFFE-ID 2.1: trust domain contains an "
	  "uppercase letter" },
	{ "spiffe://EXAMPLE.ORG", "uppercase" },
	{ "spiffe://user@example.org/a", "userinfo" },
	{ "spiffe://@example.org", "userinfo" },
	{ "spiffe://example.org:8080/a", "port" },
	{ "spiffe://example.org:/a", "port" },
	{ "spiffe://[::1]/a", "trust domain contains '['" },
	{ "spiffe://exa%6dple.org", "trust domain contains percent" },
	{ "spiffe://example.org?q", "query" },
	{ "spiffe://example.org#f", "fragment" },
	{ "spiffe://exa mple.org", "trust domain contains byte 0x20" },
	{ "spiffe://example.org\\a", "trust domain contains '\\'" },
	{ "spiffe://ex\xc3\xa9mple.org", "byte 0xc3" },
	{ "spiffe://example.org\t", "byte 0x09" },
	{ "spiffe://a+b", "trust domain contains '+'" },
	{ "spiffe://a~b", "trust domain contains '~'" },
	{ "spiffe://a!b", "trust domain contains '!'" },
	/* Path (2.2). */
	{ "spiffe://example.org/", "trailing '/'" },
	{ "spiffe://example.org/a/", "trailing '/'" },
	{ "spiffe://example.org//", "empty segment" },
	{ "spiffe://example.org//a", "empty segment" },
	{ "spiffe://example.org/a//b", "empty segment" },
	{ "spiffe://example.org/.", "'.' or '..' segment" },
	{ "spiffe://example.org/..", "'.' or '..' segment" },
	{ "spiffe://example.org/./a", "'.' or '..' segment" },
	{ "spiffe://example.org/a/../b", "'.' or '..' segment" },
	{ "spiffe://example.org/a/.", "'.' or '..' segment" },
	{ "spiffe://example.org/a/..", "'.' or '..' segment" },
	{ "spiffe://example.org/a%2Fb", "path contains percent" },
	{ "spiffe://example.org/%41", "percent" },
	{ "spiffe://example.org/a?b=c", "query" },
	{ "spiffe://example.org/a?", "query" },
	{ "spiffe://example.org/a#frag", "fragment" },
	{ "spiffe://example.org/#", "fragment" },
	{ "spiffe://example.org/a b", "path contains byte 0x20" },
	{ "spiffe://example.org/a:b", "path contains ':'" },
	{ "spiffe://example.org/a@b", "path contains '@'" },
	{ "spiffe://example.org/a+b", "path contains '+'" },
	{ "spiffe://example.org/a~b", "path contains '~'" },
	{ "spiffe://example.org/a$b", "path contains '$'" },
	{ "spiffe://example.org/a*b", "path contains '*'" },
	{ "spiffe://example.org/a\\b", "path contains '\\'" },
	{ "spiffe://example.org/\xc3\xa9", "byte 0xc3" },
	{ "spiffe://example.org/a\n", "byte 0x0a" },
	{ "spiffe://example.org/a\x7f", "byte 0x7f" },
	/*
	 * The examples the SPIFFE project gives with its string-only
	 * validation algorithm for SPIFFE-ID.md, every one.
	 */
	{ "", "empty" },
	{ "spiffe://", "trust domain is empty" },
	{ "spiffe:///", "trust domain is empty" },
	{ "spiffe://Foo/bar", "uppercase" },
	{ "spiffe://foo:bar", "port" },
	{ "spiffe://foo/bar", NULL },
	{ "spiffe://fo\xc3\xb6/bar", "trust domain contains byte 0xc3" },
	{ "spiffe://foo/b\xc3\xa4r", "path contains byte 0xc3" },
	{ "spiffe://foo/", "trailing '/'" },
	{ "spiffe://foo", NULL },
	{ "spiffe://foo.bar/Baz/buZ", NULL },
	{ "spiffe://foo.bar/Baz/buZ/", "trailing '/'" },
	{ "spiffe://foo.bar//buZ/", "empty segment" },
	{ "spiffe://foo.bar/../buZ/", "'.' or '..' segment" },
	{ "spiffe://foo.bar/..Baz/.buZ", NULL },
	{ "spiffe://foo.bar/buZ/%2d", "percent" },
	{ "Spiffe://foo.bar/Baz/buZ", "scheme is not lowercase" },
	{ "spiffe://domain.test/path/validate?query=1", "query" },
	{ "spiffe://domain.test/path/validate?#fragment-1", "query" },
	{ "spiffe://domain.test:8080/path/validate", "port" },
	{ "spiffe://user:password@test.org/path/validate", "userinfo" },
};

static void
test_table(void **state)
{
	struct meshca_error err;
	struct meshca_id *id;
	enum meshca_status st;
	size_t i, len;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		len = strlen(cases[i].s);
		memset(&err, 0, sizeof(err));
		id = NULL;
		st = meshca_id_parse(cases[i].s, len, &id, &err);
		if (cases[i].why == NULL) {
			if (st != MESHCA_OK)
				fail_msg("%s: %s", cases[i].s, err.message);
			assert_string_equal(meshca_id_get0_string(id),
			    cases[i].s);
			assert_int_equal(meshca_id_check(cases[i].s, len,
			    NULL), MESHCA_OK);
			meshca_id_free(id);
			continue;
		}
		if (st != MESHCA_ERR_PARSE)
			fail_msg("%s: accepted (status %d)", cases[i].s, st);
		assert_null(id);
		assert_int_equal(err.status, MESHCA_ERR_PARSE);
		assert_int_equal(err.reason, MESHCA_REASON_ID_INVALID);
		if (strstr(err.message, cases[i].why) == NULL)
			fail_msg("%s: message \"%s\" lacks \"%s\"", cases[i].s,
			    err.message, cases[i].why);
		assert_int_equal(meshca_id_check(cases[i].s, len, NULL),
		    MESHCA_ERR_PARSE);
	}
}

/* The exact message for the example in the brief, quoting included. */
static void
test_message(void **state)
{
	struct meshca_error err;
	const char *s = "spiffe://Ex.com/a";
	char bad[200];

	(void)state;
	assert_int_equal(meshca_id_check(s, strlen(s), &err),
	    MESHCA_ERR_PARSE);
	assert_string_equal(err.message, "\"spiffe://Ex.com/a\": SPIFFE-ID "
	    "2.1: trust domain contains an uppercase letter");
	/* Long and hostile input is quoted short and escaped. */
	memset(bad, 'A', sizeof(bad));
	/* NOLINTNEXTLINE(bugprone-not-null-terminated-result): a prefix */
	memcpy(bad, "spiffe://td/\"\x01", 14);
	bad[sizeof(bad) - 1] = '#';
	assert_int_equal(meshca_id_check(bad, sizeof(bad), &err),
	    MESHCA_ERR_PARSE);
	assert_non_null(strstr(err.message, "\"spiffe://td/\\\"\\x01AAA"));
	assert_non_null(strstr(err.message, "...\": SPIFFE-ID 2.2: path "
	    "contains '\"'"));
}

static void
test_nul_and_length(void **state)
{
	char s[MESHCA_ID_MAX + 8], td[MESHCA_TRUST_DOMAIN_MAX + 2];
	struct meshca_error err;
	struct meshca_id *id;
	size_t n;

	(void)state;
	assert_int_equal(meshca_id_check("spiffe://td/a\0b", 15, &err),
	    MESHCA_ERR_PARSE);
	assert_non_null(strstr(err.message, "NUL"));
	assert_int_equal(meshca_id_check("spiffe://td\0", 12, &err),
	    MESHCA_ERR_PARSE);
	/* The length is the caller's: no NUL needed, none read past it. */
	assert_int_equal(meshca_id_check("spiffe://td/abc", 13, NULL),
	    MESHCA_OK);
	assert_int_equal(meshca_trust_domain_check("a\0b", 3, &err),
	    MESHCA_ERR_PARSE);

	/* Whole ID: 2048 bytes pass, 2049 do not (SPIFFE-ID.md 2.3). */
	memset(s, 'a', sizeof(s));
	/* NOLINTNEXTLINE(bugprone-not-null-terminated-result): a prefix */
	memcpy(s, "spiffe://td/", 12);
	for (n = 100; n < MESHCA_ID_MAX; n += 100)
		s[n] = '/';
	assert_int_equal(meshca_id_parse(s, MESHCA_ID_MAX, &id, &err),
	    MESHCA_OK);
	assert_int_equal(strlen(meshca_id_get0_string(id)), MESHCA_ID_MAX);
	meshca_id_free(id);
	assert_int_equal(meshca_id_check(s, MESHCA_ID_MAX + 1, &err),
	    MESHCA_ERR_PARSE);
	assert_non_null(strstr(err.message, "SPIFFE-ID 2.3: longer than 2048"));

	/* Trust domain: 255 bytes pass, 256 do not. */
	memset(s, 'b', sizeof(s));
	/* NOLINTNEXTLINE(bugprone-not-null-terminated-result): a prefix */
	memcpy(s, "spiffe://", 9);
	s[9 + MESHCA_TRUST_DOMAIN_MAX] = '/';
	assert_int_equal(meshca_id_check(s, 9 + MESHCA_TRUST_DOMAIN_MAX + 2,
	    &err), MESHCA_OK);
	s[9 + MESHCA_TRUST_DOMAIN_MAX] = 'b';
	s[9 + MESHCA_TRUST_DOMAIN_MAX + 1] = '/';
	assert_int_equal(meshca_id_check(s, 9 + MESHCA_TRUST_DOMAIN_MAX + 3,
	    &err), MESHCA_ERR_PARSE);
	assert_non_null(strstr(err.message, "longer than 255"));
	memset(td, 'c', sizeof(td));
	assert_int_equal(meshca_trust_domain_check(td, MESHCA_TRUST_DOMAIN_MAX,
	    &err), MESHCA_OK);
	assert_int_equal(meshca_trust_domain_check(td,
	    MESHCA_TRUST_DOMAIN_MAX + 1, &err), MESHCA_ERR_PARSE);
}

static void
test_trust_domain_check(void **state)
{
	static const char *good[] = { "cluster.local", "a", "x_y-z.0" };
	static const char *bad[] = { "", "Cluster.local", "td:80", "u@td",
		"td/a", "spiffe://td", "t%64", "td?", "td#", "t d" };
	struct meshca_error err;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		assert_int_equal(meshca_trust_domain_check(good[i],
		    strlen(good[i]), NULL), MESHCA_OK);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (meshca_trust_domain_check(bad[i], strlen(bad[i]), &err) !=
		    MESHCA_ERR_PARSE)
			fail_msg("trust domain \"%s\" accepted", bad[i]);
		assert_non_null(strstr(err.message, "trust domain \""));
	}
}

static void
test_accessors(void **state)
{
	struct meshca_id *a, *b, *c;
	const char *s = "spiffe://prod.example.org/ns/web/sa/front";

	(void)state;
	assert_int_equal(meshca_id_parse(s, strlen(s), &a, NULL), MESHCA_OK);
	assert_string_equal(meshca_id_get0_trust_domain(a), "prod.example.org");
	assert_string_equal(meshca_id_get0_path(a), "/ns/web/sa/front");
	assert_false(meshca_id_is_trust_domain(a));
	assert_true(meshca_id_is_member_of(a, "prod.example.org"));
	assert_false(meshca_id_is_member_of(a, "example.org"));
	assert_false(meshca_id_is_member_of(a, "prod.example.or"));
	assert_false(meshca_id_is_member_of(a, NULL));
	assert_non_null(b = meshca_id_dup(a));
	assert_true(meshca_id_equal(a, b));
	assert_string_equal(meshca_id_get0_path(b), "/ns/web/sa/front");
	assert_int_equal(meshca_id_parse("spiffe://prod.example.org", 25, &c,
	    NULL), MESHCA_OK);
	assert_true(meshca_id_is_trust_domain(c));
	assert_string_equal(meshca_id_get0_path(c), "");
	assert_false(meshca_id_equal(a, c));
	assert_false(meshca_id_equal(a, NULL));
	assert_null(meshca_id_dup(NULL));
	assert_null(meshca_id_get0_string(NULL));
	assert_false(meshca_id_is_trust_domain(NULL));
	meshca_id_free(a);
	meshca_id_free(b);
	meshca_id_free(c);
	meshca_id_free(NULL);
}

static void
test_builders(void **state)
{
	char ns[8], sa[9], big[MESHCA_ID_MAX];
	struct meshca_error err;
	struct meshca_id *id;

	(void)state;
	assert_int_equal(meshca_id_from_service_account("cluster.local",
	    "default", "bookinfo", &id, &err), MESHCA_OK);
	assert_string_equal(meshca_id_get0_string(id),
	    "spiffe://cluster.local/ns/default/sa/bookinfo");
	/* Buffers exactly large enough, and one byte short. */
	assert_int_equal(meshca_id_get_service_account(id, ns, 8, sa, 9, &err),
	    MESHCA_OK);
	assert_string_equal(ns, "default");
	assert_string_equal(sa, "bookinfo");
	assert_int_equal(meshca_id_get_service_account(id, ns, 7, sa, 9, &err),
	    MESHCA_ERR_USAGE);
	assert_int_equal(meshca_id_get_service_account(id, ns, 8, sa, 8, &err),
	    MESHCA_ERR_USAGE);
	assert_int_equal(meshca_id_get_service_account(id, NULL, 8, sa, 8,
	    &err), MESHCA_ERR_USAGE);
	meshca_id_free(id);

	assert_int_equal(meshca_id_from_service_account("Cluster.local", "a",
	    "b", &id, &err), MESHCA_ERR_PARSE);
	assert_non_null(strstr(err.message, "trust domain \"Cluster.local\""));
	assert_int_equal(meshca_id_from_service_account("td", "a/b", "c", &id,
	    &err), MESHCA_ERR_PARSE);
	assert_non_null(strstr(err.message, "namespace \"a/b\""));
	assert_int_equal(meshca_id_from_service_account("td", "a", "", &id,
	    &err), MESHCA_ERR_PARSE);
	assert_int_equal(meshca_id_from_service_account("td", "..", "c", &id,
	    &err), MESHCA_ERR_PARSE);
	assert_int_equal(meshca_id_from_service_account("td", "a", "b%2f", &id,
	    &err), MESHCA_ERR_PARSE);
	assert_int_equal(meshca_id_from_service_account(NULL, "a", "b", &id,
	    &err), MESHCA_ERR_USAGE);

	assert_int_equal(meshca_id_from_parts("td", "", &id, &err), MESHCA_OK);
	assert_string_equal(meshca_id_get0_string(id), "spiffe://td");
	assert_int_equal(meshca_id_get_service_account(id, ns, 8, sa, 8, &err),
	    MESHCA_ERR_REJECTED);
	meshca_id_free(id);
	assert_int_equal(meshca_id_from_parts("td", "/a/B", &id, &err),
	    MESHCA_OK);
	meshca_id_free(id);
	assert_int_equal(meshca_id_from_parts("td", "a", &id, &err),
	    MESHCA_ERR_PARSE);
	assert_non_null(strstr(err.message, "path \"a\": SPIFFE-ID 2.2"));
	assert_int_equal(meshca_id_from_parts("td", "/a/", &id, &err),
	    MESHCA_ERR_PARSE);
	/* Exactly at the cap, and one past it. */
	memset(big, 'x', sizeof(big));
	big[0] = '/';
	big[MESHCA_ID_MAX - 9 - 2] = '\0';
	assert_int_equal(meshca_id_from_parts("td", big, &id, &err),
	    MESHCA_OK);
	assert_int_equal(strlen(meshca_id_get0_string(id)), MESHCA_ID_MAX);
	meshca_id_free(id);
	big[MESHCA_ID_MAX - 9 - 2] = 'x';
	big[MESHCA_ID_MAX - 9 - 1] = '\0';
	assert_int_equal(meshca_id_from_parts("td", big, &id, &err),
	    MESHCA_ERR_PARSE);
	assert_non_null(strstr(err.message, "2.3"));

	/* Paths not of the service-account form. */
	static const char *notsa[] = { "spiffe://td/ns/a/sa",
	    "spiffe://td/ns/a/sa/b/c", "spiffe://td/ns/a/x/b",
	    "spiffe://td/x/a/sa/b", "spiffe://td/ns", "spiffe://td/NS/a/sa/b" };
	for (size_t i = 0; i < sizeof(notsa) / sizeof(notsa[0]); i++) {
		assert_int_equal(meshca_id_parse(notsa[i], strlen(notsa[i]),
		    &id, NULL), MESHCA_OK);
		assert_int_equal(meshca_id_get_service_account(id, ns, 8, sa, 8,
		    &err), MESHCA_ERR_REJECTED);
		meshca_id_free(id);
	}
}

static void
test_usage(void **state)
{
	struct meshca_error err;
	struct meshca_id *id = NULL;

	(void)state;
	assert_int_equal(meshca_id_parse(NULL, 0, &id, &err), MESHCA_ERR_USAGE);
	assert_int_equal(err.status, MESHCA_ERR_USAGE);
	assert_int_equal(err.reason, MESHCA_REASON_NONE);
	assert_int_equal(meshca_id_parse("spiffe://a", 10, NULL, NULL),
	    MESHCA_ERR_USAGE);
	assert_int_equal(meshca_id_check(NULL, 3, NULL), MESHCA_ERR_USAGE);
	assert_int_equal(meshca_trust_domain_check(NULL, 3, NULL),
	    MESHCA_ERR_USAGE);
	assert_int_equal(meshca_id_from_parts("td", NULL, &id, NULL),
	    MESHCA_ERR_USAGE);
	assert_null(id);
}

/*
 * The independent reference: SPIFFE-ID.md 2-2.3 as regular expressions
 * plus the three rules a regular expression states badly (no NUL, the
 * length caps, no dot segments).
 */
static regex_t ref_re;

static bool
ref_valid(const char *s, size_t len)
{
	regmatch_t m[2];
	char *copy, *p;
	bool ok;

	if (len > 2048 || memchr(s, '\0', len) != NULL)
		return false;
	copy = malloc(len + 2);
	memcpy(copy, s, len);
	copy[len] = '\0';
	ok = regexec(&ref_re, copy, 2, m, 0) == 0 &&
	    m[1].rm_eo - m[1].rm_so <= 255;
	if (ok) {
		copy[len] = '/';
		copy[len + 1] = '\0';
		p = copy + m[1].rm_eo;
		ok = strstr(p, "/./") == NULL && strstr(p, "/../") == NULL;
	}
	free(copy);
	return ok;
}

static uint64_t rng = 0x9e3779b97f4a7c15ULL;

static uint64_t
next(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static void
test_differential(void **state)
{
	static const char *tok[] = { "/", "/", "/", ".", "..", "a", "Z", "9",
		"-", "_", "x.y", "%2f", "?", "#", "@", ":", ":443", " ", "\xff",
		"\xc3\xa9", "example.org", "A", "//", "/./", "/../", "~", "+",
		"\\", "[", "]", "spiffe://", "\t", "ns", "sa", "\0" };
	/* Mostly tokens of valid IDs, so that both verdicts are common. */
	static const char *safe[] = { "/", "/a", "/Bc", "a", "9", "-", "_",
		".", "x.y", "/." };
	static const char *pre[] = { "spiffe://", "spiffe://", "spiffe://",
		"spiffe://td", "SPIFFE://", "spiffe:/", "spiffe:", "http://",
		"spiffe://td/" };
	char s[2300];
	size_t len, n, t, i, agree = 0, valid = 0;
	bool ours, ref;

	(void)state;
	assert_int_equal(regcomp(&ref_re, "^spiffe://([a-z0-9._-]+)"
	    "(/[a-zA-Z0-9._-]+)*$", REG_EXTENDED), 0);
	for (i = 0; i < 500000; i++) {
		const char *p = pre[next() % 9];

		n = strlen(p);
		memcpy(s, p, n);
		len = n;
		for (t = next() % 12; t > 0; t--) {
			const char *k = next() % 4 != 0 ?
			    safe[next() % 10] : tok[next() % 35];
			n = k[0] == '\0' ? 1 : strlen(k);
			memcpy(s + len, k, n);
			len += n;
		}
		/* Now and then, stretch to the length caps. */
		if (next() % 50 == 0) {
			n = 2040 + next() % 16 - len;
			memset(s + len, next() % 2 ? 'a' : '/', n);
			len += n;
		} else if (rng % 50 == 1 && len > 9) {
			n = 250 + next() % 10;
			memmove(s + 9 + n, s + 9, len - 9);
			memset(s + 9, 'd', n);
			len += n;
		}
		ours = meshca_id_check(s, len, NULL) == MESHCA_OK;
		ref = ref_valid(s, len);
		if (ours != ref)
			fail_msg("disagree on \"%.*s\" (%zu bytes): ours %d, "
			    "reference %d", (int)len, s, len, ours, ref);
		agree++;
		valid += ours;
	}
	regfree(&ref_re);
	print_message("differential: %zu strings, %zu valid, all agree\n",
	    agree, valid);
	assert_true(valid > 1000 && valid < agree - 1000);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table),
		cmocka_unit_test(test_message),
		cmocka_unit_test(test_nul_and_length),
		cmocka_unit_test(test_trust_domain_check),
		cmocka_unit_test(test_accessors),
		cmocka_unit_test(test_builders),
		cmocka_unit_test(test_usage),
		cmocka_unit_test(test_differential),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
