#!/usr/bin/env bash
# lazy.sh - a large release asset is fetched only as far as it is read,
# a transfer cut by the server or by a killed daemon resumes where it
# stopped, and two daemons sharing a state_dir share one cache.
. "$(dirname "$0")/lib.sh"

SIZE_MIB=${LAZY_SIZE_MIB:-256}
REPO=acme/os
VER=v3.0.0
NAME=kairos-big-1.0-core-amd64-generic-$VER
DIR=$T/release/$REPO/releases/download/$VER
mkdir -p "$DIR"
head -c "$((SIZE_MIB << 20))" /dev/urandom >"$DIR/$NAME.iso"
(cd "$DIR" && sha256sum "$NAME.iso" >"$NAME.iso.sha256")
ISO_SIZE=$((SIZE_MIB << 20))

args() {
	echo --set "release_server=$1" --set repository=$REPO --set release_version=$VER \
		--set artifact_version=$VER --set flavor=big --set flavor_release=1.0 \
		--set state_dir="$2"
}
M=$T/mnt

# -- laziness: stat plus a 1 MiB read fetch a small part ---------------------
start_httpd web "$T/release"
# shellcheck disable=SC2046
mount_afs "$M" $(args "$web_URL" "$T/s1")
stat "$M/iso/$NAME.iso" >/dev/null
dd if="$M/iso/$NAME.iso" of="$T/first" bs=1M count=1 status=none
cmp "$T/first" <(head -c 1048576 "$DIR/$NAME.iso") || fail "first MiB differs"
dd if="$M/iso/$NAME.iso" of="$T/mid" bs=64k skip=2000 count=1 status=none
cmp "$T/mid" <(dd if="$DIR/$NAME.iso" bs=64k skip=2000 count=1 status=none) || fail "random read differs"
sent=$(body_bytes "$web_LOG" "$NAME.iso")
log "stat + 1 MiB + 64 KiB read fetched $sent of $ISO_SIZE bytes"
[ "$sent" -le $((8 << 20)) ] || fail "fetched $sent bytes for two small reads"
pass "lazy: $((sent * 100 / ISO_SIZE))% of the ISO fetched"
unmount_afs "$M" "$AFS_PID"
kill_group "$web_PID"

# -- the server dies mid-transfer, then comes back: the read resumes ---------
start_httpd slow "$T/release" --rate $((24 << 20))
port=$slow_PORT
# shellcheck disable=SC2046
mount_afs "$M" $(args "$slow_URL" "$T/s2")
cat "$M/iso/$NAME.iso" >/dev/null 2>"$T/cat.err" &
reader=$!
wait_for 30 eval '[ "$(du -m "$T/s2" | tail -n1 | cut -f1)" -gt 40 ]' ||
	fail "the transfer did not get going"
kill_group "$slow_PID"
if wait "$reader"; then fail "the read succeeded although the server died"; fi
grep -qi "input/output error" "$T/cat.err" || fail "reader saw: $(cat "$T/cat.err")"
grep -q "cannot fetch" "$AFS_LOG" || fail "no log line about the failed fetch"
had=$(body_bytes "$slow_LOG" "$NAME.iso")
start_httpd slow2 "$T/release" --port "$port"
cmp "$M/iso/$NAME.iso" "$DIR/$NAME.iso" || fail "ISO differs after resuming"
again=$(body_bytes "$slow2_LOG" "$NAME.iso")
log "first server sent $had bytes before dying, the second sent $again"
[ $((had + again)) -lt $((ISO_SIZE + (16 << 20))) ] || fail "resumed from scratch"
pass "resume after the server was killed"
unmount_afs "$M" "$AFS_PID"
kill_group "$slow2_PID"

# -- kill -9 of the daemon mid-transfer: the cache stays usable -------------
start_httpd slow3 "$T/release" --rate $((32 << 20))
# shellcheck disable=SC2046
mount_afs "$M" $(args "$slow3_URL" "$T/s3")
cat "$M/iso/$NAME.iso" >/dev/null 2>&1 &
reader=$!
wait_for 30 eval '[ "$(du -m "$T/s3" | tail -n1 | cut -f1)" -gt 60 ]' || fail "no progress"
sleep 1.5 # let the flusher record some chunks
kill -KILL "$AFS_PID"
wait "$reader" 2>/dev/null || true
umount -l "$M" 2>/dev/null || true
first=$(body_bytes "$slow3_LOG" "$NAME.iso")
map_present=$(od -An -v -tu1 "$T"/s3/blobs/*/map | tr -s ' ' '\n' | grep -c '^1$' || true)
log "daemon killed after $first bytes; $map_present chunks recorded"
[ "$map_present" -gt 0 ] || fail "no chunk was recorded before the kill"
kill_group "$slow3_PID"
# the same URL (the cache is keyed by it), served at full speed
start_httpd web3 "$T/release" --port "$slow3_PORT"
# shellcheck disable=SC2046
mount_afs "$M" $(args "$web3_URL" "$T/s3")
cmp "$M/iso/$NAME.iso" "$DIR/$NAME.iso" || fail "ISO differs after a kill -9"
again=$(body_bytes "$web3_LOG" "$NAME.iso")
[ "$again" -le $((ISO_SIZE - (map_present << 20) + (1 << 20))) ] ||
	fail "restart fetched $again bytes: recorded chunks were fetched again"
pass "kill -9 of the daemon: restart fetched $again bytes, not $ISO_SIZE"
unmount_afs "$M" "$AFS_PID"

# -- two daemons, one state_dir ---------------------------------------------
M2=$T/mnt2
# shellcheck disable=SC2046
mount_afs "$M" $(args "$web3_URL" "$T/s4")
p1=$AFS_PID
# shellcheck disable=SC2046
mount_afs "$M2" $(args "$web3_URL" "$T/s4")
p2=$AFS_PID
before=$(body_bytes "$web3_LOG" "$NAME.iso")
sha256sum "$M/iso/$NAME.iso" >"$T/sum1" &
r1=$!
sha256sum "$M2/iso/$NAME.iso" >"$T/sum2" &
r2=$!
wait $r1 || fail "reader 1 failed"
wait $r2 || fail "reader 2 failed"
want=$(cut -d' ' -f1 "$DIR/$NAME.iso.sha256")
[ "$(cut -d' ' -f1 "$T/sum1")" = "$want" ] || fail "daemon 1 served wrong bytes"
[ "$(cut -d' ' -f1 "$T/sum2")" = "$want" ] || fail "daemon 2 served wrong bytes"
both=$(($(body_bytes "$web3_LOG" "$NAME.iso") - before))
log "two daemons fetched $both bytes for a $ISO_SIZE-byte file"
[ "$both" -lt $((ISO_SIZE * 3 / 2)) ] || fail "the daemons did not share the cache"
unmount_afs "$M" "$p1"
unmount_afs "$M2" "$p2"
grep -q "verified 1" "$T"/s4/blobs/*/meta || fail "shared cache not verified"
pass "two daemons share one state_dir"
