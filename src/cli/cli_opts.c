/*
 * cli_opts.c - the options every reftrack subcommand takes, wherever they
 * stand (cli.h: cli_common_parse), the "did you mean" of usage errors, and
 * how a run ends (cli_finish: the JSON error object).
 *
 * Why one pre-pass instead of each subcommand's getopt table: Ceph's tools
 * take their connection options anywhere and hand what they do not know
 * themselves to librados' configuration parser; an operator's alias
 * (`alias rt='reftrack -c /etc/ceph/x.conf --id rt -p rbd'`) must then work
 * with every subcommand, also those that never connect.  Taking the common
 * options out first leaves each subcommand a command line of its own
 * options and operands only.
 *
 * Common options are matched by their full names only (no abbreviations):
 * an abbreviation could also be a librados option's.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cli_json.h"

struct cli_common cli_common;

enum common_id {
	C_CONF,
	C_ID,
	C_NAME,
	C_KEYRING,
	C_CLUSTER,
	C_POOL,
	C_NS,
	C_OP_TIMEOUT,
	C_JOURNAL,
	C_FORMAT,
	C_JSON,
	C_MON_HOST,
};

struct common_opt {
	const char *name; /* long name, or NULL for a short-only option */
	char short_name;  /* or 0 */
	int has_value;
	enum common_id id;
};

static const struct common_opt commons[] = {
	{ "conf", 'c', 1, C_CONF },
	{ "id", 'i', 1, C_ID },
	{ "user", 0, 1, C_ID },
	{ "name", 'n', 1, C_NAME },
	{ "keyring", 'k', 1, C_KEYRING },
	{ "cluster", 0, 1, C_CLUSTER },
	{ "pool", 'p', 1, C_POOL },
	{ "namespace", 'N', 1, C_NS },
	{ "op-timeout", 0, 1, C_OP_TIMEOUT },
	{ "journal", 0, 1, C_JOURNAL },
	{ "format", 'f', 1, C_FORMAT },
	{ "json", 0, 0, C_JSON },
	{ NULL, 'm', 1, C_MON_HOST },
};

#define NCOMMONS (sizeof(commons) / sizeof(commons[0]))

/* librados overrides, in command-line order; words borrowed from argv. */
static const char **ceph_argv;
static size_t ceph_argc, ceph_cap;

void cli_common_init(void)
{
	memset(&cli_common, 0, sizeof(cli_common));
	rt_connect_opts_init(&cli_common.conn.opts, RT_CONNECT_OPTS_VERSION);
	cli_common.conn.opts.use_ceph_args = 1;
	cli_common.conn.opts.op_timeout_sec = CLI_DEFAULT_OP_TIMEOUT;
	cli_set_exit_hook(cli_finish);
}

static void push_ceph(const char *word)
{
	if (ceph_argc + 1 >= ceph_cap) {
		size_t cap = ceph_cap ? 2 * ceph_cap : 8;
		const char **p = realloc(ceph_argv, cap * sizeof(*p));

		if (!p)
			cli_die(EX_OSERR, "out of memory");
		ceph_argv = p;
		ceph_cap = cap;
	}
	ceph_argv[ceph_argc++] = word;
	ceph_argv[ceph_argc] = NULL;
	cli_common.conn.opts.ceph_argv = ceph_argv;
	cli_common.conn.opts.ceph_argc = ceph_argc;
}

/* ---- did you mean ---------------------------------------------------------- */

/* Edit distance with adjacent transpositions ("statsu" is one away from
 * "status"), capped: words are option and subcommand names. */
static size_t distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b), i, j;
	size_t d[64][64];

	if (la >= 64 || lb >= 64)
		return 64;
	for (i = 0; i <= la; i++)
		d[i][0] = i;
	for (j = 0; j <= lb; j++)
		d[0][j] = j;
	for (i = 1; i <= la; i++) {
		for (j = 1; j <= lb; j++) {
			size_t cost = a[i - 1] != b[j - 1], best;

			best = d[i - 1][j] + 1;
			if (d[i][j - 1] + 1 < best)
				best = d[i][j - 1] + 1;
			if (d[i - 1][j - 1] + cost < best)
				best = d[i - 1][j - 1] + cost;
			if (i > 1 && j > 1 && a[i - 1] == b[j - 2] &&
			    a[i - 2] == b[j - 1] && d[i - 2][j - 2] + 1 < best)
				best = d[i - 2][j - 2] + 1;
			d[i][j] = best;
		}
	}
	return d[la][lb];
}

const char *cli_did_you_mean(const char *word, const char *const *names)
{
	size_t best = (size_t)-1, d, len = strlen(word), limit;
	const char *hit = NULL;

	/* One typo in a short word, two in a longer one, three in a long
	 * one: further than that a suggestion is a guess. */
	limit = len <= 4 ? 1 : len <= 9 ? 2 : 3;
	for (; *names; names++) {
		d = distance(word, *names);
		/* A word that is the start of a name is as good as a typo
		 * away ("--dry" for "--dry-run"). */
		if (len >= 3 && strncmp(word, *names, len) == 0)
			d = 1;
		if (d < best) {
			best = d;
			hit = *names;
		}
	}
	return best <= limit ? hit : NULL;
}

/* The long names a mistyped option may have meant: the common ones and the
 * subcommand's. */
static const char *suggest_long(const char *word, size_t len,
                                const struct option *longopts)
{
	const char *names[128];
	char buf[128];
	size_t n = 0, k;

	for (k = 0; k < NCOMMONS; k++)
		if (commons[k].name)
			names[n++] = commons[k].name;
	for (k = 0; longopts && longopts[k].name && n < 127; k++)
		names[n++] = longopts[k].name;
	names[n] = NULL;
	snprintf(buf, sizeof(buf), "%.*s", (int)(len < 127 ? len : 127), word);
	return cli_did_you_mean(buf, names);
}

/* ---- matching ------------------------------------------------------------------ */

static const struct common_opt *common_long(const char *name, size_t len)
{
	size_t k;

	for (k = 0; k < NCOMMONS; k++)
		if (commons[k].name && strlen(commons[k].name) == len &&
		    strncmp(commons[k].name, name, len) == 0)
			return &commons[k];
	return NULL;
}

static const struct common_opt *common_short(char c)
{
	size_t k;

	for (k = 0; k < NCOMMONS; k++)
		if (commons[k].short_name == c)
			return &commons[k];
	return NULL;
}

/* The subcommand's long option `name` (len bytes), exactly or as the
 * unique start of one, as getopt_long takes it; NULL if none or more. */
static const struct option *sub_long(const struct option *longopts,
                                     const char *name, size_t len)
{
	const struct option *hit = NULL;
	size_t k;

	for (k = 0; longopts && longopts[k].name; k++) {
		if (strncmp(longopts[k].name, name, len) != 0)
			continue;
		if (strlen(longopts[k].name) == len)
			return &longopts[k];
		if (hit && hit->val != longopts[k].val)
			return NULL;
		hit = &longopts[k];
	}
	return hit;
}

static void apply(const struct common_opt *o, const char *val)
{
	rt_connect_opts *co = &cli_common.conn.opts;
	const char *formats[] = { "plain", "json", "json-pretty", NULL };
	const char *guess;
	long long secs;

	switch (o->id) {
	case C_CONF:
		co->conf_path = val;
		break;
	case C_ID:
		/* The last of --id and --name wins, as on Ceph's tools. */
		co->id = val;
		co->name = NULL;
		break;
	case C_NAME:
		co->name = val;
		co->id = NULL;
		break;
	case C_KEYRING:
		co->keyring = val;
		break;
	case C_CLUSTER:
		co->cluster = val;
		break;
	case C_POOL:
		cli_common.conn.pool = val;
		break;
	case C_NS:
		cli_common.conn.ns = val;
		break;
	case C_OP_TIMEOUT:
		secs = cli_parse_duration("--op-timeout", val,
		                          CLI_DUR_BARE_SECONDS);
		if (secs > 86400)
			cli_die(EX_USAGE, "--op-timeout: '%s' is more than a day",
			        val);
		co->op_timeout_sec = (unsigned)secs;
		break;
	case C_JOURNAL:
		cli_common.journal = val;
		break;
	case C_FORMAT:
		if (strcmp(val, "plain") == 0) {
			cli_common.format = CLI_FORMAT_PLAIN;
		} else if (strcmp(val, "json") == 0) {
			cli_common.format = CLI_FORMAT_JSON;
		} else if (strcmp(val, "json-pretty") == 0) {
			cli_common.format = CLI_FORMAT_JSON_PRETTY;
		} else {
			guess = cli_did_you_mean(val, formats);
			cli_usage_error("--format: '%s' is not plain, json or "
			                "json-pretty%s%s%s",
			                val, guess ? "; did you mean '" : "",
			                guess ? guess : "", guess ? "'?" : "");
			exit(cli_finish(EX_USAGE));
		}
		break;
	case C_JSON:
		cli_common.format = CLI_FORMAT_JSON;
		break;
	case C_MON_HOST:
		push_ceph("--mon_host");
		push_ceph(val);
		break;
	}
}

/* What argv[i] is, and how many words it takes.  kind: 'c' common (*co
 * set), 'r' librados option, 's' the subcommand's, 'o' operand, '-' the
 * end of options, '?' unknown (message in why), 'e' malformed (message in
 * why). */
struct word {
	int kind;
	int width;
	const struct common_opt *co;
	const char *val;
	char why[160];
};

/* A common option's value: `inline_val` ("-wVALUE", "--wait=VALUE"), or
 * else the next word; malformed when there is none (`dashes` and `name`
 * spell the option for the message). */
static void take_value(struct word *w, int argc, char **argv, int i,
                       const char *inline_val, const char *dashes,
                       const char *name, int name_len)
{
	if (inline_val) {
		w->val = inline_val;
	} else if (i + 1 < argc) {
		w->val = argv[i + 1];
		w->width = 2;
	} else {
		w->kind = 'e';
		snprintf(w->why, sizeof(w->why), "option '%s%.*s' needs a value",
		         dashes, name_len, name);
	}
}

static void classify(struct word *w, int argc, char **argv, int i,
                     const struct option *longopts, const char *shortopts)
{
	const char *a = argv[i], *name, *eq, *p;
	const struct option *so;
	size_t len;
	int kind;

	memset(w, 0, sizeof(*w));
	w->width = 1;
	if (strcmp(a, "--") == 0) {
		w->kind = '-';
		return;
	}
	if (a[0] != '-' || a[1] == '\0') {
		w->kind = 'o';
		return;
	}
	if (a[1] != '-') {
		w->co = common_short(a[1]);
		if (w->co) {
			w->kind = 'c';
			take_value(w, argc, argv, i, a[2] ? a + 2 : NULL, "-",
			           a + 1, 1);
			return;
		}
		w->kind = 's';
		if (!shortopts)
			return;
		p = strchr(shortopts, a[1]);
		if (!p || a[1] == ':') {
			w->kind = '?';
			snprintf(w->why, sizeof(w->why), "unknown option '-%c'",
			         a[1]);
			return;
		}
		if (p[1] == ':' && p[2] != ':' && !a[2] && i + 1 < argc)
			w->width = 2;
		return;
	}
	name = a + 2;
	eq = strchr(name, '=');
	len = eq ? (size_t)(eq - name) : strlen(name);
	w->co = common_long(name, len);
	if (w->co) {
		w->kind = 'c';
		if (!w->co->has_value) {
			if (eq) {
				w->kind = 'e';
				snprintf(w->why, sizeof(w->why),
				         "option '--%s' takes no value",
				         w->co->name);
			}
		} else {
			take_value(w, argc, argv, i, eq ? eq + 1 : NULL, "--",
			           w->co->name, (int)strlen(w->co->name));
		}
		return;
	}
	so = sub_long(longopts, name, len);
	if (so) {
		w->kind = 's';
		if (so->has_arg == required_argument && !eq && i + 1 < argc)
			w->width = 2;
		return;
	}
	{
		char opt[256];

		snprintf(opt, sizeof(opt), "%.*s", (int)(len < 255 ? len : 255),
		         name);
		kind = len < 255 ? rt_ceph_option_kind(opt) : 0;
	}
	if (kind == RT_CEPH_OPT_VALUE) {
		w->kind = 'r';
		if (!eq) {
			if (i + 1 < argc) {
				w->width = 2;
			} else {
				w->kind = 'e';
				snprintf(w->why, sizeof(w->why),
				         "Ceph option '--%.*s' needs a value",
				         (int)(len < 100 ? len : 100), name);
			}
		}
		return;
	}
	if (kind == RT_CEPH_OPT_FLAG) {
		w->kind = 'r';
		return;
	}
	if (!longopts) {
		w->kind = 's';
		return;
	}
	{
		const char *guess = suggest_long(name, len, longopts);

		w->kind = '?';
		snprintf(w->why, sizeof(w->why),
		         "unknown option '--%.*s' (neither reftrack's nor a Ceph "
		         "option)%s%s%s",
		         (int)(len < 80 ? len : 80), name,
		         guess ? "; did you mean '--" : "", guess ? guess : "",
		         guess ? "'?" : "");
	}
}

int cli_common_width(int argc, char **argv, int i)
{
	struct word w;

	classify(&w, argc, argv, i, NULL, NULL);
	return w.kind == 'c' || w.kind == 'r' ? w.width : 0;
}

int cli_common_parse(int *argc, char **argv, const struct option *longopts,
                     const char *shortopts)
{
	int i, k = 1, n = *argc, j;
	struct word w;
	char why[sizeof(w.why)] = "";

	/* After an error the rest is still read, for a --format that comes
	 * later: the error is to be reported in the format asked for. */
	for (i = 1; i < n; i += w.width) {
		classify(&w, n, argv, i, longopts, shortopts);
		switch (w.kind) {
		case '-':
			/* The rest are operands, "--" kept for getopt. */
			while (i < n)
				argv[k++] = argv[i++];
			w.width = 0;
			break;
		case 'c':
			apply(w.co, w.val);
			continue;
		case 'r':
			for (j = 0; j < w.width; j++)
				push_ceph(argv[i + j]);
			continue;
		case '?':
		case 'e':
			if (!why[0])
				snprintf(why, sizeof(why), "%s", w.why);
			continue;
		default:
			for (j = 0; j < w.width; j++)
				argv[k++] = argv[i + j];
			continue;
		}
		break;
	}
	*argc = k;
	argv[k] = NULL;
	return why[0] ? cli_usage_error("%s", why) : 0;
}

int cli_bad_option(int argc, char **argv, const struct option *longopts)
{
	const char *a = optind > 1 && optind <= argc ? argv[optind - 1] : "";
	size_t len;

	if (strncmp(a, "--", 2) == 0) {
		len = strcspn(a + 2, "=");
		if (sub_long(longopts, a + 2, len))
			return cli_usage_error("option '--%.*s' needs a value",
			                       (int)len, a + 2);
		return cli_usage_error("unknown option '%s'", a);
	}
	if (optopt && optopt < 0x100)
		return cli_usage_error("option '-%c' is unknown or needs a value",
		                       optopt);
	return cli_usage_error("unknown option '%s'", a);
}

/* ---- output ------------------------------------------------------------------ */

void cli_json_begin_output(struct cli_json *w)
{
	cli_json_init(w, stdout, cli_common.format == CLI_FORMAT_JSON_PRETTY);
	cli_json_object_begin(w);
	cli_json_kv_uint(w, "schema_version", CLI_SCHEMA_VERSION);
}

/* Stable names of the exit statuses, for the error object's "code". */
static const char *status_code(int status)
{
	switch (status) {
	case 1:
		return "attention";
	case EX_USAGE:
		return "usage";
	case EX_DATAERR:
		return "data_error";
	case EX_NOINPUT:
		return "no_input";
	case EX_UNAVAILABLE:
		return "unavailable";
	case EX_SOFTWARE:
		return "software";
	case EX_OSERR:
		return "os_error";
	case EX_CANTCREAT:
		return "cant_create";
	case EX_IOERR:
		return "io_error";
	case EX_TEMPFAIL:
		return "temp_fail";
	case EX_NOPERM:
		return "permission_denied";
	case EX_CONFIG:
		return "config_error";
	default:
		return "error";
	}
}

int cli_finish(int status)
{
	struct cli_json w;
	char fallback[64];

	if (status == EX_OK || cli_json_stdout_documents ||
	    cli_common.format == CLI_FORMAT_PLAIN)
		return status;
	snprintf(fallback, sizeof(fallback), "failed with exit status %d",
	         status);
	cli_json_init(&w, stdout, cli_common.format == CLI_FORMAT_JSON_PRETTY);
	cli_json_object_begin(&w);
	cli_json_kv_uint(&w, "schema_version", CLI_SCHEMA_VERSION);
	cli_json_kv_string(&w, "command", cli_subcommand());
	cli_json_kv_string(&w, "error", cli_msg_first_error()[0]
	                                    ? cli_msg_first_error()
	                                    : fallback);
	cli_json_kv_string(&w, "code", status_code(status));
	cli_json_kv_int(&w, "exit", status);
	cli_json_object_end(&w);
	cli_json_finish(&w);
	return status;
}

void cli_print_version(const char *tool)
{
	rt_versions v;

	rt_versions_get(&v);
	printf("%s %s\nlibrados %d.%d.%d\n%s\nlibyaml %s\n", tool, v.reftrack,
	       v.rados_major, v.rados_minor, v.rados_extra, v.lmdb, v.yaml);
}
