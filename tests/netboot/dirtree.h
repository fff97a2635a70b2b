/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * dirtree.h - a directory of the test machine as an aur_tree, for tests of
 * the network servers: every regular file below @dir at its relative path,
 * read through a file source (runs of the file's descriptor), plus any
 * extra files the test adds with aur_tree_add_file.
 */
#ifndef AURORAFS_TEST_DIRTREE_H
#define AURORAFS_TEST_DIRTREE_H

struct aur_tree;

/* NULL with errno on failure. Free with aur_tree_free. */
struct aur_tree *dirtree_new(const char *dir);

#endif
