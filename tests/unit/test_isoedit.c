// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Whole edits (aur_iso_edit) of small images this test writes itself: a
 * primary hierarchy with Rock Ridge and a Joliet one, optionally an MBR.
 * The result is read back through its extent map by a small reader of
 * this test's own (not the editor's loader), hierarchy by hierarchy, and
 * every added file must have the content of its (last) addition. Readers we did
 * not write check the same on real layouts in tests/fs/iso_property.py.
 *
 * Linked with --wrap=malloc,calloc,realloc so that allocation failures
 * can be injected: an edit that could not allocate must fail, never
 * describe an image.
 */
#include "test_helpers.h"

#include <aurora/extmap.h>
#include <aurora/iso9660.h> /* constants and byte order helpers */
#include <aurora/isoedit.h>
#include <aurora/log.h>
#include <aurora/source.h>
#include <aurora/util.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* ---- allocation failures ---- */

void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t k);
void *__real_realloc(void *p, size_t n);
void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t n, size_t k);
void *__wrap_realloc(void *p, size_t n);

static long alloc_countdown = -1; /* the allocation that fails, or -1 */
static bool alloc_failed;

static bool fail_now(void)
{
	if (alloc_countdown < 0 || alloc_countdown-- > 0)
		return false;
	alloc_failed = true;
	return true;
}

void *__wrap_malloc(size_t n)
{
	return fail_now() ? NULL : __real_malloc(n);
}

void *__wrap_calloc(size_t n, size_t k)
{
	return fail_now() ? NULL : __real_calloc(n, k);
}

void *__wrap_realloc(void *p, size_t n)
{
	return fail_now() ? NULL : __real_realloc(p, n);
}

/* ---- a small image ---- */

struct fx_opts {
	bool rock_ridge;
	bool joliet;
	int extra; /* files f000.txt... in /boot, to make it span blocks */
	uint32_t part_at; /* an MBR partition from this block, 0 for none */
	bool copies; /* copies of the descriptors at 20-22, as xorriso's
		      * relocated superblock */
	bool long_name; /* a root file whose Joliet name is cut */
};

#define LONG_NAME                                                          \
	"a-long-file-name-that-joliet-cannot-hold-entirely-0123456789abcd" \
	"efghij.txt"

struct fx_file {
	const char *dir, *name;
	size_t len;
	uint32_t extent;
};

static size_t fx_rec(uint8_t *p, const uint8_t *id, size_t idl, uint32_t ext,
		     uint32_t size, bool dir, const char *nm, bool sp)
{
	size_t pos = 33 + idl + !(idl % 2);

	memset(p, 0, 255);
	if (sp) {
		memcpy(p + pos, "SP\x07\x01\xbe\xef\x00", 7);
		pos += 7;
	}
	if (nm) {
		memcpy(p + pos, "PX\x24\x01", 4);
		iso_put_both32(p + pos + 4,
			       dir ? S_IFDIR | 0755 : S_IFREG | 0644);
		iso_put_both32(p + pos + 12, 1);
		pos += 36;
		if (*nm) {
			p[pos] = 'N';
			p[pos + 1] = 'M';
			p[pos + 2] = (uint8_t)(5 + strlen(nm));
			p[pos + 3] = 1;
			memcpy(p + pos + 5, nm, strlen(nm));
			pos += 5 + strlen(nm);
		}
	}
	pos += pos % 2;
	p[0] = (uint8_t)pos;
	iso_put_both32(p + 2, ext);
	iso_put_both32(p + 10, size);
	p[25] = dir ? ISO_DIR_FLAG : 0;
	iso_put_both16(p + 28, 1);
	p[32] = (uint8_t)idl;
	memcpy(p + 33, id, idl);
	return pos;
}

static size_t fx_id(const char *name, bool dir, bool joliet, uint8_t *id)
{
	size_t n = 0;

	for (const char *c = name; *c && (!joliet || n < 128); c++) {
		if (joliet) { /* cut at 64 characters, as a writer might */
			id[n++] = 0;
			id[n++] = (uint8_t)*c;
		} else {
			id[n++] = (uint8_t)(*c >= 'a' && *c <= 'z' ? *c - 32
								   : *c);
		}
	}
	if (!joliet && !dir) {
		if (!strchr(name, '.'))
			id[n++] = '.';
		memcpy(id + n, ";1", 2);
		n += 2;
	}
	return n;
}

/* Append a record to a directory being written, never across blocks. */
static void fx_put(uint8_t *dir, uint32_t *pos, const uint8_t *rec)
{
	if (*pos % ISO_BLOCK + rec[0] > ISO_BLOCK)
		*pos = (*pos / ISO_BLOCK + 1) * ISO_BLOCK;
	memcpy(dir + *pos, rec, rec[0]);
	*pos += rec[0];
}

static void fx_content(const char *name, size_t len, uint8_t *out)
{
	for (size_t i = 0; i < len; i++)
		out[i] = (uint8_t)(name[i % strlen(name)] + i / 7);
}

/* Write the image into a malloc'd buffer. */
static uint8_t *fixture(const struct fx_opts *o, size_t *size)
{
	struct fx_file files[300];
	size_t nf = 0;
	char names[300][16];
	uint32_t next, pt0, dir_blocks[2][2], dir_at[2][2];
	uint8_t *img;
	int ntrees = o->joliet ? 2 : 1;

	files[nf++] = (struct fx_file){"", "rootfs.squashfs", 10000, 0};
	if (o->long_name)
		files[nf++] = (struct fx_file){"", LONG_NAME, 700, 0};
	for (int i = 0; i < o->extra; i++) {
		snprintf(names[i], sizeof(names[i]), "f%03d.txt", i);
		files[nf++] = (struct fx_file){"boot", names[i], 100, 0};
	}
	files[nf++] = (struct fx_file){"boot", "initrd", 3000, 0};
	files[nf++] = (struct fx_file){"boot", "kernel", 5000, 0};
	/* directories from block 23: root and boot of each tree */
	pt0 = o->copies ? 24 : 19;
	next = pt0 + 4;
	for (int t = 0; t < ntrees; t++) {
		dir_blocks[t][0] = 1;
		dir_blocks[t][1] = (uint32_t)(1 + o->extra / 20);
		for (int d = 0; d < 2; d++) {
			dir_at[t][d] = next;
			next += dir_blocks[t][d];
		}
	}
	for (size_t i = 0; i < nf; i++) {
		files[i].extent = next;
		next += (uint32_t)((files[i].len + ISO_BLOCK - 1) / ISO_BLOCK);
	}
	*size = (size_t)(next + 4) * ISO_BLOCK;
	img = calloc(1, *size);
	assert_non_null(img);
	if (o->part_at) {
		uint8_t *e = img + 446;

		e[4] = 0x83;
		iso_put_le32(e + 8, o->part_at * 4);
		iso_put_le32(e + 12, (uint32_t)(*size / 512) - o->part_at * 4);
		img[510] = 0x55;
		img[511] = 0xaa;
	}
	for (int t = 0; t < ntrees; t++) {
		bool j = t == 1, rr = !j && o->rock_ridge;
		uint8_t *vd = img + (16 + t) * ISO_BLOCK;
		uint8_t rec[255], id[128];
		uint8_t *root = img + dir_at[t][0] * ISO_BLOCK;
		uint8_t *boot = img + dir_at[t][1] * ISO_BLOCK;
		uint8_t *pt = img + (pt0 + 2 * t) * ISO_BLOCK;
		uint32_t rpos = 0, bpos = 0;
		uint32_t rsize = ISO_BLOCK,
			 bsize = dir_blocks[t][1] * ISO_BLOCK;

		vd[0] = (uint8_t)(1 + t);
		memcpy(vd + 1, "CD001", 5);
		vd[6] = 1;
		if (j)
			memcpy(vd + 88, "%/E", 3);
		iso_put_both32(vd + 80, next + 4);
		iso_put_both16(vd + 120, 1);
		iso_put_both16(vd + 124, 1);
		iso_put_both16(vd + 128, ISO_BLOCK);
		iso_put_both32(vd + 132,
			       (uint32_t)(10 + 8 + fx_id("boot", true, j, id)));
		iso_put_le32(vd + 140, pt0 + 2 * t);
		iso_put_be32(vd + 148, pt0 + 1 + 2 * t);
		fx_rec(vd + 156, (const uint8_t *)"", 1, dir_at[t][0], rsize,
		       true, NULL, false);
		/* path tables: root, boot */
		for (int m = 0; m < 2; m++) {
			uint8_t *p = pt + m * ISO_BLOCK;
			size_t bl = fx_id("boot", true, j, id);

			p[0] = 1;
			(m ? iso_put_be32 : iso_put_le32)(p + 2, dir_at[t][0]);
			(m ? iso_put_be16 : iso_put_le16)(p + 6, 1);
			p[10] = (uint8_t)bl;
			(m ? iso_put_be32 : iso_put_le32)(p + 12, dir_at[t][1]);
			(m ? iso_put_be16 : iso_put_le16)(p + 16, 1);
			memcpy(p + 18, id, bl);
		}
		fx_rec(rec, (const uint8_t *)"\0", 1, dir_at[t][0], rsize, true,
		       rr ? "" : NULL, rr);
		fx_put(root, &rpos, rec);
		fx_rec(rec, (const uint8_t *)"\1", 1, dir_at[t][0], rsize, true,
		       rr ? "" : NULL, false);
		fx_put(root, &rpos, rec);
		fx_rec(rec, id, fx_id("boot", true, j, id), dir_at[t][1], bsize,
		       true, rr ? "boot" : NULL, false);
		fx_put(root, &rpos, rec);
		fx_rec(rec, (const uint8_t *)"\0", 1, dir_at[t][1], bsize, true,
		       rr ? "" : NULL, false);
		fx_put(boot, &bpos, rec);
		fx_rec(rec, (const uint8_t *)"\1", 1, dir_at[t][0], rsize, true,
		       rr ? "" : NULL, false);
		fx_put(boot, &bpos, rec);
		for (size_t i = 0; i < nf; i++) {
			bool in_root = !*files[i].dir;

			fx_rec(rec, id, fx_id(files[i].name, false, j, id),
			       files[i].extent, (uint32_t)files[i].len, false,
			       rr ? files[i].name : NULL, false);
			fx_put(in_root ? root : boot, in_root ? &rpos : &bpos,
			       rec);
		}
	}
	img[18 * ISO_BLOCK] = 255;
	memcpy(img + 18 * ISO_BLOCK + 1, "CD001\1", 6);
	if (o->copies) {
		/* the "session" descriptors, 4 blocks further: their volume
		 * size counts from there */
		memcpy(img + 20 * ISO_BLOCK, img + 16 * ISO_BLOCK,
		       3 * ISO_BLOCK);
		for (int t = 0; t < ntrees; t++)
			iso_put_both32(img + (20 + t) * ISO_BLOCK + 80,
				       next + 4 - 4);
	}
	for (size_t i = 0; i < nf; i++)
		fx_content(files[i].name, files[i].len,
			   img + (size_t)files[i].extent * ISO_BLOCK);
	return img;
}

/* ---- reading the result back ---- */

/* A source that fails reads touching one block. */
struct failing_source {
	struct aur_source src;
	const uint8_t *data;
	uint64_t bad_block; /* UINT64_MAX: none */
};

static int failing_get_run(struct aur_source *src, uint64_t off, size_t n,
			   struct aur_run *run)
{
	struct failing_source *f = (struct failing_source *)src;

	if (off / ISO_BLOCK <= f->bad_block &&
	    (off + n - 1) / ISO_BLOCK >= f->bad_block)
		return -EIO;
	run->kind = AUR_RUN_MEM;
	run->len = n;
	run->mem = f->data + off;
	return 0;
}

static const struct aur_source_ops failing_ops = {failing_get_run, NULL};

struct result {
	struct aur_extmap map;
	struct aur_iso_edit *edit;
	int ntrees; /* descriptors at 16 (primary) and 17 (Joliet) */
	bool rock_ridge;
};

struct add {
	const char *path;
	const char *content; /* NULL: a directory; "->x": a link to x */
	size_t len; /* 0: strlen(content) */
};

struct edit_in {
	struct aur_iso_addition adds[512];
	struct aur_mem_source srcs[512];
	uint8_t *bufs[512];
	size_t n;
};

static void edit_in_build(struct edit_in *in, const struct add *a, size_t n)
{
	memset(in, 0, sizeof(*in));
	for (size_t i = 0; i < n; i++) {
		struct aur_iso_addition *x = &in->adds[i];

		x->path = a[i].path;
		x->mtime = 1700000000;
		if (!a[i].content) {
			x->is_dir = true;
			x->mode = S_IFDIR | 0750;
		} else if (!strncmp(a[i].content, "->", 2)) {
			x->mode = S_IFLNK | 0777;
			x->link = a[i].content + 2;
		} else {
			size_t len = a[i].len ? a[i].len : strlen(a[i].content);

			in->bufs[i] = malloc(len + 1);
			fx_content(a[i].content, len, in->bufs[i]);
			aur_mem_source_init(&in->srcs[i], in->bufs[i], len);
			x->mode = S_IFREG | 0640;
			x->src = &in->srcs[i].src;
			x->size = len;
		}
	}
	in->n = n;
}

static void edit_in_free(struct edit_in *in)
{
	for (size_t i = 0; i < in->n; i++)
		free(in->bufs[i]);
}

static int do_edit(struct aur_source *base, const struct edit_in *in,
		   struct result *res)
{
	int r;

	memset(res, 0, sizeof(*res));
	aur_extmap_init(&res->map);
	r = aur_iso_edit(base, base->size, "test.iso", in->adds, in->n,
			 &res->map, &res->edit);
	if (r < 0)
		return r;
	aur_extmap_check(&res->map);
	for (uint32_t b = 16; b < 18; b++) {
		uint8_t vd[ISO_BLOCK];

		assert_int_equal(aur_extmap_pread(&res->map, vd, ISO_BLOCK,
						  (uint64_t)b * ISO_BLOCK),
				 ISO_BLOCK);
		if (vd[0] == 1 || vd[0] == 2)
			res->ntrees++;
	}
	return 0;
}

static void result_free(struct result *res)
{
	aur_extmap_release(&res->map);
	aur_iso_edit_free(res->edit);
}

/* ---- a reader of its own, so as not to check the editor with its own
 * loader ---- */

static void rd(struct result *res, void *buf, size_t n, uint64_t off)
{
	assert_int_equal(aur_extmap_pread(&res->map, buf, n, off), n);
}

/* SUSP entries of record @raw and of the continuation areas it points
 * to, one after another, into @out; their length. */
static size_t rd_susp(struct result *res, const uint8_t *raw, uint8_t *out)
{
	size_t off = 33 + raw[32] + !(raw[32] % 2), len = raw[0], n = 0;
	uint8_t area[ISO_BLOCK];
	const uint8_t *p = raw;

	for (int hop = 0; hop < 4; hop++) {
		const uint8_t *ce = NULL;

		for (; off + 4 <= len && p[off + 2] >= 4; off += p[off + 2]) {
			if (p[off] == 'C' && p[off + 1] == 'E')
				ce = p + off;
			else {
				memcpy(out + n, p + off, p[off + 2]);
				n += p[off + 2];
			}
		}
		if (!ce)
			break;
		len = iso_le32(ce + 20);
		rd(res, area, len,
		   (uint64_t)iso_le32(ce + 4) * ISO_BLOCK + iso_le32(ce + 12));
		p = area;
		off = 0;
	}
	return n;
}

/* The name of record @raw as readers see it. */
static void rd_name(struct result *res, int tree, const uint8_t *raw,
		    char *name)
{
	uint8_t su[4096];
	size_t n = 0, k;

	if (tree == 1) { /* Joliet, ASCII names in these tests */
		for (k = 0; k < raw[32] / 2u && raw[34 + 2 * k] != ';'; k++)
			name[n++] = (char)raw[34 + 2 * k];
		name[n] = '\0';
		return;
	}
	if (res->rock_ridge) {
		size_t len = rd_susp(res, raw, su);

		for (size_t o = 0; o + 4 <= len; o += su[o + 2])
			if (su[o] == 'N' && su[o + 1] == 'M') {
				memcpy(name + n, su + o + 5, su[o + 2] - 5u);
				n += su[o + 2] - 5u;
			}
		if (n) {
			name[n] = '\0';
			return;
		}
	}
	for (k = 0; k < raw[32] && raw[33 + k] != ';'; k++)
		name[n++] = (char)(raw[33 + k] >= 'A' && raw[33 + k] <= 'Z'
					   ? raw[33 + k] + 32
					   : raw[33 + k]);
	if (n > 1 && name[n - 1] == '.')
		n--;
	name[n] = '\0';
}

/* The record at @path in hierarchy @tree, copied into @out. */
static bool lookup(struct result *res, int tree, const char *path, uint8_t *out)
{
	uint8_t vd[ISO_BLOCK], *dir = NULL;
	char buf[1024], name[1024], *save = NULL;

	rd(res, vd, ISO_BLOCK, (uint64_t)(16 + tree) * ISO_BLOCK);
	memcpy(out, vd + 156, 34);
	snprintf(buf, sizeof(buf), "%s", path);
	for (char *c = strtok_r(buf, "/", &save); c;
	     c = strtok_r(NULL, "/", &save)) {
		uint32_t size = iso_le32(out + 10), pos = 0;
		bool found = false;

		if (!(out[25] & ISO_DIR_FLAG))
			return false;
		dir = realloc(dir, size);
		rd(res, dir, size, (uint64_t)iso_le32(out + 2) * ISO_BLOCK);
		while (pos < size && !found) {
			if (dir[pos] == 0) {
				pos = (pos / ISO_BLOCK + 1) * ISO_BLOCK;
				continue;
			}
			if (dir[pos + 32] != 1 || dir[pos + 33] > 1) {
				rd_name(res, tree, dir + pos, name);
				if (!strcmp(name, c)) {
					memcpy(out, dir + pos, dir[pos]);
					found = true;
				}
			}
			pos += dir[pos];
		}
		if (!found) {
			free(dir);
			return false;
		}
	}
	free(dir);
	return true;
}

/* The target of the Rock Ridge link @raw, "" if it is not a link. */
static void link_target(struct result *res, const uint8_t *raw, char *out)
{
	uint8_t su[4096];
	size_t len = rd_susp(res, raw, su), o = 0;
	bool cont = false;

	for (size_t off = 0; off + 4 <= len; off += su[off + 2]) {
		const uint8_t *e = su + off;

		if (e[0] != 'S' || e[1] != 'L')
			continue;
		for (size_t c = 5; c + 2 <= e[2]; c += 2 + e[c + 1]) {
			if (o && !cont && out[o - 1] != '/')
				out[o++] = '/';
			if (e[c] & 8)
				out[o++] = '/';
			if (e[c] & 2)
				out[o++] = '.';
			if (e[c] & 4)
				o += (size_t)snprintf(out + o, 3, "..");
			memcpy(out + o, e + c + 2, e[c + 1]);
			o += e[c + 1];
			cont = e[c] & 1;
		}
	}
	out[o] = '\0';
}

/* ---- path tables ---- */

struct pt_dir {
	uint8_t id[128];
	size_t idl;
	uint32_t extent, size;
	unsigned parent;
};

static int pt_joliet;

/* ECMA-119 6.9.1: identifiers compared padded with spaces (Joliet: in
 * UCS-2 units) */
static int pt_dir_cmp(const void *a, const void *b)
{
	const struct pt_dir *x = a, *y = b;
	size_t w = pt_joliet ? 2 : 1;

	for (size_t i = 0; i < AUR_MAX(x->idl, y->idl); i += w) {
		unsigned cx = i < x->idl ? (w == 2 ? (unsigned)x->id[i] << 8 |
							     x->id[i + 1]
						   : x->id[i])
					 : ' ';
		unsigned cy = i < y->idl ? (w == 2 ? (unsigned)y->id[i] << 8 |
							     y->id[i + 1]
						   : y->id[i])
					 : ' ';

		if (cx != cy)
			return cx < cy ? -1 : 1;
	}
	return 0;
}

/* Both path tables of hierarchy @tree list its directories by level,
 * parent number and identifier, with their current extents. */
static void check_path_tables(struct result *res, int tree)
{
	uint8_t vd[ISO_BLOCK];
	struct pt_dir *q = calloc(4096, sizeof(*q));
	size_t n = 1, head = 0, size, pos = 0, count = 0;
	uint8_t *lt, *mt;

	pt_joliet = tree == 1;
	rd(res, vd, ISO_BLOCK, (uint64_t)(16 + tree) * ISO_BLOCK);
	q[0] = (struct pt_dir){
		{0}, 1, iso_le32(vd + 158), iso_le32(vd + 166), 1};
	while (head < n) {
		struct pt_dir *d = &q[head++];
		uint8_t *dir = malloc(d->size);
		size_t first = n;

		rd(res, dir, d->size, (uint64_t)d->extent * ISO_BLOCK);
		for (uint32_t p = 0; p < d->size;) {
			if (dir[p] == 0) {
				p = (p / ISO_BLOCK + 1) * ISO_BLOCK;
				continue;
			}
			if ((dir[p + 25] & ISO_DIR_FLAG) &&
			    !(dir[p + 32] == 1 && dir[p + 33] <= 1)) {
				struct pt_dir *s = &q[n++];

				assert_true(n < 4096);
				s->idl = dir[p + 32];
				memcpy(s->id, dir + p + 33, s->idl);
				s->extent = iso_le32(dir + p + 2);
				s->size = iso_le32(dir + p + 10);
				s->parent = (unsigned)head;
			}
			p += dir[p];
		}
		qsort(q + first, n - first, sizeof(*q), pt_dir_cmp);
		free(dir);
	}
	size = iso_le32(vd + 132);
	lt = malloc(size);
	mt = malloc(size);
	rd(res, lt, size, (uint64_t)iso_le32(vd + 140) * ISO_BLOCK);
	rd(res, mt, size, (uint64_t)iso_be32(vd + 148) * ISO_BLOCK);
	while (pos < size) {
		const struct pt_dir *d = &q[count++];
		size_t idl = lt[pos];

		if (count > n)
			fail_msg("tree %d: more path table entries than "
				 "directories",
				 tree);
		if (idl != d->idl || memcmp(lt + pos + 8, d->id, idl) != 0 ||
		    iso_le32(lt + pos + 2) != d->extent ||
		    iso_le16(lt + pos + 6) != d->parent)
			fail_msg("tree %d: path table entry %zu is wrong", tree,
				 count);
		assert_int_equal(iso_be32(mt + pos + 2), d->extent);
		assert_int_equal((mt[pos + 6] << 8 | mt[pos + 7]), d->parent);
		assert_memory_equal(mt + pos + 8, d->id, idl);
		pos += 8 + idl + idl % 2;
	}
	assert_int_equal(count, n);
	free(lt);
	free(mt);
	free(q);
}

/* @path in every hierarchy of @res holds what the addition @a says (a
 * link only in the Rock Ridge one). */
static void check_path(struct result *res, const struct add *a)
{
	for (int t = 0; t < res->ntrees; t++) {
		uint8_t r[256];
		bool is_link = a->content && !strncmp(a->content, "->", 2);
		bool links = t == 0 && res->rock_ridge;
		bool found = lookup(res, t, a->path, r);

		if (is_link && !links) {
			if (found)
				fail_msg("link %s in tree %d", a->path, t);
			continue;
		}
		if (!found)
			fail_msg("%s missing in tree %d", a->path, t);
		if (!a->content) {
			assert_true(r[25] & ISO_DIR_FLAG);
		} else if (is_link) {
			char target[4096];

			link_target(res, r, target);
			assert_string_equal(target, a->content + 2);
			assert_int_equal(iso_le32(r + 10), 0);
		} else {
			size_t len = a->len ? a->len : strlen(a->content);
			uint8_t *want = malloc(len + 1), *got = malloc(len + 1);

			fx_content(a->content, len, want);
			if (iso_le32(r + 10) != len)
				fail_msg("%s: %u bytes in tree %d, not %zu",
					 a->path, iso_le32(r + 10), t, len);
			rd(res, got, len,
			   (uint64_t)iso_le32(r + 2) * ISO_BLOCK);
			if (memcmp(want, got, len) != 0)
				fail_msg("%s: wrong content in tree %d",
					 a->path, t);
			free(want);
			free(got);
		}
	}
}

/* Edit a fixture with @adds and check every path's last addition, and
 * that base files not replaced are intact. */
static void edit_and_check(const struct fx_opts *o, const struct add *adds,
			   size_t n)
{
	size_t size;
	uint8_t *img = fixture(o, &size);
	struct aur_mem_source base;
	struct edit_in *in = malloc(sizeof(*in));
	struct result res;
	struct add kernel = {"/boot/kernel", "kernel", 5000};

	aur_mem_source_init(&base, img, size);
	edit_in_build(in, adds, n);
	assert_int_equal(do_edit(&base.src, in, &res), 0);
	assert_int_equal(res.ntrees, o->joliet ? 2 : 1);
	res.rock_ridge = o->rock_ridge;
	for (size_t i = 0; i < n; i++) {
		bool later = false;

		for (size_t k = i + 1; k < n; k++)
			later |= strcmp(adds[k].path, adds[i].path) == 0;
		if (!later)
			check_path(&res, &adds[i]);
	}
	for (size_t i = 0; i < n && kernel.path; i++)
		if (!strcmp(adds[i].path, kernel.path))
			kernel.path = NULL;
	if (kernel.path)
		check_path(&res, &kernel);
	for (int t = 0; t < res.ntrees; t++)
		check_path_tables(&res, t);
	result_free(&res);
	edit_in_free(in);
	free(in);
	free(img);
}

static const struct fx_opts plain = {true, true, 0, 0};

/* The cases: contents went to the wrong files. */
static void additions_keep_their_contents(void **state)
{
	const struct add two[] = {
		{"/boot/zkernel", "k-content", 0},
		{"/boot/ainitrd", "i-content", 0},
	};
	const struct add replace[] = {
		{"/zfile", "zfile-bytes", 0},
		{"/config.yaml", "#cloud-config", 0},
	};
	struct add many[41];
	char names[40][32];

	edit_and_check(&plain, two, 2);
	edit_and_check(&plain, replace, 2);
	for (int i = 0; i < 40; i++) {
		snprintf(names[i], sizeof(names[i]), "/newdir/file-%02d", i);
		many[i] = (struct add){names[i], names[i], 0};
	}
	many[40] = (struct add){"/config.yaml", "cc", 0};
	edit_and_check(&plain, many, 41);
}

/* A later addition of a path wins (the cloud-config over an overlay's
 * config.yaml), in a directory an earlier addition made, and over a base
 * file; a link may replace a file and a file a link. */
static void later_additions_win(void **state)
{
	const struct add adds[] = {
		{"/config.yaml", "overlay-config", 0},
		{"/new/a", "a1", 0},
		{"/new/sub/b", "b", 0},
		{"/new/a", "a2-longer", 0},
		{"/boot/kernel", "new-kernel", 3 * ISO_BLOCK + 5},
		{"/new/c", "->../boot/kernel", 0},
		{"/new/c", "c-file", 0},
		{"/rootfs.squashfs", "->/etc/shadow", 0},
		{"/new/empty", NULL, 0},
		{"/config.yaml", "cloud-config", 0},
	};

	edit_and_check(&plain, adds, AUR_ARRAY_SIZE(adds));
}

/* /boot spans blocks, grows and moves; new directories need a path table
 * larger than a block. */
static void directories_grow_and_move(void **state)
{
	const struct fx_opts big = {true, true, 45, 0};
	static struct add adds[400];
	static char names[400][48];
	size_t n = 0;

	for (int i = 0; i < 120; i++) {
		snprintf(names[n], sizeof(names[n]), "/boot/g%03d.conf", i);
		adds[n] = (struct add){names[n], names[n], 0};
		n++;
	}
	for (int i = 0; i < 250; i++) {
		snprintf(names[n], sizeof(names[n]),
			 "/dirs/directory-number-%03d/x", 249 - i);
		adds[n] = (struct add){names[n], names[n], 0};
		n++;
	}
	edit_and_check(&big, adds, n);
}

/* Random edits with a fixed seed: files at every sort position, new and
 * existing directories, replacements, links. */
static void random_edits(void **state)
{
	static const char *dirs[] = {"",   "/boot",  "/new", "/new/deeper",
				     "/a", "/boot/x"};
	static const char *names[] = {
		"config.yaml", "a",	 "Z",	"zz",
		"kernel",      "initrd", "0",	"config.yam",
		"Config.yaml", "b.c.d",	 "x-y", "_"};
	unsigned seed = 12345;

	for (int round = 0; round < 300; round++) {
		struct add adds[8];
		char paths[8][64];
		int n = 1 + (int)(rand_r(&seed) % 6);

		for (int i = 0; i < n; i++) {
			snprintf(paths[i], sizeof(paths[i]), "%s/%s",
				 dirs[rand_r(&seed) % AUR_ARRAY_SIZE(dirs)],
				 names[rand_r(&seed) % AUR_ARRAY_SIZE(names)]);
			adds[i] = (struct add){
				paths[i],
				rand_r(&seed) % 5 ? paths[i] : "->target",
				rand_r(&seed) % 2 ? 0 : rand_r(&seed) % 9000};
		}
		/* a path that is a file in one addition cannot be a
		 * directory in another: keep only consistent edits */
		for (int i = 0; i < n; i++)
			for (int k = 0; k < n; k++) {
				size_t l = strlen(paths[i]);

				if (!strncmp(paths[k], paths[i], l) &&
				    paths[k][l] == '/')
					n = AUR_MIN(n, AUR_MAX(i, k));
			}
		if (n == 0 || !strcmp(paths[0], "/boot/x/kernel"))
			continue;
		edit_and_check(&plain, adds, (size_t)n);
	}
}

/* Copies of the descriptors (xorriso's relocated superblock) follow their
 * tree: root record, path tables, and a volume size grown as much. */
static void descriptor_copies(void **state)
{
	const struct fx_opts o = {true, true, 0, 0, true};
	static struct add adds[100];
	static char names[100][40];
	size_t size;
	uint8_t *img = fixture(&o, &size);
	struct aur_mem_source base;
	struct edit_in *in = malloc(sizeof(*in));
	struct result res;

	for (int i = 0; i < 100; i++) {
		snprintf(names[i], sizeof(names[i]), "/dir-%02d/f", i);
		adds[i] = (struct add){names[i], names[i], 0};
	}
	aur_mem_source_init(&base, img, size);
	edit_in_build(in, adds, 100);
	assert_int_equal(do_edit(&base.src, in, &res), 0);
	for (int t = 0; t < 2; t++) {
		uint8_t vd[ISO_BLOCK], copy[ISO_BLOCK];
		const uint8_t *old = img + (16 + t) * ISO_BLOCK;
		const uint8_t *old_copy = img + (20 + t) * ISO_BLOCK;

		rd(&res, vd, ISO_BLOCK, (uint64_t)(16 + t) * ISO_BLOCK);
		rd(&res, copy, ISO_BLOCK, (uint64_t)(20 + t) * ISO_BLOCK);
		/* the root moved (it grew): the copy says so too */
		assert_int_not_equal(iso_le32(vd + 158), iso_le32(old + 158));
		assert_memory_equal(vd + 132, copy + 132, 24);
		assert_memory_equal(vd + 156, copy + 156, 34);
		assert_int_equal(iso_le32(copy + 80) - iso_le32(old_copy + 80),
				 iso_le32(vd + 80) - iso_le32(old + 80));
		assert_true(iso_le32(vd + 80) > iso_le32(old + 80));
	}
	result_free(&res);
	edit_in_free(in);
	free(in);
	free(img);
}

/* A base file whose Joliet name was cut (by some writer's rule) is found
 * in Joliet by its content when replaced: no second entry. */
static void replaced_file_with_a_cut_joliet_name(void **state)
{
	const struct fx_opts o = {true, true, 0, 0, false, true};
	/* twice: the second finds the first's record */
	const struct add adds[] = {{"/" LONG_NAME, "first", 0},
				   {"/" LONG_NAME, "new content", 0}};
	size_t size;
	uint8_t *img = fixture(&o, &size);
	struct aur_mem_source base;
	struct edit_in *in = malloc(sizeof(*in));
	struct result res;
	uint8_t r[256], vd[ISO_BLOCK], *dir;
	char cut[66], got[16];
	int entries = 0;

	aur_mem_source_init(&base, img, size);
	edit_in_build(in, adds, 2);
	assert_int_equal(do_edit(&base.src, in, &res), 0);
	res.rock_ridge = true;
	/* Rock Ridge: by its name */
	assert_true(lookup(&res, 0, "/" LONG_NAME, r));
	assert_int_equal(iso_le32(r + 10), 11);
	/* Joliet: the cut name, the new content */
	snprintf(cut, sizeof(cut), "/%.64s", LONG_NAME);
	assert_true(lookup(&res, 1, cut, r));
	assert_int_equal(iso_le32(r + 10), 11);
	rd(&res, got, 11, (uint64_t)iso_le32(r + 2) * ISO_BLOCK);
	fx_content("new content", 11, (uint8_t *)cut);
	assert_memory_equal(got, cut, 11);
	/* and only once: ., .., boot, rootfs.squashfs and it */
	rd(&res, vd, ISO_BLOCK, 17 * ISO_BLOCK);
	dir = malloc(iso_le32(vd + 166));
	rd(&res, dir, iso_le32(vd + 166),
	   (uint64_t)iso_le32(vd + 158) * ISO_BLOCK);
	for (uint32_t p = 0; p < iso_le32(vd + 166) && dir[p]; p += dir[p])
		entries++;
	assert_int_equal(entries, 5);
	free(dir);
	result_free(&res);
	edit_in_free(in);
	free(in);
	free(img);
}

/* Links are left out of a tree that cannot hold them. */
static void links_without_rock_ridge(void **state)
{
	const struct fx_opts norr = {false, true, 0, 0};
	const struct add adds[] = {
		{"/lnk", "->somewhere", 0},
		{"/file", "file", 0},
	};

	edit_and_check(&norr, adds, 2);
}

/* A read error is an error, wherever it happens - also where the editor
 * looks for a second set of descriptors in a partition. */
static void read_errors_fail_the_edit(void **state)
{
	/* a partition from block 12: its block 16 is file data (block 28),
	 * which the editor reads for nothing else */
	const struct fx_opts part = {true, true, 0, 12};
	const struct add adds[] = {{"/f", "f", 0}};
	uint64_t bad[] = {12 + 16, 16, 17, 23, 25, 0};
	size_t size;
	uint8_t *img = fixture(&part, &size);
	struct edit_in *in = malloc(sizeof(*in));

	edit_in_build(in, adds, 1);
	capture_logs();
	for (size_t i = 0; i < AUR_ARRAY_SIZE(bad); i++) {
		struct failing_source fs = {{&failing_ops, size}, img, bad[i]};
		struct result res;
		int r = do_edit(&fs.src, in, &res);

		if (r != -EIO)
			fail_msg("a read error at block %llu gave %d",
				 (unsigned long long)bad[i], r);
	}
	{
		/* no signature in the partition: simply no second set */
		struct failing_source fs = {
			{&failing_ops, size}, img, UINT64_MAX};
		struct result res;

		assert_int_equal(do_edit(&fs.src, in, &res), 0);
		res.rock_ridge = true;
		check_path(&res, &adds[0]);
		result_free(&res);
	}
	release_logs();
	edit_in_free(in);
	free(in);
	free(img);
}

/* messages are formatted, then dropped without allocating */
static void quiet_sink(void *ctx, int level, const char *msg)
{
}

/* Fail each allocation of an edit in turn: the edit must fail with
 * -ENOMEM (not describe an image with a piece missing) and leak nothing. */
static void allocation_failures(void **state)
{
	const struct fx_opts o = {true, true, 30, 0};
	struct add adds[60];
	char names[60][40];
	size_t size;
	uint8_t *img = fixture(&o, &size);
	struct aur_mem_source base;
	struct edit_in *in = malloc(sizeof(*in));
	long n;

	for (int i = 0; i < 60; i++) {
		snprintf(names[i], sizeof(names[i]), "/d%d/e/file-%02d.txt",
			 i % 7, i);
		adds[i] = (struct add){names[i], i % 9 ? names[i] : "->x", 0};
	}
	aur_mem_source_init(&base, img, size);
	edit_in_build(in, adds, 60);
	aur_log_set_level(LOG_DEBUG);
	aur_log_set_sink(quiet_sink, NULL);
	for (n = 0;; n++) {
		struct aur_extmap map;
		struct aur_iso_edit *edit = NULL;
		int r;

		aur_extmap_init(&map);
		alloc_failed = false;
		alloc_countdown = n;
		r = aur_iso_edit(&base.src, size, "test.iso", in->adds, 60,
				 &map, &edit);
		alloc_countdown = -1;
		if (alloc_failed && r != -ENOMEM)
			fail_msg("allocation %ld failed, the edit gave %d", n,
				 r);
		aur_extmap_release(&map);
		aur_iso_edit_free(edit);
		if (!alloc_failed)
			break;
	}
	aur_log_set_sink(NULL, NULL);
	assert_true(n > 50);
	edit_in_free(in);
	free(in);
	free(img);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(additions_keep_their_contents),
		cmocka_unit_test(later_additions_win),
		cmocka_unit_test(directories_grow_and_move),
		cmocka_unit_test(random_edits),
		cmocka_unit_test(descriptor_copies),
		cmocka_unit_test(replaced_file_with_a_cut_joliet_name),
		cmocka_unit_test(links_without_rock_ridge),
		cmocka_unit_test(read_errors_fail_the_edit),
		cmocka_unit_test(allocation_failures),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
