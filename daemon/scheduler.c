/*
 * scheduler.c: renewal and re-signing times (see scheduler.h). Pure
 * arithmetic on times taken from certificates; nothing is trusted
 * beyond the integers given.
 */
#include <stdint.h>

#include "daemon/scheduler.h"

uint64_t
daemon_hash(const char *s)
{
	uint64_t h = 1469598103934665603ULL;

	while (*s != '\0') {
		h ^= (unsigned char)*s++;
		h *= 1099511628211ULL;
	}
	return h;
}

int64_t
daemon_grace(int64_t not_before, int64_t not_after, double ratio,
    int64_t min_grace)
{
	int64_t life = not_after - not_before, g;

	if (life <= 0)
		return 0;
	g = (int64_t)(ratio * (double)life);
	if (g < min_grace)
		g = min_grace;
	if (g >= life)
		g = life / 2;
	return g;
}

int64_t
daemon_renew_at(int64_t not_before, int64_t not_after, double ratio,
    int64_t min_grace, const char *key)
{
	int64_t g, spread;

	g = daemon_grace(not_before, not_after, ratio, min_grace);
	spread = (int64_t)((double)g * DAEMON_JITTER_FRACTION);
	if (spread <= 0)
		return not_after - g;
	return not_after - g - (int64_t)(daemon_hash(key) %
	    (uint64_t)(spread + 1));
}

int64_t
daemon_crl_resign_at(int64_t this_update, int64_t next_update)
{
	return this_update + (next_update - this_update) / 2;
}
