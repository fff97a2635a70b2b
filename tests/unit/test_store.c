// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The store of built files: built once, kept by key, nothing left behind
 * by a failed build, one build for concurrent readers; and the jobs that
 * report progress.
 */
#include "test_helpers.h"

#include <aurora/job.h>
#include <aurora/store.h>
#include <aurora/util.h>

#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct counter {
	int builds;
	int fail;
	pthread_mutex_t lock;
};

static int build_hello(void *ctx, int fd)
{
	struct counter *c = ctx;

	pthread_mutex_lock(&c->lock);
	c->builds++;
	pthread_mutex_unlock(&c->lock);
	usleep(20000); /* let concurrent readers pile up */
	if (aur_pwrite_full(fd, "hello, store", 12, 0) < 0)
		return -EIO;
	return c->fail ? -ENOSPC : 0;
}

static int files_in(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int n = 0;

	if (!d)
		return 0;
	while ((de = readdir(d)))
		n += de->d_name[0] != '.';
	closedir(d);
	return n;
}

static void built_once_and_kept(void **state)
{
	char *dir = make_temp_dir();
	char *store = aur_printf("%s/store", dir);
	struct counter c = {0, 0, PTHREAD_MUTEX_INITIALIZER};
	struct aur_file_source fs;
	char key[65], buf[16];
	const char *in[] = {"squashfs v1", "sha256:abc"};

	aur_store_key(in, 2, key);
	assert_int_equal(aur_store_get(dir, key, "test", build_hello, &c, &fs),
			 0);
	assert_int_equal(fs.src.size, 12);
	assert_int_equal(aur_source_pread(&fs.src, buf, sizeof(buf), 0), 12);
	assert_memory_equal(buf, "hello, store", 12);
	aur_file_source_close(&fs);
	assert_int_equal(aur_store_get(dir, key, "test", build_hello, &c, &fs),
			 0);
	aur_file_source_close(&fs);
	assert_int_equal(c.builds, 1);
	/* the data and its lock file, no temporary */
	assert_int_equal(files_in(store), 2);
	remove_tree(dir);
	free(dir);
	free(store);
}

static void failed_build_leaves_nothing(void **state)
{
	char *dir = make_temp_dir();
	char *store = aur_printf("%s/store", dir);
	struct counter c = {0, 1, PTHREAD_MUTEX_INITIALIZER};
	struct aur_file_source fs;
	char key[65];
	const char *in[] = {"x"};

	capture_logs();
	aur_store_key(in, 1, key);
	assert_int_equal(aur_store_get(dir, key, "test", build_hello, &c, &fs),
			 -ENOSPC);
	assert_int_equal(files_in(store), 1); /* only the lock file */
	c.fail = 0;
	assert_int_equal(aur_store_get(dir, key, "test", build_hello, &c, &fs),
			 0);
	assert_int_equal(c.builds, 2);
	aur_file_source_close(&fs);
	release_logs();
	remove_tree(dir);
	free(dir);
	free(store);
}

struct reader {
	const char *dir;
	const char *key;
	struct counter *c;
	int r;
	uint64_t size;
};

static void *read_store(void *arg)
{
	struct reader *rd = arg;
	struct aur_file_source fs;

	rd->r = aur_store_get(rd->dir, rd->key, "test", build_hello, rd->c,
			      &fs);
	if (rd->r == 0) {
		rd->size = fs.src.size;
		aur_file_source_close(&fs);
	}
	return NULL;
}

static void concurrent_readers_share_one_build(void **state)
{
	char *dir = make_temp_dir();
	struct counter c = {0, 0, PTHREAD_MUTEX_INITIALIZER};
	struct reader rd[6];
	pthread_t t[6];
	char key[65];
	const char *in[] = {"concurrent"};

	aur_store_key(in, 1, key);
	for (int i = 0; i < 6; i++) {
		rd[i] = (struct reader){dir, key, &c, -1, 0};
		pthread_create(&t[i], NULL, read_store, &rd[i]);
	}
	for (int i = 0; i < 6; i++) {
		pthread_join(t[i], NULL);
		assert_int_equal(rd[i].r, 0);
		assert_int_equal(rd[i].size, 12);
	}
	assert_int_equal(c.builds, 1);
	remove_tree(dir);
	free(dir);
}

static void keys_name_their_inputs(void **state)
{
	char a[65], b[65], c[65];
	const char *x[] = {"ab", "c"}, *y[] = {"a", "bc"}, *z[] = {"ab", "c"};

	aur_store_key(x, 2, a);
	aur_store_key(y, 2, b);
	aur_store_key(z, 2, c);
	assert_string_not_equal(a, b);
	assert_string_equal(a, c);
	assert_int_equal(strlen(a), 64);
}

static void jobs_report_progress(void **state)
{
	struct aur_job *j, *k;
	char *text;
	size_t len;

	capture_logs();
	aur_job_reset();
	j = aur_job_start("pull 'demo'");
	k = aur_job_start("squashfs of 'demo'");
	aur_job_progress(j, "bytes", 50 << 20, 200 << 20);
	aur_job_progress(k, "files", 120, 7000);
	text = aur_job_report(&len);
	assert_non_null(strstr(text, "pull 'demo': running for"));
	assert_non_null(strstr(text, "25% of 200 MiB"));
	assert_non_null(strstr(text, "120 of 7000 files (1%)"));
	free(text);
	aur_job_end(j, 0);
	aur_job_end(k, -ENOSPC);
	text = aur_job_report(&len);
	assert_non_null(strstr(text, "pull 'demo': done in"));
	assert_non_null(strstr(text, "squashfs of 'demo': failed after"));
	assert_non_null(strstr(text, strerror(ENOSPC)));
	assert_int_equal(strlen(text), len);
	free(text);
	assert_non_null(strstr(captured_logs(), "squashfs of 'demo': failed"));
	/* jobs that ended are forgotten beyond a bound; running ones never */
	j = aur_job_start("long");
	for (int i = 0; i < 100; i++)
		aur_job_end(aur_job_start("short"), 0);
	text = aur_job_report(&len);
	assert_non_null(strstr(text, "long: running"));
	assert_true(len < 100 * 30);
	free(text);
	aur_job_end(j, 0);
	aur_job_reset();
	release_logs();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(built_once_and_kept),
		cmocka_unit_test(failed_build_leaves_nothing),
		cmocka_unit_test(concurrent_readers_share_one_build),
		cmocka_unit_test(keys_name_their_inputs),
		cmocka_unit_test(jobs_report_progress),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
