/*
 * test_health.c: daemon/health.c over real HTTP on 127.0.0.1 with
 * libcurl: /healthz, /readyz (both states), /metrics (body equal to the
 * registry's rendering, content type), HEAD, 405 for other methods, 404
 * for other paths, the heartbeat going stale, the connection limit, a
 * port already in use, and listen-address parsing.
 */
#include <sys/socket.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <curl/curl.h>

#include "common/alloc.h"
#include "common/buf.h"
#include "common/log.h"
#include "daemon/health.h"
#include "daemon/metrics.h"

struct resp {
	long status;
	char body[65536];
	size_t len;
	char ctype[128];
	char allow[64];
	CURLcode rc;
};

static size_t
on_body(char *p, size_t sz, size_t n, void *arg)
{
	struct resp *r = arg;
	size_t k = sz * n;

	if (k > sizeof(r->body) - 1 - r->len)
		return 0;
	memcpy(r->body + r->len, p, k);
	r->len += k;
	r->body[r->len] = '\0';
	return k;
}

static size_t
on_header(char *p, size_t sz, size_t n, void *arg)
{
	struct resp *r = arg;
	size_t k = sz * n;

	if (k > 7 && strncasecmp(p, "Allow: ", 7) == 0)
		snprintf(r->allow, sizeof(r->allow), "%.*s", (int)(k - 9),
		    p + 7);
	return k;
}

static long http_timeout = 5;

static void
http(uint16_t port, const char *method, const char *path, struct resp *r)
{
	char url[128];
	char *ct = NULL;
	CURL *c;

	memset(r, 0, sizeof(*r));
	snprintf(url, sizeof(url), "http://127.0.0.1:%u%s", port, path);
	c = curl_easy_init();
	assert_non_null(c);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, r);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, http_timeout);
	curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
	if (strcmp(method, "HEAD") == 0)
		curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
	else if (strcmp(method, "POST") == 0)
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, "x=1");
	else if (strcmp(method, "GET") != 0)
		curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	r->rc = curl_easy_perform(c);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
	if (curl_easy_getinfo(c, CURLINFO_CONTENT_TYPE, &ct) == CURLE_OK &&
	    ct != NULL)
		snprintf(r->ctype, sizeof(r->ctype), "%s", ct);
	curl_easy_cleanup(c);
}

struct fixture {
	struct meshcad_metrics *m;
	struct daemon_health *h;
	uint16_t port;
};

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct mc_err e;

	if (f == NULL)
		return -1;
	/* cmocka runs no teardown after a failed setup: free here. */
	if ((f->m = meshcad_metrics_new("9.9.9", &e)) == NULL ||
	    (f->h = daemon_health_start("127.0.0.1:0", f->m->reg, 4, 0,
	    &e)) == NULL) {
		fprintf(stderr, "%s\n", e.msg);
		meshcad_metrics_free(f->m);
		free(f);
		return -1;
	}
	f->port = daemon_health_port(f->h);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;

	daemon_health_stop(f->h);
	meshcad_metrics_free(f->m);
	free(f);
	return 0;
}

static void
test_healthz_readyz(void **state)
{
	struct fixture *f = *state;
	struct resp r;

	assert_true(f->port != 0);
	http(f->port, "GET", "/healthz", &r);
	assert_int_equal(r.rc, CURLE_OK);
	assert_int_equal(r.status, 200);
	assert_string_equal(r.body, "ok\n");

	daemon_health_set_ready(f->h, false, "controller not running");
	http(f->port, "GET", "/readyz", &r);
	assert_int_equal(r.status, 503);
	assert_string_equal(r.body, "controller not running\n");
	assert_false(daemon_health_is_ready(f->h));

	daemon_health_set_ready(f->h, true, NULL);
	http(f->port, "GET", "/readyz", &r);
	assert_int_equal(r.status, 200);
	assert_string_equal(r.body, "ready\n");
	assert_true(daemon_health_is_ready(f->h));
}

static void
test_metrics(void **state)
{
	struct fixture *f = *state;
	struct mc_buf b;
	struct mc_err e;
	struct resp r;

	daemon_metric_inc(f->m->issued, NULL);
	daemon_metric_inc(f->m->api_errors, "429");
	daemon_metric_set(f->m->leader, NULL, 1);
	http(f->port, "GET", "/metrics", &r);
	assert_int_equal(r.status, 200);
	assert_string_equal(r.ctype, DAEMON_METRICS_CONTENT_TYPE);
	mc_buf_init(&b, 1 << 20);
	assert_int_equal(daemon_metrics_render(f->m->reg, &b, &e), 0);
	assert_string_equal(r.body, b.data);
	mc_buf_free(&b);
	assert_non_null(strstr(r.body, "meshca_certificates_issued_total 1\n"));
	assert_non_null(strstr(r.body,
	    "meshca_api_errors_total{code=\"429\"} "
	    "1\n"));
	assert_non_null(strstr(r.body, "meshca_leader 1\n"));
	assert_non_null(strstr(r.body,
	    "meshca_build_info{version=\"9.9.9\"} "
	    "1\n"));
}

static void
test_methods_and_paths(void **state)
{
	struct fixture *f = *state;
	struct resp r;

	http(f->port, "HEAD", "/metrics", &r);
	assert_int_equal(r.status, 200);
	assert_int_equal(r.len, 0);
	http(f->port, "HEAD", "/healthz", &r);
	assert_int_equal(r.status, 200);
	http(f->port, "POST", "/metrics", &r);
	assert_int_equal(r.status, 405);
	assert_string_equal(r.allow, "GET, HEAD");
	http(f->port, "DELETE", "/healthz", &r);
	assert_int_equal(r.status, 405);
	http(f->port, "GET", "/", &r);
	assert_int_equal(r.status, 404);
	http(f->port, "GET", "/metrics/", &r);
	assert_int_equal(r.status, 404);
	http(f->port, "GET", "/healthz?x=1", &r); /* query is not path */
	assert_int_equal(r.status, 200);
	http(f->port, "GET", "/../etc/passwd", &r);
	assert_int_equal(r.status, 404);
}

static void
test_stale_heartbeat(void **state)
{
	struct daemon_health *h;
	struct mc_err e;
	struct resp r;

	h = daemon_health_start("127.0.0.1:0", NULL, 0, 1, &e);
	assert_non_null(h);
	http(daemon_health_port(h), "GET", "/healthz", &r);
	assert_int_equal(r.status, 200);
	/* no /metrics without a registry */
	http(daemon_health_port(h), "GET", "/metrics", &r);
	assert_int_equal(r.status, 404);
	/* stale_after is 1 s; usleep() takes less than a second (POSIX). */
	nanosleep(&(struct timespec){ .tv_sec = 1, .tv_nsec = 300000000 },
	    NULL);
	http(daemon_health_port(h), "GET", "/healthz", &r);
	assert_int_equal(r.status, 503);
	assert_string_equal(r.body, "main loop stalled\n");
	daemon_health_heartbeat(h);
	http(daemon_health_port(h), "GET", "/healthz", &r);
	assert_int_equal(r.status, 200);
	daemon_health_stop(h);
}

/* max_conn idle connections fill the endpoint; one more is refused. */
static void
test_connection_limit(void **state)
{
	struct fixture *f = *state;
	struct sockaddr_in sin;
	struct resp r;
	int fds[4], i;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons(f->port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	for (i = 0; i < 4; i++) {
		fds[i] = socket(AF_INET, SOCK_STREAM, 0);
		assert_true(fds[i] >= 0);
		assert_int_equal(connect(fds[i], (struct sockaddr *)&sin,
				     sizeof(sin)),
		    0);
	}
	/*
	 * Once the server thread has accepted the four, a fifth waits in
	 * the backlog and times out. Under load a request may still slip
	 * in before them, so try a few times.
	 */
	http_timeout = 1;
	for (i = 0; i < 5; i++) {
		usleep(100 * 1000);
		http(f->port, "GET", "/healthz", &r);
		if (r.rc != CURLE_OK)
			break;
	}
	http_timeout = 5;
	assert_int_not_equal(r.rc, CURLE_OK);
	for (i = 0; i < 4; i++)
		close(fds[i]);
	for (i = 0; i < 50; i++) {
		usleep(50 * 1000);
		http(f->port, "GET", "/healthz", &r);
		if (r.rc == CURLE_OK)
			break;
	}
	assert_int_equal(r.status, 200);
}

static void
test_port_in_use(void **state)
{
	struct fixture *f = *state;
	struct daemon_health *h;
	struct mc_err e;
	char addr[32];

	snprintf(addr, sizeof(addr), "127.0.0.1:%u", f->port);
	h = daemon_health_start(addr, NULL, 0, 0, &e);
	assert_null(h);
	assert_non_null(strstr(e.msg, addr));
	assert_non_null(strstr(e.msg, "in use"));
	assert_null(daemon_health_start("localhost:0", NULL, 0, 0, &e));
}

static void
test_parse_listen(void **state)
{
	static const char *const good[] = {
		"127.0.0.1:0",
		"0.0.0.0:9402",
		":9090",
		"*:80",
		"[::1]:9090",
		"[::]:65535",
		"10.1.2.3:00080",
	};
	static const char *const bad[] = {
		"",
		"127.0.0.1",
		"127.0.0.1:",
		"127.0.0.1:65536",
		"127.0.0.1:-1",
		"127.0.0.1:+1",
		"localhost:80",
		"[::1]9090",
		"[::1:80",
		"::1:80",
		"[127.0.0.1]:80",
		"1.2.3.4:80x",
		"1.2.3.256:80",
		"[::1]:99999999999999999999",
		"[0123456789012345678901234567890123456789012345]:1",
	};
	struct sockaddr_storage ss;
	unsigned int len;
	struct mc_err e;
	size_t i;

	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		if (daemon_health_parse_listen(good[i], &ss, &len, &e) != 0)
			fail_msg("%s: %s", good[i], e.msg);
	assert_int_equal(daemon_health_parse_listen("[::1]:9090", &ss, &len,
			     &e),
	    0);
	assert_int_equal(ss.ss_family, AF_INET6);
	assert_int_equal(ntohs(((struct sockaddr_in6 *)&ss)->sin6_port), 9090);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (daemon_health_parse_listen(bad[i], &ss, &len, &e) != -1)
			fail_msg("\"%s\" accepted", bad[i]);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_healthz_readyz, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_metrics, setup, teardown),
		cmocka_unit_test_setup_teardown(test_methods_and_paths, setup,
		    teardown),
		cmocka_unit_test(test_stale_heartbeat),
		cmocka_unit_test_setup_teardown(test_connection_limit, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_port_in_use, setup,
		    teardown),
		cmocka_unit_test(test_parse_listen),
	};
	int rc;

	/* MHD's own warnings go through the log; keep them quiet here */
	mc_log_init("test_health", MC_LOG_TEXT, MC_LOG_FATAL, stderr);
	curl_global_init(CURL_GLOBAL_DEFAULT);
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	curl_global_cleanup();
	return rc;
}
