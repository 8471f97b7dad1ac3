/*
 * authority.h: signing authorities. Either a self-signed root meshca
 * makes for a trust domain, or a plugged-in CA imported from Istio's
 * cacerts layout (ca-cert.pem, ca-key.pem, cert-chain.pem,
 * root-cert.pem), under which meshca signs as an intermediate. Saved in
 * the ledger with the key sealed under the KEK (kek.h).
 */
#ifndef CA_AUTHORITY_H
#define CA_AUTHORITY_H

#include <stdint.h>

#include <openssl/x509.h>

#include "ca/keygen.h"
#include "ca/kek.h"
#include "ca/signer.h"
#include "common/buf.h"
#include "common/err.h"
#include "store/authorities.h"
#include "store/db.h"

#define CA_DEFAULT_TRUST_DOMAIN "cluster.local"
#define CA_ROOT_LIFETIME_DEFAULT (10 * 365 * 86400LL) /* 10 years */
#define CA_CLOCK_SKEW_DEFAULT 300		       /* 5 minutes */

struct ca_authority {
	int64_t id; /* ledger row; 0 until saved */
	char *trust_domain;
	X509 *cert;		/* the signing certificate */
	EVP_PKEY *key;
	STACK_OF(X509) *chain; /* above cert, up to (not incl.) the root */
	X509 *root;		/* the trust anchor (cert itself for a root) */
	enum store_auth_state state;
	int64_t not_after;
};

/*
 * Makes a self-signed root for trust_domain: subject O=<td>,
 * CN=meshca root; URI SAN spiffe://<td>; basicConstraints CA:true
 * critical; keyUsage keyCertSign, cRLSign critical; SKI and AKI.
 * Valid from now minus CA_CLOCK_SKEW_DEFAULT for lifetime seconds.
 */
int ca_authority_create_root(const char *trust_domain, enum ca_key_type kt,
    int64_t lifetime, int64_t now, struct ca_authority **out,
    struct mc_err *e);

/* The files of Istio's cacerts layout, in this order: ca-cert.pem,
 * ca-key.pem, cert-chain.pem, root-cert.pem. */
#define CA_ISTIO_FILES 4
enum { CA_ISTIO_CERT, CA_ISTIO_KEY, CA_ISTIO_CHAIN, CA_ISTIO_ROOT };
extern const char *const ca_istio_files[CA_ISTIO_FILES];

/*
 * A plugged-in CA as Istio's cacerts lays it out: the four PEM texts
 * in the order of ca_istio_files (cert-chain.pem may be NULL). where
 * names their source in messages: a directory, or "secret NS/NAME".
 */
struct ca_istio_pem {
	const char *where;
	const char *f[CA_ISTIO_FILES];
	size_t len[CA_ISTIO_FILES];
};

/*
 * Builds the authority: the key must match ca-cert.pem, which must be a
 * CA with keyCertSign for trust_domain, valid at now, and chain through
 * cert-chain.pem to the first certificate of root-cert.pem.
 */
int ca_authority_from_istio_pem(const struct ca_istio_pem *in,
    const char *trust_domain, int64_t now, struct ca_authority **out,
    struct mc_err *e);

/*
 * Reads dir's cacerts files into b (initialized here; the key's into a
 * buffer wiped when freed). ca-key.pem must not be readable by group or
 * others; a missing cert-chain.pem reads as empty (the CA certificate is
 * then directly under the root). On -1, with e set, every buffer is
 * freed.
 */
int ca_istio_read(const char *dir, struct mc_buf b[CA_ISTIO_FILES],
    struct mc_err *e);

/*
 * Imports a plugged-in CA from dir (Istio cacerts, read as above): the
 * key must match ca-cert.pem, which must be a CA with keyCertSign, valid
 * at now, and chain through cert-chain.pem to root-cert.pem.
 */
int ca_authority_import_istio(const char *dir, const char *trust_domain,
    int64_t now, struct ca_authority **out, struct mc_err *e);

/*
 * Records a in the ledger in state st, with its key sealed under kek and
 * an audit event (kind, actor), in one transaction; sets a->id.
 */
int ca_authority_save(struct store_db *db, const struct ca_kek *kek,
    struct ca_authority *a, enum store_auth_state st, int64_t now,
    const char *kind, const char *actor, struct mc_err *e);

/* Reads authority id back, opening its key with kek. */
int ca_authority_load(struct store_db *db, const struct ca_kek *kek,
    int64_t id, struct ca_authority **out, struct mc_err *e);

/* Reads the active authority of trust_domain; MC_ST_REJECTED when
 * there is none. */
int ca_authority_load_active(struct store_db *db, const struct ca_kek *kek,
    const char *trust_domain, struct ca_authority **out, struct mc_err *e);

void ca_authority_free(struct ca_authority *a);

/* A signer for a (see signer.h). */
struct ca_signer *ca_authority_signer(const struct ca_authority *a,
    struct mc_err *e);

/* Appends the PEM of cert's issuers a workload sends after its leaf
 * (a->cert unless it is the root, then a->chain) to out. */
int ca_authority_chain_pem(const struct ca_authority *a, struct mc_buf *out,
    struct mc_err *e);

/* Appends the PEM of one certificate. */
int ca_cert_pem(X509 *x, struct mc_buf *out, struct mc_err *e);

/* Parses every CERTIFICATE in a PEM text into a new stack; -1 when there
 * is none or one does not parse. what names the input in messages. */
int ca_certs_from_pem(const char *pem, size_t len, const char *what,
    STACK_OF(X509) **out, struct mc_err *e);

#endif /* CA_AUTHORITY_H */
