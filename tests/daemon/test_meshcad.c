/*
 * test_meshcad.c: the meshcad process. Starts daemon/meshcad with a temp
 * config and --metrics-listen 127.0.0.1:0 --metrics-port-file, reads the
 * port, checks the endpoint over HTTP, rewrites the config and sends
 * SIGHUP (the change shows in the reload counter and the log; a key that
 * cannot change at runtime is refused with a warning; a broken file
 * leaves the daemon running on the old settings), then SIGTERM (exit 0
 * within 2 s). Also the exit status of usage and config errors,
 * --check-config, --version and --help.
 */
#include <sys/stat.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <curl/curl.h>
#include <jansson.h>

/* Arrays, not macros: an argv list of concatenated literals looks like a
 * missing comma (bugprone-suspicious-missing-comma). */
static char meshcad[] = TOP_BUILDDIR "/daemon/meshcad";

static char dir[] = "/tmp/meshcad-test-XXXXXX";
static char conf[256], portfile[256], logfile[256];

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
write_file(const char *path, const char *text)
{
	FILE *fp = fopen(path, "w");

	assert_non_null(fp);
	fputs(text, fp);
	assert_int_equal(fclose(fp), 0);
}

static char *
read_file(const char *path)
{
	FILE *fp = fopen(path, "r");
	char *buf;
	long n;

	if (fp == NULL)
		return NULL;
	fseek(fp, 0, SEEK_END);
	n = ftell(fp);
	rewind(fp);
	buf = calloc(1, (size_t)n + 1);
	assert_non_null(buf);
	if (n > 0)
		assert_int_equal(fread(buf, 1, (size_t)n, fp), (size_t)n);
	fclose(fp);
	return buf;
}

/* Runs meshcad with args; stdout and stderr go to out and err files. */
static pid_t
spawn(char *const args[], const char *out, const char *err)
{
	pid_t pid = fork();
	int fd;

	assert_true(pid >= 0);
	if (pid == 0) {
		fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		dup2(fd, 1);
		fd = open(err, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		dup2(fd, 2);
		execv(meshcad, args);
		_exit(127);
	}
	return pid;
}

static int
run_status(char *const args[], char **out, char **err)
{
	char o[300], e[300];
	int status;
	pid_t pid;

	snprintf(o, sizeof(o), "%s/out", dir);
	snprintf(e, sizeof(e), "%s/err", dir);
	pid = spawn(args, o, e);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	*out = read_file(o);
	*err = read_file(e);
	assert_true(WIFEXITED(status));
	return WEXITSTATUS(status);
}

struct body {
	char text[65536];
	size_t len;
};

static size_t
on_body(char *p, size_t sz, size_t n, void *arg)
{
	struct body *b = arg;
	size_t k = sz * n;

	if (k > sizeof(b->text) - 1 - b->len)
		return 0;
	memcpy(b->text + b->len, p, k);
	b->len += k;
	b->text[b->len] = '\0';
	return k;
}

static long
get(unsigned int port, const char *path, struct body *b)
{
	char url[128];
	long status = 0;
	CURL *c = curl_easy_init();

	memset(b, 0, sizeof(*b));
	snprintf(url, sizeof(url), "http://127.0.0.1:%u%s", port, path);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, b);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 5L);
	curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
	if (curl_easy_perform(c) == CURLE_OK)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_cleanup(c);
	return status;
}

/* Waits up to 5 s for text to appear in the metrics. */
static bool
wait_metric(unsigned int port, const char *text)
{
	struct body b;
	int i;

	for (i = 0; i < 100; i++) {
		if (get(port, "/metrics", &b) == 200 &&
		    strstr(b.text, text) != NULL)
			return true;
		usleep(50 * 1000);
	}
	return false;
}

static int
setup(void **state)
{
	if (mkdtemp(dir) == NULL)
		return -1;
	snprintf(conf, sizeof(conf), "%s/meshca.conf", dir);
	snprintf(portfile, sizeof(portfile), "%s/port", dir);
	snprintf(logfile, sizeof(logfile), "%s/log", dir);
	curl_global_init(CURL_GLOBAL_DEFAULT);
	return 0;
}

static int
teardown(void **state)
{
	char path[300];
	static const char *const files[] = { "meshca.conf", "port", "log",
		"out", "err", "stdout" };
	size_t i;

	for (i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, files[i]);
		unlink(path);
	}
	rmdir(dir);
	curl_global_cleanup();
	return 0;
}

/* Counts the JSON log lines whose msg contains text; checks all parse. */
static int
log_count(const char *log, const char *level, const char *text)
{
	const char *p = log, *nl;
	json_error_t err;
	json_t *o;
	int n = 0;

	while (*p != '\0' && (nl = strchr(p, '\n')) != NULL) {
		o = json_loadb(p, (size_t)(nl - p), 0, &err);
		if (o == NULL)
			fail_msg("log line is not JSON: %.*s", (int)(nl - p),
			    p);
		if (strcmp(json_string_value(json_object_get(o, "level")),
			level) == 0 &&
		    strstr(json_string_value(json_object_get(o, "msg")),
			text) != NULL)
			n++;
		json_decref(o);
		p = nl + 1;
	}
	return n;
}

static void
test_lifecycle(void **state)
{
	char out[300];
	char *args[] = { meshcad, "--config", conf, "--metrics-listen",
		"127.0.0.1:0", "--metrics-port-file", portfile, NULL };
	unsigned int port = 0;
	struct body b;
	char *log, *text;
	double t0;
	int status, i;
	pid_t pid;

	write_file(conf,
	    "# test\ncert-ttl = 24h\ndb = /tmp/meshcad-a.db\n"
	    "log-format = json\nlog-level = info\n");
	snprintf(out, sizeof(out), "%s/stdout", dir);
	pid = spawn(args, out, logfile);
	for (i = 0; i < 100 && port == 0; i++) {
		usleep(50 * 1000);
		if ((text = read_file(portfile)) != NULL) {
			port = (unsigned int)strtoul(text, NULL, 10);
			free(text);
		}
	}
	assert_true(port > 0 && port < 65536);

	assert_int_equal(get(port, "/healthz", &b), 200);
	assert_int_equal(get(port, "/readyz", &b), 503);
	/* the reason says why: here, no cluster to talk to */
	assert_true(strncmp(b.text, "controller not running: ", 24) == 0);
	assert_true(strlen(b.text) > 25);
	assert_int_equal(get(port, "/metrics", &b), 200);
	assert_non_null(strstr(b.text, "meshca_build_info{version=\""));
	assert_non_null(strstr(b.text, "meshca_ready 0\n"));

	/* SIGHUP with a changed file: cert-ttl and log-level change, db is
	 * refused (it cannot change while running) */
	write_file(conf,
	    "cert-ttl = 12h\ndb = /tmp/meshcad-b.db\n"
	    "log-format = json\nlog-level = debug\n");
	assert_int_equal(kill(pid, SIGHUP), 0);
	assert_true(wait_metric(port,
	    "meshca_config_reloads_total{result=\"success\"} 1\n"));
	log = read_file(logfile);
	assert_int_equal(log_count(log, "info", "reload: cert-ttl changed"), 1);
	assert_int_equal(log_count(log, "info", "reload: log-level changed"),
	    1);
	assert_int_equal(log_count(log, "warn", "reload: db cannot change"), 1);
	free(log);

	/* SIGHUP with a broken file: refused, still serving */
	write_file(conf, "cert-ttl = 12h\nbogus = 1\n");
	assert_int_equal(kill(pid, SIGHUP), 0);
	assert_true(wait_metric(port,
	    "meshca_config_reloads_total{result=\"failure\"} 1\n"));
	assert_int_equal(get(port, "/healthz", &b), 200);
	log = read_file(logfile);
	assert_int_equal(log_count(log, "warn", ":2: unknown key \"bogus\""),
	    1);
	free(log);

	/* SIGTERM: exit 0 within 2 s */
	t0 = now();
	assert_int_equal(kill(pid, SIGTERM), 0);
	for (;;) {
		pid_t w = waitpid(pid, &status, WNOHANG);

		assert_true(w >= 0);
		if (w == pid)
			break;
		if (now() - t0 > 2.0) {
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			fail_msg("meshcad still running 2 s after SIGTERM");
		}
		usleep(10 * 1000);
	}
	printf("# meshcad exited %.3f s after SIGTERM\n", now() - t0);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	log = read_file(logfile);
	assert_int_equal(log_count(log, "info", "SIGTERM: stopping"), 1);
	assert_int_equal(log_count(log, "info", "meshcad stopped"), 1);
	assert_int_equal(log_count(log, "warn", "controller not available"), 1);
	free(log);
	/* the endpoint is gone */
	assert_int_equal(get(port, "/healthz", &b), 0);
}

static void
test_exit_status(void **state)
{
	char *out, *err;
	char *usage[] = { meshcad, "--no-such-flag", NULL };
	char *operand[] = { meshcad, "extra", NULL };
	char *badval[] = { meshcad, "--config", conf, "--cert-ttl", "1y",
		NULL };
	char *badfile[] = { meshcad, "--config", conf, NULL };
	char *check[] = { meshcad, "--config", conf, "--check-config", NULL };
	char *version[] = { meshcad, "--version", NULL };
	char *help[] = { meshcad, "--help", NULL };
	char *inuse[] = { meshcad, "--config", conf, "--metrics-listen",
		"256.0.0.1:1", NULL };

	assert_int_equal(run_status(usage, &out, &err), 2);
	assert_non_null(strstr(err, "--no-such-flag: unknown option"));
	assert_non_null(strstr(err, "usage: meshcad"));
	free(out);
	free(err);
	assert_int_equal(run_status(operand, &out, &err), 2);
	free(out);
	free(err);

	write_file(conf, "cert-ttl = 12h\n");
	assert_int_equal(run_status(badval, &out, &err), 1);
	assert_string_equal(err,
	    "meshcad: --cert-ttl: \"1y\": unknown "
	    "duration unit \"y\" (ms, s, m, h or d)\n");
	free(out);
	free(err);
	assert_int_equal(run_status(inuse, &out, &err), 1);
	assert_non_null(strstr(err, "256.0.0.1"));
	free(out);
	free(err);

	assert_int_equal(run_status(check, &out, &err), 0);
	assert_non_null(strstr(out, "cert-ttl = 12h\n"));
	assert_non_null(strstr(err, "configuration OK"));
	free(out);
	free(err);

	write_file(conf, "cert-ttl = 12h\nmax-cert-ttl = 1h\n");
	assert_int_equal(run_status(badfile, &out, &err), 1);
	assert_string_equal(err,
	    "meshcad: cert-ttl 12h exceeds max-cert-ttl "
	    "1h\n");
	free(out);
	free(err);

	assert_int_equal(run_status(version, &out, &err), 0);
	assert_non_null(strstr(out, "meshcad "));
	free(out);
	free(err);
	assert_int_equal(run_status(help, &out, &err), 0);
	assert_non_null(strstr(out, "usage: meshcad"));
	free(out);
	free(err);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lifecycle),
		cmocka_unit_test(test_exit_status),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
