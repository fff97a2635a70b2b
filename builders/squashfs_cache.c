// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The cache of compressed blocks (squashfs.h, "Incremental builds"): an
 * earlier image's index read and checked whole; the compressor that the
 * block processor's workers run, which looks each block up before
 * compressing it and notes what it compressed; and, once the image is
 * written, its index: every block it stores, read back and hashed, paired
 * with what it held before compression through those notes.
 */
#include "squashfs_i.h"

#include <aurora/log.h>
#include <aurora/util.h>

#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libdeflate.h>
#include <lzma.h>
#include <openssl/evp.h>
#include <sqfs/block.h>
#include <sqfs/error.h>
#include <sqfs/super.h>
#include <zlib.h>
#include <zstd.h>

#define DIGEST_LEN 32
#define SETTINGS_VERSION "aurorafs squashfs block cache 3"
#define PROBE_SIZE (64u << 10)
#define UNCOMPRESSED_BIT (1u << 24)
#define SIZE_WORD_BITS (UNCOMPRESSED_BIT | (UNCOMPRESSED_BIT - 1))

_Static_assert(sizeof(struct aur_sqfs_index_header) == 88,
	       "the index header has no padding");
_Static_assert(sizeof(struct aur_sqfs_index_entry) == 80,
	       "an index entry has no padding");

struct aur_sqfs_cache {
	char *what;
	int fd; /* the earlier image */
	uint8_t settings[DIGEST_LEN];
	uint32_t block_size;
	struct aur_sqfs_index_entry *entries; /* host byte order, sorted */
	size_t n;
};

/* What the compressor stored for the bytes whose digest is @data. */
struct note {
	uint8_t stored[DIGEST_LEN];
	uint8_t data[DIGEST_LEN];
};

struct aur_sqfs_reuse {
	const struct aur_sqfs_cache *cache; /* NULL: none, or not usable */
	uint8_t settings[DIGEST_LEN];
	uint32_t block_size;

	pthread_mutex_t lock; /* the notes and the first refusal */
	struct note *notes;
	size_t nnotes, notes_cap;
	const char *refused_why;
	uint64_t refused_at;

	atomic_uint_fast64_t reused, reused_bytes, compressed, compressed_bytes,
		refused;

	/* the new image's index, once the notes are complete */
	bool notes_sorted;
	struct aur_sqfs_index_entry *entries;
	size_t nentries, entries_cap;
	uint8_t *buf; /* one stored block */
};

static int digest_cmp(const uint8_t *a, const uint8_t *b)
{
	return memcmp(a, b, DIGEST_LEN);
}

/* ---- an earlier image's index ---- */

static int refuse_index(const char *what, const char *why)
{
	aur_warn("squashfs cache '%s': %s: not used", what, why);
	return -EBADMSG;
}

static void entry_from_le(struct aur_sqfs_index_entry *e)
{
	e->offset = le64toh(e->offset);
	e->size_word = le32toh(e->size_word);
	e->reserved = le32toh(e->reserved);
}

static void entry_to_le(struct aur_sqfs_index_entry *e)
{
	e->offset = htole64(e->offset);
	e->size_word = htole32(e->size_word);
	e->reserved = htole32(e->reserved);
}

/* Why entry @i of @c cannot be, or NULL. */
static const char *bad_entry(const struct aur_sqfs_cache *c, size_t i,
			     uint64_t image_size)
{
	const struct aur_sqfs_index_entry *e = &c->entries[i];
	uint32_t stored = SQFS_ON_DISK_BLOCK_SIZE(e->size_word);

	if ((e->size_word & ~SIZE_WORD_BITS) || e->reserved)
		return "an entry has unknown bits set";
	if (stored == 0 || stored > c->block_size)
		return "an entry's size is not that of a block";
	if (e->offset < sizeof(sqfs_super_t) || e->offset > image_size ||
	    image_size - e->offset < stored)
		return "an entry points outside the image";
	if (i > 0 &&
	    digest_cmp(c->entries[i - 1].data_digest, e->data_digest) >= 0)
		return "entries are not sorted, or two are alike";
	return NULL;
}

/* The header of @index checked against itself and the image in @fd. */
static const char *bad_header(const struct aur_sqfs_index_header *h,
			      const uint8_t *index, size_t len, int fd,
			      char *why, size_t why_len)
{
	uint8_t digest[DIGEST_LEN];
	uint32_t block_size = le32toh(h->block_size);
	struct stat st;

	if (memcmp(h->magic, AUR_SQFS_INDEX_MAGIC, sizeof(h->magic)) != 0)
		return "not an index (bad magic)";
	if ((len - sizeof(*h)) % sizeof(struct aur_sqfs_index_entry) != 0 ||
	    (len - sizeof(*h)) / sizeof(struct aur_sqfs_index_entry) !=
		    le32toh(h->entry_count))
		return "its size does not match its entry count (truncated?)";
	aur_sha256(index + sizeof(*h), len - sizeof(*h), digest);
	if (digest_cmp(digest, h->entries_digest) != 0)
		return "its entries do not match their digest";
	if (block_size < SQFS_MIN_BLOCK_SIZE ||
	    block_size > SQFS_MAX_BLOCK_SIZE || (block_size & (block_size - 1)))
		return "its block size is not one of squashfs's";
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
		return "the image is not a regular file";
	if ((uint64_t)st.st_size != le64toh(h->image_size)) {
		snprintf(why, why_len,
			 "the image is %llu bytes, the index says %llu",
			 (unsigned long long)st.st_size,
			 (unsigned long long)le64toh(h->image_size));
		return why;
	}
	return NULL;
}

/* The entries of @index into @c, checked. */
static int take_entries(struct aur_sqfs_cache *c, const uint8_t *index,
			size_t len, uint64_t image_size)
{
	const struct aur_sqfs_index_header *h = (const void *)index;
	const char *why;

	c->n = le32toh(h->entry_count);
	c->entries = malloc(AUR_MAX(c->n, (size_t)1) * sizeof(*c->entries));
	if (!c->entries)
		return -ENOMEM;
	memcpy(c->entries, index + sizeof(*h), c->n * sizeof(*c->entries));
	for (size_t i = 0; i < c->n; i++) {
		entry_from_le(&c->entries[i]);
		why = bad_entry(c, i, image_size);
		if (why)
			return refuse_index(c->what, why);
	}
	return 0;
}

void aur_sqfs_cache_free(struct aur_sqfs_cache *c)
{
	if (!c)
		return;
	if (c->fd >= 0)
		close(c->fd);
	free(c->entries);
	free(c->what);
	free(c);
}

int aur_sqfs_cache_open(const char *what, int image_fd, const void *index,
			size_t len, struct aur_sqfs_cache **out)
{
	struct aur_sqfs_index_header h;
	struct aur_sqfs_cache *c;
	char why_buf[128];
	const char *why;
	int r;

	*out = NULL;
	if (len < sizeof(h))
		return refuse_index(what, "shorter than an index header");
	memcpy(&h, index, sizeof(h));
	why = bad_header(&h, index, len, image_fd, why_buf, sizeof(why_buf));
	if (why)
		return refuse_index(what, why);
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->fd = fcntl(image_fd, F_DUPFD_CLOEXEC, 0);
	c->what = strdup(what);
	c->block_size = le32toh(h.block_size);
	memcpy(c->settings, h.settings, DIGEST_LEN);
	r = c->fd < 0 ? -errno : c->what ? 0 : -ENOMEM;
	if (r == 0)
		r = take_entries(c, index, len, le64toh(h.image_size));
	if (r < 0) {
		aur_sqfs_cache_free(c);
		return r;
	}
	*out = c;
	return 0;
}

static int entry_key_cmp(const void *key, const void *elem)
{
	const struct aur_sqfs_index_entry *e = elem;

	return digest_cmp(key, e->data_digest);
}

static const struct aur_sqfs_index_entry *cache_lookup(
	const struct aur_sqfs_cache *c, const uint8_t digest[DIGEST_LEN])
{
	return bsearch(digest, c->entries, c->n, sizeof(*c->entries),
		       entry_key_cmp);
}

/* ---- the settings a cache must have been made with ---- */

/* Text with stretches of noise: matches, literals and both kinds of
 * Huffman codes, so that a compressor that changes its output at all
 * likely changes it here. */
static void make_probe(uint8_t *p, size_t n)
{
	static const char words[] = "squashfs block cache probe of aurorafs "
				    "with some words, 0123456789 and more\n";
	uint32_t x = 2463534242u;

	for (size_t i = 0; i < n; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		p[i] = i % 1024 < 768 ? (uint8_t)words[x % (sizeof(words) - 1)]
				      : (uint8_t)x;
	}
}

static void digest_str(EVP_MD_CTX *md, const char *s)
{
	uint64_t len = strlen(s);

	EVP_DigestUpdate(md, &len, sizeof(len));
	EVP_DigestUpdate(md, s, len);
}

static void digest_u64(EVP_MD_CTX *md, uint64_t v)
{
	v = htole64(v);
	EVP_DigestUpdate(md, &v, sizeof(v));
}

/* SHA-256 of @cmp's settings and its output for the probe (made by a
 * copy of it, which leaves @cmp as it was). */
static int settings_digest(const sqfs_compressor_t *cmp,
			   uint8_t out[DIGEST_LEN])
{
	sqfs_compressor_config_t cfg;
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	sqfs_compressor_t *copy = sqfs_copy(cmp);
	uint8_t *in, *probe;
	size_t n;
	sqfs_s32 got;
	int r = 0;

	memset(&cfg, 0, sizeof(cfg));
	cmp->get_configuration(cmp, &cfg);
	n = AUR_MIN((size_t)PROBE_SIZE, (size_t)cfg.block_size);
	in = malloc(n);
	probe = malloc(n);
	if (!md || !copy || !in || !probe ||
	    !EVP_DigestInit_ex(md, EVP_sha256(), NULL)) {
		r = -ENOMEM;
		goto out;
	}
	make_probe(in, n);
	got = copy->do_block(copy, in, (sqfs_u32)n, probe, (sqfs_u32)n);
	if (got < 0) {
		r = -EIO;
		goto out;
	}
	digest_str(md, SETTINGS_VERSION);
	digest_u64(md, cfg.id);
	digest_u64(md, cfg.flags);
	digest_u64(md, cfg.block_size);
	digest_u64(md, cfg.level);
	EVP_DigestUpdate(md, &cfg.opt, sizeof(cfg.opt));
	digest_str(md, zlibVersion());
	digest_str(md, lzma_version_string());
	digest_str(md, ZSTD_versionString());
	digest_str(md, LIBDEFLATE_VERSION_STRING);
	digest_u64(md, (uint64_t)got);
	EVP_DigestUpdate(md, probe, (size_t)got);
	EVP_DigestFinal_ex(md, out, NULL);
out:
	EVP_MD_CTX_free(md);
	sqfs_destroy(copy);
	free(in);
	free(probe);
	return r;
}

/* ---- a build's session ---- */

struct aur_sqfs_reuse *aur_sqfs_reuse_new(const struct aur_sqfs_cache *cache,
					  const sqfs_compressor_t *cmp)
{
	struct aur_sqfs_reuse *s = calloc(1, sizeof(*s));
	sqfs_compressor_config_t cfg;

	if (!s)
		return NULL;
	memset(&cfg, 0, sizeof(cfg));
	cmp->get_configuration(cmp, &cfg);
	s->block_size = cfg.block_size;
	s->buf = malloc(s->block_size);
	if (!s->buf || settings_digest(cmp, s->settings) < 0) {
		free(s->buf);
		free(s);
		return NULL;
	}
	pthread_mutex_init(&s->lock, NULL);
	if (cache && (digest_cmp(cache->settings, s->settings) != 0 ||
		      cache->block_size != s->block_size))
		aur_info("squashfs cache '%s': made with other compressor "
			 "settings or libraries: not used",
			 cache->what);
	else
		s->cache = cache;
	return s;
}

void aur_sqfs_reuse_free(struct aur_sqfs_reuse *s)
{
	if (!s)
		return;
	pthread_mutex_destroy(&s->lock);
	free(s->notes);
	free(s->entries);
	free(s->buf);
	free(s);
}

static void count(atomic_uint_fast64_t *blocks, atomic_uint_fast64_t *bytes,
		  uint64_t n)
{
	atomic_fetch_add_explicit(blocks, 1, memory_order_relaxed);
	atomic_fetch_add_explicit(bytes, n, memory_order_relaxed);
}

/* Remember that the stored bytes with digest @stored hold @data. */
static int note(struct aur_sqfs_reuse *s, const uint8_t stored[DIGEST_LEN],
		const uint8_t data[DIGEST_LEN])
{
	int r = 0;

	pthread_mutex_lock(&s->lock);
	if (s->nnotes == s->notes_cap) {
		size_t cap = s->notes_cap ? 2 * s->notes_cap : 256;
		struct note *v = realloc(s->notes, cap * sizeof(*v));

		if (v) {
			s->notes = v;
			s->notes_cap = cap;
		} else {
			r = -ENOMEM;
		}
	}
	if (r == 0) {
		memcpy(s->notes[s->nnotes].stored, stored, DIGEST_LEN);
		memcpy(s->notes[s->nnotes].data, data, DIGEST_LEN);
		s->nnotes++;
	}
	pthread_mutex_unlock(&s->lock);
	return r;
}

static void refuse_entry(struct aur_sqfs_reuse *s,
			 const struct aur_sqfs_index_entry *e, const char *why)
{
	atomic_fetch_add_explicit(&s->refused, 1, memory_order_relaxed);
	pthread_mutex_lock(&s->lock);
	if (!s->refused_why) {
		s->refused_why = why;
		s->refused_at = e->offset;
	}
	pthread_mutex_unlock(&s->lock);
}

void aur_sqfs_reuse_stats(struct aur_sqfs_reuse *s,
			  struct aur_sqfs_cache_stats *out)
{
	memset(out, 0, sizeof(*out));
	if (!s)
		return;
	out->blocks_reused = atomic_load(&s->reused);
	out->bytes_reused = atomic_load(&s->reused_bytes);
	out->blocks_compressed = atomic_load(&s->compressed);
	out->bytes_compressed = atomic_load(&s->compressed_bytes);
	out->blocks_refused = atomic_load(&s->refused);
	if (out->blocks_refused && s->refused_why) {
		aur_warn("squashfs cache '%s': %llu blocks not reused: the one "
			 "at %llu: %s",
			 s->cache->what,
			 (unsigned long long)out->blocks_refused,
			 (unsigned long long)s->refused_at, s->refused_why);
		s->refused_why = NULL; /* said once */
	}
}

/* ---- the compressor the workers run ---- */

struct cache_cmp {
	struct aur_sqfs_wrapper w; /* inner: compresses what the cache lacks */
	struct aur_sqfs_reuse *s;
	sqfs_compressor_t *uncmp;
	uint8_t *buf; /* a cached block, decompressed */
};

/* Why the stored block @e cannot stand for @in compressed into @out, or
 * NULL (then @out holds it). */
static const char *check_compressed(struct cache_cmp *c,
				    const struct aur_sqfs_index_entry *e,
				    const uint8_t *in, uint32_t size,
				    uint8_t *out, uint32_t outsize)
{
	uint32_t stored = SQFS_ON_DISK_BLOCK_SIZE(e->size_word);
	uint8_t digest[DIGEST_LEN];
	sqfs_s32 got;

	if (stored >= size || stored > outsize)
		return "its stored size does not fit the block";
	if (aur_pread_full(c->s->cache->fd, out, stored, e->offset) !=
	    (ssize_t)stored)
		return "its stored bytes cannot be read";
	aur_sha256(out, stored, digest);
	if (digest_cmp(digest, e->stored_digest) != 0)
		return "its stored bytes do not match their digest";
	got = c->uncmp->do_block(c->uncmp, out, stored, c->buf,
				 c->s->block_size);
	if (got != (sqfs_s32)size || memcmp(c->buf, in, size) != 0)
		return "it does not decompress to the bytes it stands for";
	return NULL;
}

/* Why the block @e, stored as it is, cannot stand for @in, or NULL. */
static const char *check_uncompressed(struct cache_cmp *c,
				      const struct aur_sqfs_index_entry *e,
				      const uint8_t *in, uint32_t size)
{
	if (SQFS_ON_DISK_BLOCK_SIZE(e->size_word) != size)
		return "its stored size does not fit the block";
	if (aur_pread_full(c->s->cache->fd, c->buf, size, e->offset) !=
	    (ssize_t)size)
		return "its stored bytes cannot be read";
	if (memcmp(c->buf, in, size) != 0)
		return "its stored bytes are not the bytes it stands for";
	return NULL;
}

/* The cache's result for @in (digest @digest) into *@result: what
 * compressing it gives (0: not smaller, stored as it is). false when the
 * cache does not have it, or what it has does not check out. */
static bool from_cache(struct cache_cmp *c, const uint8_t digest[DIGEST_LEN],
		       const uint8_t *in, uint32_t size, uint8_t *out,
		       uint32_t outsize, sqfs_s32 *result)
{
	const struct aur_sqfs_index_entry *e =
		c->s->cache ? cache_lookup(c->s->cache, digest) : NULL;
	bool raw;
	const char *why;

	if (!e)
		return false;
	raw = e->size_word & UNCOMPRESSED_BIT;
	why = raw ? check_uncompressed(c, e, in, size)
		  : check_compressed(c, e, in, size, out, outsize);
	if (why) {
		refuse_entry(c->s, e, why);
		return false;
	}
	if (!raw && note(c->s, e->stored_digest, digest) < 0)
		return false;
	*result = raw ? 0 : (sqfs_s32)SQFS_ON_DISK_BLOCK_SIZE(e->size_word);
	count(&c->s->reused, &c->s->reused_bytes, size);
	return true;
}

static sqfs_s32 cached_do_block(sqfs_compressor_t *base, const sqfs_u8 *in,
				sqfs_u32 size, sqfs_u8 *out, sqfs_u32 outsize)
{
	struct cache_cmp *c = (struct cache_cmp *)base;
	uint8_t digest[DIGEST_LEN], stored[DIGEST_LEN];
	sqfs_s32 r;

	aur_sha256(in, size, digest);
	if (from_cache(c, digest, in, size, out, outsize, &r))
		return r;
	r = c->w.inner->do_block(c->w.inner, in, size, out, outsize);
	if (r < 0)
		return r;
	count(&c->s->compressed, &c->s->compressed_bytes, size);
	if (r > 0) {
		aur_sha256(out, (size_t)r, stored);
		if (note(c->s, stored, digest) < 0)
			return SQFS_ERROR_ALLOC;
	}
	return r;
}

static void cached_destroy(sqfs_object_t *obj)
{
	struct cache_cmp *c = (struct cache_cmp *)obj;

	aur_sqfs_wrapper_fini(&c->w);
	sqfs_destroy(c->uncmp);
	free(c->buf);
	free(c);
}

static sqfs_object_t *cached_copy(const sqfs_object_t *obj)
{
	const struct cache_cmp *c = (const struct cache_cmp *)obj;

	return (sqfs_object_t *)aur_sqfs_reuse_compressor(c->s, c->w.inner,
							  c->uncmp);
}

sqfs_compressor_t *aur_sqfs_reuse_compressor(struct aur_sqfs_reuse *s,
					     const sqfs_compressor_t *cmp,
					     const sqfs_compressor_t *uncmp)
{
	struct cache_cmp *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	aur_sqfs_wrapper_init(&c->w, sqfs_copy(cmp), cached_do_block,
			      cached_copy, cached_destroy);
	c->s = s;
	c->uncmp = sqfs_copy(uncmp);
	c->buf = malloc(s->block_size);
	if (!c->w.inner || !c->uncmp || !c->buf) {
		cached_destroy(&c->w.base.base);
		return NULL;
	}
	return &c->w.base;
}

/* ---- the new image's index ---- */

static int note_cmp(const void *a, const void *b)
{
	return digest_cmp(((const struct note *)a)->stored,
			  ((const struct note *)b)->stored);
}

static int note_key_cmp(const void *key, const void *elem)
{
	return digest_cmp(key, ((const struct note *)elem)->stored);
}

static int add_entry(struct aur_sqfs_reuse *s,
		     const struct aur_sqfs_index_entry *e)
{
	if (s->nentries == s->entries_cap) {
		size_t cap = s->entries_cap ? 2 * s->entries_cap : 256;
		struct aur_sqfs_index_entry *v =
			realloc(s->entries, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		s->entries = v;
		s->entries_cap = cap;
	}
	s->entries[s->nentries++] = *e;
	return 0;
}

int aur_sqfs_reuse_add_block(struct aur_sqfs_reuse *s, int fd, uint64_t offset,
			     uint32_t size_word)
{
	struct aur_sqfs_index_entry e = {.offset = offset,
					 .size_word = size_word};
	uint32_t stored = SQFS_ON_DISK_BLOCK_SIZE(size_word);
	const struct note *n;
	ssize_t got;

	if (!s->notes_sorted) {
		qsort(s->notes, s->nnotes, sizeof(*s->notes), note_cmp);
		s->notes_sorted = true;
	}
	if (stored == 0 || stored > s->block_size)
		return -EINVAL;
	got = aur_pread_full(fd, s->buf, stored, offset);
	if (got < 0)
		return (int)got;
	if ((size_t)got != stored)
		return -EIO;
	aur_sha256(s->buf, stored, e.stored_digest);
	if (size_word & UNCOMPRESSED_BIT) {
		memcpy(e.data_digest, e.stored_digest, DIGEST_LEN);
		return add_entry(s, &e);
	}
	n = bsearch(e.stored_digest, s->notes, s->nnotes, sizeof(*s->notes),
		    note_key_cmp);
	if (!n)
		return 0;
	memcpy(e.data_digest, n->data, DIGEST_LEN);
	return add_entry(s, &e);
}

/* By data digest, then by place: of two blocks alike, the first stays. */
static int entry_cmp(const void *a, const void *b)
{
	const struct aur_sqfs_index_entry *x = a, *y = b;
	int c = digest_cmp(x->data_digest, y->data_digest);

	if (c)
		return c;
	return x->offset < y->offset ? -1 : x->offset > y->offset;
}

int aur_sqfs_reuse_index(struct aur_sqfs_reuse *s, uint64_t image_size,
			 struct aur_sqfs_index *out)
{
	struct aur_sqfs_index_header h = {0};
	struct aur_sqfs_index_entry *v;
	size_t n = 0;

	qsort(s->entries, s->nentries, sizeof(*s->entries), entry_cmp);
	for (size_t i = 0; i < s->nentries; i++) {
		if (n > 0 && digest_cmp(s->entries[n - 1].data_digest,
					s->entries[i].data_digest) == 0)
			continue;
		s->entries[n] = s->entries[i];
		entry_to_le(&s->entries[n]);
		n++;
	}
	if (n > UINT32_MAX)
		return -EOVERFLOW;
	out->len = sizeof(h) + n * sizeof(*s->entries);
	out->data = malloc(out->len);
	if (!out->data)
		return -ENOMEM;
	v = (struct aur_sqfs_index_entry *)(out->data + sizeof(h));
	memcpy(v, s->entries, n * sizeof(*v));
	memcpy(h.magic, AUR_SQFS_INDEX_MAGIC, sizeof(h.magic));
	memcpy(h.settings, s->settings, DIGEST_LEN);
	aur_sha256(v, n * sizeof(*v), h.entries_digest);
	h.image_size = htole64(image_size);
	h.block_size = htole32(s->block_size);
	h.entry_count = htole32((uint32_t)n);
	memcpy(out->data, &h, sizeof(h));
	return 0;
}
