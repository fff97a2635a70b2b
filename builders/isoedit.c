// SPDX-License-Identifier: GPL-2.0-or-later
#include <aurora/eltorito.h>
#include <aurora/extmap.h>
#include <aurora/iso9660.h>
#include <aurora/isoedit.h>
#include <aurora/log.h>
#include <aurora/parttable.h>
#include <aurora/source.h>
#include <aurora/util.h>

#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#define MAX_TREES 8
#define MAX_VDS 32
#define DELTA_ALIGN_BLOCKS 512 /* 1 MiB */

struct patch {
	uint64_t block; /* in the new image */
	uint8_t *buf; /* ISO_BLOCK bytes */
};

/* a piece of the delta */
struct piece {
	uint64_t block; /* absolute, in the new image */
	uint64_t len; /* bytes */
	const uint8_t *mem;
	struct aur_source *src;
};

struct aur_iso_edit {
	struct aur_source *base;
	uint64_t base_size;
	const char *what;
	struct aur_shift shift;
	uint64_t P, D; /* insertion point and delta, in blocks */

	struct aur_iso_tree trees[MAX_TREES];
	size_t ntrees;
	uint32_t catalog; /* El Torito catalog block, 0 if none */

	struct patch *patches;
	size_t npatches;
	struct piece *pieces;
	size_t npieces;
	uint8_t **bufs; /* every buffer the map points into */
	size_t nbufs;
};

static void *own(struct aur_iso_edit *e, size_t n)
{
	uint8_t **v = realloc(e->bufs, (e->nbufs + 1) * sizeof(*v));
	uint8_t *p;

	if (!v)
		return NULL;
	e->bufs = v;
	p = calloc(1, n ? n : 1);
	if (p)
		e->bufs[e->nbufs++] = p;
	return p;
}

static int read_base(struct aur_iso_edit *e, void *buf, size_t n, uint64_t off)
{
	ssize_t got = aur_source_pread(e->base, buf, n, off);

	if (got < 0)
		return (int)got;
	if ((size_t)got != n) {
		aur_err("%s: truncated image (%zd bytes at offset %llu)",
			e->what, got, (unsigned long long)off);
		return -EINVAL;
	}
	return 0;
}

/* The patch buffer of new-image block @block, made from the base. */
static uint8_t *patch_block(struct aur_iso_edit *e, uint64_t block, int *err)
{
	uint64_t src = block < e->P ? block : block - e->D;
	struct patch *v;
	size_t i;
	uint8_t *buf;

	for (i = 0; i < e->npatches && e->patches[i].block <= block; i++)
		if (e->patches[i].block == block)
			return e->patches[i].buf;
	buf = own(e, ISO_BLOCK);
	v = realloc(e->patches, (e->npatches + 1) * sizeof(*v));
	if (!buf || !v) {
		*err = -ENOMEM;
		return NULL;
	}
	e->patches = v;
	if (src * ISO_BLOCK < e->base_size) {
		size_t n = (size_t)AUR_MIN((uint64_t)ISO_BLOCK,
					   e->base_size - src * ISO_BLOCK);

		*err = read_base(e, buf, n, src * ISO_BLOCK);
		if (*err)
			return NULL;
	}
	memmove(&v[i + 1], &v[i], (e->npatches - i) * sizeof(*v));
	v[i].block = block;
	v[i].buf = buf;
	e->npatches++;
	return buf;
}

/* Overwrite @n bytes at byte @off of the new image (outside the delta). */
static int patch_bytes(struct aur_iso_edit *e, uint64_t off, const void *data,
		       size_t n)
{
	const uint8_t *p = data;
	int err = 0;

	while (n > 0) {
		uint64_t block = off / ISO_BLOCK;
		size_t in = (size_t)(off % ISO_BLOCK);
		size_t k = AUR_MIN(n, ISO_BLOCK - in);
		uint8_t *buf = patch_block(e, block, &err);

		if (!buf)
			return err;
		memcpy(buf + in, p, k);
		p += k;
		off += k;
		n -= k;
	}
	return 0;
}

static int add_piece(struct aur_iso_edit *e, uint64_t block, uint64_t len,
		     const uint8_t *mem, struct aur_source *src)
{
	struct piece *v = realloc(e->pieces, (e->npieces + 1) * sizeof(*v));

	if (!v)
		return -ENOMEM;
	e->pieces = v;
	v[e->npieces++] = (struct piece){block, len, mem, src};
	return 0;
}

/* ---- finding the hierarchies ---- */

static int load_trees_at(struct aur_iso_edit *e, uint32_t base)
{
	for (uint32_t b = base + 16; b < base + 16 + MAX_VDS; b++) {
		uint8_t vd[ISO_BLOCK];
		int r = read_base(e, vd, ISO_BLOCK, (uint64_t)b * ISO_BLOCK);

		if (r < 0)
			return r;
		if (memcmp(vd + 1, "CD001", 5) != 0 || vd[0] == 255)
			return 0;
		if (vd[0] == 0 && base == 0 && !e->catalog) {
			e->catalog = aur_eltorito_catalog(vd);
		} else if (vd[0] == 1 || vd[0] == 2) {
			struct aur_iso_tree *t = &e->trees[e->ntrees];

			if (e->ntrees == MAX_TREES)
				return 0;
			r = aur_iso_tree_load(t, e->base, e->base_size, base, b,
					      e->what);
			if (r < 0)
				return r;
			/* ISO 9660:1999 and other supplementary descriptors
			 * that are not Joliet share the primary's tree */
			if (vd[0] == 2 && !t->joliet) {
				aur_iso_tree_release(t);
				continue;
			}
			e->ntrees++;
		}
	}
	return 0;
}

struct bases {
	uint32_t v[8];
	size_t n;
	struct aur_iso_edit *e;
};

static void note_partition_start(uint64_t byte, void *ctx)
{
	struct bases *b = ctx;
	uint8_t sig[6];

	if (byte == 0 || byte % ISO_BLOCK || b->n == AUR_ARRAY_SIZE(b->v))
		return;
	for (size_t i = 0; i < b->n; i++)
		if (b->v[i] == byte / ISO_BLOCK)
			return;
	/* a partition with its own volume descriptors (partition_offset) */
	if (byte + 17 * ISO_BLOCK > b->e->base_size ||
	    aur_source_pread(b->e->base, sig, 6, byte + 16 * ISO_BLOCK) != 6 ||
	    memcmp(sig, "\001CD001", 6) != 0)
		return;
	b->v[b->n++] = (uint32_t)(byte / ISO_BLOCK);
}

struct boundary {
	uint64_t min_at, best;
};

static void note_boundary(uint64_t byte, void *ctx)
{
	struct boundary *b = ctx;

	if (byte % ISO_BLOCK == 0 && byte >= b->min_at && byte < b->best)
		b->best = byte;
}

/* ---- applying the additions ---- */

static int add_to_tree(struct aur_iso_edit *e, struct aur_iso_tree *t,
		       const struct aur_iso_addition *a,
		       struct aur_iso_rec **file_rec)
{
	struct aur_iso_dir *dir = t->root;
	const char *p = a->path;
	char name[256];
	int r;

	*file_rec = NULL;
	for (;;) {
		const char *slash;
		size_t len;
		struct aur_iso_rec *rec;
		bool last;

		while (*p == '/')
			p++;
		slash = strchr(p, '/');
		len = slash ? (size_t)(slash - p) : strlen(p);
		last = !slash || !slash[strspn(slash, "/")];
		if (len == 0 || len >= sizeof(name))
			goto bad_name;
		memcpy(name, p, len);
		name[len] = '\0';
		rec = aur_iso_dir_find(dir, name);
		if (rec && !last) {
			if (!rec->dir) {
				aur_err("%s: cannot add '%s': '%s' is a file",
					e->what, a->path, name);
				return -EINVAL;
			}
			dir = rec->dir;
		} else if (rec && a->is_dir) {
			if (!rec->dir) {
				aur_err("%s: cannot add directory '%s' over a "
					"file",
					e->what, a->path);
				return -EINVAL;
			}
			return 0;
		} else if (rec) {
			if (rec->dir ||
			    (iso_rec_flags(rec) & ISO_MULTI_EXTENT_FLAG)) {
				aur_err("%s: cannot replace '%s': it is a %s",
					e->what, a->path,
					rec->dir ? "directory"
						 : "multi-extent file");
				return -EINVAL;
			}
			dir->modified = true;
			*file_rec = rec;
			return 0;
		} else if (!last || a->is_dir) {
			struct aur_iso_dir *sub = aur_iso_dir_new(dir);

			if (!sub)
				return -ENOMEM;
			r = aur_iso_dir_add(t, dir, name, true, S_IFDIR | 0755,
					    a->mtime, sub, NULL);
			if (r < 0) {
				free(sub); /* never attached */
				goto fail;
			}
			dir = sub;
			if (last)
				return 0;
		} else {
			r = aur_iso_dir_add(t, dir, name, false, a->mode,
					    a->mtime, NULL, file_rec);
			if (r < 0)
				goto fail;
			return 0;
		}
		p += len;
	}
fail:
	if (r != -ENAMETOOLONG)
		return r;
bad_name:
	aur_err("%s: '%s' cannot be held in ISO 9660 (name too long or not "
		"UTF-8)",
		e->what, a->path);
	return -EINVAL;
}

/* ---- laying out the delta ---- */

struct layout {
	struct aur_iso_edit *e;
	struct aur_iso_tree *t;
	uint64_t cursor; /* next free block of the delta */
	bool relocated;
	int err;
};

static void relocate_if_grown(struct aur_iso_dir *d, void *ctx)
{
	struct layout *l = ctx;
	uint32_t size;

	if (!d->modified)
		return;
	size = aur_iso_dir_serialised_size(d);
	if (!d->created && size <= d->size)
		return;
	d->new_extent = (uint32_t)(l->cursor - l->t->base);
	d->new_size = size;
	l->cursor += size / ISO_BLOCK;
	l->relocated = true;
}

/* A moved directory changes its parent's record and its children's "..". */
static void mark_neighbours(struct aur_iso_dir *d, void *ctx)
{
	if (d->new_extent == d->extent && !d->created)
		return;
	if (d->parent)
		d->parent->modified = true;
	for (size_t i = 2; i < d->n; i++)
		if (d->recs[i].dir)
			d->recs[i].dir->modified = true;
}

static void write_dir(struct aur_iso_dir *d, void *ctx)
{
	struct layout *l = ctx;
	struct aur_iso_edit *e = l->e;
	uint32_t size;
	uint8_t *buf;
	uint64_t block;

	if (!d->modified || l->err)
		return;
	size = aur_iso_dir_serialised_size(d);
	buf = own(e, AUR_MAX(size, d->size));
	if (!buf) {
		l->err = -ENOMEM;
		return;
	}
	aur_iso_dir_serialise(l->t, d, buf);
	block = (uint64_t)l->t->base + d->new_extent;
	if (d->created || d->new_extent != d->extent) {
		l->err = add_piece(e, block, size, buf, NULL);
	} else {
		/* in place: same blocks, the rest of the old size zeroed */
		l->err = patch_bytes(
			e,
			aur_shift_pos(&e->shift, block, ISO_BLOCK) * ISO_BLOCK,
			buf, d->size);
	}
}

/* Give grown and new directories blocks from @cursor on; true if any
 * directory moved (the path tables must then be written again). */
static bool layout_tree_dirs(struct aur_iso_edit *e, struct aur_iso_tree *t,
			     uint64_t *cursor)
{
	struct layout l = {e, t, *cursor, false, 0};

	aur_iso_tree_walk(t, relocate_if_grown, &l);
	aur_iso_tree_walk(t, mark_neighbours, &l);
	*cursor = l.cursor;
	return l.relocated;
}

/* Write @t's changed directories, its path tables (at block @pt_at when
 * @pt_needed) and its volume descriptor. */
static int write_tree(struct aur_iso_edit *e, struct aur_iso_tree *t,
		      bool pt_needed, uint64_t pt_at)
{
	struct layout l = {e, t, 0, false, 0};
	uint8_t vd[ISO_BLOCK];
	uint64_t end;

	aur_iso_tree_walk(t, write_dir, &l);
	if (l.err)
		return l.err;
	memcpy(vd, t->vd, ISO_BLOCK);
	if (pt_needed) {
		uint32_t size = aur_iso_path_table_prepare(t);
		uint32_t blocks = (uint32_t)AUR_DIV_ROUND_UP(size, ISO_BLOCK);
		uint8_t *lt = own(e, (size_t)blocks * ISO_BLOCK);
		uint8_t *mt = own(e, (size_t)blocks * ISO_BLOCK);
		int r;

		if (!lt || !mt)
			return -ENOMEM;
		aur_iso_path_table_write(t, false, lt);
		aur_iso_path_table_write(t, true, mt);
		r = add_piece(e, pt_at, size, lt, NULL);
		if (r == 0)
			r = add_piece(e, pt_at + blocks, size, mt, NULL);
		if (r < 0)
			return r;
		iso_put_both32(vd + 132, size);
		iso_put_le32(vd + 140, (uint32_t)(pt_at - t->base));
		iso_put_le32(vd + 144, 0);
		iso_put_be32(vd + 148, (uint32_t)(pt_at + blocks - t->base));
		iso_put_be32(vd + 152, 0);
	}
	/* the root record and the volume size */
	iso_put_both32(vd + 156 + 2, t->root->new_extent);
	iso_put_both32(vd + 156 + 10, t->root->new_size);
	end = aur_shift_pos(&e->shift, (uint64_t)t->base + iso_le32(vd + 80),
			    ISO_BLOCK);
	iso_put_both32(vd + 80, (uint32_t)(end - t->base));
	return patch_bytes(e, (uint64_t)t->vd_block * ISO_BLOCK, vd, ISO_BLOCK);
}

/* ---- the extent map ---- */

static int emit_base(struct aur_iso_edit *e, struct aur_extmap *m,
		     uint64_t from, uint64_t to)
{
	uint64_t pos = from;
	int r = 0;

	for (size_t i = 0; i < e->npatches && r == 0; i++) {
		uint64_t off = e->patches[i].block * ISO_BLOCK;

		if (off < from || off >= to)
			continue;
		if (off > pos) {
			uint64_t src =
				pos < e->shift.at ? pos : pos - e->shift.by;

			r = aur_extmap_add_source(m, "base ISO", e->base, src,
						  off - pos);
		}
		if (r == 0)
			r = aur_extmap_add_mem(
				m, "patched block", e->patches[i].buf,
				AUR_MIN((uint64_t)ISO_BLOCK, to - off));
		pos = off + AUR_MIN((uint64_t)ISO_BLOCK, to - off);
	}
	if (r == 0 && pos < to)
		r = aur_extmap_add_source(
			m, "base ISO", e->base,
			pos < e->shift.at ? pos : pos - e->shift.by, to - pos);
	return r;
}

static int piece_cmp(const void *a, const void *b)
{
	const struct piece *x = a, *y = b;

	return x->block < y->block ? -1 : x->block > y->block;
}

static int emit_delta(struct aur_iso_edit *e, struct aur_extmap *m)
{
	uint64_t pos = e->P * ISO_BLOCK, end = (e->P + e->D) * ISO_BLOCK;
	int r = 0;

	qsort(e->pieces, e->npieces, sizeof(*e->pieces), piece_cmp);
	for (size_t i = 0; i < e->npieces && r == 0; i++) {
		const struct piece *p = &e->pieces[i];
		uint64_t at = p->block * ISO_BLOCK;

		r = aur_extmap_add_zero(m, "padding", at - pos);
		if (r == 0 && p->mem)
			r = aur_extmap_add_mem(m, "new metadata", p->mem,
					       p->len);
		else if (r == 0)
			r = aur_extmap_add_source(m, "added file", p->src, 0,
						  p->len);
		pos = at + p->len;
	}
	if (r == 0)
		r = aur_extmap_add_zero(m, "padding", end - pos);
	return r;
}

/* ---- the whole edit ---- */

static int find_structure(struct aur_iso_edit *e, uint8_t *sys,
			  struct aur_parts *parts)
{
	struct bases bases = {{0}, 1, e};
	int r;

	if (e->base_size < 18 * ISO_BLOCK) {
		aur_err("%s: %llu bytes is too small for an ISO 9660 image",
			e->what, (unsigned long long)e->base_size);
		return -EINVAL;
	}
	r = read_base(e, sys, AUR_SYSTEM_AREA, 0);
	if (r < 0)
		return r;
	aur_parts_find(sys, parts);
	aur_parts_each_boundary(sys, parts, note_partition_start, &bases);
	for (size_t i = 0; i < bases.n && r == 0; i++)
		r = load_trees_at(e, bases.v[i]);
	if (r < 0)
		return r;
	if (e->ntrees == 0 || e->trees[0].base != 0 || e->trees[0].vd[0] != 1) {
		aur_err("%s: not an ISO 9660 image (no primary volume "
			"descriptor at block 16)",
			e->what);
		return -EINVAL;
	}
	for (size_t i = 0; i < e->ntrees; i++) {
		const struct aur_iso_tree *t = &e->trees[i];
		uint64_t end =
			((uint64_t)t->base + iso_le32(t->vd + 80)) * ISO_BLOCK;

		if (end > e->base_size) {
			aur_err("%s: truncated image: its volume descriptor at "
				"block %u claims %llu bytes, the file has %llu",
				e->what, t->vd_block, (unsigned long long)end,
				(unsigned long long)e->base_size);
			return -EINVAL;
		}
	}
	return 0;
}

static uint64_t insertion_point(struct aur_iso_edit *e, const uint8_t *sys,
				const struct aur_parts *parts)
{
	struct boundary b = {0, UINT64_MAX};
	uint64_t data_end = 0, size_blocks;

	for (size_t i = 0; i < e->ntrees; i++)
		data_end = AUR_MAX(data_end, (uint64_t)e->trees[i].base +
						     e->trees[i].data_end);
	if (e->catalog)
		data_end = AUR_MAX(data_end, (uint64_t)e->catalog + 1);
	size_blocks = AUR_DIV_ROUND_UP(e->base_size, ISO_BLOCK);
	b.min_at = AUR_MIN(data_end, size_blocks) * ISO_BLOCK;
	aur_parts_each_boundary(sys, parts, note_boundary, &b);
	note_boundary((uint64_t)iso_le32(e->trees[0].vd + 80) * ISO_BLOCK, &b);
	note_boundary(size_blocks * ISO_BLOCK, &b);
	return b.best / ISO_BLOCK;
}

static int add_all(struct aur_iso_edit *e, const struct aur_iso_addition *adds,
		   size_t nadds, struct aur_iso_rec **recs)
{
	int r = 0;

	for (size_t t = 0; t < e->ntrees && r == 0; t++)
		for (size_t i = 0; i < nadds && r == 0; i++)
			r = add_to_tree(e, &e->trees[t], &adds[i],
					&recs[t * nadds + i]);
	return r;
}

/* Give the added files their blocks from @cursor on, in every tree. */
static int layout_files(struct aur_iso_edit *e,
			const struct aur_iso_addition *adds, size_t nadds,
			struct aur_iso_rec **recs, uint64_t *cursor)
{
	for (size_t i = 0; i < nadds; i++) {
		int r;

		if (adds[i].is_dir)
			continue;
		if (adds[i].size > UINT32_MAX) {
			aur_err("%s: '%s' is larger than an ISO 9660 extent "
				"(4 GiB)",
				e->what, adds[i].path);
			return -EINVAL;
		}
		for (size_t t = 0; t < e->ntrees; t++)
			if (recs[t * nadds + i])
				iso_rec_set_extent(
					recs[t * nadds + i],
					(uint32_t)(*cursor - e->trees[t].base),
					(uint32_t)adds[i].size);
		if (adds[i].size) {
			r = add_piece(e, *cursor, adds[i].size, NULL,
				      adds[i].src);
			if (r < 0)
				return r;
		}
		*cursor += AUR_DIV_ROUND_UP(adds[i].size, ISO_BLOCK);
	}
	return 0;
}

/* Partition tables, backup GPT and boot catalog for the new layout. */
static int write_boot_structures(struct aur_iso_edit *e, uint8_t *sys,
				 const struct aur_parts *parts)
{
	uint8_t *backup = NULL;
	size_t backup_len = 0;
	uint64_t backup_off = 0;
	int r;

	if (parts->mbr || parts->gpt || parts->apm) {
		r = aur_parts_shift(sys, parts, &e->shift, &backup, &backup_len,
				    &backup_off);
		if (r == 0)
			r = patch_bytes(e, 0, sys, AUR_SYSTEM_AREA);
		if (r == 0 && backup)
			r = patch_bytes(e, backup_off, backup, backup_len);
		free(backup);
		if (r < 0)
			return r;
	}
	if (e->catalog) {
		uint64_t block =
			aur_shift_pos(&e->shift, e->catalog, ISO_BLOCK);
		uint8_t *cat = patch_block(e, block, &r);

		if (!cat)
			return r;
		if (aur_eltorito_shift(cat, &e->shift) < 0)
			aur_warn("%s: the El Torito catalog at block %u is not "
				 "valid; left as it is",
				 e->what, e->catalog);
	}
	return 0;
}

static int run(struct aur_iso_edit *e, const struct aur_iso_addition *adds,
	       size_t nadds, struct aur_extmap *map)
{
	uint8_t *sys = own(e, AUR_SYSTEM_AREA);
	bool pt_needed[MAX_TREES] = {false};
	uint64_t pt_at[MAX_TREES] = {0};
	struct aur_iso_rec **recs;
	struct aur_parts parts;
	uint64_t cursor;
	int r;

	if (!sys)
		return -ENOMEM;
	r = find_structure(e, sys, &parts);
	if (r < 0)
		return r;
	e->P = insertion_point(e, sys, &parts);
	recs = calloc(e->ntrees * (nadds ? nadds : 1), sizeof(*recs));
	if (!recs)
		return -ENOMEM;
	r = add_all(e, adds, nadds, recs);

	/* the delta: directories, path tables, then file contents */
	cursor = e->P;
	for (size_t t = 0; t < e->ntrees && r == 0; t++)
		pt_needed[t] = layout_tree_dirs(e, &e->trees[t], &cursor);
	for (size_t t = 0; t < e->ntrees && r == 0; t++) {
		uint32_t n;

		if (!pt_needed[t])
			continue;
		n = aur_iso_path_table_prepare(&e->trees[t]);
		pt_at[t] = cursor;
		cursor += 2 * AUR_DIV_ROUND_UP(n, ISO_BLOCK);
	}
	if (r == 0)
		r = layout_files(e, adds, nadds, recs, &cursor);
	free(recs);
	if (r < 0)
		return r;
	e->D = AUR_DIV_ROUND_UP(cursor - e->P, DELTA_ALIGN_BLOCKS) *
	       DELTA_ALIGN_BLOCKS;
	e->shift.at = e->P * ISO_BLOCK;
	e->shift.by = e->D * ISO_BLOCK;
	aur_debug("%s: %zu hierarchies; %llu blocks inserted at block %llu",
		  e->what, e->ntrees, (unsigned long long)e->D,
		  (unsigned long long)e->P);

	/* rewrite what points at blocks, then describe the bytes */
	for (size_t t = 0; t < e->ntrees && r == 0; t++)
		r = write_tree(e, &e->trees[t], pt_needed[t], pt_at[t]);
	if (r == 0)
		r = write_boot_structures(e, sys, &parts);
	if (r == 0)
		r = emit_base(e, map, 0, e->shift.at);
	if (r == 0)
		r = emit_delta(e, map);
	if (r == 0)
		r = emit_base(e, map, e->shift.at + e->shift.by,
			      e->base_size + e->shift.by);
	return r;
}

int aur_iso_edit(struct aur_source *base, uint64_t base_size, const char *what,
		 const struct aur_iso_addition *adds, size_t nadds,
		 struct aur_extmap *map, struct aur_iso_edit **out)
{
	struct aur_iso_edit *e = calloc(1, sizeof(*e));
	int r;

	if (!e)
		return -ENOMEM;
	e->base = base;
	e->base_size = base_size;
	e->what = what;
	r = run(e, adds, nadds, map);
	/* the trees were only needed to compute the patches */
	for (size_t t = 0; t < e->ntrees; t++)
		aur_iso_tree_release(&e->trees[t]);
	e->ntrees = 0;
	if (r < 0) {
		aur_iso_edit_free(e);
		return r;
	}
	*out = e;
	return 0;
}

void aur_iso_edit_free(struct aur_iso_edit *e)
{
	if (!e)
		return;
	for (size_t t = 0; t < e->ntrees; t++)
		aur_iso_tree_release(&e->trees[t]);
	for (size_t i = 0; i < e->nbufs; i++)
		free(e->bufs[i]);
	free(e->bufs);
	free(e->patches);
	free(e->pieces);
	free(e);
}
