/*
 * cmd_list.c: "meshca list" prints the certificates the ledger records,
 * filtered by status, namespace, SPIFFE ID and expiry, as aligned
 * columns or (--json) one JSON array; it also holds the row-to-JSON
 * helper "meshca show" shares. Reads only the ledger, whose rows meshca
 * itself wrote; the filters come from the command line and are checked.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "ca/crl.h"
#include "cli/ca_util.h"
#include "cli/rfc3339.h"
#include "common/status.h"
#include "store/certs.h"

void
cli_fmt_time(int64_t t, char *out, size_t len)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (gmtime_r(&tt, &tm) == NULL ||
	    strftime(out, len, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(out, len, "%lld", (long long)t);
}

json_t *
cli_cert_json(const struct store_cert *c)
{
	json_t *o;
	int bad = 0;

	if ((o = json_object()) == NULL)
		return NULL;
	bad |= json_object_set_new(o, "serial", json_string(c->serial));
	bad |= json_object_set_new(o, "spiffe_id", json_string(c->spiffe_id));
	bad |= json_object_set_new(o, "namespace", c->namespace_ != NULL ?
	    json_string(c->namespace_) : json_null());
	bad |= json_object_set_new(o, "service_account",
	    c->service_account != NULL ? json_string(c->service_account) :
	    json_null());
	bad |= json_object_set_new(o, "status",
	    json_string(store_cert_status_name(c->status)));
	bad |= json_object_set_new(o, "not_before",
	    json_integer(c->not_before));
	bad |= json_object_set_new(o, "not_after", json_integer(c->not_after));
	bad |= json_object_set_new(o, "issued_at", json_integer(c->issued_at));
	bad |= json_object_set_new(o, "authority",
	    json_integer(c->authority_id));
	if (c->status == STORE_CERT_REVOKED) {
		bad |= json_object_set_new(o, "revoked_at",
		    json_integer(c->revoked_at));
		bad |= json_object_set_new(o, "reason",
		    json_string(ca_crl_reason_name(c->reason)));
	} else {
		bad |= json_object_set_new(o, "revoked_at", json_null());
		bad |= json_object_set_new(o, "reason", json_null());
	}
	if (bad != 0) {
		json_decref(o);
		return NULL;
	}
	return o;
}

struct list_run {
	json_t *arr; /* --json: the array being built */
	size_t n;
};

static int
list_row(const struct store_cert *c, void *arg, struct mc_err *e)
{
	struct list_run *r = arg;
	char nb[32], na[32];
	json_t *o;

	if (r->arr != NULL) {
		if ((o = cli_cert_json(c)) == NULL ||
		    json_array_append_new(r->arr, o) == -1) {
			mc_err_set(e, MC_ST_NOMEM, 0, "out of memory");
			return -1;
		}
	} else {
		if (r->n == 0)
			printf("%-32s  %-10s  %-20s  %-20s  %s\n", "SERIAL",
			    "STATUS", "NOT BEFORE", "NOT AFTER", "SPIFFE ID");
		cli_fmt_time(c->not_before, nb, sizeof(nb));
		cli_fmt_time(c->not_after, na, sizeof(na));
		printf("%-32s  %-10s  %-20s  %-20s  %s\n", c->serial,
		    store_cert_status_name(c->status), nb, na, c->spiffe_id);
	}
	r->n++;
	return 0;
}

static int
parse_status(const char *s, int *out)
{
	int i;

	for (i = STORE_CERT_ACTIVE; i <= STORE_CERT_REVOKED; i++)
		if (strcmp(s, store_cert_status_name(
		    (enum store_cert_status)i)) == 0) {
			*out = i;
			return 0;
		}
	return -1;
}

int
cli_cmd_list(int argc, char *argv[], const struct cli_global *g)
{
	static const struct option longopts[] = {
		{ "status", required_argument, NULL, 's' },
		{ "ns", required_argument, NULL, 'n' },
		{ "id", required_argument, NULL, 'i' },
		{ "expiring-before", required_argument, NULL, 'x' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct store_cert_filter f = { -1, NULL, NULL, 0 };
	struct list_run r = { NULL, 0 };
	struct store_db *db = NULL;
	struct mc_err e = { 0 };
	int64_t d;
	time_t t;
	char *s = NULL;
	int ch, rc;

	while ((ch = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (ch) {
		case 's':
			if (parse_status(optarg, &f.status) == -1) {
				cli_warnx("list: --status %.80s: expected "
				    "active, superseded or revoked", optarg);
				return cli_usage_cmd("list");
			}
			break;
		case 'n':
			f.namespace_ = optarg;
			break;
		case 'i':
			f.spiffe_id = optarg;
			break;
		case 'x':
			/* A duration counts from now; else a date-time. */
			if (cli_parse_duration(optarg, &d) == 0)
				f.expiring_before = (int64_t)time(NULL) + d;
			else if (cli_rfc3339_parse(optarg, &t, &e) == 0)
				f.expiring_before = (int64_t)t;
			else {
				cli_warnx("list: --expiring-before %.80s: "
				    "expected a duration such as 7d or an RFC "
				    "3339 time such as 2030-01-01T00:00:00Z",
				    optarg);
				return cli_usage_cmd("list");
			}
			/* 0 means "no filter" to the store: never ask it. */
			if (f.expiring_before == 0)
				f.expiring_before = 1;
			break;
		case 'h':
			return cli_help_cmd("list");
		default:
			return cli_usage_cmd("list");
		}
	}
	if (optind != argc) {
		cli_warnx("list: unexpected argument %.80s", argv[optind]);
		return cli_usage_cmd("list");
	}
	if ((rc = cli_ca_open("list", g, NULL, false, &db, NULL)) !=
	    CLI_EXIT_OK)
		return rc;
	if (g->json && (r.arr = json_array()) == NULL) {
		cli_warnx("list: out of memory");
		rc = CLI_EXIT_INTERNAL;
		goto out;
	}
	if (store_cert_query(db, &f, list_row, &r, &e) == -1) {
		rc = cli_ca_fail("list", &e);
		goto out;
	}
	if (r.arr != NULL) {
		/* jansson allocates with malloc(); free() its string. */
		if ((s = json_dumps(r.arr, JSON_PRESERVE_ORDER)) == NULL) {
			cli_warnx("list: cannot build JSON output");
			rc = CLI_EXIT_INTERNAL;
			goto out;
		}
		printf("%s\n", s);
	}
	rc = CLI_EXIT_OK;
out:
	free(s);
	json_decref(r.arr);
	store_close(db);
	return rc;
}
