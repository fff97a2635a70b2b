/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * http.h - the HTTP server of the tree's files: the netboot server
 * (netboot_http_port, 8090) and the artifact server (listen_addr, ":8080")
 * are two instances of it. Files are served read-only at their paths
 * ("/netboot/kernel", "/iso/<name>.custom.iso"), directories as HTML
 * listings.
 *
 * Two parts. The planning part is pure (no sockets, no tree; fuzzed): it
 * turns a request's method, raw target and conditional/range headers into
 * what to answer. The server part (libmicrohttpd, one thread per
 * connection) opens files through serve.h and sends their bytes.
 *
 * What a request gets:
 *  - GET and HEAD; any other method 405 with "Allow: GET, HEAD". HEAD has
 *    the very headers GET would get (Content-Length included), ranges too.
 *  - The target's path is percent-decoded (a %00 or an invalid escape: 400),
 *    then normalized by aur_serve_normalize: a ".." component is 403, a
 *    control character or backslash 400, a path longer than
 *    AUR_SERVE_PATH_MAX 414. The query is ignored. An absolute-form target
 *    ("http://host/path") is taken by its path.
 *  - Validators: ETag (the served file's strong validator), Last-Modified.
 *    If-None-Match (weak comparison; "*" matches) and, without it,
 *    If-Modified-Since give 304 (RFC 9110 13.2.2 order).
 *  - Range (RFC 9110 14): one range "bytes=a-b", "a-" or "-n" gets 206 with
 *    Content-Range; a range set none of which is satisfiable 416 with
 *    the size in Content-Range (RFC 9110 14.4); several ranges the
 *    whole file with 200 (no multipart/byteranges); a Range header
 *    that does not parse, or another unit, is ignored (200). If-Range
 *    (a strong entity-tag, or a date equal to Last-Modified) keeps the
 *    range; anything else turns it into the whole file.
 *  - A directory at a path ending in '/' is listed; without the slash it
 *    is redirected there (301).
 */
#ifndef AURORA_HTTP_H
#define AURORA_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

#include <aurora/serve.h>

/* ---- the planning part (pure) ---- */

#define AUR_HTTP_ALLOW "GET, HEAD"

enum aur_http_method { AUR_HTTP_GET, AUR_HTTP_HEAD, AUR_HTTP_OTHER };

/* The method named @method (case-sensitive, as RFC 9110 says). */
enum aur_http_method aur_http_method(const char *method);

/*
 * The path of request target @url (NUL-terminated, as received): the
 * scheme and authority of an absolute-form target skipped, the query and
 * fragment dropped, percent-escapes decoded, into @out (@cap bytes,
 * NUL-terminated; *@len gets its length). 0; -EINVAL if the target is not
 * a path (no leading '/'); -EILSEQ for an escape that is not two hex
 * digits, or %00; -ENAMETOOLONG if the path needs more than @cap - 1
 * bytes.
 */
int aur_http_decode_path(const char *url, char *out, size_t cap, size_t *len);

/* What a request asks for, before anything is opened. */
struct aur_http_target {
	/* 0: open @path; else the answer (400, 403, 405, 414), and @why says
	 * what was wrong, for the log */
	unsigned status;
	const char *why; /* static */
	enum aur_http_method method;
	char path[AUR_SERVE_PATH_MAX +
		  2]; /* normalized (aur_serve_normalize) */
	bool slash; /* the decoded path ends with '/': a directory is listed */
};

/* Plan request @method @url (@url may be NULL: no target was sent). */
void aur_http_plan_target(const char *method, const char *url,
			  struct aur_http_target *t);

/* The request headers that decide a file's answer; NULL when absent. */
struct aur_http_conds {
	const char *range;
	const char *if_range;
	const char *if_none_match;
	const char *if_modified_since;
};

/* How a file is answered. */
struct aur_http_plan {
	unsigned status; /* 200, 206, 304 or 416 */
	/* the file's bytes the answer stands for: Content-Length is @len
	 * (the body is sent for GET 200 and 206 only) */
	uint64_t off, len;
	char content_range[64]; /* 206 and 416, else "" */
	char last_modified[32]; /* "" if @mtime is not a 4-digit-year date */
};

/* Plan the answer for a file of @size bytes with strong validator @etag
 * (quoted) and modification time @mtime, given the request's @c. */
void aur_http_plan_file(const struct aur_http_conds *c, uint64_t size,
			const char *etag, time_t mtime,
			struct aur_http_plan *p);

/*
 * An HTTP-date (RFC 9110 5.6.7: IMF-fixdate, or the obsolete RFC 850 and
 * asctime forms, whose two-digit years are 1970-2069) into *@t. 0 or
 * -EINVAL. aur_http_format_date writes the IMF-fixdate of @t into @out
 * (at least 30 bytes): 0, or -ERANGE for a year outside 0000-9999.
 */
int aur_http_parse_date(const char *s, time_t *t);
int aur_http_format_date(time_t t, char *out, size_t cap);

/* The Content-Type of the file at @path, by its extension, or its name
 * for the iPXE scripts ("ipxe": text/plain). Static. */
const char *aur_http_content_type(const char *path);

/* Write @s HTML-escaped (& < > " ') to @f. */
void aur_http_put_html(FILE *f, const char *s);
/* Write path @s percent-encoded to @f: every byte but unreserved ones
 * (RFC 3986: letters, digits, - . _ ~) and '/' as %XX. */
void aur_http_put_url(FILE *f, const char *s);

/* An entry of a directory listing. */
struct aur_http_entry {
	const char *name;
	bool is_dir;
	bool has_size; /* false: not built yet, shown as "-" */
	uint64_t size;
};

/*
 * The HTML listing of directory @dir (a normalized path) with entries
 * @e[@n]: names escaped, links absolute and percent-encoded, sizes in
 * bytes. Returns a malloc'd string (caller frees) of *@len bytes, or NULL
 * on ENOMEM.
 */
char *aur_http_listing(const char *dir, const struct aur_http_entry *e,
		       size_t n, size_t *len);

/* ---- the server ---- */

struct aur_tree;

/* Defaults of the limits below (0 in the options). */
#define AUR_HTTP_MAX_CONNECTIONS 256
#define AUR_HTTP_MAX_PER_IP 64
#define AUR_HTTP_TIMEOUT_S 60

struct aur_http_opts {
	struct aur_tree *tree; /* borrowed: outlives the server */
	/* "host:port", ":port" (every address, IPv6 and IPv4), "[v6]:port"
	 * or "port"; port 0 takes an ephemeral port (aur_http_port) */
	const char *listen;
	const char
		*name; /* for log lines: "HTTP", "artifacts" (NULL: "HTTP") */
	unsigned max_connections; /* open connections in all */
	unsigned max_per_ip; /* open connections from one address */
	/* seconds a connection may stay without progress (silent, slow or
	 * idle keep-alive clients), then it is closed; the server's own
	 * waits (a build, a download) do not count */
	unsigned timeout_s;
};

/* A listen address, "[v6]:port", "host:port", ":port" or "port", into
 * @host (@cap bytes; empty: every address) and *@port. -EINVAL if it is
 * none of these (an IPv6 address needs its brackets). */
int aur_http_split_listen(const char *spec, char *host, size_t cap,
			  uint16_t *port);

struct aur_http_server;

/*
 * Bind and listen on @o->listen (nothing is served yet), so that a taken
 * port or a missing permission is reported before the daemon forks.
 * Logs why it failed. 0 and *@out, or -EINVAL (a malformed address),
 * -EADDRINUSE, -EACCES, -ENOMEM, ...
 */
int aur_http_open(const struct aur_http_opts *o, struct aur_http_server **out);

/* Start serving (the threads): after the fork. 0 or -errno (logged). */
int aur_http_start(struct aur_http_server *s);

/* The port listened on. */
uint16_t aur_http_port(const struct aur_http_server *s);

/* Stop serving and free @s (NULL-safe). Waits for the connections'
 * threads: a file being built is waited for. */
void aur_http_close(struct aur_http_server *s);

#endif
