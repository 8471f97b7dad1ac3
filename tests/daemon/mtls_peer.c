/*
 * mtls_peer.c: a tiny mutual-TLS server and client for the quick start's
 * demo and for tests, using the key and certificate meshcad published in
 * a Secret. The server requires a client certificate, verifies it as an
 * X.509-SVID under the bundle and lets in only the SPIFFE IDs given
 * (secure naming, libmeshca-verify's OpenSSL hooks); the client verifies
 * the server's chain under the bundle.
 *
 *   mtls_peer server PORTFILE CHAIN KEY BUNDLE ALLOWED-ID [CONNECTIONS]
 *   mtls_peer client PORT CHAIN KEY BUNDLE
 *
 * The server listens on 127.0.0.1 (port written to PORTFILE), answers
 * CONNECTIONS handshakes (default 2) and prints one line for each:
 * "accepted ID" or "refused: reason". The client prints what the server
 * said, or "refused: reason", and exits 0 or 1. Files are trusted (they
 * come from the test); nothing is read from the network but TLS.
 */
#include <sys/socket.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <meshca/id.h>
#include <meshca/openssl.h>
#include <meshca/policy.h>
#include <meshca/svid.h>

static void
die(const char *what)
{
	fprintf(stderr, "mtls_peer: %s\n", what);
	exit(2);
}

static SSL_CTX *
ctx_new(const SSL_METHOD *m, const char *chain, const char *key)
{
	SSL_CTX *ctx;

	if ((ctx = SSL_CTX_new(m)) == NULL ||
	    SSL_CTX_use_certificate_chain_file(ctx, chain) != 1 ||
	    SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_check_private_key(ctx) != 1)
		die("cannot load the certificate chain and key");
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	return ctx;
}

static const char *
ssl_reason(void)
{
	static char buf[256];
	unsigned long e = ERR_get_error();

	if (e == 0)
		return "handshake failed";
	ERR_error_string_n(e, buf, sizeof(buf));
	ERR_clear_error();
	return buf;
}

static int
server(int argc, char **argv)
{
	struct meshca_verifier *v = NULL;
	struct meshca_authorizer *a = NULL;
	struct meshca_id *allowed = NULL, *peer = NULL;
	struct meshca_error me;
	struct sockaddr_in sin;
	socklen_t sl = sizeof(sin);
	SSL_CTX *ctx;
	SSL *ssl;
	FILE *fp;
	char msg[512];
	int s, fd, one = 1, i, n;

	if (argc < 7)
		die("usage: server PORTFILE CHAIN KEY BUNDLE ALLOWED-ID [N]");
	n = argc > 7 ? (int)strtol(argv[7], NULL, 10) : 2;
	ctx = ctx_new(TLS_server_method(), argv[3], argv[4]);
	if (meshca_verifier_new(&v, &me) != MESHCA_OK ||
	    meshca_verifier_load_bundle_file(v, argv[5], NULL, &me) !=
	    MESHCA_OK ||
	    meshca_id_parse(argv[6], strlen(argv[6]), &allowed, &me) !=
	    MESHCA_OK ||
	    meshca_verifier_set_trust_domain(v,
	    meshca_id_get0_trust_domain(allowed), &me) != MESHCA_OK ||
	    meshca_authorizer_id(allowed, &a, &me) != MESHCA_OK ||
	    meshca_ssl_ctx_install_server(ctx, v, a, &me) != MESHCA_OK)
		die(me.message);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if ((s = socket(AF_INET, SOCK_STREAM, 0)) == -1 ||
	    setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ==
	    -1 || bind(s, (struct sockaddr *)&sin, sizeof(sin)) == -1 ||
	    listen(s, 4) == -1 ||
	    getsockname(s, (struct sockaddr *)&sin, &sl) == -1)
		die("cannot listen on 127.0.0.1");
	if ((fp = fopen(argv[2], "w")) == NULL)
		die("cannot write the port file");
	fprintf(fp, "%u\n", ntohs(sin.sin_port));
	fclose(fp);
	for (i = 0; i < n; i++) {
		if ((fd = accept(s, NULL, NULL)) == -1)
			continue;
		if ((ssl = SSL_new(ctx)) == NULL || SSL_set_fd(ssl, fd) != 1)
			die("SSL_new");
		if (SSL_accept(ssl) == 1 &&
		    meshca_ssl_get_peer_id(ssl, &peer, &me) == MESHCA_OK) {
			printf("server: accepted %s\n",
			    meshca_id_get0_string(peer));
			snprintf(msg, sizeof(msg), "hello %s, you may call "
			    "this service\n", meshca_id_get0_string(peer));
			SSL_write(ssl, msg, (int)strlen(msg));
			meshca_id_free(peer);
			peer = NULL;
		} else
			printf("server: refused a client: %s\n", ssl_reason());
		fflush(stdout);
		SSL_shutdown(ssl);
		SSL_free(ssl);
		close(fd);
	}
	close(s);
	SSL_CTX_free(ctx);
	meshca_authorizer_free(a);
	meshca_id_free(allowed);
	meshca_verifier_free(v);
	return 0;
}

static int
client(int argc, char **argv)
{
	struct sockaddr_in sin;
	SSL_CTX *ctx;
	SSL *ssl;
	char buf[512];
	int fd, n, rc = 1;

	if (argc < 6)
		die("usage: client PORT CHAIN KEY BUNDLE");
	ctx = ctx_new(TLS_client_method(), argv[3], argv[4]);
	if (SSL_CTX_load_verify_locations(ctx, argv[5], NULL) != 1)
		die("cannot load the bundle");
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sin.sin_port = htons((unsigned short)strtol(argv[2], NULL, 10));
	if ((fd = socket(AF_INET, SOCK_STREAM, 0)) == -1 ||
	    connect(fd, (struct sockaddr *)&sin, sizeof(sin)) == -1)
		die("cannot connect to 127.0.0.1");
	if ((ssl = SSL_new(ctx)) == NULL || SSL_set_fd(ssl, fd) != 1)
		die("SSL_new");
	/* TLS 1.3: the server judges the client's certificate after the
	 * client's handshake ends; its verdict arrives with the first read
	 * (an alert instead of data). */
	if (SSL_connect(ssl) == 1 &&
	    (n = SSL_read(ssl, buf, sizeof(buf) - 1)) > 0) {
		buf[n] = '\0';
		printf("client: server said: %s", buf);
		rc = 0;
	} else
		printf("client: refused: %s\n", ssl_reason());
	SSL_free(ssl);
	close(fd);
	SSL_CTX_free(ctx);
	return rc;
}

int
main(int argc, char **argv)
{
	if (argc > 1 && strcmp(argv[1], "server") == 0)
		return server(argc, argv);
	if (argc > 1 && strcmp(argv[1], "client") == 0)
		return client(argc, argv);
	die("usage: mtls_peer server|client ...");
	return 2;
}
