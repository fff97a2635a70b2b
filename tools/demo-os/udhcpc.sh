#!/bin/sh
# shellcheck shell=dash
#
# udhcpc event hook inside the demo initramfs (/etc/udhcpc.sh).  busybox
# udhcpc only negotiates the lease; applying it is left to this script.
# Only what a single wget to the host needs: address, default route, DNS.
# shellcheck disable=SC2154 # interface/ip/subnet/router/dns come from udhcpc

case "$1" in
deconfig)
	ifconfig "$interface" 0.0.0.0 up
	;;
bound | renew)
	ifconfig "$interface" "$ip" netmask "${subnet:-255.255.255.0}" up
	if [ -n "$router" ]; then
		while route del default gw 0.0.0.0 dev "$interface" 2>/dev/null; do :; done
		for gw in $router; do
			route add default gw "$gw" dev "$interface" && break
		done
	fi
	: >/etc/resolv.conf
	for ns in $dns; do
		echo "nameserver $ns" >>/etc/resolv.conf
	done
	;;
esac
exit 0
