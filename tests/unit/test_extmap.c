// SPDX-License-Identifier: GPL-2.0-or-later
#include "test_helpers.h"

#include <aurora/extmap.h>
#include <aurora/source.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* a source whose byte i is (i * 7) & 0xff, given in runs of at most 256
 * bytes (so that walks loop within an extent), that can be made to fail */
struct pattern_source {
	struct aur_source src;
	int fail;
};

static uint8_t pattern[512];

static int pattern_get_run(struct aur_source *s, uint64_t off, size_t n,
			   struct aur_run *run)
{
	struct pattern_source *p = (struct pattern_source *)s;

	if (p->fail)
		return -EIO;
	for (size_t i = 0; i < sizeof(pattern); i++)
		pattern[i] = (uint8_t)(i * 7);
	run->kind = AUR_RUN_MEM;
	run->mem = pattern + off % 256;
	run->len = n < 256 ? n : 256;
	return 0;
}

static const struct aur_source_ops pattern_ops = {.get_run = pattern_get_run};

static void reads_cross_extents(void **state)
{
	struct pattern_source ps = {{&pattern_ops, 1 << 20}, 0};
	static const char hello[] = "hello";
	struct aur_extmap m;
	uint8_t buf[64];

	aur_extmap_init(&m);
	assert_int_equal(aur_extmap_add_mem(&m, "hello", hello, 5), 0);
	assert_int_equal(aur_extmap_add_zero(&m, "pad", 3), 0);
	assert_int_equal(aur_extmap_add_zero(&m, "pad2", 2), 0);
	assert_int_equal(aur_extmap_add_source(&m, "src", &ps.src, 100, 10), 0);
	assert_int_equal(aur_extmap_add_source(&m, "src", &ps.src, 110, 10), 0);
	assert_int_equal(aur_extmap_add_mem(&m, "empty", hello, 0), 0);
	aur_extmap_check(&m);
	/* zero runs and contiguous source ranges merge */
	assert_int_equal(m.n, 3);
	assert_int_equal(m.size, 30);
	assert_int_equal(aur_extmap_find(&m, 0), 0);
	assert_int_equal(aur_extmap_find(&m, 9), 1);
	assert_int_equal(aur_extmap_find(&m, 10), 2);
	assert_int_equal(aur_extmap_find(&m, 29), 2);

	memset(buf, 0xaa, sizeof(buf));
	assert_int_equal(aur_extmap_pread(&m, buf, sizeof(buf), 3), 27);
	assert_memory_equal(buf, "lo\0\0\0\0\0", 7);
	for (int i = 0; i < 20; i++)
		assert_int_equal(buf[7 + i], (uint8_t)((100 + i) * 7));
	assert_int_equal(aur_extmap_pread(&m, buf, 4, 30), 0);

	ps.fail = 1;
	assert_int_equal(aur_extmap_pread(&m, buf, 4, 8), -EIO);
	assert_int_equal(aur_extmap_pread(&m, buf, 4, 0), 4);
	aur_extmap_release(&m);
}

struct run_log {
	int n, mem, zero, fd;
	size_t bytes;
};

static int log_run(void *ctx, const struct aur_run *run)
{
	struct run_log *l = ctx;

	l->n++;
	l->bytes += run->len;
	l->mem += run->kind == AUR_RUN_MEM;
	l->zero += run->kind == AUR_RUN_ZERO;
	l->fd += run->kind == AUR_RUN_FD;
	return 0;
}

static void walks_give_runs(void **state)
{
	struct pattern_source ps = {{&pattern_ops, 1 << 20}, 0};
	char path[] = "/tmp/test_extmap.XXXXXX";
	int fd = mkstemp(path);
	struct aur_file_source fs;
	struct aur_extmap m, outer;
	struct aur_extmap_source view;
	struct run_log l = {0};
	uint8_t buf[2000], want[2000];

	assert_true(fd >= 0);
	for (int i = 0; i < 1000; i++)
		want[i] = (uint8_t)(i ^ 0x5a);
	assert_int_equal(write(fd, want, 1000), 1000);
	unlink(path);
	assert_int_equal(aur_file_source_from_fd(&fs, fd), 0);
	assert_int_equal(fs.src.size, 1000);

	aur_extmap_init(&m);
	assert_int_equal(aur_extmap_add_source(&m, "file", &fs.src, 0, 1000),
			 0);
	assert_int_equal(aur_extmap_add_zero(&m, "zero", 100), 0);
	assert_int_equal(aur_extmap_add_source(&m, "pattern", &ps.src, 0, 600),
			 0);
	/* outside its source: refused, not a read past the end later */
	assert_int_equal(aur_extmap_add_source(&m, "bad", &fs.src, 900, 101),
			 -EINVAL);
	aur_extmap_check(&m);
	assert_int_equal(aur_extmap_walk(&m, 0, 1700, log_run, &l), 0);
	assert_int_equal(l.bytes, 1700);
	assert_int_equal(l.fd, 1);
	assert_int_equal(l.zero, 1);
	assert_int_equal(l.mem, 3); /* 600 bytes in runs of at most 256 */
	assert_int_equal(aur_extmap_trust(&m), AUR_TRUST_VERIFIED);

	/* a map read through another map */
	aur_extmap_source_init(&view, &m);
	aur_extmap_init(&outer);
	assert_int_equal(
		aur_extmap_add_source(&outer, "view", &view.src, 990, 700), 0);
	assert_int_equal(aur_extmap_pread(&outer, buf, sizeof(buf), 0), 700);
	assert_memory_equal(buf, want + 990, 10);
	for (int i = 0; i < 100; i++)
		assert_int_equal(buf[10 + i], 0);
	for (int i = 0; i < 590; i++)
		assert_int_equal(buf[110 + i], (uint8_t)(i * 7));
	ps.fail = 1;
	assert_int_equal(aur_extmap_pread(&outer, buf, 10, 200), -EIO);
	aur_extmap_release(&outer);
	aur_extmap_release(&m);
	aur_file_source_close(&fs);
}

static void many_extents_bsearch(void **state)
{
	static const uint8_t one = 1;
	struct aur_extmap m;

	aur_extmap_init(&m);
	for (int i = 0; i < 1000; i++) {
		assert_int_equal(aur_extmap_add_mem(&m, "x", &one, 1), 0);
		assert_int_equal(aur_extmap_add_zero(&m, "z", (uint64_t)i + 1),
				 0);
	}
	aur_extmap_check(&m);
	for (size_t i = 0; i < m.n; i++) {
		assert_int_equal(aur_extmap_find(&m, m.v[i].start), i);
		assert_int_equal(
			aur_extmap_find(&m, m.v[i].start + m.v[i].len - 1), i);
	}
	aur_extmap_release(&m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(reads_cross_extents),
		cmocka_unit_test(walks_give_runs),
		cmocka_unit_test(many_extents_bsearch),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
