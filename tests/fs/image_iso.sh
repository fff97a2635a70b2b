#!/usr/bin/env bash
# image_iso.sh - what a container image becomes: /netboot/rootfs.squashfs
# (read back by unsquashfs, GRUB's reader and the kernel: the demo rootfs
# exactly), the live ISO laid out as AuroraBoot lays it out (read by
# xorriso, isoinfo, osirrox), its custom ISO, the iso.* keys, determinism
# across state_dirs, nothing built twice, and the disk space it takes.
. "$(dirname "$0")/lib.sh"
ensure_demo

NAME=kairos-demo-1.0-core-amd64-generic-$DEMO_VERSION
M=$T/mnt
S=$T/state
printf '#cloud-config\nhostname: [[ .host ]]\n' >"$T/cc.yaml"
printf '#cloud-config\nhostname: img-1\n' >"$T/cc.want"
mkdir -p "$T/ovl-iso/extra" "$T/ovl-rootfs/etc"
echo "on the ISO" >"$T/ovl-iso/extra/hello.txt"
echo "in the rootfs" >"$T/ovl-rootfs/etc/aurorafs-overlay"
IMG=(--set "container_image=oci:$DEMO_IMAGE_OCI" --set host=img-1 --cloud-config "$T/cc.yaml")

mount_afs "$M" "${IMG[@]}" --set state_dir="$S"
ls "$M/iso" | grep -qx "$NAME.iso" || fail "no live ISO named after the image: $(ls "$M/iso")"

# -- the squashfs: the demo rootfs, for every reader ------------------------
SQ=$M/netboot/rootfs.squashfs
rm -rf "$T/sq"
unsquashfs -q -n -d "$T/sq" "$SQ" >/dev/null || fail "unsquashfs cannot read the squashfs"
diff -r --no-dereference "$T/sq" "$DEMO_ROOTFS" >"$T/sq.diff" || fail "squashfs differs from the rootfs: $(head -3 "$T/sq.diff")"
grub-fstest "$SQ" cat /etc/kairos-release | cmp - "$DEMO_ROOTFS/etc/kairos-release" ||
	fail "GRUB cannot read the squashfs"
mkdir -p "$T/sqmnt"
if mount -t squashfs -o loop,ro "$SQ" "$T/sqmnt" 2>/dev/null; then
	cmp "$T/sqmnt/boot/vmlinuz" "$DEMO_ROOTFS/boot/vmlinuz" || fail "the kernel reads another vmlinuz"
	umount "$T/sqmnt"
fi
grep -q "squashfs of the rootfs: done" "$M/status" || fail "no squashfs job in status: $(cat "$M/status")"
pass "rootfs.squashfs is the rootfs for unsquashfs, GRUB and the kernel"

# -- the live ISO: AuroraBoot's layout ---------------------------------------
ISO=$M/iso/$NAME.iso
xorriso -indev "$ISO" -report_el_torito plain -report_system_area plain >"$T/report" 2>&1
grep -q "El Torito boot img :   1  BIOS" "$T/report" || fail "no BIOS El Torito entry"
grep -q "El Torito boot img :   2  UEFI" "$T/report" || fail "no UEFI El Torito entry"
grep -q "El Torito img path :   1  /boot/eltorito.img" "$T/report" || fail "BIOS image not /boot/eltorito.img"
grep -q "^GPT partition name :   2 " "$T/report" || fail "no appended EFI partition"
isoinfo -d -i "$ISO" | grep -q "Volume id: COS_LIVE" || fail "volume id is not COS_LIVE"
isoinfo -R -f -i "$ISO" >"$T/list"
for f in /boot/kernel /boot/initrd /rootfs.squashfs /config.yaml /boot/grub2/grub.cfg \
	/boot/grub/grub.cfg /EFI/BOOT/grub.cfg /boot/uefi.img /boot/eltorito.img; do
	grep -qx "$f" "$T/list" || fail "$f missing from the live ISO"
done
rm -rf "$T/x"
osirrox -indev "$ISO" -extract / "$T/x" >/dev/null 2>&1 || fail "osirrox cannot extract the live ISO"
cmp "$T/x/boot/kernel" "$DEMO_OUTDIR/kernel" || fail "/boot/kernel is not the image's kernel"
cmp "$T/x/boot/initrd" "$DEMO_OUTDIR/initrd" || fail "/boot/initrd is not the image's initrd"
cmp "$T/x/rootfs.squashfs" "$SQ" || fail "/rootfs.squashfs is not /netboot/rootfs.squashfs"
cmp "$T/x/config.yaml" "$T/cc.want" || fail "/config.yaml is not the rendered cloud-config"
grep -q 'root=live:CDLABEL=COS_LIVE rd.live.dir=/ rd.live.squashimg=rootfs.squashfs' "$T/x/boot/grub2/grub.cfg" ||
	fail "the menu does not boot the live rootfs"
grep -q 'console=ttyS0 console=tty1' "$T/x/boot/grub2/grub.cfg" || fail "default live console missing"
mdir -i "$T/x/boot/uefi.img" ::/EFI/BOOT | grep -qi bootx64 || fail "no BOOTX64.EFI on the EFI image"
(cd "$M/iso" && sha256sum -c "$NAME.iso.sha256" >/dev/null) || fail "checksum file wrong"
custom=$M/iso/$NAME.custom.iso
isoinfo -R -i "$custom" -x /config.yaml | cmp - "$T/cc.want" || fail "custom ISO lacks the cloud-config"
sum=$(sha256sum <"$ISO" | cut -d' ' -f1)
pass "live ISO: COS_LIVE, BIOS and UEFI El Torito, appended ESP, the image's files"

# -- nothing built twice; the ISO costs no copies -----------------------------
unmount_afs "$M" "$AFS_PID"
du_before=$(du -sk "$S" | cut -f1)
mount_afs "$M" "${IMG[@]}" --set state_dir="$S"
[ "$(sha256sum <"$ISO" | cut -d' ' -f1)" = "$sum" ] || fail "not byte-stable across mounts"
cat "$M/iso/$NAME.custom.iso" >/dev/null
du_after=$(du -sk "$S" | cut -f1)
grep -q "squashfs of the rootfs: started" "$AFS_LOG" && fail "a remount built the squashfs again"
[ $((du_after - du_before)) -lt 1024 ] || fail "reading the ISOs grew the state by $((du_after - du_before)) KiB"
unmount_afs "$M" "$AFS_PID"
pass "a remount builds nothing; reading the ISOs adds $((du_after - du_before)) KiB"

# another state_dir: the same bytes (deterministic squashfs, skeleton, edit)
mount_afs "$M" "${IMG[@]}" --set state_dir="$T/state2"
[ "$(sha256sum <"$ISO" | cut -d' ' -f1)" = "$sum" ] || fail "another state_dir gave other bytes"
unmount_afs "$M" "$AFS_PID"
pass "the same image and config give the same live ISO from scratch"

# -- the iso.* keys ------------------------------------------------------------
mount_afs "$M" "${IMG[@]}" --set state_dir="$S" --set iso.override_name=lab \
	--set iso.include_date=true --set "iso.overlay_iso=$T/ovl-iso" \
	--set "iso.overlay_rootfs=$T/ovl-rootfs" --set "iso.extend-live-cmdline=aurorafs.test=1" \
	--set "iso.live_console=console=ttyS1" --set squashfs.compression=xz
date=$(date +%Y%m%d)
L=$M/iso/lab.$date.iso
[ -f "$L" ] || fail "iso.override_name and iso.include_date: $(ls "$M/iso")"
isoinfo -R -i "$L" -x /extra/hello.txt | grep -qx "on the ISO" || fail "iso.overlay_iso not in the live ISO"
isoinfo -R -i "$L" -x /boot/grub2/grub.cfg >"$T/menu"
grep -q 'console=ttyS1 .*rd.live.overlay.overlayfs aurorafs.test=1$' "$T/menu" ||
	fail "iso.live_console / iso.extend-live-cmdline: $(grep -m1 linux "$T/menu")"
grep -q 'console=ttyS0 console=tty1' "$T/menu" && fail "the default console stayed"
unsquashfs -s "$M/netboot/rootfs.squashfs" | grep -q "Compression xz" || fail "squashfs.compression=xz ignored"
unsquashfs -q -cat "$M/netboot/rootfs.squashfs" /etc/aurorafs-overlay | grep -qx "in the rootfs" ||
	fail "iso.overlay_rootfs not in the squashfs"
unmount_afs "$M" "$AFS_PID"
pass "iso.override_name, include_date, overlay_iso, overlay_rootfs, extend-live-cmdline, live_console, squashfs.compression"

# -- an image without an EFI GRUB: the ISO fails clearly, the rest works -----
mkdir -p "$T/noefi"
cp -a "$DEMO_ROOTFS/." "$T/noefi/"
rm -rf "$T/noefi/usr/share/efi"
mount_afs "$M" --set "container_image=dir:$T/noefi" --set state_dir="$T/s-noefi" --cloud-config "$T/cc.yaml"
if cat "$M/iso/$NAME.iso" >/dev/null 2>&1; then fail "a live ISO without an EFI GRUB"; fi
grep -q "the image has no EFI GRUB" "$AFS_LOG" || fail "no clear message: $(tail -n 3 "$AFS_LOG")"
cmp "$M/netboot/kernel" "$DEMO_OUTDIR/kernel" || fail "netboot broken by a missing EFI GRUB"
unmount_afs "$M" "$AFS_PID"
pass "an image without an EFI GRUB: EIO on the ISO and a log line"
