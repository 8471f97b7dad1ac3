/*
 * config.c: meshcad's configuration: defaults, the meshca.conf file, the
 * command line, validation and reload (see config.h, meshca.conf(5)).
 *
 * The file is written by an administrator but read by a daemon that
 * holds a CA key, so it is parsed by hand and strictly: a bounded size
 * and line length, no NUL bytes or control characters, every key known,
 * every key at most once, every value checked by its type, and every
 * error names the file, the line and the rule. The command line gets the
 * same value checks, the error naming the flag. One table below lists
 * every key: its type, where it lives in struct daemon_config, and
 * whether a reload (SIGHUP) may change it.
 */
#include <sys/socket.h>

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <meshca/id.h>

#include "common/alloc.h"
#include "common/buf.h"
#include "common/log.h"
#include "common/status.h"
#include "daemon/config.h"
#include "daemon/health.h"

#define MS_SECOND UINT64_C(1000)
#define MS_MINUTE (60 * MS_SECOND)
#define MS_HOUR (60 * MS_MINUTE)
#define MS_DAY (24 * MS_HOUR)
#define DURATION_MAX (100 * 365 * MS_DAY)

/* Longest value as text: a full namespace list, from a flag. */
#define VALUE_TEXT_MAX (DAEMON_CONFIG_LIST_MAX * 64 + 1)

enum opt_type {
	T_STRING,    /* non-empty printable string */
	T_OPTSTRING, /* string; empty means unset (NULL) */
	T_TRUST_DOMAIN,
	T_NAMESPACE, /* one DNS-1123 label */
	T_NSLIST,    /* comma-separated namespaces, may be empty */
	T_SELECTOR,  /* k=v[,k=v...], may be empty */
	T_LISTEN,
	T_IDENTITY,
	T_DURATION,
	T_RATIO,       /* (0,1) */
	T_CONNECTIONS, /* 1..1024 */
	T_BOOL,
	T_LOG_FORMAT,
	T_LOG_LEVEL,
	T_SECRET_FORMAT,
	T_KEY_TYPE
};

struct opt {
	const char *name;
	enum opt_type type;
	size_t off;
	bool reloadable;
};

#define O(f) offsetof(struct daemon_config, f)
static const struct opt opts[] = {
	{ "kubeconfig", T_OPTSTRING, O(kubeconfig), false },
	{ "db", T_STRING, O(db), false },
	{ "ca-namespace", T_NAMESPACE, O(ca_namespace), false },
	{ "ca-dir", T_OPTSTRING, O(ca_dir), false },
	{ "ca-refresh", T_DURATION, O(ca_refresh), false },
	{ "trust-domain", T_TRUST_DOMAIN, O(trust_domain), false },
	{ "cert-ttl", T_DURATION, O(cert_ttl), true },
	{ "max-cert-ttl", T_DURATION, O(max_cert_ttl), true },
	{ "metrics-listen", T_LISTEN, O(metrics_listen), false },
	{ "metrics-port-file", T_OPTSTRING, O(metrics_port_file), false },
	{ "metrics-max-connections", T_CONNECTIONS, O(metrics_max_connections),
	    false },
	{ "log-format", T_LOG_FORMAT, O(log_format), true },
	{ "log-level", T_LOG_LEVEL, O(log_level), true },
	{ "secret-format", T_SECRET_FORMAT, O(secret_format), false },
	{ "grace-ratio", T_RATIO, O(grace_ratio), true },
	{ "min-grace", T_DURATION, O(min_grace), true },
	{ "propagation-window", T_DURATION, O(propagation_window), true },
	{ "namespaces", T_NSLIST, O(namespaces), true },
	{ "exclude-namespaces", T_NSLIST, O(exclude_namespaces), true },
	{ "namespace-selector", T_SELECTOR, O(namespace_selector), true },
	{ "lease-duration", T_DURATION, O(lease_duration), false },
	{ "renew-deadline", T_DURATION, O(renew_deadline), false },
	{ "retry-period", T_DURATION, O(retry_period), false },
	{ "identity", T_IDENTITY, O(identity), false },
	{ "key-type", T_KEY_TYPE, O(key_type), true },
	{ "revoke-on-delete", T_BOOL, O(revoke_on_delete), true },
};
#undef O
#define NOPTS (sizeof(opts) / sizeof(opts[0]))

/* getopt_long values: table options are OPT_BASE + index. */
enum {
	OPT_CONFIG = 1000,
	OPT_CHECK_CONFIG,
	OPT_VERSION,
	OPT_HELP,
	OPT_BASE = 2000
};

static const char *const key_type_names[] = { "ec-p256", "ec-p384", "rsa-2048",
	"rsa-3072", "rsa-4096", "ed25519" };

const char *
daemon_key_type_name(enum daemon_key_type t)
{
	if ((size_t)t >= sizeof(key_type_names) / sizeof(key_type_names[0]))
		return "unknown";
	return key_type_names[t];
}

const char *
daemon_secret_format_name(enum daemon_secret_format f)
{
	return f == DAEMON_SECRET_TLS ? "tls" : "istio";
}

static void *
field(const struct daemon_config *c, const struct opt *o)
{
	return (char *)c + o->off;
}

static void
strlist_free(struct daemon_strlist *l)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		mc_free(l->v[i]);
	mc_free(l->v);
	l->v = NULL;
	l->n = 0;
}

void
daemon_config_free(struct daemon_config *c)
{
	if (c == NULL)
		return;
	mc_free(c->config_path);
	mc_free(c->kubeconfig);
	mc_free(c->db);
	mc_free(c->ca_namespace);
	mc_free(c->ca_dir);
	mc_free(c->trust_domain);
	mc_free(c->metrics_listen);
	mc_free(c->metrics_port_file);
	strlist_free(&c->namespaces);
	strlist_free(&c->exclude_namespaces);
	mc_free(c->namespace_selector);
	mc_free(c->identity);
	mc_free(c);
}

/* ---- value parsers ---- */

int
daemon_parse_duration(const char *s, uint64_t *ms, struct mc_err *e)
{
	static const struct {
		const char *name;
		uint64_t ms;
	} units[] = { { "ms", 1 }, { "s", MS_SECOND }, { "m", MS_MINUTE },
		{ "h", MS_HOUR }, { "d", MS_DAY } };
	const char *p = s;
	uint64_t total = 0, n, mul;
	char unit[4];
	size_t i, ul;

	if (*p == '\0') {
		mc_err_set(e, MC_ST_PARSE, 0, "empty duration");
		return -1;
	}
	while (*p != '\0') {
		if (*p < '0' || *p > '9') {
			mc_err_set(e, MC_ST_PARSE, 0,
			    "\"%s\": a duration is "
			    "NUMBER UNIT groups, e.g. 90d, 1h30m, 500ms",
			    s);
			return -1;
		}
		for (n = 0; *p >= '0' && *p <= '9'; p++) {
			if (n > (DURATION_MAX - (uint64_t)(*p - '0')) / 10) {
				mc_err_set(e, MC_ST_PARSE, 0,
				    "\"%s\": duration "
				    "longer than 100 years",
				    s);
				return -1;
			}
			n = n * 10 + (uint64_t)(*p - '0');
		}
		if (*p == '.') {
			mc_err_set(e, MC_ST_PARSE, 0,
			    "\"%s\": no fractions in "
			    "durations; use smaller units, e.g. 1h30m",
			    s);
			return -1;
		}
		for (ul = 0; *p >= 'a' && *p <= 'z'; p++) {
			if (ul + 1 >= sizeof(unit)) {
				mc_err_set(e, MC_ST_PARSE, 0,
				    "\"%s\": unknown "
				    "duration unit",
				    s);
				return -1;
			}
			unit[ul++] = *p;
		}
		unit[ul] = '\0';
		if (ul == 0) {
			mc_err_set(e, MC_ST_PARSE, 0,
			    "\"%s\": number without "
			    "a unit (ms, s, m, h or d)",
			    s);
			return -1;
		}
		for (i = 0, mul = 0; i < sizeof(units) / sizeof(units[0]); i++)
			if (strcmp(unit, units[i].name) == 0)
				mul = units[i].ms;
		if (mul == 0) {
			mc_err_set(e, MC_ST_PARSE, 0,
			    "\"%s\": unknown duration "
			    "unit \"%s\" (ms, s, m, h or d)",
			    s, unit);
			return -1;
		}
		if (n > DURATION_MAX / mul || n * mul > DURATION_MAX - total) {
			mc_err_set(e, MC_ST_PARSE, 0,
			    "\"%s\": duration longer "
			    "than 100 years",
			    s);
			return -1;
		}
		total += n * mul;
	}
	*ms = total;
	return 0;
}

void
daemon_format_duration(uint64_t ms, char *out, size_t outlen)
{
	static const struct {
		const char *name;
		uint64_t ms;
	} units[] = { { "d", MS_DAY }, { "h", MS_HOUR }, { "m", MS_MINUTE },
		{ "s", MS_SECOND }, { "ms", 1 } };
	size_t i, off = 0;
	int r;

	if (ms == 0) {
		snprintf(out, outlen, "0s");
		return;
	}
	out[0] = '\0';
	for (i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (ms < units[i].ms)
			continue;
		r = snprintf(out + off, outlen - off, "%llu%s",
		    (unsigned long long)(ms / units[i].ms), units[i].name);
		if (r < 0 || (size_t)r >= outlen - off)
			return;
		off += (size_t)r;
		ms %= units[i].ms;
	}
}

int
daemon_parse_bool(const char *s, bool *b, struct mc_err *e)
{
	if (strcmp(s, "yes") == 0 || strcmp(s, "true") == 0 ||
	    strcmp(s, "on") == 0 || strcmp(s, "1") == 0)
		*b = true;
	else if (strcmp(s, "no") == 0 || strcmp(s, "false") == 0 ||
	    strcmp(s, "off") == 0 || strcmp(s, "0") == 0)
		*b = false;
	else {
		mc_err_set(e, MC_ST_PARSE, 0,
		    "\"%s\": expected yes/no, "
		    "true/false, on/off or 1/0",
		    s);
		return -1;
	}
	return 0;
}

/* Kubernetes namespace names are DNS-1123 labels: [a-z0-9-], at most
 * 63, starting and ending alphanumeric. */
static bool
is_dns_label(const char *s, size_t n)
{
	size_t i;

	if (n == 0 || n > 63 || s[0] == '-' || s[n - 1] == '-')
		return false;
	for (i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') ||
			(s[i] >= '0' && s[i] <= '9') || s[i] == '-'))
			return false;
	return true;
}

static int
parse_nslist(const char *s, struct daemon_strlist *out, struct mc_err *e)
{
	struct daemon_strlist l = { NULL, 0 };
	const char *p = s, *q, *a, *b;
	int rc = -1;

	while (*p != '\0') {
		q = strchr(p, ',');
		if (q == NULL)
			q = p + strlen(p);
		for (a = p; a < q && (*a == ' ' || *a == '\t'); a++)
			;
		for (b = q; b > a && (b[-1] == ' ' || b[-1] == '\t'); b--)
			;
		if (!is_dns_label(a, (size_t)(b - a))) {
			mc_err_set(e, MC_ST_PARSE, 0,
			    "\"%.*s\" is not a "
			    "namespace name (DNS-1123 label: a-z, 0-9, '-', at "
			    "most 63)",
			    (int)((b - a) > 63 ? 63 : (b - a)), a);
			goto out;
		}
		if (l.n == DAEMON_CONFIG_LIST_MAX) {
			mc_err_set(e, MC_ST_PARSE, 0, "more than %d namespaces",
			    DAEMON_CONFIG_LIST_MAX);
			goto out;
		}
		if (l.n == 0 &&
		    (l.v = mc_calloc(DAEMON_CONFIG_LIST_MAX, sizeof(char *))) ==
			NULL)
			goto nomem;
		if ((l.v[l.n] = mc_strndup(a, (size_t)(b - a))) == NULL)
			goto nomem;
		l.n++;
		p = *q == ',' ? q + 1 : q;
		if (*q == ',' && *p == '\0') {
			mc_err_set(e, MC_ST_PARSE, 0,
			    "empty item after the "
			    "last ','");
			goto out;
		}
	}
	strlist_free(out);
	*out = l;
	l.v = NULL;
	l.n = 0;
	rc = 0;
	goto out;
nomem:
	mc_err_set(e, MC_ST_NOMEM, 0, "out of memory");
out:
	strlist_free(&l);
	return rc;
}

/*
 * Label selector, equality form only: key=value[,key=value]. Keys are
 * an optional DNS prefix and '/' then a name; names and values are at
 * most 63 of [A-Za-z0-9._-] (Kubernetes "Labels and Selectors").
 */
static int
check_selector(const char *s, struct mc_err *e)
{
	const char *p = s;
	size_t kl, vl;

	while (*p != '\0') {
		for (kl = 0; p[kl] != '\0' && p[kl] != '=' && p[kl] != ',';
		     kl++)
			if (!(isalnum((unsigned char)p[kl]) || p[kl] == '.' ||
				p[kl] == '-' || p[kl] == '_' || p[kl] == '/'))
				goto bad;
		if (kl == 0 || kl > 253 || p[kl] != '=')
			goto bad;
		p += kl + 1;
		for (vl = 0; p[vl] != '\0' && p[vl] != ','; vl++)
			if (!(isalnum((unsigned char)p[vl]) || p[vl] == '.' ||
				p[vl] == '-' || p[vl] == '_'))
				goto bad;
		if (vl > 63)
			goto bad;
		p += vl;
		if (*p == ',' && *++p == '\0')
			goto bad;
	}
	return 0;
bad:
	mc_err_set(e, MC_ST_PARSE, 0,
	    "\"%s\": expected key=value[,key=value] "
	    "with label syntax",
	    s);
	return -1;
}

static bool
is_printable(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return false;
	return true;
}

static int
set_string(char **dst, const char *s, struct mc_err *e)
{
	char *d;

	if ((d = mc_strdup(s)) == NULL) {
		mc_err_set(e, MC_ST_NOMEM, 0, "out of memory");
		return -1;
	}
	mc_free(*dst);
	*dst = d;
	return 0;
}

/* Parses s as o's type and stores it in c. e names neither o nor where. */
static int
opt_set(struct daemon_config *c, const struct opt *o, const char *s,
    struct mc_err *e)
{
	void *f = field(c, o);
	struct sockaddr_storage ss;
	struct meshca_error me;
	unsigned long ul;
	unsigned int sl;
	size_t i;
	double d;
	char *end;
	int lv;
	enum mc_log_format lf;

	if (!is_printable(s)) {
		mc_err_set(e, MC_ST_PARSE, 0, "control character in value");
		return -1;
	}
	switch (o->type) {
	case T_STRING:
		if (*s == '\0') {
			mc_err_set(e, MC_ST_PARSE, 0, "empty value");
			return -1;
		}
		return set_string(f, s, e);
	case T_OPTSTRING:
		if (*s == '\0') {
			mc_free(*(char **)f);
			*(char **)f = NULL;
			return 0;
		}
		return set_string(f, s, e);
	case T_TRUST_DOMAIN:
		if (meshca_trust_domain_check(s, strlen(s), &me) != MESHCA_OK) {
			mc_err_set(e, MC_ST_PARSE, 0, "%s", me.message);
			return -1;
		}
		return set_string(f, s, e);
	case T_NAMESPACE:
		if (!is_dns_label(s, strlen(s))) {
			mc_err_set(e, MC_ST_PARSE, 0,
			    "\"%s\" is not a namespace "
			    "name (DNS-1123 label: a-z, 0-9, '-', at most 63)",
			    s);
			return -1;
		}
		return set_string(f, s, e);
	case T_NSLIST:
		return parse_nslist(s, f, e);
	case T_SELECTOR:
		if (*s == '\0') {
			mc_free(*(char **)f);
			*(char **)f = NULL;
			return 0;
		}
		if (check_selector(s, e) == -1)
			return -1;
		return set_string(f, s, e);
	case T_LISTEN:
		if (daemon_health_parse_listen(s, &ss, &sl, e) == -1)
			return -1;
		return set_string(f, s, e);
	case T_IDENTITY:
		if (strlen(s) > 128 || strchr(s, ' ') != NULL) {
			mc_err_set(e, MC_ST_PARSE, 0,
			    "\"%s\": an identity is at "
			    "most 128 bytes without spaces",
			    s);
			return -1;
		}
		if (*s == '\0') { /* resolved later */
			mc_free(*(char **)f);
			*(char **)f = NULL;
			return 0;
		}
		return set_string(f, s, e);
	case T_DURATION:
		return daemon_parse_duration(s, f, e);
	case T_RATIO:
		errno = 0;
		d = strtod(s, &end);
		if (*s == '\0' || *end != '\0' || errno != 0 || !isfinite(d) ||
		    d <= 0 || d >= 1) {
			mc_err_set(e, MC_ST_PARSE, 0,
			    "\"%s\": expected a number "
			    "strictly between 0 and 1",
			    s);
			return -1;
		}
		*(double *)f = d;
		return 0;
	case T_CONNECTIONS:
		errno = 0;
		ul = strtoul(s, &end, 10);
		if (*s < '0' || *s > '9' || *end != '\0' || errno != 0 ||
		    ul < 1 || ul > 1024) {
			mc_err_set(e, MC_ST_PARSE, 0,
			    "\"%s\": expected an "
			    "integer from 1 to 1024",
			    s);
			return -1;
		}
		*(unsigned int *)f = (unsigned int)ul;
		return 0;
	case T_BOOL:
		return daemon_parse_bool(s, f, e);
	case T_LOG_FORMAT:
		if (mc_log_format_parse(s, &lf) == -1) {
			mc_err_set(e, MC_ST_PARSE, 0,
			    "\"%s\": expected json or "
			    "text",
			    s);
			return -1;
		}
		*(int *)f = (int)lf;
		return 0;
	case T_LOG_LEVEL:
		if (mc_log_level_parse(s, &lv) == -1 || lv == MC_LOG_FATAL) {
			mc_err_set(e, MC_ST_PARSE, 0,
			    "\"%s\": expected warn, "
			    "info or debug",
			    s);
			return -1;
		}
		*(int *)f = lv;
		return 0;
	case T_SECRET_FORMAT:
		if (strcmp(s, "istio") == 0)
			*(enum daemon_secret_format *)f = DAEMON_SECRET_ISTIO;
		else if (strcmp(s, "tls") == 0)
			*(enum daemon_secret_format *)f = DAEMON_SECRET_TLS;
		else {
			mc_err_set(e, MC_ST_PARSE, 0,
			    "\"%s\": expected istio or "
			    "tls",
			    s);
			return -1;
		}
		return 0;
	case T_KEY_TYPE:
		for (i = 0;
		     i < sizeof(key_type_names) / sizeof(key_type_names[0]);
		     i++) {
			if (strcmp(s, key_type_names[i]) == 0) {
				*(enum daemon_key_type *)f =
				    (enum daemon_key_type)i;
				return 0;
			}
		}
		mc_err_set(e, MC_ST_PARSE, 0,
		    "\"%s\": expected ec-p256, "
		    "ec-p384, rsa-2048, rsa-3072, rsa-4096 or ed25519",
		    s);
		return -1;
	}
	mc_err_set(e, MC_ST_INTERNAL, 0, "unhandled option type");
	return -1;
}

/* The value of o in c as text, in meshca.conf syntax. */
static void
opt_format(const struct daemon_config *c, const struct opt *o, char *out,
    size_t outlen)
{
	const void *f = field(c, o);
	const struct daemon_strlist *l;
	size_t i, off;
	int r;

	out[0] = '\0';
	switch (o->type) {
	case T_STRING:
	case T_OPTSTRING:
	case T_TRUST_DOMAIN:
	case T_NAMESPACE:
	case T_SELECTOR:
	case T_LISTEN:
	case T_IDENTITY:
		snprintf(out, outlen, "%s",
		    *(char *const *)f != NULL ? *(char *const *)f : "");
		break;
	case T_NSLIST:
		l = f;
		for (i = 0, off = 0; i < l->n; i++) {
			r = snprintf(out + off, outlen - off, "%s%s",
			    i > 0 ? "," : "", l->v[i]);
			if (r < 0 || (size_t)r >= outlen - off)
				break;
			off += (size_t)r;
		}
		break;
	case T_DURATION:
		daemon_format_duration(*(const uint64_t *)f, out, outlen);
		break;
	case T_RATIO:
		snprintf(out, outlen, "%g", *(const double *)f);
		break;
	case T_CONNECTIONS:
		snprintf(out, outlen, "%u", *(const unsigned int *)f);
		break;
	case T_BOOL:
		snprintf(out, outlen, "%s", *(const bool *)f ? "yes" : "no");
		break;
	case T_LOG_FORMAT:
		snprintf(out, outlen, "%s",
		    mc_log_format_name((enum mc_log_format) * (const int *)f));
		break;
	case T_LOG_LEVEL:
		snprintf(out, outlen, "%s", mc_log_level_name(*(const int *)f));
		break;
	case T_SECRET_FORMAT:
		snprintf(out, outlen, "%s",
		    daemon_secret_format_name(
			*(const enum daemon_secret_format *)f));
		break;
	case T_KEY_TYPE:
		snprintf(out, outlen, "%s",
		    daemon_key_type_name(*(const enum daemon_key_type *)f));
		break;
	}
}

static const struct opt *
opt_find(const char *name, size_t len)
{
	size_t i;

	for (i = 0; i < NOPTS; i++)
		if (strlen(opts[i].name) == len &&
		    memcmp(opts[i].name, name, len) == 0)
			return &opts[i];
	return NULL;
}

/* ---- defaults ---- */

struct daemon_config *
daemon_config_defaults(struct mc_err *e)
{
	static const struct {
		const char *key;
		const char *value;
	} defaults[] = {
		{ "db", "/var/lib/meshca/meshca.db" },
		{ "ca-namespace", "meshca-system" },
		{ "ca-refresh", "30s" },
		{ "trust-domain", "cluster.local" },
		{ "cert-ttl", "24h" },
		{ "max-cert-ttl", "90d" },
		{ "metrics-listen", "0.0.0.0:9402" },
		{ "metrics-max-connections", "16" },
		{ "log-format", "json" },
		{ "log-level", "info" },
		{ "secret-format", "istio" },
		{ "grace-ratio", "0.5" },
		{ "min-grace", "10m" },
		{ "propagation-window", "1h" },
		{ "exclude-namespaces",
		    "kube-system,kube-public,"
		    "kube-node-lease" },
		{ "lease-duration", "15s" },
		{ "renew-deadline", "10s" },
		{ "retry-period", "2s" },
		{ "key-type", "ec-p256" },
		{ "revoke-on-delete", "yes" },
	};
	struct daemon_config *c;
	size_t i;

	if ((c = mc_calloc(1, sizeof(*c))) == NULL) {
		mc_err_set(e, MC_ST_NOMEM, 0, "out of memory");
		return NULL;
	}
	for (i = 0; i < sizeof(defaults) / sizeof(defaults[0]); i++) {
		const struct opt *o =
		    opt_find(defaults[i].key, strlen(defaults[i].key));

		if (o == NULL || opt_set(c, o, defaults[i].value, e) == -1) {
			mc_err_prefix(e, "default %s", defaults[i].key);
			daemon_config_free(c);
			return NULL;
		}
	}
	return c;
}

/* ---- the file ---- */

/*
 * One line (NUL-terminated, no newline) of the file. Syntax:
 *	line  = ws [ key ws "=" ws value ] ws [ "#" comment ]
 *	value = quoted | bare
 * A bare value runs to '#' or the end, trailing blanks dropped; a quoted
 * one is "..." with \" and \\ as the only escapes.
 */
static int
parse_line(struct daemon_config *c, char *line, const struct opt **which,
    struct mc_err *e)
{
	char *p = line, *key, *v, *w, *end;
	const struct opt *o;
	size_t kl;

	*which = NULL;
	while (*p == ' ' || *p == '\t')
		p++;
	if (*p == '\0' || *p == '#')
		return 0;
	key = p;
	while ((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
	    *p == '-' || *p == '_')
		p++;
	kl = (size_t)(p - key);
	if (kl == 0) {
		mc_err_set(e, MC_ST_PARSE, 0, "expected a key (a-z, 0-9, '-')");
		return -1;
	}
	while (*p == ' ' || *p == '\t')
		p++;
	if (*p != '=') {
		mc_err_set(e, MC_ST_PARSE, 0, "missing '=' after key \"%.*s\"",
		    (int)(kl > 64 ? 64 : kl), key);
		return -1;
	}
	if ((o = opt_find(key, kl)) == NULL) {
		mc_err_set(e, MC_ST_PARSE, 0, "unknown key \"%.*s\"",
		    (int)(kl > 64 ? 64 : kl), key);
		return -1;
	}
	p++;
	while (*p == ' ' || *p == '\t')
		p++;
	if (*p == '"') {
		v = w = ++p;
		for (;;) {
			if (*p == '\0') {
				mc_err_set(e, MC_ST_PARSE, 0,
				    "%s: unterminated "
				    "quoted string",
				    o->name);
				return -1;
			}
			if (*p == '"')
				break;
			if (*p == '\\') {
				if (p[1] != '"' && p[1] != '\\') {
					mc_err_set(e, MC_ST_PARSE, 0,
					    "%s: only "
					    "\\\" and \\\\ may be escaped",
					    o->name);
					return -1;
				}
				p++;
			}
			*w++ = *p++;
		}
		end = p + 1;
		*w = '\0';
		while (*end == ' ' || *end == '\t')
			end++;
		if (*end != '\0' && *end != '#') {
			mc_err_set(e, MC_ST_PARSE, 0,
			    "%s: text after the "
			    "closing quote",
			    o->name);
			return -1;
		}
	} else {
		v = p;
		if ((end = strchr(v, '#')) == NULL)
			end = v + strlen(v);
		while (end > v && (end[-1] == ' ' || end[-1] == '\t'))
			end--;
		*end = '\0';
	}
	*which = o;
	if (opt_set(c, o, v, e) == -1) {
		mc_err_prefix(e, "%s", o->name);
		return -1;
	}
	return 0;
}

int
daemon_config_parse_buf(struct daemon_config *c, const char *name,
    const char *buf, size_t len, struct mc_err *e)
{
	char line[DAEMON_CONFIG_LINE_MAX + 1];
	size_t seen[NOPTS] = { 0 };
	const struct opt *o;
	size_t off = 0, lineno = 0, ll;
	const char *nl;

	if (len > DAEMON_CONFIG_FILE_MAX) {
		mc_err_set(e, MC_ST_PARSE, 0, "%s: larger than %d bytes", name,
		    DAEMON_CONFIG_FILE_MAX);
		return -1;
	}
	while (off < len) {
		lineno++;
		nl = memchr(buf + off, '\n', len - off);
		ll = nl != NULL ? (size_t)(nl - (buf + off)) : len - off;
		if (ll > 0 && buf[off + ll - 1] == '\r')
			ll--; /* CRLF files */
		if (ll > DAEMON_CONFIG_LINE_MAX) {
			mc_err_set(e, MC_ST_PARSE, 0,
			    "%s:%zu: line longer than "
			    "%d bytes",
			    name, lineno, DAEMON_CONFIG_LINE_MAX);
			return -1;
		}
		if (memchr(buf + off, '\0', ll) != NULL) {
			mc_err_set(e, MC_ST_PARSE, 0, "%s:%zu: NUL byte", name,
			    lineno);
			return -1;
		}
		memcpy(line, buf + off, ll);
		line[ll] = '\0';
		off += nl != NULL ? (size_t)(nl - (buf + off)) + 1 : len - off;
		if (parse_line(c, line, &o, e) == -1) {
			mc_err_prefix(e, "%s:%zu", name, lineno);
			return -1;
		}
		if (o == NULL)
			continue;
		if (seen[o - opts] != 0) {
			mc_err_set(e, MC_ST_PARSE, 0,
			    "%s:%zu: key \"%s\" "
			    "already set on line %zu",
			    name, lineno, o->name, seen[o - opts]);
			return -1;
		}
		seen[o - opts] = lineno;
	}
	return 0;
}

/* ---- validation ---- */

int
daemon_config_validate(const struct daemon_config *c, struct mc_err *e)
{
	char a[32], b[32];
	size_t i, j;

	if (c->cert_ttl < MS_MINUTE) {
		mc_err_set(e, MC_ST_REJECTED, 0,
		    "cert-ttl must be at least 1m");
		return -1;
	}
	if (c->cert_ttl > c->max_cert_ttl) {
		daemon_format_duration(c->cert_ttl, a, sizeof(a));
		daemon_format_duration(c->max_cert_ttl, b, sizeof(b));
		mc_err_set(e, MC_ST_REJECTED, 0,
		    "cert-ttl %s exceeds "
		    "max-cert-ttl %s",
		    a, b);
		return -1;
	}
	if (c->min_grace >= c->cert_ttl) {
		mc_err_set(e, MC_ST_REJECTED, 0,
		    "min-grace must be shorter "
		    "than cert-ttl, or every certificate is due at once");
		return -1;
	}
	/*
	 * Leader election timing, as client-go's leaderelection checks it
	 * (LeaseDuration > RenewDeadline > JitterFactor * RetryPeriod with
	 * JitterFactor 1.2): a leader must give up before its Lease can
	 * expire, and must get more than one try before the deadline.
	 */
	if (c->lease_duration <= c->renew_deadline) {
		mc_err_set(e, MC_ST_REJECTED, 0,
		    "lease-duration must be longer "
		    "than renew-deadline");
		return -1;
	}
	if (c->renew_deadline * 5 <= c->retry_period * 6) {
		mc_err_set(e, MC_ST_REJECTED, 0,
		    "renew-deadline must be longer "
		    "than 1.2 x retry-period");
		return -1;
	}
	if (c->retry_period < 100) {
		mc_err_set(e, MC_ST_REJECTED, 0,
		    "retry-period must be at least "
		    "100ms");
		return -1;
	}
	for (i = 0; i < c->namespaces.n; i++) {
		for (j = 0; j < c->exclude_namespaces.n; j++) {
			if (strcmp(c->namespaces.v[i],
				c->exclude_namespaces.v[j]) == 0) {
				mc_err_set(e, MC_ST_REJECTED, 0,
				    "namespace "
				    "\"%s\" is both in namespaces and in "
				    "exclude-namespaces",
				    c->namespaces.v[i]);
				return -1;
			}
		}
	}
	if (c->ca_refresh < 1000) {
		mc_err_set(e, MC_ST_REJECTED, 0, "ca-refresh: at least 1s");
		return -1;
	}
	if (c->identity == NULL || c->trust_domain == NULL || c->db == NULL ||
	    c->metrics_listen == NULL || c->ca_namespace == NULL) {
		mc_err_set(e, MC_ST_REJECTED, 0,
		    "identity, trust-domain, db, "
		    "metrics-listen and ca-namespace must be set");
		return -1;
	}
	return 0;
}

/* The Lease holder identity when none is configured: the Pod's name (the
 * Deployment passes it as POD_NAME), else the host name, which is the
 * Pod's name in Kubernetes too. */
static int
resolve_identity(struct daemon_config *c, struct mc_err *e)
{
	char host[256];
	const char *pod;

	if (c->identity != NULL)
		return 0;
	pod = getenv("POD_NAME");
	if (pod != NULL && *pod != '\0' && strlen(pod) <= 128)
		return set_string(&c->identity, pod, e);
	if (gethostname(host, sizeof(host)) == -1) {
		mc_err_set(e, MC_ST_IO, 0, "identity: gethostname: %s",
		    strerror(errno));
		return -1;
	}
	host[sizeof(host) - 1] = '\0';
	host[128] = '\0';
	return set_string(&c->identity, host, e);
}

int
daemon_config_load(const struct daemon_args *a, struct daemon_config **out,
    struct mc_err *e)
{
	struct daemon_config *c;
	struct mc_buf b;
	const struct opt *o;
	const char *path;
	size_t i;
	int rc = -1;

	mc_buf_init(&b, DAEMON_CONFIG_FILE_MAX);
	if ((c = daemon_config_defaults(e)) == NULL)
		goto out;
	path = a->config_path != NULL ? a->config_path :
					DAEMON_CONFIG_DEFAULT_PATH;
	if (access(path, F_OK) == -1 && errno == ENOENT && !a->config_given) {
		/* no file at the default place: defaults and flags only */
	} else {
		if (mc_buf_read_file(&b, path, e) == -1)
			goto out;
		if (daemon_config_parse_buf(c, path, b.data, b.len, e) == -1)
			goto out;
		if (set_string(&c->config_path, path, e) == -1)
			goto out;
	}
	for (i = 0; i < a->n; i++) {
		if ((o = opt_find(a->keys[i], strlen(a->keys[i]))) == NULL) {
			mc_err_set(e, MC_ST_USAGE, 0, "--%s: unknown option",
			    a->keys[i]);
			goto out;
		}
		if (opt_set(c, o, a->values[i], e) == -1) {
			mc_err_prefix(e, "--%s", o->name);
			goto out;
		}
	}
	if (resolve_identity(c, e) == -1 || daemon_config_validate(c, e) == -1)
		goto out;
	*out = c;
	c = NULL;
	rc = 0;
out:
	mc_buf_free(&b);
	daemon_config_free(c);
	return rc;
}

/* ---- reload ---- */

static bool
opt_equal(const struct daemon_config *x, const struct daemon_config *y,
    const struct opt *o)
{
	char a[VALUE_TEXT_MAX], b[VALUE_TEXT_MAX];

	opt_format(x, o, a, sizeof(a));
	opt_format(y, o, b, sizeof(b));
	return strcmp(a, b) == 0;
}

/* Copies o's value from src into dst (through its text form). */
static int
opt_copy(struct daemon_config *dst, const struct daemon_config *src,
    const struct opt *o, struct mc_err *e)
{
	char v[VALUE_TEXT_MAX];

	opt_format(src, o, v, sizeof(v));
	return opt_set(dst, o, v, e);
}

int
daemon_config_merge_reload(const struct daemon_config *old,
    struct daemon_config *new, daemon_config_report_fn *note,
    daemon_config_report_fn *warn, void *arg, struct mc_err *e)
{
	char a[VALUE_TEXT_MAX], b[VALUE_TEXT_MAX];
	int changed = 0;
	size_t i;

	for (i = 0; i < NOPTS; i++) {
		const struct opt *o = &opts[i];

		if (opt_equal(old, new, o))
			continue;
		opt_format(old, o, a, sizeof(a));
		opt_format(new, o, b, sizeof(b));
		if (o->reloadable) {
			if (note != NULL)
				note(arg, o->name, a, b);
			changed++;
			continue;
		}
		if (warn != NULL)
			warn(arg, o->name, a, b);
		if (opt_copy(new, old, o, e) == -1) {
			mc_err_prefix(e, "reload: %s", o->name);
			return -1;
		}
	}
	if (daemon_config_validate(new, e) == -1) {
		mc_err_prefix(e,
		    "reload: with the settings that cannot change "
		    "at runtime kept");
		return -1;
	}
	return changed;
}

void
daemon_config_dump(const struct daemon_config *c, FILE *fp)
{
	char v[VALUE_TEXT_MAX];
	const char *p;
	size_t i;
	bool quote;

	/*
	 * The dump must parse back: a value is quoted only when the bare
	 * form would read differently ('#' starts a comment, a leading '"'
	 * opens a quoted value, edge blanks are trimmed), so a bare value
	 * from the file is written as bare as it came, and a quoted one no
	 * longer than its source line (the quotes and escapes were there).
	 * " = " is written as "=" when the line would otherwise pass
	 * DAEMON_CONFIG_LINE_MAX, which the source line did not.
	 */
	for (i = 0; i < NOPTS; i++) {
		const char *sep;
		size_t vlen, n;

		opt_format(c, &opts[i], v, sizeof(v));
		vlen = strlen(v);
		quote = strchr(v, '#') != NULL || v[0] == '"' || v[0] == ' ' ||
		    (vlen > 0 && v[vlen - 1] == ' ');
		n = strlen(opts[i].name) + 3 + vlen;
		if (quote) {
			n += 2;
			for (p = v; *p != '\0'; p++)
				n += *p == '"' || *p == '\\';
		}
		sep = n > DAEMON_CONFIG_LINE_MAX ? "=" : " = ";
		if (!quote) {
			fprintf(fp, "%s%s%s\n", opts[i].name, sep, v);
			continue;
		}
		fprintf(fp, "%s%s\"", opts[i].name, sep);
		for (p = v; *p != '\0'; p++)
			fprintf(fp, "%s%c", *p == '"' || *p == '\\' ? "\\" : "",
			    *p);
		fprintf(fp, "\"\n");
	}
}

/* ---- the command line ---- */

void
daemon_usage(FILE *fp)
{
	static const char *const lines[] = {
		"[--check-config] [--config FILE] [--kubeconfig PATH]",
		"[--db PATH] [--ca-dir DIR] [--ca-refresh DURATION]",
		"[--ca-namespace NS] [--trust-domain TD]",
		"[--cert-ttl DURATION] [--max-cert-ttl DURATION]",
		"[--metrics-listen ADDR:PORT] [--metrics-port-file FILE]",
		"[--metrics-max-connections N] [--log-format json|text]",
		"[--log-level warn|info|debug] [--secret-format istio|tls]",
		"[--grace-ratio R] [--min-grace DURATION]",
		"[--propagation-window DURATION] [--namespaces NS,...]",
		"[--exclude-namespaces NS,...]",
		"[--namespace-selector KEY=VALUE,...]",
		"[--lease-duration DURATION] [--renew-deadline DURATION]",
		"[--retry-period DURATION] [--identity ID] [--key-type TYPE]",
		"[--revoke-on-delete yes|no]",
	};
	size_t i;

	for (i = 0; i < sizeof(lines) / sizeof(lines[0]); i++)
		fprintf(fp, "%s %s\n",
		    i == 0 ? "usage: meshcad" : "              ", lines[i]);
	fprintf(fp, "       meshcad --version | --help\n");
}

void
daemon_args_free(struct daemon_args *a)
{
	size_t i;

	if (a == NULL)
		return;
	for (i = 0; i < a->n; i++) {
		mc_free(a->keys[i]);
		mc_free(a->values[i]);
	}
	mc_free(a->keys);
	mc_free(a->values);
	mc_free(a->config_path);
	memset(a, 0, sizeof(*a));
}

int
daemon_args_parse(struct daemon_args *a, int argc, char *argv[],
    struct mc_err *e)
{
	struct option lo[NOPTS + 5];
	size_t i, n = 0;
	int ch, idx, rc = -1;

	memset(a, 0, sizeof(*a));
	for (i = 0; i < NOPTS; i++) {
		lo[n].name = opts[i].name;
		lo[n].has_arg = required_argument;
		lo[n].flag = NULL;
		lo[n].val = OPT_BASE + (int)i;
		n++;
	}
	lo[n++] =
	    (struct option){ "config", required_argument, NULL, OPT_CONFIG };
	lo[n++] = (struct option){ "check-config", no_argument, NULL,
		OPT_CHECK_CONFIG };
	lo[n++] = (struct option){ "version", no_argument, NULL, OPT_VERSION };
	lo[n++] = (struct option){ "help", no_argument, NULL, OPT_HELP };
	lo[n] = (struct option){ NULL, 0, NULL, 0 };

	if ((a->keys = mc_calloc((size_t)argc + 1, sizeof(char *))) == NULL ||
	    (a->values = mc_calloc((size_t)argc + 1, sizeof(char *))) == NULL)
		goto nomem;
	optind = 0; /* glibc: full reinitialization */
	opterr = 0;
	while ((ch = getopt_long(argc, argv, ":", lo, &idx)) != -1) {
		switch (ch) {
		case OPT_CONFIG:
			mc_free(a->config_path);
			if ((a->config_path = mc_strdup(optarg)) == NULL)
				goto nomem;
			a->config_given = true;
			break;
		case OPT_CHECK_CONFIG:
			a->check_config = true;
			break;
		case OPT_VERSION:
			a->version = true;
			break;
		case OPT_HELP:
			a->help = true;
			break;
		case ':':
			mc_err_set(e, MC_ST_USAGE, 0, "%s: needs a value",
			    argv[optind - 1]);
			goto out;
		case '?':
			mc_err_set(e, MC_ST_USAGE, 0, "%s: unknown option",
			    argv[optind - 1]);
			goto out;
		default:
			if (ch < OPT_BASE || ch >= OPT_BASE + (int)NOPTS) {
				mc_err_set(e, MC_ST_USAGE, 0,
				    "unexpected option");
				goto out;
			}
			if ((a->keys[a->n] =
				    mc_strdup(opts[ch - OPT_BASE].name)) ==
				NULL ||
			    (a->values[a->n] = mc_strdup(optarg)) == NULL) {
				a->n++;
				goto nomem;
			}
			a->n++;
		}
	}
	if (optind < argc) {
		mc_err_set(e, MC_ST_USAGE, 0, "%s: unexpected argument",
		    argv[optind]);
		goto out;
	}
	rc = 0;
	goto out;
nomem:
	mc_err_set(e, MC_ST_NOMEM, 0, "out of memory");
out:
	if (rc == -1)
		daemon_args_free(a);
	return rc;
}
