// SPDX-License-Identifier: GPL-2.0-or-later
#include <aurora/eltorito.h>
#include <aurora/iso9660.h>
#include <aurora/parttable.h>

#include <errno.h>
#include <string.h>

#define ENTRY 32

uint32_t aur_eltorito_catalog(const uint8_t *vd)
{
	static const char id[] = "EL TORITO SPECIFICATION";

	if (vd[0] != 0 || memcmp(vd + 1, "CD001", 5) != 0 ||
	    memcmp(vd + 7, id, sizeof(id) - 1) != 0)
		return 0;
	return iso_le32(vd + 71);
}

static int valid_validation_entry(const uint8_t *e)
{
	uint16_t sum = 0;

	if (e[0] != 1 || e[30] != 0x55 || e[31] != 0xaa)
		return 0;
	for (int i = 0; i < ENTRY; i += 2)
		sum = (uint16_t)(sum + iso_le16(e + i));
	return sum == 0;
}

static int shift_entry(uint8_t *e, const struct aur_shift *shift)
{
	uint32_t rba = iso_le32(e + 8);
	uint64_t moved = aur_shift_pos(shift, rba, ISO_BLOCK);

	if (moved == rba)
		return 0;
	iso_put_le32(e + 8, (uint32_t)moved);
	return 1;
}

int aur_eltorito_shift(uint8_t *cat, const struct aur_shift *shift)
{
	int changed;
	size_t pos;

	if (!valid_validation_entry(cat))
		return -EINVAL;
	/* the initial/default entry, then sections of entries */
	changed = shift_entry(cat + ENTRY, shift);
	for (pos = 2 * ENTRY; pos + ENTRY <= ISO_BLOCK;) {
		uint8_t *h = cat + pos;
		unsigned n;

		if (h[0] != 0x90 && h[0] != 0x91)
			break;
		n = iso_le16(h + 2);
		pos += ENTRY;
		for (unsigned i = 0; i < n && pos + ENTRY <= ISO_BLOCK; i++) {
			uint8_t *e = cat + pos;

			pos += ENTRY;
			changed += shift_entry(e, shift);
			/* extension records that follow this entry */
			while (pos + ENTRY <= ISO_BLOCK && cat[pos] == 0x44)
				pos += ENTRY;
		}
		if (h[0] == 0x91)
			break;
	}
	return changed;
}
