// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The squashfs writer (squashfs.h), in three passes over the tree:
 *
 *  1. index: each name checked against squashfs's limits, inodes numbered
 *     in walk order (hard-linked names share one), totals counted;
 *  2. data: regular files in inode order through libsquashfs's block
 *     processor. Workers compress (or take a block from the cache of an
 *     earlier image: squashfs_cache.c; or store one as it is when a probe
 *     finds it incompressible: squashfs_probe.c; gzip is libdeflate's:
 *     squashfs_deflate.c); blocks are written,
 *     and tail ends packed into fragment blocks, in the order they were
 *     submitted, so the bytes do not depend on the threads;
 *  3. metadata: inodes and directory listings, children before their
 *     directory (a listing holds its entries' inode references), then the
 *     fragment, id and xattr tables, and the superblock over the
 *     placeholder written first;
 *
 * and, when asked, the index of the blocks stored (every file's data
 * blocks and every fragment block), for a later build to reuse.
 */
#include "squashfs_i.h"

#include <aurora/log.h>
#include <aurora/rootfs.h>
#include <aurora/source.h>
#include <aurora/squashfs.h>
#include <aurora/util.h>

#include <errno.h>
#include <limits.h>
#include <sched.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sqfs/block.h>
#include <sqfs/block_processor.h>
#include <sqfs/block_writer.h>
#include <sqfs/dir_writer.h>
#include <sqfs/error.h>
#include <sqfs/frag_table.h>
#include <sqfs/id_table.h>
#include <sqfs/inode.h>
#include <sqfs/meta_writer.h>
#include <sqfs/super.h>
#include <sqfs/xattr_writer.h>

#define DEFAULT_BLOCK_SIZE (1u << 20)
#define DEVBLK_SIZE 4096 /* images are padded to it, for loop devices */
#define MAX_NAME 255
#define MAX_SYMLINK 4095 /* the kernel refuses a target over a page */
#define MAX_MAJOR 0xfffu /* the 32-bit device number of the kernel's */
#define MAX_MINOR 0xfffffu /* new_encode_dev() */
#define NO_XATTR 0xFFFFFFFFu
#define BACKLOG_PER_THREAD 10 /* blocks in flight per worker, */
#define BACKLOG_BYTES (256u << 20) /* up to this much memory */
#define MAX_THREADS 64

#define UNCOMPRESSED_FLAGS                                               \
	(SQFS_FLAG_UNCOMPRESSED_INODES | SQFS_FLAG_UNCOMPRESSED_DATA |   \
	 SQFS_FLAG_UNCOMPRESSED_FRAGMENTS | SQFS_FLAG_UNCOMPRESSED_IDS | \
	 SQFS_FLAG_UNCOMPRESSED_XATTRS)

static const struct {
	const char *name;
	SQFS_COMPRESSOR id;
	int min_level, max_level;
} compressors[] = {
	[AUR_SQFS_GZIP] = {"gzip", SQFS_COMP_GZIP, SQFS_GZIP_MIN_LEVEL,
			   SQFS_GZIP_MAX_LEVEL},
	[AUR_SQFS_XZ] = {"xz", SQFS_COMP_XZ, 1, SQFS_XZ_MAX_LEVEL},
	[AUR_SQFS_ZSTD] = {"zstd", SQFS_COMP_ZSTD, SQFS_ZSTD_MIN_LEVEL,
			   SQFS_ZSTD_MAX_LEVEL},
	[AUR_SQFS_NONE] = {"none", SQFS_COMP_GZIP, 0, 0},
};

/* One inode: a name, or several hard-linked names. */
struct ino {
	const struct aur_fnode *n; /* the node with the metadata and data */
	uint32_t number; /* 1 + its index in writer.inos */
	uint32_t nlink; /* its names, as counted in the tree */
	bool written;
	uint64_t ref; /* its place in the inode table, once written */
	/* regular files: made and filled in by the block processor, which
	 * keeps &file until it finishes (writer.inos never moves) */
	sqfs_inode_generic_t *file;
};

/* Inode nodes to their index in writer.inos: open addressing. */
struct ino_map {
	const struct aur_fnode **keys;
	uint32_t *vals;
	size_t mask;
};

struct writer {
	const struct aur_rootfs *fs;
	struct aur_sqfs_opts o; /* defaults filled in */
	struct aur_sqfs_out out;
	sqfs_super_t super;

	sqfs_compressor_t *cmp, *uncmp;
	struct aur_sqfs_reuse *reuse; /* the cache, for file data */
	sqfs_compressor_t *data_cmp; /* file data's; NULL: cmp ('none') */
	sqfs_block_writer_t *blocks;
	sqfs_frag_table_t *frags;
	sqfs_block_processor_t *proc;
	sqfs_id_table_t *ids;
	sqfs_xattr_writer_t *xattrs;
	sqfs_meta_writer_t *inode_table, *dir_table;
	sqfs_dir_writer_t *dirs;

	struct ino *inos; /* allocated once, for every name */
	size_t ninos;
	struct ino_map map;

	uint8_t *buf; /* one block of file data */
	uint64_t xattrs_left_out;
	uint32_t newest; /* the newest mtime: the mkfs time */
	uint64_t files_done, files_total, bytes_done, bytes_total;
};

/* ---- messages ---- */

/* Log "squashfs: '<path of n>': <message>". */
__attribute__((format(printf, 3, 4))) static void log_node(
	int level, const struct aur_fnode *n, const char *fmt, ...)
{
	char path[PATH_MAX], msg[256];
	va_list ap;

	if (aur_fnode_path(n, path, sizeof(path)) < 0)
		snprintf(path, sizeof(path), ".../%s", n->name);
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	aur_log(level, "squashfs: '%s': %s", path, msg);
}

static int no_memory(void)
{
	aur_err("squashfs: out of memory");
	return -ENOMEM;
}

/* A libsquashfs call failed with @err while doing @what: log it once and
 * return the errno. */
static int lib_fail(struct writer *w, int err, const char *what)
{
	int r = aur_sqfs_errno(&w->out, err);

	aur_err("squashfs: %s: %s", what, strerror(-r));
	return r;
}

/* ---- options ---- */

static unsigned cpu_count(void)
{
	cpu_set_t set;
	long n;

	if (sched_getaffinity(0, sizeof(set), &set) == 0 && CPU_COUNT(&set) > 0)
		return (unsigned)CPU_COUNT(&set);
	n = sysconf(_SC_NPROCESSORS_ONLN);
	return n > 0 ? (unsigned)n : 1;
}

static int take_opts(struct aur_sqfs_opts *o, const struct aur_sqfs_opts *in)
{
	const char *name;

	if (in)
		*o = *in;
	else
		memset(o, 0, sizeof(*o));
	if ((unsigned)o->comp >= AUR_ARRAY_SIZE(compressors)) {
		aur_err("squashfs: unknown compression %d", (int)o->comp);
		return -EINVAL;
	}
	name = compressors[o->comp].name;
	if (o->level != 0 && (o->comp == AUR_SQFS_NONE ||
			      o->level < compressors[o->comp].min_level ||
			      o->level > compressors[o->comp].max_level)) {
		aur_err("squashfs: %s has no level %d (%d to %d)", name,
			o->level, compressors[o->comp].min_level,
			compressors[o->comp].max_level);
		return -EINVAL;
	}
	if (o->block_size == 0)
		o->block_size = DEFAULT_BLOCK_SIZE;
	if (o->block_size < SQFS_MIN_BLOCK_SIZE ||
	    o->block_size > SQFS_MAX_BLOCK_SIZE ||
	    (o->block_size & (o->block_size - 1))) {
		aur_err("squashfs: block size %u is not a power of two from "
			"4 KiB to 1 MiB",
			o->block_size);
		return -EINVAL;
	}
	if (o->threads == 0)
		o->threads = cpu_count();
	o->threads = AUR_MIN(o->threads, MAX_THREADS);
	return 0;
}

/* Blocks in flight: enough to keep every worker busy, within
 * BACKLOG_BYTES (libsquashfs needs at least 3). */
static unsigned backlog(const struct aur_sqfs_opts *o)
{
	unsigned most = AUR_MAX(3u, BACKLOG_BYTES / o->block_size);

	return AUR_MIN(o->threads * BACKLOG_PER_THREAD, most);
}

int aur_sqfs_compression_parse(const char *s, enum aur_sqfs_compression *out)
{
	static const char *const unsupported[] = {"lzo", "lz4", "lzma"};

	for (size_t i = 0; i < AUR_ARRAY_SIZE(compressors); i++) {
		if (strcmp(s, compressors[i].name) == 0) {
			*out = (enum aur_sqfs_compression)i;
			return 0;
		}
	}
	for (size_t i = 0; i < AUR_ARRAY_SIZE(unsupported); i++)
		if (strcmp(s, unsupported[i]) == 0)
			return -ENOTSUP;
	return -EINVAL;
}

const char *aur_sqfs_compression_name(enum aur_sqfs_compression c)
{
	return (unsigned)c < AUR_ARRAY_SIZE(compressors) ? compressors[c].name
							 : "unknown";
}

/* ---- pass 1: inodes in walk order ---- */

static int map_init(struct ino_map *m, size_t n)
{
	size_t cap = 16;

	while (cap < 2 * n)
		cap *= 2;
	m->keys = calloc(cap, sizeof(*m->keys));
	m->vals = calloc(cap, sizeof(*m->vals));
	m->mask = cap - 1;
	return m->keys && m->vals ? 0 : -ENOMEM;
}

static void map_release(struct ino_map *m)
{
	free(m->keys);
	free(m->vals);
}

/* The slot of @key: its own, or the empty one where it would go. */
static size_t map_slot(const struct ino_map *m, const struct aur_fnode *key)
{
	uint64_t h = (uint64_t)(uintptr_t)key;
	size_t i;

	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdull;
	h ^= h >> 33;
	for (i = (size_t)h & m->mask; m->keys[i] && m->keys[i] != key;
	     i = (i + 1) & m->mask)
		;
	return i;
}

/* The inode that the name @n stands for (indexed in pass 1). */
static struct ino *ino_of(struct writer *w, const struct aur_fnode *n)
{
	size_t slot = map_slot(&w->map, aur_fnode_inode(n));

	return &w->inos[w->map.vals[slot]];
}

static uint32_t sqfs_time(int64_t t)
{
	if (t < 0)
		return 0;
	return t > (int64_t)UINT32_MAX ? UINT32_MAX : (uint32_t)t;
}

/* What squashfs cannot hold about the inode @n. */
static int check_inode(const struct aur_fnode *n)
{
	switch (n->mode & S_IFMT) {
	case S_IFREG:
		if (n->size > 0 && !n->src) {
			log_node(LOG_ERR, n, "data without a source");
			return -EINVAL;
		}
		return 0;
	case S_IFLNK:
		if (strlen(n->target) > MAX_SYMLINK) {
			log_node(LOG_ERR, n,
				 "symlink target longer than %u bytes",
				 MAX_SYMLINK);
			return -ENAMETOOLONG;
		}
		return 0;
	case S_IFCHR:
	case S_IFBLK:
		if (n->rdev_major > MAX_MAJOR || n->rdev_minor > MAX_MINOR) {
			log_node(LOG_ERR, n,
				 "device %u:%u does not fit in squashfs's 32 "
				 "bits",
				 n->rdev_major, n->rdev_minor);
			return -EOVERFLOW;
		}
		return 0;
	case S_IFDIR:
	case S_IFIFO:
	case S_IFSOCK:
		return 0;
	default:
		log_node(LOG_ERR, n, "unknown file type (mode %o)", n->mode);
		return -EINVAL;
	}
}

static int add_ino(struct writer *w, const struct aur_fnode *n, size_t slot)
{
	struct ino *ino = &w->inos[w->ninos];
	int r = check_inode(n);

	if (r < 0)
		return r;
	ino->n = n;
	ino->number = (uint32_t)(w->ninos + 1);
	w->map.keys[slot] = n;
	w->map.vals[slot] = (uint32_t)w->ninos++;
	w->newest = AUR_MAX(w->newest, sqfs_time(n->mtime));
	if (S_ISREG(n->mode)) {
		w->files_total++;
		w->bytes_total += n->size;
	}
	return 0;
}

static int index_tree(struct writer *w, const struct aur_fnode *n)
{
	const struct aur_fnode *inode = aur_fnode_inode(n);
	size_t slot = map_slot(&w->map, inode);
	int r = 0;

	if (strlen(n->name) > MAX_NAME) {
		log_node(LOG_ERR, n, "name longer than %u bytes", MAX_NAME);
		return -ENAMETOOLONG;
	}
	if (!w->map.keys[slot])
		r = add_ino(w, inode, slot);
	if (r == 0)
		w->inos[w->map.vals[slot]].nlink++;
	for (size_t i = 0; r == 0 && i < n->nchildren; i++)
		r = index_tree(w, n->children[i]);
	return r;
}

/* ---- setting up libsquashfs ---- */

static int make_compressors(struct writer *w)
{
	sqfs_compressor_config_t cfg;
	int r;

	if (w->o.comp == AUR_SQFS_NONE) {
		w->cmp = aur_sqfs_none_new(w->o.block_size);
		w->uncmp = aur_sqfs_none_new(w->o.block_size);
		return w->cmp && w->uncmp ? 0 : no_memory();
	}
	r = sqfs_compressor_config_init(&cfg, compressors[w->o.comp].id,
					w->o.block_size, 0);
	if (r == 0 && w->o.level != 0)
		cfg.level = (sqfs_u32)w->o.level;
	if (r == 0)
		r = sqfs_compressor_create(&cfg, &w->cmp);
	cfg.flags |= SQFS_COMP_FLAG_UNCOMPRESS;
	if (r == 0)
		r = sqfs_compressor_create(&cfg, &w->uncmp);
	return r ? lib_fail(w, r, "setting up the compressor") : 0;
}

/* File data's compressor: gzip through libdeflate (xz and zstd as they
 * are), behind the probe that stores incompressible blocks as they are,
 * and with a cache to use or an index to make, behind the one that knows
 * the cache. Nothing is compressed with 'none'. */
static int make_data_compressor(struct writer *w)
{
	sqfs_compressor_t *deflate = NULL, *probing;

	if (w->o.comp == AUR_SQFS_NONE)
		return 0;
	if (w->o.comp == AUR_SQFS_GZIP) {
		deflate = aur_sqfs_deflate_new(w->cmp);
		if (!deflate)
			return no_memory();
	}
	probing = aur_sqfs_probing_compressor(deflate ? deflate : w->cmp);
	sqfs_destroy(deflate);
	if (!probing)
		return no_memory();
	if (!w->o.cache && !w->o.index) {
		w->data_cmp = probing;
		return 0;
	}
	w->reuse = aur_sqfs_reuse_new(w->o.cache, probing);
	if (w->reuse)
		w->data_cmp =
			aur_sqfs_reuse_compressor(w->reuse, probing, w->uncmp);
	sqfs_destroy(probing);
	return w->data_cmp ? 0 : no_memory();
}

/* The superblock as a placeholder, then the compressor's options. */
static int start_image(struct writer *w)
{
	int r = sqfs_super_init(&w->super, w->o.block_size, w->newest,
				compressors[w->o.comp].id);

	if (r == 0)
		r = sqfs_super_write(&w->super, &w->out.base);
	if (r)
		return lib_fail(w, r, "writing the superblock");
	r = w->cmp->write_options(w->cmp, &w->out.base);
	if (r < 0)
		return lib_fail(w, r, "writing the compressor options");
	if (r > 0)
		w->super.flags |= SQFS_FLAG_COMPRESSOR_OPTIONS;
	return 0;
}

static int make_writers(struct writer *w)
{
	sqfs_block_processor_desc_t desc = {
		.size = sizeof(desc),
		.max_block_size = w->o.block_size,
		.num_workers = w->o.threads,
		.max_backlog = backlog(&w->o),
		.cmp = w->data_cmp ? w->data_cmp : w->cmp,
		.file = &w->out.base, /* fragments are compared, not */
		.uncmp = w->uncmp, /* only hashed, before sharing */
	};
	int r;

	w->blocks = sqfs_block_writer_create(&w->out.base, DEVBLK_SIZE, 0);
	w->frags = sqfs_frag_table_create(0);
	w->ids = sqfs_id_table_create(0);
	w->xattrs = sqfs_xattr_writer_create(0);
	w->inode_table = sqfs_meta_writer_create(&w->out.base, w->cmp, 0);
	w->dir_table = sqfs_meta_writer_create(&w->out.base, w->cmp,
					       SQFS_META_WRITER_KEEP_IN_MEMORY);
	w->dirs = w->dir_table ? sqfs_dir_writer_create(w->dir_table, 0) : NULL;
	if (!w->blocks || !w->frags || !w->ids || !w->xattrs ||
	    !w->inode_table || !w->dirs)
		return lib_fail(w, SQFS_ERROR_ALLOC, "setting up");
	desc.wr = w->blocks;
	desc.tbl = w->frags;
	r = sqfs_block_processor_create_ex(&desc, &w->proc);
	return r ? lib_fail(w, r, "starting the compressing threads") : 0;
}

/* ---- pass 2: file data ---- */

static void report(const struct writer *w)
{
	if (w->o.progress)
		w->o.progress(w->o.progress_ctx, w->files_done, w->files_total,
			      w->bytes_done, w->bytes_total);
}

static int read_block(struct writer *w, const struct aur_fnode *n, uint64_t pos,
		      size_t len)
{
	ssize_t got = aur_source_pread(n->src, w->buf, len, n->off + pos);

	if (got < 0) {
		log_node(LOG_ERR, n, "cannot read %zu bytes at %llu: %s", len,
			 (unsigned long long)pos, strerror((int)-got));
		return (int)got;
	}
	if ((size_t)got != len) {
		log_node(LOG_ERR, n, "its source ends after %llu of %llu bytes",
			 (unsigned long long)(pos + (uint64_t)got),
			 (unsigned long long)n->size);
		return -EIO;
	}
	return 0;
}

static int write_file(struct writer *w, struct ino *ino)
{
	const struct aur_fnode *n = ino->n;
	uint32_t flags =
		w->o.comp == AUR_SQFS_NONE ? SQFS_BLK_DONT_COMPRESS : 0;
	int r = sqfs_block_processor_begin_file(w->proc, &ino->file, NULL,
						flags);

	for (uint64_t pos = 0; r == 0 && pos < n->size;) {
		size_t len = (size_t)AUR_MIN(n->size - pos,
					     (uint64_t)w->o.block_size);

		r = read_block(w, n, pos, len);
		if (r < 0)
			return r;
		r = sqfs_block_processor_append(w->proc, w->buf, len);
		pos += len;
		w->bytes_done += len;
		report(w);
	}
	if (r == 0)
		r = sqfs_block_processor_end_file(w->proc);
	if (r) {
		r = aur_sqfs_errno(&w->out, r);
		log_node(LOG_ERR, n, "writing its data: %s", strerror(-r));
		return r;
	}
	w->files_done++;
	report(w);
	return 0;
}

static int write_data(struct writer *w)
{
	int r;

	for (size_t i = 0; i < w->ninos; i++) {
		if (!S_ISREG(w->inos[i].n->mode))
			continue;
		r = write_file(w, &w->inos[i]);
		if (r < 0)
			return r;
	}
	r = sqfs_block_processor_finish(w->proc);
	return r ? lib_fail(w, r, "writing file data") : 0;
}

/* ---- pass 3: inodes and directories ---- */

static bool xattr_storable(const char *name)
{
	static const char *const prefixes[] = {"user.", "trusted.",
					       "security."};

	for (size_t i = 0; i < AUR_ARRAY_SIZE(prefixes); i++) {
		size_t len = strlen(prefixes[i]);

		if (strncmp(name, prefixes[i], len) == 0 && name[len])
			return true;
	}
	return false;
}

/* The xattr table index of @n's xattrs (NO_XATTR without any). */
static int xattr_index(struct writer *w, const struct aur_fnode *n,
		       uint32_t *idx)
{
	int r = sqfs_xattr_writer_begin(w->xattrs, 0);

	for (size_t i = 0; r == 0 && i < n->nxattrs; i++) {
		const struct aur_xattr *x = &n->xattrs[i];

		if (!xattr_storable(x->name)) {
			if (w->xattrs_left_out++ == 0)
				log_node(LOG_WARNING, n,
					 "xattr '%s' left out: squashfs stores "
					 "only user., trusted. and security.",
					 x->name);
			continue;
		}
		r = sqfs_xattr_writer_add(w->xattrs, x->name, x->value, x->len);
	}
	if (r == 0)
		r = sqfs_xattr_writer_end(w->xattrs, idx);
	return r ? lib_fail(w, r, "recording xattrs") : 0;
}

static uint32_t encode_dev(uint32_t major, uint32_t minor)
{
	return (minor & 0xffu) | (major << 8) | ((minor & ~0xffu) << 12);
}

/* A new inode for a symlink, device, fifo or socket. */
static sqfs_inode_generic_t *special_inode(const struct ino *ino)
{
	const struct aur_fnode *n = ino->n;
	size_t extra = S_ISLNK(n->mode) ? strlen(n->target) : 0;
	sqfs_inode_generic_t *inode = calloc(1, sizeof(*inode) + extra);

	if (!inode)
		return NULL;
	switch (n->mode & S_IFMT) {
	case S_IFLNK:
		inode->base.type = SQFS_INODE_SLINK;
		inode->data.slink.nlink = ino->nlink;
		inode->data.slink.target_size = (sqfs_u32)extra;
		memcpy(inode->extra, n->target, extra);
		break;
	case S_IFCHR:
	case S_IFBLK:
		inode->base.type =
			S_ISCHR(n->mode) ? SQFS_INODE_CDEV : SQFS_INODE_BDEV;
		inode->data.dev.nlink = ino->nlink;
		inode->data.dev.devno =
			encode_dev(n->rdev_major, n->rdev_minor);
		break;
	default:
		inode->base.type =
			S_ISFIFO(n->mode) ? SQFS_INODE_FIFO : SQFS_INODE_SOCKET;
		inode->data.ipc.nlink = ino->nlink;
		break;
	}
	return inode;
}

/* The file inode the block processor made, with its link count (which
 * only the extended type has room for). */
static void set_file_nlink(struct ino *ino)
{
	sqfs_inode_generic_t *inode = ino->file;

	if (ino->nlink > 1)
		sqfs_inode_make_extended(inode); /* fails for no file */
	if (inode->base.type == SQFS_INODE_EXT_FILE)
		inode->data.file_ext.nlink = ino->nlink;
}

/* Fill in what every inode has and append @inode to the inode table. */
static int put_inode(struct writer *w, struct ino *ino,
		     sqfs_inode_generic_t *inode, uint32_t xattr)
{
	const struct aur_fnode *n = ino->n;
	sqfs_u64 block;
	sqfs_u32 offset;
	int r;

	inode->base.mode = (sqfs_u16)n->mode;
	inode->base.mod_time = sqfs_time(n->mtime);
	inode->base.inode_number = ino->number;
	r = sqfs_id_table_id_to_index(w->ids, n->uid, &inode->base.uid_idx);
	if (r == 0)
		r = sqfs_id_table_id_to_index(w->ids, n->gid,
					      &inode->base.gid_idx);
	if (r == SQFS_ERROR_OVERFLOW) {
		log_node(LOG_ERR, n,
			 "owner %u:%u: more than 65536 distinct user and "
			 "group ids",
			 n->uid, n->gid);
		return -EOVERFLOW;
	}
	if (r == 0)
		r = sqfs_inode_set_xattr_index(inode, xattr);
	sqfs_meta_writer_get_position(w->inode_table, &block, &offset);
	if (r == 0)
		r = sqfs_meta_writer_write_inode(w->inode_table, inode);
	if (r)
		return lib_fail(w, r, "writing the inode table");
	ino->ref = (block << 16) | offset;
	ino->written = true;
	return 0;
}

static int write_inode(struct writer *w, struct ino *ino)
{
	sqfs_inode_generic_t *inode;
	uint32_t xattr;
	int r;

	if (ino->written)
		return 0; /* a hard link met earlier */
	r = xattr_index(w, ino->n, &xattr);
	if (r < 0)
		return r;
	if (S_ISREG(ino->n->mode)) {
		set_file_nlink(ino);
		return put_inode(w, ino, ino->file, xattr);
	}
	inode = special_inode(ino);
	if (!inode)
		return no_memory();
	r = put_inode(w, ino, inode, xattr);
	free(inode);
	return r;
}

/* The listing of @d, whose children are all written. */
static int list_dir(struct writer *w, const struct aur_fnode *d)
{
	int r = sqfs_dir_writer_begin(w->dirs, 0);

	for (size_t i = 0; r == 0 && i < d->nchildren; i++) {
		const struct aur_fnode *c = d->children[i];
		const struct ino *ino = ino_of(w, c);

		r = sqfs_dir_writer_add_entry(
			w->dirs, c->name, ino->number, ino->ref,
			(sqfs_u16)aur_fnode_inode(c)->mode);
	}
	if (r == 0)
		r = sqfs_dir_writer_end(w->dirs);
	return r ? lib_fail(w, r, "writing the directory table") : 0;
}

static int write_dir(struct writer *w, const struct aur_fnode *d)
{
	const struct aur_fnode *root = aur_rootfs_root(w->fs);
	/* the root's parent is one past the last inode, as mksquashfs has */
	uint32_t parent = d == root ? (uint32_t)w->ninos + 1
				    : ino_of(w, d->parent)->number;
	uint32_t subdirs = 0, xattr;
	sqfs_inode_generic_t *inode;
	int r = 0;

	for (size_t i = 0; r == 0 && i < d->nchildren; i++) {
		const struct aur_fnode *c = d->children[i];

		if (S_ISDIR(c->mode)) {
			subdirs++;
			r = write_dir(w, c);
		} else {
			r = write_inode(w, ino_of(w, c));
		}
	}
	if (r == 0)
		r = list_dir(w, d);
	if (r == 0)
		r = xattr_index(w, d, &xattr);
	if (r < 0)
		return r;
	inode = sqfs_dir_writer_create_inode(w->dirs, 0, xattr, parent);
	if (!inode)
		return no_memory();
	if (inode->base.type == SQFS_INODE_DIR)
		inode->data.dir.nlink = 2 + subdirs;
	else
		inode->data.dir_ext.nlink = 2 + subdirs;
	r = put_inode(w, ino_of(w, d), inode, xattr);
	sqfs_free(inode);
	return r;
}

/* ---- the tables after the directories ---- */

/* GRUB reads the first word of the fragment table's index when it opens
 * an image, even one without fragments: an empty table is put where the
 * id table's blocks follow, as mksquashfs does. */
static int write_fragment_table(struct writer *w)
{
	int r;

	if (sqfs_frag_table_get_size(w->frags) == 0) {
		w->super.fragment_table_start = w->out.size;
		w->super.fragment_entry_count = 0;
		return 0;
	}
	r = sqfs_frag_table_write(w->frags, &w->out.base, &w->super, w->cmp);
	return r ? lib_fail(w, r, "writing the fragment table") : 0;
}

static int write_tables(struct writer *w)
{
	int r = sqfs_meta_writer_flush(w->inode_table);

	if (r == 0)
		r = sqfs_meta_writer_flush(w->dir_table);
	if (r)
		return lib_fail(w, r, "writing the inode table");
	w->super.directory_table_start = w->out.size;
	r = sqfs_meta_write_write_to_file(w->dir_table);
	if (r)
		return lib_fail(w, r, "writing the directory table");
	r = write_fragment_table(w);
	if (r < 0)
		return r;
	r = sqfs_id_table_write(w->ids, &w->out.base, &w->super, w->cmp);
	if (r)
		return lib_fail(w, r, "writing the id table");
	r = sqfs_xattr_writer_flush(w->xattrs, &w->out.base, &w->super, w->cmp);
	return r ? lib_fail(w, r, "writing the xattr tables") : 0;
}

/* The real superblock, then zeros up to the device block size. */
static int finish_image(struct writer *w)
{
	static const uint8_t zeros[DEVBLK_SIZE];
	uint64_t size;
	int r;

	w->super.inode_count = (sqfs_u32)w->ninos;
	w->super.root_inode_ref = ino_of(w, aur_rootfs_root(w->fs))->ref;
	w->super.bytes_used = w->out.size;
	if (w->o.comp == AUR_SQFS_NONE)
		w->super.flags |= UNCOMPRESSED_FLAGS;
	r = sqfs_super_write(&w->super, &w->out.base);
	if (r)
		return lib_fail(w, r, "writing the superblock");
	size = AUR_DIV_ROUND_UP(w->out.size, DEVBLK_SIZE) * DEVBLK_SIZE;
	if (size > w->out.size) {
		r = w->out.base.write_at(&w->out.base, w->out.size, zeros,
					 size - w->out.size);
		if (r)
			return lib_fail(w, r, "padding the image");
	}
	r = w->out.base.truncate(&w->out.base, size);
	return r ? lib_fail(w, r, "setting the image size") : 0;
}

/* ---- the index of the blocks stored ---- */

static int index_file(struct writer *w, const sqfs_inode_generic_t *file)
{
	size_t count = sqfs_inode_get_file_block_count(file);
	sqfs_u64 at;
	int r = 0;

	sqfs_inode_get_file_block_start(file, &at);
	for (size_t i = 0; r == 0 && i < count; i++) {
		uint32_t stored = SQFS_ON_DISK_BLOCK_SIZE(file->extra[i]);

		if (stored == 0)
			continue; /* sparse: nothing stored */
		r = aur_sqfs_reuse_add_block(w->reuse, w->out.fd, at,
					     file->extra[i]);
		at += stored;
	}
	return r;
}

static int index_fragments(struct writer *w)
{
	size_t count = sqfs_frag_table_get_size(w->frags);
	sqfs_fragment_t frag;
	int r = 0;

	for (size_t i = 0; r == 0 && i < count; i++) {
		r = sqfs_frag_table_lookup(w->frags, (sqfs_u32)i, &frag);
		if (r)
			return lib_fail(w, r, "reading the fragment table");
		r = aur_sqfs_reuse_add_block(w->reuse, w->out.fd,
					     frag.start_offset, frag.size);
	}
	return r;
}

static int make_index(struct writer *w)
{
	int r = 0;

	for (size_t i = 0; r == 0 && i < w->ninos; i++)
		if (w->inos[i].file)
			r = index_file(w, w->inos[i].file);
	if (r == 0)
		r = index_fragments(w);
	if (r == 0)
		r = aur_sqfs_reuse_index(w->reuse, w->out.size, w->o.index);
	if (r < 0)
		aur_err("squashfs: making the index of its blocks: %s",
			strerror(-r));
	return r;
}

/* ---- the whole ---- */

/* After a failure, blocks may still be with the workers, and destroying
 * the block processor would leak them: take them back (written or not, it
 * no longer matters). Each failed round gives back at least one. */
static void drain(struct writer *w)
{
	for (unsigned i = 0; i < backlog(&w->o) + 3; i++)
		if (sqfs_block_processor_sync(w->proc) == 0)
			return;
}

/* What the cache saved, for the caller and the log. */
static void report_cache(struct writer *w)
{
	struct aur_sqfs_cache_stats st;

	aur_sqfs_reuse_stats(w->reuse, &st);
	if (w->o.stats)
		*w->o.stats = st;
	if (w->o.cache && w->reuse)
		aur_debug("squashfs: %llu blocks (%llu bytes) from the cache, "
			  "%llu (%llu bytes) compressed",
			  (unsigned long long)st.blocks_reused,
			  (unsigned long long)st.bytes_reused,
			  (unsigned long long)st.blocks_compressed,
			  (unsigned long long)st.bytes_compressed);
}

static void writer_release(struct writer *w, bool failed)
{
	if (w->proc && failed)
		drain(w);
	/* the block processor first: blocks in flight point at inodes */
	sqfs_destroy(w->proc);
	sqfs_destroy(w->data_cmp);
	aur_sqfs_reuse_free(w->reuse);
	sqfs_destroy(w->dirs);
	sqfs_destroy(w->dir_table);
	sqfs_destroy(w->inode_table);
	sqfs_destroy(w->xattrs);
	sqfs_destroy(w->ids);
	sqfs_destroy(w->frags);
	sqfs_destroy(w->blocks);
	sqfs_destroy(w->uncmp);
	sqfs_destroy(w->cmp);
	for (size_t i = 0; i < w->ninos; i++)
		sqfs_free(w->inos[i].file);
	free(w->inos);
	map_release(&w->map);
	free(w->buf);
}

static int write_image(struct writer *w)
{
	size_t names = aur_rootfs_count(w->fs);
	int r;

	if (names >= UINT32_MAX) {
		aur_err("squashfs: %zu files: more than squashfs's 2^32 - 2 "
			"inodes",
			names);
		return -EOVERFLOW;
	}
	w->inos = calloc(names, sizeof(*w->inos));
	w->buf = malloc(w->o.block_size);
	if (!w->inos || !w->buf || map_init(&w->map, names) < 0)
		return no_memory();
	r = index_tree(w, aur_rootfs_root(w->fs));
	if (r == 0)
		r = make_compressors(w);
	if (r == 0)
		r = make_data_compressor(w);
	if (r == 0)
		r = start_image(w);
	if (r == 0)
		r = make_writers(w);
	if (r == 0)
		r = write_data(w);
	if (r == 0) {
		w->super.inode_table_start = w->out.size;
		r = write_dir(w, aur_rootfs_root(w->fs));
	}
	if (r == 0)
		r = write_tables(w);
	if (r == 0)
		r = finish_image(w);
	if (r == 0 && w->o.index && w->reuse)
		r = make_index(w);
	return r;
}

int64_t aur_squashfs_write(const struct aur_rootfs *fs,
			   const struct aur_sqfs_opts *o, int fd)
{
	struct writer w = {.fs = fs};
	int r = take_opts(&w.o, o);

	if (r < 0)
		return r;
	if (w.o.index)
		*w.o.index = (struct aur_sqfs_index){0};
	aur_sqfs_out_init(&w.out, fd);
	r = write_image(&w);
	if (w.xattrs_left_out > 1)
		aur_warn("squashfs: %llu xattrs left out in all (squashfs has "
			 "no place for them)",
			 (unsigned long long)w.xattrs_left_out);
	if (r == 0)
		aur_debug("squashfs: %zu inodes, %llu files, %llu bytes of "
			  "data, image %llu bytes (%s)",
			  w.ninos, (unsigned long long)w.files_total,
			  (unsigned long long)w.bytes_total,
			  (unsigned long long)w.out.size,
			  compressors[w.o.comp].name);
	report_cache(&w);
	if (r < 0 && w.o.index) {
		free(w.o.index->data);
		*w.o.index = (struct aur_sqfs_index){0};
	}
	writer_release(&w, r < 0);
	return r < 0 ? r : (int64_t)w.out.size;
}
