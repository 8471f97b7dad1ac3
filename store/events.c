/*
 * events.c: the append-only audit log (see events.h). The database's
 * triggers, not this code, are what keep it append-only.
 */
#include <sqlite3.h>

#include "common/status.h"
#include "store/events.h"

int
store_event_append(struct store_db *db, int64_t at, const char *kind,
    const char *actor, const char *subject, const char *details,
    struct mc_err *e)
{
	sqlite3_stmt *st;
	int ret;

	st = store_stmt(db, STORE_SLOT_EVENT_APPEND, "INSERT INTO events "
	    "(at, kind, actor, subject, details) VALUES (?, ?, ?, ?, ?)", e);
	if (st == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, at);
	sqlite3_bind_text(st, 2, kind, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, actor != NULL ? actor : "unknown", -1,
	    SQLITE_STATIC);
	sqlite3_bind_text(st, 4, subject != NULL ? subject : "", -1,
	    SQLITE_STATIC);
	sqlite3_bind_text(st, 5, details != NULL ? details : "", -1,
	    SQLITE_STATIC);
	ret = store_stmt_step(db, st, "append audit event", e);
	store_stmt_reset(st);
	return ret;
}

struct event_walk {
	int (*cb)(const struct store_event *ev, void *arg, struct mc_err *e);
	void *arg;
};

static int
event_row(sqlite3_stmt *st, void *arg, struct mc_err *e)
{
	struct event_walk *w = arg;
	struct store_event ev;

	ev.id = sqlite3_column_int64(st, 0);
	ev.at = sqlite3_column_int64(st, 1);
	ev.kind = (const char *)sqlite3_column_text(st, 2);
	ev.actor = (const char *)sqlite3_column_text(st, 3);
	ev.subject = (const char *)sqlite3_column_text(st, 4);
	ev.details = (const char *)sqlite3_column_text(st, 5);
	return w->cb(&ev, w->arg, e);
}

int
store_event_list(struct store_db *db, const char *kind,
    int (*cb)(const struct store_event *ev, void *arg, struct mc_err *e),
    void *arg, struct mc_err *e)
{
	struct event_walk w = { cb, arg };
	sqlite3_stmt *st;
	int ret;

	st = store_stmt(db, STORE_SLOT_EVENT_LIST, "SELECT id, at, kind, "
	    "actor, subject, details FROM events WHERE ?1 IS NULL OR "
	    "kind = ?1 ORDER BY id", e);
	if (st == NULL)
		return -1;
	if (kind != NULL)
		sqlite3_bind_text(st, 1, kind, -1, SQLITE_STATIC);
	ret = store_stmt_rows(db, st, "list audit events", event_row, &w, e);
	store_stmt_reset(st);
	return ret;
}
