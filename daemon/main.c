/*
 * main.c: meshcad's entry point. It reads the configuration, starts
 * logging and the health/metrics endpoint, and runs the main loop: the
 * loop waits on a self-pipe that the signal handlers write to (the
 * handlers do nothing else), so SIGHUP (reload) and SIGTERM/SIGINT
 * (graceful stop, exit 0) are handled as ordinary events in one thread.
 *
 * The controller (controller.c: k8s/ watches -> ca/ -> Secrets, leader
 * election) runs on this same thread: the loop gives it a slice of at
 * most MESHCAD_SLICE_MS, then reads the self-pipe. When it cannot start
 * (no Kubernetes configuration, an unusable ledger) meshcad says so,
 * stays unready (/readyz 503 "controller not running") and tries again
 * after 1 s, doubling up to MESHCAD_RETRY_S (a ledger out of space or of
 * descriptors may be back any moment; a missing configuration is not
 * tried more than twice a minute); the same failure is logged once.
 *
 * Trusted input: the command line and the configuration file (checked
 * by config.c); nothing else is read.
 */
#include <sys/resource.h>
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/alloc.h"
#include "common/err.h"
#include "common/log.h"
#include "common/status.h"
#include "daemon/config.h"
#include "daemon/controller.h"
#include "daemon/health.h"
#include "daemon/metrics.h"

#define MESHCAD_TICK_MS 1000   /* main loop wake-up, heartbeat period */
#define MESHCAD_STALE_AFTER 30 /* seconds without a tick: /healthz 503 */
#define MESHCAD_SLICE_MS 100   /* controller slice between signal checks */
#define MESHCAD_RETRY_S 30     /* controller start: longest retry wait */
#define MESHCAD_DRAIN_MS 5000  /* SIGTERM: wait this long for writes */
#define MESHCAD_FD_RESERVE 8   /* fewer descriptors free: say so */

static int sigpipe_w = -1; /* write end of the self-pipe */

struct meshcad {
	struct daemon_args args;
	struct daemon_config *cfg;
	struct meshcad_metrics *metrics;
	struct daemon_health *health;
	struct daemon_controller *ctl; /* NULL until it could start */
	time_t ctl_retry;	       /* when to try starting it again */
	unsigned int ctl_wait;	       /* seconds before the next try */
	unsigned int ctl_failed;       /* tries failed in a row */
	char ctl_err[MC_ERR_MAX];      /* the last failure, as logged */
	int sig_r;		       /* read end of the self-pipe */
	struct timespec fd_checked;    /* CLOCK_MONOTONIC */
	double cpu_reported;	       /* process_cpu_seconds_total so far */
	bool fd_short;		       /* fewer than MESHCAD_FD_RESERVE free */
};

/* Async-signal-safe: one write(2), errno preserved. */
static void
on_signal(int sig)
{
	int saved = errno;
	unsigned char c = (unsigned char)sig;
	ssize_t n = 0;

	/* A full pipe drops the signal: enough are queued already. */
	if (sigpipe_w != -1)
		n = write(sigpipe_w, &c, 1);
	(void)n;
	errno = saved;
}

static int
signals_setup(struct meshcad *d, struct mc_err *e)
{
	static const int sigs[] = { SIGHUP, SIGTERM, SIGINT };
	struct sigaction sa;
	int fds[2];
	size_t i;

	if (pipe(fds) == -1) {
		mc_err_set(e, MC_ST_IO, 0, "self-pipe: %s", strerror(errno));
		return -1;
	}
	for (i = 0; i < 2; i++) {
		if (fcntl(fds[i], F_SETFD, FD_CLOEXEC) == -1 ||
		    fcntl(fds[i], F_SETFL, O_NONBLOCK) == -1) {
			mc_err_set(e, MC_ST_IO, 0, "self-pipe: %s",
			    strerror(errno));
			return -1;
		}
	}
	d->sig_r = fds[0];
	sigpipe_w = fds[1];
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sa.sa_flags = SA_RESTART;
	sigemptyset(&sa.sa_mask);
	for (i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		if (sigaction(sigs[i], &sa, NULL) == -1)
			goto fail;
	/* A peer closing a metrics connection must not kill the daemon. */
	sa.sa_handler = SIG_IGN;
	if (sigaction(SIGPIPE, &sa, NULL) == -1)
		goto fail;
	return 0;
fail:
	mc_err_set(e, MC_ST_INTERNAL, 0, "sigaction: %s", strerror(errno));
	return -1;
}

/*
 * Writes the bound port to path, atomically (a reader never sees a
 * half-written file): tests and scripts that start meshcad with
 * --metrics-listen 127.0.0.1:0 learn the port from it.
 */
static int
write_port_file(const char *path, unsigned int port, struct mc_err *e)
{
	char tmp[4096], text[16];
	int fd = -1, n, rc = -1;

	n = snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	if (n < 0 || (size_t)n >= sizeof(tmp)) {
		mc_err_set(e, MC_ST_USAGE, 0,
		    "metrics-port-file: path too "
		    "long");
		return -1;
	}
	n = snprintf(text, sizeof(text), "%u\n", port);
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644)) ==
		-1 ||
	    write(fd, text, (size_t)n) != n || close(fd) == -1) {
		mc_err_set(e, MC_ST_IO, 0, "metrics-port-file %s: %s", tmp,
		    strerror(errno));
		fd = -1;
		goto out;
	}
	fd = -1;
	if (rename(tmp, path) == -1) {
		mc_err_set(e, MC_ST_IO, 0, "metrics-port-file %s: %s", path,
		    strerror(errno));
		goto out;
	}
	rc = 0;
out:
	if (fd != -1)
		close(fd);
	if (rc == -1)
		unlink(tmp);
	return rc;
}

static void
reload_note(void *arg, const char *key, const char *oldval, const char *newval)
{
	struct mc_log_field f[] = { { "key", key }, { "old", oldval },
		{ "new", newval } };

	mc_log_fields(MC_LOG_INFO, f, 3, "reload: %s changed", key);
}

static void
reload_warn(void *arg, const char *key, const char *oldval, const char *newval)
{
	struct mc_log_field f[] = { { "key", key }, { "old", oldval },
		{ "new", newval } };

	mc_log_fields(MC_LOG_WARN, f, 3,
	    "reload: %s cannot change while "
	    "meshcad runs; keeping %s (restart to apply)",
	    key, oldval);
}

/*
 * SIGHUP: re-read the file, re-apply the flags, validate, and swap only
 * a valid result; keys that cannot change at runtime keep their values.
 */
static void
reload(struct meshcad *d)
{
	struct daemon_config *n = NULL;
	struct mc_err e;
	int changed;

	mc_err_clear(&e);
	if (daemon_config_load(&d->args, &n, &e) == -1 ||
	    (changed = daemon_config_merge_reload(d->cfg, n, reload_note,
		 reload_warn, NULL, &e)) == -1) {
		mc_log_warnx("reload failed, configuration unchanged: %s",
		    e.msg);
		daemon_metric_inc(d->metrics->config_reloads, "failure");
		daemon_config_free(n);
		return;
	}
	daemon_config_free(d->cfg);
	d->cfg = n;
	mc_log_set(d->cfg->log_format, d->cfg->log_level);
	/* Rotation thresholds, namespace scope and key type take effect
	 * from here. */
	if (d->ctl != NULL)
		daemon_controller_set_config(d->ctl, d->cfg);
	daemon_metric_inc(d->metrics->config_reloads, "success");
	mc_log_info("configuration reloaded: %d setting%s changed", changed,
	    changed == 1 ? "" : "s");
}

/* Readiness goes to /readyz and to the meshca_ready gauge together. */
static void
set_ready(struct meshcad *d, bool ready, const char *reason)
{
	daemon_health_set_ready(d->health, ready, reason);
	daemon_metric_set(d->metrics->ready, NULL, ready ? 1 : 0);
}

static void
controller_start(struct meshcad *d)
{
	struct mc_err e;
	char reason[MC_ERR_MAX + 32];

	if (d->ctl != NULL || time(NULL) < d->ctl_retry)
		return;
	mc_err_clear(&e);
	if ((d->ctl = daemon_controller_new(d->cfg, d->metrics, &e)) == NULL) {
		d->ctl_wait = d->ctl_wait == 0 ? 1 : d->ctl_wait * 2;
		if (d->ctl_wait > MESHCAD_RETRY_S)
			d->ctl_wait = MESHCAD_RETRY_S;
		d->ctl_retry = time(NULL) + d->ctl_wait;
		d->ctl_failed++;
		/* One warning per outage, however the reason varies from
		 * try to try (with few descriptors left, sqlite fails at
		 * whichever step finds none); a new reason is worth an
		 * info line, a repeated one only a debug line. */
		if (d->ctl_failed == 1)
			mc_log_warnx("controller not available: %s; no "
				     "certificates will be issued; /readyz "
				     "answers 503 (retrying in %u s, then up "
				     "to every %d s)",
			    e.msg, d->ctl_wait, MESHCAD_RETRY_S);
		else if (strcmp(e.msg, d->ctl_err) != 0)
			mc_log_info("controller still not available after %u "
				    "tries, now: %s",
			    d->ctl_failed, e.msg);
		else
			mc_log_debug("controller still not available "
				     "(%u tries): %s",
			    d->ctl_failed, e.msg);
		snprintf(d->ctl_err, sizeof(d->ctl_err), "%s", e.msg);
		snprintf(reason, sizeof(reason), "controller not running: %s",
		    e.msg);
		set_ready(d, false, reason);
		return;
	}
	mc_log_info("controller started: CA namespace %s, lease %s (%u "
		    "failed tries before)",
	    d->cfg->ca_namespace, "meshca-leader", d->ctl_failed);
	d->ctl_wait = d->ctl_failed = 0;
	d->ctl_err[0] = '\0';
}

/* CPU time and resident memory into process_cpu_seconds_total and
 * process_resident_memory_bytes (what Prometheus's process collector
 * calls them): what an operator graphs, and what the soak and the
 * resource tests read rather than another process's /proc entry. */
static void
usage_report(struct meshcad *d)
{
	struct rusage ru;
	double cpu;
	long page;
	unsigned long long resident;
	char line[128], *p, *end;
	FILE *f;

	if (getrusage(RUSAGE_SELF, &ru) == 0) {
		cpu = (double)ru.ru_utime.tv_sec + (double)ru.ru_stime.tv_sec +
		      ((double)ru.ru_utime.tv_usec +
			  (double)ru.ru_stime.tv_usec) /
			  1e6;
		if (cpu > d->cpu_reported) {
			daemon_metric_add(
			    d->metrics->cpu_seconds, NULL, cpu - d->cpu_reported);
			d->cpu_reported = cpu;
		}
	}
	page = sysconf(_SC_PAGESIZE);
	/* statm: "size resident shared ...", in pages */
	if (page > 0 && (f = fopen("/proc/self/statm", "re")) != NULL) {
		if (fgets(line, sizeof(line), f) != NULL &&
		    (p = strchr(line, ' ')) != NULL) {
			errno = 0;
			resident = strtoull(p + 1, &end, 10);
			if (errno == 0 && end != p + 1)
				daemon_metric_set(d->metrics->rss_bytes, NULL,
				    (double)resident * (double)page);
		}
		fclose(f);
	}
}

/*
 * Once a second: our open descriptors against RLIMIT_NOFILE, read again
 * each time (prlimit(1) can change it while we run). Out of descriptors,
 * connections to the API server, ledger files and metrics clients fail
 * with EMFILE in places that only retry with backoff; this says why,
 * once, and again when it is over, and keeps process_open_fds and
 * process_max_fds current.
 */
static void
fds_check(struct meshcad *d)
{
	struct timespec now;
	struct rlimit rl;
	struct dirent *de;
	DIR *dir;
	unsigned long long n = 0, lim;
	bool short_now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	if (now.tv_sec == d->fd_checked.tv_sec)
		return;
	d->fd_checked = now;
	usage_report(d);
	if (getrlimit(RLIMIT_NOFILE, &rl) == -1)
		return;
	lim =
	    rl.rlim_cur == RLIM_INFINITY ? 0 : (unsigned long long)rl.rlim_cur;
	if ((dir = opendir("/proc/self/fd")) != NULL) {
		while ((de = readdir(dir)) != NULL)
			if (de->d_name[0] != '.')
				n++;
		closedir(dir);
		n = n > 0 ? n - 1 : 0; /* the directory's own */
	} else if ((errno == EMFILE || errno == ENFILE) && lim > 0)
		n = lim; /* at least: not one to spare for counting */
	else
		return; /* no /proc: nothing to count with */
	daemon_metric_set(d->metrics->open_fds, NULL, (double)n);
	daemon_metric_set(d->metrics->max_fds, NULL, (double)lim);
	short_now = lim > 0 && n + MESHCAD_FD_RESERVE > lim;
	if (short_now && !d->fd_short)
		mc_log_warnx(
		    "file descriptors: %llu of %llu in use "
		    "(RLIMIT_NOFILE): connections to the API server, the "
		    "ledger and /metrics clients fail with EMFILE and are "
		    "retried with backoff until some are free; raise the "
		    "limit (ulimit -n, LimitNOFILE=) or find what holds them",
		    n, lim);
	else if (!short_now && d->fd_short)
		mc_log_info("file descriptors: %llu of %llu in use, enough "
			    "again",
		    n, lim);
	d->fd_short = short_now;
}

/* Returns when SIGTERM or SIGINT arrives. */
static void
run(struct meshcad *d)
{
	struct pollfd pfd;
	unsigned char sig;
	const char *why;
	struct mc_err e;
	bool stop = false, ready;
	int wait_ms;

	pfd.fd = d->sig_r;
	pfd.events = POLLIN;
	while (!stop) {
		daemon_health_heartbeat(d->health);
		fds_check(d);
		controller_start(d);
		wait_ms = MESHCAD_TICK_MS;
		if (d->ctl != NULL) {
			/* The controller's loop waits for the network; the
			 * signal pipe is looked at after each slice. */
			if (daemon_controller_run_once(d->ctl, MESHCAD_SLICE_MS,
				&e) == -1)
				mc_fatalx("controller: %s", e.msg);
			ready = daemon_controller_ready(d->ctl, &why);
			set_ready(d, ready, why);
			wait_ms = 0;
		}
		if (poll(&pfd, 1, wait_ms) == -1) {
			if (errno == EINTR)
				continue;
			mc_fatal("poll");
		}
		while (read(d->sig_r, &sig, 1) == 1) {
			switch (sig) {
			case SIGHUP:
				mc_log_info("SIGHUP: reloading %s",
				    d->cfg->config_path != NULL ?
					d->cfg->config_path :
					"(no file; flags only)");
				reload(d);
				break;
			case SIGTERM:
			case SIGINT:
				mc_log_info("%s: stopping",
				    sig == SIGTERM ? "SIGTERM" : "SIGINT");
				stop = true;
				break;
			}
		}
	}
}

static void
print_version(void)
{
	printf("meshcad %s\n", PACKAGE_VERSION);
}

int
main(int argc, char *argv[])
{
	struct meshcad d;
	struct mc_err e;
	int rc = 1;

	memset(&d, 0, sizeof(d));
	d.sig_r = -1;
	mc_err_clear(&e);
	mc_log_init("meshcad", MC_LOG_TEXT, MC_LOG_INFO, stderr);
	/* First: a SIGTERM that comes while the configuration is read (a
	 * Pod deleted as it starts) is then a clean stop, not a kill. */
	if (signals_setup(&d, &e) == -1) {
		fprintf(stderr, "meshcad: %s\n", e.msg);
		goto out;
	}

	if (daemon_args_parse(&d.args, argc, argv, &e) == -1) {
		fprintf(stderr, "meshcad: %s\n", e.msg);
		if (e.status != MC_ST_USAGE)
			goto out; /* out of memory: not the caller's fault */
		daemon_usage(stderr);
		rc = 2;
		goto out;
	}
	if (d.args.help) {
		daemon_usage(stdout);
		rc = 0;
		goto out;
	}
	if (d.args.version) {
		print_version();
		rc = 0;
		goto out;
	}
	if (daemon_config_load(&d.args, &d.cfg, &e) == -1) {
		fprintf(stderr, "meshcad: %s\n", e.msg);
		goto out;
	}
	if (d.args.check_config) {
		daemon_config_dump(d.cfg, stdout);
		fprintf(stderr, "meshcad: configuration OK\n");
		rc = 0;
		goto out;
	}
	mc_log_init("meshcad", d.cfg->log_format, d.cfg->log_level, stderr);

	if ((d.metrics = meshcad_metrics_new(PACKAGE_VERSION, &e)) == NULL)
		mc_fatalx("%s", e.msg);
	if ((d.health = daemon_health_start(d.cfg->metrics_listen,
		 d.metrics->reg, d.cfg->metrics_max_connections,
		 MESHCAD_STALE_AFTER, &e)) == NULL)
		mc_fatalx("%s", e.msg);
	if (d.cfg->metrics_port_file != NULL &&
	    write_port_file(d.cfg->metrics_port_file,
		daemon_health_port(d.health), &e) == -1)
		mc_fatalx("%s", e.msg);
	{
		char port[8];
		struct mc_log_field f[] = {
			{ "version", PACKAGE_VERSION },
			{ "trust_domain", d.cfg->trust_domain },
			{ "identity", d.cfg->identity },
			{ "metrics_listen", d.cfg->metrics_listen },
			{ "metrics_port", port },
		};

		snprintf(port, sizeof(port), "%u",
		    (unsigned int)daemon_health_port(d.health));
		mc_log_fields(MC_LOG_INFO, f, 5, "meshcad started");
	}

	/*
	 * The controller: k8s client from d.cfg->kubeconfig or in-cluster,
	 * ledger at d.cfg->db, leader election on Lease meshca-leader in
	 * d.cfg->ca_namespace (run() starts it, and retries).
	 */
	set_ready(&d, false, "controller not running");

	run(&d);

	/* Finish the writes in hand, give the Lease up (so a standby takes
	 * over at once), close the ledger. */
	set_ready(&d, false, "shutting down");
	if (d.ctl != NULL) {
		daemon_controller_stop(d.ctl, MESHCAD_DRAIN_MS);
		daemon_controller_free(d.ctl);
		d.ctl = NULL;
		mc_log_info("lease released, ledger closed");
	}
	daemon_health_stop(d.health);
	d.health = NULL;
	mc_log_info("meshcad stopped");
	rc = 0;
out:
	daemon_controller_free(d.ctl);
	daemon_health_stop(d.health);
	meshcad_metrics_free(d.metrics);
	daemon_config_free(d.cfg);
	daemon_args_free(&d.args);
	if (d.sig_r != -1)
		close(d.sig_r);
	if (sigpipe_w != -1)
		close(sigpipe_w);
	return rc;
}
