/*
 * journal_lock.c - the journal's exclusive replay lock.
 *
 * flock() on DIR/replay.lock: the kernel drops it when its holder dies, so
 * a crashed run never leaves a stale lock behind.  The holder writes its pid
 * into the file only so that a refused caller can name it; the pid is never
 * trusted for anything else.
 *
 * The calls that change entries (rt_replay_run, rt_replay_retry,
 * rt_replay_skip) do not trust their caller to hold it: each asks
 * rt__journal_lock_need(), which is satisfied by a lock the same handle
 * took (so a tool can hold it across several calls, waiting for it as it
 * likes) and otherwise takes it, without waiting, for the call.  A flock
 * belongs to its open file, so another handle, even in the same process,
 * is refused.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

#include <reftrack/replay.h>

#include "journal_int.h"

struct rt_journal_lock {
	int fd;
	rt_journal *j; /* the handle it was taken through; NULL once closed */
};

static long holder_pid(int fd)
{
	char buf[32];
	ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);

	if (n <= 0)
		return 0;
	buf[n] = '\0';
	return strtol(buf, NULL, 10);
}

static void nap_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

int rt_journal_lock_take(rt_journal_lock **out, rt_journal *j, int wait_ms)
{
	rt_journal_lock *lock = NULL;
	char path[4096], pid[32];
	int fd = -1, rc = 0, waited = 0, len;

	*out = NULL;
	snprintf(path, sizeof(path), "%s/replay.lock", rt_journal_dir(j));
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0) {
		rc = rt__jerr(j, RT_EIO, "%s: %s", path, strerror(errno));
		goto done;
	}
	while (flock(fd, LOCK_EX | LOCK_NB) != 0) {
		if (errno != EWOULDBLOCK) {
			rc = rt__jerr(j, RT_EIO, "%s: flock: %s", path,
			                      strerror(errno));
			goto done;
		}
		if (wait_ms >= 0 && waited >= wait_ms) {
			/* Worded as operators grep for it, without the
			 * usual "journal DIR:" prefix. */
			snprintf(j->errmsg, sizeof(j->errmsg),
			         "journal %s is being replayed by pid %ld",
			         rt_journal_dir(j), holder_pid(fd));
			rc = RT_ELOCKED;
			goto done;
		}
		nap_ms(50);
		waited += 50;
	}
	len = snprintf(pid, sizeof(pid), "%ld\n", (long)getpid());
	if (ftruncate(fd, 0) != 0 || pwrite(fd, pid, (size_t)len, 0) != len) {
		rc = rt__jerr(j, RT_EIO, "%s: %s", path, strerror(errno));
		goto done;
	}
	lock = malloc(sizeof(*lock));
	if (!lock) {
		rc = rt__jerr(j, RT_ENOMEM, "out of memory");
		goto done;
	}
	lock->fd = fd;
	fd = -1;
	/* A second lock taken through the same handle is refused above (its
	 * flock meets the first), so j->lock is free here. */
	lock->j = j;
	j->lock = lock;
	*out = lock;
done:
	if (fd >= 0)
		close(fd);
	return rc;
}

void rt_journal_lock_release(rt_journal_lock *lock)
{
	if (!lock)
		return;
	if (lock->j)
		lock->j->lock = NULL;
	/* Closing the descriptor drops the flock. */
	close(lock->fd);
	free(lock);
}

int rt__journal_lock_need(rt_journal *j, rt_journal_lock **taken)
{
	*taken = NULL;
	if (j->lock)
		return 0;
	return rt_journal_lock_take(taken, j, 0);
}

void rt__journal_lock_detach(rt_journal *j)
{
	if (j->lock)
		j->lock->j = NULL;
	j->lock = NULL;
}
