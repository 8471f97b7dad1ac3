/*
 * test_watch.c: watch-stream framing (k8s/watch.c): events split at every
 * byte boundary, several per read, a multi-MiB object, blank lines, the
 * last event without its newline, and hostile lines (not JSON, wrong
 * shape, unknown type, longer than the ceiling).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/buf.h"
#include "k8s/watch.h"

struct seen {
	int n;
	enum k8s_event_type types[16];
	char names[16][32];
	size_t biglen;
	int stop_after;
};

static int
collect(enum k8s_event_type type, json_t *obj, void *arg)
{
	struct seen *s = arg;
	const json_t *md = json_object_get(obj, "metadata");
	const char *name = json_string_value(json_object_get(md, "name"));
	const char *big = json_string_value(json_object_get(obj, "big"));

	if (s->n < 16) {
		s->types[s->n] = type;
		snprintf(s->names[s->n], sizeof(s->names[0]), "%s",
		    name != NULL ? name : "");
	}
	if (big != NULL)
		s->biglen = strlen(big);
	s->n++;
	if (s->stop_after != 0 && s->n == s->stop_after)
		return 1;
	return 0;
}

static const char stream[] =
    "{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":\"a\","
    "\"resourceVersion\":\"1\"}}}\n"
    "\n"
    "{\"type\":\"MODIFIED\",\"object\":{\"metadata\":{\"name\":\"b\"}}}\r\n"
    "{\"type\":\"BOOKMARK\",\"object\":{\"kind\":\"Secret\",\"metadata\":"
    "{\"resourceVersion\":\"9\"}}}\n"
    "{\"type\":\"DELETED\",\"object\":{\"metadata\":{\"name\":\"c\"}}}\n"
    "{\"type\":\"ERROR\",\"object\":{\"kind\":\"Status\",\"code\":410,"
    "\"reason\":\"Expired\"}}";

static const char stream_line[] =
    "{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":\"a\"}}}";

static void
check_stream(const struct seen *s)
{
	static const enum k8s_event_type want[] = { K8S_EV_ADDED,
		K8S_EV_MODIFIED, K8S_EV_BOOKMARK, K8S_EV_DELETED,
		K8S_EV_ERROR };
	int i;

	assert_int_equal(s->n, 5);
	for (i = 0; i < 5; i++)
		assert_int_equal(s->types[i], want[i]);
	assert_string_equal(s->names[0], "a");
	assert_string_equal(s->names[1], "b");
	assert_string_equal(s->names[3], "c");
}

static void
test_split_everywhere(void **state)
{
	struct k8s_watch_parser p;
	struct mc_err e = { 0 };
	struct seen s;
	size_t len = strlen(stream), i, j;

	/* one split point at every byte boundary */
	for (i = 0; i <= len; i++) {
		memset(&s, 0, sizeof(s));
		k8s_watch_parser_init(&p, 0, collect, &s);
		assert_int_equal(k8s_watch_parser_feed(&p, stream, i, &e), 0);
		assert_int_equal(k8s_watch_parser_feed(&p, stream + i, len - i,
				     &e),
		    0);
		assert_int_equal(k8s_watch_parser_finish(&p, &e), 0);
		check_stream(&s);
		k8s_watch_parser_free(&p);
	}
	/* one byte per read */
	memset(&s, 0, sizeof(s));
	k8s_watch_parser_init(&p, 0, collect, &s);
	for (j = 0; j < len; j++)
		assert_int_equal(k8s_watch_parser_feed(&p, stream + j, 1, &e),
		    0);
	assert_int_equal(k8s_watch_parser_finish(&p, &e), 0);
	check_stream(&s);
	k8s_watch_parser_free(&p);
	/* all in one read */
	memset(&s, 0, sizeof(s));
	k8s_watch_parser_init(&p, 0, collect, &s);
	assert_int_equal(k8s_watch_parser_feed(&p, stream, len, &e), 0);
	assert_int_equal(k8s_watch_parser_finish(&p, &e), 0);
	check_stream(&s);
	k8s_watch_parser_free(&p);
}

static void
test_big_object(void **state)
{
	struct k8s_watch_parser p;
	struct mc_err e = { 0 };
	struct mc_buf b;
	struct seen s;
	size_t big = 3u << 20, off, step;

	mc_buf_init(&b, 8u << 20);
	assert_int_equal(mc_buf_puts(&b,
			     "{\"type\":\"ADDED\",\"object\":{"
			     "\"metadata\":{\"name\":\"huge\"},\"big\":\"",
			     &e),
	    0);
	while (b.len < big)
		assert_int_equal(mc_buf_puts(&b, "QUJDREVGR0g=", &e), 0);
	assert_int_equal(
	    mc_buf_puts(&b,
		"\"}}\n{\"type\":\"DELETED\","
		"\"object\":{\"metadata\":{\"name\":\"after\"}}}\n",
		&e),
	    0);
	memset(&s, 0, sizeof(s));
	k8s_watch_parser_init(&p, 0, collect, &s);
	/* uneven reads, as TLS records and chunks would cut them */
	for (off = 0, step = 1; off < b.len; off += step, step = step * 3 + 7)
		assert_int_equal(k8s_watch_parser_feed(&p, b.data + off,
				     step < b.len - off ? step : b.len - off,
				     &e),
		    0);
	assert_int_equal(k8s_watch_parser_finish(&p, &e), 0);
	assert_int_equal(s.n, 2);
	assert_true(s.biglen >= big - 100);
	assert_string_equal(s.names[1], "after");
	k8s_watch_parser_free(&p);
	/* the same line with a 1 MiB ceiling is refused */
	memset(&s, 0, sizeof(s));
	k8s_watch_parser_init(&p, 1u << 20, collect, &s);
	assert_int_equal(k8s_watch_parser_feed(&p, b.data, 100, &e), 0);
	assert_int_equal(k8s_watch_parser_feed(&p, b.data + 100, b.len - 100,
			     &e),
	    -1);
	assert_non_null(strstr(e.msg, "larger than"));
	assert_int_equal(s.n, 0);
	k8s_watch_parser_free(&p);
	/* ...and so it is when it arrives whole in one read (found by
	 * fuzz/fuzz_watch.c) */
	memset(&s, 0, sizeof(s));
	k8s_watch_parser_init(&p, 1u << 20, collect, &s);
	assert_int_equal(k8s_watch_parser_feed(&p, b.data, b.len, &e), -1);
	assert_non_null(strstr(e.msg, "larger than"));
	assert_int_equal(s.n, 0);
	k8s_watch_parser_free(&p);
	/* a line of exactly the ceiling passes both ways */
	memset(&s, 0, sizeof(s));
	k8s_watch_parser_init(&p, strlen(stream_line), collect, &s);
	assert_int_equal(k8s_watch_parser_feed(&p, stream_line,
			     strlen(stream_line), &e),
	    0);
	assert_int_equal(k8s_watch_parser_feed(&p, "\n", 1, &e), 0);
	assert_int_equal(s.n, 1);
	k8s_watch_parser_free(&p);
	mc_buf_free(&b);
}

static void
test_bad_lines(void **state)
{
	static const char *bad[] = {
		"not json\n",
		"{\"type\":\"ADDED\"}\n",
		"{\"type\":\"ADDED\",\"object\":\"str\"}\n",
		"{\"type\":7,\"object\":{}}\n",
		"{\"type\":\"RENAMED\",\"object\":{}}\n",
		"[1,2]\n",
		"{\"type\":\"ADDED\",\"object\":{}}{\"x\":1}\n",
	};
	struct k8s_watch_parser p;
	struct mc_err e;
	struct seen s;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memset(&s, 0, sizeof(s));
		memset(&e, 0, sizeof(e));
		k8s_watch_parser_init(&p, 0, collect, &s);
		if (k8s_watch_parser_feed(&p, bad[i], strlen(bad[i]), &e) != -1)
			fail_msg("accepted %s", bad[i]);
		assert_non_null(strstr(e.msg, "watch event"));
		assert_int_equal(s.n, 0);
		k8s_watch_parser_free(&p);
	}
	/* a stream cut inside an event */
	memset(&s, 0, sizeof(s));
	k8s_watch_parser_init(&p, 0, collect, &s);
	assert_int_equal(k8s_watch_parser_feed(&p, stream, 30, &e), 0);
	assert_int_equal(k8s_watch_parser_finish(&p, &e), -1);
	assert_non_null(strstr(e.msg, "inside an event"));
	k8s_watch_parser_free(&p);
}

static void
test_stop(void **state)
{
	struct k8s_watch_parser p;
	struct mc_err e = { 0 };
	struct seen s;

	memset(&s, 0, sizeof(s));
	s.stop_after = 2;
	k8s_watch_parser_init(&p, 0, collect, &s);
	assert_int_equal(k8s_watch_parser_feed(&p, stream, strlen(stream), &e),
	    0);
	assert_true(p.stopped);
	assert_int_equal(s.n, 2);
	assert_int_equal(k8s_watch_parser_finish(&p, &e), 0);
	k8s_watch_parser_free(&p);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_split_everywhere),
		cmocka_unit_test(test_big_object),
		cmocka_unit_test(test_bad_lines),
		cmocka_unit_test(test_stop),
	};

	return cmocka_run_group_tests_name("k8s_watch", tests, NULL, NULL);
}
