/*
 * bench.c: the shared parts of the benchmarks (see bench.h). Trusts its
 * command line only to be strings: numbers are parsed with strtol/strtod
 * and range-checked.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench/bench.h"

void
bench_die(const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);
	fputs("bench: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

static void
usage(const char *prog)
{
	fprintf(stderr, "usage: %s [--quick] [--rounds n] [--block seconds]\n",
	    prog);
	exit(2);
}

void
bench_parse_args(int argc, char *argv[], const struct bench_opts *defaults,
    struct bench_opts *o)
{
	char *end;
	long n;
	int i;

	*o = *defaults;
	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--quick") == 0) {
			o->quick = true;
			o->rounds = 3;
			o->block = 0.01;
		} else if (strcmp(argv[i], "--rounds") == 0 && i + 1 < argc) {
			errno = 0;
			n = strtol(argv[++i], &end, 10);
			if (errno != 0 || *end != '\0' || n < 1 ||
			    n > BENCH_ROUNDS_MAX)
				usage(argv[0]);
			o->rounds = (int)n;
		} else if (strcmp(argv[i], "--block") == 0 && i + 1 < argc) {
			errno = 0;
			o->block = strtod(argv[++i], &end);
			if (errno != 0 || *end != '\0' || !(o->block > 0) ||
			    o->block > 60)
				usage(argv[0]);
		} else
			usage(argv[0]);
	}
}

double
bench_cpu_now(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts) == -1)
		bench_die("clock_gettime: %s", strerror(errno));
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

double
bench_median(double *v, size_t n)
{
	qsort(v, n, sizeof(*v), cmp_double);
	return n % 2 == 1 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

void
bench_print(const char *name, double value, const char *unit)
{
	printf("BENCH %s %.4g %s\n", name, value, unit);
	fflush(stdout);
}

void
bench_report(const char *name, double *v, size_t n, const char *unit)
{
	double m = bench_median(v, n);

	bench_print(name, m, unit);
	fprintf(stderr, "# %s: quartiles %.4g .. %.4g over %zu rounds\n", name,
	    v[n / 4], v[(3 * n) / 4], n);
}
