/*
 * replay_slot.c - a tracker's slot in the replayer: the table of slots and
 * the slot's state machine.
 *
 * rt__slot_set_state() is the only place a slot's state changes.  It checks
 * the transition against the table below, moves the slot between the
 * lists of its old and new states, and keeps r->active, the count of
 * slots holding a share of the in-flight window, true by construction.
 * The states and the table are drawn in src/lib/README.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "replay_int.h"

#define BIT(s) (1u << (s))

/* legal[from]: the states `from` may move to. */
static const unsigned legal[RT__SLOT_NSTATES] = {
	/* Queued when the window is full, or to start once the load is
	 * queued; reading when its group starts; planned when its group is
	 * a create sent without a read (rt__apply_create). */
	[RT__SLOT_IDLE] = BIT(RT__SLOT_QUEUED) | BIT(RT__SLOT_READING) |
	                  BIT(RT__SLOT_PLANNED),
	/* Taken off the queue to be started. */
	[RT__SLOT_QUEUED] = BIT(RT__SLOT_IDLE),
	/* A whole census needs more pages; the group is planned with a
	 * write; a transient error; or the op is over (settled, failed,
	 * deferred). */
	[RT__SLOT_READING] = BIT(RT__SLOT_PAGING) | BIT(RT__SLOT_PLANNED) |
	                     BIT(RT__SLOT_PARKED) | BIT(RT__SLOT_IDLE),
	/* The same, page after page; the tracker changed between pages:
	 * read again. */
	[RT__SLOT_PAGING] = BIT(RT__SLOT_PAGING) | BIT(RT__SLOT_READING) |
	                    BIT(RT__SLOT_PLANNED) | BIT(RT__SLOT_PARKED) |
	                    BIT(RT__SLOT_IDLE),
	/* Invariant (1): a planned write is sent only after the commit
	 * holding its in-flight records is over, and nothing else happens
	 * to it in between. */
	[RT__SLOT_PLANNED] = BIT(RT__SLOT_COMMITTING),
	[RT__SLOT_COMMITTING] = BIT(RT__SLOT_WRITING),
	/* A conflict re-reads at once or after a backoff; a transient error
	 * parks; otherwise the op is over. */
	[RT__SLOT_WRITING] = BIT(RT__SLOT_READING) | BIT(RT__SLOT_BACKOFF) |
	                     BIT(RT__SLOT_PARKED) | BIT(RT__SLOT_IDLE),
	/* The backoff is over (read again), or the run stops. */
	[RT__SLOT_BACKOFF] = BIT(RT__SLOT_READING) | BIT(RT__SLOT_IDLE),
	[RT__SLOT_PARKED] = BIT(RT__SLOT_READING) | BIT(RT__SLOT_IDLE),
};

static const char *const names[RT__SLOT_NSTATES] = {
	[RT__SLOT_IDLE] = "idle",       [RT__SLOT_QUEUED] = "queued",
	[RT__SLOT_READING] = "reading", [RT__SLOT_PAGING] = "paging",
	[RT__SLOT_PLANNED] = "planned", [RT__SLOT_COMMITTING] = "committing",
	[RT__SLOT_WRITING] = "writing",
	[RT__SLOT_BACKOFF] = "backoff", [RT__SLOT_PARKED] = "parked",
};

int rt__slot_transition_ok(enum rt__slot_state from, enum rt__slot_state to)
{
	if ((unsigned)from >= RT__SLOT_NSTATES ||
	    (unsigned)to >= RT__SLOT_NSTATES)
		return 0;
	return (legal[from] & BIT(to)) != 0;
}

const char *rt__slot_state_name(enum rt__slot_state state)
{
	return (unsigned)state < RT__SLOT_NSTATES ? names[state] : "invalid";
}

int rt__slot_busy(const struct slot *s)
{
	return s->state != RT__SLOT_IDLE && s->state != RT__SLOT_QUEUED;
}

/* Whether a slot in `state` holds a share of the in-flight window: every
 * state with a group in progress but parked. */
static int holds_share(enum rt__slot_state state)
{
	return state != RT__SLOT_IDLE && state != RT__SLOT_QUEUED &&
	       state != RT__SLOT_PARKED;
}

/* The list a slot in `state` is on, and whether it joins it at the tail
 * (oldest first) rather than at the head. */
static struct slot_list *list_of(struct replay *r, enum rt__slot_state state,
                                 int *at_tail)
{
	*at_tail = 0;
	switch (state) {
	case RT__SLOT_QUEUED:
		*at_tail = 1;
		return &r->queued;
	case RT__SLOT_PLANNED:
		return &r->to_write;
	case RT__SLOT_COMMITTING:
		return &r->committing;
	case RT__SLOT_BACKOFF:
	case RT__SLOT_PARKED:
		return &r->timers;
	default:
		return NULL;
	}
}

static void list_remove(struct slot_list *l, struct slot *s)
{
	if (s->prev)
		s->prev->next = s->next;
	else
		l->head = s->next;
	if (s->next)
		s->next->prev = s->prev;
	else
		l->tail = s->prev;
	s->prev = s->next = NULL;
	l->n--;
}

static void list_add(struct slot_list *l, struct slot *s, int at_tail)
{
	if (at_tail) {
		s->next = NULL;
		s->prev = l->tail;
		if (l->tail)
			l->tail->next = s;
		else
			l->head = s;
		l->tail = s;
	} else {
		s->prev = NULL;
		s->next = l->head;
		if (l->head)
			l->head->prev = s;
		else
			l->tail = s;
		l->head = s;
	}
	l->n++;
}

static void illegal(const struct slot *s, enum rt__slot_state to)
{
#ifndef NDEBUG
	fprintf(stderr, "reftrack: replay: illegal slot transition %s -> %s\n",
	        rt__slot_state_name(s->state), rt__slot_state_name(to));
	abort();
#else
	(void)s;
	(void)to;
#endif
}

void rt__slot_set_state(struct replay *r, struct slot *s,
                        enum rt__slot_state to)
{
	enum rt__slot_state from = s->state;
	struct slot_list *l;
	int at_tail;

	if (!rt__slot_transition_ok(from, to))
		illegal(s, to);
	/* A self-transition (page after page) changes nothing. */
	if (from == to)
		return;
	l = list_of(r, from, &at_tail);
	if (l)
		list_remove(l, s);
	if (holds_share(from))
		r->active--;
	s->state = to;
	if (holds_share(to))
		r->active++;
	l = list_of(r, to, &at_tail);
	if (l)
		list_add(l, s, at_tail);
}

/* ---- the table of slots ------------------------------------------------- */

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

struct slot *rt__slot_get(struct replay *r, const rt_journal_entry *e)
{
	size_t lp = strlen(e->pool), ln = strlen(e->ns), lt = strlen(e->tracker);
	size_t len = lp + ln + lt + 2;
	char *id = malloc(len + 1);
	struct slot *s;
	uint64_t b;

	if (!id)
		return NULL;
	memcpy(id, e->pool, lp + 1);
	memcpy(id + lp + 1, e->ns, ln + 1);
	memcpy(id + lp + ln + 2, e->tracker, lt + 1);
	b = hash_bytes(id, len) % r->nbuckets;
	for (s = r->slots[b]; s; s = s->hnext) {
		if (s->idlen == len && memcmp(s->id, id, len) == 0) {
			free(id);
			return s;
		}
	}
	s = calloc(1, sizeof(*s));
	if (!s) {
		free(id);
		return NULL;
	}
	s->r = r;
	s->id = id;
	s->idlen = len;
	s->state = RT__SLOT_IDLE;
	/* A dry run writes nothing, so it never plans on a copy. */
	s->snap.copy = r->dry_run ? NULL : &s->model;
	s->hnext = r->slots[b];
	r->slots[b] = s;
	return s;
}

void rt__slot_block(struct slot *s, uint64_t seq)
{
	/* Later entries of the tracker must not overtake this one. */
	if (!s->blocked || seq < s->blocked_by)
		s->blocked_by = seq;
	s->blocked = 1;
}

const struct job *rt__slot_group_last(const struct slot *s)
{
	const struct job *last = s->head;
	size_t k;

	for (k = 1; k < s->ngroup; k++)
		last = last->qnext;
	return last;
}

void rt__slot_model_counted(struct replay *r, struct slot *s)
{
	size_t now = rt__model_bytes(&s->model);

	r->model_bytes = r->model_bytes - s->model_counted + now;
	s->model_counted = now;
}

/* Frees the slot's copy of its tracker, and its share of the bound. */
static void model_release(struct replay *r, struct slot *s)
{
	rt__model_free(&s->model);
	rt__slot_model_counted(r, s);
}

static void slot_free(struct slot *s)
{
	rt__sim_free(&s->sim);
	rt__tio_read_release(&s->rd);
	if (s->wop)
		rados_release_write_op(s->wop);
	if (s->comp)
		rados_aio_release(s->comp);
	if (s->ureq_ok)
		rt__request_free(&s->ureq);
	rt__snapshot_free(&s->snap);
	rt__plan_free(&s->wplan);
	model_release(s->r, s);
	free(s->urefs);
	free(s->after);
	free(s->id);
	free(s);
}

void rt__job_free(struct job *job)
{
	if (job->req_ok)
		rt__request_free(&job->req);
	rt_journal_entry_free(job->e);
	free(job);
}

void rt__job_unload(struct replay *r, struct job *job)
{
	r->loaded--;
	r->loaded_bytes -= job->bytes;
	rt__job_free(job);
}

/* Blocked and deferred slots are kept: they hold back later entries of
 * their tracker; so is a dry run's overlay. */
void rt__slot_release_if_idle(struct replay *r, struct slot *s)
{
	struct slot **pp;

	if (s->head || s->state != RT__SLOT_IDLE)
		return;
	if (s->blocked || s->deferred || s->sim.valid) {
		/* Kept as a hold on its tracker, it starts no group again:
		 * its copy would only take room from the entries loaded. */
		model_release(r, s);
		return;
	}
	for (pp = &r->slots[hash_bytes(s->id, s->idlen) % r->nbuckets]; *pp;
	     pp = &(*pp)->hnext) {
		if (*pp == s) {
			*pp = s->hnext;
			slot_free(s);
			return;
		}
	}
}

void rt__slot_free_all(struct replay *r)
{
	struct slot *s;
	struct job *job;
	size_t b;

	for (b = 0; b < r->nbuckets; b++) {
		while ((s = r->slots[b])) {
			r->slots[b] = s->hnext;
			while ((job = s->head)) {
				s->head = job->qnext;
				rt__job_free(job);
			}
			slot_free(s);
		}
	}
	free(r->slots);
	r->slots = NULL;
}
