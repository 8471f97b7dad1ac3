/*
 * test_policy.c: secure naming (spiffe/policy.c): authorizers, policies
 * built in code and from JSON, the JSON reader's hostile inputs (every
 * shape rule, unknown and duplicate keys, depth, size, bad IDs), and
 * meshca_policy_check_chain() over real chains from tests/helpers/pki.c.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include <meshca/bundle.h>
#include <meshca/policy.h>
#include <meshca/svid.h>

#include "tests/helpers/pki.h"

#define SVC "reviews.default.svc.cluster.local"
#define ID_R "spiffe://cluster.local/ns/default/sa/reviews"
#define ID_P "spiffe://cluster.local/ns/default/sa/productpage"
#define ID_X "spiffe://other.example/ns/default/sa/reviews"

static const char good_json[] =
    "{\"services\": {\n"
    "  \"" SVC "\": {\"ids\": [\"" ID_R "\", \"" ID_P "\"]},\n"
    "  \"ratings.default.svc.cluster.local\": "
    "{\"trust_domain\": \"cluster.local\"},\n"
    "  \"echo\": {\"any\": true}\n"
    "}}\n";

static struct meshca_id *
id_of(const char *s)
{
	struct meshca_id *id = NULL;

	assert_int_equal(meshca_id_parse(s, strlen(s), &id, NULL), MESHCA_OK);
	return id;
}

static bool
allows(const struct meshca_policy *p, const char *svc, const char *ids)
{
	struct meshca_id *id = id_of(ids);
	bool r = meshca_policy_allows(p, svc, id);

	meshca_id_free(id);
	return r;
}

static void
test_json_good(void **state)
{
	struct meshca_policy *p = NULL;
	struct meshca_error err;

	(void)state;
	if (meshca_policy_parse_json(good_json, sizeof(good_json) - 1, &p,
	    &err) != MESHCA_OK)
		fail_msg("%s", err.message);
	assert_true(allows(p, SVC, ID_R));
	assert_true(allows(p, SVC, ID_P));
	assert_false(allows(p, SVC, ID_X));
	assert_false(allows(p, SVC,
	    "spiffe://cluster.local/ns/default/sa/reviews2"));
	assert_true(allows(p, "ratings.default.svc.cluster.local", ID_P));
	assert_false(allows(p, "ratings.default.svc.cluster.local", ID_X));
	assert_true(allows(p, "echo", ID_X));
	/* Exact, case-sensitive service names; unknown ones allow nobody. */
	assert_false(allows(p, "Echo", ID_X));
	assert_false(allows(p, "reviews", ID_R));
	assert_false(allows(p, "", ID_R));
	assert_false(meshca_policy_allows(p, SVC, NULL));
	assert_false(meshca_policy_allows(p, NULL, NULL));
	assert_false(meshca_policy_allows(NULL, SVC, NULL));
	meshca_policy_free(p);

	/* An empty services object is a policy that allows nobody. */
	assert_int_equal(meshca_policy_parse_json("{\"services\":{}}", 15, &p,
	    NULL), MESHCA_OK);
	assert_false(allows(p, SVC, ID_R));
	meshca_policy_free(p);
}

static void
test_json_bad(void **state)
{
	static const struct {
		const char *json;
		const char *msg;
	} bad[] = {
		{ "", "policy: line" },
		{ "{", "policy: line" },
		{ "[]", "top level must be an object" },
		{ "{}", "services: missing" },
		{ "{\"services\": []}", "services: must be an object" },
		{ "{\"services\": {}, \"version\": 1}",
		    "unknown key \"version\" at top level" },
		{ "{\"services\": {\"a\": 1}}", "services.\"a\": must be an "
		    "object" },
		{ "{\"services\": {\"a\": {}}}", "services.\"a\": must be" },
		{ "{\"services\": {\"a\": {\"any\": true, \"ids\": "
		    "[\"" ID_R "\"]}}}", "services.\"a\": must be" },
		{ "{\"services\": {\"a\": {\"trust_domian\": \"x\"}}}",
		    "services.\"a\": unknown key \"trust_domian\"" },
		{ "{\"services\": {\"a\": {\"ids\": []}}}",
		    "services.\"a\".ids: must be a non-empty array" },
		{ "{\"services\": {\"a\": {\"ids\": \"" ID_R "\"}}}",
		    "services.\"a\".ids: must be a non-empty array" },
		{ "{\"services\": {\"a\": {\"ids\": [\"" ID_R "\", 7]}}}",
		    "services.\"a\".ids[1]: must be a string" },
		{ "{\"services\": {\"a\": {\"ids\": [\"spiffe://x/\"]}}}",
		    "services.\"a\".ids[0]: " },
		{ "{\"services\": {\"a\": {\"ids\": [\"http://x/y\"]}}}",
		    "services.\"a\".ids[0]: " },
		{ "{\"services\": {\"a\": {\"trust_domain\": \"Bad TD\"}}}",
		    "services.\"a\".trust_domain: " },
		{ "{\"services\": {\"a\": {\"trust_domain\": 5}}}",
		    "trust_domain: must be a string" },
		{ "{\"services\": {\"a\": {\"any\": false}}}",
		    "services.\"a\".any: must be true" },
		{ "{\"services\": {\"a\": {\"any\": 1}}}",
		    "services.\"a\".any: must be true" },
		{ "{\"services\": {\"a\": {\"any\": true}, \"a\": {\"any\": "
		    "true}}}", "duplicate object key" },
		{ "{\"services\": {\"\": {\"any\": true}}}",
		    "service name of 0 bytes" },
		{ "{\"services\": {\"a\\u0001b\": {\"any\": true}}}",
		    "control character" },
		{ "{\"services\": {\"a\\u0000b\": {\"any\": true}}}",
		    "policy: line" },
		{ "{\"services\": {\"a\": {\"ids\": [[\"" ID_R "\"]]}}}",
		    "nesting deeper than 4" },
		{ "{\"services\": {\"a\": {\"any\": true}}} x",
		    "policy: line" },
		/* jansson quotes raw bytes; the message stays printable. */
		{ "{\"services\": \x01\x7f}", "policy: line 1" },
	};
	struct meshca_policy *p;
	struct meshca_error err;
	size_t i, j;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		p = NULL;
		memset(&err, 0, sizeof(err));
		if (meshca_policy_parse_json(bad[i].json, strlen(bad[i].json),
		    &p, &err) != MESHCA_ERR_PARSE ||
		    strstr(err.message, bad[i].msg) == NULL)
			fail_msg("case %zu: want \"%s\", got %d \"%s\"", i,
			    bad[i].msg, err.status, err.message);
		assert_null(p);
		for (j = 0; err.message[j] != '\0'; j++)
			assert_true(err.message[j] >= 0x20 &&
			    err.message[j] < 0x7f);
	}
}

static void
test_json_limits(void **state)
{
	struct meshca_policy *p = NULL;
	struct meshca_error err;
	size_t n = 100000, i;
	char *deep = malloc(2 * n + 1);

	(void)state;
	/* A deep document is refused before jansson recurses into it. */
	for (i = 0; i < n; i++) {
		deep[i] = '[';
		deep[n + i] = ']';
	}
	deep[2 * n] = '\0';
	assert_int_equal(meshca_policy_parse_json(deep, 2 * n, &p, &err),
	    MESHCA_ERR_PARSE);
	assert_non_null(strstr(err.message, "nesting deeper"));
	/* Brackets inside strings do not count. */
	{
		static const char s[] = "{\"services\": {\"[[[[[{{{{\\\"\": "
		    "{\"any\": true}}}";

		if (meshca_policy_parse_json(s, sizeof(s) - 1, &p, &err) !=
		    MESHCA_OK)
			fail_msg("%s", err.message);
	}
	meshca_policy_free(p);
	p = NULL;
	assert_int_equal(meshca_policy_parse_json(deep,
	    MESHCA_POLICY_MAX + 1, &p, &err), MESHCA_ERR_PARSE);
	assert_non_null(strstr(err.message, "exceeds"));
	assert_int_equal(meshca_policy_parse_json(NULL, 0, &p, &err),
	    MESHCA_ERR_USAGE);
	assert_int_equal(meshca_policy_parse_json("{}", 2, NULL, &err),
	    MESHCA_ERR_USAGE);
	free(deep);
}

static void
test_builder(void **state)
{
	struct meshca_policy *p;
	struct meshca_authorizer *a;
	struct meshca_error err;
	struct meshca_id *r = id_of(ID_R), *x = id_of(ID_X);

	(void)state;
	assert_int_equal(meshca_policy_new(&p, NULL), MESHCA_OK);
	assert_int_equal(meshca_authorizer_id(r, &a, NULL), MESHCA_OK);
	assert_int_equal(meshca_policy_add(p, SVC, a, NULL), MESHCA_OK);
	assert_int_equal(meshca_authorizer_trust_domain("other.example", &a,
	    NULL), MESHCA_OK);
	assert_int_equal(meshca_policy_add(p, "x.other", a, NULL), MESHCA_OK);
	assert_true(meshca_policy_allows(p, SVC, r));
	assert_false(meshca_policy_allows(p, SVC, x));
	assert_true(meshca_policy_allows(p, "x.other", x));
	assert_false(meshca_policy_allows(p, "x.other", r));

	/* A duplicate service is refused and its authorizer freed. */
	assert_int_equal(meshca_authorizer_any(&a, NULL), MESHCA_OK);
	assert_int_equal(meshca_policy_add(p, SVC, a, &err), MESHCA_ERR_USAGE);
	assert_non_null(strstr(err.message, "given twice"));
	assert_false(meshca_policy_allows(p, SVC, x));
	assert_int_equal(meshca_authorizer_any(&a, NULL), MESHCA_OK);
	assert_int_equal(meshca_policy_add(p, "bad\tname", a, &err),
	    MESHCA_ERR_USAGE);
	assert_int_equal(meshca_authorizer_any(&a, NULL), MESHCA_OK);
	assert_int_equal(meshca_policy_add(NULL, SVC, a, &err),
	    MESHCA_ERR_USAGE);
	assert_int_equal(meshca_policy_add(p, SVC, NULL, &err),
	    MESHCA_ERR_USAGE);

	/* References: a second holder keeps the policy alive. */
	assert_ptr_equal(meshca_policy_up_ref(p), p);
	meshca_policy_free(p);
	assert_true(meshca_policy_allows(p, SVC, r));
	meshca_policy_free(p);
	meshca_policy_free(NULL);
	meshca_id_free(r);
	meshca_id_free(x);
}

static void
test_authorizers(void **state)
{
	struct meshca_authorizer *a;
	struct meshca_id *ids[200], *out;
	struct meshca_error err;
	char buf[128];
	size_t i;

	(void)state;
	/* A large ID set, with repeats, searched by bsearch. */
	for (i = 0; i < 200; i++) {
		snprintf(buf, sizeof(buf),
		    "spiffe://cluster.local/ns/n%zu/sa/s%zu", i % 100,
		    (i * 7919) % 100);
		ids[i] = id_of(buf);
	}
	assert_int_equal(meshca_authorizer_one_of(
	    (const struct meshca_id *const *)ids, 100, &a, NULL), MESHCA_OK);
	for (i = 0; i < 200; i++)
		assert_int_equal(meshca_authorizer_allows(a, ids[i]), i < 100 ||
		    meshca_id_equal(ids[i], ids[i - 100]));
	meshca_authorizer_free(a);
	assert_int_equal(meshca_authorizer_one_of(
	    (const struct meshca_id *const *)ids, 200, &a, NULL), MESHCA_OK);
	for (i = 0; i < 200; i++)
		assert_true(meshca_authorizer_allows(a, ids[i]));
	out = id_of("spiffe://cluster.local/ns/n1/sa/zzz");
	assert_false(meshca_authorizer_allows(a, out));
	assert_false(meshca_authorizer_allows(a, NULL));
	assert_false(meshca_authorizer_allows(NULL, out));
	assert_ptr_equal(meshca_authorizer_up_ref(a), a);
	meshca_authorizer_free(a);
	assert_true(meshca_authorizer_allows(a, ids[0]));
	meshca_authorizer_free(a);

	assert_int_equal(meshca_authorizer_trust_domain("cluster.local", &a,
	    NULL), MESHCA_OK);
	assert_true(meshca_authorizer_allows(a, out));
	meshca_authorizer_free(a);
	/* Trust domain match is exact, not a suffix match. */
	assert_int_equal(meshca_authorizer_trust_domain("local", &a, NULL),
	    MESHCA_OK);
	assert_false(meshca_authorizer_allows(a, out));
	meshca_authorizer_free(a);
	assert_int_equal(meshca_authorizer_trust_domain("Not Valid", &a,
	    &err), MESHCA_ERR_PARSE);
	assert_int_equal(meshca_authorizer_any(&a, NULL), MESHCA_OK);
	assert_true(meshca_authorizer_allows(a, out));
	meshca_authorizer_free(a);

	assert_int_equal(meshca_authorizer_one_of(NULL, 1, &a, &err),
	    MESHCA_ERR_USAGE);
	assert_int_equal(meshca_authorizer_one_of(
	    (const struct meshca_id *const *)ids, 0, &a, &err),
	    MESHCA_ERR_USAGE);
	assert_int_equal(meshca_authorizer_id(NULL, &a, &err),
	    MESHCA_ERR_USAGE);
	assert_int_equal(meshca_authorizer_any(NULL, &err), MESHCA_ERR_USAGE);
	meshca_id_free(out);
	for (i = 0; i < 200; i++)
		meshca_id_free(ids[i]);
}

static void
test_load_file(void **state)
{
	char path[] = "/tmp/test_policyXXXXXX";
	struct meshca_policy *p = NULL;
	struct meshca_error err;
	int fd;

	(void)state;
	assert_true((fd = mkstemp(path)) != -1);
	close(fd);
	pki_write_file(path, good_json, sizeof(good_json) - 1);
	assert_int_equal(meshca_policy_load_file(path, &p, &err), MESHCA_OK);
	assert_true(allows(p, SVC, ID_R));
	meshca_policy_free(p);
	pki_write_file(path, "{\"services\": 1}", 15);
	assert_int_equal(meshca_policy_load_file(path, &p, &err),
	    MESHCA_ERR_PARSE);
	/* The message names the file. */
	assert_non_null(strstr(err.message, path));
	unlink(path);
	assert_int_equal(meshca_policy_load_file(path, &p, &err),
	    MESHCA_ERR_IO);
	assert_int_equal(meshca_policy_load_file(NULL, &p, &err),
	    MESHCA_ERR_USAGE);
}

static void
test_check_chain(void **state)
{
	struct pki_cert root, good, other, rogue_root, rogue;
	struct meshca_bundle *b;
	struct meshca_verifier *v;
	struct meshca_policy *p;
	struct meshca_id *peer = NULL;
	struct meshca_error err;
	size_t len;
	char *pem;

	(void)state;
	pki_root("cluster.local", &root);
	pki_leaf(ID_R, &root, &good);
	pki_leaf("spiffe://cluster.local/ns/default/sa/evil", &root, &other);
	pki_root("cluster.local", &rogue_root);
	pki_leaf(ID_R, &rogue_root, &rogue);
	pem = pki_pem(&root.cert, 1, &len);
	assert_int_equal(meshca_bundle_parse(pem, len, "cluster.local", &b,
	    NULL), MESHCA_OK);
	free(pem);
	assert_int_equal(meshca_verifier_new(&v, NULL), MESHCA_OK);
	assert_int_equal(meshca_verifier_set_bundle(v, b, NULL), MESHCA_OK);
	assert_int_equal(meshca_policy_parse_json(good_json,
	    sizeof(good_json) - 1, &p, NULL), MESHCA_OK);

	pem = pki_pem(&good.cert, 1, &len);
	assert_int_equal(meshca_policy_check_chain(p, v, SVC, pem, len, &peer,
	    &err), MESHCA_OK);
	assert_string_equal(meshca_id_get0_string(peer), ID_R);
	meshca_id_free(peer);
	peer = NULL;
	assert_int_equal(meshca_policy_check_chain(p, v, "nope", pem, len,
	    &peer, &err), MESHCA_ERR_REJECTED);
	assert_int_equal(err.reason, MESHCA_REASON_NOT_AUTHORIZED);
	assert_null(peer);
	free(pem);

	pem = pki_pem(&other.cert, 1, &len);
	assert_int_equal(meshca_policy_check_chain(p, v, SVC, pem, len, NULL,
	    &err), MESHCA_ERR_REJECTED);
	assert_int_equal(err.reason, MESHCA_REASON_NOT_AUTHORIZED);
	assert_string_equal(err.message, "leaf: secure naming: "
	    "\"spiffe://cluster.local/ns/default/sa/evil\" may not run "
	    "service \"" SVC "\"");
	/* "any" still needs a verified chain. */
	assert_int_equal(meshca_policy_check_chain(p, v, "echo", pem, len,
	    NULL, &err), MESHCA_OK);
	free(pem);

	pem = pki_pem(&rogue.cert, 1, &len);
	assert_int_equal(meshca_policy_check_chain(p, v, "echo", pem, len,
	    NULL, &err), MESHCA_ERR_REJECTED);
	assert_int_equal(err.reason, MESHCA_REASON_UNTRUSTED);
	assert_int_equal(meshca_policy_check_chain(NULL, v, "echo", pem, len,
	    NULL, &err), MESHCA_ERR_USAGE);
	assert_int_equal(meshca_policy_check_chain(p, v, NULL, pem, len,
	    NULL, &err), MESHCA_ERR_USAGE);
	free(pem);

	meshca_policy_free(p);
	meshca_verifier_free(v);
	meshca_bundle_free(b);
	pki_cert_clear(&root);
	pki_cert_clear(&good);
	pki_cert_clear(&other);
	pki_cert_clear(&rogue_root);
	pki_cert_clear(&rogue);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_json_good),
		cmocka_unit_test(test_json_bad),
		cmocka_unit_test(test_json_limits),
		cmocka_unit_test(test_builder),
		cmocka_unit_test(test_authorizers),
		cmocka_unit_test(test_load_file),
		cmocka_unit_test(test_check_chain),
	};

	return cmocka_run_group_tests_name("policy", tests, NULL, NULL);
}
