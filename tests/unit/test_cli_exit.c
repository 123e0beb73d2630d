/*
 * test_cli_exit.c - the tools' exit statuses for library errors, as issue 2
 * and the README promise them (sysexits): some of these errors, a conflict
 * after the whole retry budget above all, cannot be provoked through the
 * tools on demand, so the mapping is checked here directly.  It is CLI
 * code, so it is compiled in.
 */
#include "check.h"

#include "../../src/cli/cli_msg.c"

static void test_cli_exit__codes(void)
{
	CHECK_INT(cli_exit_code(RT_OK), 0);
	CHECK_INT(cli_exit_code(RT_ECONFLICT), 75);
	CHECK_INT(cli_exit_code(RT_ETRANSIENT), 75);
	CHECK_INT(cli_exit_code(RT_EBUSY), 75);
	/* Issue 12: a held lock has its own code, with the same status. */
	CHECK_INT(cli_exit_code(RT_ELOCKED), 75);
	CHECK_INT(cli_exit_code(RT_ECORRUPT), 65);
	CHECK_INT(cli_exit_code(RT_EFOREIGN), 65);
	CHECK_INT(cli_exit_code(RT_EVERSION), 65);
	CHECK_INT(cli_exit_code(RT_EINVAL), 65);
	CHECK_INT(cli_exit_code(RT_EOVERFLOW), 65);
	CHECK_INT(cli_exit_code(RT_EPERM), 77);
	CHECK_INT(cli_exit_code(RT_ENOTFOUND), 66);
	CHECK_INT(cli_exit_code(RT_EJOURNAL), 65);
	CHECK_INT(cli_exit_code(RT_ENOMEM), 71);
	/* Issue 10: a full disk or a failing one is an I/O error (74), a
	 * Ceph configuration that cannot work is 78; 70 is left for codes
	 * the table does not know, which are bugs. */
	CHECK_INT(cli_exit_code(RT_EIO), 74);
	CHECK_INT(cli_exit_code(RT_ECONFIG), 78);
	CHECK_INT(cli_exit_code(-1), 70);
	CHECK_INT(cli_exit_code(RT_ENOTFOUND + 99), 70);
}

/* A cluster that cannot be reached: 69 where nothing waits (add, rm, show),
 * 75 where the work stays in the journal (replay, run); everything else as
 * cli_exit_code(). */
static void test_cli_exit__connect(void)
{
	int code;

	CHECK_INT(cli_connect_exit_code(RT_ETRANSIENT, 0), 69);
	CHECK_INT(cli_connect_exit_code(RT_ETRANSIENT, 1), 75);
	CHECK_INT(cli_connect_exit_code(RT_ECONFIG, 1), 78);
	CHECK_INT(cli_connect_exit_code(RT_ECONFIG, 0), 78);
	CHECK_INT(cli_connect_exit_code(RT_EPERM, 1), 77);
	for (code = RT_ENOTFOUND; code <= RT_ECONFIG; code++)
		if (code != RT_ETRANSIENT) {
			CHECK_INT(cli_connect_exit_code(code, 0),
			          cli_exit_code(code));
			CHECK_INT(cli_connect_exit_code(code, 1),
			          cli_exit_code(code));
		}
}

/* Every library code gets a status of its own kind: never 0, never one
 * that reads as a usage error. */
static void test_cli_exit__never_ok_or_usage(void)
{
	int code;

	for (code = RT_ENOTFOUND; code <= RT_ECONFIG; code++) {
		CHECK(cli_exit_code(code) != 0);
		CHECK(cli_exit_code(code) != 64);
		/* 70 is for bugs only: every library code has its own. */
		CHECK(cli_exit_code(code) != 70);
		CHECK(strcmp(rt_strerror(code), "unknown error code") != 0);
	}
	CHECK(cli_exit_code(-1) != 0);
}

int main(void)
{
	RUN(test_cli_exit__codes);
	RUN(test_cli_exit__never_ok_or_usage);
	RUN(test_cli_exit__connect);
	return check_summary("cli-exit");
}
