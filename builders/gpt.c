// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Writing GPT partition tables (gpt.h). Layouts are the UEFI
 * specification's, all fields little-endian.
 */
#include <aurora/gpt.h>
#include <aurora/iso9660.h>
#include <aurora/parttable.h>
#include <aurora/util.h>

#include <ctype.h>
#include <errno.h>
#include <string.h>

/* The GPT header, byte offsets of its fields. */
enum gpt_header_field {
	GPT_SIGNATURE = 0, /* "EFI PART" */
	GPT_REVISION = 8,
	GPT_HEADER_SIZE = 12,
	GPT_HEADER_CRC = 16,
	GPT_MY_LBA = 24,
	GPT_ALTERNATE_LBA = 32,
	GPT_FIRST_USABLE = 40,
	GPT_LAST_USABLE = 48,
	GPT_DISK_GUID = 56,
	GPT_ENTRIES_LBA = 72,
	GPT_NUM_ENTRIES = 80,
	GPT_ENTRY_SIZE = 84,
	GPT_ENTRIES_CRC = 88,
	GPT_HEADER_BYTES = 92,
};

/* A partition entry. */
enum gpt_entry_field {
	ENTRY_TYPE = 0,
	ENTRY_GUID = 16,
	ENTRY_FIRST = 32,
	ENTRY_LAST = 40,
	ENTRY_ATTRS = 48,
	ENTRY_NAME = 56, /* 36 UTF-16LE code units */
};
#define ENTRY_NAME_UNITS 36

/* The protective MBR's one partition. */
enum mbr_field {
	MBR_PART1 = 446,
	MBR_SIGNATURE = 510,
	PART_STATUS = 0,
	PART_CHS_FIRST = 1,
	PART_TYPE = 4,
	PART_CHS_LAST = 5,
	PART_LBA = 8,
	PART_SECTORS = 12,
};
#define MBR_TYPE_PROTECTIVE 0xee

static void put_le64(uint8_t *p, uint64_t v)
{
	iso_put_le32(p, (uint32_t)v);
	iso_put_le32(p + 4, (uint32_t)(v >> 32));
}

static int hexval(char c)
{
	return isdigit((unsigned char)c) ? c - '0'
					 : tolower((unsigned char)c) - 'a' + 10;
}

int aur_guid_parse(const char *s, uint8_t out[16])
{
	/* byte i of the text order lands at pos[i]: the first three fields
	 * are stored little-endian */
	static const uint8_t pos[16] = {3, 2, 1,  0,  5,  4,  7,  6,
					8, 9, 10, 11, 12, 13, 14, 15};
	size_t b = 0;

	if (strlen(s) != 36)
		return -EINVAL;
	for (size_t i = 0; i < 36;) {
		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (s[i++] != '-')
				return -EINVAL;
			continue;
		}
		if (!isxdigit((unsigned char)s[i]) ||
		    !isxdigit((unsigned char)s[i + 1]))
			return -EINVAL;
		out[pos[b++]] = (uint8_t)(hexval(s[i]) << 4 | hexval(s[i + 1]));
		i += 2;
	}
	return 0;
}

static void write_entries(const struct aur_gpt_part *parts, size_t n,
			  uint8_t *entries)
{
	memset(entries, 0, AUR_GPT_ENTRIES * AUR_GPT_ENTRY_SIZE);
	for (size_t i = 0; i < n; i++) {
		uint8_t *e = entries + i * AUR_GPT_ENTRY_SIZE;
		const char *name = parts[i].name ? parts[i].name : "";

		memcpy(e + ENTRY_TYPE, parts[i].type, 16);
		memcpy(e + ENTRY_GUID, parts[i].guid, 16);
		put_le64(e + ENTRY_FIRST, parts[i].first_lba);
		put_le64(e + ENTRY_LAST, parts[i].last_lba);
		put_le64(e + ENTRY_ATTRS, parts[i].attrs);
		for (size_t c = 0; c < ENTRY_NAME_UNITS && name[c]; c++)
			iso_put_le16(e + ENTRY_NAME + 2 * c,
				     (uint16_t)(uint8_t)name[c]);
	}
}

static void write_header(uint8_t *h, uint64_t my_lba, uint64_t alternate,
			 uint64_t first_usable, uint64_t last_usable,
			 const uint8_t disk_guid[16], uint64_t entries_lba,
			 uint32_t entries_crc)
{
	memset(h, 0, AUR_SECTOR);
	memcpy(h + GPT_SIGNATURE, "EFI PART", 8);
	iso_put_le32(h + GPT_REVISION, 0x00010000);
	iso_put_le32(h + GPT_HEADER_SIZE, GPT_HEADER_BYTES);
	put_le64(h + GPT_MY_LBA, my_lba);
	put_le64(h + GPT_ALTERNATE_LBA, alternate);
	put_le64(h + GPT_FIRST_USABLE, first_usable);
	put_le64(h + GPT_LAST_USABLE, last_usable);
	memcpy(h + GPT_DISK_GUID, disk_guid, 16);
	put_le64(h + GPT_ENTRIES_LBA, entries_lba);
	iso_put_le32(h + GPT_NUM_ENTRIES, AUR_GPT_ENTRIES);
	iso_put_le32(h + GPT_ENTRY_SIZE, AUR_GPT_ENTRY_SIZE);
	iso_put_le32(h + GPT_ENTRIES_CRC, entries_crc);
	iso_put_le32(h + GPT_HEADER_CRC, aur_crc32(h, GPT_HEADER_BYTES));
}

static void write_protective_mbr(uint8_t *mbr, uint64_t sectors)
{
	uint8_t *p = mbr + MBR_PART1;

	memset(mbr, 0, AUR_SECTOR);
	p[PART_STATUS] = 0;
	p[PART_CHS_FIRST + 1] = 2; /* cylinder 0, head 0, sector 2 */
	p[PART_TYPE] = MBR_TYPE_PROTECTIVE;
	memset(p + PART_CHS_LAST, 0xff, 3);
	iso_put_le32(p + PART_LBA, 1);
	iso_put_le32(p + PART_SECTORS,
		     (uint32_t)AUR_MIN(sectors - 1, (uint64_t)UINT32_MAX));
	mbr[MBR_SIGNATURE] = 0x55;
	mbr[MBR_SIGNATURE + 1] = 0xaa;
}

int aur_gpt_write(uint64_t disk_bytes, const uint8_t disk_guid[16],
		  const struct aur_gpt_part *parts, size_t n, uint8_t *head,
		  uint8_t *tail)
{
	const uint64_t entry_sectors =
		AUR_GPT_ENTRIES * AUR_GPT_ENTRY_SIZE / AUR_SECTOR;
	uint64_t sectors = disk_bytes / AUR_SECTOR;
	uint64_t first_usable = 2 + entry_sectors;
	uint64_t last_usable, backup_entries;
	uint32_t crc;

	if (disk_bytes % AUR_SECTOR || n > AUR_GPT_ENTRIES ||
	    sectors < 2 * first_usable + 1)
		return -EINVAL;
	last_usable = sectors - 2 - entry_sectors;
	backup_entries = last_usable + 1;
	for (size_t i = 0; i < n; i++)
		if (parts[i].first_lba < first_usable ||
		    parts[i].last_lba > last_usable ||
		    parts[i].first_lba > parts[i].last_lba)
			return -EINVAL;
	write_protective_mbr(head, sectors);
	write_entries(parts, n, head + 2 * AUR_SECTOR);
	crc = aur_crc32(head + 2 * AUR_SECTOR,
			AUR_GPT_ENTRIES * AUR_GPT_ENTRY_SIZE);
	write_header(head + AUR_SECTOR, 1, sectors - 1, first_usable,
		     last_usable, disk_guid, 2, crc);
	memcpy(tail, head + 2 * AUR_SECTOR,
	       AUR_GPT_ENTRIES * AUR_GPT_ENTRY_SIZE);
	write_header(tail + AUR_GPT_ENTRIES * AUR_GPT_ENTRY_SIZE, sectors - 1,
		     1, first_usable, last_usable, disk_guid, backup_entries,
		     crc);
	return 0;
}
