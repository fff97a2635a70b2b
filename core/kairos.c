// SPDX-License-Identifier: GPL-2.0-or-later
#include <aurora/kairos.h>
#include <aurora/rootfs.h>
#include <aurora/util.h>

#include <errno.h>
#include <string.h>

#define RELEASE_FILE_MAX (64u << 10)

/* Unquote @v (@n bytes) into a new string. */
static char *unquote(const char *v, size_t n)
{
	char *out = malloc(n + 1), *o = out;
	char q = 0;

	if (!out)
		return NULL;
	if (n >= 1 && (v[0] == '"' || v[0] == '\'')) {
		q = v[0];
		v++;
		n--;
		if (n > 0 && v[n - 1] == q)
			n--;
	}
	for (size_t i = 0; i < n; i++) {
		if (q == '"' && v[i] == '\\' && i + 1 < n)
			i++;
		*o++ = v[i];
	}
	*o = '\0';
	return out;
}

char *aur_os_release_get(const char *text, size_t len, const char *key)
{
	size_t klen = strlen(key);
	const char *p = text, *end = text + len;
	char *found = NULL;

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *eol = nl ? nl : end;
		const char *line = p;

		while (line < eol && (*line == ' ' || *line == '\t'))
			line++;
		if ((size_t)(eol - line) > klen && line[klen] == '=' &&
		    memcmp(line, key, klen) == 0) {
			const char *v = line + klen + 1;
			size_t vn = (size_t)(eol - v);

			while (vn > 0 &&
			       (v[vn - 1] == '\r' || v[vn - 1] == ' '))
				vn--;
			free(found); /* the last assignment wins */
			found = unquote(v, vn);
			if (!found)
				return NULL;
		}
		p = eol + 1;
	}
	if (!found)
		errno = ENOENT;
	return found;
}

static char *release_text(const struct aur_rootfs *fs, bool *kairos,
			  size_t *len)
{
	char *text = NULL;

	*kairos = true;
	if (aur_rootfs_read_file(fs, "/etc/kairos-release", RELEASE_FILE_MAX,
				 &text, len) == 0)
		return text;
	*kairos = false;
	if (aur_rootfs_read_file(fs, "/etc/os-release", RELEASE_FILE_MAX, &text,
				 len) == 0)
		return text;
	errno = ENOENT;
	return NULL;
}

static char *get(const char *text, size_t len, const char *key)
{
	AUR_AUTOFREE char *full = aur_printf("KAIROS_%s", key);

	return full ? aur_os_release_get(text, len, full) : NULL;
}

char *aur_kairos_release_get(const struct aur_rootfs *fs, const char *key)
{
	bool kairos;
	size_t len;
	AUR_AUTOFREE char *text = release_text(fs, &kairos, &len);

	return text ? get(text, len, key) : NULL;
}

/* An absent key reads as "", as AuroraBoot reads it. */
static char *get_or_empty(const char *text, size_t len, const char *key)
{
	char *v = get(text, len, key);

	return v ? v : (errno == ENOMEM ? NULL : strdup(""));
}

char *aur_kairos_name(const struct aur_rootfs *fs)
{
	static const char *const keys[] = {"FLAVOR",  "FLAVOR_RELEASE",
					   "VARIANT", "ARCH",
					   "MODEL",   "VERSION"};
	char *v[AUR_ARRAY_SIZE(keys)] = {0}, *name = NULL;
	AUR_AUTOFREE char *text = NULL;
	AUR_AUTOFREE char *prefix = NULL;
	AUR_AUTOFREE char *software = NULL;
	bool kairos;
	size_t len;

	text = release_text(fs, &kairos, &len);
	if (!text)
		return NULL;
	if (!kairos) {
		AUR_AUTOFREE char *flavor = get_or_empty(text, len, "FLAVOR");
		AUR_AUTOFREE char *label =
			get_or_empty(text, len, "IMAGE_LABEL");

		return flavor && label ? aur_printf("%s-%s", flavor, label)
				       : NULL;
	}
	for (size_t i = 0; i < AUR_ARRAY_SIZE(keys); i++)
		if (!(v[i] = get_or_empty(text, len, keys[i])))
			goto out;
	if (!*v[3]) {
		free(v[3]);
		if (!(v[3] = get_or_empty(text, len, "TARGETARCH")))
			goto out;
	}
	if (strcmp(v[2], "standard") == 0) {
		prefix = get(text, len, "SOFTWARE_VERSION_PREFIX");
		software = prefix ? get(text, len, "SOFTWARE_VERSION") : NULL;
	}
	if (prefix && software)
		name = aur_printf("%s-%s-%s-%s-%s-%s-%s%s", v[0], v[1], v[2],
				  v[3], v[4], v[5], prefix, software);
	else
		name = aur_printf("%s-%s-%s-%s-%s-%s", v[0], v[1], v[2], v[3],
				  v[4], v[5]);
out:
	for (size_t i = 0; i < AUR_ARRAY_SIZE(keys); i++)
		free(v[i]);
	return name;
}
