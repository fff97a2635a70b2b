/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * config.h - the typed AuroraBoot configuration.
 *
 * The config file (YAML, local path or URL) and the --set pairs are loaded
 * into aur_kv trees, merged (--set wins), then bound key by key to struct
 * aur_config. Every AuroraBoot key is known; bad values are errors that name
 * the key and where it was set. Unknown keys of the file are warned about
 * when it is loaded. A --set pair is also template data, so an unknown one
 * is warned about only once the cloud-config is rendered, if the template
 * did not use it either (aur_cloud_config_render() does it).
 *
 * All strings are owned by the config and freed by aur_config_free(); an
 * unset string key is NULL.
 */
#ifndef AURORA_CONFIG_H
#define AURORA_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct aur_kv;

#define AUR_DEFAULT_RELEASE_SERVER "https://github.com"

struct aur_config {
	/* source: a container image, or a release on a release server */
	char *container_image;
	char *repository;
	char *release_version;
	char *artifact_version;
	char *flavor;
	char *flavor_release;
	char *variant;
	char *platform;
	char *model;
	char *arch;
	char *release_server; /* aurorafs: default AUR_DEFAULT_RELEASE_SERVER */
	char *release_asset; /* aurorafs: asset base name, overrides naming */

	char *cloud_config; /* from the config file, verbatim */
	bool no_default_cloud_config;
	bool disable_netboot;
	bool disable_http_server;
	bool disable_iso;
	char *netboot_http_port;
	char *netboot_listen_addr;
	char *listen_addr;
	char *state_dir;
	bool allow_insecure_registries;

	struct {
		char *name;
		char *override_name;
		bool include_date;
		char *overlay_iso;
		char *overlay_rootfs;
		char *extend_live_cmdline;
		char *live_console;
	} iso;
	struct {
		char *cmdline;
		/* aurorafs: the base URL clients reach the netboot files at
		 * ("http://10.0.0.2:8090"); by default iPXE works it out */
		char *url;
		/* aurorafs: a directory whose undionly.kpxe, ipxe.efi and
		 * snponly.efi replace Debian's */
		char *ipxe_dir;
	} netboot;
	struct {
		/* aurorafs: gzip (AuroraBoot's), xz, zstd or none */
		char *compression;
	} squashfs;
	struct {
		bool efi, bios, gce, vhd, partitions, maas;
		uint64_t size_mib, state_size_mib, recovery_image_size_mib;
	} disk;
	struct {
		char *memory, *cores, *qemu_bin;
		bool kvm;
	} system;

	/* the --set pairs as a tree: the data of cloud-config templates */
	struct aur_kv *set_values;

	/* aurorafs: template values per machine: a map from a canonical MAC
	 * ("52:54:00:a0:77:01", aur_mac_format) or "default" to a map of
	 * values; NULL when the config has no machines key */
	struct aur_kv *machines;
};

/*
 * Parse one --set argument "key=value" into @sets (created on first use).
 * Dotted keys nest, "true"/"false" become booleans, the last pair wins,
 * the legacy keys disk.raw and disk.mbr mean disk.efi and disk.bios.
 * Logs and returns -EINVAL on a malformed argument, -ENOMEM.
 */
int aur_config_add_set(struct aur_kv **sets, const char *arg);

/*
 * Build the config from the YAML text of the config file (@text may be NULL
 * for none; @origin names it in messages and must outlive the config) and
 * the --set tree @sets (may be NULL; ownership passes to the config).
 * Logs every problem; returns -EINVAL if the YAML is invalid or any key had
 * a bad value, -ENOMEM. Does not check that a source is defined: see
 * aur_config_validate().
 */
int aur_config_load(const char *text, size_t len, const char *origin,
		    struct aur_kv *sets, struct aur_config **out);

/* Warn about each --set pair of @cfg that is not a config key, unless
 * @used (a tree of the keys a template used, may be NULL) has it. */
void aur_config_warn_unknown_sets(const struct aur_config *cfg,
				  const struct aur_kv *used);

/* Check the combination of keys (a source is defined, disk options agree)
 * and the values read as numbers (netboot_http_port).
 * Logs the reason and returns -EINVAL. */
int aur_config_validate(const struct aur_config *cfg);

/* The netboot servers' address: netboot_listen_addr, or NULL for every
 * address (unset, empty or "0.0.0.0"). */
const char *aur_config_netboot_addr(const struct aur_config *cfg);

/* netboot_http_port as a number: 8090 unless set; 0 if it is not a port
 * number, which aur_config_validate refuses. */
uint16_t aur_config_netboot_port(const struct aur_config *cfg);

void aur_config_free(struct aur_config *cfg);

#endif
