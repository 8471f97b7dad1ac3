/*
 * fuzz_meshca_conf.c: libFuzzer target for the meshca.conf reader
 * (daemon/config.c: daemon_config_parse_buf, daemon_config_validate).
 * Beyond no crash and no leak, a configuration that parses must
 * round-trip: daemon_config_dump() writes it in meshca.conf syntax, that
 * text parses over fresh defaults, and dumping the result gives the same
 * text again.
 *
 * meshca.conf is an operator's file, half-trusted: any bytes must give a
 * clear error naming the line, never a crash.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "common/err.h"
#include "common/status.h"
#include "daemon/config.h"
#include "fuzz/fuzz.h"

/* The dump of c, in a malloc'd buffer; NULL when memory ran out. */
static char *
dump(const struct daemon_config *c, size_t *len)
{
	char *buf = NULL;
	FILE *f;

	if ((f = open_memstream(&buf, len)) == NULL)
		return NULL;
	daemon_config_dump(c, f);
	if (fclose(f) != 0) {
		free(buf);
		return NULL;
	}
	return buf;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct daemon_config *c = NULL, *again = NULL;
	struct mc_err e;
	char *d1 = NULL, *d2 = NULL;
	size_t l1 = 0, l2 = 0;
	int rc;

	mc_err_clear(&e);
	if ((c = daemon_config_defaults(&e)) == NULL) {
		FUZZ_CHECK(fuzz_injecting(), "defaults");
		return 0;
	}
	rc = daemon_config_parse_buf(c, "fuzz.conf", (const char *)data, size,
	    &e);
	if (rc == -1) {
		FUZZ_CHECK(e.msg[0] != '\0', "a failure says why");
		FUZZ_CHECK(strncmp(e.msg, "fuzz.conf", 9) == 0 ||
		    e.status == MC_ST_NOMEM, "a parse error names the file");
		goto out;
	}
	FUZZ_CHECK(rc == 0, "0 or -1");
	mc_err_clear(&e);
	if (daemon_config_validate(c, &e) == -1)
		FUZZ_CHECK(e.msg[0] != '\0', "a rule broken says which");
	if ((d1 = dump(c, &l1)) == NULL)
		goto out;
	mc_err_clear(&e);
	if ((again = daemon_config_defaults(&e)) == NULL) {
		FUZZ_CHECK(fuzz_injecting(), "defaults");
		goto out;
	}
	rc = daemon_config_parse_buf(again, "dump", d1, l1, &e);
	if (rc == -1 && e.status == MC_ST_NOMEM && fuzz_injecting())
		goto out;
	if (rc == -1 && fuzz_skip_known("conf-dump"))
		goto out;
	if (rc == -1)
		fprintf(stderr, "dump does not parse: %s\n--\n%s--\n", e.msg,
		    d1);
	FUZZ_CHECK(rc == 0, "the dump of a parsed config parses");
	if ((d2 = dump(again, &l2)) == NULL)
		goto out;
	FUZZ_CHECK(l1 == l2 && memcmp(d1, d2, l1) == 0,
	    "dump, parse, dump gives the same text");
out:
	free(d1);
	free(d2);
	daemon_config_free(c);
	daemon_config_free(again);
	return 0;
}
