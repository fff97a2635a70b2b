/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * staging.h - a scratch directory for the standard tools that build small
 * pieces (xorriso, mkfs.vfat, mcopy, grub-mkimage): files are written into
 * it from memory or from a rootfs, all with one fixed time, and the whole
 * directory goes when the staging is closed. It lives in
 * <state_dir>/tmp, next to the store the results go to.
 */
#ifndef AURORA_STAGING_H
#define AURORA_STAGING_H

#include <stddef.h>
#include <time.h>

struct aur_fnode;
struct aur_staging;

/* A new, empty staging directory. @what names the work in messages.
 * 0 or -errno (logged). */
int aur_staging_open(const char *state_dir, const char *what, time_t epoch,
		     struct aur_staging **out);

/* Remove the directory and everything in it; NULL-safe. */
void aur_staging_close(struct aur_staging *s);

/* The absolute path of @rel in the staging directory. Caller frees. */
char *aur_staging_path(const struct aur_staging *s, const char *rel);

/* Write @rel (making its directories) with @len bytes of @data, or, when
 * @data is NULL, with the data of rootfs file @node. Its time is the
 * staging's epoch. 0 or -errno (logged). */
int aur_staging_put(struct aur_staging *s, const char *rel, const void *data,
		    size_t len, const struct aur_fnode *node);

/* Give every directory of @rel (a subtree; "" for all) the staging's
 * epoch too: tools record directories' times, and writing files into a
 * directory changes its time. Call it before running a tool on the tree.
 * 0 or -errno. */
int aur_staging_settle(struct aur_staging *s, const char *rel);

/* The staging's epoch as "SOURCE_DATE_EPOCH=<n>", for the tools' env. */
const char *aur_staging_epoch_env(const struct aur_staging *s);

#endif
