/*
 * failpoint.c - REFTRACK_FAILPOINT, for the crash tests (failpoint.h).
 *
 * Compiled only into the test tree: the Makefile leaves this file out of
 * the shipped library.
 */
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "failpoint.h"

void rt__failpoint(const char *name, int sig)
{
	/* One point is armed at a time (the variable names one), so one
	 * counter serves; atomic, as a pass may come from any thread. */
	static atomic_long hits;
	const char *fp = getenv("REFTRACK_FAILPOINT"), *colon;
	size_t len;

	if (!fp)
		return;
	colon = strchr(fp, ':');
	len = colon ? (size_t)(colon - fp) : strlen(fp);
	if (strlen(name) != len || strncmp(fp, name, len) != 0)
		return;
	/* The N-th pass only: a stopped process resumed goes on past later
	 * passes. */
	if (atomic_fetch_add(&hits, 1) + 1 == (colon ? atol(colon + 1) : 1))
		raise(sig);
}
