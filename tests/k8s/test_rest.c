/*
 * test_rest.c: the REST verbs and the transport (k8s/rest.c, k8s/http.c)
 * against the emulator over TLS on 127.0.0.1: CRUD with 201/409
 * AlreadyExists, 409 Conflict on a stale update, merge patch, delete
 * preconditions, escaping, pagination over more objects than the limit
 * (and a restart after an expired continue token), 429 with Retry-After
 * honoured, 5xx bursts, dropped connections, a 401 that re-reads the
 * token file, and many writes in flight at once over reused connections.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/alloc.h"
#include "common/buf.h"
#include "k8s/backoff.h"
#include "k8s/rest.h"
#include "tests/k8s/emu.h"
#include "tests/k8s/k8s_test.h"

static struct emu em;
static struct k8s_client *cl;

#define NS "rest"
#define RUN(g)                                                             \
	do {                                                               \
		struct mc_err e_ = { 0 };                                  \
		if (k8s_client_run_until(cl, &(g).done, 30000, &e_) == -1) \
			fail_msg("%s", e_.msg);                            \
	} while (0)

static int
setup(void **state)
{
	if (emu_start(&em, NULL) == -1) {
		fprintf(stderr, "emulator did not start\n");
		return -1;
	}
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
	o.retry_cap_ms = 5000;
	o.max_in_flight = 16;
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

static json_t *
secret(const char *name)
{
	return json_pack("{s:{s:s, s:{s:s}}, s:s, s:{s:s}}", "metadata", "name",
	    name, "labels", "app", "rest-test", "type", "istio.io/key-and-cert",
	    "data", "key.pem", "a2V5");
}

static void
test_crud(void **state)
{
	struct mc_err e = { 0 };
	struct got g = { 0 };
	json_t *obj = secret("crud-1"), *stale, *patch;
	char rv1[64], uid[64];

	/* create: 201, then 409 AlreadyExists */
	assert_non_null(k8s_create(cl, &k8s_res_secrets, NS, obj, got_cb, &g,
	    &e));
	RUN(g);
	assert_int_equal(g.outcome, K8S_OK);
	assert_int_equal(g.code, 201);
	snprintf(rv1, sizeof(rv1), "%s", k8s_obj_rv(g.body));
	snprintf(uid, sizeof(uid), "%s",
	    json_string_value(json_object_get(json_object_get(g.body,
						  "metadata"),
		"uid")));
	stale = json_deep_copy(g.body);
	got_reset(&g);
	assert_non_null(k8s_create(cl, &k8s_res_secrets, NS, obj, got_cb, &g,
	    &e));
	RUN(g);
	assert_int_equal(g.outcome, K8S_E_ALREADY_EXISTS);
	assert_int_equal(g.code, 409);
	assert_string_equal(g.reason, "AlreadyExists");
	got_reset(&g);
	/* get */
	assert_non_null(k8s_get(cl, &k8s_res_secrets, NS, "crud-1", got_cb, &g,
	    &e));
	RUN(g);
	assert_int_equal(g.outcome, K8S_OK);
	assert_string_equal(k8s_obj_rv(g.body), rv1);
	assert_string_equal(json_string_value(json_object_get(g.body, "type")),
	    "istio.io/key-and-cert");
	/* update with the current RV */
	json_object_set_new(json_object_get(g.body, "data"), "cert.pem",
	    json_string("Y2VydA=="));
	json_decref(obj);
	obj = json_incref(g.body);
	got_reset(&g);
	assert_non_null(k8s_update(cl, &k8s_res_secrets, NS, obj, got_cb, &g,
	    &e));
	json_decref(obj);
	obj = secret("crud-1");
	RUN(g);
	assert_int_equal(g.outcome, K8S_OK);
	assert_string_not_equal(k8s_obj_rv(g.body), rv1);
	got_reset(&g);
	/* update with the stale RV: 409 Conflict, reported as such */
	assert_non_null(k8s_update(cl, &k8s_res_secrets, NS, stale, got_cb, &g,
	    &e));
	RUN(g);
	assert_int_equal(g.outcome, K8S_E_CONFLICT);
	assert_string_equal(g.reason, "Conflict");
	assert_non_null(strstr(g.msg, "409"));
	got_reset(&g);
	/* merge patch: add a label, delete another with null */
	patch = json_pack("{s:{s:{s:s, s:n}}}", "metadata", "labels", "x", "y",
	    "app");
	assert_non_null(k8s_patch_merge(cl, &k8s_res_secrets, NS, "crud-1",
	    patch, got_cb, &g, &e));
	json_decref(patch);
	RUN(g);
	assert_int_equal(g.outcome, K8S_OK);
	assert_string_equal(json_string_value(json_object_get(
				json_object_get(json_object_get(g.body,
						    "metadata"),
				    "labels"),
				"x")),
	    "y");
	assert_null(json_object_get(json_object_get(json_object_get(g.body,
							"metadata"),
					"labels"),
	    "app"));
	got_reset(&g);
	/* delete with a stale RV precondition: 409; with the uid: 200 */
	assert_non_null(k8s_delete(cl, &k8s_res_secrets, NS, "crud-1", NULL,
	    rv1, got_cb, &g, &e));
	RUN(g);
	assert_int_equal(g.outcome, K8S_E_CONFLICT);
	got_reset(&g);
	assert_non_null(k8s_delete(cl, &k8s_res_secrets, NS, "crud-1", uid,
	    NULL, got_cb, &g, &e));
	RUN(g);
	assert_int_equal(g.outcome, K8S_OK);
	got_reset(&g);
	assert_non_null(k8s_get(cl, &k8s_res_secrets, NS, "crud-1", got_cb, &g,
	    &e));
	RUN(g);
	assert_int_equal(g.outcome, K8S_E_NOT_FOUND);
	assert_string_equal(g.reason, "NotFound");
	got_reset(&g);
	/* update of a missing Secret: 404 (the caller then creates) */
	assert_non_null(k8s_update(cl, &k8s_res_secrets, NS, obj, got_cb, &g,
	    &e));
	RUN(g);
	assert_int_equal(g.outcome, K8S_E_NOT_FOUND);
	got_reset(&g);
	/* a body the server rejects: 422 with causes, or 400 */
	json_object_set_new(obj, "type", json_string("kubernetes.io/tls"));
	assert_non_null(k8s_create(cl, &k8s_res_secrets, NS, obj, got_cb, &g,
	    &e));
	RUN(g);
	assert_int_equal(g.outcome, K8S_E_INVALID);
	got_reset(&g);
	json_decref(obj);
	json_decref(stale);
}

static void
test_paths(void **state)
{
	struct mc_err e = { 0 };
	struct got g = { 0 };
	struct mc_buf b;
	json_t *obj;

	mc_buf_init(&b, 4096);
	assert_int_equal(k8s_path(&b, &k8s_res_secrets, "ns 1", "a/b?c#d%", &e),
	    0);
	assert_string_equal(b.data,
	    "/api/v1/namespaces/ns%201/secrets/a%2Fb%3Fc%23d%25");
	assert_int_equal(k8s_query(&b, "labelSelector", "app in (a,b),!x", &e),
	    0);
	assert_int_equal(k8s_query(&b, "limit", "5", &e), 0);
	assert_string_equal(b.data,
	    "/api/v1/namespaces/ns%201/secrets/"
	    "a%2Fb%3Fc%23d%25?labelSelector=app%20in%20%28a%2Cb%29%2C%21x"
	    "&limit=5");
	mc_buf_reset(&b);
	assert_int_equal(k8s_path(&b, &k8s_res_leases, "kube-system", NULL, &e),
	    0);
	assert_string_equal(b.data,
	    "/apis/coordination.k8s.io/v1/namespaces/kube-system/leases");
	mc_buf_reset(&b);
	assert_int_equal(k8s_path(&b, &k8s_res_namespaces, "ignored", "x", &e),
	    0);
	assert_string_equal(b.data, "/api/v1/namespaces/x");
	mc_buf_reset(&b);
	assert_int_equal(k8s_path(&b, &k8s_res_secrets, NULL, NULL, &e), 0);
	assert_string_equal(b.data, "/api/v1/secrets");
	mc_buf_reset(&b);
	assert_int_equal(k8s_path(&b, &k8s_res_secrets, "..", "x", &e), -1);
	assert_int_equal(k8s_path(&b, &k8s_res_secrets, "a", "", &e), -1);
	assert_int_equal(k8s_path(&b, &k8s_res_secrets, NULL, "x", &e), -1);
	mc_buf_free(&b);
	/* a hostile name stays one segment: the server says not found */
	assert_non_null(k8s_get(cl, &k8s_res_secrets, NS,
	    "../../namespaces/default/secrets/x", got_cb, &g, &e));
	RUN(g);
	assert_int_equal(g.outcome, K8S_E_NOT_FOUND);
	got_reset(&g);
	/* namespace in the body differs from the URL: refused locally */
	obj = json_pack("{s:{s:s, s:s}}", "metadata", "name", "x", "namespace",
	    "other");
	assert_null(k8s_create(cl, &k8s_res_secrets, NS, obj, got_cb, &g, &e));
	assert_non_null(strstr(e.msg, "differs"));
	json_decref(obj);
	assert_false(g.done);
}

struct many {
	int done, ok, other;
};

static void
many_cb(const struct k8s_response *r, void *arg)
{
	struct many *m = arg;

	m->done++;
	if (r->outcome == K8S_OK)
		m->ok++;
	else
		m->other++;
}

static void
create_many(const char *prefix, int n, const char *label)
{
	struct k8s_client_stats st;
	struct mc_err e = { 0 };
	struct many m = { 0 };
	uint64_t end;
	char name[64];
	json_t *obj;
	int i;

	for (i = 0; i < n; i++) {
		snprintf(name, sizeof(name), "%s-%03d", prefix, i);
		obj = json_pack("{s:{s:s, s:{s:s}}, s:{s:s}}", "metadata",
		    "name", name, "labels", "set", label, "data", "k", "v");
		assert_non_null(k8s_create(cl, &k8s_res_configmaps, NS, obj,
		    many_cb, &m, &e));
		json_decref(obj);
	}
	/* all queued at once; max_in_flight of them on the wire */
	end = k8s_now_ms() + 60000;
	while (m.done < n && k8s_now_ms() < end)
		assert_int_equal(k8s_client_run_once(cl, 100, &e), 0);
	assert_int_equal(m.done, n);
	assert_int_equal(m.ok, n);
	k8s_client_get_stats(cl, &st);
	/* connections are reused: far fewer than requests */
	assert_true(st.connects <= 16 + 4);
}

struct pages {
	int pages, items, firsts;
};

static int
page_cb(json_t *items, const char *rv, bool first, void *arg)
{
	struct pages *p = arg;

	p->pages++;
	p->items += (int)json_array_size(items);
	p->firsts += first;
	assert_non_null(rv);
	return 0;
}

struct listed {
	bool done;
	enum k8s_outcome outcome;
	size_t n;
	unsigned pages, restarts;
	char rv[64];
};

static void
list_cb(const struct k8s_list_result *r, void *arg)
{
	struct listed *l = arg;

	l->done = true;
	l->outcome = r->resp->outcome;
	l->n = r->items != NULL ? json_array_size(r->items) : 0;
	l->pages = r->pages;
	l->restarts = r->restarts;
	snprintf(l->rv, sizeof(l->rv), "%s",
	    r->resource_version != NULL ? r->resource_version : "");
}

struct plisted {
	struct pages p;
	struct listed *l;
};

static int
ppage_cb(json_t *items, const char *rv, bool first, void *arg)
{
	struct plisted *pl = arg;

	/* the emulator matches faults on the path only, so the 410 for the
	 * continue request is armed once the first page is in */
	if (pl->p.pages == 0)
		assert_int_equal(
		    emu_post(&em, "/_emulator/faults",
			"{\"status\":410,\"count\":1,\"path_contains\":"
			"\"/namespaces/rest/configmaps\"}"),
		    200);
	return page_cb(items, rv, first, &pl->p);
}

static void
plist_cb(const struct k8s_list_result *r, void *arg)
{
	list_cb(r, ((struct plisted *)arg)->l);
}

static void
test_pagination(void **state)
{
	struct k8s_list_opts lo = { 0 };
	struct mc_err e = { 0 };
	struct listed l = { 0 };
	struct plisted pl;

	memset(&pl, 0, sizeof(pl));

	create_many("page", 120, "paged");
	lo.label_selector = "set=paged";
	lo.limit = 25;
	assert_non_null(k8s_list_start(cl, &k8s_res_configmaps, NS, &lo, NULL,
	    list_cb, &l, &e));
	RUN(l);
	assert_int_equal(l.outcome, K8S_OK);
	assert_int_equal(l.n, 120);
	assert_int_equal(l.pages, 5);
	assert_int_equal(l.restarts, 0);
	assert_true(l.rv[0] != '\0');
	/* a field selector */
	memset(&l, 0, sizeof(l));
	lo.field_selector = "metadata.name=page-007";
	assert_non_null(k8s_list_start(cl, &k8s_res_configmaps, NS, &lo, NULL,
	    list_cb, &l, &e));
	RUN(l);
	assert_int_equal(l.n, 1);
	/* an expired continue token (410): the list starts again, and the
	 * page callback sees the first page twice */
	lo.field_selector = NULL;
	memset(&l, 0, sizeof(l));
	pl.l = &l;
	assert_non_null(k8s_list_start(cl, &k8s_res_configmaps, NS, &lo,
	    ppage_cb, plist_cb, &pl, &e));
	RUN(l);
	assert_int_equal(l.outcome, K8S_OK);
	assert_int_equal(l.restarts, 1);
	assert_int_equal(pl.p.firsts, 2);
	assert_int_equal(pl.p.items, 25 + 120);
	assert_int_equal(pl.p.pages, 6);
}

static void
test_retry_after(void **state)
{
	struct k8s_client_stats before, after;
	struct mc_err e = { 0 };
	struct got g = { 0 };
	uint64_t t0;

	k8s_client_get_stats(cl, &before);
	/* two plain-text 429s with Retry-After: 1, then the answer */
	assert_int_equal(
	    emu_post(&em, "/_emulator/faults",
		"{\"status\":429,"
		"\"count\":2,\"retry_after\":1,\"body\":\"Too many requests, "
		"please try again later.\",\"path_contains\":\"page-001\"}"),
	    200);
	t0 = k8s_now_ms();
	assert_non_null(k8s_get(cl, &k8s_res_configmaps, NS, "page-001", got_cb,
	    &g, &e));
	RUN(g);
	assert_int_equal(g.outcome, K8S_OK);
	assert_int_equal(g.attempts, 3);
	assert_true(k8s_now_ms() - t0 >= 1900);
	k8s_client_get_stats(cl, &after);
	assert_int_equal(after.retry_after - before.retry_after, 2);
	got_reset(&g);
}

/* k8s_client_opts.on_error: the codes of the attempts that failed */
struct errs {
	long code[16];
	size_t n;
};

static void
on_error(long code, void *arg)
{
	struct errs *x = arg;

	if (x->n < 16)
		x->code[x->n] = code;
	x->n++;
}

static void
test_5xx(void **state)
{
	struct k8s_client_opts o = { 0 };
	struct k8s_client *c2;
	struct mc_err e = { 0 };
	struct got g = { 0 };
	struct errs x = { { 0 }, 0 };

	/* a burst of 503s without Retry-After: backoff, then success */
	assert_int_equal(emu_post(&em, "/_emulator/faults",
			     "{\"status\":503,"
			     "\"count\":3,\"path_contains\":\"page-002\"}"),
	    200);
	assert_non_null(k8s_get(cl, &k8s_res_configmaps, NS, "page-002", got_cb,
	    &g, &e));
	RUN(g);
	assert_int_equal(g.outcome, K8S_OK);
	assert_int_equal(g.attempts, 4);
	got_reset(&g);
	/* more 500s than retries: the caller sees the last one, whose
	 * non-JSON body becomes the message */
	o.max_retries = 2;
	o.retry_base_ms = 10;
	o.on_error = on_error;
	o.on_error_arg = &x;
	assert_non_null(c2 = k8s_client_new(em.cfg, &o, &e));
	assert_int_equal(
	    emu_post(&em, "/_emulator/faults",
		"{\"status\":500,"
		"\"count\":5,\"body\":\"<html>boom</html>\",\"path_contains\":"
		"\"page-003\"}"),
	    200);
	assert_non_null(k8s_get(c2, &k8s_res_configmaps, NS, "page-003", got_cb,
	    &g, &e));
	assert_int_equal(k8s_client_run_until(c2, &g.done, 30000, &e), 0);
	assert_int_equal(g.outcome, K8S_E_SERVER);
	assert_int_equal(g.attempts, 3);
	assert_int_equal(g.code, 500);
	assert_non_null(strstr(g.msg, "<html>boom</html>"));
	got_reset(&g);
	/* each attempt's failure reached on_error, the retried ones too */
	assert_int_equal(x.n, 3);
	assert_int_equal(x.code[0], 500);
	assert_int_equal(x.code[2], 500);
	/* a 404 is an answer that is not a 2xx: counted; a 200 is not */
	memset(&x, 0, sizeof(x));
	assert_non_null(k8s_get(c2, &k8s_res_configmaps, NS, "no-such-cm",
	    got_cb, &g, &e));
	assert_int_equal(k8s_client_run_until(c2, &g.done, 30000, &e), 0);
	assert_int_equal(g.outcome, K8S_E_NOT_FOUND);
	got_reset(&g);
	assert_non_null(k8s_get(c2, &k8s_res_configmaps, NS, "page-002",
	    got_cb, &g, &e));
	assert_int_equal(k8s_client_run_until(c2, &g.done, 30000, &e), 0);
	assert_int_equal(g.outcome, K8S_OK);
	got_reset(&g);
	assert_int_equal(x.n, 1);
	assert_int_equal(x.code[0], 404);
	k8s_client_free(c2);
	emu_post(&em, "/_emulator/clear-faults", NULL);
}

static void
test_reset(void **state)
{
	struct mc_err e = { 0 };
	struct got g = { 0 };
	json_t *st;

	/* the server drops the connection (RST) six times in a row; libcurl
	 * retries a dead reused connection by itself, our backoff does the
	 * rest, and the caller sees only the answer */
	assert_int_equal(emu_post(&em, "/_emulator/reset",
			     "{\"count\":6,"
			     "\"path_contains\":\"page-004\"}"),
	    200);
	assert_non_null(k8s_get(cl, &k8s_res_configmaps, NS, "page-004", got_cb,
	    &g, &e));
	RUN(g);
	assert_int_equal(g.outcome, K8S_OK);
	assert_true(g.attempts >= 2);
	got_reset(&g);
	assert_non_null(st = emu_get(&em, "/_emulator/stats"));
	assert_int_equal(json_integer_value(json_object_get(json_object_get(st,
								"requests"),
			     "reset  0")),
	    6);
	json_decref(st);
}

static void
test_token_reread(void **state)
{
	char path[] = "/tmp/k8s-token-XXXXXX";
	struct k8s_client_stats st;
	struct k8s_config cfg;
	struct k8s_client *c2;
	struct mc_err e = { 0 };
	struct got g = { 0 };
	FILE *f;
	int fd;

	/* the token file holds the good token; the cache a rotated-out one */
	assert_true((fd = mkstemp(path)) != -1);
	assert_non_null(f = fdopen(fd, "w"));
	fprintf(f, "%s\n", em.cfg->token);
	fclose(f);
	cfg = *em.cfg;
	cfg.token = mc_strdup("expired-token");
	cfg.token_file = path;
	cfg.token_read_ms = k8s_now_ms();
	assert_non_null(c2 = k8s_client_new(&cfg, NULL, &e));
	assert_non_null(k8s_get(c2, &k8s_res_configmaps, NS, "page-005", got_cb,
	    &g, &e));
	assert_int_equal(k8s_client_run_until(c2, &g.done, 30000, &e), 0);
	assert_int_equal(g.outcome, K8S_OK);
	assert_int_equal(g.attempts, 2);
	k8s_client_get_stats(c2, &st);
	assert_int_equal(st.unauthorized, 1);
	assert_string_equal(cfg.token, em.cfg->token);
	got_reset(&g);
	/* a token that stays wrong: one re-read, then 401 to the caller */
	f = fopen(path, "w");
	fputs("still-wrong\n", f);
	fclose(f);
	k8s_config_token_expire(&cfg);
	assert_non_null(k8s_get(c2, &k8s_res_configmaps, NS, "page-005", got_cb,
	    &g, &e));
	assert_int_equal(k8s_client_run_until(c2, &g.done, 30000, &e), 0);
	assert_int_equal(g.outcome, K8S_E_UNAUTHORIZED);
	got_reset(&g);
	k8s_client_free(c2);
	mc_free(cfg.token);
	unlink(path);
}

static void
test_cancel(void **state)
{
	struct mc_err e = { 0 };
	struct got g = { 0 }, g2 = { 0 };
	struct k8s_request *r;

	/* a slow answer is cancelled: no callback, nothing left behind */
	assert_int_equal(emu_post(&em, "/_emulator/delay",
			     "{\"ms\":1500,"
			     "\"count\":1}"),
	    200);
	r = k8s_get(cl, &k8s_res_configmaps, NS, "page-006", got_cb, &g, &e);
	assert_non_null(r);
	assert_int_equal(k8s_client_run_once(cl, 50, &e), 0);
	k8s_request_cancel(cl, r);
	assert_non_null(k8s_get(cl, &k8s_res_configmaps, NS, "page-006", got_cb,
	    &g2, &e));
	RUN(g2);
	assert_int_equal(g2.outcome, K8S_OK);
	assert_false(g.done);
	assert_int_equal(k8s_client_pending(cl), 0);
	got_reset(&g2);
}

/*
 * The emulator rotates the admin token (rewriting DIR/token): a client
 * whose kubeconfig names the token and CA by relative file names gets
 * one 401, re-reads the file and goes on.
 */
static void
test_token_rotation(void **state)
{
	struct k8s_client_stats st;
	struct k8s_config *cfg;
	struct k8s_client *c2;
	struct mc_err e = { 0 };
	struct got g = { 0 };
	struct mc_buf tok;
	char path[128];
	FILE *f;

	snprintf(path, sizeof(path), "%s/rotating-kubeconfig", em.dir);
	assert_non_null(f = fopen(path, "w"));
	fprintf(f,
	    "clusters:\n- name: e\n  cluster:\n    server: %s\n"
	    "    certificate-authority: ca.crt\n"
	    "users:\n- name: u\n  user: {tokenFile: token}\n"
	    "contexts:\n- name: c\n  context: {cluster: e, user: u}\n"
	    "current-context: c\n",
	    em.cfg->server);
	fclose(f);
	assert_non_null(cfg = k8s_config_from_kubeconfig(path, NULL, &e));
	assert_non_null(cfg->ca_file);
	assert_non_null(c2 = k8s_client_new(cfg, NULL, &e));
	assert_non_null(k8s_get(c2, &k8s_res_configmaps, NS, "page-005", got_cb,
	    &g, &e));
	assert_int_equal(k8s_client_run_until(c2, &g.done, 30000, &e), 0);
	assert_int_equal(g.outcome, K8S_OK);
	got_reset(&g);
	assert_int_equal(emu_post(&em, "/_emulator/rotate-token",
			     "{\"which\":\"admin\"}"),
	    200);
	/* the admin helper and the shared client follow the new token */
	snprintf(path, sizeof(path), "%s/token", em.dir);
	mc_buf_init(&tok, 4096);
	assert_int_equal(mc_buf_read_file(&tok, path, &e), 0);
	while (tok.len > 0 &&
	    (tok.data[tok.len - 1] == '\n' || tok.data[tok.len - 1] == ' '))
		tok.data[--tok.len] = '\0';
	mc_free(em.cfg->token);
	em.cfg->token = mc_buf_steal(&tok, NULL);
	assert_non_null(k8s_get(c2, &k8s_res_configmaps, NS, "page-005", got_cb,
	    &g, &e));
	assert_int_equal(k8s_client_run_until(c2, &g.done, 30000, &e), 0);
	assert_int_equal(g.outcome, K8S_OK);
	assert_int_equal(g.attempts, 2);
	k8s_client_get_stats(c2, &st);
	assert_int_equal(st.unauthorized, 1);
	got_reset(&g);
	k8s_client_free(c2);
	k8s_config_free(cfg);
}

/*
 * tls-server-name: the emulator's certificate names 127.0.0.1 and
 * kubernetes.default.svc; a client that dials 127.0.0.1 but checks the
 * certificate against the second name gets through, one that checks it
 * against another name does not.
 */
static void
test_tls_server_name(void **state)
{
	struct k8s_config cfg;
	struct k8s_client *c2;
	struct mc_err e = { 0 };
	struct got g = { 0 };

	cfg = *em.cfg;
	cfg.tls_server_name = "kubernetes.default.svc";
	assert_non_null(c2 = k8s_client_new(&cfg, NULL, &e));
	assert_non_null(k8s_get(c2, &k8s_res_namespaces, NULL, NS, got_cb, &g,
	    &e));
	assert_int_equal(k8s_client_run_until(c2, &g.done, 30000, &e), 0);
	assert_int_equal(g.outcome, K8S_OK);
	got_reset(&g);
	k8s_client_free(c2);
	cfg.tls_server_name = "not-in-the-certificate.example";
	assert_non_null(c2 = k8s_client_new(&cfg, NULL, &e));
	assert_non_null(k8s_get(c2, &k8s_res_namespaces, NULL, NS, got_cb, &g,
	    &e));
	assert_int_equal(k8s_client_run_until(c2, &g.done, 60000, &e), 0);
	assert_int_equal(g.outcome, K8S_E_TRANSPORT);
	got_reset(&g);
	k8s_client_free(c2);
	cfg.tls_server_name = "bad:name";
	assert_null(k8s_client_new(&cfg, NULL, &e));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_crud, client_setup,
		    client_teardown),
		cmocka_unit_test_setup_teardown(test_paths, client_setup,
		    client_teardown),
		cmocka_unit_test_setup_teardown(test_pagination, client_setup,
		    client_teardown),
		cmocka_unit_test_setup_teardown(test_retry_after, client_setup,
		    client_teardown),
		cmocka_unit_test_setup_teardown(test_5xx, client_setup,
		    client_teardown),
		cmocka_unit_test_setup_teardown(test_reset, client_setup,
		    client_teardown),
		cmocka_unit_test_setup_teardown(test_token_reread, client_setup,
		    client_teardown),
		cmocka_unit_test_setup_teardown(test_cancel, client_setup,
		    client_teardown),
		cmocka_unit_test_setup_teardown(test_token_rotation,
		    client_setup, client_teardown),
		cmocka_unit_test_setup_teardown(test_tls_server_name,
		    client_setup, client_teardown),
	};

	if (!emu_available())
		return 77;
	return cmocka_run_group_tests_name("k8s_rest", tests, setup, teardown);
}
