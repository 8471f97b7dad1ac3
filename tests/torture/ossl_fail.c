/*
 * ossl_fail.c: allocation-failure injection into the libraries we call,
 * for `make check-torture` (tools/torture.sh), loaded with LD_PRELOAD
 * into a test binary. A constructor installs CRYPTO_set_mem_functions()
 * hooks for libcrypto and libssl and json_set_alloc_funcs() hooks for
 * jansson before main() runs, so every allocation those libraries make
 * is counted on one counter; with MC_OSSL_FAIL=N in the environment,
 * allocation N (counted from 1) and every later one returns NULL, as
 * common/alloc.c does for our own with MC_ALLOC_FAIL.
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
 * The environment is the driver's and trusted; a malformed number means
 * "never fail".
 */
#define _GNU_SOURCE /* program_invocation_short_name */
#include <errno.h>
#include <stdatomic.h>
#include <stdbool.h>
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
static bool ossl_hooked;

static int
ossl_should_fail(void)
{
	unsigned long n = atomic_fetch_add(&ossl_n, 1) + 1;

	return ossl_limit > 0 && n >= ossl_limit;
}

static void *
ossl_malloc(size_t num, const char *file, int line)
{
	(void)file;
	(void)line;
	if (ossl_should_fail())
		return NULL;
	return malloc(num == 0 ? 1 : num);
}

static void *
ossl_realloc(void *p, size_t num, const char *file, int line)
{
	(void)file;
	(void)line;
	/* CRYPTO_realloc(p, 0) frees; that is not an allocation. */
	if (num == 0) {
		free(p);
		return NULL;
	}
	if (ossl_should_fail())
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
	if (ossl_should_fail())
		return NULL;
	return malloc(n == 0 ? 1 : n);
}

/* Runs OpenSSL's lazy one-time set-up while no allocation may fail. */
static void
ossl_warm_up(void)
{
	static const char *const keys[] = { "EC", "RSA", "ED25519" };
	EVP_PKEY_CTX *ctx;
	EVP_MD *md;
	size_t i;

	OPENSSL_init_crypto(OPENSSL_INIT_LOAD_CRYPTO_STRINGS |
	    OPENSSL_INIT_ADD_ALL_CIPHERS | OPENSSL_INIT_ADD_ALL_DIGESTS |
	    OPENSSL_INIT_LOAD_CONFIG, NULL);
	OPENSSL_init_ssl(OPENSSL_INIT_LOAD_SSL_STRINGS, NULL);
	if ((md = EVP_MD_fetch(NULL, "SHA256", NULL)) != NULL)
		EVP_MD_free(md);
	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		EVP_PKEY_CTX_free(EVP_PKEY_CTX_new_from_name(NULL, keys[i],
		    NULL));
	ERR_clear_error();
}

static void __attribute__((destructor))
ossl_fail_fini(void)
{
	const char *path = getenv("MC_OSSL_COUNT_FILE");
	FILE *f;

	if (!ossl_hooked || path == NULL || *path == '\0' ||
	    (f = fopen(path, "a")) == NULL)
		return;
	fprintf(f, "%lu %s\n", atomic_load(&ossl_n),
	    program_invocation_short_name);
	fclose(f);
}

static void __attribute__((constructor))
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
	/* Count, and fail, from here on. */
	atomic_store(&ossl_n, 0);
	ossl_limit = limit;
	ossl_hooked = true;
}
