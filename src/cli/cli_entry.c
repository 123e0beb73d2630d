/*
 * cli_entry.c - journal entries as JSON (see cli_entry.h).
 */
#include <time.h>

#include "cli_entry.h"

const char *cli_iso_time(char buf[32], int64_t ns)
{
	time_t secs = (time_t)(ns / 1000000000);
	struct tm tm;

	buf[0] = '\0';
	if (ns <= 0 || !gmtime_r(&secs, &tm))
		return buf;
	strftime(buf, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
	return buf;
}

const char *cli_op_name(rt_op op)
{
	return op == RT_OP_ADD ? "add" : op == RT_OP_REMOVE ? "remove" : "?";
}

static void kv_time(struct cli_json *w, const char *key, int64_t ns)
{
	char when[32];

	cli_json_kv_string(w, key, ns ? cli_iso_time(when, ns) : NULL);
}

void cli_json_refs(struct cli_json *w, const rt_ref *refs, size_t n)
{
	size_t i;

	cli_json_array_begin(w);
	for (i = 0; i < n; i++) {
		cli_json_object_begin(w);
		cli_json_kv_string(w, "key", refs[i].key);
		cli_json_kv_string(w, "type", refs[i].type == RT_REF_MASK
		                                  ? "mask"
		                                  : "normal");
		cli_json_object_end(w);
	}
	cli_json_array_end(w);
}

void cli_json_outcome(struct cli_json *w, const rt_entry_outcome *o)
{
	if (o->result == RT_RESULT_NONE) {
		cli_json_null(w);
		return;
	}
	cli_json_object_begin(w);
	cli_json_kv_string(w, "result", rt_entry_result_name(o->result));
	cli_json_kv_uint(w, "added", o->added);
	cli_json_kv_uint(w, "removed", o->removed);
	cli_json_kv_uint(w, "masked", o->masked);
	cli_json_object_end(w);
}

void cli_json_entry(struct cli_json *w, const rt_journal_entry *e)
{
	cli_json_object_begin(w);
	cli_json_kv_uint(w, "schema_version", CLI_SCHEMA_VERSION);
	cli_json_kv_uint(w, "seq", e->seq);
	cli_json_kv_string(w, "batch_id", e->batch_id);
	cli_json_kv_uint(w, "request_index", e->request_index);
	cli_json_kv_string(w, "request_id", e->request_id);
	cli_json_kv_string(w, "pool", e->pool);
	cli_json_kv_string(w, "namespace", e->ns);
	cli_json_kv_string(w, "tracker", e->tracker);
	cli_json_kv_string(w, "op", cli_op_name(e->op));
	cli_json_key(w, "refs");
	cli_json_refs(w, e->refs, e->nrefs);
	cli_json_kv_string(w, "state", rt_entry_state_name(e->state));
	cli_json_kv_uint(w, "attempts", e->attempts);
	cli_json_kv_string(w, "error", e->error);
	cli_json_key(w, "outcome");
	cli_json_outcome(w, &e->outcome);
	cli_json_key(w, "guard_version");
	if (e->has_guard)
		cli_json_uint(w, e->guard_version);
	else
		cli_json_null(w);
	kv_time(w, "submitted_at", e->submitted_ns);
	kv_time(w, "updated_at", e->updated_ns);
	kv_time(w, "done_at", e->done_ns);
	cli_json_object_end(w);
}
