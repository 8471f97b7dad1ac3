/*
 * cmd_init.c: "meshca init" creates the ledger and the KEK (both 0600)
 * when missing, and the trust domain's signing authority: a new
 * self-signed root, or, with --import, a plugged-in CA from an Istio
 * cacerts directory. Its arguments are untrusted strings; the imported
 * files are checked by ca_authority_import_istio().
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "ca/authority.h"
#include "cli/ca_util.h"
#include "common/status.h"
#include "store/authorities.h"

int
cli_cmd_init(int argc, char *argv[], const struct cli_global *g)
{
	static const struct option longopts[] = {
		{ "trust-domain", required_argument, NULL, 't' },
		{ "key-type", required_argument, NULL, 'k' },
		{ "lifetime", required_argument, NULL, 'l' },
		{ "kek", required_argument, NULL, 'K' },
		{ "import", required_argument, NULL, 'i' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *td = CA_DEFAULT_TRUST_DOMAIN, *kek = NULL, *import = NULL;
	enum ca_key_type kt = CA_KEY_EC_P256;
	int64_t lifetime = CA_ROOT_LIFETIME_DEFAULT, now = (int64_t)time(NULL);
	struct store_authority *v = NULL;
	struct ca_authority *a = NULL;
	struct store_db *db = NULL;
	struct ca_kek k;
	struct mc_err e = { 0 };
	size_t n = 0, i;
	char until[32];
	int ch, rc;

	memset(&k, 0, sizeof(k));
	while ((ch = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (ch) {
		case 't':
			td = optarg;
			break;
		case 'k':
			if (ca_key_type_parse(optarg, &kt, &e) == -1) {
				cli_warnx("init: %s", e.msg);
				return cli_usage_cmd("init");
			}
			break;
		case 'l':
			if (cli_parse_duration(optarg, &lifetime) == -1) {
				cli_warnx("init: --lifetime %s: expected a "
				    "duration such as 10y or 3650d", optarg);
				return cli_usage_cmd("init");
			}
			break;
		case 'K':
			kek = optarg;
			break;
		case 'i':
			import = optarg;
			break;
		case 'h':
			return cli_help_cmd("init");
		default:
			return cli_usage_cmd("init");
		}
	}
	if (optind != argc) {
		cli_warnx("init: unexpected argument %s", argv[optind]);
		return cli_usage_cmd("init");
	}
	if ((rc = cli_ca_open("init", g, kek, true, &db, &k)) != CLI_EXIT_OK)
		return rc;
	if (store_authority_list(db, td, &v, &n, &e) == -1) {
		rc = cli_ca_fail("init", &e);
		goto out;
	}
	for (i = 0; i < n; i++) {
		if (v[i].state == STORE_AUTH_ACTIVE) {
			cli_warnx("init: trust domain %s already has an active "
			    "authority (%lld) in %s; use rotate-root to replace "
			    "it", td, (long long)v[i].id, cli_ca_db_path(g));
			rc = CLI_EXIT_REJECTED;
			goto out;
		}
	}
	if ((import != NULL ? ca_authority_import_istio(import, td, now, &a,
	    &e) : ca_authority_create_root(td, kt, lifetime, now, &a, &e)) ==
	    -1 || ca_authority_save(db, &k, a, STORE_AUTH_ACTIVE, now,
	    import != NULL ? "import" : "init", cli_ca_actor(), &e) == -1) {
		rc = cli_ca_fail("init", &e);
		goto out;
	}
	if (g->json)
		printf("{\"authority\":%lld,\"trust_domain\":\"%s\","
		    "\"imported\":%s,\"not_after\":%lld}\n", (long long)a->id,
		    td, import != NULL ? "true" : "false",
		    (long long)a->not_after);
	else {
		cli_fmt_time(a->not_after, until, sizeof(until));
		printf("authority %lld: trust domain %s, %s, valid until %s\n",
		    (long long)a->id, td, import != NULL ?
		    "imported intermediate" : "new root", until);
	}
	rc = CLI_EXIT_OK;
out:
	store_authority_list_free(v, n);
	ca_authority_free(a);
	ca_kek_clear(&k);
	store_close(db);
	return rc;
}
