// SPDX-License-Identifier: GPL-2.0-or-later
#include "ops.h"

#include <aurora/log.h>
#include <aurora/source.h>
#include <aurora/tree.h>
#include <aurora/util.h>

#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <string.h>
#include <sys/stat.h>

/* the tree never changes while mounted: let the kernel cache freely */
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
		st->st_size = (off_t)img->map.size;
		st->st_blocks = (blkcnt_t)AUR_DIV_ROUND_UP(img->map.size, 512);
		st->st_mtime = st->st_ctime = st->st_atime = img->mtime;
	}
	return 0;
}

static void op_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct aur_fs *fs = fs_of(req);
	struct aur_node *n = aur_tree_lookup(fs->tree, parent, name);
	struct fuse_entry_param e;
	int r;

	if (!n) {
		/* negative entries may be cached as well: the tree is fixed */
		memset(&e, 0, sizeof(e));
		e.entry_timeout = ATTR_TIMEOUT;
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
	e.attr_timeout = ATTR_TIMEOUT;
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
		fuse_reply_attr(req, &st, ATTR_TIMEOUT);
}

static bool image_is_final(const struct aur_image *img)
{
	for (size_t i = 0; i < img->map.n; i++) {
		const struct aur_extent *e = &img->map.v[i];

		if (e->kind == AUR_EXT_SOURCE && e->u.s.src->ops->is_final &&
		    !e->u.s.src->ops->is_final(e->u.s.src))
			return false;
	}
	return true;
}

static void op_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct aur_fs *fs = fs_of(req);
	struct aur_node *n = aur_tree_node(fs->tree, ino);
	const struct aur_image *img;
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
	r = node_image(n, &img);
	if (r < 0) {
		fuse_reply_err(req, -r);
		return;
	}
	fi->fh = (uint64_t)(uintptr_t)n;
	/* data that may still be found corrupt must not outlive this open
	 * in the page cache: the next open would read it without asking */
	fi->keep_cache = image_is_final(img);
	fuse_reply_open(req, fi);
}

struct read_plan {
	struct fuse_bufvec *bv;
	size_t cap;
	void **scratch; /* pread buffers to free after the reply */
	size_t nscratch;
};

static struct fuse_buf *plan_add(struct read_plan *p)
{
	if (p->bv->count == p->cap) {
		size_t cap = p->cap * 2;
		struct fuse_bufvec *bv = realloc(
			p->bv, sizeof(*bv) + (cap - 1) * sizeof(bv->buf[0]));

		if (!bv)
			return NULL;
		p->bv = bv;
		p->cap = cap;
	}
	memset(&p->bv->buf[p->bv->count], 0, sizeof(p->bv->buf[0]));
	return &p->bv->buf[p->bv->count++];
}

/* Describe [@off, @off + @n) of @map as FUSE buffers. 0 or -errno. */
static int plan_read(struct read_plan *p, const struct aur_extmap *map,
		     uint64_t off, size_t n)
{
	size_t done = 0, i = aur_extmap_find(map, off);

	while (done < n) {
		const struct aur_extent *e = &map->v[i++];
		uint64_t in = off + done - e->start;
		size_t k = (size_t)AUR_MIN(e->len - in, (uint64_t)(n - done));
		struct aur_source *src;
		struct fuse_buf *b;
		int fd, r;
		uint64_t fd_off;

		switch (e->kind) {
		case AUR_EXT_MEM:
			if (!(b = plan_add(p)))
				return -ENOMEM;
			b->mem = (void *)(e->u.mem + in);
			b->size = k;
			break;
		case AUR_EXT_ZERO:
			for (size_t z = 0; z < k; z += ZERO_BUF_SIZE) {
				if (!(b = plan_add(p)))
					return -ENOMEM;
				b->mem = (void *)zero_buf;
				b->size = AUR_MIN(ZERO_BUF_SIZE, k - z);
			}
			break;
		case AUR_EXT_SOURCE:
			src = e->u.s.src;
			if (src->ops->fd_range) {
				r = src->ops->fd_range(src, e->u.s.off + in, k,
						       &fd, &fd_off);
				if (r < 0)
					return r;
				if (!(b = plan_add(p)))
					return -ENOMEM;
				b->flags = FUSE_BUF_IS_FD | FUSE_BUF_FD_SEEK;
				b->fd = fd;
				b->pos = (off_t)fd_off;
				b->size = k;
				break;
			}
			{
				void **v =
					realloc(p->scratch,
						(p->nscratch + 1) * sizeof(*v));
				void *mem;
				ssize_t got;

				if (!v)
					return -ENOMEM;
				p->scratch = v;
				mem = malloc(k);
				if (!mem)
					return -ENOMEM;
				p->scratch[p->nscratch++] = mem;
				got = src->ops->pread(src, mem, k,
						      e->u.s.off + in);
				if (got < 0)
					return (int)got;
				if ((size_t)got != k)
					return -EIO;
				if (!(b = plan_add(p)))
					return -ENOMEM;
				b->mem = mem;
				b->size = k;
			}
			break;
		}
		done += k;
	}
	return 0;
}

static void op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		    struct fuse_file_info *fi)
{
	struct aur_node *n = (struct aur_node *)(uintptr_t)fi->fh;
	const struct aur_extmap *map = &n->img.map;
	struct read_plan p = {.cap = 8};
	int r;

	if (off < 0 || (uint64_t)off >= map->size || size == 0) {
		fuse_reply_buf(req, NULL, 0);
		return;
	}
	size = (size_t)AUR_MIN((uint64_t)size, map->size - (uint64_t)off);
	p.bv = calloc(1, sizeof(*p.bv) + (p.cap - 1) * sizeof(p.bv->buf[0]));
	if (!p.bv) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	r = plan_read(&p, map, (uint64_t)off, size);
	if (r < 0)
		fuse_reply_err(req, -r);
	else
		fuse_reply_data(req, p.bv, FUSE_BUF_SPLICE_MOVE);
	for (size_t i = 0; i < p.nscratch; i++)
		free(p.scratch[i]);
	free(p.scratch);
	free(p.bv);
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

static void op_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		       struct fuse_file_info *fi)
{
	struct aur_node *dir = aur_tree_node(fs_of(req)->tree, ino);
	char *buf = malloc(size);
	size_t used = 0;
	off_t idx = 0;

	if (!buf) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	/* entry i has offset i + 1: ".", "..", then the children */
	for (struct aur_node *c = NULL;; idx++) {
		struct stat st = {0};
		const char *name;
		size_t len;

		if (idx == 0) {
			name = ".";
			st.st_ino = dir->ino;
		} else if (idx == 1) {
			name = "..";
			st.st_ino = dir->parent->ino;
			c = dir->child;
		} else {
			if (idx > 2)
				c = c ? c->next : NULL;
			if (!c)
				break;
			name = c->name;
			st.st_ino = c->ino;
		}
		if (idx < off)
			continue;
		st.st_mode = (idx < 2 || c->is_dir) ? S_IFDIR : S_IFREG;
		len = fuse_add_direntry(req, buf + used, size - used, name, &st,
					idx + 1);
		if (len > size - used)
			break;
		used += len;
	}
	fuse_reply_buf(req, buf, used);
	free(buf);
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
	.opendir = op_opendir,
	.readdir = op_readdir,
};
