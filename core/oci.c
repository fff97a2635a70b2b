// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * aur_oci_pull: which way an image comes (daemon, registry, layout,
 * archive, directory), and the resolution cache that lets a remount work
 * without the registry.
 */
#include "oci_i.h"

#include <aurora/log.h>
#include <aurora/util.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

struct pull {
	const struct aur_oci_opts *o;
	struct aur_oci_platform want;
	struct aur_oci_progress prog;
	struct aur_oci_image *img;
	char *key; /* of the resolution cache: "source\nplatform" */
	char err[AUR_OCI_ERRLEN];
};

const char *aur_oci_origin_name(enum aur_oci_origin origin)
{
	static const char *const names[] = {
		[AUR_OCI_FROM_REGISTRY] = "registry",
		[AUR_OCI_FROM_DAEMON] = "daemon",
		[AUR_OCI_FROM_LAYOUT] = "layout",
		[AUR_OCI_FROM_ARCHIVE] = "archive",
		[AUR_OCI_FROM_CACHE] = "cache",
		[AUR_OCI_FROM_DIR] = "dir",
	};

	return (size_t)origin < AUR_ARRAY_SIZE(names) ? names[origin] : "?";
}

/* Forget what a failed attempt filled in, keeping the source. */
static void image_clear(struct aur_oci_image *img)
{
	char *source = img->source;

	for (size_t i = 0; i < img->nlayers; i++)
		free(img->layers[i].path);
	free(img->layers);
	free(img->config);
	free(img->os);
	free(img->arch);
	free(img->variant);
	free(img->dir);
	memset(img, 0, sizeof(*img));
	img->source = source;
}

void aur_oci_image_free(struct aur_oci_image *img)
{
	if (!img)
		return;
	image_clear(img);
	free(img->source);
	free(img);
}

int aur_oci_image_set_config(struct aur_oci_image *img, const char *digest,
			     const char *json, size_t len,
			     struct aur_oci_config *parsed,
			     char err[AUR_OCI_ERRLEN])
{
	int r = aur_oci_config_parse(json, len, parsed, err);

	if (r < 0)
		return r;
	snprintf(img->config_digest, sizeof(img->config_digest), "%s", digest);
	img->config = malloc(len + 1);
	img->os = strdup(parsed->platform.os);
	img->arch = strdup(parsed->platform.arch);
	img->variant = strdup(parsed->platform.variant);
	if (!img->config || !img->os || !img->arch || !img->variant)
		return -ENOMEM;
	memcpy(img->config, json, len);
	img->config[len] = '\0';
	img->config_len = len;
	return 0;
}

/* Layers of a known config from the store only; -ENOENT if one is
 * missing. */
static int layers_from_store(struct pull *p, const struct aur_oci_config *c)
{
	struct aur_oci_image *img = p->img;

	img->layers = calloc(c->ndiff_ids + 1, sizeof(*img->layers));
	if (!img->layers)
		return -ENOMEM;
	for (size_t i = 0; i < c->ndiff_ids; i++) {
		int r = aur_oci_store_lookup(p->o->state_dir, c->diff_ids[i],
					     &img->layers[i]);

		if (r < 0) {
			snprintf(p->err, sizeof(p->err),
				 "layer %s is not stored", c->diff_ids[i]);
			return r;
		}
		img->nlayers++;
	}
	return 0;
}

/* The image from the resolution cache: its config and stored layers. */
static int from_cache(struct pull *p, const struct aur_oci_resolution *res)
{
	AUR_AUTOFREE char *json = NULL;
	struct aur_oci_config c;
	size_t len;
	int r = aur_oci_store_config_get(p->o->state_dir, res->config, &json,
					 &len);

	if (r < 0) {
		snprintf(p->err, sizeof(p->err), "config %s is not stored",
			 res->config);
		return r;
	}
	r = aur_oci_image_set_config(p->img, res->config, json, len, &c,
				     p->err);
	if (r == 0)
		r = layers_from_store(p, &c);
	aur_oci_config_release(&c);
	if (r < 0) {
		image_clear(p->img);
		return r;
	}
	snprintf(p->img->manifest_digest, sizeof(p->img->manifest_digest), "%s",
		 res->manifest);
	p->img->origin = AUR_OCI_FROM_CACHE;
	return 0;
}

/* Remember how the source resolved, for remounts without network. */
static void remember(struct pull *p)
{
	struct aur_oci_image *img = p->img;
	struct aur_oci_resolution res = {0};
	int r;

	if (img->origin == AUR_OCI_FROM_CACHE)
		return;
	r = aur_oci_store_config_put(p->o->state_dir, img->config_digest,
				     img->config, img->config_len);
	if (r == 0) {
		snprintf(res.manifest, sizeof(res.manifest), "%s",
			 img->manifest_digest);
		snprintf(res.config, sizeof(res.config), "%s",
			 img->config_digest);
		snprintf(res.origin, sizeof(res.origin), "%s",
			 aur_oci_origin_name(img->origin));
		r = aur_oci_store_ref_put(p->o->state_dir, p->key, &res);
	}
	if (r < 0)
		aur_warn("image '%s': cannot store its resolution: %s",
			 img->source, strerror(-r));
}

/* ---- registry ---- */

struct blob_feed {
	struct aur_oci_registry *reg;
	const char *digest;
};

static int registry_feed(void *ctx, aur_fetch_sink sink, void *sink_ctx,
			 char err[AUR_OCI_ERRLEN])
{
	struct blob_feed *f = ctx;

	return aur_oci_registry_blob(f->reg, f->digest, sink, sink_ctx, err);
}

/* Tag or digest -> the platform's manifest. */
static int resolve_manifest(struct pull *p, struct aur_oci_registry *reg,
			    const struct aur_oci_ref *ref,
			    struct aur_oci_manifest *m)
{
	AUR_AUTOFREE char *reference = strdup(aur_oci_ref_reference(ref));
	int r = reference ? 0 : -ENOMEM;

	for (int depth = 0; r == 0; depth++) {
		AUR_AUTOFREE char *doc = NULL;
		char type[128], digest[AUR_OCI_DIGEST_LEN];
		enum aur_oci_doc_kind kind;
		struct aur_oci_desc d;
		size_t len;

		if (depth == 3) {
			snprintf(p->err, sizeof(p->err),
				 "indexes nested too deep");
			return -EBADMSG;
		}
		r = aur_oci_registry_manifest(reg, reference, &doc, &len, type,
					      digest, p->err);
		if (r == 0)
			r = aur_oci_doc_kind(doc, len, type, &kind, p->err);
		if (r < 0)
			return r;
		if (kind == AUR_OCI_DOC_MANIFEST) {
			snprintf(p->img->manifest_digest,
				 sizeof(p->img->manifest_digest), "%s", digest);
			return aur_oci_manifest_parse(doc, len, m, p->err);
		}
		r = aur_oci_index_select(doc, len, &p->want, &d, p->err);
		if (r == 0) {
			free(reference);
			reference = strdup(d.digest);
			r = reference ? 0 : -ENOMEM;
		}
	}
	return r;
}

static int registry_config(struct pull *p, struct aur_oci_registry *reg,
			   const struct aur_oci_manifest *m,
			   struct aur_oci_config *c)
{
	AUR_AUTOFREE char *json = NULL;
	size_t len;
	int r;

	/* configs are stored by digest: a remount asks only for manifests */
	r = aur_oci_store_config_get(p->o->state_dir, m->config.digest, &json,
				     &len);
	if (r < 0)
		r = aur_oci_registry_blob_small(reg, m->config.digest,
						AUR_OCI_CONFIG_MAX, &json, &len,
						p->err);
	if (r == 0)
		r = aur_oci_image_set_config(p->img, m->config.digest, json,
					     len, c, p->err);
	if (r == 0 && c->ndiff_ids != m->nlayers) {
		snprintf(p->err, sizeof(p->err),
			 "the manifest has %zu layers, the config %zu diff_ids",
			 m->nlayers, c->ndiff_ids);
		r = -EBADMSG;
	}
	return r;
}

static int registry_layers(struct pull *p, struct aur_oci_registry *reg,
			   const struct aur_oci_manifest *m,
			   const struct aur_oci_config *c)
{
	struct aur_oci_image *img = p->img;
	size_t fetched = 0;

	img->layers = calloc(m->nlayers, sizeof(*img->layers));
	if (!img->layers)
		return -ENOMEM;
	for (size_t i = 0; i < m->nlayers; i++)
		p->prog.total += m->layers[i].size;
	for (size_t i = 0; i < m->nlayers; i++) {
		struct blob_feed f = {reg, m->layers[i].digest};
		bool got;
		int r = aur_oci_store_layer(p->o->state_dir, c->diff_ids[i],
					    m->layers[i].digest, registry_feed,
					    &f, &p->prog, &img->layers[i], &got,
					    p->err);

		if (r < 0)
			return r;
		img->nlayers++;
		if (got)
			fetched++;
		else
			p->prog.done += m->layers[i].size;
	}
	aur_info("image '%s': %zu of %zu layers fetched from the registry",
		 img->source, fetched, m->nlayers);
	return 0;
}

static int pull_registry(struct pull *p, const struct aur_oci_ref *ref)
{
	struct aur_oci_registry *reg = NULL;
	struct aur_oci_manifest m = {0};
	struct aur_oci_config c = {0};
	struct aur_oci_resolution res;
	bool cached = aur_oci_store_ref_get(p->o->state_dir, p->key, &res) == 0;
	int r;

	/* a digest names the same bytes forever: no need to ask again */
	if (cached && ref->digest[0] && from_cache(p, &res) == 0) {
		aur_info("image '%s': pinned by digest and already stored",
			 p->img->source);
		return 0;
	}
	r = aur_oci_registry_new(ref, p->o->insecure, &reg);
	if (r == 0)
		r = resolve_manifest(p, reg, ref, &m);
	if (r == -EIO && cached) {
		time_t when = (time_t)res.when;
		char stamp[32] = "?";
		struct tm tm;

		if (gmtime_r(&when, &tm))
			strftime(stamp, sizeof(stamp), "%Y-%m-%d %H:%M:%S UTC",
				 &tm);
		aur_warn("image '%s': %s; using the resolution stored at %s",
			 p->img->source, p->err, stamp);
		r = from_cache(p, &res);
		goto out;
	}
	if (r == 0)
		r = registry_config(p, reg, &m, &c);
	if (r == 0)
		r = registry_layers(p, reg, &m, &c);
	if (r == 0)
		p->img->origin = AUR_OCI_FROM_REGISTRY;
out:
	aur_oci_manifest_release(&m);
	aur_oci_config_release(&c);
	aur_oci_registry_free(reg);
	return r;
}

/* ---- daemon ---- */

/* An unlinked file in @dir: gone however the pull ends. */
static int spool_file(const char *dir)
{
	AUR_AUTOFREE char *tmpl = NULL;
	int fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);

	if (fd >= 0 || (errno != EOPNOTSUPP && errno != EISDIR))
		return fd >= 0 ? fd : -errno;
	/* a filesystem without O_TMPFILE */
	tmpl = aur_printf("%s/daemon-XXXXXX", dir);
	if (!tmpl)
		return -ENOMEM;
	fd = mkostemp(tmpl, O_CLOEXEC);
	if (fd < 0)
		return -errno;
	unlink(tmpl);
	return fd;
}

/* A docker-archive from the daemon, spooled to an unlinked file. */
static int daemon_archive(struct pull *p, const char *name)
{
	AUR_AUTOFREE char *dir = aur_printf("%s/oci/tmp", p->o->state_dir);
	struct aur_oci_local *l = NULL;
	int fd = -1, r;

	if (!dir)
		return -ENOMEM;
	r = aur_mkdir_p(dir, 0755);
	if (r == 0) {
		fd = spool_file(dir);
		r = fd < 0 ? fd : 0;
	}
	if (r < 0) {
		snprintf(p->err, sizeof(p->err), "'%s': %s", dir, strerror(-r));
		return r;
	}
	r = aur_oci_daemon_save(name, fd, p->err);
	if (r == 0)
		r = aur_oci_archive_from_fd(fd, name, &l, p->err);
	else
		close(fd);
	if (r == 0)
		r = aur_oci_local_pull(l, NULL, &p->want, p->o->state_dir,
				       &p->prog, p->img, p->err);
	aur_oci_local_free(l);
	return r;
}

/* 0: pulled from the daemon; -ENOENT: not there (use the registry). */
static int pull_daemon(struct pull *p, const struct aur_oci_ref *ref)
{
	AUR_AUTOFREE char *name = aur_oci_ref_string(ref);
	struct aur_oci_daemon_image di;
	struct aur_oci_resolution res;
	int r;

	if (!name)
		return -ENOMEM;
	r = aur_oci_daemon_inspect(name, &di, p->err);
	if (r < 0)
		return r;
	if (strcmp(di.os, p->want.os) != 0 ||
	    strcmp(di.arch, p->want.arch) != 0) {
		snprintf(p->err, sizeof(p->err),
			 "the daemon's image is %s/%s, not %s/%s", di.os,
			 di.arch, p->want.os, p->want.arch);
		aur_oci_daemon_image_release(&di);
		return -ENOENT;
	}
	/* the same image ID as last time: its layers are in the store */
	if (aur_oci_store_ref_get(p->o->state_dir, p->key, &res) == 0 &&
	    strcmp(res.config, di.id) == 0 && from_cache(p, &res) == 0) {
		aur_info("image '%s': the daemon's image %s is already stored",
			 p->img->source, di.id);
		p->img->origin = AUR_OCI_FROM_DAEMON;
		aur_oci_daemon_image_release(&di);
		return 0;
	}
	r = daemon_archive(p, name);
	if (r == 0 && strcmp(p->img->config_digest, di.id) != 0) {
		snprintf(p->err, sizeof(p->err),
			 "the daemon sent image %s for %s",
			 p->img->config_digest, di.id);
		r = -EBADMSG;
	}
	if (r == 0)
		p->img->origin = AUR_OCI_FROM_DAEMON;
	else
		image_clear(p->img);
	aur_oci_daemon_image_release(&di);
	return r;
}

/* ---- local sources ---- */

static int pull_local(struct pull *p, const struct aur_oci_source *src)
{
	struct aur_oci_local *l = NULL;
	int r;

	if (src->kind == AUR_OCI_SRC_LAYOUT)
		r = aur_oci_layout_open(src->path, &l, p->err);
	else
		r = aur_oci_archive_open(src->path, &l, p->err);
	if (r == 0)
		r = aur_oci_local_pull(l, src->tag, &p->want, p->o->state_dir,
				       &p->prog, p->img, p->err);
	if (r == 0)
		p->img->origin = src->kind == AUR_OCI_SRC_LAYOUT
					 ? AUR_OCI_FROM_LAYOUT
					 : AUR_OCI_FROM_ARCHIVE;
	aur_oci_local_free(l);
	return r;
}

static int pull_dir(struct pull *p, const struct aur_oci_source *src)
{
	struct stat st;

	if (stat(src->path, &st) < 0 || !S_ISDIR(st.st_mode)) {
		int r = stat(src->path, &st) < 0 ? -errno : -ENOTDIR;

		snprintf(p->err, sizeof(p->err), "'%s': %s", src->path,
			 strerror(-r));
		return r;
	}
	if (access(src->path, R_OK | X_OK) < 0) {
		snprintf(p->err, sizeof(p->err), "'%s': %s", src->path,
			 strerror(errno));
		return -errno;
	}
	p->img->dir = strdup(src->path);
	p->img->origin = AUR_OCI_FROM_DIR;
	return p->img->dir ? 0 : -ENOMEM;
}

/* ---- the entry point ---- */

static char *source_name(const struct aur_oci_source *src)
{
	AUR_AUTOFREE char *ref = NULL;

	switch (src->kind) {
	case AUR_OCI_SRC_REGISTRY:
		return aur_oci_ref_string(&src->ref);
	case AUR_OCI_SRC_DAEMON:
		ref = aur_oci_ref_string(&src->ref);
		return ref ? aur_printf("docker://%s", ref) : NULL;
	case AUR_OCI_SRC_LAYOUT:
		return aur_printf("oci:%s%s%s", src->path, src->tag ? ":" : "",
				  src->tag ? src->tag : "");
	case AUR_OCI_SRC_ARCHIVE:
		return aur_printf("ocifile:%s", src->path);
	default:
		return aur_printf("dir:%s", src->path);
	}
}

static int pull_source(struct pull *p, const struct aur_oci_source *src)
{
	int r;

	switch (src->kind) {
	case AUR_OCI_SRC_DIR:
		return pull_dir(p, src);
	case AUR_OCI_SRC_LAYOUT:
	case AUR_OCI_SRC_ARCHIVE:
		return pull_local(p, src);
	case AUR_OCI_SRC_DAEMON:
		r = pull_daemon(p, &src->ref);
		if (r == 0) {
			aur_info("image '%s': from the docker daemon",
				 p->img->source);
			return 0;
		}
		if (r != -ENOENT)
			return r;
		image_clear(p->img);
		aur_info("image '%s': not from the daemon (%s); trying the "
			 "registry",
			 p->img->source, p->err);
		return pull_registry(p, &src->ref);
	default:
		return pull_registry(p, &src->ref);
	}
}

int aur_oci_pull(const char *source, const struct aur_oci_opts *o,
		 struct aur_oci_image **out)
{
	struct aur_oci_source src;
	struct pull p = {.o = o};
	char *name;
	int r;

	*out = NULL;
	p.prog.fn = o->progress;
	p.prog.ctx = o->progress_ctx;
	r = aur_oci_source_parse(source, &src, p.err);
	if (r < 0) {
		aur_err("container_image: %s", p.err);
		return r;
	}
	if (aur_oci_platform_init(&p.want, o->arch) < 0) {
		aur_err("image '%s': unknown architecture '%s'", source,
			o->arch ? o->arch : "(host)");
		aur_oci_source_release(&src);
		return -EINVAL;
	}
	name = source_name(&src);
	p.img = calloc(1, sizeof(*p.img));
	if (!name || !p.img) {
		free(name);
		r = -ENOMEM;
		goto out;
	}
	p.img->source = name;
	p.key = aur_printf("%s\n%s/%s/%s", name, p.want.os, p.want.arch,
			   p.want.variant);
	r = p.key ? pull_source(&p, &src) : -ENOMEM;
	if (r == 0) {
		if (p.img->nlayers > 0)
			remember(&p);
		aur_info("image '%s': %zu layers ready (%s, config %s)",
			 p.img->source, p.img->nlayers,
			 aur_oci_origin_name(p.img->origin),
			 p.img->config_digest[0] ? p.img->config_digest : "-");
		*out = p.img;
		p.img = NULL;
	} else {
		aur_err("image '%s': %s", p.img->source,
			p.err[0] ? p.err : strerror(-r));
	}
out:
	aur_oci_image_free(p.img);
	free(p.key);
	aur_oci_source_release(&src);
	return r;
}
