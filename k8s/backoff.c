/*
 * backoff.c: exponential backoff with full jitter, for every reconnect
 * and retry loop of the Kubernetes client, so that a fleet of replicas
 * that lose the API server together does not come back in step
 * (DESIGN.md, "Every network loop has backoff with jitter"). The random
 * numbers need not be unpredictable, only spread: a xorshift generator
 * seeded from getrandom(2), one per thread.
 */
#include <stdint.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "k8s/backoff.h"

static _Thread_local uint64_t rng_state;

static uint64_t
rng_next(void)
{
	uint64_t x;
	struct timespec ts;

	if (rng_state == 0) {
		if (getrandom(&rng_state, sizeof(rng_state), GRND_NONBLOCK) !=
		    (ssize_t)sizeof(rng_state)) {
			clock_gettime(CLOCK_MONOTONIC, &ts);
			rng_state = (uint64_t)ts.tv_nsec ^
			    ((uint64_t)ts.tv_sec << 32) ^ (uint64_t)getpid();
		}
		if (rng_state == 0)
			rng_state = 0x9e3779b97f4a7c15ULL;
	}
	/* xorshift64* (Vigna) */
	x = rng_state;
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	rng_state = x;
	return x * 0x2545f4914f6cdd1dULL;
}

uint64_t
k8s_rand_between(uint64_t lo, uint64_t hi)
{
	uint64_t span;

	if (hi <= lo)
		return lo;
	span = hi - lo;
	if (span == UINT64_MAX)
		return rng_next();
	return lo + rng_next() % (span + 1);
}

uint64_t
k8s_jitter(uint64_t ms, double factor)
{
	if (factor <= 0)
		return ms;
	return ms + k8s_rand_between(0, (uint64_t)((double)ms * factor));
}

void
k8s_backoff_init(struct k8s_backoff *b, uint64_t base_ms, uint64_t cap_ms)
{
	b->base_ms = base_ms == 0 ? 1 : base_ms;
	b->cap_ms = cap_ms < b->base_ms ? b->base_ms : cap_ms;
	b->attempt = 0;
}

uint64_t
k8s_backoff_next(struct k8s_backoff *b)
{
	uint64_t ceil = b->base_ms;
	unsigned i;

	for (i = 0; i < b->attempt && ceil < b->cap_ms; i++)
		ceil = ceil > UINT64_MAX / 2 ? UINT64_MAX : ceil * 2;
	if (ceil > b->cap_ms)
		ceil = b->cap_ms;
	if (b->attempt < 64)
		b->attempt++;
	return k8s_rand_between(0, ceil);
}

void
k8s_backoff_reset(struct k8s_backoff *b)
{
	b->attempt = 0;
}

uint64_t
k8s_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}
