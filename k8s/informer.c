/*
 * informer.c: list-then-watch with a local cache, after client-go's
 * Reflector and DeltaFIFO (kubernetes-api.md §5, §9). The list is read
 * page by page; the watch starts from the list's resourceVersion with
 * allowWatchBookmarks and a timeoutSeconds drawn from [300, 600]; every
 * event and bookmark advances the resourceVersion. A clean end re-watches
 * from there; a reset or a stalled stream re-watches after a backoff with
 * jitter; a 410 (HTTP, or an ERROR event in a 200 stream) relists with the
 * resourceVersion unset and compares the new list with the cache, so that
 * objects changed or deleted while the watch was down still reach the
 * caller, once: same resourceVersion means no event, a cached key missing
 * from the list is DELETED with its last known state.
 *
 * The cache keeps each object as compact serialized JSON in one
 * allocation with its key and resourceVersion (managedFields dropped):
 * 10,000 service accounts take a few MiB instead of the tens a tree of
 * json_t would. Objects come from the server and are checked only for
 * what the cache needs (metadata.name and metadata.resourceVersion).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "common/status.h"
#include "k8s/backoff.h"
#include "k8s/informer.h"

struct ent {
	struct ent *next;
	uint32_t hash;
	uint32_t gen; /* list pass that last saw it */
	uint32_t keylen, rvlen, jsonlen;
	char data[]; /* key NUL rv NUL json NUL */
};

/* A hash bucket: the head of a chain of entries. */
#define SLOT_SIZE sizeof(struct ent *)

struct k8s_informer {
	struct k8s_client *c;
	struct k8s_informer_opts o;
	char *ns, *label, *field;
	struct ent **tab;
	size_t nbuckets, count, bytes;
	uint32_t gen;
	char *rv;
	bool synced;
	struct k8s_list *list;
	struct k8s_watch *watch;
	bool w_expired, w_error, w_data;
	uint64_t w_started;
	struct k8s_backoff backoff;
	struct k8s_timer timer;
	struct k8s_informer_stats st;
};

static void start_list(void *arg);
static void start_watch(void *arg);

static uint32_t
fnv1a(const char *s, size_t n)
{
	uint32_t h = 2166136261u;
	size_t i;

	for (i = 0; i < n; i++) {
		h ^= (unsigned char)s[i];
		h *= 16777619u;
	}
	return h;
}

static const char *
ent_rv(const struct ent *e)
{
	return e->data + e->keylen + 1;
}

static const char *
ent_json(const struct ent *e)
{
	return e->data + e->keylen + 1 + e->rvlen + 1;
}

static size_t
ent_size(const struct ent *e)
{
	/* what malloc holds for it, roughly: header plus 16 of overhead */
	return sizeof(*e) + e->keylen + e->rvlen + e->jsonlen + 3 + 16;
}

static int
make_key(const struct k8s_informer *inf, const char *ns, const char *name,
    char *buf, size_t size, size_t *len)
{
	int n;

	n = snprintf(buf, size, "%s/%s", ns != NULL ? ns : "", name);
	if (n < 0 || (size_t)n >= size)
		return -1;
	*len = (size_t)n;
	return 0;
}

static struct ent **
ent_slot(const struct k8s_informer *inf, const char *key, size_t klen,
    uint32_t h)
{
	struct ent **pp;

	for (pp = &inf->tab[h & (inf->nbuckets - 1)]; *pp != NULL;
	     pp = &(*pp)->next)
		if ((*pp)->hash == h && (*pp)->keylen == klen &&
		    memcmp((*pp)->data, key, klen) == 0)
			return pp;
	return pp;
}

static int
grow(struct k8s_informer *inf)
{
	struct ent **nt, *e, *next;
	size_t i, n = inf->nbuckets * 2;

	if ((nt = mc_calloc(n, SLOT_SIZE)) == NULL)
		return -1;
	for (i = 0; i < inf->nbuckets; i++)
		for (e = inf->tab[i]; e != NULL; e = next) {
			next = e->next;
			e->next = nt[e->hash & (n - 1)];
			nt[e->hash & (n - 1)] = e;
		}
	mc_free(inf->tab);
	inf->tab = nt;
	inf->bytes += (n - inf->nbuckets) * SLOT_SIZE;
	inf->nbuckets = n;
	return 0;
}

/* Replaces or inserts key -> (rv, json) at *slot. */
static int
ent_store(struct k8s_informer *inf, struct ent **slot, const char *key,
    size_t klen, uint32_t h, const char *rv, const char *json)
{
	size_t rlen = strlen(rv), jlen = strlen(json);
	struct ent *e, *old = *slot;

	if (klen > UINT32_MAX || rlen > UINT32_MAX || jlen > UINT32_MAX ||
	    (e = mc_malloc(sizeof(*e) + klen + rlen + jlen + 3)) == NULL)
		return -1;
	e->hash = h;
	e->gen = inf->gen;
	e->keylen = (uint32_t)klen;
	e->rvlen = (uint32_t)rlen;
	e->jsonlen = (uint32_t)jlen;
	memcpy(e->data, key, klen);
	e->data[klen] = '\0';
	memcpy(e->data + klen + 1, rv, rlen + 1);
	memcpy(e->data + klen + 1 + rlen + 1, json, jlen + 1);
	if (old != NULL) {
		e->next = old->next;
		inf->bytes -= ent_size(old);
		mc_free(old);
	} else {
		e->next = NULL;
		inf->count++;
	}
	*slot = e;
	inf->bytes += ent_size(e);
	if (old == NULL && inf->count > inf->nbuckets)
		(void)grow(inf); /* a longer chain is only slower */
	return 0;
}

static void
ent_unlink(struct k8s_informer *inf, struct ent **slot)
{
	struct ent *e = *slot;

	*slot = e->next;
	inf->count--;
	inf->bytes -= ent_size(e);
	mc_free(e);
}

static void
set_rv(struct k8s_informer *inf, const char *rv)
{
	char *p;

	if (rv == NULL || *rv == '\0' ||
	    (inf->rv != NULL && strcmp(inf->rv, rv) == 0))
		return;
	if ((p = mc_strdup(rv)) == NULL)
		return; /* keep the older one: a re-watch replays */
	mc_free(inf->rv);
	inf->rv = p;
}

static void
deliver(struct k8s_informer *inf, enum k8s_event_type t, const json_t *obj)
{
	inf->st.events++;
	if (inf->o.on_event != NULL)
		inf->o.on_event(inf, t, obj, inf->o.arg);
}

/*
 * Applies one object state to the cache and tells the caller if it is
 * news. type is ADDED/MODIFIED (a state) or DELETED.
 */
static int
apply(struct k8s_informer *inf, enum k8s_event_type type, json_t *obj,
    struct mc_err *e)
{
	const char *name = k8s_obj_name(obj), *ns = k8s_obj_namespace(obj);
	const char *rv = k8s_obj_rv(obj);
	char key[512];
	struct ent **slot;
	size_t klen;
	uint32_t h;
	char *json;
	int rc;

	if (name == NULL || rv == NULL) {
		mc_err_set(e, MC_ST_PARSE, 0,
		    "%s: object without "
		    "metadata.name or metadata.resourceVersion",
		    inf->o.res->plural);
		return -1;
	}
	if (make_key(inf, ns, name, key, sizeof(key), &klen) == -1) {
		mc_err_set(e, MC_ST_PARSE, 0, "%s: name too long",
		    inf->o.res->plural);
		return -1;
	}
	/* kubernetes-api.md §3: managedFields is the server's; drop it */
	json_object_del(json_object_get(obj, "metadata"), "managedFields");
	h = fnv1a(key, klen);
	slot = ent_slot(inf, key, klen, h);
	if (type == K8S_EV_DELETED) {
		if (*slot == NULL)
			return 0; /* never seen, or already gone */
		ent_unlink(inf, slot);
		deliver(inf, K8S_EV_DELETED, obj);
		return 0;
	}
	if (*slot != NULL && strcmp(ent_rv(*slot), rv) == 0) {
		/* resourceVersion is opaque: equal means unchanged */
		(*slot)->gen = inf->gen;
		return 0;
	}
	if ((json = json_dumps(obj, JSON_COMPACT)) == NULL) {
		mc_err_set(e, MC_ST_NOMEM, 0, "out of memory");
		return -1;
	}
	type = *slot != NULL ? K8S_EV_MODIFIED : K8S_EV_ADDED;
	rc = ent_store(inf, slot, key, klen, h, rv, json);
	free(json);
	if (rc == -1) {
		mc_err_set(e, MC_ST_NOMEM, 0, "out of memory");
		return -1;
	}
	deliver(inf, type, obj);
	return 0;
}

/*
 * apply(), but an object the cache cannot hold (no name or
 * resourceVersion, a name too long) is counted and skipped: refusing it
 * would relist or re-watch into the same object forever. -1 only when
 * memory ran out.
 */
static int
apply_or_skip(struct k8s_informer *inf, enum k8s_event_type type, json_t *obj)
{
	struct mc_err e = { 0 };

	if (apply(inf, type, obj, &e) == 0)
		return 0;
	if (e.status == MC_ST_NOMEM)
		return -1;
	inf->st.skipped++;
	return 0;
}

/* After a complete list: what the list did not show is gone. */
static void
sweep_stale(struct k8s_informer *inf)
{
	struct ent **pp;
	json_t *obj;
	size_t i;

	for (i = 0; i < inf->nbuckets; i++) {
		pp = &inf->tab[i];
		while (*pp != NULL) {
			if ((*pp)->gen == inf->gen) {
				pp = &(*pp)->next;
				continue;
			}
			obj = json_loads(ent_json(*pp), 0, NULL);
			ent_unlink(inf, pp);
			if (obj != NULL)
				deliver(inf, K8S_EV_DELETED, obj);
			json_decref(obj);
		}
	}
}

static void
retry_later(struct k8s_informer *inf, void (*fn)(void *))
{
	k8s_timer_arm(inf->c, &inf->timer, k8s_backoff_next(&inf->backoff), fn,
	    inf);
}

static int
on_page(json_t *items, const char *rv, bool first, void *arg)
{
	struct k8s_informer *inf = arg;
	size_t i;

	for (i = 0; i < json_array_size(items); i++)
		if (apply_or_skip(inf, K8S_EV_ADDED,
			json_array_get(items, i)) == -1)
			return -1;
	return 0;
}

static void
on_list_done(const struct k8s_list_result *res, void *arg)
{
	struct k8s_informer *inf = arg;

	inf->list = NULL;
	if (res->resp->outcome != K8S_OK) {
		retry_later(inf, start_list);
		return;
	}
	sweep_stale(inf);
	mc_free(inf->rv);
	inf->rv = NULL;
	set_rv(inf, res->resource_version);
	inf->synced = true;
	inf->st.lists++;
	k8s_backoff_reset(&inf->backoff);
	if (inf->o.on_synced != NULL)
		inf->o.on_synced(inf, inf->o.arg);
	start_watch(inf);
}

static void
start_list(void *arg)
{
	struct k8s_informer *inf = arg;
	struct k8s_list_opts lo;

	memset(&lo, 0, sizeof(lo));
	lo.label_selector = inf->label;
	lo.field_selector = inf->field;
	lo.limit = inf->o.page_limit;
	/* a new pass: entries not seen again are deleted at the end */
	inf->gen++;
	inf->list = k8s_list_start(inf->c, inf->o.res, inf->ns, &lo, on_page,
	    on_list_done, inf, NULL);
	if (inf->list == NULL)
		retry_later(inf, start_list);
}

static int
on_wevent(enum k8s_event_type type, json_t *obj, void *arg)
{
	struct k8s_informer *inf = arg;
	struct k8s_status st;

	inf->w_data = true;
	switch (type) {
	case K8S_EV_ERROR:
		memset(&st, 0, sizeof(st));
		if (k8s_status_from_json(obj, 500, &st, NULL) == 0 &&
		    (st.code == 410 ||
			(st.reason != NULL &&
			    (strcmp(st.reason, "Expired") == 0 ||
				strcmp(st.reason, "Gone") == 0))))
			inf->w_expired = true;
		else
			inf->w_error = true;
		k8s_status_clear(&st);
		return 1;
	case K8S_EV_BOOKMARK:
		/* only metadata.resourceVersion means anything (§5) */
		inf->st.bookmarks++;
		set_rv(inf, k8s_obj_rv(obj));
		k8s_backoff_reset(&inf->backoff);
		return 0;
	default:
		if (apply_or_skip(inf, type, obj) == -1) {
			inf->w_error = true;
			return 1;
		}
		set_rv(inf, k8s_obj_rv(obj));
		k8s_backoff_reset(&inf->backoff);
		return 0;
	}
}

static void
on_wend(const struct k8s_response *r, void *arg)
{
	struct k8s_informer *inf = arg;

	inf->watch = NULL;
	if (inf->w_expired || r->outcome == K8S_E_EXPIRED) {
		/* §5: relist with the resourceVersion unset */
		inf->st.relists_410++;
		start_list(inf);
		return;
	}
	if (r->outcome == K8S_OK && !inf->w_error &&
	    (inf->w_data || k8s_now_ms() - inf->w_started >= 1000)) {
		start_watch(inf); /* timeoutSeconds ran out: go on */
		return;
	}
	inf->st.watch_errors++;
	retry_later(inf, inf->rv == NULL ? start_list : start_watch);
}

static void
start_watch(void *arg)
{
	struct k8s_informer *inf = arg;
	struct mc_buf p;
	char tmo[16];
	unsigned t;
	uint64_t stall;

	if (inf->rv == NULL) {
		start_list(inf);
		return;
	}
	mc_buf_init(&p, 32768);
	t = (unsigned)k8s_rand_between(inf->o.watch_timeout_min_s,
	    inf->o.watch_timeout_max_s);
	snprintf(tmo, sizeof(tmo), "%u", t);
	stall = inf->o.stall_timeout_ms != 0 ? inf->o.stall_timeout_ms :
					       (uint64_t)t * 1000 + 30000;
	inf->w_expired = inf->w_error = inf->w_data = false;
	inf->w_started = k8s_now_ms();
	if (k8s_path(&p, inf->o.res, inf->ns, NULL, NULL) == -1 ||
	    k8s_query(&p, "watch", "1", NULL) == -1 ||
	    k8s_query(&p, "resourceVersion", inf->rv, NULL) == -1 ||
	    k8s_query(&p, "allowWatchBookmarks", "true", NULL) == -1 ||
	    k8s_query(&p, "timeoutSeconds", tmo, NULL) == -1 ||
	    k8s_query(&p, "labelSelector", inf->label, NULL) == -1 ||
	    k8s_query(&p, "fieldSelector", inf->field, NULL) == -1 ||
	    (inf->watch = k8s_watch_start(inf->c, p.data, stall, on_wevent,
		 on_wend, inf, NULL)) == NULL)
		retry_later(inf, start_watch);
	else
		inf->st.watches++;
	mc_buf_free(&p);
}

struct k8s_informer *
k8s_informer_start(struct k8s_client *c, const struct k8s_informer_opts *o,
    struct mc_err *e)
{
	struct k8s_informer *inf;

	if (o == NULL || o->res == NULL) {
		mc_err_set(e, MC_ST_USAGE, 0, "informer: no resource");
		return NULL;
	}
	if ((inf = mc_calloc(1, sizeof(*inf))) == NULL)
		goto nomem;
	inf->c = c;
	inf->o = *o;
	if (inf->o.watch_timeout_min_s == 0)
		inf->o.watch_timeout_min_s = 300;
	if (inf->o.watch_timeout_max_s < inf->o.watch_timeout_min_s)
		inf->o.watch_timeout_max_s = inf->o.watch_timeout_min_s > 600 ?
		    inf->o.watch_timeout_min_s :
		    600;
	k8s_backoff_init(&inf->backoff,
	    o->backoff_base_ms != 0 ? o->backoff_base_ms : 800,
	    o->backoff_cap_ms != 0 ? o->backoff_cap_ms : 30000);
	inf->nbuckets = 64;
	if ((inf->tab = mc_calloc(inf->nbuckets, SLOT_SIZE)) == NULL)
		goto nomem;
	inf->bytes = sizeof(*inf) + inf->nbuckets * SLOT_SIZE;
	if ((o->namespace != NULL &&
		(inf->ns = mc_strdup(o->namespace)) == NULL) ||
	    (o->label_selector != NULL &&
		(inf->label = mc_strdup(o->label_selector)) == NULL) ||
	    (o->field_selector != NULL &&
		(inf->field = mc_strdup(o->field_selector)) == NULL))
		goto nomem;
	inf->o.namespace = inf->o.label_selector = inf->o.field_selector = NULL;
	start_list(inf);
	return inf;
nomem:
	mc_err_set(e, MC_ST_NOMEM, 0, "out of memory");
	k8s_informer_free(inf);
	return NULL;
}

void
k8s_informer_free(struct k8s_informer *inf)
{
	struct ent *e, *next;
	size_t i;

	if (inf == NULL)
		return;
	k8s_list_cancel(inf->list);
	k8s_watch_stop(inf->watch);
	k8s_timer_cancel(inf->c, &inf->timer);
	for (i = 0; inf->tab != NULL && i < inf->nbuckets; i++)
		for (e = inf->tab[i]; e != NULL; e = next) {
			next = e->next;
			mc_free(e);
		}
	mc_free(inf->tab);
	mc_free(inf->ns);
	mc_free(inf->label);
	mc_free(inf->field);
	mc_free(inf->rv);
	mc_free(inf);
}

bool
k8s_informer_has_synced(const struct k8s_informer *inf)
{
	return inf->synced;
}

size_t
k8s_informer_count(const struct k8s_informer *inf)
{
	return inf->count;
}

json_t *
k8s_informer_get(const struct k8s_informer *inf, const char *ns,
    const char *name)
{
	struct ent **slot;
	char key[512];
	size_t klen;

	if (name == NULL ||
	    make_key(inf, ns, name, key, sizeof(key), &klen) == -1)
		return NULL;
	slot = ent_slot(inf, key, klen, fnv1a(key, klen));
	return *slot == NULL ? NULL : json_loads(ent_json(*slot), 0, NULL);
}

int
k8s_informer_foreach(const struct k8s_informer *inf,
    int (*fn)(const json_t *, void *), void *arg)
{
	struct ent *e;
	json_t *obj;
	size_t i;
	int rc;

	for (i = 0; i < inf->nbuckets; i++)
		for (e = inf->tab[i]; e != NULL; e = e->next) {
			if ((obj = json_loads(ent_json(e), 0, NULL)) == NULL)
				return -1;
			rc = fn(obj, arg);
			json_decref(obj);
			if (rc == -1)
				return -1;
		}
	return 0;
}

const char *
k8s_informer_resource_version(const struct k8s_informer *inf)
{
	return inf->rv != NULL ? inf->rv : "";
}

size_t
k8s_informer_cache_bytes(const struct k8s_informer *inf)
{
	return inf->bytes;
}

void
k8s_informer_get_stats(const struct k8s_informer *inf,
    struct k8s_informer_stats *st)
{
	*st = inf->st;
}
