/*
 * bench_time.c - runs a command and reports its wall time, CPU time and
 * peak memory.
 *
 *   bench_time OUTFILE COMMAND [ARG...]
 *
 * Writes one line to OUTFILE:
 *   time seconds=S maxrss_kib=K anon_kib=A file_kib=F user=U sys=Y status=N
 *
 * maxrss is the largest resident set of the command and of every
 * descendant it waited for (what wait4() reports), so a shell loop shows
 * its biggest child.  It counts file-backed pages too, and a journal is an
 * LMDB memory map: every journal page a replay touches is resident and
 * counted, although it is page cache the kernel can drop at will.  So the
 * command's own process is also sampled every 10 ms for the peak of its
 * RssAnon (heap, stacks: what it really holds) and RssFile (mapped files,
 * the journal among them) from /proc/PID/status; a peak shorter than the
 * sampling period can be missed, maxrss cannot.
 *
 * user and sys are CPU seconds of the command and the descendants it waited
 * for: on a machine where the OSD shares the cores, the client's CPU per
 * entry is what it takes away from the cluster.
 *
 * The command's output passes through untouched; the exit status is the
 * command's (128 + signal if it was killed).  Own wrapper rather than
 * /usr/bin/time: that is a separate Debian package, its output format
 * varies between versions, and it cannot split anonymous from file pages.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"

/* Raises *anon and *file to the child's current RssAnon and RssFile. */
static void sample_rss(pid_t pid, long *anon, long *file)
{
	char path[64], line[256];
	FILE *f;
	long v;

	snprintf(path, sizeof(path), "/proc/%ld/status", (long)pid);
	f = fopen(path, "r");
	if (!f)
		return; /* exiting: wait4 is about to report it */
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "RssAnon: %ld", &v) == 1 && v > *anon)
			*anon = v;
		else if (sscanf(line, "RssFile: %ld", &v) == 1 && v > *file)
			*file = v;
	}
	fclose(f);
}

static double tv_sec(struct timeval tv)
{
	return (double)tv.tv_sec + (double)tv.tv_usec / 1e6;
}

int main(int argc, char **argv)
{
	const struct timespec period = { 0, 10 * 1000 * 1000 };
	struct rusage ru;
	double t0, t1;
	long anon = 0, file = 0;
	pid_t pid, got;
	int status, code;
	FILE *out;

	bench_prog = "bench_time";
	if (argc < 3) {
		fprintf(stderr, "usage: %s OUTFILE COMMAND [ARG...]\n", bench_prog);
		return 64;
	}
	out = fopen(argv[1], "w");
	if (!out)
		bench_die("%s:", argv[1]);

	t0 = bench_now();
	pid = fork();
	if (pid < 0)
		bench_die("fork:");
	if (pid == 0) {
		fclose(out);
		execvp(argv[2], argv + 2);
		fprintf(stderr, "%s: %s: %s\n", bench_prog, argv[2],
		        strerror(errno));
		_exit(127);
	}
	for (;;) {
		got = wait4(pid, &status, WNOHANG, &ru);
		if (got == pid)
			break;
		if (got < 0 && errno != EINTR)
			bench_die("wait4:");
		sample_rss(pid, &anon, &file);
		nanosleep(&period, NULL);
	}
	/* The exit is noticed up to one period late. */
	t1 = bench_now();

	code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
	fprintf(out, "time seconds=%.6f maxrss_kib=%ld anon_kib=%ld "
	        "file_kib=%ld user=%.3f sys=%.3f status=%d\n", t1 - t0,
	        ru.ru_maxrss, anon, file, tv_sec(ru.ru_utime),
	        tv_sec(ru.ru_stime), code);
	if (fclose(out) != 0)
		bench_die("%s:", argv[1]);
	return code;
}
