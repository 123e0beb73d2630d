/*
 * replay_group.c - planning a group of one tracker's entries, and the dry
 * run's overlay of writes not sent.  See replay_group.h.
 *
 * Pure: no RADOS, no journal.  The replayer (replay_sched.c) reads a
 * tracker once for a whole group and hands the read here.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "replay_group.h"

void rt__group_planner_free(struct rt__group_planner *gp)
{
	rt__snapshot_free(&gp->esnap);
	rt__plan_free(&gp->eplan);
}

rt_entry_outcome rt__group_outcome(const struct rt__plan *p)
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

/* The state of one entry's keys (req), cut from the group's state over
 * ureq's keys, into gp->esnap. */
static int entry_snapshot(struct rt__group_planner *gp,
                          const struct rt__request *ureq,
                          const struct rt__request *req, uint64_t version,
                          int exists, uint32_t refcount,
                          const unsigned char *found)
{
	size_t i;

	if (rt__snapshot_reset(&gp->esnap, req->nkeys) != 0)
		return RT_ENOMEM;
	gp->esnap.exists = exists;
	gp->esnap.version = version;
	gp->esnap.refcount = refcount;
	for (i = 0; i < req->nkeys; i++) {
		long at = rt__request_find(ureq, req->keys[i].key,
		                           req->keys[i].len);

		gp->esnap.found[i] = at < 0 ? 0 : found[at];
	}
	return 0;
}

/* The state after one entry's plan, over the group's keys. */
static void apply_plan(const struct rt__request *ureq,
                       const struct rt__plan *p, struct rt__group_state *st)
{
	size_t i;
	long at;

	switch (p->kind) {
	case RT__PLAN_NOTHING:
		return;
	case RT__PLAN_DELETE:
		st->exists = 0;
		st->refcount = 0;
		memset(st->after, 0, ureq->nkeys);
		return;
	case RT__PLAN_CREATE:
	case RT__PLAN_UPDATE:
		break;
	}
	st->exists = 1;
	st->refcount = p->refcount;
	for (i = 0; i < p->nset; i++) {
		at = rt__request_find(ureq, p->set_keys[i], p->set_key_lens[i]);
		if (at >= 0)
			st->after[at] = (unsigned char)p->set_vals[i][0];
	}
	for (i = 0; i < p->nrm; i++) {
		at = rt__request_find(ureq, p->rm_keys[i], p->rm_key_lens[i]);
		if (at >= 0)
			st->after[at] = 0;
	}
}

int rt__group_plan_one(struct rt__group_planner *gp,
                       const struct rt__request *ureq,
                       const struct rt__snapshot *snap,
                       const struct rt__request *req, char *msg,
                       size_t msgsz)
{
	if (entry_snapshot(gp, ureq, req, snap->version, snap->exists,
	                   snap->refcount, snap->found) != 0)
		return RT_ENOMEM;
	return rt__plan_make(&gp->eplan, req, &gp->esnap, msg, msgsz);
}

int rt__group_plan(struct rt__group_planner *gp, enum rt__group_result *result,
                   size_t *nplanned, rt_entry_outcome *planned,
                   struct rt__group_state *end, const struct rt__group *g,
                   char *msg, size_t msgsz)
{
	size_t n;
	int rc;

	*result = RT__GROUP_PLANNED;
	memcpy(end->after, g->snap->found, g->ureq->nkeys);
	end->exists = g->snap->exists;
	end->refcount = g->snap->refcount;
	for (n = 0; n < g->n; n++) {
		rc = entry_snapshot(gp, g->ureq, g->reqs[n], g->snap->version,
		                    end->exists, end->refcount, end->after);
		if (rc != 0)
			return rc;
		rc = rt__plan_make(&gp->eplan, g->reqs[n], &gp->esnap, msg,
		                   msgsz);
		if (rc == RT_ENOMEM)
			return rc;
		if (rc != 0) {
			if (n > 0)
				break; /* it fails on its own, next time */
			*result = RT__GROUP_HEAD_FAILED;
			*nplanned = 0;
			return 0;
		}
		/* A delete ends the tracker's story in this write: it goes
		 * alone (see replay_group.h). */
		if (gp->eplan.kind == RT__PLAN_DELETE && n > 0)
			break;
		planned[n] = rt__group_outcome(&gp->eplan);
		apply_plan(g->ureq, &gp->eplan, end);
		if (gp->eplan.kind == RT__PLAN_DELETE) {
			n++;
			break;
		}
	}
	*nplanned = n;
	return 0;
}

/* ---- the dry run's overlay ---------------------------------------------- */

static int sim_key_cmp(const struct rt__sim_key *k, const char *key,
                       size_t len)
{
	if (k->len != len)
		return k->len < len ? -1 : 1;
	return memcmp(k->key, key, len);
}

/* The index of `key` in sim->keys, or where it would go (*found 0). */
static size_t sim_find(const struct rt__sim *sim, const char *key, size_t len,
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

static void sim_clear_keys(struct rt__sim *sim)
{
	size_t i;

	for (i = 0; i < sim->nkeys; i++)
		free(sim->keys[i].key);
	sim->nkeys = 0;
}

void rt__sim_free(struct rt__sim *sim)
{
	sim_clear_keys(sim);
	free(sim->keys);
	memset(sim, 0, sizeof(*sim));
}

static int sim_set(struct rt__sim *sim, const char *key, size_t len,
                   unsigned char type)
{
	int found;
	size_t at = sim_find(sim, key, len, &found);
	struct rt__sim_key *k;

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

int rt__sim_record(struct rt__sim *sim, const struct rt__request *ureq,
                   const struct rt__snapshot *snap,
                   const struct rt__group_state *end, uint64_t marker_seq)
{
	size_t i;
	int rc;

	sim->valid = 1;
	sim->exists = end->exists;
	sim->refcount = end->refcount;
	sim->marker = marker_seq;
	if (!end->exists) {
		/* Deleted: whatever the cluster still holds is gone. */
		sim_clear_keys(sim);
		sim->wiped = 1;
		sim->nnormal = sim->nmask = 0;
		sim->empty_type = 0;
		return 0;
	}
	/* The census after = the census the group was planned on (snap,
	 * already seen through the overlay) changed by the group's keys. */
	sim->nnormal = snap->exists ? snap->nnormal : 0;
	sim->nmask = snap->exists ? snap->nmask : 0;
	sim->empty_type = snap->exists ? snap->empty_type : 0;
	for (i = 0; i < ureq->nkeys; i++) {
		unsigned char before = snap->exists ? snap->found[i] : 0;

		if (ureq->keys[i].len == 0) {
			sim->empty_type = end->after[i];
			continue;
		}
		if (before == RT_REF_NORMAL)
			sim->nnormal--;
		else if (before == RT_REF_MASK)
			sim->nmask--;
		if (end->after[i] == RT_REF_NORMAL)
			sim->nnormal++;
		else if (end->after[i] == RT_REF_MASK)
			sim->nmask++;
	}
	for (i = 0; i < ureq->nkeys; i++) {
		rc = sim_set(sim, ureq->keys[i].key, ureq->keys[i].len,
		             end->after[i]);
		if (rc != 0)
			return rc;
	}
	return 0;
}

void rt__sim_overlay(const struct rt__sim *sim, const struct rt__request *ureq,
                     struct rt__snapshot *snap)
{
	size_t i, at;
	int found, n;

	if (!sim->valid)
		return;
	snap->exists = sim->exists;
	snap->refcount = sim->exists ? sim->refcount : 0;
	/* A write moves the version: no guard taken before it matches. */
	snap->version = sim->exists ? UINT64_MAX : 0;
	snap->complete = 1;
	snap->nnormal = sim->exists ? sim->nnormal : 0;
	snap->nmask = sim->exists ? sim->nmask : 0;
	snap->empty_type = sim->exists ? sim->empty_type : 0;
	snap->has_extra = 0;
	snap->extra_len = 0;
	if (sim->exists) {
		n = snprintf(snap->extra, sizeof(snap->extra), "%" PRIu64,
		             sim->marker);
		if (n > 0) {
			snap->has_extra = 1;
			snap->extra_len = (size_t)n;
		}
	}
	for (i = 0; i < ureq->nkeys; i++) {
		at = sim_find(sim, ureq->keys[i].key, ureq->keys[i].len,
		              &found);
		if (found)
			snap->found[i] = sim->keys[at].type;
		else if (sim->wiped || !sim->exists)
			snap->found[i] = 0;
	}
}
