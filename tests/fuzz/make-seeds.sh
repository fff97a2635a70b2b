#!/usr/bin/env bash
# make-seeds.sh - write small seed inputs for the fuzz targets into
# corpus/: ISOs of every layout the custom ISO editor meets (plain
# RR+Joliet, El Torito, isohybrid MBR, GPT hybrid, APM+HFS+, AuroraBoot's
# partition_offset with an appended EFI partition), their system areas and
# El Torito records; squashfs images for the release rootfs reader. Run
# by hand before a fuzzing session; the corpora that fuzzing grows are
# committed (after run.sh merges them).
set -euo pipefail
cd "$(dirname "$0")"
export SOURCE_DATE_EPOCH=1704067200
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
D=$W/tree
mkdir -p "$D/boot/grub2" "$D/EFI/BOOT" "$D/a/b" "$D/Long Directory Name.with.dots"
echo hello >"$D/a/b/hello.txt"
echo 'set timeout=1' >"$D/boot/grub2/grub.cfg"
head -c 2048 /dev/zero >"$D/boot/boot.img"
head -c 3000 /dev/zero | tr '\0' 'x' >"$D/rootfs.squashfs"
for i in $(seq 1 40); do echo "$i" >"$D/a/file-$i.txt"; done
mkfs.vfat -C "$W/efi.img" 64 >/dev/null
cp "$W/efi.img" "$D/EFI/efi.img"
P=(-R -J -V COS_LIVE -no-pad)
X() { xorriso "$@" >/dev/null 2>&1; }
C=corpus/iso_edit
mkdir -p "$C" corpus/parttable corpus/eltorito
X -as mkisofs "${P[@]}" -o "$C/plain.iso" "$D"
X -as mkisofs "${P[@]}" -b boot/boot.img -no-emul-boot -boot-load-size 4 -c boot/boot.cat -o "$C/eltorito.iso" "$D"
X -as mkisofs "${P[@]}" -b boot/boot.img -no-emul-boot -boot-load-size 4 \
	-isohybrid-mbr /usr/lib/ISOLINUX/isohdpfx.bin -o "$C/hybrid.iso" "$D"
X -as mkisofs "${P[@]}" -hfsplus -apm-block-size 2048 -o "$C/apm.iso" "$D"
X -as mkisofs "${P[@]}" -e EFI/efi.img -no-emul-boot -isohybrid-gpt-basdat \
	-isohybrid-mbr /usr/lib/ISOLINUX/isohdpfx.bin -o "$C/gpt.iso" "$D"
rm "$D/EFI/efi.img"
rm -f "$C/aurora.iso" # xorriso would load, not replace, an existing one
X -volid COS_LIVE -joliet on -padding 0 -outdev "$C/aurora.iso" -map "$D" / \
	-boot_image grub bin_path=/boot/boot.img -boot_image any partition_offset=16 \
	-boot_image any cat_path=/boot/boot.catalog -boot_image any cat_hidden=on \
	-boot_image any platform_id=0x00 -boot_image any emul_type=no_emulation \
	-boot_image any load_size=2048 -boot_image any next -boot_image any platform_id=0xef \
	-boot_image any emul_type=no_emulation -append_partition 2 0xef "$W/efi.img" \
	-boot_image any efi_path=--interval:appended_partition_2:all:: \
	-boot_image any appended_part_as=gpt
for iso in "$C"/*.iso; do
	n=$(basename "$iso" .iso)
	# parttable: 16 bytes of insertion (block 100, 512 blocks), the area
	{ printf '\x64\0\0\0\0\0\0\0\xff\x01\0\0\0\0\0\0'; head -c 32768 "$iso"; } >"corpus/parttable/$n"
	cat=$(xorriso -indev "$iso" -report_el_torito plain 2>/dev/null | awk '/^El Torito catalog/ {print $NF}')
	if [ -n "$cat" ]; then
		{ dd if="$iso" bs=2048 skip=17 count=1 status=none
		  dd if="$iso" bs=2048 skip="$cat" count=1 status=none
		  printf '\x0a\0\0\0\0\x02\0\0'; } >"corpus/eltorito/$n"
	fi
done

# sqfs_rootfs: small squashfs images of every kind of entry (files with
# and without fragments, an empty file, hard links, symlinks, devices, a
# fifo, xattrs, deep directories) under each compressor
Q=$W/sq
mkdir -p "$Q/etc/cos" "$Q/usr/lib/deep/er/still" "$Q/dev"
echo 'set default=0' >"$Q/etc/cos/grub.cfg"
echo 'KAIROS_NAME="fuzz"' >"$Q/etc/kairos-release"
head -c 20000 /dev/urandom >"$Q/usr/lib/blocks.bin"
: >"$Q/empty"
ln "$Q/etc/kairos-release" "$Q/usr/lib/hardlink"
ln -s ../etc/cos/grub.cfg "$Q/usr/grub.cfg"
ln -s /usr/lib/deep "$Q/deep"
ln -s loop "$Q/loop"
mknod "$Q/dev/null" c 1 3
mknod "$Q/dev/sda" b 8 0
mkfifo "$Q/dev/fifo"
setfattr -n user.test -v value "$Q/etc/cos/grub.cfg" 2>/dev/null || true
mkdir -p corpus/sqfs_rootfs
for comp in gzip xz lzo lz4 zstd; do
	mksquashfs "$Q" "corpus/sqfs_rootfs/$comp.squashfs" -comp "$comp" -b 4096 \
		-noappend -no-progress -quiet
done
mksquashfs "$Q" corpus/sqfs_rootfs/nofrag.squashfs -no-fragments -noappend -no-progress -quiet
ls -l "$C" corpus/parttable corpus/eltorito corpus/sqfs_rootfs
