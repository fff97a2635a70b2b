#!/usr/bin/env bash
# run.sh [SECONDS] [TARGET...] - a fuzzing session by hand: build the
# libFuzzer targets with ASan and UBSan in build-fuzz/, fuzz each TARGET
# (default: all) for SECONDS (default 1800) on a scratch copy of its
# corpus, then merge what was new into corpus/<target>/. A crash stops
# that target and leaves the input in build-fuzz/crashes/<target>/.
set -euo pipefail
cd "$(dirname "$0")/../.."
SECS=${1:-1800}
shift || true
ALL=(iso_edit parttable eltorito sqfs_rootfs oci_ref oci_doc sqfs_cache dhcp tftp http_plan http_server)
TARGETS=("${@:-${ALL[@]}}")
[ ${#TARGETS[@]} -gt 0 ] || TARGETS=("${ALL[@]}")
if [ -d build-fuzz ]; then
	meson configure build-fuzz -Dfuzzing=true >/dev/null
else
	CC=clang meson setup build-fuzz -Dfuzzing=true -Db_sanitize=address,undefined \
		-Db_lundef=false -Dbuildtype=debugoptimized
fi
ninja -C build-fuzz
export ASAN_OPTIONS=abort_on_error=1:detect_leaks=1
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
declare -A MAXLEN=([iso_edit]=1048576 [parttable]=32800 [eltorito]=4104 [sqfs_rootfs]=262144 [oci_ref]=512
	[oci_doc]=16384 [sqfs_cache]=4096 [dhcp]=1472 [tftp]=4096 [http_plan]=4096 [http_server]=16384)
for t in "${TARGETS[@]}"; do
	work=build-fuzz/work/$t
	crashes=build-fuzz/crashes/$t
	rm -rf "$work"
	mkdir -p "$work" "$crashes"
	cp tests/fuzz/corpus/"$t"/* "$work"/
	echo "run.sh: fuzzing $t for $SECS s"
	build-fuzz/tests/fuzz/fuzz_"$t" "$work" -max_total_time="$SECS" \
		-max_len="${MAXLEN[$t]}" -artifact_prefix="$crashes/" -print_final_stats=1 2>&1 |
		tail -n 25
	build-fuzz/tests/fuzz/fuzz_"$t" -merge=1 tests/fuzz/corpus/"$t" "$work" 2>&1 | tail -n 2
done
