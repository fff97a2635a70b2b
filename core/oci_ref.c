// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Image references as Docker (distribution/reference) reads them, and the
 * source prefixes of AuroraBoot's container_image:
 *
 *   reference := name [ ":" tag ] [ "@" digest ]
 *   name      := [ domain "/" ] component ( "/" component )*
 *   domain    := host [ ":" port ]   (host: DNS labels, IPv4, [IPv6])
 *   component := [a-z0-9]+ ( ( "." | "_" | "__" | "-"+ ) [a-z0-9]+ )*
 *   tag       := [A-Za-z0-9_] [A-Za-z0-9_.-]{0,127}
 *
 * The first component is a domain only if it has a "." or ":", is
 * "localhost", or has uppercase letters; otherwise the name is on Docker
 * Hub (docker.io), where a single component means "library/<name>".
 */
#include "oci_i.h"

#include <aurora/util.h>

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#define NAME_MAX_LEN 255
#define TAG_MAX_LEN 128

bool aur_oci_digest_valid(const char *d)
{
	if (!aur_startswith(d, "sha256:"))
		return false;
	d += 7;
	for (int i = 0; i < 64; i++)
		if (!isdigit((unsigned char)d[i]) &&
		    !(d[i] >= 'a' && d[i] <= 'f'))
			return false;
	return d[64] == '\0';
}

static bool is_lower_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

/* One path component of [s, end). */
static bool component_valid(const char *s, const char *end)
{
	if (s == end || !is_lower_alnum(*s) || !is_lower_alnum(end[-1]))
		return false;
	while (s < end) {
		const char *sep;

		while (s < end && is_lower_alnum(*s))
			s++;
		if (s == end)
			break;
		sep = s;
		while (s < end && !is_lower_alnum(*s))
			s++;
		/* ".", "_", "__" or a run of "-" */
		if (!((s - sep == 1 && (*sep == '.' || *sep == '_')) ||
		      (s - sep == 2 && sep[0] == '_' && sep[1] == '_') ||
		      strspn(sep, "-") >= (size_t)(s - sep)))
			return false;
	}
	return true;
}

static bool has_upper(const char *s, const char *end)
{
	for (; s < end; s++)
		if (isupper((unsigned char)*s))
			return true;
	return false;
}

static bool port_valid(const char *s, const char *end)
{
	if (s == end || end - s > 5)
		return false;
	for (; s < end; s++)
		if (!isdigit((unsigned char)*s))
			return false;
	return true;
}

/* host[:port], host being DNS labels, an IPv4 address or [IPv6]. */
static bool domain_valid(const char *s, const char *end)
{
	const char *host_end;

	if (s == end)
		return false;
	if (*s == '[') {
		const char *close = memchr(s, ']', (size_t)(end - s));

		if (!close || close - s < 3)
			return false;
		for (const char *p = s + 1; p < close; p++)
			if (!isxdigit((unsigned char)*p) && *p != ':' &&
			    *p != '.')
				return false;
		host_end = close + 1;
	} else {
		const char *label = s;

		host_end = s;
		while (host_end < end && *host_end != ':')
			host_end++;
		for (const char *p = s; p <= host_end; p++) {
			if (p < host_end && *p != '.') {
				if (!isalnum((unsigned char)*p) && *p != '-')
					return false;
				continue;
			}
			/* a label: alphanumeric at both ends */
			if (p == label || label[0] == '-' || p[-1] == '-')
				return false;
			label = p + 1;
		}
	}
	if (host_end == end)
		return true;
	return *host_end == ':' && port_valid(host_end + 1, end);
}

static bool tag_valid(const char *t)
{
	size_t n = strlen(t);

	if (n == 0 || n > TAG_MAX_LEN)
		return false;
	if (!isalnum((unsigned char)t[0]) && t[0] != '_')
		return false;
	for (size_t i = 1; i < n; i++)
		if (!isalnum((unsigned char)t[i]) && !strchr("_.-", t[i]))
			return false;
	return true;
}

/* Does the first component name a registry rather than a Hub user? */
static bool is_domain(const char *s, const char *end)
{
	return memchr(s, '.', (size_t)(end - s)) ||
	       memchr(s, ':', (size_t)(end - s)) ||
	       (end - s == 9 && memcmp(s, "localhost", 9) == 0) ||
	       has_upper(s, end);
}

static int bad(char err[AUR_OCI_ERRLEN], const char *s, const char *why)
{
	snprintf(err, AUR_OCI_ERRLEN, "invalid reference '%.200s': %s", s, why);
	return -EINVAL;
}

static int parse_path(const char *s, const char *p, const char *end,
		      char err[AUR_OCI_ERRLEN])
{
	for (const char *c = p; c <= end; c++) {
		const char *next = memchr(c, '/', (size_t)(end - c));

		if (!next)
			next = end;
		if (has_upper(c, next))
			return bad(err, s, "repository name must be lowercase");
		if (!component_valid(c, next))
			return bad(err, s,
				   c == next ? "empty path component"
					     : "bad character in the name");
		c = next;
	}
	return 0;
}

/* Split @name (no tag or digest) into domain and path. */
static int split_name(const char *s, const char *name, struct aur_oci_ref *ref,
		      char err[AUR_OCI_ERRLEN])
{
	const char *end = name + strlen(name);
	const char *slash = strchr(name, '/');
	const char *path = name;
	int r;

	if (slash && is_domain(name, slash)) {
		if (!domain_valid(name, slash))
			return bad(err, s, "bad registry host");
		ref->domain = strndup(name, (size_t)(slash - name));
		path = slash + 1;
	} else {
		ref->domain = strdup("docker.io");
	}
	if (!ref->domain)
		return -ENOMEM;
	if (strcmp(ref->domain, "index.docker.io") == 0) {
		free(ref->domain);
		ref->domain = strdup("docker.io");
		if (!ref->domain)
			return -ENOMEM;
	}
	r = parse_path(s, path, end, err);
	if (r < 0)
		return r;
	if (strcmp(ref->domain, "docker.io") == 0 && !strchr(path, '/'))
		ref->path = aur_printf("library/%s", path);
	else
		ref->path = strdup(path);
	if (!ref->path)
		return -ENOMEM;
	if (strlen(ref->domain) + 1 + strlen(ref->path) > NAME_MAX_LEN)
		return bad(err, s, "name longer than 255 characters");
	return 0;
}

int aur_oci_ref_parse(const char *s, struct aur_oci_ref *ref,
		      char err[AUR_OCI_ERRLEN])
{
	AUR_AUTOFREE char *copy = strdup(s);
	char *at, *colon, *slash;
	int r;

	memset(ref, 0, sizeof(*ref));
	if (!copy)
		return -ENOMEM;
	if (!*s)
		return bad(err, s, "empty");
	if (strlen(s) > 4096)
		return bad(err, s, "too long");
	at = strchr(copy, '@');
	if (at) {
		*at++ = '\0';
		if (!aur_oci_digest_valid(at))
			return bad(err, s,
				   "the digest must be sha256: and 64 "
				   "lowercase hex digits");
		snprintf(ref->digest, sizeof(ref->digest), "%s", at);
	}
	slash = strrchr(copy, '/');
	colon = strrchr(copy, ':');
	if (colon && (!slash || colon > slash)) {
		*colon++ = '\0';
		if (!tag_valid(colon)) {
			r = bad(err, s,
				"bad tag (letters, digits, '_', '.', '-', "
				"at most 128, not starting with '.' or '-')");
			goto fail;
		}
		ref->tag = strdup(colon);
		if (!ref->tag) {
			r = -ENOMEM;
			goto fail;
		}
	}
	if (!*copy) {
		r = bad(err, s, "no name");
		goto fail;
	}
	r = split_name(s, copy, ref, err);
	if (r < 0)
		goto fail;
	if (!ref->tag && !ref->digest[0]) {
		ref->tag = strdup("latest");
		if (!ref->tag) {
			r = -ENOMEM;
			goto fail;
		}
	}
	return 0;
fail:
	aur_oci_ref_release(ref);
	return r;
}

void aur_oci_ref_release(struct aur_oci_ref *ref)
{
	free(ref->domain);
	free(ref->path);
	free(ref->tag);
	memset(ref, 0, sizeof(*ref));
}

char *aur_oci_ref_string(const struct aur_oci_ref *ref)
{
	return aur_printf("%s/%s%s%s%s%s", ref->domain, ref->path,
			  ref->tag ? ":" : "", ref->tag ? ref->tag : "",
			  ref->digest[0] ? "@" : "", ref->digest);
}

const char *aur_oci_ref_api_host(const struct aur_oci_ref *ref)
{
	if (strcmp(ref->domain, "docker.io") == 0)
		return "registry-1.docker.io";
	return ref->domain;
}

const char *aur_oci_ref_reference(const struct aur_oci_ref *ref)
{
	return ref->digest[0] ? ref->digest : ref->tag;
}

/* ---- sources ---- */

static bool is_dir(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* The rest of @s after "@prefix:" or "@prefix://", or NULL. */
static const char *strip_prefix(const char *s, const char *prefix)
{
	size_t n = strlen(prefix);

	if (strncmp(s, prefix, n) != 0 || s[n] != ':')
		return NULL;
	s += n + 1;
	if (aur_startswith(s, "//"))
		s += 2;
	return s;
}

static int set_path(struct aur_oci_source *src, enum aur_oci_kind kind,
		    const char *path, const char *s, char err[AUR_OCI_ERRLEN])
{
	if (!*path) {
		snprintf(err, AUR_OCI_ERRLEN, "invalid source '%s': no path",
			 s);
		return -EINVAL;
	}
	src->kind = kind;
	src->path = aur_absolute_path(path);
	return src->path ? 0 : -ENOMEM;
}

/* oci:DIR[:TAG]: a layout if the directory exists, else a reference. */
static int parse_oci(const char *rest, struct aur_oci_source *src,
		     char err[AUR_OCI_ERRLEN])
{
	AUR_AUTOFREE char *dir = strdup(rest);
	char *colon;

	if (!dir)
		return -ENOMEM;
	if (*rest && is_dir(rest))
		return set_path(src, AUR_OCI_SRC_LAYOUT, rest, rest, err);
	colon = strrchr(dir, ':');
	if (colon && colon != dir && !strchr(colon, '/')) {
		*colon = '\0';
		if (is_dir(dir)) {
			src->tag = strdup(colon + 1);
			if (!src->tag || !*src->tag)
				return src->tag ? bad(err, rest, "empty tag")
						: -ENOMEM;
			return set_path(src, AUR_OCI_SRC_LAYOUT, dir, rest,
					err);
		}
	}
	src->kind = AUR_OCI_SRC_REGISTRY;
	return aur_oci_ref_parse(rest, &src->ref, err);
}

int aur_oci_source_parse(const char *s, struct aur_oci_source *src,
			 char err[AUR_OCI_ERRLEN])
{
	const char *rest;
	int r;

	memset(src, 0, sizeof(*src));
	if ((rest = strip_prefix(s, "docker"))) {
		src->kind = AUR_OCI_SRC_DAEMON;
		r = aur_oci_ref_parse(rest, &src->ref, err);
	} else if ((rest = strip_prefix(s, "oci"))) {
		r = parse_oci(rest, src, err);
	} else if ((rest = strip_prefix(s, "ocifile")) ||
		   (rest = strip_prefix(s, "file"))) {
		r = set_path(src, AUR_OCI_SRC_ARCHIVE, rest, s, err);
	} else if ((rest = strip_prefix(s, "dir"))) {
		r = set_path(src, AUR_OCI_SRC_DIR, rest, s, err);
	} else {
		src->kind = AUR_OCI_SRC_REGISTRY;
		r = aur_oci_ref_parse(s, &src->ref, err);
	}
	if (r < 0)
		aur_oci_source_release(src);
	return r;
}

void aur_oci_source_release(struct aur_oci_source *src)
{
	aur_oci_ref_release(&src->ref);
	free(src->path);
	free(src->tag);
	memset(src, 0, sizeof(*src));
}
