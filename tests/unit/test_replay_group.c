/*
 * test_replay_group.c - the replayer's pure parts, without a cluster: the
 * group planner (replay_group.c) and the slot state machine
 * (replay_slot.c).
 *
 * The group planner is checked against its definition: random groups of
 * add and remove entries over random trackers, each planned as one group
 * and, independently, one entry at a time with the single-entry planner
 * (rt__plan_make) on a model of the whole tracker.  Every entry the group
 * takes must get the outcome it gets on its own, the group must be cut
 * exactly where the rules say, and the group's one write (rt__plan_diff)
 * must leave the tracker as the entries one by one leave it.
 */
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "plan.h"
#include "replay_group.h"
#include "replay_int.h"
#include "request.h"

/* The key universe of the random cases; "" is a key like any other. */
static const char *const keys[] = { "", "a", "b", "c", "d", "e", "f" };
#define NKEYS (sizeof(keys) / sizeof(keys[0]))
#define MAX_GROUP 8

static char msg[RT__ERRMSG_MAX];

/* A tracker as a whole: what the one-by-one reference works on. */
struct model {
	int exists;
	uint32_t refcount;
	unsigned char type[NKEYS]; /* 0 absent, else RT_REF_* */
};

static uint64_t rng_state;

static uint64_t rnd(void)
{
	/* xorshift64*: reproducible from the seed printed on failure. */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 2685821657736338717ULL;
}

static unsigned below(unsigned n)
{
	return (unsigned)(rnd() % n);
}

static size_t key_index(const char *key, size_t len)
{
	size_t i;

	for (i = 0; i < NKEYS; i++)
		if (strlen(keys[i]) == len && memcmp(keys[i], key, len) == 0)
			return i;
	return NKEYS;
}

/* A random tracker: mostly sound counts, now and then one below its
 * normal keys (an underflow for a removal) or near UINT32_MAX (an
 * overflow for an add), so that cut points by failure come up too. */
static void random_model(struct model *m)
{
	unsigned normals = 0, i;

	memset(m, 0, sizeof(*m));
	m->exists = below(5) != 0;
	if (!m->exists)
		return;
	for (i = 0; i < NKEYS; i++) {
		m->type[i] = (unsigned char)below(3);
		normals += m->type[i] == RT_REF_NORMAL;
	}
	switch (below(10)) {
	case 0:
		m->refcount = normals ? normals - 1 : 0;
		break;
	case 1:
		m->refcount = UINT32_MAX - below(3);
		break;
	case 2:
		m->refcount = normals + below(4);
		break;
	default:
		m->refcount = normals;
		break;
	}
}

/* A random entry: an add of 1..3 keys, or a removal of 1..3 keys each
 * normal or mask. */
static void random_request(struct rt__request *req)
{
	rt_ref refs[3];
	size_t n = 1 + below(3), i;
	rt_op op = below(2) ? RT_OP_ADD : RT_OP_REMOVE;

	unsigned start = below(NKEYS), step = 1 + below(NKEYS - 1);

	/* Distinct keys (one key both normal and mask is refused): a step
	 * below NKEYS, which is prime, visits each key once. */
	for (i = 0; i < n; i++) {
		refs[i].key = keys[(start + i * step) % NKEYS];
		refs[i].type = op == RT_OP_ADD || below(3) ? RT_REF_NORMAL
		                                          : RT_REF_MASK;
	}
	CHECK_INT(rt__request_init(req, op, "t", refs, n, msg, sizeof(msg)),
	          0);
}

/* The union of the entries' keys, as the replayer builds it. */
static void union_request(struct rt__request *ureq,
                          const struct rt__request *reqs, size_t n)
{
	rt_ref refs[MAX_GROUP * 3];
	size_t nrefs = 0, i, k;

	for (i = 0; i < n; i++) {
		for (k = 0; k < reqs[i].nkeys; k++) {
			refs[nrefs].key = reqs[i].keys[k].key;
			refs[nrefs].type = RT_REF_NORMAL;
			nrefs++;
		}
	}
	CHECK_INT(rt__request_init(ureq, RT_OP_ADD, "t", refs, nrefs, msg,
	                           sizeof(msg)), 0);
}

/* The model's state restricted to req's keys. */
static void model_snapshot(struct rt__snapshot *snap, const struct model *m,
                           const struct rt__request *req)
{
	size_t i;

	CHECK_INT(rt__snapshot_reset(snap, req->nkeys), 0);
	snap->exists = m->exists;
	snap->version = m->exists ? 7 : 0;
	snap->refcount = m->exists ? m->refcount : 0;
	for (i = 0; i < req->nkeys; i++)
		snap->found[i] = m->exists
			? m->type[key_index(req->keys[i].key, req->keys[i].len)]
			: 0;
}

/* What a write does to the whole tracker. */
static void model_apply(struct model *m, const struct rt__plan *p)
{
	size_t i;

	switch (p->kind) {
	case RT__PLAN_NOTHING:
		return;
	case RT__PLAN_DELETE:
		memset(m, 0, sizeof(*m));
		return;
	case RT__PLAN_CREATE:
		memset(m, 0, sizeof(*m));
		break;
	case RT__PLAN_UPDATE:
		break;
	}
	m->exists = 1;
	m->refcount = p->refcount;
	for (i = 0; i < p->nset; i++)
		m->type[key_index(p->set_keys[i], p->set_key_lens[i])] =
			(unsigned char)p->set_vals[i][0];
	for (i = 0; i < p->nrm; i++)
		m->type[key_index(p->rm_keys[i], p->rm_key_lens[i])] = 0;
}

static int same_outcome(const rt_entry_outcome *a, const rt_entry_outcome *b)
{
	return a->result == b->result && a->added == b->added &&
	       a->removed == b->removed && a->masked == b->masked;
}

/* One random case; returns the number of entries the group took. */
static size_t one_case(struct rt__group_planner *gp)
{
	struct rt__request reqs[MAX_GROUP], ureq;
	const struct rt__request *reqp[MAX_GROUP];
	rt_entry_outcome planned[MAX_GROUP];
	struct rt__snapshot snap, step;
	struct rt__plan p, diff;
	struct model start, ref, sent;
	struct rt__group g;
	struct rt__group_state end;
	enum rt__group_result result;
	unsigned char after[NKEYS];
	size_t n = 1 + below(MAX_GROUP), nplanned = 99, want = 0, i;
	uint64_t seed = rng_state;
	int want_failed = 0, rc;

	memset(&snap, 0, sizeof(snap));
	memset(&step, 0, sizeof(step));
	memset(&p, 0, sizeof(p));
	memset(&diff, 0, sizeof(diff));
	random_model(&start);
	for (i = 0; i < n; i++) {
		random_request(&reqs[i]);
		reqp[i] = &reqs[i];
	}
	union_request(&ureq, reqs, n);
	model_snapshot(&snap, &start, &ureq);
	snap.complete = 1;

	g.ureq = &ureq;
	g.snap = &snap;
	g.reqs = reqp;
	g.n = n;
	end.after = after;
	CHECK_INT(rt__group_plan(gp, &result, &nplanned, planned, &end, &g,
	                         msg, sizeof(msg)), 0);

	/* The reference: one entry at a time on the whole tracker. */
	ref = start;
	for (i = 0; i < n; i++) {
		model_snapshot(&step, &ref, &reqs[i]);
		rc = rt__plan_make(&p, &reqs[i], &step, msg, sizeof(msg));
		if (rc != 0) {
			want_failed = i == 0;
			break;
		}
		if (p.kind == RT__PLAN_DELETE && i > 0)
			break;
		if (!want_failed && i < nplanned) {
			rt_entry_outcome o = rt__group_outcome(&p);

			CHECK(same_outcome(&planned[i], &o));
		}
		model_apply(&ref, &p);
		want = i + 1;
		if (p.kind == RT__PLAN_DELETE)
			break;
	}
	if (want_failed) {
		CHECK_INT(result, RT__GROUP_HEAD_FAILED);
		want = 0;
		goto done;
	}
	CHECK_INT(result, RT__GROUP_PLANNED);
	CHECK_INT(nplanned, want);
	CHECK(nplanned >= 1);
	/* The end state over the group's keys is the reference's. */
	CHECK_INT(end.exists, ref.exists);
	CHECK_INT(end.refcount, ref.exists ? ref.refcount : 0);
	for (i = 0; i < ureq.nkeys; i++)
		CHECK_INT(after[i],
		          ref.type[key_index(ureq.keys[i].key,
		                             ureq.keys[i].len)]);
	/* And the group's one write takes the tracker there. */
	CHECK_INT(rt__plan_diff(&diff, &ureq, &snap, end.exists, end.refcount,
	                        after), 0);
	sent = start;
	model_apply(&sent, &diff);
	CHECK_INT(sent.exists, ref.exists);
	if (ref.exists) {
		CHECK_INT(sent.refcount, ref.refcount);
		CHECK(memcmp(sent.type, ref.type, sizeof(sent.type)) == 0);
	}
	/* A delete is a group of its own. */
	if (diff.kind == RT__PLAN_DELETE)
		CHECK_INT(nplanned, 1);
done:
	if (check_case_failures)
		fprintf(stderr, "  (the case from rng_state %" PRIu64
		        ", %zu entries)\n", seed, n);
	for (i = 0; i < n; i++)
		rt__request_free(&reqs[i]);
	rt__request_free(&ureq);
	rt__snapshot_free(&snap);
	rt__snapshot_free(&step);
	rt__plan_free(&p);
	rt__plan_free(&diff);
	return want;
}

/* 20,000 random groups, and the cases that matter each come up. */
static void test_replay_group__random_groups_match_one_by_one(void)
{
	struct rt__group_planner gp;
	size_t hist[MAX_GROUP + 1] = { 0 }, i;

	memset(&gp, 0, sizeof(gp));
	rng_state = 0x5eed5eed12345678ULL;
	for (i = 0; i < 20000 && !check_case_failures; i++)
		hist[one_case(&gp)]++;
	rt__group_planner_free(&gp);
	/* head failures, groups of one, and long groups all occurred */
	CHECK(hist[0] > 0);
	CHECK(hist[1] > 0);
	CHECK(hist[4] + hist[5] + hist[6] + hist[7] + hist[8] > 0);
}

/* The explicit cut rules, on cases small enough to read. */
static void test_replay_group__delete_goes_alone(void)
{
	struct rt__group_planner gp;
	struct rt__request add, rm, ureq;
	const struct rt__request *reqp[2];
	rt_entry_outcome planned[2];
	struct rt__snapshot snap;
	struct rt__group g;
	struct rt__group_state end;
	enum rt__group_result result;
	unsigned char after[2];
	size_t nplanned;
	rt_ref a = { "a", RT_REF_NORMAL }, ab[2] = { { "a", RT_REF_NORMAL },
	                                             { "b", RT_REF_NORMAL } };

	memset(&gp, 0, sizeof(gp));
	memset(&snap, 0, sizeof(snap));
	CHECK_INT(rt__request_init(&add, RT_OP_ADD, "t", &ab[1], 1, msg,
	                           sizeof(msg)), 0);
	CHECK_INT(rt__request_init(&rm, RT_OP_REMOVE, "t", &a, 1, msg,
	                           sizeof(msg)), 0);
	CHECK_INT(rt__request_init(&ureq, RT_OP_ADD, "t", ab, 2, msg,
	                           sizeof(msg)), 0);
	/* tracker {a}: "add b, then remove a" is one group... */
	CHECK_INT(rt__snapshot_reset(&snap, 2), 0);
	snap.exists = 1;
	snap.refcount = 1;
	snap.found[0] = RT_REF_NORMAL;
	g.ureq = &ureq;
	g.snap = &snap;
	g.reqs = reqp;
	g.n = 2;
	end.after = after;
	reqp[0] = &add;
	reqp[1] = &rm;
	CHECK_INT(rt__group_plan(&gp, &result, &nplanned, planned, &end, &g,
	                         msg, sizeof(msg)), 0);
	CHECK_INT(result, RT__GROUP_PLANNED);
	CHECK_INT(nplanned, 2);
	CHECK_INT(planned[1].result, RT_RESULT_CHANGED);
	CHECK_INT(end.refcount, 1);
	/* ...but "remove a" on {a} deletes: alone, even with entries behind */
	reqp[0] = &rm;
	reqp[1] = &add;
	CHECK_INT(rt__group_plan(&gp, &result, &nplanned, planned, &end, &g,
	                         msg, sizeof(msg)), 0);
	CHECK_INT(nplanned, 1);
	CHECK_INT(planned[0].result, RT_RESULT_DELETED);
	CHECK_INT(end.exists, 0);
	/* and a delete behind another entry ends the group before it */
	snap.found[1] = RT_REF_NORMAL;
	snap.refcount = 2;
	{
		rt_ref b = { "b", RT_REF_NORMAL };
		struct rt__request rmb;

		CHECK_INT(rt__request_init(&rmb, RT_OP_REMOVE, "t", &b, 1, msg,
		                           sizeof(msg)), 0);
		reqp[0] = &rmb;
		reqp[1] = &rm;
		CHECK_INT(rt__group_plan(&gp, &result, &nplanned, planned,
		                         &end, &g, msg, sizeof(msg)), 0);
		CHECK_INT(nplanned, 1);
		CHECK_INT(planned[0].result, RT_RESULT_CHANGED);
		rt__request_free(&rmb);
	}
	/* a head that cannot be applied (count below its normal keys) */
	snap.refcount = 0;
	reqp[0] = &rm;
	CHECK_INT(rt__group_plan(&gp, &result, &nplanned, planned, &end, &g,
	                         msg, sizeof(msg)), 0);
	CHECK_INT(result, RT__GROUP_HEAD_FAILED);
	CHECK(msg[0] != '\0');
	rt__request_free(&add);
	rt__request_free(&rm);
	rt__request_free(&ureq);
	rt__snapshot_free(&snap);
	rt__group_planner_free(&gp);
}

static void test_replay_group__outcome_of_plan(void)
{
	struct rt__plan p;
	rt_entry_outcome o;

	memset(&p, 0, sizeof(p));
	o = rt__group_outcome(&p);
	CHECK_INT(o.result, RT_RESULT_NOOP);
	p.added = 2;
	o = rt__group_outcome(&p);
	CHECK_INT(o.result, RT_RESULT_CHANGED);
	CHECK_INT(o.added, 2);
	p.created = 1;
	CHECK_INT(rt__group_outcome(&p).result, RT_RESULT_CREATED);
	p.created = 0;
	p.deleted = 1;
	p.removed = 1;
	o = rt__group_outcome(&p);
	CHECK_INT(o.result, RT_RESULT_DELETED);
	CHECK_INT(o.removed, 1);
}

/* ---- the slot state machine --------------------------------------------- */

#define ST(x) RT__SLOT_##x

/* The table as src/lib/README draws it, written out again. */
static int want_legal(enum rt__slot_state from, enum rt__slot_state to)
{
	static const struct {
		enum rt__slot_state from, to;
	} edges[] = {
		{ ST(IDLE), ST(QUEUED) },     { ST(IDLE), ST(READING) },
		{ ST(IDLE), ST(PLANNED) },
		{ ST(QUEUED), ST(IDLE) },     { ST(READING), ST(PAGING) },
		{ ST(READING), ST(PLANNED) }, { ST(READING), ST(PARKED) },
		{ ST(READING), ST(IDLE) },    { ST(PAGING), ST(PAGING) },
		{ ST(PAGING), ST(READING) },  { ST(PAGING), ST(PLANNED) },
		{ ST(PAGING), ST(PARKED) },   { ST(PAGING), ST(IDLE) },
		{ ST(PLANNED), ST(COMMITTING) },
		{ ST(COMMITTING), ST(WRITING) }, { ST(WRITING), ST(READING) },
		{ ST(WRITING), ST(BACKOFF) }, { ST(WRITING), ST(PARKED) },
		{ ST(WRITING), ST(IDLE) },    { ST(BACKOFF), ST(READING) },
		{ ST(BACKOFF), ST(IDLE) },    { ST(PARKED), ST(READING) },
		{ ST(PARKED), ST(IDLE) },
	};
	size_t i;

	for (i = 0; i < sizeof(edges) / sizeof(edges[0]); i++)
		if (edges[i].from == from && edges[i].to == to)
			return 1;
	return 0;
}

static void test_replay_slot__transition_table(void)
{
	unsigned from, to, nlegal = 0;

	for (from = 0; from < RT__SLOT_NSTATES; from++) {
		for (to = 0; to < RT__SLOT_NSTATES; to++) {
			int ok = rt__slot_transition_ok(from, to);

			if (ok != want_legal(from, to))
				fprintf(stderr, "  %s -> %s\n",
				        rt__slot_state_name(from),
				        rt__slot_state_name(to));
			CHECK_INT(ok, want_legal(from, to));
			nlegal += ok;
		}
	}
	CHECK_INT(nlegal, 23);
	/* Out of range is never legal. */
	CHECK_INT(rt__slot_transition_ok(RT__SLOT_NSTATES, ST(IDLE)), 0);
	CHECK_INT(rt__slot_transition_ok(ST(IDLE), RT__SLOT_NSTATES), 0);
	CHECK_STR(rt__slot_state_name(ST(PARKED)), "parked");
	CHECK_STR(rt__slot_state_name(RT__SLOT_NSTATES), "invalid");
}

/* The setter keeps each list and the window count in step with the
 * states. */
static void test_replay_slot__lists_follow_states(void)
{
	struct replay r;
	struct slot s[3];

	memset(&r, 0, sizeof(r));
	memset(s, 0, sizeof(s));
	/* queued: oldest first */
	rt__slot_set_state(&r, &s[0], ST(QUEUED));
	rt__slot_set_state(&r, &s[1], ST(QUEUED));
	rt__slot_set_state(&r, &s[2], ST(QUEUED));
	CHECK(r.queued.head == &s[0] && r.queued.tail == &s[2]);
	CHECK_INT(r.queued.n, 3);
	CHECK_INT(r.active, 0);
	/* taken from the middle */
	rt__slot_set_state(&r, &s[1], ST(IDLE));
	CHECK(r.queued.head == &s[0] && s[0].next == &s[2] &&
	      s[2].prev == &s[0]);
	CHECK_INT(r.queued.n, 2);
	/* reading holds a window share, planned too, on to_write */
	rt__slot_set_state(&r, &s[1], ST(READING));
	CHECK_INT(r.active, 1);
	rt__slot_set_state(&r, &s[1], ST(PAGING));
	rt__slot_set_state(&r, &s[1], ST(PAGING));
	CHECK_INT(r.active, 1);
	rt__slot_set_state(&r, &s[1], ST(PLANNED));
	CHECK(r.to_write.head == &s[1]);
	CHECK_INT(r.active, 1);
	/* handed to the commit: off to_write, onto committing */
	rt__slot_set_state(&r, &s[1], ST(COMMITTING));
	CHECK(r.to_write.head == NULL && r.to_write.n == 0);
	CHECK(r.committing.head == &s[1] && r.committing.n == 1);
	CHECK_INT(r.active, 1);
	rt__slot_set_state(&r, &s[1], ST(WRITING));
	CHECK(r.committing.head == NULL && r.committing.n == 0);
	/* a conflict's backoff keeps the share, a parked slot gives it up */
	rt__slot_set_state(&r, &s[1], ST(BACKOFF));
	CHECK(r.timers.head == &s[1]);
	CHECK_INT(r.active, 1);
	rt__slot_set_state(&r, &s[0], ST(IDLE));
	rt__slot_set_state(&r, &s[0], ST(READING));
	rt__slot_set_state(&r, &s[0], ST(PARKED));
	CHECK_INT(r.active, 1);
	CHECK(r.timers.head == &s[0] && s[0].next == &s[1]);
	CHECK_INT(r.timers.n, 2);
	rt__slot_set_state(&r, &s[0], ST(READING));
	CHECK_INT(r.active, 2);
	CHECK(r.timers.head == &s[1] && r.timers.tail == &s[1]);
	rt__slot_set_state(&r, &s[1], ST(IDLE));
	rt__slot_set_state(&r, &s[0], ST(IDLE));
	rt__slot_set_state(&r, &s[2], ST(IDLE));
	CHECK_INT(r.active, 0);
	CHECK(!r.queued.head && !r.timers.head && !r.to_write.head &&
	      !r.committing.head);
	CHECK(!rt__slot_busy(&s[0]));
}

/* Runs one transition in a child; its wait status. */
static int transition_in_child(enum rt__slot_state from,
                               enum rt__slot_state to)
{
	pid_t pid;
	int status = 0;

	fflush(NULL);
	pid = fork();
	if (pid == 0) {
		struct replay r;
		struct slot s;

		/* The abort's message is expected; keep the log clean. */
		if (!freopen("/dev/null", "w", stderr))
			_exit(3);
		memset(&r, 0, sizeof(r));
		memset(&s, 0, sizeof(s));
		s.state = from;
		rt__slot_set_state(&r, &s, to);
		_exit(0);
	}
	if (pid < 0 || waitpid(pid, &status, 0) != pid)
		return -1;
	return status;
}

/* An illegal transition stops the process (the build has assertions on);
 * a legal one from the same state does not. */
static void test_replay_slot__illegal_transition_aborts(void)
{
	int st;

	st = transition_in_child(ST(IDLE), ST(WRITING));
	CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT);
	st = transition_in_child(ST(PLANNED), ST(IDLE));
	CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT);
	/* Invariant (1): a planned write goes out only through the commit
	 * that holds its in-flight records. */
	st = transition_in_child(ST(PLANNED), ST(WRITING));
	CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT);
	st = transition_in_child(ST(COMMITTING), ST(IDLE));
	CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT);
	st = transition_in_child(ST(QUEUED), ST(READING));
	CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT);
	st = transition_in_child(ST(IDLE), ST(READING));
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

int main(void)
{
	RUN(test_replay_group__random_groups_match_one_by_one);
	RUN(test_replay_group__delete_goes_alone);
	RUN(test_replay_group__outcome_of_plan);
	RUN(test_replay_slot__transition_table);
	RUN(test_replay_slot__lists_follow_states);
	RUN(test_replay_slot__illegal_transition_aborts);
	return check_summary("test_replay_group");
}
