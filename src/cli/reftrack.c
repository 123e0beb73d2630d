/*
 * reftrack.c - the `reftrack` tool's entry point: finds the subcommand and
 * hands it the command line.
 *
 * Options may stand before the subcommand, as with Ceph's own tools
 * (`reftrack -p rbd add T K`); they are moved behind the subcommand's name
 * so that each subcommand parses one argument vector with getopt_long.
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"

struct subcommand {
	const char *name;
	int (*run)(int argc, char **argv);
	const char *summary;
};

static const struct subcommand subcommands[] = {
	{ "add", reftrack_cmd_add, "add references to a tracker" },
	{ "rm", reftrack_cmd_rm, "remove or mask references" },
	{ "show", reftrack_cmd_show, "print a tracker's references" },
	{ "submit", reftrack_cmd_submit, "validate a batch file into the journal" },
	{ "status", reftrack_cmd_status, "summarise the journal" },
	{ "show-entry", reftrack_cmd_show_entry, "print one journal entry" },
	{ "replay", reftrack_cmd_replay, "apply the journal's pending entries" },
	{ "retry", reftrack_cmd_retry, "put failed entries back to pending" },
	{ "skip", reftrack_cmd_skip, "mark an entry skipped, unblocking its tracker" },
	{ "run", reftrack_cmd_run, "one scheduled run: spool, replay, prune, metrics" },
	{ "prune", reftrack_cmd_prune, "delete old done and skipped entries" },
	{ "export", reftrack_cmd_export, "print journal entries as JSON lines" },
	{ "check", reftrack_cmd_check, "verify the journal's records, indexes and counts" },
	{ "backup", reftrack_cmd_backup, "write a consistent copy of the journal" },
};

#define NSUBCOMMANDS (sizeof(subcommands) / sizeof(subcommands[0]))

/* Options that take a value, so that their value is not mistaken for the
 * subcommand's name. */
static int takes_value(const char *arg)
{
	static const char *const long_opts[] = {
		"--conf", "--id", "--name", "--keyring", "--pool",
		"--namespace", "--op-timeout", "--journal",
	};
	size_t i;

	if (arg[0] == '-' && arg[1] != '-')
		return strchr("cnpN", arg[1]) && arg[2] == '\0';
	for (i = 0; i < sizeof(long_opts) / sizeof(long_opts[0]); i++)
		if (strcmp(arg, long_opts[i]) == 0)
			return 1;
	return 0;
}

static void usage(FILE *out)
{
	size_t i;

	fprintf(out, "usage: reftrack [OPTIONS] SUBCOMMAND [OPTIONS] ARGS...\n"
	             "       reftrack --help | --version\n"
	             "\nSubcommands:\n");
	for (i = 0; i < NSUBCOMMANDS; i++)
		fprintf(out, "  %-12s %s\n", subcommands[i].name,
		        subcommands[i].summary);
	fprintf(out, "\nConnection options (any subcommand that talks to the "
	             "cluster):\n" CLI_CONN_USAGE
	             "\n`reftrack SUBCOMMAND --help` describes each one.\n"
	             "Environment: CEPH_CONF, CEPH_ARGS, REFTRACK_JOURNAL.\n");
}

int main(int argc, char **argv)
{
	int sub, i;
	size_t k;

	cli_set_progname("reftrack");
	cli_fault_guard();
	cli_ignore_sigpipe();
	for (sub = 1; sub < argc; sub++) {
		const char *arg = argv[sub];

		if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
			usage(stdout);
			return EX_OK;
		}
		if (strcmp(arg, "--version") == 0) {
			printf("reftrack %s\n", RT_VERSION_STRING);
			return EX_OK;
		}
		if (arg[0] != '-' || strcmp(arg, "-") == 0)
			break;
		if (strcmp(arg, "--") == 0) {
			sub = argc;
			break;
		}
		if (takes_value(arg))
			sub++;
	}
	if (sub >= argc) {
		cli_warn("no subcommand given");
		usage(stderr);
		return EX_USAGE;
	}
	for (k = 0; k < NSUBCOMMANDS; k++)
		if (strcmp(argv[sub], subcommands[k].name) == 0)
			break;
	if (k == NSUBCOMMANDS) {
		cli_warn("unknown subcommand '%s'", argv[sub]);
		usage(stderr);
		return EX_USAGE;
	}
	/* Rotate argv[1..sub] so the subcommand's name comes first. */
	{
		char *name = argv[sub];

		for (i = sub; i > 1; i--)
			argv[i] = argv[i - 1];
		argv[1] = name;
	}
	return subcommands[k].run(argc - 1, argv + 1);
}
