/*
 * replay.c - applying a journal's entries to the cluster, exactly once.
 *
 * Pipeline.  Entries are loaded in seq order from the journal's pending
 * index (never the whole journal: at most `loaded_cap` at a time) and queued
 * on their tracker's slot.  A slot has at most one op outstanding, so the
 * entries of one tracker apply strictly in seq order; up to `inflight`
 * slots have an asynchronous op outstanding on the one cluster connection.
 * A slot's unit of work is a group: its oldest entry and the entries queued
 * behind it.  One read op fetches every key of the group
 * (rt__tio_read_keys), each entry is planned in turn on the state the one
 * before it leaves (rt__plan_make), and the difference between the state
 * read and the state after the last entry is sent as one guarded write
 * (rt__plan_diff).  Each entry's recorded outcome is the one its own plan
 * gives, which is what applying the entries one by one gives.  A group
 * ends before an entry that would delete the tracker (so a delete is
 * always a group of one: see the proof) and before a recovering entry.
 * Completions are queued by librados' callback thread and handled here, on
 * the caller's thread, which is the only one touching the journal.
 *
 * Exactly once, under kill -9 at any instant.  Invariants:
 *  (1) Before a write is sent, each entry of its group is durably
 *      IN_FLIGHT in the journal, with the object version the write is
 *      guarded on and the entry's planned outcome.  One LMDB commit covers
 *      every write of a round, and precedes sending any of them.
 *  (2) Every create or update we send also sets, in the same atomic op, the
 *      xattr reftrack.j.<journal id> to the seq of the group's last entry.
 *      Other writers (ceph-csi, the CLI, other journals) never touch it.
 *  (3) A tracker's entries run strictly in seq order, and a group is not
 *      started until the one before it is settled in this run's view.  So
 *      while entry E is in flight, no write of this journal carrying a seq
 *      above E's group can reach E's tracker.
 *  (4) A write whose fate is unknown (the process died, or the op timed
 *      out) is never re-sent blind: its entries are resolved from evidence
 *      first (recovery.c), one at a time, exactly as after a crash.
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
 * final-commit.  A dry run passes none.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <rados/librados.h>

#include <reftrack/replay.h>

#include "cluster.h"
#include "error.h"
#include "failpoint.h"
#include "journal_int.h"
#include "plan.h"
#include "recovery.h"
#include "request.h"
#include "retry.h"
#include "tracker_io.h"

#define DEFAULT_INFLIGHT 128
#define DEFAULT_MAX_ATTEMPTS 8
/* Conflicts in a row on one tracker before it is left for a later run; a
 * tracker hammered by other writers still converges thanks to the
 * backoff, and a livelock ends in "pending". */
#define MAX_CONFLICTS 200
/* Bounds on one group, so that one op stays a reasonable size for the OSD
 * and a group's read fits comfortably in a message. */
#define GROUP_MAX_ENTRIES 256
#define GROUP_MAX_KEYS 4096
#define MARKER_PREFIX "reftrack.j."
/* The stall bound, in op timeouts (see replay.h), and what stands for the
 * op timeout when the connection has none. */
#define STALL_TIMEOUTS 4
#define NO_TIMEOUT_SEC 30
/* How long a stopping run waits for its ops beyond the op timeout before
 * it cancels them, and how often it looks at the stop flag meanwhile. */
#define SETTLE_SLACK_SEC 2.0
#define STOP_POLL_SEC 0.2
/* How often a retry waiting for room in the in-flight window looks. */
#define WINDOW_WAIT_SEC 0.02

enum phase { PHASE_IDLE, PHASE_READ, PHASE_WRITE, PHASE_WAIT };

struct ioctx_entry {
	char *pool, *ns;
	rados_ioctx_t io;
	int rc; /* rados_ioctx_create's result; io valid when 0 */
	struct ioctx_entry *next;
};

struct replay;

/* Dry run: what the writes a replay would have sent did to one tracker.
 * A later group of the tracker reads the cluster, which still holds the
 * state before them, and sees it through this overlay instead, so each
 * entry is planned on the state a real replay would read. */
struct sim_key {
	char *key;
	size_t len;
	unsigned char type;      /* 0 absent, else RT_REF_* */
};

struct sim {
	int valid;               /* a simulated write went before */
	int exists;
	uint32_t refcount;
	uint64_t marker;         /* the marker the write would have set */
	/* The whole-omap census the write would have left (see
	 * rt__snapshot_check()): listed keys of each type, and "". */
	uint64_t nnormal, nmask;
	unsigned char empty_type;
	int wiped;               /* deleted since the read: keys not in
	                          * keys[] are absent */
	struct sim_key *keys;    /* sorted by (len, bytes) */
	size_t nkeys, cap;
};

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
	struct job *qnext;       /* the next entry of the same tracker */
};

/* One tracker: its loaded entries and the op in progress for them. */
struct slot {
	struct replay *r;
	char *id;                /* pool NUL ns NUL tracker, for hashing */
	size_t idlen;
	struct slot *hnext;
	struct job *head, *tail; /* loaded entries, in seq order */
	size_t ngroup;           /* entries from head in the op in progress */
	int busy;                /* a group is being worked on */
	int parked;              /* busy, but waiting out a backoff outside
	                          * the in-flight window */
	int stopped;             /* left for a later run: start nothing more */
	int blocked;             /* an earlier entry failed or needs review */
	uint64_t blocked_by;
	int kicked;              /* waits on the list of slots to start */
	unsigned transient;      /* transient errors of this group, this run */
	unsigned conflicts;      /* conflicts in a row */
	enum phase phase;
	rados_ioctx_t io;
	/* Every key of the group, read and written together. */
	struct rt__request ureq;
	int ureq_ok;
	rt_ref *urefs;
	size_t urefs_cap;
	struct rt__tio_read rd;
	int paging;              /* rd is a later read of the census */
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
	 * it (see sim_overlay()). */
	struct sim sim;
	struct slot *lnext;      /* the ready, timer or to-write list */
	struct slot *knext;      /* the list of slots to start */
};

/* One journal change to commit with the next round. */
struct update {
	uint64_t seq;
	rt_entry_change change;
	char *error;
};

struct replay {
	rt_journal *j;
	rt_cluster *cluster;
	rt_replay_opts opts;
	rt_replay_stats *stats;
	char marker_name[64];
	struct ioctx_entry *ioctxs;
	struct slot **slots;
	size_t nbuckets;
	size_t loaded, loaded_cap, active;
	uint64_t next_seq;       /* next pending seq to load */
	int exhausted;           /* no more pending entries to load */
	int stop_starting;
	double deadline;
	/* Stopping early (a stop request or a stall): start nothing, settle
	 * what is out until settle_by, then cancel it. */
	int draining;
	int cancelled;
	double settle_by;
	double op_timeout;       /* seconds; NO_TIMEOUT_SEC when none is set */
	double last_progress;    /* an op answered or an entry settled */
	double map_asked;        /* when the latest OSD map was last asked for */
	/* The in-flight window (AIMD): at most `window` busy slots, between 1
	 * and opts.inflight; halved once per window of ops on time-outs. */
	double window;
	uint64_t ops_sent;
	uint64_t cut_at;         /* ops_sent at the last halving */
	/* Filled by librados' callback thread. */
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct slot *ready;
	size_t outstanding;      /* ops sent, completion not yet handled */
	/* This thread's lists. */
	struct slot *timers;     /* slots waiting out a backoff */
	struct slot *to_write;   /* planned writes for the next round */
	/* Slots with entries to start once fewer than `inflight` are busy,
	 * oldest first. */
	struct slot *kick, *kick_tail;
	struct update *updates;
	size_t nupdates, cap_updates;
	/* Scratch for planning one entry of a group. */
	struct rt__snapshot esnap;
	struct rt__plan eplan;
	/* Dry run: nothing is written; each entry's fate goes to predict. */
	int dry_run;
	rt_replay_predict_fn predict;
	void *predict_arg;
	char errbuf[RT__ERRMSG_MAX];
};

/* ---- small helpers ----------------------------------------------------- */

/* The library's one monotonic clock (retry.h). */
#define mono_now() rt__mono_now()

/* A dry run writes nothing, so no crash test stops one. */
#define failpoint(r, name) \
	do { \
		if (!(r)->dry_run) \
			RT_FAILPOINT(name); \
	} while (0)

static uint64_t hash_bytes(const char *s, size_t len)
{
	uint64_t h = 1469598103934665603ULL; /* FNV-1a */
	size_t i;

	for (i = 0; i < len; i++) {
		h ^= (unsigned char)s[i];
		h *= 1099511628211ULL;
	}
	return h;
}

static rt_entry_outcome outcome_of_plan(const struct rt__plan *p)
{
	rt_entry_outcome o;

	memset(&o, 0, sizeof(o));
	o.added = p->added;
	o.removed = p->removed;
	o.masked = p->masked;
	if (p->created)
		o.result = RT_RESULT_CREATED;
	else if (p->deleted)
		o.result = RT_RESULT_DELETED;
	else if (p->added || p->removed || p->masked)
		o.result = RT_RESULT_CHANGED;
	else
		o.result = RT_RESULT_NOOP;
	return o;
}

/* Sets r->errbuf to "pool 'P' namespace 'N' tracker 'T': " + text. */
static const char *describe(struct replay *r, const rt_journal_entry *e,
                            const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static const char *describe(struct replay *r, const rt_journal_entry *e,
                            const char *fmt, ...)
{
	char qp[RT__QUOTE_BUF], qn[RT__QUOTE_BUF], qt[RT__QUOTE_BUF];
	va_list ap;
	int n;

	n = snprintf(r->errbuf, sizeof(r->errbuf),
	             "pool %s namespace %s tracker %s: ",
	             rt__quote(qp, e->pool, strlen(e->pool)),
	             rt__quote(qn, e->ns, strlen(e->ns)),
	             rt__quote(qt, e->tracker, strlen(e->tracker)));
	if (n > 0 && (size_t)n < sizeof(r->errbuf)) {
		va_start(ap, fmt);
		vsnprintf(r->errbuf + n, sizeof(r->errbuf) - (size_t)n, fmt, ap);
		va_end(ap);
	}
	return r->errbuf;
}

/* ---- journal updates, committed once per round ------------------------- */

static int queue_update(struct replay *r, uint64_t seq,
                        const rt_entry_change *change, const char *error)
{
	struct update *u;

	if (r->nupdates == r->cap_updates) {
		size_t cap = r->cap_updates ? 2 * r->cap_updates : 256;
		struct update *n = realloc(r->updates, cap * sizeof(*n));

		if (!n)
			return RT_ENOMEM;
		r->updates = n;
		r->cap_updates = cap;
	}
	u = &r->updates[r->nupdates];
	u->seq = seq;
	u->change = *change;
	u->error = NULL;
	if (error) {
		u->error = strdup(error);
		if (!u->error)
			return RT_ENOMEM;
	}
	u->change.error = u->error;
	r->nupdates++;
	return 0;
}

static int apply_updates(void *arg, rt_journal_txn *txn)
{
	struct replay *r = arg;
	size_t i;
	int rc;

	for (i = 0; i < r->nupdates; i++) {
		rc = rt_journal_entry_update(txn, r->updates[i].seq,
		                             &r->updates[i].change);
		if (rc != 0)
			return rc;
	}
	return 0;
}

static int commit_updates(struct replay *r)
{
	size_t i;
	int rc;

	if (r->nupdates == 0)
		return 0;
	rc = rt_journal_write(r->j, apply_updates, r);
	for (i = 0; i < r->nupdates; i++)
		free(r->updates[i].error);
	r->nupdates = 0;
	return rc;
}

/* ---- trackers and pools ------------------------------------------------ */

static struct slot *slot_get(struct replay *r, const rt_journal_entry *e)
{
	size_t lp = strlen(e->pool), ln = strlen(e->ns), lt = strlen(e->tracker);
	size_t len = lp + ln + lt + 2;
	char *id = malloc(len + 1);
	struct slot *s;
	uint64_t b;

	if (!id)
		return NULL;
	memcpy(id, e->pool, lp + 1);
	memcpy(id + lp + 1, e->ns, ln + 1);
	memcpy(id + lp + ln + 2, e->tracker, lt + 1);
	b = hash_bytes(id, len) % r->nbuckets;
	for (s = r->slots[b]; s; s = s->hnext) {
		if (s->idlen == len && memcmp(s->id, id, len) == 0) {
			free(id);
			return s;
		}
	}
	s = calloc(1, sizeof(*s));
	if (!s) {
		free(id);
		return NULL;
	}
	s->r = r;
	s->id = id;
	s->idlen = len;
	s->hnext = r->slots[b];
	r->slots[b] = s;
	return s;
}

/* ---- dry run: the overlay of writes not sent ---------------------------- */

static int sim_key_cmp(const struct sim_key *k, const char *key, size_t len)
{
	if (k->len != len)
		return k->len < len ? -1 : 1;
	return memcmp(k->key, key, len);
}

/* The index of `key` in sim->keys, or where it would go (*found 0). */
static size_t sim_find(const struct sim *sim, const char *key, size_t len,
                       int *found)
{
	size_t lo = 0, hi = sim->nkeys, mid;
	int c;

	*found = 0;
	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		c = sim_key_cmp(&sim->keys[mid], key, len);
		if (c == 0) {
			*found = 1;
			return mid;
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static void sim_clear_keys(struct sim *sim)
{
	size_t i;

	for (i = 0; i < sim->nkeys; i++)
		free(sim->keys[i].key);
	sim->nkeys = 0;
}

static void sim_free(struct sim *sim)
{
	sim_clear_keys(sim);
	free(sim->keys);
	memset(sim, 0, sizeof(*sim));
}

static int sim_set(struct sim *sim, const char *key, size_t len,
                   unsigned char type)
{
	int found;
	size_t at = sim_find(sim, key, len, &found);
	struct sim_key *k;

	if (found) {
		sim->keys[at].type = type;
		return 0;
	}
	if (sim->nkeys == sim->cap) {
		size_t cap = sim->cap ? 2 * sim->cap : 16;

		k = realloc(sim->keys, cap * sizeof(*k));
		if (!k)
			return RT_ENOMEM;
		sim->keys = k;
		sim->cap = cap;
	}
	k = &sim->keys[at];
	memmove(k + 1, k, (sim->nkeys - at) * sizeof(*k));
	k->key = malloc(len ? len : 1);
	if (!k->key) {
		memmove(k, k + 1, (sim->nkeys - at) * sizeof(*k));
		return RT_ENOMEM;
	}
	memcpy(k->key, key, len);
	k->len = len;
	k->type = type;
	sim->nkeys++;
	return 0;
}

/* Records the state the group's write would have left: the group's end
 * state over its keys (after[] follows ureq), and the marker, set to the
 * seq of the group's last entry as send_writes() sets it. */
static int sim_record(struct slot *s, int exists, uint32_t refcount)
{
	const struct job *last = s->head;
	size_t i;
	int rc;

	for (i = 1; i < s->ngroup; i++)
		last = last->qnext;
	s->sim.valid = 1;
	s->sim.exists = exists;
	s->sim.refcount = refcount;
	s->sim.marker = last->e->seq;
	if (!exists) {
		/* Deleted: whatever the cluster still holds is gone. */
		sim_clear_keys(&s->sim);
		s->sim.wiped = 1;
		s->sim.nnormal = s->sim.nmask = 0;
		s->sim.empty_type = 0;
		return 0;
	}
	/* The census after = the census the group was planned on (s->snap,
	 * already seen through the overlay) changed by the group's keys. */
	s->sim.nnormal = s->snap.exists ? s->snap.nnormal : 0;
	s->sim.nmask = s->snap.exists ? s->snap.nmask : 0;
	s->sim.empty_type = s->snap.exists ? s->snap.empty_type : 0;
	for (i = 0; i < s->ureq.nkeys; i++) {
		unsigned char before = s->snap.exists ? s->snap.found[i] : 0;

		if (s->ureq.keys[i].len == 0) {
			s->sim.empty_type = s->after[i];
			continue;
		}
		if (before == RT_REF_NORMAL)
			s->sim.nnormal--;
		else if (before == RT_REF_MASK)
			s->sim.nmask--;
		if (s->after[i] == RT_REF_NORMAL)
			s->sim.nnormal++;
		else if (s->after[i] == RT_REF_MASK)
			s->sim.nmask++;
	}
	for (i = 0; i < s->ureq.nkeys; i++) {
		rc = sim_set(&s->sim, s->ureq.keys[i].key, s->ureq.keys[i].len,
		             s->after[i]);
		if (rc != 0)
			return rc;
	}
	return 0;
}

/* Shows the group's fresh read (s->snap, over ureq's keys) as it would be
 * after the writes simulated before it: every field the replayer looks at,
 * the marker and the version too (recovery verdicts read them). */
static void sim_overlay(struct slot *s)
{
	size_t i, at;
	int found, n;

	if (!s->sim.valid)
		return;
	s->snap.exists = s->sim.exists;
	s->snap.refcount = s->sim.exists ? s->sim.refcount : 0;
	/* A write moves the version: no guard taken before it matches. */
	s->snap.version = s->sim.exists ? UINT64_MAX : 0;
	s->snap.complete = 1;
	s->snap.nnormal = s->sim.exists ? s->sim.nnormal : 0;
	s->snap.nmask = s->sim.exists ? s->sim.nmask : 0;
	s->snap.empty_type = s->sim.exists ? s->sim.empty_type : 0;
	s->snap.has_extra = 0;
	s->snap.extra_len = 0;
	if (s->sim.exists) {
		n = snprintf(s->snap.extra, sizeof(s->snap.extra), "%" PRIu64,
		             s->sim.marker);
		if (n > 0) {
			s->snap.has_extra = 1;
			s->snap.extra_len = (size_t)n;
		}
	}
	for (i = 0; i < s->ureq.nkeys; i++) {
		at = sim_find(&s->sim, s->ureq.keys[i].key,
		              s->ureq.keys[i].len, &found);
		if (found)
			s->snap.found[i] = s->sim.keys[at].type;
		else if (s->sim.wiped || !s->sim.exists)
			s->snap.found[i] = 0;
	}
}

static void slot_free(struct slot *s)
{
	sim_free(&s->sim);
	rt__tio_read_release(&s->rd);
	if (s->wop)
		rados_release_write_op(s->wop);
	if (s->comp)
		rados_aio_release(s->comp);
	if (s->ureq_ok)
		rt__request_free(&s->ureq);
	rt__snapshot_free(&s->snap);
	rt__plan_free(&s->wplan);
	free(s->urefs);
	free(s->after);
	free(s->id);
	free(s);
}

static void job_free(struct job *job)
{
	if (job->req_ok)
		rt__request_free(&job->req);
	rt_journal_entry_free(job->e);
	free(job);
}

/* Unlinks and frees a slot that holds nothing for the rest of the run.
 * Blocked and stopped slots are kept: they hold back later entries of
 * their tracker. */
static void slot_release_if_idle(struct replay *r, struct slot *s)
{
	struct slot **pp;

	if (s->head || s->busy || s->blocked || s->stopped || s->kicked ||
	    s->sim.valid)
		return;
	for (pp = &r->slots[hash_bytes(s->id, s->idlen) % r->nbuckets]; *pp;
	     pp = &(*pp)->hnext) {
		if (*pp == s) {
			*pp = s->hnext;
			slot_free(s);
			return;
		}
	}
}

static int ioctx_get(struct replay *r, const char *pool, const char *ns,
                     rados_ioctx_t *out)
{
	struct ioctx_entry *x;

	for (x = r->ioctxs; x; x = x->next)
		if (strcmp(x->pool, pool) == 0 && strcmp(x->ns, ns) == 0)
			goto found;
	x = calloc(1, sizeof(*x));
	if (!x)
		return -ENOMEM;
	x->pool = strdup(pool);
	x->ns = strdup(ns);
	if (!x->pool || !x->ns) {
		free(x->pool);
		free(x->ns);
		free(x);
		return -ENOMEM;
	}
	x->rc = rados_ioctx_create(r->cluster->rados, pool, &x->io);
	if (x->rc == 0)
		rados_ioctx_set_namespace(x->io, ns);
	x->next = r->ioctxs;
	r->ioctxs = x;
found:
	*out = x->io;
	return x->rc;
}

/* ---- settling entries -------------------------------------------------- */

/* Dry run: tells the caller what would become of one entry. */
static int predict_one(struct replay *r, const struct job *job,
                       rt_entry_state state, const rt_entry_outcome *outcome,
                       const char *error)
{
	rt_replay_prediction p;

	memset(&p, 0, sizeof(p));
	p.entry = job->e;
	p.state = state;
	if (outcome)
		p.outcome = *outcome;
	p.error = error;
	p.was_in_flight = job->e->state == RT_ENTRY_IN_FLIGHT;
	return r->predict ? r->predict(r->predict_arg, &p) : 0;
}

/* Records the fate of the slot's head entry and drops it from the slot. */
static int settle_head(struct replay *r, struct slot *s, rt_entry_state state,
                       const rt_entry_outcome *outcome, const char *error)
{
	struct job *job = s->head;
	rt_entry_change ch;
	int rc;

	memset(&ch, 0, sizeof(ch));
	ch.set = RT_CHANGE_STATE | RT_CHANGE_ATTEMPTS | RT_CHANGE_ERROR;
	ch.state = state;
	ch.attempts = job->attempts;
	if (outcome) {
		ch.set |= RT_CHANGE_OUTCOME;
		ch.outcome = *outcome;
	}
	rc = r->dry_run ? predict_one(r, job, state, outcome, error)
	                : queue_update(r, job->e->seq, &ch, error);
	if (rc != 0)
		return rc;
	r->last_progress = mono_now();
	switch (state) {
	case RT_ENTRY_DONE:
		r->stats->applied++;
		break;
	case RT_ENTRY_BLOCKED:
		r->stats->blocked++;
		break;
	case RT_ENTRY_FAILED:
	case RT_ENTRY_NEEDS_REVIEW:
		if (state == RT_ENTRY_FAILED)
			r->stats->failed++;
		else
			r->stats->needs_review++;
		/* Later entries of the tracker must not overtake this one. */
		if (!s->blocked || job->e->seq < s->blocked_by)
			s->blocked_by = job->e->seq;
		s->blocked = 1;
		break;
	default:
		break;
	}
	s->head = job->qnext;
	if (!s->head)
		s->tail = NULL;
	if (s->ngroup)
		s->ngroup--;
	r->loaded--;
	job_free(job);
	return 0;
}

static int fail_head(struct replay *r, struct slot *s, const char *msg)
{
	return settle_head(r, s, RT_ENTRY_FAILED, NULL,
	                   describe(r, s->head->e, "%s", msg));
}

/* The slot's op is over: it may start its next group. */
static void unit_end(struct replay *r, struct slot *s)
{
	if (s->busy) {
		s->busy = 0;
		if (!s->parked)
			r->active--;
		s->parked = 0;
	}
	s->ngroup = 0;
	s->transient = 0;
	s->phase = PHASE_IDLE;
	if (s->ureq_ok) {
		/* Its keys point into entries that may be gone now. */
		rt__request_free(&s->ureq);
		s->ureq_ok = 0;
	}
}

/* ---- the in-flight window ----------------------------------------------- */

/* How many slots may have an op out now. */
static unsigned window_size(const struct replay *r)
{
	return r->window < 2.0 ? 1 : (unsigned)r->window;
}

/* An op of the slot timed out (or met another transient error): halve
 * the window, once for all the ops that were out together, as TCP does
 * for the losses of one window. */
static void window_cut(struct replay *r, const struct slot *s)
{
	if (s->op_no <= r->cut_at)
		return;
	r->cut_at = r->ops_sent;
	r->window /= 2;
	if (r->window < 1)
		r->window = 1;
}

/* An op was answered: one more slot per window's worth of answers. */
static void window_grow(struct replay *r)
{
	if (r->window < r->opts.inflight) {
		r->window += 1.0 / r->window;
		if (r->window > r->opts.inflight)
			r->window = r->opts.inflight;
	}
}

/* ---- starting a group -------------------------------------------------- */

static void on_complete(rados_completion_t comp, void *arg)
{
	struct slot *s = arg;
	struct replay *r = s->r;

	(void)comp;
	pthread_mutex_lock(&r->lock);
	s->lnext = r->ready;
	r->ready = s;
	pthread_cond_signal(&r->cond);
	pthread_mutex_unlock(&r->lock);
}

/* Makes sure job->req is built; 0, RT_ENOMEM, or another code with the
 * reason in msg. */
static int job_request(struct job *job, char *msg, size_t msgsz)
{
	int rc;

	if (job->req_ok)
		return 0;
	rc = rt__request_init(&job->req, job->e->op, job->e->tracker,
	                      job->e->refs, job->e->nrefs, msg, msgsz);
	if (rc == 0)
		job->req_ok = 1;
	return rc;
}

/* Chooses the group (head and what may go with it) and builds the request
 * of all its keys.  0 with s->ngroup >= 1; 1 when the head was settled
 * instead (a bad request); RT_ENOMEM. */
static int choose_group(struct replay *r, struct slot *s)
{
	char msg[RT__ERRMSG_MAX];
	struct job *job;
	size_t n = 0, nkeys = 0, i;
	int rc;

	for (job = s->head; job && n < GROUP_MAX_ENTRIES; job = job->qnext) {
		if (n > 0 && (job->recovering || s->head->recovering))
			break;
		if (s->blocked && job->e->seq > s->blocked_by)
			break;
		rc = job_request(job, msg, sizeof(msg));
		if (rc == RT_ENOMEM)
			return rc;
		if (rc != 0) {
			if (n > 0)
				break;
			rc = fail_head(r, s, msg);
			return rc ? rc : 1;
		}
		if (n > 0 && nkeys + job->req.nkeys > GROUP_MAX_KEYS)
			break;
		nkeys += job->req.nkeys;
		n++;
	}
	if (nkeys > s->urefs_cap) {
		rt_ref *refs = realloc(s->urefs, nkeys * sizeof(*refs));

		if (!refs)
			return RT_ENOMEM;
		s->urefs = refs;
		s->urefs_cap = nkeys;
	}
	nkeys = 0;
	for (job = s->head, i = 0; i < n; job = job->qnext, i++) {
		size_t k;

		for (k = 0; k < job->req.nkeys; k++) {
			s->urefs[nkeys].key = job->req.keys[k].key;
			s->urefs[nkeys].type = RT_REF_NORMAL;
			nkeys++;
		}
	}
	if (s->ureq_ok) {
		rt__request_free(&s->ureq);
		s->ureq_ok = 0;
	}
	/* Keys were each checked in their own request; only memory can fail
	 * here (the same key in two entries is merged, as wanted). */
	rc = rt__request_init(&s->ureq, RT_OP_ADD, s->head->e->tracker,
	                      s->urefs, nkeys, msg, sizeof(msg));
	if (rc != 0)
		return RT_ENOMEM;
	s->ureq_ok = 1;
	s->ngroup = n;
	return 0;
}

/* Sends the read op built in s->rd.  0, or RT_ENOMEM. */
static int send_read_op(struct replay *r, struct slot *s)
{
	int rc;

	if (rados_aio_create_completion2(s, on_complete, &s->comp) != 0)
		return RT_ENOMEM;
	s->phase = PHASE_READ;
	s->op_rc = 0;
	s->op_no = ++r->ops_sent;
	r->outstanding++;
	rc = rados_aio_read_op_operate(s->rd.op, s->io, s->comp,
	                               s->head->e->tracker, 0);
	if (rc < 0) {
		/* Not sent: complete it by hand with the error. */
		s->op_rc = rc;
		on_complete(s->comp, s);
	}
	return 0;
}

/* Sends the read of the slot's group.  0 with the op out, or with the
 * head settled (the caller goes on starting the slot); RT_ENOMEM. */
static int send_read(struct replay *r, struct slot *s)
{
	int rc;

	rc = ioctx_get(r, s->head->e->pool, s->head->e->ns, &s->io);
	if (rc == -ENOMEM)
		return RT_ENOMEM;
	if (rc != 0) {
		rc = fail_head(r, s, rc == -ENOENT ? "pool not found"
		                                   : strerror(-rc));
		unit_end(r, s);
		return rc;
	}
	rc = choose_group(r, s);
	if (rc != 0) {
		unit_end(r, s);
		return rc == 1 ? 0 : rc;
	}
	if (rt__tio_read_keys(&s->rd, &s->ureq, r->marker_name) != 0)
		return RT_ENOMEM;
	s->paging = 0;
	return send_read_op(r, s);
}

/* Sends the next read the census of the group's tracker needs (a later
 * page, or the key ""; see tracker_io.h), guarded on the version of the
 * group's first read. */
static int send_page(struct replay *r, struct slot *s)
{
	if (rt__tio_read_more(&s->rd, &s->snap) != 0)
		return RT_ENOMEM;
	s->paging = 1;
	return send_read_op(r, s);
}

/* Puts the slot on the list of slots to start, once. */
static void kick(struct replay *r, struct slot *s)
{
	if (s->kicked)
		return;
	s->kicked = 1;
	s->knext = NULL;
	if (r->kick_tail)
		r->kick_tail->knext = s;
	else
		r->kick = s;
	r->kick_tail = s;
}

/* Starts the slot's next group, settling on the way what cannot run. */
static int start_slot(struct replay *r, struct slot *s)
{
	int rc;

	while (s->head && !s->busy) {
		if (s->stopped || r->stop_starting) {
			struct job *job = s->head;

			if (r->dry_run) {
				/* A replay would leave it as it is. */
				rc = predict_one(
					r, job, job->e->state, NULL,
					describe(r, job->e, "%s",
					         r->stop_starting || r->draining
					                 ? "not planned: the dry run "
					                   "was stopped"
					                 : "left for a later run: "
					                   "the tracker could not "
					                   "be read (transient "
					                   "errors)"));
				if (rc != 0)
					return rc;
				r->stats->pending++;
			}
			s->head = job->qnext;
			r->loaded--;
			job_free(job);
			continue;
		}
		if (s->blocked && s->head->e->seq > s->blocked_by) {
			char why[64];

			snprintf(why, sizeof(why), "waits behind entry %" PRIu64,
			         s->blocked_by);
			rc = settle_head(r, s, RT_ENTRY_BLOCKED, NULL,
			                 describe(r, s->head->e, "%s", why));
			if (rc != 0)
				return rc;
			continue;
		}
		if (r->active >= window_size(r)) {
			kick(r, s);
			return 0;
		}
		s->busy = 1;
		r->active++;
		rc = send_read(r, s);
		if (rc != 0)
			return rc;
	}
	if (!s->head)
		s->tail = NULL;
	slot_release_if_idle(r, s);
	return 0;
}

/* The slot's op is over; settle nothing more and go on with the slot. */
static int next_group(struct replay *r, struct slot *s)
{
	unit_end(r, s);
	return start_slot(r, s);
}

/* Leaves the slot's entries for a later run: the journal keeps them as
 * they are (pending, or in flight). */
static int defer_slot(struct replay *r, struct slot *s)
{
	s->stopped = 1;
	return next_group(r, s);
}

static void arm_timer(struct replay *r, struct slot *s, unsigned ms)
{
	s->phase = PHASE_WAIT;
	s->wake_at = mono_now() + ms / 1000.0;
	s->lnext = r->timers;
	r->timers = s;
}

/* A transient error: try again later, or leave it for a later run. */
static int transient(struct replay *r, struct slot *s)
{
	rt_retry_policy policy = { 0, 0, 0 };
	unsigned tries;

	tries = ++s->transient;
	r->stats->retries++;
	if (tries >= r->opts.max_attempts || r->draining)
		return defer_slot(r, s);
	policy = rt__retry_effective(&policy);
	/* While it backs off, its share of the window goes to others; it
	 * takes one again to retry (handle_timers), so that a shrunk window
	 * bounds the retries too. */
	if (!s->parked) {
		s->parked = 1;
		r->active--;
	}
	arm_timer(r, s, rt__retry_transient_ms(&policy, tries, rt__random64()));
	return 0;
}

/* ---- reads: recovery, planning ----------------------------------------- */

static int parse_marker(const struct rt__snapshot *snap, uint64_t *seq)
{
	char buf[32];
	char *end;

	if (!snap->has_extra || snap->extra_len == 0 ||
	    snap->extra_len >= sizeof(buf))
		return 0;
	memcpy(buf, snap->extra, snap->extra_len);
	buf[snap->extra_len] = '\0';
	*seq = strtoull(buf, &end, 10);
	/* Only this journal writes it; anything else is no evidence. */
	return *end == '\0' && buf[0] >= '0' && buf[0] <= '9';
}

/* The state of one entry's keys, taken from the group's state. */
static int entry_snapshot(struct replay *r, const struct slot *s,
                          const struct job *job, int exists,
                          uint32_t refcount, const unsigned char *found)
{
	size_t i;

	if (rt__snapshot_reset(&r->esnap, job->req.nkeys) != 0)
		return RT_ENOMEM;
	r->esnap.exists = exists;
	r->esnap.version = s->snap.version;
	r->esnap.refcount = refcount;
	for (i = 0; i < job->req.nkeys; i++) {
		long at = rt__request_find(&s->ureq, job->req.keys[i].key,
		                           job->req.keys[i].len);

		r->esnap.found[i] = at < 0 ? 0 : found[at];
	}
	return 0;
}

/* The state after one entry's plan, over the group's keys. */
static void apply_plan(const struct slot *s, const struct rt__plan *p,
                       int *exists, uint32_t *refcount, unsigned char *found)
{
	size_t i;
	long at;

	switch (p->kind) {
	case RT__PLAN_NOTHING:
		return;
	case RT__PLAN_DELETE:
		*exists = 0;
		*refcount = 0;
		memset(found, 0, s->ureq.nkeys);
		return;
	case RT__PLAN_CREATE:
	case RT__PLAN_UPDATE:
		break;
	}
	*exists = 1;
	*refcount = p->refcount;
	for (i = 0; i < p->nset; i++) {
		at = rt__request_find(&s->ureq, p->set_keys[i],
		                      p->set_key_lens[i]);
		if (at >= 0)
			found[at] = (unsigned char)p->set_vals[i][0];
	}
	for (i = 0; i < p->nrm; i++) {
		at = rt__request_find(&s->ureq, p->rm_keys[i], p->rm_key_lens[i]);
		if (at >= 0)
			found[at] = 0;
	}
}

/* Resolves the recovering head from the fresh read (invariant 4).
 * Returns 1 when the head is settled, 0 when it is to be applied as new. */
static int recover_head(struct replay *r, struct slot *s, int *rcp)
{
	struct job *job = s->head;
	struct rt__inflight rec;
	struct rt__evidence ev;
	char msg[RT__ERRMSG_MAX];
	int plan_rc;

	*rcp = entry_snapshot(r, s, job, s->snap.exists, s->snap.refcount,
	                      s->snap.found);
	if (*rcp != 0)
		return 1;
	plan_rc = rt__plan_make(&r->eplan, &job->req, &r->esnap, msg,
	                        sizeof(msg));
	if (plan_rc == RT_ENOMEM) {
		*rcp = plan_rc;
		return 1;
	}
	rec.seq = job->e->seq;
	rec.op = job->e->op;
	rec.guard_version = job->guard;
	rec.planned_delete = job->planned.result == RT_RESULT_DELETED;
	ev.exists = s->snap.exists;
	ev.version = s->snap.version;
	ev.marker_seq = 0;
	ev.has_marker = parse_marker(&s->snap, &ev.marker_seq);
	ev.effect_visible = plan_rc == 0 && r->eplan.kind == RT__PLAN_NOTHING;
	switch (rt__recovery_verdict(&rec, &ev)) {
	case RT__LANDED:
		*rcp = settle_head(r, s, RT_ENTRY_DONE, &job->planned, NULL);
		return 1;
	case RT__AMBIGUOUS:
		*rcp = settle_head(
			r, s, RT_ENTRY_NEEDS_REVIEW, NULL,
			describe(r, job->e,
			         "a write for this entry may or may not have "
			         "landed, and the tracker has changed since "
			         "without this journal's marker; applying the "
			         "removal now could drop a reference added "
			         "after it; check the tracker, then `reftrack "
			         "retry` or `reftrack skip`"));
		return 1;
	case RT__NOT_LANDED:
		break;
	}
	job->recovering = 0;
	return 0;
}

/* A pending entry at or below this journal's marker on its tracker has
 * already landed: by invariants (2) and (3) only a write of a group holding
 * it, or of a later entry of the tracker, which runs only once this one is
 * settled, can have raised the marker that far.  A pending entry meets
 * that only in a journal restored from a backup taken before the entry was
 * applied; applying it again would not be exactly once.  Settles such
 * entries at the head of the group as done, without a write, and returns
 * 1 (the rest of the group is read again); 0 if the head is not one. */
static int settle_landed(struct replay *r, struct slot *s, int *rcp)
{
	uint64_t marker = 0;
	char why[256];

	*rcp = 0;
	if (!parse_marker(&s->snap, &marker) || !s->snap.exists ||
	    s->head->e->seq > marker)
		return 0;
	snprintf(why, sizeof(why),
	         "already applied: the tracker's marker %s is at seq %" PRIu64
	         " (journal restored from a backup?); not applied again",
	         r->marker_name, marker);
	while (s->ngroup > 0 && s->head && s->head->e->seq <= marker) {
		rt_entry_outcome none = { RT_RESULT_NOOP, 0, 0, 0 };

		*rcp = settle_head(r, s, RT_ENTRY_DONE, &none, why);
		if (*rcp != 0)
			break;
	}
	return 1;
}

/* Plans each entry of the group on the state the one before left; cuts
 * the group where an entry cannot join it.  Returns 0 with s->ngroup >= 1
 * and s->after filled, 1 when the head was settled instead, RT_ENOMEM. */
static int plan_group(struct replay *r, struct slot *s, int *exists,
                      uint32_t *refcount)
{
	char msg[RT__ERRMSG_MAX];
	struct job *job;
	size_t n;
	int rc;

	if (s->ureq.nkeys > s->after_cap) {
		unsigned char *a = realloc(s->after, s->ureq.nkeys);

		if (!a)
			return RT_ENOMEM;
		s->after = a;
		s->after_cap = s->ureq.nkeys;
	}
	memcpy(s->after, s->snap.found, s->ureq.nkeys);
	*exists = s->snap.exists;
	*refcount = s->snap.refcount;
	for (job = s->head, n = 0; n < s->ngroup; job = job->qnext, n++) {
		rc = entry_snapshot(r, s, job, *exists, *refcount, s->after);
		if (rc != 0)
			return rc;
		rc = rt__plan_make(&r->eplan, &job->req, &r->esnap, msg,
		                   sizeof(msg));
		if (rc == RT_ENOMEM)
			return rc;
		if (rc != 0) {
			if (n > 0)
				break; /* it fails on its own, next time */
			rc = fail_head(r, s, msg);
			return rc ? rc : 1;
		}
		/* A delete ends the tracker's story in this write: it goes
		 * alone, so that the entry that planned it is the one whose
		 * record says "deleted" (see the proof). */
		if (r->eplan.kind == RT__PLAN_DELETE && n > 0)
			break;
		job->planned = outcome_of_plan(&r->eplan);
		apply_plan(s, &r->eplan, exists, refcount, s->after);
		if (r->eplan.kind == RT__PLAN_DELETE) {
			n++;
			break;
		}
	}
	s->ngroup = n;
	return 0;
}

static int plan_read(struct replay *r, struct slot *s);

/* A read completed: the group's read, or a later page of its census.
 * Planning waits until the census covers the whole tracker, so that no
 * write (above all no delete) goes to a tracker that breaks the format
 * anywhere, and every page shows the version the write will assert. */
static int handle_read(struct replay *r, struct slot *s)
{
	char msg[RT__ERRMSG_MAX];
	int rc, paging = s->paging;

	s->paging = 0;
	if (r->draining) {
		/* Stopping: the group's entries stay as the journal has them
		 * (pending, or in flight for the next run to resolve). */
		rt__tio_read_release(&s->rd);
		return defer_slot(r, s);
	}
	if (paging && (s->op_rc == -ERANGE || s->op_rc == -EOVERFLOW ||
	               s->op_rc == -ENOENT)) {
		/* The tracker changed between pages: read it again. */
		rt__tio_read_release(&s->rd);
		r->stats->retries++;
		rc = send_read(r, s);
		return rc ? rc : start_slot(r, s);
	}
	if (s->op_rc != 0 && s->op_rc != -ENOENT) {
		rt__tio_read_release(&s->rd);
		if (rt__err_from_errno(s->op_rc) == RT_ETRANSIENT)
			return transient(r, s);
		if (rt__err_from_errno(s->op_rc) == RT_EPERM)
			r->stats->denied++;
		snprintf(msg, sizeof(msg), "reading%s: %s",
		         paging ? " on" : "", strerror(-s->op_rc));
		rc = fail_head(r, s, msg);
		return rc ? rc : next_group(r, s);
	}
	if (paging)
		rc = rt__tio_census_more(&s->snap, &s->rd, &s->ureq, msg,
		                         sizeof(msg));
	else
		rc = rt__tio_read_decode(&s->snap, &s->rd, &s->ureq, s->op_rc,
		                         s->op_version, msg, sizeof(msg));
	rt__tio_read_release(&s->rd);
	if (rc == RT_ENOMEM)
		return rc;
	if (rc != 0) {
		rc = fail_head(r, s, msg);
		return rc ? rc : next_group(r, s);
	}
	if (s->snap.exists && !s->snap.complete)
		return send_page(r, s);
	return plan_read(r, s);
}

/* Plans the group on a whole, checked read of its tracker, and queues the
 * write (or settles the entries that need none). */
static int plan_read(struct replay *r, struct slot *s)
{
	char msg[RT__ERRMSG_MAX];
	rt_entry_change ch;
	struct job *job;
	uint32_t refcount;
	size_t n;
	int rc, exists;

	if (r->dry_run)
		sim_overlay(s);
	if (s->head->recovering) {
		if (recover_head(r, s, &rc))
			return rc ? rc : next_group(r, s);
	}
	if (settle_landed(r, s, &rc))
		return rc ? rc : next_group(r, s);
	rc = plan_group(r, s, &exists, &refcount);
	if (rc != 0)
		return rc == 1 ? next_group(r, s) : rc;
	rc = rt__plan_diff(&s->wplan, &s->ureq, &s->snap, exists, refcount,
	                   s->after);
	if (rc != 0)
		return rc;
	rc = rt__plan_check_write(&s->wplan, &s->ureq, &s->snap, msg,
	                          sizeof(msg));
	if (rc != 0) {
		/* The head's own error: the entries behind it wait (blocked)
		 * rather than run on a tracker that is not what it says. */
		rc = fail_head(r, s, msg);
		return rc ? rc : next_group(r, s);
	}
	if (r->dry_run && s->wplan.kind != RT__PLAN_NOTHING) {
		/* The write is not sent; later groups see its effect. */
		rc = sim_record(s, exists, refcount);
		if (rc != 0)
			return rc;
	}
	if (s->wplan.kind == RT__PLAN_NOTHING || r->dry_run) {
		/* The tracker already says what the group wants (or, in a dry
		 * run, would say it after the write). */
		while (s->ngroup > 0) {
			s->head->attempts++;
			rc = settle_head(r, s, RT_ENTRY_DONE, &s->head->planned,
			                 NULL);
			if (rc != 0)
				return rc;
		}
		return next_group(r, s);
	}
	/* Invariant (1): the in-flight records go into the round's commit,
	 * and the write waits for that commit. */
	memset(&ch, 0, sizeof(ch));
	ch.set = RT_CHANGE_STATE | RT_CHANGE_ATTEMPTS | RT_CHANGE_OUTCOME |
	         RT_CHANGE_GUARD;
	ch.state = RT_ENTRY_IN_FLIGHT;
	ch.has_guard = 1;
	for (job = s->head, n = 0; n < s->ngroup; job = job->qnext, n++) {
		job->guard = s->wplan.kind == RT__PLAN_CREATE
		                     ? 0
		                     : s->wplan.guard_version;
		job->attempts++;
		ch.attempts = job->attempts;
		ch.outcome = job->planned;
		ch.guard_version = job->guard;
		rc = queue_update(r, job->e->seq, &ch, NULL);
		if (rc != 0)
			return rc;
	}
	s->phase = PHASE_IDLE;
	s->lnext = r->to_write;
	r->to_write = s;
	return 0;
}

/* ---- writes ------------------------------------------------------------ */

/* The group's entries, refused by a conflict, are known not to have
 * landed: back to pending, so that a crash now leaves no stale guard. */
static int unmark_group(struct replay *r, struct slot *s)
{
	rt_entry_change ch;
	struct job *job;
	size_t n;
	int rc;

	memset(&ch, 0, sizeof(ch));
	ch.set = RT_CHANGE_STATE | RT_CHANGE_GUARD;
	ch.state = RT_ENTRY_PENDING;
	ch.has_guard = 0;
	for (job = s->head, n = 0; n < s->ngroup; job = job->qnext, n++) {
		rc = queue_update(r, job->e->seq, &ch, NULL);
		if (rc != 0)
			return rc;
	}
	return 0;
}

static int handle_write(struct replay *r, struct slot *s)
{
	rt_retry_policy policy = { 0, 0, 0 };
	char msg[RT__ERRMSG_MAX];
	struct job *job;
	unsigned ms;
	size_t n;
	int rc;

	rados_release_write_op(s->wop);
	s->wop = NULL;
	if (s->op_rc == -ECANCELED && r->cancelled) {
		/* We gave up waiting for it: its fate is unknown, so its
		 * entries stay in flight for the next run (invariant 4). */
		return defer_slot(r, s);
	}
	switch (rt__tio_write_status(&s->wplan, s->op_rc)) {
	case RT__TIO_OK:
		failpoint(r, "after-write");
		s->conflicts = 0;
		while (s->ngroup > 0) {
			rc = settle_head(r, s, RT_ENTRY_DONE, &s->head->planned,
			                 NULL);
			if (rc != 0)
				return rc;
		}
		return next_group(r, s);
	case RT__TIO_CONFLICT:
		rc = unmark_group(r, s);
		if (rc != 0)
			return rc;
		s->conflicts++;
		r->stats->retries++;
		if (s->conflicts > MAX_CONFLICTS || r->draining)
			return defer_slot(r, s);
		policy = rt__retry_effective(&policy);
		ms = rt__retry_conflict_ms(&policy, s->conflicts,
		                           rt__random64());
		if (ms == 0) {
			rc = send_read(r, s);
			return rc ? rc : start_slot(r, s);
		}
		arm_timer(r, s, ms);
		return 0;
	case RT__TIO_FAILED:
		break;
	}
	if (rt__err_from_errno(s->op_rc) == RT_ETRANSIENT) {
		/* A timed-out write may still land: invariant (4). */
		for (job = s->head, n = 0; n < s->ngroup; job = job->qnext, n++)
			job->recovering = 1;
		return transient(r, s);
	}
	if (rt__err_from_errno(s->op_rc) == RT_EPERM)
		r->stats->denied++;
	snprintf(msg, sizeof(msg), "writing: %s", strerror(-s->op_rc));
	rc = fail_head(r, s, msg);
	return rc ? rc : next_group(r, s);
}

/* Sends the round's writes, whose in-flight records are committed. */
static int send_writes(struct replay *r)
{
	struct slot *s, *list = r->to_write;
	struct job *last;
	size_t n = 0, i = 0, k;
	char val[24];
	int rc;

	r->to_write = NULL;
	for (s = list; s; s = s->lnext)
		n++;
	while ((s = list)) {
		struct rt__tio_xattr marker;

		list = s->lnext;
		for (last = s->head, k = 1; k < s->ngroup; k++)
			last = last->qnext;
		marker.name = r->marker_name;
		marker.len = (size_t)snprintf(val, sizeof(val), "%" PRIu64,
		                              last->e->seq);
		marker.value = val;
		if (rt__tio_write_build(&s->wop, &s->wplan, &marker) != 0)
			return RT_ENOMEM;
		if (rados_aio_create_completion2(s, on_complete, &s->comp) != 0)
			return RT_ENOMEM;
		s->phase = PHASE_WRITE;
		s->op_rc = 0;
		s->op_no = ++r->ops_sent;
		r->outstanding++;
		rc = rados_aio_write_op_operate(s->wop, s->io, s->comp,
		                                s->head->e->tracker, NULL, 0);
		if (rc < 0) {
			s->op_rc = rc;
			on_complete(s->comp, s);
		}
		if (++i == n / 2)
			failpoint(r, "mid-window");
	}
	return 0;
}

/* ---- loading entries --------------------------------------------------- */

static int enqueue(struct replay *r, rt_journal_entry *e, int recovering)
{
	struct job *job = calloc(1, sizeof(*job));
	struct slot *s;

	if (!job) {
		rt_journal_entry_free(e);
		return RT_ENOMEM;
	}
	job->e = e;
	job->attempts = e->attempts;
	job->recovering = recovering;
	if (recovering) {
		job->guard = e->has_guard ? e->guard_version : 0;
		job->planned = e->outcome;
	}
	s = slot_get(r, e);
	if (!s) {
		job_free(job);
		return RT_ENOMEM;
	}
	if (s->tail)
		s->tail->qnext = job;
	else
		s->head = job;
	s->tail = job;
	r->loaded++;
	/* Started once the whole load is queued (start_kicked()), so that a
	 * group can take the entries loaded behind its head. */
	if (!s->busy)
		kick(r, s);
	return 0;
}

/* Starts waiting slots while fewer than `inflight` are busy. */
static int start_kicked(struct replay *r)
{
	struct slot *s;
	int rc = 0;

	while (rc == 0 && r->active < window_size(r) && (s = r->kick)) {
		r->kick = s->knext;
		if (!r->kick)
			r->kick_tail = NULL;
		s->kicked = 0;
		rc = start_slot(r, s);
	}
	return rc;
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
	while (rc == 0 && (all || r->loaded < r->loaded_cap)) {
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
		rc = start_kicked(r);
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
		s = slot_get(r, e);
		rt_journal_entry_free(e);
		if (!s) {
			rc = RT_ENOMEM;
			break;
		}
		if (!s->blocked || seq < s->blocked_by)
			s->blocked_by = seq;
		s->blocked = 1;
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

static struct slot *take_ready(struct replay *r, double wake_at)
{
	struct slot *list;

	pthread_mutex_lock(&r->lock);
	if (!r->ready && r->outstanding > 0) {
		struct timespec ts;
		double now = mono_now();
		double t = wake_at > 0 ? wake_at : now + 1.0;

		/* A stop request is seen within STOP_POLL_SEC. */
		if (r->opts.stop && t > now + STOP_POLL_SEC)
			t = now + STOP_POLL_SEC;

		ts.tv_sec = (time_t)t;
		ts.tv_nsec = (long)((t - (double)ts.tv_sec) * 1e9);
		pthread_cond_timedwait(&r->cond, &r->lock, &ts);
	}
	list = r->ready;
	r->ready = NULL;
	pthread_mutex_unlock(&r->lock);
	return list;
}

static int handle_completions(struct replay *r, struct slot *list)
{
	struct slot *s;
	int rc = 0;

	while ((s = list)) {
		list = s->lnext;
		if (!s->op_rc)
			s->op_rc = rados_aio_get_return_value(s->comp);
		s->op_version = rados_aio_get_version(s->comp);
		rados_aio_release(s->comp);
		s->comp = NULL;
		r->outstanding--;
		if (s->op_rc == -ECANCELED && r->cancelled) {
			/* No answer: neither progress nor a loss. */
		} else if (rt__err_from_errno(s->op_rc) == RT_ETRANSIENT) {
			window_cut(r, s);
		} else {
			r->last_progress = mono_now();
			window_grow(r);
		}
		if (rc == 0)
			rc = s->phase == PHASE_READ ? handle_read(r, s)
			                            : handle_write(r, s);
	}
	return rc;
}

static int handle_timers(struct replay *r, double *next_wake)
{
	struct slot **pp = &r->timers, *s;
	double now = mono_now();
	int rc = 0;

	*next_wake = 0;
	while (rc == 0 && (s = *pp)) {
		if (r->stop_starting) {
			*pp = s->lnext;
			rc = defer_slot(r, s);
		} else if (s->wake_at <= now && s->parked &&
		           r->active >= window_size(r)) {
			/* Waits for room in the window. */
			s->wake_at = now + WINDOW_WAIT_SEC;
			if (*next_wake == 0 || s->wake_at < *next_wake)
				*next_wake = s->wake_at;
			pp = &s->lnext;
		} else if (s->wake_at <= now) {
			*pp = s->lnext;
			if (s->parked) {
				s->parked = 0;
				r->active++;
			}
			rc = send_read(r, s);
			if (rc == 0)
				rc = start_slot(r, s);
		} else {
			if (*next_wake == 0 || s->wake_at < *next_wake)
				*next_wake = s->wake_at;
			pp = &s->lnext;
		}
	}
	return rc;
}

/* Stops starting anything; what is out settles until r->settle_by. */
static void begin_drain(struct replay *r, int *why)
{
	*why = 1;
	if (r->draining)
		return;
	r->draining = 1;
	r->stop_starting = 1;
	r->settle_by = mono_now() + r->op_timeout + SETTLE_SLACK_SEC;
}

/* Cancels every op still out: their completions come back with
 * -ECANCELED (librados' op_cancel), and their entries stay as the
 * journal has them. */
static void cancel_outstanding(struct replay *r)
{
	struct slot *s;
	size_t b;

	r->cancelled = 1;
	for (b = 0; b < r->nbuckets; b++)
		for (s = r->slots[b]; s; s = s->hnext)
			if (s->comp && s->io)
				rados_aio_cancel(s->io, s->comp);
}

/* The stop flag, the stall bound and the settling bound. */
static void watch(struct replay *r)
{
	double now = mono_now(), quiet = now - r->last_progress;
	double bound = STALL_TIMEOUTS * r->op_timeout;

	if (r->opts.stop && *r->opts.stop)
		begin_drain(r, &r->stats->interrupted);
	if (r->draining) {
		if (!r->cancelled && r->outstanding > 0 && now >= r->settle_by)
			cancel_outstanding(r);
		return;
	}
	if (quiet >= bound) {
		begin_drain(r, &r->stats->stalled);
	} else if (quiet >= r->op_timeout &&
	           now - r->map_asked >= r->op_timeout) {
		/* An OSD that restarted listens on a new address, which the
		 * client learns from a newer OSD map; until it asks for one,
		 * ops that time out are resent to the old address for ever
		 * (seen: no progress for 9 minutes with a 3 s op timeout).
		 * Asked at most once per op timeout of silence. */
		r->map_asked = now;
		rt__cluster_refresh_osdmap(r->cluster);
	}
}

static int run(struct replay *r)
{
	uint64_t counts[RT_ENTRY_STATE_SLOTS];
	double next_wake;
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
		watch(r);
		if (r->opts.max_time_ms && mono_now() >= r->deadline)
			r->stop_starting = 1;
		if (!r->exhausted && !r->stop_starting) {
			rc = load(r, RT_ENTRY_PENDING, 0, 0, &exhausted);
			if (exhausted)
				r->exhausted = 1;
		}
		if (rc == 0)
			rc = handle_timers(r, &next_wake);
		if (rc == 0)
			rc = start_kicked(r);
		if (rc != 0)
			break;
		idle = r->outstanding == 0 && !r->timers && !r->to_write &&
		       !r->kick &&
		       (r->exhausted || r->stop_starting);
		if (r->nupdates || r->to_write) {
			if (idle)
				failpoint(r, "final-commit");
			rc = commit_updates(r);
			if (rc == 0 && r->to_write) {
				failpoint(r, "after-inflight-commit");
				rc = send_writes(r);
			}
			if (rc != 0)
				break;
		}
		if (r->opts.progress)
			r->opts.progress(r->opts.progress_arg, r->stats);
		if (idle && r->loaded == 0)
			break;
		if (r->outstanding == 0 && !r->timers)
			continue;
		if (r->outstanding == 0) {
			double wait = next_wake - mono_now();

			if (r->opts.stop && wait > STOP_POLL_SEC)
				wait = STOP_POLL_SEC;
			if (wait > 0)
				rt__sleep_ms((unsigned)(wait * 1000) + 1);
			continue;
		}
		rc = handle_completions(r, take_ready(r, next_wake));
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

/* Waits for every op still out, so that no callback outlives the run's
 * memory.  Their results are dropped: the journal was not told, so the
 * next run resolves them from evidence. */
static void drain(struct replay *r)
{
	struct slot *list, *s;

	while (r->outstanding > 0) {
		list = take_ready(r, 0);
		while ((s = list)) {
			list = s->lnext;
			rados_aio_release(s->comp);
			s->comp = NULL;
			r->outstanding--;
		}
	}
}

static void free_all(struct replay *r)
{
	struct ioctx_entry *x;
	struct slot *s;
	struct job *job;
	size_t b;

	for (b = 0; b < r->nbuckets; b++) {
		while ((s = r->slots[b])) {
			r->slots[b] = s->hnext;
			while ((job = s->head)) {
				s->head = job->qnext;
				job_free(job);
			}
			slot_free(s);
		}
	}
	free(r->slots);
	while ((x = r->ioctxs)) {
		r->ioctxs = x->next;
		if (x->rc == 0)
			rados_ioctx_destroy(x->io);
		free(x->pool);
		free(x->ns);
		free(x);
	}
	for (b = 0; b < r->nupdates; b++)
		free(r->updates[b].error);
	free(r->updates);
	rt__snapshot_free(&r->esnap);
	rt__plan_free(&r->eplan);
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
	if (!r.opts.max_attempts)
		r.opts.max_attempts = DEFAULT_MAX_ATTEMPTS;
	/* Entries queued behind busy trackers are loaded too, up to a bound
	 * that keeps memory flat whatever the journal's size. */
	r.loaded_cap = 16 * (size_t)r.opts.inflight + 4096;
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
	if (!r.slots)
		return rt__jerr(j, RT_ENOMEM, "out of memory");
	pthread_mutex_init(&r.lock, NULL);
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&r.cond, &attr);
	pthread_condattr_destroy(&attr);

	rc = run(&r);
	if (rc != 0 && rt_journal_errmsg(j)[0] == '\0')
		rt__jerr(j, rc, "replay: %s", rt_strerror(rc));
	drain(&r);
	free_all(&r);
	if (opts && opts->progress)
		opts->progress(opts->progress_arg, stats);
	return rc;
}

int rt_replay_run(rt_replay_stats *stats, rt_journal *j, rt_cluster *cluster,
                  const rt_replay_opts *opts)
{
	return replay_main(stats, j, cluster, opts, NULL, NULL);
}

int rt_replay_predict(rt_replay_stats *stats, rt_journal *j,
                      rt_cluster *cluster, const rt_replay_opts *opts,
                      rt_replay_predict_fn fn, void *arg)
{
	if (!fn)
		return rt__jerr(j, RT_EINVAL, "a dry run needs a callback");
	return replay_main(stats, j, cluster, opts, fn, arg);
}
