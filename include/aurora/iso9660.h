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
 * continuation areas, multi-extent files) is copied unchanged - except in
 * the records of files an edit replaces, which are written anew.
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

/*
 * One directory record. Records live in their directory's growable array:
 * adding a record may move all of them, so nothing may keep a pointer to
 * a record (or its index) across a change to that directory. What an edit
 * needs to find again later is carried by the record itself (@add).
 */
struct aur_iso_rec {
	uint8_t raw[255];
	uint8_t len;
	char *name; /* what readers see (RR/Joliet name), UTF-8 */
	struct aur_iso_dir *dir; /* the directory it names, if loaded */
	/* editing state */
	size_t add; /* 1 + the index of the addition it carries, 0 if none */
	uint8_t *ce; /* SUSP entries of a new record that go to a
		      * continuation area (ce_len bytes), or NULL */
	uint16_t ce_len;
	uint8_t ce_at; /* offset of the CE entry in raw */
	uint32_t ce_block; /* where the area is (tree-relative block and */
	uint16_t ce_off; /* byte offset), set by aur_iso_ce_layout */
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
	unsigned next_serial; /* where the search for a free name resumes */
};

struct aur_iso_tree {
	uint32_t base; /* block where this tree's addresses start */
	uint32_t vd_block; /* absolute block of its volume descriptor */
	bool joliet;
	bool rock_ridge;
	bool long_names; /* the primary names go beyond 8.3 */
	uint8_t susp_skip; /* SP's LEN_SKP: bytes before each SUSP area */
	uint8_t vd[ISO_BLOCK];
	struct aur_iso_dir *root;
	size_t ndirs;
	uint32_t data_end; /* tree-relative: end of the last extent used */
	/* path table order, from aur_iso_path_table_prepare */
	struct aur_iso_dir **pt_order;
	size_t pt_n;
};

/* Record fields. */
uint32_t iso_rec_extent(const struct aur_iso_rec *r);
uint32_t iso_rec_size(const struct aur_iso_rec *r);
uint8_t iso_rec_flags(const struct aur_iso_rec *r);
void iso_rec_set_extent(struct aur_iso_rec *r, uint32_t extent, uint32_t size);

/* Load the tree whose volume descriptor is at absolute block @vd_block,
 * for a tree based at block @base (0 or a partition offset). Reads
 * directories (and the continuation areas of Rock Ridge names) through
 * @src, an image of @image_size bytes. Logs problems naming @what;
 * returns -EINVAL for malformed metadata, -EIO (or the source's error)
 * for reads, -ENOMEM. */
int aur_iso_tree_load(struct aur_iso_tree *t, struct aur_source *src,
		      uint64_t image_size, uint32_t base, uint32_t vd_block,
		      const char *what);
void aur_iso_tree_release(struct aur_iso_tree *t);

/* Whether @t can record a symbolic link: a primary tree with Rock Ridge.
 * Like libisofs, links are left out of Joliet and of plain ECMA-119. */
bool aur_iso_tree_has_symlinks(const struct aur_iso_tree *t);

/* The index in @dir->recs of the child named @name (as readers see it),
 * or 0 if there is none. Valid until @dir changes. */
size_t aur_iso_dir_find(const struct aur_iso_dir *dir, const char *name);

/* What a new or replaced record describes. */
struct aur_iso_entry {
	const char *name; /* as readers see it (UTF-8 for Joliet) */
	uint32_t mode; /* st_mode: S_IFREG, S_IFDIR or S_IFLNK, permissions */
	time_t mtime;
	const char *link; /* S_IFLNK: the target, recorded as it is */
	size_t add; /* copied to the record's @add */
};

/*
 * Add a record for @e to @dir, at its place in ECMA-119 9.3 order (Joliet:
 * the same rule on UCS-2 characters), with an identifier that no other
 * record of @dir has (a serial number is added when the 8.3, level 2 or
 * Joliet form of the name is taken), and mark @dir modified. Rock Ridge
 * trees get PX, TF, NM and, for a link, SL entries; what does not fit in
 * the record goes to a continuation area (see aur_iso_ce_layout). For a
 * directory, @sub is the new aur_iso_dir, which this takes: the tree owns
 * it once added, and it is freed if the addition fails.
 * A symbolic link can only go to a tree with aur_iso_tree_has_symlinks.
 * -ENAMETOOLONG when the name or link cannot be held, -EINVAL, -ENOMEM.
 */
int aur_iso_dir_add(struct aur_iso_tree *t, struct aur_iso_dir *dir,
		    const struct aur_iso_entry *e, struct aur_iso_dir *sub);

/* Make record @i of @dir (a file or a link) describe @e instead, keeping
 * its identifier and so its place: a replaced file gets new Rock Ridge
 * attributes and drops SUSP entries that described the old content; the
 * record's name becomes @e's. Marks @dir modified. -ENAMETOOLONG,
 * -ENOMEM. */
int aur_iso_dir_replace(struct aur_iso_tree *t, struct aur_iso_dir *dir,
			size_t i, const struct aur_iso_entry *e);

/* Remove record @i (a file or a link) of @dir and mark @dir modified. */
void aur_iso_dir_remove(struct aur_iso_dir *dir, size_t i);

/* A new, empty directory under @parent whose "." record describes @e
 * (mode, mtime); NULL on allocation failure. */
struct aur_iso_dir *aur_iso_dir_new(const struct aur_iso_tree *t,
				    struct aur_iso_dir *parent,
				    const struct aur_iso_entry *e);

/* Bytes @dir takes once serialised (a multiple of ISO_BLOCK). */
uint32_t aur_iso_dir_serialised_size(const struct aur_iso_dir *dir);

/* Serialise @dir into @buf (aur_iso_dir_serialised_size bytes), using the
 * new_extent/new_size of @dir, its parent and its subdirectories, and the
 * places of continuation areas. */
void aur_iso_dir_serialise(const struct aur_iso_tree *t,
			   const struct aur_iso_dir *dir, uint8_t *buf);

/*
 * Number the directories in path table order (ECMA-119 6.9.1: by level,
 * then by parent number, then by identifier) and give the size of a
 * table in *@size. 0, -ENOMEM, or -EFBIG when parent numbers do not fit
 * 16 bits. Call again after directories were added.
 */
int aur_iso_path_table_prepare(struct aur_iso_tree *t, uint32_t *size);
/* Write the L (little-endian) or M (big-endian) path table, as numbered
 * by the last aur_iso_path_table_prepare, into @buf (*size bytes). */
void aur_iso_path_table_write(const struct aur_iso_tree *t, bool big_endian,
			      uint8_t *buf);

/* Place the continuation areas of new records in blocks from @first
 * (tree-relative) on, each inside one block; returns how many blocks
 * they take (0 if none). */
uint32_t aur_iso_ce_layout(struct aur_iso_tree *t, uint32_t first);
/* Write them, as placed, into @buf (those blocks). */
void aur_iso_ce_write(const struct aur_iso_tree *t, uint32_t first,
		      uint8_t *buf);

/* Visit every directory, parents before children. */
void aur_iso_tree_walk(struct aur_iso_tree *t,
		       void (*fn)(struct aur_iso_dir *d, void *ctx), void *ctx);

#endif
