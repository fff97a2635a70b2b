// SPDX-License-Identifier: GPL-2.0-or-later
#include <aurora/log.h>
#include <aurora/rootfs.h>
#include <aurora/source.h>
#include <aurora/staging.h>
#include <aurora/util.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define COPY_STEP (4u << 20)

struct aur_staging {
	char *dir;
	char *what;
	time_t epoch;
	char epoch_env[48];
};

int aur_staging_open(const char *state_dir, const char *what, time_t epoch,
		     struct aur_staging **out)
{
	struct aur_staging *s = calloc(1, sizeof(*s));
	AUR_AUTOFREE char *tmp = aur_printf("%s/tmp", state_dir);
	int r;

	if (!s || !tmp)
		goto nomem;
	s->dir = aur_printf("%s/tmp/work.XXXXXX", state_dir);
	s->what = strdup(what);
	if (!s->dir || !s->what)
		goto nomem;
	s->epoch = epoch;
	snprintf(s->epoch_env, sizeof(s->epoch_env), "SOURCE_DATE_EPOCH=%lld",
		 (long long)epoch);
	r = aur_mkdir_p(tmp, 0700);
	if (r == 0 && !mkdtemp(s->dir))
		r = -errno;
	if (r < 0) {
		aur_err("%s: cannot make a work directory in '%s': %s", what,
			tmp, strerror(-r));
		free(s->dir);
		s->dir = NULL;
		aur_staging_close(s);
		return r;
	}
	*out = s;
	return 0;
nomem:
	aur_staging_close(s);
	return -ENOMEM;
}

static int remove_entry(const char *path, const struct stat *st, int flag,
			struct FTW *ftw)
{
	return remove(path) < 0 ? -1 : 0;
}

void aur_staging_close(struct aur_staging *s)
{
	if (!s)
		return;
	if (s->dir)
		nftw(s->dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
	free(s->dir);
	free(s->what);
	free(s);
}

static time_t settle_epoch;

static int settle_entry(const char *path, const struct stat *st, int flag,
			struct FTW *ftw)
{
	struct timespec times[2] = {{settle_epoch, 0}, {settle_epoch, 0}};

	return utimensat(AT_FDCWD, path, times, AT_SYMLINK_NOFOLLOW) < 0 ? -1
									 : 0;
}

int aur_staging_settle(struct aur_staging *s, const char *rel)
{
	static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
	AUR_AUTOFREE char *path = aur_staging_path(s, rel);
	int r;

	if (!path)
		return -ENOMEM;
	/* nftw has no context pointer: one settle at a time */
	pthread_mutex_lock(&lock);
	settle_epoch = s->epoch;
	r = nftw(path, settle_entry, 16, FTW_PHYS) < 0 ? -errno : 0;
	pthread_mutex_unlock(&lock);
	if (r < 0)
		aur_err("%s: cannot set the times in '%s': %s", s->what, path,
			strerror(-r));
	return r;
}

char *aur_staging_path(const struct aur_staging *s, const char *rel)
{
	return aur_printf("%s/%s", s->dir, rel);
}

const char *aur_staging_epoch_env(const struct aur_staging *s)
{
	return s->epoch_env;
}

static int copy_node(int fd, const struct aur_fnode *node)
{
	AUR_AUTOFREE uint8_t *buf = malloc(COPY_STEP);
	int r = 0;

	if (!buf)
		return -ENOMEM;
	for (uint64_t off = 0; r == 0 && off < node->size;) {
		size_t k =
			(size_t)AUR_MIN((uint64_t)COPY_STEP, node->size - off);
		ssize_t got =
			aur_source_pread(node->src, buf, k, node->off + off);

		if (got != (ssize_t)k)
			r = got < 0 ? (int)got : -EIO;
		else
			r = aur_pwrite_full(fd, buf, k, off);
		off += k;
	}
	return r;
}

int aur_staging_put(struct aur_staging *s, const char *rel, const void *data,
		    size_t len, const struct aur_fnode *node)
{
	AUR_AUTOFREE char *path = aur_staging_path(s, rel);
	AUR_AUTOFREE char *dir = NULL;
	struct timespec times[2] = {{s->epoch, 0}, {s->epoch, 0}};
	int fd, r;

	if (!path || !(dir = strdup(path)))
		return -ENOMEM;
	*strrchr(dir, '/') = '\0';
	r = aur_mkdir_p(dir, 0755);
	if (r < 0)
		goto out;
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		r = -errno;
		goto out;
	}
	r = data ? aur_pwrite_full(fd, data, len, 0) : copy_node(fd, node);
	if (r == 0 && futimens(fd, times) < 0)
		r = -errno;
	if (close(fd) < 0 && r == 0)
		r = -errno;
out:
	if (r < 0)
		aur_err("%s: cannot write '%s': %s", s->what, rel,
			strerror(-r));
	return r;
}
