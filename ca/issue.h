/*
 * issue.h: issuing leaf X.509-SVIDs: decide the identity and validity,
 * make the key (or take it from a CSR), have the signer sign, and record
 * the result in the ledger. This is what `meshca issue`, `meshca sign`
 * and the daemon call.
 *
 * A struct ca_issuer caches key generators and is meant for one thread;
 * the signer it uses may be shared by several issuers.
 */
#ifndef CA_ISSUE_H
#define CA_ISSUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ca/authority.h"
#include "ca/keygen.h"
#include "ca/signer.h"
#include "common/buf.h"
#include "common/err.h"
#include "store/db.h"

#define CA_LEAF_TTL_DEFAULT (24 * 3600LL)	 /* 24 hours */
#define CA_LEAF_TTL_MAX_DEFAULT (90 * 86400LL) /* 90 days */
#define CA_KEY_PEM_MAX 8192

struct ca_issue_limits {
	int64_t default_ttl;
	int64_t max_ttl;
	int64_t backdate; /* notBefore = now - backdate, for clock skew */
};

struct ca_issue_req {
	const char *spiffe_id;	/* either this ... */
	const char *ns;		/* ... or namespace and service account */
	const char *sa;
	const char *const *dns;
	size_t ndns;
	int64_t ttl; /* 0: the default */
	enum ca_key_type key_type;
	int64_t now;
};

struct ca_issued {
	char serial[CA_SERIAL_HEX];
	char *spiffe_id;
	char *ns; /* NULL unless the ID names a service account */
	char *sa;
	char *cert_pem;
	size_t cert_pem_len;
	struct mc_buf key_pem; /* secret; empty for a CSR */
	int64_t not_before;
	int64_t not_after;
	bool clamped;
};

struct ca_issuer;

/* authority_id is the ledger row of the signer's authority. The issuer
 * borrows signer; it must outlive the issuer. */
struct ca_issuer *ca_issuer_new(struct ca_signer *signer,
    int64_t authority_id, const struct ca_issue_limits *limits,
    struct mc_err *e);
void ca_issuer_free(struct ca_issuer *is);

/* Fills l with the defaults (24 h, 90 days, 5 minutes). */
void ca_issue_limits_default(struct ca_issue_limits *l);

/* Issues with a freshly generated key. */
int ca_issue_keypair(struct ca_issuer *is, const struct ca_issue_req *r,
    struct ca_issued *out, struct mc_err *e);

/* Issues for the key of a PEM CSR (see csr.h for what is refused). */
int ca_issue_csr(struct ca_issuer *is, const struct ca_issue_req *r,
    const char *csr_pem, size_t csr_len, struct ca_issued *out,
    struct mc_err *e);

/*
 * Records n issued certificates, one "issue" audit event each, in one
 * transaction; supersede says to mark older active certificates of the
 * same IDs superseded.
 */
int ca_issue_record(struct store_db *db, const struct ca_issuer *is,
    const struct ca_issued *v, size_t n, bool supersede, const char *actor,
    int64_t now, struct mc_err *e);

void ca_issued_clear(struct ca_issued *v);

#endif /* CA_ISSUE_H */
