/*
 * emu.h: test helper that runs tests/emulator/kube-apiserver-emulator in a
 * temporary state directory on 127.0.0.1 and talks to its admin
 * endpoints (/_emulator/...).
 */
#ifndef K8S_TEST_EMU_H
#define K8S_TEST_EMU_H

#include <stdbool.h>
#include <sys/types.h>

#include <jansson.h>

#include "k8s/config.h"

struct emu {
	pid_t pid;
	char dir[64];
	char kubeconfig[128];
	struct k8s_config *cfg;
};

/* Path of the python interpreter the emulator needs. */
#define EMU_PYTHON "/usr/bin/python3"

/* True when the emulator can run here (else tests exit 77). */
bool emu_available(void);

/*
 * Starts the emulator (extra: NULL-terminated extra arguments, may be
 * NULL) and waits up to 20 s for DIR/ready. 0 on success.
 */
int emu_start(struct emu *em, const char *const *extra);

/* Kills it and removes the state directory. */
void emu_stop(struct emu *em);

/* POST path with a JSON body (or NULL) as admin; the HTTP code. */
long emu_post(struct emu *em, const char *path, const char *body);

/* GET path as admin and parse the JSON answer (NULL on failure). */
json_t *emu_get(struct emu *em, const char *path);

/* Creates namespace ns (201 or 409 are both fine). */
void emu_namespace(struct emu *em, const char *ns);

#endif /* K8S_TEST_EMU_H */
