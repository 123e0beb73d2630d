/*
 * request.h - one add or remove request, checked and put in canonical form
 * (private, pure).
 *
 * request.c owns input validation for tracker operations: tracker name and
 * key limits, key types, and what duplicates mean.  A normalised request
 * holds each (key, type) once, sorted bytewise by key, so the ops built from
 * it are the same for the same set of refs however the caller ordered them,
 * and the read of a tracker can be matched against it by binary search.
 */
#ifndef REFTRACK_REQUEST_H
#define REFTRACK_REQUEST_H

#include <stddef.h>

#include <reftrack/batch.h>
#include <reftrack/reftrack.h>

struct rt__req_key {
	const char *key;   /* borrowed from the caller's refs */
	size_t len;        /* strlen(key) */
	rt_ref_type type;  /* RT_REF_NORMAL for every key of an add */
};

/* Strings are borrowed: the caller's tracker name and keys must outlive the
 * request (for the replayer: until its last op built from it completes).
 * names/lens mirror keys[] in the shape librados' *2 calls take. */
struct rt__request {
	rt_op op;
	const char *tracker;
	size_t tracker_len;
	size_t nkeys;                /* >= 1; 0 only for the census of a
	                              * recount (tracker.c), which is built
	                              * by hand: no rt__request_init() */
	struct rt__req_key *keys;    /* sorted by key, each key once */
	const char **names;
	size_t *lens;
};

/* Checks and normalises a request; on success *req owns its arrays (free
 * with rt__request_free()), on failure it holds nothing and msg says what
 * is wrong (naming the key, not the tracker).  For RT_OP_ADD every ref must
 * be RT_REF_NORMAL.  Errors: RT_EINVAL, RT_ENOMEM. */
int rt__request_init(struct rt__request *req, rt_op op, const char *tracker,
                     const rt_ref *refs, size_t nrefs, char *msg,
                     size_t msgsz);
/* The same for the plain key list rt_tracker_add() takes. */
int rt__request_init_add(struct rt__request *req, const char *tracker,
                         const char *const *keys, size_t nkeys, char *msg,
                         size_t msgsz);
void rt__request_free(struct rt__request *req);

/* Checks a tracker name alone: RT_EINVAL (message in msg) or 0. */
int rt__request_check_tracker(const char *tracker, char *msg, size_t msgsz);

/* Bytewise key order, the order RADOS keeps omap keys in (a prefix
 * first), and the order of a request's keys: <0, 0 or >0. */
int rt__key_cmp(const char *a, size_t alen, const char *b, size_t blen);

/* Index of `key` (len bytes) in req->keys, or -1. */
long rt__request_find(const struct rt__request *req, const char *key,
                      size_t len);

#endif
