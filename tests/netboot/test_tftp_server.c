// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The TFTP server over loopback, against a client written here that can
 * misbehave on purpose: a stranger writing to a transfer's port, duplicate
 * ACKs, a client that never answers (retransmissions and their backoff),
 * more requests than the server takes, retransmitted requests, a file
 * whose open blocks while other clients are served, refusals, the log
 * lines, start-up errors.
 */
#include "test_helpers.h"

#include <aurora/log.h>
#include <aurora/tftp.h>
#include <aurora/tree.h>
#include <aurora/util.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define SMALL_SIZE 3000
#define TIMEOUT_MS 200
#define RETRIES 2

static uint8_t small[SMALL_SIZE];

/* "/slow" blocks in its build until the test opens the gate. */
static pthread_mutex_t gate_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t gate_cond = PTHREAD_COND_INITIALIZER;
static bool gate_open;

static int build_small(void *ctx, struct aur_image *img)
{
	return aur_extmap_add_mem(&img->map, "small", small, sizeof(small));
}

static int build_slow(void *ctx, struct aur_image *img)
{
	pthread_mutex_lock(&gate_lock);
	while (!gate_open)
		pthread_cond_wait(&gate_cond, &gate_lock);
	pthread_mutex_unlock(&gate_lock);
	return build_small(ctx, img);
}

static const struct aur_file_ops small_ops = {.build = build_small};
static const struct aur_file_ops slow_ops = {.build = build_slow};

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

struct env {
	struct aur_tree *tree;
	struct aur_tftp_server *srv;
	uint16_t port;
};

static struct env *env_new(unsigned max_transfers, unsigned retries)
{
	struct env *e = calloc(1, sizeof(*e));
	struct aur_tftp_opts o = {.listen_addr = "127.0.0.1",
				  .max_transfers = max_transfers,
				  .timeout_ms = TIMEOUT_MS,
				  .retries = retries};

	assert_non_null(e);
	gate_open = false;
	e->tree = aur_tree_new(0);
	assert_non_null(e->tree);
	assert_int_equal(aur_tree_add_file(e->tree, "/netboot/small",
					   &small_ops, NULL, NULL),
			 0);
	assert_int_equal(
		aur_tree_add_file(e->tree, "/slow", &slow_ops, NULL, NULL), 0);
	o.tree = e->tree;
	capture_logs();
	aur_log_set_repeat_window(0);
	assert_int_equal(aur_tftp_open(&o, &e->srv), 0);
	assert_int_equal(aur_tftp_start(e->srv), 0);
	e->port = aur_tftp_port(e->srv);
	assert_true(e->port != 0);
	return e;
}

/* Stop the server (joining every transfer): the logs are complete. */
static void env_stop(struct env *e)
{
	aur_tftp_close(e->srv);
	e->srv = NULL;
}

static void env_free(struct env *e)
{
	aur_tftp_close(e->srv);
	aur_tree_free(e->tree);
	release_logs();
	aur_log_set_repeat_window(AUR_LOG_REPEAT_WINDOW_MS);
	free(e);
}

/* ---- a client ---- */

static int client_socket(void)
{
	struct sockaddr_in a = {.sin_family = AF_INET,
				.sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	return fd;
}

static void send_to(int fd, uint16_t port, const void *pkt, size_t len)
{
	struct sockaddr_in a = {.sin_family = AF_INET,
				.sin_port = htons(port),
				.sin_addr.s_addr = htonl(INADDR_LOOPBACK)};

	assert_int_equal(
		sendto(fd, pkt, len, 0, (struct sockaddr *)&a, sizeof(a)),
		(ssize_t)len);
}

/* An RRQ for @file, octet, with @nopts strings of options. */
static size_t make_rrq(uint8_t *buf, unsigned opcode, const char *file,
		       const char *const *opts, size_t nopts)
{
	size_t o = 2;
	const char *mode = "octet";

	buf[0] = 0;
	buf[1] = (uint8_t)opcode;
	memcpy(buf + o, file, strlen(file) + 1);
	o += strlen(file) + 1;
	memcpy(buf + o, mode, strlen(mode) + 1);
	o += strlen(mode) + 1;
	for (size_t i = 0; i < nopts; i++) {
		memcpy(buf + o, opts[i], strlen(opts[i]) + 1);
		o += strlen(opts[i]) + 1;
	}
	return o;
}

static void send_rrq(int fd, uint16_t port, const char *file)
{
	uint8_t buf[512];

	send_to(fd, port, buf, make_rrq(buf, AUR_TFTP_RRQ, file, NULL, 0));
}

/* A packet within @ms, or -1; @from_port is its source port. */
static ssize_t recv_pkt(int fd, uint8_t *buf, size_t cap, int ms,
			uint16_t *from_port)
{
	struct pollfd p = {fd, POLLIN, 0};
	struct sockaddr_in from;
	socklen_t flen = sizeof(from);
	ssize_t n;

	if (poll(&p, 1, ms) != 1)
		return -1;
	n = recvfrom(fd, buf, cap, 0, (struct sockaddr *)&from, &flen);
	assert_true(n >= 0);
	if (from_port)
		*from_port = ntohs(from.sin_port);
	return n;
}

static uint16_t be16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static void send_ack(int fd, uint16_t port, uint16_t block)
{
	uint8_t a[4] = {0, AUR_TFTP_ACK, (uint8_t)(block >> 8), (uint8_t)block};

	send_to(fd, port, a, sizeof(a));
}

/* Expect DATA @block (from @tid if non-zero); its payload length. */
static size_t expect_data(int fd, uint16_t *tid, uint16_t block, uint8_t *buf,
			  size_t cap)
{
	uint16_t from;
	ssize_t n = recv_pkt(fd, buf, cap, 2000, &from);

	assert_true(n >= 4);
	assert_int_equal(be16(buf), AUR_TFTP_DATA);
	assert_int_equal(be16(buf + 2), block);
	if (*tid)
		assert_int_equal(from, *tid);
	*tid = from;
	return (size_t)n - 4;
}

/* Expect an ERROR with @code from port @from_port (0: any). */
static void expect_error(int fd, uint16_t from_port, unsigned code,
			 const char *msg)
{
	uint8_t buf[600];
	uint16_t from;
	ssize_t n = recv_pkt(fd, buf, sizeof(buf) - 1, 2000, &from);

	assert_true(n >= 5);
	buf[n] = '\0';
	assert_int_equal(be16(buf), AUR_TFTP_ERROR);
	assert_int_equal(be16(buf + 2), code);
	assert_non_null(strstr((char *)buf + 4, msg));
	if (from_port)
		assert_int_equal(from, from_port);
}

/* Receive the rest of "small" in lock-step after block @first - 1. */
static void finish_small(int fd, uint16_t tid, uint16_t first)
{
	uint8_t buf[600];

	for (uint16_t b = first;; b++) {
		size_t off = (size_t)(b - 1) * 512;
		size_t n = expect_data(fd, &tid, b, buf, sizeof(buf));

		assert_int_equal(n, AUR_MIN((size_t)512, SMALL_SIZE - off));
		assert_memory_equal(buf + 4, small + off, n);
		send_ack(fd, tid, b);
		if (n < 512)
			break;
	}
}

/* ---- tests ---- */

static void transfer_and_log(void **state)
{
	struct env *e = env_new(0, RETRIES);
	int fd = client_socket();

	send_rrq(fd, e->port, "netboot/small");
	finish_small(fd, 0, 1);
	send_rrq(fd, e->port, "/netboot//small"); /* absolute, unnormalized */
	finish_small(fd, 0, 1);
	env_stop(e);
	assert_non_null(strstr(captured_logs(),
			       "TFTP: Sent \"netboot/small\" to 127.0.0.1:"));
	assert_non_null(strstr(captured_logs(),
			       "TFTP: Sent \"/netboot//small\" to 127.0.0.1:"));
	assert_non_null(strstr(captured_logs(), "(3000 bytes in"));
	close(fd);
	env_free(e);
}

static void options(void **state)
{
	static const char *const opts[] = {"blksize", "65464",	    "tsize",
					   "0",	      "windowsize", "4"};
	static const uint8_t want[] = "\0\6blksize\00065464\0tsize\0003000\0"
				      "windowsize\0004";
	struct env *e = env_new(0, RETRIES);
	int fd = client_socket();
	uint8_t buf[65536];
	uint16_t tid;
	ssize_t n;

	send_to(fd, e->port, buf,
		make_rrq(buf, AUR_TFTP_RRQ, "netboot/small", opts, 6));
	/* loopback's MTU (65536) allows the largest blksize */
	n = recv_pkt(fd, buf, sizeof(buf), 2000, &tid);
	assert_int_equal(n, sizeof(want));
	assert_memory_equal(buf, want, sizeof(want));
	send_ack(fd, tid, 0);
	n = recv_pkt(fd, buf, sizeof(buf), 2000, NULL);
	assert_int_equal(n, 4 + SMALL_SIZE);
	assert_memory_equal(buf + 4, small, SMALL_SIZE);
	send_ack(fd, tid, 1);
	close(fd);
	env_stop(e);
	assert_non_null(strstr(captured_logs(), "blksize 65464, windowsize 4"));
	env_free(e);
}

static void stranger(void **state)
{
	struct env *e = env_new(0, RETRIES);
	int fd = client_socket(), other = client_socket();
	uint8_t buf[600];
	uint16_t tid = 0, from;
	ssize_t n;

	send_rrq(fd, e->port, "netboot/small");
	expect_data(fd, &tid, 1, buf, sizeof(buf));
	/* someone else ACKs block 1 on the transfer's port */
	send_ack(other, tid, 1);
	expect_error(other, tid, AUR_TFTP_EBADID, "unknown transfer ID");
	/* an ERROR from a stranger is not answered */
	send_to(other, tid, "\0\5\0\0x", 6);
	assert_int_equal(recv_pkt(other, buf, sizeof(buf), 300, NULL), -1);
	/* the transfer did not move: at most block 1 again */
	n = recv_pkt(fd, buf, sizeof(buf), TIMEOUT_MS / 2, &from);
	if (n >= 0)
		assert_int_equal(be16(buf + 2), 1);
	send_ack(fd, tid, 1);
	/* block 1 may come once more (the retransmission crossed the ACK) */
	n = recv_pkt(fd, buf, sizeof(buf), 2000, &from);
	if (be16(buf + 2) == 1)
		n = recv_pkt(fd, buf, sizeof(buf), 2000, &from);
	assert_true(n >= 4);
	assert_int_equal(be16(buf + 2), 2);
	send_ack(fd, tid, 2);
	finish_small(fd, tid, 3);
	close(fd);
	close(other);
	env_stop(e);
	assert_non_null(strstr(captured_logs(), "TFTP: Sent"));
	env_free(e);
}

/* Sorcerer's apprentice: repeats of ACK 1, after block 2 came, send
 * nothing (only the retransmission timeout would). */
static void duplicate_acks(void **state)
{
	struct env *e = env_new(0, RETRIES);
	int fd = client_socket();
	uint8_t buf[600];
	uint16_t tid = 0;
	uint64_t until;

	send_rrq(fd, e->port, "netboot/small");
	expect_data(fd, &tid, 1, buf, sizeof(buf));
	send_ack(fd, tid, 1);
	expect_data(fd, &tid, 2, buf, sizeof(buf));
	until = now_ms() + TIMEOUT_MS * 7 / 10;
	send_ack(fd, tid, 1);
	usleep(20000);
	send_ack(fd, tid, 1);
	usleep(20000);
	send_ack(fd, tid, 1);
	assert_int_equal(
		recv_pkt(fd, buf, sizeof(buf), (int)(until - now_ms()), NULL),
		-1);
	send_ack(fd, tid, 2);
	finish_small(fd, tid, 3);
	close(fd);
	env_free(e);
}

/* A client that never ACKs: the block again after 200 ms, then 400 ms,
 * then the transfer is given up (and logged) after 800 ms more. */
static void silent_client(void **state)
{
	struct env *e = env_new(0, RETRIES);
	int fd = client_socket();
	uint8_t buf[600];
	uint64_t t[RETRIES + 1];
	uint16_t tid = 0;

	send_rrq(fd, e->port, "netboot/small");
	for (int i = 0; i <= RETRIES; i++) {
		expect_data(fd, &tid, 1, buf, sizeof(buf));
		t[i] = now_ms();
	}
	assert_true(t[1] - t[0] >= TIMEOUT_MS * 9 / 10);
	assert_true(t[2] - t[1] >= TIMEOUT_MS * 2 * 9 / 10);
	assert_true(t[2] - t[1] > (t[1] - t[0]) * 3 / 2);
	/* nothing more: the server gives up */
	assert_int_equal(recv_pkt(fd, buf, sizeof(buf), TIMEOUT_MS * 6, NULL),
			 -1);
	env_stop(e);
	assert_non_null(strstr(captured_logs(),
			       "TFTP: Failed to send \"netboot/small\""));
	assert_non_null(strstr(captured_logs(),
			       "no answer from the client after 2 "
			       "retransmissions"));
	close(fd);
	env_free(e);
}

/* Two transfers at most: a third request is "server busy", a repeated
 * request starts nothing, a finished transfer frees its place, and the
 * server stops without waiting for silent clients. */
static void busy_and_repeats(void **state)
{
	struct env *e = env_new(2, 6);
	int a = client_socket(), b = client_socket(), c = client_socket();
	uint8_t buf[600];
	uint16_t ta = 0, tb = 0, from;
	uint64_t t0;

	send_rrq(a, e->port, "netboot/small");
	expect_data(a, &ta, 1, buf, sizeof(buf));
	send_rrq(b, e->port, "netboot/small");
	expect_data(b, &tb, 1, buf, sizeof(buf));
	send_rrq(c, e->port, "netboot/small");
	expect_error(c, e->port, AUR_TFTP_EUNDEF, "server busy");
	/* a's request again: only a's transfer answers (its retransmission) */
	send_rrq(a, e->port, "netboot/small");
	assert_true(recv_pkt(a, buf, sizeof(buf), TIMEOUT_MS * 2, &from) >= 4);
	assert_int_equal(from, ta);
	/* a finishes; then c gets its turn */
	send_ack(a, ta, 1);
	while (recv_pkt(a, buf, sizeof(buf), TIMEOUT_MS / 2, NULL) >= 0 &&
	       be16(buf + 2) == 1)
		;
	assert_int_equal(be16(buf + 2), 2);
	send_ack(a, ta, 2);
	finish_small(a, ta, 3);
	/* a's thread may take a moment to end after its last ACK */
	for (int tries = 0;; tries++) {
		ssize_t n;

		send_rrq(c, e->port, "netboot/small");
		n = recv_pkt(c, buf, sizeof(buf), 2000, NULL);
		assert_true(n >= 4);
		if (be16(buf) == AUR_TFTP_DATA)
			break;
		assert_true(tries < 20);
		usleep(50000);
	}
	/* b and c are silent: stopping does not wait for their timeouts */
	t0 = now_ms();
	env_stop(e);
	assert_true(now_ms() - t0 < TIMEOUT_MS);
	assert_non_null(strstr(captured_logs(), "server busy"));
	assert_non_null(strstr(captured_logs(), "the server stopped"));
	close(a);
	close(b);
	close(c);
	env_free(e);
}

/* A file whose open blocks holds only its own client. */
static void blocking_open(void **state)
{
	struct env *e = env_new(0, RETRIES);
	int slow = client_socket(), fast = client_socket();
	uint8_t buf[600];
	uint16_t tid = 0;

	send_rrq(slow, e->port, "slow");
	send_rrq(fast, e->port, "netboot/small");
	finish_small(fast, 0, 1);
	assert_int_equal(recv_pkt(slow, buf, sizeof(buf), 100, NULL), -1);
	pthread_mutex_lock(&gate_lock);
	gate_open = true;
	pthread_cond_broadcast(&gate_cond);
	pthread_mutex_unlock(&gate_lock);
	expect_data(slow, &tid, 1, buf, sizeof(buf));
	send_ack(slow, tid, 1);
	finish_small(slow, tid, 2);
	close(slow);
	close(fast);
	env_free(e);
}

static void refusals(void **state)
{
	struct env *e = env_new(0, RETRIES);
	int fd = client_socket();
	uint8_t buf[600];
	size_t len;

	send_rrq(fd, e->port, "netboot/nothing");
	expect_error(fd, 0, AUR_TFTP_ENOTFOUND, "file not found");
	send_rrq(fd, e->port, "/netboot");
	expect_error(fd, 0, AUR_TFTP_ENOTFOUND, "file not found");
	send_rrq(fd, e->port, "/etc/passwd");
	expect_error(fd, 0, AUR_TFTP_ENOTFOUND, "file not found");
	send_rrq(fd, e->port, "netboot/../../etc/passwd");
	expect_error(fd, e->port, AUR_TFTP_EACCESS, "'..'");
	len = make_rrq(buf, AUR_TFTP_WRQ, "netboot/small", NULL, 0);
	send_to(fd, e->port, buf, len);
	expect_error(fd, e->port, AUR_TFTP_EACCESS, "read-only");
	send_to(fd, e->port, "\0\1x", 3);
	expect_error(fd, e->port, AUR_TFTP_EBADOP,
		     "file name is not "
		     "terminated");
	send_to(fd, e->port, "\0\1x\0octet", 9);
	expect_error(fd, e->port, AUR_TFTP_EBADOP, "mode is not terminated");
	send_to(fd, e->port, "\0\11", 2);
	expect_error(fd, e->port, AUR_TFTP_EBADOP, "not opcode 9");
	/* an ACK at the server's port is not answered */
	send_ack(fd, e->port, 1);
	assert_int_equal(recv_pkt(fd, buf, sizeof(buf), 200, NULL), -1);
	close(fd);
	env_stop(e);
	assert_non_null(strstr(captured_logs(),
			       "TFTP: Refused \"netboot/nothing\" to "
			       "127.0.0.1:"));
	env_free(e);
}

static void start_errors(void **state)
{
	struct aur_tree *t = aur_tree_new(0);
	struct aur_tftp_opts o = {.tree = t, .listen_addr = "127.0.0.1"};
	struct aur_tftp_server *a, *b;

	capture_logs();
	assert_int_equal(aur_tftp_open(&o, &a), 0);
	o.port = aur_tftp_port(a);
	assert_int_equal(aur_tftp_open(&o, &b), -EADDRINUSE);
	assert_null(b);
	assert_non_null(strstr(captured_logs(), "cannot listen on 127.0.0.1"));
	aur_tftp_close(a); /* never started */
	o.listen_addr = "localhost";
	assert_int_equal(aur_tftp_open(&o, &b), -EINVAL);
	assert_non_null(strstr(captured_logs(),
			       "listen address 'localhost' is not an IP"));
	o.listen_addr = NULL;
	o.tree = NULL;
	assert_int_equal(aur_tftp_open(&o, &b), -EINVAL);
	aur_tftp_close(NULL);
	release_logs();
	aur_tree_free(t);
}

/* The same over IPv6 loopback, where the machine has it. */
static void ipv6(void **state)
{
	struct aur_tree *t = aur_tree_new(0);
	struct aur_tftp_opts o = {.tree = t, .listen_addr = "::1"};
	struct sockaddr_in6 me = {.sin6_family = AF_INET6,
				  .sin6_addr = IN6ADDR_LOOPBACK_INIT};
	struct aur_tftp_server *s;
	uint8_t buf[600];
	int fd = socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	ssize_t n;

	assert_int_equal(aur_tree_add_file(t, "/f", &small_ops, NULL, NULL), 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&me, sizeof(me)) < 0) {
		if (fd >= 0)
			close(fd);
		aur_tree_free(t);
		skip();
	}
	assert_int_equal(aur_tftp_open(&o, &s), 0);
	assert_int_equal(aur_tftp_start(s), 0);
	me.sin6_port = htons(aur_tftp_port(s));
	assert_int_equal(sendto(fd, "\0\1f\0octet\0", 10, 0,
				(struct sockaddr *)&me, sizeof(me)),
			 10);
	for (uint16_t b = 1;; b++) {
		struct sockaddr_in6 from;
		socklen_t flen = sizeof(from);
		uint8_t a[4] = {0, AUR_TFTP_ACK, 0, (uint8_t)b};
		struct pollfd p = {fd, POLLIN, 0};

		assert_int_equal(poll(&p, 1, 2000), 1);
		n = recvfrom(fd, buf, sizeof(buf), 0, (struct sockaddr *)&from,
			     &flen);
		assert_int_equal(be16(buf + 2), b);
		assert_memory_equal(buf + 4, small + (b - 1) * 512,
				    (size_t)n - 4);
		sendto(fd, a, 4, 0, (struct sockaddr *)&from, flen);
		if (n < 4 + 512)
			break;
	}
	aur_tftp_close(s);
	close(fd);
	aur_tree_free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(transfer_and_log),
		cmocka_unit_test(options),
		cmocka_unit_test(stranger),
		cmocka_unit_test(duplicate_acks),
		cmocka_unit_test(silent_client),
		cmocka_unit_test(busy_and_repeats),
		cmocka_unit_test(blocking_open),
		cmocka_unit_test(refusals),
		cmocka_unit_test(start_errors),
		cmocka_unit_test(ipv6),
	};

	for (size_t i = 0; i < sizeof(small); i++)
		small[i] = (uint8_t)(i * 11 + 5);

	return cmocka_run_group_tests(tests, NULL, NULL);
}
