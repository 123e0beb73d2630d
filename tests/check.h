/*
 * check.h - the test harness: named cases, non-fatal checks, one summary.
 *
 * A case passes when none of its checks failed.  check_summary() prints the
 * closing line "SUITE: N passed, N failed" that tests/run-suite.sh adds up,
 * and returns the process exit status.
 *
 * Scratch space: check_scratch_init(SUITE) makes /tmp/rt-test-SUITE-XXXXXX;
 * check_scratch_dir(NAME) names a fresh path under it at each call (not
 * created; the string lasts until the next call); check_scratch_remove()
 * deletes the lot.
 */
#ifndef REFTRACK_TESTS_CHECK_H
#define REFTRACK_TESTS_CHECK_H

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
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

static inline char *check_scratch_base(void)
{
	static char base[64];

	return base;
}

/* 0, or -1 (said on stderr). */
static inline int check_scratch_init(const char *suite)
{
	char *base = check_scratch_base();

	snprintf(base, 64, "/tmp/rt-test-%s-XXXXXX", suite);
	if (!mkdtemp(base)) {
		perror("mkdtemp");
		return -1;
	}
	return 0;
}

static inline const char *check_scratch_dir(const char *name)
{
	static char path[128];
	static int n;

	snprintf(path, sizeof(path), "%s/%d-%s", check_scratch_base(), ++n,
	         name);
	return path;
}

static inline void check_scratch_remove(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", check_scratch_base());
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", check_scratch_base());
}

#endif
