/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * oci_i.h - the parts of the container image module, private to
 * core/oci*.c (and included by their unit tests and fuzz targets):
 *
 *   oci_ref.c       source strings and registry references
 *   oci_doc.c       manifests, indexes, configs: parsing, platform choice
 *   oci_auth.c      WWW-Authenticate challenges, docker config.json
 *   oci_registry.c  the distribution API client (ping, token, retries)
 *   oci_daemon.c    a Docker-compatible daemon over its socket
 *   oci_archive.c   OCI layouts, OCI archives and docker-archives
 *   oci_store.c     the layer store: stream, decompress, verify, rename
 *   oci.c           aur_oci_pull: which source, the resolution cache
 *
 * Functions return 0 or a negative errno. Those that take @err fill it
 * with a one-line reason (AUR_OCI_ERRLEN bytes) and do not log; the
 * caller logs once, naming the source.
 */
#ifndef AURORA_OCI_I_H
#define AURORA_OCI_I_H

#include <aurora/fetch.h>
#include <aurora/oci.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define AUR_OCI_ERRLEN 512

/* Bounds on what others send us. */
#define AUR_OCI_MANIFEST_MAX (4u << 20) /* manifests and indexes */
#define AUR_OCI_CONFIG_MAX (8u << 20) /* image configs */
#define AUR_OCI_TOKEN_MAX (64u << 10) /* token responses */
#define AUR_OCI_HEADER_MAX 8192 /* one response header line */
#define AUR_OCI_LAYERS_MAX 512 /* layers of one image */
#define AUR_OCI_INDEX_MAX 1024 /* entries of one index */
#define AUR_OCI_DOCKERCFG_MAX (1u << 20) /* docker config.json */

/* ---- oci_ref.c ---- */

/* A registry reference, normalised as Docker does: "alpine" is
 * docker.io/library/alpine:latest. */
struct aur_oci_ref {
	char *domain; /* "docker.io", "quay.io", "localhost:5000", "[::1]:5000"
		       */
	char *path; /* "library/alpine" */
	char *tag; /* "latest"; NULL when only a digest was given */
	char digest[AUR_OCI_DIGEST_LEN]; /* "" unless pinned */
};

/* Parse @s (no "docker://" prefix). Names without a tag or digest get
 * "latest". Rejects uppercase repositories, bad tags, bad digests, names
 * over 255 characters, empty components. */
int aur_oci_ref_parse(const char *s, struct aur_oci_ref *ref,
		      char err[AUR_OCI_ERRLEN]);
void aur_oci_ref_release(struct aur_oci_ref *ref);
/* "domain/path:tag@digest" (the parts present). Caller frees. */
char *aur_oci_ref_string(const struct aur_oci_ref *ref);
/* The host the API is reached at: registry-1.docker.io for docker.io. */
const char *aur_oci_ref_api_host(const struct aur_oci_ref *ref);
/* What a manifest request names: the digest if pinned, else the tag. */
const char *aur_oci_ref_reference(const struct aur_oci_ref *ref);

enum aur_oci_kind {
	AUR_OCI_SRC_REGISTRY,
	AUR_OCI_SRC_DAEMON, /* docker: - the daemon, else the registry */
	AUR_OCI_SRC_LAYOUT, /* oci: with an existing directory */
	AUR_OCI_SRC_ARCHIVE, /* ocifile:, file: */
	AUR_OCI_SRC_DIR, /* dir: */
};

struct aur_oci_source {
	enum aur_oci_kind kind;
	struct aur_oci_ref ref; /* REGISTRY, DAEMON */
	char *path; /* LAYOUT, ARCHIVE, DIR */
	char *tag; /* LAYOUT: the ref.name wanted, NULL for the default */
};

/* Classify a container_image value. oci:DIR[:TAG] is a layout only if
 * the directory exists (stat), else a registry reference. */
int aur_oci_source_parse(const char *s, struct aur_oci_source *src,
			 char err[AUR_OCI_ERRLEN]);
void aur_oci_source_release(struct aur_oci_source *src);

/* true if @d is "sha256:" followed by 64 lowercase hex digits */
bool aur_oci_digest_valid(const char *d);

/* ---- oci_doc.c ---- */

struct aur_oci_platform {
	char os[32], arch[32], variant[32];
};

/* The platform wanted: @arch (aliases x86_64, aarch64 accepted) or the
 * host's, os linux. -EINVAL for an unknown arch. */
int aur_oci_platform_init(struct aur_oci_platform *p, const char *arch);

enum aur_oci_doc_kind {
	AUR_OCI_DOC_INDEX, /* OCI index, Docker manifest list */
	AUR_OCI_DOC_MANIFEST, /* OCI manifest, Docker schema 2 */
};

struct aur_oci_desc {
	char digest[AUR_OCI_DIGEST_LEN];
	uint64_t size;
	char media_type[128];
};

struct aur_oci_manifest {
	struct aur_oci_desc config;
	struct aur_oci_desc *layers;
	size_t nlayers;
};

struct aur_oci_config {
	struct aur_oci_platform platform;
	char (*diff_ids)[AUR_OCI_DIGEST_LEN];
	size_t ndiff_ids;
};

/* What kind of document @json is, from its mediaType (or, when it has
 * none, @content_type, then its shape). Schema 1 is -ENOTSUP. */
int aur_oci_doc_kind(const char *json, size_t len, const char *content_type,
		     enum aur_oci_doc_kind *kind, char err[AUR_OCI_ERRLEN]);

/* Choose the manifest for @want from an index: os and arch must match; a
 * wanted variant must match, else the entry without one (or the first)
 * wins. -ENOENT lists the platforms available in @err. */
int aur_oci_index_select(const char *json, size_t len,
			 const struct aur_oci_platform *want,
			 struct aur_oci_desc *out, char err[AUR_OCI_ERRLEN]);

/* In an OCI layout's index.json: the manifest (or nested index) whose
 * org.opencontainers.image.ref.name is @tag; with @tag NULL the only
 * entry, or the one named "latest". */
int aur_oci_index_find_tag(const char *json, size_t len, const char *tag,
			   struct aur_oci_desc *out, char err[AUR_OCI_ERRLEN]);

/* Parse an image manifest. Caller releases. */
int aur_oci_manifest_parse(const char *json, size_t len,
			   struct aur_oci_manifest *m,
			   char err[AUR_OCI_ERRLEN]);
void aur_oci_manifest_release(struct aur_oci_manifest *m);

/* Parse an image config: platform and rootfs.diff_ids. */
int aur_oci_config_parse(const char *json, size_t len, struct aur_oci_config *c,
			 char err[AUR_OCI_ERRLEN]);
void aur_oci_config_release(struct aur_oci_config *c);

/* A docker-archive's manifest.json: the config and layer member names of
 * its only image (or the one tagged @tag). Caller frees the strings. */
struct aur_oci_docker_archive {
	char *config;
	char **layers;
	size_t nlayers;
};
int aur_oci_docker_manifest_parse(const char *json, size_t len, const char *tag,
				  struct aur_oci_docker_archive *d,
				  char err[AUR_OCI_ERRLEN]);
void aur_oci_docker_archive_release(struct aur_oci_docker_archive *d);

/* The layer media types we can unpack: tar, gzip or zstd tar (OCI or
 * Docker). -ENOTSUP for foreign, encrypted or unknown ones. */
int aur_oci_layer_type_check(const char *media_type, char err[AUR_OCI_ERRLEN]);

/* ---- oci_auth.c ---- */

enum aur_oci_scheme {
	AUR_OCI_AUTH_NONE,
	AUR_OCI_AUTH_BASIC,
	AUR_OCI_AUTH_BEARER
};

/* A parsed WWW-Authenticate header. */
struct aur_oci_challenge {
	enum aur_oci_scheme scheme;
	char realm[1024];
	char service[256];
	char scope[512];
};

/* Parse the value of a WWW-Authenticate header (without the name):
 * 'Bearer realm="...",service="...",scope="..."' or 'Basic realm=...'.
 * Quoted strings may contain commas and escaped quotes. */
int aur_oci_challenge_parse(const char *value, struct aur_oci_challenge *c);

/* The "auth" entry (base64 "user:password") for @host in the docker
 * config at @path: keys may be "host", "https://host", "host/v1/" ...;
 * docker.io also matches index.docker.io. -ENOENT if none. Caller frees
 * *@auth. */
int aur_oci_dockercfg_lookup(const char *path, const char *host, char **auth);

/* Where the docker config is: $DOCKER_CONFIG/config.json, else
 * $HOME/.docker/config.json. NULL if neither variable is set. Caller
 * frees. */
char *aur_oci_dockercfg_path(void);

/* The token in a token endpoint's answer ("token" or "access_token"). */
int aur_oci_token_parse(const char *json, size_t len, char **token);

/* ---- oci_registry.c ---- */

struct aur_oci_registry;

/* Schemes to try for @host: https only, http only for loopback hosts,
 * https then http when @insecure. Returns the count (1 or 2). */
int aur_oci_schemes(const char *host, bool insecure, const char *out[2]);

/* A client for @ref's repository. Nothing is sent yet. */
int aur_oci_registry_new(const struct aur_oci_ref *ref, bool insecure,
			 struct aur_oci_registry **out);
void aur_oci_registry_free(struct aur_oci_registry *r);

/* GET a manifest or index by tag or digest (Accept: every type we
 * read). Checks the digest when @reference is one. *@digest is the
 * document's sha256. Caller frees *@buf. */
int aur_oci_registry_manifest(struct aur_oci_registry *r, const char *reference,
			      char **buf, size_t *len, char content_type[128],
			      char digest[AUR_OCI_DIGEST_LEN],
			      char err[AUR_OCI_ERRLEN]);

/* Stream blob @digest into @sink. A transfer that fails transiently is
 * retried and resumed (Range, or skipping what was already delivered),
 * so the sink sees every byte once, in order. */
int aur_oci_registry_blob(struct aur_oci_registry *r, const char *digest,
			  aur_fetch_sink sink, void *ctx,
			  char err[AUR_OCI_ERRLEN]);

/* A small blob (a config) into memory, verified. Caller frees. */
int aur_oci_registry_blob_small(struct aur_oci_registry *r, const char *digest,
				size_t max, char **buf, size_t *len,
				char err[AUR_OCI_ERRLEN]);

/* Exponential backoff of transient failures: tries and first delay. */
#define AUR_OCI_TRIES 4
#define AUR_OCI_BACKOFF_MS 250

/* ---- oci_daemon.c ---- */

struct aur_oci_daemon_image {
	char id[AUR_OCI_DIGEST_LEN]; /* the config digest */
	char os[32], arch[32], variant[32];
	char (*diff_ids)[AUR_OCI_DIGEST_LEN];
	size_t ndiff_ids;
};

/* What DOCKER_HOST names (unix:// path, tcp:// host), default
 * /var/run/docker.sock. -ENOENT if the socket does not exist. */
int aur_oci_daemon_endpoint(char **socket_path, char **base_url);

/* GET /images/<name>/json. -ENOENT if the daemon lacks the image or is
 * not running (@err says which). */
int aur_oci_daemon_inspect(const char *name, struct aur_oci_daemon_image *img,
			   char err[AUR_OCI_ERRLEN]);
void aur_oci_daemon_image_release(struct aur_oci_daemon_image *img);

/* GET /images/<name>/get into the file @fd (a docker-archive). */
int aur_oci_daemon_save(const char *name, int fd, char err[AUR_OCI_ERRLEN]);

/* ---- oci_store.c ---- */

/* Bytes of a layer on their way into the store. */
struct aur_oci_ingest;

/* How a layer arrives: called once with the ingest's sink; it pushes the
 * blob's bytes in order. */
typedef int (*aur_oci_feed_fn)(void *ctx, aur_fetch_sink sink, void *sink_ctx,
			       char err[AUR_OCI_ERRLEN]);

struct aur_oci_progress {
	void (*fn)(void *ctx, uint64_t done, uint64_t total);
	void *ctx;
	uint64_t done, total;
};

/* Make layer @diff_id present in the store under @state_dir: if it is
 * not there yet, take its lock (waiting for another process writing it),
 * look again, then run @feed into a temporary file: the compressed bytes
 * are hashed against @blob_digest (NULL: not known, e.g. docker-archive
 * members), decompressed (gzip, zstd or none, by magic) and hashed
 * against @diff_id; only if both match is the file fsynced and renamed
 * into place. Fills @layer (path and size). *@fetched tells whether
 * bytes were pulled (false: already stored). */
int aur_oci_store_layer(const char *state_dir, const char *diff_id,
			const char *blob_digest, aur_oci_feed_fn feed,
			void *feed_ctx, struct aur_oci_progress *progress,
			struct aur_oci_layer *layer, bool *fetched,
			char err[AUR_OCI_ERRLEN]);

/* If layer @diff_id is already stored: fill @layer and return 0, else
 * -ENOENT. */
int aur_oci_store_lookup(const char *state_dir, const char *diff_id,
			 struct aur_oci_layer *layer);

/* A stored config by digest (re-verified on read). Caller frees. */
int aur_oci_store_config_get(const char *state_dir, const char *digest,
			     char **buf, size_t *len);
int aur_oci_store_config_put(const char *state_dir, const char *digest,
			     const char *buf, size_t len);

/* The resolution of a source for an arch: the manifest chosen and its
 * config digest. */
struct aur_oci_resolution {
	char manifest[AUR_OCI_DIGEST_LEN];
	char config[AUR_OCI_DIGEST_LEN];
	char origin[16];
	int64_t when; /* unix time it was first stored */
};
int aur_oci_store_ref_get(const char *state_dir, const char *key,
			  struct aur_oci_resolution *res);
int aur_oci_store_ref_put(const char *state_dir, const char *key,
			  const struct aur_oci_resolution *res);

/* ---- oci_archive.c ---- */

/* Where an image's blobs are read from on disk. */
struct aur_oci_local;

/* An OCI layout directory. */
int aur_oci_layout_open(const char *dir, struct aur_oci_local **out,
			char err[AUR_OCI_ERRLEN]);
/* A tarball: a docker-archive (manifest.json) or an OCI archive
 * (oci-layout and index.json inside). */
int aur_oci_archive_open(const char *path, struct aur_oci_local **out,
			 char err[AUR_OCI_ERRLEN]);
/* The same from an open tarball (takes ownership of @fd, even on
 * failure); @name is for messages. */
int aur_oci_archive_from_fd(int fd, const char *name,
			    struct aur_oci_local **out,
			    char err[AUR_OCI_ERRLEN]);
void aur_oci_local_free(struct aur_oci_local *l);

/* Resolve the image (@tag for layouts, NULL for the default), choose the
 * platform, store every layer; fills @img's manifest/config/layer
 * fields. */
int aur_oci_local_pull(struct aur_oci_local *l, const char *tag,
		       const struct aur_oci_platform *want,
		       const char *state_dir, struct aur_oci_progress *prog,
		       struct aur_oci_image *img, char err[AUR_OCI_ERRLEN]);

/* A member name of an archive, checked: relative, no "..", no empty
 * components; "./" prefixes dropped. NULL if unsafe. Caller frees. */
char *aur_oci_member_name(const char *name);

/* ---- oci.c ---- */

/* Fill @img's config fields from a verified config document (takes a
 * copy). */
int aur_oci_image_set_config(struct aur_oci_image *img, const char *digest,
			     const char *json, size_t len,
			     struct aur_oci_config *parsed,
			     char err[AUR_OCI_ERRLEN]);

#endif
