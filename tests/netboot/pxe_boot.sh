#!/usr/bin/env bash
# pxe_boot.sh - machines boot from a mount over the network, end to end.
#
# Three network namespaces on one bridge: a plain DHCP server (dnsmasq,
# addresses only), aurorafs with its ProxyDHCP, TFTP and HTTP servers, and
# the QEMU guests' tap. A BIOS guest boots through its NIC's iPXE ROM
# (ProxyDHCP -> the HTTP script of its MAC); a UEFI guest through OVMF's
# own PXE (ProxyDHCP -> TFTP ipxe.efi -> iPXE -> ProxyDHCP -> HTTP). Each
# must report its own cloud-config (rendered from the machines key for its
# MAC) and a verified rootfs fetched over HTTP.
#
# SERVER=peers does the same with the mount served by nginx (HTTP),
# tftpd-hpa (TFTP) and dnsmasq in proxy mode instead of aurorafs's servers.
. "$(dirname "$0")/../fs/lib.sh"
ensure_demo
for t in ip dnsmasq "${QEMU:-qemu-system-x86_64}"; do
	command -v "$t" >/dev/null || { echo "SKIP: no $t"; exit 77; }
done
SERVER=${SERVER:-aurorafs}
BOOT=$SOURCE_ROOT/tools/demo-os/boot.sh
NET=10.77.$(($$ % 200 + 20))
LAN=afs-lan-$$ DHCP=afs-dhcp-$$ SRV=afs-srv-$$
MAC_BIOS=52:54:00:aa:00:01 MAC_EFI=52:54:00:aa:00:02
HTTP_PORT=8090

# -- the segment ----------------------------------------------------------------
made_ns=()
del_ns() { for n in "${made_ns[@]}"; do ip netns del "$n" 2>/dev/null; done; }
at_exit del_ns
for n in "$LAN" "$DHCP" "$SRV"; do
	ip netns add "$n" || { echo "SKIP: cannot make network namespaces"; exit 77; }
	made_ns+=("$n")
	ip -n "$n" link set lo up
done
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
SRV_IP=$NET.2

setsid ip netns exec "$DHCP" dnsmasq --keep-in-foreground --conf-file=/dev/null --port=0 \
	--user=root --group=root --pid-file= --interface=eth0 --bind-interfaces \
	--dhcp-range="$NET.100,$NET.150,255.255.255.0,1h" --dhcp-leasefile="$T/leases" \
	--dhcp-option=3 --dhcp-option=6 --log-dhcp --log-facility="$T/dnsmasq-dhcp.log" \
	</dev/null >/dev/null 2>&1 &
DHCP_PID=$!
at_exit "kill_group $DHCP_PID"

# -- the machines and their cloud-configs ------------------------------------------
cat >"$T/cc.yaml" <<'YAML'
#cloud-config
hostname: "[[ .hostname ]]"
aurorafs_mac: "[[ .mac ]]"
YAML
cat >"$T/config.yaml" <<YAML
machines:
  default: {hostname: nobody}
  ${MAC_BIOS//:/-}: {hostname: bios-machine}
  ${MAC_EFI}: {hostname: efi-machine}
YAML
expected() { # MAC HOSTNAME: the sha256 of the machine's cloud-config
	printf '#cloud-config\nhostname: "%s"\naurorafs_mac: "%s"\n' "$2" "$1" | sha256sum | cut -d' ' -f1
}

REL=(--set "release_server=file://$DEMO_RELEASE_ROOT" --set "repository=$DEMO_REPO"
	--set "release_version=$DEMO_VERSION" --set "artifact_version=$DEMO_VERSION"
	--set flavor=demo --set flavor_release=1.0 --set variant=core)
M=$T/mnt
mkdir -p "$M"
if [ "$SERVER" = aurorafs ]; then
	# the daemon's mount lives in the namespace's own mount namespace;
	# the servers read the tree directly
	setsid ip netns exec "$SRV" "$AURORAFS_SERVING" -f "$T/config.yaml" "${REL[@]}" \
		--cloud-config "$T/cc.yaml" --set state_dir="$T/state" \
		--set netboot_http_port=$HTTP_PORT --set disable_http_server=true "$M" \
		</dev/null >"$T/aurorafs-srv.log" 2>&1 &
	SRV_PID=$!
	at_exit "kill_group $SRV_PID"
	wait_for 30 eval "ip netns exec $SRV ss -Hlun 'sport = :67' | grep -q ." ||
		fail "the ProxyDHCP did not start: $(tail -5 "$T/aurorafs-srv.log")"
else
	. "$(dirname "$0")/peers.sh"
	start_peers
fi

# -- the boots -------------------------------------------------------------------------
printf '#!/bin/sh\nexec ip netns exec %s %s "$@"\n' "$LAN" "${QEMU:-qemu-system-x86_64}" >"$T/qemu"
chmod +x "$T/qemu"
boot() { # FIRMWARE MAC HOSTNAME [ROM]
	local fw=$1 mac=$2 out=$T/boot-$1
	QEMU=$T/qemu BOOT_TIMEOUT=${BOOT_TIMEOUT:-300} QEMU_EXTRA="-netdev tap,id=n0,ifname=tap0,script=no,downscript=no -device virtio-net-pci,netdev=n0,mac=$mac,bootindex=0${4:-}" \
		"$BOOT" none "$fw" disk "$out.serial" >"$out.txt" 2>&1 ||
		{ echo "FAIL $fw: no report ($(tail -n 3 "$out.txt" | tr '\n' ' '))"; return; }
	grep -q "^AURORAFS-DEMO: firmware=$fw\$" "$out.txt" || { echo "FAIL $fw: wrong firmware"; return; }
	grep -q "^AURORAFS-DEMO: config source=http://$SRV_IP:$HTTP_PORT/netboot/$mac/config.yaml bytes=.* sha256=$(expected "$mac" "$3")\$" "$out.txt" ||
		{ echo "FAIL $fw: cloud-config: $(grep config "$out.txt" | head -n1)"; return; }
	grep -q "^AURORAFS-DEMO: rootfs=ok source=http://$SRV_IP:$HTTP_PORT/netboot/rootfs.squashfs\$" "$out.txt" ||
		{ echo "FAIL $fw: rootfs: $(grep rootfs= "$out.txt")"; return; }
	echo "ok $fw $mac: $(grep -o 'finished in [0-9]*s' "$out.txt")"
}
# one guest at a time: they share the tap
boot bios "$MAC_BIOS" bios-machine >"$T/verdicts"
boot efi "$MAC_EFI" efi-machine ",romfile=" >>"$T/verdicts"
cat "$T/verdicts" >&2
[ "$(grep -c '^ok ' "$T/verdicts")" = 2 ] || fail "$(grep '^FAIL' "$T/verdicts" | tr '\n' ' ')"
pass "PXE boots through $SERVER: BIOS (iPXE ROM) and UEFI (OVMF PXE, TFTP ipxe.efi), each with its own cloud-config"
