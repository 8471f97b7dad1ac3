/*
 * test_informer.c: list-then-watch (k8s/informer.c, k8s/watch.c) against
 * the emulator: initial list and live events, bookmarks, clean ends at
 * timeoutSeconds, reconnects after close-watches, after a dropped
 * connection and after a stalled stream, relists after a 410 delivered
 * both ways (ERROR event in a 200 stream, HTTP 410) with the delta
 * computed against the cache (objects deleted while disconnected arrive
 * as DELETED, unchanged ones arrive not at all), and 429/5xx on the list.
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
#include "k8s/informer.h"
#include "k8s/lease.h"
#include "tests/k8s/emu.h"
#include "tests/k8s/k8s_test.h"

static struct emu em;
static struct k8s_client *cl;

#define NS "inf"
#define MAXOBJ 64

struct objrec {
	char name[64];
	int added, modified, deleted;
	enum k8s_event_type last;
	char rv[32];
};

struct rec {
	struct objrec o[MAXOBJ];
	int n, synced, events;
	bool bad; /* an event that contradicts the last one */
};

static struct objrec *
find(struct rec *r, const char *name)
{
	int i;

	for (i = 0; i < r->n; i++)
		if (strcmp(r->o[i].name, name) == 0)
			return &r->o[i];
	if (r->n == MAXOBJ)
		return NULL;
	snprintf(r->o[r->n].name, sizeof(r->o[0].name), "%s", name);
	return &r->o[r->n++];
}

static void
on_event(struct k8s_informer *inf, enum k8s_event_type t, const json_t *obj,
    void *arg)
{
	struct rec *r = arg;
	const char *name = k8s_obj_name(obj), *rv = k8s_obj_rv(obj);
	struct objrec *o;

	r->events++;
	assert_non_null(name);
	assert_null(json_object_get(json_object_get(obj, "metadata"),
	    "managedFields"));
	if ((o = find(r, name)) == NULL)
		return;
	/* the caller must never see a state twice or out of order */
	if ((t == K8S_EV_ADDED && o->added > o->deleted) ||
	    (t == K8S_EV_MODIFIED && o->added <= o->deleted) ||
	    (t == K8S_EV_DELETED && o->added <= o->deleted) ||
	    (t != K8S_EV_DELETED && rv != NULL && strcmp(o->rv, rv) == 0))
		r->bad = true;
	if (t == K8S_EV_ADDED)
		o->added++;
	else if (t == K8S_EV_MODIFIED)
		o->modified++;
	else if (t == K8S_EV_DELETED)
		o->deleted++;
	o->last = t;
	snprintf(o->rv, sizeof(o->rv), "%s", rv != NULL ? rv : "");
}

static void
on_synced(struct k8s_informer *inf, void *arg)
{
	((struct rec *)arg)->synced++;
}

static int
setup(void **state)
{
	static const char *const extra[] = { "--bookmark-interval", "0.5",
		NULL };

	if (emu_start(&em, extra) == -1)
		return -1;
	emu_namespace(&em, NS);
	return 0;
}

/* A client per test: a failed test's requests die with it. */
static int
client_setup(void **state)
{
	struct k8s_client_opts o = { 0 };
	struct mc_err e = { 0 };

	o.retry_base_ms = 50;
	o.retry_cap_ms = 1000;
	if ((cl = k8s_client_new(em.cfg, &o, &e)) == NULL)
		return -1;
	return 0;
}

static int
client_teardown(void **state)
{
	k8s_client_free(cl);
	cl = NULL;
	return 0;
}

static int
teardown(void **state)
{
	emu_stop(&em);
	return 0;
}

/* Runs the loop for ms. */
static void
run_for(uint64_t ms)
{
	uint64_t end = k8s_now_ms() + ms;
	struct mc_err e = { 0 };

	while (k8s_now_ms() < end)
		assert_int_equal(k8s_client_run_once(cl, 50, &e), 0);
}

/* Runs the loop until cond holds (at most 20 s). */
#define RUN_UNTIL(cond)                                                        \
	do {                                                                   \
		uint64_t end_ = k8s_now_ms() + 20000;                          \
		struct mc_err e_ = { 0 };                                      \
		while (!(cond) && k8s_now_ms() < end_)                         \
			assert_int_equal(k8s_client_run_once(cl, 50, &e_), 0); \
		if (!(cond))                                                   \
			fail_msg("timed out waiting for %s", #cond);           \
	} while (0)

/* Creates a ConfigMap behind the client's back (admin connection). */
static void
cm(const char *method, const char *name, const char *label, const char *val)
{
	char path[256], body[512];
	long code;

	snprintf(path, sizeof(path), "/api/v1/namespaces/" NS "/configmaps");
	snprintf(body, sizeof(body),
	    "{\"metadata\":{\"name\":\"%s\","
	    "\"labels\":{\"app\":\"%s\"}},\"data\":{\"v\":\"%s\"}}",
	    name, label, val);
	code = emu_post(&em, path, body);
	assert_int_equal(code, 201);
}

/* Writes through the client under test, synchronously. */
static void
write_sync(const char *verb, const char *name, const char *val)
{
	struct mc_err e = { 0 };
	struct got g = { 0 };
	json_t *obj;

	if (strcmp(verb, "delete") == 0) {
		assert_non_null(k8s_delete(cl, &k8s_res_configmaps, NS, name,
		    NULL, NULL, got_cb, &g, &e));
	} else {
		obj = json_pack("{s:{s:s}}", "data", "v", val);
		assert_non_null(k8s_patch_merge(cl, &k8s_res_configmaps, NS,
		    name, obj, got_cb, &g, &e));
		json_decref(obj);
	}
	assert_int_equal(k8s_client_run_until(cl, &g.done, 20000, &e), 0);
	assert_int_equal(g.outcome, K8S_OK);
	got_reset(&g);
}

static struct k8s_informer *
start(struct rec *r, const char *label, struct k8s_informer_opts *over)
{
	struct k8s_informer_opts o = { 0 };
	struct k8s_informer *inf;
	struct mc_err e = { 0 };
	char sel[64];

	if (over != NULL)
		o = *over;
	snprintf(sel, sizeof(sel), "app=%s", label);
	o.res = &k8s_res_configmaps;
	o.namespace = NS;
	o.label_selector = sel;
	o.page_limit = 2; /* several pages even for a few objects */
	o.backoff_base_ms = 100;
	o.backoff_cap_ms = 1000;
	o.on_event = on_event;
	o.on_synced = on_synced;
	o.arg = r;
	inf = k8s_informer_start(cl, &o, &e);
	assert_non_null(inf);
	return inf;
}

static void
test_list_watch_bookmarks(void **state)
{
	struct k8s_informer_stats st;
	struct k8s_informer *inf;
	struct rec r;
	json_t *obj;

	memset(&r, 0, sizeof(r));
	cm("POST", "lw-a", "lw", "1");
	cm("POST", "lw-b", "lw", "1");
	cm("POST", "lw-c", "lw", "1");
	cm("POST", "other", "not-lw", "1");
	inf = start(&r, "lw", NULL);
	RUN_UNTIL(r.synced == 1);
	assert_true(k8s_informer_has_synced(inf));
	assert_int_equal(k8s_informer_count(inf), 3);
	assert_int_equal(find(&r, "lw-a")->added, 1);
	assert_int_equal(r.events, 3);
	/* live changes */
	cm("POST", "lw-d", "lw", "1");
	write_sync("patch", "lw-a", "2");
	write_sync("delete", "lw-b", NULL);
	RUN_UNTIL(find(&r, "lw-b")->deleted == 1 &&
	    find(&r, "lw-a")->modified == 1 && find(&r, "lw-d")->added == 1);
	assert_int_equal(k8s_informer_count(inf), 3);
	obj = k8s_informer_get(inf, NS, "lw-a");
	assert_non_null(obj);
	assert_string_equal(json_string_value(json_object_get(
				json_object_get(obj, "data"), "v")),
	    "2");
	json_decref(obj);
	assert_null(k8s_informer_get(inf, NS, "lw-b"));
	/* bookmarks arrive (every 0.5 s here) and move the RV on */
	RUN_UNTIL((k8s_informer_get_stats(inf, &st), st.bookmarks >= 2));
	assert_int_equal(st.lists, 1);
	assert_int_equal(st.watch_errors, 0);
	assert_false(r.bad);
	assert_true(k8s_informer_cache_bytes(inf) > 0);
	k8s_informer_free(inf);
}

static void
test_timeout_rewatch(void **state)
{
	struct k8s_informer_opts o = { 0 };
	struct k8s_informer_stats st;
	struct k8s_informer *inf;
	struct rec r;

	memset(&r, 0, sizeof(r));
	cm("POST", "to-a", "to", "1");
	o.watch_timeout_min_s = 1;
	o.watch_timeout_max_s = 1;
	inf = start(&r, "to", &o);
	RUN_UNTIL(r.synced == 1);
	/* timeoutSeconds=1: the server ends each watch cleanly */
	RUN_UNTIL((k8s_informer_get_stats(inf, &st), st.watches >= 3));
	cm("POST", "to-b", "to", "1");
	RUN_UNTIL(find(&r, "to-b")->added == 1);
	k8s_informer_get_stats(inf, &st);
	assert_int_equal(st.lists, 1);
	assert_int_equal(st.watch_errors, 0);
	assert_int_equal(find(&r, "to-a")->added, 1);
	assert_false(r.bad);
	k8s_informer_free(inf);
}

static void
test_close_watches_and_reset(void **state)
{
	struct k8s_informer_stats st;
	struct k8s_informer *inf;
	struct rec r;
	uint64_t w0;

	memset(&r, 0, sizeof(r));
	cm("POST", "cw-a", "cw", "1");
	inf = start(&r, "cw", NULL);
	RUN_UNTIL(r.synced == 1);
	run_for(200);
	k8s_informer_get_stats(inf, &st);
	w0 = st.watches;
	/* a clean EOF: re-watch from the RV, no relist */
	assert_int_equal(emu_post(&em, "/_emulator/close-watches", NULL), 200);
	RUN_UNTIL((k8s_informer_get_stats(inf, &st), st.watches > w0));
	cm("POST", "cw-b", "cw", "1");
	RUN_UNTIL(find(&r, "cw-b")->added == 1);
	/* the next watch requests are cut off with RST: backoff, retry */
	assert_int_equal(emu_post(&em, "/_emulator/reset",
			     "{\"count\":8,"
			     "\"method\":\"GET\",\"path_contains\":"
			     "\"/namespaces/inf/configmaps\"}"),
	    200);
	assert_int_equal(emu_post(&em, "/_emulator/close-watches", NULL), 200);
	run_for(300);
	cm("POST", "cw-c", "cw", "1");
	RUN_UNTIL(find(&r, "cw-c")->added == 1);
	k8s_informer_get_stats(inf, &st);
	assert_int_equal(st.lists, 1);
	assert_true(st.relists_410 == 0);
	assert_int_equal(find(&r, "cw-a")->added, 1);
	assert_false(r.bad);
	k8s_informer_free(inf);
	emu_post(&em, "/_emulator/clear-faults", NULL);
}

/*
 * Takes the informer's watch down (close-watches while every new request
 * gets 503), changes objects, compacts, then lets it back: the re-watch
 * from the old RV gets 410 and the informer must relist and deliver the
 * delta.
 */
static void
relist_case(const char *label, const char *compact_path)
{
	struct k8s_informer_stats st;
	struct k8s_informer *inf;
	struct rec r;
	char a[32], b[32], c[32], d[32], path[128], rule[256];

	memset(&r, 0, sizeof(r));
	snprintf(a, sizeof(a), "%s-a", label);
	snprintf(b, sizeof(b), "%s-b", label);
	snprintf(c, sizeof(c), "%s-c", label);
	snprintf(d, sizeof(d), "%s-d", label);
	cm("POST", a, label, "1");
	cm("POST", b, label, "1");
	cm("POST", c, label, "1");
	inf = start(&r, label, NULL);
	RUN_UNTIL(r.synced == 1);
	run_for(200);
	snprintf(rule, sizeof(rule),
	    "{\"status\":503,\"count\":0,"
	    "\"method\":\"GET\",\"path_contains\":\"/namespaces/inf/"
	    "configmaps\"}");
	assert_int_equal(emu_post(&em, "/_emulator/faults", rule), 200);
	assert_int_equal(emu_post(&em, "/_emulator/close-watches", NULL), 200);
	run_for(300);
	/* while it is away: delete a, modify b, add d; c stays */
	write_sync("delete", a, NULL);
	write_sync("patch", b, "2");
	cm("POST", d, label, "1");
	snprintf(path, sizeof(path), "%s", compact_path);
	assert_int_equal(emu_post(&em, path, NULL), 200);
	assert_int_equal(emu_post(&em, "/_emulator/clear-faults", NULL), 200);
	RUN_UNTIL(r.synced == 2);
	k8s_informer_get_stats(inf, &st);
	assert_int_equal(st.relists_410, 1);
	assert_int_equal(st.lists, 2);
	assert_int_equal(find(&r, a)->deleted, 1);
	assert_int_equal(find(&r, a)->last, K8S_EV_DELETED);
	assert_int_equal(find(&r, b)->modified, 1);
	assert_int_equal(find(&r, d)->added, 1);
	/* unchanged: no second ADDED, no MODIFIED */
	assert_int_equal(find(&r, c)->added, 1);
	assert_int_equal(find(&r, c)->modified, 0);
	assert_int_equal(k8s_informer_count(inf), 3);
	assert_false(r.bad);
	/* and it watches again from the new list */
	snprintf(d, sizeof(d), "%s-after", label);
	cm("POST", d, label, "1");
	RUN_UNTIL(find(&r, d)->added == 1);
	k8s_informer_free(inf);
}

static void
test_relist_410_event(void **state)
{
	relist_case("ev", "/_emulator/compact");
}

static void
test_relist_410_http(void **state)
{
	relist_case("ht", "/_emulator/compact?mode=http");
}

static void
test_stall(void **state)
{
	struct k8s_informer_opts o = { 0 };
	struct k8s_informer_stats st;
	struct k8s_informer *inf;
	struct rec r;

	memset(&r, 0, sizeof(r));
	cm("POST", "st-a", "st", "1");
	/* bookmarks every 0.5 s keep a healthy stream under 800 ms */
	o.stall_timeout_ms = 800;
	inf = start(&r, "st", &o);
	RUN_UNTIL(r.synced == 1);
	run_for(1500);
	k8s_informer_get_stats(inf, &st);
	assert_int_equal(st.watch_errors, 0);
	/* the server goes silent: the stream is given up and retried */
	assert_int_equal(emu_post(&em, "/_emulator/pause", NULL), 200);
	run_for(2000);
	assert_int_equal(emu_post(&em, "/_emulator/resume", NULL), 200);
	RUN_UNTIL((k8s_informer_get_stats(inf, &st), st.watch_errors >= 1));
	cm("POST", "st-b", "st", "1");
	RUN_UNTIL(find(&r, "st-b")->added == 1);
	assert_false(r.bad);
	k8s_informer_free(inf);
}

static void
test_list_throttled(void **state)
{
	struct k8s_client_stats before, after;
	struct k8s_informer *inf;
	struct rec r;

	memset(&r, 0, sizeof(r));
	cm("POST", "th-a", "th", "1");
	k8s_client_get_stats(cl, &before);
	/* a 429 with Retry-After, then a 503 burst on the list */
	assert_int_equal(emu_post(&em, "/_emulator/faults",
			     "{\"status\":429,"
			     "\"count\":1,\"retry_after\":1,\"path_contains\":"
			     "\"/namespaces/inf/configmaps\"}"),
	    200);
	assert_int_equal(emu_post(&em, "/_emulator/faults",
			     "{\"status\":503,"
			     "\"count\":2,\"path_contains\":\"/namespaces/inf/"
			     "configmaps\"}"),
	    200);
	inf = start(&r, "th", NULL);
	RUN_UNTIL(r.synced == 1);
	k8s_client_get_stats(cl, &after);
	assert_true(after.retry_after - before.retry_after >= 1);
	assert_true(after.retries - before.retries >= 3);
	assert_int_equal(find(&r, "th-a")->added, 1);
	k8s_informer_free(inf);
}

static void
lead_cb(struct k8s_elector *el, void *arg)
{
	(*(int *)arg)++;
}

static bool
all_done(const struct got *g, int n)
{
	int i;

	for (i = 0; i < n; i++)
		if (!g[i].done)
			return false;
	return true;
}

/*
 * One thread, one client, one loop: two informers (ConfigMaps under a
 * selector, every Secret of the namespace), a leader election and 80
 * writes queued at once all make progress together.
 */
static void
test_one_loop_drives_all(void **state)
{
	struct k8s_informer_opts so = { 0 };
	struct k8s_elector_opts lo = { 0 };
	struct k8s_informer *a, *b;
	struct k8s_elector *el;
	struct mc_err e = { 0 };
	struct rec ra, rb;
	int i, led = 0, ok = 0;
	struct got g[80];
	char name[32];
	json_t *obj;

	memset(&ra, 0, sizeof(ra));
	memset(&rb, 0, sizeof(rb));
	memset(g, 0, sizeof(g));
	a = start(&ra, "multi", NULL);
	so.res = &k8s_res_secrets;
	so.namespace = NS;
	so.on_event = on_event;
	so.on_synced = on_synced;
	so.arg = &rb;
	assert_non_null(b = k8s_informer_start(cl, &so, &e));
	lo.namespace = NS;
	lo.name = "multi";
	lo.identity = "one-loop";
	lo.lease_duration_ms = 2000;
	lo.renew_deadline_ms = 1500;
	lo.retry_period_ms = 300;
	lo.on_started = lead_cb;
	lo.arg = &led;
	assert_non_null(el = k8s_elector_start(cl, &lo, &e));
	RUN_UNTIL(ra.synced == 1 && rb.synced == 1);
	for (i = 0; i < 80; i++) {
		snprintf(name, sizeof(name), "multi-%02d", i);
		obj =
		    json_pack("{s:{s:s, s:{s:s}}, s:{s:s}}", "metadata", "name",
			name, "labels", "app", "multi", "data", "k", "dg==");
		assert_non_null(k8s_create(cl,
		    i % 2 ? &k8s_res_secrets : &k8s_res_configmaps, NS, obj,
		    got_cb, &g[i], &e));
		json_decref(obj);
	}
	/* a watch event may come before the answer to the write */
	RUN_UNTIL(ra.events >= 40 && rb.events >= 40 && led == 1);
	RUN_UNTIL(all_done(g, 80));
	for (i = 0; i < 80; i++) {
		ok += g[i].done && g[i].outcome == K8S_OK;
		got_reset(&g[i]);
	}
	assert_int_equal(ok, 80);
	assert_true(k8s_elector_is_leader(el));
	assert_int_equal(k8s_informer_count(a), 40);
	assert_true(k8s_informer_count(b) >= 40);
	assert_false(ra.bad);
	assert_false(rb.bad);
	k8s_elector_free(el);
	k8s_informer_free(a);
	k8s_informer_free(b);
}

struct rawwatch {
	struct k8s_watch *w;
	int events, ends;
	bool stop_in_event, stop_in_end;
};

static int
raw_event(enum k8s_event_type t, json_t *obj, void *arg)
{
	struct rawwatch *rw = arg;

	rw->events++;
	if (rw->stop_in_event) {
		k8s_watch_stop(rw->w);
		rw->w = NULL;
	}
	return 0;
}

static void
raw_end(const struct k8s_response *r, void *arg)
{
	struct rawwatch *rw = arg;

	rw->ends++;
	if (rw->stop_in_end)
		k8s_watch_stop(rw->w); /* too late: a no-op */
	rw->w = NULL;
}

/* A bare watch stopped from its own event callback and from its end. */
static void
test_watch_stop_in_callbacks(void **state)
{
	struct rawwatch a = { 0 }, b = { 0 };
	struct mc_err e = { 0 };
	const char *path = "/api/v1/namespaces/" NS "/configmaps?watch=1&"
			   "labelSelector=app%3Dlw&timeoutSeconds=1";

	a.stop_in_event = true;
	a.w = k8s_watch_start(cl, path, 0, raw_event, raw_end, &a, &e);
	assert_non_null(a.w);
	b.stop_in_end = true;
	b.w = k8s_watch_start(cl, path, 0, raw_event, raw_end, &b, &e);
	assert_non_null(b.w);
	/* synthetic ADDED events (RV unset), then the 1 s timeout */
	RUN_UNTIL(b.ends == 1);
	run_for(300);
	assert_int_equal(a.events, 1);
	assert_int_equal(a.ends, 0);
	assert_true(b.events >= 3);
	assert_int_equal(k8s_client_pending(cl), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_list_watch_bookmarks,
		    client_setup, client_teardown),
		cmocka_unit_test_setup_teardown(test_timeout_rewatch,
		    client_setup, client_teardown),
		cmocka_unit_test_setup_teardown(test_watch_stop_in_callbacks,
		    client_setup, client_teardown),
		cmocka_unit_test_setup_teardown(test_close_watches_and_reset,
		    client_setup, client_teardown),
		cmocka_unit_test_setup_teardown(test_relist_410_event,
		    client_setup, client_teardown),
		cmocka_unit_test_setup_teardown(test_relist_410_http,
		    client_setup, client_teardown),
		cmocka_unit_test_setup_teardown(test_stall, client_setup,
		    client_teardown),
		cmocka_unit_test_setup_teardown(test_list_throttled,
		    client_setup, client_teardown),
		cmocka_unit_test_setup_teardown(test_one_loop_drives_all,
		    client_setup, client_teardown),
	};

	if (!emu_available())
		return 77;
	return cmocka_run_group_tests_name("k8s_informer", tests, setup,
	    teardown);
}
