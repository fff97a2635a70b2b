// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The pure half of the TFTP server (tftp.h): requests parsed and checked,
 * options negotiated, netascii, and the sender's state machine that the
 * server feeds with the client's packets and timeouts. No sockets, no
 * threads, no clocks: the fuzz target and the unit tests drive it alone.
 */
#include <aurora/extmap.h>
#include <aurora/tftp.h>
#include <aurora/util.h>

#include <assert.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

static const char *const option_names[AUR_TFTP_NOPTS] = {
	[AUR_TFTP_OPT_BLKSIZE] = "blksize",
	[AUR_TFTP_OPT_TSIZE] = "tsize",
	[AUR_TFTP_OPT_TIMEOUT] = "timeout",
	[AUR_TFTP_OPT_WINDOWSIZE] = "windowsize",
};

/* How many bytes of a client's string a message quotes. */
#define QUOTE_MAX 40

/* Bytes read at a time when counting a file's line ends. */
#define COUNT_CHUNK (64u << 10)

const char *aur_tftp_option_name(enum aur_tftp_option o)
{
	return option_names[o];
}

static uint16_t get_be16(const uint8_t b[2])
{
	return (uint16_t)(b[0] << 8 | b[1]);
}

static void put_be16(uint8_t b[2], uint16_t v)
{
	b[0] = (uint8_t)(v >> 8);
	b[1] = (uint8_t)v;
}

void aur_tftp_printable(const char *s, size_t len, char *out, size_t cap)
{
	size_t o = 0;

	for (size_t i = 0; i < len && s[i] && o + 1 < cap; i++)
		out[o++] = s[i] >= 0x20 && s[i] < 0x7f ? s[i] : '?';
	if (cap)
		out[o] = '\0';
}

/* ---- requests ---- */

/* The NUL-terminated string at *@p, before @end: its start and length;
 * *@p moves past the NUL. false if no NUL comes before @end. */
static bool next_string(const uint8_t **p, const uint8_t *end, const char **s,
			size_t *len)
{
	const uint8_t *nul = memchr(*p, 0, (size_t)(end - *p));

	if (!nul)
		return false;
	*s = (const char *)*p;
	*len = (size_t)(nul - *p);
	*p = nul + 1;
	return true;
}

static int refuse(struct aur_tftp_request *req, int err,
		  enum aur_tftp_errcode code, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int refuse(struct aur_tftp_request *req, int err,
		  enum aur_tftp_errcode code, const char *fmt, ...)
{
	va_list ap;

	req->error = code;
	va_start(ap, fmt);
	vsnprintf(req->why, sizeof(req->why), fmt, ap);
	va_end(ap);
	return err;
}

/* A decimal number filling all of @s (@len bytes). */
static bool parse_number(const char *s, size_t len, uint64_t *out)
{
	uint64_t v = 0;

	if (len == 0)
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned d = (unsigned)(s[i] - '0');

		if (d > 9 || v > (UINT64_MAX - d) / 10)
			return false;
		v = v * 10 + d;
	}
	*out = v;
	return true;
}

static void note_option(struct aur_tftp_request *req, bool seen[],
			const char *name, const char *value, size_t vlen)
{
	for (int o = 0; o < AUR_TFTP_NOPTS; o++) {
		if (strcasecmp(name, option_names[o]) != 0)
			continue;
		if (!seen[o])
			req->has[o] = parse_number(value, vlen, &req->value[o]);
		seen[o] = true;
		return;
	}
}

static bool all_nul(const uint8_t *p, const uint8_t *end)
{
	for (; p < end; p++)
		if (*p)
			return false;
	return true;
}

static int parse_options(const uint8_t *p, const uint8_t *end,
			 struct aur_tftp_request *req)
{
	bool seen[AUR_TFTP_NOPTS] = {false};

	while (p < end) {
		const uint8_t *start = p;
		const char *name, *value;
		size_t nlen, vlen;
		char q[QUOTE_MAX + 1];

		if (!next_string(&p, end, &name, &nlen)) {
			aur_tftp_printable((const char *)start,
					   (size_t)(end - start), q, sizeof(q));
			return refuse(req, -EBADMSG, AUR_TFTP_EBADOP,
				      "option '%s' is not terminated", q);
		}
		if (!next_string(&p, end, &value, &vlen)) {
			if (all_nul(start, end))
				return 0; /* padding */
			aur_tftp_printable(name, nlen, q, sizeof(q));
			return refuse(req, -EBADMSG, AUR_TFTP_EBADOP,
				      "option '%s' has no value", q);
		}
		note_option(req, seen, name, value, vlen);
	}
	return 0;
}

static int parse_mode(const char *mode, size_t len,
		      struct aur_tftp_request *req)
{
	char q[QUOTE_MAX + 1];

	if (strcasecmp(mode, "octet") == 0) {
		req->mode = AUR_TFTP_OCTET;
		return 0;
	}
	if (strcasecmp(mode, "netascii") == 0) {
		req->mode = AUR_TFTP_NETASCII;
		return 0;
	}
	aur_tftp_printable(mode, len, q, sizeof(q));
	return refuse(req, -EBADMSG, AUR_TFTP_EBADOP,
		      "unsupported mode '%s' (octet or netascii)", q);
}

static int check_path(struct aur_tftp_request *req, size_t len)
{
	int r = aur_serve_normalize(req->file, len, req->path,
				    sizeof(req->path));

	if (r == -EACCES)
		return refuse(req, r, AUR_TFTP_EACCESS,
			      "'..' in the file name");
	if (r < 0)
		return refuse(req, -EACCES, AUR_TFTP_EACCESS,
			      "control character or backslash in the file "
			      "name");
	return 0;
}

int aur_tftp_parse_request(const uint8_t *pkt, size_t len,
			   struct aur_tftp_request *req)
{
	const uint8_t *p = pkt + AUR_TFTP_OPCODE_LEN, *end = pkt + len;
	const char *file, *mode;
	size_t flen, mlen;
	unsigned op;
	int r;

	memset(req, 0, sizeof(*req));
	if (len < AUR_TFTP_OPCODE_LEN)
		return refuse(req, -EBADMSG, AUR_TFTP_EBADOP,
			      "truncated request (%zu bytes)", len);
	if (len > AUR_TFTP_REQUEST_MAX)
		return refuse(req, -EBADMSG, AUR_TFTP_EBADOP,
			      "request longer than %d bytes",
			      AUR_TFTP_REQUEST_MAX);
	op = get_be16(pkt);
	if (op >= AUR_TFTP_DATA && op <= AUR_TFTP_OACK)
		return refuse(req, -EPROTO, AUR_TFTP_EBADOP,
			      "opcode %u at the server's port", op);
	if (op != AUR_TFTP_RRQ && op != AUR_TFTP_WRQ)
		return refuse(req, -EBADMSG, AUR_TFTP_EBADOP,
			      "expected a read request, not opcode %u", op);
	req->opcode = (enum aur_tftp_opcode)op;
	if (!next_string(&p, end, &file, &flen))
		return refuse(req, -EBADMSG, AUR_TFTP_EBADOP,
			      "file name is not terminated");
	if (flen > AUR_SERVE_PATH_MAX)
		return refuse(req, -EBADMSG, AUR_TFTP_EBADOP,
			      "file name longer than %d bytes",
			      AUR_SERVE_PATH_MAX);
	memcpy(req->file, file, flen + 1);
	if (!next_string(&p, end, &mode, &mlen))
		return refuse(req, -EBADMSG, AUR_TFTP_EBADOP,
			      "mode is not terminated");
	r = parse_mode(mode, mlen, req);
	if (r == 0)
		r = parse_options(p, end, req);
	if (r < 0)
		return r;
	if (req->opcode == AUR_TFTP_WRQ)
		return refuse(req, -EACCES, AUR_TFTP_EACCESS,
			      "read-only server: writing is not allowed");
	return check_path(req, flen);
}

/* ---- negotiation ---- */

uint32_t aur_tftp_mtu_blksize(uint32_t mtu, bool ipv6)
{
	uint32_t headers = (ipv6 ? 40 : 20) + 8 + (uint32_t)AUR_TFTP_HDR_LEN;

	if (mtu < headers + AUR_TFTP_BLKSIZE_MIN)
		return AUR_TFTP_BLKSIZE_MIN;
	return AUR_MIN(mtu - headers, (uint32_t)AUR_TFTP_BLKSIZE_MAX);
}

static void grant(struct aur_tftp_params *out, enum aur_tftp_option o,
		  uint64_t value)
{
	out->oack[o] = true;
	out->value[o] = value;
}

void aur_tftp_negotiate(const struct aur_tftp_request *req,
			const struct aur_tftp_limits *lim, uint64_t tsize,
			struct aur_tftp_params *out)
{
	uint32_t max_blk = AUR_MAX(
		AUR_MIN(lim->max_blksize, (uint32_t)AUR_TFTP_BLKSIZE_MAX),
		(uint32_t)AUR_TFTP_BLKSIZE_MIN);
	uint32_t max_timeout =
		AUR_MIN(lim->max_timeout_s, (uint32_t)AUR_TFTP_TIMEOUT_MAX);
	const uint64_t *v = req->value;

	memset(out, 0, sizeof(*out));
	out->blksize = AUR_TFTP_BLKSIZE_DEFAULT;
	out->windowsize = 1;
	out->timeout_ms = lim->default_timeout_ms;
	if (req->has[AUR_TFTP_OPT_BLKSIZE] &&
	    v[AUR_TFTP_OPT_BLKSIZE] >= AUR_TFTP_BLKSIZE_MIN) {
		out->blksize = (uint32_t)AUR_MIN(v[AUR_TFTP_OPT_BLKSIZE],
						 (uint64_t)max_blk);
		grant(out, AUR_TFTP_OPT_BLKSIZE, out->blksize);
	}
	if (req->has[AUR_TFTP_OPT_WINDOWSIZE] &&
	    v[AUR_TFTP_OPT_WINDOWSIZE] >= 1) {
		uint32_t fits =
			AUR_MAX(AUR_TFTP_WINDOW_BYTES / out->blksize, 1u);
		uint32_t max_win = AUR_MIN(fits, (uint32_t)AUR_TFTP_WINDOW_MAX);

		out->windowsize = (uint32_t)AUR_MIN(v[AUR_TFTP_OPT_WINDOWSIZE],
						    (uint64_t)max_win);
		grant(out, AUR_TFTP_OPT_WINDOWSIZE, out->windowsize);
	}
	if (req->has[AUR_TFTP_OPT_TIMEOUT] &&
	    v[AUR_TFTP_OPT_TIMEOUT] >= AUR_TFTP_TIMEOUT_MIN &&
	    v[AUR_TFTP_OPT_TIMEOUT] <= max_timeout) {
		out->timeout_ms = (uint32_t)v[AUR_TFTP_OPT_TIMEOUT] * 1000;
		grant(out, AUR_TFTP_OPT_TIMEOUT, v[AUR_TFTP_OPT_TIMEOUT]);
	}
	/* curl (7.88) takes "tsize 0" for an invalid OACK and gives up: an
	 * empty file goes without it */
	if (req->has[AUR_TFTP_OPT_TSIZE] && tsize > 0)
		grant(out, AUR_TFTP_OPT_TSIZE, tsize);
}

/* Append @str and its NUL at *@o; false if they do not fit. */
static bool put_string(uint8_t *buf, size_t cap, size_t *o, const char *str)
{
	size_t n = strlen(str) + 1;

	if (n > cap - *o)
		return false;
	memcpy(buf + *o, str, n);
	*o += n;
	return true;
}

size_t aur_tftp_build_oack(const struct aur_tftp_params *p, uint8_t *buf,
			   size_t cap)
{
	size_t o = AUR_TFTP_OPCODE_LEN;
	bool any = false;

	if (cap < o)
		return 0;
	put_be16(buf, AUR_TFTP_OACK);
	for (int i = 0; i < AUR_TFTP_NOPTS; i++) {
		char value[24];

		if (!p->oack[i])
			continue;
		snprintf(value, sizeof(value), "%llu",
			 (unsigned long long)p->value[i]);
		if (!put_string(buf, cap, &o, option_names[i]) ||
		    !put_string(buf, cap, &o, value))
			return 0;
		any = true;
	}
	return any ? o : 0;
}

size_t aur_tftp_build_error(uint8_t *buf, size_t cap,
			    enum aur_tftp_errcode code, const char *msg)
{
	struct aur_tftp_hdr *h = (struct aur_tftp_hdr *)buf;
	size_t room = cap - AUR_TFTP_HDR_LEN - 1;
	size_t n = AUR_MIN(AUR_MIN(strlen(msg), room),
			   (size_t)AUR_TFTP_MESSAGE_MAX);

	assert(cap > AUR_TFTP_HDR_LEN);
	put_be16(h->opcode, AUR_TFTP_ERROR);
	put_be16(h->block, (uint16_t)code);
	memcpy(buf + AUR_TFTP_HDR_LEN, msg, n);
	buf[AUR_TFTP_HDR_LEN + n] = '\0';
	return AUR_TFTP_HDR_LEN + n + 1;
}

/* ---- netascii ---- */

struct count_ctx {
	uint64_t ends; /* CR and LF bytes */
	uint8_t *buf;
};

static uint64_t count_ends(const uint8_t *p, size_t n)
{
	uint64_t c = 0;

	for (size_t i = 0; i < n; i++)
		c += p[i] == '\n' || p[i] == '\r';
	return c;
}

static int count_run(void *ctx, const struct aur_run *run)
{
	struct count_ctx *c = ctx;

	if (run->kind == AUR_RUN_MEM)
		c->ends += count_ends(run->mem, run->len);
	if (run->kind != AUR_RUN_FD)
		return 0;
	for (size_t done = 0; done < run->len;) {
		size_t n = AUR_MIN(run->len - done, (size_t)COUNT_CHUNK);
		ssize_t got =
			aur_pread_full(run->fd, c->buf, n, run->fd_off + done);

		if (got < 0)
			return (int)got;
		if ((size_t)got != n)
			return -EIO; /* the file is shorter than its map */
		c->ends += count_ends(c->buf, n);
		done += n;
	}
	return 0;
}

int aur_tftp_netascii_size(const struct aur_extmap *m, uint64_t *out)
{
	/* walked in steps that size_t holds on any machine */
	const uint64_t step = 1u << 30;
	struct count_ctx c = {0, malloc(COUNT_CHUNK)};
	int r = c.buf ? 0 : -ENOMEM;

	for (uint64_t off = 0; r == 0 && off < m->size; off += step)
		r = aur_extmap_walk(m, off,
				    (size_t)AUR_MIN(step, m->size - off),
				    count_run, &c);
	free(c.buf);
	if (r == 0)
		*out = m->size + c.ends;
	return r;
}

/* ---- the sender ---- */

int aur_tftp_sender_init(struct aur_tftp_sender *s,
			 const struct aur_extmap *map, enum aur_tftp_mode mode,
			 const struct aur_tftp_params *p, unsigned retries)
{
	assert(p->blksize >= AUR_TFTP_BLKSIZE_MIN &&
	       p->blksize <= AUR_TFTP_BLKSIZE_MAX);
	assert(p->windowsize >= 1 && p->windowsize <= AUR_TFTP_WINDOW_MAX);
	memset(s, 0, sizeof(*s));
	s->map = map;
	s->mode = mode;
	s->p = *p;
	s->retries = retries;
	s->carry = -1;
	s->slot_size = AUR_TFTP_HDR_LEN + p->blksize;
	s->ring = malloc(s->slot_size * p->windowsize);
	s->ra_cap =
		AUR_MAX(AUR_TFTP_READAHEAD_BYTES / p->blksize, 1u) * p->blksize;
	s->ra = malloc(s->ra_cap);
	if (mode == AUR_TFTP_NETASCII)
		s->scratch = malloc(p->blksize);
	if (!s->ring || !s->ra || (mode == AUR_TFTP_NETASCII && !s->scratch))
		return -ENOMEM;
	s->oack_len = aur_tftp_build_oack(p, s->oack, sizeof(s->oack));
	return 0;
}

void aur_tftp_sender_release(struct aur_tftp_sender *s)
{
	free(s->ring);
	free(s->ra);
	free(s->scratch);
	s->ring = NULL;
	s->ra = NULL;
	s->scratch = NULL;
}

static uint8_t *slot_of(const struct aur_tftp_sender *s, uint64_t block)
{
	return s->ring + (size_t)(block % s->p.windowsize) * s->slot_size;
}

/* Copy @n bytes of the file at @off into @buf through the read-ahead
 * buffer, refilled where @off leaves it. The bytes copied (fewer only at
 * the end of the file) or -errno. */
static ssize_t read_ahead(struct aur_tftp_sender *s, uint8_t *buf, size_t n,
			  uint64_t off)
{
	size_t done = 0;

	while (done < n) {
		uint64_t at = off + done;
		size_t k;

		if (at < s->ra_off || at >= s->ra_off + s->ra_len) {
			ssize_t got =
				aur_extmap_pread(s->map, s->ra, s->ra_cap, at);

			if (got < 0)
				return got;
			s->ra_off = at;
			s->ra_len = (size_t)got;
			if (got == 0)
				break;
		}
		k = (size_t)AUR_MIN((uint64_t)(n - done),
				    s->ra_off + s->ra_len - at);
		memcpy(buf + done, s->ra + (at - s->ra_off), k);
		done += k;
	}
	return (ssize_t)done;
}

/* The next netascii block into @data: the carry, then as many of the
 * file's bytes as fit once converted. Its length, or -errno. */
static ssize_t fill_netascii(struct aur_tftp_sender *s, uint8_t *data)
{
	uint32_t bs = s->p.blksize, out = 0;
	ssize_t n;
	size_t i;

	if (s->carry >= 0) {
		data[out++] = (uint8_t)s->carry;
		s->carry = -1;
	}
	/* every byte becomes one or two: this many are always enough */
	n = read_ahead(s, s->scratch, bs - out, s->src_off);
	if (n < 0)
		return n;
	for (i = 0; i < (size_t)n && out < bs; i++) {
		uint8_t c = s->scratch[i];

		data[out++] = c == '\n' ? '\r' : c;
		if (c == '\n' || c == '\r') {
			uint8_t second = c == '\n' ? '\n' : '\0';

			if (out < bs)
				data[out++] = second;
			else
				s->carry = second;
		}
	}
	s->src_off += i;
	return out;
}

/* Read block @b into its slot, as a DATA packet. A short block is the
 * last. 0 or -errno. */
static int fill_block(struct aur_tftp_sender *s, uint64_t b)
{
	uint8_t *slot = slot_of(s, b);
	struct aur_tftp_hdr *h = (struct aur_tftp_hdr *)slot;
	uint8_t *data = slot + AUR_TFTP_HDR_LEN;
	ssize_t n;

	put_be16(h->opcode, AUR_TFTP_DATA);
	put_be16(h->block, (uint16_t)b); /* rolls over from 65535 to 0 */
	if (s->mode == AUR_TFTP_NETASCII)
		n = fill_netascii(s, data);
	else
		n = read_ahead(s, data, s->p.blksize, (b - 1) * s->p.blksize);
	if (n < 0)
		return (int)n;
	s->slot_len[b % s->p.windowsize] = (uint32_t)n;
	s->filled = b;
	if ((size_t)n < s->p.blksize)
		s->last = b;
	return 0;
}

static enum aur_tftp_step fail_read(struct aur_tftp_sender *s, int err)
{
	snprintf(s->why, sizeof(s->why), "cannot read the file: %s",
		 strerror(-err));
	s->error_len = aur_tftp_build_error(s->error, sizeof(s->error),
					    AUR_TFTP_EUNDEF, s->why);
	s->out = AUR_TFTP_OUT_ERROR;
	return AUR_TFTP_FAIL;
}

/* Send blocks acked+1 .. acked+windowsize (fewer at the end), reading
 * those not in the ring yet. */
static enum aur_tftp_step send_window(struct aur_tftp_sender *s)
{
	uint64_t upto = s->acked + s->p.windowsize;

	while (s->filled < upto && (s->last == 0 || s->filled < s->last)) {
		int r = fill_block(s, s->filled + 1);

		if (r < 0)
			return fail_read(s, r);
	}
	s->sent = s->filled;
	s->out = AUR_TFTP_OUT_WINDOW;
	return AUR_TFTP_SEND;
}

enum aur_tftp_step aur_tftp_sender_start(struct aur_tftp_sender *s)
{
	if (s->oack_len) {
		s->oack_pending = true;
		s->out = AUR_TFTP_OUT_OACK;
		return AUR_TFTP_SEND;
	}
	return send_window(s);
}

static enum aur_tftp_step client_error(struct aur_tftp_sender *s,
				       const uint8_t *pkt, size_t len)
{
	const struct aur_tftp_hdr *h = (const struct aur_tftp_hdr *)pkt;
	char msg[QUOTE_MAX + 1];

	aur_tftp_printable((const char *)pkt + AUR_TFTP_HDR_LEN,
			   len - AUR_TFTP_HDR_LEN, msg, sizeof(msg));
	snprintf(s->why, sizeof(s->why), "the client sent error %u '%s'",
		 get_be16(h->block), msg);
	s->client_error = true;
	s->out = AUR_TFTP_OUT_NONE;
	return AUR_TFTP_FAIL;
}

/* The client acknowledged block @b (its low 16 bits). */
static enum aur_tftp_step ack(struct aur_tftp_sender *s, uint16_t b)
{
	uint16_t ahead = (uint16_t)(b - (uint16_t)s->acked);

	if (s->oack_pending) {
		if (b != 0)
			return AUR_TFTP_WAIT;
		s->oack_pending = false;
		s->tries = 0;
		return send_window(s);
	}
	/* a repeat of the last ACK, or an ACK of nothing we sent */
	if (ahead == 0 || ahead > s->sent - s->acked)
		return AUR_TFTP_WAIT;
	s->acked += ahead;
	s->tries = 0;
	if (s->acked == s->last) {
		s->bytes = (s->last - 1) * s->p.blksize +
			   s->slot_len[s->last % s->p.windowsize];
		s->out = AUR_TFTP_OUT_NONE;
		return AUR_TFTP_DONE;
	}
	s->bytes = s->acked * s->p.blksize;
	return send_window(s);
}

enum aur_tftp_step aur_tftp_sender_input(struct aur_tftp_sender *s,
					 const uint8_t *pkt, size_t len)
{
	const struct aur_tftp_hdr *h = (const struct aur_tftp_hdr *)pkt;

	if (len < AUR_TFTP_HDR_LEN)
		return AUR_TFTP_WAIT;
	switch (get_be16(h->opcode)) {
	case AUR_TFTP_ERROR:
		return client_error(s, pkt, len);
	case AUR_TFTP_ACK:
		return ack(s, get_be16(h->block));
	default:
		return AUR_TFTP_WAIT;
	}
}

enum aur_tftp_step aur_tftp_sender_timeout(struct aur_tftp_sender *s)
{
	if (s->tries >= s->retries) {
		snprintf(s->why, sizeof(s->why),
			 "no answer from the client after %u retransmissions",
			 s->tries);
		s->out = AUR_TFTP_OUT_NONE;
		return AUR_TFTP_FAIL;
	}
	s->tries++;
	s->out = s->oack_pending ? AUR_TFTP_OUT_OACK : AUR_TFTP_OUT_WINDOW;
	return AUR_TFTP_SEND;
}

unsigned aur_tftp_sender_wait_ms(const struct aur_tftp_sender *s)
{
	uint64_t ms = (uint64_t)s->p.timeout_ms << AUR_MIN(s->tries, 20u);

	return (unsigned)AUR_MIN(ms, (uint64_t)UINT32_MAX);
}

size_t aur_tftp_sender_output(const struct aur_tftp_sender *s,
			      struct iovec *iov, size_t cap)
{
	size_t n = 0;

	switch (s->out) {
	case AUR_TFTP_OUT_NONE:
		break;
	case AUR_TFTP_OUT_OACK:
		if (cap)
			iov[n++] = (struct iovec){(void *)s->oack, s->oack_len};
		break;
	case AUR_TFTP_OUT_ERROR:
		if (cap)
			iov[n++] =
				(struct iovec){(void *)s->error, s->error_len};
		break;
	case AUR_TFTP_OUT_WINDOW:
		for (uint64_t b = s->acked + 1; b <= s->sent && n < cap; b++)
			iov[n++] = (struct iovec){
				slot_of(s, b),
				AUR_TFTP_HDR_LEN +
					s->slot_len[b % s->p.windowsize]};
		break;
	}
	return n;
}
