/*
 * cli_fault.c - a read of a damaged data.mdb that faults becomes exit 65
 * with a message, not a core dump (see cli.h, cli_fault_guard()).
 *
 * LMDB maps data.mdb and follows page numbers it finds in it.  A page past
 * the end of a file shortened under us raises SIGBUS; open() refuses a
 * file already short (journal.c), and record checksums catch damaged
 * records, but a damaged B-tree page can still send LMDB to a page past
 * the end.  The handler looks the faulting address up in /proc/self/maps
 * (open, read and close are async-signal-safe): inside a mapping of a file
 * named data.mdb, it is the journal's damage; anything else is a real bug
 * and gets the default action, a core dump.
 */
#include <fcntl.h>
#include <stdint.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

static uintptr_t hexdigit(int c)
{
	return (uintptr_t)(c <= '9' ? c - '0' : (c | 32) - 'a' + 10);
}

/* Is `addr` in a mapping whose path ends in "/data.mdb"?  Reads
 * /proc/self/maps line by line with a fixed buffer. */
static int in_data_mdb(uintptr_t addr)
{
	static const char suffix[] = "/data.mdb";
	char buf[4096];
	size_t len = 0;
	int fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC), found = 0;

	if (fd < 0)
		return 0;
	for (;;) {
		ssize_t n = read(fd, buf + len, sizeof(buf) - 1 - len);
		char *line = buf, *nl;

		if (n <= 0)
			break;
		len += (size_t)n;
		buf[len] = '\0';
		while ((nl = memchr(line, '\n', len - (size_t)(line - buf)))) {
			uintptr_t lo = 0, hi = 0;
			const char *p = line;
			size_t ll = (size_t)(nl - line);

			while (*p && *p != '-') {
				int c = *p++;

				lo = lo * 16 + hexdigit(c);
			}
			if (*p == '-')
				p++;
			while (*p && *p != ' ') {
				int c = *p++;

				hi = hi * 16 + hexdigit(c);
			}
			if (addr >= lo && addr < hi && ll >= sizeof(suffix) - 1 &&
			    memcmp(nl - (sizeof(suffix) - 1), suffix,
			           sizeof(suffix) - 1) == 0)
				found = 1;
			line = nl + 1;
		}
		/* Keep the unfinished line for the next read. */
		len -= (size_t)(line - buf);
		memmove(buf, line, len);
		if (found || len >= sizeof(buf) - 1)
			break;
	}
	close(fd);
	return found;
}

static void on_fault(int sig, siginfo_t *si, void *ctx)
{
	static const char msg[] =
		": a read of the journal's data.mdb faulted: the file is "
		"damaged (truncated, or a damaged B-tree page); run `reftrack "
		"check` and restore it from a backup\n";
	const char *prog = cli_progname();

	(void)ctx;
	if (in_data_mdb((uintptr_t)si->si_addr)) {
		if (write(STDERR_FILENO, prog, strlen(prog)) < 0 ||
		    write(STDERR_FILENO, msg, sizeof(msg) - 1) < 0)
			_exit(EX_DATAERR);
		_exit(EX_DATAERR);
	}
	signal(sig, SIG_DFL);
	raise(sig);
}

void cli_fault_guard(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_fault;
	sa.sa_flags = SA_SIGINFO | SA_RESETHAND;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGBUS, &sa, NULL);
#ifndef __SANITIZE_ADDRESS__
	/* (AddressSanitizer reports wild reads itself: leave SIGSEGV to it.) */
	sigaction(SIGSEGV, &sa, NULL);
#endif
}
