// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Files of the tree for network clients (serve.h).
 */
#include <aurora/serve.h>
#include <aurora/tree.h>
#include <aurora/util.h>

#include <errno.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>

int aur_serve_normalize(const char *path, size_t len, char *out, size_t cap)
{
	size_t o = 0;

	if (len > AUR_SERVE_PATH_MAX || cap < AUR_SERVE_PATH_MAX + 2)
		return -EINVAL;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)path[i];

		if (c < 0x20 || c == 0x7f || c == '\\')
			return -EINVAL;
	}
	for (size_t i = 0; i < len;) {
		size_t start, n;

		while (i < len && path[i] == '/')
			i++;
		start = i;
		while (i < len && path[i] != '/')
			i++;
		n = i - start;
		if (n == 0 || (n == 1 && path[start] == '.'))
			continue;
		if (n == 2 && path[start] == '.' && path[start + 1] == '.')
			return -EACCES;
		out[o++] = '/';
		memcpy(out + o, path + start, n);
		o += n;
	}
	if (o == 0)
		out[o++] = '/';
	out[o] = '\0';
	return 0;
}

/* The validator: a digest of what names these bytes. A built image never
 * changes for the life of the mount; across mounts the same inputs give
 * the same bytes, so size and time (the inputs' time) identify them. */
static void make_etag(struct aur_served *f, const char *path)
{
	unsigned char md[32];
	char id[96];
	int n = snprintf(id, sizeof(id), "%llu/%lld/",
			 (unsigned long long)f->img->map.size,
			 (long long)f->img->mtime);
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();

	if (ctx && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) == 1 &&
	    EVP_DigestUpdate(ctx, id, (size_t)n) == 1 &&
	    EVP_DigestUpdate(ctx, path, strlen(path)) == 1 &&
	    EVP_DigestFinal_ex(ctx, md, NULL) == 1) {
		snprintf(f->etag, sizeof(f->etag),
			 "\"%02x%02x%02x%02x%02x%02x%02x%02x\"", md[0], md[1],
			 md[2], md[3], md[4], md[5], md[6], md[7]);
	} else {
		snprintf(f->etag, sizeof(f->etag), "\"%llx-%llx\"",
			 (unsigned long long)f->img->map.size,
			 (unsigned long long)f->img->mtime);
	}
	EVP_MD_CTX_free(ctx);
}

int aur_serve_open(struct aur_tree *t, const char *path, struct aur_served *f)
{
	struct aur_node *n;
	int r;

	memset(f, 0, sizeof(*f));
	errno = 0;
	n = aur_tree_find(t, path);
	if (!n) /* a populate function's failure is not "no such file" */
		return errno == 0 || errno == ENOENT || errno == ENOTDIR ||
				       errno == ENAMETOOLONG
			       ? -ENOENT
			       : -errno;
	if (n->is_dir)
		return -EISDIR;
	r = aur_node_open_image(n, &f->img);
	if (r < 0)
		return r == -ENOENT || r == -ENOTDIR ? -EIO : r;
	f->node = n;
	make_etag(f, path);
	return 0;
}

void aur_serve_close(struct aur_served *f)
{
	if (f->node)
		aur_node_close_image(f->node, f->img);
	f->node = NULL;
	f->img = NULL;
}
