/*
 * metrics.h: a small thread-safe metrics registry for meshcad, rendered
 * in the Prometheus text exposition format 0.0.4, and the set of metrics
 * meshcad publishes.
 *
 * A registry holds families (a name, a help text, a type). A counter or
 * gauge family has no label or exactly one label name, and then one
 * series per label value, made on first use (at most
 * DAEMON_METRIC_SERIES_MAX per family, so a value taken from input cannot
 * grow the registry without bound). A histogram has fixed bucket bounds
 * and no label. Every call may be made from any thread; families are
 * owned by their registry and valid until it is freed.
 */
#ifndef DAEMON_METRICS_H
#define DAEMON_METRICS_H

#include <stddef.h>

#include "common/buf.h"
#include "common/err.h"

#define DAEMON_METRIC_SERIES_MAX 64
#define DAEMON_METRIC_BUCKETS_MAX 32
#define DAEMON_METRIC_VALUE_MAX 128 /* longest label value, bytes */

/* Content-Type of the exposition (Prometheus text format 0.0.4). */
#define DAEMON_METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

struct daemon_metrics;
struct daemon_metric;

struct daemon_metrics *daemon_metrics_new(void);
void daemon_metrics_free(struct daemon_metrics *r);

/*
 * Registers a family. name must match [a-zA-Z_:][a-zA-Z0-9_:]*, label
 * (NULL for none) [a-zA-Z_][a-zA-Z0-9_]* and not start with "__" or be
 * "le"; help is any text. A name may be registered once. bounds: strictly
 * increasing finite upper bounds (the +Inf bucket is implied). NULL with e
 * set on error.
 */
struct daemon_metric *daemon_metrics_counter(struct daemon_metrics *r,
    const char *name, const char *help, const char *label, struct mc_err *e);
struct daemon_metric *daemon_metrics_gauge(struct daemon_metrics *r,
    const char *name, const char *help, const char *label, struct mc_err *e);
struct daemon_metric *daemon_metrics_histogram(struct daemon_metrics *r,
    const char *name, const char *help, const double *bounds, size_t nbounds,
    struct mc_err *e);

/*
 * Updates a series. value (the label value) must be NULL exactly when the
 * family has no label. Counters only go up: daemon_metric_add() refuses a
 * negative or non-finite v. -1 when the call does not fit the family, the
 * family has DAEMON_METRIC_SERIES_MAX series already, or memory ran out.
 */
int daemon_metric_inc(struct daemon_metric *m, const char *value);
int daemon_metric_add(struct daemon_metric *m, const char *value, double v);
int daemon_metric_set(struct daemon_metric *m, const char *value, double v);
int daemon_metric_observe(struct daemon_metric *m, double v);

/* The current value of a counter or gauge series; 0 when it does not
 * exist. For tests and for the daemon's own decisions. */
double daemon_metric_get(struct daemon_metric *m, const char *value);

/* Appends the exposition of every family, in registration order. */
int daemon_metrics_render(struct daemon_metrics *r, struct mc_buf *out,
    struct mc_err *e);

/* Formats v as Prometheus does (shortest round-trip form, "+Inf"...). */
void daemon_metrics_format_value(double v, char *out, size_t outlen);

/* meshcad's metrics (see meshcad(8), METRICS). */
struct meshcad_metrics {
	struct daemon_metrics *reg;
	struct daemon_metric *issued;		 /* counter */
	struct daemon_metric *rotated;		 /* counter */
	struct daemon_metric *revoked;		 /* counter {reason} */
	struct daemon_metric *restored;		 /* counter {cause} */
	struct daemon_metric *watch_restarts;	 /* counter {resource} */
	struct daemon_metric *api_errors;	 /* counter {code} */
	struct daemon_metric *issuance_duration; /* histogram, seconds */
	struct daemon_metric *earliest_expiry;	 /* gauge, Unix time */
	struct daemon_metric *root_expiry;	 /* gauge, Unix time */
	struct daemon_metric *leader;		 /* gauge 0/1 */
	struct daemon_metric *ready;		 /* gauge 0/1 */
	struct daemon_metric *config_reloads;	 /* counter {result} */
	struct daemon_metric *build_info;	 /* gauge {version} = 1 */
	struct daemon_metric *ledger_errors;	 /* counter */
	struct daemon_metric *open_fds;		 /* gauge process_open_fds */
	struct daemon_metric *max_fds;		 /* gauge process_max_fds */
	struct daemon_metric *cpu_seconds; /* counter process_cpu_seconds_total */
	struct daemon_metric *rss_bytes; /* gauge process_resident_memory_bytes */
};

/* Makes the registry and every family; NULL with e set on failure.
 * version goes into meshca_build_info. */
struct meshcad_metrics *meshcad_metrics_new(const char *version,
    struct mc_err *e);
void meshcad_metrics_free(struct meshcad_metrics *m);

#endif /* DAEMON_METRICS_H */
