/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * fetch.h - HTTP(S) and file:// transfers with libcurl.
 *
 * Each thread keeps its own curl handle, so a worker thread reuses its
 * keep-alive connection from one range request to the next. Redirects are
 * followed (GitHub sends release downloads to a storage host).
 *
 * Functions return 0 or a negative errno and, on every failure, put a
 * one-line reason naming the URL into @err (AUR_FETCH_ERRLEN bytes,
 * "'<url>': <reason>") for the caller to log: a missing .sha256 is not an
 * error worth a log line, a missing ISO is. The errno tells what happened:
 *   -ENOENT  HTTP 404/410 or no such file      -EACCES  HTTP 401/403
 *   -ESTALE  the server ignored the byte range (or If-Range: it changed)
 *   -ENOMEM  out of memory (here or in libcurl)
 *   -EFBIG   aur_fetch_all: larger than its limit
 *   -EIO     any other failure (connect, TLS, HTTP 5xx, short transfer)
 *   anything a sink returned (e.g. -ENOSPC)
 */
#ifndef AURORA_FETCH_H
#define AURORA_FETCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define AUR_FETCH_ERRLEN 512

struct aur_remote_info {
	uint64_t size;
	bool ranges; /* answers byte-range requests */
	char etag[128]; /* "" if none */
	time_t mtime; /* Last-Modified, 0 if unknown */
};

/* Call once before any thread uses this module, and at exit. */
int aur_fetch_global_init(void);
void aur_fetch_global_cleanup(void);

/* Size, validator and range support of @url, without downloading it. */
int aur_fetch_probe(const char *url, struct aur_remote_info *info,
		    char err[AUR_FETCH_ERRLEN]);

/* Receives the body in order; a negative return aborts the transfer and
 * becomes the result of the fetch. */
typedef int (*aur_fetch_sink)(void *ctx, const void *buf, size_t len);

/* Fetch bytes [@off, @off + @len) of @url into @sink. With @etag set, the
 * request carries If-Range so that a changed file is noticed (-ESTALE). */
int aur_fetch_range(const char *url, uint64_t off, uint64_t len,
		    const char *etag, aur_fetch_sink sink, void *ctx,
		    char err[AUR_FETCH_ERRLEN]);

/* Fetch a whole small document (at most @max bytes) into a malloc'd,
 * NUL-terminated buffer. Caller frees *@buf; it is set only on success. */
int aur_fetch_all(const char *url, size_t max, char **buf, size_t *len,
		  char err[AUR_FETCH_ERRLEN]);

/* true if @s is an http://, https:// or file:// URL */
bool aur_is_url(const char *s);

#endif
