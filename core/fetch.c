// SPDX-License-Identifier: GPL-2.0-or-later
#include <aurora/fetch.h>
#include <aurora/util.h>

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>

#define USER_AGENT "aurorafs/" AURORAFS_VERSION

static pthread_key_t handle_key;

static void handle_destroy(void *h)
{
	curl_easy_cleanup(h);
}

int aur_fetch_global_init(void)
{
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		return -EIO;
	if (pthread_key_create(&handle_key, handle_destroy) != 0)
		return -ENOMEM;
	return 0;
}

void aur_fetch_global_cleanup(void)
{
	CURL *h = pthread_getspecific(handle_key);

	if (h) {
		curl_easy_cleanup(h);
		pthread_setspecific(handle_key, NULL);
	}
	curl_global_cleanup();
}

bool aur_is_url(const char *s)
{
	return aur_startswith(s, "http://") || aur_startswith(s, "https://") ||
	       aur_startswith(s, "file://");
}

static bool is_file_url(const char *url)
{
	return aur_startswith(url, "file://");
}

/* The calling thread's handle in *@out, reset to our defaults. Fills @err
 * on failure. */
static int thread_handle(const char *url, CURL **out,
			 char err[AUR_FETCH_ERRLEN])
{
	CURL *h = pthread_getspecific(handle_key);

	if (h) {
		curl_easy_reset(h);
	} else {
		h = curl_easy_init();
		if (!h || pthread_setspecific(handle_key, h) != 0) {
			curl_easy_cleanup(h);
			snprintf(err, AUR_FETCH_ERRLEN,
				 "'%s': out of memory for a curl handle", url);
			return -ENOMEM;
		}
	}
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 1L);
	curl_easy_setopt(h, CURLOPT_MAXREDIRS, 10L);
	curl_easy_setopt(h, CURLOPT_USERAGENT, USER_AGENT);
	curl_easy_setopt(h, CURLOPT_FAILONERROR, 1L);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, 15L);
	/* a stalled transfer (under 1 KiB/s for 30 s) is a failed one */
	curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1024L);
	curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, 30L);
	/* never go on without the protocol limits: a redirect to file://
	 * would read local files */
	if (curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https,file") !=
		    CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS_STR, "http,https") !=
		    CURLE_OK) {
		snprintf(err, AUR_FETCH_ERRLEN,
			 "'%s': libcurl cannot limit the protocols to http, "
			 "https and file",
			 url);
		return -EIO;
	}
	*out = h;
	return 0;
}

/* The calling thread's handle, set up for @url; libcurl copies the
 * strings it is given, which can fail. */
static int start(const char *url, char *curl_err, CURL **out,
		 char err[AUR_FETCH_ERRLEN])
{
	int r = thread_handle(url, out, err);

	if (r < 0)
		return r;
	curl_easy_setopt(*out, CURLOPT_ERRORBUFFER, curl_err);
	if (curl_easy_setopt(*out, CURLOPT_URL, url) != CURLE_OK) {
		snprintf(err, AUR_FETCH_ERRLEN, "'%s': out of memory", url);
		return -ENOMEM;
	}
	return 0;
}

/* libcurl says how long a failed attempt took ("... port 80 after 3 ms:
 * ..."): leave that out of @s, so that the same failure gives the same
 * message and the log can say it once. */
static void drop_elapsed(char *s)
{
	static const char *const units[] = {" ms", " milliseconds"};
	char *p = s;

	while ((p = strstr(p, " after "))) {
		char *end = p + strlen(" after ");
		size_t digits = strspn(end, "0123456789");

		for (size_t i = 0; digits && i < AUR_ARRAY_SIZE(units); i++) {
			if (aur_startswith(end + digits, units[i])) {
				end += digits + strlen(units[i]);
				memmove(p, end, strlen(end) + 1);
				break;
			}
		}
		if (*p == ' ')
			p++;
	}
}

/* Translate a failed transfer into an errno and a message. */
static int fail(CURL *h, CURLcode rc, const char *url, const char *curl_err,
		char err[AUR_FETCH_ERRLEN])
{
	char reason[CURL_ERROR_SIZE];
	long code = 0;

	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
	if (rc == CURLE_HTTP_RETURNED_ERROR) {
		snprintf(err, AUR_FETCH_ERRLEN, "'%s': HTTP %ld", url, code);
		if (code == 404 || code == 410)
			return -ENOENT;
		if (code == 401 || code == 403)
			return -EACCES;
		return -EIO;
	}
	snprintf(reason, sizeof(reason), "%s",
		 curl_err[0] ? curl_err : curl_easy_strerror(rc));
	drop_elapsed(reason);
	snprintf(err, AUR_FETCH_ERRLEN, "'%s': %s", url, reason);
	if (rc == CURLE_OUT_OF_MEMORY)
		return -ENOMEM;
	if (rc == CURLE_FILE_COULDNT_READ_FILE)
		return -ENOENT;
	return -EIO;
}

/* Every failure carries a reason: one that has none yet (a path that forgot
 * it) gets the errno's. */
static int done(int r, const char *url, char err[AUR_FETCH_ERRLEN])
{
	if (r < 0 && !err[0])
		snprintf(err, AUR_FETCH_ERRLEN, "'%s': %s", url, strerror(-r));
	return r;
}

/* ---- probe ---- */

struct probe {
	struct aur_remote_info *info;
	bool have_range; /* Content-Range seen */
	uint64_t length; /* Content-Length of the last response */
	long status;
	bool body_refused; /* we stopped a full-body answer */
};

static void copy_header_value(char *dst, size_t n, const char *v, size_t len)
{
	while (len > 0 &&
	       (v[len - 1] == '\r' || v[len - 1] == '\n' || v[len - 1] == ' '))
		len--;
	while (len > 0 && *v == ' ') {
		v++;
		len--;
	}
	if (len >= n)
		len = n - 1;
	memcpy(dst, v, len);
	dst[len] = '\0';
}

static size_t probe_header(char *b, size_t size, size_t nmemb, void *ctx)
{
	struct probe *p = ctx;
	size_t n = size * nmemb;
	char val[256];

	if (n >= 5 && strncmp(b, "HTTP/", 5) == 0) {
		/* a new response (after a redirect): forget the last one */
		struct aur_remote_info *info = p->info;

		memset(info, 0, sizeof(*info));
		p->have_range = false;
		p->length = 0;
		return n;
	}
	if (n > 14 && strncasecmp(b, "Content-Range:", 14) == 0) {
		const char *slash = memchr(b, '/', n);
		uint64_t total;

		copy_header_value(val, sizeof(val), slash ? slash + 1 : "",
				  slash ? n - (size_t)(slash + 1 - b) : 0);
		if (slash && aur_parse_u64(val, &total) == 0) {
			p->info->size = total;
			p->have_range = true;
		}
	} else if (n > 15 && strncasecmp(b, "Content-Length:", 15) == 0) {
		copy_header_value(val, sizeof(val), b + 15, n - 15);
		if (aur_parse_u64(val, &p->length) < 0)
			p->length = 0;
	} else if (n > 5 && strncasecmp(b, "ETag:", 5) == 0) {
		copy_header_value(p->info->etag, sizeof(p->info->etag), b + 5,
				  n - 5);
	} else if (n > 14 && strncasecmp(b, "Last-Modified:", 14) == 0) {
		copy_header_value(val, sizeof(val), b + 14, n - 14);
		p->info->mtime = curl_getdate(val, NULL);
		if (p->info->mtime < 0)
			p->info->mtime = 0;
	}
	return n;
}

static size_t probe_body(char *b, size_t size, size_t nmemb, void *ctx)
{
	struct probe *p = ctx;

	if (p->have_range)
		return size * nmemb; /* the one byte we asked for */
	p->body_refused = true; /* a whole file: stop it */
	return 0;
}

static int probe_file(CURL *h, const char *url, const char *curl_err,
		      struct aur_remote_info *info, char err[AUR_FETCH_ERRLEN])
{
	curl_off_t len = -1;
	long filetime = -1;
	CURLcode rc;

	curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
	curl_easy_setopt(h, CURLOPT_FILETIME, 1L);
	rc = curl_easy_perform(h);
	if (rc != CURLE_OK)
		return fail(h, rc, url, curl_err, err);
	curl_easy_getinfo(h, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &len);
	curl_easy_getinfo(h, CURLINFO_FILETIME, &filetime);
	if (len < 0) {
		snprintf(err, AUR_FETCH_ERRLEN, "'%s': not a regular file",
			 url);
		return -EIO;
	}
	info->size = (uint64_t)len;
	info->mtime = filetime > 0 ? (time_t)filetime : 0;
	info->ranges = true;
	return 0;
}

static int fetch_probe(const char *url, struct aur_remote_info *info,
		       char err[AUR_FETCH_ERRLEN])
{
	char curl_err[CURL_ERROR_SIZE] = "";
	struct probe p = {.info = info};
	CURL *h;
	CURLcode rc;
	int r;

	memset(info, 0, sizeof(*info));
	r = start(url, curl_err, &h, err);
	if (r < 0)
		return r;
	if (is_file_url(url))
		return probe_file(h, url, curl_err, info, err);
	/* A one-byte GET rather than HEAD: signed storage URLs that GitHub
	 * redirects to are valid for GET only. */
	rc = curl_easy_setopt(h, CURLOPT_RANGE, "0-0");
	if (rc != CURLE_OK)
		return fail(h, rc, url, curl_err, err);
	curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, probe_header);
	curl_easy_setopt(h, CURLOPT_HEADERDATA, &p);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, probe_body);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &p);
	rc = curl_easy_perform(h);
	if (rc != CURLE_OK && !(rc == CURLE_WRITE_ERROR && p.body_refused))
		return fail(h, rc, url, curl_err, err);
	if (p.have_range) {
		info->ranges = true;
	} else {
		/* 200 for the whole file: the server ignores ranges */
		info->size = p.length;
		info->ranges = false;
		if (p.length == 0 && !p.body_refused) {
			/* an empty body without Content-Range: empty file */
			info->ranges = true;
		}
	}
	return 0;
}

int aur_fetch_probe(const char *url, struct aur_remote_info *info,
		    char err[AUR_FETCH_ERRLEN])
{
	err[0] = '\0';
	return done(fetch_probe(url, info, err), url, err);
}

/* ---- range transfers ---- */

struct range_xfer {
	CURL *h;
	aur_fetch_sink sink;
	void *ctx;
	uint64_t off, want, got;
	bool checked; /* the response status was looked at */
	bool enough; /* a whole-file answer gave us all we wanted */
	int sink_err;
};

static size_t range_body(char *b, size_t size, size_t nmemb, void *ctx)
{
	struct range_xfer *x = ctx;
	size_t n = size * nmemb;
	int r;

	if (!x->checked) {
		long code = 0;

		curl_easy_getinfo(x->h, CURLINFO_RESPONSE_CODE, &code);
		x->checked = true;
		/* 200 is fine only if it starts where we want (offset 0) */
		if (code == 200 && x->off != 0) {
			x->sink_err = -ESTALE;
			return 0;
		}
	}
	if (n > x->want - x->got) {
		n = (size_t)(x->want - x->got);
		x->enough = true;
	}
	if (n > 0) {
		r = x->sink(x->ctx, b, n);
		if (r < 0) {
			x->sink_err = r;
			return 0;
		}
		x->got += n;
	}
	return x->enough ? 0 : size * nmemb;
}

/* The message for a transfer stopped by range_body. */
static void range_sink_error(int r, const char *url, char err[AUR_FETCH_ERRLEN])
{
	if (r == -ESTALE)
		snprintf(err, AUR_FETCH_ERRLEN,
			 "'%s': the server sent the whole file for a byte "
			 "range (changed upstream, or no range support)",
			 url);
	else
		snprintf(err, AUR_FETCH_ERRLEN, "'%s': %s", url, strerror(-r));
}

/* The If-Range header list for @etag in *@hdrs (NULL for none). */
static int if_range_header(const char *url, const char *etag,
			   struct curl_slist **hdrs, char err[AUR_FETCH_ERRLEN])
{
	char *line;

	*hdrs = NULL;
	if (!etag || !*etag || is_file_url(url))
		return 0;
	line = aur_printf("If-Range: %s", etag);
	if (line)
		*hdrs = curl_slist_append(NULL, line);
	free(line);
	if (!*hdrs) {
		snprintf(err, AUR_FETCH_ERRLEN, "'%s': out of memory", url);
		return -ENOMEM;
	}
	return 0;
}

static int fetch_range(const char *url, uint64_t off, uint64_t len,
		       const char *etag, aur_fetch_sink sink, void *ctx,
		       char err[AUR_FETCH_ERRLEN])
{
	char curl_err[CURL_ERROR_SIZE] = "";
	struct range_xfer x = {
		.sink = sink, .ctx = ctx, .off = off, .want = len};
	struct curl_slist *hdrs;
	char range[64];
	CURLcode rc;
	int r;

	if (len == 0)
		return 0;
	r = start(url, curl_err, &x.h, err);
	if (r < 0)
		return r;
	r = if_range_header(url, etag, &hdrs, err);
	if (r < 0)
		return r;
	snprintf(range, sizeof(range), "%" PRIu64 "-%" PRIu64, off,
		 off + len - 1);
	rc = curl_easy_setopt(x.h, CURLOPT_RANGE, range);
	curl_easy_setopt(x.h, CURLOPT_WRITEFUNCTION, range_body);
	curl_easy_setopt(x.h, CURLOPT_WRITEDATA, &x);
	curl_easy_setopt(x.h, CURLOPT_BUFFERSIZE, 256L * 1024);
	curl_easy_setopt(x.h, CURLOPT_HTTPHEADER, hdrs);
	if (rc == CURLE_OK)
		rc = curl_easy_perform(x.h);
	if (x.sink_err) {
		r = x.sink_err;
		range_sink_error(r, url, err);
	} else if (rc != CURLE_OK && !(rc == CURLE_WRITE_ERROR && x.enough)) {
		r = fail(x.h, rc, url, curl_err, err);
	} else if (x.got != len) {
		snprintf(err, AUR_FETCH_ERRLEN,
			 "'%s': transfer ended after %" PRIu64 " of %" PRIu64
			 " bytes",
			 url, x.got, len);
		r = -EIO;
	}
	/* never leave a header list pointer behind in the reused handle */
	curl_easy_setopt(x.h, CURLOPT_HTTPHEADER, NULL);
	curl_slist_free_all(hdrs);
	return r;
}

int aur_fetch_range(const char *url, uint64_t off, uint64_t len,
		    const char *etag, aur_fetch_sink sink, void *ctx,
		    char err[AUR_FETCH_ERRLEN])
{
	err[0] = '\0';
	return done(fetch_range(url, off, len, etag, sink, ctx, err), url, err);
}

/* ---- whole documents ---- */

struct doc {
	char *p; /* NUL-terminated once anything was added */
	size_t n, max;
	bool too_big;
	bool no_memory;
};

/* Append @n bytes of @b to @d. */
static int doc_add(struct doc *d, const char *b, size_t n)
{
	char *q;

	if (d->n + n > d->max) {
		d->too_big = true;
		return -EFBIG;
	}
	q = realloc(d->p, d->n + n + 1);
	if (!q) {
		d->no_memory = true;
		return -ENOMEM;
	}
	d->p = q;
	memcpy(d->p + d->n, b, n);
	d->n += n;
	d->p[d->n] = '\0';
	return 0;
}

static size_t doc_body(char *b, size_t size, size_t nmemb, void *ctx)
{
	size_t n = size * nmemb;

	return doc_add(ctx, b, n) < 0 ? 0 : n;
}

static int fetch_all(const char *url, struct doc *d, char err[AUR_FETCH_ERRLEN])
{
	char curl_err[CURL_ERROR_SIZE] = "";
	CURL *h;
	CURLcode rc;
	int r;

	r = start(url, curl_err, &h, err);
	if (r < 0)
		return r;
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, doc_body);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, d);
	rc = curl_easy_perform(h);
	if (d->too_big) {
		snprintf(err, AUR_FETCH_ERRLEN, "'%s': larger than %zu bytes",
			 url, d->max);
		return -EFBIG;
	}
	if (rc == CURLE_OK && !d->p)
		doc_add(d, "", 0); /* an empty document */
	if (d->no_memory) {
		snprintf(err, AUR_FETCH_ERRLEN, "'%s': out of memory", url);
		return -ENOMEM;
	}
	if (rc != CURLE_OK)
		return fail(h, rc, url, curl_err, err);
	return 0;
}

int aur_fetch_all(const char *url, size_t max, char **buf, size_t *len,
		  char err[AUR_FETCH_ERRLEN])
{
	struct doc d = {.max = max};
	int r;

	err[0] = '\0';
	r = done(fetch_all(url, &d, err), url, err);
	if (r < 0) {
		free(d.p);
		return r;
	}
	*buf = d.p;
	*len = d.n;
	return 0;
}
