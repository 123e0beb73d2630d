/*
 * test_api.c - promises of the public API that no one module owns: the
 * version the library reports at run time, one meaning per error code,
 * the journal lock that the calls changing entries take themselves, and
 * versioned options structs.
 * Public headers only: this is what a program linking the library sees.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <reftrack/replay.h>
#include <reftrack/scan.h>

#include "check.h"

static char base[64];

static void test_api__version(void)
{
	int major = -1, minor = -1, patch = -1;
	char want[32];

	CHECK_STR(rt_version(&major, &minor, &patch), RT_VERSION_STRING);
	CHECK_INT(major, RT_VERSION_MAJOR);
	CHECK_INT(minor, RT_VERSION_MINOR);
	CHECK_INT(patch, RT_VERSION_PATCH);
	/* The string the Makefile reads is the three numbers. */
	snprintf(want, sizeof(want), "%d.%d.%d", RT_VERSION_MAJOR,
	         RT_VERSION_MINOR, RT_VERSION_PATCH);
	CHECK_STR(RT_VERSION_STRING, want);
	CHECK_STR(rt_version(NULL, NULL, NULL), RT_VERSION_STRING);
}

/* Every code has its own text: a held lock and a full reader table are
 * told apart. */
static void test_api__error_codes_distinct(void)
{
	int a, b;

	CHECK(strcmp(rt_strerror(RT_EBUSY), rt_strerror(RT_ELOCKED)) != 0);
	for (a = RT_ENOTFOUND; a <= RT_ELOCKED; a++) {
		CHECK(strcmp(rt_strerror(a), "unknown error code") != 0);
		for (b = RT_ENOTFOUND; b < a; b++)
			CHECK(strcmp(rt_strerror(a), rt_strerror(b)) != 0);
	}
	CHECK_STR(rt_strerror(RT_ELOCKED + 1), "unknown error code");
}

/* Another handle holds the lock (as another process would: a flock
 * belongs to its open file): run, retry and skip are refused with
 * RT_ELOCKED and change nothing; through the holding handle they go on. */
static void test_api__lock_held_refuses(void)
{
	char dir[128], pid[32];
	rt_journal *holder = NULL, *other = NULL;
	rt_journal_lock *lock = NULL, *lock2 = NULL;
	rt_replay_stats stats;
	uint64_t count = 99;

	snprintf(dir, sizeof(dir), "%s/locked", base);
	snprintf(pid, sizeof(pid), "pid %ld", (long)getpid());
	CHECK_INT(rt_journal_open(&holder, dir, 0), 0);
	CHECK_INT(rt_journal_open(&other, dir, 0), 0);
	CHECK_INT(rt_journal_lock_take(&lock, holder, 0), 0);

	memset(&stats, 0xff, sizeof(stats));
	CHECK_INT(rt_replay_run(&stats, other, NULL, NULL), RT_ELOCKED);
	CHECK(strstr(rt_journal_errmsg(other), pid) != NULL);
	CHECK_INT(stats.total, 0);
	CHECK_INT(rt_replay_retry(&count, other, 0, NULL), RT_ELOCKED);
	CHECK_INT(count, 0);
	CHECK_INT(rt_replay_skip(other, 1, "operator's reason"), RT_ELOCKED);
	CHECK(strstr(rt_journal_errmsg(other), "being replayed") != NULL);

	/* The holder's own calls pass the lock (the run then wants a
	 * cluster; retry finds nothing to do), and leave it held. */
	CHECK_INT(rt_replay_run(&stats, holder, NULL, NULL), RT_EINVAL);
	CHECK_INT(rt_replay_retry(&count, holder, 0, NULL), 0);
	CHECK_INT(count, 0);
	CHECK_INT(rt_replay_skip(holder, 1, "why"), RT_ENOTFOUND);
	CHECK_INT(rt_replay_retry(&count, other, 0, NULL), RT_ELOCKED);

	/* The lock outlives its handle until released. */
	rt_journal_close(holder);
	CHECK_INT(rt_replay_retry(&count, other, 0, NULL), RT_ELOCKED);
	rt_journal_lock_release(lock);
	/* Free again: a call takes it for itself and lets it go. */
	CHECK_INT(rt_replay_retry(&count, other, 0, NULL), 0);
	CHECK_INT(rt_journal_lock_take(&lock2, other, 0), 0);
	rt_journal_lock_release(lock2);
	rt_journal_close(other);
}

static int no_prediction(void *arg, const rt_replay_prediction *p)
{
	(void)arg;
	(void)p;
	return 0;
}

/* Options structs carry their version; one that is not known is refused
 * before anything is done, with a message saying how to set it. */
static void test_api__options_versions(void)
{
	rt_connect_opts co = RT_CONNECT_OPTS_INIT;
	rt_replay_opts ro = RT_REPLAY_OPTS_INIT;
	rt_prune_opts po = RT_PRUNE_OPTS_INIT;
	rt_scan_opts so = RT_SCAN_OPTS_INIT;
	rt_cluster *c = NULL;
	rt_journal *j = NULL;
	rt_prune_result pr;
	rt_replay_stats stats;
	char dir[128];

	CHECK_INT(co.version, RT_CONNECT_OPTS_VERSION);
	CHECK_INT(ro.version, RT_REPLAY_OPTS_VERSION);
	CHECK_INT(po.version, RT_PRUNE_OPTS_VERSION);
	CHECK_INT(so.version, RT_SCAN_OPTS_VERSION);
	memset(&co, 0xff, sizeof(co));
	CHECK_INT(rt_connect_opts_init(&co, RT_CONNECT_OPTS_VERSION), 0);
	CHECK_INT(co.version, RT_CONNECT_OPTS_VERSION);
	CHECK(co.conf_path == NULL && co.op_timeout_sec == 0);
	memset(&ro, 0xff, sizeof(ro));
	CHECK_INT(rt_replay_opts_init(&ro, RT_REPLAY_OPTS_VERSION), 0);
	CHECK(ro.version == RT_REPLAY_OPTS_VERSION && ro.inflight == 0 &&
	      ro.stop == NULL);
	memset(&po, 0xff, sizeof(po));
	CHECK_INT(rt_prune_opts_init(&po, RT_PRUNE_OPTS_VERSION), 0);
	CHECK(po.version == RT_PRUNE_OPTS_VERSION && po.chunk == 0);
	memset(&so, 0xff, sizeof(so));
	CHECK_INT(rt_scan_opts_init(&so, RT_SCAN_OPTS_VERSION), 0);
	CHECK(so.version == RT_SCAN_OPTS_VERSION && so.window == 0 &&
	      so.is_live == NULL);
	CHECK_INT(rt_scan_opts_init(&so, 2), RT_EINVAL);
	CHECK_INT(rt_connect_opts_init(&co, 0), RT_EINVAL);
	CHECK_INT(rt_replay_opts_init(&ro, RT_REPLAY_OPTS_VERSION + 1),
	          RT_EINVAL);
	CHECK_INT(rt_prune_opts_init(&po, 0), RT_EINVAL);
	CHECK_INT(rt_prune_opts_init(NULL, RT_PRUNE_OPTS_VERSION), RT_EINVAL);

	/* Refused before any monitor is looked for. */
	co.version = 0;
	CHECK_INT(rt_cluster_connect(&c, &co), RT_EINVAL);
	CHECK(c && strstr(rt_cluster_errmsg(c), "rt_connect_opts version 0"));
	rt_cluster_close(c);

	snprintf(dir, sizeof(dir), "%s/options", base);
	CHECK_INT(rt_journal_open(&j, dir, 0), 0);
	po.version = RT_PRUNE_OPTS_VERSION + 1;
	CHECK_INT(rt_journal_prune(&pr, j, &po), RT_EINVAL);
	CHECK(strstr(rt_journal_errmsg(j), "rt_prune_opts version") != NULL);
	CHECK_INT(rt_journal_prune_dry_run(&pr, j, &po), RT_EINVAL);
	po.version = RT_PRUNE_OPTS_VERSION;
	CHECK_INT(rt_journal_prune(&pr, j, &po), 0);
	ro.version = 0;
	CHECK_INT(rt_replay_run(&stats, j, NULL, &ro), RT_EINVAL);
	CHECK(strstr(rt_journal_errmsg(j), "rt_replay_opts version") != NULL);
	CHECK_INT(rt_replay_predict(&stats, j, NULL, &ro, no_prediction, NULL),
	          RT_EINVAL);
	CHECK(strstr(rt_journal_errmsg(j), "rt_replay_opts version") != NULL);
	rt_journal_close(j);
}

int main(void)
{
	char cmd[128];

	snprintf(base, sizeof(base), "/tmp/rt-test-api-XXXXXX");
	if (!mkdtemp(base)) {
		perror("mkdtemp");
		return 1;
	}
	RUN(test_api__version);
	RUN(test_api__error_codes_distinct);
	RUN(test_api__lock_held_refuses);
	RUN(test_api__options_versions);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", base);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", base);
	return check_summary("api");
}
