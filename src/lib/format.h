/*
 * format.h - the v1 tracker format, as bytes (private, pure).
 *
 * format.c owns every rule about what a tracker's bytes may be: the version
 * xattr, the 4-byte count, the 1-byte omap values, and how an object of the
 * draft tool's layout (8 data bytes, empty omap values) is told apart from
 * a corrupt one.  It never talks to RADOS: callers hand it what a read
 * returned.  On failure each check writes into msg what is wrong, without
 * naming the pool or tracker (the caller prefixes those).
 */
#ifndef REFTRACK_FORMAT_H
#define REFTRACK_FORMAT_H

#include <stddef.h>
#include <stdint.h>

#include <reftrack/reftrack.h>

#define RT__VERSION_LEN 4    /* the version xattr: u32 BE */
#define RT__DATA_LEN 4       /* object data: u32 BE refcount */
#define RT__DRAFT_DATA_LEN 8 /* the draft tool's data: u32 gen, u32 count */
#define RT__VALUE_LEN 1      /* an omap value: one type byte */

void rt__be32_put(unsigned char out[4], uint32_t v);
uint32_t rt__be32_get(const unsigned char in[4]);

/* Checks the version xattr; present = 0 when the object has none.
 * RT_EFOREIGN (missing), RT_ECORRUPT (not 4 bytes), RT_EVERSION (not 1). */
int rt__fmt_check_version(int present, const char *val, size_t len,
                          char *msg, size_t msgsz);

/* Decodes the object data into *count.  RT_EFOREIGN for 8 bytes (the draft
 * tool's layout), RT_ECORRUPT for any other size but 4.  cut says the read
 * filled its buffer, so the object holds len bytes or more. */
int rt__fmt_decode_count(uint32_t *count, const char *data, size_t len,
                         int cut, char *msg, size_t msgsz);

/* Decodes the omap value of `key` (keylen bytes, for the message).
 * RT_EFOREIGN for an empty value (the draft tool's layout), RT_ECORRUPT for
 * anything but 01 or 02. */
int rt__fmt_decode_type(rt_ref_type *type, const char *key, size_t keylen,
                        const char *val, size_t len, char *msg, size_t msgsz);

/* The omap value of a type: a static 1-byte string. */
const char *rt__fmt_type_value(rt_ref_type type);

/* The version xattr's value for RT_FORMAT_VERSION: static, 4 bytes. */
const char *rt__fmt_version_value(void);

#endif
