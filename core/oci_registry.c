// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The OCI distribution API, read side, over libcurl:
 *
 *   GET /v2/                       ping: scheme, and the auth challenge
 *   GET <realm>?service=&scope=    anonymous or Basic-authenticated token
 *   GET /v2/<name>/manifests/<ref>
 *   GET /v2/<name>/blobs/<digest>  followed to storage hosts; libcurl
 *                                  sends our Authorization header only to
 *                                  the host (and port) it was set for
 *
 * One curl handle per client, so requests share a keep-alive connection.
 * Transient failures (connection refused or reset, timeouts, HTTP 408,
 * 429 and 5xx) are retried AUR_OCI_TRIES times with exponential backoff;
 * a blob transfer cut short resumes where it stopped (Range, or skipping
 * what the sink already has when the server sends it all again).
 */
#include "oci_i.h"

#include <aurora/log.h>
#include <aurora/util.h>

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <curl/curl.h>

#define ACCEPT                                                        \
	"Accept: application/vnd.oci.image.index.v1+json, "           \
	"application/vnd.docker.distribution.manifest.list.v2+json, " \
	"application/vnd.oci.image.manifest.v1+json, "                \
	"application/vnd.docker.distribution.manifest.v2+json, "      \
	"application/vnd.docker.distribution.manifest.v1+prettyjws;q=0.1"
#define ERROR_BODY_MAX (64u << 10)
#define BACKOFF_FACTOR 3
#define RETRY_AFTER_MAX_S 10
#define RESUME_ROUNDS 8

struct aur_oci_registry {
	CURL *h;
	char *host; /* where the API is: registry-1.docker.io, host:port */
	char *repo;
	char *base; /* "<scheme>://<host>", once pinged */
	bool insecure;
	char *creds; /* base64 user:password from the docker config */
	char *authz; /* the Authorization header we send, or NULL */
	struct aur_oci_challenge chal;
};

/* What one response said, besides its body. */
struct response {
	long status;
	char content_type[128];
	char challenge[AUR_OCI_HEADER_MAX]; /* Bearer preferred */
	uint64_t range_start; /* Content-Range: bytes N- */
	bool has_range;
	long retry_after;
	bool header_too_long;
};

/* Where the body goes. */
struct body {
	struct aur_oci_registry *r;
	struct response *resp;
	/* to memory (max bytes) ... */
	char *buf;
	size_t len, max;
	bool too_big;
	/* ... or to a sink, skipping bytes it already has */
	aur_fetch_sink sink;
	void *sink_ctx;
	uint64_t delivered, skip;
	bool started;
	int sink_err;
	size_t error_bytes;
};

/* ---- schemes ---- */

static bool is_loopback(const char *host)
{
	char name[256];
	size_t n;

	if (host[0] == '[') {
		n = strcspn(host + 1, "]");
		snprintf(name, sizeof(name), "%.*s", (int)n, host + 1);
	} else {
		n = strcspn(host, ":");
		snprintf(name, sizeof(name), "%.*s", (int)n, host);
	}
	return strcasecmp(name, "localhost") == 0 ||
	       strcmp(name, "127.0.0.1") == 0 || strcmp(name, "::1") == 0;
}

int aur_oci_schemes(const char *host, bool insecure, const char *out[2])
{
	out[0] = "https";
	if (insecure || is_loopback(host)) {
		out[1] = "http";
		return 2;
	}
	return 1;
}

/* ---- client ---- */

int aur_oci_registry_new(const struct aur_oci_ref *ref, bool insecure,
			 struct aur_oci_registry **out)
{
	struct aur_oci_registry *r = calloc(1, sizeof(*r));
	char *cfg;

	if (!r)
		return -ENOMEM;
	r->h = curl_easy_init();
	r->host = strdup(aur_oci_ref_api_host(ref));
	r->repo = strdup(ref->path);
	r->insecure = insecure;
	if (!r->h || !r->host || !r->repo) {
		aur_oci_registry_free(r);
		return -ENOMEM;
	}
	cfg = aur_oci_dockercfg_path();
	if (cfg && aur_oci_dockercfg_lookup(cfg, ref->domain, &r->creds) == 0)
		aur_debug("registry '%s': credentials from '%s'", ref->domain,
			  cfg);
	free(cfg);
	*out = r;
	return 0;
}

void aur_oci_registry_free(struct aur_oci_registry *r)
{
	if (!r)
		return;
	if (r->h)
		curl_easy_cleanup(r->h);
	free(r->host);
	free(r->repo);
	free(r->base);
	free(r->creds);
	free(r->authz);
	free(r);
}

/* ---- one request ---- */

static void header_value(const char *b, size_t n, size_t skip, char *out,
			 size_t outlen)
{
	const char *v = b + skip;
	size_t len = n - skip;

	while (len > 0 && (*v == ' ' || *v == '\t')) {
		v++;
		len--;
	}
	while (len > 0 &&
	       (v[len - 1] == '\r' || v[len - 1] == '\n' || v[len - 1] == ' '))
		len--;
	snprintf(out, outlen, "%.*s", (int)AUR_MIN(len, outlen - 1), v);
}

static size_t on_header(char *b, size_t size, size_t nmemb, void *ctx)
{
	struct response *resp = ctx;
	size_t n = size * nmemb;
	char val[64];

	if (n > AUR_OCI_HEADER_MAX) {
		resp->header_too_long = true;
		return 0;
	}
	if (n >= 5 && strncmp(b, "HTTP/", 5) == 0) {
		/* a new response (after a redirect) */
		memset(resp, 0, sizeof(*resp));
	} else if (n > 13 && strncasecmp(b, "Content-Type:", 13) == 0) {
		header_value(b, n, 13, resp->content_type,
			     sizeof(resp->content_type));
	} else if (n > 17 && strncasecmp(b, "WWW-Authenticate:", 17) == 0) {
		char v[AUR_OCI_HEADER_MAX];

		header_value(b, n, 17, v, sizeof(v));
		if (!resp->challenge[0] || strncasecmp(v, "Bearer", 6) == 0)
			snprintf(resp->challenge, sizeof(resp->challenge), "%s",
				 v);
	} else if (n > 14 && strncasecmp(b, "Content-Range:", 14) == 0) {
		uint64_t start;
		char *dash;

		header_value(b, n, 14, val, sizeof(val));
		dash = strchr(val, '-');
		if (aur_startswith(val, "bytes ") && dash) {
			*dash = '\0';
			if (aur_parse_u64(val + 6, &start) == 0) {
				resp->range_start = start;
				resp->has_range = true;
			}
		}
	} else if (n > 12 && strncasecmp(b, "Retry-After:", 12) == 0) {
		uint64_t s;

		header_value(b, n, 12, val, sizeof(val));
		if (aur_parse_u64(val, &s) == 0)
			resp->retry_after = (long)AUR_MIN(s, 3600);
	}
	return n;
}

static size_t on_body(char *p, size_t size, size_t nmemb, void *ctx)
{
	struct body *b = ctx;
	size_t n = size * nmemb, k;
	char *q;

	if (!b->started) {
		curl_easy_getinfo(b->r->h, CURLINFO_RESPONSE_CODE,
				  &b->resp->status);
		b->started = true;
		/* a whole blob again: drop what the sink already has */
		if (b->sink && b->resp->status == 200)
			b->skip = b->delivered;
		else if (b->sink && b->resp->status == 206)
			b->skip = b->resp->has_range && b->resp->range_start ==
								b->delivered
					  ? 0
					  : UINT64_MAX;
	}
	if (b->resp->status < 200 || b->resp->status >= 300) {
		b->error_bytes += n;
		return b->error_bytes > ERROR_BODY_MAX ? 0 : n;
	}
	if (!b->sink) {
		if (b->len + n > b->max) {
			b->too_big = true;
			return 0;
		}
		q = realloc(b->buf, b->len + n + 1);
		if (!q)
			return 0;
		b->buf = q;
		memcpy(b->buf + b->len, p, n);
		b->len += n;
		b->buf[b->len] = '\0';
		return n;
	}
	if (b->skip == UINT64_MAX) {
		b->sink_err = -EBADMSG;
		return 0;
	}
	k = (size_t)AUR_MIN((uint64_t)n, b->skip);
	b->skip -= k;
	if (n > k) {
		int r = b->sink(b->sink_ctx, p + k, n - k);

		if (r < 0) {
			b->sink_err = r;
			return 0;
		}
		b->delivered += n - k;
	}
	return n;
}

static bool transient_curl(CURLcode rc)
{
	switch (rc) {
	case CURLE_COULDNT_CONNECT:
	case CURLE_OPERATION_TIMEDOUT:
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR:
	case CURLE_GOT_NOTHING:
	case CURLE_PARTIAL_FILE:
	case CURLE_HTTP2:
	case CURLE_HTTP2_STREAM:
		return true;
	default:
		return false;
	}
}

static bool transient_status(long status)
{
	return status == 408 || status == 429 || status >= 500;
}

/* Perform a GET of @url with @hdrs. Returns the CURLcode; the response
 * and body are filled. */
static CURLcode perform(struct aur_oci_registry *r, const char *url,
			struct curl_slist *hdrs, struct body *b,
			char curl_err[CURL_ERROR_SIZE])
{
	CURL *h = r->h;
	bool plain = aur_startswith(url, "http://");
	CURLcode rc;

	curl_easy_reset(h);
	curl_err[0] = '\0';
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, curl_err);
	curl_easy_setopt(h, CURLOPT_USERAGENT, "aurorafs/" AURORAFS_VERSION);
	curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 1L);
	curl_easy_setopt(h, CURLOPT_MAXREDIRS, 5L);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	/* a TLS registry may not send us to plain HTTP storage */
	curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS_STR,
			 plain || r->insecure ? "http,https" : "https");
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, 15L);
	curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1024L);
	curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, 30L);
	curl_easy_setopt(h, CURLOPT_BUFFERSIZE, 256L * 1024);
	if (r->insecure) {
		curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
		curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
	}
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(h, CURLOPT_HEADERDATA, b->resp);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, b);
	memset(b->resp, 0, sizeof(*b->resp));
	b->started = false;
	b->error_bytes = 0;
	rc = curl_easy_perform(h);
	if (!b->started)
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &b->resp->status);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, NULL);
	return rc;
}

static void backoff(int attempt, long retry_after)
{
	long ms = AUR_OCI_BACKOFF_MS;
	struct timespec ts;

	for (int i = 0; i < attempt; i++)
		ms *= BACKOFF_FACTOR;
	if (retry_after > 0)
		ms = AUR_MIN(retry_after, RETRY_AFTER_MAX_S) * 1000;
	ts.tv_sec = ms / 1000;
	ts.tv_nsec = (ms % 1000) * 1000000;
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static int status_errno(long status)
{
	if (status == 401 || status == 403)
		return -EACCES;
	if (status == 404 || status == 410)
		return -ENOENT;
	return -EIO;
}

/*
 * GET @url with retries. @extra is one more header (Range, Accept) or
 * NULL. Returns 0 for a 2xx, else -errno with @err set; a 401 leaves
 * the challenge in @resp.
 */
static int get_tries(struct aur_oci_registry *r, const char *url,
		     const char *extra, struct body *b, int tries,
		     bool *transient, char err[AUR_OCI_ERRLEN])
{
	char curl_err[CURL_ERROR_SIZE];
	int ret = -EIO;

	*transient = false;
	for (int attempt = 0; attempt < tries; attempt++) {
		struct curl_slist *hdrs = NULL, *t;
		AUR_AUTOFREE char *range = NULL;
		CURLcode rc;

		if (r->authz && !(hdrs = curl_slist_append(NULL, r->authz)))
			return -ENOMEM;
		if (extra && (t = curl_slist_append(hdrs, extra)))
			hdrs = t;
		if (b->sink && b->delivered > 0) {
			range = aur_printf("Range: bytes=%" PRIu64 "-",
					   b->delivered);
			if (range && (t = curl_slist_append(hdrs, range)))
				hdrs = t;
		}
		rc = perform(r, url, hdrs, b, curl_err);
		curl_slist_free_all(hdrs);
		if (b->sink_err) {
			if (b->sink_err == -EBADMSG && b->skip == UINT64_MAX)
				snprintf(err, AUR_OCI_ERRLEN,
					 "'%s': resumed at the wrong offset",
					 url);
			return b->sink_err;
		}
		if (b->too_big) {
			snprintf(err, AUR_OCI_ERRLEN,
				 "'%s': larger than %zu bytes", url, b->max);
			return -EFBIG;
		}
		if (b->resp->header_too_long) {
			snprintf(err, AUR_OCI_ERRLEN,
				 "'%s': response header over %u bytes", url,
				 AUR_OCI_HEADER_MAX);
			return -EBADMSG;
		}
		if (rc == CURLE_OK && b->resp->status >= 200 &&
		    b->resp->status < 300)
			return 0;
		if (rc == CURLE_OK || (rc == CURLE_WRITE_ERROR &&
				       b->error_bytes > ERROR_BODY_MAX)) {
			snprintf(err, AUR_OCI_ERRLEN, "'%s': HTTP %ld", url,
				 b->resp->status);
			ret = status_errno(b->resp->status);
			*transient = transient_status(b->resp->status);
		} else {
			snprintf(err, AUR_OCI_ERRLEN, "'%s': %s", url,
				 curl_err[0] ? curl_err
					     : curl_easy_strerror(rc));
			/* offline (DNS) is -EIO too: the cached resolution
			 * applies */
			ret = -EIO;
			*transient = transient_curl(rc);
		}
		if (!*transient || attempt + 1 == tries)
			break;
		aur_debug("registry: %s; retrying", err);
		backoff(attempt, b->resp->retry_after);
	}
	return ret;
}

static int get(struct aur_oci_registry *r, const char *url, const char *extra,
	       struct body *b, char err[AUR_OCI_ERRLEN])
{
	bool transient;

	return get_tries(r, url, extra, b, AUR_OCI_TRIES, &transient, err);
}

/* ---- ping and tokens ---- */

/* One GET /v2/ per scheme: 0 once one answered (r->base set), 1 if all
 * failed and one of them may work later, else -errno. */
static int ping_round(struct aur_oci_registry *r, const char *schemes[2], int n,
		      int *ret, char err[AUR_OCI_ERRLEN])
{
	bool again = false, transient;
	struct response resp;

	for (int i = 0; i < n; i++) {
		AUR_AUTOFREE char *url =
			aur_printf("%s://%s/v2/", schemes[i], r->host);
		struct body b = {.r = r, .resp = &resp, .max = 1 << 16};

		if (!url)
			return -ENOMEM;
		*ret = get_tries(r, url, NULL, &b, 1, &transient, err);
		free(b.buf);
		again |= transient;
		/* any HTTP answer means we found the registry */
		if (*ret == 0 || resp.status >= 400) {
			r->base = aur_printf("%s://%s", schemes[i], r->host);
			if (!r->base)
				return -ENOMEM;
			if (resp.status == 401 &&
			    aur_oci_challenge_parse(resp.challenge, &r->chal) <
				    0) {
				snprintf(err, AUR_OCI_ERRLEN,
					 "'%s': unusable challenge '%.200s'",
					 url, resp.challenge);
				return -EACCES;
			}
			return 0;
		}
	}
	return again ? 1 : *ret;
}

/* Learn the scheme and the challenge from GET /v2/, trying every scheme
 * allowed in each round of retries. */
static int ping(struct aur_oci_registry *r, char err[AUR_OCI_ERRLEN])
{
	const char *schemes[2];
	int n = aur_oci_schemes(r->host, r->insecure, schemes), ret = -EIO;
	int k = 1;

	for (int attempt = 0; attempt < AUR_OCI_TRIES && k == 1; attempt++) {
		if (attempt > 0) {
			aur_debug("registry: %s; retrying", err);
			backoff(attempt - 1, 0);
		}
		k = ping_round(r, schemes, n, &ret, err);
	}
	if (k == 0)
		return 0;
	if (r->base)
		return k; /* it answered, with a challenge we cannot use */
	if (n == 1 && !r->insecure)
		snprintf(err + strlen(err), AUR_OCI_ERRLEN - strlen(err),
			 " (plain HTTP is used only for localhost or with "
			 "allow-insecure-registries)");
	return ret;
}

static int fetch_token(struct aur_oci_registry *r, char err[AUR_OCI_ERRLEN])
{
	AUR_AUTOFREE char *scope = aur_printf("repository:%s:pull", r->repo);
	AUR_AUTOFREE char *url = NULL, *basic = NULL;
	char *esc_service = NULL, *esc_scope = NULL, *token = NULL;
	struct response resp;
	struct body b = {.r = r, .resp = &resp, .max = AUR_OCI_TOKEN_MAX};
	char *saved = r->authz;
	int ret;

	if (!aur_startswith(r->chal.realm, "https://") &&
	    !aur_startswith(r->chal.realm, "http://")) {
		snprintf(err, AUR_OCI_ERRLEN,
			 "token realm '%.200s' is not a URL", r->chal.realm);
		return -EACCES;
	}
	esc_service = curl_easy_escape(r->h, r->chal.service, 0);
	esc_scope = scope ? curl_easy_escape(r->h, scope, 0) : NULL;
	if (esc_service && esc_scope)
		url = aur_printf("%s%sservice=%s&scope=%s", r->chal.realm,
				 strchr(r->chal.realm, '?') ? "&" : "?",
				 esc_service, esc_scope);
	curl_free(esc_service);
	curl_free(esc_scope);
	if (r->creds)
		basic = aur_printf("Authorization: Basic %s", r->creds);
	if (!url || (r->creds && !basic))
		return -ENOMEM;
	r->authz = basic;
	ret = get(r, url, NULL, &b, err);
	r->authz = saved;
	if (ret == -EACCES)
		snprintf(err + strlen(err), AUR_OCI_ERRLEN - strlen(err),
			 " (%s)",
			 r->creds ? "the registry refused the credentials"
				  : "no credentials for this registry");
	if (ret == 0 && aur_oci_token_parse(b.buf, b.len, &token) < 0) {
		snprintf(err, AUR_OCI_ERRLEN,
			 "'%s': no usable token in the answer", url);
		ret = -EACCES;
	}
	free(b.buf);
	if (ret < 0)
		return ret;
	free(r->authz);
	r->authz = aur_printf("Authorization: Bearer %s", token);
	free(token);
	return r->authz ? 0 : -ENOMEM;
}

/* Be ready to send requests: pinged, and authorised if the registry
 * asked for it. */
static int connect_registry(struct aur_oci_registry *r,
			    char err[AUR_OCI_ERRLEN])
{
	int ret;

	if (r->base)
		return 0;
	ret = ping(r, err);
	if (ret < 0)
		return ret;
	if (r->chal.scheme == AUR_OCI_AUTH_BEARER)
		return fetch_token(r, err);
	if (r->chal.scheme == AUR_OCI_AUTH_BASIC) {
		if (!r->creds) {
			snprintf(err, AUR_OCI_ERRLEN,
				 "registry '%s' wants credentials; none in "
				 "the docker config",
				 r->host);
			return -EACCES;
		}
		r->authz = aur_printf("Authorization: Basic %s", r->creds);
		return r->authz ? 0 : -ENOMEM;
	}
	return 0;
}

/* GET @path below /v2/<repo>/, authorising again once on a 401 (an
 * expired token). */
static int api_get(struct aur_oci_registry *r, const char *path,
		   const char *extra, struct body *b, char err[AUR_OCI_ERRLEN])
{
	AUR_AUTOFREE char *url = NULL;
	int ret = connect_registry(r, err);

	if (ret < 0)
		return ret;
	url = aur_printf("%s/v2/%s/%s", r->base, r->repo, path);
	if (!url)
		return -ENOMEM;
	ret = get(r, url, extra, b, err);
	if (ret == -EACCES && b->resp->status == 401 &&
	    aur_oci_challenge_parse(b->resp->challenge, &r->chal) == 0 &&
	    r->chal.scheme == AUR_OCI_AUTH_BEARER && b->delivered == 0) {
		ret = fetch_token(r, err);
		if (ret == 0)
			ret = get(r, url, extra, b, err);
	}
	if (ret == -EACCES)
		snprintf(err + strlen(err), AUR_OCI_ERRLEN - strlen(err),
			 " (%s)",
			 r->creds ? "the registry refused the credentials"
				  : "no credentials for this registry");
	return ret;
}

static void sha256_digest(const char *buf, size_t len,
			  char out[AUR_OCI_DIGEST_LEN])
{
	unsigned char d[32];
	char hex[65];

	aur_sha256(buf, len, d);
	aur_sha256_hex(d, hex);
	snprintf(out, AUR_OCI_DIGEST_LEN, "sha256:%s", hex);
}

int aur_oci_registry_manifest(struct aur_oci_registry *r, const char *reference,
			      char **buf, size_t *len, char content_type[128],
			      char digest[AUR_OCI_DIGEST_LEN],
			      char err[AUR_OCI_ERRLEN])
{
	AUR_AUTOFREE char *path = aur_printf("manifests/%s", reference);
	struct response resp;
	struct body b = {.r = r, .resp = &resp, .max = AUR_OCI_MANIFEST_MAX};
	int ret;

	if (!path)
		return -ENOMEM;
	ret = api_get(r, path, ACCEPT, &b, err);
	if (ret == -ENOENT && b.resp->status == 404)
		snprintf(err + strlen(err), AUR_OCI_ERRLEN - strlen(err),
			 " (no such repository, tag or digest)");
	if (ret < 0) {
		free(b.buf);
		return ret;
	}
	if (!b.buf) {
		b.buf = strdup("");
		if (!b.buf)
			return -ENOMEM;
	}
	sha256_digest(b.buf, b.len, digest);
	if (aur_startswith(reference, "sha256:") &&
	    strcmp(reference, digest) != 0) {
		snprintf(err, AUR_OCI_ERRLEN,
			 "manifest %s: the registry sent %s instead", reference,
			 digest);
		free(b.buf);
		return -EBADMSG;
	}
	snprintf(content_type, 128, "%s", resp.content_type);
	*buf = b.buf;
	*len = b.len;
	return 0;
}

int aur_oci_registry_blob(struct aur_oci_registry *r, const char *digest,
			  aur_fetch_sink sink, void *ctx,
			  char err[AUR_OCI_ERRLEN])
{
	AUR_AUTOFREE char *path = aur_printf("blobs/%s", digest);
	struct response resp;
	struct body b = {.r = r, .resp = &resp, .sink = sink, .sink_ctx = ctx};
	uint64_t before;
	int ret;

	if (!path)
		return -ENOMEM;
	/* a transfer that broke after some bytes resumes: each api_get
	 * retries AUR_OCI_TRIES times, and a round that made progress
	 * earns another, up to RESUME_ROUNDS */
	for (int round = 0; round < RESUME_ROUNDS; round++) {
		before = b.delivered;
		ret = api_get(r, path, NULL, &b, err);
		if (ret != -EIO || b.delivered == before)
			break;
	}
	return ret;
}

int aur_oci_registry_blob_small(struct aur_oci_registry *r, const char *digest,
				size_t max, char **buf, size_t *len,
				char err[AUR_OCI_ERRLEN])
{
	AUR_AUTOFREE char *path = aur_printf("blobs/%s", digest);
	char got[AUR_OCI_DIGEST_LEN];
	struct response resp;
	struct body b = {.r = r, .resp = &resp, .max = max};
	int ret;

	if (!path)
		return -ENOMEM;
	ret = api_get(r, path, NULL, &b, err);
	if (ret == 0 && !b.buf && !(b.buf = strdup("")))
		ret = -ENOMEM;
	if (ret == 0) {
		sha256_digest(b.buf, b.len, got);
		if (strcmp(got, digest) != 0) {
			snprintf(err, AUR_OCI_ERRLEN,
				 "blob %s: the registry sent %s instead",
				 digest, got);
			ret = -EBADMSG;
		}
	}
	if (ret < 0) {
		free(b.buf);
		return ret;
	}
	*buf = b.buf;
	*len = b.len;
	return 0;
}
