/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * util.h - small helpers shared by every module: whole-file I/O, durable
 * atomic writes, full preads/pwrites and SHA-256 formatting.
 *
 * Every function returns 0 (or a byte count) on success and a negative
 * errno on failure; none of them logs.
 */
#ifndef AURORA_UTIL_H
#define AURORA_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/types.h>

#define AUR_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
/* These evaluate an argument twice: give them no side effects. */
#define AUR_MIN(a, b) ((a) < (b) ? (a) : (b))
#define AUR_MAX(a, b) ((a) > (b) ? (a) : (b))
#define AUR_DIV_ROUND_UP(n, d) (((n) + (d)-1) / (d))

/* Frees a local scratch buffer when it goes out of scope. */
#define AUR_AUTOFREE __attribute__((cleanup(aur_freep)))
void aur_freep(void *pp);

/* Read all of @fd (at most @max bytes, else -EFBIG) into a NUL-terminated
 * malloc'd buffer. Caller frees *buf. */
int aur_read_fd(int fd, size_t max, char **buf, size_t *len);
int aur_read_file(const char *path, size_t max, char **buf, size_t *len);

/* Write @buf to @path through a temporary file and rename(2), fsyncing the
 * file and its directory: readers see the old or the new content, never a
 * mix, even after a crash. */
int aur_write_file_atomic(const char *path, const void *buf, size_t len,
			  mode_t mode);

/* mkdir -p: 0 once @path is a directory (-ENOTDIR if it is something
 * else). */
int aur_mkdir_p(const char *path, mode_t mode);

/* @path made absolute against the working directory (not resolved
 * further). Caller frees; NULL (errno set) on failure. */
char *aur_absolute_path(const char *path);

/* pread/pwrite that retry on EINTR and short transfers. aur_pread_full
 * returns the bytes read (less than @n only at end of file). */
ssize_t aur_pread_full(int fd, void *buf, size_t n, uint64_t off);
int aur_pwrite_full(int fd, const void *buf, size_t n, uint64_t off);

/* Lowercase hex of a 32-byte SHA-256 digest into @out (65 bytes). */
void aur_sha256_hex(const unsigned char digest[32], char out[65]);
/* Parse 64 hex digits at the start of @s; 0 or -EINVAL. */
/* The value of hexadecimal digit @c (either case), or -1. */
int aur_hex_digit(char c);
int aur_sha256_parse(const char *s, unsigned char digest[32]);
void aur_sha256(const void *buf, size_t len, unsigned char digest[32]);

/* Reads up to @n bytes at @off; bytes read or -errno (pread-like). */
typedef ssize_t (*aur_read_fn)(void *ctx, void *buf, size_t n, uint64_t off);
/* SHA-256 of the @size bytes that @read gives, read in 4 MiB steps.
 * 0, -ENOMEM, -EIO on a short read, or the reader's error. */
int aur_sha256_read(aur_read_fn read, void *ctx, uint64_t size,
		    unsigned char digest[32]);

/* asprintf that returns the string or NULL (errno set). Caller frees. */
char *aur_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* true if @s starts with @prefix */
bool aur_startswith(const char *s, const char *prefix);

/* Parse a non-negative decimal integer filling all of @s; 0 or -EINVAL. */
int aur_parse_u64(const char *s, uint64_t *out);

/* A MAC address as people write it: six two-digit hex groups separated
 * all by colons or all by dashes, in any case ("52:54:00:A0:77:01",
 * "52-54-00-a0-77-01"). -EINVAL for anything else. */
int aur_mac_parse(const char *s, uint8_t mac[6]);

/* Its canonical spelling: lower case, colons ("52:54:00:a0:77:01"). */
#define AUR_MAC_STRLEN 18
void aur_mac_format(const uint8_t mac[6], char out[AUR_MAC_STRLEN]);

#endif
