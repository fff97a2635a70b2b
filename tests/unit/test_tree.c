// SPDX-License-Identifier: GPL-2.0-or-later
#include "test_helpers.h"

#include <aurora/tree.h>

#include <errno.h>
#include <stdio.h>
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
	assert_ptr_equal(iso->children[0], a);
	assert_ptr_equal(iso->children[1], b);
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

/* a directory whose entries are known only when it is first looked at */
struct later {
	int calls, fail;
	struct counter c;
};

static int populate_later(void *ctx, struct aur_tree *t, struct aur_node *dir)
{
	struct later *l = ctx;

	l->calls++;
	if (l->fail) {
		l->fail = 0;
		return -EAGAIN;
	}
	return aur_tree_add_file(t, "/iso/late.iso", &ops, &l->c, NULL);
}

static const struct aur_dir_ops later_ops = {.populate = populate_later};

static int collect(void *ctx, const struct aur_node *c, size_t index)
{
	char *names = ctx;
	size_t used = strlen(names);

	snprintf(names + used, 64 - used, "%s ", c->name);
	return 0;
}

static void directories_fill_late(void **state)
{
	struct aur_tree *t = aur_tree_new(7);
	struct later l = {.fail = 1};
	struct aur_node *iso;
	char names[64] = "";

	assert_int_equal(aur_tree_add_dir(t, "/iso", &later_ops, &l, &iso), 0);
	assert_int_equal(
		aur_tree_add_file(t, "/netboot/kernel", &ops, &l.c, NULL), 0);
	assert_int_equal(l.calls, 0); /* nothing at mount time */
	assert_null(aur_tree_lookup(t, iso->ino, "late.iso"));
	assert_int_equal(errno, EAGAIN);
	assert_non_null(aur_tree_lookup(t, iso->ino, "late.iso"));
	assert_int_equal(l.calls, 2);
	assert_int_equal(aur_tree_list(t, iso, 0, collect, names), 0);
	assert_string_equal(names, "late.iso ");
	assert_int_equal(l.calls, 2); /* populated once */
	/* added at any time, in name order */
	assert_int_equal(aur_tree_add_file(t, "/iso/aaa", &ops, &l.c, NULL), 0);
	names[0] = '\0';
	assert_int_equal(aur_tree_list(t, iso, 1, collect, names), 0);
	assert_string_equal(names, "late.iso ");
	assert_non_null(aur_tree_find(t, "/netboot/kernel"));
	assert_int_equal(
		aur_tree_add_dir(t, "/netboot/kernel", NULL, NULL, NULL),
		-EEXIST);
	aur_tree_free(t);
}

static int build_report(void *ctx, struct aur_image *img)
{
	int *n = ctx;
	static const char text[] = "report";

	(*n)++;
	return aur_extmap_add_mem(&img->map, "report", text, 6);
}

static const struct aur_file_ops volatile_ops = {
	.build = build_report,
	.flags = AUR_FILE_VOLATILE,
};

static void volatile_files_build_per_open(void **state)
{
	struct aur_tree *t = aur_tree_new(7);
	struct aur_image *a, *b;
	const struct aur_image *kept;
	struct aur_node *n;
	int builds = 0;

	assert_int_equal(
		aur_tree_add_file(t, "/status", &volatile_ops, &builds, &n), 0);
	assert_int_equal(aur_node_image(n, &kept), 0);
	assert_int_equal(kept->map.size, 0);
	assert_int_equal(aur_node_open_image(n, &a), 0);
	assert_int_equal(aur_node_open_image(n, &b), 0);
	assert_ptr_not_equal(a, b);
	assert_int_equal(a->map.size, 6);
	assert_int_equal(builds, 2);
	aur_node_close_image(n, a);
	aur_node_close_image(n, b);
	aur_tree_free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(paths_and_lookups),
		cmocka_unit_test(builds_once_retries_failures),
		cmocka_unit_test(directories_fill_late),
		cmocka_unit_test(volatile_files_build_per_open),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
