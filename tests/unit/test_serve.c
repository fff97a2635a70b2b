// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Files of the tree for network clients: path normalization (what may and
 * may not reach the tree), opening, validators.
 */
#include "test_helpers.h"

#include <aurora/serve.h>
#include <aurora/tree.h>

#include <errno.h>
#include <string.h>

static int norm(const char *in, char *out)
{
	return aur_serve_normalize(in, strlen(in), out, AUR_SERVE_PATH_MAX + 2);
}

static void normalize(void **state)
{
	static const char *const good[][2] = {
		{"/netboot/kernel", "/netboot/kernel"},
		{"netboot/kernel", "/netboot/kernel"},
		{"//a///b/./c/", "/a/b/c"},
		{"", "/"},
		{"/", "/"},
		{"/./.", "/"},
		{"/a/.b/..c/c..", "/a/.b/..c/c.."},
		{"/iso/x y.iso", "/iso/x y.iso"},
	};
	static const char *const bad[] = {"/a\\b", "/a\tb", "/a\x7f", "/a\nb"};
	char out[AUR_SERVE_PATH_MAX + 2];
	char longer[AUR_SERVE_PATH_MAX + 2];

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		assert_int_equal(norm(good[i][0], out), 0);
		assert_string_equal(out, good[i][1]);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(norm(bad[i], out), -EINVAL);
	assert_int_equal(norm("/..", out), -EACCES);
	assert_int_equal(norm("../etc/passwd", out), -EACCES);
	assert_int_equal(norm("/netboot/../../etc", out), -EACCES);
	assert_int_equal(norm("/a/./../b", out), -EACCES);
	/* a NUL inside the given length */
	assert_int_equal(aur_serve_normalize("/a\0b", 4, out, sizeof(out)),
			 -EINVAL);
	memset(longer, 'a', sizeof(longer));
	longer[0] = '/';
	assert_int_equal(aur_serve_normalize(longer, AUR_SERVE_PATH_MAX, out,
					     sizeof(out)),
			 0);
	assert_int_equal(aur_serve_normalize(longer, AUR_SERVE_PATH_MAX + 1,
					     out, sizeof(out)),
			 -EINVAL);
	/* too small an output buffer is refused, not overrun */
	assert_int_equal(aur_serve_normalize("/a", 2, out, 8), -EINVAL);
}

static const char hello[] = "hello, client";

static int build_hello(void *ctx, struct aur_image *img)
{
	img->mtime = 1700000000;
	return aur_extmap_add_mem(&img->map, "hello", hello, sizeof(hello) - 1);
}

static int build_fail(void *ctx, struct aur_image *img)
{
	return -EIO;
}

static const struct aur_file_ops hello_ops = {.build = build_hello};
static const struct aur_file_ops fail_ops = {.build = build_fail};

static void open_files(void **state)
{
	struct aur_tree *t = aur_tree_new(1);
	struct aur_served f, g;
	char buf[64];

	assert_non_null(t);
	assert_int_equal(
		aur_tree_add_file(t, "/netboot/hello", &hello_ops, NULL, NULL),
		0);
	assert_int_equal(
		aur_tree_add_file(t, "/netboot/other", &hello_ops, NULL, NULL),
		0);
	assert_int_equal(
		aur_tree_add_file(t, "/netboot/broken", &fail_ops, NULL, NULL),
		0);

	assert_int_equal(aur_serve_open(t, "/netboot/hello", &f), 0);
	assert_int_equal(f.img->map.size, sizeof(hello) - 1);
	assert_int_equal(aur_extmap_pread(&f.img->map, buf, sizeof(buf), 0),
			 sizeof(hello) - 1);
	assert_memory_equal(buf, hello, sizeof(hello) - 1);
	assert_int_equal(f.etag[0], '"');
	assert_int_equal(f.etag[strlen(f.etag) - 1], '"');
	assert_int_equal(aur_serve_open(t, "/netboot/hello", &g), 0);
	assert_string_equal(f.etag, g.etag);
	aur_serve_close(&g);
	/* same bytes, another file: another validator */
	assert_int_equal(aur_serve_open(t, "/netboot/other", &g), 0);
	assert_string_not_equal(f.etag, g.etag);
	aur_serve_close(&g);
	aur_serve_close(&f);
	aur_serve_close(&f); /* closing twice is harmless */

	assert_int_equal(aur_serve_open(t, "/netboot", &f), -EISDIR);
	assert_int_equal(aur_serve_open(t, "/", &f), -EISDIR);
	assert_int_equal(aur_serve_open(t, "/netboot/nothing", &f), -ENOENT);
	assert_int_equal(aur_serve_open(t, "/netboot/hello/x", &f), -ENOENT);
	assert_int_equal(aur_serve_open(t, "/netboot/broken", &f), -EIO);
	aur_tree_free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(normalize),
		cmocka_unit_test(open_files),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
