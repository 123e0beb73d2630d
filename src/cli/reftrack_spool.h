/*
 * reftrack_spool.h - the spool directory of `reftrack run`: taking the
 * batch files writers drop there into the journal, and moving each out of
 * the way (accepted/ or rejected/).
 */
#ifndef REFTRACK_SPOOL_H
#define REFTRACK_SPOOL_H

#include <stdint.h>

#include <reftrack/journal.h>

struct reftrack_spool_result {
	unsigned accepted;   /* moved to accepted/, duplicates included */
	unsigned duplicate;  /* of those, already in the journal */
	unsigned rejected;   /* invalid: moved to rejected/ with a .error */
	unsigned held;       /* left in place: unreadable, not a regular file,
	                      * changed while read, or could not be moved */
	unsigned deferred;   /* left for the next run: time budget spent */
	uint64_t entries;    /* entries added to the journal */
	int journal_failed;  /* stopped by a journal failure */
};

/* Submits every complete batch file in `dir`, in name order, and moves it
 * (see reftrack_spool.c).  `deadline` is a CLOCK_MONOTONIC time in
 * seconds after which no further file is started; 0: none.  Every file
 * handled is logged (cli_log.h).  Returns 0, or the exit status of a
 * failure that stopped it (no spool directory: 66; the journal failed:
 * its status), after logging why; `out` counts what was done either way. */
int reftrack_spool_submit_all(struct reftrack_spool_result *out,
                              rt_journal *j, const char *dir,
                              double deadline);

/* Files that wait in the spool (complete batch files) and in
 * DIR/rejected (batch files, not their .error notes); -1 if the directory
 * cannot be read. */
long reftrack_spool_count_waiting(const char *dir);
long reftrack_spool_count_rejected(const char *dir);

#endif
