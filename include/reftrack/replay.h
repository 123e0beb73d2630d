/*
 * replay.h - applying a journal's pending entries to the cluster.
 *
 * The replayer applies entries of one tracker strictly in seq order and
 * entries of different trackers concurrently, with librados asynchronous
 * operations on one cluster connection.  It can be killed at any instant:
 * the next run resolves what was in flight from evidence on the trackers
 * (see the comment at the top of src/lib/replay.c) and never applies an
 * effect twice or deletes a tracker on a guess.
 */
#ifndef REFTRACK_REPLAY_H
#define REFTRACK_REPLAY_H

#include <signal.h>
#include <stdint.h>

#include "journal.h"
#include "reftrack.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- the journal lock -------------------------------------------------- */

typedef struct rt_journal_lock rt_journal_lock;

/* Takes the journal's exclusive replay lock (flock on DIR/replay.lock), so
 * that one process at a time replays or runs a journal.  The lock dies with
 * its process.  wait_ms: 0 fails at once, -1 waits for ever, else waits up
 * to that long.  rt_replay_run(), rt_replay_retry() and rt_replay_skip()
 * take it themselves for the call unless `j` already holds it: take it
 * here to wait for it, or to hold it across several calls (as `reftrack
 * run` does from its submits to its prune).  The lock may outlive `j`
 * (release it after rt_journal_close(), or before).  Errors: RT_ELOCKED
 * (held: the journal's message names the holder's pid), RT_EIO,
 * RT_ENOMEM. */
RT_EXTERN int rt_journal_lock_take(rt_journal_lock **out, rt_journal *j,
                                   int wait_ms);
RT_EXTERN void rt_journal_lock_release(rt_journal_lock *lock);

/* ---- replay ------------------------------------------------------------ */

typedef struct rt_replay_stats {
	uint64_t applied;      /* entries done in this run */
	uint64_t failed;       /* entries that failed in this run */
	uint64_t denied;       /* of those, refused by the cluster for lack of
	                        * permission (EPERM, EACCES) */
	uint64_t blocked;      /* entries blocked behind a failed one */
	uint64_t needs_review; /* entries left for an operator in this run */
	uint64_t retries;      /* re-reads after conflicts and transient errors */
	uint64_t pending;      /* entries still pending when the run ended */
	uint64_t total;        /* entries this run set out to apply */
	int finished;          /* nothing was left pending */
	int interrupted;       /* the run stopped early because *opts->stop
	                        * became non-zero (see rt_replay_opts) */
	int stalled;           /* the run stopped early because it made no
	                        * progress for the stall bound (see
	                        * rt_replay_run) */
} rt_replay_stats;

/* Versioned as reftrack.h says of options structs. */
#define RT_REPLAY_OPTS_VERSION 1
#define RT_REPLAY_OPTS_INIT { RT_REPLAY_OPTS_VERSION, 0, 0, 0, NULL, NULL, NULL }

typedef struct rt_replay_opts {
	unsigned int version;    /* RT_REPLAY_OPTS_VERSION */
	unsigned inflight;       /* trackers with an operation in flight at
	                          * once; 0: 128 */
	unsigned max_attempts;   /* tries of one entry on transient errors in a
	                          * run before it is left pending; 0: 8 */
	unsigned max_time_ms;    /* 0: no limit; else stop starting entries
	                          * then and leave the rest pending */
	/* Called from the replaying thread now and then, and once at the end;
	 * NULL for none. */
	void (*progress)(void *arg, const rt_replay_stats *stats);
	void *progress_arg;
	/* A graceful stop: NULL for none.  Once *stop is non-zero (e.g. set
	 * by the caller's SIGTERM/SIGINT handler, or from the progress
	 * callback), the replayer starts no new operation, waits for the ops
	 * in flight to complete (at most about the connection's op timeout,
	 * 30 s when it has none; an op still out then is cancelled and its
	 * entries stay in flight, resolved from evidence by the next run, as
	 * after a crash), commits what it learned and returns 0 with
	 * stats->interrupted set.  Entries not started stay pending.  The
	 * flag is read, never written, from the replaying thread. */
	const volatile sig_atomic_t *stop;
} rt_replay_opts;

/* Sets *opts to the defaults of that version with its version.  Errors:
 * RT_EINVAL (a version this library does not know; *opts is left alone). */
RT_EXTERN int rt_replay_opts_init(rt_replay_opts *opts, unsigned int version);

/* Applies every pending and in-flight entry of `j` to `cluster`, under
 * the journal lock: the one `j` holds, or one taken for the call without
 * waiting (RT_ELOCKED when another handle or process holds it; nothing is
 * done then).  Entries whose tracker cannot be changed
 * (permission, missing pool, corrupt or foreign tracker, bad input) are
 * marked failed and later entries of their tracker blocked; other trackers
 * go on.  *stats is filled in any case (may be NULL).
 * Returns 0 when the run ended normally, whatever the entries' fates (see
 * stats), also after a graceful stop or a stall; RT_ELOCKED (above);
 * RT_EINVAL (no connected cluster, or opts of an unknown version; opts
 * may be NULL: the defaults); RT_EJOURNAL / RT_EIO / RT_ENOMEM when
 * the journal itself failed.
 *
 * Stall bound.  When no operation has succeeded and no entry has been
 * settled for four times the connection's op timeout (rt_connect_opts'
 * op_timeout_sec; 2 minutes when it is 0), the replayer stops the way a
 * graceful stop does (see rt_replay_opts.stop), with stats->stalled set:
 * it never grinds on against a cluster that does not answer, and what it
 * leaves is resumable by the next run.  Meanwhile, after each op timeout
 * without progress, it has the client fetch the latest OSD map (an OSD that
 * restarted has a new address), if a monitor answers.
 *
 * In-flight window.  At most opts->inflight trackers have an op out at
 * once.  The replayer halves that window (never below 1) when ops time
 * out, and widens it again by one per window of ops that are answered, so
 * that a lossy network has fewer ops to resend at each reconnection;
 * retries wait for room in the window too.
 */
RT_EXTERN int rt_replay_run(rt_replay_stats *stats, rt_journal *j,
                            rt_cluster *cluster, const rt_replay_opts *opts);

/* ---- dry run ----------------------------------------------------------- */

/* What a replay would do with one entry, as rt_replay_predict() tells it. */
typedef struct rt_replay_prediction {
	const rt_journal_entry *entry; /* as the journal holds it now */
	/* RT_ENTRY_DONE: would be applied, with `outcome`;
	 * RT_ENTRY_FAILED, RT_ENTRY_BLOCKED, RT_ENTRY_NEEDS_REVIEW: would end
	 * so, `error` says why (naming pool, namespace and tracker);
	 * RT_ENTRY_PENDING or RT_ENTRY_IN_FLIGHT: would be left as it is for a
	 * later run (its tracker could not be read), `error` says why. */
	rt_entry_state state;
	rt_entry_outcome outcome;
	const char *error;             /* NULL when DONE */
	int was_in_flight;             /* a write of an earlier run may have
	                                * landed: the fate above is what
	                                * recovery decides from the tracker as
	                                * read now */
} rt_replay_prediction;

/* Called once per entry, in the order a replay settles them (seq order per
 * tracker).  Every pointer in *p is valid during the call only.  A
 * non-zero return stops the dry run, and rt_replay_predict() returns it. */
typedef int (*rt_replay_predict_fn)(void *arg, const rt_replay_prediction *p);

/* A dry run of rt_replay_run(): reads every tracker the pending, in-flight
 * and blocked entries of `j` touch, pipelined as a replay does, and plans
 * every entry with the replayer's own code (grouping, recovery verdicts,
 * blocking behind failures), calling fn for each.  A tracker's later
 * groups are planned on the state the earlier groups' writes would have
 * left.  Nothing is written: no cluster write op is sent and the journal
 * is only read (no journal lock is needed; with a replay running at the
 * same time the prediction is of a moving target).  opts as for
 * rt_replay_run(); max_time_ms is ignored (every entry is planned).  What
 * a dry run cannot see: a write the credentials do not allow (it reads
 * only) and writes by others between the dry run and the replay.
 * *stats counts the predicted fates (applied = would be applied; pending
 * = would be left for a later run).  Memory grows with the keys of the
 * trackers it changes.  Returns 0, fn's non-zero return, RT_EINVAL (no
 * fn, no connected cluster, or opts of an unknown version), or journal
 * errors as rt_replay_run(). */
RT_EXTERN int rt_replay_predict(rt_replay_stats *stats, rt_journal *j,
                                rt_cluster *cluster, const rt_replay_opts *opts,
                                rt_replay_predict_fn fn, void *arg);

/* Operator actions, each recorded on the entry.  rt_replay_retry() puts
 * failed, blocked or needs-review entries back to pending: one entry (seq),
 * every such entry of a batch (batch_id), or all of them (both 0/NULL).
 * rt_replay_skip() marks one entry skipped with a reason, which unblocks
 * its tracker.  *count is the number of entries changed (may be NULL).
 * Both run under the journal lock as rt_replay_run() does, so they never
 * change an entry under a running replay.  Errors: RT_ELOCKED (another
 * handle or process holds the lock; nothing changed), RT_ENOTFOUND,
 * RT_EINVAL (entry in a state that does not allow it, e.g. done), journal
 * errors. */
RT_EXTERN int rt_replay_retry(uint64_t *count, rt_journal *j, uint64_t seq,
                              const char *batch_id);
RT_EXTERN int rt_replay_skip(rt_journal *j, uint64_t seq, const char *reason);

#ifdef __cplusplus
}
#endif

#endif
