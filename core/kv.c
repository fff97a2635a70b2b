// SPDX-License-Identifier: GPL-2.0-or-later
#include <aurora/kv.h>
#include <aurora/log.h>
#include <aurora/util.h>

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
	if (!m || m->kind != AUR_KV_MAP)
		return NULL;
	/* keys are unique: the YAML loader refuses repeated ones and
	 * aur_kv_set() and aur_kv_merge() reuse the existing child */
	for (const struct aur_kv *c = m->child; c; c = c->next)
		if (strcmp(c->key, key) == 0)
			return c;
	return NULL;
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

	for (c = m->child; c && !found; c = c->next)
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

struct aur_kv *aur_kv_map_at(struct aur_kv *m, const char *key)
{
	return kv_slot(m, key, strlen(key), AUR_KV_MAP, m->origin, m->line);
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

static bool is_null_word(const char *s, size_t len)
{
	static const char *const nulls[] = {"", "~", "null", "Null", "NULL"};

	for (size_t i = 0; i < AUR_ARRAY_SIZE(nulls); i++)
		if (len == strlen(nulls[i]) && memcmp(s, nulls[i], len) == 0)
			return true;
	return false;
}

bool aur_kv_is_null(const struct aur_kv *kv)
{
	return kv->kind == AUR_KV_SCALAR && kv->plain &&
	       is_null_word(kv->value, strlen(kv->value));
}

/* ---- YAML loading (libyaml document API) ---- */

/* Aliases may add this many values to those written in the document: enough
 * for any real config, too few for an alias bomb to take the memory. */
#define ALIAS_VALUES_MAX 100000

struct yaml_load {
	yaml_document_t *doc;
	const char *origin;
	unsigned char *active; /* per node index: being built (an ancestor) */
	size_t budget; /* values the tree may still take */
	int key_line; /* of the top-level key being loaded */
	int err; /* a problem logged; loading goes on to find the others */
};

/* A mapping key as written, for the duplicate check. */
struct key_ref {
	const char *key;
	int line;
	size_t pos; /* in the mapping */
	int first_line; /* of an earlier pair with the same key, else 0 */
};

static int cmp_key_ref(const void *a, const void *b)
{
	const struct key_ref *x = a, *y = b;
	int c = strcmp(x->key, y->key);

	if (c)
		return c;
	return (x->pos > y->pos) - (x->pos < y->pos);
}

/* Log every key of @refs (@n of them, in document order) that an earlier
 * key repeats, in document order, as Go's yaml.v3 refuses them. Sorting a
 * copy keeps this O(n log n) for mappings of any size. */
static int check_duplicates(struct yaml_load *ld, struct key_ref *refs,
			    size_t n)
{
	struct key_ref *sorted;
	size_t first = 0;

	if (n < 2)
		return 0;
	sorted = malloc(n * sizeof(*sorted));
	if (!sorted)
		return -ENOMEM;
	memcpy(sorted, refs, n * sizeof(*sorted));
	qsort(sorted, n, sizeof(*sorted), cmp_key_ref);
	for (size_t i = 1; i < n; i++) {
		if (strcmp(sorted[i].key, sorted[first].key) != 0)
			first = i;
		else
			refs[sorted[i].pos].first_line = sorted[first].line;
	}
	free(sorted);
	for (size_t i = 0; i < n; i++) {
		if (!refs[i].first_line)
			continue;
		aur_err("%s:%d: mapping key '%s' already defined at line %d",
			ld->origin, refs[i].line, refs[i].key,
			refs[i].first_line);
		ld->err = -EINVAL;
	}
	return 0;
}

static int from_yaml(struct yaml_load *ld, int index, int depth,
		     struct aur_kv **out);

static int scalar_from_yaml(yaml_node_t *node, struct aur_kv *kv)
{
	kv->value = strndup((const char *)node->data.scalar.value,
			    node->data.scalar.length);
	kv->plain = node->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
	return kv->value ? 0 : -ENOMEM;
}

static int seq_from_yaml(struct yaml_load *ld, yaml_node_t *node, int depth,
			 struct aur_kv *kv)
{
	for (yaml_node_item_t *it = node->data.sequence.items.start;
	     it < node->data.sequence.items.top; it++) {
		struct aur_kv *c;
		int r = from_yaml(ld, *it, depth + 1, &c);

		if (r < 0)
			return r;
		kv_append(kv, c);
	}
	return 0;
}

/* Load pair @pr of a mapping into @kv; a key that is not a scalar is
 * logged and skipped. */
static int pair_from_yaml(struct yaml_load *ld, yaml_node_pair_t *pr, int depth,
			  struct aur_kv *kv, struct key_ref *ref)
{
	yaml_node_t *k = yaml_document_get_node(ld->doc, pr->key);
	struct aur_kv *c;
	int r;

	if (!k || k->type != YAML_SCALAR_NODE) {
		aur_err("%s:%d: mapping keys must be plain names", ld->origin,
			k ? (int)k->start_mark.line + 1 : kv->line);
		ld->err = -EINVAL;
		return 0;
	}
	if (depth == 0)
		ld->key_line = (int)k->start_mark.line + 1;
	r = from_yaml(ld, pr->value, depth + 1, &c);
	if (r < 0)
		return r;
	c->key = strndup((const char *)k->data.scalar.value,
			 k->data.scalar.length);
	if (!c->key) {
		aur_kv_free(c);
		return -ENOMEM;
	}
	kv_append(kv, c);
	ref->key = c->key;
	ref->line = (int)k->start_mark.line + 1;
	return 1;
}

static int map_from_yaml(struct yaml_load *ld, yaml_node_t *node, int depth,
			 struct aur_kv *kv)
{
	size_t pairs = (size_t)(node->data.mapping.pairs.top -
				node->data.mapping.pairs.start);
	struct key_ref *refs = calloc(pairs ? pairs : 1, sizeof(*refs));
	size_t n = 0;
	int r = 0;

	if (!refs)
		return -ENOMEM;
	for (size_t i = 0; i < pairs && r >= 0; i++) {
		refs[n].pos = n;
		r = pair_from_yaml(ld, node->data.mapping.pairs.start + i,
				   depth, kv, &refs[n]);
		n += r > 0;
	}
	if (r >= 0)
		r = check_duplicates(ld, refs, n);
	free(refs);
	return r;
}

/* Check that node @index may be loaded as a value @depth levels deep. */
static int may_load(struct yaml_load *ld, int index, int depth, int line)
{
	if (ld->active[index]) {
		aur_err("%s:%d: recursive alias: the value anchored here "
			"contains itself",
			ld->origin, line);
		return -EINVAL;
	}
	if (depth > AUR_KV_MAX_DEPTH) {
		aur_err("%s:%d: values nested more than %d levels deep",
			ld->origin, line, AUR_KV_MAX_DEPTH);
		return -EINVAL;
	}
	if (ld->budget == 0) {
		aur_err("%s:%d: aliases expand the config to more than %d "
			"values",
			ld->origin, ld->key_line, ALIAS_VALUES_MAX);
		return -EINVAL;
	}
	return 0;
}

/* Load node @index (an alias is a second reference to the same index). */
static int from_yaml(struct yaml_load *ld, int index, int depth,
		     struct aur_kv **out)
{
	yaml_node_t *node = yaml_document_get_node(ld->doc, index);
	enum aur_kv_kind kind;
	struct aur_kv *kv;
	int line, r;

	if (!node)
		return -EINVAL; /* libyaml gives only valid indices */
	line = (int)node->start_mark.line + 1;
	r = may_load(ld, index, depth, line);
	if (r < 0)
		return r;
	if (node->type == YAML_SCALAR_NODE) {
		kind = AUR_KV_SCALAR;
	} else if (node->type == YAML_SEQUENCE_NODE) {
		kind = AUR_KV_SEQ;
	} else if (node->type == YAML_MAPPING_NODE) {
		kind = AUR_KV_MAP;
	} else {
		aur_err("%s:%d: unsupported YAML node", ld->origin, line);
		return -EINVAL;
	}
	kv = kv_new(kind, ld->origin, line);
	if (!kv)
		return -ENOMEM;
	ld->budget--;
	ld->active[index] = 1;
	if (kind == AUR_KV_SCALAR)
		r = scalar_from_yaml(node, kv);
	else if (kind == AUR_KV_SEQ)
		r = seq_from_yaml(ld, node, depth, kv);
	else
		r = map_from_yaml(ld, node, depth, kv);
	ld->active[index] = 0;
	if (r < 0) {
		aur_kv_free(kv);
		return r;
	}
	*out = kv;
	return 0;
}

/* The plain scalar that is the root of "---" alone is null too. */
static bool is_null_node(const yaml_node_t *node)
{
	return node->type == YAML_SCALAR_NODE &&
	       node->data.scalar.style == YAML_PLAIN_SCALAR_STYLE &&
	       is_null_word((const char *)node->data.scalar.value,
			    node->data.scalar.length);
}

/* A parse failure: -ENOMEM, or a syntax error logged with its position. */
static int parse_error(const yaml_parser_t *parser, const char *origin)
{
	if (parser->error == YAML_MEMORY_ERROR)
		return -ENOMEM;
	aur_err("%s:%zu:%zu: invalid YAML: %s%s%s", origin,
		parser->problem_mark.line + 1, parser->problem_mark.column + 1,
		parser->problem ? parser->problem : "syntax error",
		parser->context ? " " : "",
		parser->context ? parser->context : "");
	return -EINVAL;
}

static int tree_from_yaml(yaml_document_t *doc, const char *origin,
			  struct aur_kv **out)
{
	size_t nodes = (size_t)(doc->nodes.top - doc->nodes.start);
	struct yaml_load ld = {
		.doc = doc,
		.origin = origin,
		.active = calloc(nodes + 1, 1),
		.budget = nodes + ALIAS_VALUES_MAX,
	};
	struct aur_kv *kv;
	int r;

	if (!ld.active)
		return -ENOMEM;
	r = from_yaml(&ld, 1, 0, &kv);
	free(ld.active);
	if (r == 0 && ld.err) {
		aur_kv_free(kv);
		r = ld.err;
	}
	if (r == 0)
		*out = kv;
	return r;
}

/* A config is one YAML document: refuse a second one, even empty. */
static int check_single_document(yaml_parser_t *parser, const char *origin)
{
	yaml_document_t doc;
	bool more;
	size_t line;

	if (!yaml_parser_load(parser, &doc))
		return parse_error(parser, origin);
	more = yaml_document_get_root_node(&doc) != NULL;
	line = doc.start_mark.line + 1;
	yaml_document_delete(&doc);
	if (!more)
		return 0;
	aur_err("%s:%zu: a second YAML document starts here (a config is one "
		"document)",
		origin, line);
	return -EINVAL;
}

int aur_kv_parse_yaml(const char *text, size_t len, const char *origin,
		      struct aur_kv **out)
{
	yaml_parser_t parser;
	yaml_document_t doc;
	yaml_node_t *root;
	struct aur_kv *kv = NULL;
	int r;

	if (!yaml_parser_initialize(&parser))
		return -ENOMEM;
	yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
	if (!yaml_parser_load(&parser, &doc)) {
		r = parse_error(&parser, origin);
		yaml_parser_delete(&parser);
		return r;
	}
	root = yaml_document_get_root_node(&doc);
	if (!root || is_null_node(root)) {
		kv = aur_kv_new_map(origin);
		r = kv ? 0 : -ENOMEM;
	} else if (root->type != YAML_MAPPING_NODE) {
		aur_err("%s:%zu: the config must be a mapping of keys to "
			"values",
			origin, root->start_mark.line + 1);
		r = -EINVAL;
	} else {
		r = tree_from_yaml(&doc, origin, &kv);
	}
	yaml_document_delete(&doc);
	if (r == 0)
		r = check_single_document(&parser, origin);
	yaml_parser_delete(&parser);
	if (r < 0) {
		aur_kv_free(kv);
		return r;
	}
	*out = kv;
	return 0;
}
