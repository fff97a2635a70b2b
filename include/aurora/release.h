/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * release.h - where a Kairos release's assets live.
 *
 * The asset base name depends on the release_version, as AuroraBoot
 * computes it (Go semver order; a version without a leading "v" is older
 * than every valid one):
 *   < v2.4.0  <variant>-<flavor>-<artifact_version>  (standard -> kairos)
 *   < v2.4.2  kairos-<variant>-<flavor>-<platform>-<model>-<artifact_version>
 *   else      kairos-<flavor>-<flavor_release>-<variant>-<platform>-<model>-
 *             <artifact_version>
 * variant defaults to "standard" if artifact_version contains "k3s", else
 * "core"; platform to arch, then "amd64"; model to "generic". The config
 * key release_asset replaces the computed name.
 */
#ifndef AURORA_RELEASE_H
#define AURORA_RELEASE_H

struct aur_config;

/* Compare two versions in Go's golang.org/x/mod/semver order: <0, 0, >0. */
int aur_semver_compare(const char *a, const char *b);

/* The asset base name (without ".iso"). Caller frees. NULL on ENOMEM. */
char *aur_release_asset_name(const struct aur_config *cfg);

/* <release_server>/<repository>/releases/download/<release_version>/<file>.
 * Caller frees. NULL on ENOMEM. */
char *aur_release_asset_url(const struct aur_config *cfg, const char *file);

#endif
