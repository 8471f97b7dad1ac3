/*
 * fuzz_bundle_json.c: libFuzzer target for the SPIFFE bundle JSON reader
 * (spiffe/bundle_json.c via meshca_bundle_parse() with a trust domain).
 * Besides not crashing or leaking, an accepted bundle must round-trip:
 * meshca_bundle_write_spiffe_json() output parses back to the same
 * roots, sequence and refresh hint, and writing that again gives the
 * same bytes; its roots written as PEM parse back as the same number
 * of roots. JSON without a trust domain must be a usage error.
 *
 * The input is untrusted in full; the first byte that is not blank is
 * forced to '{' so that every input takes the JSON path.
 */
#include <stdint.h>
#include <string.h>

#include <meshca/meshca.h>
#include <meshca/bundle.h>

#include "fuzz/fuzz.h"

#define TD "example.org"

static void
check_round_trip(const struct meshca_bundle *b)
{
	struct meshca_bundle *j = NULL, *p = NULL;
	struct meshca_error err;
	char *js = NULL, *js2 = NULL, *pem = NULL;
	size_t jlen = 0, jlen2 = 0, plen = 0;
	enum meshca_status st;
	uint64_t seq = meshca_bundle_sequence(b);
	int64_t hint = meshca_bundle_refresh_hint(b);

	st = meshca_bundle_write_spiffe_json(b, TD, seq, hint, &js, &jlen,
	    NULL);
	if (st == MESHCA_ERR_NOMEM && fuzz_injecting())
		goto out;
	FUZZ_CHECK(st == MESHCA_OK && strlen(js) == jlen, "write JSON");
	memset(&err, 0, sizeof(err));
	st = meshca_bundle_parse(js, jlen, TD, &j, &err);
	/* jansson 2.14 reports some of its own allocation failures as a
	 * syntax error ("invalid token"), which the library cannot tell
	 * from one (fuzz/regress-pending/README): when allocations are
	 * being failed, a parse error of our own output is that. */
	if ((st == MESHCA_ERR_NOMEM || st == MESHCA_ERR_PARSE) &&
	    fuzz_injecting())
		goto out;
	if (st != MESHCA_OK)
		fprintf(stderr, "status %d: %s\n", (int)st, err.message);
	FUZZ_CHECK(st == MESHCA_OK, "written JSON parses");
	FUZZ_CHECK(meshca_bundle_count(j) == meshca_bundle_count(b),
	    "same roots after a JSON round trip");
	FUZZ_CHECK(meshca_bundle_sequence(j) == seq, "same sequence");
	FUZZ_CHECK(meshca_bundle_refresh_hint(j) == hint, "same hint");
	st = meshca_bundle_write_spiffe_json(j, TD, seq, hint, &js2, &jlen2,
	    NULL);
	if (st == MESHCA_ERR_NOMEM && fuzz_injecting())
		goto out;
	FUZZ_CHECK(st == MESHCA_OK && jlen2 == jlen &&
	    memcmp(js, js2, jlen) == 0, "JSON writing is idempotent");
	if (meshca_bundle_count(b) == 0)
		goto out; /* a PEM document with no block is an error */
	st = meshca_bundle_write_pem(b, TD, &pem, &plen, NULL);
	if (st == MESHCA_ERR_NOMEM && fuzz_injecting())
		goto out;
	FUZZ_CHECK(st == MESHCA_OK, "write PEM");
	st = meshca_bundle_parse(pem, plen, TD, &p, NULL);
	if (st == MESHCA_ERR_NOMEM && fuzz_injecting())
		goto out;
	FUZZ_CHECK(st == MESHCA_OK &&
	    meshca_bundle_count(p) == meshca_bundle_count(b),
	    "same roots after a PEM round trip");
out:
	meshca_free(js);
	meshca_free(js2);
	meshca_free(pem);
	meshca_bundle_free(j);
	meshca_bundle_free(p);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct meshca_bundle *b = NULL;
	struct meshca_error err;
	enum meshca_status st;
	char *doc;
	size_t i;

	if ((doc = malloc(size + 1)) == NULL)
		return 0;
	memcpy(doc, data, size);
	for (i = 0; i < size && strchr(" \t\r\n", doc[i]) != NULL &&
	    doc[i] != '\0'; i++)
		;
	if (i < size && doc[i] != '[')
		doc[i] = '{';
	else if (i == size)
		doc[size++] = '{';

	FUZZ_CHECK(meshca_bundle_parse(doc, size, NULL, &b, NULL) ==
	    MESHCA_ERR_USAGE && b == NULL, "JSON needs a trust domain");

	memset(&err, 0, sizeof(err));
	st = meshca_bundle_parse(doc, size, TD, &b, &err);
	FUZZ_CHECK(st == MESHCA_OK || st == MESHCA_ERR_PARSE ||
	    st == MESHCA_ERR_REJECTED || st == MESHCA_ERR_NOMEM,
	    "status is one the header lists");
	FUZZ_CHECK((st == MESHCA_OK) == (b != NULL), "object iff success");
	if (st != MESHCA_OK)
		FUZZ_CHECK(err.status == st && err.message[0] != '\0' &&
		    memchr(err.message, '\0', sizeof(err.message)) != NULL,
		    "error record filled");
	else
		check_round_trip(b);
	meshca_bundle_free(b);
	free(doc);
	return 0;
}
