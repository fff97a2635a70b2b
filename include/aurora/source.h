/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * source.h - something bytes can be read from: a lazily fetched remote file
 * (blob.h), a local file, a computed document. Extent maps point into
 * sources; sources know nothing of extent maps.
 *
 * A source is embedded as the first member of its implementation, which
 * recovers itself with container_of-style casts.
 */
#ifndef AURORA_SOURCE_H
#define AURORA_SOURCE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct aur_source;

struct aur_source_ops {
	/* Read up to @n bytes at @off. Returns the bytes read (short only at
	 * the end of the source) or a negative errno. Thread-safe. */
	ssize_t (*pread)(struct aur_source *src, void *buf, size_t n,
			 uint64_t off);
	/* Optional: make [@off, @off + @n) readable from a file descriptor
	 * and return it with the matching offset, so that readers can splice
	 * instead of copying. The fd stays owned by the source. */
	int (*fd_range)(struct aur_source *src, uint64_t off, size_t n, int *fd,
			uint64_t *fd_off);
	/* Optional: false while bytes already read may still turn out wrong
	 * (data not yet verified), so that readers do not keep them cached.
	 * NULL means always final. */
	bool (*is_final)(struct aur_source *src);
};

struct aur_source {
	const struct aur_source_ops *ops;
};

/* Bytes in memory (borrowed: they must outlive the source). */
struct aur_mem_source {
	struct aur_source src;
	const uint8_t *data;
	size_t len;
};

void aur_mem_source_init(struct aur_mem_source *ms, const void *data,
			 size_t len);

/* A local file opened read-only. */
struct aur_file_source {
	struct aur_source src;
	int fd;
	uint64_t size;
};

/* Open @path; 0 or -errno. */
int aur_file_source_open(struct aur_file_source *fs, const char *path);
/* Take ownership of the open fd @fd. */
int aur_file_source_from_fd(struct aur_file_source *fs, int fd);
void aur_file_source_close(struct aur_file_source *fs);

#endif
