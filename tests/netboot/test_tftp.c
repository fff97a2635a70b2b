// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The TFTP protocol part (tftp.h) without sockets: requests (every
 * truncation, every kind of refusal), option negotiation, netascii, and
 * the sender's state machine against a simulated client - losses of
 * blocks and ACKs, duplicates, stale ACKs, block numbers rolling over.
 */
#include "test_helpers.h"

#include <aurora/extmap.h>
#include <aurora/source.h>
#include <aurora/tftp.h>
#include <aurora/util.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- packets ---- */

/* A request: opcode, then @n strings (with their NULs). */
static size_t make_request(uint8_t *buf, unsigned opcode,
			   const char *const *strs, size_t n)
{
	size_t o = 2;

	buf[0] = (uint8_t)(opcode >> 8);
	buf[1] = (uint8_t)opcode;
	for (size_t i = 0; i < n; i++) {
		size_t len = strlen(strs[i]) + 1;

		memcpy(buf + o, strs[i], len);
		o += len;
	}
	return o;
}

static int parse_strs(unsigned opcode, const char *const *strs, size_t n,
		      struct aur_tftp_request *req)
{
	uint8_t buf[AUR_TFTP_REQUEST_MAX];

	return aur_tftp_parse_request(buf, make_request(buf, opcode, strs, n),
				      req);
}

#define PARSE(req, ...)                                              \
	parse_strs(AUR_TFTP_RRQ, (const char *const[]){__VA_ARGS__}, \
		   sizeof((const char *const[]){__VA_ARGS__}) /      \
			   sizeof(char *),                           \
		   req)

static uint16_t be16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static size_t make_ack(uint8_t *buf, uint16_t block)
{
	buf[0] = 0;
	buf[1] = AUR_TFTP_ACK;
	buf[2] = (uint8_t)(block >> 8);
	buf[3] = (uint8_t)block;
	return AUR_TFTP_HDR_LEN;
}

/* ---- requests ---- */

static void request_ok(void **state)
{
	struct aur_tftp_request req;

	assert_int_equal(PARSE(&req, "netboot/kernel", "octet"), 0);
	assert_int_equal(req.opcode, AUR_TFTP_RRQ);
	assert_string_equal(req.file, "netboot/kernel");
	assert_string_equal(req.path, "/netboot/kernel");
	assert_int_equal(req.mode, AUR_TFTP_OCTET);
	for (int o = 0; o < AUR_TFTP_NOPTS; o++)
		assert_false(req.has[o]);

	assert_int_equal(PARSE(&req, "/netboot//kernel", "NetASCII"), 0);
	assert_string_equal(req.path, "/netboot/kernel");
	assert_int_equal(req.mode, AUR_TFTP_NETASCII);
	assert_int_equal(PARSE(&req, "/a", "OCTET"), 0);
	assert_int_equal(req.mode, AUR_TFTP_OCTET);

	/* options: names without case, unknown ones ignored */
	assert_int_equal(PARSE(&req, "a", "octet", "BlkSize", "1428",
			       "multicast", "", "tsize", "0", "TIMEOUT", "3",
			       "windowsize", "16", "utimeout", "5000"),
			 0);
	assert_true(req.has[AUR_TFTP_OPT_BLKSIZE]);
	assert_int_equal(req.value[AUR_TFTP_OPT_BLKSIZE], 1428);
	assert_true(req.has[AUR_TFTP_OPT_TSIZE]);
	assert_int_equal(req.value[AUR_TFTP_OPT_TSIZE], 0);
	assert_int_equal(req.value[AUR_TFTP_OPT_TIMEOUT], 3);
	assert_int_equal(req.value[AUR_TFTP_OPT_WINDOWSIZE], 16);

	/* repeated options: the first counts, even when it is no number */
	assert_int_equal(PARSE(&req, "a", "octet", "blksize", "1024", "blksize",
			       "8", "windowsize", "x", "windowsize", "4"),
			 0);
	assert_int_equal(req.value[AUR_TFTP_OPT_BLKSIZE], 1024);
	assert_false(req.has[AUR_TFTP_OPT_WINDOWSIZE]);

	/* values that are no numbers are ignored, not fatal */
	assert_int_equal(PARSE(&req, "a", "octet", "blksize", "-1", "tsize", "",
			       "timeout", "99999999999999999999999"),
			 0);
	assert_false(req.has[AUR_TFTP_OPT_BLKSIZE]);
	assert_false(req.has[AUR_TFTP_OPT_TSIZE]);
	assert_false(req.has[AUR_TFTP_OPT_TIMEOUT]);
	assert_int_equal(
		PARSE(&req, "a", "octet", "timeout", "18446744073709551615"),
		0);
	assert_int_equal(req.value[AUR_TFTP_OPT_TIMEOUT], UINT64_MAX);
}

static void request_refused(void **state)
{
	struct aur_tftp_request req;
	char longname[AUR_SERVE_PATH_MAX + 2];
	uint8_t pkt[AUR_TFTP_REQUEST_MAX + 1];

	assert_int_equal(parse_strs(AUR_TFTP_WRQ,
				    (const char *const[]){"x", "octet"}, 2,
				    &req),
			 -EACCES);
	assert_int_equal(req.error, AUR_TFTP_EACCESS);
	assert_non_null(strstr(req.why, "writing"));

	assert_int_equal(PARSE(&req, "../etc/passwd", "octet"), -EACCES);
	assert_int_equal(req.error, AUR_TFTP_EACCESS);
	assert_int_equal(PARSE(&req, "/netboot/../../x", "octet"), -EACCES);
	assert_int_equal(PARSE(&req, "a\\b", "octet"), -EACCES);
	assert_int_equal(PARSE(&req, "a\tb", "octet"), -EACCES);

	assert_int_equal(PARSE(&req, "x", "mail"), -EBADMSG);
	assert_int_equal(req.error, AUR_TFTP_EBADOP);
	assert_non_null(strstr(req.why, "'mail'"));
	assert_int_equal(PARSE(&req, "x", "oct\x01"), -EBADMSG);
	assert_non_null(strstr(req.why, "'oct?'"));

	/* the longest name passes, one byte more does not */
	memset(longname, 'a', sizeof(longname));
	longname[AUR_SERVE_PATH_MAX] = '\0';
	assert_int_equal(PARSE(&req, longname, "octet"), 0);
	longname[AUR_SERVE_PATH_MAX] = 'a';
	longname[AUR_SERVE_PATH_MAX + 1] = '\0';
	assert_int_equal(PARSE(&req, longname, "octet"), -EBADMSG);
	assert_non_null(strstr(req.why, "file name longer"));

	/* other opcodes: the tail of a conversation is not answered,
	 * garbage is */
	for (unsigned op = AUR_TFTP_DATA; op <= AUR_TFTP_OACK; op++) {
		assert_int_equal(
			parse_strs(op, (const char *const[]){"x"}, 1, &req),
			-EPROTO);
	}
	assert_int_equal(
		parse_strs(0, (const char *const[]){"x", "octet"}, 2, &req),
		-EBADMSG);
	assert_int_equal(
		parse_strs(7, (const char *const[]){"x", "octet"}, 2, &req),
		-EBADMSG);
	assert_non_null(strstr(req.why, "opcode 7"));

	memset(pkt, 'a', sizeof(pkt));
	pkt[0] = 0;
	pkt[1] = AUR_TFTP_RRQ;
	assert_int_equal(aur_tftp_parse_request(pkt, sizeof(pkt), &req),
			 -EBADMSG);
	assert_non_null(strstr(req.why, "longer than"));
}

/* Every prefix of a request: refused as malformed unless it ends where a
 * whole option ends (then served with the options so far); trailing NULs
 * are padding. Never a read past the end (ASan). */
static void request_truncations(void **state)
{
	static const char *const strs[] = {"netboot/kernel", "octet", "blksize",
					   "1428",	     "tsize", "0"};
	uint8_t full[256];
	size_t len = make_request(full, AUR_TFTP_RRQ, strs, 6);
	size_t mode_end = 2 + strlen(strs[0]) + 1 + strlen(strs[1]) + 1;
	size_t first_opt_end = mode_end + strlen("blksize") + 1 + 5;
	struct aur_tftp_request req;

	for (size_t cut = 0; cut <= len; cut++) {
		uint8_t *p = malloc(cut ? cut : 1);
		int r;

		memcpy(p, full, cut);
		r = aur_tftp_parse_request(p, cut, &req);
		if (cut == mode_end || cut == first_opt_end || cut == len) {
			assert_int_equal(r, 0);
			assert_int_equal(req.has[AUR_TFTP_OPT_BLKSIZE],
					 cut >= first_opt_end);
			assert_int_equal(req.has[AUR_TFTP_OPT_TSIZE],
					 cut == len);
		} else {
			assert_int_equal(r, -EBADMSG);
			assert_int_equal(req.error, AUR_TFTP_EBADOP);
			assert_true(strlen(req.why) > 0);
		}
		free(p);
	}
	/* padding after the last option */
	memset(full + len, 0, 3);
	assert_int_equal(aur_tftp_parse_request(full, len + 1, &req), 0);
	assert_int_equal(aur_tftp_parse_request(full, len + 3, &req), 0);
	assert_true(req.has[AUR_TFTP_OPT_TSIZE]);
	/* a name without a value is not padding */
	memcpy(full + len, "x", 2);
	assert_int_equal(aur_tftp_parse_request(full, len + 2, &req), -EBADMSG);
	assert_non_null(strstr(req.why, "option 'x' has no value"));
}

/* ---- negotiation ---- */

static const struct aur_tftp_limits lim = {
	.max_blksize = AUR_TFTP_BLKSIZE_MAX,
	.max_timeout_s = 10,
	.default_timeout_ms = 1000,
};

static void negotiate_str(const struct aur_tftp_limits *l, const char *opt,
			  const char *val, struct aur_tftp_params *p)
{
	struct aur_tftp_request req;

	assert_int_equal(PARSE(&req, "f", "octet", opt, val), 0);
	aur_tftp_negotiate(&req, l, 12345, p);
}

static void negotiate_blksize(void **state)
{
	static const struct {
		const char *val;
		uint32_t want; /* 0: not acknowledged */
	} cases[] = {
		{"7", 0},	  {"0", 0},	    {"x", 0},
		{"8", 8},	  {"512", 512},	    {"1428", 1428},
		{"65464", 65464}, {"65465", 65464}, {"99999999999", 65464},
	};
	struct aur_tftp_limits mtu = lim;
	struct aur_tftp_params p;

	for (size_t i = 0; i < AUR_ARRAY_SIZE(cases); i++) {
		negotiate_str(&lim, "blksize", cases[i].val, &p);
		assert_int_equal(p.oack[AUR_TFTP_OPT_BLKSIZE],
				 cases[i].want != 0);
		assert_int_equal(p.blksize,
				 cases[i].want ? cases[i].want : 512);
		assert_int_equal(p.windowsize, 1);
	}
	/* the path MTU and the configuration bound it */
	mtu.max_blksize = aur_tftp_mtu_blksize(1500, false);
	assert_int_equal(mtu.max_blksize, 1468);
	negotiate_str(&mtu, "blksize", "65464", &p);
	assert_int_equal(p.blksize, 1468);
	assert_int_equal(p.value[AUR_TFTP_OPT_BLKSIZE], 1468);
	assert_int_equal(aur_tftp_mtu_blksize(1500, true), 1448);
	assert_int_equal(aur_tftp_mtu_blksize(65536, false), 65464);
	assert_int_equal(aur_tftp_mtu_blksize(9000, false), 8968);
	assert_int_equal(aur_tftp_mtu_blksize(30, false), 8);
	/* a configured maximum below 512 still lets a client ask for less */
	mtu.max_blksize = 256;
	negotiate_str(&mtu, "blksize", "1024", &p);
	assert_int_equal(p.blksize, 256);
}

static void negotiate_others(void **state)
{
	struct aur_tftp_request req;
	struct aur_tftp_params p;
	uint8_t oack[128];
	static const uint8_t want[] = "\0\6blksize\0001428\0tsize\00012345\0"
				      "timeout\0003\0windowsize\00016";

	negotiate_str(&lim, "windowsize", "0", &p);
	assert_false(p.oack[AUR_TFTP_OPT_WINDOWSIZE]);
	assert_int_equal(p.windowsize, 1);
	assert_int_equal(aur_tftp_build_oack(&p, oack, sizeof(oack)), 0);
	negotiate_str(&lim, "windowsize", "64", &p);
	assert_int_equal(p.windowsize, 64);
	negotiate_str(&lim, "windowsize", "65535", &p);
	assert_int_equal(p.windowsize, 64);
	assert_int_equal(p.value[AUR_TFTP_OPT_WINDOWSIZE], 64);
	/* a window holds at most AUR_TFTP_WINDOW_BYTES */
	assert_int_equal(PARSE(&req, "f", "octet", "blksize", "65464",
			       "windowsize", "64"),
			 0);
	aur_tftp_negotiate(&req, &lim, 0, &p);
	assert_int_equal(p.windowsize, AUR_TFTP_WINDOW_BYTES / 65464);

	negotiate_str(&lim, "timeout", "0", &p);
	assert_false(p.oack[AUR_TFTP_OPT_TIMEOUT]);
	assert_int_equal(p.timeout_ms, 1000);
	negotiate_str(&lim, "timeout", "11", &p);
	assert_false(p.oack[AUR_TFTP_OPT_TIMEOUT]);
	negotiate_str(&lim, "timeout", "10", &p);
	assert_true(p.oack[AUR_TFTP_OPT_TIMEOUT]);
	assert_int_equal(p.timeout_ms, 10000);

	negotiate_str(&lim, "tsize", "0", &p);
	assert_true(p.oack[AUR_TFTP_OPT_TSIZE]);
	assert_int_equal(p.value[AUR_TFTP_OPT_TSIZE], 12345);
	negotiate_str(&lim, "tsize", "999", &p);
	assert_int_equal(p.value[AUR_TFTP_OPT_TSIZE], 12345);
	/* an empty file: no tsize (curl takes "tsize 0" for an error) */
	assert_int_equal(PARSE(&req, "f", "octet", "tsize", "0"), 0);
	aur_tftp_negotiate(&req, &lim, 0, &p);
	assert_false(p.oack[AUR_TFTP_OPT_TSIZE]);

	/* the OACK, byte for byte */
	assert_int_equal(PARSE(&req, "f", "octet", "windowsize", "16", "tsize",
			       "0", "blksize", "1428", "timeout", "3", "foo",
			       "bar"),
			 0);
	aur_tftp_negotiate(&req, &lim, 12345, &p);
	assert_int_equal(aur_tftp_build_oack(&p, oack, sizeof(oack)),
			 sizeof(want));
	assert_memory_equal(oack, want, sizeof(want));
	assert_int_equal(aur_tftp_build_oack(&p, oack, 20), 0);
}

static void error_packets(void **state)
{
	uint8_t pkt[AUR_TFTP_HDR_LEN + AUR_TFTP_MESSAGE_MAX + 1];
	char longmsg[300], out[8];

	assert_int_equal(aur_tftp_build_error(pkt, sizeof(pkt),
					      AUR_TFTP_ENOTFOUND,
					      "file not found"),
			 4 + 15);
	assert_memory_equal(pkt, "\0\5\0\1file not found", 19);
	memset(longmsg, 'm', sizeof(longmsg) - 1);
	longmsg[sizeof(longmsg) - 1] = '\0';
	assert_int_equal(aur_tftp_build_error(pkt, sizeof(pkt), 0, longmsg),
			 sizeof(pkt));
	assert_int_equal(pkt[sizeof(pkt) - 1], 0);
	assert_int_equal(aur_tftp_build_error(pkt, 10, 0, longmsg), 10);
	assert_int_equal(pkt[9], 0);

	aur_tftp_printable("a\x01\xff"
			   "bcdefgh",
			   10, out, sizeof(out));
	assert_string_equal(out, "a??bcde");
	aur_tftp_printable("ab\0cd", 5, out, sizeof(out));
	assert_string_equal(out, "ab");
}

/* ---- the sender against a simulated client ---- */

struct client {
	uint8_t *got; /* the bytes received in order */
	size_t len, cap;
	uint64_t next; /* the block expected (64 bits, as the server) */
};

static size_t take_output(struct aur_tftp_sender *s, struct iovec *iov)
{
	return aur_tftp_sender_output(s, iov, AUR_TFTP_WINDOW_MAX);
}

/* Take the DATA packets of one window as a client does: in order, by
 * block number. */
static void client_take(struct client *c, const struct iovec *iov, size_t n,
			uint32_t blksize)
{
	for (size_t i = 0; i < n; i++) {
		const uint8_t *p = iov[i].iov_base;
		size_t dlen = iov[i].iov_len - AUR_TFTP_HDR_LEN;

		assert_int_equal(be16(p), AUR_TFTP_DATA);
		if (be16(p + 2) != (uint16_t)c->next)
			continue; /* a resend of what we have, or a gap */
		assert_true(dlen <= blksize);
		if (c->len + dlen > c->cap) {
			c->cap = (c->len + dlen) * 2;
			c->got = realloc(c->got, c->cap);
			assert_non_null(c->got);
		}
		if (dlen)
			memcpy(c->got + c->len, p + AUR_TFTP_HDR_LEN, dlen);
		c->len += dlen;
		c->next++;
	}
}

/* Run a whole transfer with a client that loses nothing. */
static void run_clean(struct aur_tftp_sender *s, struct client *c)
{
	struct iovec iov[AUR_TFTP_WINDOW_MAX];
	uint8_t ack[4];
	enum aur_tftp_step st = aur_tftp_sender_start(s);

	c->next = 1;
	if (s->oack_len) {
		assert_int_equal(st, AUR_TFTP_SEND);
		assert_int_equal(take_output(s, iov), 1);
		st = aur_tftp_sender_input(s, ack, make_ack(ack, 0));
	}
	while (st == AUR_TFTP_SEND) {
		size_t n = take_output(s, iov);

		assert_true(n >= 1 && n <= s->p.windowsize);
		client_take(c, iov, n, s->p.blksize);
		st = aur_tftp_sender_input(
			s, ack, make_ack(ack, (uint16_t)(c->next - 1)));
	}
	assert_int_equal(st, AUR_TFTP_DONE);
	assert_int_equal(take_output(s, iov), 0);
}

static struct aur_tftp_params params(uint32_t blksize, uint32_t window)
{
	struct aur_tftp_params p = {
		.blksize = blksize, .windowsize = window, .timeout_ms = 1000};

	return p;
}

static void send_clean(const uint8_t *data, size_t len, uint32_t blksize,
		       uint32_t window, uint64_t want_blocks)
{
	struct aur_extmap m;
	struct aur_tftp_sender s;
	struct aur_tftp_params p = params(blksize, window);
	struct client c = {0};

	aur_extmap_init(&m);
	assert_int_equal(aur_extmap_add_mem(&m, "data", data, len), 0);
	assert_int_equal(aur_tftp_sender_init(&s, &m, AUR_TFTP_OCTET, &p, 3),
			 0);
	run_clean(&s, &c);
	assert_int_equal(c.len, len);
	if (len)
		assert_memory_equal(c.got, data, len);
	assert_int_equal(c.next - 1, want_blocks);
	assert_int_equal(s.bytes, len);
	aur_tftp_sender_release(&s);
	aur_extmap_release(&m);
	free(c.got);
}

static void sender_sizes(void **state)
{
	uint8_t data[5000];

	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)(i * 7 + 3);
	send_clean(data, 0, 512, 1, 1); /* one empty block */
	send_clean(data, 1, 512, 1, 1);
	send_clean(data, 511, 512, 1, 1);
	send_clean(data, 512, 512, 1, 2); /* and an empty last block */
	send_clean(data, 513, 512, 1, 2);
	send_clean(data, 4096, 512, 4, 9);
	send_clean(data, 5000, 8, 64, 626);
	send_clean(data, 5000, 1428, 3, 4);
	send_clean(data, 5000, 65464, 1, 1);
}

struct fixture {
	uint8_t data[40000];
	struct aur_extmap m;
	struct aur_tftp_sender s;
	struct iovec iov[AUR_TFTP_WINDOW_MAX];
	uint8_t ack[4];
};

static struct fixture *fixture_new(uint32_t blksize, uint32_t window,
				   bool with_oack)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct aur_tftp_params p = params(blksize, window);

	assert_non_null(f);
	for (size_t i = 0; i < sizeof(f->data); i++)
		f->data[i] = (uint8_t)(i ^ (i >> 8));
	if (with_oack) {
		p.oack[AUR_TFTP_OPT_BLKSIZE] = true;
		p.value[AUR_TFTP_OPT_BLKSIZE] = blksize;
	}
	aur_extmap_init(&f->m);
	assert_int_equal(
		aur_extmap_add_mem(&f->m, "d", f->data, sizeof(f->data)), 0);
	assert_int_equal(
		aur_tftp_sender_init(&f->s, &f->m, AUR_TFTP_OCTET, &p, 3), 0);
	return f;
}

static void fixture_free(struct fixture *f)
{
	aur_tftp_sender_release(&f->s);
	aur_extmap_release(&f->m);
	free(f);
}

static enum aur_tftp_step send_ack(struct fixture *f, uint16_t block)
{
	return aur_tftp_sender_input(&f->s, f->ack, make_ack(f->ack, block));
}

/* The output is DATA blocks @first .. @first + @n - 1 with the file's
 * bytes. */
static void expect_window(struct fixture *f, uint64_t first, size_t n)
{
	size_t got = take_output(&f->s, f->iov);
	uint32_t bs = f->s.p.blksize;

	assert_int_equal(got, n);
	for (size_t i = 0; i < n; i++) {
		const uint8_t *p = f->iov[i].iov_base;
		uint64_t b = first + i, off = (b - 1) * bs;
		size_t dlen =
			(size_t)AUR_MIN((uint64_t)bs, sizeof(f->data) - off);

		assert_int_equal(be16(p), AUR_TFTP_DATA);
		assert_int_equal(be16(p + 2), (uint16_t)b);
		assert_int_equal(f->iov[i].iov_len, AUR_TFTP_HDR_LEN + dlen);
		assert_memory_equal(p + AUR_TFTP_HDR_LEN, f->data + off, dlen);
	}
}

static void sender_lockstep(void **state)
{
	struct fixture *f = fixture_new(512, 1, false);

	assert_int_equal(aur_tftp_sender_start(&f->s), AUR_TFTP_SEND);
	expect_window(f, 1, 1);
	/* the ACK is lost: the block again, waiting twice as long each time */
	assert_int_equal(aur_tftp_sender_wait_ms(&f->s), 1000);
	assert_int_equal(aur_tftp_sender_timeout(&f->s), AUR_TFTP_SEND);
	expect_window(f, 1, 1);
	assert_int_equal(aur_tftp_sender_wait_ms(&f->s), 2000);
	assert_int_equal(aur_tftp_sender_timeout(&f->s), AUR_TFTP_SEND);
	assert_int_equal(aur_tftp_sender_wait_ms(&f->s), 4000);
	/* stale, future and malformed packets change nothing */
	assert_int_equal(send_ack(f, 0), AUR_TFTP_WAIT);
	assert_int_equal(send_ack(f, 2), AUR_TFTP_WAIT);
	assert_int_equal(send_ack(f, 65535), AUR_TFTP_WAIT);
	assert_int_equal(aur_tftp_sender_input(&f->s, f->ack, 3),
			 AUR_TFTP_WAIT);
	f->ack[1] = AUR_TFTP_DATA;
	assert_int_equal(aur_tftp_sender_input(&f->s, f->ack, 4),
			 AUR_TFTP_WAIT);
	expect_window(f, 1, 1);
	/* progress resets the backoff */
	assert_int_equal(send_ack(f, 1), AUR_TFTP_SEND);
	expect_window(f, 2, 1);
	assert_int_equal(aur_tftp_sender_wait_ms(&f->s), 1000);
	assert_int_equal(f->s.bytes, 512);
	/* sorcerer's apprentice: a duplicate ACK sends nothing */
	assert_int_equal(send_ack(f, 1), AUR_TFTP_WAIT);
	assert_int_equal(send_ack(f, 1), AUR_TFTP_WAIT);
	assert_int_equal(send_ack(f, 2), AUR_TFTP_SEND);
	expect_window(f, 3, 1);
	/* the retries run out: FAIL, nothing more to send */
	for (int i = 0; i < 3; i++)
		assert_int_equal(aur_tftp_sender_timeout(&f->s), AUR_TFTP_SEND);
	assert_int_equal(aur_tftp_sender_timeout(&f->s), AUR_TFTP_FAIL);
	assert_int_equal(take_output(&f->s, f->iov), 0);
	assert_non_null(strstr(f->s.why, "no answer"));
	assert_false(f->s.client_error);
	fixture_free(f);
}

static void sender_oack(void **state)
{
	struct fixture *f = fixture_new(1000, 1, true);
	const uint8_t *p;

	assert_int_equal(aur_tftp_sender_start(&f->s), AUR_TFTP_SEND);
	assert_int_equal(take_output(&f->s, f->iov), 1);
	p = f->iov[0].iov_base;
	assert_int_equal(be16(p), AUR_TFTP_OACK);
	assert_memory_equal(p + 2, "blksize\0001000", 13);
	/* only ACK 0 answers the OACK; a timeout resends it */
	assert_int_equal(send_ack(f, 1), AUR_TFTP_WAIT);
	assert_int_equal(aur_tftp_sender_timeout(&f->s), AUR_TFTP_SEND);
	assert_int_equal(take_output(&f->s, f->iov), 1);
	assert_int_equal(be16(f->iov[0].iov_base), AUR_TFTP_OACK);
	assert_int_equal(send_ack(f, 0), AUR_TFTP_SEND);
	expect_window(f, 1, 1);
	assert_int_equal(send_ack(f, 0), AUR_TFTP_WAIT);
	fixture_free(f);

	/* the client refuses the options (or only wanted tsize) */
	f = fixture_new(1000, 1, true);
	aur_tftp_sender_start(&f->s);
	assert_int_equal(aur_tftp_sender_input(&f->s,
					       (const uint8_t *)"\0\5\0\10"
								"no\x01",
					       8),
			 AUR_TFTP_FAIL);
	assert_true(f->s.client_error);
	assert_non_null(strstr(f->s.why, "error 8 'no?'"));
	assert_int_equal(take_output(&f->s, f->iov), 0);
	fixture_free(f);
}

static void sender_window(void **state)
{
	/* 40000 bytes in blocks of 1000: 41 blocks, the last empty */
	struct fixture *f = fixture_new(1000, 8, false);

	assert_int_equal(aur_tftp_sender_start(&f->s), AUR_TFTP_SEND);
	expect_window(f, 1, 8);
	/* all of it came: the next window */
	assert_int_equal(send_ack(f, 8), AUR_TFTP_SEND);
	expect_window(f, 9, 8);
	/* block 12 was lost: the client ACKs 11, the window restarts at 12 */
	assert_int_equal(send_ack(f, 11), AUR_TFTP_SEND);
	expect_window(f, 12, 8);
	/* the client's repeats of ACK 11 and late ACKs change nothing */
	assert_int_equal(send_ack(f, 11), AUR_TFTP_WAIT);
	assert_int_equal(send_ack(f, 8), AUR_TFTP_WAIT);
	assert_int_equal(send_ack(f, 10), AUR_TFTP_WAIT);
	/* nor an ACK past what was sent */
	assert_int_equal(send_ack(f, 20), AUR_TFTP_WAIT);
	/* the whole window was lost: a timeout sends it again */
	assert_int_equal(aur_tftp_sender_timeout(&f->s), AUR_TFTP_SEND);
	expect_window(f, 12, 8);
	/* a loss in the middle of the resent window */
	assert_int_equal(send_ack(f, 15), AUR_TFTP_SEND);
	expect_window(f, 16, 8);
	assert_int_equal(send_ack(f, 23), AUR_TFTP_SEND);
	expect_window(f, 24, 8);
	assert_int_equal(send_ack(f, 31), AUR_TFTP_SEND);
	expect_window(f, 32, 8);
	assert_int_equal(send_ack(f, 39), AUR_TFTP_SEND);
	/* the end: blocks 40 and 41 (empty) */
	expect_window(f, 40, 2);
	assert_int_equal(send_ack(f, 40), AUR_TFTP_SEND);
	expect_window(f, 41, 1);
	assert_int_equal(send_ack(f, 41), AUR_TFTP_DONE);
	assert_int_equal(f->s.bytes, sizeof(f->data));
	assert_int_equal(take_output(&f->s, f->iov), 0);
	fixture_free(f);
}

/* A file of 512 * 65535 + 700 bytes: zeros with marks at the blocks
 * around the rollover. Lock-step and windows with losses across it. */
static void sender_rollover(void **state)
{
	const uint64_t size = 512ull * 65535 + 700;
	static uint8_t mark[4096];
	struct aur_extmap m;

	for (size_t i = 0; i < sizeof(mark); i++)
		mark[i] = (uint8_t)(i * 13 + 1);
	aur_extmap_init(&m);
	/* blocks 65533 .. 65537 carry the mark */
	assert_int_equal(aur_extmap_add_zero(&m, "z", 512ull * 65532), 0);
	assert_int_equal(aur_extmap_add_mem(&m, "mark", mark, 512 * 3 + 700),
			 0);
	assert_int_equal(m.size, size);

	for (uint32_t window = 1; window <= 64; window += 63) {
		struct aur_tftp_params p = params(512, window);
		struct aur_tftp_sender s;
		struct client c = {0};

		assert_int_equal(
			aur_tftp_sender_init(&s, &m, AUR_TFTP_OCTET, &p, 3), 0);
		run_clean(&s, &c);
		assert_int_equal(c.len, size);
		assert_int_equal(c.next - 1,
				 65537); /* wire: ..., 65535, 0, 1 */
		assert_memory_equal(c.got + 512ull * 65532, mark,
				    512 * 3 + 700);
		assert_int_equal(s.bytes, size);
		aur_tftp_sender_release(&s);
		free(c.got);
	}
	aur_extmap_release(&m);
}

/* Across the rollover with a window and losses: ACKs carry 16 bits and
 * must still be placed in the window. */
static void sender_rollover_window(void **state)
{
	static uint8_t data[1100];
	struct aur_extmap m;
	struct aur_tftp_params p = params(8, 64);
	struct aur_tftp_sender s;
	struct iovec iov[AUR_TFTP_WINDOW_MAX];
	uint8_t ack[4];
	uint64_t acked = 0;
	enum aur_tftp_step st;

	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)(i * 31 + 7);
	aur_extmap_init(&m);
	/* 8 * 65530 bytes of zeros, then data: 65668 blocks */
	assert_int_equal(aur_extmap_add_zero(&m, "z", 8ull * 65530), 0);
	assert_int_equal(aur_extmap_add_mem(&m, "d", data, sizeof(data)), 0);
	assert_int_equal(aur_tftp_sender_init(&s, &m, AUR_TFTP_OCTET, &p, 3),
			 0);
	st = aur_tftp_sender_start(&s);
	while (st == AUR_TFTP_SEND) {
		size_t n = take_output(&s, iov);
		/* lose the block after the 5th in windows near the
		 * rollover, else take all */
		uint64_t take = acked > 65400 && acked < 65700 && n > 5 ? 5 : n;

		for (size_t i = 0; i < n; i++) {
			const uint8_t *pkt = iov[i].iov_base;
			uint64_t b = acked + 1 + i, off = (b - 1) * 8;

			assert_int_equal(be16(pkt + 2), (uint16_t)b);
			if (off >= 8ull * 65530 &&
			    off - 8ull * 65530 < sizeof(data))
				assert_memory_equal(pkt + 4,
						    data + (off - 8ull * 65530),
						    iov[i].iov_len - 4);
		}
		acked += take;
		st = aur_tftp_sender_input(&s, ack,
					   make_ack(ack, (uint16_t)acked));
		/* a repeat of that ACK and a stale one: ignored */
		if (st == AUR_TFTP_SEND) {
			assert_int_equal(
				aur_tftp_sender_input(
					&s, ack,
					make_ack(ack, (uint16_t)acked)),
				AUR_TFTP_WAIT);
			assert_int_equal(
				aur_tftp_sender_input(
					&s, ack,
					make_ack(ack, (uint16_t)(acked - 3))),
				AUR_TFTP_WAIT);
		}
	}
	assert_int_equal(st, AUR_TFTP_DONE);
	assert_int_equal(acked, 65530 + sizeof(data) / 8 + 1);
	assert_int_equal(s.bytes, m.size);
	aur_tftp_sender_release(&s);
	aur_extmap_release(&m);
}

/* ---- a source that fails ---- */

static int failing_run(struct aur_source *src, uint64_t off, size_t n,
		       struct aur_run *run)
{
	return -EIO;
}

static const struct aur_source_ops failing_ops = {.get_run = failing_run};

static void sender_read_error(void **state)
{
	struct aur_source src = {&failing_ops, 10000};
	struct aur_extmap m;
	struct aur_tftp_params p = params(512, 4);
	struct aur_tftp_sender s;
	struct iovec iov[AUR_TFTP_WINDOW_MAX];
	const uint8_t *pkt;
	uint64_t size;

	aur_extmap_init(&m);
	assert_int_equal(aur_extmap_add_source(&m, "bad", &src, 0, 10000), 0);
	assert_int_equal(aur_tftp_sender_init(&s, &m, AUR_TFTP_OCTET, &p, 3),
			 0);
	assert_int_equal(aur_tftp_sender_start(&s), AUR_TFTP_FAIL);
	assert_int_equal(aur_tftp_sender_output(&s, iov, 4), 1);
	pkt = iov[0].iov_base;
	assert_int_equal(be16(pkt), AUR_TFTP_ERROR);
	assert_non_null(strstr((const char *)pkt + 4, "cannot read"));
	assert_non_null(strstr(s.why, "Input/output error"));
	aur_tftp_sender_release(&s);
	assert_int_equal(aur_tftp_netascii_size(&m, &size), -EIO);
	aur_extmap_release(&m);
}

/* ---- netascii ---- */

static size_t to_netascii(const uint8_t *in, size_t n, uint8_t *out)
{
	size_t o = 0;

	for (size_t i = 0; i < n; i++) {
		if (in[i] == '\n') {
			out[o++] = '\r';
			out[o++] = '\n';
		} else if (in[i] == '\r') {
			out[o++] = '\r';
			out[o++] = '\0';
		} else {
			out[o++] = in[i];
		}
	}
	return o;
}

static void netascii_one(const uint8_t *data, size_t len, uint32_t blksize,
			 uint32_t window)
{
	struct aur_extmap m;
	struct aur_tftp_params p = params(blksize, window);
	struct aur_tftp_sender s;
	struct client c = {0};
	uint8_t *want = malloc(2 * len + 1);
	size_t wlen = to_netascii(data, len, want);
	uint64_t size;

	aur_extmap_init(&m);
	assert_int_equal(aur_extmap_add_mem(&m, "t", data, len), 0);
	assert_int_equal(aur_tftp_netascii_size(&m, &size), 0);
	assert_int_equal(size, wlen);
	assert_int_equal(aur_tftp_sender_init(&s, &m, AUR_TFTP_NETASCII, &p, 3),
			 0);
	run_clean(&s, &c);
	assert_int_equal(c.len, wlen);
	if (wlen)
		assert_memory_equal(c.got, want, wlen);
	assert_int_equal(c.next - 1, wlen / blksize + 1);
	assert_int_equal(s.bytes, wlen);
	aur_tftp_sender_release(&s);
	aur_extmap_release(&m);
	free(c.got);
	free(want);
}

static void netascii(void **state)
{
	static const char text[] = "a\nb\r\nc\rd\n";
	uint8_t buf[3000];

	netascii_one((const uint8_t *)text, strlen(text), 512, 1);
	/* a CR LF cut by the end of a block, in every position */
	for (uint32_t bs = 8; bs <= 16; bs++)
		netascii_one((const uint8_t *)text, strlen(text), bs, 2);
	/* only line ends: every block ends in the middle of a pair */
	memset(buf, '\n', 100);
	netascii_one(buf, 100, 9, 3);
	netascii_one(buf, 4, 8, 1); /* exactly one full block, then empty */
	srandom(7);
	for (int round = 0; round < 200; round++) {
		size_t len = (size_t)random() % sizeof(buf);
		uint32_t bs = 8 + (uint32_t)(random() % 40);

		for (size_t i = 0; i < len; i++) {
			long r = random() % 4;

			buf[i] = r == 0	  ? '\n'
				 : r == 1 ? '\r'
					  : (uint8_t)random();
		}
		netascii_one(buf, len, bs, 1 + (uint32_t)(random() % 8));
	}
	netascii_one(buf, 0, 512, 1);
}

/* The size counted through a file's descriptor (FD runs). */
static void netascii_size_file(void **state)
{
	char *dir = make_temp_dir();
	char *path = aur_printf("%s/f", dir);
	static uint8_t buf[200000];
	struct aur_file_source fs;
	struct aur_extmap m;
	uint64_t size, ends = 0;

	for (size_t i = 0; i < sizeof(buf); i++) {
		buf[i] = (uint8_t)(i % 97 == 0	 ? '\n'
				   : i % 89 == 0 ? '\r'
						 : 'x');
		ends += buf[i] != 'x';
	}
	write_file(path, buf, sizeof(buf));
	assert_int_equal(aur_file_source_open(&fs, path), 0);
	aur_extmap_init(&m);
	assert_int_equal(aur_extmap_add_zero(&m, "z", 1000), 0);
	assert_int_equal(
		aur_extmap_add_source(&m, "f", &fs.src, 0, sizeof(buf)), 0);
	assert_int_equal(aur_tftp_netascii_size(&m, &size), 0);
	assert_int_equal(size, 1000 + sizeof(buf) + ends);
	aur_extmap_release(&m);
	aur_file_source_close(&fs);
	remove_tree(dir);
	free(path);
	free(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(request_ok),
		cmocka_unit_test(request_refused),
		cmocka_unit_test(request_truncations),
		cmocka_unit_test(negotiate_blksize),
		cmocka_unit_test(negotiate_others),
		cmocka_unit_test(error_packets),
		cmocka_unit_test(sender_sizes),
		cmocka_unit_test(sender_lockstep),
		cmocka_unit_test(sender_oack),
		cmocka_unit_test(sender_window),
		cmocka_unit_test(sender_rollover),
		cmocka_unit_test(sender_rollover_window),
		cmocka_unit_test(sender_read_error),
		cmocka_unit_test(netascii),
		cmocka_unit_test(netascii_size_file),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
