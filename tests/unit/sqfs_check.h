/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * sqfs_check.h - checking a squashfs image against the rootfs it was
 * written from, through readers aurorafs did not write: unsquashfs
 * (squashfs-tools) listings and extractions, the kernel's squashfs (a loop
 * mount), GRUB's (grub-fstest) and squashfs-tools-ng's rdsquashfs. Each
 * check fails the running cmocka test on the first difference, naming the
 * path.
 */
#ifndef AURORAFS_SQFS_CHECK_H
#define AURORAFS_SQFS_CHECK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct aur_rootfs;
struct aur_fnode;

/* What a directory made from an image can tell. */
enum check_what {
	CHECK_OWNERS = 1, /* uid and gid */
	CHECK_DEVICES = 2, /* device nodes exist, with their numbers */
	CHECK_XATTRS = 4,
	CHECK_TOP_AS_MADE = 8, /* the top directory is the reader's own */
	CHECK_LINKS_AS_COPIES = 16, /* hard links come out as copies */
	CHECK_DIR_LINKS = 32, /* directories: 2 + subdirectories, as stored */
};

/* Run @argv (argv[0] looked up in PATH) with stdout into @out (NULL:
 * /dev/null) and stderr to /dev/null (unless AUR_TEST_VERBOSE is set).
 * Returns the exit status, or -1 if it could not run or was killed. */
int run(const char *const argv[], const char *out);

/* Whether @tool is in PATH. */
bool have_tool(const char *tool);

/* What this process may check in a tree a reader wrote (owners and device
 * nodes need root). */
unsigned check_what_we_can(void);

/* The time squashfs keeps for @t. */
int64_t sqfs_time_of(int64_t t);

/* Compare the tree under @dir with @fs: every name and nothing else, file
 * types, modes, mtimes, sizes, contents, symlink targets, hard links
 * (same inode, link count) and, per @what, owners, device numbers,
 * xattrs. */
void check_dir(const struct aur_rootfs *fs, const char *dir, unsigned what);

/* Compare `unsquashfs -lln @img` with @fs: one line per name, with its
 * mode, owner, size or device numbers, mtime (to the minute) and symlink
 * target. */
void check_listing(const struct aur_rootfs *fs, const char *img);

/* unsquashfs -d into a new directory under @tmp, then check_dir(). Needs
 * root (else skipped, with a message), as rdsquashfs below. */
void check_unsquashfs(const struct aur_rootfs *fs, const char *img,
		      const char *tmp);

/* rdsquashfs (squashfs-tools-ng) unpacks into a new directory under @tmp,
 * then check_dir(); rdsquashfs 1.2 unpacks hard links as copies and leaves
 * the top directory as it made it. */
void check_rdsquashfs(const struct aur_rootfs *fs, const char *img,
		      const char *tmp);

/* A read-only loop mount under @tmp, then check_dir(). Returns false
 * (after a message) when mounting is impossible here: not root, no loop
 * devices, no squashfs in the kernel. */
bool check_kernel(const struct aur_rootfs *fs, const char *img,
		  const char *tmp);

/* Mount a tmpfs of @size bytes on @dir, for check_cleanup() to unmount.
 * false (after a message) when this process may not. */
bool mount_small_tmpfs(const char *dir, const char *size);

/* Unmount what a failed check_kernel() left mounted (a cmocka failure
 * leaves the function halfway); call it from each test's teardown. */
void check_cleanup(void);

/* grub-fstest: `ls /` works, and `cat` gives the bytes of each regular
 * file in @paths (NULL-terminated). */
void check_grub(const struct aur_rootfs *fs, const char *img, const char *tmp,
		const char *const *paths);

/* Read the data of regular file @n into a new buffer (caller frees). */
uint8_t *node_data(const struct aur_fnode *n);

#endif
