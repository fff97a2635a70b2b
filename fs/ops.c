// SPDX-License-Identifier: GPL-2.0-or-later
#include "ops.h"

#include <aurora/log.h>
#include <aurora/source.h>
#include <aurora/tree.h>
#include <aurora/util.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>

/* nodes never change or go away while mounted: the kernel may cache what
 * exists (not what does not: entries can appear) */
#define ATTR_TIMEOUT 86400.0
#define ZERO_BUF_SIZE (128u * 1024)

static const char zero_buf[ZERO_BUF_SIZE];

static struct aur_fs *fs_of(fuse_req_t req)
{
	return fuse_req_userdata(req);
}

/* The image of a listed file. A build that failed because something it
 * needs is missing (HTTP 404) must not make the listed name look absent:
 * that becomes EIO, like every other failure but a full disk. */
static int node_image(struct aur_node *n, const struct aur_image **img)
{
	int r = aur_node_image(n, img);

	if (r == -ENOENT || r == -ENOTDIR)
		r = -EIO;
	return r;
}

/* Attributes of @n; files are built first (their size is the image's). */
static int node_attr(struct aur_fs *fs, struct aur_node *n, struct stat *st)
{
	memset(st, 0, sizeof(*st));
	st->st_ino = n->ino;
	st->st_uid = fs->uid;
	st->st_gid = fs->gid;
	st->st_blksize = 128 * 1024;
	if (n->is_dir) {
		time_t t = aur_tree_mtime(fs->tree);

		st->st_mode = S_IFDIR | 0555;
		st->st_nlink = 2;
		st->st_mtime = st->st_ctime = st->st_atime = t;
	} else {
		const struct aur_image *img;
		int r = node_image(n, &img);

		if (r < 0)
			return r;
		st->st_mode = S_IFREG | 0444;
		st->st_nlink = 1;
		/* a volatile file's size is known only to each open */
		st->st_size = (off_t)img->map.size;
		st->st_blocks = (blkcnt_t)AUR_DIV_ROUND_UP(img->map.size, 512);
		st->st_mtime = st->st_ctime = st->st_atime =
			aur_node_is_volatile(n) ? time(NULL) : img->mtime;
	}
	return 0;
}

static void op_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct aur_fs *fs = fs_of(req);
	struct aur_node *n = aur_tree_lookup(fs->tree, parent, name);
	struct fuse_entry_param e;
	int r;

	if (!n && errno != ENOENT) {
		/* the directory could not be populated (yet) */
		fuse_reply_err(req, EIO);
		return;
	}
	if (!n) {
		/* not cached: entries may appear (a machine seen later) */
		memset(&e, 0, sizeof(e));
		fuse_reply_entry(req, &e);
		return;
	}
	memset(&e, 0, sizeof(e));
	r = node_attr(fs, n, &e.attr);
	if (r < 0) {
		fuse_reply_err(req, -r);
		return;
	}
	e.ino = n->ino;
	e.attr_timeout = aur_node_is_volatile(n) ? 0 : ATTR_TIMEOUT;
	e.entry_timeout = ATTR_TIMEOUT;
	fuse_reply_entry(req, &e);
}

static void op_getattr(fuse_req_t req, fuse_ino_t ino,
		       struct fuse_file_info *fi)
{
	struct aur_fs *fs = fs_of(req);
	struct aur_node *n = aur_tree_node(fs->tree, ino);
	struct stat st;
	int r;

	if (!n) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	r = node_attr(fs, n, &st);
	if (r < 0)
		fuse_reply_err(req, -r);
	else
		fuse_reply_attr(req, &st,
				aur_node_is_volatile(n) ? 0 : ATTR_TIMEOUT);
}

/* What an open file handle holds. The kernel sends RELEASE as soon as
 * a read's reply is written, so RELEASE may run while the reading thread
 * is still returning from fuse_reply_data() over the image's bytes: a
 * read holds a reference, and the last reference frees. */
struct open_file {
	struct aur_node *node;
	struct aur_image *img; /* kept, or this open's own (volatile) */
	unsigned refs;
};

static struct open_file *open_file_get(struct fuse_file_info *fi)
{
	struct open_file *of = (struct open_file *)(uintptr_t)fi->fh;

	__atomic_add_fetch(&of->refs, 1, __ATOMIC_RELAXED);
	return of;
}

static void open_file_put(struct open_file *of)
{
	if (__atomic_sub_fetch(&of->refs, 1, __ATOMIC_ACQ_REL) == 0) {
		aur_node_close_image(of->node, of->img);
		free(of);
	}
}

static void op_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct aur_fs *fs = fs_of(req);
	struct aur_node *n = aur_tree_node(fs->tree, ino);
	struct open_file *of;
	int r;

	if (!n) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	if (n->is_dir) {
		fuse_reply_err(req, EISDIR);
		return;
	}
	if ((fi->flags & O_ACCMODE) != O_RDONLY ||
	    (fi->flags & (O_TRUNC | O_APPEND))) {
		fuse_reply_err(req, EROFS);
		return;
	}
	of = calloc(1, sizeof(*of));
	if (!of) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	of->node = n;
	of->refs = 1;
	r = aur_node_open_image(n, &of->img);
	if (r == -ENOENT || r == -ENOTDIR)
		r = -EIO;
	if (r < 0) {
		free(of);
		fuse_reply_err(req, -r);
		return;
	}
	fi->fh = (uint64_t)(uintptr_t)of;
	if (aur_node_is_volatile(n)) {
		/* its size is its own: read it through, never cache it */
		fi->direct_io = 1;
	} else {
		/* data that may still be found corrupt must not outlive
		 * this open in the page cache: the next open would read it
		 * without asking */
		fi->keep_cache =
			aur_extmap_trust(&of->img->map) != AUR_TRUST_PENDING;
	}
	fuse_reply_open(req, fi);
}

static void op_release(fuse_req_t req, fuse_ino_t ino,
		       struct fuse_file_info *fi)
{
	open_file_put((struct open_file *)(uintptr_t)fi->fh);
	fuse_reply_err(req, 0);
}

/* The runs of a read, as FUSE buffers. */
struct reply_vec {
	struct fuse_bufvec *bv;
	size_t cap;
	bool has_fd; /* some run is a file's: worth splicing */
};

static int add_run(void *ctx, const struct aur_run *run)
{
	struct reply_vec *rv = ctx;
	struct fuse_buf *b;

	if (rv->bv->count == rv->cap) {
		size_t cap = rv->cap * 2;
		struct fuse_bufvec *bv = realloc(
			rv->bv, sizeof(*bv) + (cap - 1) * sizeof(bv->buf[0]));

		if (!bv)
			return -ENOMEM;
		rv->bv = bv;
		rv->cap = cap;
	}
	b = &rv->bv->buf[rv->bv->count++];
	memset(b, 0, sizeof(*b));
	b->size = run->len;
	switch (run->kind) {
	case AUR_RUN_MEM:
		b->mem = (void *)run->mem;
		break;
	case AUR_RUN_ZERO:
		if (run->len > ZERO_BUF_SIZE) {
			struct aur_run rest = *run;

			b->size = ZERO_BUF_SIZE;
			b->mem = (void *)zero_buf;
			rest.len -= ZERO_BUF_SIZE;
			return add_run(ctx, &rest);
		}
		b->mem = (void *)zero_buf;
		break;
	case AUR_RUN_FD:
		rv->has_fd = true;
		b->flags = FUSE_BUF_IS_FD | FUSE_BUF_FD_SEEK;
		b->fd = run->fd;
		b->pos = (off_t)run->fd_off;
		break;
	}
	return 0;
}

/* Bytes all in memory go out with one copy (writev): libfuse would copy
 * several memory buffers into a pipe first, then splice it. */
static void reply_mem(fuse_req_t req, const struct fuse_bufvec *bv)
{
	struct iovec *iov = malloc(bv->count * sizeof(*iov));

	if (!iov) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	for (size_t i = 0; i < bv->count; i++) {
		iov[i].iov_base = bv->buf[i].mem;
		iov[i].iov_len = bv->buf[i].size;
	}
	fuse_reply_iov(req, iov, (int)bv->count);
	free(iov);
}

static void op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		    struct fuse_file_info *fi)
{
	struct open_file *of = open_file_get(fi);
	const struct aur_extmap *map = &of->img->map;
	struct reply_vec rv = {.cap = 8};
	int r;

	if (off < 0 || (uint64_t)off >= map->size || size == 0) {
		fuse_reply_buf(req, NULL, 0);
		goto out;
	}
	rv.bv = calloc(1,
		       sizeof(*rv.bv) + (rv.cap - 1) * sizeof(rv.bv->buf[0]));
	if (!rv.bv) {
		fuse_reply_err(req, ENOMEM);
		goto out;
	}
	rv.bv->count = 0;
	r = aur_extmap_walk(map, (uint64_t)off, size, add_run, &rv);
	if (r < 0)
		fuse_reply_err(req, -r);
	else if (rv.has_fd || rv.bv->count >= IOV_MAX)
		fuse_reply_data(req, rv.bv, FUSE_BUF_SPLICE_MOVE);
	else
		reply_mem(req, rv.bv);
	free(rv.bv);
out:
	open_file_put(of);
}

static void op_opendir(fuse_req_t req, fuse_ino_t ino,
		       struct fuse_file_info *fi)
{
	struct aur_node *n = aur_tree_node(fs_of(req)->tree, ino);

	if (!n)
		fuse_reply_err(req, ENOENT);
	else if (!n->is_dir)
		fuse_reply_err(req, ENOTDIR);
	else
		fuse_reply_open(req, fi);
}

struct dir_reply {
	fuse_req_t req;
	char *buf;
	size_t size, used;
};

static bool add_entry(struct dir_reply *d, const char *name, uint64_t ino,
		      bool is_dir, off_t next)
{
	struct stat st = {.st_ino = ino, .st_mode = is_dir ? S_IFDIR : S_IFREG};
	size_t len = fuse_add_direntry(d->req, d->buf + d->used,
				       d->size - d->used, name, &st, next);

	if (len > d->size - d->used)
		return false;
	d->used += len;
	return true;
}

/* entry i of the listing has offset i + 1: ".", "..", then children */
static int add_child(void *ctx, const struct aur_node *c, size_t index)
{
	return !add_entry(ctx, c->name, c->ino, c->is_dir, (off_t)index + 3);
}

static void op_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		       struct fuse_file_info *fi)
{
	struct aur_fs *fs = fs_of(req);
	struct aur_node *dir = aur_tree_node(fs->tree, ino);
	struct dir_reply d = {req, malloc(size), size, 0};
	int r = 0;

	if (!d.buf) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	if (off < 1 && !add_entry(&d, ".", dir->ino, true, 1))
		goto reply;
	if (off < 2 && !add_entry(&d, "..", dir->parent->ino, true, 2))
		goto reply;
	r = aur_tree_list(fs->tree, dir, off < 2 ? 0 : (size_t)off - 2,
			  add_child, &d);
reply:
	if (r < 0)
		fuse_reply_err(req, EIO);
	else
		fuse_reply_buf(req, d.buf, d.used);
	free(d.buf);
}

static void op_init(void *userdata, struct fuse_conn_info *conn)
{
	if (conn->capable & FUSE_CAP_SPLICE_WRITE)
		conn->want |= FUSE_CAP_SPLICE_WRITE | FUSE_CAP_SPLICE_MOVE;
	/* the files never change under the kernel's page cache */
	conn->want &= ~FUSE_CAP_AUTO_INVAL_DATA;
}

const struct fuse_lowlevel_ops aur_fs_ops = {
	.init = op_init,
	.lookup = op_lookup,
	.getattr = op_getattr,
	.open = op_open,
	.read = op_read,
	.release = op_release,
	.opendir = op_opendir,
	.readdir = op_readdir,
};
