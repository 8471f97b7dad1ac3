/*
 * test_torture.c: meshcad under allocation failure (STYLE.md rule 16).
 * Only meaningful in a torture build (configure --enable-torture), where
 * MC_ALLOC_FAIL=N makes allocation N and every later one fail; elsewhere
 * it skips (77). For N = 1, 2, ... it runs
 *   meshcad --config good/full.conf --check-config
 * and then a real start (port 0) followed by SIGTERM, and requires every
 * run to end in an orderly way: exit 0, or exit 1 with a message on
 * stderr; never a signal, never another status. The walk stops once N
 * passes every allocation the run makes.
 */
#include <sys/stat.h>
#include <sys/wait.h>

#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

/* Arrays, not macros: an argv list of concatenated literals looks like a
 * missing comma (bugprone-suspicious-missing-comma). */
static char meshcad[] = TOP_BUILDDIR "/daemon/meshcad";
static char full[] = TOP_SRCDIR "/tests/data/daemon/good/full.conf";
#define WALK_MAX 2000

static char dir[] = "/tmp/meshcad-torture-XXXXXX";
static char errfile[300], portfile[300];

static pid_t
spawn(int n, char *const args[])
{
	char v[32];
	pid_t pid = fork();
	int fd;

	assert_true(pid >= 0);
	if (pid == 0) {
		snprintf(v, sizeof(v), "%d", n);
		setenv("MC_ALLOC_FAIL", v, 1);
		fd = open("/dev/null", O_WRONLY);
		dup2(fd, 1);
		fd = open(errfile, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		dup2(fd, 2);
		execv(meshcad, args);
		_exit(127);
	}
	return pid;
}

static off_t
err_size(void)
{
	struct stat st;

	return stat(errfile, &st) == 0 ? st.st_size : 0;
}

/* Exit 0, or 1 with something said on stderr. */
static void
check_status(int n, int status, const char *what)
{
	if (WIFSIGNALED(status))
		fail_msg("%s, MC_ALLOC_FAIL=%d: killed by signal %d", what, n,
		    WTERMSIG(status));
	if (WEXITSTATUS(status) == 1 && err_size() == 0)
		fail_msg("%s, MC_ALLOC_FAIL=%d: exit 1 without a message", what,
		    n);
	if (WEXITSTATUS(status) != 0 && WEXITSTATUS(status) != 1)
		fail_msg("%s, MC_ALLOC_FAIL=%d: exit %d", what, n,
		    WEXITSTATUS(status));
}

static void
test_check_config(void **state)
{
	char *args[] = { meshcad, "--config", full, "--check-config", NULL };
	int n, status, ok = 0, failed = 0;

	for (n = 1; n < WALK_MAX && ok < 3; n++) {
		assert_int_equal(waitpid(spawn(n, args), &status, 0) > 0, 1);
		check_status(n, status, "--check-config");
		if (WEXITSTATUS(status) == 0)
			ok++;
		else {
			ok = 0;
			failed++;
		}
	}
	printf("# --check-config: %d allocation failures handled\n", failed);
	assert_true(failed > 10);
	assert_true(n < WALK_MAX);
}

static void
test_start_stop(void **state)
{
	char *args[] = { meshcad, "--config", full, "--metrics-listen",
		"127.0.0.1:0", "--metrics-port-file", portfile, "--log-format",
		"text", NULL };
	int n, i, status, ok = 0, failed = 0;
	pid_t pid;

	for (n = 1; n < WALK_MAX && ok < 3; n++) {
		unlink(portfile);
		pid = spawn(n, args);
		/* either it exits (startup failed) or the port file appears */
		for (i = 0; i < 400; i++) {
			if (waitpid(pid, &status, WNOHANG) == pid)
				break;
			if (access(portfile, F_OK) == 0) {
				kill(pid, SIGTERM);
				assert_int_equal(waitpid(pid, &status, 0), pid);
				break;
			}
			usleep(5 * 1000);
		}
		if (i == 400) {
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			fail_msg("MC_ALLOC_FAIL=%d: neither started nor exited",
			    n);
		}
		check_status(n, status, "start");
		if (WEXITSTATUS(status) == 0)
			ok++;
		else {
			ok = 0;
			failed++;
		}
	}
	printf("# start/stop: %d allocation failures handled\n", failed);
	assert_true(failed > 10);
}

static int
setup(void **state)
{
	if (mkdtemp(dir) == NULL)
		return -1;
	snprintf(errfile, sizeof(errfile), "%s/err", dir);
	snprintf(portfile, sizeof(portfile), "%s/port", dir);
	return 0;
}

static int
teardown(void **state)
{
	char tmp[320];

	unlink(errfile);
	unlink(portfile);
	snprintf(tmp, sizeof(tmp), "%s.tmp", portfile);
	unlink(tmp);
	rmdir(dir);
	return 0;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_check_config),
		cmocka_unit_test(test_start_stop),
	};

#ifndef MC_TORTURE
	printf("not a torture build (configure --enable-torture): skip\n");
	return 77;
#endif
	return cmocka_run_group_tests(tests, setup, teardown);
}
