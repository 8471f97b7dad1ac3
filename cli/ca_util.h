/*
 * ca_util.h: what the CA commands of meshca(1) (init, issue, revoke,
 * crl, bundle) share: where the ledger and the KEK live, opening them,
 * durations, writing output files with the right modes, and the actor
 * recorded in the audit log.
 */
#ifndef CLI_CA_UTIL_H
#define CLI_CA_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <getopt.h>
#include <jansson.h>

#include "ca/issue.h"
#include "ca/kek.h"
#include "cli/cli.h"
#include "common/err.h"
#include "store/db.h"

/* The ledger of root when neither --db nor $MESHCA_DB is given; other
 * users get $XDG_DATA_HOME (or ~/.local/share) + CLI_DB_USER. */
#define CLI_DB_SYSTEM "/var/lib/meshca/meshca.db"
#define CLI_DB_USER "/meshca/meshca.db"

/*
 * The ledger path: --db, else $MESHCA_DB, else CLI_DB_SYSTEM for root
 * and the per-user path for others (meshca(1) FILES). Borrowed: a static
 * buffer, valid for the life of the process.
 */
const char *cli_ca_db_path(const struct cli_global *g);

/* The KEK path: kek if given, else the ledger path plus ".kek". */
void cli_ca_kek_path(const struct cli_global *g, const char *kek, char *out,
    size_t len);

/*
 * Opens the ledger (creating it when create) and, unless kek_out is NULL,
 * loads the KEK (creating it too when create, it is missing and the
 * ledger did not exist before).
 * Reports failures as "meshca: CMD: ..." and returns a CLI_EXIT_* value.
 */
int cli_ca_open(const char *cmd, const struct cli_global *g,
    const char *kek, bool create, struct store_db **db,
    struct ca_kek *kek_out);

/* Reports an internal error e as "meshca: CMD: MESSAGE" and returns the
 * exit status its status maps to. */
int cli_ca_fail(const char *cmd, const struct mc_err *e);

/* Parses "90", "90s", "15m", "24h", "90d", "10y" into seconds (> 0). */
int cli_parse_duration(const char *s, int64_t *out);

/* -1 (MC_ST_REJECTED) when dir/name (dir NULL: name) exists and is not
 * a regular file, a symbolic link above all: nothing is written through
 * one. */
int cli_check_target(const char *dir, const char *name, struct mc_err *e);

/* Writes len bytes to dir/name (dir NULL: name) with mode, replacing the
 * file atomically (temporary file, fsync, rename), after
 * cli_check_target(). */
int cli_write_file(const char *dir, const char *name, const void *p,
    size_t len, mode_t mode, struct mc_err *e);

/* "cli:USER" for the audit log. */
const char *cli_ca_actor(void);

struct store_cert;

/* Writes t as an RFC 3339 UTC time ("2026-01-02T03:04:05Z") to out. */
void cli_fmt_time(int64_t t, char *out, size_t len);

/*
 * A ledger row as the JSON object of list and show (meshca(1) "JSON
 * OUTPUT"); NULL when out of memory. The caller owns it (json_decref).
 */
json_t *cli_cert_json(const struct store_cert *c);

/*
 * Prints o on stdout as one line of JSON and drops the reference (o may
 * be NULL: a failed json_pack()). Returns CLI_EXIT_OK, or
 * CLI_EXIT_INTERNAL after a message naming cmd.
 */
int cli_print_json(const char *cmd, json_t *o);

/*
 * The options meshca issue, sign and crl share (meshca(1)), as entries
 * of their getopt_long() tables, and what they set. Each command adds its
 * own 'o' entry (--out, or --out-dir for issue) and any others.
 */
#define CLI_CA_LONGOPTS_IDENTITY \
	{ "id", required_argument, NULL, 'i' }, \
	{ "ns", required_argument, NULL, 'n' }, \
	{ "sa", required_argument, NULL, 's' }, \
	{ "ttl", required_argument, NULL, 't' }, \
	{ "dns", required_argument, NULL, 'd' }
#define CLI_CA_LONGOPTS_COMMON \
	{ "kek", required_argument, NULL, 'K' }, \
	{ "trust-domain", required_argument, NULL, 'T' }, \
	{ "help", no_argument, NULL, 'h' }

struct cli_ca_opts {
	const char *kek;	/* --kek; NULL: beside the ledger */
	const char *td;		/* --trust-domain */
	const char *out;	/* 'o': --out or --out-dir; NULL if not given */
	struct ca_issue_req *q; /* what CLI_CA_LONGOPTS_IDENTITY sets */
	const char *dns[CA_SIGN_MAX_DNS]; /* q->dns points here */
};

/* Empties o: the default trust domain, no KEK or output path, and q (may
 * be NULL: the command takes no identity) cleared to receive --id ... */
void cli_ca_opts_init(struct cli_ca_opts *o, struct ca_issue_req *q);

/*
 * Takes option ch, as getopt_long() returned it, with its argument arg,
 * for command cmd: a shared option is recorded in o; 'h' prints cmd's
 * help; any other ch, a bad --ttl, one --dns too many, or an identity
 * option when o->q is NULL is a usage error, reported on stderr.
 * Returns 0 when the option was taken, -1 when the command is to return
 * *rc now.
 */
int cli_ca_opt(const char *cmd, int ch, const char *arg,
    struct cli_ca_opts *o, int *rc);

/* Whether q names one identity: --id alone, or --ns with --sa. */
bool cli_ca_is_one_identity(const struct ca_issue_req *q);

/* Whether q names any part of an identity (--id, --ns or --sa). */
bool cli_ca_has_identity(const struct ca_issue_req *q);

#endif /* CLI_CA_UTIL_H */
