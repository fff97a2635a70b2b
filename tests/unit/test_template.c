// SPDX-License-Identifier: GPL-2.0-or-later
#include "test_helpers.h"

#include <aurora/config.h>
#include <aurora/kv.h>
#include <aurora/template.h>

#include <stdlib.h>
#include <string.h>

static struct aur_kv *data;

static int setup(void **state)
{
	data = NULL;
	assert_int_equal(aur_config_add_set(&data, "foo.bar=baz"), 0);
	assert_int_equal(aur_config_add_set(&data, "token=s3cr3t"), 0);
	assert_int_equal(aur_config_add_set(&data, "enabled=true"), 0);
	assert_int_equal(aur_config_add_set(&data, "dash-key.x-y=ok"), 0);
	capture_logs();
	return 0;
}

static int teardown(void **state)
{
	aur_kv_free(data);
	release_logs();
	return 0;
}

static char *render(const char *in)
{
	char *out;
	size_t len;

	assert_int_equal(aur_template_render(in, strlen(in), data, "cc.yaml",
					     &out, &len),
			 0);
	assert_int_equal(strlen(out), len);
	return out;
}

static void both_delimiters_render(void **state)
{
	char *out = render("a: [[ .foo.bar ]]\nb: [[[ .token ]]]\n"
			   "c: [[.enabled]]\nd: [[[.dash-key.x-y]]]\n");

	assert_string_equal(out, "a: baz\nb: s3cr3t\nc: true\nd: ok\n");
	free(out);
}

static void other_syntax_passes_through(void **state)
{
	const char *in = "#cloud-config\nx: {{ .foo.bar }}\n"
			 "runcmd: [[ls, -l], [echo, hi]]\n"
			 "y: [[ not an action ]]\nz: [[[ ]]]\n[[\n";
	char *out = render(in);

	assert_string_equal(out, in);
	assert_string_equal(captured_logs(), "");
	free(out);
}

static void missing_key_renders_empty_with_warning(void **state)
{
	char *out = render("line1\nk: '[[ .nope.x ]]'\n");

	assert_string_equal(out, "line1\nk: ''\n");
	assert_non_null(strstr(captured_logs(),
			       "cc.yaml:2: template key '.nope.x' is not set"));
	free(out);
}

static void trim_markers(void **state)
{
	char *out = render("a:   [[- .token -]]   \nb");

	assert_string_equal(out, "a:s3cr3tb");
	free(out);
}

static void binary_input_is_identical(void **state)
{
	char in[256];
	char *out;
	size_t len;

	for (int i = 0; i < 256; i++)
		in[i] = (char)i;
	assert_int_equal(
		aur_template_render(in, sizeof(in), data, "x", &out, &len), 0);
	assert_int_equal(len, sizeof(in));
	assert_memory_equal(out, in, sizeof(in));
	free(out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(both_delimiters_render, setup,
						teardown),
		cmocka_unit_test_setup_teardown(other_syntax_passes_through,
						setup, teardown),
		cmocka_unit_test_setup_teardown(
			missing_key_renders_empty_with_warning, setup,
			teardown),
		cmocka_unit_test_setup_teardown(trim_markers, setup, teardown),
		cmocka_unit_test_setup_teardown(binary_input_is_identical,
						setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
