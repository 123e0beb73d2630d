/*
 * reftrack.c - the `reftrack` tool's entry point: finds the subcommand and
 * hands it the command line.
 *
 * Options may stand before or after the subcommand, as with Ceph's own
 * tools (`reftrack -p rbd add T K`): the common ones (cli_opts.c) are taken
 * out of the command line wherever they stand, and the subcommand parses
 * what is left, its own options and operands, with getopt_long.
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "cli_progress.h"

struct subcommand {
	const char *name;
	int (*run)(int argc, char **argv);
	const char *summary;
	/* The subcommand's own options, for the common pre-pass to tell them
	 * from librados' (NULL: left unchecked to the subcommand). */
	const struct option *longopts;
	const char *shortopts;
};

static const struct subcommand subcommands[] = {
	{ "add", reftrack_cmd_add, "add references to a tracker",
	  reftrack_tracker_opts, "h" },
	{ "rm", reftrack_cmd_rm, "remove or mask references",
	  reftrack_tracker_opts, "h" },
	{ "show", reftrack_cmd_show, "print a tracker's references",
	  reftrack_tracker_opts, "h" },
	{ "submit", reftrack_cmd_submit, "validate a batch file into the journal",
	  reftrack_submit_opts, CLI_PROGRESS_SHORTOPTS "h" },
	{ "status", reftrack_cmd_status, "summarise the journal",
	  reftrack_status_opts, "h" },
	{ "show-entry", reftrack_cmd_show_entry, "print one journal entry",
	  reftrack_show_entry_opts, "h" },
	{ "replay", reftrack_cmd_replay, "apply the journal's pending entries",
	  reftrack_replay_opts, CLI_PROGRESS_SHORTOPTS "h" },
	{ "retry", reftrack_cmd_retry, "put failed entries back to pending",
	  reftrack_operator_opts, "h" },
	{ "skip", reftrack_cmd_skip, "mark an entry skipped, unblocking its tracker",
	  reftrack_operator_opts, "h" },
	{ "run", reftrack_cmd_run, "one scheduled run: spool, replay, prune, metrics",
	  reftrack_run_opts, "h" },
	{ "prune", reftrack_cmd_prune, "delete old done and skipped entries",
	  reftrack_prune_opts, "h" },
	{ "export", reftrack_cmd_export, "print journal entries as JSON lines",
	  reftrack_export_opts, "h" },
	{ "check", reftrack_cmd_check, "verify the journal's records, indexes and counts",
	  reftrack_check_opts, "h" },
	{ "backup", reftrack_cmd_backup, "write a consistent copy of the journal",
	  reftrack_backup_opts, "h" },
	{ "repair", reftrack_cmd_repair, "rewrite a tracker's wrong refcount",
	  reftrack_repair_opts, "h" },
	{ "scan", reftrack_cmd_scan, "audit every tracker of a pool; find stale references",
	  reftrack_scan_opts, CLI_PROGRESS_SHORTOPTS "h" },
};

#define NSUBCOMMANDS (sizeof(subcommands) / sizeof(subcommands[0]))

static void usage(FILE *out)
{
	size_t i;

	fprintf(out, "usage: reftrack [OPTIONS] SUBCOMMAND [OPTIONS] ARGS...\n"
	             "       reftrack --help | --version\n"
	             "\nSubcommands:\n");
	for (i = 0; i < NSUBCOMMANDS; i++)
		fprintf(out, "  %-12s %s\n", subcommands[i].name,
		        subcommands[i].summary);
	fprintf(out, "\nCommon options, before or after the subcommand (one that "
	             "does not use one\nignores it):\n" CLI_COMMON_USAGE
	             CLI_CONN_USAGE
	             "\n`reftrack SUBCOMMAND --help` describes each one.\n"
	             "Environment: CEPH_CONF, CEPH_ARGS, REFTRACK_JOURNAL.\n");
}

static int unknown_subcommand(const char *word)
{
	const char *names[NSUBCOMMANDS + 1], *guess;
	size_t k;

	for (k = 0; k < NSUBCOMMANDS; k++)
		names[k] = subcommands[k].name;
	names[k] = NULL;
	guess = cli_did_you_mean(word, names);
	if (guess)
		return cli_usage_error("unknown subcommand '%s'; did you mean "
		                       "'%s'?", word, guess);
	return cli_usage_error("unknown subcommand '%s'", word);
}

int main(int argc, char **argv)
{
	int sub, i, w;
	size_t k;

	cli_set_progname("reftrack");
	cli_fault_guard();
	cli_common_init();
	cli_ignore_sigpipe();
	for (sub = 1; sub < argc; sub += w) {
		const char *arg = argv[sub];

		w = 1;
		if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
			usage(stdout);
			return EX_OK;
		}
		if (strcmp(arg, "--version") == 0) {
			cli_print_version("reftrack");
			return EX_OK;
		}
		if (arg[0] != '-' || strcmp(arg, "-") == 0)
			break;
		if (strcmp(arg, "--") == 0) {
			sub++;
			break;
		}
		/* Skip a common option with its value; an unknown one is
		 * judged once the subcommand's own options are known. */
		w = cli_common_width(argc, argv, sub);
		if (w == 0)
			w = 1;
	}
	if (sub >= argc)
		return cli_finish(cli_usage_error("no subcommand given"));
	for (k = 0; k < NSUBCOMMANDS; k++)
		if (strcmp(argv[sub], subcommands[k].name) == 0)
			break;
	/* Rotate argv[1..sub] so the subcommand's name comes first. */
	{
		char *name = argv[sub];

		for (i = sub; i > 1; i--)
			argv[i] = argv[i - 1];
		argv[1] = name;
	}
	argc--;
	argv++;
	if (k == NSUBCOMMANDS) {
		/* For --format, so that the error comes in the format asked
		 * for. */
		cli_common_parse(&argc, argv, NULL, NULL);
		return cli_finish(unknown_subcommand(argv[0]));
	}
	cli_set_subcommand(subcommands[k].name);
	if (cli_common_parse(&argc, argv, subcommands[k].longopts,
	                     subcommands[k].shortopts))
		return cli_finish(EX_USAGE);
	/* The subcommands' getopt loops report their own errors. */
	opterr = 0;
	return cli_finish(subcommands[k].run(argc, argv));
}
