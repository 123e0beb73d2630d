/*
 * bench_raw.c - the raw pipelined limit: the least RADOS work a tracker
 * change can cost, with nothing of libreftrack in the way.
 *
 *   bench_raw [options] --setup      create the trackers (v1 format)
 *   bench_raw [options]              time ENTRIES changes (mode rw)
 *   bench_raw [options] --mode write time guarded writes with no read
 *   bench_raw [options] --mode checked  rw, checking what it reads
 *
 * Trackers are PREFIX000000, PREFIX000001, ... in POOL/NAMESPACE.  --setup
 * creates each as a v1 tracker holding the normal key "base" and, with
 * --keys K, also "p0" .. "pK-1" (count K + 1).
 *
 * Mode rw, per entry, as the library's common case does: one read op (the
 * omap value of the entry's key + the 4 data bytes; the object version comes
 * from the completion), then one write op (assert_version + write_full of
 * the new count + omap_set of the key as normal).  Each entry adds a fresh
 * key (KEYPREFIX + entry number), so the trackers stay valid v1 trackers
 * and bench_check can vouch for them afterwards.
 *
 * Mode checked: mode rw plus what a replayer that vouches for each tracker
 * before changing it must ask the OSD for (the library's read and write
 * shapes, tracker_io.c): the read also takes every xattr (the format
 * version is checked) and lists the omap (the key must be absent and the
 * keys must number the count), and the write also sets a marker xattr.
 * So mode checked is the least a checking replayer's entry can cost, where
 * mode rw is the least any tracker change can.
 *
 * Mode write: the shape of a replayer that already knows a tracker's
 * contents and version from its own last write: one guarded write per entry,
 * the version for the next taken from the write's completion.  Reading the
 * starting versions and counts is setup, not timed.
 *
 * Entries in flight always touch distinct objects: slot s of the INFLIGHT
 * slots owns trackers s, s + INFLIGHT, ... and runs its entries one after
 * the other over them.  So a version conflict cannot happen, and one is
 * reported as an error.
 *
 * Result line (stdout): raw mode=M entries=N trackers=T inflight=I
 * seconds=S rate=R connect=C.  Only the entries are timed (seconds); C is
 * what connecting took, for comparison with tools that time it too.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_rados.h"

enum mode { MODE_SETUP, MODE_RW, MODE_CHECKED, MODE_WRITE };
enum phase { PH_IDLE, PH_CREATE, PH_PREREAD, PH_READ, PH_WRITE };

typedef struct slot {
	unsigned id;
	bench_queue *queue;
	enum phase phase;
	unsigned nowned;      /* trackers owned: id, id + nslots, ... */
	unsigned next_owned;  /* which of them the next entry goes to */
	unsigned tracker;     /* tracker of the operation in flight */
	char oid[96];
	char key[64];
	rados_completion_t comp;
	rados_read_op_t rop;
	rados_write_op_t wop;
	/* read results */
	char data[8];
	size_t data_len;
	int data_rv;
	rados_omap_iter_t iter;
	int omap_rv;
	unsigned char omap_more;
	rados_xattrs_iter_t xattrs; /* mode checked */
	int xattrs_rv;
	char newcount[4];
} slot;

#define VERSION_XATTR "csi.ceph.com/rt-version"
/* What mode checked's write sets, as long as a journal's marker name. */
#define MARKER_XATTR "reftrack.j.0123456789abcdef0123456789abcdef"
/* Keys mode checked lists in one read: the trackers of the bench hold a
 * few, and the library lists this many before paging. */
#define CHECKED_LIST_MAX 1024

static const char *prefix = "raw.t";
static const char *key_prefix = "r";
static unsigned ntrackers = 1000;
static unsigned nslots = 256;
static unsigned long nentries = 20000;
static unsigned initial_keys;
static enum mode mode = MODE_RW;
static rados_ioctx_t io;

/* Per tracker, for mode write: the count and object version after the last
 * write.  Only the owning slot touches a tracker's fields. */
static uint32_t *counts;
static uint64_t *versions;

/* The keys --setup puts into every tracker, all normal. */
static const char **setup_keys;
static size_t *setup_key_lens;
static const char **setup_vals;
static size_t *setup_val_lens;

static unsigned long next_entry; /* entries handed out */
static unsigned long done_entries;

static void on_complete(rados_completion_t c, void *arg)
{
	slot *s = arg;

	(void)c;
	bench_queue_push(s->queue, s->id);
}

static void new_completion(slot *s)
{
	int r = rados_aio_create_completion2(s, on_complete, &s->comp);

	if (r < 0)
		bench_die_rados(r, "rados_aio_create_completion2:");
}

static void set_oid(slot *s, unsigned tracker)
{
	s->tracker = tracker;
	snprintf(s->oid, sizeof(s->oid), "%s%06u", prefix, tracker);
}

static void send_read(slot *s, int with_key)
{
	const char *keys[1] = {s->key};
	size_t lens[1] = {strlen(s->key)};
	int r;

	s->rop = rados_create_read_op();
	s->iter = NULL;
	s->omap_rv = 0;
	if (with_key && mode == MODE_CHECKED) {
		rados_read_op_getxattrs(s->rop, &s->xattrs, &s->xattrs_rv);
		rados_read_op_omap_get_vals2(s->rop, "", "", CHECKED_LIST_MAX,
		                             &s->iter, &s->omap_more,
		                             &s->omap_rv);
	} else if (with_key) {
		rados_read_op_omap_get_vals_by_keys2(s->rop, keys, 1, lens,
		                                     &s->iter, &s->omap_rv);
	}
	/* Ask for more than 4 bytes so a longer object shows as corrupt. */
	rados_read_op_read(s->rop, 0, sizeof(s->data), s->data, &s->data_len,
	                   &s->data_rv);
	new_completion(s);
	r = rados_aio_read_op_operate(s->rop, io, s->comp, s->oid, 0);
	if (r < 0)
		bench_die_rados(r, "%s: read op:", s->oid);
}

/* A guarded write: the tracker is still at `ver`, its count becomes
 * `count` and s->key is added as a normal reference. */
static void send_write(slot *s, uint64_t ver, uint32_t count)
{
	const char *keys[1] = {s->key};
	const char *vals[1] = {"\x01"};
	size_t klens[1] = {strlen(s->key)};
	size_t vlens[1] = {1};
	int r;

	bench_put_be32(s->newcount, count);
	s->wop = rados_create_write_op();
	rados_write_op_assert_version(s->wop, ver);
	rados_write_op_write_full(s->wop, s->newcount, 4);
	rados_write_op_omap_set2(s->wop, keys, vals, klens, vlens, 1);
	if (mode == MODE_CHECKED)
		rados_write_op_setxattr(s->wop, MARKER_XATTR, "1", 1);
	new_completion(s);
	r = rados_aio_write_op_operate(s->wop, io, s->comp, s->oid, NULL, 0);
	if (r < 0)
		bench_die_rados(r, "%s: write op:", s->oid);
}

static void send_create(slot *s)
{
	char version[4], count[4];
	int r;

	bench_put_be32(version, 1);
	bench_put_be32(count, initial_keys + 1);
	s->wop = rados_create_write_op();
	rados_write_op_create(s->wop, LIBRADOS_CREATE_EXCLUSIVE, NULL);
	rados_write_op_setxattr(s->wop, VERSION_XATTR, version, 4);
	rados_write_op_write_full(s->wop, count, 4);
	rados_write_op_omap_set2(s->wop, setup_keys, setup_vals,
	                         setup_key_lens, setup_val_lens,
	                         initial_keys + 1);
	new_completion(s);
	r = rados_aio_write_op_operate(s->wop, io, s->comp, s->oid, NULL, 0);
	if (r < 0)
		bench_die_rados(r, "%s: create op:", s->oid);
}

/* Starts the slot's next operation, or leaves it idle when its share is
 * done.  Returns 1 if something was sent. */
static int start_next(slot *s)
{
	unsigned t;

	if (mode == MODE_SETUP || s->phase == PH_PREREAD) {
		/* Setup and pre-read walk each owned tracker once. */
		if (s->next_owned == s->nowned)
			return 0;
		set_oid(s, s->id + s->next_owned++ * nslots);
		if (mode == MODE_SETUP) {
			s->phase = PH_CREATE;
			send_create(s);
		} else {
			send_read(s, 0);
		}
		return 1;
	}
	if (next_entry == nentries)
		return 0;
	t = s->id + (s->next_owned % s->nowned) * nslots;
	s->next_owned++;
	set_oid(s, t);
	snprintf(s->key, sizeof(s->key), "%s%lu", key_prefix, next_entry);
	next_entry++;
	if (mode == MODE_RW || mode == MODE_CHECKED) {
		s->phase = PH_READ;
		send_read(s, 1);
	} else {
		s->phase = PH_WRITE;
		send_write(s, versions[t], counts[t] + 1);
	}
	return 1;
}

/* Mode checked: the tracker's format version is there, the entry's key is
 * not, and the listed keys number the count. */
static void check_read(slot *s, uint32_t count)
{
	const char *name, *val;
	char *k, *v;
	size_t vlen, klen, vl;
	uint32_t listed = 0;
	int versioned = 0;

	if (s->xattrs_rv < 0)
		bench_die_rados(s->xattrs_rv, "%s: getxattrs:", s->oid);
	while (rados_getxattrs_next(s->xattrs, &name, &val, &vlen) == 0 &&
	       name)
		versioned |= strcmp(name, VERSION_XATTR) == 0 && vlen == 4;
	rados_getxattrs_end(s->xattrs);
	s->xattrs = NULL;
	if (!versioned)
		bench_die("%s: no format version xattr", s->oid);
	while (rados_omap_get_next2(s->iter, &k, &v, &klen, &vl) == 0 && k) {
		if (klen == strlen(s->key) && memcmp(k, s->key, klen) == 0)
			bench_die("%s: key %s is there already (run twice with "
			          "one --key-prefix?)", s->oid, s->key);
		listed++;
	}
	if (!s->omap_more && listed != count)
		bench_die("%s: %u keys listed, count %u", s->oid, listed, count);
}

/* Handles the slot's finished operation; returns 1 if the slot has sent
 * another one. */
static int finish(slot *s)
{
	int r = rados_aio_get_return_value(s->comp);
	uint64_t ver = rados_aio_get_version(s->comp);
	uint32_t count;
	char *k, *v;
	size_t klen, vlen;

	rados_aio_release(s->comp);
	s->comp = NULL;
	if (s->rop) {
		rados_release_read_op(s->rop);
		s->rop = NULL;
	}
	if (s->wop) {
		rados_release_write_op(s->wop);
		s->wop = NULL;
	}

	switch (s->phase) {
	case PH_CREATE:
		if (r < 0)
			bench_die_rados(r, "%s: create:", s->oid);
		return start_next(s);
	case PH_PREREAD:
	case PH_READ:
		if (r < 0 || s->data_rv < 0)
			bench_die_rados(r < 0 ? r : s->data_rv, "%s: read:", s->oid);
		if (s->data_len != 4)
			bench_die("%s: %zu data bytes, not 4", s->oid, s->data_len);
		count = bench_get_be32(s->data);
		if (s->phase == PH_PREREAD) {
			counts[s->tracker] = count;
			versions[s->tracker] = ver;
			return start_next(s);
		}
		if (s->omap_rv < 0)
			bench_die_rados(s->omap_rv, "%s: omap read:", s->oid);
		if (mode == MODE_CHECKED)
			check_read(s, count);
		else if (rados_omap_get_next2(s->iter, &k, &v, &klen,
		                              &vlen) == 0 && k)
			bench_die("%s: key %s is there already (run twice with one "
			          "--key-prefix?)", s->oid, s->key);
		rados_omap_get_end(s->iter);
		s->iter = NULL;
		if (count == UINT32_MAX)
			bench_die("%s: refcount overflow", s->oid);
		s->phase = PH_WRITE;
		send_write(s, ver, count + 1);
		return 1;
	case PH_WRITE:
		if (r < 0)
			bench_die_rados(r, "%s: guarded write (key %s):", s->oid,
			                s->key);
		if (mode == MODE_WRITE) {
			if (ver == 0)
				bench_die("%s: write completion carries no version",
				          s->oid);
			counts[s->tracker]++;
			versions[s->tracker] = ver;
		}
		done_entries++;
		return start_next(s);
	case PH_IDLE:
		break;
	}
	bench_die("slot %u: completion while idle", s->id);
}

/* Runs every slot until all are idle. */
static void run_slots(slot *slots, bench_queue *q)
{
	unsigned i, active = 0;

	for (i = 0; i < nslots; i++)
		active += (unsigned)start_next(&slots[i]);
	while (active > 0) {
		i = bench_queue_pop(q);
		if (!finish(&slots[i])) {
			slots[i].phase = PH_IDLE;
			active--;
		}
	}
}

static void make_setup_keys(void)
{
	size_t n = (size_t)initial_keys + 1, i;
	char *name;

	setup_keys = calloc(n, sizeof(*setup_keys));
	setup_key_lens = calloc(n, sizeof(*setup_key_lens));
	setup_vals = calloc(n, sizeof(*setup_vals));
	setup_val_lens = calloc(n, sizeof(*setup_val_lens));
	if (!setup_keys || !setup_key_lens || !setup_vals || !setup_val_lens)
		bench_die("out of memory");
	for (i = 0; i < n; i++) {
		if (i == 0) {
			name = strdup("base");
		} else if (asprintf(&name, "p%zu", i - 1) < 0) {
			name = NULL;
		}
		if (!name)
			bench_die("out of memory");
		setup_keys[i] = name;
		setup_key_lens[i] = strlen(name);
		setup_vals[i] = "\x01";
		setup_val_lens[i] = 1;
	}
}

static void usage(FILE *out, int status)
{
	fprintf(out,
	        "usage: %s [-c CONF] [--id ID] [-p POOL] [-N NAMESPACE]\n"
	        "       [--prefix P] [--trackers N] [--inflight N]\n"
	        "       (--setup [--keys K] | [--mode rw|checked|write] [--entries N] "
	        "[--key-prefix P])\n"
	        "Defaults: CONF $CEPH_CONF, ID admin, POOL $RT_TEST_POOL or rt,\n"
	        "prefix raw.t, 1000 trackers, 256 in flight, mode rw, 20000 "
	        "entries,\nkey prefix r.\n",
	        bench_prog);
	exit(status);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		BENCH_CONN_LONGOPTS,
		{"prefix", required_argument, NULL, 'P'},
		{"trackers", required_argument, NULL, 't'},
		{"inflight", required_argument, NULL, 'j'},
		{"entries", required_argument, NULL, 'n'},
		{"keys", required_argument, NULL, 'k'},
		{"key-prefix", required_argument, NULL, 'K'},
		{"mode", required_argument, NULL, 'm'},
		{"setup", no_argument, NULL, 'S'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	struct bench_conn conn;
	const char *mode_name;
	rados_t cluster;
	bench_queue q;
	slot *slots;
	double t0, t1, tconn;
	unsigned i;
	unsigned long work;
	int opt;

	bench_prog = "bench_raw";
	bench_conn_init(&conn);
	while ((opt = bench_getopt(argc, argv, opts, &conn)) != -1) {
		switch (opt) {
		case 'P': prefix = optarg; break;
		case 'K': key_prefix = optarg; break;
		case 't': ntrackers = (unsigned)bench_count("--trackers", optarg, 1); break;
		case 'j': nslots = (unsigned)bench_count("--inflight", optarg, 1); break;
		case 'n': nentries = bench_count("--entries", optarg, 1); break;
		case 'k': initial_keys = (unsigned)bench_count("--keys", optarg, 0); break;
		case 'S': mode = MODE_SETUP; break;
		case 'm':
			if (strcmp(optarg, "rw") == 0)
				mode = MODE_RW;
			else if (strcmp(optarg, "checked") == 0)
				mode = MODE_CHECKED;
			else if (strcmp(optarg, "write") == 0)
				mode = MODE_WRITE;
			else
				bench_die("--mode: rw, checked or write, not \"%s\"",
				          optarg);
			break;
		case 'h': usage(stdout, 0); break;
		default: usage(stderr, 64);
		}
	}
	if (optind != argc)
		usage(stderr, 64);
	if (ntrackers > 999999 || initial_keys > 100000)
		bench_die("at most 999999 trackers and 100000 --keys");
	if (nslots > ntrackers) {
		/* Fewer trackers than slots would put two entries on one
		 * object at once. */
		fprintf(stderr, "%s: --inflight %u capped to the %u trackers\n",
		        bench_prog, nslots, ntrackers);
		nslots = ntrackers;
	}

	t0 = bench_now();
	bench_rados_open(&cluster, &io, &conn);
	tconn = bench_now() - t0;
	bench_queue_init(&q, nslots);
	slots = calloc(nslots, sizeof(*slots));
	counts = calloc(ntrackers, sizeof(*counts));
	versions = calloc(ntrackers, sizeof(*versions));
	if (!slots || !counts || !versions)
		bench_die("out of memory");
	for (i = 0; i < nslots; i++) {
		slots[i].id = i;
		slots[i].queue = &q;
		slots[i].nowned = (ntrackers - i + nslots - 1) / nslots;
	}

	if (mode == MODE_SETUP) {
		make_setup_keys();
		work = ntrackers;
	} else {
		work = nentries;
		if (mode == MODE_WRITE) {
			for (i = 0; i < nslots; i++)
				slots[i].phase = PH_PREREAD;
			run_slots(slots, &q);
			for (i = 0; i < nslots; i++)
				slots[i].next_owned = 0;
		}
	}

	t0 = bench_now();
	run_slots(slots, &q);
	t1 = bench_now();

	mode_name = mode == MODE_SETUP     ? "setup"
	            : mode == MODE_RW      ? "rw"
	            : mode == MODE_CHECKED ? "checked"
	                                   : "write";
	if (mode != MODE_SETUP && done_entries != nentries)
		bench_die("%lu of %lu entries done", done_entries, nentries);
	printf("raw mode=%s entries=%lu trackers=%u inflight=%u seconds=%.6f "
	       "rate=%.1f connect=%.6f\n",
	       mode_name, work, ntrackers, nslots, t1 - t0,
	       (double)work / (t1 - t0), tconn);

	rados_ioctx_destroy(io);
	rados_shutdown(cluster);
	return 0;
}
