// SPDX-License-Identifier: GPL-2.0-or-later
#include <aurora/iso9660.h>
#include <aurora/log.h>
#include <aurora/source.h>
#include <aurora/util.h>

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#define MAX_DEPTH 64
#define MAX_DIRS 200000
#define MAX_DIR_SIZE (16u << 20)
#define VD_ROOT_RECORD 156
#define REC_MAX 254 /* records have an even length of at most 255 */
#define CE_HOPS 8 /* continuation areas followed for one name */
#define NAME_MAX_RR 255 /* what Linux can name */
#define SERIAL_MAX 9999999u
#define JOLIET_MAX 64 /* characters of a Joliet identifier */
#define JOLIET_EXT_MAX 16 /* an extension kept when a name is cut */
/* Rock Ridge flags */
#define NM_CONTINUE 0x01
#define NM_CURRENT 0x02
#define NM_PARENT 0x04
#define SL_CONTINUE 0x01
#define SL_CURRENT 0x02
#define SL_PARENT 0x04
#define SL_ROOT 0x08

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

static bool rec_is_dir(const struct aur_iso_rec *r)
{
	return iso_rec_flags(r) & ISO_DIR_FLAG;
}

/* Offset of the System Use area in a record. */
static size_t su_offset(const uint8_t *raw)
{
	size_t id_len = raw[32];

	return 33 + id_len + (id_len % 2 == 0 ? 1 : 0);
}

/* Find the SUSP entry @sig in @len bytes of SUSP entries from @off of @p;
 * its length in *@elen. */
static const uint8_t *susp_find(const uint8_t *p, size_t len, size_t off,
				const char *sig, size_t *elen)
{
	while (off + 4 <= len) {
		const uint8_t *e = p + off;

		if (e[2] < 4 || off + e[2] > len)
			break;
		if (e[0] == 'S' && e[1] == 'T')
			break;
		if (e[0] == (uint8_t)sig[0] && e[1] == (uint8_t)sig[1]) {
			*elen = e[2];
			return e;
		}
		off += e[2];
	}
	return NULL;
}

static const uint8_t *rec_susp_find(const struct aur_iso_tree *t,
				    const struct aur_iso_rec *r,
				    const char *sig, size_t *elen)
{
	return susp_find(r->raw, r->len, su_offset(r->raw) + t->susp_skip, sig,
			 elen);
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

/*
 * The identifier character @i: a byte for ECMA-119, a UCS-2BE unit for
 * Joliet. Identifiers are compared, split and mangled one character at a
 * time through this, so that both kinds follow the same rules.
 */
static unsigned id_ch(const uint8_t *id, size_t i, bool joliet)
{
	return joliet ? (unsigned)id[2 * i] << 8 | id[2 * i + 1] : id[i];
}

/* Characters of the identifier as readers show it: without the ";"
 * version and without trailing dots (Linux strips both, for Joliet too). */
static size_t id_visible_len(const uint8_t *id, size_t bytes, bool joliet)
{
	size_t n = joliet ? bytes / 2 : bytes, k = 0;

	while (k < n && id_ch(id, k, joliet) != ';')
		k++;
	while (k > 1 && id_ch(id, k - 1, joliet) == '.')
		k--;
	return k;
}

struct loader {
	struct aur_iso_tree *t;
	struct aur_source *src;
	uint64_t image_size;
	const char *what;
};

/*
 * The Rock Ridge name of @r: its NM entries, continued across entries and
 * continuation areas. *@out is NULL if the record has none. 0, -EINVAL
 * for a malformed continuation area, or a read error.
 */
static int rr_name(struct loader *l, const struct aur_iso_rec *r, char **out)
{
	const struct aur_iso_tree *t = l->t;
	uint8_t area[ISO_BLOCK];
	const uint8_t *p = r->raw;
	size_t len = r->len, off = su_offset(r->raw) + t->susp_skip;
	char name[NAME_MAX_RR + 1];
	size_t n = 0;
	bool found = false;

	*out = NULL;
	for (int hop = 0;; hop++) {
		uint32_t ce_block = 0, ce_off = 0, ce_len = 0;
		bool ce = false;
		uint64_t at;
		ssize_t got;

		while (off + 4 <= len) {
			const uint8_t *e = p + off;

			if (e[2] < 4 || off + e[2] > len ||
			    (e[0] == 'S' && e[1] == 'T'))
				break;
			if (e[0] == 'C' && e[1] == 'E' && e[2] >= 28) {
				ce = true;
				ce_block = iso_le32(e + 4);
				ce_off = iso_le32(e + 12);
				ce_len = iso_le32(e + 20);
			} else if (e[0] == 'N' && e[1] == 'M' && e[2] >= 5 &&
				   !(e[4] & (NM_CURRENT | NM_PARENT))) {
				size_t k = AUR_MIN((size_t)e[2] - 5,
						   NAME_MAX_RR - n);

				memcpy(name + n, e + 5, k);
				n += k;
				found = true;
				if (!(e[4] & NM_CONTINUE))
					goto done;
			}
			off += e[2];
		}
		if (!ce || hop == CE_HOPS)
			break;
		at = ((uint64_t)t->base + ce_block) * ISO_BLOCK + ce_off;
		if (ce_off >= ISO_BLOCK || ce_len > ISO_BLOCK - ce_off ||
		    at + ce_len > l->image_size) {
			aur_err("%s: malformed Rock Ridge continuation area "
				"(block %u)",
				l->what, ce_block);
			return -EINVAL;
		}
		got = aur_source_pread(l->src, area, ce_len, at);
		if (got < 0)
			return (int)got;
		if ((size_t)got != ce_len) {
			aur_err("%s: truncated at block %u", l->what, ce_block);
			return -EINVAL;
		}
		p = area;
		len = ce_len;
		off = 0;
	}
	if (!found)
		return 0;
done:
	*out = strndup(name, n);
	return *out ? 0 : -ENOMEM;
}

/* The name readers see for record @r in tree @t. */
static int rec_name(struct loader *l, const struct aur_iso_rec *r, char **out)
{
	const struct aur_iso_tree *t = l->t;
	size_t n;
	char *s;

	if (t->joliet) {
		n = id_visible_len(rec_id(r), rec_id_len(r), true);
		*out = ucs2_to_utf8(rec_id(r), 2 * n);
		return *out ? 0 : -ENOMEM;
	}
	if (t->rock_ridge) {
		int err = rr_name(l, r, out);

		if (err < 0 || *out)
			return err;
	}
	n = id_visible_len(rec_id(r), rec_id_len(r), false);
	s = strndup((const char *)rec_id(r), n);
	for (char *p = s; p && *p; p++)
		*p = (char)tolower((unsigned char)*p);
	*out = s;
	return s ? 0 : -ENOMEM;
}

/* ---- loading ---- */

/* Insert @rec (taking what it owns) at index @at of @d. */
static int dir_insert(struct aur_iso_dir *d, const struct aur_iso_rec *rec,
		      size_t at)
{
	if (d->n == d->cap) {
		size_t cap = d->cap ? d->cap * 2 : 8;
		struct aur_iso_rec *v = realloc(d->recs, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		d->recs = v;
		d->cap = cap;
	}
	memmove(&d->recs[at + 1], &d->recs[at], (d->n - at) * sizeof(*rec));
	d->recs[at] = *rec;
	d->n++;
	return 0;
}

static int dir_push_raw(struct aur_iso_dir *d, const uint8_t *raw, uint8_t len)
{
	struct aur_iso_rec r;

	memset(&r, 0, sizeof(r));
	memcpy(r.raw, raw, len);
	r.len = len;
	return dir_insert(d, &r, d->n);
}

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
		/* a record never crosses a block, nor the directory's end */
		uint32_t room = AUR_MIN(in_block, d->size - pos);

		if (len == 0) {
			pos += in_block; /* the rest of this block is padding */
			continue;
		}
		if (len < 34 || len > room || buf[pos + 32] + 33u > len) {
			aur_err("%s: malformed directory record in block %u",
				l->what, d->extent + pos / ISO_BLOCK);
			r = -EINVAL;
			break;
		}
		r = dir_push_raw(d, buf + pos, len);
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
		const struct aur_iso_rec *rd = &d->recs[0];
		const uint8_t *sp = susp_find(rd->raw, rd->len,
					      su_offset(rd->raw), "SP", &n);

		t->rock_ridge = sp && n >= 7 && sp[4] == 0xbe && sp[5] == 0xef;
		t->susp_skip = t->rock_ridge ? sp[6] : 0;
	}
	for (size_t i = 2; i < d->n && r == 0; i++) {
		struct aur_iso_rec *rec = &d->recs[i];
		struct aur_iso_dir *sub;

		r = rec_name(l, rec, &rec->name);
		if (r < 0)
			return r;
		if (!t->joliet && rec_id_len(rec) > 12)
			t->long_names = true;
		if (!rec_is_dir(rec)) {
			note_end(t, iso_rec_extent(rec), iso_rec_size(rec));
			continue;
		}
		sub = calloc(1, sizeof(*sub));
		if (!sub)
			return -ENOMEM;
		rec->dir = sub;
		sub->parent = d;
		sub->extent = sub->new_extent = iso_rec_extent(rec);
		sub->size = sub->new_size = iso_rec_size(rec);
		/* recursion leaves d->recs alone: rec stays valid */
		r = load_dir(l, sub, depth + 1);
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

static void rec_free(struct aur_iso_rec *r)
{
	free(r->name);
	free(r->ce);
	r->name = NULL;
	r->ce = NULL;
}

static void dir_free(struct aur_iso_dir *d)
{
	if (!d)
		return;
	for (size_t i = 0; i < d->n; i++) {
		rec_free(&d->recs[i]);
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
	free(t->pt_order);
	t->pt_order = NULL;
	t->pt_n = 0;
}

bool aur_iso_tree_has_symlinks(const struct aur_iso_tree *t)
{
	return !t->joliet && t->rock_ridge;
}

size_t aur_iso_dir_find(const struct aur_iso_dir *dir, const char *name)
{
	for (size_t i = 2; i < dir->n; i++)
		if (dir->recs[i].name && strcmp(dir->recs[i].name, name) == 0)
			return i;
	return 0;
}

/* ---- identifiers ---- */

/* An identifier split as ECMA-119 9.3 sorts it: file name, extension
 * (after the first '.'; a directory has none) and version, in
 * characters. */
struct id_parts {
	size_t name, ext_at, ext;
	unsigned long version;
};

static void id_split(const uint8_t *id, size_t bytes, bool joliet, bool dir,
		     struct id_parts *o)
{
	size_t n = joliet ? bytes / 2 : bytes, semi = 0, dot;

	while (semi < n && id_ch(id, semi, joliet) != ';')
		semi++;
	o->version = 0;
	for (size_t i = semi + 1; i < n; i++) {
		unsigned c = id_ch(id, i, joliet);

		if (c < '0' || c > '9' || o->version > 100000)
			break;
		o->version = o->version * 10 + (c - '0');
	}
	for (dot = 0; !dir && dot < semi && id_ch(id, dot, joliet) != '.';)
		dot++;
	if (dir || dot == semi) {
		o->name = semi;
		o->ext_at = semi;
		o->ext = 0;
	} else {
		o->name = dot;
		o->ext_at = dot + 1;
		o->ext = semi - dot - 1;
	}
}

/* Compare @an characters of @a from @ao with @bn of @b from @bo, the
 * shorter padded with spaces. */
static int cmp_padded(const uint8_t *a, size_t ao, size_t an, const uint8_t *b,
		      size_t bo, size_t bn, bool joliet)
{
	for (size_t i = 0; i < AUR_MAX(an, bn); i++) {
		unsigned x = i < an ? id_ch(a, ao + i, joliet) : ' ';
		unsigned y = i < bn ? id_ch(b, bo + i, joliet) : ' ';

		if (x != y)
			return x < y ? -1 : 1;
	}
	return 0;
}

/* ECMA-119 9.3: by file name, then extension (both padded with spaces),
 * then by version, the highest first. Joliet: the same on UCS-2. */
static int id_compare(const uint8_t *a, size_t an, bool a_dir, const uint8_t *b,
		      size_t bn, bool b_dir, bool joliet)
{
	struct id_parts x, y;
	int r;

	id_split(a, an, joliet, a_dir, &x);
	id_split(b, bn, joliet, b_dir, &y);
	r = cmp_padded(a, 0, x.name, b, 0, y.name, joliet);
	if (r == 0)
		r = cmp_padded(a, x.ext_at, x.ext, b, y.ext_at, y.ext, joliet);
	if (r == 0 && x.version != y.version)
		r = x.version > y.version ? -1 : 1;
	return r;
}

/* d-characters for a primary name; everything else becomes '_' */
static uint8_t d_char(unsigned char c)
{
	c = (unsigned char)toupper(c);
	return (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ? c : '_';
}

/*
 * The ECMA-119 identifier for @name with serial number @serial (0: none):
 * 8.3, or with long names (level 2) at most 30 characters for a file's
 * name and extension and 31 for a directory. A file's extension follows
 * its last dot; a serial number goes before it, as "_N".
 */
static size_t primary_id(const struct aur_iso_tree *t, const char *name,
			 bool is_dir, unsigned serial, uint8_t *out)
{
	const char *dot = is_dir ? NULL : strrchr(name, '.');
	size_t base_len = dot ? (size_t)(dot - name) : strlen(name);
	size_t ext_len = dot ? strlen(dot + 1) : 0;
	size_t name_max, ext_keep, n = 0, slen;
	char suffix[16] = "";

	if (serial)
		snprintf(suffix, sizeof(suffix), "_%u", serial);
	slen = strlen(suffix);
	if (is_dir) {
		name_max = t->long_names ? 31 : 8;
		ext_keep = 0;
	} else if (t->long_names) {
		ext_keep = AUR_MIN(ext_len, (size_t)30 - 8);
		name_max = 30 - ext_keep;
	} else {
		ext_keep = AUR_MIN(ext_len, (size_t)3);
		name_max = 8;
	}
	base_len = AUR_MIN(base_len, name_max - slen);
	for (size_t i = 0; i < base_len; i++)
		out[n++] = d_char((unsigned char)name[i]);
	memcpy(out + n, suffix, slen);
	n += slen;
	if (n == 0 && ext_keep == 0)
		out[n++] = '_'; /* never an empty name */
	if (!is_dir) {
		out[n++] = '.';
		for (size_t i = 0; i < ext_keep; i++)
			out[n++] = d_char((unsigned char)dot[1 + i]);
		out[n++] = ';';
		out[n++] = '1';
	}
	return n;
}

/* The next character of UTF-8 @p (advanced); what is not UTF-8 or not in
 * UCS-2 becomes '_'. */
static unsigned utf8_next(const unsigned char **pp)
{
	const unsigned char *p = *pp;
	unsigned c;

	if (p[0] < 0x80) {
		c = p[0];
		*pp = p + 1;
	} else if ((p[0] & 0xe0) == 0xc0 && (p[1] & 0xc0) == 0x80 &&
		   p[0] >= 0xc2) {
		c = (unsigned)(p[0] & 0x1f) << 6 | (p[1] & 0x3f);
		*pp = p + 2;
	} else if ((p[0] & 0xf0) == 0xe0 && (p[1] & 0xc0) == 0x80 &&
		   (p[2] & 0xc0) == 0x80) {
		c = (unsigned)(p[0] & 0x0f) << 12 |
		    (unsigned)(p[1] & 0x3f) << 6 | (p[2] & 0x3f);
		*pp = p + 3;
		if (c < 0x800 || (c >= 0xd800 && c <= 0xdfff))
			c = '_';
	} else {
		/* a 4-byte sequence (outside UCS-2) or not UTF-8 */
		c = '_';
		*pp = p + 1;
		while ((**pp & 0xc0) == 0x80)
			(*pp)++;
	}
	return c;
}

/*
 * The Joliet identifier (UCS-2BE) for @name with serial number @serial:
 * characters Joliet forbids become '_', and a name longer than 64
 * characters is cut, keeping an extension of up to 16 (its last dot on).
 * A serial number goes before the extension, as "_N".
 */
static size_t joliet_id(const char *name, bool is_dir, unsigned serial,
			uint8_t *out)
{
	uint16_t u[NAME_MAX_RR + 1];
	const unsigned char *p = (const unsigned char *)name;
	size_t n = 0, ext = 0, keep, o = 0;
	char suffix[16] = "";

	while (*p && n < AUR_ARRAY_SIZE(u)) {
		unsigned c = utf8_next(&p);

		if (c < 0x20 || c == '*' || c == '/' || c == ':' || c == ';' ||
		    c == '?' || c == '\\')
			c = '_';
		u[n++] = (uint16_t)c;
	}
	if (!is_dir) {
		for (size_t i = n; i-- > 0;)
			if (u[i] == '.') {
				ext = n - i;
				break;
			}
		if (ext > JOLIET_EXT_MAX)
			ext = 0;
	}
	if (serial)
		snprintf(suffix, sizeof(suffix), "_%u", serial);
	keep = n - ext;
	if (keep + strlen(suffix) + ext > JOLIET_MAX)
		keep = JOLIET_MAX - strlen(suffix) - ext;
	for (size_t i = 0; i < keep; i++, o += 2)
		iso_put_be16(out + o, u[i]);
	for (const char *s = suffix; *s; s++, o += 2)
		iso_put_be16(out + o, (uint16_t)*s);
	for (size_t i = n - ext; i < n; i++, o += 2)
		iso_put_be16(out + o, u[i]);
	return o;
}

/* Whether a record of @dir already shows as @id to readers. */
static bool id_taken(const struct aur_iso_dir *dir, const uint8_t *id, size_t n,
		     bool joliet)
{
	size_t m = id_visible_len(id, n, joliet);

	for (size_t i = 2; i < dir->n; i++) {
		const struct aur_iso_rec *r = &dir->recs[i];
		size_t rm = id_visible_len(rec_id(r), rec_id_len(r), joliet);

		if (rm == m && memcmp(rec_id(r), id, joliet ? 2 * m : m) == 0)
			return true;
	}
	return false;
}

/* An identifier for @name that no record of @dir shows. */
static int free_id(const struct aur_iso_tree *t, struct aur_iso_dir *dir,
		   const char *name, bool is_dir, uint8_t *id, size_t *len)
{
	unsigned serial = 0;

	for (;;) {
		*len = t->joliet ? joliet_id(name, is_dir, serial, id)
				 : primary_id(t, name, is_dir, serial, id);
		if (!id_taken(dir, id, *len, t->joliet))
			break;
		/* resume where the last collision in @dir left off */
		serial = serial ? serial + 1 : AUR_MAX(dir->next_serial, 1u);
		if (serial > SERIAL_MAX)
			return -EEXIST;
	}
	if (serial)
		dir->next_serial = serial + 1;
	return 0;
}

/* ---- new records ---- */

static void put_date7(uint8_t *p, time_t t)
{
	struct tm tm;

	/* years since 1900 in one byte: 1900 to 2155 */
	if (!gmtime_r(&t, &tm) || tm.tm_year < 0 || tm.tm_year > 255) {
		memset(&tm, 0, sizeof(tm));
		tm.tm_year = t < 0 ? 0 : 255;
		tm.tm_mday = 1;
	}
	p[0] = (uint8_t)tm.tm_year;
	p[1] = (uint8_t)(tm.tm_mon + 1);
	p[2] = (uint8_t)tm.tm_mday;
	p[3] = (uint8_t)tm.tm_hour;
	p[4] = (uint8_t)tm.tm_min;
	p[5] = (uint8_t)tm.tm_sec;
	p[6] = 0; /* UTC */
}

static void put_entry_head(uint8_t *p, const char *sig, size_t len)
{
	p[0] = (uint8_t)sig[0];
	p[1] = (uint8_t)sig[1];
	p[2] = (uint8_t)len;
	p[3] = 1;
}

/* Rock Ridge SUSP entries, built in a buffer before they are placed. */
struct susp_buf {
	uint8_t b[2 * ISO_BLOCK];
	size_t n;
};

/* NM entries for @name (split at 250 bytes, as an entry holds 255). */
static int put_nm(struct susp_buf *s, const char *name)
{
	size_t len = strlen(name);

	do {
		size_t k = AUR_MIN(len, (size_t)250);

		if (s->n + 5 + k > sizeof(s->b))
			return -ENAMETOOLONG;
		put_entry_head(s->b + s->n, "NM", 5 + k);
		s->b[s->n + 4] = k < len ? NM_CONTINUE : 0;
		memcpy(s->b + s->n + 5, name, k);
		s->n += 5 + k;
		name += k;
		len -= k;
	} while (len > 0);
	return 0;
}

static int sl_open(struct susp_buf *s, size_t *entry)
{
	if (s->n + 5 > sizeof(s->b))
		return -ENAMETOOLONG;
	*entry = s->n;
	put_entry_head(s->b + s->n, "SL", 5);
	s->b[s->n + 4] = 0;
	s->n += 5;
	return 0;
}

/* One component into the open SL entry *@entry: in a new entry if it does
 * not fit, split over several (each continuing the last) if no entry can
 * hold it. */
static int sl_component(struct susp_buf *s, size_t *entry, uint8_t flags,
			const char *text, size_t len)
{
	do {
		size_t room = 255 - (s->n - *entry), k;
		int r;

		if (room < 2 + len && (2 + len <= 250 || room < 3)) {
			s->b[*entry + 4] |= SL_CONTINUE;
			r = sl_open(s, entry);
			if (r < 0)
				return r;
			continue;
		}
		k = AUR_MIN(len, room - 2);
		if (s->n + 2 + k > sizeof(s->b))
			return -ENAMETOOLONG;
		s->b[s->n] = (uint8_t)(flags | (k < len ? 0x01 : 0));
		s->b[s->n + 1] = (uint8_t)k;
		memcpy(s->b + s->n + 2, text, k);
		s->n += 2 + k;
		s->b[*entry + 2] = (uint8_t)(s->n - *entry);
		text += k;
		len -= k;
	} while (len > 0);
	return 0;
}

/* SL entries for the link target @target: a leading '/' is the root
 * component, "." and ".." have their own flags; empty components
 * (repeated or trailing slashes) cannot be expressed and are left out. */
static int put_sl(struct susp_buf *s, const char *target)
{
	const char *p = target;
	size_t entry;
	int r;

	if (!*target)
		return -EINVAL;
	r = sl_open(s, &entry);
	if (r == 0 && *p == '/')
		r = sl_component(s, &entry, SL_ROOT, "", 0);
	while (r == 0) {
		size_t len;

		p += strspn(p, "/");
		if (!*p)
			break;
		len = strcspn(p, "/");
		if (len == 1 && p[0] == '.')
			r = sl_component(s, &entry, SL_CURRENT, "", 0);
		else if (len == 2 && p[0] == '.' && p[1] == '.')
			r = sl_component(s, &entry, SL_PARENT, "", 0);
		else
			r = sl_component(s, &entry, 0, p, len);
		p += len;
	}
	return r;
}

/* The PX length the tree uses: 36 (RRIP 1.10) or 44 (1.12, with a file
 * serial number), as its root's ".." has it. */
static size_t px_len(const struct aur_iso_tree *t)
{
	size_t n;
	const uint8_t *px = rec_susp_find(t, &t->root->recs[1], "PX", &n);

	return px && n == 44 ? 44 : 36;
}

/*
 * A record for @e with identifier @id into *@out (zeroed first): no
 * extent yet, Rock Ridge PX, TF, NM (unless @dot) and SL for a tree with
 * Rock Ridge. What does not fit in 255 bytes (a long name, a link) goes
 * into out->ce for a continuation area, PX, TF and the CE entry staying
 * in the record.
 */
static int build_rec(const struct aur_iso_tree *t, const uint8_t *id,
		     size_t id_len, const struct aur_iso_entry *e, bool dot,
		     struct aur_iso_rec *out)
{
	bool is_dir = S_ISDIR(e->mode);
	size_t pos = 33 + id_len + (id_len % 2 == 0 ? 1 : 0);
	uint8_t *raw = out->raw;

	memset(out, 0, sizeof(*out));
	if (pos > REC_MAX)
		return -ENAMETOOLONG;
	if (t->rock_ridge) {
		struct susp_buf sb, *s = &sb;
		size_t fixed, pl = px_len(t);
		int r;

		memset(s->b, 0, pl);
		pos += t->susp_skip;
		/* PX: mode, links, uid, gid (and a serial number in 1.12) */
		put_entry_head(s->b, "PX", pl);
		iso_put_both32(s->b + 4, e->mode);
		iso_put_both32(s->b + 12, is_dir ? 2 : 1);
		s->n = pl;
		/* TF: modification, access and attribute-change times */
		put_entry_head(s->b + s->n, "TF", 26);
		s->b[s->n + 4] = 0x0e;
		for (int i = 0; i < 3; i++)
			put_date7(s->b + s->n + 5 + 7 * i, e->mtime);
		s->n += 26;
		fixed = s->n;
		r = dot ? 0 : put_nm(s, e->name);
		if (r == 0 && S_ISLNK(e->mode))
			r = put_sl(s, e->link ? e->link : "");
		if (r < 0)
			return r;
		if (pos + s->n <= REC_MAX) {
			memcpy(raw + pos, s->b, s->n);
			pos += s->n;
		} else {
			size_t rest = s->n - fixed;

			if (rest > ISO_BLOCK || pos + fixed + 28 > REC_MAX)
				return -ENAMETOOLONG;
			memcpy(raw + pos, s->b, fixed);
			pos += fixed;
			out->ce = malloc(rest);
			if (!out->ce)
				return -ENOMEM;
			memcpy(out->ce, s->b + fixed, rest);
			out->ce_len = (uint16_t)rest;
			out->ce_at = (uint8_t)pos;
			put_entry_head(raw + pos, "CE", 28);
			iso_put_both32(raw + pos + 20, (uint32_t)rest);
			pos += 28;
		}
	}
	if (pos % 2)
		pos++; /* records have an even length */
	raw[0] = (uint8_t)pos;
	put_date7(raw + 18, e->mtime);
	raw[25] = is_dir ? ISO_DIR_FLAG : 0;
	iso_put_both16(raw + 28, 1);
	raw[32] = (uint8_t)id_len;
	memcpy(raw + 33, id, id_len);
	out->len = (uint8_t)pos;
	out->add = e->add;
	return 0;
}

static int check_entry(const struct aur_iso_tree *t,
		       const struct aur_iso_entry *e)
{
	if (!e->name || !*e->name || strchr(e->name, '/') ||
	    !strcmp(e->name, ".") || !strcmp(e->name, ".."))
		return -EINVAL;
	if (strlen(e->name) > NAME_MAX_RR)
		return -ENAMETOOLONG;
	if (S_ISLNK(e->mode) && (!aur_iso_tree_has_symlinks(t) || !e->link))
		return -EINVAL;
	if (!S_ISLNK(e->mode) && !S_ISREG(e->mode) && !S_ISDIR(e->mode))
		return -EINVAL;
	return 0;
}

int aur_iso_dir_add(struct aur_iso_tree *t, struct aur_iso_dir *dir,
		    const struct aur_iso_entry *e, struct aur_iso_dir *sub)
{
	bool is_dir = S_ISDIR(e->mode);
	uint8_t id[256];
	size_t id_len = 0, at;
	struct aur_iso_rec rec;
	int r = check_entry(t, e);

	if (r == 0 && is_dir != (sub != NULL))
		r = -EINVAL;
	if (r == 0)
		r = free_id(t, dir, e->name, is_dir, id, &id_len);
	if (r == 0)
		r = build_rec(t, id, id_len, e, false, &rec);
	if (r < 0) {
		dir_free(sub);
		return r;
	}
	rec.name = strdup(e->name);
	rec.dir = sub;
	for (at = 2; at < dir->n; at++)
		if (id_compare(id, id_len, is_dir, rec_id(&dir->recs[at]),
			       rec_id_len(&dir->recs[at]),
			       rec_is_dir(&dir->recs[at]), t->joliet) < 0)
			break;
	r = rec.name ? dir_insert(dir, &rec, at) : -ENOMEM;
	if (r < 0) {
		rec_free(&rec);
		dir_free(sub);
		return r;
	}
	if (sub)
		sub->parent = dir;
	dir->modified = true;
	return 0;
}

int aur_iso_dir_replace(struct aur_iso_tree *t, struct aur_iso_dir *dir,
			size_t i, const struct aur_iso_entry *e)
{
	struct aur_iso_rec rec;
	uint8_t id[256];
	size_t id_len = rec_id_len(&dir->recs[i]);
	int r = check_entry(t, e);

	if (r == 0 && (S_ISDIR(e->mode) || dir->recs[i].dir))
		r = -EINVAL;
	if (r < 0)
		return r;
	memcpy(id, rec_id(&dir->recs[i]), id_len);
	r = build_rec(t, id, id_len, e, false, &rec);
	if (r < 0)
		return r;
	/* the name of the path it now stands for: a Joliet record found by
	 * its content may have shown a cut name */
	rec.name = strdup(e->name);
	if (!rec.name) {
		rec_free(&rec);
		return -ENOMEM;
	}
	rec_free(&dir->recs[i]);
	dir->recs[i] = rec;
	dir->modified = true;
	return 0;
}

void aur_iso_dir_remove(struct aur_iso_dir *dir, size_t i)
{
	rec_free(&dir->recs[i]);
	memmove(&dir->recs[i], &dir->recs[i + 1],
		(dir->n - i - 1) * sizeof(*dir->recs));
	dir->n--;
	dir->modified = true;
}

struct aur_iso_dir *aur_iso_dir_new(const struct aur_iso_tree *t,
				    struct aur_iso_dir *parent,
				    const struct aur_iso_entry *e)
{
	static const uint8_t dot_id = 0;
	struct aur_iso_dir *d = calloc(1, sizeof(*d));
	const struct aur_iso_rec *dotdot = &t->root->recs[1];
	struct aur_iso_rec r;

	if (!d)
		return NULL;
	d->parent = parent;
	d->created = d->modified = true;
	/* ".": this directory's own attributes; "..": a copy of the root's
	 * "..", which carries the tree's Rock Ridge fields but not the
	 * root-only SP and CE */
	if (build_rec(t, &dot_id, 1, e, true, &r) < 0 ||
	    dir_insert(d, &r, 0) < 0) {
		dir_free(d);
		return NULL;
	}
	if (dir_push_raw(d, dotdot->raw, dotdot->len) < 0) {
		dir_free(d);
		return NULL;
	}
	d->recs[1].raw[33] = 1;
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
		if (r.ce_len) {
			uint8_t *ce = r.raw + r.ce_at;

			iso_put_both32(ce + 4, r.ce_block);
			iso_put_both32(ce + 12, r.ce_off);
			iso_put_both32(ce + 20, r.ce_len);
		}
		if (pos % ISO_BLOCK + r.len > ISO_BLOCK)
			pos = (uint32_t)AUR_DIV_ROUND_UP(pos, ISO_BLOCK) *
			      ISO_BLOCK;
		memcpy(buf + pos, r.raw, r.len);
		pos += r.len;
	}
}

/* ---- path tables ---- */

/* the index of the record in @d's parent that names @d */
static size_t naming_rec(const struct aur_iso_dir *d)
{
	for (size_t i = 2; i < d->parent->n; i++)
		if (d->parent->recs[i].dir == d)
			return i;
	return 0;
}

static void count_dir(struct aur_iso_dir *d, void *ctx)
{
	(*(size_t *)ctx)++;
}

static int pt_cmp(const void *a, const void *b, void *ctx)
{
	const struct aur_iso_rec *x = *(struct aur_iso_rec *const *)a;
	const struct aur_iso_rec *y = *(struct aur_iso_rec *const *)b;

	return id_compare(rec_id(x), rec_id_len(x), true, rec_id(y),
			  rec_id_len(y), true, *(const bool *)ctx);
}

int aur_iso_path_table_prepare(struct aur_iso_tree *t, uint32_t *size)
{
	size_t n = 0, total = 0, head = 0;
	struct aur_iso_rec **kids = NULL;
	size_t kids_cap = 0;
	uint64_t bytes = 10; /* the root's entry */

	aur_iso_tree_walk(t, count_dir, &total);
	if (total > 0xffff)
		return -EFBIG; /* parent numbers are 16 bits */
	free(t->pt_order);
	t->pt_n = 0;
	t->pt_order = malloc(total * sizeof(*t->pt_order));
	if (!t->pt_order)
		return -ENOMEM;
	t->pt_order[n++] = t->root;
	while (head < n) {
		struct aur_iso_dir *d = t->pt_order[head++];
		size_t k = 0;

		d->pt_number = (unsigned)head;
		/* this directory's subdirectories, by identifier (records
		 * are only read here: nothing changes @d meanwhile) */
		if (d->n > kids_cap) {
			struct aur_iso_rec **v =
				realloc(kids, d->n * sizeof(*v));

			if (!v) {
				free(kids);
				return -ENOMEM;
			}
			kids = v;
			kids_cap = d->n;
		}
		for (size_t i = 2; i < d->n; i++)
			if (d->recs[i].dir)
				kids[k++] = &d->recs[i];
		qsort_r(kids, k, sizeof(*kids), pt_cmp, &t->joliet);
		for (size_t i = 0; i < k && n < total; i++) {
			size_t id_len = rec_id_len(kids[i]);

			t->pt_order[n++] = kids[i]->dir;
			bytes += 8 + id_len + id_len % 2;
		}
	}
	free(kids);
	t->pt_n = n;
	if (bytes > UINT32_MAX)
		return -EFBIG;
	*size = (uint32_t)bytes;
	return 0;
}

void aur_iso_path_table_write(const struct aur_iso_tree *t, bool big_endian,
			      uint8_t *buf)
{
	size_t pos = 0;

	for (size_t i = 0; i < t->pt_n; i++) {
		const struct aur_iso_dir *d = t->pt_order[i];
		const struct aur_iso_rec *r =
			d->parent ? &d->parent->recs[naming_rec(d)] : NULL;
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
}

/* ---- continuation areas ---- */

struct ce_place {
	uint32_t first, block, off;
	bool any;
	uint8_t *buf;
};

static void ce_place_dir(struct aur_iso_dir *d, void *ctx)
{
	struct ce_place *c = ctx;

	for (size_t i = 2; i < d->n; i++) {
		struct aur_iso_rec *r = &d->recs[i];

		if (!r->ce_len)
			continue;
		if (c->off + r->ce_len > ISO_BLOCK) {
			c->block++;
			c->off = 0;
		}
		r->ce_block = c->first + c->block;
		r->ce_off = (uint16_t)c->off;
		c->off += r->ce_len;
		c->any = true;
	}
}

uint32_t aur_iso_ce_layout(struct aur_iso_tree *t, uint32_t first)
{
	struct ce_place c = {first, 0, 0, false, NULL};

	aur_iso_tree_walk(t, ce_place_dir, &c);
	return c.any ? c.block + 1 : 0;
}

static void ce_write_dir(struct aur_iso_dir *d, void *ctx)
{
	struct ce_place *c = ctx;

	for (size_t i = 2; i < d->n; i++) {
		const struct aur_iso_rec *r = &d->recs[i];

		if (r->ce_len)
			memcpy(c->buf +
				       (size_t)(r->ce_block - c->first) *
					       ISO_BLOCK +
				       r->ce_off,
			       r->ce, r->ce_len);
	}
}

void aur_iso_ce_write(const struct aur_iso_tree *t, uint32_t first,
		      uint8_t *buf)
{
	struct ce_place c = {first, 0, 0, false, buf};

	/* the walk does not change the tree */
	aur_iso_tree_walk((struct aur_iso_tree *)t, ce_write_dir, &c);
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
