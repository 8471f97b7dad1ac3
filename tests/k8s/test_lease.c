/*
 * test_lease.c: leader election (k8s/lease.c) with two electors against
 * the emulator, with short durations (2 s / 1.5 s / 0.3 s): exactly one
 * leads; when it stops renewing the other takes over within the lease
 * duration; a released lease is taken at once; a lost renewal deadline
 * stops leading; MicroTime has six fractional digits and Z.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "k8s/backoff.h"
#include "k8s/lease.h"
#include "k8s/rest.h"
#include "tests/k8s/emu.h"
#include "tests/k8s/k8s_test.h"

static struct emu em;
static struct k8s_client *ca, *cb;

#define NS "election"

struct cand {
	const char *id;
	int started, stopped;
};

static void
started(struct k8s_elector *el, void *arg)
{
	((struct cand *)arg)->started++;
}

static void
stopped(struct k8s_elector *el, void *arg)
{
	((struct cand *)arg)->stopped++;
}

static int
setup(void **state)
{
	if (emu_start(&em, NULL) == -1)
		return -1;
	emu_namespace(&em, NS);
	return 0;
}

/* Clients per test: a failed test's requests die with them. */
static int
client_setup(void **state)
{
	struct k8s_client_opts o = { 0 };
	struct mc_err e = { 0 };

	o.retry_base_ms = 50;
	if ((ca = k8s_client_new(em.cfg, &o, &e)) == NULL ||
	    (cb = k8s_client_new(em.cfg, &o, &e)) == NULL)
		return -1;
	return 0;
}

static int
client_teardown(void **state)
{
	k8s_client_free(ca);
	k8s_client_free(cb);
	ca = cb = NULL;
	return 0;
}

static int
teardown(void **state)
{
	emu_stop(&em);
	return 0;
}

/* Drives both clients (either may be NULL) for ms. */
static void
run_both(struct k8s_client *x, struct k8s_client *y, uint64_t ms)
{
	uint64_t end = k8s_now_ms() + ms;
	struct mc_err e = { 0 };

	while (k8s_now_ms() < end) {
		if (x != NULL)
			assert_int_equal(k8s_client_run_once(x, 10, &e), 0);
		if (y != NULL)
			assert_int_equal(k8s_client_run_once(y, 10, &e), 0);
	}
}

static struct k8s_elector *
elect(struct k8s_client *c, struct cand *cd, const char *lease)
{
	struct k8s_elector_opts o = { 0 };
	struct k8s_elector *el;
	struct mc_err e = { 0 };

	o.namespace = NS;
	o.name = lease;
	o.identity = cd->id;
	o.lease_duration_ms = 2000;
	o.renew_deadline_ms = 1500;
	o.retry_period_ms = 300;
	o.on_started = started;
	o.on_stopped = stopped;
	o.arg = cd;
	assert_non_null(el = k8s_elector_start(c, &o, &e));
	return el;
}

static json_t *
get_lease(const char *name)
{
	char path[256];

	snprintf(path, sizeof(path),
	    "/apis/coordination.k8s.io/v1/"
	    "namespaces/" NS "/leases/%s",
	    name);
	return emu_get(&em, path);
}

static void
check_microtime(const char *s)
{
	size_t n;

	assert_non_null(s);
	n = strlen(s);
	/* 2026-11-26T14:20:31.636720Z: exactly 6 digits, then Z */
	assert_int_equal(n, 27);
	assert_int_equal(s[19], '.');
	assert_int_equal(strspn(s + 20, "0123456789"), 6);
	assert_int_equal(s[26], 'Z');
}

static void
test_microtime(void **state)
{
	char buf[40];

	k8s_microtime(buf, sizeof(buf));
	check_microtime(buf);
}

static void
test_options(void **state)
{
	struct k8s_elector_opts o = { 0 };
	struct mc_err e = { 0 };

	o.namespace = NS;
	o.name = "x";
	o.identity = "me";
	o.lease_duration_ms = 2000;
	o.renew_deadline_ms = 2000;
	o.retry_period_ms = 300;
	assert_null(k8s_elector_start(ca, &o, &e));
	o.renew_deadline_ms = 1500;
	o.retry_period_ms = 1250; /* 1.2 x 1250 = 1500: not below */
	assert_null(k8s_elector_start(ca, &o, &e));
	o.retry_period_ms = 300;
	o.identity = "";
	assert_null(k8s_elector_start(ca, &o, &e));
}

static void
test_one_leader_then_takeover(void **state)
{
	struct cand a = { "replica-a", 0, 0 }, b = { "replica-b", 0, 0 };
	struct k8s_elector *ea, *eb;
	json_t *l;
	uint64_t t0, i, both = 0;
	const char *holder;

	ea = elect(ca, &a, "takeover");
	eb = elect(cb, &b, "takeover");
	/* for 2.5 s: never two leaders, exactly one after the start */
	for (i = 0; i < 50; i++) {
		run_both(ca, cb, 50);
		if (k8s_elector_is_leader(ea) && k8s_elector_is_leader(eb))
			both++;
	}
	assert_int_equal(both, 0);
	assert_true(k8s_elector_is_leader(ea) != k8s_elector_is_leader(eb));
	assert_int_equal(a.started + b.started, 1);
	l = get_lease("takeover");
	assert_non_null(l);
	holder = json_string_value(json_object_get(json_object_get(l, "spec"),
	    "holderIdentity"));
	assert_string_equal(holder, k8s_elector_is_leader(ea) ? a.id : b.id);
	check_microtime(json_string_value(json_object_get(json_object_get(l,
							      "spec"),
	    "renewTime")));
	check_microtime(json_string_value(json_object_get(json_object_get(l,
							      "spec"),
	    "acquireTime")));
	assert_int_equal(json_integer_value(json_object_get(json_object_get(l,
								"spec"),
			     "leaseDurationSeconds")),
	    2);
	json_decref(l);
	/* the leader stops renewing (its loop no longer runs, as if hung):
	 * the other takes over within the lease duration (+ a retry) */
	if (k8s_elector_is_leader(eb)) {
		/* name the leader "a" from here on */
		struct k8s_elector *te = ea;
		struct k8s_client *tc = ca;

		ea = eb;
		eb = te;
		ca = cb;
		cb = tc;
	}
	t0 = k8s_now_ms();
	while (!k8s_elector_is_leader(eb) && k8s_now_ms() - t0 < 5000)
		run_both(NULL, cb, 20);
	assert_true(k8s_elector_is_leader(eb));
	/* not before the holder's lease could have run out... */
	assert_true(k8s_now_ms() - t0 >= 2000 - 400);
	/* ...and within duration + retry period x 2.2 (jitter) */
	assert_true(k8s_now_ms() - t0 <= 2000 + 300 * 22 / 10 + 1000);
	l = get_lease("takeover");
	assert_int_equal(json_integer_value(json_object_get(json_object_get(l,
								"spec"),
			     "leaseTransitions")),
	    1);
	json_decref(l);
	/* the old leader wakes up: its deadline has passed, it stops, and
	 * its next try sees the new holder */
	run_both(ca, cb, 1000);
	assert_false(k8s_elector_is_leader(ea));
	assert_true(k8s_elector_is_leader(eb));
	k8s_elector_free(ea);
	k8s_elector_free(eb);
	assert_true(a.started + b.started == 2);
	assert_true(a.stopped + b.stopped == 1);
}

static void
test_release(void **state)
{
	struct cand a = { "rel-a", 0, 0 }, b = { "rel-b", 0, 0 };
	struct k8s_elector *ea, *eb;
	uint64_t t0;
	json_t *l, *spec;

	ea = elect(ca, &a, "release");
	run_both(ca, NULL, 800);
	assert_true(k8s_elector_is_leader(ea));
	eb = elect(cb, &b, "release");
	run_both(ca, cb, 700);
	assert_false(k8s_elector_is_leader(eb));
	/* graceful shutdown: holder "" lets the other take over at once */
	k8s_elector_release(ea);
	assert_int_equal(a.stopped, 1);
	assert_false(k8s_elector_is_leader(ea));
	t0 = k8s_now_ms();
	while (!k8s_elector_released(ea) && k8s_now_ms() - t0 < 3000)
		run_both(ca, NULL, 10);
	assert_true(k8s_elector_released(ea));
	l = get_lease("release");
	assert_string_equal(json_string_value(json_object_get(json_object_get(l,
								  "spec"),
				"holderIdentity")),
	    "");
	/* client-go release(): the transition count is kept */
	spec = json_object_get(l, "spec");
	assert_int_equal(json_integer_value(json_object_get(spec,
			     "leaseTransitions")),
	    0);
	json_decref(l);
	t0 = k8s_now_ms();
	while (!k8s_elector_is_leader(eb) && k8s_now_ms() - t0 < 3000)
		run_both(ca, cb, 20);
	assert_true(k8s_elector_is_leader(eb));
	/* well before a lease duration */
	assert_true(k8s_now_ms() - t0 < 1500);
	k8s_elector_free(ea);
	k8s_elector_free(eb);
}

static void
test_renew_deadline(void **state)
{
	struct cand a = { "dl-a", 0, 0 };
	struct k8s_elector *ea;

	ea = elect(ca, &a, "deadline");
	run_both(ca, NULL, 600);
	assert_true(k8s_elector_is_leader(ea));
	/* every request fails: no renewal within 1.5 s, it steps down */
	assert_int_equal(
	    emu_post(&em, "/_emulator/faults",
		"{\"status\":500,"
		"\"count\":0,\"path_contains\":\"/leases/deadline\"}"),
	    200);
	run_both(ca, NULL, 2000);
	assert_false(k8s_elector_is_leader(ea));
	assert_int_equal(a.stopped, 1);
	assert_int_equal(emu_post(&em, "/_emulator/clear-faults", NULL), 200);
	/* the lease is still ours on the server: renewed again */
	run_both(ca, NULL, 1000);
	assert_true(k8s_elector_is_leader(ea));
	assert_int_equal(a.started, 2);
	k8s_elector_free(ea);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_microtime, client_setup,
		    client_teardown),
		cmocka_unit_test_setup_teardown(test_options, client_setup,
		    client_teardown),
		cmocka_unit_test_setup_teardown(test_one_leader_then_takeover,
		    client_setup, client_teardown),
		cmocka_unit_test_setup_teardown(test_release, client_setup,
		    client_teardown),
		cmocka_unit_test_setup_teardown(test_renew_deadline,
		    client_setup, client_teardown),
	};

	if (!emu_available())
		return 77;
	return cmocka_run_group_tests_name("k8s_lease", tests, setup, teardown);
}
