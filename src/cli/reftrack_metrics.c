/*
 * reftrack_metrics.c - writing the metrics file of `reftrack run` (see
 * reftrack_metrics.h for how it is written).
 *
 * Every series carries journal="DIR", so that runs of several journals on
 * one host can write files side by side without clashing in the collector.
 * What is read from the journal is read in one snapshot, so the numbers
 * agree with each other.
 *
 * Counters (_total) are true counters: each is derived from the journal,
 * which keeps them across runs, crashes and pruning (rt_journal_totals), so
 * none goes down unless the journal is replaced.  Everything about the
 * last run is a gauge, as it describes one run.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "reftrack_metrics.h"

enum batch_state { B_COMPLETE, B_INCOMPLETE, B_ATTENTION, B_PRUNED, B_N };

static const char *const batch_state_names[B_N] = {
	"complete", "incomplete", "attention", "pruned"
};

struct out {
	FILE *f;
	char label[PATH_MAX * 2 + 16]; /* journal="..." */
};

/* A label value in the exposition format: \, " and newline escaped. */
static void escape_label(char *dst, size_t len, const char *s)
{
	size_t n = 0;

	for (; *s && n + 3 < len; s++) {
		if (*s == '\\' || *s == '"') {
			dst[n++] = '\\';
			dst[n++] = *s;
		} else if (*s == '\n') {
			dst[n++] = '\\';
			dst[n++] = 'n';
		} else {
			dst[n++] = *s;
		}
	}
	dst[n] = '\0';
}

static void head(struct out *o, const char *name, const char *type,
                 const char *help)
{
	fprintf(o->f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void val_u(struct out *o, const char *name, const char *extra,
                  uint64_t v)
{
	fprintf(o->f, "%s{%s%s%s} %llu\n", name, o->label, extra ? "," : "",
	        extra ? extra : "", (unsigned long long)v);
}

static void val_d(struct out *o, const char *name, double v)
{
	fprintf(o->f, "%s{%s} %.3f\n", name, o->label, v);
}

static void gauge_u(struct out *o, const char *name, const char *help,
                    uint64_t v)
{
	head(o, name, "gauge", help);
	val_u(o, name, NULL, v);
}

static void counter_u(struct out *o, const char *name, const char *help,
                      uint64_t v)
{
	head(o, name, "counter", help);
	val_u(o, name, NULL, v);
}

static int count_batch(void *arg, const rt_journal_batch *b)
{
	uint64_t *n = arg, left = 0;
	int s;

	for (s = 0; s < RT_ENTRY_STATE_SLOTS; s++)
		left += b->counts[s];
	if (b->counts[RT_ENTRY_FAILED] || b->counts[RT_ENTRY_BLOCKED] ||
	    b->counts[RT_ENTRY_NEEDS_REVIEW])
		n[B_ATTENTION]++;
	else if (b->counts[RT_ENTRY_PENDING] || b->counts[RT_ENTRY_IN_FLIGHT])
		n[B_INCOMPLETE]++;
	else if (left == 0 && b->nentries > 0)
		n[B_PRUNED]++;
	else
		n[B_COMPLETE]++;
	return 0;
}

/* The journal's part: all of it, or nothing if the journal cannot be
 * read. */
static void journal_metrics(struct out *o, rt_journal *j)
{
	rt_journal_txn *t = NULL;
	rt_journal_totals tot;
	uint64_t counts[RT_ENTRY_STATE_SLOTS], batches[B_N] = { 0 }, pruned = 0;
	char extra[64], path[PATH_MAX + 16];
	struct stat st;
	int s, rc;

	if ((rc = rt_journal_txn_begin(&t, j, RT_TXN_RDONLY)) ||
	    (rc = rt_journal_counts(t, counts)) ||
	    (rc = rt_journal_totals_get(&tot, t)) ||
	    (rc = rt_journal_batch_foreach(t, count_batch, batches))) {
		rt_journal_txn_abort(t);
		return;
	}
	rt_journal_txn_abort(t);

	head(o, "reftrack_entries", "gauge",
	     "Journal entries by state (pending, in-flight, done, failed, "
	     "skipped, blocked, needs-review).");
	for (s = RT_ENTRY_STATE_FIRST; s <= RT_ENTRY_STATE_LAST; s++) {
		snprintf(extra, sizeof(extra), "state=\"%s\"",
		         rt_entry_state_name(s));
		val_u(o, "reftrack_entries", extra, counts[s]);
	}
	head(o, "reftrack_batches", "gauge",
	     "Journal batches by state: attention (failed, blocked or "
	     "needs-review entries), incomplete (entries pending or in "
	     "flight), complete (all done or skipped), pruned (entries all "
	     "pruned; kept to recognise resubmissions).");
	for (s = 0; s < B_N; s++) {
		snprintf(extra, sizeof(extra), "state=\"%s\"",
		         batch_state_names[s]);
		val_u(o, "reftrack_batches", extra, batches[s]);
	}
	for (s = 0; s < RT_ENTRY_STATE_SLOTS; s++)
		pruned += tot.pruned[s];
	counter_u(o, "reftrack_entries_submitted_total",
	          "Entries ever submitted to the journal.",
	          tot.entries_submitted);
	counter_u(o, "reftrack_entries_applied_total",
	          "Entries ever applied (done), pruned ones included.",
	          counts[RT_ENTRY_DONE] + tot.pruned[RT_ENTRY_DONE]);
	counter_u(o, "reftrack_entries_skipped_total",
	          "Entries ever skipped by an operator, pruned ones included.",
	          counts[RT_ENTRY_SKIPPED] + tot.pruned[RT_ENTRY_SKIPPED]);
	counter_u(o, "reftrack_entries_pruned_total",
	          "Entries ever pruned from the journal.", pruned);
	counter_u(o, "reftrack_batches_submitted_total",
	          "Batches ever submitted (resubmitted duplicates not counted).",
	          tot.batches_submitted);
	snprintf(path, sizeof(path), "%s/data.mdb", rt_journal_dir(j));
	if (stat(path, &st) == 0)
		gauge_u(o, "reftrack_journal_size_bytes",
		        "Size of the journal's data file (data.mdb).",
		        (uint64_t)st.st_size);
}

static void run_metrics(struct out *o, const struct reftrack_run_report *r)
{
	const struct reftrack_spool_result *sp = &r->spool;
	long waiting, rejected;

	head(o, "reftrack_last_run_start_timestamp_seconds", "gauge",
	     "When the last run started, unix time.");
	val_d(o, "reftrack_last_run_start_timestamp_seconds",
	      (double)r->start_ns / 1e9);
	head(o, "reftrack_last_run_end_timestamp_seconds", "gauge",
	     "When the last run ended, unix time.");
	val_d(o, "reftrack_last_run_end_timestamp_seconds",
	      (double)r->end_ns / 1e9);
	head(o, "reftrack_last_run_duration_seconds", "gauge",
	     "How long the last run took.");
	val_d(o, "reftrack_last_run_duration_seconds", r->duration);
	gauge_u(o, "reftrack_last_run_finished",
	        "1 if the last run left no entry pending, else 0.",
	        r->replay.finished ? 1 : 0);
	gauge_u(o, "reftrack_last_run_exit_status",
	        "Exit status of the last run: 0 all done, 1 entries or files "
	        "need an operator, 75 work left for a later run, 77/78 "
	        "permission or Ceph configuration; see reftrack(1).",
	        (uint64_t)r->exit_status);
	gauge_u(o, "reftrack_last_run_entries_submitted",
	        "Entries added to the journal from the spool by the last run.",
	        sp->entries);
	gauge_u(o, "reftrack_last_run_entries_applied",
	        "Entries applied (done) by the last run.", r->replay.applied);
	gauge_u(o, "reftrack_last_run_entries_failed",
	        "Entries that failed in the last run.", r->replay.failed);
	gauge_u(o, "reftrack_last_run_entries_pending",
	        "Entries left pending by the last run.", r->replay.pending);
	gauge_u(o, "reftrack_last_run_retries",
	        "Re-reads after conflicts and transient errors in the last run.",
	        r->replay.retries);
	gauge_u(o, "reftrack_last_run_entries_pruned",
	        "Entries pruned by the last run.", r->pruned);
	head(o, "reftrack_last_run_files", "gauge",
	     "Spool files the last run handled, by result: accepted (a new "
	     "batch), duplicate (already in the journal), rejected (invalid), "
	     "held (left in place, see the log), deferred (time budget spent).");
	val_u(o, "reftrack_last_run_files", "result=\"accepted\"",
	      sp->accepted - sp->duplicate);
	val_u(o, "reftrack_last_run_files", "result=\"duplicate\"",
	      sp->duplicate);
	val_u(o, "reftrack_last_run_files", "result=\"rejected\"", sp->rejected);
	val_u(o, "reftrack_last_run_files", "result=\"held\"", sp->held);
	val_u(o, "reftrack_last_run_files", "result=\"deferred\"",
	      sp->deferred);
	if (!r->spool_dir)
		return;
	waiting = reftrack_spool_count_waiting(r->spool_dir);
	rejected = reftrack_spool_count_rejected(r->spool_dir);
	if (waiting < 0 && rejected < 0)
		return;
	head(o, "reftrack_spool_files", "gauge",
	     "Batch files in the spool after the last run: waiting (not "
	     "taken yet) and rejected (in rejected/, for an operator to "
	     "look at and remove).");
	if (waiting >= 0)
		val_u(o, "reftrack_spool_files", "state=\"waiting\"",
		      (uint64_t)waiting);
	if (rejected >= 0)
		val_u(o, "reftrack_spool_files", "state=\"rejected\"",
		      (uint64_t)rejected);
}

int reftrack_metrics_write(const char *path, const char *journal_dir,
                           rt_journal *j,
                           const struct reftrack_run_report *report,
                           char *err, size_t errlen)
{
	struct out o;
	char *tmp = NULL, *dir = NULL, *slash;
	char esc[PATH_MAX * 2];
	int fd = -1, dfd, rc = -1;

	memset(&o, 0, sizeof(o));
	if (asprintf(&tmp, "%s.XXXXXX", path) < 0) {
		tmp = NULL;
		snprintf(err, errlen, "out of memory");
		goto done;
	}
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0) {
		snprintf(err, errlen, "%s: %s", tmp, strerror(errno));
		free(tmp);
		tmp = NULL;
		goto done;
	}
	/* mkstemp's 0600 would hide the file from the collector's user. */
	if (fchmod(fd, 0644) != 0 || !(o.f = fdopen(fd, "w"))) {
		snprintf(err, errlen, "%s: %s", tmp, strerror(errno));
		goto done;
	}
	fd = -1; /* the stream owns it now */
	escape_label(esc, sizeof(esc), journal_dir ? journal_dir : "");
	snprintf(o.label, sizeof(o.label), "journal=\"%s\"", esc);
	/* A journal that cannot be read (its failure is logged by the run)
	 * still leaves the run's own metrics worth writing. */
	if (j)
		journal_metrics(&o, j);
	run_metrics(&o, report);
	if (fflush(o.f) != 0 || ferror(o.f) || fsync(fileno(o.f)) != 0) {
		snprintf(err, errlen, "%s: %s", tmp, strerror(errno));
		goto done;
	}
	if (fclose(o.f) != 0) {
		o.f = NULL;
		snprintf(err, errlen, "%s: %s", tmp, strerror(errno));
		goto done;
	}
	o.f = NULL;
	if (rename(tmp, path) != 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		goto done;
	}
	free(tmp);
	tmp = NULL;
	/* The rename itself survives a power loss only with its directory. */
	dir = strdup(path);
	if (dir) {
		slash = strrchr(dir, '/');
		if (slash == dir)
			slash[1] = '\0';
		else if (slash)
			*slash = '\0';
		dfd = open(slash ? dir : ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (dfd >= 0) {
			fsync(dfd);
			close(dfd);
		}
	}
	rc = 0;
done:
	if (o.f)
		fclose(o.f);
	if (fd >= 0)
		close(fd);
	if (tmp) {
		unlink(tmp);
		free(tmp);
	}
	free(dir);
	return rc;
}
