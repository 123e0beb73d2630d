/*
 * cli_msg.c - the tools' only path to stderr, and exit-code mapping.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const char *progname = "reftrack";

void cli_set_progname(const char *name)
{
	const char *slash = strrchr(name, '/');

	progname = slash ? slash + 1 : name;
}

const char *cli_progname(void)
{
	return progname;
}

static void vwarn(const char *fmt, va_list ap)
{
	int saved_errno = errno;
	size_t len = strlen(fmt);

	fprintf(stderr, "%s: ", progname);
	vfprintf(stderr, fmt, ap);
	if (len > 0 && fmt[len - 1] == ':')
		fprintf(stderr, " %s", strerror(saved_errno));
	fputc('\n', stderr);
}

void cli_warn(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vwarn(fmt, ap);
	va_end(ap);
}

void cli_die(int status, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vwarn(fmt, ap);
	va_end(ap);
	exit(status);
}

int cli_exit_code(int rt_code)
{
	switch (rt_code) {
	case RT_OK:
		return EX_OK;
	case RT_EINVAL:
	case RT_ECORRUPT:
	case RT_EFOREIGN:
	case RT_EVERSION:
	case RT_EOVERFLOW:
	case RT_EJOURNAL:
		return EX_DATAERR;
	case RT_ENOTFOUND:
		return EX_NOINPUT;
	case RT_ECONFLICT:
	case RT_ETRANSIENT:
	case RT_EBUSY:
		return EX_TEMPFAIL;
	case RT_EPERM:
		return EX_NOPERM;
	case RT_ENOMEM:
		return EX_OSERR;
	case RT_EIO:
		return EX_IOERR;
	case RT_ECONFIG:
		return EX_CONFIG;
	default:
		/* A code this table does not know is a bug: the one status
		 * that says "please report it". */
		return EX_SOFTWARE;
	}
}

int cli_connect_exit_code(int rt_code, int queued)
{
	if (rt_code == RT_ETRANSIENT && !queued)
		return EX_UNAVAILABLE;
	return cli_exit_code(rt_code);
}

int cli_journal_open(rt_journal **out, const char *dir, unsigned flags)
{
	int rc = rt_journal_open(out, dir, flags);

	if (rc == 0)
		return EX_OK;
	cli_warn("%s", *out ? rt_journal_errmsg(*out) : rt_strerror(rc));
	rt_journal_close(*out);
	*out = NULL;
	return cli_exit_code(rc);
}

int cli_no_operands(const char *cmd, int argc, char **argv, int first)
{
	if (first >= argc)
		return EX_OK;
	cli_warn("%s: unexpected argument '%s'", cmd, argv[first]);
	return EX_USAGE;
}

char *cli_escape(const char *s)
{
	static const char hex[] = "0123456789abcdef";
	size_t len = strlen(s), i, n = 0;
	char *out;

	/* At most 4 bytes of output per byte of input. */
	out = malloc(4 * len + 1);
	if (!out)
		cli_die(EX_OSERR, "out of memory");
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		const char *named = c == '\n' ? "\\n" : c == '\r' ? "\\r"
		                  : c == '\t' ? "\\t" : c == '\\' ? "\\\\"
		                  : c == '"' ? "\\\"" : NULL;

		if (named) {
			out[n++] = named[0];
			out[n++] = named[1];
		} else if (c >= 0x20 && c < 0x7f) {
			out[n++] = (char)c;
		} else {
			out[n++] = '\\';
			out[n++] = 'x';
			out[n++] = hex[c >> 4];
			out[n++] = hex[c & 15];
		}
	}
	out[n] = '\0';
	return out;
}
