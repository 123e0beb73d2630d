/*
 * failpoint.h - crash points for the crash tests (private; test build only).
 *
 * RT_FAILPOINT(name) marks a place where the crash tests want the process
 * to die: with REFTRACK_FAILPOINT=NAME[:N] in the environment, the N-th
 * time (default the 1st) this process passes the point NAME, it kills
 * itself with SIGKILL, so nothing after it runs, not even atexit handlers
 * or stdio flushes: what is durable is what a power loss would leave.
 *
 * The points exist only in a build with -DRT_TEST_HOOKS (the Makefile's
 * test tree, $(B)/hooks/).  Elsewhere RT_FAILPOINT() compiles to nothing:
 * neither the names nor the variable are in what ships.
 *
 * The points (README.md, "Test hooks"):
 *   after-inflight-commit  replay: in-flight marks durable, writes not sent
 *   mid-window             replay: half of a round's writes sent
 *   after-write            replay: a write's completion handled, its done
 *                          record not yet committed
 *   final-commit           replay: just before the run's last commit
 *   mid-commit             replay's committer thread: a batch written,
 *                          not committed; its writes not sent
 *   spool-after-submit     run: a spool file submitted, not yet moved
 *
 * RT_STOPPOINT(name) is the same with SIGSTOP instead, for a test that
 * must act while the process waits at a known point and then resume it
 * with SIGCONT:
 *   recount-before-write   repair: the tracker read, the write not sent
 *   between-writes         replay: a write landed and the slot's copy of
 *                          its tracker follows it; the tracker's next
 *                          group not yet planned
 *
 * The library and the tools share this one implementation (failpoint.c, in
 * the test tree's libreftrack.a).
 */
#ifndef REFTRACK_FAILPOINT_H
#define REFTRACK_FAILPOINT_H

#ifdef RT_TEST_HOOKS
#include <signal.h>

/* Counts a pass at `name` and raises `sig` at the N-th; safe from any
 * thread. */
void rt__failpoint(const char *name, int sig);
#define RT_FAILPOINT(name) rt__failpoint(name, SIGKILL)
#define RT_STOPPOINT(name) rt__failpoint(name, SIGSTOP)
#else
#define RT_FAILPOINT(name) ((void)0)
#define RT_STOPPOINT(name) ((void)0)
#endif

#endif
