/*
 * reftrack_export.c - the `export` subcommand: journal entries as JSON
 * lines, for audits and for scripts.
 *
 * One line per entry, in seq order, each a complete JSON object with every
 * field of the entry (the shape of `show-entry --json`, see cli_entry.h).
 * Everything comes from one read snapshot, so an export taken while a
 * replay runs is still consistent with itself.  Pruned entries are gone
 * and so not exported: export before pruning what an audit must keep.
 */
#include <stdio.h>
#include <string.h>

#include <reftrack/journal.h>

#include "cli.h"
#include "cli_entry.h"
#include "cli_json.h"

enum { OPT_STATE = CLI_OPT_FIRST_FREE, OPT_BATCH };

static void export_usage(FILE *out)
{
	fprintf(out,
	        "usage: reftrack export [--journal DIR] [--state STATE] "
	        "[--batch ID] [-f FORMAT]\n"
	        "Prints journal entries, one JSON object per line, in seq "
	        "order: all of them,\nor those in STATE (pending, in-flight, "
	        "done, failed, skipped, blocked,\nneeds-review), of batch ID "
	        "(64 hex digits), or both.  Each line is\nschemas/entry.schema."
	        "json.  The output is JSON lines in every format but\n"
	        "json-pretty, which prints the same objects indented, one "
	        "after another.\n"
	        CLI_COMMON_USAGE
	        "      --state STATE      only entries in STATE\n"
	        "      --batch ID         only the entries of batch ID\n"
	        "  -h, --help             this text\n"
	        "Exit status: 0, 64 usage, 65 unusable journal, 66 no journal "
	        "or no such\nbatch, 74 output error.\n");
}

/* Writes entry `seq` if it is in `state` (0: any).  0 if written or
 * skipped, else an RT_E* code. */
static int put_entry(rt_journal_txn *t, uint64_t seq, int state, int *werr)
{
	rt_journal_entry *e = NULL;
	struct cli_json w;
	int rc = rt_journal_entry_get(&e, t, seq);

	if (rc)
		return rc;
	if (!state || (int)e->state == state) {
		cli_json_init(&w, stdout,
		              cli_common.format == CLI_FORMAT_JSON_PRETTY);
		cli_json_entry(&w, e);
		if (cli_json_finish(&w) < 0)
			*werr = 1;
	}
	rt_journal_entry_free(e);
	return 0;
}

const struct option reftrack_export_opts[] = {
	{ "state", required_argument, NULL, OPT_STATE },
	{ "batch", required_argument, NULL, OPT_BATCH },
	{ "help", no_argument, NULL, CLI_OPT_HELP },
	{ NULL, 0, NULL, 0 },
};

int reftrack_cmd_export(int argc, char **argv)
{
	const char *dir = cli_common.journal, *batch_id = NULL;
	int opt, rc, state = 0, werr = 0, status = EX_OK;
	rt_journal *j = NULL;
	rt_journal_txn *t = NULL;
	rt_journal_iter *it = NULL;
	rt_journal_batch *b = NULL;
	uint64_t seq;

	optind = 1;
	while ((opt = getopt_long(argc, argv, "h", reftrack_export_opts,
	                          NULL)) != -1) {
		switch (opt) {
		case OPT_STATE:
			state = rt_entry_state_parse(optarg);
			if (state < 0) {
				const char *states[] = { "pending", "in-flight",
				                         "done", "failed",
				                         "skipped", "blocked",
				                         "needs-review", NULL };
				const char *guess =
					cli_did_you_mean(optarg, states);

				return cli_usage_error(
					"'%s' is not a state (pending, "
					"in-flight, done, failed, skipped, "
					"blocked, needs-review)%s%s%s",
					optarg, guess ? "; did you mean '" : "",
					guess ? guess : "", guess ? "'?" : "");
			}
			break;
		case OPT_BATCH:
			batch_id = optarg;
			break;
		case 'h':
		case CLI_OPT_HELP:
			export_usage(stdout);
			return EX_OK;
		default:
			return cli_bad_option(argc, argv, reftrack_export_opts);
		}
	}
	if (optind != argc)
		return cli_usage_error("unexpected argument '%s'", argv[optind]);

	if ((status = cli_journal_open(&j, dir, RT_JOURNAL_NOCREATE)))
		return status;
	rc = rt_journal_txn_begin(&t, j, RT_TXN_RDONLY);
	if (rc != 0)
		goto fail;
	if (batch_id) {
		rc = rt_journal_batch_get(&b, t, batch_id);
		if (rc == RT_EINVAL) {
			status = cli_usage_error("%s", rt_journal_errmsg(j));
			goto done;
		}
		if (rc != 0)
			goto fail;
		/* A batch's entries have consecutive seqs; pruned ones are
		 * gone. */
		for (seq = b->first_seq; seq < b->first_seq + b->nentries &&
		                         !werr;
		     seq++) {
			rc = put_entry(t, seq, state, &werr);
			if (rc == RT_ENOTFOUND)
				rc = 0;
			if (rc)
				goto fail;
		}
	} else {
		rc = state ? rt_journal_iter_state(&it, t, (rt_entry_state)state,
		                                   0)
		           : rt_journal_iter_all(&it, t, 0);
		while (rc == 0 && !werr &&
		       (rc = rt_journal_iter_next(it, &seq)) == 0)
			rc = put_entry(t, seq, 0, &werr);
		if (rc == RT_ENOTFOUND)
			rc = 0;
		if (rc)
			goto fail;
	}
	if (werr || fflush(stdout) != 0) {
		cli_warn("writing the output:");
		status = EX_IOERR;
	}
	goto done;
fail:
	cli_warn("%s", j ? rt_journal_errmsg(j) : rt_strerror(rc));
	status = cli_exit_code(rc);
done:
	rt_journal_iter_free(it);
	rt_journal_batch_free(b);
	rt_journal_txn_abort(t);
	rt_journal_close(j);
	return status;
}
