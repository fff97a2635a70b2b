// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The TFTP server (tftp.h). One thread receives requests on the server's
 * port and answers at once what needs no file (malformed requests,
 * refusals, "server busy"); every accepted request gets a thread of its
 * own, which opens the file (this may block for long on a lazy build),
 * negotiates and runs the sender of tftp_pkt.c from its own UDP socket,
 * the transfer ID, connected to the client. A silent client therefore
 * holds only its own thread, until its retransmissions run out.
 *
 * A connected socket hears only its client. So that a stranger writing to
 * the transfer's port gets "unknown transfer ID" (RFC 1350) and not an
 * ICMP error, a second, unconnected socket shares the port: the kernel
 * gives each datagram to the socket that matches it best, the client's to
 * the connected one and all others to this one.
 */
#include <aurora/log.h>
#include <aurora/serve.h>
#include <aurora/tftp.h>
#include <aurora/tree.h>
#include <aurora/util.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define DEFAULT_TIMEOUT_MS 1000
#define DEFAULT_RETRIES 5
#define DEFAULT_MAX_TIMEOUT_S 10
/* the MTU assumed when the kernel does not tell the path's */
#define FALLBACK_MTU 1500
/* longest "[address]:port" */
#define ADDR_TEXT_MAX (INET6_ADDRSTRLEN + 8)

union addr {
	struct sockaddr sa;
	struct sockaddr_in in;
	struct sockaddr_in6 in6;
	struct sockaddr_storage ss;
};

/* One accepted request and the thread that serves it. */
struct transfer {
	struct aur_tftp_server *srv;
	pthread_t thread;
	atomic_bool finished; /* the thread has nothing more to do */
	union addr client;
	socklen_t client_len;
	union addr local; /* the address the request came to, port 0 */
	char client_text[ADDR_TEXT_MAX];
	char file_text[AUR_SERVE_PATH_MAX + 1]; /* printable, for logs */
	uint8_t rrq[AUR_TFTP_REQUEST_MAX]; /* to spot its retransmissions */
	size_t rrq_len;
	struct aur_tftp_request req;
};

struct aur_tftp_server {
	struct aur_tree *tree;
	struct aur_tftp_limits lim; /* max_blksize before the path MTU */
	unsigned retries;
	unsigned max_transfers;
	int family;
	union addr addr; /* bound */
	socklen_t addr_len;
	int fd;
	int stop_fd; /* an eventfd, readable once the server stops */
	bool started;
	pthread_t listener;
	/* the listener's: transfers whose threads are not joined yet */
	struct transfer **slots;
};

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static socklen_t addr_len(int family)
{
	return family == AF_INET6 ? sizeof(struct sockaddr_in6)
				  : sizeof(struct sockaddr_in);
}

static uint16_t addr_port(const union addr *a)
{
	return ntohs(a->sa.sa_family == AF_INET6 ? a->in6.sin6_port
						 : a->in.sin_port);
}

static void addr_set_port(union addr *a, uint16_t port)
{
	if (a->sa.sa_family == AF_INET6)
		a->in6.sin6_port = htons(port);
	else
		a->in.sin_port = htons(port);
}

static bool addr_equal(const union addr *a, const union addr *b)
{
	if (a->sa.sa_family != b->sa.sa_family)
		return false;
	if (a->sa.sa_family == AF_INET6)
		return a->in6.sin6_port == b->in6.sin6_port &&
		       !memcmp(&a->in6.sin6_addr, &b->in6.sin6_addr,
			       sizeof(a->in6.sin6_addr));
	return a->in.sin_port == b->in.sin_port &&
	       a->in.sin_addr.s_addr == b->in.sin_addr.s_addr;
}

static void addr_text(const union addr *a, char out[ADDR_TEXT_MAX])
{
	char ip[INET6_ADDRSTRLEN] = "?";

	if (a->sa.sa_family == AF_INET6) {
		inet_ntop(AF_INET6, &a->in6.sin6_addr, ip, sizeof(ip));
		snprintf(out, ADDR_TEXT_MAX, "[%s]:%u", ip, addr_port(a));
	} else {
		inet_ntop(AF_INET, &a->in.sin_addr, ip, sizeof(ip));
		snprintf(out, ADDR_TEXT_MAX, "%s:%u", ip, addr_port(a));
	}
}

static int parse_listen_addr(const char *text, union addr *a)
{
	memset(a, 0, sizeof(*a));
	if (inet_pton(AF_INET, text, &a->in.sin_addr) == 1) {
		a->in.sin_family = AF_INET;
		return 0;
	}
	if (inet_pton(AF_INET6, text, &a->in6.sin6_addr) == 1) {
		a->in6.sin6_family = AF_INET6;
		return 0;
	}
	return -EINVAL;
}

static int set_int_opt(int fd, int level, int name, int value)
{
	return setsockopt(fd, level, name, &value, sizeof(value)) < 0 ? -errno
								      : 0;
}

static int new_socket(int family)
{
	int fd = socket(family, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -errno;
	if (family == AF_INET6 &&
	    set_int_opt(fd, IPPROTO_IPV6, IPV6_V6ONLY, 1) < 0) {
		close(fd);
		return -errno;
	}
	return fd;
}

/* ---- the transfer ---- */

static void log_refusal(const char *file, const char *client, const char *why)
{
	aur_warn("TFTP: Refused \"%s\" to %s: %s", file, client, why);
}

static void send_error(int fd, enum aur_tftp_errcode code, const char *msg)
{
	uint8_t pkt[AUR_TFTP_HDR_LEN + AUR_TFTP_MESSAGE_MAX + 1];
	size_t len = aur_tftp_build_error(pkt, sizeof(pkt), code, msg);

	if (send(fd, pkt, len, MSG_DONTWAIT) < 0)
		aur_debug("TFTP: cannot send an error: %s", strerror(errno));
}

/*
 * The transfer's sockets: @tid bound to an ephemeral port of the address
 * the request came to and connected to the client, @stranger unconnected
 * on the same port. @tid is bound before it allows address reuse, so that
 * the kernel gives it a port no other socket has; @stranger can then join
 * it.
 */
static int open_sockets(struct transfer *t, int *tid, int *stranger)
{
	union addr local = t->local;
	socklen_t len = addr_len(t->srv->family);

	*tid = new_socket(t->srv->family);
	if (*tid < 0)
		return *tid;
	addr_set_port(&local, 0);
	if (bind(*tid, &local.sa, len) < 0) {
		/* not a local unicast address: let the kernel choose */
		memset(&local, 0, sizeof(local));
		local.sa.sa_family = (sa_family_t)t->srv->family;
		if (bind(*tid, &local.sa, len) < 0)
			return -errno;
	}
	if (getsockname(*tid, &local.sa, &len) < 0 ||
	    set_int_opt(*tid, SOL_SOCKET, SO_REUSEADDR, 1) < 0 ||
	    connect(*tid, &t->client.sa, t->client_len) < 0)
		return -errno;
	*stranger = new_socket(t->srv->family);
	if (*stranger < 0)
		return *stranger;
	if (set_int_opt(*stranger, SOL_SOCKET, SO_REUSEADDR, 1) < 0 ||
	    bind(*stranger, &local.sa, len) < 0)
		return -errno;
	return 0;
}

/* The largest blksize for the path to the client: the route's MTU as the
 * kernel knows it for the connected socket @tid. */
static uint32_t path_blksize(int tid, int family)
{
	int mtu = FALLBACK_MTU;
	socklen_t len = sizeof(mtu);
	bool v6 = family == AF_INET6;

	if (getsockopt(tid, v6 ? IPPROTO_IPV6 : IPPROTO_IP,
		       v6 ? IPV6_MTU : IP_MTU, &mtu, &len) < 0 ||
	    mtu <= 0)
		mtu = FALLBACK_MTU;
	return aur_tftp_mtu_blksize((uint32_t)mtu, v6);
}

static int send_output(int tid, const struct aur_tftp_sender *s)
{
	struct iovec iov[AUR_TFTP_WINDOW_MAX];
	struct mmsghdr msgs[AUR_TFTP_WINDOW_MAX];
	size_t n = aur_tftp_sender_output(s, iov, AUR_TFTP_WINDOW_MAX);

	memset(msgs, 0, sizeof(msgs[0]) * n);
	for (size_t i = 0; i < n; i++) {
		msgs[i].msg_hdr.msg_iov = &iov[i];
		msgs[i].msg_hdr.msg_iovlen = 1;
	}
	for (size_t done = 0; done < n;) {
		int r = sendmmsg(tid, msgs + done, (unsigned)(n - done), 0);

		if (r < 0 && errno == EINTR)
			continue;
		/* a full queue, or netfilter dropped it (a full conntrack
		 * table, a rate limit): lost as on the wire, resent on
		 * timeout */
		if (r < 0 &&
		    (errno == ENOBUFS || errno == EAGAIN || errno == EPERM))
			return 0;
		if (r < 0)
			return -errno;
		done += (size_t)r;
	}
	return 0;
}

/* Someone else wrote to the transfer's port (RFC 1350: "unknown transfer
 * ID"; an ERROR is never answered). */
static void answer_stranger(int stranger)
{
	uint8_t in[AUR_TFTP_HDR_LEN], out[AUR_TFTP_HDR_LEN + 32];
	union addr from;
	socklen_t flen = sizeof(from);
	ssize_t n = recvfrom(stranger, in, sizeof(in), MSG_DONTWAIT, &from.sa,
			     &flen);
	size_t len;

	if (n < 0 || (n >= AUR_TFTP_OPCODE_LEN &&
		      (in[0] << 8 | in[1]) == AUR_TFTP_ERROR))
		return;
	len = aur_tftp_build_error(out, sizeof(out), AUR_TFTP_EBADID,
				   "unknown transfer ID");
	sendto(stranger, out, len, MSG_DONTWAIT, &from.sa, flen);
}

/* ACKs read at once (more come only from a client that repeats itself) */
#define RECV_BATCH 8

/* Every packet waiting on @tid through the sender: DONE or FAIL as soon
 * as one says so, else SEND if any asked to send (the output is then the
 * latest window), else WAIT. */
static enum aur_tftp_step drain(int tid, struct aur_tftp_sender *s)
{
	enum aur_tftp_step step = AUR_TFTP_WAIT;
	uint8_t pkt[RECV_BATCH][AUR_TFTP_HDR_LEN + AUR_TFTP_MESSAGE_MAX + 1];
	struct iovec iov[RECV_BATCH];
	struct mmsghdr msgs[RECV_BATCH];

	memset(msgs, 0, sizeof(msgs));
	for (int i = 0; i < RECV_BATCH; i++) {
		iov[i] = (struct iovec){pkt[i], sizeof(pkt[i])};
		msgs[i].msg_hdr.msg_iov = &iov[i];
		msgs[i].msg_hdr.msg_iovlen = 1;
	}
	for (;;) {
		int n = recvmmsg(tid, msgs, RECV_BATCH, MSG_DONTWAIT, NULL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return step;
		if (n < 0) {
			snprintf(s->why, sizeof(s->why), "%s",
				 errno == ECONNREFUSED ? "the client went away"
						       : strerror(errno));
			s->out = AUR_TFTP_OUT_NONE;
			return AUR_TFTP_FAIL;
		}
		for (int i = 0; i < n; i++) {
			enum aur_tftp_step st = aur_tftp_sender_input(
				s, pkt[i], msgs[i].msg_len);

			if (st == AUR_TFTP_DONE || st == AUR_TFTP_FAIL)
				return st;
			if (st == AUR_TFTP_SEND)
				step = st;
		}
		if (n < RECV_BATCH)
			return step;
	}
}

/* Wait until the deadline for the client's packets: the next step. */
static enum aur_tftp_step wait_client(struct transfer *t, int tid, int stranger,
				      struct aur_tftp_sender *s,
				      uint64_t deadline)
{
	for (;;) {
		struct pollfd p[] = {{t->srv->stop_fd, POLLIN, 0},
				     {tid, POLLIN, 0},
				     {stranger, POLLIN, 0}};
		uint64_t now = now_ms();
		int left = now >= deadline ? 0
					   : (int)AUR_MIN(deadline - now,
							  (uint64_t)INT32_MAX);
		int r = poll(p, AUR_ARRAY_SIZE(p), left);
		enum aur_tftp_step st;

		if (r < 0 && errno != EINTR) {
			snprintf(s->why, sizeof(s->why), "poll: %s",
				 strerror(errno));
			s->out = AUR_TFTP_OUT_NONE;
			return AUR_TFTP_FAIL;
		}
		if (r == 0)
			return aur_tftp_sender_timeout(s);
		if (r < 0)
			continue;
		st = p[1].revents ? drain(tid, s) : AUR_TFTP_WAIT;
		if (p[2].revents)
			answer_stranger(stranger);
		/* what the client sent before the server stopped counts: its
		 * last ACK ends the transfer well */
		if (p[0].revents && st != AUR_TFTP_DONE &&
		    st != AUR_TFTP_FAIL) {
			snprintf(s->why, sizeof(s->why), "the server stopped");
			s->out = AUR_TFTP_OUT_NONE;
			return AUR_TFTP_FAIL;
		}
		if (st != AUR_TFTP_WAIT)
			return st;
	}
}

/* Run the sender to its end: DONE or FAIL (s->why). */
static enum aur_tftp_step converse(struct transfer *t, int tid, int stranger,
				   struct aur_tftp_sender *s)
{
	enum aur_tftp_step step = aur_tftp_sender_start(s);
	uint64_t deadline = 0;

	for (;;) {
		if (step == AUR_TFTP_SEND || step == AUR_TFTP_FAIL) {
			int r = send_output(tid, s);

			if (r < 0 && step == AUR_TFTP_SEND) {
				snprintf(s->why, sizeof(s->why), "%s",
					 r == -ECONNREFUSED
						 ? "the client went away"
						 : strerror(-r));
				return AUR_TFTP_FAIL;
			}
		}
		if (step == AUR_TFTP_DONE || step == AUR_TFTP_FAIL)
			return step;
		if (step == AUR_TFTP_SEND)
			deadline = now_ms() + aur_tftp_sender_wait_ms(s);
		step = wait_client(t, tid, stranger, s, deadline);
	}
}

static void log_end(const struct transfer *t, enum aur_tftp_step step,
		    const struct aur_tftp_sender *s, uint64_t start_ms)
{
	double secs = (double)(now_ms() - start_ms) / 1000;

	if (step == AUR_TFTP_DONE)
		aur_info("TFTP: Sent \"%s\" to %s (%llu bytes in %.2f s, "
			 "blksize %u, windowsize %u)",
			 t->file_text, t->client_text,
			 (unsigned long long)s->bytes, secs, s->p.blksize,
			 s->p.windowsize);
	else if (s->client_error && s->bytes == 0)
		/* UEFI firmware asks for tsize, then aborts (RFC 2349) */
		aur_debug("TFTP: \"%s\" to %s: the client stopped after the "
			  "options: %s",
			  t->file_text, t->client_text, s->why);
	else if (s->client_error)
		aur_info("TFTP: Stopped sending \"%s\" to %s after %llu "
			 "bytes: %s",
			 t->file_text, t->client_text,
			 (unsigned long long)s->bytes, s->why);
	else
		aur_warn("TFTP: Failed to send \"%s\" to %s after %llu bytes "
			 "in %.2f s: %s",
			 t->file_text, t->client_text,
			 (unsigned long long)s->bytes, secs, s->why);
}

/* The size the client is told: for netascii, after conversion (which
 * means reading the whole file, so only when asked). */
static int transfer_size(const struct transfer *t, const struct aur_extmap *m,
			 uint64_t *size)
{
	*size = m->size;
	if (!t->req.has[AUR_TFTP_OPT_TSIZE] || t->req.mode != AUR_TFTP_NETASCII)
		return 0;
	return aur_tftp_netascii_size(m, size);
}

static void serve_file(struct transfer *t, int tid, int stranger,
		       const struct aur_extmap *map)
{
	struct aur_tftp_limits lim = t->srv->lim;
	struct aur_tftp_sender s;
	struct aur_tftp_params p;
	uint64_t start = now_ms(), size;
	enum aur_tftp_step step;
	char why[AUR_TFTP_MESSAGE_MAX + 1];
	int r = transfer_size(t, map, &size);

	if (r < 0) {
		snprintf(why, sizeof(why), "cannot read the file: %s",
			 strerror(-r));
		send_error(tid, AUR_TFTP_EUNDEF, why);
		log_refusal(t->file_text, t->client_text, why);
		return;
	}
	lim.max_blksize =
		AUR_MIN(lim.max_blksize, path_blksize(tid, t->srv->family));
	aur_tftp_negotiate(&t->req, &lim, size, &p);
	r = aur_tftp_sender_init(&s, map, t->req.mode, &p, t->srv->retries);
	if (r < 0) {
		send_error(tid, AUR_TFTP_EUNDEF, "out of memory");
		log_refusal(t->file_text, t->client_text, "out of memory");
	} else {
		step = converse(t, tid, stranger, &s);
		log_end(t, step, &s, start);
	}
	aur_tftp_sender_release(&s);
}

static void refuse_open(struct transfer *t, int tid, int err)
{
	char why[AUR_TFTP_MESSAGE_MAX + 1];

	if (err == -ENOENT || err == -EISDIR) {
		send_error(tid, AUR_TFTP_ENOTFOUND, "file not found");
		log_refusal(t->file_text, t->client_text, "file not found");
		return;
	}
	snprintf(why, sizeof(why), "cannot open the file: %s", strerror(-err));
	send_error(tid, AUR_TFTP_EUNDEF, why);
	log_refusal(t->file_text, t->client_text, why);
}

static void *transfer_main(void *arg)
{
	struct transfer *t = arg;
	struct aur_served f;
	int tid = -1, stranger = -1;
	int r = open_sockets(t, &tid, &stranger);

	if (r < 0) {
		aur_err("TFTP: cannot open a socket for %s: %s", t->client_text,
			strerror(-r));
		goto out;
	}
	r = aur_serve_open(t->srv->tree, t->req.path, &f);
	if (r < 0) {
		refuse_open(t, tid, r);
		goto out;
	}
	serve_file(t, tid, stranger, &f.img->map);
	aur_serve_close(&f);
out:
	if (tid >= 0)
		close(tid);
	if (stranger >= 0)
		close(stranger);
	atomic_store(&t->finished, true);
	return NULL;
}

/* ---- the listener ---- */

/* A received request: where from, and to which of our addresses. */
struct request_origin {
	union addr from;
	socklen_t from_len;
	union addr local; /* port 0; the wildcard if the kernel did not say */
};

/* Answer on the server's port, from the address the request came to. */
static void reply_error(struct aur_tftp_server *s,
			const struct request_origin *o,
			enum aur_tftp_errcode code, const char *msg)
{
	uint8_t pkt[AUR_TFTP_HDR_LEN + AUR_TFTP_MESSAGE_MAX + 1];
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(struct in6_pktinfo))];
	} ctl;
	struct iovec iov = {pkt,
			    aur_tftp_build_error(pkt, sizeof(pkt), code, msg)};
	struct msghdr mh = {.msg_name = (void *)&o->from,
			    .msg_namelen = o->from_len,
			    .msg_iov = &iov,
			    .msg_iovlen = 1,
			    .msg_control = ctl.buf,
			    .msg_controllen = sizeof(ctl.buf)};
	struct cmsghdr *c = CMSG_FIRSTHDR(&mh);

	memset(ctl.buf, 0, sizeof(ctl.buf));
	if (s->family == AF_INET6) {
		struct in6_pktinfo pi = {.ipi6_addr = o->local.in6.sin6_addr};

		c->cmsg_level = IPPROTO_IPV6;
		c->cmsg_type = IPV6_PKTINFO;
		c->cmsg_len = CMSG_LEN(sizeof(pi));
		memcpy(CMSG_DATA(c), &pi, sizeof(pi));
	} else {
		struct in_pktinfo pi = {.ipi_spec_dst = o->local.in.sin_addr};

		c->cmsg_level = IPPROTO_IP;
		c->cmsg_type = IP_PKTINFO;
		c->cmsg_len = CMSG_LEN(sizeof(pi));
		memcpy(CMSG_DATA(c), &pi, sizeof(pi));
	}
	mh.msg_controllen = c->cmsg_len;
	if (sendmsg(s->fd, &mh, MSG_DONTWAIT) < 0)
		aur_debug("TFTP: cannot send an error: %s", strerror(errno));
}

/* Join the threads of finished transfers and free their slots. */
static void reap(struct aur_tftp_server *s, bool all)
{
	for (unsigned i = 0; i < s->max_transfers; i++) {
		struct transfer *t = s->slots[i];

		if (!t || (!all && !atomic_load(&t->finished)))
			continue;
		pthread_join(t->thread, NULL);
		free(t);
		s->slots[i] = NULL;
	}
}

/* A retransmission of a request whose transfer is still going on. */
static bool is_repeat(const struct aur_tftp_server *s, const union addr *from,
		      const uint8_t *pkt, size_t len)
{
	for (unsigned i = 0; i < s->max_transfers; i++) {
		const struct transfer *t = s->slots[i];

		if (t && !atomic_load(&t->finished) &&
		    addr_equal(&t->client, from) && t->rrq_len == len &&
		    !memcmp(t->rrq, pkt, len))
			return true;
	}
	return false;
}

static int start_transfer(struct aur_tftp_server *s,
			  const struct request_origin *o,
			  const struct aur_tftp_request *req,
			  const uint8_t *pkt, size_t len)
{
	unsigned i = 0;
	struct transfer *t;

	while (i < s->max_transfers && s->slots[i])
		i++;
	if (i == s->max_transfers)
		return -EBUSY;
	t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	t->srv = s;
	t->client = o->from;
	t->client_len = o->from_len;
	t->local = o->local;
	addr_text(&o->from, t->client_text);
	aur_tftp_printable(req->file, sizeof(req->file), t->file_text,
			   sizeof(t->file_text));
	memcpy(t->rrq, pkt, len);
	t->rrq_len = len;
	t->req = *req;
	if (pthread_create(&t->thread, NULL, transfer_main, t) != 0) {
		free(t);
		return -EAGAIN;
	}
	s->slots[i] = t;
	return 0;
}

static void handle_request(struct aur_tftp_server *s,
			   const struct request_origin *o, const uint8_t *pkt,
			   size_t len)
{
	struct aur_tftp_request req;
	char client[ADDR_TEXT_MAX], file[AUR_SERVE_PATH_MAX + 1];
	int r = aur_tftp_parse_request(pkt, len, &req);

	addr_text(&o->from, client);
	aur_tftp_printable(req.file, sizeof(req.file), file, sizeof(file));
	if (r == -EPROTO) {
		aur_debug("TFTP: ignored from %s: %s", client, req.why);
		return;
	}
	if (r < 0) {
		reply_error(s, o, req.error, req.why);
		log_refusal(file, client, req.why);
		return;
	}
	reap(s, false);
	if (is_repeat(s, &o->from, pkt, len))
		return;
	r = start_transfer(s, o, &req, pkt, len);
	if (r < 0) {
		char why[64];

		snprintf(why, sizeof(why), "server busy (%s)",
			 r == -EBUSY ? "too many transfers" : strerror(-r));
		reply_error(s, o, AUR_TFTP_EUNDEF, "server busy");
		log_refusal(file, client, why);
	}
}

/* The address a request was sent to, from its control messages. */
static void request_local(const struct aur_tftp_server *s, struct msghdr *mh,
			  union addr *local)
{
	memset(local, 0, sizeof(*local));
	local->sa.sa_family = (sa_family_t)s->family;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(mh); c; c = CMSG_NXTHDR(mh, c)) {
		if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO) {
			struct in_pktinfo pi;

			memcpy(&pi, CMSG_DATA(c), sizeof(pi));
			local->in.sin_addr = pi.ipi_addr;
		} else if (c->cmsg_level == IPPROTO_IPV6 &&
			   c->cmsg_type == IPV6_PKTINFO) {
			struct in6_pktinfo pi;

			memcpy(&pi, CMSG_DATA(c), sizeof(pi));
			local->in6.sin6_addr = pi.ipi6_addr;
		}
	}
}

static void receive_request(struct aur_tftp_server *s)
{
	/* one byte more than a request may have, to see one too long */
	uint8_t pkt[AUR_TFTP_REQUEST_MAX + 1];
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(struct in6_pktinfo))];
	} ctl;
	struct request_origin o;
	struct iovec iov = {pkt, sizeof(pkt)};
	struct msghdr mh = {.msg_name = &o.from,
			    .msg_namelen = sizeof(o.from),
			    .msg_iov = &iov,
			    .msg_iovlen = 1,
			    .msg_control = ctl.buf,
			    .msg_controllen = sizeof(ctl.buf)};
	ssize_t n = recvmsg(s->fd, &mh, MSG_DONTWAIT);

	if (n < 0)
		return;
	o.from_len = mh.msg_namelen;
	request_local(s, &mh, &o.local);
	handle_request(s, &o, pkt, (size_t)n);
}

static void *listener_main(void *arg)
{
	struct aur_tftp_server *s = arg;

	for (;;) {
		struct pollfd p[] = {{s->stop_fd, POLLIN, 0},
				     {s->fd, POLLIN, 0}};

		if (poll(p, AUR_ARRAY_SIZE(p), -1) < 0 && errno != EINTR) {
			aur_err("TFTP: poll: %s", strerror(errno));
			break;
		}
		if (p[0].revents)
			break;
		if (p[1].revents)
			receive_request(s);
	}
	return NULL;
}

/* ---- the server ---- */

static int bind_listener(struct aur_tftp_server *s, const char *text)
{
	int v6 = s->family == AF_INET6;
	int r;

	s->fd = new_socket(s->family);
	if (s->fd < 0)
		return s->fd;
	r = set_int_opt(s->fd, v6 ? IPPROTO_IPV6 : IPPROTO_IP,
			v6 ? IPV6_RECVPKTINFO : IP_PKTINFO, 1);
	if (r == 0 && bind(s->fd, &s->addr.sa, s->addr_len) < 0)
		r = -errno;
	if (r == 0 && getsockname(s->fd, &s->addr.sa, &s->addr_len) < 0)
		r = -errno;
	if (r < 0)
		aur_err("TFTP: cannot listen on %s port %u: %s", text,
			addr_port(&s->addr), strerror(-r));
	return r;
}

static void set_limits(struct aur_tftp_server *s, const struct aur_tftp_opts *o)
{
	s->lim.max_blksize =
		o->max_blksize ? o->max_blksize : AUR_TFTP_BLKSIZE_MAX;
	s->lim.max_timeout_s =
		o->max_timeout_s ? o->max_timeout_s : DEFAULT_MAX_TIMEOUT_S;
	s->lim.default_timeout_ms =
		o->timeout_ms ? o->timeout_ms : DEFAULT_TIMEOUT_MS;
	s->retries = o->retries ? o->retries : DEFAULT_RETRIES;
	s->max_transfers = o->max_transfers ? o->max_transfers
					    : AUR_TFTP_TRANSFERS_DEFAULT;
}

int aur_tftp_open(const struct aur_tftp_opts *o, struct aur_tftp_server **out)
{
	const char *text = o->listen_addr ? o->listen_addr : "0.0.0.0";
	struct aur_tftp_server *s;
	int r;

	*out = NULL;
	if (!o->tree)
		return -EINVAL;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->fd = s->stop_fd = -1;
	s->tree = o->tree;
	set_limits(s, o);
	r = parse_listen_addr(text, &s->addr);
	if (r < 0) {
		aur_err("TFTP: listen address '%s' is not an IP address", text);
		goto fail;
	}
	s->family = s->addr.sa.sa_family;
	s->addr_len = addr_len(s->family);
	addr_set_port(&s->addr, o->port);
	r = bind_listener(s, text);
	if (r < 0)
		goto fail;
	s->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	s->slots = calloc(s->max_transfers, sizeof(*s->slots));
	if (s->stop_fd < 0 || !s->slots) {
		r = s->stop_fd < 0 ? -errno : -ENOMEM;
		goto fail;
	}
	*out = s;
	return 0;
fail:
	aur_tftp_close(s);
	return r;
}

int aur_tftp_start(struct aur_tftp_server *s)
{
	char text[ADDR_TEXT_MAX];
	int r = pthread_create(&s->listener, NULL, listener_main, s);

	if (r != 0)
		return -r;
	s->started = true;
	addr_text(&s->addr, text);
	aur_info("TFTP: Listening on %s", text);
	return 0;
}

uint16_t aur_tftp_port(const struct aur_tftp_server *s)
{
	return addr_port(&s->addr);
}

void aur_tftp_close(struct aur_tftp_server *s)
{
	uint64_t one = 1;

	if (!s)
		return;
	if (s->started) {
		if (write(s->stop_fd, &one, sizeof(one)) < 0)
			aur_err("TFTP: cannot stop: %s", strerror(errno));
		pthread_join(s->listener, NULL);
	}
	if (s->slots)
		reap(s, true);
	free(s->slots);
	if (s->fd >= 0)
		close(s->fd);
	if (s->stop_fd >= 0)
		close(s->stop_fd);
	free(s);
}
