/*
 * test_config.c: daemon/config.c: defaults; every file under
 * tests/data/daemon/good/ loads and every file under bad/ fails with the
 * message in its .err file; generated hostile files (over-long line,
 * NUL byte, oversize); duration parsing; the command line (precedence
 * over the file, usage errors); identity resolution; reload semantics.
 */
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/buf.h"
#include "common/log.h"
#include "daemon/config.h"

#define DATA TOP_SRCDIR "/tests/data/daemon"
/* An array, not a macro: in an argv list a concatenated literal looks like
 * a missing comma (bugprone-suspicious-missing-comma). */
static const char empty_conf[] = DATA "/good/empty.conf";

/* Loads with argv (NULL-terminated, after the program name). */
static int
load(const char *const *argv, struct daemon_config **c, struct mc_err *e)
{
	char *v[64];
	struct daemon_args a;
	int argc = 0, rc;

	v[argc++] = (char *)"meshcad";
	while (*argv != NULL && argc < 63)
		v[argc++] = (char *)*argv++;
	v[argc] = NULL;
	if (daemon_args_parse(&a, argc, v, e) == -1)
		return -2;
	rc = daemon_config_load(&a, c, e);
	daemon_args_free(&a);
	return rc;
}

static int
load_file(const char *path, struct daemon_config **c, struct mc_err *e)
{
	const char *argv[] = { "--config", path, NULL };

	return load(argv, c, e);
}

static char *
tmpconf(const char *text, size_t len)
{
	char *path = strdup("/tmp/meshca-test-conf-XXXXXX");
	int fd;

	assert_non_null(path);
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, len), (ssize_t)len);
	close(fd);
	return path;
}

static void
test_defaults(void **state)
{
	const char *argv[] = { "--config", "/nonexistent/but/not/needed",
		NULL };
	const char *none[] = { NULL };
	struct daemon_config *c = NULL;
	struct mc_err e;

	/* an explicit --config must exist */
	assert_int_equal(load(argv, &c, &e), -1);
	assert_non_null(strstr(e.msg, "/nonexistent/but/not/needed"));

	c = daemon_config_defaults(&e);
	assert_non_null(c);
	assert_string_equal(c->trust_domain, "cluster.local");
	assert_string_equal(c->ca_namespace, "meshca-system");
	assert_string_equal(c->db, "/var/lib/meshca/meshca.db");
	assert_null(c->kubeconfig);
	assert_true(c->cert_ttl == 24 * 3600 * 1000ULL);
	assert_true(c->max_cert_ttl == 90 * 24 * 3600 * 1000ULL);
	assert_true(c->grace_ratio == 0.5);
	/* issue 5: the larger of ratio x lifetime and 10 minutes; the
	 * superseded leaf revoked an hour after its replacement */
	assert_true(c->min_grace == 10 * 60 * 1000ULL);
	assert_true(c->propagation_window == 3600 * 1000ULL);
	assert_int_equal(c->log_format, MC_LOG_JSON);
	assert_int_equal(c->log_level, MC_LOG_INFO);
	assert_int_equal(c->secret_format, DAEMON_SECRET_ISTIO);
	assert_int_equal(c->key_type, DAEMON_KEY_EC_P256);
	assert_int_equal(c->exclude_namespaces.n, 3);
	assert_int_equal(c->namespaces.n, 0);
	assert_true(c->lease_duration == 15000 && c->renew_deadline == 10000 &&
	    c->retry_period == 2000);
	assert_true(c->revoke_on_delete);
	daemon_config_free(c);

	/* no file at the default path is fine (when there is none here) */
	if (access(DAEMON_CONFIG_DEFAULT_PATH, F_OK) == -1) {
		c = NULL;
		assert_int_equal(load(none, &c, &e), 0);
		assert_null(c->config_path);
		assert_non_null(c->identity);
		daemon_config_free(c);
	}
}

static void
test_good_full(void **state)
{
	struct daemon_config *c = NULL;
	struct mc_err e;

	if (load_file(DATA "/good/full.conf", &c, &e) != 0)
		fail_msg("%s", e.msg);
	assert_string_equal(c->kubeconfig, "/root/.kube/config");
	assert_string_equal(c->db, "/var/lib/meshca/other.db");
	assert_string_equal(c->ca_namespace, "ca-system");
	assert_string_equal(c->trust_domain, "prod.example.org");
	assert_true(c->cert_ttl == 12 * 3600 * 1000ULL);
	assert_true(c->max_cert_ttl == 30 * 24 * 3600 * 1000ULL);
	assert_string_equal(c->metrics_listen, "[::1]:9090");
	assert_string_equal(c->metrics_port_file, "/run/meshca/port");
	assert_int_equal(c->metrics_max_connections, 32);
	assert_int_equal(c->log_format, MC_LOG_TEXT);
	assert_int_equal(c->log_level, MC_LOG_DEBUG);
	assert_int_equal(c->secret_format, DAEMON_SECRET_TLS);
	assert_true(c->grace_ratio == 0.25);
	assert_true(c->min_grace == 30 * 60 * 1000ULL);
	assert_true(c->propagation_window == 90 * 1000ULL);
	assert_int_equal(c->namespaces.n, 3);
	assert_string_equal(c->namespaces.v[1], "team-b");
	assert_int_equal(c->exclude_namespaces.n, 0);
	assert_string_equal(c->namespace_selector,
	    "meshca.io/enabled=true,tier=backend");
	assert_true(c->lease_duration == 30000 && c->renew_deadline == 20000 &&
	    c->retry_period == 4000);
	assert_string_equal(c->identity, "meshcad-0");
	assert_int_equal(c->key_type, DAEMON_KEY_ED25519);
	assert_false(c->revoke_on_delete);
	daemon_config_free(c);

	assert_int_equal(load_file(DATA "/good/quoted.conf", &c, &e), 0);
	assert_string_equal(c->db, "/var/lib/meshca/a \"quoted\" \\ name.db");
	daemon_config_free(c);
	assert_int_equal(load_file(DATA "/good/crlf.conf", &c, &e), 0);
	assert_true(c->cert_ttl == 6 * 3600 * 1000ULL);
	assert_int_equal(c->log_level, MC_LOG_WARN);
	daemon_config_free(c);
	assert_int_equal(load_file(DATA "/good/no-newline.conf", &c, &e), 0);
	assert_true(c->cert_ttl == 2 * 3600 * 1000ULL);
	daemon_config_free(c);
}

static bool
has_suffix(const char *s, const char *suf)
{
	size_t n = strlen(s), m = strlen(suf);

	return n >= m && strcmp(s + n - m, suf) == 0;
}

/* Every file in good/ loads; every .conf in bad/ fails as its .err says. */
static void
test_corpus(void **state)
{
	char path[4096], want[512];
	struct daemon_config *c;
	struct dirent *de;
	struct mc_err e;
	DIR *d;
	FILE *fp;
	int good = 0, bad = 0;

	assert_non_null(d = opendir(DATA "/good"));
	while ((de = readdir(d)) != NULL) {
		if (!has_suffix(de->d_name, ".conf"))
			continue;
		snprintf(path, sizeof(path), DATA "/good/%s", de->d_name);
		c = NULL;
		if (load_file(path, &c, &e) != 0)
			fail_msg("%s: %s", de->d_name, e.msg);
		daemon_config_free(c);
		good++;
	}
	closedir(d);
	assert_non_null(d = opendir(DATA "/bad"));
	while ((de = readdir(d)) != NULL) {
		if (!has_suffix(de->d_name, ".conf"))
			continue;
		snprintf(path, sizeof(path), DATA "/bad/%.*s.err",
		    (int)strlen(de->d_name) - 5, de->d_name);
		assert_non_null(fp = fopen(path, "r"));
		assert_non_null(fgets(want, sizeof(want), fp));
		fclose(fp);
		want[strcspn(want, "\n")] = '\0';
		snprintf(path, sizeof(path), DATA "/bad/%s", de->d_name);
		c = NULL;
		mc_err_clear(&e);
		if (load_file(path, &c, &e) != -1)
			fail_msg("%s: accepted", de->d_name);
		assert_null(c);
		if (strstr(e.msg, want) == NULL)
			fail_msg("%s: got \"%s\", want \"%s\"", de->d_name,
			    e.msg, want);
		bad++;
	}
	closedir(d);
	assert_true(good >= 5);
	assert_true(bad >= 40);
}

static void
test_generated_hostile(void **state)
{
	struct daemon_config *c = NULL;
	static char big[DAEMON_CONFIG_FILE_MAX + 2];
	char line[DAEMON_CONFIG_LINE_MAX + 64];
	struct mc_err e;
	char *p;

	/* a line one byte over the ceiling, after a good one */
	memset(line, 0, sizeof(line));
	snprintf(line, sizeof(line), "cert-ttl = 2h\n# ");
	memset(line + strlen(line), 'x', DAEMON_CONFIG_LINE_MAX - 1);
	p = tmpconf(line, strlen(line));
	assert_int_equal(load_file(p, &c, &e), -1);
	assert_non_null(strstr(e.msg, ":2: line longer than 1024 bytes"));
	unlink(p);
	free(p);
	/* exactly at the ceiling is fine */
	line[strlen(line) - 1] = '\0';
	p = tmpconf(line, strlen(line));
	if (load_file(p, &c, &e) != 0)
		fail_msg("%s", e.msg);
	daemon_config_free(c);
	unlink(p);
	free(p);
	/* a NUL byte */
	p = tmpconf("cert-ttl = 2h\nlog-level = info\0debug\n", 35);
	assert_int_equal(load_file(p, &c, &e), -1);
	assert_non_null(strstr(e.msg, ":2: NUL byte"));
	unlink(p);
	free(p);
	/* binary garbage */
	p = tmpconf("\xff\xfe\x01garbage\n", 11);
	assert_int_equal(load_file(p, &c, &e), -1);
	assert_non_null(strstr(e.msg, ":1: expected a key"));
	unlink(p);
	free(p);
	/* a file over the size ceiling (all comments) */
	memset(big, '\n', sizeof(big));
	p = tmpconf(big, sizeof(big));
	assert_int_equal(load_file(p, &c, &e), -1);
	assert_non_null(strstr(e.msg, p));
	unlink(p);
	free(p);
	/* a directory */
	assert_int_equal(load_file("/", &c, &e), -1);
}

static void
test_durations(void **state)
{
	static const struct {
		const char *s;
		uint64_t ms;
	} good[] = {
		{ "0s", 0 },
		{ "500ms", 500 },
		{ "10m", 600000 },
		{ "24h", 86400000 },
		{ "90d", 7776000000ULL },
		{ "1h30m", 5400000 },
		{ "1d2h3m4s5ms", 93784005 },
		{ "36500d", 3153600000000ULL },
	};
	static const char *const bad[] = {
		"",
		"10",
		"h",
		"1H",
		"1.5h",
		"-1s",
		"1 h",
		" 1h",
		"1h ",
		"1y",
		"1hh",
		"36501d",
		"18446744073709551616ms",
		"1h-",
		"99999999999999999999s",
		"1msec",
	};
	struct mc_err e;
	char out[64];
	uint64_t ms;
	size_t i;

	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		if (daemon_parse_duration(good[i].s, &ms, &e) != 0)
			fail_msg("%s: %s", good[i].s, e.msg);
		assert_true(ms == good[i].ms);
		/* formatting reads back to the same value */
		daemon_format_duration(ms, out, sizeof(out));
		assert_int_equal(daemon_parse_duration(out, &ms, &e), 0);
		assert_true(ms == good[i].ms);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (daemon_parse_duration(bad[i], &ms, &e) != -1)
			fail_msg("\"%s\" accepted", bad[i]);
	daemon_format_duration(5400000, out, sizeof(out));
	assert_string_equal(out, "1h30m");
}

static void
test_flags_override_file(void **state)
{
	const char *conf = "cert-ttl = 12h\nlog-level = debug\n"
			   "trust-domain = file.example\n";
	struct daemon_config *c = NULL;
	struct mc_err e;
	char *p = tmpconf(conf, strlen(conf));
	const char *argv[] = { "--cert-ttl", "6h", "--config", p,
		"--trust-domain=flag.example", "--namespaces", "a,b",
		"--cert-ttl", "3h", NULL };

	if (load(argv, &c, &e) != 0)
		fail_msg("%s", e.msg);
	assert_true(c->cert_ttl == 3 * 3600 * 1000ULL); /* last flag wins */
	assert_string_equal(c->trust_domain, "flag.example");
	assert_int_equal(c->log_level, MC_LOG_DEBUG); /* from the file */
	assert_int_equal(c->namespaces.n, 2);
	assert_string_equal(c->config_path, p);
	daemon_config_free(c);
	c = NULL;

	/* flag values get the same checks, and the error names the flag */
	{
		const char *bad[] = { "--config", p, "--grace-ratio", "2",
			NULL };

		assert_int_equal(load(bad, &c, &e), -1);
		assert_non_null(strstr(e.msg, "--grace-ratio: \"2\""));
	}
	{
		const char *bad[] = { "--config", p, "--lease-duration", "5s",
			NULL };

		assert_int_equal(load(bad, &c, &e), -1);
		assert_non_null(strstr(e.msg, "lease-duration must be longer"));
	}
	unlink(p);
	free(p);
}

static void
test_usage_errors(void **state)
{
	struct daemon_args a;
	struct mc_err e;
	char *v1[] = { "meshcad", "--bogus", NULL };
	char *v2[] = { "meshcad", "--cert-ttl", NULL };
	char *v3[] = { "meshcad", "stray", NULL };
	char *v4[] = { "meshcad", "--version", "--check-config", "--help",
		NULL };

	assert_int_equal(daemon_args_parse(&a, 2, v1, &e), -1);
	assert_non_null(strstr(e.msg, "--bogus: unknown option"));
	assert_int_equal(daemon_args_parse(&a, 2, v2, &e), -1);
	assert_non_null(strstr(e.msg, "--cert-ttl: needs a value"));
	assert_int_equal(daemon_args_parse(&a, 2, v3, &e), -1);
	assert_non_null(strstr(e.msg, "stray: unexpected argument"));
	assert_int_equal(daemon_args_parse(&a, 4, v4, &e), 0);
	assert_true(a.version && a.check_config && a.help);
	daemon_args_free(&a);
}

static void
test_identity(void **state)
{
	const char *argv[] = { "--config", empty_conf, NULL };
	const char *flag[] = { "--config", empty_conf,
		"--identity", "from-flag", NULL };
	struct daemon_config *c = NULL;
	struct mc_err e;
	char host[256];

	setenv("POD_NAME", "meshcad-7d9f-abcde", 1);
	assert_int_equal(load(argv, &c, &e), 0);
	assert_string_equal(c->identity, "meshcad-7d9f-abcde");
	daemon_config_free(c);
	assert_int_equal(load(flag, &c, &e), 0);
	assert_string_equal(c->identity, "from-flag");
	daemon_config_free(c);
	unsetenv("POD_NAME");
	assert_int_equal(load(argv, &c, &e), 0);
	assert_int_equal(gethostname(host, sizeof(host)), 0);
	assert_string_equal(c->identity, host);
	daemon_config_free(c);
}

struct reports {
	char notes[8][64];
	int nnotes;
	char warns[8][64];
	int nwarns;
};

static void
note(void *arg, const char *key, const char *o, const char *n)
{
	struct reports *r = arg;

	if (r->nnotes < 8)
		snprintf(r->notes[r->nnotes++], 64, "%s:%s->%s", key, o, n);
}

static void
warn(void *arg, const char *key, const char *o, const char *n)
{
	struct reports *r = arg;

	if (r->nwarns < 8)
		snprintf(r->warns[r->nwarns++], 64, "%s:%s->%s", key, o, n);
}

static void
test_reload(void **state)
{
	const char *v1 = "cert-ttl = 24h\ndb = /tmp/a.db\nlog-level = info\n"
			 "namespaces = x\n";
	const char *v2 = "cert-ttl = 12h\ndb = /tmp/b.db\nlog-level = debug\n"
			 "namespaces = x,y\n";
	const char *v3 = "cert-ttl = 12h\nfoo = bar\n";
	struct daemon_config *old = NULL, *new = NULL;
	struct reports r;
	struct mc_err e;
	char *p = tmpconf(v1, strlen(v1));
	const char *argv[] = { "--config", p, "--key-type", "rsa-2048", NULL };
	FILE *fp;

	assert_int_equal(load(argv, &old, &e), 0);

	/* nothing changed */
	assert_int_equal(load(argv, &new, &e), 0);
	memset(&r, 0, sizeof(r));
	assert_int_equal(daemon_config_merge_reload(old, new, note, warn, &r,
			     &e),
	    0);
	assert_int_equal(r.nnotes + r.nwarns, 0);
	daemon_config_free(new);

	/* the file changes: reloadable keys change, db is refused */
	assert_non_null(fp = fopen(p, "w"));
	fputs(v2, fp);
	fclose(fp);
	assert_int_equal(load(argv, &new, &e), 0);
	memset(&r, 0, sizeof(r));
	assert_int_equal(daemon_config_merge_reload(old, new, note, warn, &r,
			     &e),
	    3);
	assert_int_equal(r.nnotes, 3);
	assert_string_equal(r.notes[0], "cert-ttl:1d->12h");
	assert_string_equal(r.notes[1], "log-level:info->debug");
	assert_string_equal(r.notes[2], "namespaces:x->x,y");
	assert_int_equal(r.nwarns, 1);
	assert_string_equal(r.warns[0], "db:/tmp/a.db->/tmp/b.db");
	assert_string_equal(new->db, "/tmp/a.db"); /* kept */
	assert_true(new->cert_ttl == 12 * 3600 * 1000ULL);
	assert_int_equal(new->key_type, DAEMON_KEY_RSA_2048); /* flag kept */
	daemon_config_free(old);
	old = new;
	new = NULL;

	/* a broken file: the load fails, the caller keeps what it has */
	assert_non_null(fp = fopen(p, "w"));
	fputs(v3, fp);
	fclose(fp);
	assert_int_equal(load(argv, &new, &e), -1);
	assert_null(new);
	assert_non_null(strstr(e.msg, ":2: unknown key \"foo\""));
	assert_true(old->cert_ttl == 12 * 3600 * 1000ULL);
	daemon_config_free(old);
	unlink(p);
	free(p);
}

static void
test_dump_round_trip(void **state)
{
	struct daemon_config *c = NULL, *d = NULL;
	struct mc_err e;
	char *buf = NULL, *p;
	size_t len = 0;
	FILE *fp;

	assert_int_equal(load_file(DATA "/good/full.conf", &c, &e), 0);
	assert_non_null(fp = open_memstream(&buf, &len));
	daemon_config_dump(c, fp);
	fclose(fp);
	p = tmpconf(buf, len);
	if (load_file(p, &d, &e) != 0)
		fail_msg("%s", e.msg);
	assert_int_equal(daemon_config_merge_reload(c, d, NULL, NULL, NULL, &e),
	    0);
	daemon_config_free(c);
	daemon_config_free(d);
	unlink(p);
	free(p);
	free(buf);
}

/*
 * Mutated copies of good/full.conf (a fixed-seed generator, so a failure
 * reproduces): the parser never crashes or reads out of bounds (run this
 * under ASan or valgrind), and every rejection names the line.
 */
static void
test_mutations(void **state)
{
	static const char specials[] = "\"\\#=, \t\n\r\x01\x7f\xff"
				       "0h";
	struct daemon_config *c;
	struct mc_buf src;
	struct mc_err e;
	char buf[8192], prefix[32];
	uint32_t seed = 12345;
	size_t len, n, pos;
	int i, k, accepted = 0;

	mc_buf_init(&src, sizeof(buf) - 64);
	assert_int_equal(mc_buf_read_file(&src, DATA "/good/full.conf", &e), 0);
	for (i = 0; i < 5000; i++) {
		memcpy(buf, src.data, src.len);
		len = src.len;
		n = 1 + (seed = seed * 1103515245 + 12345) % 4;
		for (k = 0; k < (int)n; k++) {
			seed = seed * 1103515245 + 12345;
			pos = (seed >> 8) % len;
			seed = seed * 1103515245 + 12345;
			switch ((seed >> 16) % 3) {
			case 0: /* overwrite */
				buf[pos] = specials[(seed >> 4) %
				    (sizeof(specials) - 1)];
				break;
			case 1: /* random byte */
				buf[pos] = (char)(seed >> 24);
				break;
			default: /* delete */
				memmove(buf + pos, buf + pos + 1,
				    len - pos - 1);
				len--;
			}
		}
		assert_non_null(c = daemon_config_defaults(&e));
		if (daemon_config_parse_buf(c, "m.conf", buf, len, &e) == 0) {
			if (daemon_config_validate(c, &e) == 0)
				accepted++;
		} else {
			assert_true(strncmp(e.msg, "m.conf:", 7) == 0);
			snprintf(prefix, sizeof(prefix), "%.*s",
			    (int)strspn(e.msg + 7, "0123456789"), e.msg + 7);
			assert_true(prefix[0] != '\0');
		}
		daemon_config_free(c);
	}
	mc_buf_free(&src);
	/* some mutations (in comments, in values) must still be valid */
	assert_true(accepted > 0);
}

/* Lists are bounded: 256 namespaces from a flag load, 257 do not. */
static void
test_list_ceiling(void **state)
{
	static char list[DAEMON_CONFIG_LIST_MAX * 8 + 16];
	const char *argv[] = { "--config", empty_conf,
		"--namespaces", list, NULL };
	struct daemon_config *c = NULL, *d = NULL;
	struct mc_err e;
	size_t off = 0;
	int i;

	for (i = 0; i < DAEMON_CONFIG_LIST_MAX; i++)
		off += (size_t)snprintf(list + off, sizeof(list) - off, "%sn%d",
		    i > 0 ? "," : "", i);
	if (load(argv, &c, &e) != 0)
		fail_msg("%s", e.msg);
	assert_int_equal(c->namespaces.n, DAEMON_CONFIG_LIST_MAX);
	/* a change at the very end of a long list is still seen */
	list[off - 1] = 'x';
	assert_int_equal(load(argv, &d, &e), 0);
	assert_int_equal(daemon_config_merge_reload(c, d, NULL, NULL, NULL, &e),
	    1);
	daemon_config_free(c);
	daemon_config_free(d);
	snprintf(list + off, sizeof(list) - off, ",one-more");
	assert_int_equal(load(argv, &c, &e), -1);
	assert_non_null(strstr(e.msg, "more than 256 namespaces"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_good_full),
		cmocka_unit_test(test_corpus),
		cmocka_unit_test(test_generated_hostile),
		cmocka_unit_test(test_durations),
		cmocka_unit_test(test_flags_override_file),
		cmocka_unit_test(test_usage_errors),
		cmocka_unit_test(test_identity),
		cmocka_unit_test(test_reload),
		cmocka_unit_test(test_dump_round_trip),
		cmocka_unit_test(test_mutations),
		cmocka_unit_test(test_list_ceiling),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
