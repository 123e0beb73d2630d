/*
 * tracker_io.c - building, sending and decoding tracker ops.  See
 * tracker_io.h.
 *
 * A read never fails as a whole because of what the object holds: on an
 * existing object getxattrs, a read past the end and a lookup of absent
 * omap keys all succeed, so every sub-op result is there to be judged by
 * format.c.  The only whole-op failures are the object's absence
 * (-ENOENT, which a plan treats as "missing") and real errors.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "format.h"
#include "tracker_io.h"
#include "tracker_model.h"

static void read_reset(struct rt__tio_read *rd, const char *extra_xattr)
{
	memset(rd, 0, sizeof(*rd));
	rd->extra_xattr = extra_xattr;
}

/* The version xattr and the data: the part of a read every plan needs. */
static void add_header(struct rt__tio_read *rd)
{
	rados_read_op_getxattrs(rd->op, &rd->xattrs, &rd->xattrs_rc);
	rados_read_op_read(rd->op, 0, sizeof(rd->data), rd->data,
	                   &rd->data_len, &rd->data_rc);
	rd->header = 1;
}

/* The key "": ceph-csi stores it like any other, but omap listings start
 * strictly after start_after (at least "") and so never return it; only a
 * lookup by name sees it. */
static void add_empty_lookup(struct rt__tio_read *rd)
{
	static const char *const empty_name[1] = { "" };
	static const size_t empty_len[1] = { 0 };

	rados_read_op_omap_get_vals_by_keys2(rd->op, (char const *const *)
	                                     empty_name, 1, empty_len,
	                                     &rd->empty, &rd->empty_rc);
}

int rt__tio_read_keys(struct rt__tio_read *rd, const struct rt__request *req,
                      const char *extra_xattr)
{
	read_reset(rd, extra_xattr);
	rd->op = rados_create_read_op();
	if (!rd->op)
		return RT_ENOMEM;
	/* The request's keys are found in the census (the whole omap is
	 * read before planning anyway), so they need no lookup of their
	 * own, and "" is looked up only when it matters (census_done()):
	 * three sub-ops, as many as a read of the request's keys alone. */
	(void)req;
	add_header(rd);
	rados_read_op_omap_get_vals2(rd->op, "", "", RT__TIO_SMALL, &rd->list,
	                             &rd->list_more, &rd->list_rc);
	return 0;
}

int rt__tio_read_page(struct rt__tio_read *rd, const char *start_after,
                      uint64_t guard, const char *extra_xattr)
{
	read_reset(rd, extra_xattr);
	rd->op = rados_create_read_op();
	if (!rd->op)
		return RT_ENOMEM;
	if (guard) {
		rados_read_op_assert_version(rd->op, guard);
	} else {
		add_header(rd);
		add_empty_lookup(rd);
	}
	rados_read_op_omap_get_vals2(rd->op, start_after ? start_after : "",
	                             "", RT__TIO_PAGE, &rd->omap, &rd->more,
	                             &rd->omap_rc);
	return 0;
}

int rt__tio_read_more(struct rt__tio_read *rd,
                      const struct rt__snapshot *snap)
{
	if (snap->listed)
		read_reset(rd, NULL);
	else if (rt__tio_read_page(rd, snap->last, snap->version, NULL))
		return RT_ENOMEM;
	else
		return 0;
	/* Everything is listed: what is left is the key "". */
	rd->op = rados_create_read_op();
	if (!rd->op)
		return RT_ENOMEM;
	rados_read_op_assert_version(rd->op, snap->version);
	add_empty_lookup(rd);
	return 0;
}

void rt__tio_read_release(struct rt__tio_read *rd)
{
	if (!rd)
		return;
	/* librados allocates the iterators when the op is built, so they are
	 * ended even when the op failed or was never sent. */
	if (rd->xattrs)
		rados_getxattrs_end(rd->xattrs);
	if (rd->omap)
		rados_omap_get_end(rd->omap);
	if (rd->list)
		rados_omap_get_end(rd->list);
	if (rd->empty)
		rados_omap_get_end(rd->empty);
	if (rd->op)
		rados_release_read_op(rd->op);
	memset(rd, 0, sizeof(*rd));
}

static int subop_err(int r, const char *what, char *msg, size_t msgsz)
{
	rt__errmsg_set(msg, msgsz, "reading the %s: %s", what, strerror(-r));
	return rt__err_from_errno(r);
}

int rt__tio_read_header(struct rt__snapshot *snap, struct rt__tio_read *rd,
                        uint64_t version, char *msg, size_t msgsz)
{
	const char *name, *val;
	char ver[RT__VERSION_LEN];
	size_t len, ver_len = 0;
	int r, has_ver = 0, rc;

	if (rd->xattrs_rc < 0)
		return subop_err(rd->xattrs_rc, "xattrs", msg, msgsz);
	if (rd->data_rc < 0)
		return subop_err(rd->data_rc, "data", msg, msgsz);
	snap->exists = 1;
	snap->version = version;
	for (;;) {
		r = rados_getxattrs_next(rd->xattrs, &name, &val, &len);
		if (r < 0)
			return subop_err(r, "xattrs", msg, msgsz);
		if (!name)
			break;
		/* val is freed by the next call: copy what is kept now.  An
		 * empty value comes as NULL. */
		if (strcmp(name, RT_VERSION_XATTR) == 0) {
			has_ver = 1;
			ver_len = len;
			if (len == sizeof(ver))
				memcpy(ver, val, len);
		} else if (rd->extra_xattr && strcmp(name, rd->extra_xattr) == 0) {
			snap->has_extra = 1;
			snap->extra_len = len;
			if (len)
				memcpy(snap->extra, val,
				       len < sizeof(snap->extra)
				           ? len : sizeof(snap->extra));
		}
	}
	if ((rc = rt__fmt_check_version(has_ver, ver, ver_len, msg, msgsz)))
		return rc;
	return rt__fmt_decode_count(&snap->refcount, rd->data, rd->data_len,
	                            rd->data_len >= sizeof(rd->data), msg,
	                            msgsz);
}

/* Walks one omap iterator of a read; see rt__tio_read_each(). */
static int each_entry(rados_omap_iter_t it, int it_rc, rt__tio_entry_fn fn,
                      void *arg, char *msg, size_t msgsz)
{
	char *key, *val;
	size_t keylen, vallen;
	rt_ref_type type;
	int r, rc;

	if (it_rc < 0)
		return subop_err(it_rc, "omap", msg, msgsz);
	if (!it)
		return 0;
	for (;;) {
		r = rados_omap_get_next2(it, &key, &val, &keylen, &vallen);
		if (r < 0)
			return subop_err(r, "omap", msg, msgsz);
		if (!key)
			return 0;
		rc = rt__fmt_decode_type(&type, key, keylen, val, vallen, msg,
		                         msgsz);
		if (rc)
			return rc;
		if ((rc = fn(arg, key, keylen, type)))
			return rc;
	}
}

int rt__tio_read_each(struct rt__tio_read *rd, rt__tio_entry_fn fn,
                      void *arg, char *msg, size_t msgsz)
{
	return each_entry(rd->omap, rd->omap_rc, fn, arg, msg, msgsz);
}

int rt__tio_read_empty(struct rt__tio_read *rd, rt__tio_entry_fn fn,
                       void *arg, char *msg, size_t msgsz)
{
	return each_entry(rd->empty, rd->empty_rc, fn, arg, msg, msgsz);
}

/* ---- the census: every entry of the omap, counted ---------------------- */

struct census_ctx {
	struct rt__snapshot *snap;
	const struct rt__request *req; /* found[] follows its keys */
	size_t seen;
	char *msg;
	size_t msgsz;
	int nomem;
};

int rt__tio_census_key(struct rt__snapshot *snap, const char *key,
                       size_t keylen, rt_ref_type type, char *msg,
                       size_t msgsz)
{
	char q[RT__QUOTE_BUF];

	if (keylen == 0) {
		snap->empty_type = (unsigned char)type;
		return RT__TIO_KEY_EMPTY;
	}
	if (memchr(key, '\0', keylen)) {
		rt__errmsg_set(msg, msgsz, "key %s holds a NUL byte, which v1 "
		               "keys never do", rt__quote(q, key, keylen));
		return RT_ECORRUPT;
	}
	if (type == RT_REF_NORMAL)
		snap->nnormal++;
	else
		snap->nmask++;
	return RT__TIO_KEY_COUNTED;
}

static int census_entry(void *arg, const char *key, size_t keylen,
                        rt_ref_type type)
{
	struct census_ctx *c = arg;
	struct rt__snapshot *snap = c->snap;
	long at = rt__request_find(c->req, key, keylen);
	int rc;

	if (at >= 0)
		snap->found[at] = (unsigned char)type;
	rc = rt__tio_census_key(snap, key, keylen, type, c->msg, c->msgsz);
	if (rc < 0)
		return rc;
	if (snap->copy)
		rt__model_listed(snap->copy, key, keylen, (unsigned char)type);
	if (rc == RT__TIO_KEY_EMPTY)
		return 0;
	if (keylen + 1 > snap->last_cap) {
		char *last = realloc(snap->last, keylen + 1);

		if (!last) {
			c->nomem = 1;
			return RT_ENOMEM;
		}
		snap->last = last;
		snap->last_cap = keylen + 1;
	}
	memcpy(snap->last, key, keylen);
	snap->last[keylen] = '\0';
	snap->last_len = keylen;
	c->seen++;
	return 0;
}

/* The listing is over.  The key "" is looked up (one more read) when it
 * can matter (rt__snapshot_needs_empty()).  Then the count is checked.  A
 * census for no keys is a recount's (rt_tracker_recount()): it needs every
 * normal key, "" too, and judges the count itself. */
static int census_done(struct rt__snapshot *snap,
                       const struct rt__request *req, char *msg,
                       size_t msgsz)
{
	snap->listed = 1;
	if (!snap->empty_known && rt__snapshot_needs_empty(snap, req->nkeys))
		return 0;
	snap->complete = 1;
	return req->nkeys ? rt__snapshot_check(snap, msg, msgsz) : 0;
}

/* Counts one listing into snap's census; finishes it after the last. */
static int census_add(struct rt__snapshot *snap,
                      const struct rt__request *req, rados_omap_iter_t it,
                      int it_rc, int more, char *msg, size_t msgsz)
{
	struct census_ctx c = { snap, req, 0, msg, msgsz, 0 };
	int rc;

	rc = each_entry(it, it_rc, census_entry, &c, msg, msgsz);
	if (rc == RT_ENOMEM && c.nomem)
		rt__errmsg_set(msg, msgsz, "out of memory");
	if (rc)
		return rc;
	if (more && c.seen == 0) {
		rt__errmsg_set(msg, msgsz, "reading the omap: the OSD said more "
		               "entries follow but listed none");
		return RT_EIO;
	}
	return more ? 0 : census_done(snap, req, msg, msgsz);
}

int rt__tio_census_more(struct rt__snapshot *snap, struct rt__tio_read *rd,
                        const struct rt__request *req, char *msg,
                        size_t msgsz)
{
	struct census_ctx e = { snap, req, 0, msg, msgsz, 0 };
	int rc;

	if (!snap->listed)
		return census_add(snap, req, rd->omap, rd->omap_rc, rd->more,
		                  msg, msgsz);
	if ((rc = each_entry(rd->empty, rd->empty_rc, census_entry, &e, msg,
	                     msgsz)))
		return rc;
	snap->empty_known = 1;
	return census_done(snap, req, msg, msgsz);
}

int rt__tio_read_decode(struct rt__snapshot *snap, struct rt__tio_read *rd,
                        const struct rt__request *req, int op_rc,
                        uint64_t version, char *msg, size_t msgsz)
{
	int rc;

	if (rt__snapshot_reset(snap, req->nkeys)) {
		rt__errmsg_set(msg, msgsz, "out of memory");
		return RT_ENOMEM;
	}
	if (op_rc == -ENOENT)
		return 0;
	if (op_rc < 0) {
		rt__errmsg_set(msg, msgsz, "reading: %s", strerror(-op_rc));
		return rt__err_from_errno(op_rc);
	}
	if ((rc = rt__tio_read_header(snap, rd, version, msg, msgsz)))
		return rc;
	return census_add(snap, req, rd->list, rd->list_rc, rd->list_more,
	                  msg, msgsz);
}

int rt__tio_write_build(rados_write_op_t *out, const struct rt__plan *plan,
                        const struct rt__tio_xattr *extra)
{
	rados_write_op_t op;

	*out = NULL;
	if (plan->kind == RT__PLAN_NOTHING)
		return RT_EINVAL;
	op = rados_create_write_op();
	if (!op)
		return RT_ENOMEM;
	switch (plan->kind) {
	case RT__PLAN_CREATE:
		/* Exclusive: a racing creator makes this fail with -EEXIST
		 * instead of both believing they created it. */
		rados_write_op_create(op, LIBRADOS_CREATE_EXCLUSIVE, NULL);
		rados_write_op_setxattr(op, RT_VERSION_XATTR,
		                        rt__fmt_version_value(),
		                        RT__VERSION_LEN);
		rados_write_op_omap_set2(op, plan->set_keys, plan->set_vals,
		                         plan->set_key_lens, plan->set_val_lens,
		                         plan->nset);
		rados_write_op_write_full(op, (const char *)plan->count_be,
		                          RT__DATA_LEN);
		break;
	case RT__PLAN_UPDATE:
		rados_write_op_assert_version(op, plan->guard_version);
		rados_write_op_write_full(op, (const char *)plan->count_be,
		                          RT__DATA_LEN);
		if (plan->nrm)
			rados_write_op_omap_rm_keys2(op, plan->rm_keys,
			                             plan->rm_key_lens,
			                             plan->nrm);
		if (plan->nset)
			rados_write_op_omap_set2(op, plan->set_keys,
			                         plan->set_vals,
			                         plan->set_key_lens,
			                         plan->set_val_lens, plan->nset);
		break;
	case RT__PLAN_DELETE:
		rados_write_op_assert_version(op, plan->guard_version);
		rados_write_op_remove(op);
		break;
	case RT__PLAN_NOTHING:
		break;
	}
	if (extra && plan->kind != RT__PLAN_DELETE)
		rados_write_op_setxattr(op, extra->name, extra->value,
		                        extra->len);
	*out = op;
	return 0;
}

enum rt__tio_status rt__tio_write_status(const struct rt__plan *plan, int r)
{
	if (r >= 0)
		return RT__TIO_OK;
	if (plan->kind == RT__PLAN_CREATE)
		return r == -EEXIST ? RT__TIO_CONFLICT : RT__TIO_FAILED;
	/* assert_version: -ERANGE if the object moved on, -EOVERFLOW if it
	 * is older than the guard (deleted and created again); -ENOENT if it
	 * was deleted. */
	if (r == -ERANGE || r == -EOVERFLOW || r == -ENOENT)
		return RT__TIO_CONFLICT;
	return RT__TIO_FAILED;
}

/* Waits for an op sent with completion c, then takes its result. */
static int finish(rados_completion_t c, int r, uint64_t *version)
{
	if (r == 0) {
		rados_aio_wait_for_complete(c);
		r = rados_aio_get_return_value(c);
		*version = rados_aio_get_version(c);
	}
	rados_aio_release(c);
	return r;
}

int rt__tio_read_run(struct rt__tio_read *rd, rados_ioctx_t io,
                     const char *oid, uint64_t *version)
{
	rados_completion_t c;
	int r;

	*version = 0;
	r = rados_aio_create_completion2(NULL, NULL, &c);
	if (r < 0)
		return r;
	r = rados_aio_read_op_operate(rd->op, io, c, oid, 0);
	return finish(c, r, version);
}

int rt__tio_write_run(rados_write_op_t op, rados_ioctx_t io, const char *oid,
                      uint64_t *version)
{
	rados_completion_t c;
	int r;

	*version = 0;
	r = rados_aio_create_completion2(NULL, NULL, &c);
	if (r < 0)
		return r;
	r = rados_aio_write_op_operate(op, io, c, oid, NULL, 0);
	return finish(c, r, version);
}
