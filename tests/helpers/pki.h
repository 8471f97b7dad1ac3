/*
 * pki.h: test PKI built at run time with OpenSSL: roots, intermediates
 * and X.509-SVIDs with every property a test may want to get wrong, and
 * CRLs. For tests and benchmarks only: errors end the program with exit
 * status 99 (not abort(), so allocation-failure runs are not crashes).
 */
#ifndef TESTS_HELPERS_PKI_H
#define TESTS_HELPERS_PKI_H

#include <stddef.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

enum pki_key_type {
	PKI_KEY_P256 = 0,
	PKI_KEY_P384,
	PKI_KEY_RSA2048,
	PKI_KEY_ED25519
};

#define PKI_MAX_NAMES 8

/*
 * What to put in a certificate. Zeroed fields mean the usual thing: a
 * P-256 key, valid from an hour ago for a day, CN "meshca test", and for
 * a CA (ca == 1) critical basicConstraints CA:true and a critical
 * keyUsage keyCertSign,cRLSign; for a leaf (ca == 0) CA:false, critical
 * keyUsage digitalSignature and EKU serverAuth,clientAuth.
 * Extension strings use OpenSSL's config syntax (x509v3_config(5));
 * the string "none" leaves the extension out.
 */
struct pki_opts {
	enum pki_key_type key_type;
	EVP_PKEY *key;		/* reuse this key (not owned) */
	time_t not_before;	/* 0: now - 3600 */
	time_t not_after;	/* 0: now + 86400 */
	const char *cn;		/* NULL: "meshca test"; "": empty subject */
	/* URI and DNS SANs, each list NULL-terminated. */
	const char *uris[PKI_MAX_NAMES];
	const char *dns[PKI_MAX_NAMES];
	int san_critical;
	int ca;			/* 1: CA certificate */
	/* NULL: from ca; e.g. "critical,CA:TRUE,pathlen:0". */
	const char *basic_constraints;
	const char *key_usage;	/* NULL: from ca */
	/* NULL: serverAuth,clientAuth for a leaf, none for a CA. */
	const char *ext_key_usage;
	const char *name_constraints;	/* NULL: none */
	/* Adds a critical extension with this OID and a DER NULL value. */
	const char *unknown_critical_oid;
	long serial;		/* 0: random */
};

struct pki_cert {
	X509 *cert;
	EVP_PKEY *key;
};

/* Makes a certificate signed by issuer (NULL: self-signed). Exits on
 * OpenSSL failure. Free with pki_cert_clear(). */
void pki_make(const struct pki_opts *o, const struct pki_cert *issuer,
    struct pki_cert *out);

/* Shorthands: a root CA "TD root" with optional URI SAN spiffe://td;
 * an intermediate; an SVID leaf with one URI SAN id. */
void pki_root(const char *td, struct pki_cert *out);
void pki_intermediate(const char *td, const struct pki_cert *issuer,
    struct pki_cert *out);
void pki_leaf(const char *id, const struct pki_cert *issuer,
    struct pki_cert *out);

void pki_cert_clear(struct pki_cert *c);

/* The n certificates as concatenated PEM, NUL-terminated; *len (NULL
 * allowed) its length. free() it. */
char *pki_pem(X509 *const *certs, size_t n, size_t *len);

/* A CRL from issuer revoking the n certificates, lastUpdate/nextUpdate
 * as given (0: now - 60 / now + 3600). X509_CRL_free() it. */
X509_CRL *pki_crl(const struct pki_cert *issuer, X509 *const *revoked,
    size_t n, time_t last, time_t next);

/* PEM of the n CRLs, NUL-terminated; free() it. */
char *pki_crl_pem(X509_CRL *const *crls, size_t n, size_t *len);

/* The private key as PEM (PKCS#8, unencrypted); free() it. */
char *pki_key_pem(EVP_PKEY *key, size_t *len);

/* Writes len bytes to path (mode 0600); exits 99 on failure. */
void pki_write_file(const char *path, const char *data, size_t len);

#endif /* TESTS_HELPERS_PKI_H */
