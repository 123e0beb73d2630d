/*
 * test_journal.c - the LMDB journal: creation, refusal of what is not ours,
 * all-or-nothing submits, indexes and counts under updates, map growth,
 * the entry codec against damaged bytes, and reader slots of killed
 * processes freed on open.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <lmdb.h>
#include <zlib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#include <reftrack/journal.h>
#include <reftrack/sys/journal.h>

#include "check.h"
#include "journal_codec.h"
#include "journal_int.h"

static void write_file(const char *path, const char *text, size_t len)
{
	FILE *f = fopen(path, "wb");

	CHECK(f != NULL);
	if (!f)
		return;
	CHECK(fwrite(text, 1, len, f) == len);
	fclose(f);
}

static char *read_all(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	long n;

	*len = 0;
	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = malloc((size_t)n + 1);
	if (buf && fread(buf, 1, (size_t)n, f) == (size_t)n)
		*len = (size_t)n;
	fclose(f);
	return buf;
}

static void sha256_hex(char out[65], const void *data, size_t len)
{
	unsigned char md[32];
	unsigned mdlen = 0;

	EVP_Digest(data, len, md, &mdlen, EVP_sha256(), NULL);
	rt__hex32(out, md);
}

/* A batch of n one-key adds over `ntrackers` trackers, in the batch file
 * format; with bad_last the last request has an empty key list. */
static char *make_batch(size_t n, size_t ntrackers, int bad_last,
                        const char *tag, size_t *len)
{
	size_t cap = 128 + n * 96, off = 0, i;
	char *s = malloc(cap);

	off += (size_t)snprintf(s + off, cap - off,
	                        "version: 1\ndefaults:\n  pool: rbd\n"
	                        "  namespace: csi\nrequests:\n");
	for (i = 0; i < n; i++) {
		if (bad_last && i == n - 1)
			off += (size_t)snprintf(s + off, cap - off,
			                        "  - tracker: t%zu\n    add: []\n",
			                        i % ntrackers);
		else
			off += (size_t)snprintf(s + off, cap - off,
			                        "  - tracker: t%zu\n    add: [%s-k%zu]\n",
			                        i % ntrackers, tag, i);
	}
	*len = off;
	return s;
}

static const char *batch_file(const char *dir, const char *name, size_t n,
                              size_t ntrackers, int bad_last, const char *tag)
{
	static char path[512];
	size_t len;
	char *s = make_batch(n, ntrackers, bad_last, tag, &len);

	snprintf(path, sizeof(path), "%s.%s.yaml", dir, name);
	write_file(path, s, len);
	free(s);
	return path;
}

/* Everything status would show, as one string, to compare states. */
struct snap {
	char text[8192];
	size_t len;
};

static int snap_batch(void *arg, const rt_journal_batch *b)
{
	struct snap *s = arg;
	int i;

	s->len += (size_t)snprintf(s->text + s->len, sizeof(s->text) - s->len,
	                           "batch %s %s %llu+%llu:", b->id, b->file_name,
	                           (unsigned long long)b->first_seq,
	                           (unsigned long long)b->nentries);
	for (i = 0; i < RT_ENTRY_STATE_SLOTS; i++)
		s->len += (size_t)snprintf(s->text + s->len,
		                           sizeof(s->text) - s->len, " %llu",
		                           (unsigned long long)b->counts[i]);
	s->len += (size_t)snprintf(s->text + s->len, sizeof(s->text) - s->len,
	                           "\n");
	return 0;
}

static void snapshot(rt_journal *j, struct snap *s)
{
	rt_journal_txn *t = NULL;
	rt_journal_stat st;
	uint64_t counts[RT_ENTRY_STATE_SLOTS];
	int i;

	memset(s, 0, sizeof(*s));
	CHECK_INT(rt_journal_txn_begin(&t, j, RT_TXN_RDONLY), 0);
	if (!t)
		return;
	CHECK_INT(rt_journal_stat_get(&st, t), 0);
	CHECK_INT(rt_journal_counts(t, counts), 0);
	s->len += (size_t)snprintf(s->text, sizeof(s->text),
	                           "next %llu batches %llu counts",
	                           (unsigned long long)st.next_seq,
	                           (unsigned long long)st.nbatches);
	for (i = 0; i < RT_ENTRY_STATE_SLOTS; i++)
		s->len += (size_t)snprintf(s->text + s->len,
		                           sizeof(s->text) - s->len, " %llu",
		                           (unsigned long long)counts[i]);
	s->len += (size_t)snprintf(s->text + s->len, sizeof(s->text) - s->len,
	                           "\n");
	CHECK_INT(rt_journal_batch_foreach(t, snap_batch, s), 0);
	rt_journal_txn_abort(t);
}

static uint64_t count_iter(rt_journal_iter *it, uint64_t *seqs, size_t max)
{
	uint64_t seq, n = 0, last = 0;
	int rc;

	while ((rc = rt_journal_iter_next(it, &seq)) == 0) {
		CHECK(seq > last);
		last = seq;
		if (seqs && n < max)
			seqs[n] = seq;
		n++;
	}
	CHECK_INT(rc, RT_ENOTFOUND);
	return n;
}

static uint64_t count_state(rt_journal_txn *t, rt_entry_state st)
{
	rt_journal_iter *it = NULL;
	uint64_t n;

	CHECK_INT(rt_journal_iter_state(&it, t, st, 0), 0);
	if (!it)
		return 0;
	n = count_iter(it, NULL, 0);
	rt_journal_iter_free(it);
	return n;
}

/* ---- opening ------------------------------------------------------------- */

static void test_journal__create_with_modes(void)
{
	char top[128], mid[160], dir[200], path[300];
	rt_journal *j = NULL;
	struct stat st;
	const char *id;

	snprintf(top, sizeof(top), "%s", check_scratch_dir("modes"));
	snprintf(mid, sizeof(mid), "%s/state", top);
	snprintf(dir, sizeof(dir), "%s/journal", mid);
	CHECK_INT(rt_journal_open(&j, dir, 0), 0);
	CHECK_STR(rt_journal_dir(j), dir);
	id = rt_journal_id(j);
	CHECK_INT(strlen(id), 36);
	CHECK(id[14] == '4');                 /* UUID version 4 */
	CHECK(strchr("89ab", id[19]) != NULL); /* RFC 4122 variant */
	rt_journal_close(j);

	CHECK(stat(top, &st) == 0 && (st.st_mode & 0777) == 0700);
	CHECK(stat(mid, &st) == 0 && (st.st_mode & 0777) == 0700);
	CHECK(stat(dir, &st) == 0 && (st.st_mode & 0777) == 0700);
	snprintf(path, sizeof(path), "%s/data.mdb", dir);
	CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0600);
	snprintf(path, sizeof(path), "%s/lock.mdb", dir);
	CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0600);
}

static void test_journal__reopen_keeps_id_and_data(void)
{
	const char *dir = check_scratch_dir("reopen");
	rt_journal *j = NULL;
	rt_submit_result res;
	char id[37];
	struct snap a, b;

	CHECK_INT(rt_journal_open(&j, dir, 0), 0);
	snprintf(id, sizeof(id), "%s", rt_journal_id(j));
	CHECK_INT(rt_journal_submit(&res, j, batch_file(dir, "b", 10, 3, 0, "x"),
	                            "b.yaml", 0),
	          0);
	snapshot(j, &a);
	rt_journal_close(j);
	j = NULL;
	CHECK_INT(rt_journal_open(&j, dir, RT_JOURNAL_NOCREATE), 0);
	CHECK_STR(rt_journal_id(j), id);
	snapshot(j, &b);
	CHECK_STR(a.text, b.text);
	rt_journal_close(j);
}

static void test_journal__nocreate_creates_nothing(void)
{
	const char *dir = check_scratch_dir("nocreate");
	rt_journal *j = NULL;
	struct stat st;

	CHECK_INT(rt_journal_open(&j, dir, RT_JOURNAL_NOCREATE), RT_ENOTFOUND);
	CHECK(strstr(rt_journal_errmsg(j), dir) != NULL);
	rt_journal_close(j);
	CHECK(stat(dir, &st) < 0 && errno == ENOENT);

	/* An empty directory is no journal either, and stays empty. */
	CHECK(mkdir(dir, 0700) == 0);
	j = NULL;
	CHECK_INT(rt_journal_open(&j, dir, RT_JOURNAL_NOCREATE), RT_ENOTFOUND);
	rt_journal_close(j);
	{
		DIR *d = opendir(dir);
		struct dirent *e;
		int n = 0;

		while (d && (e = readdir(d)))
			n += e->d_name[0] != '.';
		if (d)
			closedir(d);
		CHECK_INT(n, 0);
	}
}

/* Entries of `dir` whose name starts with `prefix`. */
static int count_named(const char *dir, const char *prefix)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;

	while (d && (e = readdir(d)))
		n += strncmp(e->d_name, prefix, strlen(prefix)) == 0;
	if (d)
		closedir(d);
	return n;
}

/* Makes PARENT/NAME as a killed first submit leaves it: a journal's files
 * in a directory last changed `age` seconds ago. */
static void leftover_beside(const char *parent, const char *name, int age)
{
	char path[512], file[600];
	struct timespec times[2];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", parent, name);
	CHECK(mkdir(path, 0700) == 0);
	snprintf(file, sizeof(file), "%s/data.mdb", path);
	fd = open(file, O_CREAT | O_WRONLY, 0600);
	CHECK(fd >= 0 && write(fd, "x", 1) == 1);
	close(fd);
	snprintf(file, sizeof(file), "%s/lock.mdb", path);
	fd = open(file, O_CREAT | O_WRONLY, 0600);
	CHECK(fd >= 0);
	close(fd);
	clock_gettime(CLOCK_REALTIME, &times[0]);
	times[0].tv_sec -= age;
	times[1] = times[0];
	CHECK(utimensat(AT_FDCWD, path, times, 0) == 0);
}

/* What killed first submits left beside a journal goes with the next
 * first submit's open, unless a live handle holds it or it is brand new. */
static void test_journal__create_on_submit_sweeps(void)
{
	char parent[256], dir[320], held[400];
	rt_journal *j = NULL;
	int fd;

	snprintf(parent, sizeof(parent), "%s", check_scratch_dir("cos-sweep"));
	CHECK(mkdir(parent, 0700) == 0);
	snprintf(dir, sizeof(dir), "%s/s", parent);
	leftover_beside(parent, ".s.new-dead01", 120);
	leftover_beside(parent, ".s.new-held01", 120);
	leftover_beside(parent, ".s.new-fresh1", 0);
	leftover_beside(parent, ".t.new-other1", 120);
	snprintf(held, sizeof(held), "%s/.s.new-held01", parent);
	fd = open(held, O_RDONLY | O_DIRECTORY);
	CHECK(fd >= 0 && flock(fd, LOCK_EX) == 0);

	CHECK_INT(rt_journal_open(&j, dir, RT_JOURNAL_CREATE_ON_SUBMIT), 0);
	CHECK_INT(count_named(parent, ".s.new-dead01"), 0);
	CHECK_INT(count_named(parent, ".s.new-held01"), 1);
	CHECK_INT(count_named(parent, ".s.new-fresh1"), 1);
	CHECK_INT(count_named(parent, ".t.new-other1"), 1);
	/* The handle's own directory, held by it, survives another sweep. */
	CHECK_INT(count_named(parent, ".s.new-"), 3);
	close(fd);
	rt_journal_close(j);
	CHECK_INT(count_named(parent, ".s.new-"), 2);
}

/* RT_JOURNAL_CREATE_ON_SUBMIT: a rejected first batch leaves nothing, not
 * even the directories made for it; a valid one becomes the journal, also
 * in an empty directory that was there; a journal another process made
 * meanwhile gets the batch, after its own. */
static void test_journal__create_on_submit(void)
{
	char base[200], parent[256], dir[320], bad[512], good[512], small[512];
	rt_journal *j = NULL, *k = NULL;
	rt_submit_result res;
	rt_check_result cr;
	struct stat st;
	const char *files = check_scratch_dir("cos-files");

	snprintf(bad, sizeof(bad), "%s", batch_file(files, "bad", 100, 10, 1,
	                                             "c"));
	snprintf(good, sizeof(good), "%s", batch_file(files, "good", 100, 10,
	                                               0, "c"));
	snprintf(small, sizeof(small), "%s", batch_file(files, "small", 5, 5,
	                                                 0, "s"));
	snprintf(base, sizeof(base), "%s", check_scratch_dir("cos"));
	snprintf(parent, sizeof(parent), "%s/a", base);
	snprintf(dir, sizeof(dir), "%s/j", parent);

	/* Rejected: nothing is left, from the journal up to `base`. */
	CHECK_INT(rt_journal_open(&j, dir, RT_JOURNAL_CREATE_ON_SUBMIT), 0);
	CHECK(stat(dir, &st) < 0 && errno == ENOENT);
	CHECK_INT(rt_journal_submit(&res, j, bad, NULL, 0), RT_EINVAL);
	CHECK(strstr(rt_journal_errmsg(j), "bad.yaml:") != NULL);
	rt_journal_close(j);
	CHECK(stat(base, &st) < 0 && errno == ENOENT);

	/* Valid: the journal is at `dir`, nothing beside it. */
	CHECK_INT(rt_journal_open(&j, dir, RT_JOURNAL_CREATE_ON_SUBMIT), 0);
	CHECK_INT(rt_journal_submit(&res, j, good, NULL, 0), 0);
	CHECK_INT(res.nentries, 100);
	CHECK_INT(res.first_seq, 1);
	CHECK(strstr(rt_journal_dir(j), "/a/j") != NULL);
	rt_journal_close(j);
	CHECK_INT(count_named(parent, ".j.new-"), 0);
	j = NULL;
	CHECK_INT(rt_journal_open(&j, dir, RT_JOURNAL_NOCREATE), 0);
	CHECK_INT(rt_journal_check(&cr, j, NULL, NULL), 0);
	CHECK_INT(cr.problems, 0);
	CHECK_INT(cr.entries, 100);
	rt_journal_close(j);

	/* An empty directory that was there takes it too. */
	snprintf(dir, sizeof(dir), "%s/e", parent);
	CHECK(mkdir(dir, 0700) == 0);
	j = NULL;
	CHECK_INT(rt_journal_open(&j, dir, RT_JOURNAL_CREATE_ON_SUBMIT), 0);
	CHECK_INT(rt_journal_submit(&res, j, bad, NULL, 0), RT_EINVAL);
	rt_journal_close(j);
	CHECK_INT(count_named(dir, ""), 2); /* "." and ".." */
	j = NULL;
	CHECK_INT(rt_journal_open(&j, dir, RT_JOURNAL_CREATE_ON_SUBMIT), 0);
	CHECK_INT(rt_journal_submit(&res, j, good, NULL, 0), 0);
	rt_journal_close(j);
	CHECK_INT(count_named(parent, ".e.new-"), 0);
	j = NULL;
	CHECK_INT(rt_journal_open(&j, dir, RT_JOURNAL_NOCREATE), 0);
	rt_journal_close(j);

	/* Another process makes the journal and submits to it between
	 * this open and this submit: both batches are in it. */
	snprintf(dir, sizeof(dir), "%s/k", parent);
	j = NULL;
	CHECK_INT(rt_journal_open(&j, dir, RT_JOURNAL_CREATE_ON_SUBMIT), 0);
	CHECK_INT(rt_journal_open(&k, dir, 0), 0);
	CHECK_INT(rt_journal_submit(&res, k, small, NULL, 0), 0);
	rt_journal_close(k);
	CHECK_INT(rt_journal_submit(&res, j, good, NULL, 0), 0);
	CHECK_INT(res.nentries, 100);
	CHECK_INT(res.first_seq, 6);
	CHECK_INT(res.already_present, 0);
	CHECK(strstr(rt_journal_dir(j), "/a/k") != NULL);
	CHECK_INT(rt_journal_check(&cr, j, NULL, NULL), 0);
	CHECK_INT(cr.problems, 0);
	CHECK_INT(cr.entries, 105);
	CHECK_INT(cr.batches, 2);
	rt_journal_close(j);
	CHECK_INT(count_named(parent, ".k.new-"), 0);
}

static void test_journal__resolve_dir(void)
{
	char *p = NULL;
	char *saved = getenv("REFTRACK_JOURNAL") ? strdup(getenv("REFTRACK_JOURNAL"))
	                                         : NULL;

	CHECK_INT(rt_journal_resolve_dir(&p, "/x/y"), 0);
	CHECK_STR(p, "/x/y");
	free(p);
	setenv("REFTRACK_JOURNAL", "/from/env", 1);
	CHECK_INT(rt_journal_resolve_dir(&p, NULL), 0);
	CHECK_STR(p, "/from/env");
	free(p);
	CHECK_INT(rt_journal_resolve_dir(&p, "/explicit"), 0);
	CHECK_STR(p, "/explicit");
	free(p);
	unsetenv("REFTRACK_JOURNAL");
	CHECK_INT(rt_journal_resolve_dir(&p, NULL), 0);
	if (geteuid() == 0) {
		CHECK_STR(p, "/var/lib/reftrack/journal");
	} else {
		CHECK(p && strstr(p, "reftrack/journal") != NULL);
	}
	free(p);
	if (saved) {
		setenv("REFTRACK_JOURNAL", saved, 1);
		free(saved);
	}
}

static void set_format(const char *dir, uint32_t format)
{
	MDB_env *env = NULL;
	MDB_txn *txn = NULL;
	MDB_dbi dbi;
	MDB_val k = { 6, "format" }, d;
	uint8_t b[4] = { (uint8_t)(format >> 24), (uint8_t)(format >> 16),
	                 (uint8_t)(format >> 8), (uint8_t)format };

	d.mv_size = 4;
	d.mv_data = b;
	CHECK_INT(mdb_env_create(&env), 0);
	mdb_env_set_maxdbs(env, 8);
	CHECK_INT(mdb_env_open(env, dir, 0, 0600), 0);
	CHECK_INT(mdb_txn_begin(env, NULL, 0, &txn), 0);
	CHECK_INT(mdb_dbi_open(txn, "meta", 0, &dbi), 0);
	CHECK_INT(mdb_put(txn, dbi, &k, &d, 0), 0);
	CHECK_INT(mdb_txn_commit(txn), 0);
	mdb_env_close(env);
}

static void test_journal__newer_format_refused_untouched(void)
{
	const char *dir = check_scratch_dir("newer");
	char data[300];
	rt_journal *j = NULL;
	rt_submit_result res;
	char *before, *after;
	size_t lb, la;

	CHECK_INT(rt_journal_open(&j, dir, 0), 0);
	CHECK_INT(rt_journal_submit(&res, j, batch_file(dir, "b", 5, 2, 0, "n"),
	                            NULL, 0),
	          0);
	rt_journal_close(j);
	set_format(dir, RT_JOURNAL_FORMAT + 1);
	snprintf(data, sizeof(data), "%s/data.mdb", dir);
	before = read_all(data, &lb);

	j = NULL;
	CHECK_INT(rt_journal_open(&j, dir, 0), RT_EVERSION);
	CHECK(strstr(rt_journal_errmsg(j), "newer") != NULL);
	rt_journal_close(j);
	after = read_all(data, &la);
	CHECK(before && after && la == lb && memcmp(before, after, la) == 0);
	free(before);
	free(after);
}

/* Turns every entry and batch record of the journal in `dir` back into
 * codec 1 (no checksum) and its format into 1: what reftrack wrote before
 * records had checksums. */
static void make_format1(const char *dir)
{
	static const char *const tables[] = { "entries", "batches" };
	MDB_env *env = NULL;
	MDB_txn *txn = NULL;
	MDB_cursor *cur;
	MDB_dbi dbi;
	MDB_val k, d, nd;
	uint8_t kb[8], vb[4096];
	size_t i;
	int rc;

	CHECK_INT(mdb_env_create(&env), 0);
	mdb_env_set_maxdbs(env, 8);
	CHECK_INT(mdb_env_open(env, dir, 0, 0600), 0);
	CHECK_INT(mdb_txn_begin(env, NULL, 0, &txn), 0);
	for (i = 0; i < 2; i++) {
		CHECK_INT(mdb_dbi_open(txn, tables[i], 0, &dbi), 0);
		CHECK_INT(mdb_cursor_open(txn, dbi, &cur), 0);
		for (rc = mdb_cursor_get(cur, &k, &d, MDB_FIRST); rc == 0;
		     rc = mdb_cursor_get(cur, &k, &d, MDB_NEXT)) {
			CHECK(d.mv_size > 5 && d.mv_size - 4 <= sizeof(vb));
			memcpy(kb, k.mv_data, 8);
			memcpy(vb, d.mv_data, d.mv_size - 4);
			vb[0] = 1;
			k.mv_data = kb;
			nd.mv_data = vb;
			nd.mv_size = d.mv_size - 4;
			CHECK_INT(mdb_cursor_put(cur, &k, &nd, MDB_CURRENT), 0);
		}
		mdb_cursor_close(cur);
	}
	CHECK_INT(mdb_txn_commit(txn), 0);
	mdb_env_close(env);
	set_format(dir, 1);
}

/* A format-1 journal is migrated at open, every record readable after. */
static void test_journal__format1_migrated(void)
{
	const char *dir = check_scratch_dir("format1");
	rt_journal *j = NULL;
	rt_journal_txn *t = NULL;
	rt_journal_entry *e = NULL;
	rt_journal_stat st;
	rt_submit_result res;
	uint64_t seq;

	CHECK_INT(rt_journal_open(&j, dir, 0), 0);
	CHECK_INT(rt_journal_submit(&res, j, batch_file(dir, "b", 5, 2, 0, "m"),
	                            NULL, 0),
	          0);
	rt_journal_close(j);
	make_format1(dir);

	/* The open migrates it: every entry reads (with its checksum)... */
	j = NULL;
	CHECK_INT(rt_journal_open(&j, dir, 0), 0);
	CHECK_INT(rt_journal_txn_begin(&t, j, RT_TXN_RDONLY), 0);
	CHECK_INT(rt_journal_stat_get(&st, t), 0);
	CHECK_INT(st.format, 2);
	for (seq = 1; seq <= 5; seq++) {
		CHECK_INT(rt_journal_entry_get(&e, t, seq), 0);
		CHECK(e && e->seq == seq && e->nrefs > 0);
		rt_journal_entry_free(e);
		e = NULL;
	}
	rt_journal_txn_abort(t);
	/* ...and submitting the same bytes again is still a duplicate. */
	CHECK_INT(rt_journal_submit(&res, j, batch_file(dir, "b", 5, 2, 0, "m"),
	                            NULL, 0),
	          0);
	CHECK_INT(res.already_present, 1);
	rt_journal_close(j);
}

static void test_journal__garbage_data_file_refused(void)
{
	static const size_t sizes[] = { 5, 4096, 20000 };
	size_t i, k;

	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		char dir[256], data[300];
		char *junk = malloc(sizes[i]), *after;
		rt_journal *j = NULL;
		size_t la;

		snprintf(dir, sizeof(dir), "%s", check_scratch_dir("garbage"));
		CHECK(mkdir(dir, 0700) == 0);
		for (k = 0; k < sizes[i]; k++)
			junk[k] = (char)("not an lmdb file "[k % 17] ^ (k / 17));
		snprintf(data, sizeof(data), "%s/data.mdb", dir);
		write_file(data, junk, sizes[i]);
		CHECK_INT(rt_journal_open(&j, dir, 0), RT_EJOURNAL);
		CHECK(strstr(rt_journal_errmsg(j), "not a reftrack journal") !=
		      NULL);
		rt_journal_close(j);
		after = read_all(data, &la);
		CHECK(after && la == sizes[i] && memcmp(junk, after, la) == 0);
		free(after);
		free(junk);
	}
}

static void test_journal__foreign_lmdb_refused(void)
{
	const char *dir = check_scratch_dir("foreign");
	MDB_env *env = NULL;
	MDB_txn *txn = NULL;
	MDB_dbi dbi;
	MDB_val k = { 5, "hello" }, d = { 5, "world" };
	rt_journal *j = NULL;
	char dir2[256];

	CHECK(mkdir(dir, 0700) == 0);
	CHECK_INT(mdb_env_create(&env), 0);
	CHECK_INT(mdb_env_open(env, dir, 0, 0600), 0);
	CHECK_INT(mdb_txn_begin(env, NULL, 0, &txn), 0);
	CHECK_INT(mdb_dbi_open(txn, NULL, 0, &dbi), 0);
	CHECK_INT(mdb_put(txn, dbi, &k, &d, 0), 0);
	CHECK_INT(mdb_txn_commit(txn), 0);
	mdb_env_close(env);
	CHECK_INT(rt_journal_open(&j, dir, 0), RT_EJOURNAL);
	CHECK(strstr(rt_journal_errmsg(j), "not a reftrack journal") != NULL);
	rt_journal_close(j);

	/* A "meta" table without our magic is foreign too. */
	snprintf(dir2, sizeof(dir2), "%s", check_scratch_dir("foreign-meta"));
	CHECK(mkdir(dir2, 0700) == 0);
	CHECK_INT(mdb_env_create(&env), 0);
	mdb_env_set_maxdbs(env, 4);
	CHECK_INT(mdb_env_open(env, dir2, 0, 0600), 0);
	CHECK_INT(mdb_txn_begin(env, NULL, 0, &txn), 0);
	CHECK_INT(mdb_dbi_open(txn, "meta", MDB_CREATE, &dbi), 0);
	CHECK_INT(mdb_put(txn, dbi, &k, &d, 0), 0);
	CHECK_INT(mdb_txn_commit(txn), 0);
	mdb_env_close(env);
	j = NULL;
	CHECK_INT(rt_journal_open(&j, dir2, 0), RT_EJOURNAL);
	rt_journal_close(j);
}

static void test_journal__file_instead_of_dir(void)
{
	const char *dir = check_scratch_dir("file");
	rt_journal *j = NULL;

	write_file(dir, "x", 1);
	CHECK_INT(rt_journal_open(&j, dir, 0), RT_EJOURNAL);
	CHECK(strstr(rt_journal_errmsg(j), "not a directory") != NULL);
	rt_journal_close(j);
}

/* ---- submitting ------------------------------------------------------------ */

static void test_journal__submit_records_entries(void)
{
	const char *dir = check_scratch_dir("submit");
	static const char text[] =
		"version: 1\n"
		"defaults:\n"
		"  pool: rbd\n"
		"  namespace: csi\n"
		"requests:\n"
		"  - tracker: vol-1\n"
		"    add: [a, b]\n"
		"  - tracker: vol-2\n"
		"    pool: other\n"
		"    namespace: \"\"\n"
		"    id: req-7\n"
		"    remove: [a]\n"
		"    mask: [b]\n";
	char path[300], want[65];
	rt_journal *j = NULL;
	rt_journal_txn *t = NULL;
	rt_journal_entry *e = NULL;
	rt_journal_batch *b = NULL;
	rt_submit_result res;
	uint64_t counts[RT_ENTRY_STATE_SLOTS];
	int64_t before = rt__now_ns();

	snprintf(path, sizeof(path), "%s.yaml", dir);
	write_file(path, text, sizeof(text) - 1);
	sha256_hex(want, text, sizeof(text) - 1);
	CHECK_INT(rt_journal_open(&j, dir, 0), 0);
	CHECK_INT(rt_journal_submit(&res, j, path, "first.yaml", 0), 0);
	CHECK_STR(res.batch_id, want);
	CHECK_INT(res.nentries, 2);
	CHECK_INT(res.first_seq, 1);
	CHECK_INT(res.already_present, 0);

	CHECK_INT(rt_journal_txn_begin(&t, j, RT_TXN_RDONLY), 0);
	CHECK_INT(rt_journal_entry_get(&e, t, 1), 0);
	if (e) {
		CHECK_STR(e->batch_id, want);
		CHECK_INT(e->request_index, 0);
		CHECK_STR(e->pool, "rbd");
		CHECK_STR(e->ns, "csi");
		CHECK_STR(e->tracker, "vol-1");
		CHECK_INT(e->op, RT_OP_ADD);
		CHECK_INT(e->nrefs, 2);
		CHECK_STR(e->refs[0].key, "a");
		CHECK_INT(e->refs[0].type, RT_REF_NORMAL);
		CHECK_STR(e->refs[1].key, "b");
		CHECK(e->request_id == NULL);
		CHECK_INT(e->state, RT_ENTRY_PENDING);
		CHECK_INT(e->attempts, 0);
		CHECK(e->error == NULL);
		CHECK_INT(e->outcome.result, RT_RESULT_NONE);
		CHECK_INT(e->has_guard, 0);
		CHECK(e->submitted_ns >= before && e->submitted_ns <= rt__now_ns());
		CHECK_INT(e->updated_ns, 0);
		CHECK_INT(e->done_ns, 0);
	}
	rt_journal_entry_free(e);
	e = NULL;
	CHECK_INT(rt_journal_entry_get(&e, t, 2), 0);
	if (e) {
		CHECK_INT(e->request_index, 1);
		CHECK_STR(e->pool, "other");
		CHECK_STR(e->ns, "");
		CHECK_STR(e->tracker, "vol-2");
		CHECK_INT(e->op, RT_OP_REMOVE);
		CHECK_INT(e->nrefs, 2);
		CHECK_STR(e->refs[0].key, "a");
		CHECK_INT(e->refs[0].type, RT_REF_NORMAL);
		CHECK_STR(e->refs[1].key, "b");
		CHECK_INT(e->refs[1].type, RT_REF_MASK);
		CHECK_STR(e->request_id, "req-7");
	}
	rt_journal_entry_free(e);
	e = NULL;
	CHECK_INT(rt_journal_entry_get(&e, t, 3), RT_ENOTFOUND);
	CHECK(e == NULL);

	CHECK_INT(rt_journal_counts(t, counts), 0);
	CHECK_INT(counts[RT_ENTRY_PENDING], 2);
	CHECK_INT(counts[RT_ENTRY_DONE], 0);
	CHECK_INT(rt_journal_batch_get(&b, t, want), 0);
	if (b) {
		CHECK_STR(b->id, want);
		CHECK_STR(b->file_name, "first.yaml");
		CHECK_INT(b->first_seq, 1);
		CHECK_INT(b->nentries, 2);
		CHECK_INT(b->counts[RT_ENTRY_PENDING], 2);
	}
	rt_journal_batch_free(b);
	b = NULL;
	CHECK_INT(rt_journal_batch_get(&b, t, "00"), RT_EINVAL);
	CHECK_INT(rt_journal_batch_get(&b, t,
	                               "00000000000000000000000000000000"
	                               "00000000000000000000000000000000"),
	          RT_ENOTFOUND);
	rt_journal_txn_abort(t);
	rt_journal_close(j);
}

static void test_journal__duplicate_submit_adds_nothing(void)
{
	const char *dir = check_scratch_dir("dup");
	const char *path = batch_file(dir, "b", 50, 7, 0, "d");
	rt_journal *j = NULL;
	rt_submit_result r1, r2;
	struct snap a, b;

	CHECK_INT(rt_journal_open(&j, dir, 0), 0);
	CHECK_INT(rt_journal_submit(&r1, j, path, NULL, 0), 0);
	snapshot(j, &a);
	CHECK_INT(rt_journal_submit(&r2, j, path, "again.yaml", 0), 0);
	snapshot(j, &b);
	CHECK_INT(r2.already_present, 1);
	CHECK_STR(r2.batch_id, r1.batch_id);
	CHECK_INT(r2.nentries, 50);
	CHECK_INT(r2.first_seq, r1.first_seq);
	CHECK_STR(a.text, b.text);
	/* A dry run of it says so too. */
	CHECK_INT(rt_journal_submit(&r2, j, path, NULL, RT_SUBMIT_DRY_RUN), 0);
	CHECK_INT(r2.already_present, 1);
	rt_journal_close(j);
}

static void test_journal__parse_error_writes_nothing(void)
{
	const char *dir = check_scratch_dir("atomic");
	const char *bad;
	rt_journal *j = NULL;
	rt_submit_result res;
	struct snap a, b;
	char want[64];

	CHECK_INT(rt_journal_open(&j, dir, 0), 0);
	CHECK_INT(rt_journal_submit(&res, j, batch_file(dir, "ok", 20, 4, 0, "a"),
	                            NULL, 0),
	          0);
	snapshot(j, &a);
	/* 2000 requests, the last one invalid: everything before it was
	 * already put into the transaction when the error is found. */
	bad = batch_file(dir, "bad", 2000, 30, 1, "b");
	CHECK_INT(rt_journal_submit(&res, j, bad, NULL, 0), RT_EINVAL);
	/* The last request starts at line 6 + 2 * 1999; its key list is on
	 * the line after. */
	CHECK_INT(res.error.line, 6 + 2 * 1999 + 1);
	snprintf(want, sizeof(want), "%s:%u:%u: ", bad, res.error.line,
	         res.error.column);
	CHECK(strncmp(rt_journal_errmsg(j), want, strlen(want)) == 0);
	snapshot(j, &b);
	CHECK_STR(a.text, b.text);
	/* Nothing of it is reachable by seq either. */
	{
		rt_journal_txn *t = NULL;
		rt_journal_entry *e = NULL;

		CHECK_INT(rt_journal_txn_begin(&t, j, RT_TXN_RDONLY), 0);
		CHECK_INT(rt_journal_entry_get(&e, t, 21), RT_ENOTFOUND);
		CHECK_INT(count_state(t, RT_ENTRY_PENDING), 20);
		rt_journal_txn_abort(t);
	}
	/* A dry run reports the same error without a journal. */
	CHECK_INT(rt_journal_submit(&res, NULL, bad, NULL, RT_SUBMIT_DRY_RUN),
	          RT_EINVAL);
	CHECK_INT(res.error.line, 6 + 2 * 1999 + 1);
	rt_journal_close(j);
}

static void test_journal__missing_file(void)
{
	const char *dir = check_scratch_dir("missing");
	rt_journal *j = NULL;
	rt_submit_result res;

	CHECK_INT(rt_journal_open(&j, dir, 0), 0);
	CHECK_INT(rt_journal_submit(&res, j, "/nonexistent/batch.yaml", NULL, 0),
	          RT_ENOTFOUND);
	CHECK(strstr(rt_journal_errmsg(j), "/nonexistent/batch.yaml") != NULL);
	rt_journal_close(j);
}

static void test_journal__dry_run_writes_nothing(void)
{
	const char *dir = check_scratch_dir("dry");
	const char *path = batch_file(dir, "b", 30, 5, 0, "y");
	rt_journal *j = NULL;
	rt_submit_result res;
	struct snap a, b;

	CHECK_INT(rt_journal_open(&j, dir, 0), 0);
	snapshot(j, &a);
	CHECK_INT(rt_journal_submit(&res, j, path, NULL, RT_SUBMIT_DRY_RUN), 0);
	CHECK_INT(res.nentries, 30);
	CHECK_INT(res.already_present, 0);
	CHECK_INT(res.first_seq, 0);
	CHECK_INT(strlen(res.batch_id), 64);
	snapshot(j, &b);
	CHECK_STR(a.text, b.text);
	CHECK_INT(rt_journal_submit(&res, NULL, path, NULL, RT_SUBMIT_DRY_RUN), 0);
	CHECK_INT(res.nentries, 30);
	rt_journal_close(j);
}

static void test_journal__stdin_is_spooled(void)
{
	const char *dir = check_scratch_dir("stdin");
	const char *path = batch_file(dir, "b", 40, 5, 0, "s");
	char *text, want[65];
	size_t len;
	rt_journal *j = NULL;
	rt_submit_result res;
	int saved = dup(STDIN_FILENO), fd = open(path, O_RDONLY);
	DIR *d;
	struct dirent *de;
	int others = 0;

	text = read_all(path, &len);
	sha256_hex(want, text, len);
	free(text);
	CHECK_INT(rt_journal_open(&j, dir, 0), 0);
	dup2(fd, STDIN_FILENO);
	close(fd);
	CHECK_INT(rt_journal_submit(&res, j, "-", NULL, 0), 0);
	dup2(saved, STDIN_FILENO);
	close(saved);
	CHECK_STR(res.batch_id, want);
	CHECK_INT(res.nentries, 40);
	/* Submitting the file itself now finds it. */
	CHECK_INT(rt_journal_submit(&res, j, path, NULL, 0), 0);
	CHECK_INT(res.already_present, 1);
	rt_journal_close(j);
	/* The spool file left nothing behind. */
	d = opendir(dir);
	while (d && (de = readdir(d)))
		if (de->d_name[0] != '.' && strcmp(de->d_name, "data.mdb") &&
		    strcmp(de->d_name, "lock.mdb"))
			others++;
	if (d)
		closedir(d);
	CHECK_INT(others, 0);
}

/* ---- updates, indexes, counts --------------------------------------------------- */

static void check_consistent(rt_journal *j)
{
	rt_journal_txn *t = NULL;
	uint64_t counts[RT_ENTRY_STATE_SLOTS], sum[RT_ENTRY_STATE_SLOTS] = { 0 };
	rt_journal_iter *it = NULL;
	uint64_t seq;
	int s;

	CHECK_INT(rt_journal_txn_begin(&t, j, RT_TXN_RDONLY), 0);
	CHECK_INT(rt_journal_counts(t, counts), 0);
	/* Every entry once, in the state index of its own state. */
	CHECK_INT(rt_journal_iter_all(&it, t, 0), 0);
	while (it && rt_journal_iter_next(it, &seq) == 0) {
		rt_journal_entry *e = NULL;

		CHECK_INT(rt_journal_entry_get(&e, t, seq), 0);
		if (e)
			sum[e->state]++;
		rt_journal_entry_free(e);
	}
	rt_journal_iter_free(it);
	for (s = RT_ENTRY_STATE_FIRST; s <= RT_ENTRY_STATE_LAST; s++) {
		CHECK_INT(counts[s], sum[s]);
		CHECK_INT(count_state(t, (rt_entry_state)s), sum[s]);
	}
	rt_journal_txn_abort(t);
}

static void test_journal__updates_keep_indexes(void)
{
	const char *dir = check_scratch_dir("update");
	rt_journal *j = NULL;
	rt_journal_txn *t = NULL;
	rt_journal_iter *it = NULL;
	rt_journal_entry *e = NULL;
	rt_journal_batch *b = NULL;
	rt_submit_result res;
	rt_entry_change chg;
	uint64_t seqs[64], seq, n;
	int rc;

	CHECK_INT(rt_journal_open(&j, dir, 0), 0);
	/* 30 entries over trackers t0..t2: tracker i%3. */
	CHECK_INT(rt_journal_submit(&res, j, batch_file(dir, "b", 30, 3, 0, "u"),
	                            NULL, 0),
	          0);

	CHECK_INT(rt_journal_txn_begin(&t, j, 0), 0);
	memset(&chg, 0, sizeof(chg));
	chg.set = RT_CHANGE_STATE | RT_CHANGE_GUARD | RT_CHANGE_ATTEMPTS;
	chg.state = RT_ENTRY_IN_FLIGHT;
	chg.has_guard = 1;
	chg.guard_version = 12345;
	chg.attempts = 1;
	for (seq = 1; seq <= 10; seq++)
		CHECK_INT(rt_journal_entry_update(t, seq, &chg), 0);
	memset(&chg, 0, sizeof(chg));
	chg.set = RT_CHANGE_STATE | RT_CHANGE_OUTCOME;
	chg.state = RT_ENTRY_DONE;
	chg.outcome.result = RT_RESULT_CREATED;
	chg.outcome.added = 1;
	for (seq = 1; seq <= 5; seq++)
		CHECK_INT(rt_journal_entry_update(t, seq, &chg), 0);
	memset(&chg, 0, sizeof(chg));
	chg.set = RT_CHANGE_STATE | RT_CHANGE_ERROR;
	chg.state = RT_ENTRY_FAILED;
	chg.error = "permission denied on pool rbd";
	CHECK_INT(rt_journal_entry_update(t, 11, &chg), 0);
	chg.state = RT_ENTRY_NEEDS_REVIEW;
	chg.error = "ambiguous";
	CHECK_INT(rt_journal_entry_update(t, 12, &chg), 0);
	/* Bad input is refused without a change. */
	chg.state = (rt_entry_state)99;
	CHECK_INT(rt_journal_entry_update(t, 13, &chg), RT_EINVAL);
	chg.state = RT_ENTRY_DONE;
	CHECK_INT(rt_journal_entry_update(t, 999, &chg), RT_ENOTFOUND);
	CHECK_INT(rt_journal_txn_commit(t), 0);
	t = NULL;

	CHECK_INT(rt_journal_txn_begin(&t, j, RT_TXN_RDONLY), 0);
	CHECK_INT(count_state(t, RT_ENTRY_DONE), 5);
	CHECK_INT(count_state(t, RT_ENTRY_IN_FLIGHT), 5);
	CHECK_INT(count_state(t, RT_ENTRY_FAILED), 1);
	CHECK_INT(count_state(t, RT_ENTRY_NEEDS_REVIEW), 1);
	CHECK_INT(count_state(t, RT_ENTRY_PENDING), 18);
	CHECK_INT(rt_journal_iter_state(&it, t, RT_ENTRY_IN_FLIGHT, 0), 0);
	n = count_iter(it, seqs, 64);
	rt_journal_iter_free(it);
	CHECK(n == 5 && seqs[0] == 6 && seqs[4] == 10);
	/* from_seq starts in the middle. */
	CHECK_INT(rt_journal_iter_state(&it, t, RT_ENTRY_PENDING, 20), 0);
	n = count_iter(it, seqs, 64);
	rt_journal_iter_free(it);
	CHECK(n == 11 && seqs[0] == 20);
	/* Tracker t1 has requests 1, 4, 7, ... = seqs 2, 5, 8, ... */
	CHECK_INT(rt_journal_iter_tracker(&it, t, "rbd", "csi", "t1", 0), 0);
	n = count_iter(it, seqs, 64);
	rt_journal_iter_free(it);
	CHECK(n == 10 && seqs[0] == 2 && seqs[1] == 5 && seqs[9] == 29);
	CHECK_INT(rt_journal_iter_tracker(&it, t, "rbd", "csi", "t1", 6), 0);
	n = count_iter(it, seqs, 64);
	rt_journal_iter_free(it);
	CHECK(n == 8 && seqs[0] == 8);
	CHECK_INT(rt_journal_iter_tracker(&it, t, "rbd", NULL, "t1", 0), 0);
	CHECK_INT(count_iter(it, NULL, 0), 0);
	rt_journal_iter_free(it);

	CHECK_INT(rt_journal_entry_get(&e, t, 3), 0);
	if (e) {
		CHECK_INT(e->state, RT_ENTRY_DONE);
		CHECK_INT(e->attempts, 1);
		CHECK_INT(e->has_guard, 1);
		CHECK_INT(e->guard_version, 12345);
		CHECK_INT(e->outcome.result, RT_RESULT_CREATED);
		CHECK_INT(e->outcome.added, 1);
		CHECK(e->done_ns > 0 && e->updated_ns >= e->submitted_ns);
	}
	rt_journal_entry_free(e);
	e = NULL;
	CHECK_INT(rt_journal_entry_get(&e, t, 11), 0);
	if (e) {
		CHECK_INT(e->state, RT_ENTRY_FAILED);
		CHECK_STR(e->error, "permission denied on pool rbd");
		CHECK_INT(e->done_ns, 0);
	}
	rt_journal_entry_free(e);
	e = NULL;
	CHECK_INT(rt_journal_batch_get(&b, t, res.batch_id), 0);
	if (b) {
		CHECK_INT(b->counts[RT_ENTRY_PENDING], 18);
		CHECK_INT(b->counts[RT_ENTRY_IN_FLIGHT], 5);
		CHECK_INT(b->counts[RT_ENTRY_DONE], 5);
		CHECK_INT(b->counts[RT_ENTRY_FAILED], 1);
		CHECK_INT(b->counts[RT_ENTRY_NEEDS_REVIEW], 1);
	}
	rt_journal_batch_free(b);
	rt_journal_txn_abort(t);
	check_consistent(j);

	/* Walking the pending set while moving each entry out of it, in the
	 * same transaction, sees every entry exactly once. */
	t = NULL;
	CHECK_INT(rt_journal_txn_begin(&t, j, 0), 0);
	CHECK_INT(rt_journal_iter_state(&it, t, RT_ENTRY_PENDING, 0), 0);
	memset(&chg, 0, sizeof(chg));
	chg.set = RT_CHANGE_STATE | RT_CHANGE_ERROR;
	chg.state = RT_ENTRY_DONE;
	chg.error = NULL;
	n = 0;
	while ((rc = rt_journal_iter_next(it, &seq)) == 0) {
		CHECK_INT(rt_journal_entry_update(t, seq, &chg), 0);
		n++;
	}
	CHECK_INT(rc, RT_ENOTFOUND);
	rt_journal_iter_free(it);
	CHECK_INT(n, 18);
	CHECK_INT(count_state(t, RT_ENTRY_PENDING), 0);
	/* An abort undoes all of it. */
	rt_journal_txn_abort(t);
	t = NULL;
	CHECK_INT(rt_journal_txn_begin(&t, j, RT_TXN_RDONLY), 0);
	CHECK_INT(count_state(t, RT_ENTRY_PENDING), 18);
	/* Writes are refused in a read-only transaction. */
	CHECK_INT(rt_journal_entry_update(t, 1, &chg), RT_EINVAL);
	rt_journal_txn_abort(t);
	check_consistent(j);
	rt_journal_close(j);
}

/* ---- legal state transitions ---------------------------------------------------- */

/* The table, pair by pair, written out again here from sys/journal.h's
 * contract: what the replayer and the operator actions need, and nothing
 * out of done or skipped. */
static void test_journal__transition_table(void)
{
	static const char *const legal[] = {
		"pending>pending", "pending>in-flight", "pending>done",
		"pending>failed", "pending>skipped", "pending>blocked",
		"pending>needs-review",
		"in-flight>pending", "in-flight>in-flight", "in-flight>done",
		"in-flight>failed", "in-flight>blocked",
		"in-flight>needs-review",
		"failed>pending", "failed>skipped",
		"blocked>pending", "blocked>skipped",
		"needs-review>pending", "needs-review>skipped",
	};
	char pair[64];
	int from, to, want, nlegal = 0;
	size_t i;

	for (from = 0; from < RT_ENTRY_STATE_SLOTS + 1; from++) {
		for (to = 0; to < RT_ENTRY_STATE_SLOTS + 1; to++) {
			want = 0;
			if (rt_entry_state_name(from) && rt_entry_state_name(to)) {
				snprintf(pair, sizeof(pair), "%s>%s",
				         rt_entry_state_name(from),
				         rt_entry_state_name(to));
				for (i = 0; i < sizeof(legal) / sizeof(legal[0]);
				     i++)
					if (strcmp(pair, legal[i]) == 0)
						want = 1;
			}
			if (rt_entry_transition_allowed(from, to) != want)
				fprintf(stderr, "transition %d -> %d\n", from,
				        to);
			CHECK_INT(rt_entry_transition_allowed(from, to), want);
			nlegal += want;
		}
	}
	CHECK_INT(nlegal, (int)(sizeof(legal) / sizeof(legal[0])));
	CHECK_INT(rt_entry_transition_allowed(-1, RT_ENTRY_PENDING), 0);
	CHECK_INT(rt_entry_transition_allowed(RT_ENTRY_PENDING, 99), 0);
}

static int move_entry(rt_journal *j, uint64_t seq, rt_entry_state state)
{
	rt_journal_txn *t = NULL;
	rt_entry_change chg;
	int rc;

	memset(&chg, 0, sizeof(chg));
	chg.set = RT_CHANGE_STATE;
	chg.state = state;
	rc = rt_journal_txn_begin(&t, j, 0);
	if (rc == 0)
		rc = rt_journal_entry_update(t, seq, &chg);
	if (rc == 0)
		rc = rt_journal_txn_commit(t);
	else
		rt_journal_txn_abort(t);
	return rc;
}

/* Through the public (sys) API, a done entry cannot go back to pending:
 * the update is refused naming the entry and both states, and the
 * transaction it was in, with a legal change made before it, commits
 * nothing. */
static void test_journal__done_never_changes(void)
{
	const char *dir = check_scratch_dir("done-final");
	rt_journal *j = NULL;
	rt_journal_txn *t = NULL;
	rt_journal_entry *e = NULL;
	rt_submit_result res;
	rt_entry_change chg;
	struct snap before, after;

	CHECK_INT(rt_journal_open(&j, dir, 0), 0);
	CHECK_INT(rt_journal_submit(&res, j, batch_file(dir, "b", 3, 3, 0, "d"),
	                            NULL, 0),
	          0);
	CHECK_INT(move_entry(j, 1, RT_ENTRY_IN_FLIGHT), 0);
	CHECK_INT(move_entry(j, 1, RT_ENTRY_DONE), 0);
	snapshot(j, &before);

	CHECK_INT(move_entry(j, 1, RT_ENTRY_PENDING), RT_EINVAL);
	CHECK(strstr(rt_journal_errmsg(j), "entry 1") != NULL);
	CHECK(strstr(rt_journal_errmsg(j), "from done to pending") != NULL);
	/* An update that keeps the state is refused as well: a done entry's
	 * record is final. */
	memset(&chg, 0, sizeof(chg));
	chg.set = RT_CHANGE_OUTCOME;
	CHECK_INT(rt_journal_txn_begin(&t, j, 0), 0);
	CHECK_INT(rt_journal_entry_update(t, 1, &chg), RT_EINVAL);
	rt_journal_txn_abort(t);
	t = NULL;

	/* A legal change, then the illegal one, in one transaction: the
	 * commit refuses it all. */
	CHECK_INT(rt_journal_txn_begin(&t, j, 0), 0);
	chg.set = RT_CHANGE_STATE;
	chg.state = RT_ENTRY_FAILED;
	CHECK_INT(rt_journal_entry_update(t, 2, &chg), 0);
	chg.state = RT_ENTRY_PENDING;
	CHECK_INT(rt_journal_entry_update(t, 1, &chg), RT_EINVAL);
	CHECK_INT(rt_journal_txn_commit(t), RT_EINVAL);
	CHECK(strstr(rt_journal_errmsg(j), "not committed") != NULL);
	t = NULL;

	snapshot(j, &after);
	CHECK_STR(after.text, before.text);
	CHECK_INT(rt_journal_txn_begin(&t, j, RT_TXN_RDONLY), 0);
	CHECK_INT(rt_journal_entry_get(&e, t, 1), 0);
	if (e)
		CHECK_INT(e->state, RT_ENTRY_DONE);
	rt_journal_entry_free(e);
	e = NULL;
	CHECK_INT(rt_journal_entry_get(&e, t, 2), 0);
	if (e)
		CHECK_INT(e->state, RT_ENTRY_PENDING);
	rt_journal_entry_free(e);
	rt_journal_txn_abort(t);
	/* Skipped is final too. */
	CHECK_INT(move_entry(j, 3, RT_ENTRY_SKIPPED), 0);
	CHECK_INT(move_entry(j, 3, RT_ENTRY_PENDING), RT_EINVAL);
	check_consistent(j);
	rt_journal_close(j);
}

/* ---- map growth -------------------------------------------------------------------- */

struct grow_arg {
	int calls;
	uint64_t n;
	const char *error;
};

static int grow_fn(void *arg, rt_journal_txn *t)
{
	struct grow_arg *g = arg;
	rt_entry_change chg;
	uint64_t seq;
	int rc;

	g->calls++;
	memset(&chg, 0, sizeof(chg));
	chg.set = RT_CHANGE_ERROR | RT_CHANGE_STATE;
	chg.state = RT_ENTRY_FAILED;
	chg.error = g->error;
	for (seq = 1; seq <= g->n; seq++)
		if ((rc = rt_journal_entry_update(t, seq, &chg)))
			return rc;
	return 0;
}

static void test_journal__map_full_grows(void)
{
	const char *dir = check_scratch_dir("grow");
	rt_journal *j = NULL;
	rt_journal_txn *t = NULL;
	rt_journal_stat st;
	rt_submit_result res;
	struct grow_arg g;
	char *err;

	/* A map far too small for the batch, and no sizing up front: only
	 * MDB_MAP_FULL handling can get it in. */
	rt__test_journal_map = 128 << 10;
	rt__test_journal_presize = 0;
	CHECK_INT(rt_journal_open(&j, dir, 0), 0);
	CHECK_INT(rt_journal_submit(&res, j,
	                            batch_file(dir, "big", 20000, 500, 0, "g"),
	                            NULL, 0),
	          0);
	CHECK_INT(res.nentries, 20000);
	CHECK_INT(rt_journal_txn_begin(&t, j, RT_TXN_RDONLY), 0);
	CHECK_INT(rt_journal_stat_get(&st, t), 0);
	CHECK(st.map_size > (128 << 10));
	CHECK_INT(st.next_seq, 20001);
	CHECK_INT(count_state(t, RT_ENTRY_PENDING), 20000);
	rt_journal_txn_abort(t);

	/* rt_journal_write() redoes a transaction that filled the map. */
	err = malloc(4001);
	memset(err, 'e', 4000);
	err[4000] = '\0';
	g.calls = 0;
	g.n = 20000;
	g.error = err;
	CHECK_INT(rt_journal_write(j, grow_fn, &g), 0);
	CHECK(g.calls > 1);
	free(err);
	check_consistent(j);
	rt_journal_close(j);
	rt__test_journal_map = 0;
	rt__test_journal_presize = 1;
}

/* ---- staged batches ------------------------------------------------------------- */

/* What a second handle sees while a submit is staging: only the batch that
 * was already there. */
struct stage_watch {
	const char *dir;
	int calls, exit_at;
	uint64_t staged_seen;
};

static void check_only_first_batch(rt_journal *j, uint64_t n)
{
	rt_journal_txn *t = NULL;
	rt_journal_iter *it = NULL;
	rt_journal_entry *e = NULL;
	rt_journal_stat st;

	CHECK_INT(rt_journal_txn_begin(&t, j, RT_TXN_RDONLY), 0);
	CHECK_INT(rt_journal_stat_get(&st, t), 0);
	CHECK_INT(st.next_seq, n + 1);
	CHECK_INT(st.nbatches, 1);
	CHECK_INT(count_state(t, RT_ENTRY_PENDING), n);
	CHECK_INT(rt_journal_iter_all(&it, t, 0), 0);
	CHECK_INT(count_iter(it, NULL, 0), n);
	rt_journal_iter_free(it);
	CHECK_INT(rt_journal_iter_tracker(&it, t, "rbd", "csi", "t1", 0), 0);
	CHECK_INT(count_iter(it, NULL, 0), 1);
	rt_journal_iter_free(it);
	CHECK_INT(rt_journal_entry_get(&e, t, n + 1), RT_ENOTFOUND);
	rt_journal_txn_abort(t);
}

static void stage_progress(void *arg, uint64_t line, uint64_t lines)
{
	struct stage_watch *w = arg;
	rt_journal *j2 = NULL;
	rt_check_result cr;

	(void)line;
	(void)lines;
	if (++w->calls == w->exit_at)
		_exit(0); /* as a kill -9 would: nothing runs after it */
	if (w->calls != 2)
		return;
	/* Opening does not discard a live submit's rows. */
	CHECK_INT(rt_journal_open(&j2, w->dir, 0), 0);
	check_only_first_batch(j2, 5);
	CHECK_INT(rt_journal_check(&cr, j2, NULL, NULL), 0);
	CHECK_INT(cr.problems, 0);
	CHECK_INT(cr.entries, 5);
	w->staged_seen = cr.staged_entries;
	rt_journal_close(j2);
}

static uint32_t raw_format(const char *dir)
{
	MDB_env *env = NULL;
	MDB_txn *txn = NULL;
	MDB_dbi dbi;
	MDB_val k = { 6, "format" }, d;
	uint32_t f = 0;

	CHECK_INT(mdb_env_create(&env), 0);
	mdb_env_set_maxdbs(env, 8);
	CHECK_INT(mdb_env_open(env, dir, MDB_RDONLY, 0600), 0);
	CHECK_INT(mdb_txn_begin(env, NULL, MDB_RDONLY, &txn), 0);
	CHECK_INT(mdb_dbi_open(txn, "meta", 0, &dbi), 0);
	if (mdb_get(txn, dbi, &k, &d) == 0 && d.mv_size == 4)
		f = (uint32_t)((const uint8_t *)d.mv_data)[0] << 24 |
		    ((const uint8_t *)d.mv_data)[3];
	mdb_txn_abort(txn);
	mdb_env_close(env);
	return f;
}

/* A batch larger than a staging transaction: invisible while it is being
 * written (other handles, iterators, entry reads and check see only what
 * was there), whole once submitted, and discarded when its submit dies or
 * fails. */
static void test_journal__staged_batch_all_or_nothing(void)
{
	const char *dir = check_scratch_dir("staged");
	char big[512], bad[512];
	struct stage_watch w;
	rt_journal *j = NULL;
	rt_submit_result res;
	rt_check_result cr;
	pid_t pid;
	int status;

	CHECK_INT(rt_journal_open(&j, dir, 0), 0);
	CHECK_INT(rt_journal_submit(&res, j, batch_file(dir, "small", 5, 5, 0,
	                                                 "s"),
	                            NULL, 0),
	          0);
	snprintf(big, sizeof(big), "%s", batch_file(dir, "big", 30000, 700, 0,
	                                             "b"));
	snprintf(bad, sizeof(bad), "%s", batch_file(dir, "bad", 30000, 700, 1,
	                                             "b"));
	/* A transaction per 256 KiB block, and the tracker index through
	 * sorted runs on disk, as a batch of millions would go. */
	rt__test_submit_stage_bytes = 1;
	rt__test_submit_run_pairs = 4000;

	/* Refused at its last line: nothing of it is left. */
	CHECK_INT(rt_journal_submit(&res, j, bad, NULL, 0), RT_EINVAL);
	check_only_first_batch(j, 5);
	CHECK_INT(raw_format(dir), RT_JOURNAL_FORMAT);
	rt_journal_close(j);
	j = NULL;

	/* Killed mid-way (after the second staging transaction). */
	fflush(NULL);
	pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		memset(&w, 0, sizeof(w));
		w.dir = dir;
		w.exit_at = 3;
		if (rt_journal_open(&j, dir, 0) != 0)
			_exit(2);
		rt_journal_set_submit_progress(j, stage_progress, &w);
		rt_journal_submit(&res, j, big, NULL, 0);
		_exit(3); /* the submit was to die first */
	}
	CHECK_INT(waitpid(pid, &status, 0), pid);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	/* Left behind, marked so that an older reftrack refuses it. */
	CHECK_INT(raw_format(dir), 0x80000000u | RT_JOURNAL_FORMAT);

	/* The next open discards it. */
	CHECK_INT(rt_journal_open(&j, dir, 0), 0);
	CHECK_INT(raw_format(dir), RT_JOURNAL_FORMAT);
	check_only_first_batch(j, 5);
	CHECK_INT(rt_journal_check(&cr, j, NULL, NULL), 0);
	CHECK_INT(cr.problems, 0);
	CHECK_INT(cr.staged_entries, 0);

	/* In full, watched by a second handle part of the way. */
	memset(&w, 0, sizeof(w));
	w.dir = dir;
	rt_journal_set_submit_progress(j, stage_progress, &w);
	CHECK_INT(rt_journal_submit(&res, j, big, NULL, 0), 0);
	rt_journal_set_submit_progress(j, NULL, NULL);
	CHECK(w.calls > 2);
	CHECK(w.staged_seen > 0);
	CHECK_INT(res.nentries, 30000);
	CHECK_INT(res.first_seq, 6);
	CHECK_INT(rt_journal_check(&cr, j, NULL, NULL), 0);
	CHECK_INT(cr.problems, 0);
	CHECK_INT(cr.entries, 30005);
	CHECK_INT(cr.staged_entries, 0);
	check_consistent(j);
	{
		rt_journal_txn *t = NULL;
		rt_journal_iter *it = NULL;

		/* t1 has the small batch's entry and 30000/700 of the big
		 * one's (t1, t701, ...: 43). */
		CHECK_INT(rt_journal_txn_begin(&t, j, RT_TXN_RDONLY), 0);
		CHECK_INT(rt_journal_iter_tracker(&it, t, "rbd", "csi", "t1", 0),
		          0);
		CHECK_INT(count_iter(it, NULL, 0), 1 + 43);
		rt_journal_iter_free(it);
		rt_journal_txn_abort(t);
	}
	rt__test_submit_stage_bytes = 0;
	rt__test_submit_run_pairs = 0;
	rt_journal_close(j);
}

/* The by_tracker pairs' sort gives memcmp order: random keys, runs of one
 * key, keys equal in their first word, counts around the insertion runs. */
static int pair_memcmp(const void *a, const void *b)
{
	return memcmp(a, b, RT__PAIR_LEN);
}

static void test_journal__pairs_sort_is_memcmp_order(void)
{
	static const size_t sizes[] = { 0, 1, 15, 16, 17, 33, 1000, 40961 };
	size_t s, i, n;
	uint8_t *p, *want, *scratch;
	unsigned seed = 12345;

	p = malloc(40961 * RT__PAIR_LEN);
	want = malloc(40961 * RT__PAIR_LEN);
	scratch = malloc(40961 * RT__PAIR_LEN);
	CHECK(p && want && scratch);
	for (s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
		n = sizes[s];
		for (i = 0; i < n * RT__PAIR_LEN; i++) {
			seed = seed * 1103515245u + 12345u;
			p[i] = (uint8_t)(seed >> 16);
		}
		for (i = 0; i < n; i++) {
			uint8_t *q = p + i * RT__PAIR_LEN;

			/* Few distinct keys for a third of them, and a
			 * shared first word for another third. */
			if (i % 3 == 0)
				memset(q, (int)(i % 7), RT__TRACKER_KEY_LEN);
			else if (i % 3 == 1)
				memset(q, 0xAB, 8);
		}
		memcpy(want, p, n * RT__PAIR_LEN);
		if (n)
			qsort(want, n, RT__PAIR_LEN, pair_memcmp);
		rt__pairs_sort(p, scratch, n);
		CHECK(n == 0 || memcmp(p, want, n * RT__PAIR_LEN) == 0);
	}
	free(p);
	free(want);
	free(scratch);
}

/* ---- codec -------------------------------------------------------------------------- */

static void test_journal__codec_round_trip_and_damage(void)
{
	struct rt__entry_rec e, d;
	struct rt__buf b = { 0 }, refs = { 0 };
	rt_ref in[2] = { { "key-1", RT_REF_NORMAL }, { "key-2", RT_REF_MASK } };
	size_t cut, i;
	uint8_t *copy;

	memset(&e, 0, sizeof(e));
	e.state = RT_ENTRY_FAILED;
	e.op = RT_OP_REMOVE;
	e.batch_serial = 300;
	e.request_index = 1u << 20;
	e.pool.s = "rbd";
	e.pool.len = 3;
	e.ns.s = "";
	e.tracker.s = "tracker";
	e.tracker.len = 7;
	e.nrefs = 2;
	rt__refs_encode(&refs, in, 2);
	e.refs = refs.p;
	e.refs_len = refs.len;
	e.request_id.s = "rid";
	e.request_id.len = 3;
	e.attempts = 7;
	e.error.s = "boom";
	e.error.len = 4;
	e.outcome.result = RT_RESULT_CHANGED;
	e.outcome.added = 1;
	e.outcome.removed = 2;
	e.outcome.masked = 3;
	e.has_guard = 1;
	e.guard_version = UINT64_MAX;
	e.updated_ns = 1700000000000000000ULL;
	e.done_ns = 1;
	rt__entry_encode(&b, &e);
	CHECK(!b.oom);
	CHECK_INT(rt__entry_decode(&d, b.p, b.len), 0);
	CHECK_INT(d.state, RT_ENTRY_FAILED);
	CHECK_INT(d.op, RT_OP_REMOVE);
	CHECK_INT(d.batch_serial, 300);
	CHECK_INT(d.request_index, 1u << 20);
	CHECK(d.tracker.len == 7 && memcmp(d.tracker.s, "tracker", 7) == 0);
	CHECK_INT(d.ns.len, 0);
	CHECK_INT(d.nrefs, 2);
	CHECK(d.refs_len == refs.len && memcmp(d.refs, refs.p, refs.len) == 0);
	CHECK(d.request_id.len == 3 && memcmp(d.request_id.s, "rid", 3) == 0);
	CHECK_INT(d.attempts, 7);
	CHECK(d.error.len == 4 && memcmp(d.error.s, "boom", 4) == 0);
	CHECK_INT(d.outcome.result, RT_RESULT_CHANGED);
	CHECK_INT(d.outcome.masked, 3);
	CHECK(d.has_guard && d.guard_version == UINT64_MAX);
	CHECK(d.updated_ns == 1700000000000000000ULL && d.done_ns == 1);
	CHECK_INT(d.unknown_fields, 0);

	/* Every truncation is refused (valgrind watches the reads: each copy
	 * is exactly as long as the cut). */
	for (cut = 0; cut < b.len; cut++) {
		copy = malloc(cut ? cut : 1);
		memcpy(copy, b.p, cut);
		CHECK(rt__entry_decode(&d, copy, cut) < 0);
		free(copy);
	}
	/* Every single-byte change is caught by the record's checksum. */
	copy = malloc(b.len);
	for (i = 0; i < b.len; i++) {
		int v;

		for (v = 17; v < 256; v += 17) {
			memcpy(copy, b.p, b.len);
			copy[i] ^= (uint8_t)v;
			CHECK_INT(rt__entry_decode(&d, copy, b.len),
			          RT__DECODE_CHECKSUM);
		}
	}
	free(copy);

	/* An unknown tag is skipped and reported (the record is sealed
	 * again, as a newer reftrack would have written it). */
	b.len -= 4;
	rt__buf_varint(&b, 99);
	rt__buf_varint(&b, 2);
	rt__buf_put(&b, "zz", 2);
	{
		uint32_t crc = (uint32_t)crc32(0L, b.p, (uInt)b.len);
		uint8_t t[4] = { (uint8_t)(crc >> 24), (uint8_t)(crc >> 16),
		                 (uint8_t)(crc >> 8), (uint8_t)crc };

		rt__buf_put(&b, t, 4);
	}
	CHECK_INT(rt__entry_decode(&d, b.p, b.len), 0);
	CHECK_INT(d.unknown_fields, 1);
	CHECK_INT(d.attempts, 7);

	/* Varints: the largest value round-trips, an 11-byte one is refused. */
	{
		uint8_t over[11] = { 0x80, 0x80, 0x80, 0x80, 0x80, 0x80,
		                     0x80, 0x80, 0x80, 0x80, 0x01 };
		struct rt__rd r = { over, over + 11, 0 };

		(void)rt__rd_varint(&r);
		CHECK(r.bad);
		rt__buf_reset(&b);
		rt__buf_varint(&b, UINT64_MAX);
		r.p = b.p;
		r.end = b.p + b.len;
		r.bad = 0;
		CHECK(rt__rd_varint(&r) == UINT64_MAX && !r.bad);
	}
	rt__buf_free(&b);
	rt__buf_free(&refs);
}

/* ---- stale readers ------------------------------------------------------- */

struct reader_count {
	long pid;
	int n;
};

static int count_reader(const char *msg, void *arg)
{
	struct reader_count *c = arg;
	long pid;

	/* Lines are "PID THREAD TXNID" after a header line. */
	if (sscanf(msg, "%ld", &pid) == 1 && pid == c->pid)
		c->n++;
	return 0;
}

/* Reader slots held in journal `dir` by process `pid`, counted in a child:
 * one process must not open an LMDB environment twice (closing the second
 * handle would drop the first one's locks).  -1 on failure. */
static int readers_of(const char *dir, pid_t pid)
{
	pid_t child = fork();
	int st;

	if (child == 0) {
		MDB_env *env = NULL;
		struct reader_count c = { (long)pid, 0 };

		if (mdb_env_create(&env) || mdb_env_set_maxdbs(env, 8) ||
		    mdb_env_open(env, dir, MDB_RDONLY, 0600) ||
		    mdb_reader_list(env, count_reader, &c) < 0)
			_exit(255);
		mdb_env_close(env);
		_exit(c.n > 200 ? 200 : c.n);
	}
	if (child < 0 || waitpid(child, &st, 0) != child || !WIFEXITED(st) ||
	    WEXITSTATUS(st) == 255)
		return -1;
	return WEXITSTATUS(st);
}

/* Runs fn(dir) in a child; its exit status, or -1 if it did not exit. */
static int in_child(void (*fn)(const char *), const char *dir, pid_t *pid)
{
	pid_t child = fork();
	int st;

	if (child == 0) {
		fn(dir);
		_exit(0);
	}
	if (pid)
		*pid = child;
	if (child < 0 || waitpid(child, &st, 0) != child)
		return -1;
	if (WIFSIGNALED(st))
		return 128 + WTERMSIG(st);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* Dies by SIGKILL in the middle of a read transaction. */
static void die_reading(const char *dir)
{
	rt_journal *j = NULL;
	rt_journal_txn *t = NULL;

	if (rt_journal_open(&j, dir, RT_JOURNAL_NOCREATE) ||
	    rt_journal_txn_begin(&t, j, RT_TXN_RDONLY))
		_exit(1);
	raise(SIGKILL);
	_exit(2);
}

static void just_open(const char *dir)
{
	rt_journal *j = NULL;
	int rc = rt_journal_open(&j, dir, RT_JOURNAL_NOCREATE);

	rt_journal_close(j);
	_exit(rc ? 1 : 0);
}

/* A reader killed mid-transaction leaves its slot in lock.mdb, and that
 * slot pins the pages it could see for as long as any process keeps the
 * environment open (the last one out would reset the table).  So: this
 * process keeps the journal open, a child dies reading, and the next
 * rt_journal_open(), in another child, must free the slot. */
static void test_journal__stale_readers_cleared(void)
{
	const char *dir = check_scratch_dir("stale");
	rt_journal *holder = NULL;
	pid_t dead = 0;

	CHECK_INT(rt_journal_open(&holder, dir, 0), 0);
	CHECK_INT(in_child(die_reading, dir, &dead), 128 + SIGKILL);
	/* The premise: the dead reader's slot is still there. */
	CHECK_INT(readers_of(dir, dead), 1);
	CHECK_INT(in_child(just_open, dir, NULL), 0);
	CHECK_INT(readers_of(dir, dead), 0);
	rt_journal_close(holder);
}

static void test_journal__state_names(void)
{
	int s;

	for (s = RT_ENTRY_STATE_FIRST; s <= RT_ENTRY_STATE_LAST; s++)
		CHECK_INT(rt_entry_state_parse(rt_entry_state_name(s)), s);
	CHECK_STR(rt_entry_state_name(RT_ENTRY_NEEDS_REVIEW), "needs-review");
	CHECK(rt_entry_state_name(0) == NULL);
	CHECK(rt_entry_state_name(RT_ENTRY_STATE_SLOTS) == NULL);
	CHECK_INT(rt_entry_state_parse("nope"), RT_EINVAL);
	CHECK_STR(rt_entry_result_name(RT_RESULT_NOOP), "no-op");
}

int main(void)
{
	if (check_scratch_init("journal") != 0)
		return 1;
	RUN(test_journal__create_with_modes);
	RUN(test_journal__reopen_keeps_id_and_data);
	RUN(test_journal__nocreate_creates_nothing);
	RUN(test_journal__create_on_submit);
	RUN(test_journal__create_on_submit_sweeps);
	RUN(test_journal__resolve_dir);
	RUN(test_journal__newer_format_refused_untouched);
	RUN(test_journal__format1_migrated);
	RUN(test_journal__garbage_data_file_refused);
	RUN(test_journal__foreign_lmdb_refused);
	RUN(test_journal__file_instead_of_dir);
	RUN(test_journal__submit_records_entries);
	RUN(test_journal__duplicate_submit_adds_nothing);
	RUN(test_journal__parse_error_writes_nothing);
	RUN(test_journal__missing_file);
	RUN(test_journal__dry_run_writes_nothing);
	RUN(test_journal__stdin_is_spooled);
	RUN(test_journal__updates_keep_indexes);
	RUN(test_journal__transition_table);
	RUN(test_journal__done_never_changes);
	RUN(test_journal__map_full_grows);
	RUN(test_journal__staged_batch_all_or_nothing);
	RUN(test_journal__pairs_sort_is_memcmp_order);
	RUN(test_journal__codec_round_trip_and_damage);
	RUN(test_journal__state_names);
	RUN(test_journal__stale_readers_cleared);
	check_scratch_remove();
	return check_summary("journal");
}
