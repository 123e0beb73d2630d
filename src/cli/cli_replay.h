/*
 * cli_replay.h - driving a replay from a subcommand (`replay`, and `run`,
 * which replays between its spool and prune steps): the options they
 * share, the journal lock, connecting and running, the report of entries
 * that need an operator, and the exit status that follows.
 *
 * Exit statuses (sysexits): 0 everything done; 1 failed, blocked or
 * needs-review entries wait for an operator; 75 entries left pending for a
 * later run (cluster unreachable, time budget spent) or the journal busy;
 * 77 permission denied by the cluster.
 */
#ifndef REFTRACK_CLI_REPLAY_H
#define REFTRACK_CLI_REPLAY_H

#include <stdint.h>

#include <reftrack/journal.h>
#include <reftrack/replay.h>

#include "cli.h"

/* getopt_long codes, clear of each subcommand's own (which count up from
 * CLI_OPT_FIRST_FREE). */
enum {
	CLI_OPT_INFLIGHT = 0x180,
	CLI_OPT_MAX_ATTEMPTS,
	CLI_OPT_MAX_TIME,
	CLI_OPT_WAIT,
};

#define CLI_REPLAY_LONGOPTS                                                     \
	{ "inflight", required_argument, NULL, CLI_OPT_INFLIGHT },             \
	{ "max-attempts", required_argument, NULL, CLI_OPT_MAX_ATTEMPTS },     \
	{ "max-time", required_argument, NULL, CLI_OPT_MAX_TIME },             \
	{ "wait", optional_argument, NULL, CLI_OPT_WAIT }

struct cli_replay_args {
	rt_replay_opts opts;  /* max_time_ms as given; run splits it */
	int wait_ms;          /* for the lock: 0 none, -1 for ever */
};

void cli_replay_args_init(struct cli_replay_args *a);
/* Applies one getopt_long result if it is one of CLI_REPLAY_LONGOPTS:
 * returns 1 if it was, 0 if not; exits 64 on a malformed value. */
int cli_replay_option(struct cli_replay_args *a, int opt, const char *arg);

/* Takes the journal lock, waiting as `wait_ms` says.  0, or the exit
 * status after logging why (75 when another process holds it). */
int cli_replay_lock(rt_journal_lock **lock, rt_journal *j, int wait_ms);

/* Connects with `conn` and applies the journal's pending entries (the
 * caller holds the lock).  `stats` is filled in any case.  Returns 0 when
 * the replay ran (whatever the entries' fates), else the exit status after
 * logging why: 75 cluster unreachable (nothing was touched), 77 permission,
 * or the journal error's status.  A progress bar is drawn on stderr when it
 * is a terminal and the log is text (cli_progress.h), and finished before
 * this returns. */
int cli_replay_apply(rt_replay_stats *stats, rt_journal *j,
                     const struct cli_conn *conn, const rt_replay_opts *opts);

/* As cli_replay_apply(), but with `predict` a dry run
 * (rt_replay_predict()): nothing is written.  The bar says "dry run". */
int cli_replay_drive(rt_replay_stats *stats, rt_journal *j,
                     const struct cli_conn *conn, const rt_replay_opts *opts,
                     rt_replay_predict_fn predict, void *predict_arg);

/* Entries a run has settled so far (done, failed, blocked, needs review). */
uint64_t cli_replay_settled(const rt_replay_stats *s);

/* Failed, needs-review and blocked entries in the journal now; with
 * `report`, the first few are logged (event "entry.attention", warning)
 * with their errors. */
uint64_t cli_replay_attention(rt_journal *j, int report);

/* Counts the entries only a replay can move on: *pending (pending and in
 * flight) and *need (those and blocked ones, judged again at the start of
 * a replay).  0 or the journal's error code (message in the journal). */
int cli_replay_waiting(rt_journal *j, uint64_t *pending, uint64_t *need);

/* The exit status of a replay that ran: 77 if it had entries refused for
 * lack of permission, else 1 if `attention`, else 75 if it did not finish,
 * else 0. */
int cli_replay_status(const rt_replay_stats *stats, uint64_t attention);

#endif
