#!/usr/bin/env bash
# tftp.sh - how fast the TFTP server sends a 32 MiB file over loopback,
# against tftpd-hpa (in.tftpd, started here on an ephemeral port, no system
# service) serving the same file, with the same client and blksize:
#
#   1. lock-step at blksize 512 (tftp-hpa's client) and 1428 (atftp, curl),
#      both servers: the ratio is tftpd-hpa's time over ours (> 1: faster)
#   2. windowsize 16 and 64 (RFC 7440, atftp, blksize 1428) on our server,
#      against tftpd-hpa in lock-step at blksize 1428 (it has no
#      windowsize) - the gain windows bring
#
# Each figure is the best of RUNS runs (default 3); every download is
# compared with the file. Usage: bench/tftp.sh [SIZE_MIB] (default 32;
# needs tftpd-hpa, atftp, tftp-hpa and curl).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
HARNESS=${TFTP_HARNESS:-$ROOT/build/tests/netboot/tftp_harness}
SIZE_MIB=${1:-32}
RUNS=${RUNS:-3}
[ -x "$HARNESS" ] || { echo "build first: $HARNESS"; exit 1; }
for tool in in.tftpd atftp tftp curl; do
	command -v "$tool" >/dev/null || { echo "needs $tool"; exit 1; }
done

T=$(mktemp -d /tmp/aurorafs-bench-tftp.XXXXXX)
PIDS=()
cleanup() {
	local p
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
	rm -rf "$T"
}
trap cleanup EXIT

# tftpd-hpa drops to its own user: the files must be readable by anyone
chmod 755 "$T"
mkdir -p "$T/root" "$T/out"
chmod 755 "$T/root"
head -c "$((SIZE_MIB << 20))" /dev/urandom >"$T/root/file"
chmod 644 "$T/root/file"

free_port() {
	python3 -c 'import socket; s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

"$HARNESS" "$T/root" --listen 127.0.0.1 --port-file "$T/ours.port" 2>"$T/ours.log" &
PIDS+=($!)
HPA_PORT=$(free_port)
in.tftpd -L -s "$T/root" -a "127.0.0.1:$HPA_PORT" 2>"$T/hpa.log" &
PIDS+=($!)
for _ in $(seq 100); do [ -s "$T/ours.port" ] && break; sleep 0.05; done
OURS_PORT=$(cat "$T/ours.port")

# run CLIENT PORT: one download of the file; its time in seconds
run() {
	local client=$1 port=$2 out=$T/out/file t0 t1
	rm -f "$out"
	t0=$(date +%s.%N)
	case $client in
	hpa512) tftp 127.0.0.1 "$port" -m binary -c get file "$out" ;;
	atftp1428) atftp --option "blksize 1428" -g -r file -l "$out" 127.0.0.1 "$port" ;;
	curl1428) curl -sS "tftp://127.0.0.1:$port/file" --tftp-blksize 1428 -o "$out" ;;
	atftp1428w16) atftp --option "blksize 1428" --option "windowsize 16" \
		-g -r file -l "$out" 127.0.0.1 "$port" ;;
	atftp1428w64) atftp --option "blksize 1428" --option "windowsize 64" \
		-g -r file -l "$out" 127.0.0.1 "$port" ;;
	esac >"$T/client.log" 2>&1
	t1=$(date +%s.%N)
	cmp -s "$T/root/file" "$out" || { cat "$T/client.log" >&2; echo "$client from port $port: wrong bytes" >&2; exit 1; }
	echo "$t1 - $t0" | bc
}

# best CLIENT PORT: the best of RUNS runs
best() {
	local b='' t i
	for ((i = 0; i < RUNS; i++)); do
		t=$(run "$1" "$2")
		if [ -z "$b" ] || [ "$(echo "$t < $b" | bc)" = 1 ]; then b=$t; fi
	done
	echo "$b"
}

mibs() { echo "scale=1; $SIZE_MIB / $1" | bc; }

printf '%s MiB over loopback, best of %s runs\n' "$SIZE_MIB" "$RUNS"
printf '%-34s %9s %9s %7s\n' "client, blksize" "tftpd-hpa" "aurorafs" "ratio"
for c in hpa512 atftp1428 curl1428; do
	h=$(best "$c" "$HPA_PORT")
	o=$(best "$c" "$OURS_PORT")
	printf '%-34s %7.3f s %7.3f s %6.2fx   (%s vs %s MiB/s)\n' "$c lock-step" "$h" "$o" \
		"$(echo "scale=3; $h / $o" | bc)" "$(mibs "$h")" "$(mibs "$o")"
done
h=$(best atftp1428 "$HPA_PORT")
for c in atftp1428w16 atftp1428w64; do
	o=$(best "$c" "$OURS_PORT")
	printf '%-34s %7.3f s %7.3f s %6.2fx   (%s vs %s MiB/s)\n' "$c vs tftpd-hpa lock-step" "$h" "$o" \
		"$(echo "scale=3; $h / $o" | bc)" "$(mibs "$h")" "$(mibs "$o")"
done
