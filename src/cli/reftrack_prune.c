/*
 * reftrack_prune.c - the `prune` subcommand: journal retention on demand
 * (`run` prunes by itself after each replay).  See "retention" in
 * include/reftrack/journal.h for what goes and what stays.
 *
 * It does not take the journal lock: each of its transactions keeps the
 * journal consistent on its own, it only deletes entries in final states,
 * which no replay or operator command changes again, and LMDB serialises
 * it with a running replay.  So an operator can prune while a long replay
 * runs.
 */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <reftrack/journal.h>

#include "cli.h"
#include "cli_json.h"

#define DEFAULT_BATCH_RETENTION (90LL * 86400)

enum {
	OPT_DONE_OLDER = CLI_OPT_FIRST_FREE,
	OPT_BATCH_RETENTION,
	OPT_DRY_RUN,
};

static void prune_usage(FILE *out)
{
	fprintf(out,
	        "usage: reftrack prune [--journal DIR] --done-older-than "
	        "DURATION\n"
	        "                      [--batch-retention DURATION] [-f FORMAT]\n"
	        "Deletes done and skipped entries that finished more than "
	        "DURATION ago.\nFailed, needs-review, blocked, pending and "
	        "in-flight entries are never\npruned.  A batch whose entries "
	        "are all gone keeps a small record, so that\nthe same file "
	        "submitted again is still a duplicate; those records are\n"
	        "forgotten after --batch-retention.\n"
	        CLI_COMMON_USAGE
	        "      --done-older-than DURATION  30s, 15m, 12h, 7d, 2w "
	        "(required; a unit is\n"
	        "                         required, 0 prunes every done and "
	        "skipped entry)\n"
	        "      --batch-retention DURATION  forget the records of "
	        "emptied batches\n"
	        "                         submitted longer ago (default 90d; "
	        "never keeps them)\n"
	        "      --dry-run          count what would go; delete nothing\n"
	        "  -h, --help             this text\n"
	        "Exit status: 0, 64 usage, 65 unusable journal, 66 no journal "
	        "there.\n");
}

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int64_t cutoff(int64_t now, long long seconds)
{
	int64_t c;

	if (seconds < 0)
		return 0; /* never */
	c = now - (int64_t)seconds * 1000000000;
	/* 0 means "none" to the library; a cutoff before 1970 is none. */
	return c > 0 ? c : 0;
}

const struct option reftrack_prune_opts[] = {
	{ "done-older-than", required_argument, NULL, OPT_DONE_OLDER },
	{ "batch-retention", required_argument, NULL, OPT_BATCH_RETENTION },
	{ "dry-run", no_argument, NULL, OPT_DRY_RUN },
	{ "help", no_argument, NULL, CLI_OPT_HELP },
	{ NULL, 0, NULL, 0 },
};

int reftrack_cmd_prune(int argc, char **argv)
{
	const char *dir = cli_common.journal;
	int dry = 0;
	long long older = -2, batches = DEFAULT_BATCH_RETENTION;
	int opt, rc, json = cli_common.format != CLI_FORMAT_PLAIN,
	             status = EX_OK;
	rt_journal *j = NULL;
	rt_prune_opts o;
	rt_prune_result res;
	struct cli_json w;
	char path[4200], nbuf[64], bbuf[64];
	struct stat st;
	int64_t now;

	optind = 1;
	while ((opt = getopt_long(argc, argv, "h", reftrack_prune_opts,
	                          NULL)) != -1) {
		switch (opt) {
		case OPT_DONE_OLDER:
			older = cli_parse_duration("--done-older-than", optarg, 0);
			break;
		case OPT_BATCH_RETENTION:
			batches = cli_parse_duration("--batch-retention", optarg,
			                             CLI_DUR_NEVER);
			break;
		case OPT_DRY_RUN:
			dry = 1;
			break;
		case 'h':
		case CLI_OPT_HELP:
			prune_usage(stdout);
			return EX_OK;
		default:
			return cli_bad_option(argc, argv, reftrack_prune_opts);
		}
	}
	if (optind != argc)
		return cli_usage_error("unexpected argument '%s'", argv[optind]);
	/* No default here: deleting history is asked for explicitly. */
	if (older < 0)
		return cli_usage_error("--done-older-than DURATION is required");

	if ((status = cli_journal_open(&j, dir, RT_JOURNAL_NOCREATE)))
		return status;
	now = now_ns();
	rt_prune_opts_init(&o, RT_PRUNE_OPTS_VERSION);
	o.entries_before_ns = cutoff(now, older);
	/* "0" means every finished entry, also one finished this instant. */
	if (older == 0)
		o.entries_before_ns = now + 1;
	o.batches_before_ns = cutoff(now, batches);
	rc = dry ? rt_journal_prune_dry_run(&res, j, &o)
	         : rt_journal_prune(&res, j, &o);
	if (rc != 0 && dry) {
		cli_warn("%s", rt_journal_errmsg(j));
		status = cli_exit_code(rc);
		goto done;
	}
	if (rc != 0) {
		/* What was committed before the failure stays pruned. */
		cli_warn("%s (%s pruned before that)", rt_journal_errmsg(j),
		         cli_plural(nbuf, res.entries_total, "entry",
		                    "entries"));
		status = cli_exit_code(rc);
		goto done;
	}
	snprintf(path, sizeof(path), "%s/data.mdb", rt_journal_dir(j));
	if (stat(path, &st) != 0)
		st.st_size = 0;
	if (json) {
		cli_json_begin_output(&w);
		cli_json_kv_string(&w, "journal", rt_journal_dir(j));
		cli_json_kv_uint(&w, "entries", res.entries_total);
		cli_json_kv_uint(&w, "done", res.entries[RT_ENTRY_DONE]);
		cli_json_kv_uint(&w, "skipped", res.entries[RT_ENTRY_SKIPPED]);
		cli_json_kv_uint(&w, "batches_forgotten", res.batches_forgotten);
		cli_json_kv_uint(&w, "transactions", res.transactions);
		cli_json_kv_uint(&w, "data_bytes", (uint64_t)st.st_size);
		cli_json_kv_bool(&w, "dry_run", dry);
		cli_json_object_end(&w);
		if (cli_json_finish(&w) < 0) {
			cli_warn("writing the output:");
			status = EX_IOERR;
		}
	} else if (dry) {
		printf("prune (dry run): %s would go (%llu done, %llu "
		       "skipped), %s would be forgotten; nothing was deleted\n",
		       cli_plural(nbuf, res.entries_total, "entry", "entries"),
		       (unsigned long long)res.entries[RT_ENTRY_DONE],
		       (unsigned long long)res.entries[RT_ENTRY_SKIPPED],
		       cli_plural(bbuf, res.batches_forgotten, "batch record",
		                  "batch records"));
	} else {
		printf("prune: %s (%llu done, %llu skipped), %s forgotten; "
		       "data.mdb is %lld bytes\n",
		       cli_plural(nbuf, res.entries_total, "entry", "entries"),
		       (unsigned long long)res.entries[RT_ENTRY_DONE],
		       (unsigned long long)res.entries[RT_ENTRY_SKIPPED],
		       cli_plural(bbuf, res.batches_forgotten, "batch record",
		                  "batch records"),
		       (long long)st.st_size);
	}
done:
	rt_journal_close(j);
	return status;
}
