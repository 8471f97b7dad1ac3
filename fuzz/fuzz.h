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

#endif /* FUZZ_FUZZ_H */
