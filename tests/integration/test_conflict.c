/*
 * test_conflict.c - a conflict reaches the caller only once the retry
 * budget is spent, and then nothing was written.
 *
 * A rival thread, on a cluster connection of its own, changes one tracker
 * as fast as it can: it adds and removes a key of its own, while an anchor
 * key keeps the count above 0 so that the tracker is never deleted.
 * Against it:
 *  - budget_spent: with a budget of one round, requests must sooner or
 *    later fail with RT_ECONFLICT, with a message naming the tracker, and
 *    leave no trace (an add that gave up left its key absent, a remove
 *    that gave up left its key normal);
 *  - default_budget: with the library's default budget, every request
 *    succeeds although the rival keeps writing.
 * The rival itself uses the default budget and must never see an error.
 * Afterwards the tracker's count equals its number of normal keys.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

#include "itest.h"

#define TRACKER "contended"

static atomic_int rival_stop;

struct rival {
	pthread_t thread;
	const char *ns;
	unsigned long ops, errors;
	char first_error[512];
};

static void *rival_main(void *arg)
{
	struct rival *rv = arg;
	const char *const key[] = { "rival" };
	const rt_ref ref[] = { { "rival", RT_REF_NORMAL } };
	rt_cluster *cl = NULL;
	rt_pool *pool = NULL;
	rt_outcome o;
	int r;

	r = itest_connect(&cl);
	if (r == 0)
		r = rt_pool_open(&pool, cl, itest_pool_name(), rv->ns);
	while (r == 0 && !atomic_load(&rival_stop)) {
		r = rt_tracker_add(&o, pool, TRACKER, key, 1);
		if (r == 0)
			r = rt_tracker_remove(&o, pool, TRACKER, ref, 1);
		rv->ops += 2;
	}
	if (r != 0) {
		rv->errors++;
		snprintf(rv->first_error, sizeof(rv->first_error), "%s: %s",
		         rt_strerror(r), pool ? rt_pool_errmsg(pool)
		                             : rt_cluster_errmsg(cl));
	}
	rt_pool_close(pool);
	rt_cluster_close(cl);
	return NULL;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The type byte of `key` in the tracker (0: absent), read raw. */
static int raw_type(struct itest *t, const char *key)
{
	struct itest_raw raw;
	int type = -1;
	size_t i;

	if (RAW_GET(&raw, t->io, TRACKER) < 0)
		return -1;
	if (raw.exists) {
		type = 0;
		for (i = 0; i < raw.nomap; i++)
			if (strcmp(raw.omap[i].key, key) == 0 &&
			    raw.omap[i].len == 1)
				type = raw.omap[i].val[0];
	}
	itest_raw_free(&raw);
	return type;
}

static int start_rival(struct rival *rv, struct itest *t)
{
	const char *const anchor[] = { "anchor" };
	rt_outcome o;

	memset(rv, 0, sizeof(*rv));
	rv->ns = t->ns;
	atomic_store(&rival_stop, 0);
	CHECK_INT(rt_tracker_add(&o, t->pool, TRACKER, anchor, 1), 0);
	if (pthread_create(&rv->thread, NULL, rival_main, rv) != 0) {
		CHECK(!"pthread_create");
		return -1;
	}
	return 0;
}

static void stop_rival(struct rival *rv, struct itest *t)
{
	rt_tracker_info *info = NULL;
	uint32_t normals = 0;
	size_t i;

	atomic_store(&rival_stop, 1);
	pthread_join(rv->thread, NULL);
	if (rv->errors)
		fprintf(stderr, "  rival: %s\n", rv->first_error);
	CHECK_INT(rv->errors, 0);
	CHECK(rv->ops > 0);
	CHECK_INT(rt_tracker_read(&info, t->pool, TRACKER), 0);
	if (info) {
		for (i = 0; i < info->nrefs; i++)
			normals += info->refs[i].type == RT_REF_NORMAL;
		CHECK_INT(info->refcount, normals);
	}
	rt_tracker_info_free(info);
	CHECK_INT(raw_type(t, "anchor"), RT_REF_NORMAL);
}

static void test_conflict__budget_spent(void)
{
	const rt_retry_policy one = { 1, 1, 1 };
	struct itest t;
	struct rival rv;
	unsigned add_conflicts = 0, rem_conflicts = 0, tries = 0;
	double deadline;
	char key[32];
	rt_outcome o;
	int r;

	if (itest_open(&t) || start_rival(&rv, &t))
		goto done;
	rt_pool_set_retry(t.pool, &one);
	deadline = now_s() + 60;
	/* Conflicts depend on timing; ask until both kinds have been seen a
	 * few times, within a bound that a working rival makes generous. */
	while ((add_conflicts < 3 || rem_conflicts < 3) && tries < 20000 &&
	       now_s() < deadline) {
		const char *const keys[] = { key };
		const rt_ref refs[] = { { key, RT_REF_NORMAL } };

		snprintf(key, sizeof(key), "k%u", tries++);
		r = rt_tracker_add(&o, t.pool, TRACKER, keys, 1);
		if (r == RT_ECONFLICT) {
			add_conflicts++;
			CHECK_HAS(rt_pool_errmsg(t.pool), TRACKER);
			CHECK_HAS(rt_pool_errmsg(t.pool), "gave up after 1 attempt");
			CHECK_INT(raw_type(&t, key), 0);
			continue;
		}
		CHECK_INT(r, 0);
		if (r != 0)
			break;
		CHECK_INT(o.attempts, 1);
		r = rt_tracker_remove(&o, t.pool, TRACKER, refs, 1);
		if (r == RT_ECONFLICT) {
			rem_conflicts++;
			CHECK_HAS(rt_pool_errmsg(t.pool), TRACKER);
			CHECK_INT(raw_type(&t, key), RT_REF_NORMAL);
			continue;
		}
		CHECK_INT(r, 0);
		if (r != 0)
			break;
		CHECK_INT(raw_type(&t, key), 0);
	}
	printf("  budget of 1: %u requests, %u adds and %u removes gave up "
	       "with a conflict\n", tries, add_conflicts, rem_conflicts);
	CHECK(add_conflicts >= 3);
	CHECK(rem_conflicts >= 3);
	stop_rival(&rv, &t);
done:
	itest_close(&t);
}

/* Rounds a request took, added to the tallies; -1 (a failed check) if it
 * failed. */
struct tally {
	unsigned most, retried;
};

static int tally(struct tally *ty, int r, const rt_outcome *o,
                 rt_pool *pool)
{
	CHECK_INT(r, 0);
	if (r != 0) {
		fprintf(stderr, "  %s\n", rt_pool_errmsg(pool));
		return -1;
	}
	ty->retried += o->attempts > 1;
	ty->most = o->attempts > ty->most ? o->attempts : ty->most;
	return 0;
}

static void test_conflict__default_budget(void)
{
	struct itest t;
	struct rival rv;
	struct tally ty = { 0, 0 };
	unsigned i;
	char key[32];
	rt_outcome o;

	if (itest_open(&t) || start_rival(&rv, &t))
		goto done;
	for (i = 0; i < 150; i++) {
		const char *const keys[] = { key };
		const rt_ref refs[] = { { key, RT_REF_NORMAL } };

		snprintf(key, sizeof(key), "d%u", i);
		if (tally(&ty, rt_tracker_add(&o, t.pool, TRACKER, keys, 1),
		          &o, t.pool) != 0 ||
		    tally(&ty, rt_tracker_remove(&o, t.pool, TRACKER, refs, 1),
		          &o, t.pool) != 0)
			break;
	}
	printf("  default budget: %u requests, %u took more than one round, "
	       "at most %u\n", 2 * i, ty.retried, ty.most);
	stop_rival(&rv, &t);
done:
	itest_close(&t);
}

int main(void)
{
	if (itest_init() != 0)
		return itest_no_cluster("conflict");
	RUN(test_conflict__budget_spent);
	RUN(test_conflict__default_budget);
	itest_fini();
	return check_summary("conflict");
}
