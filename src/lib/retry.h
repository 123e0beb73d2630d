/*
 * retry.h - when to try a tracker change again (private).
 *
 * retry.c owns the retry policy's defaults and the backoff arithmetic:
 * exponential with full jitter, so that writers that collided once do not
 * collide again in lockstep.  The arithmetic is pure given a random number
 * (tests/unit/test_retry.c); the randomness and the sleep are separate
 * helpers, safe to call from any thread.
 */
#ifndef REFTRACK_RETRY_H
#define REFTRACK_RETRY_H

#include <stdint.h>

#include <reftrack/reftrack.h>

#define RT__RETRY_MAX_ATTEMPTS 64
/* The replay's bound on transient errors of one group in a run
 * (rt_replay_opts.max_attempts): lower, as a replay that gives up leaves
 * the entries pending for its next run rather than failing them. */
#define RT__RETRY_REPLAY_MAX_ATTEMPTS 8
#define RT__RETRY_BASE_MS 1
#define RT__RETRY_MAX_MS 250
/* Conflicts re-read at once this many times in a row before backing off:
 * one racing writer is the common case and costs no wait; a crowd gets
 * spread out. */
#define RT__RETRY_IMMEDIATE 2

/* The policy `p` says, zero fields replaced by the defaults above. */
rt_retry_policy rt__retry_effective(const rt_retry_policy *p);
/* The replay's policy: the defaults above, with max_attempts the bound on
 * transient errors of one group in a run (0: RT__RETRY_REPLAY_MAX_ATTEMPTS). */
rt_retry_policy rt__retry_replay(unsigned max_attempts);

/* The jitter ceiling for backoff n (0-based): min(max_ms, base_ms * 2^n),
 * without overflow. */
unsigned rt__backoff_cap_ms(unsigned n, unsigned base_ms, unsigned max_ms);
/* A delay uniform in [0, rt__backoff_cap_ms(n, ...)] drawn from r. */
unsigned rt__backoff_ms(unsigned n, unsigned base_ms, unsigned max_ms,
                        uint64_t r);

/* Delay before the next round after `conflicts` conflicts in a row (>= 1):
 * 0 for the first RT__RETRY_IMMEDIATE, then backoff. */
unsigned rt__retry_conflict_ms(const rt_retry_policy *p, unsigned conflicts,
                               uint64_t r);
/* Delay after the n-th transient error in a row (>= 1). */
unsigned rt__retry_transient_ms(const rt_retry_policy *p, unsigned n,
                                uint64_t r);

/* 64 random bits: getrandom(), or a per-thread generator where that fails.
 * Not for secrets. */
uint64_t rt__random64(void);
/* Sleeps ms milliseconds, resuming after signals. */
void rt__sleep_ms(unsigned ms);

#endif
