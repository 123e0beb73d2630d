/*
 * reftrack_replay.c - the replay subcommands: replay, retry, skip.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <reftrack/journal.h>
#include <reftrack/replay.h>

#include "cli.h"
#include "cli_entry.h"
#include "cli_json.h"
#include "cli_progress.h"
#include "cli_replay.h"

enum {
	OPT_FAILED = CLI_OPT_FIRST_FREE,
	OPT_ENTRY,
	OPT_BATCH,
	OPT_REASON,
	OPT_DRY_RUN,
};

static void replay_usage(FILE *out)
{
	fprintf(out,
	        "usage: reftrack replay [--journal DIR] [OPTIONS]\n"
	        "       reftrack replay --dry-run [--batch ID] [-f FORMAT] "
	        "[OPTIONS]\n"
	        "Applies the journal's pending entries to the cluster; with "
	        "--dry-run, reads\nthe trackers and says what each entry "
	        "would do, writing nothing.\n"
	        CLI_COMMON_USAGE
	        "      --inflight N       trackers in flight at once (default "
	        "128)\n"
	        "      --max-attempts N   tries of an entry on transient errors "
	        "(default 8)\n"
	        "      --max-time DURATION  stop starting entries after this "
	        "long (5m; bare:\n"
	        "                         seconds)\n"
	        "      --wait[=DURATION]  wait for a replay already running "
	        "(for ever, or\n"
	        "                         this long)\n"
	        "      --dry-run          plan every entry as a replay would and "
	        "print what it\n"
	        "                         would do; nothing is written\n"
	        "      --batch ID         with --dry-run: show only the "
	        "entries of batch ID\n"
	        CLI_PROGRESS_USAGE
	        CLI_CONN_BRIEF_USAGE
	        "  -h, --help             this text\n"
	        "Exit status: 0 all done, 1 failed, blocked or needs-review "
	        "entries need an\noperator, 64 usage, 65 unusable journal, "
	        "74 I/O error (disk full), 75 entries\nleft pending for a later "
	        "run (cluster unreachable, time budget spent,\njournal busy, "
	        "interrupted), 77 permission denied, 78 Ceph configuration\n"
	        "unusable.  A dry run exits as the replay it predicts would "
	        "(66: no journal).\n");
}

/* The one summary line (one JSON object with --json) that every replay
 * ends with, whatever happened once the options were understood: what this
 * run did, then what needs an operator in the whole journal (`attention`,
 * -1 when the journal could not be read), why it ended short (`why`, or
 * NULL) and the exit status. */
static void print_summary(const rt_replay_stats *s, double secs, int json,
                          const char *dir, int64_t attention,
                          const char *why, int status)
{
	if (json) {
		struct cli_json w;

		cli_json_begin_output(&w);
		cli_json_kv_string(&w, "journal", dir);
		cli_json_kv_uint(&w, "total", s->total);
		cli_json_kv_uint(&w, "applied", s->applied);
		cli_json_kv_uint(&w, "failed", s->failed);
		cli_json_kv_uint(&w, "blocked", s->blocked);
		cli_json_kv_uint(&w, "needs_review", s->needs_review);
		cli_json_kv_uint(&w, "pending", s->pending);
		cli_json_kv_uint(&w, "retries", s->retries);
		cli_json_kv_bool(&w, "finished", s->finished);
		cli_json_kv_bool(&w, "interrupted", s->interrupted);
		cli_json_kv_bool(&w, "stalled", s->stalled);
		cli_json_key(&w, "attention");
		if (attention >= 0)
			cli_json_uint(&w, (uint64_t)attention);
		else
			cli_json_null(&w);
		cli_json_kv_string(&w, "stopped", why);
		cli_json_kv_double(&w, "seconds", secs, 3);
		cli_json_kv_int(&w, "exit", status);
		cli_json_object_end(&w);
		cli_json_finish(&w);
		return;
	}
	printf("replay: %llu applied, %llu failed, %llu blocked, "
	       "%llu needs-review, %llu pending; %llu retries; %.1f s",
	       (unsigned long long)s->applied, (unsigned long long)s->failed,
	       (unsigned long long)s->blocked,
	       (unsigned long long)s->needs_review,
	       (unsigned long long)s->pending, (unsigned long long)s->retries,
	       secs);
	if (attention > 0)
		printf("; in the journal: %lld %s an operator (reftrack status)",
		       (long long)attention,
		       attention == 1 ? "entry needs" : "entries need");
	if (why)
		printf("; %s", why);
	printf("; exit %d\n", status);
}

/* ---- the dry run ------------------------------------------------------- */

struct dry {
	struct cli_json *w;       /* JSON: inside the "entries" array */
	const char *batch;        /* only this batch's entries, or NULL */
	uint64_t shown;
	uint64_t states[RT_ENTRY_STATE_SLOTS];
	uint64_t results[RT_RESULT_NOOP + 1];
};

/* 'text' with anything but printable ASCII (and ' and \) as \xNN, so a
 * name cannot move the cursor or fake a line. */
static void put_quoted(const char *text)
{
	const unsigned char *c;

	putchar('\'');
	for (c = (const unsigned char *)text; *c; c++) {
		if (*c < 0x20 || *c >= 0x7f || *c == '\'' || *c == '\\')
			printf("\\x%02x", *c);
		else
			putchar(*c);
	}
	putchar('\'');
}

/* What a state means as a prediction, for the text lines. */
static const char *predicted(rt_entry_state state)
{
	switch (state) {
	case RT_ENTRY_FAILED:
		return "would fail";
	case RT_ENTRY_BLOCKED:
		return "would be blocked";
	case RT_ENTRY_NEEDS_REVIEW:
		return "would need review";
	default:
		return "would be left as it is";
	}
}

static int dry_entry(void *arg, const rt_replay_prediction *p)
{
	struct dry *d = arg;
	const rt_journal_entry *e = p->entry;
	const rt_entry_outcome *o = &p->outcome;

	if (d->batch && strcmp(d->batch, e->batch_id) != 0)
		return 0;
	d->shown++;
	if ((unsigned)p->state < RT_ENTRY_STATE_SLOTS)
		d->states[p->state]++;
	if (p->state == RT_ENTRY_DONE && o->result <= RT_RESULT_NOOP)
		d->results[o->result]++;
	if (d->w) {
		cli_json_object_begin(d->w);
		cli_json_kv_uint(d->w, "seq", e->seq);
		cli_json_kv_string(d->w, "batch_id", e->batch_id);
		cli_json_kv_uint(d->w, "request_index", e->request_index);
		cli_json_kv_string(d->w, "pool", e->pool);
		cli_json_kv_string(d->w, "namespace", e->ns);
		cli_json_kv_string(d->w, "tracker", e->tracker);
		cli_json_kv_string(d->w, "op", cli_op_name(e->op));
		cli_json_kv_string(d->w, "state", rt_entry_state_name(p->state));
		cli_json_key(d->w, "outcome");
		if (p->state != RT_ENTRY_DONE)
			cli_json_null(d->w);
		else
			cli_json_outcome(d->w, o);
		cli_json_kv_string(d->w, "error", p->error);
		cli_json_kv_bool(d->w, "was_in_flight", p->was_in_flight);
		cli_json_object_end(d->w);
		return 0;
	}
	cli_progress_hide();
	printf("entry %llu: ", (unsigned long long)e->seq);
	if (p->was_in_flight)
		printf("(in flight: resolved from the tracker) ");
	if (p->state != RT_ENTRY_DONE) {
		printf("%s: %s\n", predicted(p->state),
		       p->error ? p->error : "no reason given");
		return ferror(stdout) ? RT_EIO : 0;
	}
	printf("%s", rt_entry_result_name(o->result));
	if (o->added || o->removed || o->masked)
		printf(" (%u added, %u removed, %u masked)", o->added,
		       o->removed, o->masked);
	printf(": pool ");
	put_quoted(e->pool);
	printf(" namespace ");
	put_quoted(e->ns);
	printf(" tracker ");
	put_quoted(e->tracker);
	putchar('\n');
	return ferror(stdout) ? RT_EIO : 0;
}

static void dry_summary_json(struct cli_json *w, const struct dry *d)
{
	cli_json_key(w, "summary");
	cli_json_object_begin(w);
	cli_json_kv_uint(w, "total", d->shown);
	cli_json_kv_uint(w, "applied", d->states[RT_ENTRY_DONE]);
	cli_json_kv_uint(w, "created", d->results[RT_RESULT_CREATED]);
	cli_json_kv_uint(w, "changed", d->results[RT_RESULT_CHANGED]);
	cli_json_kv_uint(w, "deleted", d->results[RT_RESULT_DELETED]);
	cli_json_kv_uint(w, "no_op", d->results[RT_RESULT_NOOP]);
	cli_json_kv_uint(w, "failed", d->states[RT_ENTRY_FAILED]);
	cli_json_kv_uint(w, "blocked", d->states[RT_ENTRY_BLOCKED]);
	cli_json_kv_uint(w, "needs_review", d->states[RT_ENTRY_NEEDS_REVIEW]);
	cli_json_kv_uint(w, "pending", d->states[RT_ENTRY_PENDING] +
	                                       d->states[RT_ENTRY_IN_FLIGHT]);
	cli_json_object_end(w);
}

static void dry_summary_text(const struct dry *d, double secs)
{
	printf("dry run%s%.12s%s: %llu %s would be applied (%llu created, "
	       "%llu changed, %llu deleted, %llu no-op), %llu would fail, "
	       "%llu blocked, %llu needs-review, %llu left pending; "
	       "nothing was written; %.1f s\n",
	       d->batch ? " of batch " : "", d->batch ? d->batch : "",
	       d->batch ? "…" : "",
	       (unsigned long long)d->states[RT_ENTRY_DONE],
	       d->states[RT_ENTRY_DONE] == 1 ? "entry" : "entries",
	       (unsigned long long)d->results[RT_RESULT_CREATED],
	       (unsigned long long)d->results[RT_RESULT_CHANGED],
	       (unsigned long long)d->results[RT_RESULT_DELETED],
	       (unsigned long long)d->results[RT_RESULT_NOOP],
	       (unsigned long long)d->states[RT_ENTRY_FAILED],
	       (unsigned long long)d->states[RT_ENTRY_BLOCKED],
	       (unsigned long long)d->states[RT_ENTRY_NEEDS_REVIEW],
	       (unsigned long long)(d->states[RT_ENTRY_PENDING] +
	                            d->states[RT_ENTRY_IN_FLIGHT]),
	       secs);
}

/* `replay --dry-run`: the journal is opened without creating one and only
 * read; no lock is taken, since nothing is written. */
static int dry_run(const char *dir, const char *batch, int json,
                   const struct cli_conn *conn, const rt_replay_opts *opts)
{
	struct cli_json w;
	struct dry d;
	rt_replay_stats stats;
	rt_journal *j = NULL;
	rt_journal_txn *t = NULL;
	rt_journal_batch *b = NULL;
	uint64_t pending = 0, need = 0;
	double start = cli_mono_now();
	int rc, status = EX_OK;

	memset(&d, 0, sizeof(d));
	memset(&stats, 0, sizeof(stats));
	d.batch = batch;
	if ((status = cli_journal_open(&j, dir, RT_JOURNAL_NOCREATE)))
		return status;
	if (batch) {
		rc = rt_journal_txn_begin(&t, j, RT_TXN_RDONLY);
		if (rc == 0)
			rc = rt_journal_batch_get(&b, t, batch);
		rt_journal_txn_abort(t);
		rt_journal_batch_free(b);
		if (rc != 0) {
			if (rc == RT_EINVAL)
				status = cli_usage_error("%s",
				                         rt_journal_errmsg(j));
			else
				cli_warn("%s", rt_journal_errmsg(j));
			if (rc != RT_EINVAL)
				status = cli_exit_code(rc);
			goto done;
		}
	}
	rc = cli_replay_waiting(j, &pending, &need);
	if (rc != 0) {
		cli_warn("%s", rt_journal_errmsg(j));
		status = cli_exit_code(rc);
		goto done;
	}
	if (json) {
		/* One long line on the terminal the bar would be redrawn on:
		 * no bar then. */
		if (isatty(STDOUT_FILENO))
			cli_progress_option(CLI_OPT_NO_PROGRESS);
		cli_json_begin_output(&w);
		cli_json_kv_string(&w, "journal", rt_journal_dir(j));
		cli_json_kv_bool(&w, "dry_run", 1);
		cli_json_kv_string(&w, "batch_id", batch);
		cli_json_key(&w, "entries");
		cli_json_array_begin(&w);
		d.w = &w;
	}
	/* Nothing a replay would move on: no cluster needed.  SIGINT and
	 * SIGTERM stop it gracefully, so that the output stays whole. */
	cli_replay_catch_signals();
	if (need > 0)
		status = cli_replay_drive(&stats, j, conn, opts, dry_entry, &d);
	if (json) {
		cli_json_array_end(&w);
		if (status == EX_OK)
			dry_summary_json(&w, &d);
		cli_json_kv_double(&w, "seconds", cli_mono_now() - start, 3);
		cli_json_object_end(&w);
		if (cli_json_finish(&w) < 0 && status == EX_OK)
			status = EX_IOERR;
	} else if (status == EX_OK && !cli_quiet()) {
		dry_summary_text(&d, cli_mono_now() - start);
	}
	if (status == EX_OK && fflush(stdout) != 0)
		status = EX_IOERR;
	if (status != EX_OK)
		goto done;
	/* As a replay would exit after it. */
	if (d.states[RT_ENTRY_FAILED] || d.states[RT_ENTRY_BLOCKED] ||
	    d.states[RT_ENTRY_NEEDS_REVIEW])
		status = 1;
	else if (d.states[RT_ENTRY_PENDING] || d.states[RT_ENTRY_IN_FLIGHT])
		status = EX_TEMPFAIL;
done:
	rt_journal_close(j);
	return status;
}

const struct option reftrack_replay_opts[] = {
	CLI_REPLAY_LONGOPTS,
	CLI_PROGRESS_LONGOPTS,
	{ "dry-run", no_argument, NULL, OPT_DRY_RUN },
	{ "batch", required_argument, NULL, OPT_BATCH },
	{ "help", no_argument, NULL, CLI_OPT_HELP },
	{ NULL, 0, NULL, 0 },
};

int reftrack_cmd_replay(int argc, char **argv)
{
	const char *batch = NULL;
	int dry = 0;
	struct cli_conn conn = cli_common.conn;
	struct cli_replay_args ra;
	rt_replay_stats stats;
	rt_journal *j = NULL;
	rt_journal_lock *lock = NULL;
	const char *dir = cli_common.journal;
	uint64_t pending = 0, need = 0;
	int64_t attention = -1;
	const char *why = NULL;
	int opt, rc, json = cli_common.format != CLI_FORMAT_PLAIN,
	             status = EX_OK;
	double start;

	memset(&stats, 0, sizeof(stats));
	cli_replay_args_init(&ra);
	optind = 1;
	while ((opt = getopt_long(argc, argv, CLI_PROGRESS_SHORTOPTS "h",
	                          reftrack_replay_opts, NULL)) != -1) {
		if (cli_replay_option(&ra, opt, optarg) ||
		    cli_progress_option(opt))
			continue;
		switch (opt) {
		case OPT_DRY_RUN:
			dry = 1;
			break;
		case OPT_BATCH:
			batch = optarg;
			break;
		case 'h':
		case CLI_OPT_HELP:
			replay_usage(stdout);
			return EX_OK;
		default:
			return cli_bad_option(argc, argv, reftrack_replay_opts);
		}
	}
	if (optind != argc)
		return cli_usage_error("unexpected argument '%s'", argv[optind]);
	if (batch && !dry)
		return cli_usage_error("--batch goes with --dry-run (a replay "
		                       "applies every batch, in seq order)");
	if (dry)
		return dry_run(dir, batch, json, &conn, &ra.opts);

	start = cli_mono_now();
	/* Only submit and run create a journal: a mistyped --journal must
	 * not become a new, empty journal that replays "nothing to do". */
	if ((status = cli_journal_open(&j, dir, RT_JOURNAL_NOCREATE))) {
		why = "no usable journal";
		goto done;
	}
	if ((status = cli_replay_lock(&lock, j, ra.wait_ms))) {
		why = status == EX_TEMPFAIL ? "journal busy: another process is "
		                              "replaying it"
		                            : "journal lock not taken";
		goto done;
	}
	cli_replay_catch_signals();
	rc = cli_replay_waiting(j, &pending, &need);
	if (rc != 0) {
		cli_warn("%s", rt_journal_errmsg(j));
		status = cli_exit_code(rc);
		why = "journal error";
		goto done;
	}
	stats.pending = pending;
	if (need == 0) {
		/* Nothing a replay could move on: the cluster is not needed,
		 * so a dead one does not turn "all done" into "try later". */
		memset(&stats, 0, sizeof(stats));
		stats.finished = 1;
	} else if ((status = cli_replay_apply(&stats, j, &conn, &ra.opts))) {
		if (stats.total == 0) {
			/* Not connected: every entry still waits. */
			stats.pending = pending;
			why = status == EX_TEMPFAIL ? "cluster unreachable; the "
			                              "next run continues"
			      : status == EX_CONFIG ? "Ceph configuration unusable"
			      : status == EX_NOPERM ? "permission denied"
			                            : "not connected";
		} else {
			why = "journal error";
		}
		goto done;
	}
	/* Stopped before it began: everything still waits. */
	if (stats.total == 0 && !stats.finished)
		stats.pending = pending;
	attention = (int64_t)cli_replay_attention(j, 1);
	status = cli_replay_status(&stats, (uint64_t)attention);
	why = cli_replay_why(&stats, status);
done:
	if (json || !cli_quiet()) {
		if (attention < 0 && j)
			attention = (int64_t)cli_replay_attention(j, 0);
		print_summary(&stats, cli_mono_now() - start, json,
		              j ? rt_journal_dir(j) : dir, attention, why,
		              status);
		if (fflush(stdout) != 0 && status == EX_OK)
			status = EX_IOERR;
	}
	rt_journal_lock_release(lock);
	rt_journal_close(j);
	return status;
}

static void operator_usage(const char *sub, FILE *out)
{
	if (strcmp(sub, "retry") == 0)
		fprintf(out, "usage: reftrack retry [--journal DIR] [-f FORMAT] "
		             "(--failed | --entry SEQ | --batch ID)\n"
		             "Puts failed, blocked and needs-review entries back "
		             "to pending: all of\nthem, one entry, or those of one "
		             "batch.  A needs-review entry retried is\napplied "
		             "as if new by the next replay.\n"
		             "      --failed           every failed, blocked and "
		             "needs-review entry\n"
		             "      --entry SEQ        entry SEQ only\n"
		             "      --batch ID         the entries of batch ID\n");
	else
		fprintf(out, "usage: reftrack skip [--journal DIR] [-f FORMAT] SEQ "
		             "--reason TEXT\n"
		             "Marks an entry skipped, so that it is never applied "
		             "and later entries of\nits tracker go on.\n"
		             "      --reason TEXT      why (required); kept as the "
		             "entry's error text\n");
	fprintf(out, CLI_COMMON_USAGE
	             "  -h, --help             this text\n"
	             "Exit status: 0 done, 64 usage, 65 the entry's state does "
	             "not allow it or\nunusable journal, 66 no such journal, "
	             "entry or batch, 75 journal busy\n(a replay is running).\n");
}

/* retry's and skip's options: one table, each refuses the other's. */
const struct option reftrack_operator_opts[] = {
	{ "failed", no_argument, NULL, OPT_FAILED },
	{ "entry", required_argument, NULL, OPT_ENTRY },
	{ "batch", required_argument, NULL, OPT_BATCH },
	{ "reason", required_argument, NULL, OPT_REASON },
	{ "help", no_argument, NULL, CLI_OPT_HELP },
	{ NULL, 0, NULL, 0 },
};

static int print_operator(int is_retry, uint64_t seq, uint64_t count)
{
	struct cli_json w;
	char nbuf[64];

	if (cli_common.format == CLI_FORMAT_PLAIN) {
		if (is_retry)
			printf("retry: %s back to pending\n",
			       cli_plural(nbuf, count, "entry", "entries"));
		else
			printf("skip: entry %llu skipped\n",
			       (unsigned long long)seq);
		return fflush(stdout) == 0 ? 0 : -1;
	}
	cli_json_begin_output(&w);
	cli_json_kv_string(&w, "command", is_retry ? "retry" : "skip");
	if (is_retry) {
		cli_json_kv_uint(&w, "entries", count);
	} else {
		cli_json_kv_uint(&w, "seq", seq);
		cli_json_kv_uint(&w, "entries", 1);
	}
	cli_json_object_end(&w);
	return cli_json_finish(&w);
}

static int run_operator(int argc, char **argv, int is_retry)
{
	const char *sub = argv[0], *dir = cli_common.journal, *batch = NULL,
		   *reason = NULL;
	uint64_t seq = 0, count = 0;
	int opt, rc, failed = 0, status = EX_OK, nsel;
	rt_journal *j = NULL;

	optind = 1;
	while ((opt = getopt_long(argc, argv, "h", reftrack_operator_opts,
	                          NULL)) != -1) {
		switch (opt) {
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
			return cli_bad_option(argc, argv,
			                      reftrack_operator_opts);
		}
	}
	if (is_retry) {
		nsel = failed + (seq != 0) + (batch != NULL);
		if (nsel != 1 || optind != argc || reason)
			return cli_usage_error("give exactly one of --failed, "
			                       "--entry SEQ, --batch ID");
	} else {
		if (optind + 1 != argc || !reason || !reason[0] || failed ||
		    batch)
			return cli_usage_error("give one SEQ and --reason TEXT");
		seq = cli_parse_ulong("SEQ", argv[optind], (unsigned long)-1);
	}

	/* The library takes the journal lock for the action, without
	 * waiting: a running replay makes it RT_ELOCKED, 75. */
	if ((status = cli_journal_open(&j, dir, RT_JOURNAL_NOCREATE)))
		return status;
	rc = is_retry ? rt_replay_retry(&count, j, seq, batch)
	              : rt_replay_skip(j, seq, reason);
	if (rc != 0) {
		cli_warn("%s", j ? rt_journal_errmsg(j) : rt_strerror(rc));
		status = rc == RT_EINVAL ? EX_DATAERR : cli_exit_code(rc);
		goto done;
	}
	if (print_operator(is_retry, seq, count) != 0) {
		cli_warn("writing the output:");
		status = EX_IOERR;
	}
done:
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
