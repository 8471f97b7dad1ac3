/*
 * watch.h: Kubernetes watch streams (kubernetes-api.md §5): a framing
 * parser that turns the newline-delimited JSON of a chunked response into
 * events no matter how the bytes were split, and a stream that runs one
 * watch request on a k8s_client and feeds the parser.
 */
#ifndef K8S_WATCH_H
#define K8S_WATCH_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "common/buf.h"
#include "common/err.h"
#include "k8s/http.h"

/* Longest event line accepted by default (objects reach ~1 MiB). */
#define K8S_WATCH_LINE_MAX (8u << 20)

enum k8s_event_type {
	K8S_EV_ADDED,
	K8S_EV_MODIFIED,
	K8S_EV_DELETED,
	K8S_EV_BOOKMARK,
	K8S_EV_ERROR
};

const char *k8s_event_type_str(enum k8s_event_type t);

/*
 * Receives one event; obj is borrowed for the call (json_incref to
 * keep). Returns 0 to go on, 1 to stop without error, -1 to fail.
 */
typedef int (*k8s_event_fn)(enum k8s_event_type type, json_t *obj, void *arg);

struct k8s_watch_parser {
	struct mc_buf line; /* the incomplete line carried over */
	k8s_event_fn fn;
	void *arg;
	bool stopped; /* fn returned 1 */
	unsigned long events;
};

/* Prepares p; lines longer than max_line (0: K8S_WATCH_LINE_MAX) fail. */
void k8s_watch_parser_init(struct k8s_watch_parser *p, size_t max_line,
    k8s_event_fn fn, void *arg);

/*
 * Feeds n bytes; calls fn for every complete line. Blank lines are
 * skipped. -1 with e set on a malformed event, an oversize line or when
 * fn fails. After fn returned 1, the rest is ignored (returns 0).
 */
int k8s_watch_parser_feed(struct k8s_watch_parser *p, const char *data,
    size_t n, struct mc_err *e);

/* The stream ended: -1 with e set if it ended inside an event. */
int k8s_watch_parser_finish(struct k8s_watch_parser *p, struct mc_err *e);

void k8s_watch_parser_free(struct k8s_watch_parser *p);

/*
 * Parses one event line: {"type": T, "object": {...}}. *obj is a new
 * reference. -1 with e set when it is not a watch event.
 */
int k8s_watch_event_parse(const char *line, size_t n, enum k8s_event_type *type,
    json_t **obj, struct mc_err *e);

struct k8s_watch;

/*
 * Called once when the stream ends: r->outcome K8S_OK for a clean end
 * (e.g. after timeoutSeconds), K8S_E_EXPIRED for an HTTP 410, ... An
 * ERROR event arrives through the event callback, not here.
 */
typedef void (*k8s_watch_end_fn)(const struct k8s_response *r, void *arg);

/*
 * Starts a watch on path (the escaped list path and query, including
 * watch=1). idle_timeout_ms ends the stream as K8S_E_TRANSPORT when no
 * byte arrives for that long (0: never). Events and the end are
 * delivered from k8s_client_run_once(). NULL with e set on failure.
 */
struct k8s_watch *k8s_watch_start(struct k8s_client *c, const char *path,
    uint64_t idle_timeout_ms, k8s_event_fn on_event, k8s_watch_end_fn on_end,
    void *arg, struct mc_err *e);

/* Stops w without calling on_end; safe from w's own callbacks. */
void k8s_watch_stop(struct k8s_watch *w);

#endif /* K8S_WATCH_H */
