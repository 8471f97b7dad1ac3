/*
 * rfc3339.c: a strict parser for RFC 3339 date-times (section 5.6, the
 * "date-time" production), used by "meshca verify --at". The input comes
 * from the command line and is trusted for nothing: every field is
 * checked for its digit count and range, the day against its month and
 * year, and nothing may follow the offset. The conversion to seconds
 * since the epoch is done here (days from the civil date) rather than
 * with timegm(), which is neither C11 nor POSIX.
 */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "cli/rfc3339.h"
#include "common/status.h"

/* Reports the rule s breaks; returns -1. */
static int
bad(struct mc_err *e, const char *s, const char *rule)
{
	mc_err_set(e, MC_ST_USAGE, 0, "%s: %s", s, rule);
	return -1;
}

/* Reads exactly n decimal digits at *p, advancing *p. */
static bool
digits(const char **p, int n, int *out)
{
	int v = 0;

	while (n-- > 0) {
		if (**p < '0' || **p > '9')
			return false;
		v = v * 10 + (**p - '0');
		(*p)++;
	}
	*out = v;
	return true;
}

static bool
is_leap(int y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

/* RFC 3339 5.7: "date-mday 01-28, 01-29, 01-30, 01-31 based on month/year". */
static int
month_days(int y, int m)
{
	static const int days[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31,
		30, 31 };

	return m == 2 && is_leap(y) ? 29 : days[m - 1];
}

/* Days from 1970-01-01 to y-m-d in the proleptic Gregorian calendar. */
static int64_t
days_from_civil(int y, int m, int d)
{
	int64_t era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

int
cli_rfc3339_parse(const char *s, time_t *out, struct mc_err *e)
{
	const char *p = s;
	int y, mo, d, h, mi, sec, oh = 0, om = 0, sign = 0;
	int64_t t;

	/* full-date = date-fullyear "-" date-month "-" date-mday */
	if (!digits(&p, 4, &y) || *p++ != '-' || !digits(&p, 2, &mo) ||
	    *p++ != '-' || !digits(&p, 2, &d))
		return bad(e, s, "RFC 3339 5.6: expected full-date YYYY-MM-DD");
	if (mo < 1 || mo > 12 || d < 1 || d > month_days(y, mo))
		return bad(e, s, "RFC 3339 5.7: no such date");
	if (*p != 'T' && *p != 't')
		return bad(e, s,
		    "RFC 3339 5.6: expected 'T' between date and time");
	p++;

	/* partial-time = time-hour ":" time-minute ":" time-second */
	if (!digits(&p, 2, &h) || *p++ != ':' || !digits(&p, 2, &mi) ||
	    *p++ != ':' || !digits(&p, 2, &sec))
		return bad(e, s,
		    "RFC 3339 5.6: expected partial-time HH:MM:SS");
	if (h > 23 || mi > 59 || sec > 60)
		return bad(e, s, "RFC 3339 5.7: time out of range");
	if (sec == 60)
		return bad(e, s, "leap seconds are not supported");

	/* time-secfrac = "." 1*DIGIT */
	if (*p == '.') {
		p++;
		if (*p < '0' || *p > '9')
			return bad(e, s,
			    "RFC 3339 5.6: expected digits after '.'");
		while (*p >= '0' && *p <= '9')
			p++;
	}

	/* time-offset = "Z" / time-numoffset */
	if (*p == 'Z' || *p == 'z')
		p++;
	else if (*p == '+' || *p == '-') {
		sign = *p++ == '+' ? 1 : -1;
		if (!digits(&p, 2, &oh) || *p++ != ':' || !digits(&p, 2, &om) ||
		    oh > 23 || om > 59)
			return bad(e, s,
			    "RFC 3339 5.6: bad time-numoffset, expected +HH:MM "
			    "or -HH:MM");
	} else
		return bad(e, s,
		    "RFC 3339 5.6: expected time offset Z, +HH:MM or -HH:MM");
	if (*p != '\0')
		return bad(e, s,
		    "RFC 3339 5.6: trailing characters after the time offset");

	/* RFC 3339 4.2: local time = UTC + offset, so UTC = local - offset. */
	t = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec;
	t -= (int64_t)sign * (oh * 3600 + om * 60);
	if ((int64_t)(time_t)t != t)
		return bad(e, s, "out of range for time_t");
	*out = (time_t)t;
	return 0;
}
