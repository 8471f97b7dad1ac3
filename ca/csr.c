/*
 * csr.c: CSR policy (see csr.h). The CSR is hostile input: its size is
 * bounded, its signature is checked with its own key before anything in
 * it is believed, and of what it asks for only the key is used. Asking
 * for a different identity or for CA powers is refused rather than
 * silently dropped, so a misconfigured or malicious workload is noticed.
 */
#include <stdbool.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include <meshca/meshca.h>

#include "ca/csr.h"
#include "ca/keygen.h"
#include "common/status.h"
#include "spiffe/bundle.h"

/*
 * Out of memory inside OpenSSL is not the requester's fault: it must not
 * read as a malformed or badly signed CSR (found by check-torture), nor
 * let an extension go unchecked.
 */
static bool
nomem(struct mc_err *e)
{
	if (!spiffe_ossl_nomem())
		return false;
	ERR_clear_error();
	mc_err_set(e, MC_ST_NOMEM, 0, "CSR: out of memory");
	return true;
}

static int
check_extensions(X509_REQ *req, const char *authorized_id, struct mc_err *e)
{
	STACK_OF(X509_EXTENSION) *exts;
	X509_EXTENSION *ext;
	BASIC_CONSTRAINTS *bc;
	ASN1_BIT_STRING *ku;
	GENERAL_NAMES *gens;
	GENERAL_NAME *g;
	const char *uri;
	int i, j, nid, ret = -1;

	if ((exts = X509_REQ_get_extensions(req)) == NULL && nomem(e))
		goto out;
	for (i = 0; i < sk_X509_EXTENSION_num(exts); i++) {
		ext = sk_X509_EXTENSION_value(exts, i);
		nid = OBJ_obj2nid(X509_EXTENSION_get_object(ext));
		if (nid == NID_basic_constraints) {
			if ((bc = X509V3_EXT_d2i(ext)) == NULL && nomem(e))
				goto out;
			if (bc != NULL && bc->ca) {
				BASIC_CONSTRAINTS_free(bc);
				mc_err_set(e, MC_ST_REJECTED,
				    MESHCA_REASON_LEAF_IS_CA, "CSR: asks for "
				    "CA:true (X509-SVID 4.1: a leaf MUST NOT "
				    "be a CA)");
				goto out;
			}
			BASIC_CONSTRAINTS_free(bc);
		} else if (nid == NID_key_usage) {
			if ((ku = X509V3_EXT_d2i(ext)) == NULL && nomem(e))
				goto out;
			if (ku != NULL && (ASN1_BIT_STRING_get_bit(ku, 5) ||
			    ASN1_BIT_STRING_get_bit(ku, 6))) {
				ASN1_BIT_STRING_free(ku);
				mc_err_set(e, MC_ST_REJECTED,
				    MESHCA_REASON_KEY_USAGE, "CSR: asks for "
				    "keyCertSign or cRLSign (X509-SVID 4.3)");
				goto out;
			}
			ASN1_BIT_STRING_free(ku);
		} else if (nid == NID_subject_alt_name) {
			if ((gens = X509V3_EXT_d2i(ext)) == NULL && nomem(e))
				goto out;
			for (j = 0; gens != NULL &&
			    j < sk_GENERAL_NAME_num(gens); j++) {
				g = sk_GENERAL_NAME_value(gens, j);
				if (g->type != GEN_URI)
					continue;
				uri = (const char *)ASN1_STRING_get0_data(
				    g->d.uniformResourceIdentifier);
				if (strcmp(uri, authorized_id) != 0) {
					mc_err_set(e, MC_ST_REJECTED,
					    MESHCA_REASON_NOT_AUTHORIZED,
					    "CSR: asks for %.200s, but the "
					    "caller is authorized for %.200s",
					    uri, authorized_id);
					GENERAL_NAMES_free(gens);
					goto out;
				}
			}
			GENERAL_NAMES_free(gens);
		}
	}
	ret = 0;
out:
	sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
	ERR_clear_error();
	return ret;
}

int
ca_csr_check(const char *pem, size_t len, const char *authorized_id,
    unsigned char *spki, size_t *spki_len, struct mc_err *e)
{
	X509_REQ *req = NULL;
	EVP_PKEY *pk;
	BIO *bio = NULL;
	struct ca_key k = { 0 };
	unsigned char *p = NULL;
	int n, ret = -1;

	if (len > CA_CSR_MAX) {
		mc_err_set(e, MC_ST_PARSE, 0, "CSR: larger than %d bytes",
		    CA_CSR_MAX);
		return -1;
	}
	if ((bio = BIO_new_mem_buf(pem, (int)len)) == NULL ||
	    (req = PEM_read_bio_X509_REQ(bio, NULL, NULL, NULL)) == NULL) {
		if (bio == NULL || nomem(e)) {
			ERR_clear_error();
			mc_err_set(e, MC_ST_NOMEM, 0, "CSR: out of memory");
			goto out;
		}
		ERR_clear_error();
		mc_err_set(e, MC_ST_PARSE, 0, "CSR: not a PEM CERTIFICATE "
		    "REQUEST");
		goto out;
	}
	if ((pk = X509_REQ_get0_pubkey(req)) == NULL) {
		if (nomem(e))
			goto out;
		ERR_clear_error();
		mc_err_set(e, MC_ST_REJECTED, 0, "CSR: public key does not "
		    "decode");
		goto out;
	}
	/* RFC 2986 4.2: the signature proves possession of the key. */
	if (X509_REQ_verify(req, pk) != 1) {
		if (nomem(e))
			goto out;
		ERR_clear_error();
		mc_err_set(e, MC_ST_REJECTED, 0, "CSR: signature does not "
		    "verify with its own public key (RFC 2986 4.2)");
		goto out;
	}
	if (ca_key_from_pkey(pk, &k, e) == -1) {
		mc_err_prefix(e, "CSR");
		goto out;
	}
	if (check_extensions(req, authorized_id, e) == -1)
		goto out;
	if ((n = i2d_X509_PUBKEY(X509_REQ_get_X509_PUBKEY(req), &p)) <= 0 ||
	    (size_t)n > CA_SPKI_MAX) {
		if (!nomem(e))
			ca_openssl_error(e, MC_ST_INTERNAL,
			    "CSR: encode public key");
		goto out;
	}
	memcpy(spki, p, (size_t)n);
	*spki_len = (size_t)n;
	ret = 0;
out:
	OPENSSL_free(p);
	ca_key_clear(&k);
	X509_REQ_free(req);
	BIO_free(bio);
	return ret;
}
