/*
 * fuzz_input.h - reading structured values out of a fuzzer's input.
 *
 * The targets turn libFuzzer's bytes into requests, states and records.
 * Past the end every read yields zero, so a short input is a valid (small)
 * case rather than a rejected one, and the fuzzer can grow inputs smoothly.
 */
#ifndef RT_FUZZ_INPUT_H
#define RT_FUZZ_INPUT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

struct fz {
	const uint8_t *p;
	size_t n;
};

static inline uint8_t fz_u8(struct fz *in)
{
	uint8_t v;

	if (in->n == 0)
		return 0;
	v = *in->p++;
	in->n--;
	return v;
}

static inline uint32_t fz_u32(struct fz *in)
{
	uint32_t v = 0;
	int i;

	for (i = 0; i < 4; i++)
		v = v << 8 | fz_u8(in);
	return v;
}

static inline uint64_t fz_u64(struct fz *in)
{
	uint64_t hi = fz_u32(in);

	return hi << 32 | fz_u32(in);
}

/* Up to max bytes (fewer at the end of the input); returns how many. */
static inline size_t fz_bytes(struct fz *in, const uint8_t **out, size_t max)
{
	size_t n = max < in->n ? max : in->n;

	*out = in->p;
	in->p += n;
	in->n -= n;
	return n;
}

/* A failed invariant: say which, then abort so libFuzzer saves the input. */
#define FZ_ASSERT(cond)                                                     \
	do {                                                                \
		if (!(cond)) {                                              \
			fprintf(stderr, "%s:%d: invariant failed: %s\n",    \
			        __FILE__, __LINE__, #cond);                 \
			abort();                                            \
		}                                                           \
	} while (0)

#endif
