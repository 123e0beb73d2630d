/*
 * bench_sync.c - the sequential baseline: one library call per entry, each
 * a read op then a write op, one entry at a time, as ceph-csi's reftracker
 * works.
 *
 *   bench_sync [-c CONF] [--id ID] [-p POOL] [-N NAMESPACE] OPSFILE
 *
 * OPSFILE has one entry a line, "TRACKER add|rm|mask KEY" (gen_workload.py
 * --ops).  Connecting and reading the file are not timed.  Result line
 * (stdout): sync entries=N seconds=S rate=R.  Any failed call stops the run
 * with the library's message and exit 1.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <reftrack/reftrack.h>

#include "bench.h"

typedef struct entry {
	char *tracker;
	char *key;
	int op; /* 0 add, else an rt_ref_type to remove with */
} entry;

static entry *read_ops(const char *path, size_t *n)
{
	FILE *f = fopen(path, "r");
	char *line = NULL, tracker[2100], op[8], key[2100];
	size_t cap = 0, len = 0, vcap = 0, lineno = 0;
	entry *v = NULL;

	if (!f)
		bench_die("%s:", path);
	while (getline(&line, &cap, f) > 0) {
		lineno++;
		if (sscanf(line, "%2099s %7s %2099s", tracker, op, key) != 3)
			bench_die("%s:%zu: TRACKER add|rm|mask KEY expected", path,
			          lineno);
		if (len == vcap) {
			vcap = vcap ? vcap * 2 : 1024;
			v = realloc(v, vcap * sizeof(*v));
			if (!v)
				bench_die("out of memory");
		}
		v[len].tracker = strdup(tracker);
		v[len].key = strdup(key);
		if (!v[len].tracker || !v[len].key)
			bench_die("out of memory");
		if (strcmp(op, "add") == 0)
			v[len].op = 0;
		else if (strcmp(op, "rm") == 0)
			v[len].op = RT_REF_NORMAL;
		else if (strcmp(op, "mask") == 0)
			v[len].op = RT_REF_MASK;
		else
			bench_die("%s:%zu: unknown op %s", path, lineno, op);
		len++;
	}
	if (ferror(f))
		bench_die("%s:", path);
	free(line);
	fclose(f);
	*n = len;
	return v;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		BENCH_CONN_LONGOPTS,
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	rt_connect_opts copts = RT_CONNECT_OPTS_INIT;
	rt_cluster *cluster = NULL;
	rt_pool *pool = NULL;
	struct bench_conn conn;
	const char *keys[1];
	rt_ref ref;
	entry *v;
	size_t n, i;
	double t0, t1;
	int opt, r;

	bench_prog = "bench_sync";
	bench_conn_init(&conn);
	while ((opt = bench_getopt(argc, argv, opts, &conn)) != -1) {
		switch (opt) {
		case 'h':
		default:
			fprintf(opt == 'h' ? stdout : stderr,
			        "usage: %s [-c CONF] [--id ID] [-p POOL] "
			        "[-N NAMESPACE] OPSFILE\n", bench_prog);
			return opt == 'h' ? 0 : 64;
		}
	}
	if (optind + 1 != argc)
		bench_die("exactly one OPSFILE expected");
	v = read_ops(argv[optind], &n);
	copts.conf_path = conn.conf;
	copts.id = conn.id;
	copts.op_timeout_sec = 60;

	r = rt_cluster_connect(&cluster, &copts);
	if (r < 0)
		bench_die("connecting: %s", cluster ? rt_cluster_errmsg(cluster) :
		          rt_strerror(r));
	r = rt_pool_open(&pool, cluster, conn.pool, conn.ns);
	if (r < 0)
		bench_die("pool %s: %s", conn.pool,
		          pool ? rt_pool_errmsg(pool) : rt_strerror(r));

	t0 = bench_now();
	for (i = 0; i < n; i++) {
		if (v[i].op == 0) {
			keys[0] = v[i].key;
			r = rt_tracker_add(NULL, pool, v[i].tracker, keys, 1);
		} else {
			ref.key = v[i].key;
			ref.type = (rt_ref_type)v[i].op;
			r = rt_tracker_remove(NULL, pool, v[i].tracker, &ref, 1);
		}
		if (r < 0)
			bench_die("entry %zu (%s %s): %s", i + 1, v[i].tracker,
			          v[i].key, rt_pool_errmsg(pool));
	}
	t1 = bench_now();

	printf("sync entries=%zu seconds=%.6f rate=%.1f\n", n, t1 - t0,
	       (double)n / (t1 - t0));
	rt_pool_close(pool);
	rt_cluster_close(cluster);
	for (i = 0; i < n; i++) {
		free(v[i].tracker);
		free(v[i].key);
	}
	free(v);
	return 0;
}
