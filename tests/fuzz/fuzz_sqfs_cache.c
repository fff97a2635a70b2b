// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Fuzz target: the squashfs writer's cache of compressed blocks, given an
 * earlier image and index that anything may have happened to. A tree A is
 * written with its index, and a tree B (A with some files changed) without
 * a cache, once. Each input then edits A's index and image and B is
 * written again with what is left as its cache: whatever the cache holds,
 * nothing may crash and the bytes must be those of B's build without it
 * (else abort). The untouched cache must be used.
 *
 * The input: a flags byte, then edits of 6 bytes each - kind, a 24-bit
 * offset and a 16-bit value, little-endian:
 *   kind % 6 == 0  index[offset % len] ^= value
 *               1  image[offset % len] ^= value
 *               2  cut the index to offset % (len + 1) bytes
 *               3  cut the image to offset % (len + 1) bytes
 *               4  swap entries offset and value (modulo their count)
 *               5  entry offset % count: stored at value * 512 instead
 * Flags bit 0: make the index's entry count and digest right again after
 * the edits (else its own checks refuse most edited indexes); bit 1: the
 * input after the flags byte is the whole index instead of edits.
 */
#include <aurora/log.h>
#include <aurora/rootfs.h>
#include <aurora/source.h>
#include <aurora/squashfs.h>
#include <aurora/util.h>

#include <endian.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define FLAG_FIX 1
#define FLAG_RAW_INDEX 2
#define EDIT_LEN 6
#define BLOCK_SIZE 4096

enum edit_kind {
	XOR_INDEX,
	XOR_IMAGE,
	CUT_INDEX,
	CUT_IMAGE,
	SWAP_ENTRIES,
	MOVE_ENTRY,
	EDIT_KINDS
};

struct bytes {
	uint8_t *p;
	size_t len;
};

static struct {
	struct aur_rootfs *b; /* the tree written with the cache */
	struct bytes index, image; /* A's */
	struct bytes cold; /* B without a cache */
	int image_fd, out_fd;
} fx;

static void quiet(void *ctx, int level, const char *msg)
{
}

static void die(const char *what)
{
	fprintf(stderr, "fuzz_sqfs_cache: %s\n", what);
	abort();
}

/* Deterministic bytes that compress (text, zeros) or not (noise). */
static uint8_t *content(size_t len, unsigned seed)
{
	uint8_t *p = malloc(len ? len : 1);
	uint32_t x = 2166136261u ^ seed;

	if (!p)
		die("out of memory");
	for (size_t i = 0; i < len; i++) {
		x = x * 1103515245u + 12345u;
		if (seed % 3 == 0)
			p[i] = (uint8_t)(x >> 16);
		else if (seed % 3 == 1)
			p[i] = (uint8_t) "aurorafs squashfs\n"[(x >> 16) % 18];
		else
			p[i] = i % 8192 < 4096 ? 0 : (uint8_t)(i * 7 + seed);
	}
	return p;
}

static void close_mem(struct aur_source *src)
{
	struct aur_mem_source *ms = (struct aur_mem_source *)src;

	free((void *)ms->data);
	free(ms);
}

static void put(struct aur_rootfs *fs, const char *path, size_t len,
		unsigned seed)
{
	struct aur_mem_source *ms = malloc(sizeof(*ms));
	struct aur_fnode proto = {.mode = S_IFREG | 0644, .mtime = 1700000000};

	if (!ms)
		die("out of memory");
	aur_mem_source_init(ms, content(len, seed), len);
	if (aur_rootfs_adopt_source(fs, &ms->src, close_mem) < 0)
		die("out of memory");
	proto.size = len;
	proto.src = &ms->src;
	if (!aur_rootfs_put(fs, path, &proto))
		die("cannot make the tree");
}

/* Tree A, or B: A with one file changed, one removed, one added. */
static struct aur_rootfs *make_tree(bool b)
{
	static const size_t sizes[] = {0,     100,   4096,  5000, 9000,
				       12288, 20000, 33000, 777,  8192};
	struct aur_rootfs *fs = aur_rootfs_new();
	char path[64];

	if (!fs)
		die("out of memory");
	for (unsigned i = 0; i < AUR_ARRAY_SIZE(sizes); i++) {
		if (b && i == 4)
			continue;
		snprintf(path, sizeof(path), "d%u/f%u", i % 3, i);
		put(fs, path, sizes[i] + (b && i == 6 ? 3000 : 0),
		    i + (b && i == 6 ? 100 : 0));
	}
	if (b)
		put(fs, "d1/new", 10000, 42);
	return fs;
}

static void read_all(int fd, struct bytes *out)
{
	struct stat st;

	if (fstat(fd, &st) < 0)
		die("fstat");
	out->len = (size_t)st.st_size;
	out->p = malloc(out->len);
	if (!out->p ||
	    aur_pread_full(fd, out->p, out->len, 0) != (ssize_t)out->len)
		die("cannot read an image back");
}

static void write_tree(const struct aur_rootfs *fs,
		       const struct aur_sqfs_opts *o, struct bytes *out)
{
	if (ftruncate(fx.out_fd, 0) < 0 ||
	    aur_squashfs_write(fs, o, fx.out_fd) < 0)
		die("cannot write a tree");
	read_all(fx.out_fd, out);
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct aur_sqfs_index ix;
	struct aur_sqfs_opts o = {.block_size = BLOCK_SIZE, .threads = 1};
	struct aur_rootfs *a;

	aur_log_set_sink(quiet, NULL);
	fx.image_fd = memfd_create("cache-image", MFD_CLOEXEC);
	fx.out_fd = memfd_create("out", MFD_CLOEXEC);
	if (fx.image_fd < 0 || fx.out_fd < 0)
		die("memfd_create");
	a = make_tree(false);
	fx.b = make_tree(true);
	o.index = &ix;
	write_tree(a, &o, &fx.image);
	fx.index = (struct bytes){ix.data, ix.len};
	o.index = NULL;
	write_tree(fx.b, &o, &fx.cold);
	aur_rootfs_free(a);
	return 0;
}

/* ---- edits ---- */

static size_t entry_count(const struct bytes *ix)
{
	const size_t head = sizeof(struct aur_sqfs_index_header);

	return ix->len < head
		       ? 0
		       : (ix->len - head) / sizeof(struct aur_sqfs_index_entry);
}

static struct aur_sqfs_index_entry *entry(struct bytes *ix, size_t i)
{
	return (struct aur_sqfs_index_entry
			*)(ix->p + sizeof(struct aur_sqfs_index_header) +
			   i * sizeof(struct aur_sqfs_index_entry));
}

static void apply(const uint8_t *e, struct bytes *ix, struct bytes *img)
{
	uint32_t off = e[1] | (uint32_t)e[2] << 8 | (uint32_t)e[3] << 16;
	uint16_t val = (uint16_t)(e[4] | e[5] << 8);
	size_t n = entry_count(ix);
	struct aur_sqfs_index_entry t;

	switch (e[0] % EDIT_KINDS) {
	case XOR_INDEX:
		if (ix->len)
			ix->p[off % ix->len] ^= (uint8_t)val;
		break;
	case XOR_IMAGE:
		if (img->len)
			img->p[off % img->len] ^= (uint8_t)val;
		break;
	case CUT_INDEX:
		ix->len = off % (ix->len + 1);
		break;
	case CUT_IMAGE:
		img->len = off % (img->len + 1);
		break;
	case SWAP_ENTRIES:
		if (n == 0)
			break;
		memcpy(&t, entry(ix, off % n), sizeof(t));
		memcpy(entry(ix, off % n), entry(ix, val % n), sizeof(t));
		memcpy(entry(ix, val % n), &t, sizeof(t));
		break;
	default:
		if (n)
			entry(ix, off % n)->offset =
				htole64((uint64_t)val * 512);
		break;
	}
}

/* The entry count and digest the edited entries call for. */
static void fix(struct bytes *ix)
{
	struct aur_sqfs_index_header h;
	size_t n = entry_count(ix);

	if (ix->len < sizeof(h))
		return;
	memcpy(&h, ix->p, sizeof(h));
	h.entry_count = htole32((uint32_t)n);
	aur_sha256(ix->p + sizeof(h), n * sizeof(struct aur_sqfs_index_entry),
		   h.entries_digest);
	memcpy(ix->p, &h, sizeof(h));
}

static void copy_of(const struct bytes *from, struct bytes *to)
{
	to->len = from->len;
	to->p = malloc(from->len ? from->len : 1);
	if (!to->p)
		die("out of memory");
	memcpy(to->p, from->p, from->len);
}

/* ---- one input ---- */

static void check_build(const struct bytes *ix, const struct bytes *img,
			bool untouched)
{
	struct aur_sqfs_cache_stats st;
	struct aur_sqfs_opts o = {
		.block_size = BLOCK_SIZE, .threads = 1, .stats = &st};
	struct aur_sqfs_cache *cache = NULL;
	struct bytes out;

	if (ftruncate(fx.image_fd, 0) < 0 ||
	    aur_pwrite_full(fx.image_fd, img->p, img->len, 0) < 0)
		die("cannot write the cache's image");
	aur_sqfs_cache_open("fuzz", fx.image_fd, ix->p, ix->len, &cache);
	if (untouched && !cache)
		die("the untouched cache did not open");
	o.cache = cache;
	write_tree(fx.b, &o, &out);
	if (out.len != fx.cold.len || memcmp(out.p, fx.cold.p, out.len) != 0)
		die("the cache changed the image");
	if (untouched && (st.blocks_reused == 0 || st.blocks_refused != 0))
		die("the untouched cache was not used");
	aur_sqfs_cache_free(cache);
	free(out.p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct bytes ix, img;
	uint8_t flags = size ? data[0] : 0;

	copy_of(&fx.image, &img);
	if (flags & FLAG_RAW_INDEX) {
		ix.len = size - 1;
		ix.p = malloc(ix.len ? ix.len : 1);
		if (!ix.p)
			die("out of memory");
		memcpy(ix.p, data + 1, ix.len);
	} else {
		copy_of(&fx.index, &ix);
		for (size_t at = 1; at + EDIT_LEN <= size; at += EDIT_LEN)
			apply(data + at, &ix, &img);
	}
	if (flags & FLAG_FIX)
		fix(&ix);
	check_build(&ix, &img, size <= 1 && !(flags & FLAG_RAW_INDEX));
	free(ix.p);
	free(img.p);
	return 0;
}
