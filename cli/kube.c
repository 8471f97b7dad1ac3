/*
 * kube.c: synchronous Kubernetes API calls for meshca(1). Each call
 * starts one request on the k8s/ client and runs the client's loop until
 * the answer is in or the command's deadline passes (the request is then
 * cancelled, so nothing is left running when the call returns). The
 * kubeconfig is the operator's and is trusted to name the server and
 * credentials; everything the server answers is untrusted and is only
 * reported (k8s/ bounds and parses it).
 */
#include <stdio.h>
#include <string.h>

#include "cli/kube.h"
#include "common/alloc.h"
#include "common/status.h"
#include "k8s/config.h"

/* Retries of 429, 5xx and dropped connections within one call. */
#define KUBE_RETRIES 3
/* The connect phase of one attempt, at most. */
#define KUBE_CONNECT_MS 10000

struct cli_kube {
	struct k8s_config *cfg;
	struct k8s_client *cl;
	uint64_t timeout_ms;
};

/* One call in flight: where its answer goes. */
struct call {
	struct cli_kube_result *r;
	bool done;
};

struct cli_kube *
cli_kube_open(const struct cli_global *g, uint64_t timeout_ms, struct mc_err *e)
{
	struct k8s_client_opts o;
	struct cli_kube *k;

	if ((k = mc_calloc(1, sizeof(*k))) == NULL) {
		mc_err_set(e, MC_ST_NOMEM, 0, "out of memory");
		return NULL;
	}
	k->timeout_ms = timeout_ms;
	k->cfg = g->in_cluster ?
	    k8s_config_in_cluster(NULL, e) :
	    k8s_config_from_kubeconfig(g->kubeconfig, g->context, e);
	if (k->cfg == NULL)
		goto fail;
	memset(&o, 0, sizeof(o));
	o.max_in_flight = 1;
	o.max_retries = KUBE_RETRIES;
	/* Every attempt may use the whole budget: the deadline of the call
	 * (cli_kube_call) is what bounds the command. */
	o.timeout_ms = timeout_ms;
	o.connect_timeout_ms =
	    timeout_ms < KUBE_CONNECT_MS ? timeout_ms : KUBE_CONNECT_MS;
	o.retry_base_ms = 200;
	o.retry_cap_ms = 2000;
	o.http1_only = false;
	if ((k->cl = k8s_client_new(k->cfg, &o, e)) == NULL)
		goto fail;
	return k;
fail:
	cli_kube_close(k);
	return NULL;
}

void
cli_kube_close(struct cli_kube *k)
{
	if (k == NULL)
		return;
	k8s_client_free(k->cl);
	k8s_config_free(k->cfg);
	mc_free(k);
}

const char *
cli_kube_server(const struct cli_kube *k)
{
	return k->cfg->server;
}

void
cli_kube_result_clear(struct cli_kube_result *r)
{
	json_decref(r->body);
	memset(r, 0, sizeof(*r));
}

static void
call_done(const struct k8s_response *resp, void *arg)
{
	struct call *c = arg;
	struct cli_kube_result *r = c->r;
	json_t *body;

	c->done = true;
	r->outcome = resp->outcome;
	r->http_code = resp->http_code;
	if (resp->outcome == K8S_OK) {
		if ((body = k8s_response_body(resp)) != NULL)
			r->body = json_incref(body);
		return;
	}
	if (resp->http_code != 0 && resp->status.message != NULL &&
	    resp->status.message[0] != '\0')
		snprintf(r->msg, sizeof(r->msg), "%s", resp->status.message);
	else
		snprintf(r->msg, sizeof(r->msg), "%s", resp->err.msg);
}

/*
 * Waits for the request req (started with call c) to end, or cancels it
 * at the deadline. Returns 0 when the server answered 2xx.
 */
static int
call_wait(struct cli_kube *k, struct k8s_request *req, struct call *c,
    const struct mc_err *start_err)
{
	struct cli_kube_result *r = c->r;
	struct mc_err e = { 0 };

	if (req == NULL) {
		r->outcome = K8S_E_OTHER;
		snprintf(r->msg, sizeof(r->msg), "%s", start_err->msg);
		return -1;
	}
	if (k8s_client_run_until(k->cl, &c->done, k->timeout_ms, &e) == -1 &&
	    !c->done) {
		k8s_request_cancel(k->cl, req);
		r->outcome = K8S_E_TRANSPORT;
		r->http_code = 0;
		r->timed_out = e.status == MC_ST_IO;
		snprintf(r->msg, sizeof(r->msg), "%s", e.msg);
		return -1;
	}
	return r->outcome == K8S_OK ? 0 : -1;
}

int
cli_kube_get(struct cli_kube *k, const struct k8s_resource *res, const char *ns,
    const char *name, struct cli_kube_result *r)
{
	struct call c = { r, false };
	struct mc_err e = { 0 };

	memset(r, 0, sizeof(*r));
	return call_wait(k, k8s_get(k->cl, res, ns, name, call_done, &c, &e),
	    &c, &e);
}

int
cli_kube_create(struct cli_kube *k, const struct k8s_resource *res,
    const char *ns, const json_t *obj, struct cli_kube_result *r)
{
	struct call c = { r, false };
	struct mc_err e = { 0 };

	memset(r, 0, sizeof(*r));
	return call_wait(k, k8s_create(k->cl, res, ns, obj, call_done, &c, &e),
	    &c, &e);
}

int
cli_kube_patch_merge(struct cli_kube *k, const struct k8s_resource *res,
    const char *ns, const char *name, const json_t *patch,
    struct cli_kube_result *r)
{
	struct call c = { r, false };
	struct mc_err e = { 0 };

	memset(r, 0, sizeof(*r));
	return call_wait(k,
	    k8s_patch_merge(k->cl, res, ns, name, patch, call_done, &c, &e), &c,
	    &e);
}

int
cli_kube_fail(const char *cmd, const struct cli_kube *k, const char *verb,
    const char *object, const struct cli_kube_result *r, const char *rbac_hint)
{
	switch (r->outcome) {
	case K8S_E_TRANSPORT:
		if (r->timed_out)
			cli_warnx("%s: %s %s: no answer from %s within %llu s",
			    cmd, verb, object, k->cfg->server,
			    (unsigned long long)(k->timeout_ms / 1000));
		else
			cli_warnx("%s: %s %s: cannot reach %s: %s", cmd, verb,
			    object, k->cfg->server, r->msg);
		return CLI_EXIT_USAGE;
	case K8S_E_UNAUTHORIZED:
		cli_warnx(
		    "%s: %s %s: unauthorized (401): %s: the server "
		    "does not accept the kubeconfig's credentials (expired "
		    "token?)",
		    cmd, verb, object, r->msg);
		return CLI_EXIT_REJECTED;
	case K8S_E_FORBIDDEN:
		cli_warnx("%s: %s %s: forbidden (403): %s", cmd, verb, object,
		    r->msg);
		if (rbac_hint != NULL)
			cli_warnx("%s: hint: %s", cmd, rbac_hint);
		return CLI_EXIT_REJECTED;
	case K8S_E_THROTTLED:
	case K8S_E_SERVER:
		cli_warnx("%s: %s %s: %s (HTTP %ld, after retries): %s", cmd,
		    verb, object, k8s_outcome_str(r->outcome), r->http_code,
		    r->msg);
		return CLI_EXIT_USAGE;
	case K8S_OK:
	case K8S_E_OTHER:
		if (r->http_code == 0) {
			cli_warnx("%s: %s %s: %s", cmd, verb, object, r->msg);
			return CLI_EXIT_INTERNAL;
		}
		break;
	default:
		break;
	}
	cli_warnx("%s: %s %s: %s (HTTP %ld): %s", cmd, verb, object,
	    k8s_outcome_str(r->outcome), r->http_code, r->msg);
	return CLI_EXIT_REJECTED;
}
