/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * dhcp.h - the ProxyDHCP server: tells PXE and UEFI HTTP boot firmware,
 * and iPXE, what to boot, beside the segment's own DHCP server, which
 * keeps handing out the addresses (RFC 2131, RFC 4578, PXE 2.1).
 *
 * The server never leases: its replies have yiaddr 0. It answers only
 * clients whose vendor class (option 60) begins with "PXEClient" or
 * "HTTPClient": a DHCPDISCOVER on the DHCP port gets a DHCPOFFER; a
 * DHCPREQUEST on the DHCP port gets a DHCPACK when it names this server
 * (option 54; without it, a request is a renewal or a reboot meant for
 * the server that leased); a DHCPREQUEST on the PXE boot-server port
 * (4011) gets a DHCPACK sent back to its source. Everything else is
 * ignored silently (other DHCP traffic is normal on a segment).
 *
 * The answer depends on the client (option 93, its architecture, or the
 * "Arch:NNNNN" of its vendor class when option 93 is missing):
 *   iPXE (option 77 "iPXE" or option 175)  -> ipxe_script (HTTP)
 *   PXEClient, arch 0 (x86 BIOS)            -> bios_file (TFTP)
 *   PXEClient, arch 7 or 9 (x86-64 UEFI)    -> efi_file (TFTP)
 *   HTTPClient, arch 16 (x86-64 UEFI HTTP)  -> http_efi_file (HTTP)
 * Other architectures are refused, with one log line. A TFTP file is sent
 * as given; an HTTP one becomes "http://<server>:<http_port>/<file>"
 * unless it holds "://" (then it is a whole URL). In either, "{mac}"
 * becomes the client's MAC address, lower case with colons.
 *
 * The module is two parts: the protocol (parse a message, decide the
 * answer, build the reply; no sockets, no state: what the fuzz target
 * drives) and the server (sockets and one thread).
 */
#ifndef AURORA_DHCP_H
#define AURORA_DHCP_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* ---- the wire (RFC 2131 section 2, RFC 2132) ---- */

#define AUR_DHCP_BOOTREQUEST 1
#define AUR_DHCP_BOOTREPLY 2
#define AUR_DHCP_HTYPE_ETHER 1
#define AUR_DHCP_MAGIC 0x63825363u /* the options' cookie, 99.130.83.99 */
#define AUR_DHCP_FLAG_BROADCAST 0x8000

/* message types (option 53) */
#define AUR_DHCP_DISCOVER 1
#define AUR_DHCP_OFFER 2
#define AUR_DHCP_REQUEST 3
#define AUR_DHCP_ACK 5

/* options */
#define AUR_DHCP_OPT_PAD 0
#define AUR_DHCP_OPT_VENDOR 43 /* vendor specific: PXE sub-options */
#define AUR_DHCP_OPT_OVERLOAD 52 /* 1: file holds options, 2: sname, 3 */
#define AUR_DHCP_OPT_MSG_TYPE 53
#define AUR_DHCP_OPT_SERVER_ID 54
#define AUR_DHCP_OPT_PARAMS 55 /* parameter request list */
#define AUR_DHCP_OPT_MAX_SIZE 57 /* maximum DHCP message size */
#define AUR_DHCP_OPT_CLASS_ID 60 /* vendor class identifier */
#define AUR_DHCP_OPT_TFTP_SERVER 66
#define AUR_DHCP_OPT_BOOTFILE 67
#define AUR_DHCP_OPT_USER_CLASS 77
#define AUR_DHCP_OPT_ARCH 93 /* client system architecture (RFC 4578) */
#define AUR_DHCP_OPT_UUID 97 /* client machine identifier (RFC 4578) */
#define AUR_DHCP_OPT_IPXE 175 /* iPXE's encapsulated options */
#define AUR_DHCP_OPT_END 255

/* PXE sub-options of option 43 (PXE 2.1 table 2-1) */
#define AUR_PXE_DISCOVERY_CONTROL 6
/* discovery control bit 3: boot the file name given, no boot server
 * discovery and no menu */
#define AUR_PXE_DISCOVERY_USE_FILE 8

/* client architectures (option 93, IANA "Processor Architecture Types") */
#define AUR_DHCP_ARCH_BIOS 0
#define AUR_DHCP_ARCH_EFI_IA32 6
#define AUR_DHCP_ARCH_EFI_BC 7 /* x86-64 UEFI in practice */
#define AUR_DHCP_ARCH_EFI_X64 9
#define AUR_DHCP_ARCH_EFI_X64_HTTP 16

/* The fixed part of every BOOTP/DHCP message and the magic cookie; the
 * options follow. Addresses and numbers in network byte order. */
struct aur_dhcp_header {
	uint8_t op; /* AUR_DHCP_BOOTREQUEST or AUR_DHCP_BOOTREPLY */
	uint8_t htype; /* hardware type, 1 for Ethernet */
	uint8_t hlen; /* hardware address length, 6 for Ethernet */
	uint8_t hops; /* relay agents passed */
	uint32_t xid; /* transaction id, chosen by the client */
	uint16_t secs;
	uint16_t flags; /* AUR_DHCP_FLAG_BROADCAST */
	struct in_addr ciaddr; /* the client's address, if it has one */
	struct in_addr yiaddr; /* "your" address: what a server leases */
	struct in_addr siaddr; /* the next server: TFTP */
	struct in_addr giaddr; /* the relay agent's address */
	uint8_t chaddr[16]; /* client hardware address (hlen bytes) */
	char sname[64]; /* server host name, or options (overload 2) */
	char file[128]; /* boot file name, or options (overload 1) */
	uint32_t magic; /* AUR_DHCP_MAGIC */
} __attribute__((packed));

#define AUR_DHCP_HEADER_SIZE 240
/* What every DHCP client accepts (RFC 2131 section 2: an options field
 * of 312 bytes) and the smallest reply sent (RFC 1542 section 3.4) */
#define AUR_DHCP_MIN_MAX_SIZE 576
#define AUR_DHCP_IP_UDP_SIZE 28 /* option 57 counts the IP and UDP headers */
#define AUR_DHCP_MIN_REPLY 300
/* the largest message the server receives (an Ethernet frame's worth);
 * larger ones are dropped as truncated */
#define AUR_DHCP_PACKET_MAX 1472

/* A parsed message. Concatenated options (RFC 3396: the same code again,
 * in the options field, then the file field, then the sname field when
 * option 52 says they hold options) are joined; at most
 * AUR_DHCP_OPT_DATA_MAX bytes of each are kept, *_len is the whole. */
#define AUR_DHCP_OPT_DATA_MAX 255
struct aur_dhcp_msg {
	struct aur_dhcp_header hdr;
	uint8_t type; /* option 53, 0 if absent (BOOTP) */
	bool has_server_id;
	struct in_addr server_id; /* option 54 */
	uint16_t max_size; /* option 57, 0 if absent */
	bool has_arch;
	uint16_t arch; /* option 93's first entry */
	bool has_uuid;
	uint8_t uuid[17]; /* option 97: type 0 and 16 bytes */
	bool has_ipxe; /* option 175 present */
	uint8_t params[32]; /* option 55 as a bitmap of option codes */
	size_t class_id_len; /* option 60 */
	char class_id[AUR_DHCP_OPT_DATA_MAX + 1]; /* NUL-terminated */
	size_t user_class_len; /* option 77 */
	char user_class[AUR_DHCP_OPT_DATA_MAX + 1];
	size_t vendor_len; /* option 43 */
	uint8_t vendor[AUR_DHCP_OPT_DATA_MAX];
	size_t bootfile_len; /* option 67 */
	char bootfile[AUR_DHCP_OPT_DATA_MAX + 1];
};

#define AUR_DHCP_ERRLEN 128

/*
 * Parse the @len bytes at @buf (a request or a reply) into @m. Every
 * field and option is checked against the end of its area. 0, or
 * -EBADMSG with the reason in @err: shorter than the header, no magic
 * cookie, hlen over 16, an option running past its area, option 53, 57,
 * 52 or 93 of the wrong length.
 */
int aur_dhcp_parse(const uint8_t *buf, size_t len, struct aur_dhcp_msg *m,
		   char err[AUR_DHCP_ERRLEN]);

/* true if @m's option 55 asks for option @code */
bool aur_dhcp_wants(const struct aur_dhcp_msg *m, uint8_t code);

/* ---- deciding ---- */

/* The longest boot file name or URL: what fits the file field with its
 * NUL. aur_dhcp_open refuses names that could grow longer. */
#define AUR_DHCP_FILE_MAX 127

/* "seen": machine @mac ("aa:bb:cc:dd:ee:ff") of architecture @arch
 * (option 93; -1 if unknown), running iPXE or not, is being told what to
 * boot. Called on the server's thread before each answer: it must not
 * block. A negative errno (too many machines, say) is logged; the answer
 * is sent anyway. */
typedef int (*aur_dhcp_seen_fn)(void *ctx, const char *mac, int arch,
				bool ipxe);

struct aur_dhcp_opts {
	/* the address to announce and the interface to serve (the one
	 * holding it); NULL or "0.0.0.0": every interface, each reply
	 * announcing the address of the interface the request came in on */
	const char *listen_addr;
	uint16_t port; /* DHCP server port, 67; 0: an ephemeral port */
	uint16_t pxe_port; /* PXE boot server port, 4011; 0: ephemeral */
	uint16_t client_port; /* where broadcast replies go, 68 */
	uint16_t http_port; /* the HTTP server's, for URLs, 8090 */
	const char *bios_file; /* "netboot/undionly.kpxe" */
	const char *efi_file; /* "netboot/ipxe.efi" */
	const char *http_efi_file; /* "netboot/ipxe.efi" */
	const char *ipxe_script; /* "netboot/{mac}/ipxe" */
	aur_dhcp_seen_fn seen; /* optional */
	void *seen_ctx;
};

/* Fill @o with the defaults above. */
void aur_dhcp_opts_init(struct aur_dhcp_opts *o);

enum aur_dhcp_boot {
	AUR_DHCP_BOOT_BIOS, /* bios_file by TFTP */
	AUR_DHCP_BOOT_EFI, /* efi_file by TFTP */
	AUR_DHCP_BOOT_HTTP, /* http_efi_file by HTTP */
	AUR_DHCP_BOOT_IPXE, /* ipxe_script by HTTP */
};

enum aur_dhcp_verdict {
	AUR_DHCP_IGNORE, /* not for us: no reply, no log line */
	AUR_DHCP_REFUSE, /* a boot client we cannot serve: log, no reply */
	AUR_DHCP_ANSWER,
};

struct aur_dhcp_answer {
	char mac[18]; /* "aa:bb:cc:dd:ee:ff" (from REFUSE on) */
	int arch; /* option 93, or from the vendor class; -1 if unknown */
	bool ipxe; /* the client runs iPXE */
	enum aur_dhcp_boot boot; /* ANSWER only, as are the fields below */
	uint8_t type; /* AUR_DHCP_OFFER or AUR_DHCP_ACK */
	bool http; /* vendor class "HTTPClient" (else "PXEClient") */
	struct in_addr server; /* announced: siaddr, sname and option 54 */
	char file[AUR_DHCP_FILE_MAX + 1]; /* boot file name or URL */
};

/*
 * Decide what to answer to request @m, which came in on the PXE port if
 * @on_pxe_port (else on the DHCP port), when this server's address on
 * that link is @server. Fills @a; on IGNORE and REFUSE, *@why (if not
 * NULL) says why, as a static string.
 */
enum aur_dhcp_verdict aur_dhcp_decide(const struct aur_dhcp_opts *o,
				      const struct aur_dhcp_msg *m,
				      bool on_pxe_port, struct in_addr server,
				      struct aur_dhcp_answer *a,
				      const char **why);

/* The boot file of @boot for machine @mac through @server, into @out: a
 * TFTP file as given, an HTTP one made a URL on @server and
 * @o->http_port unless it holds "://"; "{mac}" replaced by @mac. 0, or
 * -ENAMETOOLONG (@out then holds what fitted). */
int aur_dhcp_boot_file(const struct aur_dhcp_opts *o, enum aur_dhcp_boot boot,
		       const char *mac, struct in_addr server,
		       char out[AUR_DHCP_FILE_MAX + 1]);

/* "x86-64 UEFI" and the like for an option 93 value ("unknown" for -1,
 * "arch <n>" beyond the table, into @buf of 16 bytes) */
const char *aur_dhcp_arch_name(int arch, char buf[16]);

/* ---- building the reply ---- */

/*
 * Build the reply to @m carrying @a into @buf (@cap bytes): op BOOTREPLY,
 * m's xid, flags, giaddr, htype, hlen and chaddr (and ciaddr for an ACK),
 * yiaddr 0, siaddr and sname the server, file the boot file; options 53,
 * 54, 60, 97 (echoed), 43 (PXEClient: discovery control "use the file"),
 * 66 and 67 (when asked for in option 55; 67 always for HTTPClient), 255;
 * zero-padded to AUR_DHCP_MIN_REPLY. Never longer than m's option 57
 * allows (at least AUR_DHCP_MIN_MAX_SIZE, IP and UDP headers included).
 * The reply's length, or -EMSGSIZE if it does not fit.
 */
ssize_t aur_dhcp_build(const struct aur_dhcp_msg *m,
		       const struct aur_dhcp_answer *a, uint8_t *buf,
		       size_t cap);

/* Where the reply to @m goes, @m having come from @src on the PXE port
 * if @on_pxe_port: back to @src (PXE port); to giaddr on @o->port
 * (relayed); to ciaddr on @o->client_port; else broadcast to
 * 255.255.255.255 on @o->client_port, on the link it came in on
 * (returns true then). */
bool aur_dhcp_destination(const struct aur_dhcp_opts *o,
			  const struct aur_dhcp_msg *m, bool on_pxe_port,
			  const struct sockaddr_in *src,
			  struct sockaddr_in *dst);

/* ---- the server ---- */

struct aur_dhcp_server;

/*
 * Check @o (copied) and bind the two UDP sockets (SO_REUSEADDR,
 * SO_BROADCAST, IP_PKTINFO) to 0.0.0.0 on @o->port and @o->pxe_port:
 * binding to listen_addr itself would not receive the broadcasts clients
 * send before they have an address, so with a listen_addr the sockets
 * are bound to its interface with SO_BINDTODEVICE instead (needs
 * CAP_NET_RAW). Logs and returns -EINVAL (a bad option, a boot file name
 * that could outgrow AUR_DHCP_FILE_MAX), -EADDRNOTAVAIL (no interface
 * holds listen_addr), bind's -EADDRINUSE or -EACCES, setsockopt's
 * -EPERM, -ENOMEM. Nothing runs until aur_dhcp_start.
 */
int aur_dhcp_open(const struct aur_dhcp_opts *o, struct aur_dhcp_server **out);

/* Start answering, on one thread of the server's: 0, -EBUSY if started
 * already, or pthread_create's -errno. */
int aur_dhcp_start(struct aur_dhcp_server *s);

/* Stop the thread, close the sockets, free @s. NULL-safe. */
void aur_dhcp_close(struct aur_dhcp_server *s);

/* The bound ports (useful when the options asked for ephemeral ones). */
uint16_t aur_dhcp_port(const struct aur_dhcp_server *s);
uint16_t aur_dhcp_pxe_port(const struct aur_dhcp_server *s);

#endif
