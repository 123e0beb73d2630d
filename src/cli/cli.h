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
 *   RT_ECONFLICT, RT_ETRANSIENT, RT_EBUSY,
 *   RT_ELOCKED                           75 try again later
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
 * message (or "journal: " and rt_strerror() when there is no handle: out
 * of memory), sets *out to NULL and
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

/* Ceph connection options, shared by every subcommand that talks to a
 * cluster (the common options, below, fill them in).  CEPH_CONF and
 * CEPH_ARGS are honoured by the library. */
struct cli_conn {
	rt_connect_opts opts;
	const char *pool;
	const char *ns;
};

/* The common options in brief, for the --help of a subcommand that
 * connects (CLI_CONN_USAGE, below, is the full list `reftrack --help`
 * gives). */
#define CLI_CONN_BRIEF_USAGE                                                    \
	"  -c, --conf FILE, -i, --id, --user ID, -n, --name NAME, -k, "         \
	"--keyring FILE,\n"                                                     \
	"      --cluster NAME, --op-timeout DURATION, --CEPH-OPTION VALUE "     \
	"as for every\n"                                                        \
	"                         subcommand (`reftrack --help`)\n"

/* Default bound on connecting and on each cluster operation, so that a dead
 * cluster fails a command instead of hanging it for librados' 300 s. */
#define CLI_DEFAULT_OP_TIMEOUT 30

/* getopt_long codes of long-only options. */
enum {
	CLI_OPT_ID = 0x100,
	CLI_OPT_KEYRING,
	CLI_OPT_OP_TIMEOUT,
	CLI_OPT_JOURNAL,
	CLI_OPT_JSON,
	CLI_OPT_HELP,
	CLI_OPT_FIRST_FREE /* subcommands number their own options from here */
};

#define CLI_CONN_USAGE                                                          \
	"  -c, --conf FILE        Ceph configuration (default: $CEPH_CONF, then\n" \
	"                         /etc/ceph/CLUSTER.conf and Ceph's usual places)\n" \
	"      --cluster NAME     cluster name (default ceph)\n"                  \
	"  -i, --id, --user ID    client id, e.g. admin (also via $CEPH_ARGS)\n"  \
	"  -n, --name NAME        entity name, e.g. client.admin\n"               \
	"  -k, --keyring FILE     keyring to authenticate with\n"                 \
	"  -m MONADDR             monitor address (as --mon-host)\n"              \
	"  -p, --pool POOL        pool holding the trackers\n"                    \
	"  -N, --namespace NS     RADOS namespace (default: none)\n"              \
	"      --op-timeout DURATION  bound on connecting and on each\n"          \
	"                         operation (default 30s; 0 = librados' own)\n"   \
	"      --CEPH-OPTION VALUE  any Ceph configuration option, handed to\n"  \
	"                         librados (--debug-rados 20, --mon-host ADDR,\n" \
	"                         --log-file FILE)\n"

#define CLI_COMMON_USAGE                                                        \
	"      --journal DIR      the journal (default: $REFTRACK_JOURNAL, else\n" \
	"                         /var/lib/reftrack/journal for root,\n"           \
	"                         $XDG_STATE_HOME/reftrack/journal or\n"           \
	"                         ~/.local/state/reftrack/journal for others)\n"  \
	"  -f, --format FORMAT    plain (default), json or json-pretty\n"         \
	"      --json             as --format json\n"

/* Output formats (-f/--format). */
enum cli_format {
	CLI_FORMAT_PLAIN,
	CLI_FORMAT_JSON,
	CLI_FORMAT_JSON_PRETTY,
};

/* The options every subcommand takes, before or after its name, taken out
 * of the command line by cli_common_parse(); a subcommand that does not
 * use one ignores it, so that one shell alias serves every subcommand. */
struct cli_common {
	struct cli_conn conn;   /* conn.opts.ceph_argv: librados overrides */
	const char *journal;    /* --journal; NULL: the default */
	enum cli_format format; /* -f/--format, --json */
};
extern struct cli_common cli_common;

/* Resets cli_common to the defaults (connection: $CEPH_ARGS honoured,
 * CLI_DEFAULT_OP_TIMEOUT). */
void cli_common_init(void);

/* How many words of argv (from argv[i], i < argc) a common option or a
 * librados configuration option uses: 1 or 2; 0 if argv[i] is neither. */
int cli_common_width(int argc, char **argv, int i);

/* The one pre-pass: takes the common options out of argv[1..*argc-1]
 * (argv[0] is the subcommand) wherever they stand, and checks every other
 * option against the subcommand's own getopt_long table `longopts` and
 * `shortopts`: an option neither knows is handed to librados if it is one
 * of its configuration options ("--debug-rados 20", "--log-file=F"), and
 * is otherwise a usage error with a "did you mean".  With longopts NULL the
 * subcommand's options are not checked but left to it.  "--" ends the
 * options.  argv keeps the subcommand's own words in order, *argc shrinks.
 * Returns 0, or EX_USAGE after saying why. */
int cli_common_parse(int *argc, char **argv, const struct option *longopts,
                     const char *shortopts);

/* The closest of `names` (NULL-terminated) to `word` if it is close enough
 * to be a likely typo, else NULL. */
const char *cli_did_you_mean(const char *word, const char *const *names);

/* A usage error of the current subcommand: "PROG: SUB: message", then
 * "try 'PROG SUB --help'".  Returns EX_USAGE. */
int cli_usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* The exit status `status`, after writing the error object in JSON mode
 * if the command failed without writing its output: one object on stdout,
 * {"schema_version": 1, "error": first message, "code": name of the
 * status, "exit": status} (schemas/error.schema.json), besides the text on
 * stderr.  Every exit of a tool goes through here. */
int cli_finish(int status);
/* Records an error message printed elsewhere (the text log) for the JSON
 * error object; the first one recorded is kept. */
void cli_msg_note_error(const char *msg);
const char *cli_msg_first_error(void);
/* The subcommand that messages name (NULL: none yet). */
void cli_set_subcommand(const char *name);
const char *cli_subcommand(void);
/* What cli_die() calls with the status before exit (cli_finish). */
void cli_set_exit_hook(int (*hook)(int status));

/* The versions, as --version prints them, on stdout. */
void cli_print_version(const char *tool);

/* "1 entry" / "2 entries": the count with the singular or plural noun. */
const char *cli_plural(char buf[64], unsigned long long n, const char *one,
                       const char *many);

/* Defaults: $CEPH_ARGS honoured, CLI_DEFAULT_OP_TIMEOUT. */
void cli_conn_init(struct cli_conn *conn);
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
/* Durations, one syntax for every option: a whole number with a unit s,
 * m, h, d or w (30s, 15m, 12h, 7d, 2w), or 0.  A bare number is seconds
 * where the option is a timeout or a time budget (CLI_DUR_BARE_SECONDS:
 * --max-time, --op-timeout, --wait, as in Ceph's own timeouts), and is
 * refused where it bounds what is deleted (--retention, --done-older-than,
 * --batch-retention): "7" there could mean days as well as seconds.
 * CLI_DUR_NEVER also takes "never", which gives -1.  Returns seconds; exits
 * 64 naming `what` otherwise. */
#define CLI_DUR_NEVER 1
#define CLI_DUR_BARE_SECONDS 2
long long cli_parse_duration(const char *what, const char *arg, int flags);
/* Seconds on CLOCK_MONOTONIC, for what the tools time and their
 * deadlines (never the wall clock, which may step). */
double cli_mono_now(void);

/* The usage error for what getopt_long just refused (opterr is 0: this is
 * the one message): "option '--x' needs a value" or "unknown option".
 * Returns EX_USAGE. */
int cli_bad_option(int argc, char **argv, const struct option *longopts);

/* reftrack subcommands: argv[0] is the subcommand's name; each parses its
 * own options (the common ones are gone by then: cli_common) and returns
 * the process exit status.  Their getopt_long tables, for the pre-pass: */
extern const struct option reftrack_tracker_opts[];
extern const struct option reftrack_submit_opts[];
extern const struct option reftrack_status_opts[];
extern const struct option reftrack_show_entry_opts[];
extern const struct option reftrack_replay_opts[];
extern const struct option reftrack_operator_opts[];
extern const struct option reftrack_run_opts[];
extern const struct option reftrack_prune_opts[];
extern const struct option reftrack_export_opts[];
extern const struct option reftrack_check_opts[];
extern const struct option reftrack_backup_opts[];
extern const struct option reftrack_repair_opts[];
extern const struct option reftrack_scan_opts[];
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
int reftrack_cmd_repair(int argc, char **argv);
int reftrack_cmd_scan(int argc, char **argv);

#endif
