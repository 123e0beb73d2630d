/*
 * reftrack_tracker.c - the direct tracker subcommands: add, rm, show.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cli_json.h"

enum { OPT_MASK = CLI_OPT_FIRST_FREE };

static const char *ref_type_name(rt_ref_type type)
{
	return type == RT_REF_MASK ? "mask" : "normal";
}

static void usage(const char *sub, FILE *out)
{
	if (strcmp(sub, "add") == 0)
		fprintf(out, "usage: reftrack add [OPTIONS] TRACKER KEY...\n"
		             "Adds KEYs as normal references, creating TRACKER "
		             "if needed.\n"
		             "Prints created=0|1 added=N refcount=N.\n");
	else if (strcmp(sub, "rm") == 0)
		fprintf(out, "usage: reftrack rm [--mask] [OPTIONS] TRACKER "
		             "KEY...\n"
		             "Removes KEYs (or, with --mask, masks them); the "
		             "tracker is deleted\nwhen its last normal reference "
		             "goes.\n"
		             "Prints deleted=0|1 removed=N masked=N refcount=N.\n"
		             "      --mask             mask the keys instead of "
		             "removing them\n");
	else
		fprintf(out, "usage: reftrack show [OPTIONS] TRACKER\n"
		             "Prints the tracker's object version, refcount and "
		             "every key with its type.\n");
	fprintf(out, "  -f, --format FORMAT    plain, json or json-pretty\n"
	             "  -h, --help             this text\n"
	             "Connection options (`reftrack --help`), before or after "
	             "the subcommand:\n"
	             CLI_CONN_USAGE
	             "Exit status: 0 done, 64 usage, 65 bad input or corrupt "
	             "tracker, 66 no such\npool or tracker, 69 cluster "
	             "unreachable, 75 conflict or timeout after\nretries, "
	             "77 permission denied, 78 Ceph configuration unusable.\n");
}

const struct option reftrack_tracker_opts[] = {
	{ "mask", no_argument, NULL, OPT_MASK },
	{ "help", no_argument, NULL, CLI_OPT_HELP },
	{ NULL, 0, NULL, 0 },
};

struct tracker_args {
	struct cli_conn conn;
	int json;
	int mask;
	const char *tracker;
	char **keys;
	size_t nkeys;
};

/* Returns 0 when the command should run, or the exit status to return. */
static int parse_args(struct tracker_args *a, int argc, char **argv,
                      size_t min_keys, int allow_mask)
{
	const char *sub = argv[0];
	int opt;

	memset(a, 0, sizeof(*a));
	a->conn = cli_common.conn;
	a->json = cli_common.format != CLI_FORMAT_PLAIN;
	optind = 1;
	while ((opt = getopt_long(argc, argv, "h", reftrack_tracker_opts,
	                          NULL)) != -1) {
		switch (opt) {
		case OPT_MASK:
			if (!allow_mask)
				return cli_usage_error("--mask goes with rm only");
			a->mask = 1;
			break;
		case 'h':
		case CLI_OPT_HELP:
			usage(sub, stdout);
			return -1;
		default:
			return cli_bad_option(argc, argv, reftrack_tracker_opts);
		}
	}
	if (optind >= argc)
		return cli_usage_error("no tracker given");
	a->tracker = argv[optind++];
	a->keys = argv + optind;
	a->nkeys = (size_t)(argc - optind);
	if (a->nkeys < min_keys)
		return cli_usage_error("no keys given");
	if (min_keys == 0 && a->nkeys > 0)
		return cli_usage_error("unexpected argument '%s'", a->keys[0]);
	return 0;
}

static int print_outcome(const struct tracker_args *a, int is_add,
                         const rt_outcome *o)
{
	if (!a->json) {
		if (is_add)
			printf("created=%d added=%u refcount=%u\n", o->created,
			       o->added, o->refcount);
		else
			printf("deleted=%d removed=%u masked=%u refcount=%u\n",
			       o->deleted, o->removed, o->masked, o->refcount);
		return 0;
	}
	{
		struct cli_json jw, *j = &jw;

		cli_json_begin_output(j);
		cli_json_kv_string(j, "command", is_add ? "add" : "rm");
		cli_json_kv_string(j, "pool", a->conn.pool);
		cli_json_kv_string(j, "namespace", a->conn.ns ? a->conn.ns : "");
		cli_json_kv_string(j, "tracker", a->tracker);
		cli_json_kv_bool(j, "created", o->created);
		cli_json_kv_bool(j, "deleted", o->deleted);
		cli_json_kv_uint(j, "added", o->added);
		cli_json_kv_uint(j, "removed", o->removed);
		cli_json_kv_uint(j, "masked", o->masked);
		cli_json_kv_uint(j, "refcount", o->refcount);
		cli_json_kv_uint(j, "object_version", o->object_version);
		cli_json_kv_uint(j, "attempts", o->attempts);
		cli_json_object_end(j);
		return cli_json_finish(j);
	}
}

static int run_change(int argc, char **argv, int is_add)
{
	struct tracker_args a;
	rt_cluster *cluster = NULL;
	rt_pool *pool = NULL;
	rt_ref *refs = NULL;
	rt_outcome outcome;
	size_t i;
	int rc, status;

	status = parse_args(&a, argc, argv, 1, !is_add);
	if (status != 0)
		return status < 0 ? EX_OK : status;
	status = cli_conn_open(&a.conn, &cluster, &pool);
	if (status != 0)
		goto done;
	if (is_add) {
		rc = rt_tracker_add(&outcome, pool, a.tracker,
		                    (const char *const *)a.keys, a.nkeys);
	} else {
		refs = calloc(a.nkeys, sizeof(*refs));
		if (!refs)
			cli_die(EX_OSERR, "out of memory");
		for (i = 0; i < a.nkeys; i++) {
			refs[i].key = a.keys[i];
			refs[i].type = a.mask ? RT_REF_MASK : RT_REF_NORMAL;
		}
		rc = rt_tracker_remove(&outcome, pool, a.tracker, refs,
		                       a.nkeys);
	}
	if (rc != 0) {
		cli_warn("%s", rt_pool_errmsg(pool));
		status = cli_exit_code(rc);
		goto done;
	}
	if (print_outcome(&a, is_add, &outcome) != 0)
		status = EX_IOERR;
done:
	free(refs);
	rt_pool_close(pool);
	rt_cluster_close(cluster);
	return status;
}

int reftrack_cmd_add(int argc, char **argv)
{
	return run_change(argc, argv, 1);
}

int reftrack_cmd_rm(int argc, char **argv)
{
	return run_change(argc, argv, 0);
}

static int print_info(const struct tracker_args *a, const rt_tracker_info *info)
{
	size_t i;

	if (!a->json) {
		char *t = cli_escape(a->tracker), *p = cli_escape(a->conn.pool);
		char *n = cli_escape(a->conn.ns ? a->conn.ns : "");

		printf("tracker: %s\npool: %s\nnamespace: %s\n"
		       "object version: %llu\nformat version: %u\n"
		       "refcount: %u\nrefs: %zu\n", t, p, n,
		       (unsigned long long)info->object_version,
		       info->format_version, info->refcount, info->nrefs);
		free(t);
		free(p);
		free(n);
		for (i = 0; i < info->nrefs; i++) {
			/* Escaped, so that a key cannot pass for lines of
			 * its own; the empty key shows as "". */
			char *k = cli_escape(info->refs[i].key);

			printf("%s %s\n", ref_type_name(info->refs[i].type),
			       k[0] ? k : "\"\"");
			free(k);
		}
		return 0;
	}
	{
		struct cli_json jw, *j = &jw;

		cli_json_begin_output(j);
		cli_json_kv_string(j, "pool", a->conn.pool);
		cli_json_kv_string(j, "namespace", a->conn.ns ? a->conn.ns : "");
		cli_json_kv_string(j, "tracker", a->tracker);
		cli_json_kv_uint(j, "object_version", info->object_version);
		cli_json_kv_uint(j, "format_version", info->format_version);
		cli_json_kv_uint(j, "refcount", info->refcount);
		cli_json_key(j, "refs");
		cli_json_array_begin(j);
		for (i = 0; i < info->nrefs; i++) {
			cli_json_object_begin(j);
			cli_json_kv_string(j, "key", info->refs[i].key);
			cli_json_kv_string(j, "type",
			                    ref_type_name(info->refs[i].type));
			cli_json_object_end(j);
		}
		cli_json_array_end(j);
		cli_json_object_end(j);
		return cli_json_finish(j);
	}
}

int reftrack_cmd_show(int argc, char **argv)
{
	struct tracker_args a;
	rt_cluster *cluster = NULL;
	rt_pool *pool = NULL;
	rt_tracker_info *info = NULL;
	size_t nnormal = 0, i;
	int rc, status;

	status = parse_args(&a, argc, argv, 0, 0);
	if (status != 0)
		return status < 0 ? EX_OK : status;
	status = cli_conn_open(&a.conn, &cluster, &pool);
	if (status != 0)
		goto done;
	rc = rt_tracker_read(&info, pool, a.tracker);
	if (rc != 0) {
		cli_warn("%s", rt_pool_errmsg(pool));
		status = cli_exit_code(rc);
		goto done;
	}
	if (print_info(&a, info) != 0)
		status = EX_IOERR;
	for (i = 0; i < info->nrefs; i++)
		if (info->refs[i].type == RT_REF_NORMAL)
			nnormal++;
	/* A count that disagrees with the keys is what later turns into an
	 * underflow on remove; say so while it is still harmless. */
	if (nnormal != info->refcount) {
		char *t = cli_escape(a.tracker);

		cli_warn("tracker '%s': refcount %u but %zu normal keys",
		         t, info->refcount, nnormal);
		free(t);
		if (status == EX_OK)
			status = EX_DATAERR;
	}
done:
	rt_tracker_info_free(info);
	rt_pool_close(pool);
	rt_cluster_close(cluster);
	return status;
}
