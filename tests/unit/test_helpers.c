// SPDX-License-Identifier: GPL-2.0-or-later
#include "test_helpers.h"

#include <aurora/log.h>
#include <aurora/util.h>

#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char *logbuf;
static size_t loglen;

static void sink(void *ctx, int level, const char *msg)
{
	size_t n = strlen(msg);
	char *p = realloc(logbuf, loglen + n + 2);

	if (!p)
		return;
	logbuf = p;
	memcpy(logbuf + loglen, msg, n);
	loglen += n;
	logbuf[loglen++] = '\n';
	logbuf[loglen] = '\0';
}

void capture_logs(void)
{
	release_logs();
	aur_log_set_level(LOG_DEBUG);
	aur_log_set_sink(sink, NULL);
}

const char *captured_logs(void)
{
	return logbuf ? logbuf : "";
}

void release_logs(void)
{
	aur_log_set_sink(NULL, NULL);
	aur_log_set_level(LOG_INFO);
	free(logbuf);
	logbuf = NULL;
	loglen = 0;
}

char *make_temp_dir(void)
{
	const char *tmp = getenv("TMPDIR");
	char *path = aur_printf("%s/aurorafs-unit.XXXXXX", tmp ? tmp : "/tmp");

	assert_non_null(path);
	assert_non_null(mkdtemp(path));
	return path;
}

static int rm_one(const char *path, const struct stat *st, int flag,
		  struct FTW *ftw)
{
	return remove(path);
}

void remove_tree(const char *path)
{
	nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

void write_file(const char *path, const void *buf, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);

	assert_true(fd >= 0);
	assert_int_equal(aur_pwrite_full(fd, buf, len, 0), 0);
	close(fd);
}
