/*
 * cmd_revoke.c: "meshca revoke SERIAL" marks a certificate revoked in the
 * ledger with an RFC 5280 reason, and records who did it; the next
 * "meshca crl" lists it. "meshca revoke --id ID" revokes every unexpired,
 * unrevoked certificate of a SPIFFE ID in one transaction. The serial is
 * untrusted: it must be the 32 hex digits meshca gave the certificate;
 * the ID must parse as a SPIFFE ID.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <meshca/id.h>

#include "ca/crl.h"
#include "cli/ca_util.h"
#include "common/status.h"
#include "store/certs.h"

struct by_id {
	json_t *serials; /* the live certificates found */
	int64_t now;
};

static int
collect_live(const struct store_cert *c, void *arg, struct mc_err *e)
{
	struct by_id *b = arg;

	if (c->status == STORE_CERT_REVOKED || c->not_after <= b->now)
		return 0;
	if (json_array_append_new(b->serials, json_string(c->serial)) == -1) {
		mc_err_set(e, MC_ST_NOMEM, 0, "out of memory");
		return -1;
	}
	return 0;
}

/* Revokes every live certificate of id, all or none. */
static int
revoke_id(const struct cli_global *g, const char *id, int reason)
{
	struct store_cert_filter f = { -1, NULL, NULL, 0 };
	struct by_id b = { NULL, (int64_t)time(NULL) };
	struct meshca_id *parsed = NULL;
	struct meshca_error me;
	struct store_db *db = NULL;
	struct mc_err e = { 0 };
	enum meshca_status st;
	size_t i;
	int rc;

	memset(&me, 0, sizeof(me));
	if ((st = meshca_id_parse(id, strlen(id), &parsed, &me)) !=
	    MESHCA_OK) {
		cli_warn_lib("revoke", "--id", st, &me);
		return CLI_EXIT_USAGE;
	}
	f.spiffe_id = meshca_id_get0_string(parsed);
	if ((rc = cli_ca_open("revoke", g, NULL, false, &db, NULL)) !=
	    CLI_EXIT_OK)
		goto out;
	if ((b.serials = json_array()) == NULL) {
		mc_err_set(&e, MC_ST_NOMEM, 0, "out of memory");
		goto fail;
	}
	if (store_begin(db, &e) == -1)
		goto fail;
	if (store_cert_query(db, &f, collect_live, &b, &e) == -1)
		goto fail_tx;
	for (i = 0; i < json_array_size(b.serials); i++)
		if (ca_revoke(db, json_string_value(json_array_get(b.serials,
		    i)), reason, b.now, cli_ca_actor(), &e) == -1)
			goto fail_tx;
	if (json_array_size(b.serials) == 0) {
		mc_err_set(&e, MC_ST_REJECTED, 0, "%s: no unexpired, unrevoked "
		    "certificate in ledger %s", f.spiffe_id, cli_ca_db_path(g));
		goto fail_tx;
	}
	if (store_commit(db, &e) == -1)
		goto fail_tx;
	if (g->json)
		rc = cli_print_json("revoke", json_pack("{s:s, s:s, s:O}",
		    "spiffe_id", f.spiffe_id, "reason",
		    ca_crl_reason_name(reason), "serials", b.serials));
	else {
		for (i = 0; i < json_array_size(b.serials); i++)
			printf("revoked %s (%s)\n", json_string_value(
			    json_array_get(b.serials, i)),
			    ca_crl_reason_name(reason));
		rc = CLI_EXIT_OK;
	}
	goto out;
fail_tx:
	store_rollback(db);
fail:
	rc = cli_ca_fail("revoke", &e);
out:
	json_decref(b.serials);
	store_close(db);
	meshca_id_free(parsed);
	return rc;
}

int
cli_cmd_revoke(int argc, char *argv[], const struct cli_global *g)
{
	static const struct option longopts[] = {
		{ "reason", required_argument, NULL, 'r' },
		{ "id", required_argument, NULL, 'i' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct store_db *db = NULL;
	struct mc_err e = { 0 };
	char serial[CA_SERIAL_HEX];
	const char *arg, *id = NULL;
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
		case 'i':
			id = optarg;
			break;
		case 'h':
			return cli_help_cmd("revoke");
		default:
			return cli_usage_cmd("revoke");
		}
	}
	if (id != NULL && argc == optind)
		return revoke_id(g, id, reason);
	if (id != NULL || argc - optind != 1) {
		cli_warnx("revoke: expected one serial number or --id");
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
