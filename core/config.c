// SPDX-License-Identifier: GPL-2.0-or-later
#include <aurora/config.h>
#include <aurora/kv.h>
#include <aurora/log.h>
#include <aurora/util.h>

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

enum key_type { KEY_STR, KEY_BOOL, KEY_MIB };

struct key_spec {
	const char *path;
	enum key_type type;
	size_t offset; /* into struct aur_config; unused for special keys */
};

#define STR(path, field)                                          \
	{                                                         \
		path, KEY_STR, offsetof(struct aur_config, field) \
	}
#define BOOL(path, field)                                          \
	{                                                          \
		path, KEY_BOOL, offsetof(struct aur_config, field) \
	}
#define MIB(path, field)                                          \
	{                                                         \
		path, KEY_MIB, offsetof(struct aur_config, field) \
	}

/* Every key AuroraBoot reads, plus aurorafs' release_server/release_asset.
 * "iso.data" and "insecure" are deprecated aliases handled after binding. */
static const struct key_spec keys[] = {
	STR("container_image", container_image),
	STR("repository", repository),
	STR("release_version", release_version),
	STR("artifact_version", artifact_version),
	STR("flavor", flavor),
	STR("flavor_release", flavor_release),
	STR("variant", variant),
	STR("platform", platform),
	STR("model", model),
	STR("arch", arch),
	STR("release_server", release_server),
	STR("release_asset", release_asset),
	STR("cloud_config", cloud_config),
	BOOL("no_default_cloud_config", no_default_cloud_config),
	BOOL("disable_netboot", disable_netboot),
	BOOL("disable_http_server", disable_http_server),
	BOOL("disable_iso", disable_iso),
	STR("netboot_http_port", netboot_http_port),
	STR("netboot_listen_addr", netboot_listen_addr),
	STR("listen_addr", listen_addr),
	STR("state_dir", state_dir),
	BOOL("allow-insecure-registries", allow_insecure_registries),
	STR("iso.name", iso.name),
	STR("iso.override_name", iso.override_name),
	BOOL("iso.include_date", iso.include_date),
	STR("iso.overlay_iso", iso.overlay_iso),
	STR("iso.overlay_rootfs", iso.overlay_rootfs),
	STR("iso.extend-live-cmdline", iso.extend_live_cmdline),
	STR("iso.live_console", iso.live_console),
	STR("netboot.cmdline", netboot.cmdline),
	STR("netboot.url", netboot.url),
	STR("netboot.ipxe_dir", netboot.ipxe_dir),
	STR("squashfs.compression", squashfs.compression),
	BOOL("disk.efi", disk.efi),
	BOOL("disk.bios", disk.bios),
	BOOL("disk.gce", disk.gce),
	BOOL("disk.vhd", disk.vhd),
	BOOL("disk.partitions", disk.partitions),
	BOOL("disk.maas", disk.maas),
	MIB("disk.size", disk.size_mib),
	MIB("disk.state_size", disk.state_size_mib),
	MIB("disk.recovery_image_size", disk.recovery_image_size_mib),
	STR("system.memory", system.memory),
	STR("system.cores", system.cores),
	STR("system.qemu_bin", system.qemu_bin),
	BOOL("system.kvm", system.kvm),
};

static const char *const deprecated_keys[] = {"iso.data", "insecure"};
static const char *const key_groups[] = {"iso", "netboot", "disk", "system",
					 "squashfs"};

static const struct key_spec *find_key(const char *path)
{
	for (size_t i = 0; i < AUR_ARRAY_SIZE(keys); i++)
		if (strcmp(keys[i].path, path) == 0)
			return &keys[i];
	return NULL;
}

static bool is_group(const char *path)
{
	for (size_t i = 0; i < AUR_ARRAY_SIZE(key_groups); i++)
		if (strcmp(key_groups[i], path) == 0)
			return true;
	return false;
}

static bool is_deprecated(const char *path)
{
	for (size_t i = 0; i < AUR_ARRAY_SIZE(deprecated_keys); i++)
		if (strcmp(deprecated_keys[i], path) == 0)
			return true;
	return false;
}

/* Booleans as YAML 1.1 and Go's yaml decoder accept them. */
static int parse_bool(const char *s, bool *out)
{
	static const char *const yes[] = {"true", "yes", "on", "y"};
	static const char *const no[] = {"false", "no", "off", "n"};

	for (size_t i = 0; i < AUR_ARRAY_SIZE(yes); i++) {
		if (strcasecmp(s, yes[i]) == 0) {
			*out = true;
			return 0;
		}
		if (strcasecmp(s, no[i]) == 0) {
			*out = false;
			return 0;
		}
	}
	return -EINVAL;
}

static void where(const struct aur_kv *kv, char *buf, size_t n)
{
	if (kv->line > 0)
		snprintf(buf, n, "%s:%d", kv->origin, kv->line);
	else
		snprintf(buf, n, "%s", kv->origin ? kv->origin : "?");
}

/* What a value of type @t must be, for messages. */
static const char *type_desc(enum key_type t)
{
	switch (t) {
	case KEY_BOOL:
		return "true or false";
	case KEY_MIB:
		return "a size in MiB (a whole number)";
	default:
		return "a string";
	}
}

/* null, or an empty string (as --set gives it) */
static bool is_empty(const struct aur_kv *kv)
{
	return aur_kv_is_null(kv) ||
	       (kv->kind == AUR_KV_SCALAR && !kv->value[0]);
}

/* Log that @kv, a mapping or a list, is not a value of type @t. */
static int kind_error(const struct aur_kv *kv, const char *path,
		      enum key_type t)
{
	char loc[512];

	where(kv, loc, sizeof(loc));
	aur_err("%s: key '%s' must be %s, not a %s", loc, path, type_desc(t),
		kv->kind == AUR_KV_MAP ? "mapping" : "list");
	return -EINVAL;
}

static int bind_scalar(struct aur_config *cfg, const struct key_spec *k,
		       const struct aur_kv *kv)
{
	char *field = (char *)cfg + k->offset;
	char loc[512];

	if (kv->kind != AUR_KV_SCALAR)
		return kind_error(kv, k->path, k->type);
	/* null leaves the key unset, as Go decodes it to the zero value */
	if (aur_kv_is_null(kv) || (k->type == KEY_MIB && is_empty(kv)))
		return 0;
	switch (k->type) {
	case KEY_STR: {
		char **s = (char **)field;

		free(*s);
		*s = strdup(kv->value);
		return *s ? 0 : -ENOMEM;
	}
	case KEY_BOOL:
		if (parse_bool(kv->value, (bool *)field) < 0)
			break;
		return 0;
	case KEY_MIB:
		if (aur_parse_u64(kv->value, (uint64_t *)field) < 0)
			break;
		return 0;
	}
	where(kv, loc, sizeof(loc));
	aur_err("%s: key '%s' must be %s, not '%s'", loc, k->path,
		type_desc(k->type), kv->value);
	return -EINVAL;
}

/*
 * machines: a mapping from MAC addresses (colons or dashes, any case) or
 * "default" to mappings of template values. Kept with canonical MACs, so
 * that two spellings of one machine are one entry (the later wins, as
 * --set pairs win over the file).
 */
static int bind_machines(struct aur_config *cfg, const struct aur_kv *m)
{
	char loc[512];
	int ret = 0;

	if (is_empty(m))
		return 0;
	if (m->kind != AUR_KV_MAP) {
		where(m, loc, sizeof(loc));
		aur_err("%s: key 'machines' must be a mapping of MAC addresses "
			"(or 'default') to values",
			loc);
		return -EINVAL;
	}
	if (!cfg->machines && !(cfg->machines = aur_kv_new_map(m->origin)))
		return -ENOMEM;
	for (const struct aur_kv *c = m->child; c; c = c->next) {
		char name[AUR_MAC_STRLEN];
		struct aur_kv *one;
		uint8_t mac[6];
		int r;

		where(c, loc, sizeof(loc));
		if (strcmp(c->key, "default") == 0) {
			snprintf(name, sizeof(name), "default");
		} else if (aur_mac_parse(c->key, mac) == 0) {
			aur_mac_format(mac, name);
		} else {
			aur_err("%s: 'machines.%s': not a MAC address "
				"(aa:bb:cc:dd:ee:ff or aa-bb-cc-dd-ee-ff) nor "
				"'default'",
				loc, c->key);
			ret = -EINVAL;
			continue;
		}
		if (is_empty(c))
			continue;
		if (c->kind != AUR_KV_MAP) {
			aur_err("%s: 'machines.%s' must be a mapping of "
				"template values",
				loc, c->key);
			ret = -EINVAL;
			continue;
		}
		one = aur_kv_map_at(cfg->machines, name);
		r = one ? aur_kv_merge(one, c) : -ENOMEM;
		if (r < 0)
			return r;
	}
	return ret;
}

/* Bind every config key below map @m (whose dotted path is @prefix); other
 * keys are left to warn_unknown(). Keeps going after a bad value so that one
 * run reports every problem. */
static int bind_map(struct aur_config *cfg, const struct aur_kv *m,
		    const char *prefix)
{
	int ret = 0;

	for (const struct aur_kv *c = m->child; c; c = c->next) {
		char path[256];
		const struct key_spec *k;
		char loc[512];
		int r = 0;

		if (prefix)
			snprintf(path, sizeof(path), "%s.%s", prefix, c->key);
		else
			snprintf(path, sizeof(path), "%s", c->key);
		where(c, loc, sizeof(loc));
		k = find_key(path);
		if (k) {
			r = bind_scalar(cfg, k, c);
		} else if (!prefix && strcmp(path, "machines") == 0) {
			r = bind_machines(cfg, c);
		} else if (is_group(path)) {
			if (c->kind == AUR_KV_MAP)
				r = bind_map(cfg, c, path);
			else if (!is_empty(c)) {
				aur_err("%s: key '%s' must be a mapping", loc,
					path);
				r = -EINVAL;
			}
		}
		if (r < 0 && ret == 0)
			ret = r;
	}
	return ret;
}

/*
 * Warn about every key below map @m (at dotted @prefix) that is not a config
 * key. Keys of the file are warned about where they are written. The --set
 * pairs (@sets) are warned about one by one, except those in @used (the
 * ones the cloud-config template used; may be NULL).
 */
static void warn_unknown(const struct aur_kv *m, const char *prefix, bool sets,
			 const struct aur_kv *used)
{
	for (const struct aur_kv *c = m->child; c; c = c->next) {
		char path[256];
		char loc[512];

		if (prefix)
			snprintf(path, sizeof(path), "%s.%s", prefix, c->key);
		else
			snprintf(path, sizeof(path), "%s", c->key);
		if (find_key(path) || is_deprecated(path) ||
		    strcmp(path, "machines") == 0)
			continue;
		if ((is_group(path) || sets) && c->kind == AUR_KV_MAP) {
			warn_unknown(c, path, sets, used);
			continue;
		}
		if (is_group(path) || (sets && aur_kv_get(used, path)))
			continue;
		where(c, loc, sizeof(loc));
		if (sets)
			aur_warn("%s: unknown key '%s' (ignored: not a config "
				 "key, and the cloud-config does not use it)",
				 loc, path);
		else
			aur_warn("%s: unknown key '%s' (ignored)", loc, path);
	}
}

void aur_config_warn_unknown_sets(const struct aur_config *cfg,
				  const struct aur_kv *used)
{
	if (cfg->set_values)
		warn_unknown(cfg->set_values, NULL, true, used);
}

/* iso.data and insecure: the deprecated spellings AuroraBoot still reads */
static int bind_deprecated(struct aur_config *cfg, const struct aur_kv *root)
{
	const struct aur_kv *data = aur_kv_get(root, "iso.data");
	const struct aur_kv *insecure = aur_kv_get(root, "insecure");
	char loc[512];

	if (data && data->kind != AUR_KV_SCALAR)
		return kind_error(data, "iso.data", KEY_STR);
	if (data && !aur_kv_is_null(data)) {
		where(data, loc, sizeof(loc));
		if (cfg->iso.overlay_iso) {
			aur_warn("%s: 'iso.data' is deprecated and ignored "
				 "because 'iso.overlay_iso' is set",
				 loc);
		} else {
			aur_warn("%s: 'iso.data' is deprecated, use "
				 "'iso.overlay_iso'",
				 loc);
			cfg->iso.overlay_iso = strdup(data->value);
			if (!cfg->iso.overlay_iso)
				return -ENOMEM;
		}
	}
	if (insecure && !aur_kv_get(root, "allow-insecure-registries")) {
		static const struct key_spec k = {
			"insecure", KEY_BOOL,
			offsetof(struct aur_config, allow_insecure_registries)};

		return bind_scalar(cfg, &k, insecure);
	}
	return 0;
}

int aur_config_add_set(struct aur_kv **sets, const char *arg)
{
	const char *eq = strchr(arg, '=');
	char key[256];
	size_t klen;
	bool plain;
	int r;

	if (!eq || eq == arg) {
		aur_err("--set '%s': expected key=value", arg);
		return -EINVAL;
	}
	klen = (size_t)(eq - arg);
	if (klen >= sizeof(key)) {
		aur_err("--set '%.40s...': key too long", arg);
		return -EINVAL;
	}
	memcpy(key, arg, klen);
	key[klen] = '\0';
	if (strcasecmp(key, "disk.raw") == 0)
		snprintf(key, sizeof(key), "disk.efi");
	else if (strcasecmp(key, "disk.mbr") == 0)
		snprintf(key, sizeof(key), "disk.bios");
	if (!*sets)
		*sets = aur_kv_new_map("--set");
	/* like AuroraBoot: only the exact words true/false are booleans */
	plain = strcmp(eq + 1, "true") == 0 || strcmp(eq + 1, "false") == 0;
	r = *sets ? aur_kv_set(*sets, key, eq + 1, plain, "--set", 0) : -ENOMEM;
	if (r == -EINVAL)
		aur_err("--set '%s': empty component in key '%s'", arg, key);
	else if (r == -ENOMEM)
		aur_err("--set '%s': out of memory", arg);
	return r;
}

static int config_load(const char *text, size_t len, const char *origin,
		       struct aur_kv *sets, struct aur_config **out)
{
	struct aur_config *cfg = calloc(1, sizeof(*cfg));
	struct aur_kv *root = NULL;
	int r;

	if (!cfg) {
		aur_kv_free(sets);
		return -ENOMEM;
	}
	cfg->set_values = sets;
	if (text)
		r = aur_kv_parse_yaml(text, len, origin, &root);
	else
		r = (root = aur_kv_new_map(origin)) ? 0 : -ENOMEM;
	if (r == 0)
		warn_unknown(root, NULL, false, NULL);
	if (r == 0 && sets)
		r = aur_kv_merge(root, sets);
	if (r == 0)
		r = bind_map(cfg, root, NULL);
	if (r == 0)
		r = bind_deprecated(cfg, root);
	if (r == 0 && !cfg->release_server)
		r = (cfg->release_server = strdup(AUR_DEFAULT_RELEASE_SERVER))
			    ? 0
			    : -ENOMEM;
	aur_kv_free(root);
	if (r < 0) {
		aur_config_free(cfg);
		return r;
	}
	*out = cfg;
	return 0;
}

int aur_config_load(const char *text, size_t len, const char *origin,
		    struct aur_kv *sets, struct aur_config **out)
{
	int r = config_load(text, len, origin, sets, out);

	if (r == -ENOMEM)
		aur_err("config '%s': out of memory", origin);
	return r;
}

static bool empty(const char *s)
{
	return !s || !*s;
}

#define DEFAULT_NETBOOT_HTTP_PORT 8090

const char *aur_config_netboot_addr(const struct aur_config *cfg)
{
	const char *a = cfg->netboot_listen_addr;

	return empty(a) || strcmp(a, "0.0.0.0") == 0 ? NULL : a;
}

uint16_t aur_config_netboot_port(const struct aur_config *cfg)
{
	uint64_t v;

	if (empty(cfg->netboot_http_port))
		return DEFAULT_NETBOOT_HTTP_PORT;
	if (aur_parse_u64(cfg->netboot_http_port, &v) < 0 || v > UINT16_MAX)
		return 0;
	return (uint16_t)v;
}

int aur_config_validate(const struct aur_config *cfg)
{
	if (empty(cfg->container_image) &&
	    (empty(cfg->repository) || empty(cfg->release_version) ||
	     empty(cfg->artifact_version) || empty(cfg->flavor))) {
		aur_err("no source defined: provide container_image or a "
			"complete release artifact configuration");
		return -EINVAL;
	}
	if (cfg->disk.partitions && (cfg->disk.gce || cfg->disk.vhd)) {
		aur_err("disk.partitions cannot be combined with disk.gce or "
			"disk.vhd");
		return -EINVAL;
	}
	if (aur_config_netboot_port(cfg) == 0) {
		aur_err("netboot_http_port '%s' is not a port number (1 to "
			"65535)",
			cfg->netboot_http_port);
		return -EINVAL;
	}
	return 0;
}

void aur_config_free(struct aur_config *cfg)
{
	if (!cfg)
		return;
	for (size_t i = 0; i < AUR_ARRAY_SIZE(keys); i++)
		if (keys[i].type == KEY_STR)
			free(*(char **)((char *)cfg + keys[i].offset));
	aur_kv_free(cfg->set_values);
	aur_kv_free(cfg->machines);
	free(cfg);
}
