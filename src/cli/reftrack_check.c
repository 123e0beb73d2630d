/*
 * reftrack_check.c - the `check` subcommand: verifying a journal's
 * integrity.
 *
 * `check` runs the whole verification in a child process.  LMDB keeps no
 * checksums of its own pages, and a damaged branch page that still looks
 * like a page can make LMDB read wild memory; in the child that is a crash
 * we report as damage (exit 65), never a core dump of the operator's tool.
 * The child writes its report into a pipe; the parent prints it only once
 * it knows how the child ended, so the output is always whole: its own
 * report, or ours about the crash.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <reftrack/journal.h>

#include "cli.h"
#include "cli_json.h"

/* ---- check ---------------------------------------------------------------- */

static void check_usage(FILE *out)
{
	fprintf(out,
	        "usage: reftrack check [--journal DIR] [-f FORMAT]\n"
	        "Verifies the journal: every entry and batch record's "
	        "checksum and contents,\nthe state, per-tracker and batch-id "
	        "indexes against the records, and the\ncounts against the "
	        "entries.  Reads only; safe while a replay runs.\n"
	        CLI_COMMON_USAGE
	        "  -h, --help             this text\n"
	        "Exit status: 0 clean, 64 usage, 65 damaged (each problem "
	        "named on stdout),\n66 no journal there, 77 journal owned by "
	        "another user or writable by others.\n");
}

struct report {
	int json;
	struct cli_json w;
	FILE *out;
};

static int on_problem(void *arg, const rt_check_problem *p)
{
	struct report *r = arg;

	if (r->json) {
		cli_json_object_begin(&r->w);
		cli_json_kv_string(&r->w, "table", p->table);
		cli_json_kv_string(&r->w, "key", p->key);
		cli_json_kv_string(&r->w, "problem", p->message);
		cli_json_object_end(&r->w);
	} else {
		fprintf(r->out, "%s%s%s: %s\n", p->table, *p->key ? " " : "",
		        p->key, p->message);
	}
	return 0;
}

/* The child: opens, checks, reports to `out`.  Returns the exit status. */
static int check_child(const char *dir, int json, FILE *out)
{
	struct report r = { json, { 0 }, out };
	rt_check_result res;
	rt_journal *j = NULL;
	int rc, status;

	/* A fault here is the parent's to report (as damage, whole). */
	signal(SIGBUS, SIG_DFL);
#ifndef __SANITIZE_ADDRESS__
	signal(SIGSEGV, SIG_DFL);
#endif
	if ((status = cli_journal_open(&j, dir, RT_JOURNAL_NOCREATE)))
		return status;
	if (json) {
		cli_json_init(&r.w, out,
		              cli_common.format == CLI_FORMAT_JSON_PRETTY);
		cli_json_object_begin(&r.w);
		cli_json_kv_uint(&r.w, "schema_version", CLI_SCHEMA_VERSION);
		cli_json_kv_string(&r.w, "journal", rt_journal_dir(j));
		cli_json_kv_string(&r.w, "journal_id", rt_journal_id(j));
		cli_json_key(&r.w, "problems");
		cli_json_array_begin(&r.w);
	}
	rc = rt_journal_check(&res, j, on_problem, &r);
	if (rc) {
		cli_warn("%s", rt_journal_errmsg(j));
		rt_journal_close(j);
		return cli_exit_code(rc);
	}
	if (json) {
		cli_json_array_end(&r.w);
		cli_json_kv_bool(&r.w, "clean", res.problems == 0);
		cli_json_kv_uint(&r.w, "entries", res.entries);
		cli_json_kv_uint(&r.w, "batches", res.batches);
		cli_json_kv_uint(&r.w, "index_rows", res.index_rows);
		cli_json_kv_uint(&r.w, "staged_entries", res.staged_entries);
		cli_json_kv_uint(&r.w, "problem_count", res.problems);
		cli_json_object_end(&r.w);
		cli_json_finish(&r.w);
		/* The report is this command's output: no error object. */
		cli_json_stdout_documents++;
	} else if (res.problems == 0) {
		fprintf(out,
		        "journal %s: clean (%llu entries, %llu batches, %llu "
		        "index rows)\n",
		        rt_journal_dir(j), (unsigned long long)res.entries,
		        (unsigned long long)res.batches,
		        (unsigned long long)res.index_rows);
	} else {
		fprintf(out, "journal %s: DAMAGED: %llu problems\n",
		        rt_journal_dir(j), (unsigned long long)res.problems);
	}
	if (!json && res.staged_entries)
		fprintf(out,
		        "journal %s: %llu staged entries of a batch being "
		        "submitted (not part of the journal yet; not checked)\n",
		        rt_journal_dir(j), (unsigned long long)res.staged_entries);
	rt_journal_close(j);
	return res.problems ? EX_DATAERR : EX_OK;
}

/* Reads all of fd into a malloc'd buffer (*len bytes). */
static char *slurp(int fd, size_t *len)
{
	size_t cap = 4096, n = 0;
	char *buf = malloc(cap), *nb;
	ssize_t r;

	while (buf) {
		if (n == cap) {
			nb = realloc(buf, cap * 2);
			if (!nb)
				break;
			buf = nb;
			cap *= 2;
		}
		r = read(fd, buf + n, cap - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			*len = n;
			return buf;
		}
		n += (size_t)r;
	}
	free(buf);
	*len = 0;
	return NULL;
}

const struct option reftrack_check_opts[] = {
	{ "help", no_argument, NULL, CLI_OPT_HELP },
	{ NULL, 0, NULL, 0 },
};

int reftrack_cmd_check(int argc, char **argv)
{
	const char *dir = cli_common.journal;
	int opt, json = cli_common.format != CLI_FORMAT_PLAIN, status, fds[2],
	         ws = 0;
	char *buf;
	size_t len;
	pid_t pid;

	optind = 1;
	while ((opt = getopt_long(argc, argv, "h", reftrack_check_opts,
	                          NULL)) != -1) {
		switch (opt) {
		case 'h':
		case CLI_OPT_HELP:
			check_usage(stdout);
			return EX_OK;
		default:
			return cli_bad_option(argc, argv, reftrack_check_opts);
		}
	}
	if (optind != argc)
		return cli_usage_error("unexpected argument '%s'", argv[optind]);

	fflush(stdout);
	if (pipe(fds) < 0) {
		cli_warn("pipe:");
		return EX_OSERR;
	}
	pid = fork();
	if (pid < 0) {
		cli_warn("fork:");
		return EX_OSERR;
	}
	if (pid == 0) {
		FILE *out;

		close(fds[0]);
		out = fdopen(fds[1], "w");
		if (!out)
			_exit(EX_OSERR);
		status = check_child(dir, json, out);
		if (fclose(out) != 0)
			status = EX_IOERR;
		/* A failure before the report: the error object, from here,
		 * where the message is known. */
		status = cli_finish(status);
		fflush(stdout);
		_exit(status);
	}
	close(fds[1]);
	buf = slurp(fds[0], &len);
	close(fds[0]);
	while (waitpid(pid, &ws, 0) < 0 && errno == EINTR)
		;
	if (WIFEXITED(ws)) {
		/* The child wrote the output or the error object. */
		cli_json_stdout_documents++;
		if (buf && len && fwrite(buf, 1, len, stdout) != len)
			status = EX_IOERR;
		else
			status = WEXITSTATUS(ws);
		free(buf);
		return status;
	}
	free(buf);
	/* LMDB died on the file's own structure: that is damage too. */
	{
		char path[4200] = "";
		char *resolved = NULL;

		if (rt_journal_resolve_dir(&resolved, dir) == 0)
			snprintf(path, sizeof(path), "%s", resolved);
		free(resolved);
		cli_warn("journal %s: reading the journal crashed LMDB (%s): "
		         "its B-tree pages are damaged; restore it from a backup",
		         path,
		         WIFSIGNALED(ws) ? strsignal(WTERMSIG(ws)) : "?");
		if (json) {
			struct cli_json w;

			cli_json_begin_output(&w);
			cli_json_kv_string(&w, "journal", path);
			cli_json_key(&w, "problems");
			cli_json_array_begin(&w);
			cli_json_object_begin(&w);
			cli_json_kv_string(&w, "table", "");
			cli_json_kv_string(&w, "key", "");
			cli_json_kv_string(&w, "problem",
			                   "reading the journal crashed LMDB: its "
			                   "B-tree pages are damaged");
			cli_json_object_end(&w);
			cli_json_array_end(&w);
			cli_json_kv_bool(&w, "clean", 0);
			cli_json_object_end(&w);
			cli_json_finish(&w);
		}
	}
	return EX_DATAERR;
}
