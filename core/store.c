// SPDX-License-Identifier: GPL-2.0-or-later
#include <aurora/log.h>
#include <aurora/store.h>
#include <aurora/util.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>

void aur_store_key(const char *const *inputs, size_t n, char key[65])
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	unsigned char d[32] = {0};

	if (md && EVP_DigestInit_ex(md, EVP_sha256(), NULL)) {
		for (size_t i = 0; i < n; i++) {
			uint64_t len = strlen(inputs[i]);

			/* the length first: ("ab","c") differs from ("a","bc")
			 */
			EVP_DigestUpdate(md, &len, sizeof(len));
			EVP_DigestUpdate(md, inputs[i], len);
		}
		EVP_DigestFinal_ex(md, d, NULL);
	}
	EVP_MD_CTX_free(md);
	aur_sha256_hex(d, key);
}

static int lock_file(int fd, short type)
{
	struct flock fl = {.l_type = type, .l_whence = SEEK_SET};

	while (fcntl(fd, type == F_UNLCK ? F_OFD_SETLK : F_OFD_SETLKW, &fl) < 0)
		if (errno != EINTR)
			return -errno;
	return 0;
}

/* An unnamed file in @dir (a crash leaves nothing behind), or a named
 * temporary where the filesystem has no O_TMPFILE (*@tmp set then). */
static int open_temp(const char *dir, const char *path, char **tmp)
{
	int fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0644);

	*tmp = NULL;
	if (fd >= 0 || (errno != EOPNOTSUPP && errno != EISDIR))
		return fd < 0 ? -errno : fd;
	*tmp = aur_printf("%s.tmp.%ld", path, (long)getpid());
	if (!*tmp)
		return -ENOMEM;
	fd = open(*tmp, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	return fd < 0 ? -errno : fd;
}

/* Give the finished file @fd its name @path. */
static int publish(int fd, const char *tmp, const char *path)
{
	char proc[64];

	if (tmp)
		return rename(tmp, path) < 0 ? -errno : 0;
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
	if (linkat(AT_FDCWD, proc, AT_FDCWD, path, AT_SYMLINK_FOLLOW) < 0)
		return -errno;
	return 0;
}

/* Build into a temporary file, fsync it, name it @path, fsync @dir. */
static int build_into(const char *dir, const char *path, const char *what,
		      aur_store_build_fn build, void *ctx)
{
	AUR_AUTOFREE char *tmp = NULL;
	int fd = open_temp(dir, path, &tmp), dfd, r;

	if (fd < 0) {
		aur_err("%s: cannot create a file in '%s': %s", what, dir,
			strerror(-fd));
		return fd;
	}
	r = build(ctx, fd);
	if (r == 0 && fsync(fd) < 0) {
		r = -errno;
		aur_err("%s: cannot write to '%s': %s", what, dir,
			strerror(-r));
	}
	if (r == 0) {
		r = publish(fd, tmp, path);
		if (r < 0)
			aur_err("%s: cannot name '%s': %s", what, path,
				strerror(-r));
	}
	close(fd);
	if (r < 0) {
		if (tmp)
			unlink(tmp);
		return r;
	}
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) {
		fsync(dfd);
		close(dfd);
	}
	return 0;
}

int aur_store_get(const char *state_dir, const char *key, const char *what,
		  aur_store_build_fn build, void *ctx,
		  struct aur_file_source *out)
{
	AUR_AUTOFREE char *dir = aur_printf("%s/store", state_dir);
	AUR_AUTOFREE char *path = aur_printf("%s/store/%s", state_dir, key);
	AUR_AUTOFREE char *lock =
		aur_printf("%s/store/%s.lock", state_dir, key);
	int lfd, r;

	if (!dir || !path || !lock)
		return -ENOMEM;
	if (aur_file_source_open(out, path) == 0)
		return 0;
	r = aur_mkdir_p(dir, 0755);
	if (r < 0) {
		aur_err("%s: cannot create '%s': %s", what, dir, strerror(-r));
		return r;
	}
	lfd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (lfd < 0) {
		r = -errno;
		aur_err("%s: cannot open '%s': %s", what, lock, strerror(-r));
		return r;
	}
	r = lock_file(lfd, F_WRLCK);
	if (r == 0) {
		/* another builder may have finished while we waited */
		if (aur_file_source_open(out, path) != 0) {
			r = build_into(dir, path, what, build, ctx);
			if (r == 0)
				r = aur_file_source_open(out, path);
		}
		lock_file(lfd, F_UNLCK);
	}
	close(lfd);
	return r;
}
