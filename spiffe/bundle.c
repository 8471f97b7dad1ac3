/*
 * bundle.c: trust bundles (SPIFFE_Trust_Domain_and_Bundle.md): the set of
 * root certificates, each tagged with the trust domain it anchors (or
 * none: "any"), read from PEM or (bundle_json.c) SPIFFE bundle JSON, and
 * written back out. For every trust domain a ready X509_STORE is built
 * when the bundle is sealed, so a verifier never builds one per handshake.
 *
 * Input is untrusted: every document is bounded by MESHCA_BUNDLE_MAX, every
 * PEM block must be a DER certificate with nothing after it, and every
 * certificate must be a CA. Once sealed a bundle is immutable; its
 * reference count is atomic so that a reload can swap bundles while other
 * threads still hold the old one.
 */
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include <meshca/bundle.h>

#include "common/alloc.h"
#include "common/buf.h"
#include "common/err.h"
#include "common/status.h"
#include "spiffe/api.h"
#include "spiffe/bundle.h"
#include "spiffe/id.h"

struct spiffe_root {
	X509 *x;
	char *td; /* NULL: any trust domain */
};

struct spiffe_td_store {
	char *td;
	X509_STORE *store; /* roots tagged td, plus the untagged roots */
};

struct meshca_bundle {
	atomic_uint refs;
	struct spiffe_root *roots;
	size_t nroots, cap;
	struct spiffe_td_store *stores;
	size_t nstores;
	X509_STORE *any; /* the untagged roots; NULL when there are none */
	uint64_t sequence;
	int64_t refresh_hint;
};

const char *
spiffe_cert_name(char *buf, size_t len, const char *what, X509 *x)
{
	char subj[96];

	if (x == NULL || X509_NAME_oneline(X509_get_subject_name(x), subj,
	    sizeof(subj)) == NULL)
		snprintf(buf, len, "%s", what);
	else
		snprintf(buf, len, "%s (%s)", what, subj);
	return buf;
}

bool
spiffe_ossl_nomem(void)
{
	unsigned long first = ERR_peek_error(), last = ERR_peek_last_error();
	int r = ERR_GET_REASON(ERR_R_MALLOC_FAILURE);

	return ERR_GET_REASON(first) == r || ERR_GET_REASON(last) == r;
}

bool
spiffe_bundle_root_of(const char *root_td, const char *td)
{
	return td == NULL || root_td == NULL || strcmp(root_td, td) == 0;
}

struct meshca_bundle *
spiffe_bundle_new(struct mc_err *e)
{
	struct meshca_bundle *b;

	if ((b = mc_calloc(1, sizeof(*b))) == NULL) {
		mc_err_set(e, MC_ST_NOMEM, 0, "bundle: out of memory");
		return NULL;
	}
	atomic_init(&b->refs, 1);
	return b;
}

static bool
same_td(const char *a, const char *b)
{
	return (a == NULL && b == NULL) ||
	    (a != NULL && b != NULL && strcmp(a, b) == 0);
}

int
spiffe_bundle_add_root(struct meshca_bundle *b, X509 *x, const char *td,
    const char *what, struct mc_err *e)
{
	struct spiffe_root *r;
	char name[160];
	uint32_t fl;
	size_t i, ncap;
	char *tdcopy = NULL;

	spiffe_cert_name(name, sizeof(name), what, x);
	fl = X509_get_extension_flags(x);
	if ((fl & EXFLAG_INVALID) && spiffe_ossl_nomem()) {
		mc_err_set(e, MC_ST_NOMEM, 0, "%s: out of memory", name);
		return -1;
	}
	if (fl & EXFLAG_INVALID) {
		mc_err_set(e, MC_ST_PARSE, 0, "%s: RFC 5280 4.2: malformed or "
		    "duplicate extensions", name);
		return -1;
	}
	/*
	 * A bundle holds signing authorities (SPIFFE-ID.md 3.1); RFC 5280
	 * 4.2.1.9: "the cA boolean indicates whether the certified public
	 * key may be used to verify certificate signatures".
	 */
	if (!(fl & EXFLAG_BCONS) || !(fl & EXFLAG_CA)) {
		mc_err_set(e, MC_ST_REJECTED, MESHCA_REASON_SIGNING_CERT,
		    "%s: RFC 5280 4.2.1.9: not a CA certificate "
		    "(basicConstraints CA:TRUE missing)", name);
		return -1;
	}
	/* X509-SVID.md 4.3: signing certificates "MUST set keyCertSign". */
	if ((fl & EXFLAG_KUSAGE) &&
	    !(X509_get_key_usage(x) & KU_KEY_CERT_SIGN)) {
		mc_err_set(e, MC_ST_REJECTED, MESHCA_REASON_KEY_USAGE,
		    "%s: X509-SVID 4.3: keyUsage lacks keyCertSign", name);
		return -1;
	}
	for (i = 0; i < b->nroots; i++)
		if (same_td(b->roots[i].td, td) &&
		    X509_cmp(b->roots[i].x, x) == 0)
			return 0;
	if (b->nroots == b->cap) {
		ncap = b->cap == 0 ? 4 : b->cap * 2;
		if ((r = mc_realloc(b->roots, ncap * sizeof(*r))) == NULL)
			goto nomem;
		b->roots = r;
		b->cap = ncap;
	}
	if (td != NULL && (tdcopy = mc_strdup(td)) == NULL)
		goto nomem;
	if (!X509_up_ref(x)) {
		mc_free(tdcopy);
		goto nomem;
	}
	b->roots[b->nroots].x = x;
	b->roots[b->nroots].td = tdcopy;
	b->nroots++;
	return 0;
nomem:
	mc_err_set(e, MC_ST_NOMEM, 0, "bundle: out of memory");
	return -1;
}

void
spiffe_bundle_set_meta(struct meshca_bundle *b, uint64_t sequence,
    int64_t refresh_hint)
{
	b->sequence = sequence;
	b->refresh_hint = refresh_hint;
}

/* Adds every root of b tagged td (NULL: the untagged ones) to st. */
static int
store_add(X509_STORE *st, const struct meshca_bundle *b, const char *td)
{
	size_t i;

	for (i = 0; i < b->nroots; i++)
		if (same_td(b->roots[i].td, td) &&
		    !X509_STORE_add_cert(st, b->roots[i].x))
			return -1;
	return 0;
}

int
spiffe_bundle_seal(struct meshca_bundle *b, struct mc_err *e)
{
	struct spiffe_td_store *ts;
	size_t i, j;
	const char *td;
	bool untagged = false;

	for (i = 0; i < b->nroots; i++)
		untagged |= b->roots[i].td == NULL;
	if (untagged && ((b->any = X509_STORE_new()) == NULL ||
	    store_add(b->any, b, NULL) == -1))
		goto fail;
	for (i = 0; i < b->nroots; i++) {
		if ((td = b->roots[i].td) == NULL)
			continue;
		for (j = 0; j < b->nstores; j++)
			if (strcmp(b->stores[j].td, td) == 0)
				break;
		if (j < b->nstores)
			continue;
		ts = mc_realloc(b->stores, (b->nstores + 1) * sizeof(*ts));
		if (ts == NULL)
			goto fail;
		b->stores = ts;
		ts = &b->stores[b->nstores];
		ts->td = b->roots[i].td;
		if ((ts->store = X509_STORE_new()) == NULL)
			goto fail;
		b->nstores++;
		if (store_add(ts->store, b, td) == -1 ||
		    store_add(ts->store, b, NULL) == -1)
			goto fail;
	}
	return 0;
fail:
	ERR_clear_error();
	mc_err_set(e, MC_ST_NOMEM, 0, "bundle: cannot build the trust store "
	    "(out of memory)");
	return -1;
}

X509_STORE *
spiffe_bundle_get0_store(const struct meshca_bundle *b, const char *td)
{
	size_t i;

	if (b == NULL)
		return NULL;
	if (td != NULL)
		for (i = 0; i < b->nstores; i++)
			if (strcmp(b->stores[i].td, td) == 0)
				return b->stores[i].store;
	return b->any;
}

size_t
spiffe_bundle_nroots(const struct meshca_bundle *b)
{
	return b == NULL ? 0 : b->nroots;
}

X509 *
spiffe_bundle_get0_root(const struct meshca_bundle *b, size_t i,
    const char **td)
{
	if (b == NULL || i >= b->nroots)
		return NULL;
	if (td != NULL)
		*td = b->roots[i].td;
	return b->roots[i].x;
}

/*
 * Reads every PEM block of data; each must be a "CERTIFICATE" holding
 * exactly one DER certificate. Text around the blocks is ignored, as
 * OpenSSL's own readers ignore it.
 */
static int
pem_parse(struct meshca_bundle *b, const char *data, size_t len,
    const char *td, struct mc_err *e)
{
	BIO *bio = NULL;
	X509 *x = NULL;
	char *name = NULL, *hdr = NULL, what[32];
	unsigned char *der = NULL;
	const unsigned char *p;
	long dlen;
	unsigned long ossl;
	int n, rc = -1;

	if ((bio = BIO_new_mem_buf(data, (int)len)) == NULL)
		goto nomem;
	for (n = 1;; n++) {
		if (!PEM_read_bio(bio, &name, &hdr, &der, &dlen)) {
			ossl = ERR_peek_last_error();
			if (spiffe_ossl_nomem())
				goto nomem;
			if (ERR_GET_LIB(ossl) == ERR_LIB_PEM &&
			    ERR_GET_REASON(ossl) == PEM_R_NO_START_LINE) {
				if (n > 1)
					break;
				mc_err_set(e, MC_ST_PARSE, 0, "bundle: no PEM "
				    "CERTIFICATE block found");
			} else
				mc_err_set(e, MC_ST_PARSE, 0, "bundle: PEM "
				    "block %d: malformed (truncated, bad "
				    "base64 or no END line)", n);
			goto out;
		}
		snprintf(what, sizeof(what), "certificate %d", n);
		if (strcmp(name, PEM_STRING_X509) != 0) {
			mc_err_set(e, MC_ST_PARSE, 0, "bundle: PEM block %d: "
			    "\"%.40s\", not \"CERTIFICATE\"", n, name);
			goto out;
		}
		if (hdr[0] != '\0') {
			mc_err_set(e, MC_ST_PARSE, 0, "bundle: %s: PEM headers "
			    "are not allowed", what);
			goto out;
		}
		p = der;
		if ((x = d2i_X509(NULL, &p, dlen)) == NULL &&
		    spiffe_ossl_nomem())
			goto nomem;
		if (x == NULL || p != der + dlen) {
			mc_err_set(e, MC_ST_PARSE, 0, "bundle: %s: %s", what,
			    x == NULL ? "not a DER X.509 certificate" :
			    "trailing bytes after the certificate");
			goto out;
		}
		if (spiffe_bundle_add_root(b, x, td, what, e) == -1)
			goto out;
		X509_free(x);
		x = NULL;
		OPENSSL_free(name);
		OPENSSL_free(hdr);
		OPENSSL_free(der);
		name = hdr = NULL;
		der = NULL;
	}
	rc = 0;
	goto out;
nomem:
	mc_err_set(e, MC_ST_NOMEM, 0, "bundle: out of memory");
out:
	X509_free(x);
	OPENSSL_free(name);
	OPENSSL_free(hdr);
	OPENSSL_free(der);
	BIO_free(bio);
	return rc;
}

MESHCA_API enum meshca_status
meshca_bundle_parse(const char *data, size_t len, const char *trust_domain,
    struct meshca_bundle **out, struct meshca_error *err)
{
	struct meshca_bundle *b = NULL;
	struct mc_err e;
	size_t i;
	enum meshca_status st = MESHCA_OK;

	mc_err_clear(&e);
	ERR_set_mark();
	if (data == NULL || out == NULL) {
		mc_err_set(&e, MC_ST_USAGE, 0, "meshca_bundle_parse: data or "
		    "out is NULL");
		goto fail;
	}
	if (len > MESHCA_BUNDLE_MAX) {
		mc_err_set(&e, MC_ST_PARSE, 0, "bundle: larger than %u bytes",
		    MESHCA_BUNDLE_MAX);
		goto fail;
	}
	if (trust_domain != NULL &&
	    spiffe_td_check(trust_domain, strlen(trust_domain), &e) == -1) {
		e.status = MC_ST_REJECTED;
		goto fail;
	}
	for (i = 0; i < len && strchr(" \t\r\n", data[i]) != NULL &&
	    data[i] != '\0'; i++)
		;
	if (i < len && (data[i] == '{' || data[i] == '[')) {
		if (trust_domain == NULL) {
			mc_err_set(&e, MC_ST_USAGE, 0, "bundle: SPIFFE bundle "
			    "JSON needs a trust domain");
			goto fail;
		}
		if (spiffe_bundle_parse_json(data, len, trust_domain, &b,
		    &e) == -1)
			goto fail;
	} else if ((b = spiffe_bundle_new(&e)) == NULL ||
	    pem_parse(b, data, len, trust_domain, &e) == -1 ||
	    spiffe_bundle_seal(b, &e) == -1)
		goto fail;
	*out = b;
	b = NULL;
	goto out;
fail:
	st = spiffe_api_error(&e, err);
out:
	meshca_bundle_free(b);
	ERR_pop_to_mark();
	return st;
}

struct bundle_file_args {
	const char *trust_domain;
	struct meshca_bundle **out;
};

static enum meshca_status
bundle_parse_file(const char *data, size_t len, void *arg,
    struct meshca_error *err)
{
	const struct bundle_file_args *a = arg;

	return meshca_bundle_parse(data, len, a->trust_domain, a->out, err);
}

MESHCA_API enum meshca_status
meshca_bundle_load_file(const char *path, const char *trust_domain,
    struct meshca_bundle **out, struct meshca_error *err)
{
	struct bundle_file_args a = { trust_domain, out };
	struct mc_err e;

	mc_err_clear(&e);
	if (path == NULL || out == NULL) {
		mc_err_set(&e, MC_ST_USAGE, 0, "meshca_bundle_load_file: path "
		    "or out is NULL");
		return spiffe_api_error(&e, err);
	}
	return spiffe_load_file(path, MESHCA_BUNDLE_MAX, bundle_parse_file, &a,
	    err);
}

MESHCA_API enum meshca_status
meshca_bundle_merge(const struct meshca_bundle *a,
    const struct meshca_bundle *b, struct meshca_bundle **out,
    struct meshca_error *err)
{
	const struct meshca_bundle *in[2] = { a, b };
	struct meshca_bundle *m = NULL;
	struct mc_err e;
	size_t i, k;

	mc_err_clear(&e);
	if (a == NULL || b == NULL || out == NULL) {
		mc_err_set(&e, MC_ST_USAGE, 0, "meshca_bundle_merge: a, b or "
		    "out is NULL");
		return spiffe_api_error(&e, err);
	}
	if ((m = spiffe_bundle_new(&e)) == NULL)
		return spiffe_api_error(&e, err);
	ERR_set_mark();
	for (k = 0; k < 2; k++)
		for (i = 0; i < in[k]->nroots; i++)
			if (spiffe_bundle_add_root(m, in[k]->roots[i].x,
			    in[k]->roots[i].td, "root", &e) == -1)
				goto fail;
	if (spiffe_bundle_seal(m, &e) == -1)
		goto fail;
	ERR_pop_to_mark();
	*out = m;
	return MESHCA_OK;
fail:
	ERR_pop_to_mark();
	meshca_bundle_free(m);
	return spiffe_api_error(&e, err);
}

MESHCA_API struct meshca_bundle *
meshca_bundle_up_ref(struct meshca_bundle *b)
{
	if (b != NULL)
		atomic_fetch_add_explicit(&b->refs, 1, memory_order_relaxed);
	return b;
}

MESHCA_API void
meshca_bundle_free(struct meshca_bundle *b)
{
	size_t i;

	/* acq_rel: the last owner sees every other owner's reads finish. */
	if (b == NULL ||
	    atomic_fetch_sub_explicit(&b->refs, 1, memory_order_acq_rel) != 1)
		return;
	for (i = 0; i < b->nstores; i++)
		X509_STORE_free(b->stores[i].store);
	X509_STORE_free(b->any);
	for (i = 0; i < b->nroots; i++) {
		X509_free(b->roots[i].x);
		mc_free(b->roots[i].td);
	}
	mc_free(b->stores);
	mc_free(b->roots);
	mc_free(b);
}

MESHCA_API size_t
meshca_bundle_count(const struct meshca_bundle *b)
{
	return b == NULL ? 0 : b->nroots;
}

MESHCA_API uint64_t
meshca_bundle_sequence(const struct meshca_bundle *b)
{
	return b == NULL ? 0 : b->sequence;
}

MESHCA_API int64_t
meshca_bundle_refresh_hint(const struct meshca_bundle *b)
{
	return b == NULL ? 0 : b->refresh_hint;
}

MESHCA_API enum meshca_status
meshca_bundle_write_spiffe_json(const struct meshca_bundle *b,
    const char *trust_domain, uint64_t sequence, int64_t refresh_hint,
    char **out, size_t *outlen, struct meshca_error *err)
{
	struct mc_err e;
	int rc;

	mc_err_clear(&e);
	if (b == NULL || out == NULL) {
		mc_err_set(&e, MC_ST_USAGE, 0, "meshca_bundle_write_spiffe_json:"
		    " b or out is NULL");
		return spiffe_api_error(&e, err);
	}
	ERR_set_mark();
	rc = spiffe_bundle_write_json(b, trust_domain, sequence, refresh_hint,
	    out, outlen, &e);
	ERR_pop_to_mark();
	return rc == -1 ? spiffe_api_error(&e, err) : MESHCA_OK;
}

MESHCA_API enum meshca_status
meshca_bundle_write_pem(const struct meshca_bundle *b,
    const char *trust_domain, char **out, size_t *outlen,
    struct meshca_error *err)
{
	struct mc_buf buf;
	struct mc_err e;
	BIO *bio = NULL;
	BUF_MEM *mem;
	size_t i;
	enum meshca_status st = MESHCA_OK;

	mc_err_clear(&e);
	mc_buf_init(&buf, 4 * (size_t)MESHCA_BUNDLE_MAX);
	ERR_set_mark();
	if (b == NULL || out == NULL) {
		mc_err_set(&e, MC_ST_USAGE, 0, "meshca_bundle_write_pem: b or "
		    "out is NULL");
		goto fail;
	}
	if (trust_domain != NULL &&
	    spiffe_td_check(trust_domain, strlen(trust_domain), &e) == -1) {
		e.status = MC_ST_USAGE;
		goto fail;
	}
	if ((bio = BIO_new(BIO_s_mem())) == NULL)
		goto nomem;
	for (i = 0; i < b->nroots; i++)
		if (spiffe_bundle_root_of(b->roots[i].td, trust_domain) &&
		    !PEM_write_bio_X509(bio, b->roots[i].x))
			goto nomem;
	BIO_get_mem_ptr(bio, &mem);
	if (mc_buf_append(&buf, mem->data, mem->length, &e) == -1)
		goto fail;
	if ((*out = mc_buf_steal(&buf, outlen)) == NULL)
		goto nomem;
	goto out;
nomem:
	mc_err_set(&e, MC_ST_NOMEM, 0, "bundle: out of memory writing PEM");
fail:
	st = spiffe_api_error(&e, err);
out:
	BIO_free(bio);
	mc_buf_free(&buf);
	ERR_pop_to_mark();
	return st;
}
