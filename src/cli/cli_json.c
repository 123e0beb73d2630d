/*
 * cli_json.c - a streaming JSON writer (see cli_json.h).
 */
#include <inttypes.h>
#include <math.h>
#include <string.h>

#include "cli_json.h"

unsigned cli_json_stdout_documents;

void cli_json_init(struct cli_json *w, FILE *out, int pretty)
{
	memset(w, 0, sizeof(*w));
	w->out = out;
	w->pretty = pretty;
}

static void newline(struct cli_json *w)
{
	int i;

	if (!w->pretty)
		return;
	fputc('\n', w->out);
	for (i = 0; i < w->depth; i++)
		fputs("  ", w->out);
}

/* Before any value: the separator it needs, and whether it may go here. */
static void before_value(struct cli_json *w)
{
	if (w->depth == 0) {
		/* One top-level value per document. */
		if (w->has_items[0])
			w->error = 1;
		w->has_items[0] = 1;
		return;
	}
	if (w->is_object[w->depth]) {
		if (!w->key_pending)
			w->error = 1;
		w->key_pending = 0;
		return;
	}
	if (w->has_items[w->depth])
		fputc(',', w->out);
	w->has_items[w->depth] = 1;
	newline(w);
}

static void open_level(struct cli_json *w, int object)
{
	before_value(w);
	fputc(object ? '{' : '[', w->out);
	if (w->depth + 1 >= CLI_JSON_MAX_DEPTH) {
		w->error = 1;
		return;
	}
	w->depth++;
	w->is_object[w->depth] = (unsigned char)object;
	w->has_items[w->depth] = 0;
}

static void close_level(struct cli_json *w, int object)
{
	int had = 0;

	if (w->depth == 0 || w->is_object[w->depth] != object ||
	    w->key_pending) {
		w->error = 1;
	} else {
		had = w->has_items[w->depth];
		w->depth--;
	}
	if (had)
		newline(w);
	fputc(object ? '}' : ']', w->out);
}

void cli_json_object_begin(struct cli_json *w)
{
	open_level(w, 1);
}

void cli_json_object_end(struct cli_json *w)
{
	close_level(w, 1);
}

void cli_json_array_begin(struct cli_json *w)
{
	open_level(w, 0);
}

void cli_json_array_end(struct cli_json *w)
{
	close_level(w, 0);
}

/* Length of the valid UTF-8 sequence at s (at most n bytes), or 0. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
	uint32_t cp;
	size_t len, i;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		len = 2, cp = s[0] & 0x1f;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		len = 3, cp = s[0] & 0x0f;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		len = 4, cp = s[0] & 0x07;
	else
		return 0;
	if (len > n)
		return 0;
	for (i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	/* Overlong forms, UTF-16 surrogates and values past U+10FFFF are not
	 * UTF-8 even when the bit pattern fits. */
	if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
	    (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
		return 0;
	return len;
}

static void write_string(struct cli_json *w, const char *str, size_t len)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t i = 0, n;

	fputc('"', w->out);
	while (i < len) {
		unsigned char c = s[i];

		switch (c) {
		case '"':
			fputs("\\\"", w->out);
			break;
		case '\\':
			fputs("\\\\", w->out);
			break;
		case '\b':
			fputs("\\b", w->out);
			break;
		case '\f':
			fputs("\\f", w->out);
			break;
		case '\n':
			fputs("\\n", w->out);
			break;
		case '\r':
			fputs("\\r", w->out);
			break;
		case '\t':
			fputs("\\t", w->out);
			break;
		default:
			if (c < 0x20 || c == 0x7f) {
				fprintf(w->out, "\\u%04x", c);
				break;
			}
			n = utf8_len(s + i, len - i);
			if (n == 0) {
				fputs("\\ufffd", w->out);
				break;
			}
			fwrite(s + i, 1, n, w->out);
			i += n;
			continue;
		}
		i++;
	}
	fputc('"', w->out);
}

void cli_json_key(struct cli_json *w, const char *key)
{
	if (w->depth == 0 || !w->is_object[w->depth] || w->key_pending) {
		w->error = 1;
		return;
	}
	if (w->has_items[w->depth])
		fputc(',', w->out);
	w->has_items[w->depth] = 1;
	newline(w);
	write_string(w, key, strlen(key));
	fputs(w->pretty ? ": " : ":", w->out);
	w->key_pending = 1;
}

void cli_json_string_len(struct cli_json *w, const char *s, size_t len)
{
	before_value(w);
	if (s)
		write_string(w, s, len);
	else
		fputs("null", w->out);
}

void cli_json_string(struct cli_json *w, const char *s)
{
	cli_json_string_len(w, s, s ? strlen(s) : 0);
}

void cli_json_int(struct cli_json *w, int64_t v)
{
	before_value(w);
	fprintf(w->out, "%" PRId64, v);
}

void cli_json_uint(struct cli_json *w, uint64_t v)
{
	before_value(w);
	fprintf(w->out, "%" PRIu64, v);
}

void cli_json_bool(struct cli_json *w, int v)
{
	before_value(w);
	fputs(v ? "true" : "false", w->out);
}

void cli_json_null(struct cli_json *w)
{
	before_value(w);
	fputs("null", w->out);
}

void cli_json_double(struct cli_json *w, double v, int decimals)
{
	before_value(w);
	if (isfinite(v))
		fprintf(w->out, "%.*f", decimals, v);
	else
		fputs("null", w->out);
}

void cli_json_kv_string(struct cli_json *w, const char *key, const char *s)
{
	cli_json_key(w, key);
	cli_json_string(w, s);
}

void cli_json_kv_int(struct cli_json *w, const char *key, int64_t v)
{
	cli_json_key(w, key);
	cli_json_int(w, v);
}

void cli_json_kv_uint(struct cli_json *w, const char *key, uint64_t v)
{
	cli_json_key(w, key);
	cli_json_uint(w, v);
}

void cli_json_kv_bool(struct cli_json *w, const char *key, int v)
{
	cli_json_key(w, key);
	cli_json_bool(w, v);
}

void cli_json_kv_double(struct cli_json *w, const char *key, double v,
                        int decimals)
{
	cli_json_key(w, key);
	cli_json_double(w, v, decimals);
}

int cli_json_finish(struct cli_json *w)
{
	if (w->depth != 0 || w->key_pending || !w->has_items[0])
		w->error = 1;
	fputc('\n', w->out);
	if (w->out == stdout)
		cli_json_stdout_documents++;
	if (fflush(w->out) != 0 || ferror(w->out))
		return -1;
	return w->error ? -1 : 0;
}
