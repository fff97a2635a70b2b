/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * serve.h - files of the tree for network clients (the HTTP and TFTP
 * servers): a client's path checked and normalized, the file opened and
 * read through the same extent maps FUSE reads (aur_extmap_walk for runs
 * of memory, zeros and file ranges; aur_extmap_pread for a copy).
 *
 * Nothing outside the tree is reachable: the tree has no symlinks and no
 * way up from its root, and a path with ".." is refused before any lookup.
 */
#ifndef AURORA_SERVE_H
#define AURORA_SERVE_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

struct aur_tree;
struct aur_node;
struct aur_image;

/* The longest path a client may ask for (bytes, before normalizing). */
#define AUR_SERVE_PATH_MAX 1024

/*
 * Normalize the client's path @path (@len bytes, not NUL-terminated; an
 * HTTP server percent-decodes first) into @out (@cap bytes, at least
 * AUR_SERVE_PATH_MAX + 2): an absolute path without empty or "."
 * components or a trailing slash ("/a//b/./c/" -> "/a/b/c"; "" and "/"
 * -> "/"); a relative path is taken from the root ("netboot/kernel" ->
 * "/netboot/kernel"), as TFTP clients send them. -EINVAL for a path
 * longer than AUR_SERVE_PATH_MAX, with a NUL byte, a control character
 * or a backslash; -EACCES for a ".." component. 0 on success.
 */
int aur_serve_normalize(const char *path, size_t len, char *out, size_t cap);

/* A file opened for one client. */
struct aur_served {
	struct aur_node *node;
	struct aur_image *img; /* img->map.size bytes, img->mtime */
	/* a strong validator, quoted ("\"<16 hex digits>\""): the same for
	 * the same bytes of this node, across requests and remounts */
	char etag[24];
};

/*
 * Open the file at normalized @path (aur_serve_normalize) of @t: built on
 * first use, so this may block for long (a pull, a download). 0; -ENOENT
 * (no such path); -EISDIR (a directory: list it with aur_tree_find and
 * aur_tree_list); -EIO or the build's -errno (logged by the build).
 * Close with aur_serve_close.
 */
int aur_serve_open(struct aur_tree *t, const char *path, struct aur_served *f);
void aur_serve_close(struct aur_served *f);

#endif
