// SPDX-License-Identifier: GPL-2.0-or-later
#include "test_helpers.h"

#include <aurora/extmap.h>
#include <aurora/source.h>

#include <errno.h>
#include <string.h>

/* a source whose byte i is (i * 7) & 0xff, that can be made to fail */
struct pattern_source {
	struct aur_source src;
	int fail;
};

static ssize_t pattern_pread(struct aur_source *s, void *buf, size_t n,
			     uint64_t off)
{
	struct pattern_source *p = (struct pattern_source *)s;

	if (p->fail)
		return -EIO;
	for (size_t i = 0; i < n; i++)
		((uint8_t *)buf)[i] = (uint8_t)((off + i) * 7);
	return (ssize_t)n;
}

static const struct aur_source_ops pattern_ops = {.pread = pattern_pread};

static void reads_cross_extents(void **state)
{
	struct pattern_source ps = {{&pattern_ops}, 0};
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
		cmocka_unit_test(many_extents_bsearch),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
