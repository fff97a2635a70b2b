#!/usr/bin/env bash
# release-read.sh - how fast the release ISO reads through aurorafs.
#
#   1. first read: the ISO fetched over loopback HTTP through the mount,
#      against curl downloading the same URL into a file (the baseline:
#      what AuroraBoot's download does before anything can be read)
#   2. cached read: the ISO read through the mount once it is in state_dir,
#      against reading the cache's data file directly, with the page cache
#      dropped before each run (cold) and not (hot)
#
# Prints one line per measure with MiB/s and the ratio to its baseline.
# Usage: bench/release-read.sh [SIZE_MIB]   (default 1024; needs root;
# serves with nginx if installed: apt-get install nginx-light)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
AURORAFS=${AURORAFS:-$ROOT/build/fs/aurorafs}
# the mount alone: no network servers
OFF=(--set disable_netboot=true --set disable_http_server=true)
SIZE_MIB=${1:-1024}
RUNS=${RUNS:-3}
[ "$(id -u)" = 0 ] || { echo "needs root (drop_caches, FUSE)"; exit 1; }
[ -x "$AURORAFS" ] || { echo "build first: $AURORAFS"; exit 1; }

T=$(mktemp -d /tmp/aurorafs-bench.XXXXXX)
HTTPD_PID= AFS_PID=
cleanup() {
	mountpoint -q "$T/mnt" && fusermount3 -u "$T/mnt"
	[ -n "$AFS_PID" ] && wait "$AFS_PID" 2>/dev/null
	[ -n "$HTTPD_PID" ] && kill -- "-$HTTPD_PID" 2>/dev/null
	rm -rf "$T"
}
trap cleanup EXIT

DIR=$T/rel/acme/os/releases/download/v3.0.0
NAME=kairos-bench-1.0-core-amd64-generic-v3.0.0
mkdir -p "$DIR" "$T/mnt"
head -c "$((SIZE_MIB << 20))" /dev/urandom >"$DIR/$NAME.iso"
(cd "$DIR" && sha256sum "$NAME.iso" >"$NAME.iso.sha256")
# nginx (sendfile, several workers) when installed: the tests' Python
# server is a fine referee but too slow a baseline
if command -v nginx >/dev/null; then
	PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
	mkdir -p "$T/nginx"
	cat >"$T/nginx/nginx.conf" <<EOF
daemon off;
user root;
worker_processes 2;
error_log $T/nginx/error.log;
pid $T/nginx/nginx.pid;
events { worker_connections 256; }
http { access_log off; sendfile on; server { listen 127.0.0.1:$PORT; root $T/rel; } }
EOF
	setsid nginx -c "$T/nginx/nginx.conf" -p "$T/nginx" </dev/null >/dev/null 2>&1 &
	HTTPD_PID=$!
	SERVER=nginx
	for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$PORT/" && break; sleep 0.05; done
else
	setsid python3 "$ROOT/tests/fs/httpd.py" "$T/rel" --port-file "$T/port" </dev/null >/dev/null 2>&1 &
	HTTPD_PID=$!
	SERVER="the tests' Python server"
	for _ in $(seq 100); do [ -s "$T/port" ] && break; sleep 0.05; done
	PORT=$(cat "$T/port")
fi
URL=http://127.0.0.1:$PORT

drop() { sync; echo 3 >/proc/sys/vm/drop_caches; }
# seconds COMMAND...: wall time of one run
seconds() {
	local s e
	s=$(date +%s.%N)
	"$@" >/dev/null
	e=$(date +%s.%N)
	awk -v s="$s" -v e="$e" 'BEGIN { print e - s }'
}
best() { sort -g | head -n1; }
mibs() { awk -v n="$SIZE_MIB" -v t="$1" 'BEGIN { printf "%d", n / t }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }

mount_afs() {
	setsid "$AURORAFS" -f "${OFF[@]}" --set release_server="$URL" --set repository=acme/os \
		--set release_version=v3.0.0 --set artifact_version=v3.0.0 --set flavor=bench \
		--set flavor_release=1.0 --set state_dir="$1" "$T/mnt" 2>"$T/afs.log" &
	AFS_PID=$!
	for _ in $(seq 200); do mountpoint -q "$T/mnt" && return; sleep 0.05; done
	echo "mount failed: $(cat "$T/afs.log")"
	exit 1
}
umount_afs() {
	fusermount3 -u "$T/mnt"
	wait "$AFS_PID"
	AFS_PID=
}
ISO=$T/mnt/iso/$NAME.iso

# -- 1. first read over HTTP -------------------------------------------------
curl_t=() afs_t=()
for i in $(seq "$RUNS"); do
	rm -f "$T/curl.out"
	drop
	curl_t+=("$(seconds curl -sf -o "$T/curl.out" "$URL/acme/os/releases/download/v3.0.0/$NAME.iso")")
	rm -rf "$T/state-$i"
	mount_afs "$T/state-$i"
	drop
	afs_t+=("$(seconds dd if="$ISO" of=/dev/null bs=1M status=none)")
	umount_afs
done
c=$(printf '%s\n' "${curl_t[@]}" | best)
a=$(printf '%s\n' "${afs_t[@]}" | best)
printf 'first read, %d MiB over loopback HTTP from %s: curl -o file %s MiB/s, aurorafs %s MiB/s, ratio %s\n' \
	"$SIZE_MIB" "$SERVER" "$(mibs "$c")" "$(mibs "$a")" "$(ratio "$c" "$a")"

# -- 2. cached reads ----------------------------------------------------------
STATE=$T/state-1
DATA=$(echo "$STATE"/blobs/*/data)
kill -- "-$HTTPD_PID"
HTTPD_PID=
mount_afs "$STATE"
for mode in cold hot; do
	direct_t=() fuse_t=()
	[ $mode = hot ] && { cat "$DATA" >/dev/null; cat "$ISO" >/dev/null; }
	for i in $(seq "$RUNS"); do
		[ $mode = cold ] && drop
		direct_t+=("$(seconds dd if="$DATA" of=/dev/null bs=1M status=none)")
		[ $mode = cold ] && drop
		fuse_t+=("$(seconds dd if="$ISO" of=/dev/null bs=1M status=none)")
	done
	d=$(printf '%s\n' "${direct_t[@]}" | best)
	f=$(printf '%s\n' "${fuse_t[@]}" | best)
	printf 'cached read (%s page cache): cache file %s MiB/s, aurorafs %s MiB/s, ratio %s\n' \
		"$mode" "$(mibs "$d")" "$(mibs "$f")" "$(ratio "$d" "$f")"
done
umount_afs
