/*
 * bench_k8s.c: the Kubernetes client against the API server emulator
 * (tests/emulator), started here on 127.0.0.1.
 *
 *  - k8s.create_vs_libcurl: Secrets created per second through k8s/
 *    (k8s_create() on one client, max_in_flight = C) divided by the rate
 *    of a bare libcurl multi loop with the same concurrency C, the same
 *    bodies and TLS settings, against the same emulator. The two run in
 *    interleaved rounds (order alternating), wall-clock timed, since the
 *    server is the other process; the figure is the median of the
 *    per-round ratios. 10,000 Secrets go through k8s/ (and as many
 *    through the baseline). Target >= 0.80.
 *  - k8s.cache_mib: heap held (mallinfo2) by an informer whose cache
 *    holds 10,000 ServiceAccounts, measured after it synced. Target < 20.
 *
 * Also prints the two rates (creates/s) and the cache's own count of its
 * bytes. --quick runs a few hundred objects to check that it works.
 */
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "bench/bench.h"
#include "common/alloc.h"
#include "common/buf.h"
#include "k8s/backoff.h"
#include "k8s/informer.h"
#include "k8s/rest.h"
#include "tests/k8s/emu.h"

#define CONC 8
#define NS "bench"
#define SA_NS "bench-sa"

static struct emu em;

/* A Secret of about the size meshca writes (three PEM blobs, base64). */
static char *payload;

static void
make_payload(void)
{
	struct mc_buf b;
	int i;

	mc_buf_init(&b, 8192);
	for (i = 0; i < 16; i++)
		mc_buf_puts(&b,
		    "TUlJQnN6Q0NBVm1nQXdJQkFnSVVYeWVVd0RRWUpLb1pJaHZj"
		    "TkFRRUxCUUF3RXpFUk1BOEdBMVVFQXd3SWNtOXZkQzFq",
		    NULL);
	payload = mc_buf_steal(&b, NULL);
}

static char *
secret_body(const char *prefix, int i)
{
	struct mc_buf b;

	mc_buf_init(&b, 16384);
	mc_buf_printf(&b, NULL,
	    "{\"metadata\":{\"name\":\"%s-%06d\",\"labels\":"
	    "{\"app.kubernetes.io/managed-by\":\"meshca\"}},"
	    "\"type\":\"istio.io/key-and-cert\",\"data\":{\"cert-chain.pem\":"
	    "\"%s\",\"key.pem\":\"%s\",\"root-cert.pem\":\"%s\"}}",
	    prefix, i, payload, payload, payload);
	return mc_buf_steal(&b, NULL);
}

/* --- the baseline: a bare libcurl multi loop ------------------------ */

struct slot {
	CURL *h;
	char *body;
};

struct bare {
	CURLM *m;
	struct curl_slist *hdrs;
	struct slot s[CONC];
	char url[256];
};

static size_t
discard(char *p, size_t size, size_t n, void *arg)
{
	return size * n;
}

static void
bare_init(struct bare *b)
{
	struct mc_buf auth;
	int i;

	memset(b, 0, sizeof(*b));
	mc_buf_init(&auth, 4096);
	mc_buf_printf(&auth, NULL, "Authorization: Bearer %s", em.cfg->token);
	b->hdrs = curl_slist_append(b->hdrs, auth.data);
	b->hdrs = curl_slist_append(b->hdrs, "Accept: application/json");
	b->hdrs = curl_slist_append(b->hdrs, "Content-Type: application/json");
	b->hdrs = curl_slist_append(b->hdrs, "Expect:");
	mc_buf_free(&auth);
	b->m = curl_multi_init();
	curl_multi_setopt(b->m, CURLMOPT_MAXCONNECTS, (long)CONC);
	for (i = 0; i < CONC; i++)
		b->s[i].h = curl_easy_init();
}

static void
bare_start(struct bare *b, struct slot *s, const char *path, char *body)
{
	struct curl_blob blob;
	CURL *h = s->h;

	mc_free(s->body);
	s->body = body;
	snprintf(b->url, sizeof(b->url), "%s%s", em.cfg->server, path);
	curl_easy_setopt(h, CURLOPT_URL, b->url);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, b->hdrs);
	curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, discard);
	curl_easy_setopt(h, CURLOPT_PRIVATE, s);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_NOPROXY, "*");
	blob.data = em.cfg->ca_data;
	blob.len = em.cfg->ca_data_len;
	blob.flags = CURL_BLOB_COPY;
	curl_easy_setopt(h, CURLOPT_CAINFO_BLOB, &blob);
	curl_multi_add_handle(b->m, h);
}

/* Creates n objects named prefix-i (i from first) with C in flight. */
static double
bare_round(struct bare *b, const char *path, const char *prefix, int first,
    int n, bool sa)
{
	struct mc_buf sb;
	uint64_t t0 = k8s_now_ms();
	int next = 0, done = 0, running, left, i;
	struct slot *s;
	CURLMsg *msg;
	long code;

	for (i = 0; i < CONC && next < n; i++, next++) {
		if (sa) {
			mc_buf_init(&sb, 1024);
			mc_buf_printf(&sb, NULL,
			    "{\"metadata\":{\"name\":"
			    "\"%s-%06d\",\"labels\":{\"app\":\"web\"},"
			    "\"annotations\":{\"owner\":\"team-a\"}}}",
			    prefix, first + next);
			bare_start(b, &b->s[i], path, mc_buf_steal(&sb, NULL));
		} else
			bare_start(b, &b->s[i], path,
			    secret_body(prefix, first + next));
	}
	while (done < n) {
		curl_multi_poll(b->m, NULL, 0, 100, NULL);
		curl_multi_perform(b->m, &running);
		while ((msg = curl_multi_info_read(b->m, &left)) != NULL) {
			if (msg->msg != CURLMSG_DONE)
				continue;
			curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE,
			    (char **)&s);
			code = 0;
			curl_easy_getinfo(msg->easy_handle,
			    CURLINFO_RESPONSE_CODE, &code);
			if (msg->data.result != CURLE_OK || code != 201)
				bench_die("baseline create: curl %d, HTTP %ld",
				    msg->data.result, code);
			curl_multi_remove_handle(b->m, s->h);
			done++;
			if (next < n) {
				if (sa) {
					mc_buf_init(&sb, 1024);
					mc_buf_printf(&sb, NULL,
					    "{\"metadata\":{\"name\":"
					    "\"%s-%06d\",\"labels\":{\"app\":"
					    "\"web\"},\"annotations\":{"
					    "\"owner\":\"team-a\"}}}",
					    prefix, first + next);
					bare_start(b, s, path,
					    mc_buf_steal(&sb, NULL));
				} else
					bare_start(b, s, path,
					    secret_body(prefix, first + next));
				next++;
			}
		}
	}
	return (double)n * 1000.0 / (double)(k8s_now_ms() - t0 + 1);
}

static void
bare_free(struct bare *b)
{
	int i;

	for (i = 0; i < CONC; i++) {
		curl_easy_cleanup(b->s[i].h);
		mc_free(b->s[i].body);
	}
	curl_multi_cleanup(b->m);
	curl_slist_free_all(b->hdrs);
}

/* --- through k8s/ ----------------------------------------------------- */

struct count {
	int done, failed;
};

static void
count_cb(const struct k8s_response *r, void *arg)
{
	struct count *c = arg;

	c->done++;
	if (r->outcome != K8S_OK || r->http_code != 201) {
		c->failed++;
		fprintf(stderr, "# k8s create: %s\n", r->err.msg);
	}
}

static double
k8s_round(struct k8s_client *c, const char *prefix, int first, int n)
{
	struct mc_err e = { 0 };
	struct count cnt = { 0 };
	uint64_t t0 = k8s_now_ms();
	char name[64];
	json_t *obj;
	int i = 0;

	/* the caller's way: build the object and hand it over; the client
	 * keeps CONC on the wire and a few more queued behind them */
	while (cnt.done < n) {
		for (; i < n && i - cnt.done < 2 * CONC; i++) {
			snprintf(name, sizeof(name), "%s-%06d", prefix,
			    first + i);
			obj = json_pack("{s:{s:s, s:{s:s}}, s:s, s:{s:s, s:s, "
					"s:s}}",
			    "metadata", "name", name, "labels",
			    "app.kubernetes.io/managed-by", "meshca", "type",
			    "istio.io/key-and-cert", "data", "cert-chain.pem",
			    payload, "key.pem", payload, "root-cert.pem",
			    payload);
			if (obj == NULL ||
			    k8s_create(c, &k8s_res_secrets, NS, obj, count_cb,
				&cnt, &e) == NULL)
				bench_die("k8s_create: %s", e.msg);
			json_decref(obj);
		}
		if (k8s_client_run_once(c, 100, &e) == -1)
			bench_die("run_once: %s", e.msg);
	}
	if (cnt.failed > 0)
		bench_die("%d creates through k8s/ failed", cnt.failed);
	return (double)n * 1000.0 / (double)(k8s_now_ms() - t0 + 1);
}

static size_t
heap_bytes(void)
{
	struct mallinfo2 mi = mallinfo2();

	return mi.uordblks + mi.hblkhd;
}

static void
synced_cb(struct k8s_informer *inf, void *arg)
{
	*(bool *)arg = true;
}

int
main(int argc, char *argv[])
{
	static const struct bench_opts defaults = { false, 21, 0 };
	double ratio[BENCH_ROUNDS_MAX], rk[BENCH_ROUNDS_MAX],
	    rc[BENCH_ROUNDS_MAX];
	struct k8s_informer_opts io = { 0 };
	struct k8s_client_opts co = { 0 };
	struct k8s_informer *inf;
	struct k8s_client *c;
	struct bench_opts o;
	struct mc_err e = { 0 };
	struct bare b;
	size_t h0, h1;
	int per, nsa, i, r;
	bool synced = false;

	bench_parse_args(argc, argv, &defaults, &o);
	if (!emu_available())
		bench_die("%s is needed to run the emulator", EMU_PYTHON);
	if (emu_start(&em, NULL) == -1)
		bench_die("the emulator did not start");
	emu_namespace(&em, NS);
	emu_namespace(&em, SA_NS);
	make_payload();
	/* 10,000 Secrets through k8s/ in all, split over the rounds */
	per = o.quick ? 100 : (10000 + o.rounds - 1) / o.rounds;
	nsa = o.quick ? 300 : 10000;
	co.max_in_flight = CONC;
	if ((c = k8s_client_new(em.cfg, &co, &e)) == NULL)
		bench_die("k8s_client_new: %s", e.msg);
	bare_init(&b);
	/* warm both up: connections and TLS sessions exist before timing */
	k8s_round(c, "warm-k8s", 0, CONC * 4);
	bare_round(&b, "/api/v1/namespaces/" NS "/secrets", "warm-curl", 0,
	    CONC * 4, false);
	for (r = 0; r < o.rounds; r++) {
		if (r % 2 == 0) {
			rk[r] = k8s_round(c, "k8s", r * per, per);
			rc[r] =
			    bare_round(&b, "/api/v1/namespaces/" NS "/secrets",
				"curl", r * per, per, false);
		} else {
			rc[r] =
			    bare_round(&b, "/api/v1/namespaces/" NS "/secrets",
				"curl", r * per, per, false);
			rk[r] = k8s_round(c, "k8s", r * per, per);
		}
		ratio[r] = rk[r] / rc[r];
	}
	{
		struct k8s_client_stats st;

		k8s_client_get_stats(c, &st);
		fprintf(stderr,
		    "# k8s client: %llu requests, %llu attempts, "
		    "%llu connections\n",
		    (unsigned long long)st.requests,
		    (unsigned long long)st.attempts,
		    (unsigned long long)st.connects);
	}
	bench_report("k8s.create_vs_libcurl", ratio, (size_t)o.rounds, "ratio");
	bench_report("k8s.create_rate_k8s", rk, (size_t)o.rounds, "creates/s");
	bench_report("k8s.create_rate_libcurl", rc, (size_t)o.rounds,
	    "creates/s");
	k8s_client_free(c);

	/* the informer cache: 10,000 ServiceAccounts */
	bare_round(&b, "/api/v1/namespaces/" SA_NS "/serviceaccounts", "sa", 0,
	    nsa, true);
	bare_free(&b);
	if ((c = k8s_client_new(em.cfg, &co, &e)) == NULL)
		bench_die("k8s_client_new: %s", e.msg);
	h0 = heap_bytes();
	io.res = &k8s_res_serviceaccounts;
	io.namespace = SA_NS;
	io.on_synced = synced_cb;
	io.arg = &synced;
	if ((inf = k8s_informer_start(c, &io, &e)) == NULL)
		bench_die("informer: %s", e.msg);
	for (i = 0; i < 600 && !synced; i++)
		k8s_client_run_once(c, 100, &e);
	if (!synced || k8s_informer_count(inf) < (size_t)nsa)
		bench_die("informer did not sync (%zu objects)",
		    k8s_informer_count(inf));
	/* let the watch settle; the list's buffers are gone by now */
	for (i = 0; i < 5; i++)
		k8s_client_run_once(c, 50, &e);
	malloc_trim(0);
	h1 = heap_bytes();
	bench_print("k8s.cache_mib",
	    (double)(h1 > h0 ? h1 - h0 : 0) / (1024.0 * 1024.0), "mib");
	bench_print("k8s.cache_self_mib",
	    (double)k8s_informer_cache_bytes(inf) / (1024.0 * 1024.0), "mib");
	fprintf(stderr, "# k8s.cache: %zu objects\n", k8s_informer_count(inf));
	k8s_informer_free(inf);
	k8s_client_free(c);
	emu_stop(&em);
	mc_free(payload);
	return 0;
}
