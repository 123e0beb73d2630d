/*
 * test_prune.c - journal retention without a cluster: which entries prune
 * takes and which it never takes, indexes and counts after it, chunked
 * transactions, batch tombstones and forgetting them, the running totals,
 * and a data.mdb that stops growing under a steady submit/apply/prune cycle.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <reftrack/journal.h>
#include <reftrack/sys/journal.h>

#include "check.h"
#include "journal_int.h"

/* A batch file of n one-key adds over `ntrackers` trackers; `tag` makes
 * its bytes (so its batch id) differ from other batches'. */
static const char *batch_file(const char *dir, const char *name, size_t n,
                              size_t ntrackers, const char *tag)
{
	static char path[512];
	FILE *f;
	size_t i;

	snprintf(path, sizeof(path), "%s.%s.yaml", dir, name);
	f = fopen(path, "w");
	CHECK(f != NULL);
	if (!f)
		return path;
	fprintf(f, "version: 1\ndefaults:\n  pool: rbd\n  namespace: csi\n"
	           "requests:\n");
	for (i = 0; i < n; i++)
		fprintf(f, "  - tracker: t%zu\n    add: [%s-k%zu]\n",
		        i % ntrackers, tag, i);
	CHECK(fclose(f) == 0);
	return path;
}

struct set_state {
	uint64_t first, n;
	rt_entry_state state;
};

static int set_state_txn(void *arg, rt_journal_txn *t)
{
	const struct set_state *s = arg;
	rt_entry_change ch;
	uint64_t i;
	int rc = 0;

	memset(&ch, 0, sizeof(ch));
	ch.set = RT_CHANGE_STATE;
	ch.state = s->state;
	for (i = 0; rc == 0 && i < s->n; i++)
		rc = rt_journal_entry_update(t, s->first + i, &ch);
	return rc;
}

/* Entries first .. first+n-1 go to `state` (updated and, for done, done
 * time: now). */
static void set_state(rt_journal *j, uint64_t first, uint64_t n,
                      rt_entry_state state)
{
	struct set_state s = { first, n, state };

	CHECK_INT(rt_journal_write(j, set_state_txn, &s), 0);
}

static uint64_t iter_count(rt_journal_iter *it)
{
	uint64_t seq, n = 0;
	int rc;

	while ((rc = rt_journal_iter_next(it, &seq)) == 0)
		n++;
	CHECK_INT(rc, RT_ENOTFOUND);
	rt_journal_iter_free(it);
	return n;
}

/* Checks that the indexes, the global counts and the per-batch counts all
 * agree with the entries table, state by state. */
static int sum_batches(void *arg, const rt_journal_batch *b)
{
	uint64_t *sum = arg;
	int s;

	for (s = 0; s < RT_ENTRY_STATE_SLOTS; s++)
		sum[s] += b->counts[s];
	return 0;
}

static void check_consistent(rt_journal *j, uint64_t ntrackers)
{
	rt_journal_txn *t = NULL;
	rt_journal_iter *it = NULL;
	uint64_t counts[RT_ENTRY_STATE_SLOTS], bsum[RT_ENTRY_STATE_SLOTS];
	uint64_t total = 0, by_state = 0, by_tracker = 0, seq;
	uint64_t scan[RT_ENTRY_STATE_SLOTS];
	char name[32];
	int s, rc;

	memset(bsum, 0, sizeof(bsum));
	memset(scan, 0, sizeof(scan));
	CHECK_INT(rt_journal_txn_begin(&t, j, RT_TXN_RDONLY), 0);
	if (!t)
		return;
	CHECK_INT(rt_journal_counts(t, counts), 0);
	CHECK_INT(rt_journal_batch_foreach(t, sum_batches, bsum), 0);
	CHECK_INT(rt_journal_iter_all(&it, t, 0), 0);
	while ((rc = rt_journal_iter_next(it, &seq)) == 0) {
		rt_journal_entry *e = NULL;

		CHECK_INT(rt_journal_entry_get(&e, t, seq), 0);
		if (e)
			scan[e->state]++;
		rt_journal_entry_free(e);
		total++;
	}
	CHECK_INT(rc, RT_ENOTFOUND);
	rt_journal_iter_free(it);
	for (s = RT_ENTRY_STATE_FIRST; s <= RT_ENTRY_STATE_LAST; s++) {
		CHECK_INT(counts[s], scan[s]);
		CHECK_INT(bsum[s], scan[s]);
		CHECK_INT(rt_journal_iter_state(&it, t, (rt_entry_state)s, 0), 0);
		by_state += iter_count(it);
	}
	for (seq = 0; seq < ntrackers; seq++) {
		snprintf(name, sizeof(name), "t%llu", (unsigned long long)seq);
		CHECK_INT(rt_journal_iter_tracker(&it, t, "rbd", "csi", name, 0),
		          0);
		by_tracker += iter_count(it);
	}
	CHECK_INT(by_state, total);
	CHECK_INT(by_tracker, total);
	rt_journal_txn_abort(t);
}

static rt_journal_totals totals(rt_journal *j)
{
	rt_journal_txn *t = NULL;
	rt_journal_totals tot;

	memset(&tot, 0, sizeof(tot));
	CHECK_INT(rt_journal_txn_begin(&t, j, RT_TXN_RDONLY), 0);
	if (t)
		CHECK_INT(rt_journal_totals_get(&tot, t), 0);
	rt_journal_txn_abort(t);
	return tot;
}

static int64_t far_future(void)
{
	return rt__now_ns() + (int64_t)3600 * 1000000000;
}

/* ---- cases --------------------------------------------------------------- */

static void test_prune__only_done_and_skipped(void)
{
	const char *dir = check_scratch_dir("states");
	rt_journal *j = NULL;
	rt_submit_result res;
	rt_prune_result pr;
	rt_prune_opts o = { RT_PRUNE_OPTS_VERSION, 0, 0, 0 };
	rt_journal_txn *t = NULL;
	rt_journal_entry *e = NULL;
	uint64_t counts[RT_ENTRY_STATE_SLOTS];
	rt_journal_totals tot;
	uint64_t seq;

	CHECK_INT(rt_journal_open(&j, dir, 0), 0);
	CHECK_INT(rt_journal_submit(&res, j, batch_file(dir, "a", 70, 7, "a"),
	                            NULL, 0),
	          0);
	/* 10 of every state, in a pattern across trackers; 10 stay pending. */
	set_state(j, 1, 10, RT_ENTRY_DONE);
	set_state(j, 11, 10, RT_ENTRY_SKIPPED);
	set_state(j, 21, 10, RT_ENTRY_FAILED);
	set_state(j, 31, 10, RT_ENTRY_NEEDS_REVIEW);
	set_state(j, 41, 10, RT_ENTRY_BLOCKED);
	set_state(j, 51, 10, RT_ENTRY_IN_FLIGHT);

	/* A cutoff before anything finished takes nothing. */
	o.entries_before_ns = 1;
	CHECK_INT(rt_journal_prune(&pr, j, &o), 0);
	CHECK_INT(pr.entries_total, 0);
	/* No cutoff at all takes nothing either. */
	o.entries_before_ns = 0;
	CHECK_INT(rt_journal_prune(&pr, j, &o), 0);
	CHECK_INT(pr.entries_total, 0);
	CHECK_INT(pr.transactions, 0);

	o.entries_before_ns = far_future();
	CHECK_INT(rt_journal_prune(&pr, j, &o), 0);
	CHECK_INT(pr.entries_total, 20);
	CHECK_INT(pr.entries[RT_ENTRY_DONE], 10);
	CHECK_INT(pr.entries[RT_ENTRY_SKIPPED], 10);
	CHECK_INT(pr.batches_forgotten, 0);
	check_consistent(j, 7);

	CHECK_INT(rt_journal_txn_begin(&t, j, RT_TXN_RDONLY), 0);
	CHECK_INT(rt_journal_counts(t, counts), 0);
	CHECK_INT(counts[RT_ENTRY_DONE], 0);
	CHECK_INT(counts[RT_ENTRY_SKIPPED], 0);
	CHECK_INT(counts[RT_ENTRY_FAILED], 10);
	CHECK_INT(counts[RT_ENTRY_NEEDS_REVIEW], 10);
	CHECK_INT(counts[RT_ENTRY_BLOCKED], 10);
	CHECK_INT(counts[RT_ENTRY_IN_FLIGHT], 10);
	CHECK_INT(counts[RT_ENTRY_PENDING], 10);
	for (seq = 1; seq <= 70; seq++) {
		int rc = rt_journal_entry_get(&e, t, seq);

		CHECK_INT(rc, seq <= 20 ? RT_ENOTFOUND : 0);
		rt_journal_entry_free(e);
		e = NULL;
	}
	rt_journal_txn_abort(t);

	tot = totals(j);
	CHECK_INT(tot.entries_submitted, 70);
	CHECK_INT(tot.batches_submitted, 1);
	CHECK_INT(tot.pruned[RT_ENTRY_DONE], 10);
	CHECK_INT(tot.pruned[RT_ENTRY_SKIPPED], 10);
	CHECK_INT(tot.pruned[RT_ENTRY_FAILED], 0);

	/* Pruning again finds nothing more. */
	CHECK_INT(rt_journal_prune(&pr, j, &o), 0);
	CHECK_INT(pr.entries_total, 0);
	rt_journal_close(j);
}

/* Age is the done time, not the submit time: entries done before the
 * cutoff go, entries done after it stay, whatever their seq. */
static void test_prune__by_finish_time(void)
{
	const char *dir = check_scratch_dir("age");
	rt_journal *j = NULL;
	rt_submit_result res;
	rt_prune_result pr;
	rt_prune_opts o = { RT_PRUNE_OPTS_VERSION, 0, 0, 0 };
	struct timespec nap = { 0, 5000000 };
	int64_t cut;

	CHECK_INT(rt_journal_open(&j, dir, 0), 0);
	CHECK_INT(rt_journal_submit(&res, j, batch_file(dir, "a", 20, 4, "a"),
	                            NULL, 0),
	          0);
	set_state(j, 11, 10, RT_ENTRY_DONE); /* the later seqs finish first */
	nanosleep(&nap, NULL);
	cut = rt__now_ns();
	nanosleep(&nap, NULL);
	set_state(j, 1, 10, RT_ENTRY_DONE);
	o.entries_before_ns = cut;
	CHECK_INT(rt_journal_prune(&pr, j, &o), 0);
	CHECK_INT(pr.entries_total, 10);
	{
		rt_journal_txn *t = NULL;
		rt_journal_entry *e = NULL;

		CHECK_INT(rt_journal_txn_begin(&t, j, RT_TXN_RDONLY), 0);
		CHECK_INT(rt_journal_entry_get(&e, t, 5), 0);
		rt_journal_entry_free(e);
		e = NULL;
		CHECK_INT(rt_journal_entry_get(&e, t, 15), RT_ENOTFOUND);
		rt_journal_txn_abort(t);
	}
	check_consistent(j, 4);
	rt_journal_close(j);
}

/* Small chunks: many transactions, the same end state as one big one. */
static void test_prune__chunked(void)
{
	const char *dir = check_scratch_dir("chunks");
	rt_journal *j = NULL;
	rt_submit_result res;
	rt_prune_result pr;
	rt_prune_opts o = { RT_PRUNE_OPTS_VERSION, 0, 0, 37 };
	int i;

	CHECK_INT(rt_journal_open(&j, dir, 0), 0);
	for (i = 0; i < 5; i++) {
		char tag[16];

		snprintf(tag, sizeof(tag), "c%d", i);
		CHECK_INT(rt_journal_submit(&res, j,
		                            batch_file(dir, tag, 300, 13, tag),
		                            NULL, 0),
		          0);
	}
	/* Every other stretch of entries done: runs that cross batch ends
	 * and chunk ends alike. */
	for (i = 0; i < 1500; i += 100)
		set_state(j, (uint64_t)i + 1, 60, RT_ENTRY_DONE);
	set_state(j, 1461, 40, RT_ENTRY_FAILED);
	o.entries_before_ns = far_future();
	CHECK_INT(rt_journal_prune(&pr, j, &o), 0);
	CHECK_INT(pr.entries_total, 900);
	/* 900 deletions at 37 a transaction is at least 25 of them. */
	CHECK(pr.transactions >= 25);
	check_consistent(j, 13);
	CHECK_INT(totals(j).pruned[RT_ENTRY_DONE], 900);
	rt_journal_close(j);
}

/* A batch whose entries are all pruned stays as a tombstone: same bytes
 * again are a duplicate.  Forgetting the tombstone lets them in anew;
 * batches that still hold entries are never forgotten. */
static void test_prune__tombstones(void)
{
	const char *dir = check_scratch_dir("tomb");
	const char *pa, *pb;
	char a_path[512], b_path[512];
	rt_journal *j = NULL;
	rt_submit_result ra, rb, again;
	rt_prune_result pr;
	rt_prune_opts o = { RT_PRUNE_OPTS_VERSION, 0, 0, 0 };
	rt_journal_txn *t = NULL;
	rt_journal_batch *b = NULL;
	rt_journal_totals tot;

	pa = batch_file(dir, "a", 10, 3, "a");
	snprintf(a_path, sizeof(a_path), "%s", pa);
	pb = batch_file(dir, "b", 10, 3, "b");
	snprintf(b_path, sizeof(b_path), "%s", pb);
	CHECK_INT(rt_journal_open(&j, dir, 0), 0);
	CHECK_INT(rt_journal_submit(&ra, j, a_path, NULL, 0), 0);
	CHECK_INT(rt_journal_submit(&rb, j, b_path, NULL, 0), 0);
	set_state(j, 1, 10, RT_ENTRY_DONE);   /* all of a */
	set_state(j, 11, 9, RT_ENTRY_DONE);   /* b keeps one pending */
	o.entries_before_ns = far_future();
	CHECK_INT(rt_journal_prune(&pr, j, &o), 0);
	CHECK_INT(pr.entries_total, 19);

	CHECK_INT(rt_journal_txn_begin(&t, j, RT_TXN_RDONLY), 0);
	CHECK_INT(rt_journal_batch_get(&b, t, ra.batch_id), 0);
	if (b) {
		int s;

		CHECK_INT(b->nentries, 10);
		CHECK_INT(b->first_seq, 1);
		for (s = 0; s < RT_ENTRY_STATE_SLOTS; s++)
			CHECK_INT(b->counts[s], 0);
	}
	rt_journal_batch_free(b);
	b = NULL;
	rt_journal_txn_abort(t);
	t = NULL;

	CHECK_INT(rt_journal_submit(&again, j, a_path, NULL, 0), 0);
	CHECK_INT(again.already_present, 1);
	CHECK_INT(again.first_seq, 1);

	/* Forget with a cutoff before the batches: nothing goes. */
	o.entries_before_ns = 0;
	o.batches_before_ns = 1;
	CHECK_INT(rt_journal_prune(&pr, j, &o), 0);
	CHECK_INT(pr.batches_forgotten, 0);
	/* Forget everything old enough: a goes, b (one entry left) stays. */
	o.batches_before_ns = far_future();
	CHECK_INT(rt_journal_prune(&pr, j, &o), 0);
	CHECK_INT(pr.batches_forgotten, 1);
	CHECK_INT(rt_journal_txn_begin(&t, j, RT_TXN_RDONLY), 0);
	CHECK_INT(rt_journal_batch_get(&b, t, ra.batch_id), RT_ENOTFOUND);
	rt_journal_batch_free(b);
	b = NULL;
	CHECK_INT(rt_journal_batch_get(&b, t, rb.batch_id), 0);
	rt_journal_batch_free(b);
	b = NULL;
	rt_journal_txn_abort(t);
	t = NULL;
	tot = totals(j);
	CHECK_INT(tot.batches_forgotten, 1);
	CHECK_INT(tot.batches_submitted, 2);

	/* Forgotten: the same bytes are a new batch, with new seqs. */
	CHECK_INT(rt_journal_submit(&again, j, a_path, NULL, 0), 0);
	CHECK_INT(again.already_present, 0);
	CHECK_INT(again.first_seq, 21);
	CHECK_STR(again.batch_id, ra.batch_id);
	tot = totals(j);
	CHECK_INT(tot.batches_submitted, 3);
	CHECK_INT(tot.entries_submitted, 30);
	check_consistent(j, 3);
	rt_journal_close(j);
}

/* A prune inside an open transaction is refused, and says so. */
static void test_prune__refused_inside_txn(void)
{
	const char *dir = check_scratch_dir("intxn");
	rt_journal *j = NULL;
	rt_journal_txn *t = NULL;
	rt_prune_result pr;
	rt_prune_opts o = { RT_PRUNE_OPTS_VERSION, 1, 1, 0 };

	CHECK_INT(rt_journal_open(&j, dir, 0), 0);
	CHECK_INT(rt_journal_txn_begin(&t, j, RT_TXN_RDONLY), 0);
	CHECK_INT(rt_journal_prune(&pr, j, &o), RT_EINVAL);
	CHECK(strstr(rt_journal_errmsg(j), "transaction") != NULL);
	rt_journal_txn_abort(t);
	rt_journal_close(j);
}

/* The cron cycle without a cluster: submit, apply (mark done), prune
 * everything done.  After a warm-up, data.mdb does not grow: freed pages
 * are used again.  Without the prune it grows by every batch, which the
 * last part checks, so the first part can fail. */
static void test_prune__size_stable_over_cycles(void)
{
	const char *dir = check_scratch_dir("cycles"), *path;
	rt_journal *j = NULL;
	rt_submit_result res;
	rt_prune_result pr;
	rt_prune_opts o = { RT_PRUNE_OPTS_VERSION, 0, 0, 0 };
	char data[256];
	struct stat st;
	off_t at10 = 0, at40 = 0, grown = 0;
	int i;

	snprintf(data, sizeof(data), "%s/data.mdb", dir);
	CHECK_INT(rt_journal_open(&j, dir, 0), 0);
	for (i = 1; i <= 50; i++) {
		char tag[16];

		snprintf(tag, sizeof(tag), "cy%d", i);
		path = batch_file(dir, tag, 400, 50, tag);
		CHECK_INT(rt_journal_submit(&res, j, path, NULL, 0), 0);
		unlink(path);
		if (i <= 40) {
			set_state(j, res.first_seq, res.nentries, RT_ENTRY_DONE);
			o.entries_before_ns = far_future();
			CHECK_INT(rt_journal_prune(&pr, j, &o), 0);
			CHECK_INT(pr.entries_total, 400);
		}
		CHECK(stat(data, &st) == 0);
		if (i == 10)
			at10 = st.st_size;
		if (i == 40)
			at40 = st.st_size;
		if (i == 50)
			grown = st.st_size;
	}
	fprintf(stderr, "data.mdb: %lld bytes after 10 cycles, %lld after 40, "
	                "%lld after 10 more without pruning\n",
	        (long long)at10, (long long)at40, (long long)grown);
	/* What may grow is the 30 tombstones of ~200 bytes (a page or two,
	 * with their branch pages); 30 unpruned batches would take ~1 MB. */
	CHECK(at40 <= at10 + 6 * 4096);
	CHECK(grown > at40 + 25 * 4096);
	check_consistent(j, 50);
	rt_journal_close(j);
}

int main(void)
{
	if (check_scratch_init("prune") != 0)
		return 1;
	RUN(test_prune__only_done_and_skipped);
	RUN(test_prune__by_finish_time);
	RUN(test_prune__chunked);
	RUN(test_prune__tombstones);
	RUN(test_prune__refused_inside_txn);
	RUN(test_prune__size_stable_over_cycles);
	check_scratch_remove();
	return check_summary("prune");
}
