/*
 * test_plan.c - request normalisation (request.c) and the add/remove
 * semantics (plan.c), one case per rule, without a cluster.
 *
 * A tracker is written as a string of "key=type" pairs ("a=1,m=2": a
 * normal, m a mask) and a count; each case plans one request against it
 * and checks the write and the outcome.
 */
#include <stdint.h>
#include <stdlib.h>

#include "check.h"
#include "error.h"
#include "plan.h"
#include "replay_group.h"
#include "request.h"

#define CHECK_HAS(s, sub) CHECK(strstr((s), (sub)) != NULL)
#define N(k) { (k), RT_REF_NORMAL }
#define M(k) { (k), RT_REF_MASK }
#define REFS(...) ((const rt_ref[]){ __VA_ARGS__ }), \
	(sizeof((const rt_ref[]){ __VA_ARGS__ }) / sizeof(rt_ref))
#define KEYS(...) ((const char *const[]){ __VA_ARGS__ }), \
	(sizeof((const char *const[]){ __VA_ARGS__ }) / sizeof(const char *))

static char msg[RT__ERRMSG_MAX];

/* One case's state: the request, the tracker as read, the plan. */
struct pc {
	struct rt__request req;
	struct rt__snapshot snap;
	struct rt__plan plan;
	int rc;
};

/* Fills snap from "k=t,k=t" for the request's keys. */
static void tracker(struct pc *c, int exists, uint32_t count,
                    const char *contents)
{
	char *copy = strdup(contents), *save = NULL, *item;

	CHECK_INT(rt__snapshot_reset(&c->snap, c->req.nkeys), 0);
	c->snap.exists = exists;
	c->snap.refcount = count;
	c->snap.version = exists ? 42 : 0;
	for (item = strtok_r(copy, ",", &save); item;
	     item = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(item, '=');
		long i;

		*eq = '\0';
		i = rt__request_find(&c->req, item, strlen(item));
		if (i >= 0)
			c->snap.found[i] = (unsigned char)atoi(eq + 1);
	}
	free(copy);
}

static void plan_add(struct pc *c, const char *const *keys, size_t n,
                     int exists, uint32_t count, const char *contents)
{
	memset(c, 0, sizeof(*c));
	CHECK_INT(rt__request_init_add(&c->req, "t", keys, n, msg,
	                               sizeof(msg)), 0);
	tracker(c, exists, count, contents);
	c->rc = rt__plan_make(&c->plan, &c->req, &c->snap, msg, sizeof(msg));
}

static void plan_rm(struct pc *c, const rt_ref *refs, size_t n, int exists,
                    uint32_t count, const char *contents)
{
	memset(c, 0, sizeof(*c));
	CHECK_INT(rt__request_init(&c->req, RT_OP_REMOVE, "t", refs, n, msg,
	                           sizeof(msg)), 0);
	tracker(c, exists, count, contents);
	c->rc = rt__plan_make(&c->plan, &c->req, &c->snap, msg, sizeof(msg));
}

static void pc_free(struct pc *c)
{
	rt__plan_free(&c->plan);
	rt__snapshot_free(&c->snap);
	rt__request_free(&c->req);
}

/* The plan's omap changes as one string: "+a=1 +m=2 -b". */
static const char *changes(const struct rt__plan *p)
{
	static char buf[512];
	size_t i, n = 0;

	buf[0] = '\0';
	for (i = 0; i < p->nset; i++)
		n += (size_t)snprintf(buf + n, sizeof(buf) - n, "%s+%.*s=%d",
		                      n ? " " : "", (int)p->set_key_lens[i],
		                      p->set_keys[i], p->set_vals[i][0]);
	for (i = 0; i < p->nrm; i++)
		n += (size_t)snprintf(buf + n, sizeof(buf) - n, "%s-%.*s",
		                      n ? " " : "", (int)p->rm_key_lens[i],
		                      p->rm_keys[i]);
	return buf;
}

#define CHECK_OUTCOME(p, add, rem, mask, count) do {                           \
		CHECK_INT((p)->added, add);                                    \
		CHECK_INT((p)->removed, rem);                                  \
		CHECK_INT((p)->masked, mask);                                  \
		CHECK_INT((p)->refcount, count);                               \
	} while (0)

/* ---- requests -------------------------------------------------------- */

static void test_plan__request_sorted_and_deduped(void)
{
	struct rt__request r;

	CHECK_INT(rt__request_init_add(&r, "t", KEYS("b", "a", "c", "a", "b"),
	                               msg, sizeof(msg)), 0);
	CHECK_INT(r.nkeys, 3);
	CHECK_STR(r.keys[0].key, "a");
	CHECK_STR(r.keys[1].key, "b");
	CHECK_STR(r.keys[2].key, "c");
	CHECK_STR(r.names[2], "c");
	CHECK_INT(r.lens[1], 1);
	CHECK_INT(r.keys[0].type, RT_REF_NORMAL);
	CHECK_INT(r.op, RT_OP_ADD);
	CHECK_INT(r.tracker_len, 1);
	CHECK_INT(rt__request_find(&r, "b", 1), 1);
	CHECK_INT(rt__request_find(&r, "bb", 2), -1);
	CHECK_INT(rt__request_find(&r, "", 0), -1);
	rt__request_free(&r);
	rt__request_free(&r); /* freed twice is harmless */

	CHECK_INT(rt__request_init(&r, RT_OP_REMOVE, "t",
	                           REFS(M("x"), N("y"), M("x"), N("y")), msg,
	                           sizeof(msg)), 0);
	CHECK_INT(r.nkeys, 2);
	CHECK_STR(r.keys[0].key, "x");
	CHECK_INT(r.keys[0].type, RT_REF_MASK);
	CHECK_INT(r.keys[1].type, RT_REF_NORMAL);
	rt__request_free(&r);
}

/* Bytewise order, as RADOS lists omap keys: "B" < "a" < "a2" < "\xc3". */
static void test_plan__request_bytewise_order(void)
{
	struct rt__request r;

	CHECK_INT(rt__request_init_add(&r, "t", KEYS("\xc3\xa9", "a2", "a", "B"),
	                               msg, sizeof(msg)), 0);
	CHECK_STR(r.keys[0].key, "B");
	CHECK_STR(r.keys[1].key, "a");
	CHECK_STR(r.keys[2].key, "a2");
	CHECK_STR(r.keys[3].key, "\xc3\xa9");
	rt__request_free(&r);
}

static void test_plan__request_normal_and_mask_conflict(void)
{
	struct rt__request r;

	CHECK_INT(rt__request_init(&r, RT_OP_REMOVE, "t",
	                           REFS(N("a"), M("b"), M("a")), msg,
	                           sizeof(msg)), RT_EINVAL);
	CHECK_HAS(msg, "'a'");
	CHECK_HAS(msg, "both as normal and as mask");
	CHECK(r.keys == NULL && r.nkeys == 0);
}

static void test_plan__request_invalid(void)
{
	struct rt__request r;
	const rt_ref bad_type[] = { { "a", (rt_ref_type)3 } };
	const rt_ref null_key[] = { { NULL, RT_REF_NORMAL } };
	char *long_key = malloc(RT_KEY_MAX + 2);
	char *max_key = malloc(RT_KEY_MAX + 1);
	char *long_name = malloc(RT_TRACKER_NAME_MAX + 2);
	char *max_name = malloc(RT_TRACKER_NAME_MAX + 1);

	memset(long_key, 'k', RT_KEY_MAX + 1);
	long_key[RT_KEY_MAX + 1] = '\0';
	memset(max_key, 'k', RT_KEY_MAX);
	max_key[RT_KEY_MAX] = '\0';
	memset(long_name, 't', RT_TRACKER_NAME_MAX + 1);
	long_name[RT_TRACKER_NAME_MAX + 1] = '\0';
	memset(max_name, 't', RT_TRACKER_NAME_MAX);
	max_name[RT_TRACKER_NAME_MAX] = '\0';

	CHECK_INT(rt__request_init_add(&r, "t", NULL, 0, msg, sizeof(msg)),
	          RT_EINVAL);
	CHECK_HAS(msg, "no keys");
	CHECK_INT(rt__request_init(&r, RT_OP_REMOVE, "t", NULL, 0, msg,
	                           sizeof(msg)), RT_EINVAL);
	/* The empty key is a key (ceph-csi stores it): sorted first. */
	CHECK_INT(rt__request_init_add(&r, "t", KEYS("a", "", "b"), msg,
	                               sizeof(msg)), 0);
	CHECK_INT(r.nkeys, 3);
	CHECK_INT(r.keys[0].len, 0);
	CHECK_INT(rt__request_find(&r, "", 0), 0);
	rt__request_free(&r);
	CHECK_INT(rt__request_init_add(&r, "t", KEYS("a", NULL), msg,
	                               sizeof(msg)), RT_EINVAL);
	CHECK_HAS(msg, "NULL");
	CHECK_INT(rt__request_init(&r, RT_OP_REMOVE, "t", null_key, 1, msg,
	                           sizeof(msg)), RT_EINVAL);
	CHECK_INT(rt__request_init_add(&r, "t", KEYS("a", long_key), msg,
	                               sizeof(msg)), RT_EINVAL);
	CHECK_HAS(msg, "RT_KEY_MAX");
	CHECK_INT(rt__request_init(&r, RT_OP_REMOVE, "t", bad_type, 1, msg,
	                           sizeof(msg)), RT_EINVAL);
	CHECK_HAS(msg, "type 3");
	CHECK_INT(rt__request_init(&r, RT_OP_ADD, "t", REFS(M("a")), msg,
	                           sizeof(msg)), RT_EINVAL);
	CHECK_INT(rt__request_init(&r, (rt_op)7, "t", REFS(N("a")), msg,
	                           sizeof(msg)), RT_EINVAL);
	CHECK_INT(rt__request_init_add(&r, "", KEYS("a"), msg, sizeof(msg)),
	          RT_EINVAL);
	CHECK_HAS(msg, "tracker name is empty");
	CHECK_INT(rt__request_init_add(&r, NULL, KEYS("a"), msg, sizeof(msg)),
	          RT_EINVAL);
	CHECK_INT(rt__request_init_add(&r, long_name, KEYS("a"), msg,
	                               sizeof(msg)), RT_EINVAL);
	CHECK_HAS(msg, "RT_TRACKER_NAME_MAX");

	/* The limits themselves are fine. */
	CHECK_INT(rt__request_init_add(&r, max_name, KEYS(max_key), msg,
	                               sizeof(msg)), 0);
	CHECK_INT(r.keys[0].len, RT_KEY_MAX);
	CHECK_INT(r.tracker_len, RT_TRACKER_NAME_MAX);
	rt__request_free(&r);

	free(long_key);
	free(max_key);
	free(long_name);
	free(max_name);
}

/* ---- add ------------------------------------------------------------- */

static void test_plan__add_creates_missing(void)
{
	struct pc c;

	plan_add(&c, KEYS("b", "a", "b"), 0, 0, "");
	CHECK_INT(c.rc, 0);
	CHECK_INT(c.plan.kind, RT__PLAN_CREATE);
	CHECK_INT(c.plan.created, 1);
	CHECK_INT(c.plan.deleted, 0);
	CHECK_OUTCOME(&c.plan, 2, 0, 0, 2);
	CHECK_STR(changes(&c.plan), "+a=1 +b=1");
	CHECK(memcmp(c.plan.count_be, "\0\0\0\2", 4) == 0);
	pc_free(&c);
}

static void test_plan__add_only_absent_keys(void)
{
	struct pc c;

	plan_add(&c, KEYS("a", "b", "m", "c"), 1, 2, "a=1,m=2");
	CHECK_INT(c.rc, 0);
	CHECK_INT(c.plan.kind, RT__PLAN_UPDATE);
	CHECK_INT(c.plan.guard_version, 42);
	CHECK_INT(c.plan.created, 0);
	CHECK_OUTCOME(&c.plan, 2, 0, 0, 4);
	CHECK_STR(changes(&c.plan), "+b=1 +c=1");
	CHECK(memcmp(c.plan.count_be, "\0\0\0\4", 4) == 0);
	pc_free(&c);
}

/* A masked key stays masked and uncounted. */
static void test_plan__add_leaves_masks_alone(void)
{
	struct pc c;

	plan_add(&c, KEYS("m"), 1, 1, "a=1,m=2");
	CHECK_INT(c.rc, 0);
	CHECK_INT(c.plan.kind, RT__PLAN_NOTHING);
	CHECK_OUTCOME(&c.plan, 0, 0, 0, 1);
	CHECK_STR(changes(&c.plan), "");
	pc_free(&c);
}

static void test_plan__add_nothing_to_add(void)
{
	struct pc c;

	plan_add(&c, KEYS("a", "a", "b"), 1, 2, "a=1,b=1");
	CHECK_INT(c.rc, 0);
	CHECK_INT(c.plan.kind, RT__PLAN_NOTHING);
	CHECK_INT(c.plan.created, 0);
	CHECK_OUTCOME(&c.plan, 0, 0, 0, 2);
	pc_free(&c);
}

static void test_plan__add_overflow(void)
{
	struct pc c;

	plan_add(&c, KEYS("b"), 1, UINT32_MAX, "a=1");
	CHECK_INT(c.rc, RT_EOVERFLOW);
	CHECK_HAS(msg, "UINT32_MAX");
	pc_free(&c);
	plan_add(&c, KEYS("b", "c"), 1, UINT32_MAX - 1, "");
	CHECK_INT(c.rc, RT_EOVERFLOW);
	pc_free(&c);
	/* Up to the top exactly is fine. */
	plan_add(&c, KEYS("b"), 1, UINT32_MAX - 1, "a=1");
	CHECK_INT(c.rc, 0);
	CHECK(c.plan.refcount == UINT32_MAX);
	CHECK(memcmp(c.plan.count_be, "\xff\xff\xff\xff", 4) == 0);
	pc_free(&c);
	/* Nothing to add: no count to overflow. */
	plan_add(&c, KEYS("a"), 1, UINT32_MAX, "a=1");
	CHECK_INT(c.rc, 0);
	CHECK_INT(c.plan.kind, RT__PLAN_NOTHING);
	pc_free(&c);
}

/* ---- remove ---------------------------------------------------------- */

static void test_plan__remove_missing_tracker(void)
{
	struct pc c;

	plan_rm(&c, REFS(N("a"), M("b")), 0, 0, "");
	CHECK_INT(c.rc, 0);
	CHECK_INT(c.plan.kind, RT__PLAN_NOTHING);
	CHECK_INT(c.plan.deleted, 1);
	CHECK_OUTCOME(&c.plan, 0, 0, 0, 0);
	pc_free(&c);
}

static void test_plan__remove_normal_on_normal(void)
{
	struct pc c;

	plan_rm(&c, REFS(N("a")), 1, 2, "a=1,b=1");
	CHECK_INT(c.rc, 0);
	CHECK_INT(c.plan.kind, RT__PLAN_UPDATE);
	CHECK_INT(c.plan.guard_version, 42);
	CHECK_OUTCOME(&c.plan, 0, 1, 0, 1);
	CHECK_STR(changes(&c.plan), "-a");
	CHECK(memcmp(c.plan.count_be, "\0\0\0\1", 4) == 0);
	pc_free(&c);
}

static void test_plan__remove_normal_on_mask(void)
{
	struct pc c;

	plan_rm(&c, REFS(N("m")), 1, 1, "a=1,m=2");
	CHECK_INT(c.rc, 0);
	CHECK_INT(c.plan.kind, RT__PLAN_UPDATE);
	CHECK_OUTCOME(&c.plan, 0, 1, 0, 1);
	CHECK_STR(changes(&c.plan), "-m");
	pc_free(&c);
}

static void test_plan__remove_mask_on_normal(void)
{
	struct pc c;

	plan_rm(&c, REFS(M("a")), 1, 2, "a=1,b=1");
	CHECK_INT(c.rc, 0);
	CHECK_INT(c.plan.kind, RT__PLAN_UPDATE);
	CHECK_OUTCOME(&c.plan, 0, 0, 1, 1);
	CHECK_STR(changes(&c.plan), "+a=2");
	pc_free(&c);
}

static void test_plan__remove_mask_on_absent(void)
{
	struct pc c;

	plan_rm(&c, REFS(M("z")), 1, 1, "a=1");
	CHECK_INT(c.rc, 0);
	CHECK_INT(c.plan.kind, RT__PLAN_UPDATE);
	CHECK_OUTCOME(&c.plan, 0, 0, 1, 1);
	CHECK_STR(changes(&c.plan), "+z=2");
	pc_free(&c);
}

static void test_plan__remove_mask_on_mask_and_normal_on_absent(void)
{
	struct pc c;

	plan_rm(&c, REFS(M("m"), N("z")), 1, 1, "a=1,m=2");
	CHECK_INT(c.rc, 0);
	CHECK_INT(c.plan.kind, RT__PLAN_NOTHING);
	CHECK_INT(c.plan.deleted, 0);
	CHECK_OUTCOME(&c.plan, 0, 0, 0, 1);
	CHECK_STR(changes(&c.plan), "");
	pc_free(&c);
}

static void test_plan__remove_mixed(void)
{
	struct pc c;

	/* a: rm (-1), b: to mask (-1), m: rm (0), z: new mask, y: nothing. */
	plan_rm(&c, REFS(N("a"), M("b"), N("m"), M("z"), N("y")), 1, 3,
	        "a=1,b=1,c=1,m=2");
	CHECK_INT(c.rc, 0);
	CHECK_INT(c.plan.kind, RT__PLAN_UPDATE);
	CHECK_OUTCOME(&c.plan, 0, 2, 2, 1);
	CHECK_STR(changes(&c.plan), "+b=2 +z=2 -a -m");
	pc_free(&c);
}

static void test_plan__remove_to_zero_deletes(void)
{
	struct pc c;

	/* The last normal goes; the masks go with the object. */
	plan_rm(&c, REFS(N("a"), M("x")), 1, 1, "a=1,m=2");
	CHECK_INT(c.rc, 0);
	CHECK_INT(c.plan.kind, RT__PLAN_DELETE);
	CHECK_INT(c.plan.deleted, 1);
	CHECK_INT(c.plan.guard_version, 42);
	CHECK_OUTCOME(&c.plan, 0, 1, 1, 0);
	pc_free(&c);
	/* Masking the last normal also deletes. */
	plan_rm(&c, REFS(M("a")), 1, 1, "a=1");
	CHECK_INT(c.plan.kind, RT__PLAN_DELETE);
	CHECK_OUTCOME(&c.plan, 0, 0, 1, 0);
	pc_free(&c);
	/* All keys plus ones that are not there. */
	plan_rm(&c, REFS(N("a"), N("b"), N("nope"), N("zz")), 1, 2, "a=1,b=1");
	CHECK_INT(c.plan.kind, RT__PLAN_DELETE);
	CHECK_OUTCOME(&c.plan, 0, 2, 0, 0);
	pc_free(&c);
}

/* A stored count of 0 (never written by a sane writer): any change leaves
 * 0, which deletes, as ceph-csi does; no change writes nothing. */
static void test_plan__remove_on_zero_count(void)
{
	struct pc c;

	plan_rm(&c, REFS(M("new")), 1, 0, "m=2");
	CHECK_INT(c.rc, 0);
	CHECK_INT(c.plan.kind, RT__PLAN_DELETE);
	pc_free(&c);
	plan_rm(&c, REFS(N("absent")), 1, 0, "m=2");
	CHECK_INT(c.rc, 0);
	CHECK_INT(c.plan.kind, RT__PLAN_NOTHING);
	CHECK_INT(c.plan.deleted, 0);
	pc_free(&c);
	plan_rm(&c, REFS(N("m")), 1, 0, "m=2");
	CHECK_INT(c.plan.kind, RT__PLAN_DELETE);
	pc_free(&c);
}

static void test_plan__remove_underflow(void)
{
	struct pc c;

	plan_rm(&c, REFS(N("a"), N("b")), 1, 1, "a=1,b=1");
	CHECK_INT(c.rc, RT_ECORRUPT);
	CHECK_HAS(msg, "refcount underflow");
	CHECK_HAS(msg, "'b'");
	pc_free(&c);
	plan_rm(&c, REFS(M("a"), M("b")), 1, 1, "a=1,b=1");
	CHECK_INT(c.rc, RT_ECORRUPT);
	pc_free(&c);
	plan_rm(&c, REFS(N("a")), 1, 0, "a=1,m=2");
	CHECK_INT(c.rc, RT_ECORRUPT);
	CHECK_HAS(msg, "'a'");
	pc_free(&c);
	plan_rm(&c, REFS(M("a")), 1, 0, "a=1");
	CHECK_INT(c.rc, RT_ECORRUPT);
	pc_free(&c);
	/* Exactly down to 0 is not an underflow. */
	plan_rm(&c, REFS(N("a"), N("b")), 1, 2, "a=1,b=1");
	CHECK_INT(c.rc, 0);
	CHECK_INT(c.plan.kind, RT__PLAN_DELETE);
	pc_free(&c);
}

static void test_plan__remove_duplicates_act_once(void)
{
	struct pc c;

	plan_rm(&c, REFS(N("a"), N("a"), M("x"), M("x")), 1, 2, "a=1,b=1");
	CHECK_INT(c.rc, 0);
	CHECK_INT(c.plan.kind, RT__PLAN_UPDATE);
	CHECK_OUTCOME(&c.plan, 0, 1, 1, 1);
	CHECK_STR(changes(&c.plan), "+x=2 -a");
	pc_free(&c);
}

static void test_plan__remove_large_count(void)
{
	struct pc c;

	plan_rm(&c, REFS(N("a")), 1, UINT32_MAX, "a=1");
	CHECK_INT(c.rc, 0);
	CHECK(c.plan.refcount == UINT32_MAX - 1);
	CHECK(memcmp(c.plan.count_be, "\xff\xff\xff\xfe", 4) == 0);
	pc_free(&c);
}

/* One plan struct reused across rounds, as the retry loop does. */
static void test_plan__plan_reused(void)
{
	struct rt__request r1, r2;
	struct rt__snapshot s;
	struct rt__plan p;
	char keys[100][8];
	const char *kp[100];
	size_t i;

	memset(&s, 0, sizeof(s));
	memset(&p, 0, sizeof(p));
	for (i = 0; i < 100; i++) {
		snprintf(keys[i], sizeof(keys[i]), "k%zu", i);
		kp[i] = keys[i];
	}
	CHECK_INT(rt__request_init_add(&r1, "t", kp, 2, msg, sizeof(msg)), 0);
	CHECK_INT(rt__request_init_add(&r2, "t", kp, 100, msg, sizeof(msg)), 0);
	CHECK_INT(rt__snapshot_reset(&s, r1.nkeys), 0);
	CHECK_INT(rt__plan_make(&p, &r1, &s, msg, sizeof(msg)), 0);
	CHECK_INT(p.kind, RT__PLAN_CREATE);
	CHECK_INT(p.nset, 2);
	CHECK_INT(rt__snapshot_reset(&s, r2.nkeys), 0);
	s.exists = 1;
	s.refcount = 1;
	s.found[0] = RT_REF_NORMAL;
	CHECK_INT(rt__plan_make(&p, &r2, &s, msg, sizeof(msg)), 0);
	CHECK_INT(p.kind, RT__PLAN_UPDATE);
	CHECK_INT(p.nset, 99);
	CHECK_INT(p.refcount, 100);
	CHECK_INT(p.created, 0);
	/* Shrinking keeps the arrays, and the old plan's fields go. */
	CHECK_INT(rt__snapshot_reset(&s, r1.nkeys), 0);
	CHECK_INT(rt__plan_make(&p, &r1, &s, msg, sizeof(msg)), 0);
	CHECK_INT(p.kind, RT__PLAN_CREATE);
	CHECK_INT(p.nset, 2);
	CHECK_INT(p.nrm, 0);
	rt__plan_free(&p);
	rt__plan_free(&p);
	rt__snapshot_free(&s);
	rt__snapshot_free(&s);
	rt__request_free(&r1);
	rt__request_free(&r2);
}

/* rt__plan_diff: the one write between two states of a group's keys. */
static void test_plan__diff_update(void)
{
	/* keys sorted: a b c m; before a=1 b=1 m=2, count 2 */
	static const unsigned char after[] = { 0, RT_REF_MASK, RT_REF_NORMAL,
	                                       RT_REF_MASK };
	struct pc c;

	plan_add(&c, KEYS("a", "b", "c", "m"), 1, 2, "a=1,b=1,m=2");
	CHECK_INT(rt__plan_diff(&c.plan, &c.req, &c.snap, 1, 1, after), 0);
	CHECK_INT(c.plan.kind, RT__PLAN_UPDATE);
	CHECK_INT(c.plan.guard_version, 42);
	CHECK_INT(c.plan.refcount, 1);
	CHECK_STR(changes(&c.plan), "+b=2 +c=1 -a");
	CHECK(memcmp(c.plan.count_be, "\x00\x00\x00\x01", 4) == 0);
	pc_free(&c);
}

static void test_plan__diff_create_delete_nothing(void)
{
	static const unsigned char after[] = { RT_REF_NORMAL, RT_REF_MASK };
	static const unsigned char none[] = { 0, 0 };
	struct pc c;

	plan_add(&c, KEYS("a", "m"), 0, 0, "");
	CHECK_INT(rt__plan_diff(&c.plan, &c.req, &c.snap, 1, 1, after), 0);
	CHECK_INT(c.plan.kind, RT__PLAN_CREATE);
	CHECK_INT(c.plan.created, 1);
	CHECK_STR(changes(&c.plan), "+a=1 +m=2");
	/* missing before and after: nothing to write */
	CHECK_INT(rt__plan_diff(&c.plan, &c.req, &c.snap, 0, 0, none), 0);
	CHECK_INT(c.plan.kind, RT__PLAN_NOTHING);
	pc_free(&c);

	plan_add(&c, KEYS("a", "m"), 1, 1, "a=1,m=2");
	CHECK_INT(rt__plan_diff(&c.plan, &c.req, &c.snap, 0, 0, none), 0);
	CHECK_INT(c.plan.kind, RT__PLAN_DELETE);
	CHECK_INT(c.plan.guard_version, 42);
	/* the same state after as before: nothing to write */
	CHECK_INT(rt__plan_diff(&c.plan, &c.req, &c.snap, 1, 1, after), 0);
	CHECK_INT(c.plan.kind, RT__PLAN_NOTHING);
	pc_free(&c);
}

/* Entries planned one after another on the state each leaves, then sent
 * as one diff, give the tracker that applying them one by one gives.  The
 * chaining is the replayer's own group planner (replay_group.c; its
 * random cases are in test_replay_group.c). */
static void test_plan__diff_of_chained_plans(void)
{
	struct rt__request all, add, rm;
	const struct rt__request *reqs[2] = { &add, &rm };
	struct rt__group_planner gp;
	struct rt__snapshot before;
	struct rt__plan diff;
	struct rt__group g;
	struct rt__group_state end;
	enum rt__group_result result;
	rt_entry_outcome planned[2];
	unsigned char state[3];
	size_t nplanned = 0, i;

	memset(&gp, 0, sizeof(gp));
	memset(&before, 0, sizeof(before));
	memset(&diff, 0, sizeof(diff));
	CHECK_INT(rt__request_init_add(&all, "t", KEYS("a", "b", "c"), msg,
	                               sizeof(msg)), 0);
	CHECK_INT(rt__request_init_add(&add, "t", KEYS("b", "c"), msg,
	                               sizeof(msg)), 0);
	CHECK_INT(rt__request_init(&rm, RT_OP_REMOVE, "t",
	                           REFS(N("a"), M("b")), msg, sizeof(msg)), 0);
	/* before: a normal, count 1 */
	CHECK_INT(rt__snapshot_reset(&before, 3), 0);
	before.exists = 1;
	before.version = 7;
	before.refcount = 1;
	before.found[0] = RT_REF_NORMAL;
	/* add b c: count 3; then remove a, mask b: count 1 (c) */
	g.ureq = &all;
	g.snap = &before;
	g.reqs = reqs;
	g.n = 2;
	end.after = state;
	CHECK_INT(rt__group_plan(&gp, &result, &nplanned, planned, &end, &g,
	                         msg, sizeof(msg)), 0);
	CHECK_INT(result, RT__GROUP_PLANNED);
	CHECK_INT(nplanned, 2);
	CHECK_INT(planned[0].added, 2);
	CHECK_INT(planned[1].result, RT_RESULT_CHANGED);
	CHECK_INT(planned[1].removed, 1);
	CHECK_INT(planned[1].masked, 1);
	CHECK_INT(end.exists, 1);
	CHECK_INT(end.refcount, 1);
	CHECK_INT(state[0], 0);
	CHECK_INT(state[1], RT_REF_MASK);
	CHECK_INT(state[2], RT_REF_NORMAL);
	CHECK_INT(rt__plan_diff(&diff, &all, &before, end.exists, end.refcount,
	                        state), 0);
	CHECK_INT(diff.kind, RT__PLAN_UPDATE);
	CHECK_INT(diff.guard_version, 7);
	CHECK_STR(changes(&diff), "+b=2 +c=1 -a");
	for (i = 0; i < 4; i++)
		CHECK_INT(diff.count_be[i], i == 3 ? 1 : 0);
	rt__group_planner_free(&gp);
	rt__plan_free(&diff);
	rt__snapshot_free(&before);
	rt__request_free(&all);
	rt__request_free(&add);
	rt__request_free(&rm);
}

/* The whole-tracker checks that guard every write (issue 9, defects 1
 * and 6): the count against the census, and a delete only when every
 * normal key is one the request drops. */
static void test_plan__census_checks(void)
{
	struct pc c;

	memset(&c, 0, sizeof(c));
	CHECK_INT(rt__request_init(&c.req, RT_OP_REMOVE, "t", REFS(N("k1")),
	                           msg, sizeof(msg)), 0);
	tracker(&c, 1, 1, "k1=1");
	/* Not read whole: never written. */
	c.snap.nnormal = 1;
	CHECK_INT(rt__snapshot_check(&c.snap, msg, sizeof(msg)), RT_EINVAL);
	c.snap.complete = 1;
	CHECK_INT(rt__snapshot_check(&c.snap, msg, sizeof(msg)), 0);
	CHECK_INT(rt__plan_make(&c.plan, &c.req, &c.snap, msg, sizeof(msg)), 0);
	CHECK_INT(c.plan.kind, RT__PLAN_DELETE);
	CHECK_INT(rt__plan_check_write(&c.plan, &c.req, &c.snap, msg,
	                               sizeof(msg)), 0);
	/* Count 1 but three normal keys: the delete the plan wants is
	 * refused. */
	c.snap.nnormal = 3;
	CHECK_INT(rt__plan_check_write(&c.plan, &c.req, &c.snap, msg,
	                               sizeof(msg)), RT_ECORRUPT);
	CHECK_HAS(msg, "refcount 1 but 3 normal keys");
	/* The empty key counts, looked up by name. */
	c.snap.nnormal = 1;
	c.snap.empty_type = RT_REF_NORMAL;
	CHECK_INT(rt__plan_check_write(&c.plan, &c.req, &c.snap, msg,
	                               sizeof(msg)), RT_ECORRUPT);
	CHECK_HAS(msg, "refcount 1 but 2 normal keys (counting the empty key");
	/* A delete that leaves a normal key behind, whatever the count says
	 * (rt__plan_make never plans one on a checked census: belt and
	 * braces before the one write that cannot be undone). */
	c.snap.nnormal = 0;
	c.snap.found[0] = 0;
	CHECK_INT(rt__plan_check_write(&c.plan, &c.req, &c.snap, msg,
	                               sizeof(msg)), RT_ECORRUPT);
	CHECK_HAS(msg, "drops 0");
	c.snap.found[0] = RT_REF_NORMAL;
	c.snap.empty_type = RT_REF_MASK;
	c.snap.nnormal = 1;
	CHECK_INT(rt__plan_check_write(&c.plan, &c.req, &c.snap, msg,
	                               sizeof(msg)), 0);
	/* A missing tracker has nothing to check. */
	c.snap.exists = 0;
	c.snap.complete = 0;
	CHECK_INT(rt__snapshot_check(&c.snap, msg, sizeof(msg)), 0);
	rt__request_free(&c.req);
	rt__snapshot_free(&c.snap);
	rt__plan_free(&c.plan);
}

int main(void)
{
	RUN(test_plan__request_sorted_and_deduped);
	RUN(test_plan__request_bytewise_order);
	RUN(test_plan__request_normal_and_mask_conflict);
	RUN(test_plan__request_invalid);
	RUN(test_plan__census_checks);
	RUN(test_plan__add_creates_missing);
	RUN(test_plan__add_only_absent_keys);
	RUN(test_plan__add_leaves_masks_alone);
	RUN(test_plan__add_nothing_to_add);
	RUN(test_plan__add_overflow);
	RUN(test_plan__remove_missing_tracker);
	RUN(test_plan__remove_normal_on_normal);
	RUN(test_plan__remove_normal_on_mask);
	RUN(test_plan__remove_mask_on_normal);
	RUN(test_plan__remove_mask_on_absent);
	RUN(test_plan__remove_mask_on_mask_and_normal_on_absent);
	RUN(test_plan__remove_mixed);
	RUN(test_plan__remove_to_zero_deletes);
	RUN(test_plan__remove_on_zero_count);
	RUN(test_plan__remove_underflow);
	RUN(test_plan__remove_duplicates_act_once);
	RUN(test_plan__remove_large_count);
	RUN(test_plan__plan_reused);
	RUN(test_plan__diff_update);
	RUN(test_plan__diff_create_delete_nothing);
	RUN(test_plan__diff_of_chained_plans);
	return check_summary("plan");
}
