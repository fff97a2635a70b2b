// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The ProxyDHCP protocol without sockets (dhcp.h): a message parsed with
 * every read checked against the end of its area, the answer decided from
 * the client's vendor class, architecture and user class, and the reply
 * built into the caller's buffer.
 */
#include <aurora/dhcp.h>
#include <aurora/util.h>

#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

_Static_assert(sizeof(struct aur_dhcp_header) == AUR_DHCP_HEADER_SIZE,
	       "the BOOTP header is 236 bytes and the cookie 4");

static const char pxe_class[] = "PXEClient";
static const char http_class[] = "HTTPClient";
static const char ipxe_user_class[] = "iPXE";
static const char mac_placeholder[] = "{mac}";

/* ---- parsing ---- */

/* The options the server reads, joined across instances (RFC 3396). */
static const uint8_t wanted[] = {
	AUR_DHCP_OPT_VENDOR,	AUR_DHCP_OPT_OVERLOAD, AUR_DHCP_OPT_MSG_TYPE,
	AUR_DHCP_OPT_SERVER_ID, AUR_DHCP_OPT_PARAMS,   AUR_DHCP_OPT_MAX_SIZE,
	AUR_DHCP_OPT_CLASS_ID,	AUR_DHCP_OPT_BOOTFILE, AUR_DHCP_OPT_USER_CLASS,
	AUR_DHCP_OPT_ARCH,	AUR_DHCP_OPT_UUID,     AUR_DHCP_OPT_IPXE,
};

struct joined {
	bool present;
	size_t len; /* all of it; data holds the first AUR_DHCP_OPT_DATA_MAX */
	uint8_t data[AUR_DHCP_OPT_DATA_MAX];
};

struct options {
	struct joined opt[AUR_ARRAY_SIZE(wanted)];
};

static struct joined *find(struct options *o, uint8_t code)
{
	for (size_t i = 0; i < AUR_ARRAY_SIZE(wanted); i++)
		if (wanted[i] == code)
			return &o->opt[i];
	return NULL;
}

static void join(struct options *o, uint8_t code, const uint8_t *p, size_t n)
{
	struct joined *j = find(o, code);
	size_t at;

	if (!j)
		return;
	at = AUR_MIN(j->len, sizeof(j->data));
	memcpy(j->data + at, p, AUR_MIN(n, sizeof(j->data) - at));
	j->len += n;
	j->present = true;
}

static int bad(char err[AUR_DHCP_ERRLEN], const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static int bad(char err[AUR_DHCP_ERRLEN], const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, AUR_DHCP_ERRLEN, fmt, ap);
	va_end(ap);
	return -EBADMSG;
}

/* Walk the options of one area (@area names it), up to END or its end.
 * A missing END is tolerated; an option that runs past the end is not. */
static int walk(const uint8_t *p, const uint8_t *end, const char *area,
		struct options *o, char err[AUR_DHCP_ERRLEN])
{
	const uint8_t *start = p;

	while (p < end) {
		uint8_t code = *p++;
		size_t n;

		if (code == AUR_DHCP_OPT_PAD)
			continue;
		if (code == AUR_DHCP_OPT_END)
			return 0;
		if (p == end)
			return bad(
				err,
				"option %u at byte %td of the %s has no length",
				code, p - 1 - start, area);
		n = *p++;
		if (n > (size_t)(end - p))
			return bad(err,
				   "option %u at byte %td of the %s runs past "
				   "its end (%zu bytes, %td left)",
				   code, p - 2 - start, area, n, end - p);
		join(o, code, p, n);
		p += n;
	}
	return 0;
}

/* An option that must be @n bytes when present. */
static int check_len(const struct joined *j, uint8_t code, size_t n,
		     char err[AUR_DHCP_ERRLEN])
{
	if (j->present && j->len != n)
		return bad(err, "option %u is %zu bytes, not %zu", code, j->len,
			   n);
	return 0;
}

static int walk_all(const uint8_t *buf, size_t len,
		    const struct aur_dhcp_msg *m, struct options *o,
		    char err[AUR_DHCP_ERRLEN])
{
	const struct joined *overload;
	int r;

	r = walk(buf + AUR_DHCP_HEADER_SIZE, buf + len, "options field", o,
		 err);
	if (r < 0)
		return r;
	/* only the options field may say that file and sname hold options */
	overload = find(o, AUR_DHCP_OPT_OVERLOAD);
	if (!overload->present)
		return 0;
	if (overload->len != 1 || overload->data[0] < 1 ||
	    overload->data[0] > 3)
		return bad(err,
			   "option 52 (overload) is not one byte of 1 to 3");
	if (overload->data[0] & 1) {
		const uint8_t *f = (const uint8_t *)m->hdr.file;

		r = walk(f, f + sizeof(m->hdr.file), "file field", o, err);
		if (r < 0)
			return r;
	}
	if (overload->data[0] & 2) {
		const uint8_t *s = (const uint8_t *)m->hdr.sname;

		r = walk(s, s + sizeof(m->hdr.sname), "sname field", o, err);
	}
	return r;
}

/* Copy a joined option as a NUL-terminated string (it may hold NULs of
 * its own: the length says where it ends). */
static size_t copy_text(const struct joined *j, char *out)
{
	size_t n = AUR_MIN(j->len, (size_t)AUR_DHCP_OPT_DATA_MAX);

	memcpy(out, j->data, n);
	out[n] = '\0';
	return j->len;
}

static int check_fixed(struct options *o, char err[AUR_DHCP_ERRLEN])
{
	const struct joined *arch = find(o, AUR_DHCP_OPT_ARCH);
	int r;

	r = check_len(find(o, AUR_DHCP_OPT_MSG_TYPE), AUR_DHCP_OPT_MSG_TYPE, 1,
		      err);
	if (!r)
		r = check_len(find(o, AUR_DHCP_OPT_SERVER_ID),
			      AUR_DHCP_OPT_SERVER_ID, 4, err);
	if (!r)
		r = check_len(find(o, AUR_DHCP_OPT_MAX_SIZE),
			      AUR_DHCP_OPT_MAX_SIZE, 2, err);
	if (!r && arch->present && (arch->len < 2 || arch->len % 2))
		r = bad(err, "option 93 (architecture) is %zu bytes, not pairs",
			arch->len);
	return r;
}

static void fill(struct aur_dhcp_msg *m, struct options *o)
{
	const struct joined *j;

	j = find(o, AUR_DHCP_OPT_MSG_TYPE);
	m->type = j->present ? j->data[0] : 0;
	j = find(o, AUR_DHCP_OPT_SERVER_ID);
	m->has_server_id = j->present;
	memcpy(&m->server_id, j->data, sizeof(m->server_id));
	j = find(o, AUR_DHCP_OPT_MAX_SIZE);
	m->max_size = j->present ? (uint16_t)(j->data[0] << 8 | j->data[1]) : 0;
	j = find(o, AUR_DHCP_OPT_ARCH);
	m->has_arch = j->present;
	m->arch = j->present ? (uint16_t)(j->data[0] << 8 | j->data[1]) : 0;
	/* a UUID is a type (0) and 16 bytes; anything else is not echoed */
	j = find(o, AUR_DHCP_OPT_UUID);
	m->has_uuid = j->present && j->len == sizeof(m->uuid);
	memcpy(m->uuid, j->data, sizeof(m->uuid));
	m->has_ipxe = find(o, AUR_DHCP_OPT_IPXE)->present;
	j = find(o, AUR_DHCP_OPT_PARAMS);
	for (size_t i = 0; i < AUR_MIN(j->len, sizeof(j->data)); i++)
		m->params[j->data[i] / 8] |= (uint8_t)(1u << (j->data[i] % 8));
	m->class_id_len =
		copy_text(find(o, AUR_DHCP_OPT_CLASS_ID), m->class_id);
	m->user_class_len =
		copy_text(find(o, AUR_DHCP_OPT_USER_CLASS), m->user_class);
	m->bootfile_len =
		copy_text(find(o, AUR_DHCP_OPT_BOOTFILE), m->bootfile);
	j = find(o, AUR_DHCP_OPT_VENDOR);
	m->vendor_len = j->len;
	memcpy(m->vendor, j->data, sizeof(m->vendor));
}

int aur_dhcp_parse(const uint8_t *buf, size_t len, struct aur_dhcp_msg *m,
		   char err[AUR_DHCP_ERRLEN])
{
	struct options o;
	int r;

	memset(m, 0, sizeof(*m));
	memset(&o, 0, sizeof(o));
	if (len < AUR_DHCP_HEADER_SIZE)
		return bad(err, "%zu bytes, shorter than the %d-byte header",
			   len, AUR_DHCP_HEADER_SIZE);
	memcpy(&m->hdr, buf, sizeof(m->hdr));
	if (m->hdr.op != AUR_DHCP_BOOTREQUEST &&
	    m->hdr.op != AUR_DHCP_BOOTREPLY)
		return bad(err, "op %u is neither a request nor a reply",
			   m->hdr.op);
	if (ntohl(m->hdr.magic) != AUR_DHCP_MAGIC)
		return bad(err, "no DHCP magic cookie (0x%08x)",
			   ntohl(m->hdr.magic));
	if (m->hdr.hlen > sizeof(m->hdr.chaddr))
		return bad(err, "hlen %u is longer than chaddr", m->hdr.hlen);
	r = walk_all(buf, len, m, &o, err);
	if (!r)
		r = check_fixed(&o, err);
	if (r < 0)
		return r;
	fill(m, &o);
	return 0;
}

bool aur_dhcp_wants(const struct aur_dhcp_msg *m, uint8_t code)
{
	return m->params[code / 8] & (1u << (code % 8));
}

/* ---- deciding ---- */

void aur_dhcp_opts_init(struct aur_dhcp_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->port = 67;
	o->pxe_port = 4011;
	o->client_port = 68;
	o->http_port = 8090;
	o->bios_file = "netboot/undionly.kpxe";
	o->efi_file = "netboot/ipxe.efi";
	o->http_efi_file = "netboot/ipxe.efi";
	o->ipxe_script = "netboot/{mac}/ipxe";
}

static bool has_prefix(const struct aur_dhcp_msg *m, const char *prefix)
{
	size_t n = strlen(prefix);

	return m->class_id_len >= n && memcmp(m->class_id, prefix, n) == 0;
}

/* The architecture in a vendor class "PXEClient:Arch:00000:UNDI:002001",
 * or -1. */
static int class_arch(const struct aur_dhcp_msg *m, size_t prefix)
{
	static const char tag[] = ":Arch:";
	const char *p = m->class_id + prefix;
	int arch = 0;

	if (m->class_id_len < prefix + strlen(tag) + 5 ||
	    memcmp(p, tag, strlen(tag)) != 0)
		return -1;
	p += strlen(tag);
	for (int i = 0; i < 5; i++) {
		if (p[i] < '0' || p[i] > '9')
			return -1;
		arch = arch * 10 + (p[i] - '0');
	}
	return arch <= UINT16_MAX ? arch : -1;
}

static bool runs_ipxe(const struct aur_dhcp_msg *m)
{
	return m->has_ipxe || (m->user_class_len == strlen(ipxe_user_class) &&
			       memcmp(m->user_class, ipxe_user_class,
				      strlen(ipxe_user_class)) == 0);
}

/* The reply's message type, or 0 to stay silent. */
static uint8_t reply_type(const struct aur_dhcp_msg *m, bool on_pxe_port,
			  struct in_addr server, const char **why)
{
	if (on_pxe_port) {
		if (m->type == AUR_DHCP_REQUEST)
			return AUR_DHCP_ACK;
		*why = "only DHCPREQUEST is answered on the PXE port";
		return 0;
	}
	if (m->type == AUR_DHCP_DISCOVER)
		return AUR_DHCP_OFFER;
	if (m->type != AUR_DHCP_REQUEST) {
		*why = "neither a DHCPDISCOVER nor a DHCPREQUEST";
		return 0;
	}
	/* without option 54 it is a renewal or a reboot, meant for the
	 * server that leased the address: an ACK from us would race its */
	if (!m->has_server_id || m->server_id.s_addr != server.s_addr) {
		*why = "a DHCPREQUEST not naming this server";
		return 0;
	}
	return AUR_DHCP_ACK;
}

static int choose(struct aur_dhcp_answer *a, const char **why)
{
	if (a->ipxe) {
		a->boot = AUR_DHCP_BOOT_IPXE;
		return 0;
	}
	if (a->arch < 0) {
		*why = "no client architecture (option 93)";
		return -1;
	}
	if (a->http) {
		if (a->arch == AUR_DHCP_ARCH_EFI_X64_HTTP) {
			a->boot = AUR_DHCP_BOOT_HTTP;
			return 0;
		}
		*why = "HTTP boot of this architecture is not served";
		return -1;
	}
	switch (a->arch) {
	case AUR_DHCP_ARCH_BIOS:
		a->boot = AUR_DHCP_BOOT_BIOS;
		return 0;
	case AUR_DHCP_ARCH_EFI_BC:
	case AUR_DHCP_ARCH_EFI_X64:
		a->boot = AUR_DHCP_BOOT_EFI;
		return 0;
	default:
		*why = "PXE boot of this architecture is not served";
		return -1;
	}
}

/* A bounded string under construction. */
struct text {
	char *p;
	size_t len, cap; /* cap counts the NUL */
	bool overflow;
};

static void put(struct text *t, const char *s, size_t n)
{
	if (t->overflow || t->len + n >= t->cap) {
		t->overflow = true;
		return;
	}
	memcpy(t->p + t->len, s, n);
	t->len += n;
	t->p[t->len] = '\0';
}

/* @tmpl with every "{mac}" replaced by @mac */
static void put_expanded(struct text *t, const char *tmpl, const char *mac)
{
	const char *at;

	while ((at = strstr(tmpl, mac_placeholder))) {
		put(t, tmpl, (size_t)(at - tmpl));
		put(t, mac, strlen(mac));
		tmpl = at + strlen(mac_placeholder);
	}
	put(t, tmpl, strlen(tmpl));
}

int aur_dhcp_boot_file(const struct aur_dhcp_opts *o, enum aur_dhcp_boot boot,
		       const char *mac, struct in_addr server,
		       char out[AUR_DHCP_FILE_MAX + 1])
{
	struct text t = {out, 0, AUR_DHCP_FILE_MAX + 1, false};
	const char *tmpl;
	char host[INET_ADDRSTRLEN], port[8];

	switch (boot) {
	case AUR_DHCP_BOOT_BIOS:
		tmpl = o->bios_file;
		break;
	case AUR_DHCP_BOOT_EFI:
		tmpl = o->efi_file;
		break;
	case AUR_DHCP_BOOT_HTTP:
		tmpl = o->http_efi_file;
		break;
	default:
		tmpl = o->ipxe_script;
		break;
	}
	out[0] = '\0';
	if ((boot == AUR_DHCP_BOOT_HTTP || boot == AUR_DHCP_BOOT_IPXE) &&
	    !strstr(tmpl, "://")) {
		inet_ntop(AF_INET, &server, host, sizeof(host));
		snprintf(port, sizeof(port), "%u", o->http_port);
		put(&t, "http://", 7);
		put(&t, host, strlen(host));
		put(&t, ":", 1);
		put(&t, port, strlen(port));
		put(&t, "/", 1);
		while (*tmpl == '/')
			tmpl++;
	}
	put_expanded(&t, tmpl, mac);
	return t.overflow ? -ENAMETOOLONG : 0;
}

static enum aur_dhcp_verdict ignore(const char **why, const char *reason)
{
	*why = reason;
	return AUR_DHCP_IGNORE;
}

enum aur_dhcp_verdict aur_dhcp_decide(const struct aur_dhcp_opts *o,
				      const struct aur_dhcp_msg *m,
				      bool on_pxe_port, struct in_addr server,
				      struct aur_dhcp_answer *a,
				      const char **why)
{
	const char *reason = NULL;
	const uint8_t *mac = m->hdr.chaddr;

	if (!why)
		why = &reason;
	memset(a, 0, sizeof(*a));
	a->arch = -1;
	if (m->hdr.op != AUR_DHCP_BOOTREQUEST)
		return ignore(why, "not a request");
	a->http = has_prefix(m, http_class);
	if (!a->http && !has_prefix(m, pxe_class))
		return ignore(why, "not a PXE or HTTP boot client");
	if (server.s_addr == htonl(INADDR_ANY))
		return ignore(why, "no address of ours on this link");
	a->type = reply_type(m, on_pxe_port, server, why);
	if (!a->type)
		return AUR_DHCP_IGNORE;
	if (m->hdr.htype != AUR_DHCP_HTYPE_ETHER || m->hdr.hlen != 6)
		return ignore(why, "not an Ethernet client");
	snprintf(a->mac, sizeof(a->mac), "%02x:%02x:%02x:%02x:%02x:%02x",
		 mac[0], mac[1], mac[2], mac[3], mac[4], mac[5]);
	a->arch = m->has_arch ? m->arch
			      : class_arch(m, a->http ? strlen(http_class)
						      : strlen(pxe_class));
	a->ipxe = runs_ipxe(m);
	if (choose(a, why) < 0)
		return AUR_DHCP_REFUSE;
	a->server = server;
	if (aur_dhcp_boot_file(o, a->boot, a->mac, server, a->file) < 0) {
		*why = "the boot file name is longer than the file field";
		return AUR_DHCP_REFUSE;
	}
	return AUR_DHCP_ANSWER;
}

const char *aur_dhcp_arch_name(int arch, char buf[16])
{
	static const char *const names[] = {
		[0] = "x86 BIOS",	  [1] = "NEC PC-98",
		[2] = "Itanium UEFI",	  [6] = "x86 UEFI",
		[7] = "x86-64 UEFI",	  [8] = "Xscale UEFI",
		[9] = "x86-64 UEFI",	  [10] = "ARM 32-bit UEFI",
		[11] = "ARM 64-bit UEFI", [12] = "PowerPC OF",
		[15] = "x86 UEFI HTTP",	  [16] = "x86-64 UEFI HTTP",
		[17] = "EBC UEFI HTTP",	  [18] = "ARM 32-bit HTTP",
		[19] = "ARM 64-bit HTTP", [20] = "x86 BIOS HTTP",
		[25] = "RISC-V 32 UEFI",  [27] = "RISC-V 64 UEFI",
	};

	if (arch < 0)
		return "unknown";
	if ((size_t)arch < AUR_ARRAY_SIZE(names) && names[arch])
		return names[arch];
	snprintf(buf, 16, "arch %d", arch);
	return buf;
}

/* ---- building ---- */

struct reply {
	uint8_t *buf;
	size_t len, limit; /* limit keeps a byte for END */
	bool full;
};

static void put_option(struct reply *r, uint8_t code, const void *data,
		       size_t n)
{
	if (n > AUR_DHCP_OPT_DATA_MAX || r->len + 2 + n > r->limit) {
		r->full = true;
		return;
	}
	r->buf[r->len++] = code;
	r->buf[r->len++] = (uint8_t)n;
	memcpy(r->buf + r->len, data, n);
	r->len += n;
}

static void put_header(const struct aur_dhcp_msg *m,
		       const struct aur_dhcp_answer *a, uint8_t *buf)
{
	struct aur_dhcp_header h;

	memset(&h, 0, sizeof(h));
	h.op = AUR_DHCP_BOOTREPLY;
	h.htype = m->hdr.htype;
	h.hlen = m->hdr.hlen;
	h.xid = m->hdr.xid;
	h.flags = m->hdr.flags;
	if (a->type == AUR_DHCP_ACK)
		h.ciaddr = m->hdr.ciaddr;
	h.siaddr = a->server;
	h.giaddr = m->hdr.giaddr;
	memcpy(h.chaddr, m->hdr.chaddr, sizeof(h.chaddr));
	inet_ntop(AF_INET, &a->server, h.sname, sizeof(h.sname));
	memcpy(h.file, a->file, strnlen(a->file, sizeof(h.file) - 1));
	h.magic = htonl(AUR_DHCP_MAGIC);
	memcpy(buf, &h, sizeof(h));
}

static void put_options(struct reply *r, const struct aur_dhcp_msg *m,
			const struct aur_dhcp_answer *a)
{
	static const uint8_t pxe_vendor[] = {AUR_PXE_DISCOVERY_CONTROL, 1,
					     AUR_PXE_DISCOVERY_USE_FILE,
					     AUR_DHCP_OPT_END};
	const char *class = a->http ? http_class : pxe_class;
	char sname[INET_ADDRSTRLEN];

	put_option(r, AUR_DHCP_OPT_MSG_TYPE, &a->type, 1);
	put_option(r, AUR_DHCP_OPT_SERVER_ID, &a->server, 4);
	put_option(r, AUR_DHCP_OPT_CLASS_ID, class, strlen(class));
	if (m->has_uuid)
		put_option(r, AUR_DHCP_OPT_UUID, m->uuid, sizeof(m->uuid));
	if (!a->http)
		put_option(r, AUR_DHCP_OPT_VENDOR, pxe_vendor,
			   sizeof(pxe_vendor));
	if (aur_dhcp_wants(m, AUR_DHCP_OPT_TFTP_SERVER)) {
		inet_ntop(AF_INET, &a->server, sname, sizeof(sname));
		put_option(r, AUR_DHCP_OPT_TFTP_SERVER, sname, strlen(sname));
	}
	if (a->http || aur_dhcp_wants(m, AUR_DHCP_OPT_BOOTFILE))
		put_option(r, AUR_DHCP_OPT_BOOTFILE, a->file, strlen(a->file));
}

ssize_t aur_dhcp_build(const struct aur_dhcp_msg *m,
		       const struct aur_dhcp_answer *a, uint8_t *buf,
		       size_t cap)
{
	size_t max_size =
		AUR_MAX((size_t)m->max_size, (size_t)AUR_DHCP_MIN_MAX_SIZE);
	size_t limit = AUR_MIN(cap, max_size - AUR_DHCP_IP_UDP_SIZE);
	struct reply r = {buf, AUR_DHCP_HEADER_SIZE, 0, false};

	if (limit < AUR_DHCP_HEADER_SIZE + 1)
		return -EMSGSIZE;
	r.limit = limit - 1;
	put_header(m, a, buf);
	put_options(&r, m, a);
	if (r.full)
		return -EMSGSIZE;
	buf[r.len++] = AUR_DHCP_OPT_END;
	if (r.len < AUR_MIN(limit, (size_t)AUR_DHCP_MIN_REPLY)) {
		size_t to = AUR_MIN(limit, (size_t)AUR_DHCP_MIN_REPLY);

		memset(buf + r.len, AUR_DHCP_OPT_PAD, to - r.len);
		r.len = to;
	}
	return (ssize_t)r.len;
}

bool aur_dhcp_destination(const struct aur_dhcp_opts *o,
			  const struct aur_dhcp_msg *m, bool on_pxe_port,
			  const struct sockaddr_in *src,
			  struct sockaddr_in *dst)
{
	memset(dst, 0, sizeof(*dst));
	dst->sin_family = AF_INET;
	if (on_pxe_port) {
		dst->sin_addr = src->sin_addr;
		dst->sin_port = src->sin_port;
		return false;
	}
	if (m->hdr.giaddr.s_addr != htonl(INADDR_ANY)) {
		dst->sin_addr = m->hdr.giaddr;
		dst->sin_port = htons(o->port);
		return false;
	}
	dst->sin_port = htons(o->client_port);
	if (m->hdr.ciaddr.s_addr != htonl(INADDR_ANY)) {
		dst->sin_addr = m->hdr.ciaddr;
		return false;
	}
	dst->sin_addr.s_addr = htonl(INADDR_BROADCAST);
	return true;
}
