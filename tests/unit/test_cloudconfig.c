// SPDX-License-Identifier: GPL-2.0-or-later
#include "test_helpers.h"

#include <aurora/cloudconfig.h>
#include <aurora/config.h>
#include <aurora/kv.h>
#include <aurora/util.h>

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char *dir;

static int setup(void **state)
{
	dir = make_temp_dir();
	capture_logs();
	return 0;
}

static int teardown(void **state)
{
	remove_tree(dir);
	free(dir);
	release_logs();
	return 0;
}

/* Read @content through a file; the caller's buffer stays NULL on error. */
static int read_content(const char *content, char **buf, size_t *len)
{
	char *path = aur_printf("%s/cc.yaml", dir);
	int r;

	assert_non_null(path);
	write_file(path, content, strlen(content));
	*buf = NULL;
	*len = 0;
	r = aur_cloud_config_read(path, buf, len);
	free(path);
	return r;
}

static void a_file_is_read(void **state)
{
	char *buf;
	size_t len;

	assert_int_equal(read_content("#cloud-config\n", &buf, &len), 0);
	assert_int_equal(len, 14);
	assert_string_equal(buf, "#cloud-config\n");
	free(buf);
}

static void an_empty_file_is_refused_and_nothing_is_freed(void **state)
{
	char *buf;
	size_t len;

	assert_int_equal(read_content("", &buf, &len), -ENODATA);
	/* the caller's pointer is untouched: freeing it is safe */
	assert_null(buf);
	free(buf);
	assert_non_null(strstr(captured_logs(), "cloud config set but "
						"contents are empty: '"));
}

static void white_space_only_is_empty(void **state)
{
	char *buf;
	size_t len;

	assert_int_equal(read_content(" \n\t\r\n", &buf, &len), -ENODATA);
	assert_null(buf);
	assert_non_null(strstr(captured_logs(), "only white space"));
}

static void empty_standard_input_is_refused(void **state)
{
	int saved = dup(STDIN_FILENO);
	int null = open("/dev/null", O_RDONLY);
	char *buf = NULL;
	size_t len = 0;

	assert_true(saved >= 0 && null >= 0);
	assert_int_equal(dup2(null, STDIN_FILENO), STDIN_FILENO);
	assert_int_equal(aur_cloud_config_read("-", &buf, &len), -ENODATA);
	assert_int_equal(dup2(saved, STDIN_FILENO), STDIN_FILENO);
	close(null);
	close(saved);
	assert_null(buf);
	assert_non_null(strstr(captured_logs(), "cloud config set but "
						"contents are empty: "
						"standard input"));
}

static struct aur_config *load_with_sets(const char *yaml)
{
	static const char *const pairs[] = {"flavor=y", "node.name=x",
					    "iso.extra=z", "unused.key=w",
					    "foo=1"};
	struct aur_config *cfg = NULL;
	struct aur_kv *sets = NULL;

	for (size_t i = 0; i < AUR_ARRAY_SIZE(pairs); i++)
		assert_int_equal(aur_config_add_set(&sets, pairs[i]), 0);
	assert_int_equal(
		aur_config_load(yaml, strlen(yaml), "a.yaml", sets, &cfg), 0);
	return cfg;
}

static void set_keys_the_template_uses_are_not_unknown(void **state)
{
	const char *cc = "#cloud-config\nhostname: [[ .node.name ]]\n"
			 "x: [[[ .iso.extra ]]]\n";
	struct aur_config *cfg;
	char *out;
	size_t len;

	/* at load time only the file's unknown keys are known to be so */
	cfg = load_with_sets("flavor: a\nfoo: 2\n");
	assert_string_equal(captured_logs(),
			    "a.yaml:2: unknown key 'foo' (ignored)\n");
	capture_logs();
	assert_int_equal(aur_cloud_config_render(cfg, cc, strlen(cc), "cc.yaml",
						 &out, &len),
			 0);
	assert_string_equal(out, "#cloud-config\nhostname: x\nx: z\n");
	assert_string_equal(captured_logs(),
			    "--set: unknown key 'unused.key' (ignored: not a "
			    "config key, and the cloud-config does not use "
			    "it)\n"
			    "--set: unknown key 'foo' (ignored: not a config "
			    "key, and the cloud-config does not use it)\n");
	free(out);
	aur_config_free(cfg);
}

static void without_a_cloud_config_unknown_set_keys_warn(void **state)
{
	struct aur_config *cfg = load_with_sets("");
	char *out;
	size_t len;

	assert_string_equal(captured_logs(), "");
	assert_int_equal(
		aur_cloud_config_render(cfg, NULL, 0, NULL, &out, &len), 0);
	assert_null(out);
	assert_non_null(strstr(captured_logs(), "unknown key 'node.name'"));
	assert_non_null(strstr(captured_logs(), "unknown key 'iso.extra'"));
	assert_null(strstr(captured_logs(), "'flavor'"));
	aur_config_free(cfg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(a_file_is_read, setup,
						teardown),
		cmocka_unit_test_setup_teardown(
			an_empty_file_is_refused_and_nothing_is_freed, setup,
			teardown),
		cmocka_unit_test_setup_teardown(white_space_only_is_empty,
						setup, teardown),
		cmocka_unit_test_setup_teardown(empty_standard_input_is_refused,
						setup, teardown),
		cmocka_unit_test_setup_teardown(
			set_keys_the_template_uses_are_not_unknown, setup,
			teardown),
		cmocka_unit_test_setup_teardown(
			without_a_cloud_config_unknown_set_keys_warn, setup,
			teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
