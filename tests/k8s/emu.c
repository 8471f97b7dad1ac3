/*
 * emu.c: runs the Kubernetes API emulator for tests (see emu.h). The
 * emulator is trusted test infrastructure; its admin calls use a plain
 * blocking libcurl handle so they cannot disturb the client under test.
 */
#define _XOPEN_SOURCE 700
#include <errno.h>
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "common/buf.h"
#include "tests/k8s/emu.h"

bool
emu_available(void)
{
	return access(EMU_PYTHON, X_OK) == 0;
}

int
emu_start(struct emu *em, const char *const *extra)
{
	const char *argv[32];
	char ready[128], script[512];
	struct mc_err e = { 0 };
	struct timespec ts = { 0, 50 * 1000 * 1000 };
	int i, n = 0, status;

	memset(em, 0, sizeof(*em));
	snprintf(em->dir, sizeof(em->dir), "/tmp/k8s-emu-XXXXXX");
	if (mkdtemp(em->dir) == NULL)
		return -1;
	snprintf(script, sizeof(script),
	    "%s/tests/emulator/"
	    "kube-apiserver-emulator",
	    TOP_SRCDIR);
	argv[n++] = EMU_PYTHON;
	argv[n++] = script;
	argv[n++] = "--listen";
	argv[n++] = "127.0.0.1:0";
	argv[n++] = "--state-dir";
	argv[n++] = em->dir;
	argv[n++] = "--exit-after";
	argv[n++] = "120";
	for (i = 0; extra != NULL && extra[i] != NULL && n < 30; i++)
		argv[n++] = extra[i];
	argv[n] = NULL;
	if ((em->pid = fork()) == -1)
		return -1;
	if (em->pid == 0) {
		if (getenv("K8S_TEST_EMU_LOG") == NULL) {
			if (freopen("/dev/null", "w", stdout) == NULL ||
			    freopen("/dev/null", "w", stderr) == NULL)
				_exit(127);
		}
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	snprintf(ready, sizeof(ready), "%s/ready", em->dir);
	for (i = 0; i < 400; i++) {
		if (access(ready, F_OK) == 0)
			break;
		if (waitpid(em->pid, &status, WNOHANG) == em->pid) {
			em->pid = 0;
			return -1;
		}
		nanosleep(&ts, NULL);
	}
	if (i == 400)
		return -1;
	snprintf(em->kubeconfig, sizeof(em->kubeconfig), "%s/kubeconfig",
	    em->dir);
	if ((em->cfg = k8s_config_from_kubeconfig(em->kubeconfig, NULL, &e)) ==
	    NULL) {
		fprintf(stderr, "emu: %s\n", e.msg);
		return -1;
	}
	return 0;
}

static int
rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	return remove(path);
}

void
emu_stop(struct emu *em)
{
	struct timespec tick = { 0, 10 * 1000 * 1000 };
	int status, i;

	if (em->pid > 0) {
		/* SIGTERM, then SIGKILL after 5 s: a test never waits
		 * forever for an emulator that does not stop */
		kill(em->pid, SIGTERM);
		for (i = 0; i < 500 && waitpid(em->pid, &status, WNOHANG) == 0;
		    i++)
			nanosleep(&tick, NULL);
		if (i == 500) {
			fprintf(stderr, "emulator %d: no exit 5 s after "
			    "SIGTERM; killed\n", (int)em->pid);
			kill(em->pid, SIGKILL);
			waitpid(em->pid, &status, 0);
		}
		em->pid = 0;
	}
	k8s_config_free(em->cfg);
	em->cfg = NULL;
	if (em->dir[0] != '\0')
		nftw(em->dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	em->dir[0] = '\0';
}

static size_t
sink(char *p, size_t size, size_t n, void *arg)
{
	return mc_buf_append(arg, p, size * n, NULL) == 0 ? size * n : 0;
}

static long
call(struct emu *em, const char *method, const char *path, const char *body,
    struct mc_buf *out)
{
	struct curl_slist *h = NULL;
	struct curl_blob blob;
	struct mc_buf url, auth;
	long code = 0;
	CURL *c;

	mc_buf_init(&url, 4096);
	mc_buf_init(&auth, 4096);
	mc_buf_printf(&url, NULL, "%s%s", em->cfg->server, path);
	mc_buf_printf(&auth, NULL, "Authorization: Bearer %s", em->cfg->token);
	h = curl_slist_append(h, auth.data);
	h = curl_slist_append(h, "Content-Type: application/json");
	c = curl_easy_init();
	curl_easy_setopt(c, CURLOPT_URL, url.data);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	blob.data = em->cfg->ca_data;
	blob.len = em->cfg->ca_data_len;
	blob.flags = CURL_BLOB_COPY;
	curl_easy_setopt(c, CURLOPT_CAINFO_BLOB, &blob);
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 20L);
	curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
	if (body != NULL)
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
	else if (strcmp(method, "POST") == 0)
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, "{}");
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, sink);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, out);
	if (curl_easy_perform(c) == CURLE_OK)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
	curl_easy_cleanup(c);
	curl_slist_free_all(h);
	mc_buf_free(&url);
	mc_buf_free(&auth);
	return code;
}

long
emu_post(struct emu *em, const char *path, const char *body)
{
	struct mc_buf out;
	long code;

	mc_buf_init(&out, 1 << 20);
	code = call(em, "POST", path, body, &out);
	mc_buf_free(&out);
	return code;
}

json_t *
emu_get(struct emu *em, const char *path)
{
	struct mc_buf out;
	json_t *j = NULL;

	mc_buf_init(&out, 64 << 20);
	if (call(em, "GET", path, NULL, &out) == 200)
		j = json_loadb(out.data, out.len, 0, NULL);
	mc_buf_free(&out);
	return j;
}

void
emu_namespace(struct emu *em, const char *ns)
{
	char body[256];

	snprintf(body, sizeof(body), "{\"metadata\":{\"name\":\"%s\"}}", ns);
	emu_post(em, "/api/v1/namespaces", body);
}
