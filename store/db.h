/*
 * db.h: the ledger database: one sqlite3 file in WAL mode, foreign keys
 * on, a busy timeout, the schema brought up to date on open (migrate.h).
 * store/ knows no certificates: it stores strings, blobs and integers.
 *
 * A struct store_db is one connection; use it from one thread at a time
 * (several connections to one file, in threads or processes, are fine:
 * sqlite serializes writers and the busy timeout waits for the lock).
 */
#ifndef STORE_DB_H
#define STORE_DB_H

#include <stdbool.h>
#include <stdint.h>

#include "common/err.h"

struct sqlite3;
struct sqlite3_stmt;
struct store_db;

/* How long a writer waits for another connection's lock, in ms. */
#define STORE_BUSY_TIMEOUT_MS 5000

/* store_open() flags. */
#define STORE_CREATE 0x1 /* create the file (0600) when it is missing */

/*
 * Opens the ledger at path and migrates its schema forward. Without
 * STORE_CREATE a missing file is an error. The file is created with mode
 * 0600 (O_CREAT|O_EXCL) before sqlite touches it. Errors (MC_ST_IO unless
 * said): missing file, not a database or corrupt (MC_ST_PARSE), a sqlite
 * database of another application or a newer meshca (MC_ST_REJECTED),
 * locked, disk full.
 */
int store_open(const char *path, int flags, struct store_db **out,
    struct mc_err *e);

/* Closes the connection (rolling back an open transaction); NULL is ok. */
void store_close(struct store_db *db);

/* Changes how long this connection waits for a lock (tests use short
 * waits; the default is STORE_BUSY_TIMEOUT_MS). */
void store_set_busy_timeout(struct store_db *db, int ms);

/* The file name given to store_open(); borrowed, valid until close. */
const char *store_path(const struct store_db *db);

/*
 * Transactions. store_begin() at depth 0 starts BEGIN IMMEDIATE (the
 * write lock is taken at once, so no later step fails on a lock
 * upgrade); nested calls open savepoints. Every store_begin() is paired
 * with exactly one store_commit() or store_rollback().
 */
int store_begin(struct store_db *db, struct mc_err *e);
int store_commit(struct store_db *db, struct mc_err *e);
void store_rollback(struct store_db *db);

/* Runs PRAGMA integrity_check; -1 with sqlite's first complaint. */
int store_integrity_check(struct store_db *db, struct mc_err *e);

/* The schema version the file is at (PRAGMA user_version). */
int store_schema_version(struct store_db *db, int *version, struct mc_err *e);

/*
 * For the units of store/ only: the connection, a cached prepared
 * statement for slot (prepared from sql on first use; callers reset it
 * and clear its bindings when done), and the translation of a sqlite
 * result code into e.
 */
enum store_slot {
	STORE_SLOT_AUTH_INSERT,
	STORE_SLOT_AUTH_SET_KEY,
	STORE_SLOT_AUTH_SET_STATE,
	STORE_SLOT_AUTH_GET,
	STORE_SLOT_AUTH_LIST,
	STORE_SLOT_CERT_INSERT,
	STORE_SLOT_CERT_GET,
	STORE_SLOT_CERT_REVOKE,
	STORE_SLOT_CERT_SUPERSEDE,
	STORE_SLOT_CERT_LIVE,
	STORE_SLOT_CERT_EXPIRING,
	STORE_SLOT_CERT_REVOKED,
	STORE_SLOT_CERT_COUNT_UNEXPIRED,
	STORE_SLOT_CERT_QUERY,
	STORE_SLOT_CRL_NEXT,
	STORE_SLOT_CRL_GET,
	STORE_SLOT_EVENT_APPEND,
	STORE_SLOT_EVENT_LIST,
	STORE_SLOT_MAX
};
struct sqlite3 *store_handle(struct store_db *db);
struct sqlite3_stmt *store_stmt(struct store_db *db, enum store_slot slot,
    const char *sql, struct mc_err *e);
void store_sqlite_error(struct store_db *db, int rc, struct mc_err *e,
    const char *what);
/* The same for a bare connection (the schema migration's): a locked
 * database, a full disk, corruption and the system's reason for a file
 * it could not open (EMFILE, EACCES) each named. */
void store_sqlite_error_at(struct sqlite3 *sq, const char *path,
    int busy_ms, int rc, struct mc_err *e, const char *what);

/*
 * The tails every statement of store/ shares (callers still reset the
 * statement with store_stmt_reset() when done, so they may read
 * sqlite3_changes() or the extended error code first):
 *  - store_stmt_step() runs a statement that returns no row; -1 with the
 *    error named after what when it does not finish;
 *  - store_stmt_rows() steps through the rows, calling cb on each while
 *    the statement is on it (column pointers are valid only during the
 *    call); -1 when cb fails (its error stands) or sqlite does.
 */
typedef int (*store_row_cb)(struct sqlite3_stmt *st, void *arg,
    struct mc_err *e);
int store_stmt_step(struct store_db *db, struct sqlite3_stmt *st,
    const char *what, struct mc_err *e);
int store_stmt_rows(struct store_db *db, struct sqlite3_stmt *st,
    const char *what, store_row_cb cb, void *arg, struct mc_err *e);
/* A store_row_cb that keeps the row's first column in *(int64_t *)arg. */
int store_row_int64(struct sqlite3_stmt *st, void *arg, struct mc_err *e);
/* Resets st and clears its bindings; NULL is ok. */
void store_stmt_reset(struct sqlite3_stmt *st);

#endif /* STORE_DB_H */
