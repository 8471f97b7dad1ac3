/*
 * scheduler.h: when meshcad acts on a certificate. Every time here is
 * derived from the certificates themselves (notBefore, notAfter) and
 * from the account's name, never from when meshcad happened to start,
 * so a restarted or newly elected replica reaches the same schedule.
 */
#ifndef DAEMON_SCHEDULER_H
#define DAEMON_SCHEDULER_H

#include <stdint.h>

/* The share of the grace period over which renewals are spread. */
#define DAEMON_JITTER_FRACTION 0.1

/* FNV-1a of s: a stable, well-spread hash for per-account jitter. */
uint64_t daemon_hash(const char *s);

/*
 * The grace period of a leaf valid from not_before to not_after (Unix
 * seconds): max(ratio x lifetime, min_grace), but never the whole
 * lifetime (then half of it), so a leaf is never due at birth.
 */
int64_t daemon_grace(int64_t not_before, int64_t not_after, double ratio,
    int64_t min_grace);

/*
 * When the leaf of account key (e.g. "ns/sa") is renewed: notAfter minus
 * the grace period minus a jitter in [0, grace x DAEMON_JITTER_FRACTION]
 * drawn from the key's hash. Renewal is only ever earlier than the grace
 * rule asks, never later.
 */
int64_t daemon_renew_at(int64_t not_before, int64_t not_after, double ratio,
    int64_t min_grace, const char *key);

/* When a CRL valid from this_update to next_update is re-signed: half
 * way, so verifiers that cache it never hold an expired one. */
int64_t daemon_crl_resign_at(int64_t this_update, int64_t next_update);

#endif /* DAEMON_SCHEDULER_H */
