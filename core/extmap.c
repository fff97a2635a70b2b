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

int aur_extmap_add_source(struct aur_extmap *m, const char *what,
			  struct aur_source *src, uint64_t off, uint64_t len)
{
	struct aur_extent *e;

	if (len == 0)
		return 0;
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

ssize_t aur_extmap_pread(const struct aur_extmap *m, void *buf, size_t n,
			 uint64_t off)
{
	size_t done = 0, i;

	if (off >= m->size || n == 0)
		return 0;
	if (n > m->size - off)
		n = (size_t)(m->size - off);
	i = aur_extmap_find(m, off);
	while (done < n) {
		const struct aur_extent *e = &m->v[i];
		uint64_t in = off + done - e->start;
		size_t k = (size_t)AUR_MIN(e->len - in, (uint64_t)(n - done));
		char *dst = (char *)buf + done;

		switch (e->kind) {
		case AUR_EXT_MEM:
			memcpy(dst, e->u.mem + in, k);
			break;
		case AUR_EXT_ZERO:
			memset(dst, 0, k);
			break;
		case AUR_EXT_SOURCE: {
			ssize_t r = e->u.s.src->ops->pread(e->u.s.src, dst, k,
							   e->u.s.off + in);

			if (r < 0)
				return r;
			if ((size_t)r != k)
				return -EIO; /* the source shrank */
			break;
		}
		}
		done += k;
		i++;
	}
	return (ssize_t)done;
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
