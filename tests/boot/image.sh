#!/usr/bin/env bash
# image.sh - boot what a container image becomes, straight from the mount:
# the live ISO (UEFI as a CD-ROM, BIOS as a disk), the EFI raw disk under
# OVMF and the BIOS raw disk under SeaBIOS, each attached as virtio and as
# SATA, and the VHD (its payload read by QEMU's vpc driver); and a
# release's EFI and BIOS disks (its rootfs read from its squashfs). The guest
# must report the exact cloud-config (from /config.yaml on the live ISO,
# from COS_OEM's 90_custom.yaml on the disks) and a verified rootfs (from
# /rootfs.squashfs, or /cOS/recovery.squashfs on COS_RECOVERY).
. "$(dirname "$0")/../fs/lib.sh"
ensure_demo
BOOT=$SOURCE_ROOT/tools/demo-os/boot.sh
JOBS=${BOOT_JOBS:-2}
NAME=kairos-demo-1.0-core-amd64-generic-$DEMO_VERSION
M=$T/mnt

printf '#cloud-config\nhostname: booted-image\naurora_marker: %s\n' "$(date +%s%N)" >"$T/cc.yaml"
WANT=$(sha256sum <"$T/cc.yaml" | cut -d' ' -f1)
mount_afs "$M" --set "container_image=oci:$DEMO_IMAGE_OCI" --cloud-config "$T/cc.yaml" \
	--set state_dir="$T/state" --set disk.efi=true --set disk.bios=true --set disk.vhd=true
start_httpd web "$DEMO_RELEASE_ROOT"
# shellcheck disable=SC2207
mount_afs "$T/rel" $(release_args "$web_URL") --cloud-config "$T/cc.yaml" \
	--set state_dir="$T/state-rel" --set disk.efi=true --set disk.bios=true

# NAME FIRMWARE MEDIUM IMAGE WANT-CONFIG-SOURCE WANT-ROOTFS-SOURCE [FORMAT]
CASES=(
	"live efi cdrom $M/iso/$NAME.iso sr0:/config.yaml sr0:/rootfs.squashfs"
	"live bios disk $M/iso/$NAME.iso vda:/config.yaml vda:/rootfs.squashfs"
	"efi-raw efi disk $M/raw/$NAME-efi.raw vda2:/90_custom.yaml vda3:/cOS/recovery.squashfs"
	"efi-raw efi sata $M/raw/$NAME-efi.raw sda2:/90_custom.yaml sda3:/cOS/recovery.squashfs"
	"bios-raw bios disk $M/raw/$NAME-bios.raw vda2:/90_custom.yaml vda3:/cOS/recovery.squashfs"
	"bios-raw bios sata $M/raw/$NAME-bios.raw sda2:/90_custom.yaml sda3:/cOS/recovery.squashfs"
	"vhd efi disk $M/raw/$NAME.vhd vda2:/90_custom.yaml vda3:/cOS/recovery.squashfs vpc"
	"release-raw efi disk $T/rel/raw/$DEMO_ARTIFACT-efi.raw vda2:/90_custom.yaml vda3:/cOS/recovery.squashfs"
	"release-raw bios sata $T/rel/raw/$DEMO_ARTIFACT-bios.raw sda2:/90_custom.yaml sda3:/cOS/recovery.squashfs"
)

check() { # NAME FW MEDIA IMAGE CONFIG ROOTFS [FORMAT]
	local name=$1 fw=$2 media=$3 image=$4 cfg=$5 root=$6 out
	out=$T/boot-$name-$fw-$media
	if ! BOOT_FORMAT=${7:-raw} BOOT_TIMEOUT=${BOOT_TIMEOUT:-240} "$BOOT" "$image" "$fw" "$media" \
		"$out.serial" >"$out.txt" 2>&1; then
		echo "FAIL $name $fw $media: no report ($(tail -n 2 "$out.txt" | tr '\n' ' '))"
		return
	fi
	grep -q "^AURORAFS-DEMO: firmware=$fw\$" "$out.txt" || { echo "FAIL $name $fw $media: wrong firmware"; return; }
	grep -q "^AURORAFS-DEMO: config source=$cfg bytes=.* sha256=$WANT\$" "$out.txt" ||
		{ echo "FAIL $name $fw $media: cloud-config: $(grep config "$out.txt" | head -n1)"; return; }
	grep -q "^AURORAFS-DEMO: rootfs=ok source=$root\$" "$out.txt" ||
		{ echo "FAIL $name $fw $media: rootfs: $(grep rootfs= "$out.txt")"; return; }
	echo "ok $name $fw $media: $(grep -o 'finished in [0-9]*s' "$out.txt")"
}

log "booting ${#CASES[@]} cases, $JOBS at a time"
: >"$T/verdicts"
pids=()
for c in "${CASES[@]}"; do
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
pass "${#CASES[@]} boots of an image's live ISO, raw disks and VHD, and a release's raw disks, from the mount"
