/*
 * reftrack_journal.c - the journal subcommands: submit, status, show-entry.
 *
 * They only read and write the local journal; none talks to a cluster.
 * Exit codes: 0 ok, 64 usage, 65 invalid batch or unusable journal,
 * 66 no such file / journal / entry, 74 I/O error, 77 permission.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <reftrack/journal.h>

#include "cli.h"
#include "cli_entry.h"
#include "cli_json.h"
#include "cli_progress.h"

#define JOURNAL_USAGE CLI_COMMON_USAGE

enum { OPT_DRY_RUN = CLI_OPT_FIRST_FREE, OPT_LIMIT };

/* A JSON object's key for a state's name: snake_case, as every key. */
static const char *state_key(char buf[32], const char *name)
{
	size_t i;

	for (i = 0; name[i] && i < 31; i++)
		buf[i] = name[i] == '-' ? '_' : name[i];
	buf[i] = '\0';
	return buf;
}

static void json_counts(struct cli_json *w, const char *key,
                        const uint64_t counts[RT_ENTRY_STATE_SLOTS])
{
	uint64_t total = 0;
	int s;

	cli_json_key(w, key);
	cli_json_object_begin(w);
	for (s = 0; s < RT_ENTRY_STATE_SLOTS; s++) {
		const char *name = rt_entry_state_name(s);
		char kbuf[32];

		total += counts[s];
		if (name)
			cli_json_kv_uint(w, state_key(kbuf, name), counts[s]);
	}
	cli_json_kv_uint(w, "total", total);
	cli_json_object_end(w);
}

/* ---- submit ----------------------------------------------------------------- */

static const char submit_usage[] =
	"Usage: %s submit [--journal DIR] [--dry-run] [-f FORMAT] FILE|-\n"
	"\n"
	"Validates the batch file FILE (\"-\": standard input) and writes all of\n"
	"its requests into the journal as pending entries, in one transaction:\n"
	"the whole batch or nothing.  The batch id is the SHA-256 of the file's\n"
	"bytes; submitting the same bytes again adds nothing.\n"
	"\n"
	JOURNAL_USAGE
	"      --dry-run          validate only; write nothing\n"
	CLI_PROGRESS_USAGE
	"  -h, --help             this text\n"
	"\n"
	"Exit status: 0 submitted (or already there), 64 usage, 65 invalid batch\n"
	"(\"FILE:LINE:COLUMN: message\" on stderr) or unusable journal, 66 no such\n"
	"file, 74 I/O error, 77 permission denied.\n";

/* Copies standard input into an unlinked temporary file and names it
 * /proc/self/fd/N in `path`.  0, or the exit status after a message. */
static int stdin_copy(char *path, size_t size)
{
	const char *tmpdir = getenv("TMPDIR");
	char tmpl[4096], buf[65536];
	uint64_t total = 0;
	ssize_t n;
	int fd;

	snprintf(tmpl, sizeof(tmpl), "%s/reftrack-stdin-XXXXXX",
	         tmpdir && *tmpdir ? tmpdir : "/tmp");
	fd = mkostemp(tmpl, O_CLOEXEC);
	if (fd < 0) {
		cli_warn("cannot create a temporary file %s:", tmpl);
		return EX_CANTCREAT;
	}
	unlink(tmpl);
	while ((n = read(STDIN_FILENO, buf, sizeof(buf))) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			cli_warn("<stdin>:");
			close(fd);
			return EX_IOERR;
		}
		total += (uint64_t)n;
		/* The batch limit bounds what the disk must hold for it. */
		if (total > RT_BATCH_MAX_BYTES) {
			cli_warn("<stdin>: input is over the limit of %llu bytes",
			         (unsigned long long)RT_BATCH_MAX_BYTES);
			close(fd);
			return EX_DATAERR;
		}
		if (write(fd, buf, (size_t)n) != n) {
			cli_warn("%s:", tmpl);
			close(fd);
			return EX_IOERR;
		}
	}
	snprintf(path, size, "/proc/self/fd/%d", fd);
	return 0;
}

/* Files this big get a progress bar on a terminal. */
#define SUBMIT_BAR_BYTES (1 << 20)

struct submit_bar {
	struct cli_progress bar;
	uint64_t done, total;
};

static void on_submit_progress(void *arg, uint64_t done, uint64_t total)
{
	struct submit_bar *b = arg;

	b->done = done;
	b->total = total;
	cli_progress_update(&b->bar, done, total);
}

/* submit --dry-run --json: each request as the parser hands it over. */
static int put_request(void *arg, size_t index, const rt_request *req)
{
	struct cli_json *w = arg;

	cli_json_object_begin(w);
	cli_json_kv_uint(w, "index", index);
	cli_json_kv_uint(w, "line", req->line);
	cli_json_kv_string(w, "pool", req->pool);
	cli_json_kv_string(w, "namespace", req->ns);
	cli_json_kv_string(w, "tracker", req->tracker);
	cli_json_kv_string(w, "op", req->op == RT_OP_ADD ? "add" : "remove");
	cli_json_kv_string(w, "id", req->request_id);
	cli_json_key(w, "refs");
	cli_json_refs(w, req->refs, req->nrefs);
	cli_json_object_end(w);
	return 0;
}

const struct option reftrack_submit_opts[] = {
	{ "dry-run", no_argument, NULL, OPT_DRY_RUN },
	CLI_PROGRESS_LONGOPTS,
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 }
};

int reftrack_cmd_submit(int argc, char **argv)
{
	struct submit_bar sb;
	struct stat fst;
	const char *dir = cli_common.journal, *file;
	char *name = NULL, copy_path[64] = "";
	int opt, json = cli_common.format != CLI_FORMAT_PLAIN, dry = 0,
	         rc = 0, status = EX_OK;
	rt_journal *j = NULL;
	rt_submit_result res;
	struct cli_json w;
	char nbuf[64];

	optind = 0;
	memset(&sb, 0, sizeof(sb));
	while ((opt = getopt_long(argc, argv, CLI_PROGRESS_SHORTOPTS "h",
	                          reftrack_submit_opts, NULL)) != -1) {
		if (cli_progress_option(opt))
			continue;
		switch (opt) {
		case OPT_DRY_RUN:
			dry = 1;
			break;
		case 'h':
			printf(submit_usage, cli_progname());
			return EX_OK;
		default:
			return cli_bad_option(argc, argv, reftrack_submit_opts);
		}
	}
	if (argc - optind != 1)
		return cli_usage_error("exactly one FILE (or -) expected");
	file = argv[optind];

	if (dry && json && strcmp(file, "-") == 0) {
		/* Read twice: once to validate, once to list the requests. */
		if ((status = stdin_copy(copy_path, sizeof(copy_path))))
			return status;
		file = copy_path;
		name = strdup("-");
	}
	if (dry) {
		/* A dry run never creates a journal; without one it only
		 * validates. */
		rc = rt_journal_open(&j, dir, RT_JOURNAL_NOCREATE);
		if (rc == RT_ENOTFOUND) {
			rt_journal_close(j);
			j = NULL;
		} else if (rc) {
			rt_journal_close(j);
			j = NULL;
			if ((status = cli_journal_open(&j, dir, RT_JOURNAL_NOCREATE)))
				return status;
		}
	} else {
		/* The first submit creates the journal, but only for a batch
		 * that is valid: a rejected file leaves nothing behind. */
		if ((status = cli_journal_open(&j, dir,
		                               RT_JOURNAL_CREATE_ON_SUBMIT)))
			goto done;
	}

	/* Record where the batch came from in a form that still means
	 * something when status is read from another directory. */
	if (!name && strcmp(file, "-") != 0)
		name = realpath(file, NULL);
	if (!dry && stat(file, &fst) == 0 &&
	    S_ISREG(fst.st_mode) && fst.st_size >= SUBMIT_BAR_BYTES) {
		cli_progress_begin(&sb.bar, "submit");
		rt_journal_set_submit_progress(j, on_submit_progress, &sb);
	}
	rc = rt_journal_submit(&res, j, file, name ? name : file,
	                       dry ? RT_SUBMIT_DRY_RUN : 0);
	rt_journal_set_submit_progress(j, NULL, NULL);
	/* Finished (once) before any message or summary. */
	if (rc == 0 && sb.total)
		sb.done = sb.total;
	cli_progress_end(&sb.bar, sb.done, sb.total);
	if (rc) {
		if (copy_path[0])
			file = "-";
		if (j)
			cli_warn("%s", rt_journal_errmsg(j));
		else if (res.error.line)
			cli_warn("%s:%u:%u: %s", strcmp(file, "-") ? file : "<stdin>",
			         res.error.line, res.error.column,
			         res.error.message);
		else
			cli_warn("%s: %s", strcmp(file, "-") ? file : "<stdin>",
			         res.error.message[0] ? res.error.message
			                              : rt_strerror(rc));
		status = cli_exit_code(rc);
		goto done;
	}

	if (json) {
		cli_json_begin_output(&w);
		cli_json_kv_string(&w, "batch_id", res.batch_id);
		cli_json_kv_uint(&w, "entries", res.nentries);
		cli_json_key(&w, "first_seq");
		if (res.first_seq)
			cli_json_uint(&w, res.first_seq);
		else
			cli_json_null(&w);
		cli_json_kv_bool(&w, "already_present", res.already_present);
		cli_json_kv_bool(&w, "dry_run", dry);
		cli_json_key(&w, "journal");
		cli_json_string(&w, j ? rt_journal_dir(j) : NULL);
		if (dry) {
			rt_batch_error perr;

			/* The file was valid a moment ago; a change since
			 * is an error here too. */
			cli_json_key(&w, "requests");
			cli_json_array_begin(&w);
			rc = rt_batch_parse_file(file, put_request, &w, &perr);
			cli_json_array_end(&w);
			if (rc != 0) {
				cli_warn("%s: changed while being read: %s",
				         copy_path[0] ? "<stdin>" : file,
				         perr.message);
				status = cli_exit_code(rc);
			}
		}
		cli_json_object_end(&w);
		if (cli_json_finish(&w) < 0) {
			cli_warn("writing the output:");
			status = EX_IOERR;
		}
	} else if (cli_quiet()) {
		/* -q: the exit status says it. */
	} else if (res.already_present) {
		printf("batch %s: already submitted (%s, seq %llu-%llu); "
		       "nothing added\n",
		       res.batch_id,
		       cli_plural(nbuf, res.nentries, "entry", "entries"),
		       (unsigned long long)res.first_seq,
		       (unsigned long long)(res.first_seq + res.nentries - 1));
	} else if (dry) {
		printf("batch %s: %s, valid (dry run, nothing written)\n",
		       res.batch_id,
		       cli_plural(nbuf, res.nentries, "entry", "entries"));
	} else if (res.nentries) {
		printf("batch %s: %s submitted (seq %llu-%llu)\n", res.batch_id,
		       cli_plural(nbuf, res.nentries, "entry", "entries"),
		       (unsigned long long)res.first_seq,
		       (unsigned long long)(res.first_seq + res.nentries - 1));
	} else {
		printf("batch %s: 0 entries submitted\n", res.batch_id);
	}
done:
	free(name);
	rt_journal_close(j);
	return status;
}

/* ---- status ------------------------------------------------------------------- */

static const char status_usage[] =
	"Usage: %s status [--journal DIR] [-f FORMAT] [--limit N]\n"
	"\n"
	"Shows the journal: entries by state, every batch with its counts, and\n"
	"the failed and needs-review entries with their errors.\n"
	"\n"
	JOURNAL_USAGE
	"                         (JSON: schemas/status.schema.json)\n"
	"      --limit N          list at most N failed entries (default 50;\n"
	"                         0: all)\n"
	"  -h, --help             this text\n"
	"\n"
	"Exit status: 0, 64 usage, 65 unusable journal, 66 no journal there.\n";

struct status_ctx {
	struct cli_json *w; /* NULL: text */
};

static int status_batch(void *arg, const rt_journal_batch *b)
{
	struct status_ctx *c = arg;
	char when[32], nbuf[64];
	int s, first = 1;

	cli_iso_time(when, b->submitted_ns);
	if (c->w) {
		cli_json_object_begin(c->w);
		cli_json_kv_string(c->w, "id", b->id);
		cli_json_kv_string(c->w, "file", b->file_name);
		cli_json_kv_string(c->w, "submitted_at", when);
		cli_json_kv_uint(c->w, "first_seq", b->first_seq);
		cli_json_kv_uint(c->w, "entries", b->nentries);
		json_counts(c->w, "counts", b->counts);
		cli_json_object_end(c->w);
		return 0;
	}
	printf("  %s\n    file %s\n    submitted %s, %s", b->id, b->file_name,
	       when, cli_plural(nbuf, b->nentries, "entry", "entries"));
	if (b->nentries)
		printf(" (seq %llu-%llu)", (unsigned long long)b->first_seq,
		       (unsigned long long)(b->first_seq + b->nentries - 1));
	printf(":");
	for (s = 0; s < RT_ENTRY_STATE_SLOTS; s++) {
		if (!b->counts[s] || !rt_entry_state_name(s))
			continue;
		printf("%s %llu %s", first ? "" : ",",
		       (unsigned long long)b->counts[s], rt_entry_state_name(s));
		first = 0;
	}
	printf("\n");
	return 0;
}

static void status_entry(struct status_ctx *c, const rt_journal_entry *e)
{
	char when[32];

	if (c->w) {
		cli_json_object_begin(c->w);
		cli_json_kv_uint(c->w, "seq", e->seq);
		cli_json_kv_string(c->w, "state", rt_entry_state_name(e->state));
		cli_json_kv_string(c->w, "batch_id", e->batch_id);
		cli_json_kv_uint(c->w, "request_index", e->request_index);
		cli_json_kv_string(c->w, "pool", e->pool);
		cli_json_kv_string(c->w, "namespace", e->ns);
		cli_json_kv_string(c->w, "tracker", e->tracker);
		cli_json_kv_string(c->w, "op", cli_op_name(e->op));
		cli_json_kv_uint(c->w, "attempts", e->attempts);
		cli_json_kv_string(c->w, "error", e->error);
		cli_json_kv_string(c->w, "updated_at",
		                   e->updated_ns ? cli_iso_time(when, e->updated_ns)
		                                 : NULL);
		cli_json_object_end(c->w);
		return;
	}
	{
		/* Names come from batch files: escaped, as `show` does. */
		char *pool = cli_escape(e->pool), *ns = cli_escape(e->ns),
		     *tracker = cli_escape(e->tracker);

		printf("  seq %llu %s: pool %s, namespace \"%s\", tracker %s, "
		       "%s, %u attempt%s\n    %s\n",
		       (unsigned long long)e->seq,
		       rt_entry_state_name(e->state), pool, ns, tracker,
		       cli_op_name(e->op), e->attempts, e->attempts == 1 ? "" : "s",
		       e->error ? e->error : "(no error text)");
		free(pool);
		free(ns);
		free(tracker);
	}
}

/* Lists failed then needs-review entries, at most `limit` (0: all). */
static int status_problems(struct status_ctx *c, rt_journal_txn *t,
                           rt_journal *j, const uint64_t counts[],
                           unsigned long limit)
{
	static const rt_entry_state states[] = { RT_ENTRY_FAILED,
	                                         RT_ENTRY_NEEDS_REVIEW };
	uint64_t total = counts[RT_ENTRY_FAILED] + counts[RT_ENTRY_NEEDS_REVIEW];
	uint64_t shown = 0, seq;
	size_t i;
	int rc = 0;

	if (c->w) {
		cli_json_key(c->w, "failed");
		cli_json_object_begin(c->w);
		cli_json_kv_uint(c->w, "total", total);
		cli_json_key(c->w, "entries");
		cli_json_array_begin(c->w);
	} else if (total) {
		printf("failed and needs-review entries:\n");
	}
	for (i = 0; i < sizeof(states) / sizeof(states[0]); i++) {
		rt_journal_iter *it = NULL;

		rc = rt_journal_iter_state(&it, t, states[i], 0);
		while (rc == 0 && (limit == 0 || shown < limit) &&
		       (rc = rt_journal_iter_next(it, &seq)) == 0) {
			rt_journal_entry *e = NULL;

			rc = rt_journal_entry_get(&e, t, seq);
			if (rc == 0)
				status_entry(c, e);
			rt_journal_entry_free(e);
			shown++;
		}
		rt_journal_iter_free(it);
		if (rc == RT_ENOTFOUND)
			rc = 0;
		if (rc) {
			cli_warn("%s", rt_journal_errmsg(j));
			return rc;
		}
	}
	if (c->w) {
		cli_json_array_end(c->w);
		cli_json_kv_bool(c->w, "truncated", shown < total);
		cli_json_object_end(c->w);
	} else if (shown < total) {
		printf("  ... and %llu more (--limit 0 lists all)\n",
		       (unsigned long long)(total - shown));
	}
	return 0;
}

const struct option reftrack_status_opts[] = {
	{ "limit", required_argument, NULL, OPT_LIMIT },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 }
};

int reftrack_cmd_status(int argc, char **argv)
{
	const char *dir = cli_common.journal;
	unsigned long limit = 50;
	int opt, json = cli_common.format != CLI_FORMAT_PLAIN, rc, s,
	         status = EX_OK;
	rt_journal *j = NULL;
	rt_journal_txn *t = NULL;
	rt_journal_stat st;
	uint64_t counts[RT_ENTRY_STATE_SLOTS], total = 0;
	struct cli_json w;
	struct status_ctx c = { NULL };
	char when[32];

	optind = 0;
	while ((opt = getopt_long(argc, argv, "h", reftrack_status_opts,
	                          NULL)) != -1) {
		switch (opt) {
		case OPT_LIMIT:
			limit = cli_parse_ulong("--limit", optarg, ULONG_MAX);
			break;
		case 'h':
			printf(status_usage, cli_progname());
			return EX_OK;
		default:
			return cli_bad_option(argc, argv, reftrack_status_opts);
		}
	}
	if (optind != argc)
		return cli_usage_error("unexpected argument '%s'", argv[optind]);
	if ((status = cli_journal_open(&j, dir, RT_JOURNAL_NOCREATE)))
		return status;

	/* One snapshot for everything, so the numbers add up. */
	if ((rc = rt_journal_txn_begin(&t, j, RT_TXN_RDONLY)) ||
	    (rc = rt_journal_stat_get(&st, t)) ||
	    (rc = rt_journal_counts(t, counts))) {
		cli_warn("%s", rt_journal_errmsg(j));
		status = cli_exit_code(rc);
		goto done;
	}
	for (s = 0; s < RT_ENTRY_STATE_SLOTS; s++)
		total += counts[s];

	if (json) {
		cli_json_begin_output(&w);
		c.w = &w;
		cli_json_key(&w, "journal");
		cli_json_object_begin(&w);
		cli_json_kv_string(&w, "dir", rt_journal_dir(j));
		cli_json_kv_string(&w, "id", rt_journal_id(j));
		cli_json_kv_uint(&w, "format", st.format);
		cli_json_kv_string(&w, "created_at", cli_iso_time(when, st.created_ns));
		cli_json_kv_uint(&w, "next_seq", st.next_seq);
		cli_json_kv_uint(&w, "map_size", st.map_size);
		cli_json_kv_uint(&w, "used_bytes", st.used_bytes);
		cli_json_object_end(&w);
		json_counts(&w, "counts", counts);
		cli_json_key(&w, "batches");
		cli_json_array_begin(&w);
	} else {
		printf("journal %s\n  id %s, format %u, created %s\n",
		       rt_journal_dir(j), rt_journal_id(j), st.format,
		       cli_iso_time(when, st.created_ns));
		printf("entries: %llu total\n", (unsigned long long)total);
		for (s = 0; s < RT_ENTRY_STATE_SLOTS; s++)
			if (rt_entry_state_name(s))
				printf("  %-13s %llu\n", rt_entry_state_name(s),
				       (unsigned long long)counts[s]);
		printf("batches: %llu\n", (unsigned long long)st.nbatches);
	}
	rc = rt_journal_batch_foreach(t, status_batch, &c);
	if (rc) {
		cli_warn("%s", rt_journal_errmsg(j));
		status = cli_exit_code(rc);
		goto done;
	}
	if (json)
		cli_json_array_end(&w);
	rc = status_problems(&c, t, j, counts, limit);
	if (rc) {
		status = cli_exit_code(rc);
		goto done;
	}
	if (json) {
		cli_json_object_end(&w);
		if (cli_json_finish(&w) < 0) {
			cli_warn("writing the output:");
			status = EX_IOERR;
		}
	} else if (fflush(stdout) != 0) {
		cli_warn("writing the output:");
		status = EX_IOERR;
	}
done:
	rt_journal_txn_abort(t);
	rt_journal_close(j);
	return status;
}

/* ---- show-entry ------------------------------------------------------------------ */

static const char show_entry_usage[] =
	"Usage: %s show-entry [--journal DIR] [-f FORMAT] SEQ\n"
	"\n"
	"Shows journal entry SEQ: its request, state, attempts, last error,\n"
	"outcome and times.\n"
	"\n"
	JOURNAL_USAGE
	"  -h, --help             this text\n"
	"\n"
	"Exit status: 0, 64 usage, 65 unusable journal, 66 no such entry or\n"
	"journal.\n";

static int show_entry_json(const rt_journal_entry *e)
{
	struct cli_json w;

	cli_json_init(&w, stdout, cli_common.format == CLI_FORMAT_JSON_PRETTY);
	cli_json_entry(&w, e);
	return cli_json_finish(&w);
}

/* Prints before, s escaped (cli_escape()), then after. */
static void print_escaped(const char *before, const char *s, const char *after)
{
	char *x = cli_escape(s);

	printf("%s%s%s", before, x, after);
	free(x);
}

static void show_entry_text(const rt_journal_entry *e)
{
	char when[32];
	size_t i;
	const char *result = rt_entry_result_name(e->outcome.result);

	printf("seq         %llu\n", (unsigned long long)e->seq);
	printf("batch       %s, request %llu", e->batch_id,
	       (unsigned long long)e->request_index);
	/* Names and keys come from batch files: escaped, as `show` does, so
	 * that none can add lines or drive the terminal. */
	if (e->request_id)
		print_escaped(" (id ", e->request_id, ")");
	print_escaped("\npool        ", e->pool, "");
	print_escaped("\nnamespace   \"", e->ns, "\"");
	print_escaped("\ntracker     ", e->tracker, "\n");
	printf("op          %s\nrefs       ", cli_op_name(e->op));
	for (i = 0; i < e->nrefs; i++)
		print_escaped(" ", e->refs[i].key,
		              e->refs[i].type == RT_REF_MASK ? " (mask)" : "");
	printf("\nstate       %s\nattempts    %u\n", rt_entry_state_name(e->state),
	       e->attempts);
	if (e->error)
		printf("error       %s\n", e->error);
	if (e->outcome.result != RT_RESULT_NONE)
		printf("outcome     %s (added %u, removed %u, masked %u)\n",
		       result ? result : "?", e->outcome.added,
		       e->outcome.removed, e->outcome.masked);
	if (e->has_guard)
		printf("guard       object version %llu\n",
		       (unsigned long long)e->guard_version);
	printf("submitted   %s\n", cli_iso_time(when, e->submitted_ns));
	if (e->updated_ns)
		printf("updated     %s\n", cli_iso_time(when, e->updated_ns));
	if (e->done_ns)
		printf("done        %s\n", cli_iso_time(when, e->done_ns));
}

const struct option reftrack_show_entry_opts[] = {
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 }
};

int reftrack_cmd_show_entry(int argc, char **argv)
{
	const char *dir = cli_common.journal;
	unsigned long seq;
	int opt, json = cli_common.format != CLI_FORMAT_PLAIN, rc = 0,
	         status = EX_OK;
	rt_journal *j = NULL;
	rt_journal_txn *t = NULL;
	rt_journal_entry *e = NULL;

	optind = 0;
	while ((opt = getopt_long(argc, argv, "h", reftrack_show_entry_opts,
	                          NULL)) != -1) {
		switch (opt) {
		case 'h':
			printf(show_entry_usage, cli_progname());
			return EX_OK;
		default:
			return cli_bad_option(argc, argv,
			                      reftrack_show_entry_opts);
		}
	}
	if (argc - optind != 1)
		return cli_usage_error("exactly one SEQ expected");
	seq = cli_parse_ulong("SEQ", argv[optind], ULONG_MAX);
	if ((status = cli_journal_open(&j, dir, RT_JOURNAL_NOCREATE)))
		return status;
	if ((rc = rt_journal_txn_begin(&t, j, RT_TXN_RDONLY)) ||
	    (rc = rt_journal_entry_get(&e, t, seq))) {
		cli_warn("%s", rt_journal_errmsg(j));
		status = cli_exit_code(rc);
		goto done;
	}
	if (json)
		rc = show_entry_json(e);
	else
		show_entry_text(e);
	if (rc < 0 || fflush(stdout) != 0 || ferror(stdout)) {
		cli_warn("writing the output:");
		status = EX_IOERR;
	}
done:
	rt_journal_entry_free(e);
	rt_journal_txn_abort(t);
	rt_journal_close(j);
	return status;
}
