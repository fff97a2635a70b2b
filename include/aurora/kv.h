/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * kv.h - a small tree of named values that remembers where each value came
 * from (file:line or "--set"). It is the common form of the YAML config
 * file and of the --set pairs: both are loaded into a tree, the pairs are
 * merged over the file, and the result is bound to struct aur_config. The
 * --set tree is also the data of cloud-config templates.
 *
 * A node is a map (ordered children), a sequence (ordered children without
 * keys) or a scalar (text). Trees own all their strings and nodes.
 */
#ifndef AURORA_KV_H
#define AURORA_KV_H

#include <stdbool.h>
#include <stddef.h>

enum aur_kv_kind { AUR_KV_MAP, AUR_KV_SEQ, AUR_KV_SCALAR };

struct aur_kv {
	enum aur_kv_kind kind;
	char *key; /* NULL for the root and sequence items */
	char *value; /* scalars only */
	bool plain; /* scalar written without quotes (true/1 are typed) */
	const char *origin; /* borrowed: file name, URL or "--set" */
	int line; /* 1-based, 0 if unknown */
	struct aur_kv *child, *last_child, *next;
};

/* An empty map. NULL on ENOMEM. */
struct aur_kv *aur_kv_new_map(const char *origin);
void aur_kv_free(struct aur_kv *kv);

/* Values nested deeper than this are refused (a config needs two). */
#define AUR_KV_MAX_DEPTH 64

/*
 * Parse a YAML document whose top level is a mapping into a new tree
 * *@out (caller frees). @origin names the source in messages and must
 * outlive the tree. An empty or null document gives an empty map. Aliases are
 * expanded (each use is a copy), up to 100000 values more than the document
 * holds.
 *
 * Returns -ENOMEM without logging when memory runs out, or logs
 * "<origin>:<line>: <problem>" and returns -EINVAL for: a syntax error
 * (with the column), a top level that is not a mapping, a mapping key that
 * is not a scalar, a key repeated in one mapping (at any level, like Go's
 * yaml.v3: "mapping key 'x' already defined at line N"), a second document
 * (even an empty one after "---"), values nested more than
 * AUR_KV_MAX_DEPTH levels deep, a recursive alias, or aliases that expand
 * beyond the bound. Repeated and non-scalar keys are all reported before
 * returning. *@out is set only on success.
 */
int aur_kv_parse_yaml(const char *text, size_t len, const char *origin,
		      struct aur_kv **out);

/* Set the scalar at dotted @path ("iso.override_name"), creating maps on
 * the way and replacing whatever was there (the last write wins). Returns
 * -EINVAL for an empty path component and -ENOMEM, without logging; the
 * tree stays valid (maybe with some of the path created) either way. */
int aur_kv_set(struct aur_kv *root, const char *path, const char *value,
	       bool plain, const char *origin, int line);

/* The child map @key of map @m, made (or made a map, replacing a value of
 * another kind) if needed. NULL on ENOMEM. */
struct aur_kv *aur_kv_map_at(struct aur_kv *m, const char *key);

/* The node at dotted @path, or NULL. */
const struct aur_kv *aur_kv_get(const struct aur_kv *root, const char *path);

/* The direct child of map @m named @key, or NULL. */
const struct aur_kv *aur_kv_child(const struct aur_kv *m, const char *key);

/* true if @kv is YAML's null: a plain (unquoted) scalar that is empty, ~,
 * null, Null or NULL. */
bool aur_kv_is_null(const struct aur_kv *kv);

/* Copy every scalar of @src over @dst (maps merge recursively). Returns 0
 * or -ENOMEM (without logging; @dst is then partly merged but valid). */
int aur_kv_merge(struct aur_kv *dst, const struct aur_kv *src);

#endif
