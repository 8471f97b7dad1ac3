/*
 * bundle_json.c: the SPIFFE bundle format (SPIFFE_Trust_Domain_and_Bundle.md
 * section 4, a JWK Set; X509-SVID.md section 6.1 for the x509-svid keys):
 * reading it into a bundle, and writing a bundle's roots as one.
 *
 * Input is untrusted. jansson bounds nesting depth and rejects duplicate
 * members; the caller (bundle.c) has bounded the size. Each x509-svid key
 * must carry exactly one CA certificate in x5c (standard base64 of DER,
 * RFC 7517 4.7), and any public key parameters it also carries must be
 * those of that certificate. Keys of another "use" or an unknown "kty"
 * are skipped, as section 4 requires. Stricter than X509-SVID.md 6.2: an
 * x509-svid key whose x5c is missing, empty or longer than one is an
 * error, not skipped or truncated.
 */
#include <stdio.h>
#include <string.h>

#include <jansson.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>

#include "common/alloc.h"
#include "common/b64.h"
#include "common/err.h"
#include "common/status.h"
#include "spiffe/bundle.h"
#include "spiffe/id.h"

/* JWK parameters compared with, and written from, the certificate. */
static const char *const jwk_params[] = { "crv", "x", "y", "n", "e" };

/*
 * Strict standard base64 (RFC 4648 4, padded; no whitespace), which x5c
 * requires (RFC 7517 4.7: "base64-encoded (Section 4 of [RFC4648] -- not
 * base64url-encoded)"). *out is mc_malloc'd. what names s in errors.
 */
static int
b64_decode(const char *s, size_t len, unsigned char **out, size_t *outlen,
    const char *what, struct mc_err *e)
{
	if (mc_b64_decode(s, len, MC_B64_NONEMPTY, out, outlen, e) == 0)
		return 0;
	if (e != NULL && e->status == MC_ST_NOMEM)
		mc_err_prefix(e, "%s", what);
	else
		mc_err_set(e, MC_ST_PARSE, 0, "%s: RFC 7517 4.7: x5c[0] is "
		    "not padded standard base64%s", what,
		    strcspn(s, "-_") < len ? " (base64url?)" : "");
	return -1;
}

/* Base64 (url: base64url without padding, RFC 7515 2) of n bytes. */
static json_t *
b64_json(const unsigned char *p, size_t n, bool url)
{
	json_t *j = NULL;
	char *s;
	size_t i, len;

	if (n > 3 * (size_t)MESHCA_BUNDLE_MAX ||
	    (s = mc_malloc(4 * ((n + 2) / 3) + 1)) == NULL)
		return NULL;
	len = (size_t)EVP_EncodeBlock((unsigned char *)s, p, (int)n);
	if (url) {
		while (len > 0 && s[len - 1] == '=')
			len--;
		for (i = 0; i < len; i++)
			s[i] = s[i] == '+' ? '-' : s[i] == '/' ? '_' : s[i];
	}
	j = json_stringn(s, len);
	mc_free(s);
	return j;
}

/* Sets o[name] to base64url of BIGNUM param, left-padded to pad bytes
 * (0: minimal, as base64urlUInt, RFC 7518 2). */
static int
bn_param(json_t *o, const char *name, EVP_PKEY *pk, const char *param,
    int pad)
{
	BIGNUM *bn = NULL;
	unsigned char *buf = NULL;
	int n, rc = -1;

	if (!EVP_PKEY_get_bn_param(pk, param, &bn))
		goto out;
	n = pad > 0 ? pad : BN_num_bytes(bn);
	if (n <= 0)
		n = 1;
	if ((buf = mc_malloc((size_t)n)) == NULL ||
	    BN_bn2binpad(bn, buf, n) != n)
		goto out;
	if (json_object_set_new(o, name, b64_json(buf, (size_t)n, true)) == -1)
		goto out;
	rc = 0;
out:
	BN_free(bn);
	mc_free(buf);
	return rc;
}

/*
 * Adds to o the JWK "kty" and public key parameters of x's key (RFC 7518
 * 6.2 for EC, 6.3 for RSA; RFC 8037 2 for Ed25519). -1 with a message
 * when the key type is not one a SPIFFE bundle can carry.
 */
static int
jwk_from_cert(json_t *o, X509 *x, const char *what, struct mc_err *e)
{
	EVP_PKEY *pk;
	unsigned char raw[32];
	char group[64];
	const char *crv = NULL;
	size_t rawlen = sizeof(raw);
	int flen;

	if ((pk = X509_get0_pubkey(x)) == NULL) {
		if (spiffe_ossl_nomem())
			goto nomem;
		mc_err_set(e, MC_ST_PARSE, 0, "%s: unreadable public key",
		    what);
		return -1;
	}
	switch (EVP_PKEY_get_base_id(pk)) {
	case EVP_PKEY_EC:
		if (EVP_PKEY_get_utf8_string_param(pk,
		    OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof(group), NULL)) {
			if (strcmp(group, "prime256v1") == 0)
				crv = "P-256";
			else if (strcmp(group, "secp384r1") == 0)
				crv = "P-384";
			else if (strcmp(group, "secp521r1") == 0)
				crv = "P-521";
		}
		if (crv == NULL && spiffe_ossl_nomem())
			goto nomem;
		if (crv == NULL)
			goto unsupported;
		flen = (EVP_PKEY_get_bits(pk) + 7) / 8;
		if (json_object_set_new(o, "kty", json_string("EC")) == -1 ||
		    json_object_set_new(o, "crv", json_string(crv)) == -1 ||
		    bn_param(o, "x", pk, OSSL_PKEY_PARAM_EC_PUB_X, flen) == -1 ||
		    bn_param(o, "y", pk, OSSL_PKEY_PARAM_EC_PUB_Y, flen) == -1)
			goto nomem;
		return 0;
	case EVP_PKEY_RSA:
		if (json_object_set_new(o, "kty", json_string("RSA")) == -1 ||
		    bn_param(o, "n", pk, OSSL_PKEY_PARAM_RSA_N, 0) == -1 ||
		    bn_param(o, "e", pk, OSSL_PKEY_PARAM_RSA_E, 0) == -1)
			goto nomem;
		return 0;
	case EVP_PKEY_ED25519:
		if (!EVP_PKEY_get_raw_public_key(pk, raw, &rawlen) ||
		    json_object_set_new(o, "kty", json_string("OKP")) == -1 ||
		    json_object_set_new(o, "crv", json_string("Ed25519")) ==
		    -1 || json_object_set_new(o, "x", b64_json(raw, rawlen,
		    true)) == -1)
			goto nomem;
		return 0;
	}
unsupported:
	mc_err_set(e, MC_ST_REJECTED, MESHCA_REASON_SIGNING_CERT, "%s: "
	    "X509-SVID 6: public key type not expressible as a JWK "
	    "(EC P-256/P-384/P-521, RSA, Ed25519)", what);
	return -1;
nomem:
	mc_err_set(e, MC_ST_NOMEM, 0, "%s: out of memory", what);
	return -1;
}

/*
 * Checks that the key type and any parameters k carries are those of the
 * certificate x. X509-SVID.md 6: the key parameters of an x509-svid JWK
 * describe the public key of its root certificate.
 */
static int
jwk_matches(json_t *k, const char *kty, X509 *x, const char *what,
    struct mc_err *e)
{
	json_t *exp, *v, *ev;
	size_t i;
	int rc = -1;

	if ((exp = json_object()) == NULL) {
		mc_err_set(e, MC_ST_NOMEM, 0, "%s: out of memory", what);
		return -1;
	}
	if (jwk_from_cert(exp, x, what, e) == -1)
		goto out;
	if (strcmp(kty, json_string_value(json_object_get(exp, "kty"))) != 0) {
		mc_err_set(e, MC_ST_REJECTED, MESHCA_REASON_SIGNING_CERT,
		    "%s: X509-SVID 6: kty \"%s\" but the certificate's key "
		    "is %s", what, kty,
		    json_string_value(json_object_get(exp, "kty")));
		goto out;
	}
	for (i = 0; i < sizeof(jwk_params) / sizeof(jwk_params[0]); i++) {
		if ((v = json_object_get(k, jwk_params[i])) == NULL)
			continue;
		ev = json_object_get(exp, jwk_params[i]);
		if (ev == NULL || !json_is_string(v) ||
		    strcmp(json_string_value(v), json_string_value(ev)) != 0) {
			mc_err_set(e, MC_ST_REJECTED,
			    MESHCA_REASON_SIGNING_CERT, "%s: X509-SVID 6: "
			    "\"%s\" does not match the certificate's public "
			    "key", what, jwk_params[i]);
			goto out;
		}
	}
	rc = 0;
out:
	json_decref(exp);
	return rc;
}

/* Reads the one certificate of k's x5c. */
static X509 *
x5c_cert(json_t *k, const char *what, struct mc_err *e)
{
	json_t *x5c, *s;
	unsigned char *der = NULL;
	const unsigned char *p;
	const char *str;
	size_t dlen, slen;
	X509 *x = NULL;

	x5c = json_object_get(k, "x5c");
	/*
	 * X509-SVID.md 6.1: x5c "MUST include exactly one CA certificate".
	 * 6.2 tells consumers to skip an entry without x5c and to use the
	 * first of several; we refuse both instead, so that what is trusted
	 * never depends on which of two readings of a bundle is taken.
	 */
	if (!json_is_array(x5c) || json_array_size(x5c) != 1) {
		mc_err_set(e, MC_ST_PARSE, 0, "%s: X509-SVID 6.1: \"x5c\" must "
		    "be an array of exactly one certificate", what);
		return NULL;
	}
	if (!json_is_string(s = json_array_get(x5c, 0))) {
		mc_err_set(e, MC_ST_PARSE, 0, "%s: RFC 7517 4.7: x5c[0] is "
		    "not a string", what);
		return NULL;
	}
	str = json_string_value(s);
	slen = json_string_length(s);
	if (b64_decode(str, slen, &der, &dlen, what, e) == -1)
		return NULL;
	p = der;
	if ((x = d2i_X509(NULL, &p, (long)dlen)) == NULL &&
	    spiffe_ossl_nomem())
		mc_err_set(e, MC_ST_NOMEM, 0, "%s: out of memory", what);
	else if (x == NULL || p != der + dlen) {
		mc_err_set(e, MC_ST_PARSE, 0, "%s: x5c[0]: %s", what,
		    x == NULL ? "not a DER X.509 certificate" :
		    "trailing bytes after the certificate");
		X509_free(x);
		x = NULL;
	}
	mc_free(der);
	return x;
}

/* Reads an optional non-negative integer member (4.1.1, 4.1.2). */
static int
get_uint(json_t *root, const char *name, const char *rule, json_int_t *v,
    struct mc_err *e)
{
	json_t *j;

	*v = 0;
	if ((j = json_object_get(root, name)) == NULL)
		return 0;
	if (!json_is_integer(j) || json_integer_value(j) < 0) {
		mc_err_set(e, MC_ST_PARSE, 0, "bundle JSON: %s: \"%s\" is not "
		    "a non-negative integer", rule, name);
		return -1;
	}
	*v = json_integer_value(j);
	return 0;
}

int
spiffe_bundle_parse_json(const char *data, size_t len, const char *td,
    struct meshca_bundle **out, struct mc_err *e)
{
	struct meshca_bundle *b = NULL;
	json_t *root, *keys, *k, *use, *kty;
	json_error_t je;
	json_int_t seq, hint;
	X509 *x = NULL;
	char what[48];
	size_t i;
	int rc = -1;

	root = json_loadb(data, len, JSON_REJECT_DUPLICATES, &je);
	/* jansson leaves the error record blank when it cannot even start. */
	if (root == NULL && (json_error_code(&je) ==
	    json_error_out_of_memory || je.text[0] == '\0')) {
		mc_err_set(e, MC_ST_NOMEM, 0, "bundle JSON: out of memory");
		goto out;
	}
	if (root == NULL) {
		/* jansson quotes the input near the error: keep it printable. */
		for (i = 0; je.text[i] != '\0'; i++)
			if (je.text[i] < 0x20 || je.text[i] > 0x7e)
				je.text[i] = '?';
		mc_err_set(e, MC_ST_PARSE, 0, "bundle JSON: line %d column "
		    "%d: %s", je.line, je.column, je.text);
		goto out;
	}
	if (!json_is_object(root)) {
		mc_err_set(e, MC_ST_PARSE, 0, "bundle JSON: SPIFFE bundle 4: "
		    "not a JSON object (JWK Set)");
		goto out;
	}
	/* 4.1.3: "The parameter keys MUST be present." */
	if (!json_is_array(keys = json_object_get(root, "keys"))) {
		mc_err_set(e, MC_ST_PARSE, 0, "bundle JSON: SPIFFE bundle "
		    "4.1.3: \"keys\" %s", keys == NULL ? "is missing" :
		    "is not an array");
		goto out;
	}
	if (get_uint(root, "spiffe_sequence", "SPIFFE bundle 4.1.1", &seq,
	    e) == -1 || get_uint(root, "spiffe_refresh_hint",
	    "SPIFFE bundle 4.1.2", &hint, e) == -1)
		goto out;
	if ((b = spiffe_bundle_new(e)) == NULL)
		goto out;
	spiffe_bundle_set_meta(b, (uint64_t)seq, (int64_t)hint);
	json_array_foreach(keys, i, k) {
		snprintf(what, sizeof(what), "bundle JSON: keys[%zu]", i);
		if (!json_is_object(k)) {
			mc_err_set(e, MC_ST_PARSE, 0, "%s: not an object",
			    what);
			goto out;
		}
		/* 4.2.1 and 4.2.2: "kty" and "use" "MUST be set". */
		use = json_object_get(k, "use");
		kty = json_object_get(k, "kty");
		if (!json_is_string(use) || !json_is_string(kty)) {
			mc_err_set(e, MC_ST_PARSE, 0, "%s: SPIFFE bundle "
			    "4.2.%d: \"%s\" missing or not a string", what,
			    json_is_string(kty) ? 2 : 1,
			    json_is_string(kty) ? "use" : "kty");
			goto out;
		}
		/*
		 * 4.2.1/4.2.2: "Clients encountering an unknown key type
		 * [or] unknown use values MUST ignore the entire JWK
		 * element." jwt-svid keys are for JWT-SVIDs, not ours.
		 */
		if (strcmp(json_string_value(use), "x509-svid") != 0 ||
		    (strcmp(json_string_value(kty), "EC") != 0 &&
		    strcmp(json_string_value(kty), "RSA") != 0 &&
		    strcmp(json_string_value(kty), "OKP") != 0))
			continue;
		if ((x = x5c_cert(k, what, e)) == NULL ||
		    jwk_matches(k, json_string_value(kty), x, what, e) == -1 ||
		    spiffe_bundle_add_root(b, x, td, what, e) == -1)
			goto out;
		X509_free(x);
		x = NULL;
	}
	if (spiffe_bundle_seal(b, e) == -1)
		goto out;
	*out = b;
	b = NULL;
	rc = 0;
out:
	X509_free(x);
	meshca_bundle_free(b);
	json_decref(root);
	return rc;
}

int
spiffe_bundle_write_json(const struct meshca_bundle *b, const char *td,
    uint64_t sequence, int64_t refresh_hint, char **out, size_t *outlen,
    struct mc_err *e)
{
	json_t *root = NULL, *keys, *k, *x5c;
	unsigned char *der = NULL;
	const char *rtd;
	char *s = NULL, what[32];
	size_t i, n;
	int dlen, rc = -1;
	X509 *x;

	if (td != NULL && spiffe_td_check(td, strlen(td), e) == -1) {
		e->status = MC_ST_USAGE;
		goto out;
	}
	if (sequence > INT64_MAX || refresh_hint < 0) {
		mc_err_set(e, MC_ST_USAGE, 0, "bundle JSON: sequence above "
		    "2^63-1 or negative refresh hint");
		goto out;
	}
	if ((root = json_object()) == NULL ||
	    (sequence != 0 && json_object_set_new(root, "spiffe_sequence",
	    json_integer((json_int_t)sequence)) == -1) ||
	    (refresh_hint != 0 && json_object_set_new(root,
	    "spiffe_refresh_hint", json_integer(refresh_hint)) == -1) ||
	    json_object_set_new(root, "keys", keys = json_array()) == -1)
		goto nomem;
	for (i = 0; (x = spiffe_bundle_get0_root(b, i, &rtd)) != NULL; i++) {
		if (!spiffe_bundle_root_of(rtd, td))
			continue;
		snprintf(what, sizeof(what), "root %zu", i + 1);
		der = NULL;
		if ((dlen = i2d_X509(x, &der)) <= 0)
			goto nomem;
		/* "kty" first for the reader; jwk_from_cert sets it. */
		if (json_array_append_new(keys, k = json_object()) == -1 ||
		    json_object_set_new(k, "kty", json_null()) == -1 ||
		    json_object_set_new(k, "use", json_string("x509-svid")) ==
		    -1 || json_object_set_new(k, "x5c", x5c = json_array()) ==
		    -1 || json_array_append_new(x5c, b64_json(der,
		    (size_t)dlen, false)) == -1)
			goto nomem;
		OPENSSL_free(der);
		der = NULL;
		if (jwk_from_cert(k, x, what, e) == -1)
			goto out;
	}
	n = json_dumpb(root, NULL, 0, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	if (n == 0 || (s = mc_malloc(n + 2)) == NULL ||
	    json_dumpb(root, s, n, JSON_INDENT(2) | JSON_PRESERVE_ORDER) != n)
		goto nomem;
	s[n++] = '\n';
	s[n] = '\0';
	*out = s;
	if (outlen != NULL)
		*outlen = n;
	s = NULL;
	rc = 0;
	goto out;
nomem:
	mc_err_set(e, MC_ST_NOMEM, 0, "bundle JSON: out of memory");
out:
	OPENSSL_free(der);
	mc_free(s);
	json_decref(root);
	return rc;
}
