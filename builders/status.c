// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * /status: what long builds are doing (job.h), read anew at every open:
 * `cat /mnt/status` while an image is pulled or a squashfs is made.
 */
#include <aurora/builder.h>
#include <aurora/job.h>
#include <aurora/tree.h>

#include <errno.h>
#include <stdlib.h>
#include <time.h>

static int build(void *ctx, struct aur_image *img)
{
	size_t len;
	char *text = aur_job_report(&len);

	if (!text)
		return -ENOMEM;
	img->priv = text;
	img->mtime = time(NULL);
	return aur_extmap_add_mem(&img->map, "job report", text, len);
}

static void release(void *ctx, struct aur_image *img)
{
	free(img->priv);
	img->priv = NULL;
}

static const struct aur_file_ops ops = {
	.build = build,
	.release = release,
	.flags = AUR_FILE_VOLATILE,
};

static int add_files(struct aur_build_ctx *ctx)
{
	return aur_tree_add_file(ctx->tree, "/status", &ops, NULL, NULL);
}

const struct aur_builder aur_builder_status = {
	.name = "status",
	.add_files = add_files,
};
