/*
 * cmd_bundle.c: "meshca bundle" prints the trust bundle of a trust
 * domain: the roots of every authority that is prepared, active or
 * retiring (so a staged rotation is trusted before it signs, and after),
 * as PEM, or with --format spiffe (or --spiffe) as a SPIFFE bundle JSON
 * document written by
 * libmeshca-verify. Reads only the ledger; no key is opened.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include <meshca/bundle.h>

#include "ca/authority.h"
#include "ca/rotate.h"
#include "cli/ca_util.h"
#include "common/alloc.h"
#include "common/status.h"

static int
count_roots(const struct mc_buf *pem)
{
	const char *p = pem->data, *end = pem->data + pem->len;
	const char *tag = "-----BEGIN CERTIFICATE-----";
	size_t tl = strlen(tag);
	int n = 0;

	for (; p + tl <= end; p++)
		if (memcmp(p, tag, tl) == 0)
			n++;
	return n;
}

int
cli_cmd_bundle(int argc, char *argv[], const struct cli_global *g)
{
	static const struct option longopts[] = {
		{ "spiffe", no_argument, NULL, 's' },
		{ "format", required_argument, NULL, 'f' },
		{ "trust-domain", required_argument, NULL, 'T' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *td = CA_DEFAULT_TRUST_DOMAIN;
	struct meshca_bundle *b = NULL;
	struct meshca_error me;
	struct store_db *db = NULL;
	struct mc_buf pem;
	struct mc_err e = { 0 };
	enum meshca_status st;
	bool spiffe = false;
	char *json = NULL;
	size_t jlen;
	int ch, rc;

	mc_buf_init(&pem, MESHCA_BUNDLE_MAX);
	while ((ch = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (ch) {
		case 's':
			spiffe = true;
			break;
		case 'f':
			if (strcmp(optarg, "pem") == 0)
				spiffe = false;
			else if (strcmp(optarg, "spiffe") == 0)
				spiffe = true;
			else {
				cli_warnx("bundle: --format %.80s: expected pem "
				    "or spiffe", optarg);
				return cli_usage_cmd("bundle");
			}
			break;
		case 'T':
			td = optarg;
			break;
		case 'h':
			return cli_help_cmd("bundle");
		default:
			return cli_usage_cmd("bundle");
		}
	}
	if (optind != argc) {
		cli_warnx("bundle: unexpected argument %s", argv[optind]);
		return cli_usage_cmd("bundle");
	}
	if ((rc = cli_ca_open("bundle", g, NULL, false, &db, NULL)) !=
	    CLI_EXIT_OK)
		return rc;
	if (ca_bundle_pem(db, td, &pem, &e) == -1) {
		rc = cli_ca_fail("bundle", &e);
		goto out;
	}
	if (pem.len == 0) {
		cli_warnx("bundle: trust domain %s has no authority in %s", td,
		    cli_ca_db_path(g));
		rc = CLI_EXIT_REJECTED;
		goto out;
	}
	if (!spiffe && g->json) {
		/* The SPIFFE form is JSON already; the PEM form is wrapped. */
		rc = cli_print_json("bundle", json_pack("{s:s, s:i, s:s%}",
		    "trust_domain", td, "roots", count_roots(&pem), "pem",
		    pem.data, pem.len));
		goto out;
	}
	if (!spiffe) {
		fwrite(pem.data, 1, pem.len, stdout);
		rc = CLI_EXIT_OK;
		goto out;
	}
	memset(&me, 0, sizeof(me));
	if ((st = meshca_bundle_parse(pem.data, pem.len, td, &b, &me)) !=
	    MESHCA_OK || (st = meshca_bundle_write_spiffe_json(b, td, 0, 0,
	    &json, &jlen, &me)) != MESHCA_OK) {
		cli_warn_lib("bundle", td, st, &me);
		rc = cli_exit_for(st);
		goto out;
	}
	fwrite(json, 1, jlen, stdout);
	if (jlen == 0 || json[jlen - 1] != '\n')
		putchar('\n');
	rc = CLI_EXIT_OK;
out:
	meshca_free(json);
	meshca_bundle_free(b);
	mc_buf_free(&pem);
	store_close(db);
	return rc;
}
