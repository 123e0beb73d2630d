/*
 * replay_group.h - planning a group of one tracker's entries, and the dry
 * run's overlay of writes not sent (private, pure).
 *
 * replay_group.c owns how the replayer turns one read of a tracker into
 * the plans of several consecutive entries: each entry is planned with
 * rt__plan_make() on the state the entry before it leaves, so that the
 * group's one write (rt__plan_diff() of the read and the end state) does
 * what applying the entries one by one does, and each entry's recorded
 * outcome is the one its own plan gives.  It also owns the dry run's view
 * of a tracker after writes that were planned but not sent.  Nothing here
 * talks to RADOS or the journal (tests/unit/test_replay_group.c).
 */
#ifndef REFTRACK_REPLAY_GROUP_H
#define REFTRACK_REPLAY_GROUP_H

#include <stddef.h>
#include <stdint.h>

#include <reftrack/journal.h>

#include "plan.h"
#include "request.h"

/* Scratch for planning one entry of a group; zeroed before first use,
 * reused across groups, released with rt__group_planner_free(). */
struct rt__group_planner {
	struct rt__snapshot esnap; /* one entry's keys, cut from the group's */
	struct rt__plan eplan;     /* that entry's plan */
};

void rt__group_planner_free(struct rt__group_planner *gp);

/* One group: n >= 1 consecutive entries of one tracker, in seq order.
 * ureq holds every key of the entries (their union; its type fields mean
 * nothing), snap the read of the tracker over ureq's keys.  Borrowed. */
struct rt__group {
	const struct rt__request *ureq;
	const struct rt__snapshot *snap;
	const struct rt__request *const *reqs; /* reqs[i]: entry i's request */
	size_t n;
};

/* What rt__group_plan() made of a group. */
enum rt__group_result {
	RT__GROUP_PLANNED,    /* the first *nplanned >= 1 entries are planned */
	RT__GROUP_HEAD_FAILED /* the first entry cannot be applied (msg) */
};

/* The state a group leaves over ureq's keys. */
struct rt__group_state {
	int exists;
	uint32_t refcount;
	unsigned char *after;  /* ureq->nkeys types, 0 absent; the caller's */
};

/* Plans g's entries in turn, each on the state the one before leaves,
 * starting from g->snap.  The group is cut before the first entry that
 * cannot join it: one whose plan fails (it fails on its own, as the head
 * of a later group), and one that would delete the tracker (a delete is
 * always a group of one, so that the entry whose record says "deleted" is
 * the one that planned it).  A head that plans a delete is planned alone.
 * planned[i] gets entry i's outcome (g->n slots, the caller's), *end the
 * state after the last planned entry.  Returns 0 with *result set (for
 * RT__GROUP_HEAD_FAILED, msg names the failure and *end is meaningless),
 * or RT_ENOMEM. */
int rt__group_plan(struct rt__group_planner *gp, enum rt__group_result *result,
                   size_t *nplanned, rt_entry_outcome *planned,
                   struct rt__group_state *end, const struct rt__group *g,
                   char *msg, size_t msgsz);

/* Plans one entry (req, whose keys are all in ureq) alone on the read
 * `snap` over ureq's keys, into gp->eplan.  Returns what rt__plan_make()
 * returns. */
int rt__group_plan_one(struct rt__group_planner *gp,
                       const struct rt__request *ureq,
                       const struct rt__snapshot *snap,
                       const struct rt__request *req, char *msg,
                       size_t msgsz);

/* The outcome an entry records when its plan is applied. */
rt_entry_outcome rt__group_outcome(const struct rt__plan *p);

/* ---- the dry run's overlay ---------------------------------------------- */

/* What the writes a dry run would have sent did to one tracker.  A later
 * group of the tracker reads the cluster, which still holds the state
 * before them, and sees it through this overlay instead, so each entry is
 * planned on the state a real replay would read.  Zeroed = no write yet. */
struct rt__sim_key {
	char *key;
	size_t len;
	unsigned char type;      /* 0 absent, else RT_REF_* */
};

struct rt__sim {
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
	struct rt__sim_key *keys; /* sorted by (len, bytes) */
	size_t nkeys, cap;
};

void rt__sim_free(struct rt__sim *sim);

/* Records the state a group's write would have left: `end` over ureq's
 * keys, planned on `snap` (already seen through the overlay), and the
 * marker set to `marker_seq`, the seq of the group's last entry, as the
 * write would set it.  Errors: RT_ENOMEM. */
int rt__sim_record(struct rt__sim *sim, const struct rt__request *ureq,
                   const struct rt__snapshot *snap,
                   const struct rt__group_state *end, uint64_t marker_seq);

/* Shows a fresh read (snap, over ureq's keys) as it would be after the
 * writes recorded before it: every field the replayer looks at, the
 * marker and the version too (recovery verdicts read them). */
void rt__sim_overlay(const struct rt__sim *sim, const struct rt__request *ureq,
                     struct rt__snapshot *snap);

#endif
