// SPDX-License-Identifier: GPL-2.0-or-later
/* GPT tables as aurorafs writes them, checked by sgdisk and sfdisk. */
#include "test_helpers.h"

#include <aurora/gpt.h>
#include <aurora/spawn.h>
#include <aurora/util.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MIB (1ull << 20)

static void guids(void **state)
{
	uint8_t g[16];
	static const uint8_t esp[16] = {0x28, 0x73, 0x2a, 0xc1, 0x1f, 0xf8,
					0xd2, 0x11, 0xba, 0x4b, 0x00, 0xa0,
					0xc9, 0x3e, 0xc9, 0x3b};

	assert_int_equal(
		aur_guid_parse("C12A7328-F81F-11D2-BA4B-00A0C93EC93B", g), 0);
	assert_memory_equal(g, esp, 16);
	assert_int_equal(
		aur_guid_parse("c12a7328-f81f-11d2-ba4b-00a0c93ec93b", g), 0);
	assert_memory_equal(g, esp, 16);
	assert_int_equal(
		aur_guid_parse("C12A7328F81F-11D2-BA4B-00A0C93EC93B", g),
		-EINVAL);
	assert_int_equal(
		aur_guid_parse("C12A7328-F81F-11D2-BA4B-00A0C93EC93", g),
		-EINVAL);
	assert_int_equal(
		aur_guid_parse("X12A7328-F81F-11D2-BA4B-00A0C93EC93B", g),
		-EINVAL);
}

static void tables_pass_sgdisk(void **state)
{
	char *dir = make_temp_dir();
	char *path = aur_printf("%s/disk.raw", dir);
	uint64_t size = 100 * MIB + 4096;
	uint8_t head[AUR_GPT_HEAD_BYTES], tail[AUR_GPT_TAIL_BYTES];
	struct aur_gpt_part parts[3] = {
		{.first_lba = 2048,
		 .last_lba = 2048 + 64 * 2048 - 1,
		 .attrs = AUR_GPT_ATTR_REQUIRED,
		 .name = "efi"},
		{.first_lba = 2048 + 64 * 2048,
		 .last_lba = 2048 + 96 * 2048 - 1,
		 .name = "oem"},
		{.first_lba = 2048 + 96 * 2048,
		 .last_lba = size / 512 - 34,
		 .attrs = AUR_GPT_ATTR_REQUIRED | AUR_GPT_ATTR_LEGACY_BOOTABLE,
		 .name = "recovery"},
	};
	uint8_t disk_guid[16];
	const char *const verify[] = {"sgdisk", "-v", path, NULL};
	const char *const sfverify[] = {"sfdisk", "--verify", path, NULL};
	char *listing = aur_printf("sfdisk -d %s", path);
	char line[512], all[4096] = "";
	FILE *f;
	int fd;

	assert_int_equal(aur_guid_parse("C12A7328-F81F-11D2-BA4B-00A0C93EC93B",
					parts[0].type),
			 0);
	aur_guid_parse("0FC63DAF-8483-4772-8E79-3D69D8477DE4", parts[1].type);
	aur_guid_parse("0FC63DAF-8483-4772-8E79-3D69D8477DE4", parts[2].type);
	aur_guid_parse("81444E82-66B3-5ED2-961B-497665F12BE2", parts[0].guid);
	aur_guid_parse("8BFA06F9-CA4F-56DC-90C9-49CF20F4F45E", parts[1].guid);
	aur_guid_parse("768FBD69-B2A9-5EAB-902C-DB8745B4767C", parts[2].guid);
	aur_guid_parse("2CEFF841-4C1D-5A14-8E46-ED3AEB621093", disk_guid);
	assert_int_equal(aur_gpt_write(size, disk_guid, parts, 3, head, tail),
			 0);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, (off_t)size), 0);
	assert_int_equal(aur_pwrite_full(fd, head, sizeof(head), 0), 0);
	assert_int_equal(
		aur_pwrite_full(fd, tail, sizeof(tail), size - sizeof(tail)),
		0);
	close(fd);
	capture_logs();
	assert_int_equal(aur_run(verify, NULL, "sgdisk"), 0);
	assert_int_equal(aur_run(sfverify, NULL, "sfdisk"), 0);
	release_logs();
	f = popen(listing, "r");
	assert_non_null(f);
	while (fgets(line, sizeof(line), f))
		strncat(all, line, sizeof(all) - strlen(all) - 1);
	pclose(f);
	assert_non_null(
		strstr(all, "label-id: 2CEFF841-4C1D-5A14-8E46-ED3AEB621093"));
	assert_non_null(strstr(all,
			       "start=        2048, size=      131072, "
			       "type=C12A7328-F81F-11D2-BA4B-00A0C93EC93B, "
			       "uuid=81444E82-66B3-5ED2-961B-497665F12BE2, "
			       "name=\"efi\", attrs=\"RequiredPartition\""));
	assert_non_null(strstr(all,
			       "name=\"recovery\", attrs=\"RequiredPartition "
			       "LegacyBIOSBootable\""));
	/* partitions must fit between the tables */
	parts[2].last_lba = size / 512 - 33;
	assert_int_equal(aur_gpt_write(size, disk_guid, parts, 3, head, tail),
			 -EINVAL);
	remove_tree(dir);
	free(dir);
	free(path);
	free(listing);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(guids),
		cmocka_unit_test(tables_pass_sgdisk),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
