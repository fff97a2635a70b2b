#!/usr/bin/env bash
# squashfs.sh - the in-process squashfs writer (aurorafs-mksquashfs, from a
# layer tar as the netboot rootfs is built) against mksquashfs (from the
# directory), on the demo OS rootfs and on a synthetic tree of about
# 300 MiB and 7,000 files of mixed compressibility: wall time (best of
# RUNS, warm page cache) and image size, for gzip level 9 (mksquashfs's
# default, which AuroraBoot runs), gzip 6, zstd 15 (both tools' default),
# zstd 3, no compression, and xz with XZ=1 (ONLY=REGEX picks settings).
# Both get 1 MiB blocks and THREADS threads (default: every CPU). Ratios
# are against mksquashfs with the same settings and against AuroraBoot's
# mksquashfs gzip 9, measured in the same run.
#
# Usage: bench/squashfs.sh [TREE_MIB]   (default 300; needs root, a built
# tree - meson setup build && ninja -C build - and the demo OS in
# build/demo, which tools/demo.sh makes)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
AUR_MKSQUASHFS=${AUR_MKSQUASHFS:-$ROOT/build/tools/aurorafs-mksquashfs}
DEMO_DIR=${DEMO_DIR:-$ROOT/build/demo}
TREE_MIB=${1:-300}
RUNS=${RUNS:-2}
THREADS=${THREADS:-$(nproc)}
[ "$(id -u)" = 0 ] || { echo "needs root (to read every file of the trees)"; exit 1; }
[ -x "$AUR_MKSQUASHFS" ] || { echo "no $AUR_MKSQUASHFS: build first"; exit 1; }

T=$(mktemp -d /tmp/aurorafs-bench.XXXXXX)
trap 'rm -rf "$T"' EXIT
now() { date +%s.%N; }
since() { awk -v s="$1" -v e="$(now)" 'BEGIN { printf "%.2f", e - s }'; }
best() { sort -g | head -n1; }

# name | aurorafs-mksquashfs options | mksquashfs options
SETTINGS=(
	"gzip 9|-c gzip -l 9|-comp gzip -Xcompression-level 9"
	"gzip 6|-c gzip -l 6|-comp gzip -Xcompression-level 6"
	"zstd 15|-c zstd -l 15|-comp zstd -Xcompression-level 15"
	"zstd 3|-c zstd -l 3|-comp zstd -Xcompression-level 3"
	"none|-c none|-noI -noD -noF -noX"
)
[ "${XZ:-0}" = 1 ] && SETTINGS+=("xz|-c xz|-comp xz")
# ONLY=REGEX keeps the settings whose name matches (and gzip 9, the
# baseline): ONLY=xz XZ=1 for xz alone
if [ -n "${ONLY:-}" ]; then
	kept=()
	for line in "${SETTINGS[@]}"; do
		[[ ${line%%|*} =~ ^gzip\ 9$|$ONLY ]] && kept+=("$line")
	done
	SETTINGS=("${kept[@]}")
fi

# synthetic DIR MIB: ~7,000 files per 300 MiB in nested directories, made
# of slices of this machine's own files - a quarter of them random bytes,
# a third ELF binaries and libraries, a third C headers and licences, the
# rest zeros; the same tree for the same size on the same machine
synthetic() {
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
        f.write(content(n))
PY
}

# bench NAME DIR: every setting, both tools, on the tree DIR
bench() {
	local name=$1 dir=$2 files mib line label ours theirs t s
	local base_t="" in_bytes
	files=$(find "$dir" | wc -l)
	in_bytes=$(du -sb --apparent-size "$dir" | cut -f1)
	mib=$((in_bytes >> 20))
	tar --xattrs --numeric-owner -C "$dir" -cf "$T/in.tar" . 2>/dev/null
	cat "$T/in.tar" >/dev/null
	tar -C "$dir" -cf - . | cat >/dev/null
	printf '\n%s: %s names, %s MiB, %s threads, 1 MiB blocks\n' "$name" "$files" "$mib" "$THREADS"
	printf '%-8s | %10s %7s | %10s %7s | %7s %7s | %s\n' setting \
		"mksquashfs" size aurorafs size "time" size "time vs AuroraBoot (mksquashfs gzip 9)"
	for line in "${SETTINGS[@]}"; do
		IFS='|' read -r label ours theirs <<<"$line"
		declare -A res=()
		for tool in theirs ours; do
			local times=() i
			for ((i = 0; i < RUNS; i++)); do
				rm -f "$T/out.sqfs"
				t=$(now)
				if [ "$tool" = theirs ]; then
					# shellcheck disable=SC2086
					mksquashfs "$dir" "$T/out.sqfs" -noappend -no-progress -quiet \
						-b 1M -processors "$THREADS" $theirs >/dev/null
				else
					# shellcheck disable=SC2086
					"$AUR_MKSQUASHFS" -j "$THREADS" $ours "$T/in.tar" "$T/out.sqfs"
				fi
				times+=("$(since "$t")")
			done
			res[$tool.t]=$(printf '%s\n' "${times[@]}" | best)
			res[$tool.s]=$(stat -c %s "$T/out.sqfs")
		done
		[ -n "$base_t" ] || base_t=${res[theirs.t]}
		awk -v l="$label" -v tt="${res[theirs.t]}" -v ts="${res[theirs.s]}" \
			-v ot="${res[ours.t]}" -v os="${res[ours.s]}" -v input="$in_bytes" -v bt="$base_t" \
			'BEGIN { printf "%-8s | %9.2fs %6.1f%% | %9.2fs %6.1f%% | %6.2fx %6.3fx | mksquashfs %.2fx, aurorafs %.2fx\n",
				l, tt, 100 * ts / input, ot, 100 * os / input, ot / tt, os / ts, tt / bt, ot / bt }'
		unset res
	done
}

bench "demo OS rootfs" "$DEMO_DIR/rootfs"
synthetic "$T/tree" "$TREE_MIB"
bench "synthetic tree" "$T/tree"
