/*
 * buf.h: a growable byte buffer with a ceiling fixed at creation.
 * Appending past the ceiling fails, so input from the network or disk
 * can never grow without bound. The data is always NUL-terminated
 * (the NUL is not counted in len).
 */
#ifndef MC_BUF_H
#define MC_BUF_H

#include <stdbool.h>
#include <stddef.h>

#include "common/err.h"

struct mc_buf {
	char *data;
	size_t len;
	size_t cap;
	size_t max;
	bool secret; /* wipe on free and on regrowth */
};

/* Prepares an empty buffer that may hold at most max bytes. */
void mc_buf_init(struct mc_buf *b, size_t max);

/* As mc_buf_init, for key material: wiped on free and on regrowth. */
void mc_buf_init_secret(struct mc_buf *b, size_t max);

/* Appends n bytes. -1 (status MESHCA_ERR_PARSE-like "too big", or nomem)
 * on failure, leaving the buffer as it was. */
int mc_buf_append(struct mc_buf *b, const void *p, size_t n, struct mc_err *e);

/* Appends a NUL-terminated string. */
int mc_buf_puts(struct mc_buf *b, const char *s, struct mc_err *e);

/* Appends printf-formatted text. */
int mc_buf_printf(struct mc_buf *b, struct mc_err *e, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Drops the first n bytes (n <= len). */
void mc_buf_consume(struct mc_buf *b, size_t n);

/* Empties the buffer, keeping its memory. */
void mc_buf_reset(struct mc_buf *b);

/* Hands the data to the caller (free with mc_free) and empties b. */
char *mc_buf_steal(struct mc_buf *b, size_t *len);

/* Frees the data (wiping it if secret); b may be reused after init. */
void mc_buf_free(struct mc_buf *b);

/*
 * Reads a whole file into b (which must be initialized; its max applies).
 * -1 with a message naming path on failure.
 */
int mc_buf_read_file(struct mc_buf *b, const char *path, struct mc_err *e);

#endif /* MC_BUF_H */
