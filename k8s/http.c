/*
 * http.c: the client's transport over libcurl's multi interface. One
 * thread drives every transfer: plain requests (buffered, size-bounded
 * bodies, parsed as JSON), streams (watch bodies handed on as they
 * arrive) and timers. libcurl reuses connections and multiplexes over
 * HTTP/2 when the server offers it through ALPN (kubernetes-api.md §1).
 *
 * Retries follow client-go (kubernetes-api.md §4): 429 and 5xx wait for
 * Retry-After when the server sends one, else back off exponentially with
 * full jitter; connection failures back off likewise; a 401 drops the
 * cached token and retries once with a freshly read one (§7). Nothing the
 * server sends is trusted: bodies are bounded, error bodies need not be
 * JSON, Retry-After is capped.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

/* CURLOPT_CAINFO_BLOB and CURLOPT_SSLKEY_BLOB: CA and key from memory */
#if defined(LIBCURL_VERSION_NUM) && LIBCURL_VERSION_NUM < 0x074d00
#error "k8s/ needs libcurl 7.77 or later (CURLOPT_CAINFO_BLOB)"
#endif

#include "common/alloc.h"
#include "common/buf.h"
#include "common/status.h"
#include "k8s/backoff.h"
#include "k8s/http.h"

#define DEFAULT_MAX_RESPONSE (64u << 20)
#define ERROR_BODY_MAX (1u << 20)
#define STATUS_TEXT_MAX 256

enum rq_state {
	RQ_QUEUED,
	RQ_ACTIVE,
	RQ_WAITING
};

struct rlist {
	struct k8s_request *head, *tail;
	size_t n;
};

struct k8s_request {
	struct k8s_client *c;
	struct k8s_request_opts o;
	char *url;
	char *method;
	char *ctype;
	char *body;
	CURL *easy;
	struct curl_slist *hdrs;
	struct mc_buf resp;
	char errbuf[CURL_ERROR_SIZE];
	int64_t retry_after_ms; /* -1 when the answer had none */
	bool json_ctype;
	bool streamed; /* on_data has been given bytes */
	bool cancelled;
	bool aborted; /* on_data returned -1 */
	bool too_big;
	bool stalled;
	bool reauthed;
	bool finishing; /* on_done is running: cancel is a no-op */
	uint64_t last_data_ms;
	unsigned attempts;
	int max_retries;
	struct k8s_backoff backoff;
	struct k8s_timer retry;
	enum rq_state state;
	struct k8s_request *prev, *next;
};

struct k8s_client {
	struct k8s_config *cfg;
	struct k8s_client_opts o;
	CURLM *multi;
	struct rlist queued, active, waiting;
	struct k8s_timer *timers;
	struct k8s_client_stats st;
	CURL **pool;
	size_t npool;
	bool in_perform;
	bool need_sweep;
	char useragent[64];
	char *base; /* URL prefix: the server, or tls-server-name */
	struct curl_slist *connect_to; /* tls-server-name: the real address */
};

static void
rl_push(struct rlist *l, struct k8s_request *r)
{
	r->next = NULL;
	r->prev = l->tail;
	if (l->tail != NULL)
		l->tail->next = r;
	else
		l->head = r;
	l->tail = r;
	l->n++;
}

static void
rl_remove(struct rlist *l, struct k8s_request *r)
{
	if (r->prev != NULL)
		r->prev->next = r->next;
	else
		l->head = r->next;
	if (r->next != NULL)
		r->next->prev = r->prev;
	else
		l->tail = r->prev;
	r->prev = r->next = NULL;
	l->n--;
}

static struct rlist *
rl_of(struct k8s_client *c, struct k8s_request *r)
{
	switch (r->state) {
	case RQ_QUEUED:
		return &c->queued;
	case RQ_ACTIVE:
		return &c->active;
	default:
		return &c->waiting;
	}
}

/* --- Status ------------------------------------------------------- */

const char *
k8s_reason_for_code(long code)
{
	/* apimachinery errors.NewGenericServerResponse's mapping */
	switch (code) {
	case 400:
		return "BadRequest";
	case 401:
		return "Unauthorized";
	case 403:
		return "Forbidden";
	case 404:
		return "NotFound";
	case 405:
		return "MethodNotAllowed";
	case 406:
		return "NotAcceptable";
	case 409:
		return "Conflict";
	case 410:
		return "Gone";
	case 413:
		return "RequestEntityTooLarge";
	case 415:
		return "UnsupportedMediaType";
	case 422:
		return "Invalid";
	case 429:
		return "TooManyRequests";
	case 500:
		return "InternalError";
	case 503:
		return "ServiceUnavailable";
	case 504:
		return "Timeout";
	default:
		return code >= 500 ? "InternalError" : "Unknown";
	}
}

void
k8s_status_clear(struct k8s_status *st)
{
	size_t i;

	mc_free(st->status);
	mc_free(st->reason);
	mc_free(st->message);
	for (i = 0; i < st->ncauses; i++) {
		mc_free(st->causes[i].reason);
		mc_free(st->causes[i].message);
		mc_free(st->causes[i].field);
	}
	mc_free(st->causes);
	memset(st, 0, sizeof(*st));
}

/* A copy of a JSON string member, NULL when absent or not a string. */
static int
jdup(const json_t *o, const char *key, char **out)
{
	const json_t *v = json_object_get(o, key);

	*out = NULL;
	if (!json_is_string(v))
		return 0;
	*out = mc_strndup(json_string_value(v), json_string_length(v));
	return *out == NULL ? -1 : 0;
}

int
k8s_status_from_json(const json_t *obj, long http_code, struct k8s_status *st,
    struct mc_err *e)
{
	const json_t *code, *causes, *cause;
	struct k8s_cause *c;
	size_t i, n;

	k8s_status_clear(st);
	code = json_object_get(obj, "code");
	st->code = json_is_integer(code) && json_integer_value(code) > 0 &&
		json_integer_value(code) < 1000 ?
	    (long)json_integer_value(code) :
	    http_code;
	if (jdup(obj, "status", &st->status) == -1 ||
	    jdup(obj, "reason", &st->reason) == -1 ||
	    jdup(obj, "message", &st->message) == -1)
		goto nomem;
	if (st->reason == NULL || *st->reason == '\0') {
		mc_free(st->reason);
		if ((st->reason = mc_strdup(k8s_reason_for_code(st->code))) ==
		    NULL)
			goto nomem;
	}
	if (st->message == NULL &&
	    (st->message = mc_strdup(st->reason)) == NULL)
		goto nomem;
	causes = json_object_get(json_object_get(obj, "details"), "causes");
	n = json_is_array(causes) ? json_array_size(causes) : 0;
	if (n > 0 && (st->causes = mc_calloc(n, sizeof(*st->causes))) == NULL)
		goto nomem;
	for (i = 0; i < n; i++) {
		cause = json_array_get(causes, i);
		if (!json_is_object(cause))
			continue;
		c = &st->causes[st->ncauses++];
		if (jdup(cause, "reason", &c->reason) == -1 ||
		    jdup(cause, "message", &c->message) == -1 ||
		    jdup(cause, "field", &c->field) == -1)
			goto nomem;
	}
	return 0;
nomem:
	mc_err_set(e, MC_ST_NOMEM, 0, "out of memory");
	return -1;
}

int
k8s_status_parse(const char *body, size_t len, long http_code,
    struct k8s_status *st, struct mc_err *e)
{
	json_t *j;
	size_t i, s = 0, n = len;
	char *m;
	int rc;

	k8s_status_clear(st);
	j = len > 0 ? json_loadb(body, len, 0, NULL) : NULL;
	if (json_is_object(j)) {
		rc = k8s_status_from_json(j, http_code, st, e);
		json_decref(j);
		return rc;
	}
	json_decref(j);
	/* Not JSON (e.g. the plain-text 429 of kubernetes-api.md §4): keep
	 * a bounded, printable excerpt as the message. */
	st->code = http_code;
	while (s < n && isspace((unsigned char)body[s]))
		s++;
	while (n > s && isspace((unsigned char)body[n - 1]))
		n--;
	if (n - s > STATUS_TEXT_MAX)
		n = s + STATUS_TEXT_MAX;
	if ((st->reason = mc_strdup(k8s_reason_for_code(http_code))) == NULL)
		goto nomem;
	if (n == s)
		st->message = mc_strdup(st->reason);
	else
		st->message = mc_strndup(body + s, n - s);
	if ((m = st->message) == NULL)
		goto nomem;
	for (i = 0; m[i] != '\0'; i++)
		if (!isprint((unsigned char)m[i]))
			m[i] = '?';
	return 0;
nomem:
	mc_err_set(e, MC_ST_NOMEM, 0, "out of memory");
	return -1;
}

json_t *
k8s_response_body(const struct k8s_response *r)
{
	/* r is always a caller's non-const record: caching is allowed */
	struct k8s_response *w = (struct k8s_response *)r;

	if (!w->parsed && w->raw != NULL)
		w->body = json_loadb(w->raw, w->raw_len, 0, NULL);
	w->parsed = true;
	return w->body;
}

const char *
k8s_outcome_str(enum k8s_outcome o)
{
	static const char *names[] = { "ok", "transport error", "bad response",
		"not found", "already exists", "conflict", "expired",
		"unauthorized", "forbidden", "invalid", "throttled",
		"server error", "error" };

	return (size_t)o < sizeof(names) / sizeof(names[0]) ? names[o] :
							      "error";
}

static enum k8s_outcome
outcome_for(long code, const char *reason, const char *method)
{
	if (code >= 200 && code < 300)
		return K8S_OK;
	switch (code) {
	case 401:
		return K8S_E_UNAUTHORIZED;
	case 403:
		return K8S_E_FORBIDDEN;
	case 404:
		return K8S_E_NOT_FOUND;
	case 409:
		/* kubernetes-api.md §4: one code, two reasons */
		if (reason != NULL && strcmp(reason, "AlreadyExists") == 0)
			return K8S_E_ALREADY_EXISTS;
		if (reason != NULL && strcmp(reason, "Conflict") == 0)
			return K8S_E_CONFLICT;
		return strcmp(method, "POST") == 0 ? K8S_E_ALREADY_EXISTS :
						     K8S_E_CONFLICT;
	case 410:
		return K8S_E_EXPIRED;
	case 400:
	case 415:
	case 422:
		return K8S_E_INVALID;
	case 429:
		return K8S_E_THROTTLED;
	default:
		return code >= 500 ? K8S_E_SERVER : K8S_E_OTHER;
	}
}

/* --- timers ------------------------------------------------------- */

void
k8s_timer_arm(struct k8s_client *c, struct k8s_timer *t, uint64_t delay_ms,
    void (*fn)(void *), void *arg)
{
	k8s_timer_cancel(c, t);
	t->due = k8s_now_ms() + delay_ms;
	t->fn = fn;
	t->arg = arg;
	t->armed = true;
	t->prev = NULL;
	t->next = c->timers;
	if (c->timers != NULL)
		c->timers->prev = t;
	c->timers = t;
}

void
k8s_timer_cancel(struct k8s_client *c, struct k8s_timer *t)
{
	if (!t->armed)
		return;
	if (t->prev != NULL)
		t->prev->next = t->next;
	else
		c->timers = t->next;
	if (t->next != NULL)
		t->next->prev = t->prev;
	t->prev = t->next = NULL;
	t->armed = false;
}

/* Fires due timers; returns ms until the next one (or max). */
static uint64_t
timers_run(struct k8s_client *c, uint64_t max)
{
	struct k8s_timer *t;
	uint64_t now, wait = max;
	int guard;

	/* A callback may arm or cancel any timer: rescan after each. */
	for (guard = 0; guard < 10000; guard++) {
		now = k8s_now_ms();
		for (t = c->timers; t != NULL; t = t->next)
			if (t->due <= now)
				break;
		if (t == NULL)
			break;
		k8s_timer_cancel(c, t);
		t->fn(t->arg);
	}
	now = k8s_now_ms();
	for (t = c->timers; t != NULL; t = t->next)
		if (t->due <= now)
			wait = 0;
		else if (t->due - now < wait)
			wait = t->due - now;
	return wait;
}

/* --- requests ----------------------------------------------------- */

static void
wipe_headers(struct curl_slist *h)
{
	struct curl_slist *p;

	for (p = h; p != NULL; p = p->next)
		mc_cleanse(p->data, strlen(p->data));
	curl_slist_free_all(h);
}

static void
request_free(struct k8s_request *r)
{
	if (r == NULL)
		return;
	wipe_headers(r->hdrs);
	mc_buf_free(&r->resp);
	mc_free(r->url);
	mc_free(r->method);
	mc_free(r->ctype);
	mc_free(r->body);
	mc_free(r);
}

static size_t
on_header(char *p, size_t size, size_t n, void *arg)
{
	struct k8s_request *r = arg;
	size_t len = size * n, k;
	char v[64];
	char *end;
	long secs;

	r->last_data_ms = k8s_now_ms();
	if (len >= 5 && strncmp(p, "HTTP/", 5) == 0) {
		/* a new response (after 100 Continue, or a retry) */
		r->retry_after_ms = -1;
		r->json_ctype = false;
		return len;
	}
	if (len > 12 && strncasecmp(p, "Retry-After:", 12) == 0) {
		for (k = 12; k < len && (p[k] == ' ' || p[k] == '\t'); k++)
			;
		snprintf(v, sizeof(v), "%.*s", (int)(len - k), p + k);
		secs = strtol(v, &end, 10);
		/* RFC 9110 §10.2.3: delay-seconds; an HTTP-date gets 1 s */
		if (end == v || secs < 0)
			secs = 1;
		if (secs > 86400)
			secs = 86400;
		r->retry_after_ms = (int64_t)secs * 1000;
	} else if (len > 13 && strncasecmp(p, "Content-Type:", 13) == 0)
		r->json_ctype = strstr(p, "json") != NULL;
	return len;
}

static size_t
on_write(char *p, size_t size, size_t n, void *arg)
{
	struct k8s_request *r = arg;
	size_t len = size * n;
	long code = 0;
	int rc;

	if (r->cancelled)
		return 0;
	r->last_data_ms = k8s_now_ms();
	curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &code);
	if (r->o.on_data != NULL && code >= 200 && code < 300) {
		r->streamed = true;
		rc = r->o.on_data(p, len, r->o.arg);
		if (r->cancelled)
			return 0;
		if (rc == -1) {
			r->aborted = true;
			return 0;
		}
		return len;
	}
	if (mc_buf_append(&r->resp, p, len, NULL) == -1) {
		r->too_big = true;
		return 0;
	}
	return len;
}

static CURL *
easy_get(struct k8s_client *c)
{
	if (c->npool > 0)
		return c->pool[--c->npool];
	return curl_easy_init();
}

static void
easy_put(struct k8s_client *c, CURL *h)
{
	if (h == NULL)
		return;
	curl_easy_reset(h);
	if (c->npool < c->o.max_in_flight)
		c->pool[c->npool++] = h;
	else
		curl_easy_cleanup(h);
}

static int
setup_tls(struct k8s_client *c, CURL *h)
{
	struct k8s_config *cfg = c->cfg;
	struct curl_blob blob;
	CURLcode rc = CURLE_OK;

	if (cfg->insecure) {
		/* only when the kubeconfig says insecure-skip-tls-verify */
		curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
		curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
	} else if (cfg->ca_data != NULL) {
		blob.data = cfg->ca_data;
		blob.len = cfg->ca_data_len;
		blob.flags = CURL_BLOB_COPY;
		rc = curl_easy_setopt(h, CURLOPT_CAINFO_BLOB, &blob);
	} else if (cfg->ca_file != NULL)
		rc = curl_easy_setopt(h, CURLOPT_CAINFO, cfg->ca_file);
	if (rc != CURLE_OK)
		return -1;
	if (cfg->cert_data != NULL) {
		blob.data = cfg->cert_data;
		blob.len = cfg->cert_data_len;
		blob.flags = CURL_BLOB_COPY;
		rc = curl_easy_setopt(h, CURLOPT_SSLCERT_BLOB, &blob);
	} else if (cfg->cert_file != NULL)
		rc = curl_easy_setopt(h, CURLOPT_SSLCERT, cfg->cert_file);
	if (rc != CURLE_OK)
		return -1;
	if (cfg->key_data != NULL) {
		blob.data = cfg->key_data;
		blob.len = cfg->key_data_len;
		blob.flags = CURL_BLOB_COPY;
		rc = curl_easy_setopt(h, CURLOPT_SSLKEY_BLOB, &blob);
	} else if (cfg->key_file != NULL)
		rc = curl_easy_setopt(h, CURLOPT_SSLKEY, cfg->key_file);
	return rc == CURLE_OK ? 0 : -1;
}

/* Hands one attempt of r to libcurl. */
static int
attempt_start(struct k8s_client *c, struct k8s_request *r, struct mc_err *e)
{
	const char *token = NULL;
	struct mc_buf hb;
	CURL *h;
	CURLMcode mrc;

	mc_buf_init_secret(&hb, K8S_TOKEN_MAX + 64);
	wipe_headers(r->hdrs);
	r->hdrs = NULL;
	mc_buf_reset(&r->resp);
	r->errbuf[0] = '\0';
	r->retry_after_ms = -1;
	r->json_ctype = false;
	r->too_big = r->stalled = r->aborted = false;
	r->last_data_ms = k8s_now_ms();
	/* a token that cannot be re-read: keep using the old one */
	(void)k8s_config_token(c->cfg, &token, NULL);
	if ((h = easy_get(c)) == NULL)
		goto nomem;
	r->easy = h;
	if (token != NULL) {
		if (mc_buf_printf(&hb, NULL, "Authorization: Bearer %s",
			token) == -1 ||
		    (r->hdrs = curl_slist_append(r->hdrs, hb.data)) == NULL)
			goto nomem;
	}
	if ((r->hdrs = curl_slist_append(r->hdrs,
		 "Accept: application/json")) == NULL ||
	    (r->hdrs = curl_slist_append(r->hdrs, "Expect:")) == NULL)
		goto nomem;
	if (r->body != NULL) {
		mc_buf_reset(&hb);
		if (mc_buf_printf(&hb, NULL, "Content-Type: %s", r->ctype) ==
			-1 ||
		    (r->hdrs = curl_slist_append(r->hdrs, hb.data)) == NULL)
			goto nomem;
	}
	curl_easy_setopt(h, CURLOPT_URL, r->url);
	curl_easy_setopt(h, CURLOPT_PRIVATE, r);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, r->hdrs);
	curl_easy_setopt(h, CURLOPT_USERAGENT, c->useragent);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_write);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, r);
	curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(h, CURLOPT_HEADERDATA, r);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, r->errbuf);
#if LIBCURL_VERSION_NUM >= 0x075500
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "https,http");
#else
	curl_easy_setopt(h, CURLOPT_PROTOCOLS,
	    (long)(CURLPROTO_HTTPS | CURLPROTO_HTTP));
#endif
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS,
	    (long)c->o.connect_timeout_ms);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)r->o.timeout_ms);
	curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(h, CURLOPT_PIPEWAIT, 1L);
	curl_easy_setopt(h, CURLOPT_HTTP_VERSION,
	    c->o.http1_only ? CURL_HTTP_VERSION_1_1 : CURL_HTTP_VERSION_2TLS);
	if (c->connect_to != NULL)
		curl_easy_setopt(h, CURLOPT_CONNECT_TO, c->connect_to);
	if (c->cfg->proxy_url != NULL)
		curl_easy_setopt(h, CURLOPT_PROXY, c->cfg->proxy_url);
	else
		curl_easy_setopt(h, CURLOPT_NOPROXY, "127.0.0.1,::1,localhost");
	if (strcmp(r->method, "GET") != 0)
		curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, r->method);
	if (r->body != NULL) {
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE,
		    (curl_off_t)r->o.body_len);
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, r->body);
	}
	if (setup_tls(c, h) == -1) {
		mc_err_set(e, MC_ST_INTERNAL, 0,
		    "libcurl refused the TLS settings");
		goto fail;
	}
	if ((mrc = curl_multi_add_handle(c->multi, h)) != CURLM_OK) {
		mc_err_set(e, MC_ST_INTERNAL, 0, "curl_multi_add_handle: %s",
		    curl_multi_strerror(mrc));
		goto fail;
	}
	r->attempts++;
	c->st.attempts++;
	mc_buf_free(&hb);
	return 0;
nomem:
	mc_err_set(e, MC_ST_NOMEM, 0, "out of memory");
fail:
	easy_put(c, r->easy);
	r->easy = NULL;
	mc_buf_free(&hb);
	return -1;
}

static void finish(struct k8s_client *, struct k8s_request *,
    struct k8s_response *);

/* Starts queued requests while there are free slots. */
static void
pump(struct k8s_client *c)
{
	struct k8s_request *r;
	struct k8s_response resp;

	if (c->in_perform)
		return;
	while (c->queued.head != NULL && c->active.n < c->o.max_in_flight) {
		r = c->queued.head;
		rl_remove(&c->queued, r);
		r->state = RQ_ACTIVE;
		rl_push(&c->active, r);
		memset(&resp, 0, sizeof(resp));
		if (attempt_start(c, r, &resp.err) == -1) {
			resp.outcome = K8S_E_TRANSPORT;
			resp.attempts = r->attempts;
			finish(c, r, &resp);
		}
	}
}

static void
retry_fire(void *arg)
{
	struct k8s_request *r = arg;
	struct k8s_client *c = r->c;

	rl_remove(&c->waiting, r);
	r->state = RQ_QUEUED;
	rl_push(&c->queued, r);
}

/* Removes r from its list, delivers resp (unless cancelled), frees r. */
static void
finish(struct k8s_client *c, struct k8s_request *r, struct k8s_response *resp)
{
	rl_remove(rl_of(c, r), r);
	k8s_timer_cancel(c, &r->retry);
	if (r->easy != NULL) {
		curl_multi_remove_handle(c->multi, r->easy);
		easy_put(c, r->easy);
		r->easy = NULL;
	}
	r->finishing = true;
	if (!r->cancelled && r->o.on_done != NULL)
		r->o.on_done(resp, r->o.arg);
	json_decref(resp->body);
	k8s_status_clear(&resp->status);
	request_free(r);
}

static bool
retryable(struct k8s_request *r, long code, long seen, CURLcode cres)
{
	if (r->cancelled || r->aborted || r->too_big || r->streamed)
		return false;
	/* a stream that was answered 2xx ends for its reader to decide */
	if (r->o.on_data != NULL && seen >= 200 && seen < 300)
		return false;
	if ((int)r->attempts > r->max_retries)
		return false;
	if (code == 0) {
		switch (cres) {
		case CURLE_COULDNT_CONNECT:
		case CURLE_SEND_ERROR:
		case CURLE_RECV_ERROR:
		case CURLE_GOT_NOTHING:
		case CURLE_PARTIAL_FILE:
		case CURLE_OPERATION_TIMEDOUT:
		case CURLE_SSL_CONNECT_ERROR:
		case CURLE_HTTP2:
		case CURLE_HTTP2_STREAM:
			return true;
		default:
			return false;
		}
	}
	return code == 429 || code >= 500;
}

/* One attempt ended with libcurl result cres. */
static void
attempt_done(struct k8s_client *c, struct k8s_request *r, CURLcode cres)
{
	struct k8s_response resp;
	long code = 0, nconn = 0, seen;
	uint64_t delay;

	memset(&resp, 0, sizeof(resp));
	curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &code);
	seen = code;
	curl_easy_getinfo(r->easy, CURLINFO_NUM_CONNECTS, &nconn);
	c->st.connects += (uint64_t)nconn;
	if (r->cancelled) {
		finish(c, r, &resp);
		return;
	}
	if (cres != CURLE_OK && !r->stalled && code != 0 && !r->streamed &&
	    !r->too_big && !r->aborted && (code < 200 || code >= 300))
		cres = CURLE_OK; /* an error body cut short: use the code */
	if (cres != CURLE_OK || r->stalled)
		code = r->streamed ? code : 0;
	if (c->o.on_error != NULL) {
		if (cres == CURLE_OK && !r->stalled &&
		    (code < 200 || code >= 300))
			c->o.on_error(code, c->o.on_error_arg);
		else if ((cres != CURLE_OK || r->stalled) && !r->streamed &&
		    !r->aborted && !r->too_big)
			c->o.on_error(0, c->o.on_error_arg);
	}
	/* 401: the token may have been rotated (kubernetes-api.md §7) */
	if (cres == CURLE_OK && code == 401 && !r->reauthed &&
	    c->cfg->token_file != NULL) {
		r->reauthed = true;
		c->st.unauthorized++;
		k8s_config_token_expire(c->cfg);
		delay = 0;
		goto retry;
	}
	if (code == 401)
		c->st.unauthorized++;
	if (retryable(r, cres != CURLE_OK ? 0 : code, seen, cres)) {
		if (cres == CURLE_OK && r->retry_after_ms >= 0) {
			delay = (uint64_t)r->retry_after_ms;
			if (delay > c->o.retry_cap_ms)
				delay = c->o.retry_cap_ms;
			c->st.retry_after++;
		} else
			delay = k8s_backoff_next(&r->backoff);
		goto retry;
	}
	resp.attempts = r->attempts;
	resp.http_code =
	    cres == CURLE_OK ? code : (seen >= 200 && seen < 300 ? seen : 0);
	if (r->stalled) {
		resp.outcome = K8S_E_TRANSPORT;
		mc_err_set(&resp.err, MC_ST_IO, 0, "%s %s: no data for %llu ms",
		    r->method, r->o.path,
		    (unsigned long long)r->o.idle_timeout_ms);
	} else if (r->aborted) {
		resp.outcome = K8S_E_BAD_RESPONSE;
		mc_err_set(&resp.err, MC_ST_PARSE, 0,
		    "%s %s: stream rejected by its reader", r->method,
		    r->o.path);
	} else if (r->too_big) {
		resp.outcome = K8S_E_BAD_RESPONSE;
		mc_err_set(&resp.err, MC_ST_PARSE, 0,
		    "%s %s: response larger than %zu bytes", r->method,
		    r->o.path, r->resp.max);
	} else if (cres != CURLE_OK) {
		resp.outcome = K8S_E_TRANSPORT;
		mc_err_set(&resp.err, MC_ST_IO, 0, "%s %s: %s", r->method,
		    r->o.path,
		    r->errbuf[0] != '\0' ? r->errbuf :
					   curl_easy_strerror(cres));
	} else if (code >= 200 && code < 300) {
		resp.outcome = K8S_OK;
		if (r->o.on_data == NULL && r->resp.len > 0) {
			resp.raw = r->resp.data;
			resp.raw_len = r->resp.len;
		}
	} else {
		if (k8s_status_parse(r->resp.data, r->resp.len, code,
			&resp.status, &resp.err) == -1) {
			resp.outcome = K8S_E_OTHER;
		} else {
			resp.outcome =
			    outcome_for(code, resp.status.reason, r->method);
			mc_err_set(&resp.err, MC_ST_REJECTED, 0,
			    "%s %s: HTTP %ld %s: %s", r->method, r->o.path,
			    code, resp.status.reason, resp.status.message);
		}
	}
	finish(c, r, &resp);
	return;
retry:
	c->st.retries++;
	curl_multi_remove_handle(c->multi, r->easy);
	easy_put(c, r->easy);
	r->easy = NULL;
	rl_remove(&c->active, r);
	r->state = RQ_WAITING;
	rl_push(&c->waiting, r);
	k8s_timer_arm(c, &r->retry, delay, retry_fire, r);
}

struct k8s_request *
k8s_request_start(struct k8s_client *c, const struct k8s_request_opts *o,
    struct mc_err *e)
{
	struct k8s_request *r;
	struct mc_buf u;

	mc_buf_init(&u, 64 * 1024);
	if ((r = mc_calloc(1, sizeof(*r))) == NULL)
		goto nomem;
	r->c = c;
	r->o = *o;
	r->o.path = NULL;
	r->o.body = NULL;
	r->o.method = NULL;
	if (o->path == NULL || o->path[0] != '/') {
		mc_err_set(e, MC_ST_USAGE, 0, "request path must start with /");
		goto fail;
	}
	if (mc_buf_printf(&u, e, "%s%s", c->base, o->path) == -1)
		goto fail;
	r->url = mc_buf_steal(&u, NULL);
	r->o.path = r->url + strlen(c->base);
	if ((r->method = mc_strdup(o->method != NULL ? o->method : "GET")) ==
		NULL ||
	    (r->ctype = mc_strdup(o->content_type != NULL ?
		     o->content_type :
		     "application/json")) == NULL)
		goto nomem;
	if (o->body != NULL) {
		if ((r->body = mc_malloc(o->body_len + 1)) == NULL)
			goto nomem;
		memcpy(r->body, o->body, o->body_len);
		r->body[o->body_len] = '\0';
	}
	if (o->timeout_ms == 0 && o->on_data == NULL)
		r->o.timeout_ms = c->o.timeout_ms;
	r->max_retries =
	    o->max_retries < 0 ? (int)c->o.max_retries : o->max_retries;
	mc_buf_init(&r->resp,
	    o->on_data != NULL	     ? ERROR_BODY_MAX :
		o->max_response != 0 ? o->max_response :
				       DEFAULT_MAX_RESPONSE);
	k8s_backoff_init(&r->backoff, c->o.retry_base_ms, c->o.retry_cap_ms);
	/* Started by the next k8s_client_run_once (its first step is to
	 * pump the queue; nothing is sent before then anyway): starting it
	 * here could end it here, calling on_done before the caller holds
	 * the request it would be handed, which was then already freed. */
	r->state = RQ_QUEUED;
	rl_push(&c->queued, r);
	c->st.requests++;
	return r;
nomem:
	mc_err_set(e, MC_ST_NOMEM, 0, "out of memory");
fail:
	mc_buf_free(&u);
	request_free(r);
	return NULL;
}

void
k8s_request_cancel(struct k8s_client *c, struct k8s_request *r)
{
	struct k8s_response resp;

	if (r == NULL || r->cancelled || r->finishing)
		return;
	r->cancelled = true;
	if (r->state == RQ_ACTIVE && c->in_perform) {
		/* libcurl forbids removing handles from its callbacks */
		c->need_sweep = true;
		return;
	}
	memset(&resp, 0, sizeof(resp));
	finish(c, r, &resp);
}

/* Finishes cancelled and stalled transfers (outside libcurl calls). */
static void
sweep(struct k8s_client *c)
{
	struct k8s_request *r, *next;
	struct k8s_response resp;
	uint64_t now = k8s_now_ms();

	for (r = c->active.head; r != NULL; r = next) {
		next = r->next;
		if (r->cancelled) {
			memset(&resp, 0, sizeof(resp));
			finish(c, r, &resp);
			next = c->active.head; /* finish may change the list */
			continue;
		}
		if (r->o.idle_timeout_ms != 0 &&
		    now - r->last_data_ms >= r->o.idle_timeout_ms) {
			r->stalled = true;
			attempt_done(c, r, CURLE_OPERATION_TIMEDOUT);
			next = c->active.head;
		}
	}
	c->need_sweep = false;
}

int
k8s_client_run_once(struct k8s_client *c, int timeout_ms, struct mc_err *e)
{
	struct k8s_request *r;
	CURLMsg *msg;
	CURLMcode mrc;
	CURL *easy;
	CURLcode res;
	uint64_t wait, idle;
	int running, left;

	pump(c);
	wait = timers_run(c, timeout_ms < 0 ? 0 : (uint64_t)timeout_ms);
	pump(c);
	/* wake up in time for the first stream that may stall */
	for (r = c->active.head; r != NULL; r = r->next) {
		if (r->o.idle_timeout_ms == 0)
			continue;
		idle = k8s_now_ms() - r->last_data_ms;
		idle = idle >= r->o.idle_timeout_ms ?
		    0 :
		    r->o.idle_timeout_ms - idle;
		if (idle < wait)
			wait = idle;
	}
	if (c->queued.n > 0 && c->active.n < c->o.max_in_flight)
		wait = 0;
	if ((mrc = curl_multi_poll(c->multi, NULL, 0, (int)wait, NULL)) !=
	    CURLM_OK) {
		mc_err_set(e, MC_ST_INTERNAL, 0, "curl_multi_poll: %s",
		    curl_multi_strerror(mrc));
		return -1;
	}
	c->in_perform = true;
	mrc = curl_multi_perform(c->multi, &running);
	c->in_perform = false;
	if (mrc != CURLM_OK) {
		mc_err_set(e, MC_ST_INTERNAL, 0, "curl_multi_perform: %s",
		    curl_multi_strerror(mrc));
		return -1;
	}
	while ((msg = curl_multi_info_read(c->multi, &left)) != NULL) {
		if (msg->msg != CURLMSG_DONE)
			continue;
		easy = msg->easy_handle;
		res = msg->data.result;
		r = NULL;
		curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **)&r);
		if (r != NULL)
			attempt_done(c, r, res);
	}
	sweep(c);
	timers_run(c, 0);
	pump(c);
	return 0;
}

int
k8s_client_run_until(struct k8s_client *c, const bool *flag,
    uint64_t timeout_ms, struct mc_err *e)
{
	uint64_t end = k8s_now_ms() + timeout_ms, now;

	while (!*flag) {
		now = k8s_now_ms();
		if (now >= end) {
			mc_err_set(e, MC_ST_IO, 0, "no answer within %llu ms",
			    (unsigned long long)timeout_ms);
			return -1;
		}
		if (k8s_client_run_once(c,
			(int)(end - now < 100 ? end - now : 100), e) == -1)
			return -1;
	}
	return 0;
}

size_t
k8s_client_pending(const struct k8s_client *c)
{
	return c->queued.n + c->active.n + c->waiting.n;
}

void
k8s_client_get_stats(const struct k8s_client *c, struct k8s_client_stats *st)
{
	*st = c->st;
}

struct k8s_config *
k8s_client_config(struct k8s_client *c)
{
	return c->cfg;
}

/*
 * Where requests go. With tls-server-name (kubernetes-api.md §7) the URL
 * names that host, so that libcurl sends it as SNI and checks the
 * certificate against it, and CURLOPT_CONNECT_TO sends the connection to
 * the server's real address.
 */
static int
set_base(struct k8s_client *c, struct mc_err *e)
{
	const char *sni = c->cfg->tls_server_name;
	char *host = NULL, *port = NULL;
	struct mc_buf b, ct;
	CURLU *u = NULL;
	int rc = -1;

	mc_buf_init(&b, 4096);
	mc_buf_init(&ct, 4096);
	if (sni == NULL) {
		if ((c->base = mc_strdup(c->cfg->server)) == NULL)
			goto nomem;
		return 0;
	}
	if ((u = curl_url()) == NULL)
		goto nomem;
	if (curl_url_set(u, CURLUPART_URL, c->cfg->server, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) !=
		CURLUE_OK) {
		mc_err_set(e, MC_ST_PARSE, 0, "server \"%s\": not a URL",
		    c->cfg->server);
		goto out;
	}
	if (strpbrk(sni, ":/[]@ ") != NULL) {
		mc_err_set(e, MC_ST_PARSE, 0,
		    "tls-server-name \"%s\": not a host name", sni);
		goto out;
	}
	if (mc_buf_printf(&b, e, "https://%s:%s", sni, port) == -1 ||
	    mc_buf_printf(&ct, e, "%s:%s:%s:%s", sni, port, host, port) == -1)
		goto out;
	if ((c->connect_to = curl_slist_append(NULL, ct.data)) == NULL)
		goto nomem;
	c->base = mc_buf_steal(&b, NULL);
	rc = 0;
	goto out;
nomem:
	mc_err_set(e, MC_ST_NOMEM, 0, "out of memory");
out:
	curl_free(host);
	curl_free(port);
	curl_url_cleanup(u);
	mc_buf_free(&b);
	mc_buf_free(&ct);
	return rc;
}

struct k8s_client *
k8s_client_new(struct k8s_config *cfg, const struct k8s_client_opts *opts,
    struct mc_err *e)
{
	struct k8s_client *c = NULL;
	static bool global_done;

	if (!global_done) {
		/* process-wide, idempotent; needed before any handle */
		if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
			mc_err_set(e, MC_ST_INTERNAL, 0,
			    "curl_global_init failed");
			return NULL;
		}
		global_done = true;
	}
	if ((c = mc_calloc(1, sizeof(*c))) == NULL)
		goto nomem;
	c->cfg = cfg;
	if (opts != NULL)
		c->o = *opts;
	if (c->o.max_in_flight == 0)
		c->o.max_in_flight = 64;
	if (c->o.max_retries == 0)
		c->o.max_retries = 10;
	if (c->o.timeout_ms == 0)
		c->o.timeout_ms = 30000;
	if (c->o.connect_timeout_ms == 0)
		c->o.connect_timeout_ms = 10000;
	if (c->o.retry_base_ms == 0)
		c->o.retry_base_ms = 200;
	if (c->o.retry_cap_ms == 0)
		c->o.retry_cap_ms = 60000;
	snprintf(c->useragent, sizeof(c->useragent), "meshca/%s", VERSION);
	if (set_base(c, e) == -1)
		goto fail;
	if ((c->pool = mc_calloc(c->o.max_in_flight, sizeof(*c->pool))) ==
		NULL ||
	    (c->multi = curl_multi_init()) == NULL)
		goto nomem;
	curl_multi_setopt(c->multi, CURLMOPT_PIPELINING, CURLPIPE_MULTIPLEX);
	curl_multi_setopt(c->multi, CURLMOPT_MAXCONNECTS,
	    (long)c->o.max_in_flight);
	return c;
nomem:
	mc_err_set(e, MC_ST_NOMEM, 0, "out of memory");
fail:
	k8s_client_free(c);
	return NULL;
}

void
k8s_client_free(struct k8s_client *c)
{
	struct rlist *lists[3];
	struct k8s_request *r;
	size_t i;

	if (c == NULL)
		return;
	lists[0] = &c->queued;
	lists[1] = &c->active;
	lists[2] = &c->waiting;
	for (i = 0; i < 3; i++) {
		while ((r = lists[i]->head) != NULL) {
			rl_remove(lists[i], r);
			if (r->easy != NULL) {
				curl_multi_remove_handle(c->multi, r->easy);
				curl_easy_cleanup(r->easy);
			}
			request_free(r);
		}
	}
	for (i = 0; c->pool != NULL && i < c->npool; i++)
		curl_easy_cleanup(c->pool[i]);
	mc_free(c->pool);
	mc_free(c->base);
	curl_slist_free_all(c->connect_to);
	if (c->multi != NULL)
		curl_multi_cleanup(c->multi);
	mc_free(c);
}
