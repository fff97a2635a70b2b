#!/usr/bin/env bash
#
# build.sh OUTDIR - build the aurorafs demo OS and every boot medium the
# project's tests need (see README.md in this directory for the layout).
#
# The demo OS exists so that aurorafs can be tested end to end without
# network access to the real Kairos images: it is a real Debian kernel plus
# a busybox userland small enough to rebuild in well under a minute and to
# boot under TCG in well under a minute, laid out the way Kairos lays out
# its live media.  Its initramfs reports what it saw over the serial port
# (init.sh), and boot.sh turns that into a pass/fail.
#
# Environment:
#   DEMO_VERSION          release tag baked into the OS and asset names (v3.0.0)
#   DEMO_REPO             owner/name of the fake GitHub release (kairos-io/kairos)
#   AURORAFS_DEMO_CACHE   where the kernel .deb is kept (OUTDIR/.cache)
#   AURORAFS_DEMO_KERNEL_DEB  use this kernel .deb instead of asking apt
#   SOURCE_DATE_EPOCH     timestamp stamped on every file (2024-01-01)
#
# Re-running with the same inputs on a complete OUTDIR is a no-op that
# takes about a second, so test suites can call it unconditionally.

set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

die() {
	echo "build.sh: error: $*" >&2
	exit 1
}
log() { echo "[demo-os +${SECONDS}s] $*" >&2; }

[[ $# -eq 1 ]] || {
	echo "usage: $0 OUTDIR" >&2
	exit 2
}
# Root keeps the extracted kernel package and the rootfs tree owned by 0:0
# without fakeroot tricks, and it is what the tests run as anyway.
[[ $EUID -eq 0 ]] || die "must run as root"

mkdir -p "$1"
OUT=$(cd "$1" && pwd)
CACHE=${AURORAFS_DEMO_CACHE:-$OUT/.cache}
mkdir -p "$CACHE"
CACHE=$(cd "$CACHE" && pwd)
WORK=$OUT/.work
STAMP=$OUT/.build-stamp

# Test suites may start several builds of one OUTDIR at once; the later
# ones wait here and then find the stamp current.
exec 9>"$OUT/.build.lock"
flock 9

# ------------------------------------------------------------ identity
# The names below mirror a Kairos release so that asset-name parsing in
# aurorafs sees exactly the shapes it will see in the wild.
DEMO_VERSION=${DEMO_VERSION:-v3.0.0}
DEMO_REPO=${DEMO_REPO:-kairos-io/kairos}
FLAVOR=demo
FLAVOR_RELEASE=1.0
VARIANT=core
ARCH=amd64
MODEL=generic
IMAGE_LABEL="$FLAVOR_RELEASE-$VARIANT-$ARCH-$MODEL-$DEMO_VERSION"
ARTIFACT="kairos-$FLAVOR-$IMAGE_LABEL"
VOLID=COS_LIVE
EPOCH=${SOURCE_DATE_EPOCH:-1704067200}
export SOURCE_DATE_EPOCH=$EPOCH # xorriso derives dates and GPT GUIDs from it

case "$DEMO_VERSION$DEMO_REPO" in
*[!A-Za-z0-9._/+-]*) die "DEMO_VERSION/DEMO_REPO may only use [A-Za-z0-9._/+-]" ;;
esac
[[ $DEMO_REPO == */* && $DEMO_REPO != */*/* ]] || die "DEMO_REPO must be owner/name"

# Every boot menu passes the same command line: the dracut live-module
# arguments a Kairos ISO uses, plus the serial console the tests read.
CMDLINE="root=live:CDLABEL=$VOLID rd.live.dir=/ rd.live.squashimg=rootfs.squashfs console=ttyS0,115200 panic=5"

# Drivers for every way the tests attach media or network under QEMU
# (q35 AHCI CD-ROM, i440fx IDE, virtio disk/SCSI/NIC, e1000/e1000e) and the
# filesystems the initramfs mounts.  Dependencies are added automatically.
MODULES=(virtio_pci virtio_blk virtio_scsi virtio_net e1000 e1000e
	ahci ata_piix sr_mod sd_mod isofs squashfs loop vfat ext4
	nls_cp437 nls_ascii nls_iso8859_1 nls_utf8)

# Just enough GRUB to read an ISO or a FAT ESP and boot Linux from it.
GRUB_COMMON_MODULES="iso9660 part_msdos part_gpt normal configfile search search_fs_file search_fs_uuid search_label linux echo test serial terminal"
GRUB_BIOS_MODULES="$GRUB_COMMON_MODULES biosdisk"
GRUB_EFI_MODULES="$GRUB_COMMON_MODULES fat efi_gop"
# The image's own EFI GRUB, which aurorafs puts on live ISOs and disk ESPs:
# it reads its menu from EFI/BOOT on the device it came from, and can boot
# the recovery squashfs of a raw disk (ext2, loopback, squashfs).
GRUB_IMAGE_EFI_MODULES="$GRUB_EFI_MODULES ext2 squash4 loopback gzio xzio regexp"

for tool in busybox cpio gzip dpkg-deb depmod modprobe mksquashfs xorriso \
	grub-mkimage grub-mkrescue mkfs.vfat mmd mcopy mformat sha256sum apt-get apt-cache; do
	command -v "$tool" >/dev/null || die "missing tool: $tool"
done
for f in /usr/lib/grub/i386-pc/boot_hybrid.img /usr/lib/grub/x86_64-efi/linux.mod \
	/usr/lib/ISOLINUX/isolinux.bin /usr/lib/ISOLINUX/isohdpfx.bin \
	/usr/lib/syslinux/modules/bios/ldlinux.c32; do
	[[ -f $f ]] || die "missing file: $f"
done
BUSYBOX=$(command -v busybox)
ldd "$BUSYBOX" >/dev/null 2>&1 && die "$BUSYBOX is dynamically linked; install busybox-static"

# ------------------------------------------------------------ kernel .deb
# The kernel is whatever Debian's linux-image-amd64 currently points at;
# it is downloaded (never installed) and kept in the cache.
find_kernel_pkg() {
	local deps
	deps=$(apt-cache depends linux-image-amd64 2>/dev/null) || return 1
	awk '$1 == "Depends:" && $2 ~ /^linux-image-[0-9]/ { print $2 }' <<<"$deps" | head -n1 | grep .
}

candidate_version() {
	local policy
	policy=$(apt-cache policy "$1" 2>/dev/null) || return 1
	awk '$1 == "Candidate:" && $2 != "(none)" { print $2 }' <<<"$policy" | grep .
}

resolve_kernel_deb() {
	local pkg ver deb cached
	if [[ -n ${AURORAFS_DEMO_KERNEL_DEB:-} ]]; then
		[[ -f $AURORAFS_DEMO_KERNEL_DEB ]] || die "AURORAFS_DEMO_KERNEL_DEB not found: $AURORAFS_DEMO_KERNEL_DEB"
		echo "$AURORAFS_DEMO_KERNEL_DEB"
		return
	fi
	if ! pkg=$(find_kernel_pkg) || ! ver=$(candidate_version "$pkg"); then
		log "apt lists do not know linux-image-amd64; running apt-get update"
		apt-get update -qq >&2 || true
		if ! pkg=$(find_kernel_pkg) || ! ver=$(candidate_version "$pkg"); then
			# Offline and no lists: a previously cached kernel still works.
			cached=$(find "$CACHE" -maxdepth 1 -name 'linux-image-*-amd64_*.deb' | sort -V | tail -n1)
			[[ -n $cached ]] || die "cannot resolve linux-image-amd64 and no cached kernel .deb"
			echo "$cached"
			return
		fi
	fi
	deb="$CACHE/${pkg}_${ver//:/%3a}_amd64.deb"
	if [[ ! -s $deb ]]; then
		log "downloading $pkg $ver"
		# Sandbox user root: the cache may be a directory _apt cannot write.
		if ! (cd "$CACHE" && apt-get -qq -o APT::Sandbox::User=root download "$pkg=$ver" >&2); then
			apt-get update -qq >&2 || true
			ver=$(candidate_version "$pkg") || die "no candidate for $pkg"
			deb="$CACHE/${pkg}_${ver//:/%3a}_amd64.deb"
			(cd "$CACHE" && apt-get -qq -o APT::Sandbox::User=root download "$pkg=$ver" >&2) ||
				die "apt-get download $pkg=$ver failed"
		fi
		[[ -s $deb ]] || die "download did not produce $deb"
	fi
	echo "$deb"
}

# ------------------------------------------------------------ up to date?
# The fingerprint covers everything that can change a byte of the output:
# these scripts, the kernel package, the host tools that end up inside the
# images, the release identity and the output location (demo.env holds
# absolute paths).
tool_versions() {
	dpkg-query -W -f '${Package}=${Version}\n' busybox-static grub-common grub-pc-bin \
		grub-efi-amd64-bin xorriso isolinux syslinux-common squashfs-tools mtools \
		dosfstools cpio 2>/dev/null || true
}
fingerprint() { # KERNEL_DEB
	{
		echo "out=$OUT version=$DEMO_VERSION repo=$DEMO_REPO epoch=$EPOCH"
		echo "kernel=$1 $(stat -c %s "$1")"
		sha256sum "$BUSYBOX" | cut -d' ' -f1
		tool_versions
		cat "$HERE/build.sh" "$HERE/init.sh" "$HERE/udhcpc.sh" "$HERE/image.sh"
	} | sha256sum | cut -d' ' -f1
}

# The stamp names the kernel .deb it was built from and lists every output
# with its size; a changed input or a truncated or deleted output makes the
# build run again.  Asking apt which kernel is current costs more than the
# whole check, so an existing build keeps its cached kernel until something
# else changes (or AURORAFS_DEMO_REFRESH=1).
stamp_is_current() {
	local line deb size path
	[[ -f $STAMP && -z ${AURORAFS_DEMO_REFRESH:-} ]] || return 1
	{
		read -r line deb || return 1
		[[ $line == kernel-deb && -f $deb ]] || return 1
		[[ -z ${AURORAFS_DEMO_KERNEL_DEB:-} || $deb -ef $AURORAFS_DEMO_KERNEL_DEB ]] || return 1
		read -r line || return 1
		[[ $line == "fingerprint $(fingerprint "$deb")" ]] || return 1
		while read -r size path; do
			[[ -f $OUT/$path && $(stat -c %s "$OUT/$path") == "$size" ]] || return 1
		done
	} <"$STAMP"
}

if stamp_is_current; then
	log "up to date: $OUT (remove $STAMP to force a rebuild)"
	exit 0
fi

KERNEL_DEB=$(resolve_kernel_deb)
FINGERPRINT=$(fingerprint "$KERNEL_DEB")

log "building demo OS $ARTIFACT into $OUT"
rm -f "$STAMP"
rm -rf "$WORK"
mkdir -p "$WORK"
trap 'rm -rf "$WORK"' EXIT

# Run a noisy tool (xorriso prints a banner even when all is well) and show
# its output only when it fails.
quietly() {
	local out=$WORK/quietly.log
	if ! "$@" >"$out" 2>&1; then
		cat "$out" >&2
		die "failed: $*"
	fi
}

# Hard links keep the four ISO trees from costing four copies of the same
# 20 MB; cp is the fallback when WORK and OUT sit on different filesystems.
link_or_copy() { ln -f "$1" "$2" 2>/dev/null || cp "$1" "$2"; }

# Same timestamp on every file, so that cpio, squashfs and ISO builds are
# byte-for-byte repeatable.
flatten_times() { find "$@" -exec touch -h -d "@$EPOCH" {} +; }

# ------------------------------------------------------------ kernel
log "extracting $(basename "$KERNEL_DEB")"
KROOT=$WORK/kernel-pkg
dpkg-deb -x "$KERNEL_DEB" "$KROOT"
KVER=$(find "$KROOT/lib/modules" -mindepth 1 -maxdepth 1 -printf '%f\n' | head -n1)
[[ -n $KVER && -f $KROOT/boot/vmlinuz-$KVER ]] || die "no kernel image in $KERNEL_DEB"
KERNEL_PKG_VERSION=$(dpkg-deb -f "$KERNEL_DEB" Version)
# The package ships no modules.dep (postinst makes it); build one so that
# modprobe can tell us load order and dependencies.
depmod -b "$KROOT" "$KVER"

# ------------------------------------------------------------ initramfs
log "assembling initramfs for kernel $KVER"
IROOT=$WORK/initramfs
IMOD=$IROOT/lib/modules/$KVER
mkdir -p "$IROOT"/{bin,sbin,usr/bin,usr/sbin,dev,proc,sys,run,tmp,mnt,etc} "$IMOD"

# busybox plus one symlink per applet: the kernel's module auto-loader and
# our scripts then find modprobe, udhcpc, wget... at their usual paths.
# One perl process (perl-base is Essential in Debian) instead of ~270
# ln forks, which alone took seconds.
install_busybox() { # ROOT
	install -m 0755 "$BUSYBOX" "$1/bin/busybox"
	"$BUSYBOX" --list-full | perl -MFile::Path=make_path -e '
		my $root = shift;
		while (my $applet = <STDIN>) {
			chomp $applet;
			next if $applet eq "" || $applet eq "bin/busybox";
			my $link = "$root/$applet";
			(my $dir = $link) =~ s{/[^/]+$}{};
			make_path($dir);
			unlink $link;
			symlink("/bin/busybox", $link) or die "$link: $!\n";
		}' "$1"
}
install_busybox "$IROOT"

# Load order straight from modprobe; "builtin" lines need nothing, a module
# reached from two roots is loaded once, at its first position.
declare -A seen=()
load=()
deps=$(modprobe -d "$KROOT" -S "$KVER" --show-depends --ignore-install -a "${MODULES[@]}") ||
	die "modprobe could not resolve: ${MODULES[*]}"
while read -r verb path _; do
	[[ $verb == insmod ]] || continue
	rel=${path#"$KROOT/lib/modules/$KVER/"}
	[[ -z ${seen[$rel]:-} ]] || continue
	seen[$rel]=1
	load+=("$rel")
done <<<"$deps"
for m in "${MODULES[@]}"; do
	grep -q "/${m//_/[_-]}\.ko" <<<"$deps" || die "module $m not found in kernel $KVER"
done
printf '%s\n' "${load[@]}" >"$IMOD/aurorafs-demo.load"
(cd "$KROOT/lib/modules/$KVER" &&
	cp --parents "${load[@]}" modules.builtin modules.builtin.modinfo modules.order "$IMOD/")
depmod -b "$IROOT" "$KVER"

install -m 0755 "$HERE/init.sh" "$IROOT/init"
install -m 0755 "$HERE/udhcpc.sh" "$IROOT/etc/udhcpc.sh"
flatten_times "$IROOT"
(cd "$IROOT" && find . -mindepth 1 | LC_ALL=C sort |
	cpio -o -H newc -R 0:0 --reproducible --quiet) | gzip -n -9 >"$WORK/initrd"

# ------------------------------------------------------------ rootfs
log "assembling rootfs"
ROOTFS=$OUT/rootfs
rm -rf "$ROOTFS"
mkdir -p "$ROOTFS"/{bin,sbin,usr/bin,usr/sbin,boot,dev,proc,sys,run,tmp,root,var,etc/aurorafs-demo}
chmod 1777 "$ROOTFS/tmp"
install_busybox "$ROOTFS"
install -m 0644 "$KROOT/boot/vmlinuz-$KVER" "$ROOTFS/boot/vmlinuz"
install -m 0644 "$WORK/initrd" "$ROOTFS/boot/initrd"

# Kairos' own release file: KEY="value" lines that installers, upgraders
# and AuroraBoot read to name and identify an image.
kairos_release() {
	cat <<-EOF
		KAIROS_ID="kairos"
		KAIROS_ID_LIKE="kairos-$VARIANT-$FLAVOR-$FLAVOR_RELEASE"
		KAIROS_NAME="kairos-$VARIANT-$FLAVOR-$FLAVOR_RELEASE"
		KAIROS_VERSION="$DEMO_VERSION"
		KAIROS_VERSION_ID="$DEMO_VERSION"
		KAIROS_PRETTY_NAME="kairos-$VARIANT-$FLAVOR-$FLAVOR_RELEASE $DEMO_VERSION"
		KAIROS_FLAVOR="$FLAVOR"
		KAIROS_FLAVOR_RELEASE="$FLAVOR_RELEASE"
		KAIROS_FAMILY="$FLAVOR"
		KAIROS_VARIANT="$VARIANT"
		KAIROS_ARCH="$ARCH"
		KAIROS_TARGETARCH="$ARCH"
		KAIROS_MODEL="$MODEL"
		KAIROS_RELEASE="$DEMO_VERSION"
		KAIROS_IMAGE_LABEL="$IMAGE_LABEL"
		KAIROS_ARTIFACT="$ARTIFACT"
		KAIROS_GITHUB_REPO="$DEMO_REPO"
		KAIROS_HOME_URL="https://github.com/$DEMO_REPO"
		KAIROS_BUG_REPORT_URL="https://github.com/$DEMO_REPO/issues"
	EOF
}
kairos_release >"$ROOTFS/etc/kairos-release"
{
	cat <<-EOF
		NAME="Kairos demo"
		ID="kairos"
		ID_LIKE="kairos-$VARIANT-$FLAVOR-$FLAVOR_RELEASE"
		VERSION="$DEMO_VERSION"
		VERSION_ID="$DEMO_VERSION"
		PRETTY_NAME="Kairos demo $FLAVOR_RELEASE $VARIANT $DEMO_VERSION (aurorafs demo OS)"
		HOME_URL="https://github.com/$DEMO_REPO"
	EOF
	# Older Kairos releases carried the same keys in os-release.
	kairos_release
} >"$ROOTFS/etc/os-release"
echo kairos-demo >"$ROOTFS/etc/hostname"
printf 'root:x:0:0:root:/root:/bin/sh\n' >"$ROOTFS/etc/passwd"
printf 'root:x:0:\n' >"$ROOTFS/etc/group"
printf 'demo kernel %s, package %s\n' "$KVER" "$KERNEL_PKG_VERSION" >"$ROOTFS/etc/aurorafs-demo/kernel"

# What Kairos images carry for the disks AuroraBoot makes of them: the EFI
# GRUB (where AuroraBoot looks for a distribution's), and the recovery menu
# in /etc/cos/grub.cfg that boots /cOS/recovery.squashfs from COS_RECOVERY.
mkdir -p "$ROOTFS/usr/share/efi/x86_64" "$ROOTFS/etc/cos"
# shellcheck disable=SC2086 # module lists are meant to split into words
grub-mkimage -O x86_64-efi -p /EFI/BOOT -o "$ROOTFS/usr/share/efi/x86_64/grub.efi" \
	$GRUB_IMAGE_EFI_MODULES
cat >"$ROOTFS/etc/cos/grub.cfg" <<EOF
# aurorafs demo OS: recovery boot of a raw disk
if [ "\${grub_platform}" = "pc" ]; then
	serial --unit=0 --speed=115200
	terminal_input serial console
	terminal_output serial console
fi
set timeout=1
set default=0
search --no-floppy --label --set=root COS_RECOVERY
menuentry "Kairos demo $DEMO_VERSION (recovery)" {
	loopback loop0 (\$root)/cOS/recovery.squashfs
	linux (loop0)/boot/vmlinuz root=live:LABEL=COS_RECOVERY rd.live.dir=/cOS rd.live.squashimg=recovery.squashfs console=ttyS0,115200 panic=5
	initrd (loop0)/boot/initrd
}
EOF

# The manifest covers every other regular file; the initramfs re-hashes
# them after loop-mounting the squashfs, which proves the image arrived
# intact through whatever aurorafs did to it.
MANIFEST=etc/aurorafs-demo/manifest.sha256
(cd "$ROOTFS" && find . -type f ! -path "./$MANIFEST" -printf '%P\n' | LC_ALL=C sort |
	xargs -d '\n' sha256sum) >"$WORK/manifest"
install -m 0644 "$WORK/manifest" "$ROOTFS/$MANIFEST"
flatten_times "$ROOTFS"

# ------------------------------------------------------------ artefacts
log "writing kernel, initrd, rootfs.squashfs"
install -m 0644 "$KROOT/boot/vmlinuz-$KVER" "$OUT/kernel"
install -m 0644 "$WORK/initrd" "$OUT/initrd"
# mksquashfs refuses SOURCE_DATE_EPOCH together with explicit times.
env -u SOURCE_DATE_EPOCH mksquashfs "$ROOTFS" "$OUT/rootfs.squashfs" -noappend -all-root \
	-no-xattrs -mkfs-time "$EPOCH" -all-time "$EPOCH" -no-progress -quiet >/dev/null
flatten_times "$OUT/kernel" "$OUT/initrd" "$OUT/rootfs.squashfs"

# ------------------------------------------------------------ boot loaders
log "building boot loaders"
GRUBW=$WORK/grub
mkdir -p "$GRUBW"

# The one menu every GRUB-based ISO uses.  The serial terminal is set up
# explicitly only on BIOS: OVMF already mirrors the EFI console to the
# serial port, and doing both would print everything twice.
cat >"$GRUBW/grub.cfg" <<EOF
# aurorafs demo OS boot menu
if [ "\${grub_platform}" = "pc" ]; then
	serial --unit=0 --speed=115200
	terminal_input serial console
	terminal_output serial console
fi
set timeout=1
set timeout_style=menu
set default=0
search --no-floppy --file --set=root /boot/kernel
menuentry "Kairos demo $FLAVOR_RELEASE $VARIANT $DEMO_VERSION (aurorafs demo OS)" {
	echo "Loading kernel..."
	linux /boot/kernel $CMDLINE
	echo "Loading initrd..."
	initrd /boot/initrd
}
EOF

# The EFI loader starts with its prefix on the ESP; this hop finds the ISO
# filesystem (CD-ROM, whole disk or partition alike) and hands over to the
# shared menu there.
cat >"$GRUBW/efi-grub.cfg" <<EOF
search --no-floppy --file --set=root /boot/kernel
set prefix=(\$root)/boot/grub2
configfile (\$root)/boot/grub2/grub.cfg
EOF

# shellcheck disable=SC2086 # module lists are meant to split into words
grub-mkimage -O i386-pc-eltorito -p /boot/grub2 -o "$GRUBW/eltorito.img" $GRUB_BIOS_MODULES
# shellcheck disable=SC2086
grub-mkimage -O x86_64-efi -p /EFI/BOOT -o "$GRUBW/BOOTX64.EFI" $GRUB_EFI_MODULES

# FAT image for El Torito EFI / the appended ESP.  Sized to the loader plus
# slack for FAT metadata; fixed volume id and --invariant keep it repeatable.
efi_kb=$(($(stat -c %s "$GRUBW/BOOTX64.EFI") / 1024 + 256))
mkfs.vfat -C --invariant -i 434f5344 -n DEMO_EFI "$GRUBW/uefi.img" "$efi_kb" >/dev/null
flatten_times "$GRUBW/BOOTX64.EFI" "$GRUBW/efi-grub.cfg"
export MTOOLS_SKIP_CHECK=1
mmd -i "$GRUBW/uefi.img" ::/EFI ::/EFI/BOOT
mcopy -m -i "$GRUBW/uefi.img" "$GRUBW/BOOTX64.EFI" ::/EFI/BOOT/BOOTX64.EFI
mcopy -m -i "$GRUBW/uefi.img" "$GRUBW/efi-grub.cfg" ::/EFI/BOOT/grub.cfg

cat >"$GRUBW/isolinux.cfg" <<EOF
SERIAL 0 115200
DEFAULT demo
PROMPT 0
TIMEOUT 10
SAY aurorafs demo OS: booting Kairos demo $DEMO_VERSION
LABEL demo
	KERNEL /boot/kernel
	INITRD /boot/initrd
	APPEND $CMDLINE
EOF

# A tree with the payload every ISO shares.
payload_tree() { # DIR
	mkdir -p "$1/boot"
	link_or_copy "$OUT/kernel" "$1/boot/kernel"
	link_or_copy "$OUT/initrd" "$1/boot/initrd"
	link_or_copy "$OUT/rootfs.squashfs" "$1/rootfs.squashfs"
}

# The GRUB pieces of the AuroraBoot layout (also reused by the isolinux and
# plain El Torito variants for their EFI side).
grub_tree() { # DIR
	mkdir -p "$1/boot/grub2" "$1/EFI/BOOT"
	cp "$GRUBW/grub.cfg" "$1/boot/grub2/grub.cfg"
	cp "$GRUBW/efi-grub.cfg" "$1/EFI/BOOT/grub.cfg"
	cp "$GRUBW/eltorito.img" "$1/boot/eltorito.img"
	cp "$GRUBW/uefi.img" "$1/boot/uefi.img"
}

ISO=$OUT/iso
rm -rf "$ISO"
mkdir -p "$ISO"

# ------------------------------------------------------------ a. AuroraBoot
log "iso: auroraboot.iso"
T=$WORK/tree-auroraboot
payload_tree "$T"
grub_tree "$T"
cp /usr/lib/grub/i386-pc/boot_hybrid.img "$T/boot/boot_hybrid.img"
flatten_times "$T"
# Same xorriso invocation AuroraBoot uses, so the result has its quirks:
# GRUB hybrid MBR, ISO partition at offset 16, ESP appended as a GPT
# partition and also pointed at by the El Torito EFI entry.
quietly xorriso -volid "$VOLID" -joliet on -padding 0 \
	-outdev "$ISO/auroraboot.iso" -map "$T" / -chmod 0755 -- \
	-boot_image grub bin_path=/boot/eltorito.img \
	-boot_image grub grub2_mbr="$T/boot/boot_hybrid.img" \
	-boot_image grub grub2_boot_info=on \
	-boot_image any partition_offset=16 \
	-boot_image any cat_path=/boot/boot.catalog \
	-boot_image any cat_hidden=on \
	-boot_image any boot_info_table=on \
	-boot_image any platform_id=0x00 \
	-boot_image any emul_type=no_emulation \
	-boot_image any load_size=2048 \
	-boot_image any next \
	-boot_image any platform_id=0xef \
	-boot_image any emul_type=no_emulation \
	-append_partition 2 0xef "$T/boot/uefi.img" \
	-boot_image any efi_path=--interval:appended_partition_2:all:: \
	-boot_image any appended_part_as=gpt \
	-boot_image any mbr_force_bootable=on

# ------------------------------------------------------------ b. grub-mkrescue
log "iso: mkrescue.iso"
T=$WORK/tree-mkrescue
payload_tree "$T"
mkdir -p "$T/boot/grub"
cp "$GRUBW/grub.cfg" "$T/boot/grub/grub.cfg"
flatten_times "$T"
# Only the modules the menu needs, no fonts, themes or locales: that is
# most of grub-mkrescue's default 15 MB.  The list must exist on both
# platforms (grub-mkrescue adds biosdisk/efi bits to the core images itself).
# TMPDIR inside WORK: grub-mkrescue leaves its scratch tree behind on failure.
TMPDIR=$WORK quietly grub-mkrescue -o "$ISO/mkrescue.iso" --compress=xz --fonts= --locales= --themes= \
	--install-modules="$GRUB_COMMON_MODULES fat" "$T" -- -volid "$VOLID"

# ------------------------------------------------------------ c. isolinux
log "iso: isolinux.iso"
T=$WORK/tree-isolinux
payload_tree "$T"
grub_tree "$T"
rm -f "$T/boot/eltorito.img"
mkdir -p "$T/isolinux"
cp /usr/lib/ISOLINUX/isolinux.bin /usr/lib/syslinux/modules/bios/ldlinux.c32 "$T/isolinux/"
cp "$GRUBW/isolinux.cfg" "$T/isolinux/isolinux.cfg"
flatten_times "$T"
quietly xorriso -as mkisofs -o "$ISO/isolinux.iso" -V "$VOLID" -R -J \
	-isohybrid-mbr /usr/lib/ISOLINUX/isohdpfx.bin \
	-c isolinux/boot.cat -b isolinux/isolinux.bin \
	-no-emul-boot -boot-load-size 4 -boot-info-table \
	-eltorito-alt-boot -e boot/uefi.img -no-emul-boot -isohybrid-gpt-basdat \
	"$T"

# ------------------------------------------------------------ d. El Torito
log "iso: eltorito.iso"
T=$WORK/tree-eltorito
payload_tree "$T"
grub_tree "$T"
flatten_times "$T"
# No -isohybrid-mbr and no appended partition: only firmware that reads El
# Torito (i.e. CD-ROM boot) can start this one.
quietly xorriso -as mkisofs -o "$ISO/eltorito.iso" -V "$VOLID" -R -J \
	-c boot/boot.catalog -b boot/eltorito.img \
	-no-emul-boot -boot-load-size 4 -boot-info-table \
	-eltorito-alt-boot -e boot/uefi.img -no-emul-boot \
	"$T"

# ------------------------------------------------------------ release
# Laid out like github.com/<repo>/releases/download/<tag>/ so that a local
# HTTP server rooted at OUTDIR/release can stand in for GitHub.
log "release assets"
rm -rf "$OUT/release"
RELPATH="$DEMO_REPO/releases/download/$DEMO_VERSION"
REL=$OUT/release/$RELPATH
mkdir -p "$REL"
ASSET_ISO=$ARTIFACT.iso
ASSET_KERNEL=$ARTIFACT-kernel
ASSET_INITRD=$ARTIFACT-initrd
ASSET_SQUASHFS=$ARTIFACT.squashfs
# Real copies: a test that corrupts an asset must not corrupt the ISO.
cp "$ISO/auroraboot.iso" "$REL/$ASSET_ISO"
cp "$OUT/kernel" "$REL/$ASSET_KERNEL"
cp "$OUT/initrd" "$REL/$ASSET_INITRD"
cp "$OUT/rootfs.squashfs" "$REL/$ASSET_SQUASHFS"
for a in "$ASSET_ISO" "$ASSET_KERNEL" "$ASSET_INITRD" "$ASSET_SQUASHFS"; do
	(cd "$REL" && sha256sum "$a" >"$a.sha256")
done
flatten_times "$OUT/release" "$ISO"

# ------------------------------------------------------------ image
log "container image of the rootfs"
"$HERE/image.sh" "$OUT"

# ------------------------------------------------------------ demo.env
log "demo.env"
sha_of() { sha256sum "$1" | cut -d' ' -f1; }
size_of() { stat -c %s "$1"; }
# Single-quoted values: safe to source from sh or bash whatever the path.
kv() { printf "%s='%s'\n" "$1" "${2//\'/\'\\\'\'}"; }
{
	echo "# aurorafs demo OS build, generated by tools/demo-os/build.sh"
	kv DEMO_OUTDIR "$OUT"
	kv DEMO_VERSION "$DEMO_VERSION"
	kv DEMO_REPO "$DEMO_REPO"
	kv DEMO_ARTIFACT "$ARTIFACT"
	kv DEMO_IMAGE_LABEL "$IMAGE_LABEL"
	kv DEMO_VOLID "$VOLID"
	kv DEMO_CMDLINE "$CMDLINE"
	kv DEMO_KERNEL_VERSION "$KVER"
	kv DEMO_KERNEL_DEB "$(basename "$KERNEL_DEB")"
	kv DEMO_KERNEL_PKG_VERSION "$KERNEL_PKG_VERSION"
	kv DEMO_ROOTFS "$ROOTFS"
	kv DEMO_KAIROS_RELEASE "$ROOTFS/etc/kairos-release"
	for v in KERNEL:kernel INITRD:initrd SQUASHFS:rootfs.squashfs \
		ISO_AURORABOOT:iso/auroraboot.iso ISO_MKRESCUE:iso/mkrescue.iso \
		ISO_ISOLINUX:iso/isolinux.iso ISO_ELTORITO:iso/eltorito.iso; do
		name=${v%%:*}
		path=$OUT/${v#*:}
		kv "DEMO_$name" "$path"
		kv "DEMO_${name}_SIZE" "$(size_of "$path")"
		kv "DEMO_${name}_SHA256" "$(sha_of "$path")"
	done
	# Which boot.sh modes each ISO is built to pass.
	kv DEMO_ISO_AURORABOOT_MODES "bios:cdrom bios:disk efi:cdrom efi:disk"
	kv DEMO_ISO_MKRESCUE_MODES "bios:cdrom bios:disk efi:cdrom efi:disk"
	kv DEMO_ISO_ISOLINUX_MODES "bios:cdrom bios:disk efi:cdrom efi:disk"
	kv DEMO_ISO_ELTORITO_MODES "bios:cdrom efi:cdrom"
	kv DEMO_RELEASE_ROOT "$OUT/release"
	kv DEMO_RELEASE_PATH "$RELPATH"
	kv DEMO_RELEASE_DIR "$REL"
	kv DEMO_ASSET_ISO "$ASSET_ISO"
	kv DEMO_ASSET_KERNEL "$ASSET_KERNEL"
	kv DEMO_ASSET_INITRD "$ASSET_INITRD"
	kv DEMO_ASSET_SQUASHFS "$ASSET_SQUASHFS"
	while read -r name value; do kv "$name" "$value"; done <"$OUT/image/image.vars"
} >"$OUT/demo.env"

# ------------------------------------------------------------ stamp
{
	echo "kernel-deb $KERNEL_DEB"
	echo "fingerprint $FINGERPRINT"
	(cd "$OUT" && find demo.env kernel initrd rootfs.squashfs iso release rootfs/etc image \
		-type f -printf '%s %p\n' | LC_ALL=C sort -k2)
} >"$STAMP.tmp"
mv "$STAMP.tmp" "$STAMP"
log "done: kernel $KVER, $(size_of "$ISO/auroraboot.iso") byte auroraboot.iso"
