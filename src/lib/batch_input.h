/*
 * batch_input.h - the byte source behind the batch parser.
 *
 * libyaml pulls its input through rt__bin_read().  On the way every byte is
 * checked the way a YAML 1.1 reader checks characters (valid UTF-8, no NUL,
 * only printable characters), because libyaml's own reader errors carry a
 * byte offset but no line and column.  The source also enforces the two
 * size bounds: the whole input (RT_BATCH_MAX_BYTES, or a smaller test
 * limit) and the input read without a complete YAML event in between
 * (RT_BATCH_MAX_NODE_BYTES), which is what keeps one giant scalar from
 * growing libyaml's buffers without bound.
 */
#ifndef REFTRACK_BATCH_INPUT_H
#define REFTRACK_BATCH_INPUT_H

#include <stddef.h>
#include <stdint.h>

typedef struct rt__bin {
	/* exactly one of fd (>= 0) or mem is the source */
	int fd;
	const unsigned char *mem;
	size_t mem_len, mem_off;

	uint64_t total;      /* bytes handed to libyaml so far */
	uint64_t max_total;  /* larger input is rejected */
	uint64_t event_mark; /* `total` when the last YAML event arrived */

	/* where the next character starts, 1-based, counted as libyaml counts:
	 * in characters, with CR LF, CR, LF, NEL, LS and PS as line breaks */
	unsigned line, column;
	int after_cr;      /* last character was CR: a LF now ends no line */
	int at_start;      /* nothing decoded yet: a BOM here is not counted */
	unsigned need;     /* continuation bytes still expected */
	unsigned char lead; /* first byte of the pending character */
	uint32_t cp, cp_min;
	unsigned cp_line, cp_column; /* where the pending character starts */

	/* the first failure, reported once libyaml asks for more input */
	int failed;        /* 0, or RT_EINVAL / RT_EIO */
	unsigned err_line, err_column;
	char err_msg[160];
} rt__bin;

void rt__bin_init_fd(rt__bin *in, int fd, uint64_t max_total);
void rt__bin_init_mem(rt__bin *in, const void *data, size_t len,
                      uint64_t max_total);

/* A yaml_read_handler_t: data is an rt__bin. */
int rt__bin_read(void *data, unsigned char *buffer, size_t size,
                 size_t *size_read);

#endif
