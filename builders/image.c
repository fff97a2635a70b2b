// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The container image source: container_image pulled (oci.h) and its
 * layers flattened into a rootfs (rootfs.h) the first time something needs
 * it - nothing at mount time. dir: sources and iso.overlay_rootfs are
 * snapshotted into the layer store (dirlayer.h) and applied like layers.
 *
 * The output name is "kairos-" plus the name the rootfs gives itself
 * (kairos.h), or iso.override_name; with iso.include_date, ".YYYYMMDD"
 * follows, as AuroraBoot does. Files named after it wait for it, so that
 * listing / or /netboot never pulls.
 */
#include <aurora/builder.h>
#include <aurora/config.h>
#include <aurora/dirlayer.h>
#include <aurora/job.h>
#include <aurora/kairos.h>
#include <aurora/log.h>
#include <aurora/oci.h>
#include <aurora/rootfs.h>
#include <aurora/source.h>
#include <aurora/store.h>
#include <aurora/tree.h>
#include <aurora/util.h>

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define ROOTFS_VERSION "aurorafs rootfs 1"

/* What AuroraBoot leaves out of a dir: source (rsync --exclude). */
static const char *const dir_excludes[] = {"mnt", "proc", "sys", "dev",
					   "tmp", "host", "run", NULL};

struct image_source {
	struct aur_build_ctx *bctx;
	pthread_mutex_t lock;
	bool ready;
	struct aur_rootfs *fs;
	char key[65]; /* the digest of everything fs is made of */
	char *name;
};

static void progress(void *ctx, uint64_t done, uint64_t total)
{
	aur_job_progress(ctx, "bytes", done, total);
}

static void close_layer(struct aur_source *src)
{
	struct aur_file_source *fs = (struct aur_file_source *)src;

	aur_file_source_close(fs);
	free(fs);
}

static int apply_tar(struct aur_rootfs *fs, const char *path, const char *what)
{
	struct aur_file_source *src = malloc(sizeof(*src));
	int r;

	if (!src)
		return -ENOMEM;
	r = aur_file_source_open(src, path);
	if (r < 0) {
		aur_err("%s: cannot open '%s': %s", what, path, strerror(-r));
		free(src);
		return r;
	}
	return aur_rootfs_apply_layer(fs, &src->src, close_layer, what);
}

/* Pull the image and apply its layers; the layers' digests name it. */
static int apply_image(struct image_source *is, struct aur_rootfs *fs,
		       char digest_of_layers[65])
{
	const struct aur_config *cfg = is->bctx->cfg;
	struct aur_oci_opts o = {
		.state_dir = is->bctx->state_dir,
		.arch = cfg->arch,
		.insecure = cfg->allow_insecure_registries,
		.progress = progress,
	};
	AUR_AUTOFREE char *what = aur_printf("pull '%s'", cfg->container_image);
	struct aur_oci_image *img = NULL;
	struct aur_job *job;
	int r;

	if (!what)
		return -ENOMEM;
	job = aur_job_start(what);
	o.progress_ctx = job;
	r = aur_oci_pull(cfg->container_image, &o, &img);
	aur_job_end(job, r);
	if (r < 0)
		return r;
	if (img->dir) {
		char *path = NULL;

		r = aur_dir_layer(is->bctx->state_dir, img->dir, dir_excludes,
				  &path, digest_of_layers);
		if (r == 0)
			r = apply_tar(fs, path, img->dir);
		free(path);
	} else {
		const char **ids = calloc(img->nlayers + 1, sizeof(*ids));

		if (!ids)
			r = -ENOMEM;
		for (size_t i = 0; r == 0 && i < img->nlayers; i++) {
			char layer_what[96];

			snprintf(layer_what, sizeof(layer_what),
				 "layer %zu of '%s'", i + 1,
				 cfg->container_image);
			r = apply_tar(fs, img->layers[i].path, layer_what);
			ids[i] = img->layers[i].diff_id;
		}
		if (r == 0) {
			ids[img->nlayers] = ROOTFS_VERSION;
			aur_store_key(ids, img->nlayers + 1, digest_of_layers);
		}
		free(ids);
	}
	aur_oci_image_free(img);
	return r;
}

static int open_rootfs(struct image_source *is)
{
	const struct aur_config *cfg = is->bctx->cfg;
	const char *overlay = cfg->iso.overlay_rootfs;
	struct aur_rootfs *fs;
	char layers[65], over[65] = "";
	int r = 0;

	pthread_mutex_lock(&is->lock);
	if (is->ready)
		goto out;
	fs = aur_rootfs_new();
	if (!fs) {
		r = -ENOMEM;
		goto out;
	}
	r = apply_image(is, fs, layers);
	if (r == 0 && overlay && *overlay) {
		char *path = NULL;

		/* iso.overlay_rootfs goes over the image, as AuroraBoot
		 * rsyncs it over the rootfs */
		r = aur_dir_layer(is->bctx->state_dir, overlay, NULL, &path,
				  over);
		if (r == 0)
			r = apply_tar(fs, path, overlay);
		free(path);
	}
	if (r < 0) {
		aur_rootfs_free(fs);
		goto out;
	}
	{
		const char *const inputs[] = {ROOTFS_VERSION, layers, over};

		aur_store_key(inputs, AUR_ARRAY_SIZE(inputs), is->key);
	}
	aur_info("'%s': %zu files", cfg->container_image, aur_rootfs_count(fs));
	is->fs = fs;
	is->ready = true;
out:
	pthread_mutex_unlock(&is->lock);
	return r;
}

static int get_rootfs(void *ctx, const struct aur_rootfs **fs, const char **key)
{
	struct image_source *is = ctx;
	int r = open_rootfs(is);

	if (r == 0) {
		*fs = is->fs;
		*key = is->key;
	}
	return r;
}

/* ".YYYYMMDD" after the name, today's, as AuroraBoot dates its ISOs */
static char *dated(const struct aur_config *cfg, const char *name)
{
	time_t now = time(NULL);
	struct tm tm;
	char date[16];

	if (!cfg->iso.include_date)
		return strdup(name);
	localtime_r(&now, &tm);
	strftime(date, sizeof(date), "%Y%m%d", &tm);
	return aur_printf("%s.%s", name, date);
}

static int resolve_name(struct aur_build_ctx *ctx)
{
	struct image_source *is = ctx->rootfs.ctx;
	AUR_AUTOFREE char *own = NULL;
	int r = open_rootfs(is);

	if (r < 0)
		return r;
	own = aur_kairos_name(is->fs);
	if (!own) {
		aur_err("'%s' has neither /etc/kairos-release nor "
			"/etc/os-release: set iso.override_name to name its "
			"outputs",
			ctx->cfg->container_image);
		return -ENOENT;
	}
	pthread_mutex_lock(&is->lock);
	if (!is->name) {
		AUR_AUTOFREE char *full = aur_printf("kairos-%s", own);

		is->name = full ? dated(ctx->cfg, full) : NULL;
	}
	pthread_mutex_unlock(&is->lock);
	if (!is->name)
		return -ENOMEM;
	if (strchr(is->name, '/')) {
		aur_err("'%s' names itself '%s', which holds a '/'",
			ctx->cfg->container_image, is->name);
		return -EINVAL;
	}
	ctx->name = is->name;
	aur_info("'%s' is '%s'", ctx->cfg->container_image, is->name);
	return 0;
}

static void image_source_free(void *ctx)
{
	struct image_source *is = ctx;

	aur_rootfs_free(is->fs);
	pthread_mutex_destroy(&is->lock);
	free(is->name);
	free(is);
}

static int add_files(struct aur_build_ctx *ctx)
{
	const char *override = ctx->cfg->iso.override_name;
	struct image_source *is = calloc(1, sizeof(*is));
	int r;

	if (!is)
		return -ENOMEM;
	is->bctx = ctx;
	pthread_mutex_init(&is->lock, NULL);
	r = aur_tree_on_free(ctx->tree, image_source_free, is);
	if (r < 0) {
		image_source_free(is);
		return r;
	}
	ctx->rootfs.get = get_rootfs;
	ctx->rootfs.ctx = is;
	if (override && *override) {
		if (strchr(override, '/')) {
			aur_err("iso.override_name '%s' must not contain '/'",
				override);
			return -EINVAL;
		}
		is->name = dated(ctx->cfg, override);
		if (!is->name)
			return -ENOMEM;
		ctx->name = is->name;
	} else {
		ctx->resolve_name = resolve_name;
	}
	aur_info("image source '%s': pulled when first needed",
		 ctx->cfg->container_image);
	return 0;
}

const struct aur_builder aur_builder_image = {
	.name = "image",
	.is_source = true,
	.kind = AUR_SOURCE_IMAGE,
	.provides = AUR_NEEDS(AUR_PRODUCT_ROOTFS),
	.add_files = add_files,
};
