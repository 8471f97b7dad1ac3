/*
 * rfc3339.h: strict RFC 3339 (section 5.6) date-time parsing for the
 * command line's --at options.
 */
#ifndef CLI_RFC3339_H
#define CLI_RFC3339_H

#include <stddef.h>
#include <time.h>

#include "common/err.h"

/*
 * Parses the NUL-terminated s as an RFC 3339 date-time,
 * "YYYY-MM-DDTHH:MM:SS[.frac](Z|+HH:MM|-HH:MM)" ('t' and 'z' may be
 * lower case, RFC 3339 5.6 NOTE), and stores the second it names, in
 * seconds since the epoch, in *out (fractions are dropped). Years run
 * 0000-9999; a leap second (":60") is refused because time_t cannot
 * name it. -1 with status MC_ST_USAGE and the rule broken otherwise.
 */
int cli_rfc3339_parse(const char *s, time_t *out, struct mc_err *e);

#endif /* CLI_RFC3339_H */
