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
 *
 * Incremental builds: compressing is nearly all the cost of an image, and
 * the image of a new tag holds mostly blocks that the last one held. A
 * build can leave an index of the blocks it stored (opts.index), to keep
 * next to the image; a later build given both (aur_sqfs_cache_open,
 * opts.cache) takes a block as the earlier image stores it instead of
 * compressing it when the bytes to compress are ones the index knows - and
 * does not try again a block that did not shrink. That goes for file data
 * blocks and for fragment blocks (tail ends packed together), which are
 * compressed by the same workers.
 *
 * A block is known by what it holds - the SHA-256 of its bytes before
 * compression - not by the file it comes from (a layer digest, an offset
 * and a size): so a fragment block, packed from the tails of many files,
 * is found again when the files in it are unchanged (libsquashfs packs
 * tails in walk order and starts a new fragment block when the next tail
 * does not fit, so a small change usually moves only the fragment block
 * it lands in), the same bytes in another layer or a dir: source are
 * found too, and the block processor works exactly as without a cache.
 * The price is that every byte is read and hashed again: SHA-256 costs
 * about 1 ms per MiB, checking a hit (see below) 1 to 15 more, where
 * compressing costs 20 to 300.
 *
 * The output does not depend on the cache: compressing is a function of
 * the block and the compressor's settings, and a cached block only stands
 * in for the result of that function, so the image is byte for byte the
 * one a build without a cache writes. The settings - compressor, level,
 * options, block size, the versions of zlib, liblzma and libzstd, and the
 * compressor's output for a fixed probe block - are hashed into the index,
 * and an index made with other settings is not used.
 *
 * Nothing in a cache is trusted: an index is checked whole when it is
 * opened (its magic, size, the SHA-256 of its entries, entries sorted, no
 * two alike, each inside the image) and refused with a warning otherwise;
 * a block taken from the earlier image must have the SHA-256 the index
 * gives for its stored bytes and decompress to exactly the bytes it stands
 * for, else it is compressed as if the cache did not have it (counted in
 * the stats and warned about once per build). AUR_SQFS_NONE compresses
 * nothing, so it neither uses nor writes an index.
 *
 * The index, all numbers little-endian: a struct aur_sqfs_index_header,
 * then entry_count struct aur_sqfs_index_entry sorted by data_digest
 * (bytewise), no two with the same. One entry per distinct block: 80
 * bytes per block of the image (with 1 MiB blocks, 0.01% of its size).
 */
#ifndef AURORA_SQUASHFS_H
#define AURORA_SQUASHFS_H

#include <stddef.h>
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

#define AUR_SQFS_INDEX_MAGIC "AURSQIX1" /* 8 bytes, no NUL */

struct aur_sqfs_index_header {
	char magic[8]; /* AUR_SQFS_INDEX_MAGIC */
	uint8_t settings[32]; /* SHA-256 of the writer's settings */
	uint8_t entries_digest[32]; /* SHA-256 of all the entries */
	uint64_t image_size; /* bytes of the image the entries point into */
	uint32_t block_size; /* that image's block size */
	uint32_t entry_count;
};

struct aur_sqfs_index_entry {
	uint8_t data_digest[32]; /* SHA-256 of the block before compression */
	uint8_t stored_digest[32]; /* SHA-256 of the block as stored */
	uint64_t offset; /* where it is stored in the image */
	/* squashfs's size word: the stored size in the low 24 bits, bit 24
	 * set if the block is stored uncompressed */
	uint32_t size_word;
	uint32_t reserved; /* 0 */
};

/* The index of an image just written (caller frees @data). */
struct aur_sqfs_index {
	uint8_t *data;
	size_t len;
};

/* What a build did with its blocks of file data and fragment blocks
 * (sparse blocks, all zeros, are neither compressed nor stored). */
struct aur_sqfs_cache_stats {
	uint64_t blocks_reused, bytes_reused; /* taken from the cache */
	uint64_t blocks_compressed, bytes_compressed; /* compressed */
	uint64_t blocks_refused; /* cache entries that did not check out */
};

/* An earlier image and its index, checked (see above). */
struct aur_sqfs_cache;

/*
 * Open the cache of the image in @image_fd (duplicated: the caller keeps
 * its own) whose index is @index (@len bytes, copied). @what names it in
 * messages. 0, -EBADMSG after a warning saying what is wrong with the
 * index, or -errno (-ENOMEM, fstat's).
 */
int aur_sqfs_cache_open(const char *what, int image_fd, const void *index,
			size_t len, struct aur_sqfs_cache **out);

/* NULL-safe. */
void aur_sqfs_cache_free(struct aur_sqfs_cache *c);

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
	/* blocks to copy rather than compress (NULL: none); only read, so
	 * one cache may serve several builds at once */
	const struct aur_sqfs_cache *cache;
	/* if not NULL: receives the index of the image written, or stays
	 * empty (data NULL) for AUR_SQFS_NONE or on failure */
	struct aur_sqfs_index *index;
	/* if not NULL: receives what the build did with its blocks */
	struct aur_sqfs_cache_stats *stats;
};

/*
 * Write @fs as a squashfs image to @fd, a regular file open for reading
 * and writing (duplicate blocks are compared with what was written, and
 * the index is made from what was written), from offset 0; the file ends
 * up exactly the image's size. @o may be NULL for the defaults. @fs is
 * only read. Returns the image size in bytes, or -errno after logging
 * why: the error of a source that fails (or -EIO for one that ends
 * early), of the file (-ENOSPC...), -ENAMETOOLONG or -EOVERFLOW for what
 * squashfs cannot hold (see above), -EINVAL for bad options, -ENOMEM.
 * What a cache holds never makes it fail. On failure the file holds
 * garbage.
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
