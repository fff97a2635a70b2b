#!/usr/bin/env bash
# startup.sh - what the start-up settles before the daemon detaches:
# relative paths keep their meaning, logs go where a user finds them,
# state_dir is checked for what it must be, and a release without a
# published checksum is said to be one and gets no checksum files.
. "$(dirname "$0")/lib.sh"
ensure_demo

REL=$DEMO_RELEASE_DIR
ISO=$DEMO_ARTIFACT.iso
CUSTOM=$DEMO_ARTIFACT.custom.iso
printf '#cloud-config\nhostname: s\n' >"$T/cc.yaml"
# shellcheck disable=SC2207
ARGS=($(release_args "file://$DEMO_RELEASE_ROOT"))
M=$T/mnt
mkdir -p "$M"

# -- relative paths, detached: state_dir, overlay, log file, mountpoint --
mkdir -p "$T/work/overlay"
echo "relative overlay" >"$T/work/overlay/rel.txt"
(
	cd "$T/work"
	"$AURORAFS" "${ARGS[@]}" --set state_dir=state --set iso.overlay_iso=overlay \
		--cloud-config ../cc.yaml --log-file daemon.log ../mnt 2>"$T/aurorafs-detach.log"
) || fail "detached mount failed: $(cat "$T/aurorafs-detach.log")"
at_exit "unmount_afs '$M'"
pid=$(pgrep -f "aurorafs.*\.\./mnt" | head -n1)
[ -n "$pid" ] || fail "no daemon process"
isoinfo -R -f -i "$M/iso/$CUSTOM" | grep -qx /rel.txt ||
	fail "relative iso.overlay_iso lost once detached: $(tail -n 3 "$T/work/daemon.log")"
[ -d "$T/work/state/blobs" ] || fail "relative state_dir not used: $(ls "$T/work")"
[ ! -e "/state" ] || fail "the cache went to /state"
grep -q "mounted on '$M'" "$T/work/daemon.log" 2>/dev/null ||
	grep -q "logging to $T/work/daemon.log" "$T/aurorafs-detach.log" || fail "relative --log-file not used"
# SIGTERM: the daemon unmounts the absolute mountpoint and exits
kill -TERM "$pid"
wait_for 10 eval "! is_mounted '$M'" || fail "SIGTERM left the mount behind"
wait_for 10 eval "! kill -0 $pid 2>/dev/null" || fail "daemon still running after SIGTERM"
pass "relative state_dir, overlay, log file and mountpoint survive detaching; SIGTERM unmounts"

# -- without --log-file a detached daemon logs into state_dir, and says so --
"$AURORAFS" "${ARGS[@]}" --set state_dir="$T/s-log" --set release_asset=nope "$M" 2>"$T/aurorafs-where.log" ||
	fail "detached mount failed: $(cat "$T/aurorafs-where.log")"
at_exit "unmount_afs '$M'"
grep -q "logging to $T/s-log/aurorafs.log" "$T/aurorafs-where.log" || fail "no word on where the log goes"
if stat "$M/iso/nope.iso" >/dev/null 2>&1; then fail "a missing asset was served"; fi
grep -q "nope.iso" "$T/s-log/aurorafs.log" || fail "the failure is not in $T/s-log/aurorafs.log"
unmount_afs "$M"
pass "a detached daemon logs to state_dir/aurorafs.log by default"

# -- state_dir must be a writable directory --------------------------------
touch "$T/a-file"
if "$AURORAFS" -f "${ARGS[@]}" --set state_dir="$T/a-file" "$M" 2>"$T/sd.err"; then
	fail "a regular file was accepted as state_dir"
fi
grep -q "state_dir '$T/a-file' is not a writable directory: Not a directory" "$T/sd.err" ||
	fail "state_dir message: $(cat "$T/sd.err")"
if is_mounted "$M"; then fail "mounted anyway"; fi
pass "a state_dir that is a file is refused at start-up"

# -- a release that publishes no checksum ----------------------------------
R=$T/nosum/$DEMO_REPO/releases/download/$DEMO_VERSION
mkdir -p "$R"
cp "$REL/$ISO" "$R/$ISO"
# shellcheck disable=SC2207
NS=($(release_args "file://$T/nosum"))
mount_afs "$M" "${NS[@]}" --set state_dir="$T/s-nosum" --cloud-config "$T/cc.yaml"
grep -q "publishes no checksum" "$AFS_LOG" || fail "no start-up warning about the missing checksum"
if ls "$M/iso" | grep -q 'sha256$'; then fail "checksum files without a published checksum: $(ls "$M/iso")"; fi
cmp "$M/iso/$ISO" "$R/$ISO" || fail "the ISO is not served"
unmount_afs "$M" "$AFS_PID"
pass "no published checksum: said at start-up, no .sha256 served"

# the server was unreachable at start-up: the checksum files are listed but
# refuse to vouch for what turns out to be unverified
start_httpd late "$T/nosum"
port=$late_PORT
kill_group "$late_PID"
# shellcheck disable=SC2207
LATE=($(release_args "http://127.0.0.1:$port"))
mount_afs "$M" "${LATE[@]}" --set state_dir="$T/s-late" --cloud-config "$T/cc.yaml"
start_httpd late2 "$T/nosum" --port "$port"
[ -e "$M/iso/$ISO.sha256" ] || fail "checksum file not listed"
if cat "$M/iso/$ISO.sha256" >/dev/null 2>"$T/err"; then fail "a checksum for unverified bytes"; fi
if cat "$M/iso/$CUSTOM.sha256" >/dev/null 2>&1; then fail "a custom ISO checksum for unverified bytes"; fi
grep -q "no checksum for '$ISO'" "$AFS_LOG" || fail "refusal not logged: $(tail -n 3 "$AFS_LOG")"
cmp "$M/iso/$ISO" "$R/$ISO" || fail "the ISO is not served"
unmount_afs "$M" "$AFS_PID"
pass "checksum files refuse bytes that nothing vouches for"
