/*
 * test_races.c - concurrent writers on the same few trackers.
 *
 * NW writer threads, each with its own rt_cluster connection and rt_pool,
 * hammer NT trackers with overlapping keys through the library.  The
 * library retries conflicts itself (version mismatch, -EEXIST from a racing
 * create, -ENOENT from a racing delete), so no writer may ever see an
 * error; the retry budget is raised so that only a real bug can spend it.
 *
 * Why the final state is exactly computable.  A tracker is deleted, masks
 * and all, when its count reaches 0, and which writer's request does that
 * depends on timing; a mask that is wiped that way would make the expected
 * state depend on timing too.  So the run is cut into phases by barriers,
 * and each phase only allows what keeps every key's state known to exactly
 * one party:
 *
 *  - private keys "wW-kJ": writer W alone touches them, on every tracker,
 *    and records the state each request leaves them in;
 *  - shared keys "shared-J": every writer may add them, nobody removes them
 *    until the clean phase; present iff someone added them;
 *  - "anchor": added by the main thread before a mixed phase.
 *
 *  MIXED  the anchor holds every tracker's count above 0, so nothing is
 *         deleted: adds (private, with duplicates, plus shared keys),
 *         normal removes, masks, and requests mixing both, all racing on
 *         the same objects (version conflicts).
 *  CLEAN  every writer removes, in one request per tracker, its private
 *         keys, every shared key and the anchor: racing removals, the last
 *         one deletes.  Afterwards no tracker exists.
 *  FREE   no anchor and no masks left behind: writers add a private key
 *         and soon take it out again (a normal remove, or a mask then a
 *         normal remove), so counts keep dropping to 0 and trackers are
 *         deleted and recreated all the time (racing creates -> -EEXIST,
 *         writes racing a delete -> -ENOENT).  A key may be left normal at
 *         the end of the phase, never masked, so masks never outlive the
 *         writer's own request that removes them.
 *
 * Rounds of MIXED, CLEAN, FREE, then a final MIXED.  After each phase the
 * main thread compares every tracker with the union of what the writers
 * recorded (raw bytes and rt_tracker_read(): refcount equals the number of
 * normal keys, key set and types exact, or the object absent).  Writers
 * also check every outcome against what their own keys imply (e.g. "added"
 * of a private-only add, "created" impossible while anchored).
 */
#include <pthread.h>
#include <time.h>

#include "itest.h"

enum {
	NW = 8,      /* writers */
	NT = 3,      /* trackers */
	NK = 3,      /* private keys per writer (on every tracker) */
	NSH = 4,     /* shared keys */
	ROUNDS = 4,  /* MIXED, CLEAN, FREE rounds before the final MIXED */
	OPS_MIXED = 40,   /* requests per writer per mixed phase */
	CYCLES_FREE = 25, /* add-then-remove cycles per writer per free phase */
};

enum phase { PH_MIXED, PH_CLEAN, PH_FREE, PH_STOP };

static const char *const phase_names[] = { "mixed", "clean", "free", "stop" };

enum { ST_ABSENT = 0, ST_NORMAL = RT_REF_NORMAL, ST_MASK = RT_REF_MASK };

struct writer {
	pthread_t thread;
	int id;
	uint64_t rng;
	char ns[128];
	/* What this writer's requests left its private keys as. */
	int st[NT][NK];
	/* Shared keys this writer added since the last clean phase. */
	int shared[NT][NSH];
	/* Tallies, read by the main thread after a barrier. */
	unsigned long ops, errors, mismatches, created, deletions;
	unsigned long retried; /* requests that took more than one attempt */
	unsigned max_attempts;
	char first_error[512];
	char first_mismatch[256];
};

static pthread_barrier_t barrier;
static enum phase current_phase;
static struct writer writers[NW];

static const char *tracker_name(int t)
{
	static const char *const names[NT] = { "race-0", "race-1", "race-2" };

	return names[t];
}

static void key_name(char *buf, size_t len, int w, int k)
{
	snprintf(buf, len, "w%d-k%d", w, k);
}

static const char *const shared_keys[NSH] = { "shared-0", "shared-1",
	                                      "shared-2", "shared-3" };

/* xorshift64*: a private, reproducible stream per writer. */
static uint64_t rnd(struct writer *w)
{
	w->rng ^= w->rng >> 12;
	w->rng ^= w->rng << 25;
	w->rng ^= w->rng >> 27;
	return w->rng * 2685821657736338717ULL;
}

static int pick(struct writer *w, int n)
{
	return (int)((rnd(w) >> 33) % (uint64_t)n);
}

/* ---- the writers' side ----------------------------------------------- */

__attribute__((format(printf, 2, 3))) static void
mismatch(struct writer *w, const char *fmt, ...)
{
	va_list ap;

	if (w->mismatches++ == 0) {
		va_start(ap, fmt);
		vsnprintf(w->first_mismatch, sizeof(w->first_mismatch), fmt, ap);
		va_end(ap);
	}
}

/* Bookkeeping common to every request; returns 0 if it succeeded. */
static int account(struct writer *w, rt_pool *pool, int rc,
                   const rt_outcome *o, const char *what, int t)
{
	w->ops++;
	if (rc != 0) {
		if (w->errors++ == 0)
			snprintf(w->first_error, sizeof(w->first_error),
			         "%s on %s (%s phase): %s: %s", what,
			         tracker_name(t), phase_names[current_phase],
			         rt_strerror(rc), rt_pool_errmsg(pool));
		return -1;
	}
	if (o->attempts > w->max_attempts)
		w->max_attempts = o->attempts;
	if (o->attempts > 1)
		w->retried++;
	if (o->attempts < 1)
		mismatch(w, "%s on %s: attempts %u", what, tracker_name(t),
		         o->attempts);
	w->created += o->created != 0;
	w->deletions += o->deleted && (o->removed || o->masked);
	/* Invariants of any outcome. */
	if (o->deleted && (o->refcount != 0 || o->object_version != 0))
		mismatch(w, "%s on %s: deleted with refcount %u version %llu",
		         what, tracker_name(t), o->refcount,
		         (unsigned long long)o->object_version);
	if (o->created && o->deleted)
		mismatch(w, "%s on %s: created and deleted", what,
		         tracker_name(t));
	return 0;
}

/* A request on private keys only, in a mixed phase: its counts follow from
 * this writer's own records, since nobody else touches these keys and the
 * anchor keeps the tracker alive. */
static void mixed_private(struct writer *w, rt_pool *pool, int t)
{
	char names[4][32];
	const char *keys[4];
	rt_ref refs[4];
	int idx[4], n = 1 + pick(w, 3), kind = pick(w, 4), i, j;
	uint32_t want_added = 0, want_removed = 0, want_masked = 0;
	rt_outcome o;
	int rc, seen[NK] = { 0 };

	for (i = 0; i < n; i++) {
		/* Repeats on purpose: duplicates must count once. */
		idx[i] = pick(w, NK);
		key_name(names[i], sizeof(names[i]), w->id, idx[i]);
		keys[i] = names[i];
		refs[i].key = names[i];
		refs[i].type = kind == 2 ? RT_REF_MASK : RT_REF_NORMAL;
	}
	if (kind == 3) {
		/* Normal and mask in one request, on distinct keys. */
		for (i = 0; i < n; i++) {
			for (j = 0; j < i; j++)
				if (idx[j] == idx[i])
					break;
			refs[i].type = j < i ? refs[j].type
			               : (idx[i] % 2 ? RT_REF_MASK : RT_REF_NORMAL);
		}
	}
	memset(&o, 0, sizeof(o));
	if (kind == 0)
		rc = rt_tracker_add(&o, pool, tracker_name(t), keys, (size_t)n);
	else
		rc = rt_tracker_remove(&o, pool, tracker_name(t), refs,
		                       (size_t)n);
	if (account(w, pool, rc, &o, kind == 0 ? "add" : "remove", t) != 0)
		return;
	for (i = 0; i < n; i++) {
		int *st = &w->st[t][idx[i]];

		if (seen[idx[i]]++)
			continue;
		if (kind == 0) {
			if (*st == ST_ABSENT) {
				*st = ST_NORMAL;
				want_added++;
			}
		} else if (refs[i].type == RT_REF_NORMAL) {
			if (*st != ST_ABSENT) {
				*st = ST_ABSENT;
				want_removed++;
			}
		} else if (*st != ST_MASK) {
			*st = ST_MASK;
			want_masked++;
		}
	}
	if (o.created || o.deleted || o.added != want_added ||
	    o.removed != want_removed || o.masked != want_masked ||
	    o.refcount < 1)
		mismatch(w, "mixed %s on %s: created %d deleted %d added %u "
		         "removed %u masked %u refcount %u, want 0 0 %u %u %u "
		         ">=1", kind == 0 ? "add" : "remove", tracker_name(t),
		         o.created, o.deleted, o.added, o.removed, o.masked,
		         o.refcount, want_added, want_removed, want_masked);
	if (o.object_version == 0 && (want_added || want_removed || want_masked))
		mismatch(w, "mixed request on %s wrote but object_version is 0",
		         tracker_name(t));
}

/* An add of private and shared keys in a mixed phase: the shared ones may
 * or may not be new, so only bounds can be checked. */
static void mixed_shared(struct writer *w, rt_pool *pool, int t)
{
	char name[32];
	const char *keys[3];
	int k = pick(w, NK), s1 = pick(w, NSH), s2 = pick(w, NSH);
	uint32_t want_private;
	rt_outcome o;
	int rc;

	key_name(name, sizeof(name), w->id, k);
	keys[0] = shared_keys[s1];
	keys[1] = name;
	keys[2] = shared_keys[s2];
	memset(&o, 0, sizeof(o));
	rc = rt_tracker_add(&o, pool, tracker_name(t), keys, 3);
	if (account(w, pool, rc, &o, "add", t) != 0)
		return;
	want_private = w->st[t][k] == ST_ABSENT;
	if (w->st[t][k] == ST_ABSENT)
		w->st[t][k] = ST_NORMAL;
	w->shared[t][s1] = w->shared[t][s2] = 1;
	if (o.created || o.deleted || o.added < want_private ||
	    o.added > want_private + (s1 == s2 ? 1 : 2) || o.removed ||
	    o.masked)
		mismatch(w, "mixed shared add on %s: created %d deleted %d "
		         "added %u (private %u)", tracker_name(t), o.created,
		         o.deleted, o.added, want_private);
}

static void run_mixed(struct writer *w, rt_pool *pool)
{
	int i;

	for (i = 0; i < OPS_MIXED; i++) {
		int t = pick(w, NT);

		if (pick(w, 5) == 0)
			mixed_shared(w, pool, t);
		else
			mixed_private(w, pool, t);
	}
}

static void run_clean(struct writer *w, rt_pool *pool)
{
	char names[NK][32];
	rt_ref refs[NK + NSH + 1];
	rt_outcome o;
	int t, k, s, n, rc;

	for (t = 0; t < NT; t++) {
		n = 0;
		for (k = 0; k < NK; k++) {
			key_name(names[k], sizeof(names[k]), w->id, k);
			refs[n].key = names[k];
			refs[n++].type = RT_REF_NORMAL;
		}
		for (s = 0; s < NSH; s++) {
			refs[n].key = shared_keys[s];
			refs[n++].type = RT_REF_NORMAL;
		}
		refs[n].key = "anchor";
		refs[n++].type = RT_REF_NORMAL;
		memset(&o, 0, sizeof(o));
		rc = rt_tracker_remove(&o, pool, tracker_name(t), refs,
		                       (size_t)n);
		if (account(w, pool, rc, &o, "clean remove", t) != 0)
			continue;
		{
			/* Own normal keys are certainly removed by this
			 * request (they hold the count above 0); own masks
			 * may have gone with a deletion by another writer. */
			uint32_t mine = 0;

			for (k = 0; k < NK; k++)
				mine += w->st[t][k] == ST_NORMAL;
			if (o.removed < mine || o.removed > (uint32_t)n ||
			    o.masked || o.created)
				mismatch(w, "clean on %s: removed %u masked %u "
				         "created %d, own normal keys %u",
				         tracker_name(t), o.removed, o.masked,
				         o.created, mine);
		}
		for (k = 0; k < NK; k++)
			w->st[t][k] = ST_ABSENT;
		for (s = 0; s < NSH; s++)
			w->shared[t][s] = 0;
	}
}

/* Takes private key k of tracker t out again: a normal remove, or a mask
 * followed by a normal remove of that mask. */
static void free_take_out(struct writer *w, rt_pool *pool, int t, int k)
{
	char name[32];
	rt_ref r;
	rt_outcome o;
	int rc;

	key_name(name, sizeof(name), w->id, k);
	r.key = name;
	if (pick(w, 2)) {
		r.type = RT_REF_MASK;
		memset(&o, 0, sizeof(o));
		rc = rt_tracker_remove(&o, pool, tracker_name(t), &r, 1);
		if (account(w, pool, rc, &o, "mask", t) == 0 &&
		    (o.masked != 1 || o.removed || o.created ||
		     (!o.deleted && (o.refcount < 1 || !o.object_version))))
			mismatch(w, "free mask of a normal key on %s: masked %u "
			         "removed %u created %d deleted %d refcount %u",
			         tracker_name(t), o.masked, o.removed,
			         o.created, o.deleted, o.refcount);
		/* The mask is there, or gone with the whole tracker. */
		r.type = RT_REF_NORMAL;
		memset(&o, 0, sizeof(o));
		rc = rt_tracker_remove(&o, pool, tracker_name(t), &r, 1);
		if (account(w, pool, rc, &o, "remove mask", t) == 0 &&
		    (o.removed > 1 || o.masked || o.created ||
		     (o.removed && (o.deleted || o.refcount < 1))))
			mismatch(w, "free remove of a mask on %s: removed %u "
			         "masked %u created %d deleted %d refcount %u",
			         tracker_name(t), o.removed, o.masked,
			         o.created, o.deleted, o.refcount);
	} else {
		r.type = RT_REF_NORMAL;
		memset(&o, 0, sizeof(o));
		rc = rt_tracker_remove(&o, pool, tracker_name(t), &r, 1);
		if (account(w, pool, rc, &o, "remove", t) == 0 &&
		    (o.removed != 1 || o.masked || o.created ||
		     (!o.deleted && (o.refcount < 1 || !o.object_version))))
			mismatch(w, "free remove of a normal key on %s: "
			         "removed %u masked %u created %d deleted %d "
			         "refcount %u", tracker_name(t), o.removed,
			         o.masked, o.created, o.deleted, o.refcount);
	}
	w->st[t][k] = ST_ABSENT;
}

static void run_free(struct writer *w, rt_pool *pool)
{
	char name[32];
	const char *key = name;
	rt_outcome o;
	int i, t, k, rc;

	for (i = 0; i < CYCLES_FREE; i++) {
		t = pick(w, NT);
		k = pick(w, NK);
		if (w->st[t][k] == ST_NORMAL) {
			free_take_out(w, pool, t, k);
			continue;
		}
		key_name(name, sizeof(name), w->id, k);
		memset(&o, 0, sizeof(o));
		rc = rt_tracker_add(&o, pool, tracker_name(t), &key, 1);
		if (account(w, pool, rc, &o, "add", t) != 0)
			continue;
		w->st[t][k] = ST_NORMAL;
		if (o.added != 1 || o.deleted || o.removed || o.masked ||
		    o.refcount < 1 || (o.created && o.refcount != 1) ||
		    !o.object_version)
			mismatch(w, "free add on %s: added %u created %d "
			         "deleted %d refcount %u", tracker_name(t),
			         o.added, o.created, o.deleted, o.refcount);
		/* Out again at once, so that counts keep reaching 0 while
		 * others race to add; only the last cycles may leave the key
		 * in, for the check after the phase. */
		if (i < CYCLES_FREE - 3 || pick(w, 2))
			free_take_out(w, pool, t, k);
	}
}

static void *writer_main(void *arg)
{
	struct writer *w = arg;
	rt_cluster *cl = NULL;
	rt_pool *pool = NULL;
	rt_retry_policy policy = { 100000, 1, 50 };
	int r;

	r = itest_connect(&cl);
	if (r == 0)
		r = rt_pool_open(&pool, cl, itest_pool_name(), w->ns);
	if (r != 0) {
		w->errors++;
		snprintf(w->first_error, sizeof(w->first_error),
		         "writer %d: connect/open: %s: %s", w->id,
		         rt_strerror(r), pool ? rt_pool_errmsg(pool)
		                             : rt_cluster_errmsg(cl));
	} else {
		rt_pool_set_retry(pool, &policy);
	}
	for (;;) {
		pthread_barrier_wait(&barrier); /* phase starts */
		if (current_phase == PH_STOP)
			break;
		if (r == 0) {
			switch (current_phase) {
			case PH_MIXED:
				run_mixed(w, pool);
				break;
			case PH_CLEAN:
				run_clean(w, pool);
				break;
			case PH_FREE:
				run_free(w, pool);
				break;
			case PH_STOP:
				break;
			}
		}
		pthread_barrier_wait(&barrier); /* phase ends */
	}
	rt_pool_close(pool);
	rt_cluster_close(cl);
	return NULL;
}

/* ---- the main thread's side ------------------------------------------ */

static int anchor_present[NT];
static unsigned long main_created; /* trackers the anchors created */

/* What every tracker must hold now: the union of all records. */
static void expected(struct itest_model *m, int t)
{
	char name[32];
	int w, k, s, shared;

	itest_model_clear(m);
	if (anchor_present[t]) {
		itest_model_set(m, "anchor", RT_REF_NORMAL);
		m->count++;
	}
	for (s = 0; s < NSH; s++) {
		for (shared = 0, w = 0; w < NW; w++)
			shared |= writers[w].shared[t][s];
		if (shared) {
			itest_model_set(m, shared_keys[s], RT_REF_NORMAL);
			m->count++;
		}
	}
	for (w = 0; w < NW; w++)
		for (k = 0; k < NK; k++) {
			int st = writers[w].st[t][k];

			if (st == ST_ABSENT)
				continue;
			key_name(name, sizeof(name), w, k);
			itest_model_set(m, name, st);
			m->count += st == ST_NORMAL;
		}
	m->exists = m->count > 0;
	if (!m->exists && m->n) {
		/* Masks without a normal key: the phases are designed so
		 * that this never has to be predicted. */
		itest_fail(ITEST_AT, "design error: tracker %s would hold only "
		           "masks", tracker_name(t));
		itest_model_clear(m);
	}
}

static void check_all(struct itest *t, const char *when)
{
	struct itest_model m = { 0 };
	int i, before = check_case_failures;
	unsigned long normals = 0, masks = 0, alive = 0;
	size_t j;

	for (i = 0; i < NT; i++) {
		expected(&m, i);
		itest_check_state(ITEST_AT, t, tracker_name(i), &m);
		alive += (unsigned long)m.exists;
		for (j = 0; j < m.n; j++) {
			normals += m.refs[j].type == RT_REF_NORMAL;
			masks += m.refs[j].type == RT_REF_MASK;
		}
	}
	itest_model_clear(&m);
	fprintf(stderr, "  after %-14s %lu trackers alive, %lu normal keys, "
	        "%lu masks%s\n", when, alive, normals, masks,
	        check_case_failures != before ? "  <-- MISMATCH" : "");
}

/* Before a mixed phase: the anchor on every tracker, so none can die. */
static void add_anchors(struct itest *t)
{
	struct itest_model m = { 0 };
	int i;

	for (i = 0; i < NT; i++) {
		expected(&m, i);
		main_created += !m.exists;
		itest_add(ITEST_AT, t, &m, tracker_name(i), KEYS("anchor"));
		anchor_present[i] = 1;
	}
	itest_model_clear(&m);
}

static void run_phase(enum phase ph)
{
	current_phase = ph;
	pthread_barrier_wait(&barrier); /* start */
	if (ph != PH_STOP)
		pthread_barrier_wait(&barrier); /* end */
}

static void test_races__concurrent_writers(void)
{
	struct itest t;
	struct timespec t0, t1;
	unsigned long ops = 0, errors = 0, mismatches = 0, created = 0,
	              deletions = 0, retried = 0;
	unsigned max_attempts = 0;
	uint64_t seed;
	double secs;
	int i, r, started = 0;
	char when[32];

	if (itest_open(&t))
		goto done;
	seed = (uint64_t)strtoull(itest_env("RT_RACES_SEED", "0"), NULL, 0);
	if (!seed)
		seed = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32);
	fprintf(stderr, "  races: %d writers, %d trackers, seed %#llx "
	        "(RT_RACES_SEED to repeat)\n", NW, NT,
	        (unsigned long long)seed);
	memset(writers, 0, sizeof(writers));
	memset(anchor_present, 0, sizeof(anchor_present));
	main_created = 0;
	if (pthread_barrier_init(&barrier, NULL, NW + 1) != 0) {
		CHECK(!"pthread_barrier_init");
		goto done;
	}
	for (i = 0; i < NW; i++) {
		writers[i].id = i;
		writers[i].rng = seed * 0x9e3779b97f4a7c15ULL + (uint64_t)i + 1;
		snprintf(writers[i].ns, sizeof(writers[i].ns), "%s", t.ns);
		r = pthread_create(&writers[i].thread, NULL, writer_main,
		                   &writers[i]);
		CHECK_INT(r, 0);
		if (r != 0)
			break;
		started++;
	}
	if (started < NW) {
		/* The barrier counts NW writers: without them all, stop. */
		for (i = 0; i < started; i++)
			pthread_cancel(writers[i].thread);
		for (i = 0; i < started; i++)
			pthread_join(writers[i].thread, NULL);
		pthread_barrier_destroy(&barrier);
		goto done;
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (i = 0; i <= ROUNDS; i++) {
		add_anchors(&t);
		run_phase(PH_MIXED);
		snprintf(when, sizeof(when), "mixed %d:", i);
		check_all(&t, when);
		if (i == ROUNDS)
			break;
		run_phase(PH_CLEAN);
		memset(anchor_present, 0, sizeof(anchor_present));
		snprintf(when, sizeof(when), "clean %d:", i);
		check_all(&t, when);
		run_phase(PH_FREE);
		snprintf(when, sizeof(when), "free %d:", i);
		check_all(&t, when);
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	run_phase(PH_STOP);
	for (i = 0; i < NW; i++)
		pthread_join(writers[i].thread, NULL);
	pthread_barrier_destroy(&barrier);

	for (i = 0; i < NW; i++) {
		struct writer *w = &writers[i];

		ops += w->ops;
		errors += w->errors;
		mismatches += w->mismatches;
		created += w->created;
		deletions += w->deletions;
		retried += w->retried;
		if (w->max_attempts > max_attempts)
			max_attempts = w->max_attempts;
		if (w->errors)
			fprintf(stderr, "  writer %d: %lu errors, first: %s\n",
			        i, w->errors, w->first_error);
		if (w->mismatches)
			fprintf(stderr, "  writer %d: %lu outcome mismatches, "
			        "first: %s\n", i, w->mismatches,
			        w->first_mismatch);
	}
	secs = (double)(t1.tv_sec - t0.tv_sec) +
	       (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	/* The figures for the report; nothing is asserted about time. */
	printf("races: %lu requests by %d writers in %.2f s (%.0f/s); "
	       "%lu took more than one attempt, worst %u attempts; "
	       "%lu creations, %lu deletions by a request\n",
	       ops, NW, secs, secs > 0 ? (double)ops / secs : 0.0, retried,
	       max_attempts, created, deletions);
	CHECK_INT(errors, 0);
	CHECK_INT(mismatches, 0);
	CHECK(ops >= 2000);
	/* Every clean phase deletes all NT trackers and every mixed phase
	 * after it creates them again (the anchors, from this thread). */
	CHECK(deletions >= (unsigned long)(ROUNDS * NT));
	/* Each life of a tracker begins with one request that says
	 * created=1 and ends with one that deletes it, or lasts to the end:
	 * the created/deleted flags must add up exactly. */
	{
		struct itest_model m = { 0 };
		unsigned long alive = 0;

		for (i = 0; i < NT; i++) {
			expected(&m, i);
			alive += (unsigned long)m.exists;
		}
		itest_model_clear(&m);
		CHECK_INT(created + main_created, deletions + alive);
	}
done:
	itest_close(&t);
}

int main(void)
{
	if (itest_init() != 0)
		return itest_no_cluster("races");
	RUN(test_races__concurrent_writers);
	itest_fini();
	return check_summary("races");
}
