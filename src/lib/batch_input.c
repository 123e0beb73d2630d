/*
 * batch_input.c - feeds libyaml, checking characters and size on the way.
 *
 * Every check here mirrors a rule of the YAML 1.1 reader that libyaml and
 * PyYAML both apply (UTF-8, printable characters only), so the verdict is
 * theirs; what this layer adds is the position.  On the first bad character
 * the bytes before it are still handed on, so that an earlier YAML or
 * schema error in the same chunk is reported first, and the failure is
 * returned on libyaml's next read.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "reftrack/batch.h"
#include "batch_input.h"

void rt__bin_init_fd(rt__bin *in, int fd, uint64_t max_total)
{
	memset(in, 0, sizeof(*in));
	in->fd = fd;
	in->max_total = max_total;
	in->line = in->column = 1;
	in->at_start = 1;
}

void rt__bin_init_mem(rt__bin *in, const void *data, size_t len,
                      uint64_t max_total)
{
	rt__bin_init_fd(in, -1, max_total);
	in->mem = data;
	in->mem_len = len;
}

__attribute__((format(printf, 5, 6)))
static void fail_at(rt__bin *in, int code, unsigned line, unsigned column,
                    const char *fmt, ...)
{
	va_list ap;

	in->failed = code;
	in->err_line = line;
	in->err_column = column;
	va_start(ap, fmt);
	vsnprintf(in->err_msg, sizeof(in->err_msg), fmt, ap);
	va_end(ap);
}

/* Moves the position past one decoded character. */
static void advance(rt__bin *in, uint32_t cp)
{
	int was_cr = in->after_cr;

	in->after_cr = 0;
	if (cp == 0xFEFF && in->at_start) {
		/* libyaml drops a leading BOM before it starts counting */
	} else if (cp == '\r') {
		in->line++;
		in->column = 1;
		in->after_cr = 1;
	} else if (cp == '\n') {
		if (!was_cr) {
			in->line++;
			in->column = 1;
		}
	} else if (cp == 0x85 || cp == 0x2028 || cp == 0x2029) {
		in->line++;
		in->column = 1;
	} else {
		in->column++;
	}
	in->at_start = 0;
}

/* The YAML 1.1 printable set, which libyaml's and PyYAML's readers both
 * enforce; everything outside it is refused with its code point named. */
static int printable(uint32_t cp)
{
	return cp == 0x09 || cp == 0x0A || cp == 0x0D ||
	       (cp >= 0x20 && cp <= 0x7E) || cp == 0x85 ||
	       (cp >= 0xA0 && cp <= 0xD7FF) || (cp >= 0xE000 && cp <= 0xFFFD) ||
	       (cp >= 0x10000 && cp <= 0x10FFFF);
}

static void fail_char(rt__bin *in, uint32_t cp, unsigned line, unsigned col)
{
	if (cp == 0)
		fail_at(in, RT_EINVAL, line, col,
		        "NUL byte: a batch file is UTF-8 text");
	else if (cp < 0xA0 || cp == 0x7F)
		fail_at(in, RT_EINVAL, line, col,
		        "control character U+%04X is not allowed in YAML",
		        (unsigned)cp);
	else
		fail_at(in, RT_EINVAL, line, col,
		        "character U+%04X is not allowed in YAML", (unsigned)cp);
}

/* The common case, checked and counted in locals: printable ASCII, tab
 * and LF, outside a multi-byte character and not right after a CR.
 * Returns how many of b[0..n) it took; the caller takes the next byte. */
static size_t ascii_run(rt__bin *in, const unsigned char *b, size_t n)
{
	unsigned line = in->line, column = in->column;
	size_t i;

	if (in->need || in->after_cr)
		return 0;
	for (i = 0; i < n; i++) {
		unsigned c = b[i];

		if ((c >= 0x20 && c < 0x7F) || c == '\t') {
			column++;
		} else if (c == '\n') {
			line++;
			column = 1;
		} else {
			break;
		}
	}
	if (i) {
		in->line = line;
		in->column = column;
		in->at_start = 0;
	}
	return i;
}

/* Checks b[0..n) and returns how many of its bytes may be handed on: all,
 * or those before the first bad character. */
static size_t check_bytes(rt__bin *in, const unsigned char *b, size_t n)
{
	size_t i, start = 0; /* first byte of the pending character here */

	for (i = 0; i < n; i++) {
		unsigned c;

		i += ascii_run(in, b + i, n - i);
		if (i == n)
			break;
		c = b[i];

		if (in->need == 0) {
			if (c < 0x80) {
				if (!printable(c)) {
					fail_char(in, c, in->line, in->column);
					return i;
				}
				if (c >= 0x20 && c != 0x7F && !in->after_cr) {
					in->column++; /* the common case */
					in->at_start = 0;
				} else {
					advance(in, c);
				}
				continue;
			}
			start = i;
			in->lead = (unsigned char)c;
			in->cp_line = in->line;
			in->cp_column = in->column;
			if (c >= 0xC2 && c <= 0xDF) {
				in->need = 1, in->cp = c & 0x1F, in->cp_min = 0x80;
			} else if (c >= 0xE0 && c <= 0xEF) {
				in->need = 2, in->cp = c & 0x0F, in->cp_min = 0x800;
			} else if (c >= 0xF0 && c <= 0xF4) {
				in->need = 3, in->cp = c & 0x07,
				in->cp_min = 0x10000;
			} else {
				fail_at(in, RT_EINVAL, in->line, in->column,
				        "invalid UTF-8 (byte 0x%02X): a batch "
				        "file is UTF-8 text", c);
				return i;
			}
			continue;
		}
		if ((c & 0xC0) != 0x80) {
			in->need = 0;
			fail_at(in, RT_EINVAL, in->cp_line, in->cp_column,
			        "invalid UTF-8 (byte 0x%02X starts a sequence "
			        "that byte 0x%02X cuts short)", in->lead, c);
			return start;
		}
		in->cp = (in->cp << 6) | (c & 0x3F);
		if (--in->need)
			continue;
		if (in->cp < in->cp_min || in->cp > 0x10FFFF ||
		    (in->cp >= 0xD800 && in->cp <= 0xDFFF)) {
			fail_at(in, RT_EINVAL, in->cp_line, in->cp_column,
			        in->cp < in->cp_min
			                ? "invalid UTF-8 (overlong encoding of "
			                  "U+%04X)"
			        : in->cp > 0x10FFFF
			                ? "invalid UTF-8 (U+%04X is beyond "
			                  "Unicode)"
			                : "invalid UTF-8 (encoded surrogate "
			                  "U+%04X)",
			        (unsigned)in->cp);
			return start;
		}
		if (!printable(in->cp)) {
			fail_char(in, in->cp, in->cp_line, in->cp_column);
			return start;
		}
		advance(in, in->cp);
	}
	return n;
}

int rt__bin_read(void *data, unsigned char *buffer, size_t size,
                 size_t *size_read)
{
	rt__bin *in = data;
	uint64_t room;
	size_t got, ok;

	*size_read = 0;
	if (in->failed)
		return 0;
	/* never hand libyaml more than the node limit past the last event,
	 * so a giant scalar fails at the limit, not after it is buffered */
	room = in->event_mark + RT_BATCH_MAX_NODE_BYTES - in->total;
	if (room == 0) {
		fail_at(in, RT_EINVAL, in->line, in->column,
		        "over %llu bytes of input in one YAML node "
		        "(RT_BATCH_MAX_NODE_BYTES): no batch field is that long",
		        (unsigned long long)RT_BATCH_MAX_NODE_BYTES);
		return 0;
	}
	if (size > room)
		size = (size_t)room;
	if (in->fd >= 0) {
		ssize_t r;

		do {
			r = read(in->fd, buffer, size);
		} while (r < 0 && errno == EINTR);
		if (r < 0) {
			in->failed = RT_EIO;
			snprintf(in->err_msg, sizeof(in->err_msg),
			         "read failed: %s", strerror(errno));
			return 0;
		}
		got = (size_t)r;
	} else {
		got = in->mem_len - in->mem_off;
		if (got > size)
			got = size;
		memcpy(buffer, in->mem + in->mem_off, got);
		in->mem_off += got;
	}
	if (got == 0) {
		if (in->need) {
			fail_at(in, RT_EINVAL, in->cp_line, in->cp_column,
			        "invalid UTF-8 (byte 0x%02X starts a sequence "
			        "that the end of the file cuts short)", in->lead);
			return 0;
		}
		return 1; /* end of input */
	}
	if (in->total + got > in->max_total) {
		/* a size error has no position: the whole file is at fault */
		fail_at(in, RT_EINVAL, 0, 0,
		        "the file is larger than the %llu-byte limit "
		        "(RT_BATCH_MAX_BYTES)",
		        (unsigned long long)in->max_total);
		return 0;
	}
	ok = check_bytes(in, buffer, got);
	in->total += ok;
	*size_read = ok;
	/* a bad first character leaves nothing to hand on: fail at once,
	 * since a zero-length success would read as end of input */
	return ok > 0;
}
