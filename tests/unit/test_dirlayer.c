// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * A directory snapshotted as a layer: everything the tree has comes back
 * through the layer, the tar is the same for the same tree, excluded
 * directories stay empty.
 */
#include "test_helpers.h"

#include <aurora/dirlayer.h>
#include <aurora/rootfs.h>
#include <aurora/source.h>
#include <aurora/util.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

static char *at(const char *dir, const char *rel)
{
	return aur_printf("%s/%s", dir, rel);
}

static void make_tree(const char *root)
{
	char *p;

	p = at(root, "etc");
	assert_int_equal(mkdir(p, 0750), 0);
	free(p);
	p = at(root, "etc/hostname");
	write_file(p, "demo\n", 5);
	assert_int_equal(chmod(p, 0600), 0);
	assert_int_equal(chown(p, 12, 34), 0);
	/* user xattrs need a filesystem that has them: best effort */
	setxattr(p, "user.aurorafs", "yes", 3, 0);
	free(p);
	p = at(root, "bin");
	assert_int_equal(mkdir(p, 0755), 0);
	free(p);
	p = at(root, "bin/busybox");
	write_file(p, "BB", 2);
	free(p);
	{
		char *a = at(root, "bin/busybox"), *b = at(root, "bin/sh");

		assert_int_equal(link(a, b), 0);
		free(a);
		free(b);
	}
	p = at(root, "bin/ls");
	assert_int_equal(symlink("busybox", p), 0);
	free(p);
	p = at(root, "proc");
	assert_int_equal(mkdir(p, 0555), 0);
	free(p);
	p = at(root, "proc/junk");
	write_file(p, "not kept", 8);
	free(p);
	p = at(root, "run-fifo");
	assert_int_equal(mkfifo(p, 0644), 0);
	free(p);
}

static void mem_close(struct aur_source *src)
{
	struct aur_file_source *fs = (struct aur_file_source *)src;

	aur_file_source_close(fs);
	free(fs);
}

static struct aur_rootfs *flatten(const char *tar)
{
	struct aur_rootfs *fs = aur_rootfs_new();
	struct aur_file_source *src = malloc(sizeof(*src));

	assert_int_equal(aur_file_source_open(src, tar), 0);
	assert_int_equal(
		aur_rootfs_apply_layer(fs, &src->src, mem_close, "snapshot"),
		0);
	return fs;
}

static void snapshots_a_tree(void **state)
{
	char *dir = make_temp_dir();
	char *root = at(dir, "root"), *store = at(dir, "state");
	const char *const exclude[] = {"proc", NULL};
	char *tar = NULL, *tar2 = NULL, *buf;
	char d1[65], d2[65], d3[65];
	struct aur_rootfs *fs;
	struct aur_fnode *n;
	size_t len;

	assert_int_equal(mkdir(root, 0755), 0);
	make_tree(root);
	assert_int_equal(aur_dir_layer(store, root, exclude, &tar, d1), 0);
	assert_non_null(strstr(tar, d1));
	fs = flatten(tar);
	assert_int_equal(
		aur_rootfs_read_file(fs, "/etc/hostname", 100, &buf, &len), 0);
	assert_memory_equal(buf, "demo\n", 5);
	free(buf);
	n = aur_rootfs_lookup(fs, "/etc/hostname", false);
	assert_int_equal(n->mode, S_IFREG | 0600);
	assert_int_equal(n->uid, 12);
	assert_int_equal(n->gid, 34);
	if (n->nxattrs) {
		assert_string_equal(n->xattrs[0].name, "user.aurorafs");
		assert_memory_equal(n->xattrs[0].value, "yes", 3);
	}
	assert_int_equal(aur_rootfs_lookup(fs, "/etc", false)->mode,
			 S_IFDIR | 0750);
	n = aur_rootfs_lookup(fs, "/bin/sh", false);
	assert_int_equal(aur_fnode_inode(n)->nlink, 2);
	assert_int_equal(aur_rootfs_read_file(fs, "/bin/sh", 100, &buf, &len),
			 0);
	assert_memory_equal(buf, "BB", 2);
	free(buf);
	assert_string_equal(aur_rootfs_lookup(fs, "/bin/ls", false)->target,
			    "busybox");
	assert_true(S_ISFIFO(aur_rootfs_lookup(fs, "/run-fifo", false)->mode));
	/* excluded: kept as an empty directory */
	n = aur_rootfs_lookup(fs, "/proc", false);
	assert_non_null(n);
	assert_int_equal(n->nchildren, 0);
	aur_rootfs_free(fs);

	/* the same tree, the same tar; a change, another one */
	assert_int_equal(aur_dir_layer(store, root, exclude, &tar2, d2), 0);
	assert_string_equal(d1, d2);
	free(tar2);
	buf = at(root, "etc/hostname");
	write_file(buf, "other\n", 6);
	free(buf);
	assert_int_equal(aur_dir_layer(store, root, exclude, &tar2, d3), 0);
	assert_string_not_equal(d1, d3);
	free(tar2);
	free(tar);

	capture_logs();
	buf = at(dir, "missing");
	assert_int_equal(aur_dir_layer(store, buf, NULL, &tar, d1), -ENOENT);
	assert_non_null(strstr(captured_logs(), "missing"));
	free(buf);
	release_logs();
	remove_tree(dir);
	free(dir);
	free(root);
	free(store);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(snapshots_a_tree),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
