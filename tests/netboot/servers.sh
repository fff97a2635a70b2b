#!/usr/bin/env bash
# servers.sh - the network servers a mount starts, as the config asks.
#
# Each daemon runs in a network namespace of its own (so that ports 67,
# 69, 4011, 8080 and 8090 are free and no packet leaves it), on the demo
# release. Checked:
#   - by default: ProxyDHCP (67, 4011), TFTP (69), netboot HTTP (8090) and
#     the artifact server (8080) listen; HTTP on both ports and TFTP serve
#     the tree's bytes, the same as a mount's
#   - disable_netboot, disable_http_server and disable_iso turn off what
#     AuroraBoot turns off
#   - netboot_http_port = the artifact server's port: one server for both
#   - a port already taken: that server is left out and said so, the rest
#     (mount included) works
#   - a port that is not one, or a listen address that is not one: the
#     command stops before mounting, naming the key
. "$(dirname "$0")/../fs/lib.sh"
ensure_demo
for t in ip curl tftp ss python3; do
	command -v "$t" >/dev/null || { echo "SKIP: no $t"; exit 77; }
done
mapfile -t REL < <(release_args "file://$DEMO_RELEASE_ROOT" | tr ' ' '\n')
printf '#cloud-config\nhostname: served\n' >"$T/cc.yaml"
NAME=$DEMO_ARTIFACT

# the bytes every server must give: a mount of the same release
mount_afs "$T/ref" "${REL[@]}" --cloud-config "$T/cc.yaml" --set state_dir="$T/ref-state"
cp "$T/ref/netboot/ipxe" "$T/want-ipxe"
cp "$T/ref/netboot/kernel" "$T/want-kernel"
cp "$T/ref/netboot/undionly.kpxe" "$T/want-kpxe"

NS_N=0
# serve ARGS...: a namespace (or $TAKEN) and a daemon in it with its
# servers on; sets NS and SRV_LOG, fails if the daemon does not come up
serve() {
	NS_N=$((NS_N + 1))
	SRV_LOG=$T/aurorafs-srv-$NS_N.log
	if [ -n "${TAKEN:-}" ]; then
		NS=$TAKEN
	else
		NS=afs-srv-$$-$NS_N
		ip netns add "$NS" || { echo "SKIP: cannot make network namespaces"; exit 77; }
		at_exit "ip netns del $NS"
		ip -n "$NS" link set lo up
	fi
	setsid ip netns exec "$NS" "$AURORAFS_SERVING" -f "${REL[@]}" --cloud-config "$T/cc.yaml" \
		--set state_dir="$T/state-$NS_N" "$@" "$T/mnt-$NS_N" </dev/null >"$SRV_LOG" 2>&1 &
	at_exit "kill_group $!"
	mkdir -p "$T/mnt-$NS_N"
	wait_for 30 grep -q "mounted on" "$SRV_LOG" || fail "no mount: $(tail -n 5 "$SRV_LOG")"
}
in_ns() { ip netns exec "$NS" "$@"; }
udp() { in_ns ss -Hlun "sport = :$1" | grep -q .; }
tcp() { in_ns ss -Hltn "sport = :$1" | grep -q .; }
http_get() { # PORT PATH OUT
	in_ns curl -sf -o "$3" "http://127.0.0.1:$1$2" || fail "GET :$1$2 failed"
}

# -- every server, by default ------------------------------------------------------
serve
for p in 67 4011 69; do udp $p || fail "nothing on UDP $p: $(cat "$SRV_LOG")"; done
for p in 8090 8080; do tcp $p || fail "nothing on TCP $p: $(cat "$SRV_LOG")"; done
http_get 8090 /netboot/ipxe "$T/got-ipxe"
cmp -s "$T/got-ipxe" "$T/want-ipxe" || fail "HTTP /netboot/ipxe differs from the mount's"
http_get 8080 /netboot/kernel "$T/got-kernel"
cmp -s "$T/got-kernel" "$T/want-kernel" || fail "the artifact server's kernel differs from the mount's"
in_ns curl -sfI "http://127.0.0.1:8080/iso/$NAME.custom.iso" >"$T/head" ||
	fail "no custom ISO on the artifact server"
grep -qi "^content-length: $(stat -c %s "$T/ref/iso/$NAME.custom.iso")" "$T/head" ||
	fail "the custom ISO's length: $(cat "$T/head")"
(cd "$T" && in_ns tftp -m binary 127.0.0.1 -c get netboot/undionly.kpxe got-kpxe) ||
	fail "TFTP get failed"
cmp -s "$T/got-kpxe" "$T/want-kpxe" || fail "TFTP undionly.kpxe differs from the mount's"
grep -q 'TFTP: Sent "netboot/undionly.kpxe"' "$SRV_LOG" || fail "no TFTP log line"
grep -q 'HTTP: Sent file "/netboot/ipxe"' "$SRV_LOG" || fail "no HTTP log line"
pass "ProxyDHCP, TFTP, netboot and artifact HTTP servers up; HTTP and TFTP give the mount's bytes"

# -- what the disable keys turn off ----------------------------------------------
serve --set disable_netboot=true
{ udp 67 || udp 69 || tcp 8090; } && fail "disable_netboot left a netboot server up"
tcp 8080 || fail "disable_netboot took the artifact server down"
serve --set disable_http_server=true
tcp 8080 && fail "disable_http_server left the artifact server up"
{ tcp 8090 && udp 69; } || fail "disable_http_server took a netboot server down"
serve --set disable_iso=true
tcp 8080 && fail "disable_iso left the artifact server up (AuroraBoot starts it only with ISOs)"
pass "disable_netboot, disable_http_server and disable_iso"

# -- one port for both HTTP servers ----------------------------------------------
serve --set netboot_http_port=8080
tcp 8080 || fail "nothing on 8080"
grep -q "artifacts: served by the netboot HTTP server" "$SRV_LOG" || fail "$(cat "$SRV_LOG")"
grep -q "error" "$SRV_LOG" && fail "an error for a shared port: $(grep error "$SRV_LOG")"
http_get 8080 "/iso/$NAME.custom.iso.sha256" "$T/sha"
serve --set listen_addr=127.0.0.1:08090
grep -q "artifacts: served by the netboot HTTP server" "$SRV_LOG" || fail "$(cat "$SRV_LOG")"
grep -q "error" "$SRV_LOG" && fail "an error for a shared port: $(grep error "$SRV_LOG")"
pass "netboot_http_port = the artifact server's port (any spelling): one server, no error"

# -- a taken port: that server left out -------------------------------------------
# serve takes the namespace's name from TAKEN when set: one whose port 69
# a stand-in holds
NS=afs-srv-$$-taken
ip netns add "$NS"
at_exit "ip netns del $NS"
ip -n "$NS" link set lo up
setsid ip netns exec "$NS" python3 -c '
import socket, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("0.0.0.0", 69))
time.sleep(600)' </dev/null >/dev/null 2>&1 &
at_exit "kill_group $!"
wait_for 10 udp 69 || fail "could not take port 69"
TAKEN=$NS serve
grep -q "TFTP server not started: Address already in use" "$SRV_LOG" || fail "$(cat "$SRV_LOG")"
{ tcp 8090 && udp 67; } || fail "a taken TFTP port took other servers down"
http_get 8090 /netboot/kernel "$T/got-kernel2"
cmp -s "$T/got-kernel2" "$T/want-kernel" || fail "kernel differs"
pass "a taken port: that server left out and said so, the others serve"

# -- bad values stop the command ---------------------------------------------------
bad() { # WHAT ARGS...
	local what=$1
	shift
	if "$AURORAFS_SERVING" -f "${REL[@]}" --set state_dir="$T/state-bad" "$@" "$T/mnt-bad" \
		>"$T/bad.log" 2>&1; then
		fail "$what was accepted"
	fi
	grep -q "$what" "$T/bad.log" || fail "the message does not name $what: $(cat "$T/bad.log")"
	is_mounted "$T/mnt-bad" && fail "mounted despite a bad $what"
	return 0
}
mkdir -p "$T/mnt-bad"
bad netboot_http_port --set netboot_http_port=99999
bad netboot_http_port --set netboot_http_port=http
bad "not-an-address" --set listen_addr=not-an-address:80
pass "a bad port or address stops the command, naming it"
