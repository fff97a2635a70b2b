#!/usr/bin/env bash
# squashfs-incremental.sh - /netboot/rootfs.squashfs of a new image tag,
# built from the blocks of the last one, against the first build: an image
# of the demo OS plus a layer of MIB MiB of mixed compressibility (default
# 300) made with `umoci insert`; its squashfs read through a mount (the
# first build); then a copy of the layout with one small file inserted as
# a new tag, whose squashfs is read through a mount on the same state_dir
# (built with the cache of compressed blocks) and on a fresh one (built
# without). Times (squashfs build only: the pull happens before, when the
# kernel is read), the ratios in the same run, what the cache copied and
# compressed, and whether both builds of the new tag are the same bytes.
#
# Usage: bench/squashfs-incremental.sh [MIB]   (needs root and /dev/fuse,
# a built tree - meson setup build && ninja -C build - and the demo OS in
# build/demo, which tools/demo.sh makes). COMP=xz|zstd|none picks
# squashfs.compression (default gzip, level 9 as AuroraBoot's).
#
# umoci 0.4.7 (Debian 12) leaves the last file's padding and the two
# end-of-archive blocks out of the tars it inserts; libarchive reads such a
# tar to its end when it stops at a header boundary, so every file made
# here is a whole number of 512-byte records.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
AURORAFS=${AURORAFS:-$ROOT/build/fs/aurorafs}
# the mount alone: no network servers
OFF=(--set disable_netboot=true --set disable_http_server=true)
DEMO_DIR=${DEMO_DIR:-$ROOT/build/demo}
MIB=${1:-300}
COMP=${COMP:-gzip}
[ "$(id -u)" = 0 ] || { echo "needs root (FUSE mounts)"; exit 1; }
[ -x "$AURORAFS" ] || { echo "no $AURORAFS: build first"; exit 1; }
[ -d "$DEMO_DIR/image/oci" ] || { echo "no demo OS in $DEMO_DIR: run tools/demo.sh"; exit 1; }
command -v umoci >/dev/null || { echo "needs umoci"; exit 1; }

T=$(mktemp -d /tmp/aurorafs-bench.XXXXXX)
PIDS=()
cleanup() {
	for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
	for m in "$T"/mnt-*; do mountpoint -q "$m" 2>/dev/null && umount -l "$m"; done
	rm -rf "$T"
}
trap cleanup EXIT
now() { date +%s.%N; }
since() { awk -v s="$1" -v e="$(now)" 'BEGIN { printf "%.2f", e - s }'; }

# the big layer: files of 0 to 3 MiB in nested directories, slices of this
# machine's own files - a quarter random bytes, a third ELF binaries and
# libraries, a third C headers and licences, the rest zeros
big_tree() {
	python3 - "$1" "$2" <<'PY'
import glob, os, random, sys
root, mib = sys.argv[1], int(sys.argv[2])
r = random.Random(7)
def pool(patterns, limit=32 << 20):
    out = bytearray()
    for pattern in patterns:
        for p in sorted(glob.glob(pattern, recursive=True)):
            if len(out) >= limit:
                return bytes(out)
            if os.path.isfile(p) and not os.path.islink(p):
                with open(p, "rb") as f:
                    out += f.read(limit - len(out))
    return bytes(out)
binary = pool(["/usr/bin/*", "/usr/lib/x86_64-linux-gnu/*.so*"])
text = pool(["/usr/include/**/*.h", "/usr/share/common-licenses/*"])
def content(n):
    kind = r.random()
    if kind < 0.25:
        return r.randbytes(n)
    if kind < 0.9:
        src = text if kind < 0.6 else binary
        out, left = [], n
        while left:
            at = r.randrange(len(src) - 65536)
            take = min(left, r.randint(4096, 65536))
            out.append(src[at:at + take])
            left -= take
        return b"".join(out)
    return bytes(n)
scale = mib / 300
sizes = ([r.randint(0, 16 << 10) for _ in range(int(6000 * scale))] +
         [r.randint(16 << 10, 200 << 10) for _ in range(int(900 * scale))] +
         [r.randint(256 << 10, 3 << 20) for _ in range(int(100 * scale))])
r.shuffle(sizes)
for i, n in enumerate(sizes):
    d = os.path.join(root, f"d{i % 37}", f"e{i % 11}")
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, f"file-{i}.bin"), "wb") as f:
        f.write(content(n // 512 * 512))
PY
}

# squashfs_of LAYOUT:TAG STATE_DIR: pull (reading the kernel), then time
# reading /netboot/rootfs.squashfs into $T/out.sqfs; prints the seconds,
# leaves the log in $T/last.log
squashfs_of() {
	local m=$T/mnt-$RANDOM pid i t
	mkdir -p "$m"
	"$AURORAFS" -f "${OFF[@]}" --set "container_image=oci:$1" --set "state_dir=$2" \
		--set "squashfs.compression=$COMP" "$m" </dev/null >"$T/last.log" 2>&1 &
	pid=$!
	PIDS+=("$pid")
	for ((i = 0; i < 200; i++)); do mountpoint -q "$m" && break; sleep 0.05; done
	mountpoint -q "$m" || { tail "$T/last.log" >&2; exit 1; }
	cat "$m/netboot/kernel" >/dev/null
	t=$(now)
	cat "$m/netboot/rootfs.squashfs" >"$T/out.sqfs"
	since "$t"
	umount "$m"
	wait "$pid" || true
}

L=$T/layout
cp -a "$DEMO_DIR/image/oci" "$L"
big_tree "$T/big" "$MIB"
echo "a stamp for the next tag" | head -c 512 >"$T/stamp"
truncate -s 512 "$T/stamp"
umoci insert --image "$L:v3.0.0" --tag big "$T/big" /opt/bench >/dev/null
cp -a "$L" "$T/layout-next"
umoci insert --image "$T/layout-next:big" --tag next "$T/stamp" /etc/bench-stamp >/dev/null
in_mib=$(du -sm --apparent-size "$T/big" "$DEMO_DIR/rootfs" | awk '{ s += $1 } END { print s }')
files=$(find "$T/big" "$DEMO_DIR/rootfs" -type f | wc -l)
rm -rf "$T/big"
sync

first=$(squashfs_of "$L:big" "$T/state")
size=$(stat -c %s "$T/out.sqfs")
again=$(squashfs_of "$T/layout-next:next" "$T/state")
mv "$T/out.sqfs" "$T/next.sqfs"
reuse=$(sed -n 's/.*squashfs of the rootfs: \(.*\)$/\1/p' "$T/last.log" | grep copied || true)
cold=$(squashfs_of "$T/layout-next:next" "$T/state-cold")
same=no
cmp -s "$T/out.sqfs" "$T/next.sqfs" && same=yes

printf '\nimage: demo OS + %s MiB layer: %s MiB, %s files in all; %s, %s threads\n' \
	"$MIB" "$in_mib" "$files" "$COMP" "$(nproc)"
printf 'squashfs: %s MiB\n' "$((size >> 20))"
printf '%-40s %8ss\n' "first build (tag big)" "$first" \
	"new tag, with the last one's blocks" "$again" \
	"new tag, fresh state_dir (no cache)" "$cold"
awk -v f="$first" -v a="$again" -v c="$cold" 'BEGIN {
	printf "first build / rebuild: %.1fx; cold build of the new tag / rebuild: %.1fx\n", f / a, c / a }'
echo "cache: ${reuse:-not used}"
echo "rebuild and cold build are the same bytes: $same"
[ "$same" = yes ]
