// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The blob cache against file:// URLs: chunk bookkeeping, persistence,
 * verification. Network behaviour (ranges, redirects, resume after a
 * server dies) is covered by the fs suite against an HTTP server.
 */
#include "test_helpers.h"

#include <aurora/blob.h>
#include <aurora/fetch.h>
#include <aurora/util.h>

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define MIB (1u << 20)
#define FILE_SIZE (5 * MIB + 1234)

struct fixture {
	char *dir;
	char *state;
	char *asset;
	char *url;
	char *sum_url;
	uint8_t *bytes;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	unsigned char d[32];
	char hex[65], line[200];

	assert_non_null(f);
	f->dir = make_temp_dir();
	f->state = aur_printf("%s/state", f->dir);
	f->asset = aur_printf("%s/asset.iso", f->dir);
	f->url = aur_printf("file://%s", f->asset);
	f->sum_url = aur_printf("file://%s.sha256", f->asset);
	f->bytes = malloc(FILE_SIZE);
	for (size_t i = 0; i < FILE_SIZE; i++)
		f->bytes[i] = (uint8_t)(i * 131 + (i >> 20));
	write_file(f->asset, f->bytes, FILE_SIZE);
	aur_sha256(f->bytes, FILE_SIZE, d);
	aur_sha256_hex(d, hex);
	snprintf(line, sizeof(line), "%s  asset.iso\n", hex);
	{
		char *p = aur_printf("%s.sha256", f->asset);

		write_file(p, line, strlen(line));
		free(p);
	}
	capture_logs();
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	release_logs();
	remove_tree(f->dir);
	free(f->dir);
	free(f->state);
	free(f->asset);
	free(f->url);
	free(f->sum_url);
	free(f->bytes);
	free(f);
	return 0;
}

static void open_reads_size_without_fetching(void **state)
{
	struct fixture *f = *state;
	struct aur_blob_stats st;
	struct aur_blob *b;

	assert_int_equal(aur_blob_open(f->state, f->url, f->sum_url, &b), 0);
	assert_int_equal(aur_blob_size(b), FILE_SIZE);
	aur_blob_get_stats(b, &st);
	assert_int_equal(st.fetched_bytes, 0);
	assert_int_equal(st.chunks, 6);
	assert_int_equal(st.present_chunks, 0);
	aur_blob_close(b);
}

static void reads_fetch_only_what_they_touch(void **state)
{
	struct fixture *f = *state;
	struct aur_source *src;
	struct aur_blob_stats st;
	struct aur_blob *b;
	uint8_t buf[100];

	assert_int_equal(aur_blob_open(f->state, f->url, NULL, &b), 0);
	src = aur_blob_source(b);
	/* one read straddling chunks 2 and 3 */
	assert_int_equal(aur_source_pread(src, buf, sizeof(buf), 3 * MIB - 50),
			 100);
	assert_memory_equal(buf, f->bytes + 3 * MIB - 50, 100);
	aur_blob_get_stats(b, &st);
	assert_int_equal(st.present_chunks, 2);
	assert_int_equal(st.fetched_bytes, 2 * MIB);
	/* the short last chunk */
	assert_int_equal(
		aur_source_pread(src, buf, sizeof(buf), FILE_SIZE - 10), 10);
	assert_memory_equal(buf, f->bytes + FILE_SIZE - 10, 10);
	aur_blob_get_stats(b, &st);
	assert_int_equal(st.present_chunks, 3);
	assert_int_equal(st.fetched_bytes, 2 * MIB + 1234);
	assert_int_equal(aur_source_pread(src, buf, sizeof(buf), FILE_SIZE), 0);
	aur_blob_close(b);
}

struct reader {
	struct aur_source *src;
	const uint8_t *want;
	int ok;
};

static void *read_same_chunk(void *arg)
{
	struct reader *r = arg;
	uint8_t *buf = malloc(MIB);

	r->ok = buf && aur_source_pread(r->src, buf, MIB, MIB) == MIB &&
		memcmp(buf, r->want + MIB, MIB) == 0;
	free(buf);
	return NULL;
}

static void concurrent_readers_share_one_fetch(void **state)
{
	struct fixture *f = *state;
	struct aur_blob_stats st;
	struct reader r[8];
	pthread_t t[8];
	struct aur_blob *b;

	assert_int_equal(aur_blob_open(f->state, f->url, NULL, &b), 0);
	for (int i = 0; i < 8; i++) {
		r[i] = (struct reader){aur_blob_source(b), f->bytes, 0};
		assert_int_equal(
			pthread_create(&t[i], NULL, read_same_chunk, &r[i]), 0);
	}
	for (int i = 0; i < 8; i++) {
		pthread_join(t[i], NULL);
		assert_true(r[i].ok);
	}
	aur_blob_get_stats(b, &st);
	assert_int_equal(st.fetched_bytes, MIB);
	aur_blob_close(b);
}

static void chunks_survive_a_reopen(void **state)
{
	struct fixture *f = *state;
	struct aur_blob_stats st;
	struct aur_source *src;
	struct aur_blob *b;
	uint8_t buf[10];
	FILE *fp;
	int c, n = 0;

	assert_int_equal(aur_blob_open(f->state, f->url, NULL, &b), 0);
	src = aur_blob_source(b);
	assert_int_equal(aur_source_pread(src, buf, 10, 4 * MIB), 10);
	aur_blob_close(b);

	/* the map records chunk 4 only */
	{
		char *cmd = aur_printf("cat %s/blobs/*/map", f->state);

		fp = popen(cmd, "r");
		free(cmd);
	}
	assert_non_null(fp);
	while ((c = fgetc(fp)) != EOF) {
		assert_int_equal(c, n == 4 ? 1 : 0);
		n++;
	}
	pclose(fp);
	assert_int_equal(n, 6);

	/* the source disappears: cached chunks are still served */
	unlink(f->asset);
	assert_int_equal(aur_blob_open(f->state, f->url, NULL, &b), 0);
	src = aur_blob_source(b);
	assert_int_equal(aur_source_pread(src, buf, 10, 4 * MIB + 5), 10);
	assert_memory_equal(buf, f->bytes + 4 * MIB + 5, 10);
	aur_blob_get_stats(b, &st);
	assert_int_equal(st.fetched_bytes, 0);
	/* other chunks fail with EIO and the URL is named */
	assert_int_equal(aur_source_pread(src, buf, 10, 0), -EIO);
	assert_non_null(strstr(captured_logs(), f->url));
	aur_blob_close(b);
}

static void complete_data_is_verified(void **state)
{
	struct fixture *f = *state;
	struct aur_blob_stats st;
	unsigned char d[32], want[32];
	struct aur_blob *b;
	char *text;
	size_t len;

	assert_int_equal(aur_blob_open(f->state, f->url, f->sum_url, &b), 0);
	assert_true(aur_blob_published_digest(b, d));
	aur_sha256(f->bytes, FILE_SIZE, want);
	assert_memory_equal(d, want, 32);
	assert_int_equal(aur_source_trust(aur_blob_source(b)),
			 AUR_TRUST_PENDING);
	assert_int_equal(aur_blob_fetch_all(b), 0);
	aur_blob_get_stats(b, &st);
	assert_true(st.verified);
	assert_int_equal(aur_source_trust(aur_blob_source(b)),
			 AUR_TRUST_VERIFIED);
	aur_blob_close(b);

	{
		char *cmd = aur_printf("cat %s/blobs/*/meta", f->state);
		FILE *fp = popen(cmd, "r");

		free(cmd);
		assert_int_equal(aur_read_fd(fileno(fp), 4096, &text, &len), 0);
		pclose(fp);
	}
	assert_non_null(strstr(text, "verified 1"));
	free(text);

	/* a verified cache needs no server at all */
	unlink(f->asset);
	assert_int_equal(aur_blob_open(f->state, f->url, f->sum_url, &b), 0);
	aur_blob_get_stats(b, &st);
	assert_true(st.verified);
	assert_int_equal(aur_blob_fetch_all(b), 0);
	aur_blob_close(b);
}

/* Without a published checksum the data is final once complete, but
 * nothing vouches for it. */
static void unpublished_checksum_is_unverified(void **state)
{
	struct fixture *f = *state;
	struct aur_blob *b;
	char *sum = aur_printf("%s.sha256", f->asset);

	unlink(sum);
	free(sum);
	assert_int_equal(aur_blob_open(f->state, f->url, f->sum_url, &b), 0);
	assert_false(aur_blob_published_digest(b, (unsigned char[32]){0}));
	assert_int_equal(aur_source_trust(aur_blob_source(b)),
			 AUR_TRUST_PENDING);
	assert_int_equal(aur_blob_fetch_all(b), 0);
	assert_int_equal(aur_source_trust(aur_blob_source(b)),
			 AUR_TRUST_UNVERIFIED);
	aur_blob_close(b);
}

static void mismatch_discards_and_fails(void **state)
{
	struct fixture *f = *state;
	struct aur_blob_stats st;
	struct aur_source *src;
	struct aur_blob *b;
	uint8_t buf[16];
	char *sum = aur_printf("%s.sha256", f->asset);

	write_file(sum,
		   "0000000000000000000000000000000000000000000000000000"
		   "000000000000  asset.iso\n",
		   77);
	free(sum);
	assert_int_equal(aur_blob_open(f->state, f->url, f->sum_url, &b), 0);
	assert_int_equal(aur_blob_fetch_all(b), -EIO);
	assert_non_null(strstr(captured_logs(), "checksum mismatch"));
	aur_blob_get_stats(b, &st);
	assert_false(st.verified);
	assert_int_equal(st.present_chunks, 0);
	src = aur_blob_source(b);
	assert_int_equal(aur_source_pread(src, buf, sizeof(buf), 0), -EIO);
	aur_blob_close(b);
}

static void bad_checksum_file_is_an_error(void **state)
{
	struct fixture *f = *state;
	struct aur_blob *b = NULL;
	char *sum = aur_printf("%s.sha256", f->asset);

	write_file(sum, "<html>not a checksum</html>\n", 28);
	free(sum);
	assert_int_equal(aur_blob_open(f->state, f->url, f->sum_url, &b), -EIO);
	assert_non_null(
		strstr(captured_logs(), "does not start with a SHA-256"));
}

static void missing_asset_is_enoent(void **state)
{
	struct fixture *f = *state;
	struct aur_blob *b = NULL;
	char *url = aur_printf("file://%s/nope.iso", f->dir);

	assert_int_equal(aur_blob_open(f->state, url, NULL, &b), -ENOENT);
	assert_non_null(strstr(captured_logs(), url));
	free(url);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
			open_reads_size_without_fetching, setup, teardown),
		cmocka_unit_test_setup_teardown(
			reads_fetch_only_what_they_touch, setup, teardown),
		cmocka_unit_test_setup_teardown(
			concurrent_readers_share_one_fetch, setup, teardown),
		cmocka_unit_test_setup_teardown(chunks_survive_a_reopen, setup,
						teardown),
		cmocka_unit_test_setup_teardown(complete_data_is_verified,
						setup, teardown),
		cmocka_unit_test_setup_teardown(
			unpublished_checksum_is_unverified, setup, teardown),
		cmocka_unit_test_setup_teardown(mismatch_discards_and_fails,
						setup, teardown),
		cmocka_unit_test_setup_teardown(bad_checksum_file_is_an_error,
						setup, teardown),
		cmocka_unit_test_setup_teardown(missing_asset_is_enoent, setup,
						teardown),
	};
	int r;

	aur_fetch_global_init();
	r = cmocka_run_group_tests(tests, NULL, NULL);
	aur_fetch_global_cleanup();
	return r;
}
