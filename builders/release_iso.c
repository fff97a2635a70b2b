// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The release source: /iso/<name>.iso is the release asset itself, served
 * from the blob cache (fetched by ranges as it is read), and
 * /iso/<name>.iso.sha256 the checksum the release published. The same file
 * is the base ISO of every derived output.
 *
 * At start-up the blob is opened once (one one-byte request and the
 * checksum file, or nothing when it is cached), so that a wrong name or a
 * release without a checksum is reported right away; a failure there is
 * not fatal, the file is tried again when it is read. A release that
 * publishes no checksum gets no .sha256: nothing would vouch for it.
 */
#include <aurora/blob.h>
#include <aurora/builder.h>
#include <aurora/config.h>
#include <aurora/log.h>
#include <aurora/release.h>
#include <aurora/store.h>
#include <aurora/tree.h>
#include <aurora/util.h>

#include <errno.h>
#include <pthread.h>
#include <string.h>

struct release_iso {
	const struct aur_build_ctx *bctx;
	char *name; /* shown as <name>.iso */
	char *url; /* of the asset */
	char *checksum_url; /* <url>.sha256 */
	pthread_mutex_t lock;
	struct aur_blob *blob; /* opened on first use */
};

static int release_blob(struct release_iso *ri, struct aur_blob **out)
{
	int r = 0;

	pthread_mutex_lock(&ri->lock);
	if (!ri->blob)
		r = aur_blob_open(ri->bctx->state_dir, ri->url,
				  ri->checksum_url, &ri->blob);
	if (r == 0)
		*out = ri->blob;
	pthread_mutex_unlock(&ri->lock);
	return r;
}

static int build_iso(void *ctx, struct aur_image *img)
{
	struct aur_blob *b = NULL;
	int r = release_blob(ctx, &b);

	if (r < 0)
		return r;
	img->mtime = aur_blob_mtime(b);
	return aur_extmap_add_source(&img->map, "release asset",
				     aur_blob_source(b), 0, aur_blob_size(b));
}

static const struct aur_file_ops iso_ops = {.build = build_iso};

static bool published_digest(void *ctx, unsigned char digest[32])
{
	struct aur_blob *b = NULL;

	return release_blob(ctx, &b) == 0 &&
	       aur_blob_published_digest(b, digest);
}

static int source_id(void *ctx, char out[65])
{
	struct release_iso *ri = ctx;
	struct aur_blob *b = NULL;
	unsigned char digest[32];
	int r = release_blob(ri, &b);

	if (r < 0)
		return r;
	if (aur_blob_published_digest(b, digest)) {
		aur_sha256_hex(digest, out);
	} else {
		AUR_AUTOFREE char *size = aur_printf(
			"%llu", (unsigned long long)aur_blob_size(b));
		AUR_AUTOFREE char *mtime =
			aur_printf("%lld", (long long)aur_blob_mtime(b));
		const char *const inputs[] = {"unverified", ri->url, size,
					      mtime};

		if (!size || !mtime)
			return -ENOMEM;
		aur_store_key(inputs, AUR_ARRAY_SIZE(inputs), out);
	}
	return 0;
}

static void release_iso_free(void *ctx)
{
	struct release_iso *ri = ctx;

	aur_blob_close(ri->blob);
	pthread_mutex_destroy(&ri->lock);
	free(ri->name);
	free(ri->url);
	free(ri->checksum_url);
	free(ri);
}

static int add_files(struct aur_build_ctx *ctx)
{
	const struct aur_config *cfg = ctx->cfg;
	struct release_iso *ri;
	AUR_AUTOFREE char *asset = NULL;
	AUR_AUTOFREE char *file = NULL;
	struct aur_blob *blob = NULL;
	int r;

	ri = calloc(1, sizeof(*ri));
	if (!ri)
		return -ENOMEM;
	pthread_mutex_init(&ri->lock, NULL);
	ri->bctx = ctx;
	r = aur_tree_on_free(ctx->tree, release_iso_free, ri);
	if (r < 0) {
		release_iso_free(ri);
		return r;
	}
	asset = aur_release_asset_name(cfg);
	if (!asset)
		return -ENOMEM;
	ri->name = strdup(cfg->iso.override_name && *cfg->iso.override_name
				  ? cfg->iso.override_name
				  : asset);
	file = aur_printf("%s.iso", asset);
	if (!ri->name || !file)
		return -ENOMEM;
	if (strchr(ri->name, '/')) {
		aur_err("iso.override_name '%s' must not contain '/'",
			ri->name);
		return -EINVAL;
	}
	ri->url = aur_release_asset_url(cfg, file);
	ri->checksum_url = ri->url ? aur_printf("%s.sha256", ri->url) : NULL;
	if (!ri->url || !ri->checksum_url)
		return -ENOMEM;
	aur_info("release ISO '/iso/%s.iso' from '%s'", ri->name, ri->url);
	ctx->name = ri->name;
	ctx->source_id.get = source_id;
	ctx->source_id.ctx = ri;
	r = aur_named_file_add(ctx, "/iso/%s.iso", &iso_ops, ri,
			       &ctx->products[AUR_PRODUCT_BASE_ISO]);
	if (r < 0)
		return r;
	/* open it once to report problems now; closed again because the
	 * daemon forks after start-up, and the blob's threads would not
	 * survive that (a cached blob reopens without the network) */
	if (aur_blob_open(ctx->state_dir, ri->url, ri->checksum_url, &blob) ==
	    0) {
		bool published =
			aur_blob_published_digest(blob, (unsigned char[32]){0});

		aur_blob_close(blob);
		if (!published) {
			aur_warn("'%s' publishes no checksum ('%s'): it is "
				 "served unverified, and neither it nor what "
				 "is made of it gets a .sha256 file",
				 ri->url, ri->checksum_url);
			ctx->unverified = true;
			return 0;
		}
	}
	return aur_checksum_file_add(ctx, "/iso/%s.iso",
				     &ctx->products[AUR_PRODUCT_BASE_ISO],
				     published_digest, ri);
}

const struct aur_builder aur_builder_release_iso = {
	.name = "release-iso",
	.is_source = true,
	.kind = AUR_SOURCE_RELEASE,
	.provides = AUR_NEEDS(AUR_PRODUCT_BASE_ISO),
	.add_files = add_files,
};
