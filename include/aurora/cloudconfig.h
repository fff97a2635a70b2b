/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * cloudconfig.h - the cloud-config that aurorafs puts into what it builds.
 *
 * It comes from --cloud-config (standard input "-", a file, or an http,
 * https or file URL), else from the config file's cloud_config key, and is
 * rendered with the --set values (template.h).
 */
#ifndef AURORA_CLOUDCONFIG_H
#define AURORA_CLOUDCONFIG_H

#include <stddef.h>
#include <stdint.h>

struct aur_config;

#define AUR_CLOUD_CONFIG_MAX (16u << 20)

/*
 * Read the --cloud-config argument @arg into a malloc'd, NUL-terminated
 * *@buf that the caller frees. On failure logs the reason, returns -errno
 * and leaves *@buf and *@len untouched. Content that is empty or only white
 * space (spaces, tabs, newlines) carries no config: it is refused with
 * -ENODATA, as AuroraBoot refuses an empty one ("cloud config set but
 * contents are empty").
 */
int aur_cloud_config_read(const char *arg, char **buf, size_t *len);

/*
 * The rendered cloud-config: @raw (--cloud-config's, or cfg->cloud_config;
 * NULL for none), templated with cfg->set_values and the default
 * machine's values (see aur_cloud_config_render_machine). *@out is NULL
 * (and *@outlen 0) when there is no cloud-config at all. Caller frees.
 *
 * Then warns about each --set pair that is neither a config key nor used by
 * the template: only now is it known whether a pair such as node.name=x
 * was template data. Call it after aur_config_load() even when there is no
 * cloud-config. Returns 0, or logs and returns -ENOMEM.
 */
int aur_cloud_config_render(const struct aur_config *cfg, const char *raw,
			    size_t len, const char *origin, char **out,
			    size_t *outlen);

/*
 * The cloud-config of one machine (netboot): @raw (@len bytes, not NULL)
 * templated with cfg->set_values, over which are merged the machine's
 * values from cfg->machines (its "default" entry, then the entry of @mac),
 * and "mac": the canonical MAC, or "" for the default machine (@mac NULL).
 * Missing keys are warned about as for aur_cloud_config_render; unknown
 * --set pairs are not (that was said at start-up). Caller frees *@out.
 * Returns 0 or -ENOMEM.
 */
int aur_cloud_config_render_machine(const struct aur_config *cfg,
				    const char *raw, size_t len,
				    const char *origin, const uint8_t *mac,
				    char **out, size_t *outlen);

#endif
