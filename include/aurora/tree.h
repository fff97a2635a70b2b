/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * tree.h - the directory tree a mount shows, and the lazily built images
 * behind its files.
 *
 * Builders add files by path; each file has a build function that
 * describes its content as an extent map (struct aur_image). Nothing is
 * built when the tree is made: a file is built the first time someone
 * looks it up, and the image is then kept for the life of the tree. A
 * build that fails is not remembered, so the next access tries again
 * (a server that was down may be back).
 *
 * Nodes are numbered from 1 (the root) so that FUSE inode numbers are node
 * numbers. The tree is immutable once the mount starts; images are
 * immutable once built, so readers use them without locks.
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

struct aur_file_ops {
	/* Fill @img (its map starts empty). May block on the network. Logs
	 * why it failed; 0 or -errno. */
	int (*build)(void *ctx, struct aur_image *img);
	/* Free img->priv and anything else build allocated. Optional. */
	void (*release)(void *ctx, struct aur_image *img);
};

struct aur_node {
	uint64_t ino;
	char *name;
	struct aur_node *parent, *child, *next;
	bool is_dir;
	size_t nchildren;

	/* files */
	const struct aur_file_ops *ops;
	void *ctx; /* borrowed; owned by the builder that added the file */
	pthread_mutex_t build_lock;
	bool built;
	struct aur_image img;
};

struct aur_tree;

/* @mtime is shown for directories. NULL on ENOMEM. */
struct aur_tree *aur_tree_new(time_t mtime);

/* Release every built image, run the cleanups (last added first), free. */
void aur_tree_free(struct aur_tree *t);

/* Add the file @path ("/iso/x.iso"), creating its directories. -EEXIST if
 * the path is taken, -EINVAL for a malformed path. */
int aur_tree_add_file(struct aur_tree *t, const char *path,
		      const struct aur_file_ops *ops, void *ctx,
		      struct aur_node **out);

/* Have aur_tree_free() call @fn(@ctx): builders free their state so. */
int aur_tree_on_free(struct aur_tree *t, void (*fn)(void *), void *ctx);

struct aur_node *aur_tree_root(struct aur_tree *t);
struct aur_node *aur_tree_node(struct aur_tree *t, uint64_t ino);
struct aur_node *aur_tree_lookup(struct aur_tree *t, uint64_t parent,
				 const char *name);
/* Node at an absolute path, or NULL. */
struct aur_node *aur_tree_find(struct aur_tree *t, const char *path);
time_t aur_tree_mtime(const struct aur_tree *t);

/* The image of file @n, built on first use. 0 or the build's -errno. */
int aur_node_image(struct aur_node *n, const struct aur_image **img);

#endif
