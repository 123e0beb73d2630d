/*
 * test_tracker.c - the tracker library against a real cluster.
 *
 * Every operation goes through the public API and is checked three ways:
 * against the model in itest.h (return code and every outcome field),
 * against the raw bytes read back with librados (exactly the v1 encoding of
 * the model), and, where nothing should be written, against the bytes and
 * object version from before.  Corrupt and foreign objects are crafted raw
 * and must come out byte-for-byte untouched from add, remove and mask.
 *
 * Each case works in its own namespace (see itest.h); a single writer per
 * namespace means every operation must take exactly one attempt.
 */
#include "itest.h"

/* Marks an already-crafted object in the model, for trackers written raw. */
static void model_from(struct itest_model *m, uint32_t count,
                       const char *types, const char *const *keys, size_t n)
{
	size_t i;

	itest_model_clear(m);
	m->exists = 1;
	m->count = count;
	for (i = 0; i < n; i++)
		itest_model_set(m, keys[i], (unsigned char)types[i]);
}

/* Number of objects in t's namespace: "nothing written" for requests whose
 * tracker name cannot even be read back. */
static long count_objects(struct itest *t)
{
	rados_list_ctx_t ls;
	const char *oid;
	long n = 0;

	if (rados_nobjects_list_open(t->io, &ls) < 0)
		return -1;
	while (rados_nobjects_list_next(ls, &oid, NULL, NULL) == 0)
		n++;
	rados_nobjects_list_close(ls);
	return n;
}

/* A string of `len` copies of `c`; the caller frees it. */
static char *filled(size_t len, char c)
{
	char *s = malloc(len + 1);

	if (!s)
		abort();
	memset(s, c, len);
	s[len] = '\0';
	return s;
}

/* ---- adding ---------------------------------------------------------- */

static void test_tracker__add_bulk(void)
{
	struct itest t;
	struct itest_model m = { 0 };
	struct itest_raw raw;
	const struct itest_kv *x;
	size_t i;

	if (itest_open(&t))
		goto done;
	T_ADD(&t, &m, "bulk", "key1", "key2", "key3", "key4", "key5");

	/* The bytes, spelled out once without the model. */
	if (RAW_GET(&raw, t.io, "bulk") == 0) {
		x = itest_raw_xattr(&raw, RT_VERSION_XATTR);
		CHECK(x && x->len == 4 && memcmp(x->val, "\x00\x00\x00\x01", 4) == 0);
		CHECK_INT(raw.size, 4);
		CHECK(raw.data_len == 4 && memcmp(raw.data, "\x00\x00\x00\x05", 4) == 0);
		CHECK_INT(raw.nomap, 5);
		for (i = 0; i < raw.nomap; i++) {
			char want[32];

			snprintf(want, sizeof(want), "key%zu", i + 1);
			CHECK_STR(raw.omap[i].key, want);
			CHECK(raw.omap[i].len == 1 && raw.omap[i].val[0] == 0x01);
		}
		itest_raw_free(&raw);
	}
done:
	itest_model_clear(&m);
	itest_close(&t);
}

static void test_tracker__add_overlapping(void)
{
	struct itest t;
	struct itest_model m = { 0 };

	if (itest_open(&t))
		goto done;
	T_ADD(&t, &m, "ovl", "a", "b", "c");           /* created, 3 */
	T_ADD(&t, &m, "ovl", "b", "c", "d");           /* not created, +1 */
	T_ADD(&t, &m, "ovl", "a", "b", "c", "d");      /* nothing to add: no write */
	T_ADD(&t, &m, "ovl", "d", "e", "a", "f");      /* +2 */
	CHECK_INT(m.count, 6);
done:
	itest_model_clear(&m);
	itest_close(&t);
}

static void test_tracker__add_many_keys(void)
{
	enum { N = 2500 };
	struct itest t;
	struct itest_model m = { 0 };
	char (*names)[16] = calloc(N, sizeof(*names));
	const char **keys = calloc(N, sizeof(*keys));
	rt_ref *refs = calloc(N, sizeof(*refs));
	size_t i;

	if (!names || !keys || !refs)
		abort();
	if (itest_open(&t))
		goto done;
	for (i = 0; i < N; i++) {
		snprintf(names[i], sizeof(names[i]), "many-%05zu", i);
		keys[i] = names[i];
		refs[i].key = names[i];
		refs[i].type = i % 2 ? RT_REF_MASK : RT_REF_NORMAL;
	}
	itest_add(ITEST_AT, &t, &m, "many", keys, N);
	CHECK_INT(m.count, N);
	/* Half removed, half masked, in one request: the last one deletes. */
	itest_remove(ITEST_AT, &t, &m, "many", refs, N);
	CHECK_INT(m.exists, 0);
done:
	free(refs);
	free(keys);
	free(names);
	itest_model_clear(&m);
	itest_close(&t);
}

/* ---- removing -------------------------------------------------------- */

static void test_tracker__remove_missing(void)
{
	struct itest t;
	struct itest_model m = { 0 };

	if (itest_open(&t))
		goto done;
	T_REM(&t, &m, "gone", NR("a"));                /* deleted=1, no object */
	T_REM(&t, &m, "gone", MR("a"));                /* a mask creates nothing */
	T_REM(&t, &m, "gone", NR("a"), MR("b"), NR("c"));
	CHECK_INT(count_objects(&t), 0);
done:
	itest_model_clear(&m);
	itest_close(&t);
}

static void test_tracker__remove_absent_keys(void)
{
	struct itest t;
	struct itest_model m = { 0 };

	if (itest_open(&t))
		goto done;
	T_ADD(&t, &m, "abs", "a", "b");
	/* Neither key is there: no write, version unchanged, deleted=0. */
	T_REM(&t, &m, "abs", NR("x"), NR("y"));
	T_REM(&t, &m, "abs", NR("x"));
	T_REM(&t, &m, "abs", MR("z"));                 /* a new mask: written */
	T_REM(&t, &m, "abs", MR("z"), NR("q"));        /* mask on mask: nothing */
	CHECK_INT(m.count, 2);
done:
	itest_model_clear(&m);
	itest_close(&t);
}

static void test_tracker__remove_bulk(void)
{
	struct itest t;
	struct itest_model m = { 0 };

	if (itest_open(&t))
		goto done;
	T_ADD(&t, &m, "rb", "a", "b", "c", "d", "e");
	T_REM(&t, &m, "rb", NR("b"), NR("c"), NR("d"));
	CHECK_INT(m.count, 2);
	T_REM(&t, &m, "rb", NR("a"), NR("e"));         /* deleted=1 */
	CHECK_INT(m.exists, 0);
done:
	itest_model_clear(&m);
	itest_close(&t);
}

static void test_tracker__remove_one_by_one(void)
{
	static const char *const keys[] = { "k1", "k2", "k3", "k4", "k5" };
	struct itest t;
	struct itest_model m = { 0 };
	size_t i;

	if (itest_open(&t))
		goto done;
	itest_add(ITEST_AT, &t, &m, "obo", keys, 5);
	for (i = 0; i < 5; i++) {
		rt_ref r = { keys[i], RT_REF_NORMAL };

		itest_remove(ITEST_AT, &t, &m, "obo", &r, 1);
		/* Deleted exactly at the last key, not before. */
		CHECK_INT(m.exists, i < 4);
	}
done:
	itest_model_clear(&m);
	itest_close(&t);
}

static void test_tracker__add_remove_cycles(void)
{
	struct itest t;
	struct itest_model m = { 0 };
	int i;

	if (itest_open(&t))
		goto done;
	for (i = 0; i < 5; i++) {
		T_ADD(&t, &m, "cyc", "a", "b");        /* created=1 each time */
		T_ADD(&t, &m, "cyc", "c");
		T_REM(&t, &m, "cyc", NR("a"), NR("c"));
		T_REM(&t, &m, "cyc", NR("b"));         /* deleted=1 each time */
	}
done:
	itest_model_clear(&m);
	itest_close(&t);
}

static void test_tracker__remove_all_plus_extra(void)
{
	struct itest t;
	struct itest_model m = { 0 };

	if (itest_open(&t))
		goto done;
	T_ADD(&t, &m, "extra", "a", "b", "c");
	T_REM(&t, &m, "extra", NR("x"), NR("a"), NR("b"), NR("y"), NR("c"));
	CHECK_INT(m.exists, 0);
	/* Leftover masks go with the object. */
	T_ADD(&t, &m, "extra", "a", "b", "c");
	T_REM(&t, &m, "extra", MR("a"), MR("m"));
	T_REM(&t, &m, "extra", NR("b"), NR("c"), NR("zz"));
	CHECK_INT(m.exists, 0);
done:
	itest_model_clear(&m);
	itest_close(&t);
}

/* ---- masks ----------------------------------------------------------- */

static void test_tracker__mask_all(void)
{
	struct itest t;
	struct itest_model m = { 0 };

	if (itest_open(&t))
		goto done;
	T_ADD(&t, &m, "ma", "a", "b", "c");
	T_REM(&t, &m, "ma", MR("a"), MR("b"), MR("c")); /* count 0: deleted */
	CHECK_INT(m.exists, 0);
done:
	itest_model_clear(&m);
	itest_close(&t);
}

static void test_tracker__mask_one_by_one(void)
{
	struct itest t;
	struct itest_model m = { 0 };

	if (itest_open(&t))
		goto done;
	T_ADD(&t, &m, "mo", "a", "b", "c");
	T_REM(&t, &m, "mo", MR("a"));
	T_REM(&t, &m, "mo", MR("a"));                  /* mask on mask: nothing */
	T_REM(&t, &m, "mo", MR("b"));
	CHECK_INT(m.count, 1);
	T_REM(&t, &m, "mo", MR("c"));                  /* the last: deleted */
	CHECK_INT(m.exists, 0);
done:
	itest_model_clear(&m);
	itest_close(&t);
}

static void test_tracker__mask_then_add(void)
{
	struct itest t;
	struct itest_model m = { 0 };

	if (itest_open(&t))
		goto done;
	T_ADD(&t, &m, "mta", "a", "b");
	T_REM(&t, &m, "mta", MR("a"));
	T_ADD(&t, &m, "mta", "a");                     /* stays masked, no write */
	CHECK_INT(itest_model_type(&m, "a"), RT_REF_MASK);
	T_ADD(&t, &m, "mta", "a", "c");                /* only c counted */
	CHECK_INT(m.count, 2);
	T_REM(&t, &m, "mta", MR("new"));               /* mask of an absent key */
	T_ADD(&t, &m, "mta", "new");                   /* stays masked too */
	CHECK_INT(itest_model_type(&m, "new"), RT_REF_MASK);
done:
	itest_model_clear(&m);
	itest_close(&t);
}

static void test_tracker__mask_remove_add(void)
{
	struct itest t;
	struct itest_model m = { 0 };

	if (itest_open(&t))
		goto done;
	T_ADD(&t, &m, "mra", "a", "b");
	T_REM(&t, &m, "mra", MR("a"));
	T_REM(&t, &m, "mra", NR("a"));                 /* removed, count unchanged */
	CHECK_INT(m.count, 1);
	T_ADD(&t, &m, "mra", "a");                     /* normal again, counted */
	CHECK_INT(itest_model_type(&m, "a"), RT_REF_NORMAL);
	CHECK_INT(m.count, 2);
done:
	itest_model_clear(&m);
	itest_close(&t);
}

/* ---- requests with odd contents -------------------------------------- */

static void test_tracker__duplicate_keys(void)
{
	struct itest t;
	struct itest_model m = { 0 };

	if (itest_open(&t))
		goto done;
	/* The draft tool counted `a,a` twice and never deleted the tracker. */
	T_ADD(&t, &m, "dup", "a", "a");                /* created, count 1 */
	T_ADD(&t, &m, "dup", "b", "b", "a", "b");      /* +1 */
	CHECK_INT(m.count, 2);
	T_REM(&t, &m, "dup", NR("a"), NR("a"));        /* -1 */
	T_REM(&t, &m, "dup", MR("x"), MR("x"));        /* one mask */
	T_REM(&t, &m, "dup", NR("b"), NR("b"));        /* deleted */
	CHECK_INT(m.exists, 0);
	T_ADD(&t, &m, "dup", "c", "c", "c");
	T_REM(&t, &m, "dup", MR("c"), MR("c"));        /* deleted */
	CHECK_INT(m.exists, 0);
done:
	itest_model_clear(&m);
	itest_close(&t);
}

static void test_tracker__normal_and_mask_same_key(void)
{
	struct itest t;
	struct itest_model m = { 0 };

	if (itest_open(&t))
		goto done;
	CHECK_UNTOUCHED_REM(&t, "nm", RT_EINVAL, NULL, NR("a"), MR("a"));
	T_ADD(&t, &m, "nm", "a", "b");
	CHECK_UNTOUCHED_REM(&t, "nm", RT_EINVAL, NULL, NR("a"), MR("a"));
	CHECK_UNTOUCHED_REM(&t, "nm", RT_EINVAL, NULL, MR("b"), NR("c"),
	                    NR("b"));
	CHECK_STATE(&t, "nm", &m);
done:
	itest_model_clear(&m);
	itest_close(&t);
}

static void test_tracker__invalid_input(void)
{
	struct itest t;
	struct itest_model m = { 0 };
	char *long_key = filled(RT_KEY_MAX + 1, 'k');
	char *max_key = filled(RT_KEY_MAX, 'k');
	char *long_name = filled(RT_TRACKER_NAME_MAX + 1, 't');
	char *max_name = filled(RT_TRACKER_NAME_MAX, 't');
	rt_ref bad_type = { "a", (rt_ref_type)3 };
	rt_outcome o;

	if (itest_open(&t))
		goto done;

	/* On a missing tracker: nothing may be created. */
	itest_untouched(ITEST_AT, &t, "inv", RT_EINVAL, NULL, ITEST_ADD, NULL,
	                0, NULL, 0);
	itest_untouched(ITEST_AT, &t, "inv", RT_EINVAL, NULL, ITEST_REMOVE,
	                NULL, 0, NULL, 0);
	CHECK_UNTOUCHED_ADD(&t, "inv", RT_EINVAL, NULL, "a", long_key);
	CHECK_UNTOUCHED_REM(&t, "inv", RT_EINVAL, NULL, NR("a"), MR(long_key));
	CHECK_INT(rt_tracker_add(&o, t.pool, long_name, KEYS("a")), RT_EINVAL);
	CHECK_INT(rt_tracker_remove(&o, t.pool, long_name, REFS(NR("a"))),
	          RT_EINVAL);
	CHECK_INT(rt_tracker_add(&o, t.pool, "", KEYS("a")), RT_EINVAL);
	CHECK_INT(rt_tracker_remove(&o, t.pool, "", REFS(NR("a"))), RT_EINVAL);
	CHECK_INT(rt_tracker_remove(&o, t.pool, "inv", &bad_type, 1),
	          RT_EINVAL);
	CHECK_INT(count_objects(&t), 0);

	/* On an existing one: left as it was. */
	T_ADD(&t, &m, "inv", "a", "b");
	itest_untouched(ITEST_AT, &t, "inv", RT_EINVAL, NULL, ITEST_ADD, NULL,
	                0, NULL, 0);
	CHECK_UNTOUCHED_ADD(&t, "inv", RT_EINVAL, NULL, long_key, "c");
	CHECK_UNTOUCHED_REM(&t, "inv", RT_EINVAL, NULL, NR("a"), NR(long_key));
	CHECK_INT(rt_tracker_remove(&o, t.pool, "inv", &bad_type, 1),
	          RT_EINVAL);
	CHECK_STATE(&t, "inv", &m);
	CHECK_INT(count_objects(&t), 1);

	/* The limits themselves are fine. */
	T_ADD(&t, &m, "inv", max_key);
	T_REM(&t, &m, "inv", NR(max_key));
	{
		struct itest_model mm = { 0 };

		T_ADD(&t, &mm, max_name, "a");
		T_REM(&t, &mm, max_name, NR("a"));
		itest_model_clear(&mm);
	}
done:
	free(long_key);
	free(max_key);
	free(long_name);
	free(max_name);
	itest_model_clear(&m);
	itest_close(&t);
}

/* ---- corrupt and foreign objects ------------------------------------- */

/* Every kind of request touching `key` on the crafted object `oid` fails
 * with `want` and leaves it as it was; so does rt_tracker_read() (unless
 * read_want is 0, meaning "not checked"). */
static void corrupt_all_ops(const char *file, int line, struct itest *t,
                            const char *oid, int want, int read_want,
                            const char *msg, const char *key)
{
	const char *const keys1[] = { key };
	const char *const keys2[] = { "brand-new", key };
	const rt_ref rn[] = { { key, RT_REF_NORMAL } };
	const rt_ref rm[] = { { key, RT_REF_MASK } };
	const rt_ref rmix[] = { { "brand-new", RT_REF_MASK },
	                        { key, RT_REF_NORMAL } };
	rt_tracker_info *info = NULL;
	int r;

	itest_untouched(file, line, t, oid, want, msg, ITEST_ADD, keys1, 1,
	                NULL, 0);
	itest_untouched(file, line, t, oid, want, msg, ITEST_ADD, keys2, 2,
	                NULL, 0);
	itest_untouched(file, line, t, oid, want, msg, ITEST_REMOVE, NULL, 0,
	                rn, 1);
	itest_untouched(file, line, t, oid, want, msg, ITEST_REMOVE, NULL, 0,
	                rm, 1);
	itest_untouched(file, line, t, oid, want, msg, ITEST_REMOVE, NULL, 0,
	                rmix, 2);
	if (read_want) {
		r = rt_tracker_read(&info, t->pool, oid);
		ITEST_EQ(file, line, "rt_tracker_read()", r, read_want);
		if (r == read_want && msg)
			itest_check_has(file, line, "rt_pool_errmsg()",
			                rt_pool_errmsg(t->pool), msg);
		rt_tracker_info_free(info);
	}
}

/* c: a tracker with the version xattr and data header given (xattr NULL:
 * none) and one normal key "k1". */
static void craft_k1(struct itest_craft *c, const char *xattr,
                     size_t xattr_len, const char *data, size_t data_len)
{
	static const char *const keys[] = { "k1" }, *const vals[] = { "\x01" };
	static const size_t lens[] = { 1 };

	memset(c, 0, sizeof(*c));
	c->xattr = xattr;
	c->xattr_len = xattr_len;
	c->data = data;
	c->data_len = data_len;
	c->n = 1;
	c->keys = keys;
	c->vals = vals;
	c->lens = lens;
}

static void test_tracker__corrupt_bad_version(void)
{
	struct itest t;
	struct itest_craft c;

	if (itest_open(&t))
		goto done;
	craft_k1(&c, "\x00\x00\x00\x02", 4, "\x00\x00\x00\x01", 4);
	if (CRAFT(t.io, "v2", &c) == 0)
		corrupt_all_ops(ITEST_AT, &t, "v2", RT_EVERSION, RT_EVERSION,
		                "unknown tracker version 2", "k1");
	c.xattr = "\x00\x00\x00\x00";
	if (CRAFT(t.io, "v0", &c) == 0)
		corrupt_all_ops(ITEST_AT, &t, "v0", RT_EVERSION, RT_EVERSION,
		                "unknown tracker version 0", "k1");
	/* Big-endian: 01000000 is version 16777216, not 1. */
	c.xattr = "\x01\x00\x00\x00";
	if (CRAFT(t.io, "vle", &c) == 0)
		corrupt_all_ops(ITEST_AT, &t, "vle", RT_EVERSION, RT_EVERSION,
		                "unknown tracker version 16777216", "k1");
done:
	itest_close(&t);
}

static void test_tracker__corrupt_missing_version(void)
{
	struct itest t;
	struct itest_craft c;

	if (itest_open(&t))
		goto done;
	craft_k1(&c, NULL, 0, "\x00\x00\x00\x01", 4);
	if (CRAFT(t.io, "noxattr", &c) == 0)
		corrupt_all_ops(ITEST_AT, &t, "noxattr", RT_EFOREIGN,
		                RT_EFOREIGN, "noxattr", "k1");
	/* An empty object of the same name as a tracker. */
	memset(&c, 0, sizeof(c));
	if (CRAFT(t.io, "empty", &c) == 0)
		corrupt_all_ops(ITEST_AT, &t, "empty", RT_EFOREIGN,
		                RT_EFOREIGN, "empty", "k1");
done:
	itest_close(&t);
}

/* One bad tracker of a table: a version xattr and data as given, one
 * normal key "k1". */
struct bad_header {
	const char *oid;
	const char *xattr;
	size_t xattr_len;
	const char *data;
	size_t data_len;
};

/* Each tracker of the table is refused as corrupt by every operation. */
static void corrupt_headers(const struct bad_header *bad, size_t n)
{
	struct itest t;
	struct itest_craft c;
	size_t i;

	if (itest_open(&t))
		goto done;
	for (i = 0; i < n; i++) {
		craft_k1(&c, bad[i].xattr, bad[i].xattr_len, bad[i].data,
		         bad[i].data_len);
		if (CRAFT(t.io, bad[i].oid, &c) == 0)
			corrupt_all_ops(ITEST_AT, &t, bad[i].oid, RT_ECORRUPT,
			                RT_ECORRUPT, bad[i].oid, "k1");
	}
done:
	itest_close(&t);
}

#define ONE "\x00\x00\x00\x01", 4

static void test_tracker__corrupt_version_length(void)
{
	static const struct bad_header bad[] = {
		{ "xlen0", "", 0, ONE },
		{ "xlen3", "\x00\x00\x01", 3, ONE },
		{ "xlen5", "\x00\x00\x00\x01\x00", 5, ONE },
		{ "xlen8", "\x00\x00\x00\x00\x00\x00\x00\x01", 8, ONE },
	};

	corrupt_headers(bad, sizeof(bad) / sizeof(bad[0]));
}

static void test_tracker__corrupt_data_size(void)
{
	static const struct bad_header bad[] = {
		{ "data0", ONE, "", 0 },
		{ "data3", ONE, "\x00\x00\x01", 3 },
		{ "data5", ONE, "\x00\x00\x00\x01\x00", 5 },
		{ "data12", ONE,
		  "\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x01", 12 },
	};

	corrupt_headers(bad, sizeof(bad) / sizeof(bad[0]));
}

#undef ONE

static void test_tracker__corrupt_type_byte(void)
{
	static const struct {
		const char *oid, *val;
		size_t len;
	} bad[] = {
		{ "type07", "\x07", 1 },
		{ "type00", "\x00", 1 },
		{ "type03", "\x03", 1 },
		{ "type0101", "\x01\x01", 2 },
	};
	struct itest t;
	struct itest_craft c;
	size_t i;

	if (itest_open(&t))
		goto done;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memset(&c, 0, sizeof(c));
		c.xattr = "\x00\x00\x00\x01";
		c.xattr_len = 4;
		c.data = "\x00\x00\x00\x02";
		c.data_len = 4;
		c.n = 3;
		c.keys = (const char *const[]){ "k1", "k2-bad", "k3" };
		c.vals = (const char *const[]){ "\x01", bad[i].val, "\x01" };
		c.lens = (const size_t[]){ 1, bad[i].len, 1 };
		/* The message names the key. */
		if (CRAFT(t.io, bad[i].oid, &c) == 0)
			corrupt_all_ops(ITEST_AT, &t, bad[i].oid, RT_ECORRUPT,
			                RT_ECORRUPT, "k2-bad", "k2-bad");
	}
done:
	itest_close(&t);
}

static void test_tracker__draft_layout_is_foreign(void)
{
	struct itest t;
	struct itest_craft c;

	if (itest_open(&t))
		goto done;
	/* The draft tool: version 1, 8 data bytes (generation 1, count 3),
	 * empty omap values. */
	memset(&c, 0, sizeof(c));
	c.xattr = "\x00\x00\x00\x01";
	c.xattr_len = 4;
	c.data = "\x00\x00\x00\x01\x00\x00\x00\x03";
	c.data_len = 8;
	c.n = 3;
	c.keys = (const char *const[]){ "key1", "key2", "key3" };
	c.vals = (const char *const[]){ "", "", "" };
	c.lens = (const size_t[]){ 0, 0, 0 };
	if (CRAFT(t.io, "draft", &c) == 0)
		corrupt_all_ops(ITEST_AT, &t, "draft", RT_EFOREIGN, RT_EFOREIGN,
		                "draft", "key2");
	/* 8 data bytes alone already say "draft layout". */
	c.vals = (const char *const[]){ "\x01", "\x01", "\x01" };
	c.lens = (const size_t[]){ 1, 1, 1 };
	if (CRAFT(t.io, "draft8", &c) == 0)
		corrupt_all_ops(ITEST_AT, &t, "draft8", RT_EFOREIGN,
		                RT_EFOREIGN, "draft8", "key2");
	/* So does an empty omap value on a key that is asked about. */
	c.data = "\x00\x00\x00\x03";
	c.data_len = 4;
	c.vals = (const char *const[]){ "\x01", "", "\x01" };
	c.lens = (const size_t[]){ 1, 0, 1 };
	if (CRAFT(t.io, "draftval", &c) == 0)
		corrupt_all_ops(ITEST_AT, &t, "draftval", RT_EFOREIGN,
		                RT_EFOREIGN, "draftval", "key2");
done:
	itest_close(&t);
}

static void test_tracker__corrupt_count_underflow(void)
{
	struct itest t;
	struct itest_model m = { 0 };

	if (itest_open(&t))
		goto done;
	/* Count 1 but two normal keys: removing both would go below 0. */
	if (CRAFT_V1(t.io, "under", 1, "\x01\x01", "a", "b") != 0)
		goto done;
	CHECK_UNTOUCHED_REM(&t, "under", RT_ECORRUPT, "under", NR("a"), NR("b"));
	CHECK_UNTOUCHED_REM(&t, "under", RT_ECORRUPT, "under", MR("a"), MR("b"));
	CHECK_UNTOUCHED_REM(&t, "under", RT_ECORRUPT, "under", NR("a"), MR("b"));
	CHECK_UNTOUCHED_REM(&t, "under", RT_ECORRUPT, "under", NR("b"), NR("a"),
	                    NR("zz"));
	/* Every change reads and checks the whole tracker first, so even a
	 * request that would write nothing reports the mismatch. */
	CHECK_UNTOUCHED_ADD(&t, "under", RT_ECORRUPT, "refcount 1 but 2 "
	                    "normal keys", "a", "b");
	CHECK_UNTOUCHED_ADD(&t, "under", RT_ECORRUPT, "under", "c");
	/* Count 0 with a normal key: the first removal underflows. */
	if (CRAFT_V1(t.io, "zero", 0, "\x01\x02", "a", "m") != 0)
		goto done;
	CHECK_UNTOUCHED_REM(&t, "zero", RT_ECORRUPT, "zero", NR("a"));
	CHECK_UNTOUCHED_REM(&t, "zero", RT_ECORRUPT, "zero", MR("a"));
done:
	itest_model_clear(&m);
	itest_close(&t);
}

/* Issue 9, defect 1: a count below the keys must never lead to a delete
 * (it once took `count 1, k1 k2 k3` away on `rm k1`), nor to any other
 * write; an over-count is refused alike. */
static void test_tracker__undercount_never_deleted(void)
{
	struct itest t;

	if (itest_open(&t))
		goto done;
	if (CRAFT_V1(t.io, "u", 1, "\x01\x01\x01", "k1", "k2", "k3") != 0)
		goto done;
	CHECK_UNTOUCHED_REM(&t, "u", RT_ECORRUPT, "refcount 1 but 3 normal "
	                    "keys", NR("k1"));
	CHECK_UNTOUCHED_REM(&t, "u", RT_ECORRUPT, "refcount 1 but 3 normal "
	                    "keys", MR("k2"));
	CHECK_UNTOUCHED_ADD(&t, "u", RT_ECORRUPT, "'u'", "knew");
	if (CRAFT_V1(t.io, "o", 5, "\x01\x02", "k1", "m") != 0)
		goto done;
	CHECK_UNTOUCHED_REM(&t, "o", RT_ECORRUPT, "refcount 5 but 1 normal "
	                    "keys", NR("k1"));
	CHECK_UNTOUCHED_ADD(&t, "o", RT_ECORRUPT, "refcount 5", "k2");
done:
	itest_close(&t);
}

/* Issue 9, defect 2: a bad value on a key the request does not name, or
 * the draft tool's empty values there, still leave the object alone. */
static void test_tracker__bad_unnamed_key(void)
{
	struct itest t;
	struct itest_craft c;
	unsigned char ver[4], data[4];

	if (itest_open(&t))
		goto done;
	if (CRAFT_V1(t.io, "bt", 1, "\x01\x03", "a", "k1") != 0)
		goto done;
	CHECK_UNTOUCHED_ADD(&t, "bt", RT_ECORRUPT, "key 'k1': omap value 0x03",
	                    "b");
	CHECK_UNTOUCHED_REM(&t, "bt", RT_ECORRUPT, "0x03", NR("a"));
	CHECK_UNTOUCHED_REM(&t, "bt", RT_ECORRUPT, "0x03", MR("zz"));
	itest_be32(ver, 1);
	itest_be32(data, 1);
	memset(&c, 0, sizeof(c));
	c.xattr = ver;
	c.xattr_len = 4;
	c.data = data;
	c.data_len = 4;
	c.n = 2;
	c.keys = (const char *const[]){ "a", "k1" };
	c.vals = (const char *const[]){ "\x01", "" };
	c.lens = (const size_t[]){ 1, 0 };
	if (CRAFT(t.io, "dv", &c) != 0)
		goto done;
	CHECK_UNTOUCHED_ADD(&t, "dv", RT_EFOREIGN, "key 'k1': empty omap value",
	                    "b");
	CHECK_UNTOUCHED_REM(&t, "dv", RT_EFOREIGN, "'dv'", NR("a"));
done:
	itest_close(&t);
}

/* A v1 tracker of n keys "k00000".. (normal; with `masks`, all but the
 * first are masks), the given count, and the value `bad` at index bad_at
 * (if bad_at < n). */
static int plant_big(struct itest *t, const char *oid, size_t n,
                     uint32_t count, int masks, size_t bad_at,
                     const char *bad, size_t bad_len)
{
	char (*names)[24] = calloc(n, sizeof(*names));
	const char **keys = calloc(n, sizeof(*keys));
	const char **vals = calloc(n, sizeof(*vals));
	size_t *lens = calloc(n, sizeof(*lens)), i, at;
	unsigned char ver[4], data[4];
	struct itest_craft c;
	int r = -ENOMEM;

	if (!names || !keys || !vals || !lens)
		goto done;
	for (i = 0; i < n; i++) {
		snprintf(names[i], sizeof(names[i]), "k%05zu", i);
		keys[i] = names[i];
		vals[i] = masks && i > 0 ? "\x02" : "\x01";
		lens[i] = 1;
		if (i == bad_at) {
			vals[i] = bad;
			lens[i] = bad_len;
		}
	}
	itest_be32(ver, 1);
	itest_be32(data, count);
	memset(&c, 0, sizeof(c));
	c.xattr = ver;
	c.xattr_len = 4;
	c.data = data;
	c.data_len = 4;
	c.n = n < 1000 ? n : 1000;
	c.keys = keys;
	c.vals = vals;
	c.lens = lens;
	r = CRAFT(t->io, oid, &c);
	/* The rest in chunks: one op of 20,000 keys is a big message. */
	for (at = c.n; r == 0 && at < n; at += 1000) {
		rados_write_op_t op = rados_create_write_op();
		size_t k = n - at < 1000 ? n - at : 1000;

		rados_write_op_omap_set(op, keys + at, vals + at, lens + at, k);
		r = rados_write_op_operate(op, t->io, oid, NULL, 0);
		rados_release_write_op(op);
	}
done:
	if (r < 0)
		CHECK_INT(r, 0);
	free(names);
	free(keys);
	free(vals);
	free(lens);
	return r;
}

/* Trackers bigger than the first read's listing (RT__TIO_SMALL): the rest
 * is paged through, guarded, before anything is planned. */
static void test_tracker__big_trackers(void)
{
	struct itest t;
	rt_outcome o;
	rt_tracker_info *info = NULL;
	const size_t n = 2600;

	if (itest_open(&t))
		goto done;
	if (plant_big(&t, "big", n, (uint32_t)n, 0, n, NULL, 0) != 0)
		goto done;
	CHECK_INT(rt_tracker_add(&o, t.pool, "big", KEYS("new")), 0);
	CHECK_INT(o.refcount, n + 1);
	CHECK_INT(rt_tracker_remove(&o, t.pool, "big", REFS(NR("new"),
	                                                     NR("k00007"))), 0);
	CHECK_INT(o.refcount, n - 1);
	CHECK_INT(o.deleted, 0);
	/* A bad value, or an under-count, far behind the first page. */
	if (plant_big(&t, "bigbad", n, (uint32_t)n, 0, n - 3, "\x07", 1) != 0)
		goto done;
	CHECK_UNTOUCHED_ADD(&t, "bigbad", RT_ECORRUPT, "0x07", "new");
	CHECK_UNTOUCHED_REM(&t, "bigbad", RT_ECORRUPT, "0x07", NR("k00001"));
	if (plant_big(&t, "bigdraft", n, (uint32_t)n, 0, n - 1, "", 0) != 0)
		goto done;
	CHECK_UNTOUCHED_ADD(&t, "bigdraft", RT_EFOREIGN, "empty omap value",
	                    "new");
	if (plant_big(&t, "bigunder", n, 1, 0, n, NULL, 0) != 0)
		goto done;
	CHECK_UNTOUCHED_REM(&t, "bigunder", RT_ECORRUPT, "refcount 1 but 2600 "
	                    "normal keys", NR("k00000"));
	/* One normal key among masks: the delete comes after the whole read
	 * shows that it is the last. */
	if (plant_big(&t, "bigmask", n, 1, 1, n, NULL, 0) != 0)
		goto done;
	CHECK_INT(rt_tracker_read(&info, t.pool, "bigmask"), 0);
	if (info)
		CHECK_INT(info->nrefs, n);
	rt_tracker_info_free(info);
	CHECK_INT(rt_tracker_remove(&o, t.pool, "bigmask", REFS(NR("k00000"))),
	          0);
	CHECK_INT(o.deleted, 1);
	CHECK_INT(rados_stat(t.io, "bigmask", NULL, NULL), -ENOENT);
done:
	itest_close(&t);
}

/* Issue 9, defect 6: the empty key, as ceph-csi writes it (count
 * includes it, omap key "" = 01).  RADOS listings never return "", so it
 * is looked up by name: read, counted, and removable. */
static void test_tracker__empty_key(void)
{
	struct itest t;
	rt_tracker_info *info = NULL;
	rt_outcome o;
	char val[4];
	size_t vlen = 0;
	int vrc = 0;

	if (itest_open(&t))
		goto done;
	if (CRAFT_V1(t.io, "e", 2, "\x01\x01", "", "a") != 0)
		goto done;
	CHECK_INT(rt_tracker_read(&info, t.pool, "e"), 0);
	if (info) {
		CHECK_INT(info->refcount, 2);
		CHECK_INT(info->nrefs, 2);
		if (info->nrefs == 2) {
			CHECK_STR(info->refs[0].key, "");
			CHECK_INT(info->refs[0].type, RT_REF_NORMAL);
		}
	}
	rt_tracker_info_free(info);
	info = NULL;
	/* Removing "a" leaves "" holding the tracker. */
	CHECK_INT(rt_tracker_remove(&o, t.pool, "e", REFS(NR("a"))), 0);
	CHECK_INT(o.deleted, 0);
	CHECK_INT(o.refcount, 1);
	CHECK_INT(rados_stat(t.io, "e", NULL, NULL), 0);
	/* An under-count that "" would explain is still an under-count. */
	if (CRAFT_V1(t.io, "e1", 1, "\x01\x01", "", "a") != 0)
		goto done;
	CHECK_UNTOUCHED_REM(&t, "e1", RT_ECORRUPT, "refcount 1 but 2 normal "
	                    "keys", NR("a"));
	/* Releasing "" itself takes the tracker to zero. */
	CHECK_INT(rt_tracker_remove(&o, t.pool, "e", REFS(NR(""))), 0);
	CHECK_INT(o.deleted, 1);
	CHECK_INT(rados_stat(t.io, "e", NULL, NULL), -ENOENT);
	/* And adding "" writes it as ceph-csi does. */
	CHECK_INT(rt_tracker_add(&o, t.pool, "e", KEYS("", "b")), 0);
	CHECK_INT(o.refcount, 2);
	{
		rados_read_op_t op = rados_create_read_op();
		rados_omap_iter_t it = NULL;
		const char *k[1] = { "" };
		size_t kl[1] = { 0 };
		char *key, *v;
		size_t klen;

		rados_read_op_omap_get_vals_by_keys2(op, k, 1, kl, &it, &vrc);
		CHECK_INT(rados_read_op_operate(op, t.io, "e", 0), 0);
		if (it && rados_omap_get_next2(it, &key, &v, &klen, &vlen) == 0 &&
		    key && vlen <= sizeof(val))
			memcpy(val, v, vlen);
		if (it)
			rados_omap_get_end(it);
		rados_release_read_op(op);
		CHECK_INT(vrc, 0);
		CHECK_INT(vlen, 1);
		CHECK_INT(val[0], 1);
	}
	CHECK_INT(rt_tracker_remove(&o, t.pool, "e", REFS(NR(""), NR("b"))), 0);
	CHECK_INT(o.deleted, 1);
done:
	itest_close(&t);
}

static void test_tracker__refcount_overflow(void)
{
	struct itest t;
	struct itest_model m = { 0 };

	if (itest_open(&t))
		goto done;
	/* A count of UINT32_MAX is reached only with as many normal keys,
	 * so a tracker that claims it with one key is corrupt, and no change
	 * touches it (the overflow rule itself: tests/unit/test_plan.c). */
	(void)m;
	if (CRAFT_V1(t.io, "full", UINT32_MAX, "\x01", "a") != 0)
		goto done;
	CHECK_UNTOUCHED_ADD(&t, "full", RT_ECORRUPT, "refcount 4294967295 "
	                    "but 1 normal keys", "b");
	CHECK_UNTOUCHED_ADD(&t, "full", RT_ECORRUPT, "full", "a", "b");
	CHECK_UNTOUCHED_ADD(&t, "full", RT_ECORRUPT, "full", "a");
	CHECK_UNTOUCHED_REM(&t, "full", RT_ECORRUPT, "full", MR("x"));
	CHECK_UNTOUCHED_REM(&t, "full", RT_ECORRUPT, "full", NR("a"));
done:
	itest_model_clear(&m);
	itest_close(&t);
}

/* ---- what others wrote ----------------------------------------------- */

/* A tracker written byte by byte as ceph-csi writes it is read and updated
 * like one of ours. */
static void test_tracker__crafted_v1_interop(void)
{
	struct itest t;
	struct itest_model m = { 0 };

	if (itest_open(&t))
		goto done;
	if (CRAFT_V1(t.io, "csi", 2, "\x01\x02\x01", "a", "b", "c") != 0)
		goto done;
	model_from(&m, 2, "\x01\x02\x01", KEYS("a", "b", "c"));
	CHECK_STATE(&t, "csi", &m);
	T_REM(&t, &m, "csi", NR("a"));
	T_ADD(&t, &m, "csi", "b");                     /* masked stays masked */
	T_ADD(&t, &m, "csi", "d");
	T_REM(&t, &m, "csi", NR("c"), MR("d"));        /* deleted, mask b too */
	CHECK_INT(m.exists, 0);
done:
	itest_model_clear(&m);
	itest_close(&t);
}

/* Other xattrs on a tracker (ceph-csi ignores them; so do we) survive. */
static void test_tracker__other_xattrs_kept(void)
{
	struct itest t;
	struct itest_model m = { 0 };
	struct itest_raw raw;
	const struct itest_kv *x;

	if (itest_open(&t))
		goto done;
	T_ADD(&t, &m, "xa", "a", "b");
	CHECK_INT(rados_setxattr(t.io, "xa", "user.other", "hello", 5), 0);
	T_ADD(&t, &m, "xa", "c");
	T_REM(&t, &m, "xa", NR("a"), MR("b"));
	if (RAW_GET(&raw, t.io, "xa") == 0) {
		x = itest_raw_xattr(&raw, "user.other");
		CHECK(x && x->len == 5 && memcmp(x->val, "hello", 5) == 0);
		CHECK_INT(raw.nxattrs, 2);
		itest_raw_free(&raw);
	}
done:
	itest_model_clear(&m);
	itest_close(&t);
}

/* ---- namespaces and pools -------------------------------------------- */

static void test_tracker__namespaces(void)
{
	struct itest a, b, dflt, p2, p2dflt;
	struct itest_model ma = { 0 }, mb = { 0 }, md = { 0 }, m2 = { 0 },
	                   m2d = { 0 };
	char name[64];
	int ok;

	/* The same tracker name everywhere; in the default namespaces it is
	 * made unique to the run instead. */
	memset(&a, 0, sizeof(a));
	b = dflt = p2 = p2dflt = a;
	snprintf(name, sizeof(name), "itest-%ld-shared-name", (long)getpid());
	ok = !itest_open_ns(&a, ITEST_AT, itest_pool_name(), NULL, "a") &&
	     !itest_open_ns(&b, ITEST_AT, itest_pool_name(), NULL, "b") &&
	     !itest_open_ns(&dflt, ITEST_AT, itest_pool_name(), "", NULL) &&
	     !itest_open_ns(&p2, ITEST_AT, itest_pool2_name(), NULL, "a") &&
	     !itest_open_ns(&p2dflt, ITEST_AT, itest_pool2_name(), "", NULL);
	if (!ok)
		goto done;
	CHECK_STR(p2.ns, a.ns);
	T_ADD(&a, &ma, name, "x", "y");
	T_ADD(&b, &mb, name, "y");
	T_ADD(&dflt, &md, name, "x", "z", "w");
	T_ADD(&p2, &m2, name, "q");
	T_ADD(&p2dflt, &m2d, name, "x");
	/* Each saw "created": none is the other. */
	T_REM(&b, &mb, name, MR("x"));
	T_REM(&a, &ma, name, NR("x"), NR("y"));        /* deleted in a only */
	T_REM(&p2dflt, &m2d, name, MR("q"));
	CHECK_STATE(&a, name, &ma);
	CHECK_STATE(&b, name, &mb);
	CHECK_STATE(&dflt, name, &md);
	CHECK_STATE(&p2, name, &m2);
	CHECK_STATE(&p2dflt, name, &m2d);
	T_REM(&b, &mb, name, NR("y"));
	T_REM(&dflt, &md, name, NR("x"), NR("z"), NR("w"));
	T_REM(&p2, &m2, name, NR("q"));
	T_REM(&p2dflt, &m2d, name, NR("x"));
	CHECK_INT(ma.exists + mb.exists + md.exists + m2.exists + m2d.exists, 0);
done:
	itest_model_clear(&ma);
	itest_model_clear(&mb);
	itest_model_clear(&md);
	itest_model_clear(&m2);
	itest_model_clear(&m2d);
	itest_close(&a);
	itest_close(&b);
	itest_close(&dflt);
	itest_close(&p2);
	itest_close(&p2dflt);
}

/* The header promises namespaces up to RT_NAMESPACE_MAX bytes: one that
 * long must work on a default-configured cluster, one byte more must be
 * refused up front (not by the OSD on the first write). */
static void test_tracker__namespace_max_len(void)
{
	struct itest t;
	char *ns = filled(RT_NAMESPACE_MAX + 1, 'n');
	rt_pool *p = NULL;
	rt_outcome o;
	int r;

	if (itest_open(&t))
		goto done;
	CHECK_INT(rt_pool_open(&p, t.cluster, t.pool_name, ns), RT_EINVAL);
	rt_pool_close(p);
	p = NULL;
	ns[RT_NAMESPACE_MAX] = '\0';
	r = rt_pool_open(&p, t.cluster, t.pool_name, ns);
	CHECK_INT(r, 0);
	if (r != 0)
		goto done;
	r = rt_tracker_add(&o, p, "t", KEYS("a"));
	if (r != 0)
		fprintf(stderr, "  add in a %d-byte namespace: %s (%s)\n",
		        RT_NAMESPACE_MAX, rt_strerror(r), rt_pool_errmsg(p));
	CHECK_INT(r, 0);
	if (r == 0) {
		CHECK_INT(rt_tracker_remove(&o, p, "t", REFS(NR("a"))), 0);
		CHECK_INT(o.deleted, 1);
	}
done:
	rt_pool_close(p);
	free(ns);
	itest_close(&t);
}

/* ---- reading --------------------------------------------------------- */

static void test_tracker__read(void)
{
	struct itest t;
	struct itest_model m = { 0 };
	rt_tracker_info *info = NULL;
	struct itest_raw raw;

	if (itest_open(&t))
		goto done;
	CHECK_INT(rt_tracker_read(&info, t.pool, "rd"), RT_ENOTFOUND);
	rt_tracker_info_free(info);
	info = NULL;
	rt_tracker_info_free(NULL);
	T_ADD(&t, &m, "rd", "zeta", "alpha", "mid", "Beta", "alpha2");
	T_REM(&t, &m, "rd", MR("mid"), MR("omega"));
	/* Spelled out once: sorted bytewise, with types. */
	CHECK_INT(rt_tracker_read(&info, t.pool, "rd"), 0);
	if (info && RAW_GET(&raw, t.io, "rd") == 0) {
		static const struct {
			const char *key;
			rt_ref_type type;
		} want[] = {
			{ "Beta", RT_REF_NORMAL }, { "alpha", RT_REF_NORMAL },
			{ "alpha2", RT_REF_NORMAL }, { "mid", RT_REF_MASK },
			{ "omega", RT_REF_MASK }, { "zeta", RT_REF_NORMAL },
		};
		size_t i;

		CHECK_INT(info->format_version, 1);
		CHECK_INT(info->refcount, 4);
		CHECK(info->object_version == raw.version);
		CHECK_INT(info->nrefs, 6);
		for (i = 0; i < info->nrefs && i < 6; i++) {
			CHECK_STR(info->refs[i].key, want[i].key);
			CHECK_INT(info->refs[i].type, want[i].type);
		}
		itest_raw_free(&raw);
	}
	rt_tracker_info_free(info);
	CHECK_STATE(&t, "rd", &m);
done:
	itest_model_clear(&m);
	itest_close(&t);
}

/* ---- errors and who they name ---------------------------------------- */

static void test_tracker__error_messages(void)
{
	struct itest t;
	const char *msg;
	rt_outcome o;

	if (itest_open(&t))
		goto done;
	if (CRAFT_V1(t.io, "named", 1, "\x01\x07", "good", "the-bad-key") != 0)
		goto done;
	CHECK_INT(rt_tracker_remove(&o, t.pool, "named",
	                            REFS(NR("good"), NR("the-bad-key"))),
	          RT_ECORRUPT);
	msg = rt_pool_errmsg(t.pool);
	CHECK_HAS(msg, t.pool_name);
	CHECK_HAS(msg, t.ns);
	CHECK_HAS(msg, "named");
	CHECK_HAS(msg, "the-bad-key");

	CHECK_INT(rt_tracker_add(&o, t.pool, "named", KEYS("the-bad-key")),
	          RT_ECORRUPT);
	msg = rt_pool_errmsg(t.pool);
	CHECK_HAS(msg, t.pool_name);
	CHECK_HAS(msg, t.ns);
	CHECK_HAS(msg, "the-bad-key");

	{
		struct itest_craft c;

		memset(&c, 0, sizeof(c));
		c.xattr = "\x00\x00\x00\x02";
		c.xattr_len = 4;
		c.data = "\x00\x00\x00\x00";
		c.data_len = 4;
		if (CRAFT(t.io, "vtwo", &c) != 0)
			goto done;
	}
	CHECK_INT(rt_tracker_add(&o, t.pool, "vtwo", KEYS("k")), RT_EVERSION);
	msg = rt_pool_errmsg(t.pool);
	CHECK_HAS(msg, "unknown tracker version 2");
	CHECK_HAS(msg, t.pool_name);
	CHECK_HAS(msg, t.ns);
	CHECK_HAS(msg, "vtwo");

	CHECK_INT(rt_tracker_add(&o, t.pool, "named", KEYS("ok", NULL)),
	          RT_EINVAL);
	CHECK_HAS(rt_pool_errmsg(t.pool), "named");

	CHECK(strcmp(rt_strerror(RT_ECORRUPT), rt_strerror(RT_EFOREIGN)) != 0);
	CHECK(rt_strerror(RT_OK) != NULL);
done:
	itest_close(&t);
}

static void test_tracker__missing_pool(void)
{
	rt_cluster *cl = NULL;
	rt_pool *p = NULL;
	char pool[64];
	int r;

	snprintf(pool, sizeof(pool), "itest-no-such-pool-%ld", (long)getpid());
	r = itest_connect(&cl);
	CHECK_INT(r, 0);
	if (r != 0)
		goto done;
	CHECK_INT(rt_pool_open(&p, cl, pool, NULL), RT_ENOTFOUND);
	CHECK_HAS(rt_pool_errmsg(p), pool);
	rt_pool_close(p);
	p = NULL;
	CHECK_INT(rt_pool_open(&p, cl, pool, "some-ns"), RT_ENOTFOUND);
	CHECK_HAS(rt_pool_errmsg(p), pool);
done:
	rt_pool_close(p);
	rt_cluster_close(cl);
}

static void test_tracker__read_only_client(void)
{
	struct itest t, ro;
	struct itest_model m = { 0 };
	rt_connect_opts opts;
	rt_cluster *cl = NULL;
	rt_pool *p = NULL;
	rt_tracker_info *info = NULL;
	rt_outcome o;
	int r;

	if (itest_open(&t))
		goto done;
	T_ADD(&t, &m, "ro", "a", "b");
	rt_connect_opts_init(&opts, RT_CONNECT_OPTS_VERSION);
	opts.id = itest_env("RT_TEST_RO_ID", "rtro");
	opts.keyring = getenv("RT_TEST_RO_KEYRING");
	opts.use_ceph_args = 1;
	CHECK(opts.keyring != NULL);
	r = rt_cluster_connect(&cl, &opts);
	CHECK_INT(r, 0);
	if (r != 0) {
		fprintf(stderr, "  connect as rtro: %s\n", rt_cluster_errmsg(cl));
		goto done;
	}
	r = rt_pool_open(&p, cl, t.pool_name, t.ns);
	CHECK_INT(r, 0);
	if (r != 0)
		goto done;
	ro = t;
	ro.pool = p;
	CHECK_UNTOUCHED_ADD(&ro, "ro", RT_EPERM, "ro", "c");
	CHECK_UNTOUCHED_ADD(&ro, "ro-new", RT_EPERM, "ro-new", "a");
	CHECK_UNTOUCHED_REM(&ro, "ro", RT_EPERM, "ro", NR("a"));
	CHECK_UNTOUCHED_REM(&ro, "ro", RT_EPERM, "ro", MR("b"));
	CHECK_UNTOUCHED_REM(&ro, "ro", RT_EPERM, "ro", MR("new"));
	/* What needs no write works with read caps. */
	CHECK_INT(rt_tracker_read(&info, p, "ro"), 0);
	if (info)
		CHECK_INT(info->refcount, 2);
	rt_tracker_info_free(info);
	memset(&o, 0, sizeof(o));
	CHECK_INT(rt_tracker_remove(&o, p, "ro-new", REFS(NR("a"))), 0);
	CHECK_INT(o.deleted, 1);
	memset(&o, 0, sizeof(o));
	CHECK_INT(rt_tracker_add(&o, p, "ro", KEYS("a", "b")), 0);
	CHECK_INT(o.created, 0);
	CHECK_INT(o.added, 0);
	CHECK_INT(o.refcount, 2);
	CHECK_STATE(&t, "ro", &m);
	CHECK_INT(count_objects(&t), 1);
done:
	rt_pool_close(p);
	rt_cluster_close(cl);
	itest_model_clear(&m);
	itest_close(&t);
}

/* ---- outcome fields -------------------------------------------------- */

static void test_tracker__outcome_versions(void)
{
	struct itest t;
	rt_outcome o;
	uint64_t prev = 0, size;
	time_t mtime;
	int i;

	if (itest_open(&t))
		goto done;
	for (i = 0; i < 4; i++) {
		char key[16];
		const char *k = key;

		snprintf(key, sizeof(key), "k%d", i);
		memset(&o, 0, sizeof(o));
		CHECK_INT(rt_tracker_add(&o, t.pool, "ver", &k, 1), 0);
		CHECK_INT(o.created, i == 0);
		CHECK_INT(o.added, 1);
		CHECK_INT(o.refcount, i + 1);
		CHECK(o.object_version > prev);
		/* What the OSD reports for the object right now. */
		CHECK_INT(rados_stat(t.io, "ver", &size, &mtime), 0);
		CHECK_INT(size, 4);
		CHECK(rados_get_last_version(t.io) == o.object_version);
		prev = o.object_version;
	}
	memset(&o, 0, sizeof(o));
	CHECK_INT(rt_tracker_remove(&o, t.pool, "ver", REFS(MR("k0"), NR("k1"))),
	          0);
	CHECK_INT(o.removed, 1);
	CHECK_INT(o.masked, 1);
	CHECK_INT(o.refcount, 2);
	CHECK_INT(o.deleted, 0);
	CHECK(o.object_version > prev);
	CHECK_INT(rados_stat(t.io, "ver", &size, &mtime), 0);
	CHECK(rados_get_last_version(t.io) == o.object_version);
	memset(&o, 0, sizeof(o));
	CHECK_INT(rt_tracker_remove(&o, t.pool, "ver",
	                            REFS(NR("k2"), NR("k3"))), 0);
	CHECK_INT(o.deleted, 1);
	CHECK_INT(o.removed, 2);
	CHECK_INT(o.refcount, 0);
	CHECK_INT(o.object_version, 0);
	CHECK_INT(rados_stat(t.io, "ver", &size, &mtime), -ENOENT);
done:
	itest_close(&t);
}

int main(void)
{
	if (itest_init() != 0)
		return itest_no_cluster("tracker");
	RUN(test_tracker__add_bulk);
	RUN(test_tracker__add_overlapping);
	RUN(test_tracker__add_many_keys);
	RUN(test_tracker__remove_missing);
	RUN(test_tracker__remove_absent_keys);
	RUN(test_tracker__remove_bulk);
	RUN(test_tracker__remove_one_by_one);
	RUN(test_tracker__add_remove_cycles);
	RUN(test_tracker__remove_all_plus_extra);
	RUN(test_tracker__mask_all);
	RUN(test_tracker__mask_one_by_one);
	RUN(test_tracker__mask_then_add);
	RUN(test_tracker__mask_remove_add);
	RUN(test_tracker__duplicate_keys);
	RUN(test_tracker__normal_and_mask_same_key);
	RUN(test_tracker__invalid_input);
	RUN(test_tracker__corrupt_bad_version);
	RUN(test_tracker__corrupt_missing_version);
	RUN(test_tracker__corrupt_version_length);
	RUN(test_tracker__corrupt_data_size);
	RUN(test_tracker__corrupt_type_byte);
	RUN(test_tracker__draft_layout_is_foreign);
	RUN(test_tracker__corrupt_count_underflow);
	RUN(test_tracker__refcount_overflow);
	RUN(test_tracker__undercount_never_deleted);
	RUN(test_tracker__bad_unnamed_key);
	RUN(test_tracker__big_trackers);
	RUN(test_tracker__empty_key);
	RUN(test_tracker__crafted_v1_interop);
	RUN(test_tracker__other_xattrs_kept);
	RUN(test_tracker__namespaces);
	RUN(test_tracker__namespace_max_len);
	RUN(test_tracker__read);
	RUN(test_tracker__error_messages);
	RUN(test_tracker__missing_pool);
	RUN(test_tracker__read_only_client);
	RUN(test_tracker__outcome_versions);
	itest_fini();
	return check_summary("tracker");
}
