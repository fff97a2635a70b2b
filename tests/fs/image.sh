#!/usr/bin/env bash
# image.sh - a container image as the source: nothing pulled at mount time,
# /netboot/kernel and /netboot/initrd picked from the image's /boot as
# AuroraBoot picks them and served from the stored layers, progress in
# /status, a remount pulls nothing, dir: sources and bad images.
. "$(dirname "$0")/lib.sh"
ensure_demo

M=$T/mnt
S=$T/state

# -- an OCI layout: lazy, then the boot files of the image -------------------
mount_afs "$M" --set "container_image=oci:$DEMO_IMAGE_OCI" --set state_dir="$S"
ls "$M" "$M/netboot" >/dev/null
[ ! -d "$S/layers" ] || fail "listing pulled the image: $(ls "$S/layers")"
cmp "$M/netboot/kernel" "$DEMO_OUTDIR/kernel" || fail "netboot/kernel is not the image's kernel"
cmp "$M/netboot/initrd" "$DEMO_OUTDIR/initrd" || fail "netboot/initrd is not the image's initrd"
grep -q "pull 'oci:$DEMO_IMAGE_OCI': done" "$M/status" || fail "status: $(cat "$M/status")"
[ "$(find "$S/layers" -name '*.tar' | wc -l)" = 3 ] || fail "layers not stored once each"
unmount_afs "$M" "$AFS_PID"
pass "image boot files served from the stored layers, the pull in /status"

# a remount uses the store: nothing is read from the layout again
mount_afs "$M" --set "container_image=oci:$DEMO_IMAGE_OCI" --set state_dir="$S"
before=$(find "$S/layers" -name '*.tar' -newer "$S/layers" | wc -l)
cmp "$M/netboot/kernel" "$DEMO_OUTDIR/kernel" || fail "kernel differs after a remount"
after=$(find "$S/layers" -name '*.tar' -newer "$S/layers" | wc -l)
[ "$before" = "$after" ] || fail "a remount stored layers again"
unmount_afs "$M" "$AFS_PID"
pass "a remount stores nothing again"

# -- dir: a directory is snapshotted into the store and served the same ------
mount_afs "$M" --set "container_image=dir:$DEMO_ROOTFS" --set state_dir="$T/s-dir"
cmp "$M/netboot/kernel" "$DEMO_OUTDIR/kernel" || fail "dir: kernel differs"
cmp "$M/netboot/initrd" "$DEMO_OUTDIR/initrd" || fail "dir: initrd differs"
unmount_afs "$M" "$AFS_PID"
pass "dir: sources"

# -- an image without a kernel: EIO on that file, a clear line, the rest ok ---
mkdir -p "$T/nokernel/etc"
echo 'KAIROS_FLAVOR=x' >"$T/nokernel/etc/kairos-release"
mount_afs "$M" --set "container_image=dir:$T/nokernel" --set state_dir="$T/s-bad"
if cat "$M/netboot/kernel" >/dev/null 2>&1; then fail "a kernel from an image without one"; fi
grep -q "no kernel in /boot of the image" "$AFS_LOG" || fail "no clear message: $(tail -n 3 "$AFS_LOG")"
cat "$M/status" >/dev/null || fail "status broken by a bad image"
unmount_afs "$M" "$AFS_PID"
pass "an image without a kernel: EIO and a log line"
