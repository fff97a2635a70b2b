// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Files named after the output name, added once the name is known
 * (builder.h: aur_named_file_add).
 */
#include <aurora/builder.h>
#include <aurora/log.h>
#include <aurora/tree.h>
#include <aurora/util.h>

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

struct waiting_file {
	char *fmt;
	const struct aur_file_ops *ops;
	void *fctx;
	struct aur_node **out;
	bool added;
	struct waiting_file *next;
};

struct aur_names {
	pthread_mutex_t lock;
	bool resolved;
	struct waiting_file *head, **tail;
};

static char *expand(const char *fmt, const char *name)
{
	const char *at = strstr(fmt, "%s");

	if (!at || strstr(at + 2, "%"))
		return NULL; /* exactly one %s, nothing else */
	return aur_printf("%.*s%s%s", (int)(at - fmt), fmt, name, at + 2);
}

static int add_now(struct aur_build_ctx *ctx, const char *fmt,
		   const struct aur_file_ops *ops, void *fctx,
		   struct aur_node **out)
{
	AUR_AUTOFREE char *path = expand(fmt, ctx->name);
	struct aur_node *n;
	int r;

	if (!path)
		return -ENOMEM;
	r = aur_tree_add_file(ctx->tree, path, ops, fctx, &n);
	if (r < 0) {
		aur_err("cannot add '%s': %s", path, strerror(-r));
		return r;
	}
	if (out)
		*out = n;
	return 0;
}

static int populate(void *dctx, struct aur_tree *t, struct aur_node *dir)
{
	return aur_names_resolve(dctx);
}

static const struct aur_dir_ops waiting_dir_ops = {.populate = populate};

static struct aur_names *names_of(struct aur_build_ctx *ctx)
{
	if (!ctx->names) {
		ctx->names = calloc(1, sizeof(*ctx->names));
		if (!ctx->names)
			return NULL;
		pthread_mutex_init(&ctx->names->lock, NULL);
		ctx->names->tail = &ctx->names->head;
	}
	return ctx->names;
}

int aur_named_file_add(struct aur_build_ctx *ctx, const char *fmt,
		       const struct aur_file_ops *ops, void *fctx,
		       struct aur_node **out)
{
	struct aur_names *names;
	struct waiting_file *w;
	AUR_AUTOFREE char *dir = NULL;

	if (ctx->name)
		return add_now(ctx, fmt, ops, fctx, out);
	names = names_of(ctx);
	w = calloc(1, sizeof(*w));
	dir = strndup(fmt, (size_t)(strrchr(fmt, '/') - fmt));
	if (!names || !w || !dir || !(w->fmt = strdup(fmt))) {
		free(w);
		return -ENOMEM;
	}
	if (strchr(dir, '%')) {
		free(w->fmt);
		free(w);
		return -EINVAL; /* only the file name may hold the name */
	}
	w->ops = ops;
	w->fctx = fctx;
	w->out = out;
	*names->tail = w;
	names->tail = &w->next;
	return aur_tree_add_dir(ctx->tree, dir, &waiting_dir_ops, ctx, NULL);
}

int aur_names_resolve(struct aur_build_ctx *ctx)
{
	struct aur_names *names = ctx->names;
	int r = 0;

	if (!names)
		return 0;
	pthread_mutex_lock(&names->lock);
	if (!names->resolved) {
		if (!ctx->name)
			r = ctx->resolve_name ? ctx->resolve_name(ctx)
					      : -ENOENT;
		for (struct waiting_file *w = names->head; r == 0 && w;
		     w = w->next) {
			if (w->added)
				continue;
			r = add_now(ctx, w->fmt, w->ops, w->fctx, w->out);
			w->added = r == 0;
		}
		names->resolved = r == 0;
	}
	pthread_mutex_unlock(&names->lock);
	return r;
}

void aur_names_free(struct aur_build_ctx *ctx)
{
	struct aur_names *names = ctx->names;

	if (!names)
		return;
	while (names->head) {
		struct waiting_file *w = names->head;

		names->head = w->next;
		free(w->fmt);
		free(w);
	}
	pthread_mutex_destroy(&names->lock);
	free(names);
	ctx->names = NULL;
}
