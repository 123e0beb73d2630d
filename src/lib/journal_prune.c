/*
 * journal_prune.c - retention: pruning old done and skipped entries,
 * forgetting old batch tombstones, and the running totals that outlive
 * both (see "retention" in journal.h for the rules).
 *
 * Each write transaction first looks (collects what to delete, bounded),
 * then deletes: an entry goes from entries, by_state and by_tracker, and
 * leaves its batch's and the global counts, all in the same transaction, so
 * the invariant of journal_entry.c holds after every commit.  Nothing here
 * rewrites an entry, so entries written by a newer reftrack are pruned by
 * the same rules without losing anything that would have survived.
 *
 * Why only done and skipped: those states are final (retry refuses them),
 * so an entry pruned could never have been needed again.  Failed,
 * needs-review and blocked entries wait for an operator, and pending and
 * in-flight ones for the replayer.
 */
#include <stdlib.h>
#include <string.h>

#include "journal_int.h"

#define DEFAULT_CHUNK 10000
/* Past this a transaction gains nothing but memory and LMDB's dirty-page
 * limit comes near. */
#define MAX_CHUNK 1000000
/* Rows looked at per transaction, per deletion allowed: bounds a
 * transaction that finds little to delete among many young entries. */
#define SCAN_FACTOR 8

/* ---- optional meta records ------------------------------------------------ */

static int meta_get_opt_counts(rt_journal_txn *t, const char *key,
                               uint64_t counts[RT_ENTRY_STATE_SLOTS])
{
	MDB_val k = mkval(key, strlen(key)), d;
	struct rt__rd r;
	int rc = mdb_get(t->txn, t->j->meta, &k, &d);

	memset(counts, 0, sizeof(uint64_t) * RT_ENTRY_STATE_SLOTS);
	if (rc == MDB_NOTFOUND)
		return 0;
	if (rc)
		return rt__jerr_mdb(t->j, t, rc, "reading the meta record");
	r.p = d.mv_data;
	r.end = r.p + d.mv_size;
	r.bad = 0;
	rt__counts_read(&r, counts);
	if (r.bad || r.p != r.end)
		return rt__jerr(t->j, RT_EJOURNAL, "meta record \"%s\" malformed",
		                key);
	return 0;
}

static int meta_put_counts_as(rt_journal_txn *t, const char *key,
                              const uint64_t counts[RT_ENTRY_STATE_SLOTS])
{
	uint8_t tmp[RT_ENTRY_STATE_SLOTS * 10 + 10];
	struct rt__buf b = { tmp, 0, sizeof(tmp), 0 };
	MDB_val k = mkval(key, strlen(key)), d;
	int rc;

	rt__counts_encode(&b, counts);
	d = mkval(b.p, b.len);
	rc = mdb_put(t->txn, t->j->meta, &k, &d, 0);
	if (rc)
		return rt__jerr_mdb(t->j, t, rc, "writing the meta record");
	t->mods++;
	return 0;
}

static int meta_get_opt_u64(rt_journal_txn *t, const char *key, uint64_t *v)
{
	MDB_val k = mkval(key, strlen(key)), d;
	int rc = mdb_get(t->txn, t->j->meta, &k, &d);

	*v = 0;
	if (rc == MDB_NOTFOUND)
		return 0;
	if (rc)
		return rt__jerr_mdb(t->j, t, rc, "reading the meta record");
	if (d.mv_size != 8)
		return rt__jerr(t->j, RT_EJOURNAL, "meta record \"%s\" malformed",
		                key);
	*v = rt__be64_get(d.mv_data);
	return 0;
}

int rt_journal_totals_get(rt_journal_totals *out, rt_journal_txn *t)
{
	uint64_t next_seq, next_batch, skipped;
	int rc;

	memset(out, 0, sizeof(*out));
	if ((rc = rt__meta_get_u64(t, "next_seq", &next_seq)) ||
	    (rc = rt__meta_get_u64(t, "next_batch", &next_batch)) ||
	    (rc = meta_get_opt_counts(t, "pruned", out->pruned)) ||
	    (rc = meta_get_opt_u64(t, "forgotten", &out->batches_forgotten)) ||
	    (rc = meta_get_opt_u64(t, "skipped_seqs", &skipped)))
		return rc;
	/* Both start at 1 and are never reused; a restored backup skipped
	 * a range of seqs (journal.c, restore_bump()). */
	out->entries_submitted = next_seq > skipped ? next_seq - 1 - skipped : 0;
	out->batches_submitted = next_batch ? next_batch - 1 : 0;
	return 0;
}

/* ---- entries ------------------------------------------------------------------ */

struct victim {
	uint64_t seq, serial;
	uint8_t key[RT__TRACKER_KEY_LEN];
};

struct entry_pass {
	rt_journal *j;
	uint8_t state;
	int64_t before;
	size_t chunk;
	uint64_t from;        /* first seq to look at in the next transaction */
	struct victim *v;     /* `chunk` slots */
	/* Set by each attempt, used once it has committed. */
	size_t nv;
	uint64_t next_from;
	int end;              /* no rows of the state past next_from */
};

/* When an entry finished: done entries carry their done time, skipped ones
 * were last updated when they were skipped.  0 (never seen in practice)
 * keeps the entry: an unknown age is not an old one. */
static uint64_t finished_ns(const struct rt__entry_rec *e)
{
	return e->done_ns ? e->done_ns : e->updated_ns;
}

/* Looks at rows of by_state from p->from on and collects what is old
 * enough into p->v. */
static int collect_entries(struct entry_pass *p, rt_journal_txn *t)
{
	MDB_cursor *cur = NULL;
	struct rt__entry_rec e;
	uint8_t sb[8], kb[8];
	MDB_val k, d, ek, ed;
	size_t scanned = 0;
	uint64_t seq, when;
	int rc;

	rc = mdb_cursor_open(t->txn, t->j->by_state, &cur);
	if (rc)
		return rt__jerr_mdb(t->j, t, rc, "opening a cursor");
	rt__be64_put(sb, p->from);
	k = mkval(&p->state, 1);
	d = mkval(sb, 8);
	rc = mdb_cursor_get(cur, &k, &d, MDB_GET_BOTH_RANGE);
	while (rc == 0) {
		if (d.mv_size != 8) {
			rc = rt__jerr(t->j, RT_EJOURNAL, "malformed state index row");
			goto done;
		}
		seq = rt__be64_get(d.mv_data);
		p->next_from = seq + 1;
		rt__be64_put(kb, seq);
		ek = mkval(kb, 8);
		rc = mdb_get(t->txn, t->j->entries, &ek, &ed);
		if (rc == MDB_NOTFOUND) {
			rc = rt__jerr(t->j, RT_EJOURNAL,
			              "state index names entry %llu, which is "
			              "missing",
			              (unsigned long long)seq);
			goto done;
		}
		if (rc) {
			rc = rt__jerr_mdb(t->j, t, rc, "reading an entry");
			goto done;
		}
		if ((rc = rt__entry_decode(&e, ed.mv_data, ed.mv_size))) {
			rc = rt__jerr_decode(t->j, rc, "entry",
			                     (unsigned long long)seq);
			goto done;
		}
		if (e.state != p->state) {
			rc = rt__jerr(t->j, RT_EJOURNAL,
			              "state index is inconsistent at entry %llu",
			              (unsigned long long)seq);
			goto done;
		}
		when = finished_ns(&e);
		if (when != 0 && when < (uint64_t)p->before) {
			struct victim *v = &p->v[p->nv];

			v->seq = seq;
			v->serial = e.batch_serial;
			/* e points into the map: hash before any write. */
			rc = rt__tracker_key(t->j, v->key, e.pool.s, e.pool.len,
			                     e.ns.s, e.ns.len, e.tracker.s,
			                     e.tracker.len);
			if (rc)
				goto done;
			if (++p->nv == p->chunk)
				goto done;
		}
		if (++scanned >= p->chunk * SCAN_FACTOR)
			goto done;
		rc = mdb_cursor_get(cur, &k, &d, MDB_NEXT_DUP);
	}
	if (rc == MDB_NOTFOUND) {
		p->end = 1;
		rc = 0;
	} else {
		rc = rt__jerr_mdb(t->j, t, rc, "walking the state index");
	}
done:
	mdb_cursor_close(cur);
	return rc;
}

static int del_row(rt_journal_txn *t, MDB_dbi dbi, const void *key,
                   size_t keylen, const void *val, size_t vallen,
                   const char *index, uint64_t seq)
{
	MDB_val k = mkval(key, keylen), d = mkval(val, vallen);
	int rc = mdb_del(t->txn, dbi, &k, val ? &d : NULL);

	if (rc == MDB_NOTFOUND)
		return rt__jerr(t->j, RT_EJOURNAL,
		                "%s is inconsistent at entry %llu", index,
		                (unsigned long long)seq);
	if (rc)
		return rt__jerr_mdb(t->j, t, rc, "deleting an entry");
	return 0;
}

static int prune_entries_txn(void *arg, rt_journal_txn *t)
{
	struct entry_pass *p = arg;
	uint64_t pruned[RT_ENTRY_STATE_SLOTS], run_serial = 0, run_n = 0;
	uint8_t sb[8];
	size_t i;
	int rc;

	/* May run more than once (map growth): start from scratch. */
	p->nv = 0;
	p->end = 0;
	p->next_from = p->from;
	rc = collect_entries(p, t);
	if (rc || p->nv == 0)
		return rc;
	for (i = 0; i < p->nv; i++) {
		const struct victim *v = &p->v[i];

		rt__be64_put(sb, v->seq);
		if ((rc = del_row(t, t->j->entries, sb, 8, NULL, 0, "entries",
		                  v->seq)) ||
		    (rc = del_row(t, t->j->by_state, &p->state, 1, sb, 8,
		                  "state index", v->seq)) ||
		    (rc = del_row(t, t->j->by_tracker, v->key,
		                  RT__TRACKER_KEY_LEN, sb, 8, "tracker index",
		                  v->seq)))
			return rc;
		/* A batch's seqs are consecutive, so its victims come in one
		 * run: one count update per batch, not per entry. */
		if (run_n && v->serial != run_serial) {
			rc = rt__counts_move(t, run_serial, p->state, 0, run_n);
			if (rc)
				return rc;
			run_n = 0;
		}
		run_serial = v->serial;
		run_n++;
	}
	rc = rt__counts_move(t, run_serial, p->state, 0, run_n);
	if (rc == 0)
		rc = meta_get_opt_counts(t, "pruned", pruned);
	if (rc == 0) {
		pruned[p->state] += p->nv;
		rc = meta_put_counts_as(t, "pruned", pruned);
	}
	t->mods++;
	return rc;
}

/* Runs one pass of fn (prune_entries_txn or forget_batches_txn): in a
 * transaction of its own, committed, or for a dry run in `dry`, the one
 * transaction every pass of the prune shares and nobody commits. */
static int pass_run(rt_journal *j, rt_journal_txn *dry,
                    int (*fn)(void *arg, rt_journal_txn *txn), void *arg)
{
	return dry ? fn(arg, dry) : rt_journal_write(j, fn, arg);
}

static int prune_entries(rt_journal *j, rt_journal_txn *dry, uint8_t state,
                         int64_t before, size_t chunk, rt_prune_result *res)
{
	struct entry_pass p;
	int rc;

	memset(&p, 0, sizeof(p));
	p.j = j;
	p.state = state;
	p.before = before;
	p.chunk = chunk;
	p.from = 1;
	p.v = malloc(chunk * sizeof(*p.v));
	if (!p.v)
		return rt__jerr(j, RT_ENOMEM, "out of memory");
	for (;;) {
		rc = pass_run(j, dry, prune_entries_txn, &p);
		if (rc)
			break;
		res->transactions++;
		res->entries[state] += p.nv;
		res->entries_total += p.nv;
		if (p.end)
			break;
		p.from = p.next_from;
	}
	free(p.v);
	return rc;
}

/* ---- batch tombstones ----------------------------------------------------------- */

struct batch_pass {
	int64_t before;
	size_t chunk;
	uint64_t from;          /* first batch serial to look at */
	uint64_t *serials;      /* `chunk` slots each */
	uint8_t (*ids)[32];
	size_t n;
	uint64_t next_from;
	int end;
};

static int is_tombstone(const struct rt__batch_rec *rec)
{
	int i;

	for (i = 0; i < RT_ENTRY_STATE_SLOTS; i++)
		if (rec->counts[i])
			return 0;
	return 1;
}

static int collect_batches(struct batch_pass *p, rt_journal_txn *t)
{
	MDB_cursor *cur = NULL;
	struct rt__batch_rec rec;
	uint8_t kb[8];
	MDB_val k, d;
	size_t scanned = 0;
	uint64_t serial;
	int rc;

	rc = mdb_cursor_open(t->txn, t->j->batches, &cur);
	if (rc)
		return rt__jerr_mdb(t->j, t, rc, "opening a cursor");
	rt__be64_put(kb, p->from);
	k = mkval(kb, 8);
	rc = mdb_cursor_get(cur, &k, &d, MDB_SET_RANGE);
	while (rc == 0) {
		if (k.mv_size != 8) {
			rc = rt__jerr(t->j, RT_EJOURNAL, "malformed batch key");
			goto done;
		}
		if ((rc = rt__batch_decode(&rec, d.mv_data, d.mv_size))) {
			rc = rt__jerr_decode(t->j, rc, "batch record",
			                     (unsigned long long)
			                     rt__be64_get(k.mv_data));
			goto done;
		}
		serial = rt__be64_get(k.mv_data);
		p->next_from = serial + 1;
		if (is_tombstone(&rec) && rec.submitted_ns < (uint64_t)p->before) {
			p->serials[p->n] = serial;
			memcpy(p->ids[p->n], rec.id, 32);
			if (++p->n == p->chunk)
				goto done;
		}
		if (++scanned >= p->chunk * SCAN_FACTOR)
			goto done;
		rc = mdb_cursor_get(cur, &k, &d, MDB_NEXT);
	}
	if (rc == MDB_NOTFOUND) {
		p->end = 1;
		rc = 0;
	} else {
		rc = rt__jerr_mdb(t->j, t, rc, "walking the batches");
	}
done:
	mdb_cursor_close(cur);
	return rc;
}

static int forget_batches_txn(void *arg, rt_journal_txn *t)
{
	struct batch_pass *p = arg;
	uint64_t forgotten;
	uint8_t kb[8];
	MDB_val k, d;
	size_t i;
	int rc;

	p->n = 0;
	p->end = 0;
	p->next_from = p->from;
	rc = collect_batches(p, t);
	if (rc || p->n == 0)
		return rc;
	for (i = 0; i < p->n; i++) {
		rt__be64_put(kb, p->serials[i]);
		k = mkval(kb, 8);
		rc = mdb_del(t->txn, t->j->batches, &k, NULL);
		if (rc)
			return rt__jerr_mdb(t->j, t, rc, "deleting a batch record");
		/* Only the id row that names this record: never another
		 * batch's. */
		k = mkval(p->ids[i], 32);
		d = mkval(kb, 8);
		rc = mdb_del(t->txn, t->j->batch_ids, &k, &d);
		if (rc == MDB_NOTFOUND)
			return rt__jerr(t->j, RT_EJOURNAL,
			                "batch ids are inconsistent at batch %llu",
			                (unsigned long long)p->serials[i]);
		if (rc)
			return rt__jerr_mdb(t->j, t, rc, "deleting a batch id");
	}
	rc = meta_get_opt_u64(t, "forgotten", &forgotten);
	if (rc == 0)
		rc = rt__meta_put_u64(t, "forgotten", forgotten + p->n);
	t->mods++;
	return rc;
}

static int forget_batches(rt_journal *j, rt_journal_txn *dry, int64_t before,
                          size_t chunk, rt_prune_result *res)
{
	struct batch_pass p;
	int rc;

	memset(&p, 0, sizeof(p));
	p.before = before;
	p.chunk = chunk;
	p.from = 1;
	p.serials = malloc(chunk * sizeof(*p.serials));
	p.ids = malloc(chunk * sizeof(*p.ids));
	if (!p.serials || !p.ids) {
		rc = rt__jerr(j, RT_ENOMEM, "out of memory");
		goto done;
	}
	for (;;) {
		rc = pass_run(j, dry, forget_batches_txn, &p);
		if (rc)
			break;
		res->transactions++;
		res->batches_forgotten += p.n;
		if (p.end)
			break;
		p.from = p.next_from;
	}
done:
	free(p.serials);
	free(p.ids);
	return rc;
}

/* ---- the whole prune ------------------------------------------------------------------ */

static int prune(rt_prune_result *out, rt_journal *j,
                 const rt_prune_opts *opts, int dry_run)
{
	rt_prune_result res;
	rt_journal_txn *dry = NULL;
	size_t chunk;
	int rc = 0;

	memset(&res, 0, sizeof(res));
	if (!opts) {
		rc = rt__jerr(j, RT_EINVAL, "prune without options");
		goto done;
	}
	if (opts->version != RT_PRUNE_OPTS_VERSION) {
		rc = rt__jerr(j, RT_EINVAL,
		              "rt_prune_opts version %u is not one this library "
		              "knows (%d): set it with RT_PRUNE_OPTS_INIT",
		              opts->version, RT_PRUNE_OPTS_VERSION);
		goto done;
	}
	chunk = opts->chunk ? opts->chunk : DEFAULT_CHUNK;
	if (chunk > MAX_CHUNK)
		chunk = MAX_CHUNK;
	if (j->txn) {
		rc = rt__jerr(j, RT_EINVAL, "prune inside an open transaction");
		goto done;
	}
	/* A dry run does the very same deletions in one write transaction
	 * and aborts it: nothing reaches data.mdb (no MDB_WRITEMAP). */
	if (dry_run) {
		rc = rt_journal_txn_begin(&dry, j, 0);
		if (rc)
			goto done;
	}
	if (opts->entries_before_ns > 0) {
		rc = prune_entries(j, dry, RT_ENTRY_DONE,
		                   opts->entries_before_ns, chunk, &res);
		if (rc == 0)
			rc = prune_entries(j, dry, RT_ENTRY_SKIPPED,
			                   opts->entries_before_ns, chunk, &res);
	}
	/* After the entries, so that batches emptied just now can go in
	 * the same call when both cutoffs allow it. */
	if (rc == 0 && opts->batches_before_ns > 0)
		rc = forget_batches(j, dry, opts->batches_before_ns, chunk, &res);
	if (dry && rc == RT_ETRANSIENT)
		rc = rt__jerr(j, RT_EJOURNAL, "a dry run of this prune does not "
		              "fit in the journal's map; prune in smaller steps");
done:
	rt_journal_txn_abort(dry);
	if (out)
		*out = res;
	return rc;
}

int rt_journal_prune(rt_prune_result *out, rt_journal *j,
                     const rt_prune_opts *opts)
{
	return prune(out, j, opts, 0);
}

int rt_journal_prune_dry_run(rt_prune_result *out, rt_journal *j,
                             const rt_prune_opts *opts)
{
	return prune(out, j, opts, 1);
}
