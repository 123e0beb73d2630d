/*
 * batch.c - batch files: one streaming pass over libyaml's events.
 *
 * The parser is a recursive descent over the event stream.  Each node is
 * checked against format v1 (reftrack-batch(5), schemas/batch.schema.json)
 * the moment it arrives, and each request goes to the caller's callback as
 * soon as its mapping closes; nothing of it is kept afterwards.  So memory
 * is one request plus libyaml's buffers, whatever the file size.  The
 * price is one ordering rule: `defaults` must precede `requests`, since a
 * request handed on cannot be taken back.
 *
 * Types are the ones a YAML 1.1 loader gives (batch_scalar.c): the schema
 * is published for tools that load YAML into JSON values, and this parser
 * must reach the same verdict they do.  Anything that could make a node
 * costly is refused where it appears: anchors and aliases (alias bombs),
 * tags beyond the standard ones, giant nodes (batch_input.c).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml.h>

#include "reftrack/batch.h"
#include "batch_input.h"
#include "batch_internal.h"
#include "batch_scalar.h"

#define TAG_PREFIX "tag:yaml.org,2002:"
#define NONE ((size_t)-1)

enum field {
	F_VERSION, F_DEFAULTS, F_REQUESTS,
	F_TRACKER, F_POOL, F_NAMESPACE, F_ID, F_ADD, F_REMOVE, F_MASK,
	F_COUNT
};

static const char *const field_names[F_COUNT] = {
	"version", "defaults", "requests",
	"tracker", "pool", "namespace", "id", "add", "remove", "mask"
};

#define BIT(f) (1u << (f))
#define TOP_FIELDS (BIT(F_VERSION) | BIT(F_DEFAULTS) | BIT(F_REQUESTS))
#define DEFAULTS_FIELDS (BIT(F_POOL) | BIT(F_NAMESPACE))
#define OP_FIELDS (BIT(F_ADD) | BIT(F_REMOVE) | BIT(F_MASK))
#define REQUEST_FIELDS (BIT(F_TRACKER) | BIT(F_POOL) | BIT(F_NAMESPACE) | \
                        BIT(F_ID) | OP_FIELDS)

/* Where a node sits, turned into text ("requests[3].add[0]") only when a
 * message needs it, since most nodes are fine. */
enum ctx { C_TOP, C_DEFAULTS, C_REQUEST };
typedef struct where {
	enum ctx ctx;
	size_t req;  /* request index, for C_REQUEST */
	int field;   /* an enum field, or -1 for the mapping itself */
	size_t item; /* index in a list, or NONE */
} where;

/* The fields one mapping has shown so far, and where. */
typedef struct fields {
	unsigned seen;
	unsigned line[F_COUNT], column[F_COUNT];
} fields;

/* Rules for one kind of string; lengths are bytes of UTF-8. */
typedef struct strspec {
	const char *what;
	size_t min, max;
	const char *limit;
} strspec;

static const strspec SPEC_TRACKER = {"tracker name", 1, RT_TRACKER_NAME_MAX,
                                     "RT_TRACKER_NAME_MAX"};
static const strspec SPEC_KEY = {"key", 1, RT_KEY_MAX, "RT_KEY_MAX"};
static const strspec SPEC_POOL = {"pool name", 1, RT_POOL_NAME_MAX,
                                  "RT_POOL_NAME_MAX"};
static const strspec SPEC_NS = {"namespace", 0, RT_NAMESPACE_MAX,
                                "RT_NAMESPACE_MAX"};
static const strspec SPEC_ID = {"request id", 1, RT_BATCH_REQUEST_ID_MAX,
                                "RT_BATCH_REQUEST_ID_MAX"};

/* One key as read; strings live in req.text, addressed by offset because
 * the text buffer moves as it grows. */
typedef struct keyrec {
	size_t off, len;
	const char *s; /* set once the request is complete */
	unsigned line, column;
	uint32_t seq;  /* order within the request */
	uint32_t item; /* index within its list */
	int field;     /* F_ADD, F_REMOVE or F_MASK */
} keyrec;

/* The request being read.  Buffers keep their capacity from one request
 * to the next, so a steady stream of requests allocates nothing. */
typedef struct req {
	char *text;
	size_t text_len, text_cap;
	keyrec *keys;
	size_t nkeys, keys_cap;
	rt_ref *refs;
	size_t refs_cap;
	size_t tracker, pool, ns, id; /* offsets in text, or NONE */
	unsigned line, column;
} req;

typedef struct bp {
	yaml_parser_t yp;
	int yp_ready;
	yaml_event_t ev;
	int have_ev;
	rt__bin in;
	rt_batch_error *err;
	rt_batch_error dummy_err;
	rt_request_cb cb;
	void *arg;
	int have_pool;
	char def_pool[RT_POOL_NAME_MAX + 1];
	char def_ns[RT_NAMESPACE_MAX + 1];
	size_t nreq;
	req rq;
	char where_buf[96];
} bp;

/* ---- messages --------------------------------------------------------- */

static const char *where_str(bp *p, where w)
{
	char *b = p->where_buf;
	size_t cap = sizeof(p->where_buf);
	int n = 0;

	switch (w.ctx) {
	case C_TOP:
		n = snprintf(b, cap, "%s",
		             w.field < 0 ? "top level" : field_names[w.field]);
		break;
	case C_DEFAULTS:
		n = snprintf(b, cap, "defaults");
		if (w.field >= 0)
			n += snprintf(b + n, cap - (size_t)n, ".%s",
			              field_names[w.field]);
		break;
	case C_REQUEST:
		n = snprintf(b, cap, "requests[%zu]", w.req);
		if (w.field >= 0)
			n += snprintf(b + n, cap - (size_t)n, ".%s",
			              field_names[w.field]);
		break;
	}
	if (w.item != NONE)
		snprintf(b + n, cap - (size_t)n, "[%zu]", w.item);
	return b;
}

/* s as a short double-quoted excerpt: escapes what a terminal would act
 * on (C0 and C1 controls), cuts long text on a character boundary. */
static const char *quote(char *buf, size_t cap, const char *s, size_t len)
{
	size_t o = 0, i = 0, limit = cap - 6; /* room for `..."` and NUL */

	buf[o++] = '"';
	while (i < len) {
		unsigned char c = (unsigned char)s[i];
		char piece[8];
		size_t plen, clen = 1;

		if (c == '"' || c == '\\') {
			plen = (size_t)snprintf(piece, sizeof(piece), "\\%c", c);
		} else if (c < 0x20 || c == 0x7F) {
			plen = (size_t)snprintf(piece, sizeof(piece), "\\x%02X",
			                        c);
		} else if (c == 0xC2 && i + 1 < len &&
		           (unsigned char)s[i + 1] < 0xA0) {
			plen = (size_t)snprintf(piece, sizeof(piece),
			                        "\\u%04X",
			                        (unsigned char)s[i + 1] & 0xFF);
			clen = 2;
		} else {
			clen = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 1;
			if (i + clen > len)
				clen = len - i;
			memcpy(piece, s + i, clen);
			plen = clen;
		}
		if (o + plen > limit) {
			memcpy(buf + o, "...", 3);
			o += 3;
			break;
		}
		memcpy(buf + o, piece, plen);
		o += plen;
		i += clen;
	}
	buf[o++] = '"';
	buf[o] = '\0';
	return buf;
}

__attribute__((format(printf, 4, 5)))
static int fail_at(bp *p, unsigned line, unsigned column, const char *fmt,
                   ...)
{
	va_list ap;

	p->err->line = line;
	p->err->column = column;
	va_start(ap, fmt);
	vsnprintf(p->err->message, sizeof(p->err->message), fmt, ap);
	va_end(ap);
	return RT_EINVAL;
}

/* libyaml marks count from 0; ours from 1. */
#define LINE(m) ((unsigned)(m).line + 1)
#define COL(m) ((unsigned)(m).column + 1)
#define AT(p) LINE((p)->ev.start_mark), COL((p)->ev.start_mark)

static int fail_nomem(bp *p)
{
	p->err->line = p->err->column = 0;
	snprintf(p->err->message, sizeof(p->err->message), "out of memory");
	return RT_ENOMEM;
}

/* ---- events ----------------------------------------------------------- */

static int yaml_failed(bp *p)
{
	const yaml_parser_t *y = &p->yp;

	if (p->in.failed) {
		p->err->line = p->in.err_line;
		p->err->column = p->in.err_column;
		snprintf(p->err->message, sizeof(p->err->message), "%s",
		         p->in.err_msg);
		return p->in.failed;
	}
	if (y->error == YAML_MEMORY_ERROR)
		return fail_nomem(p);
	if (y->error == YAML_READER_ERROR)
		return fail_at(p, p->in.line, p->in.column, "invalid input: %s",
		               y->problem ? y->problem : "unreadable");
	if (y->context)
		return fail_at(p, LINE(y->problem_mark), COL(y->problem_mark),
		               "invalid YAML: %s, %s at line %u, column %u",
		               y->problem ? y->problem : "syntax error",
		               y->context, LINE(y->context_mark),
		               COL(y->context_mark));
	return fail_at(p, LINE(y->problem_mark), COL(y->problem_mark),
	               "invalid YAML: %s",
	               y->problem ? y->problem : "syntax error");
}

static int tag_is(const char *tag, const char *name)
{
	return strncmp(tag, TAG_PREFIX, sizeof(TAG_PREFIX) - 1) == 0 &&
	       strcmp(tag + sizeof(TAG_PREFIX) - 1, name) == 0;
}

/* Properties no batch needs are refused on sight: anchors and aliases
 * (the cheapest way to blow up a loader), and tags beyond the standard
 * ones, each on its own kind of node. */
static int check_props(bp *p)
{
	static const char *const scalar_tags[] = {"str", "int", "float",
	                                          "bool", "null", NULL};
	static const char *const seq_tags[] = {"seq", NULL};
	static const char *const map_tags[] = {"map", NULL};
	const yaml_event_t *e = &p->ev;
	const char *anchor, *tag;
	const char *const *ok;
	char q[80];

	switch (e->type) {
	case YAML_ALIAS_EVENT:
		return fail_at(p, AT(p), "alias *%s: anchors and aliases are "
		               "not allowed in a batch file",
		               (const char *)e->data.alias.anchor);
	case YAML_SCALAR_EVENT:
		anchor = (const char *)e->data.scalar.anchor;
		tag = (const char *)e->data.scalar.tag;
		ok = scalar_tags;
		break;
	case YAML_SEQUENCE_START_EVENT:
		anchor = (const char *)e->data.sequence_start.anchor;
		tag = (const char *)e->data.sequence_start.tag;
		ok = seq_tags;
		break;
	case YAML_MAPPING_START_EVENT:
		anchor = (const char *)e->data.mapping_start.anchor;
		tag = (const char *)e->data.mapping_start.tag;
		ok = map_tags;
		break;
	default:
		return 0;
	}
	if (anchor)
		return fail_at(p, AT(p), "anchor &%s: anchors and aliases are "
		               "not allowed in a batch file", anchor);
	if (!tag)
		return 0;
	for (; *ok; ok++)
		if (tag_is(tag, *ok))
			return 0;
	return fail_at(p, AT(p), "unsupported tag %s here: a batch file uses "
	               "only !!str, !!int, !!float, !!bool, !!null on "
	               "scalars, !!seq on lists, !!map on mappings",
	               quote(q, sizeof(q), tag, strlen(tag)));
}

static int next(bp *p)
{
	if (p->have_ev) {
		yaml_event_delete(&p->ev);
		p->have_ev = 0;
	}
	if (!yaml_parser_parse(&p->yp, &p->ev))
		return yaml_failed(p);
	p->have_ev = 1;
	p->in.event_mark = p->in.total;
	return check_props(p);
}

static rt__ytype scalar_type(const yaml_event_t *e)
{
	const char *tag = (const char *)e->data.scalar.tag;

	if (!tag)
		return e->data.scalar.style == YAML_PLAIN_SCALAR_STYLE
		               ? rt__yaml_resolve_plain(
		                         (const char *)e->data.scalar.value,
		                         e->data.scalar.length)
		               : RT__Y_STR;
	/* check_props() let through only these */
	if (tag_is(tag, "int"))
		return RT__Y_INT;
	if (tag_is(tag, "float"))
		return RT__Y_FLOAT;
	if (tag_is(tag, "bool"))
		return RT__Y_BOOL;
	if (tag_is(tag, "null"))
		return RT__Y_NULL;
	return RT__Y_STR;
}

static const char *found(const bp *p)
{
	switch (p->ev.type) {
	case YAML_MAPPING_START_EVENT:
		return "a mapping";
	case YAML_SEQUENCE_START_EVENT:
		return "a list";
	case YAML_SCALAR_EVENT:
		return rt__yaml_type_name(scalar_type(&p->ev));
	default:
		return "nothing";
	}
}

/* The current event must be a string that `spec` allows; on success *s and
 * *len point into the event, valid until the next next(). */
static int expect_string(bp *p, where w, const strspec *spec, const char **s,
                         size_t *len)
{
	const yaml_event_t *e = &p->ev;
	char q[96];

	if (e->type != YAML_SCALAR_EVENT)
		return fail_at(p, AT(p), "%s: expected a string, found %s",
		               where_str(p, w), found(p));
	*s = (const char *)e->data.scalar.value;
	*len = e->data.scalar.length;
	if (scalar_type(e) != RT__Y_STR) {
		if (!e->data.scalar.tag && *len)
			return fail_at(p, AT(p), "%s: expected a string, found "
			               "%s: write %s in quotes to mean the text",
			               where_str(p, w), found(p),
			               quote(q, sizeof(q), *s, *len));
		return fail_at(p, AT(p), "%s: expected a string, found %s",
		               where_str(p, w), found(p));
	}
	if (memchr(*s, '\0', *len))
		return fail_at(p, AT(p), "%s: %s contains a NUL character",
		               where_str(p, w), spec->what);
	if (*len < spec->min)
		return fail_at(p, AT(p), "%s: empty %s", where_str(p, w),
		               spec->what);
	if (*len > spec->max)
		return fail_at(p, AT(p), "%s: %s is %zu bytes, over the %zu-byte "
		               "limit (%s)", where_str(p, w), spec->what, *len,
		               spec->max, spec->limit);
	return 0;
}

/* The current event is a mapping key: returns its field, which must be
 * one of `allowed` and not seen before in this mapping. */
static int read_field(bp *p, where w, unsigned allowed, fields *fs,
                      int *out)
{
	const yaml_event_t *e = &p->ev;
	char q[96], names[96];
	size_t n = 0;
	int f;

	if (e->type != YAML_SCALAR_EVENT || scalar_type(e) != RT__Y_STR)
		return fail_at(p, AT(p), "%s: expected a field name, found %s%s",
		               where_str(p, w), found(p),
		               e->type == YAML_SCALAR_EVENT &&
		                               scalar_type(e) == RT__Y_MERGE
		                       ? ": merge keys are not supported"
		                       : "");
	for (f = 0; f < F_COUNT; f++) {
		const char *name = field_names[f];

		/* The first letter spares most names the strlen (libyaml ends
		 * every scalar with a NUL). */
		if ((allowed & BIT(f)) &&
		    name[0] == (char)e->data.scalar.value[0] &&
		    strlen(name) == e->data.scalar.length &&
		    memcmp(name, e->data.scalar.value, e->data.scalar.length) == 0)
			break;
	}
	if (f == F_COUNT) {
		names[0] = '\0';
		for (f = 0; f < F_COUNT; f++)
			if (allowed & BIT(f))
				n += (size_t)snprintf(names + n, sizeof(names) - n,
				                      "%s%s", n ? ", " : "",
				                      field_names[f]);
		return fail_at(p, AT(p), "%s: unknown field %s (expected %s)",
		               where_str(p, w),
		               quote(q, sizeof(q),
		                     (const char *)e->data.scalar.value,
		                     e->data.scalar.length),
		               names);
	}
	if (fs->seen & BIT(f))
		return fail_at(p, AT(p), "%s: duplicate field \"%s\" (first at "
		               "line %u, column %u)", where_str(p, w),
		               field_names[f], fs->line[f], fs->column[f]);
	fs->seen |= BIT(f);
	fs->line[f] = LINE(e->start_mark);
	fs->column[f] = COL(e->start_mark);
	*out = f;
	return 0;
}

/* ---- the request being read ------------------------------------------- */

static void req_reset(req *r)
{
	r->text_len = 0;
	r->nkeys = 0;
	r->tracker = r->pool = r->ns = r->id = NONE;
}

static void req_free(req *r)
{
	free(r->text);
	free(r->keys);
	free(r->refs);
}

/* Copies s into the request's text; *off receives where. */
static int req_text(bp *p, const char *s, size_t len, size_t *off)
{
	req *r = &p->rq;

	if (r->text_cap - r->text_len < len + 1) {
		size_t cap = r->text_cap ? r->text_cap : 4096;
		char *t;

		while (cap - r->text_len < len + 1)
			cap *= 2;
		t = realloc(r->text, cap);
		if (!t)
			return fail_nomem(p);
		r->text = t;
		r->text_cap = cap;
	}
	memcpy(r->text + r->text_len, s, len);
	r->text[r->text_len + len] = '\0';
	*off = r->text_len;
	r->text_len += len + 1;
	return 0;
}

static int req_key(bp *p, const char *s, size_t len, int field, size_t item)
{
	req *r = &p->rq;
	keyrec *k;
	int rc;

	if (r->nkeys == r->keys_cap) {
		size_t cap = r->keys_cap ? r->keys_cap * 2 : 16;
		keyrec *nk = realloc(r->keys, cap * sizeof(*nk));

		if (!nk)
			return fail_nomem(p);
		r->keys = nk;
		r->keys_cap = cap;
	}
	k = &r->keys[r->nkeys];
	if ((rc = req_text(p, s, len, &k->off)))
		return rc;
	k->len = len;
	k->line = LINE(p->ev.start_mark);
	k->column = COL(p->ev.start_mark);
	k->seq = (uint32_t)r->nkeys;
	k->item = (uint32_t)item;
	k->field = field;
	r->nkeys++;
	return 0;
}

static int cmp_keys(const void *a, const void *b)
{
	const keyrec *x = a, *y = b;
	size_t n = x->len < y->len ? x->len : y->len;
	int c = memcmp(x->s, y->s, n);

	if (c)
		return c;
	if (x->len != y->len)
		return x->len < y->len ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* Sorts the keys and reports the earliest repeat in file order: the same
 * key twice in a list, or in both remove and mask. */
static int check_duplicates(bp *p, size_t ireq)
{
	req *r = &p->rq;
	const keyrec *first = NULL, *dup = NULL;
	char q[96];
	size_t i;

	if (r->nkeys < 2)
		return 0;
	qsort(r->keys, r->nkeys, sizeof(*r->keys), cmp_keys);
	for (i = 1; i < r->nkeys; i++) {
		const keyrec *a = &r->keys[i - 1], *b = &r->keys[i];

		if (a->len == b->len && memcmp(a->s, b->s, a->len) == 0 &&
		    (!dup || b->seq < dup->seq))
			first = a, dup = b;
	}
	if (!dup)
		return 0;
	where w = {C_REQUEST, ireq, dup->field, dup->item};
	if (first->field == dup->field)
		return fail_at(p, dup->line, dup->column, "%s: duplicate key %s "
		               "(first at line %u, column %u)", where_str(p, w),
		               quote(q, sizeof(q), dup->s, dup->len),
		               first->line, first->column);
	return fail_at(p, dup->line, dup->column, "%s: key %s is also in "
	               "\"%s\" (line %u, column %u): a request removes a key "
	               "or masks it, not both", where_str(p, w),
	               quote(q, sizeof(q), dup->s, dup->len),
	               field_names[first->field], first->line, first->column);
}

/* ---- the grammar ------------------------------------------------------ */

static int parse_keys(bp *p, size_t ireq, int field)
{
	where w = {C_REQUEST, ireq, field, NONE};
	unsigned line = LINE(p->ev.start_mark);
	unsigned column = COL(p->ev.start_mark);
	const char *s;
	size_t len, n = 0;
	char q[96];
	int rc;

	if (p->ev.type != YAML_SEQUENCE_START_EVENT) {
		if (p->ev.type == YAML_SCALAR_EVENT &&
		    scalar_type(&p->ev) == RT__Y_STR)
			return fail_at(p, AT(p), "%s: expected a list of keys, "
			               "found a string: write [%s] for one key",
			               where_str(p, w),
			               quote(q, sizeof(q),
			                     (const char *)p->ev.data.scalar.value,
			                     p->ev.data.scalar.length));
		return fail_at(p, AT(p), "%s: expected a list of keys, found %s",
		               where_str(p, w), found(p));
	}
	for (;;) {
		if ((rc = next(p)))
			return rc;
		if (p->ev.type == YAML_SEQUENCE_END_EVENT)
			break;
		w.item = n;
		if (n == RT_BATCH_KEYS_MAX)
			return fail_at(p, AT(p), "%s: more than %d keys in one "
			               "list (RT_BATCH_KEYS_MAX): split the "
			               "request", where_str(p, w),
			               RT_BATCH_KEYS_MAX);
		if ((rc = expect_string(p, w, &SPEC_KEY, &s, &len)) ||
		    (rc = req_key(p, s, len, field, n)))
			return rc;
		n++;
	}
	if (n == 0) {
		w.item = NONE;
		return fail_at(p, line, column, "%s: empty key list",
		               where_str(p, w));
	}
	return 0;
}

/* Reads one string field of a request into its text. */
static int request_string(bp *p, size_t ireq, int field, const strspec *spec,
                          size_t *off)
{
	where w = {C_REQUEST, ireq, field, NONE};
	const char *s;
	size_t len;
	int rc;

	if ((rc = expect_string(p, w, spec, &s, &len)))
		return rc;
	return req_text(p, s, len, off);
}

static int emit(bp *p, size_t ireq, const fields *fs)
{
	req *r = &p->rq;
	rt_request out;
	size_t i;
	int rc;

	if (r->refs_cap < r->nkeys) {
		rt_ref *nr = realloc(r->refs, r->nkeys * sizeof(*nr));

		if (!nr)
			return fail_nomem(p);
		r->refs = nr;
		r->refs_cap = r->nkeys;
	}
	/* refs in file order; then the keys may be sorted for the check */
	for (i = 0; i < r->nkeys; i++) {
		keyrec *k = &r->keys[i];

		k->s = r->text + k->off;
		r->refs[i].key = k->s;
		r->refs[i].type =
		        k->field == F_MASK ? RT_REF_MASK : RT_REF_NORMAL;
	}
	if ((rc = check_duplicates(p, ireq)))
		return rc;
	if (r->pool == NONE && !p->have_pool)
		return fail_at(p, r->line, r->column, "requests[%zu]: no pool: "
		               "set \"pool\" in the request or in defaults "
		               "(which must come before requests)", ireq);
	memset(&out, 0, sizeof(out));
	out.pool = r->pool != NONE ? r->text + r->pool : p->def_pool;
	out.ns = r->ns != NONE ? r->text + r->ns : p->def_ns;
	out.tracker = r->text + r->tracker;
	out.op = (fs->seen & BIT(F_ADD)) ? RT_OP_ADD : RT_OP_REMOVE;
	out.request_id = r->id != NONE ? r->text + r->id : NULL;
	out.nrefs = r->nkeys;
	out.refs = r->refs;
	out.line = r->line;
	out.column = r->column;
	if (!p->cb)
		return 0;
	rc = p->cb(p->arg, ireq, &out);
	if (rc) {
		fail_at(p, r->line, r->column, "requests[%zu]: stopped: the "
		        "request handler returned %d", ireq, rc);
		return rc;
	}
	return 0;
}

static int parse_request(bp *p)
{
	size_t ireq = p->nreq;
	where w = {C_REQUEST, ireq, -1, NONE};
	req *r = &p->rq;
	fields fs;
	int rc, f;

	if (p->ev.type != YAML_MAPPING_START_EVENT)
		return fail_at(p, AT(p), "%s: expected a mapping (one request), "
		               "found %s", where_str(p, w), found(p));
	memset(&fs, 0, sizeof(fs));
	req_reset(r);
	r->line = LINE(p->ev.start_mark);
	r->column = COL(p->ev.start_mark);
	for (;;) {
		if ((rc = next(p)))
			return rc;
		if (p->ev.type == YAML_MAPPING_END_EVENT)
			break;
		if ((rc = read_field(p, w, REQUEST_FIELDS, &fs, &f)))
			return rc;
		if ((BIT(f) & OP_FIELDS) && (fs.seen & BIT(F_ADD)) &&
		    (fs.seen & (BIT(F_REMOVE) | BIT(F_MASK)))) {
			int other = f != F_ADD ? F_ADD
			            : (fs.seen & BIT(F_REMOVE)) ? F_REMOVE
			                                        : F_MASK;

			return fail_at(p, AT(p), "%s: \"%s\" and \"%s\" in one "
			               "request: a request adds keys or removes "
			               "them (\"remove\" and \"mask\" may go "
			               "together)", where_str(p, w),
			               field_names[other], field_names[f]);
		}
		if ((rc = next(p)))
			return rc;
		switch (f) {
		case F_TRACKER:
			rc = request_string(p, ireq, f, &SPEC_TRACKER,
			                    &r->tracker);
			break;
		case F_POOL:
			rc = request_string(p, ireq, f, &SPEC_POOL, &r->pool);
			break;
		case F_NAMESPACE:
			rc = request_string(p, ireq, f, &SPEC_NS, &r->ns);
			break;
		case F_ID:
			rc = request_string(p, ireq, f, &SPEC_ID, &r->id);
			break;
		default:
			rc = parse_keys(p, ireq, f);
			break;
		}
		if (rc)
			return rc;
	}
	if (r->tracker == NONE)
		return fail_at(p, r->line, r->column, "%s: missing field "
		               "\"tracker\"", where_str(p, w));
	if (!(fs.seen & OP_FIELDS))
		return fail_at(p, r->line, r->column, "%s: no operation: give "
		               "\"add\", or \"remove\" and/or \"mask\", with a "
		               "list of keys", where_str(p, w));
	if ((rc = emit(p, ireq, &fs)))
		return rc;
	p->nreq++;
	return 0;
}

static int parse_requests(bp *p)
{
	where w = {C_TOP, 0, F_REQUESTS, NONE};
	unsigned line = LINE(p->ev.start_mark);
	unsigned column = COL(p->ev.start_mark);
	int rc;

	if (p->ev.type != YAML_SEQUENCE_START_EVENT)
		return fail_at(p, AT(p), "%s: expected a list of requests, "
		               "found %s", where_str(p, w), found(p));
	for (;;) {
		if ((rc = next(p)))
			return rc;
		if (p->ev.type == YAML_SEQUENCE_END_EVENT)
			break;
		if ((rc = parse_request(p)))
			return rc;
	}
	if (p->nreq == 0)
		return fail_at(p, line, column, "requests: empty list: a batch "
		               "holds at least one request");
	return 0;
}

static int parse_defaults(bp *p)
{
	where w = {C_DEFAULTS, 0, -1, NONE};
	fields fs;
	const char *s;
	size_t len;
	int rc, f;

	if (p->ev.type != YAML_MAPPING_START_EVENT)
		return fail_at(p, AT(p), "defaults: expected a mapping (pool, "
		               "namespace), found %s", found(p));
	memset(&fs, 0, sizeof(fs));
	for (;;) {
		if ((rc = next(p)))
			return rc;
		if (p->ev.type == YAML_MAPPING_END_EVENT)
			break;
		if ((rc = read_field(p, w, DEFAULTS_FIELDS, &fs, &f)) ||
		    (rc = next(p)))
			return rc;
		where fw = {C_DEFAULTS, 0, f, NONE};
		if (f == F_POOL) {
			if ((rc = expect_string(p, fw, &SPEC_POOL, &s, &len)))
				return rc;
			memcpy(p->def_pool, s, len);
			p->def_pool[len] = '\0';
			p->have_pool = 1;
		} else {
			if ((rc = expect_string(p, fw, &SPEC_NS, &s, &len)))
				return rc;
			memcpy(p->def_ns, s, len);
			p->def_ns[len] = '\0';
		}
	}
	return 0;
}

static int parse_version(bp *p)
{
	const yaml_event_t *e = &p->ev;
	const char *s;
	size_t len;
	rt__ytype t;
	char q[96];
	int one;

	if (e->type != YAML_SCALAR_EVENT)
		return fail_at(p, AT(p), "version: expected the number 1, "
		               "found %s", found(p));
	s = (const char *)e->data.scalar.value;
	len = e->data.scalar.length;
	t = scalar_type(e);
	if (t != RT__Y_INT && t != RT__Y_FLOAT) {
		if (t == RT__Y_STR && !e->data.scalar.tag && len == 1 &&
		    s[0] == '1')
			return fail_at(p, AT(p), "version: expected the number "
			               "1, found a string: write 1 without "
			               "quotes");
		return fail_at(p, AT(p), "version: expected the number 1, "
		               "found %s", found(p));
	}
	one = rt__yaml_number_is_one(t, s, len);
	if (one < 0)
		return fail_at(p, AT(p), "version: %s is not a valid %s",
		               quote(q, sizeof(q), s, len),
		               t == RT__Y_INT ? "integer" : "float");
	/* a number that parsed is plain ASCII: printed as written */
	if (!one)
		return fail_at(p, AT(p), "version: unsupported batch format "
		               "version %.*s%s (this reftrack reads version %d)",
		               len > 40 ? 40 : (int)len, s, len > 40 ? "..." : "",
		               RT_BATCH_FORMAT_VERSION);
	return 0;
}

static int parse_top(bp *p)
{
	where w = {C_TOP, 0, -1, NONE};
	unsigned line = LINE(p->ev.start_mark);
	unsigned column = COL(p->ev.start_mark);
	fields fs;
	int rc, f;

	if (p->ev.type != YAML_MAPPING_START_EVENT)
		return fail_at(p, AT(p), "top level: expected a mapping "
		               "(version, defaults, requests), found %s",
		               found(p));
	memset(&fs, 0, sizeof(fs));
	for (;;) {
		if ((rc = next(p)))
			return rc;
		if (p->ev.type == YAML_MAPPING_END_EVENT)
			break;
		if ((rc = read_field(p, w, TOP_FIELDS, &fs, &f)))
			return rc;
		if (f == F_DEFAULTS && (fs.seen & BIT(F_REQUESTS)))
			return fail_at(p, AT(p), "defaults: must come before "
			               "requests (line %u), which are handed on "
			               "as they are read", fs.line[F_REQUESTS]);
		if ((rc = next(p)))
			return rc;
		if (f == F_VERSION)
			rc = parse_version(p);
		else if (f == F_DEFAULTS)
			rc = parse_defaults(p);
		else
			rc = parse_requests(p);
		if (rc)
			return rc;
	}
	if (!(fs.seen & BIT(F_VERSION)))
		return fail_at(p, line, column, "top level: missing field "
		               "\"version\" (the batch format version, 1)");
	if (!(fs.seen & BIT(F_REQUESTS)))
		return fail_at(p, line, column, "top level: missing field "
		               "\"requests\"");
	return 0;
}

static int parse_stream(bp *p)
{
	int rc;

	/* STREAM-START, then a document or the end */
	if ((rc = next(p)) || (rc = next(p)))
		return rc;
	if (p->ev.type == YAML_STREAM_END_EVENT)
		return fail_at(p, AT(p), "empty batch: the file holds no YAML "
		               "document");
	/* DOCUMENT-START, then the root node */
	if ((rc = next(p)) || (rc = parse_top(p)))
		return rc;
	/* DOCUMENT-END, then the end or another document */
	if ((rc = next(p)) || (rc = next(p)))
		return rc;
	if (p->ev.type == YAML_DOCUMENT_START_EVENT)
		return fail_at(p, AT(p), "a second YAML document: a batch file "
		               "holds exactly one");
	return 0;
}

/* ---- entry points ----------------------------------------------------- */

static bp *bp_new(rt_request_cb cb, void *arg, rt_batch_error *err)
{
	bp *p = calloc(1, sizeof(*p));

	if (!p)
		return NULL;
	p->err = err ? err : &p->dummy_err;
	p->cb = cb;
	p->arg = arg;
	return p;
}

static void clear_err(rt_batch_error *err)
{
	if (err) {
		err->line = err->column = 0;
		err->message[0] = '\0';
	}
}

static int set_err(rt_batch_error *err, int code, const char *fmt,
                   const char *detail)
{
	if (err) {
		err->line = err->column = 0;
		snprintf(err->message, sizeof(err->message), fmt, detail);
	}
	return code;
}

/* Runs the parse over p->in, which the caller has set up. */
static int run(bp *p)
{
	int rc;

	if (!yaml_parser_initialize(&p->yp))
		return fail_nomem(p);
	p->yp_ready = 1;
	yaml_parser_set_input(&p->yp, rt__bin_read, &p->in);
	req_reset(&p->rq);
	rc = parse_stream(p);
	if (p->have_ev)
		yaml_event_delete(&p->ev);
	yaml_parser_delete(&p->yp);
	req_free(&p->rq);
	return rc;
}

static int too_large(rt_batch_error *err, uint64_t max)
{
	char detail[32];

	snprintf(detail, sizeof(detail), "%llu", (unsigned long long)max);
	return set_err(err, RT_EINVAL, "the file is larger than the %s-byte "
	               "limit (RT_BATCH_MAX_BYTES)", detail);
}

int rt__batch_parse_path(const char *path, uint64_t max_bytes,
                         rt_request_cb cb, void *arg, rt_batch_error *err)
{
	struct stat st;
	bp *p = NULL;
	int fd = -1, rc;

	clear_err(err);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		rc = set_err(err, RT_EIO, "cannot open: %s", strerror(errno));
		goto done;
	}
	if (fstat(fd, &st) != 0) {
		rc = set_err(err, RT_EIO, "cannot stat: %s", strerror(errno));
		goto done;
	}
	if (S_ISDIR(st.st_mode)) {
		rc = set_err(err, RT_EIO, "cannot read: %s", strerror(EISDIR));
		goto done;
	}
	/* a regular file is judged by its size before a byte is parsed;
	 * pipes and devices are counted as they are read */
	if (S_ISREG(st.st_mode) && (uint64_t)st.st_size > max_bytes) {
		rc = too_large(err, max_bytes);
		goto done;
	}
	p = bp_new(cb, arg, err);
	if (!p) {
		rc = set_err(err, RT_ENOMEM, "%s", "out of memory");
		goto done;
	}
	rt__bin_init_fd(&p->in, fd, max_bytes);
	rc = run(p);
done:
	free(p);
	if (fd >= 0)
		close(fd);
	return rc;
}

int rt_batch_parse_file(const char *path, rt_request_cb cb, void *arg,
                        rt_batch_error *err)
{
	return rt__batch_parse_path(path, RT_BATCH_MAX_BYTES, cb, arg, err);
}

int rt_batch_parse_buffer(const void *data, size_t len, rt_request_cb cb,
                          void *arg, rt_batch_error *err)
{
	bp *p;
	int rc;

	clear_err(err);
	if ((uint64_t)len > RT_BATCH_MAX_BYTES)
		return too_large(err, RT_BATCH_MAX_BYTES);
	p = bp_new(cb, arg, err);
	if (!p)
		return set_err(err, RT_ENOMEM, "%s", "out of memory");
	rt__bin_init_mem(&p->in, data, len, RT_BATCH_MAX_BYTES);
	rc = run(p);
	free(p);
	return rc;
}
