/*
 * publish.h: what meshcad writes into the cluster and how it judges what
 * it finds there. Builds the per-ServiceAccount Secret (Istio's
 * istio.io/key-and-cert layout, or kubernetes.io/tls), the trust-bundle
 * ConfigMap meshca-ca-bundle, and checks an existing Secret: its chain
 * parses, verifies under our bundle as an X.509-SVID of exactly this
 * account, its key matches the leaf, its root-cert.pem is our bundle and
 * its ownerReference names the account's current uid.
 *
 * Everything here is a pure function of its arguments: no I/O.
 */
#ifndef DAEMON_PUBLISH_H
#define DAEMON_PUBLISH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include <meshca/svid.h>

#include "common/err.h"
#include "daemon/config.h"

/* Names and labels meshcad uses in the cluster (DESIGN.md). */
#define DAEMON_SECRET_PREFIX "istio."
#define DAEMON_LABEL_MANAGED_BY "app.kubernetes.io/managed-by"
#define DAEMON_LABEL_MANAGED_BY_VALUE "meshca"
#define DAEMON_MANAGED_SELECTOR "app.kubernetes.io/managed-by=meshca"
#define DAEMON_ANNOT_SA "istio.io/service-account.name"
#define DAEMON_ANNOT_SERIAL "meshca.io/serial"
#define DAEMON_ANNOT_SUPERSEDED "meshca.io/superseded"
#define DAEMON_BUNDLE_CM "meshca-ca-bundle"
#define DAEMON_CA_SECRET "meshca-ca"
#define DAEMON_CA_RETIRING_SECRET "meshca-ca-retiring"
#define DAEMON_REVOCATIONS_CM "meshca-revocations"
#define DAEMON_LEASE "meshca-leader"
#define DAEMON_SECRET_TYPE_ISTIO "istio.io/key-and-cert"
#define DAEMON_SECRET_TYPE_TLS "kubernetes.io/tls"

/* One issued identity, ready to publish. Borrowed strings. */
struct daemon_leaf {
	const char *chain_pem; /* leaf first, then intermediates */
	const char *key_pem;   /* secret */
	const char *root_pem;  /* the trust bundle */
	const char *serial;    /* hex, for the annotation */
	const char *superseded; /* DAEMON_ANNOT_SUPERSEDED, or NULL */
};

/*
 * The Secret for service account sa (uid sa_uid) in ns. Returns a new
 * object or NULL with e set (out of memory). The key is in the object:
 * the caller frees it with json_decref and sends it only to the API.
 */
json_t *daemon_secret_build(enum daemon_secret_format f, const char *ns,
    const char *sa, const char *sa_uid, const struct daemon_leaf *l,
    struct mc_err *e);

/* The bundle ConfigMap for ns; NULL with e set on failure. */
json_t *daemon_bundle_cm_build(const char *ns, const char *root_pem,
    const char *bundle_json, const char *crl_pem, struct mc_err *e);

/* True when cm's data has exactly the three keys with these values. */
bool daemon_bundle_cm_matches(const json_t *cm, const char *root_pem,
    const char *bundle_json, const char *crl_pem);

/* The verdict on an existing Secret; the names are metric labels. */
enum daemon_check {
	DAEMON_CHECK_OK = 0,
	DAEMON_CHECK_MISSING,	   /* "deleted" */
	DAEMON_CHECK_GARBAGE,	   /* data absent or does not parse */
	DAEMON_CHECK_KEY_MISMATCH, /* key is not the leaf's */
	DAEMON_CHECK_WRONG_ID,	   /* not this account's SPIFFE ID */
	DAEMON_CHECK_UNTRUSTED,	   /* does not verify under our bundle */
	DAEMON_CHECK_ROOT,	   /* root-cert.pem is not our bundle */
	DAEMON_CHECK_OWNER,	   /* type, owner or annotation wrong */
	DAEMON_CHECK_MAX
};

const char *daemon_check_name(enum daemon_check c);

/* bytes of an authority key identifier kept (EVP_MAX_MD_SIZE) */
#define DAEMON_KID_MAX 64

struct daemon_secret_info {
	char serial[40];   /* hex of the leaf's serial */
	int64_t not_before; /* Unix seconds */
	int64_t not_after;
	/* the leaf's authority key identifier (akid_len 0: none), which
	 * names the authority that signed it */
	unsigned char akid[DAEMON_KID_MAX];
	size_t akid_len;
};

/*
 * Judges secret (may be NULL: MISSING) for service account sa of ns with
 * uid sa_uid, SPIFFE ID spiffe_id, under verifier v (our bundle and trust
 * domain) whose PEM is root_pem. On DAEMON_CHECK_OK and on ROOT and
 * OWNER, info describes the leaf (so a stale root can be told from a
 * tampered leaf). why (whylen bytes) gets a sentence for the log.
 */
enum daemon_check daemon_secret_check(const json_t *secret,
    enum daemon_secret_format f, const char *sa, const char *sa_uid,
    const char *spiffe_id, struct meshca_verifier *v, const char *root_pem,
    struct daemon_secret_info *info, char *why, size_t whylen);

/*
 * The leaf certificate PEM of secret (either format), decoded into a
 * new NUL-terminated buffer (mc_free), or NULL when there is none.
 */
char *daemon_secret_leaf_pem(const json_t *secret, size_t *len);

/*
 * Superseded leaves awaiting their revocation, recorded in the Secret
 * that replaced them (annotation DAEMON_ANNOT_SUPERSEDED), so that the
 * pending revocation is written in the same request that retires the
 * old leaf, and whichever replica leads next finds it in the cluster.
 * The value is a list of "SERIAL:NOTAFTER:DUE[:KEYID]" separated by
 * blanks: the ledger's serial form, the leaf's notAfter, the time its
 * revocation is due (Unix seconds) and, in hex, the authority key
 * identifier of its issuer (so that a replica that never held the leaf
 * revokes it in its issuer's CRL; entries written before it was added
 * have none).
 */
#define DAEMON_PENDING_MAX 16 /* entries kept per Secret */

/* the longest annotation text daemon_pending_format writes */
#define DAEMON_PENDING_TEXT_MAX \
	(DAEMON_PENDING_MAX * (80 + 2 * DAEMON_KID_MAX))

struct daemon_pending {
	char serial[40];
	int64_t not_after;
	int64_t due;
	unsigned char kid[DAEMON_KID_MAX]; /* kid_len 0: not known */
	size_t kid_len;
};

/*
 * Parses s (may be NULL) into at most max entries of out; an entry that
 * is not of the form above (serial normalized by daemon_serial_norm) is
 * skipped. Returns the number of entries stored.
 */
size_t daemon_pending_parse(const char *s, struct daemon_pending *out,
    size_t max);

/* Formats n entries into buf (len bytes); -1 when it does not fit. */
int daemon_pending_format(const struct daemon_pending *v, size_t n,
    char *buf, size_t len);

/*
 * The ledger's form of a serial number written by a person or another
 * tool: hex digits, in either case, with or without colons (as openssl
 * prints them) or a 0x prefix, with or without leading zeros; out (at
 * least 33 bytes) gets lowercase hex, zero-padded to the 32 digits of a
 * 128-bit serial (ca_serial_hex). -1 when in is empty, not hex or has
 * more than 32 significant digits.
 */
int daemon_serial_norm(const char *in, char *out, size_t outlen);

/* Standard base64 of n bytes (RFC 4648 §4) into a new string (mc_free);
 * NULL when out of memory. */
char *daemon_base64(const void *p, size_t n);

#endif /* DAEMON_PUBLISH_H */
