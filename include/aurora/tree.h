/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * tree.h - the directory tree a mount shows, and the lazily built images
 * behind its files.
 *
 * Builders add files by path; each file has a build function that
 * describes its content as an extent map (struct aur_image). Nothing is
 * built when the tree is made: a file is built the first time someone
 * looks it up, and the image is then kept for the life of the tree. A
 * build that fails is not remembered, so the next access tries again (a
 * server that was down may be back); its release function runs after a
 * failed build too, to free what the build had allocated.
 *
 * Entries appear later than the mount in three ways:
 *  - a directory may have a populate function, run once on its first
 *    lookup or listing (and again after a failure), that adds its entries
 *    - for names known only once an image has been pulled;
 *  - a directory may have a lookup function, run when a name it does not
 *    have is looked up, that may add it (a machine's directory, for any
 *    MAC address asked for);
 *  - entries may be added at any time (a machine seen on the network).
 * A volatile file (a status report) is built anew by every open and never
 * kept; its size shows as 0, and readers read until they get no more.
 *
 * Nodes are numbered from 1 (the root) so that FUSE inode numbers are node
 * numbers; a node, once added, stays until the tree is freed. Every
 * function is thread-safe; images are immutable once built, so readers use
 * them without locks.
 */
#ifndef AURORA_TREE_H
#define AURORA_TREE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <pthread.h>
#include <time.h>

#include <aurora/extmap.h>

struct aur_image {
	struct aur_extmap map;
	time_t mtime;
	/* what the build allocated for the map to point into; freed by the
	 * file's release op */
	void *priv;
};

#define AUR_FILE_VOLATILE 1u /* built by every open, never kept */

struct aur_file_ops {
	/* Fill @img (its map starts empty). May block on the network. Logs
	 * why it failed; 0 or -errno. */
	int (*build)(void *ctx, struct aur_image *img);
	/* Free img->priv and anything else build allocated (also after a
	 * failed build). Optional. */
	void (*release)(void *ctx, struct aur_image *img);
	unsigned flags;
};

struct aur_tree;
struct aur_node;

struct aur_dir_ops {
	/* Optional: add the directory's entries (aur_tree_add_file below
	 * @dir's path). May block. 0 or -errno (logged); a failure is
	 * retried on the next lookup or listing. */
	int (*populate)(void *ctx, struct aur_tree *t, struct aur_node *dir);
	/* Optional: the entry for @name, which @dir does not have (yet):
	 * add it and return it, or return another entry of the tree that
	 * @name stands for (an alias: every spelling of a MAC address is
	 * the machine's one directory), or NULL with errno (ENOENT: there is
	 * no such entry). Runs for every lookup of a missing name, so it
	 * must bound what it adds. */
	struct aur_node *(*lookup)(void *ctx, struct aur_tree *t,
				   struct aur_node *dir, const char *name);
};

struct aur_node {
	uint64_t ino;
	char *name;
	struct aur_node *parent;
	bool is_dir;

	/* directories: children sorted by name, under the tree's lock */
	struct aur_node **children;
	size_t nchildren;
	const struct aur_dir_ops *dir_ops;
	void *dir_ctx;
	bool populated;

	/* files */
	const struct aur_file_ops *ops;
	void *ctx; /* borrowed; owned by the builder that added the file */
	pthread_mutex_t build_lock; /* also serialises populate */
	bool built;
	struct aur_image img;
};

/* @mtime is shown for directories. NULL on ENOMEM. */
struct aur_tree *aur_tree_new(time_t mtime);

/* Release every built image, run the cleanups (last added first), free. */
void aur_tree_free(struct aur_tree *t);

/* Add the file @path ("/iso/x.iso"), creating its directories. -EEXIST if
 * the path is taken, -EINVAL for a malformed path. */
int aur_tree_add_file(struct aur_tree *t, const char *path,
		      const struct aur_file_ops *ops, void *ctx,
		      struct aur_node **out);

/* Add the directory @path (and its parents) with @ops (may be NULL),
 * or give @ops to the directory that is there. -EEXIST if a file is
 * there, -EINVAL for a malformed path. */
int aur_tree_add_dir(struct aur_tree *t, const char *path,
		     const struct aur_dir_ops *ops, void *ctx,
		     struct aur_node **out);

/* Have aur_tree_free() call @fn(@ctx): builders free their state so. */
int aur_tree_on_free(struct aur_tree *t, void (*fn)(void *), void *ctx);

struct aur_node *aur_tree_root(struct aur_tree *t);
struct aur_node *aur_tree_node(struct aur_tree *t, uint64_t ino);

/* The child @name of directory @parent (populated first), or NULL; errno
 * is ENOENT, or the populate function's error. */
struct aur_node *aur_tree_lookup(struct aur_tree *t, uint64_t parent,
				 const char *name);

/* The child @name of directory @dir as it is now: no populate or lookup
 * function runs (for those functions themselves). NULL if none. */
struct aur_node *aur_tree_child(struct aur_tree *t, struct aur_node *dir,
				const char *name);

/* Node at an absolute path (populating directories on the way), or NULL. */
struct aur_node *aur_tree_find(struct aur_tree *t, const char *path);

/* Receives directory entries; non-zero stops the listing. */
typedef int (*aur_dirent_fn)(void *ctx, const struct aur_node *child,
			     size_t index);

/* List directory @dir (populated first) from child @from on. 0 or the
 * populate function's -errno. */
int aur_tree_list(struct aur_tree *t, struct aur_node *dir, size_t from,
		  aur_dirent_fn fn, void *ctx);

time_t aur_tree_mtime(const struct aur_tree *t);

/* The image of file @n, built on first use. 0 or the build's -errno. For a
 * volatile file, an empty image (size 0): use aur_node_open_image. */
int aur_node_image(struct aur_node *n, const struct aur_image **img);

/* A fresh image of volatile file @n for one reader (close it with
 * aur_node_close_image), or the kept image of any other file. */
int aur_node_open_image(struct aur_node *n, struct aur_image **img);
void aur_node_close_image(struct aur_node *n, struct aur_image *img);

static inline bool aur_node_is_volatile(const struct aur_node *n)
{
	return !n->is_dir && (n->ops->flags & AUR_FILE_VOLATILE);
}

#endif
