/*
 * reftrack_replay.c - the replay subcommands: replay, retry, skip.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <reftrack/journal.h>
#include <reftrack/replay.h>

#include "cli.h"
#include "cli_json.h"

enum {
	OPT_INFLIGHT = CLI_OPT_FIRST_FREE,
	OPT_MAX_ATTEMPTS,
	OPT_MAX_TIME,
	OPT_WAIT,
	OPT_FAILED,
	OPT_ENTRY,
	OPT_BATCH,
	OPT_REASON,
};

/* Operator-facing listing of entries that need attention stops here; the
 * rest are counted. */
#define MAX_NAMED_ENTRIES 20

static double now_sec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

struct progress {
	double start;
	double last_draw;
	int tty;
};

static void draw_progress(void *arg, const rt_replay_stats *s)
{
	struct progress *p = arg;
	double t = now_sec(), elapsed = t - p->start, rate;
	uint64_t settled = s->applied + s->failed + s->blocked + s->needs_review;
	unsigned width = 30, filled;
	char bar[31];

	if (!p->tty || (t - p->last_draw < 0.2 && settled < s->total))
		return;
	p->last_draw = t;
	rate = elapsed > 0 ? (double)settled / elapsed : 0;
	filled = s->total ? (unsigned)(width * settled / s->total) : width;
	memset(bar, '#', filled);
	memset(bar + filled, '.', width - filled);
	bar[width] = '\0';
	fprintf(stderr, "\r[%s] %llu/%llu  %.0f/s  ETA %.0fs   ", bar,
	        (unsigned long long)settled, (unsigned long long)s->total, rate,
	        rate > 0 ? (double)(s->total - settled) / rate : 0.0);
	if (settled >= s->total)
		fputc('\n', stderr);
}

/* Counts of the states that need an operator, and the first few such
 * entries, printed for the operator. */
static uint64_t report_attention(rt_journal *j, int print)
{
	static const rt_entry_state states[] = {
		RT_ENTRY_FAILED, RT_ENTRY_NEEDS_REVIEW, RT_ENTRY_BLOCKED
	};
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
		if (!print || counts[states[i]] == 0)
			continue;
		if (rt_journal_iter_state(&it, txn, states[i], 0) != 0)
			continue;
		while (named < MAX_NAMED_ENTRIES &&
		       rt_journal_iter_next(it, &seq) == 0) {
			rt_journal_entry *e = NULL;

			if (rt_journal_entry_get(&e, txn, seq) == 0) {
				/* The error text names pool and tracker. */
				cli_warn("entry %llu %s: %s",
				         (unsigned long long)seq,
				         rt_entry_state_name((int)e->state),
				         e->error ? e->error : "no error text");
				named++;
			}
			rt_journal_entry_free(e);
		}
		rt_journal_iter_free(it);
	}
	if (print && total > named)
		cli_warn("... and %llu more; see `reftrack status`",
		         (unsigned long long)(total - named));
done:
	rt_journal_txn_abort(txn);
	return total;
}

static void replay_usage(FILE *out)
{
	fprintf(out,
	        "usage: reftrack replay [--journal DIR] [OPTIONS]\n"
	        "Applies the journal's pending entries to the cluster.\n"
	        "      --journal DIR      journal directory (default: "
	        "$REFTRACK_JOURNAL, then\n"
	        "                         /var/lib/reftrack/journal for root, "
	        "else\n"
	        "                         $XDG_STATE_HOME/reftrack/journal)\n"
	        "      --inflight N       trackers in flight at once (default "
	        "128)\n"
	        "      --max-attempts N   tries of an entry on transient errors "
	        "(default 8)\n"
	        "      --max-time SEC     stop starting entries after SEC "
	        "seconds\n"
	        "      --wait[=SEC]       wait for a replay already running "
	        "(for ever, or SEC)\n"
	        "      --json             print the summary as JSON\n"
	        "  -c, --conf FILE, --id ID, -n, --name NAME, --keyring FILE,\n"
	        "      --op-timeout SEC   as for every subcommand "
	        "(`reftrack --help`)\n"
	        "Exit status: 0 all done, 1 failed, blocked or needs-review "
	        "entries need an\noperator, 75 entries left pending for a later "
	        "run (cluster unreachable,\ntime budget spent, journal busy), "
	        "77 permission denied.\n");
}

static void print_summary(const rt_replay_stats *s, double secs, int json,
                          const char *dir)
{
	if (json) {
		struct cli_json w;

		cli_json_init(&w, stdout, 0);
		cli_json_object_begin(&w);
		cli_json_kv_string(&w, "journal", dir);
		cli_json_kv_uint(&w, "total", s->total);
		cli_json_kv_uint(&w, "applied", s->applied);
		cli_json_kv_uint(&w, "failed", s->failed);
		cli_json_kv_uint(&w, "blocked", s->blocked);
		cli_json_kv_uint(&w, "needs_review", s->needs_review);
		cli_json_kv_uint(&w, "pending", s->pending);
		cli_json_kv_uint(&w, "retries", s->retries);
		cli_json_kv_bool(&w, "finished", s->finished);
		cli_json_key(&w, "seconds");
		fprintf(stdout, "%.3f", secs);
		cli_json_object_end(&w);
		cli_json_finish(&w);
		return;
	}
	printf("replay: %llu applied, %llu failed, %llu blocked, "
	       "%llu needs-review, %llu pending; %llu retries; %.1f s\n",
	       (unsigned long long)s->applied, (unsigned long long)s->failed,
	       (unsigned long long)s->blocked,
	       (unsigned long long)s->needs_review,
	       (unsigned long long)s->pending, (unsigned long long)s->retries,
	       secs);
}

int reftrack_cmd_replay(int argc, char **argv)
{
	static const struct option longopts[] = {
		CLI_CONN_LONGOPTS,
		{ "journal", required_argument, NULL, CLI_OPT_JOURNAL },
		{ "json", no_argument, NULL, CLI_OPT_JSON },
		{ "inflight", required_argument, NULL, OPT_INFLIGHT },
		{ "max-attempts", required_argument, NULL, OPT_MAX_ATTEMPTS },
		{ "max-time", required_argument, NULL, OPT_MAX_TIME },
		{ "wait", optional_argument, NULL, OPT_WAIT },
		{ "help", no_argument, NULL, CLI_OPT_HELP },
		{ NULL, 0, NULL, 0 },
	};
	struct cli_conn conn;
	struct progress prog = { 0, 0, 0 };
	rt_replay_opts opts;
	rt_replay_stats stats;
	rt_journal *j = NULL;
	rt_journal_lock *lock = NULL;
	rt_cluster *cluster = NULL;
	const char *dir = NULL;
	int opt, rc, json = 0, wait_ms = 0, status = EX_OK;
	double start;

	memset(&opts, 0, sizeof(opts));
	memset(&stats, 0, sizeof(stats));
	cli_conn_init(&conn);
	optind = 1;
	while ((opt = getopt_long(argc, argv, CLI_CONN_SHORTOPTS "h", longopts,
	                          NULL)) != -1) {
		if (cli_conn_option(&conn, opt, optarg))
			continue;
		switch (opt) {
		case CLI_OPT_JOURNAL:
			dir = optarg;
			break;
		case CLI_OPT_JSON:
			json = 1;
			break;
		case OPT_INFLIGHT:
			opts.inflight = (unsigned)cli_parse_ulong("--inflight",
			                                          optarg, 65536);
			break;
		case OPT_MAX_ATTEMPTS:
			opts.max_attempts = (unsigned)cli_parse_ulong(
				"--max-attempts", optarg, 1000000);
			break;
		case OPT_MAX_TIME:
			opts.max_time_ms = 1000 * (unsigned)cli_parse_ulong(
				"--max-time", optarg, 30 * 86400);
			break;
		case OPT_WAIT:
			wait_ms = optarg ? 1000 * (int)cli_parse_ulong(
				                      "--wait", optarg, 86400)
			                 : -1;
			break;
		case 'h':
		case CLI_OPT_HELP:
			replay_usage(stdout);
			return EX_OK;
		default:
			replay_usage(stderr);
			return EX_USAGE;
		}
	}
	if (optind != argc) {
		cli_warn("replay: unexpected argument '%s'", argv[optind]);
		return EX_USAGE;
	}

	start = now_sec();
	rc = rt_journal_open(&j, dir, 0);
	if (rc != 0) {
		cli_warn("%s", j ? rt_journal_errmsg(j) : rt_strerror(rc));
		status = cli_exit_code(rc);
		goto done;
	}
	rc = rt_journal_lock_take(&lock, j, wait_ms);
	if (rc != 0) {
		cli_warn("%s", rt_journal_errmsg(j));
		status = rc == RT_EBUSY ? EX_TEMPFAIL : cli_exit_code(rc);
		goto done;
	}
	rc = rt_cluster_connect(&cluster, &conn.opts);
	if (rc != 0) {
		cli_warn("%s", cluster ? rt_cluster_errmsg(cluster)
		                       : rt_strerror(rc));
		/* Nothing was touched: the entries wait for a later run. */
		status = rc == RT_EPERM ? EX_NOPERM : EX_TEMPFAIL;
		goto done;
	}
	prog.start = start;
	prog.tty = isatty(STDERR_FILENO);
	opts.progress = draw_progress;
	opts.progress_arg = &prog;
	rc = rt_replay_run(&stats, j, cluster, &opts);
	if (rc != 0) {
		cli_warn("%s", rt_journal_errmsg(j));
		status = cli_exit_code(rc);
		goto done;
	}
	print_summary(&stats, now_sec() - start, json, rt_journal_dir(j));
	if (report_attention(j, 1) > 0)
		status = 1;
	else if (!stats.finished)
		status = EX_TEMPFAIL;
done:
	rt_cluster_close(cluster);
	rt_journal_lock_release(lock);
	rt_journal_close(j);
	return status;
}

static void operator_usage(const char *sub, FILE *out)
{
	if (strcmp(sub, "retry") == 0)
		fprintf(out, "usage: reftrack retry [--journal DIR] "
		             "(--failed | --entry SEQ | --batch ID)\n"
		             "Puts failed, blocked and needs-review entries back "
		             "to pending: all of\nthem, one entry, or those of one "
		             "batch.  A needs-review entry retried is\napplied "
		             "as if new by the next replay.\n");
	else
		fprintf(out, "usage: reftrack skip [--journal DIR] SEQ --reason "
		             "TEXT\n"
		             "Marks an entry skipped, so that it is never applied "
		             "and later entries of\nits tracker go on.\n");
}

static int run_operator(int argc, char **argv, int is_retry)
{
	static const struct option longopts[] = {
		{ "journal", required_argument, NULL, CLI_OPT_JOURNAL },
		{ "failed", no_argument, NULL, OPT_FAILED },
		{ "entry", required_argument, NULL, OPT_ENTRY },
		{ "batch", required_argument, NULL, OPT_BATCH },
		{ "reason", required_argument, NULL, OPT_REASON },
		{ "help", no_argument, NULL, CLI_OPT_HELP },
		{ NULL, 0, NULL, 0 },
	};
	const char *sub = argv[0], *dir = NULL, *batch = NULL, *reason = NULL;
	uint64_t seq = 0, count = 0;
	int opt, rc, failed = 0, status = EX_OK, nsel;
	rt_journal_lock *lock = NULL;
	rt_journal *j = NULL;

	optind = 1;
	while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (opt) {
		case CLI_OPT_JOURNAL:
			dir = optarg;
			break;
		case OPT_FAILED:
			failed = 1;
			break;
		case OPT_ENTRY:
			seq = cli_parse_ulong("--entry", optarg, (unsigned long)-1);
			break;
		case OPT_BATCH:
			batch = optarg;
			break;
		case OPT_REASON:
			reason = optarg;
			break;
		case 'h':
		case CLI_OPT_HELP:
			operator_usage(sub, stdout);
			return EX_OK;
		default:
			operator_usage(sub, stderr);
			return EX_USAGE;
		}
	}
	if (is_retry) {
		nsel = failed + (seq != 0) + (batch != NULL);
		if (nsel != 1 || optind != argc || reason) {
			cli_warn("retry: give exactly one of --failed, --entry "
			         "SEQ, --batch ID");
			operator_usage(sub, stderr);
			return EX_USAGE;
		}
	} else {
		if (optind + 1 != argc || !reason || !reason[0] || failed ||
		    batch) {
			cli_warn("skip: give one SEQ and --reason TEXT");
			operator_usage(sub, stderr);
			return EX_USAGE;
		}
		seq = cli_parse_ulong("SEQ", argv[optind], (unsigned long)-1);
	}

	rc = rt_journal_open(&j, dir, RT_JOURNAL_NOCREATE);
	if (rc == 0)
		rc = rt_journal_lock_take(&lock, j, 0);
	if (rc == RT_EBUSY) {
		cli_warn("%s", rt_journal_errmsg(j));
		status = EX_TEMPFAIL;
		goto done;
	}
	if (rc == 0)
		rc = is_retry ? rt_replay_retry(&count, j, seq, batch)
		              : rt_replay_skip(j, seq, reason);
	if (rc != 0) {
		cli_warn("%s", j ? rt_journal_errmsg(j) : rt_strerror(rc));
		status = rc == RT_EINVAL ? EX_DATAERR : cli_exit_code(rc);
		goto done;
	}
	if (is_retry)
		printf("retry: %llu entries back to pending\n",
		       (unsigned long long)count);
	else
		printf("skip: entry %llu skipped\n", (unsigned long long)seq);
done:
	rt_journal_lock_release(lock);
	rt_journal_close(j);
	return status;
}

int reftrack_cmd_retry(int argc, char **argv)
{
	return run_operator(argc, argv, 1);
}

int reftrack_cmd_skip(int argc, char **argv)
{
	return run_operator(argc, argv, 0);
}
