// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The layer store: layers kept uncompressed under their diff_id, so that
 * a file's data is a range of a stored tar and nothing is ever extracted.
 *
 * One pass per layer: the blob's bytes arrive in order (from curl's write
 * callback, or read from a local file), are hashed as they are (the blob
 * digest), decompressed and hashed again (the diff_id) on their way to a
 * temporary file. zlib and libzstd are used directly rather than
 * libarchive's raw reader because their push APIs take bytes as curl
 * hands them over: libarchive pulls, which would need a thread or a
 * spooled copy of the compressed blob. The format is sniffed from the
 * first bytes (gzip 1f 8b, zstd 28 b5 2f fd, else a plain tar), as
 * registries' media types are not always right.
 *
 * Only when both digests match is the file fsynced and renamed to its
 * final name, so a file under that name is complete and verified; a
 * failure unlinks the temporary file. Writers of one layer serialise on
 * flock(2) of <hex>.lock: the second waits, then finds the layer stored.
 */
#include "oci_i.h"

#include <aurora/log.h>
#include <aurora/util.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/evp.h>
#include <zlib.h>
#include <zstd.h>

#define OUT_BUF (1u << 20) /* bytes written to the tar at a time */
#define STEP_BUF (256u << 10) /* decompressor output per call */
#define PROGRESS_STEP (1u << 20)

enum comp { COMP_UNKNOWN, COMP_NONE, COMP_GZIP, COMP_ZSTD };

struct aur_oci_ingest {
	int fd;
	EVP_MD_CTX *blob_md, *tar_md;
	enum comp comp;
	uint8_t head[4]; /* the first bytes, until the format is known */
	size_t nhead;
	z_stream z;
	bool z_ready;
	bool ended; /* the last gzip member or zstd frame is complete */
	ZSTD_DStream *zd;
	uint8_t *out; /* pending output */
	size_t nout;
	uint8_t *step;
	uint64_t in_bytes, written;
	struct aur_oci_progress *prog;
	uint64_t prog_base, prog_next;
	char *err; /* AUR_OCI_ERRLEN */
};

static int digest_of(EVP_MD_CTX *md, char out[AUR_OCI_DIGEST_LEN])
{
	unsigned char d[32];
	char hex[65];

	if (!EVP_DigestFinal_ex(md, d, NULL))
		return -ENOMEM;
	aur_sha256_hex(d, hex);
	snprintf(out, AUR_OCI_DIGEST_LEN, "sha256:%s", hex);
	return 0;
}

static void report(struct aur_oci_ingest *in, bool last)
{
	struct aur_oci_progress *p = in->prog;

	if (!p || !p->fn)
		return;
	p->done = in->prog_base + in->in_bytes;
	if (last || p->done >= in->prog_next) {
		p->fn(p->ctx, p->done, p->total);
		in->prog_next = p->done + PROGRESS_STEP;
	}
}

static int flush_out(struct aur_oci_ingest *in)
{
	int r;

	if (in->nout == 0)
		return 0;
	r = aur_pwrite_full(in->fd, in->out, in->nout, in->written);
	if (r < 0) {
		snprintf(in->err, AUR_OCI_ERRLEN, "writing the layer: %s",
			 strerror(-r));
		return r;
	}
	in->written += in->nout;
	in->nout = 0;
	return 0;
}

/* Uncompressed bytes: hash and queue them for the file. */
static int emit(struct aur_oci_ingest *in, const uint8_t *p, size_t n)
{
	EVP_DigestUpdate(in->tar_md, p, n);
	while (n > 0) {
		size_t k = AUR_MIN(n, OUT_BUF - in->nout);
		int r;

		memcpy(in->out + in->nout, p, k);
		in->nout += k;
		p += k;
		n -= k;
		if (in->nout == OUT_BUF) {
			r = flush_out(in);
			if (r < 0)
				return r;
		}
	}
	return 0;
}

static int corrupt(struct aur_oci_ingest *in, const char *what, const char *why)
{
	snprintf(in->err, AUR_OCI_ERRLEN, "corrupt %s stream: %s", what, why);
	return -EBADMSG;
}

static int gunzip(struct aur_oci_ingest *in, const uint8_t *p, size_t n)
{
	in->z.next_in = (Bytef *)p;
	in->z.avail_in = (uInt)n;
	while (in->z.avail_in > 0) {
		int zr, r;

		if (in->ended) {
			/* another member follows (pigz, concatenated gzip) */
			inflateReset(&in->z);
			in->ended = false;
		}
		in->z.next_out = in->step;
		in->z.avail_out = STEP_BUF;
		zr = inflate(&in->z, Z_NO_FLUSH);
		if (zr != Z_OK && zr != Z_STREAM_END && zr != Z_BUF_ERROR)
			return corrupt(in, "gzip",
				       in->z.msg ? in->z.msg
						 : "inflate failed");
		r = emit(in, in->step, STEP_BUF - in->z.avail_out);
		if (r < 0)
			return r;
		if (zr == Z_STREAM_END)
			in->ended = true;
		else if (zr == Z_BUF_ERROR && in->z.avail_out == STEP_BUF)
			break;
	}
	return 0;
}

static int unzstd(struct aur_oci_ingest *in, const uint8_t *p, size_t n)
{
	ZSTD_inBuffer src = {p, n, 0};

	for (;;) {
		ZSTD_outBuffer dst = {in->step, STEP_BUF, 0};
		size_t zr = ZSTD_decompressStream(in->zd, &dst, &src);
		int r;

		if (ZSTD_isError(zr))
			return corrupt(in, "zstd", ZSTD_getErrorName(zr));
		r = emit(in, in->step, dst.pos);
		if (r < 0)
			return r;
		in->ended = zr == 0;
		if (src.pos == src.size && dst.pos < dst.size)
			return 0;
	}
}

static int decode(struct aur_oci_ingest *in, const uint8_t *p, size_t n)
{
	switch (in->comp) {
	case COMP_GZIP:
		return gunzip(in, p, n);
	case COMP_ZSTD:
		return unzstd(in, p, n);
	default:
		return emit(in, p, n);
	}
}

/* Decide the format from the first bytes (@n of them are known). */
static int sniff(struct aur_oci_ingest *in)
{
	static const uint8_t gz[] = {0x1f, 0x8b},
			     zs[] = {0x28, 0xb5, 0x2f, 0xfd};

	if (in->nhead >= 2 && memcmp(in->head, gz, 2) == 0) {
		in->comp = COMP_GZIP;
		if (inflateInit2(&in->z, 16 + MAX_WBITS) != Z_OK)
			return -ENOMEM;
		in->z_ready = true;
	} else if (in->nhead >= 4 && memcmp(in->head, zs, 4) == 0) {
		in->comp = COMP_ZSTD;
		in->zd = ZSTD_createDStream();
		if (!in->zd)
			return -ENOMEM;
	} else {
		in->comp = COMP_NONE;
		in->ended = true;
	}
	return decode(in, in->head, in->nhead);
}

static int ingest_sink(void *ctx, const void *buf, size_t len)
{
	struct aur_oci_ingest *in = ctx;
	const uint8_t *p = buf;
	int r;

	EVP_DigestUpdate(in->blob_md, p, len);
	in->in_bytes += len;
	report(in, false);
	if (in->comp == COMP_UNKNOWN) {
		size_t k = AUR_MIN(len, sizeof(in->head) - in->nhead);

		memcpy(in->head + in->nhead, p, k);
		in->nhead += k;
		p += k;
		len -= k;
		if (in->nhead < sizeof(in->head))
			return 0;
		r = sniff(in);
		if (r < 0)
			return r;
	}
	return len ? decode(in, p, len) : 0;
}

/* ---- paths and locks ---- */

static char *layer_path(const char *state_dir, const char *diff_id,
			const char *suffix)
{
	return aur_printf("%s/layers/%s%s", state_dir, diff_id + 7, suffix);
}

int aur_oci_store_lookup(const char *state_dir, const char *diff_id,
			 struct aur_oci_layer *layer)
{
	char *path;
	struct stat st;

	if (!aur_oci_digest_valid(diff_id))
		return -EINVAL;
	path = layer_path(state_dir, diff_id, ".tar");
	if (!path)
		return -ENOMEM;
	if (stat(path, &st) < 0 || !S_ISREG(st.st_mode)) {
		free(path);
		return -ENOENT;
	}
	snprintf(layer->diff_id, sizeof(layer->diff_id), "%s", diff_id);
	layer->path = path;
	layer->size = (uint64_t)st.st_size;
	return 0;
}

static int lock_layer(const char *state_dir, const char *diff_id)
{
	char *path = layer_path(state_dir, diff_id, ".lock");
	int fd;

	if (!path)
		return -ENOMEM;
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	free(path);
	if (fd < 0)
		return -errno;
	while (flock(fd, LOCK_EX) < 0) {
		if (errno != EINTR) {
			int e = -errno;

			close(fd);
			return e;
		}
	}
	return fd;
}

static int fsync_dir(const char *path)
{
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC), r = 0;

	if (fd < 0)
		return -errno;
	if (fsync(fd) < 0)
		r = -errno;
	close(fd);
	return r;
}

/* ---- one layer ---- */

static int ingest_init(struct aur_oci_ingest *in, int fd,
		       struct aur_oci_progress *prog, char *err)
{
	memset(in, 0, sizeof(*in));
	in->fd = fd;
	in->err = err;
	in->prog = prog;
	in->prog_base = prog ? prog->done : 0;
	in->blob_md = EVP_MD_CTX_new();
	in->tar_md = EVP_MD_CTX_new();
	in->out = malloc(OUT_BUF);
	in->step = malloc(STEP_BUF);
	if (!in->blob_md || !in->tar_md || !in->out || !in->step ||
	    !EVP_DigestInit_ex(in->blob_md, EVP_sha256(), NULL) ||
	    !EVP_DigestInit_ex(in->tar_md, EVP_sha256(), NULL))
		return -ENOMEM;
	return 0;
}

static void ingest_release(struct aur_oci_ingest *in)
{
	if (in->z_ready)
		inflateEnd(&in->z);
	ZSTD_freeDStream(in->zd);
	EVP_MD_CTX_free(in->blob_md);
	EVP_MD_CTX_free(in->tar_md);
	free(in->out);
	free(in->step);
}

/* The stream is over: the last frame must be complete, and both digests
 * must be the ones expected. */
static int ingest_finish(struct aur_oci_ingest *in, const char *blob_digest,
			 const char *diff_id)
{
	char got[AUR_OCI_DIGEST_LEN];
	int r;

	if (in->comp == COMP_UNKNOWN) {
		r = sniff(in);
		if (r < 0)
			return r;
	}
	if (!in->ended)
		return corrupt(in, in->comp == COMP_GZIP ? "gzip" : "zstd",
			       "truncated");
	r = flush_out(in);
	if (r < 0)
		return r;
	report(in, true);
	if (digest_of(in->blob_md, got) < 0)
		return -ENOMEM;
	if (blob_digest && strcmp(got, blob_digest) != 0) {
		snprintf(in->err, AUR_OCI_ERRLEN,
			 "blob digest mismatch: expected %s, got %s",
			 blob_digest, got);
		return -EBADMSG;
	}
	if (digest_of(in->tar_md, got) < 0)
		return -ENOMEM;
	if (strcmp(got, diff_id) != 0) {
		snprintf(in->err, AUR_OCI_ERRLEN,
			 "uncompressed layer does not match its diff_id: "
			 "expected %s, got %s",
			 diff_id, got);
		return -EBADMSG;
	}
	return 0;
}

/* Write the layer to @tmp through @feed; 0 once it is verified and
 * durable. */
static int write_layer(const char *tmp, const char *diff_id,
		       const char *blob_digest, aur_oci_feed_fn feed,
		       void *feed_ctx, struct aur_oci_progress *prog,
		       char err[AUR_OCI_ERRLEN])
{
	struct aur_oci_ingest in;
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	int r;

	if (fd < 0) {
		r = -errno;
		snprintf(err, AUR_OCI_ERRLEN, "cannot create '%s': %s", tmp,
			 strerror(-r));
		return r;
	}
	r = ingest_init(&in, fd, prog, err);
	if (r == 0)
		r = feed(feed_ctx, ingest_sink, &in, err);
	if (r == 0)
		r = ingest_finish(&in, blob_digest, diff_id);
	if (r == 0 && fsync(fd) < 0) {
		r = -errno;
		snprintf(err, AUR_OCI_ERRLEN, "fsync '%s': %s", tmp,
			 strerror(-r));
	}
	if (r < 0 && prog)
		prog->done = in.prog_base;
	ingest_release(&in);
	if (close(fd) < 0 && r == 0)
		r = -errno;
	return r;
}

int aur_oci_store_layer(const char *state_dir, const char *diff_id,
			const char *blob_digest, aur_oci_feed_fn feed,
			void *feed_ctx, struct aur_oci_progress *progress,
			struct aur_oci_layer *layer, bool *fetched,
			char err[AUR_OCI_ERRLEN])
{
	char *dir = NULL, *tmp = NULL, *final = NULL;
	int lock = -1, r;

	*fetched = false;
	if (!aur_oci_digest_valid(diff_id) ||
	    (blob_digest && !aur_oci_digest_valid(blob_digest))) {
		snprintf(err, AUR_OCI_ERRLEN, "bad digest");
		return -EINVAL;
	}
	if (aur_oci_store_lookup(state_dir, diff_id, layer) == 0)
		return 0;
	dir = aur_printf("%s/layers", state_dir);
	tmp = layer_path(state_dir, diff_id, ".tar.tmp");
	final = layer_path(state_dir, diff_id, ".tar");
	if (!dir || !tmp || !final) {
		r = -ENOMEM;
		goto out;
	}
	r = aur_mkdir_p(dir, 0755);
	if (r < 0) {
		snprintf(err, AUR_OCI_ERRLEN, "cannot create '%s': %s", dir,
			 strerror(-r));
		goto out;
	}
	lock = lock_layer(state_dir, diff_id);
	if (lock < 0) {
		r = lock;
		snprintf(err, AUR_OCI_ERRLEN, "cannot lock layer %s: %s",
			 diff_id, strerror(-r));
		goto out;
	}
	/* someone else may have stored it while we waited for the lock */
	if (aur_oci_store_lookup(state_dir, diff_id, layer) == 0) {
		r = 0;
		goto out;
	}
	*fetched = true;
	r = write_layer(tmp, diff_id, blob_digest, feed, feed_ctx, progress,
			err);
	if (r == 0 && rename(tmp, final) < 0) {
		r = -errno;
		snprintf(err, AUR_OCI_ERRLEN, "rename to '%s': %s", final,
			 strerror(-r));
	}
	if (r == 0)
		r = fsync_dir(dir);
	if (r == 0)
		r = aur_oci_store_lookup(state_dir, diff_id, layer);
	else
		unlink(tmp);
out:
	if (lock >= 0)
		close(lock); /* drops the flock */
	free(dir);
	free(tmp);
	free(final);
	return r;
}

/* ---- configs and resolutions ---- */

static char *config_path(const char *state_dir, const char *digest)
{
	return aur_printf("%s/oci/configs/%s.json", state_dir, digest + 7);
}

int aur_oci_store_config_get(const char *state_dir, const char *digest,
			     char **buf, size_t *len)
{
	AUR_AUTOFREE char *path = NULL;
	unsigned char d[32];
	char hex[65];
	int r;

	if (!aur_oci_digest_valid(digest))
		return -EINVAL;
	path = config_path(state_dir, digest);
	if (!path)
		return -ENOMEM;
	r = aur_read_file(path, AUR_OCI_CONFIG_MAX, buf, len);
	if (r < 0)
		return r;
	aur_sha256(*buf, *len, d);
	aur_sha256_hex(d, hex);
	if (strcmp(hex, digest + 7) != 0) {
		free(*buf);
		*buf = NULL;
		return -EBADMSG;
	}
	return 0;
}

int aur_oci_store_config_put(const char *state_dir, const char *digest,
			     const char *buf, size_t len)
{
	AUR_AUTOFREE char *dir = aur_printf("%s/oci/configs", state_dir);
	AUR_AUTOFREE char *path = NULL;
	struct stat st;
	int r;

	if (!dir || !aur_oci_digest_valid(digest))
		return dir ? -EINVAL : -ENOMEM;
	r = aur_mkdir_p(dir, 0755);
	if (r < 0)
		return r;
	path = config_path(state_dir, digest);
	if (!path)
		return -ENOMEM;
	/* named by its digest and written whole: one there is these bytes */
	if (stat(path, &st) == 0 && S_ISREG(st.st_mode) &&
	    (size_t)st.st_size == len)
		return 0;
	return aur_write_file_atomic(path, buf, len, 0644);
}

static char *ref_path(const char *state_dir, const char *key)
{
	unsigned char d[32];
	char hex[65];

	aur_sha256(key, strlen(key), d);
	aur_sha256_hex(d, hex);
	return aur_printf("%s/oci/refs/%s.json", state_dir, hex);
}

int aur_oci_store_ref_get(const char *state_dir, const char *key,
			  struct aur_oci_resolution *res)
{
	AUR_AUTOFREE char *path = ref_path(state_dir, key);
	AUR_AUTOFREE char *buf = NULL;
	const char *m, *c, *o, *k;
	json_t *root;
	size_t len;
	int r;

	if (!path)
		return -ENOMEM;
	r = aur_read_file(path, 64 << 10, &buf, &len);
	if (r < 0)
		return r;
	root = json_loadb(buf, len, 0, NULL);
	if (!root)
		return -EBADMSG;
	k = json_string_value(json_object_get(root, "key"));
	m = json_string_value(json_object_get(root, "manifest"));
	c = json_string_value(json_object_get(root, "config"));
	o = json_string_value(json_object_get(root, "origin"));
	r = -EBADMSG;
	if (k && strcmp(k, key) == 0 && m && c && o &&
	    (!*m || aur_oci_digest_valid(m)) && aur_oci_digest_valid(c)) {
		memset(res, 0, sizeof(*res));
		snprintf(res->manifest, sizeof(res->manifest), "%s", m);
		snprintf(res->config, sizeof(res->config), "%s", c);
		snprintf(res->origin, sizeof(res->origin), "%s", o);
		res->when = json_integer_value(json_object_get(root, "when"));
		r = 0;
	}
	json_decref(root);
	return r;
}

int aur_oci_store_ref_put(const char *state_dir, const char *key,
			  const struct aur_oci_resolution *res)
{
	AUR_AUTOFREE char *dir = aur_printf("%s/oci/refs", state_dir);
	AUR_AUTOFREE char *path = ref_path(state_dir, key);
	AUR_AUTOFREE char *text = NULL;
	struct aur_oci_resolution old;
	json_t *root;
	int r;

	if (!dir || !path)
		return -ENOMEM;
	/* the same resolution again: keep the file (and when it was first
	 * stored) rather than rewrite and fsync it at every mount */
	if (aur_oci_store_ref_get(state_dir, key, &old) == 0 &&
	    strcmp(old.manifest, res->manifest) == 0 &&
	    strcmp(old.config, res->config) == 0 &&
	    strcmp(old.origin, res->origin) == 0)
		return 0;
	r = aur_mkdir_p(dir, 0755);
	if (r < 0)
		return r;
	root = json_pack("{s:s, s:s, s:s, s:s, s:I}", "key", key, "manifest",
			 res->manifest, "config", res->config, "origin",
			 res->origin, "when", (json_int_t)time(NULL));
	text = root ? json_dumps(root, JSON_SORT_KEYS) : NULL;
	json_decref(root);
	if (!text)
		return -ENOMEM;
	return aur_write_file_atomic(path, text, strlen(text), 0644);
}
