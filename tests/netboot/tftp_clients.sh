#!/usr/bin/env bash
# tftp_clients.sh - the TFTP server (tftp_harness serving a directory) on
# loopback against the clients PXE setups meet: tftp-hpa's tftp (netascii,
# its default, and -m binary; it has no options, so always 512-byte
# blocks), atftp (blksize, windowsize, tsize) and curl (blksize). Files of
# 0 bytes, exactly 512, 512 * 65535 + 300 (block numbers roll over; a
# sparse file with random bytes around the rollover) and 32 MiB random must
# arrive byte-identical. Path escapes are refused. Ten clients at once, one
# of them silent after its first block: the nine others finish as fast as
# they do alone.
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/netboot/tftp_lib.sh
. "$HERE/tftp_lib.sh"

for tool in tftp atftp curl python3; do
	command -v "$tool" >/dev/null || { echo "SKIP: needs $tool"; exit 77; }
done

D=$T/root
mkdir -p "$D/netboot" "$T/out"
: >"$D/empty"
random_file "$D/exact512" 512
random_file "$D/netboot/kernel" 3000000
random_file "$D/rand32" $((32 << 20))
random_file "$D/rand4" $((4 << 20))
# 65537 blocks of 512 bytes: numbers ..., 65535, 0, 1; random bytes at the
# start, in the middle and over the last 16 blocks, zeros elsewhere
ROLL=$((512 * 65535 + 1000))
truncate -s "$ROLL" "$D/rollover"
for off in 0 $((16 << 20)) $((ROLL - 8192)); do
	head -c 8192 /dev/urandom | dd of="$D/rollover" bs=8192 seek="$off" \
		oflag=seek_bytes conv=notrunc status=none
done
[ "$(stat -c %s "$D/rollover")" = "$ROLL" ] || fail "rollover file has the wrong size"
printf 'line\nwith CR LF\r\nlone CR\rend' >"$D/text.txt"

start_harness srv "$D" --listen 127.0.0.1
# shellcheck disable=SC2154 # set by start_harness
P=$srv_PORT

# get CLIENT FILE OUT: one download; the client's output in OUT.log
get() {
	local client=$1 file=$2 out=$3
	rm -f "$out"
	case $client in
	hpa) tftp 127.0.0.1 "$P" -c get "$file" "$out" ;;
	hpa-bin) tftp 127.0.0.1 "$P" -m binary -c get "$file" "$out" ;;
	atftp) atftp --option "blksize 1428" --option "windowsize 16" \
		--option "tsize 0" -g -r "$file" -l "$out" 127.0.0.1 "$P" ;;
	atftp-64) atftp --option "blksize 1428" --option "windowsize 64" \
		-g -r "$file" -l "$out" 127.0.0.1 "$P" ;;
	atftp-plain) atftp -g -r "$file" -l "$out" 127.0.0.1 "$P" ;;
	atftp-512w) atftp --option "windowsize 16" -g -r "$file" -l "$out" \
		127.0.0.1 "$P" ;;
	curl) curl -sS --path-as-is "tftp://127.0.0.1:$P/$file" \
		--tftp-blksize 1428 -o "$out" ;;
	curl-512) curl -sS --path-as-is "tftp://127.0.0.1:$P/$file" -o "$out" ;;
	esac >"$out.log" 2>&1 || return 1
	# tftp-hpa's exit status says nothing; its output does
	! grep -q "Error code" "$out.log"
}

# fetch CLIENT FILE: download and compare with the original
fetch() {
	local out
	out=$T/out/$(basename "$2").$1
	get "$1" "$2" "$out" || { cat "$out.log" >&2; fail "$1 could not get $2"; }
	cmp "$D/$2" "$out" || fail "$1 got $2 wrong"
	rm -f "$out" "$out.log"
}

for c in hpa-bin atftp atftp-plain curl curl-512; do
	for f in empty exact512 netboot/kernel; do fetch "$c" "$f"; done
done
for c in hpa hpa-bin atftp curl; do fetch "$c" text.txt; done
fetch hpa netboot/kernel # netascii both ways on binary bytes
pass "0, 512 and 3 MB files, text, netascii, octet, with and without options"

# absolute names as well as relative ones
fetch hpa-bin /netboot/kernel
fetch curl /netboot//kernel
pass "absolute and relative names"

for c in hpa-bin atftp-plain atftp-512w curl-512; do fetch "$c" rollover; done
grep -q "Sent \"rollover\" to .* ($ROLL bytes" "$T/harness-srv.log" ||
	fail "no log line for the rollover file"
[ "$(grep -c "Sent \"rollover\" to .*blksize 512," "$T/harness-srv.log")" = 4 ] ||
	fail "the rollover file did not go in 512-byte blocks"
pass "a file of 65537 blocks (numbers rolled over) with tftp-hpa, atftp (lock-step, windows), curl"

for c in atftp atftp-64 curl hpa-bin; do fetch "$c" rand32; done
pass "32 MiB random with windows of 16 and 64, blksize 1428, and 512"

# escapes, directories, writes
for name in ../etc/passwd /../etc/passwd netboot/../../etc/passwd netboot \
	/etc/passwd; do
	for c in hpa-bin atftp curl; do
		if get "$c" "$name" "$T/out/escape"; then
			fail "$c got '$name'"
		fi
		[ ! -s "$T/out/escape" ] || fail "$c wrote bytes of '$name'"
	done
	grep -q "Refused \"$name\"" "$T/harness-srv.log" || fail "no refusal of '$name' logged"
done
tftp 127.0.0.1 "$P" -m binary -c put "$D/empty" new >"$T/put.log" 2>&1 || true
grep -q "Error code 2" "$T/put.log" || fail "a write was not refused: $(cat "$T/put.log")"
[ ! -e "$D/new" ] || fail "a write created a file"
pass "path escapes, a directory and a write are refused"

# Ten clients at once, one of them silent. The nine run alone first for a
# baseline; then again while the silent client holds a transfer (it got
# block 1 and never ACKs; the server retransmits to it for a minute).
nine() {
	local i pids=()
	for i in 0 1 2; do
		get atftp rand4 "$T/out/n-atftp-$i" & pids+=($!)
		get curl rand4 "$T/out/n-curl-$i" & pids+=($!)
		get hpa-bin rand4 "$T/out/n-hpa-$i" & pids+=($!)
	done
	for i in "${pids[@]}"; do wait "$i" || fail "one of the nine clients failed"; done
	for i in "$T"/out/n-*[0-9]; do cmp "$D/rand4" "$i" || fail "$i differs"; done
	rm -f "$T"/out/n-*
}
t0=$(now)
nine
base=$(echo "$(now) - $t0" | bc)

python3 - "$P" "$T/silent.ready" <<'EOF' &
import socket, sys, time
port, ready = int(sys.argv[1]), sys.argv[2]
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", 0))
s.sendto(b"\0\1rand32\0octet\0", ("127.0.0.1", port))
data, server = s.recvfrom(4096)
assert data[:4] == b"\0\3\0\1", data[:4]
open(ready, "w").write("%d\n" % server[1])
time.sleep(120)
EOF
SILENT_PID=$!
at_exit "kill $SILENT_PID 2>/dev/null; wait $SILENT_PID 2>/dev/null || true"
wait_for 10 test -s "$T/silent.ready" || fail "the silent client got no block"
t0=$(now)
nine
with=$(echo "$(now) - $t0" | bc)
log "nine clients: ${base}s alone, ${with}s beside a silent one"
# a stall would cost at least the silent client's timeout (1 s) each time
echo "$with < $base * 1.5 + 0.5" | bc | grep -q 1 ||
	fail "the silent client slowed the others down (${base}s -> ${with}s)"
kill -0 "$SILENT_PID" || fail "the silent client is gone"
grep -q "Failed to send \"rand32\"" "$T/harness-srv.log" &&
	fail "the silent client's transfer ended early"
pass "nine clients at full speed beside a silent one"
