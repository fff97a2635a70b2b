// SPDX-License-Identifier: GPL-2.0-or-later
#include <aurora/iso9660.h>
#include <aurora/log.h>
#include <aurora/source.h>
#include <aurora/util.h>

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#define MAX_DEPTH 64
#define MAX_DIRS 200000
#define MAX_DIR_SIZE (16u << 20)
#define VD_ROOT_RECORD 156

uint16_t iso_le16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

uint32_t iso_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

uint32_t iso_be32(const uint8_t *p)
{
	return (uint32_t)p[3] | (uint32_t)p[2] << 8 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[0] << 24;
}

void iso_put_le16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

void iso_put_be16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

void iso_put_le32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

void iso_put_be32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[3 - i] = (uint8_t)(v >> (8 * i));
}

void iso_put_both16(uint8_t *p, uint16_t v)
{
	iso_put_le16(p, v);
	iso_put_be16(p + 2, v);
}

void iso_put_both32(uint8_t *p, uint32_t v)
{
	iso_put_le32(p, v);
	iso_put_be32(p + 4, v);
}

uint32_t iso_rec_extent(const struct aur_iso_rec *r)
{
	return iso_le32(r->raw + 2);
}

uint32_t iso_rec_size(const struct aur_iso_rec *r)
{
	return iso_le32(r->raw + 10);
}

uint8_t iso_rec_flags(const struct aur_iso_rec *r)
{
	return r->raw[25];
}

void iso_rec_set_extent(struct aur_iso_rec *r, uint32_t extent, uint32_t size)
{
	iso_put_both32(r->raw + 2, extent);
	iso_put_both32(r->raw + 10, size);
}

static uint8_t rec_id_len(const struct aur_iso_rec *r)
{
	return r->raw[32];
}

static const uint8_t *rec_id(const struct aur_iso_rec *r)
{
	return r->raw + 33;
}

/* Offset of the System Use area in a record. */
static size_t su_offset(const uint8_t *raw)
{
	size_t id_len = raw[32];

	return 33 + id_len + (id_len % 2 == 0 ? 1 : 0);
}

/* Find the SUSP entry @sig in a record; its length in *@len. */
static const uint8_t *susp_find(const struct aur_iso_rec *r, const char *sig,
				size_t *len)
{
	size_t off = su_offset(r->raw);

	while (off + 4 <= r->len) {
		const uint8_t *e = r->raw + off;

		if (e[2] < 4 || off + e[2] > r->len)
			break;
		if (e[0] == (uint8_t)sig[0] && e[1] == (uint8_t)sig[1]) {
			*len = e[2];
			return e;
		}
		off += e[2];
	}
	return NULL;
}

/* ---- names ---- */

static char *ucs2_to_utf8(const uint8_t *p, size_t n)
{
	char *s = malloc(n / 2 * 3 + 1), *o = s;

	if (!s)
		return NULL;
	for (size_t i = 0; i + 1 < n; i += 2) {
		unsigned c = (unsigned)p[i] << 8 | p[i + 1];

		if (c < 0x80) {
			*o++ = (char)c;
		} else if (c < 0x800) {
			*o++ = (char)(0xc0 | c >> 6);
			*o++ = (char)(0x80 | (c & 0x3f));
		} else {
			*o++ = (char)(0xe0 | c >> 12);
			*o++ = (char)(0x80 | ((c >> 6) & 0x3f));
			*o++ = (char)(0x80 | (c & 0x3f));
		}
	}
	*o = '\0';
	return s;
}

/* Strip ";1" and a trailing '.' of a file identifier. */
static size_t strip_version(const char *s, size_t n)
{
	const char *semi = memchr(s, ';', n);

	if (semi)
		n = (size_t)(semi - s);
	if (n > 1 && s[n - 1] == '.')
		n--;
	return n;
}

/* The name readers see for record @r in tree @t. */
static char *rec_name(const struct aur_iso_tree *t, const struct aur_iso_rec *r)
{
	size_t n;

	if (t->joliet) {
		char *s = ucs2_to_utf8(rec_id(r), rec_id_len(r));

		if (s)
			s[strip_version(s, strlen(s))] = '\0';
		return s;
	}
	if (t->rock_ridge) {
		const uint8_t *nm = susp_find(r, "NM", &n);

		if (nm && n > 5 && (nm[4] & 0x07) == 0)
			return strndup((const char *)nm + 5, n - 5);
	}
	{
		const char *id = (const char *)rec_id(r);
		char *s;

		n = strip_version(id, rec_id_len(r));
		s = strndup(id, n);
		for (char *p = s; p && *p; p++)
			*p = (char)tolower((unsigned char)*p);
		return s;
	}
}

/* ---- loading ---- */

static int dir_push(struct aur_iso_dir *d, const uint8_t *raw, uint8_t len,
		    size_t at)
{
	struct aur_iso_rec *r;

	if (d->n == d->cap) {
		size_t cap = d->cap ? d->cap * 2 : 8;
		struct aur_iso_rec *v = realloc(d->recs, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		d->recs = v;
		d->cap = cap;
	}
	memmove(&d->recs[at + 1], &d->recs[at], (d->n - at) * sizeof(*r));
	r = &d->recs[at];
	memset(r, 0, sizeof(*r));
	memcpy(r->raw, raw, len);
	r->len = len;
	d->n++;
	return 0;
}

struct loader {
	struct aur_iso_tree *t;
	struct aur_source *src;
	uint64_t image_size;
	const char *what;
};

static void note_end(struct aur_iso_tree *t, uint32_t extent, uint32_t size)
{
	uint32_t end = extent + (uint32_t)AUR_DIV_ROUND_UP(size, ISO_BLOCK);

	if (end > t->data_end)
		t->data_end = end;
}

static int load_dir(struct loader *l, struct aur_iso_dir *d, int depth)
{
	struct aur_iso_tree *t = l->t;
	uint64_t off = ((uint64_t)t->base + d->extent) * ISO_BLOCK;
	uint8_t *buf;
	int r = 0;

	if (depth > MAX_DEPTH || ++t->ndirs > MAX_DIRS) {
		aur_err("%s: directory tree too deep or too large", l->what);
		return -EINVAL;
	}
	if (d->size < 68 || d->size > MAX_DIR_SIZE ||
	    off + d->size > l->image_size) {
		aur_err("%s: directory at block %u has an impossible size "
			"(%u bytes)",
			l->what, d->extent, d->size);
		return -EINVAL;
	}
	note_end(t, d->extent, d->size);
	buf = malloc(d->size);
	if (!buf)
		return -ENOMEM;
	{
		ssize_t got = aur_source_pread(l->src, buf, d->size, off);

		if (got != (ssize_t)d->size) {
			free(buf);
			if (got >= 0)
				aur_err("%s: truncated at block %u", l->what,
					d->extent);
			return got < 0 ? (int)got : -EINVAL;
		}
	}
	for (uint32_t pos = 0; pos < d->size && r == 0;) {
		uint8_t len = buf[pos];
		uint32_t in_block = ISO_BLOCK - pos % ISO_BLOCK;

		if (len == 0) {
			pos += in_block; /* the rest of this block is padding */
			continue;
		}
		if (len < 34 || len > in_block || buf[pos + 32] + 33u > len) {
			aur_err("%s: malformed directory record in block %u",
				l->what, d->extent + pos / ISO_BLOCK);
			r = -EINVAL;
			break;
		}
		r = dir_push(d, buf + pos, len, d->n);
		pos += len;
	}
	free(buf);
	if (r < 0)
		return r;
	if (d->n < 2 || rec_id_len(&d->recs[0]) != 1 ||
	    rec_id(&d->recs[0])[0] != 0 || rec_id(&d->recs[1])[0] != 1) {
		aur_err("%s: directory at block %u lacks its '.' and '..' "
			"records",
			l->what, d->extent);
		return -EINVAL;
	}
	if (depth == 0 && !t->joliet) {
		size_t n;
		const uint8_t *sp = susp_find(&d->recs[0], "SP", &n);

		t->rock_ridge = sp && n >= 7 && sp[4] == 0xbe && sp[5] == 0xef;
	}
	for (size_t i = 2; i < d->n && r == 0; i++) {
		struct aur_iso_rec *rec = &d->recs[i];

		rec->name = rec_name(t, rec);
		if (!rec->name)
			return -ENOMEM;
		if (!t->joliet && rec_id_len(rec) > 12)
			t->long_names = true;
		if (!(iso_rec_flags(rec) & ISO_DIR_FLAG)) {
			note_end(t, iso_rec_extent(rec), iso_rec_size(rec));
			continue;
		}
		rec->dir = calloc(1, sizeof(*rec->dir));
		if (!rec->dir)
			return -ENOMEM;
		rec->dir->parent = d;
		rec->dir->extent = rec->dir->new_extent = iso_rec_extent(rec);
		rec->dir->size = rec->dir->new_size = iso_rec_size(rec);
		r = load_dir(l, rec->dir, depth + 1);
	}
	return r;
}

int aur_iso_tree_load(struct aur_iso_tree *t, struct aur_source *src,
		      uint64_t image_size, uint32_t base, uint32_t vd_block,
		      const char *what)
{
	struct loader l = {t, src, image_size, what};
	const uint8_t *esc;
	ssize_t got;

	memset(t, 0, sizeof(*t));
	t->base = base;
	t->vd_block = vd_block;
	got = aur_source_pread(src, t->vd, ISO_BLOCK,
			       (uint64_t)vd_block * ISO_BLOCK);
	if (got < 0)
		return (int)got;
	if (got != ISO_BLOCK || memcmp(t->vd + 1, "CD001", 5) != 0 ||
	    (t->vd[0] != 1 && t->vd[0] != 2)) {
		aur_err("%s: no ISO 9660 volume descriptor at block %u", what,
			vd_block);
		return -EINVAL;
	}
	esc = t->vd + 88;
	t->joliet = t->vd[0] == 2 && esc[0] == '%' && esc[1] == '/' &&
		    (esc[2] == '@' || esc[2] == 'C' || esc[2] == 'E');
	if (iso_le16(t->vd + 128) != ISO_BLOCK) {
		aur_err("%s: logical block size %u is not supported", what,
			iso_le16(t->vd + 128));
		return -EINVAL;
	}
	t->root = calloc(1, sizeof(*t->root));
	if (!t->root)
		return -ENOMEM;
	t->root->extent = t->root->new_extent =
		iso_le32(t->vd + VD_ROOT_RECORD + 2);
	t->root->size = t->root->new_size =
		iso_le32(t->vd + VD_ROOT_RECORD + 10);
	note_end(t, iso_le32(t->vd + 140), iso_le32(t->vd + 132));
	note_end(t, iso_be32(t->vd + 148), iso_le32(t->vd + 132));
	return load_dir(&l, t->root, 0);
}

static void dir_free(struct aur_iso_dir *d)
{
	if (!d)
		return;
	for (size_t i = 0; i < d->n; i++) {
		free(d->recs[i].name);
		if (i >= 2)
			dir_free(d->recs[i].dir);
	}
	free(d->recs);
	free(d);
}

void aur_iso_tree_release(struct aur_iso_tree *t)
{
	dir_free(t->root);
	t->root = NULL;
}

struct aur_iso_rec *aur_iso_dir_find(struct aur_iso_dir *dir, const char *name)
{
	for (size_t i = 2; i < dir->n; i++)
		if (dir->recs[i].name && strcmp(dir->recs[i].name, name) == 0)
			return &dir->recs[i];
	return NULL;
}

/* ---- new records ---- */

/* ECMA-119 9.3 order: name, then extension, each padded with spaces (the
 * same rule orders Joliet's UCS-2 names, with zero bytes as padding). */
static int id_compare(const uint8_t *a, size_t an, const uint8_t *b, size_t bn,
		      bool joliet)
{
	const uint8_t pad = joliet ? 0 : ' ';
	size_t n = AUR_MAX(an, bn);

	for (size_t i = 0; i < n; i++) {
		uint8_t x = i < an ? a[i] : pad, y = i < bn ? b[i] : pad;

		if (!joliet) {
			/* the version separator sorts before any character */
			x = x == ';' ? 0 : x;
			y = y == ';' ? 0 : y;
		}
		if (x != y)
			return x < y ? -1 : 1;
	}
	return 0;
}

/* d-characters for a primary name; everything else becomes '_' */
static char d_char(char c)
{
	c = (char)toupper((unsigned char)c);
	return (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ? c : '_';
}

/* The ECMA-119 identifier for @name: 8.3 or up to 30 characters. */
static size_t primary_id(const struct aur_iso_tree *t, const char *name,
			 bool is_dir, unsigned serial, uint8_t *out)
{
	size_t name_max = t->long_names ? 30 : 8,
	       ext_max = t->long_names ? 30 : 3;
	const char *dot = is_dir ? NULL : strrchr(name, '.');
	size_t base_len = dot ? (size_t)(dot - name) : strlen(name);
	size_t n = 0, ext_len = dot ? strlen(dot + 1) : 0;
	char suffix[12] = "";

	if (serial)
		snprintf(suffix, sizeof(suffix), "_%u", serial);
	if (dot && t->long_names) {
		/* level 2: name and extension share 30 characters */
		ext_len = AUR_MIN(ext_len, (size_t)29);
		name_max = 30 - ext_len - 1;
	}
	base_len = AUR_MIN(base_len, name_max - strlen(suffix));
	for (size_t i = 0; i < base_len; i++)
		out[n++] = (uint8_t)d_char(name[i]);
	memcpy(out + n, suffix, strlen(suffix));
	n += strlen(suffix);
	if (!is_dir) {
		out[n++] = '.';
		for (size_t i = 0; i < AUR_MIN(ext_len, ext_max); i++)
			out[n++] = (uint8_t)d_char(dot[1 + i]);
		out[n++] = ';';
		out[n++] = '1';
	}
	return n;
}

/* UTF-8 @name as UCS-2BE; 0 if it does not fit Joliet's 64 characters. */
static size_t joliet_id(const char *name, unsigned serial, uint8_t *out)
{
	char buf[300];
	const unsigned char *p;
	size_t n = 0;

	if (serial)
		snprintf(buf, sizeof(buf), "%u_%s", serial, name);
	else
		snprintf(buf, sizeof(buf), "%s", name);
	for (p = (const unsigned char *)buf; *p;) {
		unsigned c;

		if (*p < 0x80) {
			c = *p++;
		} else if ((*p & 0xe0) == 0xc0 && (p[1] & 0xc0) == 0x80) {
			c = (unsigned)(p[0] & 0x1f) << 6 | (p[1] & 0x3f);
			p += 2;
		} else if ((*p & 0xf0) == 0xe0 && (p[1] & 0xc0) == 0x80 &&
			   (p[2] & 0xc0) == 0x80) {
			c = (unsigned)(p[0] & 0x0f) << 12 |
			    (unsigned)(p[1] & 0x3f) << 6 | (p[2] & 0x3f);
			p += 3;
		} else {
			return 0; /* not UTF-8, or outside UCS-2 */
		}
		if (c == '*' || c == '/' || c == ':' || c == ';' || c == '?' ||
		    c == '\\' || c < 0x20)
			c = '_';
		if (n >= 128)
			return 0;
		out[n++] = (uint8_t)(c >> 8);
		out[n++] = (uint8_t)c;
	}
	return n;
}

static bool id_taken(const struct aur_iso_dir *dir, const uint8_t *id, size_t n,
		     bool joliet)
{
	for (size_t i = 2; i < dir->n; i++) {
		const struct aur_iso_rec *r = &dir->recs[i];
		size_t rn = rec_id_len(r), m = n;

		/* compare without the ";1" version */
		if (!joliet) {
			const void *semi = memchr(rec_id(r), ';', rn);

			if (semi)
				rn = (size_t)((const uint8_t *)semi -
					      rec_id(r));
			semi = memchr(id, ';', n);
			if (semi)
				m = (size_t)((const uint8_t *)semi - id);
		}
		if (rn == m && memcmp(rec_id(r), id, m) == 0)
			return true;
	}
	return false;
}

static void put_date7(uint8_t *p, time_t t)
{
	struct tm tm;

	gmtime_r(&t, &tm);
	p[0] = (uint8_t)tm.tm_year;
	p[1] = (uint8_t)(tm.tm_mon + 1);
	p[2] = (uint8_t)tm.tm_mday;
	p[3] = (uint8_t)tm.tm_hour;
	p[4] = (uint8_t)tm.tm_min;
	p[5] = (uint8_t)tm.tm_sec;
	p[6] = 0; /* UTC */
}

int aur_iso_dir_add(struct aur_iso_tree *t, struct aur_iso_dir *dir,
		    const char *name, bool is_dir, uint32_t mode, time_t mtime,
		    struct aur_iso_dir *sub, struct aur_iso_rec **out)
{
	const struct aur_iso_rec *tmpl = &t->root->recs[1];
	uint8_t raw[255] = {0}, id[256];
	size_t id_len = 0, pos, n;
	unsigned serial = 0;
	int r;

	if (!*name || strchr(name, '/') || strlen(name) > 200)
		return -ENAMETOOLONG;
	do {
		id_len = t->joliet ? joliet_id(name, serial, id)
				   : primary_id(t, name, is_dir, serial, id);
		if (id_len == 0)
			return -ENAMETOOLONG;
	} while (id_taken(dir, id, id_len, t->joliet) && ++serial < 1000);
	pos = 33 + id_len + (id_len % 2 == 0 ? 1 : 0);
	if (t->rock_ridge) {
		const uint8_t *px = susp_find(tmpl, "PX", &n);
		size_t px_len = px ? n : 36;
		size_t name_len = strlen(name);

		if (pos + px_len + 26 + 5 + name_len > 255)
			return -ENAMETOOLONG;
		/* PX: mode, links, uid, gid (and a serial number in 1.12) */
		memcpy(raw + pos, "PX", 2);
		raw[pos + 2] = (uint8_t)px_len;
		raw[pos + 3] = 1;
		iso_put_both32(raw + pos + 4, mode);
		iso_put_both32(raw + pos + 12, is_dir ? 2 : 1);
		pos += px_len;
		/* TF: modification, access and attribute-change times */
		memcpy(raw + pos, "TF", 2);
		raw[pos + 2] = 26;
		raw[pos + 3] = 1;
		raw[pos + 4] = 0x0e;
		for (int i = 0; i < 3; i++)
			put_date7(raw + pos + 5 + 7 * i, mtime);
		pos += 26;
		/* NM: the name as it is */
		memcpy(raw + pos, "NM", 2);
		raw[pos + 2] = (uint8_t)(5 + name_len);
		raw[pos + 3] = 1;
		raw[pos + 4] = 0;
		memcpy(raw + pos + 5, name, name_len);
		pos += 5 + name_len;
	}
	if (pos % 2)
		pos++; /* records have an even length */
	raw[0] = (uint8_t)pos;
	put_date7(raw + 18, mtime);
	raw[25] = is_dir ? ISO_DIR_FLAG : 0;
	iso_put_both16(raw + 28, 1);
	raw[32] = (uint8_t)id_len;
	memcpy(raw + 33, id, id_len);

	for (n = 2; n < dir->n; n++)
		if (id_compare(id, id_len, rec_id(&dir->recs[n]),
			       rec_id_len(&dir->recs[n]), t->joliet) < 0)
			break;
	r = dir_push(dir, raw, (uint8_t)pos, n);
	if (r < 0)
		return r;
	dir->recs[n].name = strdup(name);
	if (!dir->recs[n].name)
		return -ENOMEM;
	dir->recs[n].dir = sub;
	dir->modified = true;
	if (out)
		*out = &dir->recs[n];
	return 0;
}

struct aur_iso_dir *aur_iso_dir_new(struct aur_iso_dir *parent)
{
	const struct aur_iso_dir *root = parent;
	struct aur_iso_dir *d = calloc(1, sizeof(*d));

	if (!d)
		return NULL;
	d->parent = parent;
	d->created = d->modified = true;
	while (root->parent)
		root = root->parent;
	/* "." and "..": copies of the root's ".." record, which carries the
	 * tree's Rock Ridge fields but not the root-only SP and CE */
	for (uint8_t i = 0; i < 2; i++) {
		if (dir_push(d, root->recs[1].raw, root->recs[1].len, i) < 0) {
			dir_free(d);
			return NULL;
		}
		d->recs[i].raw[33] = i;
	}
	return d;
}

/* ---- serialising ---- */

uint32_t aur_iso_dir_serialised_size(const struct aur_iso_dir *dir)
{
	uint32_t pos = 0;

	for (size_t i = 0; i < dir->n; i++) {
		uint32_t len = dir->recs[i].len;

		if (pos % ISO_BLOCK + len > ISO_BLOCK)
			pos = (uint32_t)AUR_DIV_ROUND_UP(pos, ISO_BLOCK) *
			      ISO_BLOCK;
		pos += len;
	}
	return (uint32_t)AUR_DIV_ROUND_UP(pos, ISO_BLOCK) * ISO_BLOCK;
}

void aur_iso_dir_serialise(const struct aur_iso_tree *t,
			   const struct aur_iso_dir *dir, uint8_t *buf)
{
	const struct aur_iso_dir *parent = dir->parent ? dir->parent : dir;
	uint32_t pos = 0;

	memset(buf, 0, aur_iso_dir_serialised_size(dir));
	for (size_t i = 0; i < dir->n; i++) {
		struct aur_iso_rec r = dir->recs[i];

		if (i == 0)
			iso_rec_set_extent(&r, dir->new_extent, dir->new_size);
		else if (i == 1)
			iso_rec_set_extent(&r, parent->new_extent,
					   parent->new_size);
		else if (r.dir)
			iso_rec_set_extent(&r, r.dir->new_extent,
					   r.dir->new_size);
		if (pos % ISO_BLOCK + r.len > ISO_BLOCK)
			pos = (uint32_t)AUR_DIV_ROUND_UP(pos, ISO_BLOCK) *
			      ISO_BLOCK;
		memcpy(buf + pos, r.raw, r.len);
		pos += r.len;
	}
}

/* ---- path tables ---- */

static size_t bfs_order(struct aur_iso_tree *t, struct aur_iso_dir ***out)
{
	size_t n = 0, cap = 16, head = 0;
	struct aur_iso_dir **q = malloc(cap * sizeof(*q));

	if (!q)
		return 0;
	q[n++] = t->root;
	while (head < n) {
		struct aur_iso_dir *d = q[head++];

		d->pt_number = (unsigned)head;
		for (size_t i = 2; i < d->n; i++) {
			if (!d->recs[i].dir)
				continue;
			if (n == cap) {
				struct aur_iso_dir **v =
					realloc(q, 2 * cap * sizeof(*q));

				if (!v) {
					free(q);
					return 0;
				}
				q = v;
				cap *= 2;
			}
			q[n++] = d->recs[i].dir;
		}
	}
	*out = q;
	return n;
}

/* the record in @d's parent that names @d */
static const struct aur_iso_rec *naming_rec(const struct aur_iso_dir *d)
{
	for (size_t i = 2; i < d->parent->n; i++)
		if (d->parent->recs[i].dir == d)
			return &d->parent->recs[i];
	return NULL;
}

uint32_t aur_iso_path_table_prepare(struct aur_iso_tree *t)
{
	struct aur_iso_dir **q;
	size_t n = bfs_order(t, &q);
	uint32_t size = 0;

	for (size_t i = 0; i < n; i++) {
		size_t id_len = i == 0 ? 1 : rec_id_len(naming_rec(q[i]));

		size += (uint32_t)(8 + id_len + id_len % 2);
	}
	free(q);
	return size;
}

void aur_iso_path_table_write(const struct aur_iso_tree *t, bool big_endian,
			      uint8_t *buf)
{
	struct aur_iso_dir **q;
	size_t n = bfs_order((struct aur_iso_tree *)t, &q), pos = 0;

	for (size_t i = 0; i < n; i++) {
		const struct aur_iso_dir *d = q[i];
		const struct aur_iso_rec *r = i == 0 ? NULL : naming_rec(d);
		size_t id_len = r ? rec_id_len(r) : 1;
		unsigned parent = d->parent ? d->parent->pt_number : 1;

		buf[pos] = (uint8_t)id_len;
		buf[pos + 1] = 0;
		if (big_endian) {
			iso_put_be32(buf + pos + 2, d->new_extent);
			iso_put_be16(buf + pos + 6, (uint16_t)parent);
		} else {
			iso_put_le32(buf + pos + 2, d->new_extent);
			iso_put_le16(buf + pos + 6, (uint16_t)parent);
		}
		if (r)
			memcpy(buf + pos + 8, rec_id(r), id_len);
		else
			buf[pos + 8] = 0;
		if (id_len % 2)
			buf[pos + 8 + id_len] = 0;
		pos += 8 + id_len + id_len % 2;
	}
	free(q);
}

static void walk(struct aur_iso_dir *d,
		 void (*fn)(struct aur_iso_dir *d, void *ctx), void *ctx)
{
	fn(d, ctx);
	for (size_t i = 2; i < d->n; i++)
		if (d->recs[i].dir)
			walk(d->recs[i].dir, fn, ctx);
}

void aur_iso_tree_walk(struct aur_iso_tree *t,
		       void (*fn)(struct aur_iso_dir *d, void *ctx), void *ctx)
{
	walk(t->root, fn, ctx);
}
