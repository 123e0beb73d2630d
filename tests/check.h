/*
 * check.h - the test harness: named cases, non-fatal checks, one summary.
 *
 * A case passes when none of its checks failed.  check_summary() prints the
 * closing line "SUITE: N passed, N failed" that tests/run-suite.sh adds up,
 * and returns the process exit status.
 */
#ifndef REFTRACK_TESTS_CHECK_H
#define REFTRACK_TESTS_CHECK_H

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

static int check_cases_passed, check_cases_failed, check_case_failures;
static const char *check_case_name;

#define CHECK(cond)                                                            \
	do {                                                                   \
		if (!(cond)) {                                                 \
			check_case_failures++;                                 \
			fprintf(stderr, "%s:%d: %s: check failed: %s\n",       \
			        __FILE__, __LINE__, check_case_name, #cond);   \
		}                                                              \
	} while (0)

#define CHECK_INT(got, want)                                                   \
	do {                                                                   \
		long long check_got_ = (long long)(got);                       \
		long long check_want_ = (long long)(want);                     \
		if (check_got_ != check_want_) {                               \
			check_case_failures++;                                 \
			fprintf(stderr, "%s:%d: %s: %s is %lld, want %lld\n",  \
			        __FILE__, __LINE__, check_case_name, #got,     \
			        check_got_, check_want_);                      \
		}                                                              \
	} while (0)

#define CHECK_STR(got, want)                                                   \
	do {                                                                   \
		const char *check_got_ = (got);                                \
		const char *check_want_ = (want);                              \
		if (!check_got_ || !check_want_ ||                             \
		    strcmp(check_got_, check_want_) != 0) {                    \
			check_case_failures++;                                 \
			fprintf(stderr, "%s:%d: %s: %s is \"%s\", want \"%s\"\n", \
			        __FILE__, __LINE__, check_case_name, #got,     \
			        check_got_ ? check_got_ : "(null)",            \
			        check_want_ ? check_want_ : "(null)");         \
		}                                                              \
	} while (0)

/* Runs one case: a function taking no arguments. */
#define RUN(fn)                                                                \
	do {                                                                   \
		check_case_name = #fn;                                         \
		check_case_failures = 0;                                       \
		fn();                                                          \
		if (check_case_failures) {                                     \
			check_cases_failed++;                                  \
			fprintf(stderr, "FAIL %s\n", #fn);                     \
		} else {                                                       \
			check_cases_passed++;                                  \
		}                                                              \
	} while (0)

static inline int check_summary(const char *suite)
{
	printf("%s: %d passed, %d failed\n", suite, check_cases_passed,
	       check_cases_failed);
	return check_cases_failed ? 1 : 0;
}

#endif
