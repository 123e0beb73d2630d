/*
 * cli_msg.c - the tools' only path to stderr, the JSON error object, and
 * exit-code mapping.
 *
 * Messages read "reftrack: SUB: message" once a subcommand is known
 * (subname).  The first message of a run is kept: in JSON mode a
 * command that fails without having written its output writes it as the
 * error object (cli_finish()), so a script reading stdout always gets one
 * JSON document.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const char *progname = "reftrack";
static const char *subname;
static char first_error[1024];
static int (*exit_hook)(int status);

void cli_set_progname(const char *name)
{
	const char *slash = strrchr(name, '/');

	progname = slash ? slash + 1 : name;
}

const char *cli_progname(void)
{
	return progname;
}

void cli_msg_note_error(const char *msg)
{
	if (!first_error[0])
		snprintf(first_error, sizeof(first_error), "%s", msg);
}

const char *cli_msg_first_error(void)
{
	return first_error;
}

void cli_set_subcommand(const char *name)
{
	subname = name;
}

const char *cli_subcommand(void)
{
	return subname;
}

void cli_set_exit_hook(int (*hook)(int status))
{
	exit_hook = hook;
}

static void vwarn(const char *fmt, va_list ap)
{
	int saved_errno = errno;
	size_t len = strlen(fmt), n;
	char msg[2048];

	vsnprintf(msg, sizeof(msg), fmt, ap);
	n = strlen(msg);
	if (len > 0 && fmt[len - 1] == ':')
		snprintf(msg + n, sizeof(msg) - n, " %s", strerror(saved_errno));
	if (subname)
		fprintf(stderr, "%s: %s: %s\n", progname, subname, msg);
	else
		fprintf(stderr, "%s: %s\n", progname, msg);
	cli_msg_note_error(msg);
}

int cli_usage_error(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vwarn(fmt, ap);
	va_end(ap);
	if (subname)
		fprintf(stderr, "try '%s %s --help'\n", progname, subname);
	else
		fprintf(stderr, "try '%s --help'\n", progname);
	return EX_USAGE;
}

const char *cli_plural(char buf[64], unsigned long long n, const char *one,
                       const char *many)
{
	snprintf(buf, 64, "%llu %s", n, n == 1 ? one : many);
	return buf;
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
	if (status == EX_USAGE && subname)
		fprintf(stderr, "try '%s %s --help'\n", progname, subname);
	exit(exit_hook ? exit_hook(status) : status);
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
	case RT_ELOCKED:
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
	if (*out)
		cli_warn("%s", rt_journal_errmsg(*out));
	else
		cli_warn("journal: %s", rt_strerror(rc));
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
