/*
 * metrics.c: the metrics registry and its text exposition (Prometheus
 * "Exposition formats", text format version 0.0.4), and the families
 * meshcad publishes. Names, label names and help texts come from the
 * program; label values may come from input (an API status code, a
 * revocation reason), so they are checked (printable ASCII, bounded
 * length) and the number of series per family is capped. One mutex per
 * registry guards every family in it; rendering holds it for one pass.
 */
#include <math.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "common/status.h"
#include "daemon/metrics.h"

enum metric_type {
	METRIC_COUNTER,
	METRIC_GAUGE,
	METRIC_HISTOGRAM
};

struct series {
	char *value; /* label value, NULL for the unlabelled series */
	double v;
};

struct daemon_metric {
	enum metric_type type;
	char *name;
	char *help;
	char *label; /* NULL: no label */
	struct series series[DAEMON_METRIC_SERIES_MAX];
	size_t nseries;
	double bounds[DAEMON_METRIC_BUCKETS_MAX];
	uint64_t
	    counts[DAEMON_METRIC_BUCKETS_MAX]; /* per bucket, not cumulative */
	size_t nbounds;
	uint64_t count;
	double sum;
	struct daemon_metrics *reg;
	struct daemon_metric *next;
};

struct daemon_metrics {
	pthread_mutex_t mu;
	struct daemon_metric *head;
	struct daemon_metric *tail;
};

struct daemon_metrics *
daemon_metrics_new(void)
{
	struct daemon_metrics *r;

	if ((r = mc_calloc(1, sizeof(*r))) == NULL)
		return NULL;
	if (pthread_mutex_init(&r->mu, NULL) != 0) {
		mc_free(r);
		return NULL;
	}
	return r;
}

static void
metric_free(struct daemon_metric *m)
{
	size_t i;

	for (i = 0; i < m->nseries; i++)
		mc_free(m->series[i].value);
	mc_free(m->name);
	mc_free(m->help);
	mc_free(m->label);
	mc_free(m);
}

void
daemon_metrics_free(struct daemon_metrics *r)
{
	struct daemon_metric *m, *next;

	if (r == NULL)
		return;
	for (m = r->head; m != NULL; m = next) {
		next = m->next;
		metric_free(m);
	}
	pthread_mutex_destroy(&r->mu);
	mc_free(r);
}

/* Metric names: [a-zA-Z_:][a-zA-Z0-9_:]*; label names: no ':' (data
 * model, "Metric names and labels"). */
static bool
is_valid_name(const char *s, bool label)
{
	size_t i;

	if (s == NULL || *s == '\0')
		return false;
	for (i = 0; s[i] != '\0'; i++) {
		char c = s[i];

		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    c == '_' || (!label && c == ':'))
			continue;
		if (i > 0 && c >= '0' && c <= '9')
			continue;
		return false;
	}
	return true;
}

static bool
is_valid_value(const char *s)
{
	size_t i;

	for (i = 0; s[i] != '\0'; i++) {
		if (i >= DAEMON_METRIC_VALUE_MAX ||
		    (unsigned char)s[i] < 0x20 || (unsigned char)s[i] > 0x7e)
			return false;
	}
	return true;
}

static struct daemon_metric *
metric_register(struct daemon_metrics *r, enum metric_type type,
    const char *name, const char *help, const char *label, const double *bounds,
    size_t nbounds, struct mc_err *e)
{
	struct daemon_metric *m = NULL, *it, *ret = NULL;
	size_t i;

	if (!is_valid_name(name, false)) {
		mc_err_set(e, MC_ST_USAGE, 0,
		    "metric \"%s\": name does not "
		    "match [a-zA-Z_:][a-zA-Z0-9_:]*",
		    name ? name : "");
		goto out;
	}
	if (label != NULL &&
	    (!is_valid_name(label, true) || strncmp(label, "__", 2) == 0 ||
		strcmp(label, "le") == 0)) {
		mc_err_set(e, MC_ST_USAGE, 0,
		    "metric %s: label name \"%s\" "
		    "is invalid or reserved",
		    name, label);
		goto out;
	}
	if (nbounds > DAEMON_METRIC_BUCKETS_MAX - 1) {
		mc_err_set(e, MC_ST_USAGE, 0, "metric %s: more than %d buckets",
		    name, DAEMON_METRIC_BUCKETS_MAX - 1);
		goto out;
	}
	for (i = 0; i < nbounds; i++) {
		if (!isfinite(bounds[i]) ||
		    (i > 0 && bounds[i] <= bounds[i - 1])) {
			mc_err_set(e, MC_ST_USAGE, 0,
			    "metric %s: bucket bounds "
			    "must be finite and strictly increasing",
			    name);
			goto out;
		}
	}
	if ((m = mc_calloc(1, sizeof(*m))) == NULL ||
	    (m->name = mc_strdup(name)) == NULL ||
	    (m->help = mc_strdup(help != NULL ? help : "")) == NULL ||
	    (label != NULL && (m->label = mc_strdup(label)) == NULL)) {
		mc_err_set(e, MC_ST_NOMEM, 0, "metric %s: out of memory", name);
		goto out;
	}
	m->type = type;
	m->reg = r;
	m->nbounds = nbounds;
	if (nbounds > 0)
		memcpy(m->bounds, bounds, nbounds * sizeof(bounds[0]));

	pthread_mutex_lock(&r->mu);
	for (it = r->head; it != NULL; it = it->next) {
		if (strcmp(it->name, name) == 0)
			break;
	}
	if (it == NULL) {
		if (r->tail != NULL)
			r->tail->next = m;
		else
			r->head = m;
		r->tail = m;
	}
	pthread_mutex_unlock(&r->mu);
	if (it != NULL) {
		mc_err_set(e, MC_ST_USAGE, 0, "metric %s: registered twice",
		    name);
		goto out;
	}
	ret = m;
	m = NULL;
out:
	if (m != NULL)
		metric_free(m);
	return ret;
}

struct daemon_metric *
daemon_metrics_counter(struct daemon_metrics *r, const char *name,
    const char *help, const char *label, struct mc_err *e)
{
	return metric_register(r, METRIC_COUNTER, name, help, label, NULL, 0,
	    e);
}

struct daemon_metric *
daemon_metrics_gauge(struct daemon_metrics *r, const char *name,
    const char *help, const char *label, struct mc_err *e)
{
	return metric_register(r, METRIC_GAUGE, name, help, label, NULL, 0, e);
}

struct daemon_metric *
daemon_metrics_histogram(struct daemon_metrics *r, const char *name,
    const char *help, const double *bounds, size_t nbounds, struct mc_err *e)
{
	return metric_register(r, METRIC_HISTOGRAM, name, help, NULL, bounds,
	    nbounds, e);
}

/* With the registry lock held: the series for value, made if need be. */
static struct series *
series_get(struct daemon_metric *m, const char *value, bool create)
{
	struct series *s;
	size_t i;

	if ((value == NULL) != (m->label == NULL))
		return NULL;
	for (i = 0; i < m->nseries; i++) {
		s = &m->series[i];
		if (value == NULL || strcmp(s->value, value) == 0)
			return s;
	}
	if (!create || m->nseries == DAEMON_METRIC_SERIES_MAX)
		return NULL;
	if (value != NULL && !is_valid_value(value))
		return NULL;
	s = &m->series[m->nseries];
	s->v = 0;
	s->value = NULL;
	if (value != NULL && (s->value = mc_strdup(value)) == NULL)
		return NULL;
	m->nseries++;
	return s;
}

static int
series_update(struct daemon_metric *m, const char *value, double v, bool add)
{
	struct series *s;
	int rc = -1;

	if (m == NULL || m->type == METRIC_HISTOGRAM || !isfinite(v))
		return -1;
	if (m->type == METRIC_COUNTER && (!add || v < 0))
		return -1;
	pthread_mutex_lock(&m->reg->mu);
	if ((s = series_get(m, value, true)) != NULL) {
		s->v = add ? s->v + v : v;
		rc = 0;
	}
	pthread_mutex_unlock(&m->reg->mu);
	return rc;
}

int
daemon_metric_inc(struct daemon_metric *m, const char *value)
{
	return series_update(m, value, 1, true);
}

int
daemon_metric_add(struct daemon_metric *m, const char *value, double v)
{
	return series_update(m, value, v, true);
}

int
daemon_metric_set(struct daemon_metric *m, const char *value, double v)
{
	return series_update(m, value, v, false);
}

int
daemon_metric_observe(struct daemon_metric *m, double v)
{
	size_t i;

	if (m == NULL || m->type != METRIC_HISTOGRAM || isnan(v))
		return -1;
	pthread_mutex_lock(&m->reg->mu);
	for (i = 0; i < m->nbounds && v > m->bounds[i]; i++)
		;
	m->counts[i]++; /* i == nbounds: the +Inf bucket */
	m->count++;
	m->sum += v;
	pthread_mutex_unlock(&m->reg->mu);
	return 0;
}

double
daemon_metric_get(struct daemon_metric *m, const char *value)
{
	struct series *s;
	double v = 0;

	if (m == NULL || m->type == METRIC_HISTOGRAM)
		return 0;
	pthread_mutex_lock(&m->reg->mu);
	if ((s = series_get(m, value, false)) != NULL)
		v = s->v;
	pthread_mutex_unlock(&m->reg->mu);
	return v;
}

/*
 * Values are Go ParseFloat syntax with "+Inf", "-Inf" and "NaN" spelled
 * so (text format 0.0.4, "Text format details"). Integers below 1e15
 * are written as integers (a Unix time stays readable); other values in
 * the shortest %g form that reads back to the same double.
 */
void
daemon_metrics_format_value(double v, char *out, size_t outlen)
{
	int prec;

	if (isnan(v)) {
		snprintf(out, outlen, "NaN");
		return;
	}
	if (isinf(v)) {
		snprintf(out, outlen, v > 0 ? "+Inf" : "-Inf");
		return;
	}
	if (v == trunc(v) && fabs(v) < 1e15) {
		snprintf(out, outlen, "%.0f", v == 0 ? 0.0 : v);
		return;
	}
	for (prec = 1; prec <= 17; prec++) {
		snprintf(out, outlen, "%.*g", prec, v);
		if (strtod(out, NULL) == v)
			return;
	}
}

/*
 * HELP text: "\" as "\\" and line feed as "\n"; label values also escape
 * '"' (text format 0.0.4, "Comments, help text, and type information"
 * and "Syntax"). Other bytes pass as they are.
 */
static int
put_escaped(struct mc_buf *b, const char *s, bool quote, struct mc_err *e)
{
	const char *p;

	for (p = s; *p != '\0'; p++) {
		const char *rep = NULL;
		char c[2] = { *p, '\0' };

		if (*p == '\\')
			rep = "\\\\";
		else if (*p == '\n')
			rep = "\\n";
		else if (quote && *p == '"')
			rep = "\\\"";
		if (mc_buf_puts(b, rep != NULL ? rep : c, e) == -1)
			return -1;
	}
	return 0;
}

static const char *
type_name(enum metric_type t)
{
	switch (t) {
	case METRIC_COUNTER:
		return "counter";
	case METRIC_GAUGE:
		return "gauge";
	case METRIC_HISTOGRAM:
		return "histogram";
	}
	return "untyped";
}

static int
render_histogram(const struct daemon_metric *m, struct mc_buf *b,
    struct mc_err *e)
{
	char num[64];
	uint64_t cum = 0;
	size_t i;

	for (i = 0; i <= m->nbounds; i++) {
		cum += m->counts[i];
		if (i < m->nbounds)
			daemon_metrics_format_value(m->bounds[i], num,
			    sizeof(num));
		else
			snprintf(num, sizeof(num), "+Inf");
		if (mc_buf_printf(b, e, "%s_bucket{le=\"%s\"} %llu\n", m->name,
			num, (unsigned long long)cum) == -1)
			return -1;
	}
	daemon_metrics_format_value(m->sum, num, sizeof(num));
	if (mc_buf_printf(b, e, "%s_sum %s\n%s_count %llu\n", m->name, num,
		m->name, (unsigned long long)m->count) == -1)
		return -1;
	return 0;
}

static int
render_family(const struct daemon_metric *m, struct mc_buf *b, struct mc_err *e)
{
	char num[64];
	size_t i;

	if (mc_buf_printf(b, e, "# HELP %s ", m->name) == -1 ||
	    put_escaped(b, m->help, false, e) == -1 ||
	    mc_buf_printf(b, e, "\n# TYPE %s %s\n", m->name,
		type_name(m->type)) == -1)
		return -1;
	if (m->type == METRIC_HISTOGRAM)
		return render_histogram(m, b, e);
	for (i = 0; i < m->nseries; i++) {
		const struct series *s = &m->series[i];

		if (mc_buf_puts(b, m->name, e) == -1)
			return -1;
		if (s->value != NULL &&
		    (mc_buf_printf(b, e, "{%s=\"", m->label) == -1 ||
			put_escaped(b, s->value, true, e) == -1 ||
			mc_buf_puts(b, "\"}", e) == -1))
			return -1;
		daemon_metrics_format_value(s->v, num, sizeof(num));
		if (mc_buf_printf(b, e, " %s\n", num) == -1)
			return -1;
	}
	return 0;
}

int
daemon_metrics_render(struct daemon_metrics *r, struct mc_buf *out,
    struct mc_err *e)
{
	const struct daemon_metric *m;
	int rc = -1;

	pthread_mutex_lock(&r->mu);
	for (m = r->head; m != NULL; m = m->next) {
		if (render_family(m, out, e) == -1) {
			mc_err_prefix(e, "metrics");
			goto out;
		}
	}
	rc = 0;
out:
	pthread_mutex_unlock(&r->mu);
	return rc;
}

/* Seconds; key generation (RSA 4096 above all) can take seconds. */
static const double issuance_buckets[] = { 0.001, 0.0025, 0.005, 0.01, 0.025,
	0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10 };

struct meshcad_metrics *
meshcad_metrics_new(const char *version, struct mc_err *e)
{
	struct meshcad_metrics *m = NULL, *ret = NULL;
	struct daemon_metrics *r;

	if ((m = mc_calloc(1, sizeof(*m))) == NULL ||
	    (m->reg = daemon_metrics_new()) == NULL) {
		mc_err_set(e, MC_ST_NOMEM, 0, "metrics: out of memory");
		goto out;
	}
	r = m->reg;
	if ((m->issued = daemon_metrics_counter(r,
		 "meshca_certificates_issued_total",
		 "Workload certificates issued (new and re-issued).", NULL,
		 e)) == NULL ||
	    (m->rotated = daemon_metrics_counter(r,
		 "meshca_certificates_rotated_total",
		 "Workload certificates replaced because they neared expiry.",
		 NULL, e)) == NULL ||
	    (m->revoked = daemon_metrics_counter(r,
		 "meshca_certificates_revoked_total",
		 "Certificates revoked, by RFC 5280 reason.", "reason", e)) ==
		NULL ||
	    (m->restored = daemon_metrics_counter(r,
		 "meshca_secrets_restored_total",
		 "Workload Secrets rewritten after deletion or tampering.",
		 "cause", e)) == NULL ||
	    (m->watch_restarts =
		    daemon_metrics_counter(r, "meshca_watch_restarts_total",
			"Kubernetes watch streams restarted, by resource.",
			"resource", e)) == NULL ||
	    (m->api_errors =
		    daemon_metrics_counter(r, "meshca_api_errors_total",
			"Failed Kubernetes API requests, by HTTP status or "
			"error class.",
			"code", e)) == NULL ||
	    (m->issuance_duration = daemon_metrics_histogram(r,
		 "meshca_issuance_duration_seconds",
		 "Time to issue one workload certificate, key generation "
		 "included.",
		 issuance_buckets,
		 sizeof(issuance_buckets) / sizeof(issuance_buckets[0]), e)) ==
		NULL ||
	    (m->earliest_expiry = daemon_metrics_gauge(r,
		 "meshca_earliest_expiry_seconds",
		 "Unix time of the earliest notAfter among managed workload "
		 "certificates; 0 when there is none.",
		 NULL, e)) == NULL ||
	    (m->root_expiry = daemon_metrics_gauge(r,
		 "meshca_root_expiry_seconds",
		 "Unix time of the active root's notAfter; 0 when unknown.",
		 NULL, e)) == NULL ||
	    (m->leader = daemon_metrics_gauge(r, "meshca_leader",
		 "1 while this replica holds the leader Lease, else 0.", NULL,
		 e)) == NULL ||
	    (m->ready = daemon_metrics_gauge(r, "meshca_ready",
		 "1 while /readyz answers 200, else 0.", NULL, e)) == NULL ||
	    (m->config_reloads = daemon_metrics_counter(r,
		 "meshca_config_reloads_total",
		 "Configuration reloads (SIGHUP), by result.", "result", e)) ==
		NULL ||
	    (m->build_info = daemon_metrics_gauge(r, "meshca_build_info",
		 "Always 1; the label carries the meshcad version.", "version",
		 e)) == NULL ||
	    (m->ledger_errors = daemon_metrics_counter(r,
		 "meshca_ledger_errors_total",
		 "Ledger (sqlite) operations that failed, a full disk "
		 "included; nothing is published that the ledger did not "
		 "record.",
		 NULL, e)) == NULL ||
	    /* the names of Prometheus's process collector */
	    (m->open_fds = daemon_metrics_gauge(r, "process_open_fds",
		 "Open file descriptors (the limit when they could not be "
		 "counted for want of one).",
		 NULL, e)) == NULL ||
	    (m->max_fds = daemon_metrics_gauge(r, "process_max_fds",
		 "Limit on open file descriptors (RLIMIT_NOFILE, soft).", NULL,
		 e)) == NULL ||
	    (m->cpu_seconds = daemon_metrics_counter(r,
		 "process_cpu_seconds_total",
		 "User and system CPU time spent, in seconds.", NULL, e)) ==
		NULL ||
	    (m->rss_bytes = daemon_metrics_gauge(r,
		 "process_resident_memory_bytes",
		 "Resident memory size in bytes.", NULL, e)) == NULL)
		goto out;
	/* Series that exist from the start, so alerts see 0 and not absent. */
	if (daemon_metric_add(m->issued, NULL, 0) == -1 ||
	    daemon_metric_add(m->rotated, NULL, 0) == -1 ||
	    daemon_metric_set(m->earliest_expiry, NULL, 0) == -1 ||
	    daemon_metric_set(m->root_expiry, NULL, 0) == -1 ||
	    daemon_metric_set(m->leader, NULL, 0) == -1 ||
	    daemon_metric_set(m->ready, NULL, 0) == -1 ||
	    daemon_metric_add(m->config_reloads, "success", 0) == -1 ||
	    daemon_metric_add(m->config_reloads, "failure", 0) == -1 ||
	    daemon_metric_add(m->ledger_errors, NULL, 0) == -1 ||
	    daemon_metric_set(m->open_fds, NULL, 0) == -1 ||
	    daemon_metric_set(m->max_fds, NULL, 0) == -1 ||
	    daemon_metric_add(m->cpu_seconds, NULL, 0) == -1 ||
	    daemon_metric_set(m->rss_bytes, NULL, 0) == -1 ||
	    daemon_metric_set(m->build_info, version, 1) == -1) {
		mc_err_set(e, MC_ST_NOMEM, 0,
		    "metrics: out of memory or bad "
		    "version label");
		goto out;
	}
	ret = m;
	m = NULL;
out:
	meshcad_metrics_free(m);
	return ret;
}

void
meshcad_metrics_free(struct meshcad_metrics *m)
{
	if (m == NULL)
		return;
	daemon_metrics_free(m->reg);
	mc_free(m);
}
