#!/usr/bin/env bash
# oci_daemon.sh - docker:// sources, daemon first as AuroraBoot does: a
# Docker-compatible daemon (podman system service on a socket in the
# test's directory, its storage there too) with the demo image loaded from
# its docker-archive. The image comes from the daemon when it has it for
# the platform (again without a new export once stored), else from the
# registry (not in the daemon, another arch, no daemon at all), and the
# log says which.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/oci_lib.sh"
command -v podman >/dev/null || { echo "SKIP: no podman"; exit 77; }
need_skopeo
ensure_demo

PM=(podman --root "$T/podman/root" --runroot "$T/podman/run" --storage-driver vfs
	--cgroup-manager cgroupfs --events-backend none)
"${PM[@]}" load -q -i "$DEMO_IMAGE_DOCKER_ARCHIVE" >"$T/podman-load.log" 2>&1 ||
	{ echo "SKIP: podman cannot load images here: $(tail -3 "$T/podman-load.log")"; exit 77; }
setsid "${PM[@]}" system service --time=0 "unix://$T/podman.sock" </dev/null >"$T/podman.log" 2>&1 &
pm_pid=$!
at_exit "kill_group $pm_pid"
at_exit "rm -rf '$T/podman'"
if ! wait_for 20 curl -sf --unix-socket "$T/podman.sock" http://d/_ping -o /dev/null; then
	echo "SKIP: podman system service did not answer: $(tail -3 "$T/podman.log")"
	exit 77
fi
export DOCKER_HOST=unix://$T/podman.sock
pass "podman system service on $DOCKER_HOST with the demo image loaded"

start_registry reg
R=127.0.0.1:$reg_PORT
push "oci:$DEMO_IMAGE_OCI:latest" "docker://$R/demo:latest"
push "oci:$DEMO_IMAGE_OCI:multi" "docker://$R/demo:multi" --all

# in the daemon: from the daemon
S=$T/state
must_pull "$S" "docker://localhost/aurorafs/demo:latest"
[ "$(out origin)" = daemon ] || fail "origin $(out origin): $(cat "$PULL_LOG")"
grep -q "from the docker daemon" "$PULL_LOG" || fail "not logged: $(cat "$PULL_LOG")"
check_image "docker:// in the daemon"
[ "$(blob_gets "$reg_LOG")" = 0 ] || fail "the registry was asked"
must_pull "$S" "docker:localhost/aurorafs/demo:$DEMO_VERSION"
[ "$(out origin)" = daemon ] || fail "second: origin $(out origin)"
grep -q "already stored" "$PULL_LOG" || fail "second pull exported again: $(cat "$PULL_LOG")"
pass "in the daemon: pulled from it; the same image ID again needs no export"

# not in the daemon: the registry, and the log says why
must_pull "$T/state-2" "docker://$R/demo:latest"
[ "$(out origin)" = registry ] || fail "origin $(out origin)"
grep -q "not from the daemon (.*HTTP 404.*); trying the registry" "$PULL_LOG" || fail "$(cat "$PULL_LOG")"
check_image "docker:// not in the daemon"
# once the daemon has it under that name, the daemon wins
"${PM[@]}" tag localhost/aurorafs/demo:latest "$R/demo:latest" "$R/demo:multi" >/dev/null 2>&1 ||
	fail "podman tag"
blobs=$(blob_gets "$reg_LOG")
must_pull "$T/state-3" "docker://$R/demo:latest"
[ "$(out origin)" = daemon ] || fail "tagged: origin $(out origin)"
[ "$(blob_gets "$reg_LOG")" = "$blobs" ] || fail "the registry was asked for blobs"
pass "not in the daemon: registry (logged); tagged in the daemon: daemon first"

# the daemon's image is amd64: arm64 comes from the registry's index
must_pull "$T/state-4" "docker://$R/demo:multi" --arch arm64
if [ "$(out origin)" != registry ] || [ "$(out arch)" != arm64 ]; then fail "arm64: $(cat "$PULL_OUT")"; fi
grep -q "the daemon's image is linux/amd64, not linux/arm64" "$PULL_LOG" || fail "$(cat "$PULL_LOG")"
pass "daemon image of another arch: registry used, and said why"

# no daemon at all
DOCKER_HOST=unix://$T/nothing.sock must_pull "$T/state-5" "docker://$R/demo:latest"
[ "$(out origin)" = registry ] || fail "no daemon: origin $(out origin)"
grep -q "no daemon socket" "$PULL_LOG" || fail "$(cat "$PULL_LOG")"
pass "no daemon socket: registry"
