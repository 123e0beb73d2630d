/*
 * reftrack_metrics.h - the metrics file of `reftrack run`: the Prometheus
 * text format that node_exporter's textfile collector reads, written
 * atomically.
 */
#ifndef REFTRACK_METRICS_H
#define REFTRACK_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include <reftrack/journal.h>
#include <reftrack/replay.h>

#include "reftrack_spool.h"

/* What one run did, as the metrics report it. */
struct reftrack_run_report {
	int64_t start_ns, end_ns;          /* unix time */
	double duration;                   /* seconds, monotonic */
	struct reftrack_spool_result spool;
	rt_replay_stats replay;
	uint64_t pruned;                   /* entries pruned */
	int exit_status;
	const char *spool_dir;             /* NULL: no spool counts */
};

/* Writes the metrics of `report` and of the journal `j` (NULL when it
 * could not be opened: then only the run's own metrics), every series
 * labelled journal="`journal_dir`", to `path`: into a
 * temporary file in the same directory (which the collector ignores, as
 * its name does not end in .prom), flushed to disk, renamed over `path`,
 * mode 0644 so that the collector's user can read it.  A reader sees the
 * old file or the new one, never part of one.  0, or -1 with `err` saying
 * why (nothing is left behind). */
int reftrack_metrics_write(const char *path, const char *journal_dir,
                           rt_journal *j,
                           const struct reftrack_run_report *report,
                           char *err, size_t errlen);

#endif
