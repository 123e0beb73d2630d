/*
 * cli_entry.h - a journal entry as JSON, one shape for every tool output
 * that shows entries (show-entry --json, export), so an audit script reads
 * both the same way.
 */
#ifndef REFTRACK_CLI_ENTRY_H
#define REFTRACK_CLI_ENTRY_H

#include <stdint.h>

#include <reftrack/journal.h>

#include "cli_json.h"

/* "2024-05-01T12:00:00Z" into buf; "" for 0 (never).  Returns buf. */
const char *cli_iso_time(char buf[32], int64_t ns);

/* "add", "remove", or "?". */
const char *cli_op_name(rt_op op);

/* refs as a JSON array of {key, type ("normal" or "mask")}. */
void cli_json_refs(struct cli_json *w, const rt_ref *refs, size_t n);
/* An outcome as {result, added, removed, masked}, or null for
 * RT_RESULT_NONE. */
void cli_json_outcome(struct cli_json *w, const rt_entry_outcome *o);

/* Writes `e` as one JSON object with every field: schema_version, seq, batch_id,
 * request_index, request_id, pool, namespace, tracker, op, refs [{key,
 * type}], state, attempts, error, outcome {result, added, removed, masked}
 * or null, guard_version or null, submitted_at, updated_at, done_at (ISO
 * 8601 UTC, null when never). */
void cli_json_entry(struct cli_json *w, const rt_journal_entry *e);

#endif
