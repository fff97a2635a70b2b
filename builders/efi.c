// SPDX-License-Identifier: GPL-2.0-or-later
#include <aurora/efi.h>
#include <aurora/log.h>
#include <aurora/rootfs.h>
#include <aurora/spawn.h>
#include <aurora/staging.h>
#include <aurora/util.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define COPY_STEP (64u << 10)
#define FAT_VOLUME_ID "4b41494f" /* fixed, so that images are repeatable */

static const char *const shim_x86[] = {
	"/usr/share/efi/x86_64/shim.efi",
	"/usr/lib/shim/shimx64.efi.dualsigned",
	"/usr/lib/shim/shimx64.efi.signed.latest",
	"/usr/lib/shim/shimx64.efi.signed",
	"/boot/efi/EFI/fedora/shim.efi",
	"/boot/efi/EFI/rocky/shim.efi",
	"/boot/efi/EFI/redhat/shim.efi",
	"/boot/efi/EFI/redhat/shimx64.efi",
	"/boot/efi/EFI/almalinux/shim.efi",
	NULL};

static const char *const grub_x86[] = {
	"/usr/share/efi/x86_64/grub.efi",
	"/usr/lib/grub/x86_64-efi-signed/grubx64.efi.signed",
	"/boot/efi/EFI/fedora/grubx64.efi",
	"/boot/efi/EFI/rocky/grubx64.efi",
	"/boot/efi/EFI/redhat/grubx64.efi",
	"/boot/efi/EFI/almalinux/grubx64.efi",
	"/usr/lib/grub/x86_64-efi/grubx64.efi",
	NULL};

static const char *const shim_arm[] = {
	"/usr/share/efi/aarch64/shim.efi",
	"/usr/lib/shim/shimaa64.efi.dualsigned",
	"/usr/lib/shim/shimaa64.efi.signed.latest",
	"/usr/lib/shim/shimaa64.efi.signed",
	"/boot/efi/EFI/fedora/shim.efi",
	"/boot/efi/EFI/rocky/shim.efi",
	"/boot/efi/EFI/redhat/shim.efi",
	"/boot/efi/EFI/redhat/shimaa64.efi",
	"/boot/efi/EFI/almalinux/shim.efi",
	NULL};

static const char *const grub_arm[] = {
	"/usr/share/efi/aarch64/grub.efi",
	"/usr/lib/grub/arm64-efi-signed/grubaa64.efi.signed",
	"/boot/efi/EFI/fedora/grubaa64.efi",
	"/boot/efi/EFI/rocky/grubaa64.efi",
	"/boot/efi/EFI/redhat/grubaa64.efi",
	"/boot/efi/EFI/almalinux/grubaa64.efi",
	"/usr/lib/grub/arm64-efi/grubaa64.efi",
	NULL};

/* Debian's and Ubuntu's GRUB for CDs: it reads ISO 9660 */
static const char live_grub_x86[] =
	"/usr/lib/grub/x86_64-efi-signed/gcdx64.efi.signed";
static const char live_grub_arm[] =
	"/usr/lib/grub/arm64-efi-signed/gcdaa64.efi.signed";

static const struct aur_fnode *regular(const struct aur_rootfs *fs,
				       const char *path)
{
	const struct aur_fnode *n = aur_rootfs_lookup(fs, path, true);

	if (!n)
		return NULL;
	n = aur_fnode_inode(n);
	return S_ISREG(n->mode) ? n : NULL;
}

static const struct aur_fnode *first(const struct aur_rootfs *fs,
				     const char *const *paths,
				     const char **found)
{
	for (size_t i = 0; paths[i]; i++) {
		const struct aur_fnode *n = regular(fs, paths[i]);

		if (n) {
			*found = paths[i];
			return n;
		}
	}
	return NULL;
}

/* The name on the ESP: the file's own without a signing suffix; the
 * live GRUB under the name the shim starts. */
static void esp_name(const char *path, char *out, size_t n)
{
	static const char *const suffixes[] = {".signed.latest", ".dualsigned",
					       ".signed"};
	const char *base = strrchr(path, '/') + 1;
	size_t len = strlen(base);

	for (size_t i = 0; i < AUR_ARRAY_SIZE(suffixes); i++) {
		size_t sl = strlen(suffixes[i]);

		if (len > sl && strcmp(base + len - sl, suffixes[i]) == 0) {
			len -= sl;
			break;
		}
	}
	snprintf(out, n, "%.*s", (int)len, base);
	if (strcmp(out, "gcdx64.efi") == 0)
		snprintf(out, n, "grubx64.efi");
	else if (strcmp(out, "gcdaa64.efi") == 0)
		snprintf(out, n, "grubaa64.efi");
}

int aur_efi_find(const struct aur_rootfs *fs, bool arm, bool live,
		 struct aur_efi_loaders *out)
{
	const char *shim_path = NULL, *grub_path = NULL;

	memset(out, 0, sizeof(*out));
	out->boot_name = arm ? "bootaa64.efi" : "bootx64.efi";
	out->shim = first(fs, arm ? shim_arm : shim_x86, &shim_path);
	if (live) {
		grub_path = arm ? live_grub_arm : live_grub_x86;
		out->grub = regular(fs, grub_path);
	}
	if (!out->grub)
		out->grub = first(fs, arm ? grub_arm : grub_x86, &grub_path);
	if (!out->grub) {
		aur_err("the image has no EFI GRUB (looked for %s and the "
			"other places AuroraBoot looks)",
			arm ? grub_arm[0] : grub_x86[0]);
		return -ENOENT;
	}
	esp_name(grub_path, out->grub_name, sizeof(out->grub_name));
	if (out->shim)
		esp_name(shim_path, out->shim_name, sizeof(out->shim_name));
	else
		aur_info("the image has no shim: GRUB itself is the EFI "
			 "loader (%s)",
			 out->boot_name);
	return 0;
}

uint64_t aur_fat_files_bytes(const struct aur_fat_file *files, size_t n)
{
	uint64_t total = 0;

	for (size_t i = 0; i < n; i++) {
		uint64_t len =
			files[i].node ? files[i].node->size : files[i].len;

		total += AUR_DIV_ROUND_UP(len, 4096) * 4096;
	}
	return total;
}

/* Copy the image at @path to @out_fd, leaving holes where it is zero: a
 * FAT is mostly free space, which then takes no room in the store. */
static int copy_out(const char *path, int out_fd)
{
	static const uint8_t zero[COPY_STEP];
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	AUR_AUTOFREE uint8_t *buf = malloc(COPY_STEP);
	struct stat st;
	int r = 0;

	if (fd < 0)
		return -errno;
	if (!buf || fstat(fd, &st) < 0)
		r = buf ? -errno : -ENOMEM;
	for (uint64_t off = 0; r == 0 && off < (uint64_t)st.st_size;) {
		size_t n = (size_t)AUR_MIN((uint64_t)COPY_STEP,
					   (uint64_t)st.st_size - off);
		ssize_t got = aur_pread_full(fd, buf, n, off);

		if (got < 0)
			r = (int)got;
		else if ((size_t)got != n)
			r = -EIO; /* the file shrank under us */
		else if (memcmp(buf, zero, n) != 0)
			r = aur_pwrite_full(out_fd, buf, n, off);
		off += n;
	}
	if (r == 0 && ftruncate(out_fd, st.st_size) < 0)
		r = -errno;
	close(fd);
	return r;
}

/* mcopy every top-level entry of @root (in name order) into @img. */
static int copy_tree(const char *root, const char *img, const char *const env[],
		     const char *what)
{
	struct dirent **names = NULL;
	int count = scandir(root, &names, NULL, alphasort);
	const char **argv;
	size_t argc = 0;
	int r = 0;

	if (count < 0)
		return -errno;
	argv = calloc((size_t)count + 7, sizeof(*argv));
	if (!argv)
		r = -ENOMEM;
	if (r == 0) {
		argv[argc++] = "mcopy";
		argv[argc++] = "-s";
		argv[argc++] = "-m";
		argv[argc++] = "-i";
		argv[argc++] = img;
	}
	for (int i = 0; i < count; i++) {
		if (r == 0 && names[i]->d_name[0] != '.') {
			char *p = aur_printf("%s/%s", root, names[i]->d_name);

			if (!p)
				r = -ENOMEM;
			else
				argv[argc++] = p;
		}
		free(names[i]);
	}
	free(names);
	if (r == 0) {
		argv[argc++] = "::";
		r = aur_run(argv, env, what);
	}
	for (size_t i = 5; argv && i < argc && argv[i] && strcmp(argv[i], "::");
	     i++)
		free((char *)argv[i]);
	free(argv);
	return r;
}

int aur_fat_image(const char *state_dir, const char *what, const char *label,
		  uint64_t kib, const struct aur_fat_file *files, size_t n,
		  time_t epoch, int fd)
{
	struct aur_staging *s = NULL;
	AUR_AUTOFREE char *img = NULL;
	AUR_AUTOFREE char *root = NULL;
	char size[32];
	int r = aur_staging_open(state_dir, what, epoch, &s);

	if (r < 0)
		return r;
	img = aur_staging_path(s, "fat.img");
	root = aur_staging_path(s, "tree");
	if (!img || !root) {
		r = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; r == 0 && i < n; i++) {
		AUR_AUTOFREE char *rel = aur_printf("tree/%s", files[i].path);

		r = rel ? aur_staging_put(s, rel, files[i].data, files[i].len,
					  files[i].node)
			: -ENOMEM;
	}
	if (r < 0)
		goto out;
	snprintf(size, sizeof(size), "%llu", (unsigned long long)kib);
	{
		const char *const env[] = {"MTOOLS_SKIP_CHECK=1",
					   aur_staging_epoch_env(s), NULL};
		const char *const mkfs[] = {
			"mkfs.vfat", "-C",  "--invariant", "-i", FAT_VOLUME_ID,
			"-n",	     label, img,	   size, NULL};

		r = aur_run(mkfs, env, what);
		if (r == 0)
			r = aur_staging_settle(s, "tree");
		if (r == 0)
			r = copy_tree(root, img, env, what);
	}
	if (r == 0)
		r = copy_out(img, fd);
out:
	aur_staging_close(s);
	return r;
}
