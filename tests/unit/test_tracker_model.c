/*
 * test_tracker_model.c - the replayer's copy of a tracker
 * (tracker_model.c), without a cluster: a census copied, writes followed,
 * what the copy refuses to stand for, its bound, and a long run of writes
 * checked against a plain table.
 */
#include <stdint.h>
#include <stdlib.h>

#include "check.h"
#include "error.h"
#include "plan.h"
#include "request.h"
#include "tracker_model.h"

static char msg[RT__ERRMSG_MAX];

/* A request of the given keys (an add: every key normal). */
static void request(struct rt__request *req, const char *const *keys,
                    size_t n)
{
	rt_ref refs[64];
	size_t i;

	for (i = 0; i < n; i++) {
		refs[i].key = keys[i];
		refs[i].type = RT_REF_NORMAL;
	}
	CHECK_INT(rt__request_init(req, RT_OP_ADD, "t", refs, n, msg,
	                           sizeof(msg)), 0);
}

/* A read's census: keys listed in order, the snapshot of an existing,
 * complete tracker at version, count; "" looked up (absent) or not. */
static void census(struct rt__model *m, struct rt__snapshot *snap,
                   uint64_t version, uint32_t count, const char *const *keys,
                   const unsigned char *types, size_t n, int empty_known)
{
	size_t i;

	rt__model_begin(m);
	for (i = 0; i < n; i++)
		rt__model_listed(m, keys[i], strlen(keys[i]), types[i]);
	memset(snap, 0, sizeof(*snap));
	snap->exists = 1;
	snap->version = version;
	snap->refcount = count;
	snap->complete = snap->listed = 1;
	snap->empty_known = empty_known;
	rt__model_end(m, snap);
}

static void test_tracker_model__census_copied(void)
{
	static const char *const listed[] = { "a", "ab", "b" };
	static const unsigned char types[] = { RT_REF_NORMAL, RT_REF_MASK,
		                               RT_REF_NORMAL };
	static const char *const asked[] = { "ab", "c", "a", "b" };
	struct rt__model m = { 0 };
	struct rt__snapshot snap, got = { 0 };
	struct rt__request req;

	census(&m, &snap, 7, 2, listed, types, 3, 1);
	CHECK(m.valid);
	request(&req, asked, 4);
	/* Sorted: a ab b c. */
	CHECK_INT(rt__model_snapshot(&m, &req, &got), 1);
	CHECK(got.exists && got.complete && got.listed);
	CHECK_INT(got.version, 7);
	CHECK_INT(got.refcount, 2);
	CHECK_INT(got.nnormal, 2);
	CHECK_INT(got.nmask, 1);
	CHECK_INT(got.found[0], RT_REF_NORMAL);
	CHECK_INT(got.found[1], RT_REF_MASK);
	CHECK_INT(got.found[2], RT_REF_NORMAL);
	CHECK_INT(got.found[3], 0);
	CHECK_INT(got.has_extra, 0);
	rt__request_free(&req);
	rt__snapshot_free(&got);
	rt__model_free(&m);
}

static void test_tracker_model__update_followed(void)
{
	static const char *const listed[] = { "a", "b" };
	static const unsigned char types[] = { RT_REF_NORMAL, RT_REF_NORMAL };
	static const char *const adds[] = { "c", "aa" };
	static const char *const all[] = { "a", "aa", "b", "c" };
	struct rt__model m = { 0 };
	struct rt__snapshot snap, got = { 0 };
	struct rt__request req, req2;
	struct rt__plan plan = { 0 };

	census(&m, &snap, 7, 2, listed, types, 2, 1);
	request(&req, adds, 2);
	CHECK_INT(rt__model_snapshot(&m, &req, &got), 1);
	CHECK_INT(rt__plan_make(&plan, &req, &got, msg, sizeof(msg)), 0);
	CHECK_INT(plan.kind, RT__PLAN_UPDATE);
	rt__model_apply(&m, &plan, 8);
	CHECK(m.valid);
	request(&req2, all, 4);
	CHECK_INT(rt__model_snapshot(&m, &req2, &got), 1);
	CHECK_INT(got.version, 8);
	CHECK_INT(got.refcount, 4);
	CHECK_INT(got.nnormal, 4);
	CHECK_INT(got.found[0] && got.found[1] && got.found[2] && got.found[3],
	          1);
	/* Remove a and c (a remove request of those keys). */
	{
		rt_ref rm[] = { { "a", RT_REF_NORMAL }, { "c", RT_REF_NORMAL } };
		struct rt__request rreq;

		CHECK_INT(rt__request_init(&rreq, RT_OP_REMOVE, "t", rm, 2, msg,
		                           sizeof(msg)), 0);
		CHECK_INT(rt__model_snapshot(&m, &rreq, &got), 1);
		CHECK_INT(rt__plan_make(&plan, &rreq, &got, msg, sizeof(msg)),
		          0);
		rt__model_apply(&m, &plan, 9);
		rt__request_free(&rreq);
	}
	CHECK_INT(rt__model_snapshot(&m, &req2, &got), 1);
	CHECK_INT(got.refcount, 2);
	CHECK_INT(got.found[0], 0);                 /* a */
	CHECK_INT(got.found[1], RT_REF_NORMAL);     /* aa */
	CHECK_INT(got.found[2], RT_REF_NORMAL);     /* b */
	CHECK_INT(got.found[3], 0);                 /* c */
	rt__request_free(&req);
	rt__request_free(&req2);
	rt__plan_free(&plan);
	rt__snapshot_free(&got);
	rt__model_free(&m);
}

static void test_tracker_model__create_from_missing(void)
{
	static const char *const adds[] = { "y", "x" };
	struct rt__model m = { 0 };
	struct rt__snapshot missing = { 0 }, got = { 0 };
	struct rt__request req;
	struct rt__plan plan = { 0 };

	request(&req, adds, 2);
	CHECK_INT(rt__snapshot_reset(&missing, req.nkeys), 0);
	CHECK_INT(rt__plan_make(&plan, &req, &missing, msg, sizeof(msg)), 0);
	CHECK_INT(plan.kind, RT__PLAN_CREATE);
	rt__model_missing(&m);
	/* Missing: a copy that stands for no read. */
	CHECK_INT(rt__model_snapshot(&m, &req, &got), 0);
	rt__model_apply(&m, &plan, 1);
	CHECK(m.valid && m.exists);
	CHECK_INT(rt__model_snapshot(&m, &req, &got), 1);
	CHECK_INT(got.refcount, 2);
	CHECK_INT(got.found[0] && got.found[1], 1);
	CHECK_INT(got.empty_known, 1);
	rt__request_free(&req);
	rt__plan_free(&plan);
	rt__snapshot_free(&missing);
	rt__snapshot_free(&got);
	rt__model_free(&m);
}

/* Whatever the copy was not planned on, it gives up. */
static void test_tracker_model__gives_up(void)
{
	static const char *const listed[] = { "a", "b" };
	static const unsigned char types[] = { RT_REF_NORMAL, RT_REF_NORMAL };
	static const char *const one[] = { "a" };
	struct rt__model m = { 0 };
	struct rt__snapshot snap, got = { 0 };
	struct rt__request req;
	struct rt__plan plan = { 0 };

	request(&req, one, 1);
	/* A plan guarded on another version (someone wrote since). */
	census(&m, &snap, 7, 2, listed, types, 2, 1);
	CHECK_INT(rt__model_snapshot(&m, &req, &got), 1);
	got.found[0] = 0;
	CHECK_INT(rt__plan_make(&plan, &req, &got, msg, sizeof(msg)), 0);
	plan.guard_version = 6;
	rt__model_apply(&m, &plan, 9);
	CHECK(!m.valid);
	/* A delete. */
	census(&m, &snap, 7, 2, listed, types, 2, 1);
	CHECK_INT(rt__plan_diff(&plan, &req, &snap, 0, 0, NULL), 0);
	CHECK_INT(plan.kind, RT__PLAN_DELETE);
	rt__model_apply(&m, &plan, 8);
	CHECK(!m.valid);
	/* A census that was not whole. */
	rt__model_begin(&m);
	rt__model_listed(&m, "a", 1, RT_REF_NORMAL);
	snap.complete = 0;
	rt__model_end(&m, &snap);
	CHECK(!m.valid);
	/* end without begin: nothing was copied. */
	snap.complete = 1;
	rt__model_end(&m, &snap);
	CHECK(!m.valid);
	/* Dropped. */
	census(&m, &snap, 7, 2, listed, types, 2, 1);
	rt__model_drop(&m);
	CHECK(!m.valid);
	CHECK_INT(rt__model_snapshot(&m, &req, &got), 0);
	rt__request_free(&req);
	rt__plan_free(&plan);
	rt__snapshot_free(&got);
	rt__model_free(&m);
}

/* The key "" (no listing returns it): where a read would look it up, a
 * copy that does not know it cannot stand for the read. */
static void test_tracker_model__empty_key(void)
{
	static const char *const listed[] = { "a", "b", "c" };
	static const unsigned char types[] = { RT_REF_NORMAL, RT_REF_NORMAL,
		                               RT_REF_NORMAL };
	static const char *const one[] = { "a" };
	static const char *const three[] = { "a", "b", "c" };
	static const char *const empty[] = { "" };
	struct rt__model m = { 0 };
	struct rt__snapshot snap, got = { 0 };
	struct rt__request req1, req3, reqe;

	request(&req1, one, 1);
	request(&req3, three, 3);
	request(&reqe, empty, 1);
	census(&m, &snap, 7, 3, listed, types, 3, 0);
	CHECK_INT(m.empty_known, 0);
	/* Count 3 = 3 normals, above the request's 1 key: "" changes no
	 * decision. */
	CHECK_INT(rt__model_snapshot(&m, &req1, &got), 1);
	/* 3 keys could take the count to zero: a read would look "" up. */
	CHECK_INT(rt__model_snapshot(&m, &req3, &got), 0);
	CHECK_INT(rt__model_snapshot(&m, &reqe, &got), 0);
	/* A count that disagrees with the listing: "" might explain it. */
	census(&m, &snap, 7, 4, listed, types, 3, 0);
	CHECK_INT(rt__model_snapshot(&m, &req1, &got), 0);
	/* Looked up: "" normal, count 4. */
	rt__model_begin(&m);
	rt__model_listed(&m, "a", 1, RT_REF_NORMAL);
	rt__model_listed(&m, "b", 1, RT_REF_NORMAL);
	rt__model_listed(&m, "c", 1, RT_REF_NORMAL);
	rt__model_listed(&m, "", 0, RT_REF_NORMAL);
	snap.refcount = 4;
	rt__model_end(&m, &snap);
	CHECK_INT(rt__model_snapshot(&m, &reqe, &got), 1);
	CHECK_INT(got.found[0], RT_REF_NORMAL);
	CHECK_INT(got.empty_type, RT_REF_NORMAL);
	CHECK_INT(rt__model_snapshot(&m, &req3, &got), 1);
	rt__request_free(&req1);
	rt__request_free(&req3);
	rt__request_free(&reqe);
	rt__snapshot_free(&got);
	rt__model_free(&m);
}

/* Past RT__MODEL_MAX_BYTES the copy is given up and holds nothing. */
static void test_tracker_model__bound(void)
{
	struct rt__model m = { 0 };
	struct rt__snapshot snap = { 0 };
	char key[2048];
	size_t i;

	memset(key, 'k', sizeof(key));
	rt__model_begin(&m);
	for (i = 0; i < RT__MODEL_MAX_BYTES / 1024; i++) {
		snprintf(key, 9, "%08zu", i);
		key[8] = 'k';
		rt__model_listed(&m, key, sizeof(key), RT_REF_NORMAL);
		CHECK(rt__model_bytes(&m) <= RT__MODEL_MAX_BYTES);
	}
	snap.exists = snap.complete = snap.listed = 1;
	snap.refcount = (uint32_t)i;
	rt__model_end(&m, &snap);
	CHECK(!m.valid);
	CHECK_INT(rt__model_bytes(&m), 0);
	rt__model_free(&m);
}

/* Many writes of random changes over keys that are prefixes of each other,
 * against a plain table of what the tracker holds. */
static void test_tracker_model__random_writes(void)
{
	enum { NK = 62, ROUNDS = 400 };
	char names[NK][8];
	const char *keys[NK];
	unsigned char table[NK], after[NK];
	struct rt__model m = { 0 };
	struct rt__snapshot got = { 0 };
	struct rt__request req;
	struct rt__plan plan = { 0 };
	uint32_t count = 0;
	uint64_t version = 1;
	unsigned seed = 12345;
	size_t i, len, round;

	/* Every string of 1 to 5 letters over {a, b}: "a", "b", "aa", ... */
	for (i = 0, len = 1; len <= 5; len++) {
		size_t v, b;

		for (v = 0; v < (size_t)1 << len; v++, i++) {
			for (b = 0; b < len; b++)
				names[i][b] = (char)('a' + (v >> b & 1));
			names[i][len] = '\0';
			keys[i] = names[i];
		}
	}
	request(&req, keys, NK);
	memset(table, 0, sizeof(table));
	rt__model_missing(&m);
	for (round = 0; round < ROUNDS; round++) {
		seed = seed * 1103515245u + 12345u;
		count = 0;
		for (i = 0; i < req.nkeys; i++) {
			seed = seed * 1103515245u + 12345u;
			after[i] = (seed >> 16) % 5 == 0 ? (unsigned char)(1 + (seed >> 20) % 2)
			                                 : table[i];
			count += after[i] == RT_REF_NORMAL;
		}
		if (round == 0)
			CHECK_INT(rt__snapshot_reset(&got, req.nkeys), 0);
		else
			CHECK_INT(rt__model_snapshot(&m, &req, &got), 1);
		CHECK_INT(rt__plan_diff(&plan, &req, &got, 1, count + 1, after),
		          0);
		if (plan.kind == RT__PLAN_NOTHING)
			continue; /* no write, nothing to follow */
		rt__model_apply(&m, &plan, ++version);
		CHECK(m.valid);
		memcpy(table, after, sizeof(table));
		CHECK_INT(rt__model_snapshot(&m, &req, &got), m.valid ? 1 : 0);
		for (i = 0; i < req.nkeys && m.valid; i++)
			if (got.found[i] != table[i]) {
				CHECK_INT(got.found[i], table[i]);
				break;
			}
		CHECK_INT(got.refcount, count + 1);
		CHECK_INT(got.version, version);
	}
	rt__request_free(&req);
	rt__plan_free(&plan);
	rt__snapshot_free(&got);
	rt__model_free(&m);
}

int main(void)
{
	RUN(test_tracker_model__census_copied);
	RUN(test_tracker_model__update_followed);
	RUN(test_tracker_model__create_from_missing);
	RUN(test_tracker_model__gives_up);
	RUN(test_tracker_model__empty_key);
	RUN(test_tracker_model__bound);
	RUN(test_tracker_model__random_writes);
	return check_summary("tracker_model");
}
