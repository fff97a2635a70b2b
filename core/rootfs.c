// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The in-memory root filesystem tree (rootfs.h): nodes, paths, hard links,
 * whiteouts. Layer tars are read in core/layer.c.
 */
#include <aurora/rootfs.h>
#include <aurora/source.h>
#include <aurora/util.h>

#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#define MAX_SYMLINKS 40
#define MAX_DEPTH 256

struct adopted {
	struct aur_source *src;
	void (*close)(struct aur_source *src);
};

struct aur_rootfs {
	struct aur_fnode *root;
	size_t count;
	struct adopted *sources;
	size_t nsources;
};

static struct aur_fnode *node_new(const char *name, size_t len)
{
	struct aur_fnode *n = calloc(1, sizeof(*n));

	if (!n)
		return NULL;
	n->name = strndup(name, len);
	if (!n->name) {
		free(n);
		return NULL;
	}
	n->nlink = 1;
	return n;
}

static void node_clear_meta(struct aur_fnode *n)
{
	for (size_t i = 0; i < n->nxattrs; i++) {
		free(n->xattrs[i].name);
		free(n->xattrs[i].value);
	}
	free(n->xattrs);
	n->xattrs = NULL;
	n->nxattrs = 0;
	free(n->target);
	n->target = NULL;
}

/* Free @n and its subtree; @fs->count follows. */
static void node_free(struct aur_rootfs *fs, struct aur_fnode *n)
{
	for (size_t i = 0; i < n->nchildren; i++)
		node_free(fs, n->children[i]);
	free(n->children);
	node_clear_meta(n);
	free(n->name);
	free(n);
	fs->count--;
}

struct aur_rootfs *aur_rootfs_new(void)
{
	struct aur_rootfs *fs = calloc(1, sizeof(*fs));

	if (!fs)
		return NULL;
	fs->root = node_new("", 0);
	if (!fs->root) {
		free(fs);
		return NULL;
	}
	fs->root->parent = fs->root;
	fs->root->mode = S_IFDIR | 0755;
	fs->count = 1;
	return fs;
}

void aur_rootfs_free(struct aur_rootfs *fs)
{
	if (!fs)
		return;
	node_free(fs, fs->root);
	for (size_t i = 0; i < fs->nsources; i++)
		if (fs->sources[i].close)
			fs->sources[i].close(fs->sources[i].src);
	free(fs->sources);
	free(fs);
}

struct aur_fnode *aur_rootfs_root(const struct aur_rootfs *fs)
{
	return fs->root;
}

size_t aur_rootfs_count(const struct aur_rootfs *fs)
{
	return fs->count;
}

int aur_rootfs_adopt_source(struct aur_rootfs *fs, struct aur_source *src,
			    void (*close)(struct aur_source *src))
{
	struct adopted *v =
		realloc(fs->sources, (fs->nsources + 1) * sizeof(*v));

	if (!v)
		return -ENOMEM;
	fs->sources = v;
	v[fs->nsources++] = (struct adopted){src, close};
	return 0;
}

/* ---- children: a sorted array per directory ---- */

static int name_cmp(const char *a, size_t alen, const char *b)
{
	size_t blen = strlen(b);
	int c = memcmp(a, b, AUR_MIN(alen, blen));

	if (c)
		return c;
	return alen < blen ? -1 : alen > blen;
}

/* Index of child @name of @dir, or where it would go (*@found false). */
static size_t child_index(const struct aur_fnode *dir, const char *name,
			  size_t len, bool *found)
{
	size_t lo = 0, hi = dir->nchildren;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = name_cmp(name, len, dir->children[mid]->name);

		if (c == 0) {
			*found = true;
			return mid;
		}
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	*found = false;
	return lo;
}

static int child_insert(struct aur_fnode *dir, size_t at, struct aur_fnode *c)
{
	struct aur_fnode **v =
		realloc(dir->children, (dir->nchildren + 1) * sizeof(*v));

	if (!v)
		return -ENOMEM;
	memmove(&v[at + 1], &v[at], (dir->nchildren - at) * sizeof(*v));
	v[at] = c;
	dir->children = v;
	dir->nchildren++;
	c->parent = dir;
	return 0;
}

static void child_remove(struct aur_fnode *dir, size_t at)
{
	memmove(&dir->children[at], &dir->children[at + 1],
		(dir->nchildren - at - 1) * sizeof(*dir->children));
	dir->nchildren--;
}

/* ---- paths ---- */

/* The next component of *@p: its start and length; advances *@p. Skips
 * "/" and "." components. Returns false at the end. */
static bool next_component(const char **p, const char **name, size_t *len)
{
	for (;;) {
		while (**p == '/')
			(*p)++;
		if (!**p)
			return false;
		*name = *p;
		*len = strcspn(*p, "/");
		*p += *len;
		if (!(*len == 1 && (*name)[0] == '.'))
			return true;
	}
}

static bool is_dotdot(const char *name, size_t len)
{
	return len == 2 && name[0] == '.' && name[1] == '.';
}

static bool is_dir(const struct aur_fnode *n)
{
	return S_ISDIR(n->mode);
}

/* Walk @path to its parent directory, creating missing directories when
 * @create. On success *@name and *@len give the last component (0 for the
 * root itself). NULL with errno. */
static struct aur_fnode *walk_parent(struct aur_rootfs *fs, const char *path,
				     bool create, const char **name,
				     size_t *len)
{
	struct aur_fnode *dir = fs->root;
	const char *p = path, *cur, *next;
	size_t cur_len, next_len;
	int depth = 0;

	*name = "";
	*len = 0;
	if (!next_component(&p, &cur, &cur_len))
		return dir;
	for (;;) {
		bool found;
		size_t at;
		struct aur_fnode *c;

		if (is_dotdot(cur, cur_len)) {
			errno = EINVAL;
			return NULL;
		}
		if (!next_component(&p, &next, &next_len)) {
			*name = cur;
			*len = cur_len;
			return dir;
		}
		if (++depth > MAX_DEPTH) {
			errno = ELOOP;
			return NULL;
		}
		at = child_index(dir, cur, cur_len, &found);
		if (found) {
			c = dir->children[at];
			if (!is_dir(c)) {
				errno = ENOTDIR;
				return NULL;
			}
		} else if (!create) {
			errno = ENOENT;
			return NULL;
		} else {
			c = node_new(cur, cur_len);
			if (!c || child_insert(dir, at, c) < 0) {
				if (c) {
					free(c->name);
					free(c);
				}
				errno = ENOMEM;
				return NULL;
			}
			c->mode = S_IFDIR | 0755;
			fs->count++;
		}
		dir = c;
		cur = next;
		cur_len = next_len;
	}
}

/* The subtree @gone is about to disappear: names elsewhere that are hard
 * links to its files keep them (the first other name takes over). */
static void unlink_inode_names(struct aur_rootfs *fs, struct aur_fnode *gone);

static void take_meta(struct aur_fnode *n, const struct aur_fnode *proto)
{
	n->mode = proto->mode;
	n->uid = proto->uid;
	n->gid = proto->gid;
	n->mtime = proto->mtime;
	n->rdev_major = proto->rdev_major;
	n->rdev_minor = proto->rdev_minor;
	n->size =
		S_ISREG(proto->mode) || S_ISLNK(proto->mode) ? proto->size : 0;
	n->src = S_ISREG(proto->mode) ? proto->src : NULL;
	n->off = S_ISREG(proto->mode) ? proto->off : 0;
}

struct aur_fnode *aur_rootfs_put(struct aur_rootfs *fs, const char *path,
				 const struct aur_fnode *proto)
{
	const char *name;
	size_t len, at;
	bool found;
	struct aur_fnode *dir = walk_parent(fs, path, true, &name, &len), *n;

	if (!dir)
		return NULL;
	if (len == 0) {
		/* the root itself: only a directory may stand there */
		if (!S_ISDIR(proto->mode)) {
			errno = EINVAL;
			return NULL;
		}
		take_meta(fs->root, proto);
		return fs->root;
	}
	at = child_index(dir, name, len, &found);
	if (found) {
		n = dir->children[at];
		if (is_dir(n) && S_ISDIR(proto->mode)) {
			take_meta(n, proto);
			node_clear_meta(n);
			goto target;
		}
		unlink_inode_names(fs, n);
		child_remove(dir, at);
		node_free(fs, n);
	}
	n = node_new(name, len);
	if (!n || child_insert(dir, at, n) < 0) {
		if (n) {
			free(n->name);
			free(n);
		}
		errno = ENOMEM;
		return NULL;
	}
	fs->count++;
	take_meta(n, proto);
target:
	if (S_ISLNK(proto->mode)) {
		n->target = strdup(proto->target ? proto->target : "");
		if (!n->target) {
			errno = ENOMEM;
			return NULL;
		}
		n->size = strlen(n->target);
	}
	return n;
}

static struct aur_fnode *find(const struct aur_rootfs *fs, const char *path)
{
	const char *name;
	size_t len, at;
	bool found;
	struct aur_fnode *dir =
		walk_parent((struct aur_rootfs *)fs, path, false, &name, &len);

	if (!dir)
		return NULL;
	if (len == 0)
		return dir;
	at = child_index(dir, name, len, &found);
	if (!found) {
		errno = ENOENT;
		return NULL;
	}
	return dir->children[at];
}

struct aur_fnode *aur_rootfs_hardlink(struct aur_rootfs *fs, const char *path,
				      const char *target_path)
{
	struct aur_fnode *t = find(fs, target_path), *old, *n;
	struct aur_fnode proto = {0};

	if (!t)
		return NULL;
	if (is_dir(t)) {
		errno = EPERM;
		return NULL;
	}
	t = t->link ? t->link : t;
	old = find(fs, path);
	if (old && (old == t || old->link == t))
		return old; /* already a name of that inode */
	proto.mode = t->mode;
	n = aur_rootfs_put(fs, path, &proto);
	if (!n)
		return NULL;
	n->link = t;
	t->nlink++;
	return n;
}

/* Every name that links to @inode, and @inode itself, lives in the tree
 * under the root: find them by a walk (hard links are rare). */
struct relink {
	struct aur_fnode *gone, *heir;
};

static void relink_walk(struct aur_fnode *d, struct relink *r)
{
	for (size_t i = 0; i < d->nchildren; i++) {
		struct aur_fnode *c = d->children[i];

		if (c->link == r->gone) {
			if (!r->heir) {
				/* the first other name inherits the inode */
				r->heir = c;
				c->link = NULL;
				c->mode = r->gone->mode;
				c->uid = r->gone->uid;
				c->gid = r->gone->gid;
				c->mtime = r->gone->mtime;
				c->size = r->gone->size;
				c->src = r->gone->src;
				c->off = r->gone->off;
				c->rdev_major = r->gone->rdev_major;
				c->rdev_minor = r->gone->rdev_minor;
				c->nlink = r->gone->nlink - 1;
				c->xattrs = r->gone->xattrs;
				c->nxattrs = r->gone->nxattrs;
				c->target = r->gone->target;
				r->gone->xattrs = NULL;
				r->gone->nxattrs = 0;
				r->gone->target = NULL;
			} else {
				c->link = r->heir;
			}
		}
		if (is_dir(c))
			relink_walk(c, r);
	}
}

static void unlink_one(struct aur_rootfs *fs, struct aur_fnode *n)
{
	if (n->link) {
		n->link->nlink--;
		n->link = NULL;
	} else if (n->nlink > 1) {
		struct relink r = {n, NULL};

		relink_walk(fs->root, &r);
	}
}

static void unlink_subtree(struct aur_rootfs *fs, struct aur_fnode *n)
{
	if (is_dir(n)) {
		for (size_t i = 0; i < n->nchildren; i++)
			unlink_subtree(fs, n->children[i]);
		return;
	}
	unlink_one(fs, n);
}

static void unlink_inode_names(struct aur_rootfs *fs, struct aur_fnode *gone)
{
	unlink_subtree(fs, gone);
}

int aur_rootfs_remove(struct aur_rootfs *fs, const char *path)
{
	const char *name;
	size_t len, at;
	bool found;
	struct aur_fnode *dir = walk_parent(fs, path, false, &name, &len), *n;

	if (!dir)
		return -errno;
	if (len == 0)
		return -EINVAL; /* not the root */
	at = child_index(dir, name, len, &found);
	if (!found)
		return -ENOENT;
	n = dir->children[at];
	unlink_inode_names(fs, n);
	child_remove(dir, at);
	node_free(fs, n);
	return 0;
}

int aur_rootfs_clear_dir(struct aur_rootfs *fs, const char *path)
{
	struct aur_fnode *d = find(fs, path);

	if (!d)
		return -errno;
	if (!is_dir(d))
		return -ENOTDIR;
	while (d->nchildren > 0) {
		struct aur_fnode *c = d->children[d->nchildren - 1];

		unlink_inode_names(fs, c);
		d->nchildren--;
		node_free(fs, c);
	}
	return 0;
}

int aur_rootfs_set_xattr(struct aur_rootfs *fs, struct aur_fnode *n,
			 const char *name, const void *value, size_t len)
{
	uint8_t *copy = malloc(len ? len : 1);
	struct aur_xattr *v;

	if (!copy)
		return -ENOMEM;
	memcpy(copy, value, len);
	for (size_t i = 0; i < n->nxattrs; i++) {
		if (strcmp(n->xattrs[i].name, name) == 0) {
			free(n->xattrs[i].value);
			n->xattrs[i].value = copy;
			n->xattrs[i].len = len;
			return 0;
		}
	}
	v = realloc(n->xattrs, (n->nxattrs + 1) * sizeof(*v));
	if (!v) {
		free(copy);
		return -ENOMEM;
	}
	n->xattrs = v;
	v[n->nxattrs].name = strdup(name);
	if (!v[n->nxattrs].name) {
		free(copy);
		return -ENOMEM;
	}
	v[n->nxattrs].value = copy;
	v[n->nxattrs].len = len;
	n->nxattrs++;
	return 0;
}

/* ---- lookups that follow symlinks ---- */

struct resolver {
	const struct aur_rootfs *fs;
	int links;
};

static struct aur_fnode *resolve(struct resolver *r, struct aur_fnode *dir,
				 const char *path, bool follow_last);

static struct aur_fnode *follow_link(struct resolver *r, struct aur_fnode *n)
{
	if (!S_ISLNK(n->mode))
		return n;
	if (++r->links > MAX_SYMLINKS) {
		errno = ELOOP;
		return NULL;
	}
	return resolve(r, n->target[0] == '/' ? r->fs->root : n->parent,
		       n->target, true);
}

static struct aur_fnode *resolve(struct resolver *r, struct aur_fnode *dir,
				 const char *path, bool follow_last)
{
	const char *p = path, *name;
	size_t len;

	if (path[0] == '/')
		dir = r->fs->root;
	while (next_component(&p, &name, &len)) {
		bool last, found;
		size_t at;
		struct aur_fnode *c;
		const char *rest = p;

		while (*rest == '/')
			rest++;
		last = !*rest || (rest[0] == '.' && !rest[1]);
		if (!is_dir(dir)) {
			errno = ENOTDIR;
			return NULL;
		}
		if (is_dotdot(name, len)) {
			dir = dir->parent;
			continue;
		}
		at = child_index(dir, name, len, &found);
		if (!found) {
			errno = ENOENT;
			return NULL;
		}
		c = dir->children[at];
		if (!last || follow_last) {
			c = follow_link(r, c);
			if (!c)
				return NULL;
		}
		dir = c;
	}
	return dir;
}

struct aur_fnode *aur_rootfs_lookup(const struct aur_rootfs *fs,
				    const char *path, bool follow)
{
	struct resolver r = {fs, 0};

	return resolve(&r, fs->root, path, follow);
}

int aur_rootfs_read_file(const struct aur_rootfs *fs, const char *path,
			 size_t max, char **buf, size_t *len)
{
	struct aur_fnode *n = aur_rootfs_lookup(fs, path, true);
	const struct aur_fnode *ino;
	ssize_t got;
	char *p;

	if (!n)
		return -errno;
	ino = aur_fnode_inode(n);
	if (is_dir(ino))
		return -EISDIR;
	if (!S_ISREG(ino->mode))
		return -EINVAL;
	if (ino->size > max)
		return -EFBIG;
	p = malloc(ino->size + 1);
	if (!p)
		return -ENOMEM;
	got = ino->size ? aur_source_pread(ino->src, p, ino->size, ino->off)
			: 0;
	if (got < 0 || (uint64_t)got != ino->size) {
		free(p);
		return got < 0 ? (int)got : -EIO;
	}
	p[ino->size] = '\0';
	*buf = p;
	*len = ino->size;
	return 0;
}

static int walk(struct aur_fnode *n, int (*fn)(void *, struct aur_fnode *),
		void *ctx)
{
	int r = fn(ctx, n);

	for (size_t i = 0; r == 0 && i < n->nchildren; i++)
		r = walk(n->children[i], fn, ctx);
	return r;
}

int aur_rootfs_walk(const struct aur_rootfs *fs,
		    int (*fn)(void *ctx, struct aur_fnode *n), void *ctx)
{
	return walk(fs->root, fn, ctx);
}

int aur_fnode_path(const struct aur_fnode *n, char *buf, size_t size)
{
	size_t pos = size;

	if (size < 2)
		return -ENAMETOOLONG;
	buf[--pos] = '\0';
	if (n->parent == n) {
		buf[0] = '/';
		buf[1] = '\0';
		return 0;
	}
	for (; n->parent != n; n = n->parent) {
		size_t len = strlen(n->name);

		if (len + 1 > pos)
			return -ENAMETOOLONG;
		pos -= len;
		memcpy(buf + pos, n->name, len);
		buf[--pos] = '/';
	}
	memmove(buf, buf + pos, size - pos);
	return 0;
}
