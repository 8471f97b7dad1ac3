/*
 * log.h: logging for the programs (meshcad, meshca), in the idiom of
 * OpenBSD httpd's log.c: mc_log_warn appends strerror(errno),
 * mc_log_warnx does not, mc_fatal/mc_fatalx log and exit 1, and
 * mc_log_debug lines start with the calling function's name. Libraries
 * (spiffe/, ca/, store/, k8s/) never call these (STYLE.md rule 9).
 *
 * Two output formats: text, for a terminal,
 *   2026-11-26T14:18:56.123Z meshcad[42]: info: message key=value
 * and JSON lines, for a log collector,
 *   {"ts":"2026-11-26T14:18:56.123Z","level":"info","msg":"message",
 *    "key":"value"}
 * Every line is built in a bounded buffer (MC_LOG_LINE_MAX bytes, so a
 * line written to a pipe is atomic) and written with one write(2); the
 * functions may be called from any thread. A message or field value that
 * looks like PEM private-key material is replaced by
 * "[redacted: key material]" before it is formatted (STYLE.md rule 8).
 *
 * Before mc_log_init() runs, lines go to stderr in text format at level
 * info, under the name "meshca".
 */
#ifndef MC_LOG_H
#define MC_LOG_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

/* Longest line written, newline included; longer lines are cut. */
#define MC_LOG_LINE_MAX 4096

/* What replaces a message or value that carries key material. */
#define MC_LOG_REDACTED "[redacted: key material]"

enum mc_log_format {
	MC_LOG_TEXT = 0,
	MC_LOG_JSON = 1
};

/* Severities, most severe first; a line is written when its level is
 * at most the configured one. Fatal lines are always written. */
enum mc_log_level {
	MC_LOG_FATAL = 0,
	MC_LOG_WARN = 1,
	MC_LOG_INFO = 2,
	MC_LOG_DEBUG = 3
};

/* One key=value field of a structured line. Keys should match
 * [A-Za-z0-9_.-]+; other bytes are escaped. A key that would collide
 * with "ts", "level" or "msg" is written with the prefix "field_". */
struct mc_log_field {
	const char *key;
	const char *value; /* NULL is written as an empty string */
};

/*
 * Sets the program name (kept as a pointer: it must outlive logging),
 * the format, the level and the stream. fp NULL means stderr. May be
 * called again (e.g. on reload); mc_log_set() changes only the format and
 * level.
 */
void mc_log_init(const char *progname, enum mc_log_format fmt, int level,
    FILE *fp);
void mc_log_set(enum mc_log_format fmt, int level);

/* The level now in force. */
int mc_log_get_level(void);

/*
 * Parses "warn", "info" or "debug" (and "fatal"), and "text" or "json".
 * 0 on success, -1 when the name is unknown.
 */
int mc_log_level_parse(const char *s, int *level);
int mc_log_format_parse(const char *s, enum mc_log_format *fmt);

/* Static names of a level and of a format; never NULL. */
const char *mc_log_level_name(int level);
const char *mc_log_format_name(enum mc_log_format fmt);

/* True when s contains PEM private-key material (the redaction rule). */
bool mc_log_is_key_material(const char *s);

void mc_log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void mc_log_warnx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void mc_log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Use mc_log_debug(); the function name is filled in. */
void mc_log_debug_func(const char *func, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
#define mc_log_debug(...) mc_log_debug_func(__func__, __VA_ARGS__)

/*
 * A line with fields: level is one of enum mc_log_level (MC_LOG_FATAL
 * logs but does not exit). nfields may be 0. Example:
 *	struct mc_log_field f[] = {
 *		{ "namespace", ns }, { "serviceaccount", sa } };
 *	mc_log_fields(MC_LOG_INFO, f, 2, "certificate issued");
 */
void mc_log_fields(int level, const struct mc_log_field *fields, size_t nfields,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));
void mc_log_vfields(int level, const struct mc_log_field *fields,
    size_t nfields, const char *fmt, va_list ap)
    __attribute__((format(printf, 4, 0)));

/* Log at level fatal and exit(1); mc_fatal appends strerror(errno). */
void mc_fatal(const char *fmt, ...)
    __attribute__((format(printf, 1, 2), noreturn));
void mc_fatalx(const char *fmt, ...)
    __attribute__((format(printf, 1, 2), noreturn));

#endif /* MC_LOG_H */
