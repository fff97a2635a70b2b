// SPDX-License-Identifier: GPL-2.0-or-later
#include <aurora/kv.h>
#include <aurora/log.h>
#include <aurora/template.h>

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

struct outbuf {
	char *p;
	size_t n, cap;
};

static int out_put(struct outbuf *o, const char *s, size_t n)
{
	if (o->n + n + 1 > o->cap) {
		size_t cap = o->cap ? o->cap : 256;
		char *p;

		while (cap < o->n + n + 1)
			cap *= 2;
		p = realloc(o->p, cap);
		if (!p)
			return -ENOMEM;
		o->p = p;
		o->cap = cap;
	}
	memcpy(o->p + o->n, s, n);
	o->n += n;
	o->p[o->n] = '\0';
	return 0;
}

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static bool is_path_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '.';
}

struct action {
	size_t len; /* bytes of input consumed, delimiters included */
	const char *path; /* after the leading '.' */
	size_t path_len;
	bool trim_left, trim_right;
};

/* Parse an action at @s (bounded by @end) opened by @open_len brackets. */
static bool parse_action(const char *s, const char *end, size_t open_len,
			 struct action *a)
{
	const char *p = s + open_len;

	memset(a, 0, sizeof(*a));
	if (p + 1 < end && p[0] == '-' && is_space(p[1])) {
		a->trim_left = true;
		p++;
	}
	while (p < end && is_space(*p))
		p++;
	if (p >= end || *p != '.')
		return false;
	p++;
	a->path = p;
	while (p < end && is_path_char(*p))
		p++;
	a->path_len = (size_t)(p - a->path);
	if (a->path_len == 0 || a->path[a->path_len - 1] == '.')
		return false;
	while (p < end && is_space(*p))
		p++;
	if (p < end && *p == '-' && is_space(p[-1])) {
		a->trim_right = true;
		p++;
	}
	if ((size_t)(end - p) < open_len)
		return false;
	for (size_t i = 0; i < open_len; i++)
		if (p[i] != ']')
			return false;
	a->len = (size_t)(p + open_len - s);
	return true;
}

static int line_of(const char *start, const char *pos)
{
	int line = 1;

	for (const char *p = start; p < pos; p++)
		line += *p == '\n';
	return line;
}

int aur_template_render(const char *in, size_t len, const struct aur_kv *data,
			const char *origin, char **out, size_t *outlen)
{
	const char *p = in, *end = in + len;
	struct outbuf o = {0};
	int r = out_put(&o, "", 0);

	while (r == 0 && p < end) {
		const char *open = memmem(p, (size_t)(end - p), "[[", 2);
		struct action a;
		bool found = false;
		char path[256];
		const struct aur_kv *v;

		if (!open) {
			r = out_put(&o, p, (size_t)(end - p));
			break;
		}
		r = out_put(&o, p, (size_t)(open - p));
		if (r < 0)
			break;
		if (open + 2 < end && open[2] == '[')
			found = parse_action(open, end, 3, &a);
		if (!found)
			found = parse_action(open, end, 2, &a);
		if (!found || a.path_len >= sizeof(path)) {
			r = out_put(&o, open, 1);
			p = open + 1;
			continue;
		}
		memcpy(path, a.path, a.path_len);
		path[a.path_len] = '\0';
		if (a.trim_left)
			while (o.n > 0 && is_space(o.p[o.n - 1]))
				o.p[--o.n] = '\0';
		v = data ? aur_kv_get(data, path) : NULL;
		if (v && v->kind == AUR_KV_SCALAR) {
			r = out_put(&o, v->value, strlen(v->value));
		} else {
			aur_warn("%s:%d: template key '.%s' is not set "
				 "(rendered empty)",
				 origin, line_of(in, open), path);
		}
		p = open + a.len;
		if (a.trim_right)
			while (p < end && is_space(*p))
				p++;
	}
	if (r < 0) {
		free(o.p);
		return r;
	}
	*out = o.p;
	*outlen = o.n;
	return 0;
}
