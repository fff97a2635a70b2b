/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * squashfs_i.h - libsquashfs glue for the squashfs writer (squashfs.h):
 * the output file over a caller's fd, the compressor that never
 * compresses, and libsquashfs error codes as errnos. Private to
 * builders/squashfs*.c.
 */
#ifndef AURORA_SQUASHFS_I_H
#define AURORA_SQUASHFS_I_H

#include <stdint.h>

#include <sqfs/compressor.h>
#include <sqfs/io.h>

/* An sqfs_file_t over @fd. libsquashfs reaches it only from the writing
 * thread (workers compress; the block writer runs where blocks are
 * dequeued). The size is the end of what was written, as libsquashfs
 * appends at get_size(). */
struct aur_sqfs_out {
	sqfs_file_t base;
	int fd; /* borrowed */
	uint64_t size;
	int err; /* the first errno a call failed with, or 0 */
};

void aur_sqfs_out_init(struct aur_sqfs_out *out, int fd);

/* A compressor whose blocks never shrink, so that libsquashfs stores
 * every metadata block as it is; @block_size is reported in its
 * configuration. sqfs_destroy() frees it. NULL on ENOMEM. */
sqfs_compressor_t *aur_sqfs_none_new(uint32_t block_size);

/* The negative errno for the libsquashfs error @err: what the file failed
 * with, if it did, else the closest errno (SQFS_ERROR_ALLOC is -ENOMEM,
 * _OVERFLOW -EOVERFLOW, ...; library faults are -EIO). */
int aur_sqfs_errno(const struct aur_sqfs_out *out, int err);

#endif
