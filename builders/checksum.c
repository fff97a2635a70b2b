// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * <file>.sha256: a sha256sum line for another file of the tree. Its size
 * is fixed by the name, so stat and ls cost nothing; the digest is
 * computed (or taken from a published checksum) on first read, and never
 * for bytes that nothing verified.
 */
#include <aurora/builder.h>
#include <aurora/log.h>
#include <aurora/source.h>
#include <aurora/tree.h>
#include <aurora/util.h>

#include <errno.h>
#include <pthread.h>
#include <string.h>

struct checksum_file {
	struct aur_source src; /* first member; its size set by build */
	struct aur_node *const *target; /* set once the target is added */
	bool (*known)(void *kctx, unsigned char digest[32]);
	void *kctx;
	pthread_mutex_t lock;
	char *line; /* computed on first read */
};

static ssize_t read_image(void *ctx, void *buf, size_t n, uint64_t off)
{
	return aur_extmap_pread(&((const struct aur_image *)ctx)->map, buf, n,
				off);
}

static int compute_line(struct checksum_file *cf)
{
	unsigned char digest[32];
	char hex[65];

	if (!cf->known || !cf->known(cf->kctx, digest)) {
		const struct aur_image *img;
		int r = aur_node_image(*cf->target, &img);

		if (r == 0)
			r = aur_extmap_settle(&img->map);
		if (r == 0)
			r = aur_sha256_read(read_image, (void *)img,
					    img->map.size, digest);
		if (r < 0) {
			aur_err("cannot compute the checksum of '%s': %s",
				(*cf->target)->name, strerror(-r));
			return r;
		}
		/* settled: downloads are complete and checked */
		if (aur_extmap_trust(&img->map) != AUR_TRUST_VERIFIED) {
			aur_err("no checksum for '%s': it is made of "
				"downloaded data that no published checksum "
				"vouches for",
				(*cf->target)->name);
			return -EIO;
		}
	}
	aur_sha256_hex(digest, hex);
	cf->line = aur_printf("%s  %s\n", hex, (*cf->target)->name);
	if (!cf->line)
		return -ENOMEM;
	return 0;
}

static int checksum_get_run(struct aur_source *src, uint64_t off, size_t n,
			    struct aur_run *run)
{
	struct checksum_file *cf = (struct checksum_file *)src;
	int r = 0;

	pthread_mutex_lock(&cf->lock);
	if (!cf->line)
		r = compute_line(cf);
	pthread_mutex_unlock(&cf->lock);
	if (r < 0)
		return r;
	run->kind = AUR_RUN_MEM;
	run->mem = (const uint8_t *)cf->line + off;
	run->len = n;
	return 0;
}

static const struct aur_source_ops checksum_source_ops = {
	.get_run = checksum_get_run,
};

static int build(void *ctx, struct aur_image *img)
{
	struct checksum_file *cf = ctx;
	const struct aur_image *target;
	int r = aur_node_image(*cf->target, &target);

	if (r < 0)
		return r;
	img->mtime = target->mtime;
	/* 64 hex digits, two spaces, the name, a newline */
	cf->src.size = 64 + 2 + strlen((*cf->target)->name) + 1;
	return aur_extmap_add_source(&img->map, "sha256sum line", &cf->src, 0,
				     cf->src.size);
}

static const struct aur_file_ops ops = {.build = build};

static void checksum_free(void *ctx)
{
	struct checksum_file *cf = ctx;

	pthread_mutex_destroy(&cf->lock);
	free(cf->line);
	free(cf);
}

int aur_checksum_file_add(struct aur_build_ctx *ctx, const char *target_fmt,
			  struct aur_node *const *target,
			  bool (*known)(void *kctx, unsigned char digest[32]),
			  void *kctx)
{
	AUR_AUTOFREE char *fmt = aur_printf("%s.sha256", target_fmt);
	struct checksum_file *cf;
	int r;

	if (ctx->unverified)
		return 0;
	cf = calloc(1, sizeof(*cf));
	if (!cf || !fmt) {
		free(cf);
		return -ENOMEM;
	}
	cf->src.ops = &checksum_source_ops;
	cf->target = target;
	cf->known = known;
	cf->kctx = kctx;
	pthread_mutex_init(&cf->lock, NULL);
	r = aur_tree_on_free(ctx->tree, checksum_free, cf);
	if (r < 0) {
		checksum_free(cf);
		return r;
	}
	return aur_named_file_add(ctx, fmt, &ops, cf, NULL);
}
