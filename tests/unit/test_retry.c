/*
 * test_retry.c - the retry policy's defaults (the pool API's and the
 * replay's) and backoff arithmetic (retry.c), with chosen random numbers
 * in place of real ones.
 */
#include <stdint.h>
#include <time.h>

#include "check.h"
#include "retry.h"

static void test_retry__defaults(void)
{
	rt_retry_policy zero = { 0, 0, 0 }, some = { 5, 0, 40 }, e;

	e = rt__retry_effective(NULL);
	CHECK_INT(e.max_attempts, RT__RETRY_MAX_ATTEMPTS);
	CHECK_INT(e.base_delay_ms, RT__RETRY_BASE_MS);
	CHECK_INT(e.max_delay_ms, RT__RETRY_MAX_MS);
	e = rt__retry_effective(&zero);
	CHECK_INT(e.max_attempts, 64);
	CHECK_INT(e.base_delay_ms, 1);
	CHECK_INT(e.max_delay_ms, 250);
	e = rt__retry_effective(&some);
	CHECK_INT(e.max_attempts, 5);
	CHECK_INT(e.base_delay_ms, 1);
	CHECK_INT(e.max_delay_ms, 40);
}

/* The replay's policy is the pool API's with its own default bound on
 * transient errors (rt_replay_opts.max_attempts: 0 means 8). */
static void test_retry__replay_policy(void)
{
	rt_retry_policy pool = rt__retry_effective(NULL), e;

	e = rt__retry_replay(0);
	CHECK_INT(e.max_attempts, 8);
	CHECK_INT(e.max_attempts, RT__RETRY_REPLAY_MAX_ATTEMPTS);
	CHECK_INT(e.base_delay_ms, pool.base_delay_ms);
	CHECK_INT(e.max_delay_ms, pool.max_delay_ms);
	e = rt__retry_replay(3);
	CHECK_INT(e.max_attempts, 3);
	CHECK_INT(e.base_delay_ms, pool.base_delay_ms);
	CHECK_INT(e.max_delay_ms, pool.max_delay_ms);
	/* so its backoffs are the pool's */
	CHECK_INT(rt__retry_transient_ms(&e, 4, UINT64_MAX),
	          rt__retry_transient_ms(&pool, 4, UINT64_MAX));
	CHECK_INT(rt__retry_conflict_ms(&e, 5, UINT64_MAX),
	          rt__retry_conflict_ms(&pool, 5, UINT64_MAX));
}

static void test_retry__cap_doubles_to_max(void)
{
	CHECK_INT(rt__backoff_cap_ms(0, 1, 250), 1);
	CHECK_INT(rt__backoff_cap_ms(1, 1, 250), 2);
	CHECK_INT(rt__backoff_cap_ms(7, 1, 250), 128);
	CHECK_INT(rt__backoff_cap_ms(8, 1, 250), 250);
	CHECK_INT(rt__backoff_cap_ms(3, 10, 1000), 80);
	/* Huge exponents and bases neither overflow nor pass the max. */
	CHECK_INT(rt__backoff_cap_ms(1000, 1, 250), 250);
	CHECK_INT(rt__backoff_cap_ms(UINT32_MAX, 3, UINT32_MAX), UINT32_MAX);
	CHECK_INT(rt__backoff_cap_ms(40, UINT32_MAX / 2 + 1, UINT32_MAX),
	          UINT32_MAX);
	/* A base above the max is held to the max. */
	CHECK_INT(rt__backoff_cap_ms(0, 500, 250), 250);
}

/* Full jitter: every value in [0, cap] is reachable, none beyond. */
static void test_retry__full_jitter_range(void)
{
	uint64_t r;

	CHECK_INT(rt__backoff_ms(3, 1, 250, 0), 0);
	CHECK_INT(rt__backoff_ms(3, 1, 250, 8), 8);
	CHECK_INT(rt__backoff_ms(3, 1, 250, 9), 0);
	CHECK_INT(rt__backoff_ms(3, 1, 250, UINT64_MAX), UINT64_MAX % 9);
	for (r = 0; r < 2000; r++)
		CHECK(rt__backoff_ms(20, 1, 250, r * 0x9e3779b97f4a7c15ull) <=
		      250);
	CHECK_INT(rt__backoff_ms(20, 1, 250, 250), 250);
	CHECK_INT(rt__backoff_ms(20, 1, 250, 251), 0);
}

static void test_retry__conflicts_immediate_then_backoff(void)
{
	rt_retry_policy p = { 0, 0, 0 };
	unsigned i;

	for (i = 1; i <= RT__RETRY_IMMEDIATE; i++)
		CHECK_INT(rt__retry_conflict_ms(&p, i, UINT64_MAX), 0);
	/* Then the backoff starts at its first step: cap base_ms. */
	CHECK_INT(rt__retry_conflict_ms(&p, RT__RETRY_IMMEDIATE + 1, 1), 1);
	CHECK_INT(rt__retry_conflict_ms(&p, RT__RETRY_IMMEDIATE + 1, 2), 0);
	CHECK_INT(rt__retry_conflict_ms(&p, RT__RETRY_IMMEDIATE + 2, 2), 2);
	CHECK_INT(rt__retry_conflict_ms(&p, 60, 250), 250);
	p.max_delay_ms = 10;
	CHECK_INT(rt__retry_conflict_ms(&p, 60, 10), 10);
}

static void test_retry__transient_backs_off_from_the_first(void)
{
	rt_retry_policy p = { 0, 4, 100 };

	CHECK_INT(rt__retry_transient_ms(&p, 1, 4), 4);
	CHECK_INT(rt__retry_transient_ms(&p, 1, 5), 0);
	CHECK_INT(rt__retry_transient_ms(&p, 2, 8), 8);
	CHECK_INT(rt__retry_transient_ms(&p, 10, 100), 100);
	CHECK_INT(rt__retry_transient_ms(&p, 10, 101), 0);
}

/* Not a randomness test: two draws in a row differ (the chance that 64
 * good random bits repeat is nil), and the values spread over the range. */
static void test_retry__random_varies(void)
{
	uint64_t a = rt__random64(), b = rt__random64();
	unsigned buckets[4] = { 0 }, i;

	CHECK(a != b);
	for (i = 0; i < 400; i++)
		buckets[rt__random64() >> 62]++;
	for (i = 0; i < 4; i++)
		CHECK(buckets[i] > 40);
}

static void test_retry__sleep_waits(void)
{
	struct timespec t0, t1;
	long ms;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	rt__sleep_ms(20);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
	CHECK(ms >= 20);
	rt__sleep_ms(0);
}

int main(void)
{
	RUN(test_retry__defaults);
	RUN(test_retry__replay_policy);
	RUN(test_retry__cap_doubles_to_max);
	RUN(test_retry__full_jitter_range);
	RUN(test_retry__conflicts_immediate_then_backoff);
	RUN(test_retry__transient_backs_off_from_the_first);
	RUN(test_retry__random_varies);
	RUN(test_retry__sleep_waits);
	return check_summary("retry");
}
