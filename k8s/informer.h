/*
 * informer.h: list-then-watch of one resource type with a local cache,
 * after client-go's Reflector (kubernetes-api.md §5): the caller sees
 * every object's ADDED / MODIFIED / DELETED once, in order, across watch
 * timeouts, resets and 410 relists, plus a "synced" callback after each
 * (re)list. Runs on a k8s_client's loop.
 */
#ifndef K8S_INFORMER_H
#define K8S_INFORMER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "common/err.h"
#include "k8s/http.h"
#include "k8s/rest.h"
#include "k8s/watch.h"

struct k8s_informer;

/*
 * One change. obj is the new state (for DELETED, the last state: the
 * watch event's object, or the cached copy when the deletion was found
 * by a relist); borrowed for the call, without managedFields.
 */
typedef void (*k8s_informer_event_fn)(struct k8s_informer *inf,
    enum k8s_event_type type, const json_t *obj, void *arg);
/* The cache now matches a complete list (after the first list and every
 * relist). */
typedef void (*k8s_informer_synced_fn)(struct k8s_informer *inf, void *arg);

struct k8s_informer_opts {
	const struct k8s_resource *res;
	const char *namespace; /* NULL: all namespaces */
	const char *label_selector;
	const char *field_selector;
	unsigned page_limit;	      /* 0: 500 */
	unsigned watch_timeout_min_s; /* 0: 300 (client-go) */
	unsigned watch_timeout_max_s; /* 0: 600 */
	uint64_t stall_timeout_ms;    /* no byte for this long: reconnect;
					   0: watch timeout + 30 s */
	uint64_t backoff_base_ms;     /* 0: 800 ms */
	uint64_t backoff_cap_ms;      /* 0: 30 s */
	k8s_informer_event_fn on_event;
	k8s_informer_synced_fn on_synced;
	void *arg;
};

struct k8s_informer_stats {
	uint64_t lists;	       /* complete (re)lists */
	uint64_t relists_410;  /* relists caused by 410 Expired/Gone */
	uint64_t watches;      /* watch requests started */
	uint64_t watch_errors; /* watches that ended abnormally */
	uint64_t bookmarks;
	uint64_t events;  /* events delivered to the caller */
	uint64_t skipped; /* objects without name or resourceVersion */
};

/* Creates the informer and starts listing. NULL with e set on failure. */
struct k8s_informer *k8s_informer_start(struct k8s_client *c,
    const struct k8s_informer_opts *opts, struct mc_err *e);

/* Stops everything and frees the cache. Not from its own callbacks.
 * NULL is fine. */
void k8s_informer_free(struct k8s_informer *inf);

/* True once the first list has completed. */
bool k8s_informer_has_synced(const struct k8s_informer *inf);

/* Number of cached objects. */
size_t k8s_informer_count(const struct k8s_informer *inf);

/* A new reference to the cached object ns/name (ns NULL for
 * cluster-scoped), or NULL. */
json_t *k8s_informer_get(const struct k8s_informer *inf, const char *ns,
    const char *name);

/* Calls fn for every cached object (a fresh json_t each time). */
int k8s_informer_foreach(const struct k8s_informer *inf,
    int (*fn)(const json_t *obj, void *arg), void *arg);

/* The resourceVersion the next watch starts from ("" before a list). */
const char *k8s_informer_resource_version(const struct k8s_informer *inf);

/* Bytes the cache holds (entries, keys, serialized objects, table). */
size_t k8s_informer_cache_bytes(const struct k8s_informer *inf);

void k8s_informer_get_stats(const struct k8s_informer *inf,
    struct k8s_informer_stats *st);

#endif /* K8S_INFORMER_H */
