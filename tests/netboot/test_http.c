// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The HTTP server's planning part: targets (methods, percent-decoding,
 * normalization), every Range form, conditional requests, dates, content
 * types, listings; and the server's start-up (addresses, ports in use).
 */
#include "test_helpers.h"

#include <aurora/http.h>
#include <aurora/tree.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* Sun, 06 Nov 1994 08:49:37 GMT (RFC 9110's example) */
#define EXAMPLE_TIME 784111777
#define ETAG "\"0123456789abcdef\""
#define MTIME 1700000000 /* Tue, 14 Nov 2023 22:13:20 GMT */
#define SIZE 1000

static int decode(const char *url, char *out, size_t cap)
{
	size_t len = 0;
	int r = aur_http_decode_path(url, out, cap, &len);

	if (r == 0)
		assert_int_equal(len, strlen(out));
	return r;
}

static void decoding(void **state)
{
	static const char *const good[][2] = {
		{"/a%20b", "/a b"},
		{"/%41%62%7e", "/Ab~"},
		{"/a%2Fb%2f", "/a/b/"},
		{"/netboot/kernel?x=%zz&y", "/netboot/kernel"},
		{"/iso/a.iso#frag", "/iso/a.iso"},
		{"/a+b", "/a+b"},
		{"/%C3%BC", "/\xc3\xbc"},
		{"http://10.0.0.1:8090/p%61th?q", "/path"},
		{"HTTPS://host/x", "/x"},
		{"http://host", "/"},
		{"http://host?x", "/"},
	};
	static const char *const bad_escapes[] = {
		"/a%", "/a%2", "/a%zz", "/a%2g", "/a%00b", "/%0", "/%%41",
	};
	static const char *const not_paths[] = {"", "*", "a/b", "?x", "%2f"};
	char out[64];

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		assert_int_equal(decode(good[i][0], out, sizeof(out)), 0);
		assert_string_equal(out, good[i][1]);
	}
	for (size_t i = 0; i < sizeof(bad_escapes) / sizeof(bad_escapes[0]);
	     i++)
		assert_int_equal(decode(bad_escapes[i], out, sizeof(out)),
				 -EILSEQ);
	for (size_t i = 0; i < sizeof(not_paths) / sizeof(not_paths[0]); i++)
		assert_int_equal(decode(not_paths[i], out, sizeof(out)),
				 -EINVAL);
	/* the room for the NUL counts; an escape is one byte decoded */
	assert_int_equal(decode("/abc", out, 5), 0);
	assert_int_equal(decode("/abcd", out, 5), -ENAMETOOLONG);
	assert_int_equal(decode("/ab%63", out, 5), 0);
	assert_string_equal(out, "/abc");
}

static void targets(void **state)
{
	static const struct {
		const char *method, *url;
		unsigned status;
	} refused[] = {
		{"POST", "/netboot/kernel", 405},
		{"get", "/", 405},
		{"OPTIONS", "*", 405},
		{"", "/", 405},
		{"GET", "/%2e%2e/etc/passwd", 403},
		{"GET", "/netboot/../../etc/passwd", 403},
		{"GET", "/a/%2E%2E", 403},
		{"HEAD", "/a%5cb", 400},
		{"GET", "/a%0ab", 400},
		{"GET", "/a\x01", 400},
		{"GET", "/%00", 400},
		{"GET", "/%zz", 400},
		{"GET", "netboot/kernel", 400},
		{"GET", "", 400},
	};
	struct aur_http_target t;
	char *longer = malloc(AUR_SERVE_PATH_MAX + 2);

	aur_http_plan_target("GET", "/netboot/kernel", &t);
	assert_int_equal(t.status, 0);
	assert_int_equal(t.method, AUR_HTTP_GET);
	assert_string_equal(t.path, "/netboot/kernel");
	assert_false(t.slash);
	aur_http_plan_target("HEAD", "/netboot//./", &t);
	assert_int_equal(t.status, 0);
	assert_int_equal(t.method, AUR_HTTP_HEAD);
	assert_string_equal(t.path, "/netboot");
	assert_true(t.slash);
	aur_http_plan_target("GET", "/", &t);
	assert_int_equal(t.status, 0);
	assert_string_equal(t.path, "/");
	assert_true(t.slash);
	aur_http_plan_target("GET", "/iso/x%20y.iso?download=1", &t);
	assert_int_equal(t.status, 0);
	assert_string_equal(t.path, "/iso/x y.iso");

	for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
		aur_http_plan_target(refused[i].method, refused[i].url, &t);
		assert_int_equal(t.status, refused[i].status);
		assert_non_null(t.why);
	}
	aur_http_plan_target(NULL, "/", &t);
	assert_int_equal(t.status, 405);
	aur_http_plan_target("GET", NULL, &t);
	assert_int_equal(t.status, 400);

	assert_non_null(longer);
	memset(longer, 'a', AUR_SERVE_PATH_MAX + 1);
	longer[0] = '/';
	longer[AUR_SERVE_PATH_MAX] = '\0';
	aur_http_plan_target("GET", longer, &t);
	assert_int_equal(t.status, 0);
	longer[AUR_SERVE_PATH_MAX] = 'a';
	longer[AUR_SERVE_PATH_MAX + 1] = '\0';
	aur_http_plan_target("GET", longer, &t);
	assert_int_equal(t.status, 414);
	free(longer);
}

/* Plan a file of @size bytes with only a Range header (and If-Range). */
static struct aur_http_plan ranged(const char *range, const char *if_range,
				   uint64_t size)
{
	struct aur_http_conds c = {.range = range, .if_range = if_range};
	struct aur_http_plan p;

	aur_http_plan_file(&c, size, ETAG, MTIME, &p);
	return p;
}

static void check_206(const char *range, uint64_t first, uint64_t last)
{
	struct aur_http_plan p = ranged(range, NULL, SIZE);
	char want[64];

	snprintf(want, sizeof(want), "bytes %llu-%llu/%d",
		 (unsigned long long)first, (unsigned long long)last, SIZE);
	assert_int_equal(p.status, 206);
	assert_int_equal(p.off, first);
	assert_int_equal(p.len, last - first + 1);
	assert_string_equal(p.content_range, want);
}

static void check_whole(const char *range, uint64_t size)
{
	struct aur_http_plan p = ranged(range, NULL, size);

	assert_int_equal(p.status, 200);
	assert_int_equal(p.off, 0);
	assert_int_equal(p.len, size);
	assert_string_equal(p.content_range, "");
}

static void check_416(const char *range, uint64_t size)
{
	struct aur_http_plan p = ranged(range, NULL, size);
	char want[64];

	snprintf(want, sizeof(want), "bytes */%llu", (unsigned long long)size);
	assert_int_equal(p.status, 416);
	assert_int_equal(p.len, 0);
	assert_string_equal(p.content_range, want);
}

static void ranges(void **state)
{
	check_whole(NULL, SIZE);
	check_206("bytes=0-99", 0, 99);
	check_206("bytes=100-", 100, 999);
	check_206("bytes=-100", 900, 999);
	check_206("bytes=-1", 999, 999);
	check_206("bytes=-2000", 0, 999); /* more than the file: all of it */
	check_206("bytes=990-5000", 990, 999); /* clipped at the end */
	check_206("bytes=999-999", 999, 999);
	check_206("bytes=0-0", 0, 0);
	check_206("Bytes=5-9", 5, 9); /* the unit is case-insensitive */
	check_206(" bytes=5-9 ,, ", 5, 9); /* whitespace, empty elements */
	check_206("bytes=0-99999999999999999999999999", 0, 999);
	check_206("bytes=-99999999999999999999999999", 0, 999);
	/* unsatisfiable */
	check_416("bytes=1000-", SIZE);
	check_416("bytes=1000-1000", SIZE);
	check_416("bytes=5000-6000", SIZE);
	check_416("bytes=-0", SIZE);
	check_416("bytes=99999999999999999999999-", SIZE);
	check_416("bytes=1000-,2000-3000,-0", SIZE);
	check_416("bytes=0-", 0);
	check_416("bytes=0-0", 0);
	/* several ranges: the whole file */
	check_whole("bytes=0-0,-1", SIZE);
	check_whole("bytes=0-9,5000-", SIZE);
	check_whole("bytes=0-1,0-1", SIZE);
	/* an empty file has nothing to cut: a suffix gets it whole */
	check_whole("bytes=-5", 0);
	/* ignored: malformed, or another unit */
	check_whole("bytes=5-1", SIZE);
	check_whole("items=0-1", SIZE);
	check_whole("bytes=", SIZE);
	check_whole("bytes=,", SIZE);
	check_whole("bytes=abc", SIZE);
	check_whole("bytes=1-2x", SIZE);
	check_whole("bytes=1-2;3-4", SIZE);
	check_whole("bytes=--1", SIZE);
	check_whole("bytes=1", SIZE);
	check_whole("bytes = 0-1", SIZE);
	check_whole("bytes=0-1,junk", SIZE);
	check_whole("bytes=+1-2", SIZE);
}

static unsigned cond_status(const char *inm, const char *ims, const char *range,
			    const char *if_range)
{
	struct aur_http_conds c = {.range = range,
				   .if_range = if_range,
				   .if_none_match = inm,
				   .if_modified_since = ims};
	struct aur_http_plan p;

	aur_http_plan_file(&c, SIZE, ETAG, MTIME, &p);
	if (p.status == 304)
		assert_int_equal(p.len, SIZE); /* Content-Length as for 200 */
	return p.status;
}

static void conditions(void **state)
{
	static const char *const now = "Tue, 14 Nov 2023 22:13:20 GMT";
	static const char *const before = "Tue, 14 Nov 2023 22:13:19 GMT";
	static const char *const after = "Wed, 15 Nov 2023 00:00:00 GMT";

	/* If-None-Match: weak comparison, lists, "*" */
	assert_int_equal(cond_status(ETAG, NULL, NULL, NULL), 304);
	assert_int_equal(cond_status("W/" ETAG, NULL, NULL, NULL), 304);
	assert_int_equal(cond_status("\"x\", " ETAG, NULL, NULL, NULL), 304);
	assert_int_equal(cond_status("\"x\"," ETAG ",\"y\"", NULL, NULL, NULL),
			 304);
	assert_int_equal(cond_status("*", NULL, NULL, NULL), 304);
	assert_int_equal(cond_status("\"x\"", NULL, NULL, NULL), 200);
	assert_int_equal(cond_status("\"0123456789abcde\"", NULL, NULL, NULL),
			 200);
	assert_int_equal(cond_status("0123456789abcdef", NULL, NULL, NULL),
			 200);
	assert_int_equal(cond_status("\"x\", junk, " ETAG, NULL, NULL, NULL),
			 200);
	assert_int_equal(cond_status("\"unterminated", NULL, NULL, NULL), 200);
	/* with If-None-Match, If-Modified-Since is not looked at */
	assert_int_equal(cond_status("\"x\"", after, NULL, NULL), 200);
	/* If-Modified-Since */
	assert_int_equal(cond_status(NULL, now, NULL, NULL), 304);
	assert_int_equal(cond_status(NULL, after, NULL, NULL), 304);
	assert_int_equal(cond_status(NULL, before, NULL, NULL), 200);
	assert_int_equal(cond_status(NULL, "yesterday", NULL, NULL), 200);
	assert_int_equal(cond_status(NULL, "Tuesday, 14-Nov-23 22:13:20 GMT",
				     NULL, NULL),
			 304);
	assert_int_equal(
		cond_status(NULL, "Tue Nov 14 22:13:20 2023", NULL, NULL), 304);
	/* the conditions come before the range */
	assert_int_equal(cond_status(ETAG, NULL, "bytes=0-1", NULL), 304);
	assert_int_equal(cond_status(NULL, now, "bytes=5000-", NULL), 304);
	assert_int_equal(cond_status(NULL, before, "bytes=0-1", NULL), 206);
	/* If-Range: the range holds only for the current validators */
	assert_int_equal(cond_status(NULL, NULL, "bytes=0-1", ETAG), 206);
	assert_int_equal(cond_status(NULL, NULL, "bytes=0-1", " " ETAG " "),
			 206);
	assert_int_equal(cond_status(NULL, NULL, "bytes=0-1", "\"stale\""),
			 200);
	assert_int_equal(cond_status(NULL, NULL, "bytes=0-1", "W/" ETAG), 200);
	assert_int_equal(cond_status(NULL, NULL, "bytes=0-1", ETAG ", " ETAG),
			 200);
	assert_int_equal(cond_status(NULL, NULL, "bytes=0-1", now), 206);
	assert_int_equal(cond_status(NULL, NULL, "bytes=0-1", before), 200);
	assert_int_equal(cond_status(NULL, NULL, "bytes=0-1", after), 200);
	assert_int_equal(cond_status(NULL, NULL, "bytes=0-1", "junk"), 200);
	assert_int_equal(cond_status(NULL, NULL, "bytes=5000-", "\"stale\""),
			 200);
	assert_int_equal(cond_status(NULL, NULL, NULL, ETAG), 200);
}

static void validators(void **state)
{
	struct aur_http_conds none = {0};
	struct aur_http_plan p;

	aur_http_plan_file(&none, SIZE, ETAG, MTIME, &p);
	assert_string_equal(p.last_modified, "Tue, 14 Nov 2023 22:13:20 GMT");
	/* a time that is no HTTP-date: no Last-Modified, and dates in
	 * If-Modified-Since or If-Range never match it */
	aur_http_plan_file(&none, SIZE, ETAG, (time_t)1 << 50, &p);
	assert_string_equal(p.last_modified, "");
	none.if_modified_since = "Fri, 31 Dec 9999 23:59:59 GMT";
	aur_http_plan_file(&none, SIZE, ETAG, (time_t)1 << 50, &p);
	assert_int_equal(p.status, 200);
}

static void dates(void **state)
{
	static const char *const same[] = {
		"Sun, 06 Nov 1994 08:49:37 GMT",
		"Sunday, 06-Nov-94 08:49:37 GMT",
		"Sun Nov  6 08:49:37 1994",
		"  Sun, 06 Nov 1994 08:49:37 GMT  ",
	};
	static const char *const bad[] = {
		"",
		"Sun, 06 Nov 1994 08:49:37",
		"Sun, 06 Nov 1994 08:49:37 UTC",
		"Sun, 6 Nov 1994 08:49:37 GMT",
		"Sun, 06 Nov 94 08:49:37 GMT",
		"Sun, 06 nov 1994 08:49:37 GMT",
		"Sun, 31 Feb 1994 08:49:37 GMT",
		"Sun, 29 Feb 2023 08:49:37 GMT",
		"Sun, 00 Nov 1994 08:49:37 GMT",
		"Sun, 06 Nov 1994 24:00:00 GMT",
		"Sun, 06 Nov 1994 08:60:00 GMT",
		"Sun, 06 Nov 1994 08:49:61 GMT",
		"Sun, 06 Nov 1994 08:49:37 GMT x",
		"Sun 06 Nov 1994 08:49:37 GMT",
		"Sunday, 06 Nov 1994 08:49:37 GMT",
		"Sun Nov 6 08:49:37 1994",
		"Xyz, 06 Nov 1994 08:49:37 GMT",
	};
	char out[32];
	time_t t;

	for (size_t i = 0; i < sizeof(same) / sizeof(same[0]); i++) {
		t = 0;
		assert_int_equal(aur_http_parse_date(same[i], &t), 0);
		assert_int_equal(t, EXAMPLE_TIME);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(aur_http_parse_date(bad[i], &t), -EINVAL);
	assert_int_equal(
		aur_http_parse_date("Thu, 29 Feb 2024 00:00:00 GMT", &t), 0);
	assert_int_equal(t, 1709164800);
	/* RFC 850's two-digit years: 70-99 are 19xx, 00-69 20xx */
	assert_int_equal(
		aur_http_parse_date("Thursday, 01-Jan-70 00:00:00 GMT", &t), 0);
	assert_int_equal(t, 0);
	assert_int_equal(
		aur_http_parse_date("Monday, 01-Jan-69 00:00:00 GMT", &t), 0);
	assert_int_equal(t, 3124224000);
	/* a leap second is taken as the next second */
	assert_int_equal(
		aur_http_parse_date("Sat, 31 Dec 2016 23:59:60 GMT", &t), 0);
	assert_int_equal(t, 1483228800);

	assert_int_equal(aur_http_format_date(EXAMPLE_TIME, out, sizeof(out)),
			 0);
	assert_string_equal(out, "Sun, 06 Nov 1994 08:49:37 GMT");
	assert_int_equal(aur_http_format_date(0, out, sizeof(out)), 0);
	assert_string_equal(out, "Thu, 01 Jan 1970 00:00:00 GMT");
	assert_int_equal(aur_http_format_date(-1, out, sizeof(out)), 0);
	assert_string_equal(out, "Wed, 31 Dec 1969 23:59:59 GMT");
	assert_int_equal(
		aur_http_format_date((time_t)1 << 50, out, sizeof(out)),
		-ERANGE);
	assert_int_equal(
		aur_http_format_date(-((time_t)1 << 50), out, sizeof(out)),
		-ERANGE);
	/* every formatted date parses back to itself */
	for (time_t x = -62167219200; x < 253402300800; x += 987654321) {
		assert_int_equal(aur_http_format_date(x, out, sizeof(out)), 0);
		assert_int_equal(aur_http_parse_date(out, &t), 0);
		assert_int_equal(t, x);
	}
}

static void content_types(void **state)
{
	assert_string_equal(aur_http_content_type("/iso/kairos.iso"),
			    "application/x-iso9660-image");
	assert_string_equal(aur_http_content_type("/x/KAIROS.ISO"),
			    "application/x-iso9660-image");
	assert_string_equal(aur_http_content_type("/efi/BOOTX64.EFI"),
			    "application/efi");
	assert_string_equal(aur_http_content_type("/config.yaml"), "text/yaml");
	assert_string_equal(aur_http_content_type("/netboot/boot.ipxe"),
			    "text/plain");
	assert_string_equal(aur_http_content_type("/netboot/ipxe"),
			    "text/plain");
	assert_string_equal(
		aur_http_content_type("/netboot/52:54:00:12:34:56/ipxe"),
		"text/plain");
	assert_string_equal(aur_http_content_type("/netboot/undionly.kpxe"),
			    "application/octet-stream");
	assert_string_equal(aur_http_content_type("/netboot/ipxe.efi"),
			    "application/efi");
	assert_string_equal(aur_http_content_type("/iso/a.iso.sha256"),
			    "text/plain");
	assert_string_equal(aur_http_content_type("/netboot/kernel"),
			    "application/octet-stream");
	assert_string_equal(aur_http_content_type("/a.iso/kernel"),
			    "application/octet-stream");
	assert_string_equal(aur_http_content_type("/netboot/rootfs.squashfs"),
			    "application/octet-stream");
	assert_string_equal(aur_http_content_type("/x."),
			    "application/octet-stream");
}

/* What @put writes for @s. */
static char *written(void (*put)(FILE *, const char *), const char *s)
{
	char *out = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&out, &len);

	assert_non_null(f);
	put(f, s);
	assert_int_equal(fclose(f), 0);
	return out;
}

static void escaping(void **state)
{
	char *s = written(aur_http_put_html,
			  "<a href=\"x\">&'</a> plain \xc3\xbc");

	assert_string_equal(s, "&lt;a href=&quot;x&quot;&gt;&amp;&#39;&lt;/"
			       "a&gt; plain \xc3\xbc");
	free(s);
	s = written(aur_http_put_url, "/a b/\xc3\xbc%?#\"<>&'+~-._Z9");
	assert_string_equal(s,
			    "/a%20b/%C3%BC%25%3F%23%22%3C%3E%26%27%2B~-._Z9");
	free(s);
}

static void listing(void **state)
{
	const struct aur_http_entry e[] = {
		{"<b>.iso", false, true, 42},
		{"sub dir", true, false, 0},
		{"unbuilt", false, false, 0},
		{"a&b\"c", false, true, 0},
	};
	size_t len = 0;
	char *html = aur_http_listing("/net boot", e, 4, &len);

	assert_non_null(html);
	assert_int_equal(len, strlen(html));
	assert_non_null(strstr(html, "<title>Index of /net boot/</title>"));
	assert_non_null(strstr(html, "<a href=\"/\">../</a>"));
	assert_non_null(strstr(html, "<a href=\"/net%20boot/%3Cb%3E.iso\">"
				     "&lt;b&gt;.iso</a></td><td>42</td>"));
	assert_non_null(strstr(html, "<a href=\"/net%20boot/sub%20dir/\">"
				     "sub dir/</a></td><td>-</td>"));
	assert_non_null(strstr(html, "<a href=\"/net%20boot/unbuilt\">"
				     "unbuilt</a></td><td>-</td>"));
	assert_non_null(strstr(html, "<a href=\"/net%20boot/a%26b%22c\">"
				     "a&amp;b&quot;c</a></td><td>0</td>"));
	assert_null(strstr(html, "<b>"));
	free(html);

	html = aur_http_listing("/", e, 1, &len);
	assert_non_null(html);
	assert_non_null(strstr(html, "<title>Index of /</title>"));
	assert_null(strstr(html, "../"));
	assert_non_null(strstr(html, "<a href=\"/%3Cb%3E.iso\">"));
	free(html);

	html = aur_http_listing("/a/b", NULL, 0, &len);
	assert_non_null(html);
	assert_non_null(strstr(html, "<a href=\"/a/\">../</a>"));
	free(html);
}

/* ---- the server's start-up ---- */

static void bad_addresses(void **state)
{
	static const char *const bad[] = {
		"nonsense",  "127.0.0.1:", "127.0.0.1:99999", "::1:8080",
		"[::1]8080", "[::1",	   "127.0.0.1:80x",   "",
	};
	struct aur_tree *t = aur_tree_new(0);
	struct aur_http_server *s = (void *)1;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct aur_http_opts o = {.tree = t, .listen = bad[i]};
		char want[128];

		capture_logs();
		assert_int_not_equal(aur_http_open(&o, &s), 0);
		assert_null(s);
		snprintf(want, sizeof(want), "HTTP: cannot listen on '%s'",
			 bad[i]);
		assert_non_null(strstr(captured_logs(), want));
		release_logs();
	}
	aur_tree_free(t);
}

static void ports(void **state)
{
	struct aur_tree *t = aur_tree_new(0);
	struct aur_http_opts o = {
		.tree = t, .listen = "127.0.0.1:0", .name = "artifacts"};
	struct aur_http_server *a, *b;
	char spec[32];

	assert_int_equal(aur_http_open(&o, &a), 0);
	assert_int_not_equal(aur_http_port(a), 0);
	/* the port is taken before anything is served */
	snprintf(spec, sizeof(spec), "127.0.0.1:%u", aur_http_port(a));
	o.listen = spec;
	capture_logs();
	assert_int_equal(aur_http_open(&o, &b), -EADDRINUSE);
	assert_non_null(strstr(captured_logs(), "artifacts: cannot listen on"));
	release_logs();
	assert_int_equal(aur_http_start(a), 0);
	assert_int_equal(aur_http_start(a), -EINVAL);
	aur_http_close(a);
	/* once closed, the port is free again */
	assert_int_equal(aur_http_open(&o, &a), 0);
	aur_http_close(a); /* never started */

	o.listen = ":0"; /* every address */
	assert_int_equal(aur_http_open(&o, &a), 0);
	aur_http_close(a);
	o.listen = "0";
	assert_int_equal(aur_http_open(&o, &a), 0);
	aur_http_close(a);
	o.listen = "localhost:0";
	assert_int_equal(aur_http_open(&o, &a), 0);
	aur_http_close(a);
	aur_http_close(NULL);
	aur_tree_free(t);
}

/* Closing the server does not wait for an idle client to leave. */
static void close_with_client(void **state)
{
	struct aur_tree *t = aur_tree_new(0);
	struct aur_http_opts o = {.tree = t, .listen = "127.0.0.1:0"};
	struct sockaddr_in sa = {.sin_family = AF_INET};
	struct aur_http_server *s;
	struct timespec t0, t1;
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	assert_int_equal(aur_http_open(&o, &s), 0);
	assert_int_equal(aur_http_start(s), 0);
	sa.sin_port = htons(aur_http_port(s));
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(write(fd, "GET / HTTP/1.1\r\n", 16), 16);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	aur_http_close(s);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	assert_true(t1.tv_sec - t0.tv_sec < 5);
	close(fd);
	aur_tree_free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(decoding),
		cmocka_unit_test(targets),
		cmocka_unit_test(ranges),
		cmocka_unit_test(conditions),
		cmocka_unit_test(validators),
		cmocka_unit_test(dates),
		cmocka_unit_test(content_types),
		cmocka_unit_test(escaping),
		cmocka_unit_test(listing),
		cmocka_unit_test(bad_addresses),
		cmocka_unit_test(ports),
		cmocka_unit_test(close_with_client),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
