/*
 * cmd_show.c: "meshca show SERIAL" prints everything the ledger holds
 * about one certificate, plus what its PEM says (subject, issuer, key,
 * DNS names), and the PEM itself with --pem. The serial is untrusted (32
 * hex digits); the PEM is the one meshca recorded, read back with
 * OpenSSL and shown only through its printers.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "ca/crl.h"
#include "ca/issue.h"
#include "cli/ca_util.h"
#include "common/status.h"
#include "store/certs.h"

/* What the PEM adds to the ledger row. */
struct pem_facts {
	char subject[512];
	char issuer[512];
	char key_type[32];
	json_t *dns; /* array of strings */
};

static void
name_oneline(const X509_NAME *n, char *out, size_t len)
{
	BIO *b;
	int k;

	out[0] = '\0';
	if ((b = BIO_new(BIO_s_mem())) == NULL)
		return;
	/* RFC 2253 form, with non-ASCII escaped: safe on a terminal. */
	if (X509_NAME_print_ex(b, n, 0, XN_FLAG_RFC2253) >= 0 &&
	    (k = BIO_read(b, out, (int)len - 1)) > 0)
		out[k] = '\0';
	BIO_free(b);
}

static int
read_pem(const char *pem, struct pem_facts *f, struct mc_err *e)
{
	GENERAL_NAMES *gens = NULL;
	const GENERAL_NAME *gn;
	EVP_PKEY *pk;
	X509 *x = NULL;
	BIO *b = NULL;
	int i, ret = -1;

	if ((f->dns = json_array()) == NULL ||
	    (b = BIO_new_mem_buf(pem, -1)) == NULL) {
		mc_err_set(e, MC_ST_NOMEM, 0, "out of memory");
		goto out;
	}
	if ((x = PEM_read_bio_X509(b, NULL, NULL, NULL)) == NULL) {
		mc_err_set(e, MC_ST_PARSE, 0, "recorded PEM does not parse");
		goto out;
	}
	name_oneline(X509_get_subject_name(x), f->subject, sizeof(f->subject));
	name_oneline(X509_get_issuer_name(x), f->issuer, sizeof(f->issuer));
	pk = X509_get0_pubkey(x);
	if (pk != NULL && EVP_PKEY_is_a(pk, "RSA"))
		snprintf(f->key_type, sizeof(f->key_type), "rsa%d",
		    EVP_PKEY_get_bits(pk));
	else if (pk != NULL && EVP_PKEY_is_a(pk, "ED25519"))
		snprintf(f->key_type, sizeof(f->key_type), "ed25519");
	else if (pk != NULL && EVP_PKEY_is_a(pk, "EC"))
		snprintf(f->key_type, sizeof(f->key_type), "ec-p%d",
		    EVP_PKEY_get_bits(pk));
	else
		snprintf(f->key_type, sizeof(f->key_type), "unknown");
	gens = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
	for (i = 0; gens != NULL && i < sk_GENERAL_NAME_num(gens); i++) {
		gn = sk_GENERAL_NAME_value(gens, i);
		if (gn->type != GEN_DNS)
			continue;
		if (json_array_append_new(f->dns, json_stringn(
		    (const char *)ASN1_STRING_get0_data(gn->d.dNSName),
		    (size_t)ASN1_STRING_length(gn->d.dNSName))) == -1) {
			mc_err_set(e, MC_ST_NOMEM, 0, "out of memory");
			goto out;
		}
	}
	ret = 0;
out:
	GENERAL_NAMES_free(gens);
	X509_free(x);
	BIO_free(b);
	return ret;
}

static void
print_human(const struct store_cert *c, const struct pem_facts *f, bool pem)
{
	char t[32];
	size_t i;

	printf("%-16s %s\n", "serial:", c->serial);
	printf("%-16s %s\n", "spiffe_id:", c->spiffe_id);
	printf("%-16s %s\n", "namespace:",
	    c->namespace_ != NULL ? c->namespace_ : "-");
	printf("%-16s %s\n", "service_account:",
	    c->service_account != NULL ? c->service_account : "-");
	printf("%-16s %s\n", "status:", store_cert_status_name(c->status));
	cli_fmt_time(c->not_before, t, sizeof(t));
	printf("%-16s %s\n", "not_before:", t);
	cli_fmt_time(c->not_after, t, sizeof(t));
	printf("%-16s %s\n", "not_after:", t);
	cli_fmt_time(c->issued_at, t, sizeof(t));
	printf("%-16s %s\n", "issued_at:", t);
	printf("%-16s %lld\n", "authority:", (long long)c->authority_id);
	if (c->status == STORE_CERT_REVOKED) {
		cli_fmt_time(c->revoked_at, t, sizeof(t));
		printf("%-16s %s\n", "revoked_at:", t);
		printf("%-16s %s\n", "reason:", ca_crl_reason_name(c->reason));
	}
	printf("%-16s %s\n", "subject:", f->subject[0] != '\0' ? f->subject :
	    "- (empty: the URI SAN is critical)");
	printf("%-16s %s\n", "issuer:", f->issuer);
	printf("%-16s %s\n", "key_type:", f->key_type);
	for (i = 0; i < json_array_size(f->dns); i++)
		printf("%-16s %s\n", "dns:",
		    json_string_value(json_array_get(f->dns, i)));
	if (pem)
		fputs(c->cert_pem, stdout);
}

int
cli_cmd_show(int argc, char *argv[], const struct cli_global *g)
{
	static const struct option longopts[] = {
		{ "pem", no_argument, NULL, 'p' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct pem_facts f;
	struct store_cert c;
	struct store_db *db = NULL;
	struct mc_err e = { 0 };
	char serial[CA_SERIAL_HEX];
	const char *arg;
	json_t *o = NULL;
	char *s = NULL;
	bool found = false, pem = false;
	int ch, rc, bad;
	size_t i, len;

	memset(&c, 0, sizeof(c));
	memset(&f, 0, sizeof(f));
	while ((ch = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (ch) {
		case 'p':
			pem = true;
			break;
		case 'h':
			return cli_help_cmd("show");
		default:
			return cli_usage_cmd("show");
		}
	}
	if (argc - optind != 1) {
		cli_warnx("show: expected one serial number");
		return cli_usage_cmd("show");
	}
	arg = argv[optind];
	len = strlen(arg);
	if (len != 2 * CA_SERIAL_LEN || strspn(arg, "0123456789abcdefABCDEF") !=
	    len) {
		cli_warnx("show: %.80s: a serial is %d hex digits", arg,
		    2 * CA_SERIAL_LEN);
		return CLI_EXIT_USAGE;
	}
	for (i = 0; i <= len; i++)
		serial[i] = (arg[i] >= 'A' && arg[i] <= 'F') ?
		    (char)(arg[i] - 'A' + 'a') : arg[i];
	if ((rc = cli_ca_open("show", g, NULL, false, &db, NULL)) !=
	    CLI_EXIT_OK)
		return rc;
	if (store_cert_get(db, serial, &c, &found, &e) == -1) {
		rc = cli_ca_fail("show", &e);
		goto out;
	}
	if (!found) {
		cli_warnx("show: serial %s: not in ledger %s", serial,
		    cli_ca_db_path(g));
		rc = CLI_EXIT_REJECTED;
		goto out;
	}
	if (read_pem(c.cert_pem, &f, &e) == -1) {
		mc_err_prefix(&e, "serial %s", serial);
		rc = cli_ca_fail("show", &e);
		goto out;
	}
	if (!g->json) {
		print_human(&c, &f, pem);
		rc = CLI_EXIT_OK;
		goto out;
	}
	bad = (o = cli_cert_json(&c)) == NULL;
	if (!bad) {
		bad |= json_object_set_new(o, "subject",
		    json_string(f.subject));
		bad |= json_object_set_new(o, "issuer", json_string(f.issuer));
		bad |= json_object_set_new(o, "key_type",
		    json_string(f.key_type));
		bad |= json_object_set(o, "dns", f.dns);
		if (pem)
			bad |= json_object_set_new(o, "pem",
			    json_string(c.cert_pem));
	}
	/* jansson allocates with malloc(); free() its string. */
	if (bad || (s = json_dumps(o, JSON_PRESERVE_ORDER)) == NULL) {
		cli_warnx("show: cannot build JSON output");
		rc = CLI_EXIT_INTERNAL;
		goto out;
	}
	printf("%s\n", s);
	rc = CLI_EXIT_OK;
out:
	free(s);
	json_decref(o);
	json_decref(f.dns);
	store_cert_clear(&c);
	store_close(db);
	return rc;
}
