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
 *
 * Connections are accepted here too, on a thread of our own, and handed
 * to libmicrohttpd with MHD_add_connection(). libmicrohttpd 0.9.75 treats
 * EMFILE on its first connection by accepting again at once ("busy
 * waiting for system resources"): a process out of file descriptors spun
 * a core and wrote millions of log lines. Our loop backs off instead
 * (doubling up to DAEMON_HEALTH_ACCEPT_BACKOFF_MAX_MS), says so once, and
 * says when it accepts again; the waiting client stays in the listen
 * backlog.
 */
#include <sys/socket.h>
#include <sys/types.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
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

/* libmicrohttpd messages per second; more are counted, then summed up. */
#define HEALTH_LOG_PER_S 5

struct daemon_health {
	struct MHD_Daemon *mhd;
	struct daemon_metrics *metrics; /* borrowed */
	char listen[64];		/* as configured, for messages */
	uint16_t port;
	unsigned int stale_after;
	int lfd;     /* listen socket, ours (libmicrohttpd has none) */
	int wake[2]; /* self-pipe to the acceptor: 'q' stop, 'c' closed */
	pthread_t acceptor;
	bool acceptor_running;
	unsigned int max_conn;
	unsigned int nconn;   /* connections libmicrohttpd serves (mu) */
	unsigned int pending; /* added, not yet started (mu) */
	pthread_mutex_t mu;
	bool ready;
	char reason[DAEMON_HEALTH_REASON_MAX];
	struct timespec beat; /* CLOCK_MONOTONIC */
	time_t log_sec;	      /* the second HEALTH_LOG_PER_S counts in */
	unsigned int log_n, log_dropped;
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

/*
 * libmicrohttpd's messages end in a newline (the log would show it
 * escaped) and can come once per connection in a storm: at most
 * HEALTH_LOG_PER_S a second get through, the rest are counted and the
 * count is logged with the next one that does.
 */
static void mhd_log(void *, const char *, va_list)
    __attribute__((format(printf, 2, 0)));

static void
mhd_log(void *cls, const char *fmt, va_list ap)
{
	static const struct mc_log_field f[] = { { "component", "http" } };
	struct daemon_health *h = cls;
	char msg[512];
	unsigned int dropped = 0;
	time_t now = time(NULL);
	size_t len;
	va_list cp;
	bool drop = false;

	pthread_mutex_lock(&h->mu);
	if (now != h->log_sec) {
		h->log_sec = now;
		h->log_n = 0;
	}
	if (++h->log_n > HEALTH_LOG_PER_S) {
		h->log_dropped++;
		drop = true;
	} else {
		dropped = h->log_dropped;
		h->log_dropped = 0;
	}
	pthread_mutex_unlock(&h->mu);
	if (drop)
		return;
	va_copy(cp, ap);
	vsnprintf(msg, sizeof(msg), fmt, cp);
	va_end(cp);
	len = strlen(msg);
	while (len > 0 && (msg[len - 1] == '\n' || msg[len - 1] == '\r'))
		msg[--len] = '\0';
	if (dropped > 0)
		mc_log_fields(MC_LOG_WARN, f, 1,
		    "%s (and %u more messages like it not logged)", msg,
		    dropped);
	else
		mc_log_fields(MC_LOG_WARN, f, 1, "%s", msg);
}

/*
 * Counts the connections libmicrohttpd serves, so that the acceptor
 * leaves clients in the backlog at the limit rather than accept them
 * only to have them closed; a closed one wakes the acceptor.
 */
static void
on_connection(void *cls, struct MHD_Connection *c, void **socket_context,
    enum MHD_ConnectionNotificationCode toe)
{
	struct daemon_health *h = cls;
	char b = 'c';

	(void)c;
	(void)socket_context;
	pthread_mutex_lock(&h->mu);
	if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
		h->nconn++;
		if (h->pending > 0)
			h->pending--;
	} else if (h->nconn > 0)
		h->nconn--;
	pthread_mutex_unlock(&h->mu);
	if (toe == MHD_CONNECTION_NOTIFY_CLOSED &&
	    write(h->wake[1], &b, 1) != 1) {
		/* the pipe is full: the acceptor has wake-ups enough */
	}
}

static bool
is_at_limit(struct daemon_health *h)
{
	bool at;

	pthread_mutex_lock(&h->mu);
	at = h->nconn + h->pending >= h->max_conn;
	pthread_mutex_unlock(&h->mu);
	return at;
}

/* Reads the wake-ups; true when one of them says stop. */
static bool
is_stopping(struct daemon_health *h)
{
	char b[16];
	ssize_t n, i;
	bool stop = false;

	while ((n = read(h->wake[0], b, sizeof(b))) > 0)
		for (i = 0; i < n; i++)
			if (b[i] == 'q')
				stop = true;
	return stop;
}

static bool
is_out_of_resources(int err)
{
	return err == EMFILE || err == ENFILE || err == ENOBUFS ||
	    err == ENOMEM;
}

/*
 * The accept loop. A failed accept(2) for want of descriptors or memory
 * leaves the client in the backlog; we wait (the listen socket is left
 * out of the poll set meanwhile, as it stays readable) and try again,
 * waking early only to stop. Other errors (a client gone before we took
 * it) are retried at once.
 */
static void *
acceptor(void *arg)
{
	static const struct mc_log_field f[] = { { "component", "http" } };
	struct daemon_health *h = arg;
	struct sockaddr_storage ss;
	struct pollfd pfd[2];
	struct timespec t0 = { 0, 0 }, now, warned = { 0, 0 };
	socklen_t sslen;
	unsigned long refused = 0;
	int fd, backoff = 0, err, n;
	bool full, told = false, warned_ever = false;

	for (;;) {
		/*
		 * At the connection limit, wait for a close; a start that
		 * never comes (libmicrohttpd could not take a connection
		 * it was given) is forgotten after a second's wait.
		 */
		full = is_at_limit(h);
		pfd[0].fd = backoff > 0 || full ? -1 : h->lfd;
		pfd[0].events = POLLIN;
		pfd[1].fd = h->wake[0];
		pfd[1].events = POLLIN;
		pfd[0].revents = pfd[1].revents = 0;
		n = poll(pfd, 2, backoff > 0 ? backoff : full ? 1000 : -1);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			mc_log_warn("metrics-listen %s: poll", h->listen);
			break;
		}
		if (pfd[1].revents != 0 && is_stopping(h))
			break;
		if (full) {
			if (n == 0) {
				pthread_mutex_lock(&h->mu);
				h->pending = 0;
				pthread_mutex_unlock(&h->mu);
			}
			continue;
		}
		if (backoff == 0 && (pfd[0].revents & POLLIN) == 0)
			continue;
		sslen = sizeof(ss);
		/* meshcad runs no other program: FD_CLOEXEC is hygiene
		 * only, and accept4() is not POSIX. libmicrohttpd wants
		 * the socket non-blocking (it sets that too). */
		if ((fd = accept(h->lfd, (struct sockaddr *)&ss, &sslen)) !=
		    -1) {
			(void)fcntl(fd, F_SETFD, FD_CLOEXEC);
			(void)fcntl(fd, F_SETFL, O_NONBLOCK);
		}
		err = fd == -1 ? errno : 0;
		if (fd == -1 && is_out_of_resources(err)) {
			/*
			 * Say so once per minute at most: as a storm ends,
			 * descriptors come back one by one and the next
			 * client takes each, so it comes and goes.
			 */
			clock_gettime(CLOCK_MONOTONIC, &now);
			if (refused++ == 0 &&
			    (!warned_ever ||
				now.tv_sec - warned.tv_sec >= 60)) {
				warned = t0 = now;
				warned_ever = told = true;
				mc_log_fields(MC_LOG_WARN, f, 1,
				    "metrics-listen %s: cannot accept "
				    "connections: %s; /healthz, /readyz and "
				    "/metrics wait until it clears (retrying "
				    "every %d ms at most)",
				    h->listen, strerror(err),
				    DAEMON_HEALTH_ACCEPT_BACKOFF_MAX_MS);
			}
			backoff = backoff == 0 ?
			    DAEMON_HEALTH_ACCEPT_BACKOFF_MIN_MS :
			    backoff * 2;
			if (backoff > DAEMON_HEALTH_ACCEPT_BACKOFF_MAX_MS)
				backoff = DAEMON_HEALTH_ACCEPT_BACKOFF_MAX_MS;
			continue;
		}
		/* Linux takes the descriptor before it looks for a client:
		 * EAGAIN too says descriptors are back. */
		if (refused > 0 && told) {
			clock_gettime(CLOCK_MONOTONIC, &now);
			mc_log_fields(MC_LOG_INFO, f, 1,
			    "metrics-listen %s: accepting connections again "
			    "(after %lu failed attempts over %lld s)",
			    h->listen, refused,
			    (long long)(now.tv_sec - t0.tv_sec));
			told = false;
		}
		refused = 0;
		backoff = 0;
		if (fd == -1)
			continue; /* EAGAIN, ECONNABORTED...: none waits */
		pthread_mutex_lock(&h->mu);
		h->pending++;
		pthread_mutex_unlock(&h->mu);
		/* Closes fd itself when it cannot take it (memory); it
		 * logs why through mhd_log. */
		if (MHD_add_connection(h->mhd, fd, (struct sockaddr *)&ss,
			sslen) != MHD_YES) {
			pthread_mutex_lock(&h->mu);
			if (h->pending > 0)
				h->pending--;
			pthread_mutex_unlock(&h->mu);
		}
	}
	return NULL;
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
	    fcntl(fd, F_SETFL, O_NONBLOCK) == -1 ||
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

/* Stops the accept thread and closes what start made; NULL is fine. */
static void
health_free(struct daemon_health *h, bool mu)
{
	char c = 'q';

	if (h == NULL)
		return;
	if (h->acceptor_running) {
		if (write(h->wake[1], &c, 1) != 1)
			mc_log_warn("metrics-listen %s: stopping the accept "
				    "thread",
			    h->listen);
		pthread_join(h->acceptor, NULL);
	}
	/* After the acceptor: it may be in MHD_add_connection(). */
	if (h->mhd != NULL)
		MHD_stop_daemon(h->mhd);
	if (h->lfd != -1)
		close(h->lfd);
	if (h->wake[0] != -1)
		close(h->wake[0]);
	if (h->wake[1] != -1)
		close(h->wake[1]);
	if (mu)
		pthread_mutex_destroy(&h->mu);
	mc_free(h);
}

struct daemon_health *
daemon_health_start(const char *listen_addr, struct daemon_metrics *metrics,
    unsigned int max_conn, unsigned int stale_after, struct mc_err *e)
{
	struct daemon_health *h = NULL, *ret = NULL;
	bool mu = false;

	if ((h = mc_calloc(1, sizeof(*h))) == NULL) {
		mc_err_set(e, MC_ST_NOMEM, 0, "health endpoint: out of memory");
		goto out;
	}
	h->lfd = h->wake[0] = h->wake[1] = -1;
	if (pthread_mutex_init(&h->mu, NULL) != 0) {
		mc_err_set(e, MC_ST_INTERNAL, 0, "health endpoint: mutex");
		goto out;
	}
	mu = true;
	h->metrics = metrics;
	h->stale_after = stale_after;
	snprintf(h->listen, sizeof(h->listen), "%s", listen_addr);
	snprintf(h->reason, sizeof(h->reason), "not ready");
	clock_gettime(CLOCK_MONOTONIC, &h->beat);
	if ((h->lfd = listen_socket(listen_addr, &h->port, e)) == -1)
		goto out;
	if (pipe(h->wake) == -1 ||
	    fcntl(h->wake[0], F_SETFD, FD_CLOEXEC) == -1 ||
	    fcntl(h->wake[1], F_SETFD, FD_CLOEXEC) == -1 ||
	    fcntl(h->wake[0], F_SETFL, O_NONBLOCK) == -1 ||
	    fcntl(h->wake[1], F_SETFL, O_NONBLOCK) == -1) {
		mc_err_set(e, MC_ST_IO, 0, "metrics-listen %s: pipe: %s",
		    listen_addr, strerror(errno));
		goto out;
	}
	if (max_conn == 0)
		max_conn = DAEMON_HEALTH_MAX_CONNECTIONS;
	h->max_conn = max_conn;
	/*
	 * No listen socket for libmicrohttpd: acceptor() feeds it, and
	 * MHD_USE_ITC wakes its thread for each connection added. The
	 * acceptor keeps to max_conn; libmicrohttpd counts a connection
	 * until its cleanup, after the close we are told of, so its own
	 * limit (a backstop) leaves room for max_conn closing ones.
	 */
	h->mhd = MHD_start_daemon(MHD_USE_AUTO_INTERNAL_THREAD |
		MHD_USE_NO_LISTEN_SOCKET | MHD_USE_ITC | MHD_USE_ERROR_LOG,
	    0, NULL, NULL, handle, h, MHD_OPTION_EXTERNAL_LOGGER, mhd_log, h,
	    MHD_OPTION_NOTIFY_CONNECTION, on_connection, h,
	    MHD_OPTION_CONNECTION_LIMIT, 2 * max_conn,
	    MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)DAEMON_HEALTH_TIMEOUT,
	    MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)32768, MHD_OPTION_END);
	if (h->mhd == NULL) {
		mc_err_set(e, MC_ST_INTERNAL, 0,
		    "metrics-listen %s: "
		    "libmicrohttpd did not start",
		    listen_addr);
		goto out;
	}
	if ((errno = pthread_create(&h->acceptor, NULL, acceptor, h)) != 0) {
		mc_err_set(e, MC_ST_INTERNAL, 0,
		    "metrics-listen %s: accept thread: %s", listen_addr,
		    strerror(errno));
		goto out;
	}
	h->acceptor_running = true;
	ret = h;
	h = NULL;
out:
	health_free(h, mu);
	return ret;
}

void
daemon_health_stop(struct daemon_health *h)
{
	health_free(h, true);
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
