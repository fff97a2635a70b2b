// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Checking squashfs images against their rootfs through other people's
 * readers (sqfs_check.h).
 */
#include "sqfs_check.h"
#include "test_helpers.h"

#include <aurora/rootfs.h>
#include <aurora/source.h>
#include <aurora/util.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

#define XATTR_BUF (64u << 10)

int run(const char *const argv[], const char *out)
{
	posix_spawn_file_actions_t fa;
	const char *err = getenv("AUR_TEST_VERBOSE") ? NULL : "/dev/null";
	pid_t pid;
	int status, r;

	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO,
					 out ? out : "/dev/null",
					 O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (err)
		posix_spawn_file_actions_addopen(&fa, STDERR_FILENO, err,
						 O_WRONLY, 0);
	r = posix_spawnp(&pid, argv[0], &fa, NULL, (char *const *)argv,
			 environ);
	posix_spawn_file_actions_destroy(&fa);
	if (r != 0)
		return -1;
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

bool have_tool(const char *tool)
{
	const char *path = getenv("PATH");
	char *copy, *save = NULL;
	bool found = false;

	copy = strdup(path ? path : "/usr/bin:/bin");
	assert_non_null(copy);
	for (char *d = strtok_r(copy, ":", &save); d && !found;
	     d = strtok_r(NULL, ":", &save)) {
		char *p = aur_printf("%s/%s", d, tool);

		assert_non_null(p);
		found = access(p, X_OK) == 0;
		free(p);
	}
	free(copy);
	return found;
}

unsigned check_what_we_can(void)
{
	return geteuid() == 0 ? CHECK_OWNERS | CHECK_DEVICES | CHECK_XATTRS : 0;
}

int64_t sqfs_time_of(int64_t t)
{
	return t < 0 ? 0 : t > (int64_t)UINT32_MAX ? (int64_t)UINT32_MAX : t;
}

uint8_t *node_data(const struct aur_fnode *n)
{
	uint8_t *buf = malloc(n->size ? n->size : 1);

	assert_non_null(buf);
	if (n->size)
		assert_int_equal(aur_source_pread(n->src, buf, n->size, n->off),
				 (ssize_t)n->size);
	return buf;
}

/* ---- a directory against the tree ---- */

struct dir_check {
	const char *root;
	unsigned what;
	size_t expected; /* names a reader should have made */
};

static void rel_path(const struct aur_fnode *n, char *buf, size_t size)
{
	assert_int_equal(aur_fnode_path(n, buf, size), 0);
}

static void check_content(const struct aur_fnode *ino, const char *path)
{
	uint8_t *want = node_data(ino);
	uint8_t *got = malloc(ino->size + 1);
	int fd = open(path, O_RDONLY);
	ssize_t n;

	assert_non_null(got);
	if (fd < 0)
		fail_msg("%s: %s", path, strerror(errno));
	n = aur_pread_full(fd, got, ino->size + 1, 0);
	close(fd);
	if (n != (ssize_t)ino->size || memcmp(got, want, ino->size) != 0)
		fail_msg("%s: content differs (%zd bytes, %llu expected)", path,
			 n, (unsigned long long)ino->size);
	free(want);
	free(got);
}

static void check_xattrs(const struct aur_fnode *ino, const char *path)
{
	AUR_AUTOFREE char *names = malloc(XATTR_BUF);
	AUR_AUTOFREE char *value = malloc(XATTR_BUF);
	ssize_t len = llistxattr(path, names, XATTR_BUF);
	size_t count = 0;

	assert_non_null(names);
	assert_non_null(value);
	if (len < 0 && errno == EOPNOTSUPP)
		len = 0; /* the kernel, for an image without xattrs */
	if (len < 0)
		fail_msg("%s: listxattr: %s", path, strerror(errno));
	for (char *p = names; p < names + len; p += strlen(p) + 1)
		count++;
	if (count != ino->nxattrs)
		fail_msg("%s: %zu xattrs, %zu expected", path, count,
			 ino->nxattrs);
	for (size_t i = 0; i < ino->nxattrs; i++) {
		const struct aur_xattr *x = &ino->xattrs[i];
		ssize_t vlen = lgetxattr(path, x->name, value, XATTR_BUF);

		if (vlen != (ssize_t)x->len ||
		    memcmp(value, x->value, x->len) != 0)
			fail_msg("%s: xattr %s differs", path, x->name);
	}
}

/* A name that is a second name of its inode has the first name's inode. */
static void check_link(const struct dir_check *c, const struct aur_fnode *n,
		       const struct stat *st)
{
	char rel[PATH_MAX], path[2 * PATH_MAX];
	struct stat first;

	if (!n->link)
		return;
	rel_path(n->link, rel, sizeof(rel));
	snprintf(path, sizeof(path), "%s%s", c->root, rel);
	assert_int_equal(lstat(path, &first), 0);
	if (first.st_ino != st->st_ino)
		fail_msg("%s: not a hard link to %s", path, rel);
}

static bool is_device(const struct aur_fnode *n)
{
	return S_ISCHR(n->mode) || S_ISBLK(n->mode);
}

static nlink_t dir_links(const struct aur_fnode *d)
{
	nlink_t n = 2;

	for (size_t i = 0; i < d->nchildren; i++)
		n += S_ISDIR(d->children[i]->mode);
	return n;
}

static int check_one(void *ctx, struct aur_fnode *n)
{
	struct dir_check *c = ctx;
	const struct aur_fnode *ino = aur_fnode_inode(n);
	char rel[PATH_MAX], path[2 * PATH_MAX], target[PATH_MAX];
	struct stat st;
	ssize_t len;

	if (is_device(ino) && !(c->what & CHECK_DEVICES))
		return 0;
	c->expected++;
	rel_path(n, rel, sizeof(rel));
	snprintf(path, sizeof(path), "%s%s", c->root,
		 strcmp(rel, "/") ? rel : "");
	if (lstat(path, &st) < 0)
		fail_msg("%s: %s", path, strerror(errno));
	if (n->parent == n && (c->what & CHECK_TOP_AS_MADE))
		return 0;
	if (st.st_mode != ino->mode)
		fail_msg("%s: mode %o, %o expected", path, st.st_mode,
			 ino->mode);
	if (st.st_mtime != sqfs_time_of(ino->mtime))
		fail_msg("%s: mtime %lld, %lld expected", path,
			 (long long)st.st_mtime,
			 (long long)sqfs_time_of(ino->mtime));
	if ((c->what & CHECK_OWNERS) &&
	    (st.st_uid != ino->uid || st.st_gid != ino->gid))
		fail_msg("%s: owner %u:%u, %u:%u expected", path, st.st_uid,
			 st.st_gid, ino->uid, ino->gid);
	if ((c->what & CHECK_DIR_LINKS) && S_ISDIR(ino->mode) &&
	    st.st_nlink != dir_links(ino))
		fail_msg("%s: %lu links, %lu expected", path,
			 (unsigned long)st.st_nlink,
			 (unsigned long)dir_links(ino));
	if (!(c->what & CHECK_LINKS_AS_COPIES)) {
		if (!S_ISDIR(ino->mode) && st.st_nlink != ino->nlink)
			fail_msg("%s: %lu links, %u expected", path,
				 (unsigned long)st.st_nlink, ino->nlink);
		check_link(c, n, &st);
	}
	if (S_ISREG(ino->mode))
		check_content(ino, path);
	if (S_ISLNK(ino->mode)) {
		len = readlink(path, target, sizeof(target));
		if (len < 0 || (size_t)len != strlen(ino->target) ||
		    memcmp(target, ino->target, (size_t)len) != 0)
			fail_msg("%s: not a symlink to %s", path, ino->target);
	}
	if (is_device(ino) && (major(st.st_rdev) != ino->rdev_major ||
			       minor(st.st_rdev) != ino->rdev_minor))
		fail_msg("%s: device %u:%u, %u:%u expected", path,
			 major(st.st_rdev), minor(st.st_rdev), ino->rdev_major,
			 ino->rdev_minor);
	if (c->what & CHECK_XATTRS)
		check_xattrs(ino, path);
	return 0;
}

static size_t counted;

static int count_one(const char *path, const struct stat *st, int flag,
		     struct FTW *ftw)
{
	counted++;
	return 0;
}

void check_dir(const struct aur_rootfs *fs, const char *dir, unsigned what)
{
	struct dir_check c = {dir, what, 0};

	aur_rootfs_walk(fs, check_one, &c);
	counted = 0;
	assert_int_equal(nftw(dir, count_one, 32, FTW_PHYS), 0);
	if (counted != c.expected)
		fail_msg("%s: %zu names, %zu expected", dir, counted,
			 c.expected);
}

/* ---- unsquashfs -lln ---- */

struct expect {
	char *rest; /* "squashfs-root/path[ -> target]" */
	const struct aur_fnode *n;
	bool seen;
};

struct listing {
	struct expect *v;
	size_t n;
};

static int expect_one(void *ctx, struct aur_fnode *n)
{
	struct listing *l = ctx;
	const struct aur_fnode *ino = aur_fnode_inode(n);
	char rel[PATH_MAX];

	rel_path(n, rel, sizeof(rel));
	l->v[l->n].n = n;
	l->v[l->n].rest =
		S_ISLNK(ino->mode)
			? aur_printf("squashfs-root%s -> %s",
				     strcmp(rel, "/") ? rel : "", ino->target)
			: aur_printf("squashfs-root%s",
				     strcmp(rel, "/") ? rel : "");
	assert_non_null(l->v[l->n].rest);
	l->n++;
	return 0;
}

static int expect_cmp(const void *a, const void *b)
{
	return strcmp(((const struct expect *)a)->rest,
		      ((const struct expect *)b)->rest);
}

/* "drwxr-xr-x" for a mode, as ls prints it. */
static void mode_string(uint32_t mode, char s[11])
{
	static const char types[] = "?pc?d?b?-?l?s???";
	static const char rwx[] = "rwxrwxrwx";

	s[0] = types[(mode & S_IFMT) >> 12];
	for (int i = 0; i < 9; i++)
		s[1 + i] = mode & (0400u >> i) ? rwx[i] : '-';
	if (mode & S_ISUID)
		s[3] = mode & S_IXUSR ? 's' : 'S';
	if (mode & S_ISGID)
		s[6] = mode & S_IXGRP ? 's' : 'S';
	if (mode & S_ISVTX)
		s[9] = mode & S_IXOTH ? 't' : 'T';
	s[10] = '\0';
}

/* unsquashfs 4.5 lists a device as its 32-bit number split at bit 8
 * (signed), though it extracts the right major and minor: expect what it
 * prints. */
static void listed_device(const struct aur_fnode *ino, char *buf, size_t size)
{
	uint32_t minor = ino->rdev_minor;
	uint32_t devno = (minor & 0xffu) | (ino->rdev_major << 8) |
			 ((minor & ~0xffu) << 12);

	snprintf(buf, size, "%d,%d", (int32_t)devno >> 8, (int)(devno & 0xff));
}

static void check_line(struct listing *l, char *line)
{
	char mode[16], owner[32], size[32], day[16], hm[16], want[64];
	char got[80], modestr[11];
	struct expect key, *e;
	const struct aur_fnode *ino;
	time_t t;
	struct tm tm;
	int used = 0, major, minor;
	bool dev = line[0] == 'c' || line[0] == 'b';

	if (dev ? sscanf(line, "%15s %31s %d,%d %15s %15s %n", mode, owner,
			 &major, &minor, day, hm, &used) != 6
		: sscanf(line, "%15s %31s %31s %15s %15s %n", mode, owner, size,
			 day, hm, &used) != 5)
		fail_msg("unsquashfs: cannot parse '%s'", line);
	key.rest = line + used;
	e = bsearch(&key, l->v, l->n, sizeof(*l->v), expect_cmp);
	if (!e)
		fail_msg("unsquashfs lists '%s', not in the tree", key.rest);
	e->seen = true;
	ino = aur_fnode_inode(e->n);
	mode_string(ino->mode, modestr);
	snprintf(want, sizeof(want), "%u/%u", ino->uid, ino->gid);
	if (strcmp(mode, modestr) || strcmp(owner, want))
		fail_msg("%s: %s %s, %s %s expected", key.rest, mode, owner,
			 modestr, want);
	if (dev) {
		snprintf(got, sizeof(got), "%d,%d", major, minor);
		listed_device(ino, want, sizeof(want));
	} else {
		snprintf(got, sizeof(got), "%s", size);
		snprintf(want, sizeof(want), "%llu",
			 (unsigned long long)ino->size);
	}
	if (!S_ISDIR(ino->mode) && strcmp(got, want) != 0)
		fail_msg("%s: size %s, %s expected", key.rest, got, want);
	t = (time_t)sqfs_time_of(ino->mtime);
	gmtime_r(&t, &tm);
	strftime(want, sizeof(want), "%Y-%m-%d %H:%M", &tm);
	snprintf(got, sizeof(got), "%s %s", day, hm);
	if (strcmp(got, want) != 0)
		fail_msg("%s: time %s, %s expected", key.rest, got, want);
}

void check_listing(const struct aur_rootfs *fs, const char *img)
{
	AUR_AUTOFREE char *out = aur_printf("%s.lln", img);
	const char *argv[] = {"unsquashfs", "-lln", img, NULL};
	struct listing l = {calloc(aur_rootfs_count(fs), sizeof(*l.v)), 0};
	char *text, *save = NULL;
	size_t len;

	assert_non_null(l.v);
	setenv("TZ", "UTC", 1);
	assert_int_equal(run(argv, out), 0);
	assert_int_equal(aur_read_file(out, 1u << 30, &text, &len), 0);
	unlink(out);
	aur_rootfs_walk(fs, expect_one, &l);
	qsort(l.v, l.n, sizeof(*l.v), expect_cmp);
	for (char *line = strtok_r(text, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save))
		check_line(&l, line);
	for (size_t i = 0; i < l.n; i++) {
		if (!l.v[i].seen)
			fail_msg("unsquashfs does not list '%s'", l.v[i].rest);
		free(l.v[i].rest);
	}
	free(l.v);
	free(text);
}

/* ---- readers that make a directory ---- */

/* Extractions need root: unsquashfs drops set-id bits, devices, owners
 * and trusted.* xattrs for anyone else. */
static bool can_extract(void)
{
	if (geteuid() == 0)
		return true;
	print_message("extraction check skipped: needs root\n");
	return false;
}

void check_unsquashfs(const struct aur_rootfs *fs, const char *img,
		      const char *tmp)
{
	AUR_AUTOFREE char *dir = aur_printf("%s/unsquashfs", tmp);
	const char *argv[] = {
		"unsquashfs", "-no-progress", "-xattrs", "-d", dir, img, NULL};

	if (!can_extract())
		return;
	/* 0: not even a non-fatal error (2) */
	assert_int_equal(run(argv, NULL), 0);
	check_dir(fs, dir, CHECK_OWNERS | CHECK_DEVICES | CHECK_XATTRS);
	remove_tree(dir);
}

void check_rdsquashfs(const struct aur_rootfs *fs, const char *img,
		      const char *tmp)
{
	AUR_AUTOFREE char *dir = aur_printf("%s/rdsquashfs", tmp);
	/* owners left alone: rdsquashfs 1.2 sets xattrs before chown(),
	 * which drops security.capability */
	const char *argv[] = {"rdsquashfs", "-u", "/",	"-p", dir,
			      "-X",	    "-C", "-T", img,  NULL};

	if (!can_extract())
		return;
	assert_int_equal(mkdir(dir, 0755), 0);
	assert_int_equal(run(argv, NULL), 0);
	check_dir(fs, dir,
		  CHECK_DEVICES | CHECK_XATTRS | CHECK_TOP_AS_MADE |
			  CHECK_LINKS_AS_COPIES);
	remove_tree(dir);
}

/* The mount point of a kernel check in progress. */
static char *mounted;

void check_cleanup(void)
{
	const char *umount[] = {"umount", mounted, NULL};

	if (!mounted)
		return;
	run(umount, NULL);
	free(mounted);
	mounted = NULL;
}

bool mount_small_tmpfs(const char *dir, const char *size)
{
	AUR_AUTOFREE char *opt = aur_printf("size=%s", size);
	const char *argv[] = {"mount", "-t",	"tmpfs", "-o",
			      opt,     "tmpfs", dir,	 NULL};

	if (geteuid() != 0 || run(argv, NULL) != 0) {
		print_message("cannot mount a tmpfs here: skipped\n");
		return false;
	}
	mounted = strdup(dir);
	assert_non_null(mounted);
	return true;
}

bool check_kernel(const struct aur_rootfs *fs, const char *img, const char *tmp)
{
	AUR_AUTOFREE char *dir = aur_printf("%s/mnt", tmp);
	const char *mount[] = {"mount",	  "-t", "squashfs", "-o",
			       "loop,ro", img,	dir,	    NULL};
	const char *umount[] = {"umount", dir, NULL};

	assert_int_equal(mkdir(dir, 0755), 0);
	if (geteuid() != 0 || run(mount, NULL) != 0) {
		print_message("kernel check skipped: cannot loop-mount a "
			      "squashfs here\n");
		rmdir(dir);
		return false;
	}
	mounted = strdup(dir);
	assert_non_null(mounted);
	check_dir(fs, dir,
		  CHECK_OWNERS | CHECK_DEVICES | CHECK_XATTRS |
			  CHECK_DIR_LINKS);
	assert_int_equal(run(umount, NULL), 0);
	free(mounted);
	mounted = NULL;
	rmdir(dir);
	return true;
}

void check_grub(const struct aur_rootfs *fs, const char *img, const char *tmp,
		const char *const *paths)
{
	AUR_AUTOFREE char *out = aur_printf("%s/grub.out", tmp);
	const char *ls[] = {"grub-fstest", img, "ls", "/", NULL};

	if (run(ls, NULL) != 0)
		fail_msg("grub: cannot list /");
	for (; *paths; paths++) {
		const char *cat[] = {"grub-fstest", img, "cat", *paths, NULL};
		const struct aur_fnode *n =
			aur_fnode_inode(aur_rootfs_lookup(fs, *paths, false));
		uint8_t *want = node_data(n);
		char *got;
		size_t len;

		if (run(cat, out) != 0)
			fail_msg("grub: cannot read %s", *paths);
		assert_int_equal(aur_read_file(out, 1u << 30, &got, &len), 0);
		if (len != n->size || memcmp(got, want, len) != 0)
			fail_msg("grub: %s: content differs (%zu bytes, %llu "
				 "expected)",
				 *paths, len, (unsigned long long)n->size);
		free(got);
		free(want);
	}
	unlink(out);
}
