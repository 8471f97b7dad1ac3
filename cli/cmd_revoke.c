/*
 * cmd_revoke.c: "meshca revoke SERIAL" marks a certificate revoked in the
 * ledger with an RFC 5280 reason, and records who did it; the next
 * "meshca crl" lists it. "meshca revoke --id ID" revokes every unexpired,
 * unrevoked certificate of a SPIFFE ID in one transaction.
 *
 * With --kubeconfig or --in-cluster the same request is filed against the
 * cluster instead: one entry in ConfigMap meshca-revocations of the CA
 * namespace, which the leader of meshcad acts on and then deletes
 * (meshcad(8), "Revocation requests"); --wait follows it until then.
 *
 * The serial and the ID are untrusted: the serial must be a certificate
 * serial of meshca's size in hex (colons and leading zeros as openssl
 * prints them are accepted and normalised), the ID must parse as a
 * SPIFFE ID. What the API server answers is only reported, except the
 * published CRL, which is parsed (not verified: it is the cluster's copy,
 * trusted as the API server is) to confirm a serial's revocation.
 */
#include <errno.h>
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>

#include <meshca/id.h>

#include "ca/crl.h"
#include "cli/ca_util.h"
#include "cli/kube.h"
#include "common/status.h"
#include "store/certs.h"

/* The cluster's names (meshcad(8); daemon/publish.h, daemon/config.c). */
#define REVOKE_CA_NS "meshca-system"
#define REVOKE_CM "meshca-revocations"
#define REVOKE_BUNDLE_CM "meshca-ca-bundle"

/* meshca(1) EXIT STATUS: filed, but --wait ended before the leader
 * handled it (the request stays filed: do not file it again). */
#define REVOKE_EXIT_PENDING 4

/* Defaults of --timeout and of a bare --wait, and their ceiling. */
#define REVOKE_TIMEOUT_S 30
#define REVOKE_WAIT_S 60
#define REVOKE_SECONDS_MAX 86400
/* How often --wait looks. */
#define REVOKE_POLL_MS 500

static const char rbac_hint[] = "the user needs get and patch on ConfigMap "
    REVOKE_CM " in the CA namespace (create too while it does not exist): "
    "see deploy/operator-rbac.yaml and meshca(1)";

/* One request against the cluster. */
struct cluster_req {
	const char *id;		    /* --id, or NULL */
	const char *serial;	    /* normalised, or NULL */
	int reason;
	const char *ns;		    /* --ca-namespace */
	long wait_s;		    /* --wait; -1 not given */
	long timeout_s;		    /* --timeout */
	char key[64];		    /* the entry's key */
	char value[2200];	    /* the entry */
	char object[320];	    /* "configmap NS/meshca-revocations" */
};

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

/*
 * Normalises a serial to the ledger's form, lowercase hex of
 * 2 * CA_SERIAL_LEN digits: openssl prints upper case, with colons
 * ("openssl crl -text") and without leading zeros ("x509 -serial").
 * Leading zeros are added back, but at least SERIAL_MIN_DIGITS digits
 * must be given: meshca's serials are 128 random bits (one with fewer
 * significant digits has a chance below 2^-60), and "revoke --wait 30"
 * (for --wait=30) must not file serial 30.
 * -1 after a message when arg is not such a serial.
 */
#define SERIAL_MIN_DIGITS 16

static int
serial_norm(const char *arg, char out[CA_SERIAL_HEX])
{
	char digits[CA_SERIAL_HEX];
	size_t i, n = 0, width = 2 * CA_SERIAL_LEN;

	for (i = 0; arg[i] != '\0'; i++) {
		if (arg[i] == ':' && i > 0 && arg[i + 1] != '\0' &&
		    arg[i + 1] != ':')
			continue;
		if (strchr("0123456789abcdefABCDEF", arg[i]) == NULL ||
		    n == width)
			goto bad;
		digits[n++] = (arg[i] >= 'A' && arg[i] <= 'F') ?
		    (char)(arg[i] - 'A' + 'a') : arg[i];
	}
	if (n < SERIAL_MIN_DIGITS)
		goto bad;
	memset(out, '0', width - n);
	memcpy(out + width - n, digits, n);
	out[width] = '\0';
	return 0;
bad:
	cli_warnx("revoke: %.80s: a serial is %zu hex digits (or at least %d "
	    "without its leading zeros; colons allowed)", arg, width,
	    SERIAL_MIN_DIGITS);
	return -1;
}

/* Sleeps ms milliseconds (a signal cuts it short: the caller loops). */
static void
sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

static int64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * After a write that got no answer in time or a 5xx, the server may
 * still have carried it out: say so, since a second request for an ID
 * would revoke the certificate issued after the first.
 */
static void
maybe_filed(const struct cluster_req *r, const struct cli_kube_result *res)
{
	if (res->timed_out || res->outcome == K8S_E_SERVER)
		cli_warnx("revoke: %s may have reached the server: look at "
		    "configmap %s/%s before filing it again", r->key, r->ns,
		    REVOKE_CM);
}

/*
 * Files r: adds the entry with a merge patch (RFC 7386: other entries are
 * left alone, and no resourceVersion is needed, so two operators never
 * conflict), or creates the ConfigMap when there is none yet. Returns an
 * exit status.
 */
static int
file_request(struct cli_kube *k, const struct cluster_req *r)
{
	struct cli_kube_result res = { 0 };
	json_t *patch = NULL, *cm = NULL;
	int rc = CLI_EXIT_INTERNAL, tries;

	if ((patch = json_pack("{s:{s:s}}", "data", r->key, r->value)) ==
	    NULL || (cm = json_pack("{s:s, s:s, s:{s:s, s:s, s:{s:s}}, s:O}",
	    "apiVersion", "v1", "kind", "ConfigMap", "metadata", "name",
	    REVOKE_CM, "namespace", r->ns, "labels",
	    "app.kubernetes.io/part-of", "meshca", "data",
	    json_object_get(patch, "data"))) == NULL) {
		cli_warnx("revoke: out of memory");
		goto out;
	}
	/* A create that loses a race with another operator's comes back
	 * AlreadyExists: the patch then finds the ConfigMap. */
	for (tries = 0; tries < 2; tries++) {
		if (cli_kube_patch_merge(k, &k8s_res_configmaps, r->ns,
		    REVOKE_CM, patch, &res) == 0) {
			rc = CLI_EXIT_OK;
			goto out;
		}
		if (res.outcome != K8S_E_NOT_FOUND) {
			rc = cli_kube_fail("revoke", k, "patch", r->object,
			    &res, rbac_hint);
			maybe_filed(r, &res);
			goto out;
		}
		cli_kube_result_clear(&res);
		if (cli_kube_create(k, &k8s_res_configmaps, r->ns, cm,
		    &res) == 0) {
			rc = CLI_EXIT_OK;
			goto out;
		}
		if (res.outcome == K8S_E_NOT_FOUND) {
			cli_warnx("revoke: create %s: namespace %s not found "
			    "(%s): is meshcad's CA namespace another? "
			    "(--ca-namespace)", r->object, r->ns, res.msg);
			rc = CLI_EXIT_REJECTED;
			goto out;
		}
		if (res.outcome != K8S_E_ALREADY_EXISTS) {
			rc = cli_kube_fail("revoke", k, "create", r->object,
			    &res, rbac_hint);
			maybe_filed(r, &res);
			goto out;
		}
		cli_kube_result_clear(&res);
	}
	cli_warnx("revoke: %s: created and deleted while filing; try again",
	    r->object);
	rc = CLI_EXIT_USAGE;
out:
	cli_kube_result_clear(&res);
	json_decref(patch);
	json_decref(cm);
	return rc;
}

/*
 * Whether the PEM CRLs in pem (one per authority) list serial (hex).
 * false when pem holds no CRL.
 */
static bool
crl_lists(const char *pem, const char *serial)
{
	ASN1_INTEGER *want = NULL;
	X509_REVOKED *rv;
	X509_CRL *crl;
	BIGNUM *bn = NULL;
	BIO *b = NULL;
	bool found = false;

	if (BN_hex2bn(&bn, serial) == 0 ||
	    (want = BN_to_ASN1_INTEGER(bn, NULL)) == NULL ||
	    (b = BIO_new_mem_buf(pem, -1)) == NULL)
		goto out;
	while (!found &&
	    (crl = PEM_read_bio_X509_CRL(b, NULL, NULL, NULL)) != NULL) {
		found = X509_CRL_get0_by_serial(crl, &rv, want) == 1;
		X509_CRL_free(crl);
	}
out:
	ERR_clear_error();
	BIO_free(b);
	ASN1_INTEGER_free(want);
	BN_free(bn);
	return found;
}

/* What --wait saw. */
enum waited {
	W_NOWAIT,	/* no --wait */
	W_HANDLED,	/* the entry is gone (and a serial is in the CRL) */
	W_REFUSED,	/* the entry is gone, the serial is not in the CRL */
	W_PENDING,	/* the time ran out */
	W_ERROR		/* an API error, reported */
};

/*
 * Polls until the leader has removed the entry, then, for a serial, until
 * the CRL published in the CA namespace lists it: the leader also removes
 * requests it refuses (unknown serial), and only the CRL tells the two
 * apart. Sets *rc to an exit status on W_ERROR.
 */
static enum waited
wait_handled(struct cli_kube *k, const struct cluster_req *r, int *rc)
{
	struct cli_kube_result res = { 0 };
	int64_t end = now_ms() + (int64_t)r->wait_s * 1000;
	enum waited w = W_PENDING;
	bool gone = false;
	char bundle[320];
	json_t *v;

	snprintf(bundle, sizeof(bundle), "configmap %s/%s", r->ns,
	    REVOKE_BUNDLE_CM);
	for (;;) {
		if (!gone) {
			if (cli_kube_get(k, &k8s_res_configmaps, r->ns,
			    REVOKE_CM, &res) == 0)
				gone = json_object_get(json_object_get(
				    res.body, "data"), r->key) == NULL;
			else if (res.outcome == K8S_E_NOT_FOUND)
				gone = true; /* deleted with the entry */
			else {
				*rc = cli_kube_fail("revoke", k, "get",
				    r->object, &res, rbac_hint);
				w = W_ERROR;
				break;
			}
			cli_kube_result_clear(&res);
			if (gone && r->serial == NULL) {
				w = W_HANDLED;
				break;
			}
		}
		if (gone) {
			if (cli_kube_get(k, &k8s_res_configmaps, r->ns,
			    REVOKE_BUNDLE_CM, &res) == -1 &&
			    res.outcome != K8S_E_NOT_FOUND) {
				*rc = cli_kube_fail("revoke", k, "get", bundle,
				    &res, "reading the CRL needs get on "
				    "ConfigMap " REVOKE_BUNDLE_CM " of the CA "
				    "namespace (deploy/operator-rbac.yaml)");
				w = W_ERROR;
				break;
			}
			v = json_object_get(json_object_get(res.body, "data"),
			    "crl.pem");
			if (json_is_string(v) && crl_lists(json_string_value(v),
			    r->serial)) {
				w = W_HANDLED;
				break;
			}
			cli_kube_result_clear(&res);
		}
		if (now_ms() >= end) {
			w = gone ? W_REFUSED : W_PENDING;
			break;
		}
		sleep_ms(REVOKE_POLL_MS);
	}
	cli_kube_result_clear(&res);
	return w;
}

/*
 * Prints, after --wait, what became of the request (the text line saying
 * it was filed came first), or with --json the one object; returns the
 * exit status, rc after W_ERROR (the error is reported already).
 */
static int
report(const struct cli_global *g, const struct cluster_req *r,
    enum waited w, int rc)
{
	json_t *o;

	if (g->json) {
		o = json_pack("{s:s, s:s, s:s, s:s}", "request", r->key,
		    "namespace", r->ns, "configmap", REVOKE_CM, "reason",
		    ca_crl_reason_name(r->reason));
		if (o != NULL && r->serial != NULL)
			json_object_set_new(o, "serial",
			    json_string(r->serial));
		if (o != NULL && r->id != NULL)
			json_object_set_new(o, "spiffe_id", json_string(r->id));
		if (o != NULL)
			json_object_set_new(o, "handled", w == W_NOWAIT ||
			    w == W_ERROR ? json_null() :
			    json_boolean(w == W_HANDLED));
		if (cli_print_json("revoke", o) != CLI_EXIT_OK)
			return CLI_EXIT_INTERNAL;
	} else {
		if (w == W_HANDLED && r->serial != NULL)
			printf("handled: %s is in the CRL of configmap "
			    "%s/%s\n", r->serial, r->ns, REVOKE_BUNDLE_CM);
		else if (w == W_HANDLED)
			printf("handled: the leader took the request\n");
	}
	switch (w) {
	case W_REFUSED:
		cli_warnx("revoke: %s: the leader removed the request but the "
		    "CRL of configmap %s/%s does not list %s after %ld s: it "
		    "refused it (see meshcad's log)", r->key, r->ns,
		    REVOKE_BUNDLE_CM, r->serial, r->wait_s);
		return CLI_EXIT_REJECTED;
	case W_PENDING:
		cli_warnx("revoke: %s: not handled within %ld s; it stays "
		    "filed (is meshcad running, with a leader, in namespace "
		    "%s?)", r->key, r->wait_s, r->ns);
		return REVOKE_EXIT_PENDING;
	case W_ERROR:
		cli_warnx("revoke: %s was filed: do not file it again", r->key);
		return rc;
	default:
		return CLI_EXIT_OK;
	}
}

/* revoke against the cluster: validate, file, and with --wait follow. */
static int
revoke_cluster(const struct cli_global *g, struct cluster_req *r)
{
	struct meshca_id *parsed = NULL;
	struct meshca_error me;
	struct cli_kube *k = NULL;
	struct mc_err e = { 0 };
	enum meshca_status st;
	enum waited w = W_NOWAIT;
	unsigned char rnd[4];
	char ns[256], sa[256];
	int rc = CLI_EXIT_USAGE;

	memset(&me, 0, sizeof(me));
	if (r->id != NULL) {
		if ((st = meshca_id_parse(r->id, strlen(r->id), &parsed,
		    &me)) != MESHCA_OK) {
			cli_warn_lib("revoke", "--id", st, &me);
			goto out;
		}
		/* meshcad(8): the leader revokes by ID only for a service
		 * account's, and would refuse anything else after the fact. */
		if (meshca_id_get_service_account(parsed, ns, sizeof(ns), sa,
		    sizeof(sa), NULL) != MESHCA_OK) {
			cli_warnx("revoke: --id: %.80s: meshcad revokes by ID "
			    "only for a service account "
			    "(spiffe://TD/ns/NAMESPACE/sa/ACCOUNT)", r->id);
			goto out;
		}
		r->id = meshca_id_get0_string(parsed);
	}
	if (RAND_bytes(rnd, sizeof(rnd)) != 1) {
		cli_warnx("revoke: no random bytes for the request's key");
		rc = CLI_EXIT_INTERNAL;
		goto out;
	}
	/* A key of its own per request (ConfigMap keys: [-._a-zA-Z0-9]+),
	 * so requests filed at once never overwrite each other. */
	snprintf(r->key, sizeof(r->key), "req-%lld-%02x%02x%02x%02x",
	    (long long)time(NULL), rnd[0], rnd[1], rnd[2], rnd[3]);
	snprintf(r->value, sizeof(r->value), "%s=%s reason=%s",
	    r->id != NULL ? "id" : "serial", r->id != NULL ? r->id : r->serial,
	    ca_crl_reason_name(r->reason));
	snprintf(r->object, sizeof(r->object), "configmap %s/%s", r->ns,
	    REVOKE_CM);
	if ((k = cli_kube_open(g, (uint64_t)r->timeout_s * 1000, &e)) ==
	    NULL) {
		cli_warnx("revoke: %s", e.msg);
		rc = e.status == MC_ST_NOMEM ? CLI_EXIT_INTERNAL :
		    CLI_EXIT_USAGE;
		goto out;
	}
	if ((rc = file_request(k, r)) != CLI_EXIT_OK)
		goto out;
	if (!g->json) {
		/* at once: --wait may take a while */
		printf("filed %s: %s in configmap %s/%s\n", r->key, r->value,
		    r->ns, REVOKE_CM);
		fflush(stdout);
	}
	if (r->wait_s >= 0)
		w = wait_handled(k, r, &rc);
	rc = report(g, r, w, rc);
out:
	cli_kube_close(k);
	meshca_id_free(parsed);
	return rc;
}

/* Parses a count of seconds for option opt; -1 after a message. */
static long
parse_seconds(const char *opt, const char *s)
{
	char *end;
	long v;

	if (s == NULL) {
		cli_warnx("revoke: %s: a value is required", opt);
		return -1;
	}
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < 1 ||
	    v > REVOKE_SECONDS_MAX) {
		cli_warnx("revoke: %s: %.40s: seconds from 1 to %d", opt, s,
		    REVOKE_SECONDS_MAX);
		return -1;
	}
	return v;
}

int
cli_cmd_revoke(int argc, char *argv[], const struct cli_global *g)
{
	static const struct option longopts[] = {
		{ "reason", required_argument, NULL, 'r' },
		{ "id", required_argument, NULL, 'i' },
		{ "ca-namespace", required_argument, NULL, 'n' },
		{ "wait", optional_argument, NULL, 'w' },
		{ "timeout", required_argument, NULL, 't' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct cluster_req r;
	struct store_db *db = NULL;
	struct mc_err e = { 0 };
	char serial[CA_SERIAL_HEX];
	const char *id = NULL, *local_only = NULL;
	bool cluster = g->kubeconfig != NULL || g->in_cluster;
	int ch, rc, reason = 0;

	memset(&r, 0, sizeof(r));
	r.ns = REVOKE_CA_NS;
	r.wait_s = -1;
	r.timeout_s = REVOKE_TIMEOUT_S;
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
		case 'n':
			/* The API server checks the name (and answers 404
			 * for a namespace that does not exist). */
			if (optarg == NULL || optarg[0] == '\0' ||
			    strchr(optarg, '/') != NULL) {
				cli_warnx("revoke: --ca-namespace: %.80s: not "
				    "a namespace name", optarg);
				return cli_usage_cmd("revoke");
			}
			r.ns = optarg;
			local_only = "--ca-namespace";
			break;
		case 'w':
			if ((r.wait_s = optarg == NULL ? REVOKE_WAIT_S :
			    parse_seconds("--wait", optarg)) == -1)
				return cli_usage_cmd("revoke");
			local_only = "--wait";
			break;
		case 't':
			if ((r.timeout_s = parse_seconds("--timeout",
			    optarg)) == -1)
				return cli_usage_cmd("revoke");
			local_only = "--timeout";
			break;
		case 'h':
			return cli_help_cmd("revoke");
		default:
			return cli_usage_cmd("revoke");
		}
	}
	if (!cluster && local_only != NULL) {
		cli_warnx("revoke: %s is for a cluster (--kubeconfig or "
		    "--in-cluster)", local_only);
		return cli_usage_cmd("revoke");
	}
	if (id != NULL && argc == optind) {
		if (!cluster)
			return revoke_id(g, id, reason);
		r.id = id;
		r.reason = reason;
		return revoke_cluster(g, &r);
	}
	if (id != NULL || argc - optind != 1) {
		cli_warnx("revoke: expected one serial number or --id");
		return cli_usage_cmd("revoke");
	}
	if (serial_norm(argv[optind], serial) == -1)
		return CLI_EXIT_USAGE;
	if (cluster) {
		r.serial = serial;
		r.reason = reason;
		return revoke_cluster(g, &r);
	}
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
