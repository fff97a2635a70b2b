// SPDX-License-Identifier: GPL-2.0-or-later
#include "ext2_memio.h"

#include <aurora/util.h>

#include <stdlib.h>
#include <string.h>

/* Pages of 4 KiB, found through leaves of 1024 page pointers (a leaf
 * covers 4 MiB of the device): O(1) lookups, in-order scans, and no
 * memory for the stretches nothing was written to. */
#define PAGE_SHIFT 12
#define PAGE_BYTES (1u << PAGE_SHIFT)
#define LEAF_SHIFT 10
#define LEAF_PAGES (1u << LEAF_SHIFT)

struct aur_ext2_store {
	int refs;
	uint8_t ***leaves; /* leaves[l][i]: page (l << LEAF_SHIFT) + i */
	size_t nleaves;
	size_t pages; /* pages held */
};

static bool is_zero(const uint8_t *p, size_t n)
{
	return n == 0 || (p[0] == 0 && memcmp(p, p + 1, n - 1) == 0);
}

static struct aur_ext2_store *store_new(void)
{
	struct aur_ext2_store *s = calloc(1, sizeof(*s));

	if (s)
		s->refs = 1;
	return s;
}

void aur_ext2_store_put(struct aur_ext2_store *s)
{
	if (!s || --s->refs > 0)
		return;
	for (size_t l = 0; l < s->nleaves; l++) {
		if (!s->leaves[l])
			continue;
		for (size_t i = 0; i < LEAF_PAGES; i++)
			free(s->leaves[l][i]);
		free(s->leaves[l]);
	}
	free(s->leaves);
	free(s);
}

/* The slot of page @pg, or NULL if its leaf does not exist and @create is
 * false (or memory ran out). The slot stays valid until the store is
 * freed: leaves never move, only the array pointing to them does. */
static uint8_t **page_slot(struct aur_ext2_store *s, uint64_t pg, bool create)
{
	uint64_t l = pg >> LEAF_SHIFT;

	if (l >= s->nleaves) {
		size_t n = AUR_MAX((size_t)l + 1, s->nleaves * 2);
		uint8_t ***v;

		if (!create)
			return NULL;
		v = realloc(s->leaves, n * sizeof(*v));
		if (!v)
			return NULL;
		memset(v + s->nleaves, 0, (n - s->nleaves) * sizeof(*v));
		s->leaves = v;
		s->nleaves = n;
	}
	if (!s->leaves[l]) {
		if (!create)
			return NULL;
		s->leaves[l] = calloc(LEAF_PAGES, sizeof(uint8_t *));
		if (!s->leaves[l])
			return NULL;
	}
	return &s->leaves[l][pg & (LEAF_PAGES - 1)];
}

static const uint8_t *page_get(const struct aur_ext2_store *s, uint64_t pg)
{
	uint64_t l = pg >> LEAF_SHIFT;

	if (l >= s->nleaves || !s->leaves[l])
		return NULL;
	return s->leaves[l][pg & (LEAF_PAGES - 1)];
}

static void page_drop_if_zero(struct aur_ext2_store *s, uint8_t **slot)
{
	if (*slot && is_zero(*slot, PAGE_BYTES)) {
		free(*slot);
		*slot = NULL;
		s->pages--;
	}
}

/* Write @len bytes at @off; zeros are not stored. 0 or an errcode_t. */
static errcode_t store_write(struct aur_ext2_store *s, uint64_t off,
			     const uint8_t *buf, size_t len)
{
	while (len > 0) {
		size_t in = off & (PAGE_BYTES - 1);
		size_t k = AUR_MIN(len, PAGE_BYTES - in);
		bool zero = is_zero(buf, k);
		uint8_t **slot = page_slot(s, off >> PAGE_SHIFT, !zero);

		if (!zero && !slot)
			return EXT2_ET_NO_MEMORY;
		if (slot && !*slot && !zero) {
			*slot = calloc(1, PAGE_BYTES);
			if (!*slot)
				return EXT2_ET_NO_MEMORY;
			s->pages++;
		}
		if (slot && *slot) {
			memcpy(*slot + in, buf, k);
			if (zero)
				page_drop_if_zero(s, slot);
		}
		off += k;
		buf += k;
		len -= k;
	}
	return 0;
}

static void store_zero(struct aur_ext2_store *s, uint64_t off, uint64_t len)
{
	while (len > 0) {
		size_t in = off & (PAGE_BYTES - 1);
		size_t k = (size_t)AUR_MIN(len, (uint64_t)(PAGE_BYTES - in));
		uint8_t **slot = page_slot(s, off >> PAGE_SHIFT, false);

		if (slot && *slot) {
			memset(*slot + in, 0, k);
			page_drop_if_zero(s, slot);
		}
		off += k;
		len -= k;
	}
}

void aur_ext2_store_read(const struct aur_ext2_store *s, uint64_t off,
			 void *buf, size_t len)
{
	uint8_t *dst = buf;

	while (len > 0) {
		size_t in = off & (PAGE_BYTES - 1);
		size_t k = AUR_MIN(len, PAGE_BYTES - in);
		const uint8_t *page = page_get(s, off >> PAGE_SHIFT);

		if (page)
			memcpy(dst, page + in, k);
		else
			memset(dst, 0, k);
		off += k;
		dst += k;
		len -= k;
	}
}

bool aur_ext2_store_next(const struct aur_ext2_store *s, uint64_t off,
			 uint64_t *next)
{
	uint64_t pg = off >> PAGE_SHIFT;

	for (uint64_t l = pg >> LEAF_SHIFT; l < s->nleaves; l++) {
		size_t i = l == pg >> LEAF_SHIFT ? pg & (LEAF_PAGES - 1) : 0;

		if (!s->leaves[l])
			continue;
		for (; i < LEAF_PAGES; i++) {
			if (s->leaves[l][i]) {
				*next = AUR_MAX(off, ((l << LEAF_SHIFT) + i)
							     << PAGE_SHIFT);
				return true;
			}
		}
	}
	return false;
}

bool aur_ext2_store_is_zero(const struct aur_ext2_store *s, uint64_t off,
			    uint64_t len)
{
	while (len > 0) {
		size_t in = off & (PAGE_BYTES - 1);
		size_t k = (size_t)AUR_MIN(len, (uint64_t)(PAGE_BYTES - in));
		const uint8_t *page = page_get(s, off >> PAGE_SHIFT);

		if (page && !is_zero(page + in, k))
			return false;
		off += k;
		len -= k;
	}
	return true;
}

size_t aur_ext2_store_bytes(const struct aur_ext2_store *s)
{
	return s->pages * PAGE_BYTES;
}

/* The io_channel side: block numbers in the channel's block size (which
 * libext2fs switches to 1 KiB to write the superblock), a negative count
 * meaning bytes. */

static uint64_t span(io_channel ch, int count)
{
	return count < 0 ? (uint64_t) - (int64_t)count
			 : (uint64_t)count * (uint64_t)ch->block_size;
}

static errcode_t memio_open(const char *name, int flags, io_channel *channel)
{
	io_channel ch;

	if (!name)
		return EXT2_ET_BAD_DEVICE_NAME;
	ch = calloc(1, sizeof(*ch));
	if (!ch)
		return EXT2_ET_NO_MEMORY;
	ch->magic = EXT2_ET_MAGIC_IO_CHANNEL;
	ch->manager = &aur_ext2_memio_manager;
	ch->name = strdup(name);
	ch->block_size = 1024;
	ch->refcount = 1;
	ch->private_data = store_new();
	if (!ch->name || !ch->private_data) {
		free(ch->name);
		aur_ext2_store_put(ch->private_data);
		free(ch);
		return EXT2_ET_NO_MEMORY;
	}
	*channel = ch;
	return 0;
}

static errcode_t memio_close(io_channel ch)
{
	if (--ch->refcount > 0)
		return 0;
	aur_ext2_store_put(ch->private_data);
	free(ch->name);
	free(ch);
	return 0;
}

static errcode_t memio_set_blksize(io_channel ch, int blksize)
{
	ch->block_size = blksize;
	return 0;
}

static errcode_t memio_read_blk64(io_channel ch, unsigned long long block,
				  int count, void *data)
{
	aur_ext2_store_read(ch->private_data, block * ch->block_size, data,
			    span(ch, count));
	return 0;
}

static errcode_t memio_read_blk(io_channel ch, unsigned long block, int count,
				void *data)
{
	return memio_read_blk64(ch, block, count, data);
}

static errcode_t memio_write_blk64(io_channel ch, unsigned long long block,
				   int count, const void *data)
{
	return store_write(ch->private_data, block * ch->block_size, data,
			   span(ch, count));
}

static errcode_t memio_write_blk(io_channel ch, unsigned long block, int count,
				 const void *data)
{
	return memio_write_blk64(ch, block, count, data);
}

static errcode_t memio_flush(io_channel ch)
{
	return 0;
}

static errcode_t memio_zeroout(io_channel ch, unsigned long long block,
			       unsigned long long count)
{
	store_zero(ch->private_data, block * ch->block_size,
		   count * ch->block_size);
	return 0;
}

struct struct_io_manager aur_ext2_memio_manager = {
	.magic = EXT2_ET_MAGIC_IO_MANAGER,
	.name = "aurorafs memory",
	.open = memio_open,
	.close = memio_close,
	.set_blksize = memio_set_blksize,
	.read_blk = memio_read_blk,
	.write_blk = memio_write_blk,
	.flush = memio_flush,
	.read_blk64 = memio_read_blk64,
	.write_blk64 = memio_write_blk64,
	.zeroout = memio_zeroout,
};

struct aur_ext2_store *aur_ext2_memio_store(io_channel channel)
{
	struct aur_ext2_store *s = channel->private_data;

	s->refs++;
	return s;
}
