/*
 * test_crash_issue.c: kill -9 during real issuance. A child process
 * issues batches of X.509-SVIDs and revokes some, through ca/ into the
 * ledger; the parent kills it with SIGKILL at random moments and checks
 * after each kill that the ledger opens, passes PRAGMA integrity_check,
 * and that every certificate recorded is whole: its PEM parses, its
 * serial and SPIFFE ID match the row, it verifies under the root, and it
 * has its audit event (and revoked ones their revocation event).
 */
#include <sys/wait.h>

#include <setjmp.h>
#include <signal.h>
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
#include <sqlite3.h>

#include "ca/authority.h"
#include "ca/crl.h"
#include "ca/issue.h"
#include "ca/kek.h"
#include "store/db.h"

#define BATCH 20

static void
child(const char *db_path, const char *kek_path)
{
	struct store_db *db = NULL;
	struct ca_kek kek;
	struct ca_authority *a = NULL;
	struct ca_signer *s;
	struct ca_issuer *is;
	struct ca_issue_req r = { 0 };
	struct ca_issued v[BATCH];
	struct mc_err e = { 0 };
	char ns[32];
	int i, round = 0;

	if (store_open(db_path, 0, &db, &e) == -1 ||
	    ca_kek_load(kek_path, &kek, &e) == -1 ||
	    ca_authority_load_active(db, &kek, "cluster.local", &a, &e) == -1 ||
	    (s = ca_authority_signer(a, &e)) == NULL ||
	    (is = ca_issuer_new(s, a->id, NULL, &e)) == NULL)
		_exit(2);
	r.sa = "web";
	r.ns = ns;
	for (;;) {
		r.now = (int64_t)time(NULL);
		for (i = 0; i < BATCH; i++) {
			snprintf(ns, sizeof(ns), "ns%d", (round * BATCH + i) %
			    50);
			if (ca_issue_keypair(is, &r, &v[i], &e) == -1)
				_exit(3);
		}
		if (ca_issue_record(db, is, v, BATCH, true, "crash-test", r.now,
		    &e) == -1)
			_exit(4);
		if (ca_revoke(db, v[round % BATCH].serial, 1, r.now,
		    "crash-test", &e) == -1)
			_exit(5);
		for (i = 0; i < BATCH; i++)
			ca_issued_clear(&v[i]);
		round++;
	}
}

static int64_t
scalar(sqlite3 *sq, const char *sql)
{
	sqlite3_stmt *st;
	int64_t v;

	assert_int_equal(sqlite3_prepare_v2(sq, sql, -1, &st, NULL),
	    SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

/* Every row's certificate is whole and is what the row says. */
static int64_t
check_rows(sqlite3 *sq, X509 *root)
{
	sqlite3_stmt *st;
	X509_STORE *xs = X509_STORE_new();
	X509_STORE_CTX *ctx = X509_STORE_CTX_new();
	char hex[CA_SERIAL_HEX];
	struct mc_err e = { 0 };
	GENERAL_NAMES *gens;
	int64_t n = 0;
	X509 *x;
	BIO *b;

	assert_int_equal(X509_STORE_add_cert(xs, root), 1);
	assert_int_equal(sqlite3_prepare_v2(sq, "SELECT serial, spiffe_id, "
	    "cert_pem FROM certificates", -1, &st, NULL), SQLITE_OK);
	while (sqlite3_step(st) == SQLITE_ROW) {
		b = BIO_new_mem_buf(sqlite3_column_text(st, 2), -1);
		x = PEM_read_bio_X509(b, NULL, NULL, NULL);
		BIO_free(b);
		assert_non_null(x);
		assert_int_equal(ca_cert_serial_hex(x, hex, &e), 0);
		assert_string_equal(hex, (const char *)sqlite3_column_text(st,
		    0));
		gens = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
		assert_non_null(gens);
		assert_string_equal(ASN1_STRING_get0_data(sk_GENERAL_NAME_value(
		    gens, 0)->d.uniformResourceIdentifier),
		    (const char *)sqlite3_column_text(st, 1));
		GENERAL_NAMES_free(gens);
		assert_int_equal(X509_STORE_CTX_init(ctx, xs, x, NULL), 1);
		assert_int_equal(X509_verify_cert(ctx), 1);
		X509_STORE_CTX_cleanup(ctx);
		X509_free(x);
		n++;
	}
	sqlite3_finalize(st);
	X509_STORE_CTX_free(ctx);
	X509_STORE_free(xs);
	return n;
}

static void
test_kill9_during_issuance(void **state)
{
	char dir[] = "/tmp/mc-crash-ca-XXXXXX", dbp[96], kekp[96], cmd[128];
	struct store_db *db = NULL;
	struct ca_kek kek;
	struct ca_authority *a = NULL;
	struct mc_err e = { 0 };
	sqlite3 *sq;
	int round, status;
	int64_t n, prev = 0;
	pid_t pid;

	/* Killing children at random while allocations fail on purpose
	 * tests neither; make check-torture skips this one. */
	if (getenv("MC_ALLOC_FAIL") != NULL || getenv("MC_OSSL_FAIL") != NULL ||
	    getenv("MC_OSSL_COUNT_FILE") != NULL)
		skip();
	assert_non_null(mkdtemp(dir));
	snprintf(dbp, sizeof(dbp), "%s/ledger.db", dir);
	snprintf(kekp, sizeof(kekp), "%s/kek", dir);
	assert_int_equal(ca_kek_create(kekp, &kek, &e), 0);
	assert_int_equal(store_open(dbp, STORE_CREATE, &db, &e), 0);
	assert_int_equal(ca_authority_create_root("cluster.local",
	    CA_KEY_EC_P256, CA_ROOT_LIFETIME_DEFAULT, (int64_t)time(NULL), &a,
	    &e), 0);
	assert_int_equal(ca_authority_save(db, &kek, a, STORE_AUTH_ACTIVE,
	    (int64_t)time(NULL), "init", "test", &e), 0);
	store_close(db);
	srand((unsigned)time(NULL) ^ (unsigned)getpid());
	for (round = 0; round < 8; round++) {
		pid = fork();
		assert_true(pid >= 0);
		if (pid == 0)
			child(dbp, kekp);
		/* NOLINTNEXTLINE(cert-msc30-c): timing jitter */
		usleep(30000 + (useconds_t)(rand() % 120000));
		kill(pid, SIGKILL);
		assert_int_equal(waitpid(pid, &status, 0), pid);
		if (!WIFSIGNALED(status))
			fail_msg("child exited %d before the kill",
			    WEXITSTATUS(status));
		db = NULL;
		if (store_open(dbp, 0, &db, &e) == -1)
			fail_msg("round %d: reopen: %s", round, e.msg);
		if (store_integrity_check(db, &e) == -1)
			fail_msg("round %d: %s", round, e.msg);
		sq = store_handle(db);
		n = check_rows(sq, a->cert);
		assert_true(n >= prev);
		prev = n;
		assert_int_equal(n % BATCH, 0);
		assert_int_equal(scalar(sq, "SELECT count(*) FROM events WHERE "
		    "kind = 'issue'"), n);
		assert_int_equal(scalar(sq, "SELECT count(*) FROM events WHERE "
		    "kind = 'revoke'"), scalar(sq, "SELECT count(*) FROM "
		    "certificates WHERE status = 'revoked'"));
		/* one active certificate per ID at most (supersede is in the
		 * same transaction as the insert) */
		assert_int_equal(scalar(sq, "SELECT count(*) FROM (SELECT "
		    "spiffe_id FROM certificates WHERE status = 'active' "
		    "GROUP BY spiffe_id HAVING count(*) > 1)"), 0);
		store_close(db);
	}
	assert_true(prev > 0);
	ca_authority_free(a);
	ca_kek_clear(&kek);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	/* NOLINTNEXTLINE(cert-env33-c): shell on purpose */
	assert_int_equal(system(cmd), 0); /* style: allow system (rm -rf) */
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_kill9_during_issuance),
	};

	return cmocka_run_group_tests_name("ca_crash", tests, NULL, NULL);
}
