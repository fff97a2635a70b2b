// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * iso.overlay_iso: a directory's entries as additions to an ISO
 * (overlay.h). Read once, when an ISO is built, into content-addressed
 * copies under <state_dir>/overlay/, so the ISO does not change (or break)
 * if the directory is edited while mounted. The copies are private to the
 * daemon (a 0700 directory, 0600 files: the same content may come from
 * files of different modes); the ISO gives each file its source's mode in
 * Rock Ridge.
 *
 * Like xorriso's -map, the directory is walked without following links: a
 * symbolic link becomes a Rock Ridge link with the same target, whatever
 * it points to (the overlay directory itself may be a link). Sockets,
 * devices and FIFOs are skipped.
 */
#include <aurora/isoedit.h>
#include <aurora/log.h>
#include <aurora/overlay.h>
#include <aurora/source.h>
#include <aurora/util.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#define OVERLAY_MAX_FILES 4096

struct overlay_file {
	char *path; /* in the ISO */
	bool is_dir;
	char *link; /* a symbolic link's target */
	struct aur_file_source content;
	uint32_t mode;
	time_t mtime;
};

struct aur_overlay {
	struct overlay_file *files;
	size_t nfiles;
};

/* ---- the overlay directory ---- */

static void overlay_release(struct aur_overlay *o)
{
	for (size_t i = 0; i < o->nfiles; i++) {
		free(o->files[i].path);
		free(o->files[i].link);
		aur_file_source_close(&o->files[i].content);
	}
	free(o->files);
	o->files = NULL;
	o->nfiles = 0;
}

/* Copy @fd into <state_dir>/overlay/<sha256> (once) and open the copy. */
static int snapshot(const char *state_dir, int fd, const char *what,
		    struct aur_file_source *out)
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	unsigned char d[32];
	char hex[65], buf[65536];
	AUR_AUTOFREE char *dir = aur_printf("%s/overlay", state_dir);
	AUR_AUTOFREE char *path = NULL;
	AUR_AUTOFREE char *tmp = NULL;
	int tfd = -1, r = 0;
	ssize_t n;

	if (!md || !dir || !EVP_DigestInit_ex(md, EVP_sha256(), NULL)) {
		EVP_MD_CTX_free(md);
		return -ENOMEM;
	}
	/* private: whoever reads state_dir must not read overlay files
	 * that their source did not let them read */
	r = aur_mkdir_p(dir, 0700);
	if (r == 0 && chmod(dir, 0700) < 0)
		r = -errno;
	tmp = aur_printf("%s/.tmp.%ld.%p", dir, (long)getpid(), (void *)out);
	if (r == 0 && !tmp)
		r = -ENOMEM;
	if (r == 0) {
		tfd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
		/* a leftover of an older version may exist with its mode */
		if (tfd < 0 || fchmod(tfd, 0600) < 0)
			r = -errno;
	}
	for (uint64_t off = 0; r == 0;) {
		n = pread(fd, buf, sizeof(buf), (off_t)off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			r = n < 0 ? -errno : 0;
			break;
		}
		r = EVP_DigestUpdate(md, buf, (size_t)n)
			    ? aur_pwrite_full(tfd, buf, (size_t)n, off)
			    : -ENOMEM;
		off += (uint64_t)n;
	}
	if (r == 0 && !EVP_DigestFinal_ex(md, d, NULL))
		r = -ENOMEM;
	EVP_MD_CTX_free(md);
	if (tfd >= 0 && close(tfd) < 0 && r == 0)
		r = -errno;
	if (r == 0) {
		aur_sha256_hex(d, hex);
		path = aur_printf("%s/%s", dir, hex);
		if (!path)
			r = -ENOMEM;
	}
	if (r == 0 && rename(tmp, path) < 0)
		r = -errno;
	if (r < 0) {
		if (tmp)
			unlink(tmp);
		aur_err("overlay file '%s': %s", what, strerror(-r));
		return r;
	}
	return aur_file_source_open(out, path);
}

static int overlay_add(struct aur_overlay *o, const char *iso_path,
		       const struct stat *st, const char *link)
{
	struct overlay_file *v;

	if (o->nfiles == OVERLAY_MAX_FILES) {
		aur_err("iso.overlay_iso: more than %d entries",
			OVERLAY_MAX_FILES);
		return -E2BIG;
	}
	v = realloc(o->files, (o->nfiles + 1) * sizeof(*v));
	if (!v)
		return -ENOMEM;
	o->files = v;
	v = &v[o->nfiles];
	memset(v, 0, sizeof(*v));
	v->content.fd = -1;
	v->path = strdup(iso_path);
	v->link = link ? strdup(link) : NULL;
	if (!v->path || (link && !v->link)) {
		free(v->path);
		free(v->link);
		return -ENOMEM;
	}
	v->is_dir = S_ISDIR(st->st_mode);
	v->mode = st->st_mode;
	v->mtime = st->st_mtime;
	o->nfiles++;
	return 0;
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int overlay_scan(struct aur_overlay *o, const char *state_dir, int dfd,
			const char *dir, const char *iso_dir, int depth);

/* Add entry @name of the directory @dfd (@dir in messages). */
static int overlay_entry(struct aur_overlay *o, const char *state_dir, int dfd,
			 const char *dir, const char *name, const char *iso_dir,
			 int depth)
{
	AUR_AUTOFREE char *path = aur_printf("%s/%s", dir, name);
	AUR_AUTOFREE char *ipath = aur_printf("%s/%s", iso_dir, name);
	char target[PATH_MAX + 1];
	struct stat st, fst;
	ssize_t n;
	int fd, r;

	if (!path || !ipath)
		return -ENOMEM;
	if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		goto fail;
	if (S_ISLNK(st.st_mode)) {
		/* recorded as a link, never followed */
		n = readlinkat(dfd, name, target, sizeof(target));
		if (n < 0)
			goto fail;
		if ((size_t)n >= sizeof(target) || n == 0) {
			errno = ENAMETOOLONG;
			goto fail;
		}
		target[n] = '\0';
		return overlay_add(o, ipath, &st, target);
	}
	if (!S_ISDIR(st.st_mode) && !S_ISREG(st.st_mode)) {
		aur_debug("overlay file '%s': not a file, directory or link; "
			  "skipped",
			  path);
		return 0; /* sockets, devices, FIFOs: nothing for a CD */
	}
	/* O_NOFOLLOW and a second look at what was opened: a link or
	 * another file swapped in after the fstatat is refused */
	fd = openat(dfd, name,
		    O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK |
			    (S_ISDIR(st.st_mode) ? O_DIRECTORY : 0));
	if (fd < 0)
		goto fail;
	if (fstat(fd, &fst) < 0 || fst.st_ino != st.st_ino ||
	    fst.st_dev != st.st_dev ||
	    (fst.st_mode & S_IFMT) != (st.st_mode & S_IFMT)) {
		close(fd);
		aur_err("overlay file '%s': changed while it was read", path);
		return -EAGAIN;
	}
	r = overlay_add(o, ipath, &fst, NULL);
	if (r < 0) {
		close(fd);
		return r;
	}
	if (S_ISDIR(fst.st_mode))
		return overlay_scan(o, state_dir, fd, path, ipath, depth + 1);
	r = snapshot(state_dir, fd, path, &o->files[o->nfiles - 1].content);
	close(fd);
	return r;
fail:
	r = -errno;
	aur_err("overlay file '%s': %s", path, strerror(-r));
	return r;
}

/* Add the entries of the directory @dfd (taken; @dir is its path, for
 * messages) as @iso_dir (ISO path), sorted so that the result does not
 * depend on readdir order. */
static int overlay_scan(struct aur_overlay *o, const char *state_dir, int dfd,
			const char *dir, const char *iso_dir, int depth)
{
	DIR *d = fdopendir(dfd);
	char **names = NULL;
	size_t n = 0;
	struct dirent *de;
	int r = 0;

	if (!d) {
		r = -errno;
		close(dfd);
		aur_err("overlay directory '%s': %s", dir, strerror(-r));
		return r;
	}
	if (depth > 32) {
		closedir(d);
		aur_err("overlay directory '%s': nested too deep", dir);
		return -ELOOP;
	}
	errno = 0;
	while ((de = readdir(d))) {
		char **v;

		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		v = realloc(names, (n + 1) * sizeof(*v));
		if (!v) {
			r = -ENOMEM;
			break;
		}
		names = v;
		names[n] = strdup(de->d_name);
		if (!names[n]) {
			r = -ENOMEM;
			break;
		}
		n++;
		errno = 0;
	}
	if (r == 0 && errno) {
		r = -errno;
		aur_err("overlay directory '%s': %s", dir, strerror(-r));
	}
	if (r == 0 && n) /* an empty directory has no names at all */
		qsort(names, n, sizeof(*names), name_cmp);
	for (size_t i = 0; i < n && r == 0; i++)
		r = overlay_entry(o, state_dir, dirfd(d), dir, names[i],
				  iso_dir, depth);
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	closedir(d);
	return r;
}

int aur_overlay_load(const char *state_dir, const char *dir,
		     struct aur_overlay **out)
{
	struct aur_overlay *o = calloc(1, sizeof(*o));
	/* the overlay directory itself may be a link */
	int dfd, r;

	if (!o)
		return -ENOMEM;
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0) {
		r = -errno;
		aur_err("overlay directory '%s': %s", dir, strerror(-r));
		free(o);
		return r;
	}
	r = overlay_scan(o, state_dir, dfd, dir, "", 0);
	if (r < 0) {
		aur_overlay_free(o);
		return r;
	}
	*out = o;
	return 0;
}

size_t aur_overlay_count(const struct aur_overlay *o)
{
	return o ? o->nfiles : 0;
}

time_t aur_overlay_additions(const struct aur_overlay *o,
			     struct aur_iso_addition *adds)
{
	time_t newest = 0;

	for (size_t i = 0; o && i < o->nfiles; i++) {
		const struct overlay_file *f = &o->files[i];
		bool has_content = f->content.fd >= 0;

		adds[i] = (struct aur_iso_addition){
			.path = f->path,
			.is_dir = f->is_dir,
			.src = has_content
				       ? (struct aur_source *)&f->content.src
				       : NULL,
			.size = has_content ? f->content.src.size : 0,
			.mode = f->mode,
			.mtime = f->mtime,
			.link = f->link,
		};
		if (f->mtime > newest)
			newest = f->mtime;
	}
	return newest;
}

void aur_overlay_free(struct aur_overlay *o)
{
	if (!o)
		return;
	overlay_release(o);
	free(o);
}
