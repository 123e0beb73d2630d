/*
 * fuzz_batch.c - libFuzzer target for the batch parser
 * (rt_batch_parse_buffer) and the request validation every parsed request
 * then goes through (rt__request_init).
 *
 * The input is a batch file.  Whatever it holds, the parser must not crash,
 * leak or read out of bounds, and:
 *   - every request it hands on is one the library accepts: a pool, a
 *     tracker name and keys within their limits, types that fit the
 *     operation, no key both normal and mask, an id of sane length, a
 *     1-based position, indexes counting up from 0;
 *   - a rejected batch comes with a message (and a position unless the
 *     file as a whole is at fault);
 *   - a callback that stops the parse stops it, and its value comes back.
 */
#include <stdint.h>
#include <string.h>

#include <reftrack/batch.h>

#include "error.h"
#include "fuzz_input.h"
#include "request.h"

struct seen {
	size_t next_index;
	size_t stop_at;  /* index at which the callback stops the parse */
	int stopped;
};

#define STOP_RC 4242

static int on_request(void *arg, size_t index, const rt_request *req)
{
	struct seen *s = arg;
	struct rt__request norm;
	char msg[RT__ERRMSG_MAX];
	size_t i, plen;

	FZ_ASSERT(index == s->next_index);
	s->next_index++;
	FZ_ASSERT(req->pool && req->ns && req->tracker);
	plen = strlen(req->pool);
	FZ_ASSERT(plen > 0);
	FZ_ASSERT(req->op == RT_OP_ADD || req->op == RT_OP_REMOVE);
	FZ_ASSERT(req->line >= 1 && req->column >= 1);
	FZ_ASSERT(req->nrefs >= 1 && req->nrefs <= 2 * RT_BATCH_KEYS_MAX);
	if (req->request_id) {
		size_t idlen = strlen(req->request_id);

		FZ_ASSERT(idlen >= 1 && idlen <= RT_BATCH_REQUEST_ID_MAX);
	}
	for (i = 0; i < req->nrefs; i++) {
		FZ_ASSERT(req->refs[i].key != NULL);
		FZ_ASSERT(req->refs[i].type == RT_REF_NORMAL ||
		          req->refs[i].type == RT_REF_MASK);
		if (req->op == RT_OP_ADD)
			FZ_ASSERT(req->refs[i].type == RT_REF_NORMAL);
	}
	/* What the parser let through, request validation accepts. */
	msg[0] = '\0';
	if (rt__request_init(&norm, req->op, req->tracker, req->refs,
	                     req->nrefs, msg, sizeof(msg)) != 0) {
		fprintf(stderr, "parsed request %zu refused: %s\n", index, msg);
		FZ_ASSERT(!"a parsed request passes validation");
	}
	FZ_ASSERT(norm.nkeys >= 1 && norm.nkeys <= req->nrefs);
	rt__request_free(&norm);
	if (index == s->stop_at) {
		s->stopped = 1;
		return STOP_RC;
	}
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct seen s = { 0, SIZE_MAX, 0 };
	rt_batch_error err;
	int rc;

	memset(&err, 0xa5, sizeof(err));
	/* A few sizes also exercise a callback that stops the parse; the
	 * input itself stays a plain batch file. */
	if (size % 7 == 3)
		s.stop_at = (size / 7) % 3;
	rc = rt_batch_parse_buffer(data, size, on_request, &s, &err);
	if (s.stopped) {
		FZ_ASSERT(rc == STOP_RC);
		return 0;
	}
	if (rc == 0)
		return 0;
	FZ_ASSERT(rc == RT_EINVAL || rc == RT_ENOMEM);
	FZ_ASSERT(memchr(err.message, '\0', sizeof(err.message)) != NULL);
	FZ_ASSERT(err.message[0] != '\0');
	/* Only whole-file faults (too large, unreadable) lack a position. */
	FZ_ASSERT((err.line == 0) == (err.column == 0));

	/* Validation alone (no callback) reaches the same verdict. */
	FZ_ASSERT(rt_batch_parse_buffer(data, size, NULL, NULL, NULL) == rc);
	return 0;
}
