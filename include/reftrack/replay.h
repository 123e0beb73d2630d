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
 * to that long.  Errors: RT_EBUSY (held: the journal's message names the
 * holder's pid), RT_EIO, RT_ENOMEM. */
int rt_journal_lock_take(rt_journal_lock **out, rt_journal *j, int wait_ms);
void rt_journal_lock_release(rt_journal_lock *lock);

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
} rt_replay_stats;

typedef struct rt_replay_opts {
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
} rt_replay_opts;

/* Applies every pending and in-flight entry of `j` to `cluster`.  The
 * caller holds the journal lock.  Entries whose tracker cannot be changed
 * (permission, missing pool, corrupt or foreign tracker, bad input) are
 * marked failed and later entries of their tracker blocked; other trackers
 * go on.  *stats is filled in any case (may be NULL).
 * Returns 0 when the run ended normally, whatever the entries' fates (see
 * stats); RT_EJOURNAL / RT_EIO / RT_ENOMEM when the journal itself failed.
 */
int rt_replay_run(rt_replay_stats *stats, rt_journal *j, rt_cluster *cluster,
                  const rt_replay_opts *opts);

/* Operator actions, each recorded on the entry.  rt_replay_retry() puts
 * failed, blocked or needs-review entries back to pending: one entry (seq),
 * every such entry of a batch (batch_id), or all of them (both 0/NULL).
 * rt_replay_skip() marks one entry skipped with a reason, which unblocks
 * its tracker.  *count is the number of entries changed (may be NULL).
 * Errors: RT_ENOTFOUND, RT_EINVAL (entry in a state that does not allow
 * it, e.g. done), journal errors. */
int rt_replay_retry(uint64_t *count, rt_journal *j, uint64_t seq,
                    const char *batch_id);
int rt_replay_skip(rt_journal *j, uint64_t seq, const char *reason);

#ifdef __cplusplus
}
#endif

#endif
