// SPDX-License-Identifier: GPL-2.0-or-later
#include <aurora/kv.h>
#include <aurora/log.h>
#include <aurora/template.h>

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Longer paths are not actions: no --set key is that long. */
#define PATH_LEN_MAX 256

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

/* Line numbers found as the input is scanned: each byte is looked at once. */
struct line_counter {
	const char *pos; /* counted up to here */
	int line; /* the line of @pos */
};

static int line_at(struct line_counter *lc, const char *pos)
{
	const char *nl;

	while ((nl = memchr(lc->pos, '\n', (size_t)(pos - lc->pos)))) {
		lc->line++;
		lc->pos = nl + 1;
	}
	lc->pos = pos;
	return lc->line;
}

/* The keys that were not set, once each, in the order of their first use;
 * a hash table of indices into @v finds them. */
struct missing_key {
	char *path;
	int line; /* of the first use */
	size_t uses;
};

struct missing_set {
	struct missing_key *v;
	size_t n, cap;
	size_t *slots; /* index + 1 into v, 0 when free */
	size_t nslots; /* a power of two, at least twice n */
};

/* FNV-1a */
static uint64_t hash_path(const char *s)
{
	uint64_t h = 14695981039346656037ULL;

	while (*s)
		h = (h ^ (unsigned char)*s++) * 1099511628211ULL;
	return h;
}

static size_t *missing_slot(struct missing_set *m, const char *path)
{
	size_t i = (size_t)(hash_path(path) & (m->nslots - 1));

	while (m->slots[i] && strcmp(m->v[m->slots[i] - 1].path, path) != 0)
		i = (i + 1) & (m->nslots - 1);
	return &m->slots[i];
}

/* Make room for one more key: the array and a table under half full. */
static int missing_grow(struct missing_set *m)
{
	if (m->n == m->cap) {
		size_t cap = m->cap ? m->cap * 2 : 16;
		struct missing_key *v = realloc(m->v, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		m->v = v;
		m->cap = cap;
	}
	if (2 * (m->n + 1) > m->nslots) {
		size_t nslots = m->nslots ? m->nslots * 2 : 64;
		size_t *old = m->slots;

		m->slots = calloc(nslots, sizeof(*m->slots));
		if (!m->slots) {
			m->slots = old;
			return -ENOMEM;
		}
		m->nslots = nslots;
		for (size_t i = 0; i < m->n; i++)
			*missing_slot(m, m->v[i].path) = i + 1;
		free(old);
	}
	return 0;
}

/* Count a use of @path, a key that is not set, at @line. */
static int missing_add(struct missing_set *m, const char *path, int line)
{
	size_t *slot;
	char *copy;

	if (m->nslots) {
		slot = missing_slot(m, path);
		if (*slot) {
			m->v[*slot - 1].uses++;
			return 0;
		}
	}
	if (missing_grow(m) < 0)
		return -ENOMEM;
	copy = strdup(path);
	if (!copy)
		return -ENOMEM;
	m->v[m->n] = (struct missing_key){copy, line, 1};
	*missing_slot(m, path) = ++m->n;
	return 0;
}

static void missing_warn(const struct missing_set *m, const char *origin)
{
	for (size_t i = 0; i < m->n; i++) {
		const struct missing_key *k = &m->v[i];

		if (k->uses == 1)
			aur_warn("%s:%d: template key '.%s' is not set "
				 "(rendered empty)",
				 origin, k->line, k->path);
		else
			aur_warn("%s:%d: template key '.%s' is not set "
				 "(rendered empty; used %zu times, first here)",
				 origin, k->line, k->path, k->uses);
	}
}

static void missing_free(struct missing_set *m)
{
	for (size_t i = 0; i < m->n; i++)
		free(m->v[i].path);
	free(m->v);
	free(m->slots);
}

struct render {
	const char *end;
	const struct aur_kv *data;
	const char *origin;
	struct aur_kv *used; /* may be NULL */
	struct outbuf out;
	struct line_counter lines;
	struct missing_set missing;
};

/* Render action @a that starts at @open. */
static int render_action(struct render *rd, const struct action *a,
			 const char *open)
{
	struct outbuf *o = &rd->out;
	const struct aur_kv *v;
	char path[PATH_LEN_MAX];

	memcpy(path, a->path, a->path_len);
	path[a->path_len] = '\0';
	if (a->trim_left)
		while (o->n > 0 && is_space(o->p[o->n - 1]))
			o->p[--o->n] = '\0';
	v = rd->data ? aur_kv_get(rd->data, path) : NULL;
	if (!v || v->kind != AUR_KV_SCALAR)
		return missing_add(&rd->missing, path,
				   line_at(&rd->lines, open));
	if (rd->used && !aur_kv_get(rd->used, path)) {
		int r = aur_kv_set(rd->used, path, "", false, rd->origin,
				   line_at(&rd->lines, open));

		if (r < 0)
			return r;
	}
	return out_put(o, v->value, strlen(v->value));
}

/* Copy or render what starts at *@p and move *@p past it. */
static int render_next(struct render *rd, const char **p)
{
	const char *open = memmem(*p, (size_t)(rd->end - *p), "[[", 2);
	struct action a;
	bool found = false;
	int r;

	if (!open) {
		r = out_put(&rd->out, *p, (size_t)(rd->end - *p));
		*p = rd->end;
		return r;
	}
	r = out_put(&rd->out, *p, (size_t)(open - *p));
	if (r < 0)
		return r;
	if (open + 2 < rd->end && open[2] == '[')
		found = parse_action(open, rd->end, 3, &a);
	if (!found)
		found = parse_action(open, rd->end, 2, &a);
	if (!found || a.path_len >= PATH_LEN_MAX) {
		*p = open + 1;
		return out_put(&rd->out, open, 1);
	}
	r = render_action(rd, &a, open);
	*p = open + a.len;
	if (a.trim_right)
		while (*p < rd->end && is_space(**p))
			(*p)++;
	return r;
}

int aur_template_render(const char *in, size_t len, const struct aur_kv *data,
			const char *origin, struct aur_kv *used, char **out,
			size_t *outlen)
{
	struct render rd = {
		.end = in + len,
		.data = data,
		.origin = origin,
		.used = used,
		.lines = {in, 1},
	};
	const char *p = in;
	int r = out_put(&rd.out, "", 0);

	while (r == 0 && p < rd.end)
		r = render_next(&rd, &p);
	if (r == 0)
		missing_warn(&rd.missing, origin);
	missing_free(&rd.missing);
	if (r < 0) {
		free(rd.out.p);
		return r;
	}
	*out = rd.out.p;
	*outlen = rd.out.n;
	return 0;
}
