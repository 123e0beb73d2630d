/*
 * test_batch.c - the batch parser: corpus, details, limits, streaming.
 *
 * Run from the repo root (the data dir is tests/data/batch, or
 * $RT_TEST_DATA).  Besides the suite it has three modes used elsewhere:
 *   --check FILE   prints "ok" or "LINE:COLUMN: message" (exit 0 / 1);
 *                  tests/unit/test_batch_schema.sh compares this with the
 *                  JSON Schema's verdict
 *   --resolve      reads one scalar per line on stdin, prints the type a
 *                  YAML 1.1 loader would give it as a plain scalar, and
 *                  for int/float whether it is the number 1
 *   --stats FILE   parses FILE and prints requests, keys, rate, peak RSS
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "reftrack/batch.h"
#include "batch_internal.h"
#include "batch_scalar.h"

/* ---- helpers ---------------------------------------------------------- */

static const char *data_dir(void)
{
	const char *d = getenv("RT_TEST_DATA");

	return d && *d ? d : "tests/data/batch";
}

/* Reads a whole (small) file; NULL if unreadable. */
static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	size_t cap = 0, n = 0;

	if (!f)
		return NULL;
	for (;;) {
		if (cap - n < 65536) {
			char *nb = realloc(buf, cap + 65536 + 1);

			if (!nb) {
				free(buf);
				fclose(f);
				return NULL;
			}
			buf = nb;
			cap += 65536;
		}
		size_t got = fread(buf + n, 1, cap - n, f);

		n += got;
		if (got == 0)
			break;
	}
	fclose(f);
	buf[n] = '\0';
	*len = n;
	return buf;
}

/* A growing text of everything the callback saw, to compare two parses. */
typedef struct trace {
	char *text;
	size_t len, cap;
	size_t calls;
	size_t stop_at; /* return 42 when index reaches this */
} trace;

static void trace_add(trace *t, const char *s, size_t n)
{
	if (t->cap - t->len < n + 1) {
		size_t cap = t->cap ? t->cap * 2 : 4096;

		while (cap - t->len < n + 1)
			cap *= 2;
		t->text = realloc(t->text, cap);
		if (!t->text)
			abort();
		t->cap = cap;
	}
	memcpy(t->text + t->len, s, n);
	t->len += n;
	t->text[t->len] = '\0';
}

static void trace_str(trace *t, const char *s)
{
	trace_add(t, s, strlen(s));
	trace_add(t, "|", 1);
}

static int trace_cb(void *arg, size_t index, const rt_request *r)
{
	trace *t = arg;
	char head[96];
	size_t i;

	if (index != t->calls)
		return -1000; /* the index must count every request once */
	t->calls++;
	snprintf(head, sizeof(head), "#%zu@%u:%u op=%d n=%zu|", index, r->line,
	         r->column, (int)r->op, r->nrefs);
	trace_add(t, head, strlen(head));
	trace_str(t, r->pool);
	trace_str(t, r->ns);
	trace_str(t, r->tracker);
	trace_str(t, r->request_id ? r->request_id : "(null)");
	for (i = 0; i < r->nrefs; i++) {
		trace_add(t, r->refs[i].type == RT_REF_MASK ? "m:" : "n:", 2);
		trace_str(t, r->refs[i].key);
	}
	trace_add(t, "\n", 1);
	if (t->stop_at && index + 1 == t->stop_at)
		return 42;
	return 0;
}

/* Every request of one parse, kept for detailed checks (small files). */
#define MAXREQ 64
#define MAXREF 64
typedef struct kept {
	size_t n;
	struct {
		char pool[300], ns[64], tracker[64], id[64];
		int has_id;
		rt_op op;
		size_t nrefs;
		char keys[MAXREF][64];
		rt_ref_type types[MAXREF];
		unsigned line, column;
	} r[MAXREQ];
} kept;

static void copy_str(char *dst, size_t cap, const char *src)
{
	snprintf(dst, cap, "%s", src);
}

static int keep_cb(void *arg, size_t index, const rt_request *req)
{
	kept *k = arg;
	size_t i;

	(void)index;
	if (k->n == MAXREQ || req->nrefs > MAXREF)
		return -1;
	copy_str(k->r[k->n].pool, sizeof(k->r[k->n].pool), req->pool);
	copy_str(k->r[k->n].ns, sizeof(k->r[k->n].ns), req->ns);
	copy_str(k->r[k->n].tracker, sizeof(k->r[k->n].tracker), req->tracker);
	k->r[k->n].has_id = req->request_id != NULL;
	copy_str(k->r[k->n].id, sizeof(k->r[k->n].id),
	         req->request_id ? req->request_id : "");
	k->r[k->n].op = req->op;
	k->r[k->n].nrefs = req->nrefs;
	for (i = 0; i < req->nrefs; i++) {
		copy_str(k->r[k->n].keys[i], sizeof(k->r[k->n].keys[i]),
		         req->refs[i].key);
		k->r[k->n].types[i] = req->refs[i].type;
	}
	k->r[k->n].line = req->line;
	k->r[k->n].column = req->column;
	k->n++;
	return 0;
}

static char *path_in(const char *sub, const char *name)
{
	static char buf[4096];

	snprintf(buf, sizeof(buf), "%s/%s/%s", data_dir(), sub, name);
	return buf;
}

static int has_suffix(const char *s, const char *suf)
{
	size_t n = strlen(s), m = strlen(suf);

	return n >= m && strcmp(s + n - m, suf) == 0;
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The sorted *.yaml names in data_dir()/sub; *n receives the count. */
static char **list_yaml(const char *sub, size_t *n)
{
	char dir[4096];
	DIR *d;
	struct dirent *de;
	char **names = NULL;
	size_t cnt = 0;

	snprintf(dir, sizeof(dir), "%s/%s", data_dir(), sub);
	*n = 0;
	d = opendir(dir);
	if (!d)
		return NULL;
	while ((de = readdir(d))) {
		if (!has_suffix(de->d_name, ".yaml"))
			continue;
		names = realloc(names, (cnt + 1) * sizeof(*names));
		names[cnt++] = strdup(de->d_name);
	}
	closedir(d);
	qsort(names, cnt, sizeof(*names), cmp_names);
	*n = cnt;
	return names;
}

static void free_names(char **names, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

/* An invalid file's expectation: "LINE:COLUMN: text" from its first line
 * ("# expect: ...") or from NAME.expect beside it. */
static int read_expect(const char *name, unsigned *line, unsigned *col,
                       char *msg, size_t cap)
{
	char side[4096], buf[1024];
	const char *p;
	FILE *f;
	int n = 0;

	snprintf(side, sizeof(side), "%s", path_in("invalid", name));
	side[strlen(side) - 5] = '\0';
	strcat(side, ".expect");
	f = fopen(side, "rb");
	if (f) {
		p = fgets(buf, sizeof(buf), f);
	} else {
		f = fopen(path_in("invalid", name), "rb");
		if (!f)
			return -1;
		p = fgets(buf, sizeof(buf), f);
		if (p && strncmp(p, "# expect: ", 10) == 0)
			p += 10;
		else
			p = NULL;
	}
	fclose(f);
	if (!p || sscanf(p, "%u:%u: %n", line, col, &n) != 2 || n == 0)
		return -1;
	snprintf(msg, cap, "%s", p + n);
	msg[strcspn(msg, "\r\n")] = '\0';
	return 0;
}

/* ---- corpus ----------------------------------------------------------- */

static void test_valid_corpus(void)
{
	size_t n, i;
	char **names = list_yaml("valid", &n);

	CHECK(n >= 10);
	for (i = 0; i < n; i++) {
		trace tf = {0}, tb = {0};
		rt_batch_error ef, eb;
		size_t len;
		char *data = slurp(path_in("valid", names[i]), &len);
		int rf, rb;

		CHECK(data != NULL);
		if (!data)
			continue;
		rf = rt_batch_parse_file(path_in("valid", names[i]), trace_cb,
		                         &tf, &ef);
		rb = rt_batch_parse_buffer(data, len, trace_cb, &tb, &eb);
		if (rf != 0 || rb != 0)
			fprintf(stderr, "valid/%s: %u:%u: %s\n", names[i],
			        ef.line, ef.column, ef.message);
		CHECK_INT(rf, 0);
		CHECK_INT(rb, 0);
		CHECK(tf.calls >= 1);
		/* both entry points see the same requests, in order */
		CHECK(tf.len == tb.len && tf.text && tb.text &&
		      memcmp(tf.text, tb.text, tf.len) == 0);
		free(tf.text);
		free(tb.text);
		free(data);
	}
	free_names(names, n);
}

static void test_invalid_corpus(void)
{
	size_t n, i;
	char **names = list_yaml("invalid", &n);

	/* issue 3 asks for at least 40 distinct rules */
	CHECK(n >= 45);
	for (i = 0; i < n; i++) {
		unsigned line = 0, col = 0;
		char want[512];
		rt_batch_error ef, eb;
		trace tf = {0}, tb = {0};
		size_t len;
		char *data;
		int rf, rb;

		if (read_expect(names[i], &line, &col, want, sizeof(want))) {
			fprintf(stderr, "invalid/%s: no expectation\n",
			        names[i]);
			CHECK(!"every invalid file states its expected error");
			continue;
		}
		rf = rt_batch_parse_file(path_in("invalid", names[i]), trace_cb,
		                         &tf, &ef);
		if (rf != RT_EINVAL || ef.line != line || ef.column != col ||
		    !strstr(ef.message, want))
			fprintf(stderr, "invalid/%s: got %d %u:%u: %s\n"
			        "  want %u:%u: ...%s...\n", names[i], rf,
			        ef.line, ef.column, ef.message, line, col, want);
		CHECK_INT(rf, RT_EINVAL);
		CHECK_INT(ef.line, line);
		CHECK_INT(ef.column, col);
		CHECK(strstr(ef.message, want) != NULL);
		/* the buffer entry point fails the same way */
		data = slurp(path_in("invalid", names[i]), &len);
		CHECK(data != NULL);
		if (data) {
			rb = rt_batch_parse_buffer(data, len, trace_cb, &tb, &eb);
			CHECK_INT(rb, rf);
			CHECK_INT(eb.line, ef.line);
			CHECK_INT(eb.column, ef.column);
			CHECK_STR(eb.message, ef.message);
			CHECK_INT(tb.calls, tf.calls);
		}
		free(data);
		free(tf.text);
		free(tb.text);
	}
	free_names(names, n);
}

/* ---- details ---------------------------------------------------------- */

static void test_defaults_and_overrides(void)
{
	static kept k;
	rt_batch_error err;

	memset(&k, 0, sizeof(k));
	CHECK_INT(rt_batch_parse_file(path_in("valid", "defaults.yaml"),
	                              keep_cb, &k, &err), 0);
	CHECK_INT(k.n, 3);
	/* 0: everything from defaults, with an id */
	CHECK_STR(k.r[0].pool, "rbd");
	CHECK_STR(k.r[0].ns, "csi");
	CHECK_STR(k.r[0].tracker, "csi.snap.0001");
	CHECK_INT(k.r[0].op, RT_OP_ADD);
	CHECK_INT(k.r[0].has_id, 1);
	CHECK_STR(k.r[0].id, "req-17");
	CHECK_INT(k.r[0].nrefs, 2);
	CHECK_STR(k.r[0].keys[0], "vol-a");
	CHECK_STR(k.r[0].keys[1], "vol-b");
	CHECK_INT(k.r[0].types[0], RT_REF_NORMAL);
	CHECK_INT(k.r[0].types[1], RT_REF_NORMAL);
	CHECK_INT(k.r[0].line, 7);
	CHECK_INT(k.r[0].column, 5);
	/* 1: pool overridden, namespace inherited; removes then masks */
	CHECK_STR(k.r[1].pool, "other");
	CHECK_STR(k.r[1].ns, "csi");
	CHECK_INT(k.r[1].op, RT_OP_REMOVE);
	CHECK_INT(k.r[1].has_id, 0);
	CHECK_INT(k.r[1].nrefs, 2);
	CHECK_STR(k.r[1].keys[0], "vol-c");
	CHECK_INT(k.r[1].types[0], RT_REF_NORMAL);
	CHECK_STR(k.r[1].keys[1], "vol-d");
	CHECK_INT(k.r[1].types[1], RT_REF_MASK);
	CHECK_INT(k.r[1].line, 10);
	/* 2: namespace overridden back to the default one */
	CHECK_STR(k.r[2].pool, "rbd");
	CHECK_STR(k.r[2].ns, "");
	CHECK_INT(k.r[2].op, RT_OP_REMOVE);
	CHECK_INT(k.r[2].nrefs, 2);
	CHECK_INT(k.r[2].types[0], RT_REF_MASK);
	CHECK_INT(k.r[2].types[1], RT_REF_MASK);
}

static void test_quoted_and_plain_strings(void)
{
	static kept k;
	static const char *const quoted[] = {
		"123", "0x1F", "yes", "no", "on", "off", "~", "null", "1.5",
		"2001-12-14", "1:30", "<<", "=", "42", "true", "1_000"};
	static const char *const plain[] = {
		"08", "09", "1e5", "1.5e5", "0o17", "1:60", "2001-1-1", ".5x",
		"+.5", "12-34", "v1.0", "0b2", "0x", "1__a", "-", ".inf0",
		"yes_no", "Nul", "TRUE1", "0:30"};
	rt_batch_error err;
	size_t i;

	memset(&k, 0, sizeof(k));
	CHECK_INT(rt_batch_parse_file(path_in("valid", "quoted-scalars.yaml"),
	                              keep_cb, &k, &err), 0);
	CHECK_INT(k.n, 2);
	CHECK_STR(k.r[0].pool, "123");
	CHECK_STR(k.r[0].tracker, "0001");
	CHECK_INT(k.r[0].nrefs, sizeof(quoted) / sizeof(quoted[0]));
	for (i = 0; i < k.r[0].nrefs && i < sizeof(quoted) / sizeof(*quoted);
	     i++)
		CHECK_STR(k.r[0].keys[i], quoted[i]);
	CHECK_STR(k.r[1].tracker, "007");
	CHECK_STR(k.r[1].ns, "false");
	CHECK_STR(k.r[1].keys[0], "0");

	memset(&k, 0, sizeof(k));
	CHECK_INT(rt_batch_parse_file(path_in("valid", "plain-strings.yaml"),
	                              keep_cb, &k, &err), 0);
	CHECK_INT(k.n, 1);
	CHECK_STR(k.r[0].tracker, "1.2.3");
	CHECK_INT(k.r[0].nrefs, sizeof(plain) / sizeof(plain[0]));
	for (i = 0; i < k.r[0].nrefs && i < sizeof(plain) / sizeof(*plain);
	     i++)
		CHECK_STR(k.r[0].keys[i], plain[i]);
}

static void test_odd_but_valid(void)
{
	static kept k;
	rt_batch_error err;

	/* sorted keys: version last, defaults still apply */
	memset(&k, 0, sizeof(k));
	CHECK_INT(rt_batch_parse_file(path_in("valid", "sorted-keys.yaml"),
	                              keep_cb, &k, &err), 0);
	CHECK_INT(k.n, 2);
	CHECK_STR(k.r[0].ns, "ns1");
	CHECK_STR(k.r[0].id, "r1");
	/* mask came before remove in the file, so its ref comes first */
	CHECK_STR(k.r[1].keys[0], "k2");
	CHECK_INT(k.r[1].types[0], RT_REF_MASK);
	CHECK_STR(k.r[1].keys[1], "k3");
	CHECK_INT(k.r[1].types[1], RT_REF_NORMAL);

	/* block scalars and a folded plain scalar */
	memset(&k, 0, sizeof(k));
	CHECK_INT(rt_batch_parse_file(path_in("valid", "block-scalars.yaml"),
	                              keep_cb, &k, &err), 0);
	CHECK_STR(k.r[0].tracker, "tracker-with-block");
	CHECK_STR(k.r[0].keys[0], "folded key");
	CHECK_STR(k.r[0].keys[1], "literal");
	memset(&k, 0, sizeof(k));
	CHECK_INT(rt_batch_parse_file(path_in("valid", "multiline-plain.yaml"),
	                              keep_cb, &k, &err), 0);
	CHECK_STR(k.r[0].tracker, "first second");

	/* a BOM and CRLF: positions as an editor shows them */
	memset(&k, 0, sizeof(k));
	CHECK_INT(rt_batch_parse_file(path_in("valid", "bom-crlf.yaml"),
	                              keep_cb, &k, &err), 0);
	CHECK_INT(k.n, 1);
	CHECK_INT(k.r[0].line, 4);
	CHECK_INT(k.r[0].column, 5);

	/* unicode, and a default namespace of "" when none is given */
	memset(&k, 0, sizeof(k));
	CHECK_INT(rt_batch_parse_file(path_in("valid", "unicode.yaml"),
	                              keep_cb, &k, &err), 0);
	CHECK_STR(k.r[0].pool, "donn\xc3\xa9" "es");
	CHECK_STR(k.r[0].keys[2], "emoji-\xf0\x9f\x9a\x80");
	memset(&k, 0, sizeof(k));
	CHECK_INT(rt_batch_parse_file(path_in("valid", "minimal.yaml"),
	                              keep_cb, &k, &err), 0);
	CHECK_STR(k.r[0].ns, "");
	CHECK_INT(k.r[0].has_id, 0);
}

static int parse_str(const char *s, trace *t, rt_batch_error *err)
{
	return rt_batch_parse_buffer(s, strlen(s), trace_cb, t, err);
}

static void test_callback_abort(void)
{
	trace t = {0};
	rt_batch_error err;
	const char *doc = "version: 1\ndefaults: {pool: p}\nrequests:\n"
	                  "  - {tracker: a, add: [k]}\n"
	                  "  - {tracker: b, add: [k]}\n"
	                  "  - {tracker: c, add: [k]}\n";

	t.stop_at = 2;
	CHECK_INT(parse_str(doc, &t, &err), 42);
	CHECK_INT(t.calls, 2);
	CHECK_INT(err.line, 5);
	CHECK_INT(err.column, 5);
	CHECK(strstr(err.message, "returned 42") != NULL);
	free(t.text);

	/* a later error fails the call after earlier requests went out */
	memset(&t, 0, sizeof(t));
	CHECK_INT(parse_str("version: 1\ndefaults: {pool: p}\nrequests:\n"
	                    "  - {tracker: a, add: [k]}\n"
	                    "  - {tracker: b, add: [k, k]}\n",
	                    &t, &err), RT_EINVAL);
	CHECK_INT(t.calls, 1);
	CHECK_INT(err.line, 5);
	CHECK_INT(err.column, 27);
	free(t.text);

	/* so does a version that turns out wrong after the requests */
	memset(&t, 0, sizeof(t));
	CHECK_INT(parse_str("defaults: {pool: p}\nrequests:\n"
	                    "  - {tracker: a, add: [k]}\nversion: 3\n",
	                    &t, &err), RT_EINVAL);
	CHECK_INT(t.calls, 1);
	CHECK(strstr(err.message, "unsupported") != NULL);
	free(t.text);
}

static void test_null_cb_and_err(void)
{
	const char *doc = "version: 1\nrequests: [{tracker: t, pool: p, "
	                  "add: [a]}]\n";

	CHECK_INT(rt_batch_parse_buffer(doc, strlen(doc), NULL, NULL, NULL), 0);
	CHECK_INT(rt_batch_parse_buffer("version: 2", 10, NULL, NULL, NULL),
	          RT_EINVAL);
	CHECK_INT(rt_batch_parse_file("/nonexistent/batch.yaml", NULL, NULL,
	                              NULL), RT_EIO);
}

static void test_unreadable(void)
{
	rt_batch_error err;

	CHECK_INT(rt_batch_parse_file("/nonexistent/batch.yaml", NULL, NULL,
	                              &err), RT_EIO);
	CHECK_INT(err.line, 0);
	CHECK(strstr(err.message, "cannot open") != NULL);
	CHECK_INT(rt_batch_parse_file("/", NULL, NULL, &err), RT_EIO);
	CHECK(strstr(err.message, "directory") != NULL);
}

/* Appends a batch with one request whose fields have the given sizes. */
static char *doc_with(size_t tracker, size_t key, size_t pool, size_t ns,
                      size_t id, size_t nkeys)
{
	size_t cap = tracker + key * nkeys + nkeys * 16 + pool + ns + id + 256;
	char *d = malloc(cap), *o = d;
	size_t i;

	o += sprintf(o, "version: 1\ndefaults:\n  pool: ");
	memset(o, 'p', pool), o += pool;
	o += sprintf(o, "\n  namespace: '");
	memset(o, 'n', ns), o += ns;
	o += sprintf(o, "'\nrequests:\n  - tracker: ");
	memset(o, 't', tracker), o += tracker;
	o += sprintf(o, "\n    id: ");
	memset(o, 'i', id), o += id;
	o += sprintf(o, "\n    add:\n");
	for (i = 0; i < nkeys; i++) {
		int w = sprintf(o, "      - k%zu", i);

		o += w;
		if (key > (size_t)w - 8) {
			memset(o, 'k', key - ((size_t)w - 8));
			o += key - ((size_t)w - 8);
		}
		*o++ = '\n';
	}
	*o = '\0';
	return d;
}

static int try_doc(size_t tracker, size_t key, size_t pool, size_t ns,
                   size_t id, size_t nkeys, rt_batch_error *err)
{
	char *d = doc_with(tracker, key, pool, ns, id, nkeys);
	int rc = rt_batch_parse_buffer(d, strlen(d), NULL, NULL, err);

	free(d);
	return rc;
}

static void test_limits(void)
{
	rt_batch_error err;

	/* every limit is inclusive; one byte more is refused, naming it */
	CHECK_INT(try_doc(RT_TRACKER_NAME_MAX, RT_KEY_MAX, RT_POOL_NAME_MAX,
	                  RT_NAMESPACE_MAX, RT_BATCH_REQUEST_ID_MAX,
	                  RT_BATCH_KEYS_MAX, &err), 0);
	CHECK_INT(try_doc(RT_TRACKER_NAME_MAX + 1, 8, 8, 8, 8, 1, &err),
	          RT_EINVAL);
	CHECK(strstr(err.message, "RT_TRACKER_NAME_MAX") != NULL);
	CHECK_INT(try_doc(8, RT_KEY_MAX + 1, 8, 8, 8, 1, &err), RT_EINVAL);
	CHECK(strstr(err.message, "RT_KEY_MAX") != NULL);
	CHECK_INT(try_doc(8, 8, RT_POOL_NAME_MAX + 1, 8, 8, 1, &err),
	          RT_EINVAL);
	CHECK(strstr(err.message, "RT_POOL_NAME_MAX") != NULL);
	CHECK_INT(try_doc(8, 8, 8, RT_NAMESPACE_MAX + 1, 8, 1, &err),
	          RT_EINVAL);
	CHECK(strstr(err.message, "RT_NAMESPACE_MAX") != NULL);
	CHECK_INT(try_doc(8, 8, 8, 8, RT_BATCH_REQUEST_ID_MAX + 1, 1, &err),
	          RT_EINVAL);
	CHECK(strstr(err.message, "RT_BATCH_REQUEST_ID_MAX") != NULL);
	CHECK_INT(try_doc(8, 8, 8, 8, 8, RT_BATCH_KEYS_MAX + 1, &err),
	          RT_EINVAL);
	CHECK(strstr(err.message, "RT_BATCH_KEYS_MAX") != NULL);
	CHECK_INT(err.line, 9 + RT_BATCH_KEYS_MAX);
	CHECK_INT(err.column, 9);
}

static char tmpdir[256];

static const char *tmp_path(const char *name)
{
	static char buf[512];

	if (!tmpdir[0]) {
		const char *t = getenv("TMPDIR");

		snprintf(tmpdir, sizeof(tmpdir), "%s/rt-batch-XXXXXX",
		         t && *t ? t : "/tmp");
		if (!mkdtemp(tmpdir))
			abort();
	}
	snprintf(buf, sizeof(buf), "%s/%s", tmpdir, name);
	return buf;
}

static void test_too_large_file(void)
{
	rt_batch_error err;
	const char *path = tmp_path("sparse.yaml");
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);

	/* a sparse file: the size check must come before any reading */
	CHECK(fd >= 0);
	CHECK_INT(ftruncate(fd, (off_t)RT_BATCH_MAX_BYTES + 1), 0);
	close(fd);
	CHECK_INT(rt_batch_parse_file(path, NULL, NULL, &err), RT_EINVAL);
	CHECK_INT(err.line, 0);
	CHECK_INT(err.column, 0);
	CHECK(strstr(err.message, "larger than the 1073741824-byte limit") !=
	      NULL);
	/* exactly at the limit the file is read: its first byte, NUL, is
	 * the error */
	fd = open(path, O_RDWR);
	CHECK_INT(ftruncate(fd, (off_t)RT_BATCH_MAX_BYTES), 0);
	close(fd);
	CHECK_INT(rt_batch_parse_file(path, NULL, NULL, &err), RT_EINVAL);
	CHECK_INT(err.line, 1);
	CHECK(strstr(err.message, "NUL byte") != NULL);
	unlink(path);
}

/* Writes `len` bytes of a valid batch prefix, then comments, into fd. */
static void write_stream(int fd, size_t len)
{
	static const char head[] = "version: 1\nrequests: [{tracker: t, "
	                           "pool: p, add: [a]}]\n";
	char line[64];
	size_t done = 0;

	memset(line, ' ', sizeof(line));
	line[0] = '#';
	line[sizeof(line) - 1] = '\n';
	if (write(fd, head, sizeof(head) - 1) < 0)
		return;
	done = sizeof(head) - 1;
	while (done < len) {
		size_t n = len - done < sizeof(line) ? len - done : sizeof(line);

		if (n < sizeof(line))
			line[n - 1] = '\n';
		if (write(fd, line, n) < 0)
			return;
		done += n;
	}
}

static int parse_fifo(size_t len, uint64_t limit, rt_batch_error *err)
{
	const char *path = tmp_path("fifo");
	pid_t pid;
	int rc, status;

	unlink(path);
	if (mkfifo(path, 0600) != 0)
		return -999;
	pid = fork();
	if (pid == 0) {
		int fd = open(path, O_WRONLY);

		signal(SIGPIPE, SIG_DFL);
		write_stream(fd, len);
		_exit(0);
	}
	rc = rt__batch_parse_path(path, limit, NULL, NULL, err);
	/* the reader may stop early; the writer then dies of SIGPIPE */
	waitpid(pid, &status, 0);
	unlink(path);
	return rc;
}

static void test_too_large_stream(void)
{
	rt_batch_error err;

	/* a pipe has no size up front: the limit is counted while reading */
	CHECK_INT(parse_fifo(100000, 100000, &err), 0);
	CHECK_INT(parse_fifo(100001, 100000, &err), RT_EINVAL);
	CHECK_INT(err.line, 0);
	CHECK(strstr(err.message, "larger than the 100000-byte limit") != NULL);
}

static void test_giant_node(void)
{
	size_t n = (size_t)RT_BATCH_MAX_NODE_BYTES + 65536, i;
	char *d = malloc(n + 128), *o = d;
	rt_batch_error err;

	/* one scalar over the node limit is refused before libyaml holds
	 * all of it */
	o += sprintf(o, "version: 1\nrequests:\n  - tracker: \"");
	for (i = 0; i < n; i++)
		*o++ = 'x';
	o += sprintf(o, "\"\n    pool: p\n    add: [a]\n");
	CHECK_INT(rt_batch_parse_buffer(d, (size_t)(o - d), NULL, NULL, &err),
	          RT_EINVAL);
	CHECK(strstr(err.message, "RT_BATCH_MAX_NODE_BYTES") != NULL);
	CHECK_INT(err.line, 3);
	free(d);
}

static long max_rss_kib(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_maxrss;
}

/* Peak RSS in KiB (VmHWM), or getrusage's peak where /proc is absent. */
static long peak_rss_kib(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	long kib = -1;

	if (f) {
		char line[256];

		while (fgets(line, sizeof(line), f))
			if (strncmp(line, "VmHWM:", 6) == 0)
				kib = atol(line + 6);
		fclose(f);
	}
	return kib >= 0 ? kib : max_rss_kib();
}

/* Resets the peak to the current RSS and returns it: a peak left by an
 * earlier case would otherwise hide the parser's own growth.  Linux does
 * this on "5" to clear_refs (since 4.0); where that fails, the case still
 * runs first in main() for the same reason. */
static long reset_peak_rss_kib(void)
{
	FILE *f = fopen("/proc/self/clear_refs", "w");

	if (f) {
		fputs("5", f);
		fclose(f);
	}
	return peak_rss_kib();
}

/* Valgrind and ASan keep their own books on memory, so RSS means nothing
 * under them; the parse is still checked, with fewer requests. */
static int memory_is_instrumented(void)
{
	const char *pre = getenv("LD_PRELOAD");

#if defined(__SANITIZE_ADDRESS__)
	return 1;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
	return 1;
#endif
#endif
	return pre && strstr(pre, "vgpreload") != NULL;
}

typedef struct counter {
	size_t requests, refs;
} counter;

static int count_cb(void *arg, size_t index, const rt_request *r)
{
	counter *c = arg;

	if (index != c->requests)
		return -1;
	c->requests++;
	c->refs += r->nrefs;
	return 0;
}

static int write_big_batch(const char *path, size_t nreq)
{
	FILE *f = fopen(path, "w");
	size_t i;

	if (!f)
		return -1;
	fprintf(f, "version: 1\ndefaults: {pool: rbd, namespace: csi}\n"
	           "requests:\n");
	for (i = 0; i < nreq; i++)
		fprintf(f, "  - tracker: csi.snap.%08zu\n"
		           "    id: request-%08zu\n"
		           "    %s: [csi-vol-%08zu-aaaaaaaaaaaaaaaaaaaaaaaaa, "
		           "csi-vol-%08zu-bbbbbbbbbbbbbbbbbbbbbbbbb, "
		           "csi-vol-%08zu-ccccccccccccccccccccccccc]\n",
		        i, i, i % 2 ? "add" : "remove", i, i, i);
	return fclose(f);
}

static void test_streaming_memory(void)
{
	int instrumented = memory_is_instrumented();
	size_t nreq = instrumented ? 5000 : 200000;
	const char *path = tmp_path("big.yaml");
	counter c = {0, 0};
	rt_batch_error err;
	struct stat st;
	long before, after;

	CHECK_INT(write_big_batch(path, nreq), 0);
	CHECK_INT(stat(path, &st), 0);
	before = reset_peak_rss_kib();
	CHECK_INT(rt_batch_parse_file(path, count_cb, &c, &err), 0);
	after = peak_rss_kib();
	CHECK_INT(c.requests, nreq);
	CHECK_INT(c.refs, 3 * nreq);
	if (!instrumented) {
		/* the file is ~38 MiB; a parser that kept it would grow by
		 * that much, one that streams by its buffers alone */
		CHECK(st.st_size > 32L * 1024 * 1024);
		if (after - before >= 16 * 1024)
			fprintf(stderr, "peak RSS grew by %ld KiB\n",
			        after - before);
		CHECK(after - before < 16 * 1024);
	}
	unlink(path);
}

static void test_resolver(void)
{
	static const struct {
		const char *s;
		rt__ytype t;
	} cases[] = {
		{"", RT__Y_NULL}, {"~", RT__Y_NULL}, {"null", RT__Y_NULL},
		{"NULL", RT__Y_NULL}, {"nULL", RT__Y_STR},
		{"yes", RT__Y_BOOL}, {"Off", RT__Y_BOOL}, {"yEs", RT__Y_STR},
		{"y", RT__Y_STR}, {"0", RT__Y_INT}, {"-0", RT__Y_INT},
		{"0b1_0", RT__Y_INT}, {"0b", RT__Y_STR}, {"0x_", RT__Y_INT},
		{"017", RT__Y_INT}, {"08", RT__Y_STR}, {"1_000", RT__Y_INT},
		{"190:20:30", RT__Y_INT}, {"1:60", RT__Y_STR},
		{"1:5", RT__Y_INT}, {"0:30", RT__Y_STR}, {"1.", RT__Y_FLOAT},
		{".5", RT__Y_FLOAT}, {"+.5", RT__Y_STR}, {"1e5", RT__Y_STR},
		{"1.0e5", RT__Y_STR}, {"1.0e+5", RT__Y_FLOAT},
		{"-.inf", RT__Y_FLOAT}, {"-.nan", RT__Y_STR},
		{".NaN", RT__Y_FLOAT}, {"0:30.5", RT__Y_FLOAT},
		{"2001-12-14", RT__Y_TIMESTAMP},
		{"2001-12-14t21:59:43.10-05:00", RT__Y_TIMESTAMP},
		{"2001-12-14 21:59:43.10 -5", RT__Y_TIMESTAMP},
		{"2001-1-1", RT__Y_STR}, {"<<", RT__Y_MERGE},
		{"=", RT__Y_VALUE}, {"vol-1", RT__Y_STR},
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		rt__ytype t = rt__yaml_resolve_plain(cases[i].s,
		                                     strlen(cases[i].s));

		if (t != cases[i].t)
			fprintf(stderr, "resolve(\"%s\") = %d, want %d\n",
			        cases[i].s, (int)t, (int)cases[i].t);
		CHECK_INT(t, cases[i].t);
	}
	CHECK_INT(rt__yaml_number_is_one(RT__Y_INT, "0b1", 3), 1);
	CHECK_INT(rt__yaml_number_is_one(RT__Y_INT, "0x0_1", 5), 1);
	CHECK_INT(rt__yaml_number_is_one(RT__Y_INT, "-1", 2), 0);
	CHECK_INT(rt__yaml_number_is_one(RT__Y_INT, "1:0", 3), 0);
	CHECK_INT(rt__yaml_number_is_one(RT__Y_INT, "0x", 2), -1);
	CHECK_INT(rt__yaml_number_is_one(RT__Y_FLOAT, "1.000", 5), 1);
	CHECK_INT(rt__yaml_number_is_one(RT__Y_FLOAT, "0:1.", 4), 1);
	CHECK_INT(rt__yaml_number_is_one(RT__Y_FLOAT, "1.5", 3), 0);
}

/* ---- modes ------------------------------------------------------------ */

static int mode_check(const char *path)
{
	rt_batch_error err;
	int rc = rt_batch_parse_file(path, NULL, NULL, &err);

	if (rc == 0) {
		printf("ok\n");
		return 0;
	}
	printf("%u:%u: %s\n", err.line, err.column, err.message);
	return rc == RT_EINVAL ? 1 : 2;
}

static int mode_resolve(void)
{
	static const char *const names[] = {"str", "null", "bool", "int",
	                                    "float", "timestamp", "merge",
	                                    "value"};
	char line[4096];

	while (fgets(line, sizeof(line), stdin)) {
		size_t n = strcspn(line, "\n");
		rt__ytype t = rt__yaml_resolve_plain(line, n);

		if (t == RT__Y_INT || t == RT__Y_FLOAT)
			printf("%s %d\n", names[t],
			       rt__yaml_number_is_one(t, line, n) == 1);
		else
			printf("%s\n", names[t]);
	}
	return 0;
}

static int mode_stats(const char *path)
{
	counter c = {0, 0};
	rt_batch_error err;
	struct timespec a, b;
	double secs;
	long before = reset_peak_rss_kib();
	int rc;

	clock_gettime(CLOCK_MONOTONIC, &a);
	rc = rt_batch_parse_file(path, count_cb, &c, &err);
	clock_gettime(CLOCK_MONOTONIC, &b);
	secs = (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9;
	if (rc) {
		printf("%u:%u: %s\n", err.line, err.column, err.message);
		return 1;
	}
	printf("requests %zu keys %zu seconds %.3f requests/s %.0f "
	       "peak_rss_kib %ld (before parse %ld)\n", c.requests, c.refs,
	       secs, (double)c.requests / secs, peak_rss_kib(), before);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 3 && strcmp(argv[1], "--check") == 0)
		return mode_check(argv[2]);
	if (argc == 2 && strcmp(argv[1], "--resolve") == 0)
		return mode_resolve();
	if (argc == 3 && strcmp(argv[1], "--stats") == 0)
		return mode_stats(argv[2]);
	if (argc == 4 && strcmp(argv[1], "--generate") == 0)
		return write_big_batch(argv[3], strtoul(argv[2], NULL, 10)) ? 1 : 0;
	if (argc != 1) {
		fprintf(stderr, "usage: %s [--check FILE | --resolve | "
		        "--stats FILE | --generate N FILE]\n", argv[0]);
		return 64;
	}
	RUN(test_streaming_memory); /* first: see reset_peak_rss_kib() */
	RUN(test_valid_corpus);
	RUN(test_invalid_corpus);
	RUN(test_defaults_and_overrides);
	RUN(test_quoted_and_plain_strings);
	RUN(test_odd_but_valid);
	RUN(test_callback_abort);
	RUN(test_null_cb_and_err);
	RUN(test_unreadable);
	RUN(test_limits);
	RUN(test_too_large_file);
	RUN(test_too_large_stream);
	RUN(test_giant_node);
	RUN(test_resolver);
	if (tmpdir[0])
		rmdir(tmpdir);
	return check_summary("test_batch");
}
