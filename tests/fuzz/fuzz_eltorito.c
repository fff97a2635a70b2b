// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Fuzz target: a hostile El Torito boot record and catalog. The first
 * 2048 bytes are the boot record volume descriptor, the next 2048 the
 * catalog, shifted for an insertion chosen by the last 8 bytes.
 */
#include <aurora/eltorito.h>
#include <aurora/iso9660.h>
#include <aurora/parttable.h>

#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t vd[ISO_BLOCK] = {0}, cat[ISO_BLOCK] = {0};
	struct aur_shift shift = {0, ISO_BLOCK};

	memcpy(vd, data, size < ISO_BLOCK ? size : ISO_BLOCK);
	if (size > ISO_BLOCK)
		memcpy(cat, data + ISO_BLOCK,
		       size - ISO_BLOCK < ISO_BLOCK ? size - ISO_BLOCK
						    : ISO_BLOCK);
	if (size >= 2 * ISO_BLOCK + 8) {
		shift.at = (uint64_t)iso_le32(data + 2 * ISO_BLOCK) * ISO_BLOCK;
		shift.by = ((uint64_t)iso_le32(data + 2 * ISO_BLOCK + 4) %
				    (1u << 20) +
			    1) *
			   ISO_BLOCK;
	}
	(void)aur_eltorito_catalog(vd);
	(void)aur_eltorito_shift(cat, &shift);
	return 0;
}
