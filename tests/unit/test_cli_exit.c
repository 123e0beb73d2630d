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
	CHECK_INT(cli_exit_code(RT_ECORRUPT), 65);
	CHECK_INT(cli_exit_code(RT_EFOREIGN), 65);
	CHECK_INT(cli_exit_code(RT_EVERSION), 65);
	CHECK_INT(cli_exit_code(RT_EINVAL), 65);
	CHECK_INT(cli_exit_code(RT_EOVERFLOW), 65);
	CHECK_INT(cli_exit_code(RT_EPERM), 77);
	CHECK_INT(cli_exit_code(RT_ENOTFOUND), 66);
}

/* Every library code gets a status of its own kind: never 0, never one
 * that reads as a usage error. */
static void test_cli_exit__never_ok_or_usage(void)
{
	int code;

	for (code = RT_ENOTFOUND; code <= RT_EJOURNAL; code++) {
		CHECK(cli_exit_code(code) != 0);
		CHECK(cli_exit_code(code) != 64);
	}
	CHECK(cli_exit_code(-1) != 0);
}

int main(void)
{
	RUN(test_cli_exit__codes);
	RUN(test_cli_exit__never_ok_or_usage);
	return check_summary("cli-exit");
}
