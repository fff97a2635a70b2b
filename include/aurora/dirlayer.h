/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * dirlayer.h - a local directory as a layer: a snapshot of its tree
 * written as a tar into the layer store, so that it is applied like any
 * image layer (rootfs.h) and what is built from it stays the same even if
 * the directory changes. Used for dir: sources and iso.overlay_rootfs.
 *
 * The tar is deterministic: entries in name order, owners, modes, times,
 * device numbers, symlinks, hard links and xattrs as the directory has
 * them. It is named by its SHA-256 (<state_dir>/layers/<hex>.tar, like an
 * image layer's diff_id), so the same tree gives the same file and what is
 * built from it is found again in the store.
 */
#ifndef AURORA_DIRLAYER_H
#define AURORA_DIRLAYER_H

#include <stdint.h>

/*
 * Snapshot @dir into the layer store of @state_dir. Entries whose path
 * relative to @dir is in @exclude (NULL-terminated, e.g. "proc"; may be
 * NULL) are kept as empty directories, as AuroraBoot's rsync excludes
 * keep them. On success *@path (caller frees) is the stored tar and
 * @digest its SHA-256 in hex. Logs what is wrong; 0 or -errno.
 */
int aur_dir_layer(const char *state_dir, const char *dir,
		  const char *const *exclude, char **path, char digest[65]);

#endif
