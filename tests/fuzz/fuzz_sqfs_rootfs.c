// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Fuzz target: a hostile squashfs (a release's rootfs.squashfs that no
 * checksum vouches for) read back into a rootfs, then every regular
 * file's bytes read and every symlink followed.
 */
#include <aurora/log.h>
#include <aurora/rootfs.h>
#include <aurora/source.h>
#include <aurora/sqfs_rootfs.h>

#include <stdlib.h>
#include <sys/stat.h>

static void quiet(void *ctx, int level, const char *msg)
{
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	aur_log_set_sink(quiet, NULL);
	return 0;
}

/* Read every file (at most 1 MiB of each: sizes are the input's word). */
static int visit(void *ctx, struct aur_fnode *n)
{
	const struct aur_fnode *in = aur_fnode_inode(n);
	const struct aur_rootfs *fs = ctx;
	char path[4096], buf[4096];

	if (S_ISREG(in->mode) && in->src) {
		uint64_t end = in->size < (1u << 20) ? in->size : (1u << 20);

		for (uint64_t off = 0; off < end; off += sizeof(buf))
			if (aur_source_pread(in->src, buf, sizeof(buf),
					     in->off + off) <= 0)
				break;
	}
	if (S_ISLNK(in->mode) && aur_fnode_path(n, path, sizeof(path)) == 0)
		aur_rootfs_lookup(fs, path, true);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct aur_mem_source src;
	struct aur_rootfs *fs;

	aur_mem_source_init(&src, data, size);
	if (aur_squashfs_rootfs(&src.src, "fuzz", &fs) == 0) {
		aur_rootfs_walk(fs, visit, fs);
		aur_rootfs_free(fs);
	}
	return 0;
}
