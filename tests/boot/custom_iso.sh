#!/usr/bin/env bash
# custom_iso.sh - boot /iso/<name>.custom.iso straight from the mount
# under QEMU, BIOS and UEFI, as a CD-ROM and as a disk (what a USB stick
# written with dd is), on every layout of the demo OS, plus a dd copy of
# the AuroraBoot one. The guest must report the exact cloud-config, the
# overlay files, a verified rootfs and, on disks, the cloud-config in every
# ISO 9660 view (whole disk and data partitions).
. "$(dirname "$0")/../fs/lib.sh"
ensure_demo
BOOT=$SOURCE_ROOT/tools/demo-os/boot.sh
JOBS=${BOOT_JOBS:-2}
VER=v3.0.0
NAME=kairos-demo-1.0-core-amd64-generic-$VER

printf '#cloud-config\nhostname: [[ .host ]]\naurora_marker: %s\n' "$(date +%s%N)" >"$T/cc.yaml"
"$AURORAFS" --help >/dev/null
mkdir -p "$T/ovl/aurorafs-extra"
echo "overlay reached the guest" >"$T/ovl/aurorafs-extra/hello.txt"
HELLO_SUM=$(sha256sum <"$T/ovl/aurorafs-extra/hello.txt" | cut -d' ' -f1)
# AuroraBoot's layout also gets its boot menu replaced by the overlay
cp -r "$T/ovl" "$T/ovl-ab"
mkdir -p "$T/ovl-ab/boot/grub2"
isoinfo -R -i "$DEMO_ISO_AURORABOOT" -x /boot/grub2/grub.cfg |
	sed 's|^\(\s*linux .*\)$|\1 aurorafs.overlay=replaced-grub-cfg|' >"$T/ovl-ab/boot/grub2/grub.cfg"
grep -q aurorafs.overlay= "$T/ovl-ab/boot/grub2/grub.cfg" || fail "could not derive a grub.cfg"

CASES=()
for layout in AURORABOOT MKRESCUE ISOLINUX ELTORITO; do
	base=DEMO_ISO_$layout
	modes=DEMO_ISO_${layout}_MODES
	dir=$T/rel-$layout/acme/os/releases/download/$VER
	mkdir -p "$dir"
	ln -s "${!base}" "$dir/$NAME.iso"
	ovl=$T/ovl
	[ $layout = AURORABOOT ] && ovl=$T/ovl-ab
	mount_afs "$T/mnt-$layout" --set "release_server=file://$T/rel-$layout" \
		--set repository=acme/os --set release_version=$VER --set artifact_version=$VER \
		--set flavor=demo --set flavor_release=1.0 --set state_dir="$T/state" \
		--set host="node-$layout" --cloud-config "$T/cc.yaml" --set iso.overlay_iso="$ovl"
	cmp -s "$T/mnt-$layout/config.yaml" "$T/cc.yaml" && fail "the cloud-config was not rendered"
	for m in ${!modes}; do
		CASES+=("$layout ${m%%:*} ${m##*:} $T/mnt-$layout/iso/$NAME.custom.iso")
	done
done
# a USB stick written with dd straight from the mount
dd if="$T/mnt-AURORABOOT/iso/$NAME.custom.iso" of="$T/usb.img" bs=4M status=none
CASES+=("AURORABOOT-dd bios disk $T/usb.img" "AURORABOOT-dd efi disk $T/usb.img")

check() { # LAYOUT FW MEDIA IMAGE: boot and judge; prints one verdict line
	local layout=$1 fw=$2 media=$3 image=$4 out want lay=${1%-dd}
	out=$T/boot-$layout-$fw-$media
	want=$(sha256sum <"$T/mnt-$lay/config.yaml" | cut -d' ' -f1)
	if ! BOOT_TIMEOUT=${BOOT_TIMEOUT:-240} "$BOOT" "$image" "$fw" "$media" "$out.serial" >"$out.txt" 2>&1; then
		echo "FAIL $layout $fw $media: no report ($(tail -n 2 "$out.txt" | tr '\n' ' '))"
		return
	fi
	grep -q "^AURORAFS-DEMO: firmware=$fw\$" "$out.txt" || { echo "FAIL $layout $fw $media: wrong firmware"; return; }
	grep -q "^AURORAFS-DEMO: config source=.* sha256=$want\$" "$out.txt" ||
		{ echo "FAIL $layout $fw $media: cloud-config did not arrive: $(grep config "$out.txt" | head -n1)"; return; }
	grep -q "^AURORAFS-DEMO: rootfs=ok " "$out.txt" || { echo "FAIL $layout $fw $media: rootfs not verified"; return; }
	grep -q "^AURORAFS-DEMO: config-file name=hello.txt sha256=$HELLO_SUM\$" "$out.txt" ||
		{ echo "FAIL $layout $fw $media: overlay file did not arrive"; return; }
	if [ "$lay" = AURORABOOT ] && ! grep -q "^AURORAFS-DEMO: cmdline=.*aurorafs.overlay=replaced-grub-cfg" "$out.txt"; then
		echo "FAIL $layout $fw $media: the replaced grub.cfg was not used"
		return
	fi
	if [ "$media" = disk ]; then
		grep -q "^AURORAFS-DEMO: medium " "$out.txt" || { echo "FAIL $layout $fw $media: no ISO view reported"; return; }
		if grep "^AURORAFS-DEMO: medium " "$out.txt" | grep -v "config-sha256=$want\$" >/dev/null; then
			echo "FAIL $layout $fw $media: a view lacks the cloud-config: $(grep medium "$out.txt" | tr '\n' ' ')"
			return
		fi
	fi
	echo "ok $layout $fw $media: $(grep -c '^AURORAFS-DEMO: medium' "$out.txt") ISO view(s), $(grep -o 'finished in [0-9]*s' "$out.txt")"
}

log "booting ${#CASES[@]} cases, $JOBS at a time"
: >"$T/verdicts"
pids=()
for c in "${CASES[@]}"; do
	# (the daemons are children too: wait for boots by PID only)
	if [ ${#pids[@]} -ge "$JOBS" ]; then
		wait "${pids[0]}" || true
		pids=("${pids[@]:1}")
	fi
	# shellcheck disable=SC2086
	check $c >>"$T/verdicts" &
	pids+=($!)
done
for p in "${pids[@]}"; do wait "$p" || true; done
sort "$T/verdicts" >&2
[ "$(grep -c '^ok ' "$T/verdicts")" = ${#CASES[@]} ] || fail "$(grep -c '^FAIL' "$T/verdicts") of ${#CASES[@]} boots failed"
pass "${#CASES[@]} boots of custom ISOs from the mount"
