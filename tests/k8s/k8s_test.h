/*
 * k8s_test.h: helpers shared by the tests that drive k8s/ against the
 * emulator: a result catcher for the asynchronous verbs and a wait loop.
 */
#ifndef K8S_TEST_H
#define K8S_TEST_H

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "k8s/http.h"

struct got {
	bool done;
	enum k8s_outcome outcome;
	long code;
	unsigned attempts;
	json_t *body;
	char reason[64];
	char msg[256];
};

static inline void
got_cb(const struct k8s_response *r, void *arg)
{
	struct got *g = arg;

	g->done = true;
	g->outcome = r->outcome;
	g->code = r->http_code;
	g->attempts = r->attempts;
	json_decref(g->body);
	g->body = json_incref(k8s_response_body(r));
	snprintf(g->reason, sizeof(g->reason), "%s",
	    r->status.reason != NULL ? r->status.reason : "");
	snprintf(g->msg, sizeof(g->msg), "%s", r->err.msg);
}

static inline void
got_reset(struct got *g)
{
	json_decref(g->body);
	memset(g, 0, sizeof(*g));
}

#endif /* K8S_TEST_H */
