/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * ext2img.h - an ext2 filesystem image as an extent map (the raw disk's
 * COS_OEM and COS_RECOVERY partitions), built in process with libext2fs:
 * no root, no loop device, no mkfs, nothing written to disk.
 *
 * libext2fs writes through a memory io_manager (builders/ext2_memio.h):
 * superblocks, group descriptors, bitmaps, inode tables, directories,
 * indirect blocks and the data of small files stay in memory. The data
 * blocks of large files are reserved in one walk of their block maps
 * (never written) and mapped to ranges of the files' sources. So the map
 * is: metadata in memory, zeros, and extents over the sources - the image
 * costs its metadata, and reading the sources is left to whoever reads
 * the map.
 *
 * On-disk layout: ext2 revision 1, much as `mke2fs -t ext2 -O
 * ^resize_inode,^dir_index,^ext_attr -m 0 -I 256` makes it, which GRUB 2.06
 * and every Linux kernel read (features filetype, sparse_super, large_file;
 * nothing from ext3/ext4):
 *   byte 0        1 KiB of zeros (boot area), then the superblock at byte
 *                 1024 (in block 0, or block 1 for 1 KiB blocks)
 *   each group    (8 * block_size blocks) superblock and descriptors in
 *                 groups 0, 1 and powers of 3, 5 and 7; block bitmap,
 *                 inode bitmap, inode table; then data
 *   inodes        256 bytes; 1-10 reserved (2: the root), 11 lost+found
 *                 (16 KiB, as mke2fs makes it), then the entries in order
 *   files         12 direct, indirect, double and triple indirect blocks
 *                 (up to 2 TiB with 4 KiB blocks: i_blocks is 32-bit)
 * No blocks are reserved for root (-m 0): these partitions are written by
 * root alone, and a recovery partition is sized to its image. Inodes: one
 * per 16 KiB (mke2fs's ratio) when that fits, else just enough. Every time
 * stamp comes from the options or the entries, and the UUID and hash seed
 * are given: the same inputs give the same bytes on every machine.
 */
#ifndef AURORA_EXT2IMG_H
#define AURORA_EXT2IMG_H

#include <stddef.h>
#include <stdint.h>

#include <aurora/extmap.h>
#include <aurora/source.h>

/* One file of the image. Parent directories are made as needed (0755,
 * root's, the filesystem's time); an entry for a directory that was made
 * that way, or for "/", sets its attributes instead. */
struct aur_ext2_entry {
	const char *path; /* absolute: "/cOS/recovery.squashfs" */
	uint32_t mode; /* S_IFREG, S_IFDIR or S_IFLNK | permissions */
	uint32_t uid, gid;
	int64_t mtime; /* atime, mtime and ctime; 0: the filesystem's time */
	const char *target; /* symlinks: 1 to block_size - 1 bytes */
	/* regular files: @size bytes at @off of @src (NULL if @size is 0),
	 * borrowed: the source must outlive the map */
	struct aur_source *src;
	uint64_t off, size;
};

struct aur_ext2_opts {
	const char *label; /* "COS_RECOVERY": at most 16 bytes */
	uint64_t size; /* the image's size in bytes, a multiple of block_size */
	uint8_t uuid[16];
	/* the directory hash seed, a UUID as `mke2fs -E hash_seed=` takes it */
	uint8_t hash_seed[16];
	/* seconds since the epoch, 1 to 2^31 - 1 (libext2fs reads 0 as
	 * "now"): mkfs, last check and last write time, and the time of
	 * every inode without its own (mount time stays 0: never mounted) */
	int64_t time;
	unsigned block_size; /* 1024, 2048 or 4096; 0: 4096 */
	/* regular files smaller than this are copied into the image's memory
	 * (read from their sources while building); others are extents over
	 * their sources (0: 64 KiB) */
	uint64_t copy_below;
};

/* Owns the metadata buffers an image's map points into. */
struct aur_ext2_image;

/*
 * Build the filesystem holding @entries (@n of them, made in this order)
 * into @map, which must be empty. The map covers exactly @o->size bytes
 * and points into buffers owned by *@out and into the entries' sources.
 * Logs what is wrong: a size too small (with the smallest that fits), a
 * label or name too long, a path through a file, a duplicate, a source that
 * fails. 0, or a negative errno (-ENOSPC: too small) with @map released.
 */
int aur_ext2_build(const struct aur_ext2_opts *o,
		   const struct aur_ext2_entry *entries, size_t n,
		   struct aur_extmap *map, struct aur_ext2_image **out);

/* Free @img (NULL is ignored); maps pointing into it must be gone. */
void aur_ext2_image_free(struct aur_ext2_image *img);

/* Bytes of memory the image's buffers take. */
size_t aur_ext2_image_bytes(const struct aur_ext2_image *img);

/*
 * The smallest size, to the block, of a filesystem with options @o (its
 * size ignored) that holds @entries, in *@size; every larger size holds
 * them too. 0, or a negative errno after logging what is wrong with the
 * entries.
 */
int aur_ext2_min_size(const struct aur_ext2_opts *o,
		      const struct aur_ext2_entry *entries, size_t n,
		      uint64_t *size);

#endif
