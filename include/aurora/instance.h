/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * instance.h - the start-up every front end shares: the config (file or
 * URL, and --set pairs), the rendered cloud-config, the state directory,
 * the tree and its builders. The FUSE daemon, the netboot servers and the
 * command-line tools all start from an aur_instance.
 *
 * Everything that can be wrong is checked here, before anything is
 * mounted or served. Relative paths (the config file, state_dir,
 * iso.overlay_iso, iso.overlay_rootfs) are made absolute against the
 * working directory at start-up, so a daemon that changes to "/" keeps
 * meaning the same files.
 */
#ifndef AURORA_INSTANCE_H
#define AURORA_INSTANCE_H

#include <time.h>

#include <aurora/builder.h>

struct aur_kv;

struct aur_instance_args {
	const char *config; /* path or URL of the config file, or NULL */
	struct aur_kv *sets; /* --set pairs; ownership passes (may be NULL) */
	const char *cloud_config; /* --cloud-config: file, URL, "-"; or NULL */
};

struct aur_instance {
	struct aur_config *cfg;
	char *state_dir; /* absolute, a writable directory */
	char *cloud_config; /* rendered, or NULL */
	char *cloud_config_raw; /* as read (--cloud-config), or NULL */
	struct aur_tree *tree;
	struct aur_build_ctx build; /* what the builders were given */
};

/* Load, check and set up everything. Logs what was wrong; 0 or -errno. */
int aur_instance_open(const struct aur_instance_args *args,
		      struct aur_instance **out);

/* Free the tree (releasing every built file), the config and the rest.
 * NULL-safe. */
void aur_instance_close(struct aur_instance *in);

#endif
