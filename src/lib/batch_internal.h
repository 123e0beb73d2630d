/*
 * batch_internal.h - test hooks of the batch parser.
 */
#ifndef REFTRACK_BATCH_INTERNAL_H
#define REFTRACK_BATCH_INTERNAL_H

#include "reftrack/batch.h"

/* rt_batch_parse_file() with another size limit than RT_BATCH_MAX_BYTES,
 * so that tests reach the limit through a pipe without a gigabyte of
 * input. */
int rt__batch_parse_path(const char *path, uint64_t max_bytes,
                         rt_request_cb cb, void *arg, rt_batch_error *err);

#endif
