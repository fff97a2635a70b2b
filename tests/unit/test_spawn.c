// SPDX-License-Identifier: GPL-2.0-or-later
/* Running tools: status, environment, and the error line a failure logs. */
#include "test_helpers.h"

#include <aurora/spawn.h>

#include <errno.h>
#include <string.h>

static void runs_tools(void **state)
{
	const char *const ok[] = {"true", NULL};
	const char *const fails[] = {
		"sh", "-c",
		"echo noise; echo 'bad input at line 3' >&2; exit 3", NULL};
	const char *const env_check[] = {"sh", "-c", "test \"$AUR_X\" = y",
					 NULL};
	const char *const env[] = {"AUR_X=y", NULL};
	const char *const missing[] = {"aurorafs-no-such-tool", NULL};

	capture_logs();
	assert_int_equal(aur_run(ok, NULL, "test"), 0);
	assert_int_equal(aur_run(fails, NULL, "making x"), -EIO);
	assert_non_null(strstr(captured_logs(),
			       "making x: sh exited with "
			       "status 3: bad input at line 3"));
	assert_int_equal(aur_run(env_check, env, "env"), 0);
	assert_int_equal(aur_run(env_check, NULL, "env"), -EIO);
	assert_int_equal(aur_run(missing, NULL, "test"), -ENOENT);
	assert_non_null(strstr(captured_logs(), "aurorafs-no-such-tool"));
	release_logs();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(runs_tools),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
