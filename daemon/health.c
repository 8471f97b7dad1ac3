/*
 * health.c: /healthz, /readyz and /metrics over HTTP with libmicrohttpd
 * in its internal polling thread. Requests come from anyone who can
 * reach the port (kubelet probes, Prometheus, an attacker in the pod
 * network), so nothing in a request is trusted: only the method and the
 * path are looked at, request bodies are never read, the number of
 * connections and their idle time are bounded, and the exposition has a
 * size ceiling. The listen socket is made here (numeric address only,
 * no name lookups) so that bind errors name the address and port 0 can
 * report the port the kernel chose.
 */
#include <sys/socket.h>
#include <sys/types.h>

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <microhttpd.h>

#include "common/alloc.h"
#include "common/buf.h"
#include "common/log.h"
#include "common/status.h"
#include "daemon/health.h"

struct daemon_health {
	struct MHD_Daemon *mhd;
	struct daemon_metrics *metrics; /* borrowed */
	uint16_t port;
	unsigned int stale_after;
	pthread_mutex_t mu;
	bool ready;
	char reason[DAEMON_HEALTH_REASON_MAX];
	struct timespec beat; /* CLOCK_MONOTONIC */
};

int
daemon_health_parse_listen(const char *s, struct sockaddr_storage *ss,
    unsigned int *sslen, struct mc_err *e)
{
	char host[INET6_ADDRSTRLEN + 1];
	const char *colon, *hs, *he, *ps;
	struct sockaddr_in *sin = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;
	unsigned long port;
	char *end;
	size_t hl;

	if (s[0] == '[') {
		hs = s + 1;
		if ((he = strchr(hs, ']')) == NULL || he[1] != ':') {
			mc_err_set(e, MC_ST_PARSE, 0,
			    "listen address \"%s\": "
			    "expected [IPv6]:PORT",
			    s);
			return -1;
		}
		ps = he + 2;
	} else {
		if ((colon = strrchr(s, ':')) == NULL) {
			mc_err_set(e, MC_ST_PARSE, 0,
			    "listen address \"%s\": "
			    "expected ADDR:PORT",
			    s);
			return -1;
		}
		hs = s;
		he = colon;
		ps = colon + 1;
	}
	hl = (size_t)(he - hs);
	if (hl >= sizeof(host)) {
		mc_err_set(e, MC_ST_PARSE, 0,
		    "listen address \"%s\": address "
		    "too long",
		    s);
		return -1;
	}
	memcpy(host, hs, hl);
	host[hl] = '\0';
	errno = 0;
	port = strtoul(ps, &end, 10);
	if (*ps < '0' || *ps > '9' || *end != '\0' || errno != 0 ||
	    port > 65535) {
		mc_err_set(e, MC_ST_PARSE, 0,
		    "listen address \"%s\": port "
		    "must be a number from 0 to 65535",
		    s);
		return -1;
	}
	memset(ss, 0, sizeof(*ss));
	if (s[0] != '[' && (hl == 0 || strcmp(host, "*") == 0)) {
		sin->sin_family = AF_INET;
		sin->sin_addr.s_addr = htonl(INADDR_ANY);
		sin->sin_port = htons((uint16_t)port);
		*sslen = sizeof(*sin);
	} else if (s[0] != '[' &&
	    inet_pton(AF_INET, host, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons((uint16_t)port);
		*sslen = sizeof(*sin);
	} else if (s[0] == '[' &&
	    inet_pton(AF_INET6, host, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((uint16_t)port);
		*sslen = sizeof(*sin6);
	} else {
		mc_err_set(e, MC_ST_PARSE, 0,
		    "listen address \"%s\": \"%s\" "
		    "is not a numeric IPv4 address or a bracketed IPv6 "
		    "address",
		    s, host);
		return -1;
	}
	return 0;
}

static enum MHD_Result
reply(struct MHD_Connection *c, unsigned int status, const char *ctype,
    char *body, size_t len, bool owned)
{
	struct MHD_Response *r;
	enum MHD_Result ret;

	if (owned)
		r = MHD_create_response_from_buffer_with_free_callback(len,
		    body, mc_free);
	else
		r = MHD_create_response_from_buffer(len, body,
		    MHD_RESPMEM_PERSISTENT);
	if (r == NULL) {
		if (owned)
			mc_free(body);
		return MHD_NO;
	}
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
	MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
		MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
	ret = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result
reply_text(struct MHD_Connection *c, unsigned int status, const char *text)
{
	return reply(c, status, "text/plain; charset=utf-8", (char *)text,
	    strlen(text), false);
}

static bool
is_alive(struct daemon_health *h)
{
	struct timespec now;
	bool alive;

	if (h->stale_after == 0)
		return true;
	clock_gettime(CLOCK_MONOTONIC, &now);
	pthread_mutex_lock(&h->mu);
	alive = (now.tv_sec - h->beat.tv_sec) * 1000 +
		(now.tv_nsec - h->beat.tv_nsec) / 1000000 <=
	    (long long)h->stale_after * 1000;
	pthread_mutex_unlock(&h->mu);
	return alive;
}

static enum MHD_Result
serve_readyz(struct daemon_health *h, struct MHD_Connection *c)
{
	struct mc_buf b;
	char *body;
	size_t len;
	bool ready;

	mc_buf_init(&b, DAEMON_HEALTH_REASON_MAX + 32);
	pthread_mutex_lock(&h->mu);
	ready = h->ready;
	if (mc_buf_printf(&b, NULL, "%s\n", ready ? "ready" : h->reason) == -1)
		ready = false;
	pthread_mutex_unlock(&h->mu);
	if (b.data == NULL) {
		mc_buf_free(&b);
		return MHD_NO;
	}
	body = mc_buf_steal(&b, &len);
	return reply(c, ready ? MHD_HTTP_OK : MHD_HTTP_SERVICE_UNAVAILABLE,
	    "text/plain; charset=utf-8", body, len, true);
}

static enum MHD_Result
serve_metrics(struct daemon_health *h, struct MHD_Connection *c)
{
	struct mc_err e;
	struct mc_buf b;
	char *body;
	size_t len;

	mc_buf_init(&b, DAEMON_HEALTH_METRICS_MAX);
	if (daemon_metrics_render(h->metrics, &b, &e) == -1) {
		mc_log_warnx("/metrics: %s", e.msg);
		mc_buf_free(&b);
		return reply_text(c, MHD_HTTP_INTERNAL_SERVER_ERROR,
		    "metrics unavailable\n");
	}
	body = mc_buf_steal(&b, &len);
	if (body == NULL)
		return MHD_NO;
	return reply(c, MHD_HTTP_OK, DAEMON_METRICS_CONTENT_TYPE, body, len,
	    true);
}

static enum MHD_Result
handle(void *cls, struct MHD_Connection *c, const char *url, const char *method,
    const char *version, const char *upload_data, size_t *upload_data_size,
    void **req_cls)
{
	struct daemon_health *h = cls;

	/*
	 * Answer on the first call, before any body is read: none of our
	 * resources takes one, and MHD closes the connection afterwards
	 * rather than read an unwanted upload.
	 */
	if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 &&
	    strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
		return reply_text(c, MHD_HTTP_METHOD_NOT_ALLOWED,
		    "method not allowed\n");
	if (strcmp(url, "/healthz") == 0)
		return is_alive(h) ? reply_text(c, MHD_HTTP_OK, "ok\n") :
				     reply_text(c, MHD_HTTP_SERVICE_UNAVAILABLE,
					 "main loop stalled\n");
	if (strcmp(url, "/readyz") == 0)
		return serve_readyz(h, c);
	if (strcmp(url, "/metrics") == 0 && h->metrics != NULL)
		return serve_metrics(h, c);
	return reply_text(c, MHD_HTTP_NOT_FOUND, "not found\n");
}

static void
mhd_log(void *cls, const char *fmt, va_list ap)
{
	static const struct mc_log_field f[] = { { "component", "http" } };
	va_list cp;

	va_copy(cp, ap);
	mc_log_vfields(MC_LOG_WARN, f, 1, fmt, cp);
	va_end(cp);
}

static int
listen_socket(const char *listen_addr, uint16_t *port, struct mc_err *e)
{
	struct sockaddr_storage ss, bound;
	unsigned int sslen;
	socklen_t blen = sizeof(bound);
	int fd = -1, one = 1, ret = -1;

	if (daemon_health_parse_listen(listen_addr, &ss, &sslen, e) == -1)
		goto out;
	if ((fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1 ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) == -1 ||
	    bind(fd, (struct sockaddr *)&ss, (socklen_t)sslen) == -1 ||
	    listen(fd, 64) == -1 ||
	    getsockname(fd, (struct sockaddr *)&bound, &blen) == -1) {
		mc_err_set(e, MC_ST_IO, 0, "metrics-listen %s: %s", listen_addr,
		    strerror(errno));
		goto out;
	}
	*port = ntohs(bound.ss_family == AF_INET6 ?
		((struct sockaddr_in6 *)&bound)->sin6_port :
		((struct sockaddr_in *)&bound)->sin_port);
	ret = fd;
	fd = -1;
out:
	if (fd != -1)
		close(fd);
	return ret;
}

struct daemon_health *
daemon_health_start(const char *listen_addr, struct daemon_metrics *metrics,
    unsigned int max_conn, unsigned int stale_after, struct mc_err *e)
{
	struct daemon_health *h = NULL, *ret = NULL;
	int fd = -1;
	bool mu = false;

	if ((h = mc_calloc(1, sizeof(*h))) == NULL) {
		mc_err_set(e, MC_ST_NOMEM, 0, "health endpoint: out of memory");
		goto out;
	}
	if (pthread_mutex_init(&h->mu, NULL) != 0) {
		mc_err_set(e, MC_ST_INTERNAL, 0, "health endpoint: mutex");
		goto out;
	}
	mu = true;
	h->metrics = metrics;
	h->stale_after = stale_after;
	snprintf(h->reason, sizeof(h->reason), "not ready");
	clock_gettime(CLOCK_MONOTONIC, &h->beat);
	if ((fd = listen_socket(listen_addr, &h->port, e)) == -1)
		goto out;
	if (max_conn == 0)
		max_conn = DAEMON_HEALTH_MAX_CONNECTIONS;
	h->mhd = MHD_start_daemon(MHD_USE_AUTO_INTERNAL_THREAD |
		MHD_USE_ERROR_LOG,
	    0, NULL, NULL, handle, h, MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
	    MHD_OPTION_LISTEN_SOCKET, fd, MHD_OPTION_CONNECTION_LIMIT, max_conn,
	    MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)DAEMON_HEALTH_TIMEOUT,
	    MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)32768, MHD_OPTION_END);
	if (h->mhd == NULL) {
		mc_err_set(e, MC_ST_INTERNAL, 0,
		    "metrics-listen %s: "
		    "libmicrohttpd did not start",
		    listen_addr);
		goto out;
	}
	fd = -1; /* MHD_stop_daemon closes it */
	ret = h;
	h = NULL;
out:
	if (fd != -1)
		close(fd);
	if (h != NULL) {
		if (mu)
			pthread_mutex_destroy(&h->mu);
		mc_free(h);
	}
	return ret;
}

void
daemon_health_stop(struct daemon_health *h)
{
	if (h == NULL)
		return;
	MHD_stop_daemon(h->mhd);
	pthread_mutex_destroy(&h->mu);
	mc_free(h);
}

uint16_t
daemon_health_port(const struct daemon_health *h)
{
	return h->port;
}

void
daemon_health_set_ready(struct daemon_health *h, bool ready, const char *reason)
{
	pthread_mutex_lock(&h->mu);
	h->ready = ready;
	snprintf(h->reason, sizeof(h->reason), "%s",
	    reason != NULL ? reason : "not ready");
	pthread_mutex_unlock(&h->mu);
}

bool
daemon_health_is_ready(struct daemon_health *h)
{
	bool r;

	pthread_mutex_lock(&h->mu);
	r = h->ready;
	pthread_mutex_unlock(&h->mu);
	return r;
}

void
daemon_health_heartbeat(struct daemon_health *h)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	pthread_mutex_lock(&h->mu);
	h->beat = now;
	pthread_mutex_unlock(&h->mu);
}
