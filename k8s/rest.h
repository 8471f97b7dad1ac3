/*
 * rest.h: the REST verbs of the Kubernetes API on JSON objects
 * (kubernetes-api.md §2): get, list (every page), create, update, merge
 * patch and delete, for the resources meshca uses. All calls are
 * asynchronous: they start requests on a k8s_client and report through a
 * callback from k8s_client_run_once(), so many can be in flight at once.
 */
#ifndef K8S_REST_H
#define K8S_REST_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "common/buf.h"
#include "common/err.h"
#include "k8s/http.h"

/* A resource type: where it lives and whether it is namespaced. */
struct k8s_resource {
	const char *prefix; /* "/api/v1", "/apis/coordination.k8s.io/v1" */
	const char *plural; /* "secrets" */
	bool namespaced;
};

extern const struct k8s_resource k8s_res_secrets;
extern const struct k8s_resource k8s_res_configmaps;
extern const struct k8s_resource k8s_res_serviceaccounts;
extern const struct k8s_resource k8s_res_namespaces;
extern const struct k8s_resource k8s_res_leases;

/*
 * Appends the escaped path of a collection (name NULL) or of one object
 * to b. ns NULL (or a cluster-scoped resource) gives the all-namespaces
 * path. Every segment is percent-encoded (RFC 3986 §2.1) except the
 * unreserved characters. -1 with e set when ns or name is empty.
 */
int k8s_path(struct mc_buf *b, const struct k8s_resource *res, const char *ns,
    const char *name, struct mc_err *e);

/* Appends "?k=v" or "&k=v" with v percent-encoded; v NULL skips. */
int k8s_query(struct mc_buf *b, const char *key, const char *value,
    struct mc_err *e);

/* Percent-encodes s onto b (everything but RFC 3986 unreserved). */
int k8s_escape(struct mc_buf *b, const char *s, struct mc_err *e);

/* Borrowed metadata fields of an object (NULL when absent). */
const char *k8s_obj_name(const json_t *obj);
const char *k8s_obj_namespace(const json_t *obj);
const char *k8s_obj_rv(const json_t *obj);

/*
 * The verbs. fn receives the response (r->body holds the object the
 * server returned on success; r->outcome says what happened, e.g.
 * K8S_E_ALREADY_EXISTS for a create, K8S_E_CONFLICT for a stale update).
 * Each returns the request handle (for k8s_request_cancel) or NULL with e
 * set, in which case fn is never called.
 */
struct k8s_request *k8s_get(struct k8s_client *c,
    const struct k8s_resource *res, const char *ns, const char *name,
    k8s_done_fn fn, void *arg, struct mc_err *e);
/* POST; success is 201 (200 and 202 are accepted too). Writes are
 * retried after a dropped connection or a 5xx, so a create the server
 * did carry out before the connection died comes back AlreadyExists:
 * treat that as "GET and reconcile" (kubernetes-api.md §4). */
struct k8s_request *k8s_create(struct k8s_client *c,
    const struct k8s_resource *res, const char *ns, const json_t *obj,
    k8s_done_fn fn, void *arg, struct mc_err *e);
/* PUT of the whole object; its metadata.name names it and its
 * metadata.resourceVersion, if any, is the precondition. */
struct k8s_request *k8s_update(struct k8s_client *c,
    const struct k8s_resource *res, const char *ns, const json_t *obj,
    k8s_done_fn fn, void *arg, struct mc_err *e);
/* PATCH with application/merge-patch+json (RFC 7386). */
struct k8s_request *k8s_patch_merge(struct k8s_client *c,
    const struct k8s_resource *res, const char *ns, const char *name,
    const json_t *patch, k8s_done_fn fn, void *arg, struct mc_err *e);
/* DELETE; uid and rv (either may be NULL) become preconditions. */
struct k8s_request *k8s_delete(struct k8s_client *c,
    const struct k8s_resource *res, const char *ns, const char *name,
    const char *uid, const char *rv, k8s_done_fn fn, void *arg,
    struct mc_err *e);

struct k8s_list_opts {
	const char *label_selector;
	const char *field_selector;
	const char *resource_version; /* NULL: a consistent read */
	unsigned limit;		      /* page size; 0: 500 as kubectl */
	unsigned max_restarts;	      /* expired continue tokens; 0: 5 */
};

struct k8s_list_result {
	const struct k8s_response *resp; /* the last page's response */
	json_t *items;			 /* every item, when no page callback */
	const char *resource_version;	 /* the list's RV (first page's) */
	unsigned pages;
	unsigned restarts; /* times a 410 on a continue token restarted */
};

/*
 * Called with each page's items array (borrowed) and the list RV; first
 * is true on the first page of each pass (after a restart the items come
 * again from the start). -1 aborts the list.
 */
typedef int (*k8s_page_fn)(json_t *items, const char *rv, bool first,
    void *arg);
typedef void (*k8s_list_fn)(const struct k8s_list_result *res, void *arg);

struct k8s_list;

/* One page of a List answer; the fields are borrowed from its body. */
struct k8s_list_page {
	json_t *items;	  /* the items array; NULL when absent or null */
	const char *rv;	  /* metadata.resourceVersion; NULL when absent */
	const char *cont; /* metadata.continue; NULL or "" on the last page */
};

/*
 * Reads one page of a List answer (kubernetes-api.md §2): body must be an
 * object whose "items" is an array (absent or null: no items) and, on the
 * first page of a pass (first), whose metadata.resourceVersion is a
 * string. what names the list in error text (its path). -1 with e set
 * (MC_ST_PARSE) otherwise. The list loop of k8s_list_start() runs each
 * page through it; fuzz/fuzz_k8s_list.c feeds it arbitrary bodies.
 */
int k8s_list_page_parse(json_t *body, bool first, const char *what,
    struct k8s_list_page *pg, struct mc_err *e);

/*
 * Lists a collection page by page until "continue" is empty, restarting
 * from the beginning when a continue token has expired (410). With
 * on_page NULL the items are gathered into res->items. ns NULL lists all
 * namespaces.
 */
struct k8s_list *k8s_list_start(struct k8s_client *c,
    const struct k8s_resource *res, const char *ns,
    const struct k8s_list_opts *opts, k8s_page_fn on_page, k8s_list_fn on_done,
    void *arg, struct mc_err *e);

/* Stops a list; on_done is not called. Not from its own on_page. */
void k8s_list_cancel(struct k8s_list *l);

#endif /* K8S_REST_H */
