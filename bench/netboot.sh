#!/usr/bin/env bash
# netboot.sh - a release ISO served over the network by aurorafs's own
# servers, against the same bytes served by standard tools, measured in the
# same run:
#
#   1. first read: GET /iso/<name>.iso from aurorafs's artifact server
#      (listen_addr) on a mount with an empty state_dir, against curl
#      downloading the ISO from its release server: time to first byte and
#      total time (curl -o /dev/null on both sides)
#   2. serving the cached ISO: aurorafs's artifact server (the real daemon),
#      against nginx serving the same bytes from a plain file and from the
#      FUSE mount, with 1 client (REQS_1 GETs on one kept-alive connection)
#      and CONNS clients at once (one GET each), through bench/http_load
#   3. from the start to the first guest booted, nothing cached: a BIOS
#      QEMU guest (TCG) PXE boots the demo OS through its NIC's iPXE ROM
#      from a mount with an empty state_dir (aurorafs's ProxyDHCP and
#      netboot HTTP server), against AuroraBoot's way with standard tools:
#      curl downloads the whole ISO, xorriso -osirrox extracts /boot/kernel,
#      /boot/initrd and /rootfs.squashfs, the iPXE script and cloud-config
#      are written, and nginx + tftpd-hpa + dnsmasq (proxy) serve them. The
#      time runs from the mount (the download) to the guest's "done" report
#      on its serial port; also printed: how much of the ISO aurorafs had
#      fetched at that moment (the chunks its cache map records).
#
# The release is the demo OS's (tools/demo-os, built if missing) with
# PAD_MIB of random bytes added to its ISO by xorriso: as a file of its own
# (PAD_IN=iso, which netboot never reads), or inside rootfs.squashfs
# (PAD_IN=rootfs, like a real Kairos ISO whose bulk is the squashfs that
# netboot needs whole). It is published as a GitHub-style release and served
# by RELEASE_HTTPD (nginx, or python: the tests' tests/fs/httpd.py) from a
# network namespace of its own, over a veth link to the server namespace
# whose rate RATE limits (tc tbf, e.g. RATE=100mbit; unset: no limit), the
# same link for both sides. Everything runs in network namespaces this
# script makes (no traffic leaves them); the FUSE mounts are in the host's
# mount namespace. Parts 1 and 2 give the best of RUNS, part 3 of
# BOOT_RUNS. Ratios of times are aurorafs's over the baseline's (below 1:
# aurorafs is faster); ratios of throughput, aurorafs's over nginx's (above
# 1: aurorafs is faster).
#
# Usage: bench/netboot.sh   (needs root, nginx, tftpd-hpa, dnsmasq,
#   xorriso, qemu-system-x86_64, ipxe, and a build: ninja -C build)
#   RUNS=3 BOOT_RUNS=2 PAD_MIB=200 PAD_IN=iso RELEASE_HTTPD=nginx RATE=
#   REQS_1=4 CONNS=50 BOOT_TIMEOUT=600 PARTS="1 2 3" STATE_ROOT=<tmp>
#   LOGS=<dir to keep the logs in>
# STATE_ROOT is where the state_dirs and the downloads go (a temporary
# directory under it). Part 3 alternates which side boots first.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-$ROOT/build}
LOAD=$BUILD/bench/http_load
RUNS=${RUNS:-3}
BOOT_RUNS=${BOOT_RUNS:-2}
PAD_MIB=${PAD_MIB:-200}
PAD_IN=${PAD_IN:-iso}
RELEASE_HTTPD=${RELEASE_HTTPD:-nginx}
RATE=${RATE:-}
REQS_1=${REQS_1:-4}
CONNS=${CONNS:-50}
BOOT_TIMEOUT=${BOOT_TIMEOUT:-600}
PARTS=${PARTS:-1 2 3}
export AURORAFS=${AURORAFS:-$BUILD/fs/aurorafs} SOURCE_ROOT=$ROOT
[ "$(id -u)" = 0 ] || { echo "needs root (network namespaces, FUSE, port 67)"; exit 1; }
if [ ! -x "$AURORAFS" ] || [ ! -x "$LOAD" ]; then
	echo "build first: ninja -C $BUILD"
	exit 1
fi
for t in nginx in.tftpd dnsmasq xorriso curl ip tc nsenter "${QEMU:-qemu-system-x86_64}"; do
	command -v "$t" >/dev/null || { echo "needs $t"; exit 1; }
done
[ -f /usr/lib/ipxe/undionly.kpxe ] || { echo "needs ipxe (/usr/lib/ipxe)"; exit 1; }
case $PAD_IN in iso) ;; rootfs) command -v mksquashfs >/dev/null || { echo "needs mksquashfs"; exit 1; } ;;
*) echo "PAD_IN is iso or rootfs"; exit 1 ;; esac
case $RELEASE_HTTPD in nginx | python) ;; *) echo "RELEASE_HTTPD is nginx or python"; exit 1 ;; esac

# T, at_exit, wait_for, kill_group, ensure_demo, release_args
# shellcheck source=tests/fs/lib.sh disable=SC1091
. "$ROOT/tests/fs/lib.sh"
ensure_demo
NAME=$DEMO_ARTIFACT
# LOGS=DIR keeps the logs (serial ports, servers, daemons) there
keep_logs() {
	mkdir -p "$LOGS"
	(cd "$T" && find . -maxdepth 3 \( -name '*.log' -o -name '*.txt' -o -name '*.serial' -o -name '*.out' \) \
		-exec cp --parents {} "$LOGS" \;)
}
[ -z "${LOGS:-}" ] || at_exit keep_logs
MAC=52:54:00:be:00:01

S=$(mktemp -d "${STATE_ROOT:-$T}/aurorafs-bench-netboot.XXXXXX")
at_exit "rm -rf '$S'"

# -- processes and mounts: stopped by PID on exit -------------------------------
LIVE=()
started() { LIVE+=("$1"); }
stop() { # PID: its process group
	local p keep=()
	kill_group "$1"
	for p in "${LIVE[@]}"; do [ "$p" = "$1" ] || keep+=("$p"); done
	LIVE=("${keep[@]}")
}
stop_all() { local p; for p in "${LIVE[@]}"; do kill_group "$p"; done; }
MOUNTS=()
umount_all() { local m; for m in "${MOUNTS[@]}"; do unmount_afs "$m"; done; }

# -- the network: LAN (bridge, the guests' tap), DHCP (leases), SRV (the
# servers under test), REL (the release server, over a veth to SRV) -----------
N=$(($$ % 200 + 20))
NET=10.78.$N RNET=10.79.$N
LAN=afsb-lan-$$ DHCP=afsb-dhcp-$$ SRV=afsb-srv-$$ REL=afsb-rel-$$
SRV_IP=$NET.2 REL_IP=$RNET.1
made_ns=()
del_ns() { local n; for n in "${made_ns[@]}"; do ip netns del "$n" 2>/dev/null; done; }
at_exit del_ns
at_exit umount_all
at_exit stop_all
for n in "$LAN" "$DHCP" "$SRV" "$REL"; do
	ip netns add "$n"
	made_ns+=("$n")
	ip -n "$n" link set lo up
done
# in_ns NS COMMAND...: in the namespace's network only (nsenter keeps the
# host's mount namespace, so servers there see FUSE mounts made here)
in_ns() { local ns=$1; shift; nsenter --net="/run/netns/$ns" "$@"; }
ip -n "$LAN" link add br0 type bridge forward_delay 0 stp_state 0
ip -n "$LAN" link set br0 up
ip -n "$LAN" tuntap add dev tap0 mode tap
ip -n "$LAN" link set tap0 master br0
ip -n "$LAN" link set tap0 up
i=0
for n in "$DHCP" "$SRV"; do
	i=$((i + 1))
	ip -n "$LAN" link add "v$i" type veth peer name eth0 netns "$n"
	ip -n "$LAN" link set "v$i" master br0
	ip -n "$LAN" link set "v$i" up
	ip -n "$n" addr add "$NET.$i/24" dev eth0
	ip -n "$n" link set eth0 up
done
ip -n "$SRV" link add rel0 type veth peer name eth0 netns "$REL"
ip -n "$SRV" addr add "$RNET.2/24" dev rel0
ip -n "$SRV" link set rel0 up
ip -n "$REL" addr add "$REL_IP/24" dev eth0
ip -n "$REL" link set eth0 up
# what the release server sends to SRV goes through this queue
[ -z "$RATE" ] || in_ns "$REL" tc qdisc add dev eth0 root tbf rate "$RATE" burst 256kb latency 500ms
listening() { in_ns "$1" ss -Hl"$2"n "sport = :$3" | grep -q .; } # NS t|u PORT

setsid ip netns exec "$DHCP" dnsmasq --keep-in-foreground --conf-file=/dev/null --port=0 \
	--user=root --group=root --pid-file= --interface=eth0 --bind-interfaces \
	--dhcp-range="$NET.100,$NET.150,255.255.255.0,1h" --dhcp-leasefile="$T/leases" \
	--dhcp-option=3 --dhcp-option=6 --log-dhcp --log-facility="$T/dnsmasq-dhcp.log" \
	</dev/null >/dev/null 2>&1 &
started $!

# -- the release ------------------------------------------------------------------
log "making the release: the demo ISO plus $PAD_MIB MiB (PAD_IN=$PAD_IN)"
REL_DIR=$T/rel/$DEMO_RELEASE_PATH
mkdir -p "$REL_DIR" "$T/pad"
head -c "$((PAD_MIB << 20))" /dev/urandom >"$T/pad/pad.bin"
if [ "$PAD_IN" = iso ]; then
	MAP=(-map "$T/pad/pad.bin" /pad.bin)
else
	mksquashfs "$DEMO_ROOTFS" "$T/rootfs.squashfs" -noappend -quiet -no-progress >/dev/null
	mksquashfs "$T/pad" "$T/rootfs.squashfs" -quiet -no-progress >/dev/null # appended
	MAP=(-map "$T/rootfs.squashfs" /rootfs.squashfs)
fi
xorriso -indev "$DEMO_RELEASE_DIR/$DEMO_ASSET_ISO" -outdev "$REL_DIR/$NAME.iso" \
	"${MAP[@]}" -boot_image any replay >"$T/xorriso.log" 2>&1 ||
	fail "xorriso: $(tail -n 5 "$T/xorriso.log")"
rm -rf "$T/pad" "$T/rootfs.squashfs"
(cd "$REL_DIR" && sha256sum "$NAME.iso" >"$NAME.iso.sha256")
ISO=$REL_DIR/$NAME.iso
ISO_SIZE=$(stat -c %s "$ISO")
ISO_MIB=$(awk -v s="$ISO_SIZE" 'BEGIN { printf "%.1f", s / 1048576 }')
cat "$ISO" >/dev/null # both sides read it from the page cache

if [ "$RELEASE_HTTPD" = nginx ]; then
	mkdir -p "$T/relsrv"
	cat >"$T/relsrv/nginx.conf" <<EOF
daemon off;
user root;
worker_processes 2;
error_log $T/relsrv/error.log;
pid $T/relsrv/nginx.pid;
events { worker_connections 1024; }
http {
	log_format bytes '\$request_uri \$status \$body_bytes_sent';
	access_log $T/relsrv/access.log bytes;
	sendfile on;
	server { listen $REL_IP:8000; root $T/rel; }
}
EOF
	setsid nsenter --net="/run/netns/$REL" nginx -c "$T/relsrv/nginx.conf" -p "$T/relsrv" \
		</dev/null >"$T/relsrv.out" 2>&1 &
	started $!
else
	# the tests' server binds 127.0.0.1: bind it to the link's address
	setsid nsenter --net="/run/netns/$REL" python3 - "$ROOT/tests/fs/httpd.py" "$T/rel" "$REL_IP" \
		>"$T/relsrv.out" 2>&1 <<'PY' &
import http.server, importlib.util, sys
path, root, addr = sys.argv[1:4]
base = http.server.ThreadingHTTPServer
class Bound(base):
    def __init__(self, a, h):
        super().__init__((addr, a[1]), h)
http.server.ThreadingHTTPServer = Bound
spec = importlib.util.spec_from_file_location("httpd", path)
mod = importlib.util.module_from_spec(spec)
spec.loader.exec_module(mod)
sys.argv = ["httpd.py", root, "--port", "8000"]
mod.main()
PY
	started $!
fi
REL_URL=http://$REL_IP:8000
ORIGIN=$REL_URL/$DEMO_RELEASE_PATH/$NAME.iso
wait_for 20 in_ns "$SRV" curl -sf -o /dev/null "$ORIGIN.sha256" ||
	fail "the release server did not start: $(cat "$T/relsrv.out")"
read -ra REL_ARGS <<<"$(release_args "$REL_URL")"

# -- helpers ----------------------------------------------------------------------
now() { echo "$EPOCHREALTIME"; }
sub() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", a - b }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
mibs() { awk -v s="$ISO_SIZE" -v t="$1" 'BEGIN { printf "%.0f", s / 1048576 / t }'; }
least() { sort -g | head -n1; }
most() { sort -g | tail -n1; }

# start_afs STATE MNT ARGS...: aurorafs -f in SRV, on an empty or given
# state_dir; sets AFS_PID and AFS_LOG
AFS_N=0
start_afs() {
	local state=$1 mnt=$2
	shift 2
	AFS_N=$((AFS_N + 1))
	AFS_LOG=$T/aurorafs-$AFS_N.log
	mkdir -p "$state" "$mnt"
	setsid nsenter --net="/run/netns/$SRV" "$AURORAFS_SERVING" -f "${REL_ARGS[@]}" \
		--set state_dir="$state" "$@" "$mnt" </dev/null >"$AFS_LOG" 2>&1 &
	AFS_PID=$!
	started "$AFS_PID"
	MOUNTS+=("$mnt")
	wait_for 30 is_mounted "$mnt" || fail "aurorafs did not mount: $(tail -n 5 "$AFS_LOG")"
}
stop_afs() { # MNT
	unmount_afs "$1" "$AFS_PID"
	stop "$AFS_PID"
}
# fetched STATE: "<MiB of complete chunks> <MiB allocated>" of the ISO's
# cache (its map has a byte per chunk, set once the chunk is durable)
fetched() {
	local meta dir shift chunks
	meta=$(grep -l "^url .*/$NAME\.iso\$" "$1"/blobs/*/meta 2>/dev/null | head -n1) || true
	[ -n "$meta" ] || { echo "0 0"; return; }
	dir=$(dirname "$meta")
	shift=$(awk '$1 == "chunk_shift" { print $2 }' "$meta")
	chunks=$(tr -d '\000' <"$dir/map" | wc -c)
	echo "$(awk -v c="$chunks" -v s="$shift" -v n="$ISO_SIZE" \
		'BEGIN { b = c * 2 ^ s; if (b > n) b = n; printf "%.1f", b / 1048576 }')" \
		"$(du -B1 "$dir/data" | awk '{ printf "%.1f", $1 / 1048576 }')"
}

printf '\nrelease: %s.iso, %s MiB (demo ISO + %d MiB in the %s), served by %s over a veth link, rate %s\n' \
	"$NAME" "$ISO_MIB" "$PAD_MIB" "$PAD_IN" "$RELEASE_HTTPD" "${RATE:-unlimited}"

# -- 1. first read over HTTP ------------------------------------------------------------
part1() {
	local i o a s curl_ttfb=() curl_t=() file_t=() afs_ttfb=() afs_t=() out
	local fmt='%{time_starttransfer} %{time_total} %{size_download}\n'
	for i in $(seq "$RUNS"); do
		out=$(in_ns "$SRV" curl -sSf -o /dev/null -w "$fmt" "$ORIGIN")
		read -r o a s <<<"$out"
		[ "$s" = "$ISO_SIZE" ] || fail "origin: $s bytes, not $ISO_SIZE"
		curl_ttfb+=("$o") curl_t+=("$a")
		out=$(in_ns "$SRV" curl -sSf -o "$S/dl.iso" -w "$fmt" "$ORIGIN")
		read -r o a s <<<"$out"
		rm -f "$S/dl.iso"
		file_t+=("$o $a")
		rm -rf "$S/state1"
		start_afs "$S/state1" "$T/mnt" --set disable_netboot=true --set listen_addr=127.0.0.1:8080
		wait_for 30 listening "$SRV" t 8080 || fail "no artifact server: $(tail -n 5 "$AFS_LOG")"
		out=$(in_ns "$SRV" curl -sSf -o /dev/null -w "$fmt" "http://127.0.0.1:8080/iso/$NAME.iso")
		read -r o a s <<<"$out"
		[ "$s" = "$ISO_SIZE" ] || fail "aurorafs: $s bytes, not $ISO_SIZE"
		afs_ttfb+=("$o") afs_t+=("$a")
		stop_afs "$T/mnt"
	done
	local ct cf at af ft ff
	read -r ft ff <<<"$(printf '%s\n' "${file_t[@]}" | sort -g -k2 | head -n1)"
	ct=$(printf '%s\n' "${curl_ttfb[@]}" | least)
	cf=$(printf '%s\n' "${curl_t[@]}" | least)
	at=$(printf '%s\n' "${afs_ttfb[@]}" | least)
	af=$(printf '%s\n' "${afs_t[@]}" | least)
	printf '\n1. first read of the ISO over HTTP, nothing cached (best of %d)\n' "$RUNS"
	printf '%-38s %10s %10s %8s\n' "" "TTFB s" "total s" "MiB/s"
	printf '%-38s %10.4f %10.3f %8s\n' "curl of the release (origin)" "$ct" "$cf" "$(mibs "$cf")"
	printf '%-38s %10.4f %10.3f %8s\n' "curl of aurorafs /iso (empty cache)" "$at" "$af" "$(mibs "$af")"
	printf '%-38s %10.4f %10.3f %8s\n' "(curl -o a file in STATE_ROOT)" "$ft" "$ff" "$(mibs "$ff")"
	printf '%-38s %10s %10s\n' "ratio aurorafs/origin" "$(ratio "$at" "$ct")" "$(ratio "$af" "$cf")"
}

# -- 2. the cached ISO served: aurorafs against nginx -------------------------------------
part2() {
	local url=/iso/$NAME.iso
	if [ ! -d "$S/state1/blobs" ]; then
		start_afs "$S/state1" "$T/mnt" --set disable_netboot=true --set listen_addr=127.0.0.1:8080
		wait_for 30 listening "$SRV" t 8080 || fail "no artifact server"
		in_ns "$SRV" curl -sSf -o /dev/null "http://127.0.0.1:8080$url"
		stop_afs "$T/mnt"
	fi
	start_afs "$S/state1" "$T/mnt" --set disable_netboot=true --set listen_addr=127.0.0.1:8080
	wait_for 30 listening "$SRV" t 8080 || fail "no artifact server: $(tail -n 5 "$AFS_LOG")"
	mkdir -p "$T/plain/iso" "$T/ngx"
	ln "$ISO" "$T/plain/iso/$NAME.iso"
	cat >"$T/ngx/nginx.conf" <<EOF
daemon off;
user root;
worker_processes 2;
error_log $T/ngx/error.log;
pid $T/ngx/nginx.pid;
events { worker_connections 1024; }
http {
	access_log off;
	sendfile on;
	tcp_nopush on;
	keepalive_requests 100000;
	server { listen 127.0.0.1:8081; root $T/plain; }
	server { listen 127.0.0.1:8082; root $T/mnt; }
}
EOF
	setsid nsenter --net="/run/netns/$SRV" nginx -c "$T/ngx/nginx.conf" -p "$T/ngx" </dev/null >"$T/ngx.out" 2>&1 &
	local ngx=$!
	started "$ngx"
	wait_for 20 listening "$SRV" t 8082 || fail "nginx did not start: $(cat "$T/ngx.out")"
	local port
	for port in 8080 8081 8082; do # the same bytes from each, and warm caches
		in_ns "$SRV" curl -sSf "http://127.0.0.1:$port$url" | cmp - "$ISO" ||
			fail "port $port does not serve the ISO"
	done
	mbs() { in_ns "$SRV" "$LOAD" 127.0.0.1 "$1" "$url" "$2" "$3" | awk '{ print $6 }'; }
	printf '\n2. the cached ISO over loopback HTTP, MB/s (best of %d; 1 client: %d GETs kept alive; %d clients: 1 GET each)\n' \
		"$RUNS" "$REQS_1" "$CONNS"
	printf '%-8s %12s %14s %12s %14s %16s\n' clients "nginx file" "nginx on mount" aurorafs \
		"aurora/file" "aurora/on mount"
	local conns reqs r a=() f=() m=() ab fb mb
	for conns in 1 "$CONNS"; do
		reqs=$([ "$conns" = 1 ] && echo "$REQS_1" || echo 1)
		a=() f=() m=()
		for r in $(seq "$RUNS"); do
			f+=("$(mbs 8081 "$conns" "$reqs")")
			m+=("$(mbs 8082 "$conns" "$reqs")")
			a+=("$(mbs 8080 "$conns" "$reqs")")
		done
		ab=$(printf '%s\n' "${a[@]}" | most)
		fb=$(printf '%s\n' "${f[@]}" | most)
		mb=$(printf '%s\n' "${m[@]}" | most)
		printf '%-8s %12.0f %14.0f %12.0f %14s %16s\n' "$conns" "$fb" "$mb" "$ab" \
			"$(ratio "$ab" "$fb")" "$(ratio "$ab" "$mb")"
	done
	stop "$ngx"
	stop_afs "$T/mnt"
}

# -- 3. from the start to the first guest booted ------------------------------------------
printf '#!/bin/sh\nexec nsenter --net=/run/netns/%s %s "$@"\n' "$LAN" "${QEMU:-qemu-system-x86_64}" >"$T/qemu"
chmod +x "$T/qemu"
printf '#cloud-config\nhostname: netboot-bench\n' >"$T/cc.yaml"
CC_SHA=$(sha256sum <"$T/cc.yaml" | cut -d' ' -f1)
# guest OUT [STATE]: boot the BIOS guest until its report; sets T_DONE (the
# time the serial port said "done"), GUEST_T (QEMU start to report) and
# FETCHED (what STATE's cache held then)
guest() {
	local out=$1 pid t i
	rm -f "$out.serial"
	t=$(now)
	QEMU=$T/qemu BOOT_TIMEOUT=$BOOT_TIMEOUT \
		QEMU_EXTRA="-netdev tap,id=n0,ifname=tap0,script=no,downscript=no -device virtio-net-pci,netdev=n0,mac=$MAC,bootindex=0" \
		setsid "$ROOT/tools/demo-os/boot.sh" none bios disk "$out.serial" >"$out.txt" 2>&1 &
	pid=$!
	started "$pid"
	for ((i = 0; i < BOOT_TIMEOUT * 20; i++)); do
		grep -aq 'AURORAFS-DEMO: done' "$out.serial" 2>/dev/null && break
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.05
	done
	T_DONE=$(now)
	GUEST_T=$(sub "$T_DONE" "$t")
	FETCHED=$([ -z "${2:-}" ] || fetched "$2")
	wait "$pid" || true
	stop "$pid"
	grep -q "^AURORAFS-DEMO: rootfs=ok source=http://$SRV_IP:8090/netboot/rootfs.squashfs\$" "$out.txt" ||
		fail "guest: no verified rootfs over HTTP: $(tail -n 5 "$out.txt")"
	grep -q "^AURORAFS-DEMO: config source=http://$SRV_IP:8090/netboot/.*config.yaml bytes=.* sha256=$CC_SHA\$" "$out.txt" ||
		fail "guest: not our cloud-config: $(grep config "$out.txt" | head -n1)"
}

boot_aurorafs() { # RUN: sets A_READY A_TOTAL A_GUEST A_FETCHED
	local s=$S/state3-$1 t0
	rm -rf "$s"
	t0=$(now)
	start_afs "$s" "$T/mnt3" --cloud-config "$T/cc.yaml" --set netboot_http_port=8090 \
		--set disable_http_server=true
	{ wait_for 30 listening "$SRV" u 67 && wait_for 30 listening "$SRV" t 8090; } ||
		fail "aurorafs servers did not start: $(tail -n 5 "$AFS_LOG")"
	A_READY=$(sub "$(now)" "$t0")
	guest "$T/boot-afs-$1" "$s"
	A_FETCHED=$FETCHED
	A_TOTAL=$(sub "$T_DONE" "$t0") A_GUEST=$GUEST_T
	stop_afs "$T/mnt3"
	rm -rf "$s"
}

boot_tools() { # RUN: sets B_DL B_X B_READY B_TOTAL B_GUEST
	local d=$T/ab-$1 t0 t1 t2 w c pids=() p dl=$S/dl-$1
	rm -rf "$d"
	w=$d/www/netboot c=$d/conf
	mkdir -p "$w" "$c"
	t0=$(now)
	in_ns "$SRV" curl -sSf -o "$dl/$NAME.iso" --create-dirs "$ORIGIN"
	t1=$(now)
	xorriso -osirrox on -indev "$dl/$NAME.iso" -extract /boot/kernel "$w/kernel" \
		-extract /boot/initrd "$w/initrd" -extract /rootfs.squashfs "$w/rootfs.squashfs" \
		>"$d/xorriso.log" 2>&1 || fail "xorriso -osirrox: $(tail -n 3 "$d/xorriso.log")"
	t2=$(now)
	cp "$T/cc.yaml" "$w/config.yaml"
	cp /usr/lib/ipxe/undionly.kpxe /usr/lib/ipxe/ipxe.efi /usr/lib/ipxe/snponly.efi "$w/"
	local base=http://$SRV_IP:8090/netboot
	cat >"$w/ipxe" <<EOF
#!ipxe
kernel $base/kernel initrd=initrd rd.live.overlay.overlayfs rd.neednet=1 ip=dhcp rd.cos.disable root=live:$base/rootfs.squashfs netboot nodepair.enable config_url=$base/config.yaml console=tty1 console=ttyS0 console=tty0
initrd --name initrd $base/initrd
boot
EOF
	cat >"$c/nginx.conf" <<EOF
daemon off;
user root;
worker_processes 1;
pid $c/nginx.pid;
error_log $c/nginx-error.log;
events { worker_connections 64; }
http {
	access_log $c/nginx-access.log;
	sendfile on;
	default_type application/octet-stream;
	server { listen $SRV_IP:8090; root $d/www; autoindex on; }
}
EOF
	setsid nsenter --net="/run/netns/$SRV" nginx -c "$c/nginx.conf" </dev/null >"$c/nginx.out" 2>&1 &
	pids+=($!)
	setsid nsenter --net="/run/netns/$SRV" in.tftpd --foreground --user root --address "$SRV_IP:69" \
		--secure "$d/www" </dev/null >"$c/tftpd.out" 2>&1 &
	pids+=($!)
	cat >"$c/dnsmasq.conf" <<EOF
port=0
user=root
group=root
pid-file=
interface=eth0
bind-interfaces
log-dhcp
log-facility=$c/dnsmasq-proxy.log
dhcp-range=$NET.0,proxy,255.255.255.0
dhcp-userclass=set:ipxe,iPXE
pxe-prompt="bench",0
pxe-service=tag:!ipxe,x86PC,"iPXE (BIOS)",netboot/undionly.kpxe,$SRV_IP
pxe-service=tag:!ipxe,x86-64_EFI,"iPXE (UEFI)",netboot/ipxe.efi,$SRV_IP
pxe-service=tag:!ipxe,BC_EFI,"iPXE (UEFI)",netboot/ipxe.efi,$SRV_IP
pxe-service=tag:ipxe,x86PC,"netboot",$base/ipxe
pxe-service=tag:ipxe,x86-64_EFI,"netboot",$base/ipxe
pxe-service=tag:ipxe,BC_EFI,"netboot",$base/ipxe
EOF
	setsid nsenter --net="/run/netns/$SRV" dnsmasq --keep-in-foreground --conf-file="$c/dnsmasq.conf" \
		</dev/null >"$c/dnsmasq.out" 2>&1 &
	pids+=($!)
	for p in "${pids[@]}"; do started "$p"; done
	{ wait_for 30 listening "$SRV" u 67 && wait_for 30 listening "$SRV" t 8090 &&
		wait_for 30 listening "$SRV" u 69; } ||
		fail "the peers did not start: $(cat "$c"/*.out "$c/nginx-error.log" 2>/dev/null)"
	B_READY=$(sub "$(now)" "$t0") B_DL=$(sub "$t1" "$t0") B_X=$(sub "$t2" "$t1")
	guest "$d/boot"
	B_TOTAL=$(sub "$T_DONE" "$t0") B_GUEST=$GUEST_T
	for p in "${pids[@]}"; do stop "$p"; done
	rm -rf "$dl" "${d:?}/www"
}

part3() {
	local r a=() b=() line
	local -a rows_a=() rows_b=()
	local side
	for r in $(seq "$BOOT_RUNS"); do
		for side in $([ $((r % 2)) = 1 ] && echo "afs tools" || echo "tools afs"); do
			if [ "$side" = afs ]; then
				log "part 3, run $r: aurorafs"
				boot_aurorafs "$r"
				a+=("$A_TOTAL")
				rows_a+=("$A_TOTAL $A_READY $A_GUEST $A_FETCHED")
				log "  $A_TOTAL s (ISO MiB fetched, allocated: $A_FETCHED)"
			else
				log "part 3, run $r: download, extract, nginx + tftpd-hpa + dnsmasq"
				boot_tools "$r"
				b+=("$B_TOTAL")
				rows_b+=("$B_TOTAL $B_READY $B_GUEST $B_DL $B_X")
				log "  $B_TOTAL s"
			fi
		done
	done
	printf '\n3. from the start to the first PXE-booted guest (BIOS, QEMU TCG), nothing cached (best of %d)\n' "$BOOT_RUNS"
	local at bt
	at=$(printf '%s\n' "${a[@]}" | least)
	bt=$(printf '%s\n' "${b[@]}" | least)
	printf '%-40s %10s %10s %10s\n' "" "servers up" "guest s" "total s"
	for line in "${rows_b[@]}"; do
		read -r t rd g dl x <<<"$line"
		[ "$t" = "$bt" ] || continue
		printf '%-40s %10.1f %10.1f %10.1f   (download %.2f s, extract %.2f s)\n' \
			"curl + xorriso + nginx/tftpd/dnsmasq" "$rd" "$g" "$t" "$dl" "$x"
		break
	done
	for line in "${rows_a[@]}"; do
		read -r t rd g ch al <<<"$line"
		[ "$t" = "$at" ] || continue
		printf '%-40s %10.1f %10.1f %10.1f\n' "aurorafs (mount, its own servers)" "$rd" "$g" "$t"
		printf '%-40s %32s\n' "ratio aurorafs/standard tools" "$(ratio "$at" "$bt")"
		printf 'aurorafs had fetched %s MiB of the %s MiB ISO (%s%%; %s MiB allocated in its cache) when the guest reported\n' \
			"$ch" "$ISO_MIB" "$(awk -v c="$ch" -v s="$ISO_SIZE" 'BEGIN { printf "%.0f", c * 1048576 * 100 / s }')" "$al"
		break
	done
}

for p in $PARTS; do "part$p"; done
