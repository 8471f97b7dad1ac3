/*
 * err.c: the internal error record. Formats messages into a fixed-size
 * buffer; truncation is silent and always leaves a NUL-terminated string.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "common/err.h"

void
mc_err_set(struct mc_err *e, int status, int reason, const char *fmt, ...)
{
	va_list ap;

	if (e == NULL)
		return;
	e->status = status;
	e->reason = reason;
	va_start(ap, fmt);
	vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
	va_end(ap);
}

void
mc_err_prefix(struct mc_err *e, const char *fmt, ...)
{
	char old[MC_ERR_MAX];
	va_list ap;
	size_t n, olen;
	int r;

	if (e == NULL)
		return;
	memcpy(old, e->msg, sizeof(old));
	old[sizeof(old) - 1] = '\0';
	va_start(ap, fmt);
	r = vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
	va_end(ap);
	n = r < 0 ? 0 : (size_t)r;
	if (n >= sizeof(e->msg) - 2)
		return;
	e->msg[n++] = ':';
	e->msg[n++] = ' ';
	olen = strlen(old);
	if (olen > sizeof(e->msg) - n - 1)
		olen = sizeof(e->msg) - n - 1;
	memcpy(e->msg + n, old, olen);
	e->msg[n + olen] = '\0';
}

void
mc_err_clear(struct mc_err *e)
{
	if (e == NULL)
		return;
	e->status = 0;
	e->reason = 0;
	e->msg[0] = '\0';
}
