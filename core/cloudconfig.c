// SPDX-License-Identifier: GPL-2.0-or-later
#include <aurora/cloudconfig.h>
#include <aurora/config.h>
#include <aurora/fetch.h>
#include <aurora/kv.h>
#include <aurora/log.h>
#include <aurora/template.h>
#include <aurora/util.h>

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int read_source(const char *arg, char **buf, size_t *len)
{
	struct stat st;
	int r;

	if (strcmp(arg, "-") == 0) {
		r = aur_read_fd(STDIN_FILENO, AUR_CLOUD_CONFIG_MAX, buf, len);
		if (r < 0)
			aur_err("cannot read the cloud-config from standard "
				"input: %s",
				strerror(-r));
	} else if (stat(arg, &st) == 0) {
		r = aur_read_file(arg, AUR_CLOUD_CONFIG_MAX, buf, len);
		if (r < 0)
			aur_err("cannot read cloud-config '%s': %s", arg,
				strerror(-r));
	} else if (aur_is_url(arg)) {
		char err[AUR_FETCH_ERRLEN];

		r = aur_fetch_all(arg, AUR_CLOUD_CONFIG_MAX, buf, len, err);
		if (r < 0)
			aur_err("cannot fetch cloud-config %s", err);
	} else {
		aur_err("cloud-config '%s': no such file, and not an http, "
			"https or file URL",
			arg);
		r = -ENOENT;
	}
	return r;
}

static bool only_white_space(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r' && s[i] != '\n')
			return false;
	return true;
}

int aur_cloud_config_read(const char *arg, char **buf, size_t *len)
{
	char *text;
	size_t n;
	int r;

	r = read_source(arg, &text, &n);
	if (r < 0)
		return r;
	if (only_white_space(text, n)) {
		const char *note = n ? " (only white space)" : "";

		if (strcmp(arg, "-") == 0)
			aur_err("cloud config set but contents are empty: "
				"standard input%s",
				note);
		else
			aur_err("cloud config set but contents are empty: "
				"'%s'%s",
				arg, note);
		free(text);
		return -ENODATA;
	}
	*buf = text;
	*len = n;
	return 0;
}

/* The template data of one machine (see aur_cloud_config_render_machine). */
static struct aur_kv *machine_values(const struct aur_config *cfg,
				     const uint8_t *mac)
{
	struct aur_kv *data = aur_kv_new_map("--set");
	char name[AUR_MAC_STRLEN] = "";
	const struct aur_kv *entry;
	int r = data ? 0 : -ENOMEM;

	if (mac)
		aur_mac_format(mac, name);
	if (r == 0 && cfg->set_values)
		r = aur_kv_merge(data, cfg->set_values);
	entry = aur_kv_child(cfg->machines, "default");
	if (r == 0 && entry)
		r = aur_kv_merge(data, entry);
	entry = mac ? aur_kv_child(cfg->machines, name) : NULL;
	if (r == 0 && entry)
		r = aur_kv_merge(data, entry);
	if (r == 0)
		r = aur_kv_set(data, "mac", name, false, "machine", 0);
	if (r < 0) {
		aur_kv_free(data);
		return NULL;
	}
	return data;
}

int aur_cloud_config_render(const struct aur_config *cfg, const char *raw,
			    size_t len, const char *origin, char **out,
			    size_t *outlen)
{
	struct aur_kv *used, *data;
	int r;

	if (!raw) {
		aur_config_warn_unknown_sets(cfg, NULL);
		*out = NULL;
		*outlen = 0;
		return 0;
	}
	used = aur_kv_new_map(origin);
	data = machine_values(cfg, NULL);
	r = used && data ? aur_template_render(raw, len, data, origin, used,
					       out, outlen)
			 : -ENOMEM;
	aur_kv_free(data);
	if (r == 0)
		aur_config_warn_unknown_sets(cfg, used);
	else
		aur_err("cloud-config '%s': out of memory", origin);
	aur_kv_free(used);
	return r;
}

int aur_cloud_config_render_machine(const struct aur_config *cfg,
				    const char *raw, size_t len,
				    const char *origin, const uint8_t *mac,
				    char **out, size_t *outlen)
{
	struct aur_kv *data = machine_values(cfg, mac);
	int r;

	if (!data)
		return -ENOMEM;
	r = aur_template_render(raw, len, data, origin, NULL, out, outlen);
	aur_kv_free(data);
	return r;
}
