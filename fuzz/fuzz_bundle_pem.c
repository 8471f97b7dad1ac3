/*
 * fuzz_bundle_pem.c: libFuzzer target for the PEM trust-bundle reader
 * (spiffe/bundle.c via meshca_bundle_parse()), differential against
 * OpenSSL's own reader. The same bytes are read by PEM_read_bio_X509()
 * in a loop, which is what a plain OpenSSL program would do with a CA
 * file, and the two verdicts must agree:
 *  - when we accept, OpenSSL reads the same certificates (same DER, in
 *    order, duplicates collapsed) and every one has basicConstraints
 *    CA:TRUE;
 *  - when OpenSSL reads only CA certificates, cleanly, from a document
 *    whose every PEM block is a header-less CERTIFICATE holding exactly
 *    one DER certificate, we accept too.
 * Accepted bundles must also survive meshca_bundle_write_pem() and
 * re-parsing unchanged.
 *
 * The input is untrusted in full. A document that starts like JSON goes
 * to the JSON reader instead (fuzz_bundle_json.c covers it) and is only
 * checked for crashes and leaks here.
 */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include <meshca/meshca.h>
#include <meshca/bundle.h>

#include "fuzz/fuzz.h"

#define REF_MAX 64

struct ref {
	X509 *x[REF_MAX];
	int n;		/* certificates read */
	bool clean;	/* ended at "no start line", nothing else wrong */
	bool all_ca;	/* every one has basicConstraints CA:TRUE */
	bool strict;	/* every block a header-less, exact CERTIFICATE */
};

/*
 * A signing certificate as RFC 5280 4.2.1.9 and X509-SVID.md 4.3 have it:
 * basicConstraints CA:TRUE and, if keyUsage is present, keyCertSign; and
 * extensions OpenSSL itself finds well-formed.
 */
static bool
ref_is_ca(X509 *x)
{
	BASIC_CONSTRAINTS *bc;
	ASN1_BIT_STRING *ku;
	int crit;
	bool ca;

	bc = X509_get_ext_d2i(x, NID_basic_constraints, &crit, NULL);
	ca = bc != NULL && bc->ca;
	BASIC_CONSTRAINTS_free(bc);
	ku = X509_get_ext_d2i(x, NID_key_usage, &crit, NULL);
	if (ku != NULL)
		ca = ca && ASN1_BIT_STRING_get_bit(ku, 5);
	else if (crit != -1)
		ca = false; /* present but undecodable */
	ASN1_BIT_STRING_free(ku);
	if (X509_get_extension_flags(x) & EXFLAG_INVALID)
		ca = false;
	return ca;
}

/* OpenSSL's reader, as a CA file is read with it. */
static void
ref_read(const uint8_t *data, size_t size, struct ref *r)
{
	BIO *bio;
	X509 *x;
	unsigned long e;

	memset(r, 0, sizeof(*r));
	r->all_ca = true;
	if ((bio = BIO_new_mem_buf(data, (int)size)) == NULL)
		return;
	while (r->n < REF_MAX &&
	    (x = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL) {
		r->all_ca &= ref_is_ca(x);
		r->x[r->n++] = x;
	}
	e = ERR_peek_last_error();
	r->clean = r->n < REF_MAX && ERR_GET_LIB(e) == ERR_LIB_PEM &&
	    ERR_GET_REASON(e) == PEM_R_NO_START_LINE;
	ERR_clear_error();
	BIO_free(bio);
}

/*
 * Our rules that OpenSSL's loop does not apply: every PEM block (of any
 * name; PEM_read_bio_X509 skips the others) is a CERTIFICATE without
 * headers whose DER is one certificate with no trailing bytes.
 */
static bool
ref_strict(const uint8_t *data, size_t size, const struct ref *r)
{
	BIO *bio;
	char *name = NULL, *hdr = NULL;
	unsigned char *der = NULL;
	long len;
	int i = 0;
	bool ok = true;

	if ((bio = BIO_new_mem_buf(data, (int)size)) == NULL)
		return false;
	while (ok && PEM_read_bio(bio, &name, &hdr, &der, &len)) {
		ok = strcmp(name, PEM_STRING_X509) == 0 && hdr[0] == '\0' &&
		    i < r->n && i2d_X509(r->x[i], NULL) == len;
		i++;
		OPENSSL_free(name);
		OPENSSL_free(hdr);
		OPENSSL_free(der);
	}
	ERR_clear_error();
	BIO_free(bio);
	return ok && i == r->n;
}

static void
ref_free(struct ref *r)
{
	int i;

	for (i = 0; i < r->n; i++)
		X509_free(r->x[i]);
}

/* Reads the PEM we wrote back with OpenSSL: same certificates, in order,
 * duplicates (in the input) collapsed. */
static void
check_written(const char *pem, size_t len, const struct ref *r)
{
	struct ref w;
	int i, j, k;

	ref_read((const uint8_t *)pem, len, &w);
	FUZZ_CHECK(w.clean, "written PEM reads back cleanly");
	for (i = 0, k = 0; i < r->n; i++) {
		for (j = 0; j < i; j++)
			if (X509_cmp(r->x[i], r->x[j]) == 0)
				break;
		if (j < i)
			continue;
		FUZZ_CHECK(k < w.n && X509_cmp(w.x[k], r->x[i]) == 0,
		    "written roots are the input's, in order");
		k++;
	}
	FUZZ_CHECK(k == w.n, "no extra root written");
	ref_free(&w);
}

static bool
looks_like_json(const uint8_t *data, size_t size)
{
	size_t i;

	for (i = 0; i < size && strchr(" \t\r\n", data[i]) != NULL &&
	    data[i] != '\0'; i++)
		;
	return i < size && (data[i] == '{' || data[i] == '[');
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct meshca_bundle *b = NULL, *again = NULL;
	struct meshca_error err;
	enum meshca_status st;
	struct ref r;
	char *pem = NULL, *pem2 = NULL;
	size_t len = 0, len2 = 0;

	memset(&err, 0, sizeof(err));
	st = meshca_bundle_parse((const char *)data, size, NULL, &b, &err);
	FUZZ_CHECK(st == MESHCA_OK || st == MESHCA_ERR_PARSE ||
	    st == MESHCA_ERR_REJECTED || st == MESHCA_ERR_NOMEM ||
	    (st == MESHCA_ERR_USAGE && looks_like_json(data, size)),
	    "status is one the header lists");
	FUZZ_CHECK((st == MESHCA_OK) == (b != NULL), "object iff success");
	if (st != MESHCA_OK) {
		FUZZ_CHECK(err.status == st && err.message[0] != '\0' &&
		    memchr(err.message, '\0', sizeof(err.message)) != NULL,
		    "error record filled");
	}
	if (looks_like_json(data, size) || fuzz_injecting())
		goto out;

	ref_read(data, size, &r);
	if (st == MESHCA_OK) {
		FUZZ_CHECK(r.clean && r.n > 0, "OpenSSL reads what we accept");
		FUZZ_CHECK(r.all_ca, "we accept only CA certificates");
		FUZZ_CHECK(meshca_bundle_count(b) >= 1 &&
		    meshca_bundle_count(b) <= (size_t)r.n, "root count");
		st = meshca_bundle_write_pem(b, NULL, &pem, &len, NULL);
		FUZZ_CHECK(st == MESHCA_OK, "write_pem");
		FUZZ_CHECK(strlen(pem) == len, "write_pem length");
		check_written(pem, len, &r);
		st = meshca_bundle_parse(pem, len, NULL, &again, NULL);
		FUZZ_CHECK(st == MESHCA_OK, "written PEM parses");
		FUZZ_CHECK(meshca_bundle_count(again) == meshca_bundle_count(b),
		    "same count after a round trip");
		st = meshca_bundle_write_pem(again, NULL, &pem2, &len2, NULL);
		FUZZ_CHECK(st == MESHCA_OK && len2 == len &&
		    memcmp(pem, pem2, len) == 0, "write_pem is idempotent");
	} else if (st != MESHCA_ERR_NOMEM && r.clean && r.n > 0 && r.all_ca &&
	    ref_strict(data, size, &r)) {
		fprintf(stderr, "we said: %s\n", err.message);
		FUZZ_CHECK(0, "we accept clean CA certificates OpenSSL reads");
	}
	ref_free(&r);
out:
	meshca_free(pem);
	meshca_free(pem2);
	meshca_bundle_free(again);
	meshca_bundle_free(b);
	return 0;
}
