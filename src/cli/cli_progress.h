/*
 * cli_progress.h - the progress bar on a terminal: one line on stderr,
 * redrawn in place at most five times a second, finished exactly once.
 *
 * The bar is drawn only when stderr is a terminal, the log is text and
 * neither --no-progress nor -q/--quiet was given.  Whatever way a run
 * ends, cli_progress_end() leaves the cursor at the start of an empty
 * line, so a summary or an error never lands after the bar's text; a
 * signal that terminates the process (SIGINT, SIGTERM with the default
 * disposition) erases the bar first.
 */
#ifndef REFTRACK_CLI_PROGRESS_H
#define REFTRACK_CLI_PROGRESS_H

#include <stdint.h>

/* --no-progress: no bar.  -q/--quiet: no bar and no closing summary line
 * in text output (warnings, errors and asked-for JSON still appear). */
enum { CLI_OPT_NO_PROGRESS = 0x1c0 };
#define CLI_PROGRESS_LONGOPTS                                                   \
	{ "no-progress", no_argument, NULL, CLI_OPT_NO_PROGRESS },             \
	{ "quiet", no_argument, NULL, 'q' }
#define CLI_PROGRESS_SHORTOPTS "q"
#define CLI_PROGRESS_USAGE                                                      \
	"      --no-progress      no progress bar on a terminal\n"              \
	"  -q, --quiet            no progress bar and no summary line\n"

/* Applies one getopt_long result if it is one of CLI_PROGRESS_LONGOPTS:
 * 1 if it was, 0 if not. */
int cli_progress_option(int opt);
/* -q/--quiet was given. */
int cli_quiet(void);
/* Whether a bar may be drawn now: stderr a terminal, text log, no
 * --no-progress or -q. */
int cli_progress_wanted(void);

struct cli_progress {
	const char *label;     /* "replay", "dry run", "submit"; static */
	int on;                /* drawing: a terminal and wanted */
	int shown;             /* the bar's text is on the line now */
	double start, last_draw;
	uint64_t last_done, last_total;
};

/* Starts a bar (drawing nothing yet).  `label` is static. */
void cli_progress_begin(struct cli_progress *p, const char *label);
/* Redraws with `done` of `total` units, unless drawn less than 0.2 s ago. */
void cli_progress_update(struct cli_progress *p, uint64_t done,
                         uint64_t total);
/* The run is over: if a bar was shown, draws its final state (unless that
 * is what is on screen already) and ends the line; also restores the
 * signal dispositions.  Safe to call more than once. */
void cli_progress_end(struct cli_progress *p, uint64_t done, uint64_t total);

#endif
