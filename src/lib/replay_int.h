/*
 * replay_int.h - the replayer's shared state (private).
 *
 * The replayer is split by concern (see src/lib/README):
 *   replay.c        the run: loading entries, the main loop, stats, and the
 *                   exactly-once proof
 *   replay_slot.c   a tracker's slot: the table of slots, the slot states
 *                   and the one function that changes them
 *   replay_sched.c  scheduling: starting groups, the in-flight window,
 *                   backoff timers, completions, stopping
 *   replay_apply.c  what an op's answer means for the group's entries:
 *                   recovery verdicts, planning, settling entries
 *   replay_round.c  the round: the journal changes of a round committed in
 *                   one transaction, then the round's writes sent
 *   replay_group.c  the pure group planner and the dry run's overlay
 * Everything here runs on the caller's thread, except on_complete
 * (replay_sched.c), which librados calls on its own thread and which
 * touches only r->lock, r->cond, r->ready and slot->ready_next, and the
 * committer thread (replay_round.c), which commits the batch the caller's
 * thread hands it (struct round_commit) and touches nothing else.
 */
#ifndef REFTRACK_REPLAY_INT_H
#define REFTRACK_REPLAY_INT_H

#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <rados/librados.h>

#include <reftrack/replay.h>

#include "error.h"
#include "failpoint.h"
#include "journal_int.h"
#include "plan.h"
#include "replay_group.h"
#include "request.h"
#include "retry.h"
#include "tracker_io.h"
#include "tracker_model.h"

/* Bounds on one group, so that one op stays a reasonable size for the OSD
 * and a group's read fits comfortably in a message. */
#define RT__GROUP_MAX_ENTRIES 256
#define RT__GROUP_MAX_KEYS 4096

/* ---- slot states ---------------------------------------------------------
 *
 * What a tracker's slot is doing.  Exactly one at a time; only
 * rt__slot_set_state() changes it, together with the list the slot is on
 * (the list follows from the state) and the count of window shares
 * (r->active).  The legal transitions are the table in replay_slot.c
 * (drawn in src/lib/README). */
enum rt__slot_state {
	RT__SLOT_IDLE,    /* no op; on no list */
	RT__SLOT_QUEUED,  /* has entries, waits for room in the window:
	                   * on r->queued (oldest first) */
	RT__SLOT_READING, /* the group's read is out */
	RT__SLOT_PAGING,  /* a later read of the tracker's census is out */
	RT__SLOT_PLANNED, /* the group's in-flight records wait for the
	                   * next commit to start: on r->to_write */
	RT__SLOT_COMMITTING, /* ... are in the commit the committer thread
	                   * runs; its write waits for it: on r->committing */
	RT__SLOT_WRITING, /* the group's write is out */
	RT__SLOT_BACKOFF, /* waits out a conflict's backoff, keeping its
	                   * window share: on r->timers */
	RT__SLOT_PARKED,  /* waits out a transient error's backoff, its
	                   * window share given up: on r->timers */
	RT__SLOT_NSTATES
};

struct replay;

/* One loaded entry. */
struct job {
	rt_journal_entry *e;
	struct rt__request req;
	int req_ok;
	/* The in-flight record (invariant 1), as the journal holds it. */
	int recovering;
	uint64_t guard;
	rt_entry_outcome planned;
	uint32_t attempts;       /* persisted */
	size_t bytes;            /* what its entry holds (entry_bytes()) */
	struct job *qnext;       /* the next entry of the same tracker */
};

/* A list of slots in one state (see rt__slot_set_state()). */
struct slot_list {
	struct slot *head, *tail;
	size_t n;
};

/* One tracker: its loaded entries and the op in progress for them. */
struct slot {
	struct replay *r;
	char *id;                /* pool NUL ns NUL tracker, for hashing */
	size_t idlen;
	struct slot *hnext;
	enum rt__slot_state state;
	struct slot *prev, *next; /* on the list of its state, if any */
	struct slot *ready_next; /* on r->ready: the callback thread's */
	struct job *head, *tail; /* loaded entries, in seq order */
	size_t ngroup;           /* entries from head in the op in progress */
	/* Holds on the tracker for the rest of the run, whatever the state:
	 * deferred, its entries are left for a later run as they are;
	 * blocked, entries from blocked_by on wait behind a failed one. */
	int deferred;
	int blocked;
	uint64_t blocked_by;
	unsigned transient;      /* transient errors of this group, this run */
	unsigned conflicts;      /* conflicts in a row */
	/* What this run last learned of the tracker from an op of ours:
	 * known, and then whether it exists (see rt__apply_create()). */
	int known, exists;
	int creating;            /* the write out is a create sent without a
	                          * read */
	/* The tracker as our last op left it, when that is known whole
	 * (tracker_model.h): the next group is planned on it without a read
	 * (rt__apply_modelled()).  modelled: the write out was. */
	struct rt__model model;
	size_t model_counted;    /* its bytes, as r->model_bytes has them */
	int modelled;
	rados_ioctx_t io;
	/* Every key of the group, read and written together. */
	struct rt__request ureq;
	int ureq_ok;
	rt_ref *urefs;
	size_t urefs_cap;
	struct rt__tio_read rd;
	struct rt__snapshot snap;
	unsigned char *after;    /* the group's end state, over ureq's keys */
	size_t after_cap;
	struct rt__plan wplan;
	rados_write_op_t wop;
	rados_completion_t comp;
	int op_rc;
	uint64_t op_version;
	uint64_t op_no;          /* r->ops_sent when its op went out */
	double wake_at;
	/* Dry run: the tracker as the group writes not sent would have left
	 * it. */
	struct rt__sim sim;
};

/* The committer thread (replay_round.c).  The caller's thread hands it a
 * batch of changes and goes on handling completions and planning while
 * the commit and its fdatasync run; the writes waiting for the batch
 * (slots in state committing) go out once it is over.  While a batch is
 * handed over, the committer thread owns the journal handle (its one open
 * transaction, the map size) and the batch; the caller's thread touches
 * neither until it has seen `over`. */
struct round_commit {
	pthread_t thread;
	int started;
	pthread_cond_t wake;     /* a batch or quit for the committer */
	/* Under r->lock. */
	int handed;              /* a batch is with the committer */
	int over;                /* ... and committed, or failed: rc */
	int quit;
	int rc;
	/* The batch: the committer's while handed, else the caller's. */
	struct rt__entry_update *updates;
	size_t nupdates, cap_updates;
};

struct ioctx_entry {
	char *pool, *ns;
	rados_ioctx_t io;
	int rc; /* rados_ioctx_create's result; io valid when 0 */
	struct ioctx_entry *next;
};

struct replay {
	rt_journal *j;
	rt_cluster *cluster;
	rt_replay_opts opts;
	rt_replay_stats *stats;
	/* Backoff and the bound on transient errors of one group in a run
	 * (max_attempts): the pool API's policy, with the replay's own
	 * default bound (see retry.h). */
	rt_retry_policy retry;
	char marker_name[64];
	struct ioctx_entry *ioctxs;
	struct slot **slots;
	size_t nbuckets;
	size_t loaded, loaded_cap;
	/* The entries' bytes too: one request may hold 10,000 keys of
	 * 2,048 bytes, so a count alone does not bound memory. */
	size_t loaded_bytes, loaded_bytes_cap;
	/* The slots' copies of their trackers count against the same bound. */
	size_t model_bytes;
	size_t active;           /* slots holding a window share */
	uint64_t next_seq;       /* next pending seq to load */
	int exhausted;           /* no more pending entries to load */
	int stop_starting;
	double deadline;
	/* Stopping early (a stop request or a stall): start nothing, settle
	 * what is out until settle_by, then cancel it. */
	int draining;
	int cancelled;
	double settle_by;
	double op_timeout;       /* seconds; a default when none is set */
	double last_progress;    /* an op answered or an entry settled */
	double map_asked;        /* when the latest OSD map was last asked for */
	/* The in-flight window (AIMD): at most `window` slots hold a share,
	 * between 1 and opts.inflight; halved once per window of ops on
	 * time-outs. */
	double window;
	uint64_t ops_sent;
	uint64_t cut_at;         /* ops_sent at the last halving */
	/* How often groups of adds found their tracker missing lately
	 * (exponentially weighted, 0 to 1; see rt__apply_create()). */
	double missing_rate;
	/* Filled by librados' callback thread, under lock. */
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct slot *ready;
	size_t outstanding;      /* ops sent, completion not yet handled */
	/* This thread's lists, one per state that has one. */
	struct slot_list queued, timers, to_write, committing;
	double writes_since;     /* when to_write's oldest slot joined it */
	/* Changes for the next commit (the next batch). */
	struct rt__entry_update *updates;
	size_t nupdates, cap_updates;
	struct round_commit commit;
	int unmarked;            /* a queued change puts entries back to
	                          * pending: commit it with the next round */
	/* Scratch for planning a group. */
	struct rt__group_planner gp;
	const struct rt__request **greqs;  /* RT__GROUP_MAX_ENTRIES */
	rt_entry_outcome *gplanned;        /* RT__GROUP_MAX_ENTRIES */
	/* Dry run: nothing is written; each entry's fate goes to predict. */
	int dry_run;
	rt_replay_predict_fn predict;
	void *predict_arg;
	char errbuf[RT__ERRMSG_MAX];
};

/* ---- small helpers ------------------------------------------------------ */

/* The library's one monotonic clock (retry.h). */
#define mono_now() rt__mono_now()

/* Failpoints, for the crash tests (failpoint.h: test build only; the names
 * are listed at the top of replay.c).  A dry run writes nothing, so no
 * crash test stops one. */
#define failpoint(r, name) \
	do { \
		if (!(r)->dry_run) \
			RT_FAILPOINT(name); \
	} while (0)

/* ---- replay_slot.c: slots and their states ------------------------------ */

/* Whether `from` -> `to` is in the table of legal transitions. */
int rt__slot_transition_ok(enum rt__slot_state from, enum rt__slot_state to);
/* "idle", "queued", ... */
const char *rt__slot_state_name(enum rt__slot_state state);
/* Moves s to state `to`: off the list of its old state, onto the list of
 * the new one, and r->active counts its window share.  An illegal
 * transition is a bug in the replayer: it aborts, naming both states,
 * unless NDEBUG is defined (as assert(3)). */
void rt__slot_set_state(struct replay *r, struct slot *s,
                        enum rt__slot_state to);
/* Whether the slot has a group in progress (any state but idle and
 * queued). */
int rt__slot_busy(const struct slot *s);

/* The slot of e's tracker, created on first use; NULL when out of
 * memory. */
struct slot *rt__slot_get(struct replay *r, const rt_journal_entry *e);
/* Unlinks and frees a slot that holds nothing for the rest of the run. */
void rt__slot_release_if_idle(struct replay *r, struct slot *s);
/* Frees every slot and its entries (the end of a run). */
void rt__slot_free_all(struct replay *r);
void rt__job_free(struct job *job);
/* Frees a loaded job that is done with, and takes it off the counts of
 * what is loaded. */
void rt__job_unload(struct replay *r, struct job *job);
/* The slot's copy of its tracker changed: its bytes, counted against the
 * replayer's memory bound (r->model_bytes), follow. */
void rt__slot_model_counted(struct replay *r, struct slot *s);
/* Entries of the slot's tracker from seq on are blocked behind it. */
void rt__slot_block(struct slot *s, uint64_t seq);
/* The job of the group's last entry. */
const struct job *rt__slot_group_last(const struct slot *s);

/* ---- replay_sched.c: scheduling ----------------------------------------- */

/* Puts the slot on the queue of slots to start, once. */
void rt__sched_queue(struct replay *r, struct slot *s);
/* Starts queued slots while the window has room. */
int rt__sched_start_queued(struct replay *r);
/* Starts the slot's next group, settling on the way what cannot run. */
int rt__sched_start_slot(struct replay *r, struct slot *s);
/* The slot's op is over; go on with its next group. */
int rt__sched_next_group(struct replay *r, struct slot *s);
/* Leaves the slot's entries for a later run, as the journal has them. */
int rt__sched_defer(struct replay *r, struct slot *s);
/* A transient error: try again after a backoff, or leave it for later. */
int rt__sched_transient(struct replay *r, struct slot *s);
/* Waits ms before the slot reads its group again (conflict backoff). */
void rt__sched_backoff(struct replay *r, struct slot *s, unsigned ms);
/* Sends the read of the slot's group (0 also when its head was settled
 * instead), or the next page of its census.  0, RT_ENOMEM, or the
 * settling's error. */
int rt__sched_send_read(struct replay *r, struct slot *s);
int rt__sched_send_page(struct replay *r, struct slot *s);
/* Hands an op to librados: rt__sched_op_begin() makes its completion and
 * moves the slot to state `to` (0 or RT_ENOMEM); rt__sched_op_sent()
 * takes the result of the librados call that sent it (a negative errno
 * completes it at once with that error). */
int rt__sched_op_begin(struct replay *r, struct slot *s,
                       enum rt__slot_state to);
void rt__sched_op_sent(struct slot *s, int rc);
/* Backoffs that are due; *next_wake the earliest still waiting (0: none). */
int rt__sched_timers(struct replay *r, double *next_wake);
/* Waits for something to do: handles the completed ops (waiting for one
 * until next_wake, 0: a second), or sleeps until next_wake when only
 * backoffs are waiting.  0, or the error of handling a completion. */
int rt__sched_wait(struct replay *r, double next_wake);
/* The stop flag, the stall bound and the settling bound. */
void rt__sched_watch(struct replay *r);
/* Waits for every op still out, dropping the results. */
void rt__sched_drain(struct replay *r);
/* Closes the pools the run opened. */
void rt__sched_free(struct replay *r);

/* ---- replay_apply.c: answers and entries -------------------------------- */

/* Whether the slot's next group, if it starts with an add, is to be sent
 * as a create without a read (the slot is idle, before choose_group). */
int rt__apply_want_create(const struct replay *r, const struct slot *s);
/* Plans the chosen group (adds only) on a missing tracker and hands its
 * create to the round.  *queued 0: not a create after all (the caller
 * reads).  0 or an error. */
int rt__apply_create(struct replay *r, struct slot *s, int *queued);

/* Whether the slot's next group is to be planned on the slot's copy of
 * its tracker rather than on a read (the slot is idle, before
 * choose_group). */
int rt__apply_want_modelled(const struct replay *r, const struct slot *s);
/* Plans the chosen group on the copy and hands its guarded write to the
 * round.  *queued 0: the copy cannot prove the plan (the caller reads).
 * 0 or an error. */
int rt__apply_modelled(struct replay *r, struct slot *s, int *queued);

/* A read (group or census page) or a write of the slot completed. */
int rt__apply_read(struct replay *r, struct slot *s);
int rt__apply_write(struct replay *r, struct slot *s);
/* Records the fate of the slot's head entry and drops it from the slot. */
int rt__settle_head(struct replay *r, struct slot *s, rt_entry_state state,
                    const rt_entry_outcome *outcome, const char *error);
int rt__fail_head(struct replay *r, struct slot *s, const char *msg);
/* Dry run: tells the caller what would become of one entry. */
int rt__predict_one(struct replay *r, const struct job *job,
                    rt_entry_state state, const rt_entry_outcome *outcome,
                    const char *error);
/* Sets r->errbuf to "pool 'P' namespace 'N' tracker 'T': " + text. */
const char *rt__describe(struct replay *r, const rt_journal_entry *e,
                         const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* ---- replay_round.c: the round ------------------------------------------ */

/* Queues one entry's journal change for the round's commit. */
int rt__round_queue(struct replay *r, uint64_t seq,
                    const rt_entry_change *change, const char *error);
/* The slot's group is planned with a write: its entries' in-flight
 * records join the round's commit, and the slot waits for the send
 * (state planned). */
int rt__round_add(struct replay *r, struct slot *s);
/* The slot's group was refused by a conflict: back to pending in the
 * round's commit. */
int rt__round_unmark(struct replay *r, struct slot *s);
/* The round: once the commit out is over, sends the writes that waited
 * for it (invariant 1), then hands every queued change and the planned
 * slots to the next commit when the planned writes are due.  idle:
 * nothing else is left to do, so the run's last commit is waited for.
 * *wake: when planned writes left waiting are due (0: none are).  0, or
 * the journal's error. */
int rt__round_run(struct replay *r, int idle, double *wake);
/* Whether a commit is out (with the committer thread). */
int rt__round_committing(const struct replay *r);
/* Waits for the commit out, if any, and sends the writes that waited for
 * it: afterwards this thread may use the journal.  0, or the commit's
 * error (the writes are then not sent). */
int rt__round_wait(struct replay *r);
/* Starts the committer thread: 0 or RT_ENOMEM. */
int rt__round_start(struct replay *r);
/* Waits for the commit out (sending nothing), stops the committer thread
 * and frees the changes still queued. */
void rt__round_free(struct replay *r);

#endif
