// SPDX-License-Identifier: GPL-2.0-or-later
#include <aurora/blob.h>
#include <aurora/fetch.h>
#include <aurora/log.h>
#include <aurora/util.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define CHUNK_SHIFT 20
#define CHUNK_SIZE (UINT64_C(1) << CHUNK_SHIFT)
#define RA_MAX_CHUNKS 32
/* byte of the map file locked while a cache directory is (re)created */
#define SETUP_LOCK_OFF (UINT64_C(1) << 40)
#define META_MAGIC "aurorafs-blob 1"

enum chunk_state { CHUNK_ABSENT, CHUNK_PRESENT, CHUNK_INFLIGHT };
enum blob_status { BLOB_PARTIAL, BLOB_COMPLETE, BLOB_VERIFIED, BLOB_BROKEN };

struct aur_blob {
	struct aur_source src; /* first member: the source ops cast back */
	char *url;
	char *dir;
	uint64_t size;
	uint32_t nchunks;
	bool ranges;
	char etag[128];
	time_t mtime;
	bool have_digest;
	unsigned char digest[32];
	int data_fd, map_fd;

	pthread_mutex_t lock;
	pthread_cond_t cond; /* a chunk changed state, a prefetch ended */
	uint8_t *state; /* enum chunk_state per chunk */
	uint32_t npresent;
	enum blob_status status;
	bool verifying;
	int fail_err; /* result of the last failed fetch ... */
	uint64_t fail_gen; /* ... and how many have failed */
	uint32_t ra_next, ra_chunks;
	unsigned nprefetch;
	uint64_t fetched_bytes;

	/* fetched ranges waiting for fdatasync, their map bytes and unlock */
	struct record_job *records, *records_tail;
	unsigned records_pending;
	bool recorder_stop;
	pthread_cond_t records_cond;
	pthread_t recorder;
	bool recorder_running;
};

struct record_job {
	uint32_t first, n;
	uint8_t *done; /* chunks first + i completed by the fetch */
	struct record_job *next;
};

static const struct aur_source_ops blob_source_ops;

static uint64_t chunk_start(uint32_t c)
{
	return (uint64_t)c << CHUNK_SHIFT;
}

static uint64_t chunk_end(const struct aur_blob *b, uint32_t c)
{
	return AUR_MIN(chunk_start(c) + CHUNK_SIZE, b->size);
}

/* Open file description locks over map bytes: shared between the threads
 * of this daemon, exclusive against other daemons. */
static int range_lock(int fd, short type, uint64_t off, uint64_t len)
{
	struct flock fl = {
		.l_type = type,
		.l_whence = SEEK_SET,
		.l_start = (off_t)off,
		.l_len = (off_t)len,
	};

	while (fcntl(fd, type == F_UNLCK ? F_OFD_SETLK : F_OFD_SETLKW, &fl) < 0)
		if (errno != EINTR)
			return -errno;
	return 0;
}

/* ---- meta file ---- */

static char *path_in(const struct aur_blob *b, const char *name)
{
	return aur_printf("%s/%s", b->dir, name);
}

static int meta_write(const struct aur_blob *b, bool verified)
{
	AUR_AUTOFREE char *path = path_in(b, "meta");
	char hex[65] = "-";
	char *text;
	int r;

	if (!path)
		return -ENOMEM;
	if (b->have_digest)
		aur_sha256_hex(b->digest, hex);
	text = aur_printf("%s\nurl %s\nsize %" PRIu64 "\nchunk_shift %d\n"
			  "ranges %d\netag %s\nmtime %lld\nsha256 %s\n"
			  "verified %d\n",
			  META_MAGIC, b->url, b->size, CHUNK_SHIFT,
			  b->ranges ? 1 : 0, b->etag[0] ? b->etag : "-",
			  (long long)b->mtime, hex, verified ? 1 : 0);
	if (!text)
		return -ENOMEM;
	r = aur_write_file_atomic(path, text, strlen(text), 0644);
	free(text);
	return r;
}

/* Read meta; 1 if it describes this URL with our chunk size, 0 if there is
 * none (or it is for something else), -errno on I/O errors. */
static int meta_read(struct aur_blob *b, bool *verified)
{
	AUR_AUTOFREE char *path = path_in(b, "meta");
	AUR_AUTOFREE char *text = NULL;
	bool url_ok = false, size_ok = false, shift_ok = false;
	char *line, *save = NULL;
	size_t len;
	int r;

	if (!path)
		return -ENOMEM;
	r = aur_read_file(path, 1 << 16, &text, &len);
	if (r == -ENOENT)
		return 0;
	if (r < 0)
		return r;
	line = strtok_r(text, "\n", &save);
	if (!line || strcmp(line, META_MAGIC) != 0)
		return 0;
	*verified = false;
	b->have_digest = false;
	while ((line = strtok_r(NULL, "\n", &save))) {
		char *val = strchr(line, ' ');
		uint64_t v;

		if (!val)
			continue;
		*val++ = '\0';
		if (strcmp(line, "url") == 0) {
			url_ok = strcmp(val, b->url) == 0;
		} else if (strcmp(line, "size") == 0) {
			size_ok = aur_parse_u64(val, &b->size) == 0;
		} else if (strcmp(line, "chunk_shift") == 0) {
			shift_ok =
				aur_parse_u64(val, &v) == 0 && v == CHUNK_SHIFT;
		} else if (strcmp(line, "ranges") == 0) {
			b->ranges = strcmp(val, "1") == 0;
		} else if (strcmp(line, "etag") == 0) {
			snprintf(b->etag, sizeof(b->etag), "%s",
				 strcmp(val, "-") ? val : "");
		} else if (strcmp(line, "mtime") == 0) {
			b->mtime = aur_parse_u64(val, &v) == 0 ? (time_t)v : 0;
		} else if (strcmp(line, "sha256") == 0) {
			b->have_digest = aur_sha256_parse(val, b->digest) == 0;
		} else if (strcmp(line, "verified") == 0) {
			*verified = strcmp(val, "1") == 0;
		}
	}
	return url_ok && size_ok && shift_ok ? 1 : 0;
}

/* ---- creating the cache from the server's answers ---- */

static int fetch_published_digest(struct aur_blob *b, const char *url)
{
	char err[AUR_FETCH_ERRLEN];
	AUR_AUTOFREE char *text = NULL;
	size_t len;
	int r;

	r = aur_fetch_all(url, 64 * 1024, &text, &len, err);
	if (r == -ENOENT) {
		aur_info("no checksum published at '%s': '%s' will not be "
			 "verified",
			 url, b->url);
		return 0;
	}
	if (r < 0) {
		aur_err("cannot fetch checksum %s", err);
		return -EIO;
	}
	if (len < 64 || aur_sha256_parse(text, b->digest) < 0) {
		aur_err("checksum file '%s' does not start with a SHA-256 "
			"(64 hex digits)",
			url);
		return -EIO;
	}
	b->have_digest = true;
	return 0;
}

static int cache_create(struct aur_blob *b, const char *checksum_url)
{
	AUR_AUTOFREE char *data_path = path_in(b, "data");
	struct aur_remote_info info;
	char err[AUR_FETCH_ERRLEN];
	int r, fd;

	if (!data_path)
		return -ENOMEM;
	r = aur_fetch_probe(b->url, &info, err);
	if (r < 0) {
		aur_err("cannot open %s", err);
		return r == -ENOENT ? -ENOENT : -EIO;
	}
	b->size = info.size;
	b->ranges = info.ranges;
	b->mtime = info.mtime;
	snprintf(b->etag, sizeof(b->etag), "%s", info.etag);
	if (!b->ranges)
		aur_warn("'%s': the server ignores byte ranges: the whole "
			 "file will be fetched on first read",
			 b->url);
	if (checksum_url) {
		r = fetch_published_digest(b, checksum_url);
		if (r < 0)
			return r;
	}
	fd = open(data_path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	if (ftruncate(fd, (off_t)b->size) < 0 || ftruncate(b->map_fd, 0) < 0 ||
	    ftruncate(b->map_fd, (off_t)AUR_DIV_ROUND_UP(b->size, CHUNK_SIZE)) <
		    0) {
		r = -errno;
		close(fd);
		return r;
	}
	close(fd);
	return meta_write(b, false);
}

/* ---- the map: data durable first, map bytes second ---- */

/* Set the map bytes of chunks @first + i for which @which[i] is set. */
static int write_map_bytes(struct aur_blob *b, uint32_t first, uint32_t n,
			   const uint8_t *which, uint8_t value)
{
	int r = 0;

	for (uint32_t i = 0; i < n && r == 0;) {
		uint8_t buf[256];
		uint32_t e;

		if (!which[i]) {
			i++;
			continue;
		}
		for (e = i; e < n && which[e] && e - i < sizeof(buf); e++)
			;
		memset(buf, value, e - i);
		r = aur_pwrite_full(b->map_fd, buf, e - i, first + i);
		i = e;
	}
	return r;
}

/*
 * Recording a fetch: fdatasync the data, then set the map bytes, then
 * release the range lock that kept other daemons off those chunks. The
 * recorder thread does it for every fetch queued since its last round, so
 * readers and the next fetch do not wait for the disk.
 */
static void record_batch(struct aur_blob *b, struct record_job *jobs)
{
	int r = fdatasync(b->data_fd) < 0 ? -errno : 0;

	while (jobs) {
		struct record_job *next = jobs->next;

		if (r == 0)
			r = write_map_bytes(b, jobs->first, jobs->n, jobs->done,
					    1);
		range_lock(b->map_fd, F_UNLCK, jobs->first, jobs->n);
		free(jobs->done);
		free(jobs);
		jobs = next;
	}
	if (r < 0)
		aur_warn("cache '%s': cannot record fetched chunks: %s (they "
			 "will be fetched again)",
			 b->dir, strerror(-r));
}

static void *recorder_main(void *arg)
{
	struct aur_blob *b = arg;

	pthread_mutex_lock(&b->lock);
	for (;;) {
		struct record_job *jobs;
		unsigned n = 0;

		while (!b->records && !b->recorder_stop)
			pthread_cond_wait(&b->records_cond, &b->lock);
		if (!b->records)
			break;
		jobs = b->records;
		b->records = b->records_tail = NULL;
		for (struct record_job *j = jobs; j; j = j->next)
			n++;
		pthread_mutex_unlock(&b->lock);
		record_batch(b, jobs);
		pthread_mutex_lock(&b->lock);
		b->records_pending -= n;
		pthread_cond_broadcast(&b->cond);
	}
	pthread_mutex_unlock(&b->lock);
	return NULL;
}

/* Hand a finished fetch (holding the range lock) to the recorder; takes
 * ownership of @done. */
static void queue_record(struct aur_blob *b, uint32_t first, uint32_t n,
			 uint8_t *done)
{
	struct record_job *job = malloc(sizeof(*job));

	if (!job) {
		/* out of memory: unlock without recording; the chunks will
		 * be fetched again after a restart */
		free(done);
		range_lock(b->map_fd, F_UNLCK, first, n);
		return;
	}
	*job = (struct record_job){first, n, done, NULL};
	pthread_mutex_lock(&b->lock);
	if (b->records_tail)
		b->records_tail->next = job;
	else
		b->records = job;
	b->records_tail = job;
	b->records_pending++;
	pthread_cond_signal(&b->records_cond);
	pthread_mutex_unlock(&b->lock);
}

/* Wait until every queued fetch is recorded. */
static void drain_records(struct aur_blob *b)
{
	pthread_mutex_lock(&b->lock);
	while (b->records_pending)
		pthread_cond_wait(&b->cond, &b->lock);
	pthread_mutex_unlock(&b->lock);
}

/* ---- verification ---- */

/* Forget every fetched byte, in memory and on disk. */
static void discard(struct aur_blob *b)
{
	uint8_t *all = malloc(b->nchunks ? b->nchunks : 1);

	drain_records(b);
	pthread_mutex_lock(&b->lock);
	for (uint32_t c = 0; c < b->nchunks; c++)
		if (b->state[c] == CHUNK_PRESENT)
			b->state[c] = CHUNK_ABSENT;
	b->npresent = 0;
	pthread_mutex_unlock(&b->lock);

	range_lock(b->map_fd, F_WRLCK, 0, b->nchunks ? b->nchunks : 1);
	if (all) {
		memset(all, 1, b->nchunks);
		write_map_bytes(b, 0, b->nchunks, all, 0);
	}
	if (ftruncate(b->data_fd, 0) < 0 ||
	    ftruncate(b->data_fd, (off_t)b->size) < 0)
		aur_warn("cache '%s': cannot empty the data file: %s", b->dir,
			 strerror(errno));
	range_lock(b->map_fd, F_UNLCK, 0, b->nchunks ? b->nchunks : 1);
	free(all);
}

static ssize_t read_data(void *ctx, void *buf, size_t n, uint64_t off)
{
	return aur_pread_full(((struct aur_blob *)ctx)->data_fd, buf, n, off);
}

/* The blob just became complete: check it against the published digest.
 * Runs in one thread at a time (b->verifying). */
static int verify(struct aur_blob *b)
{
	unsigned char got[32];
	char want_hex[65], got_hex[65];
	int r = aur_sha256_read(read_data, b, b->size, got);

	if (r < 0) {
		aur_err("cache '%s': cannot hash the data: %s", b->dir,
			strerror(-r));
		pthread_mutex_lock(&b->lock);
		b->verifying = false;
		pthread_mutex_unlock(&b->lock);
		return -EIO;
	}
	if (memcmp(got, b->digest, 32) != 0) {
		aur_sha256_hex(b->digest, want_hex);
		aur_sha256_hex(got, got_hex);
		aur_err("checksum mismatch for '%s': published %s, fetched "
			"data hashes to %s; the cached data was discarded and "
			"reads fail until the next mount",
			b->url, want_hex, got_hex);
		discard(b);
		pthread_mutex_lock(&b->lock);
		b->status = BLOB_BROKEN;
		b->verifying = false;
		pthread_cond_broadcast(&b->cond);
		pthread_mutex_unlock(&b->lock);
		return -EIO;
	}
	drain_records(b); /* the data is durable before meta says so */
	r = meta_write(b, true);
	if (r < 0)
		aur_warn("cache '%s': cannot record the verification: %s",
			 b->dir, strerror(-r));
	aur_info("'%s' complete and verified", b->url);
	pthread_mutex_lock(&b->lock);
	b->status = BLOB_VERIFIED;
	b->verifying = false;
	pthread_mutex_unlock(&b->lock);
	return 0;
}

/* ---- fetching ---- */

struct sink_ctx {
	struct aur_blob *b;
	uint64_t pos;
	uint32_t first; /* chunk number of owned[0] */
	const uint8_t *owned; /* chunks this fetch writes */
	uint8_t *done; /* ... and those it completed */
	uint8_t *chunk; /* the chunk being received, written when whole */
};

/* under b->lock */
static void mark_present(struct aur_blob *b, uint32_t c)
{
	b->state[c] = CHUNK_PRESENT;
	b->npresent++;
	if (b->npresent == b->nchunks && b->status == BLOB_PARTIAL)
		b->status = BLOB_COMPLETE;
	pthread_cond_broadcast(&b->cond);
}

/* Bytes arrive in pieces of a few KiB: gather a whole chunk and write it
 * with one pwrite (a chunk is only served once complete anyway). */
static int sink_write(void *ctx, const void *buf, size_t len)
{
	struct sink_ctx *s = ctx;
	struct aur_blob *b = s->b;
	const uint8_t *p = buf;

	__atomic_fetch_add(&b->fetched_bytes, len, __ATOMIC_RELAXED);
	while (len > 0) {
		uint32_t c = (uint32_t)(s->pos >> CHUNK_SHIFT);
		uint64_t start = chunk_start(c), end = chunk_end(b, c);
		size_t k = (size_t)AUR_MIN((uint64_t)len, end - s->pos);
		bool own = s->owned[c - s->first];

		if (own)
			memcpy(s->chunk + (s->pos - start), p, k);
		s->pos += k;
		p += k;
		len -= k;
		if (own && s->pos == end) {
			int r = aur_pwrite_full(b->data_fd, s->chunk,
						(size_t)(end - start), start);

			if (r < 0)
				return r;
			s->done[c - s->first] = 1;
			pthread_mutex_lock(&b->lock);
			mark_present(b, c);
			pthread_mutex_unlock(&b->lock);
		}
	}
	return 0;
}

/* With the range locked: chunks another daemon fetched while we waited
 * for the lock are in the map now; take them instead of fetching. */
static void adopt_recorded(struct aur_blob *b, uint32_t first, uint32_t n,
			   uint8_t *owned)
{
	uint8_t *on_disk = malloc(n);

	if (on_disk &&
	    aur_pread_full(b->map_fd, on_disk, n, first) == (ssize_t)n) {
		pthread_mutex_lock(&b->lock);
		for (uint32_t i = 0; i < n; i++) {
			if (owned[i] && on_disk[i] == 1) {
				owned[i] = 0;
				mark_present(b, first + i);
			}
		}
		pthread_mutex_unlock(&b->lock);
	}
	free(on_disk);
}

/*
 * Fetch the chunks marked in @owned (chunk @first + i for owned[i]), which
 * the caller set to INFLIGHT. On return none of them is INFLIGHT.
 */
static int fetch_owned(struct aur_blob *b, uint32_t first, uint32_t n,
		       uint8_t *owned)
{
	struct sink_ctx s = {.b = b, .first = first, .owned = owned};
	char err[AUR_FETCH_ERRLEN];
	uint32_t lo = n, hi = 0;
	int r;

	s.done = calloc(n, 1);
	s.chunk = malloc(CHUNK_SIZE);
	if (!s.done || !s.chunk) {
		r = -ENOMEM;
		goto out;
	}

	r = range_lock(b->map_fd, F_WRLCK, first, n);
	if (r < 0) {
		aur_err("cache '%s': cannot lock the chunk map: %s", b->dir,
			strerror(-r));
		goto out;
	}
	adopt_recorded(b, first, n, owned);
	for (uint32_t i = 0; i < n; i++) {
		if (owned[i]) {
			lo = AUR_MIN(lo, i);
			hi = i + 1;
		}
	}
	if (lo < hi) {
		uint64_t off = b->ranges ? chunk_start(first + lo) : 0;
		uint64_t end = chunk_end(b, first + hi - 1);

		s.pos = off;
		aur_debug("fetch '%s' bytes %" PRIu64 "-%" PRIu64, b->url, off,
			  end - 1);
		r = aur_fetch_range(b->url, off, end - off, b->etag, sink_write,
				    &s, err);
		if (r == -ESTALE) {
			AUR_AUTOFREE char *meta = path_in(b, "meta");

			aur_err("cannot fetch %s; the cache of it is dropped "
				"and it is read again after a remount",
				err);
			if (meta)
				unlink(meta);
		} else if (r == -ENOSPC || r == -EDQUOT) {
			aur_err("cache '%s': no space left for '%s'", b->dir,
				b->url);
		} else if (r < 0) {
			aur_err("cannot fetch %s", err);
		}
	}
	/* the recorder unlocks once the map says what was fetched: other
	 * daemons read the map when they get the lock */
	queue_record(b, first, n, s.done);
	s.done = NULL;
out:
	pthread_mutex_lock(&b->lock);
	for (uint32_t i = 0; i < n; i++)
		if (owned[i] && b->state[first + i] == CHUNK_INFLIGHT)
			b->state[first + i] = CHUNK_ABSENT;
	if (r == -ESTALE)
		b->status = BLOB_BROKEN;
	if (r < 0) {
		b->fail_err = (r == -ENOSPC || r == -EDQUOT) ? r : -EIO;
		b->fail_gen++;
		r = b->fail_err;
	}
	pthread_cond_broadcast(&b->cond);
	pthread_mutex_unlock(&b->lock);
	free(s.done);
	free(s.chunk);
	return r;
}

/* Under b->lock: claim up to @count absent chunks from @start (stopping at
 * the first chunk that is not absent, so the claim is one range). Without
 * range support, claim every absent chunk: the fetch starts at byte 0. */
static uint32_t claim(struct aur_blob *b, uint32_t start, uint32_t count,
		      uint32_t *first, uint8_t **owned)
{
	uint32_t n, got = 0;

	if (!b->ranges) {
		start = 0;
		count = b->nchunks;
	}
	count = AUR_MIN(count, b->nchunks - start);
	*owned = calloc(count ? count : 1, 1);
	if (!*owned)
		return 0;
	for (n = 0; n < count; n++) {
		uint32_t c = start + n;

		if (b->state[c] == CHUNK_ABSENT) {
			b->state[c] = CHUNK_INFLIGHT;
			(*owned)[n] = 1;
			got++;
		} else if (b->ranges) {
			break;
		}
	}
	*first = start;
	return got ? n : 0;
}

struct prefetch_job {
	struct aur_blob *b;
	uint32_t first, n;
	uint8_t *owned;
};

static void *prefetch_main(void *arg)
{
	struct prefetch_job *job = arg;
	struct aur_blob *b = job->b;

	fetch_owned(b, job->first, job->n, job->owned);
	free(job->owned);
	free(job);
	pthread_mutex_lock(&b->lock);
	b->nprefetch--;
	pthread_cond_broadcast(&b->cond);
	pthread_mutex_unlock(&b->lock);
	return NULL;
}

/* Under b->lock: a reader that has been sequential for a few windows
 * entered the last one at chunk @c: fetch the next in the background. */
static void maybe_prefetch(struct aur_blob *b, uint32_t c)
{
	struct prefetch_job *job;
	pthread_attr_t attr;
	pthread_t t;
	uint32_t count;

	if (b->nprefetch || b->ra_chunks < 4 || b->ra_next >= b->nchunks ||
	    c + b->ra_chunks < b->ra_next ||
	    b->state[b->ra_next] != CHUNK_ABSENT || b->status == BLOB_BROKEN)
		return;
	job = calloc(1, sizeof(*job));
	if (!job)
		return;
	count = AUR_MIN(b->ra_chunks * 2, RA_MAX_CHUNKS);
	job->b = b;
	job->n = claim(b, b->ra_next, count, &job->first, &job->owned);
	if (job->n == 0) {
		free(job->owned);
		free(job);
		return;
	}
	b->ra_chunks = count;
	b->ra_next = job->first + job->n;
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	if (pthread_create(&t, &attr, prefetch_main, job) != 0) {
		for (uint32_t i = 0; i < job->n; i++)
			if (job->owned[i])
				b->state[job->first + i] = CHUNK_ABSENT;
		free(job->owned);
		free(job);
	} else {
		b->nprefetch++;
	}
	pthread_attr_destroy(&attr);
}

/* Make bytes [@off, @off + @n) present in the data file. */
static int ensure(struct aur_blob *b, uint64_t off, uint64_t n)
{
	uint32_t c, last;
	bool need_verify;
	int r = 0;

	if (n == 0 || off >= b->size)
		return 0;
	n = AUR_MIN(n, b->size - off);
	c = (uint32_t)(off >> CHUNK_SHIFT);
	last = (uint32_t)((off + n - 1) >> CHUNK_SHIFT);
	pthread_mutex_lock(&b->lock);
	while (c <= last && r == 0) {
		uint64_t gen;
		uint32_t first, count, got;
		uint8_t *owned;

		if (b->status == BLOB_BROKEN) {
			r = -EIO;
			break;
		}
		switch (b->state[c]) {
		case CHUNK_PRESENT:
			c++;
			continue;
		case CHUNK_INFLIGHT:
			gen = b->fail_gen;
			pthread_cond_wait(&b->cond, &b->lock);
			if (b->fail_gen != gen && b->state[c] == CHUNK_ABSENT)
				r = b->fail_err;
			continue;
		default:
			break;
		}
		/* absent: fetch it, with a window that grows while the
		 * reader is sequential */
		if (c == b->ra_next)
			b->ra_chunks = AUR_MIN(b->ra_chunks * 2, RA_MAX_CHUNKS);
		else
			b->ra_chunks = 1;
		count = AUR_MAX(b->ra_chunks, last - c + 1);
		got = claim(b, c, count, &first, &owned);
		if (got == 0) {
			free(owned);
			r = -ENOMEM;
			break;
		}
		b->ra_next = AUR_MAX(first + got, c + 1);
		pthread_mutex_unlock(&b->lock);
		r = fetch_owned(b, first, got, owned);
		free(owned);
		pthread_mutex_lock(&b->lock);
	}
	if (r == 0)
		maybe_prefetch(b, last);
	need_verify = r == 0 && b->status == BLOB_COMPLETE && b->have_digest &&
		      !b->verifying;
	if (need_verify)
		b->verifying = true;
	pthread_mutex_unlock(&b->lock);
	if (need_verify)
		r = verify(b);
	return r;
}

/* ---- source ops ---- */

static int blob_get_run(struct aur_source *src, uint64_t off, size_t n,
			struct aur_run *run)
{
	struct aur_blob *b = (struct aur_blob *)src;
	int r = ensure(b, off, n);

	if (r < 0)
		return r;
	run->kind = AUR_RUN_FD;
	run->fd = b->data_fd;
	run->fd_off = off;
	run->len = n;
	return 0;
}

static enum aur_trust blob_trust(struct aur_source *src)
{
	struct aur_blob *b = (struct aur_blob *)src;
	enum aur_trust t = AUR_TRUST_PENDING;

	pthread_mutex_lock(&b->lock);
	if (b->status == BLOB_VERIFIED)
		t = AUR_TRUST_VERIFIED;
	else if (b->status == BLOB_COMPLETE && !b->have_digest)
		t = AUR_TRUST_UNVERIFIED;
	pthread_mutex_unlock(&b->lock);
	return t;
}

static int blob_settle(struct aur_source *src)
{
	return aur_blob_fetch_all((struct aur_blob *)src);
}

static const struct aur_source_ops blob_source_ops = {
	.get_run = blob_get_run,
	.trust = blob_trust,
	.settle = blob_settle,
};

/* ---- open / close ---- */

static int load_state(struct aur_blob *b, bool verified)
{
	b->nchunks = (uint32_t)AUR_DIV_ROUND_UP(b->size, CHUNK_SIZE);
	/* the first read is not taken for a sequential one */
	b->ra_next = UINT32_MAX;
	b->ra_chunks = 1;
	b->state = calloc(b->nchunks ? b->nchunks : 1, 1);
	if (!b->state)
		return -ENOMEM;
	if (verified) {
		memset(b->state, CHUNK_PRESENT, b->nchunks);
		b->npresent = b->nchunks;
		b->status = BLOB_VERIFIED;
		return 0;
	}
	if (b->nchunks) {
		ssize_t got =
			aur_pread_full(b->map_fd, b->state, b->nchunks, 0);

		if (got < 0)
			return (int)got;
		for (uint32_t c = 0; c < b->nchunks; c++) {
			b->state[c] = (c < (uint32_t)got && b->state[c] == 1)
					      ? CHUNK_PRESENT
					      : CHUNK_ABSENT;
			b->npresent += b->state[c] == CHUNK_PRESENT;
		}
	}
	b->status = b->npresent == b->nchunks ? BLOB_COMPLETE : BLOB_PARTIAL;
	return 0;
}

static char *cache_dir_for(const char *state_dir, const char *url)
{
	unsigned char d[32];
	char hex[65];

	aur_sha256(url, strlen(url), d);
	aur_sha256_hex(d, hex);
	hex[32] = '\0';
	return aur_printf("%s/blobs/%s", state_dir, hex);
}

int aur_blob_open(const char *state_dir, const char *url,
		  const char *checksum_url, struct aur_blob **out)
{
	struct aur_blob *b = calloc(1, sizeof(*b));
	AUR_AUTOFREE char *map_path = NULL;
	AUR_AUTOFREE char *data_path = NULL;
	bool verified = false, locked = false;
	int r;

	if (!b)
		return -ENOMEM;
	b->src.ops = &blob_source_ops;
	b->data_fd = b->map_fd = -1;
	pthread_mutex_init(&b->lock, NULL);
	pthread_cond_init(&b->cond, NULL);
	pthread_cond_init(&b->records_cond, NULL);
	b->url = strdup(url);
	b->dir = cache_dir_for(state_dir, url);
	if (!b->url || !b->dir) {
		r = -ENOMEM;
		goto fail;
	}
	r = aur_mkdir_p(b->dir, 0755);
	if (r < 0) {
		aur_err("cannot create cache directory '%s': %s", b->dir,
			strerror(-r));
		goto fail;
	}
	map_path = path_in(b, "map");
	data_path = path_in(b, "data");
	if (!map_path || !data_path) {
		r = -ENOMEM;
		goto fail;
	}
	b->map_fd = open(map_path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (b->map_fd < 0) {
		r = -errno;
		aur_err("cannot open '%s': %s", map_path, strerror(-r));
		goto fail;
	}
	r = range_lock(b->map_fd, F_WRLCK, SETUP_LOCK_OFF, 1);
	if (r < 0)
		goto fail;
	locked = true;
	r = meta_read(b, &verified);
	if (r == 0)
		r = cache_create(b, checksum_url);
	else if (r == 1)
		r = 0;
	if (r < 0)
		goto fail;
	b->data_fd = open(data_path, O_RDWR | O_CLOEXEC);
	if (b->data_fd < 0) {
		r = -errno;
		aur_err("cannot open '%s': %s", data_path, strerror(-r));
		goto fail;
	}
	range_lock(b->map_fd, F_UNLCK, SETUP_LOCK_OFF, 1);
	locked = false;
	r = load_state(b, verified);
	if (r < 0)
		goto fail;
	b->src.size = b->size;
	if (pthread_create(&b->recorder, NULL, recorder_main, b) != 0) {
		r = -EAGAIN;
		goto fail;
	}
	b->recorder_running = true;
	aur_debug("'%s': %" PRIu64 " bytes, %u of %u chunks cached%s", url,
		  b->size, b->npresent, b->nchunks,
		  verified ? ", verified" : "");
	*out = b;
	return 0;
fail:
	if (locked)
		range_lock(b->map_fd, F_UNLCK, SETUP_LOCK_OFF, 1);
	aur_blob_close(b);
	return r;
}

void aur_blob_close(struct aur_blob *b)
{
	if (!b)
		return;
	pthread_mutex_lock(&b->lock);
	while (b->nprefetch)
		pthread_cond_wait(&b->cond, &b->lock);
	b->recorder_stop = true;
	pthread_cond_signal(&b->records_cond);
	pthread_mutex_unlock(&b->lock);
	if (b->recorder_running)
		pthread_join(b->recorder, NULL);
	if (b->data_fd >= 0)
		close(b->data_fd);
	if (b->map_fd >= 0)
		close(b->map_fd);
	pthread_cond_destroy(&b->cond);
	pthread_cond_destroy(&b->records_cond);
	pthread_mutex_destroy(&b->lock);
	free(b->state);
	free(b->url);
	free(b->dir);
	free(b);
}

struct aur_source *aur_blob_source(struct aur_blob *b)
{
	return &b->src;
}

uint64_t aur_blob_size(const struct aur_blob *b)
{
	return b->size;
}

time_t aur_blob_mtime(const struct aur_blob *b)
{
	return b->mtime;
}

bool aur_blob_published_digest(const struct aur_blob *b,
			       unsigned char digest[32])
{
	if (b->have_digest)
		memcpy(digest, b->digest, 32);
	return b->have_digest;
}

int aur_blob_fetch_all(struct aur_blob *b)
{
	const uint64_t step = RA_MAX_CHUNKS * CHUNK_SIZE;

	for (uint64_t off = 0; off < b->size; off += step) {
		int r = ensure(b, off, AUR_MIN(step, b->size - off));

		if (r < 0)
			return r;
	}
	return 0;
}

void aur_blob_get_stats(struct aur_blob *b, struct aur_blob_stats *st)
{
	pthread_mutex_lock(&b->lock);
	st->fetched_bytes = b->fetched_bytes;
	st->present_chunks = b->npresent;
	st->chunks = b->nchunks;
	st->verified = b->status == BLOB_VERIFIED;
	pthread_mutex_unlock(&b->lock);
}
