#!/usr/bin/env bash
# ext2.sh - a COS_RECOVERY-like ext2 image (a recovery.squashfs, grub.cfg
# and 300 GRUB modules) built as an extent map, against
# `mke2fs -t ext2 -d DIR` on the same content:
#
#   1. build time: aurorafs's in-process build (best of three) against
#      mke2fs -d writing the image, and against mke2fs -d plus the sync
#      that makes its image durable
#   2. bytes: the memory the map's buffers take against the disk space
#      mke2fs's image takes (and the bytes it writes)
#   3. a check of aurorafs's image: e2fsck -fn clean, recovery.squashfs
#      dumped by debugfs identical to the original
#
# Usage: bench/ext2.sh [SQUASHFS_MIB]   (default 1024; needs a built tree:
# tools/test.sh or meson setup build && ninja -C build)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILDER=${BUILDER:-$ROOT/build/bench/ext2_build}
MIB=${1:-1024}
RUNS=${RUNS:-3}

T=$(mktemp -d "${TMPDIR:-/tmp}/aurorafs-bench.XXXXXX")
trap 'rm -rf "$T"' EXIT
now() { date +%s.%N; }
since() { awk -v s="$1" -v e="$(now)" 'BEGIN { printf "%.4f", e - s }'; }
best() { sort -g | head -n1; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", a / b }'; }

# -- the content --------------------------------------------------------------
C=$T/content
mkdir -p "$C/cOS" "$C/etc/cos" "$C/grub2/i386-pc"
head -c "$((MIB << 20))" /dev/urandom >"$C/cOS/recovery.squashfs"
printf 'set default=0\nmenuentry "recovery" {\n  linux /boot/vmlinuz\n}\n' \
	>"$C/etc/cos/grub.cfg"
i=0
for m in /usr/lib/grub/i386-pc/*.mod; do # 300 modules, real ones first
	cp "$m" "$C/grub2/i386-pc/"
	i=$((i + 1))
done
while [ "$i" -lt 300 ]; do
	cp /usr/lib/grub/i386-pc/normal.mod "$C/grub2/i386-pc/extra$i.mod"
	i=$((i + 1))
done
sync
# the partition: the content plus 5 %, in MiB
SIZE=$((($(du -sm "$C" | cut -f1) * 105 / 100 + 1) << 20))
echo "content: $(du -sh "$C" | cut -f1) in $(find "$C" -type f | wc -l) files, image $((SIZE >> 20)) MiB"

# -- 1. aurorafs --------------------------------------------------------------
out=$("$BUILDER" -L COS_RECOVERY "$C" "$SIZE")
afs_s=$(awk '$1 == "build_seconds" { print $2 }' <<<"$out")
afs_mem=$(awk '$1 == "memory_bytes" { print $2 }' <<<"$out")
afs_ext=$(awk '$1 == "extents" { print $2 }' <<<"$out")

# -- 2. mke2fs -d ---------------------------------------------------------------
mk=()
mk_sync=()
for _ in $(seq "$RUNS"); do
	rm -f "$T/mke2fs.img"
	s=$(now)
	E2FSPROGS_FAKE_TIME=1 mke2fs -q -F -t ext2 -O ^resize_inode,^dir_index,^ext_attr \
		-m 0 -I 256 -L COS_RECOVERY -U 5a1e2b3c-4d5e-4f60-8192-a3b4c5d6e7f8 \
		-E hash_seed=5a1e2b3c-4d5e-4f60-8192-a3b4c5d6e7f8,root_owner=0:0 \
		-d "$C" "$T/mke2fs.img" "$((SIZE >> 10))k" >/dev/null
	mk+=("$(since "$s")")
	sync "$T/mke2fs.img"
	mk_sync+=("$(since "$s")")
done
mk_s=$(printf '%s\n' "${mk[@]}" | best)
mk_sync_s=$(printf '%s\n' "${mk_sync[@]}" | best)
mk_disk=$(du -B1 "$T/mke2fs.img" | cut -f1)

# -- 3. the image is right ------------------------------------------------------
"$BUILDER" -L COS_RECOVERY -o "$T/aurorafs.img" "$C" "$SIZE" >/dev/null
e2fsck -fn "$T/aurorafs.img" >/dev/null 2>&1 || { echo "e2fsck: aurorafs's image is not clean" >&2; exit 1; }
debugfs -R "dump /cOS/recovery.squashfs $T/dumped" "$T/aurorafs.img" 2>/dev/null
cmp "$T/dumped" "$C/cOS/recovery.squashfs"

echo
printf '%-44s %12s %12s %10s\n' "" aurorafs "mke2fs -d" ratio
printf '%-44s %11.3fs %11.3fs %9sx\n' "build time" "$afs_s" "$mk_s" "$(ratio "$mk_s" "$afs_s")"
printf '%-44s %11.3fs %11.3fs %9sx\n' "build time, durable (mke2fs + sync)" "$afs_s" "$mk_sync_s" \
	"$(ratio "$mk_sync_s" "$afs_s")"
printf '%-44s %11.1fM %11.1fM %9sx\n' "bytes kept (memory / disk)" \
	"$(ratio "$afs_mem" 1048576)" "$(ratio "$mk_disk" 1048576)" "$(ratio "$mk_disk" "$afs_mem")"
echo "aurorafs map: $afs_ext extents; its image passed e2fsck -fn and debugfs dumped recovery.squashfs intact"
