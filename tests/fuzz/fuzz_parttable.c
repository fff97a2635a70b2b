// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Fuzz target: the system area of a hostile hybrid ISO (MBR, GPT headers
 * and entries, Apple Partition Map), its partition boundaries, and the
 * rewrite for an insertion. The first 16 bytes choose the insertion (in
 * 2048-byte blocks); the rest is the system area.
 */
#include <aurora/iso9660.h>
#include <aurora/log.h>
#include <aurora/parttable.h>

#include <stdlib.h>
#include <string.h>

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

static void boundary(uint64_t byte, void *ctx)
{
	(*(unsigned *)ctx)++;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *sys = calloc(1, AUR_SYSTEM_AREA);
	struct aur_shift shift = {0, ISO_BLOCK};
	struct aur_parts parts;
	uint8_t *backup = NULL;
	size_t backup_len = 0;
	uint64_t backup_off = 0;
	unsigned n = 0;

	if (!sys)
		return 0;
	if (size >= 16) {
		shift.at = (uint64_t)iso_le32(data) * ISO_BLOCK;
		shift.by = ((uint64_t)iso_le32(data + 8) % (1u << 20) + 1) *
			   ISO_BLOCK;
		data += 16;
		size -= 16;
	}
	memcpy(sys, data, size < AUR_SYSTEM_AREA ? size : AUR_SYSTEM_AREA);
	aur_parts_find(sys, &parts);
	aur_parts_each_boundary(sys, &parts, boundary, &n);
	if (aur_parts_shift(sys, &parts, &shift, &backup, &backup_len,
			    &backup_off) == 0 &&
	    backup && backup_len > 0)
		backup[backup_len - 1] ^= 0; /* touch its end: ASan checks it */
	free(backup);
	free(sys);
	return 0;
}
