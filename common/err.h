/*
 * err.h: the internal error record. Internal functions return 0 on
 * success and -1 on failure, and say why through a struct mc_err that
 * the caller owns (NULL allowed). The public API copies it into a
 * struct meshca_error at the boundary.
 */
#ifndef MC_ERR_H
#define MC_ERR_H

#include <stddef.h>

#define MC_ERR_MAX 256

/* Mirrors enum meshca_status / meshca_reason as plain ints so common/
 * stays free of the public headers. */
struct mc_err {
	int status;
	int reason;
	char msg[MC_ERR_MAX];
};

/* Sets status, reason and a printf-formatted message. e may be NULL. */
void mc_err_set(struct mc_err *e, int status, int reason, const char *fmt,
    ...) __attribute__((format(printf, 4, 5)));

/* Prepends "prefix: " to the message already in e. e may be NULL. */
void mc_err_prefix(struct mc_err *e, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Clears e. e may be NULL. */
void mc_err_clear(struct mc_err *e);

#endif /* MC_ERR_H */
