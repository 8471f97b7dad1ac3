/*
 * lease.c: leader election (kubernetes-api.md §6, after client-go's
 * leaderelection package). Each try GETs the Lease (creating it on 404),
 * then PUTs it back with its resourceVersion when this replica holds it
 * or the holder's lease has expired. Expiry is judged on the local
 * monotonic clock from the moment the record was last seen to change,
 * never by comparing renewTime with our clock, so clock skew between
 * replicas cannot hand the lease to two of them. A 409 on the write means
 * another replica won. A leader that cannot renew within the renew
 * deadline stops leading. The Lease comes from the server and is only
 * read for its spec fields and resourceVersion.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/alloc.h"
#include "common/buf.h"
#include "common/status.h"
#include "k8s/backoff.h"
#include "k8s/lease.h"
#include "k8s/rest.h"

struct k8s_elector {
	struct k8s_client *c;
	struct k8s_elector_opts o;
	char *ns, *name, *id;
	bool leader, stopping, released;
	char *obs_rv; /* resourceVersion of the last record seen */
	char *obs_holder;
	uint64_t obs_at; /* local time the record last changed */
	uint64_t obs_dur_ms;
	json_int_t obs_trans; /* spec.leaseTransitions seen */
	uint64_t last_renew;  /* local time of our last good write */
	struct k8s_request *req;
	struct k8s_timer timer;	   /* next try */
	struct k8s_timer deadline; /* renew deadline while leading */
};

static void try_now(void *arg);

void
k8s_microtime(char *buf, size_t size)
{
	struct timespec ts;
	struct tm tm;
	char sec[32];

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(sec, sizeof(sec), "%Y-%m-%dT%H:%M:%S", &tm);
	/* metav1.MicroTime layout 2006-01-02T15:04:05.000000Z07:00 (§3) */
	snprintf(buf, size, "%s.%06ldZ", sec, ts.tv_nsec / 1000);
}

static void
set_str(char **p, const char *s)
{
	char *n = mc_strdup(s != NULL ? s : "");

	if (n == NULL)
		return;
	mc_free(*p);
	*p = n;
}

static void
stop_leading(struct k8s_elector *el)
{
	if (!el->leader)
		return;
	el->leader = false;
	k8s_timer_cancel(el->c, &el->deadline);
	if (el->o.on_stopped != NULL)
		el->o.on_stopped(el, el->o.arg);
}

static void
deadline_fire(void *arg)
{
	struct k8s_elector *el = arg;

	/* no renewal within RenewDeadline: stop writing (§6) */
	stop_leading(el);
}

static void
renewed(struct k8s_elector *el)
{
	bool was = el->leader;

	el->last_renew = k8s_now_ms();
	el->leader = true;
	k8s_timer_arm(el->c, &el->deadline, el->o.renew_deadline_ms,
	    deadline_fire, el);
	if (!was && el->o.on_started != NULL)
		el->o.on_started(el, el->o.arg);
}

static void
schedule(struct k8s_elector *el)
{
	uint64_t d = el->o.retry_period_ms;

	if (el->stopping)
		return;
	/* client-go: JitterFactor 1.2 while acquiring; renew every period */
	if (!el->leader)
		d = k8s_jitter(d, 1.2);
	k8s_timer_arm(el->c, &el->timer, d, try_now, el);
}

/* Notes the record; a new resourceVersion restarts the expiry clock. */
static void
observe(struct k8s_elector *el, const json_t *lease)
{
	const json_t *spec = json_object_get(lease, "spec");
	const char *rv = k8s_obj_rv(lease);
	const json_t *d = json_object_get(spec, "leaseDurationSeconds");

	if (rv == NULL || el->obs_rv == NULL || strcmp(rv, el->obs_rv) != 0) {
		el->obs_at = k8s_now_ms();
		set_str(&el->obs_rv, rv);
	}
	set_str(&el->obs_holder,
	    json_string_value(json_object_get(spec, "holderIdentity")));
	el->obs_trans =
	    json_integer_value(json_object_get(spec, "leaseTransitions"));
	el->obs_dur_ms = json_is_integer(d) && json_integer_value(d) > 0 &&
		json_integer_value(d) < 86400 ?
	    (uint64_t)json_integer_value(d) * 1000 :
	    el->o.lease_duration_ms;
}

static long
duration_s(const struct k8s_elector *el)
{
	return (long)((el->o.lease_duration_ms + 999) / 1000);
}

static int
send_lease(struct k8s_elector *el, const char *method, const json_t *obj,
    k8s_done_fn fn)
{
	struct k8s_request_opts o;
	struct mc_buf p;
	char *body = NULL;
	int rc = -1;

	mc_buf_init(&p, 4096);
	if (k8s_path(&p, &k8s_res_leases, el->ns,
		strcmp(method, "POST") == 0 ? NULL : el->name, NULL) == -1)
		goto out;
	if (obj != NULL && (body = json_dumps(obj, JSON_COMPACT)) == NULL)
		goto out;
	memset(&o, 0, sizeof(o));
	o.method = method;
	o.path = p.data;
	o.body = body;
	o.body_len = body != NULL ? strlen(body) : 0;
	o.on_done = fn;
	o.arg = el;
	/* one try is bounded by the renew deadline and not retried: the
	 * next try comes a retry period later (client-go) */
	o.timeout_ms = el->o.renew_deadline_ms;
	o.max_retries = 0;
	if ((el->req = k8s_request_start(el->c, &o, NULL)) == NULL)
		goto out;
	rc = 0;
out:
	free(body);
	mc_buf_free(&p);
	return rc;
}

static void
on_write(const struct k8s_response *r, void *arg)
{
	struct k8s_elector *el = arg;

	el->req = NULL;
	if (r->outcome == K8S_OK && json_is_object(k8s_response_body(r))) {
		observe(el, k8s_response_body(r));
		renewed(el);
	} else if (r->outcome == K8S_E_CONFLICT ||
	    r->outcome == K8S_E_ALREADY_EXISTS) {
		/* §6: a 409 means another replica won */
		stop_leading(el);
	}
	/* other failures: keep leading until the deadline says no */
	schedule(el);
}

static void
on_get(const struct k8s_response *r, void *arg)
{
	struct k8s_elector *el = arg;
	char now[40];
	json_t *obj = NULL, *spec;
	const char *holder;
	json_int_t trans;
	bool mine;

	el->req = NULL;
	k8s_microtime(now, sizeof(now));
	if (r->outcome == K8S_E_NOT_FOUND) {
		obj = json_pack("{s:s, s:s, s:{s:s, s:s}, s:{s:s, s:I, s:s, "
				"s:s, s:i}}",
		    "apiVersion", "coordination.k8s.io/v1", "kind", "Lease",
		    "metadata", "name", el->name, "namespace", el->ns, "spec",
		    "holderIdentity", el->id, "leaseDurationSeconds",
		    (json_int_t)duration_s(el), "acquireTime", now, "renewTime",
		    now, "leaseTransitions", 0);
		if (obj == NULL || send_lease(el, "POST", obj, on_write) == -1)
			schedule(el);
		json_decref(obj);
		return;
	}
	if (r->outcome != K8S_OK || !json_is_object(k8s_response_body(r))) {
		schedule(el);
		return;
	}
	observe(el, k8s_response_body(r));
	holder = el->obs_holder;
	mine = strcmp(holder, el->id) == 0;
	if (!mine && *holder != '\0' &&
	    el->obs_at + el->obs_dur_ms > k8s_now_ms()) {
		/* held by another replica and not yet expired */
		stop_leading(el);
		schedule(el);
		return;
	}
	if ((obj = json_deep_copy(k8s_response_body(r))) == NULL ||
	    (spec = json_object_get(obj, "spec")) == NULL) {
		if (obj != NULL && (spec = json_object()) != NULL &&
		    json_object_set_new(obj, "spec", spec) == 0)
			goto build;
		json_decref(obj);
		schedule(el);
		return;
	}
build:
	json_object_del(json_object_get(obj, "metadata"), "managedFields");
	trans = json_integer_value(json_object_get(spec, "leaseTransitions"));
	json_object_set_new(spec, "holderIdentity", json_string(el->id));
	json_object_set_new(spec, "leaseDurationSeconds",
	    json_integer(duration_s(el)));
	json_object_set_new(spec, "renewTime", json_string(now));
	if (!mine) {
		/* taking over: new acquireTime, one more transition */
		json_object_set_new(spec, "acquireTime", json_string(now));
		json_object_set_new(spec, "leaseTransitions",
		    json_integer(trans + 1));
	}
	if (send_lease(el, "PUT", obj, on_write) == -1)
		schedule(el);
	json_decref(obj);
}

static void
try_now(void *arg)
{
	struct k8s_elector *el = arg;
	struct k8s_request_opts o;
	struct mc_buf p;

	if (el->req != NULL || el->stopping)
		return;
	mc_buf_init(&p, 4096);
	memset(&o, 0, sizeof(o));
	o.method = "GET";
	o.on_done = on_get;
	o.arg = el;
	o.timeout_ms = el->o.renew_deadline_ms;
	o.max_retries = 0;
	if (k8s_path(&p, &k8s_res_leases, el->ns, el->name, NULL) == -1 ||
	    (o.path = p.data,
		(el->req = k8s_request_start(el->c, &o, NULL)) == NULL))
		schedule(el);
	mc_buf_free(&p);
}

struct k8s_elector *
k8s_elector_start(struct k8s_client *c, const struct k8s_elector_opts *o,
    struct mc_err *e)
{
	struct k8s_elector *el;

	if (o->namespace == NULL || o->name == NULL || o->identity == NULL ||
	    *o->identity == '\0') {
		mc_err_set(e, MC_ST_USAGE, 0,
		    "lease: namespace, name and "
		    "identity are required");
		return NULL;
	}
	/* client-go NewLeaderElector's checks */
	if (o->lease_duration_ms <= o->renew_deadline_ms ||
	    o->renew_deadline_ms * 10 <= o->retry_period_ms * 12 ||
	    o->retry_period_ms == 0) {
		mc_err_set(e, MC_ST_USAGE, 0,
		    "lease %s/%s: need "
		    "leaseDuration > renewDeadline > 1.2 x retryPeriod > 0",
		    o->namespace, o->name);
		return NULL;
	}
	if ((el = mc_calloc(1, sizeof(*el))) == NULL)
		goto nomem;
	el->c = c;
	el->o = *o;
	if ((el->ns = mc_strdup(o->namespace)) == NULL ||
	    (el->name = mc_strdup(o->name)) == NULL ||
	    (el->id = mc_strdup(o->identity)) == NULL ||
	    (el->obs_holder = mc_strdup("")) == NULL)
		goto nomem;
	el->o.namespace = el->o.name = el->o.identity = NULL;
	k8s_timer_arm(c, &el->timer, 0, try_now, el);
	return el;
nomem:
	mc_err_set(e, MC_ST_NOMEM, 0, "out of memory");
	k8s_elector_free(el);
	return NULL;
}

bool
k8s_elector_is_leader(const struct k8s_elector *el)
{
	return el->leader &&
	    k8s_now_ms() - el->last_renew < el->o.renew_deadline_ms;
}

const char *
k8s_elector_holder(const struct k8s_elector *el)
{
	return el->obs_holder != NULL ? el->obs_holder : "";
}

static void
on_release(const struct k8s_response *r, void *arg)
{
	struct k8s_elector *el = arg;

	el->req = NULL;
	el->released = true;
	if (r->outcome == K8S_OK)
		set_str(&el->obs_holder, "");
}

void
k8s_elector_release(struct k8s_elector *el)
{
	char now[40];
	json_t *obj;
	bool was = el->leader;

	if (el->stopping)
		return;
	el->stopping = true;
	k8s_timer_cancel(el->c, &el->timer);
	if (el->req != NULL) {
		k8s_request_cancel(el->c, el->req);
		el->req = NULL;
	}
	stop_leading(el);
	if (!was || el->obs_rv == NULL) {
		el->released = true;
		return;
	}
	/* client-go release(): empty holder, 1 s duration, same RV */
	k8s_microtime(now, sizeof(now));
	obj = json_pack("{s:s, s:s, s:{s:s, s:s, s:s}, s:{s:s, s:i, s:s, "
			"s:s, s:I}}",
	    "apiVersion", "coordination.k8s.io/v1", "kind", "Lease", "metadata",
	    "name", el->name, "namespace", el->ns, "resourceVersion",
	    el->obs_rv, "spec", "holderIdentity", "", "leaseDurationSeconds", 1,
	    "acquireTime", now, "renewTime", now, "leaseTransitions",
	    el->obs_trans);
	if (obj == NULL || send_lease(el, "PUT", obj, on_release) == -1)
		el->released = true;
	json_decref(obj);
}

bool
k8s_elector_released(const struct k8s_elector *el)
{
	return el->released;
}

void
k8s_elector_free(struct k8s_elector *el)
{
	if (el == NULL)
		return;
	k8s_timer_cancel(el->c, &el->timer);
	k8s_timer_cancel(el->c, &el->deadline);
	if (el->req != NULL)
		k8s_request_cancel(el->c, el->req);
	mc_free(el->ns);
	mc_free(el->name);
	mc_free(el->id);
	mc_free(el->obs_rv);
	mc_free(el->obs_holder);
	mc_free(el);
}
