/*
 * reftrack_repair.c - `reftrack repair TRACKER --recount`: the one repair
 * there is, explicit and guarded.
 *
 * A count that disagrees with its normal keys is rewritten to their number
 * (rt_tracker_recount(): one write asserting the object version read), and
 * only with --yes; without it the command says what it would write and
 * exits 1, so that a script notices a tracker that needs an operator.
 * Every other flaw (type bytes, a NUL in a key, an unknown version, the
 * draft layout, a data size) is refused: no rule says what the right bytes
 * would be, so the message names the object and the flaw and gives the
 * `rados` commands that show its bytes.
 */
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cli_json.h"

enum {
	OPT_RECOUNT = CLI_OPT_FIRST_FREE,
	OPT_YES,
	OPT_EXPECT_VERSION,
};

const struct option reftrack_repair_opts[] = {
	{ "recount", no_argument, NULL, OPT_RECOUNT },
	{ "yes", no_argument, NULL, OPT_YES },
	{ "expect-version", required_argument, NULL, OPT_EXPECT_VERSION },
	{ "help", no_argument, NULL, CLI_OPT_HELP },
	{ NULL, 0, NULL, 0 },
};

static void usage(FILE *out)
{
	fprintf(out, "usage: reftrack repair [OPTIONS] TRACKER --recount [--yes] "
	             "[--expect-version V]\n"
	             "Rewrites the refcount of a tracker whose count disagrees "
	             "with its normal keys\nto the number of normal keys, in one "
	             "write guarded by the object version\nread, and prints "
	             "before and after.  Nothing else is ever repaired: any "
	             "other\nflaw is reported with the rados commands that "
	             "show the object's bytes.\n"
	             "      --recount          the repair to make (the only "
	             "one there is)\n"
	             "      --yes              write it; without --yes, print "
	             "what would be written\n"
	             "      --expect-version V  refuse unless the object "
	             "version read is V (the one a\n"
	             "                         dry run printed)\n"
	             "  -f, --format FORMAT    plain, json or json-pretty\n"
	             "  -h, --help             this text\n"
	             "Connection options (`reftrack --help`), before or after "
	             "the subcommand:\n"
	             CLI_CONN_USAGE
	             "Exit status: 0 repaired, or the count was right; 1 the "
	             "count is wrong and\n--yes was not given (nothing "
	             "written); 64 usage; 65 a flaw that is not\nrepaired "
	             "(nothing written); 66 no such pool or tracker; 69 "
	             "cluster\nunreachable; 75 the tracker changed since it was "
	             "read or is not at\n--expect-version (nothing written); "
	             "77 permission denied; 78 Ceph\nconfiguration "
	             "unusable.\n");
}

/* A word for a shell command line: as is when every byte is harmless,
 * else single-quoted, else (bytes a terminal would act on) bash's $'...'
 * with \xNN escapes.  malloc'd; dies on ENOMEM. */
static char *shell_word(const char *s)
{
	static const char safe[] = "abcdefghijklmnopqrstuvwxyz"
	                           "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	                           "0123456789-_./=:,+@%";
	size_t len = strlen(s), i, n = 0;
	int printable = 1;
	char *out;

	if (len && strspn(s, safe) == len) {
		out = strdup(s);
		if (!out)
			cli_die(EX_OSERR, "out of memory");
		return out;
	}
	for (i = 0; i < len; i++)
		if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] >= 0x7f)
			printable = 0;
	/* At most 4 bytes per input byte, plus the quotes. */
	out = malloc(4 * len + 4);
	if (!out)
		cli_die(EX_OSERR, "out of memory");
	if (!printable)
		out[n++] = '$';
	out[n++] = '\'';
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (printable && c == '\'') {
			memcpy(out + n, "'\\''", 4);
			n += 4;
		} else if (!printable && (c == '\'' || c == '\\' || c < 0x20 ||
		                          c >= 0x7f)) {
			n += (size_t)sprintf(out + n, "\\x%02x", c);
		} else {
			out[n++] = (char)c;
		}
	}
	out[n++] = '\'';
	out[n] = '\0';
	return out;
}

/* The commands that show a tracker's bytes, for a flaw repair leaves to
 * an operator. */
static void print_inspect(const struct cli_conn *conn, const char *tracker)
{
	char *p = shell_word(conn->pool), *o = shell_word(tracker), *ns = NULL;
	char where[1024];

	if (conn->ns && conn->ns[0]) {
		ns = shell_word(conn->ns);
		snprintf(where, sizeof(where), "rados -p %s -N %s", p, ns);
	} else {
		snprintf(where, sizeof(where), "rados -p %s", p);
	}
	cli_warn("nothing was written: only a count that disagrees with the "
	         "normal keys is repaired; these commands show the object's bytes");
	cli_warn("  %s stat %s", where, o);
	cli_warn("  %s getxattr %s %s | od -An -tx1", where, o,
	         RT_VERSION_XATTR);
	cli_warn("  %s get %s - | od -An -tx1", where, o);
	cli_warn("  %s listomapvals %s", where, o);
	free(p);
	free(o);
	free(ns);
}

static const char *result_name(const rt_recount *r)
{
	return !r->needed ? "consistent" : r->written ? "repaired" : "dry_run";
}

static int print_json(const struct cli_conn *conn, const char *tracker,
                      const rt_recount *r)
{
	struct cli_json jw, *j = &jw;

	cli_json_begin_output(j);
	cli_json_kv_string(j, "command", "repair");
	cli_json_kv_string(j, "pool", conn->pool);
	cli_json_kv_string(j, "namespace", conn->ns ? conn->ns : "");
	cli_json_kv_string(j, "tracker", tracker);
	cli_json_kv_string(j, "repair", "recount");
	cli_json_kv_string(j, "result", result_name(r));
	cli_json_key(j, "before");
	cli_json_object_begin(j);
	cli_json_kv_uint(j, "refcount", r->refcount);
	cli_json_kv_uint(j, "normal_keys", r->normal_keys);
	cli_json_kv_uint(j, "mask_keys", r->mask_keys);
	cli_json_kv_uint(j, "object_version", r->object_version);
	cli_json_object_end(j);
	/* After: what the tracker holds now (dry run: what would be written,
	 * with no version, as there is no write). */
	cli_json_key(j, "after");
	cli_json_object_begin(j);
	cli_json_kv_uint(j, "refcount", r->needed ? r->normal_keys
	                                          : r->refcount);
	cli_json_kv_uint(j, "normal_keys", r->normal_keys);
	cli_json_kv_uint(j, "mask_keys", r->mask_keys);
	cli_json_key(j, "object_version");
	if (r->needed && !r->written)
		cli_json_null(j);
	else
		cli_json_uint(j, r->written ? r->new_version
		                            : r->object_version);
	cli_json_object_end(j);
	cli_json_object_end(j);
	return cli_json_finish(j);
}

static void print_plain(const struct cli_conn *conn, const char *tracker,
                        const rt_recount *r)
{
	char *t = cli_escape(tracker), *p = cli_escape(conn->pool);
	char *n = cli_escape(conn->ns ? conn->ns : "");

	printf("tracker: %s\npool: %s\nnamespace: %s\n", t, p, n);
	printf("before: refcount %" PRIu32 ", normal keys %" PRIu64
	       ", mask keys %" PRIu64 ", object version %" PRIu64 "\n",
	       r->refcount, r->normal_keys, r->mask_keys, r->object_version);
	if (!r->needed)
		printf("after: unchanged: the refcount matches the normal "
		       "keys, nothing to repair\n");
	else if (r->written)
		printf("after: refcount %" PRIu64 ", normal keys %" PRIu64
		       ", mask keys %" PRIu64 ", object version %" PRIu64 "\n",
		       r->normal_keys, r->normal_keys, r->mask_keys,
		       r->new_version);
	else
		printf("would write: refcount %" PRIu64 " (one write guarded "
		       "on object version %" PRIu64 ")\n",
		       r->normal_keys, r->object_version);
	free(t);
	free(p);
	free(n);
}

int reftrack_cmd_repair(int argc, char **argv)
{
	struct cli_conn conn = cli_common.conn;
	rt_cluster *cluster = NULL;
	rt_pool *pool = NULL;
	rt_recount r;
	const char *tracker;
	uint64_t expect = 0;
	int recount = 0, yes = 0, opt, rc, status;

	optind = 1;
	while ((opt = getopt_long(argc, argv, "h", reftrack_repair_opts,
	                          NULL)) != -1) {
		switch (opt) {
		case OPT_RECOUNT:
			recount = 1;
			break;
		case OPT_YES:
			yes = 1;
			break;
		case OPT_EXPECT_VERSION:
			/* Object versions start at 1: 0 would mean "none". */
			expect = cli_parse_ulong("--expect-version", optarg,
			                         ULONG_MAX);
			if (expect == 0)
				return cli_usage_error("--expect-version: an "
				                       "object version is 1 or "
				                       "more");
			break;
		case 'h':
		case CLI_OPT_HELP:
			usage(stdout);
			return EX_OK;
		default:
			return cli_bad_option(argc, argv, reftrack_repair_opts);
		}
	}
	if (optind >= argc)
		return cli_usage_error("no tracker given");
	tracker = argv[optind++];
	if (optind < argc)
		return cli_usage_error("unexpected argument '%s'", argv[optind]);
	if (!recount)
		return cli_usage_error("say which repair: --recount (the only "
		                       "one there is)");
	status = cli_conn_open(&conn, &cluster, &pool);
	if (status != 0)
		goto done;
	rc = rt_tracker_recount(&r, pool, tracker, expect,
	                        yes ? RT_RECOUNT_WRITE : 0);
	if (rc != 0) {
		cli_warn("%s", rt_pool_errmsg(pool));
		status = cli_exit_code(rc);
		if (rc == RT_ECORRUPT || rc == RT_EFOREIGN || rc == RT_EVERSION)
			print_inspect(&conn, tracker);
		else if (rc == RT_ECONFLICT)
			cli_warn("read it again: run the same command without "
			         "--yes and check what it prints");
		goto done;
	}
	if (cli_common.format != CLI_FORMAT_PLAIN) {
		if (print_json(&conn, tracker, &r) != 0)
			status = EX_IOERR;
	} else {
		print_plain(&conn, tracker, &r);
		if (fflush(stdout) != 0)
			status = EX_IOERR;
	}
	if (r.needed && !r.written) {
		char *t = cli_escape(tracker);

		cli_warn("dry run, nothing written: add --yes to write it "
		         "(with --expect-version %" PRIu64 " it is refused if "
		         "'%s' changed since this read)", r.object_version, t);
		free(t);
		if (status == EX_OK)
			status = 1;
	}
done:
	rt_pool_close(pool);
	rt_cluster_close(cluster);
	return status;
}
