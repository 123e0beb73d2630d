/*
 * journal_int.h - what the journal modules share (private).
 *
 * journal.c        open/close, meta record, transactions, map growth
 * journal_entry.c  entries, iterators, batches, counts
 * journal_submit.c hashing, spooling and writing a batch (staged, then
 *                  made visible), discarding a staged batch
 * journal_runs.c   a large batch's tracker-index rows, sorted on disk
 * journal_prune.c  retention: pruning entries, forgetting batch tombstones,
 *                  the running totals that outlive both
 * journal_codec.c  byte encodings (pure)
 *
 * On-disk layout (one LMDB environment, named databases):
 *   meta        "magic" -> "reftrack-journal", "format" -> u32 BE,
 *               "id" -> UUID text, "created" -> u64 BE ns,
 *               "next_seq" / "next_batch" -> u64 BE, "counts" -> counts,
 *               "pruned" -> counts, "forgotten" -> u64 BE (both optional:
 *               absent means 0, so older journals need no migration),
 *               "backup_next_seq" -> u64 BE: only in a copy made by
 *               rt_journal_backup() and not written to since,
 *               "skipped_seqs" -> u64 BE: seqs never given out because a
 *               restored backup started a new range (optional, 0),
 *               "staging" -> u64 BE: present while a batch is staged
 *               (see RT__META_STAGING below)
 *   batches     batch serial (u64 BE) -> batch record
 *   batch_ids   raw SHA-256 (32 bytes) -> batch serial (u64 BE)
 *   entries     seq (u64 BE) -> entry record
 *   by_tracker  tracker key (16 bytes) -> seq (u64 BE), DUPSORT|DUPFIXED
 *   by_state    state (1 byte) -> seq (u64 BE), DUPSORT|DUPFIXED
 * Entries name their batch by its small serial rather than its 32-byte id,
 * which keeps a million entries compact.  The tracker key is the first 16
 * bytes of SHA-256(pool NUL ns NUL tracker): LMDB keys are limited to 511
 * bytes and names may be longer, and a fixed key also stores the name once
 * per entry (in the entry) instead of twice.
 */
#ifndef REFTRACK_JOURNAL_INT_H
#define REFTRACK_JOURNAL_INT_H

#include <lmdb.h>
#include <stddef.h>
#include <stdint.h>

#include <reftrack/journal.h>
#include <reftrack/sys/journal.h>

#include "journal_codec.h"

#define RT__TRACKER_KEY_LEN 16

/* An MDB_val over the n bytes at p, for keys and values LMDB only reads. */
static inline MDB_val mkval(const void *p, size_t n)
{
	MDB_val v;

	v.mv_data = (void *)p;
	v.mv_size = n;
	return v;
}

/* Test hooks, variables only in a -DRT_TEST_HOOKS build: the map
 * size a journal is created or opened with, when not 0 (so a test can make
 * MDB_MAP_FULL happen with little data); and 0 stops submit from sizing
 * the map for the batch up front.  What ships has the defaults built in. */
#ifdef RT_TEST_HOOKS
extern uint64_t rt__test_journal_map;
extern int rt__test_journal_presize;
#else
#define rt__test_journal_map ((uint64_t)0)
#define rt__test_journal_presize 1
#endif
/* Also test hooks: the entry bytes per staging transaction of submit, when
 * not 0; and the pairs submit holds before it writes them as a sorted run,
 * when not 0 and below its buffer (journal_submit.c). */
#ifdef RT_TEST_HOOKS
extern uint64_t rt__test_submit_stage_bytes;
extern size_t rt__test_submit_run_pairs;
#else
#define rt__test_submit_stage_bytes ((uint64_t)0)
#define rt__test_submit_run_pairs ((size_t)0)
#endif

struct rt_journal {
	MDB_env *env;
	MDB_dbi meta, batches, batch_ids, entries, by_tracker, by_state;
	char *dir;
	char id[37];
	uint32_t format;        /* as found at open (migrated: the new one),
	                         * without RT__FORMAT_STAGING */
	int staging;            /* RT__FORMAT_STAGING was set at open */
	int restored;           /* a backup copy never written to since: the
	                         * first write transaction starts a new seq
	                         * range (journal.c, restore_bump()) */
	uint64_t map_size;
	int map_grown;          /* the last failed txn was redone-worthy */
	struct rt_journal_txn *txn; /* the one open transaction, if any */
	/* The replay lock taken through this handle, if any (journal_lock.c);
	 * the lock points back, so either may go first. */
	struct rt_journal_lock *lock;
	void *md;               /* EVP_MD for tracker keys (lazily fetched) */
	void *mdctx;            /* EVP_MD_CTX reused for them */
	/* rt_journal_set_submit_progress() */
	rt_submit_progress_fn submit_progress;
	void *submit_progress_arg;
	/* RT_JOURNAL_CREATE_ON_SUBMIT found no journal: `dir` is a new one
	 * built beside the path asked for, create_at (journal.c,
	 * rt__journal_install()); made_from is the first directory made for
	 * it, removed with it if no batch gets in. */
	char *create_at;
	char *made_from;
	/* The flock a live handle holds on `dir` while it is that new
	 * journal, so that another open's sweep (journal.c, sweep_beside())
	 * tells it from one a killed submit left: beside_fd is open only
	 * while beside_locked. */
	int beside_locked;
	int beside_fd;
	char errmsg[1024];
};

struct rt_journal_txn {
	rt_journal *j;
	MDB_txn *txn;
	int rdonly;
	int full;       /* LMDB said MDB_MAP_FULL: the txn can only end */
	/* An illegal state transition was refused in this txn ("" if none):
	 * it can only end, and its commit says which. */
	char refused[128];
	uint64_t mods;  /* bumped by every change, so iterators re-seek */
	int restore_bumped; /* this txn started the restored journal's range */
	struct rt__buf buf;
};

/* Sets the message "journal DIR: ..." and returns `code`. */
int rt__jerr(rt_journal *j, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* RT_EJOURNAL naming the record ("entry 42", "batch record 3") that did
 * not decode; `drc` is the decoder's RT__DECODE_* result. */
int rt__jerr_decode(rt_journal *j, int drc, const char *kind,
                    unsigned long long key);
/* Maps an LMDB or errno code to an RT_E* code with a message saying what
 * was being done; MDB_MAP_FULL also marks `t` full (t may be NULL). */
int rt__jerr_mdb(rt_journal *j, struct rt_journal_txn *t, int rc,
                 const char *what);

/* Makes the map at least `bytes` large (rounded up, within the cap), when
 * no transaction is open.  0 or an RT_E* code. */
int rt__journal_reserve(rt_journal *j, uint64_t bytes);
/* Bytes of data.mdb pages in use. */
uint64_t rt__journal_used(rt_journal *j);

int64_t rt__now_ns(void);

/* The by_tracker key of a tracker, with the handle's digest context (one
 * thread), or with a caller's (any thread): 0, or RT_ENOMEM / -1. */
int rt__tracker_hash(void *mdctx, const void *md,
                     uint8_t out[RT__TRACKER_KEY_LEN], const char *pool,
                     size_t pool_len, const char *ns, size_t ns_len,
                     const char *tracker, size_t tracker_len);
/* The journal's fetched SHA-256 (shareable between threads), or NULL. */
const void *rt__journal_md(rt_journal *j);
int rt__tracker_key(rt_journal *j, uint8_t out[RT__TRACKER_KEY_LEN],
                    const char *pool, size_t pool_len, const char *ns,
                    size_t ns_len, const char *tracker, size_t tracker_len);

/* For the calls that change entries under the replay lock (replay.h): 0
 * when `j` already holds it (*taken NULL), or takes it without waiting
 * (*taken is to be released by the caller); RT_ELOCKED when another handle
 * or process holds it, RT_EIO, RT_ENOMEM. */
int rt__journal_lock_need(rt_journal *j, struct rt_journal_lock **taken);
/* At rt_journal_close(): the handle's lock, if any, stays held until it
 * is released, but no longer points to the handle. */
void rt__journal_lock_detach(rt_journal *j);

/* A batch being staged (journal_submit.c): meta "staging" -> u64 BE, the
 * first seq of its entries, is there while entries at or past next_seq
 * (and their index rows) exist; readers never look past next_seq.  While
 * it is there, meta "format" also carries RT__FORMAT_STAGING, so that a
 * release older than staged batches, which would take those rows for
 * visible ones, refuses the journal as newer than itself. */
#define RT__META_STAGING "staging"
#define RT__FORMAT_STAGING 0x80000000u
/* In a write transaction: records that a staged batch from `first_seq` on
 * exists / that none does any more.  0 or an RT_E* code. */
int rt__staging_mark(struct rt_journal_txn *t, uint64_t first_seq);
int rt__staging_clear(struct rt_journal_txn *t);
/* The first seq readers must not see (meta next_seq). */
int rt__visible_end(struct rt_journal_txn *t, uint64_t *end);
/* Discards the rows of a staged batch whose submit is gone, in bounded
 * transactions; does nothing while a live submit holds its lock (a flock
 * on data.mdb).
 * 0 or an RT_E* code. */
int rt__journal_discard_staged(rt_journal *j);

/* Moves the journal a CREATE_ON_SUBMIT handle built (its first batch
 * committed, the handle's transactions and locks all ended) to create_at
 * and reopens the handle there.  0 when it is in place; 1 when a journal
 * appeared at create_at meanwhile (or the new one cannot be linked there):
 * the handle is open on that one and the batch must go in again; or an
 * RT_E* code. */
int rt__journal_install(rt_journal *j);

/* A by_tracker row as submit sorts them: tracker key, then seq (u64 BE),
 * so that memcmp order is index order.  journal_runs.c: */
#define RT__PAIR_LEN (RT__TRACKER_KEY_LEN + 8)
struct rt__runs;
/* Sorts n pairs in place, with `scratch` (room for n pairs) to merge in. */
void rt__pairs_sort(uint8_t *pairs, uint8_t *scratch, size_t n);
/* Runs of sorted pairs in the file `fd` (taken over: closed by
 * rt__runs_free(), also when this fails).  0 or RT_ENOMEM. */
int rt__runs_open(struct rt__runs **out, int fd);
size_t rt__runs_count(const struct rt__runs *r);
/* Sorts `pairs` (with `scratch`, as rt__pairs_sort()) and appends them as
 * one run.  0, RT_ENOMEM or RT_EIO (errno says why). */
int rt__runs_add(struct rt__runs *r, uint8_t *pairs, uint8_t *scratch,
                 size_t n);
/* Calls put with every pair of every run, in order; stops at the first
 * non-zero return and returns it, or RT_ENOMEM / RT_EIO. */
int rt__runs_merge(struct rt__runs *r,
                   int (*put)(void *arg, const uint8_t *pair), void *arg);
void rt__runs_free(struct rt__runs *r);

/* Once a large value (an entry of maximum-size requests) has been copied
 * out, unmaps its pages from this process when they lie in data.mdb's
 * mapping (they stay in the page cache; a later read maps them again), so
 * that a run over many such entries does not keep each one resident.  A
 * value in a write transaction's own dirty pages (heap memory) is left
 * alone. */
void rt__journal_drop_value(rt_journal *j, const void *p, size_t len);

/* The meta key that marks a backup copy (see journal_check.c). */
#define RT__META_BACKUP "backup_next_seq"

/* Meta helpers inside a transaction. */
int rt__meta_get_u64(struct rt_journal_txn *t, const char *key, uint64_t *v);
int rt__meta_put_u64(struct rt_journal_txn *t, const char *key, uint64_t v);
int rt__meta_get_counts(struct rt_journal_txn *t,
                        uint64_t counts[RT_ENTRY_STATE_SLOTS]);
int rt__meta_put_counts(struct rt_journal_txn *t,
                        const uint64_t counts[RT_ENTRY_STATE_SLOTS]);

/* Moves `n` entries of batch `serial` from state `from` to `to` in the
 * batch's and the global counts; from or to 0 means "none" (created or
 * deleted entries). */
int rt__counts_move(struct rt_journal_txn *t, uint64_t serial, int from,
                    int to, uint64_t n);

/* One entry's change, for rt__journal_entries_update(). */
struct rt__entry_update {
	uint64_t seq;
	rt_entry_change change;
	char *error;    /* the caller's: change.error's storage, if any */
};

/* rt_journal_entry_update() of u[0..n) in order, the batch records' and
 * the global counts written once at the end rather than per entry (so a
 * count found inconsistent is reported for the net move).  On error the
 * transaction holds part of the changes: abort it. */
int rt__journal_entries_update(struct rt_journal_txn *t,
                               const struct rt__entry_update *u, size_t n);

#endif
