#!/usr/bin/env bash
# image-iso.sh - a container image's live ISO through aurorafs against
# AuroraBoot's pipeline of standard tools, on the demo OS image and on a
# bigger one (the demo plus a layer of BIG_MIB of files, half of them
# incompressible), both pulled from a docker-registry on loopback:
#
#   pipeline: skopeo copy (pull) + umoci raw unpack (flatten) + the ISO
#             tree (kernel, initrd, EFI image with mkfs.vfat and mcopy) +
#             mksquashfs -b 1024k (gzip, AuroraBoot's settings) + xorriso
#             with AuroraBoot's flags
#   aurorafs: from mount to the first byte of /iso/<name>.iso, and to its
#             full read, with an empty state_dir; the daemon's peak RSS;
#             the state_dir's size against the image's; a remount (nothing
#             pulled, nothing built); a new tag whose one small layer
#             changed: the squashfs rebuilt, against the first build
#
# Ratios are against the pipeline measured in the same run.
#
# Usage: bench/image-iso.sh [BIG_MIB]   (default 400; needs root,
# docker-registry, skopeo, umoci; builds the demo OS if needed)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
AURORAFS=${AURORAFS:-$ROOT/build/fs/aurorafs}
# the mount alone: no network servers
OFF=(--set disable_netboot=true --set disable_http_server=true)
DEMO_DIR=${DEMO_DIR:-$ROOT/build/demo}
BIG_MIB=${1:-400}
[ "$(id -u)" = 0 ] || { echo "needs root"; exit 1; }
for t in docker-registry skopeo umoci mksquashfs xorriso mkfs.vfat mcopy; do
	command -v $t >/dev/null || { echo "needs $t (tools/deps.sh)"; exit 1; }
done
"$ROOT/tools/demo-os/build.sh" "$DEMO_DIR" >/dev/null 2>&1
# shellcheck disable=SC1091
. "$DEMO_DIR/demo.env"

T=$(mktemp -d /tmp/aurorafs-bench.XXXXXX)
REG_PID= AFS_PID=
cleanup() {
	mountpoint -q "$T/mnt" && fusermount3 -u "$T/mnt"
	[ -n "$AFS_PID" ] && wait "$AFS_PID" 2>/dev/null
	[ -n "$REG_PID" ] && kill -- "-$REG_PID" 2>/dev/null
	rm -rf "$T"
}
trap cleanup EXIT
now() { date +%s.%N; }
since() { awk -v s="$1" -v e="$(now)" 'BEGIN { printf "%.3f", e - s }'; }
mib() { du -sm "$1" | cut -f1; }

# -- the registry and the images -----------------------------------------------
PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
cat >"$T/reg.yml" <<EOF
version: 0.1
log:
  level: info
storage:
  filesystem:
    rootdirectory: $T/reg
http:
  addr: 127.0.0.1:$PORT
EOF
setsid docker-registry serve "$T/reg.yml" >"$T/reg.log" 2>&1 &
REG_PID=$!
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$PORT/v2/" -o /dev/null && break; sleep 0.1; done
R=127.0.0.1:$PORT
push() { skopeo copy -q --dest-tls-verify=false "oci:$1" "docker://$R/$2"; }

cp -a "$DEMO_IMAGE_OCI" "$T/oci"
push "$T/oci:latest" demo:v1
# the big image: the demo plus BIG_MIB of files, half random, half text
mkdir -p "$T/big/opt/data"
python3 - "$T/big/opt/data" "$BIG_MIB" <<'PY'
import os, random, sys
out, mib = sys.argv[1], int(sys.argv[2])
rnd = random.Random(7)
words = [("".join(rnd.choice("abcdefghij") for _ in range(rnd.randint(3, 9)))) for _ in range(2000)]
for i in range(mib // 4):
    with open(os.path.join(out, "f%04d.bin" % i), "wb") as f:
        if i % 2:
            f.write(os.urandom(4 << 20))
        else:
            text = " ".join(rnd.choice(words) for _ in range(800000)).encode()
            f.write(text[: 4 << 20].ljust(4 << 20, b"\n"))
PY
umoci insert --image "$T/oci:latest" --tag big "$T/big/opt" /opt >/dev/null
rm -rf "$T/big"
push "$T/oci:big" demo:big
# a new tag of the big image: one small layer more
echo "changed $(date +%s%N)" >"$T/motd"
umoci insert --image "$T/oci:big" --tag big2 "$T/motd" /etc/motd >/dev/null
push "$T/oci:big2" demo:big2

# -- AuroraBoot's pipeline ----------------------------------------------------------
# the boot pieces AuroraBoot embeds or writes from constants: taken from
# aurorafs's own live ISO of the demo, not timed
mkdir -p "$T/mnt" "$T/embedded"
"$AURORAFS" "${OFF[@]}" --set "container_image=$R/demo:v1" --set allow-insecure-registries=true \
	--set state_dir="$T/st-embedded" "$T/mnt" 2>/dev/null
osirrox -indev "$T/mnt/iso/$DEMO_ARTIFACT.iso" -extract /boot "$T/embedded/boot" \
	-extract /EFI "$T/embedded/EFI" >/dev/null 2>&1
fusermount3 -u "$T/mnt"
rm -rf "$T/st-embedded"

pipeline() { # REF OUT.iso
	local w=$T/pipe d
	rm -rf "$w"
	mkdir -p "$w/iso/boot" "$w/efi/EFI/BOOT"
	skopeo copy -q --src-tls-verify=false "docker://$1" "oci:$w/layout:x"
	umoci raw unpack --image "$w/layout:x" "$w/rootfs" >/dev/null 2>&1
	d=$w/iso
	cp -L "$w/rootfs/boot/vmlinuz" "$d/boot/kernel"
	cp -L "$w/rootfs/boot/initrd" "$d/boot/initrd"
	cp "$w/rootfs/usr/share/efi/x86_64/grub.efi" "$w/efi/EFI/BOOT/bootx64.efi"
	cp "$T/embedded/EFI/BOOT/grub.cfg" "$w/efi/EFI/BOOT/grub.cfg"
	truncate -s 4M "$d/boot/uefi.img"
	mkfs.vfat -n EFI_LIVE "$d/boot/uefi.img" >/dev/null
	mcopy -s -i "$d/boot/uefi.img" "$w/efi/EFI" ::
	cp "$T/embedded/boot/eltorito.img" "$T/embedded/boot/boot_hybrid.img" "$d/boot/"
	mkdir -p "$d/boot/grub2" "$d/EFI/BOOT"
	cp "$T/embedded/boot/grub2/grub.cfg" "$d/boot/grub2/"
	cp "$T/embedded/EFI/BOOT/grub.cfg" "$d/EFI/BOOT/"
	mksquashfs "$w/rootfs" "$d/rootfs.squashfs" -b 1024k -noappend -no-progress -quiet
	xorriso -volid COS_LIVE -joliet on -padding 0 -outdev "$2" -map "$d" / -chmod 0755 -- \
		-boot_image grub bin_path=/boot/eltorito.img \
		-boot_image grub grub2_mbr="$d/boot/boot_hybrid.img" -boot_image grub grub2_boot_info=on \
		-boot_image any partition_offset=16 -boot_image any cat_path=/boot/boot.catalog \
		-boot_image any cat_hidden=on -boot_image any boot_info_table=on \
		-boot_image any platform_id=0x00 -boot_image any emul_type=no_emulation \
		-boot_image any load_size=2048 -boot_image any next -boot_image any platform_id=0xef \
		-boot_image any emul_type=no_emulation -append_partition 2 0xef "$d/boot/uefi.img" \
		-boot_image any efi_path=--interval:appended_partition_2:all:: \
		-boot_image any appended_part_as=gpt -boot_image any mbr_force_bootable=on >/dev/null 2>&1
	rm -rf "$w"
}

# -- aurorafs ----------------------------------------------------------------------
mount_afs() { # STATE REF
	setsid "$AURORAFS" -f "${OFF[@]}" --set "container_image=$2" --set allow-insecure-registries=true \
		--set state_dir="$1" "$T/mnt" 2>"$T/afs.log" &
	AFS_PID=$!
	for _ in $(seq 200); do mountpoint -q "$T/mnt" && return; sleep 0.05; done
	echo "mount failed: $(cat "$T/afs.log")"
	exit 1
}
umount_afs() { fusermount3 -u "$T/mnt"; wait "$AFS_PID"; AFS_PID=; }
peak_rss_mib() { awk '/VmHWM/ { printf "%d", $2 / 1024 }' "/proc/$AFS_PID/status"; }
# first_byte FILE: stat, open and read 4 KiB, timed in one process
first_byte() {
	python3 - "$1" <<'PY'
import os, sys, time
t = time.perf_counter()
os.stat(sys.argv[1])
with open(sys.argv[1], "rb", buffering=0) as f:
    assert len(f.read(4096)) == 4096
print("%.3f" % (time.perf_counter() - t))
PY
}

bench() { # NAME TAG
	local name=$1 ref=$R/demo:$2 p s fb full rss st img iso pulls
	s=$(now)
	pipeline "$ref" "$T/pipe.iso"
	p=$(since "$s")
	rm -f "$T/pipe.iso"
	rm -rf "$T/st"
	s=$(now)
	mount_afs "$T/st" "$ref"
	fb=$(first_byte "$T/mnt/iso/$DEMO_ARTIFACT.iso")
	fb=$(awk -v a="$(since "$s")" 'BEGIN { print a }')
	cat "$T/mnt/iso/$DEMO_ARTIFACT.iso" >/dev/null
	full=$(since "$s")
	rss=$(peak_rss_mib)
	iso=$(($(stat -c %s "$T/mnt/iso/$DEMO_ARTIFACT.iso") >> 20))
	umount_afs
	st=$(mib "$T/st")
	img=$(skopeo inspect --raw --tls-verify=false "docker://$ref" | python3 -c \
		'import json, sys; print(sum(l["size"] for l in json.load(sys.stdin)["layers"]) >> 20)')
	awk -v n="$name" -v p="$p" -v fb="$fb" -v f="$full" -v iso="$iso" 'BEGIN {
		printf "%s: pipeline %.2f s; aurorafs first byte %.2f s (%.1fx), full read of the %d MiB ISO %.2f s (%.2fx)\n",
			n, p, fb, p / fb, iso, f, p / f }'
	echo "$name: peak RSS $rss MiB; state_dir $st MiB for an image of $img MiB (compressed layers)"
	# remount: nothing pulled, nothing built
	pulls=$(grep -c 'GET /v2/demo/blobs' "$T/reg.log" || true)
	s=$(now)
	mount_afs "$T/st" "$ref"
	first_byte "$T/mnt/iso/$DEMO_ARTIFACT.iso" >/dev/null
	echo "$name: remount to the first byte $(since "$s") s; blobs fetched again: $(($(grep -c 'GET /v2/demo/blobs' "$T/reg.log" || true) - pulls)); builds: $(grep -v "pull '" "$T/afs.log" | grep -c ': started' || true)"
	umount_afs
}

bench demo v1
bench big big
# a new tag, one small layer changed: the squashfs again
SQ=$T/mnt/netboot/rootfs.squashfs
mount_afs "$T/st" "$R/demo:big"
s=$(now); cat "$SQ" >/dev/null || { cat "$T/afs.log"; exit 1; }; first=$(since "$s")
umount_afs
rm -rf "$T/st"
mount_afs "$T/st" "$R/demo:big"
s=$(now); cat "$SQ" >/dev/null || { cat "$T/afs.log"; exit 1; }; cold=$(since "$s")
umount_afs
mount_afs "$T/st" "$R/demo:big2"
s=$(now); cat "$SQ" >/dev/null || { cat "$T/afs.log"; exit 1; }; again=$(since "$s")
umount_afs
awk -v c="$cold" -v a="$again" -v w="$first" 'BEGIN {
	printf "new tag, one small layer changed: squashfs %.2f s against %.2f s for the first build (%.1fx faster; stored one: %.3f s)\n", a, c, c / a, w }'
