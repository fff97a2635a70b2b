#!/usr/bin/env bash
#
# selftest.sh OUTDIR - build the demo OS (a no-op when current) and prove
# every medium boots the way demo.env says it should, then prove config
# detection on a copy of auroraboot.iso with a config.yaml and overlay
# files added.  This is the reference run for the images: if it fails,
# aurorafs test failures mean nothing.
#
# Environment:
#   SELFTEST_JOBS   boots run in parallel (2; each QEMU takes one core)
#   SELFTEST_ONLY   run only cases whose name contains this string
#   BOOT_TIMEOUT    passed on to boot.sh
#
# Ends with a "N passed, N failed" line; exit status 1 if anything failed.

set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
[[ $# -eq 1 ]] || {
	echo "usage: $0 OUTDIR" >&2
	exit 2
}
OUT=$1
JOBS=${SELFTEST_JOBS:-2}
ONLY=${SELFTEST_ONLY:-}

"$HERE/build.sh" "$OUT"
# shellcheck source=/dev/null
. "$OUT/demo.env"

RESULTS=$(mktemp -d "${TMPDIR:-/tmp}/aurorafs-selftest.XXXXXX")
trap 'rm -rf "$RESULTS"' EXIT

# A config-bearing copy of the AuroraBoot ISO, made the way AuroraBoot's
# users add a config: xorriso replaying the original boot setup.
CFG_DIR=$RESULTS/cfg
mkdir -p "$CFG_DIR/extra/sub"
printf '#cloud-config\nhostname: demo-selftest\nusers:\n- name: kairos\n  passwd: kairos\n' >"$CFG_DIR/config.yaml"
echo "overlay file" >"$CFG_DIR/extra/hello.txt"
printf 'nested\001binary\n' >"$CFG_DIR/extra/sub/blob.bin"
xorriso -indev "$DEMO_ISO_AURORABOOT" -outdev "$CFG_DIR/config.iso" \
	-map "$CFG_DIR/config.yaml" /config.yaml -map "$CFG_DIR/extra" /aurorafs-extra \
	-boot_image any replay >"$CFG_DIR/xorriso.log" 2>&1 || {
	cat "$CFG_DIR/xorriso.log" >&2
	exit 1
}
CFG_SHA=$(sha256sum <"$CFG_DIR/config.yaml" | cut -d' ' -f1)
CFG_BYTES=$(stat -c %s "$CFG_DIR/config.yaml")
HELLO_SHA=$(sha256sum <"$CFG_DIR/extra/hello.txt" | cut -d' ' -f1)
BLOB_SHA=$(sha256sum <"$CFG_DIR/extra/sub/blob.bin" | cut -d' ' -f1)

# case name | image | firmware | medium | expected report lines (|-separated)
CASES=()
for iso in AURORABOOT MKRESCUE ISOLINUX ELTORITO; do
	image_var=DEMO_ISO_$iso
	modes_var=DEMO_ISO_${iso}_MODES
	for mode in ${!modes_var}; do
		fw=${mode%%:*}
		medium=${mode#*:}
		CASES+=("${iso,,}-$fw-$medium|${!image_var}|$fw|$medium|firmware=$fw|boot=$medium|config=none|rootfs=ok source=")
	done
done
CASES+=("config-auroraboot-bios-cdrom|$CFG_DIR/config.iso|bios|cdrom|firmware=bios|boot=cdrom|config source=sr0:/config.yaml bytes=$CFG_BYTES sha256=$CFG_SHA|config-file name=hello.txt sha256=$HELLO_SHA|config-file name=sub/blob.bin sha256=$BLOB_SHA|rootfs=ok source=sr0:")

run_case() { # SPEC
	local name image fw medium expect out start rc=0 line
	IFS='|' read -r name image fw medium expect <<<"$1"
	out=$RESULTS/$name
	start=$SECONDS
	"$HERE/boot.sh" "$image" "$fw" "$medium" "$out.serial" >"$out.report" 2>"$out.err" || rc=$?
	{
		echo "time $((SECONDS - start))"
		[[ $rc -eq 0 ]] || echo "fail boot.sh exit $rc"
		IFS='|' read -ra want <<<"$expect"
		for line in "${want[@]}"; do
			grep -qF "AURORAFS-DEMO: $line" "$out.report" || echo "fail missing: AURORAFS-DEMO: $line"
		done
	} >"$out.verdict"
}

log() { echo "[selftest +${SECONDS}s] $*" >&2; }
selected=()
for c in "${CASES[@]}"; do
	[[ -z $ONLY || ${c%%|*} == *"$ONLY"* ]] && selected+=("$c")
done
log "${#selected[@]} boots, $JOBS at a time"

running=0
for c in "${selected[@]}"; do
	if ((running >= JOBS)); then
		wait -n || true
		running=$((running - 1))
	fi
	run_case "$c" &
	running=$((running + 1))
done
wait || true

passed=0
failed=0
for c in "${selected[@]}"; do
	name=${c%%|*}
	v=$RESULTS/$name.verdict
	t=$(sed -n 's/^time //p' "$v")
	if grep -q '^fail' "$v"; then
		failed=$((failed + 1))
		echo "FAIL $name (${t}s)"
		sed -n 's/^fail /    /p' "$v"
		sed 's/^/    | /' "$RESULTS/$name.report" "$RESULTS/$name.err"
	else
		passed=$((passed + 1))
		echo "ok   $name (${t}s)"
	fi
done
echo "$passed passed, $failed failed"
[[ $failed -eq 0 ]]
