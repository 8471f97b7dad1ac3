/*
 * config.c: builds a struct k8s_config from kubeconfig files (parsed with
 * libyaml's document loader) or from the in-cluster service-account
 * files, following the field list of kubernetes-api.md §7. The files are
 * trusted as far as their owner is (they hold credentials), but they are
 * still parsed defensively: every file is size-bounded, every field is
 * type-checked, base64 is decoded strictly, and a missing or unknown
 * context, cluster or user is an error naming it. tls-server-name is
 * applied by http.c (SNI and certificate name, connection to the server's
 * address).
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

#include "common/alloc.h"
#include "common/b64.h"
#include "common/buf.h"
#include "common/status.h"
#include "k8s/backoff.h"
#include "k8s/config.h"

/* One parsed kubeconfig file. */
struct kc_file {
	char *path;
	char *dir; /* directory part, for relative names */
	yaml_document_t doc;
	bool loaded;
};

static char *
dup_or_null(const char *s, struct mc_err *e)
{
	char *p;

	if (s == NULL)
		return NULL;
	if ((p = mc_strdup(s)) == NULL)
		mc_err_set(e, MC_ST_NOMEM, 0, "out of memory");
	return p;
}

char *
k8s_base64_decode(const char *in, size_t inlen, size_t *outlen,
    struct mc_err *e)
{
	unsigned char *out;

	if (mc_b64_decode(in, inlen, MC_B64_SKIP_CRLF, &out, outlen, e) == -1)
		return NULL;
	return (char *)out;
}

/* --- YAML helpers ------------------------------------------------- */

static yaml_node_t *
ynode(struct kc_file *f, int id)
{
	return id == 0 ? NULL : yaml_document_get_node(&f->doc, id);
}

static const char *
yscalar(yaml_node_t *n)
{
	if (n == NULL || n->type != YAML_SCALAR_NODE)
		return NULL;
	return (const char *)n->data.scalar.value;
}

static yaml_node_t *
ymap_get(struct kc_file *f, yaml_node_t *map, const char *key)
{
	yaml_node_pair_t *p;
	const char *k;

	if (map == NULL || map->type != YAML_MAPPING_NODE)
		return NULL;
	for (p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top;
	     p++) {
		k = yscalar(ynode(f, p->key));
		if (k != NULL && strcmp(k, key) == 0)
			return ynode(f, p->value);
	}
	return NULL;
}

/* A string field: absent/null gives NULL and 0; a non-scalar is -1. */
static int
ystr(struct kc_file *f, yaml_node_t *map, const char *key, const char *what,
    const char **out, struct mc_err *e)
{
	yaml_node_t *n = ymap_get(f, map, key);

	*out = NULL;
	if (n == NULL)
		return 0;
	if (n->type != YAML_SCALAR_NODE) {
		mc_err_set(e, MC_ST_PARSE, 0, "%s: %s.%s: not a string",
		    f->path, what, key);
		return -1;
	}
	*out = yscalar(n);
	if (n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE &&
	    (strcmp(*out, "null") == 0 || strcmp(*out, "~") == 0 ||
		**out == '\0'))
		*out = NULL;
	return 0;
}

/*
 * Finds the element of the sequence root[list] whose "name" is name and
 * returns its member field (e.g. clusters[name=x].cluster).
 */
static int
ynamed(struct kc_file *f, const char *list, const char *name, const char *field,
    yaml_node_t **out, struct mc_err *e)
{
	yaml_node_t *seq, *el, *nm;
	yaml_node_item_t *it;

	*out = NULL;
	seq = ymap_get(f, yaml_document_get_root_node(&f->doc), list);
	if (seq == NULL ||
	    (seq->type == YAML_SCALAR_NODE &&
		strcmp(yscalar(seq), "null") == 0))
		return 0;
	if (seq->type != YAML_SEQUENCE_NODE) {
		mc_err_set(e, MC_ST_PARSE, 0, "%s: %s: not a list", f->path,
		    list);
		return -1;
	}
	for (it = seq->data.sequence.items.start;
	     it < seq->data.sequence.items.top; it++) {
		el = ynode(f, *it);
		nm = ymap_get(f, el, "name");
		if (yscalar(nm) == NULL || strcmp(yscalar(nm), name) != 0)
			continue;
		*out = ymap_get(f, el, field);
		if (*out == NULL || (*out)->type != YAML_MAPPING_NODE) {
			mc_err_set(e, MC_ST_PARSE, 0,
			    "%s: %s[name=%s].%s: missing or not a mapping",
			    f->path, list, name, field);
			return -1;
		}
		return 0;
	}
	return 0;
}

static int
kc_load(struct kc_file *f, const char *path, struct mc_err *e)
{
	yaml_parser_t parser;
	struct mc_buf b;
	yaml_node_t *root;
	const char *slash;
	int rc = -1;

	mc_buf_init(&b, K8S_KUBECONFIG_MAX);
	memset(&parser, 0, sizeof(parser));
	if ((f->path = mc_strdup(path)) == NULL)
		goto nomem;
	slash = strrchr(path, '/');
	f->dir = slash == NULL ?
	    mc_strdup(".") :
	    mc_strndup(path, slash == path ? 1 : (size_t)(slash - path));
	if (f->dir == NULL)
		goto nomem;
	if (mc_buf_read_file(&b, path, e) == -1) {
		mc_err_prefix(e, "kubeconfig");
		goto out;
	}
	if (!yaml_parser_initialize(&parser))
		goto nomem;
	yaml_parser_set_input_string(&parser, (const unsigned char *)b.data,
	    b.len);
	if (!yaml_parser_load(&parser, &f->doc)) {
		mc_err_set(e, MC_ST_PARSE, 0, "%s: line %zu: YAML: %s", path,
		    parser.problem_mark.line + 1,
		    parser.problem != NULL ? parser.problem : "malformed");
		goto out;
	}
	f->loaded = true;
	root = yaml_document_get_root_node(&f->doc);
	/* An empty file is an empty config, as for kubectl. */
	if (root != NULL && root->type != YAML_MAPPING_NODE) {
		mc_err_set(e, MC_ST_PARSE, 0,
		    "%s: kubeconfig: top level is not a mapping", path);
		goto out;
	}
	rc = 0;
	goto out;
nomem:
	mc_err_set(e, MC_ST_NOMEM, 0, "out of memory");
out:
	yaml_parser_delete(&parser);
	mc_buf_free(&b);
	return rc;
}

static void
kc_free(struct kc_file *f)
{
	if (f->loaded)
		yaml_document_delete(&f->doc);
	mc_free(f->path);
	mc_free(f->dir);
}

/* name relative to dir unless absolute. */
static char *
resolve(const char *dir, const char *name, struct mc_err *e)
{
	struct mc_buf b;

	if (name[0] == '/')
		return dup_or_null(name, e);
	mc_buf_init(&b, PATH_MAX);
	if (mc_buf_printf(&b, e, "%s/%s", dir, name) == -1) {
		mc_buf_free(&b);
		return NULL;
	}
	return mc_buf_steal(&b, NULL);
}

/* Reads a (file, data) pair such as certificate-authority(-data). */
static int
file_or_data(struct kc_file *f, yaml_node_t *map, const char *what,
    const char *fkey, const char *dkey, char **file, char **data, size_t *len,
    struct mc_err *e)
{
	const char *fv, *dv;

	if (ystr(f, map, fkey, what, &fv, e) == -1 ||
	    ystr(f, map, dkey, what, &dv, e) == -1)
		return -1;
	if (dv != NULL) {
		/* the -data form wins, as in client-go */
		if ((*data = k8s_base64_decode(dv, strlen(dv), len, e)) ==
		    NULL) {
			mc_err_prefix(e, "%s: %s.%s", f->path, what, dkey);
			return -1;
		}
		return 0;
	}
	if (fv != NULL && (*file = resolve(f->dir, fv, e)) == NULL)
		return -1;
	return 0;
}

static int
kc_cluster(struct k8s_config *c, struct kc_file *f, yaml_node_t *cl,
    const char *name, struct mc_err *e)
{
	const char *server, *insecure, *sni, *proxy;
	char what[128];

	snprintf(what, sizeof(what), "clusters[name=%s].cluster", name);
	if (ystr(f, cl, "server", what, &server, e) == -1 ||
	    ystr(f, cl, "insecure-skip-tls-verify", what, &insecure, e) == -1 ||
	    ystr(f, cl, "tls-server-name", what, &sni, e) == -1 ||
	    ystr(f, cl, "proxy-url", what, &proxy, e) == -1)
		return -1;
	if (server == NULL) {
		mc_err_set(e, MC_ST_PARSE, 0, "%s: %s.server: missing", f->path,
		    what);
		return -1;
	}
	if (strncmp(server, "https://", 8) != 0 &&
	    strncmp(server, "http://", 7) != 0) {
		mc_err_set(e, MC_ST_PARSE, 0,
		    "%s: %s.server: \"%s\" is not an http(s) URL", f->path,
		    what, server);
		return -1;
	}
	if ((c->server = dup_or_null(server, e)) == NULL)
		return -1;
	while (strlen(c->server) > 1 && c->server[strlen(c->server) - 1] == '/')
		c->server[strlen(c->server) - 1] = '\0';
	/* only an explicit true disables verification */
	c->insecure = insecure != NULL && strcmp(insecure, "true") == 0;
	if ((sni != NULL &&
		(c->tls_server_name = dup_or_null(sni, e)) == NULL) ||
	    (proxy != NULL && (c->proxy_url = dup_or_null(proxy, e)) == NULL))
		return -1;
	if (file_or_data(f, cl, what, "certificate-authority",
		"certificate-authority-data", &c->ca_file, &c->ca_data,
		&c->ca_data_len, e) == -1)
		return -1;
	/* client-go (rest.Config validation): "specifying a root
	 * certificates file with the insecure flag is not allowed" */
	if (c->insecure && (c->ca_file != NULL || c->ca_data != NULL)) {
		mc_err_set(e, MC_ST_PARSE, 0,
		    "%s: %s: insecure-skip-tls-verify with a "
		    "certificate-authority is not allowed",
		    f->path, what);
		return -1;
	}
	return 0;
}

static int
kc_user(struct k8s_config *c, struct kc_file *f, yaml_node_t *u,
    const char *name, struct mc_err *e)
{
	const char *token, *tfile;
	char what[128];

	snprintf(what, sizeof(what), "users[name=%s].user", name);
	if (ymap_get(f, u, "exec") != NULL ||
	    ymap_get(f, u, "auth-provider") != NULL) {
		mc_err_set(e, MC_ST_USAGE, 0,
		    "%s: %s: exec and auth-provider credentials are not "
		    "supported; use a token, tokenFile or client certificate",
		    f->path, what);
		return -1;
	}
	if (ystr(f, u, "token", what, &token, e) == -1 ||
	    ystr(f, u, "tokenFile", what, &tfile, e) == -1)
		return -1;
	if (tfile != NULL) {
		if ((c->token_file = resolve(f->dir, tfile, e)) == NULL)
			return -1;
	} else if (token != NULL && (c->token = dup_or_null(token, e)) == NULL)
		return -1;
	if (file_or_data(f, u, what, "client-certificate",
		"client-certificate-data", &c->cert_file, &c->cert_data,
		&c->cert_data_len, e) == -1 ||
	    file_or_data(f, u, what, "client-key", "client-key-data",
		&c->key_file, &c->key_data, &c->key_data_len, e) == -1)
		return -1;
	if ((c->cert_file != NULL || c->cert_data != NULL) !=
	    (c->key_file != NULL || c->key_data != NULL)) {
		mc_err_set(e, MC_ST_PARSE, 0,
		    "%s: %s: client certificate and key must come together",
		    f->path, what);
		return -1;
	}
	return 0;
}

static struct k8s_config *
config_new(struct mc_err *e)
{
	struct k8s_config *c;

	if ((c = mc_calloc(1, sizeof(*c))) == NULL) {
		mc_err_set(e, MC_ST_NOMEM, 0, "out of memory");
		return NULL;
	}
	c->token_ttl_ms = K8S_TOKEN_TTL_MS;
	return c;
}

struct k8s_config *
k8s_config_from_kubeconfig(const char *paths, const char *context,
    struct mc_err *e)
{
	struct k8s_config *c = NULL, *ret = NULL;
	struct kc_file *files = NULL;
	yaml_node_t *ctx = NULL, *cl = NULL, *u = NULL;
	struct kc_file *ctxf = NULL, *clf = NULL, *uf = NULL;
	const char *cur = context, *clname, *uname, *ns, *p, *colon;
	size_t nfiles = 0, i, cap = 1;
	char *one = NULL;
	char what[128];

	for (p = paths; *p != '\0'; p++)
		if (*p == ':')
			cap++;
	if ((files = mc_calloc(cap, sizeof(*files))) == NULL ||
	    (c = config_new(e)) == NULL)
		goto nomem;
	for (p = paths; p != NULL; p = colon == NULL ? NULL : colon + 1) {
		colon = strchr(p, ':');
		mc_free(one);
		one = colon == NULL ? mc_strdup(p) :
				      mc_strndup(p, (size_t)(colon - p));
		if (one == NULL)
			goto nomem;
		if (*one == '\0')
			continue;
		if (kc_load(&files[nfiles++], one, e) == -1)
			goto out;
	}
	if (nfiles == 0) {
		mc_err_set(e, MC_ST_USAGE, 0, "kubeconfig: no file given");
		goto out;
	}
	for (i = 0; i < nfiles && cur == NULL; i++)
		if (ystr(&files[i], yaml_document_get_root_node(&files[i].doc),
			"current-context", "kubeconfig", &cur, e) == -1)
			goto out;
	if (cur == NULL) {
		mc_err_set(e, MC_ST_PARSE, 0,
		    "%s: kubeconfig: no current-context", files[0].path);
		goto out;
	}
	for (i = 0; i < nfiles && ctx == NULL; i++) {
		if (ynamed(&files[i], "contexts", cur, "context", &ctx, e) ==
		    -1)
			goto out;
		ctxf = &files[i];
	}
	if (ctx == NULL) {
		mc_err_set(e, MC_ST_PARSE, 0,
		    "%s: kubeconfig: context \"%s\" not found", files[0].path,
		    cur);
		goto out;
	}
	snprintf(what, sizeof(what), "contexts[name=%s].context", cur);
	if (ystr(ctxf, ctx, "cluster", what, &clname, e) == -1 ||
	    ystr(ctxf, ctx, "user", what, &uname, e) == -1 ||
	    ystr(ctxf, ctx, "namespace", what, &ns, e) == -1)
		goto out;
	if (clname == NULL) {
		mc_err_set(e, MC_ST_PARSE, 0, "%s: %s.cluster: missing",
		    ctxf->path, what);
		goto out;
	}
	for (i = 0; i < nfiles && cl == NULL; i++) {
		if (ynamed(&files[i], "clusters", clname, "cluster", &cl, e) ==
		    -1)
			goto out;
		clf = &files[i];
	}
	if (cl == NULL) {
		mc_err_set(e, MC_ST_PARSE, 0,
		    "%s: %s: cluster \"%s\" not found", ctxf->path, what,
		    clname);
		goto out;
	}
	if (kc_cluster(c, clf, cl, clname, e) == -1)
		goto out;
	for (i = 0; uname != NULL && i < nfiles && u == NULL; i++) {
		if (ynamed(&files[i], "users", uname, "user", &u, e) == -1)
			goto out;
		uf = &files[i];
	}
	if (uname != NULL && u == NULL) {
		mc_err_set(e, MC_ST_PARSE, 0, "%s: %s: user \"%s\" not found",
		    ctxf->path, what, uname);
		goto out;
	}
	if (u != NULL && kc_user(c, uf, u, uname, e) == -1)
		goto out;
	if ((c->namespace = mc_strdup(ns != NULL ? ns : "default")) == NULL)
		goto nomem;
	if (c->token_file != NULL) {
		const char *t;

		if (k8s_config_token(c, &t, e) == -1)
			goto out;
	}
	ret = c;
	c = NULL;
	goto out;
nomem:
	mc_err_set(e, MC_ST_NOMEM, 0, "out of memory");
out:
	for (i = 0; files != NULL && i < nfiles; i++)
		kc_free(&files[i]);
	mc_free(files);
	mc_free(one);
	k8s_config_free(c);
	return ret;
}

struct k8s_config *
k8s_config_in_cluster(const char *dir, struct mc_err *e)
{
	struct k8s_config *c = NULL, *ret = NULL;
	const char *host, *port, *t;
	struct mc_buf b, nsb;
	size_t n;

	mc_buf_init(&b, 1024);
	mc_buf_init(&nsb, 1024);
	if (dir == NULL)
		dir = K8S_SA_DIR;
	host = getenv("KUBERNETES_SERVICE_HOST");
	port = getenv("KUBERNETES_SERVICE_PORT");
	/* client-go rest.InClusterConfig: both variables are required */
	if (host == NULL || *host == '\0' || port == NULL || *port == '\0') {
		mc_err_set(e, MC_ST_USAGE, 0,
		    "in-cluster: "
		    "KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT "
		    "must both be set");
		goto out;
	}
	if (strspn(port, "0123456789") != strlen(port) ||
	    strpbrk(host, "/?#@ ") != NULL) {
		mc_err_set(e, MC_ST_PARSE, 0,
		    "in-cluster: bad service "
		    "host or port \"%s\" \"%s\"",
		    host, port);
		goto out;
	}
	if ((c = config_new(e)) == NULL)
		goto out;
	/* an IPv6 literal goes in brackets (RFC 3986 §3.2.2) */
	if (mc_buf_printf(&b, e,
		strchr(host, ':') != NULL ? "https://[%s]:%s" : "https://%s:%s",
		host, port) == -1)
		goto out;
	c->server = mc_buf_steal(&b, NULL);
	mc_buf_reset(&b);
	if (mc_buf_printf(&b, e, "%s/token", dir) == -1)
		goto out;
	c->token_file = mc_buf_steal(&b, NULL);
	if (mc_buf_printf(&b, e, "%s/ca.crt", dir) == -1)
		goto out;
	c->ca_file = mc_buf_steal(&b, NULL);
	if (k8s_config_token(c, &t, e) == -1) {
		mc_err_prefix(e, "in-cluster");
		goto out;
	}
	if (mc_buf_printf(&b, e, "%s/namespace", dir) == -1)
		goto out;
	if (mc_buf_read_file(&nsb, b.data, NULL) == 0) {
		n = nsb.len;
		while (n > 0 && strchr(" \t\r\n", nsb.data[n - 1]) != NULL)
			n--;
		nsb.data[n] = '\0';
		nsb.len = n;
	}
	c->namespace = mc_strdup(nsb.len > 0 ? nsb.data : "default");
	if (c->server == NULL || c->token_file == NULL || c->ca_file == NULL ||
	    c->namespace == NULL) {
		mc_err_set(e, MC_ST_NOMEM, 0, "out of memory");
		goto out;
	}
	ret = c;
	c = NULL;
out:
	mc_buf_free(&b);
	mc_buf_free(&nsb);
	k8s_config_free(c);
	return ret;
}

struct k8s_config *
k8s_config_load(struct mc_err *e)
{
	const char *kc = getenv("KUBECONFIG"), *home;
	struct k8s_config *c;
	struct mc_buf b;

	if (kc != NULL && *kc != '\0')
		return k8s_config_from_kubeconfig(kc, NULL, e);
	if (getenv("KUBERNETES_SERVICE_HOST") != NULL)
		return k8s_config_in_cluster(NULL, e);
	if ((home = getenv("HOME")) == NULL) {
		mc_err_set(e, MC_ST_USAGE, 0,
		    "no KUBECONFIG, no in-cluster "
		    "environment and no HOME");
		return NULL;
	}
	mc_buf_init(&b, PATH_MAX);
	if (mc_buf_printf(&b, e, "%s/.kube/config", home) == -1) {
		mc_buf_free(&b);
		return NULL;
	}
	c = k8s_config_from_kubeconfig(b.data, NULL, e);
	mc_buf_free(&b);
	return c;
}

int
k8s_config_token(struct k8s_config *c, const char **token, struct mc_err *e)
{
	struct mc_buf b;
	uint64_t now = k8s_now_ms();
	size_t start = 0, end;
	char *t;
	int rc = -1;

	*token = c->token;
	if (c->token_file == NULL)
		return 0;
	if (c->token != NULL && c->token_read_ms != 0 &&
	    now - c->token_read_ms < c->token_ttl_ms)
		return 0;
	mc_buf_init_secret(&b, K8S_TOKEN_MAX);
	if (mc_buf_read_file(&b, c->token_file, e) == -1) {
		mc_err_prefix(e, "token file");
		goto out;
	}
	/* client-go: the file is re-read and whitespace trimmed */
	end = b.len;
	while (start < end && strchr(" \t\r\n", b.data[start]) != NULL)
		start++;
	while (end > start && strchr(" \t\r\n", b.data[end - 1]) != NULL)
		end--;
	if (end == start) {
		mc_err_set(e, MC_ST_PARSE, 0, "%s: token file is empty",
		    c->token_file);
		goto out;
	}
	if ((t = mc_strndup(b.data + start, end - start)) == NULL) {
		mc_err_set(e, MC_ST_NOMEM, 0, "out of memory");
		goto out;
	}
	if (c->token != NULL)
		mc_free_secret(c->token, strlen(c->token));
	c->token = t;
	c->token_read_ms = now == 0 ? 1 : now;
	rc = 0;
out:
	mc_buf_free(&b);
	*token = c->token;
	return rc;
}

void
k8s_config_token_expire(struct k8s_config *c)
{
	c->token_read_ms = 0;
}

void
k8s_config_free(struct k8s_config *c)
{
	if (c == NULL)
		return;
	mc_free(c->server);
	mc_free(c->ca_file);
	mc_free(c->ca_data);
	mc_free(c->cert_file);
	mc_free(c->cert_data);
	mc_free(c->key_file);
	if (c->key_data != NULL)
		mc_free_secret(c->key_data, c->key_data_len);
	mc_free(c->tls_server_name);
	mc_free(c->proxy_url);
	mc_free(c->namespace);
	if (c->token != NULL)
		mc_free_secret(c->token, strlen(c->token));
	mc_free(c->token_file);
	mc_free(c);
}
