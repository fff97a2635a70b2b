// SPDX-License-Identifier: GPL-2.0-or-later
/* The output name a Kairos rootfs gives itself, as AuroraBoot derives it. */
#include "test_helpers.h"

#include <aurora/kairos.h>
#include <aurora/rootfs.h>
#include <aurora/source.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static struct aur_mem_source files[4];
static int nfiles;

static void put_file(struct aur_rootfs *fs, const char *path, const char *text)
{
	struct aur_fnode proto = {.mode = S_IFREG | 0644};
	struct aur_mem_source *ms = &files[nfiles++];

	aur_mem_source_init(ms, text, strlen(text));
	proto.src = &ms->src;
	proto.size = strlen(text);
	assert_non_null(aur_rootfs_put(fs, path, &proto));
}

static char *name_of(const char *kairos_release, const char *os_release)
{
	struct aur_rootfs *fs = aur_rootfs_new();
	char *name;

	nfiles = 0;
	if (kairos_release)
		put_file(fs, "/etc/kairos-release", kairos_release);
	if (os_release)
		put_file(fs, "/etc/os-release", os_release);
	name = aur_kairos_name(fs);
	aur_rootfs_free(fs);
	return name;
}

static void names(void **state)
{
	char *n;

	n = name_of(
		"KAIROS_FLAVOR=\"ubuntu\"\nKAIROS_FLAVOR_RELEASE=\"24.04\"\n"
		"KAIROS_VARIANT=core\nKAIROS_ARCH=amd64\n"
		"KAIROS_MODEL=generic\nKAIROS_VERSION=\"v3.3.1\"\n",
		NULL);
	assert_string_equal(n, "ubuntu-24.04-core-amd64-generic-v3.3.1");
	free(n);
	/* standard images carry the k8s distribution and version */
	n = name_of("KAIROS_FLAVOR=ubuntu\nKAIROS_FLAVOR_RELEASE=24.04\n"
		    "KAIROS_VARIANT=standard\nKAIROS_TARGETARCH=arm64\n"
		    "KAIROS_MODEL=rpi4\nKAIROS_VERSION=v3.3.1\n"
		    "KAIROS_SOFTWARE_VERSION_PREFIX=k3s\n"
		    "KAIROS_SOFTWARE_VERSION='v1.32.1+k3s1'\n",
		    NULL);
	assert_string_equal(
		n, "ubuntu-24.04-standard-arm64-rpi4-v3.3.1-k3sv1.32.1+k3s1");
	free(n);
	/* before Kairos 3.2: os-release, flavor and image label */
	n = name_of(NULL,
		    "NAME=x\nKAIROS_FLAVOR=opensuse\n"
		    "KAIROS_IMAGE_LABEL=\"leap-15.5-core-amd64-v2.4.0\"\n");
	assert_string_equal(n, "opensuse-leap-15.5-core-amd64-v2.4.0");
	free(n);
	assert_null(name_of(NULL, NULL));
	assert_int_equal(errno, ENOENT);
}

static void os_release_values(void **state)
{
	static const char text[] = "A=1\n  B=\"two \\\"quoted\\\"\"\r\n"
				   "C='x y'\nA=last\nD=\n";
	char *v;

	v = aur_os_release_get(text, strlen(text), "A");
	assert_string_equal(v, "last");
	free(v);
	v = aur_os_release_get(text, strlen(text), "B");
	assert_string_equal(v, "two \"quoted\"");
	free(v);
	v = aur_os_release_get(text, strlen(text), "C");
	assert_string_equal(v, "x y");
	free(v);
	v = aur_os_release_get(text, strlen(text), "D");
	assert_string_equal(v, "");
	free(v);
	assert_null(aur_os_release_get(text, strlen(text), "E"));
	assert_null(aur_os_release_get(text, strlen(text), "A="));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(names),
		cmocka_unit_test(os_release_values),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
