/*
 * fuzz.h: what every libFuzzer target under fuzz/ shares: the entry
 * points libFuzzer calls (declared here so -Wmissing-prototypes holds),
 * and FUZZ_CHECK, which turns a broken invariant into an abort() that
 * libFuzzer (or fuzz/replay.c) reports as a crash with its input saved.
 */
#ifndef FUZZ_FUZZ_H
#define FUZZ_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* An invariant of the code under test; failing it is a finding. */
#define FUZZ_CHECK(cond, what)                                                \
	do {                                                                  \
		if (!(cond)) {                                                \
			fprintf(stderr, "%s:%d: invariant broken: %s (%s)\n", \
			    __FILE__, __LINE__, (what), #cond);               \
			abort();                                              \
		}                                                             \
	} while (0)

/*
 * True when tools/torture.sh is failing allocations in this process
 * (MC_ALLOC_FAIL or MC_OSSL_FAIL set): a target then skips the checks
 * that compare with OpenSSL, whose own allocations fail too, and keeps
 * those that must hold whatever fails (no crash, no leak, a failure
 * reported as a failure).
 */
static inline int
fuzz_injecting(void)
{
	static int cached = -1;

	if (cached < 0)
		cached = getenv("MC_ALLOC_FAIL") != NULL ||
		    getenv("MC_OSSL_FAIL") != NULL;
	return cached;
}

/*
 * True when the environment variable FUZZ_SKIP_KNOWN (a list of tags)
 * names tag: a check for a bug already reported (fuzz/regress-pending/)
 * can be turned off for a local run, so the fuzzer explores past it.
 * CI never sets it.
 */
static inline int
fuzz_skip_known(const char *tag)
{
	const char *s = getenv("FUZZ_SKIP_KNOWN");

	return s != NULL && strstr(s, tag) != NULL;
}

#endif /* FUZZ_FUZZ_H */
