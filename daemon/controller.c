/*
 * controller.c: meshcad's reconcile loop (see controller.h). One thread,
 * one Kubernetes client: informers keep caches of Namespaces,
 * ServiceAccounts, meshca's Secrets and ConfigMaps; every change puts a
 * key ("sa" ns/name, or "cm" ns) on a work queue with per-key dedup; the
 * leader takes keys off the queue and compares the cluster with what it
 * should be, writing with many requests in flight at once. A key whose
 * write failed comes back after a per-key backoff; a key whose leaf
 * nears its end comes back at its renewal time (scheduler.h).
 *
 * Trusted input: the configuration. Everything read from the API server
 * is checked before use (publish.c judges Secrets; the CA Secret must
 * hold a CA whose key matches and whose chain verifies; a CRL must be
 * signed by our authority). Key material goes only into Secret bodies
 * sent to the API server and into the ledger sealed under the KEK; it is
 * never logged.
 */
#include <sys/stat.h>

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/sha.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include <meshca/bundle.h>
#include <meshca/id.h>
#include <meshca/svid.h>

#include "ca/authority.h"
#include "ca/crl.h"
#include "ca/issue.h"
#include "ca/kek.h"
#include "ca/rotate.h"
#include "common/alloc.h"
#include "common/buf.h"
#include "common/log.h"
#include "common/status.h"
#include "daemon/controller.h"
#include "daemon/publish.h"
#include "daemon/scheduler.h"
#include "daemon/scope.h"
#include "k8s/backoff.h"
#include "k8s/config.h"
#include "k8s/http.h"
#include "k8s/informer.h"
#include "k8s/lease.h"
#include "k8s/rest.h"
#include "store/authorities.h"
#include "store/certs.h"
#include "store/db.h"

#define CTL_TICK_MS 250		/* scheduler scan period */
#define CTL_MAX_INFLIGHT 64	/* concurrent writes: the API server's
				   latency, not meshcad, bounds throughput
				   (16 made a 10k reconcile 5x slower) */
#define CTL_LOW_WATER (CTL_MAX_INFLIGHT / 2) /* a turn starts when the
				   writes in flight fall to this many, so
				   one ledger commit covers many leaves */
#define CTL_BATCH 256		/* keys taken per loop turn (and per ledger
				   transaction) */
#define CTL_SLICE_MS 40		/* and at most this long: the Lease renewal
				   and the watches run on the same loop */
#define CTL_RETRY_BASE_MS 500
#define CTL_RETRY_CAP_MS 30000
#define CTL_REQUEUE_MS 300	/* after a 409: let the watch catch up */
#define CTL_ROOT_LIFETIME (10 * 365 * 86400LL)
#define CTL_ROOT_WARN (90 * 86400LL) /* loud warning before root expiry */
#define CTL_CRL_VALIDITY CA_CRL_VALIDITY_DEFAULT
#define CTL_PEM_MAX (1u << 20)
#define CTL_CRL_MAX (16u << 20)
#define CTL_REASON_CESSATION 5	/* RFC 5280 5.3.1 cessationOfOperation */
#define CTL_REASON_SUPERSEDED 4 /* RFC 5280 5.3.1 superseded */

enum item_kind { ITEM_SA, ITEM_CM };

/* Why a leaf is being (re)issued. */
enum cause {
	CAUSE_NEW = 0,
	CAUSE_CHECK,   /* the Secret failed a check: a restore */
	CAUSE_ROTATE,  /* renewal time reached */
	CAUSE_ROOT,    /* the bundle changed */
	CAUSE_REVOKED  /* an operator revoked the leaf */
};

struct item {
	struct item *hnext; /* hash chain */
	struct item *qnext; /* queue link */
	enum item_kind kind;
	char *key;	     /* "sa:ns/name" or "cm:ns" */
	char *ns;
	char *name;	     /* the account; NULL for cm */
	bool queued;
	bool inflight;
	bool dirty;	     /* changed while in flight: run again */
	bool seen_valid;     /* had a valid Secret: a missing one is a restore */
	bool force;	     /* reissue even if valid (revoked on request) */
	bool swept;	     /* ledger superseded once this run */
	struct k8s_request *req;
	uint64_t retry_due;  /* monotonic ms; 0: none */
	struct k8s_backoff bo;
	int64_t renew_at;    /* Unix s; 0: unknown */
	int64_t not_after;
	/* the write in flight */
	enum cause cause;
	enum daemon_check check;
	uint64_t started_ms;
	char new_serial[CA_SERIAL_HEX];
	uint64_t cm_seq;     /* crl_seq of the CRL a bundle write carries */
	char old_serial[40];
	int64_t new_nb, new_na;
	/* the Secret as we last wrote it: its resourceVersion changes on
	 * any change, so the watch echo of our own write need not be
	 * judged again (publish.c's check verifies a chain and a key) */
	char *pub_rv;
	int64_t pub_nb, pub_na;
	unsigned pub_gen;    /* c->bundle_gen it was written under */
	/* superseded leaves of this account awaiting revocation, from the
	 * annotation of its Secret (DAEMON_ANNOT_SUPERSEDED) and the
	 * ledger; sup is the annotation of the write in flight */
	struct daemon_pending *pend;
	size_t npend;
	char *sup;
	/* a standby records the leaves it sees in its own ledger */
	struct item *inext;
	bool import;
	struct daemon_controller *ctl;
};

struct daemon_controller {
	struct daemon_config *cfg;
	struct meshcad_metrics *m;
	struct daemon_selector *sel;
	char *ca_ns, *td, *identity, *actor;

	struct k8s_config *kcfg;
	struct k8s_client *cl;
	struct k8s_informer *ns_inf, *sa_inf, *sec_inf, *cm_inf, *rev_inf;
	struct k8s_elector *el;
	struct k8s_timer tick;

	struct store_db *db;
	struct ca_kek kek;

	/* CA state */
	enum { CA_FETCH, CA_WAIT, CA_READY } ca_state;
	struct k8s_backoff ca_bo;
	struct k8s_backoff ledger_bo;	/* the ledger refused a write */
	uint64_t ledger_retry_ms;	/* no turn before (k8s_now_ms) */
	struct k8s_timer ca_timer;
	struct ca_authority *auth;
	/* the ledger's authorities (not retired) and the authority key
	 * identifier their leaves carry: a leaf found in the cluster is
	 * recorded as its issuer's (auth_kids_load) */
	struct auth_kid {
		int64_t id;
		unsigned char kid[EVP_MAX_MD_SIZE];
		unsigned int len;
	} *kids;
	size_t nkids;
	unsigned char ca_digest[SHA256_DIGEST_LENGTH]; /* of what auth is */
	char *extra_roots; /* root-cert.pem's roots after the first, PEM */
	struct ca_signer *signer;
	struct ca_issuer *issuer;
	struct meshca_verifier *verifier;
	char *root_pem;	   /* the bundle, PEM */
	char *bundle_json; /* the bundle, SPIFFE JSON */
	char *chain_pem;   /* what follows a leaf */
	char *crl_pem;
	unsigned bundle_gen; /* counts bundle_refresh() calls */
	int64_t crl_this, crl_next;
	bool crl_dirty;
	/* Secret meshca-ca-retiring as the leader wants it (its data), a
	 * write in flight, and when to try again after one failed (0:
	 * none due) */
	json_t *retiring_want;
	bool retiring_inflight;
	uint64_t retiring_retry_ms;
	struct k8s_backoff retiring_bo;

	/* CRLs signed (crl_seq), and the last of them known to be in the
	 * CA namespace's ConfigMap (crl_seq_pub; 0 at a term's start) */
	uint64_t crl_seq, crl_seq_pub;

	/* revocation requests acted on, key -> entry text, until their
	 * entries have left meshca-revocations (kept across terms), and
	 * key -> the crl_seq that must be published before the entry
	 * leaves (so a leader that dies between its ledger and the CRL
	 * leaves the request to the next) */
	json_t *rev_done, *rev_seq;
	struct k8s_backoff rev_bo;
	/* removing handled entries failed: try again, not before this
	 * (k8s_now_ms); 0: no retry due */
	uint64_t rev_retry_ms;

	/* work */
	struct item **tab;
	size_t tabsz, nitems;
	struct item *qhead, *qtail;
	size_t nqueued, ninflight;
	int64_t next_pend;	/* earliest due pending revocation */
	struct item *ihead;	/* Secrets a standby has yet to record */
	bool term_ready;	/* this leadership term's start is done:
				   CRL imported, gone accounts swept */
	/* the items of this loop turn, all under one ledger transaction:
	 * their writes are only sent once it has committed */
	struct item *turn[CTL_BATCH];
	size_t nturn;

	/* the scheduler scans every item only when one may be due, so an
	 * idle replica with 10k accounts does no O(n) work per tick */
	uint64_t next_retry_ms; /* earliest retry_due; UINT64_MAX: none */
	int64_t next_renew;	/* earliest renew_at; INT64_MAX: none */
	int64_t last_scan;

	bool leader;
	bool synced;
	bool stopping;
	uint64_t last_tick;
	int64_t root_warned;
	struct k8s_informer_stats last_stats[5];
};

static void enqueue(struct daemon_controller *c, struct item *it);
static void full_resync(struct daemon_controller *c);
static void secret_observe(struct daemon_controller *c, const json_t *sec);
static void import_mark(struct daemon_controller *c, const json_t *obj);
static int import_walk(const json_t *obj, void *arg);

static int64_t
now_s(void)
{
	return (int64_t)time(NULL);
}

/* ---- items: hash table and queue ---------------------------------- */

static struct item *
item_find(struct daemon_controller *c, const char *key)
{
	struct item *it;

	for (it = c->tab[daemon_hash(key) & (c->tabsz - 1)]; it != NULL;
	    it = it->hnext)
		if (strcmp(it->key, key) == 0)
			return it;
	return NULL;
}

static void
tab_grow(struct daemon_controller *c)
{
	struct item **nt, *it, *next;
	size_t i, nsz = c->tabsz * 2, h;

	if ((nt = mc_calloc(nsz, sizeof(struct item *))) == NULL)
		return; /* keep the longer chains */
	for (i = 0; i < c->tabsz; i++)
		for (it = c->tab[i]; it != NULL; it = next) {
			next = it->hnext;
			h = daemon_hash(it->key) & (nsz - 1);
			it->hnext = nt[h];
			nt[h] = it;
		}
	mc_free(c->tab);
	c->tab = nt;
	c->tabsz = nsz;
}

static struct item *
item_get(struct daemon_controller *c, enum item_kind kind, const char *ns,
    const char *name)
{
	char key[600];
	struct item *it;
	size_t h;
	int n;

	n = snprintf(key, sizeof(key), "%s:%s/%s", kind == ITEM_SA ? "sa" :
	    "cm", ns, name != NULL ? name : "");
	if (n < 0 || (size_t)n >= sizeof(key))
		return NULL;
	if ((it = item_find(c, key)) != NULL)
		return it;
	if ((it = mc_calloc(1, sizeof(*it))) == NULL ||
	    (it->key = mc_strdup(key)) == NULL ||
	    (it->ns = mc_strdup(ns)) == NULL ||
	    (name != NULL && (it->name = mc_strdup(name)) == NULL)) {
		if (it != NULL) {
			mc_free(it->key);
			mc_free(it->ns);
		}
		mc_free(it);
		mc_log_warnx("work queue: out of memory for %s", key);
		return NULL;
	}
	it->kind = kind;
	it->ctl = c;
	k8s_backoff_init(&it->bo, CTL_RETRY_BASE_MS, CTL_RETRY_CAP_MS);
	if (c->nitems + 1 > c->tabsz)
		tab_grow(c);
	h = daemon_hash(key) & (c->tabsz - 1);
	it->hnext = c->tab[h];
	c->tab[h] = it;
	c->nitems++;
	return it;
}

static void
enqueue(struct daemon_controller *c, struct item *it)
{
	if (it == NULL)
		return;
	if (it->inflight) {
		it->dirty = true;
		return;
	}
	if (it->queued)
		return;
	it->queued = true;
	it->qnext = NULL;
	if (c->qtail != NULL)
		c->qtail->qnext = it;
	else
		c->qhead = it;
	c->qtail = it;
	c->nqueued++;
}

static struct item *
dequeue(struct daemon_controller *c)
{
	struct item *it = c->qhead;

	if (it == NULL)
		return NULL;
	c->qhead = it->qnext;
	if (c->qhead == NULL)
		c->qtail = NULL;
	it->queued = false;
	it->qnext = NULL;
	c->nqueued--;
	return it;
}

static void
enqueue_sa(struct daemon_controller *c, const char *ns, const char *sa)
{
	if (ns != NULL && sa != NULL)
		enqueue(c, item_get(c, ITEM_SA, ns, sa));
}

static void
enqueue_cm(struct daemon_controller *c, const char *ns)
{
	if (ns != NULL)
		enqueue(c, item_get(c, ITEM_CM, ns, NULL));
}

/* Retry later with the item's own backoff (jittered, capped). */
static void
retry_later(struct daemon_controller *c, struct item *it, uint64_t ms)
{
	if (ms == 0)
		ms = k8s_backoff_next(&it->bo);
	it->retry_due = k8s_now_ms() + (ms > 0 ? ms : 1);
	if (it->retry_due < c->next_retry_ms)
		c->next_retry_ms = it->retry_due;
}

/*
 * The ledger refused a write (a full disk, an I/O error): counted, and
 * work waits out one backoff shared by every item, short and capped, so
 * that all of it goes on within seconds of the ledger taking writes
 * again; each item's own backoff would have grown to 30 s.
 */
static uint64_t
ledger_failed(struct daemon_controller *c)
{
	uint64_t ms = k8s_backoff_next(&c->ledger_bo);

	daemon_metric_inc(c->m->ledger_errors, NULL);
	c->ledger_retry_ms = k8s_now_ms() + ms;
	return ms;
}

/* Records when an account's leaf is due for renewal. */
static void
set_renew(struct daemon_controller *c, struct item *it, int64_t at,
    int64_t not_after)
{
	it->renew_at = at;
	it->not_after = not_after;
	if (at != 0 && at < c->next_renew)
		c->next_renew = at;
}

/* ---- metrics helpers ------------------------------------------------ */

/*
 * Every API answer that was not a 2xx, by status code ("transport" when
 * there was none), each attempt k8s/http retried by itself included
 * (k8s_client_opts.on_error): a burst of 503s that the retries hid is
 * still visible. A watch that breaks after its 200 is a watch restart.
 */
static void
api_error(long code, void *arg)
{
	struct daemon_controller *c = arg;
	char label[24];

	if (code > 0)
		snprintf(label, sizeof(label), "%ld", code);
	else
		snprintf(label, sizeof(label), "transport");
	daemon_metric_inc(c->m->api_errors, label);
}

/* ---- the ledger ------------------------------------------------------ */

/* Reads the key identifiers of the ledger's authorities (not retired)
 * again: after an authority is installed, adopted or retired. */
static void
auth_kids_load(struct daemon_controller *c)
{
	struct store_authority *rows = NULL;
	STACK_OF(X509) *sk = NULL;
	struct auth_kid *v;
	struct mc_err e;
	size_t n = 0, i, k = 0;

	if (store_authority_list(c->db, c->td, &rows, &n, &e) == -1) {
		mc_log_warnx("ledger: authorities: %s", e.msg);
		return;
	}
	if ((v = mc_calloc(n + 1, sizeof(*v))) == NULL) {
		mc_log_warnx("ledger: authorities: out of memory");
		goto out;
	}
	for (i = 0; i < n; i++) {
		if (rows[i].state == STORE_AUTH_RETIRED ||
		    ca_certs_from_pem(rows[i].cert_pem,
		    strlen(rows[i].cert_pem), "authority", &sk, &e) == -1)
			continue;
		if (ca_issuer_key_id(sk_X509_value(sk, 0), NULL, v[k].kid,
		    &v[k].len) == 0 && v[k].len > 0)
			v[k++].id = rows[i].id;
		sk_X509_pop_free(sk, X509_free);
		sk = NULL;
	}
	ERR_clear_error();
	mc_free(c->kids);
	c->kids = v;
	c->nkids = k;
out:
	store_authority_list_free(rows, n);
}

/* The key identifier authority id's leaves carry; NULL: not known. */
static const struct auth_kid *
auth_kid_of(const struct daemon_controller *c, int64_t id)
{
	size_t i;

	for (i = 0; i < c->nkids; i++)
		if (c->kids[i].id == id)
			return &c->kids[i];
	return NULL;
}

/* The authority that issued a leaf whose authority key identifier is
 * kid: one of the ledger's, else (a leaf of a root this replica never
 * held the key of, or no identifier) the one signing now. */
static int64_t
auth_of_kid(const struct daemon_controller *c, const unsigned char *kid,
    size_t len)
{
	size_t i;

	for (i = 0; i < c->nkids && len > 0; i++)
		if (c->kids[i].len == len &&
		    memcmp(c->kids[i].kid, kid, len) == 0)
			return c->kids[i].id;
	return c->auth->id;
}

/* Records a leaf found in the cluster (issued by another replica, or by
 * us before the ledger was lost) so that it can be revoked. */
static void
ledger_import(struct daemon_controller *c, const char *pem, size_t len,
    const char *spiffe_id, const char *ns, const char *sa)
{
	struct store_cert row;
	struct daemon_secret_info info;
	struct mc_err e;
	BIO *b = NULL;
	X509 *x = NULL;
	const ASN1_OCTET_STRING *akid;
	bool found = false;

	memset(&row, 0, sizeof(row));
	if ((b = BIO_new_mem_buf(pem, (int)len)) == NULL ||
	    (x = PEM_read_bio_X509(b, NULL, NULL, NULL)) == NULL ||
	    ca_cert_serial_hex(x, info.serial, NULL) == -1 ||
	    ca_time_from_asn1(X509_get0_notBefore(x), &info.not_before) ==
	    -1 ||
	    ca_time_from_asn1(X509_get0_notAfter(x), &info.not_after) == -1)
		goto out;
	if (store_cert_get(c->db, info.serial, &row, &found, &e) == -1 ||
	    found)
		goto out;
	memset(&row, 0, sizeof(row));
	row.serial = info.serial;
	row.spiffe_id = (char *)spiffe_id;
	row.namespace_ = (char *)ns;
	row.service_account = (char *)sa;
	row.not_before = info.not_before;
	row.not_after = info.not_after;
	row.issued_at = info.not_before;
	akid = X509_get0_authority_key_id(x);
	row.authority_id = akid == NULL ? c->auth->id : auth_of_kid(c,
	    ASN1_STRING_get0_data(akid), (size_t)ASN1_STRING_length(akid));
	row.cert_pem = (char *)pem;
	if (store_cert_insert(c->db, &row, &e) == -1)
		mc_log_warnx("ledger: record %s (found in the cluster): %s",
		    info.serial, e.msg);
	memset(&row, 0, sizeof(row));
out:
	ERR_clear_error();
	if (found)
		store_cert_clear(&row);
	X509_free(x);
	BIO_free(b);
}

struct serials {
	char (*v)[CA_SERIAL_HEX];
	size_t n, cap;
	const char *skip;
};

static int
collect_serial(const struct store_cert *row, void *arg, struct mc_err *e)
{
	struct serials *s = arg;
	void *nv;

	if (s->skip != NULL && strcmp(row->serial, s->skip) == 0)
		return 0;
	if (s->n == s->cap) {
		if ((nv = mc_realloc(s->v, (s->cap * 2 + 4) *
		    sizeof(*s->v))) == NULL) {
			mc_err_set(e, MC_ST_NOMEM, 0, "out of memory");
			return -1;
		}
		s->v = nv;
		s->cap = s->cap * 2 + 4;
	}
	snprintf(s->v[s->n++], CA_SERIAL_HEX, "%s", row->serial);
	return 0;
}

static int
collect_unexpired(const struct store_cert *row, void *arg, struct mc_err *e)
{
	if (row->not_after <= now_s())
		return 0;
	return collect_serial(row, arg, e);
}

static void
revoke_serial(struct daemon_controller *c, const char *serial, int reason,
    const char *why)
{
	struct mc_err e;
	struct mc_log_field f[] = { { "serial", serial },
		{ "reason", ca_crl_reason_name(reason) }, { "cause", why } };

	if (ca_revoke(c->db, serial, reason, now_s(), c->actor, &e) == -1) {
		if (e.status != MC_ST_REJECTED)
			mc_log_warnx("revoke %s: %s", serial, e.msg);
		return;
	}
	daemon_metric_inc(c->m->revoked, ca_crl_reason_name(reason));
	mc_log_fields(MC_LOG_INFO, f, 3, "certificate revoked");
	c->crl_dirty = true;
}

/* The live leaves of spiffe_id the ledger knows, into s (mc_free s->v):
 * active and superseded, unexpired (a superseded leaf still awaits its
 * own revocation). */
static int
live_serials(struct daemon_controller *c, const char *spiffe_id,
    struct serials *s)
{
	struct mc_err e;
	struct store_cert_filter f;

	memset(&f, 0, sizeof(f));
	f.status = STORE_CERT_SUPERSEDED;
	f.spiffe_id = spiffe_id;
	if (store_cert_live(c->db, spiffe_id, now_s(), collect_serial, s,
	    &e) == -1 ||
	    store_cert_query(c->db, &f, collect_unexpired, s, &e) == -1) {
		mc_log_warnx("ledger: live certificates of %s: %s", spiffe_id,
		    e.msg);
		return -1;
	}
	return 0;
}

/* Revokes every live leaf of spiffe_id the ledger knows. */
static void
revoke_id(struct daemon_controller *c, const char *spiffe_id, int reason,
    const char *why)
{
	struct serials s = { 0 };
	size_t i;

	(void)live_serials(c, spiffe_id, &s);
	for (i = 0; i < s.n; i++)
		revoke_serial(c, s.v[i], reason, why);
	mc_free(s.v);
}

/* ---- superseded leaves awaiting revocation ------------------------- */

static void
item_pend_add(struct daemon_controller *c, struct item *it,
    const struct daemon_pending *p)
{
	void *nv;
	size_t i;

	for (i = 0; i < it->npend; i++)
		if (strcmp(it->pend[i].serial, p->serial) == 0) {
			if (p->due < it->pend[i].due)
				it->pend[i].due = p->due;
			if (it->pend[i].kid_len == 0 && p->kid_len > 0) {
				memcpy(it->pend[i].kid, p->kid, p->kid_len);
				it->pend[i].kid_len = p->kid_len;
			}
			goto due;
		}
	if ((nv = mc_realloc(it->pend, (it->npend + 1) *
	    sizeof(*it->pend))) == NULL) {
		mc_log_warnx("%s: out of memory for a pending revocation",
		    it->key);
		return;
	}
	it->pend = nv;
	it->pend[it->npend++] = *p;
due:
	if (p->due < c->next_pend)
		c->next_pend = p->due;
}

/* Records the pending leaf p, unknown to the ledger, as a leaf of
 * spiffe_id (seen in the cluster by serial only, with its issuer's key
 * identifier when the annotation gives it), so that it can be revoked. */
static int
ledger_placeholder(struct daemon_controller *c,
    const struct daemon_pending *p, const char *spiffe_id, const char *ns,
    const char *sa)
{
	struct store_cert row;
	struct mc_err e;
	int64_t now = now_s();

	memset(&row, 0, sizeof(row));
	row.serial = (char *)p->serial;
	row.spiffe_id = (char *)spiffe_id;
	row.namespace_ = (char *)ns;
	row.service_account = (char *)sa;
	row.not_before = now < p->not_after ? now : p->not_after;
	row.not_after = p->not_after;
	row.issued_at = row.not_before;
	row.authority_id = auth_of_kid(c, p->kid, p->kid_len);
	row.cert_pem = "";
	if (store_cert_insert(c->db, &row, &e) == -1) {
		mc_log_warnx("ledger: record %s (named in the cluster): %s",
		    p->serial, e.msg);
		return -1;
	}
	return 0;
}

/*
 * Revokes the pending leaf p of account it: a leaf the ledger records
 * for another SPIFFE ID is refused (the annotation is in a Secret anyone
 * with write access to its namespace may edit); one it does not know is
 * recorded first, from what the annotation says.
 */
static void
revoke_pending(struct daemon_controller *c, struct item *it,
    const struct daemon_pending *p, int reason, const char *why)
{
	struct store_cert row;
	struct mc_err e;
	char id[600];
	bool found = false;

	if (p->not_after <= now_s())
		return; /* expired: RFC 5280 5.1.2.6 needs no CRL entry */
	snprintf(id, sizeof(id), "spiffe://%s/ns/%s/sa/%s", c->td, it->ns,
	    it->name);
	memset(&row, 0, sizeof(row));
	if (store_cert_get(c->db, p->serial, &row, &found, &e) == -1) {
		mc_log_warnx("ledger: %s: %s", p->serial, e.msg);
		return;
	}
	if (found) {
		if (row.spiffe_id != NULL && row.spiffe_id[0] != '\0' &&
		    strcmp(row.spiffe_id, id) != 0)
			mc_log_warnx("secret %s/%s%s names %s as superseded, "
			    "but the ledger records it for %s: not revoked",
			    it->ns, DAEMON_SECRET_PREFIX, it->name, p->serial,
			    row.spiffe_id);
		else if (row.status != STORE_CERT_REVOKED)
			revoke_serial(c, p->serial, reason, why);
		store_cert_clear(&row);
		return;
	}
	if (ledger_placeholder(c, p, id, it->ns, it->name) == 0)
		revoke_serial(c, p->serial, reason, why);
}

/* The pending revocations the Secret sec of it names (annotation
 * DAEMON_ANNOT_SUPERSEDED) join it's own, unless already revoked. */
static void
pend_from_secret(struct daemon_controller *c, struct item *it,
    const json_t *sec)
{
	struct daemon_pending v[DAEMON_PENDING_MAX];
	struct store_cert row;
	struct mc_err e;
	const json_t *ann;
	const char *cur;
	size_t n, i;
	bool found;
	int64_t now = now_s();

	if (sec == NULL)
		return;
	ann = json_object_get(json_object_get(sec, "metadata"),
	    "annotations");
	cur = json_string_value(json_object_get(ann, DAEMON_ANNOT_SERIAL));
	n = daemon_pending_parse(json_string_value(json_object_get(ann,
	    DAEMON_ANNOT_SUPERSEDED)), v, DAEMON_PENDING_MAX);
	for (i = 0; i < n; i++) {
		/* never the leaf in place */
		if (v[i].not_after <= now ||
		    (cur != NULL && strcmp(v[i].serial, cur) == 0))
			continue;
		found = false;
		memset(&row, 0, sizeof(row));
		if (store_cert_get(c->db, v[i].serial, &row, &found, &e) == 0 &&
		    found) {
			bool done = row.status == STORE_CERT_REVOKED;

			store_cert_clear(&row);
			if (done)
				continue;
		}
		item_pend_add(c, it, &v[i]);
	}
}

struct pendlist {
	struct daemon_pending v[DAEMON_PENDING_MAX];
	size_t n;
	int64_t due;
	const char *skip;
	const struct daemon_controller *c;
};

/* Adds a leaf to l, with its issuer's key identifier (kid_len 0: not
 * known). */
static void
pendlist_add(struct pendlist *l, const char *serial, int64_t not_after,
    int64_t due, const unsigned char *kid, size_t kid_len)
{
	size_t i;

	if (serial == NULL || serial[0] == '\0' ||
	    (l->skip != NULL && strcmp(serial, l->skip) == 0))
		return;
	for (i = 0; i < l->n; i++)
		if (strcmp(l->v[i].serial, serial) == 0)
			return;
	if (l->n == DAEMON_PENDING_MAX)
		return; /* the rest stay pending in memory and the ledger */
	snprintf(l->v[l->n].serial, sizeof(l->v[l->n].serial), "%s", serial);
	l->v[l->n].not_after = not_after;
	l->v[l->n].due = due;
	l->v[l->n].kid_len = kid_len <= DAEMON_KID_MAX ? kid_len : 0;
	if (l->v[l->n].kid_len > 0)
		memcpy(l->v[l->n].kid, kid, kid_len);
	l->n++;
}

/* Adds a leaf the ledger records as issued by authority aid. */
static void
pendlist_add_row(struct pendlist *l, const char *serial, int64_t not_after,
    int64_t aid)
{
	const struct auth_kid *k = auth_kid_of(l->c, aid);

	pendlist_add(l, serial, not_after, l->due, k != NULL ? k->kid : NULL,
	    k != NULL ? k->len : 0);
}

static int
collect_pending(const struct store_cert *row, void *arg, struct mc_err *e)
{
	(void)e;
	pendlist_add_row(arg, row->serial, row->not_after, row->authority_id);
	return 0;
}

/*
 * What the Secret about to replace sec names as superseded: the leaves
 * still pending, the leaf in place (when it verified as this account's,
 * or the one its serial annotation names, unless the ledger records
 * that for another account) and every other live leaf of the account in
 * the ledger. NULL when the propagation window is 0 (no superseded
 * revocations) or nothing is pending.
 */
static char *
pending_for_write(struct daemon_controller *c, struct item *it,
    const json_t *sec, enum daemon_check chk,
    const struct daemon_secret_info *info, const char *id,
    const char *new_serial, int64_t now)
{
	struct pendlist l;
	struct store_cert row;
	struct mc_err e;
	char buf[DAEMON_PENDING_TEXT_MAX], ser[CA_SERIAL_HEX];
	const char *a;
	bool found = false;
	size_t i;

	if (c->cfg->propagation_window == 0)
		return NULL;
	memset(&l, 0, sizeof(l));
	l.skip = new_serial;
	l.c = c;
	l.due = now + (int64_t)(c->cfg->propagation_window / 1000);
	for (i = 0; i < it->npend; i++)
		pendlist_add(&l, it->pend[i].serial, it->pend[i].not_after,
		    it->pend[i].due, it->pend[i].kid, it->pend[i].kid_len);
	if (chk == DAEMON_CHECK_OK || chk == DAEMON_CHECK_ROOT ||
	    chk == DAEMON_CHECK_OWNER)
		pendlist_add(&l, info->serial, info->not_after, l.due,
		    info->akid, info->akid_len);
	else if (sec != NULL && (a = json_string_value(json_object_get(
	    json_object_get(json_object_get(sec, "metadata"), "annotations"),
	    DAEMON_ANNOT_SERIAL))) != NULL &&
	    daemon_serial_norm(a, ser, sizeof(ser)) == 0) {
		memset(&row, 0, sizeof(row));
		if (store_cert_get(c->db, ser, &row, &found, &e) == 0 &&
		    found) {
			if (row.spiffe_id != NULL &&
			    strcmp(row.spiffe_id, id) == 0)
				pendlist_add_row(&l, ser, row.not_after,
				    row.authority_id);
			store_cert_clear(&row);
		} else if (!found)
			pendlist_add(&l, ser, now + (int64_t)(
			    c->cfg->max_cert_ttl / 1000) +
			    CA_CLOCK_SKEW_DEFAULT, l.due, NULL, 0);
	}
	if (store_cert_live(c->db, id, now, collect_pending, &l, &e) == -1)
		mc_log_warnx("ledger: live certificates of %s: %s", id,
		    e.msg);
	if (l.n == 0 || daemon_pending_format(l.v, l.n, buf,
	    sizeof(buf)) == -1)
		return NULL;
	return mc_strdup(buf);
}

/*
 * After a new leaf is in place: the account's other active leaves are
 * superseded, and revoked once the propagation window has passed
 * (0 disables that), so a leaked old key stops being accepted by
 * verifiers that check the CRL. The annotation written with the leaf
 * (it->sup) holds the same list for whichever replica leads next.
 */
static void
supersede(struct daemon_controller *c, struct item *it, const char *spiffe_id,
    const char *keep)
{
	struct pendlist l;
	struct daemon_pending v[DAEMON_PENDING_MAX];
	struct mc_err e;
	size_t i, n;

	memset(&l, 0, sizeof(l));
	l.skip = keep;
	l.c = c;
	l.due = now_s() + (int64_t)(c->cfg->propagation_window / 1000);
	if (store_cert_live(c->db, spiffe_id, now_s(), collect_pending, &l,
	    &e) == -1 ||
	    store_cert_supersede(c->db, spiffe_id, keep, &n, &e) == -1) {
		mc_log_warnx("ledger: supersede %s: %s", spiffe_id, e.msg);
		return;
	}
	if (c->cfg->propagation_window == 0)
		return;
	for (i = 0; i < l.n; i++)
		item_pend_add(c, it, &l.v[i]);
	n = daemon_pending_parse(it->sup, v, DAEMON_PENDING_MAX);
	for (i = 0; i < n; i++)
		if (strcmp(v[i].serial, keep) != 0)
			item_pend_add(c, it, &v[i]);
}

/* Revokes the pending leaves of it that are due at now (all of them when
 * now is INT64_MAX: the account is gone). */
static void
pend_run_item(struct daemon_controller *c, struct item *it, int64_t now,
    int reason, const char *why)
{
	size_t i, j;

	for (i = j = 0; i < it->npend; i++) {
		if (it->pend[i].due <= now) {
			revoke_pending(c, it, &it->pend[i], reason, why);
			continue;
		}
		if (it->pend[i].due < c->next_pend)
			c->next_pend = it->pend[i].due;
		it->pend[j++] = it->pend[i];
	}
	it->npend = j;
	if (j == 0) {
		mc_free(it->pend);
		it->pend = NULL;
	}
}

/* Every due superseded revocation, in one ledger transaction. */
static void
pend_run(struct daemon_controller *c, int64_t now)
{
	struct mc_err e;
	struct item *it;
	size_t i;
	bool tx;

	tx = store_begin(c->db, &e) == 0;
	c->next_pend = INT64_MAX;
	for (i = 0; i < c->tabsz; i++)
		for (it = c->tab[i]; it != NULL; it = it->hnext)
			if (it->npend > 0)
				pend_run_item(c, it, now, CTL_REASON_SUPERSEDED,
				    "superseded");
	if (tx && store_commit(c->db, &e) == -1) {
		daemon_metric_inc(c->m->ledger_errors, NULL);
		mc_log_warnx("ledger: superseded revocations: %s; retrying",
		    e.msg);
		c->next_pend = now + 1;
		/* the entries left the items: take them again from the
		 * Secrets (their annotations) on the next resync */
		full_resync(c);
	}
}

/* ---- CA material ----------------------------------------------------- */

static int
pem_of(X509 *x, char **out, struct mc_err *e)
{
	struct mc_buf b;

	mc_buf_init(&b, CTL_PEM_MAX);
	if (ca_cert_pem(x, &b, e) == -1) {
		mc_buf_free(&b);
		return -1;
	}
	*out = mc_buf_steal(&b, NULL);
	return 0;
}

static int
x509_order(const X509 *const *a, const X509 *const *b)
{
	return X509_cmp(*a, *b);
}

/*
 * The bundle's PEM: the roots of the ledger's authorities (not retired)
 * and the extra roots of the CA material, each once, the signing
 * authority's root first and the others in a fixed order (by their DER),
 * so that every replica publishes the same text whatever order its
 * ledger learnt them in (a different text would re-issue every Secret
 * when another replica takes over).
 */
static int
bundle_pem(struct daemon_controller *c, struct mc_buf *pem, struct mc_err *e)
{
	STACK_OF(X509) *sk = NULL;
	struct mc_buf all;
	X509 *x, *prev = NULL;
	int i, rc = -1;

	mc_buf_init(&all, 2 * CTL_PEM_MAX);
	if (ca_bundle_pem(c->db, c->td, &all, e) == -1 ||
	    (c->extra_roots != NULL &&
	    mc_buf_puts(&all, c->extra_roots, e) == -1) ||
	    ca_certs_from_pem(all.data, all.len, "trust bundle", &sk,
	    e) == -1 || ca_cert_pem(c->auth->root, pem, e) == -1)
		goto out;
	(void)sk_X509_set_cmp_func(sk, x509_order);
	sk_X509_sort(sk);
	for (i = 0; i < sk_X509_num(sk); i++) {
		x = sk_X509_value(sk, i);
		if ((prev == NULL || X509_cmp(prev, x) != 0) &&
		    X509_cmp(x, c->auth->root) != 0 &&
		    ca_cert_pem(x, pem, e) == -1)
			goto out;
		prev = x;
	}
	rc = 0;
out:
	sk_X509_pop_free(sk, X509_free);
	mc_buf_free(&all);
	return rc;
}

/* Builds bundle PEM, SPIFFE JSON and the verifier from the ledger and
 * the extra roots of the CA material. */
static int
bundle_refresh(struct daemon_controller *c, struct mc_err *e)
{
	struct meshca_bundle *b = NULL;
	struct meshca_verifier *v = NULL;
	struct meshca_error me;
	struct mc_buf pem, chain;
	char *json = NULL;
	size_t jlen;
	int rc = -1;

	mc_buf_init(&pem, CTL_PEM_MAX);
	mc_buf_init(&chain, CTL_PEM_MAX);
	if (bundle_pem(c, &pem, e) == -1 ||
	    ca_authority_chain_pem(c->auth, &chain, e) == -1)
		goto out;
	if (meshca_bundle_parse(pem.data, pem.len, c->td, &b, &me) !=
	    MESHCA_OK ||
	    meshca_bundle_write_spiffe_json(b, c->td, (uint64_t)c->auth->id,
	    300, &json, &jlen, &me) != MESHCA_OK ||
	    meshca_verifier_new(&v, &me) != MESHCA_OK ||
	    meshca_verifier_set_bundle(v, b, &me) != MESHCA_OK ||
	    meshca_verifier_set_trust_domain(v, c->td, &me) != MESHCA_OK) {
		mc_err_set(e, MC_ST_INTERNAL, 0, "trust bundle: %s",
		    me.message);
		goto out;
	}
	meshca_verifier_free(c->verifier);
	c->verifier = v;
	v = NULL;
	mc_free(c->root_pem);
	c->root_pem = mc_buf_steal(&pem, NULL);
	mc_free(c->chain_pem);
	c->chain_pem = mc_buf_steal(&chain, NULL);
	mc_free(c->bundle_json);
	c->bundle_json = mc_strdup(json);
	c->bundle_gen++;
	if (c->root_pem == NULL || c->chain_pem == NULL ||
	    c->bundle_json == NULL) {
		mc_err_set(e, MC_ST_NOMEM, 0, "trust bundle: out of memory");
		goto out;
	}
	rc = 0;
out:
	meshca_free(json);
	meshca_verifier_free(v);
	meshca_bundle_free(b);
	mc_buf_free(&pem);
	mc_buf_free(&chain);
	return rc;
}

/*
 * CA material as read, laid out as Istio's cacerts (ca-cert.pem,
 * ca-key.pem, cert-chain.pem, root-cert.pem): Secret meshca-ca, which an
 * operator may create from those files, or the directory --ca-dir.
 * root-cert.pem may hold more roots after the first: they stay in the
 * trust bundle (a rotation keeps the old root there until its leaves are
 * gone). The digest tells a change apart from a re-read.
 */
struct ca_material {
	char where[320];
	char *f[CA_ISTIO_FILES]; /* ca_istio_files[] */
	size_t len[CA_ISTIO_FILES];
	unsigned char digest[SHA256_DIGEST_LENGTH];
};

static void
material_free(struct ca_material *m)
{
	size_t i;

	for (i = 0; i < CA_ISTIO_FILES; i++) {
		if (i == CA_ISTIO_KEY && m->f[i] != NULL)
			mc_free_secret(m->f[i], m->len[i]);
		else
			mc_free(m->f[i]);
		m->f[i] = NULL;
	}
}

static int
material_digest(struct ca_material *m, struct mc_err *e)
{
	EVP_MD_CTX *ctx;
	uint64_t n;
	size_t i;
	int ok;

	if ((ctx = EVP_MD_CTX_new()) == NULL) {
		mc_err_set(e, MC_ST_NOMEM, 0, "CA material: out of memory");
		return -1;
	}
	ok = EVP_DigestInit_ex(ctx, EVP_sha256(), NULL);
	for (i = 0; i < CA_ISTIO_FILES && ok; i++) {
		n = m->f[i] != NULL ? (uint64_t)m->len[i] : UINT64_MAX;
		ok = EVP_DigestUpdate(ctx, &n, sizeof(n)) &&
		     (m->f[i] == NULL ||
			 EVP_DigestUpdate(ctx, m->f[i], m->len[i]));
	}
	ok = ok && EVP_DigestFinal_ex(ctx, m->digest, NULL);
	EVP_MD_CTX_free(ctx);
	if (!ok) {
		ERR_clear_error();
		mc_err_set(e, MC_ST_INTERNAL, 0, "CA material: SHA-256 failed");
		return -1;
	}
	return 0;
}

static int
material_from_secret(struct daemon_controller *c, const json_t *sec,
    struct ca_material *m, struct mc_err *e)
{
	const char *v;
	size_t i;

	memset(m, 0, sizeof(*m));
	snprintf(m->where, sizeof(m->where), "secret %s/%s", c->ca_ns,
	    DAEMON_CA_SECRET);
	for (i = 0; i < CA_ISTIO_FILES; i++) {
		v = json_string_value(json_object_get(json_object_get(sec,
		    "data"), ca_istio_files[i]));
		if (v != NULL && (m->f[i] = k8s_base64_decode(v, strlen(v),
		    &m->len[i], NULL)) == NULL) {
			mc_err_set(e, MC_ST_PARSE, 0, "%s: %s: not base64",
			    m->where, ca_istio_files[i]);
			material_free(m);
			return -1;
		}
	}
	return material_digest(m, e);
}

/* The files in --ca-dir (ca_istio_read: ca-key.pem 0600 or 0400, a
 * Secret volume needs defaultMode: 0400; cert-chain.pem may be
 * missing). */
static int
material_from_dir(struct daemon_controller *c, struct ca_material *m,
    struct mc_err *e)
{
	struct mc_buf b[CA_ISTIO_FILES];
	size_t i;

	memset(m, 0, sizeof(*m));
	snprintf(m->where, sizeof(m->where), "%s", c->cfg->ca_dir);
	if (ca_istio_read(c->cfg->ca_dir, b, e) == -1)
		return -1;
	for (i = 0; i < CA_ISTIO_FILES; i++) {
		if (b[i].len > 0)
			m->f[i] = mc_buf_steal(&b[i], &m->len[i]);
		mc_buf_free(&b[i]); /* what is left of an empty one */
	}
	return material_digest(m, e);
}

/* The roots of root-cert.pem after the first, as PEM (mc_free). */
static char *
extra_roots(struct daemon_controller *c, const struct ca_material *m,
    X509 *root, struct mc_err *e)
{
	STACK_OF(X509) *sk = NULL;
	struct mc_buf b;
	X509 *x;
	int i;

	mc_buf_init(&b, CTL_PEM_MAX);
	if (mc_buf_puts(&b, "", e) == -1 ||
	    ca_certs_from_pem(m->f[CA_ISTIO_ROOT], m->len[CA_ISTIO_ROOT],
	    "root-cert.pem", &sk, e) == -1)
		goto fail;
	for (i = 0; i < sk_X509_num(sk); i++) {
		x = sk_X509_value(sk, i);
		if (X509_cmp(x, root) != 0 && ca_cert_pem(x, &b, e) == -1)
			goto fail;
	}
	/* each must do as a trust anchor, or the bundle would fail after
	 * the switch (checked before it: the CA in use keeps signing) */
	if (b.len > 0) {
		struct meshca_bundle *mb = NULL;
		struct meshca_error me;

		if (meshca_bundle_parse(b.data, b.len, c->td, &mb, &me) !=
		    MESHCA_OK) {
			mc_err_set(e, MC_ST_REJECTED, 0, "%s: root-cert.pem: a "
			    "root after the first: %s", m->where, me.message);
			goto fail;
		}
		meshca_bundle_free(mb);
	}
	sk_X509_pop_free(sk, X509_free);
	return mc_buf_steal(&b, NULL);
fail:
	sk_X509_pop_free(sk, X509_free);
	mc_buf_free(&b);
	return NULL;
}

static int
authority_from_material(struct daemon_controller *c,
    const struct ca_material *m, struct ca_authority **out, struct mc_err *e)
{
	struct ca_istio_pem in;
	size_t i;

	memset(&in, 0, sizeof(in));
	in.where = m->where;
	for (i = 0; i < CA_ISTIO_FILES; i++) {
		in.f[i] = m->f[i];
		in.len[i] = m->len[i];
	}
	return ca_authority_from_istio_pem(&in, c->td, now_s(), out, e);
}

/*
 * Makes the authority our own ledger's active one: the same certificate
 * already recorded is reused; otherwise the one active before retires
 * (it stays in the bundle) and this one is saved, key sealed under the
 * KEK.
 */
static int
authority_adopt(struct daemon_controller *c, struct ca_authority *a,
    struct mc_err *e)
{
	struct store_authority *rows = NULL;
	char *pem = NULL;
	size_t n = 0, i;
	int rc = -1;

	if (pem_of(a->cert, &pem, e) == -1 ||
	    store_authority_list(c->db, c->td, &rows, &n, e) == -1)
		goto out;
	for (i = 0; i < n; i++)
		if (strcmp(rows[i].cert_pem, pem) == 0 &&
		    rows[i].state != STORE_AUTH_RETIRED) {
			a->id = rows[i].id;
			if (rows[i].state != STORE_AUTH_ACTIVE)
				break;
			rc = 0;
			goto out;
		}
	for (i = 0; i < n; i++)
		if (rows[i].state == STORE_AUTH_ACTIVE &&
		    rows[i].id != a->id &&
		    store_authority_set_state(c->db, rows[i].id,
		    STORE_AUTH_RETIRING, e) == -1)
			goto out;
	if (a->id != 0) {
		if (store_authority_set_state(c->db, a->id, STORE_AUTH_ACTIVE,
		    e) == -1)
			goto out;
	} else if (ca_authority_save(c->db, &c->kek, a, STORE_AUTH_ACTIVE,
	    now_s(), "authority-load", c->actor, e) == -1)
		goto out;
	rc = 0;
out:
	store_authority_list_free(rows, n);
	mc_free(pem);
	return rc;
}

static void ca_fetch(void *arg);

static void
ca_retry(struct daemon_controller *c, const char *what, const char *msg)
{
	uint64_t ms = k8s_backoff_next(&c->ca_bo);

	mc_log_warnx("CA material: %s: %s (retrying in %llu ms)", what, msg,
	    (unsigned long long)ms);
	c->ca_state = CA_WAIT;
	k8s_timer_arm(c->cl, &c->ca_timer, ms, ca_fetch, c);
}

static void ca_poll(void *arg);
static void ca_poll_arm(struct daemon_controller *c);
static void retiring_adopt(struct daemon_controller *c);
static void ca_install(struct daemon_controller *c, struct ca_material *m);

static void
ca_install_if_changed(struct daemon_controller *c, struct ca_material *m)
{
	/* the same material: nothing to do, unless its install did not
	 * finish (a bundle that failed leaves us waiting, not ready) */
	if (c->auth != NULL && c->ca_state == CA_READY &&
	    memcmp(c->ca_digest, m->digest, sizeof(c->ca_digest)) == 0) {
		ca_poll_arm(c);
		return;
	}
	ca_install(c, m);
}

/* The material could not be read: retried from the start, or, while an
 * authority signs, said and read again at the next refresh. */
static void
ca_unreadable(struct daemon_controller *c, const char *what,
    const char *msg)
{
	if (c->auth == NULL) {
		ca_retry(c, what, msg);
		return;
	}
	mc_log_warnx("CA material: %s; still signing with the one loaded",
	    msg);
	ca_poll_arm(c);
}

static void
ca_install_secret(struct daemon_controller *c, const json_t *sec)
{
	struct ca_material m;
	struct mc_err e;

	if (material_from_secret(c, sec, &m, &e) == -1) {
		ca_unreadable(c, "load", e.msg);
		return;
	}
	ca_install_if_changed(c, &m);
	material_free(&m);
}

static void
ca_poll_arm(struct daemon_controller *c)
{
	k8s_timer_arm(c->cl, &c->ca_timer, c->cfg->ca_refresh, ca_poll, c);
}

/*
 * Signs with the authority in m from now on. A first install on start;
 * later, when meshca-ca or --ca-dir changed (a rotation, a renewed
 * intermediate): the authority signing before retires but stays in the
 * bundle, and every Secret is judged again, so that each is re-issued at
 * once under the new root (cause=root).
 */
static void
ca_install(struct daemon_controller *c, struct ca_material *m)
{
	struct ca_authority *a = NULL;
	struct ca_signer *s = NULL;
	struct ca_issuer *is = NULL;
	struct ca_issue_limits lim;
	struct mc_err e;
	char exp[32], *extra = NULL;
	struct tm tm;
	time_t t;
	bool change = c->auth != NULL;

	if (authority_from_material(c, m, &a, &e) == -1 ||
	    (extra = extra_roots(c, m, a->root, &e)) == NULL ||
	    authority_adopt(c, a, &e) == -1 ||
	    (s = ca_authority_signer(a, &e)) == NULL) {
		ca_authority_free(a);
		mc_free(extra);
		if (change) {
			/* keep signing with what works; say it each time */
			mc_log_warnx("CA material changed but cannot be "
			    "used; still signing with the one loaded: %s",
			    e.msg);
			memcpy(c->ca_digest, m->digest, sizeof(c->ca_digest));
			ca_poll_arm(c);
			return;
		}
		ca_retry(c, "load", e.msg);
		return;
	}
	ca_issue_limits_default(&lim);
	lim.default_ttl = (int64_t)(c->cfg->cert_ttl / 1000);
	lim.max_ttl = (int64_t)(c->cfg->max_cert_ttl / 1000);
	/* The backdate counts in the lifetime the grace ratio applies to:
	 * keep it a small part of a short TTL, or a one-minute leaf would
	 * be due for renewal at birth. */
	if (lim.backdate > lim.default_ttl / 10)
		lim.backdate = lim.default_ttl / 10;
	if ((is = ca_issuer_new(s, a->id, &lim, &e)) == NULL) {
		ca_signer_free(s);
		ca_authority_free(a);
		mc_free(extra);
		ca_retry(c, "issuer", e.msg);
		return;
	}
	ca_issuer_free(c->issuer);
	ca_signer_free(c->signer);
	ca_authority_free(c->auth);
	mc_free(c->extra_roots);
	c->auth = a;
	auth_kids_load(c);
	c->signer = s;
	c->issuer = is;
	c->extra_roots = extra;
	memcpy(c->ca_digest, m->digest, sizeof(c->ca_digest));
	if (bundle_refresh(c, &e) == -1) {
		ca_retry(c, "bundle", e.msg);
		return;
	}
	t = (time_t)a->not_after;
	gmtime_r(&t, &tm);
	strftime(exp, sizeof(exp), "%Y-%m-%dT%H:%M:%SZ", &tm);
	{
		struct mc_log_field f[] = { { "source", m->where },
			{ "root_not_after", exp } };

		mc_log_fields(MC_LOG_INFO, f, 2, change ? "CA material "
		    "changed: signing with the new authority; the one before "
		    "stays in the bundle while its leaves live, and every "
		    "Secret is re-issued" : "CA material loaded");
	}
	daemon_metric_set(c->m->root_expiry, NULL, (double)a->not_after);
	c->ca_state = CA_READY;
	c->crl_dirty = true;
	ca_poll_arm(c);
	retiring_adopt(c);
	if (change)
		full_resync(c);
}

static void
ca_got(const struct k8s_response *r, void *arg);

static void
ca_created(const struct k8s_response *r, void *arg)
{
	struct daemon_controller *c = arg;
	json_t *body;

	if (r->outcome == K8S_OK && (body = k8s_response_body(r)) != NULL) {
		mc_log_info("CA material: created root in secret %s/%s",
		    c->ca_ns, DAEMON_CA_SECRET);
		ca_install_secret(c, body);
		return;
	}
	if (r->outcome == K8S_E_ALREADY_EXISTS) {
		/* Another replica won the race: load its root, never keep
		 * ours (two roots would split the mesh). */
		mc_log_info("CA material: secret %s/%s appeared meanwhile; "
		    "loading it", c->ca_ns, DAEMON_CA_SECRET);
		ca_fetch(c);
		return;
	}
	ca_retry(c, "create secret", r->err.msg);
}

static void
ca_create(struct daemon_controller *c)
{
	struct ca_authority *a = NULL;
	struct mc_buf cert, key;
	struct mc_err e;
	json_t *sec = NULL;
	char *cb = NULL, *kb = NULL;

	mc_buf_init(&cert, CTL_PEM_MAX);
	mc_buf_init_secret(&key, CTL_PEM_MAX);
	if (ca_authority_create_root(c->td, CA_KEY_EC_P256, CTL_ROOT_LIFETIME,
	    now_s(), &a, &e) == -1 || ca_cert_pem(a->cert, &cert, &e) == -1 ||
	    ca_key_pkcs8_pem_openssl(a->key, &key, &e) == -1) {
		ca_retry(c, "make root", e.msg);
		goto out;
	}
	if ((cb = daemon_base64(cert.data, cert.len)) == NULL ||
	    (kb = daemon_base64(key.data, key.len)) == NULL ||
	    (sec = json_pack("{s:s, s:s, s:s, s:{s:s, s:s, s:{s:s}},"
	    " s:{s:s, s:s, s:s, s:s}}", "apiVersion", "v1", "kind", "Secret",
	    "type", "Opaque", "metadata", "name", DAEMON_CA_SECRET,
	    "namespace", c->ca_ns, "labels", DAEMON_LABEL_MANAGED_BY,
	    DAEMON_LABEL_MANAGED_BY_VALUE, "data", "ca-cert.pem", cb,
	    "ca-key.pem", kb, "cert-chain.pem", cb, "root-cert.pem", cb)) ==
	    NULL) {
		ca_retry(c, "make root", "out of memory");
		goto out;
	}
	if (k8s_create(c->cl, &k8s_res_secrets, c->ca_ns, sec, ca_created, c,
	    &e) == NULL)
		ca_retry(c, "create secret", e.msg);
out:
	json_decref(sec);
	mc_free(cb);
	if (kb != NULL)
		mc_free_secret(kb, strlen(kb));
	mc_buf_free(&cert);
	mc_buf_free(&key);
	ca_authority_free(a);
}

static void
ca_got(const struct k8s_response *r, void *arg)
{
	struct daemon_controller *c = arg;
	json_t *body;

	if (r->outcome == K8S_OK && (body = k8s_response_body(r)) != NULL) {
		ca_install_secret(c, body);
		return;
	}
	if (r->outcome == K8S_E_NOT_FOUND && c->auth == NULL) {
		ca_create(c);
		return;
	}
	if (c->auth != NULL) {
		/* a poll: keep signing with what we have */
		mc_log_warnx("CA material: get secret %s/%s: %s", c->ca_ns,
		    DAEMON_CA_SECRET, r->err.msg);
		ca_poll_arm(c);
		return;
	}
	ca_retry(c, "get secret", r->err.msg);
}

static void
ca_fetch(void *arg)
{
	struct daemon_controller *c = arg;
	struct ca_material m;
	struct mc_err e;

	if (c->cfg->ca_dir != NULL) {
		if (material_from_dir(c, &m, &e) == -1) {
			ca_unreadable(c, "read", e.msg);
			return;
		}
		ca_install_if_changed(c, &m);
		material_free(&m);
		return;
	}
	if (c->auth == NULL)
		c->ca_state = CA_FETCH;
	if (k8s_get(c->cl, &k8s_res_secrets, c->ca_ns, DAEMON_CA_SECRET,
	    ca_got, c, &e) == NULL) {
		if (c->auth == NULL)
			ca_retry(c, "get secret", e.msg);
		else
			ca_poll_arm(c);
	}
}

static void
ca_poll(void *arg)
{
	ca_fetch(arg);
}

/* True when the leaf daemon_secret_check described in info was issued
 * by the authority signing now (after a rotation, the others are
 * re-issued at once): its authority key identifier is the one that
 * authority's leaves carry. */
static bool
signed_by_current(struct daemon_controller *c,
    const struct daemon_secret_info *info)
{
	const struct auth_kid *k = auth_kid_of(c, c->auth->id);

	if (k == NULL)
		return true; /* cannot tell: renewal will replace it */
	return info->akid_len == k->len &&
	    memcmp(k->kid, info->akid, k->len) == 0;
}

/* ---- CRL ------------------------------------------------------------- */

/*
 * RFC 5280 5.2.3: "CRL issuers conforming to this profile MUST include
 * this extension in all CRLs and MUST ... [use] monotonically increasing
 * sequence numbers". A new leader's ledger counts from its own last CRL,
 * so it takes numbers (in one transaction) until it has passed the one
 * published; gaps are allowed. store/ has no "at least" setter.
 */
static void
crl_number_continue(struct daemon_controller *c, int64_t aid, long published)
{
	struct mc_err e;
	int64_t n = 0;
	long i;

	if (published <= 0 || published > (1L << 40) ||
	    store_begin(c->db, &e) == -1)
		return;
	for (i = 0; n < published && i < 1000 * 1000; i++)
		if (store_crl_next_number(c->db, aid, now_s(), &n, &e) ==
		    -1) {
			store_rollback(c->db);
			mc_log_warnx("CRL number: %s", e.msg);
			return;
		}
	if (store_commit(c->db, &e) == -1)
		mc_log_warnx("CRL number: %s", e.msg);
	else if (i > 1)
		mc_log_info("CRL: numbers continue after %ld, the published "
		    "one", published);
}

/* The ledger id of the authority (ours, not retired) that signed crl;
 * 0 when none did. */
static int64_t
crl_signer_id(struct daemon_controller *c, X509_CRL *crl)
{
	struct store_authority *rows = NULL;
	STACK_OF(X509) *sk = NULL;
	struct mc_err e;
	size_t n = 0, i;
	int64_t id = 0;
	X509 *x;

	if (X509_CRL_verify(crl, X509_get0_pubkey(c->auth->cert)) == 1)
		return c->auth->id;
	ERR_clear_error();
	if (store_authority_list(c->db, c->td, &rows, &n, &e) == -1)
		return 0;
	for (i = 0; i < n && id == 0; i++) {
		if (rows[i].state == STORE_AUTH_RETIRED ||
		    ca_certs_from_pem(rows[i].cert_pem,
		    strlen(rows[i].cert_pem), "authority", &sk, &e) == -1)
			continue;
		x = sk_X509_value(sk, 0);
		if (X509_CRL_verify(crl, X509_get0_pubkey(x)) == 1)
			id = rows[i].id;
		sk_X509_pop_free(sk, X509_free);
		sk = NULL;
	}
	ERR_clear_error();
	store_authority_list_free(rows, n);
	return id;
}

/* Takes the entries of one CRL that authority aid signed. */
static int
crl_import_one(struct daemon_controller *c, X509_CRL *crl, int64_t aid)
{
	STACK_OF(X509_REVOKED) *revs;
	struct store_cert row;
	struct mc_err e;
	unsigned char bin[CA_SERIAL_LEN];
	char hex[CA_SERIAL_HEX];
	int i, n = 0, reason;
	int64_t at;
	bool found;
	BIGNUM *bn = NULL;
	ASN1_ENUMERATED *re;
	ASN1_INTEGER *num;

	revs = X509_CRL_get_REVOKED(crl);
	for (i = 0; i < sk_X509_REVOKED_num(revs); i++) {
		X509_REVOKED *rv = sk_X509_REVOKED_value(revs, i);

		BN_free(bn);
		if ((bn = ASN1_INTEGER_to_BN(
		    X509_REVOKED_get0_serialNumber(rv), NULL)) == NULL ||
		    BN_num_bytes(bn) > CA_SERIAL_LEN ||
		    BN_bn2binpad(bn, bin, CA_SERIAL_LEN) < 0)
			continue;
		ca_serial_hex(bin, hex);
		reason = 0;
		if ((re = X509_REVOKED_get_ext_d2i(rv, NID_crl_reason, NULL,
		    NULL)) != NULL) {
			reason = (int)ASN1_ENUMERATED_get(re);
			ASN1_ENUMERATED_free(re);
		}
		if (ca_time_from_asn1(X509_REVOKED_get0_revocationDate(rv),
		    &at) == -1)
			at = now_s();
		memset(&row, 0, sizeof(row));
		if (store_cert_get(c->db, hex, &row, &found, &e) == -1)
			continue;
		if (found) {
			if (row.status != STORE_CERT_REVOKED &&
			    store_cert_revoke(c->db, hex, reason, at, &e) == 0)
				n++;
			store_cert_clear(&row);
			continue;
		}
		/* Unknown here: its notAfter is at most max-cert-ttl after
		 * the revocation, which keeps the entry as long as needed. */
		row.serial = hex;
		row.spiffe_id = "";
		row.not_before = at;
		row.not_after = at + (int64_t)(c->cfg->max_cert_ttl / 1000) +
		    CA_CLOCK_SKEW_DEFAULT;
		row.issued_at = at;
		row.authority_id = aid;
		row.cert_pem = "";
		if (store_cert_insert(c->db, &row, &e) == 0 &&
		    store_cert_revoke(c->db, hex, reason, at, &e) == 0)
			n++;
	}
	BN_free(bn);
	if ((num = X509_CRL_get_ext_d2i(crl, NID_crl_number, NULL, NULL)) !=
	    NULL) {
		crl_number_continue(c, aid, ASN1_INTEGER_get(num));
		ASN1_INTEGER_free(num);
	}
	return n;
}

/*
 * A new leader's ledger may not have seen earlier revocations: it takes
 * them from the CRLs published in the CA namespace (one per authority
 * still in the bundle; each after checking which of ours signed it), so
 * the next CRLs it signs drop none of them.
 */
static void
crl_import(struct daemon_controller *c)
{
	json_t *cm;
	const char *pem;
	X509_CRL *crl;
	BIO *b = NULL;
	int n = 0;
	int64_t aid;

	if ((cm = k8s_informer_get(c->cm_inf, c->ca_ns, DAEMON_BUNDLE_CM)) ==
	    NULL)
		return;
	pem = json_string_value(json_object_get(json_object_get(cm, "data"),
	    "crl.pem"));
	if (pem == NULL || strlen(pem) > CTL_CRL_MAX ||
	    (b = BIO_new_mem_buf(pem, (int)strlen(pem))) == NULL)
		goto out;
	while ((crl = PEM_read_bio_X509_CRL(b, NULL, NULL, NULL)) != NULL) {
		if ((aid = crl_signer_id(c, crl)) != 0)
			n += crl_import_one(c, crl, aid);
		else
			mc_log_warnx("a CRL in %s/%s is not signed by an "
			    "authority of ours; not importing it", c->ca_ns,
			    DAEMON_BUNDLE_CM);
		X509_CRL_free(crl);
	}
	if (n > 0)
		mc_log_info("CRL: %d revocation%s imported from %s/%s", n,
		    n == 1 ? "" : "s", c->ca_ns, DAEMON_BUNDLE_CM);
out:
	ERR_clear_error();
	BIO_free(b);
	json_decref(cm);
}

static bool
ns_is_managed(struct daemon_controller *c, const char *ns)
{
	json_t *o;
	bool m;

	if ((o = k8s_informer_get(c->ns_inf, NULL, ns)) == NULL)
		return false;
	m = daemon_ns_managed(c->cfg, c->sel, o);
	json_decref(o);
	return m;
}

static int
enqueue_ns_cm(const json_t *obj, void *arg)
{
	enqueue_cm(arg, k8s_obj_name(obj));
	return 0;
}

/* ---- retiring authorities, kept in the cluster ----------------------- */

/*
 * After a rotation the authority that signed before keeps leaves in use
 * until they expire, and its CRL must go on being signed by whichever
 * replica leads. A replica that starts after the rotation never held its
 * key: so the leader keeps every retiring authority's material in Secret
 * meshca-ca-retiring of the CA namespace (Istio's cacerts files, each
 * name prefixed with the authority's key identifier in hex and a dot),
 * and every replica adopts as retiring what its ledger does not know:
 * before it first leads (term_start), and whenever the Secret changes.
 * An authority that retires leaves the Secret.
 */

/* 0 when k is an authority's ca-cert.pem: its prefix (the key
 * identifier) into prefix (len bytes; NULL: not wanted). */
static int
retiring_prefix(const char *k, char *prefix, size_t len)
{
	static const char suffix[] = ".ca-cert.pem";
	size_t kl = strlen(k), sl = sizeof(suffix) - 1;

	if (kl <= sl || strcmp(k + kl - sl, suffix) != 0)
		return -1;
	if (prefix != NULL) {
		if (kl - sl >= len)
			return -1;
		memcpy(prefix, k, kl - sl);
		prefix[kl - sl] = '\0';
	}
	return 0;
}

/* A write that failed (why) is tried again from the tick, after a
 * backoff. */
static void
retiring_retry_later(struct daemon_controller *c, const char *why)
{
	c->retiring_retry_ms = k8s_now_ms() +
	    k8s_backoff_next(&c->retiring_bo) + 1;
	mc_log_warnx("secret %s/%s: %s; trying again", c->ca_ns,
	    DAEMON_CA_RETIRING_SECRET, why);
}

static void
retiring_written(const struct k8s_response *r, void *arg)
{
	struct daemon_controller *c = arg;

	c->retiring_inflight = false;
	if (r->outcome == K8S_OK)
		k8s_backoff_reset(&c->retiring_bo);
	else
		retiring_retry_later(c, r->err.msg);
}

/* Writes c->retiring_want unless the Secret (as the watch has it) holds
 * it already: an update of what the watch has, or a create. */
static void
retiring_write(struct daemon_controller *c)
{
	json_t *cur, *obj = NULL, *v;
	const json_t *have;
	const char *k;
	struct mc_err e;
	size_t n;

	c->retiring_retry_ms = 0;
	if (!c->leader || c->retiring_want == NULL || c->retiring_inflight)
		return;
	cur = k8s_informer_get(c->sec_inf, c->ca_ns,
	    DAEMON_CA_RETIRING_SECRET);
	have = json_object_get(cur, "data");
	/* an empty data is left out by the API server */
	if ((have == NULL && json_object_size(c->retiring_want) == 0) ||
	    (have != NULL && json_equal(have, c->retiring_want)))
		goto out;
	if (cur != NULL) {
		if ((obj = json_deep_copy(cur)) == NULL ||
		    json_object_set(obj, "data", c->retiring_want) == -1)
			goto nomem;
		if (k8s_update(c->cl, &k8s_res_secrets, c->ca_ns, obj,
		    retiring_written, c, &e) == NULL)
			goto fail;
	} else {
		if ((obj = json_pack("{s:s, s:s, s:s, s:{s:s, s:s, s:{s:s}},"
		    " s:O}", "apiVersion", "v1", "kind", "Secret", "type",
		    "Opaque", "metadata", "name", DAEMON_CA_RETIRING_SECRET,
		    "namespace", c->ca_ns, "labels", DAEMON_LABEL_MANAGED_BY,
		    DAEMON_LABEL_MANAGED_BY_VALUE, "data", c->retiring_want)) ==
		    NULL)
			goto nomem;
		if (k8s_create(c->cl, &k8s_res_secrets, c->ca_ns, obj,
		    retiring_written, c, &e) == NULL)
			goto fail;
	}
	c->retiring_inflight = true;
	n = 0;
	json_object_foreach(c->retiring_want, k, v)
		n += retiring_prefix(k, NULL, 0) == 0;
	mc_log_info("secret %s/%s: writing the %zu retiring authorit%s "
	    "the replicas adopt", c->ca_ns, DAEMON_CA_RETIRING_SECRET, n,
	    n == 1 ? "y" : "ies");
	goto out;
nomem:
	mc_err_set(&e, MC_ST_NOMEM, 0, "out of memory");
fail:
	retiring_retry_later(c, e.msg);
out:
	json_decref(obj);
	json_decref(cur);
}

/* Adds authority a (row: its ledger record) to data, the Secret's. */
static int
retiring_add(json_t *data, const struct store_authority *row,
    const struct ca_authority *a, struct mc_err *e)
{
	unsigned char kid[EVP_MAX_MD_SIZE];
	unsigned int klen = 0, i;
	char hex[2 * EVP_MAX_MD_SIZE + 1], name[2 * EVP_MAX_MD_SIZE + 32];
	const char *pem[CA_ISTIO_FILES];
	size_t len[CA_ISTIO_FILES], f;
	struct mc_buf key;
	char *b64;
	int rc = -1;

	mc_buf_init_secret(&key, CTL_PEM_MAX);
	if (ca_issuer_key_id(a->cert, NULL, kid, &klen) == -1 || klen == 0) {
		ERR_clear_error();
		mc_err_set(e, MC_ST_INTERNAL, 0, "authority %lld: no key "
		    "identifier", (long long)row->id);
		goto out;
	}
	for (i = 0; i < klen; i++)
		snprintf(hex + 2 * i, 3, "%02x", kid[i]);
	if (ca_key_pkcs8_pem_openssl(a->key, &key, e) == -1)
		goto out;
	pem[CA_ISTIO_CERT] = row->cert_pem;
	pem[CA_ISTIO_KEY] = key.data;
	pem[CA_ISTIO_CHAIN] = row->chain_pem;
	pem[CA_ISTIO_ROOT] = row->root_pem;
	len[CA_ISTIO_KEY] = key.len;
	for (f = 0; f < CA_ISTIO_FILES; f++) {
		if (f != CA_ISTIO_KEY)
			len[f] = pem[f] != NULL ? strlen(pem[f]) : 0;
		if (len[f] == 0)
			continue; /* cert-chain.pem of a root */
		snprintf(name, sizeof(name), "%s.%s", hex, ca_istio_files[f]);
		if ((b64 = daemon_base64(pem[f], len[f])) == NULL ||
		    json_object_set_new(data, name, json_string(b64)) == -1) {
			if (b64 != NULL)
				mc_free_secret(b64, strlen(b64));
			mc_err_set(e, MC_ST_NOMEM, 0, "out of memory");
			goto out;
		}
		mc_free_secret(b64, strlen(b64));
	}
	rc = 0;
out:
	mc_buf_free(&key);
	return rc;
}

/* One authority of the Secret (its files named prefix + file): adopted
 * as retiring unless the ledger knows its certificate. 1 when adopted. */
static int
retiring_adopt_one(struct daemon_controller *c, const json_t *data,
    const char *prefix, const struct store_authority *rows, size_t nrows)
{
	struct ca_material m;
	struct ca_authority *a = NULL;
	struct mc_err e;
	char name[320], *pem = NULL;
	const char *v;
	size_t i;
	int rc = 0;

	memset(&m, 0, sizeof(m));
	snprintf(m.where, sizeof(m.where), "secret %s/%s (%s)", c->ca_ns,
	    DAEMON_CA_RETIRING_SECRET, prefix);
	for (i = 0; i < CA_ISTIO_FILES; i++) {
		snprintf(name, sizeof(name), "%s.%s", prefix,
		    ca_istio_files[i]);
		if ((v = json_string_value(json_object_get(data, name))) !=
		    NULL && (m.f[i] = k8s_base64_decode(v, strlen(v),
		    &m.len[i], NULL)) == NULL) {
			mc_err_set(&e, MC_ST_PARSE, 0, "%s: %s: not base64",
			    m.where, ca_istio_files[i]);
			goto bad;
		}
	}
	if (authority_from_material(c, &m, &a, &e) == -1 ||
	    pem_of(a->cert, &pem, &e) == -1)
		goto bad;
	for (i = 0; i < nrows; i++)
		if (strcmp(rows[i].cert_pem, pem) == 0)
			goto out; /* known: held, or retired here */
	if (ca_authority_save(c->db, &c->kek, a, STORE_AUTH_RETIRING, now_s(),
	    "authority-adopt", c->actor, &e) == -1)
		goto bad;
	mc_log_info("CA material: authority %s adopted from %s as "
	    "retiring: its CRL goes on being signed while its leaves live",
	    prefix, m.where);
	rc = 1;
	goto out;
bad:
	mc_log_warnx("CA material: a retiring authority not adopted: %s",
	    e.msg);
out:
	mc_free(pem);
	ca_authority_free(a);
	material_free(&m);
	return rc;
}

/* Adopts the authorities of Secret meshca-ca-retiring (as the watch has
 * it) that the ledger does not know. */
static void
retiring_adopt(struct daemon_controller *c)
{
	struct store_authority *rows = NULL;
	struct mc_err e;
	json_t *sec, *data, *v;
	const char *k;
	char prefix[256];
	size_t n = 0;
	int adopted = 0;

	if (c->auth == NULL || (sec = k8s_informer_get(c->sec_inf, c->ca_ns,
	    DAEMON_CA_RETIRING_SECRET)) == NULL)
		return;
	data = json_object_get(sec, "data");
	if (json_object_size(data) > 0 &&
	    store_authority_list(c->db, c->td, &rows, &n, &e) == -1) {
		mc_log_warnx("ledger: authorities: %s", e.msg);
		goto out;
	}
	json_object_foreach(data, k, v)
		if (retiring_prefix(k, prefix, sizeof(prefix)) == 0)
			adopted += retiring_adopt_one(c, data, prefix, rows,
			    n);
	if (adopted > 0) {
		auth_kids_load(c);
		if (bundle_refresh(c, &e) == -1)
			mc_log_warnx("bundle: %s", e.msg);
		c->crl_dirty = true;
	}
out:
	store_authority_list_free(rows, n);
	json_decref(sec);
}

/*
 * After a rotation, the authorities that signed before stay in the
 * bundle while leaves they signed live; a verifier that checks CRLs
 * needs one from each (RFC 5280 6.3: the CRL's issuer is the leaf's), so
 * crl.pem holds the active authority's CRL, then one per retiring
 * authority whose key this replica's ledger holds. One with no unexpired
 * leaf left retires: out of the bundle, no more CRL.
 */
static int
crl_retiring(struct daemon_controller *c, int64_t now, struct mc_buf *b,
    struct mc_err *e)
{
	struct store_authority *rows = NULL;
	struct ca_authority *a;
	struct mc_err e2;
	size_t n = 0, i;
	int64_t live;
	bool retired = false;
	json_t *keep;
	int rc = 0;

	if ((keep = json_object()) == NULL) {
		mc_err_set(e, MC_ST_NOMEM, 0, "CRL: out of memory");
		return -1;
	}
	if (store_authority_list(c->db, c->td, &rows, &n, e) == -1) {
		json_decref(keep);
		return -1;
	}
	for (i = 0; i < n && rc == 0; i++) {
		if (rows[i].state != STORE_AUTH_RETIRING ||
		    rows[i].id == c->auth->id)
			continue;
		if (store_cert_count_unexpired(c->db, rows[i].id, now, &live,
		    &e2) == 0 && live == 0) {
			if (ca_rotate_retire(c->db, rows[i].id, now, false,
			    c->actor, &e2) == 0) {
				mc_log_info("authority %lld retired: no leaf "
				    "it signed is left; its root leaves the "
				    "bundle", (long long)rows[i].id);
				retired = true;
			} else
				mc_log_warnx("authority %lld: %s",
				    (long long)rows[i].id, e2.msg);
			continue;
		}
		if (ca_authority_load(c->db, &c->kek, rows[i].id, &a, &e2) ==
		    -1) {
			mc_log_debug("authority %lld: no CRL: %s",
			    (long long)rows[i].id, e2.msg);
			continue;
		}
		rc = ca_crl_issue(c->db, a, now, CTL_CRL_VALIDITY, c->actor, b,
		    e);
		if (rc == 0 && retiring_add(keep, &rows[i], a, &e2) == -1)
			mc_log_warnx("secret %s/%s: %s", c->ca_ns,
			    DAEMON_CA_RETIRING_SECRET, e2.msg);
		ca_authority_free(a);
	}
	store_authority_list_free(rows, n);
	if (rc == 0) {
		json_decref(c->retiring_want);
		c->retiring_want = keep;
		retiring_write(c);
	} else
		json_decref(keep);
	if (retired) {
		auth_kids_load(c);
		if (rc == 0 && bundle_refresh(c, &e2) == -1)
			mc_log_warnx("bundle: %s", e2.msg);
	}
	return rc;
}

static void
crl_publish(struct daemon_controller *c)
{
	struct mc_buf b;
	struct mc_err e;
	int64_t now = now_s();

	mc_buf_init(&b, CTL_CRL_MAX);
	if (ca_crl_issue(c->db, c->auth, now, CTL_CRL_VALIDITY, c->actor, &b,
	    &e) == -1 || crl_retiring(c, now, &b, &e) == -1) {
		mc_log_warnx("CRL: %s", e.msg);
		mc_buf_free(&b);
		return;
	}
	mc_free(c->crl_pem);
	c->crl_pem = mc_buf_steal(&b, NULL);
	c->crl_seq++;
	c->crl_this = now;
	c->crl_next = now + CTL_CRL_VALIDITY;
	c->crl_dirty = false;
	mc_log_debug("CRL signed, valid until %lld", (long long)c->crl_next);
	enqueue_cm(c, c->ca_ns);
	k8s_informer_foreach(c->ns_inf, enqueue_ns_cm, c);
	mc_buf_free(&b);
}

/* ---- reconcile: ConfigMap -------------------------------------------- */

static void crl_published(struct daemon_controller *c, uint64_t seq);

static void
cm_done(const struct k8s_response *r, void *arg)
{
	struct item *it = arg;
	struct daemon_controller *c = it->ctl;

	it->inflight = false;
	it->req = NULL;
	c->ninflight--;
	if (r->outcome == K8S_OK || r->outcome == K8S_E_NOT_FOUND) {
		k8s_backoff_reset(&it->bo);
		it->retry_due = 0;
		if (r->outcome == K8S_OK && strcmp(it->ns, c->ca_ns) == 0)
			crl_published(c, it->cm_seq);
	} else if (r->outcome == K8S_E_ALREADY_EXISTS ||
	    r->outcome == K8S_E_CONFLICT) {
		retry_later(c, it, CTL_REQUEUE_MS);
	} else {
		mc_log_warnx("configmap %s/%s: %s", it->ns, DAEMON_BUNDLE_CM,
		    r->err.msg);
		retry_later(c, it, 0);
	}
	if (it->dirty) {
		it->dirty = false;
		enqueue(c, it);
	}
}

static void
reconcile_cm(struct daemon_controller *c, struct item *it)
{
	json_t *cur, *want = NULL;
	struct mc_err e;
	bool managed;
	const char *rv;

	managed = strcmp(it->ns, c->ca_ns) == 0 || ns_is_managed(c, it->ns);
	cur = k8s_informer_get(c->cm_inf, it->ns, DAEMON_BUNDLE_CM);
	/* An unmanaged namespace keeps the last bundle it got: workloads
	 * may still mount it (deploy/rbac.yaml grants no delete). */
	if (!managed)
		goto out;
	if (cur != NULL && daemon_bundle_cm_matches(cur, c->root_pem,
	    c->bundle_json, c->crl_pem)) {
		if (strcmp(it->ns, c->ca_ns) == 0)
			crl_published(c, c->crl_seq);
		goto out;
	}
	if ((want = daemon_bundle_cm_build(it->ns, c->root_pem,
	    c->bundle_json, c->crl_pem, &e)) == NULL) {
		retry_later(c, it, 0);
		goto out;
	}
	if (cur != NULL) {
		if ((rv = k8s_obj_rv(cur)) != NULL)
			json_object_set_new(json_object_get(want, "metadata"),
			    "resourceVersion", json_string(rv));
		it->req = k8s_update(c->cl, &k8s_res_configmaps, it->ns, want,
		    cm_done, it, &e);
	} else
		it->req = k8s_create(c->cl, &k8s_res_configmaps, it->ns, want,
		    cm_done, it, &e);
	if (it->req == NULL) {
		mc_log_warnx("configmap %s/%s: %s", it->ns, DAEMON_BUNDLE_CM,
		    e.msg);
		retry_later(c, it, 0);
		goto out;
	}
	it->inflight = true;
	it->cm_seq = c->crl_seq;
	c->ninflight++;
out:
	json_decref(want);
	json_decref(cur);
}

/* ---- reconcile: a service account ------------------------------------ */

static void
sa_done(const struct k8s_response *r, void *arg)
{
	struct item *it = arg;
	struct daemon_controller *c = it->ctl;
	const char *rv;
	char id[600];
	double secs;

	it->inflight = false;
	it->req = NULL;
	c->ninflight--;
	if (it->new_serial[0] == '\0') {
		/* a delete */
		if (r->outcome != K8S_OK && r->outcome != K8S_E_NOT_FOUND &&
		    r->outcome != K8S_E_CONFLICT) {
			retry_later(c, it, 0);
		}
		goto next;
	}
	snprintf(id, sizeof(id), "spiffe://%s/ns/%s/sa/%s", c->td, it->ns,
	    it->name);
	if (r->outcome == K8S_OK) {
		struct mc_log_field f[] = { { "namespace", it->ns },
			{ "serviceaccount", it->name },
			{ "serial", it->new_serial },
			{ "cause", it->cause == CAUSE_CHECK &&
			    (it->check != DAEMON_CHECK_MISSING ||
			    it->seen_valid) ?
			    daemon_check_name(it->check) : it->cause ==
			    CAUSE_ROTATE ? "rotate" : it->cause == CAUSE_ROOT ?
			    "root_changed" : it->cause == CAUSE_REVOKED ?
			    "revoked" : "new" } };

		k8s_backoff_reset(&it->bo);
		it->retry_due = 0;
		mc_free(it->pub_rv);
		it->pub_rv = NULL;
		if ((rv = k8s_obj_rv(k8s_response_body(r))) != NULL &&
		    (it->pub_rv = mc_strdup(rv)) != NULL) {
			it->pub_nb = it->new_nb;
			it->pub_na = it->new_na;
			it->pub_gen = c->bundle_gen;
		}
		secs = (double)(k8s_now_ms() - it->started_ms) / 1000.0;
		daemon_metric_observe(c->m->issuance_duration, secs);
		daemon_metric_inc(c->m->issued, NULL);
		if (it->cause == CAUSE_ROTATE || it->cause == CAUSE_ROOT)
			daemon_metric_inc(c->m->rotated, NULL);
		else if (it->cause == CAUSE_CHECK &&
		    (it->check != DAEMON_CHECK_MISSING || it->seen_valid))
			daemon_metric_inc(c->m->restored,
			    daemon_check_name(it->check));
		mc_log_fields(MC_LOG_INFO, f, 4, "secret %s%s written",
		    DAEMON_SECRET_PREFIX, it->name);
		it->seen_valid = true;
		it->swept = true;
		set_renew(c, it, daemon_renew_at(it->new_nb, it->new_na,
		    c->cfg->grace_ratio, (int64_t)(c->cfg->min_grace / 1000),
		    it->key), it->new_na);
		supersede(c, it, id, it->new_serial);
		goto next;
	}
	if (r->outcome == K8S_E_ALREADY_EXISTS ||
	    r->outcome == K8S_E_CONFLICT || r->outcome == K8S_E_NOT_FOUND) {
		/* Our view was stale: look again once the watch has caught
		 * up. The leaf just made stays unpublished; the next one
		 * written supersedes it. */
		retry_later(c, it, CTL_REQUEUE_MS);
		goto next;
	}
	{
		struct mc_log_field f[] = { { "namespace", it->ns },
			{ "serviceaccount", it->name } };

		mc_log_fields(MC_LOG_WARN, f, 2, "secret write failed: %s",
		    r->err.msg);
	}
	retry_later(c, it, 0);
next:
	it->new_serial[0] = '\0';
	mc_free(it->sup);
	it->sup = NULL;
	if (it->dirty) {
		it->dirty = false;
		enqueue(c, it);
	}
}

/* The account is gone (or its namespace unmanaged): revoke its leaves and
 * remove the Secret meshca made for it. */
static void
retire_account(struct daemon_controller *c, struct item *it,
    const json_t *sec, const char *id)
{
	struct mc_err e;
	const json_t *meta;
	char *pem;
	size_t len;

	it->renew_at = 0;
	it->not_after = 0;
	if (sec != NULL && (pem = daemon_secret_leaf_pem(sec, &len)) != NULL) {
		struct daemon_secret_info info;
		char why[256];

		if (daemon_secret_check(sec, c->cfg->secret_format, it->name,
		    NULL, id, c->verifier, c->root_pem, &info, why,
		    sizeof(why)) != DAEMON_CHECK_UNTRUSTED && info.serial[0])
			ledger_import(c, pem, len, id, it->ns, it->name);
		mc_free(pem);
	}
	if (c->cfg->revoke_on_delete) {
		/* superseded leaves too, at once: nobody uses them now */
		pend_from_secret(c, it, sec);
		pend_run_item(c, it, INT64_MAX, CTL_REASON_CESSATION,
		    "serviceaccount gone");
		revoke_id(c, id, CTL_REASON_CESSATION, "serviceaccount gone");
	}
	if (sec == NULL)
		return;
	meta = json_object_get(sec, "metadata");
	it->new_serial[0] = '\0';
	it->req = k8s_delete(c->cl, &k8s_res_secrets, it->ns,
	    k8s_obj_name(sec), json_string_value(json_object_get(meta, "uid")),
	    NULL, sa_done, it, &e);
	if (it->req == NULL) {
		retry_later(c, it, 0);
		return;
	}
	it->inflight = true;
	c->ninflight++;
	mc_log_info("secret %s/%s: removing (service account %s)", it->ns,
	    k8s_obj_name(sec), json_object_get(json_object_get(json_object_get(
	    sec, "metadata"), "labels"), DAEMON_LABEL_MANAGED_BY) ? "gone or "
	    "unmanaged" : "gone");
}

static bool
is_revoked(struct daemon_controller *c, const char *serial)
{
	struct store_cert row;
	struct mc_err e;
	bool found = false, rev = false;

	memset(&row, 0, sizeof(row));
	if (serial[0] != '\0' && store_cert_get(c->db, serial, &row, &found,
	    &e) == 0 && found) {
		rev = row.status == STORE_CERT_REVOKED;
		store_cert_clear(&row);
	}
	return rev;
}

/*
 * True when sec is exactly the Secret we last wrote for it (same
 * resourceVersion: the API server changes it on every write), under the
 * bundle still in force, and the account still has the uid its
 * ownerReference names. Then its verdict is the one we gave it.
 */
static bool
is_our_write(struct daemon_controller *c, struct item *it, const json_t *sec,
    const char *uid)
{
	const char *rv;
	const json_t *meta, *refs;

	if (sec == NULL || it->pub_rv == NULL || uid == NULL ||
	    it->pub_gen != c->bundle_gen ||
	    (rv = k8s_obj_rv(sec)) == NULL || strcmp(rv, it->pub_rv) != 0)
		return false;
	meta = json_object_get(sec, "metadata");
	refs = json_object_get(meta, "ownerReferences");
	if (json_string_value(json_object_get(json_object_get(meta,
	    "annotations"), DAEMON_ANNOT_SERIAL)) == NULL)
		return false;
	return json_array_size(refs) == 1 &&
	    json_string_value(json_object_get(json_array_get(refs, 0),
	    "uid")) != NULL &&
	    strcmp(json_string_value(json_object_get(json_array_get(refs, 0),
	    "uid")), uid) == 0;
}

static void
reconcile_sa(struct daemon_controller *c, struct item *it)
{
	json_t *sa = NULL, *sec = NULL, *obj = NULL;
	struct ca_issued is;
	struct ca_issue_req rq;
	struct daemon_secret_info info;
	struct daemon_leaf leaf;
	struct mc_buf chain;
	struct mc_err e;
	enum daemon_check chk;
	const char *uid, *rv;
	char secname[320], id[600], why[256];
	int64_t now = now_s();

	memset(&is, 0, sizeof(is));
	mc_buf_init(&chain, CTL_PEM_MAX);
	snprintf(secname, sizeof(secname), "%s%s", DAEMON_SECRET_PREFIX,
	    it->name);
	snprintf(id, sizeof(id), "spiffe://%s/ns/%s/sa/%s", c->td, it->ns,
	    it->name);
	sa = k8s_informer_get(c->sa_inf, it->ns, it->name);
	sec = k8s_informer_get(c->sec_inf, it->ns, secname);
	if (sa == NULL || !ns_is_managed(c, it->ns)) {
		retire_account(c, it, sec, id);
		goto out;
	}
	uid = json_string_value(json_object_get(json_object_get(sa,
	    "metadata"), "uid"));
	if (is_our_write(c, it, sec, uid)) {
		memset(&info, 0, sizeof(info));
		snprintf(info.serial, sizeof(info.serial), "%s",
		    json_string_value(json_object_get(json_object_get(
		    json_object_get(sec, "metadata"), "annotations"),
		    DAEMON_ANNOT_SERIAL)));
		info.not_before = it->pub_nb;
		info.not_after = it->pub_na;
		chk = DAEMON_CHECK_OK;
	} else {
		chk = daemon_secret_check(sec, c->cfg->secret_format, it->name,
		    uid, id, c->verifier, c->root_pem, &info, why,
		    sizeof(why));
		if (chk == DAEMON_CHECK_OK && !signed_by_current(c, &info)) {
			/* still valid under a root we keep, but the CA
			 * changed: re-issued now, not at renewal */
			chk = DAEMON_CHECK_ROOT;
			snprintf(why, sizeof(why), "issued by an authority "
			    "that no longer signs");
		}
	}
	if (c->cfg->propagation_window > 0)
		pend_from_secret(c, it, sec);
	/* A leaf in place that is revoked (a request whose re-issue failed
	 * or was cut short by a leader change) is replaced. */
	if (chk == DAEMON_CHECK_OK && !it->force &&
	    is_revoked(c, info.serial))
		it->force = true;
	if (chk == DAEMON_CHECK_OK && !it->force) {
		set_renew(c, it, daemon_renew_at(info.not_before,
		    info.not_after, c->cfg->grace_ratio,
		    (int64_t)(c->cfg->min_grace / 1000), it->key),
		    info.not_after);
		it->seen_valid = true;
		if (!it->swept) {
			/* Once per run: a leaf issued but never published
			 * (a crash, a lost race) is superseded by the one
			 * in place. */
			char *pem;
			size_t len;

			if ((pem = daemon_secret_leaf_pem(sec, &len)) != NULL) {
				ledger_import(c, pem, len, id, it->ns,
				    it->name);
				mc_free(pem);
			}
			supersede(c, it, id, info.serial);
			it->swept = true;
		}
		if (it->renew_at > now)
			goto out;
		it->cause = CAUSE_ROTATE;
	} else if (it->force) {
		it->cause = CAUSE_REVOKED;
	} else if (chk == DAEMON_CHECK_ROOT) {
		it->cause = CAUSE_ROOT;
	} else {
		struct mc_log_field f[] = { { "namespace", it->ns },
			{ "serviceaccount", it->name },
			{ "check", daemon_check_name(chk) } };

		it->cause = CAUSE_CHECK;
		if (chk != DAEMON_CHECK_MISSING || it->seen_valid)
			mc_log_fields(MC_LOG_WARN, f, 3, "secret %s: %s; "
			    "re-issuing", secname, why);
	}
	it->check = chk;
	snprintf(it->old_serial, sizeof(it->old_serial), "%s", info.serial);
	memset(&rq, 0, sizeof(rq));
	rq.ns = it->ns;
	rq.sa = it->name;
	rq.ttl = (int64_t)(c->cfg->cert_ttl / 1000);
	rq.key_type = (enum ca_key_type)c->cfg->key_type;
	rq.now = now;
	it->started_ms = k8s_now_ms();
	if (ca_issue_keypair(c->issuer, &rq, &is, &e) == -1) {
		mc_log_warnx("issue %s: %s", id, e.msg);
		retry_later(c, it, 0);
		goto out;
	}
	if (ca_issue_record(c->db, c->issuer, &is, 1, false, c->actor, now,
	    &e) == -1) {
		mc_log_warnx("issue %s: %s", id, e.msg);
		retry_later(c, it, ledger_failed(c));
		goto out;
	}
	if (mc_buf_puts(&chain, is.cert_pem, &e) == -1 ||
	    mc_buf_puts(&chain, c->chain_pem, &e) == -1) {
		mc_log_warnx("issue %s: %s", id, e.msg);
		retry_later(c, it, 0);
		goto out;
	}
	leaf.chain_pem = chain.data;
	leaf.key_pem = is.key_pem.data;
	leaf.root_pem = c->root_pem;
	leaf.serial = is.serial;
	mc_free(it->sup);
	it->sup = pending_for_write(c, it, sec, chk, &info, id, is.serial,
	    now);
	leaf.superseded = it->sup;
	if ((obj = daemon_secret_build(c->cfg->secret_format, it->ns,
	    it->name, uid != NULL ? uid : "", &leaf, &e)) == NULL) {
		retry_later(c, it, 0);
		goto out;
	}
	snprintf(it->new_serial, sizeof(it->new_serial), "%s", is.serial);
	it->new_nb = is.not_before;
	it->new_na = is.not_after;
	if (sec != NULL) {
		if ((rv = k8s_obj_rv(sec)) != NULL)
			json_object_set_new(json_object_get(obj, "metadata"),
			    "resourceVersion", json_string(rv));
		it->req = k8s_update(c->cl, &k8s_res_secrets, it->ns, obj,
		    sa_done, it, &e);
	} else
		it->req = k8s_create(c->cl, &k8s_res_secrets, it->ns, obj,
		    sa_done, it, &e);
	if (it->req == NULL) {
		it->new_serial[0] = '\0';
		mc_log_warnx("secret %s/%s: %s", it->ns, secname, e.msg);
		retry_later(c, it, 0);
		goto out;
	}
	it->force = false;
	it->inflight = true;
	c->ninflight++;
out:
	json_decref(obj);
	json_decref(sa);
	json_decref(sec);
	ca_issued_clear(&is);
	mc_buf_free(&chain);
}

/* ---- operator revocations -------------------------------------------- */

/* revocations_process runs again from the tick, after a backoff. */
static void
rev_retry_later(struct daemon_controller *c)
{
	c->rev_retry_ms = k8s_now_ms() + k8s_backoff_next(&c->rev_bo) + 1;
}

static void
rev_patched(const struct k8s_response *r, void *arg)
{
	struct daemon_controller *c = arg;

	if (r->outcome != K8S_OK && r->outcome != K8S_E_NOT_FOUND) {
		rev_retry_later(c); /* the tick retries the removal */
	} else
		k8s_backoff_reset(&c->rev_bo);
}

struct serial_hunt {
	struct daemon_controller *c;
	const char *serial;
	bool found;
};

/*
 * A Secret of ours whose leaf has the serial asked for (its serial
 * annotation, then the leaf itself, checked as its account's), or whose
 * superseded annotation names it: recorded in the ledger.
 */
static int
hunt_secret(const json_t *sec, void *arg)
{
	struct serial_hunt *h = arg;
	struct daemon_controller *c = h->c;
	struct daemon_pending v[DAEMON_PENDING_MAX];
	const json_t *ann = json_object_get(json_object_get(sec, "metadata"),
	    "annotations");
	const char *a, *name = k8s_obj_name(sec);
	char ser[CA_SERIAL_HEX];
	struct item *it;
	size_t n, i;

	if (name == NULL || strncmp(name, DAEMON_SECRET_PREFIX,
	    strlen(DAEMON_SECRET_PREFIX)) != 0)
		return 0;
	if ((a = json_string_value(json_object_get(ann,
	    DAEMON_ANNOT_SERIAL))) != NULL &&
	    daemon_serial_norm(a, ser, sizeof(ser)) == 0 &&
	    strcmp(ser, h->serial) == 0) {
		secret_observe(c, sec);
		h->found = true;
		return 0;
	}
	n = daemon_pending_parse(json_string_value(json_object_get(ann,
	    DAEMON_ANNOT_SUPERSEDED)), v, DAEMON_PENDING_MAX);
	for (i = 0; i < n; i++)
		if (strcmp(v[i].serial, h->serial) == 0 &&
		    (it = item_get(c, ITEM_SA, k8s_obj_namespace(sec), name +
		    strlen(DAEMON_SECRET_PREFIX))) != NULL) {
			char id[600];

			snprintf(id, sizeof(id), "spiffe://%s/ns/%s/sa/%s",
			    c->td, it->ns, it->name);
			(void)ledger_placeholder(c, &v[i], id, it->ns,
			    it->name);
			h->found = true;
		}
	return 0;
}

/*
 * serial= (normalized): a leaf this replica's ledger does not know was
 * issued by an earlier leader; it is then looked for in the Secrets the
 * watch holds (leaf or superseded annotation) and recorded from there.
 * A serial already in the published CRL was imported at the start of
 * the term (crl_import), so it is found in the ledger as revoked.
 */
static void
revoke_by_serial(struct daemon_controller *c, const char *serial,
    int reason, const char *why, struct mc_log_field *f)
{
	struct store_cert row;
	struct mc_err e;
	struct serial_hunt h = { c, serial, false };
	bool found = false;
	struct item *it;

	memset(&row, 0, sizeof(row));
	if (store_cert_get(c->db, serial, &row, &found, &e) == 0 && !found) {
		k8s_informer_foreach(c->sec_inf, hunt_secret, &h);
		if (h.found && store_cert_get(c->db, serial, &row, &found,
		    &e) == -1)
			found = false;
	}
	if (!found) {
		mc_log_fields(MC_LOG_WARN, f, 2, "revocation request: serial "
		    "%s is unknown (not in the ledger, in no Secret of ours, "
		    "not in the published CRL); nothing revoked", serial);
		return;
	}
	if (row.status == STORE_CERT_REVOKED)
		mc_log_fields(MC_LOG_INFO, f, 2, "revocation request: serial "
		    "%s is already revoked", serial);
	else
		revoke_serial(c, serial, reason, why);
	/* The account is judged again: its leaf in place, when revoked,
	 * is replaced (a leaf issued since, in answer to this request
	 * acted on before by a leader that died, stays). */
	if (row.namespace_ != NULL && row.service_account != NULL &&
	    (it = item_get(c, ITEM_SA, row.namespace_,
	    row.service_account)) != NULL)
		enqueue(c, it);
	store_cert_clear(&row);
}

/*
 * One request: "serial=HEX reason=NAME" or "id=SPIFFE-ID reason=NAME"
 * (meshcad(8), REVOCATION REQUESTS). The leaf is revoked, the CRL
 * republished and the account re-issued at once.
 *
 * An id= request is acted on in two steps, so that acting twice (a
 * leader that dies before it removes the entry leaves it to the next)
 * revokes nothing more: first the leaves it means (live at that moment)
 * are written into the entry as serials=HEX,HEX (*resolved, a new text,
 * mc_free); the entry is then acted on as those serials, which a second
 * time are already revoked. Returns true when the entry is done (to be
 * removed), false when it is to be rewritten with *resolved.
 */
static bool
revoke_request(struct daemon_controller *c, const char *key,
    const char *text, char **resolved)
{
	char *buf, *tok, *save = NULL, *serial = NULL, *id = NULL;
	char *serials = NULL;
	const char *why = "request";
	int reason = 0;
	struct mc_err e;
	struct meshca_id *mid = NULL;
	char ns[256], sa[256];
	struct mc_log_field f[] = { { "request", key }, { "entry", text } };
	bool done = true;

	*resolved = NULL;
	if ((buf = mc_strdup(text)) == NULL) {
		mc_log_fields(MC_LOG_WARN, f, 2, "revocation request: out of "
		    "memory");
		return false;
	}
	for (tok = strtok_r(buf, " \t\n", &save); tok != NULL;
	    tok = strtok_r(NULL, " \t\n", &save)) {
		if (strncmp(tok, "serial=", 7) == 0)
			serial = tok + 7;
		else if (strncmp(tok, "id=", 3) == 0)
			id = tok + 3;
		else if (strncmp(tok, "serials=", 8) == 0)
			serials = tok + 8;
		else if (strncmp(tok, "reason=", 7) == 0) {
			if (ca_crl_reason_parse(tok + 7, &reason, &e) == -1) {
				mc_log_fields(MC_LOG_WARN, f, 2,
				    "revocation request refused: %s", e.msg);
				goto out;
			}
		}
	}
	if ((serial == NULL) == (id == NULL)) {
		mc_log_fields(MC_LOG_WARN, f, 2, "revocation request refused: "
		    "exactly one of serial= and id= is required");
		goto out;
	}
	if (serial != NULL) {
		char norm[CA_SERIAL_HEX];

		mc_log_fields(MC_LOG_INFO, f, 2, "revocation requested");
		if (daemon_serial_norm(serial, norm, sizeof(norm)) == -1) {
			mc_log_fields(MC_LOG_WARN, f, 2, "revocation request "
			    "refused: serial= must be a serial number in hex "
			    "(at most 32 digits, colons allowed)");
			goto out;
		}
		revoke_by_serial(c, norm, reason, why, f);
		goto out;
	}
	if (meshca_id_parse(id, strlen(id), &mid, NULL) != MESHCA_OK ||
	    meshca_id_get_service_account(mid, ns, sizeof(ns), sa,
	    sizeof(sa), NULL) != MESHCA_OK) {
		mc_log_fields(MC_LOG_WARN, f, 2, "revocation request refused: "
		    "not a service account's SPIFFE ID");
		goto out;
	}
	if (serials == NULL) {
		/* step 1: which leaves, written into the entry */
		struct serials s = { 0 };
		struct mc_buf nb;
		char secname[320], *pem;
		json_t *sec;
		size_t i, len;
		bool ok;

		snprintf(secname, sizeof(secname), "%s%s",
		    DAEMON_SECRET_PREFIX, sa);
		if ((sec = k8s_informer_get(c->sec_inf, ns, secname)) != NULL &&
		    (pem = daemon_secret_leaf_pem(sec, &len)) != NULL) {
			ledger_import(c, pem, len, id, ns, sa);
			mc_free(pem);
		}
		json_decref(sec);
		mc_log_fields(MC_LOG_INFO, f, 2, "revocation requested");
		if (live_serials(c, id, &s) == -1) {
			mc_free(s.v);
			done = false; /* tried again on the next pass */
			goto out;
		}
		mc_buf_init(&nb, strlen(text) + 16 + s.n * CA_SERIAL_HEX);
		ok = mc_buf_puts(&nb, text, &e) == 0 &&
		     mc_buf_puts(&nb, " serials=", &e) == 0;
		for (i = 0; ok && i < s.n; i++)
			ok = (i == 0 || mc_buf_puts(&nb, ",", &e) == 0) &&
			     mc_buf_puts(&nb, s.v[i], &e) == 0;
		mc_free(s.v);
		if (!ok) {
			mc_buf_free(&nb);
			done = false;
			goto out;
		}
		*resolved = mc_buf_steal(&nb, NULL);
		mc_log_fields(MC_LOG_INFO, f, 2, "revocation request: %zu live "
		    "lea%s of %s; acting on them once written into the entry",
		    s.n, s.n == 1 ? "f" : "ves", id);
		done = false;
		goto out;
	}
	/* step 2: those leaves, revoked; the account judged again */
	{
		char norm[CA_SERIAL_HEX], *one, *save2 = NULL;
		struct item *it;

		for (one = strtok_r(serials, ",", &save2); one != NULL;
		    one = strtok_r(NULL, ",", &save2))
			if (daemon_serial_norm(one, norm, sizeof(norm)) == 0)
				revoke_by_serial(c, norm, reason, why, f);
		if ((it = item_get(c, ITEM_SA, ns, sa)) != NULL)
			enqueue(c, it);
		mc_log_fields(MC_LOG_INFO, f, 2, "revocation request for %s "
		    "done", id);
	}
out:
	meshca_id_free(mid);
	mc_free(buf);
	return done;
}

/* id= entries resolved to their serials: written back with an update
 * (PUT, with the resourceVersion read): an entry changed meanwhile makes
 * it fail with a conflict, and the next pass reads it again. */
static void
rev_rewrite(struct daemon_controller *c, const json_t *cm, json_t *rewrite)
{
	json_t *obj;
	struct mc_err e;

	if ((obj = json_deep_copy(cm)) == NULL ||
	    json_object_update_existing(json_object_get(obj, "data"),
	    rewrite) == -1 ||
	    k8s_update(c->cl, &k8s_res_configmaps, c->ca_ns, obj,
	    rev_patched, c, &e) == NULL) {
		mc_log_warnx("configmap %s/%s: rewriting resolved requests "
		    "failed", c->ca_ns, DAEMON_REVOCATIONS_CM);
		rev_retry_later(c);
	}
	json_decref(obj);
	json_decref(rewrite);
}

/* The crl_seq a request acted on now waits for: the next CRL when the
 * ledger changed since the last one was signed. */
static json_t *
rev_wait_seq(const struct daemon_controller *c)
{
	return json_integer((json_int_t)(c->crl_dirty ? c->crl_seq + 1 :
	    c->crl_seq));
}

/* Handled entries whose revocations are in the published CRL leave the
 * ConfigMap (merge patch, RFC 7386: null deletes), so each request is
 * acted on once, and none is lost to a leader that dies before its CRL
 * is out. */
static void
rev_remove_due(struct daemon_controller *c)
{
	json_t *patch, *pd, *v;
	const char *k;
	struct mc_err e;

	if (!c->leader || json_object_size(c->rev_seq) == 0 ||
	    (patch = json_pack("{s:{}}", "data")) == NULL)
		return;
	pd = json_object_get(patch, "data");
	json_object_foreach(c->rev_seq, k, v)
		if ((uint64_t)json_integer_value(v) <= c->crl_seq_pub)
			json_object_set_new(pd, k, json_null());
	if (json_object_size(pd) > 0 && k8s_patch_merge(c->cl,
	    &k8s_res_configmaps, c->ca_ns, DAEMON_REVOCATIONS_CM, patch,
	    rev_patched, c, &e) == NULL) {
		mc_log_warnx("configmap %s/%s: %s", c->ca_ns,
		    DAEMON_REVOCATIONS_CM, e.msg);
		rev_retry_later(c);
	}
	json_decref(patch);
}

/* The CRL numbered seq (crl_seq) is in the CA namespace's ConfigMap. */
static void
crl_published(struct daemon_controller *c, uint64_t seq)
{
	if (seq <= c->crl_seq_pub)
		return;
	c->crl_seq_pub = seq;
	rev_remove_due(c);
}

static void
revocations_process(struct daemon_controller *c)
{
	json_t *cm, *data, *done, *rewrite = NULL;
	char *resolved;
	const char *k;
	json_t *v;
	void *tmp;

	if (!c->leader || c->ca_state != CA_READY || !c->term_ready ||
	    (cm = k8s_informer_get(c->rev_inf, c->ca_ns,
	    DAEMON_REVOCATIONS_CM)) == NULL)
		return;
	c->rev_retry_ms = 0;
	data = json_object_get(cm, "data");
	/* An entry no longer there was removed: forget it. */
	json_object_foreach_safe(c->rev_done, tmp, k, v) {
		if (json_object_get(data, k) == NULL)
			json_object_del(c->rev_done, k);
	}
	json_object_foreach_safe(c->rev_seq, tmp, k, v) {
		if (json_object_get(data, k) == NULL)
			json_object_del(c->rev_seq, k);
	}
	json_object_foreach(data, k, v) {
		done = json_object_get(c->rev_done, k);
		/* A request acted on whose removal failed or was cut off
		 * by a lost lease is not acted on again by this replica
		 * (another acts on it as the serials it names: nothing
		 * more is revoked). */
		if (json_is_string(v) && !(json_is_string(done) &&
		    strcmp(json_string_value(done),
		    json_string_value(v)) == 0)) {
			if (!revoke_request(c, k, json_string_value(v),
			    &resolved)) {
				if (resolved != NULL) {
					json_object_set_new(rewrite == NULL ?
					    (rewrite = json_object()) : rewrite,
					    k, json_string(resolved));
					mc_free(resolved);
				} else {
					rev_retry_later(c);
				}
				continue;
			}
			json_object_set_new(c->rev_done, k,
			    json_string(json_string_value(v)));
			json_object_set_new(c->rev_seq, k, rev_wait_seq(c));
		} else if (!json_is_string(v))
			json_object_set_new(c->rev_seq, k, json_integer(0));
		else if (json_object_get(c->rev_seq, k) == NULL)
			json_object_set_new(c->rev_seq, k, rev_wait_seq(c));
	}
	if (rewrite != NULL)
		rev_rewrite(c, cm, rewrite);
	rev_remove_due(c);
	json_decref(cm);
}

/* ---- informer callbacks ---------------------------------------------- */

static int
enqueue_sa_obj(const json_t *obj, void *arg)
{
	enqueue_sa(arg, k8s_obj_namespace(obj), k8s_obj_name(obj));
	return 0;
}

struct ns_walk {
	struct daemon_controller *c;
	const char *ns;
};

static int
enqueue_sa_in_ns(const json_t *obj, void *arg)
{
	struct ns_walk *w = arg;
	const char *ns = k8s_obj_namespace(obj);

	if (ns != NULL && strcmp(ns, w->ns) == 0)
		enqueue_sa(w->c, ns, k8s_obj_name(obj));
	return 0;
}

/* A Secret's account: the annotation, else the name after "istio.". */
static void
enqueue_secret_obj(struct daemon_controller *c, const json_t *obj)
{
	const char *name = k8s_obj_name(obj), *sa;

	if (name == NULL || strncmp(name, DAEMON_SECRET_PREFIX,
	    strlen(DAEMON_SECRET_PREFIX)) != 0)
		return;
	sa = json_string_value(json_object_get(json_object_get(
	    json_object_get(obj, "metadata"), "annotations"), DAEMON_ANNOT_SA));
	if (sa == NULL)
		sa = name + strlen(DAEMON_SECRET_PREFIX);
	enqueue_sa(c, k8s_obj_namespace(obj), sa);
}

static int
enqueue_secret_walk(const json_t *obj, void *arg)
{
	struct ns_walk *w = arg;
	const char *ns = k8s_obj_namespace(obj);

	if (w->ns == NULL || (ns != NULL && strcmp(ns, w->ns) == 0))
		enqueue_secret_obj(w->c, obj);
	return 0;
}

static void
full_resync(struct daemon_controller *c)
{
	struct ns_walk w = { c, NULL };

	if (!c->synced)
		return;
	k8s_informer_foreach(c->sa_inf, enqueue_sa_obj, c);
	k8s_informer_foreach(c->sec_inf, enqueue_secret_walk, &w);
	k8s_informer_foreach(c->ns_inf, enqueue_ns_cm, c);
	enqueue_cm(c, c->ca_ns);
}

static void
on_ns(struct k8s_informer *inf, enum k8s_event_type t, const json_t *obj,
    void *arg)
{
	struct daemon_controller *c = arg;
	struct ns_walk w = { c, k8s_obj_name(obj) };

	(void)inf;
	(void)t;
	if (!c->synced || w.ns == NULL)
		return;
	k8s_informer_foreach(c->sa_inf, enqueue_sa_in_ns, &w);
	k8s_informer_foreach(c->sec_inf, enqueue_secret_walk, &w);
	enqueue_cm(c, w.ns);
}

static void
on_sa(struct k8s_informer *inf, enum k8s_event_type t, const json_t *obj,
    void *arg)
{
	struct daemon_controller *c = arg;

	(void)inf;
	(void)t;
	if (c->synced)
		enqueue_sa(c, k8s_obj_namespace(obj), k8s_obj_name(obj));
}

static bool
is_retiring_secret(const struct daemon_controller *c, const json_t *obj)
{
	const char *ns = k8s_obj_namespace(obj), *name = k8s_obj_name(obj);

	return ns != NULL && name != NULL && strcmp(ns, c->ca_ns) == 0 &&
	    strcmp(name, DAEMON_CA_RETIRING_SECRET) == 0;
}

static void
on_secret(struct k8s_informer *inf, enum k8s_event_type t, const json_t *obj,
    void *arg)
{
	struct daemon_controller *c = arg;

	(void)inf;
	if (t != K8S_EV_DELETED && c->ca_state == CA_READY &&
	    is_retiring_secret(c, obj))
		retiring_adopt(c);
	if (t == K8S_EV_DELETED)
		secret_observe(c, obj);
	else if (!c->leader)
		import_mark(c, obj);
	if (c->synced)
		enqueue_secret_obj(c, obj);
}

static void
on_cm(struct k8s_informer *inf, enum k8s_event_type t, const json_t *obj,
    void *arg)
{
	struct daemon_controller *c = arg;
	const char *name = k8s_obj_name(obj);

	(void)inf;
	(void)t;
	if (c->synced && name != NULL && strcmp(name, DAEMON_BUNDLE_CM) == 0)
		enqueue_cm(c, k8s_obj_namespace(obj));
}

static void
on_rev(struct k8s_informer *inf, enum k8s_event_type t, const json_t *obj,
    void *arg)
{
	(void)inf;
	(void)obj;
	if (t == K8S_EV_ADDED || t == K8S_EV_MODIFIED)
		revocations_process(arg);
}

static void
on_synced(struct k8s_informer *inf, void *arg)
{
	struct daemon_controller *c = arg;
	bool was = c->synced;

	(void)inf;
	c->synced = k8s_informer_has_synced(c->ns_inf) &&
	    k8s_informer_has_synced(c->sa_inf) &&
	    k8s_informer_has_synced(c->sec_inf) &&
	    k8s_informer_has_synced(c->cm_inf) &&
	    k8s_informer_has_synced(c->rev_inf);
	if (c->synced && !c->leader)
		k8s_informer_foreach(c->sec_inf, import_walk, c);
	if (c->synced && !was)
		mc_log_info("watches synced: %zu namespaces, %zu service "
		    "accounts, %zu secrets", k8s_informer_count(c->ns_inf),
		    k8s_informer_count(c->sa_inf),
		    k8s_informer_count(c->sec_inf));
	/* After the first list and after every relist: anything may have
	 * changed while we were not watching. */
	full_resync(c);
}

/* ---- leadership ------------------------------------------------------ */

static void
leader_started(struct k8s_elector *el, void *arg)
{
	struct daemon_controller *c = arg;

	(void)el;
	c->leader = true;
	daemon_metric_set(c->m->leader, NULL, 1);
	mc_log_info("leader: this replica (%s) now signs and writes",
	    c->identity);
	c->term_ready = false;
	c->crl_dirty = true;
	c->crl_seq_pub = 0; /* known written this term only */
	/* the rest once the CA is loaded and the watches synced: tick()
	 * calls term_start() */
}

static void
cancel_all(struct daemon_controller *c)
{
	size_t i;
	struct item *it;

	for (i = 0; i < c->tabsz; i++)
		for (it = c->tab[i]; it != NULL; it = it->hnext) {
			if (it->inflight && it->req != NULL)
				k8s_request_cancel(c->cl, it->req);
			it->inflight = false;
			it->req = NULL;
			it->dirty = false;
			mc_free(it->sup);
			it->sup = NULL;
		}
	c->ninflight = 0;
	while (dequeue(c) != NULL)
		;
}

static void
leader_stopped(struct k8s_elector *el, void *arg)
{
	struct daemon_controller *c = arg;

	(void)el;
	if (!c->leader)
		return;
	c->leader = false;
	c->term_ready = false;
	daemon_metric_set(c->m->leader, NULL, 0);
	/* Another replica may lead already: stop writing at once. */
	cancel_all(c);
	mc_log_warnx("leader: lease lost or given up; writes stopped");
}

/* ---- the start of a leadership term --------------------------------- */

static int
collect_gone(const struct store_cert *row, void *arg, struct mc_err *e)
{
	struct daemon_controller *c = arg;
	json_t *sa;

	(void)e;
	if (row->not_after <= now_s() || row->namespace_ == NULL ||
	    row->service_account == NULL)
		return 0;
	if ((sa = k8s_informer_get(c->sa_inf, row->namespace_,
	    row->service_account)) != NULL) {
		json_decref(sa);
		if (ns_is_managed(c, row->namespace_))
			return 0;
	}
	/* reconcile_sa() finds no account and retires it */
	enqueue_sa(c, row->namespace_, row->service_account);
	return 0;
}

/*
 * Accounts deleted (or namespaces unmanaged) while no replica led left
 * no event for this one: every live leaf in the ledger whose account is
 * gone is queued, and reconcile_sa() revokes it (cessationOfOperation)
 * and removes the Secret, if one of ours is still there.
 */
static void
gone_sweep(struct daemon_controller *c)
{
	struct store_cert_filter f;
	struct mc_err e;

	memset(&f, 0, sizeof(f));
	f.status = STORE_CERT_ACTIVE;
	if (store_cert_query(c->db, &f, collect_gone, c, &e) == -1)
		mc_log_warnx("ledger: sweep of gone accounts: %s", e.msg);
	f.status = STORE_CERT_SUPERSEDED;
	if (store_cert_query(c->db, &f, collect_gone, c, &e) == -1)
		mc_log_warnx("ledger: sweep of gone accounts: %s", e.msg);
}

/*
 * A new term, once the CA is loaded and every watch synced: revocations
 * of earlier leaders from the published CRL, every Secret judged again
 * (and its leaf recorded, its superseded leaves taken up), gone
 * accounts retired, revocation requests acted on.
 */
static void
term_start(struct daemon_controller *c)
{
	struct item *it;
	size_t i;

	c->term_ready = true;
	retiring_adopt(c);
	crl_import(c);
	for (i = 0; i < c->tabsz; i++)
		for (it = c->tab[i]; it != NULL; it = it->hnext)
			it->swept = false;
	full_resync(c);
	gone_sweep(c);
	revocations_process(c);
}

/* ---- a standby's record of the cluster's leaves ---------------------- */

/*
 * Records the leaf of Secret sec in this replica's own ledger when it
 * verifies as its account's under our bundle, so that a replica that
 * leads later can revoke it (an account deleted while no replica led
 * leaves nothing else behind).
 */
/*
 * The leaves the Secret names as superseded, still due for revocation:
 * recorded too (as the account's, unless known), so that this replica
 * revokes them if it leads once the Secret that names them was deleted
 * or overwritten (else they were known only to the leader that wrote
 * it, which may be gone).
 */
static void
observe_superseded(struct daemon_controller *c, const json_t *sec,
    const char *id, const char *ns, const char *sa)
{
	struct daemon_pending v[DAEMON_PENDING_MAX];
	struct store_cert row;
	struct mc_err e;
	size_t n, i;
	bool found;

	n = daemon_pending_parse(json_string_value(json_object_get(
	    json_object_get(json_object_get(sec, "metadata"), "annotations"),
	    DAEMON_ANNOT_SUPERSEDED)), v, DAEMON_PENDING_MAX);
	for (i = 0; i < n; i++) {
		if (v[i].not_after <= now_s())
			continue;
		memset(&row, 0, sizeof(row));
		found = false;
		if (store_cert_get(c->db, v[i].serial, &row, &found, &e) ==
		    -1)
			continue;
		if (found)
			store_cert_clear(&row);
		else
			(void)ledger_placeholder(c, &v[i], id, ns, sa);
	}
}

static void
secret_observe(struct daemon_controller *c, const json_t *sec)
{
	struct daemon_secret_info info;
	enum daemon_check chk;
	const char *ns = k8s_obj_namespace(sec), *name = k8s_obj_name(sec), *sa;
	char id[600], why[256], *pem;
	size_t len;

	if (c->ca_state != CA_READY || ns == NULL || name == NULL ||
	    strncmp(name, DAEMON_SECRET_PREFIX,
	    strlen(DAEMON_SECRET_PREFIX)) != 0)
		return;
	sa = json_string_value(json_object_get(json_object_get(
	    json_object_get(sec, "metadata"), "annotations"), DAEMON_ANNOT_SA));
	if (sa == NULL)
		sa = name + strlen(DAEMON_SECRET_PREFIX);
	snprintf(id, sizeof(id), "spiffe://%s/ns/%s/sa/%s", c->td, ns, sa);
	chk = daemon_secret_check(sec, c->cfg->secret_format, sa, NULL, id,
	    c->verifier, c->root_pem, &info, why, sizeof(why));
	if ((chk != DAEMON_CHECK_OK && chk != DAEMON_CHECK_ROOT &&
	    chk != DAEMON_CHECK_OWNER) || info.serial[0] == '\0' ||
	    (pem = daemon_secret_leaf_pem(sec, &len)) == NULL)
		return;
	ledger_import(c, pem, len, id, ns, sa);
	mc_free(pem);
	observe_superseded(c, sec, id, ns, sa);
}

static void
import_mark(struct daemon_controller *c, const json_t *obj)
{
	const char *name = k8s_obj_name(obj), *ns = k8s_obj_namespace(obj);
	struct item *it;

	if (name == NULL || ns == NULL || strncmp(name, DAEMON_SECRET_PREFIX,
	    strlen(DAEMON_SECRET_PREFIX)) != 0 ||
	    (it = item_get(c, ITEM_SA, ns, name +
	    strlen(DAEMON_SECRET_PREFIX))) == NULL || it->import)
		return;
	it->import = true;
	it->inext = c->ihead;
	c->ihead = it;
}

static int
import_walk(const json_t *obj, void *arg)
{
	import_mark(arg, obj);
	return 0;
}

/* A standby records up to CTL_BATCH marked Secrets per turn, in one
 * ledger transaction. */
static void
import_run(struct daemon_controller *c)
{
	struct item *it;
	struct mc_err e;
	json_t *sec;
	char name[320];
	size_t n = 0;

	if (store_begin(c->db, &e) == -1)
		return;
	while (n < CTL_BATCH && (it = c->ihead) != NULL) {
		c->ihead = it->inext;
		it->inext = NULL;
		it->import = false;
		n++;
		snprintf(name, sizeof(name), "%s%s", DAEMON_SECRET_PREFIX,
		    it->name);
		if ((sec = k8s_informer_get(c->sec_inf, it->ns, name)) !=
		    NULL) {
			secret_observe(c, sec);
			json_decref(sec);
		}
	}
	if (store_commit(c->db, &e) == -1)
		mc_log_warnx("ledger: leaves seen in the cluster: %s", e.msg);
}

/* ---- the tick -------------------------------------------------------- */

static void
watch_restarts(struct daemon_controller *c)
{
	struct k8s_informer *infs[5] = { c->ns_inf, c->sa_inf, c->sec_inf,
		c->cm_inf, c->rev_inf };
	static const char *names[5] = { "namespaces", "serviceaccounts",
		"secrets", "configmaps", "revocations" };
	struct k8s_informer_stats st;
	uint64_t d;
	int i;

	for (i = 0; i < 5; i++) {
		k8s_informer_get_stats(infs[i], &st);
		d = (st.watch_errors - c->last_stats[i].watch_errors) +
		    (st.relists_410 - c->last_stats[i].relists_410);
		if (d > 0)
			daemon_metric_add(c->m->watch_restarts, names[i],
			    (double)d);
		c->last_stats[i] = st;
	}
}

static void
tick(void *arg)
{
	struct daemon_controller *c = arg;
	uint64_t ms = k8s_now_ms();
	int64_t now = now_s(), earliest = 0;
	struct item *it;
	size_t i;

	k8s_timer_arm(c->cl, &c->tick, CTL_TICK_MS, tick, c);
	watch_restarts(c);
	if (ms < c->next_retry_ms && now < c->next_renew &&
	    now - c->last_scan < 10)
		goto scanned;
	c->last_scan = now;
	c->next_retry_ms = UINT64_MAX;
	c->next_renew = INT64_MAX;
	if (c->ca_state == CA_READY && c->auth->not_after - now <
	    CTL_ROOT_WARN && now - c->root_warned > 3600) {
		mc_log_warnx("ROOT EXPIRES SOON: the root of trust domain %s "
		    "expires in %lld days; rotate it (meshca(1), root "
		    "rotation) before every workload loses its identity",
		    c->td, (long long)((c->auth->not_after - now) / 86400));
		c->root_warned = now;
	}
	for (i = 0; i < c->tabsz; i++)
		for (it = c->tab[i]; it != NULL; it = it->hnext) {
			if (it->not_after > 0 && (earliest == 0 ||
			    it->not_after < earliest))
				earliest = it->not_after;
			if (!c->leader || it->inflight || it->queued)
				continue;
			if ((it->retry_due != 0 && it->retry_due <= ms) ||
			    (it->renew_at != 0 && it->renew_at <= now)) {
				it->retry_due = 0;
				enqueue(c, it);
				continue;
			}
			if (it->retry_due != 0 &&
			    it->retry_due < c->next_retry_ms)
				c->next_retry_ms = it->retry_due;
			if (it->renew_at != 0 && it->renew_at < c->next_renew)
				c->next_renew = it->renew_at;
		}
	daemon_metric_set(c->m->earliest_expiry, NULL, (double)earliest);
scanned:
	if (!c->leader || c->ca_state != CA_READY || !c->synced)
		return;
	if (!c->term_ready)
		term_start(c);
	if (now >= c->next_pend)
		pend_run(c, now);
	if (c->rev_retry_ms != 0 && k8s_now_ms() >= c->rev_retry_ms)
		revocations_process(c);
	if (c->retiring_retry_ms != 0 && k8s_now_ms() >= c->retiring_retry_ms)
		retiring_write(c);
	if (c->crl_dirty || c->crl_pem == NULL ||
	    now >= daemon_crl_resign_at(c->crl_this, c->crl_next))
		crl_publish(c);
}

/* ---- public ---------------------------------------------------------- */

static struct k8s_informer *
informer(struct daemon_controller *c, const struct k8s_resource *res,
    const char *ns, const char *lsel, const char *fsel,
    k8s_informer_event_fn fn, struct mc_err *e)
{
	struct k8s_informer_opts o;

	memset(&o, 0, sizeof(o));
	o.res = res;
	o.namespace = ns;
	o.label_selector = lsel;
	o.field_selector = fsel;
	o.on_event = fn;
	o.on_synced = on_synced;
	o.arg = c;
	return k8s_informer_start(c->cl, &o, e);
}

static int
open_ledger(struct daemon_controller *c, struct mc_err *e)
{
	char kek[4096];

	if (store_open(c->cfg->db, STORE_CREATE, &c->db, e) == -1)
		return -1;
	if ((size_t)snprintf(kek, sizeof(kek), "%s.kek", c->cfg->db) >=
	    sizeof(kek)) {
		mc_err_set(e, MC_ST_USAGE, 0, "db: path too long");
		return -1;
	}
	if (ca_kek_load(kek, &c->kek, e) == 0)
		return 0;
	if (access(kek, F_OK) == 0)
		return -1;
	if (ca_kek_create(kek, &c->kek, e) == -1)
		return -1;
	mc_log_info("ledger: new key-encryption key %s", kek);
	return 0;
}

struct daemon_controller *
daemon_controller_new(struct daemon_config *cfg,
    struct meshcad_metrics *metrics, struct mc_err *e)
{
	struct daemon_controller *c;
	struct k8s_client_opts co;
	struct k8s_elector_opts eo;
	char fsel[128];

	if ((c = mc_calloc(1, sizeof(*c))) == NULL ||
	    (c->tab = mc_calloc(1024, sizeof(struct item *))) == NULL ||
	    (c->rev_done = json_object()) == NULL ||
	    (c->rev_seq = json_object()) == NULL) {
		if (c != NULL) {
			mc_free(c->tab);
			json_decref(c->rev_done);
		}
		mc_free(c);
		mc_err_set(e, MC_ST_NOMEM, 0, "controller: out of memory");
		return NULL;
	}
	c->tabsz = 1024;
	c->next_retry_ms = UINT64_MAX;
	c->next_renew = INT64_MAX;
	c->next_pend = INT64_MAX;
	c->cfg = cfg;
	c->m = metrics;
	k8s_backoff_init(&c->ca_bo, 1000, 30000);
	k8s_backoff_init(&c->ledger_bo, 500, 5000);
	k8s_backoff_init(&c->rev_bo, 1000, 30000);
	k8s_backoff_init(&c->retiring_bo, 1000, 30000);
	if ((c->ca_ns = mc_strdup(cfg->ca_namespace)) == NULL ||
	    (c->td = mc_strdup(cfg->trust_domain)) == NULL ||
	    (c->identity = mc_strdup(cfg->identity)) == NULL ||
	    (c->actor = mc_malloc(strlen(cfg->identity) + 16)) == NULL) {
		mc_err_set(e, MC_ST_NOMEM, 0, "controller: out of memory");
		goto fail;
	}
	snprintf(c->actor, strlen(cfg->identity) + 16, "meshcad:%s",
	    cfg->identity);
	if ((c->sel = daemon_selector_parse(cfg->namespace_selector, e)) ==
	    NULL)
		goto fail;
	/* The cluster first: without one there is nothing to do, and no
	 * ledger file should be left behind. */
	c->kcfg = cfg->kubeconfig != NULL ?
	    k8s_config_from_kubeconfig(cfg->kubeconfig, NULL, e) :
	    k8s_config_in_cluster(NULL, e);
	if (c->kcfg == NULL || open_ledger(c, e) == -1)
		goto fail;
	memset(&co, 0, sizeof(co));
	co.max_in_flight = CTL_MAX_INFLIGHT + 16;
	co.on_error = api_error;
	co.on_error_arg = c;
	if ((c->cl = k8s_client_new(c->kcfg, &co, e)) == NULL)
		goto fail;
	snprintf(fsel, sizeof(fsel), "metadata.name=%s",
	    DAEMON_REVOCATIONS_CM);
	if ((c->ns_inf = informer(c, &k8s_res_namespaces, NULL, NULL, NULL,
	    on_ns, e)) == NULL ||
	    (c->sa_inf = informer(c, &k8s_res_serviceaccounts, NULL, NULL,
	    NULL, on_sa, e)) == NULL ||
	    (c->sec_inf = informer(c, &k8s_res_secrets, NULL,
	    DAEMON_MANAGED_SELECTOR, NULL, on_secret, e)) == NULL ||
	    (c->cm_inf = informer(c, &k8s_res_configmaps, NULL,
	    DAEMON_MANAGED_SELECTOR, NULL, on_cm, e)) == NULL ||
	    (c->rev_inf = informer(c, &k8s_res_configmaps, c->ca_ns, NULL,
	    fsel, on_rev, e)) == NULL)
		goto fail;
	memset(&eo, 0, sizeof(eo));
	eo.namespace = c->ca_ns;
	eo.name = DAEMON_LEASE;
	eo.identity = c->identity;
	eo.lease_duration_ms = cfg->lease_duration;
	eo.renew_deadline_ms = cfg->renew_deadline;
	eo.retry_period_ms = cfg->retry_period;
	eo.on_started = leader_started;
	eo.on_stopped = leader_stopped;
	eo.arg = c;
	if ((c->el = k8s_elector_start(c->cl, &eo, e)) == NULL)
		goto fail;
	daemon_metric_set(c->m->leader, NULL, 0);
	ca_fetch(c);
	k8s_timer_arm(c->cl, &c->tick, CTL_TICK_MS, tick, c);
	return c;
fail:
	daemon_controller_free(c);
	return NULL;
}

/*
 * The ledger transaction of a turn failed to commit: nothing it recorded
 * is durable, so none of its writes may reach the API server (a Secret
 * would carry a key whose certificate the ledger does not hold, and a
 * revocation would be lost). The requests are still queued in libcurl
 * (k8s_client_run_once() sends them), so cancelling them here means no
 * byte left; every item of the turn is retried later.
 */
static void
turn_abort(struct daemon_controller *c, uint64_t ms)
{
	struct item *it;
	size_t i;

	for (i = 0; i < c->nturn; i++) {
		it = c->turn[i];
		if (it->inflight) {
			k8s_request_cancel(c->cl, it->req);
			it->inflight = false;
			it->req = NULL;
			c->ninflight--;
			if (it->cause == CAUSE_REVOKED)
				it->force = true;
		}
		it->new_serial[0] = '\0';
		mc_free(it->sup);
		it->sup = NULL;
		it->swept = false;
		it->dirty = false;
		retry_later(c, it, ms);
	}
	c->nturn = 0;
}

int
daemon_controller_run_once(struct daemon_controller *c, int timeout_ms,
    struct mc_err *e)
{
	struct item *it;
	struct mc_err le;
	size_t n = 0;
	uint64_t t0 = k8s_now_ms(), ms;

	/*
	 * One ledger transaction per turn, not one per leaf: with
	 * synchronous=FULL each commit is an fsync, which bounded a large
	 * reconcile. Requests started below are only queued on the libcurl
	 * multi handle (curl_multi_add_handle does no I/O; the transfers
	 * run in k8s_client_run_once), so committing before that call keeps
	 * the rule that a Secret is never published with a key whose
	 * certificate is not durably in the ledger.
	 */
	if (c->leader && c->term_ready && c->synced &&
	    c->ca_state == CA_READY && !c->stopping && c->qhead != NULL &&
	    c->ninflight <= CTL_LOW_WATER && t0 >= c->ledger_retry_ms) {
		if (store_begin(c->db, &le) == -1) {
			(void)ledger_failed(c);
			mc_log_warnx("ledger: %s; work deferred", le.msg);
			goto run;
		}
		c->nturn = 0;
		while (n < CTL_BATCH && c->ninflight < CTL_MAX_INFLIGHT &&
		    k8s_now_ms() - t0 < CTL_SLICE_MS &&
		    (it = dequeue(c)) != NULL) {
			n++;
			c->turn[c->nturn++] = it;
			if (it->kind == ITEM_SA)
				reconcile_sa(c, it);
			else if (c->crl_pem != NULL)
				reconcile_cm(c, it);
			else
				retry_later(c, it, CTL_REQUEUE_MS);
		}
		if (store_commit(c->db, &le) == -1) {
			ms = ledger_failed(c);
			mc_log_warnx("ledger: commit of %zu item%s failed: %s; "
			    "their writes are cancelled and retried", n,
			    n == 1 ? "" : "s", le.msg);
			turn_abort(c, ms);
		} else if (c->ledger_retry_ms <= t0)
			k8s_backoff_reset(&c->ledger_bo); /* none refused */
		c->nturn = 0;
	}
run:
	if (!c->leader && c->synced && c->ca_state == CA_READY &&
	    c->ihead != NULL) {
		import_run(c);
		if (c->ihead != NULL)
			timeout_ms = 0;
	}
	if (n > 0 && c->nqueued > 0 && c->ninflight <= CTL_LOW_WATER)
		timeout_ms = 0;
	return k8s_client_run_once(c->cl, timeout_ms, e);
}

void
daemon_controller_set_config(struct daemon_controller *c,
    struct daemon_config *cfg)
{
	struct daemon_selector *sel;
	struct mc_err e;

	c->cfg = cfg;
	c->bundle_gen++; /* the Secret format may have changed: judge all */
	if ((sel = daemon_selector_parse(cfg->namespace_selector, &e)) ==
	    NULL)
		mc_log_warnx("reload: %s; keeping the old selector", e.msg);
	else {
		daemon_selector_free(c->sel);
		c->sel = sel;
	}
	full_resync(c);
}

bool
daemon_controller_ready(const struct daemon_controller *c,
    const char **reason)
{
	if (c->ca_state != CA_READY) {
		*reason = "loading CA material";
		return false;
	}
	if (!c->synced) {
		*reason = "watches not synced";
		return false;
	}
	*reason = c->leader ? "leader" : "standby";
	return true;
}

bool
daemon_controller_is_leader(const struct daemon_controller *c)
{
	return c->leader;
}

void
daemon_controller_stop(struct daemon_controller *c, uint64_t drain_ms)
{
	uint64_t end = k8s_now_ms() + drain_ms;
	struct mc_err e;

	c->stopping = true;
	while (c->ninflight > 0 && k8s_now_ms() < end)
		if (k8s_client_run_once(c->cl, 50, &e) == -1)
			break;
	if (c->ninflight > 0)
		mc_log_warnx("stop: %zu writes still in flight, abandoned",
		    c->ninflight);
	k8s_elector_release(c->el);
	end = k8s_now_ms() + 2000;
	while (!k8s_elector_released(c->el) && k8s_now_ms() < end)
		if (k8s_client_run_once(c->cl, 50, &e) == -1)
			break;
	c->leader = false;
}

void
daemon_controller_free(struct daemon_controller *c)
{
	struct item *it, *next;
	size_t i;

	if (c == NULL)
		return;
	if (c->cl != NULL) {
		k8s_timer_cancel(c->cl, &c->tick);
		k8s_timer_cancel(c->cl, &c->ca_timer);
	}
	k8s_elector_free(c->el);
	json_decref(c->rev_done);
	json_decref(c->rev_seq);
	k8s_informer_free(c->ns_inf);
	k8s_informer_free(c->sa_inf);
	k8s_informer_free(c->sec_inf);
	k8s_informer_free(c->cm_inf);
	k8s_informer_free(c->rev_inf);
	k8s_client_free(c->cl);
	k8s_config_free(c->kcfg);
	for (i = 0; i < c->tabsz; i++)
		for (it = c->tab[i]; it != NULL; it = next) {
			next = it->hnext;
			mc_free(it->pub_rv);
			mc_free(it->pend);
			mc_free(it->sup);
			mc_free(it->key);
			mc_free(it->ns);
			mc_free(it->name);
			mc_free(it);
		}
	mc_free(c->tab);
	ca_issuer_free(c->issuer);
	ca_signer_free(c->signer);
	ca_authority_free(c->auth);
	meshca_verifier_free(c->verifier);
	mc_free(c->root_pem);
	mc_free(c->bundle_json);
	mc_free(c->chain_pem);
	mc_free(c->crl_pem);
	mc_free(c->extra_roots);
	mc_free(c->kids);
	json_decref(c->retiring_want);
	store_close(c->db);
	ca_kek_clear(&c->kek);
	daemon_selector_free(c->sel);
	mc_free(c->ca_ns);
	mc_free(c->td);
	mc_free(c->identity);
	mc_free(c->actor);
	mc_free(c);
}
