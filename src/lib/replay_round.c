/*
 * replay_round.c - the replayer's round: every journal change learned
 * since the last round committed in one LMDB transaction, then the writes
 * planned since sent.
 *
 * This is where invariant (1) holds: a planned group's in-flight records
 * (state, guard version, planned outcome) are queued by rt__round_add()
 * and the slot waits in state planned; rt__round_run() sends a planned
 * slot's write only after the commit that holds those records, and a slot
 * leaves state planned only for writing (replay_slot.c's table).  Invariant
 * (2) too: every write carries the journal's marker, set to the seq of the
 * group's last entry.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "replay_int.h"

/* Settled entries' records a round may hold back, waiting for a round
 * with writes to share its commit. */
#define ROUND_MAX_HELD 4096

int rt__round_queue(struct replay *r, uint64_t seq,
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

/* Sends the writes of the planned slots, whose in-flight records are
 * committed. */
static int send_writes(struct replay *r)
{
	size_t n = r->to_write.n, i = 0;
	struct slot *s;
	char val[24];
	int rc;

	while ((s = r->to_write.head)) {
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

int rt__round_run(struct replay *r, int idle)
{
	int rc;

	/* A commit (an fdatasync) is what a planned write waits for; the
	 * records of settled entries can wait for the next commit that a
	 * write needs, unless nothing else will come to carry them (the run
	 * is over, or no op is out).  Held back, a done entry is still in
	 * flight in the journal: after a crash its marker proves it landed
	 * (or, for a delete, the tracker's absence), and recovery records
	 * the same outcome (invariant 1 holds the outcome, invariant 2 the
	 * marker).  Entries a conflict put back to pending go at once: left
	 * in flight, a refused removal on a tracker others changed would be
	 * an ambiguous verdict after a crash. */
	if (!r->to_write.head && !r->unmarked &&
	    !(r->nupdates && (idle || r->outstanding == 0 ||
	                      r->nupdates >= ROUND_MAX_HELD)))
		return 0;
	r->unmarked = 0;
	if (idle)
		failpoint(r, "final-commit");
	rc = commit_updates(r);
	if (rc == 0 && r->to_write.head) {
		failpoint(r, "after-inflight-commit");
		rc = send_writes(r);
	}
	return rc;
}

void rt__round_free(struct replay *r)
{
	size_t i;

	for (i = 0; i < r->nupdates; i++)
		free(r->updates[i].error);
	free(r->updates);
	r->updates = NULL;
	r->nupdates = r->cap_updates = 0;
}
