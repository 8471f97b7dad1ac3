/*
 * crl.h: revocation and certificate revocation lists (RFC 5280 section
 * 5): v2 CRLs with a CRL number, thisUpdate/nextUpdate, the authority key
 * identifier and a reason code per entry, signed by the authority that
 * issued the certificates (which must have cRLSign).
 */
#ifndef CA_CRL_H
#define CA_CRL_H

#include <stddef.h>
#include <stdint.h>

#include "ca/authority.h"
#include "common/buf.h"
#include "common/err.h"
#include "store/db.h"

#define CA_CRL_VALIDITY_DEFAULT (24 * 3600LL)

/* RFC 5280 5.3.1 CRLReason names ("keyCompromise", ...) to codes; 7 is
 * unused by the RFC and refused. */
int ca_crl_reason_parse(const char *s, int *reason, struct mc_err *e);
const char *ca_crl_reason_name(int reason);

struct ca_crl_entry {
	const char *serial_hex;
	int64_t revoked_at;
	int reason;
};

/* Builds and signs a CRL over n entries; appends its PEM to out. */
int ca_crl_build(const struct ca_authority *a, const struct ca_crl_entry *v,
    size_t n, int64_t number, int64_t this_update, int64_t next_update,
    struct mc_buf *out, struct mc_err *e);

/* Revokes serial (reason as above) with an audit event, in one
 * transaction. MC_ST_REJECTED when unknown or already revoked. */
int ca_revoke(struct store_db *db, const char *serial, int reason,
    int64_t now, const char *actor, struct mc_err *e);

/*
 * Issues the next CRL of authority a from the ledger: every revoked,
 * unexpired certificate it signed, the next CRL number, valid from now
 * for validity seconds; recorded as an audit event. PEM appended to out.
 */
int ca_crl_issue(struct store_db *db, const struct ca_authority *a,
    int64_t now, int64_t validity, const char *actor, struct mc_buf *out,
    struct mc_err *e);

#endif /* CA_CRL_H */
