/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * store.h - files built once and kept by the digest of their inputs, in
 * <state_dir>/store/<key>: a squashfs of an image, a compressed disk.
 *
 * The key names everything the bytes depend on (the caller hashes its
 * inputs and a version of its format into it), so a remount finds the
 * file and builds nothing. One build at a time per key: threads of one
 * daemon and other daemons sharing the state_dir wait on an open file
 * description lock and then use the result. A build writes a temporary
 * file that is fsynced and renamed into place only when it succeeded: a
 * failure or a crash leaves nothing under the key, and the next reader
 * builds again.
 */
#ifndef AURORA_STORE_H
#define AURORA_STORE_H

#include <aurora/source.h>

struct aur_job;

/* Write the file into @fd (empty, at offset 0). 0 or -errno, logged. */
typedef int (*aur_store_build_fn)(void *ctx, int fd);

/*
 * Open the file stored under @key (64 hex digits) in @state_dir, building
 * it with @build(@ctx, fd) first if it is not there. @what names it in
 * messages. On success @out is a file source over the stored file (close
 * it with aur_file_source_close). 0 or -errno.
 */
int aur_store_get(const char *state_dir, const char *key, const char *what,
		  aur_store_build_fn build, void *ctx,
		  struct aur_file_source *out);

/* The key for @n input strings: SHA-256 over each one with its length,
 * as 64 hex digits (plus the NUL) into @key. */
void aur_store_key(const char *const *inputs, size_t n, char key[65]);

#endif
