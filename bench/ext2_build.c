// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * ext2_build - the ext2 image builder on a directory, for bench/ext2.sh:
 * what `mke2fs -t ext2 -d DIR` makes, as an extent map over DIR's files.
 *
 *   ext2_build [-L LABEL] [-o IMAGE] DIR SIZE
 *
 * Prints the smallest size that holds DIR and the time to compute it, the
 * build time (best of three), the number of extents and the memory the
 * map's buffers take; with -o, writes the image out (then e2fsck and
 * debugfs can check it).
 */
#include <aurora/ext2img.h>
#include <aurora/extmap.h>
#include <aurora/log.h>
#include <aurora/source.h>
#include <aurora/util.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

struct tree {
	struct aur_ext2_entry *v;
	struct aur_file_source **srcs;
	size_t n, cap;
	size_t root_len;
};

/* nftw has no context argument. */
static struct tree *walking;

static int add_path(const char *path, const struct stat *st, int flag,
		    struct FTW *ftw)
{
	struct tree *t = walking;
	struct aur_ext2_entry *e;
	struct aur_file_source *fs = NULL;

	if (ftw->level == 0)
		return 0;
	if (t->n == t->cap) {
		t->cap = t->cap ? t->cap * 2 : 256;
		t->v = realloc(t->v, t->cap * sizeof(*t->v));
		t->srcs = realloc(t->srcs, t->cap * sizeof(*t->srcs));
		if (!t->v || !t->srcs)
			return -ENOMEM;
	}
	e = &t->v[t->n];
	memset(e, 0, sizeof(*e));
	e->path = strdup(path + t->root_len);
	e->mode = st->st_mode;
	e->uid = st->st_uid;
	e->gid = st->st_gid;
	e->mtime = st->st_mtime;
	if (S_ISLNK(st->st_mode)) {
		char *target = calloc(1, (size_t)st->st_size + 1);

		if (!target ||
		    readlink(path, target, (size_t)st->st_size) < 0) {
			free(target);
			return -errno;
		}
		e->target = target;
	} else if (S_ISREG(st->st_mode)) {
		fs = malloc(sizeof(*fs));
		if (!fs || aur_file_source_open(fs, path) < 0)
			return -EIO;
		e->src = &fs->src;
		e->size = fs->src.size;
	}
	t->srcs[t->n++] = fs;
	return e->path ? 0 : -ENOMEM;
}

static int write_out(const struct aur_extmap *m, const char *path)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	uint8_t *buf = malloc(1 << 20);
	int r = fd < 0 || !buf ? -errno : 0;

	if (r == 0 && ftruncate(fd, (off_t)m->size) < 0)
		r = -errno;
	for (size_t i = 0; i < m->n && r == 0; i++) {
		const struct aur_extent *e = &m->v[i];

		for (uint64_t d = 0;
		     e->kind != AUR_EXT_ZERO && d < e->len && r == 0;
		     d += 1 << 20) {
			size_t k = (size_t)AUR_MIN(e->len - d, 1u << 20);
			ssize_t got = aur_extmap_pread(m, buf, k, e->start + d);

			r = got < 0 ? (int)got
				    : aur_pwrite_full(fd, buf, k, e->start + d);
		}
	}
	free(buf);
	if (fd >= 0)
		close(fd);
	return r;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	struct aur_ext2_opts o = {.label = "COS_RECOVERY", .time = 1};
	const char *out = NULL;
	struct tree t = {0};
	double best = 1e9;
	struct aur_extmap map;
	struct aur_ext2_image *img = NULL;
	int c, r = 0;

	while ((c = getopt(argc, argv, "L:o:")) != -1) {
		if (c == 'L')
			o.label = optarg;
		else if (c == 'o')
			out = optarg;
		else
			return 2;
	}
	if (argc - optind != 2 || aur_parse_u64(argv[optind + 1], &o.size)) {
		fprintf(stderr, "usage: ext2_build [-L LABEL] [-o IMAGE] DIR "
				"SIZE\n");
		return 2;
	}
	t.root_len = strlen(argv[optind]);
	walking = &t;
	if (nftw(argv[optind], add_path, 64, FTW_PHYS) != 0) {
		fprintf(stderr, "ext2_build: cannot read '%s'\n", argv[optind]);
		return 1;
	}
	{
		double t0 = now();
		uint64_t min;

		r = aur_ext2_min_size(&o, t.v, t.n, &min);
		if (r == 0)
			printf("min_size %llu\nmin_size_seconds %.4f\n",
			       (unsigned long long)min, now() - t0);
	}
	aur_extmap_init(&map);
	for (int i = 0; i < 3 && r == 0; i++) {
		double t0 = now(), took;

		aur_extmap_release(&map);
		aur_ext2_image_free(img);
		img = NULL;
		r = aur_ext2_build(&o, t.v, t.n, &map, &img);
		took = now() - t0;
		best = AUR_MIN(best, took);
	}
	if (r == 0) {
		printf("files %zu\nbuild_seconds %.4f\nextents %zu\n"
		       "memory_bytes %zu\n",
		       t.n, best, map.n, aur_ext2_image_bytes(img));
		if (out)
			r = write_out(&map, out);
	}
	aur_extmap_release(&map);
	aur_ext2_image_free(img);
	for (size_t i = 0; i < t.n; i++) {
		if (t.srcs[i]) {
			aur_file_source_close(t.srcs[i]);
			free(t.srcs[i]);
		}
		free((char *)t.v[i].path);
		free((char *)t.v[i].target);
	}
	free(t.v);
	free(t.srcs);
	return r == 0 ? 0 : 1;
}
