// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The rootfs of a release: its squashfs read back into an aur_rootfs
 * (rootfs.h) with libsquashfs's reader, so that what a release's raw disk
 * takes from the image - the EFI loaders, /etc/cos/grub.cfg, the
 * kairos-release - comes from the very squashfs the disk's recovery
 * partition holds. Directories, links and metadata are read when the
 * rootfs is made; a regular file's bytes are decompressed the first time
 * they are read, and kept.
 *
 * What is built from the rootfs (the ESP, the partitions' metadata) is
 * kept in the store, so the squashfs is settled first: the whole download
 * is fetched and checked against its published checksum before a byte of
 * it is believed. The disks hold the squashfs anyway, so this costs what
 * reading a disk costs.
 *
 * Provides AUR_PRODUCT_ROOTFS from AUR_PRODUCT_SQUASHFS, for sources that
 * have a squashfs but no layers (a release); an image source provides its
 * rootfs itself, so this builder does not run for one.
 */
#include <aurora/builder.h>
#include <aurora/extmap.h>
#include <aurora/log.h>
#include <aurora/rootfs.h>
#include <aurora/source.h>
#include <aurora/sqfs_rootfs.h>
#include <aurora/store.h>
#include <aurora/tree.h>
#include <aurora/util.h>

#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include <sqfs/compressor.h>
#include <sqfs/data_reader.h>
#include <sqfs/dir_reader.h>
#include <sqfs/error.h>
#include <sqfs/id_table.h>
#include <sqfs/inode.h>
#include <sqfs/io.h>
#include <sqfs/super.h>

#define ROOTFS_VERSION "aurorafs release rootfs 1"
#define READ_STEP (1u << 20)

/* libsquashfs's view of an aurorafs source (read only). */
struct sqfs_over_source {
	sqfs_file_t base; /* first member */
	struct aur_source *src;
};

/* A regular file of the squashfs: its bytes, once read. */
struct sqfs_file_data {
	struct aur_source src; /* first member */
	struct squashfs_image *img;
	const sqfs_inode_generic_t *inode;
	uint8_t *bytes;
};

/* Everything a squashfs rootfs needs while it lives; closed with it. */
struct squashfs_image {
	struct aur_source sentinel; /* adopted by the rootfs: frees us */
	struct sqfs_over_source file;
	sqfs_super_t super;
	sqfs_compressor_t *cmp;
	sqfs_id_table_t *ids;
	sqfs_dir_reader_t *dir;
	sqfs_data_reader_t *data;
	sqfs_tree_node_t *tree;
	pthread_mutex_t lock; /* the data reader is not thread-safe */
	struct sqfs_file_data *files;
	size_t nfiles, cap;
	const char *what;
};

static int over_read_at(sqfs_file_t *f, sqfs_u64 offset, void *buffer,
			size_t size)
{
	struct sqfs_over_source *o = (struct sqfs_over_source *)f;
	ssize_t got = aur_source_pread(o->src, buffer, size, offset);

	if (got < 0)
		return SQFS_ERROR_IO;
	return (size_t)got == size ? 0 : SQFS_ERROR_OUT_OF_BOUNDS;
}

static int over_write_at(sqfs_file_t *f, sqfs_u64 offset, const void *buffer,
			 size_t size)
{
	return SQFS_ERROR_UNSUPPORTED;
}

static sqfs_u64 over_get_size(const sqfs_file_t *f)
{
	return ((const struct sqfs_over_source *)f)->src->size;
}

static int over_truncate(sqfs_file_t *f, sqfs_u64 size)
{
	return SQFS_ERROR_UNSUPPORTED;
}

static void over_destroy(sqfs_object_t *obj)
{
	/* embedded in the image, which frees itself */
}

static int file_get_run(struct aur_source *src, uint64_t off, size_t n,
			struct aur_run *run)
{
	struct sqfs_file_data *fd = (struct sqfs_file_data *)src;
	struct squashfs_image *img = fd->img;
	int r = 0;

	pthread_mutex_lock(&img->lock);
	if (!fd->bytes) {
		uint8_t *bytes = malloc(src->size ? src->size : 1);

		if (!bytes)
			r = -ENOMEM;
		for (uint64_t done = 0; r == 0 && done < src->size;) {
			sqfs_u32 k = (sqfs_u32)AUR_MIN((uint64_t)READ_STEP,
						       src->size - done);
			sqfs_s32 got = sqfs_data_reader_read(
				img->data, fd->inode, done, bytes + done, k);

			if (got <= 0) {
				aur_err("%s: a file cannot be read (%d)",
					img->what, (int)got);
				r = -EIO;
			}
			done += (uint64_t)(got > 0 ? got : 0);
		}
		if (r == 0)
			fd->bytes = bytes;
		else
			free(bytes);
	}
	pthread_mutex_unlock(&img->lock);
	if (r < 0)
		return r;
	run->kind = AUR_RUN_MEM;
	run->mem = fd->bytes + off;
	run->len = n;
	return 0;
}

/* A file is as trustworthy as the squashfs it comes from. */
static enum aur_trust file_trust(struct aur_source *src)
{
	return aur_source_trust(((struct sqfs_file_data *)src)->img->file.src);
}

static const struct aur_source_ops file_ops = {
	.get_run = file_get_run,
	.trust = file_trust,
};

static void image_free(struct squashfs_image *img)
{
	for (size_t i = 0; i < img->nfiles; i++)
		free(img->files[i].bytes);
	free(img->files);
	sqfs_dir_tree_destroy(img->tree);
	sqfs_destroy(img->data);
	sqfs_destroy(img->dir);
	sqfs_destroy(img->ids);
	sqfs_destroy(img->cmp);
	pthread_mutex_destroy(&img->lock);
	free(img);
}

static void close_image(struct aur_source *src)
{
	image_free((struct squashfs_image *)src);
}

static int open_image(struct squashfs_image *img)
{
	sqfs_compressor_config_t cfg;
	int r;

	r = sqfs_super_read(&img->super, &img->file.base);
	if (r == 0)
		r = sqfs_compressor_config_init(&cfg, img->super.compression_id,
						img->super.block_size,
						SQFS_COMP_FLAG_UNCOMPRESS);
	if (r == 0)
		r = sqfs_compressor_create(&cfg, &img->cmp);
	if (r == 0) {
		img->ids = sqfs_id_table_create(0);
		r = img->ids ? sqfs_id_table_read(img->ids, &img->file.base,
						  &img->super, img->cmp)
			     : SQFS_ERROR_ALLOC;
	}
	if (r == 0) {
		img->dir = sqfs_dir_reader_create(&img->super, img->cmp,
						  &img->file.base, 0);
		img->data = sqfs_data_reader_create(
			&img->file.base, img->super.block_size, img->cmp, 0);
		if (!img->dir || !img->data)
			r = SQFS_ERROR_ALLOC;
	}
	if (r == 0)
		r = sqfs_data_reader_load_fragment_table(img->data,
							 &img->super);
	if (r == 0)
		r = sqfs_dir_reader_get_full_hierarchy(img->dir, img->ids, NULL,
						       0, &img->tree);
	if (r) {
		aur_err("%s: not a squashfs aurorafs can read (error %d)",
			img->what, r);
		return r == SQFS_ERROR_ALLOC ? -ENOMEM : -EIO;
	}
	return 0;
}

/* One node of the squashfs tree into the rootfs, and its children. */
static int add_node(struct squashfs_image *img, struct aur_rootfs *fs,
		    const sqfs_tree_node_t *n, const char *path, int depth)
{
	const sqfs_inode_generic_t *in = n->inode;
	struct aur_fnode proto = {
		.mode = in->base.mode,
		.uid = n->uid,
		.gid = n->gid,
		.mtime = in->base.mod_time,
	};
	AUR_AUTOFREE char *target = NULL;
	sqfs_u64 size = 0;

	if (depth > 128)
		return -ELOOP;
	switch (in->base.type) {
	case SQFS_INODE_EXT_FILE:
	case SQFS_INODE_FILE: {
		struct sqfs_file_data *fd;

		if (img->nfiles == img->cap) {
			/* sources are borrowed by the rootfs: the array may
			 * not move once it is in use, so it is sized first */
			return -EOVERFLOW;
		}
		sqfs_inode_get_file_size(in, &size);
		fd = &img->files[img->nfiles++];
		fd->src.ops = &file_ops;
		fd->src.size = size;
		fd->img = img;
		fd->inode = in;
		proto.src = &fd->src;
		proto.size = size;
		break;
	}
	case SQFS_INODE_EXT_SLINK:
	case SQFS_INODE_SLINK: {
		size_t len = in->base.type == SQFS_INODE_SLINK
				     ? in->data.slink.target_size
				     : in->data.slink_ext.target_size;

		target = strndup((const char *)in->extra, len);
		if (!target)
			return -ENOMEM;
		proto.target = target;
		break;
	}
	case SQFS_INODE_EXT_BDEV:
	case SQFS_INODE_BDEV:
	case SQFS_INODE_EXT_CDEV:
	case SQFS_INODE_CDEV: {
		uint32_t devno = (in->base.type == SQFS_INODE_BDEV ||
				  in->base.type == SQFS_INODE_CDEV)
					 ? in->data.dev.devno
					 : in->data.dev_ext.devno;

		proto.rdev_major = major(devno);
		proto.rdev_minor = minor(devno);
		break;
	}
	default:
		break;
	}
	if (!aur_rootfs_put(fs, path, &proto))
		return -errno;
	for (const sqfs_tree_node_t *c = n->children; c; c = c->next) {
		AUR_AUTOFREE char *child =
			aur_printf("%s/%s", path, (const char *)c->name);
		int r = child ? add_node(img, fs, c, child, depth + 1)
			      : -ENOMEM;

		if (r < 0)
			return r;
	}
	return 0;
}

static size_t count_files(const sqfs_tree_node_t *n)
{
	size_t c = n->inode->base.type == SQFS_INODE_FILE ||
		   n->inode->base.type == SQFS_INODE_EXT_FILE;

	for (const sqfs_tree_node_t *k = n->children; k; k = k->next)
		c += count_files(k);
	return c;
}

int aur_squashfs_rootfs(struct aur_source *src, const char *what,
			struct aur_rootfs **out)
{
	struct squashfs_image *img = calloc(1, sizeof(*img));
	struct aur_rootfs *fs;
	int r;

	if (!img)
		return -ENOMEM;
	pthread_mutex_init(&img->lock, NULL);
	img->what = what;
	img->file.src = src;
	img->file.base.base.destroy = over_destroy;
	img->file.base.read_at = over_read_at;
	img->file.base.write_at = over_write_at;
	img->file.base.get_size = over_get_size;
	img->file.base.truncate = over_truncate;
	r = open_image(img);
	if (r == 0) {
		img->cap = count_files(img->tree);
		img->files =
			calloc(img->cap ? img->cap : 1, sizeof(*img->files));
		if (!img->files)
			r = -ENOMEM;
	}
	fs = r == 0 ? aur_rootfs_new() : NULL;
	if (r == 0 && !fs)
		r = -ENOMEM;
	if (r < 0) {
		image_free(img);
		return r;
	}
	r = aur_rootfs_adopt_source(fs, &img->sentinel, close_image);
	if (r < 0) {
		image_free(img);
		aur_rootfs_free(fs);
		return r;
	}
	r = add_node(img, fs, img->tree, "/", 0);
	if (r < 0) {
		aur_err("%s: cannot read its tree: %s", what, strerror(-r));
		aur_rootfs_free(fs);
		return r;
	}
	*out = fs;
	return 0;
}

/* ---- the product ---- */

struct release_rootfs {
	struct aur_build_ctx *bctx;
	pthread_mutex_t lock;
	struct aur_rootfs *fs;
	struct aur_extmap_source squashfs;
	char key[65];
};

static int get_rootfs(void *ctx, const struct aur_rootfs **fs, const char **key)
{
	struct release_rootfs *rr = ctx;
	const struct aur_image *sq;
	char id[65];
	int r = 0;

	pthread_mutex_lock(&rr->lock);
	if (!rr->fs) {
		r = aur_product_image(rr->bctx, AUR_PRODUCT_SQUASHFS, &sq);
		if (r == 0)
			r = rr->bctx->source_id.get(rr->bctx->source_id.ctx,
						    id);
		if (r == 0) {
			const char *const inputs[] = {ROOTFS_VERSION, id};

			aur_store_key(inputs, AUR_ARRAY_SIZE(inputs), rr->key);
			r = aur_extmap_settle(&sq->map);
		}
		if (r == 0) {
			aur_extmap_source_init(&rr->squashfs, &sq->map);
			r = aur_squashfs_rootfs(&rr->squashfs.src,
						"the release's squashfs",
						&rr->fs);
		}
	}
	pthread_mutex_unlock(&rr->lock);
	if (r == 0) {
		*fs = rr->fs;
		*key = rr->key;
	}
	return r;
}

static void release_rootfs_free(void *ctx)
{
	struct release_rootfs *rr = ctx;

	aur_rootfs_free(rr->fs);
	pthread_mutex_destroy(&rr->lock);
	free(rr);
}

static int add_files(struct aur_build_ctx *ctx)
{
	struct release_rootfs *rr;
	int r;

	if (!ctx->source_id.get)
		return 0; /* a source that cannot name what it serves */
	rr = calloc(1, sizeof(*rr));
	if (!rr)
		return -ENOMEM;
	rr->bctx = ctx;
	pthread_mutex_init(&rr->lock, NULL);
	r = aur_tree_on_free(ctx->tree, release_rootfs_free, rr);
	if (r < 0) {
		release_rootfs_free(rr);
		return r;
	}
	ctx->rootfs.get = get_rootfs;
	ctx->rootfs.ctx = rr;
	return 0;
}

const struct aur_builder aur_builder_squashfs_rootfs = {
	.name = "squashfs-rootfs",
	.needs = AUR_NEEDS(AUR_PRODUCT_SQUASHFS),
	.provides = AUR_NEEDS(AUR_PRODUCT_ROOTFS),
	.add_files = add_files,
};
