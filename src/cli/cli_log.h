/*
 * cli_log.h - events of the long-running subcommands (run, and replay's
 * attention report), for people or for log shippers.
 *
 * Text (the default): an event is its message.  Warnings and errors go to
 * stderr as "reftrack: message" (what cron mails when stdout is sent to
 * /dev/null); CLI_LOG_INFO messages go to stdout; CLI_LOG_DETAIL events
 * are not printed at all, so a quiet run prints one summary line.
 *
 * JSON (--log-format json): every event, detail included, is one JSON
 * object on one line of stdout, flushed at once:
 *	{"time":"2024-05-01T12:00:00.123Z","level":"info","pid":123,
 *	 "event":"spool.accepted", ...event fields..., "message":"..."}
 * time is UTC with milliseconds; level is "info", "warning" or "error"
 * (detail events are "info"); event names are stable and documented where
 * they are emitted (reftrack_run.c); message is the text line.  Nothing
 * else is printed on stdout in this mode.
 *
 *	struct cli_log_event ev;
 *	cli_log_begin(&ev, CLI_LOG_WARN, "spool.rejected");
 *	cli_log_str(&ev, "file", name);
 *	cli_log_end(&ev, "%s: rejected: %s", name, why);
 */
#ifndef REFTRACK_CLI_LOG_H
#define REFTRACK_CLI_LOG_H

#include <stdint.h>

#include "cli_json.h"

enum cli_log_format { CLI_LOG_TEXT, CLI_LOG_JSON };

enum cli_log_level {
	CLI_LOG_DETAIL, /* JSON only ("info" there) */
	CLI_LOG_INFO,   /* text: stdout */
	CLI_LOG_WARN,   /* text: stderr */
	CLI_LOG_ERROR   /* text: stderr */
};

/* "text" or "json": 0, or -1 for anything else. */
int cli_log_set_format_name(const char *name);
void cli_log_set_format(enum cli_log_format format);
enum cli_log_format cli_log_get_format(void);

struct cli_log_event {
	enum cli_log_level level;
	int json;
	struct cli_json w;
};

void cli_log_begin(struct cli_log_event *ev, enum cli_log_level level,
                   const char *event);
/* Fields; dropped in text mode.  A NULL string is written as null. */
void cli_log_str(struct cli_log_event *ev, const char *key, const char *v);
void cli_log_uint(struct cli_log_event *ev, const char *key, uint64_t v);
void cli_log_int(struct cli_log_event *ev, const char *key, int64_t v);
void cli_log_bool(struct cli_log_event *ev, const char *key, int v);
void cli_log_double(struct cli_log_event *ev, const char *key, double v,
                    int decimals);
/* Writes the event with its message. */
void cli_log_end(struct cli_log_event *ev, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#endif
