/*
 * sys/journal.h - low-level writes to a journal's entries, for tools and
 * tests.
 *
 * Contract.  The replayer and the operator's actions (replay.h) are the
 * normal way entries change; they keep the exactly-once invariants that a
 * caller of this header must keep by itself (an entry is in flight, with
 * its guard, before its write is sent; a tracker's entries settle in seq
 * order).  What the library still checks here, whoever calls it:
 *  - every state change is one of the legal transitions below
 *    (rt_entry_transition_allowed()); an illegal one is refused with
 *    RT_EINVAL, writes nothing, and its transaction can no longer commit;
 *  - the state index and the per-batch and global counts stay consistent.
 * It does not check the journal lock: a program that changes entries
 * while another replays the journal takes rt_journal_lock_take() itself.
 * These calls may change between minor versions, as the replayer's needs
 * do; programs that only read, submit and replay use journal.h and
 * replay.h, whose calls stay stable.
 */
#ifndef REFTRACK_SYS_JOURNAL_H
#define REFTRACK_SYS_JOURNAL_H

#include <stdint.h>

#include "../journal.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- legal entry state transitions ----------------------------------- */

/* 1 if an entry in state `from` may be changed to state `to`, else 0 (also
 * for values that are not states).  from == to is an update that keeps the
 * state, allowed only while the entry is unsettled (pending, in-flight).
 *   pending      -> in-flight, done, failed, blocked, needs-review,
 *                   skipped (replayer; skip)
 *   in-flight    -> in-flight (guarded again), pending (the write was
 *                   refused), done, failed, blocked, needs-review
 *   failed, blocked, needs-review
 *                -> pending (retry; blocked also at the start of a
 *                   replay), skipped (skip)
 *   done, skipped -> nothing: final, so an effect is never applied twice
 *                   and pruning may delete them */
RT_EXTERN int rt_entry_transition_allowed(int from, int to);

/* ---- committing -------------------------------------------------------- */

/* Commits and frees `txn` (also on failure: it is gone either way).
 * Errors: RT_EINVAL (an illegal state transition was refused in it: nothing
 * of it is written), RT_ETRANSIENT (the map was full: it has been enlarged,
 * nothing was written, redo the whole transaction), RT_EJOURNAL (journal
 * full at RT_JOURNAL_MAP_MAX), RT_EIO (e.g. no space left on the device). */
RT_EXTERN int rt_journal_txn_commit(rt_journal_txn *txn);

/* Runs fn(arg, txn) in a write transaction and commits it if fn returns 0;
 * any other value aborts it and is returned.  When the map fills up (fn or
 * the commit gets RT_ETRANSIENT from the journal) the map is enlarged and
 * fn runs again from the start in a new transaction, so fn must be safe to
 * repeat.  Errors: those of fn, rt_journal_txn_begin() and _commit(). */
RT_EXTERN int rt_journal_write(rt_journal *j,
                     int (*fn)(void *arg, rt_journal_txn *txn), void *arg);

/* ---- changing entries -------------------------------------------------- */

/* Which fields of an rt_entry_change apply. */
#define RT_CHANGE_STATE 0x01
#define RT_CHANGE_ATTEMPTS 0x02
#define RT_CHANGE_ERROR 0x04
#define RT_CHANGE_OUTCOME 0x08
#define RT_CHANGE_GUARD 0x10

typedef struct rt_entry_change {
	unsigned set;             /* RT_CHANGE_* bits */
	rt_entry_state state;
	uint32_t attempts;
	const char *error;        /* NULL or "" clears it */
	rt_entry_outcome outcome;
	int has_guard;            /* 0 clears the guard */
	uint64_t guard_version;
} rt_entry_change;

/* Changes entry `seq` in write transaction `txn`, keeping the state index
 * and the per-batch and global counts consistent in the same transaction.
 * The entry's state goes from its current one to change->state (with
 * RT_CHANGE_STATE) or stays (without it); either way the transition must
 * be allowed (rt_entry_transition_allowed()), so a done or skipped entry
 * is never changed.  updated_ns becomes now; done_ns becomes now when the
 * state changes to RT_ENTRY_DONE (and 0 when it changes to any other).
 * `change` is copied; its strings need only live during the call.  Many
 * entries may be changed in one transaction.  Errors: RT_ENOTFOUND,
 * RT_EINVAL (read-only txn, an unknown state, or an illegal transition:
 * the message names the entry and both states, nothing is written and
 * the transaction will not commit), RT_EVERSION (the entry holds fields
 * written by a newer reftrack; it is left as is), RT_ETRANSIENT (the map
 * is full: abort the transaction and redo it, or use rt_journal_write()),
 * RT_EJOURNAL. */
RT_EXTERN int rt_journal_entry_update(rt_journal_txn *txn, uint64_t seq,
                            const rt_entry_change *change);

#ifdef __cplusplus
}
#endif

#endif
