// SPDX-License-Identifier: GPL-2.0-or-later
/* Directory records, names, order and path tables on a tree built in
 * memory; whole images are checked by the fs suite with xorriso. */
#include "test_helpers.h"

#include <aurora/iso9660.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static struct aur_iso_rec dot(uint8_t id, uint32_t extent)
{
	struct aur_iso_rec r;

	memset(&r, 0, sizeof(r));
	r.len = 34;
	r.raw[0] = 34;
	r.raw[25] = ISO_DIR_FLAG;
	r.raw[32] = 1;
	r.raw[33] = id;
	iso_rec_set_extent(&r, extent, ISO_BLOCK);
	return r;
}

static void tree_init(struct aur_iso_tree *t, bool joliet, bool long_names)
{
	memset(t, 0, sizeof(*t));
	t->joliet = joliet;
	t->long_names = long_names;
	t->root = calloc(1, sizeof(*t->root));
	t->root->recs = calloc(2, sizeof(*t->root->recs));
	t->root->cap = t->root->n = 2;
	t->root->recs[0] = dot(0, 20);
	t->root->recs[1] = dot(1, 20);
	t->root->extent = t->root->new_extent = 20;
	t->root->size = t->root->new_size = ISO_BLOCK;
}

static const char *id_of(const struct aur_iso_rec *r, char *buf)
{
	memcpy(buf, r->raw + 33, r->raw[32]);
	buf[r->raw[32]] = '\0';
	return buf;
}

static void short_names_and_order(void **state)
{
	struct aur_iso_tree t;
	struct aur_iso_rec *r;
	char id[64];

	tree_init(&t, false, false);
	assert_int_equal(aur_iso_dir_add(&t, t.root, "config.yaml", false,
					 S_IFREG | 0644, 0, NULL, &r),
			 0);
	assert_string_equal(id_of(r, id), "CONFIG.YAM;1");
	assert_int_equal(aur_iso_dir_add(&t, t.root, "a-b c.txt", false,
					 S_IFREG | 0644, 0, NULL, NULL),
			 0);
	assert_int_equal(aur_iso_dir_add(&t, t.root, "config.yamlx", false,
					 S_IFREG | 0644, 0, NULL, NULL),
			 0);
	/* same 8.3 name as config.yaml: made unique */
	assert_string_equal(id_of(&t.root->recs[2], id), "A_B_C.TXT;1");
	assert_string_equal(id_of(&t.root->recs[3], id), "CONFIG.YAM;1");
	assert_string_equal(id_of(&t.root->recs[4], id), "CONFIG_1.YAM;1");
	assert_true(t.root->modified);
	/* found by the name readers see */
	assert_ptr_equal(aur_iso_dir_find(t.root, "config.yaml"),
			 &t.root->recs[3]);
	aur_iso_tree_release(&t);
}

static void long_and_joliet_names(void **state)
{
	struct aur_iso_tree t;
	struct aur_iso_rec *r;
	char id[64];
	char longname[300];

	tree_init(&t, false, true);
	assert_int_equal(aur_iso_dir_add(&t, t.root, "config.yaml", false,
					 S_IFREG | 0644, 0, NULL, &r),
			 0);
	assert_string_equal(id_of(r, id), "CONFIG.YAML;1");
	aur_iso_tree_release(&t);

	tree_init(&t, true, false);
	assert_int_equal(aur_iso_dir_add(&t, t.root, "Ünï.yaml", false,
					 S_IFREG | 0644, 0, NULL, &r),
			 0);
	assert_int_equal(r->raw[32], 16);
	assert_memory_equal(r->raw + 33, "\0\xdc\0n\0\xef\0.\0y\0a\0m\0l", 16);
	memset(longname, 'x', 100);
	longname[100] = '\0';
	assert_int_equal(aur_iso_dir_add(&t, t.root, longname, false,
					 S_IFREG | 0644, 0, NULL, NULL),
			 -ENAMETOOLONG);
	assert_int_equal(aur_iso_dir_add(&t, t.root, "bad\xff", false,
					 S_IFREG | 0644, 0, NULL, NULL),
			 -ENAMETOOLONG);
	aur_iso_tree_release(&t);
}

static void subdirectories_and_path_tables(void **state)
{
	struct aur_iso_tree t;
	struct aur_iso_dir *b, *a;
	uint8_t buf[ISO_BLOCK], pt[256];
	uint32_t size;

	tree_init(&t, false, true);
	b = aur_iso_dir_new(t.root);
	assert_int_equal(aur_iso_dir_add(&t, t.root, "bdir", true,
					 S_IFDIR | 0755, 0, b, NULL),
			 0);
	a = aur_iso_dir_new(t.root);
	assert_int_equal(aur_iso_dir_add(&t, t.root, "adir", true,
					 S_IFDIR | 0755, 0, a, NULL),
			 0);
	a->new_extent = 30;
	a->new_size = ISO_BLOCK;
	b->new_extent = 31;
	b->new_size = ISO_BLOCK;
	assert_true(a->created);
	assert_int_equal(aur_iso_dir_serialised_size(a), ISO_BLOCK);

	/* a directory's "." and ".." point at itself and its parent */
	aur_iso_dir_serialise(&t, a, buf);
	assert_int_equal(iso_le32(buf + 2), 30);
	assert_int_equal(iso_be32(buf + 6), 30);
	assert_int_equal(iso_le32(buf + 34 + 2), 20);
	aur_iso_dir_serialise(&t, t.root, buf);
	/* root: ., .., ADIR, BDIR */
	assert_int_equal(buf[34 + 34 + 32], 4);
	assert_memory_equal(buf + 34 + 34 + 33, "ADIR", 4);
	assert_int_equal(iso_le32(buf + 34 + 34 + 2), 30);

	size = aur_iso_path_table_prepare(&t);
	assert_int_equal(size, 10 + 12 + 12);
	aur_iso_path_table_write(&t, false, pt);
	assert_int_equal(pt[0], 1);
	assert_int_equal(iso_le32(pt + 2), 20);
	assert_int_equal(iso_le16(pt + 6), 1);
	assert_int_equal(pt[10], 4);
	assert_int_equal(iso_le32(pt + 12), 30);
	assert_memory_equal(pt + 18, "ADIR", 4);
	assert_memory_equal(pt + 30, "BDIR", 4);
	aur_iso_path_table_write(&t, true, pt);
	assert_int_equal(iso_be32(pt + 12), 30);
	aur_iso_tree_release(&t);
}

static void records_never_cross_blocks(void **state)
{
	struct aur_iso_tree t;
	char name[40];

	tree_init(&t, false, true);
	for (int i = 0; i < 60; i++) {
		snprintf(name, sizeof(name), "file-number-%02d.yaml", i);
		assert_int_equal(aur_iso_dir_add(&t, t.root, name, false,
						 S_IFREG | 0644, 0, NULL, NULL),
				 0);
	}
	/* 68 + 60 records of 54 bytes: 37 fit in the first block */
	assert_int_equal(aur_iso_dir_serialised_size(t.root), 2 * ISO_BLOCK);
	aur_iso_tree_release(&t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(short_names_and_order),
		cmocka_unit_test(long_and_joliet_names),
		cmocka_unit_test(subdirectories_and_path_tables),
		cmocka_unit_test(records_never_cross_blocks),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
