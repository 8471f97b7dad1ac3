/*
 * certs.h: ledger rows for issued certificates and their revocation.
 * Serial numbers are lowercase hex strings; times are Unix seconds.
 */
#ifndef STORE_CERTS_H
#define STORE_CERTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/err.h"
#include "store/db.h"

enum store_cert_status {
	STORE_CERT_ACTIVE = 0,
	STORE_CERT_SUPERSEDED, /* replaced by a newer one; revoke later */
	STORE_CERT_REVOKED
};

/* One row; owned strings when it came from a query (store_cert_clear()),
 * borrowed when inserting. namespace_ and service_account may be NULL. */
struct store_cert {
	char *serial;
	char *spiffe_id;
	char *namespace_;
	char *service_account;
	int64_t not_before;
	int64_t not_after;
	int64_t issued_at;
	int64_t authority_id;
	char *cert_pem;
	enum store_cert_status status;
	int64_t revoked_at; /* 0 unless revoked */
	int reason;	    /* RFC 5280 CRLReason, when revoked */
};

const char *store_cert_status_name(enum store_cert_status s);

/* Inserts one row (status active). MC_ST_REJECTED for a duplicate serial
 * or an unknown authority. */
int store_cert_insert(struct store_db *db, const struct store_cert *c,
    struct mc_err *e);

/* Inserts n rows in one transaction (all or none). */
int store_cert_insert_batch(struct store_db *db, const struct store_cert *c,
    size_t n, struct mc_err *e);

/* Reads one certificate by serial; *found says whether it exists. */
int store_cert_get(struct store_db *db, const char *serial,
    struct store_cert *out, bool *found, struct mc_err *e);

/*
 * Marks serial revoked at time at with reason. MC_ST_REJECTED when it is
 * unknown or already revoked.
 */
int store_cert_revoke(struct store_db *db, const char *serial, int reason,
    int64_t at, struct mc_err *e);

/* Marks every active certificate of spiffe_id but keep_serial superseded;
 * *n receives how many. */
int store_cert_supersede(struct store_db *db, const char *spiffe_id,
    const char *keep_serial, size_t *n, struct mc_err *e);

/* Called for each row of a query; return -1 (setting e) to stop. The row
 * is borrowed for the duration of the call. */
typedef int (*store_cert_cb)(const struct store_cert *c, void *arg,
    struct mc_err *e);

/* Active certificates of spiffe_id not expired at now, newest first. */
int store_cert_live(struct store_db *db, const char *spiffe_id, int64_t now,
    store_cert_cb cb, void *arg, struct mc_err *e);

/* Active certificates whose notAfter is before t (renewal candidates). */
int store_cert_expiring(struct store_db *db, int64_t t, store_cert_cb cb,
    void *arg, struct mc_err *e);

/* Revoked certificates of authority_id not expired at now (CRL entries). */
int store_cert_revoked(struct store_db *db, int64_t authority_id,
    int64_t now, store_cert_cb cb, void *arg, struct mc_err *e);

/* How many certificates authority_id signed that are unexpired at now
 * (whatever their status: a revoked one still needs the CRL). */
int store_cert_count_unexpired(struct store_db *db, int64_t authority_id,
    int64_t now, int64_t *n, struct mc_err *e);

/*
 * What store_cert_query() selects; a NULL string, status < 0 or
 * expiring_before 0 leaves that filter out.
 */
struct store_cert_filter {
	int status;		 /* an enum store_cert_status, or -1 */
	const char *namespace_;	 /* exact namespace */
	const char *spiffe_id;	 /* exact SPIFFE ID */
	int64_t expiring_before; /* notAfter before this time */
};

/* Every certificate matching f, in order of issuance (the operator's
 * list and the crash tests' walk over the whole ledger). */
int store_cert_query(struct store_db *db, const struct store_cert_filter *f,
    store_cert_cb cb, void *arg, struct mc_err *e);

void store_cert_clear(struct store_cert *c);

#endif /* STORE_CERTS_H */
