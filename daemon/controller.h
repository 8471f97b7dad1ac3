/*
 * controller.h: meshcad's controller, the daemon's main job (meshcad(8),
 * DESCRIPTION). It runs on the caller's thread, on the loop of one
 * Kubernetes client: the caller calls daemon_controller_run_once()
 * repeatedly (between its own work, such as reading the signal pipe).
 *
 * What it does, in order:
 *   - CA material: loads Secret meshca-ca in the CA namespace, or makes a
 *     root and creates that Secret (the loser of a create race loads the
 *     winner's); records the authority in the ledger, key sealed under
 *     the KEK (file DB.kek next to the ledger);
 *   - watches Namespaces, ServiceAccounts, meshca's own Secrets and
 *     ConfigMaps, and the revocation requests (ConfigMap
 *     meshca-revocations in the CA namespace);
 *   - campaigns for Lease meshca-leader; only the leader writes;
 *   - as leader: keeps a valid Secret istio.<sa> for every account of
 *     every managed namespace (mint, restore, rotate), revokes on account
 *     deletion and on request, publishes ConfigMap meshca-ca-bundle
 *     (roots, SPIFFE bundle, CRL) in every managed namespace, re-signs
 *     the CRL on schedule and revokes superseded leaves after the
 *     propagation window.
 */
#ifndef DAEMON_CONTROLLER_H
#define DAEMON_CONTROLLER_H

#include <stdbool.h>
#include <stdint.h>

#include "common/err.h"
#include "daemon/config.h"
#include "daemon/metrics.h"

struct daemon_controller;

/*
 * Makes a controller for configuration cfg (borrowed until the next
 * daemon_controller_set_config) reporting into metrics (borrowed; must
 * outlive the controller). Opens the ledger and the KEK (creating them
 * when missing) and the Kubernetes client, and starts the work: nothing
 * is written before the first daemon_controller_run_once(). NULL with e
 * set on failure.
 */
struct daemon_controller *daemon_controller_new(struct daemon_config *cfg,
    struct meshcad_metrics *metrics, struct mc_err *e);

/*
 * Runs transfers, timers and queued work, waiting at most timeout_ms
 * for something to happen. -1 with e set only when the transport fails
 * beyond repair.
 */
int daemon_controller_run_once(struct daemon_controller *c, int timeout_ms,
    struct mc_err *e);

/* A new configuration after SIGHUP (borrowed like the first); the
 * namespace scope and rotation thresholds apply from now on. */
void daemon_controller_set_config(struct daemon_controller *c,
    struct daemon_config *cfg);

/* Ready: CA loaded and every watch synced (as leader or as standby).
 * Otherwise *reason says what is awaited. */
bool daemon_controller_ready(const struct daemon_controller *c,
    const char **reason);

bool daemon_controller_is_leader(const struct daemon_controller *c);

/*
 * Graceful stop (SIGTERM): takes no new work, waits up to drain_ms for
 * the writes in flight, then gives the Lease up and waits (up to 2 s)
 * for that write.
 */
void daemon_controller_stop(struct daemon_controller *c, uint64_t drain_ms);

/* Frees everything (without releasing the Lease). NULL is fine. */
void daemon_controller_free(struct daemon_controller *c);

#endif /* DAEMON_CONTROLLER_H */
