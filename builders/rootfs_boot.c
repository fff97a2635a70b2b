// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The kernel and initrd of a root filesystem, as AuroraBoot picks them:
 * the first entry of /boot, in name order, that is not a directory and
 * whose name starts with uImage, Image, zImage, vmlinuz or image (the
 * kernel), or with initrd or initramfs (the initrd); a symlink stands for
 * its target (relative to /boot) when that exists. /netboot/kernel and
 * /netboot/initrd are views of that file's data in the stored layer.
 */
#include <aurora/builder.h>
#include <aurora/log.h>
#include <aurora/rootfs.h>
#include <aurora/tree.h>
#include <aurora/util.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

static const char *const kernel_prefixes[] = {"uImage",	 "Image", "zImage",
					      "vmlinuz", "image", NULL};
static const char *const initrd_prefixes[] = {"initrd", "initramfs", NULL};

struct boot_file {
	struct aur_build_ctx *bctx;
	const char *what; /* "kernel" */
	const char *const *prefixes;
};

static bool has_prefix(const char *name, const char *const *prefixes)
{
	for (size_t i = 0; prefixes[i]; i++)
		if (aur_startswith(name, prefixes[i]))
			return true;
	return false;
}

/* The file @prefixes select in /boot of @fs: the inode holding its data. */
static const struct aur_fnode *pick(const struct aur_rootfs *fs,
				    const char *const *prefixes)
{
	const struct aur_fnode *boot = aur_rootfs_lookup(fs, "/boot", true);

	if (!boot || !S_ISDIR(boot->mode))
		return NULL;
	for (size_t i = 0; i < boot->nchildren; i++) {
		const struct aur_fnode *n = boot->children[i];
		char path[512];

		if (S_ISDIR(n->mode) || !has_prefix(n->name, prefixes))
			continue;
		if (S_ISLNK(n->mode)) {
			snprintf(path, sizeof(path), "/boot/%s", n->name);
			n = aur_rootfs_lookup(fs, path, true);
			if (!n)
				continue; /* a dangling link */
		}
		n = aur_fnode_inode(n);
		if (S_ISREG(n->mode))
			return n;
	}
	return NULL;
}

static int build(void *ctx, struct aur_image *img)
{
	struct boot_file *b = ctx;
	const struct aur_rootfs *fs;
	const struct aur_fnode *n;
	const char *key;
	int r = b->bctx->rootfs.get(b->bctx->rootfs.ctx, &fs, &key);

	if (r < 0)
		return r;
	n = pick(fs, b->prefixes);
	if (!n) {
		aur_err("no %s in /boot of the image (a file named %s*...)",
			b->what, b->prefixes[0]);
		return -EIO;
	}
	img->mtime = (time_t)n->mtime;
	if (n->size == 0)
		return 0;
	return aur_extmap_add_source(&img->map, b->what, n->src, n->off,
				     n->size);
}

static const struct aur_file_ops ops = {.build = build};

static int add(struct aur_build_ctx *ctx, const char *what,
	       const char *const *prefixes, const char *path,
	       enum aur_product p)
{
	struct boot_file *b = calloc(1, sizeof(*b));
	int r;

	if (!b)
		return -ENOMEM;
	*b = (struct boot_file){ctx, what, prefixes};
	r = aur_tree_on_free(ctx->tree, free, b);
	if (r < 0) {
		free(b);
		return r;
	}
	return aur_tree_add_file(ctx->tree, path, &ops, b, &ctx->products[p]);
}

static int add_files(struct aur_build_ctx *ctx)
{
	int r = add(ctx, "kernel", kernel_prefixes, "/netboot/kernel",
		    AUR_PRODUCT_KERNEL);

	if (r == 0)
		r = add(ctx, "initrd", initrd_prefixes, "/netboot/initrd",
			AUR_PRODUCT_INITRD);
	return r;
}

const struct aur_builder aur_builder_rootfs_boot = {
	.name = "rootfs-boot",
	.needs = AUR_NEEDS(AUR_PRODUCT_ROOTFS),
	.provides =
		AUR_NEEDS(AUR_PRODUCT_KERNEL) | AUR_NEEDS(AUR_PRODUCT_INITRD),
	.add_files = add_files,
};
