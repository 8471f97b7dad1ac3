/*
 * fuzz_policy.c: libFuzzer target for the secure-naming policy reader
 * (spiffe/policy.c via meshca_policy_parse_json()). Besides not crashing
 * or leaking, an accepted policy must mean what the document says, read
 * a second time here with jansson alone: every ID listed for a service
 * is allowed for it, a workload of a service's trust domain is allowed,
 * "any" allows any workload, and a service the document does not name
 * allows nobody.
 *
 * The input is untrusted in full.
 */
#include <stdint.h>
#include <string.h>

#include <jansson.h>

#include <meshca/meshca.h>
#include <meshca/id.h>
#include <meshca/policy.h>

#include "fuzz/fuzz.h"

static struct meshca_id *
id_of(const char *s)
{
	struct meshca_id *id = NULL;

	if (meshca_id_parse(s, strlen(s), &id, NULL) != MESHCA_OK)
		return NULL;
	return id;
}

static void
check_service(const struct meshca_policy *p, const char *service,
    json_t *rule)
{
	struct meshca_id *id;
	json_t *ids, *td, *v;
	size_t i;
	char buf[MESHCA_ID_MAX + 1];

	FUZZ_CHECK(json_is_object(rule), "accepted rule is an object");
	if ((ids = json_object_get(rule, "ids")) != NULL) {
		FUZZ_CHECK(json_is_array(ids) && json_array_size(ids) > 0,
		    "accepted ids is a non-empty array");
		json_array_foreach(ids, i, v) {
			FUZZ_CHECK(json_is_string(v), "accepted id is a string");
			if ((id = id_of(json_string_value(v))) == NULL) {
				FUZZ_CHECK(fuzz_injecting(), "accepted id parses");
				continue;
			}
			FUZZ_CHECK(meshca_policy_allows(p, service, id),
			    "a listed ID is allowed");
			meshca_id_free(id);
		}
	} else if ((td = json_object_get(rule, "trust_domain")) != NULL) {
		FUZZ_CHECK(json_is_string(td), "accepted trust_domain");
		if ((size_t)snprintf(buf, sizeof(buf), "spiffe://%s/w",
		    json_string_value(td)) >= sizeof(buf))
			return;
		if ((id = id_of(buf)) == NULL) {
			FUZZ_CHECK(fuzz_injecting(), "accepted TD makes IDs");
			return;
		}
		FUZZ_CHECK(meshca_policy_allows(p, service, id),
		    "a workload of the trust domain is allowed");
		meshca_id_free(id);
	} else {
		FUZZ_CHECK(json_object_get(rule, "any") == json_true(),
		    "the third kind of rule is any: true");
		if ((id = id_of("spiffe://elsewhere.test/x")) != NULL)
			FUZZ_CHECK(meshca_policy_allows(p, service, id),
			    "any allows anyone");
		meshca_id_free(id);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct meshca_policy *p = NULL;
	struct meshca_error err;
	struct meshca_id *id;
	enum meshca_status st;
	json_t *doc = NULL, *services, *rule;
	const char *service;
	char absent[MESHCA_SERVICE_MAX + 8];

	memset(&err, 0, sizeof(err));
	st = meshca_policy_parse_json((const char *)data, size, &p, &err);
	FUZZ_CHECK(st == MESHCA_OK || st == MESHCA_ERR_PARSE ||
	    st == MESHCA_ERR_NOMEM, "status is one the header lists");
	FUZZ_CHECK((st == MESHCA_OK) == (p != NULL), "object iff success");
	if (st != MESHCA_OK) {
		FUZZ_CHECK(err.status == st && err.message[0] != '\0' &&
		    memchr(err.message, '\0', sizeof(err.message)) != NULL,
		    "error record filled");
		return 0;
	}
	doc = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES,
	    NULL);
	if (doc == NULL) {
		FUZZ_CHECK(fuzz_injecting(), "jansson reads what we accept");
		goto out;
	}
	services = json_object_get(doc, "services");
	FUZZ_CHECK(json_is_object(services), "accepted services object");
	json_object_foreach(services, service, rule)
		check_service(p, service, rule);
	/* A name no document can hold (too long) allows nobody. */
	memset(absent, 'x', sizeof(absent) - 1);
	absent[sizeof(absent) - 1] = '\0';
	if ((id = id_of("spiffe://example.org/ns/a/sa/b")) != NULL)
		FUZZ_CHECK(!meshca_policy_allows(p, absent, id),
		    "an absent service allows nobody");
	meshca_id_free(id);
	FUZZ_CHECK(!meshca_policy_allows(p, NULL, NULL), "NULL allows none");
out:
	json_decref(doc);
	meshca_policy_free(p);
	return 0;
}
