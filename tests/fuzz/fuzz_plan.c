/*
 * fuzz_plan.c - libFuzzer target for the tracker decoder and the planner:
 * format.c (version, count and type decoding), request.c (validation and
 * normalisation) and plan.c (rt__plan_make, rt__plan_diff).
 *
 * The input drives a tracker through a chain of requests, the way the
 * replayer does: each request is validated, the tracker is "read" (its
 * state encoded to bytes and decoded back through format.c, sometimes with
 * a corruption injected that must be refused), planned, and the plan's
 * write applied to the state.  An independent model of ceph-csi's rules
 * says what every step must give, and these invariants are asserted:
 *   - validation refuses exactly the bad requests (empty or long tracker
 *     names, long keys, bad types, masks in an add, a key both normal and
 *     mask; the empty key is a key) and leaves the others sorted, each key
 *     once;
 *   - the count never underflows nor overflows: such a request is refused
 *     with nothing planned;
 *   - the count moves exactly with the normal keys: a masked key is never
 *     counted;
 *   - the plan's write, applied to the state, gives the model's state, and
 *     its outcome (added, removed, masked, created, deleted) matches;
 *   - the diff between the state at the start of a group and after it,
 *     applied to the start, gives the state after (what the replayer sends);
 *   - the whole-tracker checks before a write (rt__snapshot_check,
 *     rt__plan_check_write) refuse exactly the trackers whose count
 *     disagrees with their normal keys, never let a delete through while a
 *     normal key survives it, and a consistent tracker stays consistent;
 *   - the replayer's copy of the tracker (tracker_model.c), made from the
 *     starting tracker's census and then following each write, stays
 *     exact: wherever it stands in for a read it shows what the read shows,
 *     it stands in for every read of an existing tracker but where the key
 *     "" is unknown, and it is gone after a delete.
 */
#include <stdint.h>
#include <string.h>

#include "error.h"
#include "format.h"
#include "fuzz_input.h"
#include "plan.h"
#include "request.h"
#include "tracker_model.h"

#define UMAX 24     /* distinct keys a tracker may hold in one run */
#define MAXREFS 10  /* refs per request */
#define NAMED 12    /* keys k0..k11 the fuzzer picks by one byte */

struct ukey {
	char name[RT_KEY_MAX + 1];
	size_t len;
};

/* A tracker restricted to the keys this run has named. */
struct state {
	int exists;
	uint32_t refcount;
	uint64_t version;
	unsigned char type[UMAX]; /* 0 absent, 1 normal, 2 mask */
};

static struct ukey universe[UMAX];
static size_t nuniverse;

static char keybuf[MAXREFS][RT_KEY_MAX + 64];
static char trackerbuf[RT_TRACKER_NAME_MAX + 64];
static char msg[RT__ERRMSG_MAX];

/* The replayer's copy of the tracker, followed write by write. */
static struct rt__model copy;

static long ufind(const char *key, size_t len)
{
	size_t i;

	for (i = 0; i < nuniverse; i++)
		if (universe[i].len == len && memcmp(universe[i].name, key, len) == 0)
			return (long)i;
	return -1;
}

static long uadd(const char *key, size_t len)
{
	long i = ufind(key, len);

	if (i >= 0 || nuniverse == UMAX)
		return i;
	memcpy(universe[nuniverse].name, key, len);
	universe[nuniverse].name[len] = '\0';
	universe[nuniverse].len = len;
	return (long)nuniverse++;
}

/* A C string from the input into buf: a named key, or raw bytes (cut at
 * a NUL, as a C caller's string would be), now and then longer than any
 * limit. */
static const char *fz_string(struct fz *in, char *buf, size_t bufsz,
                             int named)
{
	uint8_t b = fz_u8(in);
	const uint8_t *raw;
	size_t len, want;

	if (named && b < 0xf0) {
		snprintf(buf, bufsz, "k%u", (unsigned)(b % NAMED));
		return buf;
	}
	want = fz_u8(in);
	if (b == 0xff)
		want = want * 16 + 1;
	if (want > bufsz - 1)
		want = bufsz - 1;
	len = fz_bytes(in, &raw, want);
	memcpy(buf, raw, len);
	buf[len] = '\0';
	return buf;
}

static int key_cmp(const char *a, size_t alen, const char *b, size_t blen)
{
	int c = memcmp(a, b, alen < blen ? alen : blen);

	if (c)
		return c;
	return alen == blen ? 0 : (alen < blen ? -1 : 1);
}

/* What rt__request_init() must say about a request, decided without it. */
static int expect_valid(rt_op op, const char *tracker, const rt_ref *refs,
                        size_t n)
{
	size_t i, j, tl = strlen(tracker);

	if (tl == 0 || tl > RT_TRACKER_NAME_MAX || n == 0)
		return 0;
	for (i = 0; i < n; i++) {
		/* The empty key is a key (ceph-csi stores and counts it). */
		if (strlen(refs[i].key) > RT_KEY_MAX)
			return 0;
		if (refs[i].type != RT_REF_NORMAL && refs[i].type != RT_REF_MASK)
			return 0;
		if (op == RT_OP_ADD && refs[i].type != RT_REF_NORMAL)
			return 0;
	}
	for (i = 0; i < n; i++)
		for (j = i + 1; j < n; j++)
			if (strcmp(refs[i].key, refs[j].key) == 0 &&
			    refs[i].type != refs[j].type)
				return 0;
	return 1;
}

static void check_normalised(const struct rt__request *req, rt_op op,
                             const rt_ref *refs, size_t n)
{
	size_t i, distinct = 0;

	FZ_ASSERT(req->op == op && req->nkeys >= 1 && req->nkeys <= n);
	for (i = 0; i < req->nkeys; i++) {
		FZ_ASSERT(req->names[i] == req->keys[i].key);
		FZ_ASSERT(req->lens[i] == req->keys[i].len);
		FZ_ASSERT(req->keys[i].len == strlen(req->keys[i].key));
		if (i > 0)
			FZ_ASSERT(key_cmp(req->keys[i - 1].key, req->keys[i - 1].len,
			                  req->keys[i].key, req->keys[i].len) < 0);
	}
	for (i = 0; i < n; i++) {
		long at = rt__request_find(req, refs[i].key, strlen(refs[i].key));
		size_t j;
		int first = 1;

		FZ_ASSERT(at >= 0);
		FZ_ASSERT(req->keys[at].type == refs[i].type);
		for (j = 0; j < i; j++)
			if (strcmp(refs[i].key, refs[j].key) == 0)
				first = 0;
		distinct += (size_t)first;
	}
	FZ_ASSERT(distinct == req->nkeys);
}

/*
 * Reading the tracker: its state encoded as RADOS would hold it and decoded
 * back through format.c.  A corruption byte of 0xff instead damages one
 * part; the decoder must then refuse with the right error, and the caller
 * plans nothing.  Returns 1 when the read is clean.
 */
static int read_tracker(struct fz *in, const struct state *st,
                        const struct rt__request *req,
                        struct rt__snapshot *snap)
{
	unsigned char count_be[4];
	uint32_t count;
	size_t i;
	int rc;

	FZ_ASSERT(rt__snapshot_reset(snap, req->nkeys) == 0);
	if (fz_u8(in) == 0xff) {
		uint8_t what = fz_u8(in) % 8;
		unsigned char bad[9];
		const uint8_t *raw;
		size_t len = fz_bytes(in, &raw, sizeof(bad));
		rt_ref_type type;

		memset(bad, 0, sizeof(bad));
		memcpy(bad, raw, len);
		msg[0] = '\0';
		switch (what) {
		case 0:
			rc = rt__fmt_check_version(0, NULL, 0, msg, sizeof(msg));
			FZ_ASSERT(rc == RT_EFOREIGN);
			break;
		case 1:
			len = len == RT__VERSION_LEN ? len + 1 : len;
			rc = rt__fmt_check_version(1, (char *)bad, len, msg,
			                           sizeof(msg));
			FZ_ASSERT(rc == RT_ECORRUPT);
			break;
		case 2:
			if (rt__be32_get(bad) == RT_FORMAT_VERSION)
				bad[0] = 0x80;
			rc = rt__fmt_check_version(1, (char *)bad, 4, msg,
			                           sizeof(msg));
			FZ_ASSERT(rc == RT_EVERSION);
			break;
		case 3:
			rc = rt__fmt_decode_count(&count, (char *)bad, 8, 0, msg,
			                          sizeof(msg));
			FZ_ASSERT(rc == RT_EFOREIGN && count == 0);
			break;
		case 4:
			if (len == RT__DATA_LEN || len == RT__DRAFT_DATA_LEN)
				len++;
			rc = rt__fmt_decode_count(&count, (char *)bad, len, 0, msg,
			                          sizeof(msg));
			FZ_ASSERT(rc == RT_ECORRUPT && count == 0);
			break;
		case 5:
			/* The read filled its buffer: more bytes than fit. */
			rc = rt__fmt_decode_count(&count, (char *)bad, len, 1, msg,
			                          sizeof(msg));
			FZ_ASSERT(rc == RT_ECORRUPT && count == 0);
			break;
		case 6:
			rc = rt__fmt_decode_type(&type, "k", 1, "", 0, msg,
			                         sizeof(msg));
			FZ_ASSERT(rc == RT_EFOREIGN);
			break;
		default:
			if (len == 1 && (bad[0] == 1 || bad[0] == 2))
				bad[0] += 2;
			if (len == 0)
				len = 2;
			rc = rt__fmt_decode_type(&type, (char *)bad, len,
			                         (char *)bad, len, msg,
			                         sizeof(msg));
			FZ_ASSERT(rc == RT_ECORRUPT);
			break;
		}
		FZ_ASSERT(msg[0] != '\0' && memchr(msg, '\0', sizeof(msg)));
		return 0;
	}

	snap->exists = st->exists;
	if (!st->exists)
		return 1;
	/* The census of the whole omap, as tracker_io.c pages it in: every
	 * key the run has named is all the tracker holds; "" is never listed
	 * but looked up by name. */
	snap->complete = 1;
	for (i = 0; i < nuniverse; i++) {
		if (universe[i].len == 0)
			snap->empty_type = st->type[i];
		else if (st->type[i] == RT_REF_NORMAL)
			snap->nnormal++;
		else if (st->type[i] == RT_REF_MASK)
			snap->nmask++;
	}
	FZ_ASSERT(rt__fmt_check_version(1, rt__fmt_version_value(),
	                                RT__VERSION_LEN, msg, sizeof(msg)) == 0);
	rt__be32_put(count_be, st->refcount);
	FZ_ASSERT(rt__fmt_decode_count(&count, (char *)count_be, 4, 0, msg,
	                               sizeof(msg)) == 0);
	FZ_ASSERT(count == st->refcount);
	snap->refcount = count;
	snap->version = st->version;
	for (i = 0; i < req->nkeys; i++) {
		long u = ufind(req->keys[i].key, req->keys[i].len);
		rt_ref_type type;

		FZ_ASSERT(u >= 0);
		if (!st->type[u])
			continue;
		FZ_ASSERT(rt__fmt_decode_type(&type, req->keys[i].key,
		                              req->keys[i].len,
		                              rt__fmt_type_value(st->type[u]),
		                              RT__VALUE_LEN, msg,
		                              sizeof(msg)) == 0);
		FZ_ASSERT(type == st->type[u]);
		snap->found[i] = (unsigned char)type;
	}
	return 1;
}

/* Applies a plan's write (or a diff's) to a state, as RADOS would. */
static void apply(struct state *st, const struct rt__plan *plan,
                  const struct rt__request *req)
{
	size_t i;

	FZ_ASSERT(plan->refcount == rt__be32_get(plan->count_be));
	FZ_ASSERT(plan->nset + plan->nrm <= req->nkeys);
	for (i = 0; i < plan->nset; i++) {
		long r = rt__request_find(req, plan->set_keys[i],
		                          plan->set_key_lens[i]);

		FZ_ASSERT(r >= 0 && req->keys[r].key == plan->set_keys[i]);
		FZ_ASSERT(plan->set_val_lens[i] == RT__VALUE_LEN);
		FZ_ASSERT(plan->set_vals[i][0] == RT_REF_NORMAL ||
		          plan->set_vals[i][0] == RT_REF_MASK);
	}
	for (i = 0; i < plan->nrm; i++) {
		long r = rt__request_find(req, plan->rm_keys[i],
		                          plan->rm_key_lens[i]);
		size_t j;

		FZ_ASSERT(r >= 0 && req->keys[r].key == plan->rm_keys[i]);
		for (j = 0; j < plan->nset; j++)
			FZ_ASSERT(plan->set_keys[j] != plan->rm_keys[i]);
	}
	switch (plan->kind) {
	case RT__PLAN_NOTHING:
		FZ_ASSERT(plan->nset == 0 && plan->nrm == 0);
		return;
	case RT__PLAN_DELETE:
		FZ_ASSERT(st->exists && plan->guard_version == st->version);
		FZ_ASSERT(plan->refcount == 0);
		memset(st, 0, sizeof(*st));
		return;
	case RT__PLAN_CREATE:
		FZ_ASSERT(!st->exists && plan->nrm == 0 && plan->nset > 0);
		st->exists = 1;
		st->version = 1;
		break;
	case RT__PLAN_UPDATE:
		FZ_ASSERT(st->exists && plan->guard_version == st->version);
		st->version++;
		break;
	}
	st->refcount = plan->refcount;
	for (i = 0; i < plan->nset; i++)
		st->type[ufind(plan->set_keys[i], plan->set_key_lens[i])] =
			(unsigned char)plan->set_vals[i][0];
	for (i = 0; i < plan->nrm; i++)
		st->type[ufind(plan->rm_keys[i], plan->rm_key_lens[i])] = 0;
}

static int same_state(const struct state *a, const struct state *b)
{
	if (a->exists != b->exists)
		return 0;
	if (!a->exists)
		return 1;
	return a->refcount == b->refcount &&
	       memcmp(a->type, b->type, sizeof(a->type)) == 0;
}

static unsigned normals(const struct state *st)
{
	unsigned n = 0, i;

	for (i = 0; i < UMAX; i++)
		n += st->type[i] == RT_REF_NORMAL;
	return n;
}

/* The model: what ceph-csi's rules make of `req` on `st`.  Returns the
 * expected error (0, RT_EOVERFLOW or RT_ECORRUPT) and fills *after and the
 * expected outcome. */
static int model(const struct state *st, const struct rt__request *req,
                 struct state *after, uint32_t *added, uint32_t *removed,
                 uint32_t *masked)
{
	uint64_t drop = 0, count;
	size_t i;

	*after = *st;
	*added = *removed = *masked = 0;
	if (req->op == RT_OP_REMOVE && !st->exists)
		return 0;
	for (i = 0; i < req->nkeys; i++) {
		long u = ufind(req->keys[i].key, req->keys[i].len);
		unsigned char was = st->exists ? st->type[u] : 0;

		if (req->op == RT_OP_ADD) {
			if (!was) {
				after->type[u] = RT_REF_NORMAL;
				(*added)++;
			}
		} else if (req->keys[i].type == RT_REF_NORMAL) {
			if (was) {
				after->type[u] = 0;
				(*removed)++;
				drop += was == RT_REF_NORMAL;
			}
		} else if (was != RT_REF_MASK) {
			after->type[u] = RT_REF_MASK;
			(*masked)++;
			drop += was == RT_REF_NORMAL;
		}
	}
	if (req->op == RT_OP_ADD) {
		count = (st->exists ? st->refcount : 0) + (uint64_t)*added;
		if (count > UINT32_MAX)
			return RT_EOVERFLOW;
		after->exists = 1;
		after->refcount = (uint32_t)count;
		return 0;
	}
	if (drop > st->refcount)
		return RT_ECORRUPT;
	after->refcount = st->refcount - (uint32_t)drop;
	if (after->refcount == 0 && (*removed || *masked))
		memset(after, 0, sizeof(*after));
	return 0;
}

/*
 * The whole-tracker checks every write depends on (plan.c): a tracker
 * whose count disagrees with its normal keys is never written, a delete
 * goes ahead only if no normal key survives it, and a consistent tracker
 * stays consistent whatever the request.
 */
static void check_census(const struct state *st, const struct state *want,
                         const struct rt__request *req,
                         const struct rt__snapshot *snap,
                         const struct rt__plan *plan)
{
	int consistent = !st->exists || st->refcount == normals(st);
	int rc;
	size_t u;

	rc = rt__snapshot_check(snap, msg, sizeof(msg));
	FZ_ASSERT(rc == (consistent ? 0 : RT_ECORRUPT));
	rc = rt__plan_check_write(plan, req, snap, msg, sizeof(msg));
	if (plan->kind == RT__PLAN_NOTHING || plan->kind == RT__PLAN_CREATE) {
		FZ_ASSERT(rc == 0);
		return;
	}
	if (!consistent) {
		FZ_ASSERT(rc == RT_ECORRUPT && msg[0] != '\0');
		return;
	}
	/* A consistent tracker: the write is allowed and keeps it so. */
	FZ_ASSERT(rc == 0);
	FZ_ASSERT(!want->exists || want->refcount == normals(want));
	if (plan->kind == RT__PLAN_DELETE)
		for (u = 0; u < nuniverse; u++)
			if (st->type[u] == RT_REF_NORMAL)
				FZ_ASSERT(rt__request_find(req, universe[u].name,
				                           universe[u].len) >= 0);
}

/* Where the copy stands in for the read `snap` of req, it must show the
 * same; it may refuse only when the tracker is missing or "" is unknown. */
static void copy_check(const struct rt__request *req,
                       const struct rt__snapshot *snap)
{
	struct rt__snapshot c = { 0 };
	size_t i;
	int rc = rt__model_snapshot(&copy, req, &c);

	FZ_ASSERT(rc == 0 || rc == 1);
	FZ_ASSERT(copy.valid);
	if (rc == 0) {
		FZ_ASSERT(!snap->exists || !copy.empty_known);
	} else {
		FZ_ASSERT(snap->exists && c.exists && c.complete);
		FZ_ASSERT(c.version == snap->version);
		FZ_ASSERT(c.refcount == snap->refcount);
		FZ_ASSERT(c.nnormal == snap->nnormal && c.nmask == snap->nmask);
		FZ_ASSERT(c.empty_type == snap->empty_type);
		for (i = 0; i < req->nkeys; i++)
			FZ_ASSERT(c.found[i] == snap->found[i]);
	}
	rt__snapshot_free(&c);
}

/* The copy of the starting tracker, from its census: the keys in listing
 * order, "" looked up by name. */
static void copy_start(const struct state *st)
{
	struct rt__snapshot snap = { 0 };
	size_t order[UMAX], n = 0, i, j;

	for (i = 0; i < nuniverse; i++) {
		if (!st->type[i] || universe[i].len == 0)
			continue;
		for (j = n; j > 0 && key_cmp(universe[order[j - 1]].name,
		                             universe[order[j - 1]].len,
		                             universe[i].name,
		                             universe[i].len) > 0; j--)
			order[j] = order[j - 1];
		order[j] = i;
		n++;
	}
	rt__model_begin(&copy);
	for (i = 0; i < n; i++)
		rt__model_listed(&copy, universe[order[i]].name,
		                 universe[order[i]].len, st->type[order[i]]);
	snap.exists = st->exists;
	snap.version = st->version;
	snap.refcount = st->refcount;
	snap.complete = snap.listed = snap.empty_known = 1;
	for (i = 0; i < nuniverse; i++)
		if (universe[i].len == 0)
			snap.empty_type = st->type[i];
	rt__model_end(&copy, &snap);
	FZ_ASSERT(copy.valid);
}

/* One request of the chain; returns 1 if it ended the group (a delete). */
static int step(struct fz *in, struct state *st)
{
	static rt_ref refs[MAXREFS];
	struct rt__request req;
	struct rt__snapshot snap = { 0 };
	struct rt__plan plan = { 0 };
	struct state want, got;
	uint32_t added, removed, masked;
	uint8_t b = fz_u8(in);
	rt_op op = (b & 1) ? RT_OP_ADD : RT_OP_REMOVE;
	size_t n = (size_t)(b >> 1) % (MAXREFS + 1), i;
	const char *tracker = "t";
	int rc, ended = 0;

	if (b & 0x80)
		tracker = fz_string(in, trackerbuf, sizeof(trackerbuf), 0);
	for (i = 0; i < n; i++) {
		uint8_t t = fz_u8(in);

		refs[i].key = fz_string(in, keybuf[i], sizeof(keybuf[i]), 1);
		refs[i].type = (t & 1) ? RT_REF_MASK : RT_REF_NORMAL;
		if (op == RT_OP_ADD && t != 0xfe)
			refs[i].type = RT_REF_NORMAL;
		if (t == 0xff)
			refs[i].type = (rt_ref_type)(t & 3) == 3 ? 3 : 0;
	}

	msg[0] = '\0';
	rc = rt__request_init(&req, op, tracker, refs, n, msg, sizeof(msg));
	if (!expect_valid(op, tracker, refs, n)) {
		FZ_ASSERT(rc == RT_EINVAL && msg[0] != '\0');
		return 0;
	}
	FZ_ASSERT(rc == 0);
	check_normalised(&req, op, refs, n);
	for (i = 0; i < req.nkeys; i++)
		if (uadd(req.keys[i].key, req.keys[i].len) < 0)
			goto out; /* more keys than the model tracks */

	if (!read_tracker(in, st, &req, &snap))
		goto out; /* a damaged tracker is refused, never planned */
	copy_check(&req, &snap);
	rc = model(st, &req, &want, &added, &removed, &masked);
	msg[0] = '\0';
	FZ_ASSERT(rt__plan_make(&plan, &req, &snap, msg, sizeof(msg)) == rc);
	if (rc) {
		FZ_ASSERT(msg[0] != '\0');
		goto out;
	}
	FZ_ASSERT(plan.added == added && plan.removed == removed &&
	          plan.masked == masked);
	FZ_ASSERT(plan.created == (!st->exists && want.exists));
	FZ_ASSERT(plan.deleted == !want.exists);
	got = *st;
	apply(&got, &plan, &req);
	FZ_ASSERT(same_state(&got, &want));
	check_census(st, &want, &req, &snap, &plan);
	/* A masked key is never counted: the count moves exactly with the
	 * normal keys, whatever the stored count was. */
	if (st->exists && want.exists)
		FZ_ASSERT((int64_t)want.refcount - st->refcount ==
		          (int64_t)normals(&want) - normals(st));
	if (!st->exists && want.exists)
		FZ_ASSERT(want.refcount == normals(&want));
	ended = plan.kind == RT__PLAN_DELETE;
	*st = got;
	if (plan.kind != RT__PLAN_NOTHING) {
		/* The write succeeded: the copy follows it, as the replayer's
		 * does (a create on a tracker it knows missing). */
		if (plan.kind == RT__PLAN_CREATE)
			rt__model_missing(&copy);
		rt__model_apply(&copy, &plan, st->version);
		FZ_ASSERT(copy.valid == st->exists);
		if (!copy.valid)
			rt__model_missing(&copy);
	}
out:
	rt__plan_free(&plan);
	rt__snapshot_free(&snap);
	rt__request_free(&req);
	return ended;
}

/* The replayer's single write for a group: the diff from `start` to `st`
 * over every key named so far must take `start` to `st`. */
static void check_diff(const struct state *start, const struct state *st)
{
	static rt_ref refs[UMAX];
	struct rt__request req;
	struct rt__snapshot before = { 0 };
	struct rt__plan plan = { 0 };
	unsigned char after[UMAX];
	struct state got = *start;
	size_t i;

	if (nuniverse == 0)
		return;
	for (i = 0; i < nuniverse; i++) {
		refs[i].key = universe[i].name;
		refs[i].type = RT_REF_NORMAL;
	}
	FZ_ASSERT(rt__request_init(&req, RT_OP_REMOVE, "t", refs, nuniverse,
	                           msg, sizeof(msg)) == 0);
	FZ_ASSERT(rt__snapshot_reset(&before, req.nkeys) == 0);
	before.exists = start->exists;
	before.refcount = start->refcount;
	before.version = start->version;
	for (i = 0; i < req.nkeys; i++) {
		long u = ufind(req.keys[i].key, req.keys[i].len);

		before.found[i] = start->type[u];
		after[i] = st->type[u];
	}
	FZ_ASSERT(rt__plan_diff(&plan, &req, &before, st->exists, st->refcount,
	                        after) == 0);
	FZ_ASSERT((plan.kind == RT__PLAN_CREATE) ==
	          (!start->exists && st->exists));
	FZ_ASSERT((plan.kind == RT__PLAN_DELETE) ==
	          (start->exists && !st->exists));
	FZ_ASSERT((plan.kind == RT__PLAN_NOTHING) == same_state(start, st));
	apply(&got, &plan, &req);
	FZ_ASSERT(same_state(&got, st));
	rt__plan_free(&plan);
	rt__snapshot_free(&before);
	rt__request_free(&req);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz in = { data, size };
	struct state st, start;
	uint8_t b;
	unsigned steps = 0;

	memset(&st, 0, sizeof(st));
	nuniverse = 0;
	/* The starting tracker: missing, or holding named keys with a
	 * stored count that may disagree with them (a damaged tracker the
	 * planner must not make worse). */
	b = fz_u8(&in);
	if (b & 1) {
		size_t i, nk = (size_t)(b >> 1) % 8;

		st.exists = 1;
		st.version = 1 + fz_u8(&in);
		for (i = 0; i < nk; i++) {
			char name[8];
			uint8_t k = fz_u8(&in);
			long u;

			snprintf(name, sizeof(name), "k%u", (unsigned)(k % NAMED));
			u = uadd(name, strlen(name));
			st.type[u] = (k & 0x80) ? RT_REF_MASK : RT_REF_NORMAL;
		}
		st.refcount = normals(&st);
		b = fz_u8(&in);
		if (b == 0xff)
			st.refcount = fz_u32(&in);
		else if (b & 0x80) /* over-counted */
			st.refcount = normals(&st) + (b & 0x3f);
		else if (b & 0x40) /* under-counted */
			st.refcount = (b & 0x3f) % (normals(&st) + 1);
	}
	start = st;
	copy_start(&st);
	while (in.n > 0 && steps++ < 64) {
		int ended = step(&in, &st);

		/* A group ends at a delete, or where the input says. */
		if (ended || (fz_u8(&in) & 0x0f) == 0) {
			check_diff(&start, &st);
			start = st;
		}
	}
	check_diff(&start, &st);
	rt__model_free(&copy);
	return 0;
}
