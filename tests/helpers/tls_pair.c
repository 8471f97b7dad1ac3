/*
 * tls_pair.c: runs a TLS 1.3 handshake between a client and a server SSL
 * in one thread over a BIO pair, stepping each side in turn, and records
 * what each side saw (handshake result, fatal alerts sent and received,
 * verify result). Test code only; OpenSSL failures while setting up
 * end the program with exit status 99.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>

#include <meshca/openssl.h>

#include "tests/helpers/tls_pair.h"

static void
tls_die(const char *what)
{
	fprintf(stderr, "tls_pair: %s failed\n", what);
	ERR_print_errors_fp(stderr);
	exit(99);
}

SSL_CTX *
tls_ctx_new(bool server, const struct pki_cert *leaf, X509 *const *chain,
    size_t n)
{
	SSL_CTX *ctx;
	size_t i;

	ctx = SSL_CTX_new(server ? TLS_server_method() : TLS_client_method());
	if (ctx == NULL ||
	    !SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION) ||
	    !SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION))
		tls_die("SSL_CTX_new");
	if (leaf != NULL) {
		if (SSL_CTX_use_certificate(ctx, leaf->cert) != 1 ||
		    SSL_CTX_use_PrivateKey(ctx, leaf->key) != 1)
			tls_die("SSL_CTX_use_certificate");
		for (i = 0; i < n; i++)
			if (!SSL_CTX_add1_chain_cert(ctx, chain[i]))
				tls_die("SSL_CTX_add1_chain_cert");
	}
	/* Every handshake in a test is a full one. */
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
	return ctx;
}

static void
tls_info_cb(const SSL *ssl, int where, int ret)
{
	struct tls_side *side = SSL_get_app_data(ssl);

	if (side == NULL || !(where & SSL_CB_ALERT) || (ret >> 8) != 2)
		return;
	if (where & SSL_CB_READ)
		side->alert_received = ret & 0xff;
	else
		side->alert_sent = ret & 0xff;
}

/* tls_pair_init() without exiting: false (nothing held) on failure. */
static bool
tls_pair_setup(struct tls_pair *p, SSL_CTX *client, SSL_CTX *server)
{
	BIO *bc, *bs;

	memset(p, 0, sizeof(*p));
	p->c.alert_sent = p->c.alert_received = -1;
	p->s.alert_sent = p->s.alert_received = -1;
	if ((p->client = SSL_new(client)) == NULL ||
	    (p->server = SSL_new(server)) == NULL ||
	    !BIO_new_bio_pair(&bc, 0, &bs, 0)) {
		tls_pair_free(p);
		return false;
	}
	SSL_set_bio(p->client, bc, bc);
	SSL_set_bio(p->server, bs, bs);
	SSL_set_connect_state(p->client);
	SSL_set_accept_state(p->server);
	SSL_set_app_data(p->client, &p->c);
	SSL_set_app_data(p->server, &p->s);
	SSL_set_info_callback(p->client, tls_info_cb);
	SSL_set_info_callback(p->server, tls_info_cb);
	return true;
}

void
tls_pair_init(struct tls_pair *p, SSL_CTX *client, SSL_CTX *server)
{
	if (!tls_pair_setup(p, client, server))
		tls_die("tls_pair_init");
}

/* 1 done, 0 wants more, -1 failed. */
static int
tls_step(SSL *ssl, struct tls_side *side, int r)
{
	int e;
	unsigned long code;

	if (r == 1)
		return 1;
	e = SSL_get_error(ssl, r);
	if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
		return 0;
	if (side->error[0] == '\0' && (code = ERR_peek_error()) != 0)
		ERR_error_string_n(code, side->error, sizeof(side->error));
	ERR_clear_error();
	return -1;
}

static void
tls_exchange(SSL *from, struct tls_side *fs, SSL *to, struct tls_side *ts)
{
	unsigned char b = 0x5a, got = 0;
	int r, i;

	if (SSL_write(from, &b, 1) != 1) {
		(void)tls_step(from, fs, 0);
		return;
	}
	for (i = 0; i < 16; i++) {
		r = SSL_read(to, &got, 1);
		if (r == 1) {
			ts->data_ok = got == b;
			return;
		}
		if (tls_step(to, ts, r) < 0)
			return;
		/* The sender may have post-handshake messages to read. */
		r = SSL_read(from, &got, 1);
		if (r <= 0 && tls_step(from, fs, r) < 0)
			return;
	}
}

bool
tls_pair_run(struct tls_pair *p)
{
	int cs = 0, ss = 0, i;
	unsigned char b;

	for (i = 0; i < 32 && (cs == 0 || ss == 0); i++) {
		if (cs == 0)
			cs = tls_step(p->client, &p->c,
			    SSL_do_handshake(p->client));
		if (ss == 0)
			ss = tls_step(p->server, &p->s,
			    SSL_do_handshake(p->server));
		if ((cs < 0 && ss != 1) || (ss < 0 && cs != 1))
			if (cs != 0 && ss != 0)
				break;
	}
	p->c.handshake_ok = cs == 1;
	p->s.handshake_ok = ss == 1;
	if (cs == 1 && ss == 1) {
		tls_exchange(p->client, &p->c, p->server, &p->s);
		if (p->s.data_ok)
			tls_exchange(p->server, &p->s, p->client, &p->c);
		/* The client's byte landed; the server's proves both ways. */
		p->c.data_ok = p->c.data_ok && p->s.data_ok;
		p->s.data_ok = p->c.data_ok;
	} else if (cs == 1) {
		/* TLS 1.3: the client finished before the server refused its
		 * certificate; reading surfaces the server's alert. */
		(void)tls_step(p->client, &p->c, SSL_read(p->client, &b, 1));
	}
	p->c.verify_result = SSL_get_verify_result(p->client);
	p->s.verify_result = SSL_get_verify_result(p->server);
	return p->c.handshake_ok && p->s.handshake_ok && p->c.data_ok;
}

void
tls_pair_free(struct tls_pair *p)
{
	/* A connection that worked ends as if closed cleanly, so its
	 * session stays resumable (SSL_free() of an open connection marks
	 * the session not resumable). */
	if (p->c.data_ok && p->s.data_ok) {
		SSL_set_shutdown(p->client, SSL_SENT_SHUTDOWN |
		    SSL_RECEIVED_SHUTDOWN);
		SSL_set_shutdown(p->server, SSL_SENT_SHUTDOWN |
		    SSL_RECEIVED_SHUTDOWN);
	}
	SSL_free(p->client);
	SSL_free(p->server);
	p->client = p->server = NULL;
}

bool
tls_pair_once(SSL_CTX *client, SSL_CTX *server, const char *service,
    struct tls_side *c, struct tls_side *s)
{
	struct tls_pair p;
	bool ok;

	/* No exit here: benchmarks and tests call this from threads. */
	if (!tls_pair_setup(&p, client, server))
		return false;
	if (service != NULL &&
	    meshca_ssl_set_service(p.client, service, NULL) != MESHCA_OK) {
		tls_pair_free(&p);
		return false;
	}
	ok = tls_pair_run(&p);
	if (c != NULL)
		*c = p.c;
	if (s != NULL)
		*s = p.s;
	tls_pair_free(&p);
	return ok;
}
