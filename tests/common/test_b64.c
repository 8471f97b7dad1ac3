/*
 * test_b64.c: common/b64.c, the strict base64 decoder shared by
 * k8s/config.c (kubeconfig and Secret data: CR/LF skipped, empty
 * allowed) and spiffe/bundle_json.c (x5c: no whitespace, not empty).
 * RFC 4648 §10 vectors, each rule of §3.2/§4 with a negative case, and
 * every string of up to five characters over an alphabet chosen to hit
 * the rules, checked against an independent statement of each caller's
 * former rule and against OpenSSL's EVP_DecodeBlock for the bytes.
 * Allocation failure is injected by wrapping mc_malloc (-Wl,--wrap).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/evp.h>

#include "common/alloc.h"
#include "common/b64.h"
#include "common/status.h"

void *__real_mc_malloc(size_t n);
void *__wrap_mc_malloc(size_t n);

static bool fail_malloc;

void *
__wrap_mc_malloc(size_t n)
{
	return fail_malloc ? NULL : __real_mc_malloc(n);
}

#define K8S MC_B64_SKIP_CRLF /* k8s/config.c k8s_base64_decode */
#define X5C MC_B64_NONEMPTY  /* spiffe/bundle_json.c x5c */

static int
dec(const char *in, size_t len, unsigned flags, unsigned char **out,
    size_t *outlen, struct mc_err *e)
{
	mc_err_clear(e);
	*out = NULL;
	*outlen = 12345;
	return mc_b64_decode(in, len, flags, out, outlen, e);
}

static void
expect_good(const char *in, unsigned flags, const char *want)
{
	unsigned char *out;
	size_t n;
	struct mc_err e;

	if (dec(in, strlen(in), flags, &out, &n, &e) != 0)
		fail_msg("\"%s\" (flags %u): %s", in, flags, e.msg);
	assert_int_equal(n, strlen(want));
	assert_memory_equal(out, want, n);
	assert_int_equal(out[n], '\0');
	mc_free(out);
}

static void
expect_bad(const char *in, size_t len, unsigned flags)
{
	unsigned char *out;
	size_t n;
	struct mc_err e;

	if (dec(in, len, flags, &out, &n, &e) != -1)
		fail_msg("\"%.*s\" (flags %u) accepted", (int)len, in, flags);
	assert_null(out);
	assert_int_equal(n, 12345);
	assert_int_equal(e.status, MC_ST_PARSE);
	assert_string_equal(e.msg,
	    "invalid base64 (RFC 4648 section 4, padded)");
}

static void
test_rfc4648_vectors(void **state)
{
	static const char *const v[][2] = {
		{ "Zg==", "f" },
		{ "Zm8=", "fo" },
		{ "Zm9v", "foo" },
		{ "Zm9vYg==", "foob" },
		{ "Zm9vYmE=", "fooba" },
		{ "Zm9vYmFy", "foobar" },
		{ "+/+/", "\xfb\xff\xbf" },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		expect_good(v[i][0], 0, v[i][1]);
		expect_good(v[i][0], K8S, v[i][1]);
		expect_good(v[i][0], X5C, v[i][1]);
	}
	/* §10: BASE64("") = "": fine for a Secret, not for an x5c */
	expect_good("", 0, "");
	expect_good("", K8S, "");
	expect_bad("", 0, X5C);
	expect_bad("\r\n", 2, K8S | X5C);
}

static void
test_padding_rules(void **state)
{
	(void)state;
	/* §3.2: padding only completes the last quantum, after >= 2 digits */
	expect_bad("Z===", 4, K8S);
	expect_bad("====", 4, K8S);
	expect_bad("Zg=a", 4, K8S);
	expect_bad("Zg==Zg==", 8, K8S);
	expect_bad("Zg==Zg==", 8, X5C);
	expect_bad("Zm8=Zm9v", 8, X5C);
	/* a partial quantum, padded or not */
	expect_bad("Zg", 2, K8S);
	expect_bad("Zg=", 3, K8S);
	expect_bad("Zm9", 3, X5C);
	expect_bad("Zm9vY", 5, X5C);
	/* §3.5 allows accepting non-zero unused bits; neither caller
	 * refused them, and "Zh==" still reads as "f" */
	expect_good("Zh==", X5C, "f");
	expect_good("Zm9=", K8S, "fo");
}

static void
test_alphabet(void **state)
{
	(void)state;
	/* §4 table 1 only: not base64url (§5), no other byte */
	expect_bad("Zm-_", 4, K8S);
	expect_bad("Zm-_", 4, X5C);
	expect_bad("Zm9v\0mFy", 8, K8S);
	expect_bad("Zm9\x80", 4, X5C);
	expect_bad("Zm9.", 4, K8S);
}

static void
test_whitespace(void **state)
{
	(void)state;
	/* the k8s reader skips CR and LF anywhere, even after padding */
	expect_good("Zm9v\nYmFy", K8S, "foobar");
	expect_good("\r\nZ\ng=\r=\n\n", K8S, "f");
	expect_good("Zg==\r\n", K8S, "f");
	expect_bad("Zg==\nx", 6, K8S);
	/* but nothing else, and x5c takes no whitespace at all */
	expect_bad("Zm9v YmFy", 9, K8S);
	expect_bad("Zm9v\tYmFy", 9, K8S);
	expect_bad("Zm9v\nYmFy", 9, X5C);
	expect_bad("Zm9v\nYmFy", 9, 0);
	expect_bad("Zg==\n", 5, X5C);
}

static void
test_nomem(void **state)
{
	unsigned char *out;
	size_t n;
	struct mc_err e;

	(void)state;
	fail_malloc = true;
	assert_int_equal(dec("Zm9v", 4, K8S, &out, &n, &e), -1);
	fail_malloc = false;
	assert_int_equal(e.status, MC_ST_NOMEM);
	assert_null(out);
	/* e may be NULL */
	assert_int_equal(mc_b64_decode("Zm9v", 4, 0, &out, &n, NULL), 0);
	mc_free(out);
	assert_int_equal(mc_b64_decode("Zm9", 3, 0, &out, &n, NULL), -1);
}

static bool
is_digit64(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	    (c >= '0' && c <= '9') || c == '+' || c == '/';
}

/*
 * The rule spiffe/bundle_json.c applied before the decoder moved here:
 * a non-empty multiple of 4, "=" only as the last one or two characters.
 * k8s/config.c's rule was the same once CR and LF are removed, and with
 * the empty string allowed.
 */
static bool
ref_valid(const char *s, size_t len, bool allow_empty)
{
	size_t i, pad = 0;

	if (len % 4 != 0 || (len == 0 && !allow_empty))
		return false;
	if (len > 0 && s[len - 1] == '=')
		pad = s[len - 2] == '=' ? 2 : 1;
	for (i = 0; i < len - pad; i++)
		if (!is_digit64(s[i]))
			return false;
	return true;
}

static void
check_one(const char *s, size_t len, unsigned flags)
{
	char stripped[8];
	unsigned char ossl[8], *out;
	size_t i, sl = 0, n, pad = 0;
	struct mc_err e;
	bool want;
	int rc, m;

	for (i = 0; i < len; i++)
		if (!(flags & K8S) || (s[i] != '\r' && s[i] != '\n'))
			stripped[sl++] = s[i];
	want = ref_valid(stripped, sl, !(flags & X5C));
	rc = dec(s, len, flags, &out, &n, &e);
	if (rc != (want ? 0 : -1))
		fail_msg("\"%.*s\" flags %u: got %d", (int)len, s, flags, rc);
	if (rc == -1) {
		assert_int_equal(e.status, MC_ST_PARSE);
		return;
	}
	if (sl >= 2 && stripped[sl - 1] == '=')
		pad = stripped[sl - 2] == '=' ? 2 : 1;
	m = EVP_DecodeBlock(ossl, (const unsigned char *)stripped, (int)sl);
	assert_true(m >= 0);
	assert_int_equal(n, (size_t)m - pad);
	assert_memory_equal(out, ossl, n);
	assert_int_equal(out[n], '\0');
	mc_free(out);
}

static void
test_exhaustive_short(void **state)
{
	static const char alpha[] = "Ag/=\n\r-";
	const size_t k = sizeof(alpha) - 1;
	char s[5];
	size_t len, i, idx, total;

	(void)state;
	for (len = 0; len <= 5; len++) {
		for (total = 1, i = 0; i < len; i++)
			total *= k;
		for (idx = 0; idx < total; idx++) {
			size_t x = idx;

			for (i = 0; i < len; i++, x /= k)
				s[i] = alpha[x % k];
			check_one(s, len, 0);
			check_one(s, len, K8S);
			check_one(s, len, X5C);
		}
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rfc4648_vectors),
		cmocka_unit_test(test_padding_rules),
		cmocka_unit_test(test_alphabet),
		cmocka_unit_test(test_whitespace),
		cmocka_unit_test(test_nomem),
		cmocka_unit_test(test_exhaustive_short),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
