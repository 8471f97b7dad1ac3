/*
 * config.h: where the API server is and how to authenticate to it, read
 * from a kubeconfig file (or a KUBECONFIG list of them) or from the
 * in-cluster service-account files (kubernetes-api.md §7).
 */
#ifndef K8S_CONFIG_H
#define K8S_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/err.h"

/* Default in-cluster credentials directory (kubernetes-api.md §7). */
#define K8S_SA_DIR "/var/run/secrets/kubernetes.io/serviceaccount"
/* The token file is re-read at least this often (client-go: 1 minute). */
#define K8S_TOKEN_TTL_MS 60000
/* Ceilings for the files we read. */
#define K8S_KUBECONFIG_MAX (4u << 20)
#define K8S_TOKEN_MAX (64u << 10)
#define K8S_PEM_MAX (1u << 20)

struct k8s_config {
	char *server;  /* "https://host:port", no trailing slash */
	char *ca_file; /* PEM file, or NULL */
	char *ca_data; /* PEM bytes (decoded), or NULL */
	size_t ca_data_len;
	char *cert_file; /* client certificate file, or NULL */
	char *cert_data;
	size_t cert_data_len;
	char *key_file; /* client key file, or NULL */
	char *key_data; /* secret: wiped on free */
	size_t key_data_len;
	bool insecure;		/* insecure-skip-tls-verify: true */
	char *tls_server_name;	/* name to check the certificate against */
	char *proxy_url;	/* proxy-url, or NULL */
	char *namespace;	/* context namespace; "default" if unset */
	char *token;		/* bearer token (static or cached), or NULL */
	char *token_file;	/* re-read when stale; wins over token */
	uint64_t token_read_ms; /* monotonic time of the last read; 0 never */
	uint64_t token_ttl_ms;	/* K8S_TOKEN_TTL_MS unless a test changes it */
};

/*
 * Loads a kubeconfig. paths is one file or a ':'-separated list (as in
 * KUBECONFIG); current-context comes from the first file that sets it,
 * and contexts, clusters and users are looked up by name in file order
 * (the first definition wins). context overrides current-context when
 * not NULL. Relative file names are resolved against the directory of
 * the file that names them. NULL with e set on failure.
 */
struct k8s_config *k8s_config_from_kubeconfig(const char *paths,
    const char *context, struct mc_err *e);

/*
 * In-cluster configuration: KUBERNETES_SERVICE_HOST and
 * KUBERNETES_SERVICE_PORT from the environment, token, ca.crt and
 * namespace from dir (K8S_SA_DIR when NULL). NULL with e set on failure.
 */
struct k8s_config *k8s_config_in_cluster(const char *dir, struct mc_err *e);

/*
 * The usual search: $KUBECONFIG if set, else in-cluster if
 * KUBERNETES_SERVICE_HOST is set, else $HOME/.kube/config.
 */
struct k8s_config *k8s_config_load(struct mc_err *e);

/*
 * The bearer token to send now, or NULL in *token when the config has
 * none. A token file is re-read when its copy is older than
 * token_ttl_ms or was dropped by k8s_config_token_expire(); surrounding
 * whitespace is trimmed. The string is borrowed from c until the next
 * call. -1 with e set when the file cannot be read or is empty (the old
 * token, if any, is kept and still returned).
 */
int k8s_config_token(struct k8s_config *c, const char **token,
    struct mc_err *e);

/* Forget the cached token, so the next request re-reads the file
 * (called after a 401). */
void k8s_config_token_expire(struct k8s_config *c);

/* Frees c, wiping the token and the key. NULL is fine. */
void k8s_config_free(struct k8s_config *c);

/*
 * Strict base64 (RFC 4648 §4, padded); CR and LF are skipped. Returns a
 * NUL-terminated buffer (mc_free) and its length, or NULL with e set.
 */
char *k8s_base64_decode(const char *in, size_t inlen, size_t *outlen,
    struct mc_err *e);

#endif /* K8S_CONFIG_H */
