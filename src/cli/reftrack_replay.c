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
#include "cli_replay.h"

enum {
	OPT_FAILED = CLI_OPT_FIRST_FREE,
	OPT_ENTRY,
	OPT_BATCH,
	OPT_REASON,
};

static double now_sec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void replay_usage(FILE *out)
{
	fprintf(out,
	        "usage: reftrack replay [--journal DIR] [OPTIONS]\n"
	        "Applies the journal's pending entries to the cluster.\n"
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
	        "  -c, --conf FILE, -i, --id, --user ID, -n, --name NAME, -k, "
	        "--keyring FILE,\n"
	        "      --cluster NAME, --op-timeout DURATION, --CEPH-OPTION VALUE "
	        "as for every\n"
	        "                         subcommand (`reftrack --help`)\n"
	        "  -h, --help             this text\n"
	        "Exit status: 0 all done, 1 failed, blocked or needs-review "
	        "entries need an\noperator, 64 usage, 65 unusable journal, "
	        "75 entries left pending for a later\nrun (cluster unreachable, "
	        "time budget spent, journal busy), 77 permission\ndenied.\n");
}

static void print_summary(const rt_replay_stats *s, double secs, int json,
                          const char *dir)
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
		cli_json_kv_double(&w, "seconds", secs, 3);
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

const struct option reftrack_replay_opts[] = {
	CLI_REPLAY_LONGOPTS,
	{ "help", no_argument, NULL, CLI_OPT_HELP },
	{ NULL, 0, NULL, 0 },
};

int reftrack_cmd_replay(int argc, char **argv)
{
	struct cli_conn conn = cli_common.conn;
	struct cli_replay_args ra;
	rt_replay_stats stats;
	rt_journal *j = NULL;
	rt_journal_lock *lock = NULL;
	const char *dir = cli_common.journal;
	uint64_t pending = 0, need = 0;
	int opt, rc, json = cli_common.format != CLI_FORMAT_PLAIN,
	             status = EX_OK;
	double start;

	memset(&stats, 0, sizeof(stats));
	cli_replay_args_init(&ra);
	optind = 1;
	while ((opt = getopt_long(argc, argv, "h", reftrack_replay_opts,
	                          NULL)) != -1) {
		if (cli_replay_option(&ra, opt, optarg))
			continue;
		switch (opt) {
		case 'h':
		case CLI_OPT_HELP:
			replay_usage(stdout);
			return EX_OK;
		default:
			return cli_bad_option(argc, argv, reftrack_replay_opts);
		}
	}
	if ((status = cli_no_operands("replay", argc, argv, optind)))
		return status;

	start = now_sec();
	if ((status = cli_journal_open(&j, dir, 0)))
		goto done;
	if ((status = cli_replay_lock(&lock, j, ra.wait_ms)))
		goto done;
	rc = cli_replay_waiting(j, &pending, &need);
	if (rc != 0) {
		cli_warn("%s", rt_journal_errmsg(j));
		status = cli_exit_code(rc);
		goto done;
	}
	if (need == 0) {
		/* Nothing a replay could move on: the cluster is not needed,
		 * so a dead one does not turn "all done" into "try later". */
		memset(&stats, 0, sizeof(stats));
		stats.finished = 1;
	} else if ((status = cli_replay_apply(&stats, j, &conn, &ra.opts))) {
		goto done;
	}
	print_summary(&stats, now_sec() - start, json, rt_journal_dir(j));
	status = cli_replay_status(&stats, cli_replay_attention(j, 1));
done:
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
	rt_journal_lock *lock = NULL;
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
	if (print_operator(is_retry, seq, count) != 0) {
		cli_warn("writing the output:");
		status = EX_IOERR;
	}
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
