/*
 * db.c: opening the ledger and running transactions (see db.h). Trusts
 * nothing about the file it is given: it may be missing, foreign,
 * corrupt, locked by another process or on a full disk, and each case
 * gets its own message naming the file.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>

#include "common/alloc.h"
#include "common/status.h"
#include "store/db.h"
#include "store/migrate.h"

struct store_db {
	sqlite3 *sq;
	char *path;
	int busy_ms;
	int depth; /* transaction nesting: 0 outside, 1 in BEGIN, >1 savepoint */
	sqlite3_stmt *stmts[STORE_SLOT_MAX];
};

void
store_sqlite_error(struct store_db *db, int rc, struct mc_err *e,
    const char *what)
{
	store_sqlite_error_at(db != NULL ? db->sq : NULL,
	    db != NULL ? db->path : "ledger",
	    db != NULL ? db->busy_ms : STORE_BUSY_TIMEOUT_MS, rc, e, what);
}

void
store_sqlite_error_at(struct sqlite3 *sq, const char *path, int busy_ms,
    int rc, struct mc_err *e, const char *what)
{
	const char *detail = sq != NULL ? sqlite3_errmsg(sq) : sqlite3_errstr(rc);
	int sys;

	switch (rc & 0xff) {
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		mc_err_set(e, MC_ST_IO, 0, "ledger %s: %s: database is locked "
		    "by another process (waited %d ms)", path, what, busy_ms);
		break;
	case SQLITE_FULL:
		mc_err_set(e, MC_ST_IO, 0, "ledger %s: %s: disk full, nothing "
		    "was written", path, what);
		break;
	case SQLITE_NOTADB:
		mc_err_set(e, MC_ST_PARSE, 0, "ledger %s: not a sqlite "
		    "database", path);
		break;
	case SQLITE_CORRUPT:
		mc_err_set(e, MC_ST_PARSE, 0, "ledger %s: %s: database file "
		    "is corrupt (%s)", path, what, detail);
		break;
	case SQLITE_CONSTRAINT:
		mc_err_set(e, MC_ST_REJECTED, 0, "ledger %s: %s: %s", path,
		    what, detail);
		break;
	case SQLITE_NOMEM:
		mc_err_set(e, MC_ST_NOMEM, 0, "ledger %s: %s: out of memory",
		    path, what);
		break;
	case SQLITE_IOERR:
		/* sqlite says "disk I/O error" when a write of the WAL or
		 * shared-memory file finds no space; name it. */
		if (sq != NULL && sqlite3_system_errno(sq) == ENOSPC) {
			mc_err_set(e, MC_ST_IO, 0, "ledger %s: %s: disk full, "
			    "nothing was written", path, what);
			break;
		}
		/* FALLTHROUGH */
	case SQLITE_CANTOPEN:
	case SQLITE_READONLY:
	case SQLITE_PERM:
		/* "unable to open database file" says neither why nor
		 * which limit: name the system error (EMFILE, EACCES...). */
		sys = sq != NULL ? sqlite3_system_errno(sq) : 0;
		if (sys != 0)
			mc_err_set(e, MC_ST_IO, 0, "ledger %s: %s: %s (%s)",
			    path, what, detail, strerror(sys));
		else
			mc_err_set(e, MC_ST_IO, 0, "ledger %s: %s: %s", path,
			    what, detail);
		break;
	default:
		mc_err_set(e, MC_ST_INTERNAL, 0, "ledger %s: %s: %s", path,
		    what, detail);
		break;
	}
}

static int
store_exec(struct store_db *db, const char *sql, const char *what,
    struct mc_err *e)
{
	int rc;

	if ((rc = sqlite3_exec(db->sq, sql, NULL, NULL, NULL)) != SQLITE_OK) {
		store_sqlite_error(db, rc, e, what);
		return -1;
	}
	return 0;
}

/*
 * Creates the file 0600 before sqlite sees it, so the ledger is never
 * readable by others even for an instant; sqlite gives its -wal and -shm
 * files the mode of the database file.
 */
static int
store_precreate(const char *path, int flags, struct mc_err *e)
{
	struct stat st;
	int fd;

	if (stat(path, &st) == 0) {
		if (!S_ISREG(st.st_mode)) {
			mc_err_set(e, MC_ST_IO, 0, "ledger %s: not a regular "
			    "file", path);
			return -1;
		}
		return 0;
	}
	if (errno != ENOENT) {
		mc_err_set(e, MC_ST_IO, 0, "ledger %s: %s", path,
		    strerror(errno));
		return -1;
	}
	if ((flags & STORE_CREATE) == 0) {
		mc_err_set(e, MC_ST_IO, 0, "ledger %s: no such file (create "
		    "it with meshca init)", path);
		return -1;
	}
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd == -1 && errno != EEXIST) {
		mc_err_set(e, MC_ST_IO, 0, "ledger %s: cannot create: %s",
		    path, strerror(errno));
		return -1;
	}
	if (fd != -1)
		close(fd);
	return 0;
}

int
store_open(const char *path, int flags, struct store_db **out,
    struct mc_err *e)
{
	struct store_db *db = NULL;
	sqlite3_stmt *st = NULL;
	int rc, ret = -1;

	if (path == NULL || out == NULL) {
		mc_err_set(e, MC_ST_USAGE, 0, "ledger: no path given");
		return -1;
	}
	if (store_precreate(path, flags, e) == -1)
		return -1;
	if ((db = mc_calloc(1, sizeof(*db))) == NULL ||
	    (db->path = mc_strdup(path)) == NULL) {
		mc_err_set(e, MC_ST_NOMEM, 0, "ledger %s: out of memory", path);
		goto out;
	}
	rc = sqlite3_open_v2(path, &db->sq, SQLITE_OPEN_READWRITE |
	    SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_EXRESCODE, NULL);
	if (rc != SQLITE_OK) {
		store_sqlite_error(db, rc, e, "open");
		goto out;
	}
	db->busy_ms = STORE_BUSY_TIMEOUT_MS;
	sqlite3_busy_timeout(db->sq, db->busy_ms);
	/* Reading the header is what tells a database from a foreign file. */
	rc = sqlite3_prepare_v2(db->sq, "PRAGMA journal_mode=WAL", -1, &st,
	    NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_step(st);
	if (rc != SQLITE_ROW) {
		store_sqlite_error(db, rc, e, "set WAL mode");
		goto out;
	}
	if (sqlite3_stricmp((const char *)sqlite3_column_text(st, 0),
	    "wal") != 0) {
		mc_err_set(e, MC_ST_IO, 0, "ledger %s: cannot use WAL mode "
		    "(journal mode %s)", path, sqlite3_column_text(st, 0));
		goto out;
	}
	sqlite3_finalize(st);
	st = NULL;
	/* FULL: a committed issuance survives power loss, not only kill -9. */
	if (store_exec(db, "PRAGMA foreign_keys=ON; PRAGMA synchronous=FULL;",
	    "configure", e) == -1)
		goto out;
	if (store_migrate(db->sq, path, e) == -1)
		goto out;
	*out = db;
	db = NULL;
	ret = 0;
out:
	sqlite3_finalize(st);
	store_close(db);
	return ret;
}

void
store_close(struct store_db *db)
{
	size_t i;

	if (db == NULL)
		return;
	for (i = 0; i < STORE_SLOT_MAX; i++)
		sqlite3_finalize(db->stmts[i]);
	if (db->sq != NULL) {
		if (!sqlite3_get_autocommit(db->sq))
			sqlite3_exec(db->sq, "ROLLBACK", NULL, NULL, NULL);
		sqlite3_close(db->sq);
	}
	mc_free(db->path);
	mc_free(db);
}

void
store_set_busy_timeout(struct store_db *db, int ms)
{
	db->busy_ms = ms;
	sqlite3_busy_timeout(db->sq, ms);
}

const char *
store_path(const struct store_db *db)
{
	return db->path;
}

struct sqlite3 *
store_handle(struct store_db *db)
{
	return db->sq;
}

struct sqlite3_stmt *
store_stmt(struct store_db *db, enum store_slot slot, const char *sql,
    struct mc_err *e)
{
	int rc;

	if (db->stmts[slot] != NULL)
		return db->stmts[slot];
	rc = sqlite3_prepare_v3(db->sq, sql, -1, SQLITE_PREPARE_PERSISTENT,
	    &db->stmts[slot], NULL);
	if (rc != SQLITE_OK) {
		store_sqlite_error(db, rc, e, "prepare");
		db->stmts[slot] = NULL;
		return NULL;
	}
	return db->stmts[slot];
}

int
store_stmt_step(struct store_db *db, struct sqlite3_stmt *st,
    const char *what, struct mc_err *e)
{
	int rc;

	if ((rc = sqlite3_step(st)) != SQLITE_DONE) {
		store_sqlite_error(db, rc, e, what);
		return -1;
	}
	return 0;
}

int
store_stmt_rows(struct store_db *db, struct sqlite3_stmt *st,
    const char *what, store_row_cb cb, void *arg, struct mc_err *e)
{
	int rc;

	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		if (cb(st, arg, e) == -1)
			return -1;
	if (rc != SQLITE_DONE) {
		store_sqlite_error(db, rc, e, what);
		return -1;
	}
	return 0;
}

int
store_row_int64(struct sqlite3_stmt *st, void *arg, struct mc_err *e)
{
	*(int64_t *)arg = sqlite3_column_int64(st, 0);
	return 0;
}

void
store_stmt_reset(struct sqlite3_stmt *st)
{
	if (st != NULL) {
		sqlite3_reset(st);
		sqlite3_clear_bindings(st);
	}
}

int
store_begin(struct store_db *db, struct mc_err *e)
{
	char sql[32];

	if (db->depth == 0) {
		if (store_exec(db, "BEGIN IMMEDIATE", "begin transaction",
		    e) == -1)
			return -1;
	} else {
		snprintf(sql, sizeof(sql), "SAVEPOINT sp%d", db->depth);
		if (store_exec(db, sql, "savepoint", e) == -1)
			return -1;
	}
	db->depth++;
	return 0;
}

int
store_commit(struct store_db *db, struct mc_err *e)
{
	char sql[32];

	if (db->depth <= 0) {
		mc_err_set(e, MC_ST_INTERNAL, 0, "ledger %s: commit outside "
		    "a transaction", db->path);
		return -1;
	}
	if (db->depth == 1) {
		if (store_exec(db, "COMMIT", "commit", e) == -1) {
			store_rollback(db);
			return -1;
		}
		db->depth = 0;
		return 0;
	}
	snprintf(sql, sizeof(sql), "RELEASE sp%d", db->depth - 1);
	if (store_exec(db, sql, "release savepoint", e) == -1) {
		store_rollback(db);
		return -1;
	}
	db->depth--;
	return 0;
}

void
store_rollback(struct store_db *db)
{
	char sql[64];

	if (db->depth <= 0)
		return;
	db->depth--;
	if (db->depth == 0) {
		if (!sqlite3_get_autocommit(db->sq))
			sqlite3_exec(db->sq, "ROLLBACK", NULL, NULL, NULL);
		return;
	}
	snprintf(sql, sizeof(sql), "ROLLBACK TO sp%d; RELEASE sp%d",
	    db->depth, db->depth);
	sqlite3_exec(db->sq, sql, NULL, NULL, NULL);
}

int
store_integrity_check(struct store_db *db, struct mc_err *e)
{
	sqlite3_stmt *st = NULL;
	const char *r;
	int rc, ret = -1;

	rc = sqlite3_prepare_v2(db->sq, "PRAGMA integrity_check", -1, &st,
	    NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_step(st);
	if (rc != SQLITE_ROW) {
		store_sqlite_error(db, rc, e, "integrity check");
		goto out;
	}
	r = (const char *)sqlite3_column_text(st, 0);
	if (r == NULL || strcmp(r, "ok") != 0) {
		mc_err_set(e, MC_ST_PARSE, 0, "ledger %s: integrity check: %s",
		    db->path, r != NULL ? r : "no answer");
		goto out;
	}
	ret = 0;
out:
	sqlite3_finalize(st);
	return ret;
}

int
store_schema_version(struct store_db *db, int *version, struct mc_err *e)
{
	sqlite3_stmt *st = NULL;
	int rc, ret = -1;

	rc = sqlite3_prepare_v2(db->sq, "PRAGMA user_version", -1, &st, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_step(st);
	if (rc != SQLITE_ROW) {
		store_sqlite_error(db, rc, e, "read schema version");
		goto out;
	}
	*version = sqlite3_column_int(st, 0);
	ret = 0;
out:
	sqlite3_finalize(st);
	return ret;
}
