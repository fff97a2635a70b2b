// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Applying an uncompressed layer tar over a rootfs (rootfs.h). libarchive
 * parses the headers; the data of each regular file is not read, only its
 * offset in the tar noted, so the rootfs points into the stored layer.
 */
#include <aurora/log.h>
#include <aurora/rootfs.h>
#include <aurora/source.h>
#include <aurora/util.h>

#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#include <archive.h>
#include <archive_entry.h>

#define WHITEOUT ".wh."
#define OPAQUE ".wh..wh..opq"
#define READ_STEP (64u << 10)

/* One tar entry, kept until the layer's whiteouts are applied. */
struct entry {
	char *path;
	char *hardlink; /* target path, for hard links */
	struct aur_fnode meta; /* mode, owner, time, rdev, target, data */
	struct aur_xattr *xattrs;
	size_t nxattrs;
	enum { ADD, WHITEOUT_OF, OPAQUE_DIR } kind;
};

#define TAR_BLOCK 512u
#define TAR_END_BLOCKS 2u

/*
 * The tar as libarchive reads it: the layer, then a tail of zeros that
 * completes its last block and adds the end-of-archive blocks. Some
 * writers (umoci 0.4.7's insert) stop right after the last file's data;
 * Go's archive/tar, which Docker and AuroraBoot read layers with, takes
 * that as the end, and so does this tail. A tar cut inside a header or a
 * file's data is still an error: the header's checksum fails, or the
 * file's data lies past the end (take_entry).
 */
struct reader {
	struct aur_source *src;
	uint64_t pos; /* next byte of the tar to read */
	uint64_t end; /* the layer's size plus the tail */
	uint8_t *buf;
	uint64_t read; /* bytes really read, for tests and stats */
};

static uint64_t with_tail(uint64_t size)
{
	uint64_t blocks = (size + TAR_BLOCK - 1) / TAR_BLOCK;

	return (blocks + TAR_END_BLOCKS) * TAR_BLOCK;
}

static la_ssize_t read_cb(struct archive *a, void *ctx, const void **out)
{
	struct reader *r = ctx;
	ssize_t got;

	if (r->pos >= r->src->size) {
		size_t n = (size_t)AUR_MIN(r->end - AUR_MIN(r->pos, r->end),
					   (uint64_t)READ_STEP);

		memset(r->buf, 0, n);
		r->pos += n;
		*out = r->buf;
		return (la_ssize_t)n;
	}
	got = aur_source_pread(r->src, r->buf, READ_STEP, r->pos);
	if (got < 0) {
		archive_set_error(a, (int)-got, "%s", strerror((int)-got));
		return -1;
	}
	r->pos += (uint64_t)got;
	r->read += (uint64_t)got;
	*out = r->buf;
	return got;
}

/* File data is skipped, not read: only the headers of a layer are. */
static la_int64_t skip_cb(struct archive *a, void *ctx, la_int64_t request)
{
	struct reader *r = ctx;
	uint64_t left = r->end - AUR_MIN(r->pos, r->end);
	uint64_t n = AUR_MIN((uint64_t)request, left);

	r->pos += n;
	return (la_int64_t)n;
}

static void entry_free(struct entry *e)
{
	free(e->path);
	free(e->hardlink);
	free(e->meta.target);
	for (size_t i = 0; i < e->nxattrs; i++) {
		free(e->xattrs[i].name);
		free(e->xattrs[i].value);
	}
	free(e->xattrs);
}

/* "a/b/.wh.c" -> kind and the path it is about ("a/b/c", "a/b"). */
static int classify(struct entry *e)
{
	char *slash = strrchr(e->path, '/');
	char *base = slash ? slash + 1 : e->path;

	if (strcmp(base, OPAQUE) == 0) {
		e->kind = OPAQUE_DIR;
		if (slash)
			*slash = '\0';
		else
			e->path[0] = '\0';
		return 0;
	}
	if (strncmp(base, WHITEOUT, strlen(WHITEOUT)) == 0) {
		e->kind = WHITEOUT_OF;
		memmove(base, base + strlen(WHITEOUT),
			strlen(base + strlen(WHITEOUT)) + 1);
		return *base ? 0 : -EINVAL;
	}
	e->kind = ADD;
	return 0;
}

static int copy_xattrs(struct archive_entry *ae, struct entry *e)
{
	const char *name;
	const void *value;
	size_t len;
	int n = archive_entry_xattr_reset(ae);

	if (n <= 0)
		return 0;
	e->xattrs = calloc((size_t)n, sizeof(*e->xattrs));
	if (!e->xattrs)
		return -ENOMEM;
	while (archive_entry_xattr_next(ae, &name, &value, &len) ==
		       ARCHIVE_OK &&
	       e->nxattrs < (size_t)n) {
		struct aur_xattr *x = &e->xattrs[e->nxattrs];

		x->name = strdup(name);
		x->value = malloc(len ? len : 1);
		if (!x->name || !x->value) {
			free(x->name);
			free(x->value);
			return -ENOMEM;
		}
		memcpy(x->value, value, len);
		x->len = len;
		e->nxattrs++;
	}
	return 0;
}

/* Fill @e from the header just read; the data starts at @pos. */
static int take_entry(struct archive_entry *ae, uint64_t pos,
		      struct aur_source *src, const char *what, struct entry *e)
{
	const char *path = archive_entry_pathname(ae);
	const char *link = archive_entry_hardlink(ae);
	const char *sym = archive_entry_symlink(ae);
	int64_t size = archive_entry_size(ae);
	int r;

	memset(e, 0, sizeof(*e));
	if (!path) {
		aur_err("%s: an entry without a name", what);
		return -EINVAL;
	}
	if (archive_entry_sparse_count(ae) > 0) {
		aur_err("%s: '%s' is a sparse file: not supported in layers",
			what, path);
		return -EINVAL;
	}
	e->path = strdup(path);
	if (!e->path)
		return -ENOMEM;
	r = classify(e);
	if (r < 0) {
		aur_err("%s: '%s' is a whiteout of nothing", what, path);
		return r;
	}
	if (e->kind != ADD)
		return 0;
	e->meta.mode = (uint32_t)archive_entry_mode(ae);
	e->meta.uid = (uint32_t)archive_entry_uid(ae);
	e->meta.gid = (uint32_t)archive_entry_gid(ae);
	e->meta.mtime = (int64_t)archive_entry_mtime(ae);
	e->meta.rdev_major = (uint32_t)archive_entry_rdevmajor(ae);
	e->meta.rdev_minor = (uint32_t)archive_entry_rdevminor(ae);
	if (link) {
		e->hardlink = strdup(link);
		return e->hardlink ? copy_xattrs(ae, e) : -ENOMEM;
	}
	if (S_ISLNK(e->meta.mode)) {
		e->meta.target = strdup(sym ? sym : "");
		if (!e->meta.target)
			return -ENOMEM;
	} else if (S_ISREG(e->meta.mode)) {
		if (size < 0 || pos > src->size ||
		    (uint64_t)size > src->size - pos) {
			aur_err("%s: '%s' claims data past the end of the "
				"layer",
				what, path);
			return -EINVAL;
		}
		e->meta.size = (uint64_t)size;
		e->meta.src = src;
		e->meta.off = pos;
	} else if (!S_ISDIR(e->meta.mode) && !S_ISCHR(e->meta.mode) &&
		   !S_ISBLK(e->meta.mode) && !S_ISFIFO(e->meta.mode) &&
		   !S_ISSOCK(e->meta.mode)) {
		aur_err("%s: '%s' has an unknown file type (mode %o)", what,
			path, e->meta.mode);
		return -EINVAL;
	}
	return copy_xattrs(ae, e);
}

struct entries {
	struct entry *v;
	size_t n, cap;
};

static struct entry *entries_add(struct entries *l)
{
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 256;
		struct entry *v = realloc(l->v, cap * sizeof(*v));

		if (!v)
			return NULL;
		l->v = v;
		l->cap = cap;
	}
	return &l->v[l->n++];
}

/* Read every header of the tar @src into @l. */
static int read_entries(struct aur_source *src, const char *what,
			struct entries *l)
{
	struct reader rd = {src, 0, with_tail(src->size), malloc(READ_STEP), 0};
	struct archive *a = archive_read_new();
	struct archive_entry *ae;
	int r = 0, ar;

	if (!a || !rd.buf) {
		r = -ENOMEM;
		goto out;
	}
	archive_read_support_format_tar(a);
	archive_read_set_callback_data(a, &rd);
	archive_read_set_read_callback(a, read_cb);
	archive_read_set_skip_callback(a, skip_cb);
	if (archive_read_open1(a) != ARCHIVE_OK) {
		aur_err("%s: not a tar archive: %s", what,
			archive_error_string(a));
		r = -EINVAL;
		goto out;
	}
	while ((ar = archive_read_next_header(a, &ae)) == ARCHIVE_OK ||
	       ar == ARCHIVE_WARN) {
		uint64_t pos = (uint64_t)archive_filter_bytes(a, 0);
		struct entry *e = entries_add(l);

		if (!e) {
			r = -ENOMEM;
			goto out;
		}
		r = take_entry(ae, pos, src, what, e);
		if (r < 0) {
			l->n--;
			entry_free(e);
			goto out;
		}
	}
	if (ar != ARCHIVE_EOF) {
		aur_err("%s: broken tar: %s", what, archive_error_string(a));
		r = -EINVAL;
	}
out:
	if (a)
		archive_read_free(a);
	free(rd.buf);
	return r;
}

static int add_entry(struct aur_rootfs *fs, struct entry *e, const char *what)
{
	struct aur_fnode *n;

	if (e->hardlink)
		n = aur_rootfs_hardlink(fs, e->path, e->hardlink);
	else
		n = aur_rootfs_put(fs, e->path, &e->meta);
	if (!n) {
		int r = -errno;

		aur_err("%s: cannot add '%s'%s%s: %s", what, e->path,
			e->hardlink ? " as a hard link to " : "",
			e->hardlink ? e->hardlink : "", strerror(-r));
		return r == -ENOMEM ? r : -EINVAL;
	}
	for (size_t i = 0; i < e->nxattrs; i++) {
		int r = aur_rootfs_set_xattr(
			fs, (struct aur_fnode *)aur_fnode_inode(n),
			e->xattrs[i].name, e->xattrs[i].value,
			e->xattrs[i].len);

		if (r < 0)
			return r;
	}
	return 0;
}

int aur_rootfs_apply_layer(struct aur_rootfs *fs, struct aur_source *src,
			   void (*close)(struct aur_source *src),
			   const char *what)
{
	struct entries l = {0};
	int r = aur_rootfs_adopt_source(fs, src, close);

	if (r < 0) {
		if (close)
			close(src);
		return r;
	}
	r = read_entries(src, what, &l);
	/* opaque directories and whiteouts hide lower layers only: they go
	 * first, whatever their place in the tar */
	for (size_t i = 0; r == 0 && i < l.n; i++) {
		struct entry *e = &l.v[i];
		int q = 0;

		if (e->kind == OPAQUE_DIR)
			q = aur_rootfs_clear_dir(fs, e->path);
		if (q < 0 && q != -ENOENT) {
			aur_err("%s: opaque marker in '%s', which is not a "
				"directory",
				what, e->path);
			r = -EINVAL;
		}
	}
	for (size_t i = 0; r == 0 && i < l.n; i++) {
		struct entry *e = &l.v[i];
		int q = 0;

		if (e->kind == WHITEOUT_OF)
			q = aur_rootfs_remove(fs, e->path);
		if (q == -EINVAL) {
			aur_err("%s: whiteout '%s' is not a valid path", what,
				e->path);
			r = q;
		}
	}
	for (size_t i = 0; r == 0 && i < l.n; i++)
		if (l.v[i].kind == ADD)
			r = add_entry(fs, &l.v[i], what);
	for (size_t i = 0; i < l.n; i++)
		entry_free(&l.v[i]);
	free(l.v);
	return r;
}
