/*
 * error.c - RT_E* codes, the errno mapping and message helpers.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "error.h"

const char *rt_strerror(int code)
{
	switch (code) {
	case RT_OK:
		return "success";
	case RT_ENOTFOUND:
		return "not found";
	case RT_ECONFLICT:
		return "conflict: concurrent writers won every retry";
	case RT_ECORRUPT:
		return "corrupt tracker";
	case RT_EFOREIGN:
		return "object of a foreign layout";
	case RT_EVERSION:
		return "unknown format version";
	case RT_EINVAL:
		return "invalid argument";
	case RT_EPERM:
		return "permission denied";
	case RT_ETRANSIENT:
		return "temporary failure (timeout or connection loss)";
	case RT_EOVERFLOW:
		return "refcount overflow";
	case RT_ENOMEM:
		return "out of memory";
	case RT_EIO:
		return "I/O error";
	case RT_EBUSY:
		return "busy: a shared resource is exhausted for now";
	case RT_EJOURNAL:
		return "journal corrupt, foreign or full";
	case RT_ECONFIG:
		return "Ceph configuration error";
	case RT_ELOCKED:
		return "locked: the journal lock is held by another process";
	}
	return "unknown error code";
}

char *rt__errmsg_vset(char *buf, size_t size, const char *fmt, va_list ap)
{
	if (!buf || size == 0)
		return buf;
	/* vsnprintf cuts and terminates; a cut message still says most. */
	if (vsnprintf(buf, size, fmt, ap) < 0)
		buf[0] = '\0';
	return buf;
}

char *rt__errmsg_set(char *buf, size_t size, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	rt__errmsg_vset(buf, size, fmt, ap);
	va_end(ap);
	return buf;
}

char *rt__quote(char out[RT__QUOTE_BUF], const char *s, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	size_t i, n = 0;

	out[n++] = '\'';
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		int plain = c >= 0x20 && c < 0x7f;
		size_t need = !plain ? 4 : (c == '\'' || c == '\\') ? 2 : 1;

		/* Keep room for "...'" and the NUL at the end. */
		if (n - 1 + need > RT__QUOTE_MAX) {
			memcpy(out + n, "...", 3);
			n += 3;
			break;
		}
		if (c == '\'' || c == '\\') {
			out[n++] = '\\';
			out[n++] = (char)c;
		} else if (plain) {
			out[n++] = (char)c;
		} else {
			out[n++] = '\\';
			out[n++] = 'x';
			out[n++] = hex[c >> 4];
			out[n++] = hex[c & 15];
		}
	}
	out[n++] = '\'';
	out[n] = '\0';
	return out;
}

int rt__err_from_errno(int neg_errno)
{
	switch (-neg_errno) {
	case 0:
		return 0;
	case ENOENT:
		return RT_ENOTFOUND;
	case EACCES:
	case EPERM:
		return RT_EPERM;
	/* Conditions that pass: a slow or restarting OSD, a lost session,
	 * a monitor election.  ESHUTDOWN is also how librados reports a
	 * blocklisted client, which does not pass by itself, but an operator
	 * can lift it and the retry budget bounds the wait. */
	case ETIMEDOUT:
	case EAGAIN:
	case EBUSY:
	case ESHUTDOWN:
	case ENOTCONN:
	case ECONNREFUSED:
	case ECONNRESET:
	case ECONNABORTED:
	case EHOSTUNREACH:
	case ENETUNREACH:
	case ENETDOWN:
	case EPIPE:
	case EINTR:
		return RT_ETRANSIENT;
	case ENOMEM:
		return RT_ENOMEM;
	case EINVAL:
	case ENAMETOOLONG:
		return RT_EINVAL;
	}
	/* EIO from an OSD means a damaged object or disk, which retrying does
	 * not fix; it joins every other errno as RT_EIO, and the caller's
	 * message keeps the errno's text. */
	return RT_EIO;
}

const char *rt__errno_name(int err)
{
	switch (err < 0 ? -err : err) {
	case ENOENT: return "ENOENT";
	case EACCES: return "EACCES";
	case EPERM: return "EPERM";
	case ETIMEDOUT: return "ETIMEDOUT";
	case EAGAIN: return "EAGAIN";
	case EBUSY: return "EBUSY";
	case ESHUTDOWN: return "ESHUTDOWN";
	case ENOTCONN: return "ENOTCONN";
	case ECONNREFUSED: return "ECONNREFUSED";
	case ECONNRESET: return "ECONNRESET";
	case EINTR: return "EINTR";
	case EIO: return "EIO";
	case ENOMEM: return "ENOMEM";
	case EINVAL: return "EINVAL";
	case ENAMETOOLONG: return "ENAMETOOLONG";
	case EEXIST: return "EEXIST";
	case ERANGE: return "ERANGE";
	case EOVERFLOW: return "EOVERFLOW";
	case ENOSPC: return "ENOSPC";
	case EDQUOT: return "EDQUOT";
	case EOPNOTSUPP: return "EOPNOTSUPP";
	case ECANCELED: return "ECANCELED";
	}
	return NULL;
}
