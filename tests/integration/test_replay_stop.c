/*
 * test_replay_stop.c - the replayer stops early and leaves a journal the
 * next run finishes exactly once: on a graceful stop (rt_replay_opts.stop,
 * set here from the progress callback, as a signal handler would set it)
 * and on the stall bound (every OSD paused for longer than it).
 *
 * The batches come from replay_model.py (as in test_replay.sh); after the
 * interrupted run a plain run finishes the journal, and the model checks
 * every tracker and every entry's recorded outcome: nothing lost, nothing
 * applied twice.
 */
#include <signal.h>
#include <sys/wait.h>
#include <time.h>

#include <reftrack/journal.h>
#include <reftrack/replay.h>

#include "itest.h"

static char tmpdir[256];

/* Runs a shell command; its exit status, or -1. */
static int sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int sh(const char *fmt, ...)
{
	char cmd[4096];
	va_list ap;
	int st;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	st = system(cmd);
	if (st == -1 || !WIFEXITED(st))
		return -1;
	return WEXITSTATUS(st);
}

static double now_sec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Generates the case's workload (entries on trackers, masks allowed) and
 * submits it to the case's journal.  0 or -1. */
static int setup(const char *name, const char *ns, int entries, int trackers)
{
	const char *src = itest_env("RT_SRC", "."), *build = itest_env("RT_BUILD", "build");
	int st;

	st = sh("/usr/bin/python3 %s/tests/integration/replay_model.py gen "
	        "--seed %d --pool %s --ns %s --out %s/%s/gen --entries %d "
	        "--trackers t:%d:mask --keys 3 >/dev/null",
	        src, (int)getpid(), itest_pool_name(), ns, tmpdir, name, entries,
	        trackers);
	CHECK_INT(st, 0);
	if (st != 0)
		return -1;
	st = sh("%s/reftrack submit --journal %s/%s/journal %s/%s/gen/batch-00.yaml "
	        ">/dev/null", build, tmpdir, name, tmpdir, name);
	CHECK_INT(st, 0);
	return st == 0 ? 0 : -1;
}

/* The model's verdict on the case's trackers and journal: 0 when they
 * agree and every entry is done. */
static int model_check(const char *name)
{
	return sh("/usr/bin/python3 %s/tests/integration/replay_model.py check "
	          "--plan %s/%s/gen/plan.json --reftrack %s/reftrack "
	          "--journal %s/%s/journal --all-done",
	          itest_env("RT_SRC", "."), tmpdir, name,
	          itest_env("RT_BUILD", "build"), tmpdir, name);
}

static void counts_of(rt_journal *j, uint64_t counts[RT_ENTRY_STATE_SLOTS])
{
	rt_journal_txn *txn = NULL;

	memset(counts, 0, RT_ENTRY_STATE_SLOTS * sizeof(counts[0]));
	CHECK_INT(rt_journal_txn_begin(&txn, j, RT_TXN_RDONLY), 0);
	if (txn)
		CHECK_INT(rt_journal_counts(txn, counts), 0);
	rt_journal_txn_abort(txn);
}

/* One replay of the case's journal; *secs is how long it took. */
static int replay(rt_replay_stats *stats, const char *name, unsigned timeout,
                  const rt_replay_opts *opts, double *secs)
{
	char dir[512];
	rt_connect_opts co;
	rt_cluster *c = NULL;
	rt_journal *j = NULL;
	rt_journal_lock *lock = NULL;
	double t0;
	int rc;

	snprintf(dir, sizeof(dir), "%s/%s/journal", tmpdir, name);
	rt_connect_opts_init(&co, RT_CONNECT_OPTS_VERSION);
	co.use_ceph_args = 1;
	co.op_timeout_sec = timeout;
	rc = rt_journal_open(&j, dir, RT_JOURNAL_NOCREATE);
	if (rc == 0)
		rc = rt_journal_lock_take(&lock, j, 0);
	if (rc == 0)
		rc = rt_cluster_connect(&c, &co);
	if (rc == 0) {
		t0 = now_sec();
		rc = rt_replay_run(stats, j, c, opts);
		if (secs)
			*secs = now_sec() - t0;
	}
	if (rc != 0)
		fprintf(stderr, "replay: %s / %s\n", rt_journal_errmsg(j),
		        rt_cluster_errmsg(c));
	rt_cluster_close(c);
	rt_journal_lock_release(lock);
	rt_journal_close(j);
	return rc;
}

/* Reopens the journal just to count its entries' states. */
static void journal_counts(const char *name, uint64_t counts[RT_ENTRY_STATE_SLOTS])
{
	char dir[512];
	rt_journal *j = NULL;

	snprintf(dir, sizeof(dir), "%s/%s/journal", tmpdir, name);
	CHECK_INT(rt_journal_open(&j, dir, RT_JOURNAL_NOCREATE), 0);
	counts_of(j, counts);
	rt_journal_close(j);
}

struct stopper {
	volatile sig_atomic_t stop;
	uint64_t at;       /* set stop once this many entries are done */
	uint64_t seen_at;  /* applied when it was set */
};

static void stop_after(void *arg, const rt_replay_stats *s)
{
	struct stopper *st = arg;

	if (!st->stop && s->applied >= st->at) {
		st->stop = 1;
		st->seen_at = s->applied;
	}
}

/* A stop in the middle of a healthy run: the run returns 0 with
 * `interrupted`, has done part of the work, leaves nothing in flight
 * (every op out was answered), and the next run finishes exactly once. */
static void test_replay_stop__graceful(void)
{
	const char *name = "graceful";
	char ns[64];
	struct stopper st = { 0, 400, 0 };
	rt_replay_opts o;
	rt_replay_stats s;
	uint64_t counts[RT_ENTRY_STATE_SLOTS];
	double secs;

	snprintf(ns, sizeof(ns), "rstop-%d-%s", (int)getpid(), name);
	if (setup(name, ns, 3000, 200) != 0)
		return;
	rt_replay_opts_init(&o, RT_REPLAY_OPTS_VERSION);
	o.inflight = 16;
	o.progress = stop_after;
	o.progress_arg = &st;
	o.stop = &st.stop;
	CHECK_INT(replay(&s, name, 30, &o, &secs), 0);
	CHECK_INT(s.interrupted, 1);
	CHECK_INT(s.stalled, 0);
	CHECK_INT(s.finished, 0);
	CHECK(s.applied >= st.seen_at);
	CHECK(s.applied < 3000);
	/* Settling the ops out lands at most the 16 groups in flight (15
	 * entries per tracker on average here), not the rest of the
	 * journal. */
	CHECK(s.applied <= st.seen_at + 16 * 40);
	journal_counts(name, counts);
	CHECK_INT(counts[RT_ENTRY_IN_FLIGHT], 0);
	CHECK_INT(counts[RT_ENTRY_DONE], s.applied);
	CHECK_INT(counts[RT_ENTRY_PENDING], 3000 - s.applied);
	printf("  stopped after %llu entries: %llu done in %.1f s\n",
	       (unsigned long long)st.seen_at, (unsigned long long)s.applied,
	       secs);

	rt_replay_opts_init(&o, RT_REPLAY_OPTS_VERSION);
	o.inflight = 16;
	CHECK_INT(replay(&s, name, 30, &o, NULL), 0);
	CHECK_INT(s.interrupted, 0);
	CHECK_INT(s.finished, 1);
	CHECK_INT(model_check(name), 0);
}

/* Every OSD paused for longer than the stall bound (4 op timeouts): the
 * run stops by itself with `stalled`, within the bound plus the settling
 * of its ops, and after `unpause` the next run finishes exactly once. */
static void test_replay_stop__stall(void)
{
	const char *name = "stall";
	char ns[64];
	rt_replay_opts o;
	rt_replay_stats s;
	uint64_t counts[RT_ENTRY_STATE_SLOTS];
	double secs = 0;
	int rc;

	snprintf(ns, sizeof(ns), "rstop-%d-%s", (int)getpid(), name);
	if (setup(name, ns, 600, 60) != 0)
		return;
	if (sh("ceph osd pause >/dev/null 2>&1") != 0) {
		CHECK(!"ceph osd pause failed");
		return;
	}
	rt_replay_opts_init(&o, RT_REPLAY_OPTS_VERSION);
	o.inflight = 16;
	rc = replay(&s, name, 2, &o, &secs);
	CHECK_INT(sh("ceph osd unpause >/dev/null 2>&1"), 0);
	CHECK_INT(rc, 0);
	CHECK_INT(s.stalled, 1);
	CHECK_INT(s.interrupted, 0);
	CHECK_INT(s.finished, 0);
	CHECK_INT(s.applied, 0);
	/* 4 x 2 s without progress, then at most one op timeout to settle;
	 * generous for a loaded machine, far below "tens of minutes". */
	CHECK(secs >= 7.5);
	CHECK(secs < 30);
	printf("  stalled run returned after %.1f s\n", secs);
	journal_counts(name, counts);
	CHECK_INT(counts[RT_ENTRY_FAILED], 0);
	CHECK_INT(counts[RT_ENTRY_PENDING] + counts[RT_ENTRY_IN_FLIGHT], 600);

	rt_replay_opts_init(&o, RT_REPLAY_OPTS_VERSION);
	o.inflight = 16;
	CHECK_INT(replay(&s, name, 30, &o, NULL), 0);
	CHECK_INT(s.finished, 1);
	CHECK_INT(model_check(name), 0);
}

int main(void)
{
	const char *base = itest_env("TMPDIR", "/tmp");

	if (itest_init() != 0)
		return itest_no_cluster("replay_stop");
	snprintf(tmpdir, sizeof(tmpdir), "%s/rt-replay-stop-%d", base,
	         (int)getpid());
	if (sh("mkdir -p %s/graceful %s/stall", tmpdir, tmpdir) != 0) {
		fprintf(stderr, "cannot make %s\n", tmpdir);
		return 1;
	}
	RUN(test_replay_stop__graceful);
	RUN(test_replay_stop__stall);
	itest_fini();
	sh("rm -rf %s", tmpdir);
	return check_summary("replay_stop");
}
