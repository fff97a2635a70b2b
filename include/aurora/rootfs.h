/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * rootfs.h - a root filesystem held in memory: the layers of a container
 * image flattened into one tree, with every file's metadata (type, mode,
 * owner, time, device numbers, symlink target, hard links, xattrs) and
 * its data as a range of a source - a stored layer tar - so that nothing
 * is extracted and nothing needs root.
 *
 * Layers are applied bottom first, as the OCI image spec says: in each
 * layer, an opaque marker ".wh..wh..opq" hides what lower layers had in
 * its directory and a whiteout ".wh.<name>" deletes <name> from lower
 * layers; then the layer's own entries are added (a directory over a
 * directory keeps the children and takes the new metadata; anything else
 * replaces what was there).
 *
 * A tree is built once and then only read: readers need no locks.
 * Children are kept sorted by name (byte order), so walks are
 * deterministic. The rootfs owns every node, string and source.
 */
#ifndef AURORA_ROOTFS_H
#define AURORA_ROOTFS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct aur_source;

struct aur_xattr {
	char *name; /* "user.x", "security.capability", ... */
	uint8_t *value;
	size_t len;
};

struct aur_fnode {
	char *name; /* "" for the root */
	struct aur_fnode *parent; /* the root is its own parent */
	struct aur_fnode **children; /* directories: sorted by name */
	size_t nchildren;

	uint32_t mode; /* st_mode: file type and permission bits */
	uint32_t uid, gid;
	int64_t mtime; /* seconds since the epoch */
	uint32_t rdev_major, rdev_minor; /* character and block devices */
	char *target; /* symlinks: the target, as stored */
	struct aur_xattr *xattrs;
	size_t nxattrs;

	/* regular files: @size bytes at @off of @src */
	uint64_t size;
	struct aur_source *src;
	uint64_t off;

	/* hard links: a second name of an inode points at the first one
	 * (the node that holds the data and metadata); NULL otherwise */
	struct aur_fnode *link;
	uint32_t nlink; /* names of this inode (1 + its hard links) */
};

struct aur_rootfs;

/* An empty tree (a root directory 0755, owned by 0:0, time 0). NULL on
 * ENOMEM. */
struct aur_rootfs *aur_rootfs_new(void);
void aur_rootfs_free(struct aur_rootfs *fs);

struct aur_fnode *aur_rootfs_root(const struct aur_rootfs *fs);

/* Nodes in the tree (hard links count once per name). */
size_t aur_rootfs_count(const struct aur_rootfs *fs);

/* Keep @src alive as long as @fs (its data ranges point into it); the
 * rootfs closes it with @close(@src) when freed. 0 or -ENOMEM. */
int aur_rootfs_adopt_source(struct aur_rootfs *fs, struct aur_source *src,
			    void (*close)(struct aur_source *src));

/*
 * Add or replace the entry at @path ("etc/os-release", "/usr", leading
 * slashes and "./" ignored; ".." refused) with the metadata of @proto
 * (mode, uid, gid, mtime, rdev, target, size, src, off; its name, tree
 * links and xattrs are ignored: see aur_rootfs_set_xattr). Missing parent
 * directories are made (0755, 0:0). A directory over a directory keeps its
 * children. Returns the node, or NULL with errno (EINVAL for a bad path,
 * ENOTDIR when a parent is not a directory, ENOMEM).
 */
struct aur_fnode *aur_rootfs_put(struct aur_rootfs *fs, const char *path,
				 const struct aur_fnode *proto);

/* Make @path a hard link to the existing @target_path (a non-directory).
 * NULL with errno (ENOENT, EPERM for a directory, ...). */
struct aur_fnode *aur_rootfs_hardlink(struct aur_rootfs *fs, const char *path,
				      const char *target_path);

/* Remove @path and everything below it; 0, or -ENOENT. */
int aur_rootfs_remove(struct aur_rootfs *fs, const char *path);

/* Remove every child of directory @path (an opaque directory). 0 or
 * -ENOENT/-ENOTDIR. */
int aur_rootfs_clear_dir(struct aur_rootfs *fs, const char *path);

/* Set (replace) the xattr @name of @n. 0 or -ENOMEM. */
int aur_rootfs_set_xattr(struct aur_rootfs *fs, struct aur_fnode *n,
			 const char *name, const void *value, size_t len);

/* The node at @path, or NULL. With @follow, symlinks on the way and at the
 * end are followed (relative to their directory, absolute ones from the
 * root of this tree, at most 40 of them). */
struct aur_fnode *aur_rootfs_lookup(const struct aur_rootfs *fs,
				    const char *path, bool follow);

/* The inode a name stands for: @n itself, or the node it hard-links. */
static inline const struct aur_fnode *aur_fnode_inode(const struct aur_fnode *n)
{
	return n->link ? n->link : n;
}

/* Read a whole small regular file (at most @max bytes) into a malloc'd,
 * NUL-terminated buffer. 0 or -errno (-ENOENT, -EFBIG, -EISDIR...). */
int aur_rootfs_read_file(const struct aur_rootfs *fs, const char *path,
			 size_t max, char **buf, size_t *len);

/* Visit every node, parents before children, children in name order;
 * @fn returning non-zero stops the walk and becomes its result. */
int aur_rootfs_walk(const struct aur_rootfs *fs,
		    int (*fn)(void *ctx, struct aur_fnode *n), void *ctx);

/* The absolute path of @n ("/etc/os-release"; "/" for the root) into
 * @buf; -ENAMETOOLONG if it does not fit. */
int aur_fnode_path(const struct aur_fnode *n, char *buf, size_t size);

/*
 * Apply the uncompressed layer tar @src (a stored, verified layer) over
 * @fs, as the OCI image spec says (see above). File data stays in @src:
 * nodes point at ranges of it, and @fs adopts it. @what names the layer in
 * messages. Logs what is wrong; 0 or -errno (-EINVAL for a tar that cannot
 * be a layer: a path with "..", a hard link to nothing, sparse files, data
 * past the end).
 */
int aur_rootfs_apply_layer(struct aur_rootfs *fs, struct aur_source *src,
			   void (*close)(struct aur_source *src),
			   const char *what);

#endif
