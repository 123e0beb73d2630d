/*
 * replay_ops.c - the operator's actions on entries the replayer left
 * alone: retry (back to pending) and skip (never apply, unblock).
 *
 * Each action is recorded in the entry's error text, so `status` and
 * `show-entry` tell afterwards what an operator did and why.  Each runs
 * under the journal lock (taken here unless the handle holds it): a
 * replay in progress must not see an entry change state under it.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <reftrack/replay.h>

#include "journal_int.h"

/* Entry text bound for recorded actions; the journal keeps any length,
 * this only keeps one line readable. */
#define ACTION_TEXT_MAX 1024

static int needs_operator(rt_entry_state state)
{
	return state == RT_ENTRY_FAILED || state == RT_ENTRY_BLOCKED ||
	       state == RT_ENTRY_NEEDS_REVIEW;
}

/* Puts one entry back to pending, if its state allows; *changed says
 * whether it did. */
static int retry_one(rt_journal *j, rt_journal_txn *txn, uint64_t seq,
                     int strict, int *changed)
{
	char text[ACTION_TEXT_MAX];
	rt_journal_entry *e = NULL;
	rt_entry_change ch;
	int rc;

	*changed = 0;
	rc = rt_journal_entry_get(&e, txn, seq);
	if (rc != 0)
		return rc;
	if (!needs_operator(e->state)) {
		rc = strict ? rt__jerr(j, RT_EINVAL,
		                       "entry %" PRIu64 " is %s; only failed, "
		                       "blocked and needs-review entries can "
		                       "be retried",
		                       seq, rt_entry_state_name((int)e->state))
		            : 0;
		rt_journal_entry_free(e);
		return rc;
	}
	snprintf(text, sizeof(text), "retried by an operator (was %s%s%s)",
	         rt_entry_state_name((int)e->state), e->error ? ": " : "",
	         e->error ? e->error : "");
	memset(&ch, 0, sizeof(ch));
	/* A retried needs-review entry is applied as new: the operator has
	 * judged the evidence, so the stale guard must not be judged again. */
	ch.set = RT_CHANGE_STATE | RT_CHANGE_ERROR | RT_CHANGE_GUARD;
	ch.state = RT_ENTRY_PENDING;
	ch.error = text;
	ch.has_guard = 0;
	rt_journal_entry_free(e);
	rc = rt_journal_entry_update(txn, seq, &ch);
	if (rc == 0)
		*changed = 1;
	return rc;
}

struct retry_args {
	rt_journal *j;
	uint64_t seq;
	const char *batch_id;
	uint64_t count;
};

static int retry_state(struct retry_args *a, rt_journal_txn *txn,
                       rt_entry_state state)
{
	rt_journal_iter *it = NULL;
	uint64_t seq;
	int rc, changed;

	rc = rt_journal_iter_state(&it, txn, state, 0);
	while (rc == 0 && (rc = rt_journal_iter_next(it, &seq)) == 0) {
		rc = retry_one(a->j, txn, seq, 0, &changed);
		a->count += (uint64_t)changed;
	}
	rt_journal_iter_free(it);
	return rc == RT_ENOTFOUND ? 0 : rc;
}

static int retry_txn(void *arg, rt_journal_txn *txn)
{
	struct retry_args *a = arg;
	rt_journal_batch *b = NULL;
	uint64_t seq;
	int rc, changed;

	a->count = 0;
	if (a->seq) {
		rc = retry_one(a->j, txn, a->seq, 1, &changed);
		if (rc == RT_ENOTFOUND)
			rc = rt__jerr(a->j, rc, "no entry %" PRIu64, a->seq);
		a->count = (uint64_t)changed;
		return rc;
	}
	if (!a->batch_id) {
		rc = retry_state(a, txn, RT_ENTRY_FAILED);
		if (rc == 0)
			rc = retry_state(a, txn, RT_ENTRY_NEEDS_REVIEW);
		if (rc == 0)
			rc = retry_state(a, txn, RT_ENTRY_BLOCKED);
		return rc;
	}
	rc = rt_journal_batch_get(&b, txn, a->batch_id);
	if (rc != 0)
		return rc;
	/* A batch's entries have consecutive seqs; pruned ones are gone. */
	for (seq = b->first_seq; rc == 0 && seq < b->first_seq + b->nentries;
	     seq++) {
		rc = retry_one(a->j, txn, seq, 0, &changed);
		if (rc == RT_ENOTFOUND)
			rc = 0;
		a->count += (uint64_t)changed;
	}
	rt_journal_batch_free(b);
	return rc;
}

int rt_replay_retry(uint64_t *count, rt_journal *j, uint64_t seq,
                    const char *batch_id)
{
	struct retry_args a = { j, seq, batch_id, 0 };
	rt_journal_lock *taken = NULL;
	int rc = rt__journal_lock_need(j, &taken);

	if (rc == 0)
		rc = rt_journal_write(j, retry_txn, &a);
	rt_journal_lock_release(taken);
	if (count)
		*count = rc == 0 ? a.count : 0;
	return rc;
}

struct skip_args {
	rt_journal *j;
	uint64_t seq;
	const char *reason;
};

static int skip_txn(void *arg, rt_journal_txn *txn)
{
	struct skip_args *a = arg;
	char text[ACTION_TEXT_MAX];
	rt_journal_entry *e = NULL;
	rt_entry_change ch;
	int rc;

	rc = rt_journal_entry_get(&e, txn, a->seq);
	if (rc == RT_ENOTFOUND)
		return rt__jerr(a->j, rc, "no entry %" PRIu64, a->seq);
	if (rc != 0)
		return rc;
	/* An in-flight entry may have landed: only a replay can tell, and
	 * skipping it would hide that. */
	if (!needs_operator(e->state) && e->state != RT_ENTRY_PENDING) {
		rc = rt__jerr(a->j, RT_EINVAL,
		              "entry %" PRIu64 " is %s; only pending, failed, "
		              "blocked and needs-review entries can be skipped",
		              a->seq, rt_entry_state_name((int)e->state));
		rt_journal_entry_free(e);
		return rc;
	}
	snprintf(text, sizeof(text), "skipped by an operator: %s (was %s%s%s)",
	         a->reason, rt_entry_state_name((int)e->state),
	         e->error ? ": " : "", e->error ? e->error : "");
	rt_journal_entry_free(e);
	memset(&ch, 0, sizeof(ch));
	ch.set = RT_CHANGE_STATE | RT_CHANGE_ERROR;
	ch.state = RT_ENTRY_SKIPPED;
	ch.error = text;
	return rt_journal_entry_update(txn, a->seq, &ch);
}

int rt_replay_skip(rt_journal *j, uint64_t seq, const char *reason)
{
	struct skip_args a = { j, seq, reason };
	rt_journal_lock *taken = NULL;
	int rc;

	if (!reason || !reason[0])
		return rt__jerr(j, RT_EINVAL, "skip needs a reason");
	rc = rt__journal_lock_need(j, &taken);
	if (rc == 0)
		rc = rt_journal_write(j, skip_txn, &a);
	rt_journal_lock_release(taken);
	return rc;
}
