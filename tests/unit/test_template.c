// SPDX-License-Identifier: GPL-2.0-or-later
#include "failalloc.h"
#include "test_helpers.h"

#include <aurora/config.h>
#include <aurora/kv.h>
#include <aurora/log.h>
#include <aurora/template.h>

#include <errno.h>
#include <stdio.h>
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
					     NULL, &out, &len),
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

static void a_missing_key_warns_once_with_its_uses(void **state)
{
	char *out = render("a: [[ .nope ]]\nb: [[[ .other.x ]]]\n"
			   "c: [[ .nope ]] [[- .nope ]]\nd: [[ .foo.bar ]]\n");

	assert_string_equal(out, "a: \nb: \nc:\nd: baz\n");
	assert_string_equal(captured_logs(),
			    "cc.yaml:1: template key '.nope' is not set "
			    "(rendered empty; used 3 times, first here)\n"
			    "cc.yaml:2: template key '.other.x' is not set "
			    "(rendered empty)\n");
	free(out);
}

static size_t warnings;

static void count_warnings(void *ctx, int level, const char *msg)
{
	if (level == LOG_WARNING)
		warnings++;
	snprintf(ctx, 256, "%s", msg);
}

/* 100000 actions on as many lines, over 7 missing keys and one set key:
 * 7 warnings, each with its count and first line. Line numbers used to be
 * found by rescanning from the start, once per warning. */
static void many_actions_stay_linear(void **state)
{
	const size_t n = 100000;
	char *in = malloc(n * 24), *p = in, *out, last[256];
	size_t len;

	assert_non_null(in);
	for (size_t i = 0; i < n; i++)
		p += i % 8 == 7 ? snprintf(p, 24, "k: [[ .foo.bar ]]\n")
				: snprintf(p, 24, "k: [[ .m%zu ]]\n", i % 8);
	warnings = 0;
	aur_log_set_sink(count_warnings, last);
	assert_int_equal(aur_template_render(in, (size_t)(p - in), data,
					     "cc.yaml", NULL, &out, &len),
			 0);
	aur_log_set_sink(NULL, NULL);
	assert_int_equal(warnings, 7);
	assert_string_equal(last, "cc.yaml:7: template key '.m6' is not set "
				  "(rendered empty; used 12500 times, first "
				  "here)");
	assert_int_equal(len, n * 4 + n / 8 * 3);
	free(out);
	free(in);
}

static void out_of_memory_is_enomem(void **state)
{
	const char *in = "a: [[ .foo.bar ]] [[ .x ]] [[ .y ]] [[ .x ]]\n";
	struct aur_kv *used = NULL;
	char last[256];

	aur_log_set_sink(count_warnings, last);
	for (unsigned long n = 1;; n++) {
		char *out = NULL;
		size_t len;
		int r;

		aur_kv_free(used);
		used = aur_kv_new_map("cc.yaml");
		assert_non_null(used);
		failalloc_arm(n);
		r = aur_template_render(in, strlen(in), data, "cc.yaml", used,
					&out, &len);
		failalloc_disarm();
		if (!failalloc_fired()) {
			assert_int_equal(r, 0);
			assert_string_equal(out, "a: baz   \n");
			assert_non_null(aur_kv_get(used, "foo.bar"));
			free(out);
			break;
		}
		assert_int_equal(r, -ENOMEM);
		assert_null(out);
	}
	aur_kv_free(used);
}

static void used_keys_are_reported(void **state)
{
	const char *in = "a: [[ .token ]]\nb: [[ .foo ]] [[ .nope ]]\n"
			 "c: [[[ .foo.bar ]]] [[ .token ]]\n";
	struct aur_kv *used = aur_kv_new_map("cc.yaml");
	char *out;
	size_t len;

	assert_non_null(used);
	assert_int_equal(aur_template_render(in, strlen(in), data, "cc.yaml",
					     used, &out, &len),
			 0);
	assert_int_equal(aur_kv_get(used, "token")->line, 1);
	assert_int_equal(aur_kv_get(used, "foo.bar")->line, 3);
	/* the map .foo renders nothing: only the value .foo.bar is used */
	assert_int_equal(aur_kv_get(used, "foo")->kind, AUR_KV_MAP);
	assert_null(aur_kv_get(used, "nope"));
	assert_null(aur_kv_get(used, "enabled"));
	free(out);
	aur_kv_free(used);
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
	assert_int_equal(aur_template_render(in, sizeof(in), data, "x", NULL,
					     &out, &len),
			 0);
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
		cmocka_unit_test_setup_teardown(
			a_missing_key_warns_once_with_its_uses, setup,
			teardown),
		cmocka_unit_test_setup_teardown(many_actions_stay_linear, setup,
						teardown),
		cmocka_unit_test_setup_teardown(out_of_memory_is_enomem, setup,
						teardown),
		cmocka_unit_test_setup_teardown(used_keys_are_reported, setup,
						teardown),
		cmocka_unit_test_setup_teardown(trim_markers, setup, teardown),
		cmocka_unit_test_setup_teardown(binary_input_is_identical,
						setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
