/*
 * plan.h - deciding what one request does to a tracker (private, pure).
 *
 * plan.c owns the semantics of add and remove (ceph-csi's reftracker v1):
 * given what a read showed of the tracker (a snapshot) and a normalised
 * request, it yields the one write to send, or none, and the outcome that
 * write will have.  Nothing here talks to RADOS, so every rule is tested
 * without a cluster (tests/unit/test_plan.c), and the replayer can plan
 * from a snapshot it built itself (say, from its own previous write).
 */
#ifndef REFTRACK_PLAN_H
#define REFTRACK_PLAN_H

#include <stddef.h>
#include <stdint.h>

#include "request.h"

struct rt__model;

/* Longest value of the caller's extra xattr that a snapshot keeps. */
#define RT__EXTRA_XATTR_MAX 256

/* What one read showed of a tracker, restricted to the request's keys. */
struct rt__snapshot {
	int exists;
	uint64_t version;       /* object version of the read (if exists) */
	uint32_t refcount;      /* the stored count (if exists) */
	/* found[i]: type of req->keys[i] in the omap, 0 if absent.  Owned by
	 * the snapshot, sized by rt__snapshot_reset(). */
	unsigned char *found;
	size_t cap;
	/* The optional extra xattr (see tracker_io.h): has_extra says whether
	 * the object has it; extra_len is its full length, of which at most
	 * RT__EXTRA_XATTR_MAX bytes are in extra[]. */
	int has_extra;
	size_t extra_len;
	char extra[RT__EXTRA_XATTR_MAX];
	/* The census of the whole omap, filled by tracker_io.c page by page
	 * (every value checked on the way).  complete: every entry was seen,
	 * all at `version`.  The key "" is never listed by RADOS (ceph-csi
	 * can still store it): empty_type is its type, looked up by name when
	 * it can matter, 0 if absent or not looked up.  last: the last key listed, where the next page starts
	 * (owned, kept across rt__snapshot_reset() like found[]). */
	int complete;
	int listed;                /* every page of the listing was seen */
	int empty_known;           /* "" was looked up (empty_type is true) */
	uint64_t nnormal, nmask;   /* listed entries of each type */
	unsigned char empty_type;
	char *last;
	size_t last_len, last_cap;
	/* Borrowed, may be NULL: the census also copies every key it lists
	 * there (the replayer's copy of the tracker, tracker_model.h).  Kept
	 * across rt__snapshot_reset(). */
	struct rt__model *copy;
};

/* Clears *snap to "missing" with room for nkeys found[] entries (all 0).
 * A zeroed struct is a valid empty snapshot.  Errors: RT_ENOMEM. */
int rt__snapshot_reset(struct rt__snapshot *snap, size_t nkeys);
void rt__snapshot_free(struct rt__snapshot *snap);

/* Normal references of a census: the listed ones, plus "" if normal. */
uint64_t rt__snapshot_normals(const struct rt__snapshot *snap);

/* Whether a census for a request of nkeys keys must know the key "",
 * which listings never return (it is looked up by name): when the count
 * disagrees with the normal keys listed (a normal "" may explain it), when
 * the request could take the count to zero (a delete must know of every
 * normal key), and for a recount's census of no keys.  Otherwise a "" of
 * either type changes no decision: a normal one would show as a
 * disagreement, a mask counts for nothing. */
int rt__snapshot_needs_empty(const struct rt__snapshot *snap, size_t nkeys);

/* The whole-tracker check every write depends on: for an existing tracker
 * whose census is complete, the stored count must equal its normal keys.
 * RT_ECORRUPT ("refcount 1 but 3 normal keys"), or RT_EINVAL when the
 * census is not complete (a caller's bug: never write on a partial read).
 * A missing tracker passes. */
int rt__snapshot_check(const struct rt__snapshot *snap, char *msg,
                       size_t msgsz);

enum rt__plan_kind {
	RT__PLAN_NOTHING, /* no write: the tracker already says it */
	RT__PLAN_CREATE,  /* exclusive create with every key normal */
	RT__PLAN_UPDATE,  /* guarded: new count, omap keys set and removed */
	RT__PLAN_DELETE   /* guarded: remove the object (count reached 0) */
};

/* One write, in the shape librados' *2 omap calls take.  Keys point into
 * the request; values are static.  Arrays are owned by the plan and reused
 * by the next rt__plan_make() on it. */
struct rt__plan {
	enum rt__plan_kind kind;
	uint64_t guard_version; /* UPDATE and DELETE: assert this version */
	uint32_t refcount;      /* after the write; 0 if deleted or missing */
	unsigned char count_be[4]; /* refcount, as the object data */
	/* The outcome, as rt_outcome has it (attempts and object_version are
	 * the caller's). */
	int created, deleted;
	uint32_t added, removed, masked;
	size_t nset;
	const char **set_keys;
	size_t *set_key_lens;
	const char **set_vals;
	size_t *set_val_lens;
	size_t nrm;
	const char **rm_keys;
	size_t *rm_key_lens;
	size_t cap;
};

/* Plans `req` against `snap` (whose found[] follows req->keys).  *plan is
 * zeroed or from an earlier call.  Errors (msg says why, naming the key):
 * RT_EOVERFLOW (the count would pass UINT32_MAX), RT_ECORRUPT (refcount
 * underflow: the stored count is below the normal refs being dropped),
 * RT_ENOMEM.  Nothing in the plan is meaningful after an error. */
int rt__plan_make(struct rt__plan *plan, const struct rt__request *req,
                  const struct rt__snapshot *snap, char *msg, size_t msgsz);
/* The one write that takes a tracker from `before` (a snapshot whose
 * found[] follows req->keys) to the state after: after_exists,
 * after_refcount and after_found[] over the same keys.  The replayer uses
 * it to send several consecutive entries of one tracker as one guarded
 * write, each entry planned with rt__plan_make() on the state the previous
 * one left.  kind: CREATE (missing before), DELETE (missing after), UPDATE
 * (a key or the count differs), else NOTHING.  The outcome fields are not
 * set.  Errors: RT_ENOMEM. */
int rt__plan_diff(struct rt__plan *plan, const struct rt__request *req,
                  const struct rt__snapshot *before, int after_exists,
                  uint32_t after_refcount, const unsigned char *after_found);
void rt__plan_free(struct rt__plan *plan);

/* Last word before a write is sent: for RT__PLAN_DELETE, the complete
 * census of `before` (the version the delete asserts) must prove that no
 * normal key survives, i.e. every normal key of the tracker is one of
 * req's keys found normal (each of which the plan drops).  Any other kind
 * passes after rt__snapshot_check().  Errors: RT_ECORRUPT, RT_EINVAL. */
int rt__plan_check_write(const struct rt__plan *plan,
                         const struct rt__request *req,
                         const struct rt__snapshot *before, char *msg,
                         size_t msgsz);

#endif
