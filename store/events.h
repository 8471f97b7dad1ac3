/*
 * events.h: the append-only audit log: every issuance, revocation,
 * rotation and CRL, with who or what asked. The schema's triggers refuse
 * UPDATE and DELETE on it.
 */
#ifndef STORE_EVENTS_H
#define STORE_EVENTS_H

#include <stdint.h>

#include "common/err.h"
#include "store/db.h"

/* Appends one event; subject and details may be NULL. */
int store_event_append(struct store_db *db, int64_t at, const char *kind,
    const char *actor, const char *subject, const char *details,
    struct mc_err *e);

struct store_event {
	int64_t id;
	int64_t at;
	const char *kind;
	const char *actor;
	const char *subject;
	const char *details;
};

/* Calls cb for every event of kind (NULL: all) in order; the row is
 * borrowed for the call. */
int store_event_list(struct store_db *db, const char *kind,
    int (*cb)(const struct store_event *ev, void *arg, struct mc_err *e),
    void *arg, struct mc_err *e);

#endif /* STORE_EVENTS_H */
