// SPDX-License-Identifier: GPL-2.0-or-later
#include <aurora/builder.h>
#include <aurora/config.h>
#include <aurora/log.h>

/* the source builder first: the others use ctx->base_iso */
static const struct aur_builder *const builders[] = {
	&aur_builder_release_iso,
	&aur_builder_custom_iso,
	&aur_builder_cloud_config,
};

int aur_builders_add_all(struct aur_build_ctx *ctx)
{
	const char *image = ctx->cfg->container_image;

	if (image && *image)
		aur_warn("container_image '%s': container image sources are "
			 "not supported yet; only the cloud-config is served",
			 image);
	for (size_t i = 0; i < sizeof(builders) / sizeof(builders[0]); i++) {
		int r = builders[i]->add_files(ctx);

		if (r < 0) {
			aur_err("builder '%s' failed to set up its files",
				builders[i]->name);
			return r;
		}
	}
	return 0;
}
