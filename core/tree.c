// SPDX-License-Identifier: GPL-2.0-or-later
#include <aurora/tree.h>
#include <aurora/util.h>

#include <errno.h>
#include <string.h>

struct cleanup {
	void (*fn)(void *);
	void *ctx;
};

/* The node index grows by chunks that never move, so a node can be found
 * by number while another thread adds nodes. */
#define CHUNK_SHIFT 10
#define CHUNK_NODES (1u << CHUNK_SHIFT)
#define MAX_CHUNKS 4096

struct aur_tree {
	pthread_rwlock_t lock; /* node index, children arrays */
	struct aur_node **chunks[MAX_CHUNKS];
	size_t n;
	pthread_mutex_t cleanup_lock;
	struct cleanup *cleanups;
	size_t ncleanups;
	time_t mtime;
};

static struct aur_node **slot(struct aur_tree *t, size_t i)
{
	return &t->chunks[i >> CHUNK_SHIFT][i & (CHUNK_NODES - 1)];
}

static int name_cmp(const char *a, size_t alen, const char *b)
{
	size_t blen = strlen(b);
	int c = memcmp(a, b, AUR_MIN(alen, blen));

	if (c)
		return c;
	return alen < blen ? -1 : alen > blen;
}

/* under the lock: index of child @name of @dir, or where it would go */
static size_t child_index(const struct aur_node *dir, const char *name,
			  size_t len, bool *found)
{
	size_t lo = 0, hi = dir->nchildren;

	*found = false;
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
	return lo;
}

/* under the write lock */
static struct aur_node *node_new(struct aur_tree *t, struct aur_node *parent,
				 const char *name, size_t len, bool is_dir)
{
	struct aur_node *n;
	size_t chunk = t->n >> CHUNK_SHIFT;

	if (chunk >= MAX_CHUNKS)
		return NULL;
	if (!t->chunks[chunk]) {
		t->chunks[chunk] =
			calloc(CHUNK_NODES, sizeof(struct aur_node *));
		if (!t->chunks[chunk])
			return NULL;
	}
	n = calloc(1, sizeof(*n));
	if (!n)
		return NULL;
	n->name = strndup(name, len);
	if (!n->name) {
		free(n);
		return NULL;
	}
	if (parent) {
		bool found;
		size_t at = child_index(parent, name, len, &found);
		struct aur_node **v = realloc(
			parent->children, (parent->nchildren + 1) * sizeof(*v));

		if (!v) {
			free(n->name);
			free(n);
			return NULL;
		}
		memmove(&v[at + 1], &v[at],
			(parent->nchildren - at) * sizeof(*v));
		v[at] = n;
		parent->children = v;
		parent->nchildren++;
	}
	n->is_dir = is_dir;
	n->parent = parent ? parent : n;
	pthread_mutex_init(&n->build_lock, NULL);
	aur_extmap_init(&n->img.map);
	*slot(t, t->n) = n;
	n->ino = ++t->n;
	return n;
}

struct aur_tree *aur_tree_new(time_t mtime)
{
	struct aur_tree *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	pthread_rwlock_init(&t->lock, NULL);
	pthread_mutex_init(&t->cleanup_lock, NULL);
	t->mtime = mtime;
	if (!node_new(t, NULL, "", 0, true)) {
		free(t);
		return NULL;
	}
	return t;
}

void aur_tree_free(struct aur_tree *t)
{
	if (!t)
		return;
	for (size_t i = 0; i < t->n; i++) {
		struct aur_node *n = *slot(t, i);

		if (n->built && n->ops->release)
			n->ops->release(n->ctx, &n->img);
		aur_extmap_release(&n->img.map);
		pthread_mutex_destroy(&n->build_lock);
		free(n->children);
		free(n->name);
		free(n);
	}
	while (t->ncleanups > 0) {
		struct cleanup *c = &t->cleanups[--t->ncleanups];

		c->fn(c->ctx);
	}
	for (size_t c = 0; c < MAX_CHUNKS && t->chunks[c]; c++)
		free(t->chunks[c]);
	free(t->cleanups);
	pthread_mutex_destroy(&t->cleanup_lock);
	pthread_rwlock_destroy(&t->lock);
	free(t);
}

int aur_tree_on_free(struct aur_tree *t, void (*fn)(void *), void *ctx)
{
	struct cleanup *v;
	int r = 0;

	pthread_mutex_lock(&t->cleanup_lock);
	v = realloc(t->cleanups, (t->ncleanups + 1) * sizeof(*v));
	if (v) {
		t->cleanups = v;
		v[t->ncleanups].fn = fn;
		v[t->ncleanups].ctx = ctx;
		t->ncleanups++;
	} else {
		r = -ENOMEM;
	}
	pthread_mutex_unlock(&t->cleanup_lock);
	return r;
}

/* under the lock */
static struct aur_node *child_named(struct aur_node *dir, const char *name,
				    size_t len)
{
	bool found;
	size_t at = child_index(dir, name, len, &found);

	return found ? dir->children[at] : NULL;
}

/* Walk @path under the write lock, making directories; give the parent
 * of the last component and that component (@last, @len). */
static int walk_create(struct aur_tree *t, const char *path,
		       struct aur_node **parent, const char **last, size_t *len)
{
	struct aur_node *dir = *slot(t, 0), *n;
	const char *p = path;

	if (*p != '/')
		return -EINVAL;
	for (;;) {
		const char *slash;
		size_t l;

		while (*p == '/')
			p++;
		slash = strchr(p, '/');
		l = slash ? (size_t)(slash - p) : strlen(p);
		if (l == 0 || (l == 1 && p[0] == '.') ||
		    (l == 2 && p[0] == '.' && p[1] == '.'))
			return -EINVAL;
		if (!slash || !slash[strspn(slash, "/")]) {
			*parent = dir;
			*last = p;
			*len = l;
			return 0;
		}
		n = child_named(dir, p, l);
		if (n && !n->is_dir)
			return -EEXIST;
		if (!n) {
			n = node_new(t, dir, p, l, true);
			if (!n)
				return -ENOMEM;
		}
		dir = n;
		p = slash;
	}
}

int aur_tree_add_file(struct aur_tree *t, const char *path,
		      const struct aur_file_ops *ops, void *ctx,
		      struct aur_node **out)
{
	struct aur_node *dir, *n = NULL;
	const char *name;
	size_t len;
	int r;

	pthread_rwlock_wrlock(&t->lock);
	r = walk_create(t, path, &dir, &name, &len);
	if (r == 0 && child_named(dir, name, len))
		r = -EEXIST;
	if (r == 0) {
		n = node_new(t, dir, name, len, false);
		if (!n)
			r = -ENOMEM;
	}
	if (r == 0) {
		n->ops = ops;
		n->ctx = ctx;
		if (out)
			*out = n;
	}
	pthread_rwlock_unlock(&t->lock);
	return r;
}

int aur_tree_add_dir(struct aur_tree *t, const char *path,
		     const struct aur_dir_ops *ops, void *ctx,
		     struct aur_node **out)
{
	struct aur_node *dir, *n;
	const char *name;
	size_t len;
	int r;

	pthread_rwlock_wrlock(&t->lock);
	r = walk_create(t, path, &dir, &name, &len);
	if (r == 0) {
		n = child_named(dir, name, len);
		if (n && !n->is_dir)
			r = -EEXIST;
		else if (!n && !(n = node_new(t, dir, name, len, true)))
			r = -ENOMEM;
	}
	if (r == 0 && ops) {
		n->dir_ops = ops;
		n->dir_ctx = ctx;
	}
	if (r == 0 && out)
		*out = n;
	pthread_rwlock_unlock(&t->lock);
	return r;
}

struct aur_node *aur_tree_root(struct aur_tree *t)
{
	return aur_tree_node(t, 1);
}

struct aur_node *aur_tree_node(struct aur_tree *t, uint64_t ino)
{
	struct aur_node *n = NULL;

	pthread_rwlock_rdlock(&t->lock);
	if (ino > 0 && ino <= t->n)
		n = *slot(t, ino - 1);
	pthread_rwlock_unlock(&t->lock);
	return n;
}

/* Run @dir's populate function once (again after a failure). */
static int populate(struct aur_tree *t, struct aur_node *dir)
{
	int r = 0;

	if (!dir->dir_ops || !dir->dir_ops->populate ||
	    __atomic_load_n(&dir->populated, __ATOMIC_ACQUIRE))
		return 0;
	pthread_mutex_lock(&dir->build_lock);
	if (!dir->populated) {
		r = dir->dir_ops->populate(dir->dir_ctx, t, dir);
		if (r == 0)
			__atomic_store_n(&dir->populated, true,
					 __ATOMIC_RELEASE);
	}
	pthread_mutex_unlock(&dir->build_lock);
	return r;
}

struct aur_node *aur_tree_lookup(struct aur_tree *t, uint64_t parent,
				 const char *name)
{
	struct aur_node *dir = aur_tree_node(t, parent), *n;
	int r;

	if (!dir || !dir->is_dir) {
		errno = ENOENT;
		return NULL;
	}
	r = populate(t, dir);
	if (r < 0) {
		errno = -r;
		return NULL;
	}
	pthread_rwlock_rdlock(&t->lock);
	n = child_named(dir, name, strlen(name));
	pthread_rwlock_unlock(&t->lock);
	if (!n && dir->dir_ops && dir->dir_ops->lookup) {
		errno = ENOENT;
		return dir->dir_ops->lookup(dir->dir_ctx, t, dir, name);
	}
	if (!n)
		errno = ENOENT;
	return n;
}

struct aur_node *aur_tree_child(struct aur_tree *t, struct aur_node *dir,
				const char *name)
{
	struct aur_node *n;

	pthread_rwlock_rdlock(&t->lock);
	n = child_named(dir, name, strlen(name));
	pthread_rwlock_unlock(&t->lock);
	return n;
}

struct aur_node *aur_tree_find(struct aur_tree *t, const char *path)
{
	struct aur_node *n = aur_tree_root(t);
	const char *p = path;

	while (n && *p) {
		char name[256];
		size_t len;

		while (*p == '/')
			p++;
		if (!*p)
			break;
		len = strcspn(p, "/");
		if (len >= sizeof(name)) {
			errno = ENAMETOOLONG;
			return NULL;
		}
		memcpy(name, p, len);
		name[len] = '\0';
		n = aur_tree_lookup(t, n->ino, name);
		p += len;
	}
	return n;
}

int aur_tree_list(struct aur_tree *t, struct aur_node *dir, size_t from,
		  aur_dirent_fn fn, void *ctx)
{
	int r = populate(t, dir);

	if (r < 0)
		return r;
	pthread_rwlock_rdlock(&t->lock);
	for (size_t i = from; i < dir->nchildren; i++)
		if (fn(ctx, dir->children[i], i))
			break;
	pthread_rwlock_unlock(&t->lock);
	return 0;
}

time_t aur_tree_mtime(const struct aur_tree *t)
{
	return t->mtime;
}

/* A build that failed leaves nothing behind. */
static void unbuild(struct aur_node *n, struct aur_image *img)
{
	if (n->ops->release)
		n->ops->release(n->ctx, img);
	aur_extmap_release(&img->map);
	img->priv = NULL;
	img->mtime = 0;
}

int aur_node_image(struct aur_node *n, const struct aur_image **img)
{
	int r = 0;

	if (n->is_dir)
		return -EISDIR;
	if (aur_node_is_volatile(n)) {
		*img = &n->img; /* stays empty */
		return 0;
	}
	/* built is only ever set once, under the lock: the fast path reads
	 * it with acquire ordering */
	if (__atomic_load_n(&n->built, __ATOMIC_ACQUIRE)) {
		*img = &n->img;
		return 0;
	}
	pthread_mutex_lock(&n->build_lock);
	if (!n->built) {
		r = n->ops->build(n->ctx, &n->img);
		if (r == 0) {
			aur_extmap_check(&n->img.map);
			__atomic_store_n(&n->built, true, __ATOMIC_RELEASE);
		} else {
			unbuild(n, &n->img);
		}
	}
	pthread_mutex_unlock(&n->build_lock);
	if (r == 0)
		*img = &n->img;
	return r;
}

int aur_node_open_image(struct aur_node *n, struct aur_image **img)
{
	struct aur_image *fresh;
	const struct aur_image *kept;
	int r;

	if (!aur_node_is_volatile(n)) {
		r = aur_node_image(n, &kept);
		if (r == 0)
			*img = (struct aur_image *)kept;
		return r;
	}
	fresh = calloc(1, sizeof(*fresh));
	if (!fresh)
		return -ENOMEM;
	aur_extmap_init(&fresh->map);
	r = n->ops->build(n->ctx, fresh);
	if (r < 0) {
		unbuild(n, fresh);
		free(fresh);
		return r;
	}
	aur_extmap_check(&fresh->map);
	*img = fresh;
	return 0;
}

void aur_node_close_image(struct aur_node *n, struct aur_image *img)
{
	if (!img || !aur_node_is_volatile(n))
		return;
	if (n->ops->release)
		n->ops->release(n->ctx, img);
	aur_extmap_release(&img->map);
	free(img);
}
