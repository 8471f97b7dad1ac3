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
	X509_NAME *issuer;
	X509_EXTENSION *bc;	/* CA:false, critical */
	X509_EXTENSION *ku;	/* digitalSignature */
	X509_EXTENSION *ku_rsa; /* digitalSignature, keyEncipherment */
	X509_EXTENSION *eku;	/* serverAuth, clientAuth */
	X509_EXTENSION *aki;	/* keyid of the authority */
	const EVP_MD *md;	/* NULL for Ed25519 */
	EVP_MD *sha1;
	EVP_MD *mdfetched;
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

static X509_EXTENSION *
ext_aki(const struct ca_signer *s)
{
	const ASN1_OCTET_STRING *ski = X509_get0_subject_key_id(s->cert);
	AUTHORITY_KEYID *aki = AUTHORITY_KEYID_new();
	X509_EXTENSION *x = NULL;
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen;
	const unsigned char *pk;
	int pklen;

	if (aki == NULL || (aki->keyid = ASN1_OCTET_STRING_new()) == NULL)
		goto out;
	if (ski != NULL) {
		if (!ASN1_OCTET_STRING_set(aki->keyid, ski->data, ski->length))
			goto out;
	} else {
		if (!X509_PUBKEY_get0_param(NULL, &pk, &pklen, NULL,
		    X509_get_X509_PUBKEY(s->cert)) ||
		    key_id(s->sha1, pk, (size_t)pklen, md, &mdlen) == -1 ||
		    !ASN1_OCTET_STRING_set(aki->keyid, md, (int)mdlen))
			goto out;
	}
	x = X509V3_EXT_i2d(NID_authority_key_identifier, 0, aki);
out:
	AUTHORITY_KEYID_free(aki);
	return x;
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
	    (s->issuer = X509_NAME_dup(X509_get_subject_name(cert))) == NULL ||
	    (s->bc = ext_bc_leaf()) == NULL ||
	    (s->ku = ext_ku(KU_DIGITAL_SIGNATURE)) == NULL ||
	    (s->ku_rsa = ext_ku(KU_DIGITAL_SIGNATURE |
	    KU_KEY_ENCIPHERMENT)) == NULL ||
	    (s->eku = ext_eku()) == NULL || (s->aki = ext_aki(s)) == NULL)
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
	X509_NAME_free(s->issuer);
	X509_EXTENSION_free(s->bc);
	X509_EXTENSION_free(s->ku);
	X509_EXTENSION_free(s->ku_rsa);
	X509_EXTENSION_free(s->eku);
	X509_EXTENSION_free(s->aki);
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
 * Sets the certificate's public key. An EC P-256/P-384 SPKI in its one
 * DER form is copied in as algorithm + point, skipping OpenSSL's decoder
 * (the slow part of X509_set_pubkey); anything else is decoded and
 * checked. *rsa says whether keyEncipherment applies.
 */
static int
set_pubkey(const struct ca_signer *s, X509 *x, const unsigned char *spki,
    size_t len, bool checked, bool *rsa, struct mc_err *e)
{
	X509_PUBKEY *xpk = X509_get_X509_PUBKEY(x);
	const unsigned char *p = spki;
	unsigned char *pt = NULL;
	EVP_PKEY *pk = NULL;
	struct ca_key k;
	int curve = 0;
	size_t plen = 0;

	*rsa = false;
	if (!checked)
		goto decode;
	if (len == sizeof(spki_p256) + 64 &&
	    memcmp(spki, spki_p256, sizeof(spki_p256)) == 0) {
		curve = NID_X9_62_prime256v1;
		plen = 65;
	} else if (len == sizeof(spki_p384) + 96 &&
	    memcmp(spki, spki_p384, sizeof(spki_p384)) == 0) {
		curve = NID_secp384r1;
		plen = 97;
	}
	if (curve != 0) {
		if ((pt = OPENSSL_malloc(plen)) == NULL)
			goto ossl;
		memcpy(pt, spki + len - plen, plen);
		if (!X509_PUBKEY_set0_param(xpk,
		    OBJ_nid2obj(NID_X9_62_id_ecPublicKey), V_ASN1_OBJECT,
		    OBJ_nid2obj(curve), pt, (int)plen)) {
			OPENSSL_free(pt);
			goto ossl;
		}
		return 0;
	}
decode:
	if (len > CA_SPKI_MAX ||
	    (pk = d2i_PUBKEY(NULL, &p, (long)len)) == NULL ||
	    p != spki + len) {
		ERR_clear_error();
		EVP_PKEY_free(pk);
		mc_err_set(e, MC_ST_REJECTED, 0, "sign request: public key does "
		    "not decode as a SubjectPublicKeyInfo (RFC 5280 4.1.2.7; an "
		    "EC point must lie on its curve, SEC 1 3.2.2)");
		return -1;
	}
	if (ca_key_from_pkey(pk, &k, e) == -1) {
		EVP_PKEY_free(pk);
		return -1;
	}
	*rsa = ca_key_type_is_rsa(k.type);
	ca_key_clear(&k);
	if (!X509_set_pubkey(x, pk)) {
		EVP_PKEY_free(pk);
		goto ossl;
	}
	EVP_PKEY_free(pk);
	(void)s;
	return 0;
ossl:
	ca_openssl_error(e, MC_ST_INTERNAL, "sign: set public key");
	return -1;
}

static int
add_ski(const struct ca_signer *s, X509 *x, struct mc_err *e)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen;
	const unsigned char *pk;
	ASN1_OCTET_STRING *ski = NULL;
	int pklen, ret = -1;

	if (!X509_PUBKEY_get0_param(NULL, &pk, &pklen, NULL,
	    X509_get_X509_PUBKEY(x)) ||
	    key_id(s->sha1, pk, (size_t)pklen, md, &mdlen) == -1 ||
	    (ski = ASN1_OCTET_STRING_new()) == NULL ||
	    !ASN1_OCTET_STRING_set(ski, md, (int)mdlen) ||
	    !X509_add1_ext_i2d(x, NID_subject_key_identifier, ski, 0,
	    X509V3_ADD_DEFAULT)) {
		ca_openssl_error(e, MC_ST_INTERNAL, "sign: subject key id");
		goto out;
	}
	ret = 0;
out:
	ASN1_OCTET_STRING_free(ski);
	return ret;
}

static int
add_san(X509 *x, const struct ca_sign_req *r, struct mc_err *e)
{
	GENERAL_NAMES *gens = sk_GENERAL_NAME_new_null();
	GENERAL_NAME *g = NULL;
	ASN1_IA5STRING *s = NULL;
	size_t i;
	int ret = -1;

	if (gens == NULL)
		goto ossl;
	for (i = 0; i <= r->ndns; i++) {
		if ((g = GENERAL_NAME_new()) == NULL ||
		    (s = ASN1_IA5STRING_new()) == NULL)
			goto ossl;
		if (!ASN1_STRING_set(s, i == 0 ? r->spiffe_id : r->dns[i - 1],
		    -1))
			goto ossl;
		GENERAL_NAME_set0_value(g, i == 0 ? GEN_URI : GEN_DNS, s);
		s = NULL;
		if (!sk_GENERAL_NAME_push(gens, g))
			goto ossl;
		g = NULL;
	}
	/* RFC 5280 4.2.1.6: critical, because the subject is empty. */
	if (!X509_add1_ext_i2d(x, NID_subject_alt_name, gens, 1,
	    X509V3_ADD_DEFAULT))
		goto ossl;
	ret = 0;
	goto out;
ossl:
	ca_openssl_error(e, MC_ST_INTERNAL, "sign: subjectAltName");
out:
	ASN1_IA5STRING_free(s);
	GENERAL_NAME_free(g);
	GENERAL_NAMES_free(gens);
	return ret;
}

struct ca_sign_cache {
	EVP_MD_CTX *tmpl;
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
	mc_free(c);
}

static int
sign_x509(const struct ca_signer *s, struct ca_sign_cache *c, X509 *x)
{
	EVP_MD_CTX *m;
	int ok;

	if (c == NULL || c->tmpl == NULL)
		return X509_sign(x, s->key, s->md) > 0;
	if ((m = EVP_MD_CTX_new()) == NULL)
		return 0;
	ok = EVP_MD_CTX_copy_ex(m, c->tmpl) == 1 && X509_sign_ctx(x, m) > 0;
	EVP_MD_CTX_free(m);
	return ok;
}

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
	X509 *x = NULL;
	BIGNUM *bn = NULL;
	unsigned char *der = NULL;
	int64_t nb, na;
	bool rsa, zero;
	int n, i, ret = -1;

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
	do {
		if (RAND_bytes(out->serial, CA_SERIAL_LEN) != 1)
			goto ossl;
		for (zero = true, i = 0; i < CA_SERIAL_LEN; i++)
			zero = zero && out->serial[i] == 0;
	} while (zero);
	if ((x = X509_new()) == NULL || !X509_set_version(x, X509_VERSION_3) ||
	    (bn = BN_bin2bn(out->serial, CA_SERIAL_LEN, NULL)) == NULL ||
	    BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) == NULL ||
	    !X509_set_issuer_name(x, s->issuer) ||
	    ASN1_TIME_set(X509_getm_notBefore(x), (time_t)nb) == NULL ||
	    ASN1_TIME_set(X509_getm_notAfter(x), (time_t)na) == NULL)
		goto ossl;
	if (set_pubkey(s, x, r->spki, r->spki_len, r->key_checked, &rsa,
	    e) == -1)
		goto out;
	if (!X509_add_ext(x, s->bc, -1) ||
	    !X509_add_ext(x, rsa ? s->ku_rsa : s->ku, -1) ||
	    !X509_add_ext(x, s->eku, -1))
		goto ossl;
	if (add_ski(s, x, e) == -1)
		goto out;
	if (!X509_add_ext(x, s->aki, -1))
		goto ossl;
	if (add_san(x, r, e) == -1)
		goto out;
	if (!sign_x509(s, c, x))
		goto ossl;
	if ((n = i2d_X509(x, &der)) <= 0)
		goto ossl;
	if ((out->der = mc_malloc((size_t)n)) == NULL) {
		mc_err_set(e, MC_ST_NOMEM, 0, "sign: out of memory");
		goto out;
	}
	memcpy(out->der, der, (size_t)n);
	out->der_len = (size_t)n;
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
	OPENSSL_free(der);
	BN_free(bn);
	X509_free(x);
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
