/*
 * test_status.c: Status parsing (k8s/http.c) for JSON and non-JSON error
 * bodies, and the bounds of the backoff (k8s/backoff.c).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "k8s/backoff.h"
#include "k8s/http.h"

static void
test_json_status(void **state)
{
	static const char body[] =
	    "{\"kind\":\"Status\",\"apiVersion\":\"v1\","
	    "\"metadata\":{},\"status\":\"Failure\",\"message\":\"Secret "
	    "\\\"x\\\" is invalid: type: Invalid value\",\"reason\":"
	    "\"Invalid\",\"details\":{\"name\":\"x\",\"kind\":\"Secret\","
	    "\"causes\":[{\"reason\":\"FieldValueInvalid\",\"message\":"
	    "\"Invalid value\",\"field\":\"type\"},7,{\"field\":\"data\"}]},"
	    "\"code\":422,\"extra\":{\"ignored\":true}}";
	struct k8s_status st;
	struct mc_err e = { 0 };

	memset(&st, 0, sizeof(st));
	assert_int_equal(k8s_status_parse(body, strlen(body), 422, &st, &e), 0);
	assert_int_equal(st.code, 422);
	assert_string_equal(st.status, "Failure");
	assert_string_equal(st.reason, "Invalid");
	assert_non_null(strstr(st.message, "is invalid"));
	/* the cause that is not an object is skipped */
	assert_int_equal(st.ncauses, 2);
	assert_string_equal(st.causes[0].reason, "FieldValueInvalid");
	assert_string_equal(st.causes[0].field, "type");
	assert_string_equal(st.causes[1].field, "data");
	assert_null(st.causes[1].reason);
	k8s_status_clear(&st);
	assert_null(st.reason);
}

static void
test_text_status(void **state)
{
	static const char body[] = "Too many requests, please try again "
				   "later.\n";
	struct k8s_status st;
	struct mc_err e = { 0 };
	char big[2000];

	memset(&st, 0, sizeof(st));
	assert_int_equal(k8s_status_parse(body, strlen(body), 429, &st, &e), 0);
	assert_int_equal(st.code, 429);
	assert_string_equal(st.reason, "TooManyRequests");
	assert_string_equal(st.message,
	    "Too many requests, please try again later.");
	assert_null(st.status);
	/* HTML from a proxy: bounded and printable */
	memset(big, 'x', sizeof(big));
	/* not a string: a body with control bytes and no NUL */
	// NOLINTNEXTLINE(bugprone-not-null-terminated-result)
	memcpy(big, "<html>\x01\x7f", 8);
	assert_int_equal(k8s_status_parse(big, sizeof(big), 502, &st, &e), 0);
	assert_string_equal(st.reason, "InternalError");
	assert_int_equal(strlen(st.message), 256);
	assert_int_equal(strncmp(st.message, "<html>??", 8), 0);
	/* empty body */
	assert_int_equal(k8s_status_parse("", 0, 503, &st, &e), 0);
	assert_string_equal(st.reason, "ServiceUnavailable");
	assert_string_equal(st.message, "ServiceUnavailable");
	/* JSON but not an object; an object without reason or code */
	assert_int_equal(k8s_status_parse("[1]", 3, 404, &st, &e), 0);
	assert_string_equal(st.reason, "NotFound");
	assert_int_equal(k8s_status_parse("{\"code\":\"x\"}", 12, 410, &st, &e),
	    0);
	assert_int_equal(st.code, 410);
	assert_string_equal(st.reason, "Gone");
	k8s_status_clear(&st);
}

static void
test_backoff_bounds(void **state)
{
	struct k8s_backoff b;
	uint64_t d, max = 0, ceil;
	unsigned i, j, zero = 0;

	k8s_backoff_init(&b, 100, 5000);
	for (j = 0; j < 200; j++) {
		k8s_backoff_reset(&b);
		for (i = 0, ceil = 100; i < 12; i++) {
			d = k8s_backoff_next(&b);
			/* full jitter: uniform in [0, min(cap, base*2^i)] */
			assert_true(d <= ceil);
			if (d > max)
				max = d;
			if (d == 0)
				zero++;
			ceil = ceil * 2 > 5000 ? 5000 : ceil * 2;
		}
	}
	assert_true(max <= 5000);
	assert_true(max > 2500); /* the cap is reached, with spread */
	assert_true(zero < 200);
	for (i = 0; i < 1000; i++) {
		d = k8s_jitter(1000, 1.2);
		assert_true(d >= 1000 && d <= 2200);
		d = k8s_rand_between(300, 600);
		assert_true(d >= 300 && d <= 600);
	}
	assert_int_equal(k8s_rand_between(7, 3), 7);
	k8s_backoff_init(&b, 0, 0);
	assert_true(k8s_backoff_next(&b) <= 1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_json_status),
		cmocka_unit_test(test_text_status),
		cmocka_unit_test(test_backoff_bounds),
	};

	return cmocka_run_group_tests_name("k8s_status", tests, NULL, NULL);
}
