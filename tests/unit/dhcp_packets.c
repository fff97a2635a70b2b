// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * DHCP requests shaped as real clients send them (dhcp_packets.h); the
 * option lists follow what each firmware's source puts in its DISCOVER.
 */
#include "dhcp_packets.h"

#include <aurora/dhcp.h>

#include <arpa/inet.h>
#include <assert.h>
#include <string.h>

void pkt_start(struct pkt *p, uint8_t type, const uint8_t mac[6], uint32_t xid)
{
	struct aur_dhcp_header h;

	memset(p, 0, sizeof(*p));
	memset(&h, 0, sizeof(h));
	h.op = AUR_DHCP_BOOTREQUEST;
	h.htype = AUR_DHCP_HTYPE_ETHER;
	h.hlen = 6;
	h.xid = htonl(xid);
	h.secs = htons(4);
	h.flags = htons(AUR_DHCP_FLAG_BROADCAST);
	memcpy(h.chaddr, mac, 6);
	h.magic = htonl(AUR_DHCP_MAGIC);
	memcpy(p->b, &h, sizeof(h));
	p->len = sizeof(h);
	pkt_option(p, AUR_DHCP_OPT_MSG_TYPE, &type, 1);
}

void pkt_option(struct pkt *p, uint8_t code, const void *data, size_t n)
{
	assert(n < 256 && p->len + 2 + n <= sizeof(p->b));
	p->b[p->len++] = code;
	p->b[p->len++] = (uint8_t)n;
	memcpy(p->b + p->len, data, n);
	p->len += n;
}

void pkt_end(struct pkt *p)
{
	assert(p->len < sizeof(p->b));
	p->b[p->len++] = AUR_DHCP_OPT_END;
}

static void put_str(struct pkt *p, uint8_t code, const char *s)
{
	pkt_option(p, code, s, strlen(s));
}

static void put_u16(struct pkt *p, uint8_t code, uint16_t v)
{
	uint8_t b[2] = {(uint8_t)(v >> 8), (uint8_t)v};

	pkt_option(p, code, b, 2);
}

static const uint8_t uuid[17] = {0,    0x4c, 0x4c, 0x45, 0x44, 0x00,
				 0x10, 0x38, 0x80, 0x34, 0xb4, 0xc0,
				 0x4f, 0x46, 0x50, 0x32, 0x31};

/* Intel PXE 2.1 ROM (as in QEMU's and most NICs' option ROMs before
 * iPXE): 57, 93, 94, 97, 55, 60. */
static void bios(struct pkt *p)
{
	static const uint8_t params[] = {
		1,  2,	3,  5,	6,   11,  12,  13,  15,	 16,  17,  18,
		43, 54, 60, 67, 128, 129, 130, 131, 132, 133, 134, 135};
	static const uint8_t undi[] = {1, 2, 1};

	put_u16(p, AUR_DHCP_OPT_MAX_SIZE, 1260);
	put_u16(p, AUR_DHCP_OPT_ARCH, 0);
	pkt_option(p, 94, undi, sizeof(undi));
	pkt_option(p, AUR_DHCP_OPT_UUID, uuid, sizeof(uuid));
	pkt_option(p, AUR_DHCP_OPT_PARAMS, params, sizeof(params));
	put_str(p, AUR_DHCP_OPT_CLASS_ID, "PXEClient:Arch:00000:UNDI:002001");
}

/* EDK2 (PxeBcBuildDhcp4Options, HttpBootBuildDhcp4Options): 57, 55,
 * 97, 94, 93, 60. */
static void edk2(struct pkt *p, uint16_t arch, const char *class)
{
	static const uint8_t params[] = {
		1,  2,	3,  4,	 5,   6,   12,	13,  15,  17,  18, 22,
		23, 28, 40, 41,	 42,  43,  50,	51,  54,  58,  59, 60,
		66, 67, 97, 128, 129, 130, 131, 132, 133, 134, 135};
	static const uint8_t undi[] = {1, 3, 0};

	put_u16(p, AUR_DHCP_OPT_MAX_SIZE, 1464);
	pkt_option(p, AUR_DHCP_OPT_PARAMS, params, sizeof(params));
	pkt_option(p, AUR_DHCP_OPT_UUID, uuid, sizeof(uuid));
	pkt_option(p, 94, undi, sizeof(undi));
	put_u16(p, AUR_DHCP_OPT_ARCH, arch);
	put_str(p, AUR_DHCP_OPT_CLASS_ID, class);
}

/* iPXE (dhcp_create_request): 57, 93, 94, 60, 77, 175, 61, 97, 55. */
static void ipxe(struct pkt *p, const uint8_t mac[6])
{
	static const uint8_t undi[] = {1, 3, 10};
	static const uint8_t features[] = {
		0xb1, 5, 1,    0x10, 0xec, 0x81, 0x39, 0x10, 1, 1,
		0x13, 1, 1,    0x11, 1,	   1,	 0x27, 1,    1, 0x15,
		1,    1, 0x18, 1,    1,	   0x12, 1,    1};
	static const uint8_t params[] = {1,   3,   6,	7,   12,  15,  17,  26,
					 43,  60,  66,	67,  119, 128, 129, 130,
					 131, 132, 133, 134, 135, 175, 203};
	uint8_t client_id[7] = {AUR_DHCP_HTYPE_ETHER};

	memcpy(client_id + 1, mac, 6);
	put_u16(p, AUR_DHCP_OPT_MAX_SIZE, 1472);
	put_u16(p, AUR_DHCP_OPT_ARCH, 7);
	pkt_option(p, 94, undi, sizeof(undi));
	put_str(p, AUR_DHCP_OPT_CLASS_ID, "PXEClient:Arch:00007:UNDI:003010");
	put_str(p, AUR_DHCP_OPT_USER_CLASS, "iPXE");
	pkt_option(p, AUR_DHCP_OPT_IPXE, features, sizeof(features));
	pkt_option(p, 61, client_id, sizeof(client_id));
	pkt_option(p, AUR_DHCP_OPT_UUID, uuid, sizeof(uuid));
	pkt_option(p, AUR_DHCP_OPT_PARAMS, params, sizeof(params));
}

/* busybox udhcpc: 61, 60, 55. */
static void plain(struct pkt *p, const uint8_t mac[6])
{
	static const uint8_t params[] = {1, 3, 6, 12, 15, 28, 42};
	uint8_t client_id[7] = {AUR_DHCP_HTYPE_ETHER};

	memcpy(client_id + 1, mac, 6);
	pkt_option(p, 61, client_id, sizeof(client_id));
	put_str(p, AUR_DHCP_OPT_CLASS_ID, "udhcp 1.35.0");
	pkt_option(p, AUR_DHCP_OPT_PARAMS, params, sizeof(params));
}

void client_packet(struct pkt *p, enum client_kind k, uint8_t type,
		   const uint8_t mac[6], uint32_t xid)
{
	pkt_start(p, type, mac, xid);
	switch (k) {
	case CLIENT_BIOS:
		bios(p);
		break;
	case CLIENT_OVMF_PXE:
		edk2(p, 7, "PXEClient:Arch:00007:UNDI:003000");
		break;
	case CLIENT_OVMF_HTTP:
		edk2(p, 16, "HTTPClient:Arch:00016:UNDI:003000");
		break;
	case CLIENT_IPXE:
		ipxe(p, mac);
		break;
	case CLIENT_PLAIN:
		plain(p, mac);
		break;
	case CLIENT_ARM64:
		edk2(p, 11, "PXEClient:Arch:00011:UNDI:003000");
		break;
	}
	pkt_end(p);
}
