/*
 * main.c: the meshca(1) command line. Parses the global options that come
 * before the command name, finds the command in the table below and hands
 * it the rest of argv; each command parses its own options with
 * getopt_long. The argument vector is trusted only to be NUL-terminated
 * strings; everything else about it is checked.
 *
 * Adding a command: write cli/cmd_X.c defining cli_cmd_X(), declare it in
 * cli/cli.h, add one line to cmds[] below and its line to the SYNOPSIS of
 * man/meshca.1 (tests/cli checks that the two agree).
 */
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

static const struct cli_cmd cmds[] = {
	{ "id", cli_cmd_id, "spiffe-id",
	    "check a SPIFFE ID and print its trust domain and path" },
	{ "verify", cli_cmd_verify,
	    "--bundle bundle [--id spiffe-id] ... [--trust-domain td] "
	    "[--crl crl] ... [--at time] chain",
	    "verify an X.509-SVID chain and print its SPIFFE ID" },
	/* CA commands (init, issue, sign, revoke, list, show, crl, bundle,
	 * rotate-root) go here, one line each. */
	{ "init", cli_cmd_init, "[--trust-domain td] [--key-type type] "
	    "[--lifetime duration] [--kek path] [--import dir]",
	    "create the CA database, its KEK and a root (or import a CA)" },
	{ "issue", cli_cmd_issue, "[--id spiffe-id | --ns namespace --sa "
	    "account | --batch file] [--ttl duration] [--key-type type] "
	    "[--dns name] ... [--trust-domain td] [--kek path] --out-dir dir",
	    "issue X.509-SVIDs with new keys and record them" },
	{ "sign", cli_cmd_sign, "[--id spiffe-id | --ns namespace --sa "
	    "account] [--ttl duration] [--dns name] ... [--trust-domain td] "
	    "[--kek path] [--out file] csr",
	    "issue an X.509-SVID for the key of a CSR" },
	{ "revoke", cli_cmd_revoke, "[--reason reason] [--ca-namespace ns] "
	    "[--wait[=seconds]] [--timeout seconds] serial | --id spiffe-id",
	    "revoke a certificate, or every live one of an identity" },
	{ "list", cli_cmd_list, "[--status active | superseded | revoked] "
	    "[--ns namespace] [--id spiffe-id] [--expiring-before time]",
	    "list the certificates the ledger records" },
	{ "show", cli_cmd_show, "[--pem] serial",
	    "print every recorded field of one certificate" },
	{ "crl", cli_cmd_crl, "[--validity duration] [--trust-domain td] "
	    "[--kek path] [--out file]",
	    "sign and print the certificate revocation lists" },
	{ "bundle", cli_cmd_bundle, "[--format pem | spiffe] [--trust-domain td]",
	    "print the trust bundle" },
	{ "rotate-root", cli_cmd_rotate_root, "--prepare | --activate | "
	    "--retire [--force] [--key-type type] [--lifetime duration] "
	    "[--trust-domain td] [--kek path]",
	    "one stage of a staged root rotation" },
};

#define NCMDS (sizeof(cmds) / sizeof(cmds[0]))

/* The synopsis lines that are not commands, after the first line. */
#define USAGE_GLOBAL "[--db path] [--json] [--kubeconfig path " \
    "[--context name] | --in-cluster] command [arg ...]"
#define USAGE_HELP "[command]"
#define USAGE_META "--help | --version"

/* Usage lines wrap before this column. */
#define CLI_USAGE_COLS 79

/* Longest "meshca NAME" given to a command as its argv[0]. */
#define CLI_ARGV0_MAX 64

static const struct cli_cmd *
find_cmd(const char *name)
{
	size_t i;

	for (i = 0; i < NCMDS; i++)
		if (strcmp(cmds[i].name, name) == 0)
			return &cmds[i];
	return NULL;
}

void
cli_warnx(const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);
	fputs("meshca: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

void
cli_warn_lib(const char *cmd, const char *object, enum meshca_status st,
    const struct meshca_error *err)
{
	const char *what;

	what = err->reason != MESHCA_REASON_NONE ?
	    meshca_strreason(err->reason) :
	    meshca_strerror(st);
	if (err->message[0] == '\0')
		cli_warnx("%s: %s%s%s", cmd, object != NULL ? object : "",
		    object != NULL ? ": " : "", what);
	else
		cli_warnx("%s: %s%s%s: %s", cmd, object != NULL ? object : "",
		    object != NULL ? ": " : "", what, err->message);
}

int
cli_exit_for(enum meshca_status st)
{
	switch (st) {
	case MESHCA_OK:
		return CLI_EXIT_OK;
	case MESHCA_ERR_PARSE:
	case MESHCA_ERR_REJECTED:
		return CLI_EXIT_REJECTED;
	case MESHCA_ERR_USAGE:
	case MESHCA_ERR_IO:
		return CLI_EXIT_USAGE;
	case MESHCA_ERR_NOMEM:
	case MESHCA_ERR_INTERNAL:
		break;
	}
	return CLI_EXIT_INTERNAL;
}

/*
 * Prints one synopsis line, "LEADmeshca NAME ARGS" (NAME may be ""),
 * wrapped before 80 columns between words (never inside "[...]"),
 * continuation lines indented to where ARGS start, as in meshca(1).
 */
static void
print_synopsis(FILE *f, const char *lead, const char *name, const char *args)
{
	const char *p = args, *end;
	size_t col, indent, len;
	int depth;

	fprintf(f, "%smeshca%s%s", lead, *name != '\0' ? " " : "", name);
	col = strlen(lead) + strlen("meshca");
	if (*name != '\0')
		col += 1 + strlen(name);
	indent = col + 1;
	while (*p != '\0') {
		while (*p == ' ')
			p++;
		if (*p == '\0')
			break;
		/* A word, or a bracketed group with its spaces. */
		for (end = p, depth = 0; *end != '\0'; end++) {
			if (*end == '[')
				depth++;
			else if (*end == ']')
				depth--;
			else if (*end == ' ' && depth <= 0)
				break;
		}
		len = (size_t)(end - p);
		if (col + 1 + len > CLI_USAGE_COLS && col > indent) {
			fprintf(f, "\n%*s", (int)indent, "");
			col = indent;
		} else {
			fputc(' ', f);
			col++;
		}
		fprintf(f, "%.*s", (int)len, p);
		col += len;
		p = end;
	}
	fputc('\n', f);
}

/*
 * The whole usage text; its lines are, in order, the lines of the
 * SYNOPSIS of meshca(1).
 */
static void
usage_all(FILE *f)
{
	size_t i;

	print_synopsis(f, "usage: ", "", USAGE_GLOBAL);
	for (i = 0; i < NCMDS; i++)
		print_synopsis(f, "       ", cmds[i].name, cmds[i].synopsis);
	print_synopsis(f, "       ", "help", USAGE_HELP);
	print_synopsis(f, "       ", "", USAGE_META);
}

static void
help_all(void)
{
	size_t i;

	usage_all(stdout);
	printf("\nglobal options:\n"
	       "  --db path    the CA database (CA commands); default "
	       "$MESHCA_DB, else\n"
	       "               /var/lib/meshca/meshca.db for root and\n"
	       "               ~/.local/share/meshca/meshca.db for others\n"
	       "  --json       machine-readable output on stdout\n"
	       "  --kubeconfig path\n"
	       "               revoke through the API of this cluster (a "
	       "file, or a ':'-list\n"
	       "               as in $KUBECONFIG, which is never read on "
	       "its own)\n"
	       "  --context name\n"
	       "               the kubeconfig context (default: its "
	       "current-context)\n"
	       "  --in-cluster revoke through the API as the Pod's service "
	       "account\n"
	       "\ncommands:\n");
	for (i = 0; i < NCMDS; i++)
		printf("  %-12s %s\n", cmds[i].name, cmds[i].summary);
	printf("  %-12s %s\n", "help", "describe a command");
	printf("\nexit status: 0 accepted, 1 rejected, 2 usage error or "
	       "unreadable input,\n3 internal error. See meshca(1).\n");
}

int
cli_usage_cmd(const char *name)
{
	const struct cli_cmd *c = find_cmd(name);

	if (c == NULL)
		usage_all(stderr);
	else
		print_synopsis(stderr, "usage: ", c->name, c->synopsis);
	return CLI_EXIT_USAGE;
}

int
cli_help_cmd(const char *name)
{
	const struct cli_cmd *c = find_cmd(name);

	if (c == NULL) {
		cli_warnx("help: no such command: %s", name);
		return cli_usage_cmd("");
	}
	print_synopsis(stdout, "usage: ", c->name, c->synopsis);
	printf("%s\n", c->summary);
	return CLI_EXIT_OK;
}

/*
 * The cluster options: only revoke goes through the API (the other
 * commands work on a local ledger or on files, and must not seem to act
 * on a cluster they ignore), and from exactly one configuration.
 */
static int
check_cluster(const struct cli_global *g, const struct cli_cmd *c)
{
	if (g->kubeconfig == NULL && !g->in_cluster) {
		if (g->context == NULL)
			return CLI_EXIT_OK;
		cli_warnx("--context needs --kubeconfig");
	} else if (strcmp(c->name, "revoke") != 0)
		cli_warnx("%s: works on the local ledger and files only; "
		    "--kubeconfig and --in-cluster are for revoke", c->name);
	else if (g->kubeconfig != NULL && g->in_cluster)
		cli_warnx("--kubeconfig and --in-cluster exclude each other");
	else if (g->in_cluster && g->context != NULL)
		cli_warnx("--context needs --kubeconfig");
	else if (g->kubeconfig != NULL && g->kubeconfig[0] == '\0')
		cli_warnx("--kubeconfig: empty path (to use $KUBECONFIG, write "
		    "--kubeconfig \"$KUBECONFIG\")");
	else if (g->db != NULL)
		cli_warnx("%s: --db and the cluster options exclude each "
		    "other", c->name);
	else
		return CLI_EXIT_OK;
	return cli_usage_cmd(c->name);
}

static int
run_help(int argc, char *argv[])
{
	if (argc == 1) {
		help_all();
		return CLI_EXIT_OK;
	}
	if (argc != 2) {
		cli_warnx("help: takes at most one command name");
		return cli_usage_cmd("");
	}
	return cli_help_cmd(argv[1]);
}

int
main(int argc, char *argv[])
{
	static const struct option longopts[] = {
		{ "db", required_argument, NULL, 'd' },
		{ "json", no_argument, NULL, 'j' },
		{ "kubeconfig", required_argument, NULL, 'k' },
		{ "context", required_argument, NULL, 'c' },
		{ "in-cluster", no_argument, NULL, 'C' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	struct cli_global g = { NULL, false, NULL, NULL, false };
	const struct cli_cmd *c;
	char argv0[CLI_ARGV0_MAX];
	int ch, rc;

	/*
	 * "+": stop at the command name, so that the command's own options
	 * are left for the command.
	 */
	while ((ch = getopt_long(argc, argv, "+hV", longopts, NULL)) != -1) {
		switch (ch) {
		case 'd':
			/* Accepted now; read by the CA commands. */
			g.db = optarg;
			break;
		case 'j':
			g.json = true;
			break;
		case 'k':
			g.kubeconfig = optarg;
			break;
		case 'c':
			g.context = optarg;
			break;
		case 'C':
			g.in_cluster = true;
			break;
		case 'h':
			help_all();
			return CLI_EXIT_OK;
		case 'V':
			printf("meshca %s\n", PACKAGE_VERSION);
			return CLI_EXIT_OK;
		default:
			usage_all(stderr);
			return CLI_EXIT_USAGE;
		}
	}
	argc -= optind;
	argv += optind;
	if (argc == 0) {
		cli_warnx("no command given");
		usage_all(stderr);
		return CLI_EXIT_USAGE;
	}
	if (strcmp(argv[0], "help") == 0)
		return run_help(argc, argv);
	if ((c = find_cmd(argv[0])) == NULL) {
		cli_warnx("unknown command: %s", argv[0]);
		usage_all(stderr);
		return CLI_EXIT_USAGE;
	}
	if ((rc = check_cluster(&g, c)) != CLI_EXIT_OK)
		return rc;

	/*
	 * Let the command's getopt_long start afresh: glibc and musl both
	 * re-initialize their scanner when optind is 0 (plain optind = 1
	 * would keep state from the scan above).
	 */
	snprintf(argv0, sizeof(argv0), "meshca %s", c->name);
	argv[0] = argv0;
	optind = 0;
	rc = c->run(argc, argv, &g);
	if (fflush(stdout) == EOF || ferror(stdout)) {
		cli_warnx("stdout: write error");
		if (rc == CLI_EXIT_OK)
			rc = CLI_EXIT_INTERNAL;
	}
	return rc;
}
