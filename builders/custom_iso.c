// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * /iso/<name>.custom.iso: the base ISO with the rendered cloud-config at
 * /config.yaml and the files of iso.overlay_iso added or replaced - what
 * AuroraBoot makes with "xorriso -map ... -boot_image any replay", built
 * here as a view of the base (isoedit.h) without copying it.
 *
 * Overlay files are read once, when the custom ISO is built, into
 * content-addressed copies under <state_dir>/overlay/, so the ISO does not
 * change (or break) if the overlay directory is edited while mounted. The
 * copies are private to the daemon (a 0700 directory, 0600 files: the
 * same content may come from files of different modes); the ISO gives
 * each file its source's mode in Rock Ridge.
 *
 * Like xorriso's -map, the overlay is walked without following links: a
 * symbolic link becomes a Rock Ridge link with the same target, whatever
 * it points to (the overlay directory itself may be a link). Sockets,
 * devices and FIFOs are skipped.
 */
#include <aurora/builder.h>
#include <aurora/config.h>
#include <aurora/extmap.h>
#include <aurora/isoedit.h>
#include <aurora/log.h>
#include <aurora/source.h>
#include <aurora/tree.h>
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

/* What one build of the custom ISO owns. */
struct custom_image {
	struct aur_extmap_source base;
	struct aur_iso_edit *edit;
	struct aur_mem_source config;
	struct overlay_file *files;
	size_t nfiles;
};

struct custom_iso {
	struct aur_build_ctx *bctx;
	struct aur_node *node; /* set once added (it waits for the name) */
};

/* ---- the overlay directory ---- */

static void overlay_release(struct custom_image *ci)
{
	for (size_t i = 0; i < ci->nfiles; i++) {
		free(ci->files[i].path);
		free(ci->files[i].link);
		aur_file_source_close(&ci->files[i].content);
	}
	free(ci->files);
	ci->files = NULL;
	ci->nfiles = 0;
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

static int overlay_add(struct custom_image *ci, const char *iso_path,
		       const struct stat *st, const char *link)
{
	struct overlay_file *v;

	if (ci->nfiles == OVERLAY_MAX_FILES) {
		aur_err("iso.overlay_iso: more than %d entries",
			OVERLAY_MAX_FILES);
		return -E2BIG;
	}
	v = realloc(ci->files, (ci->nfiles + 1) * sizeof(*v));
	if (!v)
		return -ENOMEM;
	ci->files = v;
	v = &v[ci->nfiles];
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
	ci->nfiles++;
	return 0;
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int overlay_scan(struct custom_image *ci, const char *state_dir, int dfd,
			const char *dir, const char *iso_dir, int depth);

/* Add entry @name of the directory @dfd (@dir in messages). */
static int overlay_entry(struct custom_image *ci, const char *state_dir,
			 int dfd, const char *dir, const char *name,
			 const char *iso_dir, int depth)
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
		return overlay_add(ci, ipath, &st, target);
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
	r = overlay_add(ci, ipath, &fst, NULL);
	if (r < 0) {
		close(fd);
		return r;
	}
	if (S_ISDIR(fst.st_mode))
		return overlay_scan(ci, state_dir, fd, path, ipath, depth + 1);
	r = snapshot(state_dir, fd, path, &ci->files[ci->nfiles - 1].content);
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
static int overlay_scan(struct custom_image *ci, const char *state_dir, int dfd,
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
		r = overlay_entry(ci, state_dir, dirfd(d), dir, names[i],
				  iso_dir, depth);
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	closedir(d);
	return r;
}

/* ---- the image ---- */

static void custom_release(void *ctx, struct aur_image *img)
{
	struct custom_image *ci = img->priv;

	if (!ci)
		return;
	aur_iso_edit_free(ci->edit);
	overlay_release(ci);
	free(ci);
	img->priv = NULL;
}

static int custom_build(void *ctx, struct aur_image *img)
{
	struct custom_iso *cu = ctx;
	struct aur_build_ctx *b = cu->bctx;
	const char *overlay = b->cfg->iso.overlay_iso;
	struct aur_iso_addition *adds = NULL;
	struct custom_image *ci = calloc(1, sizeof(*ci));
	const struct aur_image *base;
	size_t n = 0;
	int r;

	if (!ci)
		return -ENOMEM;
	img->priv = ci;
	r = aur_product_image(b, AUR_PRODUCT_BASE_ISO, &base);
	if (r < 0)
		return r;
	aur_extmap_source_init(&ci->base, &base->map);
	img->mtime = base->mtime;
	if (overlay && *overlay) {
		/* the overlay directory itself may be a link */
		int dfd = open(overlay, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

		if (dfd < 0) {
			aur_err("overlay directory '%s': %s", overlay,
				strerror(errno));
			return -EIO;
		}
		r = overlay_scan(ci, b->state_dir, dfd, overlay, "", 0);
		if (r < 0)
			return -EIO;
	}
	adds = calloc(ci->nfiles + 1, sizeof(*adds));
	if (!adds)
		return -ENOMEM;
	for (size_t i = 0; i < ci->nfiles; i++) {
		struct overlay_file *f = &ci->files[i];

		bool has_content = f->content.fd >= 0;

		adds[n++] = (struct aur_iso_addition){
			.path = f->path,
			.is_dir = f->is_dir,
			.src = has_content ? &f->content.src : NULL,
			.size = has_content ? f->content.src.size : 0,
			.mode = f->mode,
			.mtime = f->mtime,
			.link = f->link,
		};
		if (f->mtime > img->mtime)
			img->mtime = f->mtime;
	}
	if (b->cloud_config) {
		/* after the overlay: the cloud-config wins over a config.yaml
		 * that the overlay may carry */
		aur_mem_source_init(&ci->config, b->cloud_config,
				    b->cloud_config_len);
		adds[n++] = (struct aur_iso_addition){
			.path = "/config.yaml",
			.src = &ci->config.src,
			.size = b->cloud_config_len,
			.mode = S_IFREG | 0644,
			.mtime = img->mtime,
		};
	}
	r = aur_iso_edit(&ci->base.src, ci->base.src.size, cu->node->name, adds,
			 n, &img->map, &ci->edit);
	/* the file's mtime (not its bytes) follows the cloud-config too */
	if (b->cloud_config && b->cloud_config_mtime > img->mtime)
		img->mtime = b->cloud_config_mtime;
	free(adds);
	return r == -EINVAL ? -EIO : r;
}

static const struct aur_file_ops custom_ops = {
	.build = custom_build,
	.release = custom_release,
};

static int add_files(struct aur_build_ctx *ctx)
{
	const char *overlay = ctx->cfg->iso.overlay_iso;
	struct custom_iso *cu;
	int r;

	if (!ctx->cloud_config && !(overlay && *overlay)) {
		aur_info("no cloud-config and no iso.overlay_iso: no custom "
			 "ISO");
		return 0;
	}
	cu = calloc(1, sizeof(*cu));
	if (!cu)
		return -ENOMEM;
	cu->bctx = ctx;
	r = aur_tree_on_free(ctx->tree, free, cu);
	if (r < 0) {
		free(cu);
		return r;
	}
	r = aur_named_file_add(ctx, "/iso/%s.custom.iso", &custom_ops, cu,
			       &cu->node);
	if (r == 0)
		r = aur_checksum_file_add(ctx, "/iso/%s.custom.iso", &cu->node,
					  NULL, NULL);
	return r;
}

const struct aur_builder aur_builder_custom_iso = {
	.name = "custom-iso",
	.needs = AUR_NEEDS(AUR_PRODUCT_BASE_ISO),
	.add_files = add_files,
};
