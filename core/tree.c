// SPDX-License-Identifier: GPL-2.0-or-later
#include <aurora/tree.h>
#include <aurora/util.h>

#include <errno.h>
#include <string.h>

struct cleanup {
	void (*fn)(void *);
	void *ctx;
};

struct aur_tree {
	struct aur_node **nodes; /* nodes[ino - 1] */
	size_t n, cap;
	struct cleanup *cleanups;
	size_t ncleanups;
	time_t mtime;
};

static struct aur_node *node_new(struct aur_tree *t, struct aur_node *parent,
				 const char *name, size_t len, bool is_dir)
{
	struct aur_node *n;

	if (t->n == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 16;
		struct aur_node **v = realloc(t->nodes, cap * sizeof(*v));

		if (!v)
			return NULL;
		t->nodes = v;
		t->cap = cap;
	}
	n = calloc(1, sizeof(*n));
	if (!n)
		return NULL;
	n->name = strndup(name, len);
	if (!n->name) {
		free(n);
		return NULL;
	}
	n->is_dir = is_dir;
	n->parent = parent ? parent : n;
	pthread_mutex_init(&n->build_lock, NULL);
	aur_extmap_init(&n->img.map);
	t->nodes[t->n++] = n;
	n->ino = t->n;
	if (parent) {
		/* keep children sorted by name: stable listings */
		struct aur_node **pp = &parent->child;

		while (*pp && strcmp((*pp)->name, n->name) < 0)
			pp = &(*pp)->next;
		n->next = *pp;
		*pp = n;
		parent->nchildren++;
	}
	return n;
}

struct aur_tree *aur_tree_new(time_t mtime)
{
	struct aur_tree *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
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
		struct aur_node *n = t->nodes[i];

		if (n->built && n->ops->release)
			n->ops->release(n->ctx, &n->img);
		aur_extmap_release(&n->img.map);
		pthread_mutex_destroy(&n->build_lock);
		free(n->name);
		free(n);
	}
	while (t->ncleanups > 0) {
		struct cleanup *c = &t->cleanups[--t->ncleanups];

		c->fn(c->ctx);
	}
	free(t->cleanups);
	free(t->nodes);
	free(t);
}

int aur_tree_on_free(struct aur_tree *t, void (*fn)(void *), void *ctx)
{
	struct cleanup *v =
		realloc(t->cleanups, (t->ncleanups + 1) * sizeof(*v));

	if (!v)
		return -ENOMEM;
	t->cleanups = v;
	v[t->ncleanups].fn = fn;
	v[t->ncleanups].ctx = ctx;
	t->ncleanups++;
	return 0;
}

static struct aur_node *child_named(struct aur_node *dir, const char *name,
				    size_t len)
{
	for (struct aur_node *c = dir->child; c; c = c->next)
		if (strlen(c->name) == len && memcmp(c->name, name, len) == 0)
			return c;
	return NULL;
}

int aur_tree_add_file(struct aur_tree *t, const char *path,
		      const struct aur_file_ops *ops, void *ctx,
		      struct aur_node **out)
{
	struct aur_node *dir = t->nodes[0], *n;
	const char *p = path;

	if (*p != '/')
		return -EINVAL;
	for (;;) {
		const char *slash;
		size_t len;

		while (*p == '/')
			p++;
		slash = strchr(p, '/');
		len = slash ? (size_t)(slash - p) : strlen(p);
		if (len == 0 || (len == 1 && p[0] == '.') ||
		    (len == 2 && p[0] == '.' && p[1] == '.'))
			return -EINVAL;
		n = child_named(dir, p, len);
		if (!slash)
			break;
		if (n && !n->is_dir)
			return -EEXIST;
		if (!n) {
			n = node_new(t, dir, p, len, true);
			if (!n)
				return -ENOMEM;
		}
		dir = n;
		p = slash;
	}
	if (n)
		return -EEXIST;
	n = node_new(t, dir, p, strlen(p), false);
	if (!n)
		return -ENOMEM;
	n->ops = ops;
	n->ctx = ctx;
	if (out)
		*out = n;
	return 0;
}

struct aur_node *aur_tree_root(struct aur_tree *t)
{
	return t->nodes[0];
}

struct aur_node *aur_tree_node(struct aur_tree *t, uint64_t ino)
{
	if (ino == 0 || ino > t->n)
		return NULL;
	return t->nodes[ino - 1];
}

struct aur_node *aur_tree_lookup(struct aur_tree *t, uint64_t parent,
				 const char *name)
{
	struct aur_node *dir = aur_tree_node(t, parent);

	if (!dir || !dir->is_dir)
		return NULL;
	return child_named(dir, name, strlen(name));
}

struct aur_node *aur_tree_find(struct aur_tree *t, const char *path)
{
	struct aur_node *n = t->nodes[0];
	const char *p = path;

	while (n && *p) {
		const char *slash;
		size_t len;

		while (*p == '/')
			p++;
		if (!*p)
			break;
		slash = strchr(p, '/');
		len = slash ? (size_t)(slash - p) : strlen(p);
		n = n->is_dir ? child_named(n, p, len) : NULL;
		p += len;
	}
	return n;
}

time_t aur_tree_mtime(const struct aur_tree *t)
{
	return t->mtime;
}

int aur_node_image(struct aur_node *n, const struct aur_image **img)
{
	int r = 0;

	if (n->is_dir)
		return -EISDIR;
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
			if (n->ops->release)
				n->ops->release(n->ctx, &n->img);
			aur_extmap_release(&n->img.map);
			n->img.priv = NULL;
			n->img.mtime = 0;
		}
	}
	pthread_mutex_unlock(&n->build_lock);
	if (r == 0)
		*img = &n->img;
	return r;
}
