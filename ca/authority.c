/*
 * authority.c: making, importing, saving and loading signing authorities
 * (see authority.h). An imported CA comes from files an operator put in
 * place: nothing in them is trusted until the key file's mode, the
 * key/certificate match, the CA bits and the chain to the given root
 * have been checked. Rows read back from the ledger are re-parsed and
 * their keys authenticated by the KEK before use.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include <meshca/id.h>

#include "ca/authority.h"
#include "common/alloc.h"
#include "common/status.h"
#include "store/events.h"

#define PEM_FILE_MAX (1024 * 1024)

void
ca_authority_free(struct ca_authority *a)
{
	if (a == NULL)
		return;
	mc_free(a->trust_domain);
	X509_free(a->cert);
	EVP_PKEY_free(a->key);
	sk_X509_pop_free(a->chain, X509_free);
	X509_free(a->root);
	mc_free(a);
}

static struct ca_authority *
authority_new(const char *td, struct mc_err *e)
{
	struct ca_authority *a;

	if ((a = mc_calloc(1, sizeof(*a))) == NULL ||
	    (a->trust_domain = mc_strdup(td)) == NULL ||
	    (a->chain = sk_X509_new_null()) == NULL) {
		ca_authority_free(a);
		mc_err_set(e, MC_ST_NOMEM, 0, "authority: out of memory");
		return NULL;
	}
	return a;
}

static int
add_ext(X509 *x, X509V3_CTX *ctx, int nid, const char *value)
{
	X509_EXTENSION *ext;
	int ok;

	if ((ext = X509V3_EXT_conf_nid(NULL, ctx, nid, value)) == NULL)
		return 0;
	ok = X509_add_ext(x, ext, -1);
	X509_EXTENSION_free(ext);
	return ok;
}

static const EVP_MD *
md_for(EVP_PKEY *key)
{
	if (EVP_PKEY_is_a(key, "ED25519"))
		return NULL;
	if (EVP_PKEY_is_a(key, "EC") && EVP_PKEY_get_bits(key) > 256)
		return EVP_sha384();
	return EVP_sha256();
}

int
ca_authority_create_root(const char *trust_domain, enum ca_key_type kt,
    int64_t lifetime, int64_t now, struct ca_authority **out,
    struct mc_err *e)
{
	struct ca_authority *a = NULL;
	struct ca_keygen *g = NULL;
	struct ca_key k = { 0 };
	X509 *x = NULL;
	X509_NAME *name;
	X509V3_CTX ctx;
	BIGNUM *bn = NULL;
	unsigned char serial[CA_SERIAL_LEN];
	char san[MESHCA_TRUST_DOMAIN_MAX + 16];
	struct meshca_error me;
	int ret = -1;

	if (trust_domain == NULL)
		trust_domain = CA_DEFAULT_TRUST_DOMAIN;
	if (meshca_trust_domain_check(trust_domain, strlen(trust_domain),
	    &me) != MESHCA_OK) {
		mc_err_set(e, MC_ST_USAGE, MESHCA_REASON_ID_INVALID,
		    "root: %s", me.message);
		return -1;
	}
	if (lifetime <= CA_CLOCK_SKEW_DEFAULT) {
		mc_err_set(e, MC_ST_USAGE, 0, "root: lifetime %lld s is too "
		    "short", (long long)lifetime);
		return -1;
	}
	if ((a = authority_new(trust_domain, e)) == NULL)
		return -1;
	if ((g = ca_keygen_new(kt, e)) == NULL ||
	    ca_keygen_generate(g, &k, e) == -1)
		goto out;
	snprintf(san, sizeof(san), "URI:spiffe://%s", trust_domain);
	if (RAND_bytes(serial, sizeof(serial)) != 1)
		goto ossl;
	serial[0] |= 0x01; /* never zero */
	if ((x = X509_new()) == NULL || !X509_set_version(x, X509_VERSION_3) ||
	    (bn = BN_bin2bn(serial, sizeof(serial), NULL)) == NULL ||
	    BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) == NULL ||
	    (name = X509_get_subject_name(x)) == NULL ||
	    !X509_NAME_add_entry_by_txt(name, "O", MBSTRING_UTF8,
	    (const unsigned char *)trust_domain, -1, -1, 0) ||
	    !X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
	    (const unsigned char *)"meshca root", -1, -1, 0) ||
	    !X509_set_issuer_name(x, name) ||
	    ASN1_TIME_set(X509_getm_notBefore(x),
	    (time_t)(now - CA_CLOCK_SKEW_DEFAULT)) == NULL ||
	    ASN1_TIME_set(X509_getm_notAfter(x), (time_t)(now + lifetime)) ==
	    NULL || !X509_set_pubkey(x, k.pkey))
		goto ossl;
	X509V3_set_ctx(&ctx, x, x, NULL, NULL, 0);
	/* RFC 5280 4.2.1.9 and 4.2.1.3; X509-SVID 4.1 and 4.3: signing
	 * certificates set cA and keyCertSign. The subject is not empty,
	 * so the SAN need not be critical. */
	if (!add_ext(x, &ctx, NID_basic_constraints, "critical,CA:TRUE") ||
	    !add_ext(x, &ctx, NID_key_usage, "critical,keyCertSign,cRLSign") ||
	    !add_ext(x, &ctx, NID_subject_key_identifier, "hash") ||
	    !add_ext(x, &ctx, NID_authority_key_identifier, "keyid:always") ||
	    !add_ext(x, &ctx, NID_subject_alt_name, san))
		goto ossl;
	if (X509_sign(x, k.pkey, md_for(k.pkey)) <= 0)
		goto ossl;
	a->cert = x;
	x = NULL;
	a->key = k.pkey;
	k.pkey = NULL;
	if (!X509_up_ref(a->cert))
		goto ossl;
	a->root = a->cert;
	a->not_after = now + lifetime;
	a->state = STORE_AUTH_ACTIVE;
	*out = a;
	a = NULL;
	ret = 0;
	goto out;
ossl:
	ca_openssl_error(e, MC_ST_INTERNAL, "root: build certificate");
out:
	OPENSSL_cleanse(serial, sizeof(serial));
	BN_free(bn);
	X509_free(x);
	ca_key_clear(&k);
	ca_keygen_free(g);
	ca_authority_free(a);
	return ret;
}

int
ca_certs_from_pem(const char *pem, size_t len, const char *what,
    STACK_OF(X509) **out, struct mc_err *e)
{
	STACK_OF(X509) *sk = NULL;
	BIO *bio = NULL;
	X509 *x;
	unsigned long err;
	int ret = -1;

	if (len > PEM_FILE_MAX || (bio = BIO_new_mem_buf(pem, (int)len)) ==
	    NULL || (sk = sk_X509_new_null()) == NULL) {
		mc_err_set(e, MC_ST_NOMEM, 0, "%s: cannot read", what);
		goto out;
	}
	while ((x = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL) {
		if (!sk_X509_push(sk, x)) {
			X509_free(x);
			mc_err_set(e, MC_ST_NOMEM, 0, "%s: out of memory", what);
			goto out;
		}
	}
	err = ERR_peek_last_error();
	if (ERR_GET_REASON(err) != PEM_R_NO_START_LINE || sk_X509_num(sk) ==
	    0) {
		ERR_clear_error();
		mc_err_set(e, MC_ST_PARSE, 0, "%s: %s", what,
		    sk_X509_num(sk) == 0 ? "no PEM CERTIFICATE in it" :
		    "a certificate does not parse");
		goto out;
	}
	ERR_clear_error();
	*out = sk;
	sk = NULL;
	ret = 0;
out:
	sk_X509_pop_free(sk, X509_free);
	BIO_free(bio);
	return ret;
}

static int
verify_chain(X509 *cert, STACK_OF(X509) *chain, X509 *root, int64_t now,
    struct mc_err *e)
{
	X509_STORE *st = NULL;
	X509_STORE_CTX *ctx = NULL;
	int ret = -1, rc;

	if ((st = X509_STORE_new()) == NULL || !X509_STORE_add_cert(st, root) ||
	    (ctx = X509_STORE_CTX_new()) == NULL ||
	    !X509_STORE_CTX_init(ctx, st, cert, chain)) {
		ca_openssl_error(e, MC_ST_INTERNAL, "import: verifier");
		goto out;
	}
	X509_VERIFY_PARAM_set_time(X509_STORE_CTX_get0_param(ctx),
	    (time_t)now);
	rc = X509_verify_cert(ctx);
	if (rc != 1) {
		mc_err_set(e, MC_ST_REJECTED, MESHCA_REASON_UNTRUSTED,
		    "import: ca-cert.pem does not chain to root-cert.pem: %s",
		    X509_verify_cert_error_string(
		    X509_STORE_CTX_get_error(ctx)));
		ERR_clear_error();
		goto out;
	}
	ret = 0;
out:
	X509_STORE_CTX_free(ctx);
	X509_STORE_free(st);
	return ret;
}

/* Moves the first certificate of a PEM text into *x (e names it). */
static int
first_cert(const char *pem, size_t len, const char *what, X509 **x,
    STACK_OF(X509) **rest, struct mc_err *e)
{
	STACK_OF(X509) *sk = NULL;

	if (ca_certs_from_pem(pem, len, what, &sk, e) == -1)
		return -1;
	*x = sk_X509_shift(sk);
	if (rest != NULL)
		*rest = sk;
	else
		sk_X509_pop_free(sk, X509_free);
	return 0;
}

int
ca_authority_from_istio_pem(const struct ca_istio_pem *in,
    const char *trust_domain, int64_t now, struct ca_authority **out,
    struct mc_err *e)
{
	struct ca_authority *a = NULL;
	struct ca_signer *s = NULL;
	STACK_OF(X509) *cc = NULL;
	BIO *bio = NULL;
	X509 *x;
	int ret = -1;

	if (trust_domain == NULL)
		trust_domain = CA_DEFAULT_TRUST_DOMAIN;
	if (in->f[CA_ISTIO_CERT] == NULL || in->f[CA_ISTIO_KEY] == NULL || in->f[CA_ISTIO_ROOT] == NULL) {
		mc_err_set(e, MC_ST_PARSE, 0, "import: %s: ca-cert.pem, "
		    "ca-key.pem and root-cert.pem are required", in->where);
		goto out;
	}
	if ((a = authority_new(trust_domain, e)) == NULL)
		goto out;
	if (in->len[CA_ISTIO_KEY] > INT_MAX ||
	    (bio = BIO_new_mem_buf(in->f[CA_ISTIO_KEY], (int)in->len[CA_ISTIO_KEY])) == NULL ||
	    (a->key = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL)) ==
	    NULL) {
		ERR_clear_error();
		mc_err_set(e, MC_ST_PARSE, 0, "import: %s: ca-key.pem: no PEM "
		    "private key (an encrypted key is not supported)",
		    in->where);
		goto out;
	}
	if (first_cert(in->f[CA_ISTIO_CERT], in->len[CA_ISTIO_CERT], "ca-cert.pem", &a->cert, NULL,
	    e) == -1 ||
	    first_cert(in->f[CA_ISTIO_ROOT], in->len[CA_ISTIO_ROOT], "root-cert.pem", &a->root, NULL,
	    e) == -1) {
		mc_err_prefix(e, "import: %s", in->where);
		goto out;
	}
	/* cert-chain.pem: ca-cert first, then issuers, maybe the root. */
	if (in->f[CA_ISTIO_CHAIN] != NULL && in->len[CA_ISTIO_CHAIN] > 0) {
		if (ca_certs_from_pem(in->f[CA_ISTIO_CHAIN], in->len[CA_ISTIO_CHAIN],
		    "cert-chain.pem", &cc, e) == -1) {
			mc_err_prefix(e, "import: %s", in->where);
			goto out;
		}
		while ((x = sk_X509_shift(cc)) != NULL)
			if (X509_cmp(x, a->cert) == 0 ||
			    X509_cmp(x, a->root) == 0 ||
			    !sk_X509_push(a->chain, x))
				X509_free(x);
	}
	if (ca_time_from_asn1(X509_get0_notAfter(a->cert), &a->not_after) ==
	    -1) {
		mc_err_set(e, MC_ST_PARSE, 0, "import: %s: ca-cert.pem: bad "
		    "notAfter", in->where);
		goto out;
	}
	/* The signer refuses a key that does not match, a certificate that
	 * is not a CA with keyCertSign, and another trust domain. */
	if ((s = ca_authority_signer(a, e)) == NULL) {
		mc_err_prefix(e, "import %s", in->where);
		goto out;
	}
	/* RFC 5280 6.1: the signing certificate must chain to the root we
	 * publish, or every leaf would fail verification. */
	if (verify_chain(a->cert, a->chain, a->root, now, e) == -1) {
		mc_err_prefix(e, "%s", in->where);
		goto out;
	}
	a->state = STORE_AUTH_ACTIVE;
	*out = a;
	a = NULL;
	ret = 0;
out:
	ERR_clear_error();
	ca_signer_free(s);
	sk_X509_pop_free(cc, X509_free);
	BIO_free(bio);
	ca_authority_free(a);
	return ret;
}

const char *const ca_istio_files[CA_ISTIO_FILES] = { "ca-cert.pem",
	"ca-key.pem", "cert-chain.pem", "root-cert.pem" };

int
ca_istio_read(const char *dir, struct mc_buf b[CA_ISTIO_FILES],
    struct mc_err *e)
{
	char path[4096];
	size_t i;

	for (i = 0; i < CA_ISTIO_FILES; i++) {
		if (i == 1)
			mc_buf_init_secret(&b[i], PEM_FILE_MAX);
		else
			mc_buf_init(&b[i], PEM_FILE_MAX);
	}
	for (i = 0; i < CA_ISTIO_FILES; i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, ca_istio_files[i]);
		if (i == 2 && access(path, F_OK) == -1 && errno == ENOENT)
			continue;
		if ((i == 1 && ca_check_private_file(path, "CA key", e) ==
		    -1) || mc_buf_read_file(&b[i], path, e) == -1) {
			for (i = 0; i < CA_ISTIO_FILES; i++)
				mc_buf_free(&b[i]);
			return -1;
		}
	}
	return 0;
}

int
ca_authority_import_istio(const char *dir, const char *trust_domain,
    int64_t now, struct ca_authority **out, struct mc_err *e)
{
	struct ca_istio_pem in;
	struct mc_buf b[CA_ISTIO_FILES];
	size_t i;
	int ret;

	if (ca_istio_read(dir, b, e) == -1)
		return -1;
	memset(&in, 0, sizeof(in));
	in.where = dir;
	for (i = 0; i < CA_ISTIO_FILES; i++) {
		in.f[i] = b[i].data;
		in.len[i] = b[i].len;
	}
	ret = ca_authority_from_istio_pem(&in, trust_domain, now, out, e);
	for (i = 0; i < CA_ISTIO_FILES; i++)
		mc_buf_free(&b[i]);
	return ret;
}

struct ca_signer *
ca_authority_signer(const struct ca_authority *a, struct mc_err *e)
{
	return ca_signer_new(a->cert, a->key, a->trust_domain, e);
}

int
ca_cert_pem(X509 *x, struct mc_buf *out, struct mc_err *e)
{
	unsigned char *der = NULL;
	int n, ret;

	if ((n = i2d_X509(x, &der)) <= 0) {
		ca_openssl_error(e, MC_ST_INTERNAL, "encode certificate");
		return -1;
	}
	ret = ca_pem_encode("CERTIFICATE", der, (size_t)n, out, e);
	OPENSSL_free(der);
	return ret;
}

int
ca_authority_chain_pem(const struct ca_authority *a, struct mc_buf *out,
    struct mc_err *e)
{
	int i;

	if (X509_cmp(a->cert, a->root) != 0 &&
	    ca_cert_pem(a->cert, out, e) == -1)
		return -1;
	for (i = 0; i < sk_X509_num(a->chain); i++)
		if (ca_cert_pem(sk_X509_value(a->chain, i), out, e) == -1)
			return -1;
	return 0;
}

int
ca_authority_save(struct store_db *db, const struct ca_kek *kek,
    struct ca_authority *a, enum store_auth_state st, int64_t now,
    const char *kind, const char *actor, struct mc_err *e)
{
	struct store_authority row = { 0 };
	struct mc_buf cert, chain, root;
	unsigned char *blob = NULL;
	size_t bloblen = 0;
	char details[96];
	int64_t id;
	int i, ret = -1;

	mc_buf_init(&cert, PEM_FILE_MAX);
	mc_buf_init(&chain, PEM_FILE_MAX);
	mc_buf_init(&root, PEM_FILE_MAX);
	if (ca_cert_pem(a->cert, &cert, e) == -1 ||
	    ca_cert_pem(a->root, &root, e) == -1 ||
	    mc_buf_puts(&chain, "", e) == -1)
		goto out;
	for (i = 0; i < sk_X509_num(a->chain); i++)
		if (ca_cert_pem(sk_X509_value(a->chain, i), &chain, e) == -1)
			goto out;
	row.trust_domain = a->trust_domain;
	row.cert_pem = cert.data;
	row.chain_pem = chain.data;
	row.root_pem = root.data;
	row.state = st;
	row.not_after = a->not_after;
	row.created_at = now;
	if (store_begin(db, e) == -1)
		goto out;
	snprintf(details, sizeof(details), "state=%s",
	    store_auth_state_name(st));
	if (store_authority_insert(db, &row, &id, e) == -1 ||
	    ca_kek_seal(kek, id, a->key, &blob, &bloblen, e) == -1 ||
	    store_authority_set_key(db, id, blob, bloblen, e) == -1 ||
	    store_event_append(db, now, kind, actor, a->trust_domain, details,
	    e) == -1 || store_commit(db, e) == -1) {
		store_rollback(db);
		goto out;
	}
	a->id = id;
	a->state = st;
	ret = 0;
out:
	mc_free(blob);
	mc_buf_free(&cert);
	mc_buf_free(&chain);
	mc_buf_free(&root);
	return ret;
}

int
ca_authority_load(struct store_db *db, const struct ca_kek *kek, int64_t id,
    struct ca_authority **out, struct mc_err *e)
{
	struct store_authority row = { 0 };
	struct ca_authority *a = NULL;
	STACK_OF(X509) *sk = NULL;
	bool found;
	int ret = -1;

	if (store_authority_get(db, id, &row, &found, e) == -1)
		return -1;
	if (!found) {
		mc_err_set(e, MC_ST_REJECTED, 0, "ledger: no authority %lld",
		    (long long)id);
		return -1;
	}
	if ((a = authority_new(row.trust_domain, e)) == NULL)
		goto out;
	a->id = row.id;
	a->state = row.state;
	a->not_after = row.not_after;
	if (row.key_blob == NULL) {
		mc_err_set(e, MC_ST_REJECTED, 0, "authority %lld: no key "
		    "stored", (long long)id);
		goto out;
	}
	if (ca_kek_open(kek, id, row.key_blob, row.key_blob_len, &a->key,
	    e) == -1)
		goto out;
	if (ca_certs_from_pem(row.cert_pem, strlen(row.cert_pem),
	    "authority certificate", &sk, e) == -1)
		goto out;
	a->cert = sk_X509_shift(sk);
	sk_X509_pop_free(sk, X509_free);
	sk = NULL;
	if (ca_certs_from_pem(row.root_pem, strlen(row.root_pem),
	    "authority root", &sk, e) == -1)
		goto out;
	a->root = sk_X509_shift(sk);
	sk_X509_pop_free(sk, X509_free);
	sk = NULL;
	if (row.chain_pem[0] != '\0') {
		sk_X509_pop_free(a->chain, X509_free);
		a->chain = NULL;
		if (ca_certs_from_pem(row.chain_pem, strlen(row.chain_pem),
		    "authority chain", &a->chain, e) == -1)
			goto out;
	}
	*out = a;
	a = NULL;
	ret = 0;
out:
	store_authority_clear(&row);
	ca_authority_free(a);
	return ret;
}

int
ca_authority_load_active(struct store_db *db, const struct ca_kek *kek,
    const char *trust_domain, struct ca_authority **out, struct mc_err *e)
{
	struct store_authority *v = NULL;
	size_t n = 0, i;
	int64_t id = 0;
	int ret;

	if (store_authority_list(db, trust_domain, &v, &n, e) == -1)
		return -1;
	for (i = 0; i < n; i++)
		if (v[i].state == STORE_AUTH_ACTIVE)
			id = v[i].id;
	store_authority_list_free(v, n);
	if (id == 0) {
		mc_err_set(e, MC_ST_REJECTED, 0, "ledger: trust domain %s has "
		    "no active authority (run meshca init)", trust_domain);
		return -1;
	}
	ret = ca_authority_load(db, kek, id, out, e);
	return ret;
}
