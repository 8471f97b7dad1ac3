/*
 * signer.c: turns a sign request into a leaf X.509-SVID signed with the
 * authority's key (see signer.h). It trusts the caller's decision about
 * which ID to certify but re-checks the form of everything in the request
 * (the request may one day arrive over a socket): the ID must parse and
 * belong to this trust domain, DNS names must be host names, the public
 * key must be of an accepted type and strength (and is decoded, which
 * checks an EC point is on its curve, unless the caller vouches that it
 * made or already decoded the key: see key_checked in signer.h).
 *
 * Leaf profile (DESIGN.md; SPIFFE X509-SVID.md):
 *  - empty subject, one URI SAN; X509-SVID 2: "An X.509 SVID MUST contain
 *    exactly one URI SAN"; RFC 5280 4.2.1.6: with an empty subject "the
 *    subjectAltName extension MUST be marked critical";
 *  - basicConstraints CA:false, critical (X509-SVID 4.1: "leaf
 *    certificates MUST set the cA field to false");
 *  - keyUsage critical, digitalSignature (+ keyEncipherment for RSA)
 *    (X509-SVID 4.3: "Leaf SVIDs MUST set digitalSignature. They MAY set
 *    keyEncipherment and/or keyAgreement"; keyCertSign and cRLSign MUST
 *    NOT be set);
 *  - extKeyUsage serverAuth + clientAuth (X509-SVID 4.4);
 *  - subject and authority key identifiers (RFC 5280 4.2.1.1, 4.2.1.2);
 *  - notAfter never past the authority's own notAfter.
 */
#include <ctype.h>
#include <string.h>
#include <time.h>

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include <meshca/id.h>

#include "ca/keygen.h"
#include "ca/signer.h"
#include "common/alloc.h"
#include "common/status.h"

struct ca_signer {
	X509 *cert;
	EVP_PKEY *key;
	char *td;
	int64_t not_after;
	const EVP_MD *md;	/* NULL for Ed25519 */
	EVP_MD *sha1;
	EVP_MD *mdfetched;
	size_t sig_max;		/* the largest signature the key makes */
	/* DER, encoded by OpenSSL once and copied into every leaf: */
	unsigned char *issuer_der;	/* the authority's subject Name */
	unsigned char *sigalg_der;	/* the signature AlgorithmIdentifier */
	unsigned char *bc_der;		/* CA:false, critical */
	unsigned char *ku_der;		/* digitalSignature */
	unsigned char *ku_rsa_der;	/* digitalSignature, keyEncipherment */
	unsigned char *eku_der;		/* serverAuth, clientAuth */
	unsigned char *aki_der;		/* keyid of the authority */
	size_t issuer_der_len;
	size_t sigalg_der_len;
	size_t bc_der_len;
	size_t ku_der_len;
	size_t ku_rsa_der_len;
	size_t eku_der_len;
	size_t aki_der_len;
};

/* Fixed SPKI prefixes (RFC 5480), recognized to skip decoding. */
static const unsigned char spki_p256[] = {
	0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d,
	0x02, 0x01, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01,
	0x07, 0x03, 0x42, 0x00, 0x04
};
static const unsigned char spki_p384[] = {
	0x30, 0x76, 0x30, 0x10, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d,
	0x02, 0x01, 0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22, 0x03, 0x62,
	0x00, 0x04
};

int64_t
ca_signer_not_after(const struct ca_signer *s)
{
	return s->not_after;
}

X509 *
ca_signer_get0_cert(const struct ca_signer *s)
{
	return s->cert;
}

EVP_PKEY *
ca_signer_get0_key(const struct ca_signer *s)
{
	return s->key;
}

const char *
ca_signer_get0_trust_domain(const struct ca_signer *s)
{
	return s->td;
}

void
ca_serial_hex(const unsigned char *serial, char *hex)
{
	static const char digits[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < CA_SERIAL_LEN; i++) {
		hex[2 * i] = digits[serial[i] >> 4];
		hex[2 * i + 1] = digits[serial[i] & 0xf];
	}
	hex[2 * CA_SERIAL_LEN] = '\0';
}

int
ca_cert_serial_hex(const X509 *x, char *hex, struct mc_err *e)
{
	unsigned char raw[CA_SERIAL_LEN];
	const ASN1_INTEGER *sn = X509_get0_serialNumber(x);
	BIGNUM *bn = NULL;
	int ret = -1;

	if (sn == NULL || (bn = ASN1_INTEGER_to_BN(sn, NULL)) == NULL ||
	    BN_is_negative(bn) || BN_num_bytes(bn) > CA_SERIAL_LEN ||
	    BN_bn2binpad(bn, raw, sizeof(raw)) < 0) {
		ERR_clear_error();
		mc_err_set(e, MC_ST_REJECTED, 0, "certificate: serial number "
		    "is not one meshca issues (1 to %d octets)", CA_SERIAL_LEN);
		goto out;
	}
	ca_serial_hex(raw, hex);
	ret = 0;
out:
	BN_free(bn);
	return ret;
}

int
ca_time_from_asn1(const ASN1_TIME *t, int64_t *out)
{
	struct tm tm;

	if (t == NULL || ASN1_TIME_to_tm(t, &tm) != 1)
		return -1;
	*out = (int64_t)timegm(&tm);
	return 0;
}

static X509_EXTENSION *
ext_ku(int bits)
{
	ASN1_BIT_STRING *ku = ASN1_BIT_STRING_new();
	X509_EXTENSION *x = NULL;

	if (ku == NULL || !ASN1_BIT_STRING_set_bit(ku, 0, 1) ||
	    ((bits & KU_KEY_ENCIPHERMENT) &&
	    !ASN1_BIT_STRING_set_bit(ku, 2, 1)))
		goto out;
	x = X509V3_EXT_i2d(NID_key_usage, 1, ku);
out:
	ASN1_BIT_STRING_free(ku);
	return x;
}

static X509_EXTENSION *
ext_eku(void)
{
	EXTENDED_KEY_USAGE *eku = sk_ASN1_OBJECT_new_null();
	X509_EXTENSION *x = NULL;

	if (eku == NULL ||
	    !sk_ASN1_OBJECT_push(eku, OBJ_nid2obj(NID_server_auth)) ||
	    !sk_ASN1_OBJECT_push(eku, OBJ_nid2obj(NID_client_auth)))
		goto out;
	x = X509V3_EXT_i2d(NID_ext_key_usage, 0, eku);
out:
	sk_ASN1_OBJECT_free(eku); /* the objects are static */
	return x;
}

static X509_EXTENSION *
ext_bc_leaf(void)
{
	BASIC_CONSTRAINTS *bc = BASIC_CONSTRAINTS_new();
	X509_EXTENSION *x = NULL;

	if (bc == NULL)
		return NULL;
	bc->ca = 0;
	x = X509V3_EXT_i2d(NID_basic_constraints, 1, bc);
	BASIC_CONSTRAINTS_free(bc);
	return x;
}

/* SHA-1 of the subjectPublicKey BIT STRING: RFC 5280 4.2.1.2 (1), and
 * what OpenSSL's "subjectKeyIdentifier = hash" computes. */
static int
key_id(const EVP_MD *sha1, const unsigned char *pk, size_t pklen,
    unsigned char *md, unsigned int *mdlen)
{
	return EVP_Digest(pk, pklen, md, mdlen, sha1, NULL) == 1 ? 0 : -1;
}

int
ca_issuer_key_id(X509 *ca_cert, const EVP_MD *sha1, unsigned char *md,
    unsigned int *mdlen)
{
	const ASN1_OCTET_STRING *ski = X509_get0_subject_key_id(ca_cert);
	const unsigned char *pk;
	int pklen;

	if (ski != NULL) {
		if (ski->length <= 0 || ski->length > EVP_MAX_MD_SIZE)
			return -1;
		memcpy(md, ski->data, (size_t)ski->length);
		*mdlen = (unsigned int)ski->length;
		return 0;
	}
	if (!X509_PUBKEY_get0_param(NULL, &pk, &pklen, NULL,
	    X509_get_X509_PUBKEY(ca_cert)) || pklen < 0)
		return -1;
	return key_id(sha1 != NULL ? sha1 : EVP_sha1(), pk, (size_t)pklen, md,
	    mdlen);
}

static X509_EXTENSION *
ext_aki(const struct ca_signer *s)
{
	AUTHORITY_KEYID *aki = AUTHORITY_KEYID_new();
	X509_EXTENSION *x = NULL;
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen;

	if (aki == NULL || (aki->keyid = ASN1_OCTET_STRING_new()) == NULL ||
	    ca_issuer_key_id(s->cert, s->sha1, md, &mdlen) == -1 ||
	    !ASN1_OCTET_STRING_set(aki->keyid, md, (int)mdlen))
		goto out;
	x = X509V3_EXT_i2d(NID_authority_key_identifier, 0, aki);
out:
	AUTHORITY_KEYID_free(aki);
	return x;
}

/* The DER of an extension made above (NULL: making it failed); frees x. */
static int
ext_der(X509_EXTENSION *x, unsigned char **der, size_t *len)
{
	int n;

	if (x == NULL)
		return -1;
	n = i2d_X509_EXTENSION(x, der);
	X509_EXTENSION_free(x);
	if (n <= 0)
		return -1;
	*len = (size_t)n;
	return 0;
}

/*
 * The signature AlgorithmIdentifier exactly as OpenSSL writes it for
 * this key and digest (parameters absent for ECDSA and Ed25519, NULL for
 * RSA: RFC 5758 3.2, RFC 8410 3, RFC 4055 5), learnt by letting
 * X509_sign_ctx() sign a stub certificate once.
 */
static int
sigalg_probe(struct ca_signer *s)
{
	EVP_MD_CTX *m = NULL;
	X509 *x = NULL;
	const X509_ALGOR *tbs_alg, *alg;
	int n, ret = -1;

	if ((m = EVP_MD_CTX_new()) == NULL || (x = X509_new()) == NULL ||
	    !X509_set_version(x, X509_VERSION_3) ||
	    !X509_set_pubkey(x, s->key) ||
	    EVP_DigestSignInit_ex(m, NULL, s->md != NULL ?
	    EVP_MD_get0_name(s->md) : NULL, NULL, NULL, s->key, NULL) != 1 ||
	    X509_sign_ctx(x, m) <= 0)
		goto out;
	X509_get0_signature(NULL, &alg, x);
	tbs_alg = X509_get0_tbs_sigalg(x);
	if (X509_ALGOR_cmp(alg, tbs_alg) != 0 ||
	    (n = i2d_X509_ALGOR(tbs_alg, &s->sigalg_der)) <= 0)
		goto out;
	s->sigalg_der_len = (size_t)n;
	ret = 0;
out:
	X509_free(x);
	EVP_MD_CTX_free(m);
	return ret;
}

/* The authority's own SPIFFE ID, if any, must name trust_domain alone. */
static int
check_ca_id(X509 *cert, const char *td, struct mc_err *e)
{
	GENERAL_NAMES *gens;
	GENERAL_NAME *g;
	const char *uri;
	char want[MESHCA_TRUST_DOMAIN_MAX + 16];
	int i, ret = 0;

	gens = X509_get_ext_d2i(cert, NID_subject_alt_name, NULL, NULL);
	snprintf(want, sizeof(want), "spiffe://%s", td);
	for (i = 0; gens != NULL && i < sk_GENERAL_NAME_num(gens); i++) {
		g = sk_GENERAL_NAME_value(gens, i);
		if (g->type != GEN_URI)
			continue;
		uri = (const char *)ASN1_STRING_get0_data(g->d.uniformResourceIdentifier);
		if (strncmp(uri, "spiffe://", 9) != 0)
			continue;
		if (strcmp(uri, want) != 0) {
			mc_err_set(e, MC_ST_REJECTED, 0, "authority: its SPIFFE "
			    "ID %.200s is not %s (X509-SVID 4.1: a signing "
			    "certificate's ID names its trust domain)", uri,
			    want);
			ret = -1;
			break;
		}
	}
	GENERAL_NAMES_free(gens);
	return ret;
}

struct ca_signer *
ca_signer_new(X509 *cert, EVP_PKEY *key, const char *trust_domain,
    struct mc_err *e)
{
	struct ca_signer *s = NULL;
	const char *mdname;
	int n;

	if (cert == NULL || key == NULL || trust_domain == NULL) {
		mc_err_set(e, MC_ST_USAGE, 0, "signer: certificate, key and "
		    "trust domain are required");
		return NULL;
	}
	if (meshca_trust_domain_check(trust_domain, strlen(trust_domain),
	    NULL) != MESHCA_OK) {
		mc_err_set(e, MC_ST_USAGE, 0, "signer: \"%.255s\" is not a "
		    "trust domain name (SPIFFE-ID 2.1)", trust_domain);
		return NULL;
	}
	if (X509_check_private_key(cert, key) != 1) {
		ERR_clear_error();
		mc_err_set(e, MC_ST_REJECTED, 0, "authority: private key does "
		    "not match the certificate");
		return NULL;
	}
	if ((X509_get_extension_flags(cert) & EXFLAG_CA) == 0) {
		mc_err_set(e, MC_ST_REJECTED, 0, "authority: not a CA "
		    "certificate (RFC 5280 4.2.1.9: cA must be true)");
		return NULL;
	}
	if ((X509_get_extension_flags(cert) & EXFLAG_KUSAGE) &&
	    (X509_get_key_usage(cert) & KU_KEY_CERT_SIGN) == 0) {
		mc_err_set(e, MC_ST_REJECTED, 0, "authority: keyUsage lacks "
		    "keyCertSign (RFC 5280 4.2.1.3)");
		return NULL;
	}
	if (check_ca_id(cert, trust_domain, e) == -1)
		return NULL;
	if ((s = mc_calloc(1, sizeof(*s))) == NULL ||
	    (s->td = mc_strdup(trust_domain)) == NULL) {
		mc_err_set(e, MC_ST_NOMEM, 0, "signer: out of memory");
		goto fail;
	}
	if (!X509_up_ref(cert))
		goto ossl;
	s->cert = cert;
	if (!EVP_PKEY_up_ref(key))
		goto ossl;
	s->key = key;
	if (ca_time_from_asn1(X509_get0_notAfter(cert), &s->not_after) ==
	    -1) {
		mc_err_set(e, MC_ST_REJECTED, 0, "authority: unreadable "
		    "notAfter");
		goto fail;
	}
	mdname = NULL;
	if (EVP_PKEY_is_a(key, "EC"))
		mdname = EVP_PKEY_get_bits(key) > 256 ? "SHA384" : "SHA256";
	else if (EVP_PKEY_is_a(key, "RSA"))
		mdname = "SHA256";
	/* Fetched once: an implicit fetch per signature takes a lock. */
	if (mdname != NULL &&
	    (s->mdfetched = EVP_MD_fetch(NULL, mdname, NULL)) == NULL)
		goto ossl;
	s->md = s->mdfetched;
	if ((s->sha1 = EVP_MD_fetch(NULL, "SHA1", NULL)) == NULL ||
	    (n = EVP_PKEY_get_size(key)) <= 0)
		goto ossl;
	s->sig_max = (size_t)n;
	if ((n = i2d_X509_NAME(X509_get_subject_name(cert),
	    &s->issuer_der)) <= 0)
		goto ossl;
	s->issuer_der_len = (size_t)n;
	if (ext_der(ext_bc_leaf(), &s->bc_der, &s->bc_der_len) == -1 ||
	    ext_der(ext_ku(KU_DIGITAL_SIGNATURE), &s->ku_der,
	    &s->ku_der_len) == -1 ||
	    ext_der(ext_ku(KU_DIGITAL_SIGNATURE | KU_KEY_ENCIPHERMENT),
	    &s->ku_rsa_der, &s->ku_rsa_der_len) == -1 ||
	    ext_der(ext_eku(), &s->eku_der, &s->eku_der_len) == -1 ||
	    ext_der(ext_aki(s), &s->aki_der, &s->aki_der_len) == -1 ||
	    sigalg_probe(s) == -1)
		goto ossl;
	return s;
ossl:
	ca_openssl_error(e, MC_ST_INTERNAL, "signer: set up");
fail:
	ca_signer_free(s);
	return NULL;
}

void
ca_signer_free(struct ca_signer *s)
{
	if (s == NULL)
		return;
	X509_free(s->cert);
	EVP_PKEY_free(s->key);
	mc_free(s->td);
	OPENSSL_free(s->issuer_der);
	OPENSSL_free(s->sigalg_der);
	OPENSSL_free(s->bc_der);
	OPENSSL_free(s->ku_der);
	OPENSSL_free(s->ku_rsa_der);
	OPENSSL_free(s->eku_der);
	OPENSSL_free(s->aki_der);
	EVP_MD_free(s->sha1);
	EVP_MD_free(s->mdfetched);
	mc_free(s);
}

/* RFC 1123 host names, optionally with one leading "*." label. */
static bool
is_dns_name(const char *s)
{
	size_t len = strlen(s), lab = 0, i;

	if (len == 0 || len > 253)
		return false;
	if (strncmp(s, "*.", 2) == 0)
		s += 2;
	if (*s == '\0')
		return false;
	for (i = 0; s[i] != '\0'; i++) {
		if (s[i] == '.') {
			if (lab == 0 || s[i - 1] == '-')
				return false;
			lab = 0;
			continue;
		}
		if (!(isalnum((unsigned char)s[i]) || (s[i] == '-' && lab > 0)))
			return false;
		if (++lab > 63)
			return false;
	}
	return lab > 0 && s[i - 1] != '-';
}

static int
check_request(const struct ca_signer *s, const struct ca_sign_req *r,
    struct mc_err *e)
{
	struct meshca_id *id = NULL;
	struct meshca_error me;
	size_t i;
	int ret = -1;

	if (r->spiffe_id == NULL || r->spki == NULL || r->spki_len == 0 ||
	    (r->ndns > 0 && r->dns == NULL)) {
		mc_err_set(e, MC_ST_USAGE, 0, "sign request: ID and public key "
		    "are required");
		return -1;
	}
	if (meshca_id_parse(r->spiffe_id, strlen(r->spiffe_id), &id, &me) !=
	    MESHCA_OK) {
		mc_err_set(e, me.status == MESHCA_ERR_NOMEM ? MC_ST_NOMEM :
		    MC_ST_REJECTED, MESHCA_REASON_ID_INVALID, "sign request: "
		    "%s", me.message);
		goto out;
	}
	if (meshca_id_is_trust_domain(id)) {
		mc_err_set(e, MC_ST_REJECTED, MESHCA_REASON_ID_NOT_WORKLOAD,
		    "sign request: %.200s: X509-SVID 2: a leaf's ID must have "
		    "a path", r->spiffe_id);
		goto out;
	}
	if (!meshca_id_is_member_of(id, s->td)) {
		mc_err_set(e, MC_ST_REJECTED, MESHCA_REASON_TRUST_DOMAIN,
		    "sign request: %.200s is outside trust domain %s",
		    r->spiffe_id, s->td);
		goto out;
	}
	if (r->ndns > CA_SIGN_MAX_DNS) {
		mc_err_set(e, MC_ST_REJECTED, 0, "sign request: %zu DNS names, "
		    "at most %d", r->ndns, CA_SIGN_MAX_DNS);
		goto out;
	}
	for (i = 0; i < r->ndns; i++) {
		if (r->dns[i] == NULL || !is_dns_name(r->dns[i])) {
			mc_err_set(e, MC_ST_REJECTED, 0, "sign request: DNS "
			    "name \"%.100s\" is not a host name (RFC 1123)",
			    r->dns[i] != NULL ? r->dns[i] : "");
			goto out;
		}
	}
	ret = 0;
out:
	meshca_id_free(id);
	return ret;
}

/*
 * The leaf is laid out as DER here rather than built as an OpenSSL X509
 * object: X509_set_issuer_name() and X509_add_ext() copy through an
 * encode/decode round trip each, and the TBSCertificate is encoded twice
 * (to sign it, then again by i2d_X509), which together cost more than
 * the ECDSA signature itself. The fields are the ones OpenSSL would
 * write for the same certificate, byte for byte (X.690 DER is one
 * encoding per value; tests/ca/test_issue.c builds the same leaf with
 * OpenSSL's own API and compares): the issuer Name, the signature
 * AlgorithmIdentifier and the fixed extensions are encoded once by
 * OpenSSL in ca_signer_new() and copied in; the rest is small.
 */

/* Length of a DER tag plus length octets for n bytes of content. */
static size_t
der_hdr_len(size_t n)
{
	return n < 0x80 ? 2 : n < 0x100 ? 3 : n < 0x10000 ? 4 : 5;
}

static unsigned char *
der_put_hdr(unsigned char *p, unsigned char tag, size_t n)
{
	*p++ = tag;
	if (n < 0x80) {
		*p++ = (unsigned char)n;
	} else if (n < 0x100) {
		*p++ = 0x81;
		*p++ = (unsigned char)n;
	} else if (n < 0x10000) {
		*p++ = 0x82;
		*p++ = (unsigned char)(n >> 8);
		*p++ = (unsigned char)n;
	} else {
		*p++ = 0x83;
		*p++ = (unsigned char)(n >> 16);
		*p++ = (unsigned char)(n >> 8);
		*p++ = (unsigned char)n;
	}
	return p;
}

static unsigned char *
der_put(unsigned char *p, const void *d, size_t n)
{
	memcpy(p, d, n);
	return p + n;
}

/*
 * A Time as ASN1_TIME_set() writes it: UTCTime for 1950 through 2049,
 * GeneralizedTime otherwise (RFC 5280 4.1.2.5); seconds, always "Z".
 * out holds the whole TLV (at most 17 bytes).
 */
static int
der_time(int64_t t, unsigned char *out, size_t *len)
{
	struct tm tm;
	time_t tt = (time_t)t;
	unsigned char *p;
	int v[6], year, i;

	if ((int64_t)tt != t || gmtime_r(&tt, &tm) == NULL)
		return -1;
	year = tm.tm_year + 1900;
	if (year < 0 || year > 9999)
		return -1;
	v[0] = year % 100;
	v[1] = tm.tm_mon + 1;
	v[2] = tm.tm_mday;
	v[3] = tm.tm_hour;
	v[4] = tm.tm_min;
	v[5] = tm.tm_sec;
	p = out + 2;
	if (year >= 1950 && year < 2050) {
		out[0] = V_ASN1_UTCTIME;
		out[1] = 13;
	} else {
		out[0] = V_ASN1_GENERALIZEDTIME;
		out[1] = 15;
		*p++ = (unsigned char)('0' + year / 1000);
		*p++ = (unsigned char)('0' + year / 100 % 10);
	}
	for (i = 0; i < 6; i++) {
		*p++ = (unsigned char)('0' + v[i] / 10);
		*p++ = (unsigned char)('0' + v[i] % 10);
	}
	*p++ = 'Z';
	*len = (size_t)(p - out);
	return 0;
}

/*
 * The certificate's SubjectPublicKeyInfo and the subjectPublicKey bits
 * (for the key identifier). An EC P-256/P-384 SPKI in its one DER form
 * is used as it is when the caller vouches for the key (key_checked);
 * anything else is decoded and checked (strength, point on the curve)
 * and re-encoded by OpenSSL, into *owned. *rsa says whether
 * keyEncipherment applies.
 */
static int
leaf_spki(const unsigned char *spki, size_t len, bool checked,
    const unsigned char **der, size_t *der_len, const unsigned char **bits,
    size_t *bits_len, bool *rsa, unsigned char **owned, struct mc_err *e)
{
	const unsigned char *p = spki, *pk;
	X509_PUBKEY *xpk = NULL;
	EVP_PKEY *pkey = NULL;
	struct ca_key k;
	size_t plen = 0;
	int n, pklen, ret = -1;

	*rsa = false;
	*owned = NULL;
	if (checked && len == sizeof(spki_p256) + 64 &&
	    memcmp(spki, spki_p256, sizeof(spki_p256)) == 0)
		plen = 65;
	else if (checked && len == sizeof(spki_p384) + 96 &&
	    memcmp(spki, spki_p384, sizeof(spki_p384)) == 0)
		plen = 97;
	if (plen != 0) {
		*der = spki;
		*der_len = len;
		*bits = spki + len - plen;
		*bits_len = plen;
		return 0;
	}
	if (len > CA_SPKI_MAX ||
	    (pkey = d2i_PUBKEY(NULL, &p, (long)len)) == NULL ||
	    p != spki + len) {
		ERR_clear_error();
		mc_err_set(e, MC_ST_REJECTED, 0, "sign request: public key does "
		    "not decode as a SubjectPublicKeyInfo (RFC 5280 4.1.2.7; an "
		    "EC point must lie on its curve, SEC 1 3.2.2)");
		goto out;
	}
	if (ca_key_from_pkey(pkey, &k, e) == -1)
		goto out;
	*rsa = ca_key_type_is_rsa(k.type);
	ca_key_clear(&k);
	/* What X509_set_pubkey() would put in the certificate. */
	if (!X509_PUBKEY_set(&xpk, pkey) ||
	    (n = i2d_X509_PUBKEY(xpk, owned)) <= 0 ||
	    !X509_PUBKEY_get0_param(NULL, &pk, &pklen, NULL, xpk)) {
		ca_openssl_error(e, MC_ST_INTERNAL, "sign: encode public key");
		goto out;
	}
	/* The bits point into xpk; find them in the encoding we keep. */
	if (pklen <= 0 || pklen > n) {
		mc_err_set(e, MC_ST_INTERNAL, 0, "sign: public key encoding");
		goto out;
	}
	*der = *owned;
	*der_len = (size_t)n;
	*bits = *owned + n - pklen;
	*bits_len = (size_t)pklen;
	if (memcmp(*bits, pk, (size_t)pklen) != 0) {
		mc_err_set(e, MC_ST_INTERNAL, 0, "sign: public key encoding");
		goto out;
	}
	ret = 0;
out:
	if (ret == -1) {
		OPENSSL_free(*owned);
		*owned = NULL;
	}
	X509_PUBKEY_free(xpk);
	EVP_PKEY_free(pkey);
	return ret;
}

struct ca_sign_cache {
	EVP_MD_CTX *tmpl;
	EVP_MD_CTX *work;
};

struct ca_sign_cache *
ca_sign_cache_new(const struct ca_signer *s, struct mc_err *e)
{
	struct ca_sign_cache *c;

	if ((c = mc_calloc(1, sizeof(*c))) == NULL) {
		mc_err_set(e, MC_ST_NOMEM, 0, "sign cache: out of memory");
		return NULL;
	}
	if (s->md == NULL)
		return c;
	if ((c->tmpl = EVP_MD_CTX_new()) == NULL ||
	    (c->work = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestSignInit_ex(c->tmpl, NULL, EVP_MD_get0_name(s->md), NULL,
	    NULL, s->key, NULL) != 1) {
		ca_openssl_error(e, MC_ST_INTERNAL, "sign cache: set up");
		ca_sign_cache_free(c);
		return NULL;
	}
	return c;
}

void
ca_sign_cache_free(struct ca_sign_cache *c)
{
	if (c == NULL)
		return;
	EVP_MD_CTX_free(c->tmpl);
	EVP_MD_CTX_free(c->work);
	mc_free(c);
}

/*
 * Signs tbs as ASN1_item_sign_ctx() would: one-shot EVP_DigestSign with
 * the authority's digest (none for Ed25519) and default padding
 * (PKCS#1 v1.5 for RSA), from the cache's initialized context when
 * there is one.
 */
static int
sign_tbs(const struct ca_signer *s, struct ca_sign_cache *c,
    const unsigned char *tbs, size_t tbslen, unsigned char *sig,
    size_t *siglen)
{
	EVP_MD_CTX *m = NULL;
	int ok = 0;

	if (c != NULL && c->tmpl != NULL) {
		m = c->work;
		if (EVP_MD_CTX_copy_ex(m, c->tmpl) != 1)
			return 0;
		return EVP_DigestSign(m, sig, siglen, tbs, tbslen) == 1;
	}
	if ((m = EVP_MD_CTX_new()) != NULL &&
	    EVP_DigestSignInit_ex(m, NULL, s->md != NULL ?
	    EVP_MD_get0_name(s->md) : NULL, NULL, NULL, s->key, NULL) == 1 &&
	    EVP_DigestSign(m, sig, siglen, tbs, tbslen) == 1)
		ok = 1;
	EVP_MD_CTX_free(m);
	return ok;
}

/* The subjectKeyIdentifier extension around a 20-byte SHA-1 key id:
 * SEQUENCE { OID 2.5.29.14, OCTET STRING { OCTET STRING (20) } }. */
static const unsigned char ski_head[] = {
	0x30, 0x1d, 0x06, 0x03, 0x55, 0x1d, 0x0e, 0x04, 0x16, 0x04, 0x14
};
#define SKI_EXT_LEN (sizeof(ski_head) + 20)
/* subjectAltName, critical (RFC 5280 4.2.1.6: the subject is empty). */
static const unsigned char san_oid_crit[] = {
	0x06, 0x03, 0x55, 0x1d, 0x11, 0x01, 0x01, 0xff
};

int
ca_signer_sign(const struct ca_signer *s, const struct ca_sign_req *r,
    struct ca_sign_resp *out, struct mc_err *e)
{
	return ca_signer_sign_cached(s, NULL, r, out, e);
}

int
ca_signer_sign_cached(const struct ca_signer *s, struct ca_sign_cache *c,
    const struct ca_sign_req *r, struct ca_sign_resp *out, struct mc_err *e)
{
	const unsigned char *spki, *bits, *ku;
	unsigned char *owned = NULL, *der = NULL, *p, *tbs;
	unsigned char nbt[17], nat[17], ski[EVP_MAX_MD_SIZE];
	unsigned int skilen;
	size_t spki_len, bits_len, nbt_len, nat_len, ku_len, sn_len, sn_off;
	size_t gn_len, san_len, ext_len, val_len, tbs_body, tbs_len, siglen;
	size_t bs_len, cert_body, cap, i, nlen;
	int64_t nb, na;
	bool rsa, zero;
	int ret = -1;

	memset(out, 0, sizeof(*out));
	if (check_request(s, r, e) == -1)
		return -1;
	nb = r->not_before;
	na = r->not_after;
	if (na > s->not_after) {
		na = s->not_after;
		out->clamped = true;
	}
	if (nb >= na) {
		mc_err_set(e, MC_ST_REJECTED, 0, "sign request: validity ends "
		    "before it starts%s", out->clamped ? " (the authority "
		    "expires first)" : "");
		return -1;
	}
	if (der_time(nb, nbt, &nbt_len) == -1 ||
	    der_time(na, nat, &nat_len) == -1) {
		mc_err_set(e, MC_ST_REJECTED, 0, "sign request: validity "
		    "outside the years 0 to 9999 (RFC 5280 4.1.2.5)");
		return -1;
	}
	do {
		if (RAND_bytes(out->serial, CA_SERIAL_LEN) != 1)
			goto ossl;
		for (zero = true, i = 0; i < CA_SERIAL_LEN; i++)
			zero = zero && out->serial[i] == 0;
	} while (zero);
	if (leaf_spki(r->spki, r->spki_len, r->key_checked, &spki, &spki_len,
	    &bits, &bits_len, &rsa, &owned, e) == -1)
		goto out;
	/* RFC 5280 4.2.1.2 (1): SHA-1 of the subjectPublicKey bits. */
	if (key_id(s->sha1, bits, bits_len, ski, &skilen) == -1 ||
	    skilen != 20)
		goto ossl;
	ku = rsa ? s->ku_rsa_der : s->ku_der;
	ku_len = rsa ? s->ku_rsa_der_len : s->ku_der_len;

	/* The serial as a positive INTEGER in the fewest octets (X.690
	 * 8.3.2): leading zero octets dropped, one added before a high
	 * bit. */
	for (sn_off = 0; out->serial[sn_off] == 0; sn_off++)
		;
	sn_len = CA_SERIAL_LEN - sn_off + (out->serial[sn_off] & 0x80 ?
	    1 : 0);

	/* Lengths, innermost first. */
	gn_len = 0;
	for (i = 0; i <= r->ndns; i++) {
		nlen = strlen(i == 0 ? r->spiffe_id : r->dns[i - 1]);
		gn_len += der_hdr_len(nlen) + nlen;
	}
	san_len = sizeof(san_oid_crit) + der_hdr_len(der_hdr_len(gn_len) +
	    gn_len) + der_hdr_len(gn_len) + gn_len;
	ext_len = s->bc_der_len + ku_len + s->eku_der_len + SKI_EXT_LEN +
	    s->aki_der_len + der_hdr_len(san_len) + san_len;
	val_len = nbt_len + nat_len;
	tbs_body = 5 + 2 + sn_len + s->sigalg_der_len + s->issuer_der_len +
	    der_hdr_len(val_len) + val_len + 2 + spki_len +
	    der_hdr_len(der_hdr_len(ext_len) + ext_len) +
	    der_hdr_len(ext_len) + ext_len;
	tbs_len = der_hdr_len(tbs_body) + tbs_body;
	/* Room for the certificate's header, the outer algorithm and the
	 * largest signature in a BIT STRING; the header is moved into
	 * place once the signature's length is known. */
	cap = 5 + tbs_len + s->sigalg_der_len + 5 + 1 + s->sig_max;
	if (cap > CA_SIGN_MAX_DER) {
		mc_err_set(e, MC_ST_REJECTED, 0, "sign request: the "
		    "certificate would exceed %d bytes", CA_SIGN_MAX_DER);
		goto out;
	}
	if ((der = mc_malloc(cap)) == NULL) {
		mc_err_set(e, MC_ST_NOMEM, 0, "sign: out of memory");
		goto out;
	}

	/* TBSCertificate (RFC 5280 4.1). */
	tbs = p = der + 5;
	p = der_put_hdr(p, 0x30, tbs_body);
	/* [0] EXPLICIT version v3 */
	p = der_put(p, "\xa0\x03\x02\x01\x02", 5);
	p = der_put_hdr(p, 0x02, sn_len);
	if (out->serial[sn_off] & 0x80)
		*p++ = 0x00;
	p = der_put(p, out->serial + sn_off, CA_SERIAL_LEN - sn_off);
	p = der_put(p, s->sigalg_der, s->sigalg_der_len);
	p = der_put(p, s->issuer_der, s->issuer_der_len);
	p = der_put_hdr(p, 0x30, val_len);
	p = der_put(p, nbt, nbt_len);
	p = der_put(p, nat, nat_len);
	/* subject: the empty Name (X509-SVID 2 puts the ID in the SAN) */
	p = der_put(p, "\x30\x00", 2);
	p = der_put(p, spki, spki_len);
	/* [3] EXPLICIT Extensions, in the order the profile lists them */
	p = der_put_hdr(p, 0xa3, der_hdr_len(ext_len) + ext_len);
	p = der_put_hdr(p, 0x30, ext_len);
	p = der_put(p, s->bc_der, s->bc_der_len);
	p = der_put(p, ku, ku_len);
	p = der_put(p, s->eku_der, s->eku_der_len);
	p = der_put(p, ski_head, sizeof(ski_head));
	p = der_put(p, ski, 20);
	p = der_put(p, s->aki_der, s->aki_der_len);
	p = der_put_hdr(p, 0x30, san_len);
	p = der_put(p, san_oid_crit, sizeof(san_oid_crit));
	p = der_put_hdr(p, 0x04, der_hdr_len(gn_len) + gn_len);
	p = der_put_hdr(p, 0x30, gn_len);
	for (i = 0; i <= r->ndns; i++) {
		const char *nm = i == 0 ? r->spiffe_id : r->dns[i - 1];

		/* uniformResourceIdentifier [6], dNSName [2]: IA5String */
		nlen = strlen(nm);
		p = der_put_hdr(p, i == 0 ? 0x86 : 0x82, nlen);
		p = der_put(p, nm, nlen);
	}
	if ((size_t)(p - tbs) != tbs_len) {
		mc_err_set(e, MC_ST_INTERNAL, 0, "sign: TBSCertificate length "
		    "%zu, expected %zu", (size_t)(p - tbs), tbs_len);
		goto out;
	}

	/* signatureAlgorithm, then the signature as a BIT STRING with no
	 * unused bits, after room for its header. */
	p = der_put(p, s->sigalg_der, s->sigalg_der_len);
	siglen = s->sig_max;
	/* OpenSSL 3.0's ECDSA can report success with the length of a
	 * failed i2d (-1) when memory runs out: check the length too. */
	if (!sign_tbs(s, c, tbs, tbs_len, p + 5, &siglen) || siglen == 0 ||
	    siglen > s->sig_max)
		goto ossl;
	bs_len = 1 + siglen;
	memmove(p + der_hdr_len(bs_len) + 1, p + 5, siglen);
	p = der_put_hdr(p, 0x03, bs_len);
	*p++ = 0x00;
	p += siglen;
	cert_body = (size_t)(p - tbs);
	/* the Certificate SEQUENCE header goes right before the TBS */
	der_put_hdr(tbs - der_hdr_len(cert_body), 0x30, cert_body);
	out->der_len = der_hdr_len(cert_body) + cert_body;
	if (tbs - der_hdr_len(cert_body) != der)
		memmove(der, tbs - der_hdr_len(cert_body), out->der_len);
	out->der = der;
	der = NULL;
	out->not_before = nb;
	out->not_after = na;
	ca_serial_hex(out->serial, out->serial_hex);
	ret = 0;
	goto out;
ossl:
	ca_openssl_error(e, MC_ST_INTERNAL, "sign");
out:
	if (ret == -1)
		ca_sign_resp_clear(out);
	mc_free(der);
	OPENSSL_free(owned);
	return ret;
}

void
ca_sign_resp_clear(struct ca_sign_resp *r)
{
	if (r == NULL)
		return;
	mc_free(r->der);
	memset(r, 0, sizeof(*r));
}

/*
 * Wire forms. Request: "MCQ1", then u32-length-prefixed fields: ID,
 * SPKI, DNS count (u32) and names, then not_before and not_after as
 * big-endian 64-bit. Response: "MCP1", u8 status (0 ok), then on success
 * serial (16), u8 clamped, times, u32-prefixed DER; on failure u32 reason
 * and a u32-prefixed message.
 */
static int
put_u32(struct mc_buf *b, uint32_t v, struct mc_err *e)
{
	unsigned char p[4] = { v >> 24, v >> 16, v >> 8, v };

	return mc_buf_append(b, p, 4, e);
}

static int
put_i64(struct mc_buf *b, int64_t sv, struct mc_err *e)
{
	uint64_t v = (uint64_t)sv;
	unsigned char p[8];
	int i;

	for (i = 7; i >= 0; i--, v >>= 8)
		p[i] = (unsigned char)v;
	return mc_buf_append(b, p, 8, e);
}

static int
put_bytes(struct mc_buf *b, const void *p, size_t n, struct mc_err *e)
{
	if (n > UINT32_MAX || put_u32(b, (uint32_t)n, e) == -1)
		return -1;
	return mc_buf_append(b, p, n, e);
}

struct rd {
	const unsigned char *p;
	size_t left;
	bool bad;
};

static uint32_t
get_u32(struct rd *r)
{
	uint32_t v;

	if (r->bad || r->left < 4) {
		r->bad = true;
		return 0;
	}
	v = (uint32_t)r->p[0] << 24 | (uint32_t)r->p[1] << 16 |
	    (uint32_t)r->p[2] << 8 | r->p[3];
	r->p += 4;
	r->left -= 4;
	return v;
}

static int64_t
get_i64(struct rd *r)
{
	uint64_t v = 0;
	int i;

	if (r->bad || r->left < 8) {
		r->bad = true;
		return 0;
	}
	for (i = 0; i < 8; i++)
		v = v << 8 | r->p[i];
	r->p += 8;
	r->left -= 8;
	return (int64_t)v;
}

static const unsigned char *
get_bytes(struct rd *r, size_t max, size_t *n)
{
	const unsigned char *p;
	uint32_t len = get_u32(r);

	if (r->bad || len > max || len > r->left) {
		r->bad = true;
		return NULL;
	}
	p = r->p;
	r->p += len;
	r->left -= len;
	*n = len;
	return p;
}

int
ca_sign_req_encode(const struct ca_sign_req *r, struct mc_buf *out,
    struct mc_err *e)
{
	size_t i;

	if (mc_buf_append(out, "MCQ1", 4, e) == -1 ||
	    put_bytes(out, r->spiffe_id, strlen(r->spiffe_id), e) == -1 ||
	    put_bytes(out, r->spki, r->spki_len, e) == -1 ||
	    put_u32(out, (uint32_t)r->ndns, e) == -1)
		return -1;
	for (i = 0; i < r->ndns; i++)
		if (put_bytes(out, r->dns[i], strlen(r->dns[i]), e) == -1)
			return -1;
	if (put_i64(out, r->not_before, e) == -1 ||
	    put_i64(out, r->not_after, e) == -1)
		return -1;
	return 0;
}

/* Copies n bytes to *mem as a NUL-terminated string, refusing NULs. */
static const char *
take_str(const unsigned char *p, size_t n, char **mem)
{
	char *s = *mem;

	if (memchr(p, '\0', n) != NULL)
		return NULL;
	memcpy(s, p, n);
	s[n] = '\0';
	*mem += n + 1;
	return s;
}

int
ca_sign_req_decode(const unsigned char *p, size_t len,
    struct ca_sign_req_msg *m, struct mc_err *e)
{
	struct rd r = { p, len, false };
	const unsigned char *f;
	const char **dns;
	char *mem;
	size_t n, i, ndns;

	memset(m, 0, sizeof(*m));
	if (len < 4 || memcmp(p, "MCQ1", 4) != 0) {
		mc_err_set(e, MC_ST_PARSE, 0, "sign request: not a version 1 "
		    "request");
		return -1;
	}
	r.p += 4;
	r.left -= 4;
	/* Every string fits in the message itself, so len bounds them all;
	 * one block holds the strings, the SPKI and the DNS array. */
	if ((m->mem = mc_calloc(1, len + 1 + (CA_SIGN_MAX_DNS + 1) *
	    (sizeof(char *) + 1))) == NULL) {
		mc_err_set(e, MC_ST_NOMEM, 0, "sign request: out of memory");
		return -1;
	}
	dns = m->mem;
	mem = (char *)(dns + CA_SIGN_MAX_DNS + 1);
	f = get_bytes(&r, MESHCA_ID_MAX, &n);
	if (f == NULL || (m->req.spiffe_id = take_str(f, n, &mem)) == NULL)
		goto bad;
	f = get_bytes(&r, CA_SPKI_MAX, &n);
	if (f == NULL)
		goto bad;
	memcpy(mem, f, n);
	m->req.spki = (const unsigned char *)mem;
	m->req.spki_len = n;
	mem += n;
	ndns = get_u32(&r);
	if (r.bad || ndns > CA_SIGN_MAX_DNS)
		goto bad;
	for (i = 0; i < ndns; i++) {
		f = get_bytes(&r, 253, &n);
		if (f == NULL || (dns[i] = take_str(f, n, &mem)) == NULL)
			goto bad;
	}
	m->req.dns = dns;
	m->req.ndns = ndns;
	m->req.not_before = get_i64(&r);
	m->req.not_after = get_i64(&r);
	m->req.key_checked = false; /* from outside: decode and check it */
	if (r.bad || r.left != 0)
		goto bad;
	return 0;
bad:
	ca_sign_req_msg_clear(m);
	mc_err_set(e, MC_ST_PARSE, 0, "sign request: truncated, oversized or "
	    "trailing data");
	return -1;
}

void
ca_sign_req_msg_clear(struct ca_sign_req_msg *m)
{
	if (m == NULL)
		return;
	mc_free(m->mem);
	memset(m, 0, sizeof(*m));
}

int
ca_sign_resp_encode(const struct ca_sign_resp *r, const struct mc_err *err,
    struct mc_buf *out, struct mc_err *e)
{
	unsigned char c;

	if (mc_buf_append(out, "MCP1", 4, e) == -1)
		return -1;
	if (err != NULL && err->status != 0) {
		c = (unsigned char)err->status;
		return mc_buf_append(out, &c, 1, e) == -1 ||
		    put_u32(out, (uint32_t)err->reason, e) == -1 ||
		    put_bytes(out, err->msg, strlen(err->msg), e) == -1 ?
		    -1 : 0;
	}
	c = 0;
	if (mc_buf_append(out, &c, 1, e) == -1 ||
	    mc_buf_append(out, r->serial, CA_SERIAL_LEN, e) == -1)
		return -1;
	c = r->clamped ? 1 : 0;
	if (mc_buf_append(out, &c, 1, e) == -1 ||
	    put_i64(out, r->not_before, e) == -1 ||
	    put_i64(out, r->not_after, e) == -1 ||
	    put_bytes(out, r->der, r->der_len, e) == -1)
		return -1;
	return 0;
}

int
ca_sign_resp_decode(const unsigned char *p, size_t len,
    struct ca_sign_resp *r, struct mc_err *e)
{
	struct rd rd = { p, len, false };
	const unsigned char *f;
	unsigned char st;
	uint32_t reason;
	size_t n;

	memset(r, 0, sizeof(*r));
	if (len < 5 || memcmp(p, "MCP1", 4) != 0)
		goto bad;
	st = p[4];
	rd.p += 5;
	rd.left -= 5;
	if (st != 0) {
		reason = get_u32(&rd);
		f = get_bytes(&rd, MC_ERR_MAX - 1, &n);
		if (f == NULL || rd.left != 0 || st > MC_ST_INTERNAL)
			goto bad;
		mc_err_set(e, st, (int)reason, "%.*s", (int)n,
		    (const char *)f);
		return -1;
	}
	if (rd.left < CA_SERIAL_LEN + 1)
		goto bad;
	memcpy(r->serial, rd.p, CA_SERIAL_LEN);
	r->clamped = rd.p[CA_SERIAL_LEN] != 0;
	rd.p += CA_SERIAL_LEN + 1;
	rd.left -= CA_SERIAL_LEN + 1;
	r->not_before = get_i64(&rd);
	r->not_after = get_i64(&rd);
	f = get_bytes(&rd, CA_SIGN_MAX_DER, &n);
	if (f == NULL || rd.left != 0 || n == 0)
		goto bad;
	if ((r->der = mc_malloc(n)) == NULL) {
		mc_err_set(e, MC_ST_NOMEM, 0, "sign response: out of memory");
		return -1;
	}
	memcpy(r->der, f, n);
	r->der_len = n;
	ca_serial_hex(r->serial, r->serial_hex);
	return 0;
bad:
	mc_err_set(e, MC_ST_PARSE, 0, "sign response: not a well-formed "
	    "version 1 response");
	return -1;
}
