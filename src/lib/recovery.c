/*
 * recovery.c - the verdict on an in-flight entry after a crash.
 *
 * Safety first: a verdict may leak a reference (re-add one that another
 * writer removed meanwhile) but must never remove a reference that someone
 * added after our write, and must never apply a removal twice.
 */
#include "recovery.h"

enum rt__verdict rt__recovery_verdict(const struct rt__inflight *rec,
                                      const struct rt__evidence *ev)
{
	/* Our marker at or past our seq can only have come from this entry's
	 * write (see recovery.h). */
	if (ev->exists && ev->has_marker && ev->marker_seq >= rec->seq)
		return RT__LANDED;

	/* Applying an add again can only add keys that are missing, never
	 * remove one: at worst it re-adds a key someone removed after our
	 * write, which leaks, and leaking is the safe direction. */
	if (rec->op == RT_OP_ADD)
		return RT__NOT_LANDED;

	/* A removal whose write would have deleted the tracker, and the
	 * tracker is gone: either ours landed or another writer removed it
	 * first; applying the entry now would find it missing and report
	 * "deleted" with no write, so both roads end in the same record. */
	if (!ev->exists)
		return rec->planned_delete ? RT__LANDED : RT__NOT_LANDED;

	/* Every write changes the object version: unchanged means nothing,
	 * ours included, was written since we read it. */
	if (rec->guard_version != 0 && ev->version == rec->guard_version)
		return RT__NOT_LANDED;

	/* A marker below our seq: the object has lived since that earlier
	 * write of ours (a re-created object has no marker), and our write
	 * would have raised the marker.  So ours did not land. */
	if (ev->has_marker)
		return RT__NOT_LANDED;

	/* No marker and a changed object: either ours did not land and others
	 * wrote, or ours landed and the tracker was deleted and created again
	 * since.  If the tracker already shows the removal's effect, applying
	 * it would change nothing, so recording it as planned loses nothing.
	 * Otherwise applying it might remove a key someone added after our
	 * write: leave it to an operator. */
	return ev->effect_visible ? RT__LANDED : RT__AMBIGUOUS;
}
