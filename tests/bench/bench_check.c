/*
 * bench_check.c - checks trackers after a benchmark run, from the raw bytes
 * (librados only: it must not trust the library it checks).
 *
 *   bench_check [-c CONF] [--id ID] [-p POOL] [-N NS] --expect FILE
 *   bench_check [-c CONF] [--id ID] [-p POOL] [-N NS] --prefix P
 *               --trackers N [--normal-total X]
 *
 * Every tracker must be a well-formed v1 tracker: version xattr 00000001,
 * 4 data bytes, omap values 0x01 or 0x02, and a count equal to its number
 * of normal keys.  With --expect, FILE has one line per tracker,
 *   NAME COUNT KEY=TYPE KEY=TYPE ...
 * (TYPE 1 normal, 2 mask; COUNT 0: the tracker must not exist), and each
 * tracker must hold exactly those keys with those types.  With --prefix the
 * trackers are PREFIX000000 .. and only their sum of normal keys can be
 * asserted (--normal-total).
 *
 * The reads are pipelined (--inflight, default 64) so that checking 1,000
 * trackers takes a fraction of a second.  Result line (stdout):
 * check trackers=N present=N normal=N masks=N problems=N; exit 1 on any
 * problem, the first ones named on stderr.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_rados.h"

#define MAX_KEYS_PER_TRACKER 100000
#define MAX_REPORTED 10

typedef struct expected_key {
	char *key;
	int type;
} expected_key;

typedef struct tracker {
	char *name;
	long count;           /* expected count; -1: not known */
	size_t nkeys;
	expected_key *keys;   /* sorted by key */
} tracker;

typedef struct slot {
	unsigned id;
	bench_queue *queue;
	size_t tracker;
	rados_completion_t comp;
	rados_read_op_t rop;
	rados_xattrs_iter_t xiter;
	int xattr_rv;
	char data[8];
	size_t data_len;
	int data_rv;
	rados_omap_iter_t oiter;
	unsigned char more;
	int omap_rv;
} slot;

static tracker *trackers;
static size_t ntrackers;
static rados_ioctx_t io;
static unsigned long problems, present, total_normal, total_masks;

static void problem(const char *name, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void problem(const char *name, const char *fmt, ...)
{
	va_list ap;

	if (problems++ >= MAX_REPORTED)
		return;
	fprintf(stderr, "%s: %s: ", bench_prog, name);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static int cmp_key(const void *a, const void *b)
{
	return strcmp(((const expected_key *)a)->key,
	              ((const expected_key *)b)->key);
}

static void add_tracker(char *name, long count)
{
	static size_t cap;
	tracker *t;

	if (ntrackers == cap) {
		cap = cap ? cap * 2 : 1024;
		trackers = realloc(trackers, cap * sizeof(*trackers));
		if (!trackers)
			bench_die("out of memory");
	}
	t = &trackers[ntrackers++];
	memset(t, 0, sizeof(*t));
	t->name = name;
	t->count = count;
}

/* Reads --expect FILE (format in the comment at the top). */
static void read_expect(const char *path)
{
	FILE *f = fopen(path, "r");
	char *line = NULL, *tok, *save, *eq, *name;
	size_t cap = 0, lineno = 0, kcap;
	long count;
	tracker *t;

	if (!f)
		bench_die("%s:", path);
	while (getline(&line, &cap, f) > 0) {
		lineno++;
		tok = strtok_r(line, " \t\n", &save);
		if (!tok)
			continue;
		name = strdup(tok);
		tok = strtok_r(NULL, " \t\n", &save);
		if (!name || !tok)
			bench_die("%s:%zu: NAME COUNT KEY=TYPE... expected", path,
			          lineno);
		count = strtol(tok, NULL, 10);
		add_tracker(name, count);
		t = &trackers[ntrackers - 1];
		kcap = 0;
		while ((tok = strtok_r(NULL, " \t\n", &save))) {
			eq = strrchr(tok, '=');
			if (!eq || (strcmp(eq, "=1") && strcmp(eq, "=2")))
				bench_die("%s:%zu: %s: KEY=1 or KEY=2 expected",
				          path, lineno, tok);
			if (t->nkeys == kcap) {
				kcap = kcap ? kcap * 2 : 16;
				t->keys = realloc(t->keys, kcap * sizeof(*t->keys));
				if (!t->keys)
					bench_die("out of memory");
			}
			t->keys[t->nkeys].type = eq[1] - '0';
			*eq = '\0';
			t->keys[t->nkeys].key = strdup(tok);
			if (!t->keys[t->nkeys].key)
				bench_die("out of memory");
			t->nkeys++;
		}
		qsort(t->keys, t->nkeys, sizeof(*t->keys), cmp_key);
	}
	if (ferror(f))
		bench_die("%s:", path);
	free(line);
	fclose(f);
}

static void on_complete(rados_completion_t c, void *arg)
{
	slot *s = arg;

	(void)c;
	bench_queue_push(s->queue, s->id);
}

static void send_read(slot *s, size_t i)
{
	int r;

	s->tracker = i;
	s->rop = rados_create_read_op();
	rados_read_op_getxattrs(s->rop, &s->xiter, &s->xattr_rv);
	rados_read_op_read(s->rop, 0, sizeof(s->data), s->data, &s->data_len,
	                   &s->data_rv);
	rados_read_op_omap_get_vals2(s->rop, "", "", MAX_KEYS_PER_TRACKER,
	                             &s->oiter, &s->more, &s->omap_rv);
	r = rados_aio_create_completion2(s, on_complete, &s->comp);
	if (r < 0)
		bench_die_rados(r, "rados_aio_create_completion2:");
	r = rados_aio_read_op_operate(s->rop, io, s->comp, trackers[i].name, 0);
	if (r < 0)
		bench_die_rados(r, "%s: read op:", trackers[i].name);
}

/* Compares the omap with the expected keys; counts what it sees. */
static void check_omap(slot *s, const tracker *t, uint32_t *normal)
{
	size_t next = 0, klen, vlen;
	char *k, *v, *key;
	int type;

	*normal = 0;
	for (;;) {
		if (rados_omap_get_next2(s->oiter, &k, &v, &klen, &vlen) < 0 || !k)
			break;
		if (vlen != 1 || (v[0] != 1 && v[0] != 2)) {
			problem(t->name, "key %.*s: value is not 0x01 or 0x02",
			        (int)klen, k);
			continue;
		}
		type = v[0];
		if (type == 1)
			++*normal;
		else
			total_masks++;
		if (t->count < 0)
			continue;
		/* Both lists are sorted the same way (bytewise): merge. */
		key = strndup(k, klen);
		if (!key)
			bench_die("out of memory");
		while (next < t->nkeys && strcmp(t->keys[next].key, key) < 0) {
			problem(t->name, "key %s missing", t->keys[next].key);
			next++;
		}
		if (next < t->nkeys && strcmp(t->keys[next].key, key) == 0) {
			if (t->keys[next].type != type)
				problem(t->name, "key %s is %s, expected %s",
				        key, type == 1 ? "normal" : "mask",
				        type == 1 ? "mask" : "normal");
			next++;
		} else {
			problem(t->name, "unexpected key %s", key);
		}
		free(key);
	}
	for (; t->count >= 0 && next < t->nkeys; next++)
		problem(t->name, "key %s missing", t->keys[next].key);
}

static void finish(slot *s)
{
	const tracker *t = &trackers[s->tracker];
	int r = rados_aio_get_return_value(s->comp);
	int seen_version = 0;
	const char *xname, *xval;
	size_t xlen;
	uint32_t count, normal;

	rados_aio_release(s->comp);
	if (r == -ENOENT) {
		if (t->count != 0)
			problem(t->name, "tracker missing");
		goto done;
	}
	if (r < 0 || s->xattr_rv < 0 || s->data_rv < 0 || s->omap_rv < 0) {
		problem(t->name, "read failed: %s",
		        strerror(-(r < 0 ? r : s->xattr_rv < 0 ? s->xattr_rv :
		                   s->data_rv < 0 ? s->data_rv : s->omap_rv)));
		goto done;
	}
	present++;
	if (t->count == 0)
		problem(t->name, "tracker exists, expected it deleted");
	while (rados_getxattrs_next(s->xiter, &xname, &xval, &xlen) == 0 &&
	       xname) {
		if (strcmp(xname, "csi.ceph.com/rt-version") != 0)
			continue;
		seen_version = 1;
		if (xlen != 4 || bench_get_be32(xval) != 1)
			problem(t->name, "version xattr is not 00000001");
	}
	if (!seen_version)
		problem(t->name, "no version xattr");
	if (s->more)
		problem(t->name, "more than %d keys: not checked",
		        MAX_KEYS_PER_TRACKER);
	if (s->data_len != 4) {
		problem(t->name, "%zu data bytes, not 4", s->data_len);
		goto done;
	}
	count = bench_get_be32(s->data);
	check_omap(s, t, &normal);
	total_normal += normal;
	if (count != normal)
		problem(t->name, "count %u but %u normal keys", count, normal);
	if (t->count > 0 && (long)count != t->count)
		problem(t->name, "count %u, expected %ld", count, t->count);
done:
	if (r >= 0 && s->xattr_rv >= 0)
		rados_getxattrs_end(s->xiter);
	if (r >= 0 && s->omap_rv >= 0)
		rados_omap_get_end(s->oiter);
	rados_release_read_op(s->rop);
}

static void usage(FILE *out, int status)
{
	fprintf(out,
	        "usage: %s [-c CONF] [--id ID] [-p POOL] [-N NAMESPACE] "
	        "[--inflight N]\n"
	        "       (--expect FILE | --prefix P --trackers N "
	        "[--normal-total X])\n",
	        bench_prog);
	exit(status);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		BENCH_CONN_LONGOPTS,
		{"expect", required_argument, NULL, 'e'},
		{"prefix", required_argument, NULL, 'P'},
		{"trackers", required_argument, NULL, 't'},
		{"normal-total", required_argument, NULL, 'T'},
		{"inflight", required_argument, NULL, 'j'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	struct bench_conn conn;
	const char *expect = NULL, *prefix = NULL;
	unsigned long n = 0, want_total = 0, i;
	int has_total = 0, opt;
	unsigned nslots = 64, active = 0, k;
	size_t next = 0;
	rados_t cluster;
	bench_queue q;
	slot *slots;
	char *name;

	bench_prog = "bench_check";
	bench_conn_init(&conn);
	while ((opt = bench_getopt(argc, argv, opts, &conn)) != -1) {
		switch (opt) {
		case 'e': expect = optarg; break;
		case 'P': prefix = optarg; break;
		case 't': n = bench_count("--trackers", optarg, 1); break;
		case 'T':
			want_total = bench_count("--normal-total", optarg, 0);
			has_total = 1;
			break;
		case 'j': nslots = (unsigned)bench_count("--inflight", optarg, 1); break;
		case 'h': usage(stdout, 0); break;
		default: usage(stderr, 64);
		}
	}
	if (optind != argc || !expect == !prefix || (prefix && !n))
		usage(stderr, 64);

	if (expect) {
		read_expect(expect);
	} else {
		for (i = 0; i < n; i++) {
			if (asprintf(&name, "%s%06lu", prefix, i) < 0)
				bench_die("out of memory");
			add_tracker(name, -1);
		}
	}

	bench_rados_open(&cluster, &io, &conn);
	bench_queue_init(&q, nslots);
	slots = calloc(nslots, sizeof(*slots));
	if (!slots)
		bench_die("out of memory");
	for (k = 0; k < nslots && next < ntrackers; k++, active++) {
		slots[k].id = k;
		slots[k].queue = &q;
		send_read(&slots[k], next++);
	}
	while (active > 0) {
		k = bench_queue_pop(&q);
		finish(&slots[k]);
		if (next < ntrackers)
			send_read(&slots[k], next++);
		else
			active--;
	}
	if (has_total && total_normal != want_total)
		problem(prefix ? prefix : expect, "%lu normal keys in all, "
		        "expected %lu", total_normal, want_total);

	printf("check trackers=%zu present=%lu normal=%lu masks=%lu "
	       "problems=%lu\n",
	       ntrackers, present, total_normal, total_masks, problems);
	rados_ioctx_destroy(io);
	rados_shutdown(cluster);
	return problems ? 1 : 0;
}
