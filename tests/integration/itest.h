/*
 * itest.h - shared helpers for the integration tests (real cluster).
 *
 * Header-only; every function is static.  The tests run inside
 * tests/run-integration.sh, which exports CEPH_CONF (client.admin works with
 * no other flags), RT_TEST_POOL, RT_TEST_POOL2 and RT_TEST_RO_KEYRING.
 *
 * Besides the library under test, the helpers talk to the cluster through
 * librados directly, on a connection of their own: to see the raw bytes of
 * a tracker (version xattr, data, omap) and to craft objects with arbitrary
 * bytes.  That second view is what lets a test say "left byte-for-byte
 * untouched" or "the bytes are exactly the v1 format" without trusting the
 * library's own reader.
 *
 * The model (struct itest_model) is a small, independent statement of the
 * tracker semantics of issue 2, written from the issue text and not from
 * src/lib: a sorted set of key -> type plus the normal-reference count.
 *
 * Each case works in its own RADOS namespace, "itest-<pid>-<case>", so that
 * cases and concurrent runs never see each other's trackers.
 */
#ifndef REFTRACK_TESTS_ITEST_H
#define REFTRACK_TESTS_ITEST_H

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <rados/librados.h>

#include <reftrack/reftrack.h>

#include "check.h"

/* Every helper may go unused in one test file or another. */
#define ITEST_FN static __attribute__((unused))

/* ---- failures reported at the caller's line -------------------------- */

/* The helpers below check on behalf of a test and report the test's file
 * and line, not their own, so a failure points at the call that failed. */
#define ITEST_AT __FILE__, __LINE__

ITEST_FN __attribute__((format(printf, 3, 4))) void
itest_fail(const char *file, int line, const char *fmt, ...)
{
	va_list ap;

	check_case_failures++;
	fprintf(stderr, "%s:%d: %s: ", file, line,
	        check_case_name ? check_case_name : "(setup)");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

#define ITEST_EQ(file, line, what, got, want)                                  \
	do {                                                                   \
		long long itest_g_ = (long long)(got);                         \
		long long itest_w_ = (long long)(want);                        \
		if (itest_g_ != itest_w_)                                      \
			itest_fail(file, line, "%s is %lld, want %lld", what,  \
			           itest_g_, itest_w_);                        \
	} while (0)

/* Checks that `s` contains `sub` (a message naming something). */
#define CHECK_HAS(s, sub) itest_check_has(ITEST_AT, #s, (s), (sub))
ITEST_FN void itest_check_has(const char *file, int line, const char *what,
                              const char *s, const char *sub)
{
	if (!s || !strstr(s, sub))
		itest_fail(file, line, "%s is \"%s\", want it to contain \"%s\"",
		           what, s ? s : "(null)", sub);
}

/* Arrays from argument lists: KEYS("a", "b") expands to the array and its
 * length; REFS(NR("a"), MR("b")) likewise for rt_ref. */
#define KEYS(...)                                                              \
	(const char *const[]){ __VA_ARGS__ },                                  \
	sizeof((const char *const[]){ __VA_ARGS__ }) / sizeof(const char *)
#define NR(k) { (k), RT_REF_NORMAL }
#define MR(k) { (k), RT_REF_MASK }
#define REFS(...)                                                              \
	(const rt_ref[]){ __VA_ARGS__ },                                       \
	sizeof((const rt_ref[]){ __VA_ARGS__ }) / sizeof(rt_ref)

/* ---- environment ----------------------------------------------------- */

ITEST_FN const char *itest_env(const char *name, const char *dflt)
{
	const char *v = getenv(name);

	return v && *v ? v : dflt;
}

ITEST_FN const char *itest_pool_name(void)
{
	return itest_env("RT_TEST_POOL", "rt");
}

ITEST_FN const char *itest_pool2_name(void)
{
	return itest_env("RT_TEST_POOL2", "rt2");
}

/* ---- the raw librados connection ------------------------------------- */

static rados_t itest_rados;
static int itest_rados_up;

/* Connects the raw view as client.admin with $CEPH_CONF.  Returns 0, or a
 * negative errno after printing why. */
ITEST_FN int itest_init(void)
{
	const char *conf = getenv("CEPH_CONF");
	int r;

	if (itest_rados_up)
		return 0;
	if (!conf || !*conf) {
		fprintf(stderr, "itest: CEPH_CONF is not set; run me through "
		                "tests/run-integration.sh\n");
		return -EINVAL;
	}
	r = rados_create2(&itest_rados, "ceph", "client.admin", 0);
	if (r < 0) {
		fprintf(stderr, "itest: rados_create2: %s\n", strerror(-r));
		return r;
	}
	r = rados_conf_read_file(itest_rados, conf);
	if (r == 0)
		r = rados_connect(itest_rados);
	if (r < 0) {
		fprintf(stderr, "itest: cannot connect with %s: %s\n", conf,
		        strerror(-r));
		rados_shutdown(itest_rados);
		return r;
	}
	itest_rados_up = 1;
	return 0;
}

ITEST_FN void itest_fini(void)
{
	if (itest_rados_up)
		rados_shutdown(itest_rados);
	itest_rados_up = 0;
}

/* A raw I/O context on pool/ns, or NULL after printing why. */
ITEST_FN rados_ioctx_t itest_raw_ioctx(const char *pool, const char *ns)
{
	rados_ioctx_t io;
	int r;

	if (!itest_rados_up)
		return NULL;
	r = rados_ioctx_create(itest_rados, pool, &io);
	if (r < 0) {
		fprintf(stderr, "itest: open pool %s: %s\n", pool, strerror(-r));
		return NULL;
	}
	rados_ioctx_set_namespace(io, ns && *ns ? ns : NULL);
	return io;
}

/* ---- a case's context: library handles plus the raw view ------------- */

struct itest {
	char ns[128];
	const char *pool_name;
	rt_cluster *cluster;
	rt_pool *pool;
	rados_ioctx_t io;
};

/* Connects the library as client.admin the way a tool would (conf from
 * $CEPH_CONF, $CEPH_ARGS honoured). */
ITEST_FN int itest_connect(rt_cluster **out)
{
	rt_connect_opts opts = RT_CONNECT_OPTS_INIT;

	opts.use_ceph_args = 1;
	return rt_cluster_connect(out, &opts);
}

/* Sets up `t` on `pool` in namespace `ns`; ns NULL makes the case's own
 * namespace "itest-<pid>-<case>[-suffix]" with suffix `sfx` (may be NULL).
 * Returns 0, or nonzero after recording a failure. */
ITEST_FN int itest_open_ns(struct itest *t, const char *file, int line,
                           const char *pool, const char *ns, const char *sfx)
{
	int r;

	memset(t, 0, sizeof(*t));
	t->pool_name = pool;
	if (ns)
		snprintf(t->ns, sizeof(t->ns), "%s", ns);
	else
		snprintf(t->ns, sizeof(t->ns), "itest-%ld-%s%s%s", (long)getpid(),
		         check_case_name ? check_case_name : "x",
		         sfx ? "-" : "", sfx ? sfx : "");
	r = itest_connect(&t->cluster);
	if (r != 0) {
		itest_fail(file, line, "rt_cluster_connect: %s (%s)",
		           rt_strerror(r), rt_cluster_errmsg(t->cluster));
		return 1;
	}
	r = rt_pool_open(&t->pool, t->cluster, pool, t->ns);
	if (r != 0) {
		itest_fail(file, line, "rt_pool_open(%s, %s): %s (%s)", pool,
		           t->ns, rt_strerror(r), rt_pool_errmsg(t->pool));
		return 1;
	}
	t->io = itest_raw_ioctx(pool, t->ns);
	if (!t->io) {
		itest_fail(file, line, "raw ioctx on %s/%s", pool, t->ns);
		return 1;
	}
	return 0;
}

#define itest_open(t) itest_open_ns((t), ITEST_AT, itest_pool_name(), NULL, NULL)

ITEST_FN void itest_close(struct itest *t)
{
	if (t->io)
		rados_ioctx_destroy(t->io);
	rt_pool_close(t->pool);
	rt_cluster_close(t->cluster);
	memset(t, 0, sizeof(*t));
}

/* ---- raw snapshots --------------------------------------------------- */

struct itest_kv {
	char *key;
	unsigned char *val;
	size_t len;
};

/* Everything a tracker is made of, read in one read op so that it is one
 * consistent state, with the object version that state has. */
struct itest_raw {
	int exists;
	uint64_t version;
	uint64_t size;
	unsigned char data[64];
	size_t data_len; /* bytes read, at most sizeof(data) */
	size_t nxattrs;
	struct itest_kv *xattrs; /* in the order the OSD lists them */
	size_t nomap;
	struct itest_kv *omap; /* sorted by key (the OSD's order) */
};

ITEST_FN void itest_raw_free(struct itest_raw *r)
{
	size_t i;

	for (i = 0; i < r->nxattrs; i++) {
		free(r->xattrs[i].key);
		free(r->xattrs[i].val);
	}
	for (i = 0; i < r->nomap; i++) {
		free(r->omap[i].key);
		free(r->omap[i].val);
	}
	free(r->xattrs);
	free(r->omap);
	memset(r, 0, sizeof(*r));
}

ITEST_FN int itest_kv_push(struct itest_kv **arr, size_t *n, const char *key,
                           size_t klen, const char *val, size_t vlen)
{
	struct itest_kv *a = realloc(*arr, (*n + 1) * sizeof(**arr));

	if (!a)
		return -ENOMEM;
	*arr = a;
	a[*n].key = malloc(klen + 1);
	a[*n].val = malloc(vlen ? vlen : 1);
	if (!a[*n].key || !a[*n].val) {
		free(a[*n].key);
		free(a[*n].val);
		return -ENOMEM;
	}
	memcpy(a[*n].key, key, klen);
	a[*n].key[klen] = '\0';
	if (vlen)
		memcpy(a[*n].val, val, vlen);
	a[*n].len = vlen;
	(*n)++;
	return 0;
}

/* Reads object `oid`.  Returns 0 (out->exists says whether it is there) or
 * a negative errno.  The omap comes in pages; a tracker big enough to need a
 * second page is read with further read ops, each asserting the version of
 * the first so that the pages still describe one state. */
ITEST_FN int itest_raw_get(struct itest_raw *out, rados_ioctx_t io,
                           const char *oid)
{
	rados_read_op_t op;
	rados_xattrs_iter_t xit = NULL;
	rados_omap_iter_t oit = NULL;
	unsigned char more = 0;
	int r, rv_stat = 0, rv_read = 0, rv_x = 0, rv_o = 0;
	char *last = NULL;

	memset(out, 0, sizeof(*out));
	op = rados_create_read_op();
	if (!op)
		return -ENOMEM;
	rados_read_op_stat(op, &out->size, NULL, &rv_stat);
	rados_read_op_read(op, 0, sizeof(out->data), (char *)out->data,
	                   &out->data_len, &rv_read);
	rados_read_op_getxattrs(op, &xit, &rv_x);
	rados_read_op_omap_get_vals2(op, "", "", 1000, &oit, &more, &rv_o);
	r = rados_read_op_operate(op, io, oid, 0);
	rados_release_read_op(op);
	if (r == 0 && (rv_stat < 0 || rv_read < 0 || rv_x < 0 || rv_o < 0))
		r = rv_stat < 0 ? rv_stat : rv_read < 0 ? rv_read
		    : rv_x < 0 ? rv_x : rv_o;
	if (r < 0) {
		/* The iterators were allocated when the op was built and are
		 * ours to free even when it failed. */
		rados_getxattrs_end(xit);
		rados_omap_get_end(oit);
		return r == -ENOENT ? 0 : r;
	}
	out->exists = 1;
	out->version = rados_get_last_version(io);
	for (;;) {
		const char *name, *val;
		size_t len;

		if (rados_getxattrs_next(xit, &name, &val, &len) < 0 || !name)
			break;
		if (itest_kv_push(&out->xattrs, &out->nxattrs, name,
		                  strlen(name), val, len) < 0) {
			r = -ENOMEM;
			break;
		}
	}
	rados_getxattrs_end(xit);
	for (;;) {
		for (;;) {
			char *key, *val;
			size_t klen, vlen;

			if (rados_omap_get_next2(oit, &key, &val, &klen,
			                         &vlen) < 0 || !key)
				break;
			if (r == 0 && itest_kv_push(&out->omap, &out->nomap,
			                            key, klen, val, vlen) < 0)
				r = -ENOMEM;
		}
		rados_omap_get_end(oit);
		if (r < 0 || !more)
			break;
		last = out->omap[out->nomap - 1].key;
		op = rados_create_read_op();
		if (!op)
			return -ENOMEM;
		rados_read_op_assert_version(op, out->version);
		rados_read_op_omap_get_vals2(op, last, "", 1000, &oit, &more,
		                             &rv_o);
		r = rados_read_op_operate(op, io, oid, 0);
		rados_release_read_op(op);
		if (r == 0 && rv_o < 0)
			r = rv_o;
		if (r < 0) {
			/* Changed under us: the caller's test is racy. */
			rados_omap_get_end(oit);
			break;
		}
	}
	if (r < 0)
		itest_raw_free(out);
	return r;
}

/* The value of xattr `name`, or NULL. */
ITEST_FN const struct itest_kv *itest_raw_xattr(const struct itest_raw *r,
                                                const char *name)
{
	size_t i;

	for (i = 0; i < r->nxattrs; i++)
		if (strcmp(r->xattrs[i].key, name) == 0)
			return &r->xattrs[i];
	return NULL;
}

ITEST_FN int itest_kv_equal(const struct itest_kv *a, size_t na,
                            const struct itest_kv *b, size_t nb)
{
	size_t i;

	if (na != nb)
		return 0;
	for (i = 0; i < na; i++)
		if (strcmp(a[i].key, b[i].key) != 0 || a[i].len != b[i].len ||
		    (a[i].len && memcmp(a[i].val, b[i].val, a[i].len) != 0))
			return 0;
	return 1;
}

/* Same object state, byte for byte, and the same object version. */
ITEST_FN int itest_raw_equal(const struct itest_raw *a, const struct itest_raw *b)
{
	if (a->exists != b->exists)
		return 0;
	if (!a->exists)
		return 1;
	return a->version == b->version && a->size == b->size &&
	       a->data_len == b->data_len &&
	       memcmp(a->data, b->data, a->data_len) == 0 &&
	       itest_kv_equal(a->xattrs, a->nxattrs, b->xattrs, b->nxattrs) &&
	       itest_kv_equal(a->omap, a->nomap, b->omap, b->nomap);
}

ITEST_FN void itest_raw_dump(const char *what, const struct itest_raw *r)
{
	size_t i, j;

	fprintf(stderr, "  %s: ", what);
	if (!r->exists) {
		fprintf(stderr, "(no object)\n");
		return;
	}
	fprintf(stderr, "version %" PRIu64 ", data", r->version);
	for (i = 0; i < r->data_len; i++)
		fprintf(stderr, " %02x", r->data[i]);
	for (i = 0; i < r->nxattrs; i++) {
		fprintf(stderr, ", xattr %s=", r->xattrs[i].key);
		for (j = 0; j < r->xattrs[i].len; j++)
			fprintf(stderr, "%02x", r->xattrs[i].val[j]);
	}
	fprintf(stderr, ", omap {");
	for (i = 0; i < r->nomap && i < 20; i++) {
		fprintf(stderr, "%s%s:", i ? ", " : "", r->omap[i].key);
		for (j = 0; j < r->omap[i].len; j++)
			fprintf(stderr, "%02x", r->omap[i].val[j]);
	}
	fprintf(stderr, "%s}\n", r->nomap > 20 ? ", ..." : "");
}

/* Reads `oid` raw, recording a failure if the read itself fails. */
#define RAW_GET(out, io, oid) itest_raw_get_checked(ITEST_AT, (out), (io), (oid))
ITEST_FN int itest_raw_get_checked(const char *file, int line,
                                   struct itest_raw *out, rados_ioctx_t io,
                                   const char *oid)
{
	int r = itest_raw_get(out, io, oid);

	if (r < 0)
		itest_fail(file, line, "raw read of %s: %s", oid, strerror(-r));
	return r;
}

/* ---- crafting objects with arbitrary bytes --------------------------- */

ITEST_FN void itest_be32(unsigned char b[4], uint32_t v)
{
	b[0] = (unsigned char)(v >> 24);
	b[1] = (unsigned char)(v >> 16);
	b[2] = (unsigned char)(v >> 8);
	b[3] = (unsigned char)v;
}

ITEST_FN uint32_t itest_get_be32(const unsigned char b[4])
{
	return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 |
	       (uint32_t)b[2] << 8 | b[3];
}

/* An object to write raw.  xattr NULL: no version xattr at all.  Omap
 * values are given as (pointer, length) so that empty and multi-byte values
 * can be made. */
struct itest_craft {
	const void *xattr;
	size_t xattr_len;
	const void *data;
	size_t data_len;
	size_t n;
	const char *const *keys;
	const char *const *vals;
	const size_t *lens;
};

/* Replaces `oid` with exactly the object described.  Returns 0 or a
 * negative errno, after recording a failure. */
#define CRAFT(io, oid, c) itest_craft_obj(ITEST_AT, (io), (oid), (c))
ITEST_FN int itest_craft_obj(const char *file, int line, rados_ioctx_t io,
                             const char *oid, const struct itest_craft *c)
{
	rados_write_op_t op;
	int r;

	r = rados_remove(io, oid);
	if (r < 0 && r != -ENOENT)
		goto done;
	op = rados_create_write_op();
	if (!op) {
		r = -ENOMEM;
		goto done;
	}
	rados_write_op_create(op, LIBRADOS_CREATE_EXCLUSIVE, NULL);
	rados_write_op_write_full(op, c->data ? c->data : "", c->data_len);
	if (c->xattr)
		rados_write_op_setxattr(op, RT_VERSION_XATTR, c->xattr,
		                        c->xattr_len);
	if (c->n)
		rados_write_op_omap_set(op, c->keys, c->vals, c->lens, c->n);
	r = rados_write_op_operate(op, io, oid, NULL, 0);
	rados_release_write_op(op);
done:
	if (r < 0)
		itest_fail(file, line, "crafting %s: %s", oid, strerror(-r));
	return r;
}

/* A v1 tracker with the given count and keys, whose types are given as the
 * byte string `types` (one byte per key, e.g. "\x01\x02"). */
#define CRAFT_V1(io, oid, count, types, ...)                                   \
	itest_craft_v1(ITEST_AT, (io), (oid), (count), (types), KEYS(__VA_ARGS__))
ITEST_FN int itest_craft_v1(const char *file, int line, rados_ioctx_t io,
                            const char *oid, uint32_t count, const char *types,
                            const char *const *keys, size_t n)
{
	unsigned char ver[4], data[4];
	const char *vals[64];
	size_t lens[64], i;
	struct itest_craft c;

	if (n > 64) {
		itest_fail(file, line, "itest_craft_v1: too many keys");
		return -EINVAL;
	}
	itest_be32(ver, 1);
	itest_be32(data, count);
	for (i = 0; i < n; i++) {
		vals[i] = types + i;
		lens[i] = 1;
	}
	memset(&c, 0, sizeof(c));
	c.xattr = ver;
	c.xattr_len = 4;
	c.data = data;
	c.data_len = 4;
	c.n = n;
	c.keys = keys;
	c.vals = vals;
	c.lens = lens;
	return itest_craft_obj(file, line, io, oid, &c);
}

/* ---- the model ------------------------------------------------------- */

struct itest_mref {
	char *key;
	int type; /* RT_REF_NORMAL or RT_REF_MASK */
};

struct itest_model {
	int exists;
	uint32_t count; /* normal references */
	size_t n;
	struct itest_mref *refs; /* sorted by key, bytewise */
};

/* What an operation should return, according to the model. */
struct itest_expect {
	int rc;
	int wrote; /* the object changes (created, updated or removed) */
	int created;
	int deleted;
	uint32_t added, removed, masked, refcount;
};

ITEST_FN void itest_model_clear(struct itest_model *m)
{
	size_t i;

	for (i = 0; i < m->n; i++)
		free(m->refs[i].key);
	free(m->refs);
	memset(m, 0, sizeof(*m));
}

/* Index of `key`, or -(insertion point) - 1. */
ITEST_FN long itest_model_find(const struct itest_model *m, const char *key)
{
	size_t lo = 0, hi = m->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(m->refs[mid].key, key);

		if (c == 0)
			return (long)mid;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -(long)lo - 1;
}

/* Type of `key` in the model, 0 if absent. */
ITEST_FN int itest_model_type(const struct itest_model *m, const char *key)
{
	long i = itest_model_find(m, key);

	return i >= 0 ? m->refs[i].type : 0;
}

ITEST_FN void itest_model_set(struct itest_model *m, const char *key, int type)
{
	long i = itest_model_find(m, key);
	size_t at;

	if (i >= 0) {
		if (type) {
			m->refs[i].type = type;
		} else {
			free(m->refs[i].key);
			memmove(&m->refs[i], &m->refs[i + 1],
			        (m->n - (size_t)i - 1) * sizeof(m->refs[0]));
			m->n--;
		}
		return;
	}
	if (!type)
		return;
	at = (size_t)(-i - 1);
	m->refs = realloc(m->refs, (m->n + 1) * sizeof(m->refs[0]));
	if (!m->refs)
		abort(); /* a test helper: nothing sensible to go on with */
	memmove(&m->refs[at + 1], &m->refs[at],
	        (m->n - at) * sizeof(m->refs[0]));
	m->refs[at].key = strdup(key);
	m->refs[at].type = type;
	m->n++;
}

ITEST_FN int itest_key_valid(const char *key)
{
	return key && *key && strlen(key) <= RT_KEY_MAX;
}

ITEST_FN void itest_model_add(struct itest_model *m, const char *const *keys,
                              size_t n, struct itest_expect *e)
{
	size_t i;

	memset(e, 0, sizeof(*e));
	if (n == 0) {
		e->rc = RT_EINVAL;
		return;
	}
	for (i = 0; i < n; i++)
		if (!itest_key_valid(keys[i])) {
			e->rc = RT_EINVAL;
			return;
		}
	if (!m->exists) {
		m->exists = 1;
		e->created = 1;
	}
	for (i = 0; i < n; i++)
		if (!itest_model_type(m, keys[i])) {
			itest_model_set(m, keys[i], RT_REF_NORMAL);
			m->count++;
			e->added++;
		}
	e->wrote = e->created || e->added;
	e->refcount = m->count;
}

ITEST_FN void itest_model_remove(struct itest_model *m, const rt_ref *refs,
                                 size_t n, struct itest_expect *e)
{
	size_t i, j;

	memset(e, 0, sizeof(*e));
	if (n == 0) {
		e->rc = RT_EINVAL;
		return;
	}
	for (i = 0; i < n; i++) {
		if (!itest_key_valid(refs[i].key)) {
			e->rc = RT_EINVAL;
			return;
		}
		for (j = 0; j < i; j++)
			if (strcmp(refs[i].key, refs[j].key) == 0 &&
			    refs[i].type != refs[j].type) {
				e->rc = RT_EINVAL;
				return;
			}
	}
	if (!m->exists) {
		e->deleted = 1;
		return;
	}
	/* Duplicates of one (key, type) act once: after the first, the
	 * state they would change is already the result. */
	for (i = 0; i < n; i++) {
		int t = itest_model_type(m, refs[i].key);

		if (refs[i].type == RT_REF_NORMAL) {
			if (!t)
				continue;
			itest_model_set(m, refs[i].key, 0);
			if (t == RT_REF_NORMAL)
				m->count--;
			e->removed++;
		} else {
			if (t == RT_REF_MASK)
				continue;
			itest_model_set(m, refs[i].key, RT_REF_MASK);
			if (t == RT_REF_NORMAL)
				m->count--;
			e->masked++;
		}
	}
	e->wrote = e->removed || e->masked;
	if (e->wrote && m->count == 0) {
		/* The last normal ref went: the object goes, masks and all. */
		itest_model_clear(m);
		e->deleted = 1;
	}
	e->refcount = m->count;
}

/* ---- checking a tracker against the model ---------------------------- */

/* The tracker's raw bytes are exactly the v1 encoding of the model, and
 * rt_tracker_read() agrees with them. */
#define CHECK_STATE(t, tracker, m) itest_check_state(ITEST_AT, (t), (tracker), (m))
ITEST_FN void itest_check_state(const char *file, int line, struct itest *t,
                                const char *tracker,
                                const struct itest_model *m)
{
	struct itest_raw raw;
	rt_tracker_info *info = NULL;
	const struct itest_kv *x;
	int r, ok = 1;
	size_t i;

	if (itest_raw_get_checked(file, line, &raw, t->io, tracker) < 0)
		return;
	r = rt_tracker_read(&info, t->pool, tracker);
	if (!m->exists) {
		if (raw.exists) {
			itest_fail(file, line, "tracker %s exists, want none",
			           tracker);
			itest_raw_dump("raw", &raw);
		}
		ITEST_EQ(file, line, "rt_tracker_read() of a missing tracker",
		         r, RT_ENOTFOUND);
		goto done;
	}
	if (!raw.exists) {
		itest_fail(file, line, "tracker %s is missing", tracker);
		goto done;
	}
	x = itest_raw_xattr(&raw, RT_VERSION_XATTR);
	if (!x || x->len != 4 || memcmp(x->val, "\0\0\0\1", 4) != 0)
		ok = 0;
	if (raw.size != 4 || raw.data_len != 4 ||
	    itest_get_be32(raw.data) != m->count)
		ok = 0;
	if (raw.nomap != m->n)
		ok = 0;
	for (i = 0; ok && i < m->n; i++)
		if (strcmp(raw.omap[i].key, m->refs[i].key) != 0 ||
		    raw.omap[i].len != 1 || raw.omap[i].val[0] != m->refs[i].type)
			ok = 0;
	if (!ok) {
		itest_fail(file, line, "tracker %s: raw bytes differ from the "
		           "model (count %" PRIu32 ", %zu keys)", tracker,
		           m->count, m->n);
		itest_raw_dump("raw", &raw);
		fprintf(stderr, "  model: {");
		for (i = 0; i < m->n && i < 20; i++)
			fprintf(stderr, "%s%s:%02x", i ? ", " : "",
			        m->refs[i].key, m->refs[i].type);
		fprintf(stderr, "%s}\n", m->n > 20 ? ", ..." : "");
	}
	if (r != 0) {
		itest_fail(file, line, "rt_tracker_read(%s): %s (%s)", tracker,
		           rt_strerror(r), rt_pool_errmsg(t->pool));
		goto done;
	}
	ITEST_EQ(file, line, "info->format_version", info->format_version, 1);
	ITEST_EQ(file, line, "info->refcount", info->refcount, m->count);
	ITEST_EQ(file, line, "info->object_version", info->object_version,
	         raw.version);
	ITEST_EQ(file, line, "info->nrefs", info->nrefs, m->n);
	for (i = 0; i < info->nrefs && i < m->n; i++) {
		if (!info->refs[i].key ||
		    strcmp(info->refs[i].key, m->refs[i].key) != 0 ||
		    (int)info->refs[i].type != m->refs[i].type) {
			itest_fail(file, line, "info->refs[%zu] is %s:%d, want "
			           "%s:%d", i, info->refs[i].key ?
			           info->refs[i].key : "(null)",
			           (int)info->refs[i].type, m->refs[i].key,
			           m->refs[i].type);
			break;
		}
	}
done:
	rt_tracker_info_free(info);
	itest_raw_free(&raw);
}

/* Compares an outcome with the model's expectation, and the object with
 * what it was before (`before`) and what the model says it is now. */
ITEST_FN void itest_check_outcome(const char *file, int line, struct itest *t,
                                  const char *tracker, int rc,
                                  const rt_outcome *o,
                                  const struct itest_expect *e,
                                  const struct itest_raw *before)
{
	struct itest_raw after;

	if (rc != e->rc) {
		itest_fail(file, line, "%s returned %d (%s: %s), want %d (%s)",
		           tracker, rc, rt_strerror(rc), rt_pool_errmsg(t->pool),
		           e->rc, rt_strerror(e->rc));
		return;
	}
	if (itest_raw_get_checked(file, line, &after, t->io, tracker) < 0)
		return;
	if (!e->wrote && !itest_raw_equal(before, &after)) {
		itest_fail(file, line, "%s changed, want it untouched", tracker);
		itest_raw_dump("before", before);
		itest_raw_dump("after", &after);
	}
	if (rc == 0) {
		ITEST_EQ(file, line, "created", o->created, e->created);
		ITEST_EQ(file, line, "deleted", o->deleted, e->deleted);
		ITEST_EQ(file, line, "added", o->added, e->added);
		ITEST_EQ(file, line, "removed", o->removed, e->removed);
		ITEST_EQ(file, line, "masked", o->masked, e->masked);
		ITEST_EQ(file, line, "refcount", o->refcount, e->refcount);
		/* One writer per namespace: nothing to retry. */
		ITEST_EQ(file, line, "attempts", o->attempts, 1);
		if (e->wrote && after.exists) {
			if (o->object_version == 0 ||
			    o->object_version != after.version)
				itest_fail(file, line, "object_version is %"
				           PRIu64 ", want the object's %" PRIu64,
				           o->object_version, after.version);
			if (before->exists && after.version <= before->version)
				itest_fail(file, line, "object version went "
				           "from %" PRIu64 " to %" PRIu64,
				           before->version, after.version);
		} else {
			ITEST_EQ(file, line, "object_version (nothing written "
			         "or gone)", o->object_version, 0);
		}
	}
	itest_raw_free(&after);
}

/* add/remove through the library, checked against the model: return code,
 * every outcome field, the raw bytes after, and "untouched" when the model
 * says nothing is written.  The model is updated.  Return the library's
 * return code. */
#define T_ADD(t, m, tracker, ...)                                              \
	itest_add(ITEST_AT, (t), (m), (tracker), KEYS(__VA_ARGS__))
#define T_REM(t, m, tracker, ...)                                              \
	itest_remove(ITEST_AT, (t), (m), (tracker), REFS(__VA_ARGS__))

ITEST_FN int itest_add(const char *file, int line, struct itest *t,
                       struct itest_model *m, const char *tracker,
                       const char *const *keys, size_t n)
{
	struct itest_raw before;
	struct itest_expect e;
	rt_outcome o;
	int rc;

	if (itest_raw_get_checked(file, line, &before, t->io, tracker) < 0)
		return -1;
	itest_model_add(m, keys, n, &e);
	memset(&o, 0xa5, sizeof(o)); /* every field must be set */
	rc = rt_tracker_add(&o, t->pool, tracker, keys, n);
	itest_check_outcome(file, line, t, tracker, rc, &o, &e, &before);
	itest_raw_free(&before);
	itest_check_state(file, line, t, tracker, m);
	return rc;
}

ITEST_FN int itest_remove(const char *file, int line, struct itest *t,
                          struct itest_model *m, const char *tracker,
                          const rt_ref *refs, size_t n)
{
	struct itest_raw before;
	struct itest_expect e;
	rt_outcome o;
	int rc;

	if (itest_raw_get_checked(file, line, &before, t->io, tracker) < 0)
		return -1;
	itest_model_remove(m, refs, n, &e);
	memset(&o, 0xa5, sizeof(o));
	rc = rt_tracker_remove(&o, t->pool, tracker, refs, n);
	itest_check_outcome(file, line, t, tracker, rc, &o, &e, &before);
	itest_raw_free(&before);
	itest_check_state(file, line, t, tracker, m);
	return rc;
}

/* ---- "fails and leaves the object untouched" ------------------------- */

enum itest_op { ITEST_ADD, ITEST_REMOVE };

/* Runs one operation that must fail with `want`, and checks that the
 * object (or its absence) is byte for byte what it was, object version
 * included.  `msg` (may be NULL) must appear in rt_pool_errmsg(). */
#define CHECK_UNTOUCHED_ADD(t, tracker, want, msg, ...)                        \
	itest_untouched(ITEST_AT, (t), (tracker), (want), (msg), ITEST_ADD,    \
	                KEYS(__VA_ARGS__), NULL, 0)
#define CHECK_UNTOUCHED_REM(t, tracker, want, msg, ...)                        \
	itest_untouched(ITEST_AT, (t), (tracker), (want), (msg), ITEST_REMOVE, \
	                NULL, 0, REFS(__VA_ARGS__))
ITEST_FN void itest_untouched(const char *file, int line, struct itest *t,
                              const char *tracker, int want, const char *msg,
                              enum itest_op op, const char *const *keys,
                              size_t nkeys, const rt_ref *refs, size_t nrefs)
{
	struct itest_raw before, after;
	rt_outcome o;
	int rc;

	if (itest_raw_get_checked(file, line, &before, t->io, tracker) < 0)
		return;
	memset(&o, 0, sizeof(o));
	if (op == ITEST_ADD)
		rc = rt_tracker_add(&o, t->pool, tracker, keys, nkeys);
	else
		rc = rt_tracker_remove(&o, t->pool, tracker, refs, nrefs);
	if (rc != want)
		itest_fail(file, line, "%s on %s returned %d (%s: %s), want %d "
		           "(%s)", op == ITEST_ADD ? "add" : "remove", tracker,
		           rc, rt_strerror(rc), rt_pool_errmsg(t->pool), want,
		           rt_strerror(want));
	else if (msg)
		itest_check_has(file, line, "rt_pool_errmsg()",
		                rt_pool_errmsg(t->pool), msg);
	if (itest_raw_get_checked(file, line, &after, t->io, tracker) == 0) {
		if (!itest_raw_equal(&before, &after)) {
			itest_fail(file, line, "%s changed, want it untouched",
			           tracker);
			itest_raw_dump("before", &before);
			itest_raw_dump("after", &after);
		}
		itest_raw_free(&after);
	}
	itest_raw_free(&before);
}

/* The closing line when the cluster cannot be reached at all. */
ITEST_FN int itest_no_cluster(const char *suite)
{
	printf("%s: 0 passed, 1 failed\n", suite);
	return 1;
}

#endif
