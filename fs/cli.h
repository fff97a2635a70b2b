/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * cli.h - the aurorafs command line, compatible with AuroraBoot's:
 *
 *   aurorafs [--set key=value]... [--cloud-config PATH|URL|-] [--debug]
 *            [-f] [-o OPTIONS] [CONFIG] MOUNTPOINT
 *
 * Options may come before or after the positional arguments (mount.fuse3
 * puts "-o ..." last). Mount options that aurorafs understands itself
 * (cloud_config=, state_dir=, set.KEY=VALUE, log_file=) are taken out of
 * -o, so that an fstab line can say everything the command line can.
 */
#ifndef AURORAFS_CLI_H
#define AURORAFS_CLI_H

#include <stdbool.h>
#include <stddef.h>

struct aur_kv;

struct aur_cli {
	struct aur_kv *sets; /* owned: --set pairs, NULL if none */
	char *cloud_config; /* owned; NULL if not given */
	char *log_file; /* owned; NULL if not given */
	const char *config; /* borrowed from argv; NULL if not given */
	const char *mountpoint; /* borrowed from argv */
	char *fuse_opts; /* owned: -o options for libfuse, or NULL */
	bool debug, fuse_debug, foreground, help, version;
};

/* Parse argv. Logs the problem and returns -EINVAL on bad usage. With
 * --help or --version, mountpoint may be NULL. */
int aur_cli_parse(int argc, char **argv, struct aur_cli *cli);
void aur_cli_release(struct aur_cli *cli);

/* The usage text. */
extern const char aur_cli_usage[];

#endif
