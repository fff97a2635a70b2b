// SPDX-License-Identifier: GPL-2.0-or-later
#include <aurora/source.h>
#include <aurora/util.h>

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static ssize_t mem_pread(struct aur_source *src, void *buf, size_t n,
			 uint64_t off)
{
	struct aur_mem_source *ms = (struct aur_mem_source *)src;

	if (off >= ms->len)
		return 0;
	n = (size_t)AUR_MIN((uint64_t)n, ms->len - off);
	memcpy(buf, ms->data + off, n);
	return (ssize_t)n;
}

static const struct aur_source_ops mem_ops = {.pread = mem_pread};

void aur_mem_source_init(struct aur_mem_source *ms, const void *data,
			 size_t len)
{
	ms->src.ops = &mem_ops;
	ms->data = data;
	ms->len = len;
}

static ssize_t file_pread(struct aur_source *src, void *buf, size_t n,
			  uint64_t off)
{
	struct aur_file_source *fs = (struct aur_file_source *)src;

	return aur_pread_full(fs->fd, buf, n, off);
}

static int file_fd_range(struct aur_source *src, uint64_t off, size_t n,
			 int *fd, uint64_t *fd_off)
{
	struct aur_file_source *fs = (struct aur_file_source *)src;

	*fd = fs->fd;
	*fd_off = off;
	return 0;
}

static const struct aur_source_ops file_ops = {
	.pread = file_pread,
	.fd_range = file_fd_range,
};

int aur_file_source_from_fd(struct aur_file_source *fs, int fd)
{
	struct stat st;

	if (fstat(fd, &st) < 0)
		return -errno;
	if (!S_ISREG(st.st_mode))
		return -EINVAL;
	fs->src.ops = &file_ops;
	fs->fd = fd;
	fs->size = (uint64_t)st.st_size;
	return 0;
}

int aur_file_source_open(struct aur_file_source *fs, const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	int r;

	if (fd < 0)
		return -errno;
	r = aur_file_source_from_fd(fs, fd);
	if (r < 0)
		close(fd);
	return r;
}

void aur_file_source_close(struct aur_file_source *fs)
{
	if (fs->fd >= 0)
		close(fs->fd);
	fs->fd = -1;
}
