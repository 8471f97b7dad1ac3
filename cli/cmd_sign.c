/*
 * cmd_sign.c: "meshca sign CSR" issues an X.509-SVID for the key in a
 * PEM certificate signing request and records it. The identity is the
 * one given on the command line (--id, or --ns and --sa), never one the
 * CSR asks for: a CSR asking for another SPIFFE ID, for CA powers, or
 * with a weak key is refused (ca/csr.c). The CSR file is untrusted and
 * read into a bounded buffer. The chain (leaf first) goes to stdout or
 * --out.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "ca/authority.h"
#include "ca/csr.h"
#include "ca/issue.h"
#include "cli/ca_util.h"
#include "common/status.h"

int
cli_cmd_sign(int argc, char *argv[], const struct cli_global *g)
{
	static const struct option longopts[] = {
		CLI_CA_LONGOPTS_IDENTITY,
		CLI_CA_LONGOPTS_COMMON,
		{ "out", required_argument, NULL, 'o' },
		{ NULL, 0, NULL, 0 },
	};
	struct cli_ca_opts opt;
	struct ca_issue_req q;
	struct ca_authority *a = NULL;
	struct ca_signer *s = NULL;
	struct ca_issuer *is = NULL;
	struct ca_issued v;
	struct store_db *db = NULL;
	struct ca_kek k;
	struct mc_buf csr, chain;
	struct mc_err e = { 0 };
	const char *out;
	json_t *o;
	int ch, rc;

	memset(&k, 0, sizeof(k));
	memset(&v, 0, sizeof(v));
	mc_buf_init(&csr, CA_CSR_MAX);
	mc_buf_init(&chain, 1 << 20);
	cli_ca_opts_init(&opt, &q);
	while ((ch = getopt_long(argc, argv, "h", longopts, NULL)) != -1)
		if (cli_ca_opt("sign", ch, optarg, &opt, &rc) == -1)
			return rc;
	if (argc - optind != 1 || !cli_ca_is_one_identity(&q)) {
		cli_warnx("sign: give one CSR file and either --id or --ns "
		    "with --sa");
		return cli_usage_cmd("sign");
	}
	out = opt.out;
	if (mc_buf_read_file(&csr, argv[optind], &e) == -1) {
		rc = cli_ca_fail("sign", &e);
		goto out;
	}
	if ((rc = cli_ca_open("sign", g, opt.kek, false, &db, &k)) !=
	    CLI_EXIT_OK)
		goto out;
	q.now = (int64_t)time(NULL);
	if (ca_authority_load_active(db, &k, opt.td, &a, &e) == -1 ||
	    (s = ca_authority_signer(a, &e)) == NULL ||
	    (is = ca_issuer_new(s, a->id, NULL, &e)) == NULL ||
	    ca_issue_csr(is, &q, csr.data, csr.len, &v, &e) == -1 ||
	    ca_issue_record(db, is, &v, 1, true, cli_ca_actor(), q.now,
	    &e) == -1 || mc_buf_append(&chain, v.cert_pem, v.cert_pem_len,
	    &e) == -1 || ca_authority_chain_pem(a, &chain, &e) == -1) {
		rc = cli_ca_fail("sign", &e);
		goto out;
	}
	if (v.clamped)
		cli_warnx("sign: %s: notAfter clamped to the authority's own "
		    "notAfter", v.spiffe_id);
	if (out != NULL && cli_write_file(NULL, out, chain.data, chain.len,
	    0644, &e) == -1) {
		rc = cli_ca_fail("sign", &e);
		goto out;
	}
	if (g->json) {
		/* "chain" only when it went nowhere else. */
		o = json_pack("{s:s, s:s, s:I, s:I, s:b, s:s?, s:o}",
		    "serial", v.serial, "spiffe_id", v.spiffe_id, "not_before",
		    (json_int_t)v.not_before, "not_after",
		    (json_int_t)v.not_after, "clamped", (int)v.clamped, "out",
		    out, "chain", out != NULL ? json_null() :
		    json_stringn(chain.data, chain.len));
		rc = cli_print_json("sign", o);
		goto out;
	}
	if (out != NULL)
		printf("%s %s %s\n", v.serial, v.spiffe_id, out);
	else
		fwrite(chain.data, 1, chain.len, stdout);
	rc = CLI_EXIT_OK;
out:
	ca_issued_clear(&v);
	ca_issuer_free(is);
	ca_signer_free(s);
	ca_authority_free(a);
	ca_kek_clear(&k);
	store_close(db);
	mc_buf_free(&csr);
	mc_buf_free(&chain);
	return rc;
}
