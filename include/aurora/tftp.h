/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * tftp.h - the TFTP server of the netboot services: the tree's files, read
 * only, to PXE firmware, iPXE and other TFTP clients.
 *
 * Protocol: RFC 1350 (RRQ in octet and netascii mode, DATA/ACK lock-step,
 * ERROR; a WRQ is refused with "access violation"), RFC 2347 option
 * negotiation (OACK), RFC 2348 blksize, RFC 2349 tsize and timeout, and
 * RFC 7440 windowsize. A file of more than 65535 blocks is sent with its
 * block numbers rolling over from 65535 to 0 (not to 1), as tftpd-hpa,
 * atftp, curl and iPXE expect; the client sees no limit on file size.
 *
 * The module has two parts:
 *  - a pure protocol part (netboot/tftp_pkt.c), without sockets or
 *    threads: parse a request, negotiate its options, and the sender's
 *    state machine, which given the client's packets and timeouts says
 *    what to send next. The fuzz target tests/fuzz/fuzz_tftp.c drives it.
 *  - the server (netboot/tftp.c): a listening socket, and one thread per
 *    transfer with its own UDP socket (the TID); see aur_tftp_open.
 *
 * All multi-byte wire fields are big-endian.
 */
#ifndef AURORA_TFTP_H
#define AURORA_TFTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include <aurora/serve.h>

struct aur_extmap;
struct aur_tree;

/* ---- wire format ---- */

#define AUR_TFTP_PORT 69

enum aur_tftp_opcode {
	AUR_TFTP_RRQ = 1,
	AUR_TFTP_WRQ = 2,
	AUR_TFTP_DATA = 3,
	AUR_TFTP_ACK = 4,
	AUR_TFTP_ERROR = 5,
	AUR_TFTP_OACK = 6, /* RFC 2347 */
};

/* The error codes of ERROR packets. */
enum aur_tftp_errcode {
	AUR_TFTP_EUNDEF = 0, /* not defined: see the message */
	AUR_TFTP_ENOTFOUND = 1,
	AUR_TFTP_EACCESS = 2,
	AUR_TFTP_ENOSPACE = 3,
	AUR_TFTP_EBADOP = 4, /* illegal TFTP operation */
	AUR_TFTP_EBADID = 5, /* unknown transfer ID */
	AUR_TFTP_EEXISTS = 6,
	AUR_TFTP_ENOUSER = 7,
	AUR_TFTP_EOPTNEG = 8, /* option negotiation refused (RFC 2347) */
};

/*
 * The fixed header of DATA, ACK and ERROR packets. RRQ, WRQ and OACK carry
 * NUL-terminated strings after the opcode instead: RRQ/WRQ "file", "mode",
 * then pairs "option", "value"; OACK the pairs only. ERROR has a
 * NUL-terminated message after its header, DATA 0..blksize bytes.
 */
struct aur_tftp_hdr {
	uint8_t opcode[2];
	uint8_t block[2]; /* DATA, ACK: block number; ERROR: error code */
};

#define AUR_TFTP_HDR_LEN sizeof(struct aur_tftp_hdr)
#define AUR_TFTP_OPCODE_LEN 2

/* RFC 2348: the default and the bounds of blksize (bytes of data). */
#define AUR_TFTP_BLKSIZE_DEFAULT 512
#define AUR_TFTP_BLKSIZE_MIN 8
#define AUR_TFTP_BLKSIZE_MAX 65464
/* RFC 2349: the bounds of the timeout option, in seconds. */
#define AUR_TFTP_TIMEOUT_MIN 1
#define AUR_TFTP_TIMEOUT_MAX 255
/* RFC 7440 allows 1..65535 blocks per window; we send at most 64, and at
 * most AUR_TFTP_WINDOW_BYTES of data per window (the memory a transfer
 * holds): a client asking for more gets less in the OACK. */
#define AUR_TFTP_WINDOW_MAX 64
#define AUR_TFTP_WINDOW_BYTES (1u << 20)
/* The file is read ahead of the blocks this much at a time (rounded down
 * to whole blocks): one read for many blocks, even in lock-step. */
#define AUR_TFTP_READAHEAD_BYTES (128u << 10)
/* The largest request read: a path of AUR_SERVE_PATH_MAX bytes, a mode and
 * options fit with room to spare; a longer one is "illegal operation". */
#define AUR_TFTP_REQUEST_MAX 2048
/* The longest message of an ERROR packet we send (bytes, without NUL). */
#define AUR_TFTP_MESSAGE_MAX 127

/* ---- requests ---- */

enum aur_tftp_mode { AUR_TFTP_OCTET, AUR_TFTP_NETASCII };

/* The options we negotiate; others are ignored (RFC 2347). */
enum aur_tftp_option {
	AUR_TFTP_OPT_BLKSIZE,
	AUR_TFTP_OPT_TSIZE,
	AUR_TFTP_OPT_TIMEOUT,
	AUR_TFTP_OPT_WINDOWSIZE,
	AUR_TFTP_NOPTS
};

/* The name of option @o as it goes on the wire ("blksize"). */
const char *aur_tftp_option_name(enum aur_tftp_option o);

struct aur_tftp_request {
	enum aur_tftp_opcode opcode;
	char file[AUR_SERVE_PATH_MAX + 1]; /* as sent, NUL-terminated */
	char path[AUR_SERVE_PATH_MAX +
		  2]; /* normalized (aur_serve_normalize) */
	enum aur_tftp_mode mode;
	/* Options, by the first occurrence of each name (compared without
	 * case; later repeats are ignored). @has is false for an option that
	 * was absent or whose value is not a decimal number; @value is the
	 * client's number, bounds are applied by aur_tftp_negotiate. */
	bool has[AUR_TFTP_NOPTS];
	uint64_t value[AUR_TFTP_NOPTS];
	/* a refused request: what to answer, and why in words (printable) */
	enum aur_tftp_errcode error;
	char why[AUR_TFTP_MESSAGE_MAX + 1];
};

/*
 * Parse the request @pkt (@len bytes, as received on the server's port)
 * into @req and decide whether to serve it. 0: a read request to serve
 * (req->path is the normalized file). Otherwise req->error and req->why
 * say what to answer:
 *   -EBADMSG  a truncated or malformed packet, not a request, a file name
 *             longer than AUR_SERVE_PATH_MAX, a string without its NUL,
 *             an unsupported mode ("mail"): AUR_TFTP_EBADOP
 *   -EACCES   a write request, a ".." component or a file name with a
 *             control character or backslash: AUR_TFTP_EACCESS
 *   -EPROTO   a DATA, ACK, ERROR or OACK packet: the tail of some other
 *             conversation (tftp-hpa's client ACKs the ERROR that refused
 *             its request). Not to be answered: that could start a
 *             ping-pong of errors.
 * Trailing NUL bytes after the last option are tolerated (padding); any
 * other incomplete option is malformed.
 */
int aur_tftp_parse_request(const uint8_t *pkt, size_t len,
			   struct aur_tftp_request *req);

/* ---- negotiation ---- */

struct aur_tftp_limits {
	/* the largest blksize: the configured maximum and the path MTU
	 * (aur_tftp_mtu_blksize) combined by the caller */
	uint32_t max_blksize;
	/* the largest timeout option accepted, seconds (<= 255) */
	uint32_t max_timeout_s;
	/* the first retransmission timeout without a timeout option */
	uint32_t default_timeout_ms;
};

/* What the transfer uses, and what the OACK says. */
struct aur_tftp_params {
	uint32_t blksize; /* bytes of data per DATA packet */
	uint32_t windowsize; /* blocks sent before waiting for an ACK */
	uint32_t timeout_ms; /* the first retransmission timeout */
	bool oack[AUR_TFTP_NOPTS]; /* acknowledged options, in the OACK */
	uint64_t value[AUR_TFTP_NOPTS]; /* their values in the OACK */
};

/*
 * Decide the transfer's parameters from @req's options and @lim. @tsize
 * is the size of the file as it will be sent (for netascii, after
 * conversion: aur_tftp_netascii_size), used only when the client asked
 * for tsize, and not acknowledged for an empty file (curl refuses
 * "tsize 0"). blksize below 8 or not a number is ignored, above the limit
 * clamped; windowsize 0 is ignored, above the limit (64 and
 * AUR_TFTP_WINDOW_BYTES / blksize) clamped; a timeout outside
 * 1..max_timeout_s is ignored. Without an acknowledged option there is no
 * OACK: the transfer starts with DATA block 1.
 */
void aur_tftp_negotiate(const struct aur_tftp_request *req,
			const struct aur_tftp_limits *lim, uint64_t tsize,
			struct aur_tftp_params *out);

/* The largest blksize that fits one datagram on a path of MTU @mtu bytes:
 * the MTU minus the IP (20 or 40 bytes), UDP and TFTP headers, within
 * 8..65464. */
uint32_t aur_tftp_mtu_blksize(uint32_t mtu, bool ipv6);

/* Build the OACK for @p into @buf (@cap bytes). Its length, 0 if no
 * option is acknowledged or @cap is too small. */
size_t aur_tftp_build_oack(const struct aur_tftp_params *p, uint8_t *buf,
			   size_t cap);

/* Build an ERROR packet into @buf (@cap bytes, at least AUR_TFTP_HDR_LEN +
 * 1); @msg is cut to fit. Its length. */
size_t aur_tftp_build_error(uint8_t *buf, size_t cap,
			    enum aur_tftp_errcode code, const char *msg);

/* Copy @len bytes of @s into @out (@cap bytes, NUL-terminated), '?' for
 * every byte that is not printable ASCII: client strings for log lines
 * and messages. Stops at a NUL in @s. */
void aur_tftp_printable(const char *s, size_t len, char *out, size_t cap);

/* ---- netascii ---- */

/* The size of @m's bytes in netascii (RFC 764: LF as CR LF, CR as CR NUL):
 * the size plus one byte per LF and per CR, counted by reading it all.
 * 0 or the read's -errno. */
int aur_tftp_netascii_size(const struct aur_extmap *m, uint64_t *out);

/* ---- the sender ---- */

/* What the caller does after each event of a transfer. */
enum aur_tftp_step {
	AUR_TFTP_SEND, /* send aur_tftp_sender_output, wait wait_ms */
	AUR_TFTP_WAIT, /* nothing to send: keep waiting (same deadline) */
	AUR_TFTP_DONE, /* the last block is acknowledged */
	AUR_TFTP_FAIL, /* stop: send the output (an ERROR, or nothing) */
};

/*
 * One transfer from the server's side. Blocks are numbered from 1 (0 is
 * the OACK) in 64 bits; the wire carries the low 16 bits. The sender
 * holds one window of blocks, each as a ready DATA packet, in a ring of
 * windowsize slots (block b lives in slot b % windowsize), and reads the
 * file AUR_TFTP_READAHEAD_BYTES at a time: its memory is bounded by
 * AUR_TFTP_WINDOW_BYTES plus that, whatever the file's size.
 *
 * Lock-step (windowsize 1) and windows (RFC 7440) are the same machine:
 * after the ACK of block k, blocks k+1 .. k+windowsize are sent (fewer at
 * the end of the file). An ACK of the window's last block moves on; an
 * ACK of an earlier block of the window means the client lost the block
 * after it, and the window starts again from there. An ACK of the block
 * already acknowledged, or of one outside the window, is ignored: only a
 * timeout resends (no sorcerer's apprentice). A timeout resends the
 * window (or the OACK) and doubles the wait, up to @retries times.
 *
 * The fields are the sender's; callers read bytes, why and client_error.
 */
struct aur_tftp_sender {
	/* data bytes the client has acknowledged */
	uint64_t bytes;
	/* after AUR_TFTP_FAIL: why, printable */
	char why[AUR_TFTP_MESSAGE_MAX + 1];
	/* the failure is the client's ERROR packet (e.g. a PXE firmware
	 * that only wanted tsize), not a fault */
	bool client_error;

	const struct aur_extmap *map;
	enum aur_tftp_mode mode;
	struct aur_tftp_params p;
	unsigned retries, tries;
	uint8_t *ring; /* windowsize slots of slot_size bytes */
	size_t slot_size;
	uint32_t slot_len[AUR_TFTP_WINDOW_MAX]; /* data bytes per slot */
	uint64_t acked; /* last block acknowledged (0: none, or the OACK) */
	uint64_t filled; /* last block read into the ring */
	uint64_t sent; /* last block of the window sent */
	uint64_t last; /* the file's last block, once read (0: not yet) */
	bool oack_pending; /* the OACK is sent and waits for ACK 0 */
	enum aur_tftp_out {
		AUR_TFTP_OUT_NONE,
		AUR_TFTP_OUT_OACK,
		AUR_TFTP_OUT_WINDOW,
		AUR_TFTP_OUT_ERROR
	} out; /* what aur_tftp_sender_output gives */
	uint8_t oack[128];
	size_t oack_len;
	uint8_t error[AUR_TFTP_HDR_LEN + AUR_TFTP_MESSAGE_MAX + 1];
	size_t error_len;
	/* bytes of the file from ra_off, read ahead */
	uint8_t *ra;
	size_t ra_cap, ra_len;
	uint64_t ra_off;
	/* netascii: where the next block's bytes start in the file, and the
	 * second byte of a CR LF or CR NUL that did not fit the last block
	 * (-1: none) */
	uint64_t src_off;
	int carry;
	uint8_t *scratch;
};

/*
 * Set up @s to send @map (borrowed: it must outlive the sender) in @mode
 * with the parameters @p, retransmitting up to @retries times. 0 or
 * -ENOMEM. Release with aur_tftp_sender_release (also after a failure).
 */
int aur_tftp_sender_init(struct aur_tftp_sender *s,
			 const struct aur_extmap *map, enum aur_tftp_mode mode,
			 const struct aur_tftp_params *p, unsigned retries);
void aur_tftp_sender_release(struct aur_tftp_sender *s);

/* The first packets: the OACK if options were acknowledged, else the
 * first window. SEND, or FAIL if the file cannot be read. */
enum aur_tftp_step aur_tftp_sender_start(struct aur_tftp_sender *s);

/* A packet from the client (@len bytes): an ACK moves the transfer on
 * (SEND or DONE) or is ignored (WAIT); an ERROR stops it (FAIL, with
 * client_error); anything else is ignored. FAIL if a block cannot be
 * read (the output is an ERROR for the client). */
enum aur_tftp_step aur_tftp_sender_input(struct aur_tftp_sender *s,
					 const uint8_t *pkt, size_t len);

/* No packet came within wait_ms: SEND (a retransmission) or FAIL (the
 * retries are spent; no output). */
enum aur_tftp_step aur_tftp_sender_timeout(struct aur_tftp_sender *s);

/* How long to wait for the client's answer to what was last sent:
 * timeout_ms doubled for each retransmission so far. */
unsigned aur_tftp_sender_wait_ms(const struct aur_tftp_sender *s);

/* The packets to send after SEND or FAIL, as at most @cap iovecs (one per
 * packet; windowsize suffices). The number of packets. They stay valid
 * until the next call that changes @s. */
size_t aur_tftp_sender_output(const struct aur_tftp_sender *s,
			      struct iovec *iov, size_t cap);

/* ---- the server ---- */

struct aur_tftp_opts {
	struct aur_tree *tree; /* borrowed; must outlive the server */
	/* an IPv4 or IPv6 literal; NULL: "0.0.0.0" (IPv6 sockets are
	 * IPv6-only) */
	const char *listen_addr;
	uint16_t port; /* 0: an ephemeral port (aur_tftp_port) */
	/* the largest blksize granted (the path MTU limits it too);
	 * 0: AUR_TFTP_BLKSIZE_MAX */
	uint32_t max_blksize;
	/* transfers at once, beyond which requests get "server busy";
	 * 0: AUR_TFTP_TRANSFERS_DEFAULT */
	unsigned max_transfers;
	/* the first retransmission timeout; 0: 1000 ms */
	unsigned timeout_ms;
	/* retransmissions (each waiting twice as long as the one before)
	 * before a transfer is given up; 0: 5 */
	unsigned retries;
	/* the largest timeout option honoured (seconds); 0: 10 */
	unsigned max_timeout_s;
};

#define AUR_TFTP_TRANSFERS_DEFAULT 64

struct aur_tftp_server;

/*
 * Bind the server's socket to opts->listen_addr and opts->port (@o is
 * copied; listen_addr is needed only during the call). Nothing is served
 * until aur_tftp_start. 0; -EINVAL (no tree, or listen_addr is not an IP
 * literal); the bind's -errno (-EADDRINUSE, -EACCES), logged.
 */
int aur_tftp_open(const struct aur_tftp_opts *o, struct aur_tftp_server **out);

/* Start serving: a thread receives requests and starts one thread per
 * transfer. Call once, after any fork. 0 or -errno. */
int aur_tftp_start(struct aur_tftp_server *s);

/* The bound UDP port. */
uint16_t aur_tftp_port(const struct aur_tftp_server *s);

/* Stop: transfers in progress end (the clients hear nothing more), their
 * threads are joined - after any file open they are blocked in (a lazy
 * build) returns - and everything is freed. NULL-safe. */
void aur_tftp_close(struct aur_tftp_server *s);

#endif
