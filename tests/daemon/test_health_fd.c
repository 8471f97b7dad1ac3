/*
 * test_health_fd.c: daemon/health.c when the process has no file
 * descriptor to spare, over real TCP on 127.0.0.1. A client connects,
 * then the test takes every remaining descriptor (RLIMIT_NOFILE lowered
 * to what is open plus a few), so that the endpoint's accept(2) fails
 * with EMFILE. The endpoint must not spin (libmicrohttpd's own accept
 * loop retried at once, forever), must log the condition once, and must
 * answer the waiting client once descriptors are back, and say so.
 */
#include <sys/resource.h>
#include <sys/socket.h>

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/log.h"
#include "daemon/health.h"
#include "daemon/metrics.h"

#define HOG_MAX 64

static unsigned int
open_fds(void)
{
	struct dirent *de;
	unsigned int n = 0;
	DIR *d;

	d = opendir("/proc/self/fd");
	if (d == NULL)
		return 0;
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '.')
			n++;
	closedir(d);
	return n - 1; /* the directory's own */
}

static double
cpu_s(void)
{
	struct timespec t;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void
sleep_ms(long ms)
{
	struct timespec t = { ms / 1000, (ms % 1000) * 1000000 };

	nanosleep(&t, NULL);
}

/* Lines of the log file that contain s. */
static int
count_lines(FILE *fp, const char *s)
{
	char line[4096];
	int n = 0;

	fflush(fp);
	rewind(fp);
	while (fgets(line, sizeof(line), fp) != NULL)
		if (strstr(line, s) != NULL)
			n++;
	return n;
}

static void
test_emfile_backoff_and_recovery(void **state)
{
	struct meshcad_metrics *m;
	struct daemon_health *h;
	struct sockaddr_in sin;
	struct rlimit rl0, rl;
	struct pollfd pfd;
	struct mc_err e;
	char buf[512];
	const char *req = "GET /healthz HTTP/1.1\r\nHost: x\r\n"
			  "Connection: close\r\n\r\n";
	char path[] = "/tmp/test_health_fd.XXXXXX";
	int hog[HOG_MAX], nhog = 0, cl, src, i;
	double c0, c1;
	ssize_t n;
	size_t got = 0;
	FILE *log;

	(void)state;
	if (open_fds() == 0)
		skip(); /* no /proc to count with */
	/* O_APPEND: the endpoint's thread writes while we read */
	i = mkstemp(path);
	assert_true(i >= 0);
	close(i);
	log = fopen(path, "a+");
	assert_non_null(log);
	unlink(path);
	src = open("/dev/null", O_RDONLY);
	assert_true(src >= 0);
	mc_log_init("test_health_fd", MC_LOG_TEXT, MC_LOG_INFO, log);
	m = meshcad_metrics_new("9.9.9", &e);
	assert_non_null(m);
	h = daemon_health_start("127.0.0.1:0", m->reg, 4, 0, &e);
	assert_non_null(h);
	daemon_health_set_ready(h, true, NULL);

	/* a few to spare, then the client, then none */
	assert_int_equal(getrlimit(RLIMIT_NOFILE, &rl0), 0);
	rl = rl0;
	rl.rlim_cur = open_fds() + 4;
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &rl), 0);
	cl = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(cl >= 0);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons(daemon_health_port(h));
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	while (nhog < HOG_MAX && (hog[nhog] = dup(src)) != -1)
		nhog++;
	assert_int_equal(errno, EMFILE);
	/* the kernel completes the handshake; only accept(2) lacks an fd */
	assert_int_equal(connect(cl, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(write(cl, req, strlen(req)), (ssize_t)strlen(req));

	/* 1.5 s without a descriptor: the endpoint backs off */
	c0 = cpu_s();
	sleep_ms(1500);
	c1 = cpu_s();
	print_message("# CPU while out of descriptors: %.3f s in 1.5 s\n",
	    c1 - c0);
	pfd.fd = cl;
	pfd.events = POLLIN;
	if (poll(&pfd, 1, 0) == 1) {
		/*
		 * Answered: accept(2) found a descriptor after all (under
		 * valgrind, which keeps its own limit for the program but
		 * not for accept). Nothing to test here.
		 */
		for (i = 0; i < nhog; i++)
			close(hog[i]);
		setrlimit(RLIMIT_NOFILE, &rl0);
		close(cl);
		daemon_health_stop(h);
		meshcad_metrics_free(m);
		mc_log_init("test_health_fd", MC_LOG_TEXT, MC_LOG_FATAL,
		    stderr);
		fclose(log);
		close(src);
		skip();
	}
	assert_true(c1 - c0 < 0.05);
	assert_int_equal(count_lines(log,
			     "cannot accept connections: Too many open files"),
	    1);

	/* descriptors back: answered within the backoff's ceiling */
	for (i = 0; i < nhog; i++)
		close(hog[i]);
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &rl0), 0);
	while (got < sizeof(buf) - 1) {
		assert_int_equal(poll(&pfd, 1,
				     DAEMON_HEALTH_ACCEPT_BACKOFF_MAX_MS +
					 2000),
		    1);
		if ((n = read(cl, buf + got, sizeof(buf) - 1 - got)) <= 0)
			break;
		got += (size_t)n;
	}
	buf[got] = '\0';
	assert_non_null(strstr(buf, "HTTP/1.1 200"));
	assert_non_null(strstr(buf, "\r\n\r\nok\n"));
	close(cl);
	assert_int_equal(count_lines(log, "accepting connections again"), 1);
	assert_int_equal(count_lines(log,
			     "cannot accept connections: Too many open files"),
	    1);

	daemon_health_stop(h);
	meshcad_metrics_free(m);
	mc_log_init("test_health_fd", MC_LOG_TEXT, MC_LOG_FATAL, stderr);
	fclose(log);
	close(src);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_emfile_backoff_and_recovery),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
