/*
 * migrate.c: the ledger schema, as a list of forward migrations applied
 * in order inside one transaction, so a file is always at one version or
 * the next, never between. Trusts the connection (db.c opened it) but not
 * the file: a database that another application made, or a newer meshca,
 * is refused before anything is written.
 */
#include <stdio.h>

#include <sqlite3.h>

#include "common/status.h"
#include "store/db.h"
#include "store/migrate.h"

/*
 * Version N of the schema is reached by running migrations[N - 1].
 * Never edit a released step: append a new one.
 */
static const char *const migrations[] = {
	/* 1: authorities, issued certificates, CRL numbers, audit events. */
	"CREATE TABLE authorities ("
	"  id INTEGER PRIMARY KEY,"
	"  trust_domain TEXT NOT NULL,"
	"  cert_pem TEXT NOT NULL,"
	"  chain_pem TEXT NOT NULL DEFAULT '',"
	"  root_pem TEXT NOT NULL,"
	"  key_blob BLOB,"
	/*
	 * prepared: in the bundle, not signing yet; active: signing;
	 * retiring: in the bundle, no longer signing, leaves still valid;
	 * retired: out of the bundle.
	 */
	"  state TEXT NOT NULL CHECK (state IN"
	"    ('prepared', 'active', 'retiring', 'retired')),"
	"  not_after INTEGER NOT NULL,"
	"  created_at INTEGER NOT NULL);"
	"CREATE UNIQUE INDEX authorities_one_active ON authorities"
	"  (trust_domain) WHERE state = 'active';"
	"CREATE TABLE certificates ("
	"  serial TEXT PRIMARY KEY,"
	"  spiffe_id TEXT NOT NULL,"
	"  namespace TEXT,"
	"  service_account TEXT,"
	"  not_before INTEGER NOT NULL,"
	"  not_after INTEGER NOT NULL,"
	"  issued_at INTEGER NOT NULL,"
	"  authority_id INTEGER NOT NULL REFERENCES authorities (id),"
	"  cert_pem TEXT NOT NULL,"
	"  status TEXT NOT NULL DEFAULT 'active' CHECK (status IN"
	"    ('active', 'superseded', 'revoked')),"
	"  revoked_at INTEGER,"
	"  reason INTEGER,"
	"  CHECK ((status = 'revoked') = (revoked_at IS NOT NULL)));"
	"CREATE INDEX certificates_live ON certificates (spiffe_id, not_after)"
	"  WHERE status = 'active';"
	"CREATE INDEX certificates_expiry ON certificates (not_after);"
	"CREATE INDEX certificates_by_authority ON certificates"
	"  (authority_id, not_after);"
	"CREATE INDEX certificates_revoked ON certificates"
	"  (authority_id, not_after) WHERE status = 'revoked';"
	"CREATE TABLE crl_numbers ("
	"  authority_id INTEGER PRIMARY KEY REFERENCES authorities (id),"
	"  number INTEGER NOT NULL,"
	"  issued_at INTEGER NOT NULL);"
	"CREATE TABLE events ("
	"  id INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  at INTEGER NOT NULL,"
	"  kind TEXT NOT NULL,"
	"  actor TEXT NOT NULL,"
	"  subject TEXT NOT NULL DEFAULT '',"
	"  details TEXT NOT NULL DEFAULT '');"
	"CREATE INDEX events_by_kind ON events (kind, at);"
	/* The audit log is append-only: the database itself says no. */
	"CREATE TRIGGER events_no_update BEFORE UPDATE ON events"
	"  BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END;"
	"CREATE TRIGGER events_no_delete BEFORE DELETE ON events"
	"  BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END;",
};

_Static_assert(sizeof(migrations) / sizeof(migrations[0]) ==
    STORE_SCHEMA_VERSION, "one migration per schema version");

static int
pragma_int(sqlite3 *sq, const char *sql, int *v)
{
	sqlite3_stmt *st = NULL;
	int rc;

	*v = 0;
	rc = sqlite3_prepare_v2(sq, sql, -1, &st, NULL);
	if (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		*v = sqlite3_column_int(st, 0);
		rc = SQLITE_OK;
	}
	sqlite3_finalize(st);
	return rc;
}

int
store_migrate(struct sqlite3 *sq, const char *path, struct mc_err *e)
{
	char sql[64];
	int rc, version = 0, appid = 0, ntables = 0, v;

	/*
	 * An up-to-date ledger needs no write lock: reading its version
	 * outside a write transaction lets readers (meshca list, show,
	 * bundle) open it while another connection holds the write lock,
	 * which WAL mode otherwise allows. Anything else takes the locked
	 * path below, which reads everything again.
	 */
	if (pragma_int(sq, "PRAGMA user_version", &version) == SQLITE_OK &&
	    pragma_int(sq, "PRAGMA application_id", &appid) == SQLITE_OK &&
	    version == STORE_SCHEMA_VERSION && appid == STORE_APPLICATION_ID)
		return 0;
	version = appid = 0;
	if ((rc = sqlite3_exec(sq, "BEGIN IMMEDIATE", NULL, NULL, NULL)) !=
	    SQLITE_OK) {
		store_sqlite_error_at(sq, path, STORE_BUSY_TIMEOUT_MS, rc, e,
		    "begin migration");
		return -1;
	}
	if ((rc = pragma_int(sq, "PRAGMA user_version", &version)) != SQLITE_OK ||
	    (rc = pragma_int(sq, "PRAGMA application_id", &appid)) !=
	    SQLITE_OK ||
	    (rc = pragma_int(sq, "SELECT count(*) FROM sqlite_schema",
	    &ntables)) != SQLITE_OK) {
		store_sqlite_error_at(sq, path, STORE_BUSY_TIMEOUT_MS, rc, e,
		    "read schema version");
		goto fail;
	}
	if (appid != STORE_APPLICATION_ID && (appid != 0 || ntables != 0 ||
	    version != 0)) {
		mc_err_set(e, MC_ST_REJECTED, 0, "ledger %s: a sqlite database "
		    "of another application (application_id 0x%08x), not a "
		    "meshca ledger", path, (unsigned)appid);
		goto fail;
	}
	if (version > STORE_SCHEMA_VERSION) {
		mc_err_set(e, MC_ST_REJECTED, 0, "ledger %s: schema version %d "
		    "is newer than this meshca understands (%d)", path, version,
		    STORE_SCHEMA_VERSION);
		goto fail;
	}
	for (v = version; v < STORE_SCHEMA_VERSION; v++) {
		if ((rc = sqlite3_exec(sq, migrations[v], NULL, NULL, NULL)) !=
		    SQLITE_OK) {
			store_sqlite_error_at(sq, path, STORE_BUSY_TIMEOUT_MS, rc, e,
			    "migrate schema");
			mc_err_prefix(e, "to version %d", v + 1);
			goto fail;
		}
	}
	if (version != STORE_SCHEMA_VERSION) {
		snprintf(sql, sizeof(sql), "PRAGMA user_version=%d; "
		    "PRAGMA application_id=%d", STORE_SCHEMA_VERSION,
		    STORE_APPLICATION_ID);
		if ((rc = sqlite3_exec(sq, sql, NULL, NULL, NULL)) !=
		    SQLITE_OK) {
			store_sqlite_error_at(sq, path, STORE_BUSY_TIMEOUT_MS, rc, e,
			    "set schema version");
			goto fail;
		}
	}
	if ((rc = sqlite3_exec(sq, "COMMIT", NULL, NULL, NULL)) != SQLITE_OK) {
		store_sqlite_error_at(sq, path, STORE_BUSY_TIMEOUT_MS, rc, e,
		    "commit migration");
		goto fail;
	}
	return 0;
fail:
	sqlite3_exec(sq, "ROLLBACK", NULL, NULL, NULL);
	return -1;
}
