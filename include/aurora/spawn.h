/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * spawn.h - running the standard tools aurorafs builds small pieces with
 * (xorriso for an ISO's boot skeleton, mkfs.vfat and mcopy for an EFI
 * image, grub-mkimage for a BIOS boot image), as AuroraBoot does. No
 * shell: argv as given, standard input from /dev/null, the tool's
 * standard error kept (the last few KiB) for the log line when it fails.
 */
#ifndef AURORA_SPAWN_H
#define AURORA_SPAWN_H

/* Run @argv (argv[0] looked up in PATH) with the extra environment
 * entries @env ("NAME=value", NULL-terminated; may be NULL) and wait.
 * 0 if it exited with status 0; otherwise logs "<what>: <argv[0]> ...:
 * <its last error line>" and returns -EIO (-ENOENT if the tool is not
 * installed). */
int aur_run(const char *const argv[], const char *const env[],
	    const char *what);

#endif
