/*
 * journal_entry.c - reading and changing entries, iterating them, and the
 * batch records and counts that go with them.
 *
 * Invariant kept by every write here, in the same transaction: an entry in
 * state S has exactly one by_state row (S, seq), one by_tracker row, and is
 * counted once in slot S of its batch's counts and of the global counts.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "journal_int.h"

/* ---- batch records ---------------------------------------------------------- */

static int batch_read(rt_journal_txn *t, uint64_t serial,
                      struct rt__batch_rec *rec)
{
	uint8_t kb[8];
	MDB_val k = mkval(kb, 8), d;
	int rc;

	rt__be64_put(kb, serial);
	rc = mdb_get(t->txn, t->j->batches, &k, &d);
	if (rc == MDB_NOTFOUND)
		return rt__jerr(t->j, RT_EJOURNAL, "batch record %llu is missing",
		                (unsigned long long)serial);
	if (rc)
		return rt__jerr_mdb(t->j, t, rc, "reading a batch record");
	if ((rc = rt__batch_decode(rec, d.mv_data, d.mv_size)))
		return rt__jerr_decode(t->j, rc, "batch record",
		                       (unsigned long long)serial);
	return 0;
}

/* Count moves not written yet: per batch, the net change of each state's
 * count.  Updates of many entries gather theirs here and write each batch
 * record and the global counts once (rt__journal_entries_update()), where
 * one by one they were read, decoded, encoded and written again per
 * entry. */
#define MOVES_BATCHES 8

struct count_moves {
	size_t n;
	struct {
		uint64_t serial;
		int64_t d[RT_ENTRY_STATE_SLOTS];
	} b[MOVES_BATCHES];
};

/* Adds `by` to count[i], refusing a count that would go below zero. */
static int counts_add(uint64_t *count, int64_t by)
{
	if (by < 0 && *count < (uint64_t)-by)
		return -1;
	*count += (uint64_t)by;
	return 0;
}

/* Writes the moves into the batch records and the global counts. */
static int counts_write(rt_journal_txn *t, const struct count_moves *m)
{
	struct rt__batch_rec rec;
	uint64_t global[RT_ENTRY_STATE_SLOTS];
	struct rt__buf b = { 0 };
	uint8_t kb[8];
	MDB_val k, d;
	size_t i, s;
	int rc = 0;

	if (m->n == 0)
		return 0;
	rc = rt__meta_get_counts(t, global);
	for (i = 0; rc == 0 && i < m->n; i++) {
		rc = batch_read(t, m->b[i].serial, &rec);
		for (s = 1; rc == 0 && s < RT_ENTRY_STATE_SLOTS; s++)
			if (counts_add(&rec.counts[s], m->b[i].d[s]) ||
			    counts_add(&global[s], m->b[i].d[s]))
				rc = rt__jerr(t->j, RT_EJOURNAL,
				              "counts of batch %llu are "
				              "inconsistent",
				              (unsigned long long)m->b[i].serial);
		if (rc)
			break;
		/* rec.file_name points into the map: encode before any
		 * write. */
		rt__buf_reset(&b);
		rt__batch_encode(&b, &rec);
		if (b.oom) {
			rc = rt__jerr(t->j, RT_ENOMEM, "out of memory");
			break;
		}
		rt__be64_put(kb, m->b[i].serial);
		k = mkval(kb, 8);
		d = mkval(b.p, b.len);
		rc = mdb_put(t->txn, t->j->batches, &k, &d, 0);
		if (rc)
			rc = rt__jerr_mdb(t->j, t, rc, "writing a batch record");
	}
	if (rc == 0)
		rc = rt__meta_put_counts(t, global);
	rt__buf_free(&b);
	return rc;
}

/* Notes a move in m; once m has no room for another batch, writes what it
 * holds first. */
static int counts_note(rt_journal_txn *t, struct count_moves *m,
                       uint64_t serial, int from, int to, uint64_t n)
{
	size_t i;
	int rc;

	if (from == to || n == 0)
		return 0;
	for (i = 0; i < m->n && m->b[i].serial != serial; i++)
		;
	if (i == MOVES_BATCHES) {
		if ((rc = counts_write(t, m)))
			return rc;
		m->n = i = 0;
	}
	if (i == m->n) {
		memset(&m->b[i], 0, sizeof(m->b[i]));
		m->b[i].serial = serial;
		m->n++;
	}
	/* State 0 is "none": created or deleted entries. */
	if (from)
		m->b[i].d[from] -= (int64_t)n;
	if (to)
		m->b[i].d[to] += (int64_t)n;
	return 0;
}

int rt__counts_move(rt_journal_txn *t, uint64_t serial, int from, int to,
                    uint64_t n)
{
	struct count_moves m;
	int rc;

	m.n = 0;
	rc = counts_note(t, &m, serial, from, to, n);
	return rc ? rc : counts_write(t, &m);
}

/* ---- reading entries ---------------------------------------------------------- */

static int entry_raw(rt_journal_txn *t, uint64_t seq, MDB_val *d,
                     struct rt__entry_rec *e)
{
	uint8_t kb[8];
	MDB_val k = mkval(kb, 8);
	uint64_t end;
	int rc;

	/* Past next_seq lie only the rows of a batch being staged. */
	if ((rc = rt__visible_end(t, &end)))
		return rc;
	rt__be64_put(kb, seq);
	rc = seq < end ? mdb_get(t->txn, t->j->entries, &k, d) : MDB_NOTFOUND;
	if (rc == MDB_NOTFOUND)
		return rt__jerr(t->j, RT_ENOTFOUND, "no entry %llu",
		                (unsigned long long)seq);
	if (rc)
		return rt__jerr_mdb(t->j, t, rc, "reading an entry");
	if ((rc = rt__entry_decode(e, d->mv_data, d->mv_size)))
		return rt__jerr_decode(t->j, rc, "entry", (unsigned long long)seq);
	return 0;
}

/* Copies a byte string into the entry's block as a C string. */
static const char *put_str(char **p, const char *s, size_t len)
{
	char *dst = *p;

	if (len)
		memcpy(dst, s, len);
	dst[len] = '\0';
	*p += len + 1;
	return dst;
}

int rt_journal_entry_get(rt_journal_entry **out, rt_journal_txn *t,
                         uint64_t seq)
{
	struct rt__entry_rec e;
	struct rt__batch_rec br;
	struct rt__rd r;
	rt_journal_entry *ent;
	rt_ref *refs;
	MDB_val d;
	size_t size, i;
	char *p;
	int rc;

	*out = NULL;
	rc = entry_raw(t, seq, &d, &e);
	if (rc)
		return rc;
	rc = batch_read(t, e.batch_serial, &br);
	if (rc)
		return rc;
	if (e.nrefs > e.refs_len) /* each ref takes at least one byte */
		return rt__jerr(t->j, RT_EJOURNAL, "entry %llu is malformed",
		                (unsigned long long)seq);

	/* One block: the struct, the refs array, then every string.  The
	 * encoded refs are at least as long as their keys, so refs_len plus
	 * a NUL per key bounds the key bytes. */
	size = sizeof(*ent) + (size_t)e.nrefs * sizeof(rt_ref) + e.refs_len +
	       (size_t)e.nrefs + e.pool.len + e.ns.len + e.tracker.len +
	       e.request_id.len + e.error.len + 5;
	ent = calloc(1, size);
	if (!ent)
		return rt__jerr(t->j, RT_ENOMEM, "out of memory");
	refs = (rt_ref *)(ent + 1);
	p = (char *)(refs + e.nrefs);

	ent->seq = seq;
	rt__hex32(ent->batch_id, br.id);
	ent->request_index = e.request_index;
	ent->pool = put_str(&p, e.pool.s, e.pool.len);
	ent->ns = put_str(&p, e.ns.s, e.ns.len);
	ent->tracker = put_str(&p, e.tracker.s, e.tracker.len);
	ent->op = (rt_op)e.op;
	ent->nrefs = (size_t)e.nrefs;
	ent->refs = refs;
	r.p = e.refs;
	r.end = e.refs + e.refs_len;
	r.bad = 0;
	for (i = 0; i < ent->nrefs; i++) {
		const char *key;
		size_t keylen;

		/* The decoder already walked these, so this cannot fail. */
		rt__refs_next(&r, &key, &keylen, &refs[i].type);
		refs[i].key = put_str(&p, key, keylen);
	}
	ent->request_id = e.request_id.s
	                      ? put_str(&p, e.request_id.s, e.request_id.len)
	                      : NULL;
	ent->state = (rt_entry_state)e.state;
	ent->attempts = e.attempts;
	ent->error = e.error.s ? put_str(&p, e.error.s, e.error.len) : NULL;
	ent->outcome = e.outcome;
	ent->has_guard = e.has_guard;
	ent->guard_version = e.guard_version;
	ent->submitted_ns = (int64_t)br.submitted_ns;
	ent->updated_ns = (int64_t)e.updated_ns;
	ent->done_ns = (int64_t)e.done_ns;
	*out = ent;
	rt__journal_drop_value(t->j, d.mv_data, d.mv_size);
	return 0;
}

void rt_journal_entry_free(rt_journal_entry *entry)
{
	free(entry);
}

/* ---- changing entries ------------------------------------------------------------ */

/* The one table of legal state transitions (sys/journal.h says why each
 * is there), indexed [from][to].  Every change of an entry goes through
 * rt_journal_entry_update(), which checks it here: done and skipped rows
 * are empty, so a settled effect is never applied again. */
#define P (1u << RT_ENTRY_PENDING)
#define I (1u << RT_ENTRY_IN_FLIGHT)
#define D (1u << RT_ENTRY_DONE)
#define F (1u << RT_ENTRY_FAILED)
#define S (1u << RT_ENTRY_SKIPPED)
#define B (1u << RT_ENTRY_BLOCKED)
#define R (1u << RT_ENTRY_NEEDS_REVIEW)
static const unsigned transitions[RT_ENTRY_STATE_SLOTS] = {
	[RT_ENTRY_PENDING] = P | I | D | F | S | B | R,
	[RT_ENTRY_IN_FLIGHT] = P | I | D | F | B | R,
	[RT_ENTRY_DONE] = 0,
	[RT_ENTRY_FAILED] = P | S,
	[RT_ENTRY_SKIPPED] = 0,
	[RT_ENTRY_BLOCKED] = P | S,
	[RT_ENTRY_NEEDS_REVIEW] = P | S,
};
#undef P
#undef I
#undef D
#undef F
#undef S
#undef B
#undef R

/* A state's name, or "state N" for one this reftrack does not know. */
static const char *state_label(int state, char buf[16])
{
	const char *name = rt_entry_state_name(state);

	if (name)
		return name;
	snprintf(buf, 16, "state %d", state);
	return buf;
}

int rt_entry_transition_allowed(int from, int to)
{
	if (!rt_entry_state_name(from) || !rt_entry_state_name(to))
		return 0;
	return (transitions[from] >> to) & 1u;
}

static int state_row(rt_journal_txn *t, int state, uint64_t seq, int add)
{
	uint8_t kb = (uint8_t)state, sb[8];
	MDB_val k = mkval(&kb, 1), d = mkval(sb, 8);
	int rc;

	rt__be64_put(sb, seq);
	rc = add ? mdb_put(t->txn, t->j->by_state, &k, &d, MDB_NODUPDATA)
	         : mdb_del(t->txn, t->j->by_state, &k, &d);
	if (rc == MDB_NOTFOUND || rc == MDB_KEYEXIST)
		return rt__jerr(t->j, RT_EJOURNAL,
		                "state index is inconsistent at entry %llu",
		                (unsigned long long)seq);
	if (rc)
		return rt__jerr_mdb(t->j, t, rc, "updating the state index");
	return 0;
}

/* One entry's update; its count move goes into m. */
static int entry_update(rt_journal_txn *t, uint64_t seq,
                        const rt_entry_change *chg, struct count_moves *m)
{
	struct rt__entry_rec e;
	uint8_t kb[8];
	MDB_val k, d;
	int old_state, new_state, rc;
	char fb[16], tb[16];
	int64_t now = rt__now_ns();

	if (t->rdonly)
		return rt__jerr(t->j, RT_EINVAL, "update in a read-only transaction");
	if (t->full)
		return rt__jerr_mdb(t->j, t, MDB_MAP_FULL, "updating an entry");
	if ((chg->set & RT_CHANGE_STATE) &&
	    !rt_entry_state_name((int)chg->state))
		return rt__jerr(t->j, RT_EINVAL, "entry %llu: unknown state %d",
		                (unsigned long long)seq, (int)chg->state);
	rc = entry_raw(t, seq, &d, &e);
	if (rc)
		return rc;
	if (e.unknown_fields)
		return rt__jerr(t->j, RT_EVERSION,
		                "entry %llu has fields written by a newer reftrack; "
		                "not changing it",
		                (unsigned long long)seq);
	old_state = e.state;
	new_state = chg->set & RT_CHANGE_STATE ? (int)chg->state : old_state;
	if (!rt_entry_transition_allowed(old_state, new_state)) {
		/* Nothing is written, and the txn cannot commit what the
		 * caller did before in it either: its plan went wrong. */
		snprintf(t->refused, sizeof(t->refused),
		         "entry %llu: illegal state transition from %s to %s",
		         (unsigned long long)seq, state_label(old_state, fb),
		         state_label(new_state, tb));
		return rt__jerr(t->j, RT_EINVAL, "%s", t->refused);
	}
	if (chg->set & RT_CHANGE_STATE) {
		e.state = (uint8_t)chg->state;
		if (e.state != old_state)
			e.done_ns = e.state == RT_ENTRY_DONE ? (uint64_t)now : 0;
	}
	if (chg->set & RT_CHANGE_ATTEMPTS)
		e.attempts = chg->attempts;
	if (chg->set & RT_CHANGE_ERROR) {
		e.error.s = chg->error && *chg->error ? chg->error : NULL;
		e.error.len = e.error.s ? strlen(e.error.s) : 0;
	}
	if (chg->set & RT_CHANGE_OUTCOME)
		e.outcome = chg->outcome;
	if (chg->set & RT_CHANGE_GUARD) {
		e.has_guard = chg->has_guard;
		e.guard_version = chg->has_guard ? chg->guard_version : 0;
	}
	e.updated_ns = (uint64_t)now;

	/* e points into the map page: encode it before writing anything. */
	rt__buf_reset(&t->buf);
	rt__entry_encode(&t->buf, &e);
	if (t->buf.oom)
		return rt__jerr(t->j, RT_ENOMEM, "out of memory");
	rt__journal_drop_value(t->j, d.mv_data, d.mv_size);
	rt__be64_put(kb, seq);
	k = mkval(kb, 8);
	d = mkval(t->buf.p, t->buf.len);
	rc = mdb_put(t->txn, t->j->entries, &k, &d, 0);
	if (rc)
		return rt__jerr_mdb(t->j, t, rc, "writing an entry");
	t->mods++;
	if (e.state != old_state) {
		if ((rc = state_row(t, old_state, seq, 0)) ||
		    (rc = state_row(t, e.state, seq, 1)) ||
		    (rc = counts_note(t, m, e.batch_serial, old_state, e.state,
		                      1)))
			return rc;
	}
	return 0;
}

int rt__journal_entries_update(rt_journal_txn *t,
                               const struct rt__entry_update *u, size_t n)
{
	struct count_moves m;
	size_t i;
	int rc = 0;

	m.n = 0;
	for (i = 0; rc == 0 && i < n; i++)
		rc = entry_update(t, u[i].seq, &u[i].change, &m);
	return rc ? rc : counts_write(t, &m);
}

int rt_journal_entry_update(rt_journal_txn *t, uint64_t seq,
                            const rt_entry_change *chg)
{
	struct rt__entry_update u;

	u.seq = seq;
	u.change = *chg;
	u.error = NULL;
	return rt__journal_entries_update(t, &u, 1);
}

/* ---- iterators ---------------------------------------------------------------------- */

enum iter_kind { ITER_ALL, ITER_DUP };

#define ITER_BUF 256

struct rt_journal_iter {
	rt_journal_txn *txn;
	enum iter_kind kind;
	MDB_dbi dbi;
	uint8_t key[RT__TRACKER_KEY_LEN];
	size_t keylen;
	uint64_t next_seq;   /* smallest seq not returned yet */
	uint64_t mods;       /* txn->mods when buf was filled */
	uint64_t buf[ITER_BUF];
	unsigned nbuf, pos;
	int end;             /* buf holds the last seqs there are */
};

static int iter_new(rt_journal_iter **out, rt_journal_txn *t,
                    enum iter_kind kind, MDB_dbi dbi, uint64_t from_seq)
{
	rt_journal_iter *it = calloc(1, sizeof(*it));

	*out = NULL;
	if (!it)
		return rt__jerr(t->j, RT_ENOMEM, "out of memory");
	it->txn = t;
	it->kind = kind;
	it->dbi = dbi;
	it->next_seq = from_seq ? from_seq : 1;
	*out = it;
	return 0;
}

int rt_journal_iter_all(rt_journal_iter **out, rt_journal_txn *t,
                        uint64_t from_seq)
{
	return iter_new(out, t, ITER_ALL, t->j->entries, from_seq);
}

int rt_journal_iter_state(rt_journal_iter **out, rt_journal_txn *t,
                          rt_entry_state state, uint64_t from_seq)
{
	int rc;

	*out = NULL;
	if (!rt_entry_state_name((int)state))
		return rt__jerr(t->j, RT_EINVAL, "unknown state %d", (int)state);
	rc = iter_new(out, t, ITER_DUP, t->j->by_state, from_seq);
	if (rc == 0) {
		(*out)->key[0] = (uint8_t)state;
		(*out)->keylen = 1;
	}
	return rc;
}

int rt_journal_iter_tracker(rt_journal_iter **out, rt_journal_txn *t,
                            const char *pool, const char *ns,
                            const char *tracker, uint64_t from_seq)
{
	int rc;

	*out = NULL;
	if (!ns)
		ns = "";
	rc = iter_new(out, t, ITER_DUP, t->j->by_tracker, from_seq);
	if (rc)
		return rc;
	rc = rt__tracker_key(t->j, (*out)->key, pool, strlen(pool), ns,
	                     strlen(ns), tracker, strlen(tracker));
	if (rc) {
		free(*out);
		*out = NULL;
		return rc;
	}
	(*out)->keylen = RT__TRACKER_KEY_LEN;
	return 0;
}

/* Refills the buffer from next_seq on.  Re-seeking (rather than keeping an
 * LMDB cursor between calls) keeps the iterator right when its own
 * transaction changes the rows it walks, and lets it be freed after the
 * transaction is gone. */
static int iter_fill(rt_journal_iter *it)
{
	rt_journal_txn *t = it->txn;
	MDB_cursor *cur = NULL;
	uint8_t sb[8];
	uint64_t seq, visible_end;
	MDB_val k, d;
	int rc;

	it->nbuf = it->pos = 0;
	it->end = 0;
	it->mods = t->mods;
	/* Rows at or past next_seq belong to a batch being staged. */
	if ((rc = rt__visible_end(t, &visible_end)))
		return rc;
	rc = mdb_cursor_open(t->txn, it->dbi, &cur);
	if (rc)
		return rt__jerr_mdb(t->j, t, rc, "opening a cursor");
	rt__be64_put(sb, it->next_seq);
	if (it->kind == ITER_ALL) {
		k = mkval(sb, 8);
		rc = mdb_cursor_get(cur, &k, &d, MDB_SET_RANGE);
	} else {
		k = mkval(it->key, it->keylen);
		d = mkval(sb, 8);
		rc = mdb_cursor_get(cur, &k, &d, MDB_GET_BOTH_RANGE);
	}
	while (rc == 0 && it->nbuf < ITER_BUF) {
		const MDB_val *v = it->kind == ITER_ALL ? &k : &d;

		if (v->mv_size != 8) {
			rc = rt__jerr(t->j, RT_EJOURNAL, "malformed index row");
			goto done;
		}
		seq = rt__be64_get(v->mv_data);
		if (seq >= visible_end) {
			rc = MDB_NOTFOUND;
			break;
		}
		it->buf[it->nbuf++] = seq;
		rc = mdb_cursor_get(cur, &k, &d,
		                    it->kind == ITER_ALL ? MDB_NEXT : MDB_NEXT_DUP);
	}
	if (rc == MDB_NOTFOUND) {
		it->end = 1;
		rc = 0;
	} else if (rc) {
		rc = rt__jerr_mdb(t->j, t, rc, "walking an index");
	}
done:
	mdb_cursor_close(cur);
	return rc;
}

int rt_journal_iter_next(rt_journal_iter *it, uint64_t *seq)
{
	int rc;

	if (it->pos >= it->nbuf || it->mods != it->txn->mods) {
		if (it->pos >= it->nbuf && it->end && it->mods == it->txn->mods)
			return RT_ENOTFOUND;
		rc = iter_fill(it);
		if (rc)
			return rc;
		if (it->nbuf == 0)
			return RT_ENOTFOUND;
	}
	*seq = it->buf[it->pos++];
	it->next_seq = *seq + 1;
	return 0;
}

void rt_journal_iter_free(rt_journal_iter *it)
{
	free(it);
}

/* ---- batches, counts, stat ------------------------------------------------------------ */

int rt_journal_counts(rt_journal_txn *t, uint64_t counts[RT_ENTRY_STATE_SLOTS])
{
	return rt__meta_get_counts(t, counts);
}

static void batch_fill(rt_journal_batch *b, const struct rt__batch_rec *rec,
                       const char *file_name)
{
	rt__hex32(b->id, rec->id);
	b->file_name = file_name;
	b->submitted_ns = (int64_t)rec->submitted_ns;
	b->first_seq = rec->first_seq;
	b->nentries = rec->nentries;
	memcpy(b->counts, rec->counts, sizeof(b->counts));
}

int rt_journal_batch_get(rt_journal_batch **out, rt_journal_txn *t,
                         const char *id)
{
	uint8_t raw[32];
	struct rt__batch_rec rec;
	rt_journal_batch *b;
	MDB_val k, d;
	char *name;
	int rc;

	*out = NULL;
	if (rt__unhex32(raw, id))
		return rt__jerr(t->j, RT_EINVAL,
		                "\"%s\" is not a batch id (64 hex digits)", id);
	k = mkval(raw, 32);
	rc = mdb_get(t->txn, t->j->batch_ids, &k, &d);
	if (rc == MDB_NOTFOUND)
		return rt__jerr(t->j, RT_ENOTFOUND, "no batch %s", id);
	if (rc)
		return rt__jerr_mdb(t->j, t, rc, "reading the batch ids");
	if (d.mv_size != 8)
		return rt__jerr(t->j, RT_EJOURNAL, "malformed batch id row");
	rc = batch_read(t, rt__be64_get(d.mv_data), &rec);
	if (rc)
		return rc;
	b = calloc(1, sizeof(*b) + rec.file_name.len + 1);
	if (!b)
		return rt__jerr(t->j, RT_ENOMEM, "out of memory");
	name = (char *)(b + 1);
	memcpy(name, rec.file_name.s, rec.file_name.len);
	name[rec.file_name.len] = '\0';
	batch_fill(b, &rec, name);
	*out = b;
	return 0;
}

void rt_journal_batch_free(rt_journal_batch *batch)
{
	free(batch);
}

int rt_journal_batch_foreach(rt_journal_txn *t,
                             int (*cb)(void *arg, const rt_journal_batch *b),
                             void *arg)
{
	MDB_cursor *cur = NULL;
	struct rt__batch_rec rec;
	struct rt__buf name = { 0 };
	rt_journal_batch b;
	MDB_val k, d;
	int rc;

	rc = mdb_cursor_open(t->txn, t->j->batches, &cur);
	if (rc)
		return rt__jerr_mdb(t->j, t, rc, "opening a cursor");
	for (rc = mdb_cursor_get(cur, &k, &d, MDB_FIRST); rc == 0;
	     rc = mdb_cursor_get(cur, &k, &d, MDB_NEXT)) {
		if ((rc = rt__batch_decode(&rec, d.mv_data, d.mv_size))) {
			rc = rt__jerr_decode(t->j, rc, "batch record",
			                     k.mv_size == 8 ? (unsigned long long)
			                                     rt__be64_get(k.mv_data)
			                                    : 0ULL);
			goto done;
		}
		rt__buf_reset(&name);
		rt__buf_put(&name, rec.file_name.s, rec.file_name.len);
		rt__buf_u8(&name, 0);
		if (name.oom) {
			rc = rt__jerr(t->j, RT_ENOMEM, "out of memory");
			goto done;
		}
		batch_fill(&b, &rec, (const char *)name.p);
		rc = cb(arg, &b);
		if (rc)
			goto done;
	}
	if (rc == MDB_NOTFOUND)
		rc = 0;
	else
		rc = rt__jerr_mdb(t->j, t, rc, "walking the batches");
done:
	mdb_cursor_close(cur);
	rt__buf_free(&name);
	return rc;
}

int rt_journal_stat_get(rt_journal_stat *out, rt_journal_txn *t)
{
	MDB_stat st;
	uint64_t created;
	int rc;

	memset(out, 0, sizeof(*out));
	out->format = RT_JOURNAL_FORMAT;
	if ((rc = rt__meta_get_u64(t, "created", &created)) ||
	    (rc = rt__meta_get_u64(t, "next_seq", &out->next_seq)))
		return rc;
	out->created_ns = (int64_t)created;
	rc = mdb_stat(t->txn, t->j->batches, &st);
	if (rc)
		return rt__jerr_mdb(t->j, t, rc, "reading the batches");
	out->nbatches = st.ms_entries;
	out->map_size = t->j->map_size;
	out->used_bytes = rt__journal_used(t->j);
	return 0;
}
