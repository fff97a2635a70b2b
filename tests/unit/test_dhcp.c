// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The ProxyDHCP protocol (dhcp.h) without sockets: requests shaped as
 * real clients send them parsed, answered (or not) and the replies read
 * back field by field; truncated, malformed and split options; relayed
 * and unicast destinations.
 */
#include "dhcp_packets.h"
#include "test_helpers.h"

#include <aurora/dhcp.h>
#include <aurora/util.h>

#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

static const uint8_t mac[6] = {0x52, 0x54, 0x00, 0xAB, 0xCD, 0xEF};
static const char mac_text[] = "52:54:00:ab:cd:ef";

static struct in_addr addr(const char *s)
{
	struct in_addr a;

	assert_int_equal(inet_pton(AF_INET, s, &a), 1);
	return a;
}

/* Parse from a heap copy of exactly @len bytes, so that ASan sees any
 * read past the end. */
static int parse(const uint8_t *buf, size_t len, struct aur_dhcp_msg *m,
		 char *err)
{
	uint8_t *copy = malloc(len ? len : 1);
	int r;

	assert_non_null(copy);
	memcpy(copy, buf, len);
	r = aur_dhcp_parse(copy, len, m, err);
	free(copy);
	return r;
}

/* The options of a built reply, in order: a list of codes. */
static size_t option_codes(const uint8_t *buf, size_t len, uint8_t *codes)
{
	size_t n = 0;

	for (size_t i = AUR_DHCP_HEADER_SIZE; i < len;) {
		if (buf[i] == AUR_DHCP_OPT_PAD) {
			i++;
			continue;
		}
		codes[n++] = buf[i];
		if (buf[i] == AUR_DHCP_OPT_END)
			break;
		i += 2u + buf[i + 1];
	}
	return n;
}

struct exchange {
	struct aur_dhcp_msg req, reply;
	struct aur_dhcp_answer a;
	uint8_t buf[AUR_DHCP_PACKET_MAX];
	ssize_t len;
	const char *why;
};

/* Parse @p, decide with the default options as server 192.168.1.1 and,
 * on ANSWER, build the reply and parse it back. */
static enum aur_dhcp_verdict exchange(const struct pkt *p, bool on_pxe_port,
				      struct exchange *x)
{
	struct aur_dhcp_opts o;
	enum aur_dhcp_verdict v;
	char err[AUR_DHCP_ERRLEN];

	aur_dhcp_opts_init(&o);
	memset(x, 0, sizeof(*x));
	assert_int_equal(parse(p->b, p->len, &x->req, err), 0);
	v = aur_dhcp_decide(&o, &x->req, on_pxe_port, addr("192.168.1.1"),
			    &x->a, &x->why);
	if (v != AUR_DHCP_ANSWER)
		return v;
	x->len = aur_dhcp_build(&x->req, &x->a, x->buf, sizeof(x->buf));
	assert_true(x->len > 0);
	assert_int_equal(parse(x->buf, (size_t)x->len, &x->reply, err), 0);
	return v;
}

/* What every answer has, whoever asked. */
static void check_common(const struct exchange *x, uint8_t type,
			 const char *class)
{
	const struct aur_dhcp_header *q = &x->req.hdr, *h = &x->reply.hdr;

	assert_int_equal(h->op, AUR_DHCP_BOOTREPLY);
	assert_int_equal(h->htype, AUR_DHCP_HTYPE_ETHER);
	assert_int_equal(h->hlen, 6);
	assert_int_equal(h->xid, q->xid);
	assert_int_equal(h->flags, q->flags);
	assert_memory_equal(h->chaddr, q->chaddr, sizeof(h->chaddr));
	assert_int_equal(h->yiaddr.s_addr, 0);
	assert_int_equal(h->siaddr.s_addr, addr("192.168.1.1").s_addr);
	assert_string_equal(h->sname, "192.168.1.1");
	assert_int_equal(x->reply.type, type);
	assert_true(x->reply.has_server_id);
	assert_int_equal(x->reply.server_id.s_addr, addr("192.168.1.1").s_addr);
	assert_string_equal(x->reply.class_id, class);
	assert_int_equal(x->reply.class_id_len, strlen(class));
	assert_int_equal(x->reply.has_uuid, x->req.has_uuid);
	assert_memory_equal(x->reply.uuid, x->req.uuid, sizeof(x->req.uuid));
	/* at least the BOOTP minimum, within what the client accepts */
	assert_true(x->len >= AUR_DHCP_MIN_REPLY);
	assert_true(x->len <= AUR_MAX(x->req.max_size, AUR_DHCP_MIN_MAX_SIZE) -
				      AUR_DHCP_IP_UDP_SIZE);
}

static void check_pxe_vendor(const struct exchange *x)
{
	static const uint8_t want[] = {AUR_PXE_DISCOVERY_CONTROL, 1,
				       AUR_PXE_DISCOVERY_USE_FILE,
				       AUR_DHCP_OPT_END};

	assert_int_equal(x->reply.vendor_len, sizeof(want));
	assert_memory_equal(x->reply.vendor, want, sizeof(want));
}

static void bios_pxe_rom(void **state)
{
	static const uint8_t order[] = {53, 54, 60, 97, 43, 67, 255};
	struct exchange x;
	struct pkt p;
	uint8_t codes[64];

	client_packet(&p, CLIENT_BIOS, AUR_DHCP_DISCOVER, mac, 0x1234abcd);
	assert_int_equal(exchange(&p, false, &x), AUR_DHCP_ANSWER);
	assert_int_equal(x.req.arch, 0);
	assert_int_equal(x.req.max_size, 1260);
	assert_true(aur_dhcp_wants(&x.req, 67));
	assert_false(aur_dhcp_wants(&x.req, 66));
	assert_string_equal(x.a.mac, mac_text);
	assert_int_equal(x.a.arch, 0);
	assert_false(x.a.ipxe);
	assert_int_equal(x.a.boot, AUR_DHCP_BOOT_BIOS);
	check_common(&x, AUR_DHCP_OFFER, "PXEClient");
	assert_int_equal(x.reply.hdr.ciaddr.s_addr, 0);
	assert_string_equal(x.reply.hdr.file, "netboot/undionly.kpxe");
	check_pxe_vendor(&x);
	/* 67 asked for, 66 not */
	assert_string_equal(x.reply.bootfile, "netboot/undionly.kpxe");
	assert_int_equal(option_codes(x.buf, (size_t)x.len, codes),
			 sizeof(order));
	assert_memory_equal(codes, order, sizeof(order));
}

static void ovmf_pxe(void **state)
{
	struct exchange x;
	struct pkt p;

	client_packet(&p, CLIENT_OVMF_PXE, AUR_DHCP_DISCOVER, mac, 7);
	assert_int_equal(exchange(&p, false, &x), AUR_DHCP_ANSWER);
	assert_int_equal(x.a.boot, AUR_DHCP_BOOT_EFI);
	assert_int_equal(x.a.arch, 7);
	check_common(&x, AUR_DHCP_OFFER, "PXEClient");
	assert_string_equal(x.reply.hdr.file, "netboot/ipxe.efi");
	check_pxe_vendor(&x);
	/* EDK2 asks for both */
	assert_string_equal(x.reply.bootfile, "netboot/ipxe.efi");
	assert_int_equal(
		memcmp(x.buf + AUR_DHCP_HEADER_SIZE, "\x35\x01\x02", 3), 0);
	assert_non_null(memmem(x.buf, (size_t)x.len,
			       "\x42\x0b"
			       "192.168.1.1",
			       13));
	/* arch 9 is x86-64 UEFI as well */
	x.req.arch = 9;
	assert_int_equal(
		aur_dhcp_decide(&(struct aur_dhcp_opts){.efi_file = "e.efi"},
				&x.req, false, addr("10.0.0.1"), &x.a, NULL),
		AUR_DHCP_ANSWER);
	assert_string_equal(x.a.file, "e.efi");
}

static void ovmf_http(void **state)
{
	static const uint8_t order[] = {53, 54, 60, 97, 66, 67, 255};
	struct exchange x;
	struct pkt p;
	uint8_t codes[64];

	client_packet(&p, CLIENT_OVMF_HTTP, AUR_DHCP_DISCOVER, mac, 16);
	assert_int_equal(exchange(&p, false, &x), AUR_DHCP_ANSWER);
	assert_int_equal(x.a.boot, AUR_DHCP_BOOT_HTTP);
	assert_true(x.a.http);
	check_common(&x, AUR_DHCP_OFFER, "HTTPClient");
	assert_string_equal(x.reply.hdr.file,
			    "http://192.168.1.1:8090/netboot/ipxe.efi");
	assert_string_equal(x.reply.bootfile,
			    "http://192.168.1.1:8090/netboot/ipxe.efi");
	/* no PXE vendor options for an HTTP client */
	assert_int_equal(x.reply.vendor_len, 0);
	assert_int_equal(option_codes(x.buf, (size_t)x.len, codes),
			 sizeof(order));
	assert_memory_equal(codes, order, sizeof(order));
}

static void ipxe(void **state)
{
	struct exchange x;
	struct pkt p;
	const char *url =
		"http://192.168.1.1:8090/netboot/52:54:00:ab:cd:ef/ipxe";

	client_packet(&p, CLIENT_IPXE, AUR_DHCP_DISCOVER, mac, 0xfeed);
	assert_int_equal(exchange(&p, false, &x), AUR_DHCP_ANSWER);
	assert_true(x.req.has_ipxe);
	assert_string_equal(x.req.user_class, "iPXE");
	assert_true(x.a.ipxe);
	assert_int_equal(x.a.boot, AUR_DHCP_BOOT_IPXE);
	check_common(&x, AUR_DHCP_OFFER, "PXEClient");
	assert_string_equal(x.reply.hdr.file, url);
	assert_string_equal(x.reply.bootfile, url);

	/* option 175 alone, on a BIOS machine: the same script */
	pkt_start(&p, AUR_DHCP_DISCOVER, mac, 1);
	pkt_option(&p, AUR_DHCP_OPT_CLASS_ID,
		   "PXEClient:Arch:00000:UNDI:002001", 32);
	pkt_option(&p, AUR_DHCP_OPT_ARCH, "\0\0", 2);
	pkt_option(&p, AUR_DHCP_OPT_IPXE, "\x10\x01\x01", 3);
	pkt_end(&p);
	assert_int_equal(exchange(&p, false, &x), AUR_DHCP_ANSWER);
	assert_int_equal(x.a.boot, AUR_DHCP_BOOT_IPXE);
	assert_string_equal(x.reply.hdr.file, url);
	/* 67 not asked for, no UUID: a short reply, zero-padded to the
	 * BOOTP minimum */
	assert_int_equal(x.reply.bootfile_len, 0);
	assert_int_equal(x.len, AUR_DHCP_MIN_REPLY);
	assert_int_equal(x.buf[x.len - 1], AUR_DHCP_OPT_PAD);
	/* option 77 alone, an arch we would not boot otherwise */
	pkt_start(&p, AUR_DHCP_DISCOVER, mac, 1);
	pkt_option(&p, AUR_DHCP_OPT_CLASS_ID,
		   "PXEClient:Arch:00011:UNDI:003000", 32);
	pkt_option(&p, AUR_DHCP_OPT_ARCH, "\0\x0b", 2);
	pkt_option(&p, AUR_DHCP_OPT_USER_CLASS, "iPXE", 4);
	pkt_end(&p);
	assert_int_equal(exchange(&p, false, &x), AUR_DHCP_ANSWER);
	assert_int_equal(x.a.arch, 11);
	assert_string_equal(x.reply.hdr.file, url);
	/* a user class that only starts with iPXE is not iPXE */
	pkt_start(&p, AUR_DHCP_DISCOVER, mac, 1);
	pkt_option(&p, AUR_DHCP_OPT_CLASS_ID,
		   "PXEClient:Arch:00000:UNDI:002001", 32);
	pkt_option(&p, AUR_DHCP_OPT_ARCH, "\0\0", 2);
	pkt_option(&p, AUR_DHCP_OPT_USER_CLASS, "iPXEX", 5);
	pkt_end(&p);
	assert_int_equal(exchange(&p, false, &x), AUR_DHCP_ANSWER);
	assert_int_equal(x.a.boot, AUR_DHCP_BOOT_BIOS);
}

static void not_for_us(void **state)
{
	struct exchange x;
	struct pkt p;

	client_packet(&p, CLIENT_PLAIN, AUR_DHCP_DISCOVER, mac, 1);
	assert_int_equal(exchange(&p, false, &x), AUR_DHCP_IGNORE);
	assert_string_equal(x.why, "not a PXE or HTTP boot client");
	/* no vendor class at all */
	pkt_start(&p, AUR_DHCP_DISCOVER, mac, 1);
	pkt_option(&p, AUR_DHCP_OPT_ARCH, "\0\0", 2);
	pkt_end(&p);
	assert_int_equal(exchange(&p, false, &x), AUR_DHCP_IGNORE);
	/* "PXEClien" is not "PXEClient" */
	pkt_start(&p, AUR_DHCP_DISCOVER, mac, 1);
	pkt_option(&p, AUR_DHCP_OPT_CLASS_ID, "PXEClien", 8);
	pkt_option(&p, AUR_DHCP_OPT_ARCH, "\0\0", 2);
	pkt_end(&p);
	assert_int_equal(exchange(&p, false, &x), AUR_DHCP_IGNORE);
	/* a DISCOVER on the PXE port, an INFORM, a RELEASE, BOOTP */
	client_packet(&p, CLIENT_BIOS, AUR_DHCP_DISCOVER, mac, 1);
	assert_int_equal(exchange(&p, true, &x), AUR_DHCP_IGNORE);
	client_packet(&p, CLIENT_BIOS, 8, mac, 1);
	assert_int_equal(exchange(&p, false, &x), AUR_DHCP_IGNORE);
	client_packet(&p, CLIENT_BIOS, 7, mac, 1);
	assert_int_equal(exchange(&p, false, &x), AUR_DHCP_IGNORE);
	client_packet(&p, CLIENT_BIOS, 0, mac, 1);
	assert_int_equal(exchange(&p, false, &x), AUR_DHCP_IGNORE);
	/* a reply (another server's offer) */
	client_packet(&p, CLIENT_BIOS, AUR_DHCP_DISCOVER, mac, 1);
	p.b[0] = AUR_DHCP_BOOTREPLY;
	assert_int_equal(exchange(&p, false, &x), AUR_DHCP_IGNORE);
	/* not Ethernet */
	client_packet(&p, CLIENT_BIOS, AUR_DHCP_DISCOVER, mac, 1);
	p.b[1] = 6; /* IEEE 802 */
	assert_int_equal(exchange(&p, false, &x), AUR_DHCP_IGNORE);
	assert_string_equal(x.why, "not an Ethernet client");
}

/* DHCPREQUEST: to us on the DHCP port (ACK), to another server or to
 * none (silence), and to the PXE port (ACK, ciaddr kept). */
static void requests(void **state)
{
	struct exchange x;
	struct pkt p;
	struct in_addr other = addr("192.168.1.2"), us = addr("192.168.1.1");

	client_packet(&p, CLIENT_OVMF_PXE, AUR_DHCP_REQUEST, mac, 3);
	p.len--; /* reopen before END */
	pkt_option(&p, AUR_DHCP_OPT_SERVER_ID, &us, 4);
	pkt_end(&p);
	assert_int_equal(exchange(&p, false, &x), AUR_DHCP_ANSWER);
	check_common(&x, AUR_DHCP_ACK, "PXEClient");

	client_packet(&p, CLIENT_OVMF_PXE, AUR_DHCP_REQUEST, mac, 3);
	assert_int_equal(exchange(&p, false, &x), AUR_DHCP_IGNORE);
	assert_string_equal(x.why, "a DHCPREQUEST not naming this server");
	p.len--;
	pkt_option(&p, AUR_DHCP_OPT_SERVER_ID, &other, 4);
	pkt_end(&p);
	assert_int_equal(exchange(&p, false, &x), AUR_DHCP_IGNORE);
	assert_string_equal(x.why, "a DHCPREQUEST not naming this server");

	/* on the PXE port, from a client that has its address */
	client_packet(&p, CLIENT_IPXE, AUR_DHCP_REQUEST, mac, 4);
	memcpy(p.b + offsetof(struct aur_dhcp_header, ciaddr),
	       &(struct in_addr){addr("192.168.1.77").s_addr}, 4);
	p.len--;
	pkt_option(&p, AUR_DHCP_OPT_SERVER_ID, &us, 4);
	pkt_end(&p);
	assert_int_equal(exchange(&p, true, &x), AUR_DHCP_ANSWER);
	check_common(&x, AUR_DHCP_ACK, "PXEClient");
	assert_int_equal(x.reply.hdr.ciaddr.s_addr,
			 addr("192.168.1.77").s_addr);
	assert_string_equal(
		x.reply.hdr.file,
		"http://192.168.1.1:8090/netboot/52:54:00:ab:cd:ef/ipxe");
}

static void refused(void **state)
{
	struct exchange x;
	struct pkt p;
	char buf[16];

	client_packet(&p, CLIENT_ARM64, AUR_DHCP_DISCOVER, mac, 1);
	assert_int_equal(exchange(&p, false, &x), AUR_DHCP_REFUSE);
	assert_int_equal(x.a.arch, 11);
	assert_string_equal(x.a.mac, mac_text);
	assert_string_equal(aur_dhcp_arch_name(x.a.arch, buf),
			    "ARM 64-bit UEFI");
	assert_string_equal(x.why,
			    "PXE boot of this architecture is not served");

	/* ia32 UEFI */
	pkt_start(&p, AUR_DHCP_DISCOVER, mac, 1);
	pkt_option(&p, AUR_DHCP_OPT_CLASS_ID,
		   "PXEClient:Arch:00006:UNDI:003000", 32);
	pkt_option(&p, AUR_DHCP_OPT_ARCH, "\0\x06", 2);
	pkt_end(&p);
	assert_int_equal(exchange(&p, false, &x), AUR_DHCP_REFUSE);
	assert_int_equal(x.a.arch, 6);
	/* arm64 HTTP boot */
	pkt_start(&p, AUR_DHCP_DISCOVER, mac, 1);
	pkt_option(&p, AUR_DHCP_OPT_CLASS_ID,
		   "HTTPClient:Arch:00019:UNDI:003000", 33);
	pkt_option(&p, AUR_DHCP_OPT_ARCH, "\0\x13", 2);
	pkt_end(&p);
	assert_int_equal(exchange(&p, false, &x), AUR_DHCP_REFUSE);
	assert_string_equal(x.why,
			    "HTTP boot of this architecture is not served");
	/* HTTP boot's arch with a PXE class: not an HTTP client */
	pkt_start(&p, AUR_DHCP_DISCOVER, mac, 1);
	pkt_option(&p, AUR_DHCP_OPT_CLASS_ID, "PXEClient", 9);
	pkt_option(&p, AUR_DHCP_OPT_ARCH, "\0\x10", 2);
	pkt_end(&p);
	assert_int_equal(exchange(&p, false, &x), AUR_DHCP_REFUSE);
	/* no option 93 and no Arch in the class */
	pkt_start(&p, AUR_DHCP_DISCOVER, mac, 1);
	pkt_option(&p, AUR_DHCP_OPT_CLASS_ID, "PXEClient", 9);
	pkt_end(&p);
	assert_int_equal(exchange(&p, false, &x), AUR_DHCP_REFUSE);
	assert_int_equal(x.a.arch, -1);
	assert_string_equal(x.why, "no client architecture (option 93)");
	assert_string_equal(aur_dhcp_arch_name(-1, buf), "unknown");
	assert_string_equal(aur_dhcp_arch_name(300, buf), "arch 300");
}

/* Without option 93 the vendor class's Arch field is read. */
static void arch_from_class(void **state)
{
	static const struct {
		const char *class;
		int arch;
	} cases[] = {
		{"PXEClient:Arch:00007:UNDI:003000", 7},
		{"PXEClient:Arch:00000", 0},
		{"HTTPClient:Arch:00016:UNDI:003000", 16},
		{"PXEClient:Arch:0000", -1},
		{"PXEClient:Arch:0x007:UNDI:003000", -1},
		{"PXEClient:Arch:99999:UNDI:003000", -1},
		{"PXEClient:Arc:00007:UNDI:003000", -1},
	};
	struct exchange x;
	struct pkt p;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		pkt_start(&p, AUR_DHCP_DISCOVER, mac, 1);
		pkt_option(&p, AUR_DHCP_OPT_CLASS_ID, cases[i].class,
			   strlen(cases[i].class));
		pkt_end(&p);
		exchange(&p, false, &x);
		assert_int_equal(x.a.arch, cases[i].arch);
	}
}

/* Every prefix of every client's packet: parsed or refused with a
 * reason, never read past its end (ASan), and only whole headers pass. */
static void truncated(void **state)
{
	static const enum client_kind kinds[] = {
		CLIENT_BIOS, CLIENT_OVMF_PXE, CLIENT_OVMF_HTTP,
		CLIENT_IPXE, CLIENT_PLAIN,    CLIENT_ARM64};
	struct aur_dhcp_msg m;
	struct aur_dhcp_opts o;
	struct aur_dhcp_answer a;
	char err[AUR_DHCP_ERRLEN];
	uint8_t out[AUR_DHCP_PACKET_MAX];
	struct pkt p;

	aur_dhcp_opts_init(&o);
	for (size_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++) {
		client_packet(&p, kinds[k], AUR_DHCP_DISCOVER, mac, 9);
		for (size_t len = 0; len <= p.len; len++) {
			int r;

			err[0] = '\0';
			r = parse(p.b, len, &m, err);
			if (len < AUR_DHCP_HEADER_SIZE) {
				assert_int_equal(r, -EBADMSG);
				assert_non_null(strstr(err, "shorter than"));
				continue;
			}
			if (r < 0) {
				assert_int_equal(r, -EBADMSG);
				assert_non_null(strstr(err, "option"));
				continue;
			}
			if (aur_dhcp_decide(&o, &m, false, addr("10.1.1.1"), &a,
					    NULL) == AUR_DHCP_ANSWER)
				assert_true(aur_dhcp_build(&m, &a, out,
							   sizeof(out)) > 0);
		}
	}
}

static void expect_bad(const struct pkt *p, const char *needle)
{
	struct aur_dhcp_msg m;
	char err[AUR_DHCP_ERRLEN];

	assert_int_equal(parse(p->b, p->len, &m, err), -EBADMSG);
	if (!strstr(err, needle))
		fail_msg("'%s' does not say '%s'", err, needle);
}

static void malformed(void **state)
{
	struct pkt p;

	client_packet(&p, CLIENT_BIOS, AUR_DHCP_DISCOVER, mac, 1);
	p.b[236] = 0; /* the cookie */
	expect_bad(&p, "magic cookie");
	client_packet(&p, CLIENT_BIOS, AUR_DHCP_DISCOVER, mac, 1);
	p.b[0] = 3;
	expect_bad(&p, "op 3");
	client_packet(&p, CLIENT_BIOS, AUR_DHCP_DISCOVER, mac, 1);
	p.b[2] = 17;
	expect_bad(&p, "hlen 17");

	/* an option longer than what is left */
	client_packet(&p, CLIENT_BIOS, AUR_DHCP_DISCOVER, mac, 1);
	p.len--;
	p.b[p.len++] = AUR_DHCP_OPT_CLASS_ID;
	p.b[p.len++] = 40;
	memcpy(p.b + p.len, "PXEClient", 9);
	p.len += 9;
	expect_bad(&p, "option 60 at byte");
	/* a code and no length */
	client_packet(&p, CLIENT_BIOS, AUR_DHCP_DISCOVER, mac, 1);
	p.b[p.len - 1] = 12;
	expect_bad(&p, "option 12 at byte");

	/* options of fixed size, the wrong size */
	pkt_start(&p, AUR_DHCP_DISCOVER, mac, 1);
	pkt_option(&p, AUR_DHCP_OPT_MSG_TYPE, "\x01", 1); /* joined: 2 */
	pkt_end(&p);
	expect_bad(&p, "option 53 is 2 bytes, not 1");
	pkt_start(&p, AUR_DHCP_DISCOVER, mac, 1);
	pkt_option(&p, AUR_DHCP_OPT_MAX_SIZE, "\x05", 1);
	pkt_end(&p);
	expect_bad(&p, "option 57 is 1 bytes, not 2");
	pkt_start(&p, AUR_DHCP_DISCOVER, mac, 1);
	pkt_option(&p, AUR_DHCP_OPT_SERVER_ID, "\x05\x05", 2);
	pkt_end(&p);
	expect_bad(&p, "option 54");
	pkt_start(&p, AUR_DHCP_DISCOVER, mac, 1);
	pkt_option(&p, AUR_DHCP_OPT_ARCH, "\0\0\0", 3);
	pkt_end(&p);
	expect_bad(&p, "option 93");
	pkt_start(&p, AUR_DHCP_DISCOVER, mac, 1);
	pkt_option(&p, AUR_DHCP_OPT_OVERLOAD, "\x04", 1);
	pkt_end(&p);
	expect_bad(&p, "option 52");
	/* an option running past the file field it overloads */
	pkt_start(&p, AUR_DHCP_DISCOVER, mac, 1);
	pkt_option(&p, AUR_DHCP_OPT_OVERLOAD, "\x01", 1);
	pkt_end(&p);
	p.b[offsetof(struct aur_dhcp_header, file) + 120] = 60;
	p.b[offsetof(struct aur_dhcp_header, file) + 121] = 10;
	expect_bad(&p, "option 60 at byte 120 of the file field");
}

/* RFC 3396: an option split in pieces is one; option 52 moves options
 * into file and sname, read after the options field. */
static void split_options(void **state)
{
	struct exchange x;
	struct pkt p;
	uint8_t *file = p.b + offsetof(struct aur_dhcp_header, file);
	uint8_t *sname = p.b + offsetof(struct aur_dhcp_header, sname);
	uint8_t params[255];

	pkt_start(&p, AUR_DHCP_DISCOVER, mac, 1);
	pkt_option(&p, AUR_DHCP_OPT_CLASS_ID, "PXECl", 5);
	pkt_option(&p, AUR_DHCP_OPT_OVERLOAD, "\x03", 1);
	pkt_option(&p, AUR_DHCP_OPT_CLASS_ID, "ient:Arch:", 10);
	pkt_end(&p);
	/* the file field: the rest of the class, then the architecture */
	memcpy(file,
	       "\x3c\x11"
	       "00007:UNDI:003000"
	       "\x5d\x02\x00\x07\xff",
	       24);
	/* the sname field: the UUID */
	sname[0] = AUR_DHCP_OPT_UUID;
	sname[1] = 17;
	memset(sname + 2, 0x42, 17);
	sname[2] = 0;
	sname[19] = AUR_DHCP_OPT_END;
	assert_int_equal(exchange(&p, false, &x), AUR_DHCP_ANSWER);
	assert_string_equal(x.req.class_id, "PXEClient:Arch:00007:UNDI:003000");
	assert_int_equal(x.req.arch, 7);
	assert_true(x.req.has_uuid);
	assert_int_equal(x.req.uuid[16], 0x42);
	check_common(&x, AUR_DHCP_OFFER, "PXEClient");

	/* a parameter list of 300 codes: the first 255 kept */
	pkt_start(&p, AUR_DHCP_DISCOVER, mac, 1);
	for (int i = 0; i < 255; i++)
		params[i] = (uint8_t)(i < 200 ? 1 : 66);
	pkt_option(&p, AUR_DHCP_OPT_PARAMS, params, 255);
	pkt_option(&p, AUR_DHCP_OPT_PARAMS, "\x43\x43\x43\x43\x43", 5);
	pkt_end(&p);
	{
		struct aur_dhcp_msg m;
		char err[AUR_DHCP_ERRLEN];

		assert_int_equal(parse(p.b, p.len, &m, err), 0);
		assert_true(aur_dhcp_wants(&m, 66));
		assert_false(aur_dhcp_wants(&m, 67));
	}
	/* option 52 in the file field does not count */
	pkt_start(&p, AUR_DHCP_DISCOVER, mac, 1);
	pkt_option(&p, AUR_DHCP_OPT_OVERLOAD, "\x01", 1);
	pkt_end(&p);
	memcpy(file, "\x34\x01\x02\xff", 4);
	sname[0] = 0x3c;
	sname[1] = 80; /* would run past sname if it were read */
	assert_int_equal(exchange(&p, false, &x), AUR_DHCP_IGNORE);
	/* a UUID of another size is not echoed */
	client_packet(&p, CLIENT_OVMF_PXE, AUR_DHCP_DISCOVER, mac, 1);
	p.len--;
	pkt_option(&p, AUR_DHCP_OPT_UUID, "\x01", 1);
	pkt_end(&p);
	assert_int_equal(exchange(&p, false, &x), AUR_DHCP_ANSWER);
	assert_false(x.req.has_uuid);
	assert_false(x.reply.has_uuid);
}

/* Where replies go. */
static void destinations(void **state)
{
	struct aur_dhcp_opts o;
	struct aur_dhcp_msg m;
	struct sockaddr_in src = {.sin_family = AF_INET,
				  .sin_port = htons(68),
				  .sin_addr = addr("10.0.0.9")},
			   dst;
	char err[AUR_DHCP_ERRLEN];
	struct pkt p;

	aur_dhcp_opts_init(&o);
	o.port = 1067;
	o.client_port = 1068;
	client_packet(&p, CLIENT_BIOS, AUR_DHCP_DISCOVER, mac, 1);
	assert_int_equal(parse(p.b, p.len, &m, err), 0);
	/* no address: broadcast, on the link it came in on */
	assert_true(aur_dhcp_destination(&o, &m, false, &src, &dst));
	assert_int_equal(dst.sin_addr.s_addr, htonl(INADDR_BROADCAST));
	assert_int_equal(ntohs(dst.sin_port), 1068);
	/* an address: unicast */
	m.hdr.ciaddr = addr("10.0.0.50");
	assert_false(aur_dhcp_destination(&o, &m, false, &src, &dst));
	assert_int_equal(dst.sin_addr.s_addr, addr("10.0.0.50").s_addr);
	assert_int_equal(ntohs(dst.sin_port), 1068);
	/* relayed: back to the relay, on the server port */
	m.hdr.giaddr = addr("10.9.0.1");
	assert_false(aur_dhcp_destination(&o, &m, false, &src, &dst));
	assert_int_equal(dst.sin_addr.s_addr, addr("10.9.0.1").s_addr);
	assert_int_equal(ntohs(dst.sin_port), 1067);
	/* the PXE port: back where it came from */
	src.sin_port = htons(3333);
	assert_false(aur_dhcp_destination(&o, &m, true, &src, &dst));
	assert_int_equal(dst.sin_addr.s_addr, addr("10.0.0.9").s_addr);
	assert_int_equal(ntohs(dst.sin_port), 3333);
}

/* A relayed request: the reply keeps giaddr and the broadcast flag. */
static void relayed(void **state)
{
	struct exchange x;
	struct pkt p;

	client_packet(&p, CLIENT_OVMF_PXE, AUR_DHCP_DISCOVER, mac, 77);
	memcpy(p.b + offsetof(struct aur_dhcp_header, giaddr),
	       &(struct in_addr){addr("10.9.0.1").s_addr}, 4);
	p.b[offsetof(struct aur_dhcp_header, hops)] = 1;
	assert_int_equal(exchange(&p, false, &x), AUR_DHCP_ANSWER);
	check_common(&x, AUR_DHCP_OFFER, "PXEClient");
	assert_int_equal(x.reply.hdr.giaddr.s_addr, addr("10.9.0.1").s_addr);
	assert_int_equal(ntohs(x.reply.hdr.flags), AUR_DHCP_FLAG_BROADCAST);
	assert_int_equal(x.reply.hdr.hops, 0);
}

/* Option 57 and the 576-byte minimum: the reply never exceeds what the
 * client accepts; a buffer too small is refused, not overrun. */
static void sizes(void **state)
{
	struct aur_dhcp_opts o;
	struct aur_dhcp_msg m;
	struct aur_dhcp_answer a;
	char err[AUR_DHCP_ERRLEN], longest[AUR_DHCP_FILE_MAX + 1];
	uint8_t out[AUR_DHCP_PACKET_MAX];
	struct pkt p;
	ssize_t n;

	memset(longest, 'f', AUR_DHCP_FILE_MAX);
	longest[AUR_DHCP_FILE_MAX] = '\0';
	aur_dhcp_opts_init(&o);
	o.efi_file = longest;
	client_packet(&p, CLIENT_OVMF_PXE, AUR_DHCP_DISCOVER, mac, 1);
	assert_int_equal(parse(p.b, p.len, &m, err), 0);
	m.max_size = 300; /* below the minimum: 576 holds */
	m.params[66 / 8] |= 1u << (66 % 8);
	assert_int_equal(
		aur_dhcp_decide(&o, &m, false, addr("10.0.0.1"), &a, NULL),
		AUR_DHCP_ANSWER);
	n = aur_dhcp_build(&m, &a, out, sizeof(out));
	assert_true(n > AUR_DHCP_MIN_REPLY);
	assert_true(n <= AUR_DHCP_MIN_MAX_SIZE - AUR_DHCP_IP_UDP_SIZE);
	/* too small a buffer */
	assert_int_equal(aur_dhcp_build(&m, &a, out, (size_t)n - 1), -EMSGSIZE);
	assert_int_equal(aur_dhcp_build(&m, &a, out, 100), -EMSGSIZE);
	assert_int_equal(aur_dhcp_build(&m, &a, out, (size_t)n), n);
	/* a name one byte longer than the file field is refused */
	memcpy(longest + AUR_DHCP_FILE_MAX - 16, "{mac}", 6);
	o.efi_file = longest;
	assert_int_equal(
		aur_dhcp_decide(&o, &m, false, addr("10.0.0.1"), &a, NULL),
		AUR_DHCP_REFUSE);
}

static void boot_files(void **state)
{
	struct aur_dhcp_opts o;
	char out[AUR_DHCP_FILE_MAX + 1];
	struct in_addr s = addr("10.0.0.1");

	aur_dhcp_opts_init(&o);
	o.http_port = 80;
	o.bios_file = "pxe/{mac}/undionly.kpxe";
	o.ipxe_script = "/boot/{mac}/{mac}.ipxe";
	o.http_efi_file = "https://boot.example/{mac}.efi";
	assert_int_equal(
		aur_dhcp_boot_file(&o, AUR_DHCP_BOOT_BIOS, mac_text, s, out),
		0);
	assert_string_equal(out, "pxe/52:54:00:ab:cd:ef/undionly.kpxe");
	assert_int_equal(
		aur_dhcp_boot_file(&o, AUR_DHCP_BOOT_IPXE, mac_text, s, out),
		0);
	assert_string_equal(out, "http://10.0.0.1:80/boot/52:54:00:ab:cd:ef/"
				 "52:54:00:ab:cd:ef.ipxe");
	assert_int_equal(
		aur_dhcp_boot_file(&o, AUR_DHCP_BOOT_HTTP, mac_text, s, out),
		0);
	assert_string_equal(out, "https://boot.example/52:54:00:ab:cd:ef.efi");
	assert_int_equal(
		aur_dhcp_boot_file(&o, AUR_DHCP_BOOT_EFI, mac_text, s, out), 0);
	assert_string_equal(out, "netboot/ipxe.efi");
	o.efi_file = "{mac}{mac}{mac}{mac}{mac}{mac}{mac}{mac}";
	assert_int_equal(
		aur_dhcp_boot_file(&o, AUR_DHCP_BOOT_EFI, mac_text, s, out),
		-ENAMETOOLONG);
	assert_true(strlen(out) <= AUR_DHCP_FILE_MAX);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(bios_pxe_rom),
		cmocka_unit_test(ovmf_pxe),
		cmocka_unit_test(ovmf_http),
		cmocka_unit_test(ipxe),
		cmocka_unit_test(not_for_us),
		cmocka_unit_test(requests),
		cmocka_unit_test(refused),
		cmocka_unit_test(arch_from_class),
		cmocka_unit_test(truncated),
		cmocka_unit_test(malformed),
		cmocka_unit_test(split_options),
		cmocka_unit_test(destinations),
		cmocka_unit_test(relayed),
		cmocka_unit_test(sizes),
		cmocka_unit_test(boot_files),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
