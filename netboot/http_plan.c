// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The planning part of the HTTP server (http.h): request targets decoded
 * and checked, conditional and range requests decided, HTTP dates, content
 * types and directory listings. Functions of their arguments only (no
 * socket, no tree), so that the fuzzer reaches all of it directly.
 */
#include <aurora/http.h>
#include <aurora/serve.h>
#include <aurora/util.h>

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

enum aur_http_method aur_http_method(const char *method)
{
	if (method && !strcmp(method, "GET"))
		return AUR_HTTP_GET;
	if (method && !strcmp(method, "HEAD"))
		return AUR_HTTP_HEAD;
	return AUR_HTTP_OTHER;
}

/* Where the path of an absolute-form target ("http://host:port/path")
 * starts, or NULL for any other target. */
static const char *absolute_form_path(const char *url)
{
	static const char *const schemes[] = {"http://", "https://"};

	for (size_t i = 0; i < AUR_ARRAY_SIZE(schemes); i++) {
		size_t n = strlen(schemes[i]);

		if (!strncasecmp(url, schemes[i], n))
			return url + n + strcspn(url + n, "/?#");
	}
	return NULL;
}

int aur_http_decode_path(const char *url, char *out, size_t cap, size_t *len)
{
	const char *p = absolute_form_path(url);
	size_t o = 0;

	if (!p)
		p = url;
	else if (*p != '/')
		p = "/"; /* "http://host" and "http://host?q": the root */
	if (*p != '/')
		return -EINVAL;
	for (; *p && *p != '?' && *p != '#'; p++) {
		int c = (unsigned char)*p;

		if (c == '%') {
			int hi = aur_hex_digit(p[1]);
			int lo = hi < 0 ? -1 : aur_hex_digit(p[2]);

			if (lo < 0 || (hi == 0 && lo == 0))
				return -EILSEQ;
			c = hi << 4 | lo;
			p += 2;
		}
		if (o + 1 >= cap)
			return -ENAMETOOLONG;
		out[o++] = (char)c;
	}
	if (o >= cap)
		return -ENAMETOOLONG;
	out[o] = '\0';
	*len = o;
	return 0;
}

static void refuse(struct aur_http_target *t, unsigned status, const char *why)
{
	t->status = status;
	t->why = why;
}

void aur_http_plan_target(const char *method, const char *url,
			  struct aur_http_target *t)
{
	char path[AUR_SERVE_PATH_MAX + 1];
	size_t n;
	int r;

	memset(t, 0, sizeof(*t));
	t->method = aur_http_method(method);
	if (t->method == AUR_HTTP_OTHER)
		return refuse(t, 405, "method not allowed");
	r = aur_http_decode_path(url ? url : "", path, sizeof(path), &n);
	if (r == -ENAMETOOLONG)
		return refuse(t, 414, "path too long");
	if (r == -EILSEQ)
		return refuse(t, 400,
			      "invalid percent-escape or %00 in the path");
	if (r < 0)
		return refuse(t, 400, "the target is not a path");
	r = aur_serve_normalize(path, n, t->path, sizeof(t->path));
	if (r == -EACCES)
		return refuse(t, 403, "'..' in the path");
	if (r < 0)
		return refuse(t, 400,
			      "control character or backslash in the path");
	t->slash = path[n - 1] == '/';
}

/* ---- conditions and ranges ---- */

/* Optional whitespace (RFC 9110 5.6.3). */
static const char *skip_ows(const char *s)
{
	while (*s == ' ' || *s == '\t')
		s++;
	return s;
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* A decimal number at *@s, at least one digit, saturating at UINT64_MAX:
 * a position past the end of any file means the same as the largest one. */
static bool take_pos(const char **s, uint64_t *v)
{
	const char *p = *s;
	uint64_t x = 0;

	if (!is_digit(*p))
		return false;
	for (; is_digit(*p); p++) {
		unsigned d = (unsigned)(*p - '0');

		x = x > (UINT64_MAX - d) / 10 ? UINT64_MAX : x * 10 + d;
	}
	*s = p;
	*v = x;
	return true;
}

/* What a Range header asks of a file (RFC 9110 14.1.1). */
struct range_set {
	unsigned specs; /* range-specs */
	unsigned satisfiable; /* of them, those that overlap the file */
	uint64_t first, last; /* the first satisfiable one, clipped */
};

/* One range-spec at *@s for a file of @size bytes; false if malformed. */
static bool take_spec(const char **s, uint64_t size, struct range_set *rs)
{
	const char *p = *s;
	uint64_t first, last = UINT64_MAX;
	bool satisfiable;

	if (*p == '-') { /* suffix-range: the last @n bytes */
		uint64_t n;

		p++;
		if (!take_pos(&p, &n))
			return false;
		satisfiable = n > 0;
		first = size - AUR_MIN(n, size);
	} else {
		if (!take_pos(&p, &first) || *p != '-')
			return false;
		p++;
		if (is_digit(*p))
			take_pos(&p, &last);
		if (last < first)
			return false;
		satisfiable = first < size;
	}
	if (size > 0)
		last = AUR_MIN(last, size - 1);
	rs->specs++;
	if (satisfiable && rs->satisfiable++ == 0) {
		rs->first = first;
		rs->last = last;
	}
	*s = p;
	return true;
}

/* The Range header @h: false to ignore it (another unit, malformed). */
static bool take_ranges(const char *h, uint64_t size, struct range_set *rs)
{
	const char *p = skip_ows(h);

	memset(rs, 0, sizeof(*rs));
	if (strncasecmp(p, "bytes=", 6))
		return false;
	p += 6;
	for (;;) {
		p = skip_ows(p);
		if (*p == ',') { /* empty list elements are allowed */
			p++;
			continue;
		}
		if (!*p)
			break;
		if (!take_spec(&p, size, rs))
			return false;
		p = skip_ows(p);
		if (*p && *p != ',')
			return false;
	}
	return rs->specs > 0;
}

static void plan_range(const char *h, uint64_t size, struct aur_http_plan *p)
{
	struct range_set rs;

	if (!take_ranges(h, size, &rs))
		return;
	if (rs.satisfiable == 0) {
		p->status = 416;
		p->len = 0;
		snprintf(p->content_range, sizeof(p->content_range),
			 "bytes */%" PRIu64, size);
		return;
	}
	/* an empty file, or several ranges: the whole file (see http.h) */
	if (size == 0 || rs.specs > 1)
		return;
	p->status = 206;
	p->off = rs.first;
	p->len = rs.last - rs.first + 1;
	snprintf(p->content_range, sizeof(p->content_range),
		 "bytes %" PRIu64 "-%" PRIu64 "/%" PRIu64, rs.first, rs.last,
		 size);
}

/* The entity-tag ([W/]"...") at *@s: its opaque part, quotes included,
 * is [*@tag, *@tag + *@n). False if there is none. */
static bool take_etag(const char **s, const char **tag, size_t *n, bool *weak)
{
	const char *p = *s, *end;

	*weak = !strncmp(p, "W/", 2);
	if (*weak)
		p += 2;
	if (*p != '"')
		return false;
	end = strchr(p + 1, '"');
	if (!end)
		return false;
	*tag = p;
	*n = (size_t)(end + 1 - p);
	*s = end + 1;
	return true;
}

static bool same_tag(const char *tag, size_t n, const char *etag)
{
	return n == strlen(etag) && !memcmp(tag, etag, n);
}

/* Does If-None-Match @h name @etag (weak comparison)? */
static bool none_match_hits(const char *h, const char *etag)
{
	const char *p = skip_ows(h), *tag;
	size_t n;
	bool weak;

	if (*p == '*')
		return !*skip_ows(p + 1);
	for (;;) {
		p = skip_ows(p);
		if (*p == ',') {
			p++;
			continue;
		}
		if (!*p || !take_etag(&p, &tag, &n, &weak))
			return false;
		if (same_tag(tag, n, etag))
			return true;
	}
}

/* Does If-Range @h still describe the file (strong comparison)? */
static bool if_range_holds(const char *h, const char *etag, time_t mtime,
			   bool dated)
{
	const char *p = skip_ows(h), *tag;
	size_t n;
	bool weak;
	time_t t;

	if (*p == '"' || !strncmp(p, "W/", 2))
		return take_etag(&p, &tag, &n, &weak) && !weak &&
		       !*skip_ows(p) && same_tag(tag, n, etag);
	return dated && aur_http_parse_date(p, &t) == 0 && t == mtime;
}

static bool not_modified(const struct aur_http_conds *c, const char *etag,
			 time_t mtime, bool dated)
{
	time_t t;

	if (c->if_none_match)
		return none_match_hits(c->if_none_match, etag);
	return c->if_modified_since && dated &&
	       aur_http_parse_date(c->if_modified_since, &t) == 0 && mtime <= t;
}

void aur_http_plan_file(const struct aur_http_conds *c, uint64_t size,
			const char *etag, time_t mtime, struct aur_http_plan *p)
{
	bool dated;

	memset(p, 0, sizeof(*p));
	p->status = 200;
	p->len = size;
	dated = aur_http_format_date(mtime, p->last_modified,
				     sizeof(p->last_modified)) == 0;
	if (not_modified(c, etag, mtime, dated)) {
		p->status = 304;
		return;
	}
	if (c->range &&
	    (!c->if_range || if_range_holds(c->if_range, etag, mtime, dated)))
		plan_range(c->range, size, p);
}

/* ---- dates (RFC 9110 5.6.7) ---- */

static const char *const wdays[] = {"Sun", "Mon", "Tue", "Wed",
				    "Thu", "Fri", "Sat"};
static const char *const wdays_long[] = {"Sunday",    "Monday",	  "Tuesday",
					 "Wednesday", "Thursday", "Friday",
					 "Saturday"};
static const char *const months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
				     "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

static bool take(const char **p, const char *lit)
{
	size_t n = strlen(lit);

	if (strncmp(*p, lit, n))
		return false;
	*p += n;
	return true;
}

/* Exactly @n digits. */
static bool take_num(const char **p, int n, int *v)
{
	int x = 0;

	for (int i = 0; i < n; i++) {
		if (!is_digit((*p)[i]))
			return false;
		x = x * 10 + ((*p)[i] - '0');
	}
	*p += n;
	*v = x;
	return true;
}

/* One of @names (@n of them) at *@p: its index, or -1. */
static int take_name(const char **p, const char *const *names, int n)
{
	for (int i = 0; i < n; i++)
		if (take(p, names[i]))
			return i;
	return -1;
}

static bool take_month(const char **p, struct tm *tm)
{
	tm->tm_mon = take_name(p, months, 12);
	return tm->tm_mon >= 0;
}

static bool take_time(const char **p, struct tm *tm)
{
	return take_num(p, 2, &tm->tm_hour) && take(p, ":") &&
	       take_num(p, 2, &tm->tm_min) && take(p, ":") &&
	       take_num(p, 2, &tm->tm_sec);
}

/* IMF-fixdate after the day name: ", 06 Nov 1994 08:49:37 GMT" */
static bool take_imf(const char **p, struct tm *tm)
{
	return take(p, ", ") && take_num(p, 2, &tm->tm_mday) && take(p, " ") &&
	       take_month(p, tm) && take(p, " ") &&
	       take_num(p, 4, &tm->tm_year) && take(p, " ") &&
	       take_time(p, tm) && take(p, " GMT");
}

/* RFC 850 after the day name: ", 06-Nov-94 08:49:37 GMT" */
static bool take_rfc850(const char **p, struct tm *tm)
{
	if (!(take(p, ", ") && take_num(p, 2, &tm->tm_mday) && take(p, "-") &&
	      take_month(p, tm) && take(p, "-") &&
	      take_num(p, 2, &tm->tm_year) && take(p, " ") &&
	      take_time(p, tm) && take(p, " GMT")))
		return false;
	tm->tm_year += tm->tm_year < 70 ? 2000 : 1900;
	return true;
}

/* asctime after the day name: " Nov  6 08:49:37 1994" */
static bool take_asctime(const char **p, struct tm *tm)
{
	if (!(take(p, " ") && take_month(p, tm) && take(p, " ")))
		return false;
	/* the day is two digits or a space and one digit */
	if (**p == ' ') {
		(*p)++;
		if (!take_num(p, 1, &tm->tm_mday))
			return false;
	} else if (!take_num(p, 2, &tm->tm_mday)) {
		return false;
	}
	return take(p, " ") && take_time(p, tm) && take(p, " ") &&
	       take_num(p, 4, &tm->tm_year);
}

static bool leap(int y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

/* @tm with its year as written: a real date and time of day? */
static bool valid_tm(const struct tm *tm)
{
	static const int mdays[] = {31, 28, 31, 30, 31, 30,
				    31, 31, 30, 31, 30, 31};
	int days = mdays[tm->tm_mon] + (tm->tm_mon == 1 && leap(tm->tm_year));

	return tm->tm_mday >= 1 && tm->tm_mday <= days && tm->tm_hour < 24 &&
	       tm->tm_min < 60 && tm->tm_sec <= 60; /* a leap second */
}

int aur_http_parse_date(const char *s, time_t *t)
{
	const char *p = skip_ows(s);
	struct tm tm;
	bool ok;

	memset(&tm, 0, sizeof(tm));
	if (take_name(&p, wdays_long, 7) >= 0)
		ok = take_rfc850(&p, &tm);
	else if (take_name(&p, wdays, 7) >= 0)
		ok = *p == ',' ? take_imf(&p, &tm) : take_asctime(&p, &tm);
	else
		ok = false;
	if (!ok || *skip_ows(p) || !valid_tm(&tm))
		return -EINVAL;
	tm.tm_year -= 1900;
	*t = timegm(&tm);
	return 0;
}

int aur_http_format_date(time_t t, char *out, size_t cap)
{
	struct tm tm;

	if (!gmtime_r(&t, &tm) || tm.tm_year < -1900 ||
	    tm.tm_year > 9999 - 1900)
		return -ERANGE;
	snprintf(out, cap, "%s, %02d %s %04d %02d:%02d:%02d GMT",
		 wdays[tm.tm_wday], tm.tm_mday, months[tm.tm_mon],
		 tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
	return 0;
}

/* ---- content types and listings ---- */

const char *aur_http_content_type(const char *path)
{
	static const struct {
		const char *ext, *type;
	} types[] = {
		{"iso", "application/x-iso9660-image"},
		{"efi", "application/efi"},
		{"yaml", "text/yaml"},
		{"yml", "text/yaml"},
		{"ipxe", "text/plain"},
		{"sha256", "text/plain"},
		{"txt", "text/plain"},
		{"json", "application/json"},
	};
	const char *slash = strrchr(path, '/');
	const char *base = slash ? slash + 1 : path;
	const char *dot = strrchr(base, '.');

	if (!strcmp(base, "ipxe")) /* the netboot scripts' name */
		return "text/plain";
	for (size_t i = 0; dot && i < AUR_ARRAY_SIZE(types); i++)
		if (!strcasecmp(dot + 1, types[i].ext))
			return types[i].type;
	return "application/octet-stream";
}

void aur_http_put_html(FILE *f, const char *s)
{
	for (; *s; s++) {
		switch (*s) {
		case '&':
			fputs("&amp;", f);
			break;
		case '<':
			fputs("&lt;", f);
			break;
		case '>':
			fputs("&gt;", f);
			break;
		case '"':
			fputs("&quot;", f);
			break;
		case '\'':
			fputs("&#39;", f);
			break;
		default:
			fputc(*s, f);
		}
	}
}

static bool unreserved(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       is_digit((char)c) || c == '-' || c == '.' || c == '_' ||
	       c == '~';
}

/* The first @n bytes of path @s, percent-encoded. */
static void put_url_n(FILE *f, const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (unreserved(c) || c == '/')
			fputc(c, f);
		else
			fprintf(f, "%%%02X", c);
	}
}

void aur_http_put_url(FILE *f, const char *s)
{
	put_url_n(f, s, strlen(s));
}

static void put_entry(FILE *f, const char *dir, const struct aur_http_entry *e)
{
	const char *tail = e->is_dir ? "/" : "";

	fputs("<tr><td><a href=\"", f);
	aur_http_put_url(f, dir);
	if (strcmp(dir, "/"))
		fputc('/', f);
	aur_http_put_url(f, e->name);
	fprintf(f, "%s\">", tail);
	aur_http_put_html(f, e->name);
	fprintf(f, "%s</a></td><td>", tail);
	if (e->is_dir || !e->has_size)
		fputs("-", f);
	else
		fprintf(f, "%" PRIu64, e->size);
	fputs("</td></tr>\n", f);
}

/* <@tag>Index of /dir/</@tag> */
static void put_title(FILE *f, const char *tag, const char *dir, bool root)
{
	fprintf(f, "<%s>Index of ", tag);
	aur_http_put_html(f, dir);
	fprintf(f, "%s</%s>", root ? "" : "/", tag);
}

char *aur_http_listing(const char *dir, const struct aur_http_entry *e,
		       size_t n, size_t *len)
{
	bool root = !strcmp(dir, "/");
	char *out = NULL;
	size_t size = 0;
	FILE *f = open_memstream(&out, &size);

	if (!f)
		return NULL;
	fputs("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">", f);
	put_title(f, "title", dir, root);
	fputs("</head>\n<body>", f);
	put_title(f, "h1", dir, root);
	fputs("\n<table>\n", f);
	if (!root) {
		fputs("<tr><td><a href=\"", f);
		put_url_n(f, dir, (size_t)(strrchr(dir, '/') - dir) + 1);
		fputs("\">../</a></td><td>-</td></tr>\n", f);
	}
	for (size_t i = 0; i < n; i++)
		put_entry(f, dir, &e[i]);
	fputs("</table>\n</body></html>\n", f);
	if (fclose(f) != 0) {
		free(out);
		return NULL;
	}
	*len = size;
	return out;
}
