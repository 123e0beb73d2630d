/*
 * test_recovery.c - the crash-recovery verdicts, one case per rule, plus the
 * scenarios the replayer's crash tests act out on a real cluster.
 */
#include "check.h"
#include "recovery.h"

static struct rt__inflight removal(uint64_t seq, uint64_t guard, int del)
{
	struct rt__inflight rec = { seq, RT_OP_REMOVE, guard, del };

	return rec;
}

static struct rt__inflight addition(uint64_t seq, uint64_t guard)
{
	struct rt__inflight rec = { seq, RT_OP_ADD, guard, 0 };

	return rec;
}

static void test_recovery__marker_at_seq_means_landed(void)
{
	struct rt__inflight rec = removal(7, 100, 0);
	struct rt__evidence ev = { 1, 130, 1, 7, 0 };

	CHECK_INT(rt__recovery_verdict(&rec, &ev), RT__LANDED);
	rec = addition(7, 0);
	CHECK_INT(rt__recovery_verdict(&rec, &ev), RT__LANDED);
}

static void test_recovery__marker_past_seq_from_merged_write(void)
{
	/* Entries 7..9 of one tracker went out as one write marked 9. */
	struct rt__inflight rec = removal(8, 100, 0);
	struct rt__evidence ev = { 1, 130, 1, 9, 0 };

	CHECK_INT(rt__recovery_verdict(&rec, &ev), RT__LANDED);
}

static void test_recovery__unchanged_version_means_not_landed(void)
{
	struct rt__inflight rec = removal(7, 100, 0);
	struct rt__evidence ev = { 1, 100, 1, 3, 0 };

	CHECK_INT(rt__recovery_verdict(&rec, &ev), RT__NOT_LANDED);
	ev.has_marker = 0;
	CHECK_INT(rt__recovery_verdict(&rec, &ev), RT__NOT_LANDED);
}

static void test_recovery__older_marker_means_not_landed(void)
{
	struct rt__inflight rec = removal(7, 100, 0);
	struct rt__evidence ev = { 1, 140, 1, 3, 0 };

	CHECK_INT(rt__recovery_verdict(&rec, &ev), RT__NOT_LANDED);
}

static void test_recovery__add_is_always_reapplied_without_marker(void)
{
	struct rt__inflight rec = addition(7, 100);
	struct rt__evidence gone = { 0, 0, 0, 0, 0 };
	struct rt__evidence changed = { 1, 150, 0, 0, 0 };

	CHECK_INT(rt__recovery_verdict(&rec, &gone), RT__NOT_LANDED);
	CHECK_INT(rt__recovery_verdict(&rec, &changed), RT__NOT_LANDED);
	rec = addition(7, 0); /* was an exclusive create */
	CHECK_INT(rt__recovery_verdict(&rec, &gone), RT__NOT_LANDED);
}

static void test_recovery__planned_delete_and_gone_is_landed(void)
{
	struct rt__inflight rec = removal(7, 100, 1);
	struct rt__evidence ev = { 0, 0, 0, 0, 0 };

	CHECK_INT(rt__recovery_verdict(&rec, &ev), RT__LANDED);
}

static void test_recovery__removal_on_vanished_tracker_is_reapplied(void)
{
	struct rt__inflight rec = removal(7, 100, 0);
	struct rt__evidence ev = { 0, 0, 0, 0, 0 };

	CHECK_INT(rt__recovery_verdict(&rec, &ev), RT__NOT_LANDED);
}

/* Our write deleted the tracker; another writer created it again with a
 * new key before we resumed.  The new key must survive. */
static void test_recovery__delete_then_recreate_never_removes(void)
{
	struct rt__inflight rec = removal(7, 100, 1);
	struct rt__evidence ev = { 1, 180, 0, 0, 1 };

	CHECK_INT(rt__recovery_verdict(&rec, &ev), RT__LANDED);
	/* The re-created tracker holds our key again: applying the removal
	 * might take a reference added after our write. */
	ev.effect_visible = 0;
	CHECK_INT(rt__recovery_verdict(&rec, &ev), RT__AMBIGUOUS);
}

static void test_recovery__changed_without_marker_is_ambiguous(void)
{
	struct rt__inflight rec = removal(7, 100, 0);
	struct rt__evidence ev = { 1, 150, 0, 0, 0 };

	CHECK_INT(rt__recovery_verdict(&rec, &ev), RT__AMBIGUOUS);
	ev.effect_visible = 1;
	CHECK_INT(rt__recovery_verdict(&rec, &ev), RT__LANDED);
}

int main(void)
{
	RUN(test_recovery__marker_at_seq_means_landed);
	RUN(test_recovery__marker_past_seq_from_merged_write);
	RUN(test_recovery__unchanged_version_means_not_landed);
	RUN(test_recovery__older_marker_means_not_landed);
	RUN(test_recovery__add_is_always_reapplied_without_marker);
	RUN(test_recovery__planned_delete_and_gone_is_landed);
	RUN(test_recovery__removal_on_vanished_tracker_is_reapplied);
	RUN(test_recovery__delete_then_recreate_never_removes);
	RUN(test_recovery__changed_without_marker_is_ambiguous);
	return check_summary("recovery");
}
