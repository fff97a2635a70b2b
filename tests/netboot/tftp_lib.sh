# shellcheck shell=bash
# tftp_lib.sh - helpers of the TFTP server's tests with real clients
# (sourced): a temporary directory, cleanups run on exit in reverse order,
# and the harness (tftp_harness) started and stopped by PID. A harness
# that does not stop cleanly on SIGTERM, or whose log has a sanitizer
# report, fails the test.
set -euo pipefail

: "${TFTP_HARNESS:?TFTP_HARNESS must name the tftp_harness binary}"

T=$(mktemp -d /tmp/aurorafs-tftp.XXXXXX)
CLEANUPS=()
run_cleanups() {
	local rc=$? i
	for ((i = ${#CLEANUPS[@]} - 1; i >= 0; i--)); do eval "${CLEANUPS[i]}" || rc=1; done
	if grep -l -E "Sanitizer|runtime error:" "$T"/harness-*.log 2>/dev/null; then
		grep -h -A 30 -E "Sanitizer|runtime error:" "$T"/harness-*.log >&2
		rc=1
	fi
	rm -rf "$T"
	exit $rc
}
trap run_cleanups EXIT
at_exit() { CLEANUPS+=("$*"); }

log() { printf '[%s] %s\n' "$(date +%T.%N | cut -c1-12)" "$*" >&2; }
fail() {
	log "FAIL: $*"
	for f in "$T"/harness-*.log; do
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

# stop_harness NAME: SIGTERM, then its exit status must be 0
stop_harness() {
	local pid_var="${1}_PID" rc=0
	local pid=${!pid_var}
	kill -TERM "$pid" 2>/dev/null || true
	wait "$pid" || rc=$?
	[ "$rc" = 0 ] || { log "harness $1 exited with $rc"; tail -n 20 "$T/harness-$1.log" >&2; return 1; }
}

# start_harness NAME DIR [HARNESS OPTIONS...]: sets NAME_PID and NAME_PORT.
# $NETNS_EXEC (e.g. "ip netns exec ns1") runs it elsewhere.
start_harness() {
	local name=$1 dir=$2
	shift 2
	# shellcheck disable=SC2086
	$NETNS_EXEC "$TFTP_HARNESS" "$dir" --port-file "$T/$name.port" "$@" \
		2>"$T/harness-$name.log" &
	printf -v "${name}_PID" %s $!
	at_exit stop_harness "$name"
	wait_for 10 test -s "$T/$name.port" || fail "harness $name did not start"
	printf -v "${name}_PORT" %s "$(cat "$T/$name.port")"
}
NETNS_EXEC=${NETNS_EXEC:-}

# random_file PATH BYTES
random_file() { head -c "$2" /dev/urandom >"$1"; }

# now: seconds since the epoch, with nanoseconds
now() { date +%s.%N; }
