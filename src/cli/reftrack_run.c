/*
 * reftrack_run.c - the `run` subcommand: one scheduled run (cron, systemd
 * timer) of everything an operator wants done, under the journal lock:
 *   1. take the spool's new batch files into the journal (reftrack_spool.c)
 *   2. connect and replay until done or the time budget is spent
 *   3. prune done and skipped entries past the retention
 *   4. write the metrics file (reftrack_metrics.c)
 * A run that finds the lock held exits 75 at once and touches nothing (not
 * even the metrics: the holder writes them).  A crash anywhere leaves
 * nothing to clean up: the next run takes the spool from where it stands
 * (see reftrack_spool.c) and the replayer resolves what was in flight.
 *
 * A run with nothing to apply (no pending, in-flight or blocked entries
 * after step 1) does not connect to the cluster at all.
 *
 * Log events (cli_log.h; with --log-format json one object per line):
 *   run.start          journal, spool, pid (detail)
 *   journal.busy       another process holds the lock (warning; exit 75)
 *   spool.accepted     file, moved_to, batch_id, entries, first_seq (detail)
 *   spool.duplicate    the same, for bytes already journalled (detail)
 *   spool.rejected     file, moved_to, line, column, error (warning)
 *   spool.held         file, reason: left in place (warning)
 *   spool.deferred     files: left for the next run, budget spent (detail)
 *   spool.error        the spool directory is unusable (error)
 *   cluster.unavailable  could not connect; entries wait (warning)
 *   entry.attention    seq, state, batch_id, pool, namespace, tracker,
 *                      error: a failed, blocked or needs-review entry
 *                      (warning; the first 20, then entry.attention_more)
 *   journal.error      the journal failed (error)
 *   metrics.error      the metrics file could not be written (error)
 *   run.end            the summary (info; the one stdout line in text):
 *                      journal, spool, files_accepted, files_duplicate,
 *                      files_rejected, files_held, files_deferred,
 *                      entries_submitted, replayed (bool: the replayer
 *                      ran), applied, failed, blocked, needs_review,
 *                      pending, retries, finished (bool), interrupted
 *                      (bool: SIGTERM or SIGINT), stalled (bool), attention
 *                      (entries needing an operator, journal-wide),
 *                      pruned_entries, forgotten_batches, seconds, exit
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <reftrack/journal.h>
#include <reftrack/replay.h>

#include "cli.h"
#include "cli_log.h"
#include "cli_replay.h"
#include "reftrack_backup.h"
#include "reftrack_metrics.h"
#include "reftrack_spool.h"

#define DEFAULT_RETENTION (7LL * 86400)
#define DEFAULT_BATCH_RETENTION (90LL * 86400)

enum {
	OPT_SPOOL = CLI_OPT_FIRST_FREE,
	OPT_METRICS_FILE,
	OPT_LOG_FORMAT,
	OPT_RETENTION,
	OPT_BATCH_RETENTION,
	OPT_BACKUP,
	OPT_BACKUP_KEEP,
};

static void run_usage(FILE *out)
{
	fprintf(out,
	        "usage: reftrack run --spool DIR [--journal DIR] [OPTIONS]\n"
	        "One scheduled run, under the journal lock: submit the spool's "
	        "new batch\nfiles (*.yaml, dropped by rename) and move each to "
	        "DIR/accepted/ or, if\ninvalid, to DIR/rejected/ beside a "
	        "FILE.error; apply pending entries; prune\nold done and skipped "
	        "entries; write the metrics file.  Prints one summary\nline.\n"
	        "      --spool DIR        the spool directory (required)\n"
	        CLI_COMMON_USAGE
	        "                         (json: the log, one JSON object per "
	        "line on stdout)\n"
	        "      --max-time DURATION  time budget of the whole run (5m; "
	        "bare: seconds);\n"
	        "                         what is left waits for the next run "
	        "(default: none)\n"
	        "      --wait[=DURATION]  wait for a run or replay holding the "
	        "journal (for\n"
	        "                         ever, or this long); default: exit 75 "
	        "at once\n"
	        "      --metrics-file PATH  write Prometheus metrics there "
	        "(textfile collector)\n"
	        "      --log-format text|json  as --format plain|json\n"
	        "      --retention DURATION  prune done and skipped entries "
	        "older than this\n"
	        "                         (30s, 15m, 12h, 7d, 2w or never; "
	        "default 7d)\n"
	        "      --batch-retention DURATION  forget the records of "
	        "batches whose entries\n"
	        "                         are all pruned, once older than this; "
	        "until then a\n"
	        "                         resubmitted file is a duplicate "
	        "(default 90d)\n"
	        "      --backup DIR       after pruning, copy the journal to "
	        "DIR/<UTC time>\n"
	        "                         (consistent, compacted; see `reftrack "
	        "backup`)\n"
	        "      --backup-keep N    keep the last N copies in DIR "
	        "(default 7)\n"
	        "      --inflight N       trackers in flight at once (default "
	        "128)\n"
	        "      --max-attempts N   tries of an entry on transient errors "
	        "(default 8)\n"
	        CLI_CONN_BRIEF_USAGE
	        "  -h, --help             this text\n"
	        "Exit status: 0 all done, 1 entries or spool files need an "
	        "operator, 75 work\nleft for a later run (journal busy, cluster "
	        "unreachable, time budget spent,\ninterrupted), 66 no spool "
	        "directory, 73 metrics file not written, 74 I/O\nerror (disk "
	        "full), 77 permission denied, 78 Ceph configuration "
	        "unusable.\n");
}

static int64_t real_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

struct run {
	const char *spool, *journal_arg, *metrics, *backup;
	unsigned backup_keep;
	long long retention, batch_retention; /* seconds; -1 never */
	struct cli_conn conn;
	struct cli_replay_args ra;
	/* results */
	struct reftrack_run_report rep;
	rt_prune_result pruned;
	uint64_t attention;
	int replayed;
	int interrupted;      /* a SIGTERM or SIGINT stopped it */
	int status_journal;   /* the journal failed: this status */
	int status_spool;     /* the spool directory failed */
	int status_cluster;   /* 75 unreachable, 77 permission, 78 bad Ceph
	                       * configuration */
	int status_backup;    /* the backup failed: this status */
};

static void log_journal_error(rt_journal *j, const char *what)
{
	struct cli_log_event ev;

	cli_log_begin(&ev, CLI_LOG_ERROR, "journal.error");
	cli_log_str(&ev, "journal", rt_journal_dir(j));
	cli_log_end(&ev, "%s: %s", what, rt_journal_errmsg(j));
}

/* Step 2.  Fills r->rep.replay in every case. */
static void replay_step(struct run *r, rt_journal *j, double deadline)
{
	rt_replay_stats *st = &r->rep.replay;
	rt_replay_opts opts = r->ra.opts;
	uint64_t pending = 0, need = 0;
	double left;
	int rc;

	memset(st, 0, sizeof(*st));
	rc = cli_replay_waiting(j, &pending, &need);
	if (rc) {
		log_journal_error(j, "counting entries");
		r->status_journal = cli_exit_code(rc);
		return;
	}
	st->pending = pending;
	if (need == 0) {
		st->finished = 1;
		return;
	}
	if (deadline > 0) {
		left = deadline - cli_mono_now();
		if (left < 0.001)
			return; /* budget spent: all of it waits */
		opts.max_time_ms = (unsigned)(left * 1000);
	}
	rc = cli_replay_apply(st, j, &r->conn, &opts);
	if (rc == EX_TEMPFAIL || rc == EX_NOPERM || rc == EX_CONFIG) {
		r->status_cluster = rc;
		st->pending = pending;
		st->finished = 0;
	} else if (rc) {
		r->status_journal = rc;
	} else {
		r->replayed = 1;
		/* Entries refused for lack of permission: 77, as for add/rm. */
		if (st->denied > 0)
			r->status_cluster = EX_NOPERM;
		/* Stopped before it began: everything still waits. */
		if (st->total == 0 && !st->finished)
			st->pending = pending;
	}
}

/* Step 3. */
static void prune_step(struct run *r, rt_journal *j)
{
	rt_prune_opts o;
	int64_t now = real_now_ns();
	int rc;

	rt_prune_opts_init(&o, RT_PRUNE_OPTS_VERSION);
	if (r->retention >= 0)
		o.entries_before_ns = now - (int64_t)r->retention * 1000000000;
	if (r->batch_retention >= 0)
		o.batches_before_ns =
			now - (int64_t)r->batch_retention * 1000000000;
	/* A cutoff at or before the epoch means "none": 0 asks for none. */
	if (o.entries_before_ns < 0)
		o.entries_before_ns = 0;
	if (o.batches_before_ns < 0)
		o.batches_before_ns = 0;
	rc = rt_journal_prune(&r->pruned, j, &o);
	if (rc) {
		log_journal_error(j, "pruning");
		r->status_journal = cli_exit_code(rc);
	}
	r->rep.pruned = r->pruned.entries_total;
}

/* Step 4: a dated copy of the journal, the oldest beyond the keep count
 * removed.  A failed backup is reported, and leaves the journal alone. */
static void backup_step(struct run *r, rt_journal *j)
{
	struct reftrack_backup_result res;
	struct cli_log_event ev;
	char err[1024];
	int rc;

	rc = reftrack_backup_rotate(j, r->backup, r->backup_keep, &res, err,
	                            sizeof(err));
	if (rc) {
		cli_log_begin(&ev, CLI_LOG_ERROR, "backup.error");
		cli_log_str(&ev, "dir", r->backup);
		cli_log_end(&ev, "backup into %s failed: %s", r->backup, err);
		r->status_backup = cli_exit_code(rc);
		return;
	}
	cli_log_begin(&ev, CLI_LOG_DETAIL, "backup.done");
	cli_log_str(&ev, "path", res.path);
	cli_log_uint(&ev, "kept", res.kept);
	cli_log_uint(&ev, "removed", res.removed);
	cli_log_end(&ev, "journal backed up to %s (%u kept, %u removed)",
	            res.path, res.kept, res.removed);
}

static int final_status(const struct run *r)
{
	const struct reftrack_spool_result *sp = &r->rep.spool;

	if (r->status_journal)
		return r->status_journal;
	if (r->status_spool)
		return r->status_spool;
	if (r->status_backup)
		return r->status_backup;
	/* Misconfiguration and refused permission never read as "try
	 * later": they need an operator as much as a failed entry. */
	if (r->status_cluster == EX_NOPERM || r->status_cluster == EX_CONFIG)
		return r->status_cluster;
	if (r->attention || sp->rejected || sp->held)
		return 1;
	if (r->status_cluster || !r->rep.replay.finished || sp->deferred ||
	    r->interrupted)
		return EX_TEMPFAIL;
	return EX_OK;
}

static void summary(const struct run *r, const char *journal_dir)
{
	const struct reftrack_spool_result *sp = &r->rep.spool;
	const rt_replay_stats *st = &r->rep.replay;
	struct cli_log_event ev;
	char files[256], held[48] = "", deferred[48] = "", attention[96] = "";
	const char *why = "";

	cli_log_begin(&ev, CLI_LOG_INFO, "run.end");
	cli_log_str(&ev, "journal", journal_dir);
	cli_log_str(&ev, "spool", r->spool);
	cli_log_uint(&ev, "files_accepted", sp->accepted - sp->duplicate);
	cli_log_uint(&ev, "files_duplicate", sp->duplicate);
	cli_log_uint(&ev, "files_rejected", sp->rejected);
	cli_log_uint(&ev, "files_held", sp->held);
	cli_log_uint(&ev, "files_deferred", sp->deferred);
	cli_log_uint(&ev, "entries_submitted", sp->entries);
	cli_log_bool(&ev, "replayed", r->replayed);
	cli_log_uint(&ev, "applied", st->applied);
	cli_log_uint(&ev, "failed", st->failed);
	cli_log_uint(&ev, "blocked", st->blocked);
	cli_log_uint(&ev, "needs_review", st->needs_review);
	cli_log_uint(&ev, "pending", st->pending);
	cli_log_uint(&ev, "retries", st->retries);
	cli_log_bool(&ev, "finished", st->finished);
	cli_log_bool(&ev, "interrupted", r->interrupted);
	cli_log_bool(&ev, "stalled", st->stalled);
	cli_log_uint(&ev, "attention", r->attention);
	cli_log_uint(&ev, "pruned_entries", r->pruned.entries_total);
	cli_log_uint(&ev, "forgotten_batches", r->pruned.batches_forgotten);
	cli_log_double(&ev, "seconds", r->rep.duration, 3);
	cli_log_int(&ev, "exit", r->rep.exit_status);
	if (sp->held)
		snprintf(held, sizeof(held), ", %u held", sp->held);
	if (sp->deferred)
		snprintf(deferred, sizeof(deferred), ", %u deferred",
		         sp->deferred);
	snprintf(files, sizeof(files),
	         "%u files accepted, %u duplicate, %u rejected%s%s",
	         sp->accepted - sp->duplicate, sp->duplicate, sp->rejected,
	         held, deferred);
	if (r->attention)
		snprintf(attention, sizeof(attention), "; in the journal: %llu "
		         "%s an operator", (unsigned long long)r->attention,
		         r->attention == 1 ? "entry needs" : "entries need");
	if (r->interrupted)
		why = "; interrupted; the next run continues";
	else if (st->stalled)
		why = "; stalled: no progress; the next run continues";
	cli_log_end(&ev,
	            "run: %s; %llu entries applied, %llu failed, %llu blocked, "
	            "%llu needs-review, %llu pending; %llu retries; %llu "
	            "pruned; %.1f s%s%s; exit %d",
	            files, (unsigned long long)st->applied,
	            (unsigned long long)st->failed,
	            (unsigned long long)st->blocked,
	            (unsigned long long)st->needs_review,
	            (unsigned long long)st->pending,
	            (unsigned long long)st->retries,
	            (unsigned long long)r->pruned.entries_total, r->rep.duration,
	            attention, why, r->rep.exit_status);
}

const struct option reftrack_run_opts[] = {
	CLI_REPLAY_LONGOPTS,
	{ "spool", required_argument, NULL, OPT_SPOOL },
	{ "metrics-file", required_argument, NULL, OPT_METRICS_FILE },
	{ "log-format", required_argument, NULL, OPT_LOG_FORMAT },
	{ "retention", required_argument, NULL, OPT_RETENTION },
	{ "batch-retention", required_argument, NULL, OPT_BATCH_RETENTION },
	{ "backup", required_argument, NULL, OPT_BACKUP },
	{ "backup-keep", required_argument, NULL, OPT_BACKUP_KEEP },
	{ "help", no_argument, NULL, CLI_OPT_HELP },
	{ NULL, 0, NULL, 0 },
};

static void parse_args(struct run *r, int argc, char **argv)
{
	int opt;

	r->conn = cli_common.conn;
	r->journal_arg = cli_common.journal;
	/* run's output is its log: --format json is the JSON log. */
	if (cli_common.format != CLI_FORMAT_PLAIN)
		cli_log_set_format(CLI_LOG_JSON);
	optind = 1;
	while ((opt = getopt_long(argc, argv, "h", reftrack_run_opts, NULL)) !=
	       -1) {
		if (cli_replay_option(&r->ra, opt, optarg))
			continue;
		switch (opt) {
		case OPT_SPOOL:
			r->spool = optarg;
			break;
		case OPT_METRICS_FILE:
			r->metrics = optarg;
			break;
		case OPT_LOG_FORMAT:
			if (cli_log_set_format_name(optarg) != 0)
				cli_die(EX_USAGE, "--log-format: '%s' is neither "
				                  "text nor json",
				        optarg);
			cli_common.format = cli_log_get_format() == CLI_LOG_JSON
			                        ? CLI_FORMAT_JSON
			                        : CLI_FORMAT_PLAIN;
			break;
		case OPT_RETENTION:
			r->retention = cli_parse_duration("--retention", optarg,
			                                  CLI_DUR_NEVER);
			break;
		case OPT_BATCH_RETENTION:
			r->batch_retention = cli_parse_duration(
				"--batch-retention", optarg, CLI_DUR_NEVER);
			break;
		case OPT_BACKUP:
			r->backup = optarg;
			break;
		case OPT_BACKUP_KEEP:
			r->backup_keep = (unsigned)cli_parse_ulong(
				"--backup-keep", optarg, 10000);
			if (r->backup_keep == 0)
				cli_die(EX_USAGE, "--backup-keep: at least 1");
			break;
		case 'h':
		case CLI_OPT_HELP:
			run_usage(stdout);
			exit(EX_OK);
		default:
			exit(cli_finish(cli_bad_option(argc, argv,
			                               reftrack_run_opts)));
		}
	}
	if (optind != argc)
		cli_die(EX_USAGE, "unexpected argument '%s'", argv[optind]);
	if (!r->spool || !r->spool[0])
		cli_die(EX_USAGE, "--spool DIR is required");
}

int reftrack_cmd_run(int argc, char **argv)
{
	struct run r;
	struct cli_log_event ev;
	rt_journal *j = NULL;
	rt_journal_lock *lock = NULL;
	char *journal_dir = NULL, err[1024];
	double t0, deadline = 0;
	int rc, status;

	memset(&r, 0, sizeof(r));
	r.retention = DEFAULT_RETENTION;
	r.backup_keep = REFTRACK_BACKUP_KEEP;
	r.batch_retention = DEFAULT_BATCH_RETENTION;
	cli_replay_args_init(&r.ra);
	parse_args(&r, argc, argv);

	t0 = cli_mono_now();
	r.rep.start_ns = real_now_ns();
	r.rep.spool_dir = r.spool;
	rc = rt_journal_open(&j, r.journal_arg, 0);
	if (rc != 0) {
		cli_log_begin(&ev, CLI_LOG_ERROR, "journal.error");
		cli_log_end(&ev, "%s", j ? rt_journal_errmsg(j) : rt_strerror(rc));
		r.status_journal = cli_exit_code(rc);
		rt_journal_close(j);
		j = NULL;
		if (rt_journal_resolve_dir(&journal_dir, r.journal_arg) != 0)
			journal_dir = NULL;
		goto finish;
	}
	journal_dir = strdup(rt_journal_dir(j));
	status = cli_replay_lock(&lock, j, r.ra.wait_ms);
	if (status) {
		/* Busy: the holder is doing the work and will write the
		 * metrics; touch nothing. */
		rt_journal_close(j);
		free(journal_dir);
		return status;
	}
	/* From here on SIGTERM (systemd's stop) and SIGINT end the run
	 * gracefully: see cli_replay_catch_signals(). */
	cli_replay_catch_signals();
	/* The budget counts from here: time spent waiting for the lock is
	 * not work. */
	if (r.ra.opts.max_time_ms)
		deadline = cli_mono_now() + r.ra.opts.max_time_ms / 1000.0;
	cli_log_begin(&ev, CLI_LOG_DETAIL, "run.start");
	cli_log_str(&ev, "journal", journal_dir);
	cli_log_str(&ev, "spool", r.spool);
	cli_log_end(&ev, "run: journal %s, spool %s", journal_dir, r.spool);

	r.status_spool = reftrack_spool_submit_all(&r.rep.spool, j, r.spool,
	                                           deadline);
	/* A journal failure in the spool step stops the run; a spool
	 * directory that is missing or unusable does not stop the entries
	 * already journalled from being applied. */
	if (r.rep.spool.journal_failed) {
		r.status_journal = r.status_spool;
		goto finish;
	}
	replay_step(&r, j, deadline);
	if (r.status_journal)
		goto finish;
	r.attention = cli_replay_attention(j, 1);
	/* Stopped by a signal: prune and back up next time, end now. */
	if (!cli_replay_stopped()) {
		prune_step(&r, j);
		if (r.backup && !r.status_journal)
			backup_step(&r, j);
	}

finish:
	r.interrupted = cli_replay_stopped() != 0;
	r.rep.end_ns = real_now_ns();
	r.rep.duration = cli_mono_now() - t0;
	r.rep.exit_status = final_status(&r);
	if (r.metrics &&
	    reftrack_metrics_write(r.metrics, journal_dir, j, &r.rep, err,
	                           sizeof(err)) != 0) {
		cli_log_begin(&ev, CLI_LOG_ERROR, "metrics.error");
		cli_log_str(&ev, "file", r.metrics);
		cli_log_end(&ev, "metrics file %s not written: %s", r.metrics,
		            err);
		if (r.rep.exit_status == EX_OK ||
		    r.rep.exit_status == EX_TEMPFAIL)
			r.rep.exit_status = EX_CANTCREAT;
	}
	summary(&r, journal_dir ? journal_dir : "");
	rt_journal_lock_release(lock);
	rt_journal_close(j);
	free(journal_dir);
	return r.rep.exit_status;
}
