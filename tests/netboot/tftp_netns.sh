#!/usr/bin/env bash
# tftp_netns.sh - the TFTP server over a real link: two network namespaces
# made for this test (server and client) joined by a veth pair.
#   - blksize is clamped to the path MTU: 1468 on a 1500-byte link, 1248
#     on a 1280-byte one, whatever the client asks;
#   - with 5% of the packets dropped each way (netem, or iptables where
#     the kernel has no netem), transfers in
#     lock-step (tftp-hpa, curl) and in windows (atftp) still arrive
#     byte-identical.
# The server listens on the wildcard address, so its replies take their
# source address from the request (IP_PKTINFO). Needs root (exit 77).
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/netboot/tftp_lib.sh
. "$HERE/tftp_lib.sh"

[ "$(id -u)" = 0 ] || { echo "SKIP: needs root"; exit 77; }
for tool in ip tc tftp atftp curl; do
	command -v "$tool" >/dev/null || { echo "SKIP: needs $tool"; exit 77; }
done

NS_S=tftps$$
NS_C=tftpc$$
ip netns add "$NS_S" || { echo "SKIP: cannot make network namespaces"; exit 77; }
at_exit ip netns del "$NS_S"
ip netns add "$NS_C"
at_exit ip netns del "$NS_C"
ip link add "vts$$" netns "$NS_S" type veth peer name "vtc$$" netns "$NS_C"
ip -n "$NS_S" addr add 10.77.0.1/24 dev "vts$$"
ip -n "$NS_C" addr add 10.77.0.2/24 dev "vtc$$"
for ns in "$NS_S" "$NS_C"; do ip -n "$ns" link set lo up; done
ip -n "$NS_S" link set "vts$$" up
ip -n "$NS_C" link set "vtc$$" up
C="ip netns exec $NS_C"

D=$T/root
mkdir -p "$D" "$T/out"
random_file "$D/f512k" $((512 << 10))
random_file "$D/f1" $((1 << 20))
random_file "$D/f4" $((4 << 20))
# short retransmission timeouts, and curl's "timeout 6" not honoured, so
# that the losses cost little time
NETNS_EXEC="ip netns exec $NS_S" start_harness srv "$D" --timeout-ms 50 \
	--retries 10 --max-timeout-s 1
# shellcheck disable=SC2154 # set by start_harness
P=$srv_PORT

# mtu BYTES WANT: a client asking for the largest blksize gets WANT
mtu() {
	ip -n "$NS_S" link set "vts$$" mtu "$1"
	ip -n "$NS_C" link set "vtc$$" mtu "$1"
	rm -f "$T/out/mtu"
	$C atftp --option "blksize 65464" -g -r f1 -l "$T/out/mtu" 10.77.0.1 "$P" \
		>"$T/out/mtu.log" 2>&1 || { cat "$T/out/mtu.log" >&2; fail "atftp over MTU $1"; }
	cmp "$D/f1" "$T/out/mtu" || fail "f1 over MTU $1"
	wait_for 5 grep -q "blksize $2," "$T/harness-srv.log" ||
		fail "blksize not clamped to $2 on a link of MTU $1"
}
mtu 1500 1468
mtu 1280 1248
mtu 1500 1468
pass "blksize clamped to the path MTU (1500 -> 1468, 1280 -> 1248)"

# add_loss NS DEV: drop 5% of what leaves DEV with netem or, where the
# kernel has no netem (as in some VMs), 5% of what arrives on DEV with
# iptables' statistic match (on output, a drop is an EPERM for the sender,
# not a loss)
add_loss() {
	ip netns exec "$1" tc qdisc add dev "$2" root netem loss 5% 2>/dev/null ||
		ip netns exec "$1" iptables -A INPUT -i "$2" -m statistic \
			--mode random --probability 0.05 -j DROP ||
		fail "cannot make $2 lossy (neither netem nor iptables statistic)"
}
# dropped NS DEV: packets dropped so far
dropped() {
	if ip netns exec "$1" tc qdisc show dev "$2" | grep -q netem; then
		ip netns exec "$1" tc -s qdisc show dev "$2" |
			sed -n 's/.*dropped \([0-9]*\).*/\1/p' | head -n 1
	else
		ip netns exec "$1" iptables -L INPUT -v -n -x | awk '$3 == "DROP" {print $1}'
	fi
}
add_loss "$NS_S" "vts$$"
add_loss "$NS_C" "vtc$$"
# fetch NAME FILE CLIENT ARGS...: download through the lossy link, compare
fetch() {
	local name=$1 file=$2 out=$T/out/$1 t0
	shift 2
	t0=$(now)
	$C "$@" >"$out.log" 2>&1 || { cat "$out.log" >&2; fail "$name failed"; }
	! grep -q "Error code" "$out.log" || { cat "$out.log" >&2; fail "$name failed"; }
	cmp "$D/$file" "$out" || fail "$name got $file wrong"
	log "$name: $(echo "$(now) - $t0" | bc) s"
}
fetch hpa f512k tftp 10.77.0.1 "$P" -m binary -c get f512k "$T/out/hpa"
fetch curl f1 curl -sS "tftp://10.77.0.1:$P/f1" --tftp-blksize 1428 -o "$T/out/curl"
fetch atftp16 f4 atftp --option "blksize 1428" --option "windowsize 16" \
	-g -r f4 -l "$T/out/atftp16" 10.77.0.1 "$P"
fetch atftp64 f4 atftp --option "blksize 1428" --option "windowsize 64" \
	-g -r f4 -l "$T/out/atftp64" 10.77.0.1 "$P"
lost_s=$(dropped "$NS_S" "vts$$")
lost_c=$(dropped "$NS_C" "vtc$$")
log "packets dropped: $lost_s on the server's side, $lost_c on the clients'"
if [ "$lost_s" -eq 0 ] || [ "$lost_c" -eq 0 ]; then fail "the link lost nothing"; fi
pass "lock-step and windows through 5% loss each way: byte-identical"
