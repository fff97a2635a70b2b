/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * blob.h - a remote file, fetched lazily by 1 MiB chunks and cached in
 * <state_dir>/blobs/<hash of the URL>/.
 *
 * On disk:
 *   meta  URL, size, chunk size, ETag, mtime, published SHA-256 and whether
 *         the complete data was verified; written atomically, and only
 *         after data and map exist, so a meta file means a usable cache
 *   data  sparse file of the remote's size
 *   map   one byte per chunk: 1 once the chunk's bytes are durable in data
 *
 * A fetch marks its chunks in map only after fdatasync(data), so the map
 * never claims bytes that a crash or power loss could have lost: at worst
 * a restart fetches a chunk again. Readers do not wait for that: a chunk
 * is served as soon as its bytes are written. When every chunk is present and
 * the release published a checksum, the data is hashed; a mismatch discards it,
 * logs why and makes every later read fail with EIO.
 *
 * Concurrency: readers of one blob share fetches (a chunk being fetched is
 * waited for, not fetched twice). Daemons sharing a state_dir serialise on
 * open file description locks over the map bytes of the chunks they fetch
 * and re-read the map once they hold the lock.
 *
 * Sequential readers get a growing readahead window (up to 32 MiB per
 * request) and a prefetch of the next window once they are halfway
 * through the current one.
 */
#ifndef AURORA_BLOB_H
#define AURORA_BLOB_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include <aurora/source.h>

struct aur_blob;

/*
 * Open the cached copy of @url below @state_dir, creating it if needed.
 * Without a usable cache this asks the server for the size (no download);
 * with one, it touches no network. @checksum_url (may be NULL) names a
 * sha256sum-style file published next to the asset; a 404 there means
 * "not published". Logs failures; 0 or -errno.
 */
int aur_blob_open(const char *state_dir, const char *url,
		  const char *checksum_url, struct aur_blob **out);

/* Wait for background prefetches, then free. NULL-safe. */
void aur_blob_close(struct aur_blob *b);

/* The blob as a byte source (pread fetches what is missing). */
struct aur_source *aur_blob_source(struct aur_blob *b);

uint64_t aur_blob_size(const struct aur_blob *b);
time_t aur_blob_mtime(const struct aur_blob *b);

/* The published SHA-256 if there is one: true and @digest filled. */
bool aur_blob_published_digest(const struct aur_blob *b,
			       unsigned char digest[32]);

/* Make the whole blob present (and verified when a checksum exists). */
int aur_blob_fetch_all(struct aur_blob *b);

/* Counters for tests and benchmarks. */
struct aur_blob_stats {
	uint64_t fetched_bytes; /* bytes received from the server */
	uint64_t present_chunks, chunks;
	bool verified;
};
void aur_blob_get_stats(struct aur_blob *b, struct aur_blob_stats *st);

#endif
