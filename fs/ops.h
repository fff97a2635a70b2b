/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * ops.h - the FUSE low-level operations: a thin, read-only view of a
 * struct aur_tree. Lookups build files on first use; reads walk the
 * file's extent map and hand file-backed extents to the kernel as fd
 * buffers (spliced when the kernel allows), so cached data is not copied
 * through this process.
 */
#ifndef AURORAFS_OPS_H
#define AURORAFS_OPS_H

#define FUSE_USE_VERSION FUSE_MAKE_VERSION(3, 12)
#include <fuse_lowlevel.h>

struct aur_tree;

struct aur_fs {
	struct aur_tree *tree; /* borrowed */
	uid_t uid;
	gid_t gid;
};

extern const struct fuse_lowlevel_ops aur_fs_ops;

#endif
