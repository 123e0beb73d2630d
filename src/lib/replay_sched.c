/*
 * replay_sched.c - the replayer's scheduling: which slot's group starts
 * when, the in-flight window, backoff timers, completions, and stopping.
 *
 * Invariant (3) is kept here: a slot starts a group only from state idle,
 * that is once its previous group is settled (rt__sched_next_group), so a
 * tracker has at most one op out and its entries run in seq order.  Every
 * state change goes through rt__slot_set_state() (replay_slot.c).
 * on_complete() is the only code run on librados' callback thread.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster.h"
#include "replay_int.h"
#include "retry.h"

/* The stall bound, in op timeouts (see replay.h). */
#define STALL_TIMEOUTS 4
/* How long a stopping run waits for its ops beyond the op timeout before
 * it cancels them, and how often it looks at the stop flag meanwhile. */
#define SETTLE_SLACK_SEC 2.0
#define STOP_POLL_SEC 0.2
/* How often a retry waiting for room in the in-flight window looks. */
#define WINDOW_WAIT_SEC 0.02

/* What choose_group() made of the slot's head. */
enum group_choice {
	GROUP_CHOSEN,      /* s->ngroup >= 1 entries and their request */
	GROUP_HEAD_SETTLED /* the head could not run and was settled */
};

/* ---- the in-flight window ----------------------------------------------- */

/* How many slots may hold a share of the window now. */
static unsigned window_size(const struct replay *r)
{
	return r->window < 2.0 ? 1 : (unsigned)r->window;
}

/* An op of the slot timed out (or met another transient error): halve
 * the window, once for all the ops that were out together, as TCP does
 * for the losses of one window. */
static void window_cut(struct replay *r, const struct slot *s)
{
	if (s->op_no <= r->cut_at)
		return;
	r->cut_at = r->ops_sent;
	r->window /= 2;
	if (r->window < 1)
		r->window = 1;
}

/* An op was answered: one more slot per window's worth of answers. */
static void window_grow(struct replay *r)
{
	if (r->window < r->opts.inflight) {
		r->window += 1.0 / r->window;
		if (r->window > r->opts.inflight)
			r->window = r->opts.inflight;
	}
}

/* ---- pools -------------------------------------------------------------- */

static int ioctx_get(struct replay *r, const char *pool, const char *ns,
                     rados_ioctx_t *out)
{
	struct ioctx_entry *x;

	for (x = r->ioctxs; x; x = x->next)
		if (strcmp(x->pool, pool) == 0 && strcmp(x->ns, ns) == 0)
			goto found;
	x = calloc(1, sizeof(*x));
	if (!x)
		return -ENOMEM;
	x->pool = strdup(pool);
	x->ns = strdup(ns);
	if (!x->pool || !x->ns) {
		free(x->pool);
		free(x->ns);
		free(x);
		return -ENOMEM;
	}
	x->rc = rados_ioctx_create(r->cluster->rados, pool, &x->io);
	if (x->rc == 0)
		rados_ioctx_set_namespace(x->io, ns);
	x->next = r->ioctxs;
	r->ioctxs = x;
found:
	*out = x->io;
	return x->rc;
}

void rt__sched_free(struct replay *r)
{
	struct ioctx_entry *x;

	while ((x = r->ioctxs)) {
		r->ioctxs = x->next;
		if (x->rc == 0)
			rados_ioctx_destroy(x->io);
		free(x->pool);
		free(x->ns);
		free(x);
	}
}

/* ---- sending ops -------------------------------------------------------- */

/* librados' callback thread: hands the slot to the replaying thread. */
static void on_complete(rados_completion_t comp, void *arg)
{
	struct slot *s = arg;
	struct replay *r = s->r;

	(void)comp;
	pthread_mutex_lock(&r->lock);
	s->ready_next = r->ready;
	r->ready = s;
	pthread_cond_signal(&r->cond);
	pthread_mutex_unlock(&r->lock);
}

int rt__sched_op_begin(struct replay *r, struct slot *s,
                       enum rt__slot_state to)
{
	if (rados_aio_create_completion2(s, on_complete, &s->comp) != 0)
		return RT_ENOMEM;
	rt__slot_set_state(r, s, to);
	s->op_rc = 0;
	s->op_no = ++r->ops_sent;
	r->outstanding++;
	return 0;
}

void rt__sched_op_sent(struct slot *s, int rc)
{
	if (rc < 0) {
		/* Not sent: complete it by hand with the error. */
		s->op_rc = rc;
		on_complete(s->comp, s);
	}
}

/* The slot's op is over: it may start its next group. */
static void unit_end(struct replay *r, struct slot *s)
{
	if (rt__slot_busy(s))
		rt__slot_set_state(r, s, RT__SLOT_IDLE);
	s->ngroup = 0;
	s->transient = 0;
	if (s->ureq_ok) {
		/* Its keys point into entries that may be gone now. */
		rt__request_free(&s->ureq);
		s->ureq_ok = 0;
	}
}

/* Makes sure job->req is built; 0, RT_ENOMEM, or another code with the
 * reason in msg. */
static int job_request(struct job *job, char *msg, size_t msgsz)
{
	int rc;

	if (job->req_ok)
		return 0;
	rc = rt__request_init(&job->req, job->e->op, job->e->tracker,
	                      job->e->refs, job->e->nrefs, msg, msgsz);
	if (rc == 0)
		job->req_ok = 1;
	return rc;
}

/* Chooses the group (head and what may go with it; with adds_only, the
 * adds that follow an add head) and builds the request of all its keys.  0 with *choice set, or the error (RT_ENOMEM, or that
 * of settling the head). */
static int choose_group(struct replay *r, struct slot *s, int adds_only,
                        enum group_choice *choice)
{
	char msg[RT__ERRMSG_MAX];
	struct job *job;
	size_t n = 0, nkeys = 0, i;
	int rc;

	*choice = GROUP_CHOSEN;
	for (job = s->head; job && n < RT__GROUP_MAX_ENTRIES;
	     job = job->qnext) {
		if (n > 0 && (job->recovering || s->head->recovering))
			break;
		if (s->blocked && job->e->seq > s->blocked_by)
			break;
		if (n > 0 && adds_only && job->e->op != RT_OP_ADD)
			break;
		rc = job_request(job, msg, sizeof(msg));
		if (rc == RT_ENOMEM)
			return rc;
		if (rc != 0) {
			if (n > 0)
				break;
			*choice = GROUP_HEAD_SETTLED;
			return rt__fail_head(r, s, msg);
		}
		if (n > 0 && nkeys + job->req.nkeys > RT__GROUP_MAX_KEYS)
			break;
		nkeys += job->req.nkeys;
		n++;
	}
	if (nkeys > s->urefs_cap) {
		rt_ref *refs = realloc(s->urefs, nkeys * sizeof(*refs));

		if (!refs)
			return RT_ENOMEM;
		s->urefs = refs;
		s->urefs_cap = nkeys;
	}
	nkeys = 0;
	for (job = s->head, i = 0; i < n; job = job->qnext, i++) {
		size_t k;

		for (k = 0; k < job->req.nkeys; k++) {
			s->urefs[nkeys].key = job->req.keys[k].key;
			s->urefs[nkeys].type = RT_REF_NORMAL;
			nkeys++;
		}
	}
	if (s->ureq_ok) {
		rt__request_free(&s->ureq);
		s->ureq_ok = 0;
	}
	/* Keys were each checked in their own request; only memory can fail
	 * here (the same key in two entries is merged, as wanted). */
	rc = rt__request_init(&s->ureq, RT_OP_ADD, s->head->e->tracker,
	                      s->urefs, nkeys, msg, sizeof(msg));
	if (rc != 0)
		return RT_ENOMEM;
	s->ureq_ok = 1;
	s->ngroup = n;
	return 0;
}

/* Sends the read op built in s->rd, the slot moving to `to`.  0, or
 * RT_ENOMEM. */
static int send_read_op(struct replay *r, struct slot *s,
                        enum rt__slot_state to)
{
	int rc = rt__sched_op_begin(r, s, to);

	if (rc != 0)
		return rc;
	rt__sched_op_sent(s, rados_aio_read_op_operate(s->rd.op, s->io, s->comp,
	                                               s->head->e->tracker,
	                                               0));
	return 0;
}

int rt__sched_send_read(struct replay *r, struct slot *s)
{
	enum group_choice choice;
	int rc, create, modelled, queued;

	rc = ioctx_get(r, s->head->e->pool, s->head->e->ns, &s->io);
	if (rc == -ENOMEM)
		return RT_ENOMEM;
	if (rc != 0) {
		rc = rt__fail_head(r, s, rc == -ENOENT ? "pool not found"
		                                       : strerror(-rc));
		unit_end(r, s);
		return rc;
	}
	create = rt__apply_want_create(r, s);
	modelled = !create && rt__apply_want_modelled(r, s);
	rc = choose_group(r, s, create, &choice);
	if (rc != 0 || choice == GROUP_HEAD_SETTLED) {
		unit_end(r, s);
		return rc;
	}
	if (create || modelled) {
		rc = create ? rt__apply_create(r, s, &queued)
		            : rt__apply_modelled(r, s, &queued);
		if (rc != 0 || queued)
			return rc;
	}
	if (rt__tio_read_keys(&s->rd, &s->ureq, r->marker_name) != 0)
		return RT_ENOMEM;
	return send_read_op(r, s, RT__SLOT_READING);
}

/* The next read the census of the group's tracker needs (a later page, or
 * the key ""; see tracker_io.h), guarded on the version of the group's
 * first read. */
int rt__sched_send_page(struct replay *r, struct slot *s)
{
	if (rt__tio_read_more(&s->rd, &s->snap) != 0)
		return RT_ENOMEM;
	return send_read_op(r, s, RT__SLOT_PAGING);
}

/* ---- starting groups ---------------------------------------------------- */

void rt__sched_queue(struct replay *r, struct slot *s)
{
	if (s->state != RT__SLOT_QUEUED)
		rt__slot_set_state(r, s, RT__SLOT_QUEUED);
}

int rt__sched_start_slot(struct replay *r, struct slot *s)
{
	int rc;

	while (s->head && !rt__slot_busy(s)) {
		if (s->deferred || r->stop_starting) {
			struct job *job = s->head;

			if (r->dry_run) {
				/* A replay would leave it as it is. */
				rc = rt__predict_one(
					r, job, job->e->state, NULL,
					rt__describe(
						r, job->e, "%s",
						r->stop_starting || r->draining
							? "not planned: the dry run "
							  "was stopped"
							: "left for a later run: "
							  "the tracker could not "
							  "be read (transient "
							  "errors)"));
				if (rc != 0)
					return rc;
				r->stats->pending++;
			}
			s->head = job->qnext;
			rt__job_unload(r, job);
			continue;
		}
		if (s->blocked && s->head->e->seq > s->blocked_by) {
			char why[64];

			snprintf(why, sizeof(why), "waits behind entry %" PRIu64,
			         s->blocked_by);
			rc = rt__settle_head(r, s, RT_ENTRY_BLOCKED, NULL,
			                     rt__describe(r, s->head->e, "%s",
			                                  why));
			if (rc != 0)
				return rc;
			continue;
		}
		if (r->active >= window_size(r)) {
			rt__sched_queue(r, s);
			return 0;
		}
		rc = rt__sched_send_read(r, s);
		if (rc != 0)
			return rc;
	}
	if (!s->head)
		s->tail = NULL;
	rt__slot_release_if_idle(r, s);
	return 0;
}

int rt__sched_start_queued(struct replay *r)
{
	struct slot *s;
	int rc = 0;

	while (rc == 0 && r->active < window_size(r) && (s = r->queued.head)) {
		rt__slot_set_state(r, s, RT__SLOT_IDLE);
		rc = rt__sched_start_slot(r, s);
	}
	return rc;
}

int rt__sched_next_group(struct replay *r, struct slot *s)
{
	unit_end(r, s);
	return rt__sched_start_slot(r, s);
}

int rt__sched_defer(struct replay *r, struct slot *s)
{
	s->deferred = 1;
	return rt__sched_next_group(r, s);
}

void rt__sched_backoff(struct replay *r, struct slot *s, unsigned ms)
{
	s->wake_at = mono_now() + ms / 1000.0;
	rt__slot_set_state(r, s, RT__SLOT_BACKOFF);
}

int rt__sched_transient(struct replay *r, struct slot *s)
{
	unsigned tries, ms;

	tries = ++s->transient;
	r->stats->retries++;
	if (tries >= r->retry.max_attempts || r->draining)
		return rt__sched_defer(r, s);
	/* While it backs off, its share of the window goes to others; it
	 * takes one again to retry (rt__sched_timers), so that a shrunk
	 * window bounds the retries too. */
	ms = rt__retry_transient_ms(&r->retry, tries, rt__random64());
	s->wake_at = mono_now() + ms / 1000.0;
	rt__slot_set_state(r, s, RT__SLOT_PARKED);
	return 0;
}

int rt__sched_timers(struct replay *r, double *next_wake)
{
	struct slot *s, *next;
	double now = mono_now();
	int rc = 0;

	*next_wake = 0;
	for (s = r->timers.head; rc == 0 && s; s = next) {
		next = s->next;
		if (r->stop_starting) {
			rc = rt__sched_defer(r, s);
		} else if (s->wake_at <= now && s->state == RT__SLOT_PARKED &&
		           r->active >= window_size(r)) {
			/* Waits for room in the window. */
			s->wake_at = now + WINDOW_WAIT_SEC;
			if (*next_wake == 0 || s->wake_at < *next_wake)
				*next_wake = s->wake_at;
		} else if (s->wake_at <= now) {
			rc = rt__sched_send_read(r, s);
			if (rc == 0)
				rc = rt__sched_start_slot(r, s);
		} else if (*next_wake == 0 || s->wake_at < *next_wake) {
			*next_wake = s->wake_at;
		}
	}
	return rc;
}

/* ---- completions -------------------------------------------------------- */

/* Completed ops, waiting until wake_at (0: a second) for one when none is
 * there yet. */
static struct slot *take_ready(struct replay *r, double wake_at)
{
	struct slot *list;

	pthread_mutex_lock(&r->lock);
	/* The committer thread's end of a commit wakes this thread too. */
	if (!r->ready && !(r->commit.handed && r->commit.over) &&
	    (r->outstanding > 0 || r->commit.handed)) {
		struct timespec ts;
		double now = mono_now();
		double t = wake_at > 0 ? wake_at : now + 1.0;

		/* A stop request is seen within STOP_POLL_SEC. */
		if (r->opts.stop && t > now + STOP_POLL_SEC)
			t = now + STOP_POLL_SEC;

		ts.tv_sec = (time_t)t;
		ts.tv_nsec = (long)((t - (double)ts.tv_sec) * 1e9);
		pthread_cond_timedwait(&r->cond, &r->lock, &ts);
	}
	list = r->ready;
	r->ready = NULL;
	pthread_mutex_unlock(&r->lock);
	return list;
}

static int handle_completions(struct replay *r, struct slot *list)
{
	struct slot *s;
	int rc = 0;

	while ((s = list)) {
		list = s->ready_next;
		if (!s->op_rc)
			s->op_rc = rados_aio_get_return_value(s->comp);
		s->op_version = rados_aio_get_version(s->comp);
		rados_aio_release(s->comp);
		s->comp = NULL;
		r->outstanding--;
		if (s->op_rc == -ECANCELED && r->cancelled) {
			/* No answer: neither progress nor a loss. */
		} else if (rt__err_from_errno(s->op_rc) == RT_ETRANSIENT) {
			window_cut(r, s);
		} else {
			r->last_progress = mono_now();
			window_grow(r);
		}
		if (rc == 0)
			rc = s->state == RT__SLOT_WRITING ? rt__apply_write(r, s)
			                                  : rt__apply_read(r, s);
	}
	return rc;
}

int rt__sched_wait(struct replay *r, double next_wake)
{
	int busy = r->outstanding > 0 || rt__round_committing(r);
	double wait;

	if (!busy && !r->timers.head)
		return 0;
	if (!busy) {
		wait = next_wake - mono_now();
		if (r->opts.stop && wait > STOP_POLL_SEC)
			wait = STOP_POLL_SEC;
		if (wait > 0)
			rt__sleep_ms((unsigned)(wait * 1000) + 1);
		return 0;
	}
	return handle_completions(r, take_ready(r, next_wake));
}

/* ---- stopping ----------------------------------------------------------- */

/* Stops starting anything; what is out settles until r->settle_by. */
static void begin_drain(struct replay *r, int *why)
{
	*why = 1;
	if (r->draining)
		return;
	r->draining = 1;
	r->stop_starting = 1;
	r->settle_by = mono_now() + r->op_timeout + SETTLE_SLACK_SEC;
}

/* Cancels every op still out: their completions come back with
 * -ECANCELED (librados' op_cancel), and their entries stay as the
 * journal has them. */
static void cancel_outstanding(struct replay *r)
{
	struct slot *s;
	size_t b;

	r->cancelled = 1;
	for (b = 0; b < r->nbuckets; b++)
		for (s = r->slots[b]; s; s = s->hnext)
			if (s->comp && s->io)
				rados_aio_cancel(s->io, s->comp);
}

void rt__sched_watch(struct replay *r)
{
	double now = mono_now(), quiet = now - r->last_progress;
	double bound = STALL_TIMEOUTS * r->op_timeout;

	if (r->opts.stop && *r->opts.stop)
		begin_drain(r, &r->stats->interrupted);
	if (r->draining) {
		if (!r->cancelled && r->outstanding > 0 && now >= r->settle_by)
			cancel_outstanding(r);
		return;
	}
	if (quiet >= bound) {
		begin_drain(r, &r->stats->stalled);
	} else if (quiet >= r->op_timeout &&
	           now - r->map_asked >= r->op_timeout) {
		/* An OSD that restarted listens on a new address, which the
		 * client learns from a newer OSD map; until it asks for one,
		 * ops that time out are resent to the old address for ever
		 * (seen: no progress for 9 minutes with a 3 s op timeout).
		 * Asked at most once per op timeout of silence. */
		r->map_asked = now;
		rt__cluster_refresh_osdmap(r->cluster);
	}
}

void rt__sched_drain(struct replay *r)
{
	struct slot *list, *s;

	while (r->outstanding > 0) {
		list = take_ready(r, 0);
		while ((s = list)) {
			list = s->ready_next;
			rados_aio_release(s->comp);
			s->comp = NULL;
			r->outstanding--;
		}
	}
}
