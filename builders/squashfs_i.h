/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * squashfs_i.h - libsquashfs glue for the squashfs writer (squashfs.h):
 * the output file over a caller's fd, the compressor that never
 * compresses, compressors in front of another (the one that probes file
 * data before compressing it, gzip through libdeflate),
 * libsquashfs error codes as errnos, and the cache of
 * compressed blocks as one build sees it. Private to builders/squashfs*.c.
 */
#ifndef AURORA_SQUASHFS_I_H
#define AURORA_SQUASHFS_I_H

#include <aurora/squashfs.h>

#include <stdint.h>

#include <sqfs/compressor.h>
#include <sqfs/io.h>

/* An sqfs_file_t over @fd. libsquashfs reaches it only from the writing
 * thread (workers compress; the block writer runs where blocks are
 * dequeued). The size is the end of what was written, as libsquashfs
 * appends at get_size(). */
struct aur_sqfs_out {
	sqfs_file_t base;
	int fd; /* borrowed */
	uint64_t size;
	int err; /* the first errno a call failed with, or 0 */
};

void aur_sqfs_out_init(struct aur_sqfs_out *out, int fd);

/* A compressor whose blocks never shrink, so that libsquashfs stores
 * every metadata block as it is; @block_size is reported in its
 * configuration. sqfs_destroy() frees it. NULL on ENOMEM. */
sqfs_compressor_t *aur_sqfs_none_new(uint32_t block_size);

/* The negative errno for the libsquashfs error @err: what the file failed
 * with, if it did, else the closest errno (SQFS_ERROR_ALLOC is -ENOMEM,
 * _OVERFLOW -EOVERFLOW, ...; library faults are -EIO). */
int aur_sqfs_errno(const struct aur_sqfs_out *out, int err);

/* A compressor in front of another: the configuration and the options
 * are @inner's, the rest is the wrapper's own. A wrapper's struct starts
 * with this one. */
struct aur_sqfs_wrapper {
	sqfs_compressor_t base; /* first member */
	sqfs_compressor_t *inner; /* owned: freed by aur_sqfs_wrapper_fini */
};

/* Set @w up over @inner (taken over, may be NULL after a failed copy:
 * the caller then destroys @w) with its own @do_block, @copy and
 * @destroy. */
void aur_sqfs_wrapper_init(struct aur_sqfs_wrapper *w, sqfs_compressor_t *inner,
			   sqfs_s32 (*do_block)(sqfs_compressor_t *,
						const sqfs_u8 *, sqfs_u32,
						sqfs_u8 *, sqfs_u32),
			   sqfs_object_t *(*copy)(const sqfs_object_t *),
			   void (*destroy)(sqfs_object_t *));

/* Free what aur_sqfs_wrapper_init set up: the inner compressor. */
void aur_sqfs_wrapper_fini(struct aur_sqfs_wrapper *w);

/* gzip for file data through libdeflate: @gzip's configuration and
 * options (libsquashfs's gzip compressor, default window, no strategies;
 * copied), its level, libdeflate's zlib streams (squashfs_deflate.c).
 * Each copy has its own libdeflate compressor. sqfs_destroy() frees it.
 * NULL on ENOMEM. */
sqfs_compressor_t *aur_sqfs_deflate_new(const sqfs_compressor_t *gzip);

/* The compressor for file data: @cmp's blocks (@cmp is copied), except
 * those a quick probe finds incompressible, which it stores as they are
 * without compressing them (squashfs_probe.c). Each copy has its own
 * probe. sqfs_destroy() frees it. NULL on ENOMEM. */
sqfs_compressor_t *aur_sqfs_probing_compressor(const sqfs_compressor_t *cmp);

/*
 * The cache of compressed blocks during one build (squashfs_cache.c): what
 * it reuses from @cache and what it notes for the new image's index.
 */
struct aur_sqfs_reuse;

/* A session for a build whose data compressor is @cmp (borrowed: only
 * its settings are read, and a copy of it compresses the probe). @cache
 * (may be NULL, borrowed) is left unused, after a message, if its
 * settings are not @cmp's. NULL on ENOMEM. */
struct aur_sqfs_reuse *aur_sqfs_reuse_new(const struct aur_sqfs_cache *cache,
					  const sqfs_compressor_t *cmp);

/* Free @s (NULL-safe), after every compressor made from it. */
void aur_sqfs_reuse_free(struct aur_sqfs_reuse *s);

/* The compressor to give the block processor: @cmp's blocks, but each
 * looked up in the cache first and noted for the index; copies of it
 * (one per worker) share @s. @cmp and @uncmp (its decompressor) are
 * copied. sqfs_destroy() frees it. NULL on ENOMEM. */
sqfs_compressor_t *aur_sqfs_reuse_compressor(struct aur_sqfs_reuse *s,
					     const sqfs_compressor_t *cmp,
					     const sqfs_compressor_t *uncmp);

/* Once every block is written: put the block stored at @offset of the
 * image in @fd, with squashfs size word @size_word, into the index. A
 * block that no compression of this build made (it cannot happen, but it
 * would be unknown) is left out. 0 or -errno. */
int aur_sqfs_reuse_add_block(struct aur_sqfs_reuse *s, int fd, uint64_t offset,
			     uint32_t size_word);

/* The index of the blocks added, for an image of @image_size bytes. 0,
 * -ENOMEM or -EOVERFLOW (more than 2^32 - 1 blocks). */
int aur_sqfs_reuse_index(struct aur_sqfs_reuse *s, uint64_t image_size,
			 struct aur_sqfs_index *out);

/* What the build did with its blocks; warns once if cache entries were
 * refused. */
void aur_sqfs_reuse_stats(struct aur_sqfs_reuse *s,
			  struct aur_sqfs_cache_stats *out);

#endif
