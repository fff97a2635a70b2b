/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * source.h - something bytes can be read from: a lazily fetched remote file
 * (blob.h), a local file, bytes in memory, a computed document, another
 * file's extent map. Extent maps point into sources.
 *
 * A source does not copy: asked for a range, it makes the bytes available
 * and describes where they are as a run (extmap.h) - memory that lives as
 * long as the source, or a range of a file descriptor that the source owns -
 * so that front ends can splice or sendfile it. aur_source_pread() copies
 * for callers that want the bytes in their own buffer.
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

enum aur_run_kind { AUR_RUN_MEM, AUR_RUN_ZERO, AUR_RUN_FD };

/* A stretch of bytes as a reader finds it. */
struct aur_run {
	enum aur_run_kind kind;
	size_t len;
	const uint8_t *mem; /* AUR_RUN_MEM */
	int fd; /* AUR_RUN_FD: owned by the source */
	uint64_t fd_off;
};

struct aur_source_ops {
	/* Make bytes [@off, @off + @n) readable (fetching them if needed)
	 * and describe a first part of them, at least one byte, as @run.
	 * @off + @n must not pass the source's end. 0 or a negative errno.
	 * Thread-safe. */
	int (*get_run)(struct aur_source *src, uint64_t off, size_t n,
		       struct aur_run *run);
	/* Optional: false while bytes already read may still turn out wrong
	 * (data not yet verified), so that readers do not keep them cached.
	 * NULL means always final. */
	bool (*is_final)(struct aur_source *src);
};

struct aur_source {
	const struct aur_source_ops *ops;
	uint64_t size;
};

/* Copy up to @n bytes at @off into @buf. Returns the bytes read (short
 * only at the end of the source) or a negative errno. */
ssize_t aur_source_pread(struct aur_source *src, void *buf, size_t n,
			 uint64_t off);

/* Whether the bytes of @src are final (see is_final). */
bool aur_source_is_final(struct aur_source *src);

/* Bytes in memory (borrowed: they must outlive the source). */
struct aur_mem_source {
	struct aur_source src;
	const uint8_t *data;
};

void aur_mem_source_init(struct aur_mem_source *ms, const void *data,
			 size_t len);

/* A local file opened read-only. */
struct aur_file_source {
	struct aur_source src;
	int fd;
};

/* Open @path; 0 or -errno. */
int aur_file_source_open(struct aur_file_source *fs, const char *path);
/* Take ownership of the open fd @fd (a regular file). */
int aur_file_source_from_fd(struct aur_file_source *fs, int fd);
void aur_file_source_close(struct aur_file_source *fs);

#endif
