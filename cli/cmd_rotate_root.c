/*
 * cmd_rotate_root.c: "meshca rotate-root" drives a staged root rotation
 * (ca/rotate.h), one stage per run so the new root can reach every
 * verifier between stages: --prepare makes a new root and adds it to the
 * bundle; --activate switches signing to it; --retire takes the old root
 * out of the bundle once no unexpired leaf it signed remains (--force to
 * do it anyway). Each stage is one ledger transaction with its audit
 * event.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "ca/authority.h"
#include "ca/rotate.h"
#include "cli/ca_util.h"
#include "common/status.h"
#include "store/authorities.h"

int
cli_cmd_rotate_root(int argc, char *argv[], const struct cli_global *g)
{
	static const struct option longopts[] = {
		{ "prepare", no_argument, NULL, 'p' },
		{ "activate", no_argument, NULL, 'a' },
		{ "retire", no_argument, NULL, 'r' },
		{ "force", no_argument, NULL, 'f' },
		{ "key-type", required_argument, NULL, 'k' },
		{ "lifetime", required_argument, NULL, 'l' },
		{ "trust-domain", required_argument, NULL, 'T' },
		{ "kek", required_argument, NULL, 'K' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *kek = NULL, *td = CA_DEFAULT_TRUST_DOMAIN;
	enum ca_key_type kt = CA_KEY_EC_P256;
	int64_t lifetime = CA_ROOT_LIFETIME_DEFAULT, now = (int64_t)time(NULL);
	int64_t id;
	struct store_authority *v = NULL;
	struct store_db *db = NULL;
	struct ca_kek k;
	struct mc_err e = { 0 };
	bool force = false;
	size_t n = 0, i, retired = 0;
	json_t *ids = NULL;
	int ch, rc, stage = 0, nstages = 0;

	memset(&k, 0, sizeof(k));
	while ((ch = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (ch) {
		case 'p':
		case 'a':
		case 'r':
			stage = ch;
			nstages++;
			break;
		case 'f':
			force = true;
			break;
		case 'k':
			if (ca_key_type_parse(optarg, &kt, &e) == -1) {
				cli_warnx("rotate-root: %s", e.msg);
				return cli_usage_cmd("rotate-root");
			}
			break;
		case 'l':
			if (cli_parse_duration(optarg, &lifetime) == -1) {
				cli_warnx("rotate-root: --lifetime %s: expected "
				    "a duration such as 10y", optarg);
				return cli_usage_cmd("rotate-root");
			}
			break;
		case 'T':
			td = optarg;
			break;
		case 'K':
			kek = optarg;
			break;
		case 'h':
			return cli_help_cmd("rotate-root");
		default:
			return cli_usage_cmd("rotate-root");
		}
	}
	if (optind != argc || nstages != 1) {
		cli_warnx("rotate-root: give exactly one of --prepare, "
		    "--activate, --retire");
		return cli_usage_cmd("rotate-root");
	}
	if ((rc = cli_ca_open("rotate-root", g, kek, false, &db,
	    stage == 'p' ? &k : NULL)) != CLI_EXIT_OK)
		return rc;
	if ((ids = json_array()) == NULL) {
		mc_err_set(&e, MC_ST_NOMEM, 0, "out of memory");
		goto fail;
	}
	switch (stage) {
	case 'p':
		if (ca_rotate_prepare(db, &k, td, kt, lifetime, now,
		    cli_ca_actor(), &id, &e) == -1)
			goto fail;
		if (g->json) {
			rc = cli_print_json("rotate-root", json_pack(
			    "{s:s, s:s, s:I}", "stage", "prepare",
			    "trust_domain", td, "authority", (json_int_t)id));
			goto out;
		}
		printf("authority %lld prepared: its root is in the bundle; "
		    "activate it once every verifier has the bundle\n",
		    (long long)id);
		break;
	case 'a':
		if (ca_rotate_activate(db, td, now, cli_ca_actor(), &e) == -1)
			goto fail;
		if (g->json) {
			rc = cli_print_json("rotate-root", json_pack(
			    "{s:s, s:s}", "stage", "activate", "trust_domain",
			    td));
			goto out;
		}
		printf("signing switched to the prepared authority; the old "
		    "root stays in the bundle until retired\n");
		break;
	default:
		if (store_authority_list(db, td, &v, &n, &e) == -1)
			goto fail;
		for (i = 0; i < n; i++) {
			if (v[i].state != STORE_AUTH_RETIRING)
				continue;
			if (ca_rotate_retire(db, v[i].id, now, force,
			    cli_ca_actor(), &e) == -1)
				goto fail;
			if (!g->json)
				printf("authority %lld retired: its root left "
				    "the bundle\n", (long long)v[i].id);
			else if (json_array_append_new(ids,
			    json_integer(v[i].id)) == -1) {
				mc_err_set(&e, MC_ST_NOMEM, 0, "out of memory");
				goto fail;
			}
			retired++;
		}
		if (retired == 0) {
			mc_err_set(&e, MC_ST_REJECTED, 0, "trust domain %s has "
			    "no retiring authority (activate a prepared one "
			    "first)", td);
			goto fail;
		}
		if (g->json) {
			rc = cli_print_json("rotate-root", json_pack(
			    "{s:s, s:s, s:O}", "stage", "retire",
			    "trust_domain", td, "retired", ids));
			goto out;
		}
		break;
	}
	rc = CLI_EXIT_OK;
	goto out;
fail:
	rc = cli_ca_fail("rotate-root", &e);
out:
	json_decref(ids);
	store_authority_list_free(v, n);
	ca_kek_clear(&k);
	store_close(db);
	return rc;
}
