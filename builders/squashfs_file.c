// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * /netboot/rootfs.squashfs of an image source: the rootfs written as a
 * squashfs (squashfs.h) once, into the store, keyed by the rootfs and the
 * options - a remount, or another daemon on the same state_dir, builds
 * nothing. The live ISO's /rootfs.squashfs is this same file.
 */
#include <aurora/builder.h>
#include <aurora/config.h>
#include <aurora/job.h>
#include <aurora/log.h>
#include <aurora/rootfs.h>
#include <aurora/squashfs.h>
#include <aurora/store.h>
#include <aurora/tree.h>
#include <aurora/util.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define SQUASHFS_VERSION "aurorafs squashfs 1"

struct squashfs_file {
	struct aur_build_ctx *bctx;
	enum aur_sqfs_compression comp;
};

struct write_job {
	const struct aur_rootfs *fs;
	struct aur_sqfs_opts opts;
	struct aur_job *job;
};

static void progress(void *ctx, uint64_t files_done, uint64_t files_total,
		     uint64_t bytes_done, uint64_t bytes_total)
{
	aur_job_progress(ctx, "bytes", bytes_done, bytes_total);
}

static int newer(void *ctx, struct aur_fnode *n)
{
	int64_t *newest = ctx;

	if (n->mtime > *newest)
		*newest = n->mtime;
	return 0;
}

/* Runs only when the store does not have the image: the job (and its
 * log lines) says that a build is really happening. */
static int write_image(void *ctx, int fd)
{
	struct write_job *w = ctx;
	int64_t size;

	w->job = aur_job_start("squashfs of the rootfs");
	w->opts.progress = progress;
	w->opts.progress_ctx = w->job;
	size = aur_squashfs_write(w->fs, &w->opts, fd);
	aur_job_end(w->job, size < 0 ? (int)size : 0);
	return size < 0 ? (int)size : 0;
}

static void release(void *ctx, struct aur_image *img)
{
	struct aur_file_source *stored = img->priv;

	if (!stored)
		return;
	aur_file_source_close(stored);
	free(stored);
	img->priv = NULL;
}

static int build(void *ctx, struct aur_image *img)
{
	struct squashfs_file *sf = ctx;
	struct aur_build_ctx *b = sf->bctx;
	struct aur_file_source *stored = calloc(1, sizeof(*stored));
	struct write_job w = {.opts = {.comp = sf->comp}};
	const char *fs_key;
	char key[65];
	int r;

	if (!stored)
		return -ENOMEM;
	stored->fd = -1;
	img->priv = stored;
	r = b->rootfs.get(b->rootfs.ctx, &w.fs, &fs_key);
	if (r < 0)
		return r;
	{
		const char *const inputs[] = {
			SQUASHFS_VERSION, fs_key,
			aur_sqfs_compression_name(sf->comp)};

		aur_store_key(inputs, AUR_ARRAY_SIZE(inputs), key);
	}
	r = aur_store_get(b->state_dir, key, "rootfs.squashfs", write_image, &w,
			  stored);
	if (r < 0)
		return r;
	{
		/* the squashfs's own time: its newest file */
		int64_t newest = 0;

		aur_rootfs_walk(w.fs, newer, &newest);
		img->mtime = (time_t)newest;
	}
	return aur_extmap_add_source(&img->map, "squashfs", &stored->src, 0,
				     stored->src.size);
}

static const struct aur_file_ops ops = {.build = build, .release = release};

static int add_files(struct aur_build_ctx *ctx)
{
	const char *name = ctx->cfg->squashfs.compression;
	struct squashfs_file *sf = calloc(1, sizeof(*sf));
	int r;

	if (!sf)
		return -ENOMEM;
	sf->bctx = ctx;
	r = aur_tree_on_free(ctx->tree, free, sf);
	if (r < 0) {
		free(sf);
		return r;
	}
	if (name && *name) {
		r = aur_sqfs_compression_parse(name, &sf->comp);
		if (r < 0) {
			aur_err("squashfs.compression '%s': use gzip, xz, zstd "
				"or none",
				name);
			return -EINVAL;
		}
	}
	return aur_tree_add_file(ctx->tree, "/netboot/rootfs.squashfs", &ops,
				 sf, &ctx->products[AUR_PRODUCT_SQUASHFS]);
}

const struct aur_builder aur_builder_squashfs = {
	.name = "squashfs",
	.needs = AUR_NEEDS(AUR_PRODUCT_ROOTFS),
	.provides = AUR_NEEDS(AUR_PRODUCT_SQUASHFS),
	.add_files = add_files,
};
