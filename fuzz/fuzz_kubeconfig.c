/*
 * fuzz_kubeconfig.c: libFuzzer target for the kubeconfig reader
 * (k8s/config.c: k8s_config_from_kubeconfig over libyaml). The input is
 * written to a file in a private temporary folder that also holds the
 * ca.pem and token.txt of tests/data/k8s/good, so that documents naming
 * them by relative path get past the file checks. Byte 0 bit 0 splits
 * the rest in two files read as a KUBECONFIG list ("a:b").
 *
 * A kubeconfig is an operator's file and half-trusted: it may name any
 * file to read, but a malformed one must give a clear error, not a
 * crash, a leak or an unbounded read. An accepted config has a server.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "common/err.h"
#include "k8s/config.h"
#include "fuzz/fuzz.h"

static char dir[64];
static char path_a[96], path_b[96], list[200];

static void
copy_file(const char *from, const char *to)
{
	char buf[8192];
	FILE *in, *out;
	size_t n;

	if ((in = fopen(from, "rb")) == NULL)
		return;
	if ((out = fopen(to, "wb")) != NULL) {
		while ((n = fread(buf, 1, sizeof(buf), in)) > 0)
			fwrite(buf, 1, n, out);
		fclose(out);
	}
	fclose(in);
}

static void
cleanup(void)
{
	char p[128];

	snprintf(p, sizeof(p), "%s/ca.pem", dir);
	unlink(p);
	snprintf(p, sizeof(p), "%s/token.txt", dir);
	unlink(p);
	unlink(path_a);
	unlink(path_b);
	rmdir(dir);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *tmp = getenv("TMPDIR");
	char p[128];

	(void)argc;
	(void)argv;
	snprintf(dir, sizeof(dir), "%s/fuzz-kubeconfig.XXXXXX",
	    tmp != NULL && strlen(tmp) < 32 ? tmp : "/tmp");
	if (mkdtemp(dir) == NULL)
		abort();
	snprintf(p, sizeof(p), "%s/ca.pem", dir);
	copy_file(TOP_SRCDIR "/tests/data/k8s/good/ca.pem", p);
	snprintf(p, sizeof(p), "%s/token.txt", dir);
	copy_file(TOP_SRCDIR "/tests/data/k8s/good/token.txt", p);
	snprintf(path_a, sizeof(path_a), "%s/config", dir);
	snprintf(path_b, sizeof(path_b), "%s/config2", dir);
	snprintf(list, sizeof(list), "%s:%s", path_a, path_b);
	atexit(cleanup);
	return 0;
}

static int
write_file(const char *path, const uint8_t *p, size_t n)
{
	FILE *f;
	int rc = 0;

	if ((f = fopen(path, "wb")) == NULL)
		return -1;
	if (n > 0 && fwrite(p, 1, n, f) != n)
		rc = -1;
	if (fclose(f) != 0)
		rc = -1;
	return rc;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct k8s_config *c;
	struct mc_err e;
	bool two;
	size_t half;

	if (size < 1)
		return 0;
	two = data[0] & 1;
	data++;
	size--;
	half = two ? size / 2 : size;
	if (write_file(path_a, data, half) == -1 ||
	    (two && write_file(path_b, data + half, size - half) == -1))
		return 0;
	mc_err_clear(&e);
	c = k8s_config_from_kubeconfig(two ? list : path_a, NULL, &e);
	if (c == NULL)
		FUZZ_CHECK(e.msg[0] != '\0', "a failure says why");
	else
		FUZZ_CHECK(c->server != NULL && c->namespace != NULL,
		    "an accepted config has a server and a namespace");
	k8s_config_free(c);
	return 0;
}
