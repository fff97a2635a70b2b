#!/bin/sh
# shellcheck shell=dash
#
# /init of the aurorafs demo OS initramfs (runs under busybox ash).
#
# This is the guest half of the boot tests: it never switches to the real
# root.  It finds out how it was booted, looks for the user config and the
# live rootfs the same way a Kairos live medium would, checks the rootfs
# against its own manifest, reports everything as "AURORAFS-DEMO: ..." lines
# on the first serial port and powers the machine off.  The host side
# (boot.sh) only has to wait for the "done" line.
#
# Every wait is bounded: under TCG devices can take several seconds to show
# up, but a missing device must never hang the test run.

export PATH=/usr/sbin:/usr/bin:/sbin:/bin
umask 022

mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
mkdir -p /run /tmp /mnt

# Kernel messages share the serial port with our report; console level 1
# keeps driver chatter from being spliced into the middle of a report line.
echo 1 >/proc/sys/kernel/printk

SERIAL=/dev/ttyS0
[ -c "$SERIAL" ] || SERIAL=/dev/console

# The report: one machine-readable line each, nothing else uses the prefix.
report() { printf 'AURORAFS-DEMO: %s\n' "$*" >"$SERIAL"; }
# Progress notes for whoever reads a failed boot log; deliberately without
# the report prefix so parsers ignore them.
note() { printf 'demo-init: %s\n' "$*" >"$SERIAL"; }

# Centiseconds since boot; /proc/uptime is the only clock we can trust this
# early (no RTC sync, busybox date has no sub-second output).
now_cs() {
	local up s c
	read -r up _ </proc/uptime
	s=${up%.*}
	c=${up#*.}
	c=${c#0} # "05" would be read as octal by $(( ))
	echo $((s * 100 + c))
}

# ---------------------------------------------------------------- cmdline
ROOT_SPEC=""
LIVE_DIR="LiveOS"          # dracut's defaults, used when the menu omits them
LIVE_IMG="squashfs.img"
CONFIG_URL=""
ROOT_WAIT=45               # seconds to wait for the live medium to appear
CMDLINE=$(cat /proc/cmdline)

set -f # a cmdline word such as rd.live.dir=/ must never be glob-expanded
for arg in $CMDLINE; do
	case "$arg" in
	root=*) ROOT_SPEC=${arg#root=} ;;
	rd.live.dir=*) LIVE_DIR=${arg#rd.live.dir=} ;;
	rd.live.squashimg=*) LIVE_IMG=${arg#rd.live.squashimg=} ;;
	config_url=*) CONFIG_URL=${arg#config_url=} ;;
	aurorafs.rootwait=*) ROOT_WAIT=${arg#aurorafs.rootwait=} ;;
	esac
done
set +f

# rd.live.dir=/ and rd.live.dir=LiveOS both name a directory on the medium;
# normalise to "" or "/dir" so "$mnt$LIVE_DIR/$LIVE_IMG" is always a path.
LIVE_DIR=$(echo "/$LIVE_DIR" | sed 's://*:/:g; s:/$::')
LIVE_PATH="$LIVE_DIR/$LIVE_IMG"

if [ -d /sys/firmware/efi ]; then FIRMWARE=efi; else FIRMWARE=bios; fi
report "firmware=$FIRMWARE"

# ---------------------------------------------------------------- modules
# build.sh resolved the dependency order on the host (modprobe
# --show-depends), so a plain insmod loop is enough here.  A module that
# does not fit this machine (e.g. a CPU-specific crc helper) just fails.
KVER=$(uname -r)
MODDIR=/lib/modules/$KVER
if [ -f "$MODDIR/aurorafs-demo.load" ]; then
	while read -r ko; do
		[ -n "$ko" ] || continue
		insmod "$MODDIR/$ko" 2>/dev/null || note "insmod $ko failed"
	done <"$MODDIR/aurorafs-demo.load"
else
	note "no module list for kernel $KVER"
fi

# ---------------------------------------------------------------- devices
# Block devices in the order a live medium is most likely to be found:
# optical first, then virtio, SCSI/SATA/USB, NVMe, legacy IDE, MMC.  Whole
# disks sort before their partitions, which is what we want for hybrid ISOs
# (the whole disk is the iso9660 image).
block_devices() {
	local pat dev name
	for pat in sr vd sd nvme hd mmcblk xvd; do
		for dev in /sys/class/block/"$pat"*; do
			[ -e "$dev" ] || continue
			name=${dev##*/}
			[ -b "/dev/$name" ] && echo "$name"
		done
	done
}

# The iso9660 volume id, read straight from the primary volume descriptor.
# busybox findfs does the same job, but this second opinion needs nothing
# but dd and covers any device findfs skipped.
iso_label() {
	local magic
	magic=$(dd if="/dev/$1" bs=1 skip=32769 count=5 2>/dev/null)
	[ "$magic" = "CD001" ] || return 1
	dd if="/dev/$1" bs=1 skip=32808 count=32 2>/dev/null | sed 's/ *$//'
}

# Devices that carry the live medium's identity (root=live:CDLABEL=...,
# LABEL=, UUID= or a /dev path).  For a label, iso9660 volume ids come
# first (that is what CDLABEL means to dracut); findfs adds FAT/ext labels.
# Hybrid images can show the label on more than one device, some of which
# do not mount (grub-mkrescue's HFS+ partition), so callers try them all.
root_candidates() {
	local name dev
	case "$1" in
	CDLABEL=* | LABEL=*)
		for name in $(block_devices); do
			[ "$(iso_label "$name")" = "${1#*LABEL=}" ] && echo "$name"
		done
		dev=$(findfs "LABEL=${1#*LABEL=}" 2>/dev/null) ;;
	UUID=*) dev=$(findfs "$1" 2>/dev/null) ;;
	/dev/*) dev=$1 ;;
	*) return 0 ;;
	esac
	[ -b "$dev" ] && echo "${dev#/dev/}"
	return 0
}

# Mount DEV read-only on MNT with the first filesystem type that works;
# iso9660 first because that is what a live medium or a config seed is.
mount_any() {
	local t
	for t in iso9660 vfat ext4; do
		mount -t "$t" -o ro "/dev/$1" "$2" 2>/dev/null && return 0
	done
	return 1
}

# Mount NAME on $MEDIUM and keep it there if it holds the live image.
try_medium() {
	mount_any "$1" "$MEDIUM" || return 1
	[ -f "$MEDIUM$LIVE_PATH" ] && return 0
	umount "$MEDIUM"
	return 1
}

# Wait (bounded) until the set of block devices has stopped changing, so a
# scan for config media does not race a disk that is still being probed.
settle_devices() {
	local deadline last cur stable=0
	deadline=$(($(now_cs) + ${1:-8} * 100))
	last=$(block_devices | tr '\n' ' ')
	while [ "$(now_cs)" -lt "$deadline" ]; do
		sleep 0.25
		cur=$(block_devices | tr '\n' ' ')
		if [ "$cur" = "$last" ]; then
			stable=$((stable + 1))
			[ "$stable" -ge 4 ] && return 0
		else
			stable=0
			last=$cur
		fi
	done
	return 0
}

# ---------------------------------------------------------------- network
NET_READY=""
net_up() {
	local deadline iface=""
	[ -n "$NET_READY" ] && return 0
	deadline=$(($(now_cs) + 1500))
	while [ -z "$iface" ] && [ "$(now_cs)" -lt "$deadline" ]; do
		for n in /sys/class/net/*; do
			n=${n##*/}
			case "$n" in lo | sit* | tun* | dummy*) continue ;; esac
			iface=$n
			break
		done
		[ -n "$iface" ] || sleep 0.25
	done
	if [ -z "$iface" ]; then
		note "no network interface"
		return 1
	fi
	ip link set lo up 2>/dev/null
	ip link set "$iface" up
	if timeout 60 udhcpc -i "$iface" -n -q -t 8 -T 2 -s /etc/udhcpc.sh >/dev/null 2>&1; then
		note "network up on $iface"
		NET_READY=1
		return 0
	fi
	note "dhcp failed on $iface"
	return 1
}

fetch() { # URL FILE
	net_up || return 1
	timeout 300 wget -q -O "$2" "$1" 2>/dev/null && return 0
	rm -f "$2"
	note "download failed: $1"
	return 1
}

is_url() {
	case "$1" in http://* | https://* | ftp://* | tftp://*) return 0 ;; esac
	return 1
}

# ---------------------------------------------------------------- rootfs
# ROOT_STATE: ok|corrupt|missing; ROOT_SRC says where it came (or should
# have come) from; ROOT_DEV is the device name when it came from one.
ROOT_STATE=missing
ROOT_SRC=none
ROOT_DEV=""
ROOT_FILE=""
MEDIUM=/run/medium
mkdir -p "$MEDIUM" /run/rootfs /run/scan

spec=${ROOT_SPEC#live:}
case "$spec" in
"")
	# No root= at all: accept the image from whichever medium has it.
	settle_devices 8
	for name in $(block_devices); do
		try_medium "$name" && ROOT_DEV=$name && break
	done
	;;
http://* | https://* | ftp://* | tftp://*)
	ROOT_SRC=$spec
	fetch "$spec" /run/rootfs.squashfs && ROOT_FILE=/run/rootfs.squashfs
	;;
*)
	# The identity must match: a medium with the wrong volume id would not
	# boot a real Kairos either, and tests rely on seeing that.  Once some
	# device has the identity but not the image, only wait a little longer
	# for a better candidate instead of the full ROOT_WAIT.
	ROOT_SRC=$spec
	seen=""
	deadline=$(($(now_cs) + ROOT_WAIT * 100))
	while [ -z "$ROOT_DEV" ]; do
		for name in $(root_candidates "$spec"); do
			if try_medium "$name"; then
				ROOT_DEV=$name
				break
			fi
			if [ -z "$seen" ]; then
				seen=$name
				short=$(($(now_cs) + 300))
				[ "$short" -lt "$deadline" ] && deadline=$short
			fi
		done
		[ -n "$ROOT_DEV" ] || [ "$(now_cs)" -ge "$deadline" ] && break
		sleep 0.25
	done
	if [ -n "$ROOT_DEV" ]; then
		note "live medium $ROOT_DEV after $(now_cs)cs"
	elif [ -n "$seen" ]; then
		note "$spec is $seen, but it has no $LIVE_PATH"
		ROOT_SRC="$seen:$LIVE_PATH"
	else
		note "no device for $spec after ${ROOT_WAIT}s"
	fi
	;;
esac

if [ -n "$ROOT_DEV" ]; then
	ROOT_SRC="$ROOT_DEV:$LIVE_PATH"
	[ -f "$MEDIUM$LIVE_PATH" ] && ROOT_FILE=$MEDIUM$LIVE_PATH
fi

if [ -n "$ROOT_FILE" ]; then
	# A squashfs that does not mount, or whose files do not match the
	# manifest baked into it at build time, is corrupt.  Reading every file
	# also forces every compressed block through the decompressor.
	ROOT_STATE=corrupt
	if mount -t squashfs -o ro,loop "$ROOT_FILE" /run/rootfs 2>/dev/null; then
		manifest=etc/aurorafs-demo/manifest.sha256
		if [ -s "/run/rootfs/$manifest" ] &&
			(cd /run/rootfs && sha256sum -c -s "$manifest") 2>/dev/null; then
			ROOT_STATE=ok
		fi
		umount /run/rootfs
	else
		note "squashfs mount failed: $ROOT_FILE"
	fi
fi

# ---------------------------------------------------------------- config
# Order of precedence: an explicit config_url, then a config injected into
# the initramfs (netboot), then config.yaml at the root of a medium.
CFG_SRC=""
CFG_FILE=""
EXTRA_SRC=""
EXTRA_LIST=/run/extra.list
: >"$EXTRA_LIST"

# Record the extra files of one medium root (MNT), once.
collect_extra() { # MNT
	local f rel sum
	[ -z "$EXTRA_SRC" ] && [ -d "$1/aurorafs-extra" ] || return 1
	find "$1/aurorafs-extra" -type f | sort | while read -r f; do
		rel=${f#"$1"/aurorafs-extra/}
		sum=$(sha256sum <"$f" | cut -d' ' -f1)
		echo "config-file name=$rel sha256=$sum"
	done >"$EXTRA_LIST"
	return 0
}

# Look at one mounted medium root for config.yaml and aurorafs-extra/.
inspect_medium() { # NAME MNT
	local f
	# config.yaml on live media; 90_custom.yaml on a disk's COS_OEM
	for f in config.yaml 90_custom.yaml; do
		if [ -z "$CFG_SRC" ] && [ -f "$2/$f" ]; then
			cp "$2/$f" /run/config.yaml && {
				CFG_SRC="$1:/$f"
				CFG_FILE=/run/config.yaml
			}
		fi
	done
	collect_extra "$2" && EXTRA_SRC=$1
	return 0
}

if [ -n "$CONFIG_URL" ]; then
	if fetch "$CONFIG_URL" /run/config.yaml; then
		CFG_SRC=$CONFIG_URL
		CFG_FILE=/run/config.yaml
	fi
fi
inspect_medium initrd ""

if [ -z "$CFG_SRC" ] || [ -z "$EXTRA_SRC" ]; then
	settle_devices 6
	# The boot medium is already mounted: look there first, then every
	# other device and partition, iso9660 before anything else.
	[ -n "$ROOT_DEV" ] && inspect_medium "$ROOT_DEV" "$MEDIUM"
	for fstype in iso9660 vfat ext4; do
		for name in $(block_devices); do
			[ -n "$CFG_SRC" ] && [ -n "$EXTRA_SRC" ] && break 2
			[ "$name" = "$ROOT_DEV" ] && continue
			mount -t "$fstype" -o ro "/dev/$name" /run/scan 2>/dev/null || continue
			inspect_medium "$name" /run/scan
			umount /run/scan
		done
	done
fi

# Every ISO 9660 view of the media (a hybrid ISO on a disk shows one on the
# whole disk and one per data partition): what config.yaml each one holds.
# A view whose files lie beyond its partition's end reads them wrongly.
MEDIA_LIST=/run/media.list
: >"$MEDIA_LIST"
for name in $(block_devices); do
	loopdev=
	if [ "$name" = "$ROOT_DEV" ]; then
		mnt=$MEDIUM
	elif mount -t iso9660 -o ro "/dev/$name" /run/scan 2>/dev/null; then
		mnt=/run/scan
	elif loopdev=$(losetup -f) && losetup -r "$loopdev" "/dev/$name" &&
		mount -t iso9660 -o ro "$loopdev" /run/scan 2>/dev/null; then
		# the kernel will not claim a partition of a disk that is
		# mounted; a read-only loop device over it is fine
		mnt=/run/scan
	else
		[ -n "$loopdev" ] && losetup -d "$loopdev" 2>/dev/null
		continue
	fi
	sum=none
	[ -f "$mnt/config.yaml" ] && sum=$(sha256sum <"$mnt/config.yaml" | cut -d' ' -f1)
	echo "medium dev=$name config-sha256=$sum" >>"$MEDIA_LIST"
	if [ "$mnt" = /run/scan ]; then
		umount /run/scan
		[ -n "$loopdev" ] && losetup -d "$loopdev" 2>/dev/null
	fi
done

# ---------------------------------------------------------------- report
medium_kind() {
	case "$1" in
	sr*) echo cdrom ;;
	vd* | sd* | hd* | nvme* | mmcblk* | xvd*) echo disk ;;
	*://*) echo net ;;
	*) return 1 ;;
	esac
}

# The rootfs is what was really booted; the config source only decides
# when the rootfs came from neither a device nor a URL.
BOOT=$(medium_kind "$ROOT_DEV") ||
	BOOT=$(medium_kind "$ROOT_SRC") ||
	BOOT=$(medium_kind "${CFG_SRC%%:/*}") ||
	BOOT=$(medium_kind "$CFG_SRC") ||
	BOOT=unknown
report "boot=$BOOT"

if [ -n "$CFG_FILE" ]; then
	bytes=$(wc -c <"$CFG_FILE")
	sum=$(sha256sum <"$CFG_FILE" | cut -d' ' -f1)
	report "config source=$CFG_SRC bytes=$((bytes)) sha256=$sum"
else
	report "config=none"
fi
while read -r line; do
	report "$line"
done <"$EXTRA_LIST"
while read -r line; do
	report "$line"
done <"$MEDIA_LIST"

report "rootfs=$ROOT_STATE source=$ROOT_SRC"
report "cmdline=$CMDLINE"
report "done"

# Give the UART a moment to drain before the machine disappears.
umount "$MEDIUM" 2>/dev/null
sync
sleep 1
poweroff -f
# Only reached if ACPI power-off is unavailable.
echo o >/proc/sysrq-trigger
sleep 30
