/*
 * openssl.h: X.509-SVID verification and secure naming inside OpenSSL
 * (3.0 or later) TLS handshakes. This is the only public header that
 * names OpenSSL types.
 *
 * Installing on an SSL_CTX replaces OpenSSL's certificate verification
 * for connections made from it (SSL_CTX_set_cert_verify_callback(3)) and
 * turns on SSL_VERIFY_PEER: the peer's chain is verified as
 * meshca_verify_chain_pem() does, against the verifier's current bundle,
 * and its SPIFFE ID must be allowed (by the policy for the service the
 * client dialled, or by the server's authorizer). A rejected peer fails
 * the handshake with a TLS alert chosen from the reason:
 * certificate_expired, certificate_revoked, unknown_ca, bad_certificate,
 * unsupported_certificate or, when the ID is not authorized (or no
 * service was named), handshake_failure: OpenSSL derives the alert from
 * an X509_V_ERR code and has none that maps to access_denied.
 *
 * The SSL_CTX keeps its own references to the verifier, policy and
 * authorizer it is given, dropped when the SSL_CTX is freed or
 * reinstalled; the caller may free its own references right after
 * installing. Changes to the verifier (a new bundle, CRLs) apply to
 * handshakes that start verifying after the change.
 *
 * Session resumption skips certificate verification (RFC 8446 2.2): a
 * resumed connection keeps the peer ID from its first handshake. Turn
 * off tickets and the session cache (SSL_OP_NO_TICKET,
 * SSL_SESS_CACHE_OFF) when a reload or a policy must apply to every
 * connection.
 */
#ifndef MESHCA_OPENSSL_H
#define MESHCA_OPENSSL_H

#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <meshca/meshca.h>
#include <meshca/id.h>
#include <meshca/policy.h>
#include <meshca/svid.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Verifies leaf with the intermediates in untrusted (NULL or a stack in
 * any order) as meshca_verify_chain_pem() does, without copying or
 * re-encoding the certificates; both stay owned by the caller. On
 * success and when peer is not NULL, *peer is the leaf's ID (caller
 * frees). Thread-safe. Same statuses as meshca_verify_chain_pem();
 * MESHCA_ERR_USAGE when v or leaf is NULL.
 */
MESHCA_API enum meshca_status meshca_verify_chain_x509(
    struct meshca_verifier *v, X509 *leaf, STACK_OF(X509) *untrusted,
    struct meshca_id **peer, struct meshca_error *err);

/*
 * Client side: connections from ctx verify the server's chain with v and
 * require policy p to allow the server's ID for the service named with
 * meshca_ssl_set_service() on the connection. A connection with no
 * service set is refused (handshake_failure): the check fails closed.
 * Replaces an earlier meshca install on ctx. Call before creating SSL
 * objects from ctx; not thread-safe with respect to ctx.
 * Returns MESHCA_ERR_USAGE (a NULL argument), MESHCA_ERR_NOMEM,
 * MESHCA_ERR_INTERNAL (OpenSSL failed).
 */
MESHCA_API enum meshca_status meshca_ssl_ctx_install_client(SSL_CTX *ctx,
    struct meshca_verifier *v, struct meshca_policy *p,
    struct meshca_error *err);

/*
 * Names the service a client connection dials (NUL-terminated, at most
 * MESHCA_SERVICE_MAX bytes; copied). Call before the handshake; a later
 * call replaces the name. Returns MESHCA_ERR_USAGE (NULL argument, bad
 * name), MESHCA_ERR_NOMEM, MESHCA_ERR_INTERNAL.
 */
MESHCA_API enum meshca_status meshca_ssl_set_service(SSL *ssl,
    const char *service, struct meshca_error *err);

/*
 * Server side: connections from ctx require a client certificate
 * (SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT), verify it with v
 * and require authorizer a to allow the client's ID (use
 * meshca_authorizer_any() to accept every verified ID). Otherwise as
 * meshca_ssl_ctx_install_client().
 */
MESHCA_API enum meshca_status meshca_ssl_ctx_install_server(SSL_CTX *ctx,
    struct meshca_verifier *v, struct meshca_authorizer *a,
    struct meshca_error *err);

/*
 * After a successful handshake on a connection made from an installed
 * SSL_CTX, returns the peer's verified SPIFFE ID in *out (a copy the
 * caller frees with meshca_id_free()). Returns MESHCA_ERR_USAGE (NULL
 * argument), MESHCA_ERR_REJECTED with reason MESHCA_REASON_UNTRUSTED
 * when the connection has no verified meshca peer (no handshake yet, a
 * failed one, or no install), MESHCA_ERR_NOMEM. Not thread-safe with
 * respect to ssl, as for the rest of OpenSSL.
 */
MESHCA_API enum meshca_status meshca_ssl_get_peer_id(SSL *ssl,
    struct meshca_id **out, struct meshca_error *err);

#ifdef __cplusplus
}
#endif

#endif /* MESHCA_OPENSSL_H */
