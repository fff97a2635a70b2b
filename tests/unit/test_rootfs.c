// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Flattening layer tars into a rootfs: file types and metadata, data as
 * ranges of the layer, whiteouts, opaque directories, hard links, and
 * layers that cannot be right. The layers are written by libarchive.
 */
#include "test_helpers.h"

#include <aurora/rootfs.h>
#include <aurora/source.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include <archive.h>
#include <archive_entry.h>

/* A layer under construction, then a memory source over its bytes (both
 * owned by the rootfs once applied). */
struct layer {
	struct archive *a;
	uint8_t *buf;
	size_t cap, used;
};

static void layer_begin_sized(struct layer *l, size_t cap)
{
	l->cap = cap;
	l->buf = calloc(1, l->cap);
	l->a = archive_write_new();
	assert_non_null(l->buf);
	archive_write_set_format_pax_restricted(l->a);
	assert_int_equal(
		archive_write_open_memory(l->a, l->buf, l->cap, &l->used),
		ARCHIVE_OK);
}

static void layer_begin(struct layer *l)
{
	layer_begin_sized(l, 1 << 20);
}

static void add(struct layer *l, const char *path, mode_t mode,
		const char *data, const char *link, const char *hardlink)
{
	struct archive_entry *e = archive_entry_new();

	archive_entry_set_pathname(e, path);
	archive_entry_set_mode(e, mode);
	archive_entry_set_uid(e, 1000);
	archive_entry_set_gid(e, 100);
	archive_entry_set_mtime(e, 1700000000, 0);
	if (link)
		archive_entry_set_symlink(e, link);
	if (hardlink)
		archive_entry_set_hardlink(e, hardlink);
	if (S_ISCHR(mode))
		archive_entry_set_rdev(e, makedev(1, 3));
	if (!strcmp(path, "etc/caps"))
		archive_entry_xattr_add_entry(e, "security.capability", "\1\2",
					      2);
	archive_entry_set_size(e, data ? (la_int64_t)strlen(data) : 0);
	assert_int_equal(archive_write_header(l->a, e), ARCHIVE_OK);
	if (data)
		assert_int_equal(archive_write_data(l->a, data, strlen(data)),
				 (la_ssize_t)strlen(data));
	archive_entry_free(e);
}

static struct aur_source *mem_layer(uint8_t *buf, size_t len)
{
	struct aur_mem_source *ms = malloc(sizeof(*ms));

	assert_non_null(ms);
	aur_mem_source_init(ms, buf, len);
	return &ms->src;
}

static struct aur_source *layer_end(struct layer *l)
{
	assert_int_equal(archive_write_close(l->a), ARCHIVE_OK);
	archive_write_free(l->a);
	return mem_layer(l->buf, l->used);
}

static void layer_free(struct aur_source *src)
{
	struct aur_mem_source *ms = (struct aur_mem_source *)src;

	free((void *)ms->data);
	free(ms);
}

static void apply(struct aur_rootfs *fs, struct layer *l, int want)
{
	assert_int_equal(
		aur_rootfs_apply_layer(fs, layer_end(l), layer_free, "layer"),
		want);
}

static void contents_is(struct aur_rootfs *fs, const char *path,
			const char *want)
{
	char *buf = NULL;
	size_t len = 0;

	assert_int_equal(aur_rootfs_read_file(fs, path, 1 << 20, &buf, &len),
			 0);
	assert_int_equal(len, strlen(want));
	assert_memory_equal(buf, want, len);
	free(buf);
}

static void types_and_metadata(void **state)
{
	struct aur_rootfs *fs = aur_rootfs_new();
	struct layer l;
	struct aur_fnode *n;

	layer_begin(&l);
	add(&l, "etc/", S_IFDIR | 0750, NULL, NULL, NULL);
	add(&l, "etc/os-release", S_IFREG | 0644, "NAME=demo\n", NULL, NULL);
	add(&l, "etc/caps", S_IFREG | 0755, "x", NULL, NULL);
	add(&l, "./boot/vmlinuz-6.1", S_IFREG | 0600, "kernel!", NULL, NULL);
	add(&l, "boot/vmlinuz", S_IFLNK | 0777, NULL, "vmlinuz-6.1", NULL);
	add(&l, "/dev/null", S_IFCHR | 0666, NULL, NULL, NULL);
	add(&l, "run/fifo", S_IFIFO | 0600, NULL, NULL, NULL);
	add(&l, "empty", S_IFREG | 0644, "", NULL, NULL);
	/* a name that needs a pax header before the entry's own */
	add(&l,
	    "usr/share/a-directory-name-long-enough/to-need/an-extended-header/"
	    "because-ustar-stops-at-one-hundred-characters/file.txt",
	    S_IFREG | 0644, "long", NULL, NULL);
	apply(fs, &l, 0);
	contents_is(fs,
		    "usr/share/a-directory-name-long-enough/to-need/"
		    "an-extended-header/because-ustar-stops-at-one-hundred-"
		    "characters/file.txt",
		    "long");

	n = aur_rootfs_lookup(fs, "/etc", false);
	assert_non_null(n);
	assert_int_equal(n->mode, S_IFDIR | 0750);
	assert_int_equal(n->uid, 1000);
	assert_int_equal(n->gid, 100);
	assert_int_equal(n->mtime, 1700000000);
	contents_is(fs, "/etc/os-release", "NAME=demo\n");
	contents_is(fs, "boot/vmlinuz", "kernel!");
	n = aur_rootfs_lookup(fs, "/boot/vmlinuz", false);
	assert_int_equal(n->mode, S_IFLNK | 0777);
	assert_string_equal(n->target, "vmlinuz-6.1");
	assert_int_equal(n->size, 11);
	n = aur_rootfs_lookup(fs, "/dev/null", false);
	assert_int_equal(n->mode, S_IFCHR | 0666);
	assert_int_equal(n->rdev_major, 1);
	assert_int_equal(n->rdev_minor, 3);
	/* implicit parents are plain directories */
	n = aur_rootfs_lookup(fs, "/dev", false);
	assert_int_equal(n->mode, S_IFDIR | 0755);
	assert_int_equal(n->uid, 0);
	n = aur_rootfs_lookup(fs, "/run/fifo", false);
	assert_true(S_ISFIFO(n->mode));
	n = aur_rootfs_lookup(fs, "/etc/caps", false);
	assert_int_equal(n->nxattrs, 1);
	assert_string_equal(n->xattrs[0].name, "security.capability");
	assert_memory_equal(n->xattrs[0].value, "\1\2", 2);
	contents_is(fs, "/empty", "");
	/* children sorted: boot dev empty etc run */
	n = aur_rootfs_root(fs);
	assert_int_equal(n->nchildren, 6);
	assert_string_equal(n->children[0]->name, "boot");
	assert_string_equal(n->children[2]->name, "empty");
	assert_string_equal(n->children[4]->name, "run");
	/* root, etc, 2 files, boot, 2 entries, dev, null, run, fifo, empty,
	 * and the 7 levels of the long name */
	assert_int_equal(aur_rootfs_count(fs), 19);
	aur_rootfs_free(fs);
}

static void whiteouts_and_opaque_dirs(void **state)
{
	struct aur_rootfs *fs = aur_rootfs_new();
	struct layer l;
	struct aur_fnode *n;

	layer_begin(&l);
	add(&l, "a/x", S_IFREG | 0644, "x", NULL, NULL);
	add(&l, "a/y", S_IFREG | 0644, "y", NULL, NULL);
	add(&l, "d/1", S_IFREG | 0644, "1", NULL, NULL);
	add(&l, "d/sub/2", S_IFREG | 0644, "2", NULL, NULL);
	add(&l, "f", S_IFREG | 0644, "file", NULL, NULL);
	add(&l, "g", S_IFDIR | 0755, NULL, NULL, NULL);
	add(&l, "g/inside", S_IFREG | 0644, "in", NULL, NULL);
	apply(fs, &l, 0);

	layer_begin(&l);
	add(&l, "a/.wh.x", S_IFREG | 0644, "", NULL, NULL);
	/* the opaque marker comes after the layer's own d/3: still first */
	add(&l, "d/3", S_IFREG | 0644, "3", NULL, NULL);
	add(&l, "d/.wh..wh..opq", S_IFREG | 0644, "", NULL, NULL);
	add(&l, "f", S_IFDIR | 0700, NULL, NULL, NULL);
	add(&l, "g", S_IFREG | 0644, "now a file", NULL, NULL);
	add(&l, "a/.wh.never-there", S_IFREG | 0644, "", NULL, NULL);
	apply(fs, &l, 0);

	assert_null(aur_rootfs_lookup(fs, "/a/x", false));
	contents_is(fs, "/a/y", "y");
	n = aur_rootfs_lookup(fs, "/d", false);
	assert_int_equal(n->nchildren, 1);
	contents_is(fs, "/d/3", "3");
	n = aur_rootfs_lookup(fs, "/f", false);
	assert_int_equal(n->mode, S_IFDIR | 0700);
	contents_is(fs, "/g", "now a file");
	assert_null(aur_rootfs_lookup(fs, "/g/inside", false));
	/* whiteout files never show */
	assert_null(aur_rootfs_lookup(fs, "/a/.wh.x", false));
	assert_null(aur_rootfs_lookup(fs, "/d/.wh..wh..opq", false));
	aur_rootfs_free(fs);
}

static void directory_over_directory_keeps_children(void **state)
{
	struct aur_rootfs *fs = aur_rootfs_new();
	struct layer l;
	struct aur_fnode *n;

	layer_begin(&l);
	add(&l, "usr/bin/sh", S_IFREG | 0755, "#!", NULL, NULL);
	apply(fs, &l, 0);
	layer_begin(&l);
	add(&l, "usr", S_IFDIR | 0711, NULL, NULL, NULL);
	apply(fs, &l, 0);
	n = aur_rootfs_lookup(fs, "/usr", false);
	assert_int_equal(n->mode, S_IFDIR | 0711);
	contents_is(fs, "/usr/bin/sh", "#!");
	aur_rootfs_free(fs);
}

static void hard_links(void **state)
{
	struct aur_rootfs *fs = aur_rootfs_new();
	struct layer l;
	struct aur_fnode *f, *g;

	layer_begin(&l);
	add(&l, "bin/busybox", S_IFREG | 0755, "BB", NULL, NULL);
	add(&l, "bin/sh", S_IFREG | 0755, NULL, NULL, "bin/busybox");
	add(&l, "bin/ls", S_IFREG | 0755, NULL, NULL, "bin/busybox");
	apply(fs, &l, 0);
	f = aur_rootfs_lookup(fs, "/bin/busybox", false);
	g = aur_rootfs_lookup(fs, "/bin/sh", false);
	assert_ptr_equal(g->link, f);
	assert_int_equal(f->nlink, 3);
	contents_is(fs, "/bin/ls", "BB");

	/* the first name goes: another one keeps the data */
	layer_begin(&l);
	add(&l, "bin/.wh.busybox", S_IFREG | 0644, "", NULL, NULL);
	apply(fs, &l, 0);
	g = aur_rootfs_lookup(fs, "/bin/ls", false);
	contents_is(fs, "/bin/ls", "BB");
	contents_is(fs, "/bin/sh", "BB");
	f = (struct aur_fnode *)aur_fnode_inode(g);
	assert_int_equal(f->nlink, 2);
	assert_null(f->link);
	aur_rootfs_free(fs);
}

static void symlinks_are_followed_in_lookups(void **state)
{
	struct aur_rootfs *fs = aur_rootfs_new();
	struct layer l;

	layer_begin(&l);
	add(&l, "usr/lib/modules/6.1/vmlinuz", S_IFREG | 0644, "K", NULL, NULL);
	add(&l, "boot/vmlinuz", S_IFLNK | 0777, NULL,
	    "../usr/lib/modules/6.1/vmlinuz", NULL);
	add(&l, "boot/abs", S_IFLNK | 0777, NULL, "/boot/vmlinuz", NULL);
	add(&l, "lib", S_IFLNK | 0777, NULL, "usr/lib", NULL);
	add(&l, "loop1", S_IFLNK | 0777, NULL, "loop2", NULL);
	add(&l, "loop2", S_IFLNK | 0777, NULL, "loop1", NULL);
	apply(fs, &l, 0);
	contents_is(fs, "/boot/abs", "K");
	contents_is(fs, "/lib/modules/6.1/vmlinuz", "K");
	assert_null(aur_rootfs_lookup(fs, "/loop1", true));
	assert_int_equal(errno, ELOOP);
	assert_non_null(aur_rootfs_lookup(fs, "/loop1", false));
	aur_rootfs_free(fs);
}

static void bad_layers_are_refused(void **state)
{
	struct aur_rootfs *fs = aur_rootfs_new();
	struct layer l;

	capture_logs();
	layer_begin(&l);
	add(&l, "a/../../etc/passwd", S_IFREG | 0644, "x", NULL, NULL);
	apply(fs, &l, -EINVAL);
	assert_non_null(strstr(captured_logs(), "a/../../etc/passwd"));

	layer_begin(&l);
	add(&l, "bin/sh", S_IFREG | 0755, NULL, NULL, "bin/nothing");
	apply(fs, &l, -EINVAL);

	/* a tar cut short: the data of its last file is not there */
	layer_begin(&l);
	add(&l, "big", S_IFREG | 0644,
	    "0123456789012345678901234567890123456789", NULL, NULL);
	assert_int_equal(archive_write_close(l.a), ARCHIVE_OK);
	archive_write_free(l.a);
	assert_true(aur_rootfs_apply_layer(fs, mem_layer(l.buf, 512 + 20),
					   layer_free, "short") < 0);

	/* not a tar at all */
	layer_begin(&l);
	archive_write_close(l.a);
	archive_write_free(l.a);
	memset(l.buf, 'x', 4096);
	assert_int_equal(aur_rootfs_apply_layer(fs, mem_layer(l.buf, 4096),
						layer_free, "junk"),
			 -EINVAL);
	release_logs();
	aur_rootfs_free(fs);
}

/* Layers whose writer stopped right after the last file's data (umoci
 * 0.4.7's insert: no padding, no end-of-archive blocks) read as Go's
 * archive/tar reads them; a tar cut inside a header does not. */
static void unpadded_ends(void **state)
{
	/* two files of one block each: headers at 0 and 1024, the second
	 * file's 6 bytes of data at 1536 */
	const size_t second = 1024, data_end = 1536 + 6;
	struct aur_rootfs *fs = aur_rootfs_new();
	struct layer l;
	uint8_t *copy;

	capture_logs();
	layer_begin(&l);
	add(&l, "a", S_IFREG | 0644, "hello", NULL, NULL);
	add(&l, "b", S_IFREG | 0644, "world!", NULL, NULL);
	assert_int_equal(archive_write_close(l.a), ARCHIVE_OK);
	archive_write_free(l.a);
	copy = malloc(l.used);
	assert_non_null(copy);
	memcpy(copy, l.buf, l.used);

	assert_int_equal(aur_rootfs_apply_layer(fs, mem_layer(l.buf, data_end),
						layer_free, "unpadded"),
			 0);
	contents_is(fs, "/a", "hello");
	contents_is(fs, "/b", "world!");
	aur_rootfs_free(fs);

	/* at a header boundary, without the end blocks */
	fs = aur_rootfs_new();
	l.buf = malloc(l.used);
	assert_non_null(l.buf);
	memcpy(l.buf, copy, l.used);
	assert_int_equal(aur_rootfs_apply_layer(fs, mem_layer(l.buf, second),
						layer_free, "no end blocks"),
			 0);
	contents_is(fs, "/a", "hello");
	aur_rootfs_free(fs);

	/* inside the second header */
	fs = aur_rootfs_new();
	assert_true(aur_rootfs_apply_layer(fs, mem_layer(copy, second + 100),
					   layer_free, "cut header") < 0);
	assert_non_null(strstr(captured_logs(), "cut header"));
	release_logs();
	aur_rootfs_free(fs);
}

/* a memory source that counts the bytes read through it */
struct counting {
	struct aur_mem_source ms;
	uint64_t read;
};

static int counting_get_run(struct aur_source *src, uint64_t off, size_t n,
			    struct aur_run *run)
{
	struct counting *c = (struct counting *)src;

	c->read += n;
	run->kind = AUR_RUN_MEM;
	run->mem = c->ms.data + off;
	run->len = n;
	return 0;
}

static const struct aur_source_ops counting_ops = {.get_run = counting_get_run};

static void counting_free(struct aur_source *src)
{
	free((void *)((struct counting *)src)->ms.data);
}

static void only_headers_are_read(void **state)
{
	struct aur_rootfs *fs = aur_rootfs_new();
	char *big = malloc(8 << 20);
	struct counting c;
	struct layer l;

	memset(big, 'b', 8 << 20);
	big[(8 << 20) - 1] = '\0';
	layer_begin_sized(&l, 20 << 20);
	add(&l, "big1", S_IFREG | 0644, big, NULL, NULL);
	add(&l, "big2", S_IFREG | 0644, big, NULL, NULL);
	add(&l, "small", S_IFREG | 0644, "s", NULL, NULL);
	assert_int_equal(archive_write_close(l.a), ARCHIVE_OK);
	archive_write_free(l.a);
	aur_mem_source_init(&c.ms, l.buf, l.used);
	c.ms.src.ops = &counting_ops;
	c.read = 0;
	assert_int_equal(aur_rootfs_apply_layer(fs, &c.ms.src, NULL, "big"), 0);
	/* 16 MiB of data skipped: well under 1 MiB read for three headers */
	assert_true(c.read < (1 << 20));
	contents_is(fs, "/small", "s");
	assert_int_equal(aur_rootfs_lookup(fs, "/big2", false)->size,
			 (8 << 20) - 1);
	aur_rootfs_free(fs);
	counting_free(&c.ms.src);
	free(big);
}

static int count_paths(void *ctx, struct aur_fnode *n)
{
	char path[256];

	assert_int_equal(aur_fnode_path(n, path, sizeof(path)), 0);
	assert_ptr_equal(aur_rootfs_lookup(ctx, path, false), n);
	return 0;
}

static void paths_round_trip(void **state)
{
	struct aur_rootfs *fs = aur_rootfs_new();
	struct layer l;
	char path[8];

	layer_begin(&l);
	add(&l, "a/b/c/d", S_IFREG | 0644, "d", NULL, NULL);
	add(&l, "a/e", S_IFREG | 0644, "e", NULL, NULL);
	apply(fs, &l, 0);
	assert_int_equal(aur_rootfs_walk(fs, count_paths, fs), 0);
	assert_int_equal(aur_fnode_path(aur_rootfs_lookup(fs, "/a/b/c/d", 0),
					path, sizeof(path)),
			 -ENAMETOOLONG);
	aur_rootfs_free(fs);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(types_and_metadata),
		cmocka_unit_test(whiteouts_and_opaque_dirs),
		cmocka_unit_test(directory_over_directory_keeps_children),
		cmocka_unit_test(hard_links),
		cmocka_unit_test(symlinks_are_followed_in_lookups),
		cmocka_unit_test(bad_layers_are_refused),
		cmocka_unit_test(unpadded_ends),
		cmocka_unit_test(paths_round_trip),
		cmocka_unit_test(only_headers_are_read),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
