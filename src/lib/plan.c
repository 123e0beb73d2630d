/*
 * plan.c - the add and remove semantics.  See plan.h.
 *
 * The rules, per requested key (ceph-csi's reftracker v1, which trackers
 * are shared with):
 *   add    missing tracker: create it, every key normal, count = keys
 *          absent key: set normal, count + 1
 *          normal or mask key: leave it (a masked key stays masked)
 *   remove missing tracker: nothing, and report "deleted"
 *          normal on normal: remove the key, count - 1
 *          normal on mask:   remove the key, count unchanged
 *          mask on normal:   make it a mask, count - 1
 *          mask on absent:   add a mask, count unchanged
 *          mask on mask, normal on absent: nothing
 * A remove that changes something and leaves the count at 0 removes the
 * whole object, masks included (ceph-csi does the same, so a corrupt
 * tracker stored with count 0 goes too once anything is changed on it).
 * Overflow and underflow are refused before anything is written.
 */
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "format.h"
#include "plan.h"

int rt__snapshot_reset(struct rt__snapshot *snap, size_t nkeys)
{
	unsigned char *found = snap->found;
	size_t cap = snap->cap;
	char *last = snap->last;
	size_t last_cap = snap->last_cap;
	struct rt__model *copy = snap->copy;

	if (nkeys > cap) {
		found = realloc(snap->found, nkeys);
		if (!found)
			return RT_ENOMEM;
		cap = nkeys;
	}
	memset(snap, 0, sizeof(*snap));
	snap->found = found;
	snap->cap = cap;
	snap->last = last;
	snap->last_cap = last_cap;
	snap->copy = copy;
	if (nkeys)
		memset(found, 0, nkeys);
	return 0;
}

void rt__snapshot_free(struct rt__snapshot *snap)
{
	if (!snap)
		return;
	free(snap->found);
	free(snap->last);
	memset(snap, 0, sizeof(*snap));
}

uint64_t rt__snapshot_normals(const struct rt__snapshot *snap)
{
	return snap->nnormal + (snap->empty_type == RT_REF_NORMAL);
}

int rt__snapshot_needs_empty(const struct rt__snapshot *snap, size_t nkeys)
{
	return snap->refcount != snap->nnormal || snap->refcount <= nkeys ||
	       nkeys == 0;
}

int rt__snapshot_check(const struct rt__snapshot *snap, char *msg,
                       size_t msgsz)
{
	uint64_t normals = rt__snapshot_normals(snap);

	if (!snap->exists)
		return 0;
	if (!snap->complete) {
		rt__errmsg_set(msg, msgsz, "internal error: the tracker was "
		               "not read whole before a write");
		return RT_EINVAL;
	}
	if (normals != snap->refcount) {
		rt__errmsg_set(msg, msgsz, "refcount %lu but %llu normal keys%s",
		               (unsigned long)snap->refcount,
		               (unsigned long long)normals,
		               snap->empty_type == RT_REF_NORMAL
		                       ? " (counting the empty key \"\")" : "");
		return RT_ECORRUPT;
	}
	return 0;
}

int rt__plan_check_write(const struct rt__plan *plan,
                         const struct rt__request *req,
                         const struct rt__snapshot *before, char *msg,
                         size_t msgsz)
{
	uint64_t dropped = 0, normals;
	size_t i;
	int rc;

	if (plan->kind == RT__PLAN_NOTHING || plan->kind == RT__PLAN_CREATE)
		return 0;
	if ((rc = rt__snapshot_check(before, msg, msgsz)))
		return rc;
	if (plan->kind != RT__PLAN_DELETE)
		return 0;
	for (i = 0; i < req->nkeys; i++)
		if (before->found[i] == RT_REF_NORMAL)
			dropped++;
	normals = rt__snapshot_normals(before);
	if (normals != dropped) {
		rt__errmsg_set(msg, msgsz, "refcount %lu would reach 0, but the "
		               "tracker holds %llu normal keys and the request "
		               "drops %llu: not deleting it",
		               (unsigned long)before->refcount,
		               (unsigned long long)normals,
		               (unsigned long long)dropped);
		return RT_ECORRUPT;
	}
	return 0;
}

void rt__plan_free(struct rt__plan *plan)
{
	if (!plan)
		return;
	/* set_keys heads the one block the arrays share. */
	free(plan->set_keys);
	memset(plan, 0, sizeof(*plan));
}

/* Room for n keys in each array; keeps the block if big enough. */
static int reserve(struct rt__plan *plan, size_t n)
{
	size_t per = 3 * (sizeof(const char *) + sizeof(size_t));
	char *block;

	if (n <= plan->cap && plan->set_keys)
		return 0;
	if (n == 0)
		n = 1;
	if (n > SIZE_MAX / per)
		return RT_ENOMEM;
	block = malloc(n * per);
	if (!block)
		return RT_ENOMEM;
	free(plan->set_keys);
	/* Pointers first, then sizes: every slice stays aligned. */
	plan->set_keys = (const char **)block;
	plan->set_vals = plan->set_keys + n;
	plan->rm_keys = plan->set_vals + n;
	plan->set_key_lens = (size_t *)(plan->rm_keys + n);
	plan->set_val_lens = plan->set_key_lens + n;
	plan->rm_key_lens = plan->set_val_lens + n;
	plan->cap = n;
	return 0;
}

static void set_key(struct rt__plan *plan, const struct rt__req_key *k,
                    rt_ref_type type)
{
	plan->set_keys[plan->nset] = k->key;
	plan->set_key_lens[plan->nset] = k->len;
	plan->set_vals[plan->nset] = rt__fmt_type_value(type);
	plan->set_val_lens[plan->nset] = RT__VALUE_LEN;
	plan->nset++;
}

static void rm_key(struct rt__plan *plan, const struct rt__req_key *k)
{
	plan->rm_keys[plan->nrm] = k->key;
	plan->rm_key_lens[plan->nrm] = k->len;
	plan->nrm++;
}

/* Counts are uint32 in rt_outcome; more keys than that in one request is
 * beyond any memory, but the outcome should not wrap if it happens. */
static uint32_t clamp32(size_t n)
{
	return n > UINT32_MAX ? UINT32_MAX : (uint32_t)n;
}

static int plan_add(struct rt__plan *plan, const struct rt__request *req,
                    const struct rt__snapshot *snap, char *msg, size_t msgsz)
{
	size_t i, added = 0;
	uint64_t base = snap->exists ? snap->refcount : 0;

	for (i = 0; i < req->nkeys; i++) {
		if (snap->exists && snap->found[i])
			continue;
		set_key(plan, &req->keys[i], RT_REF_NORMAL);
		added++;
	}
	if (snap->exists && added == 0) {
		plan->kind = RT__PLAN_NOTHING;
		plan->refcount = snap->refcount;
		return 0;
	}
	if ((uint64_t)added > UINT32_MAX - base) {
		rt__errmsg_set(msg, msgsz, "refcount overflow: %llu + %zu new "
		               "keys exceeds UINT32_MAX",
		               (unsigned long long)base, added);
		return RT_EOVERFLOW;
	}
	plan->kind = snap->exists ? RT__PLAN_UPDATE : RT__PLAN_CREATE;
	plan->created = !snap->exists;
	plan->refcount = (uint32_t)(base + added);
	plan->added = clamp32(added);
	return 0;
}

static int plan_remove(struct rt__plan *plan, const struct rt__request *req,
                       const struct rt__snapshot *snap, char *msg,
                       size_t msgsz)
{
	char q[RT__QUOTE_BUF];
	size_t i, removed = 0, masked = 0;
	uint32_t drop = 0;

	if (!snap->exists) {
		/* Already gone: what a remove wants, with nothing to write. */
		plan->kind = RT__PLAN_NOTHING;
		plan->deleted = 1;
		return 0;
	}
	for (i = 0; i < req->nkeys; i++) {
		const struct rt__req_key *k = &req->keys[i];
		unsigned char found = snap->found[i];
		int drops = found == RT_REF_NORMAL;

		if (k->type == RT_REF_NORMAL) {
			if (!found)
				continue;
			rm_key(plan, k);
			removed++;
		} else {
			if (found == RT_REF_MASK)
				continue;
			set_key(plan, k, RT_REF_MASK);
			masked++;
		}
		if (drops && drop == snap->refcount) {
			rt__errmsg_set(msg, msgsz, "refcount underflow at key "
			               "%s: the stored count %lu is below the "
			               "number of normal keys being dropped",
			               rt__quote(q, k->key, k->len),
			               (unsigned long)snap->refcount);
			return RT_ECORRUPT;
		}
		drop += (uint32_t)drops;
	}
	plan->removed = clamp32(removed);
	plan->masked = clamp32(masked);
	if (removed == 0 && masked == 0) {
		plan->kind = RT__PLAN_NOTHING;
		plan->refcount = snap->refcount;
		return 0;
	}
	plan->guard_version = snap->version;
	plan->refcount = snap->refcount - drop;
	if (plan->refcount == 0) {
		plan->kind = RT__PLAN_DELETE;
		plan->deleted = 1;
	} else {
		plan->kind = RT__PLAN_UPDATE;
	}
	return 0;
}

/* Room for n keys, every other field cleared. */
static int plan_clear(struct rt__plan *plan, size_t n)
{
	struct rt__plan keep;

	if (reserve(plan, n))
		return RT_ENOMEM;
	keep = *plan;
	memset(plan, 0, sizeof(*plan));
	plan->set_keys = keep.set_keys;
	plan->set_vals = keep.set_vals;
	plan->rm_keys = keep.rm_keys;
	plan->set_key_lens = keep.set_key_lens;
	plan->set_val_lens = keep.set_val_lens;
	plan->rm_key_lens = keep.rm_key_lens;
	plan->cap = keep.cap;
	return 0;
}

int rt__plan_diff(struct rt__plan *plan, const struct rt__request *req,
                  const struct rt__snapshot *before, int after_exists,
                  uint32_t after_refcount, const unsigned char *after_found)
{
	size_t i;

	if (plan_clear(plan, req->nkeys))
		return RT_ENOMEM;
	plan->refcount = after_exists ? after_refcount : 0;
	rt__be32_put(plan->count_be, plan->refcount);
	if (!before->exists && !after_exists) {
		plan->kind = RT__PLAN_NOTHING;
		return 0;
	}
	if (!after_exists) {
		plan->kind = RT__PLAN_DELETE;
		plan->deleted = 1;
		plan->guard_version = before->version;
		return 0;
	}
	for (i = 0; i < req->nkeys; i++) {
		unsigned char was = before->exists ? before->found[i] : 0;

		if (after_found[i] == was)
			continue;
		if (after_found[i])
			set_key(plan, &req->keys[i], after_found[i]);
		else
			rm_key(plan, &req->keys[i]);
	}
	if (!before->exists) {
		plan->kind = RT__PLAN_CREATE;
		plan->created = 1;
	} else if (plan->nset || plan->nrm ||
	           after_refcount != before->refcount) {
		plan->kind = RT__PLAN_UPDATE;
		plan->guard_version = before->version;
	} else {
		plan->kind = RT__PLAN_NOTHING;
	}
	return 0;
}

int rt__plan_make(struct rt__plan *plan, const struct rt__request *req,
                  const struct rt__snapshot *snap, char *msg, size_t msgsz)
{
	int rc;

	if (plan_clear(plan, req->nkeys)) {
		rt__errmsg_set(msg, msgsz, "out of memory planning %zu keys",
		               req->nkeys);
		return RT_ENOMEM;
	}
	rc = req->op == RT_OP_ADD ? plan_add(plan, req, snap, msg, msgsz)
	                          : plan_remove(plan, req, snap, msg, msgsz);
	if (rc)
		return rc;
	if (plan->kind == RT__PLAN_UPDATE)
		plan->guard_version = snap->version;
	rt__be32_put(plan->count_be, plan->refcount);
	return 0;
}
