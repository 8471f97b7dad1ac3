/*
 * log.c: the programs' log lines, text or JSON (see log.h). Messages and
 * field values are trusted to be C strings and nothing more: they may
 * carry names read from the Kubernetes API or a config file, so every
 * control byte is escaped (no forged lines), bytes that are not UTF-8 are
 * replaced (JSON must be UTF-8, RFC 8259 section 8.1), and anything that
 * looks like a PEM private key is redacted whole. A line is assembled in
 * a fixed buffer on the caller's stack and written with one write(2), so
 * threads never interleave within a line; settings are atomics.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/alloc.h"
#include "common/log.h"

static const char *_Atomic log_progname = "meshca";
static atomic_int log_fd = 2;
static atomic_int log_format = MC_LOG_TEXT;
static atomic_int log_level = MC_LOG_INFO;

/* Bytes kept back so a cut line can still be closed properly. */
#define LOG_RESERVE 64

struct line {
	char buf[MC_LOG_LINE_MAX];
	size_t len;
	size_t limit; /* content may not pass this */
	bool truncated;
};

void
mc_log_init(const char *progname, enum mc_log_format fmt, int level, FILE *fp)
{
	if (progname != NULL)
		atomic_store(&log_progname, progname);
	atomic_store(&log_fd, fp != NULL ? fileno(fp) : 2);
	mc_log_set(fmt, level);
}

void
mc_log_set(enum mc_log_format fmt, int level)
{
	atomic_store(&log_format,
	    fmt == MC_LOG_JSON ? MC_LOG_JSON : MC_LOG_TEXT);
	if (level < MC_LOG_FATAL)
		level = MC_LOG_FATAL;
	if (level > MC_LOG_DEBUG)
		level = MC_LOG_DEBUG;
	atomic_store(&log_level, level);
}

int
mc_log_get_level(void)
{
	return atomic_load(&log_level);
}

static const char *const level_names[] = { "fatal", "warn", "info", "debug" };

int
mc_log_level_parse(const char *s, int *level)
{
	size_t i;

	for (i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++) {
		if (strcmp(s, level_names[i]) == 0) {
			*level = (int)i;
			return 0;
		}
	}
	return -1;
}

int
mc_log_format_parse(const char *s, enum mc_log_format *fmt)
{
	if (strcmp(s, "text") == 0)
		*fmt = MC_LOG_TEXT;
	else if (strcmp(s, "json") == 0)
		*fmt = MC_LOG_JSON;
	else
		return -1;
	return 0;
}

const char *
mc_log_level_name(int level)
{
	if (level < MC_LOG_FATAL || level > MC_LOG_DEBUG)
		return "unknown";
	return level_names[level];
}

const char *
mc_log_format_name(enum mc_log_format fmt)
{
	return fmt == MC_LOG_JSON ? "json" : "text";
}

/*
 * PEM (RFC 7468 section 2) encapsulation boundaries: "-----BEGIN PRIVATE
 * KEY-----", "-----BEGIN EC PRIVATE KEY-----", "-----BEGIN ENCRYPTED
 * PRIVATE KEY-----" and so on all contain both strings.
 */
bool
mc_log_is_key_material(const char *s)
{
	return s != NULL && strstr(s, "-----BEGIN") != NULL &&
	    strstr(s, "PRIVATE KEY") != NULL;
}

/*
 * Length of the well-formed UTF-8 sequence at p (at most n bytes), or 0
 * when it is not one: RFC 3629 section 4 excludes overlong forms,
 * surrogates and code points above U+10FFFF.
 */
static size_t
utf8_len(const unsigned char *p, size_t n)
{
	size_t len, i;
	uint32_t cp;

	if (p[0] < 0x80)
		return 1;
	if (p[0] >= 0xc2 && p[0] <= 0xdf) {
		len = 2;
		cp = p[0] & 0x1f;
	} else if (p[0] >= 0xe0 && p[0] <= 0xef) {
		len = 3;
		cp = p[0] & 0x0f;
	} else if (p[0] >= 0xf0 && p[0] <= 0xf4) {
		len = 4;
		cp = p[0] & 0x07;
	} else
		return 0;
	if (len > n)
		return 0;
	for (i = 1; i < len; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (p[i] & 0x3f);
	}
	if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
	    (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
		return 0;
	return len;
}

/* Appends n bytes whole or not at all; once cut, the line takes no more. */
static bool
line_add(struct line *l, const char *p, size_t n)
{
	if (l->truncated || n > l->limit - l->len) {
		l->truncated = true;
		return false;
	}
	memcpy(l->buf + l->len, p, n);
	l->len += n;
	return true;
}

static bool
line_str(struct line *l, const char *s)
{
	return line_add(l, s, strlen(s));
}

/* Closing text that goes into the reserve; always fits. */
static void
line_close(struct line *l, const char *s)
{
	size_t n = strlen(s);

	if (n > sizeof(l->buf) - l->len)
		n = sizeof(l->buf) - l->len;
	memcpy(l->buf + l->len, s, n);
	l->len += n;
}

/* The body of a JSON string (RFC 8259 section 7), without quotes. */
static void
line_json_body(struct line *l, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n = strlen(s), k;
	char esc[8];

	while (n > 0 && !l->truncated) {
		if (*p == '"' || *p == '\\') {
			esc[0] = '\\';
			esc[1] = (char)*p;
			line_add(l, esc, 2);
			k = 1;
		} else if (*p < 0x20 || *p == 0x7f) {
			switch (*p) {
			case '\n':
				line_add(l, "\\n", 2);
				break;
			case '\r':
				line_add(l, "\\r", 2);
				break;
			case '\t':
				line_add(l, "\\t", 2);
				break;
			default:
				snprintf(esc, sizeof(esc), "\\u%04x", *p);
				line_add(l, esc, 6);
			}
			k = 1;
		} else if ((k = utf8_len(p, n)) == 0) {
			line_add(l, "\\ufffd", 6);
			k = 1;
		} else
			line_add(l, (const char *)p, k);
		p += k;
		n -= k;
	}
}

/*
 * Text: printable bytes and valid UTF-8 as they are, the rest as C-style
 * escapes, so a value can never start a new line. quoted: also escape
 * '"' and '\' (the value is inside double quotes).
 */
static void
line_text_body(struct line *l, const char *s, bool quoted)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n = strlen(s), k;
	char esc[8];

	while (n > 0 && !l->truncated) {
		if (quoted && (*p == '"' || *p == '\\')) {
			esc[0] = '\\';
			esc[1] = (char)*p;
			line_add(l, esc, 2);
			k = 1;
		} else if (*p < 0x20 || *p == 0x7f) {
			if (*p == '\n')
				line_add(l, "\\n", 2);
			else if (*p == '\t')
				line_add(l, "\\t", 2);
			else {
				snprintf(esc, sizeof(esc), "\\x%02x", *p);
				line_add(l, esc, 4);
			}
			k = 1;
		} else if ((k = utf8_len(p, n)) == 0) {
			snprintf(esc, sizeof(esc), "\\x%02x", *p);
			line_add(l, esc, 4);
			k = 1;
		} else
			line_add(l, (const char *)p, k);
		p += k;
		n -= k;
	}
}

static bool
text_needs_quotes(const char *s)
{
	if (*s == '\0')
		return true;
	for (; *s != '\0'; s++) {
		if (*s == ' ' || *s == '"' || *s == '=' || *s == '\\' ||
		    (unsigned char)*s < 0x20)
			return true;
	}
	return false;
}

static bool
is_reserved_key(const char *k)
{
	return strcmp(k, "ts") == 0 || strcmp(k, "level") == 0 ||
	    strcmp(k, "msg") == 0;
}

static void
timestamp(char *out, size_t outlen)
{
	struct timespec ts;
	struct tm tm;
	char date[32];

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(out, outlen, "%.20s.%03dZ", date,
	    (int)(ts.tv_nsec / 1000000 % 1000));
}

static void
line_write(const struct line *l)
{
	int fd = atomic_load(&log_fd);
	size_t off = 0;
	ssize_t n;

	while (off < l->len) {
		n = write(fd, l->buf + off, l->len - off);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			return;
		off += (size_t)n;
	}
}

static void
build_json(struct line *l, const char *ts, int level, const char *msg,
    const struct mc_log_field *f, size_t nf)
{
	size_t i;

	line_str(l, "{\"ts\":\"");
	line_str(l, ts);
	line_str(l, "\",\"level\":\"");
	line_str(l, mc_log_level_name(level));
	line_str(l, "\",\"msg\":\"");
	line_json_body(l, msg);
	if (l->truncated) {
		line_close(l, "\",\"truncated\":true}\n");
		return;
	}
	line_str(l, "\"");
	for (i = 0; i < nf && !l->truncated; i++) {
		const char *v = f[i].value != NULL ? f[i].value : "";
		size_t mark = l->len;

		if (f[i].key == NULL)
			continue;
		if (mc_log_is_key_material(v))
			v = MC_LOG_REDACTED;
		line_str(l, ",\"");
		if (is_reserved_key(f[i].key))
			line_str(l, "field_");
		line_json_body(l, f[i].key);
		line_str(l, "\":\"");
		line_json_body(l, v);
		line_str(l, "\"");
		if (l->truncated)
			l->len = mark; /* drop the half field whole */
	}
	line_close(l, l->truncated ? ",\"truncated\":true}\n" : "}\n");
}

static void
build_text(struct line *l, const char *ts, int level, const char *msg,
    const struct mc_log_field *f, size_t nf)
{
	char head[64];
	size_t i;

	line_str(l, ts);
	line_str(l, " ");
	line_text_body(l, atomic_load(&log_progname), false);
	snprintf(head, sizeof(head), "[%ld]: %s: ", (long)getpid(),
	    mc_log_level_name(level));
	line_str(l, head);
	line_text_body(l, msg, false);
	for (i = 0; i < nf && !l->truncated; i++) {
		const char *v = f[i].value != NULL ? f[i].value : "";
		bool q;

		if (f[i].key == NULL)
			continue;
		if (mc_log_is_key_material(v))
			v = MC_LOG_REDACTED;
		q = text_needs_quotes(v);
		line_str(l, " ");
		line_text_body(l, f[i].key, false);
		line_str(l, q ? "=\"" : "=");
		line_text_body(l, v, q);
		if (q)
			line_str(l, "\"");
	}
	line_close(l, l->truncated ? " [truncated]\n" : "\n");
}

/*
 * The one path every line takes. errnum >= 0 appends its strerror text;
 * func, if set, prefixes the message.
 */
static void vlog(int, int, const char *, const struct mc_log_field *, size_t,
    const char *, va_list) __attribute__((format(printf, 6, 0)));

static void
vlog(int level, int errnum, const char *func, const struct mc_log_field *f,
    size_t nf, const char *fmt, va_list ap)
{
	char msg[MC_LOG_LINE_MAX], ts[64], ebuf[128];
	struct line l;
	size_t off = 0;
	bool cut = false;
	int r;

	if (level > atomic_load(&log_level))
		return;
	if (func != NULL) {
		r = snprintf(msg, sizeof(msg), "%s: ", func);
		off = r > 0 && (size_t)r < sizeof(msg) ? (size_t)r : 0;
	}
	r = vsnprintf(msg + off, sizeof(msg) - off, fmt, ap);
	if (r < 0)
		msg[off] = '\0';
	else if ((size_t)r >= sizeof(msg) - off)
		cut = true;
	if (errnum >= 0) {
		off = strlen(msg);
		if (strerror_r(errnum, ebuf, sizeof(ebuf)) != 0)
			snprintf(ebuf, sizeof(ebuf), "error %d", errnum);
		snprintf(msg + off, sizeof(msg) - off, ": %s", ebuf);
	}
	/*
	 * A message cut before its end might have lost the "PRIVATE KEY"
	 * that would have marked a PEM block, so a cut message with a PEM
	 * boundary in it is redacted too.
	 */
	if (mc_log_is_key_material(msg) ||
	    (cut && strstr(msg, "-----BEGIN") != NULL))
		snprintf(msg, sizeof(msg), "%s", MC_LOG_REDACTED);

	timestamp(ts, sizeof(ts));
	l.len = 0;
	l.limit = sizeof(l.buf) - LOG_RESERVE;
	l.truncated = false;
	if (atomic_load(&log_format) == MC_LOG_JSON)
		build_json(&l, ts, level, msg, f, nf);
	else
		build_text(&l, ts, level, msg, f, nf);
	line_write(&l);
	/* The message may have held a secret we redacted: do not leave it. */
	mc_cleanse(msg, sizeof(msg));
}

void
mc_log_warn(const char *fmt, ...)
{
	int saved = errno;
	va_list ap;

	va_start(ap, fmt);
	vlog(MC_LOG_WARN, saved, NULL, NULL, 0, fmt, ap);
	va_end(ap);
	errno = saved;
}

void
mc_log_warnx(const char *fmt, ...)
{
	int saved = errno;
	va_list ap;

	va_start(ap, fmt);
	vlog(MC_LOG_WARN, -1, NULL, NULL, 0, fmt, ap);
	va_end(ap);
	errno = saved;
}

void
mc_log_info(const char *fmt, ...)
{
	int saved = errno;
	va_list ap;

	va_start(ap, fmt);
	vlog(MC_LOG_INFO, -1, NULL, NULL, 0, fmt, ap);
	va_end(ap);
	errno = saved;
}

void
mc_log_debug_func(const char *func, const char *fmt, ...)
{
	int saved = errno;
	va_list ap;

	va_start(ap, fmt);
	vlog(MC_LOG_DEBUG, -1, func, NULL, 0, fmt, ap);
	va_end(ap);
	errno = saved;
}

void
mc_log_vfields(int level, const struct mc_log_field *fields, size_t nfields,
    const char *fmt, va_list ap)
{
	int saved = errno;

	vlog(level, -1, NULL, fields, nfields, fmt, ap);
	errno = saved;
}

void
mc_log_fields(int level, const struct mc_log_field *fields, size_t nfields,
    const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	mc_log_vfields(level, fields, nfields, fmt, ap);
	va_end(ap);
}

void
mc_fatal(const char *fmt, ...)
{
	int saved = errno;
	va_list ap;

	va_start(ap, fmt);
	vlog(MC_LOG_FATAL, saved, NULL, NULL, 0, fmt, ap);
	va_end(ap);
	exit(1);
}

void
mc_fatalx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(MC_LOG_FATAL, -1, NULL, NULL, 0, fmt, ap);
	va_end(ap);
	exit(1);
}
