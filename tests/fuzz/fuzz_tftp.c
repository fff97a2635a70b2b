// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Fuzz target: the TFTP server's protocol part (tftp.h) - a request from a
 * hostile client, the negotiation, then the sender driven by a sequence of
 * the client's packets and timeouts, with every DATA packet it emits
 * checked against the file's bytes (or their netascii form).
 *
 * Input:
 *   u16  length L of the request, then L bytes of request
 *   u16  the largest blksize (path MTU and configuration), u8 the largest
 *        timeout option
 *   u24  the file's size (at most FILE_MAX), u8 the seed of its bytes
 *        (which 4 KiB pieces are zeros, how many line ends)
 *   then events until the input ends or the transfer does, one byte each
 *   (low 3 bits the kind) and their arguments:
 *     0, 5  ACK the whole window (what a good client does)
 *     1     ACK the 16-bit block number in the next 2 bytes
 *     2     a timeout
 *     3     ACK the (byte >> 3)th block of the window (a loss after it)
 *     4     a raw packet: its length in the next byte, then its bytes
 *     6     an ERROR from the client
 *     7     ACK the last acknowledged block again (a duplicate)
 */
#include <aurora/extmap.h>
#include <aurora/log.h>
#include <aurora/tftp.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* enough for block numbers to roll over at blksize 8 */
#define FILE_MAX (640u << 10)
#define PIECE 4096

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void quiet(void *ctx, int level, const char *msg)
{
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	aur_log_set_sink(quiet, NULL);
	return 0;
}

/* The input, read from the front. */
struct input {
	const uint8_t *p;
	size_t left;
};

static uint64_t take(struct input *in, size_t n)
{
	uint64_t v = 0;

	for (size_t i = 0; i < n; i++) {
		v <<= 8;
		if (in->left) {
			v |= *in->p++;
			in->left--;
		}
	}
	return v;
}

/* The file: pieces of zeros (ZERO extents) and of bytes with line ends
 * (MEM extents), chosen by @seed. */
static uint8_t *make_file(struct aur_extmap *m, size_t len, unsigned seed)
{
	uint8_t *buf = calloc(1, len ? len : 1);

	if (!buf)
		abort();
	for (size_t off = 0; off < len; off += PIECE) {
		size_t n = len - off < PIECE ? len - off : PIECE;
		bool zeros = (seed >> ((off / PIECE) % 8)) & 1;

		for (size_t i = 0; i < n && !zeros; i++) {
			unsigned r = (unsigned)(off + i) * 2654435761u + seed;

			buf[off + i] = r % 5 == 0   ? '\n'
				       : r % 7 == 0 ? '\r'
						    : (uint8_t)(r >> 11);
		}
		if ((zeros ? aur_extmap_add_zero(m, "z", n)
			   : aur_extmap_add_mem(m, "m", buf + off, n)) < 0)
			abort();
	}
	return buf;
}

/* The bytes as the client must receive them. */
static uint8_t *expected_stream(const uint8_t *file, size_t len,
				enum aur_tftp_mode mode, size_t *out_len)
{
	uint8_t *s = malloc(2 * len + 1);
	size_t o = 0;

	if (!s)
		abort();
	for (size_t i = 0; i < len; i++) {
		uint8_t c = file[i];

		if (mode == AUR_TFTP_NETASCII && (c == '\n' || c == '\r')) {
			s[o++] = '\r';
			s[o++] = c == '\n' ? '\n' : '\0';
		} else {
			s[o++] = c;
		}
	}
	*out_len = o;
	return s;
}

static uint16_t be16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

/* Every packet the sender wants out must be what the protocol says. */
static void check_output(const struct aur_tftp_sender *s, const uint8_t *want,
			 size_t want_len)
{
	struct iovec iov[AUR_TFTP_WINDOW_MAX];
	size_t n = aur_tftp_sender_output(s, iov, AUR_TFTP_WINDOW_MAX);
	uint32_t bs = s->p.blksize;

	if (n > s->p.windowsize)
		abort();
	for (size_t i = 0; i < n; i++) {
		const uint8_t *pkt = iov[i].iov_base;
		uint64_t b = s->acked + 1 + i, off = (b - 1) * bs;
		size_t dlen = iov[i].iov_len - AUR_TFTP_HDR_LEN;
		size_t wlen;

		if (be16(pkt) != AUR_TFTP_DATA)
			continue; /* the OACK, or an ERROR for a read error */
		if (be16(pkt + 2) != (uint16_t)b || off > want_len)
			abort();
		wlen = want_len - off < bs ? (size_t)(want_len - off) : bs;
		if (dlen != wlen ||
		    memcmp(pkt + AUR_TFTP_HDR_LEN, want + off, dlen) != 0)
			abort();
	}
}

static size_t make_ack(uint8_t *pkt, uint16_t block)
{
	pkt[0] = 0;
	pkt[1] = AUR_TFTP_ACK;
	pkt[2] = (uint8_t)(block >> 8);
	pkt[3] = (uint8_t)block;
	return 4;
}

/* One event from the input: the sender's step. */
static enum aur_tftp_step event(struct aur_tftp_sender *s, struct input *in)
{
	uint8_t pkt[260];
	unsigned op = (unsigned)take(in, 1);
	uint64_t window = s->sent - s->acked;
	size_t n;

	switch (op & 7) {
	case 1:
		return aur_tftp_sender_input(
			s, pkt, make_ack(pkt, (uint16_t)take(in, 2)));
	case 2:
		return aur_tftp_sender_timeout(s);
	case 3:
		return aur_tftp_sender_input(
			s, pkt,
			make_ack(pkt, (uint16_t)(s->acked +
						 (window ? (op >> 3) % window
							 : 0))));
	case 4:
		n = (size_t)take(in, 1);
		for (size_t i = 0; i < n; i++)
			pkt[i] = (uint8_t)take(in, 1);
		return aur_tftp_sender_input(s, pkt, n);
	case 6:
		memcpy(pkt, "\0\5\0\0bye", 8);
		return aur_tftp_sender_input(s, pkt, 8);
	case 7:
		return aur_tftp_sender_input(s, pkt,
					     make_ack(pkt, (uint16_t)s->acked));
	default:
		return aur_tftp_sender_input(s, pkt,
					     make_ack(pkt, (uint16_t)s->sent));
	}
}

static void run_sender(const struct aur_tftp_request *req,
		       const struct aur_tftp_limits *lim, struct input *in)
{
	size_t len = (size_t)(take(in, 3) % (FILE_MAX + 1)), want_len;
	unsigned seed = (unsigned)take(in, 1);
	struct aur_extmap m;
	uint8_t *file, *want;
	struct aur_tftp_params p;
	struct aur_tftp_sender s;
	enum aur_tftp_step st;
	uint64_t size;

	aur_extmap_init(&m);
	file = make_file(&m, len, seed);
	want = expected_stream(file, len, req->mode, &want_len);
	if (req->mode == AUR_TFTP_NETASCII &&
	    (aur_tftp_netascii_size(&m, &size) < 0 || size != want_len))
		abort();
	aur_tftp_negotiate(req, lim, want_len, &p);
	if (aur_tftp_sender_init(&s, &m, req->mode, &p, 5) < 0)
		abort();
	st = aur_tftp_sender_start(&s);
	while (st != AUR_TFTP_DONE && st != AUR_TFTP_FAIL && in->left) {
		if (st == AUR_TFTP_SEND)
			check_output(&s, want, want_len);
		if (aur_tftp_sender_wait_ms(&s) == 0)
			abort();
		st = event(&s, in);
	}
	if (st == AUR_TFTP_DONE && (s.bytes != want_len || s.acked != s.last))
		abort();
	aur_tftp_sender_release(&s);
	aur_extmap_release(&m);
	free(want);
	free(file);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct input in = {data, size};
	size_t rlen = (size_t)take(&in, 2);
	struct aur_tftp_request req;
	struct aur_tftp_limits lim = {.default_timeout_ms = 1000};
	int r;

	if (rlen > in.left)
		rlen = in.left;
	r = aur_tftp_parse_request(in.p, rlen, &req);
	in.p += rlen;
	in.left -= rlen;
	if (r < 0) {
		uint8_t err[AUR_TFTP_HDR_LEN + AUR_TFTP_MESSAGE_MAX + 1];

		if (req.why[0] == '\0' ||
		    aur_tftp_build_error(err, sizeof(err), req.error, req.why) >
			    sizeof(err))
			abort();
		return 0;
	}
	lim.max_blksize = (uint32_t)take(&in, 2);
	lim.max_timeout_s = (uint32_t)take(&in, 1);
	run_sender(&req, &lim, &in);
	return 0;
}
