/*
 * health.h: meshcad's HTTP endpoint for probes and scrapes, served by
 * libmicrohttpd on its own thread:
 *   GET /healthz  200 "ok" while the main loop is alive (it calls
 *                 daemon_health_heartbeat() at least every stale_after
 *                 seconds), else 503;
 *   GET /readyz   200 "ready" when the controller said so, else 503 with
 *                 the reason it gave;
 *   GET /metrics  the registry in Prometheus text format 0.0.4.
 * HEAD is answered like GET without a body; any other method gets 405,
 * any other path 404. Connections are bounded
 * (DAEMON_HEALTH_MAX_CONNECTIONS unless configured) and time out. Out of
 * file descriptors (EMFILE), the endpoint waits with backoff and serves
 * again once one is free; it logs when that starts and ends.
 */
#ifndef DAEMON_HEALTH_H
#define DAEMON_HEALTH_H

#include <stdbool.h>
#include <stdint.h>

#include "common/err.h"
#include "daemon/metrics.h"

#define DAEMON_HEALTH_MAX_CONNECTIONS 16
#define DAEMON_HEALTH_TIMEOUT 10 /* seconds of idle per connection */
#define DAEMON_HEALTH_REASON_MAX 128
#define DAEMON_HEALTH_METRICS_MAX (1024 * 1024) /* exposition ceiling */
/* accept(2) out of descriptors or memory: retry after this long, doubling */
#define DAEMON_HEALTH_ACCEPT_BACKOFF_MIN_MS 20
#define DAEMON_HEALTH_ACCEPT_BACKOFF_MAX_MS 1000

struct daemon_health;

/*
 * Parses "ADDR:PORT", "[IPv6]:PORT" or ":PORT" (all addresses). ADDR must
 * be a numeric IPv4 or IPv6 address; PORT 0..65535 (0: any free port).
 * On success the address is written to ss/sslen. -1 with e set otherwise.
 */
struct sockaddr_storage;
int daemon_health_parse_listen(const char *s, struct sockaddr_storage *ss,
    unsigned int *sslen, struct mc_err *e);

/*
 * Binds listen (see above) and starts serving. metrics (borrowed, may be
 * NULL for no /metrics) must outlive the endpoint. max_conn 0 means the
 * default. stale_after: seconds without a heartbeat before /healthz
 * fails; 0 means never. NULL with e set on failure (the message names
 * the address).
 */
struct daemon_health *daemon_health_start(const char *listen,
    struct daemon_metrics *metrics, unsigned int max_conn,
    unsigned int stale_after, struct mc_err *e);

/* Stops serving (waits for the thread) and frees. NULL is fine. */
void daemon_health_stop(struct daemon_health *h);

/* The port actually bound (useful when listen asked for port 0). */
uint16_t daemon_health_port(const struct daemon_health *h);

/* Readiness as the controller sees it; reason (copied) is shown by
 * /readyz when not ready. Thread-safe. */
void daemon_health_set_ready(struct daemon_health *h, bool ready,
    const char *reason);
bool daemon_health_is_ready(struct daemon_health *h);

/* Marks the main loop alive now. Thread-safe. */
void daemon_health_heartbeat(struct daemon_health *h);

#endif /* DAEMON_HEALTH_H */
