/*
 * config.h: meshcad's configuration (meshca.conf(5), meshcad(8)).
 *
 * The configuration in force is built in four steps, every time (at start
 * and on each SIGHUP): built-in defaults, then the file (default
 * /etc/meshca/meshca.conf, or --config FILE), then the command-line flags,
 * then validation of the whole. Config keys and long options share one
 * vocabulary: the key "cert-ttl" is the flag --cert-ttl.
 *
 * Durations are kept in milliseconds.
 */
#ifndef DAEMON_CONFIG_H
#define DAEMON_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "common/err.h"

#define DAEMON_CONFIG_DEFAULT_PATH "/etc/meshca/meshca.conf"
#define DAEMON_CONFIG_LINE_MAX 1024  /* bytes per line, newline excluded */
#define DAEMON_CONFIG_FILE_MAX 65536 /* bytes per file */
#define DAEMON_CONFIG_LIST_MAX 256   /* items per list */

enum daemon_secret_format {
	DAEMON_SECRET_ISTIO = 0, /* istio.io/key-and-cert */
	DAEMON_SECRET_TLS = 1	 /* kubernetes.io/tls */
};

enum daemon_key_type {
	DAEMON_KEY_EC_P256 = 0,
	DAEMON_KEY_EC_P384,
	DAEMON_KEY_RSA_2048,
	DAEMON_KEY_RSA_3072,
	DAEMON_KEY_RSA_4096,
	DAEMON_KEY_ED25519
};

struct daemon_strlist {
	char **v;
	size_t n;
};

struct daemon_config {
	char *config_path; /* the file read; NULL: none */
	char *kubeconfig;  /* NULL: in-cluster */
	char *db;
	char *ca_namespace;
	char *ca_dir;	     /* NULL: Secret meshca-ca in ca_namespace */
	uint64_t ca_refresh; /* ms between reads of the CA material */
	char *trust_domain;
	uint64_t cert_ttl;     /* ms */
	uint64_t max_cert_ttl; /* ms */
	char *metrics_listen;
	char *metrics_port_file; /* NULL: none */
	unsigned int metrics_max_connections;
	int log_format; /* enum mc_log_format */
	int log_level;	/* enum mc_log_level */
	enum daemon_secret_format secret_format;
	double grace_ratio;
	uint64_t min_grace;		  /* ms */
	uint64_t propagation_window;	  /* ms */
	struct daemon_strlist namespaces; /* empty: all */
	struct daemon_strlist exclude_namespaces;
	char *namespace_selector; /* NULL: none */
	uint64_t lease_duration;  /* ms */
	uint64_t renew_deadline;  /* ms */
	uint64_t retry_period;	  /* ms */
	char *identity;		  /* resolved: never NULL after load */
	enum daemon_key_type key_type;
	bool revoke_on_delete;
};

/*
 * The command line, kept so that a reload can apply the same flags over
 * a re-read file. Owned by the caller; free with daemon_args_free().
 */
struct daemon_args {
	char *config_path; /* --config; NULL: default path */
	bool config_given; /* --config was on the command line */
	bool check_config;
	bool version;
	bool help;
	size_t n; /* flags that map to config keys */
	char **keys;
	char **values;
};

/*
 * Parses argv (getopt_long; resets optind). -1 with e set on a usage
 * error (unknown option, missing argument, stray operand); the message
 * names the option. Values are checked later, by daemon_config_load().
 */
int daemon_args_parse(struct daemon_args *a, int argc, char *argv[],
    struct mc_err *e);
void daemon_args_free(struct daemon_args *a);

/* Writes the usage synopsis (as in meshcad(8)) to fp. */
void daemon_usage(FILE *fp);

/*
 * Builds a configuration from defaults, the file and the flags, and
 * validates it. A missing default file is not an error; a missing file
 * named by --config is. Errors name the file and line, or the flag:
 *   /etc/meshca/meshca.conf:12: unknown key "foo"
 *   --cert-ttl: "24x": unknown duration unit "x"
 * *out is set only on success; free with daemon_config_free().
 */
int daemon_config_load(const struct daemon_args *a, struct daemon_config **out,
    struct mc_err *e);

/* Parses the file text in buf (len bytes) over c; name is for errors. */
int daemon_config_parse_buf(struct daemon_config *c, const char *name,
    const char *buf, size_t len, struct mc_err *e);

/* Allocates the built-in defaults (unresolved identity). */
struct daemon_config *daemon_config_defaults(struct mc_err *e);

/* Checks the cross-key rules; -1 with the rule broken in e. */
int daemon_config_validate(const struct daemon_config *c, struct mc_err *e);

void daemon_config_free(struct daemon_config *c);

/*
 * Reload: compares old (in force) with new (freshly loaded and valid).
 * Keys that cannot change at runtime keep their old value in new and are
 * reported through warn; keys that changed are reported through note.
 * Each callback gets the key and the old and new values as text. Returns
 * the number of keys that changed and were accepted, or -1 when, with
 * the refused keys put back, new is no longer valid (e is set; the
 * caller should keep old).
 */
typedef void daemon_config_report_fn(void *arg, const char *key,
    const char *oldval, const char *newval);
int daemon_config_merge_reload(const struct daemon_config *old,
    struct daemon_config *new, daemon_config_report_fn *note,
    daemon_config_report_fn *warn, void *arg, struct mc_err *e);

/* Writes every key with its value, in meshca.conf syntax, to fp. */
void daemon_config_dump(const struct daemon_config *c, FILE *fp);

/*
 * Value parsers, exposed for tests and for other units. Durations:
 * one or more NUMBER UNIT groups, units ms, s, m, h, d ("1h30m"); the
 * result is in ms, at most 100 years. -1 with e set otherwise.
 */
int daemon_parse_duration(const char *s, uint64_t *ms, struct mc_err *e);
void daemon_format_duration(uint64_t ms, char *out, size_t outlen);
int daemon_parse_bool(const char *s, bool *b, struct mc_err *e);

/* Names as used in the file and on the command line. */
const char *daemon_key_type_name(enum daemon_key_type t);
const char *daemon_secret_format_name(enum daemon_secret_format f);

#endif /* DAEMON_CONFIG_H */
