/*
 * replay_apply.c - what the answer to a slot's op means for the entries
 * of its group: recovery verdicts, planning, and each entry's fate.
 *
 * Invariant (4) is kept here: a recovering entry (its earlier write's fate
 * unknown) is resolved from the fresh read (recover_head) before anything
 * is planned for it, and a timed-out write marks its entries recovering
 * again.  Planning itself is replay_group.c's; the in-flight records of a
 * planned write go to the round (replay_round.c).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "recovery.h"
#include "replay_int.h"
#include "retry.h"

/* Conflicts in a row on one tracker before it is left for a later run; a
 * tracker hammered by other writers still converges thanks to the
 * backoff, and a livelock ends in "pending". */
#define MAX_CONFLICTS 200

/* What a step did with the slot's head entry. */
enum head_fate {
	HEAD_GOES_ON,  /* still to be applied: plan it */
	HEAD_SETTLED   /* settled: the group is over */
};

const char *rt__describe(struct replay *r, const rt_journal_entry *e,
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

/* ---- settling entries --------------------------------------------------- */

int rt__predict_one(struct replay *r, const struct job *job,
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

int rt__settle_head(struct replay *r, struct slot *s, rt_entry_state state,
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
	rc = r->dry_run ? rt__predict_one(r, job, state, outcome, error)
	                : rt__round_queue(r, job->e->seq, &ch, error);
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
		rt__slot_block(s, job->e->seq);
		break;
	default:
		break;
	}
	s->head = job->qnext;
	if (!s->head)
		s->tail = NULL;
	if (s->ngroup)
		s->ngroup--;
	rt__job_unload(r, job);
	return 0;
}

int rt__fail_head(struct replay *r, struct slot *s, const char *msg)
{
	return rt__settle_head(r, s, RT_ENTRY_FAILED, NULL,
	                       rt__describe(r, s->head->e, "%s", msg));
}

/* Settles every entry of the group as done, with its planned outcome. */
static int settle_group_done(struct replay *r, struct slot *s)
{
	int rc;

	while (s->ngroup > 0) {
		rc = rt__settle_head(r, s, RT_ENTRY_DONE, &s->head->planned,
		                     NULL);
		if (rc != 0)
			return rc;
	}
	return 0;
}

/* ---- reads: recovery, planning ------------------------------------------ */

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

/* Resolves the recovering head from the fresh read (invariant 4):
 * *fate HEAD_SETTLED, or HEAD_GOES_ON when it is to be applied as new.
 * Returns 0 or an error. */
static int recover_head(struct replay *r, struct slot *s, enum head_fate *fate)
{
	struct job *job = s->head;
	struct rt__inflight rec;
	struct rt__evidence ev;
	char msg[RT__ERRMSG_MAX];
	int plan_rc;

	*fate = HEAD_SETTLED;
	plan_rc = rt__group_plan_one(&r->gp, &s->ureq, &s->snap, &job->req,
	                             msg, sizeof(msg));
	if (plan_rc == RT_ENOMEM)
		return plan_rc;
	rec.seq = job->e->seq;
	rec.op = job->e->op;
	rec.guard_version = job->guard;
	rec.planned_delete = job->planned.result == RT_RESULT_DELETED;
	ev.exists = s->snap.exists;
	ev.version = s->snap.version;
	ev.marker_seq = 0;
	ev.has_marker = parse_marker(&s->snap, &ev.marker_seq);
	ev.effect_visible =
		plan_rc == 0 && r->gp.eplan.kind == RT__PLAN_NOTHING;
	switch (rt__recovery_verdict(&rec, &ev)) {
	case RT__LANDED:
		return rt__settle_head(r, s, RT_ENTRY_DONE, &job->planned,
		                       NULL);
	case RT__AMBIGUOUS:
		return rt__settle_head(
			r, s, RT_ENTRY_NEEDS_REVIEW, NULL,
			rt__describe(r, job->e,
			             "a write for this entry may or may not "
			             "have landed, and the tracker has changed "
			             "since without this journal's marker; "
			             "applying the removal now could drop a "
			             "reference added after it; check the "
			             "tracker, then `reftrack retry` or "
			             "`reftrack skip`"));
	case RT__NOT_LANDED:
		break;
	}
	job->recovering = 0;
	*fate = HEAD_GOES_ON;
	return 0;
}

/* A pending entry at or below this journal's marker on its tracker has
 * already landed: by invariants (2) and (3) only a write of a group holding
 * it, or of a later entry of the tracker, which runs only once this one is
 * settled, can have raised the marker that far.  A pending entry meets
 * that only in a journal restored from a backup taken before the entry was
 * applied; applying it again would not be exactly once.  Settles such
 * entries at the head of the group as done, without a write (*fate
 * HEAD_SETTLED: the rest of the group is read again); HEAD_GOES_ON if the
 * head is not one.  Returns 0 or an error. */
static int settle_landed(struct replay *r, struct slot *s, enum head_fate *fate)
{
	uint64_t marker = 0;
	char why[256];
	int rc = 0;

	*fate = HEAD_GOES_ON;
	if (!parse_marker(&s->snap, &marker) || !s->snap.exists ||
	    s->head->e->seq > marker)
		return 0;
	*fate = HEAD_SETTLED;
	snprintf(why, sizeof(why),
	         "already applied: the tracker's marker %s is at seq %" PRIu64
	         " (journal restored from a backup?); not applied again",
	         r->marker_name, marker);
	while (s->ngroup > 0 && s->head && s->head->e->seq <= marker) {
		rt_entry_outcome none = { RT_RESULT_NOOP, 0, 0, 0 };

		rc = rt__settle_head(r, s, RT_ENTRY_DONE, &none, why);
		if (rc != 0)
			break;
	}
	return rc;
}

/* Plans the group (replay_group.c) on the slot's read: each entry's
 * planned outcome goes to its job, the end state to *end (over s->after),
 * and s->ngroup becomes the number of entries planned.  *fate
 * HEAD_SETTLED when the head cannot be applied (it is failed; on a
 * guessed state nothing is settled and *fate is HEAD_SETTLED all the
 * same).  Returns 0 or an error. */
static int plan_group(struct replay *r, struct slot *s, int guessed,
                      struct rt__group_state *end, enum head_fate *fate)
{
	char msg[RT__ERRMSG_MAX];
	enum rt__group_result result;
	struct rt__group g;
	struct job *job;
	size_t n, nplanned;
	int rc;

	*fate = HEAD_GOES_ON;
	if (s->ureq.nkeys > s->after_cap) {
		unsigned char *a = realloc(s->after, s->ureq.nkeys);

		if (!a)
			return RT_ENOMEM;
		s->after = a;
		s->after_cap = s->ureq.nkeys;
	}
	for (job = s->head, n = 0; n < s->ngroup; job = job->qnext, n++)
		r->greqs[n] = &job->req;
	g.ureq = &s->ureq;
	g.snap = &s->snap;
	g.reqs = r->greqs;
	g.n = s->ngroup;
	end->after = s->after;
	rc = rt__group_plan(&r->gp, &result, &nplanned, r->gplanned, end, &g,
	                    msg, sizeof(msg));
	if (rc != 0)
		return rc;
	if (result == RT__GROUP_HEAD_FAILED) {
		*fate = HEAD_SETTLED;
		return guessed ? 0 : rt__fail_head(r, s, msg);
	}
	for (job = s->head, n = 0; n < nplanned; job = job->qnext, n++)
		job->planned = r->gplanned[n];
	s->ngroup = nplanned;
	return 0;
}

/* Plans the group on a whole, checked read of its tracker, and hands the
 * write to the round (or settles the entries that need none). */
static int plan_read(struct replay *r, struct slot *s)
{
	char msg[RT__ERRMSG_MAX];
	struct rt__group_state end;
	enum head_fate fate;
	int rc;

	if (r->dry_run)
		rt__sim_overlay(&s->sim, &s->ureq, &s->snap);
	if (s->head->recovering) {
		rc = recover_head(r, s, &fate);
		if (rc != 0 || fate == HEAD_SETTLED)
			return rc ? rc : rt__sched_next_group(r, s);
	}
	rc = settle_landed(r, s, &fate);
	if (rc != 0 || fate == HEAD_SETTLED)
		return rc ? rc : rt__sched_next_group(r, s);
	rc = plan_group(r, s, 0, &end, &fate);
	if (rc != 0 || fate == HEAD_SETTLED)
		return rc ? rc : rt__sched_next_group(r, s);
	rc = rt__plan_diff(&s->wplan, &s->ureq, &s->snap, end.exists,
	                   end.refcount, s->after);
	if (rc != 0)
		return rc;
	rc = rt__plan_check_write(&s->wplan, &s->ureq, &s->snap, msg,
	                          sizeof(msg));
	if (rc != 0) {
		/* The head's own error: the entries behind it wait (blocked)
		 * rather than run on a tracker that is not what it says. */
		rc = rt__fail_head(r, s, msg);
		return rc ? rc : rt__sched_next_group(r, s);
	}
	if (r->dry_run && s->wplan.kind != RT__PLAN_NOTHING) {
		/* The write is not sent; later groups see its effect. */
		rc = rt__sim_record(&s->sim, &s->ureq, &s->snap, &end,
		                    rt__slot_group_last(s)->e->seq);
		if (rc != 0)
			return rc;
	}
	if (s->wplan.kind == RT__PLAN_NOTHING || r->dry_run) {
		/* The tracker already says what the group wants (or, in a dry
		 * run, would say it after the write). */
		struct job *job;
		size_t n;

		for (job = s->head, n = 0; n < s->ngroup; job = job->qnext, n++)
			job->attempts++;
		rc = settle_group_done(r, s);
		return rc ? rc : rt__sched_next_group(r, s);
	}
	return rt__round_add(r, s);
}

/* ---- creates without a read ---------------------------------------------- */

/* A group of adds on a tracker that does not exist needs no read: its
 * write is an exclusive create, which the OSD refuses (EEXIST) if the
 * tracker is there after all, and then the group is read and planned as
 * usual.  So a guess costs nothing in correctness: the in-flight records
 * say "create" (guard 0), the create sets the marker like any write, and
 * recovery judges it as any create (recovery.c).  A wrong guess costs one
 * op, a right one saves one.  The replayer guesses "missing" for a group
 * that starts with an add when its own last op on the tracker showed it
 * missing (our delete, a read of a missing tracker), or, knowing nothing
 * of the tracker, when most groups of adds lately found theirs missing
 * (a batch that creates trackers).  Never for a recovering entry, whose
 * verdict needs the read, and never in a dry run, which only reads. */
int rt__apply_want_create(const struct replay *r, const struct slot *s)
{
	if (r->dry_run || s->state != RT__SLOT_IDLE ||
	    s->head->recovering || s->head->e->op != RT_OP_ADD)
		return 0;
	if (s->known)
		return !s->exists;
	return r->missing_rate > 0.5;
}

/* A group of adds found its tracker missing (a read, or a create that
 * succeeded) or there. */
static void note_missing(struct replay *r, int missing)
{
	r->missing_rate += ((missing ? 1.0 : 0.0) - r->missing_rate) / 16;
}

int rt__apply_create(struct replay *r, struct slot *s, int *queued)
{
	struct rt__group_state end;
	enum head_fate fate;
	int rc;

	*queued = 0;
	if (rt__snapshot_reset(&s->snap, s->ureq.nkeys) != 0)
		return RT_ENOMEM;
	rc = plan_group(r, s, 1, &end, &fate);
	if (rc != 0 || fate == HEAD_SETTLED)
		return rc;
	rc = rt__plan_diff(&s->wplan, &s->ureq, &s->snap, end.exists,
	                   end.refcount, s->after);
	if (rc != 0 || s->wplan.kind != RT__PLAN_CREATE)
		return rc;
	/* Created, the tracker holds just what the create wrote. */
	rt__model_missing(&s->model);
	rt__slot_model_counted(r, s);
	s->creating = 1;
	*queued = 1;
	return rt__round_add(r, s);
}

/* ---- groups planned on the slot's copy of the tracker --------------------- */

/* After our own write, the write's completion gives the version it made
 * and its plan what it changed, so the slot's copy (tracker_model.h) is
 * what a read would show, until anyone else writes.  The next group is
 * planned on the copy and its write asserts the copy's version: anyone
 * else's write in between makes the OSD refuse it, and the group is then
 * read and planned as usual.  So the copy proves a plan exactly when the
 * plan is a write guarded on it (an update or a delete; the census check
 * of a delete runs on the copy as on a read); a plan of no write, or one
 * the copy says fails, proves nothing about the tracker now, and is read.
 * The in-flight records hold the copy's version as the guard, like any
 * other write's, so recovery is unchanged.  Never for a recovering entry,
 * whose verdict needs a read, nor for an entry at or below our marker on
 * the tracker (settle_landed() needs the read), nor in a dry run. */
int rt__apply_want_modelled(const struct replay *r, const struct slot *s)
{
	return !r->dry_run && s->state == RT__SLOT_IDLE &&
	       !s->head->recovering && s->model.valid && s->model.exists &&
	       s->head->e->seq > s->model.marker;
}

int rt__apply_modelled(struct replay *r, struct slot *s, int *queued)
{
	char msg[RT__ERRMSG_MAX];
	struct rt__group_state end;
	enum head_fate fate;
	int rc;

	*queued = 0;
	rc = rt__model_snapshot(&s->model, &s->ureq, &s->snap);
	if (rc <= 0)
		return rc < 0 ? RT_ENOMEM : 0;
	rc = plan_group(r, s, 1, &end, &fate);
	if (rc != 0 || fate == HEAD_SETTLED)
		return rc;
	rc = rt__plan_diff(&s->wplan, &s->ureq, &s->snap, end.exists,
	                   end.refcount, s->after);
	if (rc != 0 || s->wplan.kind == RT__PLAN_NOTHING ||
	    rt__plan_check_write(&s->wplan, &s->ureq, &s->snap, msg,
	                         sizeof(msg)) != 0)
		return rc;
	s->modelled = 1;
	*queued = 1;
	return rt__round_add(r, s);
}

int rt__apply_read(struct replay *r, struct slot *s)
{
	char msg[RT__ERRMSG_MAX];
	int rc, paging = s->state == RT__SLOT_PAGING;

	if (r->draining) {
		/* Stopping: the group's entries stay as the journal has them
		 * (pending, or in flight for the next run to resolve). */
		rt__tio_read_release(&s->rd);
		return rt__sched_defer(r, s);
	}
	if (paging && (s->op_rc == -ERANGE || s->op_rc == -EOVERFLOW ||
	               s->op_rc == -ENOENT)) {
		/* The tracker changed between pages: read it again. */
		rt__tio_read_release(&s->rd);
		r->stats->retries++;
		rc = rt__sched_send_read(r, s);
		return rc ? rc : rt__sched_start_slot(r, s);
	}
	if (s->op_rc != 0 && s->op_rc != -ENOENT) {
		rt__tio_read_release(&s->rd);
		if (rt__err_from_errno(s->op_rc) == RT_ETRANSIENT)
			return rt__sched_transient(r, s);
		if (rt__err_from_errno(s->op_rc) == RT_EPERM)
			r->stats->denied++;
		snprintf(msg, sizeof(msg), "reading%s: %s",
		         paging ? " on" : "", strerror(-s->op_rc));
		rc = rt__fail_head(r, s, msg);
		return rc ? rc : rt__sched_next_group(r, s);
	}
	if (!paging && s->snap.copy)
		rt__model_begin(&s->model);
	if (paging)
		rc = rt__tio_census_more(&s->snap, &s->rd, &s->ureq, msg,
		                         sizeof(msg));
	else
		rc = rt__tio_read_decode(&s->snap, &s->rd, &s->ureq, s->op_rc,
		                         s->op_version, msg, sizeof(msg));
	rt__tio_read_release(&s->rd);
	rt__slot_model_counted(r, s);
	if (rc == RT_ENOMEM)
		return rc;
	if (rc != 0) {
		rc = rt__fail_head(r, s, msg);
		return rc ? rc : rt__sched_next_group(r, s);
	}
	/* Planning waits until the census covers the whole tracker, so that
	 * no write (above all no delete) goes to a tracker that breaks the
	 * format anywhere, and every page shows the version the write will
	 * assert. */
	if (!paging) {
		if (s->head->e->op == RT_OP_ADD)
			note_missing(r, !s->snap.exists);
		s->known = 1;
		s->exists = s->snap.exists;
	}
	if (s->snap.exists && !s->snap.complete)
		return rt__sched_send_page(r, s);
	rt__model_end(&s->model, &s->snap);
	if (!parse_marker(&s->snap, &s->model.marker))
		s->model.marker = 0;
	rt__slot_model_counted(r, s);
	return plan_read(r, s);
}

/* ---- writes ------------------------------------------------------------- */

int rt__apply_write(struct replay *r, struct slot *s)
{
	char msg[RT__ERRMSG_MAX];
	struct job *job;
	unsigned ms;
	size_t n;
	int rc, creating = s->creating, modelled = s->modelled;

	rados_release_write_op(s->wop);
	s->wop = NULL;
	s->creating = s->modelled = 0;
	if (s->op_rc != 0 || s->wplan.kind == RT__PLAN_DELETE) {
		/* Refused, failed, of unknown fate or a delete: nothing left
		 * that the copy can stand for. */
		rt__model_drop(&s->model);
		rt__slot_model_counted(r, s);
	}
	if (s->op_rc == -ECANCELED && r->cancelled) {
		/* We gave up waiting for it: its fate is unknown, so its
		 * entries stay in flight for the next run (invariant 4). */
		return rt__sched_defer(r, s);
	}
	switch (rt__tio_write_status(&s->wplan, s->op_rc)) {
	case RT__TIO_OK:
		failpoint(r, "after-write");
		if (creating)
			note_missing(r, 1);
		rt__model_apply(&s->model, &s->wplan, s->op_version);
		s->model.marker = rt__slot_group_last(s)->e->seq;
		rt__slot_model_counted(r, s);
		/* For the tests: another writer acts here, and the next group
		 * planned on the copy must meet its change. */
		RT_STOPPOINT("between-writes");
		s->known = 1;
		s->exists = s->wplan.kind != RT__PLAN_DELETE;
		s->conflicts = 0;
		rc = settle_group_done(r, s);
		return rc ? rc : rt__sched_next_group(r, s);
	case RT__TIO_CONFLICT:
		rc = rt__round_unmark(r, s);
		if (rc != 0)
			return rc;
		/* Refused: the tracker is there, or (-ENOENT) deleted. */
		s->known = 1;
		s->exists = s->op_rc != -ENOENT;
		if (creating) {
			/* The guess was wrong, nobody raced us: read it at
			 * once, no backoff, no retry counted. */
			note_missing(r, 0);
			rc = rt__sched_send_read(r, s);
			return rc ? rc : rt__sched_start_slot(r, s);
		}
		if (modelled) {
			/* Someone wrote since our last op: only a read costs
			 * us, so read at once, with no backoff. */
			r->stats->retries++;
			rc = rt__sched_send_read(r, s);
			return rc ? rc : rt__sched_start_slot(r, s);
		}
		s->conflicts++;
		r->stats->retries++;
		if (s->conflicts > MAX_CONFLICTS || r->draining)
			return rt__sched_defer(r, s);
		ms = rt__retry_conflict_ms(&r->retry, s->conflicts,
		                           rt__random64());
		if (ms == 0) {
			rc = rt__sched_send_read(r, s);
			return rc ? rc : rt__sched_start_slot(r, s);
		}
		rt__sched_backoff(r, s, ms);
		return 0;
	case RT__TIO_FAILED:
		break;
	}
	if (rt__err_from_errno(s->op_rc) == RT_ETRANSIENT) {
		/* A timed-out write may still land: invariant (4). */
		for (job = s->head, n = 0; n < s->ngroup; job = job->qnext, n++)
			job->recovering = 1;
		return rt__sched_transient(r, s);
	}
	if (rt__err_from_errno(s->op_rc) == RT_EPERM)
		r->stats->denied++;
	snprintf(msg, sizeof(msg), "writing: %s", strerror(-s->op_rc));
	rc = rt__fail_head(r, s, msg);
	return rc ? rc : rt__sched_next_group(r, s);
}
