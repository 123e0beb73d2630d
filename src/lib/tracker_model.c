/*
 * tracker_model.c - the replayer's copy of a whole tracker.  See
 * tracker_model.h.
 *
 * Keys are kept in one buffer with a sorted index over it, in the order an
 * omap listing returns them (bytewise, a prefix first), which is also a
 * request's order: a census is copied by appending, a request's keys are
 * looked up in one walk of both, and a write's changes are merged in,
 * building the next index and buffer beside the old ones.
 */
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "format.h"
#include "tracker_model.h"

size_t rt__model_bytes(const struct rt__model *m)
{
	return m->ents_cap * sizeof(*m->ents) + m->keys_cap;
}

/* The arrays stay for the next copy: they never pass the bound
 * (reserve()). */
void rt__model_drop(struct rt__model *m)
{
	m->valid = m->filling = m->exists = 0;
	m->version = 0;
	m->refcount = 0;
	m->marker = 0;
	m->empty_known = 0;
	m->empty_type = 0;
	m->n = m->used = 0;
}

void rt__model_free(struct rt__model *m)
{
	if (!m)
		return;
	free(m->ents);
	free(m->keys);
	memset(m, 0, sizeof(*m));
}

void rt__model_begin(struct rt__model *m)
{
	rt__model_drop(m);
	m->filling = 1;
}

/* Room for n entries and `bytes` key bytes, within the bound: 0, 1 (past
 * the bound) or RT_ENOMEM. */
static int reserve(struct rt__model *m, size_t n, size_t bytes)
{
	size_t ecap = m->ents_cap, kcap = m->keys_cap;

	while (ecap < n)
		ecap = ecap ? 2 * ecap : 4;
	while (kcap < bytes)
		kcap = kcap ? 2 * kcap : 64;
	if (n * sizeof(*m->ents) + bytes > RT__MODEL_MAX_BYTES)
		return 1;
	if (ecap * sizeof(*m->ents) + kcap > RT__MODEL_MAX_BYTES) {
		/* Doubling would pass the bound: take exactly what fits. */
		ecap = n;
		kcap = bytes;
	}
	if (ecap != m->ents_cap) {
		struct rt__model_key *e = realloc(m->ents, ecap * sizeof(*e));

		if (!e)
			return RT_ENOMEM;
		m->ents = e;
		m->ents_cap = ecap;
	}
	if (kcap != m->keys_cap) {
		char *k = realloc(m->keys, kcap ? kcap : 1);

		if (!k)
			return RT_ENOMEM;
		m->keys = k;
		m->keys_cap = kcap;
	}
	return 0;
}

void rt__model_listed(struct rt__model *m, const char *key, size_t len,
                      unsigned char type)
{
	if (!m->filling)
		return;
	if (len == 0) {
		m->empty_known = 1;
		m->empty_type = type;
		return;
	}
	if (reserve(m, m->n + 1, m->used + len) != 0) {
		/* Given up: keep nothing. */
		rt__model_free(m);
		return;
	}
	memcpy(m->keys + m->used, key, len);
	m->ents[m->n].off = m->used;
	m->ents[m->n].len = len;
	m->ents[m->n].type = type;
	m->n++;
	m->used += len;
}

void rt__model_end(struct rt__model *m, const struct rt__snapshot *snap)
{
	int filled = m->filling;

	m->filling = 0;
	if (!filled || (snap->exists && !snap->complete)) {
		rt__model_drop(m);
		return;
	}
	m->valid = 1;
	m->exists = snap->exists;
	m->version = snap->exists ? snap->version : 0;
	m->refcount = snap->exists ? snap->refcount : 0;
	if (!snap->exists) {
		/* Nothing is there, "" included. */
		m->n = m->used = 0;
		m->empty_known = 1;
		m->empty_type = 0;
	} else if (snap->empty_known) {
		m->empty_known = 1;
		m->empty_type = snap->empty_type;
	}
}

void rt__model_missing(struct rt__model *m)
{
	rt__model_drop(m);
	m->valid = 1;
	m->empty_known = 1;
}

/* One change of a write, for the merge. */
struct change {
	const char *key;
	size_t len;
	unsigned char type;     /* 0: removed */
};

static int change_cmp(const void *a, const void *b)
{
	const struct change *x = a, *y = b;

	return rt__key_cmp(x->key, x->len, y->key, y->len);
}

/* Merges the sorted changes into the copy: a new index and buffer. */
static int merge(struct rt__model *m, const struct change *ch, size_t nch)
{
	struct rt__model next;
	size_t i = 0, k = 0, n = 0, bytes = 0;
	int rc;

	/* Upper bounds: every change a new key. */
	for (k = 0; k < nch; k++)
		bytes += ch[k].len;
	memset(&next, 0, sizeof(next));
	rc = reserve(&next, m->n + nch, m->used + bytes);
	if (rc != 0) {
		rt__model_free(&next);
		return rc;
	}
	k = 0;
	bytes = 0;
	while (i < m->n || k < nch) {
		const char *key;
		size_t len;
		unsigned char type;
		int c;

		if (i == m->n)
			c = 1;
		else if (k == nch)
			c = -1;
		else
			c = rt__key_cmp(m->keys + m->ents[i].off,
			                m->ents[i].len, ch[k].key, ch[k].len);
		if (c < 0) {
			key = m->keys + m->ents[i].off;
			len = m->ents[i].len;
			type = m->ents[i].type;
			i++;
		} else {
			key = ch[k].key;
			len = ch[k].len;
			type = ch[k].type;
			k++;
			if (c == 0)
				i++;
		}
		if (type == 0)
			continue;
		memcpy(next.keys + bytes, key, len);
		next.ents[n].off = bytes;
		next.ents[n].len = len;
		next.ents[n].type = type;
		n++;
		bytes += len;
	}
	free(m->ents);
	free(m->keys);
	m->ents = next.ents;
	m->ents_cap = next.ents_cap;
	m->keys = next.keys;
	m->keys_cap = next.keys_cap;
	m->n = n;
	m->used = bytes;
	return 0;
}

void rt__model_apply(struct rt__model *m, const struct rt__plan *plan,
                     uint64_t version)
{
	struct change *ch = NULL;
	size_t nch = 0, i;
	int planned_on_copy =
		(plan->kind == RT__PLAN_CREATE && !m->exists) ||
		(plan->kind == RT__PLAN_UPDATE && m->exists &&
		 plan->guard_version == m->version);

	if (!m->valid || !planned_on_copy) {
		rt__model_drop(m);
		return;
	}
	if (plan->nset + plan->nrm > 0) {
		ch = malloc((plan->nset + plan->nrm) * sizeof(*ch));
		if (!ch) {
			rt__model_drop(m);
			return;
		}
	}
	for (i = 0; i < plan->nset; i++) {
		rt_ref_type type;

		if (rt__fmt_decode_type(&type, plan->set_keys[i],
		                        plan->set_key_lens[i], plan->set_vals[i],
		                        plan->set_val_lens[i], NULL, 0) != 0) {
			/* Our own plan holds only valid values. */
			rt__model_drop(m);
			goto done;
		}
		ch[nch].key = plan->set_keys[i];
		ch[nch].len = plan->set_key_lens[i];
		ch[nch].type = (unsigned char)type;
		nch++;
	}
	for (i = 0; i < plan->nrm; i++) {
		ch[nch].key = plan->rm_keys[i];
		ch[nch].len = plan->rm_key_lens[i];
		ch[nch].type = 0;
		nch++;
	}
	/* "" is kept apart (listings never return it). */
	for (i = 0; i < nch; i++) {
		if (ch[i].len == 0) {
			m->empty_known = 1;
			m->empty_type = ch[i].type;
			ch[i] = ch[--nch];
			break;
		}
	}
	qsort(ch, nch, sizeof(*ch), change_cmp);
	if (merge(m, ch, nch) != 0) {
		rt__model_drop(m);
		goto done;
	}
	m->exists = 1;
	m->version = version;
	m->refcount = plan->refcount;
done:
	free(ch);
}

int rt__model_snapshot(const struct rt__model *m,
                       const struct rt__request *req,
                       struct rt__snapshot *snap)
{
	size_t i, e;

	if (!m->valid || !m->exists)
		return 0;
	if (rt__snapshot_reset(snap, req->nkeys) != 0)
		return -1;
	snap->exists = 1;
	snap->version = m->version;
	snap->refcount = m->refcount;
	snap->complete = snap->listed = 1;
	snap->empty_known = m->empty_known;
	snap->empty_type = m->empty_type; /* 0 unless known */
	for (i = 0; i < m->n; i++) {
		if (m->ents[i].type == RT_REF_NORMAL)
			snap->nnormal++;
		else
			snap->nmask++;
	}
	/* Where a read would look "" up, an unknown "" needs that read. */
	if (!m->empty_known && rt__snapshot_needs_empty(snap, req->nkeys))
		return 0;
	/* The request's keys are in the copy's order (request.h): one walk
	 * of both. */
	for (i = 0, e = 0; i < req->nkeys; i++) {
		const struct rt__req_key *k = &req->keys[i];
		int c = 1;

		if (k->len == 0) {
			if (!m->empty_known)
				return 0;
			snap->found[i] = m->empty_type;
			continue;
		}
		while (e < m->n &&
		       (c = rt__key_cmp(m->keys + m->ents[e].off,
		                        m->ents[e].len, k->key, k->len)) < 0)
			e++;
		if (e < m->n && c == 0)
			snap->found[i] = m->ents[e].type;
	}
	return 1;
}
