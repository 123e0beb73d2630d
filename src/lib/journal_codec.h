/*
 * journal_codec.h - byte encodings of the journal's records (private).
 *
 * Pure functions, no LMDB: they turn entry, batch and count records into
 * bytes and back, and never trust the bytes they decode.
 *
 * Every record (entry and batch values) ends with a 4-byte big-endian
 * CRC-32 (zlib's crc32) of all the bytes before it, which every decode
 * checks first: LMDB has no page checksums, and a damaged record must be
 * reported, never acted on.  Codec version 1 (journal format 1) had no
 * checksum; it is read only to migrate such a journal (journal.c).
 *
 * Entry value, codec version 2:
 *   u8 codec version (2) | u8 state | u8 op
 *   varint batch serial | varint request index
 *   str pool | str ns | str tracker
 *   varint nrefs | varint byte length of the refs that follow |
 *   nrefs x (varint (keylen << 1 | is_mask), key bytes)
 *   then optional fields, each: varint tag | varint len | len bytes
 * where str is varint length + bytes.  Absent optional fields cost nothing,
 * which keeps a freshly submitted entry small.  A decoder skips tags it does
 * not know (and says so, so that nothing rewrites such an entry and drops
 * them).
 *
 * Batch value: u8 version (2) | 32 bytes raw id | varint submitted_ns |
 *   varint first_seq | varint nentries | str file name | counts | crc32
 * Counts: varint n | n varints, slot i = entries in state i.
 */
#ifndef REFTRACK_JOURNAL_CODEC_H
#define REFTRACK_JOURNAL_CODEC_H

#include <stddef.h>
#include <stdint.h>

#include <reftrack/journal.h>

#define RT__ENTRY_CODEC 2
#define RT__BATCH_CODEC 2

/* Results of the decoders. */
#define RT__DECODE_MALFORMED (-1) /* checksum fine, contents invalid */
#define RT__DECODE_CHECKSUM (-2)  /* the bytes are not what was written */

/* 0 if the last 4 bytes of data[0..len) are the CRC-32 of the rest, else
 * RT__DECODE_CHECKSUM (RT__DECODE_MALFORMED if too short to hold one). */
int rt__sealed_check(const void *data, size_t len);

/* Optional entry fields. */
enum {
	RT__TAG_REQUEST_ID = 1,
	RT__TAG_ATTEMPTS = 2,
	RT__TAG_ERROR = 3,
	RT__TAG_OUTCOME = 4,
	RT__TAG_GUARD = 5,
	RT__TAG_UPDATED = 6,
	RT__TAG_DONE = 7
};

/* A growable output buffer.  Appends never fail; a failed allocation sets
 * `oom` and later appends are dropped, so callers check once at the end. */
struct rt__buf {
	uint8_t *p;
	size_t len, cap;
	int oom;
};

void rt__buf_reset(struct rt__buf *b);
void rt__buf_free(struct rt__buf *b);
void rt__buf_put(struct rt__buf *b, const void *data, size_t len);
void rt__buf_u8(struct rt__buf *b, uint8_t v);
void rt__buf_varint(struct rt__buf *b, uint64_t v);
void rt__buf_str(struct rt__buf *b, const char *s, size_t len);

/* A bounded reader.  A read past the end or a malformed varint sets `bad`
 * and yields zeros, so decoders check once at the end. */
struct rt__rd {
	const uint8_t *p, *end;
	int bad;
};

uint8_t rt__rd_u8(struct rt__rd *r);
uint64_t rt__rd_varint(struct rt__rd *r);
/* A length-prefixed string: sets *s (not NUL-terminated) and returns its
 * length. */
size_t rt__rd_str(struct rt__rd *r, const char **s);
const uint8_t *rt__rd_bytes(struct rt__rd *r, size_t n);

/* A byte string inside a decoded value (not NUL-terminated); s == NULL
 * means absent. */
struct rt__str {
	const char *s;
	size_t len;
};

/* An entry as stored.  Decoding fills it with pointers into the value being
 * decoded, so it lives as long as those bytes. */
struct rt__entry_rec {
	uint8_t state;
	uint8_t op;
	uint64_t batch_serial;
	uint64_t request_index;
	struct rt__str pool, ns, tracker;
	uint64_t nrefs;
	const uint8_t *refs; /* encoded refs, excluding the count */
	size_t refs_len;
	struct rt__str request_id, error;
	uint32_t attempts;
	rt_entry_outcome outcome;
	int has_guard;
	uint64_t guard_version;
	uint64_t updated_ns, done_ns;
	int unknown_fields; /* decode met tags it does not know */
};

/* Appends the encoded refs (without their count) of `refs` to `b`. */
void rt__refs_encode(struct rt__buf *b, const rt_ref *refs, size_t nrefs);
/* Steps through encoded refs: returns 1 and sets *key, *keylen, *type, or 0
 * at the end of the section; -1 if it is malformed. */
int rt__refs_next(struct rt__rd *r, const char **key, size_t *keylen,
                  rt_ref_type *type);

/* Appends the encoding of `e`, checksum included, to `b`. */
void rt__entry_encode(struct rt__buf *b, const struct rt__entry_rec *e);
/* A pure function of (data, len), safe on any bytes (the fuzz target's
 * entry point): 0, RT__DECODE_CHECKSUM, or RT__DECODE_MALFORMED if the
 * bytes are not a valid entry (including refs that do not walk to the end
 * of their section). */
int rt__entry_decode(struct rt__entry_rec *e, const void *data, size_t len);
/* The same for a codec-1 entry (no checksum), for migration only. */
int rt__entry_decode_v1(struct rt__entry_rec *e, const void *data, size_t len);

struct rt__batch_rec {
	uint8_t id[32];
	uint64_t submitted_ns;
	uint64_t first_seq;
	uint64_t nentries;
	struct rt__str file_name;
	uint64_t counts[RT_ENTRY_STATE_SLOTS];
};

void rt__batch_encode(struct rt__buf *b, const struct rt__batch_rec *rec);
/* As rt__entry_decode(), for batch records. */
int rt__batch_decode(struct rt__batch_rec *rec, const void *data, size_t len);
int rt__batch_decode_v1(struct rt__batch_rec *rec, const void *data,
                        size_t len);

void rt__counts_encode(struct rt__buf *b,
                       const uint64_t counts[RT_ENTRY_STATE_SLOTS]);
/* Reads counts from `r` (sets r->bad on malformed or too many slots). */
void rt__counts_read(struct rt__rd *r, uint64_t counts[RT_ENTRY_STATE_SLOTS]);

/* Big-endian fixed-width helpers for keys. */
void rt__be64_put(uint8_t out[8], uint64_t v);
uint64_t rt__be64_get(const uint8_t in[8]);

/* Hex of 32 bytes into 65 chars (NUL-terminated); and back: 0 or -1. */
void rt__hex32(char out[RT_BATCH_ID_LEN + 1], const uint8_t in[32]);
int rt__unhex32(uint8_t out[32], const char *hex);

#endif
