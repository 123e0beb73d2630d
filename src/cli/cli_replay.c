/*
 * cli_replay.c - what `replay` and `run` share to drive a replay (see
 * cli_replay.h).
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli_log.h"
#include "cli_progress.h"
#include "cli_replay.h"

/* Operator-facing listing of entries that need attention stops here; the
 * rest are counted. */
#define MAX_NAMED_ENTRIES 20

void cli_replay_args_init(struct cli_replay_args *a)
{
	memset(a, 0, sizeof(*a));
	rt_replay_opts_init(&a->opts, RT_REPLAY_OPTS_VERSION);
}

int cli_replay_option(struct cli_replay_args *a, int opt, const char *arg)
{
	long long secs;

	switch (opt) {
	case CLI_OPT_INFLIGHT:
		a->opts.inflight =
			(unsigned)cli_parse_ulong("--inflight", arg, 65536);
		return 1;
	case CLI_OPT_MAX_ATTEMPTS:
		a->opts.max_attempts = (unsigned)cli_parse_ulong(
			"--max-attempts", arg, 1000000);
		return 1;
	case CLI_OPT_MAX_TIME:
		secs = cli_parse_duration("--max-time", arg,
		                          CLI_DUR_BARE_SECONDS);
		if (secs > 30 * 86400)
			cli_die(EX_USAGE, "--max-time: '%s' is more than 30 days",
			        arg);
		a->opts.max_time_ms = 1000 * (unsigned)secs;
		return 1;
	case CLI_OPT_WAIT:
		secs = arg ? cli_parse_duration("--wait", arg,
		                                CLI_DUR_BARE_SECONDS)
		           : -1;
		if (secs > 86400)
			cli_die(EX_USAGE, "--wait: '%s' is more than a day", arg);
		a->wait_ms = secs < 0 ? -1 : 1000 * (int)secs;
		return 1;
	default:
		return 0;
	}
}

int cli_replay_lock(rt_journal_lock **lock, rt_journal *j, int wait_ms)
{
	struct cli_log_event ev;
	int rc = rt_journal_lock_take(lock, j, wait_ms);

	if (rc == 0)
		return 0;
	cli_log_begin(&ev, CLI_LOG_WARN,
	              rc == RT_ELOCKED ? "journal.busy" : "journal.error");
	cli_log_str(&ev, "journal", rt_journal_dir(j));
	cli_log_end(&ev, "%s", rt_journal_errmsg(j));
	return cli_exit_code(rc);
}

/* ---- a graceful stop on SIGTERM and SIGINT ---------------------------------- */

/* The first SIGTERM or SIGINT (its number), read by the replayer through
 * rt_replay_opts.stop. */
static volatile sig_atomic_t stop_signal;

static void say(const char *s)
{
	ssize_t n = write(STDERR_FILENO, s, strlen(s));

	(void)n;
}

/* The first signal asks for a graceful stop; a second one, while the ops
 * in flight settle, ends the process at once by that signal: its entries
 * stay in flight and the next run resolves them from the evidence on the
 * trackers, as after a crash.  Only async-signal-safe calls here. */
static void on_stop_signal(int sig)
{
	struct sigaction dfl;

	if (stop_signal) {
		memset(&dfl, 0, sizeof(dfl));
		dfl.sa_handler = SIG_DFL;
		sigemptyset(&dfl.sa_mask);
		sigaction(sig, &dfl, NULL);
		/* Blocked until this handler returns, then fatal. */
		raise(sig);
		return;
	}
	stop_signal = sig;
	say(cli_progname());
	say(sig == SIGINT ? ": SIGINT" : ": SIGTERM");
	say(": stopping: no new operations; settling those in flight, "
	    "then the summary (a second signal ends the process at once)\n");
}

/* A signal ignored when we were started (SIGINT of a background job, nohup)
 * stays ignored, as the shell meant it. */
static void catch_one(int sig, const struct sigaction *sa)
{
	struct sigaction old;

	if (sigaction(sig, sa, &old) == 0 && old.sa_handler == SIG_IGN)
		sigaction(sig, &old, NULL);
}

void cli_replay_catch_signals(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_stop_signal;
	sigemptyset(&sa.sa_mask);
	/* Interrupted system calls restart: the flag is polled. */
	sa.sa_flags = SA_RESTART;
	catch_one(SIGTERM, &sa);
	catch_one(SIGINT, &sa);
}

int cli_replay_stopped(void)
{
	return stop_signal;
}

/* ---- progress ------------------------------------------------------------ */

static void on_progress(void *arg, const rt_replay_stats *s)
{
	cli_progress_update(arg, cli_replay_settled(s), s->total);
}

uint64_t cli_replay_settled(const rt_replay_stats *s)
{
	return s->applied + s->failed + s->blocked + s->needs_review;
}

/* ---- connecting and running ----------------------------------------------- */

int cli_replay_apply(rt_replay_stats *stats, rt_journal *j,
                     const struct cli_conn *conn, const rt_replay_opts *opts)
{
	return cli_replay_drive(stats, j, conn, opts, NULL, NULL);
}

int cli_replay_drive(rt_replay_stats *stats, rt_journal *j,
                     const struct cli_conn *conn, const rt_replay_opts *opts,
                     rt_replay_predict_fn predict, void *predict_arg)
{
	struct cli_progress bar;
	struct cli_log_event ev;
	rt_replay_opts o = *opts;
	rt_cluster *cluster = NULL;
	int rc, status = 0;

	memset(stats, 0, sizeof(*stats));
	o.stop = &stop_signal;
	if (stop_signal) {
		/* Stopped before it began: nothing in flight, nothing to
		 * settle. */
		stats->interrupted = 1;
		return 0;
	}
	rc = rt_cluster_connect(&cluster, &conn->opts);
	if (rc != 0) {
		cli_log_begin(&ev, CLI_LOG_WARN, "cluster.unavailable");
		cli_log_str(&ev, "error", rt_strerror(rc));
		cli_log_end(&ev, "%s", cluster ? rt_cluster_errmsg(cluster)
		                               : rt_strerror(rc));
		/* Nothing was touched: the entries wait for a later run. */
		status = cli_connect_exit_code(rc, 1);
		goto done;
	}
	cli_progress_begin(&bar, predict ? "dry run" : "replay");
	o.progress = on_progress;
	o.progress_arg = &bar;
	rc = predict ? rt_replay_predict(stats, j, cluster, &o, predict,
	                                 predict_arg)
	             : rt_replay_run(stats, j, cluster, &o);
	/* Whatever way it ended, the bar is finished before anything else is
	 * printed. */
	cli_progress_end(&bar, cli_replay_settled(stats), stats->total);
	if (rc != 0) {
		cli_log_begin(&ev, CLI_LOG_ERROR, "journal.error");
		cli_log_str(&ev, "journal", rt_journal_dir(j));
		cli_log_end(&ev, "%s", rt_journal_errmsg(j));
		status = cli_exit_code(rc);
	} else if (stats->stalled) {
		/* The run ends early, 75 through the pending entries. */
		cli_log_begin(&ev, CLI_LOG_WARN, "cluster.stalled");
		cli_log_uint(&ev, "op_timeout", conn->opts.op_timeout_sec);
		cli_log_end(&ev, "the cluster answered nothing for 4 op "
		            "timeouts; stopped, the next run resumes");
	}
done:
	rt_cluster_close(cluster);
	return status;
}

/* ---- what needs an operator ------------------------------------------------ */

uint64_t cli_replay_attention(rt_journal *j, int report)
{
	static const rt_entry_state states[] = {
		RT_ENTRY_FAILED, RT_ENTRY_NEEDS_REVIEW, RT_ENTRY_BLOCKED
	};
	struct cli_log_event ev;
	rt_journal_txn *txn = NULL;
	uint64_t counts[RT_ENTRY_STATE_SLOTS], total = 0, seq;
	unsigned named = 0;
	size_t i;

	if (rt_journal_txn_begin(&txn, j, RT_TXN_RDONLY) != 0)
		return 0;
	if (rt_journal_counts(txn, counts) != 0)
		goto done;
	for (i = 0; i < sizeof(states) / sizeof(states[0]); i++) {
		rt_journal_iter *it = NULL;

		total += counts[states[i]];
		if (!report || counts[states[i]] == 0)
			continue;
		if (rt_journal_iter_state(&it, txn, states[i], 0) != 0)
			continue;
		while (named < MAX_NAMED_ENTRIES &&
		       rt_journal_iter_next(it, &seq) == 0) {
			rt_journal_entry *e = NULL;

			if (rt_journal_entry_get(&e, txn, seq) == 0) {
				const char *state =
					rt_entry_state_name((int)e->state);

				cli_log_begin(&ev, CLI_LOG_WARN,
				              "entry.attention");
				cli_log_uint(&ev, "seq", seq);
				cli_log_str(&ev, "state", state);
				cli_log_str(&ev, "batch_id", e->batch_id);
				cli_log_str(&ev, "pool", e->pool);
				cli_log_str(&ev, "namespace", e->ns);
				cli_log_str(&ev, "tracker", e->tracker);
				cli_log_str(&ev, "error", e->error);
				/* The error text names pool and tracker. */
				cli_log_end(&ev, "entry %llu %s: %s",
				            (unsigned long long)seq, state,
				            e->error ? e->error : "no error text");
				named++;
			}
			rt_journal_entry_free(e);
		}
		rt_journal_iter_free(it);
	}
	if (report && total > named) {
		cli_log_begin(&ev, CLI_LOG_WARN, "entry.attention_more");
		cli_log_uint(&ev, "count", total - named);
		cli_log_end(&ev, "... and %llu more; see `reftrack status`",
		            (unsigned long long)(total - named));
	}
done:
	rt_journal_txn_abort(txn);
	return total;
}

/* Entries that only a replay can move on: pending, in flight (to be
 * resolved) and blocked (judged again at the start of a replay). */
int cli_replay_waiting(rt_journal *j, uint64_t *pending, uint64_t *need)
{
	rt_journal_txn *t = NULL;
	uint64_t c[RT_ENTRY_STATE_SLOTS];
	int rc = rt_journal_txn_begin(&t, j, RT_TXN_RDONLY);

	if (rc == 0)
		rc = rt_journal_counts(t, c);
	rt_journal_txn_abort(t);
	if (rc)
		return rc;
	*pending = c[RT_ENTRY_PENDING] + c[RT_ENTRY_IN_FLIGHT];
	*need = *pending + c[RT_ENTRY_BLOCKED];
	return 0;
}

const char *cli_replay_why(const rt_replay_stats *stats, int status)
{
	if (stats->interrupted)
		return "interrupted; the next run continues";
	if (stats->stalled)
		return "stalled: no progress; the next run continues";
	if (status == EX_TEMPFAIL && !stats->finished)
		return "time budget spent; the next run continues";
	return NULL;
}

int cli_replay_status(const rt_replay_stats *stats, uint64_t attention)
{
	/* The credentials lack a permission: more telling than "an entry
	 * needs an operator", and what the same refusal gives for add/rm. */
	if (stats->denied > 0)
		return EX_NOPERM;
	if (attention > 0)
		return 1;
	if (!stats->finished)
		return EX_TEMPFAIL;
	return EX_OK;
}
