/*
 * cli_log.c - text or JSON-lines events (see cli_log.h).
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "cli_log.h"

static enum cli_log_format log_format = CLI_LOG_TEXT;

int cli_log_set_format_name(const char *name)
{
	if (strcmp(name, "text") == 0)
		log_format = CLI_LOG_TEXT;
	else if (strcmp(name, "json") == 0)
		log_format = CLI_LOG_JSON;
	else
		return -1;
	return 0;
}

void cli_log_set_format(enum cli_log_format format)
{
	log_format = format;
}

enum cli_log_format cli_log_get_format(void)
{
	return log_format;
}

static const char *level_name(enum cli_log_level level)
{
	switch (level) {
	case CLI_LOG_WARN:
		return "warning";
	case CLI_LOG_ERROR:
		return "error";
	default:
		return "info";
	}
}

void cli_log_begin(struct cli_log_event *ev, enum cli_log_level level,
                   const char *event)
{
	struct timespec ts;
	struct tm tm;
	char when[32], stamp[64];
	time_t secs;

	memset(ev, 0, sizeof(*ev));
	ev->level = level;
	ev->json = log_format == CLI_LOG_JSON;
	if (!ev->json)
		return;
	clock_gettime(CLOCK_REALTIME, &ts);
	secs = ts.tv_sec;
	gmtime_r(&secs, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(stamp, sizeof(stamp), "%s.%03dZ", when,
	         (int)(ts.tv_nsec / 1000000) % 1000);
	cli_json_init(&ev->w, stdout,
	              cli_common.format == CLI_FORMAT_JSON_PRETTY);
	cli_json_object_begin(&ev->w);
	cli_json_kv_uint(&ev->w, "schema_version", CLI_SCHEMA_VERSION);
	cli_json_kv_string(&ev->w, "time", stamp);
	cli_json_kv_string(&ev->w, "level", level_name(level));
	cli_json_kv_int(&ev->w, "pid", (int64_t)getpid());
	cli_json_kv_string(&ev->w, "event", event);
}

void cli_log_str(struct cli_log_event *ev, const char *key, const char *v)
{
	if (ev->json)
		cli_json_kv_string(&ev->w, key, v);
}

void cli_log_uint(struct cli_log_event *ev, const char *key, uint64_t v)
{
	if (ev->json)
		cli_json_kv_uint(&ev->w, key, v);
}

void cli_log_int(struct cli_log_event *ev, const char *key, int64_t v)
{
	if (ev->json)
		cli_json_kv_int(&ev->w, key, v);
}

void cli_log_bool(struct cli_log_event *ev, const char *key, int v)
{
	if (ev->json)
		cli_json_kv_bool(&ev->w, key, v);
}

void cli_log_double(struct cli_log_event *ev, const char *key, double v,
                    int decimals)
{
	if (ev->json)
		cli_json_kv_double(&ev->w, key, v, decimals);
}

void cli_log_end(struct cli_log_event *ev, const char *fmt, ...)
{
	char msg[2048];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (ev->json) {
		cli_json_kv_string(&ev->w, "message", msg);
		cli_json_object_end(&ev->w);
		cli_json_finish(&ev->w);
		return;
	}
	switch (ev->level) {
	case CLI_LOG_DETAIL:
		break;
	case CLI_LOG_INFO:
		printf("%s\n", msg);
		fflush(stdout);
		break;
	default:
		/* Through the one stderr path of the tools; "%s" keeps a ':'
		 * at the end of msg from being read as "append errno". */
		cli_warn("%s", msg);
		break;
	}
}
