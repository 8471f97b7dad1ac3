/*
 * fuzz_watch.c: libFuzzer target for the Kubernetes watch-stream framing
 * parser (k8s/watch.c: k8s_watch_parser_feed/finish and
 * k8s_watch_event_parse). A watch body arrives as newline-delimited JSON
 * in whatever pieces the network makes, so the same stream is fed twice:
 * once whole, once cut at points drawn from the input, and both must
 * give the same events (type and object) and the same verdict.
 *
 * Input: byte 0 chooses the line limit (0: the default, else 16 * b
 * bytes), bytes 1-4 seed the cutting, the rest is the stream. Untrusted
 * in full: this is what an API server (or anything posing as one) sends.
 */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include <jansson.h>

#include "common/err.h"
#include "k8s/watch.h"
#include "fuzz/fuzz.h"

#define EVENTS_MAX 4096

struct record {
	char *ev[EVENTS_MAX];
	size_t n;
	bool overflow;
};

static int
on_event(enum k8s_event_type type, json_t *obj, void *arg)
{
	struct record *r = arg;
	char *dump, *s;
	size_t len;

	FUZZ_CHECK(type <= K8S_EV_ERROR && json_is_object(obj), "event");
	if (r->n == EVENTS_MAX) {
		r->overflow = true;
		return 0;
	}
	if ((dump = json_dumps(obj, JSON_COMPACT | JSON_SORT_KEYS |
	    JSON_ENCODE_ANY)) == NULL)
		dump = strdup("(nomem)");
	len = dump == NULL ? 0 : strlen(dump);
	if ((s = malloc(len + 3)) != NULL) {
		s[0] = (char)('0' + type);
		s[1] = ' ';
		memcpy(s + 2, dump == NULL ? "" : dump, len + 1);
	}
	free(dump);
	r->ev[r->n++] = s;
	return 0;
}

static void
record_free(struct record *r)
{
	size_t i;

	for (i = 0; i < r->n; i++)
		free(r->ev[i]);
}

/* Feeds the stream in pieces; cut == 0 means whole. Returns 0 or -1. */
static int
feed(const char *s, size_t n, size_t max_line, uint32_t cut,
    struct record *r)
{
	struct k8s_watch_parser p;
	struct mc_err e;
	size_t off = 0, k;
	int rc = 0;

	mc_err_clear(&e);
	k8s_watch_parser_init(&p, max_line, on_event, r);
	while (rc == 0 && off < n) {
		if (cut == 0)
			k = n - off;
		else {
			/* xorshift32: reproducible cut points */
			cut ^= cut << 13;
			cut ^= cut >> 17;
			cut ^= cut << 5;
			k = 1 + cut % 64;
			if (k > n - off)
				k = n - off;
		}
		rc = k8s_watch_parser_feed(&p, s + off, k, &e);
		off += k;
	}
	if (rc == 0)
		rc = k8s_watch_parser_finish(&p, &e);
	if (rc == -1)
		FUZZ_CHECK(e.msg[0] != '\0', "a failure says why");
	k8s_watch_parser_free(&p);
	return rc;
}

/* The longest line of the stream (the last one too, unterminated). */
static size_t
longest_line(const char *s, size_t n)
{
	const char *nl;
	size_t max = 0, k;

	while (n > 0) {
		nl = memchr(s, '\n', n);
		k = nl == NULL ? n : (size_t)(nl - s);
		if (k > max)
			max = k;
		if (nl == NULL)
			break;
		s += k + 1;
		n -= k + 1;
	}
	return max;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct record whole, cut;
	const char *s;
	size_t n, i, max_line;
	uint32_t seed;
	int rc1, rc2;

	if (size < 5)
		return 0;
	max_line = data[0] == 0 ? 0 : (size_t)data[0] * 16;
	seed = (uint32_t)data[1] << 24 | (uint32_t)data[2] << 16 |
	    (uint32_t)data[3] << 8 | data[4];
	seed |= 1; /* xorshift must not start at 0 */
	s = (const char *)data + 5;
	n = size - 5;

	memset(&whole, 0, sizeof(whole));
	memset(&cut, 0, sizeof(cut));
	rc1 = feed(s, n, max_line, 0, &whole);
	rc2 = feed(s, n, max_line, seed, &cut);
	if (fuzz_injecting())
		goto out;
	if (max_line > 0 && longest_line(s, n) > max_line &&
	    !fuzz_skip_known("watch-line-max")) {
		/* watch.h: "lines longer than max_line fail", however cut. */
		FUZZ_CHECK(rc1 == -1, "an oversize line fails, whole");
		FUZZ_CHECK(rc2 == -1, "an oversize line fails, cut");
	}
	if (max_line == 0 || longest_line(s, n) <= max_line) {
		FUZZ_CHECK(rc1 == rc2, "same verdict whole and cut");
		FUZZ_CHECK(whole.n == cut.n, "same number of events");
		for (i = 0; i < whole.n; i++)
			FUZZ_CHECK(whole.ev[i] != NULL && cut.ev[i] != NULL &&
			    strcmp(whole.ev[i], cut.ev[i]) == 0,
			    "same events whole and cut");
	}
out:
	record_free(&whole);
	record_free(&cut);
	return 0;
}
