// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Choosing the source and running the builders in the order their needs
 * make: a builder runs once every product it needs has been provided, and
 * only if none of what it provides is provided yet.
 */
#include <aurora/builder.h>
#include <aurora/config.h>
#include <aurora/log.h>
#include <aurora/tree.h>

#include <errno.h>

static const struct aur_builder *const builders[] = {
	&aur_builder_release_iso, /* source: a release's ISO */
	&aur_builder_image, /* source: a container image's rootfs */
	&aur_builder_squashfs, /* rootfs -> /netboot/rootfs.squashfs */
	&aur_builder_rootfs_boot, /* rootfs -> kernel, initrd */
	&aur_builder_live_iso, /* rootfs and the above -> the live ISO */
	&aur_builder_raw_disk, /* rootfs, squashfs -> raw disks */
	&aur_builder_cloud_disks, /* the EFI raw disk -> VHD, GCE */
	&aur_builder_iso_files, /* an ISO -> its kernel, initrd, squashfs */
	&aur_builder_squashfs_rootfs, /* a squashfs -> its rootfs */
	&aur_builder_custom_iso, /* an ISO -> the ISO with the cloud-config */
	&aur_builder_netboot, /* kernel, initrd, squashfs -> iPXE, per MAC */
	&aur_builder_cloud_config, /* /config.yaml */
	&aur_builder_status, /* /status */
};

#define NBUILDERS (sizeof(builders) / sizeof(builders[0]))

enum aur_source_kind aur_source_kind(const struct aur_config *cfg)
{
	return cfg->container_image && *cfg->container_image
		       ? AUR_SOURCE_IMAGE
		       : AUR_SOURCE_RELEASE;
}

static int run(struct aur_build_ctx *ctx, const struct aur_builder *b,
	       unsigned *provided)
{
	int r = b->add_files(ctx);

	if (r < 0) {
		aur_err("builder '%s' failed to set up its files", b->name);
		return r;
	}
	/* a product counts as provided once declared: a file product may
	 * only be added when the name is known */
	*provided |= b->provides;
	return 0;
}

int aur_builders_add_all(struct aur_build_ctx *ctx)
{
	bool done[NBUILDERS] = {false};
	unsigned provided = 0;
	bool progress = true;
	int r;

	ctx->source = aur_source_kind(ctx->cfg);
	for (size_t i = 0; i < NBUILDERS; i++) {
		if (!builders[i]->is_source)
			continue;
		done[i] = true;
		if (builders[i]->kind != ctx->source)
			continue;
		r = run(ctx, builders[i], &provided);
		if (r < 0)
			return r;
	}
	while (progress) {
		progress = false;
		for (size_t i = 0; i < NBUILDERS; i++) {
			const struct aur_builder *b = builders[i];

			/* ready once what it needs is there, unless what it
			 * provides is provided already (by a builder that
			 * makes it more directly from this source) */
			if (done[i] || (b->needs & provided) != b->needs ||
			    (b->provides & provided))
				continue;
			done[i] = true;
			progress = true;
			r = run(ctx, builders[i], &provided);
			if (r < 0)
				return r;
		}
	}
	for (size_t i = 0; i < NBUILDERS; i++)
		if (!done[i])
			aur_debug("builder '%s': what it needs is not provided "
				  "by this source",
				  builders[i]->name);
	return 0;
}

int aur_product_image(struct aur_build_ctx *ctx, enum aur_product p,
		      const struct aur_image **img)
{
	if (!ctx->products[p]) {
		int r = aur_names_resolve(ctx);

		if (r < 0)
			return r;
	}
	if (!ctx->products[p])
		return -ENOENT;
	return aur_node_image(ctx->products[p], img);
}
