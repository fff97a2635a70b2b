// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The cloud images of the EFI raw disk:
 *
 * /raw/<name>.vhd - an Azure fixed VHD: the disk (a whole number of MiB)
 * followed by the 512-byte VHD footer. A view: nothing is copied, and the
 * footer's unique id is derived from the disk's checksum-worthy inputs, so
 * the same disk gives the same VHD.
 *
 * /raw/<name>.gce.tar.gz - what GCE imports: a GNU tar holding one
 * disk.raw, the disk grown to a whole number of GiB, gzip-compressed at
 * level 1 as AuroraBoot does. Compression is not a view: it is made once,
 * into the store (a job shows its progress), and kept by the digest of
 * the disk's inputs. Streaming uncompressed deflate blocks instead would
 * cost no CPU but save no space either; a disk is mostly zeros, which
 * level 1 shrinks a thousandfold.
 */
#include <aurora/builder.h>
#include <aurora/config.h>
#include <aurora/iso9660.h>
#include <aurora/job.h>
#include <aurora/log.h>
#include <aurora/store.h>
#include <aurora/tree.h>
#include <aurora/util.h>
#include <aurora/vhd.h>

#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>

#define MIB (UINT64_C(1) << 20)
#define GIB (UINT64_C(1) << 30)
#define VHD_FOOTER 512
#define VHD_EPOCH 946684800 /* 2000-01-01, VHD's time zero */
#define GCE_VERSION "aurorafs gce tar.gz 1"
#define COPY_STEP (4u << 20)

/* The VHD footer (big-endian), byte offsets of its fields. */
enum vhd_field {
	VHD_COOKIE = 0, /* "conectix" */
	VHD_FEATURES = 8,
	VHD_VERSION = 12,
	VHD_DATA_OFFSET = 16, /* all ones: a fixed disk */
	VHD_TIMESTAMP = 24,
	VHD_CREATOR_APP = 28,
	VHD_CREATOR_VERSION = 32,
	VHD_CREATOR_OS = 36,
	VHD_ORIGINAL_SIZE = 40,
	VHD_CURRENT_SIZE = 48,
	VHD_GEOMETRY = 56, /* cylinders (2), heads (1), sectors (1) */
	VHD_DISK_TYPE = 60,
	VHD_CHECKSUM = 64,
	VHD_UNIQUE_ID = 68,
	VHD_SAVED_STATE = 84,
};
#define VHD_FIXED 2

struct cloud_disk {
	struct aur_build_ctx *bctx;
};

static void put_be64(uint8_t *p, uint64_t v)
{
	iso_put_be32(p, (uint32_t)(v >> 32));
	iso_put_be32(p + 4, (uint32_t)v);
}

/* The disk's identity: what the disk is made of (its image mtime, size
 * and the name), so a different disk gets a different id. */
static void vhd_footer(uint8_t f[VHD_FOOTER], uint64_t size, time_t mtime,
		       const char *name)
{
	unsigned char id[32];
	uint32_t sum = 0;
	AUR_AUTOFREE char *seed =
		aur_printf("%s %llu %lld", name, (unsigned long long)size,
			   (long long)mtime);

	memset(f, 0, VHD_FOOTER);
	memcpy(f + VHD_COOKIE, "conectix", 8);
	iso_put_be32(f + VHD_FEATURES, 2);
	iso_put_be32(f + VHD_VERSION, 0x00010000);
	put_be64(f + VHD_DATA_OFFSET, UINT64_MAX);
	iso_put_be32(f + VHD_TIMESTAMP,
		     mtime > VHD_EPOCH ? (uint32_t)(mtime - VHD_EPOCH) : 0);
	memcpy(f + VHD_CREATOR_APP, "aurf", 4);
	iso_put_be32(f + VHD_CREATOR_VERSION, 0x00010000);
	memcpy(f + VHD_CREATOR_OS, "Lnux", 4);
	put_be64(f + VHD_ORIGINAL_SIZE, size);
	put_be64(f + VHD_CURRENT_SIZE, size);
	iso_put_be32(f + VHD_GEOMETRY, aur_vhd_geometry(size));
	iso_put_be32(f + VHD_DISK_TYPE, VHD_FIXED);
	aur_sha256(seed ? seed : name, strlen(seed ? seed : name), id);
	memcpy(f + VHD_UNIQUE_ID, id, 16);
	for (size_t i = 0; i < VHD_FOOTER; i++)
		sum += f[i];
	iso_put_be32(f + VHD_CHECKSUM, ~sum);
}

static int vhd_build(void *ctx, struct aur_image *img)
{
	struct cloud_disk *cd = ctx;
	const struct aur_image *raw;
	struct aur_extmap_source view;
	uint8_t *footer = malloc(VHD_FOOTER);
	uint64_t size;
	int r;

	if (!footer)
		return -ENOMEM;
	img->priv = footer;
	r = aur_product_image(cd->bctx, AUR_PRODUCT_RAW_EFI, &raw);
	if (r < 0)
		return r;
	size = AUR_DIV_ROUND_UP(raw->map.size, MIB) * MIB;
	img->mtime = raw->mtime;
	vhd_footer(footer, size, raw->mtime,
		   cd->bctx->products[AUR_PRODUCT_RAW_EFI]->name);
	aur_extmap_source_init(&view, &raw->map);
	r = aur_extmap_add_source(&img->map, "raw disk", &view.src, 0,
				  raw->map.size);
	if (r == 0)
		r = aur_extmap_add_zero(&img->map, "to a whole MiB",
					size - raw->map.size);
	if (r == 0)
		r = aur_extmap_add_mem(&img->map, "VHD footer", footer,
				       VHD_FOOTER);
	return r;
}

static void release_priv(void *ctx, struct aur_image *img)
{
	free(img->priv);
	img->priv = NULL;
}

static const struct aur_file_ops vhd_ops = {
	.build = vhd_build,
	.release = release_priv,
};

/* ---- GCE ---- */

struct gce_job {
	const struct aur_image *raw;
	uint64_t size; /* the disk grown to whole GiB */
	const char *what;
	struct aur_job *job; /* while it is really built */
	int fd;
	uint64_t written;
};

static la_ssize_t write_out(struct archive *a, void *ctx, const void *buf,
			    size_t n)
{
	struct gce_job *g = ctx;
	int r = aur_pwrite_full(g->fd, buf, n, g->written);

	if (r < 0) {
		archive_set_error(a, -r, "%s", strerror(-r));
		return -1;
	}
	g->written += n;
	return (la_ssize_t)n;
}

static int feed_disk(struct archive *a, struct gce_job *g)
{
	AUR_AUTOFREE uint8_t *buf = malloc(COPY_STEP);

	if (!buf)
		return -ENOMEM;
	for (uint64_t off = 0; off < g->size; off += COPY_STEP) {
		size_t n = (size_t)AUR_MIN((uint64_t)COPY_STEP, g->size - off);
		ssize_t got = 0;

		if (off < g->raw->map.size)
			got = aur_extmap_pread(&g->raw->map, buf, n, off);
		if (got < 0)
			return (int)got;
		memset(buf + got, 0, n - (size_t)got);
		if (archive_write_data(a, buf, n) != (la_ssize_t)n)
			return -EIO;
		aur_job_progress(g->job, "bytes", off + n, g->size);
	}
	return 0;
}

static int make_gce(void *ctx, int fd)
{
	struct gce_job *g = ctx;
	struct archive *a = archive_write_new();
	struct archive_entry *e = archive_entry_new();
	int r = 0;

	g->job = aur_job_start(g->what);
	g->fd = fd;
	g->written = 0;
	if (!a || !e) {
		r = -ENOMEM;
		goto out;
	}
	if (archive_write_set_format_gnutar(a) != ARCHIVE_OK ||
	    archive_write_add_filter_gzip(a) != ARCHIVE_OK ||
	    archive_write_set_filter_option(a, "gzip", "compression-level",
					    "1") != ARCHIVE_OK ||
	    archive_write_set_filter_option(a, "gzip", "timestamp", NULL) !=
		    ARCHIVE_OK ||
	    archive_write_open2(a, g, NULL, write_out, NULL, NULL) !=
		    ARCHIVE_OK) {
		aur_err("gce image: %s", archive_error_string(a));
		r = -EIO;
		goto out;
	}
	archive_entry_set_pathname(e, "disk.raw");
	archive_entry_set_filetype(e, AE_IFREG);
	archive_entry_set_perm(e, 0644);
	archive_entry_set_size(e, (la_int64_t)g->size);
	archive_entry_set_mtime(e, g->raw->mtime, 0);
	if (archive_write_header(a, e) != ARCHIVE_OK) {
		aur_err("gce image: %s", archive_error_string(a));
		r = -EIO;
		goto out;
	}
	r = feed_disk(a, g);
	if (archive_write_close(a) != ARCHIVE_OK && r == 0) {
		aur_err("gce image: %s", archive_error_string(a));
		r = -EIO;
	}
out:
	archive_entry_free(e);
	if (a)
		archive_write_free(a);
	aur_job_end(g->job, r);
	return r;
}

static void gce_release(void *ctx, struct aur_image *img)
{
	struct aur_file_source *stored = img->priv;

	if (!stored)
		return;
	aur_file_source_close(stored);
	free(stored);
	img->priv = NULL;
}

static int gce_build(void *ctx, struct aur_image *img)
{
	struct cloud_disk *cd = ctx;
	struct aur_build_ctx *b = cd->bctx;
	struct aur_file_source *stored = calloc(1, sizeof(*stored));
	struct aur_node *raw_node = b->products[AUR_PRODUCT_RAW_EFI];
	struct gce_job g = {0};
	const struct aur_image *checksum;
	AUR_AUTOFREE char *sum_path = NULL;
	AUR_AUTOFREE char *what = NULL;
	char key[65], line[80] = "";
	int r;

	if (!stored)
		return -ENOMEM;
	stored->fd = -1;
	img->priv = stored;
	r = aur_product_image(b, AUR_PRODUCT_RAW_EFI, &g.raw);
	if (r < 0)
		return r;
	/* the key: the disk's own checksum (its .sha256 when there is one),
	 * else its name and mtime */
	sum_path = aur_printf("/raw/%s.sha256", raw_node->name);
	what = aur_printf("%s.gce.tar.gz", b->name);
	if (!sum_path || !what)
		return -ENOMEM;
	{
		struct aur_node *sum = aur_tree_find(b->tree, sum_path);

		if (sum && aur_node_image(sum, &checksum) == 0 &&
		    aur_extmap_pread(&checksum->map, line, 64, 0) != 64)
			line[0] = '\0';
	}
	if (!line[0])
		snprintf(line, sizeof(line), "%s %lld", raw_node->name,
			 (long long)g.raw->mtime);
	{
		const char *const inputs[] = {GCE_VERSION, line};

		aur_store_key(inputs, AUR_ARRAY_SIZE(inputs), key);
	}
	/* GCE wants whole GiB; AuroraBoot always adds some */
	g.size = (g.raw->map.size / GIB + 1) * GIB;
	g.what = what;
	r = aur_store_get(b->state_dir, key, what, make_gce, &g, stored);
	if (r < 0)
		return r;
	img->mtime = g.raw->mtime;
	return aur_extmap_add_source(&img->map, "gce tar.gz", &stored->src, 0,
				     stored->src.size);
}

static const struct aur_file_ops gce_ops = {
	.build = gce_build,
	.release = gce_release,
};

static int add_files(struct aur_build_ctx *ctx)
{
	const struct aur_config *cfg = ctx->cfg;
	struct cloud_disk *cd;
	struct aur_node **nodes; /* the VHD, the GCE image */
	int r;

	if (!cfg->disk.vhd && !cfg->disk.gce)
		return 0;
	cd = calloc(1, sizeof(*cd));
	nodes = calloc(2, sizeof(*nodes));
	if (!cd || !nodes) {
		free(cd);
		free(nodes);
		return -ENOMEM;
	}
	cd->bctx = ctx;
	r = aur_tree_on_free(ctx->tree, free, cd);
	if (r == 0)
		r = aur_tree_on_free(ctx->tree, free, nodes);
	if (r < 0)
		return r;
	if (cfg->disk.vhd) {
		r = aur_named_file_add(ctx, "/raw/%s.vhd", &vhd_ops, cd,
				       &nodes[0]);
		if (r == 0)
			r = aur_checksum_file_add(ctx, "/raw/%s.vhd", &nodes[0],
						  NULL, NULL);
	}
	if (r == 0 && cfg->disk.gce) {
		r = aur_named_file_add(ctx, "/raw/%s.gce.tar.gz", &gce_ops, cd,
				       &nodes[1]);
		if (r == 0)
			r = aur_checksum_file_add(ctx, "/raw/%s.gce.tar.gz",
						  &nodes[1], NULL, NULL);
	}
	return r;
}

const struct aur_builder aur_builder_cloud_disks = {
	.name = "cloud-disks",
	.needs = AUR_NEEDS(AUR_PRODUCT_RAW_EFI),
	.add_files = add_files,
};
