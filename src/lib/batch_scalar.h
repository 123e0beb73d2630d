/*
 * batch_scalar.h - what type a YAML 1.1 loader gives a scalar.
 *
 * The batch schema is checked by loading YAML into JSON-like values, and
 * the loader the project tests against is PyYAML's SafeLoader, which types
 * plain scalars by YAML 1.1 rules: `yes`, `off`, `~`, `0x1F`, `1_000`,
 * `1:30`, `2001-12-14` are not strings there.  The parser applies the same
 * rules so that a file has one verdict whichever side reads it.
 */
#ifndef REFTRACK_BATCH_SCALAR_H
#define REFTRACK_BATCH_SCALAR_H

#include <stddef.h>

typedef enum rt__ytype {
	RT__Y_STR,
	RT__Y_NULL,
	RT__Y_BOOL,
	RT__Y_INT,
	RT__Y_FLOAT,
	RT__Y_TIMESTAMP,
	RT__Y_MERGE, /* `<<` */
	RT__Y_VALUE  /* `=` */
} rt__ytype;

/* The type of a plain (unquoted, untagged) scalar. */
rt__ytype rt__yaml_resolve_plain(const char *s, size_t len);

/* "a string", "an integer", ... for messages. */
const char *rt__yaml_type_name(rt__ytype type);

/* Whether `s`, constructed as a YAML int (type RT__Y_INT) or float
 * (RT__Y_FLOAT) the way PyYAML constructs one, is the number 1.  Returns 1
 * or 0, or -1 when the text is no valid number of that type (including
 * exotic spellings PyYAML might accept: those are refused). */
int rt__yaml_number_is_one(rt__ytype type, const char *s, size_t len);

#endif
