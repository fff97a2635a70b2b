// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * /iso/<name>.custom.iso: the base ISO with the rendered cloud-config at
 * /config.yaml and the files of iso.overlay_iso added or replaced - what
 * AuroraBoot makes with "xorriso -map ... -boot_image any replay", built
 * here as a view of the base (isoedit.h) without copying it.
 *
 * The overlay is read as overlay.h says.
 */
#include <aurora/builder.h>
#include <aurora/config.h>
#include <aurora/extmap.h>
#include <aurora/isoedit.h>
#include <aurora/log.h>
#include <aurora/overlay.h>
#include <aurora/source.h>
#include <aurora/tree.h>
#include <aurora/util.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* What one build of the custom ISO owns. */
struct custom_image {
	struct aur_extmap_source base;
	struct aur_iso_edit *edit;
	struct aur_mem_source config;
	struct aur_overlay *overlay;
};

struct custom_iso {
	struct aur_build_ctx *bctx;
	struct aur_node *node; /* set once added (it waits for the name) */
};

/* ---- the image ---- */

static void custom_release(void *ctx, struct aur_image *img)
{
	struct custom_image *ci = img->priv;

	if (!ci)
		return;
	aur_iso_edit_free(ci->edit);
	aur_overlay_free(ci->overlay);
	free(ci);
	img->priv = NULL;
}

static int custom_build(void *ctx, struct aur_image *img)
{
	struct custom_iso *cu = ctx;
	struct aur_build_ctx *b = cu->bctx;
	const char *overlay = b->cfg->iso.overlay_iso;
	struct aur_iso_addition *adds = NULL;
	struct custom_image *ci = calloc(1, sizeof(*ci));
	const struct aur_image *base;
	time_t mtime;
	size_t n = 0;
	int r;

	if (!ci)
		return -ENOMEM;
	img->priv = ci;
	r = aur_product_image(b, AUR_PRODUCT_BASE_ISO, &base);
	if (r < 0)
		return r;
	aur_extmap_source_init(&ci->base, &base->map);
	img->mtime = base->mtime;
	if (overlay && *overlay) {
		r = aur_overlay_load(b->state_dir, overlay, &ci->overlay);
		if (r < 0)
			return -EIO;
	}
	adds = calloc(aur_overlay_count(ci->overlay) + 1, sizeof(*adds));
	if (!adds)
		return -ENOMEM;
	mtime = aur_overlay_additions(ci->overlay, adds);
	n = aur_overlay_count(ci->overlay);
	if (mtime > img->mtime)
		img->mtime = mtime;
	if (b->cloud_config) {
		/* after the overlay: the cloud-config wins over a config.yaml
		 * that the overlay may carry */
		aur_mem_source_init(&ci->config, b->cloud_config,
				    b->cloud_config_len);
		adds[n++] = (struct aur_iso_addition){
			.path = "/config.yaml",
			.src = &ci->config.src,
			.size = b->cloud_config_len,
			.mode = S_IFREG | 0644,
			.mtime = img->mtime,
		};
	}
	r = aur_iso_edit(&ci->base.src, ci->base.src.size, cu->node->name, adds,
			 n, &img->map, &ci->edit);
	/* the file's mtime (not its bytes) follows the cloud-config too */
	if (b->cloud_config && b->cloud_config_mtime > img->mtime)
		img->mtime = b->cloud_config_mtime;
	free(adds);
	return r == -EINVAL ? -EIO : r;
}

static const struct aur_file_ops custom_ops = {
	.build = custom_build,
	.release = custom_release,
};

static int add_files(struct aur_build_ctx *ctx)
{
	const char *overlay = ctx->cfg->iso.overlay_iso;
	struct custom_iso *cu;
	int r;

	if (!ctx->cloud_config && !(overlay && *overlay)) {
		aur_info("no cloud-config and no iso.overlay_iso: no custom "
			 "ISO");
		return 0;
	}
	cu = calloc(1, sizeof(*cu));
	if (!cu)
		return -ENOMEM;
	cu->bctx = ctx;
	r = aur_tree_on_free(ctx->tree, free, cu);
	if (r < 0) {
		free(cu);
		return r;
	}
	r = aur_named_file_add(ctx, "/iso/%s.custom.iso", &custom_ops, cu,
			       &cu->node);
	if (r == 0)
		r = aur_checksum_file_add(ctx, "/iso/%s.custom.iso", &cu->node,
					  NULL, NULL);
	return r;
}

const struct aur_builder aur_builder_custom_iso = {
	.name = "custom-iso",
	.needs = AUR_NEEDS(AUR_PRODUCT_BASE_ISO),
	.add_files = add_files,
};
