/*
 * http.h: the transport of the Kubernetes client. One struct k8s_client
 * owns a libcurl multi handle and drives any number of requests and
 * watch streams from the caller's thread: the caller's loop calls
 * k8s_client_run_once() and results come back through callbacks. The
 * client also keeps timers, so informers, lease renewals and retries run
 * on the same loop. A client is not thread-safe: use it from one thread.
 */
#ifndef K8S_HTTP_H
#define K8S_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "common/err.h"
#include "k8s/config.h"

/* A cause in a 422 Status (details.causes[], kubernetes-api.md §4). */
struct k8s_cause {
	char *reason;
	char *message;
	char *field;
};

/* A parsed metav1.Status, or what could be made of a non-JSON body. */
struct k8s_status {
	long code;     /* Status.code, else the HTTP code */
	char *status;  /* "Failure", "Success" or NULL */
	char *reason;  /* "NotFound", ...; from the HTTP code if absent */
	char *message; /* Status.message, or the text body (bounded) */
	struct k8s_cause *causes;
	size_t ncauses;
};

/*
 * Parses an error body into st (which is cleared first). A body that is
 * not a JSON Status (plain text 429s, proxies' HTML) still yields a
 * Status: code http_code, reason derived from it, message the first
 * printable bytes of the body. -1 only on allocation failure.
 */
int k8s_status_parse(const char *body, size_t len, long http_code,
    struct k8s_status *st, struct mc_err *e);
/* As k8s_status_parse for an already-parsed object (a watch ERROR). */
int k8s_status_from_json(const json_t *obj, long http_code,
    struct k8s_status *st, struct mc_err *e);
/* Frees what st holds and zeroes it. */
void k8s_status_clear(struct k8s_status *st);
/* The reason Kubernetes gives for an HTTP code ("NotFound", ...). */
const char *k8s_reason_for_code(long code);

/* What a finished request amounts to, for the caller's decisions. */
enum k8s_outcome {
	K8S_OK = 0,
	K8S_E_TRANSPORT,      /* no HTTP answer: connect, TLS, reset, stall */
	K8S_E_BAD_RESPONSE,   /* 2xx but the body is not what was expected */
	K8S_E_NOT_FOUND,      /* 404 */
	K8S_E_ALREADY_EXISTS, /* 409 AlreadyExists */
	K8S_E_CONFLICT,	      /* 409 Conflict (stale resourceVersion) */
	K8S_E_EXPIRED,	      /* 410 Expired / Gone */
	K8S_E_UNAUTHORIZED,   /* 401 */
	K8S_E_FORBIDDEN,      /* 403 */
	K8S_E_INVALID,	      /* 400, 415, 422 */
	K8S_E_THROTTLED,      /* 429 (after the retries) */
	K8S_E_SERVER,	      /* 5xx (after the retries) */
	K8S_E_OTHER
};

/* Everything known about a finished request. Borrowed by callbacks. */
struct k8s_response {
	enum k8s_outcome outcome;
	long http_code;		  /* 0 when there was no HTTP answer */
	struct k8s_status status; /* filled for non-2xx answers */
	struct mc_err err;	  /* outcome != K8S_OK: what went wrong */
	unsigned attempts;	  /* 1 + retries */
	const char *raw;	  /* the 2xx body as received, or NULL */
	size_t raw_len;
	json_t *body; /* private: see k8s_response_body() */
	bool parsed;  /* private */
};

/*
 * The 2xx body of r as JSON, parsed on the first call (so callers that
 * need only the outcome do not pay for it). Borrowed like r: json_incref
 * to keep it. NULL when the body was empty or is not JSON.
 */
json_t *k8s_response_body(const struct k8s_response *r);

/* Names an outcome for messages. */
const char *k8s_outcome_str(enum k8s_outcome o);

struct k8s_client;
struct k8s_request;

/* Called once when a request ends (unless it was cancelled). */
typedef void (*k8s_done_fn)(const struct k8s_response *r, void *arg);
/* Streams: called with each piece of a 2xx body; -1 aborts the request. */
typedef int (*k8s_data_fn)(const char *p, size_t n, void *arg);

struct k8s_request_opts {
	const char *method; /* "GET", "POST", ...; NULL is GET */
	const char *path;   /* escaped path and query, e.g. "/api/v1/..." */
	const char *content_type; /* NULL: application/json when a body */
	const char *body;	  /* copied; may be NULL */
	size_t body_len;
	size_t max_response; /* ceiling of a buffered body; 0: 64 MiB */
	k8s_data_fn on_data; /* non-NULL: stream the 2xx body */
	k8s_done_fn on_done;
	void *arg;
	uint64_t timeout_ms;	  /* whole attempt; 0: the client default,
				   streams: none */
	uint64_t idle_timeout_ms; /* abort when no byte for this long; 0 off */
	int max_retries;	  /* -1: the client default */
};

struct k8s_client_opts {
	unsigned max_in_flight; /* concurrent transfers; 0: 64 */
	unsigned max_retries;	/* 429, 5xx, connection failures; 0: 10 */
	uint64_t timeout_ms;	/* per attempt of a plain request; 0: 30 s */
	uint64_t connect_timeout_ms; /* 0: 10 s */
	uint64_t retry_base_ms;	     /* first backoff ceiling; 0: 200 ms */
	uint64_t retry_cap_ms;	     /* backoff and Retry-After cap; 0: 60 s */
	bool http1_only;	     /* do not offer HTTP/2 */
	/*
	 * Called for every attempt that ended without a 2xx answer, the
	 * ones retried here included (a caller's on_done sees only the
	 * last): code is the HTTP status, 0 for a transport error (no
	 * answer, a reset, a timeout). Not for cancelled requests, nor for
	 * a watch stream that breaks after its 200 (informers count those).
	 */
	void (*on_error)(long code, void *arg);
	void *on_error_arg;
};

/* Counters, for tests and metrics. */
struct k8s_client_stats {
	uint64_t requests; /* started by callers */
	uint64_t attempts; /* transfers handed to libcurl */
	uint64_t retries;
	uint64_t retry_after;  /* retries that waited for Retry-After */
	uint64_t unauthorized; /* 401s (each re-reads the token) */
	uint64_t connects;     /* new connections libcurl opened */
};

/*
 * A client for the server in cfg. cfg is borrowed and must outlive the
 * client (the token cache inside it is updated). opts may be NULL. NULL
 * with e set on failure.
 */
struct k8s_client *k8s_client_new(struct k8s_config *cfg,
    const struct k8s_client_opts *opts, struct mc_err *e);

/* Cancels everything (no callbacks) and frees c. NULL is fine. */
void k8s_client_free(struct k8s_client *c);

/* The config the client was made with. */
struct k8s_config *k8s_client_config(struct k8s_client *c);

/*
 * Starts a request; its result arrives through opts->on_done from a
 * later k8s_client_run_once(). The returned handle is valid until
 * on_done returns or k8s_request_cancel(). NULL with e set on failure
 * (then on_done is never called).
 */
struct k8s_request *k8s_request_start(struct k8s_client *c,
    const struct k8s_request_opts *opts, struct mc_err *e);

/* Stops a request; its on_done is not called. Safe from any callback
 * including the request's own on_data; a no-op from its own on_done. */
void k8s_request_cancel(struct k8s_client *c, struct k8s_request *r);

/*
 * Runs transfers and due timers, waiting at most timeout_ms for
 * something to happen. -1 only when libcurl's multi interface fails.
 */
int k8s_client_run_once(struct k8s_client *c, int timeout_ms, struct mc_err *e);

/*
 * Runs the loop until *flag becomes true or timeout_ms pass. -1 with e
 * set on a timeout.
 */
int k8s_client_run_until(struct k8s_client *c, const bool *flag,
    uint64_t timeout_ms, struct mc_err *e);

/* Requests started and not yet finished. */
size_t k8s_client_pending(const struct k8s_client *c);

void k8s_client_get_stats(const struct k8s_client *c,
    struct k8s_client_stats *st);

/* A timer on the client's loop; embed it and keep it alive while armed. */
struct k8s_timer {
	uint64_t due;
	void (*fn)(void *arg);
	void *arg;
	bool armed;
	struct k8s_timer *prev, *next;
};

/* (Re)arms t to call fn(arg) from the loop after delay_ms. */
void k8s_timer_arm(struct k8s_client *c, struct k8s_timer *t, uint64_t delay_ms,
    void (*fn)(void *), void *arg);
/* Disarms t; nothing if it is not armed. */
void k8s_timer_cancel(struct k8s_client *c, struct k8s_timer *t);

#endif /* K8S_HTTP_H */
