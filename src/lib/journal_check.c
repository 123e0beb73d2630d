/*
 * journal_check.c - verifying a whole journal (every record's checksum and
 * contents, every index row against the entries, every count against the
 * records: what `reftrack check` prints), and backing it up.
 *
 * One read transaction, so the journal is seen as of one commit and a
 * running replay is neither blocked nor mistaken for damage.  Each problem
 * is reported with its table and key and the check goes on, so that one
 * run lists everything an operator needs to know; only an error reading
 * the file itself (LMDB's MDB_CORRUPTED, say) ends the walk of a table.
 *
 * What it cannot see: LMDB keeps no checksums of its own pages.  A damaged
 * branch page usually makes LMDB return MDB_CORRUPTED or MDB_PAGE_NOTFOUND
 * (reported here), but garbage that still looks like a page can make LMDB
 * read wild memory; the CLI runs the check in a child process for that
 * reason and reports a crash as damage.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "journal_int.h"

struct ck_batch {
	uint64_t serial;
	uint8_t id[32];
	uint64_t first_seq, nentries;
	uint64_t counts[RT_ENTRY_STATE_SLOTS]; /* as recorded */
	uint64_t found[RT_ENTRY_STATE_SLOTS];  /* entries seen, by state */
};

struct ck {
	rt_journal_txn *t;
	rt_check_result *out;
	int (*cb)(void *arg, const rt_check_problem *p);
	void *arg;
	int stop;                 /* the callback asked to stop */
	int broken;               /* LMDB failed: the transaction is dead */
	uint64_t next_seq, next_batch;
	struct ck_batch *b;       /* batches in serial order */
	size_t nb, capb;
	uint64_t found[RT_ENTRY_STATE_SLOTS];
	uint64_t entries;         /* entries that decoded */
	int staging;              /* meta "staging": a batch is being staged */
};

static void problem(struct ck *c, const char *table, const char *key,
                    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static void problem(struct ck *c, const char *table, const char *key,
                    const char *fmt, ...)
{
	char msg[512];
	rt_check_problem p;
	va_list ap;

	c->out->problems++;
	if (c->stop)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	p.table = table;
	p.key = key;
	p.message = msg;
	if (c->cb && c->cb(c->arg, &p))
		c->stop = 1;
}

static const char *u64key(char buf[24], uint64_t v)
{
	snprintf(buf, 24, "%llu", (unsigned long long)v);
	return buf;
}

/* A batches or entries record's 8-byte big-endian key, as a number and as
 * text for messages; -1, with the problem noted, for a key of another
 * size. */
static int record_key(struct ck *c, const char *table, const MDB_val *k,
                      uint64_t *out, char key[24])
{
	if (k->mv_size != 8) {
		problem(c, table, "?", "key of %zu bytes, not 8", k->mv_size);
		return -1;
	}
	*out = rt__be64_get(k->mv_data);
	u64key(key, *out);
	return 0;
}

/* A record whose bytes did not decode (drc: the decoder's result). */
static void undecodable(struct ck *c, const char *table, const char *key,
                        const char *what, int drc)
{
	problem(c, table, key, "%s %s", what,
	        drc == RT__DECODE_CHECKSUM ? "fails its checksum (damaged bytes)"
	                                   : "does not decode");
}

/* A cursor on dbi, for a walk over a table. */
static int open_cursor(struct ck *c, MDB_dbi dbi, MDB_cursor **cur)
{
	int rc = mdb_cursor_open(c->t->txn, dbi, cur);

	return rc ? rt__jerr_mdb(c->t->j, c->t, rc, "opening a cursor") : 0;
}

static const char *state_str(int s)
{
	const char *n = rt_entry_state_name(s);

	return n ? n : "?";
}

static struct ck_batch *find_batch(struct ck *c, uint64_t serial)
{
	size_t lo = 0, hi = c->nb;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (c->b[mid].serial == serial)
			return &c->b[mid];
		if (c->b[mid].serial < serial)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

/* A failed LMDB read: the structure of the file itself is damaged. */
static void walk_error(struct ck *c, const char *table, int rc)
{
	problem(c, table, "", "LMDB cannot read the table: %s (the file's "
	                      "B-tree is damaged; what follows it in this "
	                      "table and the later checks were not done)",
	        mdb_strerror(rc));
	/* LMDB leaves the transaction unusable after such an error. */
	c->broken = 1;
}

static int check_meta(struct ck *c)
{
	rt_journal_txn *t = c->t;
	uint64_t counts[RT_ENTRY_STATE_SLOTS];
	int rc;

	if ((rc = rt__meta_get_u64(t, "next_seq", &c->next_seq)) ||
	    (rc = rt__meta_get_u64(t, "next_batch", &c->next_batch))) {
		problem(c, "meta", "next_seq", "%s", rt_journal_errmsg(t->j));
		/* Judge the records without the bounds we could not read. */
		c->next_seq = c->next_batch = UINT64_MAX;
		return rc == RT_EJOURNAL ? 0 : rc;
	}
	if ((rc = rt__meta_get_counts(t, counts))) {
		problem(c, "meta", "counts", "%s", rt_journal_errmsg(t->j));
		return rc == RT_EJOURNAL ? 0 : rc;
	}
	{
		MDB_val k = mkval(RT__META_STAGING, strlen(RT__META_STAGING)), d;

		c->staging = mdb_get(t->txn, t->j->meta, &k, &d) == 0;
	}
	return 0;
}

static int check_batches(struct ck *c)
{
	rt_journal_txn *t = c->t;
	MDB_cursor *cur = NULL;
	struct rt__batch_rec rec;
	MDB_val k, d, ik, id;
	char key[24];
	int rc, drc;

	if ((rc = open_cursor(c, t->j->batches, &cur)))
		return rc;
	for (rc = mdb_cursor_get(cur, &k, &d, MDB_FIRST);
	     rc == 0 && !c->stop && !c->broken;
	     rc = mdb_cursor_get(cur, &k, &d, MDB_NEXT)) {
		struct ck_batch *b;
		uint64_t serial;

		c->out->batches++;
		if (record_key(c, "batches", &k, &serial, key) != 0)
			continue;
		drc = rt__batch_decode(&rec, d.mv_data, d.mv_size);
		if (drc) {
			undecodable(c, "batches", key, "batch record", drc);
			continue;
		}
		if (serial == 0 || serial >= c->next_batch)
			problem(c, "batches", key,
			        "serial outside 1..%llu (meta next_batch %llu)",
			        (unsigned long long)(c->next_batch - 1),
			        (unsigned long long)c->next_batch);
		if (rec.first_seq == 0 ||
		    rec.first_seq + rec.nentries > c->next_seq)
			problem(c, "batches", key,
			        "entries %llu..%llu are past meta next_seq %llu",
			        (unsigned long long)rec.first_seq,
			        (unsigned long long)(rec.first_seq + rec.nentries),
			        (unsigned long long)c->next_seq);
		ik = mkval(rec.id, 32);
		drc = mdb_get(t->txn, t->j->batch_ids, &ik, &id);
		if (drc == 0 && (id.mv_size != 8 ||
		                 rt__be64_get(id.mv_data) != serial))
			problem(c, "batch_ids", key,
			        "the id row of batch record %s points elsewhere",
			        key);
		else if (drc == MDB_NOTFOUND)
			problem(c, "batch_ids", key,
			        "batch record %s has no id row (duplicate "
			        "detection would miss it)",
			        key);
		else if (drc)
			walk_error(c, "batch_ids", drc);
		if (c->nb == c->capb) {
			size_t cap = c->capb ? c->capb * 2 : 64;
			struct ck_batch *nb = realloc(c->b, cap * sizeof(*nb));

			if (!nb) {
				mdb_cursor_close(cur);
				return rt__jerr(t->j, RT_ENOMEM, "out of memory");
			}
			c->b = nb;
			c->capb = cap;
		}
		b = &c->b[c->nb++];
		memset(b, 0, sizeof(*b));
		b->serial = serial;
		memcpy(b->id, rec.id, 32);
		b->first_seq = rec.first_seq;
		b->nentries = rec.nentries;
		memcpy(b->counts, rec.counts, sizeof(b->counts));
	}
	if (rc && rc != MDB_NOTFOUND)
		walk_error(c, "batches", rc);
	mdb_cursor_close(cur);
	return 0;
}

/* Is (key, seq) a row of the DUPSORT table `dbi`?  0 yes, MDB_NOTFOUND no,
 * or an LMDB error. */
static int has_row(struct ck *c, MDB_cursor *cur, const void *key,
                   size_t keylen, uint64_t seq)
{
	uint8_t sb[8];
	MDB_val k = mkval(key, keylen), d = mkval(sb, 8);

	(void)c;
	rt__be64_put(sb, seq);
	return mdb_cursor_get(cur, &k, &d, MDB_GET_BOTH);
}

static int check_entries(struct ck *c)
{
	rt_journal_txn *t = c->t;
	MDB_cursor *cur = NULL, *scur = NULL, *tcur = NULL;
	struct rt__entry_rec e;
	uint8_t tk[RT__TRACKER_KEY_LEN];
	MDB_val k, d;
	char key[24];
	int rc, drc;

	if ((rc = mdb_cursor_open(t->txn, t->j->entries, &cur)) ||
	    (rc = mdb_cursor_open(t->txn, t->j->by_state, &scur)) ||
	    (rc = mdb_cursor_open(t->txn, t->j->by_tracker, &tcur))) {
		rc = rt__jerr_mdb(t->j, t, rc, "opening a cursor");
		goto done;
	}
	for (rc = mdb_cursor_get(cur, &k, &d, MDB_FIRST);
	     rc == 0 && !c->stop && !c->broken;
	     rc = mdb_cursor_get(cur, &k, &d, MDB_NEXT)) {
		struct ck_batch *b;
		uint64_t seq;
		uint8_t st;

		if (record_key(c, "entries", &k, &seq, key) != 0) {
			c->out->entries++;
			continue;
		}
		/* A batch being staged, or left by a submit that died (the
		 * next submit or open discards it): not part of the journal
		 * yet, and nothing counts it. */
		if (c->staging && seq >= c->next_seq) {
			c->out->staged_entries++;
			continue;
		}
		c->out->entries++;
		drc = rt__entry_decode(&e, d.mv_data, d.mv_size);
		if (drc) {
			c->out->damaged_entries++;
			undecodable(c, "entries", key, "entry", drc);
			continue;
		}
		c->entries++;
		if (seq == 0 || seq >= c->next_seq)
			problem(c, "entries", key,
			        "seq past meta next_seq %llu",
			        (unsigned long long)c->next_seq);
		if (e.unknown_fields)
			problem(c, "entries", key,
			        "holds fields written by a newer reftrack");
		st = e.state;
		if (!rt_entry_state_name(st))
			problem(c, "entries", key, "unknown state %u", st);
		else
			c->found[st]++;
		b = find_batch(c, e.batch_serial);
		if (!b) {
			problem(c, "entries", key,
			        "names batch record %llu, which is missing",
			        (unsigned long long)e.batch_serial);
		} else {
			if (seq < b->first_seq ||
			    seq >= b->first_seq + b->nentries)
				problem(c, "entries", key,
				        "outside the seq range %llu..%llu of its "
				        "batch record %llu",
				        (unsigned long long)b->first_seq,
				        (unsigned long long)(b->first_seq +
				                             b->nentries - 1),
				        (unsigned long long)b->serial);
			if (st < RT_ENTRY_STATE_SLOTS)
				b->found[st]++;
		}
		drc = has_row(c, scur, &st, 1, seq);
		if (drc == MDB_NOTFOUND)
			problem(c, "by_state", key,
			        "entry %s is %s but the state index has no row "
			        "(%s, %s)",
			        key, state_str(st), state_str(st), key);
		else if (drc)
			walk_error(c, "by_state", drc);
		if (rt__tracker_key(t->j, tk, e.pool.s, e.pool.len, e.ns.s,
		                    e.ns.len, e.tracker.s, e.tracker.len)) {
			rc = RT_ENOMEM;
			goto done;
		}
		drc = has_row(c, tcur, tk, sizeof(tk), seq);
		if (drc == MDB_NOTFOUND)
			problem(c, "by_tracker", key,
			        "entry %s has no row in the per-tracker index "
			        "(tracker %.*s)",
			        key, (int)e.tracker.len, e.tracker.s);
		else if (drc)
			walk_error(c, "by_tracker", drc);
	}
	if (rc && rc != MDB_NOTFOUND)
		walk_error(c, "entries", rc);
	rc = 0;
done:
	mdb_cursor_close(tcur);
	mdb_cursor_close(scur);
	mdb_cursor_close(cur);
	return rc;
}

/* Every row of an index names an entry that is there and matches. */
static int check_index(struct ck *c, MDB_dbi dbi, const char *table,
                       size_t keylen)
{
	rt_journal_txn *t = c->t;
	MDB_cursor *cur = NULL;
	struct rt__entry_rec e;
	uint8_t tk[RT__TRACKER_KEY_LEN], eb[8];
	MDB_val k, d, ek, ed;
	char key[24];
	int rc, drc;

	if ((rc = open_cursor(c, dbi, &cur)))
		return rc;
	for (rc = mdb_cursor_get(cur, &k, &d, MDB_FIRST);
	     rc == 0 && !c->stop && !c->broken;
	     rc = mdb_cursor_get(cur, &k, &d, MDB_NEXT)) {
		uint64_t seq;

		if (c->staging && d.mv_size == 8 &&
		    rt__be64_get(d.mv_data) >= c->next_seq)
			continue; /* a staged entry's row */
		c->out->index_rows++;
		if (k.mv_size != keylen || d.mv_size != 8) {
			problem(c, table, "?", "malformed row (key %zu bytes, "
			                       "value %zu)",
			        k.mv_size, d.mv_size);
			continue;
		}
		seq = rt__be64_get(d.mv_data);
		u64key(key, seq);
		memcpy(eb, d.mv_data, 8);
		ek = mkval(eb, 8);
		drc = mdb_get(t->txn, t->j->entries, &ek, &ed);
		if (drc == MDB_NOTFOUND) {
			problem(c, table, key, "row names entry %s, which is "
			                       "missing",
			        key);
			continue;
		}
		if (drc) {
			walk_error(c, "entries", drc);
			continue;
		}
		if (rt__entry_decode(&e, ed.mv_data, ed.mv_size))
			continue; /* reported with the entries */
		if (keylen == 1 && *(const uint8_t *)k.mv_data != e.state) {
			problem(c, table, key,
			        "row says entry %s is %s, the entry says %s", key,
			        state_str(*(const uint8_t *)k.mv_data),
			        state_str(e.state));
		} else if (keylen == RT__TRACKER_KEY_LEN) {
			if (rt__tracker_key(t->j, tk, e.pool.s, e.pool.len,
			                    e.ns.s, e.ns.len, e.tracker.s,
			                    e.tracker.len)) {
				mdb_cursor_close(cur);
				return RT_ENOMEM;
			}
			if (memcmp(tk, k.mv_data, sizeof(tk)) != 0)
				problem(c, table, key,
				        "row files entry %s under another "
				        "tracker than its own (%.*s)",
				        key, (int)e.tracker.len, e.tracker.s);
		}
	}
	if (rc && rc != MDB_NOTFOUND)
		walk_error(c, table, rc);
	mdb_cursor_close(cur);
	return 0;
}

static int check_batch_ids(struct ck *c)
{
	rt_journal_txn *t = c->t;
	MDB_cursor *cur = NULL;
	MDB_val k, d;
	char key[24];
	int rc;

	if ((rc = open_cursor(c, t->j->batch_ids, &cur)))
		return rc;
	for (rc = mdb_cursor_get(cur, &k, &d, MDB_FIRST);
	     rc == 0 && !c->stop && !c->broken;
	     rc = mdb_cursor_get(cur, &k, &d, MDB_NEXT)) {
		struct ck_batch *b;

		c->out->index_rows++;
		if (k.mv_size != 32 || d.mv_size != 8) {
			problem(c, "batch_ids", "?", "malformed row");
			continue;
		}
		u64key(key, rt__be64_get(d.mv_data));
		b = find_batch(c, rt__be64_get(d.mv_data));
		if (!b)
			problem(c, "batch_ids", key,
			        "row names batch record %s, which is missing or "
			        "damaged",
			        key);
		else if (memcmp(b->id, k.mv_data, 32) != 0)
			problem(c, "batch_ids", key,
			        "row names batch record %s, whose id differs", key);
	}
	if (rc && rc != MDB_NOTFOUND)
		walk_error(c, "batch_ids", rc);
	mdb_cursor_close(cur);
	return 0;
}

static void check_counts(struct ck *c)
{
	uint64_t counts[RT_ENTRY_STATE_SLOTS];
	rt_journal_totals tot;
	uint64_t pruned = 0;
	size_t i;
	int s;

	if (rt__meta_get_counts(c->t, counts) == 0)
		for (s = 0; s < RT_ENTRY_STATE_SLOTS; s++)
			if (counts[s] != c->found[s])
				problem(c, "meta", "counts",
				        "%s: the count says %llu, %llu entries "
				        "found",
				        state_str(s), (unsigned long long)counts[s],
				        (unsigned long long)c->found[s]);
	for (i = 0; i < c->nb; i++) {
		char key[24];

		u64key(key, c->b[i].serial);
		for (s = 0; s < RT_ENTRY_STATE_SLOTS; s++)
			if (c->b[i].counts[s] != c->b[i].found[s])
				problem(c, "batches", key,
				        "%s: batch record %s says %llu, %llu "
				        "entries found",
				        state_str(s), key,
				        (unsigned long long)c->b[i].counts[s],
				        (unsigned long long)c->b[i].found[s]);
	}
	if (rt_journal_totals_get(&tot, c->t) != 0) {
		problem(c, "meta", "pruned", "%s", rt_journal_errmsg(c->t->j));
		return;
	}
	for (s = 0; s < RT_ENTRY_STATE_SLOTS; s++)
		pruned += tot.pruned[s];
	/* Every entry ever submitted is either still there or was pruned. */
	if (c->out->damaged_entries == 0 &&
	    c->entries + pruned != tot.entries_submitted)
		problem(c, "meta", "pruned",
		        "%llu entries submitted (next_seq %llu) but %llu are "
		        "there and %llu were pruned",
		        (unsigned long long)tot.entries_submitted,
		        (unsigned long long)c->next_seq,
		        (unsigned long long)c->entries,
		        (unsigned long long)pruned);
	if (c->nb + tot.batches_forgotten != tot.batches_submitted)
		problem(c, "meta", "forgotten",
		        "%llu batches submitted (next_batch %llu) but %zu are "
		        "there and %llu were forgotten",
		        (unsigned long long)tot.batches_submitted,
		        (unsigned long long)c->next_batch, c->nb,
		        (unsigned long long)tot.batches_forgotten);
}

int rt_journal_check(rt_check_result *out, rt_journal *j,
                     int (*cb)(void *arg, const rt_check_problem *p),
                     void *arg)
{
	struct ck c;
	int rc;

	memset(out, 0, sizeof(*out));
	memset(&c, 0, sizeof(c));
	c.out = out;
	c.cb = cb;
	c.arg = arg;
	rc = rt_journal_txn_begin(&c.t, j, RT_TXN_RDONLY);
	if (rc)
		return rc;
	if ((rc = check_meta(&c)) || (rc = check_batches(&c)) ||
	    (!c.broken && (rc = check_entries(&c))) ||
	    (!c.broken && (rc = check_index(&c, j->by_state, "by_state", 1))) ||
	    (!c.broken && (rc = check_index(&c, j->by_tracker, "by_tracker",
	                                    RT__TRACKER_KEY_LEN))) ||
	    (!c.broken && (rc = check_batch_ids(&c))))
		goto done;
	if (!c.stop && !c.broken)
		check_counts(&c);
done:
	rt_journal_txn_abort(c.t);
	free(c.b);
	return rc;
}

/* ---- backups ----------------------------------------------------------- */

/* Marks the copy at `path` as a backup: meta RT__META_BACKUP = its
 * next_seq.  A journal restored from it starts a new seq range at its
 * first write (journal.c), so that its new entries never share a seq with
 * an entry the original gave out after the copy. */
static int mark_copy(rt_journal *j, const char *path)
{
	MDB_env *env = NULL;
	MDB_txn *txn = NULL;
	MDB_dbi meta;
	MDB_val k = mkval("next_seq", 8), d;
	uint8_t next[8];
	char *lock = NULL;
	int rc;

	if (asprintf(&lock, "%s-lock", path) < 0)
		return rt__jerr(j, RT_ENOMEM, "out of memory");
	if ((rc = mdb_env_create(&env)) || (rc = mdb_env_set_maxdbs(env, 8)) ||
	    (rc = mdb_env_open(env, path, MDB_NOSUBDIR, 0600)) ||
	    (rc = mdb_txn_begin(env, NULL, 0, &txn)) ||
	    (rc = mdb_dbi_open(txn, "meta", 0, &meta)) ||
	    (rc = mdb_get(txn, meta, &k, &d)))
		goto done;
	if (d.mv_size != 8) {
		rc = MDB_CORRUPTED;
		goto done;
	}
	/* d points into the map, which the put may change: copy it. */
	memcpy(next, d.mv_data, 8);
	d = mkval(next, 8);
	k = mkval(RT__META_BACKUP, strlen(RT__META_BACKUP));
	rc = mdb_put(txn, meta, &k, &d, 0);
	if (rc == 0)
		rc = mdb_txn_commit(txn);
	txn = NULL;
done:
	if (txn)
		mdb_txn_abort(txn);
	mdb_env_close(env);
	unlink(lock);
	free(lock);
	return rc ? rt__jerr_mdb(j, NULL, rc, "backup: marking the copy") : 0;
}

int rt_journal_backup(rt_journal *j, const char *dest)
{
	char *tmp = NULL, *final = NULL;
	struct stat st;
	int fd = -1, dfd = -1, rc = 0;

	if (j->txn)
		return rt__jerr(j, RT_EINVAL,
		                "cannot back up inside a transaction");
	if (mkdir(dest, 0700) < 0 && errno != EEXIST)
		return rt__jerr(j, errno == EACCES ? RT_EPERM : RT_EIO,
		                "backup: cannot create %s: %s", dest,
		                strerror(errno));
	if (asprintf(&tmp, "%s/data.mdb.tmp", dest) < 0 ||
	    asprintf(&final, "%s/data.mdb", dest) < 0) {
		rc = rt__jerr(j, RT_ENOMEM, "out of memory");
		goto done;
	}
	if (lstat(final, &st) == 0) {
		rc = rt__jerr(j, RT_EINVAL,
		              "backup: %s already exists; give a new directory",
		              final);
		goto done;
	}
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		rc = rt__jerr(j, errno == EACCES ? RT_EPERM : RT_EIO,
		              "backup: %s: %s", tmp, strerror(errno));
		goto done;
	}
	rc = mdb_env_copyfd2(j->env, fd, MDB_CP_COMPACT);
	if (rc) {
		rc = rt__jerr_mdb(j, NULL, rc, "backup: copying the journal");
		goto done;
	}
	if (fsync(fd) < 0 || close(fd) < 0) {
		fd = -1;
		rc = rt__jerr(j, RT_EIO, "backup: %s: %s", tmp, strerror(errno));
		goto done;
	}
	fd = -1;
	if ((rc = mark_copy(j, tmp)))
		goto done;
	/* The name data.mdb appears only for a complete, synced copy. */
	if (rename(tmp, final) < 0) {
		rc = rt__jerr(j, RT_EIO, "backup: renaming %s: %s", tmp,
		              strerror(errno));
		goto done;
	}
	dfd = open(dest, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0 || fsync(dfd) < 0)
		rc = rt__jerr(j, RT_EIO, "backup: syncing %s: %s", dest,
		              strerror(errno));
done:
	if (fd >= 0)
		close(fd);
	if (dfd >= 0)
		close(dfd);
	if (rc && tmp)
		unlink(tmp);
	free(tmp);
	free(final);
	return rc;
}
