// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * An ext2 image as an extent map. Three steps:
 *
 * 1. plan: the entries become a tree of nodes in creation order (parents
 *    first), checked (names, paths through files, duplicates), and counted:
 *    the inodes and blocks the filesystem needs, which sizes it
 *    (aur_ext2_min_size) and says early when it cannot fit.
 * 2. populate: ext2fs_initialize over the memory io_manager, then the
 *    root, lost+found and every node as mke2fs -d would make them. Small
 *    files are written; large files get their blocks in one walk of their
 *    block map (ext2fs_block_iterate3 appending: ext2 files have no
 *    extents), which writes each indirect block once and notes the data
 *    blocks as runs of physical blocks; the data is never written.
 * 3. emit: the device, block by block: runs of files' blocks become source
 *    extents, runs of blocks the store holds become one memory buffer
 *    each, the rest zeros.
 */
#include "ext2_memio.h"

#include <aurora/ext2img.h>
#include <aurora/log.h>
#include <aurora/util.h>

#include <et/com_err.h>

#include <assert.h>
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define DEFAULT_BLOCK_SIZE 4096u
#define DEFAULT_COPY_BELOW (64u * 1024)
#define INODE_SIZE 256u
#define INODE_RATIO 16384u /* bytes per inode: mke2fs's default */
#define LPF_BYTES (16u * 1024) /* lost+found, as mke2fs makes it */
#define FAST_SYMLINK_MAX 59u /* longer targets take a block */
#define MAX_LABEL 16u
#define COPY_CHUNK (64u * 1024)
#define NONE SIZE_MAX

/* The options with their defaults applied. */
struct opts {
	const struct aur_ext2_opts *o;
	const char *label;
	unsigned bs;
	uint64_t copy_below;
};

/* One file of the image. Indexes, not pointers: the array grows. */
struct node {
	size_t parent, child, sibling; /* NONE: no such node */
	const char *name; /* into the entry's path, @len bytes */
	size_t len;
	const struct aur_ext2_entry *e; /* NULL: made for its children */
	bool dir, lpf;
	ext2_ino_t ino;
};

struct plan {
	struct node *v;
	size_t n, cap;
	uint64_t blocks; /* blocks the nodes take (data, directories,
			  * indirect blocks) */
	uint32_t inodes; /* inodes the filesystem needs, reserved ones too */
};

/* A run of a large file's blocks: physical @pblk.. hold logical @lblk.. */
struct file_run {
	blk64_t pblk, lblk, nblk;
	const struct aur_ext2_entry *e;
};

struct runs {
	struct file_run *v;
	size_t n, cap;
};

struct aur_ext2_image {
	uint8_t **bufs; /* the map's memory extents, one buffer each */
	size_t nbufs, cap;
	size_t bytes;
};

/* Translating libext2fs errors: once, here. */

static pthread_once_t error_table_once = PTHREAD_ONCE_INIT;

static void load_error_table(void)
{
	initialize_ext2_error_table();
}

static const char *ext2_strerror(errcode_t err)
{
	pthread_once(&error_table_once, load_error_table);
	return error_message(err);
}

static int ext2_errno(errcode_t err)
{
	switch (err) {
	case EXT2_ET_NO_MEMORY:
		return -ENOMEM;
	case EXT2_ET_BLOCK_ALLOC_FAIL:
	case EXT2_ET_INODE_ALLOC_FAIL:
	case EXT2_ET_TOOSMALL:
		return -ENOSPC;
	case EXT2_ET_FILE_TOO_BIG:
		return -EFBIG;
	default:
		/* errno values pass through libext2fs as they are */
		return err > 0 && err < 4096 ? -(int)err : -EIO;
	}
}

static const char *entry_type(uint32_t mode)
{
	switch (mode & S_IFMT) {
	case S_IFREG:
		return "file";
	case S_IFDIR:
		return "directory";
	case S_IFLNK:
		return "symlink";
	}
	return "unsupported";
}

/* Blocks of indirection an inode needs to map @n blocks (@a addresses
 * per block): 12 direct, then an indirect block, a double indirect block
 * with its indirect blocks, a triple one with its. */
static uint64_t indirect_blocks(uint64_t n, uint64_t a)
{
	uint64_t c = 0;

	if (n <= EXT2_NDIR_BLOCKS)
		return 0;
	n -= EXT2_NDIR_BLOCKS;
	c += 1;
	if (n <= a)
		return c;
	n -= a;
	c += 1 + AUR_DIV_ROUND_UP(AUR_MIN(n, a * a), a);
	if (n <= a * a)
		return c;
	n -= a * a;
	return c + 1 + AUR_DIV_ROUND_UP(n, a * a) + AUR_DIV_ROUND_UP(n, a);
}

static uint64_t file_blocks(const struct opts *op, uint64_t size)
{
	uint64_t n = AUR_DIV_ROUND_UP(size, op->bs);

	return n + indirect_blocks(n, op->bs / 4);
}

/* ---- step 1: the plan ---- */

static int opts_resolve(const struct aur_ext2_opts *o, struct opts *op)
{
	op->o = o;
	op->label = o->label ? o->label : "";
	op->bs = o->block_size ? o->block_size : DEFAULT_BLOCK_SIZE;
	op->copy_below = o->copy_below ? o->copy_below : DEFAULT_COPY_BELOW;
	if (strlen(op->label) > MAX_LABEL) {
		aur_err("ext2 label '%s' is longer than %u bytes", op->label,
			MAX_LABEL);
		return -EINVAL;
	}
	if (op->bs != 1024 && op->bs != 2048 && op->bs != 4096) {
		aur_err("ext2 image '%s': block size %u is not 1024, 2048 or "
			"4096",
			op->label, op->bs);
		return -EINVAL;
	}
	if (o->time < 1 || o->time > INT32_MAX) {
		aur_err("ext2 image '%s': time %lld is not between 1 and "
			"2^31 - 1",
			op->label, (long long)o->time);
		return -EINVAL;
	}
	return 0;
}

static void plan_release(struct plan *p)
{
	free(p->v);
	memset(p, 0, sizeof(*p));
}

/* Append a node under @parent; its index, or NONE without memory. */
static size_t plan_add(struct plan *p, size_t parent, const char *name,
		       size_t len)
{
	struct node *nd;

	if (p->n == p->cap) {
		size_t cap = p->cap ? p->cap * 2 : 64;
		struct node *v = realloc(p->v, cap * sizeof(*v));

		if (!v)
			return NONE;
		p->v = v;
		p->cap = cap;
	}
	nd = &p->v[p->n];
	memset(nd, 0, sizeof(*nd));
	nd->parent = parent;
	nd->child = nd->sibling = NONE;
	nd->name = name;
	nd->len = len;
	if (parent != NONE) {
		size_t *link = &p->v[parent].child;

		while (*link != NONE)
			link = &p->v[*link].sibling;
		*link = p->n;
	}
	return p->n++;
}

static size_t plan_child(const struct plan *p, size_t dir, const char *name,
			 size_t len)
{
	for (size_t c = p->v[dir].child; c != NONE; c = p->v[c].sibling) {
		const struct node *nd = &p->v[c];

		if (nd->len == len && memcmp(nd->name, name, len) == 0)
			return c;
	}
	return NONE;
}

static int plan_init(struct plan *p)
{
	static const char lpf[] = "lost+found";
	size_t i;

	memset(p, 0, sizeof(*p));
	if (plan_add(p, NONE, "", 0) == NONE)
		return -ENOMEM;
	i = plan_add(p, 0, lpf, sizeof(lpf) - 1);
	if (i == NONE)
		return -ENOMEM;
	p->v[0].dir = p->v[i].dir = true;
	p->v[i].lpf = true;
	return 0;
}

static int check_entry(const struct opts *op, const struct aur_ext2_entry *e)
{
	size_t tlen;

	if (e->mtime < INT32_MIN || e->mtime > INT32_MAX) {
		aur_err("ext2 image '%s': '%s': mtime %lld does not fit ext2",
			op->label, e->path, (long long)e->mtime);
		return -EINVAL;
	}
	switch (e->mode & S_IFMT) {
	case S_IFDIR:
		return 0;
	case S_IFREG:
		if (e->size > 0 && (!e->src || e->off > e->src->size ||
				    e->size > e->src->size - e->off)) {
			aur_err("ext2 image '%s': '%s': bytes %llu+%llu are "
				"not in its source",
				op->label, e->path, (unsigned long long)e->off,
				(unsigned long long)e->size);
			return -EINVAL;
		}
		if (file_blocks(op, e->size) * (op->bs / 512) > UINT32_MAX) {
			aur_err("ext2 image '%s': '%s' is too big for ext2 "
				"(%llu bytes)",
				op->label, e->path,
				(unsigned long long)e->size);
			return -EFBIG;
		}
		return 0;
	case S_IFLNK:
		tlen = e->target ? strlen(e->target) : 0;
		if (tlen == 0 || tlen >= op->bs) {
			aur_err("ext2 image '%s': symlink '%s': the target "
				"must have 1 to %u bytes, not %zu",
				op->label, e->path, op->bs - 1, tlen);
			return tlen ? -ENAMETOOLONG : -EINVAL;
		}
		return 0;
	}
	aur_err("ext2 image '%s': '%s': mode 0%o is not a file, directory or "
		"symlink",
		op->label, e->path, (unsigned)e->mode);
	return -EINVAL;
}

/* The next component of @path after *@pos: its start and length in
 * *@name, *@len; false at the end. */
static bool next_component(const char *path, size_t *pos, const char **name,
			   size_t *len)
{
	size_t i = *pos;

	if (path[i] == '\0')
		return false;
	i++; /* the '/' */
	*name = path + i;
	while (path[i] != '/' && path[i] != '\0')
		i++;
	*len = (size_t)(path + i - *name);
	*pos = i;
	return true;
}

static int check_component(const struct opts *op, const char *path,
			   const char *name, size_t len)
{
	if (len == 0 || (len == 1 && name[0] == '.') ||
	    (len == 2 && name[0] == '.' && name[1] == '.')) {
		aur_err("ext2 image '%s': '%s' is not a canonical absolute "
			"path",
			op->label, path);
		return -EINVAL;
	}
	if (len > EXT2_NAME_LEN) {
		aur_err("ext2 image '%s': '%s': a name is longer than %u bytes",
			op->label, path, EXT2_NAME_LEN);
		return -ENAMETOOLONG;
	}
	return 0;
}

/* The entry's own node, made with its missing parents; *@at is the
 * node's index. */
static int plan_walk(struct plan *p, const struct opts *op,
		     const struct aur_ext2_entry *e, size_t *at)
{
	size_t pos = 0, cur = 0, len;
	const char *name;
	int r;

	if (!e->path || e->path[0] != '/') {
		aur_err("ext2 image '%s': '%s' is not an absolute path",
			op->label, e->path ? e->path : "(null)");
		return -EINVAL;
	}
	if (strcmp(e->path, "/") == 0) {
		*at = 0;
		return 0;
	}
	while (next_component(e->path, &pos, &name, &len)) {
		size_t c;

		r = check_component(op, e->path, name, len);
		if (r < 0)
			return r;
		if (!p->v[cur].dir) {
			aur_err("ext2 image '%s': '%s': '%.*s' is not a "
				"directory",
				op->label, e->path, (int)(name - 1 - e->path),
				e->path);
			return -ENOTDIR;
		}
		c = plan_child(p, cur, name, len);
		if (c == NONE) {
			c = plan_add(p, cur, name, len);
			if (c == NONE)
				return -ENOMEM;
			p->v[c].dir = true; /* a parent, until said otherwise */
		}
		cur = c;
	}
	*at = cur;
	return 0;
}

static int plan_entry(struct plan *p, const struct opts *op,
		      const struct aur_ext2_entry *e)
{
	size_t at, before = p->n;
	struct node *nd;
	int r = check_entry(op, e);

	if (r == 0)
		r = plan_walk(p, op, e, &at);
	if (r < 0)
		return r;
	nd = &p->v[at];
	if (nd->e || (at < before && !S_ISDIR(e->mode))) {
		aur_err("ext2 image '%s': '%s' is given twice, or as a %s "
			"and a directory",
			op->label, e->path, entry_type(e->mode));
		return -EEXIST;
	}
	nd->e = e;
	nd->dir = S_ISDIR(e->mode);
	return 0;
}

/* Directory blocks as ext2fs_link fills them: an entry goes in the first
 * block with room after its last entry, else in a new block. */
struct dir_fill {
	uint32_t *room; /* bytes free at the end of each block */
	size_t n, cap;
};

static int dir_fill_block(struct dir_fill *d, uint32_t room)
{
	if (d->n == d->cap) {
		size_t cap = d->cap ? d->cap * 2 : 4;
		uint32_t *v = realloc(d->room, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		d->room = v;
		d->cap = cap;
	}
	d->room[d->n++] = room;
	return 0;
}

/* A new directory: "." and "..", and lost+found's empty blocks. */
static int dir_fill_init(struct dir_fill *d, const struct opts *op, bool lpf)
{
	int r = dir_fill_block(d, op->bs - 2 * EXT2_DIR_REC_LEN(2));

	while (r == 0 && lpf && d->n < EXT2_NDIR_BLOCKS &&
	       d->n * op->bs < AUR_MAX(LPF_BYTES, 2 * op->bs))
		r = dir_fill_block(d, op->bs);
	return r;
}

static int dir_fill_add(struct dir_fill *d, const struct opts *op,
			size_t name_len)
{
	uint32_t need = EXT2_DIR_REC_LEN(name_len);
	int r;

	for (size_t i = 0; i < d->n; i++) {
		if (d->room[i] >= need) {
			d->room[i] -= need;
			return 0;
		}
	}
	r = dir_fill_block(d, op->bs);
	if (r == 0)
		d->room[d->n - 1] -= need;
	return r;
}

static uint64_t node_blocks(const struct opts *op, const struct node *nd)
{
	const struct aur_ext2_entry *e = nd->e;

	if (!e || nd->dir)
		return 0; /* directories are counted by their fill */
	if (S_ISLNK(e->mode))
		return strlen(e->target) > FAST_SYMLINK_MAX ? 1 : 0;
	return file_blocks(op, e->size);
}

/* Count the blocks and inodes of a complete plan. */
static int plan_count(struct plan *p, const struct opts *op)
{
	struct dir_fill *fill = calloc(p->n, sizeof(*fill));
	int r = 0;

	if (!fill)
		return -ENOMEM;
	p->blocks = 0;
	p->inodes = EXT2_GOOD_OLD_FIRST_INO - 1 + (uint32_t)(p->n - 1);
	r = dir_fill_init(&fill[0], op, false);
	for (size_t i = 1; i < p->n && r == 0; i++) {
		const struct node *nd = &p->v[i];

		r = dir_fill_add(&fill[nd->parent], op, nd->len);
		if (r == 0 && nd->dir)
			r = dir_fill_init(&fill[i], op, nd->lpf);
		p->blocks += node_blocks(op, nd);
	}
	for (size_t i = 0; i < p->n; i++) {
		if (p->v[i].dir)
			p->blocks += fill[i].n +
				     indirect_blocks(fill[i].n, op->bs / 4);
		free(fill[i].room);
	}
	free(fill);
	return r;
}

static int plan_make(struct plan *p, const struct opts *op,
		     const struct aur_ext2_entry *entries, size_t n)
{
	int r = plan_init(p);

	for (size_t i = 0; i < n && r == 0; i++)
		r = plan_entry(p, op, &entries[i]);
	if (r == 0)
		r = plan_count(p, op);
	if (r == -ENOMEM)
		aur_err("ext2 image '%s': out of memory", op->label);
	if (r < 0)
		plan_release(p);
	return r;
}

/* ---- step 2: the filesystem ---- */

/* A fresh filesystem of @blocks blocks and at least @inodes inodes. */
static errcode_t fs_init(const struct opts *op, uint64_t blocks,
			 uint64_t inodes, ext2_filsys *fs)
{
	struct ext2_super_block param;
	uint64_t ask = inodes;
	errcode_t err;

	memset(&param, 0, sizeof(param));
	param.s_rev_level = EXT2_DYNAMIC_REV;
	param.s_log_block_size =
		(uint32_t)__builtin_ctz(op->bs) - EXT2_MIN_BLOCK_LOG_SIZE;
	param.s_inode_size = INODE_SIZE;
	param.s_feature_incompat = EXT2_FEATURE_INCOMPAT_FILETYPE;
	param.s_feature_ro_compat = EXT2_FEATURE_RO_COMPAT_SPARSE_SUPER |
				    EXT2_FEATURE_RO_COMPAT_LARGE_FILE;
	ext2fs_blocks_count_set(&param, blocks);
	for (;;) {
		if (ask > UINT32_MAX)
			return EXT2_ET_TOO_MANY_INODES;
		param.s_inodes_count = (uint32_t)ask;
		err = ext2fs_initialize(op->label, EXT2_FLAG_64BITS, &param,
					&aur_ext2_memio_manager, fs);
		if (err || (*fs)->super->s_inodes_count >= inodes)
			return err;
		/* inodes per group are rounded down to a multiple of 8:
		 * ask for 8 more per group */
		ask = (uint64_t)(*fs)->super->s_inodes_count +
		      8ull * (*fs)->group_desc_count;
		ext2fs_free(*fs);
	}
}

/* Whether @blocks blocks hold @p: 1, 0, or -ENOMEM. With the fewest
 * inodes, so that the answer only grows with the size. */
static int fits(const struct opts *op, const struct plan *p, uint64_t blocks)
{
	ext2_filsys fs;
	errcode_t err = fs_init(op, blocks, p->inodes, &fs);
	int r;

	if (err == EXT2_ET_NO_MEMORY)
		return -ENOMEM;
	if (err)
		return 0;
	r = ext2fs_free_blocks_count(fs->super) >= p->blocks;
	ext2fs_free(fs);
	return r;
}

/* The smallest block count that holds @p, by bisection. */
static int min_blocks(const struct opts *op, const struct plan *p,
		      uint64_t *blocks)
{
	uint64_t lo = 0, hi = p->blocks + 64;
	int r;

	while ((r = fits(op, p, hi)) == 0) {
		lo = hi;
		if (hi >= UINT32_MAX)
			return -EFBIG;
		hi = AUR_MIN(hi * 2, (uint64_t)UINT32_MAX);
	}
	while (r >= 0 && hi - lo > 1) {
		uint64_t mid = lo + (hi - lo) / 2;

		r = fits(op, p, mid);
		if (r > 0)
			hi = mid;
		else
			lo = mid;
	}
	*blocks = hi;
	return r < 0 ? r : 0;
}

int aur_ext2_min_size(const struct aur_ext2_opts *o,
		      const struct aur_ext2_entry *entries, size_t n,
		      uint64_t *size)
{
	struct opts op;
	struct plan p;
	uint64_t blocks;
	int r = opts_resolve(o, &op);

	if (r == 0)
		r = plan_make(&p, &op, entries, n);
	if (r < 0)
		return r;
	r = min_blocks(&op, &p, &blocks);
	plan_release(&p);
	if (r == -EFBIG)
		aur_err("ext2 image '%s': too big for ext2", op.label);
	if (r < 0)
		return r;
	*size = blocks * op.bs;
	return 0;
}

static void log_too_small(const struct opts *op, const struct plan *p)
{
	uint64_t blocks;

	if (min_blocks(op, p, &blocks) == 0)
		aur_err("ext2 image '%s': %llu bytes are too small, the files "
			"need at least %llu",
			op->label, (unsigned long long)op->o->size,
			(unsigned long long)(blocks * op->bs));
	else
		aur_err("ext2 image '%s': %llu bytes are too small", op->label,
			(unsigned long long)op->o->size);
}

/* The filesystem for the plan: one inode per INODE_RATIO bytes if that
 * leaves room for the files, else just the inodes they need. */
static int fs_create(const struct opts *op, const struct plan *p,
		     ext2_filsys *fs)
{
	uint64_t blocks = op->o->size / op->bs;
	uint64_t ratio = op->o->size / INODE_RATIO;
	errcode_t err = fs_init(op, blocks, AUR_MAX(ratio, p->inodes), fs);

	if (!err && ext2fs_free_blocks_count((*fs)->super) < p->blocks) {
		ext2fs_free(*fs);
		err = fs_init(op, blocks, p->inodes, fs);
	}
	if (!err && ext2fs_free_blocks_count((*fs)->super) < p->blocks) {
		ext2fs_free(*fs);
		err = EXT2_ET_TOOSMALL;
	}
	if (err == EXT2_ET_TOOSMALL || err == EXT2_ET_TOO_MANY_INODES) {
		log_too_small(op, p);
		return -ENOSPC;
	}
	if (err) {
		aur_err("ext2 image '%s': cannot initialize: %s", op->label,
			ext2_strerror(err));
		return ext2_errno(err);
	}
	return 0;
}

/* Everything mke2fs would take from the clock, the random number
 * generator or the machine, fixed. */
static void fs_identity(ext2_filsys fs, const struct opts *op)
{
	struct ext2_super_block *sb = fs->super;
	uint32_t t = (uint32_t)op->o->time;

	fs->now = t;
	sb->s_mkfs_time = sb->s_lastcheck = t;
	memcpy(sb->s_uuid, op->o->uuid, sizeof(sb->s_uuid));
	memcpy(sb->s_hash_seed, op->o->hash_seed, sizeof(sb->s_hash_seed));
	sb->s_def_hash_version = EXT2_HASH_HALF_MD4;
	/* whatever the build machine's char is */
	sb->s_flags &= ~(uint32_t)EXT2_FLAGS_UNSIGNED_HASH;
	sb->s_flags |= EXT2_FLAGS_SIGNED_HASH;
	memset(sb->s_volume_name, 0, sizeof(sb->s_volume_name));
	memcpy(sb->s_volume_name, op->label, strlen(op->label));
	sb->s_max_mnt_count = -1; /* no forced checks */
	ext2fs_mark_super_dirty(fs);
}

/* Building: the filesystem, what it is made from, and what comes out. */
struct build {
	const struct opts *op;
	const struct plan *p;
	ext2_filsys fs;
	struct runs runs;
	uint8_t *buf; /* COPY_CHUNK bytes for copying small files */
};

/* The path of @nd, for messages ("..." for the start of one too long). */
static void node_path(const struct plan *p, const struct node *nd, char *buf,
		      size_t size)
{
	size_t pos = size - 1;

	buf[pos] = '\0';
	for (; nd->parent != NONE; nd = &p->v[nd->parent]) {
		if (nd->len + 1 + 3 > pos) {
			pos -= 3;
			memcpy(buf + pos, "...", 3);
			break;
		}
		pos -= nd->len;
		memcpy(buf + pos, nd->name, nd->len);
		buf[--pos] = '/';
	}
	if (pos == size - 1)
		buf[--pos] = '/';
	memmove(buf, buf + pos, size - pos);
}

static int fail(const struct build *b, const struct node *nd, const char *what,
		errcode_t err)
{
	char path[512];

	node_path(b->p, nd, path, sizeof(path));
	aur_err("ext2 image '%s': %s '%s': %s", b->op->label, what, path,
		ext2_strerror(err));
	return ext2_errno(err);
}

static void inode_set_attrs(struct ext2_inode *inode, const struct build *b,
			    const struct node *nd)
{
	const struct aur_ext2_entry *e = nd->e;
	uint32_t perm = e ? e->mode & 07777 : nd->lpf ? 0700 : 0755;
	uint32_t uid = e ? e->uid : 0, gid = e ? e->gid : 0;
	uint32_t t = (uint32_t)(e && e->mtime ? e->mtime : b->op->o->time);

	inode->i_mode = (uint16_t)((inode->i_mode & LINUX_S_IFMT) | perm);
	inode->i_uid = (uint16_t)uid;
	inode->i_uid_high = (uint16_t)(uid >> 16);
	inode->i_gid = (uint16_t)gid;
	inode->i_gid_high = (uint16_t)(gid >> 16);
	inode->i_atime = inode->i_mtime = inode->i_ctime = t;
}

/* Set the attributes of an inode libext2fs made. */
static errcode_t update_attrs(const struct build *b, const struct node *nd)
{
	struct ext2_inode inode;
	errcode_t err = ext2fs_read_inode(b->fs, nd->ino, &inode);

	if (err)
		return err;
	inode_set_attrs(&inode, b, nd);
	return ext2fs_write_inode(b->fs, nd->ino, &inode);
}

static errcode_t link_once(const struct build *b, const struct node *nd,
			   ext2_ino_t dir, const char *name)
{
	if (nd->dir)
		return ext2fs_mkdir(b->fs, dir, nd->ino, name);
	if (S_ISLNK(nd->e->mode))
		return ext2fs_symlink(b->fs, dir, nd->ino, name, nd->e->target);
	return ext2fs_link(b->fs, dir, name, nd->ino, EXT2_FT_REG_FILE);
}

/* Make @nd's directory entry (and, for directories and symlinks, the
 * inode), growing the parent when it is full. */
static errcode_t link_node(const struct build *b, const struct node *nd)
{
	ext2_ino_t dir = b->p->v[nd->parent].ino;
	char name[EXT2_NAME_LEN + 1];
	errcode_t err;

	memcpy(name, nd->name, nd->len);
	name[nd->len] = '\0';
	err = link_once(b, nd, dir, name);
	if (err == EXT2_ET_DIR_NO_SPACE) {
		err = ext2fs_expand_dir(b->fs, dir);
		if (!err)
			err = link_once(b, nd, dir, name);
	}
	return err;
}

static int copy_data(struct build *b, const struct node *nd)
{
	const struct aur_ext2_entry *e = nd->e;
	ext2_file_t f;
	uint64_t done = 0;
	errcode_t err = ext2fs_file_open(b->fs, nd->ino, EXT2_FILE_WRITE, &f);
	int r = 0;

	if (err)
		return fail(b, nd, "cannot open", err);
	while (done < e->size && r == 0 && !err) {
		size_t k = (size_t)AUR_MIN(e->size - done, COPY_CHUNK);
		ssize_t got =
			aur_source_pread(e->src, b->buf, k, e->off + done);
		unsigned int written;

		if (got >= 0 && (size_t)got < k)
			got = -EIO; /* the source is shorter than it said */
		if (got < 0) {
			aur_err("ext2 image '%s': cannot read '%s': %s",
				b->op->label, e->path, strerror((int)-got));
			r = (int)got;
			break;
		}
		err = ext2fs_file_write(f, b->buf, (unsigned int)k, &written);
		if (!err && written != k)
			err = EXT2_ET_SHORT_WRITE;
		done += k;
	}
	if (err)
		r = fail(b, nd, "cannot write", err);
	err = ext2fs_file_close(f);
	if (err && r == 0)
		r = fail(b, nd, "cannot write", err);
	return r;
}

/* Reserving a large file's blocks: one walk over its block map, taking
 * blocks in order from runs of free ones. */
struct reserve {
	struct runs *runs;
	const struct aur_ext2_entry *e;
	size_t first; /* the file's first run */
	blk64_t free_at; /* the free run blocks are taken from, */
	blk64_t free_len; /* its length, */
	blk64_t taken; /* and how many of it are taken */
	uint64_t nblk; /* data blocks the file needs */
	uint64_t data; /* data blocks given so far */
	blk_t added; /* blocks given, the indirect ones included */
	errcode_t err;
	int r;
};

/* Note data block @pblk at @lblk of the file: it extends the last run
 * or starts one. */
static int add_run(struct reserve *rv, blk64_t pblk, blk64_t lblk)
{
	struct runs *rs = rv->runs;
	struct file_run *run;

	if (rs->n > rv->first) {
		run = &rs->v[rs->n - 1];
		if (run->pblk + run->nblk == pblk &&
		    run->lblk + run->nblk == lblk) {
			run->nblk++;
			return 0;
		}
	}
	if (rs->n == rs->cap) {
		size_t cap = rs->cap ? rs->cap * 2 : 64;
		struct file_run *v = realloc(rs->v, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		rs->v = v;
		rs->cap = cap;
	}
	rs->v[rs->n++] = (struct file_run){
		.pblk = pblk,
		.lblk = lblk,
		.nblk = 1,
		.e = rv->e,
	};
	return 0;
}

/* Mark the blocks taken from the current free run as used. */
static void mark_taken(ext2_filsys fs, struct reserve *rv)
{
	if (rv->taken > 0)
		ext2fs_block_alloc_stats_range(fs, rv->free_at, rv->taken, +1);
	rv->free_at += rv->taken;
	rv->free_len -= rv->taken;
	rv->taken = 0;
}

/* ext2fs_block_iterate3's callback with BLOCK_FLAG_APPEND: it is called
 * for every slot of the map in order, an indirect block before the slots
 * it holds (a negative @blockcnt), and writes each indirect block once
 * when the walk leaves it. Each slot gets the next free block; the walk
 * stops at the file's last data block. */
static int reserve_block(ext2_filsys fs, blk64_t *blocknr, e2_blkcnt_t blockcnt,
			 blk64_t ref_blk, int ref_offset, void *priv)
{
	struct reserve *rv = priv;
	blk64_t blk;

	(void)ref_blk;
	(void)ref_offset;
	if (rv->data == rv->nblk)
		return BLOCK_ABORT;
	if (rv->taken == rv->free_len) {
		mark_taken(fs, rv);
		rv->err = ext2fs_new_range(fs, 0, rv->free_at,
					   rv->nblk - rv->data, NULL,
					   &rv->free_at, &rv->free_len);
		if (rv->err)
			return BLOCK_ABORT;
	}
	blk = rv->free_at + rv->taken++;
	*blocknr = blk;
	rv->added++;
	if (blockcnt < 0)
		return BLOCK_CHANGED;
	rv->r = add_run(rv, blk, (blk64_t)blockcnt);
	if (rv->r < 0)
		return BLOCK_CHANGED | BLOCK_ABORT;
	rv->data++;
	return rv->data == rv->nblk ? BLOCK_CHANGED | BLOCK_ABORT
				    : BLOCK_CHANGED;
}

/* Reserve a large file's blocks (never written: their bytes are the
 * source's) and note where they are. ext2fs_fallocate would map them one
 * by one, reading and writing the indirect block of each through the
 * io_manager; one walk of the map touches each indirect block once, and
 * the bitmaps are searched and marked a free run at a time. */
static int reserve_data(struct build *b, const struct node *nd,
			struct ext2_inode *inode)
{
	struct reserve rv = {
		.runs = &b->runs,
		.e = nd->e,
		.first = b->runs.n,
		.free_at = ext2fs_find_inode_goal(b->fs, nd->ino, inode, 0),
		.nblk = AUR_DIV_ROUND_UP(nd->e->size, b->op->bs),
	};
	errcode_t err = ext2fs_block_iterate3(b->fs, nd->ino, BLOCK_FLAG_APPEND,
					      NULL, reserve_block, &rv);

	mark_taken(b->fs, &rv);
	if (!err)
		err = rv.err;
	if (!err && rv.r == 0)
		err = ext2fs_read_inode(b->fs, nd->ino, inode);
	if (!err && rv.r == 0)
		err = ext2fs_iblk_add_blocks(b->fs, inode, rv.added);
	if (!err && rv.r == 0)
		err = ext2fs_write_inode(b->fs, nd->ino, inode);
	if (err)
		return fail(b, nd, "cannot allocate", err);
	if (rv.r < 0)
		return rv.r;
	assert(rv.data == rv.nblk);
	return 0;
}

static int make_file(struct build *b, const struct node *nd)
{
	struct ext2_inode inode;
	errcode_t err = link_node(b, nd);

	if (err)
		return fail(b, nd, "cannot link", err);
	ext2fs_inode_alloc_stats2(b->fs, nd->ino, +1, 0);
	memset(&inode, 0, sizeof(inode));
	inode.i_mode = LINUX_S_IFREG;
	inode.i_links_count = 1;
	inode_set_attrs(&inode, b, nd);
	err = ext2fs_inode_size_set(b->fs, &inode, nd->e->size);
	if (!err)
		err = ext2fs_write_new_inode(b->fs, nd->ino, &inode);
	if (err)
		return fail(b, nd, "cannot write the inode of", err);
	if (nd->e->size == 0)
		return 0;
	if (nd->e->size < b->op->copy_below)
		return copy_data(b, nd);
	return reserve_data(b, nd, &inode);
}

/* lost+found at its usual size, so that e2fsck never has to grow it. */
static errcode_t grow_lpf(const struct build *b, const struct node *nd)
{
	unsigned bs = b->op->bs;
	errcode_t err = 0;

	for (unsigned n = 1; !err && n < EXT2_NDIR_BLOCKS &&
			     n * bs < AUR_MAX(LPF_BYTES, 2 * bs);
	     n++)
		err = ext2fs_expand_dir(b->fs, nd->ino);
	return err;
}

static int make_node(struct build *b, struct node *nd)
{
	ext2_ino_t dir = b->p->v[nd->parent].ino;
	uint16_t mode = nd->dir		       ? LINUX_S_IFDIR
			: S_ISLNK(nd->e->mode) ? LINUX_S_IFLNK
					       : LINUX_S_IFREG;
	errcode_t err = ext2fs_new_inode(b->fs, dir, mode, NULL, &nd->ino);

	if (err)
		return fail(b, nd, "no inode for", err);
	if (mode == LINUX_S_IFREG)
		return make_file(b, nd);
	err = link_node(b, nd);
	if (!err && nd->lpf)
		err = grow_lpf(b, nd);
	if (!err)
		err = update_attrs(b, nd);
	return err ? fail(b, nd, "cannot make", err) : 0;
}

/* The root, and the reserved inodes marked used as mke2fs marks them
 * (the bad blocks inode with an empty list). */
static int make_root(struct build *b)
{
	struct node *root = &b->p->v[0];
	errcode_t err;

	root->ino = EXT2_ROOT_INO;
	err = ext2fs_mkdir(b->fs, EXT2_ROOT_INO, EXT2_ROOT_INO, NULL);
	if (!err)
		err = update_attrs(b, root);
	for (ext2_ino_t i = EXT2_ROOT_INO + 1;
	     !err && i < EXT2_FIRST_INODE(b->fs->super); i++)
		ext2fs_inode_alloc_stats2(b->fs, i, +1, 0);
	if (!err) {
		ext2fs_inode_alloc_stats2(b->fs, EXT2_BAD_INO, +1, 0);
		err = ext2fs_update_bb_inode(b->fs, NULL);
	}
	if (err) {
		aur_err("ext2 image '%s': cannot make the root: %s",
			b->op->label, ext2_strerror(err));
		return ext2_errno(err);
	}
	return 0;
}

static int populate(struct build *b)
{
	errcode_t err = ext2fs_allocate_tables(b->fs);
	int r;

	if (err) {
		aur_err("ext2 image '%s': cannot allocate tables: %s",
			b->op->label, ext2_strerror(err));
		return ext2_errno(err);
	}
	r = make_root(b);
	for (size_t i = 1; i < b->p->n && r == 0; i++)
		r = make_node(b, &b->p->v[i]);
	return r;
}

/* ---- step 3: the map ---- */

static int image_keep(struct aur_ext2_image *img, uint8_t *buf, size_t len)
{
	if (img->nbufs == img->cap) {
		size_t cap = img->cap ? img->cap * 2 : 16;
		uint8_t **v = realloc(img->bufs, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		img->bufs = v;
		img->cap = cap;
	}
	img->bufs[img->nbufs++] = buf;
	img->bytes += len;
	return 0;
}

struct emit {
	const struct opts *op;
	const struct aur_ext2_store *store;
	struct aur_extmap *map;
	struct aur_ext2_image *img;
	uint8_t *block; /* one block of scratch */
};

/* Blocks [@from, @to) held in memory, from @from on, as one buffer. */
static int emit_mem(struct emit *em, uint64_t from, uint64_t to, uint64_t *end)
{
	unsigned bs = em->op->bs;
	uint8_t *buf = NULL;
	size_t len = 0, cap = 0;
	int r;

	for (*end = from; *end < to; (*end)++) {
		aur_ext2_store_read(em->store, *end * bs, em->block, bs);
		if (em->block[0] == 0 &&
		    memcmp(em->block, em->block + 1, bs - 1) == 0)
			break;
		if (len == cap) {
			size_t ncap = cap ? cap * 2 : 16 * (size_t)bs;
			uint8_t *nbuf = realloc(buf, ncap);

			if (!nbuf) {
				free(buf);
				return -ENOMEM;
			}
			buf = nbuf;
			cap = ncap;
		}
		memcpy(buf + len, em->block, bs);
		len += bs;
	}
	if (len == 0)
		return 0;
	if (len < cap) {
		uint8_t *nbuf = realloc(buf, len);

		buf = nbuf ? nbuf : buf;
	}
	r = image_keep(em->img, buf, len);
	if (r < 0) {
		free(buf);
		return r;
	}
	return aur_extmap_add_mem(em->map, "ext2 metadata", buf, len);
}

/* Blocks [@from, @to) that belong to no large file: memory and zeros. */
static int emit_other(struct emit *em, uint64_t from, uint64_t to)
{
	unsigned bs = em->op->bs;
	int r = 0;

	while (from < to && r == 0) {
		uint64_t next, held;

		if (!aur_ext2_store_next(em->store, from * bs, &next) ||
		    next / bs >= to)
			return aur_extmap_add_zero(em->map, "ext2 free",
						   (to - from) * bs);
		held = next / bs;
		r = aur_extmap_add_zero(em->map, "ext2 free",
					(held - from) * bs);
		if (r == 0)
			r = emit_mem(em, held, to, &next);
		if (r == 0 && next < to)
			r = aur_extmap_add_zero(em->map, "ext2 free", bs);
		from = next + 1;
	}
	return r;
}

/* Whether nothing was written to @run's blocks, as it should be. */
static bool run_unwritten(const struct emit *em, const struct file_run *run)
{
	return aur_ext2_store_is_zero(em->store, run->pblk * em->op->bs,
				      run->nblk * em->op->bs);
}

/* A large file's run: its source's bytes, zeros after its last byte. */
static int emit_run(struct emit *em, const struct file_run *run)
{
	uint64_t bs = em->op->bs, pos = run->lblk * bs;
	uint64_t len = AUR_MIN(run->nblk * bs, run->e->size - pos);
	int r;

	assert(run_unwritten(em, run));
	r = aur_extmap_add_source(em->map, "ext2 file data", run->e->src,
				  run->e->off + pos, len);
	if (r == 0)
		r = aur_extmap_add_zero(em->map, "ext2 free",
					run->nblk * bs - len);
	return r;
}

static int cmp_run(const void *a, const void *b)
{
	const struct file_run *x = a, *y = b;

	return x->pblk < y->pblk ? -1 : x->pblk > y->pblk;
}

static int emit(struct emit *em, struct runs *runs)
{
	uint64_t total = em->op->o->size / em->op->bs, blk = 0;
	size_t i = 0;
	int r = 0;

	if (runs->n > 1)
		qsort(runs->v, runs->n, sizeof(*runs->v), cmp_run);
	while (blk < total && r == 0) {
		uint64_t next = i < runs->n ? runs->v[i].pblk : total;

		if (blk < next) {
			r = emit_other(em, blk, next);
			blk = next;
		} else {
			assert(blk == next); /* runs never overlap */
			r = emit_run(em, &runs->v[i]);
			blk += runs->v[i++].nblk;
		}
	}
	return r;
}

/* ---- the whole ---- */

void aur_ext2_image_free(struct aur_ext2_image *img)
{
	if (!img)
		return;
	for (size_t i = 0; i < img->nbufs; i++)
		free(img->bufs[i]);
	free(img->bufs);
	free(img);
}

size_t aur_ext2_image_bytes(const struct aur_ext2_image *img)
{
	return img->bytes;
}

/* Populate and close the filesystem; the store keeps what it wrote. */
static int build_fs(struct build *b, struct aur_ext2_store **store)
{
	int r = fs_create(b->op, b->p, &b->fs);
	errcode_t err;

	if (r < 0)
		return r;
	fs_identity(b->fs, b->op);
	*store = aur_ext2_memio_store(b->fs->io);
	r = populate(b);
	if (r < 0) {
		ext2fs_free(b->fs);
		return r;
	}
	err = ext2fs_close2(b->fs, 0);
	if (err) {
		aur_err("ext2 image '%s': cannot write the metadata: %s",
			b->op->label, ext2_strerror(err));
		ext2fs_free(b->fs);
		return ext2_errno(err);
	}
	return 0;
}

static int build_map(const struct opts *op, struct aur_ext2_store *store,
		     struct runs *runs, struct aur_extmap *map,
		     struct aur_ext2_image *img)
{
	struct emit em = {op, store, map, img, malloc(op->bs)};
	int r = em.block ? emit(&em, runs) : -ENOMEM;

	free(em.block);
	if (r == -ENOMEM)
		aur_err("ext2 image '%s': out of memory", op->label);
	else if (r < 0)
		aur_err("ext2 image '%s': cannot map: %s", op->label,
			strerror(-r));
	return r;
}

int aur_ext2_build(const struct aur_ext2_opts *o,
		   const struct aur_ext2_entry *entries, size_t n,
		   struct aur_extmap *map, struct aur_ext2_image **out)
{
	struct opts op;
	struct plan p = {0};
	struct build b = {&op, &p};
	struct aur_ext2_store *store = NULL;
	struct aur_ext2_image *img = NULL;
	int r = opts_resolve(o, &op);

	if (r == 0 &&
	    (o->size == 0 || o->size % op.bs || o->size / op.bs > UINT32_MAX)) {
		aur_err("ext2 image '%s': size %llu is not a multiple of %u "
			"bytes below 2^32 blocks",
			op.label, (unsigned long long)o->size, op.bs);
		r = -EINVAL;
	}
	if (r == 0)
		r = plan_make(&p, &op, entries, n);
	if (r < 0)
		return r;
	b.buf = malloc(COPY_CHUNK);
	img = calloc(1, sizeof(*img));
	r = b.buf && img ? build_fs(&b, &store) : -ENOMEM;
	if (r == 0)
		r = build_map(&op, store, &b.runs, map, img);
	if (r == 0)
		aur_extmap_check(map);
	aur_ext2_store_put(store);
	free(b.runs.v);
	free(b.buf);
	plan_release(&p);
	if (r < 0) {
		aur_extmap_release(map);
		aur_ext2_image_free(img);
		return r;
	}
	*out = img;
	return 0;
}
