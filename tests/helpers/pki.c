/*
 * pki.c: builds test certificates and CRLs with OpenSSL at run time, so
 * the tests need no checked-in key material and can make exactly the
 * broken certificate each rule needs. Trusts its caller (test code);
 * any OpenSSL failure ends the program with exit status 99.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include "tests/helpers/pki.h"

static _Noreturn void
pki_die(const char *what)
{
	fprintf(stderr, "pki: %s failed\n", what);
	ERR_print_errors_fp(stderr);
	exit(99);
}

static EVP_PKEY *
pki_keygen(enum pki_key_type t)
{
	EVP_PKEY *k = NULL;

	switch (t) {
	case PKI_KEY_P256:
		k = EVP_EC_gen("P-256");
		break;
	case PKI_KEY_P384:
		k = EVP_EC_gen("P-384");
		break;
	case PKI_KEY_RSA2048:
		k = EVP_RSA_gen(2048);
		break;
	case PKI_KEY_ED25519:
		k = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
		break;
	}
	if (k == NULL)
		pki_die("key generation");
	return k;
}

static void
pki_add_ext(X509 *x, X509 *issuer, int nid, const char *value)
{
	X509V3_CTX ctx;
	X509_EXTENSION *ext;

	X509V3_set_ctx(&ctx, issuer, x, NULL, NULL, 0);
	X509V3_set_ctx_nodb(&ctx);
	ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
	if (ext == NULL || !X509_add_ext(x, ext, -1))
		pki_die(OBJ_nid2sn(nid));
	X509_EXTENSION_free(ext);
}

static void
pki_add_san(X509 *x, const struct pki_opts *o)
{
	char buf[4096];
	size_t i, n = 0;
	int r;

	buf[0] = '\0';
	if (o->san_critical) {
		r = snprintf(buf, sizeof(buf), "critical");
		n = (size_t)r;
	}
	for (i = 0; i < PKI_MAX_NAMES && o->uris[i] != NULL; i++) {
		r = snprintf(buf + n, sizeof(buf) - n, "%sURI:%s",
		    n ? "," : "", o->uris[i]);
		n += (size_t)r;
	}
	for (i = 0; i < PKI_MAX_NAMES && o->dns[i] != NULL; i++) {
		r = snprintf(buf + n, sizeof(buf) - n, "%sDNS:%s",
		    n ? "," : "", o->dns[i]);
		n += (size_t)r;
	}
	if (n >= sizeof(buf))
		pki_die("SAN too long");
	if (o->uris[0] == NULL && o->dns[0] == NULL)
		return;
	pki_add_ext(x, NULL, NID_subject_alt_name, buf);
}

static int
pki_is_none(const char *s)
{
	return s != NULL && strcmp(s, "none") == 0;
}

void
pki_make(const struct pki_opts *o, const struct pki_cert *issuer,
    struct pki_cert *out)
{
	X509 *x;
	X509_NAME *name;
	EVP_PKEY *key, *signkey;
	X509 *signcert;
	ASN1_INTEGER *sn;
	BIGNUM *bn;
	time_t now = time(NULL), nb, na;
	const char *cn = o->cn != NULL ? o->cn : "meshca test";
	const char *s;
	const EVP_MD *md = NULL;

	if (o->key != NULL) {
		key = o->key;
		EVP_PKEY_up_ref(key);
	} else
		key = pki_keygen(o->key_type);
	if ((x = X509_new()) == NULL || !X509_set_version(x, X509_VERSION_3))
		pki_die("X509_new");
	if ((bn = BN_new()) == NULL)
		pki_die("BN_new");
	if (o->serial != 0) {
		if (!BN_set_word(bn, (BN_ULONG)o->serial))
			pki_die("BN_set_word");
	} else if (!BN_rand(bn, 127, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY))
		pki_die("BN_rand");
	if ((sn = BN_to_ASN1_INTEGER(bn, NULL)) == NULL ||
	    !X509_set_serialNumber(x, sn))
		pki_die("serial");
	ASN1_INTEGER_free(sn);
	BN_free(bn);

	name = X509_get_subject_name(x);
	if (*cn != '\0' && !X509_NAME_add_entry_by_txt(name, "CN",
	    MBSTRING_UTF8, (const unsigned char *)cn, -1, -1, 0))
		pki_die("subject");
	if (!X509_set_issuer_name(x, issuer != NULL ?
	    X509_get_subject_name(issuer->cert) : name))
		pki_die("issuer");
	nb = o->not_before ? o->not_before : now - 3600;
	na = o->not_after ? o->not_after : now + 86400;
	if (X509_time_adj_ex(X509_getm_notBefore(x), 0, 0, &nb) == NULL ||
	    X509_time_adj_ex(X509_getm_notAfter(x), 0, 0, &na) == NULL)
		pki_die("validity");
	if (!X509_set_pubkey(x, key))
		pki_die("pubkey");

	signcert = issuer != NULL ? issuer->cert : x;
	signkey = issuer != NULL ? issuer->key : key;

	if (!pki_is_none(o->basic_constraints))
		pki_add_ext(x, signcert, NID_basic_constraints,
		    o->basic_constraints != NULL ? o->basic_constraints :
		    o->ca ? "critical,CA:TRUE" : "critical,CA:FALSE");
	if (!pki_is_none(o->key_usage))
		pki_add_ext(x, signcert, NID_key_usage,
		    o->key_usage != NULL ? o->key_usage : o->ca ?
		    "critical,keyCertSign,cRLSign" :
		    "critical,digitalSignature");
	s = o->ext_key_usage;
	if (s == NULL && !o->ca)
		s = "serverAuth,clientAuth";
	if (s != NULL && !pki_is_none(s))
		pki_add_ext(x, signcert, NID_ext_key_usage, s);
	pki_add_ext(x, signcert, NID_subject_key_identifier, "hash");
	if (issuer != NULL)
		pki_add_ext(x, signcert, NID_authority_key_identifier,
		    "keyid:always");
	pki_add_san(x, o);
	if (o->name_constraints != NULL)
		pki_add_ext(x, signcert, NID_name_constraints,
		    o->name_constraints);
	if (o->unknown_critical_oid != NULL) {
		ASN1_OBJECT *obj = OBJ_txt2obj(o->unknown_critical_oid, 1);
		ASN1_OCTET_STRING *os = ASN1_OCTET_STRING_new();
		X509_EXTENSION *ext;

		/* DER NULL as the value: any content will do. */
		static const unsigned char der_null[] = { 0x05, 0x00 };

		if (obj == NULL || os == NULL ||
		    !ASN1_OCTET_STRING_set(os, der_null, sizeof(der_null)) ||
		    (ext = X509_EXTENSION_create_by_OBJ(NULL, obj, 1, os)) ==
		    NULL || !X509_add_ext(x, ext, -1))
			pki_die("unknown extension");
		X509_EXTENSION_free(ext);
		ASN1_OBJECT_free(obj);
		ASN1_OCTET_STRING_free(os);
	}
	if (EVP_PKEY_get_id(signkey) != EVP_PKEY_ED25519)
		md = EVP_sha256();
	if (X509_sign(x, signkey, md) <= 0)
		pki_die("X509_sign");
	out->cert = x;
	out->key = key;
}

void
pki_root(const char *td, struct pki_cert *out)
{
	struct pki_opts o = { 0 };
	char cn[300], uri[300];

	snprintf(cn, sizeof(cn), "%s root", td);
	snprintf(uri, sizeof(uri), "spiffe://%s", td);
	o.cn = cn;
	o.ca = 1;
	o.uris[0] = uri;
	pki_make(&o, NULL, out);
}

void
pki_intermediate(const char *td, const struct pki_cert *issuer,
    struct pki_cert *out)
{
	struct pki_opts o = { 0 };
	char cn[300], uri[300];

	snprintf(cn, sizeof(cn), "%s intermediate", td);
	snprintf(uri, sizeof(uri), "spiffe://%s", td);
	o.cn = cn;
	o.ca = 1;
	o.uris[0] = uri;
	pki_make(&o, issuer, out);
}

void
pki_leaf(const char *id, const struct pki_cert *issuer, struct pki_cert *out)
{
	struct pki_opts o = { 0 };

	o.cn = "";
	o.san_critical = 1;
	o.uris[0] = id;
	pki_make(&o, issuer, out);
}

void
pki_cert_clear(struct pki_cert *c)
{
	X509_free(c->cert);
	EVP_PKEY_free(c->key);
	c->cert = NULL;
	c->key = NULL;
}

static char *
pki_bio_string(BIO *b, size_t *len)
{
	char *p, *s;
	long n = BIO_get_mem_data(b, &p);

	if (n < 0 || (s = malloc((size_t)n + 1)) == NULL)
		pki_die("BIO_get_mem_data");
	memcpy(s, p, (size_t)n);
	s[n] = '\0';
	if (len != NULL)
		*len = (size_t)n;
	BIO_free(b);
	return s;
}

char *
pki_pem(X509 *const *certs, size_t n, size_t *len)
{
	BIO *b = BIO_new(BIO_s_mem());
	size_t i;

	if (b == NULL)
		pki_die("BIO_new");
	for (i = 0; i < n; i++)
		if (!PEM_write_bio_X509(b, certs[i]))
			pki_die("PEM_write_bio_X509");
	return pki_bio_string(b, len);
}

X509_CRL *
pki_crl(const struct pki_cert *issuer, X509 *const *revoked, size_t n,
    time_t last, time_t next)
{
	X509_CRL *crl;
	X509_REVOKED *r;
	ASN1_TIME *t;
	time_t now = time(NULL);
	size_t i;
	const EVP_MD *md = NULL;

	if ((crl = X509_CRL_new()) == NULL || !X509_CRL_set_version(crl, 1) ||
	    !X509_CRL_set_issuer_name(crl, X509_get_subject_name(issuer->cert)))
		pki_die("X509_CRL_new");
	if ((t = ASN1_TIME_new()) == NULL)
		pki_die("ASN1_TIME_new");
	if (X509_time_adj_ex(t, 0, 0, last ? &last : &(time_t){ now - 60 }) ==
	    NULL || !X509_CRL_set1_lastUpdate(crl, t))
		pki_die("lastUpdate");
	if (X509_time_adj_ex(t, 0, 0, next ? &next : &(time_t){ now + 3600 })
	    == NULL || !X509_CRL_set1_nextUpdate(crl, t))
		pki_die("nextUpdate");
	for (i = 0; i < n; i++) {
		if ((r = X509_REVOKED_new()) == NULL ||
		    !X509_REVOKED_set_serialNumber(r,
		    X509_get_serialNumber(revoked[i])) ||
		    X509_time_adj_ex(t, 0, 0, &(time_t){ now - 120 }) == NULL ||
		    !X509_REVOKED_set_revocationDate(r, t) ||
		    !X509_CRL_add0_revoked(crl, r))
			pki_die("revoked entry");
	}
	ASN1_TIME_free(t);
	X509_CRL_sort(crl);
	if (EVP_PKEY_get_id(issuer->key) != EVP_PKEY_ED25519)
		md = EVP_sha256();
	if (X509_CRL_sign(crl, issuer->key, md) <= 0)
		pki_die("X509_CRL_sign");
	return crl;
}

char *
pki_crl_pem(X509_CRL *const *crls, size_t n, size_t *len)
{
	BIO *b = BIO_new(BIO_s_mem());
	size_t i;

	if (b == NULL)
		pki_die("BIO_new");
	for (i = 0; i < n; i++)
		if (!PEM_write_bio_X509_CRL(b, crls[i]))
			pki_die("PEM_write_bio_X509_CRL");
	return pki_bio_string(b, len);
}

char *
pki_key_pem(EVP_PKEY *key, size_t *len)
{
	BIO *b = BIO_new(BIO_s_mem());

	if (b == NULL || !PEM_write_bio_PrivateKey(b, key, NULL, NULL, 0,
	    NULL, NULL))
		pki_die("PEM_write_bio_PrivateKey");
	return pki_bio_string(b, len);
}

void
pki_write_file(const char *path, const char *data, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	if (fd == -1 || write(fd, data, len) != (ssize_t)len || close(fd))
		pki_die(path);
}
