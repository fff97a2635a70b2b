// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * ext2 images as extent maps, read back by readers we did not write:
 * e2fsck (a clean check), debugfs (rdump, stat, bmap), GRUB's own ext2
 * driver (grub-fstest) and, as root, the kernel (a loop mount; skipped
 * with a message where mounting fails). File data comes from patterned
 * sources that generate their bytes, so a 4.5 GiB file costs nothing.
 *
 * AUR_TEST_SEED replays the random test; AUR_EXT2_ITERATIONS sets its
 * number of rounds.
 */
#include "test_helpers.h"

#include <aurora/ext2img.h>
#include <aurora/extmap.h>
#include <aurora/source.h>
#include <aurora/util.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#if defined(__SANITIZE_ADDRESS__)
#define SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SANITIZED 1
#endif
#endif
#ifndef SANITIZED
#define SANITIZED 0
#endif

#define MIB (1024 * 1024ull)
#define GIB (1024 * MIB)
#define FS_TIME 1700000000

/* ---- sources ---- */

/* Bytes that repeat every PERIOD (a prime: no block size divides it),
 * shifted by a salt per file. */
#define PERIOD 65521u
static uint8_t pattern[PERIOD];

struct pat_source {
	struct aur_source src;
	uint64_t salt;
};

static int pat_get_run(struct aur_source *src, uint64_t off, size_t n,
		       struct aur_run *run)
{
	const struct pat_source *ps = (const struct pat_source *)src;
	size_t at = (size_t)((off + ps->salt) % PERIOD);

	run->kind = AUR_RUN_MEM;
	run->mem = pattern + at;
	run->len = AUR_MIN(n, (size_t)PERIOD - at);
	return 0;
}

static const struct aur_source_ops pat_ops = {.get_run = pat_get_run};

static void pat_init(struct pat_source *ps, uint64_t size, uint64_t salt)
{
	ps->src.ops = &pat_ops;
	ps->src.size = size;
	ps->salt = salt;
}

static int fail_get_run(struct aur_source *src, uint64_t off, size_t n,
			struct aur_run *run)
{
	return -EIO;
}

static const struct aur_source_ops fail_ops = {.get_run = fail_get_run};

static uint64_t rng_state;

static uint64_t rnd(void)
{
	uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static uint64_t rnd_below(uint64_t n)
{
	return n ? rnd() % n : 0;
}

static int setup_pattern(void **state)
{
	rng_state = 42;
	for (size_t i = 0; i < PERIOD; i++)
		pattern[i] = (uint8_t)rnd();
	return 0;
}

/* ---- helpers ---- */

static const struct aur_ext2_opts base_opts = {
	.label = "COS_RECOVERY",
	.uuid = {0x5a, 0x1e, 0x2b, 0x3c, 0x4d, 0x5e, 0x4f, 0x60, 0x81, 0x92,
		 0xa3, 0xb4, 0xc5, 0xd6, 0xe7, 0xf8},
	.hash_seed = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16},
	.time = FS_TIME,
};

/* Run @argv; its exit status, its output (stdout and stderr) in *@out
 * if @out is not NULL (caller frees). */
static int run_tool(const char *const argv[], char **out)
{
	int fds[2];
	pid_t pid;
	char *buf = NULL;
	size_t len = 0;
	int status;

	assert_int_equal(pipe(fds), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		dup2(fds[1], 1);
		dup2(fds[1], 2);
		close(fds[0]);
		close(fds[1]);
		execvp(argv[0], (char *const *)argv);
		_exit(127);
	}
	close(fds[1]);
	for (;;) {
		char chunk[4096];
		ssize_t k = read(fds[0], chunk, sizeof(chunk));
		char *nbuf;

		if (k <= 0)
			break;
		nbuf = realloc(buf, len + (size_t)k + 1);
		assert_non_null(nbuf);
		buf = nbuf;
		memcpy(buf + len, chunk, (size_t)k);
		len += (size_t)k;
		buf[len] = '\0';
	}
	close(fds[0]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	if (out)
		*out = buf ? buf : strdup("");
	else
		free(buf);
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* Write @m to @path: memory extents always, source extents if @data
 * (else they stay holes), zeros as holes. */
static void write_image(const struct aur_extmap *m, const char *path, bool data)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	uint8_t *buf = malloc(MIB);

	assert_true(fd >= 0);
	assert_non_null(buf);
	assert_int_equal(ftruncate(fd, (off_t)m->size), 0);
	for (size_t i = 0; i < m->n; i++) {
		const struct aur_extent *e = &m->v[i];

		if (e->kind == AUR_EXT_MEM)
			assert_int_equal(
				aur_pwrite_full(fd, e->u.mem, e->len, e->start),
				0);
		if (e->kind != AUR_EXT_SOURCE || !data)
			continue;
		for (uint64_t d = 0; d < e->len; d += MIB) {
			size_t k = (size_t)AUR_MIN(MIB, e->len - d);

			assert_int_equal(
				aur_extmap_pread(m, buf, k, e->start + d),
				(ssize_t)k);
			assert_int_equal(
				aur_pwrite_full(fd, buf, k, e->start + d), 0);
		}
	}
	free(buf);
	close(fd);
}

static void fsck_clean(const char *img)
{
	const char *const argv[] = {"e2fsck", "-fn", img, NULL};
	char *out;
	int st = run_tool(argv, &out);

	if (st != 0)
		print_error("e2fsck -fn %s: status %d\n%s\n", img, st, out);
	assert_int_equal(st, 0);
	free(out);
}

static char *at(const char *dir, const char *path)
{
	return aur_printf("%s%s", dir, path);
}

/* Read all of @path, which must hold @e's bytes. */
static void check_content(const char *path, const struct aur_ext2_entry *e)
{
	int fd = open(path, O_RDONLY);
	uint8_t *want = malloc(MIB), *got = malloc(MIB);

	if (fd < 0 && errno == EACCES && chmod(path, 0400) == 0)
		fd = open(path, O_RDONLY); /* not root: debugfs kept 0000 */
	assert_true(fd >= 0);
	for (uint64_t d = 0; d < e->size; d += MIB) {
		size_t k = (size_t)AUR_MIN(MIB, e->size - d);

		assert_int_equal(aur_source_pread(e->src, want, k, e->off + d),
				 (ssize_t)k);
		assert_int_equal(aur_pread_full(fd, got, k, d), (ssize_t)k);
		if (memcmp(want, got, k) != 0)
			fail_msg("%s: content differs in bytes %" PRIu64 "+%zu",
				 e->path, d, k);
	}
	assert_int_equal(aur_pread_full(fd, got, 1, e->size), 0);
	close(fd);
	free(want);
	free(got);
}

/* nftw has no context argument */
static size_t counted;

static int count_one(const char *path, const struct stat *st, int flag,
		     struct FTW *ftw)
{
	if (ftw->level > 0)
		counted++;
	return 0;
}

static size_t count_tree(const char *root)
{
	counted = 0;
	assert_int_equal(nftw(root, count_one, 16, FTW_PHYS), 0);
	return counted;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Paths the image holds: the entries, their parents, lost+found. */
static size_t expected_count(const struct aur_ext2_entry *v, size_t n)
{
	char **paths = NULL;
	size_t np = 0, uniq = 0;

	for (size_t i = 0; i <= n; i++) {
		const char *p = i < n ? v[i].path : "/lost+found";

		for (size_t k = 1; p[k - 1]; k++) {
			if (p[k] != '/' && p[k] != '\0')
				continue;
			paths = realloc(paths, (np + 1) * sizeof(*paths));
			assert_non_null(paths);
			paths[np++] = strndup(p, k);
		}
	}
	qsort(paths, np, sizeof(*paths), cmp_str);
	for (size_t i = 0; i < np; i++) {
		if (strcmp(paths[i], "/") != 0 &&
		    (i == 0 || strcmp(paths[i], paths[i - 1]) != 0))
			uniq++;
	}
	for (size_t i = 0; i < np; i++)
		free(paths[i]);
	free(paths);
	return uniq;
}

static void check_entry(const char *root, const struct aur_ext2_entry *e,
			bool mounted, const char *how)
{
	char *path = at(root, strcmp(e->path, "/") ? e->path : "");
	int64_t mtime = e->mtime ? e->mtime : FS_TIME;
	mode_t perm = mounted ? 07777 : 0777;
	struct stat st;

	if (lstat(path, &st) != 0)
		fail_msg("%s: '%s' is missing", how, e->path);
	if ((st.st_mode & S_IFMT) != (e->mode & S_IFMT))
		fail_msg("%s: '%s' has mode 0%o, not 0%o", how, e->path,
			 st.st_mode, e->mode);
	if (!S_ISLNK(e->mode) && (st.st_mode & perm) != (e->mode & perm))
		fail_msg("%s: '%s' has mode 0%o, not 0%o", how, e->path,
			 st.st_mode, e->mode);
	/* debugfs gives files their owners only when run as root */
	if ((!S_ISLNK(e->mode) && geteuid() == 0) || mounted) {
		assert_int_equal(st.st_uid, e->uid);
		assert_int_equal(st.st_gid, e->gid);
	}
	if (S_ISREG(e->mode) || mounted)
		assert_int_equal(st.st_mtime, mtime);
	if (S_ISREG(e->mode)) {
		assert_int_equal(st.st_size, e->size);
		check_content(path, e);
	}
	if (S_ISLNK(e->mode)) {
		char target[8192];
		ssize_t k = readlink(path, target, sizeof(target));

		assert_int_equal(k, strlen(e->target));
		assert_memory_equal(target, e->target, (size_t)k);
	}
	free(path);
}

/*
 * The tree under @root (a dump or a mount) holds @v and nothing else but
 * their parents and lost+found. @mounted: a loop mount, where every
 * attribute is the image's (debugfs restores files' times only, symlinks'
 * owners not at all, and its chown drops set-id bits).
 */
static void check_tree(const char *root, const struct aur_ext2_entry *v,
		       size_t n, bool mounted, const char *how)
{
	/* later entries for a directory win, as in the image */
	for (size_t i = 0; i < n; i++) {
		bool later = false;

		for (size_t j = i + 1; j < n && !later; j++)
			later = strcmp(v[i].path, v[j].path) == 0;
		if (!later)
			check_entry(root, &v[i], mounted, how);
	}
	assert_int_equal(count_tree(root), expected_count(v, n));
}

static void check_with_debugfs(const char *img, const char *dir,
			       const struct aur_ext2_entry *v, size_t n)
{
	char *out = at(dir, "/dump");
	char *cmd = aur_printf("rdump / %s", out);
	const char *const argv[] = {"debugfs", "-R", cmd, img, NULL};
	char *log;

	assert_int_equal(mkdir(out, 0755), 0);
	if (run_tool(argv, &log) != 0)
		fail_msg("debugfs: %s", log);
	check_tree(out, v, n, false, "debugfs rdump");
	remove_tree(out);
	free(log);
	free(cmd);
	free(out);
}

/* Mount @img (read-only) on @dir/mnt; false, with a message, where this
 * machine cannot. */
static bool mount_image(const char *img, const char *mnt)
{
	const char *const argv[] = {"mount",   "-t", "ext2", "-o",
				    "loop,ro", img,  mnt,    NULL};
	char *log;
	bool ok;

	assert_int_equal(mkdir(mnt, 0755), 0);
	ok = run_tool(argv, &log) == 0;
	if (!ok)
		print_message("skipping the loop mount of %s: %s", img, log);
	free(log);
	return ok;
}

static void unmount_image(const char *mnt)
{
	const char *const argv[] = {"umount", mnt, NULL};

	assert_int_equal(run_tool(argv, NULL), 0);
	rmdir(mnt);
}

static void check_with_mount(const char *img, const char *dir,
			     const struct aur_ext2_entry *v, size_t n)
{
	char *mnt = at(dir, "/mnt");

	if (mount_image(img, mnt)) {
		check_tree(mnt, v, n, true, "loop mount");
		unmount_image(mnt);
	} else {
		rmdir(mnt);
	}
	free(mnt);
}

static struct aur_ext2_opts opts_sized(uint64_t size)
{
	struct aur_ext2_opts o = base_opts;

	o.size = size;
	return o;
}

/* ---- a recovery partition, read by every reader ---- */

struct recovery {
	struct aur_ext2_entry *v;
	size_t n;
	struct pat_source squash;
	struct aur_mem_source cfg;
	struct aur_file_source *mods;
	size_t nmods;
	char **names;
};

static const char grub_cfg[] =
	"set default=0\nmenuentry \"Kairos recovery\" {\n"
	"  linux ($root)/boot/vmlinuz root=live:LABEL=COS_RECOVERY\n}\n";

static void recovery_add(struct recovery *rc, struct aur_ext2_entry e)
{
	rc->v = realloc(rc->v, (rc->n + 1) * sizeof(*rc->v));
	assert_non_null(rc->v);
	rc->v[rc->n++] = e;
}

/* COS_RECOVERY as a BIOS disk has it: the squashfs, grub.cfg, and GRUB's
 * own modules (real files of this machine, when it has them). */
static void recovery_make(struct recovery *rc, uint64_t squash_size)
{
	DIR *d = opendir("/usr/lib/grub/i386-pc");
	struct dirent *de;

	memset(rc, 0, sizeof(*rc));
	pat_init(&rc->squash, squash_size + 4096, 7);
	aur_mem_source_init(&rc->cfg, grub_cfg, sizeof(grub_cfg) - 1);
	recovery_add(rc, (struct aur_ext2_entry){
				 .path = "/cOS/recovery.squashfs",
				 .mode = S_IFREG | 0644,
				 .src = &rc->squash.src,
				 .off = 4096,
				 .size = squash_size,
			 });
	recovery_add(rc, (struct aur_ext2_entry){
				 .path = "/etc/cos/grub.cfg",
				 .mode = S_IFREG | 0644,
				 .mtime = 1600000000,
				 .src = &rc->cfg.src,
				 .size = sizeof(grub_cfg) - 1,
			 });
	rc->mods = calloc(400, sizeof(*rc->mods));
	rc->names = calloc(400, sizeof(*rc->names));
	while (d && (de = readdir(d)) && rc->nmods < 400) {
		char *src;
		struct aur_file_source *fs = &rc->mods[rc->nmods];

		if (!strstr(de->d_name, ".mod"))
			continue;
		src = aur_printf("/usr/lib/grub/i386-pc/%s", de->d_name);
		assert_int_equal(aur_file_source_open(fs, src), 0);
		free(src);
		rc->names[rc->nmods] =
			aur_printf("/grub2/i386-pc/%s", de->d_name);
		recovery_add(rc, (struct aur_ext2_entry){
					 .path = rc->names[rc->nmods],
					 .mode = S_IFREG | 0644,
					 .src = &fs->src,
					 .size = fs->src.size,
				 });
		rc->nmods++;
	}
	if (d)
		closedir(d);
}

static void recovery_free(struct recovery *rc)
{
	for (size_t i = 0; i < rc->nmods; i++) {
		aur_file_source_close(&rc->mods[i]);
		free(rc->names[i]);
	}
	free(rc->mods);
	free(rc->names);
	free(rc->v);
}

static void recovery_image_is_read_by_everyone(void **state)
{
	struct recovery rc;
	struct aur_ext2_opts o = base_opts;
	struct aur_extmap map;
	struct aur_ext2_image *img;
	char *dir = make_temp_dir(), *path = at(dir, "/recovery.img");
	char *local = at(dir, "/squash"), *out;
	uint64_t min;

	recovery_make(&rc, 8 * MIB + 123);
	assert_int_equal(aur_ext2_min_size(&o, rc.v, rc.n, &min), 0);
	o.size = min + 4 * MIB;
	aur_extmap_init(&map);
	assert_int_equal(aur_ext2_build(&o, rc.v, rc.n, &map, &img), 0);
	assert_int_equal(map.size, o.size);
	write_image(&map, path, true);
	fsck_clean(path);
	check_with_debugfs(path, dir, rc.v, rc.n);
	check_with_mount(path, dir, rc.v, rc.n);
	{
		const char *const cat[] = {"grub-fstest", path, "cat",
					   "/etc/cos/grub.cfg", NULL};
		const char *const ls[] = {"grub-fstest", path, "ls", "/", NULL};
		const char *const cmp[] = {
			"grub-fstest", path, "cmp", "/cOS/recovery.squashfs",
			local,	       NULL};
		struct aur_ext2_entry sq = rc.v[0];
		uint8_t *buf = malloc(sq.size);

		assert_int_equal(run_tool(cat, &out), 0);
		assert_string_equal(out, grub_cfg);
		free(out);
		assert_int_equal(run_tool(ls, &out), 0);
		assert_non_null(strstr(out, "cOS/"));
		assert_non_null(strstr(out, "etc/"));
		assert_non_null(strstr(out, "lost+found/"));
		free(out);
		assert_int_equal(aur_source_pread(sq.src, buf, sq.size, sq.off),
				 (ssize_t)sq.size);
		write_file(local, buf, sq.size);
		free(buf);
		if (run_tool(cmp, &out) != 0)
			fail_msg("grub-fstest cmp: %s", out);
		free(out);
	}
	aur_extmap_release(&map);
	aur_ext2_image_free(img);
	recovery_free(&rc);
	remove_tree(dir);
	free(local);
	free(path);
	free(dir);
}

/* ---- the same inputs, the same bytes ---- */

static void map_bytes(const struct aur_extmap *m, uint8_t **out)
{
	*out = malloc(m->size);
	assert_non_null(*out);
	assert_int_equal(aur_extmap_pread(m, *out, m->size, 0),
			 (ssize_t)m->size);
}

/* Wait for the clock's next second, so that a stamp from the clock would
 * show. */
static void next_second(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	usleep((useconds_t)((1000000000L - ts.tv_nsec) / 1000 + 1000));
}

static void same_inputs_same_bytes(void **state)
{
	struct recovery rc;
	struct aur_ext2_opts o = opts_sized(32 * MIB);
	struct aur_extmap a, b;
	struct aur_ext2_image *ia, *ib;
	uint8_t *ba, *bb;

	recovery_make(&rc, 5 * MIB);
	aur_extmap_init(&a);
	aur_extmap_init(&b);
	assert_int_equal(aur_ext2_build(&o, rc.v, rc.n, &a, &ia), 0);
	next_second();
	setenv("E2FSPROGS_FAKE_TIME", "123456789", 1);
	assert_int_equal(aur_ext2_build(&o, rc.v, rc.n, &b, &ib), 0);
	unsetenv("E2FSPROGS_FAKE_TIME");
	assert_int_equal(a.n, b.n);
	for (size_t i = 0; i < a.n; i++) {
		assert_int_equal(a.v[i].kind, b.v[i].kind);
		assert_int_equal(a.v[i].start, b.v[i].start);
		assert_int_equal(a.v[i].len, b.v[i].len);
	}
	map_bytes(&a, &ba);
	map_bytes(&b, &bb);
	assert_memory_equal(ba, bb, a.size);
	/* the identity is where the options put it */
	assert_memory_equal(ba + 1024 + 0x68, base_opts.uuid, 16);
	assert_memory_equal(ba + 1024 + 0x78, "COS_RECOVERY\0\0\0", 16);
	assert_memory_equal(ba + 1024 + 0xec, base_opts.hash_seed, 16);
	free(ba);
	free(bb);
	aur_extmap_release(&a);
	aur_extmap_release(&b);
	aur_ext2_image_free(ia);
	aur_ext2_image_free(ib);
	recovery_free(&rc);
}

/* ---- what is wrong is said ---- */

static int build_expect(const struct aur_ext2_opts *o,
			const struct aur_ext2_entry *v, size_t n,
			const char *said)
{
	struct aur_extmap map;
	struct aur_ext2_image *img = NULL;
	int r;

	capture_logs();
	aur_extmap_init(&map);
	r = aur_ext2_build(o, v, n, &map, &img);
	if (r == 0) {
		aur_extmap_release(&map);
		aur_ext2_image_free(img);
	}
	assert_int_equal(map.n, 0);
	if (said && !strstr(captured_logs(), said))
		fail_msg("expected '%s' in: %s", said, captured_logs());
	release_logs();
	return r;
}

static void errors_are_explained(void **state)
{
	static uint8_t data[5000];
	struct aur_mem_source ms;
	struct aur_source failing = {.ops = &fail_ops, .size = 1 << 20};
	struct aur_ext2_opts o = opts_sized(8 * MIB);
	char long_name[300], long_target[1100] = "", *said;
	uint64_t min;
	struct aur_ext2_entry file = {.path = "/a",
				      .mode = S_IFREG | 0644,
				      .src = &ms.src,
				      .size = sizeof(data)};
	struct aur_ext2_entry v[2] = {file, file};

	aur_mem_source_init(&ms, data, sizeof(data));
	/* too small: the message gives the size that fits */
	assert_int_equal(aur_ext2_min_size(&o, v, 1, &min), 0);
	o.size = min - 4096;
	said = aur_printf("need at least %" PRIu64, min);
	assert_int_equal(build_expect(&o, v, 1, said), -ENOSPC);
	free(said);
	o.size = 8 * MIB;
	/* options */
	o.label = "A_LABEL_OF_17_BYT";
	assert_int_equal(build_expect(&o, v, 1, "longer than 16 bytes"),
			 -EINVAL);
	o.label = "COS_OEM";
	o.size = 8 * MIB + 512;
	assert_int_equal(build_expect(&o, v, 1, "not a multiple"), -EINVAL);
	o.size = 8 * MIB;
	o.time = 0;
	assert_int_equal(build_expect(&o, v, 1, "time 0"), -EINVAL);
	o.time = FS_TIME;
	o.block_size = 512;
	assert_int_equal(build_expect(&o, v, 1, "block size 512"), -EINVAL);
	o.block_size = 0;
	/* names and paths */
	memset(long_name, 'n', sizeof(long_name));
	long_name[0] = '/';
	long_name[257] = '\0';
	v[0].path = long_name;
	assert_int_equal(build_expect(&o, v, 1, "longer than 255 bytes"),
			 -ENAMETOOLONG);
	long_name[256] = '\0'; /* 255 bytes: fine */
	assert_int_equal(build_expect(&o, v, 1, NULL), 0);
	v[0].path = "/a";
	v[1].path = "/a/b";
	assert_int_equal(build_expect(&o, v, 2, "'/a' is not a directory"),
			 -ENOTDIR);
	v[1].path = "/a";
	assert_int_equal(build_expect(&o, v, 2, "given twice"), -EEXIST);
	v[0].path = "/x/../a";
	assert_int_equal(build_expect(&o, v, 1, "not a canonical"), -EINVAL);
	v[0].path = "a";
	assert_int_equal(build_expect(&o, v, 1, "not an absolute path"),
			 -EINVAL);
	memset(long_target, 't', sizeof(long_target) - 1);
	v[0] = (struct aur_ext2_entry){
		.path = "/l", .mode = S_IFLNK | 0777, .target = long_target};
	o.block_size = 1024;
	o.size = 8 * MIB;
	assert_int_equal(build_expect(&o, v, 1, "1 to 1023 bytes"),
			 -ENAMETOOLONG);
	o.block_size = 0;
	v[0] = file;
	v[0].off = 1;
	assert_int_equal(build_expect(&o, v, 1, "not in its source"), -EINVAL);
	v[0].off = 0;
	v[0].mode = S_IFIFO | 0644;
	assert_int_equal(build_expect(&o, v, 1, "not a file, directory"),
			 -EINVAL);
	/* a failing source fails the build when it is read (a small file)
	 * and the read when it is not (a large file's extent) */
	v[0] = (struct aur_ext2_entry){.path = "/f",
				       .mode = S_IFREG | 0644,
				       .src = &failing,
				       .size = 10};
	assert_int_equal(build_expect(&o, v, 1, "cannot read '/f'"), -EIO);
	{
		struct aur_extmap map;
		struct aur_ext2_image *img;
		uint8_t buf[4096];

		v[0].size = 1 << 20;
		aur_extmap_init(&map);
		assert_int_equal(aur_ext2_build(&o, v, 1, &map, &img), 0);
		for (size_t i = 0; i < map.n; i++) {
			if (map.v[i].kind == AUR_EXT_SOURCE)
				assert_int_equal(
					aur_extmap_pread(&map, buf, sizeof(buf),
							 map.v[i].start),
					-EIO);
		}
		aur_extmap_release(&map);
		aur_ext2_image_free(img);
	}
}

/* ---- random images ---- */

#define MAX_ENTRIES 600

struct gen {
	struct aur_ext2_entry v[MAX_ENTRIES];
	size_t n;
	struct pat_source src[MAX_ENTRIES];
	char *strs[2 * MAX_ENTRIES];
	size_t nstrs;
	const char *dirs[MAX_ENTRIES]; /* "" is the root */
	bool dir_given[MAX_ENTRIES];
	size_t ndirs;
	unsigned bs;
	uint64_t copy_below;
};

static char *gen_keep(struct gen *g, char *s)
{
	assert_non_null(s);
	g->strs[g->nstrs++] = s;
	return s;
}

/* A name no other entry has: odd bytes (spaces, newlines, backslashes,
 * bytes that are not UTF-8), sometimes the longest ext2 allows. */
static char *gen_name(struct gen *g)
{
	static const char odd[] = " \n\t\\*?'\"-_.~#:;[]{}";
	char tail[24], *name;
	size_t len, t = (size_t)snprintf(tail, sizeof(tail), "~%zu", g->n);
	uint64_t kind = rnd_below(8);

	len = kind == 0 ? 255 : 1 + rnd_below(kind < 4 ? 12 : 40);
	len = AUR_MAX(len, t);
	name = malloc(len + 1);
	assert_non_null(name);
	for (size_t i = 0; i < len - t; i++) {
		uint64_t c = rnd_below(4);

		name[i] = c == 0   ? odd[rnd_below(sizeof(odd) - 1)]
			  : c == 1 ? (char)(0x80 + rnd_below(0x80))
				   : (char)('a' + rnd_below(26));
	}
	memcpy(name + len - t, tail, t + 1);
	return name;
}

static char *gen_path(struct gen *g, const char *dir)
{
	char *name = gen_name(g);
	char *path = aur_printf("%s/%s", dir, name);

	free(name);
	return gen_keep(g, path);
}

static uint64_t gen_size(const struct gen *g)
{
	uint64_t cb = g->copy_below ? g->copy_below : 64 * 1024;

	switch (rnd_below(9)) {
	case 0:
		return 0;
	case 1:
		return 1 + rnd_below(100);
	case 2:
		return g->bs * (1 + rnd_below(300)); /* whole blocks */
	case 3:
		return g->bs * (1 + rnd_below(20)) + rnd_below(3) - 1;
	case 4:
		return cb - 1 + rnd_below(3); /* both sides of copy_below */
	case 5:
		return rnd_below(3 * MIB);
	default:
		return rnd_below(200 * 1024);
	}
}

static uint32_t gen_id(void)
{
	static const uint32_t ids[] = {0,     0,     1000,	 65534,
				       65536, 70000, 4000000000u};

	return ids[rnd_below(AUR_ARRAY_SIZE(ids))];
}

static struct aur_ext2_entry *gen_entry(struct gen *g, const char *path,
					uint32_t type)
{
	struct aur_ext2_entry *e = &g->v[g->n++];

	*e = (struct aur_ext2_entry){
		.path = path,
		.mode = type | (uint32_t)rnd_below(07777 + 1),
		.uid = gen_id(),
		.gid = gen_id(),
		.mtime = rnd_below(3) ? (int64_t)rnd_below(INT32_MAX) + 1 : 0,
	};
	return e;
}

static void gen_file(struct gen *g, const char *dir)
{
	struct pat_source *ps = &g->src[g->n];
	struct aur_ext2_entry *e = gen_entry(g, gen_path(g, dir), S_IFREG);

	e->size = gen_size(g);
	e->off = rnd_below(5000);
	pat_init(ps, e->off + e->size + rnd_below(100), rnd());
	e->src = &ps->src;
}

static void gen_symlink(struct gen *g, const char *dir)
{
	struct aur_ext2_entry *e = gen_entry(g, gen_path(g, dir), S_IFLNK);
	size_t len =
		rnd_below(2) ? 1 + rnd_below(59) : 60 + rnd_below(g->bs - 60);
	char *t = gen_keep(g, malloc(len + 1));

	for (size_t i = 0; i < len; i++)
		t[i] = (char)(1 + rnd_below(255));
	t[len] = '\0';
	e->target = t;
}

static void gen_dir(struct gen *g, const char *dir)
{
	struct aur_ext2_entry *e = gen_entry(g, gen_path(g, dir), S_IFDIR);

	g->dir_given[g->ndirs] = true;
	g->dirs[g->ndirs++] = e->path;
}

/* A chain of directories made only as parents of its last one. */
static void gen_deep(struct gen *g)
{
	const char *dir = g->dirs[rnd_below(g->ndirs)];
	size_t depth = 2 + rnd_below(30);

	for (size_t i = 0; i < depth && g->ndirs < MAX_ENTRIES; i++) {
		dir = gen_path(g, dir);
		g->dirs[g->ndirs++] = dir;
	}
	gen_file(g, dir);
}

static void gen_round(struct gen *g)
{
	static const unsigned sizes[] = {4096, 4096, 1024, 2048};
	static const uint64_t copy[] = {0, 1, 4096, 1 << 20};
	size_t files = 5 + rnd_below(40);

	memset(g, 0, sizeof(*g));
	g->bs = sizes[rnd_below(AUR_ARRAY_SIZE(sizes))];
	g->copy_below = copy[rnd_below(AUR_ARRAY_SIZE(copy))];
	g->dirs[g->ndirs++] = "";
	if (rnd_below(4) == 0)
		gen_entry(g, "/", S_IFDIR);
	for (size_t i = 0; i < files; i++) {
		const char *dir = g->dirs[rnd_below(g->ndirs)];

		switch (rnd_below(10)) {
		case 0:
		case 1:
			gen_symlink(g, dir);
			break;
		case 2:
			gen_dir(g, dir);
			break;
		case 3:
			gen_deep(g);
			break;
		default:
			gen_file(g, dir);
		}
	}
	if (rnd_below(3) == 0) { /* many names in one directory */
		const char *dir = gen_path(g, "");

		for (size_t i = 0; i < 300 && g->n < MAX_ENTRIES - 2; i++)
			gen_file(g, dir);
	}
	/* a directory made as a parent, given its attributes afterwards */
	for (size_t i = 1; i < g->ndirs && g->n < MAX_ENTRIES; i++) {
		if (!g->dir_given[i] && rnd_below(4) == 0) {
			g->dir_given[i] = true;
			gen_entry(g, g->dirs[i], S_IFDIR);
		}
	}
	for (size_t i = 0; i < g->n; i++) {
		if (S_ISDIR(g->v[i].mode)) /* readable, for debugfs' dump */
			g->v[i].mode |= 0700;
	}
}

static void gen_release(struct gen *g)
{
	for (size_t i = 0; i < g->nstrs; i++)
		free(g->strs[i]);
}

static uint64_t env_u64(const char *name, uint64_t dflt)
{
	const char *s = getenv(name);
	uint64_t v;

	return s && aur_parse_u64(s, &v) == 0 ? v : dflt;
}

static void random_round(struct gen *g, const char *dir)
{
	struct aur_ext2_opts o = base_opts;
	struct aur_extmap map;
	struct aur_ext2_image *img;
	char *path = at(dir, "/r.img");
	uint64_t min;

	o.block_size = g->bs;
	o.copy_below = g->copy_below;
	assert_int_equal(aur_ext2_min_size(&o, g->v, g->n, &min), 0);
	/* the smallest size is the smallest */
	o.size = min - g->bs;
	assert_int_equal(build_expect(&o, g->v, g->n, "need at least"),
			 -ENOSPC);
	switch (rnd_below(3)) {
	case 0:
		o.size = min;
		break;
	case 1:
		o.size = min + g->bs * (1 + rnd_below(4096));
		break;
	default:
		o.size = min + g->bs * rnd_below(64 * MIB / g->bs);
	}
	print_message("  %zu entries, %u-byte blocks, copy below %" PRIu64
		      ", %" PRIu64 " bytes (smallest %" PRIu64 ")\n",
		      g->n, g->bs, g->copy_below, o.size, min);
	aur_extmap_init(&map);
	assert_int_equal(aur_ext2_build(&o, g->v, g->n, &map, &img), 0);
	write_image(&map, path, true);
	fsck_clean(path);
	check_with_debugfs(path, dir, g->v, g->n);
	check_with_mount(path, dir, g->v, g->n);
	aur_extmap_release(&map);
	aur_ext2_image_free(img);
	unlink(path);
	free(path);
}

static void random_images(void **state)
{
	uint64_t seed = env_u64("AUR_TEST_SEED", (uint64_t)time(NULL));
	uint64_t rounds = env_u64("AUR_EXT2_ITERATIONS", SANITIZED ? 3 : 8);
	struct gen *g = malloc(sizeof(*g));
	char *dir = make_temp_dir();

	assert_non_null(g);
	print_message("random ext2 images: seed %" PRIu64
		      " (AUR_TEST_SEED=%" PRIu64 " replays it)\n",
		      seed, seed);
	rng_state = seed;
	for (uint64_t i = 0; i < rounds; i++) {
		gen_round(g);
		random_round(g, dir);
		gen_release(g);
	}
	remove_tree(dir);
	free(dir);
	free(g);
}

/* ---- large files ---- */

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The physical block debugfs maps logical block @lblk of @file to. */
static uint64_t debugfs_bmap(const char *img, const char *file, uint64_t lblk)
{
	char *cmd = aur_printf("bmap %s %" PRIu64, file, lblk), *out, *nl;
	const char *const argv[] = {"debugfs", "-R", cmd, img, NULL};
	uint64_t pblk;

	assert_int_equal(run_tool(argv, &out), 0);
	nl = strrchr(out, '\n');
	while (nl && nl > out && nl[-1] != '\n' && nl[1] == '\0') {
		*nl = '\0';
		nl = strrchr(out, '\n');
	}
	if (aur_parse_u64(nl ? nl + 1 : out, &pblk) != 0)
		fail_msg("debugfs bmap: %s", out);
	free(out);
	free(cmd);
	return pblk;
}

/* Logical block @lblk of @e as it should read: the source's bytes, then
 * zeros past the end of the file. */
static void expected_block(const struct aur_ext2_entry *e, uint64_t lblk,
			   unsigned bs, uint8_t *want)
{
	uint64_t pos = lblk * bs;
	size_t k = (size_t)AUR_MIN((uint64_t)bs, e->size - pos);

	memset(want, 0, bs);
	assert_int_equal(aur_source_pread(e->src, want, k, e->off + pos),
			 (ssize_t)k);
}

static void check_big_file(uint64_t size)
{
	struct pat_source ps;
	struct aur_mem_source cfg;
	struct aur_ext2_entry v[2] = {
		{.path = "/cOS/recovery.squashfs",
		 .mode = S_IFREG | 0644,
		 .src = &ps.src,
		 .off = 12345,
		 .size = size},
		{.path = "/etc/cos/grub.cfg",
		 .mode = S_IFREG | 0644,
		 .src = &cfg.src,
		 .size = sizeof(grub_cfg) - 1},
	};
	const unsigned bs = 4096;
	uint64_t nblk = AUR_DIV_ROUND_UP(size, bs), min, src_bytes = 0;
	uint64_t probes[12];
	size_t np = 0;
	struct aur_ext2_opts o = base_opts;
	struct aur_extmap map;
	struct aur_ext2_image *img;
	char *dir = make_temp_dir(), *path = at(dir, "/big.img");
	char *mnt = at(dir, "/mnt");
	uint8_t want[4096], got[4096];
	double t;
	int fd;

	pat_init(&ps, size + 20000, 99);
	aur_mem_source_init(&cfg, grub_cfg, sizeof(grub_cfg) - 1);
	assert_int_equal(aur_ext2_min_size(&o, v, 2, &min), 0);
	o.size = min + 16 * MIB;
	aur_extmap_init(&map);
	t = now_s();
	assert_int_equal(aur_ext2_build(&o, v, 2, &map, &img), 0);
	t = now_s() - t;
	print_message("  %" PRIu64 " bytes: built in %.2f s, %zu extents, "
		      "%zu bytes of metadata in memory\n",
		      size, t, map.n, aur_ext2_image_bytes(img));
	/* few extents: the file's data runs, broken only by the indirect
	 * block ext2 puts before every 1024 blocks and by the groups'
	 * bitmaps and inode tables */
	assert_true(map.n <=
		    2 * (nblk / 1024) + 8 * (o.size / bs / 32768) + 32);
	for (size_t i = 0; i < map.n; i++) {
		if (map.v[i].kind == AUR_EXT_SOURCE &&
		    map.v[i].u.s.src == &ps.src)
			src_bytes += map.v[i].len;
	}
	assert_int_equal(src_bytes, size);
	assert_true(aur_ext2_image_bytes(img) < 16 * MIB);
	write_image(&map, path, false);
	fsck_clean(path);

	/* direct, indirect, double and triple indirect blocks, the last */
	{
		const uint64_t wanted[] = {
			0,
			11,
			12,
			12 + 1023,
			12 + 1024,
			12 + 1024 + 1024 * 1024 - 1,
			12 + 1024 + 1024 * 1024,
			rnd_below(nblk),
			nblk - 1,
		};

		for (size_t i = 0; i < AUR_ARRAY_SIZE(wanted); i++) {
			if (wanted[i] < nblk)
				probes[np++] = wanted[i];
		}
	}
	fd = open(path, O_WRONLY);
	assert_true(fd >= 0);
	for (size_t i = 0; i < np; i++) {
		uint64_t pblk = debugfs_bmap(path, v[0].path, probes[i]);

		expected_block(&v[0], probes[i], bs, want);
		assert_int_equal(aur_extmap_pread(&map, got, bs, pblk * bs),
				 bs);
		if (memcmp(want, got, bs) != 0)
			fail_msg("block %" PRIu64 " at %" PRIu64
				 ": not the source's bytes",
				 probes[i], pblk);
		/* the kernel reads it where debugfs says it is */
		assert_int_equal(aur_pwrite_full(fd, got, bs, pblk * bs), 0);
	}
	close(fd);
	if (mount_image(path, mnt)) {
		char *file = at(mnt, v[0].path);

		fd = open(file, O_RDONLY);
		assert_true(fd >= 0);
		for (size_t i = 0; i < np; i++) {
			uint64_t pos = probes[i] * bs;
			size_t k = (size_t)AUR_MIN((uint64_t)bs, size - pos);

			expected_block(&v[0], probes[i], bs, want);
			assert_int_equal(aur_pread_full(fd, got, bs, pos),
					 (ssize_t)k);
			assert_memory_equal(want, got, k);
		}
		close(fd);
		free(file);
		unmount_image(mnt);
	}
	aur_extmap_release(&map);
	aur_ext2_image_free(img);
	remove_tree(dir);
	free(mnt);
	free(path);
	free(dir);
}

static void file_of_1_5_gib(void **state)
{
	check_big_file(3 * GIB / 2 + 777);
}

static void file_over_4_gib(void **state)
{
	check_big_file(9 * GIB / 2 + 123);
}

/* ---- full directories ---- */

/* A directory whose blocks are exactly full gets a directory, another a
 * symlink: libext2fs refuses them (no room) until the parent grows. */
static void full_directories_grow(void **state)
{
	/* "." and ".." take 24 bytes of the first block, a 4-byte name 12 */
	const size_t fill = (4096 - 24) / 12;
	struct aur_ext2_entry *v = calloc(2 * fill + 2, sizeof(*v));
	char **names = calloc(2 * fill, sizeof(*names));
	struct aur_ext2_opts o = opts_sized(16 * MIB);
	struct aur_extmap map;
	struct aur_ext2_image *img;
	char *dir = make_temp_dir(), *path = at(dir, "/full.img");
	size_t n = 0;

	assert_non_null(v);
	assert_non_null(names);
	for (size_t i = 0; i < 2 * fill; i++) {
		names[i] =
			aur_printf("/%c/%03zu", i < fill ? 'd' : 's', i % fill);
		v[n++] = (struct aur_ext2_entry){.path = names[i],
						 .mode = S_IFREG | 0644};
		if (i == fill - 1)
			v[n++] = (struct aur_ext2_entry){
				.path = "/d/sub", .mode = S_IFDIR | 0750};
	}
	v[n++] = (struct aur_ext2_entry){.path = "/s/link",
					 .mode = S_IFLNK | 0777,
					 .target = "../d/sub"};
	aur_extmap_init(&map);
	assert_int_equal(aur_ext2_build(&o, v, n, &map, &img), 0);
	write_image(&map, path, true);
	fsck_clean(path);
	check_with_debugfs(path, dir, v, n);
	check_with_mount(path, dir, v, n);
	aur_extmap_release(&map);
	aur_ext2_image_free(img);
	for (size_t i = 0; i < 2 * fill; i++)
		free(names[i]);
	free(names);
	free(v);
	remove_tree(dir);
	free(path);
	free(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(recovery_image_is_read_by_everyone),
		cmocka_unit_test(same_inputs_same_bytes),
		cmocka_unit_test(errors_are_explained),
		cmocka_unit_test(full_directories_grow),
		cmocka_unit_test(random_images),
		cmocka_unit_test(file_of_1_5_gib),
		cmocka_unit_test(file_over_4_gib),
	};

	return cmocka_run_group_tests(tests, setup_pattern, NULL);
}
