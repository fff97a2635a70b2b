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
#define MAX_COPIES 16
#define COPY_SCAN_BLOCKS 256 /* where copies of descriptors are looked for */
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
	/* other volume descriptors describing one of the trees (xorriso's
	 * relocated superblock): block, tree, their bytes */
	struct vd_copy {
		uint32_t block;
		size_t tree;
		uint8_t vd[ISO_BLOCK];
	} * copies;
	size_t ncopies;

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
	v = realloc(e->patches, (e->npatches + 1) * sizeof(*v));
	if (v)
		e->patches = v;
	buf = v ? own(e, ISO_BLOCK) : NULL;
	if (!buf) {
		*err = -ENOMEM;
		return NULL;
	}
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

/* A non-Joliet supplementary descriptor (ISO 9660:1999) whose root is
 * one of a loaded tree's roots adds nothing to edit. */
static bool same_root_loaded(const struct aur_iso_edit *e,
			     const struct aur_iso_tree *t)
{
	for (size_t i = 0; i < e->ntrees; i++)
		if (e->trees[i].base == t->base &&
		    e->trees[i].root->extent == t->root->extent)
			return true;
	return false;
}

static int load_trees_at(struct aur_iso_edit *e, uint32_t base)
{
	for (uint32_t b = base + 16; b < base + 16 + MAX_VDS; b++) {
		uint8_t vd[ISO_BLOCK];
		int r = read_base(e, vd, ISO_BLOCK, (uint64_t)b * ISO_BLOCK);

		if (r < 0)
			return r;
		if (memcmp(vd + 1, "CD001", 5) != 0 || vd[0] == 255)
			return 0; /* the end of the descriptor set */
		if (vd[0] == 0 && base == 0 && !e->catalog) {
			e->catalog = aur_eltorito_catalog(vd);
		} else if (vd[0] == 1 || vd[0] == 2) {
			struct aur_iso_tree *t = &e->trees[e->ntrees];

			if (e->ntrees == MAX_TREES) {
				aur_err("%s: more than %d directory "
					"hierarchies",
					e->what, MAX_TREES);
				return -EINVAL;
			}
			r = aur_iso_tree_load(t, e->base, e->base_size, base, b,
					      e->what);
			if (r < 0) {
				aur_iso_tree_release(t);
				return r;
			}
			if (vd[0] == 2 && !t->joliet &&
			    same_root_loaded(e, t)) {
				aur_iso_tree_release(t);
				continue;
			}
			e->ntrees++;
		}
	}
	aur_err("%s: no volume descriptor set terminator after block %u",
		e->what, base + 16);
	return -EINVAL;
}

struct bases {
	uint32_t v[8];
	size_t n;
	struct aur_iso_edit *e;
	int err;
};

/* A partition whose block 16 holds a primary volume descriptor has its
 * own hierarchies (xorriso's partition_offset). Only a block without the
 * signature means none: a read error is an error. */
static void note_partition_start(uint64_t byte, void *ctx)
{
	struct bases *b = ctx;
	uint8_t sig[6];
	int r;

	if (b->err || byte == 0 || byte % ISO_BLOCK)
		return;
	for (size_t i = 0; i < b->n; i++)
		if (b->v[i] == byte / ISO_BLOCK)
			return;
	if (byte + 17 * ISO_BLOCK > b->e->base_size)
		return; /* no room for descriptors there */
	r = read_base(b->e, sig, sizeof(sig), byte + 16 * ISO_BLOCK);
	if (r < 0) {
		b->err = r;
		return;
	}
	if (memcmp(sig, "\001CD001", 6) != 0)
		return;
	if (b->n == AUR_ARRAY_SIZE(b->v) || byte / ISO_BLOCK > UINT32_MAX) {
		aur_err("%s: too many partitions with ISO 9660 descriptors",
			b->e->what);
		b->err = -EINVAL;
		return;
	}
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

static int name_error(struct aur_iso_edit *e, const char *path, int r)
{
	switch (r) {
	case -ENAMETOOLONG:
	case -EINVAL:
		aur_err("%s: '%s' cannot be held in ISO 9660 (name or link "
			"target too long, or not a valid name)",
			e->what, path);
		return -EINVAL;
	case -EEXIST:
		aur_err("%s: no free ISO 9660 name for '%s'", e->what, path);
		return -EINVAL;
	default:
		return r;
	}
}

/* The record of a file @dir shows under another name in this hierarchy
 * (a Joliet name cut at 64 characters): the one pointing at the same
 * content as the base file the addition replaces in the first tree. */
static size_t find_by_content(const struct aur_iso_tree *t,
			      const struct aur_iso_dir *dir, uint64_t block)
{
	for (size_t i = 2; block && i < dir->n; i++) {
		const struct aur_iso_rec *r = &dir->recs[i];

		if (!r->dir && !r->add && iso_rec_size(r) &&
		    (uint64_t)t->base + iso_rec_extent(r) == block)
			return i;
	}
	return 0;
}

/*
 * Apply addition @index to tree @t: create the directories on its path,
 * then add its record, or replace the file or link already there (the
 * later of two additions of a path wins). The record carries the
 * addition's index; its extent is set once every addition is in
 * (set_extents), because adding records moves the records of a
 * directory. @replaced[@index] is the base content block of the file it
 * replaced in an earlier tree, to find the same file in Joliet.
 */
static int add_to_tree(struct aur_iso_edit *e, struct aur_iso_tree *t,
		       const struct aur_iso_addition *a, size_t index,
		       uint64_t *replaced)
{
	struct aur_iso_dir *dir = t->root;
	const char *p = a->path;
	bool is_link = S_ISLNK(a->mode);
	char name[256];
	struct aur_iso_entry ent = {name, 0, a->mtime, NULL, 0};
	int r;

	for (;;) {
		const char *slash;
		size_t len, i;
		bool last;
		struct aur_iso_dir *sub;

		while (*p == '/')
			p++;
		slash = strchr(p, '/');
		len = slash ? (size_t)(slash - p) : strlen(p);
		last = !slash || !slash[strspn(slash, "/")];
		if (len == 0 || len >= sizeof(name))
			return name_error(e, a->path, -ENAMETOOLONG);
		memcpy(name, p, len);
		name[len] = '\0';
		p += len;
		i = aur_iso_dir_find(dir, name);
		if (i && !dir->recs[i].dir && (!last || a->is_dir)) {
			aur_err("%s: cannot add '%s': '%s' is not a directory",
				e->what, a->path, name);
			return -EINVAL;
		}
		if (i && !last) {
			dir = dir->recs[i].dir;
			continue;
		}
		if (i && a->is_dir)
			return 0;
		if (!last || a->is_dir) {
			ent.mode = S_IFDIR | (last && (a->mode & 07777)
						      ? (a->mode & 07777)
						      : 0755);
			ent.add = 0;
			sub = aur_iso_dir_new(t, dir, &ent);
			if (!sub)
				return -ENOMEM;
			r = aur_iso_dir_add(t, dir, &ent, sub);
			if (r < 0)
				return name_error(e, a->path, r);
			if (last)
				return 0;
			dir = sub;
			continue;
		}
		/* the file or link itself */
		ent.mode = a->mode;
		ent.link = a->link;
		ent.add = index + 1;
		if (!i && t->joliet)
			i = find_by_content(t, dir, replaced[index]);
		if (i) {
			const struct aur_iso_rec *old = &dir->recs[i];

			if (old->dir ||
			    (iso_rec_flags(old) & ISO_MULTI_EXTENT_FLAG)) {
				aur_err("%s: cannot replace '%s': it is a %s",
					e->what, a->path,
					old->dir ? "directory"
						 : "multi-extent file");
				return -EINVAL;
			}
			if (!old->add && iso_rec_size(old) && !replaced[index])
				replaced[index] =
					(uint64_t)t->base + iso_rec_extent(old);
		}
		if (is_link && !aur_iso_tree_has_symlinks(t)) {
			/* like libisofs: no links in Joliet or plain
			 * ECMA-119, and a replaced file goes away there */
			aur_debug("%s: link '%s' left out of the %s "
				  "hierarchy at block %u",
				  e->what, a->path,
				  t->joliet ? "Joliet" : "ECMA-119",
				  t->vd_block);
			if (i)
				aur_iso_dir_remove(dir, i);
			return 0;
		}
		r = i ? aur_iso_dir_replace(t, dir, i, &ent)
		      : aur_iso_dir_add(t, dir, &ent, NULL);
		return r < 0 ? name_error(e, a->path, r) : 0;
	}
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

/* Where each tree's path tables and continuation areas go. */
struct tree_layout {
	bool pt_needed;
	uint64_t pt_at; /* absolute blocks */
	uint32_t pt_size;
	uint64_t ce_at;
	uint32_t ce_blocks;
};

/* Write @t's changed directories, path tables, continuation areas and
 * its volume descriptor. */
static int write_tree(struct aur_iso_edit *e, struct aur_iso_tree *t,
		      const struct tree_layout *tl)
{
	struct layout l = {e, t, 0, false, 0};
	uint8_t vd[ISO_BLOCK];
	uint64_t end;

	aur_iso_tree_walk(t, write_dir, &l);
	if (l.err)
		return l.err;
	memcpy(vd, t->vd, ISO_BLOCK);
	if (tl->pt_needed) {
		uint32_t blocks =
			(uint32_t)AUR_DIV_ROUND_UP(tl->pt_size, ISO_BLOCK);
		uint8_t *lt = own(e, (size_t)blocks * ISO_BLOCK);
		uint8_t *mt = own(e, (size_t)blocks * ISO_BLOCK);
		int r;

		if (!lt || !mt)
			return -ENOMEM;
		aur_iso_path_table_write(t, false, lt);
		aur_iso_path_table_write(t, true, mt);
		r = add_piece(e, tl->pt_at, tl->pt_size, lt, NULL);
		if (r == 0)
			r = add_piece(e, tl->pt_at + blocks, tl->pt_size, mt,
				      NULL);
		if (r < 0)
			return r;
		iso_put_both32(vd + 132, tl->pt_size);
		iso_put_le32(vd + 140, (uint32_t)(tl->pt_at - t->base));
		iso_put_le32(vd + 144, 0);
		iso_put_be32(vd + 148,
			     (uint32_t)(tl->pt_at + blocks - t->base));
		iso_put_be32(vd + 152, 0);
	}
	if (tl->ce_blocks) {
		uint8_t *ce = own(e, (size_t)tl->ce_blocks * ISO_BLOCK);
		int r;

		if (!ce)
			return -ENOMEM;
		aur_iso_ce_write(t, (uint32_t)(tl->ce_at - t->base), ce);
		r = add_piece(e, tl->ce_at, (uint64_t)tl->ce_blocks * ISO_BLOCK,
			      ce, NULL);
		if (r < 0)
			return r;
	}
	/* the root record and the volume size */
	iso_put_both32(vd + 156 + 2, t->root->new_extent);
	iso_put_both32(vd + 156 + 10, t->root->new_size);
	end = aur_shift_pos(&e->shift, (uint64_t)t->base + iso_le32(vd + 80),
			    ISO_BLOCK);
	iso_put_both32(vd + 80, (uint32_t)(end - t->base));
	/* copies of this descriptor: the same tree, their own volume size
	 * grown as much */
	for (size_t i = 0; i < e->ncopies; i++) {
		struct vd_copy *c = &e->copies[i];
		int r;

		if (&e->trees[c->tree] != t)
			continue;
		memcpy(c->vd + 132, vd + 132, 24);
		memcpy(c->vd + 156, vd + 156, 34);
		iso_put_both32(c->vd + 80, iso_le32(c->vd + 80) +
						   iso_le32(vd + 80) -
						   iso_le32(t->vd + 80));
		r = patch_bytes(e, (uint64_t)c->block * ISO_BLOCK, c->vd,
				ISO_BLOCK);
		if (r < 0)
			return r;
	}
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

	if (e->npieces) /* none when only links and replaced records */
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

static int find_copies(struct aur_iso_edit *e);

static int find_structure(struct aur_iso_edit *e, uint8_t *sys,
			  struct aur_parts *parts)
{
	struct bases bases = {{0}, 1, e, 0};
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
	r = bases.err;
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
	return find_copies(e);
}

/*
 * xorriso writing to a file (AuroraBoot's -outdev) puts the session's own
 * volume descriptors at block 64 (and 80 for the partition offset copy)
 * and copies of them, with the image's full size, at 16 (and 32): two
 * descriptor sets per tree, both pointing at the same directories. libisofs
 * compares their sizes to recognise boot info tables, and a reader may use
 * either: every descriptor between block 16 and the trees' first metadata
 * that names the root and path tables of a loaded tree is updated with it.
 */
static bool is_tree_vd(const struct aur_iso_edit *e, uint32_t b)
{
	for (size_t i = 0; i < e->ntrees; i++)
		if (e->trees[i].vd_block == b)
			return true;
	return false;
}

static int find_copies(struct aur_iso_edit *e)
{
	uint64_t lowest = 16 + COPY_SCAN_BLOCKS;

	for (size_t i = 0; i < e->ntrees; i++) {
		const struct aur_iso_tree *t = &e->trees[i];

		lowest = AUR_MIN(lowest, (uint64_t)t->base + t->root->extent);
		lowest = AUR_MIN(lowest,
				 (uint64_t)t->base + iso_le32(t->vd + 140));
	}
	lowest = AUR_MIN(lowest, e->base_size / ISO_BLOCK);
	for (uint32_t b = 17; b < lowest; b++) {
		uint8_t vd[ISO_BLOCK];
		size_t i;
		int r;

		if (is_tree_vd(e, b))
			continue;
		r = read_base(e, vd, ISO_BLOCK, (uint64_t)b * ISO_BLOCK);
		if (r < 0)
			return r;
		if (memcmp(vd + 1, "CD001", 5) != 0 ||
		    (vd[0] != 1 && vd[0] != 2))
			continue;
		/* same kind, escape sequences, path tables and root record */
		for (i = 0; i < e->ntrees; i++) {
			const uint8_t *tv = e->trees[i].vd;

			if (tv[0] == vd[0] && !memcmp(tv + 88, vd + 88, 32) &&
			    !memcmp(tv + 132, vd + 132, 24) &&
			    !memcmp(tv + 156, vd + 156, 34))
				break;
		}
		if (i == e->ntrees) {
			aur_debug("%s: the volume descriptor at block %u "
				  "describes no hierarchy that is edited",
				  e->what, b);
			continue;
		}
		if (e->ncopies == MAX_COPIES) {
			aur_err("%s: more than %d copies of volume descriptors",
				e->what, MAX_COPIES);
			return -EINVAL;
		}
		if (!e->copies) {
			e->copies = calloc(MAX_COPIES, sizeof(*e->copies));
			if (!e->copies)
				return -ENOMEM;
		}
		e->copies[e->ncopies].block = b;
		e->copies[e->ncopies].tree = i;
		memcpy(e->copies[e->ncopies].vd, vd, ISO_BLOCK);
		e->ncopies++;
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
	/* a partial last block stays after the delta */
	size_blocks = e->base_size / ISO_BLOCK;
	b.min_at = AUR_MIN(data_end, size_blocks) * ISO_BLOCK;
	aur_parts_each_boundary(sys, parts, note_boundary, &b);
	note_boundary((uint64_t)iso_le32(e->trees[0].vd + 80) * ISO_BLOCK, &b);
	note_boundary(size_blocks * ISO_BLOCK, &b);
	return b.best / ISO_BLOCK;
}

static int add_all(struct aur_iso_edit *e, const struct aur_iso_addition *adds,
		   size_t nadds)
{
	uint64_t *replaced = calloc(nadds ? nadds : 1, sizeof(*replaced));
	int r = replaced ? 0 : -ENOMEM;

	for (size_t i = 0; i < nadds && r == 0; i++) {
		const struct aur_iso_addition *a = &adds[i];

		if (!a->is_dir && !S_ISREG(a->mode) && !S_ISLNK(a->mode)) {
			aur_err("%s: '%s' is neither a file, a directory nor "
				"a link",
				e->what, a->path);
			r = -EINVAL;
		} else if (S_ISLNK(a->mode) && (!a->link || !*a->link)) {
			aur_err("%s: link '%s' has no target", e->what,
				a->path);
			r = -EINVAL;
		} else if (S_ISREG(a->mode) && !a->is_dir && a->size &&
			   (!a->src || a->src->size < a->size)) {
			aur_err("%s: '%s' has no content", e->what, a->path);
			r = -EINVAL;
		} else if (S_ISREG(a->mode) && a->size > UINT32_MAX) {
			aur_err("%s: '%s' is larger than an ISO 9660 extent "
				"(4 GiB)",
				e->what, a->path);
			r = -EINVAL;
		}
	}
	/* tree by tree, additions in order: a later one replaces what an
	 * earlier one added at the same path */
	for (size_t t = 0; t < e->ntrees && r == 0; t++)
		for (size_t i = 0; i < nadds && r == 0; i++)
			r = add_to_tree(e, &e->trees[t], &adds[i], i, replaced);
	free(replaced);
	return r;
}

/* Which additions a record still carries (an earlier addition of a path
 * that a later one replaced has none) and, once laid out, where. */
struct contents {
	const struct aur_iso_addition *adds;
	bool *used;
	uint64_t *block; /* absolute */
	uint32_t base; /* of the tree being updated */
};

static void mark_used(struct aur_iso_dir *d, void *ctx)
{
	struct contents *c = ctx;

	for (size_t i = 2; i < d->n; i++)
		if (d->recs[i].add)
			c->used[d->recs[i].add - 1] = true;
}

static void set_extents(struct aur_iso_dir *d, void *ctx)
{
	struct contents *c = ctx;

	for (size_t i = 2; i < d->n; i++) {
		struct aur_iso_rec *r = &d->recs[i];
		const struct aur_iso_addition *a;

		if (!r->add)
			continue;
		a = &c->adds[r->add - 1];
		if (S_ISLNK(a->mode))
			iso_rec_set_extent(r, 0, 0);
		else
			iso_rec_set_extent(
				r, (uint32_t)(c->block[r->add - 1] - c->base),
				(uint32_t)a->size);
	}
}

/* Give the contents of added files their blocks from @cursor on, then
 * point every record that carries them there, in every tree. */
static int layout_files(struct aur_iso_edit *e,
			const struct aur_iso_addition *adds, size_t nadds,
			uint64_t *cursor)
{
	struct contents c = {adds, calloc(nadds + 1, sizeof(bool)),
			     calloc(nadds + 1, sizeof(uint64_t)), 0};
	int r = c.used && c.block ? 0 : -ENOMEM;

	for (size_t t = 0; t < e->ntrees && r == 0; t++)
		aur_iso_tree_walk(&e->trees[t], mark_used, &c);
	for (size_t i = 0; i < nadds && r == 0; i++) {
		if (!c.used[i] || S_ISLNK(adds[i].mode))
			continue;
		c.block[i] = *cursor;
		if (adds[i].size)
			r = add_piece(e, *cursor, adds[i].size, NULL,
				      adds[i].src);
		*cursor += AUR_DIV_ROUND_UP(adds[i].size, ISO_BLOCK);
	}
	for (size_t t = 0; t < e->ntrees && r == 0; t++) {
		c.base = e->trees[t].base;
		aur_iso_tree_walk(&e->trees[t], set_extents, &c);
	}
	free(c.used);
	free(c.block);
	return r;
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
		if (r == -EINVAL)
			aur_err("%s: the GPT cannot be moved", e->what);
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
	struct tree_layout tl[MAX_TREES];
	struct aur_parts parts;
	uint64_t cursor;
	int r;

	if (!sys)
		return -ENOMEM;
	memset(tl, 0, sizeof(tl));
	r = find_structure(e, sys, &parts);
	if (r < 0)
		return r;
	e->P = insertion_point(e, sys, &parts);
	/* every record first: adding records moves the others */
	r = add_all(e, adds, nadds);

	/* the delta: directories, path tables, continuation areas, then
	 * file contents */
	cursor = e->P;
	for (size_t t = 0; t < e->ntrees && r == 0; t++)
		tl[t].pt_needed = layout_tree_dirs(e, &e->trees[t], &cursor);
	for (size_t t = 0; t < e->ntrees && r == 0; t++) {
		if (!tl[t].pt_needed)
			continue;
		r = aur_iso_path_table_prepare(&e->trees[t], &tl[t].pt_size);
		if (r == -EFBIG)
			aur_err("%s: too many directories for a path table",
				e->what);
		tl[t].pt_at = cursor;
		cursor += 2 * AUR_DIV_ROUND_UP(tl[t].pt_size, ISO_BLOCK);
	}
	for (size_t t = 0; t < e->ntrees && r == 0; t++) {
		tl[t].ce_at = cursor;
		tl[t].ce_blocks = aur_iso_ce_layout(
			&e->trees[t], (uint32_t)(cursor - e->trees[t].base));
		cursor += tl[t].ce_blocks;
	}
	if (r == 0)
		r = layout_files(e, adds, nadds, &cursor);
	if (r < 0)
		return r == -EFBIG ? -EINVAL : r;
	e->D = AUR_DIV_ROUND_UP(cursor - e->P, DELTA_ALIGN_BLOCKS) *
	       DELTA_ALIGN_BLOCKS;
	e->shift.at = e->P * ISO_BLOCK;
	e->shift.by = e->D * ISO_BLOCK;
	aur_debug("%s: %zu hierarchies; %llu blocks inserted at block %llu",
		  e->what, e->ntrees, (unsigned long long)e->D,
		  (unsigned long long)e->P);

	/* rewrite what points at blocks, then describe the bytes */
	for (size_t t = 0; t < e->ntrees && r == 0; t++)
		r = write_tree(e, &e->trees[t], &tl[t]);
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
	free(e->copies);
	for (size_t i = 0; i < e->nbufs; i++)
		free(e->bufs[i]);
	free(e->bufs);
	free(e->patches);
	free(e->pieces);
	free(e);
}
