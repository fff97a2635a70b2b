// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * gzip for file data through libdeflate. A squashfs "gzip" block is one
 * zlib stream, which every reader (the kernel, GRUB, unsquashfs) inflates
 * whoever wrote it; libdeflate writes it two to four times faster than
 * zlib at the same level, and a little smaller (measured on the demo OS's
 * binaries and on text: 0.3% to 5% smaller at level 9). Whole blocks are
 * what libdeflate is made for: it has no streaming state to keep.
 *
 * The configuration and the compressor options in the image stay those
 * of libsquashfs's gzip compressor, which also compresses the metadata:
 * the default window (32 KiB, all libdeflate has) and no strategies.
 */
#include "squashfs_i.h"

#include <aurora/util.h>

#include <libdeflate.h>
#include <stdlib.h>

struct deflate_cmp {
	sqfs_compressor_t base;
	sqfs_compressor_t *gzip; /* owned: configuration and options */
	struct libdeflate_compressor *d; /* owned, one per copy */
};

/* A block compressed only if that makes it smaller; 0: stored as it is,
 * as libsquashfs's compressors say. */
static sqfs_s32 deflate_do_block(sqfs_compressor_t *base, const sqfs_u8 *in,
				 sqfs_u32 size, sqfs_u8 *out, sqfs_u32 outsize)
{
	struct deflate_cmp *c = (struct deflate_cmp *)base;
	size_t room = AUR_MIN((size_t)outsize, (size_t)size - 1);

	if (size < 2)
		return 0;
	return (sqfs_s32)libdeflate_zlib_compress(c->d, in, size, out, room);
}

static void deflate_get_configuration(const sqfs_compressor_t *base,
				      sqfs_compressor_config_t *cfg)
{
	const struct deflate_cmp *c = (const struct deflate_cmp *)base;

	c->gzip->get_configuration(c->gzip, cfg);
}

static int deflate_write_options(sqfs_compressor_t *base, sqfs_file_t *file)
{
	struct deflate_cmp *c = (struct deflate_cmp *)base;

	return c->gzip->write_options(c->gzip, file);
}

static int deflate_read_options(sqfs_compressor_t *base, sqfs_file_t *file)
{
	struct deflate_cmp *c = (struct deflate_cmp *)base;

	return c->gzip->read_options(c->gzip, file);
}

static void deflate_destroy(sqfs_object_t *obj)
{
	struct deflate_cmp *c = (struct deflate_cmp *)obj;

	sqfs_destroy(c->gzip);
	libdeflate_free_compressor(c->d);
	free(c);
}

static sqfs_object_t *deflate_copy(const sqfs_object_t *obj)
{
	const struct deflate_cmp *c = (const struct deflate_cmp *)obj;

	return (sqfs_object_t *)aur_sqfs_deflate_new(c->gzip);
}

sqfs_compressor_t *aur_sqfs_deflate_new(const sqfs_compressor_t *gzip)
{
	struct deflate_cmp *c = calloc(1, sizeof(*c));
	sqfs_compressor_config_t cfg;

	if (!c)
		return NULL;
	c->base.base.destroy = deflate_destroy;
	c->base.base.copy = deflate_copy;
	c->base.get_configuration = deflate_get_configuration;
	c->base.write_options = deflate_write_options;
	c->base.read_options = deflate_read_options;
	c->base.do_block = deflate_do_block;
	gzip->get_configuration(gzip, &cfg);
	c->gzip = sqfs_copy(gzip);
	c->d = libdeflate_alloc_compressor((int)cfg.level);
	if (!c->gzip || !c->d) {
		deflate_destroy(&c->base.base);
		return NULL;
	}
	return &c->base;
}
