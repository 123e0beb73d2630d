/*
 * batch.h - batch files: YAML lists of add/remove requests.
 *
 * The parser streams: it hands each validated request to a callback and
 * forgets it, so memory is bounded by the largest single request, not by
 * the file.  The format is described in reftrack-batch(5) and published as
 * schemas/batch.schema.json.
 */
#ifndef REFTRACK_BATCH_H
#define REFTRACK_BATCH_H

#include <stddef.h>
#include <stdint.h>

#include "reftrack.h"

#ifdef __cplusplus
extern "C" {
#endif

#define RT_BATCH_FORMAT_VERSION 1
/* Largest batch file accepted, in bytes (1 GiB: about ten million
 * one-key requests). */
#define RT_BATCH_MAX_BYTES ((uint64_t)1 << 30)
/* Most keys in one key list (add, remove or mask) of one request.  Keeps
 * one request's RADOS write op well below the OSD's default message limits
 * (osd_max_write_size, 90 MiB) and bounds the parser's memory. */
#define RT_BATCH_KEYS_MAX 10000
/* Longest request id, in bytes. */
#define RT_BATCH_REQUEST_ID_MAX 256
/* Most input read for one YAML node (a scalar with the comments and blank
 * lines before it): libyaml holds a whole scalar in memory, so this is what
 * keeps one giant scalar from growing the parser without bound.  No valid
 * field comes near it. */
#define RT_BATCH_MAX_NODE_BYTES ((uint64_t)1 << 20)

typedef enum rt_op {
	RT_OP_ADD = 1,
	RT_OP_REMOVE = 2
} rt_op;

/* One request, with the batch defaults already applied.  Every pointer is
 * owned by the parser and valid only during the callback that receives it. */
typedef struct rt_request {
	const char *pool;       /* never NULL */
	const char *ns;         /* "" for the default namespace */
	const char *tracker;
	rt_op op;
	const char *request_id; /* caller's id for tracing, or NULL */
	size_t nrefs;
	const rt_ref *refs;     /* for RT_OP_ADD every type is RT_REF_NORMAL */
	unsigned line, column;  /* 1-based position of the request in the file */
} rt_request;

/* Where and why a batch was rejected.  line and column point at the
 * offending node (a wrong value, an unknown or repeated field name, the
 * second copy of a key, the request that lacks a field) and count
 * characters, as editors do.  The message starts with the path of the node,
 * e.g. "requests[3].add[0]: empty key" (indexes from 0). */
typedef struct rt_batch_error {
	unsigned line, column; /* 1-based; 0 when the error has no position
	                        * (file too large, unreadable) */
	char message[512];     /* "what is wrong", without the position */
} rt_batch_error;

/* Called once per request, in file order; index counts from 0.  A non-zero
 * return stops the parse, and rt_batch_parse_*() returns that value. */
typedef int (*rt_request_cb)(void *arg, size_t index, const rt_request *req);

/* Parses and validates a whole batch from `path` ("-" is not special here).
 *
 * The parse is one streaming pass: each request reaches `cb` as soon as it
 * is complete and valid, before the rest of the file is read.  A later
 * error (in a later request, a missing `version`, a second document) still
 * fails the whole call, so a caller that must be all or nothing keeps what
 * it builds from the requests undone (e.g. an open transaction) until the
 * call returns 0, and drops it otherwise.  Memory is bounded by the largest
 * request, not by the file.  Because requests are handed on as they are
 * read, `defaults` must come before `requests` in the file.
 *
 * Within one request the refs are in file order: for RT_OP_REMOVE the
 * `remove` and `mask` keys in the order the two lists appear.  `cb` may be
 * NULL (validation only); `err` may be NULL.
 *
 * Returns 0; RT_EINVAL with *err filled (bad batch, or larger than
 * RT_BATCH_MAX_BYTES); RT_EIO with *err (file unreadable); RT_ENOMEM; or
 * whatever cb returned (then *err names the request it stopped at). */
RT_EXTERN int rt_batch_parse_file(const char *path, rt_request_cb cb, void *arg,
                                  rt_batch_error *err);

/* The same over an in-memory buffer of len bytes (no NUL needed).  The
 * buffer must stay unchanged during the call. */
RT_EXTERN int rt_batch_parse_buffer(const void *data, size_t len,
                                    rt_request_cb cb, void *arg,
                                    rt_batch_error *err);

#ifdef __cplusplus
}
#endif

#endif
