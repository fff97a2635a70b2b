/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * isoedit.h - an existing ISO image plus added or replaced files, as an
 * extent map over the original: no copy of the base is made.
 *
 * The new image is the base with a few blocks patched (volume descriptors,
 * the directories that change, partition tables, the boot catalog) and a
 * delta inserted right after the ISO 9660 data: new directories, path
 * tables and the files' contents. The insertion point is the first
 * partition boundary at or after the end of the ISO 9660 data, so the
 * partition that holds the data grows to cover the delta and partitions
 * after it (an appended EFI partition, the backup GPT) move along. Every
 * hierarchy is edited alike: the primary one with Rock Ridge, Joliet, and
 * the copies xorriso writes for a partition offset; copies of a tree's
 * volume descriptors (xorriso's relocated superblock) follow it. All
 * records are added first, then the delta is laid out and the records
 * get their extents (records move while directories grow). Any error -
 * reading, allocating, a name that cannot be held - fails the whole edit:
 * there is no partial image. El Torito boot images
 * stay where they are unless they lie after the insertion point; their
 * catalog follows them. The delta is padded to a whole MiB so that
 * cylinder and 4K alignment of the base survive.
 *
 * Same inputs, same bytes: nothing depends on the clock.
 */
#ifndef AURORA_ISOEDIT_H
#define AURORA_ISOEDIT_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

struct aur_source;
struct aur_extmap;

/*
 * One path to add. Additions apply in order: a later addition of a path
 * replaces an earlier one (or the base's file or link there). Directories
 * on the way are created as needed. A symbolic link (S_IFLNK) is recorded
 * as a Rock Ridge link with @link as its target, and left out of
 * hierarchies that cannot hold links (Joliet, no Rock Ridge).
 */
struct aur_iso_addition {
	const char *path; /* "/config.yaml", "/boot/grub2/grub.cfg" */
	bool is_dir; /* an (empty) directory to create */
	struct aur_source *src; /* the content (regular files only) */
	uint64_t size;
	uint32_t mode; /* st_mode, file type bits included */
	time_t mtime;
	const char *link; /* S_IFLNK: the target, as it is */
};

struct aur_iso_edit;

/*
 * Describe @base (@base_size bytes) with @adds applied as @map (which must
 * be empty). @what names the base in messages. The map points into
 * buffers owned by *@out (free with aur_iso_edit_free once the map is no
 * longer used) and into @base and the additions' sources (borrowed).
 * Logs what was wrong: -EINVAL for a base that is not a usable ISO or an
 * addition it cannot hold, -EIO for read errors, -ENOMEM.
 */
int aur_iso_edit(struct aur_source *base, uint64_t base_size, const char *what,
		 const struct aur_iso_addition *adds, size_t nadds,
		 struct aur_extmap *map, struct aur_iso_edit **out);

void aur_iso_edit_free(struct aur_iso_edit *e);

#endif
