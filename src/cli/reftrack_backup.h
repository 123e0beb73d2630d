/*
 * reftrack_backup.h - dated, rotated journal backups for `run --backup`.
 */
#ifndef REFTRACK_BACKUP_H
#define REFTRACK_BACKUP_H

#include <stddef.h>

#include <reftrack/journal.h>

#define REFTRACK_BACKUP_KEEP 7

struct reftrack_backup_result {
	char path[4200];  /* the copy made: DIR/YYYYmmddTHHMMSSZ */
	unsigned kept;    /* copies in DIR afterwards, this one included */
	unsigned removed; /* old copies removed */
};

/* Copies `j` into DIR/<UTC time> (DIR made with mode 0700 if absent),
 * through a temporary name, then removes the oldest copies so that at most
 * `keep` (>= 1) remain.  Must not be called inside a transaction of `j`.
 * 0, or an RT_E* code with the reason in `err`. */
int reftrack_backup_rotate(rt_journal *j, const char *dir, unsigned keep,
                           struct reftrack_backup_result *out, char *err,
                           size_t errlen);

#endif
