// SPDX-License-Identifier: GPL-2.0-or-later
#include <aurora/kv.h>
#include <aurora/log.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

static struct aur_kv *kv_new(enum aur_kv_kind kind, const char *origin,
			     int line)
{
	struct aur_kv *kv = calloc(1, sizeof(*kv));

	if (!kv)
		return NULL;
	kv->kind = kind;
	kv->origin = origin;
	kv->line = line;
	return kv;
}

struct aur_kv *aur_kv_new_map(const char *origin)
{
	return kv_new(AUR_KV_MAP, origin, 0);
}

static void kv_clear_children(struct aur_kv *kv)
{
	struct aur_kv *c = kv->child;

	while (c) {
		struct aur_kv *next = c->next;

		aur_kv_free(c);
		c = next;
	}
	kv->child = kv->last_child = NULL;
}

void aur_kv_free(struct aur_kv *kv)
{
	if (!kv)
		return;
	kv_clear_children(kv);
	free(kv->key);
	free(kv->value);
	free(kv);
}

static void kv_append(struct aur_kv *parent, struct aur_kv *child)
{
	if (parent->last_child)
		parent->last_child->next = child;
	else
		parent->child = child;
	parent->last_child = child;
}

const struct aur_kv *aur_kv_child(const struct aur_kv *m, const char *key)
{
	const struct aur_kv *found = NULL;

	if (!m || m->kind != AUR_KV_MAP)
		return NULL;
	/* YAML maps with a repeated key: the last one wins */
	for (const struct aur_kv *c = m->child; c; c = c->next)
		if (strcmp(c->key, key) == 0)
			found = c;
	return found;
}

const struct aur_kv *aur_kv_get(const struct aur_kv *root, const char *path)
{
	const struct aur_kv *n = root;
	const char *p = path;

	while (n && *p) {
		const char *dot = strchr(p, '.');
		size_t len = dot ? (size_t)(dot - p) : strlen(p);
		char key[256];

		if (len == 0 || len >= sizeof(key))
			return NULL;
		memcpy(key, p, len);
		key[len] = '\0';
		n = aur_kv_child(n, key);
		p += len + (dot ? 1 : 0);
	}
	return n;
}

/* Find or create the child @key of map @m, of kind @kind; a child of
 * another kind is replaced (the last write wins). */
static struct aur_kv *kv_slot(struct aur_kv *m, const char *key, size_t klen,
			      enum aur_kv_kind kind, const char *origin,
			      int line)
{
	struct aur_kv *c, *found = NULL;

	for (c = m->child; c; c = c->next)
		if (strlen(c->key) == klen && memcmp(c->key, key, klen) == 0)
			found = c;
	if (found) {
		if (found->kind != kind) {
			kv_clear_children(found);
			free(found->value);
			found->value = NULL;
			found->kind = kind;
		}
		found->origin = origin;
		found->line = line;
		return found;
	}
	c = kv_new(kind, origin, line);
	if (!c)
		return NULL;
	c->key = strndup(key, klen);
	if (!c->key) {
		free(c);
		return NULL;
	}
	kv_append(m, c);
	return c;
}

int aur_kv_set(struct aur_kv *root, const char *path, const char *value,
	       bool plain, const char *origin, int line)
{
	struct aur_kv *n = root;
	const char *p = path;

	for (;;) {
		const char *dot = strchr(p, '.');
		size_t len = dot ? (size_t)(dot - p) : strlen(p);

		if (len == 0)
			return -EINVAL;
		n = kv_slot(n, p, len, dot ? AUR_KV_MAP : AUR_KV_SCALAR, origin,
			    line);
		if (!n)
			return -ENOMEM;
		if (!dot)
			break;
		p = dot + 1;
	}
	free(n->value);
	n->value = strdup(value);
	if (!n->value)
		return -ENOMEM;
	n->plain = plain;
	return 0;
}

int aur_kv_merge(struct aur_kv *dst, const struct aur_kv *src)
{
	for (const struct aur_kv *c = src->child; c; c = c->next) {
		struct aur_kv *d = kv_slot(dst, c->key, strlen(c->key), c->kind,
					   c->origin, c->line);

		if (!d)
			return -ENOMEM;
		if (c->kind == AUR_KV_SCALAR) {
			free(d->value);
			d->value = strdup(c->value);
			if (!d->value)
				return -ENOMEM;
			d->plain = c->plain;
		} else if (c->kind == AUR_KV_MAP) {
			int r = aur_kv_merge(d, c);

			if (r < 0)
				return r;
		}
		/* sequences are not merged: no config key takes one */
	}
	return 0;
}

/* ---- YAML loading (libyaml document API) ---- */

static struct aur_kv *from_yaml(yaml_document_t *doc, yaml_node_t *node,
				const char *origin, int depth)
{
	struct aur_kv *kv;
	int line;

	if (!node || depth > 64)
		return NULL;
	line = (int)node->start_mark.line + 1;
	switch (node->type) {
	case YAML_SCALAR_NODE:
		kv = kv_new(AUR_KV_SCALAR, origin, line);
		if (!kv)
			return NULL;
		kv->value = strndup((const char *)node->data.scalar.value,
				    node->data.scalar.length);
		kv->plain = node->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
		if (!kv->value) {
			free(kv);
			return NULL;
		}
		return kv;
	case YAML_SEQUENCE_NODE:
		kv = kv_new(AUR_KV_SEQ, origin, line);
		if (!kv)
			return NULL;
		for (yaml_node_item_t *it = node->data.sequence.items.start;
		     it < node->data.sequence.items.top; it++) {
			struct aur_kv *c =
				from_yaml(doc, yaml_document_get_node(doc, *it),
					  origin, depth + 1);

			if (!c) {
				aur_kv_free(kv);
				return NULL;
			}
			kv_append(kv, c);
		}
		return kv;
	case YAML_MAPPING_NODE:
		kv = kv_new(AUR_KV_MAP, origin, line);
		if (!kv)
			return NULL;
		for (yaml_node_pair_t *pr = node->data.mapping.pairs.start;
		     pr < node->data.mapping.pairs.top; pr++) {
			yaml_node_t *k = yaml_document_get_node(doc, pr->key);
			struct aur_kv *c;

			if (!k || k->type != YAML_SCALAR_NODE) {
				aur_err("%s:%d: mapping keys must be plain "
					"names",
					origin,
					k ? (int)k->start_mark.line + 1 : line);
				aur_kv_free(kv);
				return NULL;
			}
			c = from_yaml(doc,
				      yaml_document_get_node(doc, pr->value),
				      origin, depth + 1);
			if (!c) {
				aur_kv_free(kv);
				return NULL;
			}
			c->key = strndup((const char *)k->data.scalar.value,
					 k->data.scalar.length);
			if (!c->key) {
				aur_kv_free(c);
				aur_kv_free(kv);
				return NULL;
			}
			kv_append(kv, c);
		}
		return kv;
	default:
		return NULL;
	}
}

int aur_kv_parse_yaml(const char *text, size_t len, const char *origin,
		      struct aur_kv **out)
{
	yaml_parser_t parser;
	yaml_document_t doc;
	yaml_node_t *root;
	struct aur_kv *kv;
	int r = 0;

	if (!yaml_parser_initialize(&parser))
		return -ENOMEM;
	yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
	if (!yaml_parser_load(&parser, &doc)) {
		aur_err("%s:%zu:%zu: invalid YAML: %s%s%s", origin,
			parser.problem_mark.line + 1,
			parser.problem_mark.column + 1,
			parser.problem ? parser.problem : "syntax error",
			parser.context ? " " : "",
			parser.context ? parser.context : "");
		yaml_parser_delete(&parser);
		return -EINVAL;
	}
	root = yaml_document_get_root_node(&doc);
	if (!root) {
		kv = aur_kv_new_map(origin);
	} else if (root->type != YAML_MAPPING_NODE) {
		aur_err("%s:%zu: the config must be a mapping of keys to "
			"values",
			origin, root->start_mark.line + 1);
		kv = NULL;
		r = -EINVAL;
	} else {
		kv = from_yaml(&doc, root, origin, 0);
		if (!kv)
			r = -EINVAL;
	}
	if (r == 0 && !kv)
		r = -ENOMEM;
	yaml_document_delete(&doc);
	yaml_parser_delete(&parser);
	if (r == 0)
		*out = kv;
	return r;
}
