/*
 * canary.c: the self-check `make check-torture` runs before its walk
 * (tools/torture.sh --canary). Under allocation failures a test fails an
 * assertion, and cmocka leaves it by longjmp: what the test held leaks
 * at exit, so the driver looks for leaks at the moment of the failure
 * instead (tests/torture/ossl_fail.c, MC_LEAK_AT_FAIL=1). The two cases
 * here show that this finds what it must and only that:
 *  - leak_then_fail: a callee drops a block on its error path, then the
 *    test fails while holding a block of its own: one leak at the
 *    failure, the callee's;
 *  - held_then_fail: the test fails while holding a block: nothing at
 *    the failure (the block leaks at exit, which the driver only warns
 *    about).
 * `canary --has-lsan` exits 0 when LeakSanitizer is in the process (an
 * --enable-sanitizers build), which the check needs.
 */
#define _GNU_SOURCE /* RTLD_DEFAULT */
#include <dlfcn.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

/* Stores go through here so the compiler keeps the allocation. */
static void *volatile canary_sink;

/* The bug the check must find: the block is lost on the error path. */
static int
canary_leaky_call(void)
{
	canary_sink = malloc(32);
	canary_sink = NULL; /* cppcheck-suppress memleak ; on purpose */
	return -1;
}

static void
leak_then_fail(void **state)
{
	char *mine = strdup("held by the test");

	(void)state;
	assert_non_null(mine);
	assert_int_equal(canary_leaky_call(), 0);
	free(mine);
}

static void
held_then_fail(void **state)
{
	char *mine = strdup("held by the test");

	(void)state;
	assert_null(mine);
	free(mine);
}

int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(leak_then_fail),
		cmocka_unit_test(held_then_fail),
	};

	if (argc == 2 && strcmp(argv[1], "--has-lsan") == 0)
		return dlsym(RTLD_DEFAULT,
			   "__lsan_do_recoverable_leak_check") != NULL ? 0 : 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
