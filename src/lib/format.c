/*
 * format.c - the v1 tracker codec.  See format.h.
 *
 * The order of the checks is part of the contract: the version xattr is
 * judged first (nothing else means anything under an unknown version),
 * then the data, then each omap value.  The draft tool wrote the same
 * version xattr as v1, so only its data size and its empty values tell it
 * apart; such an object is "foreign", never "corrupt", so that callers can
 * point at the migration rather than at damage.
 */
#include <stdio.h>

#include "error.h"
#include "format.h"

void rt__be32_put(unsigned char out[4], uint32_t v)
{
	out[0] = (unsigned char)(v >> 24);
	out[1] = (unsigned char)(v >> 16);
	out[2] = (unsigned char)(v >> 8);
	out[3] = (unsigned char)v;
}

uint32_t rt__be32_get(const unsigned char in[4])
{
	return (uint32_t)in[0] << 24 | (uint32_t)in[1] << 16 |
	       (uint32_t)in[2] << 8 | (uint32_t)in[3];
}

int rt__fmt_check_version(int present, const char *val, size_t len,
                          char *msg, size_t msgsz)
{
	uint32_t v;

	if (!present) {
		rt__errmsg_set(msg, msgsz, "no %s xattr: not a reference "
		               "tracker of a known layout", RT_VERSION_XATTR);
		return RT_EFOREIGN;
	}
	if (len != RT__VERSION_LEN) {
		rt__errmsg_set(msg, msgsz, "%s xattr is %zu bytes, want %d",
		               RT_VERSION_XATTR, len, RT__VERSION_LEN);
		return RT_ECORRUPT;
	}
	v = rt__be32_get((const unsigned char *)val);
	if (v != RT_FORMAT_VERSION) {
		rt__errmsg_set(msg, msgsz, "unknown tracker version %lu "
		               "(this library knows version %d)",
		               (unsigned long)v, RT_FORMAT_VERSION);
		return RT_EVERSION;
	}
	return 0;
}

int rt__fmt_decode_count(uint32_t *count, const char *data, size_t len,
                         int cut, char *msg, size_t msgsz)
{
	*count = 0;
	if (cut) {
		rt__errmsg_set(msg, msgsz, "data is %zu bytes or more, want %d",
		               len, RT__DATA_LEN);
		return RT_ECORRUPT;
	}
	if (len == RT__DRAFT_DATA_LEN) {
		rt__errmsg_set(msg, msgsz, "foreign layout (8-byte data, like "
		               "the draft tool's gen+refcount)");
		return RT_EFOREIGN;
	}
	if (len != RT__DATA_LEN) {
		rt__errmsg_set(msg, msgsz, "data is %zu bytes, want %d", len,
		               RT__DATA_LEN);
		return RT_ECORRUPT;
	}
	*count = rt__be32_get((const unsigned char *)data);
	return 0;
}

int rt__fmt_decode_type(rt_ref_type *type, const char *key, size_t keylen,
                        const char *val, size_t len, char *msg, size_t msgsz)
{
	char q[RT__QUOTE_BUF];

	if (len == RT__VALUE_LEN && (val[0] == RT_REF_NORMAL ||
	                             val[0] == RT_REF_MASK)) {
		*type = (rt_ref_type)val[0];
		return 0;
	}
	rt__quote(q, key, keylen);
	if (len == 0) {
		rt__errmsg_set(msg, msgsz, "key %s: empty omap value: foreign "
		               "layout (like the draft tool's)", q);
		return RT_EFOREIGN;
	}
	if (len == RT__VALUE_LEN)
		rt__errmsg_set(msg, msgsz, "key %s: omap value 0x%02x is not a "
		               "reference type (want 01 normal or 02 mask)", q,
		               (unsigned)(unsigned char)val[0]);
	else
		rt__errmsg_set(msg, msgsz, "key %s: omap value is %zu bytes "
		               "(starting 0x%02x), want 1 (01 normal or 02 mask)",
		               q, len, (unsigned)(unsigned char)val[0]);
	return RT_ECORRUPT;
}

const char *rt__fmt_type_value(rt_ref_type type)
{
	return type == RT_REF_MASK ? "\x02" : "\x01";
}

_Static_assert(RT_FORMAT_VERSION == 1, "rt__fmt_version_value() spells 1");

const char *rt__fmt_version_value(void)
{
	return "\x00\x00\x00\x01";
}
