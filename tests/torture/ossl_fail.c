/*
 * ossl_fail.c: allocation-failure injection into the libraries we call,
 * for `make check-torture` (tools/torture.sh), loaded with LD_PRELOAD
 * into a test binary. A constructor installs CRYPTO_set_mem_functions()
 * hooks for libcrypto and libssl and json_set_alloc_funcs() hooks for
 * jansson before main() runs, so every allocation those libraries make
 * is counted on one counter; with MC_OSSL_FAIL=N in the environment,
 * allocation N (counted from 1) and every later one returns NULL, as
 * common/alloc.c does for our own with MC_ALLOC_FAIL; with MC_OSSL_ONCE=1
 * as well, allocation N only (the code then goes on with working
 * allocations, so an error it swallowed shows: a CRL "signed" after a
 * failure in i2d_ECDSA_SIG() was found that way).
 *
 * Every process started under LD_PRELOAD loads this object: the test, but
 * also timeout(1), sh -c and an openssl(1) a test may run. So hooks are
 * installed only in the process named by MC_OSSL_ONLY (its program name,
 * libtool's "lt-" prefix allowed); and with MC_OSSL_COUNT_FILE=PATH that
 * process appends "COUNT NAME" to PATH at exit, which is how the driver
 * learns how far to walk N.
 *
 * OpenSSL's one-time initialization (its default library context, the
 * default provider, error strings) runs in the constructor before
 * counting starts: OpenSSL 3.0 does not survive a failure there (a lock
 * left NULL, then CRYPTO_THREAD_read_lock(NULL) in EVP_KEYMGMT_fetch on
 * the next EVP_PKEY_Q_keygen), which would bury our findings under its
 * own. Every allocation after that, made for our calls, is fair game.
 *
 * With MC_TEST_FILTER=NAME, a cmocka test binary runs only the test
 * cases whose name matches NAME (cmocka_set_test_filter() glob), in any
 * process that has libcmocka loaded, hooked or not: cmocka 1.1 reads no
 * filter from the environment, and the driver must run one case at a
 * time without a change to each test's main(). The symbol is looked up,
 * not linked, so processes without cmocka (timeout(1), openssl(1)) are
 * left alone.
 *
 * The environment is the driver's and trusted; a malformed number means
 * "never fail".
 */
#define _GNU_SOURCE /* program_invocation_short_name, RTLD_DEFAULT */
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>

static atomic_ulong ossl_n;
static unsigned long ossl_limit; /* 0: never fail */
static bool ossl_once;		 /* fail allocation ossl_limit only */
static bool ossl_hooked;

/*
 * Allocation sites, with MC_OSSL_SITES_FILE: the N at which each one
 * (OpenSSL's file and line; for jansson, the return address) first
 * allocates. Failing each site once is how the bounded walk covers the
 * error paths after every kind of allocation without walking every N.
 * Open addressing, never resized: sites past the table are not recorded.
 */
#define SITES_MAX 8192
struct site {
	const void *key;
	long line;
	unsigned long n;
};
static struct site *sites;
static pthread_mutex_t sites_lock = PTHREAD_MUTEX_INITIALIZER;

static void
site_note(const void *key, long line, unsigned long n)
{
	size_t h, i;

	if (sites == NULL)
		return;
	h = ((size_t)(uintptr_t)key * 31 + (size_t)line) * 2654435761u;
	pthread_mutex_lock(&sites_lock);
	for (i = 0; i < SITES_MAX; i++) {
		struct site *st = &sites[(h + i) % SITES_MAX];

		if (st->n == 0) {
			st->key = key;
			st->line = line;
			st->n = n;
			break;
		}
		if (st->key == key && st->line == line)
			break;
	}
	pthread_mutex_unlock(&sites_lock);
}

static int
ossl_should_fail_at(const void *key, long line)
{
	unsigned long n = atomic_fetch_add(&ossl_n, 1) + 1;

	site_note(key, line, n);
	return ossl_limit > 0 &&
	    (ossl_once ? n == ossl_limit : n >= ossl_limit);
}

static void *
ossl_malloc(size_t num, const char *file, int line)
{
	if (ossl_should_fail_at(file, line))
		return NULL;
	return malloc(num == 0 ? 1 : num);
}

static void *
ossl_realloc(void *p, size_t num, const char *file, int line)
{
	/* CRYPTO_realloc(p, 0) frees; that is not an allocation. */
	if (num == 0) {
		free(p);
		return NULL;
	}
	if (ossl_should_fail_at(file, line))
		return NULL;
	return realloc(p, num);
}

static void
ossl_free(void *p, const char *file, int line)
{
	(void)file;
	(void)line;
	free(p);
}

static void *
json_fail_malloc(size_t n)
{
	if (ossl_should_fail_at(__builtin_return_address(0), 0))
		return NULL;
	return malloc(n == 0 ? 1 : n);
}

/* Runs OpenSSL's lazy one-time set-up while no allocation may fail. */
static void
ossl_warm_up(void)
{
	static const char *const keys[] = { "EC", "RSA", "ED25519" };
	const uint64_t init = OPENSSL_INIT_LOAD_CRYPTO_STRINGS |
	    OPENSSL_INIT_ADD_ALL_CIPHERS | OPENSSL_INIT_ADD_ALL_DIGESTS |
	    OPENSSL_INIT_LOAD_CONFIG;
	EVP_MD *md;
	size_t i;

	OPENSSL_init_crypto(init, NULL);
	OPENSSL_init_ssl(OPENSSL_INIT_LOAD_SSL_STRINGS, NULL);
	if ((md = EVP_MD_fetch(NULL, "SHA256", NULL)) != NULL)
		EVP_MD_free(md);
	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		EVP_PKEY_CTX_free(EVP_PKEY_CTX_new_from_name(NULL, keys[i],
		    NULL));
	ERR_clear_error();
}

static void ossl_fail_fini(void) __attribute__((destructor));

static void
ossl_fail_fini(void)
{
	const char *path = getenv("MC_OSSL_COUNT_FILE");
	FILE *f;
	size_t i;

	if (!ossl_hooked)
		return;
	if (path != NULL && *path != '\0' && (f = fopen(path, "a")) != NULL) {
		fprintf(f, "%lu %s\n", atomic_load(&ossl_n),
		    program_invocation_short_name);
		fclose(f);
	}
	path = getenv("MC_OSSL_SITES_FILE");
	if (sites == NULL || path == NULL || *path == '\0' ||
	    (f = fopen(path, "w")) == NULL)
		return;
	pthread_mutex_lock(&sites_lock);
	for (i = 0; i < SITES_MAX; i++)
		if (sites[i].n != 0 && sites[i].line > 0)
			fprintf(f, "%lu %s:%ld\n", sites[i].n,
			    (const char *)sites[i].key, sites[i].line);
		else if (sites[i].n != 0)
			fprintf(f, "%lu jansson:%p\n", sites[i].n,
			    sites[i].key);
	pthread_mutex_unlock(&sites_lock);
	fclose(f);
}

static void test_filter_init(void) __attribute__((constructor));

static void
test_filter_init(void)
{
	const char *pattern = getenv("MC_TEST_FILTER");
	void (*set_filter)(const char *);
	void *sym;

	if (pattern == NULL || *pattern == '\0' ||
	    (sym = dlsym(RTLD_DEFAULT, "cmocka_set_test_filter")) == NULL)
		return;
	/* POSIX: a data pointer from dlsym() converts to a function's. */
	memcpy(&set_filter, &sym, sizeof(set_filter));
	set_filter(pattern);
}

/*
 * A leak check at the moment a test fails. cmocka leaves a failed test
 * with longjmp (__longjmp_chk in Debian's build), so what the test held
 * in its locals leaks at exit: the end-of-run check cannot tell that
 * from a leak of ours, and the driver only warns about leaks in failed
 * runs. Here, just before the jump, the test's frames are still on the
 * stack and what it holds is reachable: LeakSanitizer's recoverable
 * check then reports only what nobody holds, a leak in the code under
 * test (or in an error path it took), and the marker line below makes
 * the driver count it as a finding (and "no leak" tells it that the
 * leaks at exit are the test's own). With MC_LEAK_AT_FAIL=1, in a
 * process that has cmocka and LeakSanitizer loaded.
 */
void __longjmp_chk(void *env, int val) __attribute__((noreturn));

void
__longjmp_chk(void *env, int val)
{
	static void (*next)(void *, int);
	const char *want = getenv("MC_LEAK_AT_FAIL");
	int (*check)(void);
	void *sym;

	if (want != NULL && strcmp(want, "1") == 0 &&
	    dlsym(RTLD_DEFAULT, "cmocka_set_test_filter") != NULL &&
	    (sym = dlsym(RTLD_DEFAULT, "__lsan_do_recoverable_leak_check")) !=
	    NULL) {
		memcpy(&check, &sym, sizeof(check));
		if (check() != 0)
			fprintf(stderr, "\nossl_fail: leak found when the test "
			    "failed, before cmocka's longjmp\n");
		else
			fprintf(stderr, "\nossl_fail: no leak when the test "
			    "failed\n");
	}
	if (next == NULL) {
		if ((sym = dlsym(RTLD_NEXT, "__longjmp_chk")) == NULL)
			abort();
		memcpy(&next, &sym, sizeof(next));
	}
	next(env, val);
	abort(); /* not reached */
}

static void ossl_fail_init(void) __attribute__((constructor));

static void
ossl_fail_init(void)
{
	const char *s = getenv("MC_OSSL_FAIL");
	const char *only = getenv("MC_OSSL_ONLY");
	const char *me = program_invocation_short_name;
	char *end;
	unsigned long v, limit = 0;

	if (strncmp(me, "lt-", 3) == 0)
		me += 3;
	if (only != NULL && strcmp(only, me) != 0)
		return;
	if (s != NULL && *s != '\0') {
		v = strtoul(s, &end, 10);
		if (*end == '\0')
			limit = v;
	}
	/* Fails only if OpenSSL has allocated already; then say so, since
	 * the run would test nothing. */
	if (!CRYPTO_set_mem_functions(ossl_malloc, ossl_realloc, ossl_free))
		fprintf(stderr, "ossl_fail: CRYPTO_set_mem_functions failed\n");
	json_set_alloc_funcs(json_fail_malloc, free);
	ossl_warm_up();
	if ((s = getenv("MC_OSSL_SITES_FILE")) != NULL && *s != '\0')
		sites = calloc(SITES_MAX, sizeof(*sites));
	/* Count, and fail, from here on. */
	atomic_store(&ossl_n, 0);
	ossl_limit = limit;
	ossl_once = (s = getenv("MC_OSSL_ONCE")) != NULL && strcmp(s, "1") == 0;
	ossl_hooked = true;
}
