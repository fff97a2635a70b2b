// SPDX-License-Identifier: GPL-2.0-or-later
#include "test_helpers.h"

#include <aurora/config.h>
#include <aurora/release.h>

#include <stdlib.h>
#include <string.h>

static void semver_order_matches_go(void **state)
{
	assert_true(aur_semver_compare("v2.4.0", "v2.4.0") == 0);
	assert_true(aur_semver_compare("v2.3.9", "v2.4.0") < 0);
	assert_true(aur_semver_compare("v2.10.0", "v2.9.0") > 0);
	assert_true(aur_semver_compare("v2.4.0-rc1", "v2.4.0") < 0);
	assert_true(aur_semver_compare("v2.4.0-rc.2", "v2.4.0-rc.10") < 0);
	assert_true(aur_semver_compare("v2.4.0-alpha", "v2.4.0-1") > 0);
	assert_true(aur_semver_compare("v2.4.0+build", "v2.4.0") == 0);
	assert_true(aur_semver_compare("v2", "v2.0.0") == 0);
	assert_true(aur_semver_compare("v2.4", "v2.4.0") == 0);
	/* invalid versions are older than any valid one */
	assert_true(aur_semver_compare("2.4.0", "v0.0.1") < 0);
	assert_true(aur_semver_compare("v02.4.0", "v0.0.1") < 0);
	assert_true(aur_semver_compare("latest", "nightly") == 0);
	assert_true(aur_semver_compare("v2.4-rc1", "v0.0.1") < 0);
}

static char *name_for(const char *version, const char *av, const char *variant)
{
	struct aur_config cfg = {0};

	cfg.release_version = (char *)version;
	cfg.artifact_version = (char *)av;
	cfg.flavor = (char *)"opensuse";
	cfg.flavor_release = (char *)"leap-15.5";
	cfg.variant = (char *)variant;
	return aur_release_asset_name(&cfg);
}

static void asset_names_follow_the_version_eras(void **state)
{
	char *s;

	s = name_for("v1.5.0", "v1.5.0", "standard");
	assert_string_equal(s, "kairos-opensuse-v1.5.0");
	free(s);
	s = name_for("v2.3.0", "v2.3.0", NULL);
	assert_string_equal(s, "core-opensuse-v2.3.0");
	free(s);
	s = name_for("v2.4.0", "v2.4.0", NULL);
	assert_string_equal(s, "kairos-core-opensuse-amd64-generic-v2.4.0");
	free(s);
	s = name_for("v2.4.2", "v2.4.2-k3sv1.28", NULL);
	assert_string_equal(s, "kairos-opensuse-leap-15.5-standard-amd64-"
			       "generic-v2.4.2-k3sv1.28");
	free(s);
	s = name_for("3.0", "v3.0.0", "core"); /* no "v": the oldest era */
	assert_string_equal(s, "core-opensuse-v3.0.0");
	free(s);
}

static void platform_model_and_override(void **state)
{
	struct aur_config cfg = {0};
	char *s;

	cfg.release_version = (char *)"v3.1.0";
	cfg.artifact_version = (char *)"v3.1.0";
	cfg.flavor = (char *)"ubuntu";
	cfg.flavor_release = (char *)"24.04";
	cfg.arch = (char *)"arm64";
	cfg.model = (char *)"rpi4";
	s = aur_release_asset_name(&cfg);
	assert_string_equal(s, "kairos-ubuntu-24.04-core-arm64-rpi4-v3.1.0");
	free(s);
	cfg.platform = (char *)"riscv64";
	s = aur_release_asset_name(&cfg);
	assert_string_equal(s, "kairos-ubuntu-24.04-core-riscv64-rpi4-v3.1.0");
	free(s);
	cfg.release_asset = (char *)"my-asset";
	s = aur_release_asset_name(&cfg);
	assert_string_equal(s, "my-asset");
	free(s);
}

static void asset_urls(void **state)
{
	struct aur_config cfg = {0};
	char *s;

	cfg.repository = (char *)"kairos-io/kairos";
	cfg.release_version = (char *)"v3.1.0";
	s = aur_release_asset_url(&cfg, "x.iso");
	assert_string_equal(s, "https://github.com/kairos-io/kairos/releases/"
			       "download/v3.1.0/x.iso");
	free(s);
	cfg.release_server = (char *)"file:///srv/mirror//";
	s = aur_release_asset_url(&cfg, "x.iso");
	assert_string_equal(
		s, "file:///srv/mirror/kairos-io/kairos/releases/download/"
		   "v3.1.0/x.iso");
	free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(semver_order_matches_go),
		cmocka_unit_test(asset_names_follow_the_version_eras),
		cmocka_unit_test(platform_model_and_override),
		cmocka_unit_test(asset_urls),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
