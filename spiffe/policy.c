/*
 * policy.c: secure naming. Authorizers decide whether a SPIFFE ID may
 * act for something; a policy maps service names to authorizers and
 * answers "may this peer run service S?".
 *
 * Policy documents come from configuration files and are parsed as
 * untrusted input: bounded in size and nesting before jansson sees them,
 * then checked against the one shape policy.h defines, rejecting every
 * unknown key, so a typo ("trust_domian") is an error rather than a
 * silently wider or narrower policy. IDs and trust domains are checked
 * with the SPIFFE ID rules of spiffe/id.c.
 *
 * Lookups are binary searches over arrays sorted when built: a policy is
 * read-only once shared, so any number of handshakes may consult it at
 * once without locking.
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include <meshca/policy.h>

#include "common/alloc.h"
#include "common/buf.h"
#include "common/err.h"
#include "common/status.h"
#include "spiffe/api.h"
#include "spiffe/policy.h"
#include "spiffe/svid.h"

/* Deepest nesting the format has: {services:{name:{ids:[...]}}}. */
#define POLICY_DEPTH_MAX 4

enum authz_kind {
	AUTHZ_IDS,
	AUTHZ_TRUST_DOMAIN,
	AUTHZ_ANY
};

struct meshca_authorizer {
	atomic_int refs;
	enum authz_kind kind;
	char *td;			/* AUTHZ_TRUST_DOMAIN */
	struct meshca_id **ids;		/* AUTHZ_IDS, sorted, unique */
	size_t nids;
};

struct policy_entry {
	char *service;
	struct meshca_authorizer *a;
};

struct meshca_policy {
	atomic_int refs;
	struct policy_entry *v;		/* sorted by service */
	size_t n;
	size_t cap;
};

int
spiffe_service_check(const char *what, const char *service, struct mc_err *e)
{
	size_t i, len;

	if (service == NULL) {
		mc_err_set(e, MC_ST_USAGE, 0, "%s: NULL service name", what);
		return -1;
	}
	len = strlen(service);
	if (len == 0 || len > MESHCA_SERVICE_MAX) {
		mc_err_set(e, MC_ST_USAGE, 0,
		    "%s: service name of %zu bytes, allowed 1 to %u", what, len,
		    MESHCA_SERVICE_MAX);
		return -1;
	}
	for (i = 0; i < len; i++) {
		if ((unsigned char)service[i] < 0x20 || service[i] == 0x7f) {
			mc_err_set(e, MC_ST_USAGE, 0, "%s: service name has "
			    "a control character at byte %zu", what, i);
			return -1;
		}
	}
	return 0;
}

static struct meshca_authorizer *
authz_alloc(enum authz_kind kind, struct mc_err *e)
{
	struct meshca_authorizer *a;

	if ((a = mc_calloc(1, sizeof(*a))) == NULL) {
		mc_err_set(e, MC_ST_NOMEM, 0, "authorizer: out of memory");
		return NULL;
	}
	atomic_init(&a->refs, 1);
	a->kind = kind;
	return a;
}

static int
authz_id_cmp(const void *pa, const void *pb)
{
	const struct meshca_id *const *a = pa, *const *b = pb;

	return strcmp(meshca_id_get0_string(*a), meshca_id_get0_string(*b));
}

MESHCA_API enum meshca_status
meshca_authorizer_one_of(const struct meshca_id *const *ids, size_t n,
    struct meshca_authorizer **out, struct meshca_error *err)
{
	struct mc_err e = { 0 };
	struct meshca_authorizer *a = NULL;
	size_t i, j;

	if (ids == NULL || n == 0 || out == NULL) {
		mc_err_set(&e, MC_ST_USAGE, 0, "authorizer: %s",
		    out == NULL ? "out is NULL" : "no IDs given");
		goto out;
	}
	for (i = 0; i < n; i++) {
		if (ids[i] == NULL) {
			mc_err_set(&e, MC_ST_USAGE, 0,
			    "authorizer: ID %zu is NULL", i);
			goto out;
		}
	}
	if ((a = authz_alloc(AUTHZ_IDS, &e)) == NULL)
		goto out;
	if ((a->ids = mc_calloc(n, sizeof(struct meshca_id *))) == NULL) {
		mc_err_set(&e, MC_ST_NOMEM, 0, "authorizer: out of memory");
		goto out;
	}
	for (i = 0; i < n; i++) {
		if ((a->ids[i] = meshca_id_dup(ids[i])) == NULL) {
			mc_err_set(&e, MC_ST_NOMEM, 0,
			    "authorizer: out of memory");
			goto out;
		}
		a->nids++;
	}
	qsort(a->ids, a->nids, sizeof(struct meshca_id *), authz_id_cmp);
	/* Drop repeats so the array stays a set. */
	for (i = j = 1; i < a->nids; i++) {
		if (meshca_id_equal(a->ids[i], a->ids[j - 1]))
			meshca_id_free(a->ids[i]);
		else
			a->ids[j++] = a->ids[i];
	}
	a->nids = j;
	*out = a;
	a = NULL;
out:
	meshca_authorizer_free(a);
	return e.status == MC_ST_OK ? MESHCA_OK : spiffe_api_error(&e, err);
}

MESHCA_API enum meshca_status
meshca_authorizer_id(const struct meshca_id *id,
    struct meshca_authorizer **out, struct meshca_error *err)
{
	struct mc_err e = { 0 };

	if (id == NULL) {
		mc_err_set(&e, MC_ST_USAGE, 0, "authorizer: NULL ID");
		return spiffe_api_error(&e, err);
	}
	return meshca_authorizer_one_of(&id, 1, out, err);
}

MESHCA_API enum meshca_status
meshca_authorizer_trust_domain(const char *td, struct meshca_authorizer **out,
    struct meshca_error *err)
{
	struct mc_err e = { 0 };
	struct meshca_authorizer *a = NULL;
	enum meshca_status st;

	if (td == NULL || out == NULL) {
		mc_err_set(&e, MC_ST_USAGE, 0, "authorizer: NULL %s",
		    td == NULL ? "trust domain" : "out");
		return spiffe_api_error(&e, err);
	}
	if ((st = meshca_trust_domain_check(td, strlen(td), err)) != MESHCA_OK)
		return st;
	if ((a = authz_alloc(AUTHZ_TRUST_DOMAIN, &e)) == NULL)
		return spiffe_api_error(&e, err);
	if ((a->td = mc_strdup(td)) == NULL) {
		meshca_authorizer_free(a);
		mc_err_set(&e, MC_ST_NOMEM, 0, "authorizer: out of memory");
		return spiffe_api_error(&e, err);
	}
	*out = a;
	return MESHCA_OK;
}

MESHCA_API enum meshca_status
meshca_authorizer_any(struct meshca_authorizer **out,
    struct meshca_error *err)
{
	struct mc_err e = { 0 };
	struct meshca_authorizer *a;

	if (out == NULL) {
		mc_err_set(&e, MC_ST_USAGE, 0, "authorizer: out is NULL");
		return spiffe_api_error(&e, err);
	}
	if ((a = authz_alloc(AUTHZ_ANY, &e)) == NULL)
		return spiffe_api_error(&e, err);
	*out = a;
	return MESHCA_OK;
}

MESHCA_API struct meshca_authorizer *
meshca_authorizer_up_ref(struct meshca_authorizer *a)
{
	if (a != NULL)
		atomic_fetch_add(&a->refs, 1);
	return a;
}

MESHCA_API void
meshca_authorizer_free(struct meshca_authorizer *a)
{
	size_t i;

	if (a == NULL || atomic_fetch_sub(&a->refs, 1) != 1)
		return;
	for (i = 0; i < a->nids; i++)
		meshca_id_free(a->ids[i]);
	mc_free(a->ids);
	mc_free(a->td);
	mc_free(a);
}

MESHCA_API bool
meshca_authorizer_allows(const struct meshca_authorizer *a,
    const struct meshca_id *id)
{
	if (a == NULL || id == NULL)
		return false;
	switch (a->kind) {
	case AUTHZ_ANY:
		return true;
	case AUTHZ_TRUST_DOMAIN:
		return meshca_id_is_member_of(id, a->td);
	case AUTHZ_IDS:
		return bsearch(&id, a->ids, a->nids,
		    sizeof(struct meshca_id *), authz_id_cmp) != NULL;
	}
	return false;
}

/* A policy with no services and one reference. */
static struct meshca_policy *
policy_alloc(struct mc_err *e)
{
	struct meshca_policy *p;

	if ((p = mc_calloc(1, sizeof(*p))) == NULL) {
		mc_err_set(e, MC_ST_NOMEM, 0, "policy: out of memory");
		return NULL;
	}
	atomic_init(&p->refs, 1);
	return p;
}

MESHCA_API enum meshca_status
meshca_policy_new(struct meshca_policy **out, struct meshca_error *err)
{
	struct mc_err e = { 0 };
	struct meshca_policy *p;

	if (out == NULL) {
		mc_err_set(&e, MC_ST_USAGE, 0, "policy: out is NULL");
		return spiffe_api_error(&e, err);
	}
	if ((p = policy_alloc(&e)) == NULL)
		return spiffe_api_error(&e, err);
	*out = p;
	return MESHCA_OK;
}

MESHCA_API struct meshca_policy *
meshca_policy_up_ref(struct meshca_policy *p)
{
	if (p != NULL)
		atomic_fetch_add(&p->refs, 1);
	return p;
}

MESHCA_API void
meshca_policy_free(struct meshca_policy *p)
{
	size_t i;

	if (p == NULL || atomic_fetch_sub(&p->refs, 1) != 1)
		return;
	for (i = 0; i < p->n; i++) {
		mc_free(p->v[i].service);
		meshca_authorizer_free(p->v[i].a);
	}
	mc_free(p->v);
	mc_free(p);
}

/* The index of service in p, or where it would go (*found false). */
static size_t
policy_find(const struct meshca_policy *p, const char *service, bool *found)
{
	size_t lo = 0, hi = p->n, mid;
	int c;

	*found = false;
	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		c = strcmp(service, p->v[mid].service);
		if (c == 0) {
			*found = true;
			return mid;
		}
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return lo;
}

static int
policy_add(struct meshca_policy *p, const char *service,
    struct meshca_authorizer *a, struct mc_err *e)
{
	struct policy_entry *nv;
	size_t i, ncap;
	bool found;
	char *s = NULL;

	if (spiffe_service_check("policy", service, e) == -1)
		goto fail;
	i = policy_find(p, service, &found);
	if (found) {
		mc_err_set(e, MC_ST_USAGE, 0,
		    "policy: service \"%s\" given twice", service);
		goto fail;
	}
	if ((s = mc_strdup(service)) == NULL)
		goto nomem;
	if (p->n == p->cap) {
		ncap = p->cap == 0 ? 8 : p->cap * 2;
		if ((nv = mc_realloc(p->v, ncap * sizeof(*nv))) == NULL)
			goto nomem;
		p->v = nv;
		p->cap = ncap;
	}
	memmove(&p->v[i + 1], &p->v[i], (p->n - i) * sizeof(*p->v));
	p->v[i].service = s;
	p->v[i].a = a;
	p->n++;
	return 0;
nomem:
	mc_err_set(e, MC_ST_NOMEM, 0, "policy: out of memory");
fail:
	mc_free(s);
	meshca_authorizer_free(a);
	return -1;
}

MESHCA_API enum meshca_status
meshca_policy_add(struct meshca_policy *p, const char *service,
    struct meshca_authorizer *a, struct meshca_error *err)
{
	struct mc_err e = { 0 };

	if (p == NULL || a == NULL) {
		meshca_authorizer_free(a);
		mc_err_set(&e, MC_ST_USAGE, 0, "policy: NULL %s",
		    p == NULL ? "policy" : "authorizer");
		return spiffe_api_error(&e, err);
	}
	if (policy_add(p, service, a, &e) == -1)
		return spiffe_api_error(&e, err);
	return MESHCA_OK;
}

MESHCA_API bool
meshca_policy_allows(const struct meshca_policy *p, const char *service,
    const struct meshca_id *id)
{
	size_t i;
	bool found;

	if (p == NULL || service == NULL || id == NULL)
		return false;
	i = policy_find(p, service, &found);
	return found && meshca_authorizer_allows(p->v[i].a, id);
}

/*
 * Bounds the nesting of a JSON text before it is parsed, so a document
 * of a million '[' costs a linear scan instead of a deep parse.
 */
static int
policy_check_depth(const char *data, size_t len, struct mc_err *e)
{
	size_t i, depth = 0;
	bool instr = false;

	for (i = 0; i < len; i++) {
		if (instr) {
			if (data[i] == '\\')
				i++;
			else if (data[i] == '"')
				instr = false;
			continue;
		}
		if (data[i] == '"')
			instr = true;
		else if (data[i] == '{' || data[i] == '[') {
			if (++depth > POLICY_DEPTH_MAX) {
				mc_err_set(e, MC_ST_PARSE, 0, "policy: byte "
				    "%zu: nesting deeper than %d", i,
				    POLICY_DEPTH_MAX);
				return -1;
			}
		} else if ((data[i] == '}' || data[i] == ']') && depth > 0)
			depth--;
	}
	return 0;
}

static struct meshca_authorizer *
policy_parse_service(const char *name, json_t *o, struct mc_err *e)
{
	struct meshca_authorizer *a = NULL;
	struct meshca_id **ids = NULL;
	struct meshca_error merr;
	const char *key;
	json_t *val, *item;
	size_t i, n = 0;

	if (!json_is_object(o) || json_object_size(o) != 1) {
		mc_err_set(e, MC_ST_PARSE, 0, "policy: services.\"%s\": must "
		    "be an object with one of \"ids\", \"trust_domain\", "
		    "\"any\"", name);
		goto out;
	}
	json_object_foreach(o, key, val) {
		if (strcmp(key, "any") == 0) {
			if (!json_is_true(val)) {
				mc_err_set(e, MC_ST_PARSE, 0, "policy: "
				    "services.\"%s\".any: must be true", name);
				goto out;
			}
			if (meshca_authorizer_any(&a, &merr) != MESHCA_OK)
				goto merr;
		} else if (strcmp(key, "trust_domain") == 0) {
			if (!json_is_string(val)) {
				mc_err_set(e, MC_ST_PARSE, 0,
				    "policy: services.\"%s\".trust_domain: "
				    "must be a string", name);
				goto out;
			}
			if (meshca_trust_domain_check(json_string_value(val),
			    json_string_length(val), &merr) != MESHCA_OK ||
			    meshca_authorizer_trust_domain(
			    json_string_value(val), &a, &merr) != MESHCA_OK) {
				mc_err_set(e, merr.status, merr.reason,
				    "policy: services.\"%s\".trust_domain: %s",
				    name, merr.message);
				goto out;
			}
		} else if (strcmp(key, "ids") == 0) {
			if (!json_is_array(val) || json_array_size(val) == 0) {
				mc_err_set(e, MC_ST_PARSE, 0,
				    "policy: services.\"%s\".ids: must be a "
				    "non-empty array", name);
				goto out;
			}
			if ((ids = mc_calloc(json_array_size(val),
			    sizeof(struct meshca_id *))) == NULL) {
				mc_err_set(e, MC_ST_NOMEM, 0,
				    "policy: out of memory");
				goto out;
			}
			json_array_foreach(val, i, item) {
				if (!json_is_string(item)) {
					mc_err_set(e, MC_ST_PARSE, 0, "policy: "
					    "services.\"%s\".ids[%zu]: must be "
					    "a string", name, i);
					goto out;
				}
				if (meshca_id_parse(json_string_value(item),
				    json_string_length(item), &ids[n],
				    &merr) != MESHCA_OK) {
					mc_err_set(e, merr.status, merr.reason,
					    "policy: services.\"%s\".ids[%zu]: "
					    "%s", name, i, merr.message);
					goto out;
				}
				n++;
			}
			if (meshca_authorizer_one_of(
			    (const struct meshca_id *const *)ids, n, &a,
			    &merr) != MESHCA_OK)
				goto merr;
		} else {
			mc_err_set(e, MC_ST_PARSE, 0,
			    "policy: services.\"%s\": unknown key \"%s\" "
			    "(allowed: \"ids\", \"trust_domain\", \"any\")",
			    name, key);
			goto out;
		}
	}
	goto out;
merr:
	mc_err_set(e, merr.status, merr.reason, "policy: services.\"%s\": %s",
	    name, merr.message);
out:
	for (i = 0; i < n; i++)
		meshca_id_free(ids[i]);
	mc_free(ids);
	return a;
}

MESHCA_API enum meshca_status
meshca_policy_parse_json(const char *data, size_t len,
    struct meshca_policy **out, struct meshca_error *err)
{
	struct mc_err e = { 0 };
	struct meshca_policy *p = NULL;
	struct meshca_authorizer *a;
	json_t *root = NULL, *services = NULL, *val;
	json_error_t jerr;
	const char *key;
	size_t i;

	if (data == NULL || out == NULL) {
		mc_err_set(&e, MC_ST_USAGE, 0, "policy: NULL %s",
		    data == NULL ? "data" : "out");
		goto out;
	}
	if (len > MESHCA_POLICY_MAX) {
		mc_err_set(&e, MC_ST_PARSE, 0,
		    "policy: %zu bytes exceeds the %u-byte limit", len,
		    MESHCA_POLICY_MAX);
		goto out;
	}
	if (policy_check_depth(data, len, &e) == -1)
		goto out;
	if ((root = json_loadb(data, len, JSON_REJECT_DUPLICATES, &jerr)) ==
	    NULL) {
		if (json_error_code(&jerr) == json_error_out_of_memory) {
			mc_err_set(&e, MC_ST_NOMEM, 0, "policy: out of memory");
			goto out;
		}
		/* jansson quotes the input near the error: keep the
		 * message printable. */
		for (i = 0; jerr.text[i] != '\0'; i++)
			if (jerr.text[i] < 0x20 || jerr.text[i] > 0x7e)
				jerr.text[i] = '?';
		mc_err_set(&e, MC_ST_PARSE, 0, "policy: line %d column %d: %s",
		    jerr.line, jerr.column, jerr.text);
		goto out;
	}
	if (!json_is_object(root)) {
		mc_err_set(&e, MC_ST_PARSE, 0,
		    "policy: top level must be an object");
		goto out;
	}
	json_object_foreach(root, key, val) {
		if (strcmp(key, "services") != 0) {
			mc_err_set(&e, MC_ST_PARSE, 0, "policy: unknown key "
			    "\"%s\" at top level (allowed: \"services\")", key);
			goto out;
		}
		services = val;
	}
	if (services == NULL || !json_is_object(services)) {
		mc_err_set(&e, MC_ST_PARSE, 0, "policy: services: %s",
		    services == NULL ? "missing" : "must be an object");
		goto out;
	}
	if ((p = policy_alloc(&e)) == NULL)
		goto out;
	json_object_foreach(services, key, val) {
		if (spiffe_service_check("policy", key, &e) == -1) {
			e.status = MC_ST_PARSE;
			goto out;
		}
		if ((a = policy_parse_service(key, val, &e)) == NULL)
			goto out;
		if (policy_add(p, key, a, &e) == -1)
			goto out;
	}
	*out = p;
	p = NULL;
out:
	json_decref(root);
	meshca_policy_free(p);
	return e.status == MC_ST_OK ? MESHCA_OK : spiffe_api_error(&e, err);
}

static enum meshca_status
policy_parse_file(const char *data, size_t len, void *arg,
    struct meshca_error *err)
{
	return meshca_policy_parse_json(data, len, arg, err);
}

MESHCA_API enum meshca_status
meshca_policy_load_file(const char *path, struct meshca_policy **out,
    struct meshca_error *err)
{
	struct mc_err e = { 0 };

	if (path == NULL || out == NULL) {
		mc_err_set(&e, MC_ST_USAGE, 0, "policy: NULL %s",
		    path == NULL ? "path" : "out");
		return spiffe_api_error(&e, err);
	}
	return spiffe_load_file(path, MESHCA_POLICY_MAX, policy_parse_file, out,
	    err);
}

MESHCA_API enum meshca_status
meshca_policy_check_chain(const struct meshca_policy *p,
    struct meshca_verifier *v, const char *service, const char *chain_pem,
    size_t len, struct meshca_id **peer_out, struct meshca_error *err)
{
	struct mc_err e = { 0 };
	struct meshca_id *id = NULL;
	enum meshca_status st;

	if (p == NULL || v == NULL || service == NULL || chain_pem == NULL) {
		mc_err_set(&e, MC_ST_USAGE, 0, "policy: NULL %s",
		    p == NULL ? "policy" : v == NULL ? "verifier" :
		    service == NULL ? "service" : "chain");
		return spiffe_api_error(&e, err);
	}
	if ((st = meshca_verify_chain_pem(v, chain_pem, len, &id, err)) !=
	    MESHCA_OK)
		return st;
	if (!meshca_policy_allows(p, service, id)) {
		mc_err_set(&e, MC_ST_REJECTED, MESHCA_REASON_NOT_AUTHORIZED,
		    "leaf: secure naming: \"%s\" may not run service \"%s\"",
		    meshca_id_get0_string(id), service);
		meshca_id_free(id);
		return spiffe_api_error(&e, err);
	}
	if (peer_out != NULL)
		*peer_out = id;
	else
		meshca_id_free(id);
	return MESHCA_OK;
}
