/*
 * cmd_crl.c: "meshca crl" signs the next CRL of every authority of the
 * trust domain that still has valid leaves in the field (active and
 * retiring), each with its next CRL number, and writes them as one PEM
 * file (stdout, or --out with mode 0644).
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "ca/authority.h"
#include "ca/crl.h"
#include "cli/ca_util.h"
#include "common/status.h"
#include "store/authorities.h"

int
cli_cmd_crl(int argc, char *argv[], const struct cli_global *g)
{
	static const struct option longopts[] = {
		{ "validity", required_argument, NULL, 'v' },
		CLI_CA_LONGOPTS_COMMON,
		{ "out", required_argument, NULL, 'o' },
		{ NULL, 0, NULL, 0 },
	};
	struct cli_ca_opts opt;
	int64_t validity = CA_CRL_VALIDITY_DEFAULT, now = (int64_t)time(NULL);
	struct store_authority *v = NULL;
	struct ca_authority *a = NULL;
	struct store_db *db = NULL;
	struct ca_kek k;
	struct mc_buf pem;
	struct mc_err e = { 0 };
	size_t n = 0, i, ncrl = 0;
	json_t *ids = NULL;
	const char *td, *out;
	int ch, rc;

	memset(&k, 0, sizeof(k));
	mc_buf_init(&pem, 1 << 26);
	cli_ca_opts_init(&opt, NULL);
	while ((ch = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		if (ch != 'v') {
			if (cli_ca_opt("crl", ch, optarg, &opt, &rc) == -1)
				return rc;
		} else if (cli_parse_duration(optarg, &validity) == -1) {
			cli_warnx("crl: --validity %s: expected a duration "
			    "such as 24h", optarg);
			return cli_usage_cmd("crl");
		}
	}
	if (optind != argc) {
		cli_warnx("crl: unexpected argument %s", argv[optind]);
		return cli_usage_cmd("crl");
	}
	td = opt.td;
	out = opt.out;
	if ((rc = cli_ca_open("crl", g, opt.kek, false, &db, &k)) !=
	    CLI_EXIT_OK)
		goto done;
	if ((ids = json_array()) == NULL) {
		mc_err_set(&e, MC_ST_NOMEM, 0, "out of memory");
		goto fail;
	}
	if (store_authority_list(db, td, &v, &n, &e) == -1)
		goto fail;
	for (i = 0; i < n; i++) {
		if (v[i].state != STORE_AUTH_ACTIVE &&
		    v[i].state != STORE_AUTH_RETIRING)
			continue;
		if (ca_authority_load(db, &k, v[i].id, &a, &e) == -1 ||
		    ca_crl_issue(db, a, now, validity, cli_ca_actor(), &pem,
		    &e) == -1)
			goto fail;
		if (json_array_append_new(ids, json_integer(v[i].id)) == -1) {
			mc_err_set(&e, MC_ST_NOMEM, 0, "out of memory");
			goto fail;
		}
		ca_authority_free(a);
		a = NULL;
		ncrl++;
	}
	if (ncrl == 0) {
		mc_err_set(&e, MC_ST_REJECTED, 0, "trust domain %s has no "
		    "active authority in %s", td, cli_ca_db_path(g));
		goto fail;
	}
	if (out != NULL &&
	    cli_write_file(NULL, out, pem.data, pem.len, 0644, &e) == -1)
		goto fail;
	if (g->json) {
		/* "pem" only when it went nowhere else. */
		rc = cli_print_json("crl", out != NULL ?
		    json_pack("{s:s, s:O, s:s, s:n}", "trust_domain", td,
		    "authorities", ids, "out", out, "pem") :
		    json_pack("{s:s, s:O, s:n, s:s%}", "trust_domain", td,
		    "authorities", ids, "out", "pem", pem.data, pem.len));
		goto done;
	}
	if (out == NULL)
		fwrite(pem.data, 1, pem.len, stdout);
	rc = CLI_EXIT_OK;
	goto done;
fail:
	rc = cli_ca_fail("crl", &e);
done:
	json_decref(ids);
	mc_buf_free(&pem);
	store_authority_list_free(v, n);
	ca_authority_free(a);
	ca_kek_clear(&k);
	store_close(db);
	return rc;
}
