/*
 * buf.c: bounded growable buffers (see buf.h). Trusts nothing about the
 * sizes it is given: every addition is checked for overflow and against
 * the ceiling.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "common/alloc.h"
#include "common/buf.h"
#include "common/status.h"

void
mc_buf_init(struct mc_buf *b, size_t max)
{
	memset(b, 0, sizeof(*b));
	b->max = max;
}

void
mc_buf_init_secret(struct mc_buf *b, size_t max)
{
	mc_buf_init(b, max);
	b->secret = true;
}

static int
mc_buf_reserve(struct mc_buf *b, size_t n, struct mc_err *e)
{
	size_t need, ncap;
	char *p;

	if (n > SIZE_MAX - 1 - b->len || b->len + n > b->max) {
		mc_err_set(e, MC_ST_PARSE, 0, "input larger than %zu bytes",
		    b->max);
		return -1;
	}
	need = b->len + n + 1;
	if (need <= b->cap && b->data != NULL)
		return 0;
	ncap = b->cap < 256 ? 256 : b->cap;
	while (ncap < need)
		ncap = ncap > SIZE_MAX / 2 ? need : ncap * 2;
	if (ncap > b->max + 1)
		ncap = b->max + 1;
	if (b->secret) {
		if ((p = mc_malloc(ncap)) == NULL)
			goto nomem;
		if (b->data != NULL) {
			memcpy(p, b->data, b->len + 1);
			mc_free_secret(b->data, b->cap);
		}
	} else if ((p = mc_realloc(b->data, ncap)) == NULL)
		goto nomem;
	b->data = p;
	b->cap = ncap;
	return 0;
nomem:
	mc_err_set(e, MC_ST_NOMEM, 0, "out of memory");
	return -1;
}

int
mc_buf_append(struct mc_buf *b, const void *p, size_t n, struct mc_err *e)
{
	if (mc_buf_reserve(b, n, e) == -1)
		return -1;
	if (n > 0)
		memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
	return 0;
}

int
mc_buf_puts(struct mc_buf *b, const char *s, struct mc_err *e)
{
	return mc_buf_append(b, s, strlen(s), e);
}

int
mc_buf_printf(struct mc_buf *b, struct mc_err *e, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0) {
		mc_err_set(e, MC_ST_INTERNAL, 0, "formatting failed");
		return -1;
	}
	if (mc_buf_reserve(b, (size_t)n, e) == -1)
		return -1;
	va_start(ap, fmt);
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
	return 0;
}

void
mc_buf_consume(struct mc_buf *b, size_t n)
{
	if (n >= b->len) {
		mc_buf_reset(b);
		return;
	}
	memmove(b->data, b->data + n, b->len - n);
	b->len -= n;
	b->data[b->len] = '\0';
}

void
mc_buf_reset(struct mc_buf *b)
{
	if (b->data != NULL) {
		if (b->secret)
			mc_cleanse(b->data, b->cap);
		b->data[0] = '\0';
	}
	b->len = 0;
}

char *
mc_buf_steal(struct mc_buf *b, size_t *len)
{
	char *p = b->data;

	if (p == NULL)
		p = mc_strdup("");
	if (len != NULL)
		*len = b->data != NULL ? b->len : 0;
	b->data = NULL;
	b->len = b->cap = 0;
	return p;
}

void
mc_buf_free(struct mc_buf *b)
{
	if (b->secret && b->data != NULL)
		mc_free_secret(b->data, b->cap);
	else
		mc_free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
}

int
mc_buf_read_file(struct mc_buf *b, const char *path, struct mc_err *e)
{
	char chunk[16384];
	ssize_t n;
	int fd, rc = -1;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		mc_err_set(e, MC_ST_IO, 0, "%s: %s", path, strerror(errno));
		return -1;
	}
	for (;;) {
		n = read(fd, chunk, sizeof(chunk));
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			mc_err_set(e, MC_ST_IO, 0, "%s: %s", path,
			    strerror(errno));
			goto out;
		}
		if (n == 0)
			break;
		if (mc_buf_append(b, chunk, (size_t)n, e) == -1) {
			mc_err_prefix(e, "%s", path);
			goto out;
		}
	}
	if (b->data == NULL && mc_buf_append(b, "", 0, e) == -1)
		goto out;
	rc = 0;
out:
	mc_cleanse(chunk, sizeof(chunk));
	close(fd);
	return rc;
}
