/*
 * cli.h - what the command-line tools share: the one pair of message
 * helpers, the mapping from library errors to sysexits codes, Ceph
 * connection options, and the entry points of reftrack's subcommands.
 *
 * The tools use only the public API in include/reftrack/.
 */
#ifndef REFTRACK_CLI_H
#define REFTRACK_CLI_H

#include <sysexits.h>

#include <reftrack/reftrack.h>

/* Set once from argv[0] (or a fixed name) before any message. */
void cli_set_progname(const char *name);
const char *cli_progname(void);

/* "PROG: message" on stderr.  A format ending in ':' gets
 * " strerror(errno)" appended, as sbase does. */
void cli_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* cli_warn(), then exit(status). */
_Noreturn void cli_die(int status, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* sysexits code for an RT_E* code: 65 bad data, 69 unavailable,
 * 75 temporary failure, 77 permission, 64 for RT_EINVAL from the command
 * line is the caller's business (it knows whether input was argv or data). */
int cli_exit_code(int rt_code);

/* Ceph connection flags shared by every subcommand that talks to a cluster:
 * -c/--conf, --id/-i, --name/-n, --keyring/-k, -p/--pool, -N/--namespace,
 * --op-timeout.  CEPH_CONF and CEPH_ARGS are honoured by the library. */
struct cli_conn {
	rt_connect_opts opts;
	const char *pool;
	const char *ns;
};

/* reftrack subcommands: argv[0] is the subcommand's name; each parses its
 * own options and returns the process exit status. */
int reftrack_cmd_add(int argc, char **argv);
int reftrack_cmd_rm(int argc, char **argv);
int reftrack_cmd_show(int argc, char **argv);
int reftrack_cmd_submit(int argc, char **argv);
int reftrack_cmd_status(int argc, char **argv);
int reftrack_cmd_show_entry(int argc, char **argv);

#endif
