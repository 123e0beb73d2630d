/*
 * cluster.h - the cluster and pool handles (private).
 *
 * cluster.c owns rt_cluster_* and rt_pool_*: how a connection is
 * configured (entity name, conf file, $CEPH_ARGS, keyring, timeouts), how
 * connection errors are reported, and the handles' message buffers.  The
 * structs are here so that tracker.c and the replayer can reach the
 * librados handles; nothing outside src/lib sees them.
 */
#ifndef REFTRACK_CLUSTER_H
#define REFTRACK_CLUSTER_H

#include <rados/librados.h>

#include <reftrack/reftrack.h>

#include "error.h"

struct rt_cluster {
	rados_t rados;
	int created;             /* rados_create2() succeeded: shut it down */
	int connected;           /* rados_connect() succeeded */
	char *entity;            /* e.g. "client.admin" */
	char *keyring;           /* the keyring setting, for messages */
	char *keyring_used;      /* its first readable file, or NULL */
	unsigned op_timeout_sec; /* as configured; 0 = librados defaults */
	char errmsg[RT__ERRMSG_MAX];
};

struct rt_pool {
	rt_cluster *cluster;     /* borrowed */
	rados_ioctx_t io;
	int io_open;
	char *name;
	char *ns;                /* "" for the default namespace */
	rt_retry_policy retry;   /* as set; zero fields mean the defaults */
	char errmsg[RT__ERRMSG_MAX];
};

/* Has the client fetch the latest OSD map from the monitors (so that ops go
 * to an OSD's new address after it restarted).  librados' call for that
 * waits for ever when no monitor answers, so it is made only after a
 * cheap monitor command has been answered within the op timeout, and not
 * at all without an op timeout.  Returns 0, or a negative errno. */
int rt__cluster_refresh_osdmap(rt_cluster *c);

/* Sets the pool's message to "pool 'P' [namespace 'N'] [tracker 'T']: "
 * followed by the formatted text, and returns code.  tracker may be NULL. */
int rt__pool_err(rt_pool *pool, int code, const char *tracker,
                 const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* Clears the pool's message (a call that succeeds leaves none behind). */
void rt__pool_err_clear(rt_pool *pool);

#endif
