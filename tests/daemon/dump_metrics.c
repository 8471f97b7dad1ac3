/*
 * dump_metrics.c: prints meshcad's metrics registry, with a sample of
 * every kind of value (labelled counters, gauges, histogram observations
 * in several buckets and past the last one, label values needing
 * escapes), so that tests/daemon/check_promtool.sh can hand the text to
 * `promtool check metrics`.
 */
#include <stdio.h>

#include "common/alloc.h"
#include "common/buf.h"
#include "daemon/metrics.h"

int
main(void)
{
	struct meshcad_metrics *m;
	struct mc_buf b;
	struct mc_err e;
	int rc = 1;

	mc_buf_init(&b, 1 << 20);
	if ((m = meshcad_metrics_new("0.1.0", &e)) == NULL)
		goto out;
	daemon_metric_add(m->issued, NULL, 42);
	daemon_metric_add(m->rotated, NULL, 7);
	daemon_metric_inc(m->revoked, "cessationOfOperation");
	daemon_metric_inc(m->revoked, "superseded");
	daemon_metric_inc(m->restored, "deleted");
	daemon_metric_inc(m->restored, "tampered");
	daemon_metric_inc(m->watch_restarts, "secrets");
	daemon_metric_inc(m->api_errors, "409");
	daemon_metric_inc(m->api_errors, "quote\"back\\slash");
	daemon_metric_observe(m->issuance_duration, 0.0004);
	daemon_metric_observe(m->issuance_duration, 0.02);
	daemon_metric_observe(m->issuance_duration, 3.5);
	daemon_metric_observe(m->issuance_duration, 60);
	daemon_metric_set(m->earliest_expiry, NULL, 1795705136);
	daemon_metric_set(m->root_expiry, NULL, 2110000000);
	daemon_metric_set(m->leader, NULL, 1);
	daemon_metric_set(m->ready, NULL, 1);
	daemon_metric_inc(m->config_reloads, "success");
	if (daemon_metrics_render(m->reg, &b, &e) == -1)
		goto out;
	fputs(b.data, stdout);
	rc = 0;
out:
	if (rc != 0)
		fprintf(stderr, "dump_metrics: %s\n", e.msg);
	mc_buf_free(&b);
	meshcad_metrics_free(m);
	return rc;
}
