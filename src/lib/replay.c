/*
 * replay.c - applying a journal's entries to the cluster, exactly once:
 * the run (loading entries, the main loop, the stats) and the proof that
 * holds the replayer's files together (see replay_int.h for which file
 * owns what, and src/lib/README for the slot states).
 *
 * Pipeline.  Entries are loaded in seq order from the journal's pending
 * index (never the whole journal: at most `loaded_cap` entries and about
 * `loaded_bytes_cap` bytes of them at a time) and queued on their tracker's
 * slot.  A slot has at most one op outstanding, so the
 * entries of one tracker apply strictly in seq order; up to `inflight`
 * slots have an asynchronous op outstanding on the one cluster connection.
 * A slot's unit of work is a group: its oldest entry and the entries queued
 * behind it.  One read op fetches every key of the group
 * (rt__tio_read_keys), each entry is planned in turn on the state the one
 * before it leaves (rt__plan_make), and the difference between the state
 * read and the state after the last entry is sent as one guarded write
 * (rt__plan_diff).  A group of adds on a tracker believed missing skips the
 * read: planned on "missing", its write is an exclusive create, and EEXIST
 * sends it back to be read (rt__apply_create in replay_apply.c).  A group
 * after our own write to its tracker skips the read too: it is planned on
 * the slot's copy of the tracker, which that write's completion and plan
 * keep exact (tracker_model.h), and its write asserts the copy's version,
 * so a tracker anyone else changed since refuses it and is read
 * (rt__apply_modelled).  Each entry's recorded outcome is the one its own plan
 * gives, which is what applying the entries one by one gives.  A group
 * ends before an entry that would delete the tracker (so a delete is
 * always a group of one: see the proof) and before a recovering entry.
 * Completions are queued by librados' callback thread and handled here, on
 * the caller's thread; the journal's changes are committed by the
 * committer thread (replay_round.c), one batch at a time, while this
 * thread goes on, and this thread reads the journal only when no batch is
 * out.
 *
 * Exactly once, under kill -9 at any instant.  Invariants:
 *  (1) Before a write is sent, each entry of its group is durably
 *      IN_FLIGHT in the journal, with the object version the write is
 *      guarded on and the entry's planned outcome.  One LMDB commit covers
 *      every write of a round, and precedes sending any of them
 *      (replay_round.c; a slot leaves state planned only for committing,
 *      and committing only for writing, once that commit is over).
 *  (2) Every create or update we send also sets, in the same atomic op, the
 *      xattr reftrack.j.<journal id> to the seq of the group's last entry.
 *      Other writers (ceph-csi, the CLI, other journals) never touch it
 *      (replay_round.c).
 *  (3) A tracker's entries run strictly in seq order, and a group is not
 *      started until the one before it is settled in this run's view.  So
 *      while entry E is in flight, no write of this journal carrying a seq
 *      above E's group can reach E's tracker (replay_sched.c: a slot
 *      starts a group only from state idle).
 *  (4) A write whose fate is unknown (the process died, or the op timed
 *      out) is never re-sent blind: its entries are resolved from evidence
 *      first (recovery.c, from replay_apply.c), one at a time, exactly as
 *      after a crash.
 * Proof sketch.  Take an entry E found IN_FLIGHT (after a crash, or after a
 * timeout).  Read its tracker.  If the marker is >= E.seq, by (3) only the
 * write of E's group can have set it, and a write is atomic, so E landed:
 * record the outcome saved by (1).  If the tracker's version equals E's
 * guard, nothing was written since E's read, so E did not land: apply it as
 * new.  If E is an add, applying it again can only add keys that are
 * missing; it never removes, so the worst case (our write landed, then the
 * tracker was deleted and created again by others) is a leaked reference,
 * never a lost one.  If E is a removal and the tracker is gone: if E
 * planned the delete (a group of one), E landed or someone else deleted
 * first, and applying E now would report "deleted" without writing, so
 * both agree; otherwise a removal on a missing tracker writes nothing.  If
 * the marker is there but below E.seq, the object has not been created
 * again since that earlier write of ours, and E's group write would have
 * raised the marker: E did not land.  What is left: a removal, a changed
 * object without our marker.  Either E did not land and others wrote, or E
 * landed and the tracker was deleted and created again since.  If the
 * tracker already shows E's effect, applying E changes nothing, so E is
 * recorded as planned; otherwise applying E might remove a reference that
 * was added after our write, so E goes to NEEDS_REVIEW and its tracker
 * waits for an operator.  Leak rather than delete.
 * With (1) the recorded outcome of a landed entry is the one planned, which
 * is the one an uninterrupted run records.  A write that the OSD refused
 * with a version conflict did not land: its entries go back to pending in
 * the next commit and are read and planned again.
 *
 * Failpoints, for the crash tests (failpoint.h: test build only): the
 * replayer passes after-inflight-commit, mid-window, after-write and
 * final-commit, and its committer thread mid-commit.  A dry run passes
 * none.
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <reftrack/replay.h>

#include "cluster.h"
#include "replay_int.h"
#include "retry.h"

#define DEFAULT_INFLIGHT 128
/* Entry bytes loaded at most, the slots' copies of their trackers
 * counted in (beyond which only one more entry is loaded, so that a
 * single entry larger than this still goes).  A few hundred
 * thousand ordinary entries: the count bound comes first for them; 16 MiB
 * keeps a run of maximum-size entries (20 MiB each, and the tracker state
 * and ops built from one are as large again) to one or two at a time. */
#define LOADED_BYTES_CAP (16 << 20)
#define MARKER_PREFIX "reftrack.j."
/* What stands for the op timeout when the connection has none (see the
 * stall bound in replay.h). */
#define NO_TIMEOUT_SEC 30

/* ---- loading entries ---------------------------------------------------- */

/* What an entry holds in memory: its record and its keys. */
static size_t entry_bytes(const rt_journal_entry *e)
{
	size_t n = sizeof(*e) + strlen(e->pool) + strlen(e->ns) +
	           strlen(e->tracker) + e->nrefs * (sizeof(rt_ref) + 1);
	size_t i;

	for (i = 0; i < e->nrefs; i++)
		n += strlen(e->refs[i].key);
	return n;
}

static int enqueue(struct replay *r, rt_journal_entry *e, int recovering)
{
	struct job *job = calloc(1, sizeof(*job));
	struct slot *s;

	if (!job) {
		rt_journal_entry_free(e);
		return RT_ENOMEM;
	}
	job->e = e;
	job->bytes = entry_bytes(e);
	job->attempts = e->attempts;
	job->recovering = recovering;
	if (recovering) {
		job->guard = e->has_guard ? e->guard_version : 0;
		job->planned = e->outcome;
	}
	s = rt__slot_get(r, e);
	if (!s) {
		rt__job_free(job);
		return RT_ENOMEM;
	}
	if (s->tail)
		s->tail->qnext = job;
	else
		s->head = job;
	s->tail = job;
	r->loaded++;
	r->loaded_bytes += job->bytes;
	/* Started once the whole load is queued (rt__sched_start_queued()),
	 * so that a group can take the entries loaded behind its head. */
	if (!rt__slot_busy(s))
		rt__sched_queue(r, s);
	return 0;
}

/* A dry run reads blocked entries as pending, as a replay would after
 * unblock_all(): two iterators merged in seq order, each with the seq it
 * has read ahead (0: none yet, UINT64_MAX: at its end). */
struct merged_iter {
	rt_journal_iter *it[2];
	uint64_t ahead[2];
};

static int merged_next(struct merged_iter *m, uint64_t *seq)
{
	int i, rc, pick;

	for (i = 0; i < 2; i++) {
		if (!m->it[i] || m->ahead[i] != 0)
			continue;
		rc = rt_journal_iter_next(m->it[i], &m->ahead[i]);
		if (rc == RT_ENOTFOUND)
			m->ahead[i] = UINT64_MAX;
		else if (rc != 0)
			return rc;
	}
	pick = m->it[1] && m->ahead[1] < m->ahead[0] ? 1 : 0;
	if (m->ahead[pick] == UINT64_MAX || m->ahead[pick] == 0)
		return RT_ENOTFOUND;
	*seq = m->ahead[pick];
	m->ahead[pick] = 0;
	return 0;
}

/* Loads entries of `state` from r->next_seq on; while there is room
 * unless `all`. */
static int load(struct replay *r, rt_entry_state state, int recovering,
                int all, int *exhausted)
{
	rt_journal_txn *txn = NULL;
	struct merged_iter m;
	rt_journal_entry *e;
	uint64_t seq;
	int rc;

	*exhausted = 0;
	memset(&m, 0, sizeof(m));
	rc = rt_journal_txn_begin(&txn, r->j, RT_TXN_RDONLY);
	if (rc == 0)
		rc = rt_journal_iter_state(&m.it[0], txn, state, r->next_seq);
	if (rc == 0 && r->dry_run && state == RT_ENTRY_PENDING)
		rc = rt_journal_iter_state(&m.it[1], txn, RT_ENTRY_BLOCKED,
		                           r->next_seq);
	while (rc == 0 && (all || (r->loaded < r->loaded_cap &&
	                           r->loaded_bytes + r->model_bytes <
	                                   r->loaded_bytes_cap))) {
		rc = merged_next(&m, &seq);
		if (rc == RT_ENOTFOUND) {
			*exhausted = 1;
			rc = 0;
			break;
		}
		if (rc == 0)
			rc = rt_journal_entry_get(&e, txn, seq);
		if (rc == 0) {
			r->next_seq = seq + 1;
			rc = enqueue(r, e, recovering);
		}
	}
	rt_journal_iter_free(m.it[0]);
	rt_journal_iter_free(m.it[1]);
	rt_journal_txn_abort(txn);
	if (rc == 0)
		rc = rt__sched_start_queued(r);
	return rc;
}

/* At the start: blocked entries are judged again in this run, behind the
 * failed and needs-review entries that hold their trackers. */
static int unblock_all(void *arg, rt_journal_txn *txn)
{
	rt_journal_iter *it = NULL;
	rt_entry_change ch;
	uint64_t seq;
	int rc;

	(void)arg;
	memset(&ch, 0, sizeof(ch));
	ch.set = RT_CHANGE_STATE;
	ch.state = RT_ENTRY_PENDING;
	rc = rt_journal_iter_state(&it, txn, RT_ENTRY_BLOCKED, 0);
	while (rc == 0 && (rc = rt_journal_iter_next(it, &seq)) == 0)
		rc = rt_journal_entry_update(txn, seq, &ch);
	rt_journal_iter_free(it);
	return rc == RT_ENOTFOUND ? 0 : rc;
}

static int note_blockers(struct replay *r, rt_entry_state state)
{
	rt_journal_txn *txn = NULL;
	rt_journal_iter *it = NULL;
	rt_journal_entry *e = NULL;
	struct slot *s;
	uint64_t seq;
	int rc;

	rc = rt_journal_txn_begin(&txn, r->j, RT_TXN_RDONLY);
	if (rc == 0)
		rc = rt_journal_iter_state(&it, txn, state, 0);
	while (rc == 0 && (rc = rt_journal_iter_next(it, &seq)) == 0) {
		rc = rt_journal_entry_get(&e, txn, seq);
		if (rc != 0)
			break;
		s = rt__slot_get(r, e);
		rt_journal_entry_free(e);
		if (!s) {
			rc = RT_ENOMEM;
			break;
		}
		rt__slot_block(s, seq);
	}
	rt_journal_iter_free(it);
	rt_journal_txn_abort(txn);
	return rc == RT_ENOTFOUND ? 0 : rc;
}

static int count_states(struct replay *r, uint64_t counts[])
{
	rt_journal_txn *txn = NULL;
	int rc = rt_journal_txn_begin(&txn, r->j, RT_TXN_RDONLY);

	if (rc == 0)
		rc = rt_journal_counts(txn, counts);
	rt_journal_txn_abort(txn);
	return rc;
}

/* ---- the run ----------------------------------------------------------- */

static int run(struct replay *r)
{
	uint64_t counts[RT_ENTRY_STATE_SLOTS];
	double next_wake, writes_wake;
	int rc, exhausted, idle;

	/* A dry run changes nothing: load() reads blocked entries as
	 * pending instead. */
	rc = r->dry_run ? 0 : rt_journal_write(r->j, unblock_all, NULL);
	if (rc == 0)
		rc = note_blockers(r, RT_ENTRY_FAILED);
	if (rc == 0)
		rc = note_blockers(r, RT_ENTRY_NEEDS_REVIEW);
	if (rc == 0)
		rc = count_states(r, counts);
	if (rc != 0)
		return rc;
	r->stats->total = counts[RT_ENTRY_PENDING] + counts[RT_ENTRY_IN_FLIGHT];
	if (r->dry_run)
		r->stats->total += counts[RT_ENTRY_BLOCKED];

	/* In-flight entries first, all of them (a run leaves at most one
	 * group per tracker in flight): each is its tracker's oldest
	 * unsettled entry, so loading them first keeps seq order. */
	r->next_seq = 0;
	rc = load(r, RT_ENTRY_IN_FLIGHT, 1, 1, &exhausted);
	r->next_seq = 0;

	r->last_progress = mono_now();
	while (rc == 0) {
		rt__sched_watch(r);
		if (r->opts.max_time_ms && mono_now() >= r->deadline)
			r->stop_starting = 1;
		/* Loaded by the quarter of loaded_cap: a journal read
		 * transaction and index cursor per handful of entries cost
		 * as much as the entries. */
		if (!r->exhausted && !r->stop_starting &&
		    r->loaded + r->loaded_cap / 4 <= r->loaded_cap) {
			/* The journal handle is the committer's while a
			 * commit is out. */
			rc = rt__round_wait(r);
			if (rc == 0)
				rc = load(r, RT_ENTRY_PENDING, 0, 0,
				          &exhausted);
			if (rc == 0 && exhausted)
				r->exhausted = 1;
		}
		if (rc == 0)
			rc = rt__sched_timers(r, &next_wake);
		if (rc == 0)
			rc = rt__sched_start_queued(r);
		if (rc != 0)
			break;
		idle = r->outstanding == 0 && !r->timers.head &&
		       !r->to_write.head && !r->committing.head &&
		       !r->queued.head &&
		       (r->exhausted || r->stop_starting);
		rc = rt__round_run(r, idle, &writes_wake);
		if (rc != 0)
			break;
		if (writes_wake > 0 &&
		    (next_wake == 0 || writes_wake < next_wake))
			next_wake = writes_wake;
		if (r->opts.progress)
			r->opts.progress(r->opts.progress_arg, r->stats);
		if (idle && r->loaded == 0)
			break;
		rc = rt__sched_wait(r, next_wake);
	}
	if (rc == 0 && !r->dry_run)
		rc = count_states(r, counts);
	if (rc == 0) {
		/* A dry run counted what it would leave as it went. */
		if (!r->dry_run)
			r->stats->pending = counts[RT_ENTRY_PENDING] +
			                    counts[RT_ENTRY_IN_FLIGHT];
		r->stats->finished = r->stats->pending == 0;
	}
	return rc;
}

static void free_all(struct replay *r)
{
	rt__slot_free_all(r);
	rt__sched_free(r);
	rt__group_planner_free(&r->gp);
	free(r->greqs);
	free(r->gplanned);
	pthread_cond_destroy(&r->cond);
	pthread_mutex_destroy(&r->lock);
}

static int replay_main(rt_replay_stats *stats, rt_journal *j,
                       rt_cluster *cluster, const rt_replay_opts *opts,
                       rt_replay_predict_fn predict, void *predict_arg)
{
	rt_replay_stats local;
	struct replay r;
	pthread_condattr_t attr;
	int rc;

	if (!stats)
		stats = &local;
	memset(stats, 0, sizeof(*stats));
	memset(&r, 0, sizeof(r));
	r.j = j;
	r.cluster = cluster;
	r.stats = stats;
	if (opts)
		r.opts = *opts;
	if (!r.opts.inflight)
		r.opts.inflight = DEFAULT_INFLIGHT;
	r.retry = rt__retry_replay(r.opts.max_attempts);
	/* Entries queued behind busy trackers are loaded too, up to a bound
	 * that keeps memory flat whatever the journal's size. */
	r.loaded_cap = 16 * (size_t)r.opts.inflight + 4096;
	r.loaded_bytes_cap = LOADED_BYTES_CAP;
	r.window = r.opts.inflight;
	r.deadline = mono_now() + r.opts.max_time_ms / 1000.0;
	if (predict) {
		r.dry_run = 1;
		r.predict = predict;
		r.predict_arg = predict_arg;
		/* Every entry is planned; no crash test stops a dry run. */
		r.opts.max_time_ms = 0;
	}
	if (!cluster || !cluster->connected)
		return rt__jerr(j, RT_EINVAL, "replay needs a connected cluster");
	r.op_timeout = cluster->op_timeout_sec ? cluster->op_timeout_sec
	                                       : NO_TIMEOUT_SEC;
	snprintf(r.marker_name, sizeof(r.marker_name), MARKER_PREFIX "%s",
	         rt_journal_id(j));
	r.nbuckets = 4096;
	r.slots = calloc(r.nbuckets, sizeof(*r.slots));
	r.greqs = calloc(RT__GROUP_MAX_ENTRIES, sizeof(*r.greqs));
	r.gplanned = calloc(RT__GROUP_MAX_ENTRIES, sizeof(*r.gplanned));
	if (!r.slots || !r.greqs || !r.gplanned) {
		free(r.slots);
		free(r.greqs);
		free(r.gplanned);
		return rt__jerr(j, RT_ENOMEM, "out of memory");
	}
	pthread_mutex_init(&r.lock, NULL);
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&r.cond, &attr);
	pthread_condattr_destroy(&attr);

	rc = rt__round_start(&r);
	if (rc == 0)
		rc = run(&r);
	/* Before the drain: a commit still out is waited for, its writes
	 * left unsent (their entries are in flight, for the next run). */
	rt__round_free(&r);
	if (rc != 0 && rt_journal_errmsg(j)[0] == '\0')
		rt__jerr(j, rc, "replay: %s", rt_strerror(rc));
	rt__sched_drain(&r);
	free_all(&r);
	if (opts && opts->progress)
		opts->progress(opts->progress_arg, stats);
	return rc;
}

/* opts (NULL: the defaults) of a version this library knows: 0, or
 * RT_EINVAL saying how to set it. */
static int opts_check(rt_journal *j, const rt_replay_opts *opts)
{
	if (!opts || opts->version == RT_REPLAY_OPTS_VERSION)
		return 0;
	return rt__jerr(j, RT_EINVAL,
	                "rt_replay_opts version %u is not one this library "
	                "knows (%d): set it with RT_REPLAY_OPTS_INIT",
	                opts->version, RT_REPLAY_OPTS_VERSION);
}

int rt_replay_run(rt_replay_stats *stats, rt_journal *j, rt_cluster *cluster,
                  const rt_replay_opts *opts)
{
	rt_journal_lock *taken = NULL;
	int rc;

	if (stats)
		memset(stats, 0, sizeof(*stats));
	if ((rc = opts_check(j, opts)) != 0)
		return rc;
	/* The lock is the library's to check, not a promise of the caller's:
	 * entries must not change under another replay. */
	rc = rt__journal_lock_need(j, &taken);
	if (rc == 0)
		rc = replay_main(stats, j, cluster, opts, NULL, NULL);
	rt_journal_lock_release(taken);
	return rc;
}

int rt_replay_predict(rt_replay_stats *stats, rt_journal *j,
                      rt_cluster *cluster, const rt_replay_opts *opts,
                      rt_replay_predict_fn fn, void *arg)
{
	int rc;

	if (stats)
		memset(stats, 0, sizeof(*stats));
	if ((rc = opts_check(j, opts)) != 0)
		return rc;
	if (!fn)
		return rt__jerr(j, RT_EINVAL, "a dry run needs a callback");
	/* It only reads: no lock, so that it can run beside a replay. */
	return replay_main(stats, j, cluster, opts, fn, arg);
}
