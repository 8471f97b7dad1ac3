/*
 * test_publish.c: the pure helpers of daemon/publish.c that read what
 * people and other replicas write: serial numbers in a revocation
 * request (daemon_serial_norm) and the superseded annotation of a
 * Secret (daemon_pending_parse, daemon_pending_format).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "daemon/publish.h"

#define FULL "00a1b2c3d4e5f60718293a4b5c6d7e8f"

static void
test_serial_norm(void **state)
{
	char out[40];
	static const char *same[] = {
		FULL,
		"00A1B2C3D4E5F60718293A4B5C6D7E8F",
		"a1b2c3d4e5f60718293a4b5c6d7e8f",
		"A1:B2:C3:D4:E5:F6:07:18:29:3A:4B:5C:6D:7E:8F",
		"00:A1:B2:C3:D4:E5:F6:07:18:29:3A:4B:5C:6D:7E:8F",
		"0xa1b2c3d4e5f60718293a4b5c6d7e8f",
		"0000000000a1b2c3d4e5f60718293a4b5c6d7e8f",
	};
	static const char *bad[] = {
		"", ":", "0x", "a1 b2", "g1", "-1",
		"1a1b2c3d4e5f60718293a4b5c6d7e8f00", /* 33 digits */
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(same) / sizeof(same[0]); i++) {
		assert_int_equal(daemon_serial_norm(same[i], out, sizeof(out)),
		    0);
		assert_string_equal(out, FULL);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(daemon_serial_norm(bad[i], out, sizeof(out)),
		    -1);
	assert_int_equal(daemon_serial_norm("1", out, sizeof(out)), 0);
	assert_string_equal(out, "00000000000000000000000000000001");
	/* too small an output buffer */
	assert_int_equal(daemon_serial_norm("1", out, 32), -1);
}

static void
test_pending(void **state)
{
	struct daemon_pending v[DAEMON_PENDING_MAX], w[DAEMON_PENDING_MAX];
	char buf[DAEMON_PENDING_TEXT_MAX], kid65[2 * 65 + 16];
	size_t n, i, k;

	(void)state;
	assert_int_equal(daemon_pending_parse(NULL, v, DAEMON_PENDING_MAX), 0);
	assert_int_equal(daemon_pending_parse("", v, DAEMON_PENDING_MAX), 0);
	/* bad entries are skipped, good ones kept in order */
	n = daemon_pending_parse(" A1B2:100:200 junk 1:2 3:x:4 ff:0:5 "
	    "ABCDEF:300:400:9 " FULL ":7:8\n", v, DAEMON_PENDING_MAX);
	assert_int_equal(n, 2);
	assert_string_equal(v[0].serial, "0000000000000000000000000000a1b2");
	assert_int_equal(v[0].not_after, 100);
	assert_int_equal(v[0].due, 200);
	assert_string_equal(v[1].serial, FULL);
	/* numbers out of range, signed, spaced or trailed are refused */
	assert_int_equal(daemon_pending_parse("ab:99999999999999999999:5 "
	    "ab:+5:6 ab:-5:6 ab:5:6x ab:5: :5:6 ab::6 g1:5:6", w,
	    DAEMON_PENDING_MAX), 0);
	assert_int_equal(daemon_pending_parse("ab:9223372036854775807:1", w,
	    DAEMON_PENDING_MAX), 1);
	assert_int_equal(daemon_pending_format(v, n, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "0000000000000000000000000000a1b2:100:200 "
	    FULL ":7:8");
	assert_int_equal(v[0].kid_len, 0);
	/* the issuer's key identifier, a 4th field in hex (either case) */
	n = daemon_pending_parse("ab:5:6:00A1fF cd:7:8:", v,
	    DAEMON_PENDING_MAX);
	assert_int_equal(n, 1);
	assert_int_equal(v[0].kid_len, 3);
	assert_memory_equal(v[0].kid, "\x00\xa1\xff", 3);
	assert_int_equal(daemon_pending_format(v, 1, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "000000000000000000000000000000ab:5:6:00a1ff");
	/* odd, not hex, empty, trailed or longer than DAEMON_KID_MAX bytes:
	 * the entry is refused */
	assert_int_equal(daemon_pending_parse("ab:5:6:abc ab:5:6:zz "
	    "ab:5:6:: ab:5:6:ab:cd ab:5:6:ab,", w, DAEMON_PENDING_MAX), 0);
	memset(kid65, 'a', 2 * 65);
	strcpy(kid65 + 2 * 65, "");
	snprintf(buf, sizeof(buf), "ab:5:6:%s", kid65);
	assert_int_equal(daemon_pending_parse(buf, w, DAEMON_PENDING_MAX), 0);
	snprintf(buf, sizeof(buf), "ab:5:6:%s", kid65 + 2);
	assert_int_equal(daemon_pending_parse(buf, w, DAEMON_PENDING_MAX), 1);
	assert_int_equal(w[0].kid_len, DAEMON_KID_MAX);
	/* round trip (key identifiers of every length up to the most), and
	 * the bound */
	for (i = 0; i < DAEMON_PENDING_MAX; i++) {
		memset(&w[i], 0, sizeof(w[i]));
		snprintf(w[i].serial, sizeof(w[i].serial), "%032zx", i + 1);
		w[i].not_after = 1700000000 + (int64_t)i;
		w[i].due = 1800000000 + (int64_t)i;
		w[i].kid_len = i == 0 ? DAEMON_KID_MAX : i * 3;
		for (k = 0; k < w[i].kid_len; k++)
			w[i].kid[k] = (unsigned char)(i * 31 + k * 7);
	}
	assert_int_equal(daemon_pending_format(w, DAEMON_PENDING_MAX, buf,
	    sizeof(buf)), 0);
	assert_int_equal(daemon_pending_parse(buf, v, 3), 3);
	memset(v, 0, sizeof(v));
	assert_int_equal(daemon_pending_parse(buf, v, DAEMON_PENDING_MAX),
	    DAEMON_PENDING_MAX);
	assert_memory_equal(v, w, sizeof(v));
	assert_int_equal(daemon_pending_format(w, 2, buf, 40), -1);
	assert_int_equal(daemon_pending_format(w, 0, buf, 1), 0);
	assert_string_equal(buf, "");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_serial_norm),
		cmocka_unit_test(test_pending),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
