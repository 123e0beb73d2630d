/*
 * retry.c - backoff with full jitter.  See retry.h.
 */
#include <errno.h>
#include <stdint.h>
#include <sys/random.h>
#include <time.h>

#include "retry.h"

rt_retry_policy rt__retry_effective(const rt_retry_policy *p)
{
	rt_retry_policy out = { RT__RETRY_MAX_ATTEMPTS, RT__RETRY_BASE_MS,
	                        RT__RETRY_MAX_MS };

	if (p) {
		if (p->max_attempts)
			out.max_attempts = p->max_attempts;
		if (p->base_delay_ms)
			out.base_delay_ms = p->base_delay_ms;
		if (p->max_delay_ms)
			out.max_delay_ms = p->max_delay_ms;
	}
	return out;
}

rt_retry_policy rt__retry_replay(unsigned max_attempts)
{
	rt_retry_policy p = { 0, 0, 0 };

	p.max_attempts = max_attempts ? max_attempts
	                              : RT__RETRY_REPLAY_MAX_ATTEMPTS;
	return rt__retry_effective(&p);
}

unsigned rt__backoff_cap_ms(unsigned n, unsigned base_ms, unsigned max_ms)
{
	uint64_t cap = base_ms;

	/* Doubling stops once past max_ms, so it cannot overflow. */
	while (n-- > 0 && cap < max_ms)
		cap *= 2;
	return cap < max_ms ? (unsigned)cap : max_ms;
}

unsigned rt__backoff_ms(unsigned n, unsigned base_ms, unsigned max_ms,
                        uint64_t r)
{
	uint64_t cap = rt__backoff_cap_ms(n, base_ms, max_ms);

	/* The modulo bias over 64 bits is far below anything measurable. */
	return (unsigned)(r % (cap + 1));
}

unsigned rt__retry_conflict_ms(const rt_retry_policy *p, unsigned conflicts,
                               uint64_t r)
{
	rt_retry_policy e = rt__retry_effective(p);

	if (conflicts <= RT__RETRY_IMMEDIATE)
		return 0;
	return rt__backoff_ms(conflicts - RT__RETRY_IMMEDIATE - 1,
	                      e.base_delay_ms, e.max_delay_ms, r);
}

unsigned rt__retry_transient_ms(const rt_retry_policy *p, unsigned n,
                                uint64_t r)
{
	rt_retry_policy e = rt__retry_effective(p);

	return rt__backoff_ms(n ? n - 1 : 0, e.base_delay_ms, e.max_delay_ms,
	                      r);
}

/* splitmix64: a small, well-mixed generator for when getrandom() fails. */
static uint64_t mix64(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

uint64_t rt__random64(void)
{
	static _Thread_local uint64_t state;
	static _Thread_local int seeded;
	uint64_t v;
	struct timespec ts;

	if (getrandom(&v, sizeof(v), GRND_NONBLOCK) == (ssize_t)sizeof(v))
		return v;
	if (!seeded) {
		/* Time and this thread's own address differ between threads
		 * and processes, which is all jitter needs. */
		clock_gettime(CLOCK_MONOTONIC, &ts);
		state = (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 32) ^
		        (uint64_t)(uintptr_t)&state;
		seeded = 1;
	}
	return mix64(&state);
}

void rt__sleep_ms(unsigned ms)
{
	struct timespec ts = { (time_t)(ms / 1000),
	                       (long)(ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}
