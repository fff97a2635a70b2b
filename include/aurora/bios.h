/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * bios.h - GRUB's BIOS boot code for a GPT disk, without grub-install: the
 * host's grub-mkimage makes core.img (every module it needs inside, and a
 * config that finds the partition labelled COS_RECOVERY and reads
 * /etc/cos/grub.cfg from it); core.img goes at the start of the BIOS boot
 * partition with its first blocklist pointing at its next sector, and
 * GRUB's boot.img, told where core.img is, becomes the MBR's code.
 */
#ifndef AURORA_BIOS_H
#define AURORA_BIOS_H

#include <stddef.h>
#include <stdint.h>

#define AUR_MBR_CODE 440 /* bytes of boot code before the disk signature */

struct aur_bios_boot {
	uint8_t mbr_code[AUR_MBR_CODE];
	uint8_t *core; /* core.img, padded to whole sectors; owned */
	size_t core_len;
};

/* Make the boot code for a core.img placed at sector @core_lba, kept in
 * the store of @state_dir. 0 or -errno (logged; -EFBIG if core.img does not
 * fit @max_core bytes). */
int aur_bios_boot_make(const char *state_dir, uint64_t core_lba,
		       size_t max_core, struct aur_bios_boot *out);

void aur_bios_boot_release(struct aur_bios_boot *b);

#endif
