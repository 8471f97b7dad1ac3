/*
 * cli.h: what the commands of meshca(1) share: the global options, the
 * exit statuses of the contract, the command table entry and the
 * diagnostics helpers. A new command is one cmd_X.c defining
 * cli_cmd_X() plus one line in the table in cli/main.c.
 */
#ifndef CLI_CLI_H
#define CLI_CLI_H

#include <stdbool.h>

#include <meshca/meshca.h>

/*
 * Exit statuses (meshca(1) EXIT STATUS; DESIGN.md "Contracts"): other
 * tools depend on these values.
 */
#define CLI_EXIT_OK 0	    /* accepted / done */
#define CLI_EXIT_REJECTED 1 /* the input was read and fails a rule */
#define CLI_EXIT_USAGE 2    /* bad arguments or unreadable input */
#define CLI_EXIT_INTERNAL 3 /* out of memory, a library failed */

/* Options given before the command name. */
struct cli_global {
	const char *db; /* --db PATH: the CA ledger (CA commands only) */
	bool json;	/* --json: machine-readable output on stdout */
	/* The cluster (revoke only; cli/kube.h): --kubeconfig PATH, its
	 * --context NAME, or --in-cluster. */
	const char *kubeconfig;
	const char *context;
	bool in_cluster;
};

/*
 * One command. run() gets argv with argv[0] set to "meshca NAME" (so
 * getopt_long's own messages name the command) and returns a
 * CLI_EXIT_* value. synopsis is the argument part of the usage line,
 * which must match the command's line in the SYNOPSIS of meshca(1).
 */
struct cli_cmd {
	const char *name;
	int (*run)(int argc, char *argv[], const struct cli_global *g);
	const char *synopsis;
	const char *summary;
};

int cli_cmd_id(int argc, char *argv[], const struct cli_global *g);
int cli_cmd_verify(int argc, char *argv[], const struct cli_global *g);
/* CA commands (cli/cmd_init.c, cmd_issue.c, cmd_sign.c, cmd_revoke.c,
 * cmd_crl.c, cmd_bundle.c, cmd_rotate_root.c, cmd_list.c, cmd_show.c;
 * shared plumbing in cli/ca_util.h). */
int cli_cmd_init(int argc, char *argv[], const struct cli_global *g);
int cli_cmd_issue(int argc, char *argv[], const struct cli_global *g);
int cli_cmd_sign(int argc, char *argv[], const struct cli_global *g);
int cli_cmd_revoke(int argc, char *argv[], const struct cli_global *g);
int cli_cmd_crl(int argc, char *argv[], const struct cli_global *g);
int cli_cmd_bundle(int argc, char *argv[], const struct cli_global *g);
int cli_cmd_rotate_root(int argc, char *argv[], const struct cli_global *g);
int cli_cmd_list(int argc, char *argv[], const struct cli_global *g);
int cli_cmd_show(int argc, char *argv[], const struct cli_global *g);

/* Prints "usage: meshca NAME SYNOPSIS" to stderr and returns
 * CLI_EXIT_USAGE, for a command's argument errors. */
int cli_usage_cmd(const char *name);

/* Prints the usage line and summary of a command to stdout and returns
 * CLI_EXIT_OK, for "meshca NAME --help" and "meshca help NAME". */
int cli_help_cmd(const char *name);

/* Prints "meshca: " and the formatted message and a newline to stderr. */
void cli_warnx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/*
 * Reports a library failure as "meshca: CMD: OBJECT: WHAT: MESSAGE",
 * WHAT being the reason's name (meshca_strreason()) when the library gave
 * one, else the status's, so scripts can match a stable word whatever
 * the message says. object may be NULL; err->message may be empty.
 */
void cli_warn_lib(const char *cmd, const char *object, enum meshca_status st,
    const struct meshca_error *err);

struct meshca_id;

/*
 * Prints id on stdout as one line of JSON, {"spiffe_id": ...,
 * "trust_domain": ..., "path": ...} (the --json output of id and verify).
 * Returns CLI_EXIT_OK, or CLI_EXIT_INTERNAL after a message naming cmd.
 */
int cli_print_id_json(const char *cmd, const struct meshca_id *id);

/* Maps a library status onto the exit status of the contract: parse and
 * rejection are 1, usage and io are 2, the rest internal. */
int cli_exit_for(enum meshca_status st);

#endif /* CLI_CLI_H */
