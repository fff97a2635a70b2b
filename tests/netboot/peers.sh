# shellcheck shell=bash
# peers.sh - the mount served by standard peers, as the README documents:
# aurorafs mounts with its own servers off; nginx serves the mount over
# HTTP, tftpd-hpa over TFTP, and dnsmasq in proxy-DHCP mode sends PXE
# clients to the iPXE binaries by TFTP and iPXE to /netboot/ipxe over
# HTTP. Sourced by pxe_boot.sh (SERVER=peers), which sets T, M, SRV,
# SRV_IP, NET, HTTP_PORT and REL.

start_peers() {
	local c=$T/peers
	mkdir -p "$c"
	# the mount is made here, so that the servers started in the
	# namespace (a copy of this mount namespace) see it
	mount_afs "$M" "$T/config.yaml" "${REL[@]}" --cloud-config "$T/cc.yaml" \
		--set state_dir="$T/state" --set netboot_http_port=$HTTP_PORT
	cat >"$c/nginx.conf" <<NGINX
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
	server {
		listen $SRV_IP:$HTTP_PORT;
		root $M;
		autoindex on;
	}
}
NGINX
	setsid ip netns exec "$SRV" nginx -c "$c/nginx.conf" </dev/null >"$c/nginx.out" 2>&1 &
	at_exit "kill_group $!"
	setsid ip netns exec "$SRV" in.tftpd --foreground --user root --address "$SRV_IP:69" \
		--secure "$M" </dev/null >"$c/tftpd.out" 2>&1 &
	at_exit "kill_group $!"
	cat >"$c/dnsmasq.conf" <<DNSMASQ
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
pxe-prompt="aurorafs",0
pxe-service=tag:!ipxe,x86PC,"iPXE (BIOS)",netboot/undionly.kpxe,$SRV_IP
pxe-service=tag:!ipxe,x86-64_EFI,"iPXE (UEFI)",netboot/ipxe.efi,$SRV_IP
pxe-service=tag:!ipxe,BC_EFI,"iPXE (UEFI)",netboot/ipxe.efi,$SRV_IP
pxe-service=tag:ipxe,x86PC,"aurorafs",http://$SRV_IP:$HTTP_PORT/netboot/ipxe
pxe-service=tag:ipxe,x86-64_EFI,"aurorafs",http://$SRV_IP:$HTTP_PORT/netboot/ipxe
pxe-service=tag:ipxe,BC_EFI,"aurorafs",http://$SRV_IP:$HTTP_PORT/netboot/ipxe
DNSMASQ
	setsid ip netns exec "$SRV" dnsmasq --keep-in-foreground --conf-file="$c/dnsmasq.conf" \
		</dev/null >"$c/dnsmasq.out" 2>&1 &
	at_exit "kill_group $!"
	wait_for 30 eval "ip netns exec $SRV ss -Hlun 'sport = :67' | grep -q ." ||
		fail "dnsmasq did not start: $(cat "$c/dnsmasq.out")"
	wait_for 30 eval "ip netns exec $SRV ss -Hltn 'sport = :$HTTP_PORT' | grep -q ." ||
		fail "nginx did not start: $(cat "$c/nginx.out" "$c/nginx-error.log" 2>/dev/null)"
}
