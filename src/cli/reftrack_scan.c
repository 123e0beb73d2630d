/*
 * reftrack_scan.c - the `scan` subcommand: audits every tracker of a pool
 * (include/reftrack/scan.h) and, given a list of live holders, finds the
 * stale references and writes the batch that releases them.
 *
 * It writes nothing to the cluster.  The batch it writes goes through
 * `reftrack submit` like any other, after an operator has read it; it is
 * written to a temporary file beside OUT and renamed into place only once
 * the whole scan is done and the mass-release guard has passed, so OUT is
 * either absent, the old file, or the whole new batch.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <reftrack/scan.h>

#include "cli.h"
#include "cli_json.h"
#include "cli_progress.h"

enum {
	OPT_ALL_NS = CLI_OPT_FIRST_FREE,
	OPT_LIVE_KEYS,
	OPT_EMIT_BATCH,
	OPT_ALLOW_MASS,
	OPT_THRESHOLD,
	OPT_INFLIGHT,
};

/* Keys of one remove list in the batch: well inside the batch format's
 * 10,000 keys and 1 MiB per node. */
#define BATCH_LIST_KEYS 1000
#define BATCH_LIST_BYTES (256 * 1024)
#define MAX_INFLIGHT 1024

static void scan_usage(FILE *out)
{
	fprintf(out,
	        "usage: reftrack scan [-p POOL] [-N NAMESPACE | --all-namespaces]\n"
	        "                     [--live-keys FILE|-] [--emit-batch OUT.yaml]\n"
	        "                     [--allow-mass-release] "
	        "[--mass-release-threshold PCT]\n"
	        "                     [--inflight N] [-f FORMAT] [OPTIONS]\n"
	        "Reads every object of the pool (the namespace given, the "
	        "default one, or all)\nand checks every tracker (an object with "
	        "the csi.ceph.com/rt-version xattr;\nothers are counted and "
	        "skipped): version, data size, type bytes, keys with\nNUL, the "
	        "draft tool's layout, the count against the normal keys, the "
	        "empty key.\nPrints one line per problem and a summary; "
	        "--format json prints one object per\ntracker and a summary "
	        "object (JSON lines, schemas/scan.schema.json).  Writes\n"
	        "nothing to the cluster.\n"
	        "      --all-namespaces   every namespace of the pool\n"
	        "      --live-keys FILE   the keys of the holders that exist, one "
	        "per line (- for\n"
	        "                         stdin; lines taken literally, a final "
	        "CR dropped, blank\n"
	        "                         lines ignored): every normal reference "
	        "not listed is\n"
	        "                         stale (masks and the key \"\" are left "
	        "alone)\n"
	        "      --emit-batch OUT   write the batch that removes exactly "
	        "the stale\n"
	        "                         references to OUT (atomically; needs "
	        "--live-keys)\n"
	        "      --mass-release-threshold PCT  refuse (exit 65) when the "
	        "list would\n"
	        "                         release every reference of more than "
	        "PCT%% of the\n"
	        "                         sound trackers (default 10)\n"
	        "      --allow-mass-release  do not refuse\n"
	        "      --inflight N       objects read at once (default 64; 1: "
	        "one at a time)\n"
	        CLI_PROGRESS_USAGE
	        "  -h, --help             this text\n"
	        CLI_COMMON_USAGE CLI_CONN_USAGE
	        "Exit status: 0 clean, 1 problems found (broken trackers; with "
	        "--live-keys also\nstale references), 64 usage, 65 mass release "
	        "refused or a bad live-key list,\n66 no such pool or live-key "
	        "file, 69 cluster unreachable, 74 output error,\n75 a tracker "
	        "changed between the pages of every read of it, 77 "
	        "permission\ndenied, 78 Ceph configuration unusable.\n");
}

const struct option reftrack_scan_opts[] = {
	{ "all-namespaces", no_argument, NULL, OPT_ALL_NS },
	{ "live-keys", required_argument, NULL, OPT_LIVE_KEYS },
	{ "emit-batch", required_argument, NULL, OPT_EMIT_BATCH },
	{ "allow-mass-release", no_argument, NULL, OPT_ALLOW_MASS },
	{ "mass-release-threshold", required_argument, NULL, OPT_THRESHOLD },
	{ "inflight", required_argument, NULL, OPT_INFLIGHT },
	CLI_PROGRESS_LONGOPTS,
	{ "help", no_argument, NULL, CLI_OPT_HELP },
	{ NULL, 0, NULL, 0 },
};

/* ---- the live-key list: a hash set of byte strings --------------------- */

struct live_set {
	char *arena;
	size_t used, size;
	size_t *slot_off;   /* offset + 1 in arena; 0 = empty */
	size_t *slot_len;
	size_t nslots, n;
};

static uint64_t hash_bytes(const char *s, size_t len)
{
	uint64_t h = 1469598103934665603ULL; /* FNV-1a */
	size_t i;

	for (i = 0; i < len; i++) {
		h ^= (unsigned char)s[i];
		h *= 1099511628211ULL;
	}
	return h;
}

/* The slot holding the key, or the empty slot where it would go. */
static size_t live_find(const struct live_set *ls, const char *k, size_t len)
{
	size_t i = (size_t)hash_bytes(k, len) & (ls->nslots - 1);

	while (ls->slot_off[i] &&
	       !(ls->slot_len[i] == len &&
	         memcmp(ls->arena + ls->slot_off[i] - 1, k, len) == 0))
		i = (i + 1) & (ls->nslots - 1);
	return i;
}

static void live_grow(struct live_set *ls)
{
	struct live_set old = *ls;
	size_t i, j;

	ls->nslots = old.nslots ? 2 * old.nslots : 1024;
	ls->slot_off = calloc(ls->nslots, sizeof(size_t));
	ls->slot_len = calloc(ls->nslots, sizeof(size_t));
	if (!ls->slot_off || !ls->slot_len)
		cli_die(EX_OSERR, "out of memory");
	for (i = 0; i < old.nslots; i++) {
		if (!old.slot_off[i])
			continue;
		j = live_find(ls, old.arena + old.slot_off[i] - 1,
		              old.slot_len[i]);
		ls->slot_off[j] = old.slot_off[i];
		ls->slot_len[j] = old.slot_len[i];
	}
	free(old.slot_off);
	free(old.slot_len);
}

static void live_add(struct live_set *ls, const char *k, size_t len)
{
	size_t i;

	if ((ls->n + 1) * 2 > ls->nslots)
		live_grow(ls);
	i = live_find(ls, k, len);
	if (ls->slot_off[i])
		return;
	if (ls->size - ls->used < len) {
		size_t size = ls->size ? ls->size : 65536;
		char *a;

		while (size - ls->used < len)
			size *= 2;
		a = realloc(ls->arena, size);
		if (!a)
			cli_die(EX_OSERR, "out of memory");
		ls->arena = a;
		ls->size = size;
	}
	memcpy(ls->arena + ls->used, k, len);
	ls->slot_off[i] = ls->used + 1;
	ls->slot_len[i] = len;
	ls->used += len;
	ls->n++;
}

/* rt_scan_live_fn.  A key the list cannot spell (a newline in it, or a
 * final CR, which reading drops) counts as live: leak rather than
 * release what the operator could not have listed. */
static int live_has(void *arg, const char *k, size_t len)
{
	const struct live_set *ls = arg;

	if (memchr(k, '\n', len) || (len && k[len - 1] == '\r'))
		return 1;
	return ls->n > 0 && ls->slot_off[live_find(ls, k, len)] != 0;
}

static void live_free(struct live_set *ls)
{
	free(ls->arena);
	free(ls->slot_off);
	free(ls->slot_len);
}

/* Reads the list: one key per line, taken literally (no escapes), a final
 * CR dropped, blank lines ignored.  Returns 0 or an exit status. */
static int live_load(struct live_set *ls, const char *path)
{
	FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "r");
	char *line = NULL;
	size_t cap = 0;
	unsigned long lineno = 0;
	ssize_t n;
	int status = 0;

	memset(ls, 0, sizeof(*ls));
	live_grow(ls);
	if (!f) {
		cli_warn("%s:", path);
		return errno == ENOENT ? EX_NOINPUT : EX_IOERR;
	}
	while ((n = getline(&line, &cap, f)) >= 0) {
		size_t len = (size_t)n;

		lineno++;
		if (len && line[len - 1] == '\n')
			len--;
		if (len && line[len - 1] == '\r')
			len--;
		if (len == 0)
			continue;
		if (memchr(line, '\0', len)) {
			cli_warn("%s:%lu: a NUL byte: keys never hold one", path,
			         lineno);
			status = EX_DATAERR;
			break;
		}
		if (len > RT_KEY_MAX) {
			cli_warn("%s:%lu: a key of %zu bytes, longer than %d",
			         path, lineno, len, RT_KEY_MAX);
			status = EX_DATAERR;
			break;
		}
		live_add(ls, line, len);
	}
	if (!status && ferror(f)) {
		cli_warn("reading %s:", path);
		status = EX_IOERR;
	}
	free(line);
	if (f != stdin)
		fclose(f);
	return status;
}

/* ---- the batch file ----------------------------------------------------- */

/* Decodes one UTF-8 character at s (n bytes left): its length, or 0 if
 * the bytes are not UTF-8 (overlong forms and surrogates included). */
static size_t utf8_char(const unsigned char *s, size_t n, uint32_t *cp)
{
	size_t len, i;
	uint32_t c;

	if (s[0] < 0x80) {
		*cp = s[0];
		return 1;
	}
	if (s[0] >= 0xC2 && s[0] <= 0xDF)
		len = 2, c = s[0] & 0x1F;
	else if (s[0] >= 0xE0 && s[0] <= 0xEF)
		len = 3, c = s[0] & 0x0F;
	else if (s[0] >= 0xF0 && s[0] <= 0xF4)
		len = 4, c = s[0] & 0x07;
	else
		return 0;
	if (n < len)
		return 0;
	for (i = 1; i < len; i++) {
		if ((s[i] & 0xC0) != 0x80)
			return 0;
		c = c << 6 | (s[i] & 0x3F);
	}
	if ((len == 3 && c < 0x800) || (len == 4 && c < 0x10000) ||
	    c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF))
		return 0;
	*cp = c;
	return len;
}

/* Whether a batch file can spell s: UTF-8 and no NUL (a YAML escape can
 * give any other character). */
static int yaml_spellable(const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0, k;
	uint32_t cp;

	while (i < len) {
		k = utf8_char(p + i, len - i, &cp);
		if (k == 0 || cp == 0)
			return 0;
		i += k;
	}
	return 1;
}

/* s as a YAML double-quoted scalar: printable characters as they are,
 * everything else escaped, so that the file holds only the characters
 * YAML allows (reftrack-batch(5)).  s must be yaml_spellable(). */
static void yaml_quote(FILE *out, const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0, k;
	uint32_t cp;

	fputc('"', out);
	while (i < len) {
		k = utf8_char(p + i, len - i, &cp);
		if (cp == '"' || cp == '\\')
			fprintf(out, "\\%c", (int)cp);
		else if ((cp >= 0x20 && cp < 0x7F) ||
		         (cp >= 0xA0 && cp <= 0xD7FF) ||
		         (cp >= 0xE000 && cp <= 0xFFFD && cp != 0xFEFF) ||
		         cp >= 0x10000)
			fwrite(p + i, 1, k, out);
		else if (cp < 0x100)
			fprintf(out, "\\x%02x", (unsigned)cp);
		else
			fprintf(out, "\\u%04x", (unsigned)cp);
		i += k;
	}
	fputc('"', out);
}

struct batch {
	const char *path;
	char *tmp;          /* the temporary file beside path */
	FILE *f;
	uint64_t requests;
	uint64_t keys;      /* stale references in requests */
	uint64_t left_out;  /* stale references a batch cannot name */
};

static int batch_open(struct batch *b, const char *path)
{
	const char *slash = strrchr(path, '/');
	size_t dirlen = slash ? (size_t)(slash - path) + 1 : 0;
	int fd;

	memset(b, 0, sizeof(*b));
	b->path = path;
	b->tmp = malloc(dirlen + 32);
	if (!b->tmp)
		cli_die(EX_OSERR, "out of memory");
	memcpy(b->tmp, path, dirlen);
	strcpy(b->tmp + dirlen, ".reftrack-scan.XXXXXX");
	fd = mkstemp(b->tmp);
	if (fd < 0 || !(b->f = fdopen(fd, "w"))) {
		cli_warn("%s: creating a temporary file beside it:", path);
		if (fd >= 0)
			close(fd);
		free(b->tmp);
		b->tmp = NULL;
		return EX_IOERR;
	}
	return 0;
}

/* Drops the temporary file (nothing is written to path). */
static void batch_discard(struct batch *b)
{
	if (b->f)
		fclose(b->f);
	b->f = NULL;
	if (b->tmp)
		unlink(b->tmp);
	free(b->tmp);
	b->tmp = NULL;
}

/* The requests of one tracker: its stale references, split into lists
 * the batch format takes, each under a comment saying why. */
static void batch_tracker(struct batch *b, const char *pool,
                          const rt_scan_result *r, const char *live_path)
{
	char *t = cli_escape(r->tracker), *l = cli_escape(live_path);
	size_t i, nkeys = 0, bytes = 0, nok = 0, done = 0;

	if (!yaml_spellable(r->tracker, strlen(r->tracker)) ||
	    strlen(r->tracker) > RT_TRACKER_NAME_MAX ||
	    !yaml_spellable(r->ns, strlen(r->ns))) {
		fprintf(b->f, "# not in this batch: tracker \"%s\" (%zu stale "
		        "references): a batch file cannot name it\n", t,
		        r->nstale);
		cli_warn("tracker \"%s\": a batch file cannot name it; its %zu "
		         "stale references are left out", t, r->nstale);
		b->left_out += r->nstale;
		free(t);
		free(l);
		return;
	}
	for (i = 0; i < r->nstale; i++)
		if (yaml_spellable(r->stale[i].key, r->stale[i].keylen))
			nok++;
	for (i = 0; i < r->nstale; i++) {
		const rt_scan_key *k = &r->stale[i];

		if (!yaml_spellable(k->key, k->keylen)) {
			char *e = cli_escape(k->key);

			fprintf(b->f, "# not in this batch: key \"%s\" of tracker "
			        "\"%s\" is not UTF-8; release it with `reftrack "
			        "rm`\n", e, t);
			cli_warn("tracker \"%s\": stale key \"%s\" is not UTF-8: "
			         "left out of the batch", t, e);
			free(e);
			b->left_out++;
			continue;
		}
		if (nkeys == 0 && done == 0)
			fprintf(b->f, "  # stale: %zu of the %llu normal "
			        "references of \"%s\" are not in %s%s\n", nok,
			        (unsigned long long)r->normal, t, l,
			        nok == r->normal ? "; removing them deletes "
			                           "the tracker" : "");
		else if (nkeys == 0)
			fprintf(b->f, "  # stale, continued: %zu more references "
			        "of \"%s\" not in %s (lists are kept to %d keys "
			        "and %d KiB)\n", nok - done, t, l, BATCH_LIST_KEYS,
			        BATCH_LIST_BYTES / 1024);
		if (nkeys == 0) {
			fputs("  - tracker: ", b->f);
			yaml_quote(b->f, r->tracker, strlen(r->tracker));
			fputs("\n    pool: ", b->f);
			yaml_quote(b->f, pool, strlen(pool));
			fputs("\n    namespace: ", b->f);
			yaml_quote(b->f, r->ns, strlen(r->ns));
			fputs("\n    remove:\n", b->f);
			b->requests++;
		}
		fputs("      - ", b->f);
		yaml_quote(b->f, k->key, k->keylen);
		fputc('\n', b->f);
		b->keys++;
		nkeys++;
		done++;
		bytes += k->keylen;
		if (nkeys >= BATCH_LIST_KEYS || bytes >= BATCH_LIST_BYTES)
			nkeys = bytes = 0;
	}
	free(t);
	free(l);
}

/* Puts the batch in place: 0, or an exit status (the file is dropped). */
static int batch_commit(struct batch *b)
{
	int fd = fileno(b->f);

	if (fflush(b->f) != 0 || ferror(b->f) || fsync(fd) != 0) {
		cli_warn("%s: writing:", b->tmp);
		batch_discard(b);
		return EX_IOERR;
	}
	if (fclose(b->f) != 0) {
		b->f = NULL;
		cli_warn("%s: writing:", b->tmp);
		batch_discard(b);
		return EX_IOERR;
	}
	b->f = NULL;
	if (rename(b->tmp, b->path) != 0) {
		cli_warn("renaming %s to %s:", b->tmp, b->path);
		batch_discard(b);
		return EX_IOERR;
	}
	free(b->tmp);
	b->tmp = NULL;
	return 0;
}

/* ---- output ------------------------------------------------------------- */

/* Journals whose markers were seen, with how many trackers carry each. */
struct journal_count {
	char *id;
	uint64_t trackers;
};

struct scan_run {
	const char *pool;
	const char *ns;           /* NULL: every namespace */
	int json, pretty;
	int have_live;
	const char *live_path;
	struct live_set live;
	const char *local_id;     /* NULL: no readable local journal */
	struct journal_count *journals;
	size_t njournals, journals_cap;
	struct batch batch;
	int emitting;
	int werr;
};

static void count_journals(struct scan_run *sr, const rt_scan_result *r)
{
	size_t i, j;

	for (i = 0; i < r->nmarkers; i++) {
		for (j = 0; j < sr->njournals; j++)
			if (strcmp(sr->journals[j].id,
			           r->markers[i].journal_id) == 0)
				break;
		if (j == sr->njournals) {
			if (j == sr->journals_cap) {
				size_t c = j ? 2 * j : 8;
				void *p = realloc(sr->journals,
				                  c * sizeof(*sr->journals));

				if (!p)
					cli_die(EX_OSERR, "out of memory");
				sr->journals = p;
				sr->journals_cap = c;
			}
			sr->journals[j].id = strdup(r->markers[i].journal_id);
			if (!sr->journals[j].id)
				cli_die(EX_OSERR, "out of memory");
			sr->journals[j].trackers = 0;
			sr->njournals++;
		}
		sr->journals[j].trackers++;
	}
}

static const char *type_name(int type)
{
	return type == RT_REF_NORMAL ? "normal"
	       : type == RT_REF_MASK ? "mask" : NULL;
}

static void json_tracker(struct scan_run *sr, const rt_scan_result *r)
{
	struct cli_json w;
	size_t i;

	cli_json_init(&w, stdout, sr->pretty);
	cli_json_object_begin(&w);
	cli_json_kv_uint(&w, "schema_version", CLI_SCHEMA_VERSION);
	cli_json_kv_string(&w, "record", "tracker");
	cli_json_kv_string(&w, "pool", sr->pool);
	cli_json_kv_string(&w, "namespace", r->ns);
	cli_json_kv_string(&w, "tracker", r->tracker);
	cli_json_kv_uint(&w, "object_version", r->object_version);
	cli_json_kv_string(&w, "problem", r->problem
	                   ? rt_scan_problem_name(r->problem) : NULL);
	cli_json_kv_string(&w, "detail", r->problem ? r->detail : NULL);
	cli_json_key(&w, "refcount");
	if (r->has_refcount)
		cli_json_uint(&w, r->refcount);
	else
		cli_json_null(&w);
	cli_json_key(&w, "normal");
	if (r->has_keys)
		cli_json_uint(&w, r->normal);
	else
		cli_json_null(&w);
	cli_json_key(&w, "masks");
	if (r->has_keys)
		cli_json_uint(&w, r->masks);
	else
		cli_json_null(&w);
	cli_json_kv_string(&w, "empty_key", type_name(r->empty_key));
	cli_json_key(&w, "journals");
	cli_json_array_begin(&w);
	for (i = 0; i < r->nmarkers; i++) {
		cli_json_object_begin(&w);
		cli_json_kv_string(&w, "id", r->markers[i].journal_id);
		cli_json_kv_string(&w, "marker", r->markers[i].value);
		cli_json_kv_bool(&w, "local", sr->local_id &&
		                 strcmp(sr->local_id,
		                        r->markers[i].journal_id) == 0);
		cli_json_object_end(&w);
	}
	cli_json_array_end(&w);
	if (sr->have_live) {
		cli_json_key(&w, "stale");
		cli_json_array_begin(&w);
		for (i = 0; i < r->nstale; i++)
			cli_json_string_len(&w, r->stale[i].key,
			                    r->stale[i].keylen);
		cli_json_array_end(&w);
	}
	cli_json_object_end(&w);
	if (cli_json_finish(&w) < 0)
		sr->werr = 1;
}

/* "pool "P" namespace "N" tracker "T"", escaped. */
static void plain_where(const struct scan_run *sr, const rt_scan_result *r)
{
	char *p = cli_escape(sr->pool), *n = cli_escape(r->ns);
	char *t = cli_escape(r->tracker);

	printf("pool \"%s\" namespace \"%s\" tracker \"%s\": ", p, n, t);
	free(p);
	free(n);
	free(t);
}

static void plain_tracker(struct scan_run *sr, const rt_scan_result *r)
{
	size_t i;

	if (!r->problem && !r->nstale)
		return;
	cli_progress_hide();
	if (r->problem) {
		/* The library's messages quote the keys they name already
		 * (printable ASCII only): escaping again would double every
		 * backslash. */
		plain_where(sr, r);
		printf("%s: %s\n", rt_scan_problem_name(r->problem),
		       r->detail);
	}
	for (i = 0; i < r->nstale; i++) {
		char *k = cli_escape(r->stale[i].key);

		plain_where(sr, r);
		printf("stale: \"%s\" is not in the live-key list\n", k);
		free(k);
	}
	if (ferror(stdout))
		sr->werr = 1;
}

static uint64_t problem_trackers(const rt_scan_stats *st)
{
	uint64_t n = 0;
	int k;

	for (k = RT_SCAN_SOUND + 1; k < RT_SCAN_NPROBLEMS; k++)
		n += st->problems[k];
	return n;
}

static void plain_summary(const struct scan_run *sr, const rt_scan_stats *st,
                          double secs, int refused)
{
	char *p = cli_escape(sr->pool), *n = sr->ns ? cli_escape(sr->ns) : NULL;
	size_t j;
	int k, any = 0;

	cli_progress_hide();
	printf("scanned pool \"%s\", %s%s%s in %.1f s: %llu objects, %llu "
	       "trackers, %llu other objects skipped", p,
	       n ? "namespace \"" : "every namespace", n ? n : "",
	       n ? "\"" : "", secs, (unsigned long long)st->objects,
	       (unsigned long long)st->trackers,
	       (unsigned long long)st->skipped);
	if (st->vanished)
		printf(", %llu gone before their read",
		       (unsigned long long)st->vanished);
	printf("\nreferences: %llu normal, %llu masks\nproblems: %llu "
	       "trackers", (unsigned long long)st->normal,
	       (unsigned long long)st->masks,
	       (unsigned long long)problem_trackers(st));
	for (k = RT_SCAN_SOUND + 1; k < RT_SCAN_NPROBLEMS; k++) {
		if (!st->problems[k])
			continue;
		printf("%s%s %llu", any ? ", " : " (",
		       rt_scan_problem_name((rt_scan_problem)k),
		       (unsigned long long)st->problems[k]);
		any = 1;
	}
	printf("%s\n", any ? ")" : "");
	if (sr->have_live)
		printf("stale references: %llu on %llu trackers (live-key list: "
		       "%zu keys); %llu trackers would lose every reference%s\n",
		       (unsigned long long)st->stale,
		       (unsigned long long)st->stale_trackers, sr->live.n,
		       (unsigned long long)st->released,
		       refused ? ": refused" : "");
	for (j = 0; j < sr->njournals; j++)
		printf("journal %s: marker on %llu trackers%s\n",
		       sr->journals[j].id,
		       (unsigned long long)sr->journals[j].trackers,
		       sr->local_id && strcmp(sr->local_id,
		                              sr->journals[j].id) == 0
		           ? " (the local journal)" : "");
	if (!sr->njournals)
		printf("journals: no tracker carries a journal's marker\n");
	if (sr->local_id)
		printf("local journal %s: marker on %llu trackers\n",
		       sr->local_id,
		       (unsigned long long)st->with_local_marker);
	else
		printf("local journal: none readable\n");
	free(p);
	free(n);
}

static void json_summary(struct scan_run *sr, const rt_scan_stats *st,
                         double secs, int refused, int status)
{
	struct cli_json w;
	size_t j;
	int k;

	cli_json_init(&w, stdout, sr->pretty);
	cli_json_object_begin(&w);
	cli_json_kv_uint(&w, "schema_version", CLI_SCHEMA_VERSION);
	cli_json_kv_string(&w, "record", "summary");
	cli_json_kv_string(&w, "pool", sr->pool);
	cli_json_kv_string(&w, "namespace", sr->ns);
	cli_json_kv_double(&w, "seconds", secs, 3);
	cli_json_kv_uint(&w, "objects", st->objects);
	cli_json_kv_uint(&w, "trackers", st->trackers);
	cli_json_kv_uint(&w, "skipped", st->skipped);
	cli_json_kv_uint(&w, "vanished", st->vanished);
	cli_json_kv_uint(&w, "rereads", st->rereads);
	cli_json_kv_uint(&w, "normal", st->normal);
	cli_json_kv_uint(&w, "masks", st->masks);
	cli_json_kv_uint(&w, "problem_trackers", problem_trackers(st));
	cli_json_key(&w, "problems");
	cli_json_object_begin(&w);
	for (k = RT_SCAN_SOUND + 1; k < RT_SCAN_NPROBLEMS; k++)
		cli_json_kv_uint(&w, rt_scan_problem_name((rt_scan_problem)k),
		                 st->problems[k]);
	cli_json_object_end(&w);
	cli_json_key(&w, "journals");
	cli_json_array_begin(&w);
	for (j = 0; j < sr->njournals; j++) {
		cli_json_object_begin(&w);
		cli_json_kv_string(&w, "id", sr->journals[j].id);
		cli_json_kv_uint(&w, "trackers", sr->journals[j].trackers);
		cli_json_kv_bool(&w, "local", sr->local_id &&
		                 strcmp(sr->local_id, sr->journals[j].id) == 0);
		cli_json_object_end(&w);
	}
	cli_json_array_end(&w);
	cli_json_kv_string(&w, "local_journal", sr->local_id);
	cli_json_kv_uint(&w, "with_local_marker", st->with_local_marker);
	cli_json_key(&w, "live_keys");
	if (sr->have_live)
		cli_json_uint(&w, sr->live.n);
	else
		cli_json_null(&w);
	cli_json_kv_uint(&w, "stale", st->stale);
	cli_json_kv_uint(&w, "stale_trackers", st->stale_trackers);
	cli_json_kv_uint(&w, "released_trackers", st->released);
	cli_json_kv_bool(&w, "mass_release_refused", refused);
	cli_json_kv_string(&w, "batch", sr->emitting && !refused &&
	                   sr->batch.requests ? sr->batch.path : NULL);
	cli_json_kv_uint(&w, "batch_requests", sr->batch.requests);
	cli_json_kv_uint(&w, "exit", (uint64_t)status);
	cli_json_object_end(&w);
	if (cli_json_finish(&w) < 0)
		sr->werr = 1;
}

/* ---- the command --------------------------------------------------------- */

static double now_sec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The local journal's id into buf, if a journal is there to read. */
static const char *local_journal_id(char *buf, size_t size)
{
	rt_journal *j = NULL;
	const char *id = NULL;

	if (rt_journal_open(&j, cli_common.journal, RT_JOURNAL_NOCREATE) ==
	    0 && rt_journal_id(j)[0]) {
		snprintf(buf, size, "%s", rt_journal_id(j));
		id = buf;
	}
	rt_journal_close(j);
	return id;
}

static double parse_pct(const char *arg)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(arg, &end);
	if (end == arg || *end || errno || !(v >= 0 && v <= 100))
		cli_die(EX_USAGE, "scan: --mass-release-threshold: '%s' is not a "
		        "percentage from 0 to 100", arg);
	return v;
}

int reftrack_cmd_scan(int argc, char **argv)
{
	struct scan_run sr;
	rt_scan_opts so;
	rt_scan_stats st;
	rt_cluster *cluster = NULL;
	rt_pool *pool = NULL;
	rt_scan *scan = NULL;
	const rt_scan_result *r;
	struct cli_progress prog;
	const char *emit = NULL;
	char idbuf[64];
	double pct = 10, t0, secs;
	int opt, rc, status = EX_OK, allow_mass = 0, refused = 0, j;
	uint64_t sound;

	memset(&sr, 0, sizeof(sr));
	rt_scan_opts_init(&so, RT_SCAN_OPTS_VERSION);
	memset(&prog, 0, sizeof(prog));
	optind = 1;
	while ((opt = getopt_long(argc, argv, "hq", reftrack_scan_opts,
	                          NULL)) != -1) {
		if (cli_progress_option(opt))
			continue;
		switch (opt) {
		case OPT_ALL_NS:
			so.all_namespaces = 1;
			break;
		case OPT_LIVE_KEYS:
			sr.live_path = optarg;
			break;
		case OPT_EMIT_BATCH:
			emit = optarg;
			break;
		case OPT_ALLOW_MASS:
			allow_mass = 1;
			break;
		case OPT_THRESHOLD:
			pct = parse_pct(optarg);
			break;
		case OPT_INFLIGHT:
			so.window = (unsigned)cli_parse_ulong("--inflight",
			                                      optarg,
			                                      MAX_INFLIGHT);
			if (so.window == 0)
				return cli_usage_error("--inflight: '0' is not "
				                       "a number from 1 to %d",
				                       MAX_INFLIGHT);
			break;
		case 'h':
		case CLI_OPT_HELP:
			scan_usage(stdout);
			return EX_OK;
		default:
			return cli_bad_option(argc, argv, reftrack_scan_opts);
		}
	}
	if ((status = cli_no_operands("scan", argc, argv, optind)))
		return status;
	if (so.all_namespaces && cli_common.conn.ns)
		return cli_usage_error("-N and --all-namespaces: give one");
	if (emit && !sr.live_path)
		return cli_usage_error("--emit-batch needs --live-keys");
	if (emit && strcmp(emit, "-") == 0)
		return cli_usage_error("--emit-batch: give a file (it is "
		                       "written atomically)");
	sr.pool = cli_common.conn.pool;
	sr.ns = so.all_namespaces ? NULL
	        : cli_common.conn.ns ? cli_common.conn.ns : "";
	sr.json = cli_common.format != CLI_FORMAT_PLAIN;
	sr.pretty = cli_common.format == CLI_FORMAT_JSON_PRETTY;
	if (sr.live_path) {
		if ((status = live_load(&sr.live, sr.live_path)))
			goto done;
		sr.have_live = 1;
		so.is_live = live_has;
		so.live_arg = &sr.live;
	}
	sr.local_id = local_journal_id(idbuf, sizeof(idbuf));
	so.journal_id = sr.local_id;
	if ((status = cli_conn_open(&cli_common.conn, &cluster, &pool)))
		goto done;
	if (emit) {
		if ((status = batch_open(&sr.batch, emit)))
			goto done;
		char *p = cli_escape(sr.pool), *l = cli_escape(sr.live_path);

		sr.emitting = 1;
		fprintf(sr.batch.f, "# Written by reftrack scan: releases the "
		        "stale references of pool \"%s\"\n# found against the "
		        "live-key list %s.  Review it, then: reftrack submit "
		        "FILE\nversion: 1\nrequests:\n", p, l);
		free(p);
		free(l);
	}
	t0 = now_sec();
	rc = rt_scan_open(&scan, pool, &so);
	if (rc) {
		cli_warn("%s", scan ? rt_scan_errmsg(scan) : rt_strerror(rc));
		status = cli_connect_exit_code(rc, 0);
		goto done;
	}
	cli_progress_begin(&prog, "scan");
	while ((rc = rt_scan_next(&r, scan)) == 0) {
		if (r->nmarkers)
			count_journals(&sr, r);
		if (sr.json)
			json_tracker(&sr, r);
		else
			plain_tracker(&sr, r);
		if (sr.emitting && r->nstale)
			batch_tracker(&sr.batch, sr.pool, r, sr.live_path);
		rt_scan_stats_get(&st, scan);
		cli_progress_update(&prog, st.objects,
		                    st.objects > st.objects_estimate
		                        ? st.objects : st.objects_estimate);
	}
	rt_scan_stats_get(&st, scan);
	cli_progress_end(&prog, st.objects, st.objects);
	if (rc != RT_ENOTFOUND) {
		cli_warn("%s", rt_scan_errmsg(scan));
		status = cli_connect_exit_code(rc, 0);
		goto done;
	}
	secs = now_sec() - t0;

	/* The guard: an empty or truncated list would release everything. */
	sound = st.trackers - problem_trackers(&st);
	if (sr.have_live && !allow_mass && st.released > 0 &&
	    (double)st.released * 100.0 > pct * (double)sound)
		refused = 1;
	if (problem_trackers(&st) || (sr.have_live && st.stale))
		status = 1;
	if (refused)
		status = EX_DATAERR;
	if (sr.emitting && (refused || sr.batch.requests == 0))
		batch_discard(&sr.batch);
	else if (sr.emitting && (j = batch_commit(&sr.batch)))
		status = j;
	if (sr.json)
		json_summary(&sr, &st, secs, refused, status);
	else if (!cli_quiet())
		plain_summary(&sr, &st, secs, refused);
	if (refused)
		cli_warn("the live-key list would release every reference of "
		         "%llu of %llu sound trackers (%.1f%%, above the %g%% "
		         "threshold): an empty or truncated list?  Refusing; "
		         "nothing written (--allow-mass-release overrides)",
		         (unsigned long long)st.released,
		         (unsigned long long)sound,
		         100.0 * (double)st.released / (double)sound, pct);
	else if (sr.emitting && sr.batch.requests)
		cli_warn("wrote %s: %llu requests removing %llu stale "
		         "references", emit,
		         (unsigned long long)sr.batch.requests,
		         (unsigned long long)sr.batch.keys);
	else if (sr.emitting)
		cli_warn("no stale reference a batch can name: %s not written "
		         "(an empty batch is not a batch file)", emit);
	if (sr.emitting && sr.batch.left_out)
		cli_warn("%llu stale references are left out of the batch "
		         "(see its comments)",
		         (unsigned long long)sr.batch.left_out);
	if (sr.werr || fflush(stdout) != 0) {
		cli_warn("writing the output:");
		status = EX_IOERR;
	}
done:
	cli_progress_end(&prog, 0, 0);
	if (sr.emitting && sr.batch.f)
		batch_discard(&sr.batch);
	rt_scan_close(scan);
	rt_pool_close(pool);
	rt_cluster_close(cluster);
	live_free(&sr.live);
	for (j = 0; j < (int)sr.njournals; j++)
		free(sr.journals[j].id);
	free(sr.journals);
	return status;
}
