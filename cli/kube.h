/*
 * kube.h: synchronous Kubernetes API calls for the meshca command line.
 * k8s/ is asynchronous (one libcurl multi loop, results by callback),
 * which suits meshcad; a command does one request at a time and waits
 * for it, so this unit wraps k8s/rest.h in calls that return when the
 * answer is in or the command's deadline has passed.
 */
#ifndef CLI_KUBE_H
#define CLI_KUBE_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "cli/cli.h"
#include "common/err.h"
#include "k8s/http.h"
#include "k8s/rest.h"

struct cli_kube;

/* What one call came to. */
struct cli_kube_result {
	enum k8s_outcome outcome; /* K8S_OK, or what went wrong */
	long http_code;		  /* 0: no HTTP answer (or no answer in time) */
	bool timed_out;		  /* the command's deadline passed first */
	json_t *body;		  /* K8S_OK: the object returned (owned) */
	char msg[MC_ERR_MAX];	  /* else: the server's Status message or
				     the transport error */
};

/*
 * Connects to the cluster that g names: g->kubeconfig (a file or a
 * ':'-separated list, with g->context if set), or the in-cluster
 * service-account credentials when g->in_cluster. Each call then gives
 * up after timeout_ms in all (retries of 5xx, 429 and dropped
 * connections included). NULL with e set when the configuration cannot
 * be read.
 */
struct cli_kube *cli_kube_open(const struct cli_global *g, uint64_t timeout_ms,
    struct mc_err *e);

/* Closes k, cancelling nothing (no call is ever left running). NULL is
 * fine. */
void cli_kube_close(struct cli_kube *k);

/* The API server's URL, for messages. Borrowed from k. */
const char *cli_kube_server(const struct cli_kube *k);

/*
 * The verbs, as in k8s/rest.h, waiting for the answer. r is filled in
 * every case (clear it with cli_kube_result_clear()); the return is 0
 * when the server answered 2xx, -1 otherwise.
 */
int cli_kube_get(struct cli_kube *k, const struct k8s_resource *res,
    const char *ns, const char *name, struct cli_kube_result *r);
int cli_kube_create(struct cli_kube *k, const struct k8s_resource *res,
    const char *ns, const json_t *obj, struct cli_kube_result *r);
int cli_kube_patch_merge(struct cli_kube *k, const struct k8s_resource *res,
    const char *ns, const char *name, const json_t *patch,
    struct cli_kube_result *r);

/* Frees what r holds. */
void cli_kube_result_clear(struct cli_kube_result *r);

/*
 * Reports a failed call on stderr as "meshca: CMD: VERB OBJECT: WHY",
 * WHY naming the outcome and the server's message, with a hint for 401
 * (credentials) and transport failures (the server address), and the
 * line rbac_hint (may be NULL) after a 403. Returns the exit status of
 * meshca(1): 1 when the server refused the request, 2 when it could not
 * be reached or did not answer in time, 3 otherwise.
 */
int cli_kube_fail(const char *cmd, const struct cli_kube *k, const char *verb,
    const char *object, const struct cli_kube_result *r, const char *rbac_hint);

#endif /* CLI_KUBE_H */
