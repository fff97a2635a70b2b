// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * A data compressor that stores a block as it is when a quick probe finds
 * it incompressible. Images carry much data that is compressed already (a
 * kernel, an initrd, firmware, .ko.xz modules, archives): gzip -9 or xz
 * spends most of a build on those blocks and stores them uncompressed in
 * the end, since the result is no smaller. The probe compresses a few
 * slices of the block with zstd at level 1, far faster than the real
 * compressor; when no slice shrinks by 1/128, the block is
 * stored as it is without being compressed. Otherwise the real
 * compressor runs on the whole block, so a block that compresses in
 * part (a slice that does) is always compressed. The decision depends on
 * the bytes alone: the same block is stored the same way in every build.
 *
 * What it costs: a block whose every slice zstd -1 shrinks by less than
 * 1/128 but the real compressor a little more is stored a little larger
 * (the demo OS's kernel: 0.8% of its size, which gzip -9 saves).
 */
#include "squashfs_i.h"

#include <aurora/util.h>

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>

#define PROBE_SLICE (16u * 1024) /* bytes of one slice */
#define PROBE_SLICES 4u /* slices of a block longer than their sum */
#define PROBE_LEVEL 1
#define PROBE_MIN_GAIN_SHIFT 7 /* a slice must lose 1/128 of its bytes */

struct probing_cmp {
	struct aur_sqfs_wrapper
		w; /* inner: compresses what the probe lets by */
	ZSTD_CCtx *zstd; /* owned, one per copy: one per worker */
	uint8_t out[ZSTD_COMPRESSBOUND(PROBE_SLICE)];
};

/* Whether zstd -1 shrinks the @len bytes at @in by the least gain. A
 * failure of zstd counts as a gain: the block is then compressed. */
static bool slice_shrinks(struct probing_cmp *c, const uint8_t *in, size_t len)
{
	size_t got = ZSTD_compressCCtx(c->zstd, c->out, sizeof(c->out), in, len,
				       PROBE_LEVEL);

	return ZSTD_isError(got) || got < len - (len >> PROBE_MIN_GAIN_SHIFT);
}

/* Whether no slice of the @size bytes at @in shrinks: a block up to
 * PROBE_SLICES slices long is one slice; a longer one gives its first,
 * its last and slices evenly between. */
static bool incompressible(struct probing_cmp *c, const uint8_t *in,
			   size_t size)
{
	size_t span;

	if (size <= PROBE_SLICE * PROBE_SLICES)
		return !slice_shrinks(c, in, size);
	span = size - PROBE_SLICE;
	for (size_t i = 0; i < PROBE_SLICES; i++)
		if (slice_shrinks(c, in + span * i / (PROBE_SLICES - 1),
				  PROBE_SLICE))
			return false;
	return true;
}

static sqfs_s32 probing_do_block(sqfs_compressor_t *base, const sqfs_u8 *in,
				 sqfs_u32 size, sqfs_u8 *out, sqfs_u32 outsize)
{
	struct probing_cmp *c = (struct probing_cmp *)base;

	if (incompressible(c, in, size))
		return 0; /* libsquashfs stores it as it is */
	return c->w.inner->do_block(c->w.inner, in, size, out, outsize);
}

static void probing_destroy(sqfs_object_t *obj)
{
	struct probing_cmp *c = (struct probing_cmp *)obj;

	aur_sqfs_wrapper_fini(&c->w);
	ZSTD_freeCCtx(c->zstd);
	free(c);
}

static sqfs_object_t *probing_copy(const sqfs_object_t *obj)
{
	const struct probing_cmp *c = (const struct probing_cmp *)obj;

	return (sqfs_object_t *)aur_sqfs_probing_compressor(c->w.inner);
}

sqfs_compressor_t *aur_sqfs_probing_compressor(const sqfs_compressor_t *cmp)
{
	struct probing_cmp *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	aur_sqfs_wrapper_init(&c->w, sqfs_copy(cmp), probing_do_block,
			      probing_copy, probing_destroy);
	c->zstd = ZSTD_createCCtx();
	if (!c->w.inner || !c->zstd) {
		probing_destroy(&c->w.base.base);
		return NULL;
	}
	return &c->w.base;
}
