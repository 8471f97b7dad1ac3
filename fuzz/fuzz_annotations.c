/*
 * fuzz_annotations.c: libFuzzer target for the annotations meshcad reads
 * back from the Secrets it wrote (daemon/publish.c): the superseded list
 * (daemon_pending_parse, annotation meshca.io/superseded) and the serial
 * number forms (daemon_serial_norm, annotation meshca.io/serial and the
 * serial= of a revocation request). Anyone who may edit a Secret or
 * ConfigMap in a managed namespace writes these bytes.
 *
 * Invariants: what parses formats back to text that parses to the same
 * entries and formats to the same text (a fixed point after one round);
 * every entry's serial is in the ledger's form (32 lowercase hex
 * digits), its numbers positive, its key identifier at most
 * DAEMON_KID_MAX bytes; a normalized serial normalizes to itself.
 */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "daemon/publish.h"
#include "fuzz/fuzz.h"

static bool
ledger_form(const char *s)
{
	size_t i;

	for (i = 0; s[i] != '\0'; i++)
		if (!((s[i] >= '0' && s[i] <= '9') ||
		    (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return i == 32;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct daemon_pending v[DAEMON_PENDING_MAX],
	    w[DAEMON_PENDING_MAX];
	static char text[DAEMON_PENDING_TEXT_MAX], again[DAEMON_PENDING_TEXT_MAX];
	char *in, norm[40], norm2[40];
	size_t n, m, i;

	if ((in = malloc(size + 1)) == NULL)
		return 0;
	memcpy(in, data, size);
	in[size] = '\0'; /* an annotation is a string: up to its first NUL */

	memset(v, 0, sizeof(v));
	n = daemon_pending_parse(in, v, DAEMON_PENDING_MAX);
	FUZZ_CHECK(n <= DAEMON_PENDING_MAX, "more entries than asked for");
	for (i = 0; i < n; i++) {
		FUZZ_CHECK(ledger_form(v[i].serial), "serial not normalized");
		FUZZ_CHECK(v[i].not_after > 0 && v[i].due > 0,
		    "a number not positive");
		FUZZ_CHECK(v[i].kid_len <= DAEMON_KID_MAX, "key id too long");
	}
	FUZZ_CHECK(daemon_pending_format(v, n, text, sizeof(text)) == 0,
	    "parsed entries do not format");
	memset(w, 0, sizeof(w));
	m = daemon_pending_parse(text, w, DAEMON_PENDING_MAX);
	FUZZ_CHECK(m == n, "formatted text parses to another count");
	FUZZ_CHECK(memcmp(v, w, n * sizeof(v[0])) == 0,
	    "formatted text parses to other entries");
	FUZZ_CHECK(daemon_pending_format(w, m, again, sizeof(again)) == 0 &&
	    strcmp(text, again) == 0, "format is not a fixed point");

	if (daemon_serial_norm(in, norm, sizeof(norm)) == 0) {
		FUZZ_CHECK(ledger_form(norm), "serial not normalized");
		FUZZ_CHECK(daemon_serial_norm(norm, norm2, sizeof(norm2)) ==
		    0 && strcmp(norm, norm2) == 0, "normalizing twice differs");
	}
	free(in);
	return 0;
}
