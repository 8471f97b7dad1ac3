/*
 * test_config.c: kubeconfig and in-cluster loading (k8s/config.c) from the
 * fixtures in tests/data/k8s/{good,bad}, plus token re-reading and the
 * strict base64 decoder.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/alloc.h"
#include "k8s/config.h"

#define DATA TOP_SRCDIR "/tests/data/k8s/"

static const char ca_pem[] = "-----BEGIN CERTIFICATE-----\nTUlJQg==\n"
			     "-----END CERTIFICATE-----\n";

static void
test_data_and_token(void **state)
{
	struct k8s_config *c;
	struct mc_err e = { 0 };
	const char *t;

	c = k8s_config_from_kubeconfig(DATA "good/data.yaml", NULL, &e);
	assert_non_null(c);
	assert_string_equal(c->server, "https://127.0.0.1:6443");
	assert_non_null(c->ca_data);
	assert_int_equal(c->ca_data_len, strlen(ca_pem));
	assert_memory_equal(c->ca_data, ca_pem, strlen(ca_pem));
	assert_null(c->ca_file);
	assert_false(c->insecure);
	assert_string_equal(c->namespace, "team-a");
	assert_int_equal(k8s_config_token(c, &t, &e), 0);
	/* a static token is used as written */
	assert_string_equal(t, "  static-token-123  ");
	k8s_config_free(c);
}

static void
test_files_relative(void **state)
{
	struct k8s_config *c;
	struct mc_err e = { 0 };
	const char *t;

	c = k8s_config_from_kubeconfig(DATA "good/files.yaml", NULL, &e);
	assert_non_null(c);
	assert_string_equal(c->server, "https://[::1]:8443");
	assert_string_equal(c->ca_file, DATA "good/ca.pem");
	assert_string_equal(c->cert_file, DATA "good/client.pem");
	assert_string_equal(c->key_file, "/etc/absolute/client.key");
	assert_string_equal(c->token_file, DATA "good/token.txt");
	assert_string_equal(c->tls_server_name, "kubernetes.default");
	assert_string_equal(c->namespace, "default");
	/* tokenFile wins over token, whitespace trimmed */
	assert_int_equal(k8s_config_token(c, &t, &e), 0);
	assert_string_equal(t, "file-token-1");
	k8s_config_free(c);
}

static void
test_insecure_and_context(void **state)
{
	struct k8s_config *c;
	struct mc_err e = { 0 };

	c = k8s_config_from_kubeconfig(DATA "good/insecure.yaml", NULL, &e);
	assert_non_null(c);
	assert_true(c->insecure);
	assert_null(c->token);
	assert_string_equal(c->namespace, "default");
	k8s_config_free(c);
	c = k8s_config_from_kubeconfig(DATA "good/insecure.yaml", "b", &e);
	assert_non_null(c);
	assert_string_equal(c->namespace, "ns-b");
	k8s_config_free(c);
	assert_null(k8s_config_from_kubeconfig(DATA "good/insecure.yaml", "zzz",
	    &e));
	assert_non_null(strstr(e.msg, "context \"zzz\" not found"));
}

static void
test_kubeconfig_list(void **state)
{
	struct k8s_config *c;
	struct mc_err e = { 0 };

	c = k8s_config_from_kubeconfig(DATA "good/split-1.yaml:" DATA
					    "good/split-2.yaml",
	    NULL, &e);
	assert_non_null(c);
	assert_string_equal(c->server, "https://far.example:443");
	assert_string_equal(c->token, "far-token");
	assert_string_equal(c->namespace, "far-ns");
	assert_false(c->insecure);
	k8s_config_free(c);
	/* KUBECONFIG is what k8s_config_load reads first */
	setenv("KUBECONFIG",
	    "::" DATA "good/split-1.yaml:" DATA "good/split-2.yaml:", 1);
	c = k8s_config_load(&e);
	assert_non_null(c);
	assert_string_equal(c->server, "https://far.example:443");
	k8s_config_free(c);
	unsetenv("KUBECONFIG");
}

static void
test_bad(void **state)
{
	static const struct {
		const char *file;
		const char *needle;
	} cases[] = {
		{ "malformed.yaml", "YAML" },
		{ "no-current-context.yaml", "no current-context" },
		{ "missing-context.yaml", "context \"nope\" not found" },
		{ "missing-cluster.yaml", "cluster \"gone\" not found" },
		{ "missing-user.yaml", "user \"ghost\" not found" },
		{ "bad-base64.yaml", "base64" },
		{ "no-server.yaml", "server: missing" },
		{ "not-a-mapping.yaml", "not a mapping" },
		{ "exec.yaml", "not supported" },
		{ "clusters-not-list.yaml", "not a list" },
		{ "missing-token-file.yaml", "does-not-exist" },
		{ "cert-without-key.yaml", "must come together" },
		{ "ftp-server.yaml", "not an http(s) URL" },
		{ "insecure-with-ca.yaml", "is not allowed" },
		{ "no-such-file.yaml", "no-such-file" },
	};
	struct mc_err e;
	char path[512];
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		memset(&e, 0, sizeof(e));
		snprintf(path, sizeof(path), DATA "bad/%s", cases[i].file);
		assert_null(k8s_config_from_kubeconfig(path, NULL, &e));
		if (strstr(e.msg, cases[i].needle) == NULL)
			fail_msg("%s: message \"%s\" lacks \"%s\"",
			    cases[i].file, e.msg, cases[i].needle);
		assert_int_not_equal(e.status, 0);
	}
}

static void
write_file(const char *dir, const char *name, const char *text)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	assert_non_null(f = fopen(path, "w"));
	fputs(text, f);
	fclose(f);
}

static void
remove_file(const char *dir, const char *name)
{
	char path[512];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	unlink(path);
}

static void
test_in_cluster(void **state)
{
	char dir[] = "/tmp/k8s-sa-XXXXXX";
	struct k8s_config *c;
	struct mc_err e = { 0 };
	const char *t;

	assert_non_null(mkdtemp(dir));
	unsetenv("KUBERNETES_SERVICE_HOST");
	unsetenv("KUBERNETES_SERVICE_PORT");
	assert_null(k8s_config_in_cluster(dir, &e));
	assert_non_null(strstr(e.msg, "KUBERNETES_SERVICE_HOST"));
	setenv("KUBERNETES_SERVICE_HOST", "10.96.0.1", 1);
	setenv("KUBERNETES_SERVICE_PORT", "443", 1);
	/* no token file yet */
	assert_null(k8s_config_in_cluster(dir, &e));
	write_file(dir, "token", "tok-1\n");
	write_file(dir, "ca.crt", ca_pem);
	c = k8s_config_in_cluster(dir, &e);
	assert_non_null(c);
	assert_string_equal(c->server, "https://10.96.0.1:443");
	assert_string_equal(c->namespace, "default");
	assert_int_equal(k8s_config_token(c, &t, &e), 0);
	assert_string_equal(t, "tok-1");
	/* the kubelet rotates the file: cached until the TTL or a 401 */
	write_file(dir, "token", " tok-2 ");
	assert_int_equal(k8s_config_token(c, &t, &e), 0);
	assert_string_equal(t, "tok-1");
	k8s_config_token_expire(c);
	assert_int_equal(k8s_config_token(c, &t, &e), 0);
	assert_string_equal(t, "tok-2");
	write_file(dir, "token", "tok-3");
	c->token_ttl_ms = 1;
	usleep(5000);
	assert_int_equal(k8s_config_token(c, &t, &e), 0);
	assert_string_equal(t, "tok-3");
	/* an empty file is an error, and the old token stays */
	write_file(dir, "token", " \n");
	usleep(5000);
	assert_int_equal(k8s_config_token(c, &t, &e), -1);
	assert_string_equal(t, "tok-3");
	k8s_config_free(c);
	/* IPv6 service address and a namespace file */
	setenv("KUBERNETES_SERVICE_HOST", "fd00::1", 1);
	write_file(dir, "token", "tok");
	write_file(dir, "namespace", "meshca-system\n");
	c = k8s_config_in_cluster(dir, &e);
	assert_non_null(c);
	assert_string_equal(c->server, "https://[fd00::1]:443");
	assert_string_equal(c->namespace, "meshca-system");
	k8s_config_free(c);
	setenv("KUBERNETES_SERVICE_PORT", "44x", 1);
	assert_null(k8s_config_in_cluster(dir, &e));
	unsetenv("KUBERNETES_SERVICE_HOST");
	unsetenv("KUBERNETES_SERVICE_PORT");
	remove_file(dir, "token");
	remove_file(dir, "ca.crt");
	remove_file(dir, "namespace");
	assert_int_equal(rmdir(dir), 0);
}

static void
test_base64(void **state)
{
	static const struct {
		const char *in, *out;
	} good[] = {
		{ "", "" },
		{ "Zg==", "f" },
		{ "Zm8=", "fo" },
		{ "Zm9v", "foo" },
		{ "Zm9v\nYmFy", "foobar" },
		{ "+/+/", "\xfb\xff\xbf" },
	};
	static const char *bad[] = {
		"Zg",
		"Zg=",
		"Z===",
		"Zm9v=",
		"Zg==Zg==",
		"Zm9*",
		"Zg=a",
		"Zm 9v",
	};
	struct mc_err e;
	size_t i, n;
	char *p;

	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		p = k8s_base64_decode(good[i].in, strlen(good[i].in), &n, &e);
		assert_non_null(p);
		assert_int_equal(n, strlen(good[i].out));
		assert_memory_equal(p, good[i].out, n);
		mc_free(p);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		p = k8s_base64_decode(bad[i], strlen(bad[i]), &n, &e);
		if (p != NULL)
			fail_msg("accepted \"%s\"", bad[i]);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_data_and_token),
		cmocka_unit_test(test_files_relative),
		cmocka_unit_test(test_insecure_and_context),
		cmocka_unit_test(test_kubeconfig_list),
		cmocka_unit_test(test_bad),
		cmocka_unit_test(test_in_cluster),
		cmocka_unit_test(test_base64),
	};

	return cmocka_run_group_tests_name("k8s_config", tests, NULL, NULL);
}
