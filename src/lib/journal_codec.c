/*
 * journal_codec.c - byte encodings of the journal's records.
 *
 * Everything here must survive arbitrary bytes: a journal may be damaged,
 * and a decoder that trusts a length is a crash waiting for it.
 */
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#include "journal_codec.h"

/* ---- checksums ---------------------------------------------------------- */

/* LMDB has no page checksums, so every record carries its own: a CRC-32
 * (zlib's) of the bytes before it, big-endian, as its last 4 bytes. */
static uint32_t crc_of(const uint8_t *p, size_t len)
{
	uLong crc = crc32(0L, Z_NULL, 0);

	/* zlib takes uInt lengths; records are far smaller, but be exact. */
	while (len > 0) {
		uInt n = len > 0x40000000u ? 0x40000000u : (uInt)len;

		crc = crc32(crc, p, n);
		p += n;
		len -= n;
	}
	return (uint32_t)crc;
}

/* Appends the checksum of b->p[start..] to `b`. */
static void seal(struct rt__buf *b, size_t start)
{
	uint32_t crc;
	uint8_t t[4];

	if (b->oom)
		return;
	crc = crc_of(b->p + start, b->len - start);
	t[0] = (uint8_t)(crc >> 24);
	t[1] = (uint8_t)(crc >> 16);
	t[2] = (uint8_t)(crc >> 8);
	t[3] = (uint8_t)crc;
	rt__buf_put(b, t, 4);
}

int rt__sealed_check(const void *data, size_t len)
{
	const uint8_t *p = data;
	uint32_t want;

	if (len < 5)
		return RT__DECODE_MALFORMED;
	want = (uint32_t)p[len - 4] << 24 | (uint32_t)p[len - 3] << 16 |
	       (uint32_t)p[len - 2] << 8 | p[len - 1];
	return crc_of(p, len - 4) == want ? 0 : RT__DECODE_CHECKSUM;
}

/* ---- output buffer ---------------------------------------------------- */

void rt__buf_reset(struct rt__buf *b)
{
	b->len = 0;
	b->oom = 0;
}

void rt__buf_free(struct rt__buf *b)
{
	free(b->p);
	b->p = NULL;
	b->len = b->cap = 0;
	b->oom = 0;
}

static int buf_reserve(struct rt__buf *b, size_t more)
{
	size_t cap;
	uint8_t *p;

	if (b->oom)
		return -1;
	if (more <= b->cap - b->len)
		return 0;
	if (more > SIZE_MAX / 2 - b->len) {
		b->oom = 1;
		return -1;
	}
	cap = b->cap ? b->cap : 256;
	while (cap - b->len < more)
		cap *= 2;
	p = realloc(b->p, cap);
	if (!p) {
		b->oom = 1;
		return -1;
	}
	b->p = p;
	b->cap = cap;
	return 0;
}

void rt__buf_put(struct rt__buf *b, const void *data, size_t len)
{
	if (len == 0 || buf_reserve(b, len) < 0)
		return;
	memcpy(b->p + b->len, data, len);
	b->len += len;
}

void rt__buf_u8(struct rt__buf *b, uint8_t v)
{
	rt__buf_put(b, &v, 1);
}

void rt__buf_varint(struct rt__buf *b, uint64_t v)
{
	uint8_t tmp[10];
	size_t n = 0;

	while (v >= 0x80) {
		tmp[n++] = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	tmp[n++] = (uint8_t)v;
	rt__buf_put(b, tmp, n);
}

void rt__buf_str(struct rt__buf *b, const char *s, size_t len)
{
	rt__buf_varint(b, len);
	rt__buf_put(b, s, len);
}

/* ---- bounded reader --------------------------------------------------- */

uint8_t rt__rd_u8(struct rt__rd *r)
{
	if (r->bad || r->p >= r->end) {
		r->bad = 1;
		return 0;
	}
	return *r->p++;
}

uint64_t rt__rd_varint(struct rt__rd *r)
{
	uint64_t v = 0;
	unsigned shift = 0;

	for (;;) {
		uint8_t c = rt__rd_u8(r);

		if (r->bad)
			return 0;
		/* The tenth byte may carry only the top bit of a u64. */
		if (shift == 63 && c > 1) {
			r->bad = 1;
			return 0;
		}
		v |= (uint64_t)(c & 0x7f) << shift;
		if (!(c & 0x80))
			return v;
		shift += 7;
		if (shift > 63) {
			r->bad = 1;
			return 0;
		}
	}
}

const uint8_t *rt__rd_bytes(struct rt__rd *r, size_t n)
{
	const uint8_t *p;

	if (r->bad || (size_t)(r->end - r->p) < n) {
		r->bad = 1;
		return NULL;
	}
	p = r->p;
	r->p += n;
	return p;
}

size_t rt__rd_str(struct rt__rd *r, const char **s)
{
	uint64_t len = rt__rd_varint(r);
	const uint8_t *p;

	if (r->bad || len > (uint64_t)(r->end - r->p)) {
		r->bad = 1;
		*s = "";
		return 0;
	}
	p = rt__rd_bytes(r, (size_t)len);
	*s = p ? (const char *)p : "";
	return (size_t)len;
}

/* ---- refs --------------------------------------------------------------- */

void rt__refs_encode(struct rt__buf *b, const rt_ref *refs, size_t nrefs)
{
	size_t i;

	for (i = 0; i < nrefs; i++) {
		size_t len = strlen(refs[i].key);

		rt__buf_varint(b, ((uint64_t)len << 1) |
		                      (refs[i].type == RT_REF_MASK ? 1 : 0));
		rt__buf_put(b, refs[i].key, len);
	}
}

int rt__refs_next(struct rt__rd *r, const char **key, size_t *keylen,
                  rt_ref_type *type)
{
	uint64_t v;
	const uint8_t *p;

	if (r->bad)
		return -1;
	if (r->p == r->end)
		return 0;
	v = rt__rd_varint(r);
	p = rt__rd_bytes(r, (size_t)(v >> 1));
	if (r->bad || (v >> 1) > SIZE_MAX)
		return -1;
	*key = (const char *)p;
	*keylen = (size_t)(v >> 1);
	*type = (v & 1) ? RT_REF_MASK : RT_REF_NORMAL;
	return 1;
}

/* ---- entries ------------------------------------------------------------ */

static void put_tag(struct rt__buf *b, unsigned tag, const struct rt__buf *val)
{
	rt__buf_varint(b, tag);
	rt__buf_varint(b, val->len);
	rt__buf_put(b, val->p, val->len);
}

void rt__entry_encode(struct rt__buf *b, const struct rt__entry_rec *e)
{
	/* Tag payloads are small: a stack buffer avoids a malloc per field. */
	uint8_t tmp[64];
	struct rt__buf t = { tmp, 0, sizeof(tmp), 0 };
	size_t start = b->len;

	rt__buf_u8(b, RT__ENTRY_CODEC);
	rt__buf_u8(b, e->state);
	rt__buf_u8(b, e->op);
	rt__buf_varint(b, e->batch_serial);
	rt__buf_varint(b, e->request_index);
	rt__buf_str(b, e->pool.s, e->pool.len);
	rt__buf_str(b, e->ns.s, e->ns.len);
	rt__buf_str(b, e->tracker.s, e->tracker.len);
	rt__buf_varint(b, e->nrefs);
	rt__buf_varint(b, e->refs_len);
	rt__buf_put(b, e->refs, e->refs_len);

	if (e->request_id.s) {
		rt__buf_varint(b, RT__TAG_REQUEST_ID);
		rt__buf_str(b, e->request_id.s, e->request_id.len);
	}
	if (e->attempts) {
		t.len = 0;
		rt__buf_varint(&t, e->attempts);
		put_tag(b, RT__TAG_ATTEMPTS, &t);
	}
	if (e->error.s) {
		rt__buf_varint(b, RT__TAG_ERROR);
		rt__buf_str(b, e->error.s, e->error.len);
	}
	if (e->outcome.result != RT_RESULT_NONE || e->outcome.added ||
	    e->outcome.removed || e->outcome.masked) {
		t.len = 0;
		rt__buf_varint(&t, (uint64_t)e->outcome.result);
		rt__buf_varint(&t, e->outcome.added);
		rt__buf_varint(&t, e->outcome.removed);
		rt__buf_varint(&t, e->outcome.masked);
		put_tag(b, RT__TAG_OUTCOME, &t);
	}
	if (e->has_guard) {
		t.len = 0;
		rt__buf_varint(&t, e->guard_version);
		put_tag(b, RT__TAG_GUARD, &t);
	}
	if (e->updated_ns) {
		t.len = 0;
		rt__buf_varint(&t, e->updated_ns);
		put_tag(b, RT__TAG_UPDATED, &t);
	}
	if (e->done_ns) {
		t.len = 0;
		rt__buf_varint(&t, e->done_ns);
		put_tag(b, RT__TAG_DONE, &t);
	}
	seal(b, start);
}

static uint32_t rd_u32(struct rt__rd *r)
{
	uint64_t v = rt__rd_varint(r);

	if (v > UINT32_MAX)
		r->bad = 1;
	return (uint32_t)v;
}

/* The fields of an entry in `data`, whose first byte must be `version`;
 * any checksum is already checked and cut off. */
static int entry_body(struct rt__entry_rec *e, const void *data, size_t len,
                      uint8_t version)
{
	struct rt__rd r = { data, (const uint8_t *)data + len, 0 };
	struct rt__rd refs;
	uint64_t refs_len, i;

	memset(e, 0, sizeof(*e));
	if (rt__rd_u8(&r) != version)
		return -1;
	e->state = rt__rd_u8(&r);
	e->op = rt__rd_u8(&r);
	e->batch_serial = rt__rd_varint(&r);
	e->request_index = rt__rd_varint(&r);
	e->pool.len = rt__rd_str(&r, &e->pool.s);
	e->ns.len = rt__rd_str(&r, &e->ns.s);
	e->tracker.len = rt__rd_str(&r, &e->tracker.s);
	e->nrefs = rt__rd_varint(&r);
	refs_len = rt__rd_varint(&r);
	if (r.bad || refs_len > (uint64_t)(r.end - r.p))
		return -1;
	e->refs = rt__rd_bytes(&r, (size_t)refs_len);
	e->refs_len = (size_t)refs_len;
	if (r.bad || e->state < RT_ENTRY_STATE_FIRST ||
	    e->state >= RT_ENTRY_STATE_SLOTS ||
	    (e->op != RT_OP_ADD && e->op != RT_OP_REMOVE))
		return -1;

	/* The refs must walk exactly to the end of their section, so that
	 * later consumers can iterate them without re-checking. */
	refs.p = e->refs;
	refs.end = e->refs + e->refs_len;
	refs.bad = 0;
	for (i = 0; i < e->nrefs; i++) {
		const char *key;
		size_t keylen;
		rt_ref_type type;

		if (rt__refs_next(&refs, &key, &keylen, &type) != 1)
			return -1;
	}
	if (refs.p != refs.end)
		return -1;

	while (!r.bad && r.p < r.end) {
		uint64_t tag = rt__rd_varint(&r);
		uint64_t flen = rt__rd_varint(&r);
		struct rt__rd f;

		if (r.bad || flen > (uint64_t)(r.end - r.p))
			return -1;
		f.p = r.p;
		f.end = r.p + flen;
		f.bad = 0;
		r.p += flen;
		switch (tag) {
		case RT__TAG_REQUEST_ID:
			e->request_id.s = (const char *)f.p;
			e->request_id.len = (size_t)flen;
			break;
		case RT__TAG_ATTEMPTS:
			e->attempts = rd_u32(&f);
			break;
		case RT__TAG_ERROR:
			e->error.s = (const char *)f.p;
			e->error.len = (size_t)flen;
			break;
		case RT__TAG_OUTCOME:
			e->outcome.result = (rt_entry_result)rt__rd_varint(&f);
			e->outcome.added = rd_u32(&f);
			e->outcome.removed = rd_u32(&f);
			e->outcome.masked = rd_u32(&f);
			break;
		case RT__TAG_GUARD:
			e->has_guard = 1;
			e->guard_version = rt__rd_varint(&f);
			break;
		case RT__TAG_UPDATED:
			e->updated_ns = rt__rd_varint(&f);
			break;
		case RT__TAG_DONE:
			e->done_ns = rt__rd_varint(&f);
			break;
		default:
			e->unknown_fields = 1;
			break;
		}
		if (f.bad)
			return -1;
	}
	return r.bad ? -1 : 0;
}

int rt__entry_decode(struct rt__entry_rec *e, const void *data, size_t len)
{
	int rc = rt__sealed_check(data, len);

	if (rc) {
		memset(e, 0, sizeof(*e));
		return rc;
	}
	return entry_body(e, data, len - 4, RT__ENTRY_CODEC) ? RT__DECODE_MALFORMED
	                                                     : 0;
}

int rt__entry_decode_v1(struct rt__entry_rec *e, const void *data, size_t len)
{
	return entry_body(e, data, len, 1) ? RT__DECODE_MALFORMED : 0;
}

/* ---- counts and batches -------------------------------------------------- */

void rt__counts_encode(struct rt__buf *b,
                       const uint64_t counts[RT_ENTRY_STATE_SLOTS])
{
	unsigned n = RT_ENTRY_STATE_SLOTS, i;

	/* Trailing empty slots are left out: most of them are never used. */
	while (n > 0 && counts[n - 1] == 0)
		n--;
	rt__buf_varint(b, n);
	for (i = 0; i < n; i++)
		rt__buf_varint(b, counts[i]);
}

void rt__counts_read(struct rt__rd *r, uint64_t counts[RT_ENTRY_STATE_SLOTS])
{
	uint64_t n = rt__rd_varint(r), i;

	memset(counts, 0, sizeof(uint64_t) * RT_ENTRY_STATE_SLOTS);
	if (n > RT_ENTRY_STATE_SLOTS) {
		r->bad = 1;
		return;
	}
	for (i = 0; i < n; i++)
		counts[i] = rt__rd_varint(r);
}

void rt__batch_encode(struct rt__buf *b, const struct rt__batch_rec *rec)
{
	size_t start = b->len;

	rt__buf_u8(b, RT__BATCH_CODEC);
	rt__buf_put(b, rec->id, sizeof(rec->id));
	rt__buf_varint(b, rec->submitted_ns);
	rt__buf_varint(b, rec->first_seq);
	rt__buf_varint(b, rec->nentries);
	rt__buf_str(b, rec->file_name.s, rec->file_name.len);
	rt__counts_encode(b, rec->counts);
	seal(b, start);
}

static int batch_body(struct rt__batch_rec *rec, const void *data, size_t len,
                      uint8_t version)
{
	struct rt__rd r = { data, (const uint8_t *)data + len, 0 };
	const uint8_t *id;

	memset(rec, 0, sizeof(*rec));
	if (rt__rd_u8(&r) != version)
		return -1;
	id = rt__rd_bytes(&r, sizeof(rec->id));
	if (id)
		memcpy(rec->id, id, sizeof(rec->id));
	rec->submitted_ns = rt__rd_varint(&r);
	rec->first_seq = rt__rd_varint(&r);
	rec->nentries = rt__rd_varint(&r);
	rec->file_name.len = rt__rd_str(&r, &rec->file_name.s);
	rt__counts_read(&r, rec->counts);
	return r.bad || r.p != r.end ? -1 : 0;
}

int rt__batch_decode(struct rt__batch_rec *rec, const void *data, size_t len)
{
	int rc = rt__sealed_check(data, len);

	if (rc) {
		memset(rec, 0, sizeof(*rec));
		return rc;
	}
	return batch_body(rec, data, len - 4, RT__BATCH_CODEC)
	               ? RT__DECODE_MALFORMED
	               : 0;
}

int rt__batch_decode_v1(struct rt__batch_rec *rec, const void *data,
                        size_t len)
{
	return batch_body(rec, data, len, 1) ? RT__DECODE_MALFORMED : 0;
}

/* ---- small helpers --------------------------------------------------------- */

void rt__be64_put(uint8_t out[8], uint64_t v)
{
	int i;

	for (i = 7; i >= 0; i--) {
		out[i] = (uint8_t)v;
		v >>= 8;
	}
}

uint64_t rt__be64_get(const uint8_t in[8])
{
	uint64_t v = 0;
	int i;

	for (i = 0; i < 8; i++)
		v = (v << 8) | in[i];
	return v;
}

void rt__hex32(char out[RT_BATCH_ID_LEN + 1], const uint8_t in[32])
{
	static const char digits[] = "0123456789abcdef";
	int i;

	for (i = 0; i < 32; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 15];
	}
	out[RT_BATCH_ID_LEN] = '\0';
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int rt__unhex32(uint8_t out[32], const char *hex)
{
	int i;

	if (strlen(hex) != RT_BATCH_ID_LEN)
		return -1;
	for (i = 0; i < 32; i++) {
		int hi = hexval(hex[2 * i]), lo = hexval(hex[2 * i + 1]);

		if (hi < 0 || lo < 0)
			return -1;
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	return 0;
}
