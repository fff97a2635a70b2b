/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * builder.h - builders turn the config into files of the tree.
 *
 * Each builder is a static struct aur_builder. At mount time every builder
 * adds its files (names and build functions only: nothing is fetched or
 * built then). Builders that make outputs from "the base ISO" (custom ISOs,
 * netboot files) get it through ctx->base_iso, which the source builder
 * (a release today) provides.
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
struct aur_source;

/* The ISO that other outputs derive from, opened on first use. */
struct aur_base_iso {
	/* Give the ISO as a source and its size and mtime (may block on the
	 * network the first time). 0 or -errno, logged. */
	int (*open)(void *ctx, struct aur_source **src, uint64_t *size,
		    time_t *mtime);
	void *ctx;
	const char *name; /* output base name: "<name>.iso" */
};

struct aur_build_ctx {
	const struct aur_config *cfg;
	const char *state_dir;
	const char *cloud_config; /* rendered; NULL if there is none */
	size_t cloud_config_len;
	/* when the cloud-config last changed: its file's mtime, else the
	 * start time; shown as the mtime of the files it goes into, so that
	 * HTTP caches (ETag, Last-Modified) see a new cloud-config */
	time_t cloud_config_mtime;
	struct aur_tree *tree;
	struct aur_base_iso base_iso; /* set by the source builder */
};

struct aur_builder {
	const char *name;
	/* Add this builder's files to ctx->tree. 0 or -errno (logged). */
	int (*add_files)(struct aur_build_ctx *ctx);
};

extern const struct aur_builder aur_builder_release_iso;
extern const struct aur_builder aur_builder_custom_iso;
extern const struct aur_builder aur_builder_cloud_config;

/* Run every builder's add_files, the source first. */
int aur_builders_add_all(struct aur_build_ctx *ctx);

/*
 * Add @path, a sha256sum-style line "<hex>  <name>\n" for the file @target.
 * The line's length is known up front, so listing it costs nothing; the
 * digest is computed on first read by hashing @target, unless @known
 * gives it (e.g. a checksum the release published).
 */
int aur_checksum_file_add(struct aur_build_ctx *ctx, const char *path,
			  struct aur_node *target, const char *name,
			  bool (*known)(void *kctx, unsigned char digest[32]),
			  void *kctx);

#endif
