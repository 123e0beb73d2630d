/*
 * scan.c - the read-only audit of a pool's trackers.  See scan.h.
 *
 * Pipeline.  One listing (rados_nobjects_list_*) feeds a window of slots;
 * each slot reads one object with the ops of a whole-tracker read
 * (rt__tio_read_page: xattrs, data, the key "" and the first page of the
 * omap; later pages guarded on the first page's version, so that every page
 * shows one state of the object).  Completions are queued by librados'
 * callback thread and handled on the caller's thread inside
 * rt_scan_next(), which hands out one finished slot at a time and refills
 * the window before it waits.  With a window of 1 it is a sequential scan.
 *
 * The checks are format.c's and plan.c's, the ones every write depends on:
 * rt__fmt_check_version(), rt__fmt_decode_count(), the value check of
 * rt__tio_read_each() and rt__snapshot_check().  The only thing read here
 * that a write's read does not need is every xattr's name, for the
 * journals' markers, so the xattrs are walked here rather than by
 * rt__tio_read_header(), which keeps one.
 *
 * Nothing is written: the ops are read ops, and the I/O contexts are the
 * scan's own, so the caller's pool handle is left as it was.
 */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <rados/librados.h>

#include <reftrack/scan.h>

#include "cluster.h"
#include "error.h"
#include "format.h"
#include "plan.h"
#include "tracker_io.h"

#define DEFAULT_WINDOW 64
#define MARKER_PREFIX "reftrack.j."
/* Reads of one tracker that found it changed between two pages before the
 * scan gives up on it (a tracker that busy is written to all the time). */
#define MAX_REREADS 16

/* A growable byte arena with offsets into it (they survive a realloc). */
struct arena {
	char *buf;
	size_t used, size;
};

struct slot {
	struct rt_scan *scan;
	struct slot *next;          /* ready list or free list */
	rados_completion_t comp;
	int op_rc;
	uint64_t op_version;
	struct rt__tio_read rd;
	char *oid, *ns, *locator;
	uint64_t version;           /* of the first page */
	unsigned reads;             /* whole reads started (rereads + 1) */
	/* The census so far, in plan.c's shape for rt__snapshot_check(). */
	struct rt__snapshot snap;
	struct arena last;          /* the last key listed: next page's start */
	struct arena keys;          /* stale keys and marker strings */
	struct { size_t off, len; } *stale_at; /* in keys */
	size_t nstale, stale_cap;
	size_t *mark_off, nmark, mark_cap; /* id and value, in pairs */
	rt_scan_marker *markers;
	rt_scan_key *stale;
	rt_scan_result res;
	char detail[RT__ERRMSG_MAX];
	int nul_key;                /* the callback refused a key with NUL */
	int nomem;
};

struct rt_scan {
	rt_pool *pool;              /* borrowed */
	rados_ioctx_t list_io, read_io;
	int list_io_open, read_io_open;
	rados_list_ctx_t list;
	int listing, list_done;
	rt_scan_opts opts;
	char *journal_id;
	struct slot *slots;
	struct slot *free_slots;
	struct slot *held;          /* the result last handed out */
	unsigned outstanding;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct slot *ready;         /* under lock */
	rt_scan_stats stats;
	int failed;                 /* an error ended the scan: say it again */
	char errmsg[RT__ERRMSG_MAX];
};

static const char *const problem_names[RT_SCAN_NPROBLEMS] = {
	"sound", "version", "data-size", "foreign", "type-byte", "nul-key",
	"count", "empty-key",
};

const char *rt_scan_problem_name(rt_scan_problem problem)
{
	if ((unsigned)problem >= RT_SCAN_NPROBLEMS)
		return "unknown";
	return problem_names[problem];
}

static int scan_err(struct rt_scan *s, int code, const struct slot *sl,
                    const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* "pool 'P' [namespace 'N'] [object 'O']: text"; returns code. */
static int scan_err(struct rt_scan *s, int code, const struct slot *sl,
                    const char *fmt, ...)
{
	char qp[RT__QUOTE_BUF], qn[RT__QUOTE_BUF], qo[RT__QUOTE_BUF];
	const char *ns = sl ? sl->ns : NULL;
	va_list ap;
	int n;

	rt__quote(qp, s->pool->name, strlen(s->pool->name));
	n = snprintf(s->errmsg, sizeof(s->errmsg), "pool %s%s%s%s%s: ", qp,
	             ns && *ns ? " namespace " : "",
	             ns && *ns ? rt__quote(qn, ns, strlen(ns)) : "",
	             sl ? " object " : "",
	             sl ? rt__quote(qo, sl->oid, strlen(sl->oid)) : "");
	if (n < 0 || (size_t)n >= sizeof(s->errmsg))
		return code;
	va_start(ap, fmt);
	rt__errmsg_vset(s->errmsg + n, sizeof(s->errmsg) - (size_t)n, fmt, ap);
	va_end(ap);
	return code;
}

/* Appends len bytes and a NUL; *off is where they start.  RT_ENOMEM. */
static int arena_put(struct arena *a, const char *p, size_t len, size_t *off)
{
	if (a->size - a->used < len + 1) {
		size_t size = a->size ? a->size : 256;
		char *buf;

		while (size - a->used < len + 1)
			size *= 2;
		buf = realloc(a->buf, size);
		if (!buf)
			return RT_ENOMEM;
		a->buf = buf;
		a->size = size;
	}
	if (len)
		memcpy(a->buf + a->used, p, len);
	a->buf[a->used + len] = '\0';
	*off = a->used;
	a->used += len + 1;
	return 0;
}

/* Grows an array of `each`-byte items to hold n + 1.  RT_ENOMEM. */
static int grow(void *arrp, size_t *cap, size_t n, size_t each)
{
	void **arr = arrp;
	size_t c;
	void *p;

	if (n < *cap)
		return 0;
	c = *cap ? 2 * *cap : 16;
	p = realloc(*arr, c * each);
	if (!p)
		return RT_ENOMEM;
	*arr = p;
	*cap = c;
	return 0;
}

/* Forgets what a read of the slot's object found, for a (re)read. */
static void slot_clear_census(struct slot *sl)
{
	rt__snapshot_reset(&sl->snap, 0); /* 0 keys: cannot fail */
	sl->keys.used = 0;
	sl->last.used = 0;
	sl->nstale = 0;
	sl->nmark = 0;
	sl->nul_key = 0;
	sl->nomem = 0;
	sl->detail[0] = '\0';
	memset(&sl->res, 0, sizeof(sl->res));
}

static void slot_release(struct rt_scan *s, struct slot *sl)
{
	rt__tio_read_release(&sl->rd);
	free(sl->oid);
	free(sl->ns);
	free(sl->locator);
	sl->oid = sl->ns = sl->locator = NULL;
	sl->next = s->free_slots;
	s->free_slots = sl;
}

static void on_complete(rados_completion_t comp, void *arg)
{
	struct slot *sl = arg;
	struct rt_scan *s = sl->scan;

	(void)comp;
	pthread_mutex_lock(&s->lock);
	sl->next = s->ready;
	s->ready = sl;
	pthread_cond_signal(&s->cond);
	pthread_mutex_unlock(&s->lock);
}

/* Sends the slot's built read op.  The I/O context's namespace and locator
 * are copied into the op when it is sent, so one context serves every
 * namespace (each op is sent from this thread only). */
static int slot_send(struct rt_scan *s, struct slot *sl)
{
	int r;

	r = rados_aio_create_completion2(sl, on_complete, &sl->comp);
	if (r < 0)
		return scan_err(s, rt__err_from_errno(r), sl, "creating a "
		                "completion: %s", strerror(-r));
	rados_ioctx_set_namespace(s->read_io, sl->ns);
	rados_ioctx_locator_set_key(s->read_io, sl->locator);
	r = rados_aio_read_op_operate(sl->rd.op, s->read_io, sl->comp,
	                              sl->oid, 0);
	if (r < 0) {
		rados_aio_release(sl->comp);
		sl->comp = NULL;
		return scan_err(s, rt__err_from_errno(r), sl, "reading: %s",
		                strerror(-r));
	}
	s->outstanding++;
	return 0;
}

/* The first page of a whole read (again, after a reread). */
static int slot_first_read(struct rt_scan *s, struct slot *sl)
{
	slot_clear_census(sl);
	sl->reads++;
	rt__tio_read_release(&sl->rd);
	if (rt__tio_read_page(&sl->rd, NULL, 0, NULL))
		return scan_err(s, RT_ENOMEM, sl, "out of memory");
	return slot_send(s, sl);
}

static char *dup_or_null(const char *p)
{
	return p && *p ? strdup(p) : NULL;
}

/* Takes the next listed object into a free slot and sends its read:
 * 0 (sent, or nothing left to list), or an error. */
static int fill_one(struct rt_scan *s)
{
	const char *oid, *loc, *ns;
	struct slot *sl;
	int r;

	r = rados_nobjects_list_next(s->list, &oid, &loc, &ns);
	if (r == -ENOENT) {
		s->list_done = 1;
		return 0;
	}
	if (r < 0)
		return scan_err(s, rt__err_from_errno(r) == RT_ENOTFOUND
		                       ? RT_EIO : rt__err_from_errno(r), NULL,
		                "listing the objects: %s", strerror(-r));
	sl = s->free_slots;
	s->free_slots = sl->next;
	sl->oid = strdup(oid);
	sl->ns = strdup(ns ? ns : "");
	sl->locator = dup_or_null(loc);
	sl->reads = 0;
	s->stats.objects++;
	if (!sl->oid || !sl->ns || (loc && *loc && !sl->locator)) {
		slot_release(s, sl);
		return scan_err(s, RT_ENOMEM, NULL, "out of memory");
	}
	r = slot_first_read(s, sl);
	if (r)
		slot_release(s, sl);
	return r;
}

/* ---- judging what a read returned ------------------------------------- */

/* Walks the xattrs: the version xattr's value into ver/ver_len (has_ver),
 * every journal marker into the slot. */
static int walk_xattrs(struct slot *sl, int *has_ver, char ver[4],
                       size_t *ver_len)
{
	const char *name, *val;
	size_t len;
	int r;

	*has_ver = 0;
	*ver_len = 0;
	if (sl->rd.xattrs_rc < 0)
		return sl->rd.xattrs_rc;
	for (;;) {
		r = rados_getxattrs_next(sl->rd.xattrs, &name, &val, &len);
		if (r < 0)
			return r;
		if (!name)
			return 0;
		if (strcmp(name, RT_VERSION_XATTR) == 0) {
			*has_ver = 1;
			*ver_len = len;
			if (len == RT__VERSION_LEN)
				memcpy(ver, val, len);
		} else if (strncmp(name, MARKER_PREFIX,
		                   sizeof(MARKER_PREFIX) - 1) == 0) {
			const char *id = name + sizeof(MARKER_PREFIX) - 1;

			if (grow(&sl->mark_off, &sl->mark_cap, sl->nmark + 1,
			         sizeof(size_t)) ||
			    arena_put(&sl->keys, id, strlen(id),
			              &sl->mark_off[sl->nmark]) ||
			    arena_put(&sl->keys, val ? val : "", val ? len : 0,
			              &sl->mark_off[sl->nmark + 1]))
				return -ENOMEM;
			sl->nmark += 2;
		}
	}
}

/* Every key of the census passes here (rt__tio_read_each() has checked
 * its value): counted, kept as the next page's start, and held up to the
 * live-key list. */
static int census_key(void *arg, const char *key, size_t keylen,
                      rt_ref_type type)
{
	struct slot *sl = arg;
	struct rt_scan *s = sl->scan;
	size_t off;
	int rc = rt__tio_census_key(&sl->snap, key, keylen, type, sl->detail,
	                            sizeof(sl->detail));

	/* "" is never stale (see rt_scan_result). */
	if (rc == RT__TIO_KEY_EMPTY)
		return 0;
	if (rc == RT_ECORRUPT)
		sl->nul_key = 1;
	if (rc != RT__TIO_KEY_COUNTED)
		return rc;
	sl->last.used = 0;
	if (arena_put(&sl->last, key, keylen, &off))
		goto nomem;
	if (type == RT_REF_NORMAL && s->opts.is_live &&
	    !s->opts.is_live(s->opts.live_arg, key, keylen)) {
		if (grow(&sl->stale_at, &sl->stale_cap, sl->nstale,
		         sizeof(*sl->stale_at)) ||
		    arena_put(&sl->keys, key, keylen,
		              &sl->stale_at[sl->nstale].off))
			goto nomem;
		sl->stale_at[sl->nstale++].len = keylen;
	}
	return 0;
nomem:
	sl->nomem = 1;
	return RT_ENOMEM;
}

/* What a failed check means: the problem it is, with the detail set. */
static rt_scan_problem header_problem(int rc)
{
	return rc == RT_EFOREIGN ? RT_SCAN_FOREIGN : RT_SCAN_VERSION;
}

/* Sets the slot's problem (the first one only counts). */
static void set_problem(struct slot *sl, rt_scan_problem p)
{
	if (sl->res.problem == RT_SCAN_SOUND)
		sl->res.problem = p;
}

/* Outcomes of handling one completion (errors are negative RT_E*). */
enum step {
	STEP_ON = 0,    /* (within handle()) the checks go on */
	STEP_DONE,      /* the slot holds a result */
	STEP_SKIP,      /* not a tracker, or gone: free the slot */
	STEP_SENT       /* another read of the slot is in flight */
};

/* Walks one page's omap (and, on the first, the key ""): STEP_ON,
 * STEP_DONE (a problem, recorded on the slot), or an error. */
static int take_page(struct rt_scan *s, struct slot *sl, int first)
{
	int rc = 0;

	if (first)
		rc = rt__tio_read_empty(&sl->rd, census_key, sl, sl->detail,
		                        sizeof(sl->detail));
	if (!rc)
		rc = rt__tio_read_each(&sl->rd, census_key, sl, sl->detail,
		                       sizeof(sl->detail));
	if (!rc)
		return 0;
	if (rc == RT_ENOMEM && sl->nomem)
		return scan_err(s, RT_ENOMEM, sl, "out of memory");
	if (sl->nul_key)
		set_problem(sl, RT_SCAN_NUL_KEY);
	else if (rc == RT_EFOREIGN)
		set_problem(sl, RT_SCAN_FOREIGN);
	else if (rc == RT_ECORRUPT)
		set_problem(sl, RT_SCAN_TYPE_BYTE);
	else
		return scan_err(s, rc, sl, "%s", sl->detail);
	return STEP_DONE;
}

/* The census is complete: the count against the normal keys. */
static void judge_count(struct slot *sl)
{
	sl->snap.exists = 1;
	sl->snap.complete = 1;
	sl->snap.listed = 1;
	sl->snap.empty_known = 1;
	if (rt__snapshot_check(&sl->snap, sl->detail, sizeof(sl->detail)) ==
	    0)
		return;
	set_problem(sl, sl->snap.empty_type == RT_REF_NORMAL &&
	                        sl->snap.refcount == sl->snap.nnormal
	                    ? RT_SCAN_EMPTY_KEY : RT_SCAN_COUNT);
}

/* The first page's header: whether it is a tracker at all, its version
 * and data.  STEP_ON, STEP_SKIP (not a tracker), STEP_DONE (a problem)
 * or an error. */
static int take_header(struct rt_scan *s, struct slot *sl)
{
	char ver[RT__VERSION_LEN];
	size_t ver_len;
	int has_ver, r, c;

	r = walk_xattrs(sl, &has_ver, ver, &ver_len);
	if (r == -ENOMEM)
		return scan_err(s, RT_ENOMEM, sl, "out of memory");
	if (r < 0)
		return scan_err(s, rt__err_from_errno(r), sl, "reading the "
		                "xattrs: %s", strerror(-r));
	if (!has_ver)
		return STEP_SKIP;
	c = rt__fmt_check_version(1, ver, ver_len, sl->detail,
	                          sizeof(sl->detail));
	if (c) {
		set_problem(sl, header_problem(c));
		return STEP_DONE;
	}
	if (sl->rd.data_rc < 0)
		return scan_err(s, rt__err_from_errno(sl->rd.data_rc), sl,
		                "reading the data: %s",
		                strerror(-sl->rd.data_rc));
	c = rt__fmt_decode_count(&sl->snap.refcount, sl->rd.data,
	                         sl->rd.data_len,
	                         sl->rd.data_len >= sizeof(sl->rd.data),
	                         sl->detail, sizeof(sl->detail));
	if (c) {
		set_problem(sl, c == RT_EFOREIGN ? RT_SCAN_FOREIGN
		                                 : RT_SCAN_DATA_SIZE);
		return STEP_DONE;
	}
	sl->res.has_refcount = 1;
	return STEP_ON;
}

/* Sends the next page of the listing, guarded on the first page's
 * version. */
static int send_next_page(struct rt_scan *s, struct slot *sl)
{
	rt__tio_read_release(&sl->rd);
	if (rt__tio_read_page(&sl->rd, sl->last.buf, sl->version, NULL))
		return scan_err(s, RT_ENOMEM, sl, "out of memory");
	return slot_send(s, sl);
}

/* Handles one completed read of the slot: a step, or an error (< 0). */
static int handle(struct rt_scan *s, struct slot *sl)
{
	int first = sl->rd.header, rc, h;
	int r = sl->op_rc;

	if (first && r == -ENOENT) {
		s->stats.vanished++;
		return STEP_SKIP;
	}
	if (!first && (r == -ERANGE || r == -EOVERFLOW || r == -ENOENT)) {
		/* Changed (or gone) between two pages: the pages would mix
		 * two states.  Read it again from the start. */
		if (sl->reads >= MAX_REREADS)
			return scan_err(s, RT_ECONFLICT, sl, "changed between "
			                "the pages of each of %u reads",
			                sl->reads);
		s->stats.rereads++;
		rc = slot_first_read(s, sl);
		return rc ? rc : STEP_SENT;
	}
	if (r < 0) {
		const char *name = rt__errno_name(r);

		return scan_err(s, rt__err_from_errno(r), sl, "reading: %s%s%s%s",
		                strerror(-r), name ? " (" : "",
		                name ? name : "", name ? ")" : "");
	}
	if (first) {
		sl->version = sl->op_version;
		h = take_header(s, sl);
		if (h == STEP_SKIP)
			s->stats.skipped++;
		if (h != STEP_ON)
			return h;
	}
	h = take_page(s, sl, first);
	if (h != STEP_ON)
		return h;
	if (sl->rd.omap_rc >= 0 && sl->rd.more) {
		if (sl->last.used == 0)
			return scan_err(s, RT_EIO, sl, "reading the omap: the "
			                "OSD said more entries follow but listed "
			                "none");
		rc = send_next_page(s, sl);
		return rc ? rc : STEP_SENT;
	}
	sl->res.has_keys = 1;
	judge_count(sl);
	return STEP_DONE;
}

/* Fills the slot's result from its census. */
static void finish_result(struct rt_scan *s, struct slot *sl)
{
	rt_scan_result *res = &sl->res;
	size_t i;

	res->ns = sl->ns;
	res->tracker = sl->oid;
	res->object_version = sl->version;
	res->detail = res->problem ? sl->detail : "";
	res->refcount = sl->snap.refcount;
	res->empty_key = sl->snap.empty_type;
	if (res->has_keys) {
		res->normal = rt__snapshot_normals(&sl->snap);
		res->masks = sl->snap.nmask +
		             (sl->snap.empty_type == RT_REF_MASK);
	}
	/* Markers and stale keys point into the arena, which no longer
	 * grows: resolve the offsets now. */
	res->nmarkers = sl->nmark / 2;
	res->markers = sl->markers;
	for (i = 0; i < res->nmarkers; i++) {
		sl->markers[i].journal_id = sl->keys.buf + sl->mark_off[2 * i];
		sl->markers[i].value = sl->keys.buf + sl->mark_off[2 * i + 1];
		if (s->journal_id &&
		    strcmp(sl->markers[i].journal_id, s->journal_id) == 0)
			res->local_marker = 1;
	}
	res->nstale = res->problem ? 0 : sl->nstale;
	res->stale = sl->stale;
	for (i = 0; i < res->nstale; i++) {
		sl->stale[i].key = sl->keys.buf + sl->stale_at[i].off;
		sl->stale[i].keylen = sl->stale_at[i].len;
	}

	s->stats.trackers++;
	s->stats.problems[res->problem]++;
	if (res->has_keys) {
		s->stats.normal += res->normal;
		s->stats.masks += res->masks;
	}
	if (res->local_marker)
		s->stats.with_local_marker++;
	if (res->nstale) {
		s->stats.stale += res->nstale;
		s->stats.stale_trackers++;
		if (res->nstale == res->normal)
			s->stats.released++;
	}
}

/* Room for the result's pointer arrays, sized once the census is done. */
static int size_result(struct rt_scan *s, struct slot *sl)
{
	rt_scan_marker *m = sl->markers;
	rt_scan_key *k = sl->stale;

	if (sl->nmark) {
		m = realloc(sl->markers, sl->nmark / 2 * sizeof(*m));
		if (!m)
			return scan_err(s, RT_ENOMEM, sl, "out of memory");
		sl->markers = m;
	}
	if (sl->nstale) {
		k = realloc(sl->stale, sl->nstale * sizeof(*k));
		if (!k)
			return scan_err(s, RT_ENOMEM, sl, "out of memory");
		sl->stale = k;
	}
	return 0;
}

/* ---- the iterator ----------------------------------------------------- */

static struct slot *take_ready(struct rt_scan *s)
{
	struct slot *sl;

	pthread_mutex_lock(&s->lock);
	while (!s->ready)
		pthread_cond_wait(&s->cond, &s->lock);
	sl = s->ready;
	s->ready = sl->next;
	pthread_mutex_unlock(&s->lock);
	return sl;
}

int rt_scan_next(const rt_scan_result **out, rt_scan *s)
{
	struct slot *sl;
	int rc;

	if (!out || !s)
		return RT_EINVAL;
	*out = NULL;
	if (s->failed)
		return s->failed;
	if (s->held) {
		slot_release(s, s->held);
		s->held = NULL;
	}
	for (;;) {
		while (s->free_slots && !s->list_done)
			if ((rc = fill_one(s)))
				goto fail;
		if (s->outstanding == 0)
			return RT_ENOTFOUND;
		sl = take_ready(s);
		s->outstanding--;
		sl->op_rc = rados_aio_get_return_value(sl->comp);
		sl->op_version = rados_aio_get_version(sl->comp);
		rados_aio_release(sl->comp);
		sl->comp = NULL;
		rc = handle(s, sl);
		if (rc == STEP_SENT)
			continue;
		if (rc == STEP_SKIP) {
			slot_release(s, sl);
			continue;
		}
		if (rc == STEP_DONE && (rc = size_result(s, sl)) == 0) {
			finish_result(s, sl);
			s->held = sl;
			*out = &sl->res;
			return 0;
		}
		slot_release(s, sl);
		goto fail;
	}
fail:
	s->failed = rc;
	return rc;
}

void rt_scan_stats_get(rt_scan_stats *out, const rt_scan *s)
{
	if (!out)
		return;
	if (!s) {
		memset(out, 0, sizeof(*out));
		return;
	}
	*out = s->stats;
}

const char *rt_scan_errmsg(const rt_scan *s)
{
	return s ? s->errmsg : "";
}

/* ---- opening and closing ---------------------------------------------- */

int rt_scan_open(rt_scan **out, rt_pool *pool, const rt_scan_opts *opts)
{
	struct rados_pool_stat_t st;
	struct rt_scan *s;
	unsigned i, window;
	int r;

	if (!out)
		return RT_EINVAL;
	*out = NULL;
	s = calloc(1, sizeof(*s));
	if (!s)
		return RT_ENOMEM;
	pthread_mutex_init(&s->lock, NULL);
	pthread_cond_init(&s->cond, NULL);
	*out = s;
	if (!pool || !pool->io_open || !pool->cluster) {
		rt__errmsg_set(s->errmsg, sizeof(s->errmsg), "no open pool");
		return RT_EINVAL;
	}
	s->pool = pool;
	if (opts && opts->version != RT_SCAN_OPTS_VERSION) {
		rt__errmsg_set(s->errmsg, sizeof(s->errmsg),
		               "scan options of version %u (this library knows %u)",
		               opts->version, RT_SCAN_OPTS_VERSION);
		return RT_EINVAL;
	}
	if (opts)
		s->opts = *opts;
	s->opts.journal_id = NULL;
	if (opts && opts->journal_id && !(s->journal_id =
	                                  strdup(opts->journal_id)))
		return scan_err(s, RT_ENOMEM, NULL, "out of memory");
	window = s->opts.window ? s->opts.window : DEFAULT_WINDOW;
	s->slots = calloc(window, sizeof(*s->slots));
	if (!s->slots)
		return scan_err(s, RT_ENOMEM, NULL, "out of memory");
	for (i = window; i-- > 0;) {
		s->slots[i].scan = s;
		s->slots[i].next = s->free_slots;
		s->free_slots = &s->slots[i];
	}
	s->opts.window = window;

	r = rados_ioctx_create(pool->cluster->rados, pool->name, &s->list_io);
	if (r == 0) {
		s->list_io_open = 1;
		r = rados_ioctx_create(pool->cluster->rados, pool->name,
		                       &s->read_io);
		s->read_io_open = r == 0;
	}
	if (r < 0)
		return scan_err(s, rt__err_from_errno(r), NULL, "opening the "
		                "pool: %s", strerror(-r));
	rados_ioctx_set_namespace(s->list_io, s->opts.all_namespaces
	                                          ? LIBRADOS_ALL_NSPACES
	                                          : (*pool->ns ? pool->ns
	                                                       : NULL));
	if (rados_ioctx_pool_stat(s->list_io, &st) == 0)
		s->stats.objects_estimate = st.num_objects;
	r = rados_nobjects_list_open(s->list_io, &s->list);
	if (r < 0)
		return scan_err(s, rt__err_from_errno(r), NULL, "listing the "
		                "objects: %s", strerror(-r));
	s->listing = 1;
	return 0;
}

void rt_scan_close(rt_scan *s)
{
	unsigned i;

	if (!s)
		return;
	/* Ops still in flight (the scan ended early) write into the slots:
	 * wait for them before freeing anything. */
	while (s->outstanding > 0) {
		struct slot *sl = take_ready(s);

		s->outstanding--;
		rados_aio_release(sl->comp);
		sl->comp = NULL;
	}
	if (s->listing)
		rados_nobjects_list_close(s->list);
	for (i = 0; s->slots && i < s->opts.window; i++) {
		struct slot *sl = &s->slots[i];

		rt__tio_read_release(&sl->rd);
		rt__snapshot_free(&sl->snap);
		free(sl->oid);
		free(sl->ns);
		free(sl->locator);
		free(sl->last.buf);
		free(sl->keys.buf);
		free(sl->stale_at);
		free(sl->mark_off);
		free(sl->markers);
		free(sl->stale);
	}
	free(s->slots);
	if (s->read_io_open)
		rados_ioctx_destroy(s->read_io);
	if (s->list_io_open)
		rados_ioctx_destroy(s->list_io);
	pthread_cond_destroy(&s->cond);
	pthread_mutex_destroy(&s->lock);
	free(s->journal_id);
	free(s);
}
