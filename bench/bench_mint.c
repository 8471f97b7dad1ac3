/*
 * bench_mint.c: meshca's issuing path against bare libcrypto.
 *
 *  ca.mint_vs_libcrypto: the rate of meshca's full mint of EC P-256
 *    leaves (key generation, certificate, signature, certificate and
 *    PKCS#8 PEM, and the ledger write: rows plus audit events, one
 *    transaction per batch of 1,000) divided by the rate of a bare loop
 *    of P-256 key generation plus one ECDSA-SHA256 signature, measured in
 *    interleaved rounds of the same run (20,000 leaves in all). CPU time,
 *    so other builds on the machine do not skew it; the ledger's fsync
 *    waits are not CPU time and are reported apart on stderr.
 *  ca.mint_2threads_scaling: leaves per wall-clock second with two
 *    threads (each its own issuer, one shared signer) over one thread,
 *    for the in-memory mint (everything but the ledger, which is one
 *    writer by design). Meaningful only on an otherwise idle machine
 *    with at least two cores; ca.bare_2threads_scaling, the same ratio
 *    for the bare libcrypto loop measured alongside, shows what the
 *    machine allows at that moment.
 *  ca.mint_vs_cfssl: when cfssl is installed, our single-thread rate
 *    over `cfssl gencert` run once per certificate (~100 runs), which is
 *    how a shell-driven CA built on it issues.
 *  ca.mint_vs_cfssl_serve: the same rate over `cfssl serve` answering
 *    POST /api/v1/cfssl/newcert (key generation and signing on the
 *    server, as our mint does) on 127.0.0.1 to two concurrent clients,
 *    each on one kept-alive connection, for about 3 seconds. cfssl gets
 *    both cores; we are measured on one, ledger included.
 *
 * Trusts nothing but its command line (bench.h).
 */
#include <sys/socket.h>
#include <sys/wait.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "bench/bench.h"
#include "ca/authority.h"
#include "ca/issue.h"
#include "ca/keygen.h"
#include "store/db.h"

#define BATCH 1000

struct ctx {
	struct ca_authority *a;
	struct ca_signer *s;
	struct store_db *db;
	char dir[64];
};

static double
wall_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The baseline: P-256 keygen with a reused context, one ECDSA-SHA256
 * signature over a certificate-sized message with the CA key. */
static void
bare_loop(EVP_PKEY *cakey, long n)
{
	EVP_PKEY_CTX *kctx;
	EVP_MD_CTX *md;
	EVP_PKEY *k;
	unsigned char msg[400], sig[80];
	size_t siglen;
	long i;

	memset(msg, 0x5a, sizeof(msg));
	if ((kctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL)) == NULL ||
	    EVP_PKEY_keygen_init(kctx) <= 0 ||
	    EVP_PKEY_CTX_set_group_name(kctx, "P-256") <= 0 ||
	    (md = EVP_MD_CTX_new()) == NULL)
		bench_die("baseline setup");
	for (i = 0; i < n; i++) {
		k = NULL;
		if (EVP_PKEY_generate(kctx, &k) <= 0)
			bench_die("keygen");
		siglen = sizeof(sig);
		if (EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, cakey) <=
			0 ||
		    EVP_DigestSign(md, sig, &siglen, msg, sizeof(msg)) <= 0)
			bench_die("sign");
		EVP_MD_CTX_reset(md);
		EVP_PKEY_free(k);
	}
	EVP_MD_CTX_free(md);
	EVP_PKEY_CTX_free(kctx);
}

/* n leaves through ca_issue_keypair; with db, recorded in batches. */
static void
mint(struct ctx *c, struct ca_issuer *is, long n, bool ledger,
    double *fsync_wall, double *ledger_cpu)
{
	static __thread struct ca_issued v[BATCH];
	struct ca_issue_req r = { 0 };
	struct mc_err e = { 0 };
	char ns[32];
	long i, k = 0;
	int j;
	double t0, c0;

	r.sa = "web";
	r.ns = ns;
	r.now = (int64_t)time(NULL);
	for (i = 0; i < n; i++) {
		snprintf(ns, sizeof(ns), "ns%ld", i % 500);
		if (ca_issue_keypair(is, &r, &v[k], &e) == -1)
			bench_die("issue: %s", e.msg);
		if (++k == BATCH || i == n - 1) {
			if (ledger) {
				t0 = wall_now();
				c0 = bench_cpu_now();
				if (ca_issue_record(c->db, is, v, (size_t)k,
				    false, "bench", r.now, &e) == -1)
					bench_die("record: %s", e.msg);
				if (ledger_cpu != NULL)
					*ledger_cpu += bench_cpu_now() - c0;
				if (fsync_wall != NULL)
					*fsync_wall += wall_now() - t0;
			}
			for (j = 0; j < k; j++)
				ca_issued_clear(&v[j]);
			k = 0;
		}
	}
}

struct thr {
	struct ctx *c;
	long n;
	bool bare;
};

static void *
thr_main(void *arg)
{
	struct thr *t = arg;
	struct mc_err e = { 0 };
	struct ca_issuer *is;

	if (t->bare) {
		bare_loop(t->c->a->key, t->n);
		return NULL;
	}
	if ((is = ca_issuer_new(t->c->s, t->c->a->id, NULL, &e)) == NULL)
		bench_die("issuer: %s", e.msg);
	mint(t->c, is, t->n, false, NULL, NULL);
	ca_issuer_free(is);
	return NULL;
}

static double
threaded_rate(struct ctx *c, int nthreads, long per_thread, bool bare)
{
	pthread_t th[2];
	struct thr t[2];
	double t0;
	int i;

	t0 = wall_now();
	for (i = 0; i < nthreads; i++) {
		t[i].c = c;
		t[i].n = per_thread;
		t[i].bare = bare;
		if (pthread_create(&th[i], NULL, thr_main, &t[i]) != 0)
			bench_die("pthread_create");
	}
	for (i = 0; i < nthreads; i++)
		pthread_join(th[i], NULL);
	return (double)(nthreads * per_thread) / (wall_now() - t0);
}

/* cfssl gencert, one process per certificate, as a shell CA would. */
static double
cfssl_rate(struct ctx *c, int n)
{
	char cmd[1024];
	struct mc_buf b;
	struct mc_err e = { 0 };
	FILE *fp;
	double t0;
	int i;

	/* cfssl is a separate program, run as a shell CA would run it. */
	/* NOLINTNEXTLINE(cert-env33-c): shell on purpose */
	if (system("command -v cfssl >/dev/null 2>&1") != 0) /* style: allow system */
		return 0;
	mc_buf_init(&b, 1 << 16);
	if (ca_cert_pem(c->a->cert, &b, &e) == -1)
		bench_die("%s", e.msg);
	snprintf(cmd, sizeof(cmd), "%s/ca.pem", c->dir);
	fp = fopen(cmd, "w");
	fputs(b.data, fp);
	fclose(fp);
	mc_buf_reset(&b);
	if (ca_key_pkcs8_pem_openssl(c->a->key, &b, &e) == -1)
		bench_die("%s", e.msg);
	snprintf(cmd, sizeof(cmd), "%s/ca-key.pem", c->dir);
	fp = fopen(cmd, "w");
	fputs(b.data, fp);
	fclose(fp);
	mc_buf_free(&b);
	snprintf(cmd, sizeof(cmd), "%s/csr.json", c->dir);
	fp = fopen(cmd, "w");
	fputs("{\"CN\":\"\",\"hosts\":[\"web.default.svc\"],"
	      "\"key\":{\"algo\":\"ecdsa\",\"size\":256}}\n",
	    fp);
	fclose(fp);
	snprintf(cmd, sizeof(cmd), "%s/cfg.json", c->dir);
	fp = fopen(cmd, "w");
	fputs("{\"signing\":{\"default\":{\"expiry\":\"24h\",\"usages\":"
	      "[\"digital signature\",\"server auth\",\"client auth\"]}}}\n",
	    fp);
	fclose(fp);
	t0 = wall_now();
	for (i = 0; i < n; i++) {
		snprintf(cmd, sizeof(cmd),
		    "cd %s && cfssl gencert -ca ca.pem "
		    "-ca-key ca-key.pem -config cfg.json csr.json "
		    ">out.json 2>/dev/null",
		    c->dir);
		/* NOLINTNEXTLINE(cert-env33-c): shell on purpose */
		if (system(cmd) != 0) /* style: allow system */
			bench_die("cfssl gencert failed");
	}
	return n / (wall_now() - t0);
}

/* One client of cfssl serve: one connection, requests until the deadline. */
struct cfssl_client {
	unsigned short port;
	double deadline;
	long done;
	int failed;
};

static int
connect_port(unsigned short port)
{
	struct sockaddr_in sin;
	int fd;

	if ((fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		return -1;
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons(port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect(fd, (struct sockaddr *)&sin, sizeof(sin)) == -1) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Sends one newcert request and reads the whole response (Content-Length
 * framing, as Go's server sends it); 0 when cfssl said success. */
static int
newcert(int fd)
{
	static const char body[] = "{\"request\":{\"CN\":\"\",\"hosts\":"
	    "[\"web.default.svc\"],\"key\":{\"algo\":\"ecdsa\","
	    "\"size\":256}}}";
	char req[512], buf[16384], *hend, *cl;
	size_t have = 0, need;
	ssize_t n;
	int len;

	len = snprintf(req, sizeof(req), "POST /api/v1/cfssl/newcert "
	    "HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json"
	    "\r\nContent-Length: %zu\r\n\r\n%s", sizeof(body) - 1, body);
	if (write(fd, req, (size_t)len) != len)
		return -1;
	for (;;) {
		if (have == sizeof(buf) - 1)
			return -1;
		if ((n = read(fd, buf + have, sizeof(buf) - 1 - have)) <= 0)
			return -1;
		have += (size_t)n;
		buf[have] = '\0';
		if ((hend = strstr(buf, "\r\n\r\n")) == NULL)
			continue;
		if ((cl = strstr(buf, "Content-Length: ")) == NULL || cl > hend)
			return -1;
		need = (size_t)(hend + 4 - buf) + strtoul(cl + 16, NULL, 10);
		if (need >= sizeof(buf))
			return -1;
		if (have >= need)
			break;
	}
	return strstr(hend, "\"success\":true") != NULL ? 0 : -1;
}

static void *
cfssl_client_run(void *arg)
{
	struct cfssl_client *cl = arg;
	int fd;

	if ((fd = connect_port(cl->port)) == -1) {
		cl->failed = 1;
		return NULL;
	}
	while (wall_now() < cl->deadline) {
		if (newcert(fd) == -1) {
			cl->failed = 1;
			break;
		}
		cl->done++;
	}
	close(fd);
	return NULL;
}

/* cfssl serve over loopback, two clients; 0 when it cannot be run. Uses
 * the CA files cfssl_rate() wrote into c->dir. */
static double
cfssl_serve_rate(struct ctx *c, double seconds)
{
	struct cfssl_client cl[2];
	struct sockaddr_in sin;
	socklen_t sl = sizeof(sin);
	posix_spawn_file_actions_t fa;
	pthread_t th[2];
	char port[16], ca[128], key[128], cfg[128];
	char *args[] = { "cfssl", "serve", "-address", "127.0.0.1", "-port",
		port, "-ca", ca, "-ca-key", key, "-config", cfg, NULL };
	extern char **environ;
	double t0, rate = 0;
	pid_t pid;
	int fd, i, tries;

	/* A free port: bind to 0, read it back, let it go for cfssl. */
	if ((fd = socket(AF_INET, SOCK_STREAM, 0)) == -1)
		bench_die("socket: %s", strerror(errno));
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) == -1 ||
	    getsockname(fd, (struct sockaddr *)&sin, &sl) == -1)
		bench_die("bind: %s", strerror(errno));
	close(fd);
	snprintf(port, sizeof(port), "%u", (unsigned)ntohs(sin.sin_port));
	snprintf(ca, sizeof(ca), "%s/ca.pem", c->dir);
	snprintf(key, sizeof(key), "%s/ca-key.pem", c->dir);
	snprintf(cfg, sizeof(cfg), "%s/cfg.json", c->dir);
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
	if (posix_spawnp(&pid, "cfssl", &fa, NULL, args, environ) != 0) {
		posix_spawn_file_actions_destroy(&fa);
		return 0;
	}
	posix_spawn_file_actions_destroy(&fa);
	for (tries = 0; tries < 200; tries++) { /* up to 10 s to listen */
		if ((fd = connect_port(ntohs(sin.sin_port))) != -1)
			break;
		usleep(50000);
	}
	if (fd == -1)
		goto out;
	for (i = 0; i < 20; i++) /* warm up */
		if (newcert(fd) == -1)
			bench_die("cfssl serve: newcert failed");
	close(fd);
	t0 = wall_now();
	for (i = 0; i < 2; i++) {
		memset(&cl[i], 0, sizeof(cl[i]));
		cl[i].port = ntohs(sin.sin_port);
		cl[i].deadline = t0 + seconds;
		if (pthread_create(&th[i], NULL, cfssl_client_run, &cl[i]) != 0)
			bench_die("pthread_create");
	}
	for (i = 0; i < 2; i++)
		pthread_join(th[i], NULL);
	if (cl[0].failed || cl[1].failed)
		bench_die("cfssl serve: a newcert request failed");
	rate = (double)(cl[0].done + cl[1].done) / (wall_now() - t0);
out:
	kill(pid, SIGTERM);
	waitpid(pid, NULL, 0);
	return rate;
}

int
main(int argc, char *argv[])
{
	const struct bench_opts defaults = { false, 5, 0.5 };
	struct bench_opts o;
	struct ctx c;
	struct ca_kek kek;
	struct mc_err e = { 0 };
	double ratio[BENCH_ROUNDS_MAX], rm[BENCH_ROUNDS_MAX],
	    rb[BENCH_ROUNDS_MAX], sc[BENCH_ROUNDS_MAX], bsc[BENCH_ROUNDS_MAX];
	double t0, tb = 1, tm, fs = 0, lc = 0, r1, r2, mine_wall = 0, cf;
	long nb, nm;
	int r;
	char p[128];

	bench_parse_args(argc, argv, &defaults, &o);
	memset(&c, 0, sizeof(c));
	snprintf(c.dir, sizeof(c.dir), "/tmp/mc-bench-XXXXXX");
	if (mkdtemp(c.dir) == NULL)
		bench_die("mkdtemp");
	snprintf(p, sizeof(p), "%s/kek", c.dir);
	if (ca_kek_create(p, &kek, &e) == -1)
		bench_die("%s", e.msg);
	snprintf(p, sizeof(p), "%s/ledger.db", c.dir);
	if (store_open(p, STORE_CREATE, &c.db, &e) == -1 ||
	    ca_authority_create_root("cluster.local", CA_KEY_EC_P256,
		CA_ROOT_LIFETIME_DEFAULT, (int64_t)time(NULL), &c.a,
		&e) == -1 ||
	    ca_authority_save(c.db, &kek, c.a, STORE_AUTH_ACTIVE,
		(int64_t)time(NULL), "init", "bench", &e) == -1 ||
	    (c.s = ca_authority_signer(c.a, &e)) == NULL)
		bench_die("%s", e.msg);

	/* 20,000 leaves over the rounds (a few in --quick). */
	nm = o.quick ? 20 : 20000 / o.rounds;
	nb = o.quick ? 20 : 4000;
	{
		struct ca_issuer *is = ca_issuer_new(c.s, c.a->id, NULL, &e);

		mint(&c, is, o.quick ? 5 : 500, true, NULL, NULL); /* warm up */
		bare_loop(c.a->key, o.quick ? 5 : 500);
		for (r = 0; r < o.rounds; r++) {
			/* alternate the order, as bench_verify does */
			if (r % 2 == 0) {
				t0 = bench_cpu_now();
				bare_loop(c.a->key, nb);
				tb = bench_cpu_now() - t0;
			}
			t0 = bench_cpu_now();
			{
				double w0 = wall_now();

				mint(&c, is, nm, true, &fs, &lc);
				mine_wall += wall_now() - w0;
			}
			tm = bench_cpu_now() - t0;
			if (r % 2 == 1) {
				t0 = bench_cpu_now();
				bare_loop(c.a->key, nb);
				tb = bench_cpu_now() - t0;
			}
			rb[r] = nb / tb;
			rm[r] = nm / tm;
			ratio[r] = rm[r] / rb[r];
		}
		ca_issuer_free(is);
	}
	bench_report("ca.mint_vs_libcrypto", ratio, (size_t)o.rounds, "ratio");
	bench_report("ca.mint_rate", rm, (size_t)o.rounds, "leaves/s");
	bench_report("ca.bare_keygen_sign_rate", rb, (size_t)o.rounds, "ops/s");
	fprintf(stderr, "# ledger writes: %.1f us CPU and %.1f us wall per "
	    "leaf (rows, audit events, commit with fsync); minting %ld "
	    "leaves took %.3f s wall\n", lc / (double)(nm * o.rounds) * 1e6,
	    fs / (double)(nm * o.rounds) * 1e6, nm * o.rounds, mine_wall);

	for (r = 0; r < o.rounds; r++) {
		long per = o.quick ? 10 : 2000;

		if (r % 2 == 0) {
			r1 = threaded_rate(&c, 1, 2 * per, false);
			r2 = threaded_rate(&c, 2, per, false);
			bsc[r] = threaded_rate(&c, 2, 2 * per, true) /
			    threaded_rate(&c, 1, 4 * per, true);
		} else {
			bsc[r] = threaded_rate(&c, 2, 2 * per, true) /
			    threaded_rate(&c, 1, 4 * per, true);
			r2 = threaded_rate(&c, 2, per, false);
			r1 = threaded_rate(&c, 1, 2 * per, false);
		}
		sc[r] = r2 / r1;
	}
	bench_report("ca.mint_2threads_scaling", sc, (size_t)o.rounds, "ratio");
	bench_report("ca.bare_2threads_scaling", bsc, (size_t)o.rounds,
	    "ratio");

	if (!o.quick) {
		cf = cfssl_rate(&c, 100);
		if (cf > 0) {
			bench_print("ca.mint_vs_cfssl",
			    (nm * o.rounds) / mine_wall / cf, "ratio");
			cf = cfssl_serve_rate(&c, 3.0);
			if (cf > 0) {
				fprintf(stderr, "# cfssl serve: %.0f certs/s "
				    "(two clients)\n", cf);
				bench_print("ca.mint_vs_cfssl_serve",
				    (nm * o.rounds) / mine_wall / cf, "ratio");
			} else
				fprintf(stderr, "# cfssl serve did not start: "
				    "ca.mint_vs_cfssl_serve not measured\n");
		} else
			fprintf(stderr,
			    "# cfssl not installed: "
			    "ca.mint_vs_cfssl not measured\n");
	}
	ca_signer_free(c.s);
	ca_authority_free(c.a);
	store_close(c.db);
	ca_kek_clear(&kek);
	snprintf(p, sizeof(p), "rm -rf '%s'", c.dir);
	/* NOLINTNEXTLINE(cert-env33-c): shell on purpose */
	if (system(p) != 0) /* style: allow system (rm -rf) */
		bench_die("cleanup");
	return 0;
}
