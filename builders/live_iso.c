// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The live ISO of a root filesystem, /iso/<name>.iso, laid out as
 * AuroraBoot lays it out: volume COS_LIVE; /boot/kernel, /boot/initrd,
 * /rootfs.squashfs; GRUB's El Torito image for BIOS and its hybrid MBR; an
 * EFI image holding the rootfs's shim and GRUB, appended as a GPT
 * partition; the GRUB menus; /config.yaml.
 *
 * It is made in two steps, so that the big files are never copied:
 *  1. the boot skeleton - a small ISO with everything but the big files -
 *     made by xorriso with AuroraBoot's options and kept in the store,
 *     keyed by what it is made of (the rootfs, the menu options, the
 *     host's GRUB);
 *  2. the ISO - the skeleton with /boot/kernel, /boot/initrd,
 *     /rootfs.squashfs and /config.yaml added by the ISO editor
 *     (isoedit.h) as extents over the layers and the stored squashfs.
 */
#include <aurora/builder.h>
#include <aurora/config.h>
#include <aurora/efi.h>
#include <aurora/extmap.h>
#include <aurora/isoedit.h>
#include <aurora/kairos.h>
#include <aurora/log.h>
#include <aurora/overlay.h>
#include <aurora/rootfs.h>
#include <aurora/source.h>
#include <aurora/spawn.h>
#include <aurora/staging.h>
#include <aurora/store.h>
#include <aurora/tree.h>
#include <aurora/util.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <unistd.h>

#define SKELETON_VERSION "aurorafs live ISO skeleton 1"
#define VOLUME_ID "COS_LIVE"
#define GRUB_PC_DIR "/usr/lib/grub/i386-pc"
#define DEFAULT_CONSOLE "console=ttyS0 console=tty1"

/* What GRUB's BIOS El Torito image holds: enough to read an ISO and boot
 * Linux from it with the menu below. */
static const char *const bios_modules[] = {
	"biosdisk",	"iso9660",	  "part_msdos",
	"part_gpt",	"normal",	  "configfile",
	"search",	"search_fs_file", "search_fs_uuid",
	"search_label", "linux",	  "echo",
	"test",		"serial",	  "terminal",
	"smbios",	"regexp",	  NULL};

/* The live menu: the same kernel line in every entry, with the mode of
 * the entry (AuroraBoot's menu). */
static const struct menu_entry {
	const char *title;
	const char *mode; /* replaces "rd.cos.disable" when console is set */
	bool cos_disable;
	bool debug;
} menu[] = {
	{"Kairos", "install-mode", true, false},
	{"Kairos (manual)", NULL, true, false},
	{"kairos (interactive install)", "install-mode-interactive", true,
	 false},
	{"Kairos (remote recovery mode)", "kairos.remote_recovery_mode", true,
	 false},
	{"Kairos (boot local node from livecd)", "kairos.boot_live_mode", false,
	 false},
	{"Kairos (debug)", NULL, true, true},
};

struct live_iso {
	struct aur_build_ctx *bctx;
};

/* What one build of the ISO owns. */
struct live_image {
	struct aur_file_source skeleton;
	struct aur_overlay *overlay;
	struct aur_extmap_source kernel, initrd, squashfs;
	struct aur_mem_source config;
	struct aur_iso_edit *edit;
};

/* ---- the menus ---- */

/* AuroraBoot strips newlines from iso.extend-live-cmdline. */
static char *one_line(const char *s)
{
	char *out = strdup(s ? s : "");

	for (char *p = out; p && *p; p++)
		if (*p == '\n' || *p == '\r')
			*p = ' ';
	return out;
}

static char *bios_menu(const struct aur_config *cfg, bool x86)
{
	const char *console = cfg->iso.live_console && *cfg->iso.live_console
				      ? cfg->iso.live_console
				      : DEFAULT_CONSOLE;
	AUR_AUTOFREE char *extend = one_line(cfg->iso.extend_live_cmdline);
	char *out = NULL;
	size_t size = 0;
	FILE *f;

	if (!extend)
		return NULL;
	f = open_memstream(&out, &size);
	if (!f)
		return NULL;
	fputs("search --no-floppy --file --set=root /boot/kernel\n"
	      "set default=0\nset timeout=10\nset timeout_style=menu\n",
	      f);
	for (size_t i = 0; i < AUR_ARRAY_SIZE(menu); i++) {
		const struct menu_entry *e = &menu[i];

		fprintf(f,
			"\nmenuentry \"%s\" --class os --unrestricted {\n"
			"\techo Loading kernel...\n"
			"\tlinux ($root)/boot/kernel cdroot "
			"root=live:CDLABEL=" VOLUME_ID " rd.live.dir=/ "
			"rd.live.squashimg=rootfs.squashfs net.ifnames=1 %s%s "
			"vga=795%s%s%s selinux=0 "
			"rd.live.overlay.overlayfs%s%s\n"
			"\techo Loading initrd...\n"
			"\tinitrd ($root)/boot/initrd\n}\n",
			e->title,
			e->debug ? "console=tty0 rd.debug rd.shell" : console,
			e->cos_disable ? " rd.cos.disable" : "",
			x86 ? " nomodeset" : "", e->mode ? " " : "",
			e->mode ? e->mode : "", *extend ? " " : "", extend);
	}
	if (fclose(f) != 0) {
		free(out);
		return NULL;
	}
	return out;
}

/* On the ESP: find the ISO filesystem, then its menu. */
static const char efi_menu[] =
	"search --no-floppy --file --set=root /boot/kernel\n"
	"set prefix=($root)/boot/grub2\n"
	"configfile $prefix/grub.cfg\n";

/* ---- the skeleton ---- */

struct skeleton_inputs {
	const struct aur_config *cfg;
	const struct aur_rootfs *fs;
	const char *state_dir;
	const char *what;
	const char *flavor;
	bool arm;
	time_t epoch;
};

/* The ESP menu goes where each loader looks for it: GRUB with a prefix on
 * the ESP (EFI/BOOT), Debian's gcd*.efi (/boot/grub), Ubuntu's shim
 * (EFI/ubuntu). */
static const char *const efi_menu_paths[] = {
	"EFI/BOOT/grub.cfg", "boot/grub/grub.cfg", "EFI/ubuntu/grub.cfg"};

static size_t efi_menus(const struct skeleton_inputs *in)
{
	return strstr(in->flavor, "ubuntu") ? 3 : 2;
}

/* tree/boot/uefi.img: the loaders and the ESP menus on a FAT as big as
 * its files rounded down to 4 MiB, plus 4 MiB (AuroraBoot's size). */
static int make_efi_image(struct aur_staging *s,
			  const struct skeleton_inputs *in)
{
	AUR_AUTOFREE char *img = aur_staging_path(s, "tree/boot/uefi.img");
	struct aur_efi_loaders e;
	struct aur_fat_file files[5];
	char loader[96], grub[96];
	size_t n = 0;
	uint64_t bytes;
	int fd, r;

	if (!img)
		return -ENOMEM;
	r = aur_efi_find(in->fs, in->arm, true, &e);
	if (r < 0)
		return r;
	snprintf(loader, sizeof(loader), "EFI/BOOT/%s", e.boot_name);
	snprintf(grub, sizeof(grub), "EFI/BOOT/%s", e.grub_name);
	files[n++] = (struct aur_fat_file){loader, NULL, 0,
					   e.shim ? e.shim : e.grub};
	if (e.shim)
		files[n++] = (struct aur_fat_file){grub, NULL, 0, e.grub};
	for (size_t i = 0; i < efi_menus(in); i++)
		files[n++] = (struct aur_fat_file){efi_menu_paths[i], efi_menu,
						   strlen(efi_menu), NULL};
	bytes = aur_fat_files_bytes(files, n);
	fd = open(img, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	r = aur_fat_image(in->state_dir, in->what, "EFI_LIVE",
			  (bytes / (4 << 20) + 1) * 4096, files, n, in->epoch,
			  fd);
	close(fd);
	return r;
}

/* GRUB's BIOS pieces from the host: its El Torito image, made with the
 * menu's prefix, and its hybrid MBR. */
static int make_bios_images(struct aur_staging *s,
			    const struct skeleton_inputs *in)
{
	AUR_AUTOFREE char *eltorito =
		aur_staging_path(s, "tree/boot/eltorito.img");
	const char *argv[8 + AUR_ARRAY_SIZE(bios_modules)] = {
		"grub-mkimage", "-O",	       "i386-pc-eltorito",
		"-p",		"/boot/grub2", "-o"};
	const char *const env[] = {aur_staging_epoch_env(s), NULL};
	size_t n = 6;
	char *data;
	size_t len;
	int r;

	if (!eltorito)
		return -ENOMEM;
	argv[n++] = eltorito;
	for (size_t i = 0; bios_modules[i]; i++)
		argv[n++] = bios_modules[i];
	argv[n] = NULL;
	r = aur_run(argv, env, in->what);
	if (r < 0)
		return r;
	r = aur_read_file(GRUB_PC_DIR "/boot_hybrid.img", 1 << 16, &data, &len);
	if (r < 0) {
		aur_err("%s: cannot read '%s': %s (is grub-pc-bin installed?)",
			in->what, GRUB_PC_DIR "/boot_hybrid.img", strerror(-r));
		return r;
	}
	r = aur_staging_put(s, "tree/boot/boot_hybrid.img", data, len, NULL);
	free(data);
	return r;
}

/* xorriso as AuroraBoot runs it, on the staged tree. */
static int run_xorriso(struct aur_staging *s, const struct skeleton_inputs *in)
{
	AUR_AUTOFREE char *tree = aur_staging_path(s, "tree");
	AUR_AUTOFREE char *out = aur_staging_path(s, "skeleton.iso");
	AUR_AUTOFREE char *mbr =
		aur_staging_path(s, "tree/boot/boot_hybrid.img");
	AUR_AUTOFREE char *uefi = aur_staging_path(s, "tree/boot/uefi.img");
	AUR_AUTOFREE char *mbr_arg = NULL;
	const char *const env[] = {aur_staging_epoch_env(s), NULL};
	const char *argv[96];
	size_t n = 0;

	if (!tree || !out || !mbr || !uefi ||
	    !(mbr_arg = aur_printf("grub2_mbr=%s", mbr)))
		return -ENOMEM;
#define ARG(...)                                                   \
	do {                                                       \
		const char *const a_[] = {__VA_ARGS__};            \
		for (size_t i_ = 0; i_ < AUR_ARRAY_SIZE(a_); i_++) \
			argv[n++] = a_[i_];                        \
	} while (0)
	ARG("xorriso", "-volid", VOLUME_ID, "-joliet", "on", "-padding", "0",
	    "-outdev", out, "-map", tree, "/", "-chmod", "0755", "--");
	if (!in->arm) {
		ARG("-boot_image", "grub", "bin_path=/boot/eltorito.img");
		ARG("-boot_image", "grub", mbr_arg);
		ARG("-boot_image", "grub", "grub2_boot_info=on");
	}
	ARG("-boot_image", "any", "partition_offset=16");
	ARG("-boot_image", "any", "cat_path=/boot/boot.catalog");
	ARG("-boot_image", "any", "cat_hidden=on");
	if (!in->arm) {
		ARG("-boot_image", "any", "boot_info_table=on");
		ARG("-boot_image", "any", "platform_id=0x00");
		ARG("-boot_image", "any", "emul_type=no_emulation");
		ARG("-boot_image", "any", "load_size=2048");
		ARG("-boot_image", "any", "next");
	}
	ARG("-boot_image", "any", "platform_id=0xef");
	ARG("-boot_image", "any", "emul_type=no_emulation");
	ARG("-append_partition", "2", "0xef", uefi);
	ARG("-boot_image", "any",
	    "efi_path=--interval:appended_partition_2:all::");
	ARG("-boot_image", "any", "appended_part_as=gpt");
	ARG("-boot_image", "any", "mbr_force_bootable=on");
#undef ARG
	argv[n] = NULL;
	return aur_run(argv, env, in->what);
}

static int copy_file_to(const char *path, int out_fd)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	off_t off = 0;
	int r = 0;

	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0)
		r = -errno;
	while (r == 0 && off < st.st_size) {
		ssize_t n =
			sendfile(out_fd, fd, &off, (size_t)(st.st_size - off));

		if (n < 0 && errno != EINTR)
			r = -errno;
		else if (n == 0)
			r = -EIO;
	}
	close(fd);
	return r;
}

static int make_skeleton(void *ctx, int out_fd)
{
	const struct skeleton_inputs *in = ctx;
	AUR_AUTOFREE char *menu_text = bios_menu(in->cfg, !in->arm);
	AUR_AUTOFREE char *iso = NULL;
	struct aur_staging *s = NULL;
	int r;

	if (!menu_text)
		return -ENOMEM;
	r = aur_staging_open(in->state_dir, in->what, in->epoch, &s);
	if (r < 0)
		return r;
	r = aur_staging_put(s, "tree/boot/grub2/grub.cfg", menu_text,
			    strlen(menu_text), NULL);
	for (size_t i = 0; r == 0 && i < efi_menus(in); i++) {
		AUR_AUTOFREE char *rel =
			aur_printf("tree/%s", efi_menu_paths[i]);

		r = rel ? aur_staging_put(s, rel, efi_menu, strlen(efi_menu),
					  NULL)
			: -ENOMEM;
	}
	if (r == 0 && !in->arm)
		r = make_bios_images(s, in);
	if (r == 0)
		r = make_efi_image(s, in);
	if (r == 0)
		r = aur_staging_settle(s, "tree");
	if (r == 0)
		r = run_xorriso(s, in);
	if (r == 0) {
		iso = aur_staging_path(s, "skeleton.iso");
		r = iso ? copy_file_to(iso, out_fd) : -ENOMEM;
	}
	aur_staging_close(s);
	return r;
}

/* ---- the ISO ---- */

/* The skeleton's key: everything its bytes depend on. */
static void skeleton_key(const struct skeleton_inputs *in, const char *fs_key,
			 char key[65])
{
	AUR_AUTOFREE char *grub = NULL;
	char epoch[32], host_grub[65] = "none";
	unsigned char d[32];
	size_t len;

	/* the host's GRUB makes the BIOS pieces: its version counts */
	if (aur_read_file(GRUB_PC_DIR "/kernel.img", 1 << 20, &grub, &len) ==
	    0) {
		aur_sha256(grub, len, d);
		aur_sha256_hex(d, host_grub);
	}
	snprintf(epoch, sizeof(epoch), "%lld", (long long)in->epoch);
	{
		const char *const inputs[] = {
			SKELETON_VERSION,
			fs_key,
			in->cfg->iso.live_console ? in->cfg->iso.live_console
						  : "",
			in->cfg->iso.extend_live_cmdline
				? in->cfg->iso.extend_live_cmdline
				: "",
			in->arm ? "arm64" : "x86_64",
			epoch,
			host_grub};

		aur_store_key(inputs, AUR_ARRAY_SIZE(inputs), key);
	}
}

static int product_view(struct aur_build_ctx *b, enum aur_product p,
			struct aur_extmap_source *view, time_t *mtime)
{
	const struct aur_image *img;
	int r = aur_product_image(b, p, &img);

	if (r == 0) {
		aur_extmap_source_init(view, &img->map);
		*mtime = img->mtime;
	}
	return r;
}

/* The squashfs, built on a thread of its own while the skeleton is made:
 * neither needs the other, and each takes a while (compressing the
 * rootfs; GRUB's images and xorriso). */
struct squashfs_job {
	struct aur_build_ctx *b;
	struct aur_extmap_source *view; /* the squashfs, once built */
	time_t mtime;
	int r;
};

static void *squashfs_job_run(void *arg)
{
	struct squashfs_job *j = arg;

	j->r = product_view(j->b, AUR_PRODUCT_SQUASHFS, j->view, &j->mtime);
	return NULL;
}

/* The skeleton plus, in AuroraBoot's order (a later one wins):
 * /config.yaml, the iso.overlay_iso files, then the image's kernel, initrd
 * and squashfs. The skeleton's menu is AuroraBoot's unless the overlay
 * brings its own. */
static int edit(struct live_image *li, struct aur_build_ctx *b,
		const struct skeleton_inputs *in, struct aur_extmap *map)
{
	const char *overlay = b->cfg->iso.overlay_iso;
	AUR_AUTOFREE struct aur_iso_addition *adds = NULL;
	size_t n = 0, count;
	int r;

	if (overlay && *overlay) {
		r = aur_overlay_load(b->state_dir, overlay, &li->overlay);
		if (r < 0)
			return -EIO;
	}
	count = aur_overlay_count(li->overlay);
	adds = calloc(count + 4, sizeof(*adds));
	if (!adds)
		return -ENOMEM;
	aur_mem_source_init(&li->config, b->cloud_config ? b->cloud_config : "",
			    b->cloud_config ? b->cloud_config_len : 0);
	adds[n++] = (struct aur_iso_addition){.path = "/config.yaml",
					      .src = &li->config.src,
					      .size = li->config.src.size,
					      .mode = S_IFREG | 0644,
					      .mtime = in->epoch};
	aur_overlay_additions(li->overlay, adds + n);
	n += count;
	adds[n++] = (struct aur_iso_addition){.path = "/boot/kernel",
					      .src = &li->kernel.src,
					      .size = li->kernel.src.size,
					      .mode = S_IFREG | 0644,
					      .mtime = in->epoch};
	adds[n++] = (struct aur_iso_addition){.path = "/boot/initrd",
					      .src = &li->initrd.src,
					      .size = li->initrd.src.size,
					      .mode = S_IFREG | 0644,
					      .mtime = in->epoch};
	adds[n++] = (struct aur_iso_addition){.path = "/rootfs.squashfs",
					      .src = &li->squashfs.src,
					      .size = li->squashfs.src.size,
					      .mode = S_IFREG | 0644,
					      .mtime = in->epoch};
	return aur_iso_edit(&li->skeleton.src, li->skeleton.src.size, in->what,
			    adds, n, map, &li->edit);
}

static void live_release(void *ctx, struct aur_image *img)
{
	struct live_image *li = img->priv;

	if (!li)
		return;
	aur_iso_edit_free(li->edit);
	aur_overlay_free(li->overlay);
	aur_file_source_close(&li->skeleton);
	free(li);
	img->priv = NULL;
}

static int live_build(void *ctx, struct aur_image *img)
{
	struct live_iso *lv = ctx;
	struct aur_build_ctx *b = lv->bctx;
	struct live_image *li = calloc(1, sizeof(*li));
	struct skeleton_inputs in = {.cfg = b->cfg, .state_dir = b->state_dir};
	struct squashfs_job sq = {.b = b};
	pthread_t sq_thread;
	bool sq_threaded;
	AUR_AUTOFREE char *flavor = NULL;
	AUR_AUTOFREE char *arch = NULL;
	AUR_AUTOFREE char *what = NULL;
	const char *fs_key;
	time_t mtime;
	char key[65];
	int r;

	if (!li)
		return -ENOMEM;
	img->priv = li;
	li->skeleton.fd = -1;
	r = b->rootfs.get(b->rootfs.ctx, &in.fs, &fs_key);
	if (r < 0)
		return r;
	/* dates in the ISO: the kernel's, so that they follow the image */
	r = product_view(b, AUR_PRODUCT_KERNEL, &li->kernel, &in.epoch);
	if (r == 0)
		r = product_view(b, AUR_PRODUCT_INITRD, &li->initrd, &mtime);
	if (r < 0)
		return r;
	sq.view = &li->squashfs;
	sq_threaded =
		pthread_create(&sq_thread, NULL, squashfs_job_run, &sq) == 0;
	if (!sq_threaded)
		squashfs_job_run(&sq);
	if (in.epoch <= 0)
		in.epoch = 1;
	flavor = aur_kairos_release_get(in.fs, "FLAVOR");
	arch = aur_kairos_release_get(in.fs, "ARCH");
	what = aur_printf("live ISO '%s'",
			  b->products[AUR_PRODUCT_BASE_ISO]->name);
	in.what = what;
	in.flavor = flavor ? flavor : "";
	in.arm = arch &&
		 (strcmp(arch, "arm64") == 0 || strcmp(arch, "aarch64") == 0);
	if (what) {
		skeleton_key(&in, fs_key, key);
		r = aur_store_get(b->state_dir, key, what, make_skeleton, &in,
				  &li->skeleton);
	} else {
		r = -ENOMEM;
	}
	if (sq_threaded)
		pthread_join(sq_thread, NULL);
	if (sq.r < 0)
		return sq.r;
	if (r < 0)
		return r == -ENOENT ? -EIO : r;
	r = edit(li, b, &in, &img->map);
	img->mtime = in.epoch;
	if (b->cloud_config && b->cloud_config_mtime > img->mtime)
		img->mtime = b->cloud_config_mtime;
	return r == -EINVAL ? -EIO : r;
}

static const struct aur_file_ops live_ops = {
	.build = live_build,
	.release = live_release,
};

static int add_files(struct aur_build_ctx *ctx)
{
	struct live_iso *lv = calloc(1, sizeof(*lv));
	int r;

	if (!lv)
		return -ENOMEM;
	lv->bctx = ctx;
	r = aur_tree_on_free(ctx->tree, free, lv);
	if (r < 0) {
		free(lv);
		return r;
	}
	/* the base ISO other outputs edit is this one */
	r = aur_named_file_add(ctx, "/iso/%s.iso", &live_ops, lv,
			       &ctx->products[AUR_PRODUCT_BASE_ISO]);
	if (r == 0)
		r = aur_checksum_file_add(ctx, "/iso/%s.iso",
					  &ctx->products[AUR_PRODUCT_BASE_ISO],
					  NULL, NULL);
	return r;
}

const struct aur_builder aur_builder_live_iso = {
	.name = "live-iso",
	.needs = AUR_NEEDS(AUR_PRODUCT_ROOTFS) |
		 AUR_NEEDS(AUR_PRODUCT_SQUASHFS) |
		 AUR_NEEDS(AUR_PRODUCT_KERNEL) | AUR_NEEDS(AUR_PRODUCT_INITRD),
	.provides = AUR_NEEDS(AUR_PRODUCT_BASE_ISO),
	.add_files = add_files,
};
