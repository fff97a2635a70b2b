/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * dhcp_packets.h - DHCP requests shaped as real clients send them, for
 * the ProxyDHCP tests: the options, their order and their values as a
 * BIOS PXE ROM, OVMF (PXE and HTTP boot), iPXE, a plain DHCP client and
 * an arm64 UEFI machine put them on the wire.
 */
#ifndef AURORAFS_TEST_DHCP_PACKETS_H
#define AURORAFS_TEST_DHCP_PACKETS_H

#include <stddef.h>
#include <stdint.h>

enum client_kind {
	CLIENT_BIOS, /* Intel PXE 2.1 ROM, arch 0 */
	CLIENT_OVMF_PXE, /* EDK2's UefiPxeBcDxe, arch 7 */
	CLIENT_OVMF_HTTP, /* EDK2's HttpBootDxe, arch 16 */
	CLIENT_IPXE, /* iPXE on x86-64 UEFI: options 77 and 175 */
	CLIENT_PLAIN, /* busybox udhcpc: no PXE at all */
	CLIENT_ARM64, /* EDK2 on arm64, arch 11 */
};

struct pkt {
	uint8_t b[1500];
	size_t len;
};

/* The fixed header (op BOOTREQUEST, Ethernet, @mac, @xid, the broadcast
 * flag), the cookie and option 53 = @type. */
void pkt_start(struct pkt *p, uint8_t type, const uint8_t mac[6], uint32_t xid);
/* Append option @code of @n bytes (n < 256). */
void pkt_option(struct pkt *p, uint8_t code, const void *data, size_t n);
/* Append END. */
void pkt_end(struct pkt *p);

/* A whole request of client @k: message @type, @mac, @xid, END included. */
void client_packet(struct pkt *p, enum client_kind k, uint8_t type,
		   const uint8_t mac[6], uint32_t xid);

#endif
