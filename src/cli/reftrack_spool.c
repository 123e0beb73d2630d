/*
 * reftrack_spool.c - taking the batch files of a spool directory into the
 * journal, for `reftrack run`.
 *
 * Writers drop a batch by writing it under a name the spool ignores and
 * renaming it to NAME.yaml in the same directory; a rename is atomic, so a
 * file named *.yaml here is complete.  Ignored: names not ending in
 * ".yaml" (NAME.tmp, NAME.yaml~, NAME.yaml.part), names starting with '.',
 * and anything that is not a regular file (reported, left alone).  Files
 * are taken in byte order of their names, so a writer that needs batches
 * applied in a given order names them with a sortable prefix (a UTC
 * timestamp, say).
 *
 * Each file is submitted (one journal commit), then renamed into
 * accepted/, or, if the parser refuses it, into rejected/ with the
 * parser's message in NAME.yaml.error beside it.  Crash safety rests on
 * submit being idempotent by content: killed between the commit and the
 * rename, the file is still in the spool, the next run submits the same
 * bytes, the journal already holds their batch id and adds nothing, and
 * the file moves on as a duplicate.  A rejection writes its note (temp
 * file + rename) before it moves the file; killed between the two, the next
 * run rejects the file again and writes the same note over the first.  The
 * directories are fsynced at the end; a power loss before that replays the
 * same two stories.  All of it runs under the journal lock, so no other run
 * moves files meanwhile.  Names in accepted/ and rejected/ are never
 * overwritten: when NAME.yaml is taken there (a writer reuses names), the
 * file becomes NAME.2.yaml, NAME.3.yaml, and so on.
 *
 * Failpoint for the crash tests (test build only): spool-after-submit,
 * a file submitted and not yet moved.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* The one private header of the library a tool includes: the failpoints
 * are shared by both, and compile to nothing in what ships. */
#include "../lib/failpoint.h"
#include "cli.h"
#include "cli_log.h"
#include "cli_replay.h"
#include "reftrack_spool.h"

#define SUFFIX_MAX 100000
#define ACCEPTED "accepted"
#define REJECTED "rejected"

static int is_batch_name(const char *name)
{
	size_t n = strlen(name);

	return name[0] != '.' && n > 5 && strcmp(name + n - 5, ".yaml") == 0;
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The batch file names in `dfd`, sorted; *n of them.  NULL with *n 0 when
 * there are none; NULL with errno set on failure. */
static char **list_batches(int dfd, size_t *n)
{
	DIR *d;
	struct dirent *de;
	char **names = NULL, **grown;
	size_t cap = 0;
	int fd = dup(dfd);

	*n = 0;
	errno = 0;
	if (fd < 0)
		return NULL;
	d = fdopendir(fd);
	if (!d) {
		close(fd);
		return NULL;
	}
	while ((errno = 0, de = readdir(d)) != NULL) {
		if (!is_batch_name(de->d_name))
			continue;
		if (*n == cap) {
			cap = cap ? cap * 2 : 64;
			grown = realloc(names, cap * sizeof(*names));
			if (!grown)
				goto fail;
			names = grown;
		}
		names[*n] = strdup(de->d_name);
		if (!names[*n])
			goto fail;
		(*n)++;
	}
	if (errno)
		goto fail;
	closedir(d);
	if (*n)
		qsort(names, *n, sizeof(*names), cmp_names);
	errno = 0;
	return names;
fail:
	{
		int e = errno ? errno : ENOMEM;

		while (*n)
			free(names[--*n]);
		free(names);
		closedir(d);
		errno = e;
		return NULL;
	}
}

static void free_names(char **names, size_t n)
{
	while (n)
		free(names[--n]);
	free(names);
}

/* Candidate k for NAME.yaml: NAME.yaml itself, then NAME.k.yaml. */
static void candidate(char *out, size_t outlen, const char *name, unsigned k)
{
	size_t stem = strlen(name) - 5;

	if (k < 2)
		snprintf(out, outlen, "%s", name);
	else
		snprintf(out, outlen, "%.*s.%u.yaml", (int)stem, name, k);
}

static int exists_at(int dfd, const char *name)
{
	struct stat st;

	return fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 ||
	       errno != ENOENT;
}

/* Renames without ever replacing what is at `to`: 0, or -1 with errno
 * (EEXIST when `to` is taken). */
static int move_noreplace(int from_dfd, const char *from, int to_dfd,
                          const char *to)
{
	if (renameat2(from_dfd, from, to_dfd, to, RENAME_NOREPLACE) == 0)
		return 0;
	if (errno != EINVAL && errno != ENOSYS && errno != EOPNOTSUPP)
		return -1;
	/* File systems without RENAME_NOREPLACE: link refuses a taken name
	 * too.  Killed between the two calls, the file is in both places;
	 * the next run finds it again as a duplicate and moves it on. */
	if (linkat(from_dfd, from, to_dfd, to, 0) != 0)
		return -1;
	return unlinkat(from_dfd, from, 0);
}

static int write_note(int dfd, const char *name, const char *text)
{
	char tmp[PATH_MAX + 16];
	size_t len = strlen(text), off = 0;
	int fd, e;

	snprintf(tmp, sizeof(tmp), ".%s.tmp", name);
	fd = openat(dfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
	if (fd < 0)
		return -1;
	while (off < len) {
		ssize_t w = write(fd, text + off, len - off);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			goto fail;
		off += (size_t)w;
	}
	if (fsync(fd) != 0)
		goto fail;
	if (close(fd) != 0) {
		fd = -1;
		goto fail;
	}
	fd = -1;
	if (renameat(dfd, tmp, dfd, name) != 0)
		goto fail;
	return 0;
fail:
	e = errno;
	if (fd >= 0)
		close(fd);
	unlinkat(dfd, tmp, 0);
	errno = e;
	return -1;
}

/* Moves spool file `name` into `to_dfd` under the first free candidate
 * name, written to `moved` (PATH_MAX).  `note` (may be NULL) is written
 * first as MOVED.error.  0, or -1 with errno. */
static int move_out(int dfd, const char *name, int to_dfd, char *moved,
                    const char *note)
{
	char note_name[PATH_MAX + 8];
	unsigned k;

	for (k = 1; k <= SUFFIX_MAX; k++) {
		candidate(moved, PATH_MAX, name, k);
		/* Only the batch file's name counts: a note left alone by a
		 * crash before its file moved is ours to write again. */
		if (exists_at(to_dfd, moved))
			continue;
		if (note) {
			snprintf(note_name, sizeof(note_name), "%s.error", moved);
			if (write_note(to_dfd, note_name, note) != 0)
				return -1;
		}
		if (move_noreplace(dfd, name, to_dfd, moved) == 0)
			return 0;
		if (errno != EEXIST)
			return -1;
	}
	errno = EEXIST;
	return -1;
}

static int open_subdir(int dfd, const char *name)
{
	if (mkdirat(dfd, name, 0777) != 0 && errno != EEXIST)
		return -1;
	return openat(dfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
}

static int same_file(const struct stat *a, const struct stat *b)
{
	return a->st_ino == b->st_ino && a->st_dev == b->st_dev &&
	       a->st_size == b->st_size &&
	       a->st_mtim.tv_sec == b->st_mtim.tv_sec &&
	       a->st_mtim.tv_nsec == b->st_mtim.tv_nsec;
}

static void hold(struct reftrack_spool_result *out, const char *name,
                 const char *reason)
{
	struct cli_log_event ev;

	out->held++;
	cli_log_begin(&ev, CLI_LOG_WARN, "spool.held");
	cli_log_str(&ev, "file", name);
	cli_log_str(&ev, "reason", reason);
	cli_log_end(&ev, "spool: %s left in place: %s", name, reason);
}

/* The parser's message, as written to NAME.error and logged. */
static void rejection_text(char *buf, size_t len, const char *name,
                           const rt_submit_result *res)
{
	if (res->error.line)
		snprintf(buf, len, "%s:%u:%u: %s", name, res->error.line,
		         res->error.column, res->error.message);
	else
		snprintf(buf, len, "%s: %s", name,
		         res->error.message[0] ? res->error.message
		                               : "invalid batch file");
}

struct spool {
	rt_journal *j;
	const char *dir;
	char *absdir;
	int dfd, acc_dfd, rej_dfd;
	int moved_acc, moved_rej;
	struct reftrack_spool_result *out;
};

/* One file.  0 to go on, or the exit status of a journal failure. */
static int take_file(struct spool *s, const char *name)
{
	struct reftrack_spool_result *out = s->out;
	struct cli_log_event ev;
	rt_submit_result res;
	struct stat before, after;
	char path[PATH_MAX], record[PATH_MAX * 2], moved[PATH_MAX];
	char why[sizeof(res.error.message) + PATH_MAX + 64];
	char note[sizeof(why) + 1];
	unsigned k;
	int rc;

	if (fstatat(s->dfd, name, &before, AT_SYMLINK_NOFOLLOW) != 0) {
		if (errno == ENOENT) /* taken back by its writer */
			return 0;
		snprintf(why, sizeof(why), "%s", strerror(errno));
		hold(out, name, why);
		return 0;
	}
	if (!S_ISREG(before.st_mode)) {
		/* A symlink's target could change under us: the journal
		 * must hold the bytes that were dropped. */
		hold(out, name, "not a regular file");
		return 0;
	}
	snprintf(path, sizeof(path), "%s/%s", s->dir, name);
	/* Recorded as where an auditor will find the file: its place in
	 * accepted/ (the free name now, under the lock). */
	for (k = 1; k <= SUFFIX_MAX; k++) {
		candidate(moved, sizeof(moved), name, k);
		if (!exists_at(s->acc_dfd, moved))
			break;
	}
	snprintf(record, sizeof(record), "%s/" ACCEPTED "/%s", s->absdir,
	         moved);
	rc = rt_journal_submit(&res, s->j, path, record, 0);
	switch (rc) {
	case 0:
		break;
	case RT_ENOTFOUND:
		return 0;
	case RT_EPERM:
		hold(out, name, "cannot read it (permission denied)");
		return 0;
	case RT_EINVAL:
		/* A file rewritten in place is a writer not following the
		 * rename protocol; it gets another chance next run rather
		 * than a rejection for bytes that were never meant. */
		if (fstatat(s->dfd, name, &after, AT_SYMLINK_NOFOLLOW) != 0 ||
		    !same_file(&before, &after) ||
		    strstr(res.error.message, "changed while")) {
			hold(out, name, "changed while being read; tried again "
			                "next run (drop files by rename)");
			return 0;
		}
		rejection_text(why, sizeof(why), name, &res);
		snprintf(note, sizeof(note), "%s\n", why);
		if (move_out(s->dfd, name, s->rej_dfd, moved, note) != 0) {
			snprintf(why, sizeof(why), "invalid, and cannot be moved "
			                           "to " REJECTED "/: %s",
			         strerror(errno));
			hold(out, name, why);
			return 0;
		}
		s->moved_rej = 1;
		out->rejected++;
		cli_log_begin(&ev, CLI_LOG_WARN, "spool.rejected");
		cli_log_str(&ev, "file", name);
		cli_log_str(&ev, "moved_to", moved);
		cli_log_uint(&ev, "line", res.error.line);
		cli_log_uint(&ev, "column", res.error.column);
		cli_log_str(&ev, "error", res.error.message);
		cli_log_end(&ev, "spool: rejected %s (now " REJECTED "/%s, "
		                 "reason in %s.error)",
		            why, moved, moved);
		return 0;
	default:
		cli_log_begin(&ev, CLI_LOG_ERROR, "journal.error");
		cli_log_str(&ev, "file", name);
		cli_log_end(&ev, "spool: %s: %s", name, rt_journal_errmsg(s->j));
		out->journal_failed = 1;
		return cli_exit_code(rc);
	}

	RT_FAILPOINT("spool-after-submit");
	if (move_out(s->dfd, name, s->acc_dfd, moved, NULL) != 0) {
		/* Journalled already: next run finds it as a duplicate. */
		snprintf(why, sizeof(why), "submitted, but cannot be moved to "
		                           ACCEPTED "/: %s",
		         strerror(errno));
		hold(out, name, why);
		return 0;
	}
	s->moved_acc = 1;
	out->accepted++;
	if (res.already_present)
		out->duplicate++;
	else
		out->entries += res.nentries;
	cli_log_begin(&ev, CLI_LOG_DETAIL,
	              res.already_present ? "spool.duplicate" : "spool.accepted");
	cli_log_str(&ev, "file", name);
	cli_log_str(&ev, "moved_to", moved);
	cli_log_str(&ev, "batch_id", res.batch_id);
	cli_log_uint(&ev, "entries", res.nentries);
	cli_log_uint(&ev, "first_seq", res.first_seq);
	if (res.already_present)
		cli_log_end(&ev, "spool: %s is batch %s, already in the journal; "
		                 "nothing added (now " ACCEPTED "/%s)",
		            name, res.batch_id, moved);
	else
		cli_log_end(&ev, "spool: %s accepted as batch %s, %llu entries "
		                 "(now " ACCEPTED "/%s)",
		            name, res.batch_id, (unsigned long long)res.nentries,
		            moved);
	return 0;
}

static void sync_dir(int dfd)
{
	/* Best effort: a lost rename only repeats a duplicate. */
	if (dfd >= 0)
		fsync(dfd);
}

int reftrack_spool_submit_all(struct reftrack_spool_result *out,
                              rt_journal *j, const char *dir,
                              double deadline)
{
	struct spool s;
	struct cli_log_event ev;
	char **names = NULL;
	size_t n = 0, i;
	int status = 0;

	memset(out, 0, sizeof(*out));
	memset(&s, 0, sizeof(s));
	s.j = j;
	s.dir = dir;
	s.out = out;
	s.acc_dfd = s.rej_dfd = -1;
	s.dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (s.dfd < 0) {
		status = errno == ENOENT || errno == ENOTDIR ? EX_NOINPUT
		         : errno == EACCES                   ? EX_NOPERM
		                                             : EX_IOERR;
		cli_log_begin(&ev, CLI_LOG_ERROR, "spool.error");
		cli_log_str(&ev, "spool", dir);
		cli_log_end(&ev, "spool %s: %s", dir, strerror(errno));
		goto done;
	}
	s.absdir = realpath(dir, NULL);
	s.acc_dfd = open_subdir(s.dfd, ACCEPTED);
	if (s.acc_dfd >= 0)
		s.rej_dfd = open_subdir(s.dfd, REJECTED);
	if (!s.absdir || s.acc_dfd < 0 || s.rej_dfd < 0) {
		status = errno == EACCES ? EX_NOPERM : EX_CANTCREAT;
		cli_log_begin(&ev, CLI_LOG_ERROR, "spool.error");
		cli_log_str(&ev, "spool", dir);
		cli_log_end(&ev, "spool %s: cannot set up " ACCEPTED "/ and "
		                 REJECTED "/: %s",
		            dir, strerror(errno));
		goto done;
	}
	names = list_batches(s.dfd, &n);
	if (!names && errno) {
		status = EX_IOERR;
		cli_log_begin(&ev, CLI_LOG_ERROR, "spool.error");
		cli_log_str(&ev, "spool", dir);
		cli_log_end(&ev, "spool %s: reading it: %s", dir, strerror(errno));
		goto done;
	}
	for (i = 0; i < n; i++) {
		int stopped = cli_replay_stopped();

		if (stopped || (deadline > 0 && cli_mono_now() >= deadline)) {
			out->deferred = (unsigned)(n - i);
			cli_log_begin(&ev, CLI_LOG_DETAIL, "spool.deferred");
			cli_log_uint(&ev, "files", out->deferred);
			cli_log_end(&ev, "spool: %s; %u files left for the next "
			                 "run",
			            stopped ? "interrupted" : "time budget spent",
			            out->deferred);
			break;
		}
		status = take_file(&s, names[i]);
		if (status)
			break;
	}
	if (s.moved_acc)
		sync_dir(s.acc_dfd);
	if (s.moved_rej)
		sync_dir(s.rej_dfd);
	if (s.moved_acc || s.moved_rej)
		sync_dir(s.dfd);
done:
	free_names(names, n);
	free(s.absdir);
	if (s.rej_dfd >= 0)
		close(s.rej_dfd);
	if (s.acc_dfd >= 0)
		close(s.acc_dfd);
	if (s.dfd >= 0)
		close(s.dfd);
	return status;
}

/* ---- counting, for the metrics ---------------------------------------------- */

static long count_batches(const char *dir)
{
	int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	char **names;
	size_t n = 0;

	if (dfd < 0)
		return -1;
	names = list_batches(dfd, &n);
	close(dfd);
	if (!names && errno)
		return -1;
	free_names(names, n);
	return (long)n;
}

long reftrack_spool_count_waiting(const char *dir)
{
	return count_batches(dir);
}

long reftrack_spool_count_rejected(const char *dir)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/" REJECTED, dir);
	return count_batches(path);
}
