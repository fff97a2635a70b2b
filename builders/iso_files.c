// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The netboot files of an ISO source: /netboot/kernel, /netboot/initrd and
 * /netboot/rootfs.squashfs are views of the base ISO's /boot/kernel,
 * /boot/initrd and /rootfs.squashfs - the extents those files take in the
 * ISO, read from its directory records. Nothing is copied; AuroraBoot
 * extracts the same three files from a release ISO.
 */
#include <aurora/builder.h>
#include <aurora/extmap.h>
#include <aurora/iso9660.h>
#include <aurora/log.h>
#include <aurora/tree.h>
#include <aurora/util.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>

struct iso_file {
	struct aur_build_ctx *bctx;
	const char *iso_path; /* "/boot/kernel" */
	struct aur_extmap_source base;
};

/* The record of @path in @t, its index in its directory. */
static int find_record(struct aur_iso_tree *t, const char *path,
		       struct aur_iso_dir **dir, size_t *index)
{
	struct aur_iso_dir *d = t->root;
	const char *p = path;

	for (;;) {
		char name[256];
		size_t len, at;
		struct aur_iso_rec *rec;

		while (*p == '/')
			p++;
		len = strcspn(p, "/");
		if (len == 0 || len >= sizeof(name))
			return -ENOENT;
		memcpy(name, p, len);
		name[len] = '\0';
		p += len;
		at = aur_iso_dir_find(d, name);
		if (!at)
			return -ENOENT;
		rec = &d->recs[at];
		if (!*p) {
			if (rec->dir)
				return -EISDIR;
			*dir = d;
			*index = at;
			return 0;
		}
		if (!rec->dir)
			return -ENOTDIR;
		d = rec->dir;
	}
}

/* Add the extents of the file whose (first) record is @d->recs[@i]: a
 * multi-extent file continues in the records after it. */
static int add_file_extents(struct aur_extmap *m, struct aur_source *iso,
			    const struct aur_iso_tree *t,
			    const struct aur_iso_dir *d, size_t i,
			    const char *what)
{
	for (;; i++) {
		const struct aur_iso_rec *rec = &d->recs[i];
		uint64_t off =
			((uint64_t)t->base + iso_rec_extent(rec)) * ISO_BLOCK;
		int r;

		if (iso_rec_size(rec) > 0) {
			r = aur_extmap_add_source(m, "ISO file", iso, off,
						  iso_rec_size(rec));
			if (r == -EINVAL) {
				aur_err("%s: its extent lies outside the ISO",
					what);
				return -EIO;
			}
			if (r < 0)
				return r;
		}
		if (!(iso_rec_flags(rec) & ISO_MULTI_EXTENT_FLAG))
			return 0;
		if (i + 1 >= d->n) {
			aur_err("%s: multi-extent file without its last "
				"extent",
				what);
			return -EIO;
		}
	}
}

static int build(void *ctx, struct aur_image *img)
{
	struct iso_file *f = ctx;
	const struct aur_image *base;
	struct aur_iso_tree t;
	struct aur_iso_dir *d;
	char what[128];
	size_t i;
	int r = aur_product_image(f->bctx, AUR_PRODUCT_BASE_ISO, &base);

	if (r < 0)
		return r;
	snprintf(what, sizeof(what), "%s.iso:%s", f->bctx->name, f->iso_path);
	aur_extmap_source_init(&f->base, &base->map);
	img->mtime = base->mtime;
	r = aur_iso_tree_load(&t, &f->base.src, f->base.src.size, 0, 16, what);
	if (r < 0)
		return r == -EINVAL ? -EIO : r;
	r = find_record(&t, f->iso_path, &d, &i);
	if (r < 0)
		aur_err("%s: not in the ISO (%s)", what, strerror(-r));
	else
		r = add_file_extents(&img->map, &f->base.src, &t, d, i, what);
	aur_iso_tree_release(&t);
	return r < 0 ? -EIO : 0;
}

static const struct aur_file_ops ops = {.build = build};

static const struct {
	const char *iso_path, *path;
	enum aur_product product;
} files[] = {
	{"/boot/kernel", "/netboot/kernel", AUR_PRODUCT_KERNEL},
	{"/boot/initrd", "/netboot/initrd", AUR_PRODUCT_INITRD},
	{"/rootfs.squashfs", "/netboot/rootfs.squashfs", AUR_PRODUCT_SQUASHFS},
};

static int add_files(struct aur_build_ctx *ctx)
{
	for (size_t i = 0; i < AUR_ARRAY_SIZE(files); i++) {
		struct iso_file *f = calloc(1, sizeof(*f));
		int r;

		if (!f)
			return -ENOMEM;
		f->bctx = ctx;
		f->iso_path = files[i].iso_path;
		r = aur_tree_on_free(ctx->tree, free, f);
		if (r < 0) {
			free(f);
			return r;
		}
		r = aur_tree_add_file(ctx->tree, files[i].path, &ops, f,
				      &ctx->products[files[i].product]);
		if (r < 0)
			return r;
	}
	return 0;
}

const struct aur_builder aur_builder_iso_files = {
	.name = "iso-files",
	.needs = AUR_NEEDS(AUR_PRODUCT_BASE_ISO),
	.provides = AUR_NEEDS(AUR_PRODUCT_KERNEL) |
		    AUR_NEEDS(AUR_PRODUCT_INITRD) |
		    AUR_NEEDS(AUR_PRODUCT_SQUASHFS),
	.add_files = add_files,
};
