// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Fuzz target: the ProxyDHCP protocol (dhcp.h). A message that parses is
 * decided on as if it came in on either port; every answer must build
 * within what the client accepts, and the reply must parse back with the
 * client's xid, flags, chaddr and giaddr, the decided type, server and
 * boot file, no address leased and the UUID echoed; a smaller buffer
 * must be refused or filled without overrun.
 */
#include <aurora/dhcp.h>
#include <aurora/log.h>
#include <aurora/util.h>

#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

static struct aur_dhcp_opts opts;

static void quiet(void *ctx, int level, const char *msg)
{
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	aur_log_set_sink(quiet, NULL);
	aur_dhcp_opts_init(&opts);
	opts.ipxe_script = "/boot/{mac}/{mac}.ipxe";
	opts.http_efi_file = "https://boot.example/{mac}.efi";
	return 0;
}

static void check_reply(const struct aur_dhcp_msg *m,
			const struct aur_dhcp_answer *a, const uint8_t *buf,
			size_t len)
{
	struct aur_dhcp_msg r;
	char err[AUR_DHCP_ERRLEN];
	const char *class = a->http ? "HTTPClient" : "PXEClient";

	if (aur_dhcp_parse(buf, len, &r, err) < 0)
		abort();
	if (r.hdr.op != AUR_DHCP_BOOTREPLY || r.hdr.xid != m->hdr.xid ||
	    r.hdr.flags != m->hdr.flags ||
	    r.hdr.giaddr.s_addr != m->hdr.giaddr.s_addr ||
	    memcmp(r.hdr.chaddr, m->hdr.chaddr, sizeof(r.hdr.chaddr)) != 0 ||
	    r.hdr.yiaddr.s_addr != 0)
		abort();
	if (r.type != a->type || !r.has_server_id ||
	    r.server_id.s_addr != a->server.s_addr ||
	    r.hdr.siaddr.s_addr != a->server.s_addr)
		abort();
	if (r.class_id_len != strlen(class) || strcmp(r.class_id, class) != 0)
		abort();
	if (strcmp(r.hdr.file, a->file) != 0 ||
	    (r.bootfile_len && strcmp(r.bootfile, a->file) != 0))
		abort();
	if (r.has_uuid != m->has_uuid ||
	    (m->has_uuid && memcmp(r.uuid, m->uuid, sizeof(r.uuid)) != 0))
		abort();
}

static void answer(const struct aur_dhcp_msg *m, bool on_pxe_port,
		   struct in_addr server, size_t small)
{
	struct aur_dhcp_answer a;
	struct sockaddr_in src = {.sin_family = AF_INET}, dst;
	const char *why = NULL;
	uint8_t buf[AUR_DHCP_PACKET_MAX];
	size_t limit =
		AUR_MAX((size_t)m->max_size, (size_t)AUR_DHCP_MIN_MAX_SIZE) -
		AUR_DHCP_IP_UDP_SIZE;
	char name[16];
	ssize_t n;

	switch (aur_dhcp_decide(&opts, m, on_pxe_port, server, &a, &why)) {
	case AUR_DHCP_IGNORE:
		if (!why)
			abort();
		return;
	case AUR_DHCP_REFUSE:
		if (!why || strlen(a.mac) != 17 ||
		    !aur_dhcp_arch_name(a.arch, name))
			abort();
		return;
	case AUR_DHCP_ANSWER:
		break;
	}
	n = aur_dhcp_build(m, &a, buf, sizeof(buf));
	if (n < AUR_DHCP_HEADER_SIZE || (size_t)n > limit ||
	    (size_t)n < AUR_MIN(limit, (size_t)AUR_DHCP_MIN_REPLY))
		abort();
	check_reply(m, &a, buf, (size_t)n);
	n = aur_dhcp_build(m, &a, buf, small);
	if (n != -EMSGSIZE && (n < AUR_DHCP_HEADER_SIZE || (size_t)n > small))
		abort();
	if (n > 0)
		check_reply(m, &a, buf, (size_t)n);
	if (aur_dhcp_destination(&opts, m, on_pxe_port, &src, &dst) !=
	    (!on_pxe_port && m->hdr.giaddr.s_addr == 0 &&
	     m->hdr.ciaddr.s_addr == 0))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct aur_dhcp_msg m;
	char err[AUR_DHCP_ERRLEN];
	struct in_addr server = {htonl(0x0a000001)};

	err[0] = '\0';
	if (aur_dhcp_parse(data, size, &m, err) < 0) {
		if (!err[0] || !memchr(err, '\0', sizeof(err)))
			abort();
		return 0;
	}
	/* a request naming a server: be that server half the time */
	if (m.has_server_id && m.server_id.s_addr && (size & 1))
		server = m.server_id;
	answer(&m, false, server, AUR_DHCP_HEADER_SIZE + size % 320);
	answer(&m, true, server, AUR_DHCP_HEADER_SIZE + size % 320);
	return 0;
}
