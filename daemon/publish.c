/*
 * publish.c: builds the objects meshcad writes (the per-account Secret
 * and the bundle ConfigMap) and judges Secrets found in the cluster.
 *
 * Trusted input: none. A Secret comes from the API server and anyone with
 * write access to Secrets in its namespace may have changed it, so every
 * field is checked: the chain is verified as an X.509-SVID under our own
 * bundle with libmeshca-verify, the key must be the leaf's, and the ID
 * must be exactly the account's. Key material is never copied into an
 * error or log message.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <meshca/id.h>
#include <meshca/svid.h>

#include "ca/signer.h"
#include "common/alloc.h"
#include "common/status.h"
#include "daemon/publish.h"
#include "k8s/config.h"

static const char *const check_names[DAEMON_CHECK_MAX] = {
	"ok", "deleted", "garbage", "key_mismatch", "wrong_id", "untrusted",
	"root_changed", "owner"
};

const char *
daemon_check_name(enum daemon_check c)
{
	if ((unsigned)c >= DAEMON_CHECK_MAX)
		return "unknown";
	return check_names[c];
}

char *
daemon_base64(const void *p, size_t n)
{
	char *out;

	if (n > (1u << 28))
		return NULL;
	if ((out = mc_malloc(4 * ((n + 2) / 3) + 1)) == NULL)
		return NULL;
	EVP_EncodeBlock((unsigned char *)out, p, (int)n);
	return out;
}

/* Sets obj[key] = base64(s); the encoded copy of a key is wiped. */
static int
set_b64(json_t *obj, const char *key, const char *s, bool secret)
{
	size_t n = strlen(s);
	char *b;
	int rc;

	if ((b = daemon_base64(s, n)) == NULL)
		return -1;
	rc = json_object_set_new(obj, key, json_string(b));
	if (secret)
		mc_free_secret(b, strlen(b));
	else
		mc_free(b);
	return rc;
}

json_t *
daemon_secret_build(enum daemon_secret_format f, const char *ns,
    const char *sa, const char *sa_uid, const struct daemon_leaf *l,
    struct mc_err *e)
{
	json_t *s = NULL, *data, *meta;
	char name[320];
	bool tls = f == DAEMON_SECRET_TLS;

	snprintf(name, sizeof(name), "%s%s", DAEMON_SECRET_PREFIX, sa);
	/*
	 * The ownerReference makes the garbage collector delete the Secret
	 * with its account, even while meshcad is down; meshcad deletes it
	 * itself too, after revoking (kubernetes-api.md §8).
	 */
	s = json_pack("{s:s, s:s, s:s, s:{s:s, s:s, s:{s:s}, s:{s:s, s:s},"
	    " s:[{s:s, s:s, s:s, s:s}]}, s:{}}",
	    "apiVersion", "v1", "kind", "Secret", "type",
	    tls ? DAEMON_SECRET_TYPE_TLS : DAEMON_SECRET_TYPE_ISTIO,
	    "metadata", "name", name, "namespace", ns, "labels",
	    DAEMON_LABEL_MANAGED_BY, DAEMON_LABEL_MANAGED_BY_VALUE,
	    "annotations", DAEMON_ANNOT_SA, sa, DAEMON_ANNOT_SERIAL,
	    l->serial != NULL ? l->serial : "", "ownerReferences",
	    "apiVersion", "v1", "kind", "ServiceAccount", "name", sa, "uid",
	    sa_uid, "data");
	if (s == NULL)
		goto nomem;
	data = json_object_get(s, "data");
	meta = json_object_get(s, "metadata");
	if (l->superseded != NULL && l->superseded[0] != '\0' &&
	    json_object_set_new(json_object_get(meta, "annotations"),
	    DAEMON_ANNOT_SUPERSEDED, json_string(l->superseded)) == -1)
		goto nomem;
	if (set_b64(data, tls ? "tls.crt" : "cert-chain.pem", l->chain_pem,
	    false) == -1 ||
	    set_b64(data, tls ? "tls.key" : "key.pem", l->key_pem, true) ==
	    -1 ||
	    set_b64(data, tls ? "ca.crt" : "root-cert.pem", l->root_pem,
	    false) == -1)
		goto nomem;
	return s;
nomem:
	json_decref(s);
	mc_err_set(e, MC_ST_NOMEM, 0, "secret %s/%s: out of memory", ns,
	    name);
	return NULL;
}

int
daemon_serial_norm(const char *in, char *out, size_t outlen)
{
	char digits[CA_SERIAL_HEX];
	size_t n = 0, seen = 0, i;
	char ch;

	if (in == NULL || outlen < CA_SERIAL_HEX)
		return -1;
	if (in[0] == '0' && (in[1] == 'x' || in[1] == 'X'))
		in += 2;
	for (i = 0; in[i] != '\0'; i++) {
		ch = in[i];
		if (ch == ':')
			continue;
		if (ch >= 'A' && ch <= 'F')
			ch = (char)(ch - 'A' + 'a');
		if (!((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f')))
			return -1;
		seen++;
		if (n == 0 && ch == '0')
			continue; /* a leading zero */
		if (n == CA_SERIAL_HEX - 1)
			return -1;
		digits[n++] = ch;
	}
	if (seen == 0)
		return -1;
	/* RFC 5280 4.1.2.2: a serial is a positive integer; ours have 16
	 * octets (ca/signer.h), which the ledger writes as 32 digits. */
	memset(out, '0', CA_SERIAL_HEX - 1 - n);
	memcpy(out + CA_SERIAL_HEX - 1 - n, digits, n);
	out[CA_SERIAL_HEX - 1] = '\0';
	return 0;
}

/*
 * A positive decimal number from annotation text (the cluster's: any
 * bytes), ended by stop; strtoll reports what sscanf cannot, a value out
 * of range. Sets *end past it.
 */
static int
pending_number(const char *p, char stop, int64_t *v, const char **end)
{
	char *e;
	long long x;

	if (*p < '0' || *p > '9')
		return -1;
	errno = 0;
	x = strtoll(p, &e, 10);
	if (errno != 0 || e == p || *e != stop || x <= 0)
		return -1;
	*v = (int64_t)x;
	*end = e;
	return 0;
}

/* An even number of hex digits, at most DAEMON_KID_MAX bytes, to the
 * end of tok: a key identifier. */
static unsigned char
hex_digit(char ch)
{
	if (ch >= '0' && ch <= '9')
		return (unsigned char)(ch - '0');
	if (ch >= 'a' && ch <= 'f')
		return (unsigned char)(ch - 'a' + 10);
	return (unsigned char)(ch - 'A' + 10);
}

static int
pending_kid(const char *tok, unsigned char *kid, size_t *kid_len)
{
	size_t hl = strspn(tok, "0123456789abcdefABCDEF"), i;

	if (hl == 0 || tok[hl] != '\0' || hl % 2 != 0 ||
	    hl / 2 > DAEMON_KID_MAX)
		return -1;
	for (i = 0; i < hl / 2; i++)
		kid[i] = (unsigned char)(hex_digit(tok[2 * i]) << 4 |
		    hex_digit(tok[2 * i + 1]));
	*kid_len = hl / 2;
	return 0;
}

/* One SERIAL:NOTAFTER:DUE[:KEYID] entry: 1 to 63 hex digits, two
 * numbers, and an optional key identifier in hex. */
static int
pending_entry(const char *tok, char *ser, size_t sersz,
    struct daemon_pending *out)
{
	size_t hl = strspn(tok, "0123456789abcdefABCDEF");
	const char *p;

	if (hl == 0 || hl >= sersz || tok[hl] != ':')
		return -1;
	memcpy(ser, tok, hl);
	ser[hl] = '\0';
	out->kid_len = 0;
	if (pending_number(tok + hl + 1, ':', &out->not_after, &p) == -1)
		return -1;
	if (pending_number(p + 1, '\0', &out->due, &p) == 0)
		return 0;
	if (pending_number(p + 1, ':', &out->due, &p) == -1 ||
	    pending_kid(p + 1, out->kid, &out->kid_len) == -1)
		return -1;
	return 0;
}

size_t
daemon_pending_parse(const char *s, struct daemon_pending *out, size_t max)
{
	char tok[64 + 2 * 24 + 2 * DAEMON_KID_MAX], ser[64];
	struct daemon_pending one;
	size_t n = 0, len;

	while (s != NULL && *s != '\0' && n < max) {
		s += strspn(s, " \t\n");
		len = strcspn(s, " \t\n");
		if (len == 0)
			break;
		if (len < sizeof(tok)) {
			memcpy(tok, s, len);
			tok[len] = '\0';
			memset(&one, 0, sizeof(one));
			if (pending_entry(tok, ser, sizeof(ser), &one) == 0 &&
			    daemon_serial_norm(ser, one.serial,
			    sizeof(one.serial)) == 0)
				out[n++] = one; /* out past n is left alone */
		}
		s += len;
	}
	return n;
}

int
daemon_pending_format(const struct daemon_pending *v, size_t n, char *buf,
    size_t len)
{
	size_t i, k, off = 0;
	int w;

	if (len == 0)
		return -1;
	buf[0] = '\0';
	for (i = 0; i < n; i++) {
		w = snprintf(buf + off, len - off, "%s%s:%lld:%lld%s",
		    i > 0 ? " " : "", v[i].serial, (long long)v[i].not_after,
		    (long long)v[i].due, v[i].kid_len > 0 ? ":" : "");
		if (w < 0 || (size_t)w >= len - off)
			return -1;
		off += (size_t)w;
		for (k = 0; k < v[i].kid_len && k < DAEMON_KID_MAX; k++) {
			if (len - off < 3)
				return -1;
			snprintf(buf + off, 3, "%02x", v[i].kid[k]);
			off += 2;
		}
	}
	return 0;
}

json_t *
daemon_bundle_cm_build(const char *ns, const char *root_pem,
    const char *bundle_json, const char *crl_pem, struct mc_err *e)
{
	json_t *c;

	c = json_pack("{s:s, s:s, s:{s:s, s:s, s:{s:s}}, s:{s:s, s:s, s:s}}",
	    "apiVersion", "v1", "kind", "ConfigMap", "metadata", "name",
	    DAEMON_BUNDLE_CM, "namespace", ns, "labels",
	    DAEMON_LABEL_MANAGED_BY, DAEMON_LABEL_MANAGED_BY_VALUE, "data",
	    "root-cert.pem", root_pem, "bundle.spiffe.json", bundle_json,
	    "crl.pem", crl_pem);
	if (c == NULL)
		mc_err_set(e, MC_ST_NOMEM, 0, "configmap %s/%s: out of memory",
		    ns, DAEMON_BUNDLE_CM);
	return c;
}

static bool
str_field_is(const json_t *o, const char *key, const char *want)
{
	const char *s = json_string_value(json_object_get(o, key));

	return s != NULL && strcmp(s, want) == 0;
}

bool
daemon_bundle_cm_matches(const json_t *cm, const char *root_pem,
    const char *bundle_json, const char *crl_pem)
{
	const json_t *d = json_object_get(cm, "data");

	return json_is_object(d) && json_object_size(d) == 3 &&
	    str_field_is(d, "root-cert.pem", root_pem) &&
	    str_field_is(d, "bundle.spiffe.json", bundle_json) &&
	    str_field_is(d, "crl.pem", crl_pem);
}

/* Decodes data[key] of a Secret; NULL when absent or not base64. */
static char *
secret_field(const json_t *secret, const char *key, size_t *len)
{
	const json_t *d = json_object_get(secret, "data");
	const char *s = json_string_value(json_object_get(d, key));

	if (s == NULL)
		return NULL;
	return k8s_base64_decode(s, strlen(s), len, NULL);
}

char *
daemon_secret_leaf_pem(const json_t *secret, size_t *len)
{
	char *p;

	if ((p = secret_field(secret, "cert-chain.pem", len)) == NULL)
		p = secret_field(secret, "tls.crt", len);
	return p;
}

static bool
owner_ok(const json_t *secret, const char *sa, const char *sa_uid)
{
	const json_t *meta = json_object_get(secret, "metadata");
	const json_t *refs = json_object_get(meta, "ownerReferences");
	const json_t *ann = json_object_get(meta, "annotations");
	size_t i;

	if (!str_field_is(ann, DAEMON_ANNOT_SA, sa))
		return false;
	for (i = 0; i < json_array_size(refs); i++) {
		const json_t *r = json_array_get(refs, i);

		if (str_field_is(r, "kind", "ServiceAccount") &&
		    str_field_is(r, "name", sa) &&
		    (sa_uid == NULL || str_field_is(r, "uid", sa_uid)))
			return true;
	}
	return false;
}

static int
leaf_info(const char *pem, size_t len, struct daemon_secret_info *info,
    X509 **leaf)
{
	const ASN1_OCTET_STRING *akid;
	BIO *b;
	X509 *x = NULL;
	int rc = -1;

	if ((b = BIO_new_mem_buf(pem, (int)len)) == NULL ||
	    (x = PEM_read_bio_X509(b, NULL, NULL, NULL)) == NULL)
		goto out;
	if (ca_cert_serial_hex(x, info->serial, NULL) == -1 ||
	    ca_time_from_asn1(X509_get0_notBefore(x), &info->not_before) ==
	    -1 ||
	    ca_time_from_asn1(X509_get0_notAfter(x), &info->not_after) == -1)
		goto out;
	akid = X509_get0_authority_key_id(x);
	info->akid_len = 0;
	if (akid != NULL && (size_t)ASN1_STRING_length(akid) <=
	    sizeof(info->akid)) {
		info->akid_len = (size_t)ASN1_STRING_length(akid);
		memcpy(info->akid, ASN1_STRING_get0_data(akid),
		    info->akid_len);
	}
	*leaf = x;
	x = NULL;
	rc = 0;
out:
	ERR_clear_error();
	X509_free(x);
	BIO_free(b);
	return rc;
}

enum daemon_check
daemon_secret_check(const json_t *secret, enum daemon_secret_format f,
    const char *sa, const char *sa_uid, const char *spiffe_id,
    struct meshca_verifier *v, const char *root_pem,
    struct daemon_secret_info *info, char *why, size_t whylen)
{
	bool tls = f == DAEMON_SECRET_TLS;
	const char *type;
	char *chain = NULL, *key = NULL, *root = NULL;
	size_t chain_len = 0, key_len = 0, root_len = 0;
	struct meshca_id *peer = NULL;
	struct meshca_error me;
	EVP_PKEY *pk = NULL;
	X509 *leaf = NULL;
	BIO *b = NULL;
	enum daemon_check c;

	memset(info, 0, sizeof(*info));
	snprintf(why, whylen, "ok");
	if (secret == NULL) {
		snprintf(why, whylen, "secret is missing");
		return DAEMON_CHECK_MISSING;
	}
	type = json_string_value(json_object_get(secret, "type"));
	if (type == NULL || strcmp(type, tls ? DAEMON_SECRET_TYPE_TLS :
	    DAEMON_SECRET_TYPE_ISTIO) != 0) {
		snprintf(why, whylen, "type is not %s",
		    tls ? DAEMON_SECRET_TYPE_TLS : DAEMON_SECRET_TYPE_ISTIO);
		c = DAEMON_CHECK_OWNER;
		goto out;
	}
	chain = secret_field(secret, tls ? "tls.crt" : "cert-chain.pem",
	    &chain_len);
	key = secret_field(secret, tls ? "tls.key" : "key.pem", &key_len);
	root = secret_field(secret, tls ? "ca.crt" : "root-cert.pem",
	    &root_len);
	if (chain == NULL || key == NULL || root == NULL ||
	    leaf_info(chain, chain_len, info, &leaf) == -1) {
		snprintf(why, whylen, "data is missing or not PEM");
		c = DAEMON_CHECK_GARBAGE;
		goto out;
	}
	if ((b = BIO_new_mem_buf(key, (int)key_len)) == NULL ||
	    (pk = PEM_read_bio_PrivateKey(b, NULL, NULL, NULL)) == NULL) {
		ERR_clear_error();
		snprintf(why, whylen, "key does not parse");
		c = DAEMON_CHECK_GARBAGE;
		goto out;
	}
	/* The pair must work: a workload presenting this leaf signs with
	 * this key (X509-SVID §5: the SVID's key is the workload's). */
	if (X509_check_private_key(leaf, pk) != 1) {
		ERR_clear_error();
		snprintf(why, whylen, "key does not match the certificate");
		c = DAEMON_CHECK_KEY_MISMATCH;
		goto out;
	}
	if (meshca_verify_chain_pem(v, chain, chain_len, &peer, &me) !=
	    MESHCA_OK) {
		snprintf(why, whylen, "chain rejected: %s", me.message);
		c = DAEMON_CHECK_UNTRUSTED;
		goto out;
	}
	if (strcmp(meshca_id_get0_string(peer), spiffe_id) != 0) {
		snprintf(why, whylen, "certificate is for %s, not %s",
		    meshca_id_get0_string(peer), spiffe_id);
		c = DAEMON_CHECK_WRONG_ID;
		goto out;
	}
	if (strcmp(root, root_pem) != 0) {
		snprintf(why, whylen, "root-cert.pem is not the current "
		    "bundle");
		c = DAEMON_CHECK_ROOT;
		goto out;
	}
	if (!owner_ok(secret, sa, sa_uid)) {
		snprintf(why, whylen, "annotation or ownerReference does not "
		    "name the service account%s", sa_uid ? " and its uid" : "");
		c = DAEMON_CHECK_OWNER;
		goto out;
	}
	c = DAEMON_CHECK_OK;
out:
	meshca_id_free(peer);
	EVP_PKEY_free(pk);
	X509_free(leaf);
	BIO_free(b);
	mc_free(chain);
	if (key != NULL)
		mc_free_secret(key, key_len);
	mc_free(root);
	return c;
}
