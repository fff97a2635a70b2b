// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The ProxyDHCP server (dhcp.h): two UDP sockets (the DHCP port and the
 * PXE boot-server port) served by one thread. Each request is handled on
 * its own, with no state kept per client; the only table is a bounded
 * one of what was logged lately, so that a client retrying every few
 * seconds is logged once a minute and a flood of MACs costs no memory.
 */
#include <aurora/dhcp.h>
#include <aurora/log.h>
#include <aurora/util.h>

#include <arpa/inet.h>
#include <errno.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define RECENT_MAX 256
#define RECENT_WINDOW_MS 60000

/* What was said about a machine lately. */
struct recent {
	char mac[18]; /* "" for a free slot */
	enum aur_dhcp_verdict verdict;
	enum aur_dhcp_boot boot;
	int arch;
	bool ipxe;
	uint64_t when_ms;
};

/* The owned copies of the options' strings. */
enum { STR_LISTEN, STR_BIOS, STR_EFI, STR_HTTP_EFI, STR_SCRIPT, STR_COUNT };

struct aur_dhcp_server {
	struct aur_dhcp_opts o; /* strings point into strs; real ports */
	char *strs[STR_COUNT];
	struct in_addr listen; /* INADDR_ANY: every interface */
	char ifname[IF_NAMESIZE]; /* the one holding listen, if any */
	int fd; /* the DHCP port */
	int pxe_fd; /* the PXE port */
	int stop_fd; /* an eventfd: written by aur_dhcp_close */
	pthread_t thread;
	bool running;
	struct recent recent[RECENT_MAX]; /* the thread's alone */
};

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* ---- opening ---- */

static int copy_strings(struct aur_dhcp_server *s,
			const struct aur_dhcp_opts *o)
{
	const char *from[STR_COUNT] = {
		o->listen_addr ? o->listen_addr : "0.0.0.0", o->bios_file,
		o->efi_file, o->http_efi_file, o->ipxe_script};
	const char **to[STR_COUNT] = {&s->o.listen_addr, &s->o.bios_file,
				      &s->o.efi_file, &s->o.http_efi_file,
				      &s->o.ipxe_script};

	for (int i = 0; i < STR_COUNT; i++) {
		if (!from[i]) {
			aur_err("DHCP: a boot file name is missing from the "
				"options");
			return -EINVAL;
		}
		s->strs[i] = strdup(from[i]);
		if (!s->strs[i])
			return -ENOMEM;
		*to[i] = s->strs[i];
	}
	return 0;
}

/* Every boot file must fit the file field for the longest MAC, address
 * and port: answers can then never be refused for their length. */
static int check_names(const struct aur_dhcp_server *s)
{
	static const enum aur_dhcp_boot boots[] = {
		AUR_DHCP_BOOT_BIOS, AUR_DHCP_BOOT_EFI, AUR_DHCP_BOOT_HTTP,
		AUR_DHCP_BOOT_IPXE};
	struct aur_dhcp_opts widest = s->o;
	struct in_addr longest = {htonl(0xfffffffe)}; /* 255.255.255.254 */
	char file[AUR_DHCP_FILE_MAX + 1];

	widest.http_port = UINT16_MAX;
	for (size_t i = 0; i < AUR_ARRAY_SIZE(boots); i++) {
		if (aur_dhcp_boot_file(&widest, boots[i], "ff:ff:ff:ff:ff:ff",
				       longest, file) < 0) {
			aur_err("DHCP: boot file '%s' could outgrow the %d "
				"bytes of the file field",
				file, AUR_DHCP_FILE_MAX);
			return -EINVAL;
		}
	}
	return 0;
}

/* The interface holding @addr, into @ifname. */
static int find_interface(struct in_addr addr, char ifname[IF_NAMESIZE])
{
	struct ifaddrs *all, *i;
	int r = -EADDRNOTAVAIL;

	if (getifaddrs(&all) < 0)
		return -errno;
	for (i = all; i; i = i->ifa_next) {
		const struct sockaddr_in *sin =
			(const struct sockaddr_in *)i->ifa_addr;

		if (sin && sin->sin_family == AF_INET &&
		    sin->sin_addr.s_addr == addr.s_addr) {
			snprintf(ifname, IF_NAMESIZE, "%s", i->ifa_name);
			r = 0;
			break;
		}
	}
	freeifaddrs(all);
	return r;
}

static int set_int(int fd, int level, int name)
{
	int one = 1;

	return setsockopt(fd, level, name, &one, sizeof(one));
}

/* A UDP socket on 0.0.0.0:@port (its interface's, with one), ready for
 * broadcasts and IP_PKTINFO. The bound port in *@port. */
static int open_socket(const struct aur_dhcp_server *s, uint16_t *port)
{
	struct sockaddr_in sin = {.sin_family = AF_INET,
				  .sin_port = htons(*port),
				  .sin_addr.s_addr = htonl(INADDR_ANY)};
	socklen_t sl = sizeof(sin);
	const char *what = "socket";
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), r;

	if (fd < 0)
		goto fail;
	what = "SO_REUSEADDR, SO_BROADCAST or IP_PKTINFO";
	if (set_int(fd, SOL_SOCKET, SO_REUSEADDR) < 0 ||
	    set_int(fd, SOL_SOCKET, SO_BROADCAST) < 0 ||
	    set_int(fd, IPPROTO_IP, IP_PKTINFO) < 0)
		goto fail;
	what = "SO_BINDTODEVICE";
	if (s->ifname[0] &&
	    setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, s->ifname,
		       (socklen_t)strlen(s->ifname)) < 0)
		goto fail;
	what = "bind";
	if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0 ||
	    getsockname(fd, (struct sockaddr *)&sin, &sl) < 0)
		goto fail;
	*port = ntohs(sin.sin_port);
	return fd;
fail:
	r = -errno;
	aur_err("DHCP: UDP port %u%s%s: %s: %s", *port,
		s->ifname[0] ? " on " : "", s->ifname, what, strerror(-r));
	if (fd >= 0)
		close(fd);
	return r;
}

static int open_listen(struct aur_dhcp_server *s)
{
	int r;

	if (inet_pton(AF_INET, s->o.listen_addr, &s->listen) != 1) {
		aur_err("DHCP: listen address '%s' is not an IPv4 address",
			s->o.listen_addr);
		return -EINVAL;
	}
	if (s->listen.s_addr == htonl(INADDR_ANY))
		return 0;
	r = find_interface(s->listen, s->ifname);
	if (r < 0)
		aur_err("DHCP: no interface has the listen address %s: %s",
			s->o.listen_addr, strerror(-r));
	return r;
}

static int open_sockets(struct aur_dhcp_server *s)
{
	s->fd = open_socket(s, &s->o.port);
	if (s->fd < 0)
		return s->fd;
	s->pxe_fd = open_socket(s, &s->o.pxe_port);
	if (s->pxe_fd < 0)
		return s->pxe_fd;
	s->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	return s->stop_fd < 0 ? -errno : 0;
}

int aur_dhcp_open(const struct aur_dhcp_opts *o, struct aur_dhcp_server **out)
{
	struct aur_dhcp_server *s = calloc(1, sizeof(*s));
	int r;

	*out = NULL;
	if (!s)
		return -ENOMEM;
	s->o = *o;
	s->fd = s->pxe_fd = s->stop_fd = -1;
	r = copy_strings(s, o);
	if (!r && (!o->client_port || !o->http_port)) {
		aur_err("DHCP: the client and HTTP ports may not be 0");
		r = -EINVAL;
	}
	if (!r)
		r = check_names(s);
	if (!r)
		r = open_listen(s);
	if (!r)
		r = open_sockets(s);
	if (r < 0) {
		aur_dhcp_close(s);
		return r;
	}
	*out = s;
	return 0;
}

/* ---- answering ---- */

/* true if this (machine, verdict) was not logged within the window; the
 * table remembers it either way (replacing the oldest when full) */
static bool first_lately(struct aur_dhcp_server *s,
			 enum aur_dhcp_verdict verdict,
			 const struct aur_dhcp_answer *a)
{
	uint64_t now = now_ms();
	struct recent *slot = &s->recent[0];

	for (size_t i = 0; i < RECENT_MAX; i++) {
		struct recent *r = &s->recent[i];

		if (strcmp(r->mac, a->mac) == 0 && r->verdict == verdict &&
		    r->boot == a->boot && r->arch == a->arch &&
		    r->ipxe == a->ipxe) {
			if (now - r->when_ms < RECENT_WINDOW_MS)
				return false;
			slot = r;
			break;
		}
		if (r->when_ms < slot->when_ms)
			slot = r;
	}
	snprintf(slot->mac, sizeof(slot->mac), "%s", a->mac);
	slot->verdict = verdict;
	slot->boot = a->boot;
	slot->arch = a->arch;
	slot->ipxe = a->ipxe;
	slot->when_ms = now;
	return true;
}

static void note_answer(struct aur_dhcp_server *s,
			const struct aur_dhcp_answer *a)
{
	char buf[16];
	int r;

	if (s->o.seen) {
		r = s->o.seen(s->o.seen_ctx, a->mac, a->arch, a->ipxe);
		if (r < 0)
			aur_warn("DHCP: machine %s not added: %s", a->mac,
				 strerror(-r));
	}
	if (first_lately(s, AUR_DHCP_ANSWER, a))
		aur_info("DHCP: Offering to boot %s (%s%s): %s", a->mac,
			 aur_dhcp_arch_name(a->arch, buf),
			 a->ipxe ? ", iPXE" : "", a->file);
}

static void note_refusal(struct aur_dhcp_server *s,
			 const struct aur_dhcp_answer *a, const char *why)
{
	char buf[16];

	if (first_lately(s, AUR_DHCP_REFUSE, a))
		aur_warn("DHCP: not booting %s (%s): %s", a->mac,
			 aur_dhcp_arch_name(a->arch, buf), why);
}

/* Send @len bytes to @dst from @server; a broadcast leaves by @ifindex. */
static void send_reply(int fd, const uint8_t *buf, size_t len,
		       const struct sockaddr_in *dst, struct in_addr server,
		       int ifindex)
{
	union {
		char buf[CMSG_SPACE(sizeof(struct in_pktinfo))];
		struct cmsghdr align;
	} control;
	struct iovec iov = {(void *)buf, len};
	struct msghdr msg = {.msg_name = (void *)dst,
			     .msg_namelen = sizeof(*dst),
			     .msg_iov = &iov,
			     .msg_iovlen = 1,
			     .msg_control = control.buf,
			     .msg_controllen = sizeof(control.buf)};
	struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
	struct in_pktinfo pi = {.ipi_ifindex = ifindex, .ipi_spec_dst = server};
	char addr[INET_ADDRSTRLEN];

	memset(&control, 0, sizeof(control));
	c->cmsg_level = IPPROTO_IP;
	c->cmsg_type = IP_PKTINFO;
	c->cmsg_len = CMSG_LEN(sizeof(pi));
	memcpy(CMSG_DATA(c), &pi, sizeof(pi));
	if (sendmsg(fd, &msg, 0) < 0)
		aur_warn("DHCP: cannot send a reply to %s:%u: %s",
			 inet_ntop(AF_INET, &dst->sin_addr, addr, sizeof(addr)),
			 ntohs(dst->sin_port), strerror(errno));
}

/* What one received message is, where it came from and in by. */
struct arrival {
	const uint8_t *buf;
	size_t len;
	struct sockaddr_in src;
	int ifindex;
	struct in_addr local; /* our address on that link */
	bool on_pxe_port;
	int fd;
};

static void answer(struct aur_dhcp_server *s, const struct aur_dhcp_msg *m,
		   const struct arrival *in, const struct aur_dhcp_answer *a)
{
	uint8_t reply[AUR_DHCP_PACKET_MAX];
	struct sockaddr_in dst;
	char to[INET_ADDRSTRLEN];
	bool broadcast;
	ssize_t n;

	note_answer(s, a);
	n = aur_dhcp_build(m, a, reply, sizeof(reply));
	if (n < 0) {
		aur_warn("DHCP: the reply to %s does not fit the %d bytes it "
			 "accepts",
			 a->mac,
			 AUR_MAX(m->max_size, AUR_DHCP_MIN_MAX_SIZE) -
				 AUR_DHCP_IP_UDP_SIZE);
		return;
	}
	broadcast =
		aur_dhcp_destination(&s->o, m, in->on_pxe_port, &in->src, &dst);
	aur_debug("DHCP: %s to %s port %u for %s",
		  a->type == AUR_DHCP_OFFER ? "DHCPOFFER" : "DHCPACK",
		  inet_ntop(AF_INET, &dst.sin_addr, to, sizeof(to)),
		  ntohs(dst.sin_port), a->mac);
	send_reply(in->fd, reply, (size_t)n, &dst, a->server,
		   broadcast ? in->ifindex : 0);
}

static void handle(struct aur_dhcp_server *s, const struct arrival *in)
{
	struct aur_dhcp_msg m;
	struct aur_dhcp_answer a;
	struct in_addr server =
		s->listen.s_addr != htonl(INADDR_ANY) ? s->listen : in->local;
	char err[AUR_DHCP_ERRLEN], from[INET_ADDRSTRLEN];
	const char *why = NULL;

	inet_ntop(AF_INET, &in->src.sin_addr, from, sizeof(from));
	if (aur_dhcp_parse(in->buf, in->len, &m, err) < 0) {
		aur_debug("DHCP: ignoring a message from %s:%u: %s", from,
			  ntohs(in->src.sin_port), err);
		return;
	}
	switch (aur_dhcp_decide(&s->o, &m, in->on_pxe_port, server, &a, &why)) {
	case AUR_DHCP_ANSWER:
		answer(s, &m, in, &a);
		break;
	case AUR_DHCP_REFUSE:
		note_refusal(s, &a, why);
		break;
	case AUR_DHCP_IGNORE:
		aur_debug("DHCP: ignoring a message from %s:%u: %s", from,
			  ntohs(in->src.sin_port), why);
		break;
	}
}

/* Read one datagram from @fd and handle it. */
static void receive(struct aur_dhcp_server *s, int fd, bool on_pxe_port)
{
	uint8_t buf[AUR_DHCP_PACKET_MAX];
	union {
		char buf[CMSG_SPACE(sizeof(struct in_pktinfo))];
		struct cmsghdr align;
	} control;
	struct arrival in = {.buf = buf, .on_pxe_port = on_pxe_port, .fd = fd};
	struct iovec iov = {buf, sizeof(buf)};
	struct msghdr msg = {.msg_name = &in.src,
			     .msg_namelen = sizeof(in.src),
			     .msg_iov = &iov,
			     .msg_iovlen = 1,
			     .msg_control = control.buf,
			     .msg_controllen = sizeof(control.buf)};
	ssize_t n = recvmsg(fd, &msg, MSG_DONTWAIT);

	if (n < 0) {
		if (errno != EAGAIN && errno != EINTR)
			aur_warn("DHCP: receive: %s", strerror(errno));
		return;
	}
	if (msg.msg_flags & MSG_TRUNC) {
		aur_debug("DHCP: dropped a message over %d bytes",
			  AUR_DHCP_PACKET_MAX);
		return;
	}
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c;
	     c = CMSG_NXTHDR(&msg, c)) {
		struct in_pktinfo pi;

		if (c->cmsg_level != IPPROTO_IP || c->cmsg_type != IP_PKTINFO)
			continue;
		memcpy(&pi, CMSG_DATA(c), sizeof(pi));
		in.ifindex = pi.ipi_ifindex;
		in.local = pi.ipi_spec_dst;
	}
	in.len = (size_t)n;
	handle(s, &in);
}

static void *serve(void *arg)
{
	struct aur_dhcp_server *s = arg;
	struct pollfd p[] = {{.fd = s->fd, .events = POLLIN},
			     {.fd = s->pxe_fd, .events = POLLIN},
			     {.fd = s->stop_fd, .events = POLLIN}};

	for (;;) {
		if (poll(p, AUR_ARRAY_SIZE(p), -1) < 0) {
			if (errno == EINTR)
				continue;
			aur_err("DHCP: poll: %s; no longer answering",
				strerror(errno));
			break;
		}
		if (p[2].revents)
			break;
		if (p[0].revents)
			receive(s, s->fd, false);
		if (p[1].revents)
			receive(s, s->pxe_fd, true);
	}
	return NULL;
}

int aur_dhcp_start(struct aur_dhcp_server *s)
{
	int r;

	if (s->running)
		return -EBUSY;
	r = pthread_create(&s->thread, NULL, serve, s);
	if (r) {
		aur_err("DHCP: cannot start its thread: %s", strerror(r));
		return -r;
	}
	s->running = true;
	aur_info("DHCP: ProxyDHCP on %s ports %u and %u%s%s", s->o.listen_addr,
		 s->o.port, s->o.pxe_port, s->ifname[0] ? " of " : "",
		 s->ifname);
	return 0;
}

void aur_dhcp_close(struct aur_dhcp_server *s)
{
	uint64_t one = 1;

	if (!s)
		return;
	if (s->running) {
		if (write(s->stop_fd, &one, sizeof(one)) < 0)
			aur_err("DHCP: cannot stop its thread: %s",
				strerror(errno));
		pthread_join(s->thread, NULL);
	}
	if (s->fd >= 0)
		close(s->fd);
	if (s->pxe_fd >= 0)
		close(s->pxe_fd);
	if (s->stop_fd >= 0)
		close(s->stop_fd);
	for (int i = 0; i < STR_COUNT; i++)
		free(s->strs[i]);
	free(s);
}

uint16_t aur_dhcp_port(const struct aur_dhcp_server *s)
{
	return s->o.port;
}

uint16_t aur_dhcp_pxe_port(const struct aur_dhcp_server *s)
{
	return s->o.pxe_port;
}
