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

#include "ca/kek.h"
#include "cli/cli.h"
#include "common/err.h"
#include "store/db.h"

/* The ledger when --db is not given. */
#define CLI_DB_DEFAULT "meshca.db"

/* The ledger path of g (the default when --db was not given). */
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

/* Writes len bytes to dir/name (dir NULL: name) with mode, replacing the
 * file atomically (temporary file, fsync, rename). */
int cli_write_file(const char *dir, const char *name, const void *p,
    size_t len, mode_t mode, struct mc_err *e);

/* "cli:USER" for the audit log. */
const char *cli_ca_actor(void);

#endif /* CLI_CA_UTIL_H */
