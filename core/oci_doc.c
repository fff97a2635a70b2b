// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Image documents: OCI indexes and Docker manifest lists, OCI and Docker
 * schema 2 manifests, image configs, docker-archive manifest.json. All of
 * them come from outside: sizes are bounded by the callers, counts here,
 * and every digest must be sha256:<64 hex>.
 */
#include "oci_i.h"

#include <aurora/util.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/utsname.h>

#include <jansson.h>

#define MT_OCI_INDEX "application/vnd.oci.image.index.v1+json"
#define MT_OCI_MANIFEST "application/vnd.oci.image.manifest.v1+json"
#define MT_DOCKER_LIST \
	"application/vnd.docker.distribution.manifest.list.v2+json"
#define MT_DOCKER_V2 "application/vnd.docker.distribution.manifest.v2+json"
#define MT_DOCKER_V1 "application/vnd.docker.distribution.manifest.v1"
#define REF_NAME "org.opencontainers.image.ref.name"

/* ---- platforms ---- */

struct arch_alias {
	const char *name, *arch, *variant;
};

static const struct arch_alias arch_aliases[] = {
	{"amd64", "amd64", ""},	    {"x86_64", "amd64", ""},
	{"arm64", "arm64", ""},	    {"aarch64", "arm64", ""},
	{"riscv64", "riscv64", ""}, {"arm", "arm", "v7"},
	{"armv7l", "arm", "v7"},    {"armhf", "arm", "v7"},
	{"386", "386", ""},	    {"i686", "386", ""},
	{"ppc64le", "ppc64le", ""}, {"s390x", "s390x", ""},
};

int aur_oci_platform_init(struct aur_oci_platform *p, const char *arch)
{
	struct utsname u;
	char name[32];
	const char *slash;

	memset(p, 0, sizeof(*p));
	snprintf(p->os, sizeof(p->os), "linux");
	if (!arch || !*arch) {
		if (uname(&u) < 0)
			return -errno;
		arch = u.machine;
	}
	/* "arm64/v8", "arm/v6": an explicit variant */
	slash = strchr(arch, '/');
	snprintf(name, sizeof(name), "%.*s",
		 (int)(slash ? (size_t)(slash - arch) : strlen(arch)), arch);
	for (size_t i = 0; i < AUR_ARRAY_SIZE(arch_aliases); i++) {
		if (strcmp(name, arch_aliases[i].name) != 0)
			continue;
		snprintf(p->arch, sizeof(p->arch), "%s", arch_aliases[i].arch);
		snprintf(p->variant, sizeof(p->variant), "%s",
			 slash ? slash + 1 : arch_aliases[i].variant);
		return 0;
	}
	return -EINVAL;
}

/* arm64's only variant is v8: "" and "v8" are the same platform */
static bool variant_equal(const char *arch, const char *a, const char *b)
{
	if (strcmp(arch, "arm64") == 0) {
		if (strcmp(a, "v8") == 0)
			a = "";
		if (strcmp(b, "v8") == 0)
			b = "";
	}
	return strcmp(a, b) == 0;
}

/* ---- jansson helpers ---- */

static json_t *load(const char *json, size_t len, char err[AUR_OCI_ERRLEN])
{
	json_error_t jerr;
	json_t *root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr);

	if (!root) {
		snprintf(err, AUR_OCI_ERRLEN, "invalid JSON at line %d: %s",
			 jerr.line, jerr.text);
		return NULL;
	}
	if (!json_is_object(root) && !json_is_array(root)) {
		snprintf(err, AUR_OCI_ERRLEN, "JSON document is not an object");
		json_decref(root);
		return NULL;
	}
	return root;
}

/* A string member (NULL if absent or not a string). */
static const char *str(json_t *obj, const char *key)
{
	return json_string_value(json_object_get(obj, key));
}

static int copy_str(char *dst, size_t n, json_t *obj, const char *key,
		    char err[AUR_OCI_ERRLEN])
{
	const char *v = str(obj, key);

	if (!v) {
		dst[0] = '\0';
		return 0;
	}
	if (strlen(v) >= n) {
		snprintf(err, AUR_OCI_ERRLEN, "'%s' is too long", key);
		return -EBADMSG;
	}
	memcpy(dst, v, strlen(v) + 1);
	return 0;
}

static int parse_desc(json_t *obj, struct aur_oci_desc *d,
		      char err[AUR_OCI_ERRLEN])
{
	json_t *size = json_object_get(obj, "size");
	const char *digest = str(obj, "digest");

	memset(d, 0, sizeof(*d));
	if (!json_is_object(obj)) {
		snprintf(err, AUR_OCI_ERRLEN, "descriptor is not an object");
		return -EBADMSG;
	}
	if (!digest || !aur_oci_digest_valid(digest)) {
		snprintf(err, AUR_OCI_ERRLEN,
			 "descriptor digest '%.80s' is not sha256:<64 hex>",
			 digest ? digest : "(none)");
		return -EBADMSG;
	}
	if (!json_is_integer(size) || json_integer_value(size) < 0) {
		snprintf(err, AUR_OCI_ERRLEN, "descriptor %s has no valid size",
			 digest);
		return -EBADMSG;
	}
	snprintf(d->digest, sizeof(d->digest), "%s", digest);
	d->size = (uint64_t)json_integer_value(size);
	return copy_str(d->media_type, sizeof(d->media_type), obj, "mediaType",
			err);
}

/* ---- document kinds ---- */

static bool type_is(const char *type, const char *want)
{
	size_t n = strlen(want);

	return strncmp(type, want, n) == 0 &&
	       (type[n] == '\0' || type[n] == ';' || type[n] == ' ');
}

static int kind_of_type(const char *type, enum aur_oci_doc_kind *kind,
			char err[AUR_OCI_ERRLEN])
{
	if (type_is(type, MT_OCI_INDEX) || type_is(type, MT_DOCKER_LIST)) {
		*kind = AUR_OCI_DOC_INDEX;
		return 0;
	}
	if (type_is(type, MT_OCI_MANIFEST) || type_is(type, MT_DOCKER_V2)) {
		*kind = AUR_OCI_DOC_MANIFEST;
		return 0;
	}
	if (aur_startswith(type, MT_DOCKER_V1)) {
		snprintf(err, AUR_OCI_ERRLEN,
			 "Docker schema 1 manifests are not supported (push "
			 "the image again with a current client)");
		return -ENOTSUP;
	}
	return -ENOENT;
}

int aur_oci_doc_kind(const char *json, size_t len, const char *content_type,
		     enum aur_oci_doc_kind *kind, char err[AUR_OCI_ERRLEN])
{
	json_t *root = load(json, len, err), *sv;
	const char *mt;
	int r = -EBADMSG;

	if (!root)
		return -EBADMSG;
	sv = json_object_get(root, "schemaVersion");
	if (json_is_integer(sv) && json_integer_value(sv) == 1) {
		snprintf(err, AUR_OCI_ERRLEN,
			 "Docker schema 1 manifests are not supported (push "
			 "the image again with a current client)");
		r = -ENOTSUP;
		goto out;
	}
	mt = str(root, "mediaType");
	if (mt) {
		r = kind_of_type(mt, kind, err);
		if (r == -ENOENT) {
			snprintf(err, AUR_OCI_ERRLEN,
				 "unknown manifest media type '%.100s'", mt);
			r = -EBADMSG;
		}
		goto out;
	}
	if (content_type && *content_type) {
		r = kind_of_type(content_type, kind, err);
		if (r != -ENOENT)
			goto out;
	}
	/* OCI lets mediaType out: judge by shape */
	if (json_is_array(json_object_get(root, "manifests"))) {
		*kind = AUR_OCI_DOC_INDEX;
		r = 0;
	} else if (json_is_object(json_object_get(root, "config"))) {
		*kind = AUR_OCI_DOC_MANIFEST;
		r = 0;
	} else {
		snprintf(err, AUR_OCI_ERRLEN,
			 "neither an image manifest nor an index");
		r = -EBADMSG;
	}
out:
	json_decref(root);
	return r;
}

/* ---- indexes ---- */

static json_t *index_entries(json_t *root, char err[AUR_OCI_ERRLEN])
{
	json_t *m = json_object_get(root, "manifests");

	if (!json_is_array(m)) {
		snprintf(err, AUR_OCI_ERRLEN, "index has no manifests list");
		return NULL;
	}
	if (json_array_size(m) > AUR_OCI_INDEX_MAX) {
		snprintf(err, AUR_OCI_ERRLEN,
			 "index has %zu entries (at most %u)",
			 json_array_size(m), AUR_OCI_INDEX_MAX);
		return NULL;
	}
	return m;
}

/* Append "os/arch[/variant]" to the list of available platforms. */
static void list_platform(char *list, size_t n, json_t *plat)
{
	const char *os = str(plat, "os"), *arch = str(plat, "architecture");
	const char *var = str(plat, "variant");
	size_t used = strlen(list);

	if (!os || !arch || used + 2 >= n)
		return;
	snprintf(list + used, n - used, "%s%.20s/%.20s%s%.20s",
		 used ? ", " : "", os, arch, var && *var ? "/" : "",
		 var && *var ? var : "");
}

int aur_oci_index_select(const char *json, size_t len,
			 const struct aur_oci_platform *want,
			 struct aur_oci_desc *out, char err[AUR_OCI_ERRLEN])
{
	json_t *root = load(json, len, err), *entries, *e;
	char avail[256] = "";
	long best = -1;
	int best_score = 0, r;
	size_t i;

	if (!root)
		return -EBADMSG;
	entries = index_entries(root, err);
	if (!entries) {
		r = -EBADMSG;
		goto out;
	}
	json_array_foreach(entries, i, e)
	{
		json_t *plat = json_object_get(e, "platform");
		const char *os = str(plat, "os");
		const char *arch = str(plat, "architecture");
		const char *var = str(plat, "variant");
		int score;

		if (!json_is_object(e)) {
			snprintf(err, AUR_OCI_ERRLEN,
				 "index entry %zu is not an object", i);
			r = -EBADMSG;
			goto out;
		}
		list_platform(avail, sizeof(avail), plat);
		if (!os || !arch || strcmp(os, want->os) != 0 ||
		    strcmp(arch, want->arch) != 0)
			continue;
		if (!var)
			var = "";
		/* 3: the variant asked for; 2: no variant; 1: another one */
		if (variant_equal(arch, var, want->variant))
			score = 3;
		else if (want->variant[0] && strcmp(arch, "arm64") != 0)
			continue;
		else
			score = var[0] ? 1 : 2;
		if (score > best_score) {
			best_score = score;
			best = (long)i;
		}
	}
	if (best < 0) {
		snprintf(err, AUR_OCI_ERRLEN,
			 "no image for %s/%s%s%s; available: %s", want->os,
			 want->arch, want->variant[0] ? "/" : "", want->variant,
			 avail[0] ? avail : "none");
		r = -ENOENT;
		goto out;
	}
	r = parse_desc(json_array_get(entries, (size_t)best), out, err);
out:
	json_decref(root);
	return r;
}

/* Does the ref.name @name stand for @tag ("latest" or "x/y:latest")? */
static bool name_matches(const char *name, const char *tag)
{
	size_t n = strlen(name), t = strlen(tag);

	if (strcmp(name, tag) == 0)
		return true;
	return n > t && name[n - t - 1] == ':' &&
	       strcmp(name + n - t, tag) == 0;
}

int aur_oci_index_find_tag(const char *json, size_t len, const char *tag,
			   struct aur_oci_desc *out, char err[AUR_OCI_ERRLEN])
{
	json_t *root = load(json, len, err), *entries, *e;
	char names[256] = "";
	long found = -1;
	size_t i;
	int r;

	if (!root)
		return -EBADMSG;
	entries = index_entries(root, err);
	if (!entries) {
		r = -EBADMSG;
		goto out;
	}
	json_array_foreach(entries, i, e)
	{
		const char *name =
			str(json_object_get(e, "annotations"), REF_NAME);
		size_t used = strlen(names);

		if (name && used + 2 < sizeof(names))
			snprintf(names + used, sizeof(names) - used, "%s%.60s",
				 used ? ", " : "", name);
		if (tag ? (name && name_matches(name, tag))
			: (json_array_size(entries) == 1 ||
			   (name && name_matches(name, "latest")))) {
			found = (long)i;
			break;
		}
	}
	if (found < 0) {
		snprintf(err, AUR_OCI_ERRLEN,
			 "no image %s%s%s in the layout%s%s",
			 tag ? "tagged '" : "", tag ? tag : "(default)",
			 tag ? "'" : "", names[0] ? "; tags: " : "", names);
		r = -ENOENT;
		goto out;
	}
	r = parse_desc(json_array_get(entries, (size_t)found), out, err);
out:
	json_decref(root);
	return r;
}

/* ---- manifests ---- */

int aur_oci_layer_type_check(const char *mt, char err[AUR_OCI_ERRLEN])
{
	static const char *const ok[] = {
		"",
		"application/vnd.oci.image.layer.v1.tar",
		"application/vnd.oci.image.layer.v1.tar+gzip",
		"application/vnd.oci.image.layer.v1.tar+zstd",
		"application/vnd.docker.image.rootfs.diff.tar",
		"application/vnd.docker.image.rootfs.diff.tar.gzip",
		"application/vnd.docker.image.rootfs.diff.tar.zstd",
	};

	for (size_t i = 0; i < AUR_ARRAY_SIZE(ok); i++)
		if (strcmp(mt, ok[i]) == 0)
			return 0;
	if (strstr(mt, "foreign") || strstr(mt, "nondistributable"))
		snprintf(err, AUR_OCI_ERRLEN,
			 "foreign layers are not supported ('%.100s')", mt);
	else if (strstr(mt, "encrypted"))
		snprintf(err, AUR_OCI_ERRLEN,
			 "encrypted layers are not supported ('%.100s')", mt);
	else
		snprintf(err, AUR_OCI_ERRLEN, "unknown layer type '%.100s'",
			 mt);
	return -ENOTSUP;
}

int aur_oci_manifest_parse(const char *json, size_t len,
			   struct aur_oci_manifest *m, char err[AUR_OCI_ERRLEN])
{
	json_t *root = load(json, len, err), *layers, *l;
	json_t *sv;
	size_t i;
	int r;

	memset(m, 0, sizeof(*m));
	if (!root)
		return -EBADMSG;
	sv = json_object_get(root, "schemaVersion");
	if (json_is_integer(sv) && json_integer_value(sv) == 1) {
		snprintf(err, AUR_OCI_ERRLEN,
			 "Docker schema 1 manifests are not supported");
		r = -ENOTSUP;
		goto out;
	}
	if (!json_is_integer(sv) || json_integer_value(sv) != 2) {
		snprintf(err, AUR_OCI_ERRLEN,
			 "manifest schemaVersion is not 2");
		r = -EBADMSG;
		goto out;
	}
	r = parse_desc(json_object_get(root, "config"), &m->config, err);
	if (r < 0)
		goto out;
	layers = json_object_get(root, "layers");
	if (!json_is_array(layers) || json_array_size(layers) == 0 ||
	    json_array_size(layers) > AUR_OCI_LAYERS_MAX) {
		snprintf(err, AUR_OCI_ERRLEN, "manifest needs 1 to %u layers",
			 AUR_OCI_LAYERS_MAX);
		r = -EBADMSG;
		goto out;
	}
	m->layers = calloc(json_array_size(layers), sizeof(*m->layers));
	if (!m->layers) {
		r = -ENOMEM;
		goto out;
	}
	json_array_foreach(layers, i, l)
	{
		r = parse_desc(l, &m->layers[i], err);
		if (r == 0)
			r = aur_oci_layer_type_check(m->layers[i].media_type,
						     err);
		if (r < 0)
			goto out;
		m->nlayers++;
	}
out:
	if (r < 0)
		aur_oci_manifest_release(m);
	json_decref(root);
	return r;
}

void aur_oci_manifest_release(struct aur_oci_manifest *m)
{
	free(m->layers);
	memset(m, 0, sizeof(*m));
}

/* ---- configs ---- */

int aur_oci_config_parse(const char *json, size_t len, struct aur_oci_config *c,
			 char err[AUR_OCI_ERRLEN])
{
	json_t *root = load(json, len, err), *rootfs, *ids, *id;
	size_t i;
	int r;

	memset(c, 0, sizeof(*c));
	if (!root)
		return -EBADMSG;
	if (!json_is_object(root)) {
		snprintf(err, AUR_OCI_ERRLEN, "image config is not an object");
		r = -EBADMSG;
		goto out;
	}
	r = copy_str(c->platform.os, sizeof(c->platform.os), root, "os", err);
	if (r == 0)
		r = copy_str(c->platform.arch, sizeof(c->platform.arch), root,
			     "architecture", err);
	if (r == 0)
		r = copy_str(c->platform.variant, sizeof(c->platform.variant),
			     root, "variant", err);
	if (r < 0)
		goto out;
	rootfs = json_object_get(root, "rootfs");
	ids = json_object_get(rootfs, "diff_ids");
	if (!str(rootfs, "type") || strcmp(str(rootfs, "type"), "layers") ||
	    !json_is_array(ids) || json_array_size(ids) > AUR_OCI_LAYERS_MAX) {
		snprintf(err, AUR_OCI_ERRLEN,
			 "image config has no rootfs of type layers with at "
			 "most %u diff_ids",
			 AUR_OCI_LAYERS_MAX);
		r = -EBADMSG;
		goto out;
	}
	c->diff_ids = calloc(json_array_size(ids) + 1, sizeof(*c->diff_ids));
	if (!c->diff_ids) {
		r = -ENOMEM;
		goto out;
	}
	json_array_foreach(ids, i, id)
	{
		const char *d = json_string_value(id);

		if (!d || !aur_oci_digest_valid(d)) {
			snprintf(err, AUR_OCI_ERRLEN,
				 "diff_id %zu is not sha256:<64 hex>", i);
			r = -EBADMSG;
			goto out;
		}
		snprintf(c->diff_ids[i], sizeof(c->diff_ids[i]), "%s", d);
		c->ndiff_ids++;
	}
out:
	if (r < 0)
		aur_oci_config_release(c);
	json_decref(root);
	return r;
}

void aur_oci_config_release(struct aur_oci_config *c)
{
	free(c->diff_ids);
	memset(c, 0, sizeof(*c));
}

/* ---- docker-archive manifest.json ---- */

static bool has_tag(json_t *entry, const char *tag)
{
	json_t *tags = json_object_get(entry, "RepoTags"), *t;
	size_t i;

	json_array_foreach(tags, i, t)
	{
		const char *s = json_string_value(t);

		if (s && name_matches(s, tag))
			return true;
	}
	return false;
}

static int member(json_t *v, char **out, char err[AUR_OCI_ERRLEN])
{
	const char *s = json_string_value(v);

	*out = s ? aur_oci_member_name(s) : NULL;
	if (!*out) {
		snprintf(err, AUR_OCI_ERRLEN,
			 "manifest.json names an unsafe member '%.100s'",
			 s ? s : "(not a string)");
		return -EBADMSG;
	}
	return 0;
}

int aur_oci_docker_manifest_parse(const char *json, size_t len, const char *tag,
				  struct aur_oci_docker_archive *d,
				  char err[AUR_OCI_ERRLEN])
{
	json_t *root = load(json, len, err), *entry = NULL, *e, *layers;
	size_t i;
	int r = -EBADMSG;

	memset(d, 0, sizeof(*d));
	if (!root)
		return -EBADMSG;
	if (!json_is_array(root) || json_array_size(root) == 0) {
		snprintf(err, AUR_OCI_ERRLEN,
			 "manifest.json is not a list of images");
		goto out;
	}
	json_array_foreach(root, i, e)
	{
		if (tag ? has_tag(e, tag) : json_array_size(root) == 1) {
			entry = e;
			break;
		}
	}
	if (!entry) {
		if (tag)
			snprintf(err, AUR_OCI_ERRLEN,
				 "no image tagged '%s' in the archive", tag);
		else
			snprintf(err, AUR_OCI_ERRLEN,
				 "the archive holds %zu images, not one",
				 json_array_size(root));
		r = -ENOENT;
		goto out;
	}
	layers = json_object_get(entry, "Layers");
	if (!json_is_array(layers) || json_array_size(layers) == 0 ||
	    json_array_size(layers) > AUR_OCI_LAYERS_MAX) {
		snprintf(err, AUR_OCI_ERRLEN,
			 "manifest.json needs 1 to %u layers",
			 AUR_OCI_LAYERS_MAX);
		goto out;
	}
	r = member(json_object_get(entry, "Config"), &d->config, err);
	if (r < 0)
		goto out;
	d->layers = calloc(json_array_size(layers), sizeof(*d->layers));
	if (!d->layers) {
		r = -ENOMEM;
		goto out;
	}
	json_array_foreach(layers, i, e)
	{
		r = member(e, &d->layers[i], err);
		if (r < 0)
			goto out;
		d->nlayers++;
	}
out:
	if (r < 0)
		aur_oci_docker_archive_release(d);
	json_decref(root);
	return r;
}

void aur_oci_docker_archive_release(struct aur_oci_docker_archive *d)
{
	for (size_t i = 0; i < d->nlayers; i++)
		free(d->layers[i]);
	free(d->layers);
	free(d->config);
	memset(d, 0, sizeof(*d));
}
