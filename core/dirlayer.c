// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * A directory tree snapshotted as a layer tar (dirlayer.h). libarchive
 * reads each entry's metadata from disk (xattrs included) and writes the
 * pax tar; the walk is ours, so that the order is the names' byte order.
 */
#include <aurora/dirlayer.h>
#include <aurora/log.h>
#include <aurora/util.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>
#include <openssl/evp.h>

#define COPY_STEP (1u << 20)
#define MAX_DEPTH 128

struct writer {
	int fd;
	uint64_t off;
	EVP_MD_CTX *md;
	int err;
};

struct snapshot {
	const char *dir;
	const char *const *exclude;
	struct archive *out;
	struct archive *disk;
	struct archive_entry_linkresolver *links;
	uint8_t *buf;
	const char *what;
};

static la_ssize_t write_cb(struct archive *a, void *ctx, const void *buf,
			   size_t n)
{
	struct writer *w = ctx;
	int r = aur_pwrite_full(w->fd, buf, n, w->off);

	if (r < 0) {
		w->err = r;
		archive_set_error(a, -r, "%s", strerror(-r));
		return -1;
	}
	w->off += n;
	EVP_DigestUpdate(w->md, buf, n);
	return (la_ssize_t)n;
}

static bool excluded(const struct snapshot *s, const char *rel)
{
	for (const char *const *e = s->exclude; e && *e; e++)
		if (strcmp(*e, rel) == 0)
			return true;
	return false;
}

static int byte_order(const struct dirent **a, const struct dirent **b)
{
	return strcmp((*a)->d_name, (*b)->d_name);
}

static int write_data(struct snapshot *s, const char *path,
		      struct archive_entry *e)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	uint64_t left = (uint64_t)archive_entry_size(e), off = 0;
	int r = 0;

	if (fd < 0)
		return -errno;
	while (r == 0 && left > 0) {
		ssize_t got = aur_pread_full(
			fd, s->buf, (size_t)AUR_MIN(left, COPY_STEP), off);

		if (got <= 0) {
			/* the file shrank under us: a snapshot of a tree
			 * being changed is not one */
			r = got < 0 ? (int)got : -EIO;
			break;
		}
		if (archive_write_data(s->out, s->buf, (size_t)got) != got)
			r = -EIO;
		off += (uint64_t)got;
		left -= (uint64_t)got;
	}
	close(fd);
	return r;
}

/* Write the header (and data) of one entry, hard links resolved; *@e
 * stays the caller's to free (the resolver may swap it). */
static int write_entry(struct snapshot *s, const char *path,
		       struct archive_entry **ep)
{
	struct archive_entry *spare = NULL, *e;
	int r = 0;

	archive_entry_linkify(s->links, ep, &spare);
	e = *ep;
	if (e) {
		if (archive_write_header(s->out, e) != ARCHIVE_OK) {
			aur_err("%s: cannot write '%s': %s", s->what, path,
				archive_error_string(s->out));
			return -EIO;
		}
		if (archive_entry_size(e) > 0 &&
		    archive_entry_filetype(e) == AE_IFREG &&
		    !archive_entry_hardlink(e))
			r = write_data(s, path, e);
	}
	archive_entry_free(spare);
	return r;
}

static int walk(struct snapshot *s, const char *rel, int depth);

static int add(struct snapshot *s, const char *rel, int depth)
{
	AUR_AUTOFREE char *path =
		*rel ? aur_printf("%s/%s", s->dir, rel) : strdup(s->dir);
	struct archive_entry *e;
	struct stat st;
	int r;

	if (!path)
		return -ENOMEM;
	if (lstat(path, &st) < 0) {
		r = -errno;
		aur_err("%s: '%s': %s", s->what, path, strerror(-r));
		return r;
	}
	e = archive_entry_new();
	if (!e)
		return -ENOMEM;
	archive_entry_copy_sourcepath(e, path);
	if (archive_read_disk_entry_from_file(s->disk, e, -1, &st) !=
	    ARCHIVE_OK) {
		aur_err("%s: cannot read '%s': %s", s->what, path,
			archive_error_string(s->disk));
		archive_entry_free(e);
		return -EIO;
	}
	archive_entry_copy_pathname(e, *rel ? rel : ".");
	/* only what the tree says, not when it was last looked at */
	archive_entry_unset_atime(e);
	archive_entry_unset_ctime(e);
	archive_entry_unset_birthtime(e);
	archive_entry_set_uname(e, NULL);
	archive_entry_set_gname(e, NULL);
	if (!S_ISREG(st.st_mode))
		archive_entry_set_size(e, 0);
	r = write_entry(s, path, &e);
	archive_entry_free(e);
	if (r == 0 && S_ISDIR(st.st_mode) && !excluded(s, rel))
		r = walk(s, rel, depth + 1);
	return r;
}

static int walk(struct snapshot *s, const char *rel, int depth)
{
	AUR_AUTOFREE char *path =
		*rel ? aur_printf("%s/%s", s->dir, rel) : strdup(s->dir);
	struct dirent **names = NULL;
	int n, r = 0;

	if (!path)
		return -ENOMEM;
	if (depth > MAX_DEPTH) {
		aur_err("%s: '%s' is nested too deep", s->what, path);
		return -ELOOP;
	}
	n = scandir(path, &names, NULL, byte_order);
	if (n < 0) {
		r = -errno;
		aur_err("%s: cannot list '%s': %s", s->what, path,
			strerror(-r));
		return r;
	}
	for (int i = 0; i < n; i++) {
		const char *name = names[i]->d_name;
		char *child;

		if (r == 0 && strcmp(name, ".") && strcmp(name, "..")) {
			child = *rel ? aur_printf("%s/%s", rel, name)
				     : strdup(name);
			r = child ? add(s, child, depth) : -ENOMEM;
			free(child);
		}
		free(names[i]);
	}
	free(names);
	return r;
}

/* An unnamed file in @dir, named only once complete (as in store.c). */
static int publish(int fd, const char *path)
{
	char proc[64];

	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
	if (linkat(AT_FDCWD, proc, AT_FDCWD, path, AT_SYMLINK_FOLLOW) < 0 &&
	    errno != EEXIST)
		return -errno;
	return 0; /* EEXIST: the same tree was stored before */
}

static int snapshot_into(struct snapshot *s, struct writer *w)
{
	int r;

	s->out = archive_write_new();
	s->disk = archive_read_disk_new();
	s->links = archive_entry_linkresolver_new();
	s->buf = malloc(COPY_STEP);
	if (!s->out || !s->disk || !s->links || !s->buf)
		return -ENOMEM;
	archive_read_disk_set_behavior(s->disk,
				       ARCHIVE_READDISK_NO_TRAVERSE_MOUNTS);
	archive_write_set_format_pax_restricted(s->out);
	archive_entry_linkresolver_set_strategy(
		s->links, ARCHIVE_FORMAT_TAR_PAX_RESTRICTED);
	archive_write_set_bytes_in_last_block(s->out, 1);
	if (archive_write_open2(s->out, w, NULL, write_cb, NULL, NULL) !=
	    ARCHIVE_OK)
		return -EIO;
	r = add(s, "", 0);
	if (archive_write_close(s->out) != ARCHIVE_OK && r == 0)
		r = w->err ? w->err : -EIO;
	return r;
}

int aur_dir_layer(const char *state_dir, const char *dir,
		  const char *const *exclude, char **path, char digest[65])
{
	AUR_AUTOFREE char *layers = aur_printf("%s/layers", state_dir);
	AUR_AUTOFREE char *what = aur_printf("snapshot of '%s'", dir);
	struct snapshot s = {.dir = dir, .exclude = exclude, .what = what};
	struct writer w = {-1, 0, EVP_MD_CTX_new(), 0};
	unsigned char d[32];
	int r;

	if (!layers || !what || !w.md ||
	    !EVP_DigestInit_ex(w.md, EVP_sha256(), NULL)) {
		EVP_MD_CTX_free(w.md);
		return -ENOMEM;
	}
	r = aur_mkdir_p(layers, 0755);
	if (r == 0) {
		w.fd = open(layers, O_TMPFILE | O_RDWR | O_CLOEXEC, 0644);
		if (w.fd < 0)
			r = -errno;
	}
	if (r < 0) {
		aur_err("%s: cannot write in '%s': %s", what, layers,
			strerror(-r));
		EVP_MD_CTX_free(w.md);
		return r;
	}
	r = snapshot_into(&s, &w);
	EVP_DigestFinal_ex(w.md, d, NULL);
	EVP_MD_CTX_free(w.md);
	if (s.out)
		archive_write_free(s.out);
	if (s.disk)
		archive_read_free(s.disk);
	archive_entry_linkresolver_free(s.links);
	free(s.buf);
	if (r == 0 && fsync(w.fd) < 0)
		r = -errno;
	if (r == 0) {
		aur_sha256_hex(d, digest);
		*path = aur_printf("%s/%s.tar", layers, digest);
		r = *path ? publish(w.fd, *path) : -ENOMEM;
		if (r < 0) {
			aur_err("%s: cannot store it: %s", what, strerror(-r));
			free(*path);
			*path = NULL;
		}
	} else if (r != -ENOMEM) {
		aur_err("%s: %s", what, strerror(-r));
	}
	close(w.fd);
	return r;
}
