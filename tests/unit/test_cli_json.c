/*
 * test_cli_json.c - the CLI's JSON writer: structure, escaping, UTF-8
 * repair and misuse detection.  The writer is CLI code, not library code,
 * so it is compiled in here directly.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"

#include "../../src/cli/cli_json.c"

static char *buf;
static size_t buflen;

static FILE *open_mem(void)
{
	free(buf);
	buf = NULL;
	buflen = 0;
	return open_memstream(&buf, &buflen);
}

static void test_cli_json__compact_document(void)
{
	struct cli_json w;
	FILE *f = open_mem();

	cli_json_init(&w, f, 0);
	cli_json_object_begin(&w);
	cli_json_kv_string(&w, "s", "x");
	cli_json_kv_int(&w, "i", -5);
	cli_json_kv_uint(&w, "u", UINT64_MAX);
	cli_json_kv_bool(&w, "t", 1);
	cli_json_key(&w, "n");
	cli_json_null(&w);
	cli_json_key(&w, "a");
	cli_json_array_begin(&w);
	cli_json_uint(&w, 1);
	cli_json_string(&w, NULL);
	cli_json_array_begin(&w);
	cli_json_array_end(&w);
	cli_json_object_begin(&w);
	cli_json_object_end(&w);
	cli_json_array_end(&w);
	cli_json_object_end(&w);
	CHECK_INT(cli_json_finish(&w), 0);
	fclose(f);
	CHECK_STR(buf, "{\"s\":\"x\",\"i\":-5,\"u\":18446744073709551615,"
	               "\"t\":true,\"n\":null,\"a\":[1,null,[],{}]}\n");
}

static void test_cli_json__pretty_document(void)
{
	struct cli_json w;
	FILE *f = open_mem();

	cli_json_init(&w, f, 1);
	cli_json_object_begin(&w);
	cli_json_kv_uint(&w, "a", 1);
	cli_json_key(&w, "b");
	cli_json_array_begin(&w);
	cli_json_bool(&w, 0);
	cli_json_array_end(&w);
	cli_json_key(&w, "c");
	cli_json_object_begin(&w);
	cli_json_object_end(&w);
	cli_json_object_end(&w);
	CHECK_INT(cli_json_finish(&w), 0);
	fclose(f);
	CHECK_STR(buf, "{\n  \"a\": 1,\n  \"b\": [\n    false\n  ],\n"
	               "  \"c\": {}\n}\n");
}

static void test_cli_json__escaping(void)
{
	struct cli_json w;
	FILE *f = open_mem();
	/* quote, backslash, controls, DEL, valid 2/3/4-byte UTF-8, then a
	 * lone continuation byte, an overlong '/', a surrogate, a truncated
	 * sequence at the end. */
	static const char in[] = "q\"b\\n\n\t\r\b\f\x01\x1f\x7f"
	                         "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80"
	                         "\x80|\xc0\xaf|\xed\xa0\x80|\xe2\x82";

	cli_json_init(&w, f, 0);
	cli_json_array_begin(&w);
	cli_json_string_len(&w, in, sizeof(in) - 1);
	cli_json_string_len(&w, "a\0b", 3);
	cli_json_array_end(&w);
	CHECK_INT(cli_json_finish(&w), 0);
	fclose(f);
	CHECK_STR(buf, "[\"q\\\"b\\\\n\\n\\t\\r\\b\\f\\u0001\\u001f\\u007f"
	               "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80"
	               "\\ufffd|\\ufffd\\ufffd|\\ufffd\\ufffd\\ufffd|"
	               "\\ufffd\\ufffd\",\"a\\u0000b\"]\n");
}

static void test_cli_json__misuse_is_reported(void)
{
	struct cli_json w;
	FILE *f = open_mem();
	int i;

	/* A value where a key is due. */
	cli_json_init(&w, f, 0);
	cli_json_object_begin(&w);
	cli_json_uint(&w, 1);
	cli_json_object_end(&w);
	CHECK_INT(cli_json_finish(&w), -1);
	/* An unclosed document. */
	cli_json_init(&w, f, 0);
	cli_json_array_begin(&w);
	CHECK_INT(cli_json_finish(&w), -1);
	/* Mismatched close. */
	cli_json_init(&w, f, 0);
	cli_json_array_begin(&w);
	cli_json_object_end(&w);
	CHECK_INT(cli_json_finish(&w), -1);
	/* Too deep. */
	cli_json_init(&w, f, 0);
	for (i = 0; i < CLI_JSON_MAX_DEPTH + 2; i++)
		cli_json_array_begin(&w);
	CHECK_INT(cli_json_finish(&w), -1);
	/* Two top-level values; and nothing at all. */
	cli_json_init(&w, f, 0);
	cli_json_uint(&w, 1);
	cli_json_uint(&w, 2);
	CHECK_INT(cli_json_finish(&w), -1);
	cli_json_init(&w, f, 0);
	CHECK_INT(cli_json_finish(&w), -1);
	fclose(f);
}

int main(void)
{
	RUN(test_cli_json__compact_document);
	RUN(test_cli_json__pretty_document);
	RUN(test_cli_json__escaping);
	RUN(test_cli_json__misuse_is_reported);
	free(buf);
	return check_summary("cli_json");
}
