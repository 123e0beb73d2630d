/*
 * batch_scalar.c - YAML 1.1 scalar typing, as PyYAML's SafeLoader does it.
 *
 * Each matcher below is the hand-written equivalent of one implicit
 * resolver pattern of PyYAML (yaml/resolver.py, class Resolver); each
 * pattern is anchored at both ends, so "some way to match" is all that
 * counts and a deterministic scan is exact.  tests/unit/test_batch_schema.sh
 * checks these against PyYAML itself over generated strings.
 */
#include <locale.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "batch_scalar.h"

static int dig(char c)
{
	return c >= '0' && c <= '9';
}

/* s[i..n) is not empty and every character passes `ok`. */
static int all_of(const char *s, size_t i, size_t n, int (*ok)(char))
{
	if (i >= n)
		return 0;
	for (; i < n; i++)
		if (!ok(s[i]))
			return 0;
	return 1;
}

static int bin_(char c)
{
	return c == '0' || c == '1' || c == '_';
}

static int oct_(char c)
{
	return (c >= '0' && c <= '7') || c == '_';
}

static int dec_(char c)
{
	return dig(c) || c == '_';
}

static int hex_(char c)
{
	return dig(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') ||
	       c == '_';
}

/* Consumes `(?::[0-5]?[0-9])+` from s[*i]: each group is one digit, or two
 * with the first in 0-5, and is followed by ':' or whatever comes next. */
static int sexagesimal(const char *s, size_t n, size_t *i)
{
	size_t j = *i, groups = 0;

	while (j < n && s[j] == ':') {
		size_t run = 0;

		while (j + 1 + run < n && dig(s[j + 1 + run]))
			run++;
		if (run == 0 || run > 2 || (run == 2 && s[j + 1] > '5'))
			return 0;
		j += 1 + run;
		groups++;
	}
	*i = j;
	return groups > 0;
}

static int is_int(const char *s, size_t n)
{
	size_t i = 0;

	if (i < n && (s[i] == '-' || s[i] == '+'))
		i++;
	if (i >= n)
		return 0;
	if (s[i] == '0') {
		if (i + 1 == n)
			return 1;
		if (s[i + 1] == 'b')
			return all_of(s, i + 2, n, bin_);
		if (s[i + 1] == 'x')
			return all_of(s, i + 2, n, hex_);
		return all_of(s, i + 1, n, oct_);
	}
	if (!dig(s[i]))
		return 0;
	for (i++; i < n && dec_(s[i]); i++)
		;
	if (i == n)
		return 1;
	return sexagesimal(s, n, &i) && i == n;
}

/* `(?:[eE][-+][0-9]+)?` up to the end: PyYAML wants the sign. */
static int exponent_tail(const char *s, size_t i, size_t n)
{
	if (i == n)
		return 1;
	if (s[i] != 'e' && s[i] != 'E')
		return 0;
	if (i + 1 >= n || (s[i + 1] != '-' && s[i + 1] != '+'))
		return 0;
	return all_of(s, i + 2, n, dig);
}

static int one_of(const char *s, size_t n, const char *const *words)
{
	for (; *words; words++) {
		/* Most scalars differ at the first letter: spare them the
		 * strlen. */
		if (n && (*words)[0] != s[0])
			continue;
		if (strlen(*words) == n && memcmp(s, *words, n) == 0)
			return 1;
	}
	return 0;
}

static int is_float(const char *s, size_t n)
{
	static const char *const inf[] = {".inf", ".Inf", ".INF", NULL};
	static const char *const nan[] = {".nan", ".NaN", ".NAN", NULL};
	size_t i = 0;
	int sign = 0;

	if (n && (s[0] == '-' || s[0] == '+'))
		i = 1, sign = 1;
	if (i >= n)
		return 0;
	if (one_of(s + i, n - i, inf))
		return 1;
	if (s[i] == '.') {
		/* `\.[0-9][0-9_]*...` and `.nan` take no sign */
		if (sign)
			return 0;
		if (one_of(s, n, nan))
			return 1;
		if (i + 1 >= n || !dig(s[i + 1]))
			return 0;
		for (i += 2; i < n && dec_(s[i]); i++)
			;
		return exponent_tail(s, i, n);
	}
	if (!dig(s[i]))
		return 0;
	for (i++; i < n && dec_(s[i]); i++)
		;
	if (i < n && s[i] == ':') {
		/* `[0-9][0-9_]*(?::[0-5]?[0-9])+\.[0-9_]*`: no exponent */
		if (!sexagesimal(s, n, &i) || i >= n || s[i] != '.')
			return 0;
		for (i++; i < n && dec_(s[i]); i++)
			;
		return i == n;
	}
	if (i >= n || s[i] != '.')
		return 0;
	for (i++; i < n && dec_(s[i]); i++)
		;
	return exponent_tail(s, i, n);
}

/* Consumes a run of min..max digits at s[*i]; the whole run counts, as
 * the patterns that use this are followed by a non-digit. */
static int digits(const char *s, size_t n, size_t *i, size_t min, size_t max)
{
	size_t run = 0;

	while (*i + run < n && dig(s[*i + run]))
		run++;
	if (run < min || run > max)
		return 0;
	*i += run;
	return 1;
}

static int lit(const char *s, size_t n, size_t *i, char c)
{
	if (*i < n && s[*i] == c) {
		++*i;
		return 1;
	}
	return 0;
}

static int is_timestamp(const char *s, size_t n)
{
	size_t i = 0;

	if (!digits(s, n, &i, 4, 4) || !lit(s, n, &i, '-'))
		return 0;
	if (n == 10 && dig(s[5]) && dig(s[6]) && s[7] == '-' && dig(s[8]) &&
	    dig(s[9]))
		return 1; /* a date */
	if (!digits(s, n, &i, 1, 2) || !lit(s, n, &i, '-') ||
	    !digits(s, n, &i, 1, 2))
		return 0;
	if (!lit(s, n, &i, 'T') && !lit(s, n, &i, 't')) {
		size_t ws = i;

		while (i < n && (s[i] == ' ' || s[i] == '\t'))
			i++;
		if (i == ws)
			return 0;
	}
	if (!digits(s, n, &i, 1, 2) || !lit(s, n, &i, ':') ||
	    !digits(s, n, &i, 2, 2) || !lit(s, n, &i, ':') ||
	    !digits(s, n, &i, 2, 2))
		return 0;
	if (lit(s, n, &i, '.'))
		while (i < n && dig(s[i]))
			i++;
	if (i == n)
		return 1;
	while (i < n && (s[i] == ' ' || s[i] == '\t'))
		i++;
	if (lit(s, n, &i, 'Z'))
		return i == n;
	if (!lit(s, n, &i, '-') && !lit(s, n, &i, '+'))
		return 0;
	if (!digits(s, n, &i, 1, 2))
		return 0;
	if (i == n)
		return 1;
	return lit(s, n, &i, ':') && digits(s, n, &i, 2, 2) && i == n;
}

rt__ytype rt__yaml_resolve_plain(const char *s, size_t n)
{
	static const char *const bools[] = {
		"yes", "Yes", "YES", "no", "No", "NO", "true", "True", "TRUE",
		"false", "False", "FALSE", "on", "On", "ON", "off", "Off", "OFF",
		NULL};
	static const char *const nulls[] = {"", "~", "null", "Null", "NULL",
	                                     NULL};

	/* most strings (names, keys) are decided by their first character */
	if (n == 0)
		return RT__Y_NULL;
	switch (s[0]) {
	case 'y': case 'Y': case 'n': case 'N': case 't': case 'T':
	case 'f': case 'F': case 'o': case 'O': case '~':
		if (one_of(s, n, bools))
			return RT__Y_BOOL;
		if (one_of(s, n, nulls))
			return RT__Y_NULL;
		return RT__Y_STR;
	case '<':
		return n == 2 && s[1] == '<' ? RT__Y_MERGE : RT__Y_STR;
	case '=':
		return n == 1 ? RT__Y_VALUE : RT__Y_STR;
	case '-': case '+': case '.':
	case '0': case '1': case '2': case '3': case '4':
	case '5': case '6': case '7': case '8': case '9':
		break;
	default:
		return RT__Y_STR;
	}
	if (is_float(s, n))
		return RT__Y_FLOAT;
	if (is_int(s, n))
		return RT__Y_INT;
	if (is_timestamp(s, n))
		return RT__Y_TIMESTAMP;
	return RT__Y_STR;
}

const char *rt__yaml_type_name(rt__ytype type)
{
	switch (type) {
	case RT__Y_STR: return "a string";
	case RT__Y_NULL: return "null";
	case RT__Y_BOOL: return "a boolean";
	case RT__Y_INT: return "an integer";
	case RT__Y_FLOAT: return "a float";
	case RT__Y_TIMESTAMP: return "a timestamp";
	case RT__Y_MERGE: return "a merge key (<<)";
	case RT__Y_VALUE: return "a value key (=)";
	}
	return "a scalar";
}

/* Digits of one base, all of s[i..n), at least one; value saturates. */
static int int_digits(const char *s, size_t i, size_t n, unsigned base,
                      uint64_t *out)
{
	uint64_t v = 0;

	if (i >= n)
		return 0;
	for (; i < n; i++) {
		char c = s[i];
		unsigned d;

		if (dig(c))
			d = (unsigned)(c - '0');
		else if (c >= 'a' && c <= 'f')
			d = (unsigned)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			d = (unsigned)(c - 'A' + 10);
		else
			return 0;
		if (d >= base)
			return 0;
		v = v > (UINT64_MAX - d) / base ? UINT64_MAX : v * base + d;
	}
	*out = v;
	return 1;
}

/* PyYAML's construct_yaml_int, reduced to "is it 1". */
static int int_is_one(const char *v, size_t n)
{
	size_t i = 0;
	int neg = 0;
	uint64_t val = 0;

	if (n == 0)
		return -1;
	if (v[0] == '-' || v[0] == '+')
		neg = v[0] == '-', i = 1;
	if (n - i == 1 && v[i] == '0')
		return 0;
	if (n - i >= 2 && v[i] == '0' && v[i + 1] == 'b') {
		if (!int_digits(v, i + 2, n, 2, &val))
			return -1;
	} else if (n - i >= 2 && v[i] == '0' && v[i + 1] == 'x') {
		if (!int_digits(v, i + 2, n, 16, &val))
			return -1;
	} else if (i < n && v[i] == '0') {
		if (!int_digits(v, i, n, 8, &val))
			return -1;
	} else if (memchr(v + i, ':', n - i)) {
		/* base 60: the first group is 1-9... (a leading 0 went the
		 * octal way above), so two groups or more are at least 60 */
		size_t start = i;

		for (;;) {
			size_t end = start;
			uint64_t part;

			while (end < n && v[end] != ':')
				end++;
			if (!int_digits(v, start, end, 10, &part))
				return -1;
			if (end == n)
				return 0;
			start = end + 1;
		}
	} else if (!int_digits(v, i, n, 10, &val)) {
		return -1;
	}
	return !neg && val == 1;
}

/* A decimal float as Python's float() reads the forms that matter:
 * digits, an optional point and an optional exponent. */
static int decimal(const char *s, size_t i, size_t n, locale_t c_locale,
                   double *out)
{
	char buf[128];
	size_t j = i, mant = 0;
	char *end;

	while (j < n && dig(s[j]))
		j++, mant++;
	if (j < n && s[j] == '.')
		for (j++; j < n && dig(s[j]); j++)
			mant++;
	if (mant == 0)
		return 0;
	if (j < n && s[j] == 'e') {
		size_t e = ++j;

		if (j < n && (s[j] == '-' || s[j] == '+'))
			j++, e++;
		while (j < n && dig(s[j]))
			j++;
		if (j == e)
			return 0;
	}
	if (j != n || n - i >= sizeof(buf))
		return 0;
	memcpy(buf, s + i, n - i);
	buf[n - i] = '\0';
	*out = strtod_l(buf, &end, c_locale);
	return *end == '\0';
}

/* PyYAML's construct_yaml_float, reduced to "is it 1". */
static int float_is_one(const char *v, size_t n)
{
	locale_t c_locale;
	size_t i = 0;
	double sign = 1, val = 0;
	int rc = -1;

	if (n == 0)
		return -1;
	if (v[0] == '-' || v[0] == '+')
		sign = v[0] == '-' ? -1 : 1, i = 1;
	if ((n - i == 4 && memcmp(v + i, ".inf", 4) == 0) ||
	    (n - i == 4 && memcmp(v + i, ".nan", 4) == 0))
		return 0;
	/* strtod in the caller's locale might want a decimal comma */
	c_locale = newlocale(LC_NUMERIC_MASK, "C", (locale_t)0);
	if (c_locale == (locale_t)0)
		return -1;
	if (memchr(v + i, ':', n - i)) {
		size_t start = i;
		double groups[64];
		size_t ngroups = 0, g;
		double base = 1;

		for (;;) {
			size_t end = start;

			while (end < n && v[end] != ':')
				end++;
			if (ngroups == 64 ||
			    !decimal(v, start, end, c_locale,
			             &groups[ngroups]))
				goto done;
			ngroups++;
			if (end == n)
				break;
			start = end + 1;
		}
		/* same order of operations as PyYAML, so rounding agrees */
		for (g = ngroups; g-- > 0;) {
			val += groups[g] * base;
			base *= 60;
		}
	} else if (!decimal(v, i, n, c_locale, &val)) {
		goto done;
	}
	rc = sign * val == 1.0;
done:
	freelocale(c_locale);
	return rc;
}

int rt__yaml_number_is_one(rt__ytype type, const char *s, size_t len)
{
	char v[256];
	size_t n = 0, i;

	/* PyYAML drops every '_' first (and lowercases a float); a spelling
	 * too long for the buffer is refused rather than guessed */
	for (i = 0; i < len; i++) {
		char c = s[i];

		if (c == '_')
			continue;
		if (n == sizeof(v))
			return -1;
		if (type == RT__Y_FLOAT && c >= 'A' && c <= 'Z')
			c = (char)(c - 'A' + 'a');
		v[n++] = c;
	}
	if (type == RT__Y_INT)
		return int_is_one(v, n);
	if (type == RT__Y_FLOAT)
		return float_is_one(v, n);
	return -1;
}
