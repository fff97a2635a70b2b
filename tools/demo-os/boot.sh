#!/usr/bin/env bash
#
# boot.sh IMAGE bios|efi cdrom|disk|sata [LOGFILE]
#
# Boot IMAGE in QEMU (TCG, no KVM needed) the way a test wants to see it:
# as a CD-ROM on the q35 AHCI controller, as a virtio disk - the "ISO
# written to a USB stick with dd" case - or as a SATA disk on the AHCI
# controller.  The demo initramfs (init.sh)
# reports over the serial port; this script waits for its "done" line,
# prints the AURORAFS-DEMO report to stdout and exits 0 only if the guest
# got that far.
#
# The image is always attached read-only and without image locking, so it
# may live on an aurorafs FUSE mount, be shared by parallel boots, and is
# never modified.
#
# IMAGE "none" attaches no drive at all (the medium argument is then only
# checked for spelling): for netboot tests that bring their own -kernel,
# -initrd and NIC through QEMU_EXTRA.
#
# Environment:
#   BOOT_TIMEOUT  seconds to wait for the report (240)
#   QEMU_EXTRA    extra QEMU arguments, split like a shell would split words
#                 (quotes and backslashes work, nothing is expanded), e.g.
#                 "-kernel k -initrd i -append 'root=live:http://10.0.2.2/x'"
#   QEMU          QEMU binary (qemu-system-x86_64)
#   OVMF_CODE, OVMF_VARS  firmware images for efi (Debian's 4M OVMF)
#   BOOT_FORMAT   the image's format for QEMU (raw; vpc for a VHD)

set -euo pipefail

usage() {
	echo "usage: $0 IMAGE bios|efi cdrom|disk|sata [LOGFILE]" >&2
	exit 2
}
die() {
	echo "boot.sh: error: $*" >&2
	exit 2
}

[[ $# -ge 3 && $# -le 4 ]] || usage
IMAGE=$1
FIRMWARE=$2
MEDIUM=$3
LOG=${4:-}
case "$FIRMWARE" in bios | efi) ;; *) usage ;; esac
case "$MEDIUM" in cdrom | disk | sata) ;; *) usage ;; esac
[[ $IMAGE == none || -f $IMAGE || -b $IMAGE ]] || die "no such image: $IMAGE"

QEMU=${QEMU:-qemu-system-x86_64}
BOOT_TIMEOUT=${BOOT_TIMEOUT:-240}
OVMF_CODE=${OVMF_CODE:-/usr/share/OVMF/OVMF_CODE_4M.fd}
OVMF_VARS=${OVMF_VARS:-/usr/share/OVMF/OVMF_VARS_4M.fd}
command -v "$QEMU" >/dev/null || die "$QEMU not found"
[[ $BOOT_TIMEOUT =~ ^[0-9]+$ ]] || die "BOOT_TIMEOUT must be a number of seconds"

TMP=$(mktemp -d "${TMPDIR:-/tmp}/aurorafs-boot.XXXXXX")
QEMU_PID=""
# shellcheck disable=SC2317 # only ever invoked through the EXIT trap
cleanup() {
	if [[ -n $QEMU_PID ]] && kill -0 "$QEMU_PID" 2>/dev/null; then
		kill "$QEMU_PID" 2>/dev/null || true
		# Give it a moment, then make sure: a wedged TCG guest can ignore TERM
		# for a while, and a leftover QEMU would hold the image open.
		for _ in 1 2 3 4 5 6 7 8 9 10; do
			kill -0 "$QEMU_PID" 2>/dev/null || break
			sleep 0.2
		done
		kill -KILL "$QEMU_PID" 2>/dev/null || true
		wait "$QEMU_PID" 2>/dev/null || true
	fi
	rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

[[ -n $LOG ]] || LOG=$TMP/serial.log
: >"$LOG"


ARGS=(
	-accel tcg -machine q35 -m 1024
	# Nothing we did not ask for: no default NIC (no PXE ROM to time out on),
	# no default CD drive, no VGA.  The serial port is the only output.
	-nodefaults -display none -monitor none
	-chardev "file,id=serial0,path=${LOG//,/,,}" -serial chardev:serial0
	-no-reboot
)

if [[ $FIRMWARE == bios ]]; then
	# SeaBIOS normally retries an unbootable machine after 60 s; reboot
	# (and with -no-reboot, exit) after one so a bad image fails fast.
	ARGS+=(-boot reboot-timeout=1000)
else
	[[ -f $OVMF_CODE && -f $OVMF_VARS ]] || die "OVMF not found ($OVMF_CODE, $OVMF_VARS)"
	# A fresh variable store per boot: boot entries left by an earlier run
	# must not decide what this run boots.
	cp "$OVMF_VARS" "$TMP/vars.fd"
	ARGS+=(-drive "if=pflash,format=raw,unit=0,readonly=on,file=$OVMF_CODE"
		-drive "if=pflash,format=raw,unit=1,file=$TMP/vars.fd")
fi

# readonly=on: the guest cannot write, QEMU opens the file O_RDONLY.
# file.locking=off: FUSE file systems rarely implement OFD locks, and
# parallel boots of one image must not fight over a lock.
# Commas are QEMU's option separator and must be doubled inside a path.
# bootindex 1, not 0: QEMU reserves 0 for -kernel when QEMU_EXTRA has one.
if [[ $IMAGE != none ]]; then
	IMAGE_ABS=$(realpath "$IMAGE")
	DRIVE="file=${IMAGE_ABS//,/,,},format=${BOOT_FORMAT:-raw},if=none,id=boot0,readonly=on,file.locking=off"
	case $MEDIUM in
	cdrom) ARGS+=(-drive "$DRIVE,media=cdrom" -device "ide-cd,drive=boot0,bus=ide.0,bootindex=1") ;;
	# an IDE/SATA disk cannot be read-only: the guest's writes go to a
	# temporary overlay instead (snapshot=on), never to the image
	sata) ARGS+=(-drive "${DRIVE/readonly=on/snapshot=on}" -device "ide-hd,drive=boot0,bus=ide.0,bootindex=1") ;;
	*) ARGS+=(-drive "$DRIVE" -device "virtio-blk-pci,drive=boot0,bootindex=1") ;;
	esac
fi

if [[ -n ${QEMU_EXTRA:-} ]]; then
	# xargs splits on blanks but honours quotes, without eval's risk of
	# running whatever the variable happens to contain.
	xargs printf '%s\0' <<<"$QEMU_EXTRA" >"$TMP/extra" || die "cannot parse QEMU_EXTRA"
	mapfile -d '' EXTRA <"$TMP/extra"
	ARGS+=("${EXTRA[@]}")
fi

START=$SECONDS
"$QEMU" "${ARGS[@]}" </dev/null >"$TMP/qemu.out" 2>&1 &
QEMU_PID=$!

done_seen() { grep -q 'AURORAFS-DEMO: done' "$LOG" 2>/dev/null; }
# OVMF falls through to its built-in shell when nothing on the medium
# boots; nothing will happen after that, so stop waiting.
efi_gave_up() { [[ $FIRMWARE == efi ]] && grep -aq 'UEFI Interactive Shell' "$LOG" 2>/dev/null; }

result=timeout
while ((SECONDS - START < BOOT_TIMEOUT)); do
	if done_seen; then
		result=finished
		break
	fi
	if ! kill -0 "$QEMU_PID" 2>/dev/null; then
		# QEMU gone: the guest may have printed "done" just before powering
		# off, so look once more before calling it a failure.
		result=exited
		if done_seen; then result=finished; fi
		break
	fi
	if efi_gave_up; then
		result=efi-shell
		break
	fi
	sleep 0.5
done

if [[ $result == finished ]]; then
	# The guest powers itself off right after "done"; give it a second so
	# the log is complete, then cleanup kills whatever is left.
	for _ in 1 2 3 4 5 6 7 8 9 10; do
		kill -0 "$QEMU_PID" 2>/dev/null || break
		sleep 0.1
	done
fi
ELAPSED=$((SECONDS - START))

# Serial output has CRLF line ends and may carry terminal escapes from the
# boot loaders; the report lines themselves are plain.
tr -d '\r' <"$LOG" | grep -a -o 'AURORAFS-DEMO: .*' || true

if [[ $result == finished ]]; then
	echo "boot.sh: $FIRMWARE $MEDIUM boot of $IMAGE finished in ${ELAPSED}s" >&2
	exit 0
fi

{
	case "$result" in
	timeout) echo "boot.sh: no 'AURORAFS-DEMO: done' within ${BOOT_TIMEOUT}s ($FIRMWARE $MEDIUM, $IMAGE)" ;;
	exited) echo "boot.sh: QEMU exited after ${ELAPSED}s without 'AURORAFS-DEMO: done' ($FIRMWARE $MEDIUM, $IMAGE)" ;;
	efi-shell) echo "boot.sh: OVMF found nothing to boot and started its shell after ${ELAPSED}s ($FIRMWARE $MEDIUM, $IMAGE)" ;;
	esac
	if [[ -s $TMP/qemu.out ]]; then
		echo "--- qemu output:"
		cat "$TMP/qemu.out"
	fi
	echo "--- last serial output ($LOG):"
	tr -d '\r' <"$LOG" | tail -n 40
} >&2
exit 1
