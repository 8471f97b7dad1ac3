/*
 * ca_util.c: shared plumbing of the CA commands (see ca_util.h). Paths
 * and durations come from the command line and are checked; files are
 * written through a temporary name and renamed, so a reader never sees a
 * half-written key or chain, and keys are created 0600 from the start.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ca/authority.h"
#include "cli/ca_util.h"
#include "common/status.h"

const char *
cli_ca_db_path(const struct cli_global *g)
{
	static char path[4096];
	const char *env, *home;

	if (g->db != NULL)
		return g->db;
	if ((env = getenv("MESHCA_DB")) != NULL && *env != '\0')
		return env;
	if (geteuid() == 0)
		return CLI_DB_SYSTEM;
	/* XDG Base Directory: $XDG_DATA_HOME must be absolute to count. */
	if ((env = getenv("XDG_DATA_HOME")) != NULL && *env == '/')
		snprintf(path, sizeof(path), "%s%s", env, CLI_DB_USER);
	else if ((home = getenv("HOME")) != NULL && *home == '/')
		snprintf(path, sizeof(path), "%s/.local/share%s", home,
		    CLI_DB_USER);
	else
		snprintf(path, sizeof(path), "meshca.db");
	return path;
}

/*
 * For init at a default path: creates the missing directories above the
 * ledger, the last one 0700 (it will hold the ledger and its KEK).
 */
static int
make_parent_dirs(const char *file, struct mc_err *e)
{
	char dir[4096];
	char *p;

	if (snprintf(dir, sizeof(dir), "%s", file) >= (int)sizeof(dir) ||
	    (p = strrchr(dir, '/')) == NULL || p == dir)
		return 0;
	*p = '\0';
	for (p = dir + 1; *p != '\0'; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(dir, 0755) == -1 && errno != EEXIST)
			goto fail;
		*p = '/';
	}
	if (mkdir(dir, 0700) == -1 && errno != EEXIST)
		goto fail;
	return 0;
fail:
	mc_err_set(e, MC_ST_IO, 0, "ledger directory %s: %s", dir,
	    strerror(errno));
	return -1;
}

/*
 * The ledger holds sealed keys and the audit log: like the KEK, it is
 * refused when group or others may read or write it (meshca init makes
 * it 0600).
 */
static int
check_db_mode(const char *path, struct mc_err *e)
{
	struct stat st;

	if (stat(path, &st) == -1)
		return 0; /* store_open() says what is missing */
	if (S_ISREG(st.st_mode) && (st.st_mode & 077) != 0) {
		mc_err_set(e, MC_ST_REJECTED, 0, "ledger %s: mode %03o lets "
		    "group or others at the CA's records (chmod 600 it)", path,
		    (unsigned)(st.st_mode & 0777));
		return -1;
	}
	return 0;
}

void
cli_ca_kek_path(const struct cli_global *g, const char *kek, char *out,
    size_t len)
{
	if (kek != NULL)
		snprintf(out, len, "%s", kek);
	else
		snprintf(out, len, "%s.kek", cli_ca_db_path(g));
}

int
cli_ca_fail(const char *cmd, const struct mc_err *e)
{
	size_t n = strlen(cmd);
	const char *msg = e->msg;

	/* The library may already have named the operation. */
	if (strncmp(msg, cmd, n) == 0 && msg[n] == ':' && msg[n + 1] == ' ')
		msg += n + 2;
	cli_warnx("%s: %s", cmd, msg);
	return cli_exit_for((enum meshca_status)e->status);
}

int
cli_ca_open(const char *cmd, const struct cli_global *g, const char *kek,
    bool create, struct store_db **db, struct ca_kek *kek_out)
{
	struct mc_err e = { 0 };
	char kp[4096];
	bool fresh;

	*db = NULL;
	fresh = access(cli_ca_db_path(g), F_OK) == -1 && errno == ENOENT;
	if ((create && fresh && g->db == NULL &&
	    make_parent_dirs(cli_ca_db_path(g), &e) == -1) ||
	    check_db_mode(cli_ca_db_path(g), &e) == -1)
		return cli_ca_fail(cmd, &e);
	if (!create && fresh) {
		cli_warnx("%s: ledger %s: no such file; run meshca init first "
		    "(or give --db or $MESHCA_DB)", cmd, cli_ca_db_path(g));
		return CLI_EXIT_USAGE;
	}
	if (store_open(cli_ca_db_path(g), create ? STORE_CREATE : 0, db,
	    &e) == -1)
		return cli_ca_fail(cmd, &e);
	if (kek_out == NULL)
		return CLI_EXIT_OK;
	cli_ca_kek_path(g, kek, kp, sizeof(kp));
	/* A new KEK only with a new ledger: the keys in an existing one are
	 * sealed under a KEK that a fresh one would not open. */
	if (create && fresh && access(kp, F_OK) == -1 && errno == ENOENT) {
		if (ca_kek_create(kp, kek_out, &e) == -1)
			goto fail;
		return CLI_EXIT_OK;
	}
	if (ca_kek_load(kp, kek_out, &e) == -1)
		goto fail;
	return CLI_EXIT_OK;
fail:
	store_close(*db);
	*db = NULL;
	return cli_ca_fail(cmd, &e);
}

int
cli_parse_duration(const char *s, int64_t *out)
{
	char *end;
	long long v;
	int64_t mul = 1;

	if (s == NULL || *s < '0' || *s > '9')
		return -1;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0 || v <= 0)
		return -1;
	if (*end != '\0') {
		if (end[1] != '\0')
			return -1;
		switch (*end) {
		case 's':
			break;
		case 'm':
			mul = 60;
			break;
		case 'h':
			mul = 3600;
			break;
		case 'd':
			mul = 86400;
			break;
		case 'y':
			mul = 365 * 86400LL;
			break;
		default:
			return -1;
		}
	}
	if (v > INT64_MAX / mul / 2)
		return -1;
	*out = (int64_t)v * mul;
	return 0;
}

int
cli_check_target(const char *dir, const char *name, struct mc_err *e)
{
	char path[4096];
	struct stat st;

	if (dir != NULL)
		snprintf(path, sizeof(path), "%s/%s", dir, name);
	else
		snprintf(path, sizeof(path), "%s", name);
	/*
	 * A symlink planted where a key or chain goes would only be replaced
	 * by our rename, but its presence means someone expects the key to
	 * land elsewhere: refuse, and say so.
	 */
	if (lstat(path, &st) == 0 && !S_ISREG(st.st_mode)) {
		mc_err_set(e, MC_ST_REJECTED, 0, "%s: %s; refusing to write "
		    "through it", path, S_ISLNK(st.st_mode) ?
		    "a symbolic link" : "not a regular file");
		return -1;
	}
	return 0;
}

int
cli_write_file(const char *dir, const char *name, const void *p, size_t len,
    mode_t mode, struct mc_err *e)
{
	char path[4096], tmp[4200];
	const char *s = p;
	ssize_t n;
	size_t off = 0;
	int fd;

	if (dir != NULL)
		snprintf(path, sizeof(path), "%s/%s", dir, name);
	else
		snprintf(path, sizeof(path), "%s", name);
	if (cli_check_target(dir, name, e) == -1)
		return -1;
	snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long)getpid());
	/* O_EXCL|O_NOFOLLOW: never open a name someone else made. The
	 * mode is set with fchmod() below too, whatever the umask. */
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
	    mode);
	if (fd == -1) {
		mc_err_set(e, MC_ST_IO, 0, "%s: %s", path, strerror(errno));
		return -1;
	}
	while (off < len) {
		n = write(fd, s + off, len - off);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			goto fail;
		off += (size_t)n;
	}
	if (fchmod(fd, mode) == -1 || fsync(fd) == -1)
		goto fail;
	close(fd);
	if (rename(tmp, path) == -1) {
		mc_err_set(e, MC_ST_IO, 0, "%s: %s", path, strerror(errno));
		unlink(tmp);
		return -1;
	}
	return 0;
fail:
	mc_err_set(e, MC_ST_IO, 0, "%s: %s", path, strerror(errno));
	close(fd);
	unlink(tmp);
	return -1;
}

int
cli_print_json(const char *cmd, json_t *o)
{
	char *s = NULL;
	int rc = CLI_EXIT_INTERNAL;

	/* jansson allocates with malloc(); its string goes back to free(). */
	if (o == NULL || (s = json_dumps(o, JSON_PRESERVE_ORDER)) == NULL) {
		cli_warnx("%s: cannot build JSON output", cmd);
		goto out;
	}
	printf("%s\n", s);
	rc = CLI_EXIT_OK;
out:
	free(s);
	json_decref(o);
	return rc;
}

const char *
cli_ca_actor(void)
{
	static char actor[96];
	struct passwd pwd, *pw = NULL;
	char buf[1024];

	if (getpwuid_r(getuid(), &pwd, buf, sizeof(buf), &pw) != 0)
		pw = NULL;
	if (pw != NULL)
		snprintf(actor, sizeof(actor), "cli:%s", pw->pw_name);
	else
		snprintf(actor, sizeof(actor), "cli:uid=%ld", (long)getuid());
	return actor;
}

void
cli_ca_opts_init(struct cli_ca_opts *o, struct ca_issue_req *q)
{
	memset(o, 0, sizeof(*o));
	o->td = CA_DEFAULT_TRUST_DOMAIN;
	o->q = q;
	if (q != NULL) {
		memset(q, 0, sizeof(*q));
		q->dns = o->dns;
	}
}

int
cli_ca_opt(const char *cmd, int ch, const char *arg, struct cli_ca_opts *o,
    int *rc)
{
	struct ca_issue_req *q = o->q;

	switch (ch) {
	case 'K':
		o->kek = arg;
		return 0;
	case 'T':
		o->td = arg;
		return 0;
	case 'o':
		o->out = arg;
		return 0;
	case 'h':
		*rc = cli_help_cmd(cmd);
		return -1;
	}
	/* The identity options: getopt_long() returns them only to the
	 * commands whose tables have CLI_CA_LONGOPTS_IDENTITY. */
	if (q == NULL || arg == NULL)
		goto usage;
	switch (ch) {
	case 'i':
		q->spiffe_id = arg;
		return 0;
	case 'n':
		q->ns = arg;
		return 0;
	case 's':
		q->sa = arg;
		return 0;
	case 't':
		if (cli_parse_duration(arg, &q->ttl) == -1) {
			cli_warnx("%s: --ttl %s: expected a duration such as "
			    "24h or 90d", cmd, arg);
			goto usage;
		}
		return 0;
	case 'd':
		if (q->ndns == CA_SIGN_MAX_DNS) {
			cli_warnx("%s: at most %d --dns names", cmd,
			    CA_SIGN_MAX_DNS);
			goto usage;
		}
		o->dns[q->ndns++] = arg;
		return 0;
	}
usage:
	*rc = cli_usage_cmd(cmd);
	return -1;
}

bool
cli_ca_is_one_identity(const struct ca_issue_req *q)
{
	if (q->spiffe_id != NULL)
		return q->ns == NULL && q->sa == NULL;
	return q->ns != NULL && q->sa != NULL;
}

bool
cli_ca_has_identity(const struct ca_issue_req *q)
{
	return q->spiffe_id != NULL || q->ns != NULL || q->sa != NULL;
}
