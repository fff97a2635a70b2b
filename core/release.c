// SPDX-License-Identifier: GPL-2.0-or-later
#include <aurora/config.h>
#include <aurora/release.h>
#include <aurora/util.h>

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

struct semver {
	bool valid;
	const char *num[3]; /* digits, not NUL-terminated */
	size_t num_len[3];
	const char *pre; /* after '-', up to '+' or end; NULL if none */
	size_t pre_len;
};

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* A numeric field: digits without a leading zero (except "0"). */
static const char *parse_num(const char *p, const char **num, size_t *len)
{
	const char *s = p;

	while (is_digit(*p))
		p++;
	if (p == s || (p - s > 1 && *s == '0'))
		return NULL;
	*num = s;
	*len = (size_t)(p - s);
	return p;
}

static bool ident_ok(const char *s, size_t n)
{
	if (n == 0)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];

		if (!(is_digit(c) || (c >= 'a' && c <= 'z') ||
		      (c >= 'A' && c <= 'Z') || c == '-'))
			return false;
	}
	return true;
}

/* Dot-separated identifiers of [0-9A-Za-z-], numeric ones without leading
 * zeros. */
static bool dotted_ok(const char *s, size_t n, bool numeric_rule)
{
	size_t start = 0;

	for (size_t i = 0; i <= n; i++) {
		if (i < n && s[i] != '.')
			continue;
		if (!ident_ok(s + start, i - start))
			return false;
		if (numeric_rule && i - start > 1 && s[start] == '0') {
			bool all_digits = true;

			for (size_t j = start; j < i; j++)
				all_digits &= is_digit(s[j]);
			if (all_digits)
				return false;
		}
		start = i + 1;
	}
	return true;
}

static struct semver semver_parse(const char *v)
{
	static const char zero[] = "0";
	struct semver sv = {0};
	const char *p = v;

	if (*p++ != 'v')
		return sv;
	for (int i = 0; i < 3; i++) {
		if (i > 0) {
			if (*p != '.') {
				/* Go accepts the shorthands v1 and v1.2 */
				if (*p)
					return sv;
				sv.num[i] = zero;
				sv.num_len[i] = 1;
				continue;
			}
			p++;
		}
		p = parse_num(p, &sv.num[i], &sv.num_len[i]);
		if (!p)
			return sv;
	}
	if (*p == '-') {
		const char *e = strchr(p, '+');
		size_t n = e ? (size_t)(e - p - 1) : strlen(p + 1);

		/* shorthand versions cannot carry a prerelease */
		if (sv.num[2] == zero || !dotted_ok(p + 1, n, true))
			return sv;
		sv.pre = p + 1;
		sv.pre_len = n;
		p += 1 + n;
	}
	if (*p == '+') {
		if (sv.num[2] == zero ||
		    !dotted_ok(p + 1, strlen(p + 1), false))
			return sv;
		p += strlen(p);
	}
	sv.valid = *p == '\0';
	return sv;
}

static int cmp_num(const char *a, size_t an, const char *b, size_t bn)
{
	if (an != bn)
		return an < bn ? -1 : 1;
	int r = memcmp(a, b, an);

	return r < 0 ? -1 : r > 0;
}

static bool all_digits(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!is_digit(s[i]))
			return false;
	return true;
}

static int cmp_prerelease(const struct semver *a, const struct semver *b)
{
	const char *x = a->pre, *y = b->pre;
	const char *xe, *ye;

	if (!x && !y)
		return 0;
	if (!x)
		return 1; /* a release is newer than its prereleases */
	if (!y)
		return -1;
	xe = x + a->pre_len;
	ye = y + b->pre_len;
	while (x < xe && y < ye) {
		const char *xd = memchr(x, '.', (size_t)(xe - x));
		const char *yd = memchr(y, '.', (size_t)(ye - y));
		size_t xn = xd ? (size_t)(xd - x) : (size_t)(xe - x);
		size_t yn = yd ? (size_t)(yd - y) : (size_t)(ye - y);
		bool xnum = all_digits(x, xn), ynum = all_digits(y, yn);
		int r;

		if (xnum && ynum)
			r = cmp_num(x, xn, y, yn);
		else if (xnum != ynum)
			r = xnum ? -1 : 1;
		else {
			r = memcmp(x, y, AUR_MIN(xn, yn));
			if (r == 0)
				r = xn < yn ? -1 : xn > yn;
			r = r < 0 ? -1 : r > 0;
		}
		if (r)
			return r;
		x += xn + 1;
		y += yn + 1;
	}
	if (x >= xe && y >= ye)
		return 0;
	return x >= xe ? -1 : 1;
}

int aur_semver_compare(const char *a, const char *b)
{
	struct semver sa = semver_parse(a), sb = semver_parse(b);

	if (!sa.valid || !sb.valid)
		return sa.valid == sb.valid ? 0 : (sa.valid ? 1 : -1);
	for (int i = 0; i < 3; i++) {
		int r = cmp_num(sa.num[i], sa.num_len[i], sb.num[i],
				sb.num_len[i]);

		if (r)
			return r;
	}
	return cmp_prerelease(&sa, &sb);
}

static const char *or_default(const char *s, const char *def)
{
	return s && *s ? s : def;
}

char *aur_release_asset_name(const struct aur_config *cfg)
{
	const char *ver = or_default(cfg->release_version, "");
	const char *av = or_default(cfg->artifact_version, "");
	const char *variant, *platform, *model;

	if (cfg->release_asset && *cfg->release_asset)
		return strdup(cfg->release_asset);
	variant = or_default(cfg->variant,
			     strstr(av, "k3s") ? "standard" : "core");
	platform = or_default(cfg->platform, or_default(cfg->arch, "amd64"));
	model = or_default(cfg->model, "generic");
	if (aur_semver_compare(ver, "v2.4.0") < 0)
		return aur_printf("%s-%s-%s",
				  strcmp(variant, "standard") == 0 ? "kairos"
								   : variant,
				  or_default(cfg->flavor, ""), av);
	if (aur_semver_compare(ver, "v2.4.2") < 0)
		return aur_printf("kairos-%s-%s-%s-%s-%s", variant,
				  or_default(cfg->flavor, ""), platform, model,
				  av);
	return aur_printf("kairos-%s-%s-%s-%s-%s-%s",
			  or_default(cfg->flavor, ""),
			  or_default(cfg->flavor_release, ""), variant,
			  platform, model, av);
}

char *aur_release_asset_url(const struct aur_config *cfg, const char *file)
{
	const char *server =
		or_default(cfg->release_server, AUR_DEFAULT_RELEASE_SERVER);
	size_t n = strlen(server);

	while (n > 0 && server[n - 1] == '/')
		n--;
	return aur_printf("%.*s/%s/releases/download/%s/%s", (int)n, server,
			  or_default(cfg->repository, ""),
			  or_default(cfg->release_version, ""), file);
}
