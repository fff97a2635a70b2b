/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * sqfs_rootfs.h - a squashfs read back into a rootfs (builders/sqfs_rootfs.c).
 */
#ifndef AURORA_SQFS_ROOTFS_H
#define AURORA_SQFS_ROOTFS_H

struct aur_rootfs;
struct aur_source;

/*
 * Read the squashfs @src (borrowed: it must outlive the rootfs) into a new
 * rootfs: every directory, link and device at once, a regular file's bytes
 * decompressed when first read and then kept in memory until the rootfs is
 * freed. @what names the squashfs in messages. A squashfs that libsquashfs
 * cannot read, or whose tree cannot be a rootfs (a ".." name), is logged
 * and refused with -EIO or -EINVAL. 0 or -errno.
 */
int aur_squashfs_rootfs(struct aur_source *src, const char *what,
			struct aur_rootfs **out);

#endif
