/*
 * cmd_issue.c: "meshca issue" mints X.509-SVIDs with fresh keys under
 * the active authority and records them in the ledger: one identity
 * (--id, or --ns and --sa) written to --out-dir as key.pem (0600),
 * cert-chain.pem (leaf first) and root-cert.pem (the trust bundle), or
 * many from --batch FILE (one "spiffe://..." or "namespace/account" per
 * line) into one subdirectory each. Everything from the command line
 * and the batch file is untrusted: IDs go through the SPIFFE parser,
 * lines are bounded, and the subdirectory names come from the parsed ID.
 */
#include <sys/stat.h>

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ca/authority.h"
#include "ca/issue.h"
#include "ca/rotate.h"
#include "cli/ca_util.h"
#include "common/alloc.h"
#include "common/status.h"

#define CHUNK 1000
#define LINE_MAX_LEN 2100

struct issue_run {
	const struct cli_global *g;
	const char *out_dir;
	struct store_db *db;
	struct ca_issuer *is;
	struct mc_buf chain;  /* the authority's part of cert-chain.pem */
	struct mc_buf bundle; /* root-cert.pem */
	struct ca_issued v[CHUNK];
	char *dirs[CHUNK];
	size_t n;
	size_t total;
	bool batch;
	bool first_json;
};

static int
mkdir_0755(const char *path, struct mc_err *e)
{
	if (mkdir(path, 0755) == -1 && errno != EEXIST) {
		mc_err_set(e, MC_ST_IO, 0, "%s: %s", path, strerror(errno));
		return -1;
	}
	return 0;
}

/* Records the pending chunk, then writes its files. */
static int
flush(struct issue_run *r, struct mc_err *e)
{
	struct mc_buf cc;
	char dir[4096];
	size_t i;
	int ret = -1;

	mc_buf_init(&cc, 1 << 20);
	if (r->n == 0)
		return 0;
	/* Refuse a planted symlink before anything is recorded, so the
	 * ledger never lists a certificate nobody received. */
	for (i = 0; i < r->n; i++) {
		if (r->batch)
			snprintf(dir, sizeof(dir), "%s/%s", r->out_dir,
			    r->dirs[i]);
		else
			snprintf(dir, sizeof(dir), "%s", r->out_dir);
		/* The batch's subdirectories are ours to name; --out-dir
		 * itself is the operator's choice, link or not. */
		if ((r->batch && cli_check_target(NULL, dir, e) == -1) ||
		    cli_check_target(dir, "key.pem", e) == -1 ||
		    cli_check_target(dir, "cert-chain.pem", e) == -1 ||
		    cli_check_target(dir, "root-cert.pem", e) == -1)
			goto out;
	}
	if (ca_issue_record(r->db, r->is, r->v, r->n, true, cli_ca_actor(),
	    (int64_t)time(NULL), e) == -1)
		goto out;
	for (i = 0; i < r->n; i++) {
		if (r->batch) {
			snprintf(dir, sizeof(dir), "%s/%s", r->out_dir,
			    r->dirs[i]);
			if (mkdir_0755(dir, e) == -1)
				goto out;
		} else
			snprintf(dir, sizeof(dir), "%s", r->out_dir);
		mc_buf_reset(&cc);
		if (mc_buf_append(&cc, r->v[i].cert_pem, r->v[i].cert_pem_len,
		    e) == -1 || mc_buf_append(&cc, r->chain.data, r->chain.len,
		    e) == -1)
			goto out;
		if (cli_write_file(dir, "key.pem", r->v[i].key_pem.data,
		    r->v[i].key_pem.len, 0600, e) == -1 ||
		    cli_write_file(dir, "cert-chain.pem", cc.data, cc.len, 0644,
		    e) == -1 || cli_write_file(dir, "root-cert.pem",
		    r->bundle.data, r->bundle.len, 0644, e) == -1)
			goto out;
		if (r->v[i].clamped)
			cli_warnx("issue: %s: notAfter clamped to the "
			    "authority's own notAfter", r->v[i].spiffe_id);
		if (r->g->json)
			printf("%s{\"serial\":\"%s\",\"spiffe_id\":\"%s\","
			    "\"not_before\":%lld,\"not_after\":%lld,"
			    "\"clamped\":%s}", r->first_json ? "" : ",",
			    r->v[i].serial, r->v[i].spiffe_id,
			    (long long)r->v[i].not_before,
			    (long long)r->v[i].not_after,
			    r->v[i].clamped ? "true" : "false");
		else
			printf("%s %s %s\n", r->v[i].serial, r->v[i].spiffe_id,
			    dir);
		r->first_json = false;
	}
	ret = 0;
out:
	for (i = 0; i < r->n; i++) {
		ca_issued_clear(&r->v[i]);
		mc_free(r->dirs[i]);
		r->dirs[i] = NULL;
	}
	r->total += r->n;
	r->n = 0;
	mc_buf_free(&cc);
	return ret;
}

static int
issue_one(struct issue_run *r, const struct ca_issue_req *q, int lineno,
    struct mc_err *e)
{
	char name[600];

	if (ca_issue_keypair(r->is, q, &r->v[r->n], e) == -1) {
		if (lineno > 0)
			mc_err_prefix(e, "line %d", lineno);
		return -1;
	}
	if (r->batch) {
		/* A directory name from the parsed ID, never the raw line. */
		if (r->v[r->n].ns != NULL)
			snprintf(name, sizeof(name), "%s.%s", r->v[r->n].ns,
			    r->v[r->n].sa);
		else
			snprintf(name, sizeof(name), "line-%d", lineno);
		if ((r->dirs[r->n] = mc_strdup(name)) == NULL) {
			ca_issued_clear(&r->v[r->n]);
			mc_err_set(e, MC_ST_NOMEM, 0, "out of memory");
			return -1;
		}
	}
	r->n++;
	return r->n == CHUNK ? flush(r, e) : 0;
}

/* Issues one identity per line of path, with the options of tmpl. */
static int
run_batch(struct issue_run *r, const char *path,
    const struct ca_issue_req *tmpl, struct mc_err *e)
{
	char line[LINE_MAX_LEN], *s, *slash;
	struct ca_issue_req q; /* points into line: lives no longer */
	FILE *fp;
	size_t len;
	int lineno = 0, ret = -1;

	if ((fp = fopen(path, "r")) == NULL) {
		mc_err_set(e, MC_ST_IO, 0, "%s: %s", path, strerror(errno));
		return -1;
	}
	while (fgets(line, sizeof(line), fp) != NULL) {
		lineno++;
		len = strlen(line);
		if (len > 0 && line[len - 1] == '\n')
			line[--len] = '\0';
		else if (!feof(fp)) {
			mc_err_set(e, MC_ST_PARSE, 0, "%s: line %d: longer "
			    "than %d bytes", path, lineno, LINE_MAX_LEN - 2);
			goto out;
		}
		s = line + strspn(line, " \t");
		if (*s == '\0' || *s == '#')
			continue;
		q = *tmpl;
		if (strncmp(s, "spiffe://", 9) == 0)
			q.spiffe_id = s;
		else if ((slash = strchr(s, '/')) != NULL) {
			*slash = '\0';
			q.ns = s;
			q.sa = slash + 1;
		} else {
			mc_err_set(e, MC_ST_PARSE, 0, "%s: line %d: expected "
			    "spiffe://... or namespace/account", path, lineno);
			goto out;
		}
		q.now = (int64_t)time(NULL);
		if (issue_one(r, &q, lineno, e) == -1) {
			mc_err_prefix(e, "%s", path);
			goto out;
		}
	}
	if (ferror(fp)) {
		mc_err_set(e, MC_ST_IO, 0, "%s: read error", path);
		goto out;
	}
	ret = flush(r, e);
out:
	fclose(fp);
	return ret;
}

int
cli_cmd_issue(int argc, char *argv[], const struct cli_global *g)
{
	static const struct option longopts[] = {
		CLI_CA_LONGOPTS_IDENTITY,
		CLI_CA_LONGOPTS_COMMON,
		{ "key-type", required_argument, NULL, 'k' },
		{ "batch", required_argument, NULL, 'b' },
		{ "out-dir", required_argument, NULL, 'o' },
		{ NULL, 0, NULL, 0 },
	};
	static struct issue_run r; /* large: the pending chunk */
	struct cli_ca_opts opt;
	const char *batch = NULL;
	struct ca_issue_req q;
	struct ca_authority *a = NULL;
	struct ca_signer *s = NULL;
	struct ca_kek k;
	struct mc_err e = { 0 };
	int ch, rc;

	memset(&k, 0, sizeof(k));
	memset(&r, 0, sizeof(r));
	r.first_json = true;
	cli_ca_opts_init(&opt, &q);
	while ((ch = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (ch) {
		case 'k':
			if (ca_key_type_parse(optarg, &q.key_type, &e) == -1) {
				cli_warnx("issue: %s", e.msg);
				return cli_usage_cmd("issue");
			}
			break;
		case 'b':
			batch = optarg;
			break;
		default:
			if (cli_ca_opt("issue", ch, optarg, &opt, &rc) == -1)
				return rc;
		}
	}
	r.out_dir = opt.out;
	if (optind != argc || r.out_dir == NULL || (batch != NULL ?
	    cli_ca_has_identity(&q) : !cli_ca_is_one_identity(&q))) {
		cli_warnx("issue: give --out-dir and one of --id, --ns with "
		    "--sa, or --batch");
		return cli_usage_cmd("issue");
	}
	r.g = g;
	r.batch = batch != NULL;
	mc_buf_init(&r.chain, 1 << 20);
	mc_buf_init(&r.bundle, 1 << 22);
	if ((rc = cli_ca_open("issue", g, opt.kek, false, &r.db, &k)) !=
	    CLI_EXIT_OK)
		goto out;
	if (mkdir_0755(r.out_dir, &e) == -1 ||
	    ca_authority_load_active(r.db, &k, opt.td, &a, &e) == -1 ||
	    (s = ca_authority_signer(a, &e)) == NULL ||
	    (r.is = ca_issuer_new(s, a->id, NULL, &e)) == NULL ||
	    ca_authority_chain_pem(a, &r.chain, &e) == -1 ||
	    ca_bundle_pem(r.db, opt.td, &r.bundle, &e) == -1 ||
	    mc_buf_puts(&r.chain, "", &e) == -1) {
		rc = cli_ca_fail("issue", &e);
		goto out;
	}
	if (g->json)
		printf("{\"issued\":[");
	q.now = (int64_t)time(NULL);
	if ((batch != NULL ? run_batch(&r, batch, &q, &e) :
	    issue_one(&r, &q, 0, &e) == -1 ? -1 : flush(&r, &e)) == -1) {
		if (g->json)
			printf("]}\n");
		rc = cli_ca_fail("issue", &e);
		goto out;
	}
	if (g->json)
		printf("]}\n");
	rc = CLI_EXIT_OK;
out:
	while (r.n > 0) { /* issued but not recorded: never handed out */
		r.n--;
		ca_issued_clear(&r.v[r.n]);
		mc_free(r.dirs[r.n]);
		r.dirs[r.n] = NULL;
	}
	mc_buf_free(&r.chain);
	mc_buf_free(&r.bundle);
	ca_issuer_free(r.is);
	ca_signer_free(s);
	ca_authority_free(a);
	ca_kek_clear(&k);
	store_close(r.db);
	return rc;
}
