/*
 * fuzz_journal.c - libFuzzer target for the journal record codec
 * (journal_codec.c).
 *
 * A journal may be damaged, so decoding arbitrary bytes must never crash,
 * read out of bounds or allocate without bound.  The input is tried as
 * each kind of record (entry, batch, counts), as it is and sealed with a
 * valid checksum (so that the fuzzer reaches past the CRC-32 gate into the
 * field parsing), and as a codec-1 record of the migration path; whatever
 * decodes must encode and decode again to the same record, and an entry's
 * refs must walk to the end of their section.  Then the same bytes, read
 * as the fields of an entry and of a batch, are encoded and decoded:
 * encode -> decode gives back every field, and any one damaged byte of
 * the encoding is caught by the checksum.
 *
 * The seed corpus is made by tests/fuzz/journal_seeds.c from this codec's
 * own encoder and from a journal written by the library, so a change of
 * the format regenerates it (`make fuzz-seeds`).
 */
#include <stdint.h>
#include <string.h>

#include <zlib.h>

#include "fuzz_input.h"
#include "journal_codec.h"

static int str_eq(struct rt__str a, struct rt__str b)
{
	if ((a.s == NULL) != (b.s == NULL) || a.len != b.len)
		return 0;
	return a.len == 0 || memcmp(a.s, b.s, a.len) == 0;
}

/* The same bytes, whether or not either pointer is NULL. */
static int bytes_eq(struct rt__str a, struct rt__str b)
{
	return a.len == b.len && (a.len == 0 || memcmp(a.s, b.s, a.len) == 0);
}

static void check_entry_eq(const struct rt__entry_rec *a,
                           const struct rt__entry_rec *b)
{
	FZ_ASSERT(a->state == b->state && a->op == b->op);
	FZ_ASSERT(a->batch_serial == b->batch_serial);
	FZ_ASSERT(a->request_index == b->request_index);
	FZ_ASSERT(bytes_eq(a->pool, b->pool));
	FZ_ASSERT(bytes_eq(a->ns, b->ns));
	FZ_ASSERT(bytes_eq(a->tracker, b->tracker));
	FZ_ASSERT(a->nrefs == b->nrefs && a->refs_len == b->refs_len);
	FZ_ASSERT(a->refs_len == 0 ||
	          memcmp(a->refs, b->refs, a->refs_len) == 0);
	FZ_ASSERT(str_eq(a->request_id, b->request_id));
	FZ_ASSERT(str_eq(a->error, b->error));
	FZ_ASSERT(a->attempts == b->attempts);
	FZ_ASSERT(a->outcome.result == b->outcome.result &&
	          a->outcome.added == b->outcome.added &&
	          a->outcome.removed == b->outcome.removed &&
	          a->outcome.masked == b->outcome.masked);
	FZ_ASSERT(a->has_guard == b->has_guard);
	FZ_ASSERT(!a->has_guard || a->guard_version == b->guard_version);
	FZ_ASSERT(a->updated_ns == b->updated_ns && a->done_ns == b->done_ns);
}

static void check_batch_eq(const struct rt__batch_rec *a,
                           const struct rt__batch_rec *b)
{
	FZ_ASSERT(memcmp(a->id, b->id, sizeof(a->id)) == 0);
	FZ_ASSERT(a->submitted_ns == b->submitted_ns);
	FZ_ASSERT(a->first_seq == b->first_seq && a->nentries == b->nentries);
	FZ_ASSERT(bytes_eq(a->file_name, b->file_name));
	FZ_ASSERT(memcmp(a->counts, b->counts, sizeof(a->counts)) == 0);
}

/* Walks an entry's refs: exactly nrefs of them, to the end. */
static void walk_refs(const struct rt__entry_rec *e)
{
	struct rt__rd r = { e->refs, e->refs + e->refs_len, 0 };
	const char *key;
	size_t keylen;
	rt_ref_type type;
	uint64_t n = 0;
	int rc;

	while ((rc = rt__refs_next(&r, &key, &keylen, &type)) == 1) {
		FZ_ASSERT(type == RT_REF_NORMAL || type == RT_REF_MASK);
		FZ_ASSERT(keylen <= e->refs_len);
		FZ_ASSERT(keylen == 0 || (key >= (const char *)e->refs &&
		                          key + keylen <= (const char *)e->refs +
		                                              e->refs_len));
		n++;
	}
	FZ_ASSERT(rc == 0 && n == e->nrefs);
}

static int decode_rc_ok(int rc)
{
	return rc == 0 || rc == RT__DECODE_MALFORMED || rc == RT__DECODE_CHECKSUM;
}

/* A decoded entry, re-encoded, decodes to the same record, and that
 * encoding is stable. */
static void entry_again(const struct rt__entry_rec *e)
{
	struct rt__entry_rec e2;
	struct rt__buf out = { 0 }, again = { 0 };

	walk_refs(e);
	rt__entry_encode(&out, e);
	FZ_ASSERT(!out.oom);
	FZ_ASSERT(rt__entry_decode(&e2, out.p, out.len) == 0);
	/* Unknown fields are dropped by a re-encode: the decoder flags them
	 * so that nothing rewrites such an entry. */
	FZ_ASSERT(!e2.unknown_fields);
	check_entry_eq(e, &e2);
	rt__entry_encode(&again, &e2);
	FZ_ASSERT(again.len == out.len && memcmp(again.p, out.p, out.len) == 0);
	rt__buf_free(&out);
	rt__buf_free(&again);
}

static void batch_again(const struct rt__batch_rec *b)
{
	struct rt__batch_rec b2;
	struct rt__buf out = { 0 }, again = { 0 };

	rt__batch_encode(&out, b);
	FZ_ASSERT(!out.oom);
	FZ_ASSERT(rt__batch_decode(&b2, out.p, out.len) == 0);
	check_batch_eq(b, &b2);
	rt__batch_encode(&again, &b2);
	FZ_ASSERT(again.len == out.len && memcmp(again.p, out.p, out.len) == 0);
	rt__buf_free(&out);
	rt__buf_free(&again);
}

/* The bytes as each record; `sealed` says they carry a valid checksum. */
static void decode_as_records(const uint8_t *data, size_t size, int sealed)
{
	struct rt__entry_rec e;
	struct rt__batch_rec b;
	int rc;

	rc = rt__entry_decode(&e, data, size);
	FZ_ASSERT(decode_rc_ok(rc));
	FZ_ASSERT(!sealed || rc != RT__DECODE_CHECKSUM);
	if (rc == 0)
		entry_again(&e);
	rc = rt__batch_decode(&b, data, size);
	FZ_ASSERT(decode_rc_ok(rc));
	FZ_ASSERT(!sealed || rc != RT__DECODE_CHECKSUM);
	if (rc == 0)
		batch_again(&b);
}

static void decode_raw(const uint8_t *data, size_t size)
{
	struct rt__rd r = { data, data + size, 0 };
	uint64_t counts[RT_ENTRY_STATE_SLOTS];
	struct rt__entry_rec e;
	struct rt__batch_rec b;
	uint8_t *sealed;
	uLong crc;

	decode_as_records(data, size, 0);

	/* The same bytes with a valid checksum after them. */
	sealed = malloc(size + 4);
	FZ_ASSERT(sealed != NULL);
	if (size)
		memcpy(sealed, data, size);
	crc = crc32(crc32(0L, Z_NULL, 0), data, (uInt)size);
	sealed[size] = (uint8_t)(crc >> 24);
	sealed[size + 1] = (uint8_t)(crc >> 16);
	sealed[size + 2] = (uint8_t)(crc >> 8);
	sealed[size + 3] = (uint8_t)crc;
	if (size + 4 >= 5)
		decode_as_records(sealed, size + 4, 1);
	free(sealed);

	/* A codec-1 record (no checksum) of a journal being migrated: what
	 * decodes is written back in the current codec, unchanged. */
	if (rt__entry_decode_v1(&e, data, size) == 0)
		entry_again(&e);
	if (rt__batch_decode_v1(&b, data, size) == 0)
		batch_again(&b);

	rt__counts_read(&r, counts);
	if (!r.bad) {
		struct rt__buf out = { 0 };
		struct rt__rd r2;
		uint64_t counts2[RT_ENTRY_STATE_SLOTS];

		rt__counts_encode(&out, counts);
		FZ_ASSERT(!out.oom);
		r2.p = out.p;
		r2.end = out.p + out.len;
		r2.bad = 0;
		rt__counts_read(&r2, counts2);
		FZ_ASSERT(!r2.bad && r2.p == r2.end);
		FZ_ASSERT(memcmp(counts, counts2, sizeof(counts)) == 0);
		rt__buf_free(&out);
	}
}

static struct rt__str fz_str(struct fz *in, int may_be_absent)
{
	struct rt__str s = { NULL, 0 };
	const uint8_t *p;
	uint8_t b = fz_u8(in);

	if (may_be_absent && (b & 0x80))
		return s;
	s.len = fz_bytes(in, &p, b & 0x7f);
	s.s = s.len ? (const char *)p : "";
	return s;
}

static uint64_t fz_wide(struct fz *in)
{
	uint8_t b = fz_u8(in);

	/* Mostly small numbers, now and then any 64-bit value. */
	return (b & 0x80) ? fz_u64(in) : (uint64_t)(b & 0x7f);
}

/* Fields read from the input: encode -> decode gives each back. */
static void roundtrip(struct fz *in)
{
	static char keys[16][64];
	rt_ref refs[16];
	struct rt__entry_rec e, d;
	struct rt__batch_rec b, bd;
	struct rt__buf refbuf = { 0 }, out = { 0 };
	const uint8_t *p;
	size_t i, n;

	memset(&e, 0, sizeof(e));
	e.state = (uint8_t)(RT_ENTRY_STATE_FIRST +
	                    fz_u8(in) % (RT_ENTRY_STATE_SLOTS - RT_ENTRY_STATE_FIRST));
	e.op = (fz_u8(in) & 1) ? RT_OP_ADD : RT_OP_REMOVE;
	e.batch_serial = fz_wide(in);
	e.request_index = fz_wide(in);
	e.pool = fz_str(in, 0);
	e.ns = fz_str(in, 0);
	e.tracker = fz_str(in, 0);
	n = fz_u8(in) % 16;
	for (i = 0; i < n; i++) {
		size_t len = fz_bytes(in, &p, fz_u8(in) % sizeof(keys[i]));

		memcpy(keys[i], p, len);
		keys[i][len] = '\0';
		refs[i].key = keys[i];
		refs[i].type = (fz_u8(in) & 1) ? RT_REF_MASK : RT_REF_NORMAL;
	}
	rt__refs_encode(&refbuf, refs, n);
	FZ_ASSERT(!refbuf.oom);
	e.nrefs = n;
	e.refs = refbuf.p;
	e.refs_len = refbuf.len;
	e.request_id = fz_str(in, 1);
	e.error = fz_str(in, 1);
	e.attempts = fz_u32(in);
	e.outcome.result = (rt_entry_result)(fz_u8(in) % 5);
	e.outcome.added = fz_u32(in);
	e.outcome.removed = fz_u32(in);
	e.outcome.masked = fz_u32(in);
	e.has_guard = fz_u8(in) & 1;
	e.guard_version = e.has_guard ? fz_wide(in) : 0;
	e.updated_ns = fz_wide(in);
	e.done_ns = fz_wide(in);

	rt__entry_encode(&out, &e);
	FZ_ASSERT(!out.oom);
	FZ_ASSERT(rt__entry_decode(&d, out.p, out.len) == 0);
	FZ_ASSERT(!d.unknown_fields);
	check_entry_eq(&e, &d);
	{
		/* The refs come back as given, in order. */
		struct rt__rd r = { d.refs, d.refs + d.refs_len, 0 };
		const char *key;
		size_t keylen;
		rt_ref_type type;

		for (i = 0; i < n; i++) {
			FZ_ASSERT(rt__refs_next(&r, &key, &keylen, &type) == 1);
			FZ_ASSERT(keylen == strlen(refs[i].key));
			FZ_ASSERT(keylen == 0 || memcmp(key, refs[i].key, keylen) == 0);
			FZ_ASSERT(type == refs[i].type);
		}
		FZ_ASSERT(rt__refs_next(&r, &key, &keylen, &type) == 0);
	}
	/* Any cut of a valid entry is refused or decodes within bounds. */
	n = fz_u8(in);
	if (n < out.len && rt__entry_decode(&d, out.p, n) == 0)
		walk_refs(&d);
	/* One damaged byte, wherever it is, fails the checksum. */
	n = fz_u8(in) | (size_t)fz_u8(in) << 8;
	if (out.len > 0) {
		uint8_t flip = fz_u8(in) | 1;

		out.p[n % out.len] ^= flip;
		FZ_ASSERT(rt__entry_decode(&d, out.p, out.len) ==
		          RT__DECODE_CHECKSUM);
		out.p[n % out.len] ^= flip;
	}

	memset(&b, 0, sizeof(b));
	for (i = 0; i < sizeof(b.id); i++)
		b.id[i] = (uint8_t)(fz_u8(in) ^ i);
	b.submitted_ns = fz_wide(in);
	b.first_seq = fz_wide(in);
	b.nentries = fz_wide(in);
	b.file_name = fz_str(in, 0);
	for (i = 0; i < RT_ENTRY_STATE_SLOTS; i++)
		b.counts[i] = fz_wide(in);
	rt__buf_reset(&out);
	rt__batch_encode(&out, &b);
	FZ_ASSERT(!out.oom);
	FZ_ASSERT(rt__batch_decode(&bd, out.p, out.len) == 0);
	check_batch_eq(&b, &bd);

	rt__buf_free(&refbuf);
	rt__buf_free(&out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz in = { data, size };

	decode_raw(data, size);
	roundtrip(&in);
	return 0;
}
