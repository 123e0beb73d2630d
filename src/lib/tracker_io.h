/*
 * tracker_io.h - the librados operations on one tracker (private).
 *
 * tracker_io.c owns the shape of every op sent to a tracker: the read that
 * a plan starts from, the pages of a whole-tracker read, and the one write
 * a plan becomes.  The builders do not send anything, so the same ops
 * serve the synchronous library calls (rt__tio_*_run below, used by
 * tracker.c) and the replayer, which sends them with
 * rados_aio_read_op_operate() / rados_aio_write_op_operate() and many in
 * flight.  For that:
 *  - everything a read op writes into is in struct rt__tio_read, which the
 *    caller keeps at a fixed address until the op completes, then decodes
 *    and releases;
 *  - a write op copies its inputs when built (librados copies keys,
 *    values, data and xattrs into the op), so the plan need not outlive
 *    rt__tio_write_build();
 *  - the object version is the caller's to take from the completion
 *    (rados_aio_get_version()): it belongs to that op alone, unlike
 *    rados_get_last_version(), which is per I/O context and racy.
 *
 * Asynchronous use, for the replayer:
 *
 *	struct rt__tio_read *rd = <stable storage>;
 *	rt__tio_read_keys(rd, &req, marker_name);
 *	rados_aio_read_op_operate(rd->op, io, comp, req.tracker, 0);
 *	... on completion:
 *	r = rados_aio_get_return_value(comp);
 *	v = rados_aio_get_version(comp);
 *	if (r == 0 || r == -ENOENT)
 *		rc = rt__tio_read_decode(&snap, rd, &req, r, v, msg, sizeof(msg));
 *	rt__tio_read_release(rd);
 *	rc = rt__plan_make(&plan, &req, &snap, msg, sizeof(msg));
 *	rt__tio_write_build(&wop, &plan, &marker);   (unless RT__PLAN_NOTHING)
 *	rados_aio_write_op_operate(wop, io, comp2, req.tracker, NULL, 0);
 *	... on completion: rt__tio_write_status(plan, r) says what r means,
 *	rados_aio_get_version(comp2) is the version the write made;
 *	rados_release_write_op(wop).
 */
#ifndef REFTRACK_TRACKER_IO_H
#define REFTRACK_TRACKER_IO_H

#include <stddef.h>
#include <stdint.h>

#include <rados/librados.h>

#include "plan.h"
#include "request.h"

/* Object data read per op: more than any layout holds (4 bytes, or the
 * draft's 8), so a wrong size is seen as such rather than cut to fit. */
#define RT__TIO_DATA_BUF 16
/* Omap entries per page of a whole-tracker read. */
#define RT__TIO_PAGE 1024
/* Omap entries the read of a change lists besides the request's keys:
 * every tracker up to this size (ceph-csi's hold a handful) is checked
 * whole by that one read; a bigger one is paged through before planning
 * (rt__tio_read_page() from snap->last, guarded on snap->version). */
#define RT__TIO_SMALL RT__TIO_PAGE

/* Everything a read op writes into.  Keep it at one address from build to
 * release.  Zeroed or released, it holds nothing. */
struct rt__tio_read {
	rados_read_op_t op;
	rados_xattrs_iter_t xattrs;   /* NULL on later pages */
	rados_omap_iter_t omap;
	rados_omap_iter_t list;       /* read_keys: the first entries */
	rados_omap_iter_t empty;      /* the key "", looked up by name */
	int xattrs_rc, data_rc, omap_rc, list_rc, empty_rc;
	size_t data_len;
	char data[RT__TIO_DATA_BUF];
	unsigned char more;           /* pages: entries follow this page */
	unsigned char list_more;      /* read_keys: entries follow the list */
	const char *extra_xattr;      /* borrowed name, or NULL */
	int header;                   /* xattrs and data are part of it */
};

/* The read a plan starts from: every xattr (the C API has no single-xattr
 * read op; a tracker has one or two), the data, the first RT__TIO_SMALL
 * omap entries (the census, which also gives req's keys) and the value of
 * the key "" (which listings never return).  extra_xattr (may be NULL) names an xattr whose value
 * rt__tio_read_decode() copies into the snapshot.  Errors: RT_ENOMEM. */
int rt__tio_read_keys(struct rt__tio_read *rd, const struct rt__request *req,
                      const char *extra_xattr);

/* One page of a whole-tracker read: up to RT__TIO_PAGE omap entries after
 * start_after ("" or NULL: from the first).  The first page (guard == 0)
 * also reads the xattrs and data; later pages assert the first page's
 * object version (guard), so that all pages show one state of the object:
 * -ERANGE or -EOVERFLOW from one means "changed: start over".
 * Errors: RT_ENOMEM. */
int rt__tio_read_page(struct rt__tio_read *rd, const char *start_after,
                      uint64_t guard, const char *extra_xattr);

/* Releases the op and its iterators; rd is zeroed.  Call it whatever the
 * outcome, but only once the op completed (or was never sent). */
void rt__tio_read_release(struct rt__tio_read *rd);

/* Turns a completed read op for req (op_rc 0 or -ENOENT; version from the
 * completion) into *snap: existence, version, refcount, found[] for req's
 * keys, the extra xattr, and the census of the entries listed.  Validates
 * the version xattr, the data and every value seen; when the census is
 * complete, also the count against the normal keys
 * (rt__snapshot_check()), except for a request of no keys: that census is
 * a recount's, which looks up "" whatever the count says and judges the
 * count itself.  Otherwise (an existing tracker, !snap->complete)
 * the caller reads on with rt__tio_read_more() and rt__tio_census_more()
 * until snap->complete, before planning.
 * Errors (msg says what, naming the key): RT_EFOREIGN, RT_ECORRUPT,
 * RT_EVERSION, RT_EIO (a sub-op failed), RT_ENOMEM. */
int rt__tio_read_decode(struct rt__snapshot *snap, struct rt__tio_read *rd,
                        const struct rt__request *req, int op_rc,
                        uint64_t version, char *msg, size_t msgsz);

/* The next read a census needs (snap from rt__tio_read_decode() or the
 * last rt__tio_census_more(), not yet complete), guarded on snap->version:
 * the next page of the listing, or, once all is listed, the lookup of the
 * key "" (made only when "" can matter: see tracker_io.c).  An op failing
 * with -ERANGE, -EOVERFLOW or -ENOENT means the tracker changed: start
 * over.  Errors: RT_ENOMEM. */
int rt__tio_read_more(struct rt__tio_read *rd,
                      const struct rt__snapshot *snap);

/* Adds what a succeeded rt__tio_read_more() op read to snap's census and
 * found[] (req: the request of the first read), and checks the count once
 * the census is complete.  Errors as for rt__tio_read_decode(). */
int rt__tio_census_more(struct rt__snapshot *snap, struct rt__tio_read *rd,
                        const struct rt__request *req, char *msg,
                        size_t msgsz);

/* For a whole-tracker read: the first page's header (version xattr, data,
 * extra xattr) into *snap, found[] left empty.  The page must have
 * succeeded.  Errors as for rt__tio_read_decode(). */
int rt__tio_read_header(struct rt__snapshot *snap, struct rt__tio_read *rd,
                        uint64_t version, char *msg, size_t msgsz);

/* Calls fn for each omap entry of a succeeded read, in the OSD's (bytewise)
 * order, after validating its value.  fn returning non-zero stops the walk
 * and is returned.  Errors: RT_EFOREIGN, RT_ECORRUPT, RT_EIO. */
typedef int (*rt__tio_entry_fn)(void *arg, const char *key, size_t keylen,
                                rt_ref_type type);
int rt__tio_read_each(struct rt__tio_read *rd, rt__tio_entry_fn fn,
                      void *arg, char *msg, size_t msgsz);

/* The first page's (or rt__tio_read_more()'s) lookup of the key "": calls
 * fn for it if present.
 * Errors as for rt__tio_read_each(). */
int rt__tio_read_empty(struct rt__tio_read *rd, rt__tio_entry_fn fn,
                       void *arg, char *msg, size_t msgsz);

/* One omap entry of a census, counted into snap: "" (the lookup of the
 * empty key, which no listing returns) sets snap->empty_type; a key holding
 * a NUL byte is refused, as no v1 key holds one and the next page, which
 * starts after the key, would cut it there; any other key counts as a
 * normal or a mask reference.  The one rule for every census (the
 * library's and the scan's).  Returns RT__TIO_KEY_COUNTED,
 * RT__TIO_KEY_EMPTY (nothing more to do for it) or RT_ECORRUPT (msg says
 * which key). */
enum { RT__TIO_KEY_COUNTED = 0, RT__TIO_KEY_EMPTY = 1 };
int rt__tio_census_key(struct rt__snapshot *snap, const char *key,
                       size_t keylen, rt_ref_type type, char *msg,
                       size_t msgsz);

/* An xattr to set in the same write, atomically with the change. */
struct rt__tio_xattr {
	const char *name;
	const char *value;
	size_t len;
};

/* The write for a plan (not RT__PLAN_NOTHING), into *out:
 *   CREATE  create(exclusive) + version xattr + omap_set2 + write_full
 *   UPDATE  assert_version + write_full + omap_rm_keys2 + omap_set2
 *   DELETE  assert_version + remove
 * plus, for CREATE and UPDATE, setxattr(extra) when extra is not NULL.  A
 * DELETE removes the object and everything on it, so extra cannot be set
 * there and is ignored: whoever needs evidence of a delete has the
 * object's absence.  Release *out with rados_release_write_op().
 * Errors: RT_EINVAL (RT__PLAN_NOTHING), RT_ENOMEM. */
int rt__tio_write_build(rados_write_op_t *out, const struct rt__plan *plan,
                        const struct rt__tio_xattr *extra);

/* What a write's return value means for the plan it carried. */
enum rt__tio_status {
	RT__TIO_OK,        /* applied */
	RT__TIO_CONFLICT,  /* someone else wrote first: re-read, re-plan */
	RT__TIO_FAILED     /* an error: see rt__err_from_errno() */
};
enum rt__tio_status rt__tio_write_status(const struct rt__plan *plan, int r);

/* Synchronous use: sends the op as aio and waits for it, so that the
 * version comes from the op's own completion.  Returns the op's result
 * (0 or a negative errno); *version is the object version it reports. */
int rt__tio_read_run(struct rt__tio_read *rd, rados_ioctx_t io,
                     const char *oid, uint64_t *version);
int rt__tio_write_run(rados_write_op_t op, rados_ioctx_t io, const char *oid,
                      uint64_t *version);

#endif
