// SPDX-License-Identifier: GPL-2.0-or-later
/* Directory records, names, order, links, continuation areas and path
 * tables on a tree built in memory; whole edits are in test_isoedit.c and
 * whole images are checked by the fs suite with xorriso and isoinfo. */
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

/* A Joliet identifier as ASCII (every test name is). */
static const char *jid_of(const struct aur_iso_rec *r, char *buf)
{
	size_t n = r->raw[32] / 2;

	for (size_t i = 0; i < n; i++)
		buf[i] = (char)r->raw[33 + 2 * i + 1];
	buf[n] = '\0';
	return buf;
}

static int add_file(struct aur_iso_tree *t, struct aur_iso_dir *d,
		    const char *name, size_t tag)
{
	struct aur_iso_entry e = {name, S_IFREG | 0644, 0, NULL, tag};

	return aur_iso_dir_add(t, d, &e, NULL);
}

static struct aur_iso_dir *add_dir(struct aur_iso_tree *t,
				   struct aur_iso_dir *d, const char *name)
{
	struct aur_iso_entry e = {name, S_IFDIR | 0755, 0, NULL, 0};
	struct aur_iso_dir *sub = aur_iso_dir_new(t, d, &e);

	assert_non_null(sub);
	assert_int_equal(aur_iso_dir_add(t, d, &e, sub), 0);
	return sub;
}

/* Every identifier of @d differs for readers (no ";1", no trailing dot). */
static void assert_ids_unique(const struct aur_iso_dir *d, bool joliet)
{
	char a[300], b[300];

	for (size_t i = 2; i < d->n; i++)
		for (size_t j = i + 1; j < d->n; j++) {
			const char *x = joliet ? jid_of(&d->recs[i], a)
					       : id_of(&d->recs[i], a);
			const char *y = joliet ? jid_of(&d->recs[j], b)
					       : id_of(&d->recs[j], b);
			size_t xn = strcspn(x, ";"), yn = strcspn(y, ";");

			while (xn > 1 && x[xn - 1] == '.')
				xn--;
			while (yn > 1 && y[yn - 1] == '.')
				yn--;
			if (xn == yn && memcmp(x, y, xn) == 0)
				fail_msg("'%s' and '%s' look the same", x, y);
		}
}

static void short_names_and_order(void **state)
{
	struct aur_iso_tree t;
	char id[64];

	tree_init(&t, false, false);
	assert_int_equal(add_file(&t, t.root, "config.yaml", 1), 0);
	assert_int_equal(add_file(&t, t.root, "a-b c.txt", 2), 0);
	assert_int_equal(add_file(&t, t.root, "config.yamlx", 3), 0);
	/* same 8.3 name as config.yaml: made unique */
	assert_string_equal(id_of(&t.root->recs[2], id), "A_B_C.TXT;1");
	assert_string_equal(id_of(&t.root->recs[3], id), "CONFIG.YAM;1");
	assert_string_equal(id_of(&t.root->recs[4], id), "CONFIG_1.YAM;1");
	assert_true(t.root->modified);
	/* found by the name readers see; the record carries its tag */
	assert_int_equal(aur_iso_dir_find(t.root, "config.yaml"), 3);
	assert_int_equal(t.root->recs[3].add, 1);
	assert_int_equal(t.root->recs[4].add, 3);
	assert_int_equal(aur_iso_dir_find(t.root, "nope"), 0);
	aur_iso_tree_release(&t);
}

static void long_and_joliet_names(void **state)
{
	struct aur_iso_tree t;
	char id[300];
	char longname[300];
	size_t i;

	tree_init(&t, false, true);
	assert_int_equal(add_file(&t, t.root, "config.yaml", 0), 0);
	assert_string_equal(id_of(&t.root->recs[2], id), "CONFIG.YAML;1");
	aur_iso_tree_release(&t);

	tree_init(&t, true, false);
	assert_int_equal(add_file(&t, t.root, "Ünï.yaml", 0), 0);
	assert_int_equal(t.root->recs[2].raw[32], 16);
	assert_memory_equal(t.root->recs[2].raw + 33,
			    "\0\xdc\0n\0\xef\0.\0y\0a\0m\0l", 16);
	/* longer than 64 characters: cut, the extension kept */
	memset(longname, 'x', 100);
	memcpy(longname + 100, ".conf", 6);
	assert_int_equal(add_file(&t, t.root, longname, 0), 0);
	i = aur_iso_dir_find(t.root, longname);
	assert_int_equal(t.root->recs[i].raw[32], 128);
	assert_string_equal(jid_of(&t.root->recs[i], id) + 59, ".conf");
	/* a second one that is cut the same way gets a serial number */
	longname[99] = 'y';
	assert_int_equal(add_file(&t, t.root, longname, 0), 0);
	i = aur_iso_dir_find(t.root, longname);
	assert_int_equal(t.root->recs[i].raw[32], 128);
	assert_string_equal(jid_of(&t.root->recs[i], id) + 57, "_1.conf");
	/* not UTF-8, and characters Joliet forbids: '_' */
	assert_int_equal(add_file(&t, t.root, "bad\xff*:x", 0), 0);
	i = aur_iso_dir_find(t.root, "bad\xff*:x");
	assert_string_equal(jid_of(&t.root->recs[i], id), "bad___x");
	assert_ids_unique(t.root, true);
	aur_iso_tree_release(&t);
}

/* ECMA-119 9.3: name, then extension, each padded with spaces. Plain byte
 * order puts "ab-x.txt" first ('-' < '.'); 9.3 puts "ab.txt" first. */
static void joliet_order_is_ecma119(void **state)
{
	struct aur_iso_tree t;
	char id[300];

	tree_init(&t, true, false);
	assert_int_equal(add_file(&t, t.root, "ab-x.txt", 0), 0);
	assert_int_equal(add_file(&t, t.root, "ab.txt", 0), 0);
	assert_int_equal(add_file(&t, t.root, "ab", 0), 0);
	assert_int_equal(add_file(&t, t.root, "a b", 0), 0);
	assert_string_equal(jid_of(&t.root->recs[2], id), "a b");
	assert_string_equal(jid_of(&t.root->recs[3], id), "ab");
	assert_string_equal(jid_of(&t.root->recs[4], id), "ab.txt");
	assert_string_equal(jid_of(&t.root->recs[5], id), "ab-x.txt");
	aur_iso_tree_release(&t);
}

static void collisions(void **state)
{
	struct aur_iso_tree t;
	char name[64], id[300];

	/* a file without extension ("ABC.;1") and a directory "ABC" look
	 * the same to readers */
	tree_init(&t, false, false);
	assert_int_equal(add_file(&t, t.root, "abc", 0), 0);
	add_dir(&t, t.root, "ABC");
	assert_string_equal(id_of(&t.root->recs[2], id), "ABC.;1");
	assert_string_equal(id_of(&t.root->recs[3], id), "ABC_1");
	/* more than a thousand files with one 8.3 name */
	for (int i = 0; i < 1100; i++) {
		snprintf(name, sizeof(name), "file-number-%04d.yaml", i);
		assert_int_equal(add_file(&t, t.root, name, 0), 0);
	}
	assert_ids_unique(t.root, false);
	for (size_t i = 2; i < t.root->n; i++)
		assert_true(strcspn(id_of(&t.root->recs[i], id), ".;") <= 8);
	aur_iso_tree_release(&t);

	/* level 2 with a 29-character extension: still 30 characters */
	tree_init(&t, false, true);
	for (int i = 0; i < 3; i++) {
		snprintf(name, sizeof(name), "%c.%s", "aAa"[i],
			 "abcdefghijklmnopqrstuvwxyzabc");
		if (i == 2)
			name[0] = '_';
		assert_int_equal(add_file(&t, t.root, name, 0), 0);
	}
	for (size_t i = 2; i < t.root->n; i++)
		assert_true(strlen(id_of(&t.root->recs[i], id)) <= 30 + 2);
	assert_ids_unique(t.root, false);
	aur_iso_tree_release(&t);
}

/* Decode the SL entries of @r (in the record only) into @out. */
static void sl_decode(const struct aur_iso_rec *r, const uint8_t *ce,
		      size_t ce_len, char *out)
{
	const uint8_t *areas[2] = {r->raw, ce};
	size_t lens[2] = {r->len, ce_len};
	size_t o = 0;
	bool continued = false;

	out[0] = '\0';
	for (int a = 0; a < 2; a++) {
		size_t off = a == 0 ? 33 + r->raw[32] + !(r->raw[32] % 2) : 0;

		while (areas[a] && off + 4 <= lens[a]) {
			const uint8_t *e = areas[a] + off;

			if (e[0] == 'S' && e[1] == 'L') {
				for (size_t c = 5; c + 2 <= e[2];
				     c += 2 + e[c + 1]) {
					uint8_t f = e[c];

					if (o && !continued &&
					    out[o - 1] != '/')
						out[o++] = '/';
					if (f & 0x08)
						out[o++] = '/';
					else if (f & 0x02)
						out[o++] = '.';
					else if (f & 0x04)
						o += (size_t)snprintf(out + o,
								      3, "..");
					memcpy(out + o, e + c + 2, e[c + 1]);
					o += e[c + 1];
					continued = f & 0x01;
				}
			}
			off += e[2];
		}
	}
	out[o] = '\0';
}

static void links_and_continuation_areas(void **state)
{
	struct aur_iso_tree t;
	struct aur_iso_entry link = {"lnk", S_IFLNK | 0777, 0, "/etc/./../x",
				     7};
	char target[2100], got[2200], longname[256];
	uint8_t area[2 * ISO_BLOCK], buf[2 * ISO_BLOCK];
	size_t i;
	uint32_t blocks;

	tree_init(&t, false, true);
	/* no Rock Ridge: no links */
	assert_int_equal(aur_iso_dir_add(&t, t.root, &link, NULL), -EINVAL);
	assert_false(aur_iso_tree_has_symlinks(&t));
	t.rock_ridge = true;
	assert_true(aur_iso_tree_has_symlinks(&t));
	assert_int_equal(aur_iso_dir_add(&t, t.root, &link, NULL), 0);
	i = aur_iso_dir_find(t.root, "lnk");
	assert_int_equal(t.root->recs[i].add, 7);
	assert_null(t.root->recs[i].ce);
	sl_decode(&t.root->recs[i], NULL, 0, got);
	assert_string_equal(got, "/etc/./../x");

	/* a long target and a long name go to a continuation area */
	memset(target, 'a', sizeof(target));
	for (int k = 0; k < 1500; k += 100)
		target[k] = '/';
	target[1200] = 'b'; /* one component of 199 characters */
	target[1500] = '\0';
	memset(longname, 'n', 255);
	longname[255] = '\0';
	link.name = longname;
	link.link = target;
	assert_int_equal(aur_iso_dir_add(&t, t.root, &link, NULL), 0);
	i = aur_iso_dir_find(t.root, longname);
	assert_non_null(t.root->recs[i].ce);
	assert_true(t.root->recs[i].len <= 254);
	sl_decode(&t.root->recs[i], t.root->recs[i].ce, t.root->recs[i].ce_len,
		  got);
	assert_string_equal(got, target);
	/* a component longer than an SL entry continues in the next */
	target[0] = '/';
	memset(target + 1, 'q', 300);
	memcpy(target + 301, "/end", 5);
	link.name = "split";
	assert_int_equal(aur_iso_dir_add(&t, t.root, &link, NULL), 0);
	i = aur_iso_dir_find(t.root, "split");
	sl_decode(&t.root->recs[i], t.root->recs[i].ce, t.root->recs[i].ce_len,
		  got);
	assert_string_equal(got, target);
	/* too long for one continuation block */
	memset(target, 'c', 2050);
	target[2050] = '\0';
	link.name = "toolong";
	assert_int_equal(aur_iso_dir_add(&t, t.root, &link, NULL),
			 -ENAMETOOLONG);

	/* placed and written at a block; the CE entry says where */
	blocks = aur_iso_ce_layout(&t, 40);
	assert_int_equal(blocks, 2); /* no area crosses a block */
	aur_iso_dir_remove(t.root, aur_iso_dir_find(t.root, "split"));
	blocks = aur_iso_ce_layout(&t, 40);
	assert_int_equal(blocks, 1);
	i = aur_iso_dir_find(t.root, longname);
	assert_int_equal(t.root->recs[i].ce_block, 40);
	aur_iso_ce_write(&t, 40, area);
	assert_memory_equal(area + t.root->recs[i].ce_off, t.root->recs[i].ce,
			    t.root->recs[i].ce_len);
	aur_iso_dir_serialise(&t, t.root, buf);
	{
		const uint8_t *ce = memmem(buf, sizeof(buf), "CE\x1c\x01", 4);

		assert_non_null(ce);
		assert_int_equal(iso_le32(ce + 4), 40);
		assert_int_equal(iso_le32(ce + 12), t.root->recs[i].ce_off);
		assert_int_equal(iso_le32(ce + 20), t.root->recs[i].ce_len);
	}
	aur_iso_tree_release(&t);
}

static void replace_and_remove(void **state)
{
	struct aur_iso_tree t;
	struct aur_iso_entry link = {"f", S_IFLNK | 0777, 0, "target", 5};
	char id[64];
	size_t i;

	tree_init(&t, false, false);
	t.rock_ridge = true;
	assert_int_equal(add_file(&t, t.root, "f", 1), 0);
	assert_int_equal(add_file(&t, t.root, "g", 2), 0);
	t.root->modified = false;
	/* a file becomes a link: same identifier, new attributes and tag */
	i = aur_iso_dir_find(t.root, "f");
	assert_int_equal(aur_iso_dir_replace(&t, t.root, i, &link), 0);
	assert_true(t.root->modified);
	assert_int_equal(t.root->recs[i].add, 5);
	assert_string_equal(id_of(&t.root->recs[i], id), "F.;1");
	assert_string_equal(t.root->recs[i].name, "f");
	assert_non_null(
		memmem(t.root->recs[i].raw, t.root->recs[i].len, "SL", 2));
	/* and back to a file: the SL goes */
	assert_int_equal(add_file(&t, t.root, "h", 0), 0);
	{
		struct aur_iso_entry file = {"f", S_IFREG | 0600, 0, NULL, 9};

		i = aur_iso_dir_find(t.root, "f");
		assert_int_equal(aur_iso_dir_replace(&t, t.root, i, &file), 0);
		assert_null(memmem(t.root->recs[i].raw, t.root->recs[i].len,
				   "SL", 2));
		assert_int_equal(t.root->recs[i].add, 9);
	}
	aur_iso_dir_remove(t.root, aur_iso_dir_find(t.root, "g"));
	assert_int_equal(t.root->n, 4);
	assert_int_equal(aur_iso_dir_find(t.root, "g"), 0);
	assert_int_equal(aur_iso_dir_find(t.root, "h"), 3);
	aur_iso_tree_release(&t);
}

static void subdirectories_and_path_tables(void **state)
{
	struct aur_iso_tree t;
	struct aur_iso_dir *b, *a;
	uint8_t buf[ISO_BLOCK], pt[256];
	uint32_t size;

	tree_init(&t, false, true);
	b = add_dir(&t, t.root, "bdir");
	a = add_dir(&t, t.root, "adir");
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

	assert_int_equal(aur_iso_path_table_prepare(&t, &size), 0);
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

/* ECMA-119 6.9.1: by level, then parent number, then identifier - not
 * the order in which directories were made, and more than one block. */
static void path_table_order_and_size(void **state)
{
	struct aur_iso_tree t;
	struct aur_iso_dir *d[3];
	const char *top[3] = {"zz", "mm", "aa"};
	uint8_t *pt;
	uint32_t size;
	size_t pos = 0, count = 0;
	unsigned last_parent = 0;
	char last[64] = "", name[64];
	int last_level = 0;
	int level_of[1000] = {0};

	tree_init(&t, false, true);
	for (int i = 0; i < 3; i++)
		d[i] = add_dir(&t, t.root, top[i]);
	/* 3 x 100 subdirectories, made in reverse order */
	for (int i = 99; i >= 0; i--)
		for (int k = 0; k < 3; k++) {
			snprintf(name, sizeof(name), "sub-%s-%03d", top[k], i);
			add_dir(&t, d[k], name);
		}
	assert_int_equal(aur_iso_path_table_prepare(&t, &size), 0);
	assert_true(size > ISO_BLOCK);
	pt = calloc(1, size);
	aur_iso_path_table_write(&t, false, pt);
	level_of[1] = 1;
	while (pos < size) {
		unsigned parent = iso_le16(pt + pos + 6);
		size_t n = pt[pos];
		char id[64];

		count++;
		memcpy(id, pt + pos + 8, n);
		id[n] = '\0';
		assert_true(parent >= 1 && parent <= count);
		level_of[count] = count == 1 ? 1 : level_of[parent] + 1;
		assert_true(level_of[count] >= last_level);
		if (count > 1 && parent == last_parent)
			assert_true(strcmp(last, id) < 0);
		else
			assert_true(parent > last_parent || count == 1);
		last_level = level_of[count];
		last_parent = parent;
		snprintf(last, sizeof(last), "%s", id);
		pos += 8 + n + n % 2;
	}
	assert_int_equal(count, 1 + 3 + 300);
	free(pt);
	aur_iso_tree_release(&t);
}

/* Recording dates hold the years 1900 to 2155: others are clamped, not
 * wrapped around. */
static void dates_in_range(void **state)
{
	struct aur_iso_tree t;
	struct aur_iso_entry late = {"late", S_IFREG | 0644, 32503680000, NULL,
				     0}; /* 3000 */
	struct aur_iso_entry early = {"early", S_IFREG | 0644, -2300000000LL,
				      NULL, 0}; /* 1897 */
	struct aur_iso_entry now = {"now", S_IFREG | 0644, 1700000000, NULL, 0};

	tree_init(&t, false, false);
	assert_int_equal(aur_iso_dir_add(&t, t.root, &late, NULL), 0);
	assert_int_equal(aur_iso_dir_add(&t, t.root, &early, NULL), 0);
	assert_int_equal(aur_iso_dir_add(&t, t.root, &now, NULL), 0);
	assert_int_equal(t.root->recs[aur_iso_dir_find(t.root, "late")].raw[18],
			 255);
	assert_int_equal(
		t.root->recs[aur_iso_dir_find(t.root, "early")].raw[18], 0);
	assert_int_equal(t.root->recs[aur_iso_dir_find(t.root, "now")].raw[18],
			 123);
	aur_iso_tree_release(&t);
}

static void records_never_cross_blocks(void **state)
{
	struct aur_iso_tree t;
	char name[40];

	tree_init(&t, false, true);
	for (int i = 0; i < 60; i++) {
		snprintf(name, sizeof(name), "file-number-%02d.yaml", i);
		assert_int_equal(add_file(&t, t.root, name, 0), 0);
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
		cmocka_unit_test(joliet_order_is_ecma119),
		cmocka_unit_test(collisions),
		cmocka_unit_test(links_and_continuation_areas),
		cmocka_unit_test(replace_and_remove),
		cmocka_unit_test(subdirectories_and_path_tables),
		cmocka_unit_test(path_table_order_and_size),
		cmocka_unit_test(dates_in_range),
		cmocka_unit_test(records_never_cross_blocks),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
