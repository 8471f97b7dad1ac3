/*
 * rest.c: the Kubernetes REST verbs (kubernetes-api.md §2) on top of
 * http.c. Builds paths and queries with every caller-supplied segment
 * percent-encoded, so a name or selector can never change the path or add
 * a parameter; serializes JSON bodies; and runs lists page by page with
 * limit/continue. The server's answers are not trusted: a list page
 * without an items array or a resourceVersion is rejected.
 */
#include <stdio.h>
#include <string.h>

#include "common/alloc.h"
#include "common/status.h"
#include "k8s/rest.h"

const struct k8s_resource k8s_res_secrets = { "/api/v1", "secrets", true };
const struct k8s_resource k8s_res_configmaps = { "/api/v1", "configmaps",
	true };
const struct k8s_resource k8s_res_serviceaccounts = { "/api/v1",
	"serviceaccounts", true };
const struct k8s_resource k8s_res_namespaces = { "/api/v1", "namespaces",
	false };
const struct k8s_resource k8s_res_leases = { "/apis/coordination.k8s.io/v1",
	"leases", true };

#define PATH_MAX_LEN (16u << 10)
/* Bodies we send: a Secret is at most 1 MiB of data, base64 adds a third. */
#define BODY_MAX (3u << 20)

int
k8s_escape(struct mc_buf *b, const char *s, struct mc_err *e)
{
	static const char hex[] = "0123456789ABCDEF";
	char enc[3];
	const unsigned char *p;

	for (p = (const unsigned char *)s; *p != '\0'; p++) {
		/* RFC 3986 §2.3 unreserved */
		if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		    (*p >= '0' && *p <= '9') || *p == '-' || *p == '.' ||
		    *p == '_' || *p == '~') {
			if (mc_buf_append(b, p, 1, e) == -1)
				return -1;
			continue;
		}
		enc[0] = '%';
		enc[1] = hex[*p >> 4];
		enc[2] = hex[*p & 15];
		if (mc_buf_append(b, enc, 3, e) == -1)
			return -1;
	}
	return 0;
}

static int
segment(struct mc_buf *b, const char *what, const char *s, struct mc_err *e)
{
	/* "." and ".." would be resolved away by URL normalization */
	if (*s == '\0' || strcmp(s, ".") == 0 || strcmp(s, "..") == 0) {
		mc_err_set(e, MC_ST_USAGE, 0,
		    "%s \"%s\" is not a valid path "
		    "segment",
		    what, s);
		return -1;
	}
	if (mc_buf_puts(b, "/", e) == -1)
		return -1;
	return k8s_escape(b, s, e);
}

int
k8s_path(struct mc_buf *b, const struct k8s_resource *res, const char *ns,
    const char *name, struct mc_err *e)
{
	if (mc_buf_puts(b, res->prefix, e) == -1)
		return -1;
	if (res->namespaced && ns != NULL) {
		if (mc_buf_puts(b, "/namespaces", e) == -1 ||
		    segment(b, "namespace", ns, e) == -1)
			return -1;
	} else if (res->namespaced && name != NULL) {
		mc_err_set(e, MC_ST_USAGE, 0,
		    "%s \"%s\": a namespace is "
		    "required",
		    res->plural, name);
		return -1;
	}
	if (mc_buf_puts(b, "/", e) == -1 ||
	    mc_buf_puts(b, res->plural, e) == -1)
		return -1;
	if (name != NULL && segment(b, "name", name, e) == -1)
		return -1;
	return 0;
}

int
k8s_query(struct mc_buf *b, const char *key, const char *value,
    struct mc_err *e)
{
	if (value == NULL)
		return 0;
	if (mc_buf_puts(b,
		memchr(b->data != NULL ? b->data : "", '?', b->len) != NULL ?
		    "&" :
		    "?",
		e) == -1 ||
	    k8s_escape(b, key, e) == -1 || mc_buf_puts(b, "=", e) == -1)
		return -1;
	return k8s_escape(b, value, e);
}

static const char *
meta_str(const json_t *obj, const char *key)
{
	return json_string_value(json_object_get(json_object_get(obj,
						     "metadata"),
	    key));
}

const char *
k8s_obj_name(const json_t *obj)
{
	return meta_str(obj, "name");
}

const char *
k8s_obj_namespace(const json_t *obj)
{
	return meta_str(obj, "namespace");
}

const char *
k8s_obj_rv(const json_t *obj)
{
	return meta_str(obj, "resourceVersion");
}

static struct k8s_request *
rest_send(struct k8s_client *c, const char *method, const char *path,
    const char *ctype, const json_t *body, k8s_done_fn fn, void *arg,
    struct mc_err *e)
{
	struct k8s_request_opts o;
	struct k8s_request *r;
	char *s = NULL;

	memset(&o, 0, sizeof(o));
	o.method = method;
	o.path = path;
	o.content_type = ctype;
	o.on_done = fn;
	o.arg = arg;
	o.max_retries = -1;
	if (body != NULL) {
		if ((s = json_dumps(body, JSON_COMPACT)) == NULL) {
			mc_err_set(e, MC_ST_NOMEM, 0,
			    "%s %s: cannot serialize the body", method, path);
			return NULL;
		}
		o.body = s;
		o.body_len = strlen(s);
		if (o.body_len > BODY_MAX) {
			mc_err_set(e, MC_ST_USAGE, 0,
			    "%s %s: body of %zu "
			    "bytes exceeds %u",
			    method, path, o.body_len, BODY_MAX);
			free(s);
			return NULL;
		}
	}
	r = k8s_request_start(c, &o, e);
	free(s); /* json_dumps allocates with jansson's malloc */
	return r;
}

struct k8s_request *
k8s_get(struct k8s_client *c, const struct k8s_resource *res, const char *ns,
    const char *name, k8s_done_fn fn, void *arg, struct mc_err *e)
{
	struct k8s_request *r = NULL;
	struct mc_buf p;

	mc_buf_init(&p, PATH_MAX_LEN);
	if (name == NULL)
		mc_err_set(e, MC_ST_USAGE, 0, "get %s: no name", res->plural);
	else if (k8s_path(&p, res, ns, name, e) == 0)
		r = rest_send(c, "GET", p.data, NULL, NULL, fn, arg, e);
	mc_buf_free(&p);
	return r;
}

struct k8s_request *
k8s_create(struct k8s_client *c, const struct k8s_resource *res, const char *ns,
    const json_t *obj, k8s_done_fn fn, void *arg, struct mc_err *e)
{
	struct k8s_request *r = NULL;
	const char *ons = k8s_obj_namespace(obj);
	struct mc_buf p;

	mc_buf_init(&p, PATH_MAX_LEN);
	if (!json_is_object(obj))
		mc_err_set(e, MC_ST_USAGE, 0, "create %s: not an object",
		    res->plural);
	else if (res->namespaced && ns == NULL)
		mc_err_set(e, MC_ST_USAGE, 0, "create %s: no namespace",
		    res->plural);
	else if (ons != NULL && ns != NULL && strcmp(ons, ns) != 0)
		/* the server would answer 400 (kubernetes-api.md §2) */
		mc_err_set(e, MC_ST_USAGE, 0,
		    "create %s: metadata.namespace "
		    "\"%s\" differs from \"%s\"",
		    res->plural, ons, ns);
	else if (k8s_path(&p, res, ns, NULL, e) == 0)
		r = rest_send(c, "POST", p.data, NULL, obj, fn, arg, e);
	mc_buf_free(&p);
	return r;
}

struct k8s_request *
k8s_update(struct k8s_client *c, const struct k8s_resource *res, const char *ns,
    const json_t *obj, k8s_done_fn fn, void *arg, struct mc_err *e)
{
	struct k8s_request *r = NULL;
	const char *name = k8s_obj_name(obj);
	struct mc_buf p;

	mc_buf_init(&p, PATH_MAX_LEN);
	if (name == NULL)
		mc_err_set(e, MC_ST_USAGE, 0,
		    "update %s: object has no "
		    "metadata.name",
		    res->plural);
	else if (k8s_path(&p, res, ns, name, e) == 0)
		r = rest_send(c, "PUT", p.data, NULL, obj, fn, arg, e);
	mc_buf_free(&p);
	return r;
}

struct k8s_request *
k8s_patch_merge(struct k8s_client *c, const struct k8s_resource *res,
    const char *ns, const char *name, const json_t *patch, k8s_done_fn fn,
    void *arg, struct mc_err *e)
{
	struct k8s_request *r = NULL;
	struct mc_buf p;

	mc_buf_init(&p, PATH_MAX_LEN);
	if (name == NULL || !json_is_object(patch))
		mc_err_set(e, MC_ST_USAGE, 0,
		    "patch %s: needs a name and an "
		    "object",
		    res->plural);
	else if (k8s_path(&p, res, ns, name, e) == 0)
		r = rest_send(c, "PATCH", p.data,
		    "application/merge-patch+json", patch, fn, arg, e);
	mc_buf_free(&p);
	return r;
}

struct k8s_request *
k8s_delete(struct k8s_client *c, const struct k8s_resource *res, const char *ns,
    const char *name, const char *uid, const char *rv, k8s_done_fn fn,
    void *arg, struct mc_err *e)
{
	struct k8s_request *r = NULL;
	json_t *opts = NULL, *pre = NULL;
	struct mc_buf p;

	mc_buf_init(&p, PATH_MAX_LEN);
	if (name == NULL) {
		mc_err_set(e, MC_ST_USAGE, 0, "delete %s: no name",
		    res->plural);
		goto out;
	}
	if (k8s_path(&p, res, ns, name, e) == -1)
		goto out;
	if (uid != NULL || rv != NULL) {
		/* DeleteOptions.preconditions (kubernetes-api.md §2) */
		opts = json_pack("{s:s, s:s, s:{}}", "kind", "DeleteOptions",
		    "apiVersion", "v1", "preconditions");
		pre = json_object_get(opts, "preconditions");
		if (opts == NULL ||
		    (uid != NULL &&
			json_object_set_new(pre, "uid", json_string(uid)) ==
			    -1) ||
		    (rv != NULL &&
			json_object_set_new(pre, "resourceVersion",
			    json_string(rv)) == -1)) {
			mc_err_set(e, MC_ST_NOMEM, 0, "out of memory");
			goto out;
		}
	}
	r = rest_send(c, "DELETE", p.data, NULL, opts, fn, arg, e);
out:
	json_decref(opts);
	mc_buf_free(&p);
	return r;
}

/* --- paginated lists ---------------------------------------------- */

struct k8s_list {
	struct k8s_client *c;
	struct mc_buf base; /* path and fixed query */
	struct k8s_list_opts o;
	char *label, *field, *rv_param;
	k8s_page_fn on_page;
	k8s_list_fn on_done;
	void *arg;
	struct k8s_request *req;
	json_t *items;
	char *rv; /* the list RV, from the first page */
	unsigned pages, restarts;
	bool first;
	bool cancelled, in_cb;
};

static void
list_free(struct k8s_list *l)
{
	if (l == NULL)
		return;
	mc_buf_free(&l->base);
	mc_free(l->label);
	mc_free(l->field);
	mc_free(l->rv_param);
	json_decref(l->items);
	mc_free(l->rv);
	mc_free(l);
}

static int list_next(struct k8s_list *l, const char *cont, struct mc_err *e);

static void
list_end(struct k8s_list *l, const struct k8s_response *r)
{
	struct k8s_list_result res;

	memset(&res, 0, sizeof(res));
	res.resp = r;
	res.items = l->items;
	res.resource_version = l->rv;
	res.pages = l->pages;
	res.restarts = l->restarts;
	l->req = NULL;
	l->in_cb = true;
	if (l->on_done != NULL && !l->cancelled)
		l->on_done(&res, l->arg);
	list_free(l);
}

int
k8s_list_page_parse(json_t *body, bool first, const char *what,
    struct k8s_list_page *pg, struct mc_err *e)
{
	json_t *items, *meta;

	memset(pg, 0, sizeof(*pg));
	if (!json_is_object(body)) {
		mc_err_set(e, MC_ST_PARSE, 0,
		    "list %s: the answer is not a JSON object", what);
		return -1;
	}
	items = json_object_get(body, "items");
	meta = json_object_get(body, "metadata");
	if (!json_is_array(items) && !json_is_null(items) && items != NULL) {
		mc_err_set(e, MC_ST_PARSE, 0, "list %s: \"items\" is not an array",
		    what);
		return -1;
	}
	pg->items = json_is_array(items) ? items : NULL;
	pg->rv = json_string_value(json_object_get(meta, "resourceVersion"));
	pg->cont = json_string_value(json_object_get(meta, "continue"));
	if (first && pg->rv == NULL) {
		mc_err_set(e, MC_ST_PARSE, 0,
		    "list %s: no metadata.resourceVersion", what);
		return -1;
	}
	return 0;
}

static void
list_page(const struct k8s_response *r, void *arg)
{
	struct k8s_list *l = arg;
	struct k8s_response fail;
	struct k8s_list_page pg;
	int rc;

	l->req = NULL;
	if (r->outcome == K8S_E_EXPIRED && !l->first &&
	    l->restarts < l->o.max_restarts) {
		/* kubernetes-api.md §2: an expired continue token means
		 * "start the list again" */
		l->restarts++;
		l->first = true;
		mc_free(l->rv);
		l->rv = NULL;
		if (l->items != NULL)
			json_array_clear(l->items);
		memset(&fail, 0, sizeof(fail));
		if (list_next(l, NULL, &fail.err) == -1) {
			fail.outcome = K8S_E_OTHER;
			list_end(l, &fail);
		}
		return;
	}
	if (r->outcome != K8S_OK) {
		list_end(l, r);
		return;
	}
	memset(&fail, 0, sizeof(fail));
	fail.http_code = r->http_code;
	fail.attempts = r->attempts;
	fail.outcome = K8S_E_BAD_RESPONSE;
	if (k8s_list_page_parse(k8s_response_body(r), l->first, l->base.data,
		&pg, &fail.err) == -1) {
		list_end(l, &fail);
		return;
	}
	if (l->first && (l->rv = mc_strdup(pg.rv)) == NULL) {
		/* as before the parser was split out: the outcome stays
		 * K8S_E_BAD_RESPONSE */
		mc_err_set(&fail.err, MC_ST_PARSE, 0,
		    "list %s: no metadata.resourceVersion", l->base.data);
		list_end(l, &fail);
		return;
	}
	l->pages++;
	if (pg.items != NULL) {
		if (l->on_page != NULL) {
			l->in_cb = true;
			rc = l->on_page(pg.items, l->rv, l->first, l->arg);
			l->in_cb = false;
			if (l->cancelled) {
				list_free(l);
				return;
			}
			if (rc == -1) {
				mc_err_set(&fail.err, MC_ST_REJECTED, 0,
				    "list %s: page rejected by its reader",
				    l->base.data);
				list_end(l, &fail);
				return;
			}
		} else if (json_array_extend(l->items, pg.items) == -1) {
			fail.outcome = K8S_E_OTHER;
			mc_err_set(&fail.err, MC_ST_NOMEM, 0, "out of memory");
			list_end(l, &fail);
			return;
		}
	}
	l->first = false;
	if (pg.cont == NULL || *pg.cont == '\0') {
		list_end(l, r);
		return;
	}
	if (list_next(l, pg.cont, &fail.err) == -1) {
		fail.outcome = K8S_E_OTHER;
		list_end(l, &fail);
	}
}

static int
list_next(struct k8s_list *l, const char *cont, struct mc_err *e)
{
	struct k8s_request_opts o;
	struct mc_buf p;
	char lim[16];
	int rc = -1;

	mc_buf_init(&p, PATH_MAX_LEN + 8192);
	snprintf(lim, sizeof(lim), "%u", l->o.limit);
	if (mc_buf_append(&p, l->base.data, l->base.len, e) == -1 ||
	    k8s_query(&p, "labelSelector", l->label, e) == -1 ||
	    k8s_query(&p, "fieldSelector", l->field, e) == -1 ||
	    k8s_query(&p, "limit", lim, e) == -1 ||
	    /* resourceVersion cannot go with continue (§2) */
	    k8s_query(&p, "resourceVersion", cont == NULL ? l->rv_param : NULL,
		e) == -1 ||
	    k8s_query(&p, "continue", cont, e) == -1)
		goto out;
	memset(&o, 0, sizeof(o));
	o.method = "GET";
	o.path = p.data;
	o.on_done = list_page;
	o.arg = l;
	o.max_retries = -1;
	if ((l->req = k8s_request_start(l->c, &o, e)) == NULL)
		goto out;
	rc = 0;
out:
	mc_buf_free(&p);
	return rc;
}

struct k8s_list *
k8s_list_start(struct k8s_client *c, const struct k8s_resource *res,
    const char *ns, const struct k8s_list_opts *opts, k8s_page_fn on_page,
    k8s_list_fn on_done, void *arg, struct mc_err *e)
{
	struct k8s_list *l;

	if ((l = mc_calloc(1, sizeof(*l))) == NULL) {
		mc_err_set(e, MC_ST_NOMEM, 0, "out of memory");
		return NULL;
	}
	l->c = c;
	mc_buf_init(&l->base, PATH_MAX_LEN);
	if (opts != NULL)
		l->o = *opts;
	if (l->o.limit == 0)
		l->o.limit = 500;
	if (l->o.max_restarts == 0)
		l->o.max_restarts = 5;
	l->on_page = on_page;
	l->on_done = on_done;
	l->arg = arg;
	l->first = true;
	if ((l->o.label_selector != NULL &&
		(l->label = mc_strdup(l->o.label_selector)) == NULL) ||
	    (l->o.field_selector != NULL &&
		(l->field = mc_strdup(l->o.field_selector)) == NULL) ||
	    (l->o.resource_version != NULL &&
		(l->rv_param = mc_strdup(l->o.resource_version)) == NULL) ||
	    (on_page == NULL && (l->items = json_array()) == NULL)) {
		mc_err_set(e, MC_ST_NOMEM, 0, "out of memory");
		goto fail;
	}
	l->o.label_selector = l->o.field_selector = NULL;
	l->o.resource_version = NULL;
	if (k8s_path(&l->base, res, ns, NULL, e) == -1 ||
	    list_next(l, NULL, e) == -1)
		goto fail;
	return l;
fail:
	list_free(l);
	return NULL;
}

void
k8s_list_cancel(struct k8s_list *l)
{
	if (l == NULL || l->cancelled)
		return;
	l->cancelled = true;
	if (l->in_cb)
		return;
	if (l->req != NULL)
		k8s_request_cancel(l->c, l->req);
	list_free(l);
}
