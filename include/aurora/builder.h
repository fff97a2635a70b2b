/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * builder.h - builders turn the config into files of the tree.
 *
 * Each builder is a static struct aur_builder that says which products it
 * needs and which it provides. Products are what outputs derive from: the
 * base ISO, and later the rootfs, its squashfs, the kernel and the initrd.
 * The source of everything (a release, or a container image) is chosen
 * once from the config; its builder provides the first products, and
 * every other builder runs as soon as what it needs is provided, whatever
 * the order of the builder list, unless what it provides is provided
 * already. A builder whose needs cannot be met adds nothing.
 *
 * At mount time builders only add files (names and build functions):
 * nothing is fetched or built then. A file product is a node of the tree
 * (listed or not), built on first use like any file; derived outputs read
 * it through its image's extent map.
 */
#ifndef AURORA_BUILDER_H
#define AURORA_BUILDER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

struct aur_config;
struct aur_tree;
struct aur_node;
struct aur_image;
struct aur_file_ops;
struct aur_rootfs;
struct aur_names;

/* The root filesystem of a source, made on first use (an image is pulled
 * and flattened then). */
struct aur_rootfs_provider {
	/* @fs, and @key (hex digest of everything the tree is made of, for
	 * the keys of what is built from it), live as long as the tree.
	 * May block for long. 0 or -errno, logged. */
	int (*get)(void *ctx, const struct aur_rootfs **fs, const char **key);
	void *ctx;
};

enum aur_product {
	AUR_PRODUCT_BASE_ISO, /* the bootable ISO other outputs edit */
	AUR_PRODUCT_ROOTFS, /* a root filesystem (ctx->rootfs) */
	AUR_PRODUCT_SQUASHFS, /* the rootfs as a squashfs */
	AUR_PRODUCT_KERNEL,
	AUR_PRODUCT_INITRD,
	AUR_PRODUCT_RAW_EFI, /* the EFI raw disk (the VHD and GCE image) */
	AUR_PRODUCT_RAW_BIOS,
	AUR_PRODUCT_COUNT
};

#define AUR_NEEDS(p) (1u << (p))

/* What a source is: the config chooses one. */
enum aur_source_kind {
	AUR_SOURCE_RELEASE, /* a Kairos release on a release server */
	AUR_SOURCE_IMAGE, /* a container image (container_image) */
};

enum aur_source_kind aur_source_kind(const struct aur_config *cfg);

struct aur_build_ctx {
	const struct aur_config *cfg;
	enum aur_source_kind source;
	const char *state_dir; /* absolute */
	const char *cloud_config; /* rendered; NULL if there is none */
	size_t cloud_config_len;
	/* the cloud-config before templating, for what is rendered per
	 * machine (aur_cloud_config_render_machine); NULL if there is none */
	const char *cloud_config_template;
	size_t cloud_config_template_len;
	const char *cloud_config_origin; /* for messages */
	/* when the cloud-config last changed: its file's mtime, else the
	 * start time; shown as the mtime of the files it goes into, so that
	 * HTTP caches (ETag, Last-Modified) see a new cloud-config */
	time_t cloud_config_mtime;
	struct aur_tree *tree;
	/* the name outputs are called after ("<name>.iso"): set by the
	 * source builder, at once or by resolve_name */
	const char *name;
	/* Set ctx->name when it is not known at start-up (an image's name
	 * comes from its /etc/kairos-release). May block. 0 or -errno. */
	int (*resolve_name)(struct aur_build_ctx *ctx);
	struct aur_names *names; /* files waiting for the name */
	struct aur_rootfs_provider rootfs; /* AUR_PRODUCT_ROOTFS */
	/* Set by a source builder whose bytes have a stable identity:
	 * get() writes a hex digest naming exactly what the source serves
	 * (the published checksum, else the download's URL, size and time),
	 * the input of the store keys of what is built from it. May block
	 * (opens the source). 0 or -errno. get is NULL for sources that key
	 * their products themselves (an image keys its rootfs). */
	struct {
		int (*get)(void *ctx, char out[65]);
		void *ctx;
	} source_id;
	/* set by the source builder when it knows that nothing vouches for
	 * the source (no published checksum): no checksum files are added */
	bool unverified;
	/* file products, set by the builders that provide them */
	struct aur_node *products[AUR_PRODUCT_COUNT];
};

struct aur_builder {
	const char *name;
	unsigned needs; /* AUR_NEEDS(product) bits */
	unsigned provides;
	/* For a source builder: the source kind it handles. */
	bool is_source;
	enum aur_source_kind kind;
	/* Add this builder's files to ctx->tree and set ctx->products[] for
	 * what it provides. 0 or -errno (logged). */
	int (*add_files)(struct aur_build_ctx *ctx);
};

extern const struct aur_builder aur_builder_release_iso;
extern const struct aur_builder aur_builder_image;
extern const struct aur_builder aur_builder_squashfs;
extern const struct aur_builder aur_builder_custom_iso;
extern const struct aur_builder aur_builder_cloud_config;
extern const struct aur_builder aur_builder_status;
extern const struct aur_builder aur_builder_iso_files;
extern const struct aur_builder aur_builder_squashfs_rootfs;
extern const struct aur_builder aur_builder_netboot;
extern const struct aur_builder aur_builder_rootfs_boot;
extern const struct aur_builder aur_builder_live_iso;
extern const struct aur_builder aur_builder_raw_disk;
extern const struct aur_builder aur_builder_cloud_disks;

/* Run the source's builder, then every builder whose needs are met. */
int aur_builders_add_all(struct aur_build_ctx *ctx);

/* The image of file product @p (built on first use; resolving the name
 * first if the product waits for it). 0 or -errno; -ENOENT if nothing
 * provides it. */
int aur_product_image(struct aur_build_ctx *ctx, enum aur_product p,
		      const struct aur_image **img);

/*
 * Add a file whose path holds the output name: @fmt has one "%s" for it
 * ("/iso/%s.iso"). When the name is known (a release, iso.override_name)
 * the file is added at once; else when its directory is first looked at,
 * after resolve_name - so listing other directories never waits for an
 * image. *@out (may be NULL) is set when the file is added; builders keep
 * it in their context and read it later.
 */
int aur_named_file_add(struct aur_build_ctx *ctx, const char *fmt,
		       const struct aur_file_ops *ops, void *fctx,
		       struct aur_node **out);

/* Resolve the name and add the files waiting for it (once; again after a
 * failure). 0 or -errno. */
int aur_names_resolve(struct aur_build_ctx *ctx);

/* Free what aur_named_file_add kept. */
void aur_names_free(struct aur_build_ctx *ctx);

/*
 * Add "<target>.sha256" (@target_fmt as for aur_named_file_add), a
 * sha256sum-style line "<hex>  <name>\n" for the file *@target (set once
 * the target is added). The line's length is known up front, so listing
 * it costs nothing; the digest is computed on first read by hashing the
 * target, unless @known gives it (a checksum the release published). A
 * checksum is never made up for bytes nobody verified: if the target reads
 * from a download without a published checksum, reading the line fails
 * with EIO and says why. Adds nothing when ctx->unverified.
 */
int aur_checksum_file_add(struct aur_build_ctx *ctx, const char *target_fmt,
			  struct aur_node *const *target,
			  bool (*known)(void *kctx, unsigned char digest[32]),
			  void *kctx);

#endif
