/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * iso9660.h - reading and re-encoding ISO 9660 directory hierarchies
 * (ECMA-119 with Rock Ridge/SUSP, and Joliet), as much as editing an
 * existing image needs.
 *
 * An image can hold several hierarchies: the primary one (usually with Rock
 * Ridge names), a Joliet one, and with xorriso's partition_offset a second
 * pair whose block addresses count from the start of the partition. Each is
 * an aur_iso_tree: its volume descriptor and its directories, loaded from
 * the image (metadata only). Directory records are kept as raw bytes so
 * that everything this code does not understand (timestamps, SUSP entries,
 * continuation areas, multi-extent files) is copied unchanged.
 *
 * Block numbers inside a tree are relative to tree->base, as on disk.
 */
#ifndef AURORA_ISO9660_H
#define AURORA_ISO9660_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

struct aur_source;

#define ISO_BLOCK 2048u
#define ISO_DIR_FLAG 0x02
#define ISO_MULTI_EXTENT_FLAG 0x80

/* Both-endian and single-endian fields. */
uint16_t iso_le16(const uint8_t *p);
uint32_t iso_le32(const uint8_t *p);
uint32_t iso_be32(const uint8_t *p);
void iso_put_le16(uint8_t *p, uint16_t v);
void iso_put_le32(uint8_t *p, uint32_t v);
void iso_put_be16(uint8_t *p, uint16_t v);
void iso_put_be32(uint8_t *p, uint32_t v);
void iso_put_both16(uint8_t *p, uint16_t v); /* LE then BE */
void iso_put_both32(uint8_t *p, uint32_t v);

struct aur_iso_dir;

/* One directory record. */
struct aur_iso_rec {
	uint8_t raw[255];
	uint8_t len;
	char *name; /* what readers see (RR/Joliet name), UTF-8 */
	struct aur_iso_dir *dir; /* the directory it names, if loaded */
};

struct aur_iso_dir {
	uint32_t extent, size; /* where it is in the base image */
	struct aur_iso_rec *recs; /* recs[0] is ".", recs[1] is ".." */
	size_t n, cap;
	struct aur_iso_dir *parent;
	/* editing state */
	bool modified; /* content must be written again */
	bool created; /* not in the base at all */
	uint32_t new_extent, new_size;
	unsigned pt_number; /* 1-based path table number */
};

struct aur_iso_tree {
	uint32_t base; /* block where this tree's addresses start */
	uint32_t vd_block; /* absolute block of its volume descriptor */
	bool joliet;
	bool rock_ridge;
	bool long_names; /* the primary names go beyond 8.3 */
	uint8_t vd[ISO_BLOCK];
	struct aur_iso_dir *root;
	size_t ndirs;
	uint32_t data_end; /* tree-relative: end of the last extent used */
};

/* Record fields. */
uint32_t iso_rec_extent(const struct aur_iso_rec *r);
uint32_t iso_rec_size(const struct aur_iso_rec *r);
uint8_t iso_rec_flags(const struct aur_iso_rec *r);
void iso_rec_set_extent(struct aur_iso_rec *r, uint32_t extent, uint32_t size);

/* Load the tree whose volume descriptor is at absolute block @vd_block,
 * for a tree based at block @base (0 or a partition offset). Reads
 * directories through @src, an image of @image_size bytes. Logs problems
 * naming @what; returns -EINVAL for malformed metadata, -EIO for reads. */
int aur_iso_tree_load(struct aur_iso_tree *t, struct aur_source *src,
		      uint64_t image_size, uint32_t base, uint32_t vd_block,
		      const char *what);
void aur_iso_tree_release(struct aur_iso_tree *t);

/* Find the child named @name (as readers see it) of @dir, or NULL. */
struct aur_iso_rec *aur_iso_dir_find(struct aur_iso_dir *dir, const char *name);

/*
 * Add a record for @name to @dir, in the order ECMA-119 or Joliet asks,
 * and mark @dir modified. The record copies its date and SUSP layout from
 * the tree's root; @mode, @mtime feed Rock Ridge. For a directory,
 * @sub is the new aur_iso_dir (created, owned by the tree from then on).
 * -ENAMETOOLONG when the name cannot be held, -ENOMEM.
 */
int aur_iso_dir_add(struct aur_iso_tree *t, struct aur_iso_dir *dir,
		    const char *name, bool is_dir, uint32_t mode, time_t mtime,
		    struct aur_iso_dir *sub, struct aur_iso_rec **out);

/* A new, empty directory under @parent (its "." and ".." are made when
 * it is serialised). */
struct aur_iso_dir *aur_iso_dir_new(struct aur_iso_dir *parent);

/* Bytes @dir takes once serialised (a multiple of ISO_BLOCK). */
uint32_t aur_iso_dir_serialised_size(const struct aur_iso_dir *dir);

/* Serialise @dir into @buf (aur_iso_dir_serialised_size bytes), using the
 * new_extent/new_size of @dir, its parent and its subdirectories. */
void aur_iso_dir_serialise(const struct aur_iso_tree *t,
			   const struct aur_iso_dir *dir, uint8_t *buf);

/* Number directories in path table order and return the table size. */
uint32_t aur_iso_path_table_prepare(struct aur_iso_tree *t);
/* Write the L (little-endian) or M (big-endian) path table. */
void aur_iso_path_table_write(const struct aur_iso_tree *t, bool big_endian,
			      uint8_t *buf);

/* Visit every directory, parents before children. */
void aur_iso_tree_walk(struct aur_iso_tree *t,
		       void (*fn)(struct aur_iso_dir *d, void *ctx), void *ctx);

#endif
