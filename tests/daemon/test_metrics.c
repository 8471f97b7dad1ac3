/*
 * test_metrics.c: daemon/metrics.c: the exact text exposition of a fixed
 * registry state, escaping, the rules on names, values and cardinality,
 * histogram bucketing, value formatting, and concurrent updates.
 */
#include <math.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "common/alloc.h"
#include "common/buf.h"
#include "daemon/metrics.h"

static char *
render(struct daemon_metrics *r)
{
	struct mc_buf b;
	struct mc_err e;
	size_t len;

	mc_buf_init(&b, 1 << 20);
	assert_int_equal(daemon_metrics_render(r, &b, &e), 0);
	return mc_buf_steal(&b, &len);
}

static void
test_exact_exposition(void **state)
{
	static const double bounds[] = { 0.005, 0.25, 1, 10 };
	struct daemon_metrics *r = daemon_metrics_new();
	struct daemon_metric *c, *g, *h, *l;
	char *text;
	const char *want =
	    "# HELP x_requests_total Requests \\\\ with a\\nnewline.\n"
	    "# TYPE x_requests_total counter\n"
	    "x_requests_total{code=\"200\"} 3\n"
	    "x_requests_total{code=\"a\\\"b\\\\c\"} 0.5\n"
	    "# HELP x_temp Temperature.\n"
	    "# TYPE x_temp gauge\n"
	    "x_temp -1.25\n"
	    "# HELP x_latency_seconds Latency.\n"
	    "# TYPE x_latency_seconds histogram\n"
	    "x_latency_seconds_bucket{le=\"0.005\"} 1\n"
	    "x_latency_seconds_bucket{le=\"0.25\"} 1\n"
	    "x_latency_seconds_bucket{le=\"1\"} 3\n"
	    "x_latency_seconds_bucket{le=\"10\"} 3\n"
	    "x_latency_seconds_bucket{le=\"+Inf\"} 4\n"
	    "x_latency_seconds_sum 101.501\n"
	    "x_latency_seconds_count 4\n"
	    "# HELP x_empty_total Never touched.\n"
	    "# TYPE x_empty_total counter\n";

	assert_non_null(r);
	c = daemon_metrics_counter(r, "x_requests_total",
	    "Requests \\ with a\nnewline.", "code", NULL);
	g = daemon_metrics_gauge(r, "x_temp", "Temperature.", NULL, NULL);
	h = daemon_metrics_histogram(r, "x_latency_seconds", "Latency.", bounds,
	    4, NULL);
	l = daemon_metrics_counter(r, "x_empty_total", "Never touched.", "k",
	    NULL);
	assert_non_null(c);
	assert_non_null(g);
	assert_non_null(h);
	assert_non_null(l);
	assert_int_equal(daemon_metric_inc(c, "200"), 0);
	assert_int_equal(daemon_metric_add(c, "200", 2), 0);
	assert_int_equal(daemon_metric_add(c, "a\"b\\c", 0.5), 0);
	assert_int_equal(daemon_metric_set(g, NULL, -1.25), 0);
	assert_int_equal(daemon_metric_observe(h, 0.001), 0);
	assert_int_equal(daemon_metric_observe(h, 0.5), 0);
	assert_int_equal(daemon_metric_observe(h, 1), 0); /* le is <= */
	assert_int_equal(daemon_metric_observe(h, 100), 0);
	text = render(r);
	assert_string_equal(text, want);
	mc_free(text);
	assert_true(daemon_metric_get(c, "200") == 3);
	assert_true(daemon_metric_get(c, "404") == 0);
	daemon_metrics_free(r);
}

static void
test_rules(void **state)
{
	struct daemon_metrics *r = daemon_metrics_new();
	struct daemon_metric *c, *g;
	static const double bad_bounds[] = { 1, 1 };
	struct mc_err e;
	char v[16];
	int i;

	assert_null(daemon_metrics_counter(r, "1bad", "", NULL, &e));
	assert_null(daemon_metrics_counter(r, "bad-name", "", NULL, &e));
	assert_null(daemon_metrics_counter(r, "", "", NULL, &e));
	assert_null(daemon_metrics_counter(r, "ok", "", "le", &e));
	assert_null(daemon_metrics_counter(r, "ok", "", "__x", &e));
	assert_null(daemon_metrics_counter(r, "ok", "", "a:b", &e));
	assert_null(daemon_metrics_histogram(r, "h", "", bad_bounds, 2, &e));
	assert_non_null(strstr(e.msg, "increasing"));
	c = daemon_metrics_counter(r, "c_total", "", "k", &e);
	assert_non_null(c);
	assert_null(daemon_metrics_gauge(r, "c_total", "", NULL, &e));
	assert_non_null(strstr(e.msg, "registered twice"));
	g = daemon_metrics_gauge(r, "g", "", NULL, &e);
	assert_non_null(g);

	/* counters only go up, and only by finite amounts */
	assert_int_equal(daemon_metric_add(c, "a", -1), -1);
	assert_int_equal(daemon_metric_add(c, "a", NAN), -1);
	assert_int_equal(daemon_metric_add(c, "a", INFINITY), -1);
	assert_int_equal(daemon_metric_set(c, "a", 5), -1);
	assert_int_equal(daemon_metric_observe(c, 1), -1);
	/* the label must be given exactly when the family has one */
	assert_int_equal(daemon_metric_inc(c, NULL), -1);
	assert_int_equal(daemon_metric_set(g, "x", 1), -1);
	/* label values: printable ASCII, bounded */
	assert_int_equal(daemon_metric_inc(c, "new\nline"), -1);
	assert_int_equal(daemon_metric_inc(c, "\xc3\xa9"), -1);
	memset(v, 0, sizeof(v));
	{
		char big[DAEMON_METRIC_VALUE_MAX + 2];

		memset(big, 'a', sizeof(big) - 1);
		big[sizeof(big) - 1] = '\0';
		assert_int_equal(daemon_metric_inc(c, big), -1);
		big[DAEMON_METRIC_VALUE_MAX] = '\0';
		assert_int_equal(daemon_metric_inc(c, big), 0);
	}
	/* cardinality is capped; existing series keep working */
	for (i = 1; i < DAEMON_METRIC_SERIES_MAX; i++) {
		snprintf(v, sizeof(v), "v%d", i);
		assert_int_equal(daemon_metric_inc(c, v), 0);
	}
	assert_int_equal(daemon_metric_inc(c, "one-too-many"), -1);
	assert_int_equal(daemon_metric_inc(c, "v1"), 0);
	assert_true(daemon_metric_get(c, "v1") == 2);
	daemon_metrics_free(r);
	daemon_metrics_free(NULL);
}

static void
test_format_value(void **state)
{
	static const struct {
		double v;
		const char *want;
	} cases[] = {
		{ 0, "0" },
		{ 1, "1" },
		{ -1, "-1" },
		{ 10, "10" },
		{ 0.1, "0.1" },
		{ 0.0025, "0.0025" },
		{ 1e-05, "1e-05" },
		{ 1795705136, "1795705136" },
		{ 1e21, "1e+21" },
		{ 0.1 + 0.2, "0.30000000000000004" },
		{ -0.0, "0" },
	};
	char out[64];
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		daemon_metrics_format_value(cases[i].v, out, sizeof(out));
		assert_string_equal(out, cases[i].want);
	}
	daemon_metrics_format_value(INFINITY, out, sizeof(out));
	assert_string_equal(out, "+Inf");
	daemon_metrics_format_value(-INFINITY, out, sizeof(out));
	assert_string_equal(out, "-Inf");
	daemon_metrics_format_value(NAN, out, sizeof(out));
	assert_string_equal(out, "NaN");
}

#define THREADS 4
#define INCS 20000

static void *
bump(void *arg)
{
	struct daemon_metric *c = arg;
	int i;

	for (i = 0; i < INCS; i++)
		daemon_metric_inc(c, (i & 1) ? "odd" : "even");
	return NULL;
}

static void
test_concurrent(void **state)
{
	struct daemon_metrics *r = daemon_metrics_new();
	struct daemon_metric *c =
	    daemon_metrics_counter(r, "n_total", "", "parity", NULL);
	pthread_t t[THREADS];
	int i;

	for (i = 0; i < THREADS; i++)
		assert_int_equal(pthread_create(&t[i], NULL, bump, c), 0);
	for (i = 0; i < THREADS; i++)
		pthread_join(t[i], NULL);
	assert_true(daemon_metric_get(c, "odd") == THREADS * INCS / 2.0);
	assert_true(daemon_metric_get(c, "even") == THREADS * INCS / 2.0);
	daemon_metrics_free(r);
}

static void
test_meshcad_set(void **state)
{
	struct meshcad_metrics *m;
	struct mc_err e;
	char *text;

	m = meshcad_metrics_new("1.2.3", &e);
	assert_non_null(m);
	assert_int_equal(daemon_metric_inc(m->revoked, "keyCompromise"), 0);
	assert_int_equal(daemon_metric_observe(m->issuance_duration, 0.02), 0);
	text = render(m->reg);
	assert_non_null(strstr(text,
	    "meshca_build_info{version=\"1.2.3\"} 1\n"));
	assert_non_null(strstr(text,
	    "meshca_certificates_revoked_total{reason=\"keyCompromise\"} 1\n"));
	assert_non_null(strstr(text, "meshca_leader 0\n"));
	assert_non_null(strstr(text,
	    "# TYPE meshca_issuance_duration_seconds "
	    "histogram\n"));
	assert_non_null(strstr(text,
	    "meshca_issuance_duration_seconds_bucket{le=\"0.025\"} 1\n"));
	assert_non_null(strstr(text,
	    "meshca_issuance_duration_seconds_count "
	    "1\n"));
	mc_free(text);
	meshcad_metrics_free(m);
	/* a version that is not a valid label value is refused */
	assert_null(meshcad_metrics_new("bad\nversion", &e));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_exact_exposition),
		cmocka_unit_test(test_rules),
		cmocka_unit_test(test_format_value),
		cmocka_unit_test(test_concurrent),
		cmocka_unit_test(test_meshcad_set),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
