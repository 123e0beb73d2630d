/*
 * journal_submit.c - putting a batch file into the journal, all or nothing.
 *
 * The file is read twice: once to hash it (the batch id decides whether it
 * is already there), once by the streaming parser, whose callback puts each
 * entry straight into the journal.
 *
 * Memory does not grow with the batch: LMDB holds a write transaction's
 * dirty pages in memory until it commits, so the entries go in as a staged
 * batch, in transactions of about STAGE_BYTES each.  Staged rows have seqs
 * at or past meta next_seq, which no reader looks at (journal_entry.c), and
 * meta "staging" says they are there.  Only when the whole file has parsed
 * does one small transaction make the batch visible: its batch record,
 * next_seq past its entries, the counts.  A parse error, a changed file or
 * any failure discards the staged rows; a kill -9 leaves them behind, and
 * the next submit or open of the journal discards them
 * (rt__journal_discard_staged()).  So a batch is in the journal whole or
 * not at all, as before.  One submit stages at a time: its flock on
 * data.mdb, which the kernel drops when its holder dies, is what tells a
 * live submit's staged rows from a dead one's.
 *
 * Both reads go through the same open file.  A regular file is checked for
 * changes (size, mtime) after the parse and the submit refused if it
 * changed, so the id always names the bytes that were journalled.  Anything
 * else (stdin, a pipe) is first copied into an unlinked temporary file,
 * which disappears by itself whatever happens to the process.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <pthread.h>

#include "journal_int.h"

#define IO_CHUNK (1 << 20)
/* Staged entries a discarding transaction deletes at most. */
#define DISCARD_PER_TXN 32768

#ifdef RT_TEST_HOOKS
uint64_t rt__test_submit_stage_bytes;
size_t rt__test_submit_run_pairs;
#endif

struct input {
	const char *display; /* name for messages */
	int fd;              /* what the parser and the hash read */
	int own_fd;
	int regular;         /* fd is the caller's regular file */
	struct stat st;
	char parse_path[64]; /* /proc/self/fd/N: the same file, reopened */
	uint8_t id[32];
	uint64_t nlines;     /* newlines read, + 1 if the last line has none */
	int last_nl;
};

/* A rejection of the file itself: goes into out->error and, when there is
 * a journal, into its message. */
static int file_err(rt_submit_result *out, rt_journal *j,
                    const struct input *in, int code, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));

static int file_err(rt_submit_result *out, rt_journal *j,
                    const struct input *in, int code, const char *fmt, ...)
{
	va_list ap;

	out->error.line = out->error.column = 0;
	va_start(ap, fmt);
	vsnprintf(out->error.message, sizeof(out->error.message), fmt, ap);
	va_end(ap);
	if (j)
		snprintf(j->errmsg, sizeof(j->errmsg), "%s: %s", in->display,
		         out->error.message);
	return code;
}

static int errno_code(int e)
{
	switch (e) {
	case ENOENT:
	case ENOTDIR:
		return RT_ENOTFOUND;
	case EACCES:
	case EPERM:
		return RT_EPERM;
	case ENOMEM:
		return RT_ENOMEM;
	default:
		return RT_EIO;
	}
}

/* Creates an unlinked temporary file in `dir`. */
static int spool_file(const char *dir)
{
	char *tmpl;
	int fd;

	fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (fd >= 0 || (errno != EOPNOTSUPP && errno != EISDIR &&
	                errno != EINVAL))
		return fd;
	/* File systems without O_TMPFILE: unlink at once, the fd is all we
	 * need. */
	if (asprintf(&tmpl, "%s/.spool-XXXXXX", dir) < 0)
		return -1;
	fd = mkostemp(tmpl, O_CLOEXEC);
	if (fd >= 0)
		unlink(tmpl);
	free(tmpl);
	return fd;
}

/* Opens the input, spooling it if needed, and hashes it. */
static int input_open(struct input *in, rt_submit_result *out, rt_journal *j,
                      const char *path)
{
	EVP_MD_CTX *ctx = NULL;
	unsigned char *chunk = NULL;
	unsigned mdlen = 0;
	int src = -1, rc = 0;
	uint64_t total = 0;
	const char *tmpdir;

	in->fd = -1;
	in->display = strcmp(path, "-") == 0 ? "<stdin>" : path;
	if (strcmp(path, "-") == 0) {
		src = STDIN_FILENO;
	} else {
		src = open(path, O_RDONLY | O_CLOEXEC);
		if (src < 0)
			return file_err(out, j, in, errno_code(errno), "%s",
			                strerror(errno));
	}
	if (fstat(src, &in->st) < 0) {
		rc = file_err(out, j, in, RT_EIO, "%s", strerror(errno));
		goto done;
	}
	if (S_ISDIR(in->st.st_mode)) {
		rc = file_err(out, j, in, RT_EINVAL, "is a directory");
		goto done;
	}
	if (S_ISREG(in->st.st_mode) && src != STDIN_FILENO) {
		in->regular = 1;
		in->fd = src;
		in->own_fd = 1;
		src = -1;
		if ((uint64_t)in->st.st_size > RT_BATCH_MAX_BYTES) {
			rc = file_err(out, j, in, RT_EINVAL,
			              "file is %llu bytes, over the limit of %llu",
			              (unsigned long long)in->st.st_size,
			              (unsigned long long)RT_BATCH_MAX_BYTES);
			goto done;
		}
	} else {
		tmpdir = j ? j->dir : getenv("TMPDIR");
		in->fd = spool_file(tmpdir && *tmpdir ? tmpdir : "/tmp");
		if (in->fd < 0) {
			rc = errno_code(errno);
			if (j)
				rt__jerr(j, rc, "cannot create a spool file: %s",
				         strerror(errno));
			snprintf(out->error.message, sizeof(out->error.message),
			         "cannot create a spool file: %s", strerror(errno));
			goto done;
		}
		in->own_fd = 1;
	}

	chunk = malloc(IO_CHUNK);
	ctx = EVP_MD_CTX_new();
	if (!chunk || !ctx || !EVP_DigestInit_ex(ctx, EVP_sha256(), NULL)) {
		rc = file_err(out, j, in, RT_ENOMEM, "out of memory");
		goto done;
	}
	for (;;) {
		ssize_t n = read(in->regular ? in->fd : src, chunk, IO_CHUNK);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = file_err(out, j, in, RT_EIO, "%s", strerror(errno));
			goto done;
		}
		if (n == 0)
			break;
		total += (uint64_t)n;
		/* Stop copying what the parser would refuse anyway, so stdin
		 * cannot fill the disk. */
		if (total > RT_BATCH_MAX_BYTES) {
			rc = file_err(out, j, in, RT_EINVAL,
			              "input is over the limit of %llu bytes",
			              (unsigned long long)RT_BATCH_MAX_BYTES);
			goto done;
		}
		if (!in->regular) {
			ssize_t off = 0;

			while (off < n) {
				ssize_t w = write(in->fd, chunk + off,
				                  (size_t)(n - off));

				if (w < 0 && errno == EINTR)
					continue;
				if (w < 0) {
					rc = errno_code(errno);
					rc = file_err(out, j, in, rc,
					              "spooling: %s",
					              strerror(errno));
					goto done;
				}
				off += w;
			}
		}
		if (!EVP_DigestUpdate(ctx, chunk, (size_t)n)) {
			rc = file_err(out, j, in, RT_ENOMEM, "SHA-256 failed");
			goto done;
		}
		{
			const unsigned char *p = chunk, *end = chunk + n;

			while ((p = memchr(p, '\n', (size_t)(end - p)))) {
				in->nlines++;
				p++;
			}
			in->last_nl = chunk[n - 1] == '\n';
		}
	}
	if (total > 0 && !in->last_nl)
		in->nlines++;
	if (!EVP_DigestFinal_ex(ctx, in->id, &mdlen) || mdlen != 32) {
		rc = file_err(out, j, in, RT_ENOMEM, "SHA-256 failed");
		goto done;
	}
	if (!in->regular)
		in->st.st_size = (off_t)total;
	snprintf(in->parse_path, sizeof(in->parse_path), "/proc/self/fd/%d",
	         in->fd);
	if (access(in->parse_path, R_OK) < 0) {
		rc = file_err(out, j, in, RT_EIO,
		              "cannot reopen the input through /proc: %s",
		              strerror(errno));
		goto done;
	}
done:
	EVP_MD_CTX_free(ctx);
	free(chunk);
	if (src >= 0 && src != STDIN_FILENO)
		close(src);
	return rc;
}

static void input_close(struct input *in)
{
	if (in->own_fd && in->fd >= 0)
		close(in->fd);
	in->fd = -1;
}

/* Refuses a regular file that changed since it was hashed. */
static int input_unchanged(struct input *in, rt_submit_result *out,
                           rt_journal *j)
{
	struct stat now;

	if (!in->regular)
		return 0;
	if (fstat(in->fd, &now) < 0)
		return file_err(out, j, in, RT_EIO, "%s", strerror(errno));
	if (now.st_size != in->st.st_size ||
	    now.st_mtim.tv_sec != in->st.st_mtim.tv_sec ||
	    now.st_mtim.tv_nsec != in->st.st_mtim.tv_nsec)
		return file_err(out, j, in, RT_EINVAL,
		                "file changed while it was being submitted; "
		                "nothing was written");
	return 0;
}

/* Parse errors are positional: "FILE:LINE:COLUMN: message". */
static int parse_err(rt_submit_result *out, rt_journal *j,
                     const struct input *in, const rt_batch_error *err)
{
	out->error = *err;
	if (!j)
		return RT_EINVAL;
	if (err->line)
		snprintf(j->errmsg, sizeof(j->errmsg), "%s:%u:%u: %s",
		         in->display, err->line, err->column, err->message);
	else
		snprintf(j->errmsg, sizeof(j->errmsg), "%s: %s", in->display,
		         err->message);
	return RT_EINVAL;
}

/* ---- the write ------------------------------------------------------------- */

/*
 * Parsing (libyaml) and writing (LMDB) each take about half of a submit,
 * and a write transaction belongs to the thread that began it.  So a
 * worker thread parses and copies each request's fields into blocks, and
 * the thread owning the transaction encodes each entry (its checksum
 * included), hashes its tracker key and puts it into LMDB, in order.
 * libyaml alone keeps the parser busy for most of a submit, so everything
 * that can be done after the parse is the writer's: the two threads then
 * carry about the same load.  Blocks circulate between them, enough to
 * cover the pause of a staging commit (its fdatasync) without stalling
 * the parser, and memory stays a few MiB whatever the batch size.
 * Without threads (pthread_create failing) the same code runs inline:
 * each full block is written at once.
 *
 * A record in a block: struct handed, then the pool, namespace, tracker
 * and request id bytes, then the refs already encoded (rt__refs_encode),
 * up to the record's end.  Seqs and request indexes are given by the
 * writer, in record order, which is request order.
 */
#define BLOCK_BYTES (256 * 1024)
#define NBLOCKS 16
/* Bytes of full blocks the parser may queue.  A block grows past
 * BLOCK_BYTES to hold one large request (up to tens of MiB at the batch
 * limits), so the bound is on bytes, not blocks; a grown block is freed
 * once written. */
#define QUEUED_BYTES (NBLOCKS * BLOCK_BYTES)
/* Entry bytes per staging transaction.  What LMDB holds for one is its
 * dirty pages: the entries, their index rows and the branch pages above
 * them, a few times this in all.  Larger saves little: a commit costs
 * a few milliseconds. */
#define STAGE_BYTES (16 << 20)
#define STOPPED 1 /* the callback's "stop": the writer has failed */
/* by_tracker rows of one tracker put by one call. */
#define SEQS_MAX 4096

/* One request as the parser hands it over; the lengths are in bytes. */
struct handed {
	uint32_t len;          /* of the record, this header included */
	uint8_t op;
	uint8_t has_id;
	uint16_t pad;
	uint32_t pool_len, ns_len, tracker_len, id_len;
	uint32_t nrefs;
};

struct block {
	struct rt__buf buf;
	unsigned last_line;    /* where its last request starts in the file */
	struct block *next;
};

struct submit_ctx {
	rt_journal_txn *t;
	uint64_t serial;
	uint64_t first_seq;
	uint64_t n;            /* entries written */
	uint64_t pending_done; /* of which have their by_state rows */
	uint64_t txn_bytes;    /* entry bytes in the open transaction */
	int cb_rc;             /* the writer's error (a journal error) */
	uint8_t *pairs;        /* tracker key + seq BE, waiting for by_tracker */
	uint8_t *scratch;      /* as large, for sorting them */
	size_t npairs;
	struct rt__runs *runs; /* sorted runs of them, once they overflow */
	MDB_cursor *tcur;      /* by_tracker, while the rows go in */
	uint8_t last_key[RT__TRACKER_KEY_LEN];
	uint8_t seqs[8 * SEQS_MAX]; /* its seqs (BE) not yet put */
	size_t nseqs;
	uint64_t txn_keys;     /* trackers the open transaction put rows of */
	uint64_t txn_rows;     /* by_tracker rows it put */
	rt_journal *j;         /* for its progress callback */
	uint64_t nlines;       /* the file's */
	const void *md;        /* SHA-256, for tracker keys */
	EVP_MD_CTX *mdctx;
	struct rt__buf ent;    /* the entry being encoded */

	/* parser side */
	const char *parse_path;
	struct block *cur;
	int prc;
	rt_batch_error perr;

	/* shared, under mu */
	int threaded;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct block *full_head, *full_tail, *free_list;
	size_t queued;         /* bytes of the blocks in full_head's list */
	int stop, done;
	struct block blocks[NBLOCKS];
};

static int count_cb(void *arg, size_t index, const rt_request *req)
{
	(void)index;
	(void)req;
	(*(uint64_t *)arg)++;
	return 0;
}

/* Pairs held in memory before they are sorted and written as a run. */
#define PAIRS_MAX 262144
/* Limits of one transaction of by_tracker rows: a tracker that had rows
 * before dirties (at least) its last page, new rows fill pages. */
#define INDEX_KEYS_PER_TXN 4096
#define INDEX_ROWS_PER_TXN (1 << 20)

static int stage_commit(struct submit_ctx *c);

/* Writer: puts the seqs gathered for c->last_key into by_tracker in one
 * call (MDB_MULTIPLE: its values have a fixed size).  They are larger than
 * any that key has, hence MDB_APPENDDUP. */
static int flush_seqs(struct submit_ctx *c)
{
	rt_journal_txn *t = c->t;
	MDB_val k, d[2];
	int rc;

	if (!c->nseqs)
		return 0;
	if (!c->tcur && (rc = mdb_cursor_open(t->txn, t->j->by_tracker,
	                                      &c->tcur)))
		return rt__jerr_mdb(t->j, t, rc, "opening a cursor");
	k = mkval(c->last_key, RT__TRACKER_KEY_LEN);
	d[0] = mkval(c->seqs, 8);
	d[1] = mkval(NULL, c->nseqs);
	rc = mdb_cursor_put(c->tcur, &k, d, MDB_MULTIPLE | MDB_APPENDDUP);
	/* d[1].mv_size now says how many went in. */
	if (rc == MDB_KEYEXIST && d[1].mv_size < c->nseqs)
		return rt__jerr(t->j, RT_EJOURNAL,
		                "tracker index is inconsistent at entry %llu",
		                (unsigned long long)rt__be64_get(
		                        c->seqs + 8 * d[1].mv_size));
	if (rc)
		return rt__jerr_mdb(t->j, t, rc, "writing the tracker index");
	if (d[1].mv_size != c->nseqs)
		return rt__jerr(t->j, RT_EJOURNAL, "tracker index refused rows");
	c->txn_rows += c->nseqs;
	c->nseqs = 0;
	return 0;
}

/* Writer: takes one (tracker key, seq) pair for by_tracker.  Pairs come
 * in key order, so a key's seqs are gathered and put together, and
 * consecutive keys land on the same or neighbouring pages. */
static int put_pair(void *arg, const uint8_t *p)
{
	struct submit_ctx *c = arg;
	int rc, new_key = memcmp(p, c->last_key, RT__TRACKER_KEY_LEN) != 0;

	if (new_key || c->nseqs == SEQS_MAX) {
		if ((rc = flush_seqs(c)))
			return c->cb_rc = rc;
	}
	if (new_key) {
		if ((c->txn_keys >= INDEX_KEYS_PER_TXN ||
		     c->txn_rows >= INDEX_ROWS_PER_TXN)) {
			mdb_cursor_close(c->tcur);
			c->tcur = NULL;
			if ((rc = stage_commit(c)))
				return c->cb_rc = rc;
			c->txn_keys = c->txn_rows = 0;
		}
		memcpy(c->last_key, p, RT__TRACKER_KEY_LEN);
		c->txn_keys++;
	}
	memcpy(c->seqs + 8 * c->nseqs++, p + RT__TRACKER_KEY_LEN, 8);
	return 0;
}

/* Writer: sorts the waiting pairs into a run on disk. */
static int spill_pairs(struct submit_ctx *c)
{
	rt_journal *j = c->t->j;
	int fd, rc;

	if (!c->runs) {
		fd = spool_file(j->dir);
		if (fd < 0)
			return rt__jerr(j, errno_code(errno),
			                "cannot create a file for the tracker "
			                "index: %s",
			                strerror(errno));
		if ((rc = rt__runs_open(&c->runs, fd)))
			return rt__jerr(j, rc, "out of memory");
	}
	rc = rt__runs_add(c->runs, c->pairs, c->scratch, c->npairs);
	if (rc == RT_EIO)
		return rt__jerr(j, errno_code(errno),
		                "writing the tracker index file: %s",
		                strerror(errno));
	if (rc)
		return rt__jerr(j, rc, "out of memory");
	c->npairs = 0;
	return 0;
}

/* Writer, once every entry is in: puts all the pairs into by_tracker, in
 * transactions of bounded size. */
static int index_trackers(struct submit_ctx *c)
{
	size_t i;
	int rc = 0;

	memset(c->last_key, 0, sizeof(c->last_key));
	c->txn_keys = c->txn_rows = 0;
	if (c->runs) {
		if (c->npairs && (rc = spill_pairs(c)))
			return rc;
		rc = rt__runs_merge(c->runs, put_pair, c);
		/* put_pair's own errors come back as they are (and with
		 * their message); the others are the run file's. */
		if (c->cb_rc)
			rc = c->cb_rc;
		else if (rc == RT_EIO)
			rc = rt__jerr(c->j, errno_code(errno),
			              "reading the tracker index file: %s",
			              strerror(errno));
		else if (rc == RT_ENOMEM)
			rc = rt__jerr(c->j, rc, "out of memory");
	} else {
		rt__pairs_sort(c->pairs, c->scratch, c->npairs);
		for (i = 0; rc == 0 && i < c->npairs; i++)
			rc = put_pair(c, c->pairs + i * RT__PAIR_LEN);
		c->npairs = 0;
	}
	if (rc == 0)
		rc = flush_seqs(c);
	mdb_cursor_close(c->tcur);
	c->tcur = NULL;
	return rc;
}

/* Writer: encodes one handed-over request as entry `index` of the batch
 * into c->ent and hashes its tracker key into tk. */
static int encode_handed(struct submit_ctx *c, const uint8_t *p,
                         uint64_t index, uint8_t tk[RT__TRACKER_KEY_LEN])
{
	struct handed h;
	struct rt__entry_rec e;
	const char *s;

	memcpy(&h, p, sizeof(h));
	s = (const char *)p + sizeof(h);
	memset(&e, 0, sizeof(e));
	e.state = RT_ENTRY_PENDING;
	e.op = h.op;
	e.batch_serial = c->serial;
	e.request_index = index;
	e.pool.s = s;
	e.pool.len = h.pool_len;
	s += h.pool_len;
	e.ns.s = s;
	e.ns.len = h.ns_len;
	s += h.ns_len;
	e.tracker.s = s;
	e.tracker.len = h.tracker_len;
	s += h.tracker_len;
	if (h.has_id) {
		e.request_id.s = s;
		e.request_id.len = h.id_len;
	}
	s += h.id_len;
	e.nrefs = h.nrefs;
	e.refs = (const uint8_t *)s;
	e.refs_len = h.len - (size_t)((const uint8_t *)s - p);
	rt__buf_reset(&c->ent);
	rt__entry_encode(&c->ent, &e);
	if (c->ent.oom || c->ent.len > UINT32_MAX)
		return rt__jerr(c->j, RT_ENOMEM, "out of memory");
	if (rt__tracker_hash(c->mdctx, c->md, tk, e.pool.s, e.pool.len, e.ns.s,
	                     e.ns.len, e.tracker.s, e.tracker.len))
		return rt__jerr(c->j, RT_ENOMEM, "SHA-256 failed");
	return 0;
}

/* Writer: puts every request of a block into the transaction. */
static int write_block(struct submit_ctx *c, const struct block *b)
{
	rt_journal_txn *t = c->t;
	rt_journal *j = t->j;
	const uint8_t *p = b->buf.p, *end = b->buf.p + b->buf.len;
	uint8_t kb[8], tk[RT__TRACKER_KEY_LEN];
	MDB_val k, d;
	uint32_t len;
	int rc;

	while (p < end) {
		uint64_t seq = c->first_seq + c->n;

		memcpy(&len, p, 4);
		/* Every request makes one entry: the count so far is the
		 * request's index in the file. */
		if ((rc = encode_handed(c, p, c->n, tk)))
			return rc;
		rt__be64_put(kb, seq);
		/* Seqs only grow, so every entry goes at the end of the
		 * table: MDB_APPEND fills pages completely and skips the
		 * search. */
		k = mkval(kb, 8);
		d = mkval(c->ent.p, c->ent.len);
		rc = mdb_put(t->txn, j->entries, &k, &d, MDB_APPEND);
		if (rc == MDB_KEYEXIST)
			return rt__jerr(j, RT_EJOURNAL,
			                "entry %llu already exists: next_seq is "
			                "behind the entries table",
			                (unsigned long long)seq);
		if (rc)
			return rt__jerr_mdb(j, t, rc, "writing an entry");
		/* (npairs + 1 > hook: npairs >= hook, in a form the compiler
		 * takes without a warning when the hook is the constant 0.) */
		if ((c->npairs == PAIRS_MAX ||
		     (rt__test_submit_run_pairs &&
		      c->npairs + 1 > rt__test_submit_run_pairs)) &&
		    (rc = spill_pairs(c)))
			return rc;
		memcpy(c->pairs + c->npairs * RT__PAIR_LEN, tk, sizeof(tk));
		memcpy(c->pairs + c->npairs * RT__PAIR_LEN + RT__TRACKER_KEY_LEN,
		       kb, 8);
		c->npairs++;
		c->n++;
		c->txn_bytes += c->ent.len;
		p += len;
	}
	return 0;
}

/* Adds the entries written since the last call to the pending rows of
 * by_state, many per call (MDB_MULTIPLE), at the end of the set (they are
 * the largest). */
static int put_pending(struct submit_ctx *c)
{
	rt_journal_txn *t = c->t;
	MDB_cursor *cur = NULL;
	uint8_t state = RT_ENTRY_PENDING, *chunk = NULL;
	uint64_t done = c->pending_done;
	size_t per = 4096, i, m;
	MDB_val k, d[2];
	int rc = 0;

	if (c->n == done)
		return 0;
	chunk = malloc(per * 8);
	if (!chunk)
		return rt__jerr(t->j, RT_ENOMEM, "out of memory");
	rc = mdb_cursor_open(t->txn, t->j->by_state, &cur);
	if (rc) {
		rc = rt__jerr_mdb(t->j, t, rc, "opening a cursor");
		goto done;
	}
	while (done < c->n) {
		m = c->n - done < per ? (size_t)(c->n - done) : per;
		for (i = 0; i < m; i++)
			rt__be64_put(chunk + 8 * i, c->first_seq + done + i);
		k = mkval(&state, 1);
		d[0] = mkval(chunk, 8);
		d[1] = mkval(NULL, m);
		rc = mdb_cursor_put(cur, &k, d, MDB_MULTIPLE);
		if (rc) {
			rc = rt__jerr_mdb(t->j, t, rc, "writing the state index");
			goto done;
		}
		/* d[1].mv_size now says how many were stored. */
		if (d[1].mv_size == 0) {
			rc = rt__jerr(t->j, RT_EJOURNAL, "state index refused rows");
			goto done;
		}
		done += d[1].mv_size;
	}
	c->pending_done = done;
done:
	mdb_cursor_close(cur);
	free(chunk);
	return rc;
}

/* Writer: commits the open transaction's rows as staged ones (invisible
 * until write_batch() makes the batch visible) and begins the next. */
static int stage_commit(struct submit_ctx *c)
{
	int rc;

	if ((rc = put_pending(c)) ||
	    (rc = rt__staging_mark(c->t, c->first_seq)))
		return rc;
	rc = rt_journal_txn_commit(c->t);
	c->t = NULL;
	if (rc)
		return rc;
	c->txn_bytes = 0;
	return rt_journal_txn_begin(&c->t, c->j, 0);
}

/* Writes one block (on the caller's thread) and tells the progress
 * callback how far into the file it got. */
static int write_block_told(struct submit_ctx *c, const struct block *b)
{
	int rc = write_block(c, b);

	if (rc == 0 && c->txn_bytes >= (rt__test_submit_stage_bytes
	                                     ? rt__test_submit_stage_bytes
	                                     : STAGE_BYTES))
		rc = stage_commit(c);
	if (rc == 0 && c->j->submit_progress)
		c->j->submit_progress(c->j->submit_progress_arg, b->last_line,
		                      c->nlines);
	return rc;
}

/* A block grown past twice its size for one large request gives its
 * memory back once written. */
static void block_written(struct block *b)
{
	if (b->buf.cap > 2 * BLOCK_BYTES)
		rt__buf_free(&b->buf);
}

/* Parser: hands the current block to the writer and gets an empty one.
 * Returns STOPPED once the writer has failed. */
static int hand_over(struct submit_ctx *c)
{
	struct block *b = c->cur;
	int stop;

	if (!c->threaded) {
		if (!c->cb_rc)
			c->cb_rc = write_block_told(c, b);
		block_written(b);
		rt__buf_reset(&b->buf);
		return c->cb_rc ? STOPPED : 0;
	}
	pthread_mutex_lock(&c->mu);
	b->next = NULL;
	if (c->full_tail)
		c->full_tail->next = b;
	else
		c->full_head = b;
	c->full_tail = b;
	c->queued += b->buf.len;
	c->cur = NULL;
	pthread_cond_broadcast(&c->cv);
	while ((!c->free_list || c->queued >= QUEUED_BYTES) && !c->stop)
		pthread_cond_wait(&c->cv, &c->mu);
	if (c->free_list) {
		c->cur = c->free_list;
		c->free_list = c->cur->next;
		rt__buf_reset(&c->cur->buf);
	}
	stop = c->stop;
	pthread_mutex_unlock(&c->mu);
	return stop ? STOPPED : 0;
}

/* Parser: copies the request into the current block (see struct handed);
 * the writer does the rest. */
static int put_cb(void *arg, size_t index, const rt_request *req)
{
	struct submit_ctx *c = arg;
	struct rt__buf *out;
	struct handed h;
	const char *ns = req->ns ? req->ns : "";
	size_t start;

	(void)index;
	if (!c->cur)
		return STOPPED;
	memset(&h, 0, sizeof(h));
	h.op = (uint8_t)req->op;
	h.has_id = req->request_id != NULL;
	/* Lengths the batch limits keep far below 2^32. */
	h.pool_len = (uint32_t)strlen(req->pool);
	h.ns_len = (uint32_t)strlen(ns);
	h.tracker_len = (uint32_t)strlen(req->tracker);
	h.id_len = req->request_id ? (uint32_t)strlen(req->request_id) : 0;
	h.nrefs = (uint32_t)req->nrefs;
	out = &c->cur->buf;
	start = out->len;
	rt__buf_put(out, &h, sizeof(h));
	rt__buf_put(out, req->pool, h.pool_len);
	rt__buf_put(out, ns, h.ns_len);
	rt__buf_put(out, req->tracker, h.tracker_len);
	rt__buf_put(out, req->request_id, h.id_len);
	rt__refs_encode(out, req->refs, req->nrefs);
	if (out->oom || out->len - start > UINT32_MAX)
		return RT_ENOMEM;
	h.len = (uint32_t)(out->len - start);
	memcpy(out->p + start, &h.len, sizeof(h.len));
	c->cur->last_line = req->line;
	if (out->len >= BLOCK_BYTES)
		return hand_over(c);
	return 0;
}

static void *parser_main(void *arg)
{
	struct submit_ctx *c = arg;

	c->prc = rt_batch_parse_file(c->parse_path, put_cb, c, &c->perr);
	/* The last, partly filled block goes too (unless the writer gave
	 * up), then the writer learns that nothing more is coming. */
	if (c->prc == 0 && c->cur && c->cur->buf.len)
		(void)hand_over(c);
	if (c->threaded) {
		pthread_mutex_lock(&c->mu);
		c->done = 1;
		pthread_cond_broadcast(&c->cv);
		pthread_mutex_unlock(&c->mu);
	}
	return NULL;
}

/* Writer loop: writes blocks as they come until the parser is done.  After
 * an error it keeps taking blocks (without writing them) so that the
 * parser, told to stop, never waits for ever. */
static void writer_main(struct submit_ctx *c)
{
	struct block *b;

	pthread_mutex_lock(&c->mu);
	for (;;) {
		while (!c->full_head && !c->done)
			pthread_cond_wait(&c->cv, &c->mu);
		b = c->full_head;
		if (!b)
			break;
		c->full_head = b->next;
		if (!c->full_head)
			c->full_tail = NULL;
		c->queued -= b->buf.len;
		pthread_mutex_unlock(&c->mu);
		if (!c->cb_rc)
			c->cb_rc = write_block_told(c, b);
		block_written(b);
		pthread_mutex_lock(&c->mu);
		if (c->cb_rc)
			c->stop = 1;
		b->next = c->free_list;
		c->free_list = b;
		pthread_cond_broadcast(&c->cv);
	}
	pthread_mutex_unlock(&c->mu);
}

/* Parses the batch into the open transaction.  Returns 0, or sets
 * c->cb_rc (journal error) or c->prc (parse error) and returns non-zero. */
static int parse_into_txn(struct submit_ctx *c, rt_journal *j)
{
	pthread_t th;
	int i, rc = 0;

	c->md = rt__journal_md(j);
	c->mdctx = EVP_MD_CTX_new();
	c->pairs = malloc(PAIRS_MAX * RT__PAIR_LEN);
	c->scratch = malloc(PAIRS_MAX * RT__PAIR_LEN);
	if (!c->md || !c->mdctx || !c->pairs || !c->scratch) {
		c->cb_rc = rt__jerr(j, RT_ENOMEM, "out of memory");
		goto done;
	}
	for (i = 0; i < NBLOCKS; i++) {
		c->blocks[i].next = i + 1 < NBLOCKS ? &c->blocks[i + 1] : NULL;
	}
	c->cur = &c->blocks[0];
	c->free_list = &c->blocks[1];
	if (pthread_mutex_init(&c->mu, NULL) == 0) {
		if (pthread_cond_init(&c->cv, NULL) == 0) {
			c->threaded = 1;
			if (pthread_create(&th, NULL, parser_main, c) == 0) {
				writer_main(c);
				pthread_join(th, NULL);
			} else {
				c->threaded = 0;
			}
			pthread_cond_destroy(&c->cv);
		}
		pthread_mutex_destroy(&c->mu);
	}
	if (!c->threaded)
		parser_main(c);
	if (c->prc == RT_ENOMEM && !c->cb_rc)
		c->cb_rc = rt__jerr(j, RT_ENOMEM, "out of memory");
	if (!c->cb_rc && !c->prc)
		c->cb_rc = index_trackers(c);
done:
	rc = c->cb_rc || c->prc;
	EVP_MD_CTX_free(c->mdctx);
	free(c->pairs);
	free(c->scratch);
	rt__runs_free(c->runs);
	for (i = 0; i < NBLOCKS; i++)
		rt__buf_free(&c->blocks[i].buf);
	rt__buf_free(&c->ent);
	return rc;
}

/* Fills `out` from an existing batch, if the id is known.  1 if found. */
static int find_batch(rt_journal_txn *t, const uint8_t id[32],
                      rt_submit_result *out)
{
	MDB_val k = mkval(id, 32), d;
	uint8_t kb[8];
	struct rt__batch_rec rec;
	int rc = mdb_get(t->txn, t->j->batch_ids, &k, &d);

	if (rc == MDB_NOTFOUND)
		return 0;
	if (rc)
		return rt__jerr_mdb(t->j, t, rc, "reading the batch ids");
	if (d.mv_size != 8)
		return rt__jerr(t->j, RT_EJOURNAL, "malformed batch id row");
	memcpy(kb, d.mv_data, 8);
	k = mkval(kb, 8);
	rc = mdb_get(t->txn, t->j->batches, &k, &d);
	if (rc)
		return rt__jerr_mdb(t->j, t, rc, "reading a batch record");
	rc = rt__batch_decode(&rec, d.mv_data, d.mv_size);
	if (rc)
		return rt__jerr_decode(t->j, rc, "batch record",
		                       (unsigned long long)rt__be64_get(kb));
	out->nentries = rec.nentries;
	out->first_seq = rec.first_seq;
	out->already_present = 1;
	return 1;
}

/* One attempt at the write transaction.  RT_ETRANSIENT with j->map_grown
 * means "the map was enlarged: try again". */
static int write_batch(rt_journal *j, struct input *in, const char *name,
                       rt_submit_result *out)
{
	struct submit_ctx *c;
	struct rt__batch_rec rec;
	struct rt__buf b = { 0 };
	uint64_t counts[RT_ENTRY_STATE_SLOTS];
	uint8_t kb[8];
	MDB_val k, d;
	int rc;

	c = calloc(1, sizeof(*c));
	if (!c)
		return rt__jerr(j, RT_ENOMEM, "out of memory");
	c->parse_path = in->parse_path;
	c->j = j;
	c->nlines = in->nlines;
	rc = rt_journal_txn_begin(&c->t, j, 0);
	if (rc)
		goto done;
	/* Checked under the write lock, so two concurrent submits of the same
	 * bytes cannot both get in. */
	rc = find_batch(c->t, in->id, out);
	if (rc) {
		rc = rc == 1 ? 0 : rc;
		goto done;
	}
	if ((rc = rt__meta_get_u64(c->t, "next_seq", &c->first_seq)) ||
	    (rc = rt__meta_get_u64(c->t, "next_batch", &c->serial)))
		goto done;

	if (parse_into_txn(c, j)) {
		if (c->cb_rc)
			rc = c->cb_rc;
		else if (c->prc == RT_EINVAL)
			rc = parse_err(out, j, in, &c->perr);
		else
			rc = file_err(out, j, in, c->prc, "%s",
			              c->perr.message[0] ? c->perr.message
			                                 : rt_strerror(c->prc));
		goto done;
	}
	rc = put_pending(c);
	if (rc)
		goto done;

	/* The batch becomes visible: a few small records. */
	memset(&rec, 0, sizeof(rec));
	memcpy(rec.id, in->id, 32);
	rec.submitted_ns = (uint64_t)rt__now_ns();
	rec.first_seq = c->first_seq;
	rec.nentries = c->n;
	rec.file_name.s = name;
	rec.file_name.len = strlen(name);
	rec.counts[RT_ENTRY_PENDING] = c->n;
	rt__batch_encode(&b, &rec);
	if (b.oom) {
		rc = rt__jerr(j, RT_ENOMEM, "out of memory");
		goto done;
	}
	rt__be64_put(kb, c->serial);
	k = mkval(kb, 8);
	d = mkval(b.p, b.len);
	rc = mdb_put(c->t->txn, j->batches, &k, &d, MDB_NOOVERWRITE);
	if (rc == 0) {
		k = mkval(in->id, 32);
		d = mkval(kb, 8);
		rc = mdb_put(c->t->txn, j->batch_ids, &k, &d, MDB_NOOVERWRITE);
	}
	if (rc) {
		rc = rc == MDB_KEYEXIST
		         ? rt__jerr(j, RT_EJOURNAL, "batch record %llu exists "
		                                    "already: next_batch is behind",
		                    (unsigned long long)c->serial)
		         : rt__jerr_mdb(j, c->t, rc, "writing the batch record");
		goto done;
	}
	if ((rc = rt__meta_get_counts(c->t, counts)))
		goto done;
	counts[RT_ENTRY_PENDING] += c->n;
	if ((rc = rt__meta_put_counts(c->t, counts)) ||
	    (rc = rt__meta_put_u64(c->t, "next_seq", c->first_seq + c->n)) ||
	    (rc = rt__meta_put_u64(c->t, "next_batch", c->serial + 1)) ||
	    (rc = rt__staging_clear(c->t)))
		goto done;
	/* Last check before the point of no return. */
	rc = input_unchanged(in, out, j);
	if (rc)
		goto done;
	out->nentries = c->n;
	out->first_seq = c->first_seq;
	rc = rt_journal_txn_commit(c->t);
	c->t = NULL;
done:
	rt_journal_txn_abort(c->t);
	rt__buf_free(&b);
	free(c);
	return rc;
}

/* ---- staged batches ---------------------------------------------------------- */

/* Takes the submit lock, waiting for it if `wait`: a flock on data.mdb
 * (LMDB locks with lock.mdb alone, so it has no other use for it; and no
 * extra file in the journal's directory).
 * Returns the descriptor, -1 (another submit holds it, without `wait`), or
 * a negative RT_E* code below -1 with the message set. */
static int submit_lock(rt_journal *j, int wait)
{
	char *path = NULL;
	int fd, rc;

	if (asprintf(&path, "%s/data.mdb", j->dir) < 0)
		return rt__jerr(j, RT_ENOMEM, "out of memory");
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		rc = rt__jerr(j, errno_code(errno), "%s: %s", path,
		              strerror(errno));
		free(path);
		return rc;
	}
	while ((rc = flock(fd, wait ? LOCK_EX : LOCK_EX | LOCK_NB)) != 0 &&
	       errno == EINTR)
		;
	if (rc != 0) {
		rc = errno == EWOULDBLOCK
		         ? -1
		         : rt__jerr(j, RT_EIO, "%s: flock: %s", path,
		                    strerror(errno));
		close(fd);
		fd = rc;
	}
	free(path);
	return fd;
}

/* Deletes up to DISCARD_PER_TXN staged entries with their index rows, the
 * highest first; once none is left, the staging mark.  *left says whether
 * any remain. */
static int discard_some(rt_journal_txn *t, int *left)
{
	rt_journal *j = t->j;
	MDB_cursor *cur = NULL;
	struct rt__entry_rec e;
	uint8_t state = RT_ENTRY_PENDING, tk[RT__TRACKER_KEY_LEN], sb[8];
	uint64_t end, first, seq;
	MDB_val k, d, ik, id;
	int rc, n;

	*left = 0;
	rc = rt__meta_get_u64(t, RT__META_STAGING, &first);
	if (rc == RT_EJOURNAL) {
		/* No staging mark: only the format bit may be left. */
		return rt__staging_clear(t);
	}
	if (rc || (rc = rt__visible_end(t, &end)))
		return rc;
	rc = mdb_cursor_open(t->txn, j->entries, &cur);
	if (rc)
		return rt__jerr_mdb(j, t, rc, "opening a cursor");
	rc = mdb_cursor_get(cur, &k, &d, MDB_LAST);
	for (n = 0; rc == 0; n++) {
		if (k.mv_size != 8 || (seq = rt__be64_get(k.mv_data)) < end)
			break;
		if (n == DISCARD_PER_TXN) {
			*left = 1;
			break;
		}
		rt__be64_put(sb, seq);
		id = mkval(sb, 8);
		ik = mkval(&state, 1);
		rc = mdb_del(t->txn, j->by_state, &ik, &id);
		/* A staged entry that does not decode (damage) loses its
		 * by_tracker row to `reftrack check`, not the journal. */
		if ((rc == 0 || rc == MDB_NOTFOUND) &&
		    rt__entry_decode(&e, d.mv_data, d.mv_size) == 0) {
			if (rt__tracker_key(j, tk, e.pool.s, e.pool.len, e.ns.s,
			                    e.ns.len, e.tracker.s,
			                    e.tracker.len)) {
				rc = rt__jerr(j, RT_ENOMEM, "out of memory");
				goto done;
			}
			ik = mkval(tk, sizeof(tk));
			id = mkval(sb, 8);
			rc = mdb_del(t->txn, j->by_tracker, &ik, &id);
		}
		if (rc == 0 || rc == MDB_NOTFOUND)
			rc = mdb_cursor_del(cur, 0);
		if (rc) {
			rc = rt__jerr_mdb(j, t, rc, "discarding a staged entry");
			goto done;
		}
		rc = mdb_cursor_get(cur, &k, &d, MDB_PREV);
	}
	if (rc && rc != MDB_NOTFOUND) {
		rc = rt__jerr_mdb(j, t, rc, "walking the staged entries");
		goto done;
	}
	rc = *left ? 0 : rt__staging_clear(t);
	t->mods++;
done:
	mdb_cursor_close(cur);
	return rc;
}

/* Discards the staged rows, the caller holding the submit lock. */
static int discard_locked(rt_journal *j)
{
	rt_journal_txn *t;
	int rc, left;

	do {
		rc = rt_journal_txn_begin(&t, j, 0);
		if (rc)
			return rc;
		rc = discard_some(t, &left);
		if (rc == 0)
			rc = rt_journal_txn_commit(t);
		else
			rt_journal_txn_abort(t);
		/* A map that filled up was enlarged: go on. */
		if (rc == RT_ETRANSIENT && j->map_grown) {
			left = 1;
			rc = 0;
		}
	} while (rc == 0 && left);
	if (rc == 0)
		j->staging = 0;
	return rc;
}

int rt__journal_discard_staged(rt_journal *j)
{
	int fd = submit_lock(j, 0), rc;

	if (fd == -1)
		return 0; /* a live submit's rows */
	if (fd < 0)
		return fd;
	rc = discard_locked(j);
	close(fd);
	return rc;
}

/* Writes the batch under the submit lock (one submit stages at a time;
 * rows a dead one staged go first). */
static int submit_locked(rt_journal *j, struct input *in, const char *name,
                         rt_submit_result *out)
{
	int rc, lock;

	/* Room for the batch up front: its entries are smaller than its YAML,
	 * so three times the file bounds entries plus indexes.  A MAP_FULL
	 * below still grows the map and redoes the transaction. */
	if (rt__test_journal_presize) {
		rc = rt__journal_reserve(j, rt__journal_used(j) +
		                                3 * (uint64_t)in->st.st_size +
		                                ((uint64_t)1 << 20));
		if (rc)
			return rc;
	}
	lock = submit_lock(j, 1);
	if (lock < 0)
		return lock;
	if ((rc = discard_locked(j)))
		goto done;
	for (;;) {
		rc = write_batch(j, in, name, out);
		if (rc) {
			/* Whatever was staged goes; the error stays the one
			 * that stopped the submit. */
			char msg[sizeof(j->errmsg)];
			int grown = j->map_grown;

			memcpy(msg, j->errmsg, sizeof(msg));
			(void)discard_locked(j);
			memcpy(j->errmsg, msg, sizeof(msg));
			j->map_grown = grown;
		}
		if (rc == RT_ETRANSIENT && j->map_grown) {
			/* The parse restarts from the top of the same file. */
			out->nentries = out->first_seq = 0;
			continue;
		}
		break;
	}
done:
	close(lock);
	return rc;
}

int rt_journal_submit(rt_submit_result *out, rt_journal *j, const char *path,
                      const char *name, unsigned flags)
{
	struct input in;
	uint64_t parsed = 0;
	rt_journal_txn *t = NULL;
	rt_batch_error perr;
	int rc, prc;

	memset(out, 0, sizeof(*out));
	memset(&in, 0, sizeof(in));
	in.fd = -1;
	if (!j && !(flags & RT_SUBMIT_DRY_RUN))
		return RT_EINVAL;
	if (j && j->txn)
		return rt__jerr(j, RT_EINVAL,
		                "submit inside an open transaction");
	rc = input_open(&in, out, j, path);
	if (rc)
		goto done;
	rt__hex32(out->batch_id, in.id);
	if (!name)
		name = path;

	if (flags & RT_SUBMIT_DRY_RUN) {
		memset(&perr, 0, sizeof(perr));
		prc = rt_batch_parse_file(in.parse_path, count_cb, &parsed, &perr);
		if (prc) {
			rc = prc == RT_EINVAL
			         ? parse_err(out, j, &in, &perr)
			         : file_err(out, j, &in, prc, "%s",
			                    perr.message[0] ? perr.message
			                                    : rt_strerror(prc));
			goto done;
		}
		out->nentries = parsed;
		if ((rc = input_unchanged(&in, out, j)))
			goto done;
		if (j) {
			rc = rt_journal_txn_begin(&t, j, RT_TXN_RDONLY);
			if (rc == 0)
				rc = find_batch(t, in.id, out);
			rc = rc == 1 ? 0 : rc;
			if (out->already_present)
				out->nentries = parsed;
		}
		goto done;
	}

	rc = submit_locked(j, &in, name, out);
	if (rc == 0 && j->create_at) {
		/* The journal was made for this batch: it takes its place,
		 * unless another process made one there first, which then
		 * gets the batch. */
		rc = rt__journal_install(j);
		if (rc == 1) {
			memset(out, 0, sizeof(*out));
			rt__hex32(out->batch_id, in.id);
			rc = submit_locked(j, &in, name, out);
		}
	}
done:
	rt_journal_txn_abort(t);
	input_close(&in);
	return rc;
}

void rt_journal_set_submit_progress(rt_journal *j, rt_submit_progress_fn fn,
                                    void *arg)
{
	if (!j)
		return;
	j->submit_progress = fn;
	j->submit_progress_arg = arg;
}
