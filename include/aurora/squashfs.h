/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * squashfs.h - a root filesystem (rootfs.h) written as a squashfs 4.0
 * image, in process: file data is read from the sources the rootfs points
 * into (stored layer tars; nothing is extracted), compressed by worker
 * threads and written together with the metadata tables. libsquashfs
 * provides the block processor, the table writers and the compressors;
 * this module decides what goes into them.
 *
 * The image, as the Linux kernel and GRUB 2.06 read it:
 *
 *   0      superblock (96 bytes, libsquashfs's sqfs_super_t)
 *   96     compressor options, only when they are not the defaults
 *          data blocks and fragment blocks, files in walk order
 *          inode table, then directory table
 *          fragment table: always a real offset, even with no fragments,
 *          since GRUB refuses an image whose table offset is all ones
 *          id table, then xattr tables (if any xattr)
 *          zeros up to a multiple of 4 KiB, for loop devices
 *
 * GRUB 2.06 reads only the first 64 KiB of a directory's listing (it cuts
 * an extended directory's size to 16 bits, whoever wrote the image): in a
 * directory of more than about 1,500 names, the later ones are out of its
 * reach. The kernel reads them all.
 *
 * Deterministic: the same tree and options give the same bytes, whatever
 * the number of threads and their timing. Inodes are numbered in walk
 * order (the root is 1, then depth first, children by name; a hard-linked
 * inode takes its number at its first name). The mkfs time is the newest
 * mtime in the tree. squashfs keeps times as unsigned 32-bit seconds:
 * earlier times become 0 and later ones 2106-02-07.
 *
 * What a squashfs cannot hold fails the write, with a log line naming the
 * path: a name over 255 bytes, a symlink target over 4095 bytes (the kernel
 * refuses longer ones), a device number over 12 bits major or 20 bits
 * minor, more than 65536 distinct user and group ids. The exception is an
 * xattr outside the user., trusted. and security. namespaces (such as
 * system.posix_acl_access), which squashfs has no way to store: it is left
 * out with a warning, as mksquashfs does.
 */
#ifndef AURORA_SQUASHFS_H
#define AURORA_SQUASHFS_H

#include <stdint.h>

struct aur_rootfs;

enum aur_sqfs_compression {
	AUR_SQFS_GZIP, /* zlib: mksquashfs's and AuroraBoot's default */
	AUR_SQFS_XZ,
	AUR_SQFS_ZSTD, /* the kernel reads it; GRUB 2.06 does not */
	/* Nothing compressed: data blocks, fragment blocks and metadata
	 * blocks are stored as they are, with squashfs's "uncompressed"
	 * bits and superblock flags set, and the superblock names gzip (as
	 * mksquashfs -noI -noD -noF -noX does). As with the others, tail
	 * ends are packed into fragment blocks, a block of zeros takes no
	 * room (a sparse block) and duplicate data is stored once. */
	AUR_SQFS_NONE,
};

/* Called from the writing thread, after each block of file data read:
 * regular files (inodes, not names) and their bytes. */
typedef void (*aur_sqfs_progress_fn)(void *ctx, uint64_t files_done,
				     uint64_t files_total, uint64_t bytes_done,
				     uint64_t bytes_total);

/* A zeroed struct asks for the defaults. */
struct aur_sqfs_opts {
	enum aur_sqfs_compression comp;
	/* 0: the compressor's default (gzip 9, xz 6, zstd 15); else gzip
	 * 1-9, xz 1-9, zstd 1-22 */
	int level;
	/* 0: 1 MiB (AuroraBoot's mksquashfs -b 1024k); else a power of two
	 * from 4 KiB to 1 MiB */
	uint32_t block_size;
	/* compressing threads; 0: one per usable CPU; at most 64 */
	unsigned threads;
	aur_sqfs_progress_fn progress; /* may be NULL */
	void *progress_ctx;
};

/*
 * Write @fs as a squashfs image to @fd, a regular file open for reading
 * and writing (duplicate blocks are compared with what was written),
 * from offset 0; the file ends up exactly the image's size. @o may be NULL
 * for the defaults. @fs is only read. Returns the image size in bytes, or
 * -errno after logging why: the error of a source that fails (or -EIO for
 * one that ends early), of the file (-ENOSPC...), -ENAMETOOLONG or
 * -EOVERFLOW for what squashfs cannot hold (see above), -EINVAL for bad
 * options, -ENOMEM. On failure the file holds garbage.
 */
int64_t aur_squashfs_write(const struct aur_rootfs *fs,
			   const struct aur_sqfs_opts *o, int fd);

/* The compression called @s ("gzip", "xz", "zstd", "none"), as in the
 * config. 0, -ENOTSUP for a squashfs compressor that aurorafs does not
 * write ("lzo", "lz4", "lzma"), or -EINVAL. */
int aur_sqfs_compression_parse(const char *s, enum aur_sqfs_compression *out);

/* The name of @c ("gzip"...). */
const char *aur_sqfs_compression_name(enum aur_sqfs_compression c);

#endif
