/*
 * tracker.c - rt_tracker_add(), rt_tracker_remove(), rt_tracker_read(),
 * and the one repair, rt_tracker_recount().
 *
 * A change is a loop of rounds: read the tracker (one read op), plan
 * (plan.c), and send the one guarded write the plan needs, if any.  A
 * write can lose a race: the version it asserts has moved on (-ERANGE,
 * -EOVERFLOW), a racing creator got there first (-EEXIST), or a racing
 * remover deleted the object (-ENOENT).  None of them changed anything,
 * so the round starts again from a fresh read.  The first conflicts are
 * retried at once (one other writer is the common case); later ones back
 * off with jitter so that a crowd of writers spreads out and converges.
 *
 * Ops are sent as aio and waited for, even here: the object version must
 * come from the op's own completion, which is thread-safe, where
 * rados_get_last_version() belongs to the whole I/O context.
 *
 * Timeouts are not retried: the caller's op timeout already bounded that
 * wait, and retrying would multiply it.  Other transient errors (EAGAIN,
 * a reset connection, ...) back off and retry within max_attempts.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cluster.h"
#include "error.h"
#include "failpoint.h"
#include "format.h"
#include "plan.h"
#include "request.h"
#include "retry.h"
#include "tracker_io.h"

/* Why the previous round did not finish, for the message when the budget
 * runs out. */
struct round_state {
	rt_retry_policy policy;
	unsigned conflicts;  /* in a row */
	unsigned transients; /* in a row */
	int last_errno;      /* of the last transient error */
	const char *last_what;
};

/* Describes a failed op: "reading: Connection timed out (ETIMEDOUT)". */
static int op_err(rt_pool *pool, const char *tracker, const char *what, int r)
{
	const char *name = rt__errno_name(r);

	if (r == -ENOENT)
		return rt__pool_err(pool, RT_ENOTFOUND, tracker, "%s: %s (the "
		                    "pool or namespace may be gone)", what,
		                    strerror(-r));
	return rt__pool_err(pool, rt__err_from_errno(r), tracker,
	                    "%s: %s%s%s%s", what, strerror(-r),
	                    name ? " (" : "", name ? name : "",
	                    name ? ")" : "");
}

/* After a failed round: 1 to go on (having slept as the policy says), or 0
 * when the budget is spent (the pool's message then says why). */
static int next_round(struct round_state *st, rt_pool *pool,
                      const char *tracker, unsigned attempt, int conflict,
                      int *rc)
{
	unsigned ms;

	if (conflict) {
		st->conflicts++;
		st->transients = 0;
	} else {
		st->transients++;
		st->conflicts = 0;
	}
	if (attempt >= st->policy.max_attempts) {
		if (conflict)
			*rc = rt__pool_err(pool, RT_ECONFLICT, tracker, "gave "
			                   "up after %u attempts: the tracker "
			                   "changed before every write "
			                   "(concurrent writers)", attempt);
		else
			*rc = rt__pool_err(pool, RT_ETRANSIENT, tracker,
			                   "gave up after %u attempts: %s: %s",
			                   attempt, st->last_what,
			                   strerror(-st->last_errno));
		return 0;
	}
	ms = conflict ? rt__retry_conflict_ms(&st->policy, st->conflicts,
	                                      rt__random64())
	              : rt__retry_transient_ms(&st->policy, st->transients,
	                                       rt__random64());
	if (ms)
		rt__sleep_ms(ms);
	return 1;
}

/* A transient error worth another round (not a timeout: see the top). */
static int retryable(int r)
{
	return r != -ETIMEDOUT && rt__err_from_errno(r) == RT_ETRANSIENT;
}

static int pool_usable(rt_pool *pool)
{
	if (!pool)
		return 0;
	if (!pool->io_open) {
		rt__pool_err(pool, RT_EINVAL, NULL, "the pool handle is not "
		             "open");
		return 0;
	}
	return 1;
}

static void fill_outcome(rt_outcome *out, const struct rt__plan *plan,
                         uint64_t version, unsigned attempts)
{
	if (!out)
		return;
	memset(out, 0, sizeof(*out));
	out->created = plan->created;
	out->deleted = plan->deleted;
	out->added = plan->added;
	out->removed = plan->removed;
	out->masked = plan->masked;
	out->refcount = plan->refcount;
	out->object_version = version;
	out->attempts = attempts;
}

/* Reads the rest of a tracker whose first read did not complete its
 * census (more pages, or the key ""), each read guarded on the first
 * read's version; the census checks the count at the end.  Returns
 * 0 with *rc set (0, or an RT_E* code with the reason in msg), or the
 * negative errno of a failed page (-ERANGE, -EOVERFLOW, -ENOENT: the
 * tracker changed, start over). */
static int read_rest(struct rt__snapshot *snap, struct rt__tio_read *rd,
                     rt_pool *pool, const struct rt__request *req, char *msg,
                     size_t msgsz, int *rc)
{
	uint64_t ver;
	int r;

	*rc = 0;
	while (!snap->complete) {
		if (rt__tio_read_more(rd, snap)) {
			rt__errmsg_set(msg, msgsz, "out of memory");
			*rc = RT_ENOMEM;
			return 0;
		}
		r = rt__tio_read_run(rd, pool->io, req->tracker, &ver);
		if (r < 0) {
			rt__tio_read_release(rd);
			return r;
		}
		*rc = rt__tio_census_more(snap, rd, req, msg, msgsz);
		rt__tio_read_release(rd);
		if (*rc)
			return 0;
	}
	return 0;
}

static int change(rt_outcome *out, rt_pool *pool, const struct rt__request *req)
{
	struct round_state st;
	struct rt__tio_read rd;
	struct rt__snapshot snap;
	struct rt__plan plan;
	rados_write_op_t wop = NULL;
	char msg[RT__ERRMSG_MAX];
	unsigned attempt;
	uint64_t ver;
	int rc = 0, r;

	memset(&st, 0, sizeof(st));
	memset(&rd, 0, sizeof(rd));
	memset(&snap, 0, sizeof(snap));
	memset(&plan, 0, sizeof(plan));
	st.policy = rt__retry_effective(&pool->retry);
	for (attempt = 1;; attempt++) {
		if (out)
			out->attempts = attempt;
		if (rt__tio_read_keys(&rd, req, NULL)) {
			rc = rt__pool_err(pool, RT_ENOMEM, req->tracker,
			                  "out of memory");
			goto done;
		}
		r = rt__tio_read_run(&rd, pool->io, req->tracker, &ver);
		if (r < 0 && r != -ENOENT) {
			rt__tio_read_release(&rd);
			if (retryable(r)) {
				st.last_errno = r;
				st.last_what = "reading";
				if (next_round(&st, pool, req->tracker, attempt,
				               0, &rc))
					continue;
				goto done;
			}
			rc = op_err(pool, req->tracker, "reading", r);
			goto done;
		}
		rc = rt__tio_read_decode(&snap, &rd, req, r, ver, msg,
		                         sizeof(msg));
		rt__tio_read_release(&rd);
		if (!rc && snap.exists && !snap.complete) {
			/* The rest of it, before planning. */
			r = read_rest(&snap, &rd, pool, req, msg, sizeof(msg),
			              &rc);
			if (r == -ERANGE || r == -EOVERFLOW || r == -ENOENT) {
				if (next_round(&st, pool, req->tracker, attempt,
				               1, &rc))
					continue;
				goto done;
			}
			if (r < 0) {
				if (retryable(r)) {
					st.last_errno = r;
					st.last_what = "reading on";
					if (next_round(&st, pool, req->tracker,
					               attempt, 0, &rc))
						continue;
					goto done;
				}
				rc = op_err(pool, req->tracker, "reading on",
				            r);
				goto done;
			}
		}
		if (!rc)
			rc = rt__plan_make(&plan, req, &snap, msg, sizeof(msg));
		if (!rc)
			rc = rt__plan_check_write(&plan, req, &snap, msg,
			                          sizeof(msg));
		if (rc) {
			rt__pool_err(pool, rc, req->tracker, "%s", msg);
			goto done;
		}
		if (plan.kind == RT__PLAN_NOTHING) {
			fill_outcome(out, &plan, 0, attempt);
			goto done;
		}

		if (rt__tio_write_build(&wop, &plan, NULL)) {
			rc = rt__pool_err(pool, RT_ENOMEM, req->tracker,
			                  "out of memory");
			goto done;
		}
		r = rt__tio_write_run(wop, pool->io, req->tracker, &ver);
		rados_release_write_op(wop);
		wop = NULL;
		switch (rt__tio_write_status(&plan, r)) {
		case RT__TIO_OK:
			fill_outcome(out, &plan,
			             plan.kind == RT__PLAN_DELETE ? 0 : ver,
			             attempt);
			goto done;
		case RT__TIO_CONFLICT:
			if (next_round(&st, pool, req->tracker, attempt, 1,
			               &rc))
				continue;
			goto done;
		case RT__TIO_FAILED:
			break;
		}
		if (retryable(r)) {
			st.last_errno = r;
			st.last_what = "writing";
			if (next_round(&st, pool, req->tracker, attempt, 0, &rc))
				continue;
			goto done;
		}
		rc = op_err(pool, req->tracker, "writing", r);
		goto done;
	}
done:
	if (rc == 0)
		rt__pool_err_clear(pool);
	rt__plan_free(&plan);
	rt__snapshot_free(&snap);
	return rc;
}

/* Applies the request an rt__request_init*() call built (init_rc and msg:
 * its result) to pool, and frees it.  *out is cleared first either way. */
static int apply_request(rt_outcome *out, rt_pool *pool, const char *tracker,
                         struct rt__request *req, int init_rc,
                         const char *msg)
{
	int rc;

	if (out)
		memset(out, 0, sizeof(*out));
	if (!pool_usable(pool)) {
		if (init_rc == 0)
			rt__request_free(req);
		return RT_EINVAL;
	}
	if (init_rc)
		return rt__pool_err(pool, init_rc, tracker, "%s", msg);
	rc = change(out, pool, req);
	rt__request_free(req);
	return rc;
}

int rt_tracker_add(rt_outcome *out, rt_pool *pool, const char *tracker,
                   const char *const *keys, size_t nkeys)
{
	struct rt__request req;
	char msg[RT__ERRMSG_MAX];
	int rc = rt__request_init_add(&req, tracker, keys, nkeys, msg,
	                              sizeof(msg));

	return apply_request(out, pool, tracker, &req, rc, msg);
}

int rt_tracker_remove(rt_outcome *out, rt_pool *pool, const char *tracker,
                      const rt_ref *refs, size_t nrefs)
{
	struct rt__request req;
	char msg[RT__ERRMSG_MAX];
	int rc = rt__request_init(&req, RT_OP_REMOVE, tracker, refs, nrefs,
	                          msg, sizeof(msg));

	return apply_request(out, pool, tracker, &req, rc, msg);
}

/* ---- reading a whole tracker ----------------------------------------- */

/* The info handed out, with the one block its key strings live in. */
struct info_box {
	rt_tracker_info info; /* first: rt_tracker_info_free() casts back */
	char *arena;
};

/* Entries collected over the pages of one read. */
struct collect {
	rt_ref *refs;
	size_t *offs;  /* key offsets in arena: it moves as it grows */
	size_t n, cap;
	char *arena;
	size_t used, size;
	const char *last; /* start_after for the next page (in arena) */
	char *errmsg;     /* for keys the API cannot represent */
	size_t errmsgsz;
};

static int collect_entry(void *arg, const char *key, size_t keylen,
                         rt_ref_type type)
{
	struct collect *c = arg;
	char q[RT__QUOTE_BUF];

	if (memchr(key, '\0', keylen)) {
		/* rt_ref keys are C strings, and the next page starts after
		 * this key, which a NUL would cut short. */
		rt__errmsg_set(c->errmsg, c->errmsgsz, "key %s holds a NUL "
		               "byte, which v1 keys never do",
		               rt__quote(q, key, keylen));
		return RT_ECORRUPT;
	}
	if (c->n == c->cap) {
		size_t cap = c->cap ? 2 * c->cap : 64;
		rt_ref *refs = realloc(c->refs, cap * sizeof(*refs));
		size_t *offs;

		if (!refs)
			return RT_ENOMEM;
		c->refs = refs;
		offs = realloc(c->offs, cap * sizeof(*offs));
		if (!offs)
			return RT_ENOMEM;
		c->offs = offs;
		c->cap = cap;
	}
	if (c->size - c->used < keylen + 1) {
		size_t size = c->size ? c->size : 4096;
		char *arena;

		while (size - c->used < keylen + 1)
			size *= 2;
		arena = realloc(c->arena, size);
		if (!arena)
			return RT_ENOMEM;
		c->arena = arena;
		c->size = size;
	}
	memcpy(c->arena + c->used, key, keylen);
	c->arena[c->used + keylen] = '\0';
	c->offs[c->n] = c->used;
	c->refs[c->n].type = type;
	c->n++;
	c->used += keylen + 1;
	return 0;
}

static void collect_reset(struct collect *c)
{
	c->n = 0;
	c->used = 0;
}

static void collect_free(struct collect *c)
{
	free(c->refs);
	free(c->offs);
	free(c->arena);
}

static int cmp_ref(const void *a, const void *b)
{
	return strcmp(((const rt_ref *)a)->key, ((const rt_ref *)b)->key);
}

void rt_tracker_info_free(rt_tracker_info *info)
{
	struct info_box *box = (struct info_box *)info;

	if (!box)
		return;
	free(box->info.refs);
	free(box->arena);
	free(box);
}

/* After a whole-tracker read failed with the negative errno r (what: the
 * step): 1 to read again, having slept as the policy says (a later page
 * found the object changed or gone, so the pages would mix two states; or
 * a transient error), 0 with *rc set when it is over. */
static int read_again(struct round_state *st, rt_pool *pool,
                      const char *tracker, unsigned attempt, int r,
                      const char *what, int *rc)
{
	if (r == -ERANGE || r == -EOVERFLOW || r == -ENOENT)
		return next_round(st, pool, tracker, attempt, 1, rc);
	if (retryable(r)) {
		st->last_errno = r;
		st->last_what = what;
		return next_round(st, pool, tracker, attempt, 0, rc);
	}
	*rc = op_err(pool, tracker, what, r);
	return 0;
}

/* One consistent pass over the tracker: 0, RT_E* (message set), or a
 * negative errno with *what naming the step, for the caller's retry. */
static int read_pass(struct collect *c, struct rt__snapshot *snap,
                     rt_pool *pool, const char *tracker, const char **what)
{
	struct rt__tio_read rd;
	char msg[RT__ERRMSG_MAX];
	char *after = NULL;
	uint64_t ver, guard = 0;
	int more = 1, r, rc = 0;

	memset(&rd, 0, sizeof(rd));
	collect_reset(c);
	c->errmsg = msg;
	c->errmsgsz = sizeof(msg);
	msg[0] = '\0';
	while (more) {
		if (rt__tio_read_page(&rd, after, guard, NULL)) {
			rc = rt__pool_err(pool, RT_ENOMEM, tracker,
			                  "out of memory");
			goto done;
		}
		r = rt__tio_read_run(&rd, pool->io, tracker, &ver);
		if (r == -ENOENT && !guard) {
			rc = rt__pool_err(pool, RT_ENOTFOUND, tracker,
			                  "tracker not found");
			goto done;
		}
		if (r < 0) {
			*what = guard ? "reading a later page" : "reading";
			rc = r;
			goto done;
		}
		if (!guard) {
			if ((rc = rt__tio_read_header(snap, &rd, ver, msg,
			                              sizeof(msg))))
				goto fail;
			guard = ver;
			/* The key "", which no page lists. */
			rc = rt__tio_read_empty(&rd, collect_entry, c, msg,
			                        sizeof(msg));
			if (rc == RT_ENOMEM && !msg[0])
				rt__errmsg_set(msg, sizeof(msg),
				               "out of memory");
			if (rc)
				goto fail;
		}
		rc = rt__tio_read_each(&rd, collect_entry, c, msg, sizeof(msg));
		if (rc == RT_ENOMEM && !msg[0])
			rt__errmsg_set(msg, sizeof(msg), "out of memory");
		if (rc)
			goto fail;
		more = rd.more && c->n > 0;
		if (more) {
			free(after);
			after = strdup(c->arena + c->offs[c->n - 1]);
			if (!after) {
				rc = rt__pool_err(pool, RT_ENOMEM, tracker,
				                  "out of memory");
				goto done;
			}
		}
		rt__tio_read_release(&rd);
	}
	goto done;
fail:
	rt__pool_err(pool, rc, tracker, "%s", msg);
done:
	rt__tio_read_release(&rd);
	free(after);
	return rc;
}

int rt_tracker_read(rt_tracker_info **out, rt_pool *pool, const char *tracker)
{
	struct round_state st;
	struct rt__snapshot snap;
	struct collect c;
	struct info_box *box = NULL;
	char msg[RT__ERRMSG_MAX];
	const char *what = "reading";
	unsigned attempt;
	size_t i;
	int rc;

	memset(&st, 0, sizeof(st));
	memset(&snap, 0, sizeof(snap));
	memset(&c, 0, sizeof(c));
	if (!out)
		return RT_EINVAL;
	*out = NULL;
	if (!pool_usable(pool))
		return RT_EINVAL;
	if ((rc = rt__request_check_tracker(tracker, msg, sizeof(msg))))
		return rt__pool_err(pool, rc, tracker, "%s", msg);
	st.policy = rt__retry_effective(&pool->retry);
	for (attempt = 1;; attempt++) {
		rc = read_pass(&c, &snap, pool, tracker, &what);
		if (rc >= 0 || RT__IS_CODE(rc))
			break;
		if (read_again(&st, pool, tracker, attempt, rc, what, &rc))
			continue;
		goto done;
	}
	if (rc)
		goto done;

	box = calloc(1, sizeof(*box));
	if (!box) {
		rc = rt__pool_err(pool, RT_ENOMEM, tracker, "out of memory");
		goto done;
	}
	box->info.object_version = snap.version;
	box->info.format_version = RT_FORMAT_VERSION;
	box->info.refcount = snap.refcount;
	box->info.nrefs = c.n;
	/* Hand the arrays over: the info owns them from here. */
	box->info.refs = c.refs;
	box->arena = c.arena;
	c.refs = NULL;
	c.arena = NULL;
	for (i = 0; i < box->info.nrefs; i++)
		box->info.refs[i].key = box->arena + c.offs[i];
	/* The OSD lists keys bytewise already; sorting again costs little
	 * and makes the promise independent of that. */
	if (box->info.nrefs > 1)
		qsort(box->info.refs, box->info.nrefs, sizeof(rt_ref), cmp_ref);
	*out = &box->info;
	rt__pool_err_clear(pool);
done:
	collect_free(&c);
	rt__snapshot_free(&snap);
	return rc;
}

/* ---- recounting ------------------------------------------------------ */

/* One census of the whole tracker at one object version (req: no keys,
 * so every page is read and "" is looked up).  Returns as read_rest()
 * does: 0 with *rc set (snap->exists 0: no such object), or the negative
 * errno of a failed read (-ERANGE, -EOVERFLOW, -ENOENT from a later one:
 * the tracker changed, start over). */
static int census_whole(struct rt__snapshot *snap, rt_pool *pool,
                        const struct rt__request *req, char *msg,
                        size_t msgsz, int *rc)
{
	struct rt__tio_read rd;
	uint64_t ver;
	int r;

	memset(&rd, 0, sizeof(rd));
	*rc = 0;
	if (rt__tio_read_keys(&rd, req, NULL)) {
		rt__errmsg_set(msg, msgsz, "out of memory");
		*rc = RT_ENOMEM;
		return 0;
	}
	r = rt__tio_read_run(&rd, pool->io, req->tracker, &ver);
	if (r < 0 && r != -ENOENT) {
		rt__tio_read_release(&rd);
		return r;
	}
	*rc = rt__tio_read_decode(snap, &rd, req, r, ver, msg, msgsz);
	rt__tio_read_release(&rd);
	if (*rc || !snap->exists || snap->complete)
		return 0;
	return read_rest(snap, &rd, pool, req, msg, msgsz, rc);
}

int rt_tracker_recount(rt_recount *out, rt_pool *pool, const char *tracker,
                       uint64_t expect_version, unsigned flags)
{
	struct round_state st;
	struct rt__request req;
	struct rt__snapshot snap;
	struct rt__plan plan;
	rados_write_op_t wop = NULL;
	char msg[RT__ERRMSG_MAX];
	unsigned attempt;
	uint64_t ver;
	int rc = 0, r;

	if (!out)
		return RT_EINVAL;
	memset(out, 0, sizeof(*out));
	if (!pool_usable(pool))
		return RT_EINVAL;
	if (flags & ~RT_RECOUNT_WRITE)
		return rt__pool_err(pool, RT_EINVAL, tracker, "unknown recount "
		                    "flags 0x%x", flags);
	if ((rc = rt__request_check_tracker(tracker, msg, sizeof(msg))))
		return rt__pool_err(pool, rc, tracker, "%s", msg);
	memset(&st, 0, sizeof(st));
	memset(&snap, 0, sizeof(snap));
	memset(&plan, 0, sizeof(plan));
	/* A request for no keys: the census reads every key and leaves the
	 * count to us (tracker_io.c, census_done()). */
	memset(&req, 0, sizeof(req));
	req.op = RT_OP_REMOVE;
	req.tracker = tracker;
	req.tracker_len = strlen(tracker);
	st.policy = rt__retry_effective(&pool->retry);
	for (attempt = 1;; attempt++) {
		r = census_whole(&snap, pool, &req, msg, sizeof(msg), &rc);
		if (r == 0)
			break;
		/* expect_version, if any, is judged on a whole read. */
		if (read_again(&st, pool, tracker, attempt, r, "reading", &rc))
			continue;
		goto done;
	}
	if (rc) {
		rt__pool_err(pool, rc, tracker, "%s", msg);
		goto done;
	}
	if (!snap.exists) {
		rc = rt__pool_err(pool, RT_ENOTFOUND, tracker,
		                  "tracker not found");
		goto done;
	}
	out->object_version = snap.version;
	out->refcount = snap.refcount;
	out->normal_keys = rt__snapshot_normals(&snap);
	out->mask_keys = snap.nmask + (snap.empty_type == RT_REF_MASK);
	if (expect_version && snap.version != expect_version) {
		rc = rt__pool_err(pool, RT_ECONFLICT, tracker, "object version "
		                  "is %llu, not %llu as expected: the tracker "
		                  "changed since; nothing written",
		                  (unsigned long long)snap.version,
		                  (unsigned long long)expect_version);
		goto done;
	}
	/* The same verdict every write depends on (plan.c). */
	if (rt__snapshot_check(&snap, msg, sizeof(msg)) == 0)
		goto done;
	out->needed = 1;
	if (out->normal_keys > UINT32_MAX) {
		rc = rt__pool_err(pool, RT_EOVERFLOW, tracker, "%llu normal "
		                  "keys do not fit a 32-bit count",
		                  (unsigned long long)out->normal_keys);
		goto done;
	}
	if (!(flags & RT_RECOUNT_WRITE))
		goto done;
	/* An update that only writes the data: no key set or removed.  Never
	 * a delete, even for 0 normal keys: leak rather than delete. */
	plan.kind = RT__PLAN_UPDATE;
	plan.guard_version = snap.version;
	plan.refcount = (uint32_t)out->normal_keys;
	rt__be32_put(plan.count_be, plan.refcount);
	if (rt__tio_write_build(&wop, &plan, NULL)) {
		rc = rt__pool_err(pool, RT_ENOMEM, tracker, "out of memory");
		goto done;
	}
	/* test_repair.sh changes the tracker here (failpoint.h). */
	RT_STOPPOINT("recount-before-write");
	r = rt__tio_write_run(wop, pool->io, tracker, &ver);
	rados_release_write_op(wop);
	switch (rt__tio_write_status(&plan, r)) {
	case RT__TIO_OK:
		out->written = 1;
		out->new_version = ver;
		break;
	case RT__TIO_CONFLICT:
		/* Not retried: what was read is what the caller was shown. */
		rc = rt__pool_err(pool, RT_ECONFLICT, tracker, "the tracker "
		                  "changed after it was read at object version "
		                  "%llu; nothing written",
		                  (unsigned long long)snap.version);
		break;
	case RT__TIO_FAILED:
		rc = op_err(pool, tracker, "writing", r);
		break;
	}
done:
	if (rc == 0)
		rt__pool_err_clear(pool);
	rt__snapshot_free(&snap);
	return rc;
}
