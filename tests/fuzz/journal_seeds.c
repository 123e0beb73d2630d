/*
 * journal_seeds.c - writes the journal codec's fuzz seeds into a directory.
 *
 *   journal_seeds OUTDIR [BATCH.yaml...]
 *
 * The seeds are made, never hand-written, so that they follow the format:
 *   - records from the codec's own encoder (journal_codec.c): entries in
 *     every state, with and without each optional field, masks, many and
 *     long keys, an unknown field; batch records; counts; and the codec-1
 *     form (no checksum) of each entry and batch, which a migration reads;
 *   - every value of a real journal: the given batch files are submitted
 *     to a fresh journal in a temporary directory, a few entries are
 *     updated the way a replay updates them, and each value of each table
 *     of its LMDB file is written out (the first few of each table).
 * Each seed is named after a hash of its bytes, so reruns add nothing new
 * and stale seeds can be dropped by emptying the directory first (which
 * `make fuzz-seeds` does).
 */
#include <errno.h>
#include <lmdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <reftrack/journal.h>
#include <reftrack/sys/journal.h>

#include "journal_codec.h"

static const char *outdir;
static unsigned nwritten;

/* FNV-1a: a stable name for a seed's bytes. */
static uint64_t fnv(const void *data, size_t len)
{
	const uint8_t *p = data;
	uint64_t h = 1469598103934665603ULL;
	size_t i;

	for (i = 0; i < len; i++) {
		h ^= p[i];
		h *= 1099511628211ULL;
	}
	return h;
}

static void write_seed(const char *kind, const void *data, size_t len)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s-%016llx", outdir, kind,
	         (unsigned long long)fnv(data, len));
	f = fopen(path, "wb");
	if (!f || (len && fwrite(data, 1, len, f) != len) || fclose(f)) {
		fprintf(stderr, "journal_seeds: writing %s: %s\n", path,
		        strerror(errno));
		exit(1);
	}
	nwritten++;
}

static void seed_buf(const char *kind, struct rt__buf *b)
{
	struct rt__entry_rec e;
	struct rt__batch_rec br;

	if (b->oom) {
		fprintf(stderr, "journal_seeds: out of memory\n");
		exit(1);
	}
	/* A seed the decoder refuses would only test the refusal. */
	if ((strcmp(kind, "entry") == 0 && rt__entry_decode(&e, b->p, b->len)) ||
	    (strcmp(kind, "batch") == 0 && rt__batch_decode(&br, b->p, b->len))) {
		fprintf(stderr, "journal_seeds: an encoded %s does not decode\n",
		        kind);
		exit(1);
	}
	write_seed(kind, b->p, b->len);
	rt__buf_reset(b);
}

/* Appends the record checksum (journal_codec.h: CRC-32, big-endian) to a
 * record built by hand. */
static void seal(struct rt__buf *b)
{
	uLong crc = crc32(crc32(0L, Z_NULL, 0), b->p, (uInt)b->len);
	uint8_t t[4] = { (uint8_t)(crc >> 24), (uint8_t)(crc >> 16),
	                 (uint8_t)(crc >> 8), (uint8_t)crc };

	rt__buf_put(b, t, 4);
}

/* Writes b (a current record) as it is, and as the codec-1 record of the
 * same fields (no checksum, version byte 1) that a migration reads. */
static void seed_both(const char *kind, struct rt__buf *b)
{
	char v1[32];

	snprintf(v1, sizeof(v1), "%s-v1", kind);
	if (!b->oom && b->len > 4) {
		uint8_t first = b->p[0];

		b->p[0] = 1;
		write_seed(v1, b->p, b->len - 4);
		b->p[0] = first;
	}
	seed_buf(kind, b);
}

static struct rt__str S(const char *s)
{
	struct rt__str r = { s, s ? strlen(s) : 0 };

	return r;
}

static void encoder_seeds(void)
{
	static char longkey[300];
	rt_ref refs[4] = {
		{ "pvc-0001", RT_REF_NORMAL }, { "snap-a", RT_REF_MASK },
		{ "k", RT_REF_NORMAL }, { longkey, RT_REF_NORMAL }
	};
	struct rt__buf refb = { 0 }, b = { 0 };
	struct rt__entry_rec e;
	struct rt__batch_rec br;
	unsigned state, i;

	memset(longkey, 'x', sizeof(longkey) - 1);
	rt__refs_encode(&refb, refs, 4);
	for (state = RT_ENTRY_STATE_FIRST; state <= RT_ENTRY_STATE_LAST;
	     state++) {
		memset(&e, 0, sizeof(e));
		e.state = (uint8_t)state;
		e.op = state & 1 ? RT_OP_ADD : RT_OP_REMOVE;
		e.batch_serial = state;
		e.request_index = 1000u * state;
		e.pool = S("rbd");
		e.ns = S(state & 2 ? "tenant-a" : "");
		e.tracker = S("csi.volume.0123");
		e.nrefs = e.op == RT_OP_ADD ? 1 : 4;
		e.refs = refb.p;
		e.refs_len = e.op == RT_OP_ADD ? 10 : refb.len;
		if (e.op == RT_OP_ADD) {
			/* Its own refs: one normal key. */
			static struct rt__buf one;

			rt__buf_reset(&one);
			rt__refs_encode(&one, refs, 1);
			e.refs = one.p;
			e.refs_len = one.len;
		}
		rt__entry_encode(&b, &e);
		seed_both("entry", &b);
		/* The same with every optional field. */
		e.request_id = S("req-42");
		e.attempts = state * 3;
		e.error = S("rbd/tenant-a/csi.volume.0123: permission denied");
		e.outcome.result = RT_RESULT_CHANGED;
		e.outcome.added = 1;
		e.outcome.removed = 2;
		e.outcome.masked = 3;
		e.has_guard = 1;
		e.guard_version = 123456789012ULL;
		e.updated_ns = 1700000000000000000ULL;
		e.done_ns = 1700000000500000000ULL;
		rt__entry_encode(&b, &e);
		seed_both("entry", &b);
	}
	/* An entry with a field of a later version (tag 99). */
	memset(&e, 0, sizeof(e));
	e.state = RT_ENTRY_STATE_FIRST;
	e.op = RT_OP_REMOVE;
	e.pool = S("p");
	e.ns = S("");
	e.tracker = S("t");
	e.nrefs = 4;
	e.refs = refb.p;
	e.refs_len = refb.len;
	rt__entry_encode(&b, &e);
	b.len -= 4; /* reopened: the field goes before the checksum */
	rt__buf_varint(&b, 99);
	rt__buf_str(&b, "later", 5);
	seal(&b);
	seed_buf("entry", &b);

	for (i = 0; i < 3; i++) {
		memset(&br, 0, sizeof(br));
		memset(br.id, 0x11 * (i + 1), sizeof(br.id));
		br.submitted_ns = 1700000000000000000ULL + i;
		br.first_seq = 1 + 1000u * i;
		br.nentries = i ? 1000 : 1;
		br.file_name = S(i == 2 ? "-" : "batch-2024.yaml");
		br.counts[RT_ENTRY_STATE_FIRST] = br.nentries;
		if (i == 1)
			br.counts[RT_ENTRY_STATE_LAST] = 7;
		rt__batch_encode(&b, &br);
		seed_both("batch", &b);
		rt__counts_encode(&b, br.counts);
		seed_buf("counts", &b);
	}
	rt__buf_free(&refb);
	rt__buf_free(&b);
}

/* Every value of every table of the LMDB file in dir. */
static int dump_lmdb(const char *dir)
{
	MDB_env *env = NULL;
	MDB_txn *txn = NULL;
	MDB_dbi main_dbi;
	MDB_cursor *names = NULL;
	MDB_val k, v;
	int rc;

	if ((rc = mdb_env_create(&env)) || (rc = mdb_env_set_maxdbs(env, 64)) ||
	    (rc = mdb_env_open(env, dir, MDB_RDONLY, 0600)) ||
	    (rc = mdb_txn_begin(env, NULL, MDB_RDONLY, &txn)) ||
	    (rc = mdb_dbi_open(txn, NULL, 0, &main_dbi)) ||
	    (rc = mdb_cursor_open(txn, main_dbi, &names)))
		goto done;
	while (mdb_cursor_get(names, &k, &v, MDB_NEXT) == 0) {
		char name[256];
		MDB_dbi dbi;
		MDB_cursor *c;
		MDB_val ik, iv;
		unsigned taken = 0;

		if (k.mv_size == 0 || k.mv_size >= sizeof(name))
			continue;
		memcpy(name, k.mv_data, k.mv_size);
		name[k.mv_size] = '\0';
		if (mdb_dbi_open(txn, name, 0, &dbi) != 0)
			continue; /* a plain key of the main table */
		if (mdb_cursor_open(txn, dbi, &c) != 0)
			continue;
		/* A few values of each table show every shape; big
		 * batches would only add copies. */
		while (taken++ < 24 &&
		       mdb_cursor_get(c, &ik, &iv, MDB_NEXT) == 0)
			write_seed("journal", iv.mv_data, iv.mv_size);
		mdb_cursor_close(c);
	}
done:
	if (names)
		mdb_cursor_close(names);
	if (txn)
		mdb_txn_abort(txn);
	if (env)
		mdb_env_close(env);
	if (rc)
		fprintf(stderr, "journal_seeds: reading %s: %s\n", dir,
		        mdb_strerror(rc));
	return rc;
}

/* Submits the batches to a fresh journal, updates a few entries as a
 * replay would, and dumps it. */
static int journal_seeds(int nbatches, char **batches)
{
	char dir[] = "/tmp/rt-journal-seeds-XXXXXX";
	char cmd[sizeof(dir) + 16];
	rt_journal *j = NULL;
	rt_journal_txn *txn = NULL;
	uint64_t seq = 0;
	int i, rc;

	if (!mkdtemp(dir)) {
		perror("journal_seeds: mkdtemp");
		return 1;
	}
	rc = rt_journal_open(&j, dir, 0);
	for (i = 0; rc == 0 && i < nbatches; i++) {
		rt_submit_result res;

		rc = rt_journal_submit(&res, j, batches[i], batches[i], 0);
		if (rc)
			fprintf(stderr, "journal_seeds: %s: %s\n", batches[i],
			        rt_journal_errmsg(j));
		else if (seq == 0)
			seq = res.first_seq;
	}
	if (rc == 0 && seq && (rc = rt_journal_txn_begin(&txn, j, 0)) == 0) {
		rt_entry_change ch;

		memset(&ch, 0, sizeof(ch));
		ch.set = RT_CHANGE_STATE | RT_CHANGE_ATTEMPTS |
		         RT_CHANGE_OUTCOME | RT_CHANGE_GUARD;
		ch.state = RT_ENTRY_DONE;
		ch.attempts = 1;
		ch.outcome.result = RT_RESULT_CREATED;
		ch.outcome.added = 2;
		ch.has_guard = 1;
		ch.guard_version = 17;
		rc = rt_journal_entry_update(txn, seq, &ch);
		memset(&ch, 0, sizeof(ch));
		ch.set = RT_CHANGE_STATE | RT_CHANGE_ATTEMPTS | RT_CHANGE_ERROR;
		ch.state = RT_ENTRY_STATE_LAST;
		ch.attempts = 5;
		ch.error = "pool rbd namespace x: operation not permitted";
		if (rc == 0)
			(void)rt_journal_entry_update(txn, seq + 1, &ch);
		rc = rc ? rc : rt_journal_txn_commit(txn);
		if (rc)
			rt_journal_txn_abort(txn);
	}
	if (rc)
		fprintf(stderr, "journal_seeds: journal: %s\n",
		        j ? rt_journal_errmsg(j) : "out of memory");
	rt_journal_close(j);
	if (rc == 0)
		rc = dump_lmdb(dir);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "journal_seeds: could not remove %s\n", dir);
	return rc ? 1 : 0;
}

int main(int argc, char **argv)
{
	int rc;

	if (argc < 2) {
		fprintf(stderr, "usage: journal_seeds OUTDIR [BATCH.yaml...]\n");
		return 2;
	}
	outdir = argv[1];
	if (mkdir(outdir, 0755) != 0 && errno != EEXIST) {
		fprintf(stderr, "journal_seeds: %s: %s\n", outdir,
		        strerror(errno));
		return 1;
	}
	encoder_seeds();
	rc = argc > 2 ? journal_seeds(argc - 2, argv + 2) : 0;
	printf("journal_seeds: %u seeds in %s\n", nwritten, outdir);
	return rc;
}
