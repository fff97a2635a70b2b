// SPDX-License-Identifier: GPL-2.0-or-later
#include "failalloc.h"
#include "test_helpers.h"

#include <aurora/kv.h>
#include <aurora/util.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static int teardown(void **state)
{
	failalloc_disarm();
	release_logs();
	return 0;
}

static int parse(const char *yaml, struct aur_kv **out)
{
	*out = NULL;
	return aur_kv_parse_yaml(yaml, strlen(yaml), "test.yaml", out);
}

static void nesting_too_deep_names_the_line(void **state)
{
	char yaml[256] = "a: 1\nb: ";
	size_t n = strlen(yaml);
	struct aur_kv *kv;

	for (int i = 0; i < 70; i++)
		yaml[n++] = '[';
	for (int i = 0; i < 70; i++)
		yaml[n++] = ']';
	yaml[n] = '\0';
	capture_logs();
	assert_int_equal(parse(yaml, &kv), -EINVAL);
	assert_null(kv);
	assert_non_null(strstr(captured_logs(), "test.yaml:2: values nested "
						"more than 64 levels deep"));
}

static void a_recursive_alias_is_refused(void **state)
{
	struct aur_kv *kv;

	capture_logs();
	assert_int_equal(parse("a: 1\nb: &x [*x]\n", &kv), -EINVAL);
	assert_non_null(strstr(captured_logs(),
			       "test.yaml:2: recursive alias: the value "
			       "anchored here contains itself"));
}

static void aliases_work_within_a_bound(void **state)
{
	/* each level is ten copies of the one before: 10^6 values */
	const char *laughs = "a: &a [x, x, x, x, x, x, x, x, x, x]\n"
			     "b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
			     "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\n"
			     "d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\n"
			     "e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]\n"
			     "f: [*e, *e, *e, *e, *e, *e, *e, *e, *e, *e]\n";
	struct aur_kv *kv;

	capture_logs();
	assert_int_equal(parse("a: &x v\nb: *x\n", &kv), 0);
	assert_string_equal(aur_kv_get(kv, "b")->value, "v");
	aur_kv_free(kv);
	assert_int_equal(parse(laughs, &kv), -EINVAL);
	assert_non_null(strstr(captured_logs(),
			       "test.yaml:5: aliases expand the config to "
			       "more than"));
}

static void every_key_problem_is_reported(void **state)
{
	struct aur_kv *kv;

	capture_logs();
	assert_int_equal(
		parse("? [a]\n: 1\nb: 1\nc: {d: 1, d: 2}\nb: 2\n", &kv),
		-EINVAL);
	assert_null(kv);
	assert_string_equal(captured_logs(),
			    "test.yaml:1: mapping keys must be plain names\n"
			    "test.yaml:4: mapping key 'd' already defined at "
			    "line 4\n"
			    "test.yaml:5: mapping key 'b' already defined at "
			    "line 3\n");
}

static void out_of_memory_is_enomem(void **state)
{
	const char *yaml = "a: 1\nb:\n  c: [x, 'y', {d: e}]\n  f: &g z\n"
			   "h: *g\n";

	for (unsigned long n = 1;; n++) {
		struct aur_kv *kv;
		int r;

		failalloc_arm(n);
		r = parse(yaml, &kv);
		failalloc_disarm();
		if (!failalloc_fired()) {
			assert_int_equal(r, 0);
			assert_string_equal(aur_kv_get(kv, "b.f")->value, "z");
			aur_kv_free(kv);
			break;
		}
		assert_int_equal(r, -ENOMEM);
		assert_null(kv);
	}
}

static void set_and_merge_report_enomem(void **state)
{
	for (unsigned long n = 1;; n++) {
		struct aur_kv *a = aur_kv_new_map("a"),
			      *b = aur_kv_new_map("b");
		int r;

		assert_non_null(a);
		assert_non_null(b);
		assert_int_equal(aur_kv_set(b, "x.y.z", "1", true, "b", 1), 0);
		failalloc_arm(n);
		r = aur_kv_set(a, "p.q", "2", false, "a", 2);
		if (r == 0)
			r = aur_kv_merge(a, b);
		failalloc_disarm();
		if (!failalloc_fired()) {
			assert_int_equal(r, 0);
			assert_string_equal(aur_kv_get(a, "x.y.z")->value, "1");
			aur_kv_free(a);
			aur_kv_free(b);
			break;
		}
		assert_int_equal(r, -ENOMEM);
		aur_kv_free(a);
		aur_kv_free(b);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(nesting_too_deep_names_the_line,
					  teardown),
		cmocka_unit_test_teardown(a_recursive_alias_is_refused,
					  teardown),
		cmocka_unit_test_teardown(aliases_work_within_a_bound,
					  teardown),
		cmocka_unit_test_teardown(every_key_problem_is_reported,
					  teardown),
		cmocka_unit_test_teardown(out_of_memory_is_enomem, teardown),
		cmocka_unit_test_teardown(set_and_merge_report_enomem,
					  teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
