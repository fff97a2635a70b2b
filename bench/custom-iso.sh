#!/usr/bin/env bash
# custom-iso.sh - the custom ISO (base + cloud-config) against the way
# AuroraBoot makes it, on a hybrid base of about 600 MiB:
#
#   1. time to the first MiB of /iso/<name>.custom.iso, base cached, against
#      xorriso -indev base -outdev out -map config.yaml /config.yaml
#               -boot_image any replay
#   2. sequential read of the custom ISO through the mount against cat of
#      the base file (page cache dropped before each, then hot)
#   3. disk space the custom ISO adds to state_dir
#
# Usage: bench/custom-iso.sh [FILLER_MIB]   (default 600; needs root and a
# built tree: tools/test.sh or meson setup build && ninja -C build)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
AURORAFS=${AURORAFS:-$ROOT/build/fs/aurorafs}
# the mount alone: no network servers
OFF=(--set disable_netboot=true --set disable_http_server=true)
DEMO_DIR=${DEMO_DIR:-$ROOT/build/demo}
FILLER_MIB=${1:-600}
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

# a big base in AuroraBoot's layout: the demo ISO plus a filler file
VER=v3.0.0
NAME=kairos-demo-1.0-core-amd64-generic-$VER
REL=$T/rel/acme/os/releases/download/$VER
mkdir -p "$REL" "$T/mnt"
head -c "$((FILLER_MIB << 20))" /dev/urandom >"$T/filler.bin"
xorriso -indev "$DEMO_ISO_AURORABOOT" -outdev "$REL/$NAME.iso" -map "$T/filler.bin" /filler.bin \
	-boot_image any replay >/dev/null 2>&1
rm "$T/filler.bin"
BASE=$REL/$NAME.iso
BASE_MIB=$(($(stat -c %s "$BASE") >> 20))
printf '#cloud-config\nhostname: bench\nusers:\n  - name: kairos\n    passwd: kairos\n' >"$T/config.yaml"

# -- 1. AuroraBoot's way ------------------------------------------------------
xo=()
for _ in $(seq "$RUNS"); do
	rm -f "$T/out.iso"
	s=$(now)
	xorriso -indev "$BASE" -outdev "$T/out.iso" -map "$T/config.yaml" /config.yaml \
		-boot_image any replay >/dev/null 2>&1
	xo+=("$(since "$s")")
done
rm -f "$T/out.iso"

# -- aurorafs, base cached -----------------------------------------------------
STATE=$T/state
mount_afs() {
	setsid "$AURORAFS" -f "${OFF[@]}" --set "release_server=file://$T/rel" --set repository=acme/os \
		--set release_version=$VER --set artifact_version=$VER --set flavor=demo \
		--set flavor_release=1.0 --set state_dir="$STATE" --cloud-config "$T/config.yaml" \
		"$T/mnt" 2>"$T/afs.log" &
	AFS_PID=$!
	for _ in $(seq 200); do mountpoint -q "$T/mnt" && return; sleep 0.05; done
	echo "mount failed: $(cat "$T/afs.log")"
	exit 1
}
umount_afs() { fusermount3 -u "$T/mnt"; wait "$AFS_PID"; AFS_PID=; }
mount_afs
cat "$T/mnt/iso/$NAME.iso" >/dev/null # fill the cache: the base is cached
du_before=$(du -sk "$STATE" | cut -f1)
umount_afs
af=()
for _ in $(seq "$RUNS"); do
	mount_afs
	# timed inside one process: spawning a program costs more than this
	af+=("$(python3 - "$T/mnt/iso/$NAME.custom.iso" <<'PY'
import os, sys, time
t = time.perf_counter()
os.stat(sys.argv[1])
with open(sys.argv[1], "rb", buffering=0) as f:
    n = len(f.read(1 << 20))
assert n == 1 << 20
print("%.6f" % (time.perf_counter() - t))
PY
)")
	umount_afs
done
x=$(printf '%s\n' "${xo[@]}" | best)
a=$(printf '%s\n' "${af[@]}" | best)
awk -v x="$x" -v a="$a" -v m="$BASE_MIB" 'BEGIN {
	printf "first MiB of a custom ISO (%d MiB base, cached): xorriso replay %.3f s, aurorafs %.4f s (stat + build + open + read on a fresh mount), ratio %.0fx\n", m, x, a, x / a }'

# -- 2. sequential read ---------------------------------------------------------
mount_afs
C=$T/mnt/iso/$NAME.custom.iso
for mode in cold hot; do
	bt=() ct=()
	[ $mode = hot ] && { cat "$BASE" >/dev/null; cat "$C" >/dev/null; }
	for _ in $(seq "$RUNS"); do
		[ $mode = cold ] && drop
		s=$(now); cat "$BASE" >/dev/null; bt+=("$(since "$s")")
		[ $mode = cold ] && drop
		s=$(now); cat "$C" >/dev/null; ct+=("$(since "$s")")
	done
	b=$(printf '%s\n' "${bt[@]}" | best)
	c=$(printf '%s\n' "${ct[@]}" | best)
	awk -v b="$b" -v c="$c" -v m="$BASE_MIB" -v mode=$mode 'BEGIN {
		printf "sequential read (%s page cache): cat base %d MiB/s, custom ISO through aurorafs %d MiB/s, ratio %.2f\n", mode, m / b, m / c, b / c }'
done

# -- 3. disk space ----------------------------------------------------------------
du_after=$(du -sk "$STATE" | cut -f1)
delta=$(($(stat -c %s "$C") - $(stat -c %s "$BASE")))
umount_afs
echo "disk space added to state_dir by the custom ISO: $((du_after - du_before)) KiB (config $(stat -c %s "$T/config.yaml") bytes; the image is $((delta >> 10)) KiB longer than the base, metadata held in memory)"
