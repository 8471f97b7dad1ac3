/*
 * scope.c: the namespace rules of scope.h. The selector comes from the
 * configuration (trusted); the namespace objects come from the API
 * server and are only read.
 */
#include <string.h>

#include "common/alloc.h"
#include "common/status.h"
#include "daemon/scope.h"

#define SELECTOR_TERMS_MAX 32

enum term_op { OP_EQ, OP_NE, OP_EXISTS, OP_ABSENT };

struct term {
	enum term_op op;
	char *key;
	char *value;
};

struct daemon_selector {
	struct term t[SELECTOR_TERMS_MAX];
	size_t n;
};

void
daemon_selector_free(struct daemon_selector *sel)
{
	size_t i;

	if (sel == NULL)
		return;
	for (i = 0; i < sel->n; i++) {
		mc_free(sel->t[i].key);
		mc_free(sel->t[i].value);
	}
	mc_free(sel);
}

static char *
trimmed(const char *p, size_t n)
{
	while (n > 0 && (*p == ' ' || *p == '\t')) {
		p++;
		n--;
	}
	while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\t'))
		n--;
	return mc_strndup(p, n);
}

static int
parse_term(struct term *t, const char *p, size_t n, struct mc_err *e)
{
	const char *op;
	size_t klen;

	if ((op = memchr(p, '=', n)) == NULL) {
		t->op = OP_EXISTS;
		while (n > 0 && *p == ' ') {
			p++;
			n--;
		}
		if (n > 0 && *p == '!') {
			t->op = OP_ABSENT;
			p++;
			n--;
		}
		t->key = trimmed(p, n);
		goto check;
	}
	klen = (size_t)(op - p);
	if (klen > 0 && p[klen - 1] == '!') {
		t->op = OP_NE;
		klen--;
	} else
		t->op = OP_EQ;
	op++;
	if ((size_t)(op - p) < n && *op == '=' && t->op == OP_EQ)
		op++;
	t->key = trimmed(p, klen);
	t->value = trimmed(op, n - (size_t)(op - p));
	if (t->value == NULL)
		goto nomem;
	if (strchr(t->value, '=') != NULL || strchr(t->value, '!') != NULL) {
		mc_err_set(e, MC_ST_USAGE, 0, "namespace-selector: bad value "
		    "\"%s\"", t->value);
		return -1;
	}
check:
	if (t->key == NULL)
		goto nomem;
	if (t->key[0] == '\0' || strchr(t->key, ' ') != NULL ||
	    strchr(t->key, '!') != NULL) {
		mc_err_set(e, MC_ST_USAGE, 0, "namespace-selector: bad key in "
		    "\"%.*s\"", (int)n, p);
		return -1;
	}
	return 0;
nomem:
	mc_err_set(e, MC_ST_NOMEM, 0, "namespace-selector: out of memory");
	return -1;
}

struct daemon_selector *
daemon_selector_parse(const char *s, struct mc_err *e)
{
	struct daemon_selector *sel;
	const char *p, *comma;
	size_t n;

	if ((sel = mc_calloc(1, sizeof(*sel))) == NULL) {
		mc_err_set(e, MC_ST_NOMEM, 0, "namespace-selector: out of "
		    "memory");
		return NULL;
	}
	if (s == NULL)
		return sel;
	for (p = s; *p != '\0'; p = comma + 1) {
		comma = strchr(p, ',');
		n = comma != NULL ? (size_t)(comma - p) : strlen(p);
		if (sel->n == SELECTOR_TERMS_MAX) {
			mc_err_set(e, MC_ST_USAGE, 0, "namespace-selector: more "
			    "than %d terms", SELECTOR_TERMS_MAX);
			goto fail;
		}
		if (parse_term(&sel->t[sel->n++], p, n, e) == -1)
			goto fail;
		if (comma == NULL)
			break;
	}
	return sel;
fail:
	daemon_selector_free(sel);
	return NULL;
}

bool
daemon_selector_matches(const struct daemon_selector *sel,
    const json_t *labels)
{
	const char *v;
	size_t i;

	if (sel == NULL)
		return true;
	for (i = 0; i < sel->n; i++) {
		v = json_string_value(json_object_get(labels, sel->t[i].key));
		switch (sel->t[i].op) {
		case OP_EQ:
			if (v == NULL || strcmp(v, sel->t[i].value) != 0)
				return false;
			break;
		case OP_NE:
			if (v != NULL && strcmp(v, sel->t[i].value) == 0)
				return false;
			break;
		case OP_EXISTS:
			if (v == NULL)
				return false;
			break;
		case OP_ABSENT:
			if (v != NULL)
				return false;
			break;
		}
	}
	return true;
}

static bool
on_list(const struct daemon_strlist *l, const char *s)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		if (strcmp(l->v[i], s) == 0)
			return true;
	return false;
}

bool
daemon_ns_managed(const struct daemon_config *c,
    const struct daemon_selector *sel, const json_t *ns)
{
	const json_t *meta = json_object_get(ns, "metadata");
	const json_t *labels = json_object_get(meta, "labels");
	const char *name, *phase, *ov, *env;

	name = json_string_value(json_object_get(meta, "name"));
	if (name == NULL)
		return false;
	phase = json_string_value(json_object_get(json_object_get(ns,
	    "status"), "phase"));
	if ((phase != NULL && strcmp(phase, "Terminating") == 0) ||
	    json_object_get(meta, "deletionTimestamp") != NULL)
		return false;
	if (on_list(&c->exclude_namespaces, name))
		return false;
	if (c->namespaces.n > 0 && !on_list(&c->namespaces, name))
		return false;
	if (!daemon_selector_matches(sel, labels))
		return false;
	/* Citadel's rule (istio security/pkg/k8s/namespace): the override
	 * label decides when it is "true" or "false". */
	ov = json_string_value(json_object_get(labels, DAEMON_LABEL_OVERRIDE));
	if (ov != NULL && strcmp(ov, "true") == 0)
		return true;
	if (ov != NULL && strcmp(ov, "false") == 0)
		return false;
	env = json_string_value(json_object_get(labels, DAEMON_LABEL_ENV));
	if (env != NULL && strcmp(env, c->ca_namespace) != 0)
		return false;
	return true;
}
