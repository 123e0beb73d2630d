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
/* Largest batch file accepted, in bytes. */
#define RT_BATCH_MAX_BYTES ((uint64_t)1 << 30)

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

/* Where and why a batch was rejected. */
typedef struct rt_batch_error {
	unsigned line, column; /* 1-based; 0 when the error has no position */
	char message[512];     /* "what is wrong", without the position */
} rt_batch_error;

/* Called once per request, in file order; index counts from 0.  A non-zero
 * return stops the parse, and rt_batch_parse_*() returns that value. */
typedef int (*rt_request_cb)(void *arg, size_t index, const rt_request *req);

/* Parses and validates a whole batch from `path` ("-" is not special here).
 * Requests reach `cb` as they are validated, so a caller that must be all or
 * nothing keeps what it builds undone until the call returns 0.
 * Returns 0, RT_EINVAL with *err filled (bad batch), RT_EIO with *err (file
 * unreadable), RT_ENOMEM, or whatever cb returned. */
int rt_batch_parse_file(const char *path, rt_request_cb cb, void *arg,
                        rt_batch_error *err);

/* The same over an in-memory buffer. */
int rt_batch_parse_buffer(const void *data, size_t len, rt_request_cb cb,
                          void *arg, rt_batch_error *err);

#ifdef __cplusplus
}
#endif

#endif
