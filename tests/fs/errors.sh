#!/usr/bin/env bash
# errors.sh - what goes wrong gets a clear message, the failing file gets
# EIO (or ENOSPC), the rest of the mount keeps working, and nothing wrong
# stays in the cache.
. "$(dirname "$0")/lib.sh"

REPO=acme/os
VER=v3.0.0
NAME=kairos-err-1.0-core-amd64-generic-$VER
DIR=$T/release/$REPO/releases/download/$VER
mkdir -p "$DIR"
head -c $((12 << 20)) /dev/urandom >"$DIR/$NAME.iso"
printf '#cloud-config\nhostname: x\n' >"$T/cc.yaml"
args() {
	echo --set "release_server=$1" --set repository=$REPO --set release_version=$VER \
		--set artifact_version=$VER --set flavor=err --set flavor_release=1.0 \
		--set state_dir="$2" --cloud-config "$T/cc.yaml"
}
M=$T/mnt
start_httpd web "$T/release"

# -- a config that cannot be right: non-zero exit before mounting -----------
mkdir -p "$M"
printf 'flavor: x\nrepository: a/b\n\ndisable_iso: perhaps\n' >"$T/bad.yaml"
if "$AURORAFS" -f "$T/bad.yaml" "$M" 2>"$T/bad.err"; then fail "bad config accepted"; fi
grep -q "bad.yaml:4: key 'disable_iso' must be true or false" "$T/bad.err" ||
	fail "message was: $(cat "$T/bad.err")"
is_mounted "$M" && fail "mounted anyway"
printf 'flavor: x\n' >"$T/nosource.yaml"
if "$AURORAFS" -f "$T/nosource.yaml" "$M" 2>"$T/ns.err"; then fail "config without source accepted"; fi
grep -q "no source defined: provide container_image or a complete release artifact configuration" "$T/ns.err" ||
	fail "message was: $(cat "$T/ns.err")"
if "$AURORAFS" -f --cloud-config "$T/missing.yaml" "$T/nosource.yaml" "$M" 2>"$T/cc.err"; then
	fail "missing cloud-config accepted"
fi
# an empty cloud-config (a file, /dev/null, empty stdin): exit 1, no crash
: >"$T/empty.yaml"
for src in "$T/empty.yaml" /dev/null -; do
	rc=0
	"$AURORAFS" -f --cloud-config "$src" --set container_image=x "$M" \
		</dev/null 2>"$T/empty.err" || rc=$?
	[ "$rc" = 1 ] || fail "empty cloud-config $src: exit $rc: $(cat "$T/empty.err")"
	grep -q "cloud config set but contents are empty" "$T/empty.err" ||
		fail "empty cloud-config $src: message was: $(cat "$T/empty.err")"
	is_mounted "$M" && fail "mounted with an empty cloud-config"
done
pass "bad configs are refused before mounting, naming file:line and key"

# -- 404: EIO on the ISO, one log line with the URL, the rest works --------
# shellcheck disable=SC2046
mount_afs "$M" $(args "$web_URL" "$T/s1") --set release_asset=does-not-exist
if stat "$M/iso/does-not-exist.iso" 2>"$T/err"; then fail "stat of a missing asset worked"; fi
grep -qi "input/output error" "$T/err" || fail "stat said: $(cat "$T/err")"
grep -q "does-not-exist.iso': HTTP 404" "$AFS_LOG" || fail "no 404 in the log"
cmp "$M/config.yaml" "$T/cc.yaml" || fail "config.yaml not served next to a failing ISO"
pass "404 gives EIO and a log line naming the URL"
unmount_afs "$M" "$AFS_PID"

# -- checksum mismatch: EIO at the end, data discarded, logged --------------
echo "0000000000000000000000000000000000000000000000000000000000000000  $NAME.iso" >"$DIR/$NAME.iso.sha256"
# shellcheck disable=SC2046
mount_afs "$M" $(args "$web_URL" "$T/s2")
if cat "$M/iso/$NAME.iso" >/dev/null 2>"$T/err"; then fail "corrupt data read without error"; fi
grep -qi "input/output error" "$T/err" || fail "reader saw: $(cat "$T/err")"
grep -q "checksum mismatch for '.*$NAME.iso'" "$AFS_LOG" || fail "mismatch not logged"
if dd if="$M/iso/$NAME.iso" of=/dev/null bs=4k count=1 status=none 2>/dev/null; then
	fail "reads still work after a mismatch"
fi
unmount_afs "$M" "$AFS_PID"
[ "$(od -An -v -tu1 "$T"/s2/blobs/*/map | tr -s ' ' '\n' | grep -c '^1$' || true)" = 0 ] ||
	fail "chunks of the bad data are still recorded"
grep -q "verified 0" "$T"/s2/blobs/*/meta || fail "bad data marked verified"
pass "checksum mismatch: EIO, logged, cache emptied"
rm "$DIR/$NAME.iso.sha256"

# -- the server is unreachable: EIO, logged, config.yaml still works -------
kill_group "$web_PID"
# shellcheck disable=SC2046
mount_afs "$M" $(args "$web_URL" "$T/s3")
if stat "$M/iso/$NAME.iso" 2>/dev/null; then fail "stat worked with no server"; fi
grep -q "cannot open '$web_URL/.*': .*" "$AFS_LOG" || fail "unreachable server not logged: $(cat "$AFS_LOG")"
# every stat fails again, but the log says it once
for _ in 1 2 3; do stat "$M/iso/$NAME.iso" >/dev/null 2>&1 || true; done
[ "$(grep -c "cannot open '$web_URL/.*$NAME.iso'" "$AFS_LOG")" = 1 ] ||
	fail "the same failure was logged more than once: $(cat "$AFS_LOG")"
cmp "$M/config.yaml" "$T/cc.yaml" || fail "config.yaml broken by a dead server"
pass "unreachable server: EIO and a log line"
unmount_afs "$M" "$AFS_PID"

# -- disk full: ENOSPC or EIO, nothing recorded that was not written --------
start_httpd web2 "$T/release"
mkdir -p "$T/small"
mount -t tmpfs -o size=4m tmpfs "$T/small"
at_exit "umount -l '$T/small'"
# shellcheck disable=SC2046
mount_afs "$M" $(args "$web2_URL" "$T/small/state")
if cat "$M/iso/$NAME.iso" >/dev/null 2>"$T/err"; then fail "read succeeded on a full disk"; fi
grep -qiE "no space left|input/output error" "$T/err" || fail "reader saw: $(cat "$T/err")"
grep -q "no space left" "$AFS_LOG" || fail "disk full not logged"
cmp "$M/config.yaml" "$T/cc.yaml" || fail "config.yaml broken by a full disk"
dd if="$M/iso/$NAME.iso" of="$T/head" bs=64k count=1 status=none || fail "cached head unreadable"
cmp "$T/head" <(head -c 65536 "$DIR/$NAME.iso") || fail "cached head is wrong"
pass "disk full: the read fails, cached data stays right"
unmount_afs "$M" "$AFS_PID"
