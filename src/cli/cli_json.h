/*
 * cli_json.h - a streaming JSON writer for the tools' --json output.
 *
 * Values are written as they come, so output of any size needs no memory.
 * The writer places commas, colons and (when pretty) newlines and indents;
 * strings are escaped and always come out as valid UTF-8 (bytes that are
 * not UTF-8 become U+FFFD).  Misuse (a value where a key is due, nesting
 * past CLI_JSON_MAX_DEPTH, closing what is not open) is recorded and
 * reported by cli_json_finish(), never written as broken JSON silently.
 *
 *	struct cli_json w;
 *	cli_json_init(&w, stdout, 1);
 *	cli_json_object_begin(&w);
 *	cli_json_kv_string(&w, "id", id);
 *	cli_json_key(&w, "counts");
 *	cli_json_array_begin(&w);
 *	cli_json_uint(&w, 3);
 *	cli_json_array_end(&w);
 *	cli_json_object_end(&w);
 *	if (cli_json_finish(&w) < 0) ...
 */
#ifndef REFTRACK_CLI_JSON_H
#define REFTRACK_CLI_JSON_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define CLI_JSON_MAX_DEPTH 32

struct cli_json {
	FILE *out;
	int pretty;
	int depth;
	int error;                           /* misuse seen */
	int key_pending;                     /* a key was written, value due */
	unsigned char is_object[CLI_JSON_MAX_DEPTH];
	unsigned char has_items[CLI_JSON_MAX_DEPTH];
};

/* pretty: newlines and two-space indents; else one line. */
void cli_json_init(struct cli_json *w, FILE *out, int pretty);

/* The version of the tools' JSON outputs: every top-level object carries
 * it as "schema_version", and the schemas in schemas/ name it in their $id
 * (https://reftrack.invalid/schemas/1/NAME.schema.json).  It goes up when
 * a key is renamed or removed or changes type; new keys do not raise it. */
#define CLI_SCHEMA_VERSION 1

/* The start of a command's JSON output on stdout, in the format the
 * command line asked for (json: one line; json-pretty: indented): inits
 * `w`, opens the top-level object and writes "schema_version". */
void cli_json_begin_output(struct cli_json *w);

/* Documents cli_json_finish() has ended on stdout so far. */
extern unsigned cli_json_stdout_documents;

void cli_json_object_begin(struct cli_json *w);
void cli_json_object_end(struct cli_json *w);
void cli_json_array_begin(struct cli_json *w);
void cli_json_array_end(struct cli_json *w);

/* The name of the next member of the current object. */
void cli_json_key(struct cli_json *w, const char *key);

/* s NULL writes null. */
void cli_json_string(struct cli_json *w, const char *s);
void cli_json_string_len(struct cli_json *w, const char *s, size_t len);
void cli_json_int(struct cli_json *w, int64_t v);
void cli_json_uint(struct cli_json *w, uint64_t v);
void cli_json_bool(struct cli_json *w, int v);
void cli_json_null(struct cli_json *w);
/* A number with `decimals` digits after the point (seconds, rates); NaN
 * and infinities, which JSON cannot hold, come out as null. */
void cli_json_double(struct cli_json *w, double v, int decimals);

/* key + value in one call. */
void cli_json_kv_string(struct cli_json *w, const char *key, const char *s);
void cli_json_kv_int(struct cli_json *w, const char *key, int64_t v);
void cli_json_kv_uint(struct cli_json *w, const char *key, uint64_t v);
void cli_json_kv_bool(struct cli_json *w, const char *key, int v);
void cli_json_kv_double(struct cli_json *w, const char *key, double v,
                        int decimals);

/* Ends the document with a newline and flushes.  Returns 0, or -1 if the
 * writer was misused, the document is incomplete, or the stream failed. */
int cli_json_finish(struct cli_json *w);

#endif
