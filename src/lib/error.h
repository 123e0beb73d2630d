/*
 * error.h - error codes and messages shared by the tracker modules
 * (private).
 *
 * error.c owns rt_strerror(), the one place that knows how each librados
 * errno maps onto an RT_E* code, and the helpers that build the messages
 * kept on cluster and pool handles.  Messages name what was involved; the
 * names come from callers and may be long or hold control bytes, so they
 * go through rt__quote() before they reach a message.
 */
#ifndef REFTRACK_ERROR_H
#define REFTRACK_ERROR_H

#include <stdarg.h>
#include <stddef.h>

#include <reftrack/reftrack.h>

/* Size of every handle's message buffer: room for a pool, a namespace, a
 * tracker and a key, each quoted and cut to RT__QUOTE_MAX, plus the text. */
#define RT__ERRMSG_MAX 2048
/* Longest rendering of one name inside a message, quotes excluded. */
#define RT__QUOTE_MAX 256

/* Formats into buf (always NUL-terminated, cut if too long).  Returns buf,
 * so a call can sit inside an expression. */
char *rt__errmsg_set(char *buf, size_t size, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
char *rt__errmsg_vset(char *buf, size_t size, const char *fmt, va_list ap)
	__attribute__((format(printf, 3, 0)));

/* Writes 's' (len bytes; NUL bytes allowed) into out as 'text': printable
 * ASCII as is, a quote or backslash escaped, anything else as \xNN; longer
 * than RT__QUOTE_MAX bytes of output is cut with "...".  Returns out.
 * RT__QUOTE_BUF is enough for any input. */
#define RT__QUOTE_BUF (RT__QUOTE_MAX + 8)
char *rt__quote(char out[RT__QUOTE_BUF], const char *s, size_t len);

/* Whether rc is one of ours (RT_E*) rather than a negative errno: the
 * range is reserved (see enum rt_error), with room to grow. */
#define RT__IS_CODE(rc) ((rc) >= RT_ENOTFOUND && (rc) < RT_ENOTFOUND + 100)

/* The RT_E* code for a negative errno returned by librados (or 0 for 0).
 * ENOENT is RT_ENOTFOUND here; callers for whom ENOENT means something
 * else (a missing tracker on read, a racing delete) test for it first. */
int rt__err_from_errno(int neg_errno);

/* Symbolic name of an errno ("ETIMEDOUT"), or NULL if not one we name. */
const char *rt__errno_name(int err);

#endif
