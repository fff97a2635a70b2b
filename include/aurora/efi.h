/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * efi.h - the EFI boot pieces AuroraBoot takes from a rootfs, and the FAT
 * images (the live ISO's EFI image, a disk's ESP) they go on.
 *
 * Loaders are looked up where the distributions keep them, in
 * AuroraBoot's order: the shim first (EFI/BOOT/BOOTX64.EFI), then GRUB
 * under its own name without the signing suffix. Live media prefer
 * Debian's gcd*.efi (it reads ISO 9660), stored as grubx64.efi. An image
 * without a shim boots its GRUB directly: GRUB is then BOOTX64.EFI.
 *
 * FAT images are made by mkfs.vfat and mcopy in a staging directory,
 * with a fixed volume id and fixed times: deterministic, and they need no
 * privilege (no mount, no loop device).
 */
#ifndef AURORA_EFI_H
#define AURORA_EFI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

struct aur_rootfs;
struct aur_fnode;

struct aur_efi_loaders {
	const struct aur_fnode *shim; /* NULL if the image has none */
	const struct aur_fnode *grub;
	char shim_name[64]; /* e.g. "shimx64.efi" */
	char grub_name[64]; /* e.g. "grubx64.efi" */
	const char *boot_name; /* "bootx64.efi", "bootaa64.efi" */
};

/* Find the loaders of @fs for @arm (arm64) or x86_64; @live prefers the
 * live-media GRUB. 0, or -ENOENT (logged) when there is no GRUB. */
int aur_efi_find(const struct aur_rootfs *fs, bool arm, bool live,
		 struct aur_efi_loaders *out);

/* A file of a FAT image: @data (@len bytes), or the rootfs file @node. */
struct aur_fat_file {
	const char *path; /* "EFI/BOOT/grub.cfg" */
	const void *data;
	size_t len;
	const struct aur_fnode *node;
};

/*
 * Write into @fd a FAT image of @kib KiB labelled @label holding @files,
 * every time stamp @epoch. Works in <state_dir>/tmp. @what names it in
 * messages. 0 or -errno (logged).
 */
int aur_fat_image(const char *state_dir, const char *what, const char *label,
		  uint64_t kib, const struct aur_fat_file *files, size_t n,
		  time_t epoch, int fd);

/* Bytes the files take, rounded up to 4 KiB clusters each. */
uint64_t aur_fat_files_bytes(const struct aur_fat_file *files, size_t n);

#endif
