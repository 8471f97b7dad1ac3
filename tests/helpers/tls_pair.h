/*
 * tls_pair.h: a real TLS 1.3 handshake between two SSL objects in one
 * process, over an in-memory BIO pair, for tests and benchmarks.
 */
#ifndef TESTS_HELPERS_TLS_PAIR_H
#define TESTS_HELPERS_TLS_PAIR_H

#include <stdbool.h>
#include <stddef.h>

#include <openssl/ssl.h>

#include "tests/helpers/pki.h"

/* What one side saw. Alerts are TLS alert descriptions (e.g. 42
 * bad_certificate, 40 handshake_failure), -1 when none was fatal. */
struct tls_side {
	bool handshake_ok;	/* SSL_do_handshake() returned 1 */
	bool data_ok;		/* one byte each way went through */
	int alert_sent;
	int alert_received;
	long verify_result;	/* SSL_get_verify_result() */
	char error[256];	/* first OpenSSL error string, or "" */
};

struct tls_pair {
	SSL *client;
	SSL *server;
	struct tls_side c;
	struct tls_side s;
};

/*
 * A context for one side, TLS 1.3 only, presenting leaf (with its key)
 * and the n chain certificates after it (n may be 0). No verification is
 * configured; install meshca or OpenSSL verification on it.
 * Exits 99 on failure.
 */
SSL_CTX *tls_ctx_new(bool server, const struct pki_cert *leaf,
    X509 *const *chain, size_t n);

/* Makes the two SSL objects (not yet connected) so a test can configure
 * them (e.g. meshca_ssl_set_service(p->client, ...)). Exits 99 on
 * failure. */
void tls_pair_init(struct tls_pair *p, SSL_CTX *client, SSL_CTX *server);

/*
 * Runs the handshake to completion or failure on both sides, then sends
 * one byte client to server and one back (in TLS 1.3 a server's
 * rejection of the client certificate reaches the client only then).
 * Returns true when both handshakes and both bytes went through.
 */
bool tls_pair_run(struct tls_pair *p);

/* Frees both SSL objects. */
void tls_pair_free(struct tls_pair *p);

/* Handshake once with fresh SSL objects: init, run, free. The results
 * are copied to c and s (NULL allowed; left untouched when the SSL
 * objects could not be made or the service not set, which returns
 * false rather than exiting, so threads may call this). */
bool tls_pair_once(SSL_CTX *client, SSL_CTX *server, const char *service,
    struct tls_side *c, struct tls_side *s);

#endif /* TESTS_HELPERS_TLS_PAIR_H */
