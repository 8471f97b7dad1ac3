/*
 * test_crash.c: kill -9 safety of the ledger. A child process records
 * batches of issuances and revocations, each batch in one transaction
 * with its audit events; the parent kills it with SIGKILL at a random
 * moment, then reopens the file and checks that it passes
 * PRAGMA integrity_check and that every batch is there whole or not at
 * all: every certificate complete, one audit event per issuance and per
 * revocation.
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
#include <sqlite3.h>

#include "store/authorities.h"
#include "store/certs.h"
#include "store/db.h"
#include "store/events.h"

#define BATCH 50
#define PEM_HEAD "-----BEGIN CERTIFICATE-----\n"
#define PEM_TAIL "-----END CERTIFICATE-----\n"

static void
fake_pem(char *buf, size_t n, unsigned long k)
{
	size_t off;

	off = (size_t)snprintf(buf, n, PEM_HEAD);
	while (off + 80 < n - sizeof(PEM_TAIL)) {
		off += (size_t)snprintf(buf + off, n - off,
		    "%064lx\n", (unsigned long)(k * 2654435761u + off));
	}
	snprintf(buf + off, n - off, PEM_TAIL);
}

static void
child(const char *path, unsigned seed)
{
	struct store_db *db = NULL;
	struct mc_err e = { 0 };
	struct store_authority a = { 0 };
	struct store_cert c = { 0 };
	char serial[40], pem[1200], victim[40];
	unsigned long k;
	int64_t auth = 1;
	int i;

	if (store_open(path, STORE_CREATE, &db, &e) == -1)
		_exit(2);
	a.trust_domain = "cluster.local";
	a.cert_pem = a.root_pem = PEM_HEAD PEM_TAIL;
	a.state = STORE_AUTH_ACTIVE;
	bool found;
	struct store_authority got;
	if (store_authority_get(db, 1, &got, &found, &e) == -1)
		_exit(3);
	if (found)
		store_authority_clear(&got);
	else if (store_authority_insert(db, &a, &auth, &e) == -1)
		_exit(3);
	srandom(seed);
	for (;;) {
		if (store_begin(db, &e) == -1)
			_exit(4);
		for (i = 0; i < BATCH; i++) {
			k = ((unsigned long)random() << 31) ^
			    (unsigned long)random();
			snprintf(serial, sizeof(serial), "%032lx", k);
			fake_pem(pem, sizeof(pem), k);
			c.serial = serial;
			c.spiffe_id = "spiffe://cluster.local/ns/a/sa/b";
			c.not_before = 1;
			c.not_after = 4000000000;
			c.issued_at = 1;
			c.authority_id = auth;
			c.cert_pem = pem;
			if (store_cert_insert(db, &c, &e) == -1 ||
			    store_event_append(db, 1, "issue", "test", serial,
			    NULL, &e) == -1)
				_exit(5);
			if (i % 10 == 5) {
				snprintf(victim, sizeof(victim), "%s", serial);
				if (store_cert_revoke(db, victim, 1, 2, &e) ==
				    -1 || store_event_append(db, 2, "revoke",
				    "test", victim, NULL, &e) == -1)
					_exit(6);
			}
		}
		if (store_commit(db, &e) == -1)
			_exit(7);
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

static void
test_kill9(void **state)
{
	char dir[] = "/tmp/mc-crash-XXXXXX", path[96], cmd[128];
	struct store_db *db;
	struct mc_err e = { 0 };
	sqlite3 *sq;
	int round, status;
	int64_t ncert = 0, prev = -1, now;
	pid_t pid;

	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/ledger.db", dir);
	srand((unsigned)time(NULL) ^ (unsigned)getpid());
	for (round = 0; round < 12; round++) {
		pid = fork();
		assert_true(pid >= 0);
		if (pid == 0)
			/* NOLINTNEXTLINE(cert-msc30-c): timing jitter */
			child(path, (unsigned)rand());
		/* 20..120 ms: long enough to be mid-batch most of the time. */
		/* NOLINTNEXTLINE(cert-msc30-c): timing jitter */
		usleep(20000 + (useconds_t)(rand() % 100000));
		kill(pid, SIGKILL);
		assert_int_equal(waitpid(pid, &status, 0), pid);
		if (!WIFSIGNALED(status))
			fail_msg("child exited %d before the kill",
			    WEXITSTATUS(status));

		db = NULL;
		if (store_open(path, 0, &db, &e) == -1)
			fail_msg("round %d: reopen: %s", round, e.msg);
		if (store_integrity_check(db, &e) == -1)
			fail_msg("round %d: %s", round, e.msg);
		sq = store_handle(db);
		now = scalar(sq, "SELECT count(*) FROM certificates");
		assert_true(now >= ncert);
		ncert = now;
		/* whole batches only */
		assert_int_equal(ncert % BATCH, 0);
		assert_int_equal(scalar(sq, "SELECT count(*) FROM events "
		    "WHERE kind = 'issue'"), ncert);
		assert_int_equal(scalar(sq, "SELECT count(*) FROM events "
		    "WHERE kind = 'revoke'"), scalar(sq, "SELECT count(*) FROM "
		    "certificates WHERE status = 'revoked'"));
		assert_int_equal(scalar(sq, "SELECT count(*) FROM certificates "
		    "WHERE cert_pem NOT LIKE '" PEM_HEAD "%" PEM_TAIL "' OR "
		    "length(cert_pem) <> (SELECT length(cert_pem) FROM "
		    "certificates LIMIT 1)"), 0);
		store_close(db);
		if (ncert != prev)
			prev = ncert;
	}
	/* The child must have committed something in 12 rounds. */
	assert_true(ncert > 0);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	/* NOLINTNEXTLINE(cert-env33-c): shell on purpose */
	assert_int_equal(system(cmd), 0); /* style: allow system (rm -rf) */
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_kill9),
	};

	return cmocka_run_group_tests_name("store_crash", tests, NULL, NULL);
}
