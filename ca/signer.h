/*
 * signer.h: the only unit that touches an authority's private key. It is
 * a message boundary: a request (an already-authorized SPIFFE ID, DNS
 * names, a SubjectPublicKeyInfo, the validity asked for) goes in, a DER
 * certificate comes out, and each has a typed encode/decode pair, so
 * the key can later live in its own process (STYLE.md closing note;
 * acme-client's keyproc) without changing the callers. In one process
 * the structs are passed directly and nothing is encoded.
 *
 * The signer decides serial, extensions and the clamp of notAfter; the
 * caller decides who gets which ID (ca/issue.c, ca/csr.c).
 */
#ifndef CA_SIGNER_H
#define CA_SIGNER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/x509.h>

#include "common/buf.h"
#include "common/err.h"

/* Serial numbers: 16 bytes (128 bits) from the CSPRNG, read as a positive
 * INTEGER (RFC 5280 4.1.2.2 allows up to 20 octets; X509-SVID and CA/B
 * practice ask for at least 64 random bits). Written as 32 hex digits. */
#define CA_SERIAL_LEN 16
#define CA_SERIAL_HEX (2 * CA_SERIAL_LEN + 1)

#define CA_SIGN_MAX_DNS 32
#define CA_SIGN_MAX_DER 65536

struct ca_sign_req {
	const char *spiffe_id;	 /* authorized by the caller */
	const char *const *dns;	 /* optional DNS SANs */
	size_t ndns;
	const unsigned char *spki; /* DER SubjectPublicKeyInfo */
	size_t spki_len;
	/*
	 * The caller generated this key, or decoded and checked it (a CSR's):
	 * an EC P-256/P-384 point may then be copied in without decoding.
	 * False (and always false for a decoded wire request) makes the
	 * signer decode the key, which checks the point lies on its curve.
	 */
	bool key_checked;
	int64_t not_before; /* Unix seconds, as asked */
	int64_t not_after;
};

struct ca_sign_resp {
	unsigned char *der; /* the certificate (mc_free) */
	size_t der_len;
	unsigned char serial[CA_SERIAL_LEN];
	char serial_hex[CA_SERIAL_HEX];
	int64_t not_before;
	int64_t not_after;
	bool clamped; /* notAfter was cut to the authority's own */
};

struct ca_signer;

/*
 * The key identifier the leaves of authority certificate ca_cert carry
 * as their authority key identifier: its subject key identifier, or,
 * without one, the SHA-1 of its public key (RFC 5280 4.2.1.2 (1)); sha1
 * NULL: OpenSSL's default. md must hold EVP_MAX_MD_SIZE bytes.
 */
int ca_issuer_key_id(X509 *ca_cert, const EVP_MD *sha1, unsigned char *md,
    unsigned int *mdlen);

/*
 * Makes a signer for an authority certificate and its key (both are
 * referenced, not copied). Refuses a key that does not match, a
 * certificate that is not a CA with keyCertSign, and a trust domain the
 * certificate's own SPIFFE ID (if it has one) contradicts. The signer
 * is immutable: one may serve many threads at once.
 */
struct ca_signer *ca_signer_new(X509 *cert, EVP_PKEY *key,
    const char *trust_domain, struct mc_err *e);
void ca_signer_free(struct ca_signer *s);

/* Borrowed views, valid while s lives. */
X509 *ca_signer_get0_cert(const struct ca_signer *s);
EVP_PKEY *ca_signer_get0_key(const struct ca_signer *s);
const char *ca_signer_get0_trust_domain(const struct ca_signer *s);
int64_t ca_signer_not_after(const struct ca_signer *s);

/*
 * Issues one leaf X.509-SVID. MC_ST_REJECTED for an ID outside the trust
 * domain or without a path, a bad DNS name, a weak or unknown key, or a
 * validity that ends before it starts once clamped.
 */
int ca_signer_sign(const struct ca_signer *s, const struct ca_sign_req *r,
    struct ca_sign_resp *out, struct mc_err *e);

/*
 * Per-thread signing state: a digest-sign context initialized once with
 * the authority's key and copied for each certificate, instead of
 * fetching the algorithms again for every signature (a measured ~10% of
 * a signature on OpenSSL 3.0, and shared locks taken in the fetch). One
 * cache per thread; it must not outlive its signer. For an Ed25519
 * authority (no digest to cache) it does nothing.
 */
struct ca_sign_cache;
struct ca_sign_cache *ca_sign_cache_new(const struct ca_signer *s,
    struct mc_err *e);
void ca_sign_cache_free(struct ca_sign_cache *c);

/* ca_signer_sign() using cache c (NULL: no cache). */
int ca_signer_sign_cached(const struct ca_signer *s,
    struct ca_sign_cache *c, const struct ca_sign_req *r,
    struct ca_sign_resp *out, struct mc_err *e);
void ca_sign_resp_clear(struct ca_sign_resp *r);

/* The wire forms. A decoded request points into m->mem; free with
 * ca_sign_req_msg_clear(). Decoders refuse truncation, trailing bytes,
 * oversize fields and unknown versions with MC_ST_PARSE. */
struct ca_sign_req_msg {
	struct ca_sign_req req;
	void *mem;
};
int ca_sign_req_encode(const struct ca_sign_req *r, struct mc_buf *out,
    struct mc_err *e);
int ca_sign_req_decode(const unsigned char *p, size_t len,
    struct ca_sign_req_msg *m, struct mc_err *e);
void ca_sign_req_msg_clear(struct ca_sign_req_msg *m);

/* A response carries either the certificate (err NULL or status 0) or the
 * signer's error; decoding an error response returns -1 with that error
 * in e. */
int ca_sign_resp_encode(const struct ca_sign_resp *r,
    const struct mc_err *err, struct mc_buf *out, struct mc_err *e);
int ca_sign_resp_decode(const unsigned char *p, size_t len,
    struct ca_sign_resp *r, struct mc_err *e);

/* Hex of a serial as written in the ledger (32 lowercase digits). */
void ca_serial_hex(const unsigned char *serial, char *hex);

/* The ledger's serial string of a certificate (what ca_serial_hex gave
 * when it was issued); -1 when the serial is not 1..16 octets. */
int ca_cert_serial_hex(const X509 *x, char *hex, struct mc_err *e);

/* An ASN1_TIME as Unix seconds; -1 when unreadable. */
int ca_time_from_asn1(const ASN1_TIME *t, int64_t *out);

#endif /* CA_SIGNER_H */
