/*
 * b64.c: strict base64 decoding (see b64.h). The input is untrusted
 * (a kubeconfig, a Secret from the API server, a bundle from anywhere):
 * every byte is checked, nothing is read past inlen, and the output
 * buffer is sized from inlen before the first byte is written.
 */
#include <string.h>

#include "common/alloc.h"
#include "common/b64.h"
#include "common/status.h"

/* The value of a base64 digit (RFC 4648 table 1), or -1. */
static int
b64_digit(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

int
mc_b64_decode(const char *in, size_t inlen, unsigned flags, unsigned char **out,
    size_t *outlen, struct mc_err *e)
{
	unsigned char *d = NULL, q[4];
	size_t i, n = 0, o = 0, pad = 0, seen = 0;
	int v, rc = -1;

	/* every 4 characters give at most 3 bytes; +1 for the NUL */
	if ((d = mc_malloc(inlen / 4 * 3 + 4)) == NULL) {
		mc_err_set(e, MC_ST_NOMEM, 0, "out of memory");
		goto out;
	}
	for (i = 0; i < inlen; i++) {
		unsigned char c = (unsigned char)in[i];

		if ((flags & MC_B64_SKIP_CRLF) && (c == '\n' || c == '\r'))
			continue;
		seen++;
		if (c == '=') {
			/* RFC 4648 §3.2: padding only ends the last quantum,
			 * after at least two digits */
			if (n < 2)
				goto bad;
			pad++;
			q[n++] = 0;
		} else {
			if (pad > 0 || (v = b64_digit(c)) == -1)
				goto bad;
			q[n++] = (unsigned char)v;
		}
		if (n == 4) {
			d[o++] = (unsigned char)(q[0] << 2 | q[1] >> 4);
			if (pad < 2)
				d[o++] = (unsigned char)(q[1] << 4 | q[2] >> 2);
			if (pad < 1)
				d[o++] = (unsigned char)(q[2] << 6 | q[3]);
			n = 0;
			if (pad > 0)
				break;
		}
	}
	/* after the padded quantum: only what is skipped */
	for (i++; i < inlen; i++)
		if (!(flags & MC_B64_SKIP_CRLF) ||
		    (in[i] != '\n' && in[i] != '\r'))
			goto bad;
	/* a partial quantum, or nothing where something is required */
	if (n != 0 || (seen == 0 && (flags & MC_B64_NONEMPTY)))
		goto bad;
	d[o] = '\0';
	*out = d;
	*outlen = o;
	d = NULL;
	rc = 0;
	goto out;
bad:
	mc_err_set(e, MC_ST_PARSE, 0,
	    "invalid base64 (RFC 4648 section 4, padded)");
out:
	mc_free(d);
	return rc;
}
