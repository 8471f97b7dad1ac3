/*
 * cmd_id.c: "meshca id STRING" checks STRING against SPIFFE-ID.md and
 * prints its trust domain and path. STRING is untrusted: it goes to
 * meshca_id_parse() as a counted string, and only the parts the parser
 * accepted are printed on stdout.
 *
 * Contract (DESIGN.md "Contracts", meshca(1)): exit 0 when valid, 1 when
 * not (reason on stderr), 2 on usage error.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include <meshca/id.h>

#include "cli/cli.h"

int
cli_cmd_id(int argc, char *argv[], const struct cli_global *g)
{
	static const struct option longopts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct meshca_error err;
	struct meshca_id *id = NULL;
	enum meshca_status st;
	int ch, rc = CLI_EXIT_INTERNAL;

	while ((ch = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (ch) {
		case 'h':
			return cli_help_cmd("id");
		default:
			return cli_usage_cmd("id");
		}
	}
	argc -= optind;
	argv += optind;
	if (argc != 1) {
		cli_warnx("id: expected one SPIFFE ID, got %d arguments", argc);
		return cli_usage_cmd("id");
	}

	memset(&err, 0, sizeof(err));
	st = meshca_id_parse(argv[0], strlen(argv[0]), &id, &err);
	if (st != MESHCA_OK) {
		cli_warn_lib("id", NULL, st, &err);
		rc = cli_exit_for(st);
		goto out;
	}
	if (g->json)
		rc = cli_print_id_json("id", id);
	else {
		printf("trust_domain: %s\npath: %s\n",
		    meshca_id_get0_trust_domain(id), meshca_id_get0_path(id));
		rc = CLI_EXIT_OK;
	}
out:
	meshca_id_free(id);
	return rc;
}
