/*
 * test_scope.c: the namespace rules of daemon/scope.c (exclude, include,
 * selector, Citadel's override and env labels, terminating namespaces)
 * and the renewal arithmetic of daemon/scheduler.c.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "common/alloc.h"
#include "daemon/config.h"
#include "daemon/scheduler.h"
#include "daemon/scope.h"

static json_t *
ns(const char *name, const char *labels_json, const char *phase)
{
	json_t *o, *l;

	l = labels_json != NULL ? json_loads(labels_json, 0, NULL) :
	    json_object();
	o = json_pack("{s:{s:s, s:o}, s:{s:s}}", "metadata", "name", name,
	    "labels", l, "status", "phase", phase != NULL ? phase : "Active");
	assert_non_null(o);
	return o;
}

static bool
managed(struct daemon_config *c, const char *name, const char *labels,
    const char *phase)
{
	struct daemon_selector *sel;
	json_t *o = ns(name, labels, phase);
	bool m;

	sel = daemon_selector_parse(c->namespace_selector, NULL);
	assert_non_null(sel);
	m = daemon_ns_managed(c, sel, o);
	daemon_selector_free(sel);
	json_decref(o);
	return m;
}

static void
test_rules(void **state)
{
	struct daemon_config *c = daemon_config_defaults(NULL);
	char *inc[] = { (char *)"shop", (char *)"pay" };
	char *exc[] = { (char *)"pay" };
	struct daemon_strlist saved;

	(void)state;
	assert_non_null(c);
	/* all by default */
	assert_true(managed(c, "shop", NULL, NULL));
	/* a terminating namespace cannot take new Secrets */
	assert_false(managed(c, "shop", NULL, "Terminating"));
	/* Citadel: override wins; env must name the CA namespace */
	assert_false(managed(c, "shop", "{\"ca.istio.io/override\":\"false\"}",
	    NULL));
	assert_true(managed(c, "shop", "{\"ca.istio.io/override\":\"true\","
	    "\"ca.istio.io/env\":\"elsewhere\"}", NULL));
	assert_false(managed(c, "shop", "{\"ca.istio.io/env\":\"elsewhere\"}",
	    NULL));
	assert_true(managed(c, "shop", "{\"ca.istio.io/env\":\"meshca-system\"}",
	    NULL));
	assert_true(managed(c, "shop", "{\"ca.istio.io/override\":\"maybe\"}",
	    NULL));
	/* include and exclude lists; exclude first (the default exclude
	 * list, kube-system and friends, is put back after) */
	saved = c->exclude_namespaces;
	assert_false(managed(c, "kube-system", NULL, NULL));
	c->namespaces.v = inc;
	c->namespaces.n = 2;
	c->exclude_namespaces.v = exc;
	c->exclude_namespaces.n = 1;
	assert_true(managed(c, "shop", NULL, NULL));
	assert_false(managed(c, "pay", "{\"ca.istio.io/override\":\"true\"}",
	    NULL));
	assert_false(managed(c, "other", NULL, NULL));
	c->namespaces.n = 0;
	c->exclude_namespaces.n = 0;
	c->namespaces.v = NULL;
	c->exclude_namespaces = saved;
	/* the selector */
	c->namespace_selector = mc_strdup("mesh=on,tier!=test,!legacy");
	assert_true(managed(c, "a", "{\"mesh\":\"on\"}", NULL));
	assert_false(managed(c, "a", "{\"mesh\":\"off\"}", NULL));
	assert_false(managed(c, "a", "{\"mesh\":\"on\",\"tier\":\"test\"}",
	    NULL));
	assert_false(managed(c, "a", "{\"mesh\":\"on\",\"legacy\":\"\"}",
	    NULL));
	assert_false(managed(c, "a", NULL, NULL));
	daemon_config_free(c);
}

static void
test_selector_syntax(void **state)
{
	struct daemon_selector *s;

	(void)state;
	assert_non_null(s = daemon_selector_parse("a==b, c", NULL));
	daemon_selector_free(s);
	assert_non_null(s = daemon_selector_parse(NULL, NULL));
	assert_true(daemon_selector_matches(s, NULL));
	daemon_selector_free(s);
	assert_null(daemon_selector_parse("=b", NULL));
	assert_null(daemon_selector_parse("a=b=c", NULL));
	assert_null(daemon_selector_parse("a b=c", NULL));
}

static void
test_schedule(void **state)
{
	int64_t nb = 1000000, na = nb + 86400, r, lo, hi;
	char key[32];
	int i, distinct = 0;
	int64_t prev = 0;

	(void)state;
	/* grace = max(ratio x life, min), never the whole life */
	assert_int_equal(daemon_grace(nb, na, 0.5, 600), 43200);
	assert_int_equal(daemon_grace(nb, nb + 600, 0.5, 600), 300);
	assert_int_equal(daemon_grace(nb, nb + 3600, 0.1, 600), 600);
	/* renewal lies in [na - 1.1 grace, na - grace], the same for a key
	 * every time, spread over keys */
	lo = na - 43200 - 4320;
	hi = na - 43200;
	for (i = 0; i < 200; i++) {
		snprintf(key, sizeof(key), "ns/sa-%d", i);
		r = daemon_renew_at(nb, na, 0.5, 600, key);
		assert_true(r >= lo && r <= hi);
		assert_int_equal(r, daemon_renew_at(nb, na, 0.5, 600, key));
		if (r != prev)
			distinct++;
		prev = r;
	}
	assert_true(distinct > 150);
	assert_int_equal(daemon_crl_resign_at(100, 300), 200);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rules),
		cmocka_unit_test(test_selector_syntax),
		cmocka_unit_test(test_schedule),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
