/*
 * tracker_model.h - what the replayer knows of a whole tracker after its
 * own ops on it (private, pure).
 *
 * tracker_model.c owns the replayer's copy of a tracker: every omap key
 * with its type, the count and the object version, as a complete read
 * showed them and as each of the replayer's own writes since then changed
 * them.  A write's completion gives the version it made, and the plan it
 * carried says what it changed, so the copy stays exact without a read.
 * Planned from the copy, the tracker's next group needs no read of its
 * own: its write asserts the copy's version, so a tracker that anyone
 * else changed meanwhile refuses it (a conflict), and then it is read and
 * planned as usual.  A copy is kept only up to RT__MODEL_MAX_BYTES; a
 * bigger tracker is read each time.  Nothing here talks to RADOS.
 */
#ifndef REFTRACK_TRACKER_MODEL_H
#define REFTRACK_TRACKER_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "plan.h"
#include "request.h"

/* The largest copy kept, keys and their index together: ceph-csi's
 * trackers hold a handful of keys, and the replayer keeps one copy per
 * tracker it has entries for. */
#define RT__MODEL_MAX_BYTES (64 * 1024)

struct rt__model_key {
	size_t off, len;        /* in keys */
	unsigned char type;     /* rt_ref_type */
};

struct rt__model {
	int valid;              /* the copy is exact at `version` */
	int filling;            /* a census is being copied (begin..end) */
	int exists;
	uint64_t version;
	uint32_t refcount;
	/* The caller's: this journal's marker on the tracker at `version`
	 * (0: none). */
	uint64_t marker;
	/* The key "", which listings never return (see plan.h): known when
	 * it was looked up or written. */
	int empty_known;
	unsigned char empty_type;
	/* Every other key, sorted bytewise, each once. */
	struct rt__model_key *ents;
	size_t n, ents_cap;
	char *keys;
	size_t used, keys_cap;
};

/* Starts copying the census of a read: the copy is invalid until
 * rt__model_end() finds it whole. */
void rt__model_begin(struct rt__model *m);
/* One key of the census, in the listing's (bytewise) order.  Past
 * RT__MODEL_MAX_BYTES, or out of memory, the copy is given up
 * (rt__model_end() then leaves it invalid): it only saves reads. */
void rt__model_listed(struct rt__model *m, const char *key, size_t len,
                     unsigned char type);
/* The read is over and `snap` is its whole census (or the tracker is
 * missing): the copy becomes exact at snap->version if every key fitted.
 * Anything else (a census not complete, keys given up) leaves it
 * invalid. */
void rt__model_end(struct rt__model *m, const struct rt__snapshot *snap);
/* The tracker is missing as far as the caller knows, with no version: a
 * create sent without a read.  The copy is valid only for
 * rt__model_apply() of that create. */
void rt__model_missing(struct rt__model *m);
/* Our write of `plan`, planned on the copy's state (a create on a missing
 * tracker, an update guarded on the copy's version), succeeded and made
 * `version`: the copy follows it.  A delete leaves nothing to copy, and
 * a plan of any other state, a copy past the bound or no memory give the
 * copy up (invalid). */
void rt__model_apply(struct rt__model *m, const struct rt__plan *plan,
                    uint64_t version);
/* Forgets the copy (a conflict, an error, a write whose fate is
 * unknown). */
void rt__model_drop(struct rt__model *m);
/* Fills *snap for `req` as a complete read at the copy's version would,
 * marker aside (has_extra 0).  Returns 1 when it did, 0 when the copy
 * cannot stand for a read: invalid, missing, or "" is unknown where a
 * read would look it up (rt__snapshot_needs_empty()).  -1 with RT_ENOMEM;
 * *snap is meaningful only after 1. */
int rt__model_snapshot(const struct rt__model *m,
                       const struct rt__request *req,
                       struct rt__snapshot *snap);
/* Bytes the copy holds (its share of the replayer's memory bound). */
size_t rt__model_bytes(const struct rt__model *m);
void rt__model_free(struct rt__model *m);

#endif
