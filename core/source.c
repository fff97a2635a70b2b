// SPDX-License-Identifier: GPL-2.0-or-later
#include <aurora/source.h>
#include <aurora/util.h>

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

ssize_t aur_source_pread(struct aur_source *src, void *buf, size_t n,
			 uint64_t off)
{
	size_t done = 0;

	if (off >= src->size)
		return 0;
	n = (size_t)AUR_MIN((uint64_t)n, src->size - off);
	while (done < n) {
		struct aur_run run;
		uint8_t *dst = (uint8_t *)buf + done;
		ssize_t got;
		int r = src->ops->get_run(src, off + done, n - done, &run);

		if (r < 0)
			return r;
		run.len = AUR_MIN(run.len, n - done);
		switch (run.kind) {
		case AUR_RUN_MEM:
			memcpy(dst, run.mem, run.len);
			break;
		case AUR_RUN_ZERO:
			memset(dst, 0, run.len);
			break;
		case AUR_RUN_FD:
			got = aur_pread_full(run.fd, dst, run.len, run.fd_off);
			if (got < 0)
				return got;
			if ((size_t)got != run.len)
				return -EIO; /* the file shrank under us */
			break;
		}
		done += run.len;
	}
	return (ssize_t)done;
}

enum aur_trust aur_source_trust(struct aur_source *src)
{
	return src->ops->trust ? src->ops->trust(src) : AUR_TRUST_VERIFIED;
}

int aur_source_settle(struct aur_source *src)
{
	return src->ops->settle ? src->ops->settle(src) : 0;
}

static int mem_get_run(struct aur_source *src, uint64_t off, size_t n,
		       struct aur_run *run)
{
	struct aur_mem_source *ms = (struct aur_mem_source *)src;

	run->kind = AUR_RUN_MEM;
	run->mem = ms->data + off;
	run->len = n;
	return 0;
}

static const struct aur_source_ops mem_ops = {.get_run = mem_get_run};

void aur_mem_source_init(struct aur_mem_source *ms, const void *data,
			 size_t len)
{
	ms->src.ops = &mem_ops;
	ms->src.size = len;
	ms->data = data;
}

static int file_get_run(struct aur_source *src, uint64_t off, size_t n,
			struct aur_run *run)
{
	struct aur_file_source *fs = (struct aur_file_source *)src;

	run->kind = AUR_RUN_FD;
	run->fd = fs->fd;
	run->fd_off = off;
	run->len = n;
	return 0;
}

static const struct aur_source_ops file_ops = {.get_run = file_get_run};

int aur_file_source_from_fd(struct aur_file_source *fs, int fd)
{
	struct stat st;

	if (fstat(fd, &st) < 0)
		return -errno;
	if (!S_ISREG(st.st_mode))
		return -EINVAL;
	fs->src.ops = &file_ops;
	fs->src.size = (uint64_t)st.st_size;
	fs->fd = fd;
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
