/*
 * fuzz_k8s_list.c: libFuzzer target for the Kubernetes List page reader
 * (k8s/rest.c: k8s_list_page_parse), which reads each page of a paginated
 * list (kubernetes-api.md §2): the items, metadata.resourceVersion and
 * the continue token that the next request carries back to the server.
 *
 * The input is a whole list conversation: pages separated by a line
 * "--", each the body of one answer (parsed by jansson as k8s/http.c
 * does); a page that is exactly "410" stands for an expired continue
 * token, which restarts the list from its first page. The target runs
 * the pages through the same loop as k8s_list_start() and checks:
 *   - the verdict against an independent reading of the body with
 *     jansson (an object; items absent, null or an array; on a first
 *     page a string resourceVersion);
 *   - that what the reader hands back is borrowed from the body;
 *   - that every item gathered over the pages is counted once, and a
 *     restart drops what the earlier pass gathered;
 *   - that a continue token, whatever its bytes, goes into the next
 *     request's query percent-encoded (RFC 3986 §2.1: only unreserved
 *     characters bare) and decodes back to itself, so no token can add
 *     a parameter or change the path.
 * Untrusted in full: this is what an API server (or anything posing as
 * one) sends.
 */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include <jansson.h>

#include "common/buf.h"
#include "common/err.h"
#include "common/status.h"
#include "k8s/rest.h"
#include "fuzz/fuzz.h"

#define PAGES_MAX 64
#define SEP "\n--\n"
#define BASE "/api/v1/secrets?limit=500"
#define CONT BASE "&continue="

static bool
is_unreserved(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' ||
	    c == '~';
}

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* The continue token as the next page's request would carry it. */
static void
check_continue(const char *cont)
{
	const char *q;
	struct mc_buf b;
	struct mc_err e;
	size_t i, n, tlen = strlen(cont);

	mc_buf_init(&b, 4 * tlen + sizeof(CONT));
	mc_err_clear(&e);
	if (mc_buf_puts(&b, BASE, &e) == -1 ||
	    k8s_query(&b, "continue", cont, &e) == -1) {
		FUZZ_CHECK(e.status == MC_ST_NOMEM, "only nomem fails");
		mc_buf_free(&b);
		return;
	}
	FUZZ_CHECK(strncmp(b.data, CONT, strlen(CONT)) == 0,
	    "the token is one more parameter");
	q = b.data + strlen(CONT);
	for (i = 0, n = 0; q[i] != '\0'; n++) {
		if (q[i] == '%') {
			FUZZ_CHECK(hexval(q[i + 1]) >= 0 &&
				hexval(q[i + 2]) >= 0,
			    "%XX escape");
			FUZZ_CHECK(n < tlen &&
				(unsigned char)cont[n] ==
				    (hexval(q[i + 1]) << 4 |
					hexval(q[i + 2])) &&
				!is_unreserved((unsigned char)cont[n]),
			    "escape decodes to a reserved byte of the token");
			i += 3;
		} else {
			FUZZ_CHECK(is_unreserved((unsigned char)q[i]),
			    "only unreserved characters bare");
			FUZZ_CHECK(n < tlen && cont[n] == q[i],
			    "bare byte is the token's");
			i++;
		}
	}
	FUZZ_CHECK(n == tlen, "the whole token");
	mc_buf_free(&b);
}

/* What k8s_list_page_parse must say, read independently. */
static bool
expect_ok(json_t *body, bool first)
{
	json_t *items, *rv;

	if (!json_is_object(body))
		return false;
	items = json_object_get(body, "items");
	if (items != NULL && !json_is_null(items) && !json_is_array(items))
		return false;
	rv = json_object_get(json_object_get(body, "metadata"),
	    "resourceVersion");
	return !first || json_is_string(rv);
}

static const uint8_t *
next_page(const uint8_t *p, const uint8_t *end, size_t *len)
{
	const uint8_t *s;

	for (s = p; (size_t)(end - s) >= strlen(SEP); s++)
		if (memcmp(s, SEP, strlen(SEP)) == 0) {
			*len = (size_t)(s - p);
			return s + strlen(SEP);
		}
	*len = (size_t)(end - p);
	return NULL;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *p = data, *end = data + size, *next;
	struct k8s_list_page pg;
	struct mc_err e;
	json_t *body, *all;
	size_t len, i, expect_n = 0;
	unsigned pages = 0;
	bool first = true, ok;
	int rc;

	if ((all = json_array()) == NULL)
		return 0;
	for (; p != NULL && pages < PAGES_MAX; p = next, pages++) {
		next = next_page(p, end, &len);
		if (len == 3 && memcmp(p, "410", 3) == 0) {
			if (first)
				break; /* k8s_list_start() gives up */
			first = true;
			json_array_clear(all);
			expect_n = 0;
			continue;
		}
		/* k8s/http.c: an empty body is no JSON at all */
		body =
		    len > 0 ? json_loadb((const char *)p, len, 0, NULL) : NULL;
		mc_err_clear(&e);
		rc = k8s_list_page_parse(body, first, "/api/v1/secrets", &pg,
		    &e);
		ok = expect_ok(body, first);
		FUZZ_CHECK(rc == (ok ? 0 : -1), "verdict as jansson reads it");
		if (rc == -1) {
			FUZZ_CHECK(e.status == MC_ST_PARSE &&
				strncmp(e.msg, "list /api/v1/secrets: ", 22) ==
				    0,
			    "a parse error naming the list");
			json_decref(body);
			break;
		}
		FUZZ_CHECK(pg.items == NULL ||
			pg.items == json_object_get(body, "items"),
		    "items borrowed from the body");
		FUZZ_CHECK(pg.items == NULL || json_is_array(pg.items),
		    "items an array");
		FUZZ_CHECK(pg.rv ==
			json_string_value(json_object_get(json_object_get(body,
							      "metadata"),
			    "resourceVersion")),
		    "rv borrowed from the body");
		FUZZ_CHECK(!first || pg.rv != NULL, "a first page has an RV");
		if (pg.items != NULL) {
			if (json_array_extend(all, pg.items) == -1) {
				json_decref(body);
				break; /* out of memory, under torture */
			}
			expect_n += json_array_size(pg.items);
		}
		FUZZ_CHECK(json_array_size(all) == expect_n, "every item once");
		first = false;
		if (pg.cont == NULL || *pg.cont == '\0') {
			json_decref(body);
			break;
		}
		check_continue(pg.cont);
		json_decref(body);
	}
	for (i = 0; i < json_array_size(all); i++)
		FUZZ_CHECK(json_array_get(all, i) != NULL, "items kept alive");
	json_decref(all);
	return 0;
}
