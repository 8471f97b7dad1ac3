/*
 * print.c: output shared by the commands. Prints only what the library
 * has accepted (a parsed SPIFFE ID), so nothing from an untrusted file
 * reaches stdout unchecked.
 */
#include <stdio.h>
#include <stdlib.h>

#include <jansson.h>

#include <meshca/id.h>

#include "cli/cli.h"

int
cli_print_id_json(const char *cmd, const struct meshca_id *id)
{
	json_t *o = NULL;
	char *s = NULL;
	int rc = CLI_EXIT_INTERNAL;

	o = json_pack("{s:s, s:s, s:s}", "spiffe_id", meshca_id_get0_string(id),
	    "trust_domain", meshca_id_get0_trust_domain(id), "path",
	    meshca_id_get0_path(id));
	/* jansson allocates with malloc(); its string goes back to free(). */
	if (o == NULL || (s = json_dumps(o, JSON_PRESERVE_ORDER)) == NULL) {
		cli_warnx("%s: cannot build JSON output", cmd);
		goto out;
	}
	printf("%s\n", s);
	rc = CLI_EXIT_OK;
out:
	free(s);
	json_decref(o);
	return rc;
}
