/*
 * test_log.c: common/log.c: JSON lines (each parsed back with jansson),
 * the text format, escaping of hostile bytes, levels, fields, the length
 * ceiling, one write per line under threads, mc_fatal's exit, and the
 * rule that no line carries key material.
 */
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "common/log.h"

static const char *pem_key =
    "-----BEGIN PRIVATE KEY-----\n"
    "MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgSECRETSECRETSECRET\n"
    "-----END PRIVATE KEY-----\n";

struct capture {
	FILE *fp;
	char *text;
};

static int
setup(void **state)
{
	struct capture *c = calloc(1, sizeof(*c));

	if (c == NULL)
		return -1;
	if ((c->fp = tmpfile()) == NULL) {
		free(c); /* cmocka runs no teardown after a failed setup */
		return -1;
	}
	*state = c;
	return 0;
}

static int
teardown(void **state)
{
	struct capture *c = *state;

	mc_log_init("meshca", MC_LOG_TEXT, MC_LOG_INFO, stderr);
	fclose(c->fp);
	free(c->text);
	free(c);
	return 0;
}

/* Everything written so far. */
static const char *
slurp(struct capture *c)
{
	long n;

	free(c->text);
	fflush(c->fp);
	n = lseek(fileno(c->fp), 0, SEEK_END);
	assert_true(n >= 0);
	c->text = calloc(1, (size_t)n + 1);
	assert_non_null(c->text);
	assert_int_equal(pread(fileno(c->fp), c->text, (size_t)n, 0), n);
	return c->text;
}

static int
count_lines(const char *t)
{
	int n = 0;

	for (; *t != '\0'; t++)
		n += *t == '\n';
	return n;
}

/* Parses every line as a JSON object; returns them in an array. */
static json_t *
json_lines(const char *text)
{
	json_t *arr = json_array(), *o;
	const char *p = text, *nl;
	json_error_t err;

	while (*p != '\0') {
		nl = strchr(p, '\n');
		assert_non_null(nl); /* every line ends with a newline */
		o = json_loadb(p, (size_t)(nl - p), 0, &err);
		if (o == NULL)
			fail_msg("not JSON: %.*s (%s)", (int)(nl - p), p,
			    err.text);
		assert_true(json_is_object(o));
		json_array_append_new(arr, o);
		p = nl + 1;
	}
	return arr;
}

static const char *
jstr(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);

	assert_non_null(v);
	assert_true(json_is_string(v));
	return json_string_value(v);
}

static void
test_json_lines(void **state)
{
	struct capture *c = *state;
	struct mc_log_field f[] = {
		{ "namespace", "default" },
		{ "msg", "collides" },
		{ "empty", NULL },
	};
	json_t *a, *o;
	const char *ts;

	mc_log_init("meshcad", MC_LOG_JSON, MC_LOG_INFO, c->fp);
	mc_log_info("hello %d", 42);
	errno = ENOENT;
	mc_log_warn("open %s", "/x");
	mc_log_warnx("plain");
	mc_log_debug("hidden at info");
	mc_log_fields(MC_LOG_INFO, f, 3, "with fields");
	mc_log_set(MC_LOG_JSON, MC_LOG_DEBUG);
	mc_log_debug("shown %s", "now");

	a = json_lines(slurp(c));
	assert_int_equal(json_array_size(a), 5);
	o = json_array_get(a, 0);
	assert_string_equal(jstr(o, "level"), "info");
	assert_string_equal(jstr(o, "msg"), "hello 42");
	ts = jstr(o, "ts");
	/* 2026-11-26T14:18:56.123Z */
	assert_int_equal(strlen(ts), 24);
	assert_true(ts[4] == '-' && ts[10] == 'T' && ts[19] == '.' &&
	    ts[23] == 'Z');
	o = json_array_get(a, 1);
	assert_string_equal(jstr(o, "level"), "warn");
	assert_string_equal(jstr(o, "msg"),
	    "open /x: No such file or directory");
	assert_string_equal(jstr(json_array_get(a, 2), "msg"), "plain");
	o = json_array_get(a, 3);
	assert_string_equal(jstr(o, "msg"), "with fields");
	assert_string_equal(jstr(o, "namespace"), "default");
	assert_string_equal(jstr(o, "field_msg"), "collides");
	assert_string_equal(jstr(o, "empty"), "");
	o = json_array_get(a, 4);
	assert_string_equal(jstr(o, "level"), "debug");
	/* debug lines start with the function's name */
	assert_string_equal(jstr(o, "msg"), "test_json_lines: shown now");
	json_decref(a);
}

static void
test_json_escaping(void **state)
{
	struct capture *c = *state;
	struct mc_log_field f[] = { { "k\"ey", "v\n\x01" } };
	json_t *a, *o;

	mc_log_init("meshcad", MC_LOG_JSON, MC_LOG_INFO, c->fp);
	/* quotes, backslash, newline, tab, control, DEL, UTF-8 é, a bare
	 * continuation byte, an overlong '/', a UTF-16 surrogate */
	mc_log_fields(MC_LOG_INFO, f, 1,
	    "q\"b\\n\nt\tc\x01"
	    "d\x7f"
	    "\xc3\xa9 \x80 \xc0\xaf \xed\xa0\x80");
	a = json_lines(slurp(c));
	assert_int_equal(json_array_size(a), 1);
	o = json_array_get(a, 0);
	assert_string_equal(jstr(o, "msg"),
	    "q\"b\\n\nt\tc\x01"
	    "d\x7f"
	    "\xc3\xa9 \xef\xbf\xbd \xef\xbf\xbd\xef\xbf\xbd "
	    "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");
	assert_string_equal(jstr(o, "k\"ey"), "v\n\x01");
	json_decref(a);
}

static void
test_text_format(void **state)
{
	struct capture *c = *state;
	struct mc_log_field f[] = {
		{ "sa", "web" },
		{ "note", "two words" },
		{ "q", "a\"b" },
		{ "e", "" },
	};
	const char *t, *body;
	char want[128];

	mc_log_init("meshcad", MC_LOG_TEXT, MC_LOG_INFO, c->fp);
	mc_log_fields(MC_LOG_INFO, f, 4, "issued\nforged line");
	t = slurp(c);
	/* one line: the embedded newline is escaped */
	assert_int_equal(count_lines(t), 1);
	snprintf(want, sizeof(want), " meshcad[%ld]: info: ", (long)getpid());
	body = strstr(t, want);
	assert_non_null(body);
	assert_int_equal(body - t, 24); /* after the timestamp */
	assert_string_equal(body + strlen(want),
	    "issued\\nforged line sa=web "
	    "note=\"two words\" q=\"a\\\"b\" e=\"\"\n");
}

static void
test_levels(void **state)
{
	struct capture *c = *state;
	int lv;
	enum mc_log_format fmt;

	mc_log_init("meshcad", MC_LOG_TEXT, MC_LOG_WARN, c->fp);
	mc_log_info("not shown");
	mc_log_debug("not shown");
	mc_log_warnx("shown");
	assert_non_null(strstr(slurp(c), "warn: shown\n"));
	assert_null(strstr(c->text, "not shown"));
	assert_int_equal(mc_log_get_level(), MC_LOG_WARN);

	assert_int_equal(mc_log_level_parse("debug", &lv), 0);
	assert_int_equal(lv, MC_LOG_DEBUG);
	assert_int_equal(mc_log_level_parse("DEBUG", &lv), -1);
	assert_int_equal(mc_log_level_parse("trace", &lv), -1);
	assert_int_equal(mc_log_format_parse("json", &fmt), 0);
	assert_int_equal(fmt, MC_LOG_JSON);
	assert_int_equal(mc_log_format_parse("xml", &fmt), -1);
	assert_string_equal(mc_log_level_name(MC_LOG_INFO), "info");
	assert_string_equal(mc_log_level_name(99), "unknown");
}

/* The guard: no line ever carries key material, in any format, whether
 * it comes as the message, a %s argument, or a field value. */
static void
test_key_material_redacted(void **state)
{
	struct capture *c = *state;
	struct mc_log_field f[] = { { "key", pem_key }, { "ok", "fine" } };
	char huge[8192];
	const char *t;
	json_t *a;

	mc_log_init("meshcad", MC_LOG_JSON, MC_LOG_DEBUG, c->fp);
	mc_log_info("loaded %s", pem_key);
	mc_log_fields(MC_LOG_INFO, f, 2, "field");
	mc_log_debug("ec %s", "-----BEGIN EC PRIVATE KEY-----\nAAAA");
	errno = EINVAL;
	mc_log_warn("bad key: %s", "-----BEGIN ENCRYPTED PRIVATE KEY-----");
	/* a message cut at the ceiling before "PRIVATE KEY" shows up */
	memset(huge, 'x', sizeof(huge));
	memcpy(huge + 10, "-----BEGIN", 10);
	memcpy(huge + sizeof(huge) - 40, "PRIVATE KEY", 11);
	huge[sizeof(huge) - 1] = '\0';
	mc_log_info("%s", huge);
	/* a certificate is not key material */
	mc_log_info("-----BEGIN CERTIFICATE-----");

	t = slurp(c);
	assert_null(strstr(t, "SECRET"));
	assert_null(strstr(t, "PRIVATE KEY"));
	assert_null(strstr(t, "AAAA"));
	a = json_lines(t);
	assert_int_equal(json_array_size(a), 6);
	assert_string_equal(jstr(json_array_get(a, 0), "msg"), MC_LOG_REDACTED);
	assert_string_equal(jstr(json_array_get(a, 1), "msg"), "field");
	assert_string_equal(jstr(json_array_get(a, 1), "key"), MC_LOG_REDACTED);
	assert_string_equal(jstr(json_array_get(a, 1), "ok"), "fine");
	assert_string_equal(jstr(json_array_get(a, 2), "msg"), MC_LOG_REDACTED);
	assert_string_equal(jstr(json_array_get(a, 3), "msg"), MC_LOG_REDACTED);
	assert_string_equal(jstr(json_array_get(a, 4), "msg"), MC_LOG_REDACTED);
	assert_string_equal(jstr(json_array_get(a, 5), "msg"),
	    "-----BEGIN CERTIFICATE-----");
	json_decref(a);

	/* and in text */
	mc_log_init("meshcad", MC_LOG_TEXT, MC_LOG_INFO, c->fp);
	mc_log_fields(MC_LOG_INFO, f, 2, "%s", pem_key);
	t = slurp(c);
	assert_null(strstr(t, "SECRET"));
	assert_non_null(strstr(t,
	    "info: " MC_LOG_REDACTED " key=\"" MC_LOG_REDACTED "\" ok=fine\n"));

	assert_true(mc_log_is_key_material(pem_key));
	assert_false(mc_log_is_key_material("PRIVATE KEY"));
	assert_false(mc_log_is_key_material(NULL));
}

static void
test_ceiling(void **state)
{
	struct capture *c = *state;
	struct mc_log_field f[] = { { "after", "dropped" } };
	static char big[3 * MC_LOG_LINE_MAX];
	const char *t;
	json_t *a, *o;

	/* quotes double in JSON: the cut must not split an escape */
	memset(big, '"', sizeof(big) - 1);
	mc_log_init("meshcad", MC_LOG_JSON, MC_LOG_INFO, c->fp);
	mc_log_fields(MC_LOG_INFO, f, 1, "%s", big);
	t = slurp(c);
	assert_true(strlen(t) <= MC_LOG_LINE_MAX);
	a = json_lines(t);
	o = json_array_get(a, 0);
	assert_true(json_is_true(json_object_get(o, "truncated")));
	assert_null(json_object_get(o, "after"));
	json_decref(a);

	assert_int_equal(ftruncate(fileno(c->fp), 0), 0);
	assert_int_equal(lseek(fileno(c->fp), 0, SEEK_SET), 0);
	mc_log_init("meshcad", MC_LOG_TEXT, MC_LOG_INFO, c->fp);
	mc_log_info("%s", big);
	t = slurp(c);
	assert_true(strlen(t) <= MC_LOG_LINE_MAX);
	assert_non_null(strstr(t, " [truncated]\n"));
}

#define THREADS 8
#define LINES 250

static void *
writer(void *arg)
{
	struct mc_log_field f[] = { { "thread", arg },
		{ "pad",
		    ".........................................................."
		    "......"
		    ".........................................................."
		    "......" } };
	int i;

	for (i = 0; i < LINES; i++)
		mc_log_fields(MC_LOG_INFO, f, 2, "line %d", i);
	return NULL;
}

static void
test_threads(void **state)
{
	static char names[THREADS][8];
	pthread_t t[THREADS];
	FILE *fp = tmpfile();
	json_t *a;
	int i, fd;

	assert_non_null(fp);
	/* O_APPEND: each write(2) lands whole at the end */
	fd = fileno(fp);
	assert_int_equal(fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_APPEND), 0);
	mc_log_init("meshcad", MC_LOG_JSON, MC_LOG_INFO, fp);
	for (i = 0; i < THREADS; i++) {
		snprintf(names[i], sizeof(names[i]), "t%d", i);
		assert_int_equal(pthread_create(&t[i], NULL, writer, names[i]),
		    0);
	}
	for (i = 0; i < THREADS; i++)
		pthread_join(t[i], NULL);
	{
		struct capture c2 = { fp, NULL };

		a = json_lines(slurp(&c2));
		assert_int_equal(json_array_size(a), THREADS * LINES);
		json_decref(a);
		free(c2.text);
	}
	fclose(fp);
}

static void
test_fatal_exits_1(void **state)
{
	struct capture *c = *state;
	int status;
	pid_t pid;

	mc_log_init("meshcad", MC_LOG_JSON, MC_LOG_INFO, c->fp);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		mc_fatalx("cannot go on: %s", "reason");
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 1);
	assert_non_null(strstr(slurp(c),
	    "\"level\":\"fatal\",\"msg\":"
	    "\"cannot go on: reason\""));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_json_lines, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_json_escaping, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_text_format, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_levels, setup, teardown),
		cmocka_unit_test_setup_teardown(test_key_material_redacted,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_ceiling, setup, teardown),
		cmocka_unit_test(test_threads),
		cmocka_unit_test_setup_teardown(test_fatal_exits_1, setup,
		    teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
