#!/usr/bin/env bash
# raw_disk.sh - the raw disks of an image, read back by tools aurorafs did
# not write: the GPT (sgdisk, sfdisk), the ESP (fsck.vfat, mtools), the
# ext2 partitions (e2fsck, debugfs), the VHD (qemu-img), the GCE archive
# (tar, gzip); the BIOS boot code's patches; disk.size; the disk space the
# disks take; bad sizes and images without what a disk needs.
. "$(dirname "$0")/lib.sh"
ensure_demo

NAME=kairos-demo-1.0-core-amd64-generic-$DEMO_VERSION
M=$T/mnt
S=$T/state
printf '#cloud-config\nhostname: disk-1\n' >"$T/cc.yaml"
DISKS=(--set disk.efi=true --set disk.bios=true --set disk.vhd=true --set disk.gce=true)
IMG=(--set "container_image=oci:$DEMO_IMAGE_OCI" --cloud-config "$T/cc.yaml")

# part DISK N OUT: copy partition N of DISK to OUT
part() {
	local start size
	read -r start size < <(sfdisk -d "$1" | awk -v n="$2" '$1 ~ n" *$" || $1 ~ "[^0-9]"n"$" {
		for (i = 1; i <= NF; i++) { if ($i == "start=") s = $(i+1); if ($i == "size=") z = $(i+1) }
		gsub(",", "", s); gsub(",", "", z); print s, z }')
	dd if="$1" of="$3" bs=512 skip="$start" count="$size" status=none
}

mount_afs "$M" "${IMG[@]}" "${DISKS[@]}" --set state_dir="$S"
R=$M/raw
for kind in efi bios; do
	D=$R/$NAME-$kind.raw
	sgdisk -v "$D" >"$T/sgdisk" 2>&1 || fail "$kind: sgdisk -v: $(cat "$T/sgdisk")"
	grep -q "No problems found" "$T/sgdisk" || fail "$kind: sgdisk: $(cat "$T/sgdisk")"
	sfdisk --verify "$D" >/dev/null 2>&1 || fail "$kind: sfdisk --verify"
	sfdisk -d "$D" >"$T/table"
	grep -q 'label-id: 2CEFF841-4C1D-5A14-8E46-ED3AEB621093' "$T/table" || fail "$kind: disk GUID"
	grep -q 'start=        2048,.*name="'"$kind"'"' "$T/table" || fail "$kind: first partition: $(cat "$T/table")"
	grep -q 'uuid=8BFA06F9-CA4F-56DC-90C9-49CF20F4F45E, name="oem"' "$T/table" || fail "$kind: oem partition"
	grep -q 'uuid=768FBD69-B2A9-5EAB-902C-DB8745B4767C, name="recovery"' "$T/table" || fail "$kind: recovery partition"
	part "$D" 2 "$T/oem.img"
	e2fsck -fn "$T/oem.img" >"$T/fsck" 2>&1 || fail "$kind: e2fsck COS_OEM: $(tail -3 "$T/fsck")"
	[ "$(e2label "$T/oem.img")" = COS_OEM ] || fail "$kind: oem label"
	debugfs -R "cat /90_custom.yaml" "$T/oem.img" 2>/dev/null | cmp - "$T/cc.yaml" || fail "$kind: 90_custom.yaml"
	debugfs -R "cat /01_reset.yaml" "$T/oem.img" 2>/dev/null | grep -q 'fsLabel: COS_STATE' || fail "$kind: 01_reset.yaml"
	debugfs -R "cat /grubenv" "$T/oem.img" 2>/dev/null | grep -q '^next_entry=recovery$' || fail "$kind: grubenv"
	part "$D" 3 "$T/rec.img"
	e2fsck -fn "$T/rec.img" >"$T/fsck" 2>&1 || fail "$kind: e2fsck COS_RECOVERY: $(tail -3 "$T/fsck")"
	[ "$(e2label "$T/rec.img")" = COS_RECOVERY ] || fail "$kind: recovery label"
	debugfs -R "cat /cOS/recovery.squashfs" "$T/rec.img" 2>/dev/null | cmp - "$M/netboot/rootfs.squashfs" ||
		fail "$kind: recovery.squashfs is not the squashfs"
	debugfs -R "cat /etc/cos/grub.cfg" "$T/rec.img" 2>/dev/null | cmp - "$DEMO_ROOTFS/etc/cos/grub.cfg" ||
		fail "$kind: /etc/cos/grub.cfg"
done
part "$R/$NAME-efi.raw" 1 "$T/esp.img"
fsck.vfat -n "$T/esp.img" >"$T/fsck" 2>&1 || fail "ESP: fsck.vfat: $(tail -3 "$T/fsck")"
mdir -i "$T/esp.img" ::/EFI/BOOT >"$T/esp" || fail "ESP unreadable"
grep -qi bootx64 "$T/esp" || fail "no BOOTX64.EFI on the ESP"
mtype -i "$T/esp.img" ::/EFI/BOOT/grub.cfg | grep -q 'search --no-floppy --label --set=root COS_RECOVERY' ||
	fail "the ESP's grub.cfg does not hand over to COS_RECOVERY"
# BIOS: boot.img in the MBR knows where core.img is (LBA 2048), and
# core.img's blocklist starts at the sector after it
D=$R/$NAME-bios.raw
[ "$(od -An -tu8 -j $((0x5c)) -N 8 "$D" | tr -d ' ')" = 2048 ] || fail "boot.img does not point at core.img"
[ "$(od -An -tx1 -j $((0x66)) -N 2 "$D" | tr -d ' ')" = 9090 ] || fail "boot.img's drive check is not patched"
[ "$(od -An -tu8 -j $((2048 * 512 + 500)) -N 8 "$D" | tr -d ' ')" = 2049 ] || fail "core.img's blocklist"
pass "raw disks: GPT, ESP, COS_OEM and COS_RECOVERY pass sgdisk, sfdisk, fsck.vfat, e2fsck; BIOS code in place"

# the VHD: the EFI disk and a footer; the GCE archive: disk.raw in whole GiB
V=$R/$NAME.vhd
qemu-img info -f vpc --output=json "$V" >"$T/vhd.json" || fail "qemu-img cannot read the VHD"
raw_size=$(stat -c %s "$R/$NAME-efi.raw")
grep -q "\"virtual-size\": $raw_size," "$T/vhd.json" || fail "VHD virtual size: $(grep virtual "$T/vhd.json"), disk $raw_size"
[ "$(stat -c %s "$V")" = $((raw_size + 512)) ] || fail "the VHD is not the disk plus a footer"
cmp -n "$raw_size" "$V" "$R/$NAME-efi.raw" || fail "the VHD's payload is not the EFI disk"
[ "$(tail -c 512 "$V" | head -c 8)" = conectix ] || fail "no VHD footer"
tar tzvf "$R/$NAME.gce.tar.gz" >"$T/gce" || fail "the GCE archive does not list"
[ "$(wc -l <"$T/gce")" = 1 ] && grep -q ' disk.raw$' "$T/gce" || fail "GCE archive: $(cat "$T/gce")"
gce_size=$(awk '{print $3}' "$T/gce")
[ $((gce_size % (1 << 30))) = 0 ] && [ "$gce_size" -gt "$raw_size" ] || fail "disk.raw is $gce_size bytes"
cmp -n "$raw_size" <(tar xzf "$R/$NAME.gce.tar.gz" -O) "$R/$NAME-efi.raw" || fail "disk.raw is not the EFI disk"
(cd "$R" && sha256sum -c "$NAME-efi.raw.sha256" "$NAME.vhd.sha256" >/dev/null) || fail "checksum files"
pass "VHD (qemu-img reads its full size) and GCE tar.gz of the EFI disk"

# -- disk space: the disks are views; only the ESP and the GCE archive are stored
du_before=$(du -sk "$S" | cut -f1)
cat "$R/$NAME-efi.raw" "$R/$NAME-bios.raw" "$R/$NAME.vhd" >/dev/null
du_after=$(du -sk "$S" | cut -f1)
[ $((du_after - du_before)) -lt 1024 ] || fail "reading the disks grew the state by $((du_after - du_before)) KiB"
sum=$(sha256sum <"$R/$NAME-efi.raw" | cut -d' ' -f1)
unmount_afs "$M" "$AFS_PID"
pass "reading every disk adds $((du_after - du_before)) KiB to the state"

# -- disk.size: bigger costs nothing; too small is refused with the minimum
# (a fresh state: the disk's ESP is built too, and stored sparse)
mount_afs "$M" "${IMG[@]}" --set disk.efi=true --set disk.size=16384 --set state_dir="$T/s16"
D=$R/$NAME-efi.raw
cat "$M/netboot/rootfs.squashfs" >/dev/null
du_before=$(du -sk "$T/s16" | cut -f1)
[ "$(stat -c %s "$D")" = $((16384 << 20)) ] || fail "disk.size=16384 gave $(stat -c %s "$D") bytes"
sgdisk -v "$D" | grep -q "No problems found" || fail "16 GiB disk: the backup GPT is not at the end"
head -c $((400 << 20)) "$D" >/dev/null
tail -c 4096 "$D" >/dev/null
added=$(($(du -sk "$T/s16" | cut -f1) - du_before))
[ "$added" -lt 2048 ] || fail "a 16 GiB disk took $added KiB, ESP included"
unmount_afs "$M" "$AFS_PID"
mount_afs "$M" "${IMG[@]}" --set disk.efi=true --set disk.size=100 --set state_dir="$S"
if stat "$R/$NAME-efi.raw" >/dev/null 2>&1; then fail "a 100 MiB disk was built"; fi
grep -q "disk.size 100 MiB is too small: this disk needs at least [0-9]* MiB" "$AFS_LOG" ||
	fail "no minimum size: $(tail -n 3 "$AFS_LOG")"
cmp "$M/netboot/kernel" "$DEMO_OUTDIR/kernel" || fail "the rest broke with a bad disk.size"
unmount_afs "$M" "$AFS_PID"
pass "disk.size: 16 GiB costs nothing, too small says the minimum"

# the same inputs, the same disk, from scratch
mount_afs "$M" "${IMG[@]}" "${DISKS[@]}" --set state_dir="$T/state2"
[ "$(sha256sum <"$R/$NAME-efi.raw" | cut -d' ' -f1)" = "$sum" ] || fail "not deterministic across state_dirs"
unmount_afs "$M" "$AFS_PID"
pass "the same image gives the same EFI disk"

# -- an image without /etc/cos/grub.cfg; a bad size; partitions with gce -----
mkdir -p "$T/nocos"
cp -a "$DEMO_ROOTFS/." "$T/nocos/"
rm -rf "$T/nocos/etc/cos"
mount_afs "$M" --set "container_image=dir:$T/nocos" --set disk.efi=true --set state_dir="$T/s-nocos"
if cat "$R/$NAME-efi.raw" >/dev/null 2>&1; then fail "a disk from an image without /etc/cos/grub.cfg"; fi
grep -q "the image has no /etc/cos/grub.cfg" "$AFS_LOG" || fail "no clear message: $(tail -n 3 "$AFS_LOG")"
cmp "$M/netboot/kernel" "$DEMO_OUTDIR/kernel" || fail "netboot broken by a bad disk"
unmount_afs "$M" "$AFS_PID"
if "$AURORAFS" -f "${IMG[@]}" --set disk.size=big "$M" 2>"$T/err"; then fail "disk.size=big accepted"; fi
grep -q "disk.size" "$T/err" || fail "bad disk.size: $(cat "$T/err")"
if "$AURORAFS" -f "${IMG[@]}" --set disk.partitions=true --set disk.gce=true "$M" 2>"$T/err"; then
	fail "disk.partitions with disk.gce accepted"
fi
grep -q "disk.partitions cannot be combined" "$T/err" || fail "partitions+gce: $(cat "$T/err")"
pass "bad disk inputs: a clear error, the rest of the mount works"

# -- a release's disks: the rootfs is read back from the ISO's squashfs, and
# the recovery partition holds that very squashfs ---------------------------
start_httpd web "$DEMO_RELEASE_ROOT"
# shellcheck disable=SC2207
REL=($(release_args "$web_URL"))
mount_afs "$M" "${REL[@]}" --cloud-config "$T/cc.yaml" --set disk.efi=true --set disk.bios=true \
	--set state_dir="$T/s-rel"
for kind in efi bios; do
	D=$R/$DEMO_ARTIFACT-$kind.raw
	sgdisk -v "$D" | grep -q "No problems found" || fail "release $kind: sgdisk"
	part "$D" 3 "$T/rec.img"
	e2fsck -fn "$T/rec.img" >"$T/fsck" 2>&1 || fail "release $kind: e2fsck COS_RECOVERY: $(tail -3 "$T/fsck")"
	debugfs -R "cat /cOS/recovery.squashfs" "$T/rec.img" 2>/dev/null | cmp - "$M/netboot/rootfs.squashfs" ||
		fail "release $kind: recovery.squashfs is not the release's squashfs"
	debugfs -R "cat /etc/cos/grub.cfg" "$T/rec.img" 2>/dev/null | cmp - "$DEMO_ROOTFS/etc/cos/grub.cfg" ||
		fail "release $kind: /etc/cos/grub.cfg"
	part "$D" 2 "$T/oem.img"
	debugfs -R "cat /90_custom.yaml" "$T/oem.img" 2>/dev/null | cmp - "$T/cc.yaml" || fail "release $kind: 90_custom.yaml"
done
part "$R/$DEMO_ARTIFACT-efi.raw" 1 "$T/esp.img"
fsck.vfat -n "$T/esp.img" >"$T/fsck" 2>&1 || fail "release ESP: fsck.vfat: $(tail -3 "$T/fsck")"
(cd "$R" && sha256sum -c "$DEMO_ARTIFACT-efi.raw.sha256" >/dev/null) || fail "release: checksum file"
sum=$(sha256sum <"$R/$DEMO_ARTIFACT-efi.raw" | cut -d' ' -f1)
unmount_afs "$M" "$AFS_PID"
mount_afs "$M" "${REL[@]}" --cloud-config "$T/cc.yaml" --set disk.efi=true --set state_dir="$T/s-rel2"
[ "$(sha256sum <"$R/$DEMO_ARTIFACT-efi.raw" | cut -d' ' -f1)" = "$sum" ] || fail "release disk not deterministic"
unmount_afs "$M" "$AFS_PID"
pass "a release's EFI and BIOS disks: the ISO's squashfs as recovery, its grub.cfg, deterministic"
