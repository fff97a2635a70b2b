#!/usr/bin/env bash
# overlay.sh - iso.overlay_iso through the mount, on the AuroraBoot layout:
# overlay files keep the base's files intact, many files in a new
# directory, links recorded as links and never followed (to a directory,
# to a secret, dangling; the overlay root may itself be a link), FIFOs
# skipped, Rock Ridge modes, the cloud-config winning over an overlay's
# config.yaml, and snapshots that are no more readable than their source.
. "$(dirname "$0")/lib.sh"
ensure_demo

VER=v3.0.0
NAME=kairos-demo-1.0-core-amd64-generic-$VER
ISO=$NAME.iso
CUSTOM=$NAME.custom.iso
BASE=$DEMO_ISO_AURORABOOT

dir=$T/rel/acme/os/releases/download/$VER
mkdir -p "$dir"
ln -s "$BASE" "$dir/$ISO"
(cd "$dir" && sha256sum <"$BASE" | sed "s/-\$/$ISO/" >"$ISO.sha256")
printf '#cloud-config\nhostname: node-1\n' >"$T/cc.yaml"
args() { # STATE OVERLAY
	echo --set "release_server=file://$T/rel" --set repository=acme/os --set release_version=$VER \
		--set artifact_version=$VER --set flavor=demo --set flavor_release=1.0 \
		--set state_dir="$1" --cloud-config "$T/cc.yaml" --set iso.overlay_iso="$2"
}
M=$T/mnt
rm -rf "$T/xb"
osirrox -indev "$BASE" -extract / "$T/xb" >/dev/null 2>&1

# extract C DIR: osirrox's view of the custom ISO C
extract() {
	rm -rf "$2"
	osirrox -indev "$1" -extract / "$2" >/dev/null 2>&1 || fail "osirrox cannot extract $1"
}

# -- one file, the issue's first case: nothing else may change --
O=$T/o1
mkdir -p "$O"
printf 'hello zfile' >"$O/zfile"
# shellcheck disable=SC2046
mount_afs "$M" $(args "$T/s1" "$O")
extract "$M/iso/$CUSTOM" "$T/x"
cmp "$T/x/zfile" "$O/zfile" || fail "zfile is not its 11 bytes"
cmp "$T/x/rootfs.squashfs" "$T/xb/rootfs.squashfs" || fail "/rootfs.squashfs changed"
rm -f "$T/x/zfile" "$T/x/config.yaml"
diff -r "$T/x" "$T/xb" >/dev/null || fail "base files changed: $(diff -rq "$T/x" "$T/xb" | head -3)"
unmount_afs "$M" "$AFS_PID"
pass "one overlay file: its bytes, and every base file intact"

# -- 40 files in a new directory, a config.yaml, links, a FIFO, modes --
O=$T/o2
mkdir -p "$O/many" "$O/sub" "$O/emptydir"
for i in $(seq -w 1 40); do echo "file $i" >"$O/many/f$i.txt"; done
printf 'overlay config\n' >"$O/config.yaml"
head -c 70000 /dev/urandom >"$O/sub/data.bin"
chmod 0640 "$O/sub/data.bin"
chmod 0755 "$O/many/f01.txt"
printf 'secret-%s\n' "$RANDOM$RANDOM$RANDOM" >"$T/secret"
chmod 0600 "$T/secret"
ln -s "$T/secret" "$O/shadow"
ln -s /etc "$O/etcdir"
ln -s ../nowhere "$O/sub/dangling"
mkfifo "$O/sub/fifo"
ln -s "$O" "$T/o2-link" # the overlay root itself as a link
# shellcheck disable=SC2046
mount_afs "$M" $(args "$T/s2" "$T/o2-link")
C=$M/iso/$CUSTOM
extract "$C" "$T/x"
for i in $(seq -w 1 40); do
	cmp -s "$T/x/many/f$i.txt" "$O/many/f$i.txt" || fail "many/f$i.txt differs"
done
cmp "$T/x/sub/data.bin" "$O/sub/data.bin" || fail "sub/data.bin differs"
cmp "$T/x/config.yaml" "$T/cc.yaml" || fail "the overlay's config.yaml won over the cloud-config"
[ "$(readlink "$T/x/shadow")" = "$T/secret" ] || fail "shadow is not a link to the secret"
[ "$(readlink "$T/x/etcdir")" = /etc ] || fail "etcdir is not a link to /etc"
[ "$(readlink "$T/x/sub/dangling")" = ../nowhere ] || fail "the dangling link is missing"
[ -d "$T/x/emptydir" ] || fail "the empty directory is missing"
[ ! -e "$T/x/sub/fifo" ] && [ ! -L "$T/x/sub/fifo" ] || fail "the FIFO went into the ISO"
grep -qaF "$(cat "$T/secret")" "$C" && fail "the secret behind a link is in the ISO"
[ "$(stat -c %a "$T/x/sub/data.bin")" = 640 ] || fail "data.bin mode $(stat -c %a "$T/x/sub/data.bin")"
[ "$(stat -c %a "$T/x/many/f01.txt")" = 755 ] || fail "f01.txt mode"
# (listings go to files first: grep -q would end a pipe early, and
# pipefail would call that a failure)
isoinfo -R -l -i "$C" >"$T/rr.txt"
isoinfo -J -f -i "$C" >"$T/joliet.txt"
grep -q -- '-rw-r-----.* data.bin' "$T/rr.txt" || fail "isoinfo: data.bin not 0640"
grep -qF "shadow -> $T/secret" "$T/rr.txt" || fail "isoinfo: no link"
grep -qE '^/(shadow|etcdir)$' "$T/joliet.txt" && fail "links in Joliet"
grep -qx /many/f40.txt "$T/joliet.txt" || fail "no many/f40.txt in Joliet"
# the partition_offset copy holds the same
fdisk -l -o Start,Sectors "$C" 2>/dev/null | awk '/^ *[0-9]+ +[0-9]+ *$/ {print $1, $2}' |
	while read -r start sectors; do
		dd if="$C" of="$T/part.img" bs=512 skip="$start" count="$sectors" status=none
		isoinfo -d -i "$T/part.img" >/dev/null 2>&1 || continue
		isoinfo -R -l -i "$T/part.img" >"$T/part.txt"
		grep -qF "shadow -> $T/secret" "$T/part.txt" || fail "partition at $start: no link"
		isoinfo -R -i "$T/part.img" -x /sub/data.bin >"$T/part.bin"
		cmp -s "$T/part.bin" "$O/sub/data.bin" || fail "partition at $start: data.bin differs"
	done
# snapshots: a private directory, private files
[ "$(stat -c %a "$T/s2/overlay")" = 700 ] || fail "state_dir/overlay is $(stat -c %a "$T/s2/overlay")"
[ -z "$(find "$T/s2/overlay" -type f ! -perm 0600)" ] || fail "snapshots not 0600: $(find "$T/s2/overlay" -type f ! -perm 0600 -printf '%m ')"
[ -n "$(find "$T/s2/overlay" -type f)" ] || fail "no snapshots"
grep -rqaF "$(cat "$T/secret")" "$T/s2/overlay" && fail "the secret was snapshotted"
unmount_afs "$M" "$AFS_PID"
pass "overlay: 40 files, links as links (none followed), FIFO skipped, modes, cloud-config wins, 0700/0600 snapshots"

# a state_dir/overlay made 0755 with 0644 files by an older version is
# closed
chmod 0755 "$T/s2/overlay"
find "$T/s2/overlay" -type f -exec chmod 0644 {} +
# shellcheck disable=SC2046
mount_afs "$M" $(args "$T/s2" "$O")
cat "$M/iso/$CUSTOM.sha256" >/dev/null
[ "$(stat -c %a "$T/s2/overlay")" = 700 ] || fail "state_dir/overlay stays $(stat -c %a "$T/s2/overlay")"
[ -z "$(find "$T/s2/overlay" -type f ! -perm 0600)" ] || fail "old snapshots stay readable"
unmount_afs "$M" "$AFS_PID"
pass "an existing state_dir/overlay and its snapshots are made private"
