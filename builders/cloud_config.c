// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * /config.yaml: the rendered cloud-config, as AuroraBoot's HTTP server
 * shows it next to its artifacts.
 */
#include <aurora/builder.h>
#include <aurora/tree.h>

static int build(void *ctx, struct aur_image *img)
{
	const struct aur_build_ctx *bctx = ctx;

	img->mtime = bctx->cloud_config_mtime;
	return aur_extmap_add_mem(&img->map, "cloud-config", bctx->cloud_config,
				  bctx->cloud_config_len);
}

static const struct aur_file_ops ops = {.build = build};

static int add_files(struct aur_build_ctx *ctx)
{
	if (!ctx->cloud_config)
		return 0;
	return aur_tree_add_file(ctx->tree, "/config.yaml", &ops, ctx, NULL);
}

const struct aur_builder aur_builder_cloud_config = {
	.name = "cloud-config",
	.add_files = add_files,
};
