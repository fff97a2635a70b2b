// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The ProxyDHCP server through real sockets on loopback: replies unicast
 * to ciaddr, back to the sender on the PXE port, to the relay for giaddr;
 * silence for what is not ours (proven by the order of replies: one
 * thread answers in turn); the "seen" callback and its errors; one log
 * line per machine and answer; a flood of MACs answered with no memory
 * allocated on the server's thread; start-up errors (bad options, an
 * address no interface holds, a port in use, a privileged port).
 */
#include "dhcp_packets.h"
#include "test_helpers.h"

#include <aurora/dhcp.h>
#include <aurora/log.h>

#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

/* Allocations made by threads other than the test's (the server's). */
void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t size);
void *__real_realloc(void *p, size_t n);
void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t n, size_t size);
void *__wrap_realloc(void *p, size_t n);

static pthread_t main_thread;
static atomic_ulong other_allocs;

static void count(void)
{
	if (!pthread_equal(pthread_self(), main_thread))
		atomic_fetch_add(&other_allocs, 1);
}

void *__wrap_malloc(size_t n)
{
	count();
	return __real_malloc(n);
}

void *__wrap_calloc(size_t n, size_t size)
{
	count();
	return __real_calloc(n, size);
}

void *__wrap_realloc(void *p, size_t n)
{
	count();
	return __real_realloc(p, n);
}

static struct in_addr addr(const char *s)
{
	struct in_addr a;

	assert_int_equal(inet_pton(AF_INET, s, &a), 1);
	return a;
}

/* A UDP socket bound to @ip:@port (SO_REUSEADDR when @reuse). */
static int udp(const char *ip, uint16_t port, bool reuse, uint16_t *bound)
{
	struct sockaddr_in sin = {.sin_family = AF_INET,
				  .sin_port = htons(port),
				  .sin_addr = addr(ip)};
	socklen_t sl = sizeof(sin);
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), one = 1;

	assert_true(fd >= 0);
	if (reuse)
		assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one,
					    sizeof(one)),
				 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &sl), 0);
	if (bound)
		*bound = ntohs(sin.sin_port);
	return fd;
}

static void send_to(int fd, const struct pkt *p, uint16_t port)
{
	struct sockaddr_in to = {.sin_family = AF_INET,
				 .sin_port = htons(port),
				 .sin_addr = addr("127.0.0.1")};

	assert_int_equal(
		sendto(fd, p->b, p->len, 0, (struct sockaddr *)&to, sizeof(to)),
		(ssize_t)p->len);
}

/* The next reply on @fd within @ms, parsed into @m; false on timeout. */
static bool receive(int fd, int ms, struct aur_dhcp_msg *m,
		    struct sockaddr_in *from)
{
	struct pollfd pfd = {.fd = fd, .events = POLLIN};
	uint8_t buf[2048];
	socklen_t fl = sizeof(*from);
	char err[AUR_DHCP_ERRLEN];
	ssize_t n;

	if (poll(&pfd, 1, ms) != 1)
		return false;
	n = recvfrom(fd, buf, sizeof(buf), 0, (struct sockaddr *)from, &fl);
	assert_true(n > 0);
	if (aur_dhcp_parse(buf, (size_t)n, m, err) < 0)
		fail_msg("reply does not parse: %s", err);
	return true;
}

/* A request of kind @k from @mac with ciaddr 127.0.0.1 (replies then
 * come back unicast, as loopback cannot carry broadcasts). */
static void request(struct pkt *p, enum client_kind k, uint8_t type,
		    const uint8_t mac[6], uint32_t xid)
{
	struct in_addr lo = addr("127.0.0.1");

	client_packet(p, k, type, mac, xid);
	memcpy(p->b + offsetof(struct aur_dhcp_header, ciaddr), &lo, 4);
}

struct fixture {
	struct aur_dhcp_server *s;
	int client; /* bound to 127.0.0.1:<client_port> */
	uint16_t client_port;
	struct aur_dhcp_opts o;
	pthread_mutex_t lock;
	unsigned seen; /* calls of the callback, under lock */
	char last_mac[18];
	int last_arch;
	bool last_ipxe;
	unsigned allowed; /* machines the callback accepts */
};

static int seen(void *ctx, const char *mac, int arch, bool ipxe)
{
	struct fixture *f = ctx;
	int r;

	pthread_mutex_lock(&f->lock);
	f->seen++;
	snprintf(f->last_mac, sizeof(f->last_mac), "%s", mac);
	f->last_arch = arch;
	f->last_ipxe = ipxe;
	r = f->seen <= f->allowed ? 0 : -ENOSPC;
	pthread_mutex_unlock(&f->lock);
	return r;
}

static unsigned seen_count(struct fixture *f)
{
	unsigned n;

	pthread_mutex_lock(&f->lock);
	n = f->seen;
	pthread_mutex_unlock(&f->lock);
	return n;
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	pthread_mutex_init(&f->lock, NULL);
	f->allowed = 1000000;
	f->client = udp("127.0.0.1", 0, false, &f->client_port);
	aur_dhcp_opts_init(&f->o);
	f->o.port = 0;
	f->o.pxe_port = 0;
	f->o.client_port = f->client_port;
	f->o.seen = seen;
	f->o.seen_ctx = f;
	capture_logs();
	aur_log_set_level(LOG_INFO);
	assert_int_equal(aur_dhcp_open(&f->o, &f->s), 0);
	assert_int_equal(aur_dhcp_start(f->s), 0);
	assert_int_equal(aur_dhcp_start(f->s), -EBUSY);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	aur_dhcp_close(f->s);
	close(f->client);
	release_logs();
	pthread_mutex_destroy(&f->lock);
	free(f);
	return 0;
}

static const uint8_t mac_a[6] = {0x52, 0x54, 0x00, 0, 0, 0x0a};
static const uint8_t mac_b[6] = {0x52, 0x54, 0x00, 0, 0, 0x0b};

static void unicast_offer(void **state)
{
	struct fixture *f = *state;
	struct aur_dhcp_msg m;
	struct sockaddr_in from;
	struct pkt p;

	request(&p, CLIENT_BIOS, AUR_DHCP_DISCOVER, mac_a, 0x11);
	send_to(f->client, &p, aur_dhcp_port(f->s));
	assert_true(receive(f->client, 2000, &m, &from));
	assert_int_equal(ntohs(from.sin_port), aur_dhcp_port(f->s));
	assert_int_equal(m.hdr.op, AUR_DHCP_BOOTREPLY);
	assert_int_equal(ntohl(m.hdr.xid), 0x11);
	assert_int_equal(m.type, AUR_DHCP_OFFER);
	/* the address of the link it came in on (IP_PKTINFO) */
	assert_int_equal(m.hdr.siaddr.s_addr, addr("127.0.0.1").s_addr);
	assert_int_equal(m.server_id.s_addr, addr("127.0.0.1").s_addr);
	assert_int_equal(m.hdr.yiaddr.s_addr, 0);
	assert_string_equal(m.hdr.file, "netboot/undionly.kpxe");
	assert_int_equal(seen_count(f), 1);
	assert_string_equal(f->last_mac, "52:54:00:00:00:0a");
	assert_int_equal(f->last_arch, 0);
	assert_false(f->last_ipxe);
	assert_non_null(strstr(captured_logs(),
			       "DHCP: Offering to boot 52:54:00:00:00:0a (x86 "
			       "BIOS): netboot/undionly.kpxe"));
}

/* The PXE port: an ACK back to where the request came from. */
static void pxe_port(void **state)
{
	struct fixture *f = *state;
	struct aur_dhcp_msg m;
	struct sockaddr_in from;
	uint16_t port;
	int other = udp("127.0.0.1", 0, false, &port);
	struct pkt p;

	request(&p, CLIENT_IPXE, AUR_DHCP_REQUEST, mac_a, 0x22);
	send_to(other, &p, aur_dhcp_pxe_port(f->s));
	assert_true(receive(other, 2000, &m, &from));
	assert_int_equal(ntohs(from.sin_port), aur_dhcp_pxe_port(f->s));
	assert_int_equal(m.type, AUR_DHCP_ACK);
	assert_int_equal(m.hdr.ciaddr.s_addr, addr("127.0.0.1").s_addr);
	assert_string_equal(
		m.hdr.file,
		"http://127.0.0.1:8090/netboot/52:54:00:00:00:0a/ipxe");
	assert_int_equal(seen_count(f), 1);
	assert_true(f->last_ipxe);
	assert_int_equal(f->last_arch, 7);
	/* nothing went to the client port */
	assert_false(receive(f->client, 100, &m, &from));
	close(other);
}

/* Relayed: the reply goes to giaddr on the server port (a relay agent
 * listening there: 127.0.0.2, on the same port thanks to SO_REUSEADDR). */
static void relayed(void **state)
{
	struct fixture *f = *state;
	struct aur_dhcp_msg m;
	struct sockaddr_in from;
	int relay = udp("127.0.0.2", aur_dhcp_port(f->s), true, NULL);
	struct in_addr gi = addr("127.0.0.2");
	struct pkt p;

	client_packet(&p, CLIENT_OVMF_PXE, AUR_DHCP_DISCOVER, mac_b, 0x33);
	memcpy(p.b + offsetof(struct aur_dhcp_header, giaddr), &gi, 4);
	p.b[offsetof(struct aur_dhcp_header, hops)] = 1;
	send_to(relay, &p, aur_dhcp_port(f->s));
	assert_true(receive(relay, 2000, &m, &from));
	assert_int_equal(ntohl(m.hdr.xid), 0x33);
	assert_int_equal(m.hdr.giaddr.s_addr, gi.s_addr);
	assert_string_equal(m.hdr.file, "netboot/ipxe.efi");
	close(relay);
}

/* What is not ours gets nothing: the server answers in turn, so the
 * first reply being the last request's shows the others were dropped. */
static void silence(void **state)
{
	struct fixture *f = *state;
	struct aur_dhcp_msg m;
	struct sockaddr_in from;
	struct pkt p;
	uint8_t junk[100] = {1};

	request(&p, CLIENT_PLAIN, AUR_DHCP_DISCOVER, mac_a, 1);
	send_to(f->client, &p, aur_dhcp_port(f->s));
	request(&p, CLIENT_ARM64, AUR_DHCP_DISCOVER, mac_b, 2);
	send_to(f->client, &p, aur_dhcp_port(f->s));
	send_to(f->client, &p, aur_dhcp_port(f->s));
	request(&p, CLIENT_BIOS, AUR_DHCP_DISCOVER, mac_a, 3);
	send_to(f->client, &p, aur_dhcp_pxe_port(f->s)); /* DISCOVER on 4011 */
	memcpy(p.b, junk, sizeof(junk));
	p.len = sizeof(junk);
	send_to(f->client, &p, aur_dhcp_port(f->s));
	request(&p, CLIENT_OVMF_HTTP, AUR_DHCP_DISCOVER, mac_a, 4);
	send_to(f->client, &p, aur_dhcp_port(f->s));
	assert_true(receive(f->client, 2000, &m, &from));
	assert_int_equal(ntohl(m.hdr.xid), 4);
	assert_string_equal(m.class_id, "HTTPClient");
	assert_string_equal(m.bootfile,
			    "http://127.0.0.1:8090/netboot/ipxe.efi");
	assert_false(receive(f->client, 200, &m, &from));
	/* the refused arm64 machine: one line, though it asked twice */
	{
		const char *line = "DHCP: not booting 52:54:00:00:00:0b "
				   "(ARM 64-bit UEFI): PXE boot of this "
				   "architecture is not served";
		const char *first = strstr(captured_logs(), line);

		assert_non_null(first);
		assert_null(strstr(first + 1, line));
	}
	assert_int_equal(seen_count(f), 1);
}

/* The callback's refusal is logged; the machine is answered anyway; the
 * log says "Offering" once per machine and answer. */
static void seen_errors(void **state)
{
	struct fixture *f = *state;
	struct aur_dhcp_msg m;
	struct sockaddr_in from;
	struct pkt p;
	const char *logs, *a_line;

	pthread_mutex_lock(&f->lock);
	f->allowed = 1;
	pthread_mutex_unlock(&f->lock);
	for (uint32_t xid = 1; xid <= 3; xid++) {
		request(&p, CLIENT_BIOS, AUR_DHCP_DISCOVER, mac_a, xid);
		send_to(f->client, &p, aur_dhcp_port(f->s));
		assert_true(receive(f->client, 2000, &m, &from));
		assert_int_equal(ntohl(m.hdr.xid), xid);
	}
	request(&p, CLIENT_OVMF_PXE, AUR_DHCP_DISCOVER, mac_b, 9);
	send_to(f->client, &p, aur_dhcp_port(f->s));
	assert_true(receive(f->client, 2000, &m, &from));
	assert_string_equal(m.hdr.file, "netboot/ipxe.efi");
	/* a new answer for machine a: logged again */
	request(&p, CLIENT_IPXE, AUR_DHCP_DISCOVER, mac_a, 10);
	send_to(f->client, &p, aur_dhcp_port(f->s));
	assert_true(receive(f->client, 2000, &m, &from));
	assert_int_equal(seen_count(f), 5);
	logs = captured_logs();
	a_line = strstr(logs, "Offering to boot 52:54:00:00:00:0a (x86 BIOS)");
	assert_non_null(a_line);
	assert_null(strstr(a_line + 1,
			   "Offering to boot 52:54:00:00:00:0a (x86 BIOS)"));
	assert_non_null(strstr(logs, "Offering to boot 52:54:00:00:00:0b "
				     "(x86-64 UEFI): netboot/ipxe.efi"));
	assert_non_null(strstr(logs, "Offering to boot 52:54:00:00:00:0a "
				     "(x86-64 UEFI, iPXE)"));
	assert_non_null(strstr(logs, "DHCP: machine 52:54:00:00:00:0b not "
				     "added: No space left on device"));
}

static unsigned long offered;

static void count_sink(void *ctx, int level, const char *msg)
{
	if (strstr(msg, "Offering to boot"))
		offered++;
}

/* A flood of machines: each answered, each logged once, and not one
 * allocation on the server's thread (its memory cannot grow); the table
 * of what was logged keeps only the latest, so the first machine, back
 * again, is logged again. */
static void flood(void **state)
{
	struct fixture *f = *state;
	struct aur_dhcp_msg m;
	struct sockaddr_in from;
	struct pkt p;
	enum { MACHINES = 3000 };
	uint8_t mac[6] = {0x02, 0, 0, 0, 0, 0};

	aur_log_set_sink(count_sink, NULL);
	offered = 0;
	atomic_store(&other_allocs, 0);
	for (uint32_t i = 0; i <= MACHINES; i++) {
		uint32_t n = i % MACHINES;

		mac[3] = (uint8_t)(n >> 16);
		mac[4] = (uint8_t)(n >> 8);
		mac[5] = (uint8_t)n;
		request(&p, CLIENT_BIOS, AUR_DHCP_DISCOVER, mac, i);
		send_to(f->client, &p, aur_dhcp_port(f->s));
		assert_true(receive(f->client, 2000, &m, &from));
		assert_int_equal(ntohl(m.hdr.xid), i);
	}
	assert_int_equal(offered, MACHINES + 1);
	assert_int_equal(atomic_load(&other_allocs), 0);
	assert_int_equal(seen_count(f), MACHINES + 1);
}

static int open_with(struct aur_dhcp_opts *o)
{
	struct aur_dhcp_server *s = NULL;
	int r = aur_dhcp_open(o, &s);

	if (r == 0)
		assert_non_null(s);
	else
		assert_null(s);
	aur_dhcp_close(s);
	return r;
}

static void open_errors(void **state)
{
	struct aur_dhcp_opts o;
	char longest[200];
	uint16_t taken;
	int fd;

	capture_logs();
	aur_dhcp_opts_init(&o);
	o.port = o.pxe_port = 0;
	o.listen_addr = "10.0.0.256";
	assert_int_equal(open_with(&o), -EINVAL);
	assert_non_null(strstr(captured_logs(), "'10.0.0.256' is not an IPv4"));
	o.listen_addr = "192.0.2.77"; /* TEST-NET-1: on no interface */
	assert_int_equal(open_with(&o), -EADDRNOTAVAIL);
	assert_non_null(strstr(captured_logs(), "no interface has the listen "
						"address 192.0.2.77"));
	o.listen_addr = NULL;
	o.efi_file = NULL;
	assert_int_equal(open_with(&o), -EINVAL);
	memset(longest, 'x', 111);
	memcpy(longest + 111, "{mac}", 6);
	o.efi_file = longest;
	assert_int_equal(open_with(&o), -EINVAL);
	assert_non_null(strstr(captured_logs(), "could outgrow the 127 bytes"));
	/* an HTTP path that fits only with a short address and port */
	aur_dhcp_opts_init(&o);
	o.port = o.pxe_port = 0;
	memset(longest, 'x', 100);
	longest[100] = '\0';
	o.http_efi_file = longest;
	assert_int_equal(open_with(&o), -EINVAL);
	o.http_efi_file = "netboot/ipxe.efi";
	o.client_port = 0;
	assert_int_equal(open_with(&o), -EINVAL);
	o.client_port = 68;
	/* a port held by a socket without SO_REUSEADDR (another server) */
	fd = udp("0.0.0.0", 0, false, &taken);
	o.port = taken;
	assert_int_equal(open_with(&o), -EADDRINUSE);
	assert_non_null(strstr(captured_logs(), "Address already in use"));
	o.port = 0;
	o.pxe_port = taken;
	assert_int_equal(open_with(&o), -EADDRINUSE);
	close(fd);
	release_logs();
}

/* A port below 1024 without the privilege: refused at open, in a child
 * that drops root if we are root. */
static void privileged_port(void **state)
{
	struct aur_dhcp_opts o;
	pid_t pid;
	int status;
	FILE *f = fopen("/proc/sys/net/ipv4/ip_unprivileged_port_start", "r");
	int start = 1024;

	if (f) {
		if (fscanf(f, "%d", &start) != 1)
			start = 1024;
		fclose(f);
	}
	if (start <= 67)
		skip();
	aur_dhcp_opts_init(&o);
	o.pxe_port = 0;
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		aur_log_set_sink(count_sink, NULL);
		if (getuid() == 0 && (setgid(65534) < 0 || setuid(65534) < 0))
			_exit(2);
		_exit(open_with(&o) == -EACCES ? 0 : 1);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

/* listen_addr: the sockets are tied to the interface holding it (lo)
 * and it is the address announced. */
static void listen_address(void **state)
{
	struct aur_dhcp_opts o;
	struct aur_dhcp_server *s;
	struct aur_dhcp_msg m;
	struct sockaddr_in from;
	uint16_t port;
	int client = udp("127.0.0.1", 0, false, &port), r;
	struct pkt p;

	aur_dhcp_opts_init(&o);
	o.port = o.pxe_port = 0;
	o.client_port = port;
	o.listen_addr = "127.0.0.1";
	r = aur_dhcp_open(&o, &s);
	if (r == -EPERM) /* SO_BINDTODEVICE needs CAP_NET_RAW */
		skip();
	assert_int_equal(r, 0);
	assert_int_equal(aur_dhcp_start(s), 0);
	request(&p, CLIENT_OVMF_HTTP, AUR_DHCP_DISCOVER, mac_b, 5);
	send_to(client, &p, aur_dhcp_port(s));
	assert_true(receive(client, 2000, &m, &from));
	assert_int_equal(m.server_id.s_addr, addr("127.0.0.1").s_addr);
	assert_string_equal(m.hdr.file,
			    "http://127.0.0.1:8090/netboot/ipxe.efi");
	aur_dhcp_close(s);
	close(client);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(unicast_offer, setup, teardown),
		cmocka_unit_test_setup_teardown(pxe_port, setup, teardown),
		cmocka_unit_test_setup_teardown(relayed, setup, teardown),
		cmocka_unit_test_setup_teardown(silence, setup, teardown),
		cmocka_unit_test_setup_teardown(seen_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(flood, setup, teardown),
		cmocka_unit_test(open_errors),
		cmocka_unit_test(privileged_port),
		cmocka_unit_test(listen_address),
	};

	main_thread = pthread_self();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
