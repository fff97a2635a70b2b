// SPDX-License-Identifier: GPL-2.0-or-later
#include <aurora/vhd.h>

#define SECTOR 512
#define MAX_SECTORS (UINT64_C(65535) * 16 * 255)
#define MIB_SECTORS 2048

/* The specification's algorithm ("CHS calculation"). */
uint32_t aur_vhd_geometry(uint64_t bytes)
{
	uint64_t sectors = bytes / SECTOR;
	uint64_t cyl_heads, heads, spt;

	if (sectors > MAX_SECTORS)
		sectors = MAX_SECTORS;
	if (sectors >= UINT64_C(65535) * 16 * 63) {
		spt = 255;
		heads = 16;
		cyl_heads = sectors / spt;
	} else {
		spt = 17;
		cyl_heads = sectors / spt;
		heads = (cyl_heads + 1023) / 1024;
		if (heads < 4)
			heads = 4;
		if (cyl_heads >= heads * 1024 || heads > 16) {
			spt = 31;
			heads = 16;
			cyl_heads = sectors / spt;
		}
		if (cyl_heads >= heads * 1024) {
			spt = 63;
			heads = 16;
			cyl_heads = sectors / spt;
		}
	}
	return (uint32_t)((cyl_heads / heads) << 16 | heads << 8 | spt);
}

uint64_t aur_vhd_geometry_bytes(uint32_t g)
{
	return (uint64_t)(g >> 16) * ((g >> 8) & 0xff) * (g & 0xff) * SECTOR;
}

uint64_t aur_vhd_exact_mib(uint64_t mib)
{
	/* whole cylinders of 63 x 16 sectors come every 63 MiB at most:
	 * the search is short */
	for (uint64_t m = mib; m * MIB_SECTORS < MAX_SECTORS; m++) {
		uint64_t bytes = m * MIB_SECTORS * SECTOR;

		if (aur_vhd_geometry_bytes(aur_vhd_geometry(bytes)) == bytes)
			return m;
	}
	return mib;
}
