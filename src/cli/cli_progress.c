/*
 * cli_progress.c - the progress bar (see cli_progress.h).
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "cli_log.h"
#include "cli_progress.h"

#define BAR_WIDTH 30
#define REDRAW_SEC 0.2
/* Back to column 0 and erase to the end of the line. */
#define ERASE_LINE "\r\033[K"

static int disabled, quiet;

/* Set while a bar's text is on the terminal, read by the signal handler. */
static volatile sig_atomic_t bar_on_screen;
static int handlers_set;
static struct sigaction old_int, old_term;

int cli_progress_option(int opt)
{
	switch (opt) {
	case 'q':
		quiet = 1;
		disabled = 1;
		return 1;
	case CLI_OPT_NO_PROGRESS:
		disabled = 1;
		return 1;
	default:
		return 0;
	}
}

int cli_quiet(void)
{
	return quiet;
}

int cli_progress_wanted(void)
{
	return !disabled && isatty(STDERR_FILENO) &&
	       cli_log_get_format() == CLI_LOG_TEXT;
}

/* A terminating signal: erase the bar, then let the signal do what it did
 * before we came (a graceful-stop handler runs and the run ends through
 * cli_progress_end(); the default terminates). */
static void on_signal(int sig)
{
	const struct sigaction *old = sig == SIGINT ? &old_int : &old_term;

	if (old->sa_handler == SIG_IGN)
		return;
	/* Whatever follows (a graceful-stop handler's message, or the end
	 * of the process) starts on a clean line; a bar still wanted is
	 * drawn again by the next update. */
	if (bar_on_screen) {
		ssize_t n = write(STDERR_FILENO, ERASE_LINE,
		                  sizeof(ERASE_LINE) - 1);

		(void)n;
		bar_on_screen = 0;
	}
	if (old->sa_handler != SIG_DFL && !(old->sa_flags & SA_SIGINFO)) {
		old->sa_handler(sig);
		return;
	}
	signal(sig, SIG_DFL);
	raise(sig);
}

static void set_handlers(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGINT, &sa, &old_int) == 0 &&
	    sigaction(SIGTERM, &sa, &old_term) == 0)
		handlers_set = 1;
}

static void restore_handlers(void)
{
	if (!handlers_set)
		return;
	sigaction(SIGINT, &old_int, NULL);
	sigaction(SIGTERM, &old_term, NULL);
	handlers_set = 0;
}

void cli_progress_hide(void)
{
	if (bar_on_screen && isatty(STDOUT_FILENO)) {
		fputs(ERASE_LINE, stderr);
		fflush(stderr);
		bar_on_screen = 0;
	}
}

void cli_progress_begin(struct cli_progress *p, const char *label)
{
	memset(p, 0, sizeof(*p));
	p->label = label;
	p->on = cli_progress_wanted();
	p->start = cli_mono_now();
	if (p->on)
		set_handlers();
}

static void draw(struct cli_progress *p, uint64_t done, uint64_t total,
                 double t)
{
	double elapsed = t - p->start, rate;
	unsigned filled;
	char bar[BAR_WIDTH + 1];

	rate = elapsed > 0 ? (double)done / elapsed : 0;
	filled = total ? (unsigned)(BAR_WIDTH * (done > total ? total : done) /
	                            total)
	               : BAR_WIDTH;
	memset(bar, '#', filled);
	memset(bar + filled, '.', BAR_WIDTH - filled);
	bar[BAR_WIDTH] = '\0';
	/* Before the text, so that a signal never misses a bar on screen. */
	bar_on_screen = 1;
	fprintf(stderr, ERASE_LINE "%s [%s] %llu/%llu  %.0f/s", p->label, bar,
	        (unsigned long long)done, (unsigned long long)total, rate);
	if (done < total && rate > 0)
		fprintf(stderr, "  ETA %.0fs", (double)(total - done) / rate);
	fflush(stderr);
	p->shown = 1;
	p->last_draw = t;
	p->last_done = done;
	p->last_total = total;
}

void cli_progress_update(struct cli_progress *p, uint64_t done,
                         uint64_t total)
{
	double t;

	if (!p->on)
		return;
	t = cli_mono_now();
	/* A bar a signal erased is drawn again at once. */
	if (bar_on_screen && t - p->last_draw < REDRAW_SEC)
		return;
	if (bar_on_screen && done == p->last_done && total == p->last_total)
		return;
	draw(p, done, total, t);
}

void cli_progress_end(struct cli_progress *p, uint64_t done, uint64_t total)
{
	if (!p->on)
		return;
	if (p->shown) {
		if (!bar_on_screen || done != p->last_done ||
		    total != p->last_total)
			draw(p, done, total, cli_mono_now());
		bar_on_screen = 0;
		fputc('\n', stderr);
		fflush(stderr);
	}
	p->on = 0;
	p->shown = 0;
	restore_handlers();
}
