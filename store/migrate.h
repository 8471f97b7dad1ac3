/*
 * migrate.h: the ledger schema and its forward migrations. The version
 * lives in PRAGMA user_version; PRAGMA application_id marks the file as
 * meshca's, so another application's database is refused, not altered.
 */
#ifndef STORE_MIGRATE_H
#define STORE_MIGRATE_H

#include "common/err.h"

struct sqlite3;

/* The version this build's schema is at. */
#define STORE_SCHEMA_VERSION 1

/* PRAGMA application_id of a meshca ledger: "mCA1". */
#define STORE_APPLICATION_ID 0x6d434131

/*
 * Brings the schema of an open connection up to STORE_SCHEMA_VERSION in
 * one transaction (all steps or none). A file with tables but no meshca
 * application_id, or with a version newer than this build, is refused
 * with MC_ST_REJECTED.
 */
int store_migrate(struct sqlite3 *sq, const char *path, struct mc_err *e);

#endif /* STORE_MIGRATE_H */
