// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The start-up chain: config -> cloud-config -> state_dir -> tree ->
 * builders (instance.h).
 */
#include <aurora/cloudconfig.h>
#include <aurora/config.h>
#include <aurora/fetch.h>
#include <aurora/instance.h>
#include <aurora/kv.h>
#include <aurora/log.h>
#include <aurora/tree.h>
#include <aurora/util.h>

#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define CONFIG_MAX (4u << 20)

static int load_config(const struct aur_instance_args *a,
		       struct aur_config **cfg)
{
	AUR_AUTOFREE char *text = NULL;
	size_t len = 0;
	int r;

	if (a->config && aur_is_url(a->config)) {
		char err[AUR_FETCH_ERRLEN];

		r = aur_fetch_all(a->config, CONFIG_MAX, &text, &len, err);
		if (r < 0) {
			aur_err("cannot fetch config %s", err);
			aur_kv_free(a->sets);
			return r;
		}
	} else if (a->config) {
		r = aur_read_file(a->config, CONFIG_MAX, &text, &len);
		if (r < 0) {
			aur_err("cannot read config '%s': %s", a->config,
				strerror(-r));
			aur_kv_free(a->sets);
			return r;
		}
	}
	r = aur_config_load(text, len, a->config ? a->config : "--set", a->sets,
			    cfg);
	if (r < 0)
		return r;
	r = aur_config_validate(*cfg);
	if (r < 0) {
		aur_config_free(*cfg);
		*cfg = NULL;
	}
	return r;
}

/* Make a path-valued config key absolute: the daemon changes to "/". */
static int absolutize(char **path)
{
	char *abs;

	if (!*path || !**path || **path == '/')
		return 0;
	abs = aur_absolute_path(*path);
	if (!abs)
		return -errno;
	free(*path);
	*path = abs;
	return 0;
}

/* state_dir, or a per-user cache directory: kept across mounts. */
static char *default_state_dir(void)
{
	const char *xdg = getenv("XDG_CACHE_HOME");
	const char *home = getenv("HOME");

	if (geteuid() == 0)
		return strdup("/var/cache/aurorafs");
	if (xdg && *xdg)
		return aur_printf("%s/aurorafs", xdg);
	return aur_printf("%s/.cache/aurorafs", home && *home ? home : "/tmp");
}

static int prepare_state_dir(const struct aur_config *cfg, char **out)
{
	char *dir = cfg->state_dir && *cfg->state_dir ? strdup(cfg->state_dir)
						      : default_state_dir();
	int r;

	if (!dir)
		return -ENOMEM;
	r = aur_mkdir_p(dir, 0755);
	if (r == 0 && access(dir, W_OK | X_OK) < 0)
		r = -errno;
	if (r < 0) {
		aur_err("state_dir '%s' is not a writable directory: %s", dir,
			strerror(-r));
		free(dir);
		return r;
	}
	*out = dir;
	return 0;
}

/* The cloud-config's file mtime, or now (stdin, URL, config key). */
static time_t cloud_config_mtime(const struct aur_instance_args *a,
				 const struct aur_config *cfg)
{
	struct stat st;
	const char *file = a->cloud_config;

	if (!file && cfg->cloud_config && a->config && !aur_is_url(a->config))
		file = a->config;
	if (file && strcmp(file, "-") != 0 && stat(file, &st) == 0)
		return st.st_mtime;
	return time(NULL);
}

/* Read --cloud-config (kept as the template of per-machine files) and
 * render it, or the config's cloud_config. */
static int render_cloud_config(struct aur_instance *in,
			       const struct aur_instance_args *a)
{
	struct aur_build_ctx *b = &in->build;
	size_t raw_len = 0;
	int r;

	if (a->cloud_config) {
		r = aur_cloud_config_read(a->cloud_config,
					  &in->cloud_config_raw, &raw_len);
		if (r < 0)
			return r;
		b->cloud_config_template = in->cloud_config_raw;
		b->cloud_config_template_len = raw_len;
		b->cloud_config_origin = a->cloud_config;
	} else if (in->cfg->cloud_config && *in->cfg->cloud_config) {
		b->cloud_config_template = in->cfg->cloud_config;
		b->cloud_config_template_len = strlen(in->cfg->cloud_config);
		b->cloud_config_origin = "cloud_config";
	}
	return aur_cloud_config_render(in->cfg, b->cloud_config_template,
				       b->cloud_config_template_len,
				       b->cloud_config_origin,
				       &in->cloud_config, &b->cloud_config_len);
}

int aur_instance_open(const struct aur_instance_args *a,
		      struct aur_instance **out)
{
	struct aur_instance *in = calloc(1, sizeof(*in));
	struct aur_config *cfg;
	int r;

	if (!in) {
		aur_kv_free(a->sets);
		return -ENOMEM;
	}
	r = load_config(a, &in->cfg);
	if (r < 0)
		goto fail;
	cfg = in->cfg;
	r = absolutize(&cfg->state_dir);
	if (r == 0)
		r = absolutize(&cfg->iso.overlay_iso);
	if (r == 0)
		r = absolutize(&cfg->iso.overlay_rootfs);
	if (r < 0) {
		aur_err("cannot make config paths absolute: %s", strerror(-r));
		goto fail;
	}
	r = render_cloud_config(in, a);
	if (r < 0)
		goto fail;
	r = prepare_state_dir(cfg, &in->state_dir);
	if (r < 0)
		goto fail;
	in->tree = aur_tree_new(time(NULL));
	if (!in->tree) {
		r = -ENOMEM;
		goto fail;
	}
	in->build.cfg = cfg;
	in->build.state_dir = in->state_dir;
	in->build.cloud_config = in->cloud_config;
	in->build.cloud_config_mtime = cloud_config_mtime(a, cfg);
	in->build.tree = in->tree;
	r = aur_builders_add_all(&in->build);
	if (r < 0)
		goto fail;
	*out = in;
	return 0;
fail:
	aur_instance_close(in);
	return r;
}

void aur_instance_close(struct aur_instance *in)
{
	if (!in)
		return;
	aur_tree_free(in->tree);
	aur_names_free(&in->build);
	aur_config_free(in->cfg);
	free(in->cloud_config);
	free(in->cloud_config_raw);
	free(in->state_dir);
	free(in);
}
