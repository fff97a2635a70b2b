// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * A directory as an aur_tree (dirtree.h).
 */
#include "dirtree.h"

#include <aurora/source.h>
#include <aurora/tree.h>
#include <aurora/util.h>

#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

struct dir_file {
	char *path; /* on the test machine */
	struct aur_file_source src;
	time_t mtime;
};

static int build_file(void *ctx, struct aur_image *img)
{
	struct dir_file *f = ctx;
	int r = aur_file_source_open(&f->src, f->path);

	if (r < 0)
		return r;
	img->mtime = f->mtime;
	return f->src.src.size
		       ? aur_extmap_add_source(&img->map, f->path, &f->src.src,
					       0, f->src.src.size)
		       : 0;
}

static void release_file(void *ctx, struct aur_image *img)
{
	aur_file_source_close(&((struct dir_file *)ctx)->src);
}

static const struct aur_file_ops file_ops = {.build = build_file,
					     .release = release_file};

static void free_file(void *ctx)
{
	struct dir_file *f = ctx;

	free(f->path);
	free(f);
}

static int add_dir(struct aur_tree *t, const char *dir, const char *rel)
{
	AUR_AUTOFREE char *here = aur_printf("%s%s", dir, rel);
	DIR *d = here ? opendir(here) : NULL;
	struct dirent *e;
	int r = 0;

	if (!d)
		return here ? -errno : -ENOMEM;
	if (*rel && aur_tree_add_dir(t, rel, NULL, NULL, NULL) < 0) {
		closedir(d);
		return -ENOMEM;
	}
	while (r == 0 && (e = readdir(d))) {
		AUR_AUTOFREE char *child = NULL;
		struct dir_file *f;
		struct stat st;

		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		child = aur_printf("%s/%s", rel, e->d_name);
		f = calloc(1, sizeof(*f));
		if (!child || !f) {
			free(f);
			r = -ENOMEM;
			break;
		}
		f->src.fd = -1;
		f->path = aur_printf("%s%s", dir, child);
		if (!f->path || lstat(f->path, &st) < 0) {
			free_file(f);
			r = -EIO;
			break;
		}
		if (S_ISDIR(st.st_mode)) {
			free_file(f);
			r = add_dir(t, dir, child);
			continue;
		}
		if (!S_ISREG(st.st_mode)) {
			free_file(f);
			continue;
		}
		f->mtime = st.st_mtime;
		r = aur_tree_on_free(t, free_file, f);
		if (r < 0) {
			free_file(f);
			break;
		}
		r = aur_tree_add_file(t, child, &file_ops, f, NULL);
	}
	closedir(d);
	return r;
}

struct aur_tree *dirtree_new(const char *dir)
{
	struct aur_tree *t = aur_tree_new(0);
	int r;

	if (!t)
		return NULL;
	r = add_dir(t, dir, "");
	if (r < 0) {
		aur_tree_free(t);
		errno = -r;
		return NULL;
	}
	return t;
}
