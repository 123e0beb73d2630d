/*
 * cli_conn.c - Ceph connection flags and opening a pool for the tools.
 */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

void cli_conn_init(struct cli_conn *conn)
{
	memset(conn, 0, sizeof(*conn));
	rt_connect_opts_init(&conn->opts, RT_CONNECT_OPTS_VERSION);
	conn->opts.use_ceph_args = 1;
	conn->opts.op_timeout_sec = CLI_DEFAULT_OP_TIMEOUT;
}

unsigned long cli_parse_ulong(const char *what, const char *arg,
                              unsigned long max)
{
	char *end;
	unsigned long value;

	errno = 0;
	value = strtoul(arg, &end, 10);
	if (arg[0] < '0' || arg[0] > '9' || *end != '\0' || errno != 0 ||
	    value > max)
		cli_die(EX_USAGE, "%s: '%s' is not a number from 0 to %lu", what,
		        arg, max);
	return value;
}

int cli_conn_open(const struct cli_conn *conn, rt_cluster **cluster,
                  rt_pool **pool)
{
	int rc;

	*cluster = NULL;
	*pool = NULL;
	if (!conn->pool || !conn->pool[0]) {
		cli_warn("no pool given (-p POOL)");
		return EX_USAGE;
	}
	rc = rt_cluster_connect(cluster, &conn->opts);
	if (rc != 0) {
		cli_warn("%s", *cluster ? rt_cluster_errmsg(*cluster)
		                        : rt_strerror(rc));
		goto fail;
	}
	rc = rt_pool_open(pool, *cluster, conn->pool, conn->ns);
	if (rc != 0) {
		cli_warn("%s", *pool ? rt_pool_errmsg(*pool) : rt_strerror(rc));
		goto fail;
	}
	return 0;
fail:
	rt_pool_close(*pool);
	rt_cluster_close(*cluster);
	*pool = NULL;
	*cluster = NULL;
	return cli_connect_exit_code(rc, 0);
}

void cli_ignore_sigpipe(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_IGN;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGPIPE, &sa, NULL);
}
