/*
 * test_rfc3339.c: unit tests for cli/rfc3339.c, the strict RFC 3339
 * date-time parser behind "meshca verify --at". Good inputs are checked
 * against known epoch seconds (and against timegm() over many dates);
 * every rule of RFC 3339 5.6 and 5.7 has a negative test.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "cli/rfc3339.h"
#include "common/status.h"

static time_t
parse_ok(const char *s)
{
	struct mc_err e;
	time_t t = -1;

	memset(&e, 0, sizeof(e));
	if (cli_rfc3339_parse(s, &t, &e) != 0)
		fail_msg("%s: %s", s, e.msg);
	return t;
}

static void
parse_bad(const char *s, const char *why)
{
	struct mc_err e;
	time_t t = 12345;

	memset(&e, 0, sizeof(e));
	if (cli_rfc3339_parse(s, &t, &e) != -1)
		fail_msg("%s: accepted", s);
	assert_int_equal(e.status, MC_ST_USAGE);
	assert_int_equal(t, 12345);
	if (strstr(e.msg, why) == NULL)
		fail_msg("%s: message \"%s\" lacks \"%s\"", s, e.msg, why);
}

static void
test_known_instants(void **state)
{
	(void)state;
	assert_int_equal(parse_ok("1970-01-01T00:00:00Z"), 0);
	assert_int_equal(parse_ok("1970-01-01T00:00:01Z"), 1);
	assert_int_equal(parse_ok("2026-11-26T14:18:56Z"), 1795702736);
	assert_int_equal(parse_ok("2000-02-29T00:00:00Z"), 951782400);
	assert_int_equal(parse_ok("2038-01-19T03:14:08Z"), 2147483648LL);
	assert_int_equal(parse_ok("1969-12-31T23:59:59Z"), -1);
	assert_int_equal(parse_ok("9999-12-31T23:59:59Z"), 253402300799LL);
	assert_int_equal(parse_ok("0000-01-01T00:00:00Z"), -62167219200LL);
}

/* RFC 3339 4.2 and the examples of 5.8. */
static void
test_offsets(void **state)
{
	(void)state;
	assert_int_equal(parse_ok("1985-04-12T23:20:50.52Z"), 482196050);
	assert_int_equal(parse_ok("1996-12-19T16:39:57-08:00"),
	    parse_ok("1996-12-20T00:39:57Z"));
	assert_int_equal(parse_ok("2026-11-26T15:18:56+01:00"), 1795702736);
	assert_int_equal(parse_ok("2026-11-26T19:48:56.999999999+05:30"),
	    1795702736);
	assert_int_equal(parse_ok("2026-11-26T14:18:56-00:00"), 1795702736);
	assert_int_equal(parse_ok("2026-11-26t14:18:56z"), 1795702736);
	assert_int_equal(parse_ok("1937-01-01T12:00:27.87+00:20"), -1041337173);
}

/* Every date of a few years against the C library's own conversion. */
static void
test_against_timegm(void **state)
{
	char s[64];
	struct tm tm;
	time_t t;

	(void)state;
	for (t = 946684800; t < 946684800 + 5 * 366 * 86400;
	     t += 86400 + 3607) {
		gmtime_r(&t, &tm);
		strftime(s, sizeof(s), "%Y-%m-%dT%H:%M:%SZ", &tm);
		assert_int_equal(parse_ok(s), t);
	}
}

static void
test_bad(void **state)
{
	(void)state;
	parse_bad("", "full-date");
	parse_bad("2026-11-26", "'T'");
	parse_bad("2026-11-26 14:18:56Z", "'T'");
	parse_bad("2026-11-26T14:18:56", "time offset");
	parse_bad("2026-11-26T14:18Z", "partial-time");
	parse_bad("2026-11-26T14:18:5Z", "partial-time");
	parse_bad("26-11-26T14:18:56Z", "full-date");
	parse_bad("+2026-11-26T14:18:56Z", "full-date");
	parse_bad("2026-1-26T14:18:56Z", "full-date");
	parse_bad("2026/11/26T14:18:56Z", "full-date");
	parse_bad("2026-00-26T14:18:56Z", "no such date");
	parse_bad("2026-13-26T14:18:56Z", "no such date");
	parse_bad("2026-11-00T14:18:56Z", "no such date");
	parse_bad("2026-11-31T14:18:56Z", "no such date");
	parse_bad("2026-02-29T00:00:00Z", "no such date");
	parse_bad("1900-02-29T00:00:00Z", "no such date");
	parse_bad("2026-11-26T24:00:00Z", "out of range");
	parse_bad("2026-11-26T23:60:00Z", "out of range");
	parse_bad("2026-11-26T23:59:61Z", "out of range");
	parse_bad("2016-12-31T23:59:60Z", "leap second");
	parse_bad("2026-11-26T14:18:56.Z", "digits after");
	parse_bad("2026-11-26T14:18:56,5Z", "time offset");
	parse_bad("2026-11-26T14:18:56+01", "time-numoffset");
	parse_bad("2026-11-26T14:18:56+0100", "time-numoffset");
	parse_bad("2026-11-26T14:18:56+24:00", "time-numoffset");
	parse_bad("2026-11-26T14:18:56+01:60", "time-numoffset");
	parse_bad("2026-11-26T14:18:56ZZ", "trailing");
	parse_bad("2026-11-26T14:18:56Z ", "trailing");
	parse_bad("2026-11-26T14:18:56+01:00:00", "trailing");
	parse_bad("2026-11-26T14:18:56UTC", "time offset");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_known_instants),
		cmocka_unit_test(test_offsets),
		cmocka_unit_test(test_against_timegm),
		cmocka_unit_test(test_bad),
	};

	return cmocka_run_group_tests_name("cli_rfc3339", tests, NULL, NULL);
}
