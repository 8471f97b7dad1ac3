/*
 * cmd_revoke.c: "meshca revoke SERIAL" marks a certificate revoked in the
 * ledger with an RFC 5280 reason, and records who did it; the next
 * "meshca crl" lists it. The serial is untrusted: it must be the 32 hex
 * digits meshca gave the certificate.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "ca/crl.h"
#include "cli/ca_util.h"
#include "common/status.h"

int
cli_cmd_revoke(int argc, char *argv[], const struct cli_global *g)
{
	static const struct option longopts[] = {
		{ "reason", required_argument, NULL, 'r' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct store_db *db = NULL;
	struct mc_err e = { 0 };
	char serial[CA_SERIAL_HEX];
	const char *arg;
	int ch, rc, reason = 0;
	size_t i, len;

	while ((ch = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (ch) {
		case 'r':
			if (ca_crl_reason_parse(optarg, &reason, &e) == -1) {
				cli_warnx("revoke: %s", e.msg);
				return cli_usage_cmd("revoke");
			}
			break;
		case 'h':
			return cli_help_cmd("revoke");
		default:
			return cli_usage_cmd("revoke");
		}
	}
	if (argc - optind != 1) {
		cli_warnx("revoke: expected one serial number");
		return cli_usage_cmd("revoke");
	}
	arg = argv[optind];
	len = strlen(arg);
	if (len != 2 * CA_SERIAL_LEN || strspn(arg, "0123456789abcdefABCDEF") !=
	    len) {
		cli_warnx("revoke: %.80s: a serial is %d hex digits",
		    arg, 2 * CA_SERIAL_LEN);
		return CLI_EXIT_USAGE;
	}
	for (i = 0; i <= len; i++)
		serial[i] = (arg[i] >= 'A' && arg[i] <= 'F') ?
		    (char)(arg[i] - 'A' + 'a') : arg[i];
	if ((rc = cli_ca_open("revoke", g, NULL, false, &db, NULL)) !=
	    CLI_EXIT_OK)
		return rc;
	if (ca_revoke(db, serial, reason, (int64_t)time(NULL), cli_ca_actor(),
	    &e) == -1)
		rc = cli_ca_fail("revoke", &e);
	else {
		if (g->json)
			printf("{\"serial\":\"%s\",\"reason\":\"%s\"}\n",
			    serial, ca_crl_reason_name(reason));
		else
			printf("revoked %s (%s)\n", serial,
			    ca_crl_reason_name(reason));
		rc = CLI_EXIT_OK;
	}
	store_close(db);
	return rc;
}
