/*
 * cmd_verify.c: "meshca verify" checks a PEM certificate chain (leaf
 * first) as an X.509-SVID under a trust bundle, with optional CRLs, a
 * required trust domain, a list of acceptable SPIFFE IDs and a fixed
 * verification time, and prints the peer's SPIFFE ID.
 *
 * The chain, bundle and CRL files are untrusted: they are read into
 * bounded buffers (MESHCA_CHAIN_MAX, MESHCA_BUNDLE_MAX, MESHCA_CRL_MAX)
 * and handed to libmeshca-verify, which does every check; this file only
 * decides the exit status. Nothing from a file is printed unless the
 * library has accepted it.
 *
 * Contract (DESIGN.md "Contracts", meshca(1)): exit 0 and the ID on
 * stdout when the chain is accepted; 1 with the reason on stderr when it
 * is rejected (including a chain file that holds no usable certificate);
 * 2 on usage errors and when the bundle or a CRL cannot be read or used.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <meshca/bundle.h>
#include <meshca/id.h>
#include <meshca/svid.h>

#include "cli/cli.h"
#include "cli/rfc3339.h"
#include "common/buf.h"
#include "common/status.h"

/* Most --id and --crl options accepted. */
#define VERIFY_IDS_MAX 64
#define VERIFY_CRLS_MAX 64

#define OPTSTRING "b:i:t:c:a:h"

/* parse_args() printed the help text: exit 0 without verifying. */
#define VERIFY_HELP_SHOWN (-1)

struct verify_opts {
	const char *bundle;
	const char *trust_domain;
	const char *crls[VERIFY_CRLS_MAX];
	size_t ncrls;
	struct meshca_id *ids[VERIFY_IDS_MAX];
	size_t nids;
	time_t at;
	const char *chain;
};

static void
opts_free(struct verify_opts *o)
{
	size_t i;

	for (i = 0; i < o->nids; i++)
		meshca_id_free(o->ids[i]);
	o->nids = 0;
}

/*
 * The trust domain a bundle file belongs to. A SPIFFE bundle is the
 * bundle of one trust domain and does not name it
 * (SPIFFE_Trust_Domain_and_Bundle.md 4), so JSON needs --trust-domain or
 * --ids of a single trust domain; the leaf cannot be asked, since an
 * attacker chooses the leaf. A PEM bundle without --trust-domain is
 * taken as plain OpenSSL would take it: roots for any trust domain.
 */
static int
bundle_trust_domain(const struct verify_opts *o, const struct mc_buf *b,
    const char **td)
{
	const char *p = b->data;
	size_t i;

	*td = o->trust_domain;
	if (*td != NULL)
		return 0;
	while (p < b->data + b->len && strchr(" \t\r\n", *p) != NULL)
		p++;
	if (p == b->data + b->len || *p != '{')
		return 0;
	for (i = 0; i < o->nids; i++) {
		if (*td != NULL &&
		    strcmp(*td, meshca_id_get0_trust_domain(o->ids[i])) != 0) {
			cli_warnx("verify: %s: %s", o->bundle,
			    "the --id values name several trust domains: "
			    "give --trust-domain");
			return -1;
		}
		*td = meshca_id_get0_trust_domain(o->ids[i]);
	}
	if (*td == NULL) {
		cli_warnx("verify: %s: %s", o->bundle,
		    "a SPIFFE bundle does not name its trust domain: "
		    "give --trust-domain or --id");
		return -1;
	}
	return 0;
}

/*
 * The exit status for a bundle, CRL or chain file that could not be used:
 * an input error (2), unless memory or a library failed (3).
 */
static int
exit_for_input(int st)
{
	if (st == MESHCA_ERR_NOMEM || st == MESHCA_ERR_INTERNAL)
		return CLI_EXIT_INTERNAL;
	return CLI_EXIT_USAGE;
}

/* Sets up the verifier from the options; a CLI_EXIT_* value. */
static int
setup(struct meshca_verifier *v, const struct verify_opts *o)
{
	struct meshca_bundle *bundle = NULL;
	struct meshca_error err;
	struct mc_buf b;
	struct mc_err e;
	enum meshca_status st;
	const char *td;
	size_t i;
	int rc = CLI_EXIT_USAGE;

	memset(&err, 0, sizeof(err));
	mc_buf_init(&b, MESHCA_BUNDLE_MAX);
	if (mc_buf_read_file(&b, o->bundle, &e) == -1) {
		cli_warnx("verify: bundle: %s", e.msg);
		rc = exit_for_input(e.status);
		goto out;
	}
	if (bundle_trust_domain(o, &b, &td) == -1)
		goto out;
	if ((st = meshca_bundle_parse(b.data, b.len, td, &bundle, &err)) !=
	    MESHCA_OK) {
		cli_warn_lib("verify", o->bundle, st, &err);
		rc = exit_for_input(st);
		goto out;
	}
	if ((st = meshca_verifier_set_bundle(v, bundle, &err)) != MESHCA_OK)
		goto lib;
	if (o->trust_domain != NULL) {
		st = meshca_verifier_set_trust_domain(v, o->trust_domain, &err);
		if (st != MESHCA_OK)
			goto lib;
	}
	if (o->at != 0 &&
	    (st = meshca_verifier_set_time(v, o->at, &err)) != MESHCA_OK)
		goto lib;

	/* Several --crl files are concatenated: the library takes one set. */
	if (o->ncrls > 0) {
		mc_buf_free(&b);
		mc_buf_init(&b, MESHCA_CRL_MAX);
		for (i = 0; i < o->ncrls; i++) {
			if (mc_buf_read_file(&b, o->crls[i], &e) == -1 ||
			    mc_buf_puts(&b, "\n", &e) == -1) {
				cli_warnx("verify: crl: %s", e.msg);
				rc = exit_for_input(e.status);
				goto out;
			}
		}
		st = meshca_verifier_set_crls_pem(v, b.data, b.len, &err);
		if (st != MESHCA_OK) {
			cli_warn_lib("verify",
			    o->ncrls == 1 ? o->crls[0] : "crl", st, &err);
			rc = exit_for_input(st);
			goto out;
		}
	}
	rc = CLI_EXIT_OK;
	goto out;
lib:
	cli_warn_lib("verify", "verifier", st, &err);
	rc = exit_for_input(st);
out:
	meshca_bundle_free(bundle);
	mc_buf_free(&b);
	return rc;
}

/* A usage error of verify, reported; CLI_EXIT_USAGE. */
static int
usage(void)
{
	(void)cli_usage_cmd("verify");
	return CLI_EXIT_USAGE;
}

/* Parses the command line into o; a CLI_EXIT_* value. */
static int
parse_args(int argc, char *argv[], struct verify_opts *o)
{
	static const struct option opts[] = {
		{ "bundle", required_argument, NULL, 'b' },
		{ "id", required_argument, NULL, 'i' },
		{ "trust-domain", required_argument, NULL, 't' },
		{ "crl", required_argument, NULL, 'c' },
		{ "at", required_argument, NULL, 'a' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct meshca_error err;
	struct mc_err e;
	enum meshca_status st;
	/*
	 * Flags, not "o->bundle != NULL": clang's analyzer does not see
	 * getopt_long() set optarg again, so a NULL test of an earlier
	 * optarg made it assume a later one NULL too (strlen(optarg)).
	 */
	bool bundle_given = false, td_given = false;
	int ch;

	memset(&err, 0, sizeof(err));
	while ((ch = getopt_long(argc, argv, OPTSTRING, opts, NULL)) != -1) {
		switch (ch) {
		case 'b':
			if (bundle_given) {
				cli_warnx("verify: --bundle given twice");
				return usage();
			}
			o->bundle = optarg;
			bundle_given = true;
			break;
		case 'i':
			if (o->nids == VERIFY_IDS_MAX) {
				cli_warnx("verify: more than %d --id options",
				    VERIFY_IDS_MAX);
				return usage();
			}
			st = meshca_id_parse(optarg, strlen(optarg),
			    &o->ids[o->nids], &err);
			if (st == MESHCA_ERR_NOMEM) {
				cli_warnx("verify: --id: %s", err.message);
				return CLI_EXIT_INTERNAL;
			}
			if (st != MESHCA_OK) {
				cli_warnx("verify: --id: %s", err.message);
				return usage();
			}
			o->nids++;
			break;
		case 't':
			if (td_given) {
				cli_warnx("verify: --trust-domain given twice");
				return usage();
			}
			st = meshca_trust_domain_check(optarg, strlen(optarg),
			    &err);
			if (st != MESHCA_OK) {
				cli_warnx("verify: --trust-domain: %s",
				    err.message);
				return usage();
			}
			o->trust_domain = optarg;
			td_given = true;
			break;
		case 'c':
			if (o->ncrls == VERIFY_CRLS_MAX) {
				cli_warnx("verify: more than %d --crl options",
				    VERIFY_CRLS_MAX);
				return usage();
			}
			o->crls[o->ncrls++] = optarg;
			break;
		case 'a':
			if (cli_rfc3339_parse(optarg, &o->at, &e) == -1) {
				cli_warnx("verify: --at: %s", e.msg);
				return usage();
			}
			/* The library takes 0 to mean "now". */
			if (o->at <= 0) {
				cli_warnx("verify: --at: %s: %s", optarg,
				    "must be after 1970-01-01T00:00:00Z");
				return usage();
			}
			break;
		case 'h':
			cli_help_cmd("verify");
			return VERIFY_HELP_SHOWN;
		default:
			return usage();
		}
	}
	if (o->bundle == NULL) {
		cli_warnx("verify: --bundle is required");
		return usage();
	}
	if (argc - optind != 1) {
		cli_warnx("verify: expected one chain file, got %d",
		    argc - optind);
		return usage();
	}
	o->chain = argv[optind];
	return CLI_EXIT_OK;
}

int
cli_cmd_verify(int argc, char *argv[], const struct cli_global *g)
{
	struct verify_opts o;
	struct meshca_verifier *v = NULL;
	struct meshca_id *peer = NULL;
	struct meshca_error err;
	struct mc_buf chain;
	struct mc_err e;
	enum meshca_status st;
	const char *path;
	size_t i;
	int rc;

	memset(&o, 0, sizeof(o));
	memset(&err, 0, sizeof(err));
	mc_buf_init(&chain, MESHCA_CHAIN_MAX);
	if ((rc = parse_args(argc, argv, &o)) != CLI_EXIT_OK) {
		if (rc == VERIFY_HELP_SHOWN)
			rc = CLI_EXIT_OK;
		goto out;
	}

	if ((st = meshca_verifier_new(&v, &err)) != MESHCA_OK) {
		cli_warn_lib("verify", "verifier", st, &err);
		rc = CLI_EXIT_INTERNAL;
		goto out;
	}
	if ((rc = setup(v, &o)) != CLI_EXIT_OK)
		goto out;

	/*
	 * A chain that cannot be opened is an input error (2); one that is
	 * read but too large is the peer's fault, a rejection (1). "-" is
	 * standard input, named "stdin" in messages.
	 */
	if (strcmp(o.chain, "-") == 0) {
		path = "/dev/stdin";
		o.chain = "stdin";
	} else
		path = o.chain;
	if (mc_buf_read_file(&chain, path, &e) == -1) {
		cli_warnx("verify: chain: %s", e.msg);
		if (e.status == MC_ST_PARSE)
			rc = CLI_EXIT_REJECTED;
		else
			rc = exit_for_input(e.status);
		goto out;
	}
	st = meshca_verify_chain_pem(v, chain.data, chain.len, &peer, &err);
	if (st != MESHCA_OK) {
		cli_warn_lib("verify", o.chain, st, &err);
		rc = cli_exit_for(st);
		goto out;
	}
	if (o.nids > 0) {
		for (i = 0; i < o.nids; i++)
			if (meshca_id_equal(peer, o.ids[i]))
				break;
		if (i == o.nids) {
			cli_warnx("verify: %s: SPIFFE ID %s is not one of "
				  "the --id values",
			    o.chain, meshca_id_get0_string(peer));
			rc = CLI_EXIT_REJECTED;
			goto out;
		}
	}
	if (g->json)
		rc = cli_print_id_json("verify", peer);
	else {
		printf("%s\n", meshca_id_get0_string(peer));
		rc = CLI_EXIT_OK;
	}
out:
	meshca_id_free(peer);
	meshca_verifier_free(v);
	mc_buf_free(&chain);
	opts_free(&o);
	return rc;
}
