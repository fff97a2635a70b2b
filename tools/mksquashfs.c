// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * aurorafs-mksquashfs - the squashfs writer without a mount: build a rootfs
 * from directories and layer tars, the way /netboot/rootfs.squashfs is
 * built from an image's layers, and write it as a squashfs.
 *
 *   aurorafs-mksquashfs [-c gzip|xz|zstd|none] [-l LEVEL] [-b SIZE]
 *                       [-j THREADS] [-p] [-i] [-r OLD] INPUT... OUTPUT
 *
 * Each INPUT is applied over the ones before it, as an image's layers are:
 * an uncompressed tar (whiteouts and all), or a directory (copied as it
 * is: the data of its files goes to an unlinked temporary file next to
 * OUTPUT, so nothing needs to stay open per file). OUTPUT appears only
 * once complete (a temporary file renamed). -p prints progress on stderr.
 *
 * Incremental builds (squashfs.h): -i writes OUTPUT.index too, the index
 * of the blocks OUTPUT stores; -r OLD copies blocks from OLD (an image
 * written with -i, whose index is OLD.index) instead of compressing them
 * again, and says on stderr how many it took. A cache that cannot be used
 * is warned about and the image is written without it: the bytes are the
 * same either way.
 */
#include <aurora/log.h>
#include <aurora/rootfs.h>
#include <aurora/source.h>
#include <aurora/squashfs.h>
#include <aurora/util.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <libgen.h>
#include <limits.h>
#include <search.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#define COPY_STEP (1u << 20)
#define INDEX_MAX (256u << 20)
#define XATTR_LIST_MAX_BYTES (64u << 10)

static void close_file_source(struct aur_source *src)
{
	struct aur_file_source *fs = (struct aur_file_source *)src;

	aur_file_source_close(fs);
	free(fs);
}

static int apply_tar(struct aur_rootfs *fs, const char *path)
{
	struct aur_file_source *src = malloc(sizeof(*src));
	int r;

	if (!src)
		return -ENOMEM;
	r = aur_file_source_open(src, path);
	if (r < 0) {
		fprintf(stderr, "cannot open '%s': %s\n", path, strerror(-r));
		free(src);
		return r;
	}
	return aur_rootfs_apply_layer(fs, &src->src, close_file_source, path);
}

/* ---- a directory, copied into a rootfs ---- */

/* The first name of an inode with several. */
struct seen {
	dev_t dev;
	ino_t ino;
	char *path;
};

static int seen_cmp(const void *a, const void *b)
{
	const struct seen *x = a, *y = b;

	if (x->dev != y->dev)
		return x->dev < y->dev ? -1 : 1;
	if (x->ino != y->ino)
		return x->ino < y->ino ? -1 : 1;
	return 0;
}

/* nftw() passes no context: one directory is copied at a time. */
static struct {
	struct aur_rootfs *fs;
	const char *top;
	int data_fd; /* the data of every file, one after the other */
	struct aur_source *data;
	uint64_t data_size;
	void *seen; /* tsearch tree of struct seen */
	uint8_t *buf;
} dir;

static int copy_data(const char *path, uint64_t size)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	uint64_t done = 0;
	int r = 0;

	if (fd < 0)
		return -errno;
	while (done < size && r == 0) {
		ssize_t got = aur_pread_full(
			fd, dir.buf, (size_t)AUR_MIN(size - done, COPY_STEP),
			done);

		if (got <= 0) {
			r = got < 0 ? (int)got : -EIO; /* it shrank */
			break;
		}
		r = aur_pwrite_full(dir.data_fd, dir.buf, (size_t)got,
				    dir.data_size + done);
		done += (uint64_t)got;
	}
	close(fd);
	return r;
}

static int copy_xattrs(const char *path, struct aur_fnode *n)
{
	AUR_AUTOFREE char *names = malloc(XATTR_LIST_MAX_BYTES);
	AUR_AUTOFREE uint8_t *value = malloc(XATTR_LIST_MAX_BYTES);
	ssize_t len;

	if (!names || !value)
		return -ENOMEM;
	len = llistxattr(path, names, XATTR_LIST_MAX_BYTES);
	if (len < 0)
		return errno == ENOTSUP ? 0 : -errno;
	for (char *p = names; p < names + len; p += strlen(p) + 1) {
		ssize_t vlen = lgetxattr(path, p, value, XATTR_LIST_MAX_BYTES);
		int r;

		if (vlen < 0)
			return -errno;
		r = aur_rootfs_set_xattr(dir.fs, n, p, value, (size_t)vlen);
		if (r < 0)
			return r;
	}
	return 0;
}

/* A second name of an inode seen before becomes a hard link. 1 if
 * @path was one, 0 if not (and it is remembered), or -errno. */
static int hard_link(const char *path, const char *rel, const struct stat *st)
{
	struct seen key = {st->st_dev, st->st_ino, NULL}, *s, **found;

	if (S_ISDIR(st->st_mode) || st->st_nlink < 2)
		return 0;
	found = tfind(&key, &dir.seen, seen_cmp);
	if (found)
		return aur_rootfs_hardlink(dir.fs, rel, (*found)->path)
			       ? 1
			       : -errno;
	s = malloc(sizeof(*s));
	if (!s || !(s->path = strdup(rel))) {
		free(s);
		return -ENOMEM;
	}
	*s = (struct seen){st->st_dev, st->st_ino, s->path};
	if (!tsearch(s, &dir.seen, seen_cmp)) {
		free(s->path);
		free(s);
		return -ENOMEM;
	}
	return 0;
}

static int add_path(const char *path, const struct stat *st, int type,
		    struct FTW *ftw)
{
	const char *rel = path + strlen(dir.top);
	struct aur_fnode proto = {0}, *n;
	char target[PATH_MAX];
	ssize_t len;
	int r = type == FTW_NS || type == FTW_DNR ? -EACCES
						  : hard_link(path, rel, st);

	if (r != 0)
		goto out;
	proto.mode = st->st_mode;
	proto.uid = st->st_uid;
	proto.gid = st->st_gid;
	proto.mtime = st->st_mtime;
	proto.rdev_major = major(st->st_rdev);
	proto.rdev_minor = minor(st->st_rdev);
	if (S_ISLNK(st->st_mode)) {
		len = readlink(path, target, sizeof(target) - 1);
		if (len < 0) {
			r = -errno;
			goto out;
		}
		target[len] = '\0';
		proto.target = target;
	} else if (S_ISREG(st->st_mode)) {
		r = copy_data(path, (uint64_t)st->st_size);
		if (r < 0)
			goto out;
		proto.size = (uint64_t)st->st_size;
		proto.src = dir.data;
		proto.off = dir.data_size;
		dir.data_size += proto.size;
	}
	n = aur_rootfs_put(dir.fs, rel, &proto);
	r = n ? copy_xattrs(path, n) : -errno;
out:
	if (r < 0)
		fprintf(stderr, "cannot add '%s': %s\n", path, strerror(-r));
	return r < 0 ? -1 : 0;
}

static void free_seen(void *p)
{
	struct seen *s = p;

	free(s->path);
	free(s);
}

/* The unlinked file that holds the data of a directory's files, in the
 * directory of @output. */
static int data_file(const char *output)
{
	AUR_AUTOFREE char *copy = strdup(output);
	AUR_AUTOFREE char *tmp = aur_printf("%s.data.XXXXXX", output);
	int fd;

	if (!copy || !tmp)
		return -ENOMEM;
	fd = open(dirname(copy), O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (fd >= 0 || errno != EOPNOTSUPP)
		return fd < 0 ? -errno : fd;
	fd = mkostemp(tmp, O_CLOEXEC); /* no O_TMPFILE on that filesystem */
	if (fd < 0)
		return -errno;
	unlink(tmp);
	return fd;
}

static int apply_dir(struct aur_rootfs *fs, const char *top, const char *output)
{
	struct aur_file_source *src = malloc(sizeof(*src));
	int r;

	dir.fs = fs;
	dir.top = top;
	dir.data_size = 0;
	dir.buf = malloc(COPY_STEP);
	dir.data_fd = data_file(output);
	if (!src || !dir.buf || dir.data_fd < 0) {
		r = dir.data_fd < 0 ? dir.data_fd : -ENOMEM;
		fprintf(stderr, "cannot make a temporary file for '%s': %s\n",
			top, strerror(-r));
		goto out;
	}
	/* the source's size is read once the data is all there */
	src->fd = dir.data_fd;
	dir.data = &src->src;
	r = nftw(top, add_path, 64, FTW_PHYS) == 0 ? 0 : -EIO;
	if (r == 0)
		r = aur_file_source_from_fd(src, dir.data_fd);
	if (r == 0) {
		r = aur_rootfs_adopt_source(fs, &src->src, close_file_source);
		src = r == 0 ? NULL : src;
		dir.data_fd = r == 0 ? -1 : dir.data_fd;
	}
out:
	if (dir.data_fd >= 0)
		close(dir.data_fd);
	free(src);
	free(dir.buf);
	tdestroy(dir.seen, free_seen);
	dir.seen = NULL;
	return r;
}

/* ---- options and output ---- */

static int parse_size(const char *s, uint32_t *out)
{
	char digits[32];
	size_t len = strlen(s);
	uint64_t v, mult = 1;

	if (len == 0 || len >= sizeof(digits))
		return -EINVAL;
	memcpy(digits, s, len + 1);
	if (digits[len - 1] == 'K' || digits[len - 1] == 'k')
		mult = 1024;
	else if (digits[len - 1] == 'M' || digits[len - 1] == 'm')
		mult = 1024 * 1024;
	if (mult > 1)
		digits[len - 1] = '\0';
	if (aur_parse_u64(digits, &v) < 0 || v * mult > UINT32_MAX)
		return -EINVAL;
	*out = (uint32_t)(v * mult);
	return 0;
}

static void show_progress(void *ctx, uint64_t files_done, uint64_t files_total,
			  uint64_t bytes_done, uint64_t bytes_total)
{
	time_t *last = ctx, now = time(NULL);

	if (now == *last && files_done < files_total)
		return;
	*last = now;
	fprintf(stderr, "\r%llu/%llu files, %llu/%llu MiB",
		(unsigned long long)files_done, (unsigned long long)files_total,
		(unsigned long long)(bytes_done >> 20),
		(unsigned long long)(bytes_total >> 20));
	if (files_done == files_total && bytes_done == bytes_total)
		fputc('\n', stderr);
}

static int write_output(const struct aur_rootfs *fs,
			const struct aur_sqfs_opts *o, const char *output)
{
	AUR_AUTOFREE char *tmp = aur_printf("%s.XXXXXX", output);
	int fd = tmp ? mkostemp(tmp, O_CLOEXEC) : -1;
	int64_t size;

	if (fd < 0) {
		fprintf(stderr, "cannot create '%s': %s\n", output,
			strerror(errno));
		return -1;
	}
	size = aur_squashfs_write(fs, o, fd);
	if (size >= 0 && (fchmod(fd, 0644) < 0 || fsync(fd) < 0 ||
			  rename(tmp, output) < 0)) {
		fprintf(stderr, "cannot write '%s': %s\n", output,
			strerror(errno));
		size = -1;
	}
	close(fd);
	if (size < 0) {
		unlink(tmp);
		return -1;
	}
	return 0;
}

/* The cache of @image and @image.index, or NULL (after a message). */
static struct aur_sqfs_cache *open_cache(const char *image)
{
	AUR_AUTOFREE char *index_path = aur_printf("%s.index", image);
	AUR_AUTOFREE char *index = NULL;
	struct aur_sqfs_cache *c = NULL;
	size_t len;
	int fd = open(image, O_RDONLY | O_CLOEXEC), r;

	r = fd < 0 ? -errno : index_path ? 0 : -ENOMEM;
	if (r == 0)
		r = aur_read_file(index_path, INDEX_MAX, &index, &len);
	if (r == 0)
		r = aur_sqfs_cache_open(image, fd, index, len, &c);
	else
		fprintf(stderr, "cannot read '%s' and its index: %s\n", image,
			strerror(-r));
	if (fd >= 0)
		close(fd);
	if (r < 0)
		fprintf(stderr, "writing without a cache\n");
	return c;
}

static void print_stats(const struct aur_sqfs_cache_stats *st)
{
	fprintf(stderr,
		"cache: %llu blocks (%llu MiB) reused, %llu (%llu MiB) "
		"compressed, %llu refused\n",
		(unsigned long long)st->blocks_reused,
		(unsigned long long)(st->bytes_reused >> 20),
		(unsigned long long)st->blocks_compressed,
		(unsigned long long)(st->bytes_compressed >> 20),
		(unsigned long long)st->blocks_refused);
}

static int write_index(const struct aur_sqfs_index *index, const char *output)
{
	AUR_AUTOFREE char *path = aur_printf("%s.index", output);
	int r = path ? aur_write_file_atomic(path, index->data, index->len,
					     0644)
		     : -ENOMEM;

	if (r < 0)
		fprintf(stderr, "cannot write the index of '%s': %s\n", output,
			strerror(-r));
	return r;
}

static int usage(const char *argv0)
{
	fprintf(stderr,
		"usage: %s [-c gzip|xz|zstd|none] [-l LEVEL] [-b SIZE] "
		"[-j THREADS] [-p] [-i] [-r OLD] INPUT... OUTPUT\n",
		argv0);
	return 2;
}

int main(int argc, char **argv)
{
	struct aur_sqfs_opts o = {0};
	struct aur_sqfs_index index = {0};
	struct aur_sqfs_cache_stats stats;
	struct aur_sqfs_cache *cache = NULL;
	struct aur_rootfs *fs = NULL;
	time_t last = 0;
	uint64_t v;
	int c, r = 0;

	while ((c = getopt(argc, argv, "c:l:b:j:pir:")) != -1) {
		switch (c) {
		case 'c':
			r = aur_sqfs_compression_parse(optarg, &o.comp);
			break;
		case 'l':
			r = aur_parse_u64(optarg, &v) < 0 || v > 100 ? -EINVAL
								     : 0;
			o.level = (int)v;
			break;
		case 'b':
			r = parse_size(optarg, &o.block_size);
			break;
		case 'j':
			r = aur_parse_u64(optarg, &v) < 0 || v > 1024 ? -EINVAL
								      : 0;
			o.threads = (unsigned)v;
			break;
		case 'p':
			o.progress = show_progress;
			o.progress_ctx = &last;
			break;
		case 'i':
			o.index = &index;
			break;
		case 'r':
			aur_sqfs_cache_free(cache);
			cache = open_cache(optarg);
			o.cache = cache;
			o.stats = &stats;
			break;
		default:
			return usage(argv[0]);
		}
		if (r < 0) {
			fprintf(stderr, "%s: bad -%c '%s'\n", argv[0], c,
				optarg);
			return 2;
		}
	}
	if (argc - optind < 2)
		return usage(argv[0]);
	fs = aur_rootfs_new();
	if (!fs)
		return 1;
	for (int i = optind; r == 0 && i < argc - 1; i++) {
		struct stat st;

		if (stat(argv[i], &st) < 0) {
			fprintf(stderr, "cannot read '%s': %s\n", argv[i],
				strerror(errno));
			r = -errno;
		} else if (S_ISDIR(st.st_mode)) {
			r = apply_dir(fs, argv[i], argv[argc - 1]);
		} else {
			r = apply_tar(fs, argv[i]);
		}
	}
	if (r == 0)
		r = write_output(fs, &o, argv[argc - 1]);
	if (r == 0 && o.cache)
		print_stats(&stats);
	if (r == 0 && index.data)
		r = write_index(&index, argv[argc - 1]);
	free(index.data);
	aur_sqfs_cache_free(cache);
	aur_rootfs_free(fs);
	return r == 0 ? 0 : 1;
}
