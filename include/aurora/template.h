/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * template.h - cloud-config templating with the --set values.
 *
 * Recognised actions are field lookups in either delimiter pair that
 * AuroraBoot has used: "[[ .a.b ]]" (the Kairos docs) and "[[[ .a.b ]]]"
 * (AuroraBoot since 2023), with Go's "-" trim markers ("[[- .a -]]"). The
 * value is the --set pair a.b. A missing key renders empty and is warned
 * about once, after rendering, with its first line and how many times it
 * was used. Anything else, "{{ ... }}" and YAML flow lists such as
 * "[[1, 2]]" included, is copied byte for byte, so a cloud-config without
 * actions comes out identical to its input. Rendering takes time linear in
 * the size of the input and output.
 */
#ifndef AURORA_TEMPLATE_H
#define AURORA_TEMPLATE_H

#include <stddef.h>

struct aur_kv;

/*
 * Render @in (@len bytes) into a malloc'd, NUL-terminated *@out (caller
 * frees). @data may be NULL (every key is then missing). @origin names the
 * input in warnings ("<origin>:<line>: template key '.a.b' is not set") and
 * must outlive @used. If @used (a map from aur_kv_new_map(), owned by the
 * caller) is not NULL, every key of @data that an action rendered is set in
 * it, with the line of its first use: the caller can tell which --set pairs
 * the template needed. Returns 0 or -ENOMEM (without logging; *@out is then
 * untouched and @used may hold some keys).
 */
int aur_template_render(const char *in, size_t len, const struct aur_kv *data,
			const char *origin, struct aur_kv *used, char **out,
			size_t *outlen);

#endif
