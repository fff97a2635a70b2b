// SPDX-License-Identifier: GPL-2.0-or-later
#include "failalloc.h"
#include "test_helpers.h"

#include <aurora/fetch.h>
#include <aurora/util.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SENTINEL "sentinel: err was not written"

static char *dir;

static int setup(void **state)
{
	dir = make_temp_dir();
	return 0;
}

static int teardown(void **state)
{
	failalloc_disarm();
	remove_tree(dir);
	free(dir);
	return 0;
}

/* A file:// URL of a file in the test directory with @len bytes of @c. */
static char *file_url(const char *name, size_t len, char c)
{
	char *path = aur_printf("%s/%s", dir, name);
	char *buf = malloc(len + 1);
	char *url;

	assert_non_null(path);
	assert_non_null(buf);
	memset(buf, c, len);
	write_file(path, buf, len);
	url = aur_printf("file://%s", path);
	assert_non_null(url);
	free(buf);
	free(path);
	return url;
}

static int discard(void *ctx, const void *buf, size_t len)
{
	return 0;
}

static int refuse(void *ctx, const void *buf, size_t len)
{
	return -ENOSPC;
}

/* err names the URL and says something */
static void assert_err_names(const char *err, const char *url)
{
	assert_string_not_equal(err, SENTINEL);
	assert_true(strncmp(err, "'", 1) == 0);
	assert_non_null(strstr(err, url));
	assert_true(strlen(err) > strlen(url) + 4);
}

static void a_missing_file_is_enoent_with_a_reason(void **state)
{
	char *url = aur_printf("file://%s/nope.iso", dir);
	struct aur_remote_info info;
	char err[AUR_FETCH_ERRLEN] = SENTINEL;
	char *buf = NULL;
	size_t len;

	assert_int_equal(aur_fetch_probe(url, &info, err), -ENOENT);
	assert_err_names(err, url);
	snprintf(err, sizeof(err), SENTINEL);
	assert_int_equal(aur_fetch_range(url, 0, 10, NULL, discard, NULL, err),
			 -ENOENT);
	assert_err_names(err, url);
	snprintf(err, sizeof(err), SENTINEL);
	assert_int_equal(aur_fetch_all(url, 100, &buf, &len, err), -ENOENT);
	assert_err_names(err, url);
	assert_null(buf);
	free(url);
}

static void short_big_and_refused_transfers_say_why(void **state)
{
	char *url = file_url("ten", 10, 'x');
	char err[AUR_FETCH_ERRLEN] = SENTINEL;
	char *buf = NULL;
	size_t len;

	assert_int_equal(aur_fetch_range(url, 5, 10, NULL, discard, NULL, err),
			 -EIO);
	assert_err_names(err, url);
	assert_non_null(strstr(err, "transfer ended after 5 of 10 bytes"));
	snprintf(err, sizeof(err), SENTINEL);
	assert_int_equal(aur_fetch_range(url, 0, 4, NULL, refuse, NULL, err),
			 -ENOSPC);
	assert_err_names(err, url);
	snprintf(err, sizeof(err), SENTINEL);
	assert_int_equal(aur_fetch_all(url, 4, &buf, &len, err), -EFBIG);
	assert_err_names(err, url);
	assert_null(buf);
	free(url);
}

static void an_unreachable_server_says_why(void **state)
{
	const char *url = "http://127.0.0.1:1/x.iso";
	struct aur_remote_info info;
	char err[AUR_FETCH_ERRLEN] = SENTINEL;

	assert_int_equal(aur_fetch_probe(url, &info, err), -EIO);
	assert_err_names(err, url);
	/* the same failure says the same thing, not how long it took */
	assert_non_null(strstr(err, "onnect"));
	assert_null(strstr(err, " after "));
	snprintf(err, sizeof(err), SENTINEL);
	assert_int_equal(
		aur_fetch_range(url, 0, 1, "\"etag\"", discard, NULL, err),
		-EIO);
	assert_err_names(err, url);
}

/* Every allocation of fetch.c that fails gives -ENOMEM and a reason. */
static void out_of_memory_is_enomem_with_a_reason(void **state)
{
	char *urls[] = {file_url("small", 3000, 'y'), file_url("empty", 0, 0)};

	for (size_t i = 0; i < AUR_ARRAY_SIZE(urls); i++) {
		for (unsigned long n = 1;; n++) {
			char err[AUR_FETCH_ERRLEN] = SENTINEL;
			char *buf = NULL;
			size_t len;
			int r;

			failalloc_arm(n);
			r = aur_fetch_all(urls[i], 1 << 20, &buf, &len, err);
			failalloc_disarm();
			if (!failalloc_fired()) {
				assert_int_equal(r, 0);
				assert_int_equal(len, i == 0 ? 3000 : 0);
				free(buf);
				break;
			}
			assert_int_equal(r, -ENOMEM);
			assert_err_names(err, urls[i]);
			assert_non_null(strstr(err, "out of memory"));
		}
		free(urls[i]);
	}
	for (unsigned long n = 1;; n++) {
		const char *url = "http://127.0.0.1:1/x.iso";
		char err[AUR_FETCH_ERRLEN] = SENTINEL;
		int r;

		failalloc_arm(n);
		r = aur_fetch_range(url, 0, 1, "\"e\"", discard, NULL, err);
		failalloc_disarm();
		assert_err_names(err, url);
		if (!failalloc_fired()) {
			assert_int_equal(r, -EIO);
			break;
		}
		assert_int_equal(r, -ENOMEM);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
			a_missing_file_is_enoent_with_a_reason, setup,
			teardown),
		cmocka_unit_test_setup_teardown(
			short_big_and_refused_transfers_say_why, setup,
			teardown),
		cmocka_unit_test_setup_teardown(an_unreachable_server_says_why,
						setup, teardown),
		cmocka_unit_test_setup_teardown(
			out_of_memory_is_enomem_with_a_reason, setup, teardown),
	};
	int r;

	assert_int_equal(aur_fetch_global_init(), 0);
	r = cmocka_run_group_tests(tests, NULL, NULL);
	aur_fetch_global_cleanup();
	return r;
}
