/*
 * replay_round.c - the replayer's round: every journal change learned
 * since the last commit committed in one LMDB transaction, by the
 * committer thread, then the writes that waited for it sent.
 *
 * This is where invariant (1) holds: a planned group's in-flight records
 * (state, guard version, planned outcome) are queued by rt__round_add()
 * and the slot waits in state planned; the next batch takes the queued
 * changes and moves the planned slots to committing, and a committing
 * slot's write is sent only once that batch's commit is over (its
 * fdatasync included).  A slot leaves planned only for committing, and
 * committing only for writing (replay_slot.c's table).  Invariant (2)
 * too: every write carries the journal's marker, set to the seq of the
 * group's last entry.
 *
 * Why a thread: a commit is mostly waiting for the disk.  Done on the
 * caller's thread, it held up every completion and every read that could
 * go out meanwhile; now the caller's thread goes on while the committer
 * thread commits, and the changes learned meanwhile make the next batch
 * (one commit out at a time, so commits stay in order).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "replay_int.h"

/* Settled entries' records a round may hold back, waiting for a round
 * with writes to share its commit. */
#define ROUND_MAX_HELD 4096
/* Planned writes wait for a commit until they are a quarter of the
 * slots holding a window share, or this long (see writes_due()). */
#define ROUND_FILL 4
#define ROUND_WAIT_SEC 0.002

int rt__round_queue(struct replay *r, uint64_t seq,
                    const rt_entry_change *change, const char *error)
{
	struct rt__entry_update *u;

	if (r->nupdates == r->cap_updates) {
		size_t cap = r->cap_updates ? 2 * r->cap_updates : 256;
		struct rt__entry_update *n = realloc(r->updates, cap * sizeof(*n));

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

int rt__round_add(struct replay *r, struct slot *s)
{
	rt_entry_change ch;
	struct job *job;
	size_t n;
	int rc;

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
		rc = rt__round_queue(r, job->e->seq, &ch, NULL);
		if (rc != 0)
			return rc;
	}
	if (!r->to_write.head)
		r->writes_since = mono_now();
	rt__slot_set_state(r, s, RT__SLOT_PLANNED);
	return 0;
}

/* The group's entries, refused by a conflict, are known not to have
 * landed: back to pending, so that a crash now leaves no stale guard, and
 * without the outcome their in-flight records planned (an entry that then
 * fails must not show one). */
int rt__round_unmark(struct replay *r, struct slot *s)
{
	rt_entry_change ch;
	struct job *job;
	size_t n;
	int rc;

	memset(&ch, 0, sizeof(ch));
	ch.set = RT_CHANGE_STATE | RT_CHANGE_GUARD | RT_CHANGE_OUTCOME;
	ch.state = RT_ENTRY_PENDING;
	ch.has_guard = 0;
	ch.outcome.result = RT_RESULT_NONE;
	for (job = s->head, n = 0; n < s->ngroup; job = job->qnext, n++) {
		rc = rt__round_queue(r, job->e->seq, &ch, NULL);
		if (rc != 0)
			return rc;
	}
	r->unmarked = 1;
	return 0;
}

static int apply_updates(void *arg, rt_journal_txn *txn)
{
	struct replay *r = arg;
	int rc = rt__journal_entries_update(txn, r->commit.updates,
	                                    r->commit.nupdates);

	/* The batch is written but not committed, on this thread, while the
	 * caller's thread goes on: none of its writes may be out yet. */
	if (rc == 0)
		failpoint(r, "mid-commit");
	return rc;
}

static void *committer(void *arg)
{
	struct replay *r = arg;
	struct round_commit *c = &r->commit;
	int rc;

	pthread_mutex_lock(&r->lock);
	for (;;) {
		while (!c->quit && !(c->handed && !c->over))
			pthread_cond_wait(&c->wake, &r->lock);
		if (c->quit)
			break;
		pthread_mutex_unlock(&r->lock);
		rc = rt_journal_write(r->j, apply_updates, r);
		pthread_mutex_lock(&r->lock);
		c->rc = rc;
		c->over = 1;
		/* The caller's thread waits on r->cond for this as for a
		 * completion. */
		pthread_cond_signal(&r->cond);
	}
	pthread_mutex_unlock(&r->lock);
	return NULL;
}

int rt__round_start(struct replay *r)
{
	struct round_commit *c = &r->commit;

	if (pthread_cond_init(&c->wake, NULL) != 0)
		return RT_ENOMEM;
	if (pthread_create(&c->thread, NULL, committer, r) != 0) {
		pthread_cond_destroy(&c->wake);
		return RT_ENOMEM;
	}
	c->started = 1;
	return 0;
}

int rt__round_committing(const struct replay *r)
{
	return r->commit.handed;
}

/* Hands the queued changes to the committer thread as the next batch, and
 * the planned slots with them. */
static void hand_over(struct replay *r)
{
	struct round_commit *c = &r->commit;
	struct rt__entry_update *u = c->updates;
	size_t cap = c->cap_updates;
	struct slot *s;

	/* The two arrays trade places, so that neither is allocated again. */
	c->updates = r->updates;
	c->nupdates = r->nupdates;
	c->cap_updates = r->cap_updates;
	r->updates = u;
	r->nupdates = 0;
	r->cap_updates = cap;
	while ((s = r->to_write.head))
		rt__slot_set_state(r, s, RT__SLOT_COMMITTING);
	pthread_mutex_lock(&r->lock);
	c->handed = 1;
	c->over = 0;
	pthread_cond_signal(&c->wake);
	pthread_mutex_unlock(&r->lock);
}

/* Sends the writes of the committing slots, whose in-flight records are
 * committed. */
static int send_writes(struct replay *r)
{
	size_t n = r->committing.n, i = 0;
	struct slot *s;
	char val[24];
	int rc;

	while ((s = r->committing.head)) {
		struct rt__tio_xattr marker;

		marker.name = r->marker_name;
		marker.len = (size_t)snprintf(val, sizeof(val), "%" PRIu64,
		                              rt__slot_group_last(s)->e->seq);
		marker.value = val;
		if (rt__tio_write_build(&s->wop, &s->wplan, &marker) != 0)
			return RT_ENOMEM;
		rc = rt__sched_op_begin(r, s, RT__SLOT_WRITING);
		if (rc != 0)
			return rc;
		rt__sched_op_sent(s, rados_aio_write_op_operate(
		                             s->wop, s->io, s->comp,
		                             s->head->e->tracker, NULL, 0));
		if (++i == n / 2)
			failpoint(r, "mid-window");
	}
	return 0;
}

/* The batch out is over (wait: waiting for it if not): takes its result
 * and, when it committed, sends the writes that waited for it. */
static int take_over(struct replay *r, int wait)
{
	struct round_commit *c = &r->commit;
	size_t i;
	int rc;

	if (!c->handed)
		return 0;
	pthread_mutex_lock(&r->lock);
	while (wait && !c->over)
		pthread_cond_wait(&r->cond, &r->lock);
	if (!c->over) {
		pthread_mutex_unlock(&r->lock);
		return 0;
	}
	c->handed = 0;
	c->over = 0;
	rc = c->rc;
	pthread_mutex_unlock(&r->lock);
	for (i = 0; i < c->nupdates; i++)
		free(c->updates[i].error);
	c->nupdates = 0;
	if (rc == 0 && r->committing.head) {
		failpoint(r, "after-inflight-commit");
		rc = send_writes(r);
	}
	return rc;
}

int rt__round_wait(struct replay *r)
{
	return take_over(r, 1);
}

/* Whether the planned writes are to go with the next commit now.  A
 * commit costs about the same CPU for one write as for fifty (LMDB's
 * pages, the fdatasync), and on a host the OSDs share, that CPU is taken
 * from them: so the writes wait for a share of the window to be planned
 * (ROUND_FILL), for nothing else to be out that could join them, or
 * ROUND_WAIT_SEC at most.  *due: when they are due at the latest. */
static int writes_due(const struct replay *r, double *due)
{
	*due = 0;
	if (!r->to_write.head)
		return 0;
	if (r->to_write.n * ROUND_FILL >= r->active || r->outstanding == 0)
		return 1;
	*due = r->writes_since + ROUND_WAIT_SEC;
	return mono_now() >= *due;
}

int rt__round_run(struct replay *r, int idle, double *wake)
{
	int rc, due;

	/* One commit out at a time, so that they land in order; what is
	 * learned meanwhile makes the next batch, so the slower the disk,
	 * the larger the batch. */
	*wake = 0;
	rc = take_over(r, idle);
	if (rc != 0 || rt__round_committing(r))
		return rc;
	due = writes_due(r, wake);
	if (due)
		*wake = 0;
	/* A commit (an fdatasync) is what a planned write waits for; the
	 * records of settled entries can wait for the next commit that a
	 * write needs, unless nothing else will come to carry them (the run
	 * is over, or no op is out).  Held back, a done entry is still in
	 * flight in the journal: after a crash its marker proves it landed
	 * (or, for a delete, the tracker's absence), and recovery records
	 * the same outcome (invariant 1 holds the outcome, invariant 2 the
	 * marker).  Entries a conflict put back to pending go with the next
	 * batch: left in flight, a refused removal on a tracker others
	 * changed would be an ambiguous verdict after a crash. */
	if (!due && !r->unmarked &&
	    !(r->nupdates && (idle || r->outstanding == 0 ||
	                      r->nupdates >= ROUND_MAX_HELD)))
		return 0;
	r->unmarked = 0;
	if (idle)
		failpoint(r, "final-commit");
	hand_over(r);
	/* The run's last commit: nothing else is left to wait for. */
	return idle ? take_over(r, 1) : 0;
}

void rt__round_free(struct replay *r)
{
	struct round_commit *c = &r->commit;
	size_t i;

	if (c->started) {
		pthread_mutex_lock(&r->lock);
		while (c->handed && !c->over)
			pthread_cond_wait(&r->cond, &r->lock);
		/* Dropped: what waited for it is not sent. */
		c->handed = c->over = 0;
		c->quit = 1;
		pthread_cond_signal(&c->wake);
		pthread_mutex_unlock(&r->lock);
		pthread_join(c->thread, NULL);
		pthread_cond_destroy(&c->wake);
		c->started = 0;
	}
	for (i = 0; i < c->nupdates; i++)
		free(c->updates[i].error);
	free(c->updates);
	for (i = 0; i < r->nupdates; i++)
		free(r->updates[i].error);
	free(r->updates);
	r->updates = c->updates = NULL;
	r->nupdates = r->cap_updates = 0;
	c->nupdates = c->cap_updates = 0;
}
