/*
 * journal.h - the batch journal: a local LMDB environment that holds every
 * submitted batch as numbered entries, with their replay state.
 *
 * One journal is one LMDB environment in one directory (data.mdb and
 * lock.mdb).  Entries are numbered by a global sequence number, `seq`, in
 * submission order, starting at 1; a number is never reused.  A batch is
 * written in one LMDB write transaction, so it is either wholly in the
 * journal or not at all, also after a crash or kill -9 at any instant.
 *
 * Concurrency: any number of processes may open the same journal.  Reads
 * see a consistent snapshot; writers are serialised by LMDB (a second
 * writer waits for the first).  A handle, and every transaction and
 * iterator made from it, is used by one thread at a time.
 *
 * This header reads a journal and submits batches to it; the library
 * itself changes entries (replay.h: the replayer and the operator's retry
 * and skip).  The low-level write calls that those use are in
 * <reftrack/sys/journal.h>, for tools and tests.
 *
 * Conventions are those of reftrack.h: 0 or a negative RT_E* code; on
 * failure rt_journal_errmsg() says what went wrong and names the journal
 * directory.  Codes common to most calls:
 *   RT_EJOURNAL  the journal is corrupt, foreign or full (message says which)
 *   RT_EIO       an operating-system error (message has the errno text)
 *   RT_ENOMEM    out of memory
 */
#ifndef REFTRACK_JOURNAL_H
#define REFTRACK_JOURNAL_H

#include <stddef.h>
#include <stdint.h>

#include "batch.h"
#include "reftrack.h"

#ifdef __cplusplus
extern "C" {
#endif

/* On-disk format of the journal.  A journal whose format is newer is
 * refused with RT_EVERSION and never written to.  Format 2 added a CRC-32
 * to every entry and batch record; a format-1 journal (reftrack 0.x before
 * it) is migrated when it is opened, in one write transaction: all of it
 * or, if any record does not decode, nothing (RT_EJOURNAL naming it). */
#define RT_JOURNAL_FORMAT 2

/* The LMDB map starts at RT_JOURNAL_MAP_INITIAL and doubles whenever a write
 * transaction runs out of room, up to RT_JOURNAL_MAP_MAX; past that, writes
 * fail with RT_EJOURNAL "journal full".  The map is address space, not disk:
 * data.mdb only grows with the data it holds. */
#define RT_JOURNAL_MAP_INITIAL ((uint64_t)64 << 20)
#define RT_JOURNAL_MAP_MAX ((uint64_t)64 << 30)

/* A batch id is the SHA-256 of the batch file's bytes, in lower-case hex. */
#define RT_BATCH_ID_LEN 64

/* Entry states.  Counts are kept per state in arrays indexed by the state
 * value; RT_ENTRY_STATE_SLOTS leaves room for states added later without
 * changing the size of those arrays. */
typedef enum rt_entry_state {
	RT_ENTRY_PENDING = 1,      /* submitted, not yet applied */
	RT_ENTRY_IN_FLIGHT = 2,    /* a write may have been sent (see guard) */
	RT_ENTRY_DONE = 3,         /* applied; the outcome is recorded */
	RT_ENTRY_FAILED = 4,       /* a permanent error; error says which */
	RT_ENTRY_SKIPPED = 5,      /* an operator chose not to apply it */
	RT_ENTRY_BLOCKED = 6,      /* waits behind a failed entry of its tracker */
	RT_ENTRY_NEEDS_REVIEW = 7  /* a crash left it ambiguous; not guessed */
} rt_entry_state;
#define RT_ENTRY_STATE_FIRST RT_ENTRY_PENDING
#define RT_ENTRY_STATE_LAST RT_ENTRY_NEEDS_REVIEW
#define RT_ENTRY_STATE_SLOTS 16

/* "pending", "in-flight", "done", "failed", "skipped", "blocked",
 * "needs-review"; NULL for a value that is not a state.  Static strings. */
RT_EXTERN const char *rt_entry_state_name(int state);
/* The state named `name` (as above), or RT_EINVAL. */
RT_EXTERN int rt_entry_state_parse(const char *name);

/* What applying an entry did, as the replayer records it. */
typedef enum rt_entry_result {
	RT_RESULT_NONE = 0,    /* not applied (yet) */
	RT_RESULT_CREATED = 1, /* the tracker was created */
	RT_RESULT_DELETED = 2, /* the tracker is gone */
	RT_RESULT_CHANGED = 3, /* keys were added, removed or masked */
	RT_RESULT_NOOP = 4     /* nothing needed changing */
} rt_entry_result;
/* "none", "created", "deleted", "changed", "no-op"; NULL otherwise. */
RT_EXTERN const char *rt_entry_result_name(int result);

typedef struct rt_entry_outcome {
	rt_entry_result result;
	uint32_t added, removed, masked; /* as in rt_outcome */
} rt_entry_outcome;

/* One journal entry: one request of a batch.  Returned by
 * rt_journal_entry_get() as a single allocation: every pointer in it points
 * into the same block, stays valid until rt_journal_entry_free(), and is
 * independent of any transaction. */
typedef struct rt_journal_entry {
	uint64_t seq;
	char batch_id[RT_BATCH_ID_LEN + 1];
	uint64_t request_index;  /* position of the request in its batch, from 0 */
	const char *pool;
	const char *ns;          /* "" for the default namespace */
	const char *tracker;
	rt_op op;
	size_t nrefs;
	const rt_ref *refs;      /* for RT_OP_ADD every type is RT_REF_NORMAL */
	const char *request_id;  /* the caller's id, or NULL */
	rt_entry_state state;
	uint32_t attempts;
	const char *error;       /* last error text, or NULL */
	rt_entry_outcome outcome;
	int has_guard;           /* guard_version below is set */
	uint64_t guard_version;  /* RADOS object version a write was guarded on */
	int64_t submitted_ns;    /* unix time in ns; updated/done 0 = never */
	int64_t updated_ns;
	int64_t done_ns;
} rt_journal_entry;

/* A batch record with its per-state counts.  From rt_journal_batch_get() it
 * is one allocation owned by the caller (rt_journal_batch_free()); passed to
 * an rt_journal_batch_foreach() callback it is valid during that call only.
 * The entries of a batch are seq first_seq .. first_seq + nentries - 1. */
typedef struct rt_journal_batch {
	char id[RT_BATCH_ID_LEN + 1];
	const char *file_name;  /* as given at submit; "-" for stdin */
	int64_t submitted_ns;
	uint64_t first_seq;
	uint64_t nentries;
	uint64_t counts[RT_ENTRY_STATE_SLOTS]; /* indexed by rt_entry_state */
} rt_journal_batch;

typedef struct rt_journal rt_journal;
typedef struct rt_journal_txn rt_journal_txn;
typedef struct rt_journal_iter rt_journal_iter;

/* ---- opening --------------------------------------------------------- */

/* Resolves where a journal lives: `dir` if not NULL, else
 * $REFTRACK_JOURNAL if set and not empty, else the default:
 * /var/lib/reftrack/journal for root, $XDG_STATE_HOME/reftrack/journal for
 * others, or ~/.local/state/reftrack/journal when XDG_STATE_HOME is unset or
 * not absolute.  *out is a malloc'd string owned by the caller.
 * Errors: RT_EINVAL (no home directory to be found), RT_ENOMEM. */
RT_EXTERN int rt_journal_resolve_dir(char **out, const char *dir);

/* rt_journal_open() flags. */
#define RT_JOURNAL_NOCREATE 0x1 /* fail with RT_ENOTFOUND if none exists */
/* If none exists, create nothing at `dir` yet: the handle holds a new
 * journal in a directory beside it (".NAME.new-XXXXXX" in its parent),
 * moved to `dir` by the first rt_journal_submit() through the handle that
 * succeeds.  Closed before that, it is removed with any directory made for
 * it, so a rejected first batch leaves nothing behind.  If a journal
 * appears at `dir` meanwhile (another process), that submit goes into it
 * instead.  rt_journal_dir() names `dir`'s journal only once a batch is
 * in.  A kill before then leaves the directory beside `dir` behind; the
 * next open of `dir` with this flag removes it once it is a minute old
 * and no handle holds it (each holds a flock on its own). */
#define RT_JOURNAL_CREATE_ON_SUBMIT 0x2

/* Opens the journal in `dir` (resolved as by rt_journal_resolve_dir()),
 * creating it if needed: missing directories with mode 0700, files with
 * 0600.  Clears reader slots left by dead processes, and discards the
 * staged entries a killed rt_journal_submit() left (never those of a
 * submit still running).  On failure *out is
 * still set (unless RT_ENOMEM) so that rt_journal_errmsg() can say why;
 * close it in either case.
 * Errors: RT_ENOTFOUND (RT_JOURNAL_NOCREATE and no journal there),
 * RT_EVERSION (a journal of a newer format: it is left untouched),
 * RT_EJOURNAL (data.mdb is not an LMDB file, or an LMDB environment that
 * is not a reftrack journal, or `dir` is not a directory), RT_EPERM, RT_EIO,
 * RT_EBUSY (the reader table is full), RT_ENOMEM. */
RT_EXTERN int rt_journal_open(rt_journal **out, const char *dir,
                              unsigned flags);
RT_EXTERN void rt_journal_close(rt_journal *j);

/* The message of the last failure on `j` (or on a transaction or iterator
 * made from it); "" if none.  Valid until the next call on `j`. */
RT_EXTERN const char *rt_journal_errmsg(const rt_journal *j);
/* The journal's directory, as resolved.  Valid until rt_journal_close(). */
RT_EXTERN const char *rt_journal_dir(const rt_journal *j);
/* The journal's id: a random UUID given at creation, as 36 characters.
 * Valid until rt_journal_close(); "" if the open failed before reading it. */
RT_EXTERN const char *rt_journal_id(const rt_journal *j);

/* ---- submitting a batch ---------------------------------------------- */

/* rt_journal_submit() flags. */
#define RT_SUBMIT_DRY_RUN 0x1 /* validate and hash only; write nothing */

typedef struct rt_submit_result {
	char batch_id[RT_BATCH_ID_LEN + 1];
	uint64_t nentries;      /* entries of the batch */
	uint64_t first_seq;     /* seq of its first entry; 0 on a dry run of a
	                         * batch not in the journal */
	int already_present;    /* the same bytes were submitted before;
	                         * nothing was added */
	rt_batch_error error;   /* where and why the file was rejected (also
	                         * when `j` is NULL); line 0 if not positional */
} rt_submit_result;

/* Validates the batch file `path` ("-" reads standard input) and, unless
 * RT_SUBMIT_DRY_RUN, writes its batch record and all its entries: all of it
 * or nothing.  The entries go in as a staged batch, in write transactions
 * of bounded size that no reader sees, and one small last transaction
 * makes the batch visible, so memory does not grow with the file.  One
 * submit stages at a time per journal (a second one waits); the staged rows
 * of a submit that failed are discarded, those of one that was killed at
 * the next submit or rt_journal_open().  Submitting bytes whose batch id
 * is already in the journal adds nothing and sets already_present.
 * `name` is recorded as the batch's file name (NULL: `path`).  Standard
 * input and other non-regular files are spooled to an unlinked temporary
 * file in the journal directory (the system's temporary directory when `j`
 * is NULL), so memory stays bounded whatever the size.  With
 * RT_SUBMIT_DRY_RUN `j` may be NULL: nothing but the file is looked at.
 * `out` must not be NULL; it is filled on success and on RT_EINVAL.
 * Errors: RT_EINVAL (the batch is invalid: out->error says where and why,
 * and rt_journal_errmsg() has "FILE:LINE:COLUMN: message"; also if the file
 * changed while being submitted), RT_ENOTFOUND (no such file), RT_EPERM
 * (file not readable), RT_EJOURNAL (journal full, or corrupt), RT_EIO,
 * RT_ENOMEM.  Nothing is written on any error. */
RT_EXTERN int rt_journal_submit(rt_submit_result *out, rt_journal *j,
                                const char *path, const char *name,
                                unsigned flags);

/* Progress of rt_journal_submit() on `j` while it writes a batch: `done`
 * of `total` lines of the file are in (done reaches total at the end).
 * Called on the caller's thread, now and then (every few hundred KiB of
 * entries); a map enlarged midway starts it again from 0. */
typedef void (*rt_submit_progress_fn)(void *arg, uint64_t done,
                                      uint64_t total);
/* Sets (fn NULL: clears) the progress callback of submits on `j`. */
RT_EXTERN void rt_journal_set_submit_progress(rt_journal *j,
                                              rt_submit_progress_fn fn,
                                              void *arg);

/* ---- transactions ---------------------------------------------------- */

/* rt_journal_txn_begin() flags. */
#define RT_TXN_RDONLY 0x1

/* Starts a transaction.  A read-only one sees a snapshot and never blocks;
 * a write one waits until no other process or handle writes.  Do not open
 * a second transaction on the same handle before the first ends.  Through
 * this header a transaction only reads and ends with rt_journal_txn_abort();
 * changing entries and committing are in <reftrack/sys/journal.h>.
 * Errors: RT_EBUSY (reader table full), RT_EJOURNAL, RT_EIO, RT_ENOMEM. */
RT_EXTERN int rt_journal_txn_begin(rt_journal_txn **out, rt_journal *j,
                                   unsigned flags);

/* Discards and frees `txn`.  NULL is a no-op. */
RT_EXTERN void rt_journal_txn_abort(rt_journal_txn *txn);

/* ---- entries ---------------------------------------------------------- */

/* Reads entry `seq`.  *out is owned by the caller (rt_journal_entry_free())
 * and outlives the transaction.  Errors: RT_ENOTFOUND, RT_EJOURNAL (the
 * entry does not decode), RT_ENOMEM. */
RT_EXTERN int rt_journal_entry_get(rt_journal_entry **out, rt_journal_txn *txn,
                                   uint64_t seq);
RT_EXTERN void rt_journal_entry_free(rt_journal_entry *entry);

/* ---- iterators --------------------------------------------------------- */

/* Iterators yield seqs in increasing order, from `from_seq` on (0 or 1: from
 * the start).  An iterator sees the changes its own write transaction made,
 * also between two calls of rt_journal_iter_next(); it must not be used
 * after its transaction ends (it may be freed at any time).
 * Errors: RT_ENOMEM; rt_journal_iter_state() also RT_EINVAL (bad state). */

/* Every entry. */
RT_EXTERN int rt_journal_iter_all(rt_journal_iter **out, rt_journal_txn *txn,
                                  uint64_t from_seq);
/* Entries in `state`, without looking at entries in other states. */
RT_EXTERN int rt_journal_iter_state(rt_journal_iter **out, rt_journal_txn *txn,
                                    rt_entry_state state, uint64_t from_seq);
/* Entries of one tracker (same pool, namespace and name), without a scan.
 * `ns` NULL means "". */
RT_EXTERN int rt_journal_iter_tracker(rt_journal_iter **out,
                                      rt_journal_txn *txn, const char *pool,
                                      const char *ns, const char *tracker,
                                      uint64_t from_seq);
/* Sets *seq to the next entry's seq and returns 0; returns RT_ENOTFOUND when
 * there are no more.  Errors: RT_EJOURNAL, RT_ENOMEM. */
RT_EXTERN int rt_journal_iter_next(rt_journal_iter *it, uint64_t *seq);
RT_EXTERN void rt_journal_iter_free(rt_journal_iter *it);

/* ---- batches and counts ------------------------------------------------ */

/* Number of entries in each state over the whole journal, indexed by
 * rt_entry_state; unused slots are 0.  O(1). */
RT_EXTERN int rt_journal_counts(rt_journal_txn *txn,
                                uint64_t counts[RT_ENTRY_STATE_SLOTS]);

/* Reads batch `id` (64 hex digits).  Errors: RT_ENOTFOUND, RT_EINVAL (not a
 * batch id), RT_EJOURNAL, RT_ENOMEM. */
RT_EXTERN int rt_journal_batch_get(rt_journal_batch **out, rt_journal_txn *txn,
                                   const char *id);
RT_EXTERN void rt_journal_batch_free(rt_journal_batch *batch);

/* Calls cb for every batch in submission order; a non-zero return from cb
 * stops and is returned.  O(batches). */
RT_EXTERN int rt_journal_batch_foreach(rt_journal_txn *txn, int (*cb)(void *arg,
                                       const rt_journal_batch *b), void *arg);

/* Facts about the journal as a transaction sees it. */
typedef struct rt_journal_stat {
	uint32_t format;     /* RT_JOURNAL_FORMAT */
	int64_t created_ns;
	uint64_t next_seq;   /* seq the next submitted entry will get */
	uint64_t nbatches;
	uint64_t map_size;   /* current LMDB map size, bytes */
	uint64_t used_bytes; /* pages in use in data.mdb, bytes */
} rt_journal_stat;

RT_EXTERN int rt_journal_stat_get(rt_journal_stat *out, rt_journal_txn *txn);

/* ---- retention --------------------------------------------------------- */

/* Pruning deletes done and skipped entries that finished before a cutoff
 * (done entries by their done time, skipped ones by the time they were
 * skipped), with their index rows, and keeps every count right.  Entries
 * in any other state are never pruned.  A batch whose entries are all gone
 * stays as a tombstone: its record (id, file name, seq range, zero counts)
 * and its id row, so that submitting the same bytes again is still seen as
 * a duplicate and not applied a second time.  Tombstones are small (about
 * 200 bytes) and are forgotten only by a separate, longer cutoff, after
 * which the same bytes would be accepted as a new batch.
 *
 * Work is split into write transactions of at most `chunk` deletions, each
 * leaving the journal consistent, so a big prune never holds the write lock
 * for long, and a kill between two only leaves less pruned.  Pages freed
 * are reused by later writes, so under a steady workload with a fixed
 * retention data.mdb stops growing. */
/* Versioned as reftrack.h says of options structs. */
#define RT_PRUNE_OPTS_VERSION 1
#define RT_PRUNE_OPTS_INIT { RT_PRUNE_OPTS_VERSION, 0, 0, 0 }

typedef struct rt_prune_opts {
	unsigned int version;      /* RT_PRUNE_OPTS_VERSION */
	int64_t entries_before_ns; /* unix ns; prune done/skipped entries that
	                            * finished before it; 0: prune no entry */
	int64_t batches_before_ns; /* unix ns; forget tombstones of batches
	                            * submitted before it; 0: forget none */
	size_t chunk;              /* deletions per transaction; 0: 10000 */
} rt_prune_opts;

/* Sets *opts to the defaults of that version (prune nothing) with its
 * version.  Errors: RT_EINVAL (a version this library does not know;
 * *opts is left alone). */
RT_EXTERN int rt_prune_opts_init(rt_prune_opts *opts, unsigned int version);

typedef struct rt_prune_result {
	uint64_t entries[RT_ENTRY_STATE_SLOTS]; /* pruned, by their state */
	uint64_t entries_total;
	uint64_t batches_forgotten;             /* tombstones deleted */
	uint64_t transactions;                  /* write transactions committed */
} rt_prune_result;

/* Prunes `j` as described above.  Must not be called inside a transaction
 * of `j`.  `out` (may be NULL) counts what was committed, also on failure,
 * when the earlier transactions stay done.  Errors: RT_EINVAL (a
 * transaction is open, `opts` is NULL or of an unknown version),
 * RT_EJOURNAL (an index or a count is inconsistent;
 * nothing of that transaction is written), RT_EIO, RT_ENOMEM. */
RT_EXTERN int rt_journal_prune(rt_prune_result *out, rt_journal *j,
                               const rt_prune_opts *opts);

/* What rt_journal_prune() would delete now, counted in `out` as it counts
 * (transactions: those it would commit), deleting nothing.  The prune's
 * own deletions run in one write transaction that is then aborted, so the
 * counts cannot drift from what a prune does; other writers wait for it
 * meanwhile, and data.mdb is not written.  Errors as rt_journal_prune(),
 * and RT_EJOURNAL when the deletions do not fit in one transaction of the
 * journal's map. */
RT_EXTERN int rt_journal_prune_dry_run(rt_prune_result *out, rt_journal *j,
                                       const rt_prune_opts *opts);

/* Totals over the journal's whole life; each only ever grows, so they suit
 * monitoring counters.  Entries ever applied = counts[RT_ENTRY_DONE] +
 * pruned[RT_ENTRY_DONE], as a done entry never changes state again. */
typedef struct rt_journal_totals {
	uint64_t entries_submitted;  /* entries ever submitted */
	uint64_t batches_submitted;  /* batches ever submitted (duplicates are
	                              * not submitted) */
	uint64_t pruned[RT_ENTRY_STATE_SLOTS]; /* entries ever pruned, by the
	                                        * state they had */
	uint64_t batches_forgotten;  /* tombstones ever forgotten */
} rt_journal_totals;

RT_EXTERN int rt_journal_totals_get(rt_journal_totals *out,
                                   rt_journal_txn *txn);

/* ---- integrity and backups ---------------------------------------------- */

/* One thing rt_journal_check() found wrong.  Valid during the callback. */
typedef struct rt_check_problem {
	const char *table;   /* "meta", "batches", "batch_ids", "entries",
	                      * "by_state", "by_tracker" */
	const char *key;     /* the record: a seq, a batch serial, a meta
	                      * key; "" for a table as a whole, "?" unknown */
	const char *message; /* what is wrong, with expected and found */
} rt_check_problem;

typedef struct rt_check_result {
	uint64_t entries;         /* entry records looked at */
	uint64_t damaged_entries; /* of which did not decode or check out */
	uint64_t batches;         /* batch records looked at */
	uint64_t index_rows;      /* rows of by_state, by_tracker, batch_ids */
	uint64_t problems;        /* everything reported, 0 = clean */
	uint64_t staged_entries;  /* of a batch being submitted (staged, not
	                           * part of the journal yet); not checked or
	                           * counted above */
} rt_check_result;

/* Verifies the whole journal in one read transaction (so it neither waits
 * for nor disturbs a running replay): every entry and batch record's
 * checksum and contents; that every entry has its by_state and by_tracker
 * rows and every row of those indexes and of batch_ids names a record that
 * is there and matches; that the per-batch and global counts equal the
 * entries found, and that entries present + pruned = entries ever
 * submitted, batches present + forgotten = batches ever submitted.  Calls
 * cb (may be NULL) for each problem; a non-zero return stops the reporting
 * (out->problems still counts).  Returns 0 when the walk finished, whatever
 * it found (out->problems says), or an error that stopped it (RT_ENOMEM,
 * RT_EBUSY, RT_EIO).  LMDB has no checksums of its own pages: a damaged
 * page that LMDB notices (MDB_CORRUPTED, MDB_PAGE_NOTFOUND) is reported as
 * a problem of its table, but one that still looks like a page can make
 * LMDB read wild memory and crash the process; a caller that must survive
 * that runs the check in a child process (as `reftrack check` does). */
RT_EXTERN int rt_journal_check(rt_check_result *out, rt_journal *j,
                               int (*cb)(void *arg, const rt_check_problem *p),
                               void *arg);

/* Writes a consistent, compacted copy of the journal into the directory
 * `dest` (created with mode 0700 if absent; it must hold no data.mdb), with
 * LMDB's own copy function (mdb_env_copyfd2, MDB_CP_COMPACT).  The copy is
 * read in one read transaction: it sees one commit, and neither waits for
 * nor blocks writers such as a running replay.  It is written to
 * DEST/data.mdb.tmp, synced, then renamed to DEST/data.mdb and the
 * directory synced, so a crash never leaves a partial data.mdb.  The copy
 * is a journal (same id) that rt_journal_open() accepts.  Must not be called
 * inside a transaction of `j`.  Errors: RT_EINVAL (a transaction is open,
 * or DEST already holds a data.mdb), RT_EPERM, RT_EIO (e.g. no space left),
 * RT_ENOMEM; nothing is left at DEST/data.mdb on error. */
RT_EXTERN int rt_journal_backup(rt_journal *j, const char *dest);

#ifdef __cplusplus
}
#endif

#endif
