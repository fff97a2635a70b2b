// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The squashfs writer, checked through readers it did not write
 * (sqfs_check.h), and aurorafs's reader of a release's squashfs
 * (sqfs_rootfs.h): a tree with every kind of file, random trees (the seed
 * is printed; AUR_SQFS_SEED repeats a run, AUR_SQFS_ROUNDS sets how many
 * trees), byte-identical output whatever the threads, the demo OS, and
 * every error the writer must report.
 */
#include "sqfs_check.h"
#include "squashfs_i.h"
#include "test_helpers.h"

#include <aurora/rootfs.h>
#include <aurora/source.h>
#include <aurora/squashfs.h>
#include <aurora/sqfs_rootfs.h>
#include <aurora/util.h>

#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sqfs/block.h>
#include <zlib.h>

#if defined(__SANITIZE_ADDRESS__)
#define SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SANITIZED 1
#endif
#endif
#ifndef SANITIZED
#define SANITIZED 0
#endif

#define MIB (1u << 20)

/* The running test's temporary directory, removed by teardown(). */
static char *scratch;

static char *temp_dir(void)
{
	scratch = make_temp_dir();
	return scratch;
}

/* Whatever a failed test left: a mount, files, a log sink. */
static int teardown(void **state)
{
	check_cleanup();
	if (scratch)
		remove_tree(scratch);
	free(scratch);
	scratch = NULL;
	release_logs();
	return 0;
}

static const char *const all_comps[] = {"gzip", "xz", "zstd", "none"};

/* ---- building trees ---- */

/* File data owned by the rootfs that points into it. */
struct owned_mem {
	struct aur_mem_source ms;
	uint8_t *data;
};

static void close_owned(struct aur_source *src)
{
	struct owned_mem *m = (struct owned_mem *)src;

	free(m->data);
	free(m);
}

/* A regular file at @path holding @data (@len bytes, malloc'd: the rootfs
 * takes it). */
static struct aur_fnode *put_file(struct aur_rootfs *fs, const char *path,
				  uint8_t *data, size_t len, uint32_t mode)
{
	struct owned_mem *m = malloc(sizeof(*m));
	struct aur_fnode proto = {.mode = S_IFREG | mode, .mtime = 1700000000};
	struct aur_fnode *n;

	assert_non_null(m);
	m->data = data;
	aur_mem_source_init(&m->ms, data, len);
	assert_int_equal(aur_rootfs_adopt_source(fs, &m->ms.src, close_owned),
			 0);
	proto.size = len;
	proto.src = &m->ms.src;
	n = aur_rootfs_put(fs, path, &proto);
	assert_non_null(n);
	return n;
}

static uint8_t *pattern(size_t len, unsigned seed)
{
	uint8_t *p = malloc(len ? len : 1);

	assert_non_null(p);
	for (size_t i = 0; i < len; i++)
		p[i] = (uint8_t)((i * 131 + seed) ^ (i >> 9));
	return p;
}

static struct aur_fnode *put_node(struct aur_rootfs *fs, const char *path,
				  uint32_t mode, const char *target,
				  uint32_t major, uint32_t minor)
{
	struct aur_fnode proto = {.mode = mode,
				  .mtime = 1600000000,
				  .target = (char *)target,
				  .rdev_major = major,
				  .rdev_minor = minor};
	struct aur_fnode *n = aur_rootfs_put(fs, path, &proto);

	assert_non_null(n);
	return n;
}

static void set_xattr(struct aur_rootfs *fs, struct aur_fnode *n,
		      const char *name, const void *value, size_t len)
{
	assert_int_equal(aur_rootfs_set_xattr(fs, n, name, value, len), 0);
}

/* A valid security.capability value (v2, cap_net_bind_service). */
static const uint8_t capability[20] = {1, 0, 0, 2, 0, 0x20};

/* Write @fs to @img; checks the size of the file against the result. */
static int64_t write_image(const struct aur_rootfs *fs,
			   const struct aur_sqfs_opts *o, const char *img)
{
	int fd = open(img, O_RDWR | O_CREAT | O_TRUNC, 0644);
	struct stat st;
	int64_t size;

	assert_true(fd >= 0);
	size = aur_squashfs_write(fs, o, fd);
	if (size >= 0) {
		assert_int_equal(fstat(fd, &st), 0);
		assert_int_equal(st.st_size, size);
		assert_int_equal(size % 4096, 0);
	}
	close(fd);
	return size;
}

/* ---- read back by aurorafs's own squashfs reader ---- */

struct read_back {
	const struct aur_rootfs *got;
	size_t seen;
};

static void same_bytes(const struct aur_fnode *a, const struct aur_fnode *b,
		       const char *path)
{
	static uint8_t x[65536], y[65536];

	for (uint64_t off = 0; off < a->size; off += sizeof(x)) {
		size_t n = (size_t)AUR_MIN((uint64_t)sizeof(x), a->size - off);

		assert_int_equal(aur_source_pread(a->src, x, n, a->off + off),
				 n);
		if (aur_source_pread(b->src, y, n, b->off + off) !=
			    (ssize_t)n ||
		    memcmp(x, y, n) != 0)
			fail_msg("%s: the bytes at %llu differ", path,
				 (unsigned long long)off);
	}
}

static int compare_node(void *ctx, struct aur_fnode *n)
{
	struct read_back *rb = ctx;
	const struct aur_fnode *want = aur_fnode_inode(n), *got;
	/* squashfs keeps unsigned 32-bit times (squashfs.h) */
	int64_t mtime = AUR_MIN(AUR_MAX(want->mtime, 0), (int64_t)UINT32_MAX);
	char path[PATH_MAX];

	assert_int_equal(aur_fnode_path(n, path, sizeof(path)), 0);
	got = aur_rootfs_lookup(rb->got, path, false);
	if (!got)
		fail_msg("%s: not read back", path);
	got = aur_fnode_inode(got);
	if (got->mode != want->mode || got->uid != want->uid ||
	    got->gid != want->gid || got->mtime != mtime)
		fail_msg("%s: mode %o %u:%u time %lld read back as %o %u:%u "
			 "%lld",
			 path, want->mode, want->uid, want->gid,
			 (long long)mtime, got->mode, got->uid, got->gid,
			 (long long)got->mtime);
	if (S_ISLNK(want->mode) && strcmp(got->target, want->target) != 0)
		fail_msg("%s: target '%s' read back as '%s'", path,
			 want->target, got->target);
	if ((S_ISCHR(want->mode) || S_ISBLK(want->mode)) &&
	    (got->rdev_major != want->rdev_major ||
	     got->rdev_minor != want->rdev_minor))
		fail_msg("%s: device numbers differ", path);
	if (S_ISREG(want->mode)) {
		if (got->size != want->size)
			fail_msg("%s: %llu bytes read back as %llu", path,
				 (unsigned long long)want->size,
				 (unsigned long long)got->size);
		same_bytes(want, got, path);
	}
	rb->seen++;
	return 0;
}

/* @img, read by aur_squashfs_rootfs, is @fs (but for xattrs, which that
 * reader leaves out): every name, its metadata, every file's bytes. */
static void check_read_back(const struct aur_rootfs *fs, const char *img)
{
	struct aur_file_source src;
	struct read_back rb = {0};
	struct aur_rootfs *got;

	assert_int_equal(aur_file_source_open(&src, img), 0);
	assert_int_equal(aur_squashfs_rootfs(&src.src, img, &got), 0);
	rb.got = got;
	assert_int_equal(aur_rootfs_walk(fs, compare_node, &rb), 0);
	assert_int_equal(aur_rootfs_count(got), rb.seen);
	aur_rootfs_free(got);
	aur_file_source_close(&src);
}

static bool have_readers(void)
{
	if (have_tool("unsquashfs"))
		return true;
	print_message("unsquashfs not found: skipped\n");
	return false;
}

/* ---- a tree with every kind of file ---- */

#define FEATURE_BLOCK (64u << 10)

static void feature_files(struct aur_rootfs *fs)
{
	uint8_t *holes = calloc(1, 4 * FEATURE_BLOCK + 100);

	put_file(fs, "empty", malloc(1), 0, 0644);
	put_file(fs, "one", pattern(1, 1), 1, 0600);
	put_file(fs, "exact1", pattern(FEATURE_BLOCK, 2), FEATURE_BLOCK, 0644);
	put_file(fs, "exact3", pattern(3 * FEATURE_BLOCK, 3), 3 * FEATURE_BLOCK,
		 0644);
	put_file(fs, "tail", pattern(2 * FEATURE_BLOCK + 1234, 4),
		 2 * FEATURE_BLOCK + 1234, 0755);
	put_file(fs, "big", pattern(5 * MIB + 77, 5), 5 * MIB + 77, 04755);
	/* zero blocks (stored sparse) between data, and a zero tail */
	assert_non_null(holes);
	memset(holes + FEATURE_BLOCK, 'x', 10);
	put_file(fs, "holes", holes, 4 * FEATURE_BLOCK + 100, 0644);
	put_file(fs, "usr/share/doc/readme", pattern(3000, 6), 3000, 0444);
	put_file(fs, "usr/share/doc/readme-copy", pattern(3000, 6), 3000,
		 0444); /* the same tail end twice */
	put_file(fs, "usr/bin/su", pattern(40000, 7), 40000, 04755);
	put_file(fs, "usr/bin/sg", pattern(30000, 8), 30000, 02711);
}

static void feature_specials(struct aur_rootfs *fs)
{
	char target[4096];
	struct aur_fnode *n;

	memset(target, 'l', 4095);
	target[4095] = '\0';
	memcpy(target, "../", 3);
	put_node(fs, "links/long", S_IFLNK | 0777, target, 0, 0);
	put_node(fs, "links/rel", S_IFLNK | 0777, "../one", 0, 0);
	put_node(fs, "links/abs", S_IFLNK | 0777, "/usr/bin/su", 0, 0);
	put_node(fs, "dev/null", S_IFCHR | 0666, NULL, 1, 3);
	put_node(fs, "dev/sda", S_IFBLK | 0660, NULL, 8, 0);
	put_node(fs, "dev/biggest", S_IFCHR | 0600, NULL, 4095, 1048575);
	put_node(fs, "run/fifo", S_IFIFO | 0644, NULL, 0, 0);
	put_node(fs, "run/sock", S_IFSOCK | 0755, NULL, 0, 0);
	put_node(fs, "tmp", S_IFDIR | 01777, NULL, 0, 0);
	n = put_node(fs, "owned", S_IFDIR | 0750, NULL, 0, 0);
	n->uid = 1000;
	n->gid = 4294967294u;
	n = put_node(fs, "owned/by-nobody", S_IFREG | 0644, NULL, 0, 0);
	n->uid = 65534;
	n->gid = 100000;
	n->mtime = -5; /* before 1970: squashfs keeps 0 */
	n = put_node(fs, "owned/future", S_IFREG | 0644, NULL, 0, 0);
	n->mtime = 5000000000; /* after 2106: the largest time */
}

static void feature_links_xattrs(struct aur_rootfs *fs)
{
	struct aur_fnode *n =
		put_file(fs, "hl/a", pattern(100000, 9), 100000, 0755);
	uint8_t *big;

	set_xattr(fs, n, "user.comment", "hard-linked", 11);
	assert_non_null(aur_rootfs_hardlink(fs, "hl/b", "hl/a"));
	assert_non_null(aur_rootfs_hardlink(fs, "owned/c", "hl/a"));
	assert_non_null(aur_rootfs_hardlink(fs, "run/fifo2", "run/fifo"));
	assert_non_null(aur_rootfs_hardlink(fs, "links/rel2", "links/rel"));
	n = aur_rootfs_lookup(fs, "usr/bin/su", false);
	set_xattr(fs, n, "security.capability", capability, sizeof(capability));
	set_xattr(fs, n, "trusted.overlay.opaque", "y", 1);
	set_xattr(fs, n, "user.empty", "", 0);
	n = aur_rootfs_lookup(fs, "usr/bin/sg", false);
	set_xattr(fs, n, "security.capability", capability,
		  sizeof(capability)); /* the same set twice */
	set_xattr(fs, n, "trusted.overlay.opaque", "y", 1);
	set_xattr(fs, n, "user.empty", "", 0);
	n = aur_rootfs_lookup(fs, "usr/share", false);
	big = pattern(3000, 10);
	set_xattr(fs, n, "user.big", big, 3000);
	free(big);
	n = aur_rootfs_lookup(fs, "links/abs", false);
	set_xattr(fs, n, "trusted.on-a-symlink", "1", 1);
	n = aur_rootfs_lookup(fs, "dev/null", false);
	set_xattr(fs, n, "trusted.on-a-device", "2", 1);
}

/* A directory whose listing is over 64 KiB (an extended directory inode
 * with an index) with names in byte order, non-ASCII ones last, and a
 * deep one. */
static void feature_dirs(struct aur_rootfs *fs)
{
	char path[PATH_MAX];
	size_t len = 0;

	for (int i = 0; i < 2000; i++) {
		snprintf(path, sizeof(path),
			 i % 10 ? "many/entry-%05d-with-a-longer-name"
				: "many/\xc3\xa9t\xc3\xa9-%05d-\xff\x01 name",
			 i);
		put_file(fs, path, pattern((size_t)i % 300, (unsigned)i),
			 (size_t)i % 300, 0644);
	}
	for (int i = 0; i < 40; i++)
		len += (size_t)snprintf(path + len, sizeof(path) - len,
					"%sd%02d", i ? "/" : "deep/", i);
	put_node(fs, path, S_IFDIR | 0700, NULL, 0, 0);
	snprintf(path + len, sizeof(path) - len, "/%0255d", 7);
	put_file(fs, path, pattern(10, 11), 10, 0644);
}

static struct aur_rootfs *feature_tree(void)
{
	struct aur_rootfs *fs = aur_rootfs_new();

	assert_non_null(fs);
	feature_files(fs);
	feature_specials(fs);
	feature_links_xattrs(fs);
	feature_dirs(fs);
	return fs;
}

/* GRUB 2.06 reads the first 64 KiB of a directory listing only (it
 * truncates the size of an extended directory to 16 bits, for mksquashfs's
 * images too): /many/entry-01999... is out of its reach. */
static const char *const feature_grub_paths[] = {
	"/empty",  "/one",
	"/exact1", "/exact3",
	"/tail",   "/big",
	"/holes",  "/usr/share/doc/readme",
	"/hl/b",   "/many/entry-00001-with-a-longer-name",
	NULL};

/* /many is an extended directory with an index, says rdsquashfs -s. */
static void check_dir_index(const char *img, const char *tmp)
{
	AUR_AUTOFREE char *out = aur_printf("%s/stat", tmp);
	const char *argv[] = {"rdsquashfs", "-s", "/many", img, NULL};
	const char *count;
	char *text;
	size_t len;

	if (!have_tool("rdsquashfs"))
		return;
	assert_int_equal(run(argv, out), 0);
	assert_int_equal(aur_read_file(out, 1u << 20, &text, &len), 0);
	count = strstr(text, "Directory index entries: ");
	if (!strstr(text, "extended directory") || !count ||
	    strtoul(count + strlen("Directory index entries: "), NULL, 10) < 2)
		fail_msg("/many has no directory index:\n%s", text);
	free(text);
}

static void test_features(void **state)
{
	struct aur_rootfs *fs;
	char *tmp;

	if (!have_readers())
		return;
	fs = feature_tree();
	tmp = temp_dir();
	for (size_t i = 0; i < AUR_ARRAY_SIZE(all_comps); i++) {
		AUR_AUTOFREE char *img = aur_printf("%s/f.sqfs", tmp);
		struct aur_sqfs_opts o = {.block_size = FEATURE_BLOCK};

		assert_int_equal(
			aur_sqfs_compression_parse(all_comps[i], &o.comp), 0);
		print_message("features: %s\n", all_comps[i]);
		assert_true(write_image(fs, &o, img) > 0);
		check_listing(fs, img);
		check_unsquashfs(fs, img, tmp);
		if (o.comp == AUR_SQFS_GZIP && have_tool("rdsquashfs"))
			check_rdsquashfs(fs, img, tmp); /* slow: once */
		check_dir_index(img, tmp);
		check_kernel(fs, img, tmp);
		check_read_back(fs, img);
		if (o.comp != AUR_SQFS_ZSTD && have_tool("grub-fstest"))
			check_grub(fs, img, tmp, feature_grub_paths);
	}
	aur_rootfs_free(fs);
}

/* GRUB 2.06 reads zlib, lzo and xz only: a zstd image is refused, as the
 * header says. */
static void test_grub_refuses_zstd(void **state)
{
	struct aur_rootfs *fs = aur_rootfs_new();
	struct aur_sqfs_opts o = {.comp = AUR_SQFS_ZSTD};
	char *tmp = temp_dir();
	AUR_AUTOFREE char *img = aur_printf("%s/z.sqfs", tmp);
	const char *argv[] = {"grub-fstest", img, "cat", "/f", NULL};

	put_file(fs, "f", pattern(100, 1), 100, 0644);
	assert_true(write_image(fs, &o, img) > 0);
	if (have_tool("grub-fstest"))
		assert_int_not_equal(run(argv, NULL), 0);
	aur_rootfs_free(fs);
}

/* No tail end anywhere: no fragment block, an empty fragment table at a
 * real offset, which GRUB needs. */
static void test_no_fragments(void **state)
{
	static const char *const paths[] = {"/a", "/b", NULL};
	struct aur_rootfs *fs = aur_rootfs_new();
	char *tmp = temp_dir();
	AUR_AUTOFREE char *img = aur_printf("%s/nf.sqfs", tmp);

	put_file(fs, "a", pattern(8192, 1), 8192, 0644);
	put_file(fs, "b", pattern(4096, 2), 4096, 0644);
	put_file(fs, "c", malloc(1), 0, 0644);
	for (size_t i = 0; i < AUR_ARRAY_SIZE(all_comps); i++) {
		struct aur_sqfs_opts o = {.block_size = 4096};

		assert_int_equal(
			aur_sqfs_compression_parse(all_comps[i], &o.comp), 0);
		assert_true(write_image(fs, &o, img) > 0);
		if (!have_readers())
			continue;
		check_listing(fs, img);
		check_unsquashfs(fs, img, tmp);
		check_kernel(fs, img, tmp);
		check_read_back(fs, img);
		if (o.comp != AUR_SQFS_ZSTD && have_tool("grub-fstest"))
			check_grub(fs, img, tmp, paths);
	}
	aur_rootfs_free(fs);
}

/* Nothing but the root directory. */
static void test_empty_tree(void **state)
{
	struct aur_rootfs *fs = aur_rootfs_new();
	char *tmp = temp_dir();
	AUR_AUTOFREE char *img = aur_printf("%s/empty.sqfs", tmp);
	const char *argv[] = {"grub-fstest", img, "ls", "/", NULL};

	aur_rootfs_root(fs)->mtime = 1234567890;
	aur_rootfs_root(fs)->mode = S_IFDIR | 0700;
	assert_int_equal(write_image(fs, NULL, img), 4096);
	if (have_readers()) {
		check_listing(fs, img);
		check_unsquashfs(fs, img, tmp);
		check_kernel(fs, img, tmp);
	}
	if (have_tool("grub-fstest"))
		assert_int_equal(run(argv, NULL), 0);
	aur_rootfs_free(fs);
}

/* ---- random trees ---- */

struct rnd {
	uint64_t s;
};

static uint64_t rnd_next(struct rnd *r)
{
	uint64_t z = (r->s += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static uint32_t below(struct rnd *r, uint32_t n)
{
	return (uint32_t)(rnd_next(r) % n);
}

static bool chance(struct rnd *r, unsigned percent)
{
	return below(r, 100) < percent;
}

struct gen {
	struct rnd r;
	struct aur_rootfs *fs;
	char **dirs, **others; /* paths, for parents and hard links */
	size_t ndirs, nothers;
	uint64_t budget; /* file data still to make */
	uint32_t block_size;
	bool root;
	const char *grub[4]; /* plain names GRUB's shell can take */
	size_t ngrub;
};

static const char safe_chars[] =
	"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-";

/* A name of any bytes but '/', NUL and newline (the listing is read by
 * lines); *@safe says whether it is only safe_chars. */
static void random_name(struct rnd *r, char *buf, bool *safe)
{
	size_t len = chance(r, 3) ? 200 + below(r, 56) : 1 + below(r, 24);
	bool weird = chance(r, 25);

	*safe = true;
	for (size_t i = 0; i < len; i++) {
		char c = safe_chars[below(r, sizeof(safe_chars) - 1)];

		if (weird && chance(r, 30)) {
			do
				c = (char)(1 + below(r, 255));
			while (c == '/' || c == '\n');
			*safe = *safe && strchr(safe_chars, c);
		}
		buf[i] = c;
	}
	buf[len] = '\0';
	if (strcmp(buf, ".") == 0 || strcmp(buf, "..") == 0)
		buf[0] = 'x';
}

/* Bytes that compress well, badly, or not at all. */
static void fill(struct rnd *r, uint8_t *p, size_t len)
{
	size_t chunk = 4096;

	for (size_t at = 0; at < len; at += chunk) {
		size_t n = AUR_MIN(chunk, len - at);
		unsigned kind = below(r, 5);
		uint64_t v = rnd_next(r);

		for (size_t i = 0; i < n; i++) {
			if (kind == 0)
				p[at + i] = (uint8_t)rnd_next(r);
			else if (kind == 1)
				p[at + i] = 0;
			else if (kind == 2)
				p[at +
				  i] = (uint8_t)("etaoin shrdlu\n"[rnd_next(r) %
								   14]);
			else
				p[at + i] = (uint8_t)(v >> (8 * (i % 8)));
		}
	}
}

static size_t random_size(struct gen *g)
{
	uint32_t bs = g->block_size;
	unsigned k = below(&g->r, 100);
	uint64_t size;

	if (k < 10)
		size = 0;
	else if (k < 45)
		size = below(&g->r, 4096);
	else if (k < 75)
		size = below(&g->r, 100 << 10);
	else if (k < 83)
		size = (uint64_t)bs * (1 + below(&g->r, 3));
	else if (k < 93)
		size = (uint64_t)bs * (1 + below(&g->r, 3)) + below(&g->r, bs);
	else
		size = below(&g->r, 3 * MIB);
	size = AUR_MIN(size, g->budget);
	g->budget -= size;
	return (size_t)size;
}

static void add_path(char ***v, size_t *n, const char *path)
{
	char **p = realloc(*v, (*n + 1) * sizeof(**v));

	assert_non_null(p);
	*v = p;
	p[*n] = strdup(path);
	assert_non_null(p[*n]);
	(*n)++;
}

static uint32_t random_mode(struct gen *g, uint32_t type)
{
	static const uint32_t files[] = {0644,	0755, 0600, 0444, 04755,
					 02755, 0777, 0640, 0};
	static const uint32_t dirs[] = {0755, 0700, 01777, 0555, 0750};
	uint32_t mode = type == S_IFDIR
				? dirs[below(&g->r, AUR_ARRAY_SIZE(dirs))]
				: files[below(&g->r, AUR_ARRAY_SIZE(files))];

	if (!g->root) /* we must read what unsquashfs makes */
		mode |= type == S_IFDIR ? 0700 : 0600;
	return type | mode;
}

static void random_meta(struct gen *g, struct aur_fnode *n)
{
	static const uint32_t ids[] = {0,     1,      2,	  1000,
				       65534, 100000, 4294967294u};
	unsigned k = below(&g->r, 100);

	n->uid = ids[below(&g->r, AUR_ARRAY_SIZE(ids))];
	n->gid = ids[below(&g->r, AUR_ARRAY_SIZE(ids))];
	if (k < 80)
		n->mtime = below(&g->r, 1u << 31);
	else if (k < 90)
		n->mtime = (int64_t)(1u << 31) + below(&g->r, 1u << 31);
	else if (k < 95)
		n->mtime = -(int64_t)below(&g->r, 1u << 30);
	else
		n->mtime = (int64_t)UINT32_MAX + 1 + below(&g->r, 1u << 30);
}

/* The value bytes one node's xattrs may hold in all: unsquashfs extracts
 * them onto the host's filesystem, and ext4 keeps an inode's xattrs in
 * one 4 KiB block (names and headers included). */
#define XATTR_BUDGET 3000

static void random_xattrs(struct gen *g, struct aur_fnode *n)
{
	bool plain = S_ISREG(n->mode) || S_ISDIR(n->mode);
	unsigned count = chance(&g->r, 25) ? 1 + below(&g->r, 3) : 0;
	size_t budget = XATTR_BUDGET;

	for (unsigned i = 0; i < count; i++) {
		size_t drawn = chance(&g->r, 10) ? below(&g->r, 2000)
						 : below(&g->r, 64);
		size_t len = AUR_MIN(drawn, budget);
		uint8_t *v = malloc(len + 1);
		char name[64];
		unsigned kind = plain ? below(&g->r, 4) : 0;

		assert_non_null(v);
		fill(&g->r, v, len);
		snprintf(name, sizeof(name), "%s.k%u",
			 kind == 1   ? "user"
			 : kind == 2 ? "security"
				     : "trusted",
			 below(&g->r, 5));
		if (kind == 3 && S_ISREG(n->mode))
			set_xattr(g->fs, n, "security.capability", capability,
				  sizeof(capability));
		else
			set_xattr(g->fs, n, name, v, len);
		budget -= len;
		free(v);
	}
}

/* A new name under a random directory (whole path under 3000 bytes). */
static bool random_path(struct gen *g, char *path, bool *safe)
{
	const char *parent = g->dirs[below(&g->r, (uint32_t)g->ndirs)];
	char name[256];

	random_name(&g->r, name, safe);
	if (strlen(parent) + strlen(name) > 3000)
		return false;
	snprintf(path, PATH_MAX, "%s/%s", parent, name);
	*safe = *safe &&
		strspn(parent, "/abcdefghijklmnopqrstuvwxyz"
			       "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") ==
			strlen(parent);
	return !aur_rootfs_lookup(g->fs, path, false);
}

static void random_file(struct gen *g, const char *path, bool safe)
{
	size_t len = random_size(g);
	uint8_t *data = malloc(len ? len : 1);
	struct aur_fnode *n;

	assert_non_null(data);
	fill(&g->r, data, len);
	n = put_file(g->fs, path, data, len, 0);
	n->mode = random_mode(g, S_IFREG);
	random_meta(g, n);
	random_xattrs(g, n);
	add_path(&g->others, &g->nothers, path);
	if (safe && len > 0 && g->ngrub < AUR_ARRAY_SIZE(g->grub) - 1)
		g->grub[g->ngrub++] = g->others[g->nothers - 1];
}

static void random_entry(struct gen *g)
{
	char path[PATH_MAX], target[PATH_MAX];
	unsigned k = below(&g->r, 100);
	struct aur_fnode *n;
	bool safe;

	if (!random_path(g, path, &safe))
		return;
	if (k < 50) {
		random_file(g, path, safe);
		return;
	}
	if (k < 58 && g->nothers > 0) {
		assert_non_null(aur_rootfs_hardlink(
			g->fs, path,
			g->others[below(&g->r, (uint32_t)g->nothers)]));
		return;
	}
	if (k < 72) {
		n = put_node(g->fs, path, random_mode(g, S_IFDIR), NULL, 0, 0);
		add_path(&g->dirs, &g->ndirs, path);
	} else if (k < 82) {
		random_name(&g->r, target, &safe);
		if (chance(&g->r, 10)) {
			size_t len = 4000 + below(&g->r, 96);

			memset(target, 'x', len);
			target[len] = '\0';
		}
		n = put_node(g->fs, path, S_IFLNK | 0777, target, 0, 0);
	} else if (k < 88) {
		n = put_node(g->fs, path,
			     (chance(&g->r, 50) ? S_IFCHR : S_IFBLK) | 0644,
			     NULL, below(&g->r, 4096), below(&g->r, 1u << 20));
	} else {
		n = put_node(g->fs, path,
			     (chance(&g->r, 50) ? S_IFIFO : S_IFSOCK) | 0644,
			     NULL, 0, 0);
	}
	random_meta(g, n);
	random_xattrs(g, n);
	if (!S_ISDIR(n->mode))
		add_path(&g->others, &g->nothers, path);
}

/* A directory with enough entries for an index, and a deep one. */
static void random_big_dirs(struct gen *g)
{
	char path[PATH_MAX];
	size_t len;

	if (chance(&g->r, 40)) {
		unsigned count = 1500 + below(&g->r, 1000);

		for (unsigned i = 0; i < count; i++) {
			size_t size = below(&g->r, 200);
			uint8_t *data = malloc(size + 1);

			assert_non_null(data);
			fill(&g->r, data, size);
			snprintf(path, sizeof(path),
				 "/many/%08x-a-name-that-takes-room-%u",
				 (unsigned)rnd_next(&g->r), i);
			put_file(g->fs, path, data, size, 0644);
		}
	}
	if (chance(&g->r, 40)) {
		len = (size_t)snprintf(path, sizeof(path), "/deep");
		for (unsigned i = 0; i < 30; i++) {
			len += (size_t)snprintf(path + len, sizeof(path) - len,
						"/%u", i);
			put_node(g->fs, path, S_IFDIR | 0755, NULL, 0, 0);
		}
		add_path(&g->dirs, &g->ndirs, path);
	}
}

static void gen_release(struct gen *g)
{
	for (size_t i = 0; i < g->ndirs; i++)
		free(g->dirs[i]);
	for (size_t i = 0; i < g->nothers; i++)
		free(g->others[i]);
	free(g->dirs);
	free(g->others);
}

/* A random tree of about @entries names and at most @budget data bytes,
 * with a block size that @budget fills at least @min_blocks times;
 * @paths gets a few regular files for GRUB (NULL-terminated, valid as
 * long as @g). */
static struct aur_rootfs *random_tree(struct gen *g, uint64_t seed,
				      unsigned entries, uint64_t budget,
				      unsigned min_blocks)
{
	static const uint32_t sizes[] = {4096, 8192, 65536, 131072, MIB};
	uint32_t fitting = 1;

	while (fitting < AUR_ARRAY_SIZE(sizes) &&
	       (uint64_t)sizes[fitting] * min_blocks <= budget)
		fitting++;
	memset(g, 0, sizeof(*g));
	g->r.s = seed;
	g->fs = aur_rootfs_new();
	g->budget = budget;
	g->block_size = sizes[below(&g->r, fitting)];
	g->root = geteuid() == 0;
	assert_non_null(g->fs);
	add_path(&g->dirs, &g->ndirs, "");
	random_big_dirs(g);
	for (unsigned i = 0; i < entries; i++)
		random_entry(g);
	random_meta(g, aur_rootfs_root(g->fs));
	return g->fs;
}

static uint64_t base_seed(void)
{
	const char *s = getenv("AUR_SQFS_SEED");
	uint64_t seed;

	if (s && aur_parse_u64(s, &seed) == 0)
		return seed;
	return (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32);
}

static unsigned rounds(void)
{
	const char *s = getenv("AUR_SQFS_ROUNDS");
	uint64_t n;

	if (s && aur_parse_u64(s, &n) == 0 && n > 0 && n < 10000)
		return (unsigned)n;
	return SANITIZED ? 4 : 12;
}

static void test_property(void **state)
{
	uint64_t seed = base_seed();
	unsigned n = rounds();
	char *tmp;

	if (!have_readers())
		return;
	tmp = temp_dir();
	print_message("squashfs property: seed %llu, %u trees (AUR_SQFS_SEED "
		      "and AUR_SQFS_ROUNDS repeat it)\n",
		      (unsigned long long)seed, n);
	for (unsigned i = 0; i < n; i++) {
		AUR_AUTOFREE char *img = aur_printf("%s/p.sqfs", tmp);
		struct aur_sqfs_opts o = {.threads = 1 + i % 3};
		bool xz;
		uint64_t budget;
		struct gen g;
		struct aur_rootfs *fs;

		assert_int_equal(
			aur_sqfs_compression_parse(
				all_comps[i % AUR_ARRAY_SIZE(all_comps)],
				&o.comp),
			0);
		xz = o.comp == AUR_SQFS_XZ;
		budget = (xz ? 3 : 12) * MIB / (SANITIZED ? 3 : 1);
		fs = random_tree(&g, seed + i, 150 + (unsigned)(i * 37 % 200),
				 budget, 1);
		o.block_size = g.block_size;
		print_message("tree %u (seed %llu): %s, %u-byte blocks, %zu "
			      "names, %llu bytes\n",
			      i, (unsigned long long)(seed + i),
			      aur_sqfs_compression_name(o.comp), o.block_size,
			      aur_rootfs_count(fs),
			      (unsigned long long)(budget - g.budget));
		assert_true(write_image(fs, &o, img) > 0);
		check_listing(fs, img);
		check_unsquashfs(fs, img, tmp);
		check_kernel(fs, img, tmp);
		check_read_back(fs, img);
		if (o.comp != AUR_SQFS_ZSTD && have_tool("grub-fstest") &&
		    g.ngrub > 0)
			check_grub(fs, img, tmp, g.grub);
		gen_release(&g);
		aur_rootfs_free(fs);
	}
}

/* ---- the same bytes, whatever the threads ---- */

static uint8_t *slurp(const char *path, size_t *len)
{
	char *buf;

	assert_int_equal(aur_read_file(path, 1u << 30, &buf, len), 0);
	return (uint8_t *)buf;
}

static void test_deterministic(void **state)
{
	static const unsigned threads[] = {1, 2, 4, 1};
	uint64_t seed = base_seed() + 1000;
	char *tmp = temp_dir();
	AUR_AUTOFREE char *img = aur_printf("%s/d.sqfs", tmp);
	struct gen g;
	struct aur_rootfs *fs = random_tree(&g, seed, 300, 4 * MIB, 1);

	print_message("deterministic: seed %llu\n", (unsigned long long)seed);
	for (size_t c = 0; c < AUR_ARRAY_SIZE(all_comps); c++) {
		uint8_t *first = NULL;
		size_t first_len = 0;

		for (size_t t = 0; t < AUR_ARRAY_SIZE(threads); t++) {
			struct aur_sqfs_opts o = {.threads = threads[t],
						  .block_size = g.block_size};
			uint8_t *bytes;
			size_t len;

			assert_int_equal(aur_sqfs_compression_parse(
						 all_comps[c], &o.comp),
					 0);
			if (o.comp == AUR_SQFS_XZ && t > 1)
				break; /* slow; two runs say enough */
			assert_true(write_image(fs, &o, img) > 0);
			bytes = slurp(img, &len);
			if (!first) {
				first = bytes;
				first_len = len;
				continue;
			}
			if (len != first_len || memcmp(bytes, first, len) != 0)
				fail_msg("%s: %u threads give other bytes",
					 all_comps[c], threads[t]);
			free(bytes);
		}
		free(first);
	}
	gen_release(&g);
	aur_rootfs_free(fs);
}

/* ---- incremental builds: the cache of compressed blocks ---- */

/* Write @fs to @img with its index (into *@index) and stats. */
static void write_indexed(const struct aur_rootfs *fs,
			  const struct aur_sqfs_opts *base, const char *img,
			  struct aur_sqfs_index *index,
			  struct aur_sqfs_cache_stats *st)
{
	struct aur_sqfs_opts o = *base;

	o.index = index;
	o.stats = st;
	assert_true(write_image(fs, &o, img) > 0);
	assert_non_null(index->data);
}

/* The cache of @img with the index @data (@len bytes), or NULL with *@err
 * (if not NULL) set to why. */
static struct aur_sqfs_cache *cache_of(const char *img, const void *data,
				       size_t len, int *err)
{
	struct aur_sqfs_cache *c = NULL;
	int fd = open(img, O_RDONLY);
	int r;

	assert_true(fd >= 0);
	r = aur_sqfs_cache_open(img, fd, data, len, &c);
	close(fd); /* the cache keeps its own */
	if (err)
		*err = r;
	assert_true((r == 0) == (c != NULL));
	return c;
}

static void same_file(const char *a, const char *b)
{
	size_t alen, blen;
	uint8_t *x = slurp(a, &alen), *y = slurp(b, &blen);

	if (alen != blen || memcmp(x, y, alen) != 0)
		fail_msg("'%s' (%zu bytes) and '%s' (%zu bytes) differ", a,
			 alen, b, blen);
	free(x);
	free(y);
}

/* What a layer over a tree changes, in sqfsdiff's words: one line for
 * each path it touches. */
struct changes {
	char **lines;
	size_t n;
	char **paths; /* the paths touched, one per line */
	size_t npaths;
	char **cat; /* changed files unsquashfs -cat can name */
	size_t ncat;
};

static void changes_release(struct changes *c)
{
	for (size_t i = 0; i < c->n; i++)
		free(c->lines[i]);
	for (size_t i = 0; i < c->npaths; i++)
		free(c->paths[i]);
	for (size_t i = 0; i < c->ncat; i++)
		free(c->cat[i]);
	free(c->lines);
	free(c->paths);
	free(c->cat);
}

/* Whether the layer @c already touches @path. */
static bool touched(const struct changes *c, const char *path)
{
	for (size_t i = 0; i < c->npaths; i++)
		if (strcmp(c->paths[i], path) == 0)
			return true;
	return false;
}

static bool plain_path(const char *path)
{
	return strspn(path, "/abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVW"
			    "XYZ0123456789._-") == strlen(path);
}

/* A file of the tree whose bytes alone may change: regular, one name. */
static struct aur_fnode *changeable(struct gen *g, const char *path)
{
	struct aur_fnode *n = aur_rootfs_lookup(g->fs, path, false);

	if (!n || !S_ISREG(n->mode) || n->link || n->nlink != 1)
		return NULL;
	return n;
}

/* New bytes for @n, keeping its metadata: the same size or not, never
 * the same bytes (those of the earlier tree: change_tree() touches a
 * file once). */
static void new_bytes(struct gen *g, struct aur_fnode *n)
{
	size_t len = n->size > 0 && chance(&g->r, 30)
			     ? (size_t)n->size
			     : 1 + below(&g->r, 3 * g->block_size);
	struct owned_mem *m = malloc(sizeof(*m));
	uint8_t *old = node_data(n);

	assert_non_null(m);
	m->data = malloc(len ? len : 1);
	assert_non_null(m->data);
	fill(&g->r, m->data, len);
	if (len > 0 && len == n->size && memcmp(m->data, old, len) == 0)
		m->data[len / 2] ^= 1;
	free(old);
	aur_mem_source_init(&m->ms, m->data, len);
	assert_int_equal(
		aur_rootfs_adopt_source(g->fs, &m->ms.src, close_owned), 0);
	n->src = &m->ms.src;
	n->off = 0;
	n->size = len;
}

/* @path is touched, and sqfsdiff says @line (malloc'd) of it. */
static void add_change(struct changes *c, const char *path, char *line)
{
	assert_false(touched(c, path));
	add_path(&c->paths, &c->npaths, path);
	add_path(&c->lines, &c->n, line);
	free(line);
}

/* Change @count files of @g's tree as a layer would: new bytes for some,
 * some removed, some added; @c gets what sqfsdiff will say. As in a
 * layer, no path is touched twice: sqfsdiff compares the two trees and
 * says one line a path, so a file given new bytes twice, one added and
 * then changed or removed, or one removed and added again is not what
 * the lines of each change would say. */
static void change_tree(struct gen *g, unsigned count, struct changes *c)
{
	char path[PATH_MAX];
	bool safe;

	memset(c, 0, sizeof(*c));
	for (unsigned tries = 0; c->n < count && tries < 1000; tries++) {
		const char *at = g->others[below(&g->r, (uint32_t)g->nothers)];
		unsigned k = below(&g->r, 100);
		struct aur_fnode *n = touched(c, at) ? NULL : changeable(g, at);

		if (k < 25 && random_path(g, path, &safe)) {
			if (touched(c, path))
				continue;
			random_file(g, path, safe);
			add_change(c, path, aur_printf("> %s", path + 1));
		} else if (n && k < 40) {
			add_change(c, at, aur_printf("< %s", at + 1));
			assert_int_equal(aur_rootfs_remove(g->fs, at), 0);
		} else if (n) {
			new_bytes(g, n);
			add_change(c, at,
				   aur_printf("regular file %s differs", at));
			if (plain_path(at))
				add_path(&c->cat, &c->ncat, at + 1);
		}
	}
}

static int line_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Whether @line is sqfsdiff saying that the inode of a file whose bytes
 * changed went from basic to extended or back (sparse blocks come and go
 * with the bytes). */
static bool type_of_changed(const char *line, const struct changes *c)
{
	static const char *const said[] = {" has an extended type",
					   " has a basic type"};
	char want[PATH_MAX + 64];

	for (size_t k = 0; k < AUR_ARRAY_SIZE(said); k++) {
		const char *end = strstr(line, said[k]);

		if (!end || strcmp(end, said[k]) != 0)
			continue;
		snprintf(want, sizeof(want), "regular file %.*s differs",
			 (int)(end - line), line);
		for (size_t i = 0; i < c->n; i++)
			if (strcmp(c->lines[i], want) == 0)
				return true;
	}
	return false;
}

/* sqfsdiff, which we did not write, finds between @old and @new exactly
 * the changes @c. */
static void check_sqfsdiff(const char *old, const char *new, struct changes *c,
			   const char *tmp)
{
	AUR_AUTOFREE char *out = aur_printf("%s/sqfsdiff.out", tmp);
	const char *argv[] = {"sqfsdiff", "-a", old, "-b", new, NULL};
	char *text, *save = NULL, **got = NULL;
	size_t len, ngot = 0;

	if (!have_tool("sqfsdiff")) {
		print_message("sqfsdiff not found: skipped\n");
		return;
	}
	assert_int_equal(run(argv, out), c->n ? 1 : 0);
	assert_int_equal(aur_read_file(out, 1u << 24, &text, &len), 0);
	for (char *l = strtok_r(text, "\n", &save); l;
	     l = strtok_r(NULL, "\n", &save))
		if (!type_of_changed(l, c))
			add_path(&got, &ngot, l);
	qsort(got, ngot, sizeof(*got), line_cmp);
	qsort(c->lines, c->n, sizeof(*c->lines), line_cmp);
	for (size_t i = 0; i < AUR_MAX(ngot, c->n); i++)
		if (i >= ngot || i >= c->n || strcmp(got[i], c->lines[i]) != 0)
			fail_msg("sqfsdiff says '%s' where '%s' was changed",
				 i < ngot ? got[i] : "(nothing)",
				 i < c->n ? c->lines[i] : "(nothing)");
	for (size_t i = 0; i < ngot; i++)
		free(got[i]);
	free(got);
	free(text);
}

/* unsquashfs -cat gives the new bytes of the changed files. */
static void check_cat(const struct aur_rootfs *fs, const char *img,
		      const struct changes *c, const char *tmp)
{
	AUR_AUTOFREE char *out = aur_printf("%s/cat.out", tmp);

	for (size_t i = 0; i < c->ncat; i++) {
		const char *argv[] = {"unsquashfs", "-cat", img, c->cat[i],
				      NULL};
		const struct aur_fnode *n =
			aur_rootfs_lookup(fs, c->cat[i], false);
		uint8_t *want = node_data(n), *got;
		size_t len;

		assert_int_equal(run(argv, out), 0);
		got = slurp(out, &len);
		if (len != n->size || memcmp(got, want, len) != 0)
			fail_msg("unsquashfs -cat '%s': other bytes",
				 c->cat[i]);
		free(got);
		free(want);
	}
}

/* The rounds of the incremental test: each compressor, threads. */
static const struct {
	const char *comp;
	unsigned threads;
	uint64_t budget;
} incremental_rounds[] = {
	{"gzip", 2, 8 * MIB},
	{"zstd", 3, 8 * MIB},
	{"xz", 2, 3 * MIB},
	{"gzip", 1, 8 * MIB},
};

/* Blocks a tree of the incremental test holds at least: a few changes
 * leave some of them as they were, so the cache has blocks to give
 * (a 1 MiB tree in 1 MiB blocks may have every block changed). */
#define INCREMENTAL_MIN_BLOCKS 16

/* Tree A, written with its index; tree B, A with a layer's changes,
 * written with A's cache: the bytes and the index of a cold build of B,
 * fewer blocks compressed, and readers we did not write see B. */
static void incremental_round(size_t i, uint64_t seed, const char *tmp)
{
	AUR_AUTOFREE char *a = aur_printf("%s/a.sqfs", tmp);
	AUR_AUTOFREE char *b = aur_printf("%s/b.sqfs", tmp);
	AUR_AUTOFREE char *cold = aur_printf("%s/b-cold.sqfs", tmp);
	struct aur_sqfs_index ia, ib, icold;
	struct aur_sqfs_cache_stats sa, sb, scold;
	struct aur_sqfs_opts o = {.threads = incremental_rounds[i].threads};
	uint64_t budget = incremental_rounds[i].budget / (SANITIZED ? 3 : 1);
	struct changes c;
	struct gen ga, gb;
	struct aur_rootfs *fa, *fb;
	struct aur_sqfs_cache *cache;

	assert_int_equal(
		aur_sqfs_compression_parse(incremental_rounds[i].comp, &o.comp),
		0);
	fa = random_tree(&ga, seed, 250, budget, INCREMENTAL_MIN_BLOCKS);
	fb = random_tree(&gb, seed, 250, budget, INCREMENTAL_MIN_BLOCKS);
	o.block_size = ga.block_size;
	change_tree(&gb, 4 + (unsigned)i, &c);
	write_indexed(fa, &o, a, &ia, &sa);
	cache = cache_of(a, ia.data, ia.len, NULL);
	o.cache = cache;
	write_indexed(fb, &o, b, &ib, &sb);
	o.cache = NULL;
	write_indexed(fb, &o, cold, &icold, &scold);
	print_message("round %zu (seed %llu): %s, %u-byte blocks: %llu "
		      "blocks compressed cold, %llu reused and %llu "
		      "compressed with the cache (%zu changes)\n",
		      i, (unsigned long long)seed, incremental_rounds[i].comp,
		      o.block_size, (unsigned long long)scold.blocks_compressed,
		      (unsigned long long)sb.blocks_reused,
		      (unsigned long long)sb.blocks_compressed, c.n);
	same_file(b, cold);
	assert_int_equal(ib.len, icold.len);
	assert_memory_equal(ib.data, icold.data, ib.len);
	assert_int_equal(sb.blocks_refused, 0);
	assert_true(sb.blocks_reused > 0);
	assert_true(sb.blocks_compressed < scold.blocks_compressed);
	assert_int_equal(sb.blocks_reused + sb.blocks_compressed,
			 scold.blocks_compressed);
	check_listing(fb, b);
	check_unsquashfs(fb, b, tmp);
	check_kernel(fb, b, tmp);
	check_sqfsdiff(a, b, &c, tmp);
	check_cat(fb, b, &c, tmp);
	aur_sqfs_cache_free(cache);
	free(ia.data);
	free(ib.data);
	free(icold.data);
	changes_release(&c);
	gen_release(&ga);
	gen_release(&gb);
	aur_rootfs_free(fa);
	aur_rootfs_free(fb);
}

static void test_incremental(void **state)
{
	uint64_t seed = base_seed() + 2000;
	char *tmp;

	if (!have_readers())
		return;
	tmp = temp_dir();
	print_message("incremental: seed %llu (AUR_SQFS_SEED repeats it)\n",
		      (unsigned long long)seed);
	for (size_t i = 0; i < AUR_ARRAY_SIZE(incremental_rounds); i++)
		incremental_round(i, seed + i, tmp);
}

/* What a build of B makes of a cache whatever it holds: the bytes of the
 * cold build. */
struct corrupt {
	const char *tmp;
	struct aur_rootfs *fb;
	struct aur_sqfs_opts o;
	char *cold; /* B, without a cache */
	char *a; /* A's image */
	struct aur_sqfs_index ia; /* and index */
};

/* Write B with the cache of @img and index @data (@len bytes): the cold
 * bytes. Returns the stats; *@opened says whether the cache opened, and
 * the log must hold @said. */
static struct aur_sqfs_cache_stats with_cache(struct corrupt *t,
					      const char *img, const void *data,
					      size_t len, bool opened,
					      const char *said)
{
	AUR_AUTOFREE char *b = aur_printf("%s/b.sqfs", t->tmp);
	struct aur_sqfs_cache_stats st;
	struct aur_sqfs_opts o = t->o;
	struct aur_sqfs_cache *cache;
	int err;

	capture_logs();
	cache = cache_of(img, data, len, &err);
	assert_int_equal(err, opened ? 0 : -EBADMSG);
	o.cache = cache;
	o.stats = &st;
	assert_true(write_image(t->fb, &o, b) > 0);
	same_file(b, t->cold);
	if (said && !strstr(captured_logs(), said))
		fail_msg("no '%s' in the log: %s", said, captured_logs());
	release_logs();
	aur_sqfs_cache_free(cache);
	return st;
}

/* A copy of A's index with entry @i passed through @edit and the
 * entries' digest made right again: an index that only its checks can
 * tell is wrong. */
static uint8_t *forged(const struct corrupt *t, size_t i,
		       void (*edit)(struct aur_sqfs_index_entry *v, size_t i,
				    size_t n))
{
	const size_t head = sizeof(struct aur_sqfs_index_header);
	size_t n = (t->ia.len - head) / sizeof(struct aur_sqfs_index_entry);
	uint8_t *copy = malloc(t->ia.len);
	struct aur_sqfs_index_entry *v;
	struct aur_sqfs_index_header h;

	assert_non_null(copy);
	memcpy(copy, t->ia.data, t->ia.len);
	v = (struct aur_sqfs_index_entry *)(copy + head);
	edit(v, i, n);
	memcpy(&h, copy, head);
	aur_sha256(v, n * sizeof(*v), h.entries_digest);
	memcpy(copy, &h, head);
	return copy;
}

static void point_outside(struct aur_sqfs_index_entry *v, size_t i, size_t n)
{
	v[i].offset = htole64(1ull << 40);
}

static void unknown_bits(struct aur_sqfs_index_entry *v, size_t i, size_t n)
{
	v[i].size_word |= htole32(1u << 30);
}

static void swap_entries(struct aur_sqfs_index_entry *v, size_t i, size_t n)
{
	struct aur_sqfs_index_entry x = v[i];

	v[i] = v[(i + 1) % n];
	v[(i + 1) % n] = x;
}

/* Each entry keeps its data digest but takes the next one's stored
 * block: well formed, sorted, and every block lies. */
static void rotate_blocks(struct aur_sqfs_index_entry *v, size_t i, size_t n)
{
	struct aur_sqfs_index_entry first = v[0];

	for (size_t k = 0; k + 1 < n; k++) {
		memcpy(v[k].stored_digest, v[k + 1].stored_digest, 32);
		v[k].offset = v[k + 1].offset;
		v[k].size_word = v[k + 1].size_word;
	}
	memcpy(v[n - 1].stored_digest, first.stored_digest, 32);
	v[n - 1].offset = first.offset;
	v[n - 1].size_word = first.size_word;
}

/* A copy of @img with one byte of each stored block flipped. */
static char *flip_blocks(const struct corrupt *t)
{
	const size_t head = sizeof(struct aur_sqfs_index_header);
	const struct aur_sqfs_index_entry *v =
		(const void *)(t->ia.data + head);
	size_t n = (t->ia.len - head) / sizeof(*v), len;
	char *copy = aur_printf("%s/a-flipped.sqfs", t->tmp);
	uint8_t *bytes = slurp(t->a, &len);

	for (size_t i = 0; i < n; i++)
		bytes[le64toh(v[i].offset) +
		      SQFS_ON_DISK_BLOCK_SIZE(le32toh(v[i].size_word)) / 2] ^=
			0x10;
	write_file(copy, bytes, len);
	free(bytes);
	return copy;
}

/* @data with one byte flipped at @at (a new buffer). */
static uint8_t *flipped(const struct aur_sqfs_index *ix, size_t at)
{
	uint8_t *copy = malloc(ix->len);

	assert_non_null(copy);
	memcpy(copy, ix->data, ix->len);
	copy[at] ^= 0x01;
	return copy;
}

/* A copy of A's image without its last 4 KiB. */
static char *truncated_image(const struct corrupt *t)
{
	char *copy = aur_printf("%s/a-short.sqfs", t->tmp);
	size_t len;
	uint8_t *bytes = slurp(t->a, &len);

	write_file(copy, bytes, len - 4096);
	free(bytes);
	return copy;
}

/* A's cache, but A written with other settings (@o): not used. */
static void other_settings(struct corrupt *t, struct aur_rootfs *fa,
			   struct aur_sqfs_opts o)
{
	AUR_AUTOFREE char *img = aur_printf("%s/a-other.sqfs", t->tmp);
	struct aur_sqfs_index ix;
	struct aur_sqfs_cache_stats st;

	write_indexed(fa, &o, img, &ix, &st);
	st = with_cache(t, img, ix.data, ix.len, true,
			"made with other compressor settings");
	assert_int_equal(st.blocks_reused, 0);
	free(ix.data);
}

/* Whatever is wrong with a cache - its index cut short, flipped, forged,
 * its image changed or cut, other settings - the build says so and
 * writes the bytes of a build without it. */
static void test_cache_checked(void **state)
{
	const size_t head = sizeof(struct aur_sqfs_index_header);
	const size_t entry = sizeof(struct aur_sqfs_index_entry);
	struct corrupt t = {.tmp = temp_dir(),
			    .o = {.block_size = 65536, .threads = 2}};
	uint64_t seed = base_seed() + 3000;
	struct aur_sqfs_cache_stats st;
	struct changes c;
	struct gen ga, gb;
	struct aur_rootfs *fa = random_tree(&ga, seed, 200, 6 * MIB, 1);
	AUR_AUTOFREE uint8_t *buf = NULL;
	AUR_AUTOFREE char *img = NULL;
	size_t n;

	print_message("cache checks: seed %llu\n", (unsigned long long)seed);
	t.fb = random_tree(&gb, seed, 200, 6 * MIB, 1);
	change_tree(&gb, 3, &c);
	t.a = aur_printf("%s/a.sqfs", t.tmp);
	t.cold = aur_printf("%s/cold.sqfs", t.tmp);
	write_indexed(fa, &t.o, t.a, &t.ia, &st);
	assert_true(write_image(t.fb, &t.o, t.cold) > 0);
	n = (t.ia.len - head) / entry;
	assert_true(n >= 2);

	/* as made, the cache is used */
	st = with_cache(&t, t.a, t.ia.data, t.ia.len, true, NULL);
	assert_true(st.blocks_reused > 0);
	assert_int_equal(st.blocks_refused, 0);

	/* an index that does not check out is not used at all */
	with_cache(&t, t.a, t.ia.data, 10, false, "shorter than an index");
	with_cache(&t, t.a, t.ia.data, t.ia.len - 1, false, "truncated?");
	with_cache(&t, t.a, t.ia.data, t.ia.len - entry, false, "truncated?");
	buf = flipped(&t.ia, head + entry * (n / 2) + 5);
	with_cache(&t, t.a, buf, t.ia.len, false, "do not match their digest");
	free(buf);
	buf = flipped(&t.ia, 0);
	with_cache(&t, t.a, buf, t.ia.len, false, "bad magic");
	free(buf);
	buf = forged(&t, n / 2, point_outside);
	with_cache(&t, t.a, buf, t.ia.len, false, "outside the image");
	free(buf);
	buf = forged(&t, n / 2, unknown_bits);
	with_cache(&t, t.a, buf, t.ia.len, false, "unknown bits");
	free(buf);
	buf = forged(&t, n / 2, swap_entries);
	with_cache(&t, t.a, buf, t.ia.len, false, "not sorted");
	free(buf);
	img = truncated_image(&t);
	with_cache(&t, img, t.ia.data, t.ia.len, false, "the index says");

	/* well formed but lying, or an image changed since: each block is
	 * checked, and compressed again */
	buf = forged(&t, 0, rotate_blocks);
	st = with_cache(&t, t.a, buf, t.ia.len, true, "not reused");
	assert_int_equal(st.blocks_reused, 0);
	assert_true(st.blocks_refused > 0);
	free(img);
	img = flip_blocks(&t);
	st = with_cache(&t, img, t.ia.data, t.ia.len, true, "not reused");
	assert_int_equal(st.blocks_reused, 0);
	assert_true(st.blocks_refused > 0);

	/* made with other settings */
	other_settings(&t, fa,
		       (struct aur_sqfs_opts){.block_size = 65536, .level = 1});
	other_settings(&t, fa, (struct aur_sqfs_opts){.block_size = 131072});
	other_settings(&t, fa,
		       (struct aur_sqfs_opts){.block_size = 65536,
					      .comp = AUR_SQFS_ZSTD});

	free(t.ia.data);
	free(t.a);
	free(t.cold);
	changes_release(&c);
	gen_release(&ga);
	gen_release(&gb);
	aur_rootfs_free(fa);
	aur_rootfs_free(t.fb);
}

/* 'none' compresses nothing: no index, and a cache is left alone. */
static void test_cache_none(void **state)
{
	struct aur_rootfs *fs = aur_rootfs_new();
	struct aur_sqfs_index ix = {(uint8_t *)"x", 1}, gz;
	struct aur_sqfs_cache_stats st;
	struct aur_sqfs_opts o = {.comp = AUR_SQFS_NONE, .index = &ix};
	char *tmp = temp_dir();
	AUR_AUTOFREE char *a = aur_printf("%s/a.sqfs", tmp);
	AUR_AUTOFREE char *b = aur_printf("%s/b.sqfs", tmp);
	AUR_AUTOFREE char *cold = aur_printf("%s/cold.sqfs", tmp);
	struct aur_sqfs_cache *cache;

	put_file(fs, "a", pattern(3 * MIB, 1), 3 * MIB, 0644);
	assert_true(write_image(fs, &o, b) > 0);
	assert_null(ix.data);
	write_indexed(fs, &(struct aur_sqfs_opts){0}, a, &gz, &st);
	cache = cache_of(a, gz.data, gz.len, NULL);
	o = (struct aur_sqfs_opts){.comp = AUR_SQFS_NONE, .cache = cache};
	assert_true(write_image(fs, &o, b) > 0);
	o.cache = NULL;
	assert_true(write_image(fs, &o, cold) > 0);
	same_file(b, cold);
	aur_sqfs_cache_free(cache);
	free(gz.data);
	aur_rootfs_free(fs);
}

/* ---- the demo OS, through a layer tar ---- */

static void close_file(struct aur_source *src)
{
	aur_file_source_close((struct aur_file_source *)src);
	free(src);
}

static void test_demo_os(void **state)
{
	const char *demo = getenv("DEMO_DIR");
	AUR_AUTOFREE char *root = aur_printf("%s/rootfs", demo ? demo : "");
	char *tmp;
	struct aur_file_source *layer = malloc(sizeof(*layer));
	struct aur_rootfs *fs = aur_rootfs_new();
	struct stat st;

	assert_non_null(layer);
	if (!demo || stat(root, &st) < 0 || !have_readers() ||
	    !have_tool("tar")) {
		print_message("no demo OS in $DEMO_DIR: skipped\n");
		free(layer);
		aur_rootfs_free(fs);
		return;
	}
	tmp = temp_dir();
	{
		AUR_AUTOFREE char *tar = aur_printf("%s/demo.tar", tmp);
		AUR_AUTOFREE char *img = aur_printf("%s/demo.sqfs", tmp);
		const char *argv[] = {"tar", "--xattrs", "--numeric-owner",
				      "-C",  root,	 "-cf",
				      tar,   ".",	 NULL};

		assert_int_equal(run(argv, NULL), 0);
		assert_int_equal(aur_file_source_open(layer, tar), 0);
		assert_int_equal(aur_rootfs_apply_layer(fs, &layer->src,
							close_file, "demo"),
				 0);
		/* the tree is the directory; the image is the tree */
		check_dir(fs, root, check_what_we_can());
		assert_true(write_image(fs, NULL, img) > 0);
		check_listing(fs, img);
		check_unsquashfs(fs, img, tmp);
		check_kernel(fs, img, tmp);
	}
	aur_rootfs_free(fs);
}

/* ---- errors ---- */

/* A source whose bytes from 100000 on cannot be read. */
static int failing_get_run(struct aur_source *src, uint64_t off, size_t n,
			   struct aur_run *run)
{
	static const uint8_t zeros[4096];

	if (off >= 100000)
		return -EIO;
	run->kind = AUR_RUN_MEM;
	run->mem = zeros;
	run->len = AUR_MIN(n, AUR_MIN(sizeof(zeros), 100000 - off));
	return 0;
}

static const struct aur_source_ops failing_ops = {.get_run = failing_get_run};

static int64_t write_to_temp(const struct aur_rootfs *fs,
			     const struct aur_sqfs_opts *o)
{
	AUR_AUTOFREE char *img =
		aur_printf("%s/e.sqfs", scratch ? scratch : temp_dir());

	return write_image(fs, o, img);
}

static void test_source_error(void **state)
{
	struct aur_source bad = {&failing_ops, 1u << 20};
	struct aur_rootfs *fs = aur_rootfs_new();
	struct aur_fnode proto = {
		.mode = S_IFREG | 0644, .size = 300000, .src = &bad};

	/* blocks in flight when it fails: none may leak */
	struct aur_sqfs_opts o = {.block_size = 65536, .threads = 2};

	put_file(fs, "a", pattern(5000, 1), 5000, 0644);
	put_file(fs, "b", pattern(4 * MIB, 2), 4 * MIB, 0644);
	assert_non_null(aur_rootfs_put(fs, "usr/lib/broken", &proto));
	put_file(fs, "z", pattern(5000, 3), 5000, 0644);
	capture_logs();
	assert_int_equal(write_to_temp(fs, &o), -EIO);
	assert_non_null(strstr(captured_logs(), "'/usr/lib/broken'"));
	release_logs();
	aur_rootfs_free(fs);
}

static void test_short_source(void **state)
{
	struct aur_rootfs *fs = aur_rootfs_new();
	struct aur_fnode *n =
		put_file(fs, "etc/short", pattern(1000, 1), 1000, 0644);

	n->size = 2000; /* more than the source has */
	capture_logs();
	assert_int_equal(write_to_temp(fs, NULL), -EIO);
	assert_non_null(strstr(captured_logs(), "'/etc/short'"));
	assert_non_null(strstr(captured_logs(), "ends after 1000 of 2000"));
	release_logs();
	aur_rootfs_free(fs);
}

static void test_no_space(void **state)
{
	struct aur_rootfs *fs = aur_rootfs_new();
	int fd = open("/dev/full", O_RDWR);

	if (fd < 0) {
		print_message("no /dev/full: skipped\n");
		aur_rootfs_free(fs);
		return;
	}
	put_file(fs, "a", pattern(100000, 1), 100000, 0644);
	capture_logs();
	assert_int_equal(aur_squashfs_write(fs, NULL, fd), -ENOSPC);
	assert_non_null(strstr(captured_logs(), "No space left on device"));
	release_logs();
	close(fd);
	aur_rootfs_free(fs);
}

/* The disk fills up halfway through the data, with blocks in flight. */
static void test_no_space_midway(void **state)
{
	struct aur_rootfs *fs = aur_rootfs_new();
	struct aur_sqfs_opts o = {
		.comp = AUR_SQFS_NONE, .block_size = 65536, .threads = 2};
	AUR_AUTOFREE char *img = aur_printf("%s/full.sqfs", temp_dir());
	uint8_t *data = malloc(4 * MIB);

	assert_non_null(data);
	memset(data, 'x', 4 * MIB);
	put_file(fs, "a", data, 4 * MIB, 0644);
	if (mount_small_tmpfs(scratch, "1m")) {
		capture_logs();
		assert_int_equal(write_image(fs, &o, img), -ENOSPC);
		assert_non_null(
			strstr(captured_logs(), "No space left on device"));
	}
	aur_rootfs_free(fs);
}

static void expect_refused(struct aur_rootfs *fs, int err, const char *what)
{
	capture_logs();
	assert_int_equal(write_to_temp(fs, NULL), err);
	if (!strstr(captured_logs(), what))
		fail_msg("no '%s' in the log: %s", what, captured_logs());
	release_logs();
	aur_rootfs_free(fs);
}

static void test_limits(void **state)
{
	struct aur_rootfs *fs = aur_rootfs_new();
	char name[300], target[4100];

	memset(name, 'n', 256);
	name[256] = '\0';
	put_node(fs, name, S_IFREG | 0644, NULL, 0, 0);
	expect_refused(fs, -ENAMETOOLONG, "name longer than 255 bytes");

	fs = aur_rootfs_new();
	memset(target, 't', 4096);
	target[4096] = '\0';
	put_node(fs, "l", S_IFLNK | 0777, target, 0, 0);
	expect_refused(fs, -ENAMETOOLONG, "'/l': symlink target longer");

	fs = aur_rootfs_new();
	put_node(fs, "dev/x", S_IFCHR | 0644, NULL, 4096, 0);
	expect_refused(fs, -EOVERFLOW, "'/dev/x': device 4096:0");

	fs = aur_rootfs_new();
	put_node(fs, "dev/y", S_IFBLK | 0644, NULL, 1, 1u << 20);
	expect_refused(fs, -EOVERFLOW, "'/dev/y': device 1:1048576");
}

/* The id table has 16-bit indexes: 65536 distinct ids at most. */
static void test_too_many_ids(void **state)
{
	struct aur_rootfs *fs = aur_rootfs_new();
	char path[64];

	for (uint32_t i = 0; i < 65536; i++) {
		snprintf(path, sizeof(path), "d%u/f%u", i / 1000, i);
		put_node(fs, path, S_IFREG | 0644, NULL, 0, 0)->uid = i + 1;
	}
	expect_refused(fs, -EOVERFLOW, "more than 65536 distinct");
}

static void test_bad_options(void **state)
{
	struct aur_rootfs *fs = aur_rootfs_new();
	struct aur_sqfs_opts bad[] = {
		{.block_size = 3000},
		{.block_size = 2u << 20},
		{.block_size = 2048},
		{.comp = AUR_SQFS_GZIP, .level = 10},
		{.comp = AUR_SQFS_ZSTD, .level = 23},
		{.comp = AUR_SQFS_NONE, .level = 1},
		{.comp = (enum aur_sqfs_compression)42},
	};

	for (size_t i = 0; i < AUR_ARRAY_SIZE(bad); i++) {
		capture_logs();
		assert_int_equal(write_to_temp(fs, &bad[i]), -EINVAL);
		assert_non_null(strstr(captured_logs(), "squashfs: "));
		release_logs();
	}
	aur_rootfs_free(fs);
}

/* An xattr squashfs has no namespace for is left out, with a warning. */
static void test_unstorable_xattr(void **state)
{
	struct aur_rootfs *fs = aur_rootfs_new();
	struct aur_fnode *n = put_file(fs, "f", pattern(10, 1), 10, 0644);
	char *tmp;

	set_xattr(fs, n, "system.posix_acl_access", "\2\0\0\0", 4);
	set_xattr(fs, n, "user.kept", "1", 1);
	capture_logs();
	tmp = temp_dir();
	{
		AUR_AUTOFREE char *img = aur_printf("%s/x.sqfs", tmp);
		AUR_AUTOFREE char *out = aur_printf("%s/x.out", tmp);
		const char *argv[] = {"rdsquashfs", "-x", "/f", img, NULL};
		char *text;
		size_t len;

		assert_true(write_image(fs, NULL, img) > 0);
		assert_non_null(strstr(captured_logs(),
				       "xattr 'system.posix_acl_access' "
				       "left out"));
		if (have_tool("rdsquashfs")) {
			assert_int_equal(run(argv, out), 0);
			assert_int_equal(
				aur_read_file(out, 1u << 20, &text, &len), 0);
			assert_non_null(strstr(text, "user.kept"));
			assert_null(strstr(text, "system."));
			free(text);
		}
	}
	release_logs();
	aur_rootfs_free(fs);
}

/* ---- the API's small parts ---- */

static void test_parse(void **state)
{
	enum aur_sqfs_compression c;

	assert_int_equal(aur_sqfs_compression_parse("gzip", &c), 0);
	assert_int_equal(c, AUR_SQFS_GZIP);
	assert_int_equal(aur_sqfs_compression_parse("xz", &c), 0);
	assert_int_equal(c, AUR_SQFS_XZ);
	assert_int_equal(aur_sqfs_compression_parse("zstd", &c), 0);
	assert_int_equal(c, AUR_SQFS_ZSTD);
	assert_int_equal(aur_sqfs_compression_parse("none", &c), 0);
	assert_int_equal(c, AUR_SQFS_NONE);
	assert_int_equal(aur_sqfs_compression_parse("lzo", &c), -ENOTSUP);
	assert_int_equal(aur_sqfs_compression_parse("lz4", &c), -ENOTSUP);
	assert_int_equal(aur_sqfs_compression_parse("GZIP", &c), -EINVAL);
	assert_int_equal(aur_sqfs_compression_parse("", &c), -EINVAL);
	assert_string_equal(aur_sqfs_compression_name(AUR_SQFS_ZSTD), "zstd");
}

struct seen_progress {
	uint64_t calls, files, files_total, bytes, bytes_total;
	bool backwards;
};

static void on_progress(void *ctx, uint64_t files_done, uint64_t files_total,
			uint64_t bytes_done, uint64_t bytes_total)
{
	struct seen_progress *p = ctx;

	p->backwards |= files_done < p->files || bytes_done < p->bytes;
	*p = (struct seen_progress){p->calls + 1, files_done,  files_total,
				    bytes_done,	  bytes_total, p->backwards};
}

static void test_progress(void **state)
{
	struct aur_rootfs *fs = aur_rootfs_new();
	struct seen_progress p = {0};
	struct aur_sqfs_opts o = {.progress = on_progress, .progress_ctx = &p};

	put_file(fs, "a", pattern(3 * MIB, 1), 3 * MIB, 0644);
	put_file(fs, "b", pattern(10, 2), 10, 0644);
	assert_non_null(aur_rootfs_hardlink(fs, "c", "a"));
	put_node(fs, "d", S_IFDIR | 0755, NULL, 0, 0);
	assert_true(write_to_temp(fs, &o) > 0);
	assert_false(p.backwards);
	assert_true(p.calls >= 5); /* a block at a time, and each file */
	assert_int_equal(p.files, 2);
	assert_int_equal(p.files_total, 2);
	assert_int_equal(p.bytes, 3 * MIB + 10);
	assert_int_equal(p.bytes_total, 3 * MIB + 10);
	aur_rootfs_free(fs);
}

/* A stand-in for a real compressor behind the probe: it counts the
 * blocks it is given and "compresses" each to half. */
struct counting_cmp {
	sqfs_compressor_t base;
	unsigned *calls; /* shared by copies */
};

static sqfs_s32 counting_do_block(sqfs_compressor_t *base, const sqfs_u8 *in,
				  sqfs_u32 size, sqfs_u8 *out, sqfs_u32 outsize)
{
	struct counting_cmp *c = (struct counting_cmp *)base;

	(*c->calls)++;
	memset(out, 0, AUR_MIN(outsize, size / 2));
	return (sqfs_s32)(size / 2);
}

static void counting_destroy(sqfs_object_t *obj)
{
	free(obj);
}

static sqfs_object_t *counting_copy(const sqfs_object_t *obj)
{
	struct counting_cmp *c = malloc(sizeof(*c));

	if (c)
		*c = *(const struct counting_cmp *)obj;
	return (sqfs_object_t *)c;
}

/* Whether @probing handed the @size bytes at @block to the compressor
 * behind it (which then ran once), or stored them as they are. */
static bool probed_compressed(sqfs_compressor_t *probing, unsigned *calls,
			      const uint8_t *block, size_t size)
{
	uint8_t *out = malloc(size);
	unsigned before = *calls;
	sqfs_s32 got;

	assert_non_null(out);
	got = probing->do_block(probing, block, (sqfs_u32)size, out,
				(sqfs_u32)size);
	free(out);
	assert_true(got == 0 || got == (sqfs_s32)(size / 2));
	assert_int_equal(*calls - before, got > 0 ? 1 : 0);
	return got > 0;
}

/* The probe in front of file data's compressor: incompressible blocks are
 * stored as they are without reaching it; a block with a part that
 * compresses where the probe looks (16 KiB at its start, its end, a third
 * of the way) reaches it; so do copies (one per worker). */
static void test_probe(void **state)
{
	unsigned calls = 0;
	struct counting_cmp counting = {
		.base = {.base = {.destroy = counting_destroy,
				  .copy = counting_copy},
			 .do_block = counting_do_block},
		.calls = &calls,
	};
	sqfs_compressor_t *probing =
		aur_sqfs_probing_compressor(&counting.base);
	sqfs_compressor_t *copy;
	struct rnd r = {.s = base_seed()};
	uint8_t *b = malloc(MIB);

	assert_non_null(probing);
	assert_non_null(b);
	for (size_t i = 0; i < MIB; i++)
		b[i] = (uint8_t)rnd_next(&r);
	assert_false(probed_compressed(probing, &calls, b, MIB));
	assert_false(probed_compressed(probing, &calls, b, 4096));
	assert_false(probed_compressed(probing, &calls, b, 100));
	/* compressible at the start, at the end, in the middle */
	memset(b, 'a', 16384);
	assert_true(probed_compressed(probing, &calls, b, MIB));
	assert_true(probed_compressed(probing, &calls, b, 4096));
	for (size_t i = 0; i < 16384; i++)
		b[i] = (uint8_t)rnd_next(&r);
	assert_false(probed_compressed(probing, &calls, b, MIB));
	memset(b + MIB - 16384, 0, 16384);
	assert_true(probed_compressed(probing, &calls, b, MIB));
	for (size_t i = MIB - 16384; i < MIB; i++)
		b[i] = (uint8_t)rnd_next(&r);
	for (size_t i = (MIB - 16384) / 3; i < (MIB - 16384) / 3 + 16384; i++)
		b[i] = (uint8_t)("etaoin shrdlu\n"[rnd_next(&r) % 14]);
	assert_true(probed_compressed(probing, &calls, b, MIB));
	/* text, zeros */
	for (size_t i = 0; i < MIB; i++)
		b[i] = (uint8_t)("etaoin shrdlu\n"[rnd_next(&r) % 14]);
	assert_true(probed_compressed(probing, &calls, b, MIB));
	memset(b, 0, MIB);
	copy = (sqfs_compressor_t *)sqfs_copy(probing);
	assert_non_null(copy);
	assert_true(probed_compressed(copy, &calls, b, MIB));
	sqfs_destroy(copy);
	sqfs_destroy(probing);
	free(b);
}

/* gzip data through libdeflate: zlib streams that zlib inflates to the
 * block, nothing for a block that does not shrink, the configuration and
 * options of the gzip compressor it stands for. */
static void test_deflate(void **state)
{
	sqfs_compressor_config_t cfg, got_cfg;
	sqfs_compressor_t *gzip, *deflate;
	struct rnd r = {.s = base_seed()};
	uint8_t *b = malloc(MIB), *out = malloc(MIB), *back = malloc(MIB);
	uLongf back_len = MIB;
	sqfs_s32 n;

	assert_non_null(b);
	assert_non_null(out);
	assert_non_null(back);
	assert_int_equal(
		sqfs_compressor_config_init(&cfg, SQFS_COMP_GZIP, MIB, 0), 0);
	cfg.level = 7;
	assert_int_equal(sqfs_compressor_create(&cfg, &gzip), 0);
	deflate = aur_sqfs_deflate_new(gzip);
	assert_non_null(deflate);
	deflate->get_configuration(deflate, &got_cfg);
	assert_int_equal(got_cfg.id, SQFS_COMP_GZIP);
	assert_int_equal(got_cfg.level, 7);
	for (size_t i = 0; i < MIB; i++)
		b[i] = (uint8_t)("etaoin shrdlu\n"[rnd_next(&r) % 14]);
	n = deflate->do_block(deflate, b, MIB, out, MIB);
	assert_true(n > 0 && n < (sqfs_s32)(MIB / 2));
	assert_int_equal(uncompress(back, &back_len, out, (uLong)n), Z_OK);
	assert_int_equal(back_len, MIB);
	assert_memory_equal(back, b, MIB);
	for (size_t i = 0; i < MIB; i++)
		b[i] = (uint8_t)rnd_next(&r);
	assert_int_equal(deflate->do_block(deflate, b, MIB, out, MIB), 0);
	assert_int_equal(deflate->do_block(deflate, b, 1, out, MIB), 0);
	sqfs_destroy(deflate);
	sqfs_destroy(gzip);
	free(b);
	free(out);
	free(back);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_parse, teardown),
		cmocka_unit_test_teardown(test_progress, teardown),
		cmocka_unit_test_teardown(test_probe, teardown),
		cmocka_unit_test_teardown(test_deflate, teardown),
		cmocka_unit_test_teardown(test_bad_options, teardown),
		cmocka_unit_test_teardown(test_source_error, teardown),
		cmocka_unit_test_teardown(test_short_source, teardown),
		cmocka_unit_test_teardown(test_no_space, teardown),
		cmocka_unit_test_teardown(test_no_space_midway, teardown),
		cmocka_unit_test_teardown(test_limits, teardown),
		cmocka_unit_test_teardown(test_too_many_ids, teardown),
		cmocka_unit_test_teardown(test_unstorable_xattr, teardown),
		cmocka_unit_test_teardown(test_empty_tree, teardown),
		cmocka_unit_test_teardown(test_no_fragments, teardown),
		cmocka_unit_test_teardown(test_grub_refuses_zstd, teardown),
		cmocka_unit_test_teardown(test_features, teardown),
		cmocka_unit_test_teardown(test_deterministic, teardown),
		cmocka_unit_test_teardown(test_demo_os, teardown),
		cmocka_unit_test_teardown(test_property, teardown),
		cmocka_unit_test_teardown(test_incremental, teardown),
		cmocka_unit_test_teardown(test_cache_checked, teardown),
		cmocka_unit_test_teardown(test_cache_none, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
