// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The Kairos raw disks, /raw/<name>-efi.raw and /raw/<name>-bios.raw, as
 * AuroraBoot lays them out (GPT, partitions 1 MiB aligned from sector 2048,
 * its fixed GUIDs), built without root, loop devices or mkfs:
 *
 *   efi:  1 efi      COS_GRUB      FAT: the image's shim and GRUB, and a
 *                                  grub.cfg that hands over to COS_RECOVERY
 *   bios: 1 bios     -             BIOS boot partition: GRUB's core.img; its
 *                                  boot.img is the MBR's code (bios.h)
 *         2 oem      COS_OEM       ext2: 90_custom.yaml (the cloud-config,
 *                                  or AuroraBoot's default one), grubenv,
 *                                  01_reset.yaml (grow the disk and reset on
 *                                  first boot, as AuroraBoot writes it)
 *         3 recovery COS_RECOVERY  ext2: /cOS/recovery.squashfs - the very
 *                                  squashfs of the ISO and netboot, which
 *                                  Kairos' grub.cfg boots when it is there -
 *                                  and /etc/cos/grub.cfg from the image
 *
 * Each disk is an extent map: the tables and the filesystems' metadata in
 * memory, the ESP from the store, the squashfs as an extent over the
 * store, zeros for the rest - a larger disk.size costs nothing. The backup
 * GPT is at the real end of the disk.
 */
#include <aurora/bios.h>
#include <aurora/builder.h>
#include <aurora/config.h>
#include <aurora/efi.h>
#include <aurora/ext2img.h>
#include <aurora/extmap.h>
#include <aurora/gpt.h>
#include <aurora/kairos.h>
#include <aurora/log.h>
#include <aurora/rootfs.h>
#include <aurora/store.h>
#include <aurora/tree.h>
#include <aurora/util.h>
#include <aurora/vhd.h>

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#define MIB (UINT64_C(1) << 20)
#define ESP_MIB 64
#define BIOS_MIB 1
#define OEM_MIB 64
#define RECOVERY_SPARE_MIB 150 /* AuroraBoot's room beside two images */
#define ESP_VERSION "aurorafs disk ESP 1"
#define DISK_VERSION "aurorafs raw disk 1"
#define GRUBENV_SIZE 1024

/* AuroraBoot's GUIDs: uuid5 of its URL and the labels */
static const char disk_guid_text[] = "2ceff841-4c1d-5a14-8e46-ed3aeb621093";
static const char grub_guid_text[] = "81444e82-66b3-5ed2-961b-497665f12be2";
static const char oem_guid_text[] = "8bfa06f9-ca4f-56dc-90c9-49cf20f4f45e";
static const char recovery_guid_text[] = "768fbd69-b2a9-5eab-902c-db8745b4767c";
static const char esp_type[] = "C12A7328-F81F-11D2-BA4B-00A0C93EC93B";
static const char bios_type[] = "21686148-6449-6E6F-744E-656564454649";
static const char linux_type[] = "0FC63DAF-8483-4772-8E79-3D69D8477DE4";

/* On the ESP: find the recovery partition and its menu. */
static const char esp_menu[] =
	"search --no-floppy --label --set=root COS_RECOVERY\n"
	"set root=($root)\n"
	"set prefix=($root)/grub2\n"
	"configfile ($root)/etc/cos/grub.cfg\n";

/* AuroraBoot's default cloud-config, when there is none and
 * no_default_cloud_config is not set: a user to log in with. */
static const char default_cloud_config[] = "#cloud-config\n"
					   "stages:\n"
					   "  initramfs:\n"
					   "    - name: Set the default user\n"
					   "      users:\n"
					   "        kairos:\n"
					   "          passwd: kairos\n"
					   "          groups:\n"
					   "            - admin\n";

struct raw_disk {
	struct aur_build_ctx *bctx;
	bool bios;
};

/* What one build of a disk owns. */
struct disk_image {
	uint8_t head[AUR_GPT_HEAD_BYTES];
	uint8_t tail[AUR_GPT_TAIL_BYTES];
	struct aur_bios_boot bios;
	struct aur_file_source esp;
	struct aur_extmap_source squashfs;
	struct aur_extmap oem_map, rec_map;
	struct aur_ext2_image *oem, *rec;
	struct aur_mem_source cloud, grubenv, reset, grubcfg;
	uint8_t grubenv_bytes[GRUBENV_SIZE];
	char *reset_text;
	char *grubcfg_text;
};

struct layout {
	uint64_t p1_mib, recovery_mib, total_mib, state_mib;
};

/* ---- the OEM partition ---- */

static void make_grubenv(uint8_t out[GRUBENV_SIZE])
{
	static const char env[] = "# GRUB Environment Block\n"
				  "next_entry=recovery\n";

	memset(out, '#', GRUBENV_SIZE);
	memcpy(out, env, sizeof(env) - 1);
}

static char *reset_config(uint64_t state_mib)
{
	return aur_printf(
		"name: Expand disk layout and autoreset\n"
		"stages:\n"
		"  rootfs.before:\n"
		"    - name: Add state partition\n"
		"      layout:\n"
		"        device:\n"
		"          label: COS_RECOVERY\n"
		"        add_partitions:\n"
		"          - fsLabel: COS_STATE\n"
		"            size: %" PRIu64 "\n"
		"            pLabel: state\n"
		"            filesystem: ext2\n"
		"          - fsLabel: COS_PERSISTENT\n"
		"            pLabel: persistent\n"
		"            filesystem: ext2\n"
		"  network:\n"
		"    - name: Trigger udevadm\n"
		"      commands:\n"
		"        - udevadm trigger\n"
		"    - name: Run auto reset\n"
		"      if: '[ -f \"/run/cos/recovery_mode\" ] && [ ! -f "
		"\"/oem/.autoreset.skip\" ]'\n"
		"      commands:\n"
		"        - kairos-agent --debug reset --unattended --reboot\n"
		"  after-reset:\n"
		"    - name: Auto remove this file\n"
		"      if: '[ -f \"/oem/01_reset.yaml\" ]'\n"
		"      commands:\n"
		"        - rm /oem/01_reset.yaml\n",
		state_mib);
}

/* A filesystem's UUID and hash seed, from the disk's key and its label. */
static void fs_ids(const char *key, const char *label, uint8_t uuid[16],
		   uint8_t seed[16])
{
	char digest[65];
	unsigned char d[32];
	const char *const inputs[] = {key, label};

	aur_store_key(inputs, 2, digest);
	aur_sha256_parse(digest, d);
	memcpy(uuid, d, 16);
	memcpy(seed, d + 16, 16);
	uuid[6] = (uint8_t)((uuid[6] & 0x0f) | 0x40); /* a version 4 UUID */
	uuid[8] = (uint8_t)((uuid[8] & 0x3f) | 0x80);
}

static int build_oem(struct disk_image *di, const struct aur_build_ctx *b,
		     const char *key, time_t epoch, const struct layout *l)
{
	struct aur_ext2_entry e[3];
	struct aur_ext2_opts o = {
		.label = "COS_OEM",
		.size = OEM_MIB * MIB,
		.time = epoch,
	};
	size_t n = 0;

	fs_ids(key, o.label, o.uuid, o.hash_seed);
	make_grubenv(di->grubenv_bytes);
	aur_mem_source_init(&di->grubenv, di->grubenv_bytes, GRUBENV_SIZE);
	di->reset_text = reset_config(l->state_mib);
	if (!di->reset_text)
		return -ENOMEM;
	aur_mem_source_init(&di->reset, di->reset_text, strlen(di->reset_text));
	if (b->cloud_config)
		aur_mem_source_init(&di->cloud, b->cloud_config,
				    b->cloud_config_len);
	else
		aur_mem_source_init(&di->cloud, default_cloud_config,
				    strlen(default_cloud_config));
	e[n++] = (struct aur_ext2_entry){"/01_reset.yaml",
					 S_IFREG | 0644,
					 0,
					 0,
					 0,
					 NULL,
					 &di->reset.src,
					 0,
					 di->reset.src.size};
	if (b->cloud_config || !b->cfg->no_default_cloud_config)
		e[n++] = (struct aur_ext2_entry){"/90_custom.yaml",
						 S_IFREG | 0600,
						 0,
						 0,
						 0,
						 NULL,
						 &di->cloud.src,
						 0,
						 di->cloud.src.size};
	e[n++] = (struct aur_ext2_entry){
		"/grubenv", S_IFREG | 0644,   0, 0,	      0,
		NULL,	    &di->grubenv.src, 0, GRUBENV_SIZE};
	return aur_ext2_build(&o, e, n, &di->oem_map, &di->oem);
}

/* ---- the recovery partition ---- */

static int build_recovery(struct disk_image *di, const struct aur_rootfs *fs,
			  const char *key, time_t epoch, const struct layout *l)
{
	struct aur_ext2_opts o = {
		.label = "COS_RECOVERY",
		.size = l->recovery_mib * MIB,
		.time = epoch,
	};
	size_t len = 0;
	int r = aur_rootfs_read_file(fs, "/etc/cos/grub.cfg", 1 << 20,
				     &di->grubcfg_text, &len);

	if (r < 0) {
		aur_err("the image has no /etc/cos/grub.cfg (%s): a Kairos raw "
			"disk boots through it",
			strerror(-r));
		return -ENOENT;
	}
	aur_mem_source_init(&di->grubcfg, di->grubcfg_text, len);
	fs_ids(key, o.label, o.uuid, o.hash_seed);
	{
		const struct aur_ext2_entry e[] = {
			{"/cOS", S_IFDIR | 0755},
			{"/cOS/recovery.squashfs", S_IFREG | 0644, 0, 0, 0,
			 NULL, &di->squashfs.src, 0, di->squashfs.src.size},
			{"/etc/cos/grub.cfg", S_IFREG | 0644, 0, 0, 0, NULL,
			 &di->grubcfg.src, 0, len},
		};

		return aur_ext2_build(&o, e, AUR_ARRAY_SIZE(e), &di->rec_map,
				      &di->rec);
	}
}

/* ---- the ESP ---- */

struct esp_job {
	const struct aur_build_ctx *bctx;
	const struct aur_rootfs *fs;
	const char *flavor;
	time_t epoch;
};

static int make_esp(void *ctx, int fd)
{
	const struct esp_job *j = ctx;
	struct aur_efi_loaders e;
	struct aur_fat_file files[6];
	char loader[96], grub[96], shim[96];
	size_t n = 0;
	int r = aur_efi_find(j->fs, false, false, &e);

	if (r < 0)
		return r;
	snprintf(loader, sizeof(loader), "EFI/BOOT/%s", e.boot_name);
	snprintf(grub, sizeof(grub), "EFI/BOOT/%s", e.grub_name);
	snprintf(shim, sizeof(shim), "EFI/BOOT/%s", e.shim_name);
	files[n++] = (struct aur_fat_file){loader, NULL, 0,
					   e.shim ? e.shim : e.grub};
	if (e.shim) {
		files[n++] = (struct aur_fat_file){shim, NULL, 0, e.shim};
		files[n++] = (struct aur_fat_file){grub, NULL, 0, e.grub};
	}
	files[n++] = (struct aur_fat_file){"EFI/BOOT/grub.cfg", esp_menu,
					   strlen(esp_menu), NULL};
	/* Ubuntu's shim reads GRUB's menu from EFI/ubuntu */
	if (strstr(j->flavor, "ubuntu"))
		files[n++] =
			(struct aur_fat_file){"EFI/ubuntu/grub.cfg", esp_menu,
					      strlen(esp_menu), NULL};
	return aur_fat_image(j->bctx->state_dir, "the disk's ESP", "COS_GRUB",
			     ESP_MIB * 1024, files, n, j->epoch, fd);
}

/* ---- the layout ---- */

static int plan(const struct aur_config *cfg, bool bios, uint64_t squashfs,
		struct layout *l)
{
	uint64_t image_mib = AUR_DIV_ROUND_UP(squashfs, MIB);
	uint64_t min_mib;

	if (cfg->disk.recovery_image_size_mib) {
		if (cfg->disk.recovery_image_size_mib < image_mib) {
			aur_err("disk.recovery_image_size %" PRIu64 " MiB is "
				"smaller than the recovery image (%" PRIu64
				" MiB)",
				cfg->disk.recovery_image_size_mib, image_mib);
			return -EINVAL;
		}
		image_mib = cfg->disk.recovery_image_size_mib;
	}
	l->p1_mib = bios ? BIOS_MIB : ESP_MIB;
	/* room for the image and an upgrade's, as AuroraBoot sizes it */
	l->recovery_mib = 2 * image_mib + RECOVERY_SPARE_MIB;
	min_mib = 1 + l->p1_mib + OEM_MIB + l->recovery_mib + 1;
	l->total_mib = min_mib;
	if (cfg->disk.size_mib) {
		if (cfg->disk.size_mib < min_mib) {
			aur_err("disk.size %" PRIu64 " MiB is too small: this "
				"disk needs at least %" PRIu64 " MiB",
				cfg->disk.size_mib, min_mib);
			return -EINVAL;
		}
		l->total_mib = cfg->disk.size_mib;
	}
	/* made into a VHD: a whole number of cylinders, so that readers
	 * that go by the VHD's geometry see the whole disk */
	if (cfg->disk.vhd && !bios)
		l->total_mib = aur_vhd_exact_mib(l->total_mib);
	l->state_mib = cfg->disk.state_size_mib
			       ? cfg->disk.state_size_mib
			       : (l->recovery_mib * MIB * 3 + 100 * MIB) / MIB;
	return 0;
}

static int write_tables(struct disk_image *di, const struct layout *l,
			bool bios)
{
	struct aur_gpt_part parts[3];
	uint8_t disk_guid[16];
	uint64_t lba = 2048;
	int r = 0;

	memset(parts, 0, sizeof(parts));
	r |= aur_guid_parse(bios ? bios_type : esp_type, parts[0].type);
	r |= aur_guid_parse(grub_guid_text, parts[0].guid);
	r |= aur_guid_parse(linux_type, parts[1].type);
	r |= aur_guid_parse(oem_guid_text, parts[1].guid);
	r |= aur_guid_parse(linux_type, parts[2].type);
	r |= aur_guid_parse(recovery_guid_text, parts[2].guid);
	r |= aur_guid_parse(disk_guid_text, disk_guid);
	if (r)
		return -EINVAL;
	parts[0].name = bios ? "bios" : "efi";
	parts[0].attrs = AUR_GPT_ATTR_REQUIRED |
			 (bios ? AUR_GPT_ATTR_LEGACY_BOOTABLE : 0);
	parts[1].name = "oem";
	parts[2].name = "recovery";
	parts[0].first_lba = lba;
	lba += l->p1_mib * 2048;
	parts[0].last_lba = lba - 1;
	parts[1].first_lba = lba;
	lba += OEM_MIB * 2048;
	parts[1].last_lba = lba - 1;
	parts[2].first_lba = lba;
	lba += l->recovery_mib * 2048;
	parts[2].last_lba = lba - 1;
	return aur_gpt_write(l->total_mib * MIB, disk_guid, parts, 3, di->head,
			     di->tail);
}

/* ---- the disk ---- */

static void disk_release(void *ctx, struct aur_image *img)
{
	struct disk_image *di = img->priv;

	if (!di)
		return;
	aur_bios_boot_release(&di->bios);
	aur_file_source_close(&di->esp);
	aur_extmap_release(&di->oem_map);
	aur_extmap_release(&di->rec_map);
	aur_ext2_image_free(di->oem);
	aur_ext2_image_free(di->rec);
	free(di->reset_text);
	free(di->grubcfg_text);
	free(di);
	img->priv = NULL;
}

static int add_partition_map(struct aur_extmap *m, const char *what,
			     const struct aur_extmap *part, uint64_t mib)
{
	struct aur_extmap_source src;
	int r;

	aur_extmap_source_init(&src, part);
	r = aur_extmap_add_source(m, what, &src.src, 0, part->size);
	if (r == 0 && part->size < mib * MIB)
		r = aur_extmap_add_zero(m, what, mib * MIB - part->size);
	return r;
}

static int assemble(struct disk_image *di, const struct layout *l, bool bios,
		    struct aur_extmap *m)
{
	uint64_t used;
	int r = aur_extmap_add_mem(m, "GPT", di->head, AUR_GPT_HEAD_BYTES);

	if (r == 0)
		r = aur_extmap_add_zero(m, "alignment",
					MIB - AUR_GPT_HEAD_BYTES);
	if (r == 0 && bios) {
		r = aur_extmap_add_mem(m, "core.img", di->bios.core,
				       di->bios.core_len);
		if (r == 0)
			r = aur_extmap_add_zero(m, "BIOS boot partition",
						BIOS_MIB * MIB -
							di->bios.core_len);
	} else if (r == 0) {
		r = aur_extmap_add_source(m, "ESP", &di->esp.src, 0,
					  di->esp.src.size);
		if (r == 0 && di->esp.src.size < ESP_MIB * MIB)
			r = aur_extmap_add_zero(
				m, "ESP", ESP_MIB * MIB - di->esp.src.size);
	}
	if (r == 0)
		r = add_partition_map(m, "COS_OEM", &di->oem_map, OEM_MIB);
	if (r == 0)
		r = add_partition_map(m, "COS_RECOVERY", &di->rec_map,
				      l->recovery_mib);
	used = m->size;
	if (r == 0)
		r = aur_extmap_add_zero(m, "free space",
					l->total_mib * MIB - used -
						AUR_GPT_TAIL_BYTES);
	if (r == 0)
		r = aur_extmap_add_mem(m, "backup GPT", di->tail,
				       AUR_GPT_TAIL_BYTES);
	return r;
}

static int disk_build(void *ctx, struct aur_image *img)
{
	struct raw_disk *rd = ctx;
	struct aur_build_ctx *b = rd->bctx;
	struct disk_image *di = calloc(1, sizeof(*di));
	const struct aur_image *kernel, *squashfs;
	struct esp_job esp = {.bctx = b};
	AUR_AUTOFREE char *flavor = NULL;
	struct layout l;
	const char *fs_key;
	char key[65], layout_text[64];
	int r;

	if (!di)
		return -ENOMEM;
	img->priv = di;
	di->esp.fd = -1;
	aur_extmap_init(&di->oem_map);
	aur_extmap_init(&di->rec_map);
	r = b->rootfs.get(b->rootfs.ctx, &esp.fs, &fs_key);
	if (r == 0)
		r = aur_product_image(b, AUR_PRODUCT_KERNEL, &kernel);
	if (r == 0)
		r = aur_product_image(b, AUR_PRODUCT_SQUASHFS, &squashfs);
	if (r < 0)
		return r;
	esp.epoch = kernel->mtime > 0 ? kernel->mtime : 1;
	flavor = aur_kairos_release_get(esp.fs, "FLAVOR");
	esp.flavor = flavor ? flavor : "";
	aur_extmap_source_init(&di->squashfs, &squashfs->map);
	r = plan(b->cfg, rd->bios, squashfs->map.size, &l);
	if (r < 0)
		return -EIO;
	snprintf(layout_text, sizeof(layout_text), "%s %" PRIu64 " %" PRIu64,
		 rd->bios ? "bios" : "efi", l.total_mib, l.state_mib);
	{
		const char *const inputs[] = {DISK_VERSION, fs_key,
					      layout_text};

		aur_store_key(inputs, AUR_ARRAY_SIZE(inputs), key);
	}
	if (rd->bios) {
		r = aur_bios_boot_make(b->state_dir, 2048, BIOS_MIB * MIB,
				       &di->bios);
	} else {
		char esp_key[65];
		const char *const inputs[] = {ESP_VERSION, fs_key, esp.flavor};

		aur_store_key(inputs, AUR_ARRAY_SIZE(inputs), esp_key);
		r = aur_store_get(b->state_dir, esp_key, "the disk's ESP",
				  make_esp, &esp, &di->esp);
	}
	if (r == 0)
		r = build_oem(di, b, key, esp.epoch, &l);
	if (r == 0)
		r = build_recovery(di, esp.fs, key, esp.epoch, &l);
	if (r == 0)
		r = write_tables(di, &l, rd->bios);
	if (r == 0 && rd->bios)
		memcpy(di->head, di->bios.mbr_code, AUR_MBR_CODE);
	if (r == 0)
		r = assemble(di, &l, rd->bios, &img->map);
	img->mtime = esp.epoch;
	if (b->cloud_config && b->cloud_config_mtime > img->mtime)
		img->mtime = b->cloud_config_mtime;
	return r < 0 && r != -ENOMEM ? -EIO : r;
}

static const struct aur_file_ops disk_ops = {
	.build = disk_build,
	.release = disk_release,
};

static int add_disk(struct aur_build_ctx *ctx, bool bios, struct aur_node **out)
{
	struct raw_disk *rd = calloc(1, sizeof(*rd));
	const char *fmt = bios ? "/raw/%s-bios.raw" : "/raw/%s-efi.raw";
	int r;

	if (!rd)
		return -ENOMEM;
	rd->bctx = ctx;
	rd->bios = bios;
	r = aur_tree_on_free(ctx->tree, free, rd);
	if (r < 0) {
		free(rd);
		return r;
	}
	r = aur_named_file_add(ctx, fmt, &disk_ops, rd, out);
	if (r == 0)
		r = aur_checksum_file_add(ctx, fmt, out, NULL, NULL);
	return r;
}

static int add_files(struct aur_build_ctx *ctx)
{
	const struct aur_config *cfg = ctx->cfg;
	int r = 0;

	/* the VHD and the GCE image are made of the EFI disk */
	if (cfg->disk.efi || cfg->disk.vhd || cfg->disk.gce)
		r = add_disk(ctx, false, &ctx->products[AUR_PRODUCT_RAW_EFI]);
	if (r == 0 && cfg->disk.bios)
		r = add_disk(ctx, true, &ctx->products[AUR_PRODUCT_RAW_BIOS]);
	return r;
}

const struct aur_builder aur_builder_raw_disk = {
	.name = "raw-disk",
	.needs = AUR_NEEDS(AUR_PRODUCT_ROOTFS) |
		 AUR_NEEDS(AUR_PRODUCT_SQUASHFS) |
		 AUR_NEEDS(AUR_PRODUCT_KERNEL),
	.provides = AUR_NEEDS(AUR_PRODUCT_RAW_EFI) |
		    AUR_NEEDS(AUR_PRODUCT_RAW_BIOS),
	.add_files = add_files,
};
