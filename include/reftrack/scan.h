/*
 * scan.h - a read-only audit of every tracker in a pool.
 *
 * A scan lists the objects of a pool (one namespace, or all of them), reads
 * each with pipelined asynchronous read ops, takes the objects carrying the
 * version xattr (RT_VERSION_XATTR) for trackers, skips the others, and
 * checks every tracker whole, as a write would (reftrack.h; README "The
 * on-RADOS format"): the version xattr, the data size, every omap value,
 * keys holding a NUL byte, the draft tool's layout, and the count against
 * the normal keys, the empty key "" included.  Results come one tracker at
 * a time, in the order the reads complete; memory is bounded by the
 * window of reads in flight and the largest tracker, never by the pool.
 *
 * It never writes to the cluster: every op it sends is a read.
 */
#ifndef REFTRACK_SCAN_H
#define REFTRACK_SCAN_H

#include <stddef.h>
#include <stdint.h>

#include "reftrack.h"

#ifdef __cplusplus
extern "C" {
#endif

/* What is wrong with a tracker: the first problem found, in the order the
 * format is checked (version, data, omap values and keys, count). */
typedef enum rt_scan_problem {
	RT_SCAN_SOUND = 0,  /* nothing */
	RT_SCAN_VERSION,    /* version xattr not 4 bytes, or not version 1 */
	RT_SCAN_DATA_SIZE,  /* object data not 4 bytes (nor the draft's 8) */
	RT_SCAN_FOREIGN,    /* the draft tool's layout: 8 data bytes
	                     * (generation + count) or empty omap values */
	RT_SCAN_TYPE_BYTE,  /* an omap value other than 01 or 02 */
	RT_SCAN_NUL_KEY,    /* a key holding a NUL byte */
	RT_SCAN_COUNT,      /* the count disagrees with the normal keys */
	RT_SCAN_EMPTY_KEY,  /* the count is the listed normal keys, leaving
	                     * out a normal empty key "" (which no listing
	                     * shows: a writer that never looked it up) */
	RT_SCAN_NPROBLEMS
} rt_scan_problem;

/* A problem's name: "sound", "version", "data-size", "foreign",
 * "type-byte", "nul-key", "count", "empty-key"; static. */
RT_EXTERN const char *rt_scan_problem_name(rt_scan_problem problem);

/* Whether a reference key is held by something that still exists: 1 live,
 * 0 not (a stale reference).  Called from rt_scan_next() only. */
typedef int (*rt_scan_live_fn)(void *arg, const char *key, size_t keylen);

/* Versioned as reftrack.h says of options structs. */
#define RT_SCAN_OPTS_VERSION 1
#define RT_SCAN_OPTS_INIT { RT_SCAN_OPTS_VERSION, 0, 0, NULL, NULL, NULL }

typedef struct rt_scan_opts {
	unsigned int version; /* RT_SCAN_OPTS_VERSION */
	int all_namespaces;   /* every namespace; else the pool handle's */
	unsigned window;      /* objects read at once; 0: 64, 1: one at a
	                       * time (a sequential scan) */
	const char *journal_id; /* a journal id (rt_journal_id()) whose
	                       * marker rt_scan_result.local_marker reports;
	                       * NULL: none.  Copied. */
	rt_scan_live_fn is_live; /* NULL: no reconciliation */
	void *live_arg;
} rt_scan_opts;

/* Sets *opts to the defaults of that version with its version.  Errors:
 * RT_EINVAL (a version this library does not know; *opts is left alone). */
RT_EXTERN int rt_scan_opts_init(rt_scan_opts *opts, unsigned int version);

/* A journal's marker on a tracker: the xattr reftrack.j.<id>, set by that
 * journal's replayer to the seq of the last entry it applied there. */
typedef struct rt_scan_marker {
	const char *journal_id;
	const char *value;    /* the xattr's value, as stored */
} rt_scan_marker;

/* A key (keylen bytes, no NUL inside, NUL-terminated). */
typedef struct rt_scan_key {
	const char *key;
	size_t keylen;
} rt_scan_key;

/* One tracker, as rt_scan_next() read it.  Every pointer in it is owned by
 * the scan and valid until the next rt_scan_next() or rt_scan_close(). */
typedef struct rt_scan_result {
	const char *ns;          /* "" for the default namespace */
	const char *tracker;
	uint64_t object_version; /* of the read the checks saw */
	rt_scan_problem problem;
	const char *detail;      /* what is wrong ("refcount 1 but 3 normal
	                          * keys"), naming the key; "" if sound */
	/* Known only as far as the checks got: refcount once the data was
	 * read (has_refcount), the keys once the omap was (has_keys). */
	int has_refcount, has_keys;
	uint32_t refcount;
	uint64_t normal;         /* normal keys, a normal "" included */
	uint64_t masks;          /* masks, a masked "" included */
	int empty_key;           /* type of the key "": 0 absent, else
	                          * RT_REF_NORMAL or RT_REF_MASK */
	size_t nmarkers;
	const rt_scan_marker *markers;
	int local_marker;        /* opts.journal_id's marker is among them */
	/* With opts.is_live, on a sound tracker: its normal keys that are
	 * not live, in the OSD's (bytewise) order.  The key "" is never
	 * stale: it can be named neither in a live-key list nor in a batch
	 * file, so it is left alone, as masks are. */
	size_t nstale;
	const rt_scan_key *stale;
} rt_scan_result;

/* Totals so far (rt_scan_stats_get()); complete once rt_scan_next()
 * returned RT_ENOTFOUND. */
typedef struct rt_scan_stats {
	uint64_t objects;        /* objects listed and read */
	uint64_t objects_estimate; /* the pool's object count when the scan
	                          * began, from its statistics (they lag):
	                          * for a progress bar only; 0 if unknown */
	uint64_t trackers;       /* objects with the version xattr */
	uint64_t skipped;        /* objects without it: not trackers */
	uint64_t vanished;       /* listed, then gone before their read */
	uint64_t rereads;        /* trackers read again because they changed
	                          * between two pages of their read */
	uint64_t normal, masks;  /* over the trackers whose keys were read */
	uint64_t problems[RT_SCAN_NPROBLEMS]; /* trackers, by problem */
	uint64_t stale;          /* stale references (with opts.is_live) */
	uint64_t stale_trackers; /* sound trackers holding one or more */
	uint64_t released;       /* sound trackers with normal references,
	                          * every one of them stale: the trackers a
	                          * release of the stale ones would delete */
	uint64_t with_local_marker; /* trackers carrying opts.journal_id's */
} rt_scan_stats;

typedef struct rt_scan rt_scan;

/* Starts a scan of pool's pool: its namespace, or every namespace with
 * opts->all_namespaces (opts may be NULL: defaults).  The scan borrows
 * pool, which must outlive it, and sends nothing until rt_scan_next().
 * On failure *out is set (unless RT_ENOMEM) for rt_scan_errmsg(); close it
 * in either case.  Errors: RT_EINVAL, RT_ENOTFOUND (the pool is gone),
 * RT_EPERM, RT_EIO, RT_ENOMEM. */
RT_EXTERN int rt_scan_open(rt_scan **out, rt_pool *pool, const rt_scan_opts *opts);
RT_EXTERN void rt_scan_close(rt_scan *scan);
RT_EXTERN const char *rt_scan_errmsg(const rt_scan *scan);

/* The next tracker: 0 and *out set (owned by the scan, see
 * rt_scan_result), or RT_ENOTFOUND when every object has been read.
 * Errors (the scan is over; the message names the object): RT_EPERM,
 * RT_ETRANSIENT (an op timed out: the cluster is unreachable),
 * RT_ECONFLICT (a tracker changed between the pages of every read of it),
 * RT_ENOTFOUND is the end, never an error (a pool deleted during the scan
 * fails the listing with RT_EIO), RT_EIO, RT_ENOMEM. */
RT_EXTERN int rt_scan_next(const rt_scan_result **out, rt_scan *scan);

RT_EXTERN void rt_scan_stats_get(rt_scan_stats *out, const rt_scan *scan);

#ifdef __cplusplus
}
#endif

#endif
