/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * ext2_memio.h - a libext2fs io_manager whose device is memory (private to
 * builders/ext2img.c).
 *
 * What libext2fs writes is kept in a sparse store of 4 KiB pages. Bytes never
 * written read as zeros and cost nothing; a page that becomes all zeros is
 * dropped, and a zero-out (ext2fs_zero_blocks2, which ext2fs_fallocate
 * calls on the blocks it reserves) drops the pages it covers. So a file's
 * reserved data blocks take no memory, and the store ends up holding the
 * filesystem's metadata and the data of the files written through it.
 *
 * ext2fs_initialize() opens a channel with any name; the channel creates
 * an empty store. The builder takes a reference to it with
 * aur_ext2_memio_store() so that the bytes outlive ext2fs_close(). A store
 * is used by one thread at a time, like the filesystem that writes it.
 */
#ifndef AURORA_EXT2_MEMIO_H
#define AURORA_EXT2_MEMIO_H

#include <ext2fs/ext2fs.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct aur_ext2_store;

/* The io_manager to hand to ext2fs_initialize(). */
extern struct struct_io_manager aur_ext2_memio_manager;

/* The store behind @channel (a channel of aur_ext2_memio_manager), with a
 * reference the caller drops with aur_ext2_store_put(). */
struct aur_ext2_store *aur_ext2_memio_store(io_channel channel);

/* Drop a reference; the last one frees the store. NULL is ignored. */
void aur_ext2_store_put(struct aur_ext2_store *s);

/* Copy @len bytes at byte offset @off into @buf (zeros where nothing is
 * held). */
void aur_ext2_store_read(const struct aur_ext2_store *s, uint64_t off,
			 void *buf, size_t len);

/* The first offset at or after @off that lies in a page held, in *@next;
 * false if there is none. */
bool aur_ext2_store_next(const struct aur_ext2_store *s, uint64_t off,
			 uint64_t *next);

/* Whether bytes [@off, @off + @len) read as zeros. */
bool aur_ext2_store_is_zero(const struct aur_ext2_store *s, uint64_t off,
			    uint64_t len);

/* Bytes of pages held. */
size_t aur_ext2_store_bytes(const struct aur_ext2_store *s);

#endif
