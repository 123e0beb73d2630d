/*
 * cli_duration.c - durations on the command line ("30s", "7d", "never"),
 * one syntax for every option that takes one, and the one monotonic clock
 * the tools measure theirs with (see cli.h).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"

/* A hundred years: beyond any retention, far from overflowing ns. */
#define MAX_SECONDS (100LL * 366 * 86400)

long long cli_parse_duration(const char *what, const char *arg, int flags)
{
	int allow_never = flags & CLI_DUR_NEVER;
	unsigned long long n;
	long long unit;
	char *end;

	if (allow_never && strcmp(arg, "never") == 0)
		return -1;
	errno = 0;
	n = strtoull(arg, &end, 10);
	if (arg[0] < '0' || arg[0] > '9' || errno != 0)
		goto bad;
	if (*end == '\0') {
		if (n == 0)
			return 0;
		if (!(flags & CLI_DUR_BARE_SECONDS)) {
			cli_die(EX_USAGE,
			        "%s: '%s' needs a unit: %ss (seconds), %sm, %sh, "
			        "%sd or %sw",
			        what, arg, arg, arg, arg, arg, arg);
		}
		if (n > (unsigned long long)MAX_SECONDS)
			goto bad;
		return (long long)n;
	}
	switch (*end) {
	case 's':
		unit = 1;
		break;
	case 'm':
		unit = 60;
		break;
	case 'h':
		unit = 3600;
		break;
	case 'd':
		unit = 86400;
		break;
	case 'w':
		unit = 7 * 86400;
		break;
	default:
		goto bad;
	}
	if (end[1] != '\0' || n > (unsigned long long)(MAX_SECONDS / unit))
		goto bad;
	return (long long)n * unit;
bad:
	cli_die(EX_USAGE,
	        "%s: '%s' is not a duration (a number with s, m, h, d or w, "
	        "e.g. 30s, 15m, 12h, 7d%s%s)",
	        what, arg, flags & CLI_DUR_BARE_SECONDS ? "; bare: seconds" : "",
	        allow_never ? ", or never" : "");
}

double cli_mono_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}
