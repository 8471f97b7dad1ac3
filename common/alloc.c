/*
 * alloc.c: allocation wrappers with optional failure injection (torture
 * builds only; see alloc.h). The counter is process-wide and atomic; it
 * exists only when MC_TORTURE is defined, so release builds carry no
 * global mutable state. In torture builds, MC_ALLOC_COUNT_FILE=PATH makes
 * the process append "COUNT NAME" to PATH at exit: that is how
 * tools/torture.sh learns how many N to walk for one test case. The
 * environment is the test driver's and trusted.
 */
#ifdef MC_TORTURE
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* program_invocation_short_name */
#endif
#include <errno.h>
#include <stdio.h>
#endif
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"

#ifdef MC_TORTURE
#include <stdatomic.h>

static atomic_ulong mc_alloc_n;
static atomic_long mc_alloc_limit = -1; /* -1: not read yet, 0: never */
static atomic_bool mc_alloc_once;	/* fail allocation limit only */

static int
mc_alloc_should_fail(void)
{
	long limit = atomic_load(&mc_alloc_limit);
	unsigned long n;

	if (limit < 0) {
		const char *s = getenv("MC_ALLOC_FAIL");
		char *end;

		limit = 0;
		if (s != NULL && *s != '\0') {
			limit = strtol(s, &end, 10);
			if (*end != '\0' || limit < 0)
				limit = 0;
		}
		s = getenv("MC_ALLOC_ONCE");
		atomic_store(&mc_alloc_once, s != NULL && strcmp(s, "1") == 0);
		atomic_store(&mc_alloc_limit, limit);
	}
	n = atomic_fetch_add(&mc_alloc_n, 1) + 1;
	if (atomic_load(&mc_alloc_once))
		return limit > 0 && n == (unsigned long)limit;
	return limit > 0 && n >= (unsigned long)limit;
}

unsigned long
mc_alloc_count(void)
{
	return atomic_load(&mc_alloc_n);
}

/*
 * Counting the allocations of a clean run, rather than walking N until a
 * run passes, also walks the allocations after one whose failure a test
 * happens to tolerate.
 */
static void mc_alloc_report(void) __attribute__((destructor));

static void
mc_alloc_report(void)
{
	const char *path = getenv("MC_ALLOC_COUNT_FILE");
	FILE *f;

	if (path == NULL || *path == '\0' || (f = fopen(path, "a")) == NULL)
		return;
	fprintf(f, "%lu %s\n", atomic_load(&mc_alloc_n),
	    program_invocation_short_name);
	fclose(f);
}
#else
#define mc_alloc_should_fail() 0

unsigned long
mc_alloc_count(void)
{
	return 0;
}
#endif

void *
mc_malloc(size_t n)
{
	if (mc_alloc_should_fail())
		return NULL;
	return malloc(n == 0 ? 1 : n);
}

void *
mc_calloc(size_t nmemb, size_t size)
{
	if (mc_alloc_should_fail())
		return NULL;
	if (nmemb == 0 || size == 0)
		nmemb = size = 1;
	return calloc(nmemb, size);
}

void *
mc_realloc(void *p, size_t n)
{
	if (mc_alloc_should_fail())
		return NULL;
	return realloc(p, n == 0 ? 1 : n);
}

char *
mc_strndup(const char *s, size_t n)
{
	char *d;

	if ((d = mc_malloc(n + 1)) == NULL)
		return NULL;
	memcpy(d, s, n);
	d[n] = '\0';
	return d;
}

char *
mc_strdup(const char *s)
{
	return mc_strndup(s, strlen(s));
}

void
mc_free(void *p)
{
	free(p);
}

void
mc_cleanse(void *p, size_t n)
{
	if (p != NULL && n > 0)
		explicit_bzero(p, n);
}

void
mc_free_secret(void *p, size_t n)
{
	mc_cleanse(p, n);
	free(p);
}
