/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * oci.h - container image sources: AuroraBoot's container_image value
 * turned into an image whose layers are stored, verified and uncompressed
 * below the state_dir, without Docker.
 *
 * Sources, as AuroraBoot accepts them:
 *   quay.io/org/name:tag, name, name@sha256:..., host:port/name:tag
 *                      a registry (OCI distribution API over libcurl)
 *   docker:REF, docker://REF
 *                      a Docker-compatible daemon (DOCKER_HOST, default
 *                      /var/run/docker.sock) when it has the image for the
 *                      platform, else the registry
 *   oci:DIR[:TAG], oci://DIR[:TAG]
 *                      an OCI image layout when DIR exists, else a registry
 *   ocifile:TAR, file:TAR
 *                      a docker-archive (docker save) or an OCI archive
 *   dir:PATH           a root filesystem directory (no layers)
 *
 * The store, below state_dir:
 *   layers/<hex>.tar   an uncompressed layer, named by its diff_id (the
 *                      SHA-256 of the tar): written to a temporary file,
 *                      fsynced and renamed only once both the compressed
 *                      blob digest and the diff_id matched; a file there
 *                      is complete and verified
 *   layers/<hex>.lock  held (flock) while a layer is written, so daemons
 *                      sharing a state_dir write each layer once
 *   oci/configs/<hex>.json  image configs, by digest
 *   oci/refs/<hex>.json     the last resolution of a source for a platform
 *                           (hex = SHA-256 of "source\nos/arch/variant"),
 *                           used when the registry is unreachable and, for
 *                           sources pinned by digest, instead of asking it
 *
 * Everything from outside (registries, daemons, archives, layouts) is
 * hostile: documents, headers and layer counts are bounded, digests must
 * be sha256:<64 hex>, and every blob is verified before it is used.
 */
#ifndef AURORA_OCI_H
#define AURORA_OCI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* "sha256:" + 64 hex + NUL, rounded up */
#define AUR_OCI_DIGEST_LEN 72

struct aur_oci_opts {
	const char *state_dir; /* absolute */
	const char *arch; /* "amd64", "arm64", "riscv64"; NULL/"" = host */
	bool insecure; /* allow-insecure-registries: plain HTTP, no TLS check */
	/* progress of the pull: bytes fetched or read so far and the total
	 * when known (0 if not); may be NULL. Called from the pulling
	 * thread. */
	void (*progress)(void *ctx, uint64_t done, uint64_t total);
	void *progress_ctx;
};

/* Where the image came from. */
enum aur_oci_origin {
	AUR_OCI_FROM_REGISTRY,
	AUR_OCI_FROM_DAEMON,
	AUR_OCI_FROM_LAYOUT, /* oci: directory */
	AUR_OCI_FROM_ARCHIVE, /* ocifile:/file: tarball */
	AUR_OCI_FROM_CACHE, /* the cached resolution (registry unreachable,
			     * or a digest-pinned source seen before) */
	AUR_OCI_FROM_DIR, /* dir: */
};

struct aur_oci_layer {
	char diff_id[AUR_OCI_DIGEST_LEN]; /* "sha256:<hex>" of the tar */
	char *path; /* <state_dir>/layers/<hex>.tar: uncompressed, verified */
	uint64_t size; /* bytes of that tar */
};

struct aur_oci_image {
	char *source; /* what was asked for, normalised (for messages) */
	enum aur_oci_origin origin;
	/* the manifest chosen for the platform ("" for dir: and daemon
	 * sources, which have none) */
	char manifest_digest[AUR_OCI_DIGEST_LEN];
	char config_digest[AUR_OCI_DIGEST_LEN]; /* the image ID */
	char *config; /* the image config JSON, NUL-terminated */
	size_t config_len;
	char *os, *arch, *variant; /* from the config; variant may be "" */
	struct aur_oci_layer *layers; /* bottom layer first */
	size_t nlayers;
	char *dir; /* dir: sources only: the directory (absolute) */
};

/*
 * Resolve @source for @o->arch and make every layer present in the store.
 * Blocks (network, decompression). Logs what went wrong naming the source
 * or URL, and which way the image came (daemon, registry, cache). On
 * success *@out is a new image (caller frees with aur_oci_image_free).
 * 0 or a negative errno:
 *   -EINVAL  the source is malformed, or no manifest matches the platform
 *   -ENOENT  no such image, file or directory
 *   -EACCES  the registry refused the credentials
 *   -EBADMSG a digest did not match, or a document is not what it claims
 *   -EIO     transfer failures once retries are exhausted
 *   -ENOTSUP schema 1 manifests, foreign or encrypted layers
 * Call aur_fetch_global_init() first.
 */
int aur_oci_pull(const char *source, const struct aur_oci_opts *o,
		 struct aur_oci_image **out);

/* NULL-safe. */
void aur_oci_image_free(struct aur_oci_image *img);

/* "registry", "daemon", ... for messages. */
const char *aur_oci_origin_name(enum aur_oci_origin origin);

#endif
