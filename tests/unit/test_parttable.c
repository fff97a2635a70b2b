// SPDX-License-Identifier: GPL-2.0-or-later
#include "test_helpers.h"

#include <aurora/eltorito.h>
#include <aurora/iso9660.h>
#include <aurora/parttable.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define MIB (1u << 20)

static uint64_t le64(const uint8_t *p)
{
	return (uint64_t)iso_le32(p) | (uint64_t)iso_le32(p + 4) << 32;
}

static void put_le64(uint8_t *p, uint64_t v)
{
	iso_put_le32(p, (uint32_t)v);
	iso_put_le32(p + 4, (uint32_t)(v >> 32));
}

static void seal(uint8_t *h, const uint8_t *entries, uint32_t bytes)
{
	iso_put_le32(h + 88, aur_crc32(entries, bytes));
	memset(h + 16, 0, 4);
	iso_put_le32(h + 16, aur_crc32(h, 92));
}

/* A hybrid layout: the ISO data in p1 [64, 2000), an appended EFI
 * partition p2 [2000, 2400), backup GPT in the last 33 sectors of 2433. */
static void make_sys(uint8_t *sys)
{
	uint8_t *h = sys + 512, *e = sys + 1024;

	memset(sys, 0, AUR_SYSTEM_AREA);
	sys[510] = 0x55;
	sys[511] = 0xaa;
	sys[446 + 4] = 0xee;
	iso_put_le32(sys + 446 + 8, 1);
	iso_put_le32(sys + 446 + 12, 2432);
	memcpy(h, "EFI PART", 8);
	iso_put_le32(h + 8, 0x10000);
	iso_put_le32(h + 12, 92);
	put_le64(h + 24, 1);
	put_le64(h + 32, 2432);
	put_le64(h + 40, 64);
	put_le64(h + 48, 2399);
	put_le64(h + 72, 2);
	iso_put_le32(h + 80, 4);
	iso_put_le32(h + 84, 128);
	memset(e, 0x11, 16);
	put_le64(e + 32, 64);
	put_le64(e + 40, 1999);
	memset(e + 128, 0x22, 16);
	put_le64(e + 128 + 32, 2000);
	put_le64(e + 128 + 40, 2399);
	seal(h, e, 512);
}

static void crc32_check_value(void **state)
{
	assert_int_equal(aur_crc32((const uint8_t *)"123456789", 9),
			 0xcbf43926);
}

static void shift_grows_data_partition_and_moves_the_rest(void **state)
{
	uint8_t *sys = malloc(AUR_SYSTEM_AREA);
	struct aur_shift s = {2000 * 512, MIB};
	struct aur_parts p;
	uint8_t *backup, *h, *e;
	size_t len;
	uint64_t off;

	make_sys(sys);
	aur_parts_find(sys, &p);
	assert_true(p.mbr);
	assert_true(p.gpt);
	assert_false(p.apm);
	assert_int_equal(aur_parts_shift(sys, &p, &s, &backup, &len, &off), 0);
	h = sys + 512;
	e = sys + 1024;
	/* p1 ends at the insertion point: it grows; p2 moves */
	assert_int_equal(le64(e + 32), 64);
	assert_int_equal(le64(e + 40), 1999 + 2048);
	assert_int_equal(le64(e + 128 + 32), 2000 + 2048);
	assert_int_equal(le64(e + 128 + 40), 2399 + 2048);
	assert_int_equal(le64(h + 32), 2432 + 2048);
	assert_int_equal(le64(h + 48), 2399 + 2048);
	/* the protective MBR covers the new size */
	assert_int_equal(iso_le32(sys + 446 + 8), 1);
	assert_int_equal(iso_le32(sys + 446 + 12), 2432 + 2048);
	/* headers stay valid */
	{
		struct aur_parts again;

		aur_parts_find(sys, &again);
		assert_true(again.gpt);
	}
	/* the backup: entries then header, in the last sectors */
	assert_int_equal(len, 2 * 512);
	assert_int_equal(off, (uint64_t)(2432 + 2048 - 1) * 512);
	assert_memory_equal(backup, e, 512);
	assert_memory_equal(backup + 512, "EFI PART", 8);
	assert_int_equal(le64(backup + 512 + 24), 2432 + 2048);
	assert_int_equal(le64(backup + 512 + 32), 1);
	assert_int_equal(le64(backup + 512 + 72), 2432 + 2048 - 1);
	assert_int_equal(iso_le32(backup + 512 + 88), aur_crc32(e, 512));
	free(backup);
	free(sys);
}

static void nothing_moves_before_the_insertion_point(void **state)
{
	uint8_t *sys = malloc(AUR_SYSTEM_AREA), *copy = malloc(AUR_SYSTEM_AREA);
	struct aur_shift s = {(uint64_t)2433 * 512 + 512 * 3, MIB};
	struct aur_parts p;
	uint8_t *backup;
	size_t len;
	uint64_t off;

	make_sys(sys);
	memcpy(copy, sys, AUR_SYSTEM_AREA);
	aur_parts_find(sys, &p);
	assert_int_equal(aur_parts_shift(sys, &p, &s, &backup, &len, &off), 0);
	assert_memory_equal(sys, copy, AUR_SYSTEM_AREA);
	free(backup);
	free(sys);
	free(copy);
}

static void apm_entries_shift(void **state)
{
	uint8_t *sys = calloc(1, AUR_SYSTEM_AREA);
	struct aur_shift s = {100 * 2048, 512 * 2048};
	struct aur_parts p;
	uint8_t *backup;
	size_t len;
	uint64_t off;

	sys[0] = 'E';
	sys[1] = 'R';
	iso_put_be16(sys + 2, 2048);
	for (int i = 1; i <= 3; i++) {
		uint8_t *e = sys + 2048 * i;

		e[0] = 'P';
		e[1] = 'M';
		iso_put_be32(e + 4, 3);
	}
	iso_put_be32(sys + 2048 + 8, 1);
	iso_put_be32(sys + 2048 + 12, 3);
	iso_put_be32(sys + 4096 + 8, 16);
	iso_put_be32(sys + 4096 + 12, 84); /* ends at 100: grows */
	iso_put_be32(sys + 6144 + 8, 100);
	iso_put_be32(sys + 6144 + 12, 10); /* after: moves */
	aur_parts_find(sys, &p);
	assert_true(p.apm);
	assert_int_equal(aur_parts_shift(sys, &p, &s, &backup, &len, &off), 0);
	assert_null(backup);
	assert_int_equal(iso_be32(sys + 2048 + 8), 1);
	assert_int_equal(iso_be32(sys + 4096 + 12), 84 + 512);
	assert_int_equal(iso_be32(sys + 6144 + 8), 100 + 512);
	assert_int_equal(iso_be32(sys + 6144 + 12), 10);
	free(sys);
}

static void eltorito_entries_after_the_point_move(void **state)
{
	uint8_t cat[ISO_BLOCK] = {0}, vd[ISO_BLOCK] = {0};
	struct aur_shift s = {500 * 2048, 512 * 2048};
	uint16_t sum = 0;

	cat[0] = 1;
	cat[30] = 0x55;
	cat[31] = 0xaa;
	for (int i = 0; i < 32; i += 2)
		sum = (uint16_t)(sum + iso_le16(cat + i));
	iso_put_le16(cat + 28, (uint16_t)(0x10000 - sum));
	cat[32] = 0x88;
	iso_put_le32(cat + 32 + 8, 115);
	cat[64] = 0x91;
	cat[65] = 0xef;
	iso_put_le16(cat + 66, 1);
	cat[96] = 0x88;
	iso_put_le32(cat + 96 + 8, 500);
	assert_int_equal(aur_eltorito_shift(cat, &s), 1);
	assert_int_equal(iso_le32(cat + 32 + 8), 115);
	assert_int_equal(iso_le32(cat + 96 + 8), 1012);
	cat[31] = 0; /* no longer a catalog */
	assert_int_equal(aur_eltorito_shift(cat, &s), -EINVAL);

	memcpy(vd + 1, "CD001", 5);
	memcpy(vd + 7, "EL TORITO SPECIFICATION", 23);
	iso_put_le32(vd + 71, 114);
	assert_int_equal(aur_eltorito_catalog(vd), 114);
	vd[0] = 1;
	assert_int_equal(aur_eltorito_catalog(vd), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(crc32_check_value),
		cmocka_unit_test(shift_grows_data_partition_and_moves_the_rest),
		cmocka_unit_test(nothing_moves_before_the_insertion_point),
		cmocka_unit_test(apm_entries_shift),
		cmocka_unit_test(eltorito_entries_after_the_point_move),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
