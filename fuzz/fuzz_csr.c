/*
 * fuzz_csr.c: libFuzzer target for the CSR check of the CA (ca/csr.c:
 * ca_csr_check), the gate between a workload's request and the signer.
 * The authorized identity is fixed; the CSR is the input. Byte 0 picks
 * the form: even, the rest is the PEM document; odd, it is DER, wrapped
 * in a "CERTIFICATE REQUEST" PEM block here so that mutations reach the
 * ASN.1.
 *
 * Differential: when we accept, OpenSSL must read the same CSR, its
 * self-signature must verify, the SubjectPublicKeyInfo we return must be
 * the CSR's, and every URI SAN it asks for must be the authorized ID.
 */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "ca/csr.h"
#include "ca/keygen.h"
#include "common/err.h"
#include "common/status.h"
#include "fuzz/fuzz.h"

#define AUTHORIZED "spiffe://example.org/ns/default/sa/web"

static char *
wrap_der(const uint8_t *p, size_t n, size_t *outlen)
{
	static const char begin[] = "-----BEGIN CERTIFICATE REQUEST-----\n";
	static const char end[] = "-----END CERTIFICATE REQUEST-----\n";
	size_t j, chunk;
	char *pem, *o;

	if ((pem = malloc(sizeof(begin) + sizeof(end) + (n + 2) / 3 * 4 +
	    n / 48 + 2)) == NULL)
		return NULL;
	o = pem;
	memcpy(o, begin, sizeof(begin) - 1);
	o += sizeof(begin) - 1;
	for (j = 0; j < n; j += chunk) {
		chunk = n - j < 48 ? n - j : 48;
		o += EVP_EncodeBlock((unsigned char *)o, p + j, (int)chunk);
		*o++ = '\n';
	}
	memcpy(o, end, sizeof(end) - 1);
	o += sizeof(end) - 1;
	*o = '\0';
	*outlen = (size_t)(o - pem);
	return pem;
}

/* Every URI SAN the request asks for is AUTHORIZED. */
static bool
uris_authorized(X509_REQ *req)
{
	STACK_OF(X509_EXTENSION) *exts;
	GENERAL_NAMES *gens;
	const GENERAL_NAME *g;
	bool ok = true;
	int i;

	if ((exts = X509_REQ_get_extensions(req)) == NULL)
		return true;
	gens = X509V3_get_d2i(exts, NID_subject_alt_name, NULL, NULL);
	for (i = 0; i < sk_GENERAL_NAME_num(gens); i++) {
		g = sk_GENERAL_NAME_value(gens, i);
		if (g->type == GEN_URI && ((size_t)ASN1_STRING_length(
		    g->d.uniformResourceIdentifier) != strlen(AUTHORIZED) ||
		    memcmp(ASN1_STRING_get0_data(g->d.uniformResourceIdentifier),
		    AUTHORIZED, strlen(AUTHORIZED)) != 0))
			ok = false;
	}
	GENERAL_NAMES_free(gens);
	sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
	return ok;
}

static void
check_with_openssl(const char *pem, size_t len, const unsigned char *spki,
    size_t spki_len)
{
	BIO *bio;
	X509_REQ *req = NULL;
	EVP_PKEY *pk;
	unsigned char *der = NULL;
	int n;

	FUZZ_CHECK((bio = BIO_new_mem_buf(pem, (int)len)) != NULL, "BIO");
	req = PEM_read_bio_X509_REQ(bio, NULL, NULL, NULL);
	FUZZ_CHECK(req != NULL, "OpenSSL reads the CSR we accept");
	pk = X509_REQ_get0_pubkey(req);
	FUZZ_CHECK(pk != NULL && X509_REQ_verify(req, pk) == 1,
	    "the self-signature of an accepted CSR verifies");
	n = i2d_PUBKEY(pk, &der);
	FUZZ_CHECK(n > 0 && (size_t)n == spki_len &&
	    memcmp(der, spki, spki_len) == 0, "the SPKI is the CSR's");
	FUZZ_CHECK(uris_authorized(req), "no URI SAN but the authorized ID");
	OPENSSL_free(der);
	X509_REQ_free(req);
	BIO_free(bio);
	ERR_clear_error();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	unsigned char spki[CA_SPKI_MAX];
	size_t spki_len = sizeof(spki), len;
	struct mc_err e;
	char *pem;
	int rc;

	if (size < 1)
		return 0;
	if (data[0] & 1)
		pem = wrap_der(data + 1, size - 1, &len);
	else if ((pem = malloc(size)) != NULL) {
		len = size - 1;
		memcpy(pem, data + 1, len);
	}
	if (pem == NULL)
		return 0;
	mc_err_clear(&e);
	rc = ca_csr_check(pem, len, AUTHORIZED, spki, &spki_len, &e);
	if (rc == -1) {
		FUZZ_CHECK(e.msg[0] != '\0', "a failure says why");
		FUZZ_CHECK(e.status == MC_ST_PARSE ||
		    e.status == MC_ST_REJECTED || e.status == MC_ST_NOMEM ||
		    e.status == MC_ST_USAGE, "status");
	} else {
		FUZZ_CHECK(rc == 0, "0 or -1");
		FUZZ_CHECK(spki_len > 0 && spki_len <= CA_SPKI_MAX, "SPKI size");
		if (!fuzz_injecting())
			check_with_openssl(pem, len, spki, spki_len);
	}
	free(pem);
	return 0;
}
