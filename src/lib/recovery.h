/*
 * recovery.h - deciding, after a crash, whether an in-flight journal entry's
 * write reached the tracker.  Pure: the caller gathers the evidence.
 *
 * The replayer records an entry in-flight, with the object version its
 * write is guarded on and the outcome it planned, before it sends the write;
 * every write it sends also sets the journal's marker xattr on the tracker
 * to the highest seq the write covers.  Entries of one tracker are applied
 * strictly in seq order, so while an entry is in flight no write of this
 * journal with a higher seq can have reached its tracker: a marker >= the
 * entry's seq proves the entry's own write landed.  Other writers never
 * touch the marker, but a tracker that is deleted and created again loses
 * it.  The proof of each verdict is beside its rule in recovery.c.
 */
#ifndef REFTRACK_RECOVERY_H
#define REFTRACK_RECOVERY_H

#include <stdint.h>

#include <reftrack/batch.h>

/* What the in-flight record says. */
struct rt__inflight {
	uint64_t seq;
	rt_op op;
	uint64_t guard_version; /* 0: the write was an exclusive create */
	int planned_delete;     /* the write was to remove the tracker */
};

/* What a fresh read of the tracker shows. */
struct rt__evidence {
	int exists;
	uint64_t version;          /* object version, if it exists */
	int has_marker;            /* this journal's marker xattr is there */
	uint64_t marker_seq;
	int effect_visible;        /* planning the entry against the tracker as
	                            * it is now changes nothing */
};

enum rt__verdict {
	RT__LANDED,       /* the write landed: record the planned outcome */
	RT__NOT_LANDED,   /* it did not: apply the entry as if new */
	RT__AMBIGUOUS     /* cannot tell: needs review, change nothing */
};

enum rt__verdict rt__recovery_verdict(const struct rt__inflight *rec,
                                      const struct rt__evidence *ev);

#endif
