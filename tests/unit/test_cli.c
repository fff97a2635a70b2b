// SPDX-License-Identifier: GPL-2.0-or-later
#include "test_helpers.h"

#include "cli.h"

#include <aurora/kv.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* argv strings live until the next parse: the cli borrows from them */
static char *args[16];
static int nargs;

static void free_args(void)
{
	while (nargs > 0)
		free(args[--nargs]);
}

static int parse_args(struct aur_cli *cli, ...)
{
	const char *a;
	va_list ap;

	free_args();
	args[nargs++] = strdup("aurorafs");
	va_start(ap, cli);
	while ((a = va_arg(ap, const char *)) && nargs < 15)
		args[nargs++] = strdup(a);
	va_end(ap);
	args[nargs] = NULL;
	return aur_cli_parse(nargs, args, cli);
}

#define PARSE(cli, ...) parse_args(cli, __VA_ARGS__, (const char *)NULL)

static int teardown(void **state)
{
	free_args();
	release_logs();
	return 0;
}

static void auroraboot_style(void **state)
{
	struct aur_cli cli;

	assert_int_equal(PARSE(&cli, "--set", "a.b=c", "--set=x=true",
			       "--cloud-config", "-", "--debug", "cfg.yaml",
			       "/mnt"),
			 0);
	assert_string_equal(cli.config, "cfg.yaml");
	assert_string_equal(cli.mountpoint, "/mnt");
	assert_string_equal(cli.cloud_config, "-");
	assert_true(cli.debug);
	assert_false(cli.foreground);
	assert_string_equal(aur_kv_get(cli.sets, "a.b")->value, "c");
	assert_true(aur_kv_get(cli.sets, "x")->plain);
	aur_cli_release(&cli);
}

static void mount_helper_style(void **state)
{
	struct aur_cli cli;

	/* what mount.fuse3 runs for an fstab line */
	assert_int_equal(PARSE(&cli, "/etc/aurora.yaml", "/srv/boot", "-o",
			       "rw,allow_other,cloud_config=/etc/cc.yaml,"
			       "set.iso.override_name=lab,state_dir=/var/x"),
			 0);
	assert_string_equal(cli.config, "/etc/aurora.yaml");
	assert_string_equal(cli.mountpoint, "/srv/boot");
	assert_string_equal(cli.cloud_config, "/etc/cc.yaml");
	assert_string_equal(cli.fuse_opts, "allow_other");
	assert_string_equal(aur_kv_get(cli.sets, "iso.override_name")->value,
			    "lab");
	assert_string_equal(aur_kv_get(cli.sets, "state_dir")->value, "/var/x");
	aur_cli_release(&cli);
}

static void mountpoint_only(void **state)
{
	struct aur_cli cli;

	assert_int_equal(PARSE(&cli, "-f", "/mnt", "-oallow_other,noatime"), 0);
	assert_null(cli.config);
	assert_true(cli.foreground);
	assert_string_equal(cli.fuse_opts, "allow_other,noatime");
	aur_cli_release(&cli);
}

static void usage_errors(void **state)
{
	struct aur_cli cli;

	capture_logs();
	assert_int_equal(PARSE(&cli, "--bogus", "/mnt"), -EINVAL);
	assert_non_null(strstr(captured_logs(), "unknown option '--bogus'"));
	assert_int_equal(PARSE(&cli, "a", "b", "c"), -EINVAL);
	assert_int_equal(PARSE(&cli, "--set", "novalue", "/mnt"), -EINVAL);
	assert_int_equal(PARSE(&cli, "/mnt", "--set"), -EINVAL);
	assert_int_equal(PARSE(&cli, "--cloud-config="), -EINVAL);
	assert_int_equal(PARSE(&cli, "--debug"), -EINVAL);
	assert_non_null(strstr(captured_logs(), "missing MOUNTPOINT"));
	assert_int_equal(PARSE(&cli, "--help"), 0);
	assert_true(cli.help);
	aur_cli_release(&cli);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(auroraboot_style, teardown),
		cmocka_unit_test_teardown(mount_helper_style, teardown),
		cmocka_unit_test_teardown(mountpoint_only, teardown),
		cmocka_unit_test_teardown(usage_errors, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
