# shellcheck shell=bash
# lib.sh - helpers of the filesystem tests (sourced by each test).
#
# Every test runs in its own temporary directory, starts what it needs in
# its own process groups and stops them by PID on exit. Tests that cannot
# run here (not root, no /dev/fuse) exit 77, which meson reports as SKIP.
set -euo pipefail

: "${AURORAFS:?AURORAFS must name the aurorafs binary}"
: "${SOURCE_ROOT:?SOURCE_ROOT must name the source tree}"
: "${DEMO_DIR:=$SOURCE_ROOT/build/demo}"
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

[ "$(id -u)" = 0 ] || { echo "SKIP: needs root"; exit 77; }
[ -c /dev/fuse ] || { echo "SKIP: needs /dev/fuse"; exit 77; }

T=$(mktemp -d /tmp/aurorafs-fs.XXXXXX)
CLEANUPS=()
run_cleanups() {
	local rc=$? i
	for ((i = ${#CLEANUPS[@]} - 1; i >= 0; i--)); do eval "${CLEANUPS[i]}" || true; done
	# a sanitizer report from any daemon fails the test
	if grep -l -E "Sanitizer|runtime error:" "$T"/aurorafs-*.log 2>/dev/null; then
		grep -h -A 30 -E "Sanitizer|runtime error:" "$T"/aurorafs-*.log >&2
		rc=1
	fi
	rm -rf "$T"
	exit $rc
}
trap run_cleanups EXIT
at_exit() { CLEANUPS+=("$*"); }

# A mount starts network servers by default (ProxyDHCP, TFTP, HTTP on
# every address); tests must not send traffic beyond loopback or the
# namespaces they make, so $AURORAFS runs with the servers off. The
# netboot tests run $AURORAFS_SERVING in their namespaces instead.
AURORAFS_SERVING=$AURORAFS
AURORAFS=$T/aurorafs
printf '#!/bin/sh\nexec %q --set disable_netboot=true --set disable_http_server=true "$@"\n' \
	"$AURORAFS_SERVING" >"$AURORAFS"
chmod +x "$AURORAFS"
export AURORAFS AURORAFS_SERVING

log() { printf '[%s] %s\n' "$(date +%T)" "$*" >&2; }
fail() {
	log "FAIL: $*"
	for f in "$T"/aurorafs-*.log; do
		[ -f "$f" ] && { echo "--- $f"; tail -n 20 "$f"; } >&2
	done
	exit 1
}
pass() { log "ok: $*"; }

# wait_for SECONDS COMMAND...: poll until COMMAND succeeds (bounded)
wait_for() {
	local t=$1 i
	shift
	for ((i = 0; i < t * 20; i++)); do
		"$@" && return 0
		sleep 0.05
	done
	return 1
}

# kill_group PID: stop the process group led by PID
kill_group() {
	kill -KILL -- "-$1" 2>/dev/null || true
	wait "$1" 2>/dev/null || true
}

# start_httpd NAME ROOT [httpd.py options]: sets <NAME>_PID <NAME>_PORT
# <NAME>_LOG and <NAME>_URL
start_httpd() {
	local name=$1 root=$2 pf=$T/$1.port pid
	shift 2
	rm -f "$pf"
	setsid python3 "$HERE/httpd.py" "$root" --port-file "$pf" --log "$T/$name.log" "$@" \
		</dev/null >"$T/$name.out" 2>&1 &
	pid=$!
	wait_for 10 test -s "$pf" || fail "httpd $name did not start: $(cat "$T/$name.out")"
	printf -v "${name}_PID" %s "$pid"
	printf -v "${name}_PORT" %s "$(cat "$pf")"
	printf -v "${name}_LOG" %s "$T/$name.log"
	printf -v "${name}_URL" %s "http://127.0.0.1:$(cat "$pf")"
	: >>"$T/$name.log"
	at_exit "kill_group $pid"
}

# body_bytes LOG [NAME]: bytes of GET bodies sent (for paths ending in NAME)
body_bytes() {
	python3 - "$1" "${2:-}" <<'PY'
import json, sys
total = 0
for line in open(sys.argv[1]):
    r = json.loads(line)
    if r["method"] == "GET" and r["path"].split("?")[0].endswith(sys.argv[2]):
        total += r["sent"]
print(total)
PY
}
# requests LOG: number of requests served
requests() { wc -l <"$1" | tr -d ' '; }

is_mounted() { mountpoint -q "$1"; }

# mount_afs MNT ARGS...: run aurorafs -f in the background until MNT is
# mounted; sets AFS_PID and AFS_LOG
AFS_N=0
mount_afs() {
	local mnt=$1 pid
	shift
	AFS_N=$((AFS_N + 1))
	AFS_LOG=$T/aurorafs-$AFS_N.log
	mkdir -p "$mnt"
	setsid "$AURORAFS" -f "$@" "$mnt" </dev/null >"$AFS_LOG" 2>&1 &
	pid=$!
	if ! wait_for 15 is_mounted "$mnt"; then
		kill_group "$pid"
		fail "aurorafs did not mount $mnt: $(tail -n 5 "$AFS_LOG")"
	fi
	AFS_PID=$pid
	at_exit "unmount_afs '$mnt' $pid"
}

# unmount_afs MNT PID: unmount and wait for the daemon to exit
unmount_afs() {
	if is_mounted "$1"; then
		fusermount3 -u "$1" 2>/dev/null || umount -l "$1" 2>/dev/null || true
	fi
	if [ -n "${2:-}" ]; then
		wait_for 10 eval "! kill -0 $2 2>/dev/null" || kill_group "$2"
		wait "$2" 2>/dev/null || true
	fi
}

# The project's demo OS and its release (built once, then cached).
ensure_demo() {
	mkdir -p "$(dirname "$DEMO_DIR")"
	flock "$DEMO_DIR.lock" "$SOURCE_ROOT/tools/demo-os/build.sh" "$DEMO_DIR" >"$T/demo-build.log" 2>&1 ||
		fail "demo OS build failed: $(tail -n 20 "$T/demo-build.log")"
	# shellcheck disable=SC1091
	. "$DEMO_DIR/demo.env"
}

# release_args URL: the --set options that point aurorafs at the demo
# release published under URL
release_args() {
	echo --set "release_server=$1" --set "repository=$DEMO_REPO" \
		--set "release_version=$DEMO_VERSION" --set "artifact_version=$DEMO_VERSION" \
		--set flavor=demo --set flavor_release=1.0 --set variant=core
}
