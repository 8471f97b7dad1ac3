/*
 * fuzz_k8s_status.c: libFuzzer target for the Kubernetes error-body
 * reader (k8s/http.c: k8s_status_parse, k8s_status_from_json), which
 * turns whatever an API server, proxy or load balancer answered with an
 * error code into a metav1.Status. It must always yield a Status (only
 * allocation failure may fail), whose reason and message exist, and
 * whose message, when the body was not a JSON object, is printable
 * text (it goes into logs).
 *
 * Input: bytes 0-1 choose the HTTP code (100 to 599), the rest is the
 * body. Untrusted in full.
 */
#include <ctype.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include <jansson.h>

#include "common/err.h"
#include "common/status.h"
#include "k8s/http.h"
#include "fuzz/fuzz.h"

static void
check_status(const struct k8s_status *st, int rc, const struct mc_err *e)
{
	size_t i;

	if (rc == -1) {
		FUZZ_CHECK(e->status == MC_ST_NOMEM,
		    "only allocation failure fails");
		return;
	}
	FUZZ_CHECK(rc == 0, "0 or -1");
	FUZZ_CHECK(st->reason != NULL && st->message != NULL,
	    "reason and message are set");
	for (i = 0; i < st->ncauses; i++)
		FUZZ_CHECK(st->causes != NULL, "causes array");
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct k8s_status st;
	struct mc_err e;
	const char *body;
	json_t *j;
	long code;
	size_t n, i;
	int rc;

	if (size < 2)
		return 0;
	code = 100 + (long)(((unsigned)data[0] << 8 | data[1]) % 500);
	body = (const char *)data + 2;
	n = size - 2;

	memset(&st, 0, sizeof(st));
	mc_err_clear(&e);
	rc = k8s_status_parse(body, n, code, &st, &e);
	check_status(&st, rc, &e);
	j = n > 0 ? json_loadb(body, n, 0, NULL) : NULL;
	if (rc == 0 && !json_is_object(j)) {
		FUZZ_CHECK(st.code == code, "text body: the HTTP code");
		for (i = 0; st.message[i] != '\0'; i++)
			FUZZ_CHECK(isprint((unsigned char)st.message[i]),
			    "text body: a printable message");
	}
	k8s_status_clear(&st);
	FUZZ_CHECK(st.reason == NULL && st.message == NULL && st.ncauses == 0,
	    "clear zeroes");
	if (json_is_object(j)) {
		mc_err_clear(&e);
		rc = k8s_status_from_json(j, code, &st, &e);
		check_status(&st, rc, &e);
		k8s_status_clear(&st);
	}
	json_decref(j);
	return 0;
}
