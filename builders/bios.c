// SPDX-License-Identifier: GPL-2.0-or-later
#include <aurora/bios.h>
#include <aurora/log.h>
#include <aurora/spawn.h>
#include <aurora/staging.h>
#include <aurora/store.h>
#include <aurora/util.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <unistd.h>

#define GRUB_PC_DIR "/usr/lib/grub/i386-pc"
#define CORE_VERSION "aurorafs bios core 1"
#define SECTOR 512u

/* boot.img: where it reads core.img from, and the check it skips */
#define BOOT_KERNEL_SECTOR 0x5c
#define BOOT_DRIVE_CHECK 0x66
/* core.img (its diskboot part): the first blocklist's start sector */
#define CORE_BLOCKLIST_START 500

static const char *const core_modules[] = {
	"biosdisk",	  "part_gpt",	  "part_msdos",
	"ext2",		  "fat",	  "squash4",
	"loopback",	  "normal",	  "linux",
	"search",	  "search_label", "search_fs_file",
	"search_fs_uuid", "configfile",	  "echo",
	"test",		  "true",	  "sleep",
	"serial",	  "terminal",	  "gzio",
	"xzio",		  "ls",		  "cat",
	"halt",		  "reboot",	  "minicmd",
	"regexp",	  "loadenv",	  NULL};

/* Run by the rescue parser before normal.mod: no "if", no comments. */
static const char core_cfg[] =
	"search --no-floppy --label --set=root COS_RECOVERY\n"
	"set prefix=($root)/etc/cos\n";

struct core_job {
	const char *state_dir;
};

static void put_le64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static int make_core(void *ctx, int fd)
{
	const struct core_job *job = ctx;
	struct aur_staging *s = NULL;
	AUR_AUTOFREE char *cfg = NULL;
	AUR_AUTOFREE char *out = NULL;
	const char *argv[16 + AUR_ARRAY_SIZE(core_modules)] = {
		"grub-mkimage", "-O", "i386-pc", "-p", "/etc/cos"};
	size_t n = 5;
	int r = aur_staging_open(job->state_dir, "BIOS core.img", 1, &s);
	char *data = NULL;
	size_t len = 0;

	if (r < 0)
		return r;
	r = aur_staging_put(s, "core.cfg", core_cfg, strlen(core_cfg), NULL);
	cfg = aur_staging_path(s, "core.cfg");
	out = aur_staging_path(s, "core.img");
	if (r == 0 && (!cfg || !out))
		r = -ENOMEM;
	if (r == 0) {
		argv[n++] = "-c";
		argv[n++] = cfg;
		argv[n++] = "-o";
		argv[n++] = out;
		for (size_t i = 0; core_modules[i]; i++)
			argv[n++] = core_modules[i];
		argv[n] = NULL;
		r = aur_run(argv, NULL, "BIOS core.img");
	}
	if (r == 0)
		r = aur_read_file(out, 4 << 20, &data, &len);
	if (r == 0)
		r = aur_pwrite_full(fd, data, len, 0);
	free(data);
	aur_staging_close(s);
	return r;
}

/* The host's GRUB makes core.img: its version is part of the key. */
static void core_key(char key[65])
{
	AUR_AUTOFREE char *kernel = NULL;
	unsigned char d[32];
	char grub[65] = "none";
	size_t len;

	if (aur_read_file(GRUB_PC_DIR "/kernel.img", 1 << 20, &kernel, &len) ==
	    0) {
		aur_sha256(kernel, len, d);
		aur_sha256_hex(d, grub);
	}
	{
		const char *const inputs[] = {CORE_VERSION, grub, core_cfg};

		aur_store_key(inputs, AUR_ARRAY_SIZE(inputs), key);
	}
}

int aur_bios_boot_make(const char *state_dir, uint64_t core_lba,
		       size_t max_core, struct aur_bios_boot *out)
{
	struct core_job job = {state_dir};
	struct aur_file_source stored = {.fd = -1};
	AUR_AUTOFREE char *boot = NULL;
	size_t boot_len;
	char key[65];
	ssize_t got;
	int r;

	memset(out, 0, sizeof(*out));
	r = aur_read_file(GRUB_PC_DIR "/boot.img", 4096, &boot, &boot_len);
	if (r < 0 || boot_len != SECTOR) {
		aur_err("cannot read GRUB's '%s' (is grub-pc-bin installed?)",
			GRUB_PC_DIR "/boot.img");
		return r < 0 ? r : -EINVAL;
	}
	core_key(key);
	r = aur_store_get(state_dir, key, "BIOS core.img", make_core, &job,
			  &stored);
	if (r < 0)
		return r;
	out->core_len =
		(size_t)AUR_DIV_ROUND_UP(stored.src.size, SECTOR) * SECTOR;
	if (out->core_len > max_core || stored.src.size < SECTOR) {
		aur_err("GRUB's core.img is %llu bytes: it does not fit the "
			"BIOS boot partition (%zu bytes)",
			(unsigned long long)stored.src.size, max_core);
		aur_file_source_close(&stored);
		return -EFBIG;
	}
	out->core = calloc(1, out->core_len);
	if (!out->core) {
		aur_file_source_close(&stored);
		return -ENOMEM;
	}
	got = aur_source_pread(&stored.src, out->core, stored.src.size, 0);
	aur_file_source_close(&stored);
	if (got != (ssize_t)stored.src.size) {
		aur_bios_boot_release(out);
		return got < 0 ? (int)got : -EIO;
	}
	/* core.img loads the rest of itself from the sector after its first */
	put_le64(out->core + CORE_BLOCKLIST_START, core_lba + 1);
	memcpy(out->mbr_code, boot, AUR_MBR_CODE);
	put_le64(out->mbr_code + BOOT_KERNEL_SECTOR, core_lba);
	/* boot.img would trust only the BIOS's drive number on hard disks:
	 * NOPs over that check, as grub-install writes it */
	out->mbr_code[BOOT_DRIVE_CHECK] = 0x90;
	out->mbr_code[BOOT_DRIVE_CHECK + 1] = 0x90;
	return 0;
}

void aur_bios_boot_release(struct aur_bios_boot *b)
{
	free(b->core);
	b->core = NULL;
	b->core_len = 0;
}
