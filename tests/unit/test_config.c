// SPDX-License-Identifier: GPL-2.0-or-later
#include "failalloc.h"
#include "test_helpers.h"

#include <aurora/config.h>
#include <aurora/kv.h>
#include <aurora/log.h>
#include <aurora/util.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>

static int teardown(void **state)
{
	failalloc_disarm();
	release_logs();
	return 0;
}

static struct aur_config *load(const char *yaml, struct aur_kv *sets, int *r)
{
	struct aur_config *cfg = NULL;

	*r = aur_config_load(yaml, yaml ? strlen(yaml) : 0, "test.yaml", sets,
			     &cfg);
	return cfg;
}

static void every_key_is_typed(void **state)
{
	const char *yaml = "container_image: quay.io/kairos/ubuntu:24.04\n"
			   "repository: kairos-io/kairos\n"
			   "release_version: v3.2.1\n"
			   "artifact_version: v3.2.1-k3sv1.31\n"
			   "flavor: ubuntu\n"
			   "flavor_release: '24.04'\n"
			   "variant: standard\n"
			   "model: rpi4\n"
			   "arch: arm64\n"
			   "disable_netboot: true\n"
			   "disable_http_server: yes\n"
			   "disable_iso: false\n"
			   "netboot_http_port: 9000\n"
			   "state_dir: /var/lib/x\n"
			   "allow-insecure-registries: true\n"
			   "iso:\n"
			   "  override_name: custom\n"
			   "  include_date: true\n"
			   "  extend-live-cmdline: rd.debug\n"
			   "  live_console: console=ttyS1\n"
			   "netboot:\n"
			   "  cmdline: quiet\n"
			   "disk:\n"
			   "  efi: true\n"
			   "  size: '16000'\n"
			   "  state_size: 8000\n"
			   "system:\n"
			   "  kvm: true\n"
			   "cloud_config: |\n"
			   "  #cloud-config\n"
			   "  hostname: x\n";
	struct aur_config *cfg;
	int r;

	capture_logs();
	cfg = load(yaml, NULL, &r);
	assert_int_equal(r, 0);
	assert_string_equal(cfg->container_image,
			    "quay.io/kairos/ubuntu:24.04");
	assert_string_equal(cfg->flavor_release, "24.04");
	assert_string_equal(cfg->netboot_http_port, "9000");
	assert_true(cfg->disable_netboot);
	assert_true(cfg->disable_http_server);
	assert_false(cfg->disable_iso);
	assert_true(cfg->allow_insecure_registries);
	assert_string_equal(cfg->iso.override_name, "custom");
	assert_true(cfg->iso.include_date);
	assert_string_equal(cfg->iso.extend_live_cmdline, "rd.debug");
	assert_string_equal(cfg->iso.live_console, "console=ttyS1");
	assert_string_equal(cfg->netboot.cmdline, "quiet");
	assert_true(cfg->disk.efi);
	assert_int_equal(cfg->disk.size_mib, 16000);
	assert_int_equal(cfg->disk.state_size_mib, 8000);
	assert_true(cfg->system.kvm);
	assert_string_equal(cfg->cloud_config, "#cloud-config\nhostname: x\n");
	assert_string_equal(cfg->release_server, "https://github.com");
	/* nothing unknown, nothing wrong */
	assert_string_equal(captured_logs(), "");
	assert_int_equal(aur_config_validate(cfg), 0);
	aur_config_free(cfg);
}

static void unknown_keys_warn_with_location(void **state)
{
	struct aur_config *cfg;
	int r;

	capture_logs();
	cfg = load("flavor: x\nfoo: 1\niso:\n  colour: red\n", NULL, &r);
	assert_int_equal(r, 0);
	assert_non_null(strstr(captured_logs(),
			       "test.yaml:2: unknown key 'foo' (ignored)"));
	assert_non_null(strstr(captured_logs(),
			       "test.yaml:4: unknown key 'iso.colour'"));
	aur_config_free(cfg);
}

static void bad_values_name_key_and_line(void **state)
{
	struct aur_config *cfg;
	int r;

	capture_logs();
	cfg = load("flavor: x\n\ndisable_iso: maybe\n", NULL, &r);
	assert_int_equal(r, -EINVAL);
	assert_null(cfg);
	assert_non_null(strstr(captured_logs(), "test.yaml:3: key "
						"'disable_iso' must be true or "
						"false, not 'maybe'"));

	capture_logs();
	cfg = load("disk:\n  size: 12GB\n", NULL, &r);
	assert_int_equal(r, -EINVAL);
	assert_non_null(
		strstr(captured_logs(), "test.yaml:2: key 'disk.size'"));

	capture_logs();
	cfg = load("flavor:\n  - a\n", NULL, &r);
	assert_int_equal(r, -EINVAL);
	assert_non_null(strstr(captured_logs(),
			       "key 'flavor' must be a string, not a list"));
}

/* Every kind of bad value names file:line, the key and what is wrong. */
static void bad_value_types_name_file_and_line(void **state)
{
	struct aur_kv *sets = NULL;
	int r;

	static const struct {
		const char *yaml, *message;
	} cases[] = {
		{"flavor:\n  a: b\n",
		 "test.yaml:2: key 'flavor' must be a string, not a mapping"},
		{"flavor: x\nrepository: [a]\n",
		 "test.yaml:2: key 'repository' must be a string, not a list"},
		{"disable_iso: [true]\n",
		 "test.yaml:1: key 'disable_iso' must be true or false, not a "
		 "list"},
		{"iso:\n  include_date: 2\n",
		 "test.yaml:2: key 'iso.include_date' must be true or false, "
		 "not '2'"},
		{"disk:\n  size: {a: 1}\n",
		 "test.yaml:2: key 'disk.size' must be a size in MiB (a whole "
		 "number), not a mapping"},
		{"disk:\n\n  state_size: -1\n",
		 "test.yaml:3: key 'disk.state_size' must be a size in MiB (a "
		 "whole number), not '-1'"},
		{"netboot: quiet\n", "test.yaml:1: key 'netboot' must be a "
				     "mapping"},
		{"system:\n  - kvm\n", "test.yaml:2: key 'system' must be a "
				       "mapping"},
		{"iso:\n  data:\n    a: b\n",
		 "test.yaml:3: key 'iso.data' must be a string, not a mapping"},
		{"insecure: perhaps\n", "test.yaml:1: key 'insecure' must be "
					"true or false, not 'perhaps'"},
	};

	for (size_t i = 0; i < AUR_ARRAY_SIZE(cases); i++) {
		struct aur_config *cfg;
		char want[256];

		capture_logs();
		cfg = load(cases[i].yaml, NULL, &r);
		assert_int_equal(r, -EINVAL);
		assert_null(cfg);
		snprintf(want, sizeof(want), "%s\n", cases[i].message);
		assert_string_equal(captured_logs(), want);
	}

	/* a --set pair has no line: the message says where it came from */
	capture_logs();
	assert_int_equal(aur_config_add_set(&sets, "disk.size=lots"), 0);
	assert_null(load("disk:\n  size: 1\n", sets, &r));
	assert_int_equal(r, -EINVAL);
	assert_string_equal(captured_logs(),
			    "--set: key 'disk.size' must be a size in MiB (a "
			    "whole number), not 'lots'\n");
}

/* A null value (empty, ~, null) leaves the key unset, as in Go. */
static void null_values_leave_keys_unset(void **state)
{
	struct aur_config *cfg;
	int r;

	capture_logs();
	cfg = load("flavor: ~\ndisable_iso:\nrepository: null\n"
		   "disk:\n  size: Null\n  efi: NULL\niso: ~\n"
		   "variant: 'null'\n",
		   NULL, &r);
	assert_int_equal(r, 0);
	assert_null(cfg->flavor);
	assert_null(cfg->repository);
	assert_false(cfg->disable_iso);
	assert_int_equal(cfg->disk.size_mib, 0);
	assert_false(cfg->disk.efi);
	assert_string_equal(cfg->variant, "null"); /* quoted: a string */
	assert_string_equal(captured_logs(), "");
	aur_config_free(cfg);

	cfg = load("---\n", NULL, &r);
	assert_int_equal(r, 0);
	assert_null(cfg->flavor);
	aur_config_free(cfg);
}

static void yaml_syntax_errors_have_a_position(void **state)
{
	struct aur_config *cfg;
	int r;

	capture_logs();
	cfg = load("flavor: x\n  bad: [\n", NULL, &r);
	assert_int_equal(r, -EINVAL);
	assert_null(cfg);
	assert_non_null(strstr(captured_logs(), "test.yaml:2:"));

	capture_logs();
	cfg = load("- a\n- b\n", NULL, &r);
	assert_int_equal(r, -EINVAL);
	assert_non_null(strstr(captured_logs(), "must be a mapping"));
}

static void duplicate_keys_are_errors_at_every_level(void **state)
{
	struct aur_kv *sets = NULL;
	struct aur_config *cfg;
	int r;

	capture_logs();
	cfg = load("flavor: a\nrepository: b\nflavor: c\n", NULL, &r);
	assert_int_equal(r, -EINVAL);
	assert_null(cfg);
	assert_non_null(strstr(captured_logs(),
			       "test.yaml:3: mapping key 'flavor' already "
			       "defined at line 1"));

	/* every duplicate of one run is reported, nested ones too */
	capture_logs();
	cfg = load("iso:\n  name: a\n  override_name: b\n  name: c\n"
		   "disk: {efi: true, efi: false}\n"
		   "x:\n  - {k: 1}\n  - {k: 1, k: 2}\n"
		   "iso: again\n",
		   NULL, &r);
	assert_int_equal(r, -EINVAL);
	assert_string_equal(captured_logs(),
			    "test.yaml:4: mapping key 'name' already defined "
			    "at line 2\n"
			    "test.yaml:5: mapping key 'efi' already defined "
			    "at line 5\n"
			    "test.yaml:8: mapping key 'k' already defined at "
			    "line 8\n"
			    "test.yaml:9: mapping key 'iso' already defined "
			    "at line 1\n");

	/* --set pairs may repeat a key of the file: the last one wins */
	capture_logs();
	assert_int_equal(aur_config_add_set(&sets, "flavor=b"), 0);
	assert_int_equal(aur_config_add_set(&sets, "flavor=c"), 0);
	cfg = load("flavor: a\n", sets, &r);
	assert_int_equal(r, 0);
	assert_string_equal(cfg->flavor, "c");
	aur_config_free(cfg);
}

static void a_second_document_is_an_error(void **state)
{
	struct aur_config *cfg;
	int r;

	capture_logs();
	cfg = load("flavor: x\n\n---\nflavor: y\n", NULL, &r);
	assert_int_equal(r, -EINVAL);
	assert_null(cfg);
	assert_non_null(strstr(captured_logs(),
			       "test.yaml:3: a second YAML document starts "
			       "here"));

	capture_logs();
	cfg = load("flavor: x\n---\n", NULL, &r);
	assert_int_equal(r, -EINVAL);
	assert_non_null(strstr(captured_logs(), "test.yaml:2: a second"));

	/* one document, with its explicit start and end markers */
	capture_logs();
	cfg = load("---\nflavor: x\n...\n", NULL, &r);
	assert_int_equal(r, 0);
	assert_string_equal(cfg->flavor, "x");
	assert_string_equal(captured_logs(), "");
	aur_config_free(cfg);
}

static void no_source_is_an_error(void **state)
{
	struct aur_config *cfg;
	int r;

	capture_logs();
	cfg = load("repository: a/b\nrelease_version: v1\nflavor: x\n", NULL,
		   &r);
	assert_int_equal(r, 0);
	assert_int_equal(aur_config_validate(cfg), -EINVAL);
	assert_non_null(strstr(captured_logs(),
			       "no source defined: provide container_image "
			       "or a complete release artifact "
			       "configuration"));
	aur_config_free(cfg);

	cfg = load("container_image: x\ndisk:\n  partitions: true\n  vhd: "
		   "true\n",
		   NULL, &r);
	assert_int_equal(aur_config_validate(cfg), -EINVAL);
	aur_config_free(cfg);
}

static void set_pairs_nest_and_override(void **state)
{
	struct aur_kv *sets = NULL;
	struct aur_config *cfg;
	int r;

	capture_logs();
	assert_int_equal(aur_config_add_set(&sets, "flavor=debian"), 0);
	assert_int_equal(aur_config_add_set(&sets, "iso.override_name=a"), 0);
	assert_int_equal(aur_config_add_set(&sets, "iso.override_name=b"), 0);
	assert_int_equal(
		aur_config_add_set(&sets, "iso.extend-live-cmdline=x=y z"), 0);
	assert_int_equal(aur_config_add_set(&sets, "disable_iso=true"), 0);
	assert_int_equal(aur_config_add_set(&sets, "disk.raw=true"), 0);
	assert_int_equal(aur_config_add_set(&sets, "DISK.MBR=true"), 0);
	assert_int_equal(aur_config_add_set(&sets, "custom.key=value"), 0);
	cfg = load("flavor: ubuntu\ndisable_iso: false\niso:\n  name: keep\n",
		   sets, &r);
	assert_int_equal(r, 0);
	assert_string_equal(cfg->flavor, "debian");
	assert_string_equal(cfg->iso.override_name, "b");
	assert_string_equal(cfg->iso.name, "keep");
	assert_string_equal(cfg->iso.extend_live_cmdline, "x=y z");
	assert_true(cfg->disable_iso);
	assert_true(cfg->disk.efi);
	assert_true(cfg->disk.bios);
	/* the pairs stay available as template data */
	assert_string_equal(aur_kv_get(cfg->set_values, "custom.key")->value,
			    "value");
	assert_true(aur_kv_get(cfg->set_values, "disable_iso")->plain);
	aur_config_free(cfg);
}

static void malformed_set_pairs_are_rejected(void **state)
{
	struct aur_kv *sets = NULL;

	capture_logs();
	assert_int_equal(aur_config_add_set(&sets, "novalue"), -EINVAL);
	assert_int_equal(aur_config_add_set(&sets, "=x"), -EINVAL);
	assert_int_equal(aur_config_add_set(&sets, "a..b=x"), -EINVAL);
	assert_non_null(strstr(captured_logs(), "expected key=value"));
	aur_kv_free(sets);
}

static void deprecated_keys_are_migrated(void **state)
{
	struct aur_config *cfg;
	int r;

	capture_logs();
	cfg = load("insecure: true\niso:\n  data: /srv/overlay\n", NULL, &r);
	assert_int_equal(r, 0);
	assert_true(cfg->allow_insecure_registries);
	assert_string_equal(cfg->iso.overlay_iso, "/srv/overlay");
	assert_non_null(strstr(captured_logs(), "'iso.data' is deprecated"));
	aur_config_free(cfg);

	cfg = load("insecure: true\nallow-insecure-registries: false\n", NULL,
		   &r);
	assert_false(cfg->allow_insecure_registries);
	aur_config_free(cfg);
}

/* A log sink that allocates nothing: remembers the last error. */
static void mac_addresses(void **state)
{
	static const char *const good[] = {
		"52:54:00:a0:77:01", "52-54-00-A0-77-01", "52:54:00:A0:77:01"};
	static const char *const bad[] = {"",
					  "52:54:00:a0:77",
					  "52:54:00:a0:77:01:02",
					  "52-54:00-a0:77-01",
					  "52:54:00:a0:77:0g",
					  "5:254:00:a0:77:01",
					  "52.54.00.a0.77.01",
					  "525400a07701",
					  "52:54:00:a0:77:1 "};
	uint8_t mac[6];
	char text[AUR_MAC_STRLEN];

	for (size_t i = 0; i < AUR_ARRAY_SIZE(good); i++) {
		assert_int_equal(aur_mac_parse(good[i], mac), 0);
		aur_mac_format(mac, text);
		assert_string_equal(text, "52:54:00:a0:77:01");
	}
	for (size_t i = 0; i < AUR_ARRAY_SIZE(bad); i++)
		assert_int_equal(aur_mac_parse(bad[i], mac), -EINVAL);
}

static void machines_are_keyed_by_canonical_mac(void **state)
{
	struct aur_kv *sets = NULL;
	struct aur_config *cfg;
	const struct aur_kv *m;
	int r;

	assert_int_equal(aur_config_add_set(&sets, "machines.52:54:00:A0:77:"
						   "01.role=master"),
			 0);
	capture_logs();
	cfg = load("flavor: x\n"
		   "machines:\n"
		   "  default: {role: worker, hostname: anon}\n"
		   "  52-54-00-a0-77-01: {hostname: node-1}\n"
		   "  aa:bb:cc:dd:ee:ff: ~\n",
		   sets, &r);
	assert_int_equal(r, 0);
	assert_null(strstr(captured_logs(), "unknown key"));
	m = aur_kv_get(cfg->machines, "default");
	assert_non_null(m);
	assert_string_equal(aur_kv_child(m, "role")->value, "worker");
	m = aur_kv_child(cfg->machines, "52:54:00:a0:77:01");
	assert_non_null(m);
	assert_string_equal(aur_kv_child(m, "hostname")->value, "node-1");
	assert_string_equal(aur_kv_child(m, "role")->value, "master");
	assert_null(aur_kv_child(cfg->machines, "aa:bb:cc:dd:ee:ff"));
	aur_config_free(cfg);

	cfg = load("machines:\n  bogus: {a: b}\n  default: [1]\n", NULL, &r);
	assert_int_equal(r, -EINVAL);
	assert_null(cfg);
	assert_non_null(strstr(captured_logs(),
			       "test.yaml:2: 'machines.bogus': not a MAC"));
	assert_non_null(strstr(captured_logs(),
			       "test.yaml:3: 'machines.default' must be a "
			       "mapping"));
}

static void last_error_sink(void *ctx, int level, const char *msg)
{
	if (level <= LOG_ERR)
		snprintf(ctx, 256, "%s", msg);
}

static void out_of_memory_is_reported(void **state)
{
	const char *yaml = "flavor: x\ndisable_iso: true\niso:\n  name: n\n";
	char last_error[256];

	for (unsigned long n = 1;; n++) {
		struct aur_config *cfg = NULL;
		struct aur_kv *sets = NULL;
		int r;

		/* a fresh sink: the same error again is not held back */
		aur_log_set_sink(last_error_sink, last_error);
		last_error[0] = '\0';
		assert_int_equal(aur_config_add_set(&sets, "iso.data=/srv"), 0);
		failalloc_arm(n);
		r = aur_config_load(yaml, strlen(yaml), "test.yaml", sets,
				    &cfg);
		failalloc_disarm();
		if (!failalloc_fired()) {
			assert_int_equal(r, 0);
			assert_string_equal(cfg->iso.overlay_iso, "/srv");
			aur_config_free(cfg);
			break;
		}
		assert_int_equal(r, -ENOMEM);
		assert_null(cfg);
		assert_string_equal(last_error,
				    "config 'test.yaml': out of memory");
	}
	for (unsigned long n = 1;; n++) {
		struct aur_kv *sets = NULL;
		int r;

		aur_log_set_sink(last_error_sink, last_error);
		last_error[0] = '\0';
		failalloc_arm(n);
		r = aur_config_add_set(&sets, "a.b=c");
		failalloc_disarm();
		aur_kv_free(sets);
		if (!failalloc_fired()) {
			assert_int_equal(r, 0);
			break;
		}
		assert_int_equal(r, -ENOMEM);
		assert_string_equal(last_error, "--set 'a.b=c': out of memory");
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(every_key_is_typed, teardown),
		cmocka_unit_test_teardown(unknown_keys_warn_with_location,
					  teardown),
		cmocka_unit_test_teardown(bad_values_name_key_and_line,
					  teardown),
		cmocka_unit_test_teardown(bad_value_types_name_file_and_line,
					  teardown),
		cmocka_unit_test_teardown(null_values_leave_keys_unset,
					  teardown),
		cmocka_unit_test_teardown(yaml_syntax_errors_have_a_position,
					  teardown),
		cmocka_unit_test_teardown(
			duplicate_keys_are_errors_at_every_level, teardown),
		cmocka_unit_test_teardown(a_second_document_is_an_error,
					  teardown),
		cmocka_unit_test_teardown(no_source_is_an_error, teardown),
		cmocka_unit_test_teardown(set_pairs_nest_and_override,
					  teardown),
		cmocka_unit_test_teardown(malformed_set_pairs_are_rejected,
					  teardown),
		cmocka_unit_test_teardown(deprecated_keys_are_migrated,
					  teardown),
		cmocka_unit_test_teardown(out_of_memory_is_reported, teardown),
		cmocka_unit_test_teardown(mac_addresses, teardown),
		cmocka_unit_test_teardown(machines_are_keyed_by_canonical_mac,
					  teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
