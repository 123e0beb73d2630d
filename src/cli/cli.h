/*
 * cli.h - what the command-line tools share: the one pair of message
 * helpers, the mapping from library errors to sysexits codes, Ceph
 * connection options, and the entry points of reftrack's subcommands.
 *
 * The tools use only the public API in include/reftrack/.
 */
#ifndef REFTRACK_CLI_H
#define REFTRACK_CLI_H

#include <getopt.h>
#include <stddef.h>
#include <sysexits.h>

#include <reftrack/journal.h>
#include <reftrack/reftrack.h>

/* Set once from argv[0] (or a fixed name) before any message. */
void cli_set_progname(const char *name);
const char *cli_progname(void);

/* Called first thing in main(): ignores SIGPIPE, as Ceph's own tools do, so
 * that a write to a socket whose peer is gone fails with EPIPE instead of
 * killing the tool.  librados needs this (reftrack.h, rt_cluster_connect):
 * at start-up it pings an existing admin socket, whose owner may exit
 * between the connect and the write.  A broken stdout pipe then shows as a
 * write error (EX_IOERR), not as death by signal 13. */
void cli_ignore_sigpipe(void);

/* "PROG: message" on stderr.  A format ending in ':' gets
 * " strerror(errno)" appended, as sbase does. */
void cli_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* cli_warn(), then exit(status). */
_Noreturn void cli_die(int status, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* A key or tracker name made safe for text output: every byte that is not
 * printable ASCII, and the backslash and the double quote, written C-style
 * (\n \r \t \\ \" \xNN), so that a name can neither add lines nor drive
 * the terminal.  Returns a malloc'd string (free it); dies on ENOMEM. */
char *cli_escape(const char *s);

/* The one mapping from library errors to exit statuses (sysexits), for
 * every subcommand:
 *   RT_EINVAL, RT_ECORRUPT, RT_EFOREIGN, RT_EVERSION, RT_EOVERFLOW,
 *   RT_EJOURNAL                          65 bad data
 *   RT_ENOTFOUND                         66 no such input
 *   RT_ENOMEM                            71 out of memory
 *   RT_EIO (local I/O, a full disk)      74 I/O error
 *   RT_ECONFLICT, RT_ETRANSIENT, RT_EBUSY  75 try again later
 *   RT_EPERM                             77 permission denied
 *   RT_ECONFIG                           78 Ceph configuration unusable
 *   anything else                        70 a bug: please report it
 * 64 for RT_EINVAL from the command line is the caller's business (it
 * knows whether input was argv or data). */
int cli_exit_code(int rt_code);
/* For rt_cluster_connect() and rt_pool_open() failures: cli_exit_code(),
 * except that a cluster that could not be reached (RT_ETRANSIENT) is 69
 * "unavailable" for the commands that work on it directly (add, rm, show:
 * `queued` 0) and stays 75 for those whose work waits in the journal for a
 * later run (replay, run: `queued` 1). */
int cli_connect_exit_code(int rt_code, int queued);

/* rt_journal_open(out, dir, flags); on failure warns with the journal's
 * message (or rt_strerror() when there is no handle), sets *out to NULL and
 * returns cli_exit_code() of the error.  0 on success. */
int cli_journal_open(rt_journal **out, const char *dir, unsigned flags);

/* Installs SIGBUS and SIGSEGV handlers that turn a fault inside a mapping
 * of a data.mdb (a damaged journal read by LMDB) into a message and exit
 * 65; any other fault keeps the default action (cli_fault.c). */
void cli_fault_guard(void);

/* For a subcommand that takes no operands: EX_OK if argv[first..] is
 * empty (first: getopt's optind), else warns "CMD: unexpected argument
 * 'ARG'" and returns EX_USAGE. */
int cli_no_operands(const char *cmd, int argc, char **argv, int first);

/* Ceph connection flags shared by every subcommand that talks to a cluster:
 * -c/--conf, --id, -n/--name, --keyring, -p/--pool, -N/--namespace,
 * --op-timeout.  CEPH_CONF and CEPH_ARGS are honoured by the library. */
struct cli_conn {
	rt_connect_opts opts;
	const char *pool;
	const char *ns;
};

/* Default bound on connecting and on each cluster operation, so that a dead
 * cluster fails a command instead of hanging it for librados' 300 s. */
#define CLI_DEFAULT_OP_TIMEOUT 30

/* getopt_long codes of the long-only connection flags. */
enum {
	CLI_OPT_ID = 0x100,
	CLI_OPT_KEYRING,
	CLI_OPT_OP_TIMEOUT,
	CLI_OPT_JOURNAL,
	CLI_OPT_JSON,
	CLI_OPT_HELP,
	CLI_OPT_FIRST_FREE /* subcommands number their own options from here */
};

/* Entries for a getopt_long table, and the matching short options. */
#define CLI_CONN_LONGOPTS                                                       \
	{ "conf", required_argument, NULL, 'c' },                              \
	{ "id", required_argument, NULL, CLI_OPT_ID },                         \
	{ "name", required_argument, NULL, 'n' },                              \
	{ "keyring", required_argument, NULL, CLI_OPT_KEYRING },               \
	{ "pool", required_argument, NULL, 'p' },                              \
	{ "namespace", required_argument, NULL, 'N' },                         \
	{ "op-timeout", required_argument, NULL, CLI_OPT_OP_TIMEOUT }
#define CLI_CONN_SHORTOPTS "c:n:p:N:"
#define CLI_CONN_USAGE                                                          \
	"  -c, --conf FILE        Ceph configuration (default: $CEPH_CONF, then\n" \
	"                         Ceph's usual places)\n"                         \
	"      --id ID            client id, e.g. admin (also via $CEPH_ARGS)\n"  \
	"  -n, --name NAME        entity name, e.g. client.admin\n"               \
	"      --keyring FILE     keyring to authenticate with\n"                 \
	"  -p, --pool POOL        pool holding the trackers\n"                    \
	"  -N, --namespace NS     RADOS namespace (default: none)\n"              \
	"      --op-timeout SEC   bound on connecting and on each operation\n"    \
	"                         (default 30; 0 = librados' own defaults)\n"

void cli_conn_init(struct cli_conn *conn);
/* Applies one getopt_long result if it is a connection flag: returns 1 if
 * it was, 0 if not; exits 64 on a malformed value. */
int cli_conn_option(struct cli_conn *conn, int opt, const char *arg);
/* Connects and opens conn->pool (required).  On failure prints why and
 * returns cli_connect_exit_code(code, 0) (69 unreachable, 77 permission,
 * 78 bad configuration, 66 no such pool); on success returns 0 and the
 * caller owns both handles. */
int cli_conn_open(const struct cli_conn *conn, rt_cluster **cluster,
                  rt_pool **pool);
/* Parses a non-negative decimal number of at most `max`; exits 64 naming
 * `what` otherwise. */
unsigned long cli_parse_ulong(const char *what, const char *arg,
                              unsigned long max);
/* Parses a duration: a whole number followed by s, m, h, d or w (30s, 15m,
 * 12h, 7d, 2w), or "0"; with `allow_never`, also "never", which gives -1.
 * A bare number other than 0 is refused: "7" could be days or seconds.
 * Returns seconds; exits 64 naming `what` otherwise. */
long long cli_parse_duration(const char *what, const char *arg,
                             int allow_never);

/* reftrack subcommands: argv[0] is the subcommand's name; each parses its
 * own options and returns the process exit status. */
int reftrack_cmd_add(int argc, char **argv);
int reftrack_cmd_rm(int argc, char **argv);
int reftrack_cmd_show(int argc, char **argv);
int reftrack_cmd_submit(int argc, char **argv);
int reftrack_cmd_status(int argc, char **argv);
int reftrack_cmd_show_entry(int argc, char **argv);
int reftrack_cmd_replay(int argc, char **argv);
int reftrack_cmd_retry(int argc, char **argv);
int reftrack_cmd_skip(int argc, char **argv);
int reftrack_cmd_run(int argc, char **argv);
int reftrack_cmd_prune(int argc, char **argv);
int reftrack_cmd_export(int argc, char **argv);
int reftrack_cmd_check(int argc, char **argv);
int reftrack_cmd_backup(int argc, char **argv);

#endif
