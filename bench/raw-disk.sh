#!/usr/bin/env bash
# raw-disk.sh - the EFI raw disk of an image through aurorafs against a
# shell build of the same disk with standard tools (sfdisk, mkfs.vfat and
# mcopy, mke2fs -d), on the demo OS's OCI image plus a layer (umoci insert)
# of FILLER_MIB of incompressible data:
#
#   1. time to the first byte of /raw/<name>-efi.raw on a fresh mount (the
#      image's squashfs already in the store), against the shell build,
#      which has no first byte before it is done; and both from nothing
#      (aurorafs with an empty state_dir, the shell build with mksquashfs)
#   2. a full read of the disk through the mount (page cache dropped, then
#      hot) against the shell build
#   3. the disk space each disk (EFI, BIOS, VHD) adds to state_dir
#   4. disk.size=16384 against the minimal disk: first byte, a full read,
#      disk space
#
# The shell build gets every advantage: the partition table, the file
# contents and the squashfs are taken from aurorafs's own disk beforehand,
# the squashfs is hard-linked rather than copied, and nothing is synced.
#
# Usage: bench/raw-disk.sh [FILLER_MIB]   (default 400; needs root and a
# built tree: tools/test.sh or meson setup build && ninja -C build)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
AURORAFS=${AURORAFS:-$ROOT/build/fs/aurorafs}
# the mount alone: no network servers
OFF=(--set disable_netboot=true --set disable_http_server=true)
DEMO_DIR=${DEMO_DIR:-$ROOT/build/demo}
FILLER_MIB=${1:-400}
RUNS=${RUNS:-3}
[ "$(id -u)" = 0 ] || { echo "needs root"; exit 1; }
"$ROOT/tools/demo-os/build.sh" "$DEMO_DIR" >/dev/null 2>&1
. "$DEMO_DIR/demo.env"

T=$(mktemp -d /tmp/aurorafs-bench.XXXXXX)
AFS_PID=
cleanup() {
	mountpoint -q "$T/mnt" && fusermount3 -u "$T/mnt"
	[ -n "$AFS_PID" ] && wait "$AFS_PID" 2>/dev/null
	rm -rf "$T"
}
trap cleanup EXIT
now() { date +%s.%N; }
since() { awk -v s="$1" -v e="$(now)" 'BEGIN { printf "%.4f", e - s }'; }
best() { sort -g | head -n1; }
drop() { sync; echo 3 >/proc/sys/vm/drop_caches; }
kib() { du -sk "$1" | cut -f1; }

# the image: the demo OS and a filler that no compressor shrinks
OCI=$T/oci
mkdir -p "$T/mnt" "$T/tree"
cp -a "$DEMO_IMAGE_OCI" "$OCI"
head -c "$((FILLER_MIB << 20))" /dev/urandom >"$T/filler.bin"
umoci insert --image "$OCI:latest" "$T/filler.bin" /usr/share/filler.bin >/dev/null
rm "$T/filler.bin"
NAME=$DEMO_ARTIFACT
D=$T/mnt/raw/$NAME-efi.raw
printf '#cloud-config\nhostname: bench\nusers:\n  - name: kairos\n    passwd: kairos\n' >"$T/config.yaml"

mount_afs() { # STATE [--set K=V...]
	local state=$1
	shift
	setsid "$AURORAFS" -f "${OFF[@]}" --set "container_image=oci:$OCI:latest" --set state_dir="$state" \
		--cloud-config "$T/config.yaml" --set disk.efi=true "$@" "$T/mnt" 2>"$T/afs.log" &
	AFS_PID=$!
	for _ in $(seq 200); do mountpoint -q "$T/mnt" && return; sleep 0.05; done
	echo "mount failed: $(cat "$T/afs.log")"
	exit 1
}
umount_afs() { fusermount3 -u "$T/mnt"; wait "$AFS_PID"; AFS_PID=; }
# first_byte FILE: stat, open and read the first 4 KiB, timed in one process
first_byte() {
	python3 - "$1" <<'PY'
import os, sys, time
t = time.perf_counter()
os.stat(sys.argv[1])
with open(sys.argv[1], "rb", buffering=0) as f:
    assert len(f.read(4096)) == 4096
print("%.6f" % (time.perf_counter() - t))
PY
}

# -- what the shell build needs, taken from aurorafs's disk (not timed) -------
STATE=$T/state
s=$(now)
mount_afs "$STATE"
first_byte "$D" >/dev/null
cold_afs=$(since "$s")
SIZE=$(stat -c %s "$D")
sfdisk -d "$D" | grep -v '^device:' | sed "s|$D|out.raw|" >"$T/table"
cp "$T/mnt/netboot/rootfs.squashfs" "$T/rootfs.squashfs"
part() { # N -> "start size" in sectors
	sfdisk -d "$D" | awk -v n="$1" '$1 ~ "raw"n"$" {
		for (i = 1; i <= NF; i++) { if ($i == "start=") s = $(i+1); if ($i == "size=") z = $(i+1) }
		gsub(",", "", s); gsub(",", "", z); print s, z }'
}
read -r ESP_START ESP_SIZE < <(part 1)
read -r OEM_START OEM_SIZE < <(part 2)
read -r REC_START REC_SIZE < <(part 3)
dd if="$D" of="$T/esp.img" bs=512 skip="$ESP_START" count="$ESP_SIZE" status=none
mkdir -p "$T/esp" "$T/oem" "$T/rec/etc/cos"
mcopy -i "$T/esp.img" -s ::/EFI "$T/esp/"
dd if="$D" of="$T/oem.img" bs=512 skip="$OEM_START" count="$OEM_SIZE" status=none
debugfs -R "rdump / $T/oem" "$T/oem.img" >/dev/null 2>&1
rm -rf "$T/oem/lost+found"
cp "$DEMO_ROOTFS/etc/cos/grub.cfg" "$T/rec/etc/cos/grub.cfg"
rm "$T/esp.img" "$T/oem.img"
umount_afs

shell_build() { # OUT [SQUASHFS]
	local out=$1 sq=$2
	rm -f "$out" "$T/esp.img"
	rm -rf "$T/rec/cOS"
	truncate -s "$SIZE" "$out"
	(cd "$(dirname "$out")" && sfdisk -q "$(basename "$out")" <"$T/table")
	mkfs.vfat -C -n COS_GRUB "$T/esp.img" $((ESP_SIZE / 2)) >/dev/null
	mcopy -i "$T/esp.img" -s "$T/esp/EFI" ::/
	dd if="$T/esp.img" of="$out" bs=1M seek=$((ESP_START / 2048)) conv=notrunc status=none
	mke2fs -q -F -t ext2 -L COS_OEM -d "$T/oem" -E offset=$((OEM_START * 512)) "$out" \
		$((OEM_SIZE / 2))k
	mkdir -p "$T/rec/cOS"
	ln "$sq" "$T/rec/cOS/recovery.squashfs"
	mke2fs -q -F -t ext2 -L COS_RECOVERY -d "$T/rec" -E offset=$((REC_START * 512)) "$out" \
		$((REC_SIZE / 2))k
}

# -- 1. first byte ---------------------------------------------------------------
sh=()
for _ in $(seq "$RUNS"); do
	s=$(now)
	shell_build "$T/out.raw" "$T/rootfs.squashfs"
	sh+=("$(since "$s")")
done
sgdisk -v "$T/out.raw" | grep -q "No problems found" || { echo "the shell build is broken"; exit 1; }
af=()
for _ in $(seq "$RUNS"); do
	mount_afs "$STATE"
	af+=("$(first_byte "$D")")
	umount_afs
done
x=$(printf '%s\n' "${sh[@]}" | best)
a=$(printf '%s\n' "${af[@]}" | best)
MIB=$((SIZE >> 20))
awk -v x="$x" -v a="$a" -v m="$MIB" 'BEGIN {
	printf "first byte of a %d MiB EFI disk (squashfs stored): shell build %.3f s, aurorafs %.4f s (stat + map + open + read on a fresh mount), ratio %.0fx\n", m, x, a, x / a }'
s=$(now)
umoci raw unpack --image "$OCI:latest" "$T/tree/rootfs" >/dev/null
mksquashfs "$T/tree/rootfs" "$T/cold.squashfs" -comp gzip -noappend -no-progress -quiet
shell_build "$T/out.raw" "$T/cold.squashfs"
cold_sh=$(since "$s")
rm -rf "$T/cold.squashfs" "$T/tree"
awk -v x="$cold_sh" -v a="$cold_afs" 'BEGIN {
	printf "first byte from nothing: shell build with umoci unpack and mksquashfs %.2f s, aurorafs from an empty state_dir (image read, squashfs built) %.2f s, ratio %.2fx\n", x, a, x / a }'

# -- 2. full read -------------------------------------------------------------------
mount_afs "$STATE"
for mode in cold hot; do
	ft=()
	[ $mode = hot ] && cat "$D" >/dev/null
	for _ in $(seq "$RUNS"); do
		[ $mode = cold ] && drop
		s=$(now); cat "$D" >/dev/null; ft+=("$(since "$s")")
	done
	f=$(printf '%s\n' "${ft[@]}" | best)
	awk -v x="$x" -v f="$f" -v m="$MIB" -v mode=$mode 'BEGIN {
		printf "full read of the disk (%s page cache): %.3f s (%d MiB/s) against the shell build %.3f s, ratio %.2fx\n", mode, f, m / f, x, x / f }'
done
umount_afs

# -- 3. disk space ---------------------------------------------------------------------
S3=$T/state3
mount_afs "$S3" --set disk.bios=true --set disk.vhd=true
cat "$T/mnt/netboot/rootfs.squashfs" >/dev/null
sq_kib=$(kib "$S3")
esp_kib=0
for f in "$NAME-efi.raw" "$NAME-bios.raw" "$NAME.vhd"; do
	before=$(kib "$S3")
	cat "$T/mnt/raw/$f" >/dev/null
	added=$(($(kib "$S3") - before))
	[ "$f" = "$NAME-efi.raw" ] && esp_kib=$added
	echo "disk space added to state_dir by $f ($(($(stat -c %s "$T/mnt/raw/$f") >> 20)) MiB): $added KiB"
done
umount_afs
echo "(the state holds the image's layer and squashfs, $sq_kib KiB, before any disk; the EFI disk's addition is its ESP)"

# -- 4. disk.size=16384 ---------------------------------------------------------------------
for size in 0 16384; do
	args=()
	[ "$size" != 0 ] && args=(--set disk.size=$size)
	mount_afs "$STATE" "${args[@]}"
	fb=$(first_byte "$D")
	before=$(kib "$STATE")
	s=$(now)
	cat "$D" >/dev/null
	full=$(since "$s")
	added=$(($(kib "$STATE") - before))
	bytes=$(stat -c %s "$D")
	umount_afs
	awk -v fb="$fb" -v full="$full" -v m=$((bytes >> 20)) -v add="$added" 'BEGIN {
		printf "disk of %d MiB: first byte %.4f s, full read %.2f s (%d MiB/s), disk space added %d KiB\n", m, fb, full, m / full, add }'
done
echo "(the ESP of the first mounts is in the store: $esp_kib KiB when first built)"
