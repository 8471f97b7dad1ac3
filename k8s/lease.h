/*
 * lease.h: leader election on a coordination.k8s.io/v1 Lease with
 * client-go's semantics (kubernetes-api.md §6): one replica holds the
 * lease and renews it every retry period; the others take it over only
 * after the holder has not renewed for the lease duration, measured on
 * their own clock. Runs on a k8s_client's loop.
 */
#ifndef K8S_LEASE_H
#define K8S_LEASE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/err.h"
#include "k8s/http.h"

struct k8s_elector;

typedef void (*k8s_elector_fn)(struct k8s_elector *el, void *arg);

struct k8s_elector_opts {
	const char *namespace;
	const char *name;     /* the Lease's name */
	const char *identity; /* unique per replica */
	/* client-go: duration > deadline > 1.2 x retry; 15 s/10 s/2 s */
	uint64_t lease_duration_ms;
	uint64_t renew_deadline_ms;
	uint64_t retry_period_ms;
	k8s_elector_fn on_started; /* this replica now leads */
	k8s_elector_fn on_stopped; /* it no longer does: stop writing */
	void *arg;
};

/*
 * Starts campaigning. NULL with e set when the options break the rule
 * above or an allocation fails.
 */
struct k8s_elector *k8s_elector_start(struct k8s_client *c,
    const struct k8s_elector_opts *opts, struct mc_err *e);

/* True while this replica holds the lease and renewed it within the
 * renew deadline. */
bool k8s_elector_is_leader(const struct k8s_elector *el);

/* Identity of the holder last seen ("" when none or unknown). */
const char *k8s_elector_holder(const struct k8s_elector *el);

/*
 * Stops campaigning. A leader calls on_stopped at once and gives the
 * lease up (holderIdentity "", leaseDurationSeconds 1) so another
 * replica can take it at once; k8s_elector_released() turns true when
 * that write has ended.
 */
void k8s_elector_release(struct k8s_elector *el);
bool k8s_elector_released(const struct k8s_elector *el);

/* Stops everything without releasing (as a crash would). NULL is fine. */
void k8s_elector_free(struct k8s_elector *el);

/*
 * Writes the current UTC time as a Kubernetes MicroTime: exactly six
 * fractional digits and "Z" (kubernetes-api.md §3). size >= 28.
 */
void k8s_microtime(char *buf, size_t size);

#endif /* K8S_LEASE_H */
