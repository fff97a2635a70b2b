// SPDX-License-Identifier: GPL-2.0-or-later
#include "test_helpers.h"

#include <aurora/tree.h>

#include <errno.h>
#include <string.h>

struct counter {
	int builds, releases, fail_next;
};

static int build(void *ctx, struct aur_image *img)
{
	struct counter *c = ctx;

	c->builds++;
	if (c->fail_next) {
		c->fail_next = 0;
		aur_extmap_add_zero(&img->map, "half-built", 3);
		return -EIO;
	}
	img->mtime = 42;
	return aur_extmap_add_zero(&img->map, "zeros", 10);
}

static void release(void *ctx, struct aur_image *img)
{
	((struct counter *)ctx)->releases++;
}

static const struct aur_file_ops ops = {.build = build, .release = release};

static void freed(void *ctx)
{
	(*(int *)ctx)++;
}

static void paths_and_lookups(void **state)
{
	struct aur_tree *t = aur_tree_new(7);
	struct counter c = {0};
	struct aur_node *a, *b, *iso;
	int cleanups = 0;

	assert_int_equal(aur_tree_add_file(t, "/iso/b.iso", &ops, &c, &b), 0);
	assert_int_equal(aur_tree_add_file(t, "/iso/a.iso", &ops, &c, &a), 0);
	assert_int_equal(aur_tree_add_file(t, "/iso/a.iso", &ops, &c, NULL),
			 -EEXIST);
	assert_int_equal(aur_tree_add_file(t, "/iso/a.iso/x", &ops, &c, NULL),
			 -EEXIST);
	assert_int_equal(aur_tree_add_file(t, "/iso/../x", &ops, &c, NULL),
			 -EINVAL);
	assert_int_equal(aur_tree_add_file(t, "rel", &ops, &c, NULL), -EINVAL);
	assert_int_equal(aur_tree_on_free(t, freed, &cleanups), 0);

	iso = aur_tree_find(t, "/iso");
	assert_non_null(iso);
	assert_true(iso->is_dir);
	assert_int_equal(iso->nchildren, 2);
	/* children are sorted by name */
	assert_ptr_equal(iso->child, a);
	assert_ptr_equal(iso->child->next, b);
	assert_ptr_equal(aur_tree_lookup(t, iso->ino, "b.iso"), b);
	assert_null(aur_tree_lookup(t, iso->ino, "c.iso"));
	assert_null(aur_tree_lookup(t, a->ino, "x"));
	assert_ptr_equal(aur_tree_node(t, 1), aur_tree_root(t));
	assert_ptr_equal(aur_tree_node(t, a->ino), a);
	assert_null(aur_tree_node(t, 0));
	assert_null(aur_tree_node(t, 999));
	assert_int_equal(c.builds, 0); /* nothing built yet */
	aur_tree_free(t);
	assert_int_equal(cleanups, 1);
}

static void builds_once_retries_failures(void **state)
{
	struct aur_tree *t = aur_tree_new(7);
	struct counter c = {.fail_next = 1};
	const struct aur_image *img;
	struct aur_node *n;

	assert_int_equal(aur_tree_add_file(t, "/f", &ops, &c, &n), 0);
	assert_int_equal(aur_node_image(n, &img), -EIO);
	assert_int_equal(c.releases, 1);
	assert_int_equal(aur_node_image(n, &img), 0);
	assert_int_equal(img->map.size, 10);
	assert_int_equal(img->mtime, 42);
	assert_int_equal(aur_node_image(n, &img), 0);
	assert_int_equal(c.builds, 2);
	assert_int_equal(aur_node_image(aur_tree_root(t), &img), -EISDIR);
	aur_tree_free(t);
	assert_int_equal(c.releases, 2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(paths_and_lookups),
		cmocka_unit_test(builds_once_retries_failures),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
