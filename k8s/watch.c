/*
 * watch.c: watch-stream framing (kubernetes-api.md §5). The server sends
 * one JSON event per line over a chunked response, and chunk boundaries
 * do not line up with events: a read may hold half an event or several.
 * The parser carries an incomplete line over in a bounded buffer, parses
 * complete lines in place when it can (no copy), and rejects a line
 * longer than its ceiling, so a hostile or broken server cannot make it
 * grow without bound. Each line is untrusted JSON; the type and the
 * object's shape are checked before a callback sees them.
 */
#include <string.h>

#include "common/alloc.h"
#include "common/status.h"
#include "k8s/watch.h"

const char *
k8s_event_type_str(enum k8s_event_type t)
{
	switch (t) {
	case K8S_EV_ADDED:
		return "ADDED";
	case K8S_EV_MODIFIED:
		return "MODIFIED";
	case K8S_EV_DELETED:
		return "DELETED";
	case K8S_EV_BOOKMARK:
		return "BOOKMARK";
	default:
		return "ERROR";
	}
}

void
k8s_watch_parser_init(struct k8s_watch_parser *p, size_t max_line,
    k8s_event_fn fn, void *arg)
{
	memset(p, 0, sizeof(*p));
	mc_buf_init(&p->line, max_line != 0 ? max_line : K8S_WATCH_LINE_MAX);
	p->fn = fn;
	p->arg = arg;
}

void
k8s_watch_parser_free(struct k8s_watch_parser *p)
{
	mc_buf_free(&p->line);
}

static bool
is_blank(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r')
			return false;
	return true;
}

int
k8s_watch_event_parse(const char *line, size_t n, enum k8s_event_type *type,
    json_t **obj, struct mc_err *e)
{
	static const char *names[] = { "ADDED", "MODIFIED", "DELETED",
		"BOOKMARK", "ERROR" };
	json_error_t jerr;
	json_t *ev = NULL, *t, *o;
	const char *ts;
	size_t i;
	int rc = -1;

	*obj = NULL;
	if ((ev = json_loadb(line, n, 0, &jerr)) == NULL) {
		mc_err_set(e, MC_ST_PARSE, 0,
		    "watch event: not JSON: %s (column %d)", jerr.text,
		    jerr.column);
		goto out;
	}
	t = json_object_get(ev, "type");
	o = json_object_get(ev, "object");
	if (!json_is_string(t) || !json_is_object(o)) {
		/* apimachinery watch.Event: type string, object required */
		mc_err_set(e, MC_ST_PARSE, 0,
		    "watch event: needs a string "
		    "\"type\" and an object \"object\"");
		goto out;
	}
	ts = json_string_value(t);
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strcmp(ts, names[i]) == 0)
			break;
	if (i == sizeof(names) / sizeof(names[0])) {
		mc_err_set(e, MC_ST_PARSE, 0,
		    "watch event: unknown type \"%.32s\"", ts);
		goto out;
	}
	*type = (enum k8s_event_type)i;
	*obj = json_incref(o);
	rc = 0;
out:
	json_decref(ev);
	return rc;
}

static int
deliver(struct k8s_watch_parser *p, const char *s, size_t n, struct mc_err *e)
{
	enum k8s_event_type type;
	json_t *obj;
	int rc;

	if (is_blank(s, n))
		return 0;
	if (k8s_watch_event_parse(s, n, &type, &obj, e) == -1)
		return -1;
	p->events++;
	rc = p->fn(type, obj, p->arg);
	json_decref(obj);
	if (rc == 1)
		p->stopped = true;
	else if (rc == -1) {
		if (e != NULL && e->status == 0)
			mc_err_set(e, MC_ST_REJECTED, 0,
			    "watch event: rejected by its reader");
		return -1;
	}
	return 0;
}

int
k8s_watch_parser_feed(struct k8s_watch_parser *p, const char *data, size_t n,
    struct mc_err *e)
{
	const char *nl;
	size_t k;

	while (n > 0 && !p->stopped) {
		if ((nl = memchr(data, '\n', n)) == NULL) {
			if (mc_buf_append(&p->line, data, n, e) == -1) {
				mc_err_prefix(e, "watch event line");
				return -1;
			}
			return 0;
		}
		k = (size_t)(nl - data);
		if (p->line.len == 0) {
			/* the whole line is in this read: parse in place, but
			 * hold it to the same ceiling as a carried-over one */
			if (k > p->line.max) {
				mc_err_set(e, MC_ST_PARSE, 0,
				    "watch event line: input larger than %zu "
				    "bytes",
				    p->line.max);
				return -1;
			}
			if (deliver(p, data, k, e) == -1)
				return -1;
		} else {
			if (mc_buf_append(&p->line, data, k, e) == -1) {
				mc_err_prefix(e, "watch event line");
				return -1;
			}
			if (deliver(p, p->line.data, p->line.len, e) == -1)
				return -1;
			mc_buf_reset(&p->line);
		}
		data += k + 1;
		n -= k + 1;
	}
	return 0;
}

int
k8s_watch_parser_finish(struct k8s_watch_parser *p, struct mc_err *e)
{
	/* the last event may lack its newline: accept it if complete */
	if (p->stopped || is_blank(p->line.data, p->line.len))
		return 0;
	if (deliver(p, p->line.data, p->line.len, e) == -1) {
		mc_err_prefix(e, "stream ended inside an event");
		return -1;
	}
	mc_buf_reset(&p->line);
	return 0;
}

/* --- streams ------------------------------------------------------ */

struct k8s_watch {
	struct k8s_client *c;
	struct k8s_request *req;
	struct k8s_watch_parser parser;
	k8s_watch_end_fn on_end;
	void *arg;
	struct mc_err perr;
	bool in_feed;
	bool stopped;
};

static void
watch_free(struct k8s_watch *w)
{
	k8s_watch_parser_free(&w->parser);
	mc_free(w);
}

static int
watch_data(const char *p, size_t n, void *arg)
{
	struct k8s_watch *w = arg;
	int rc;

	w->in_feed = true;
	rc = k8s_watch_parser_feed(&w->parser, p, n, &w->perr);
	w->in_feed = false;
	if (w->stopped) {
		watch_free(w);
		return -1;
	}
	/* an event callback asked to stop: end the stream like EOF */
	if (rc == 0 && w->parser.stopped)
		return -1;
	return rc;
}

static void
watch_done(const struct k8s_response *r, void *arg)
{
	struct k8s_watch *w = arg;
	struct k8s_response res = *r;

	/* the request is ending: k8s_watch_stop() from a callback below
	 * must neither cancel it nor free w */
	w->req = NULL;
	w->in_feed = true;
	if (r->outcome == K8S_E_BAD_RESPONSE && w->parser.stopped) {
		/* stopped by the reader: a clean end */
		res.outcome = K8S_OK;
		mc_err_clear(&res.err);
	} else if (r->outcome == K8S_E_BAD_RESPONSE && w->perr.status != 0)
		res.err = w->perr;
	else if (r->outcome == K8S_OK &&
	    k8s_watch_parser_finish(&w->parser, &res.err) == -1)
		res.outcome = K8S_E_BAD_RESPONSE;
	if (w->on_end != NULL && !w->stopped)
		w->on_end(&res, w->arg);
	watch_free(w);
}

struct k8s_watch *
k8s_watch_start(struct k8s_client *c, const char *path,
    uint64_t idle_timeout_ms, k8s_event_fn on_event, k8s_watch_end_fn on_end,
    void *arg, struct mc_err *e)
{
	struct k8s_request_opts o;
	struct k8s_watch *w;

	if ((w = mc_calloc(1, sizeof(*w))) == NULL) {
		mc_err_set(e, MC_ST_NOMEM, 0, "out of memory");
		return NULL;
	}
	w->c = c;
	w->on_end = on_end;
	w->arg = arg;
	k8s_watch_parser_init(&w->parser, 0, on_event, arg);
	memset(&o, 0, sizeof(o));
	o.method = "GET";
	o.path = path;
	o.on_data = watch_data;
	o.on_done = watch_done;
	o.arg = w;
	o.idle_timeout_ms = idle_timeout_ms;
	o.max_retries = -1;
	if ((w->req = k8s_request_start(c, &o, e)) == NULL) {
		watch_free(w);
		return NULL;
	}
	return w;
}

void
k8s_watch_stop(struct k8s_watch *w)
{
	if (w == NULL || w->stopped)
		return;
	w->stopped = true;
	/* no more events, even from the read being parsed right now */
	w->parser.stopped = true;
	if (w->req != NULL)
		k8s_request_cancel(w->c, w->req);
	w->req = NULL;
	if (!w->in_feed)
		watch_free(w);
}
