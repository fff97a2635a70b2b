// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Fuzz target: the HTTP server's planning part (http.h). The input is
 * lines: the method, the request target, then the Range, If-Range,
 * If-None-Match and If-Modified-Since values (an empty line: no such
 * header), "SIZE MTIME" of the file, and the names of a directory listing.
 * Besides not crashing, the answers must hold together:
 *  - a target that is accepted is a normalized absolute path, and the same
 *    path percent-encoded plans to itself;
 *  - a plan stays inside the file: 206 only for a Range, with a range
 *    within the file and a Content-Range that says so; 416 with the size;
 *    304 only for a condition; the same input plans the same;
 *  - a date parsed prints as a date that parses to the same time;
 *  - escaped names hold no markup.
 */
#include <aurora/http.h>
#include <aurora/log.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FIELDS 7

static void quiet(void *ctx, int level, const char *msg)
{
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	aur_log_set_sink(quiet, NULL);
	return 0;
}

static void check_target(const char *method, const char *url)
{
	struct aur_http_target t, again;
	char *enc = NULL;
	size_t len = 0;
	FILE *f;

	aur_http_plan_target(method, url, &t);
	if (t.status) {
		if (!t.why)
			abort();
		return;
	}
	if (t.path[0] != '/' || strstr(t.path, "//") || strstr(t.path, "/./") ||
	    strstr(t.path, "/../") ||
	    (strlen(t.path) > 1 && t.path[strlen(t.path) - 1] == '/'))
		abort(); /* not normalized */
	f = open_memstream(&enc, &len);
	if (!f)
		return;
	aur_http_put_url(f, t.path);
	if (fclose(f) == 0) {
		aur_http_plan_target("GET", enc, &again);
		if (again.status || strcmp(again.path, t.path))
			abort(); /* the encoded path is not the same path */
	}
	free(enc);
}

static void check_plan(const struct aur_http_conds *c, uint64_t size,
		       time_t mtime)
{
	struct aur_http_plan p, q;
	char want[64];

	aur_http_plan_file(c, size, "\"0123456789abcdef\"", mtime, &p);
	aur_http_plan_file(c, size, "\"0123456789abcdef\"", mtime, &q);
	if (memcmp(&p, &q, sizeof(p)))
		abort(); /* not a function of its input */
	switch (p.status) {
	case 200:
		if (p.off != 0 || p.len != size || *p.content_range)
			abort();
		break;
	case 206:
		if (!c->range || p.len == 0 || p.off >= size ||
		    p.len > size - p.off)
			abort();
		snprintf(want, sizeof(want),
			 "bytes %" PRIu64 "-%" PRIu64 "/%" PRIu64, p.off,
			 p.off + p.len - 1, size);
		if (strcmp(want, p.content_range))
			abort();
		break;
	case 416:
		snprintf(want, sizeof(want), "bytes */%" PRIu64, size);
		if (!c->range || p.len != 0 || strcmp(want, p.content_range))
			abort();
		break;
	case 304:
		if ((!c->if_none_match && !c->if_modified_since) ||
		    p.len != size)
			abort();
		break;
	default:
		abort();
	}
}

static void check_date(const char *s)
{
	char out[32];
	time_t t, u;

	if (!s || aur_http_parse_date(s, &t) < 0 ||
	    aur_http_format_date(t, out, sizeof(out)) < 0)
		return;
	if (aur_http_parse_date(out, &u) < 0 || u != t)
		abort();
}

/* @s escaped: no markup may remain, and every '&' opens an entity. */
static void check_escape(const char *s)
{
	char *out = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&out, &len);

	if (!f)
		return;
	aur_http_put_html(f, s);
	if (fclose(f) == 0) {
		if (strpbrk(out, "<>\"'"))
			abort();
		for (char *a = strchr(out, '&'); a; a = strchr(a + 1, '&'))
			if (strncmp(a, "&amp;", 5) && strncmp(a, "&lt;", 4) &&
			    strncmp(a, "&gt;", 4) && strncmp(a, "&quot;", 6) &&
			    strncmp(a, "&#39;", 5))
				abort();
	}
	free(out);
}

static void check_listing(char **names, size_t n)
{
	struct aur_http_entry *e = calloc(n ? n : 1, sizeof(*e));
	size_t len;
	char *html;

	if (!e)
		return;
	for (size_t i = 0; i < n; i++) {
		e[i].name = names[i];
		e[i].is_dir = i % 3 == 1;
		e[i].has_size = i % 3 == 0;
		e[i].size = i * 1000;
		check_escape(names[i]);
	}
	html = aur_http_listing(n ? "/a dir/<x>" : "/", e, n, &len);
	if (html && strlen(html) != len)
		abort();
	free(html);
	free(e);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1), *save = NULL;
	char *field[FIELDS] = {0}, **names = NULL;
	size_t nfields = 0, nnames = 0;
	struct aur_http_conds c;
	unsigned long long fsize = 1000;
	long long mtime = 1700000000;

	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	names = calloc(size + 1, sizeof(*names));
	save = s;
	for (char *line = strsep(&save, "\n"); line;
	     line = strsep(&save, "\n")) {
		if (nfields < FIELDS)
			field[nfields++] = line;
		else if (names)
			names[nnames++] = line;
	}
	for (size_t i = 2; i < 6; i++)
		if (field[i] && !*field[i])
			field[i] = NULL;
	if (field[6])
		sscanf(field[6], "%llu %lld", &fsize, &mtime);
	c = (struct aur_http_conds){field[2], field[3], field[4], field[5]};
	check_target(field[0] ? field[0] : "GET", field[1] ? field[1] : "/");
	check_plan(&c, fsize, (time_t)mtime);
	for (size_t i = 3; i < 6; i++)
		check_date(field[i]);
	aur_http_content_type(field[1] ? field[1] : "");
	if (names)
		check_listing(names, nnames);
	free(names);
	free(s);
	return 0;
}
