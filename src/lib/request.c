/*
 * request.c - validating and normalising tracker requests.  See request.h.
 *
 * Duplicates are resolved here, before any planning, because the draft
 * tool counted `a,a` twice: the count drifted from the omap for ever.  The
 * same (key, type) twice acts once; one key as both normal and mask has no
 * single meaning, so it is refused rather than guessed.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "request.h"

int rt__key_cmp(const char *a, size_t alen, const char *b, size_t blen)
{
	int c = memcmp(a, b, alen < blen ? alen : blen);

	if (c)
		return c;
	return alen < blen ? -1 : alen > blen;
}

/* Key order; then type, so that equal keys sit together whatever their
 * types. */
static int cmp_key(const void *a, const void *b)
{
	const struct rt__req_key *x = a, *y = b;
	int c = rt__key_cmp(x->key, x->len, y->key, y->len);

	return c ? c : (int)x->type - (int)y->type;
}

int rt__request_check_tracker(const char *tracker, char *msg, size_t msgsz)
{
	if (!tracker || !*tracker) {
		rt__errmsg_set(msg, msgsz, "tracker name is empty");
		return RT_EINVAL;
	}
	/* strnlen: a caller's runaway string is not read past the limit. */
	if (strnlen(tracker, RT_TRACKER_NAME_MAX + 1) > RT_TRACKER_NAME_MAX) {
		rt__errmsg_set(msg, msgsz, "tracker name is longer than "
		               "RT_TRACKER_NAME_MAX (%d bytes)",
		               RT_TRACKER_NAME_MAX);
		return RT_EINVAL;
	}
	return 0;
}

static int check_key(struct rt__req_key *k, const char *key, rt_ref_type type,
                     rt_op op, size_t i, size_t n, char *msg, size_t msgsz)
{
	char q[RT__QUOTE_BUF];
	size_t len;

	if (!key) {
		rt__errmsg_set(msg, msgsz, "key %zu of %zu is NULL", i + 1, n);
		return RT_EINVAL;
	}
	/* The empty key is a key: ceph-csi's reftracker stores and counts
	 * it, so a tracker holding it must be releasable here too. */
	len = strnlen(key, RT_KEY_MAX + 1);
	if (len > RT_KEY_MAX) {
		rt__errmsg_set(msg, msgsz, "key %s is longer than RT_KEY_MAX "
		               "(%d bytes)", rt__quote(q, key, len),
		               RT_KEY_MAX);
		return RT_EINVAL;
	}
	if (type != RT_REF_NORMAL && type != RT_REF_MASK) {
		rt__errmsg_set(msg, msgsz, "key %s: type %d is neither "
		               "RT_REF_NORMAL (1) nor RT_REF_MASK (2)",
		               rt__quote(q, key, len), (int)type);
		return RT_EINVAL;
	}
	if (op == RT_OP_ADD && type != RT_REF_NORMAL) {
		rt__errmsg_set(msg, msgsz, "key %s: an add takes normal refs "
		               "only", rt__quote(q, key, len));
		return RT_EINVAL;
	}
	k->key = key;
	k->len = len;
	k->type = type;
	return 0;
}

/* Takes either refs or plain keys (then every type is normal). */
static int init(struct rt__request *req, rt_op op, const char *tracker,
                const rt_ref *refs, const char *const *keys, size_t n,
                char *msg, size_t msgsz)
{
	char q[RT__QUOTE_BUF];
	size_t i, out;
	void *block = NULL;
	int rc;

	memset(req, 0, sizeof(*req));
	if ((rc = rt__request_check_tracker(tracker, msg, msgsz)))
		goto done;
	if (op != RT_OP_ADD && op != RT_OP_REMOVE) {
		rt__errmsg_set(msg, msgsz, "unknown operation %d", (int)op);
		rc = RT_EINVAL;
		goto done;
	}
	if (n == 0 || (refs == NULL && keys == NULL)) {
		rt__errmsg_set(msg, msgsz, "no keys given");
		rc = RT_EINVAL;
		goto done;
	}
	if (n > SIZE_MAX / (sizeof(*req->keys) + sizeof(*req->names) +
	                    sizeof(*req->lens))) {
		rt__errmsg_set(msg, msgsz, "too many keys (%zu)", n);
		rc = RT_ENOMEM;
		goto done;
	}
	/* One block: keys[], then names[], then lens[]. */
	block = malloc(n * (sizeof(*req->keys) + sizeof(*req->names) +
	                    sizeof(*req->lens)));
	if (!block) {
		rt__errmsg_set(msg, msgsz, "out of memory for %zu keys", n);
		rc = RT_ENOMEM;
		goto done;
	}
	req->keys = block;
	req->names = (const char **)(req->keys + n);
	req->lens = (size_t *)(req->names + n);
	for (i = 0; i < n; i++) {
		rc = refs ? check_key(&req->keys[i], refs[i].key, refs[i].type,
		                      op, i, n, msg, msgsz)
		          : check_key(&req->keys[i], keys[i], RT_REF_NORMAL,
		                      op, i, n, msg, msgsz);
		if (rc)
			goto done;
	}
	qsort(req->keys, n, sizeof(*req->keys), cmp_key);
	out = 0;
	for (i = 0; i < n; i++) {
		const struct rt__req_key *k = &req->keys[i];

		if (out > 0 && req->keys[out - 1].len == k->len &&
		    memcmp(req->keys[out - 1].key, k->key, k->len) == 0) {
			if (req->keys[out - 1].type == k->type)
				continue;
			rt__errmsg_set(msg, msgsz, "key %s is given both as "
			               "normal and as mask",
			               rt__quote(q, k->key, k->len));
			rc = RT_EINVAL;
			goto done;
		}
		req->keys[out++] = *k;
	}
	for (i = 0; i < out; i++) {
		req->names[i] = req->keys[i].key;
		req->lens[i] = req->keys[i].len;
	}
	req->op = op;
	req->tracker = tracker;
	req->tracker_len = strlen(tracker);
	req->nkeys = out;
	block = NULL;
done:
	if (block) {
		free(block);
		memset(req, 0, sizeof(*req));
	}
	return rc;
}

int rt__request_init(struct rt__request *req, rt_op op, const char *tracker,
                     const rt_ref *refs, size_t nrefs, char *msg,
                     size_t msgsz)
{
	return init(req, op, tracker, refs, NULL, nrefs, msg, msgsz);
}

int rt__request_init_add(struct rt__request *req, const char *tracker,
                         const char *const *keys, size_t nkeys, char *msg,
                         size_t msgsz)
{
	return init(req, RT_OP_ADD, tracker, NULL, keys, nkeys, msg, msgsz);
}

void rt__request_free(struct rt__request *req)
{
	if (!req)
		return;
	free(req->keys);
	memset(req, 0, sizeof(*req));
}

long rt__request_find(const struct rt__request *req, const char *key,
                      size_t len)
{
	struct rt__req_key probe;
	size_t lo = 0, hi = req->nkeys;

	probe.key = key;
	probe.len = len;
	probe.type = 0;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		struct rt__req_key k = req->keys[mid];
		int c;

		/* Types are unique per key after normalising: ignore them. */
		k.type = 0;
		c = cmp_key(&k, &probe);
		if (c == 0)
			return (long)mid;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -1;
}
