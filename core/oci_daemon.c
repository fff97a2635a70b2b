// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * A Docker-compatible daemon (Docker, podman system service) over its
 * API: GET /images/<name>/json tells the image ID, platform and diff_ids;
 * GET /images/<name>/get streams it as a docker-archive. The socket is
 * DOCKER_HOST (unix:///path, or tcp://host:port as plain HTTP), else
 * /var/run/docker.sock.
 */
#include "oci_i.h"

#include <aurora/util.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include <curl/curl.h>
#include <jansson.h>

#define DEFAULT_SOCKET "/var/run/docker.sock"

int aur_oci_daemon_endpoint(char **socket_path, char **base_url)
{
	const char *host = getenv("DOCKER_HOST");
	struct stat st;

	*socket_path = NULL;
	*base_url = NULL;
	if (host && aur_startswith(host, "tcp://")) {
		*base_url = aur_printf("http://%s", host + 6);
		return *base_url ? 0 : -ENOMEM;
	}
	if (host && *host && !aur_startswith(host, "unix://"))
		return -EINVAL;
	*socket_path = strdup(host && *host ? host + 7 : DEFAULT_SOCKET);
	*base_url = strdup("http://localhost");
	if (!*socket_path || !*base_url) {
		free(*socket_path);
		free(*base_url);
		return -ENOMEM;
	}
	if (stat(*socket_path, &st) < 0 || !S_ISSOCK(st.st_mode)) {
		free(*socket_path);
		free(*base_url);
		*socket_path = *base_url = NULL;
		return -ENOENT;
	}
	return 0;
}

struct xfer {
	char *buf; /* to memory (at most max bytes) ... */
	size_t len, max;
	int fd; /* ... or to a file */
	uint64_t off;
	int err;
};

static size_t on_body(char *p, size_t size, size_t nmemb, void *ctx)
{
	struct xfer *x = ctx;
	size_t n = size * nmemb;
	char *q;

	if (x->fd >= 0) {
		x->err = aur_pwrite_full(x->fd, p, n, x->off);
		x->off += n;
		return x->err < 0 ? 0 : n;
	}
	if (x->len + n > x->max) {
		x->err = -EFBIG;
		return 0;
	}
	q = realloc(x->buf, x->len + n + 1);
	if (!q) {
		x->err = -ENOMEM;
		return 0;
	}
	x->buf = q;
	memcpy(x->buf + x->len, p, n);
	x->len += n;
	x->buf[x->len] = '\0';
	return n;
}

static int daemon_get(const char *name, const char *what, struct xfer *x,
		      char err[AUR_OCI_ERRLEN])
{
	char *sock = NULL, *base = NULL, *url = NULL;
	char curl_err[CURL_ERROR_SIZE] = "";
	CURL *h = NULL;
	long status = 0;
	CURLcode rc;
	int r = aur_oci_daemon_endpoint(&sock, &base);

	if (r < 0) {
		snprintf(err, AUR_OCI_ERRLEN, "no daemon socket (%s)",
			 r == -ENOENT ? "DOCKER_HOST or " DEFAULT_SOCKET
					" does not exist"
				      : "DOCKER_HOST is not unix:// or tcp://");
		return -ENOENT;
	}
	url = aur_printf("%s/images/%s/%s", base, name, what);
	h = curl_easy_init();
	if (!url || !h) {
		r = -ENOMEM;
		goto out;
	}
	curl_easy_setopt(h, CURLOPT_URL, url);
	if (sock)
		curl_easy_setopt(h, CURLOPT_UNIX_SOCKET_PATH, sock);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, curl_err);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http");
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, 10L);
	curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1024L);
	curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, 60L);
	curl_easy_setopt(h, CURLOPT_FAILONERROR, 1L);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, x);
	rc = curl_easy_perform(h);
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
	if (x->err < 0) {
		r = x->err;
		snprintf(err, AUR_OCI_ERRLEN, "daemon '%s': %s", url,
			 strerror(-r));
	} else if (rc == CURLE_HTTP_RETURNED_ERROR) {
		r = status == 404 ? -ENOENT : -EIO;
		snprintf(err, AUR_OCI_ERRLEN, "daemon '%s': HTTP %ld%s", url,
			 status, status == 404 ? " (no such image)" : "");
	} else if (rc != CURLE_OK) {
		r = rc == CURLE_COULDNT_CONNECT ? -ENOENT : -EIO;
		snprintf(err, AUR_OCI_ERRLEN, "daemon '%s': %s", url,
			 curl_err[0] ? curl_err : curl_easy_strerror(rc));
	}
out:
	if (h)
		curl_easy_cleanup(h);
	free(url);
	free(sock);
	free(base);
	return r;
}

static void copy_field(char *dst, size_t n, json_t *obj, const char *key)
{
	const char *v = json_string_value(json_object_get(obj, key));

	snprintf(dst, n, "%s", v && strlen(v) < n ? v : "");
}

int aur_oci_daemon_inspect(const char *name, struct aur_oci_daemon_image *img,
			   char err[AUR_OCI_ERRLEN])
{
	struct xfer x = {.fd = -1, .max = AUR_OCI_CONFIG_MAX};
	json_t *root = NULL, *layers, *l;
	const char *id;
	size_t i;
	int r;

	memset(img, 0, sizeof(*img));
	r = daemon_get(name, "json", &x, err);
	if (r < 0)
		goto out;
	r = -EBADMSG;
	root = json_loadb(x.buf, x.len, 0, NULL);
	id = json_string_value(json_object_get(root, "Id"));
	layers = json_object_get(json_object_get(root, "RootFS"), "Layers");
	if (!id || !aur_oci_digest_valid(id) || !json_is_array(layers) ||
	    json_array_size(layers) > AUR_OCI_LAYERS_MAX) {
		snprintf(err, AUR_OCI_ERRLEN,
			 "daemon: unexpected answer for image '%s'", name);
		goto out;
	}
	snprintf(img->id, sizeof(img->id), "%s", id);
	copy_field(img->os, sizeof(img->os), root, "Os");
	copy_field(img->arch, sizeof(img->arch), root, "Architecture");
	copy_field(img->variant, sizeof(img->variant), root, "Variant");
	img->diff_ids =
		calloc(json_array_size(layers) + 1, sizeof(*img->diff_ids));
	if (!img->diff_ids) {
		r = -ENOMEM;
		goto out;
	}
	json_array_foreach(layers, i, l)
	{
		const char *d = json_string_value(l);

		if (!d || !aur_oci_digest_valid(d)) {
			snprintf(err, AUR_OCI_ERRLEN,
				 "daemon: bad layer digest for image '%s'",
				 name);
			goto out;
		}
		snprintf(img->diff_ids[i], sizeof(img->diff_ids[i]), "%s", d);
		img->ndiff_ids++;
	}
	r = 0;
out:
	if (r < 0)
		aur_oci_daemon_image_release(img);
	json_decref(root);
	free(x.buf);
	return r;
}

void aur_oci_daemon_image_release(struct aur_oci_daemon_image *img)
{
	free(img->diff_ids);
	memset(img, 0, sizeof(*img));
}

int aur_oci_daemon_save(const char *name, int fd, char err[AUR_OCI_ERRLEN])
{
	struct xfer x = {.fd = fd};

	return daemon_get(name, "get", &x, err);
}
