/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * gpt.h - a GUID partition table for a disk aurorafs generates: the
 * protective MBR, the primary header and entry array at the start, and the
 * backup entry array and header at the very end of the disk (512-byte
 * sectors, 128 entries of 128 bytes, as every tool writes it).
 */
#ifndef AURORA_GPT_H
#define AURORA_GPT_H

#include <stddef.h>
#include <stdint.h>

#define AUR_SECTOR 512u
#define AUR_GPT_ENTRIES 128u
#define AUR_GPT_ENTRY_SIZE 128u
/* the protective MBR, the header, the entry array */
#define AUR_GPT_HEAD_BYTES \
	(2 * AUR_SECTOR + AUR_GPT_ENTRIES * AUR_GPT_ENTRY_SIZE)
/* the backup entry array and header */
#define AUR_GPT_TAIL_BYTES (AUR_GPT_ENTRIES * AUR_GPT_ENTRY_SIZE + AUR_SECTOR)

/* GPT attribute bits */
#define AUR_GPT_ATTR_REQUIRED (1ull << 0)
#define AUR_GPT_ATTR_LEGACY_BOOTABLE (1ull << 2)

struct aur_gpt_part {
	uint8_t type[16]; /* type GUID, in GPT's mixed-endian byte order */
	uint8_t guid[16]; /* unique GUID, same order */
	uint64_t first_lba, last_lba; /* inclusive */
	uint64_t attrs;
	const char *name; /* ASCII, at most 36 characters */
};

/* Parse "C12A7328-F81F-11D2-BA4B-00A0C93EC93B" into GPT byte order.
 * 0 or -EINVAL. */
int aur_guid_parse(const char *s, uint8_t out[16]);

/*
 * Write the tables of a disk of @disk_bytes (a multiple of 512) with
 * @parts (at most 128, inside the usable area between the tables) and
 * @disk_guid: @head gets AUR_GPT_HEAD_BYTES for byte 0 of the disk, @tail
 * AUR_GPT_TAIL_BYTES for its last bytes. The MBR's boot code area (its
 * first 440 bytes) is left zero for the caller. 0 or -EINVAL.
 */
int aur_gpt_write(uint64_t disk_bytes, const uint8_t disk_guid[16],
		  const struct aur_gpt_part *parts, size_t n, uint8_t *head,
		  uint8_t *tail);

#endif
