// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Images on disk: an OCI image layout directory (oci-layout, index.json,
 * blobs/sha256/<hex>), the same layout inside a tar (an OCI archive), and
 * a docker-archive (docker save: manifest.json naming a config and layer
 * tars; Docker 25 writes both kinds in one tar).
 *
 * Layouts are read through openat2(RESOLVE_BENEATH): no blob path, even
 * through a symlink, leads out of the directory. Archive member names
 * must be relative without "..", and archives are read with libarchive,
 * one pass for the documents each and one pass for all missing layers.
 */
#include "oci_i.h"

#include <aurora/log.h>
#include <aurora/util.h>

#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>

#define READ_STEP (1u << 20)
#define ALIAS_PASSES 3

struct aur_oci_local {
	bool layout; /* a directory, else a tarball */
	char *path; /* for messages */
	int fd; /* the directory, or the tarball */
};

/* One layer wanted from the image: where it is and what it must be. */
struct want {
	char *member; /* archive member or layout path */
	const char *blob_digest; /* NULL for docker-archive members */
	const char *diff_id;
	bool done;
};

char *aur_oci_member_name(const char *name)
{
	const char *p = name;

	while (aur_startswith(p, "./"))
		p += 2;
	if (!*p || *p == '/' || strlen(p) > 4096)
		return NULL;
	for (const char *c = p; *c;) {
		size_t n = strcspn(c, "/");

		if (n == 0 || (n == 2 && c[0] == '.' && c[1] == '.') ||
		    (n == 1 && c[0] == '.'))
			return NULL;
		c += n;
		if (*c == '/')
			c++;
	}
	return strdup(p);
}

static char *blob_name(const char *digest)
{
	return aur_printf("blobs/sha256/%s", digest + 7);
}

/* ---- opening ---- */

int aur_oci_layout_open(const char *dir, struct aur_oci_local **out,
			char err[AUR_OCI_ERRLEN])
{
	struct aur_oci_local *l = calloc(1, sizeof(*l));
	struct stat st;

	if (!l)
		return -ENOMEM;
	l->layout = true;
	l->path = strdup(dir);
	l->fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (!l->path || l->fd < 0) {
		int r = l->path ? -errno : -ENOMEM;

		snprintf(err, AUR_OCI_ERRLEN, "'%s': %s", dir, strerror(-r));
		aur_oci_local_free(l);
		return r;
	}
	if (fstatat(l->fd, "oci-layout", &st, 0) < 0) {
		snprintf(err, AUR_OCI_ERRLEN,
			 "'%s' is not an OCI image layout (no oci-layout file)",
			 dir);
		aur_oci_local_free(l);
		return -ENOENT;
	}
	*out = l;
	return 0;
}

int aur_oci_archive_open(const char *path, struct aur_oci_local **out,
			 char err[AUR_OCI_ERRLEN])
{
	struct aur_oci_local *l = calloc(1, sizeof(*l));
	struct stat st;

	if (!l)
		return -ENOMEM;
	l->path = strdup(path);
	l->fd = open(path, O_RDONLY | O_CLOEXEC);
	if (!l->path || l->fd < 0) {
		int r = l->path ? -errno : -ENOMEM;

		snprintf(err, AUR_OCI_ERRLEN, "'%s': %s", path, strerror(-r));
		aur_oci_local_free(l);
		return r;
	}
	if (fstat(l->fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		snprintf(err, AUR_OCI_ERRLEN, "'%s' is not a file", path);
		aur_oci_local_free(l);
		return -EINVAL;
	}
	*out = l;
	return 0;
}

int aur_oci_archive_from_fd(int fd, const char *name,
			    struct aur_oci_local **out,
			    char err[AUR_OCI_ERRLEN])
{
	struct aur_oci_local *l = calloc(1, sizeof(*l));

	if (l)
		l->path = aur_printf("docker-archive of %s", name);
	if (!l || !l->path) {
		free(l);
		close(fd);
		snprintf(err, AUR_OCI_ERRLEN, "out of memory");
		return -ENOMEM;
	}
	l->fd = fd;
	*out = l;
	return 0;
}

void aur_oci_local_free(struct aur_oci_local *l)
{
	if (!l)
		return;
	if (l->fd >= 0)
		close(l->fd);
	free(l->path);
	free(l);
}

/* ---- layout files ---- */

static int open_beneath(int dirfd, const char *name)
{
	struct open_how how = {
		.flags = O_RDONLY | O_CLOEXEC,
		.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS,
	};
	long fd = syscall(SYS_openat2, dirfd, name, &how, sizeof(how));

	if (fd < 0 && errno == ENOSYS) {
		/* before Linux 5.6: no symlinks at all */
		fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	}
	return fd < 0 ? -errno : (int)fd;
}

/* ---- archive scanning ---- */

static struct archive *archive_start(struct aur_oci_local *l,
				     char err[AUR_OCI_ERRLEN])
{
	struct archive *a = archive_read_new();

	if (!a)
		return NULL;
	archive_read_support_format_tar(a);
	archive_read_support_format_gnutar(a);
	archive_read_support_filter_all(a);
	if (lseek(l->fd, 0, SEEK_SET) < 0 ||
	    archive_read_open_fd(a, l->fd, 64 << 10) != ARCHIVE_OK) {
		snprintf(err, AUR_OCI_ERRLEN, "'%s': %s", l->path,
			 archive_error_string(a) ? archive_error_string(a)
						 : "cannot read");
		archive_read_free(a);
		return NULL;
	}
	return a;
}

/* Next member whose name is safe; 1 at the end, <0 on errors. Unsafe
 * names are errors: a hostile archive is refused whole. */
/* "", ".", "./", ".//.": the archive's own root directory */
static bool is_root(const char *name)
{
	return name[strspn(name, "./")] == '\0' && !strstr(name, "..");
}

static int archive_next(struct archive *a, struct aur_oci_local *l,
			struct archive_entry **e, char **name,
			char err[AUR_OCI_ERRLEN])
{
	const char *raw;
	int ar;

	*name = NULL;
	do {
		ar = archive_read_next_header(a, e);
		if (ar == ARCHIVE_EOF)
			return 1;
		if (ar != ARCHIVE_OK && ar != ARCHIVE_WARN) {
			snprintf(err, AUR_OCI_ERRLEN, "'%s': %s", l->path,
				 archive_error_string(a));
			return -EBADMSG;
		}
		raw = archive_entry_pathname(*e) ? archive_entry_pathname(*e)
						 : "";
	} while (archive_entry_filetype(*e) == AE_IFDIR && *raw &&
		 is_root(raw));
	*name = aur_oci_member_name(raw);
	if (!*name) {
		snprintf(err, AUR_OCI_ERRLEN,
			 "'%s': unsafe member name '%.200s'", l->path, raw);
		return -EBADMSG;
	}
	return 0;
}

static int archive_data(struct archive *a, struct aur_oci_local *l,
			aur_fetch_sink sink, void *ctx,
			char err[AUR_OCI_ERRLEN])
{
	const void *buf;
	size_t len;
	la_int64_t off;
	int ar, r;

	while ((ar = archive_read_data_block(a, &buf, &len, &off)) ==
	       ARCHIVE_OK) {
		r = sink(ctx, buf, len);
		if (r < 0)
			return r;
	}
	if (ar != ARCHIVE_EOF) {
		snprintf(err, AUR_OCI_ERRLEN, "'%s': %s", l->path,
			 archive_error_string(a));
		return -EBADMSG;
	}
	return 0;
}

/* ---- small documents ---- */

struct membuf {
	char *p;
	size_t n, max;
};

static int membuf_sink(void *ctx, const void *buf, size_t len)
{
	struct membuf *m = ctx;
	char *q;

	if (m->n + len > m->max)
		return -EFBIG;
	q = realloc(m->p, m->n + len + 1);
	if (!q)
		return -ENOMEM;
	memcpy(q + m->n, buf, len);
	m->p = q;
	m->n += len;
	m->p[m->n] = '\0';
	return 0;
}

/* Read member or layout file @name (at most @max bytes). -ENOENT if it
 * is not there. */
static int read_small(struct aur_oci_local *l, const char *name, size_t max,
		      char **buf, size_t *len, char err[AUR_OCI_ERRLEN])
{
	struct membuf m = {.max = max};
	struct archive *a;
	int r = -ENOENT;

	if (l->layout) {
		int fd = open_beneath(l->fd, name);

		if (fd < 0) {
			snprintf(err, AUR_OCI_ERRLEN, "'%s/%s': %s", l->path,
				 name, strerror(-fd));
			return fd;
		}
		r = aur_read_fd(fd, max, buf, len);
		close(fd);
		if (r < 0)
			snprintf(err, AUR_OCI_ERRLEN, "'%s/%s': %s", l->path,
				 name, strerror(-r));
		return r;
	}
	a = archive_start(l, err);
	if (!a)
		return -EBADMSG;
	for (;;) {
		struct archive_entry *e;
		char *n;
		int k = archive_next(a, l, &e, &n, err);

		if (k != 0) {
			r = k < 0 ? k : -ENOENT;
			break;
		}
		k = strcmp(n, name);
		free(n);
		if (k != 0)
			continue;
		r = archive_data(a, l, membuf_sink, &m, err);
		break;
	}
	archive_read_free(a);
	if (r == -EFBIG)
		snprintf(err, AUR_OCI_ERRLEN, "'%s': %s is over %zu bytes",
			 l->path, name, max);
	else if (r == -ENOENT)
		snprintf(err, AUR_OCI_ERRLEN, "'%s': no member %s", l->path,
			 name);
	if (r == 0 && !m.p && !(m.p = strdup("")))
		r = -ENOMEM;
	if (r < 0) {
		free(m.p);
		return r;
	}
	*buf = m.p;
	*len = m.n;
	return 0;
}

/* A blob by digest, verified. */
static int read_blob(struct aur_oci_local *l, const char *digest, size_t max,
		     char **buf, size_t *len, char err[AUR_OCI_ERRLEN])
{
	AUR_AUTOFREE char *name = blob_name(digest);
	unsigned char d[32];
	char hex[65];
	int r;

	if (!name)
		return -ENOMEM;
	r = read_small(l, name, max, buf, len, err);
	if (r < 0)
		return r;
	aur_sha256(*buf, *len, d);
	aur_sha256_hex(d, hex);
	if (strcmp(hex, digest + 7) != 0) {
		snprintf(err, AUR_OCI_ERRLEN,
			 "'%s': blob %s does not match its digest", l->path,
			 digest);
		free(*buf);
		*buf = NULL;
		return -EBADMSG;
	}
	return 0;
}

/* ---- storing layers ---- */

struct layout_feed {
	int fd;
	const char *path;
};

static int layout_feed(void *ctx, aur_fetch_sink sink, void *sink_ctx,
		       char err[AUR_OCI_ERRLEN])
{
	struct layout_feed *f = ctx;
	uint8_t *buf = malloc(READ_STEP);
	uint64_t off = 0;
	int r = 0;

	if (!buf)
		return -ENOMEM;
	for (;;) {
		ssize_t n = aur_pread_full(f->fd, buf, READ_STEP, off);

		if (n < 0) {
			r = (int)n;
			snprintf(err, AUR_OCI_ERRLEN, "'%s': %s", f->path,
				 strerror(-r));
			break;
		}
		if (n == 0)
			break;
		r = sink(sink_ctx, buf, (size_t)n);
		if (r < 0)
			break;
		off += (uint64_t)n;
	}
	free(buf);
	return r;
}

struct archive_feed {
	struct archive *a;
	struct aur_oci_local *l;
};

static int archive_feed(void *ctx, aur_fetch_sink sink, void *sink_ctx,
			char err[AUR_OCI_ERRLEN])
{
	struct archive_feed *f = ctx;

	return archive_data(f->a, f->l, sink, sink_ctx, err);
}

static int store_one(const char *state_dir, struct want *w,
		     aur_oci_feed_fn feed, void *ctx,
		     struct aur_oci_progress *prog, struct aur_oci_layer *layer,
		     char err[AUR_OCI_ERRLEN])
{
	bool fetched;
	int r = aur_oci_store_layer(state_dir, w->diff_id, w->blob_digest, feed,
				    ctx, prog, layer, &fetched, err);

	if (r == 0) {
		w->done = true;
		if (fetched)
			aur_debug("layer %s stored from %s", w->diff_id,
				  w->member);
	}
	return r;
}

static int store_from_layout(struct aur_oci_local *l, struct want *w, size_t n,
			     const char *state_dir,
			     struct aur_oci_progress *prog,
			     struct aur_oci_layer *layers,
			     char err[AUR_OCI_ERRLEN])
{
	for (size_t i = 0; i < n; i++) {
		AUR_AUTOFREE char *path =
			aur_printf("%s/%s", l->path, w[i].member);
		struct layout_feed f = {.path = path};
		int r;

		if (w[i].done)
			continue;
		if (!path)
			return -ENOMEM;
		f.fd = open_beneath(l->fd, w[i].member);
		if (f.fd < 0) {
			snprintf(err, AUR_OCI_ERRLEN, "'%s': %s", path,
				 strerror(-f.fd));
			return f.fd;
		}
		r = store_one(state_dir, &w[i], layout_feed, &f, prog,
			      &layers[i], err);
		close(f.fd);
		if (r < 0)
			return r;
	}
	return 0;
}

/* A link member standing for a layer (older docker save links repeated
 * layers): the member it points at, as a safe name. */
static char *link_target(struct archive_entry *e, const char *name)
{
	const char *hard = archive_entry_hardlink(e);
	const char *sym = archive_entry_symlink(e);
	const char *slash = strrchr(name, '/');
	char *joined, *safe;

	if (hard)
		return aur_oci_member_name(hard);
	if (!sym)
		return NULL;
	if (!slash)
		return aur_oci_member_name(sym);
	/* resolve one "../" against the member's directory */
	if (aur_startswith(sym, "../")) {
		const char *up = name;
		const char *prev = NULL;

		for (const char *p = name; p < slash; p++)
			if (*p == '/')
				prev = p;
		joined = prev ? aur_printf("%.*s/%s", (int)(prev - up), up,
					   sym + 3)
			      : strdup(sym + 3);
	} else {
		joined = aur_printf("%.*s/%s", (int)(slash - name), name, sym);
	}
	safe = joined ? aur_oci_member_name(joined) : NULL;
	free(joined);
	return safe;
}

/* One pass over the tarball storing every wanted layer it meets; links
 * to other members are noted so a further pass can read their target. */
static int store_pass(struct aur_oci_local *l, struct want *w, size_t n,
		      const char *state_dir, struct aur_oci_progress *prog,
		      struct aur_oci_layer *layers, bool *aliased,
		      char err[AUR_OCI_ERRLEN])
{
	struct archive *a = archive_start(l, err);
	int r = 0;

	*aliased = false;
	if (!a)
		return -EBADMSG;
	for (;;) {
		struct archive_entry *e;
		char *name;
		int k = archive_next(a, l, &e, &name, err);

		if (k != 0) {
			r = k < 0 ? k : 0;
			break;
		}
		for (size_t i = 0; i < n && r == 0; i++) {
			struct archive_feed f = {.a = a, .l = l};
			char *target;

			if (w[i].done || strcmp(w[i].member, name) != 0)
				continue;
			if (archive_entry_filetype(e) == AE_IFREG &&
			    !archive_entry_hardlink(e)) {
				r = store_one(state_dir, &w[i], archive_feed,
					      &f, prog, &layers[i], err);
				break;
			}
			target = link_target(e, name);
			if (!target) {
				snprintf(err, AUR_OCI_ERRLEN,
					 "'%s': layer member %s is not a file",
					 l->path, name);
				r = -EBADMSG;
				break;
			}
			free(w[i].member);
			w[i].member = target;
			*aliased = true;
		}
		free(name);
		if (r < 0)
			break;
	}
	archive_read_free(a);
	return r;
}

static int store_from_archive(struct aur_oci_local *l, struct want *w, size_t n,
			      const char *state_dir,
			      struct aur_oci_progress *prog,
			      struct aur_oci_layer *layers,
			      char err[AUR_OCI_ERRLEN])
{
	bool aliased = true;
	int r = 0;

	for (int pass = 0; pass < ALIAS_PASSES && aliased && r == 0; pass++)
		r = store_pass(l, w, n, state_dir, prog, layers, &aliased, err);
	for (size_t i = 0; i < n && r == 0; i++) {
		if (!w[i].done) {
			snprintf(err, AUR_OCI_ERRLEN,
				 "'%s': no layer member %s", l->path,
				 w[i].member);
			r = -ENOENT;
		}
	}
	return r;
}

/* ---- resolving the image ---- */

/* OCI index.json -> (index ->) manifest, for the platform. */
static int resolve_oci(struct aur_oci_local *l, const char *tag,
		       const struct aur_oci_platform *want,
		       struct aur_oci_manifest *m, struct aur_oci_image *img,
		       char err[AUR_OCI_ERRLEN])
{
	AUR_AUTOFREE char *index = NULL;
	struct aur_oci_desc d;
	size_t len;
	int r;

	r = read_small(l, "index.json", AUR_OCI_MANIFEST_MAX, &index, &len,
		       err);
	if (r < 0)
		return r;
	r = aur_oci_index_find_tag(index, len, tag, &d, err);
	for (int depth = 0; r == 0; depth++) {
		AUR_AUTOFREE char *doc = NULL;
		enum aur_oci_doc_kind kind;

		if (depth == 4) {
			snprintf(err, AUR_OCI_ERRLEN,
				 "indexes nested too deep");
			return -EBADMSG;
		}
		r = read_blob(l, d.digest, AUR_OCI_MANIFEST_MAX, &doc, &len,
			      err);
		if (r == 0)
			r = aur_oci_doc_kind(doc, len, d.media_type, &kind,
					     err);
		if (r < 0)
			break;
		if (kind == AUR_OCI_DOC_MANIFEST) {
			snprintf(img->manifest_digest,
				 sizeof(img->manifest_digest), "%s", d.digest);
			return aur_oci_manifest_parse(doc, len, m, err);
		}
		r = aur_oci_index_select(doc, len, want, &d, err);
	}
	return r;
}

static int set_config(struct aur_oci_image *img, const char *digest,
		      const char *json, size_t len, size_t nlayers,
		      const struct aur_oci_platform *want,
		      struct aur_oci_config *c, char err[AUR_OCI_ERRLEN])
{
	int r = aur_oci_image_set_config(img, digest, json, len, c, err);

	if (r < 0)
		return r;
	if (c->ndiff_ids != nlayers) {
		snprintf(err, AUR_OCI_ERRLEN,
			 "the manifest has %zu layers, the config %zu diff_ids",
			 nlayers, c->ndiff_ids);
		return -EBADMSG;
	}
	if (strcmp(c->platform.arch, want->arch) != 0)
		aur_warn("image '%s' is %s/%s, not the %s asked for",
			 img->source, c->platform.os, c->platform.arch,
			 want->arch);
	return 0;
}

static int wants_oci(struct aur_oci_local *l, const char *tag,
		     const struct aur_oci_platform *want,
		     struct aur_oci_image *img, struct aur_oci_config *c,
		     struct want **wv, struct aur_oci_progress *prog,
		     char err[AUR_OCI_ERRLEN])
{
	struct aur_oci_manifest m;
	AUR_AUTOFREE char *cfg = NULL;
	size_t len;
	int r = resolve_oci(l, tag, want, &m, img, err);

	if (r < 0)
		return r;
	r = read_blob(l, m.config.digest, AUR_OCI_CONFIG_MAX, &cfg, &len, err);
	if (r == 0)
		r = set_config(img, m.config.digest, cfg, len, m.nlayers, want,
			       c, err);
	if (r == 0 && !(*wv = calloc(m.nlayers, sizeof(**wv))))
		r = -ENOMEM;
	for (size_t i = 0; r == 0 && i < m.nlayers; i++) {
		(*wv)[i].member = blob_name(m.layers[i].digest);
		(*wv)[i].blob_digest = strdup(m.layers[i].digest);
		(*wv)[i].diff_id = c->diff_ids[i];
		if (!(*wv)[i].member || !(*wv)[i].blob_digest)
			r = -ENOMEM;
		prog->total += m.layers[i].size;
	}
	aur_oci_manifest_release(&m);
	return r;
}

static int wants_docker(struct aur_oci_local *l, const char *json, size_t len,
			const struct aur_oci_platform *want,
			struct aur_oci_image *img, struct aur_oci_config *c,
			struct want **wv, char err[AUR_OCI_ERRLEN])
{
	struct aur_oci_docker_archive d;
	AUR_AUTOFREE char *cfg = NULL;
	char digest[AUR_OCI_DIGEST_LEN], hex[65];
	unsigned char sum[32];
	size_t clen;
	int r = aur_oci_docker_manifest_parse(json, len, NULL, &d, err);

	if (r < 0)
		return r;
	r = read_small(l, d.config, AUR_OCI_CONFIG_MAX, &cfg, &clen, err);
	if (r == 0) {
		aur_sha256(cfg, clen, sum);
		aur_sha256_hex(sum, hex);
		snprintf(digest, sizeof(digest), "sha256:%s", hex);
		r = set_config(img, digest, cfg, clen, d.nlayers, want, c, err);
	}
	if (r == 0 && !(*wv = calloc(d.nlayers, sizeof(**wv))))
		r = -ENOMEM;
	for (size_t i = 0; r == 0 && i < d.nlayers; i++) {
		(*wv)[i].member = d.layers[i];
		(*wv)[i].diff_id = c->diff_ids[i];
		d.layers[i] = NULL;
	}
	aur_oci_docker_archive_release(&d);
	return r;
}

int aur_oci_local_pull(struct aur_oci_local *l, const char *tag,
		       const struct aur_oci_platform *want,
		       const char *state_dir, struct aur_oci_progress *prog,
		       struct aur_oci_image *img, char err[AUR_OCI_ERRLEN])
{
	AUR_AUTOFREE char *dm = NULL;
	struct aur_oci_config c = {0};
	struct want *w = NULL;
	size_t len, n = 0, missing = 0;
	int r;

	/* a docker-archive, unless it is a layout (Docker 25 has both) */
	r = l->layout ? -ENOENT
		      : read_small(l, "manifest.json", AUR_OCI_MANIFEST_MAX,
				   &dm, &len, err);
	if (r == 0)
		r = wants_docker(l, dm, len, want, img, &c, &w, err);
	else if (r == -ENOENT)
		r = wants_oci(l, tag, want, img, &c, &w, prog, err);
	n = w ? c.ndiff_ids : 0;
	if (r < 0)
		goto out;
	img->layers = calloc(n, sizeof(*img->layers));
	if (!img->layers) {
		r = -ENOMEM;
		goto out;
	}
	img->nlayers = n;
	for (size_t i = 0; i < n; i++) {
		if (aur_oci_store_lookup(state_dir, w[i].diff_id,
					 &img->layers[i]) == 0)
			w[i].done = true;
		else
			missing++;
	}
	if (missing == 0)
		aur_info("image '%s': all %zu layers already stored",
			 img->source, n);
	else if (l->layout)
		r = store_from_layout(l, w, n, state_dir, prog, img->layers,
				      err);
	else
		r = store_from_archive(l, w, n, state_dir, prog, img->layers,
				       err);
out:
	for (size_t i = 0; w && i < n; i++) {
		free(w[i].member);
		free((char *)w[i].blob_digest);
	}
	free(w);
	aur_oci_config_release(&c);
	return r;
}
