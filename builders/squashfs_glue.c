// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * libsquashfs glue (squashfs_i.h): the image file over a caller's fd,
 * with the errno of the first failure kept for the caller, the
 * compressor behind AUR_SQFS_NONE, and what compressors in front of
 * another share.
 */
#include "squashfs_i.h"

#include <aurora/util.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sqfs/error.h>

static int out_fail(struct aur_sqfs_out *out, int err)
{
	if (!out->err)
		out->err = err;
	return SQFS_ERROR_IO;
}

static int out_read_at(sqfs_file_t *file, sqfs_u64 off, void *buf, size_t size)
{
	struct aur_sqfs_out *out = (struct aur_sqfs_out *)file;
	ssize_t got = aur_pread_full(out->fd, buf, size, off);

	if (got < 0)
		return out_fail(out, (int)-got);
	if ((size_t)got != size)
		return out_fail(out, EIO);
	return 0;
}

static int out_write_at(sqfs_file_t *file, sqfs_u64 off, const void *buf,
			size_t size)
{
	struct aur_sqfs_out *out = (struct aur_sqfs_out *)file;
	int r = aur_pwrite_full(out->fd, buf, size, off);

	if (r < 0)
		return out_fail(out, -r);
	out->size = AUR_MAX(out->size, off + size);
	return 0;
}

static sqfs_u64 out_get_size(const sqfs_file_t *file)
{
	return ((const struct aur_sqfs_out *)file)->size;
}

/* The block writer drops a file's blocks again when they turn out to
 * duplicate earlier ones. */
static int out_truncate(sqfs_file_t *file, sqfs_u64 size)
{
	struct aur_sqfs_out *out = (struct aur_sqfs_out *)file;

	if (ftruncate(out->fd, (off_t)size) < 0)
		return out_fail(out, errno);
	out->size = size;
	return 0;
}

/* The caller owns the object: libsquashfs never destroys a file it was
 * given, and an open file for writing cannot be copied. */
static void out_destroy(sqfs_object_t *obj)
{
	(void)obj;
}

void aur_sqfs_out_init(struct aur_sqfs_out *out, int fd)
{
	memset(out, 0, sizeof(*out));
	out->base.base.destroy = out_destroy;
	out->base.read_at = out_read_at;
	out->base.write_at = out_write_at;
	out->base.get_size = out_get_size;
	out->base.truncate = out_truncate;
	out->fd = fd;
}

/* ---- the compressor that stores blocks as they are ---- */

struct none_cmp {
	sqfs_compressor_t base;
	uint32_t block_size;
};

static void none_get_configuration(const sqfs_compressor_t *cmp,
				   sqfs_compressor_config_t *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->id = SQFS_COMP_GZIP;
	cfg->block_size = ((const struct none_cmp *)cmp)->block_size;
	cfg->level = SQFS_GZIP_DEFAULT_LEVEL;
	cfg->opt.gzip.window_size = SQFS_GZIP_DEFAULT_WINDOW;
}

static int none_write_options(sqfs_compressor_t *cmp, sqfs_file_t *file)
{
	return 0; /* nothing to record */
}

static int none_read_options(sqfs_compressor_t *cmp, sqfs_file_t *file)
{
	return 0;
}

/* ---- a compressor in front of another ---- */

static void wrapper_get_configuration(const sqfs_compressor_t *base,
				      sqfs_compressor_config_t *cfg)
{
	const struct aur_sqfs_wrapper *w =
		(const struct aur_sqfs_wrapper *)base;

	w->inner->get_configuration(w->inner, cfg);
}

static int wrapper_write_options(sqfs_compressor_t *base, sqfs_file_t *file)
{
	struct aur_sqfs_wrapper *w = (struct aur_sqfs_wrapper *)base;

	return w->inner->write_options(w->inner, file);
}

static int wrapper_read_options(sqfs_compressor_t *base, sqfs_file_t *file)
{
	struct aur_sqfs_wrapper *w = (struct aur_sqfs_wrapper *)base;

	return w->inner->read_options(w->inner, file);
}

void aur_sqfs_wrapper_init(struct aur_sqfs_wrapper *w, sqfs_compressor_t *inner,
			   sqfs_s32 (*do_block)(sqfs_compressor_t *,
						const sqfs_u8 *, sqfs_u32,
						sqfs_u8 *, sqfs_u32),
			   sqfs_object_t *(*copy)(const sqfs_object_t *),
			   void (*destroy)(sqfs_object_t *))
{
	w->base.base.destroy = destroy;
	w->base.base.copy = copy;
	w->base.get_configuration = wrapper_get_configuration;
	w->base.write_options = wrapper_write_options;
	w->base.read_options = wrapper_read_options;
	w->base.do_block = do_block;
	w->inner = inner;
}

void aur_sqfs_wrapper_fini(struct aur_sqfs_wrapper *w)
{
	sqfs_destroy(w->inner);
	w->inner = NULL;
}

/* 0 means "no smaller than the input": the caller keeps the block as it
 * is and sets its uncompressed bit. */
static sqfs_s32 none_do_block(sqfs_compressor_t *cmp, const sqfs_u8 *in,
			      sqfs_u32 size, sqfs_u8 *out, sqfs_u32 outsize)
{
	return 0;
}

static void none_destroy(sqfs_object_t *obj)
{
	free(obj);
}

static sqfs_object_t *none_copy(const sqfs_object_t *obj)
{
	const struct none_cmp *orig = (const struct none_cmp *)obj;

	return (sqfs_object_t *)aur_sqfs_none_new(orig->block_size);
}

sqfs_compressor_t *aur_sqfs_none_new(uint32_t block_size)
{
	struct none_cmp *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->base.base.destroy = none_destroy;
	c->base.base.copy = none_copy;
	c->base.get_configuration = none_get_configuration;
	c->base.write_options = none_write_options;
	c->base.read_options = none_read_options;
	c->base.do_block = none_do_block;
	c->block_size = block_size;
	return &c->base;
}

int aur_sqfs_errno(const struct aur_sqfs_out *out, int err)
{
	if (out->err)
		return -out->err;
	switch (err) {
	case SQFS_ERROR_ALLOC:
		return -ENOMEM;
	case SQFS_ERROR_OVERFLOW:
		return -EOVERFLOW;
	case SQFS_ERROR_UNSUPPORTED:
		return -ENOTSUP;
	case SQFS_ERROR_ARG_INVALID:
		return -EINVAL;
	default:
		return -EIO;
	}
}
