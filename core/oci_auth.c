// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Registry authentication, the parts that are pure parsing: the
 * WWW-Authenticate challenge (RFC 7235 auth-params, as registries send
 * them), credentials from a docker config.json, and token responses.
 */
#include "oci_i.h"

#include <aurora/util.h>

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>
#include <openssl/evp.h>

#define AUTH_MAX 4096 /* a base64 "user:password" */

static const char *skip_space(const char *p)
{
	while (*p == ' ' || *p == '\t')
		p++;
	return p;
}

/* Copy a token or quoted string at *@pp into @out (@n bytes); advance.
 * -EINVAL if it does not fit or a quote is not closed. */
static int param_value(const char **pp, char *out, size_t n)
{
	const char *p = *pp;
	size_t len = 0;

	if (*p == '"') {
		for (p++; *p && *p != '"'; p++) {
			if (*p == '\\' && p[1])
				p++;
			if (len + 1 >= n)
				return -EINVAL;
			out[len++] = *p;
		}
		if (*p != '"')
			return -EINVAL;
		p++;
	} else {
		for (; *p && *p != ',' && *p != ' ' && *p != '\t'; p++) {
			if (len + 1 >= n)
				return -EINVAL;
			out[len++] = *p;
		}
	}
	out[len] = '\0';
	*pp = p;
	return 0;
}

int aur_oci_challenge_parse(const char *value, struct aur_oci_challenge *c)
{
	const char *p = skip_space(value);
	char scratch[1024];

	memset(c, 0, sizeof(*c));
	if (strncasecmp(p, "Bearer", 6) == 0 && (p[6] == ' ' || !p[6])) {
		c->scheme = AUR_OCI_AUTH_BEARER;
		p += 6;
	} else if (strncasecmp(p, "Basic", 5) == 0 && (p[5] == ' ' || !p[5])) {
		c->scheme = AUR_OCI_AUTH_BASIC;
		p += 5;
	} else {
		return -ENOTSUP;
	}
	for (;;) {
		const char *key;
		size_t klen;
		char *dst = scratch;
		size_t n = sizeof(scratch);

		p = skip_space(p);
		while (*p == ',')
			p = skip_space(p + 1);
		if (!*p || *p == '\r' || *p == '\n')
			break;
		key = p;
		while (isalnum((unsigned char)*p) || *p == '_' || *p == '-')
			p++;
		klen = (size_t)(p - key);
		p = skip_space(p);
		if (klen == 0 || *p != '=')
			return -EINVAL;
		p = skip_space(p + 1);
		if (klen == 5 && strncasecmp(key, "realm", 5) == 0) {
			dst = c->realm;
			n = sizeof(c->realm);
		} else if (klen == 7 && strncasecmp(key, "service", 7) == 0) {
			dst = c->service;
			n = sizeof(c->service);
		} else if (klen == 5 && strncasecmp(key, "scope", 5) == 0) {
			dst = c->scope;
			n = sizeof(c->scope);
		}
		if (param_value(&p, dst, n) < 0)
			return -EINVAL;
	}
	if (c->scheme == AUR_OCI_AUTH_BEARER && !c->realm[0])
		return -EINVAL;
	return 0;
}

/* ---- docker config.json ---- */

char *aur_oci_dockercfg_path(void)
{
	const char *dir = getenv("DOCKER_CONFIG");
	const char *home = getenv("HOME");

	if (dir && *dir)
		return aur_printf("%s/config.json", dir);
	if (home && *home)
		return aur_printf("%s/.docker/config.json", home);
	return NULL;
}

/* The host part of an auths key: "https://host/v1/" -> "host". */
static void key_host(const char *key, char *out, size_t n)
{
	const char *p = key;
	size_t len;

	if (aur_startswith(p, "https://"))
		p += 8;
	else if (aur_startswith(p, "http://"))
		p += 7;
	len = strcspn(p, "/");
	snprintf(out, n, "%.*s", (int)AUR_MIN(len, n - 1), p);
}

static bool is_hub(const char *host)
{
	return strcmp(host, "docker.io") == 0 ||
	       strcmp(host, "index.docker.io") == 0 ||
	       strcmp(host, "registry-1.docker.io") == 0;
}

static bool host_matches(const char *key, const char *host)
{
	char h[256];

	key_host(key, h, sizeof(h));
	if (strcasecmp(h, host) == 0)
		return true;
	return is_hub(h) && is_hub(host);
}

static char *base64(const char *s)
{
	size_t n = strlen(s);
	char *out = malloc(4 * ((n + 2) / 3) + 1);

	if (out)
		EVP_EncodeBlock((unsigned char *)out, (const unsigned char *)s,
				(int)n);
	return out;
}

/* "auth", or "username" and "password", of one auths entry */
static char *entry_auth(json_t *entry)
{
	const char *auth = json_string_value(json_object_get(entry, "auth"));
	const char *user =
		json_string_value(json_object_get(entry, "username"));
	const char *pass =
		json_string_value(json_object_get(entry, "password"));
	char *pair, *b64;

	if (auth && *auth) {
		if (strlen(auth) > AUTH_MAX)
			return NULL;
		for (const char *p = auth; *p; p++)
			if (!isalnum((unsigned char)*p) && !strchr("+/=", *p))
				return NULL;
		return strdup(auth);
	}
	if (!user || !pass || strlen(user) + strlen(pass) > AUTH_MAX / 2)
		return NULL;
	pair = aur_printf("%s:%s", user, pass);
	if (!pair)
		return NULL;
	b64 = base64(pair);
	free(pair);
	return b64;
}

int aur_oci_dockercfg_lookup(const char *path, const char *host, char **auth)
{
	AUR_AUTOFREE char *buf = NULL;
	json_t *root, *auths, *v;
	const char *key;
	size_t len;
	int r;

	*auth = NULL;
	r = aur_read_file(path, AUR_OCI_DOCKERCFG_MAX, &buf, &len);
	if (r < 0)
		return r;
	root = json_loadb(buf, len, 0, NULL);
	if (!root)
		return -EBADMSG;
	auths = json_object_get(root, "auths");
	r = -ENOENT;
	json_object_foreach(auths, key, v)
	{
		if (!host_matches(key, host))
			continue;
		*auth = entry_auth(v);
		if (*auth) {
			r = 0;
			break;
		}
	}
	json_decref(root);
	return r;
}

/* ---- token responses ---- */

int aur_oci_token_parse(const char *json, size_t len, char **token)
{
	json_t *root = json_loadb(json, len, 0, NULL);
	const char *t;
	int r = -EBADMSG;

	*token = NULL;
	if (!root)
		return -EBADMSG;
	t = json_string_value(json_object_get(root, "token"));
	if (!t || !*t)
		t = json_string_value(json_object_get(root, "access_token"));
	/* it goes into a header line: printable ASCII only */
	if (t && *t && strlen(t) < AUR_OCI_HEADER_MAX) {
		r = 0;
		for (const char *p = t; *p; p++)
			if (*p <= ' ' || *p > '~')
				r = -EBADMSG;
		if (r == 0) {
			*token = strdup(t);
			if (!*token)
				r = -ENOMEM;
		}
	}
	json_decref(root);
	return r;
}
