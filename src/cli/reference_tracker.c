/*
 * reference_tracker.c - `reference-tracker`, the draft tool's interface kept
 * as it was, on top of libreftrack:
 *
 *   reference-tracker -i CLIENT_ID -p POOL -c CEPH_CONF [-r RT_NAME]
 *                     -k KEY1,KEY2 -o add|rem [-n NAMESPACE]
 *                     [-t normal|mask] [-v] [-h]
 *
 * The last line on stdout is created=0|1 (add) or deleted=0|1 (rem); -v
 * narrates on stderr.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

#define DEFAULT_TRACKER "hello-reference-tracker"

static int verbose;

static void usage(FILE *out)
{
	fprintf(out,
	        "usage: reference-tracker -i CLIENT_ID -p POOL -c CEPH_CONF "
	        "[-r RT_NAME]\n"
	        "                         -k KEY1,KEY2,... -o add|rem "
	        "[-n NAMESPACE] [-t normal|mask] [-v]\n"
	        "\n"
	        "  -i CLIENT_ID  cephx client id, e.g. admin\n"
	        "  -p POOL       pool holding the tracker\n"
	        "  -c CONF       Ceph configuration file\n"
	        "  -r RT_NAME    tracker object name (default " DEFAULT_TRACKER
	        ")\n"
	        "  -k KEYS       comma-separated reference keys\n"
	        "  -o OP         add: add the keys; rem: remove them\n"
	        "  -n NAMESPACE  RADOS namespace of the tracker\n"
	        "  -t TYPE       with rem: normal (default) removes the keys, mask\n"
	        "                masks them\n"
	        "  -v            narrate the steps on stderr\n"
	        "  -h, --help    this help\n"
	        "  -V, --version reftrack's version and the library versions\n"
	        "\n"
	        "Prints created=0|1 (add) or deleted=0|1 (rem) as its last line.\n"
	        "Exit status: 0 done, 64 usage, 65 bad input or corrupt tracker,\n"
	        "66 no such pool, 69 cluster unreachable, 75 conflict or timeout "
	        "after retries,\n"
	        "77 permission denied, 78 Ceph configuration unusable.\n");
}

static void narrate(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void narrate(const char *fmt, ...)
{
	va_list ap;

	if (!verbose)
		return;
	va_start(ap, fmt);
	fprintf(stderr, "%s: ", cli_progname());
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

/* Splits "a,b,c" in place into *keys; an empty element stays empty (the
 * caller refuses it: see main). */
static char **split_keys(char *list, size_t *nkeys)
{
	size_t n = 1, i = 0;
	char **keys;
	char *p;

	for (p = list; *p; p++)
		if (*p == ',')
			n++;
	keys = calloc(n, sizeof(*keys));
	if (!keys)
		cli_die(EX_OSERR, "out of memory");
	keys[i++] = list;
	for (p = list; *p; p++) {
		if (*p == ',') {
			*p = '\0';
			keys[i++] = p + 1;
		}
	}
	*nkeys = n;
	return keys;
}

int main(int argc, char **argv)
{
	struct cli_conn conn;
	const char *tracker = DEFAULT_TRACKER, *op = NULL, *type = "normal";
	char *keylist = NULL, *esc_tracker = NULL;
	char **keys = NULL;
	rt_ref *refs = NULL;
	rt_cluster *cluster = NULL;
	rt_pool *pool = NULL;
	rt_outcome outcome;
	size_t nkeys = 0, i;
	int opt, rc, status = EX_OK, is_add;

	static const struct option longopts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};

	cli_set_progname("reference-tracker");
	cli_ignore_sigpipe();
	cli_conn_init(&conn);
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "i:p:c:r:k:o:n:t:vhV", longopts,
	                          NULL)) != -1) {
		switch (opt) {
		case 'i':
			conn.opts.id = optarg;
			break;
		case 'p':
			conn.pool = optarg;
			break;
		case 'c':
			conn.opts.conf_path = optarg;
			break;
		case 'r':
			tracker = optarg;
			break;
		case 'k':
			keylist = optarg;
			break;
		case 'o':
			op = optarg;
			break;
		case 'n':
			conn.ns = optarg;
			break;
		case 't':
			type = optarg;
			break;
		case 'v':
			verbose = 1;
			break;
		case 'h':
			usage(stdout);
			return EX_OK;
		case 'V':
			cli_print_version("reference-tracker");
			return EX_OK;
		default:
			if (optopt && strchr("ipcrkont", optopt))
				cli_warn("option '-%c' needs a value", optopt);
			else if (optopt)
				cli_warn("unknown option '-%c'", optopt);
			else
				cli_warn("unknown option '%s'", argv[optind - 1]);
			fprintf(stderr, "try 'reference-tracker -h'\n");
			return EX_USAGE;
		}
	}
	if (optind != argc) {
		cli_warn("unexpected argument '%s'", argv[optind]);
		fprintf(stderr, "try 'reference-tracker -h'\n");
		return EX_USAGE;
	}
	if (!keylist || !op || !conn.pool) {
		cli_warn("-k KEYS, -o OP and -p POOL are required");
		fprintf(stderr, "try 'reference-tracker -h'\n");
		return EX_USAGE;
	}
	if (strcmp(op, "add") != 0 && strcmp(op, "rem") != 0) {
		cli_warn("-o takes add or rem, not '%s'", op);
		return EX_USAGE;
	}
	is_add = op[0] == 'a';
	if (strcmp(type, "normal") != 0 && strcmp(type, "mask") != 0) {
		cli_warn("-t takes normal or mask, not '%s'", type);
		return EX_USAGE;
	}
	if (is_add && strcmp(type, "normal") != 0) {
		cli_warn("-t mask goes with -o rem only");
		return EX_USAGE;
	}

	keys = split_keys(keylist, &nkeys);
	/* The library takes the empty key (ceph-csi stores it), but in a
	 * comma list an empty element is a typo far more often than a
	 * reference: `reftrack add|rm TRACKER ""` names it on purpose. */
	for (i = 0; i < nkeys; i++) {
		if (!keys[i][0]) {
			cli_warn("-k: key %zu of %zu is empty (use `reftrack "
			         "add|rm TRACKER \"\"` for the empty key)",
			         i + 1, nkeys);
			status = EX_DATAERR;
			goto done;
		}
	}
	narrate("connecting to the cluster as %s%s (conf %s)",
	        conn.opts.id ? "client." : "",
	        conn.opts.id ? conn.opts.id : "the default client",
	        conn.opts.conf_path ? conn.opts.conf_path : "from $CEPH_CONF");
	status = cli_conn_open(&conn, &cluster, &pool);
	if (status != 0)
		goto done;
	if (verbose) {
		char *p = cli_escape(conn.pool);
		char *n = cli_escape(conn.ns ? conn.ns : "");

		narrate("connected; pool '%s' namespace '%s'", p, n);
		free(p);
		free(n);
		esc_tracker = cli_escape(tracker);
	}

	if (is_add) {
		narrate("adding %zu key(s) to tracker '%s'", nkeys,
		        esc_tracker);
		rc = rt_tracker_add(&outcome, pool, tracker,
		                    (const char *const *)keys, nkeys);
	} else {
		refs = calloc(nkeys, sizeof(*refs));
		if (!refs)
			cli_die(EX_OSERR, "out of memory");
		for (i = 0; i < nkeys; i++) {
			refs[i].key = keys[i];
			refs[i].type = type[0] == 'm' ? RT_REF_MASK
			                              : RT_REF_NORMAL;
		}
		narrate("removing %zu key(s) (%s) from tracker '%s'", nkeys,
		        type, esc_tracker);
		rc = rt_tracker_remove(&outcome, pool, tracker, refs, nkeys);
	}
	if (rc != 0) {
		cli_warn("%s", rt_pool_errmsg(pool));
		status = cli_exit_code(rc);
		goto done;
	}
	narrate("done in %u round(s): %u added, %u removed, %u masked; "
	        "refcount %u; object version %llu",
	        outcome.attempts, outcome.added, outcome.removed,
	        outcome.masked, outcome.refcount,
	        (unsigned long long)outcome.object_version);
	if (is_add)
		printf("created=%d\n", outcome.created);
	else
		printf("deleted=%d\n", outcome.deleted);

done:
	free(esc_tracker);
	free(refs);
	free(keys);
	rt_pool_close(pool);
	rt_cluster_close(cluster);
	if (fflush(stdout) != 0 && status == EX_OK)
		status = EX_IOERR;
	return status;
}
