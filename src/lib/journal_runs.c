/*
 * journal_runs.c - the by_tracker rows of a large batch, sorted on disk.
 *
 * A batch's entries go into by_tracker as (tracker key, seq) rows.  Put in
 * file order they land on a random tracker each, so a transaction that
 * holds a slice of the batch dirties a page of nearly every tracker, and
 * LMDB keeps dirty pages in memory until the commit.  Sorted by tracker
 * they fill the index page after page.  A batch whose rows fit in one
 * buffer is sorted in memory (journal_submit.c); a larger one writes each
 * full buffer, sorted, as a run to an unlinked file in the journal's
 * directory, and the runs are merged back in order with a small read
 * buffer each.  Memory: one buffer while parsing, RUN_READ bytes per run
 * while merging (a 1 GiB file of the smallest requests makes ~150 runs).
 */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "journal_int.h"

#define RUN_READ (32 * 1024 / RT__PAIR_LEN * RT__PAIR_LEN)

struct run {
	off_t off, end;        /* what is left of it in the file */
	uint8_t *buf;
	size_t pos, len;       /* the buffered part: buf[pos .. len) */
};

struct rt__runs {
	int fd;
	off_t size;
	struct run *runs;
	size_t nruns, cap;
};

int rt__runs_open(struct rt__runs **out, int fd)
{
	/* Takes fd over, even on failure. */
	struct rt__runs *r = calloc(1, sizeof(*r));

	*out = r;
	if (!r) {
		close(fd);
		return RT_ENOMEM;
	}
	r->fd = fd;
	return 0;
}

size_t rt__runs_count(const struct rt__runs *r)
{
	return r ? r->nruns : 0;
}

/* Pair order is memcmp order; three big-endian words compare the same
 * way in a fraction of the time of a memcmp through qsort. */
static inline uint64_t word_at(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, 8);
	return be64toh(v);
}

static inline int pair_less(const uint8_t *a, const uint8_t *b)
{
	uint64_t x = word_at(a), y = word_at(b);

	if (x != y)
		return x < y;
	x = word_at(a + 8);
	y = word_at(b + 8);
	if (x != y)
		return x < y;
	return word_at(a + 16) < word_at(b + 16);
}

#define SORT_RUN 16 /* pairs sorted by insertion before the merges */

static void insertion_sort(uint8_t *p, size_t n)
{
	uint8_t tmp[RT__PAIR_LEN];
	size_t i, k;

	for (i = 1; i < n; i++) {
		if (!pair_less(p + i * RT__PAIR_LEN, p + (i - 1) * RT__PAIR_LEN))
			continue;
		memcpy(tmp, p + i * RT__PAIR_LEN, RT__PAIR_LEN);
		for (k = i; k > 0 && pair_less(tmp, p + (k - 1) * RT__PAIR_LEN);
		     k--)
			memcpy(p + k * RT__PAIR_LEN, p + (k - 1) * RT__PAIR_LEN,
			       RT__PAIR_LEN);
		memcpy(p + k * RT__PAIR_LEN, tmp, RT__PAIR_LEN);
	}
}

/* Merges the sorted a[0..na) and b[0..nb) into out. */
static void merge(uint8_t *out, const uint8_t *a, size_t na, const uint8_t *b,
                  size_t nb)
{
	const uint8_t *ae = a + na * RT__PAIR_LEN, *be = b + nb * RT__PAIR_LEN;

	while (a < ae && b < be) {
		if (pair_less(b, a)) {
			memcpy(out, b, RT__PAIR_LEN);
			b += RT__PAIR_LEN;
		} else {
			memcpy(out, a, RT__PAIR_LEN);
			a += RT__PAIR_LEN;
		}
		out += RT__PAIR_LEN;
	}
	memcpy(out, a, (size_t)(ae - a));
	out += ae - a;
	memcpy(out, b, (size_t)(be - b));
}

void rt__pairs_sort(uint8_t *pairs, uint8_t *scratch, size_t n)
{
	uint8_t *src = pairs, *dst = scratch, *tmp;
	size_t i, w;

	for (i = 0; i < n; i += SORT_RUN)
		insertion_sort(pairs + i * RT__PAIR_LEN,
		               n - i < SORT_RUN ? n - i : SORT_RUN);
	for (w = SORT_RUN; w < n; w *= 2) {
		for (i = 0; i < n; i += 2 * w) {
			size_t na = n - i < w ? n - i : w;
			size_t nb = n - i - na < w ? n - i - na : w;

			merge(dst + i * RT__PAIR_LEN, src + i * RT__PAIR_LEN, na,
			      src + (i + na) * RT__PAIR_LEN, nb);
		}
		tmp = src;
		src = dst;
		dst = tmp;
	}
	if (src != pairs)
		memcpy(pairs, src, n * RT__PAIR_LEN);
}

int rt__runs_add(struct rt__runs *r, uint8_t *pairs, uint8_t *scratch,
                 size_t n)
{
	size_t len = n * RT__PAIR_LEN, done = 0;

	if (r->nruns == r->cap) {
		size_t cap = r->cap ? 2 * r->cap : 16;
		struct run *nr = realloc(r->runs, cap * sizeof(*nr));

		if (!nr)
			return RT_ENOMEM;
		r->runs = nr;
		r->cap = cap;
	}
	rt__pairs_sort(pairs, scratch, n);
	while (done < len) {
		ssize_t w = pwrite(r->fd, pairs + done, len - done,
		                   r->size + (off_t)done);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return RT_EIO; /* errno says why */
		done += (size_t)w;
	}
	memset(&r->runs[r->nruns], 0, sizeof(r->runs[0]));
	r->runs[r->nruns].off = r->size;
	r->runs[r->nruns].end = r->size + (off_t)len;
	r->nruns++;
	r->size += (off_t)len;
	return 0;
}

/* Makes the run's next pair available: 0, 1 at its end, or an RT_E*. */
static int run_fill(struct rt__runs *r, struct run *u)
{
	size_t want;
	ssize_t n;

	if (u->pos < u->len)
		return 0;
	if (u->off >= u->end)
		return 1;
	want = (size_t)(u->end - u->off) < RUN_READ ? (size_t)(u->end - u->off)
	                                            : RUN_READ;
	do
		n = pread(r->fd, u->buf, want, u->off);
	while (n < 0 && errno == EINTR);
	if (n <= 0 || (size_t)n % RT__PAIR_LEN)
		return RT_EIO;
	u->off += n;
	u->pos = 0;
	u->len = (size_t)n;
	return 0;
}

static const uint8_t *head(const struct run *u)
{
	return u->buf + u->pos;
}

/* Restores the heap order below slot `i` (smallest head on top). */
static void sift_down(struct run **h, size_t n, size_t i)
{
	for (;;) {
		size_t l = 2 * i + 1, m = i;
		struct run *tmp;

		if (l < n && pair_less(head(h[l]), head(h[m])))
			m = l;
		if (l + 1 < n && pair_less(head(h[l + 1]), head(h[m])))
			m = l + 1;
		if (m == i)
			return;
		tmp = h[i];
		h[i] = h[m];
		h[m] = tmp;
		i = m;
	}
}

int rt__runs_merge(struct rt__runs *r,
                   int (*put)(void *arg, const uint8_t *pair), void *arg)
{
	struct run **h = NULL;
	size_t i, n = 0;
	int rc = 0;

	h = calloc(r->nruns ? r->nruns : 1, sizeof(*h));
	if (!h)
		return RT_ENOMEM;
	for (i = 0; i < r->nruns; i++) {
		struct run *u = &r->runs[i];

		u->buf = malloc(RUN_READ);
		if (!u->buf) {
			rc = RT_ENOMEM;
			goto done;
		}
		rc = run_fill(r, u);
		if (rc < 0 || rc > 1)
			goto done;
		if (rc == 0)
			h[n++] = u;
		rc = 0;
	}
	for (i = n / 2; i-- > 0;)
		sift_down(h, n, i);
	while (n > 0) {
		struct run *u = h[0];

		if ((rc = put(arg, head(u))))
			goto done;
		u->pos += RT__PAIR_LEN;
		rc = run_fill(r, u);
		if (rc == 1)
			h[0] = h[--n];
		else if (rc)
			goto done;
		rc = 0;
		sift_down(h, n, 0);
	}
done:
	for (i = 0; i < r->nruns; i++) {
		free(r->runs[i].buf);
		r->runs[i].buf = NULL;
	}
	free(h);
	return rc;
}

void rt__runs_free(struct rt__runs *r)
{
	if (!r)
		return;
	close(r->fd);
	free(r->runs);
	free(r);
}
