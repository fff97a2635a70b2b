// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * /netboot/rootfs.squashfs of an image source: the rootfs written as a
 * squashfs (squashfs.h) once, into the store, keyed by the rootfs and the
 * options - a remount, or another daemon on the same state_dir, builds
 * nothing. The live ISO's /rootfs.squashfs is this same file.
 *
 * Incremental builds: a build leaves the index of the blocks it stored
 * next to the image, in the store under a key derived from the image's
 * (written the same way: an unnamed file, fsynced, then linked), and then
 * names the image as the latest of its compression in
 * store/<key of "latest" and the compression> (64 hex digits, replaced
 * with rename(2)). The next build with that compression - a new tag of
 * the image, a changed overlay - opens that image and index and copies
 * the blocks whose bytes it meets again instead of compressing them; the
 * image is the same either way. A missing, unreadable or corrupt cache is
 * warned about and the build compresses everything. What this keeps is
 * bounded by what the store keeps: one index per stored image (80 bytes
 * per block of it) and one name per compression.
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
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define SQUASHFS_VERSION "aurorafs squashfs 1"
#define INDEX_VERSION "aurorafs squashfs index 1"
#define LATEST_VERSION "aurorafs squashfs latest 1"
#define INDEX_MAX (256u << 20) /* 3 million blocks */
#define KEY_LEN 64

struct squashfs_file {
	struct aur_build_ctx *bctx;
	enum aur_sqfs_compression comp;
};

struct write_job {
	const char *state_dir;
	const struct aur_rootfs *fs;
	struct aur_sqfs_opts opts;
	struct aur_job *job;
	struct aur_sqfs_cache *cache; /* the latest image's, if usable */
	struct aur_sqfs_index index; /* of the image built */
	struct aur_sqfs_cache_stats stats;
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

/* ---- the cache: the latest image of a compression and its index ---- */

static void latest_key(enum aur_sqfs_compression comp, char key[KEY_LEN + 1])
{
	const char *const inputs[] = {LATEST_VERSION,
				      aur_sqfs_compression_name(comp)};

	aur_store_key(inputs, AUR_ARRAY_SIZE(inputs), key);
}

static void index_key(const char *image_key, char key[KEY_LEN + 1])
{
	const char *const inputs[] = {INDEX_VERSION, image_key};

	aur_store_key(inputs, AUR_ARRAY_SIZE(inputs), key);
}

/* The key of the latest image with @comp into @key: 0, -ENOENT when there
 * is none, or -errno after a warning. */
static int read_latest(const char *state_dir, enum aur_sqfs_compression comp,
		       char key[KEY_LEN + 1])
{
	char name[KEY_LEN + 1];
	AUR_AUTOFREE char *path = NULL;
	AUR_AUTOFREE char *text = NULL;
	unsigned char digest[32];
	size_t len;
	int r;

	latest_key(comp, name);
	path = aur_printf("%s/store/%s", state_dir, name);
	if (!path)
		return -ENOMEM;
	r = aur_read_file(path, 2 * KEY_LEN, &text, &len);
	if (r == -ENOENT)
		return r;
	if (r == 0 &&
	    (len < KEY_LEN || strspn(text + KEY_LEN, "\n") != len - KEY_LEN ||
	     aur_sha256_parse(text, digest) < 0))
		r = -EBADMSG;
	if (r < 0) {
		aur_warn("squashfs cache: '%s': %s: not used", path,
			 r == -EBADMSG ? "not a key" : strerror(-r));
		return r;
	}
	memcpy(key, text, KEY_LEN);
	key[KEY_LEN] = '\0';
	return 0;
}

/* The cache of the latest image with @comp, or NULL (there is none, or
 * it cannot be used: said why). */
static struct aur_sqfs_cache *open_cache(const char *state_dir,
					 enum aur_sqfs_compression comp)
{
	char key[KEY_LEN + 1], ikey[KEY_LEN + 1];
	AUR_AUTOFREE char *image = NULL;
	AUR_AUTOFREE char *index_path = NULL;
	AUR_AUTOFREE char *index = NULL;
	struct aur_sqfs_cache *c = NULL;
	size_t len = 0;
	int fd = -1, r = read_latest(state_dir, comp, key);

	if (r < 0)
		return NULL;
	index_key(key, ikey);
	image = aur_printf("%s/store/%s", state_dir, key);
	index_path = aur_printf("%s/store/%s", state_dir, ikey);
	if (!image || !index_path)
		return NULL;
	fd = open(image, O_RDONLY | O_CLOEXEC);
	r = fd < 0 ? -errno
		   : aur_read_file(index_path, INDEX_MAX, &index, &len);
	if (r == 0)
		aur_sqfs_cache_open(image, fd, index, len, &c);
	else
		aur_warn("squashfs cache '%s': cannot read it or its index "
			 "'%s': %s: not used",
			 image, index_path, strerror(-r));
	if (fd >= 0)
		close(fd);
	return c;
}

static int write_index(void *ctx, int fd)
{
	const struct aur_sqfs_index *index = ctx;

	return aur_pwrite_full(fd, index->data, index->len, 0);
}

/* Name the image @key the latest of @comp: a new file renamed over the
 * old name, so readers see one key or the other. */
static int name_latest(const char *state_dir, enum aur_sqfs_compression comp,
		       const char *key)
{
	char name[KEY_LEN + 1];
	AUR_AUTOFREE char *path = NULL;
	AUR_AUTOFREE char *tmp = NULL;
	AUR_AUTOFREE char *text = aur_printf("%s\n", key);
	int fd, r;

	latest_key(comp, name);
	path = aur_printf("%s/store/%s", state_dir, name);
	tmp = aur_printf("%s/store/%s.XXXXXX", state_dir, name);
	if (!path || !tmp || !text)
		return -ENOMEM;
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0)
		return -errno;
	r = aur_pwrite_full(fd, text, strlen(text), 0);
	if (r == 0 && (fchmod(fd, 0644) < 0 || fsync(fd) < 0))
		r = -errno;
	close(fd);
	if (r == 0 && rename(tmp, path) < 0)
		r = -errno;
	if (r < 0)
		unlink(tmp);
	return r;
}

/* Keep the index of the image @key just built, and make it the latest. */
static void keep_index(const char *state_dir, const char *key,
		       struct write_job *w)
{
	char ikey[KEY_LEN + 1];
	struct aur_file_source stored;
	int r;

	index_key(key, ikey);
	r = aur_store_get(state_dir, ikey, "squashfs index", write_index,
			  &w->index, &stored);
	if (r == 0) {
		aur_file_source_close(&stored);
		r = name_latest(state_dir, w->opts.comp, key);
	}
	if (r < 0)
		aur_warn("squashfs: the index of '%s' is not kept (%s): the "
			 "next image compresses every block",
			 key, strerror(-r));
}

/* ---- the build ---- */

static void report_reuse(const struct write_job *w)
{
	const struct aur_sqfs_cache_stats *st = &w->stats;

	aur_info("squashfs of the rootfs: %llu blocks (%llu MiB) copied from "
		 "the last image, %llu (%llu MiB) compressed",
		 (unsigned long long)st->blocks_reused,
		 (unsigned long long)(st->bytes_reused >> 20),
		 (unsigned long long)st->blocks_compressed,
		 (unsigned long long)(st->bytes_compressed >> 20));
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
	if (w->opts.comp != AUR_SQFS_NONE) {
		w->cache = open_cache(w->state_dir, w->opts.comp);
		w->opts.cache = w->cache;
		w->opts.index = &w->index;
		w->opts.stats = &w->stats;
	}
	size = aur_squashfs_write(w->fs, &w->opts, fd);
	if (size >= 0 && w->cache)
		report_reuse(w);
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
	struct write_job w = {.state_dir = b->state_dir,
			      .opts = {.comp = sf->comp}};
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
	if (r == 0 && w.index.data)
		keep_index(b->state_dir, key, &w);
	aur_sqfs_cache_free(w.cache);
	free(w.index.data);
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
