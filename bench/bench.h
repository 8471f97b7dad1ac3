/*
 * bench.h: what the benchmarks share: command-line options (--quick for
 * the make check smoke run, --rounds), a CPU-time clock, medians and the
 * "BENCH name value unit" output line that make bench collects.
 */
#ifndef BENCH_BENCH_H
#define BENCH_BENCH_H

#include <stdbool.h>
#include <stddef.h>

/* Most rounds a benchmark may run. */
#define BENCH_ROUNDS_MAX 101

struct bench_opts {
	bool quick;   /* a few iterations: checks that it runs, no figures */
	int rounds;   /* interleaved rounds of each variant (odd) */
	double block; /* CPU seconds per variant per round */
};

/* Parses --quick, --rounds N and --block SECONDS; exits 2 on a bad
 * argument. defaults holds the values for a full run. */
void bench_parse_args(int argc, char *argv[], const struct bench_opts *defaults,
    struct bench_opts *o);

/*
 * CPU seconds used by this process. Other builds running on the same
 * machine steal wall-clock time but not CPU time, so ratios measured on
 * it are steadier.
 */
double bench_cpu_now(void);

/* The median of the n values at v (sorted in place); n >= 1. */
double bench_median(double *v, size_t n);

/* Prints "BENCH name value unit" on stdout. */
void bench_print(const char *name, double value, const char *unit);

/*
 * Prints the median of the n values at v as "BENCH name median unit" on
 * stdout, and their quartiles on stderr ("# name: quartiles q1 .. q3
 * over n rounds") to show how steady the run was. Sorts v.
 */
void bench_report(const char *name, double *v, size_t n, const char *unit);

/* Prints a diagnostic on stderr and exits 1. */
void bench_die(const char *fmt, ...)
    __attribute__((format(printf, 1, 2), noreturn));

#endif /* BENCH_BENCH_H */
