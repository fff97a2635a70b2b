#!/usr/bin/env bash
# custom_iso.sh - /iso/<name>.custom.iso on every layout the demo OS comes
# in (AuroraBoot's xorriso hybrid with an appended EFI partition and a
# partition offset, grub-mkrescue with APM and HFS+, isolinux isohybrid,
# plain El Torito): what xorriso, isoinfo and osirrox see, byte stability,
# the cache it shares, laziness, and bad input. Booting them is the boot
# suite's job.
. "$(dirname "$0")/lib.sh"
ensure_demo

VER=v3.0.0
NAME=kairos-demo-1.0-core-amd64-generic-$VER
ISO=$NAME.iso
CUSTOM=$NAME.custom.iso

cat >"$T/cc.yaml" <<'YAML'
#cloud-config
hostname: [[ .host ]]
install:
  auto: true
YAML
printf '#cloud-config\nhostname: node-1\ninstall:\n  auto: true\n' >"$T/cc.want"
mkdir -p "$T/overlay/aurorafs-extra/deep/er"
echo "extra file" >"$T/overlay/aurorafs-extra/hello.txt"
head -c 300000 /dev/urandom >"$T/overlay/aurorafs-extra/deep/er/blob.bin"

# release LAYOUT ISO-FILE: a file:// release whose asset is ISO-FILE
release() {
	local dir=$T/rel-$1/acme/os/releases/download/$VER
	mkdir -p "$dir"
	ln -sf "$2" "$dir/$ISO"
	(cd "$dir" && sha256sum <"$2" | sed "s/-\$/$ISO/" >"$ISO.sha256")
	echo "file://$T/rel-$1"
}
args() { # SERVER STATE
	echo --set "release_server=$1" --set repository=acme/os --set release_version=$VER \
		--set artifact_version=$VER --set flavor=demo --set flavor_release=1.0 \
		--set state_dir="$2" --set host=node-1 --cloud-config "$T/cc.yaml" \
		--set iso.overlay_iso="$T/overlay"
}
report() { xorriso -indev "$1" -report_el_torito plain -report_system_area plain 2>&1 |
	grep -E '^(El Torito|MBR|GPT|APM)' | grep -v -E 'GPT lba range|GPT disk GUID|El Torito img opts'; }

M=$T/mnt
for layout in AURORABOOT MKRESCUE ISOLINUX ELTORITO; do
	var=DEMO_ISO_$layout
	base=${!var}
	# shellcheck disable=SC2046
	mount_afs "$M" $(args "$(release "$layout" "$base")" "$T/state-$layout")
	C=$M/iso/$CUSTOM

	# the tools' view: boot entries kept, tables consistent, files there
	xorriso -indev "$C" -report_el_torito plain 2>&1 | grep -qE 'FAILURE|SORRY' &&
		fail "$layout: xorriso complains about the custom ISO"
	[ "$(report "$base" | grep -c '^El Torito boot img')" = "$(report "$C" | grep -c '^El Torito boot img')" ] ||
		fail "$layout: boot entries lost"
	isoinfo -R -f -i "$C" >"$T/rr.txt"
	grep -qx /config.yaml "$T/rr.txt" || fail "$layout: no /config.yaml in the Rock Ridge tree"
	grep -qx /aurorafs-extra/deep/er/blob.bin "$T/rr.txt" || fail "$layout: overlay missing"
	if isoinfo -d -i "$base" | grep -q "Joliet with UCS"; then
		isoinfo -J -f -i "$C" | grep -qx /config.yaml || fail "$layout: no /config.yaml in Joliet"
	fi
	rm -rf "$T/x" "$T/xb"
	osirrox -indev "$C" -extract / "$T/x" >/dev/null 2>&1 || fail "$layout: osirrox cannot extract"
	osirrox -indev "$base" -extract / "$T/xb" >/dev/null 2>&1
	cmp "$T/x/config.yaml" "$T/cc.want" || fail "$layout: /config.yaml is not the rendered cloud-config"
	cmp "$T/x/aurorafs-extra/deep/er/blob.bin" "$T/overlay/aurorafs-extra/deep/er/blob.bin" ||
		fail "$layout: overlay file differs"
	rm -rf "$T/x/config.yaml" "$T/x/aurorafs-extra"
	diff -r "$T/x" "$T/xb" >/dev/null || fail "$layout: files of the base changed: $(diff -rq "$T/x" "$T/xb" | head -3)"

	# every partition holding ISO 9660 data holds the new files too
	fdisk -l -o Start,Sectors "$C" 2>/dev/null | awk '/^ *[0-9]+ +[0-9]+ *$/ {print $1, $2}' |
		while read -r start sectors; do
			dd if="$C" of="$T/part.img" bs=512 skip="$start" count="$sectors" status=none
			isoinfo -d -i "$T/part.img" >/dev/null 2>&1 || continue
			isoinfo -R -i "$T/part.img" -x /config.yaml | cmp -s - "$T/cc.want" ||
				fail "$layout: partition at sector $start does not hold /config.yaml"
		done

	# byte-stable, and the checksum file agrees
	sum=$(sha256sum <"$C" | cut -d' ' -f1)
	[ "$(cut -d' ' -f1 "$M/iso/$CUSTOM.sha256")" = "$sum" ] || fail "$layout: checksum file wrong"
	unmount_afs "$M" "$AFS_PID"
	# shellcheck disable=SC2046
	mount_afs "$M" $(args "file://$T/rel-$layout" "$T/state2-$layout")
	[ "$(sha256sum <"$C" | cut -d' ' -f1)" = "$sum" ] || fail "$layout: not byte-stable across mounts"
	cmp "$M/iso/$ISO" "$base" || fail "$layout: base ISO changed"
	unmount_afs "$M" "$AFS_PID"
	pass "$layout: custom ISO consistent for xorriso, isoinfo, osirrox; stable; $(($(stat -L -c %s "$base") / 1048576)) MiB base"
done

# -- another cloud-config: only the custom ISO changes; the base is shared --
S=$T/shared
# shellcheck disable=SC2046
mount_afs "$M" $(args "file://$T/rel-AURORABOOT" "$S")
cp "$M/iso/$CUSTOM" "$T/c1.iso"
ls "$M" "$M/iso" >"$T/list1"
unmount_afs "$M" "$AFS_PID"
# shellcheck disable=SC2046
mount_afs "$M" $(args "file://$T/rel-AURORABOOT" "$S") --set host=node-2
cmp -s "$M/iso/$CUSTOM" "$T/c1.iso" && fail "another cloud-config gave the same custom ISO"
cmp "$M/iso/$ISO" "$DEMO_ISO_AURORABOOT" || fail "base ISO changed with the cloud-config"
ls "$M" "$M/iso" | diff - "$T/list1" >/dev/null || fail "the tree changed with the cloud-config"
isoinfo -R -i "$M/iso/$CUSTOM" -x /config.yaml | grep -q 'hostname: node-2' || fail "new cloud-config not inside"
# differing bytes: only in patched metadata blocks and the inserted delta
changed=$({ cmp -l "$M/iso/$CUSTOM" "$T/c1.iso" || true; } | awk '{print int(($1 - 1) / 2048)}' | sort -un | wc -l)
[ "$changed" -le 4 ] || fail "$changed blocks differ for a one-line cloud-config change"
unmount_afs "$M" "$AFS_PID"
[ "$(find "$S/blobs" -mindepth 1 -maxdepth 1 | wc -l)" = 1 ] || fail "the base is not shared in state_dir"
pass "another cloud-config changes $changed block(s) of the custom ISO and nothing else"

# an edited cloud-config file shows in the mtime, for HTTP caches
touch -d '2031-02-03 04:05:06 UTC' "$T/cc.yaml"
# shellcheck disable=SC2046
mount_afs "$M" $(args "file://$T/rel-AURORABOOT" "$S")
[ "$(stat -c %Y "$M/iso/$CUSTOM")" = "$(date -d '2031-02-03 04:05:06 UTC' +%s)" ] ||
	fail "custom ISO mtime does not follow the cloud-config"
[ "$(stat -c %Y "$M/config.yaml")" = "$(stat -c %Y "$T/cc.yaml")" ] || fail "config.yaml mtime"
[ "$(stat -c %Y "$M/iso/$ISO")" = "$(stat -L -c %Y "$DEMO_ISO_AURORABOOT")" ] || fail "base ISO mtime changed"
unmount_afs "$M" "$AFS_PID"
pass "the custom ISO's mtime follows the cloud-config file"

# -- lazy: the first MiB of the custom ISO needs only the base's metadata --
BIG=$T/big.iso
cp "$DEMO_ISO_AURORABOOT" "$BIG"
start_httpd web "$T/rel-big"
mkdir -p "$T/rel-big/acme/os/releases/download/$VER"
mv "$BIG" "$T/rel-big/acme/os/releases/download/$VER/$ISO"
# shellcheck disable=SC2046
mount_afs "$M" $(args "$web_URL" "$T/state-lazy")
t0=$(date +%s%N)
head -c 1048576 "$M/iso/$CUSTOM" >"$T/first"
t1=$(date +%s%N)
sent=$(body_bytes "$web_LOG" "$ISO")
log "first MiB of the custom ISO: $(((t1 - t0) / 1000000)) ms, $sent bytes of the base fetched"
isoinfo -d -i "$T/first" >/dev/null 2>&1 || fail "the first MiB is not an ISO 9660 start"
[ "$sent" -lt $((8 << 20)) ] || fail "building the custom ISO fetched $sent bytes"
pass "custom ISO built from metadata: $sent bytes of a $(stat -L -c %s "$DEMO_ISO_AURORABOOT")-byte base"
unmount_afs "$M" "$AFS_PID"

# -- bad input: a clear log line, EIO on that file, the rest keeps working --
bad_release() { # NAME CONTENT-FILE
	local dir=$T/rel-$1/acme/os/releases/download/$VER
	mkdir -p "$dir"
	cp "$2" "$dir/$ISO"
	(cd "$dir" && sha256sum "$ISO" >"$ISO.sha256")
}
head -c $((3 << 20)) /dev/urandom >"$T/random.bin"
bad_release notiso "$T/random.bin"
head -c $((120 * 2048)) "$DEMO_ISO_MKRESCUE" >"$T/truncated.bin"
bad_release truncated "$T/truncated.bin"
for kind in notiso truncated; do
	# shellcheck disable=SC2046
	mount_afs "$M" $(args "file://$T/rel-$kind" "$T/state-$kind")
	if stat "$M/iso/$CUSTOM" >/dev/null 2>&1; then fail "$kind base: custom ISO was built"; fi
	grep -qE "$CUSTOM: (not an ISO 9660 image|truncated|directory at block .* impossible size)" "$AFS_LOG" ||
		fail "$kind base: no clear message: $(tail -n 3 "$AFS_LOG")"
	cmp "$M/iso/$ISO" "$T/rel-$kind/acme/os/releases/download/$VER/$ISO" || fail "$kind: base no longer served"
	cmp "$M/config.yaml" "$T/cc.want" || fail "$kind: config.yaml no longer served"
	unmount_afs "$M" "$AFS_PID"
done
pass "a base that is not ISO 9660, or truncated: EIO and a log line"

# a link target too long for a Rock Ridge continuation block (links are
# recorded, not followed: a dangling one is fine, see overlay.sh)
mkdir -p "$T/bad1"
ln -s "/$(printf 'x%.0s' $(seq 1 3000))" "$T/bad1/longlink"
for kind in bad1; do
	# shellcheck disable=SC2046
	mount_afs "$M" $(args "file://$T/rel-AURORABOOT" "$T/state-$kind") --set iso.overlay_iso="$T/$kind"
	if stat "$M/iso/$CUSTOM" >/dev/null 2>&1; then fail "$kind overlay: custom ISO was built"; fi
	grep -qE "cannot be held in ISO 9660" "$AFS_LOG" ||
		fail "$kind overlay: no clear message: $(tail -n 3 "$AFS_LOG")"
	cmp "$M/iso/$ISO" "$DEMO_ISO_AURORABOOT" || fail "$kind: base no longer served"
	unmount_afs "$M" "$AFS_PID"
done
pass "overlay entries ISO 9660 cannot hold: EIO and a log line"
