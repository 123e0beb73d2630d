/*
 * test_format.c - the v1 codec (format.c) and the error helpers (error.c):
 * every byte pattern a tracker may hold, and how each is judged.
 */
#include <errno.h>
#include <stdint.h>

#include "check.h"
#include "error.h"
#include "format.h"

#define CHECK_HAS(s, sub) CHECK(strstr((s), (sub)) != NULL)

static char msg[RT__ERRMSG_MAX];

static void test_format__be32_roundtrip(void)
{
	static const uint32_t vals[] = { 0, 1, 0x01020304, 0x7fffffff,
	                                 0x80000000, UINT32_MAX };
	unsigned char b[4];
	size_t i;

	rt__be32_put(b, 0x01020304);
	CHECK(memcmp(b, "\x01\x02\x03\x04", 4) == 0);
	for (i = 0; i < sizeof(vals) / sizeof(vals[0]); i++) {
		rt__be32_put(b, vals[i]);
		CHECK(rt__be32_get(b) == vals[i]);
	}
	CHECK(rt__be32_get((const unsigned char *)"\xff\x00\x00\x01") ==
	      0xff000001u);
}

static void test_format__version_ok(void)
{
	CHECK_INT(rt__fmt_check_version(1, "\0\0\0\1", 4, msg, sizeof(msg)), 0);
	CHECK(memcmp(rt__fmt_version_value(), "\0\0\0\1", 4) == 0);
}

static void test_format__version_missing_is_foreign(void)
{
	CHECK_INT(rt__fmt_check_version(0, NULL, 0, msg, sizeof(msg)),
	          RT_EFOREIGN);
	CHECK_HAS(msg, "no csi.ceph.com/rt-version xattr");
}

static void test_format__version_length_is_corrupt(void)
{
	static const struct {
		const char *v;
		size_t len;
	} bad[] = { { "", 0 }, { "\0\0\1", 3 }, { "\0\0\0\1\0", 5 },
	            { "\0\0\0\0\0\0\0\1", 8 } };
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		msg[0] = '\0';
		CHECK_INT(rt__fmt_check_version(1, bad[i].v, bad[i].len, msg,
		                                sizeof(msg)),
		          RT_ECORRUPT);
		CHECK_HAS(msg, "want 4");
	}
}

static void test_format__version_unknown(void)
{
	CHECK_INT(rt__fmt_check_version(1, "\0\0\0\2", 4, msg, sizeof(msg)),
	          RT_EVERSION);
	CHECK_HAS(msg, "unknown tracker version 2");
	CHECK_INT(rt__fmt_check_version(1, "\0\0\0\0", 4, msg, sizeof(msg)),
	          RT_EVERSION);
	CHECK_HAS(msg, "unknown tracker version 0");
	/* Little-endian 1 is a big number, not 1. */
	CHECK_INT(rt__fmt_check_version(1, "\1\0\0\0", 4, msg, sizeof(msg)),
	          RT_EVERSION);
	CHECK_HAS(msg, "unknown tracker version 16777216");
	CHECK_INT(rt__fmt_check_version(1, "\xff\xff\xff\xff", 4, msg,
	                                sizeof(msg)),
	          RT_EVERSION);
	CHECK_HAS(msg, "unknown tracker version 4294967295");
}

static void test_format__count_ok(void)
{
	uint32_t n = 99;

	CHECK_INT(rt__fmt_decode_count(&n, "\0\0\0\0", 4, 0, msg, sizeof(msg)),
	          0);
	CHECK_INT(n, 0);
	CHECK_INT(rt__fmt_decode_count(&n, "\0\0\1\2", 4, 0, msg, sizeof(msg)),
	          0);
	CHECK_INT(n, 258);
	CHECK_INT(rt__fmt_decode_count(&n, "\xff\xff\xff\xff", 4, 0, msg,
	                               sizeof(msg)),
	          0);
	CHECK(n == UINT32_MAX);
}

static void test_format__count_draft_layout_is_foreign(void)
{
	uint32_t n = 99;

	CHECK_INT(rt__fmt_decode_count(&n, "\0\0\0\1\0\0\0\3", 8, 0, msg,
	                               sizeof(msg)),
	          RT_EFOREIGN);
	CHECK_HAS(msg, "foreign layout (8-byte data, like the draft tool's "
	               "gen+refcount)");
	CHECK_INT(n, 0);
}

static void test_format__count_wrong_size_is_corrupt(void)
{
	static const size_t sizes[] = { 0, 1, 3, 5, 7, 9, 12 };
	char data[16] = { 0 }, want[64];
	uint32_t n;
	size_t i;

	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		CHECK_INT(rt__fmt_decode_count(&n, data, sizes[i], 0, msg,
		                               sizeof(msg)),
		          RT_ECORRUPT);
		snprintf(want, sizeof(want), "data is %zu bytes, want 4",
		         sizes[i]);
		CHECK_HAS(msg, want);
	}
	/* A read that filled its buffer saw only part of the data. */
	CHECK_INT(rt__fmt_decode_count(&n, data, 16, 1, msg, sizeof(msg)),
	          RT_ECORRUPT);
	CHECK_HAS(msg, "16 bytes or more");
}

static void test_format__type_ok(void)
{
	rt_ref_type t = 0;

	CHECK_INT(rt__fmt_decode_type(&t, "k", 1, "\x01", 1, msg, sizeof(msg)),
	          0);
	CHECK_INT(t, RT_REF_NORMAL);
	CHECK_INT(rt__fmt_decode_type(&t, "k", 1, "\x02", 1, msg, sizeof(msg)),
	          0);
	CHECK_INT(t, RT_REF_MASK);
	CHECK(memcmp(rt__fmt_type_value(RT_REF_NORMAL), "\x01", 1) == 0);
	CHECK(memcmp(rt__fmt_type_value(RT_REF_MASK), "\x02", 1) == 0);
}

static void test_format__type_empty_is_foreign(void)
{
	rt_ref_type t;

	CHECK_INT(rt__fmt_decode_type(&t, "key2", 4, NULL, 0, msg, sizeof(msg)),
	          RT_EFOREIGN);
	CHECK_HAS(msg, "'key2'");
	CHECK_HAS(msg, "draft");
}

static void test_format__type_bad_byte_is_corrupt(void)
{
	static const struct {
		const char *val;
		size_t len;
		const char *want;
	} bad[] = {
		{ "\x07", 1, "key 'k2': omap value 0x07 is not a reference type "
		             "(want 01 normal or 02 mask)" },
		{ "\x00", 1, "omap value 0x00" },
		{ "\x03", 1, "omap value 0x03" },
		{ "\xff", 1, "omap value 0xff" },
		{ "\x01\x01", 2, "omap value is 2 bytes" },
		{ "\x02\x00\x00\x00", 4, "omap value is 4 bytes" },
	};
	rt_ref_type t;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		CHECK_INT(rt__fmt_decode_type(&t, "k2", 2, bad[i].val,
		                              bad[i].len, msg, sizeof(msg)),
		          RT_ECORRUPT);
		CHECK_HAS(msg, bad[i].want);
		CHECK_HAS(msg, "'k2'");
	}
}

static void test_format__quote(void)
{
	char q[RT__QUOTE_BUF];
	char big[3 * RT__QUOTE_MAX];

	CHECK_STR(rt__quote(q, "abc", 3), "'abc'");
	CHECK_STR(rt__quote(q, "", 0), "''");
	CHECK_STR(rt__quote(q, "a'b\\c", 5), "'a\\'b\\\\c'");
	CHECK_STR(rt__quote(q, "a\nb\0c\xff", 6), "'a\\x0ab\\x00c\\xff'");
	memset(big, 'x', sizeof(big));
	rt__quote(q, big, sizeof(big));
	CHECK(strlen(q) <= RT__QUOTE_BUF - 1);
	CHECK(strlen(q) > RT__QUOTE_MAX);
	CHECK(strcmp(q + strlen(q) - 4, "...'") == 0);
	/* Escapes are never cut in half. */
	memset(big, '\x01', sizeof(big));
	rt__quote(q, big, sizeof(big));
	CHECK(strcmp(q + strlen(q) - 4, "...'") == 0);
	CHECK((strlen(q) - 5) % 4 == 0);
}

static void test_format__errmsg_cut(void)
{
	char small[8];

	CHECK_STR(rt__errmsg_set(small, sizeof(small), "%s", "0123456789"),
	          "0123456");
	CHECK_STR(rt__errmsg_set(small, sizeof(small), "n=%d", 5), "n=5");
}

static void test_format__errno_mapping(void)
{
	CHECK_INT(rt__err_from_errno(0), 0);
	CHECK_INT(rt__err_from_errno(-ENOENT), RT_ENOTFOUND);
	CHECK_INT(rt__err_from_errno(-EACCES), RT_EPERM);
	CHECK_INT(rt__err_from_errno(-EPERM), RT_EPERM);
	CHECK_INT(rt__err_from_errno(-ETIMEDOUT), RT_ETRANSIENT);
	CHECK_INT(rt__err_from_errno(-EAGAIN), RT_ETRANSIENT);
	CHECK_INT(rt__err_from_errno(-EBUSY), RT_ETRANSIENT);
	CHECK_INT(rt__err_from_errno(-ESHUTDOWN), RT_ETRANSIENT);
	CHECK_INT(rt__err_from_errno(-ENOTCONN), RT_ETRANSIENT);
	CHECK_INT(rt__err_from_errno(-ECONNREFUSED), RT_ETRANSIENT);
	CHECK_INT(rt__err_from_errno(-ECONNRESET), RT_ETRANSIENT);
	CHECK_INT(rt__err_from_errno(-EINTR), RT_ETRANSIENT);
	CHECK_INT(rt__err_from_errno(-ENOMEM), RT_ENOMEM);
	CHECK_INT(rt__err_from_errno(-EINVAL), RT_EINVAL);
	CHECK_INT(rt__err_from_errno(-ENAMETOOLONG), RT_EINVAL);
	CHECK_INT(rt__err_from_errno(-EIO), RT_EIO);
	CHECK_INT(rt__err_from_errno(-ENOSPC), RT_EIO);
	CHECK_INT(rt__err_from_errno(-EEXIST), RT_EIO);
	CHECK_STR(rt__errno_name(-ETIMEDOUT), "ETIMEDOUT");
	CHECK(rt__errno_name(-12345) == NULL);
	CHECK(RT__IS_CODE(RT_ENOTFOUND) && RT__IS_CODE(RT_EJOURNAL));
	CHECK(!RT__IS_CODE(-ENOENT) && !RT__IS_CODE(0));
}

static void test_format__strerror_names_every_code(void)
{
	int c;

	CHECK_STR(rt_strerror(RT_OK), "success");
	for (c = RT_ENOTFOUND; c <= RT_EJOURNAL; c++) {
		CHECK(strcmp(rt_strerror(c), "unknown error code") != 0);
		if (c > RT_ENOTFOUND)
			CHECK(strcmp(rt_strerror(c), rt_strerror(c - 1)) != 0);
	}
	CHECK_STR(rt_strerror(12345), "unknown error code");
	CHECK(strcmp(rt_strerror(RT_ECORRUPT), rt_strerror(RT_EFOREIGN)) != 0);
}

int main(void)
{
	RUN(test_format__be32_roundtrip);
	RUN(test_format__version_ok);
	RUN(test_format__version_missing_is_foreign);
	RUN(test_format__version_length_is_corrupt);
	RUN(test_format__version_unknown);
	RUN(test_format__count_ok);
	RUN(test_format__count_draft_layout_is_foreign);
	RUN(test_format__count_wrong_size_is_corrupt);
	RUN(test_format__type_ok);
	RUN(test_format__type_empty_is_foreign);
	RUN(test_format__type_bad_byte_is_corrupt);
	RUN(test_format__quote);
	RUN(test_format__errmsg_cut);
	RUN(test_format__errno_mapping);
	RUN(test_format__strerror_names_every_code);
	return check_summary("format");
}
