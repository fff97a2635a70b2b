/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * kairos.h - what a Kairos root filesystem says about itself: the
 * os-release style /etc/kairos-release (before Kairos 3.2, /etc/os-release)
 * and the output name AuroraBoot derives from it:
 *
 *   <FLAVOR>-<FLAVOR_RELEASE>-<VARIANT>-<ARCH>-<MODEL>-<VERSION>
 *     [+ "-<SOFTWARE_VERSION_PREFIX><SOFTWARE_VERSION>" for VARIANT=standard]
 *   (ARCH falls back to TARGETARCH), or without a kairos-release file
 *   <FLAVOR>-<IMAGE_LABEL> from os-release
 *
 * each key read as KAIROS_<KEY>. Outputs are called "kairos-" plus it.
 */
#ifndef AURORA_KAIROS_H
#define AURORA_KAIROS_H

#include <stddef.h>

struct aur_rootfs;

/* The value of @key in os-release text @text (@len bytes): quotes removed,
 * backslash escapes inside double quotes undone. Caller frees; NULL if the
 * key is absent (or ENOMEM: errno tells). */
char *aur_os_release_get(const char *text, size_t len, const char *key);

/* The name AuroraBoot derives from @fs (see above), without "kairos-".
 * Caller frees. NULL with errno: ENOENT when neither file exists. */
char *aur_kairos_name(const struct aur_rootfs *fs);

/* KAIROS_<key> of @fs's kairos-release (or os-release); caller frees; NULL
 * if absent. */
char *aur_kairos_release_get(const struct aur_rootfs *fs, const char *key);

#endif
