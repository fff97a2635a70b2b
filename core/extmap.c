// SPDX-License-Identifier: GPL-2.0-or-later
#include <aurora/extmap.h>
#include <aurora/source.h>
#include <aurora/util.h>

#include <assert.h>
#include <errno.h>
#include <string.h>

void aur_extmap_init(struct aur_extmap *m)
{
	memset(m, 0, sizeof(*m));
}

void aur_extmap_release(struct aur_extmap *m)
{
	free(m->v);
	memset(m, 0, sizeof(*m));
}

static struct aur_extent *append(struct aur_extmap *m, enum aur_ext_kind kind,
				 const char *what, uint64_t len)
{
	struct aur_extent *e;

	if (m->n == m->cap) {
		size_t cap = m->cap ? m->cap * 2 : 8;
		struct aur_extent *v = realloc(m->v, cap * sizeof(*v));

		if (!v)
			return NULL;
		m->v = v;
		m->cap = cap;
	}
	e = &m->v[m->n++];
	memset(e, 0, sizeof(*e));
	e->start = m->size;
	e->len = len;
	e->kind = kind;
	e->what = what;
	m->size += len;
	return e;
}

int aur_extmap_add_mem(struct aur_extmap *m, const char *what, const void *mem,
		       uint64_t len)
{
	struct aur_extent *e;

	if (len == 0)
		return 0;
	e = append(m, AUR_EXT_MEM, what, len);
	if (!e)
		return -ENOMEM;
	e->u.mem = mem;
	return 0;
}

int aur_extmap_add_zero(struct aur_extmap *m, const char *what, uint64_t len)
{
	if (len == 0)
		return 0;
	if (m->n > 0 && m->v[m->n - 1].kind == AUR_EXT_ZERO) {
		m->v[m->n - 1].len += len;
		m->size += len;
		return 0;
	}
	return append(m, AUR_EXT_ZERO, what, len) ? 0 : -ENOMEM;
}

static const struct aur_source_ops map_source_ops;

/* Add bytes [@off, @off + @len) of @inner as the extents they lie in. */
static int add_view(struct aur_extmap *m, const struct aur_extmap *inner,
		    uint64_t off, uint64_t len)
{
	size_t i = aur_extmap_find(inner, off);
	int r = 0;

	while (len > 0 && r == 0) {
		const struct aur_extent *e = &inner->v[i++];
		uint64_t in = off - e->start;
		uint64_t k = AUR_MIN(e->len - in, len);

		switch (e->kind) {
		case AUR_EXT_MEM:
			r = aur_extmap_add_mem(m, e->what, e->u.mem + in, k);
			break;
		case AUR_EXT_ZERO:
			r = aur_extmap_add_zero(m, e->what, k);
			break;
		case AUR_EXT_SOURCE:
			r = aur_extmap_add_source(m, e->what, e->u.s.src,
						  e->u.s.off + in, k);
			break;
		}
		off += k;
		len -= k;
	}
	return r;
}

int aur_extmap_add_source(struct aur_extmap *m, const char *what,
			  struct aur_source *src, uint64_t off, uint64_t len)
{
	struct aur_extent *e;

	if (len == 0)
		return 0;
	if (off > src->size || len > src->size - off)
		return -EINVAL; /* outside the source: a builder's mistake */
	if (src->ops == &map_source_ops)
		return add_view(m, ((struct aur_extmap_source *)src)->map, off,
				len);
	if (m->n > 0) {
		e = &m->v[m->n - 1];
		if (e->kind == AUR_EXT_SOURCE && e->u.s.src == src &&
		    e->u.s.off + e->len == off) {
			e->len += len;
			m->size += len;
			return 0;
		}
	}
	e = append(m, AUR_EXT_SOURCE, what, len);
	if (!e)
		return -ENOMEM;
	e->u.s.src = src;
	e->u.s.off = off;
	return 0;
}

size_t aur_extmap_find(const struct aur_extmap *m, uint64_t off)
{
	size_t lo = 0, hi = m->n;

	assert(off < m->size);
	while (hi - lo > 1) {
		size_t mid = lo + (hi - lo) / 2;

		if (m->v[mid].start <= off)
			lo = mid;
		else
			hi = mid;
	}
	return lo;
}

/* The run of extent @e for bytes [@in, @in + @n) of it: the first part. */
static int extent_run(const struct aur_extent *e, uint64_t in, size_t n,
		      struct aur_run *run)
{
	switch (e->kind) {
	case AUR_EXT_MEM:
		run->kind = AUR_RUN_MEM;
		run->mem = e->u.mem + in;
		run->len = n;
		return 0;
	case AUR_EXT_ZERO:
		run->kind = AUR_RUN_ZERO;
		run->len = n;
		return 0;
	case AUR_EXT_SOURCE:
		return e->u.s.src->ops->get_run(e->u.s.src, e->u.s.off + in, n,
						run);
	}
	return -EINVAL;
}

int aur_extmap_walk(const struct aur_extmap *m, uint64_t off, size_t n,
		    aur_run_fn fn, void *ctx)
{
	size_t done = 0, i;

	if (off >= m->size || n == 0)
		return 0;
	n = (size_t)AUR_MIN((uint64_t)n, m->size - off);
	i = aur_extmap_find(m, off);
	while (done < n) {
		const struct aur_extent *e = &m->v[i];
		uint64_t in = off + done - e->start;
		size_t k = (size_t)AUR_MIN(e->len - in, (uint64_t)(n - done));
		struct aur_run run;
		int r = extent_run(e, in, k, &run);

		if (r < 0)
			return r;
		if (run.len == 0 || run.len > k)
			return -EIO; /* a source that broke its contract */
		r = fn(ctx, &run);
		if (r < 0)
			return r;
		done += run.len;
		if (run.len == k)
			i++;
	}
	return 0;
}

struct copy_ctx {
	uint8_t *dst;
};

static int copy_run(void *ctx, const struct aur_run *run)
{
	struct copy_ctx *c = ctx;
	ssize_t got;

	switch (run->kind) {
	case AUR_RUN_MEM:
		memcpy(c->dst, run->mem, run->len);
		break;
	case AUR_RUN_ZERO:
		memset(c->dst, 0, run->len);
		break;
	case AUR_RUN_FD:
		got = aur_pread_full(run->fd, c->dst, run->len, run->fd_off);
		if (got < 0)
			return (int)got;
		if ((size_t)got != run->len)
			return -EIO; /* the file shrank under us */
		break;
	}
	c->dst += run->len;
	return 0;
}

ssize_t aur_extmap_pread(const struct aur_extmap *m, void *buf, size_t n,
			 uint64_t off)
{
	struct copy_ctx c = {buf};
	int r;

	if (off >= m->size)
		return 0;
	n = (size_t)AUR_MIN((uint64_t)n, m->size - off);
	r = aur_extmap_walk(m, off, n, copy_run, &c);
	return r < 0 ? r : (ssize_t)n;
}

enum aur_trust aur_extmap_trust(const struct aur_extmap *m)
{
	enum aur_trust t = AUR_TRUST_VERIFIED;

	for (size_t i = 0; i < m->n && t != AUR_TRUST_PENDING; i++) {
		const struct aur_extent *e = &m->v[i];

		if (e->kind == AUR_EXT_SOURCE)
			t = AUR_MIN(t, aur_source_trust(e->u.s.src));
	}
	return t;
}

int aur_extmap_settle(const struct aur_extmap *m)
{
	for (size_t i = 0; i < m->n; i++) {
		const struct aur_extent *e = &m->v[i];
		int r;

		if (e->kind != AUR_EXT_SOURCE ||
		    (i > 0 && m->v[i - 1].kind == AUR_EXT_SOURCE &&
		     m->v[i - 1].u.s.src == e->u.s.src))
			continue;
		r = aur_source_settle(e->u.s.src);
		if (r < 0)
			return r;
	}
	return 0;
}

void aur_extmap_check(const struct aur_extmap *m)
{
	uint64_t pos = 0;

	for (size_t i = 0; i < m->n; i++) {
		assert(m->v[i].start == pos);
		assert(m->v[i].len > 0);
		pos += m->v[i].len;
	}
	assert(pos == m->size);
	(void)pos;
}

static int map_get_run(struct aur_source *src, uint64_t off, size_t n,
		       struct aur_run *run)
{
	const struct aur_extmap *m = ((struct aur_extmap_source *)src)->map;
	const struct aur_extent *e = &m->v[aur_extmap_find(m, off)];
	uint64_t in = off - e->start;

	return extent_run(e, in, (size_t)AUR_MIN((uint64_t)n, e->len - in),
			  run);
}

static enum aur_trust map_trust(struct aur_source *src)
{
	return aur_extmap_trust(((struct aur_extmap_source *)src)->map);
}

static int map_settle(struct aur_source *src)
{
	return aur_extmap_settle(((struct aur_extmap_source *)src)->map);
}

static const struct aur_source_ops map_source_ops = {
	.get_run = map_get_run,
	.trust = map_trust,
	.settle = map_settle,
};

void aur_extmap_source_init(struct aur_extmap_source *es,
			    const struct aur_extmap *m)
{
	es->src.ops = &map_source_ops;
	es->src.size = m->size;
	es->map = m;
}
