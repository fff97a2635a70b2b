// SPDX-License-Identifier: GPL-2.0-or-later
#include "test_helpers.h"

#include <aurora/cloudconfig.h>
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
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
