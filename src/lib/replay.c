/*
 * replay.c - applying a journal's entries to the cluster, exactly once.
 *
 * Pipeline.  Entries are loaded in seq order from the journal's pending
 * index (never the whole journal: at most `loaded_cap` at a time) and queued
 * on their tracker.  A tracker runs one entry at a time, so entries of one
 * tracker apply strictly in seq order; up to `inflight` trackers have an
 * asynchronous op outstanding on the one cluster connection.  For each
 * entry: one read op (rt__tio_read_keys), a plan (rt__plan_make), and, if
 * the plan writes, one guarded write op.  Completions are queued by
 * librados' callback thread and handled here, on the caller's thread, which
 * is the only one touching the journal.
 *
 * Exactly once, under kill -9 at any instant.  Invariants:
 *  (1) Before a write is sent, its entry is durably IN_FLIGHT in the
 *      journal, with the object version the write is guarded on and the
 *      outcome the write will have.  One LMDB commit covers every write of
 *      a round, and precedes sending any of them.
 *  (2) Every create or update we send also sets, in the same atomic op, the
 *      xattr reftrack.j.<journal id> to the entry's seq.  Other writers
 *      (ceph-csi, the CLI, other journals) never touch it.
 *  (3) A tracker's entries run strictly in seq order, and an entry is not
 *      started until the one before it is settled in the journal's view of
 *      this run.  So while entry E is in flight, no write of this journal
 *      with a seq above E's can reach E's tracker.
 *  (4) A write whose fate is unknown (the process died, or the op timed
 *      out) is never re-sent blind: its entry is resolved from evidence
 *      first (recovery.c), exactly as after a crash.
 * Proof sketch.  Take an entry E found IN_FLIGHT (after a crash, or after a
 * timeout).  Read its tracker.  If the marker is >= E.seq, by (3) only E's
 * write can have set it, so E landed: record the outcome saved by (1).  If
 * the tracker's version equals E's guard, nothing was written since E's read,
 * so E did not land: apply it as new.  If E is an add, applying it again can
 * only add keys that are missing; it never removes, so the worst case (our
 * write landed, then the tracker was deleted and created again by others)
 * is a leaked reference, never a lost one.  If E is a removal and the
 * tracker is gone: if E's write was the delete, E landed or someone else
 * deleted first, and applying E now would report "deleted" without writing,
 * so both agree; otherwise a removal on a missing tracker writes nothing.
 * If the marker is there but below E.seq, the object has not been
 * re-created since that earlier write of ours, and E's write would have
 * raised the marker: E did not land.  What is left: a removal, a changed
 * object without our marker.  Either E did not land and others wrote, or
 * E landed and the tracker was deleted and created again since.  If the
 * tracker already shows E's effect, applying E changes nothing, so E is
 * recorded as planned; otherwise applying E might remove a reference that
 * was added after our write, so E goes to NEEDS_REVIEW and its tracker
 * waits for an operator.  Leak rather than delete.
 * With (1) the recorded outcome of a landed entry is the one planned, which
 * is the one an uninterrupted run records.  A write that the OSD refused
 * with a version conflict did not land; it is re-read and re-planned.
 *
 * Failpoints, for the crash tests: REFTRACK_FAILPOINT=NAME[:N] kills the
 * process with SIGKILL the N-th time (default 1st) the replayer passes NAME:
 *   after-inflight-commit  in-flight marks durable, writes not yet sent
 *   mid-window             half of a round's writes sent
 *   after-write            a write's completion handled, its done record
 *                          not yet committed
 *   final-commit           just before the run's last journal commit
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <rados/librados.h>

#include <reftrack/replay.h>

#include "cluster.h"
#include "error.h"
#include "journal_int.h"
#include "plan.h"
#include "recovery.h"
#include "request.h"
#include "retry.h"
#include "tracker_io.h"

#define DEFAULT_INFLIGHT 128
#define DEFAULT_MAX_ATTEMPTS 8
/* Conflicts in a row on one entry before it is treated like a transient
 * error budget-wise; a tracker hammered by other writers still converges
 * thanks to the backoff, and a livelock ends in "pending". */
#define MAX_CONFLICTS 200
#define MARKER_PREFIX "reftrack.j."

enum phase { PHASE_IDLE, PHASE_READ, PHASE_WRITE, PHASE_WAIT };

struct ioctx_entry {
	char *pool, *ns;
	rados_ioctx_t io;
	int rc; /* rados_ioctx_create's result; io valid when 0 */
	struct ioctx_entry *next;
};

struct slot;

struct replay;

struct job {
	struct replay *r;
	rt_journal_entry *e;
	struct slot *slot;
	struct rt__request req;
	int req_ok;
	/* The in-flight record (invariant 1), as the journal holds it. */
	int recovering;
	uint64_t guard;
	rt_entry_outcome planned;
	uint32_t attempts;       /* persisted */
	unsigned transient;      /* transient errors in a row, this run */
	unsigned conflicts;      /* conflicts in a row */
	enum phase phase;
	struct rt__tio_read rd;
	struct rt__snapshot snap;
	struct rt__plan plan;
	rados_write_op_t wop;
	rados_completion_t comp;
	int op_rc;
	uint64_t op_version;
	double wake_at;
	struct job *qnext;       /* the next entry of the same tracker */
	struct job *lnext;       /* the ready, timer or to-write list */
};

struct slot {
	char *id;                /* pool NUL ns NUL tracker, for hashing */
	size_t idlen;
	struct job *head, *tail; /* loaded entries of this tracker, in order */
	int busy;                /* head is being worked on */
	int stopped;             /* left for a later run: start nothing more */
	int blocked;             /* an earlier entry failed or needs review */
	uint64_t blocked_by;
	struct slot *hnext;
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
	/* Filled by librados' callback thread. */
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct job *ready;
	size_t outstanding;      /* ops sent, completion not yet handled */
	/* This thread's lists. */
	struct job *timers;      /* jobs waiting out a backoff */
	struct job *to_write;    /* planned writes for the next round */
	struct update *updates;
	size_t nupdates, cap_updates;
	const char *failpoint;
	long failpoint_hits;
	char errbuf[RT__ERRMSG_MAX];
};

/* ---- small helpers ----------------------------------------------------- */

static double mono_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void failpoint(struct replay *r, const char *name)
{
	const char *colon;
	size_t len;

	if (!r->failpoint)
		return;
	colon = strchr(r->failpoint, ':');
	len = colon ? (size_t)(colon - r->failpoint) : strlen(r->failpoint);
	if (strlen(name) != len || strncmp(r->failpoint, name, len) != 0)
		return;
	if (++r->failpoint_hits >= (colon ? atol(colon + 1) : 1))
		raise(SIGKILL);
}

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
	int rc = 0;

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
	s->id = id;
	s->idlen = len;
	s->hnext = r->slots[b];
	r->slots[b] = s;
	return s;
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

/* ---- jobs -------------------------------------------------------------- */

static void job_free(struct job *job)
{
	if (!job)
		return;
	rt__tio_read_release(&job->rd);
	if (job->wop)
		rados_release_write_op(job->wop);
	if (job->comp)
		rados_aio_release(job->comp);
	rt__plan_free(&job->plan);
	rt__snapshot_free(&job->snap);
	if (job->req_ok)
		rt__request_free(&job->req);
	rt_journal_entry_free(job->e);
	free(job);
}


static void on_complete(rados_completion_t comp, void *arg)
{
	struct job *job = arg;
	struct replay *r = job->r;

	(void)comp;
	pthread_mutex_lock(&r->lock);
	job->lnext = r->ready;
	r->ready = job;
	pthread_cond_signal(&r->cond);
	pthread_mutex_unlock(&r->lock);
}

static void slot_release_if_idle(struct replay *r, struct slot *s)
{
	struct slot **pp;

	/* Blocked and stopped slots are kept: they hold back later entries
	 * of their tracker for the rest of the run. */
	if (s->head || s->busy || s->blocked || s->stopped)
		return;
	for (pp = &r->slots[hash_bytes(s->id, s->idlen) % r->nbuckets]; *pp;
	     pp = &(*pp)->hnext) {
		if (*pp == s) {
			*pp = s->hnext;
			free(s->id);
			free(s);
			return;
		}
	}
}

static int start_slot(struct replay *r, struct slot *s);

/* The head job of its slot is settled (or left for a later run): free it
 * and start the next entry of the tracker. */
static int finish_job(struct replay *r, struct job *job)
{
	struct slot *s = job->slot;

	s->head = job->qnext;
	if (!s->head)
		s->tail = NULL;
	s->busy = 0;
	r->active--;
	r->loaded--;
	job_free(job);
	return start_slot(r, s);
}

static int settle(struct replay *r, struct job *job, rt_entry_state state,
                  const rt_entry_outcome *outcome, const char *error)
{
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
	rc = queue_update(r, job->e->seq, &ch, error);
	if (rc != 0)
		return rc;
	switch (state) {
	case RT_ENTRY_DONE:
		r->stats->applied++;
		break;
	case RT_ENTRY_FAILED:
	case RT_ENTRY_NEEDS_REVIEW:
		if (state == RT_ENTRY_FAILED)
			r->stats->failed++;
		else
			r->stats->needs_review++;
		/* Later entries of the tracker must not overtake this one. */
		if (!job->slot->blocked || job->e->seq < job->slot->blocked_by)
			job->slot->blocked_by = job->e->seq;
		job->slot->blocked = 1;
		break;
	default:
		break;
	}
	return finish_job(r, job);
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

static int fail_job(struct replay *r, struct job *job, const char *msg)
{
	return settle(r, job, RT_ENTRY_FAILED, NULL,
	              describe(r, job->e, "%s", msg));
}

/* Leaves the job, and every later entry of its tracker, for a later run:
 * the journal keeps them as they are (pending, or in flight). */
static int defer_job(struct replay *r, struct job *job)
{
	job->slot->stopped = 1;
	return finish_job(r, job);
}

static int send_read(struct replay *r, struct job *job)
{
	rados_ioctx_t io;
	int rc;

	rc = ioctx_get(r, job->e->pool, job->e->ns, &io);
	if (rc == -ENOMEM)
		return RT_ENOMEM;
	if (rc != 0)
		return fail_job(r, job, rc == -ENOENT ? "pool not found"
		                                      : strerror(-rc));
	if (rt__tio_read_keys(&job->rd, &job->req, r->marker_name) != 0)
		return RT_ENOMEM;
	if (rados_aio_create_completion2(job, on_complete, &job->comp) != 0)
		return RT_ENOMEM;
	job->phase = PHASE_READ;
	job->op_rc = 0;
	rc = rados_aio_read_op_operate(job->rd.op, io, job->comp,
	                               job->e->tracker, 0);
	if (rc < 0) {
		/* Not sent: complete it by hand with the error. */
		job->op_rc = rc;
		on_complete(job->comp, job);
	}
	r->outstanding++;
	return 0;
}

/* Runs the head entry of a slot, or settles what cannot run. */
static int start_slot(struct replay *r, struct slot *s)
{
	char msg[RT__ERRMSG_MAX];
	struct job *job;
	int rc;

	while ((job = s->head) && !s->busy) {
		if (s->stopped || r->stop_starting) {
			s->head = job->qnext;
			r->loaded--;
			job_free(job);
			continue;
		}
		s->busy = 1;
		r->active++;
		if (s->blocked && job->e->seq > s->blocked_by) {
			char why[64];

			snprintf(why, sizeof(why), "waits behind entry %" PRIu64,
			         s->blocked_by);
			r->stats->blocked++;
			rc = settle(r, job, RT_ENTRY_BLOCKED, NULL,
			            describe(r, job->e, "%s", why));
			return rc;
		}
		if (!job->req_ok) {
			rc = rt__request_init(&job->req, job->e->op,
			                      job->e->tracker, job->e->refs,
			                      job->e->nrefs, msg, sizeof(msg));
			if (rc == RT_ENOMEM)
				return rc;
			if (rc != 0)
				return fail_job(r, job, msg);
			job->req_ok = 1;
		}
		return send_read(r, job);
	}
	if (!s->head)
		s->tail = NULL;
	slot_release_if_idle(r, s);
	return 0;
}

static void arm_timer(struct replay *r, struct job *job, unsigned ms)
{
	job->phase = PHASE_WAIT;
	job->wake_at = mono_now() + ms / 1000.0;
	job->lnext = r->timers;
	r->timers = job;
}

/* A transient error: try again later, or leave it for a later run. */
static int transient(struct replay *r, struct job *job)
{
	rt_retry_policy policy = { 0, 0, 0 };

	job->transient++;
	r->stats->retries++;
	if (job->transient >= r->opts.max_attempts)
		return defer_job(r, job);
	policy = rt__retry_effective(&policy);
	arm_timer(r, job,
	          rt__retry_transient_ms(&policy, job->transient,
	                                 rt__random64()));
	return 0;
}

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

static int handle_read(struct replay *r, struct job *job)
{
	char msg[RT__ERRMSG_MAX];
	rt_entry_change ch;
	int rc, plan_rc;

	if (job->op_rc != 0 && job->op_rc != -ENOENT) {
		rt__tio_read_release(&job->rd);
		if (rt__err_from_errno(job->op_rc) == RT_ETRANSIENT)
			return transient(r, job);
		snprintf(msg, sizeof(msg), "reading: %s", strerror(-job->op_rc));
		return fail_job(r, job, msg);
	}
	job->transient = 0;
	rc = rt__tio_read_decode(&job->snap, &job->rd, &job->req, job->op_rc,
	                         job->op_version, msg, sizeof(msg));
	rt__tio_read_release(&job->rd);
	if (rc == RT_ENOMEM)
		return rc;
	if (rc != 0)
		return fail_job(r, job, msg);
	plan_rc = rt__plan_make(&job->plan, &job->req, &job->snap, msg,
	                        sizeof(msg));
	if (plan_rc == RT_ENOMEM)
		return plan_rc;

	if (job->recovering) {
		struct rt__inflight rec;
		struct rt__evidence ev;

		rec.seq = job->e->seq;
		rec.op = job->e->op;
		rec.guard_version = job->guard;
		rec.planned_delete = job->planned.result == RT_RESULT_DELETED;
		ev.exists = job->snap.exists;
		ev.version = job->snap.version;
		ev.marker_seq = 0;
		ev.has_marker = parse_marker(&job->snap, &ev.marker_seq);
		ev.effect_visible = plan_rc == 0 &&
		                    job->plan.kind == RT__PLAN_NOTHING;
		switch (rt__recovery_verdict(&rec, &ev)) {
		case RT__LANDED:
			return settle(r, job, RT_ENTRY_DONE, &job->planned,
			              NULL);
		case RT__AMBIGUOUS:
			return settle(r, job, RT_ENTRY_NEEDS_REVIEW, NULL,
			              describe(r, job->e,
			                       "a write for this entry may or may "
			                       "not have landed, and the tracker "
			                       "has changed since without this "
			                       "journal's marker; applying the "
			                       "removal now could drop a "
			                       "reference added after it; check "
			                       "the tracker, then `reftrack "
			                       "retry` or `reftrack skip`"));
		case RT__NOT_LANDED:
			job->recovering = 0;
			break;
		}
	}
	if (plan_rc != 0)
		return fail_job(r, job, msg);
	if (job->plan.kind == RT__PLAN_NOTHING) {
		rt_entry_outcome o = outcome_of_plan(&job->plan);

		job->attempts++;
		return settle(r, job, RT_ENTRY_DONE, &o, NULL);
	}

	/* Invariant (1): the in-flight record goes into the round's commit,
	 * and the write waits for that commit. */
	job->guard = job->plan.kind == RT__PLAN_CREATE ? 0
	                                               : job->plan.guard_version;
	job->planned = outcome_of_plan(&job->plan);
	job->attempts++;
	memset(&ch, 0, sizeof(ch));
	ch.set = RT_CHANGE_STATE | RT_CHANGE_ATTEMPTS | RT_CHANGE_OUTCOME |
	         RT_CHANGE_GUARD;
	ch.state = RT_ENTRY_IN_FLIGHT;
	ch.attempts = job->attempts;
	ch.outcome = job->planned;
	ch.has_guard = 1;
	ch.guard_version = job->guard;
	rc = queue_update(r, job->e->seq, &ch, NULL);
	if (rc != 0)
		return rc;
	job->phase = PHASE_IDLE;
	job->lnext = r->to_write;
	r->to_write = job;
	return 0;
}

static int handle_write(struct replay *r, struct job *job)
{
	rt_retry_policy policy = { 0, 0, 0 };
	char msg[RT__ERRMSG_MAX];
	unsigned ms;

	rados_release_write_op(job->wop);
	job->wop = NULL;
	switch (rt__tio_write_status(&job->plan, job->op_rc)) {
	case RT__TIO_OK:
		failpoint(r, "after-write");
		job->conflicts = 0;
		return settle(r, job, RT_ENTRY_DONE, &job->planned, NULL);
	case RT__TIO_CONFLICT:
		/* Refused by the OSD: it did not land.  Read and plan again;
		 * the next in-flight record replaces the stale guard. */
		job->conflicts++;
		r->stats->retries++;
		if (job->conflicts > MAX_CONFLICTS)
			return defer_job(r, job);
		policy = rt__retry_effective(&policy);
		ms = rt__retry_conflict_ms(&policy, job->conflicts,
		                           rt__random64());
		if (ms == 0)
			return send_read(r, job);
		arm_timer(r, job, ms);
		return 0;
	case RT__TIO_FAILED:
		break;
	}
	if (rt__err_from_errno(job->op_rc) == RT_ETRANSIENT) {
		/* A timed-out write may still land: invariant (4). */
		job->recovering = 1;
		return transient(r, job);
	}
	snprintf(msg, sizeof(msg), "writing: %s", strerror(-job->op_rc));
	return fail_job(r, job, msg);
}

/* Sends the round's writes, whose in-flight records are committed. */
static int send_writes(struct replay *r)
{
	struct job *job, *list = r->to_write;
	size_t n = 0, i = 0;
	rados_ioctx_t io;
	char val[24];
	int rc;

	r->to_write = NULL;
	for (job = list; job; job = job->lnext)
		n++;
	while ((job = list)) {
		struct rt__tio_xattr marker;

		list = job->lnext;
		rc = ioctx_get(r, job->e->pool, job->e->ns, &io);
		if (rc != 0)
			return rc == -ENOMEM ? RT_ENOMEM : RT_EIO;
		marker.name = r->marker_name;
		marker.len = (size_t)snprintf(val, sizeof(val), "%" PRIu64,
		                              job->e->seq);
		marker.value = val;
		if (rt__tio_write_build(&job->wop, &job->plan, &marker) != 0)
			return RT_ENOMEM;
		if (rados_aio_create_completion2(job, on_complete,
		                                 &job->comp) != 0)
			return RT_ENOMEM;
		job->phase = PHASE_WRITE;
		job->op_rc = 0;
		rc = rados_aio_write_op_operate(job->wop, io, job->comp,
		                                job->e->tracker, NULL, 0);
		if (rc < 0) {
			job->op_rc = rc;
			on_complete(job->comp, job);
		}
		r->outstanding++;
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
	job->r = r;
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
	job->slot = s;
	if (s->tail)
		s->tail->qnext = job;
	else
		s->head = job;
	s->tail = job;
	r->loaded++;
	return start_slot(r, s);
}

/* Loads entries of `state` from r->next_seq on, while there is room. */
static int load(struct replay *r, rt_entry_state state, int recovering,
                int *exhausted)
{
	rt_journal_txn *txn = NULL;
	rt_journal_iter *it = NULL;
	rt_journal_entry *e;
	uint64_t seq;
	int rc;

	*exhausted = 0;
	rc = rt_journal_txn_begin(&txn, r->j, RT_TXN_RDONLY);
	if (rc == 0)
		rc = rt_journal_iter_state(&it, txn, state, r->next_seq);
	while (rc == 0 && r->active < r->opts.inflight &&
	       r->loaded < r->loaded_cap) {
		rc = rt_journal_iter_next(it, &seq);
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
	rt_journal_iter_free(it);
	rt_journal_txn_abort(txn);
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

static struct job *take_ready(struct replay *r, double wake_at)
{
	struct job *list;

	pthread_mutex_lock(&r->lock);
	if (!r->ready && r->outstanding > 0) {
		struct timespec ts;
		double t = wake_at > 0 ? wake_at : mono_now() + 1.0;

		ts.tv_sec = (time_t)t;
		ts.tv_nsec = (long)((t - (double)ts.tv_sec) * 1e9);
		pthread_cond_timedwait(&r->cond, &r->lock, &ts);
	}
	list = r->ready;
	r->ready = NULL;
	pthread_mutex_unlock(&r->lock);
	return list;
}

static int handle_completions(struct replay *r, struct job *list)
{
	struct job *job;
	int rc = 0;

	while (rc == 0 && (job = list)) {
		list = job->lnext;
		if (!job->op_rc)
			job->op_rc = rados_aio_get_return_value(job->comp);
		job->op_version = rados_aio_get_version(job->comp);
		rados_aio_release(job->comp);
		job->comp = NULL;
		r->outstanding--;
		rc = job->phase == PHASE_READ ? handle_read(r, job)
		                              : handle_write(r, job);
	}
	return rc;
}

static int handle_timers(struct replay *r, double *next_wake)
{
	struct job **pp = &r->timers, *job;
	double now = mono_now();
	int rc = 0;

	*next_wake = 0;
	while (rc == 0 && (job = *pp)) {
		if (r->stop_starting) {
			*pp = job->lnext;
			rc = defer_job(r, job);
		} else if (job->wake_at <= now) {
			*pp = job->lnext;
			rc = send_read(r, job);
		} else {
			if (*next_wake == 0 || job->wake_at < *next_wake)
				*next_wake = job->wake_at;
			pp = &job->lnext;
		}
	}
	return rc;
}

static int run(struct replay *r)
{
	uint64_t counts[RT_ENTRY_STATE_SLOTS];
	double next_wake;
	int rc, exhausted, idle;

	rc = rt_journal_write(r->j, unblock_all, NULL);
	if (rc == 0)
		rc = note_blockers(r, RT_ENTRY_FAILED);
	if (rc == 0)
		rc = note_blockers(r, RT_ENTRY_NEEDS_REVIEW);
	if (rc == 0)
		rc = count_states(r, counts);
	if (rc != 0)
		return rc;
	r->stats->total = counts[RT_ENTRY_PENDING] + counts[RT_ENTRY_IN_FLIGHT];

	/* In-flight entries first: each is its tracker's oldest unsettled
	 * entry, so loading them first keeps every tracker in seq order. */
	r->next_seq = 0;
	do {
		rc = load(r, RT_ENTRY_IN_FLIGHT, 1, &exhausted);
		if (rc == 0 && !exhausted) {
			/* More in flight than fits: settle some first. */
			rc = handle_completions(r, take_ready(r, 0));
			if (rc == 0 && r->to_write) {
				rc = commit_updates(r);
				if (rc == 0)
					rc = send_writes(r);
			}
		}
	} while (rc == 0 && !exhausted);
	r->next_seq = 0;

	while (rc == 0) {
		if (r->opts.max_time_ms && mono_now() >= r->deadline)
			r->stop_starting = 1;
		if (!r->exhausted && !r->stop_starting) {
			rc = load(r, RT_ENTRY_PENDING, 0, &exhausted);
			if (exhausted)
				r->exhausted = 1;
		}
		if (rc == 0)
			rc = handle_timers(r, &next_wake);
		if (rc != 0)
			break;
		idle = r->outstanding == 0 && !r->timers && !r->to_write &&
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

			if (wait > 0)
				rt__sleep_ms((unsigned)(wait * 1000) + 1);
			continue;
		}
		rc = handle_completions(r, take_ready(r, next_wake));
	}
	if (rc == 0)
		rc = count_states(r, counts);
	if (rc == 0) {
		r->stats->pending = counts[RT_ENTRY_PENDING] +
		                    counts[RT_ENTRY_IN_FLIGHT];
		r->stats->finished = r->stats->pending == 0;
	}
	return rc;
}

/* Waits for every op still out, so no callback outlives the run's
 * memory. */
static void drain(struct replay *r)
{
	struct job *list, *job;

	while (r->outstanding > 0) {
		list = take_ready(r, 0);
		while ((job = list)) {
			list = job->lnext;
			r->outstanding--;
			job->lnext = r->timers;
			r->timers = job;
		}
	}
}

static void free_all(struct replay *r)
{
	struct ioctx_entry *x;
	struct slot *s;
	struct job *job;
	size_t b;

	while ((job = r->to_write)) {
		r->to_write = job->lnext;
		job->phase = PHASE_IDLE;
	}
	for (b = 0; b < r->nbuckets; b++) {
		while ((s = r->slots[b])) {
			r->slots[b] = s->hnext;
			while ((job = s->head)) {
				s->head = job->qnext;
				job_free(job);
			}
			free(s->id);
			free(s);
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
	pthread_cond_destroy(&r->cond);
	pthread_mutex_destroy(&r->lock);
}

int rt_replay_run(rt_replay_stats *stats, rt_journal *j, rt_cluster *cluster,
                  const rt_replay_opts *opts)
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
	r.loaded_cap = 8 * (size_t)r.opts.inflight + 1024;
	r.deadline = mono_now() + r.opts.max_time_ms / 1000.0;
	r.failpoint = getenv("REFTRACK_FAILPOINT");
	if (!cluster || !cluster->connected)
		return rt__jerr(j, RT_EINVAL, "replay needs a connected cluster");
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
	/* Jobs parked by drain() and the timer list belong to their slots;
	 * free_all() frees them through the slots. */
	r.timers = NULL;
	free_all(&r);
	if (opts && opts->progress)
		opts->progress(opts->progress_arg, stats);
	return rc;
}
