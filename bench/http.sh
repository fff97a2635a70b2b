#!/usr/bin/env bash
# http.sh - the HTTP server's throughput against nginx serving the same
# bytes, on loopback, measured in the same run:
#
#   plain file   a 256 MiB file of the tree (the sendfile path); nginx
#                serves the same file with sendfile
#   mixed file   256 MiB made of runs of memory (1 MiB), zeros and ranges of
#                the plain file (3:12), 16 times (the callback path); nginx
#                serves those bytes written out as a file
#
# each with 1 client (REQS_1 GETs on one kept-alive connection) and with
# 50 clients at once (one GET each), through bench/http_load. nginx runs
# from a temporary config (2 workers, sendfile, no access log), not as the
# system service; the server under test is tests/netboot/http_harness.
# Every figure is the best of RUNS; the page cache is warm for both.
#
# Usage: bench/http.sh   (RUNS=3 REQS_1=8 CONNS=50 SIZE_MIB=256)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-$ROOT/build}
HARNESS=$BUILD/tests/netboot/http_harness
LOAD=$BUILD/bench/http_load
RUNS=${RUNS:-3}
REQS_1=${REQS_1:-8}
CONNS=${CONNS:-50}
SIZE_MIB=${SIZE_MIB:-256}
command -v nginx >/dev/null || { echo "needs nginx (apt-get install nginx-light)"; exit 1; }
if [ ! -x "$HARNESS" ] || [ ! -x "$LOAD" ]; then
	echo "build first: ninja -C $BUILD"
	exit 1
fi
[ $((SIZE_MIB % 64)) = 0 ] || { echo "SIZE_MIB must be a multiple of 64"; exit 1; }

T=$(mktemp -d /tmp/aurorafs-bench-http.XXXXXX)
NGINX_PID='' HARNESS_PID=
cleanup() {
	[ -n "$NGINX_PID" ] && kill -- "-$NGINX_PID" 2>/dev/null
	[ -n "$HARNESS_PID" ] && kill "$HARNESS_PID" 2>/dev/null
	rm -rf "$T"
}
trap cleanup EXIT

# -- the bytes ---------------------------------------------------------------
mkdir -p "$T/root/netboot" "$T/nginx/root/netboot" "$T/parts"
head -c "$((SIZE_MIB << 20))" /dev/urandom >"$T/root/netboot/plain.bin"
head -c "$((1 << 20))" /dev/urandom >"$T/parts/mem"
# 16 rounds of: 1 MiB of memory, 3 MiB of zeros, 12 MiB of the plain file
step=$((SIZE_MIB / 16)) spec='' off=0
zero=$((step * 3 / 16)) file=$((step * 12 / 16))
for _ in $(seq 16); do
	spec+="mem:$T/parts/mem,zero:$((zero << 20)),"
	spec+="file:$T/root/netboot/plain.bin:$off:$((file << 20)),"
	{
		cat "$T/parts/mem"
		head -c "$((zero << 20))" /dev/zero
		dd if="$T/root/netboot/plain.bin" bs=1M iflag=skip_bytes,count_bytes \
			skip="$off" count="$((file << 20))" status=none
	} >>"$T/nginx/root/netboot/mixed.bin"
	off=$((off + (file << 20) + 12345)) # apart: no two ranges merge
done
spec=${spec%,}
ln "$T/root/netboot/plain.bin" "$T/nginx/root/netboot/plain.bin"

# -- the servers ---------------------------------------------------------------
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
NGINX_PORT=$(free_port)
cat >"$T/nginx/nginx.conf" <<EOF
daemon off;
user root;
worker_processes 2;
error_log $T/nginx/error.log;
pid $T/nginx/nginx.pid;
events { worker_connections 1024; }
http {
	access_log off;
	sendfile on;
	tcp_nopush on;
	keepalive_requests 100000;
	server { listen 127.0.0.1:$NGINX_PORT; root $T/nginx/root; }
}
EOF
setsid nginx -c "$T/nginx/nginx.conf" -p "$T/nginx" </dev/null >/dev/null 2>&1 &
NGINX_PID=$!
mkfifo "$T/harness.in"
"$HARNESS" --per-ip "$((CONNS + 10))" --mixed "/netboot/mixed.bin=$spec" "$T/root" \
	<"$T/harness.in" >"$T/harness.out" 2>"$T/harness.log" &
HARNESS_PID=$!
exec 3>"$T/harness.in" # the harness runs until this closes
for _ in $(seq 100); do
	grep -q '^port ' "$T/harness.out" 2>/dev/null &&
		curl -s -o /dev/null "http://127.0.0.1:$NGINX_PORT/netboot/plain.bin" && break
	sleep 0.1
done
HARNESS_PORT=$(awk '/^port /{print $2}' "$T/harness.out")
[ -n "$HARNESS_PORT" ] || { echo "harness did not start: $(cat "$T/harness.log")"; exit 1; }

# both serve the same bytes
for f in plain mixed; do
	curl -s "http://127.0.0.1:$HARNESS_PORT/netboot/$f.bin" | cmp - "$T/nginx/root/netboot/$f.bin"
done
cat "$T"/root/netboot/plain.bin "$T"/nginx/root/netboot/mixed.bin >/dev/null

# -- the runs --------------------------------------------------------------------
# mbs PORT PATH CONNS REQS: MB/s of one run
mbs() { "$LOAD" 127.0.0.1 "$1" "$2" "$3" "$4" | awk '{print $6}'; }
best() { sort -g | tail -n1; }
printf '%-6s %-8s %12s %12s %7s\n' file clients "nginx MB/s" "aurora MB/s" ratio
for f in plain mixed; do
	for conns in 1 "$CONNS"; do
		reqs=$([ "$conns" = 1 ] && echo "$REQS_1" || echo 1)
		n=() a=()
		for _ in $(seq "$RUNS"); do
			n+=("$(mbs "$NGINX_PORT" "/netboot/$f.bin" "$conns" "$reqs")")
			a+=("$(mbs "$HARNESS_PORT" "/netboot/$f.bin" "$conns" "$reqs")")
		done
		nb=$(printf '%s\n' "${n[@]}" | best)
		ab=$(printf '%s\n' "${a[@]}" | best)
		printf '%-6s %-8s %12.0f %12.0f %7.2f\n' "$f" "$conns" "$nb" "$ab" \
			"$(awk -v a="$ab" -v n="$nb" 'BEGIN { print a / n }')"
	done
done
exec 3>&-
wait "$HARNESS_PID"
HARNESS_PID=
