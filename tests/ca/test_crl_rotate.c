/*
 * test_crl_rotate.c: revocation, CRLs checked by OpenSSL (signature,
 * X509_V_FLAG_CRL_CHECK, `openssl crl -verify`, `openssl verify
 * -crl_check`), and the three stages of a root rotation over a real
 * ledger, including the refusal to retire a root too early.
 */
#include <ctype.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "ca/authority.h"
#include "ca/crl.h"
#include "ca/issue.h"
#include "ca/kek.h"
#include "ca/rotate.h"
#include "common/status.h"
#include "store/authorities.h"
#include "store/db.h"

#define TD "cluster.local"

struct fx {
	char dir[64];
	int64_t now;
	struct store_db *db;
	struct ca_kek kek;
	struct ca_authority *a;
	struct ca_signer *s;
	struct ca_issuer *is;
};

static void sh(const char *, ...) __attribute__((format(printf, 1, 2)));

static void
sh(const char *fmt, ...)
{
	char cmd[2048];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	/* NOLINTNEXTLINE(cert-env33-c): shell on purpose */
	if (system(cmd) != 0) /* style: allow system (openssl) */
		fail_msg("command failed: %s", cmd);
}

static int teardown(void **state);

static int
setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct mc_err e = { 0 };
	char p[128];

	snprintf(f->dir, sizeof(f->dir), "/tmp/mc-crl-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	f->now = (int64_t)time(NULL);
	*state = f;
	snprintf(p, sizeof(p), "%s/kek", f->dir);
	if (ca_kek_create(p, &f->kek, &e) == -1)
		goto fail;
	snprintf(p, sizeof(p), "%s/ledger.db", f->dir);
	if (store_open(p, STORE_CREATE, &f->db, &e) == -1 ||
	    ca_authority_create_root(TD, CA_KEY_EC_P256,
	    CA_ROOT_LIFETIME_DEFAULT, f->now, &f->a, &e) == -1 ||
	    ca_authority_save(f->db, &f->kek, f->a, STORE_AUTH_ACTIVE, f->now,
	    "init", "test", &e) == -1 ||
	    (f->s = ca_authority_signer(f->a, &e)) == NULL ||
	    (f->is = ca_issuer_new(f->s, f->a->id, NULL, &e)) == NULL)
		goto fail;
	return 0;
fail:
	/* an error, not a leak, under make check-torture */
	print_error("setup: %s\n", e.msg);
	teardown(state);
	return -1;
}

static int
teardown(void **state)
{
	struct fx *f = *state;

	ca_issuer_free(f->is);
	ca_signer_free(f->s);
	ca_authority_free(f->a);
	store_close(f->db);
	ca_kek_clear(&f->kek);
	sh("rm -rf '%s'", f->dir);
	free(f);
	return 0;
}

static void
issue_n(struct fx *f, struct ca_issuer *is, struct ca_issued *v, int n)
{
	struct ca_issue_req r = { 0 };
	struct mc_err e = { 0 };
	int i;

	r.ns = "default";
	r.sa = "web";
	r.now = f->now;
	for (i = 0; i < n; i++)
		if (ca_issue_keypair(is, &r, &v[i], &e) == -1)
			fail_msg("issue: %s", e.msg);
	if (ca_issue_record(f->db, is, v, (size_t)n, false, "test", f->now,
	    &e) == -1)
		fail_msg("record: %s", e.msg);
}

static X509 *
pem_cert(const char *pem)
{
	BIO *b = BIO_new_mem_buf(pem, -1);
	X509 *x = PEM_read_bio_X509(b, NULL, NULL, NULL);

	BIO_free(b);
	assert_non_null(x);
	return x;
}

static int
verify_crl(X509 *root, X509 *leaf, X509_CRL *crl, time_t at)
{
	X509_STORE *st = X509_STORE_new();
	X509_STORE_CTX *ctx = X509_STORE_CTX_new();
	int rc;

	assert_non_null(st);
	assert_non_null(ctx);
	/* (each can fail for want of memory under check-torture: an
	 * unchecked init left the context's parameters NULL) */
	assert_int_equal(X509_STORE_add_cert(st, root), 1);
	assert_int_equal(X509_STORE_add_crl(st, crl), 1);
	assert_int_equal(X509_STORE_CTX_init(ctx, st, leaf, NULL), 1);
	X509_VERIFY_PARAM_set_time(X509_STORE_CTX_get0_param(ctx), at);
	X509_VERIFY_PARAM_set_flags(X509_STORE_CTX_get0_param(ctx),
	    X509_V_FLAG_CRL_CHECK);
	rc = X509_verify_cert(ctx) == 1 ? 0 : X509_STORE_CTX_get_error(ctx);
	X509_STORE_CTX_free(ctx);
	X509_STORE_free(st);
	return rc;
}

static void
save(const char *dir, const char *name, const char *s)
{
	char p[160];
	FILE *fp;

	snprintf(p, sizeof(p), "%s/%s", dir, name);
	assert_non_null(fp = fopen(p, "w"));
	fputs(s, fp);
	fclose(fp);
}

static void
test_revoke_and_crl(void **state)
{
	struct fx *f = *state;
	struct ca_issued v[3];
	struct mc_buf pem, rootpem;
	struct mc_err e = { 0 };
	X509_CRL *crl;
	X509_REVOKED *rev;
	X509 *leaf0, *leaf1, *leaf2;
	ASN1_ENUMERATED *reason;
	ASN1_INTEGER *num;
	BIO *b;
	int i, crit, rn;

	issue_n(f, f->is, v, 3);
	assert_int_equal(ca_crl_reason_parse("keyCompromise", &rn, &e), 0);
	assert_int_equal(rn, 1);
	assert_int_equal(ca_crl_reason_parse("bogus", &rn, &e), -1);
	assert_int_equal(ca_revoke(f->db, v[0].serial, 1, f->now, "test", &e),
	    0);
	assert_int_equal(ca_revoke(f->db, v[1].serial, 0, f->now, "test", &e),
	    0);
	assert_int_equal(ca_revoke(f->db, v[1].serial, 0, f->now, "test", &e),
	    -1);
	assert_non_null(strstr(e.msg, "already revoked"));
	assert_int_equal(ca_revoke(f->db, "00ff", 1, f->now, "test", &e), -1);
	assert_int_equal(ca_revoke(f->db, v[2].serial, 7, f->now, "test", &e),
	    -1);
	mc_buf_init(&pem, 1 << 20);
	assert_int_equal(ca_crl_issue(f->db, f->a, f->now, 0, "test", &pem,
	    &e), 0);
	b = BIO_new_mem_buf(pem.data, (int)pem.len);
	crl = PEM_read_bio_X509_CRL(b, NULL, NULL, NULL);
	BIO_free(b);
	assert_non_null(crl);
	assert_int_equal(X509_CRL_get_version(crl), X509_CRL_VERSION_2);
	assert_int_equal(X509_CRL_verify(crl, f->a->key), 1);
	num = X509_CRL_get_ext_d2i(crl, NID_crl_number, &crit, NULL);
	assert_non_null(num);
	assert_int_equal(ASN1_INTEGER_get(num), 1);
	ASN1_INTEGER_free(num);
	{
		AUTHORITY_KEYID *aki = X509_CRL_get_ext_d2i(crl,
		    NID_authority_key_identifier, NULL, NULL);

		assert_non_null(aki);
		assert_int_equal(ASN1_OCTET_STRING_cmp(aki->keyid,
		    X509_get0_subject_key_id(f->a->cert)), 0);
		AUTHORITY_KEYID_free(aki);
	}
	assert_int_equal(sk_X509_REVOKED_num(X509_CRL_get_REVOKED(crl)), 2);
	for (i = 0; i < 2; i++) {
		char hex[CA_SERIAL_HEX];
		BIGNUM *bn;
		char *h;

		rev = sk_X509_REVOKED_value(X509_CRL_get_REVOKED(crl), i);
		bn = ASN1_INTEGER_to_BN(X509_REVOKED_get0_serialNumber(rev),
		    NULL);
		assert_non_null(bn); /* (no memory under check-torture) */
		h = BN_bn2hex(bn);
		assert_non_null(h);
		snprintf(hex, sizeof(hex), "%32s", h);
		for (char *q = hex; *q; q++)
			*q = (*q == ' ') ? '0' : (char)tolower((unsigned char)*q);
		reason = X509_REVOKED_get_ext_d2i(rev, NID_crl_reason, NULL,
		    NULL);
		if (strcmp(hex, v[0].serial) == 0) {
			assert_non_null(reason);
			assert_int_equal(ASN1_ENUMERATED_get(reason), 1);
		} else {
			assert_string_equal(hex, v[1].serial);
			assert_null(reason); /* unspecified: absent */
		}
		ASN1_ENUMERATED_free(reason);
		OPENSSL_free(h);
		BN_free(bn);
	}
	leaf0 = pem_cert(v[0].cert_pem);
	leaf1 = pem_cert(v[1].cert_pem);
	leaf2 = pem_cert(v[2].cert_pem);
	assert_int_equal(verify_crl(f->a->cert, leaf0, crl, (time_t)f->now),
	    X509_V_ERR_CERT_REVOKED);
	assert_int_equal(verify_crl(f->a->cert, leaf1, crl, (time_t)f->now),
	    X509_V_ERR_CERT_REVOKED);
	assert_int_equal(verify_crl(f->a->cert, leaf2, crl, (time_t)f->now),
	    0);
	/* after nextUpdate the CRL no longer vouches */
	assert_int_equal(verify_crl(f->a->cert, leaf2, crl,
	    (time_t)(f->now + CA_CRL_VALIDITY_DEFAULT + 60)),
	    X509_V_ERR_CRL_HAS_EXPIRED);

	/* the openssl command line agrees */
	mc_buf_init(&rootpem, 1 << 16);
	assert_int_equal(ca_cert_pem(f->a->cert, &rootpem, &e), 0);
	save(f->dir, "root.pem", rootpem.data);
	save(f->dir, "crl.pem", pem.data);
	save(f->dir, "revoked.pem", v[0].cert_pem);
	save(f->dir, "good.pem", v[2].cert_pem);
	sh("openssl crl -in %s/crl.pem -CAfile %s/root.pem -verify -noout "
	    "2>&1 | grep -q 'verify OK'", f->dir, f->dir);
	sh("openssl verify -crl_check -CRLfile %s/crl.pem -CAfile %s/root.pem "
	    "%s/good.pem >/dev/null", f->dir, f->dir, f->dir);
	{
		char cmd[512];

		snprintf(cmd, sizeof(cmd), "openssl verify -crl_check -CRLfile "
		    "%s/crl.pem -CAfile %s/root.pem %s/revoked.pem 2>&1 | "
		    "grep -q 'certificate revoked'", f->dir, f->dir, f->dir);
		/* NOLINTNEXTLINE(cert-env33-c): shell on purpose */
		assert_int_equal(system(cmd), 0); /* style: allow system */
	}
	/* a CRL signed by another key fails openssl's check */
	{
		struct ca_authority *other;
		struct mc_buf opem;

		assert_int_equal(ca_authority_create_root(TD, CA_KEY_EC_P256,
		    86400, f->now, &other, &e), 0);
		mc_buf_init(&opem, 1 << 16);
		assert_int_equal(ca_crl_build(other, NULL, 0, 1, f->now,
		    f->now + 60, &opem, &e), 0);
		save(f->dir, "other.pem", opem.data);
		{
			char cmd[512];

			snprintf(cmd, sizeof(cmd), "openssl crl -in "
			    "%s/other.pem -CAfile %s/root.pem -verify -noout "
			    "2>&1 | grep -q 'verify OK'", f->dir, f->dir);
			/* NOLINTNEXTLINE(cert-env33-c): shell on purpose */
			assert_int_not_equal(system(cmd), 0); /* style: allow system */
		}
		mc_buf_free(&opem);
		ca_authority_free(other);
	}
	/* the next CRL has the next number */
	mc_buf_reset(&pem);
	assert_int_equal(ca_crl_issue(f->db, f->a, f->now + 10, 3600, "test",
	    &pem, &e), 0);
	X509_CRL_free(crl);
	b = BIO_new_mem_buf(pem.data, (int)pem.len);
	crl = PEM_read_bio_X509_CRL(b, NULL, NULL, NULL);
	BIO_free(b);
	num = X509_CRL_get_ext_d2i(crl, NID_crl_number, NULL, NULL);
	assert_int_equal(ASN1_INTEGER_get(num), 2);
	ASN1_INTEGER_free(num);
	/* entries leave the CRL once their certificate has expired */
	mc_buf_reset(&pem);
	assert_int_equal(ca_crl_issue(f->db, f->a, f->now + 2 * 86400, 3600,
	    "test", &pem, &e), 0);
	X509_CRL_free(crl);
	b = BIO_new_mem_buf(pem.data, (int)pem.len);
	crl = PEM_read_bio_X509_CRL(b, NULL, NULL, NULL);
	BIO_free(b);
	assert_true(sk_X509_REVOKED_num(X509_CRL_get_REVOKED(crl)) <= 0);
	X509_CRL_free(crl);
	X509_free(leaf0);
	X509_free(leaf1);
	X509_free(leaf2);
	mc_buf_free(&pem);
	mc_buf_free(&rootpem);
	for (i = 0; i < 3; i++)
		ca_issued_clear(&v[i]);
}

static int
count_roots(struct fx *f)
{
	struct mc_buf b;
	struct mc_err e = { 0 };
	STACK_OF(X509) *sk = NULL;
	int n;

	mc_buf_init(&b, 1 << 20);
	assert_int_equal(ca_bundle_pem(f->db, TD, &b, &e), 0);
	if (b.len == 0) {
		mc_buf_free(&b);
		return 0;
	}
	assert_int_equal(ca_certs_from_pem(b.data, b.len, "bundle", &sk, &e),
	    0);
	n = sk_X509_num(sk);
	sk_X509_pop_free(sk, X509_free);
	mc_buf_free(&b);
	return n;
}

static void
test_staged_rotation(void **state)
{
	struct fx *f = *state;
	struct ca_issued v[2];
	struct ca_authority *cur = NULL;
	struct mc_err e = { 0 };
	int64_t newid, oldid = f->a->id;

	issue_n(f, f->is, v, 2); /* leaves under the old root, 24 h */
	assert_int_equal(count_roots(f), 1);
	/* activate with nothing prepared */
	assert_int_equal(ca_rotate_activate(f->db, TD, f->now, "test", &e), -1);
	assert_non_null(strstr(e.msg, "no prepared authority"));
	/* 1: prepare; the old root still signs, the bundle has both */
	assert_int_equal(ca_rotate_prepare(f->db, &f->kek, TD, CA_KEY_EC_P256,
	    CA_ROOT_LIFETIME_DEFAULT, f->now, "test", &newid, &e), 0);
	assert_int_equal(ca_rotate_prepare(f->db, &f->kek, TD, CA_KEY_EC_P256,
	    CA_ROOT_LIFETIME_DEFAULT, f->now, "test", &newid, &e), -1);
	assert_non_null(strstr(e.msg, "already prepared"));
	assert_int_equal(count_roots(f), 2);
	assert_int_equal(ca_authority_load_active(f->db, &f->kek, TD, &cur,
	    &e), 0);
	assert_int_equal(cur->id, oldid);
	ca_authority_free(cur);
	/* retire while still active: refused */
	assert_int_equal(ca_rotate_retire(f->db, oldid, f->now, false, "test",
	    &e), -1);
	assert_non_null(strstr(e.msg, "not retiring"));
	/* 2: activate; signing switches, both roots stay published */
	assert_int_equal(ca_rotate_activate(f->db, TD, f->now, "test", &e), 0);
	assert_int_equal(ca_authority_load_active(f->db, &f->kek, TD, &cur,
	    &e), 0);
	assert_int_equal(cur->id, newid);
	assert_int_equal(cur->state, STORE_AUTH_ACTIVE);
	ca_authority_free(cur);
	assert_int_equal(count_roots(f), 2);
	/* 3: retire; refused while the old root's leaves are valid */
	assert_int_equal(ca_rotate_retire(f->db, oldid, f->now, false, "test",
	    &e), -1);
	assert_int_equal(e.status, MC_ST_REJECTED);
	assert_non_null(strstr(e.msg, "2 unexpired leaves"));
	assert_int_equal(count_roots(f), 2);
	/* once they have expired it is allowed */
	assert_int_equal(ca_rotate_retire(f->db, oldid, f->now + 2 * 86400,
	    false, "test", &e), 0);
	assert_int_equal(count_roots(f), 1);
	ca_issued_clear(&v[0]);
	ca_issued_clear(&v[1]);
}

static void
test_forced_retire(void **state)
{
	struct fx *f = *state;
	struct ca_issued v[1];
	struct mc_err e = { 0 };
	int64_t newid;

	issue_n(f, f->is, v, 1);
	assert_int_equal(ca_rotate_prepare(f->db, &f->kek, TD, CA_KEY_EC_P384,
	    CA_ROOT_LIFETIME_DEFAULT, f->now, "test", &newid, &e), 0);
	assert_int_equal(ca_rotate_activate(f->db, TD, f->now, "test", &e), 0);
	assert_int_equal(ca_rotate_retire(f->db, f->a->id, f->now, false,
	    "test", &e), -1);
	assert_int_equal(ca_rotate_retire(f->db, f->a->id, f->now, true,
	    "test", &e), 0);
	assert_int_equal(count_roots(f), 1);
	ca_issued_clear(&v[0]);
}

int
main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_revoke_and_crl),
		T(test_staged_rotation),
		T(test_forced_retire),
	};

	return cmocka_run_group_tests_name("ca_crl_rotate", tests, NULL, NULL);
}
