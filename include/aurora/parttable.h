/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * parttable.h - the partition tables of a hybrid ISO's system area (MBR,
 * GPT, Apple Partition Map), and how they change when bytes are inserted
 * into the image.
 *
 * An insertion of @by bytes at byte @at moves every position at or after
 * @at by @by. Applied to both ends of a partition (the end exclusive),
 * that shifts partitions after the insertion point and grows the one that
 * ends at or runs over it: the partition holding the ISO 9660 data keeps
 * covering all of it, new data included. GPT headers, both entry arrays
 * and their CRCs are rewritten to match.
 */
#ifndef AURORA_PARTTABLE_H
#define AURORA_PARTTABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define AUR_SYSTEM_AREA 32768u /* bytes before the first volume descriptor */

struct aur_shift {
	uint64_t at, by; /* bytes, multiples of 2048 */
};

/* Position @x, counted in @unit-byte sectors, after the shift. */
uint64_t aur_shift_pos(const struct aur_shift *s, uint64_t x, unsigned unit);

struct aur_parts {
	bool mbr, gpt, apm;
	/* GPT: where the backup header and entries are (byte offsets) */
	uint64_t gpt_backup_header, gpt_backup_entries;
	uint32_t gpt_entries_bytes;
};

/* Find the tables in @sys (the first AUR_SYSTEM_AREA bytes). */
void aur_parts_find(const uint8_t *sys, struct aur_parts *p);

/* Call @fn for the start and the end (exclusive) of every partition, in
 * bytes. */
void aur_parts_each_boundary(const uint8_t *sys, const struct aur_parts *p,
			     void (*fn)(uint64_t byte, void *ctx), void *ctx);

/*
 * Rewrite the tables in @sys for @shift. For a GPT, also produce the new
 * backup: *@backup (malloc'd, caller frees) of *@backup_len bytes to be
 * placed at byte *@backup_off of the new image. 0 or -ENOMEM/-EINVAL.
 */
int aur_parts_shift(uint8_t *sys, const struct aur_parts *p,
		    const struct aur_shift *shift, uint8_t **backup,
		    size_t *backup_len, uint64_t *backup_off);

/* CRC-32 as GPT uses it (IEEE 802.3). */
uint32_t aur_crc32(const uint8_t *p, size_t n);

#endif
