/*
 * bench_rados.h - what the librados-only probes (bench_raw, bench_check)
 * share: the connection and a queue of finished asynchronous operations.
 *
 * These probes use no libreftrack code on purpose: bench_raw is the yardstick
 * the library is measured against, and bench_check must not trust the code
 * it checks.
 */
#ifndef REFTRACK_TESTS_BENCH_RADOS_H
#define REFTRACK_TESTS_BENCH_RADOS_H

#include <pthread.h>
#include <rados/librados.h>

#include "bench.h"

/* Connects as client.`id` with configuration file `conf` (NULL: $CEPH_CONF,
 * then Ceph's default search path) and opens pool/ns.  Dies on failure. */
static inline void bench_rados_open(rados_t *cluster, rados_ioctx_t *io,
                                    const struct bench_conn *c)
{
	const char *conf = c->conf ? c->conf : getenv("CEPH_CONF");
	const char *id = c->id, *pool = c->pool;
	int r;

	r = rados_create(cluster, id);
	if (r < 0)
		bench_die_rados(r, "rados_create(%s):", id);
	r = rados_conf_read_file(*cluster, conf);
	if (r < 0)
		bench_die_rados(r, "reading %s:", conf ? conf : "the Ceph configuration");
	/* A benchmark must not hang on a dead cluster. */
	rados_conf_set(*cluster, "client_mount_timeout", "30");
	rados_conf_set(*cluster, "rados_osd_op_timeout", "60");
	r = rados_connect(*cluster);
	if (r < 0)
		bench_die_rados(r, "connecting as client.%s:", id);
	r = rados_ioctx_create(*cluster, pool, io);
	if (r < 0)
		bench_die_rados(r, "pool %s:", pool);
	rados_ioctx_set_namespace(*io, c->ns);
}

/* Finished operations, in the order librados reported them.  The callback
 * runs in a librados thread; the probe's single main thread pops them and
 * issues the follow-up operations, so no probe state is shared beyond this
 * queue.  Capacity must be at least the number of operations in flight. */
typedef struct bench_queue {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	unsigned *ring;
	unsigned cap, head, len;
} bench_queue;

static inline void bench_queue_init(bench_queue *q, unsigned cap)
{
	pthread_mutex_init(&q->mu, NULL);
	pthread_cond_init(&q->cv, NULL);
	q->ring = calloc(cap, sizeof(*q->ring));
	if (!q->ring)
		bench_die("out of memory");
	q->cap = cap;
	q->head = q->len = 0;
}

static inline void bench_queue_push(bench_queue *q, unsigned id)
{
	pthread_mutex_lock(&q->mu);
	q->ring[(q->head + q->len) % q->cap] = id;
	q->len++;
	pthread_cond_signal(&q->cv);
	pthread_mutex_unlock(&q->mu);
}

static inline unsigned bench_queue_pop(bench_queue *q)
{
	unsigned id;

	pthread_mutex_lock(&q->mu);
	while (q->len == 0)
		pthread_cond_wait(&q->cv, &q->mu);
	id = q->ring[q->head];
	q->head = (q->head + 1) % q->cap;
	q->len--;
	pthread_mutex_unlock(&q->mu);
	return id;
}

#endif
