/*
 * backoff.h: retry delays for every network loop in k8s/: exponential
 * growth with "full jitter" (a uniform draw between 0 and the current
 * ceiling), capped, plus the client-go style "jitter factor" used for
 * lease retry periods and watch timeouts.
 */
#ifndef K8S_BACKOFF_H
#define K8S_BACKOFF_H

#include <stdint.h>

struct k8s_backoff {
	uint64_t base_ms; /* ceiling of the first delay */
	uint64_t cap_ms;  /* the ceiling never grows past this */
	unsigned attempt; /* failures since the last reset */
};

/* Prepares b; base_ms 0 is taken as 1. */
void k8s_backoff_init(struct k8s_backoff *b, uint64_t base_ms, uint64_t cap_ms);

/*
 * The delay before the next attempt: uniform in [0, min(cap, base * 2^n)]
 * where n counts the calls since the last reset. Never more than cap_ms.
 */
uint64_t k8s_backoff_next(struct k8s_backoff *b);

/* Forget past failures (call after a success). */
void k8s_backoff_reset(struct k8s_backoff *b);

/* Uniform in [lo, hi] (lo when hi <= lo). */
uint64_t k8s_rand_between(uint64_t lo, uint64_t hi);

/* ms + a uniform extra of up to ms * factor (client-go wait.Jitter). */
uint64_t k8s_jitter(uint64_t ms, double factor);

/* Milliseconds on the monotonic clock. */
uint64_t k8s_now_ms(void);

#endif /* K8S_BACKOFF_H */
