// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Container image sources without a network: references and source
 * prefixes, documents (indexes, manifests, configs, docker-archive
 * manifests) and platform choice, auth challenges, docker config.json
 * credentials, token answers, the plain-HTTP rule, archive member names,
 * and the layer store (gzip, zstd and plain layers; corrupt, truncated
 * and mismatched ones refused with nothing left behind; two processes
 * storing one layer fetch it once). Registries, daemons and archives are
 * exercised for real in the fs suite.
 */
#include "test_helpers.h"

#include "oci_i.h"

#include <aurora/util.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <zlib.h>
#include <zstd.h>

#define HEX64 "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define D1 "sha256:" HEX64

/* ---- references ---- */

struct ref_case {
	const char *in;
	const char *domain, *path, *tag, *digest;
};

static void test_ref_valid(void **state)
{
	static const struct ref_case cases[] = {
		{"alpine", "docker.io", "library/alpine", "latest", ""},
		{"alpine:3.19", "docker.io", "library/alpine", "3.19", ""},
		{"docker.io/alpine", "docker.io", "library/alpine", "latest",
		 ""},
		{"index.docker.io/library/alpine:edge", "docker.io",
		 "library/alpine", "edge", ""},
		{"kairos/core", "docker.io", "kairos/core", "latest", ""},
		{"quay.io/kairos/ubuntu:24.04-core-amd64-generic-v3.5.0",
		 "quay.io", "kairos/ubuntu", "24.04-core-amd64-generic-v3.5.0",
		 ""},
		{"localhost/demo", "localhost", "demo", "latest", ""},
		{"localhost:5000/a/b/c:v1", "localhost:5000", "a/b/c", "v1",
		 ""},
		{"127.0.0.1:5000/demo:latest", "127.0.0.1:5000", "demo",
		 "latest", ""},
		{"[::1]:5000/demo", "[::1]:5000", "demo", "latest", ""},
		{"Registry.Example/x", "Registry.Example", "x", "latest", ""},
		{"a.b-c.d/x__y.z-w---v:_T.a-g", "a.b-c.d", "x__y.z-w---v",
		 "_T.a-g", ""},
		{"alpine@" D1, "docker.io", "library/alpine", NULL, D1},
		{"quay.io/x/y:tag@" D1, "quay.io", "x/y", "tag", D1},
	};

	for (size_t i = 0; i < AUR_ARRAY_SIZE(cases); i++) {
		const struct ref_case *c = &cases[i];
		struct aur_oci_ref ref;
		char err[AUR_OCI_ERRLEN] = "";

		if (aur_oci_ref_parse(c->in, &ref, err) != 0)
			fail_msg("'%s' rejected: %s", c->in, err);
		assert_string_equal(ref.domain, c->domain);
		assert_string_equal(ref.path, c->path);
		if (c->tag)
			assert_string_equal(ref.tag, c->tag);
		else
			assert_null(ref.tag);
		assert_string_equal(ref.digest, c->digest);
		aur_oci_ref_release(&ref);
	}
	print_message("%zu valid references parsed as Docker does\n",
		      AUR_ARRAY_SIZE(cases));
}

static void test_ref_invalid(void **state)
{
	static const struct {
		const char *in, *why;
	} cases[] = {
		{"", "empty"},
		{"Alpine", "lowercase"},
		{"quay.io/Kairos/x", "lowercase"},
		{"docker.io/library/alpine:", "bad tag"},
		{"alpine:-x", "bad tag"},
		{"alpine:.x", "bad tag"},
		{"alpine:a/b", "bad registry host"},
		{"alpine@sha256:abc", "digest"},
		{"alpine@sha256:" HEX64 "00", "digest"},
		{"alpine@md5:" HEX64, "digest"},
		{"alpine@SHA256:" HEX64, "digest"},
		{"alpine@sha256:" HEX64 "@" D1, "digest"},
		{"quay.io//x", "empty path component"},
		{"quay.io/x/", "empty path component"},
		{"/x", "empty path component"},
		{"x-/y", "bad character"},
		{"a..b/c", "bad registry host"},
		{"-a.b/c", "bad registry host"},
		{"host:port/x", "bad registry host"},
		{"host:123456/x", "bad registry host"},
		{"[zz::1]:5000/x", "bad registry host"},
		{"a/b_-c", "bad character"},
		{"a/b...c", "bad character"},
		{"a/b___c", "bad character"},
		{":tag", "no name"},
		{"x y", "bad character"},
	};
	char longname[300];

	for (size_t i = 0; i < AUR_ARRAY_SIZE(cases); i++) {
		struct aur_oci_ref ref;
		char err[AUR_OCI_ERRLEN] = "";

		if (aur_oci_ref_parse(cases[i].in, &ref, err) != -EINVAL)
			fail_msg("'%s' accepted", cases[i].in);
		if (!strstr(err, cases[i].why))
			fail_msg("'%s': '%s' does not say '%s'", cases[i].in,
				 err, cases[i].why);
		assert_null(ref.domain);
	}
	memset(longname, 'a', sizeof(longname));
	memcpy(longname, "quay.io/", 8);
	longname[sizeof(longname) - 1] = '\0';
	{
		struct aur_oci_ref ref;
		char err[AUR_OCI_ERRLEN];

		assert_int_equal(aur_oci_ref_parse(longname, &ref, err),
				 -EINVAL);
		assert_non_null(strstr(err, "255"));
	}
	print_message("%zu malformed references refused with the reason\n",
		      AUR_ARRAY_SIZE(cases) + 1);
}

static void test_ref_string(void **state)
{
	struct aur_oci_ref ref;
	char err[AUR_OCI_ERRLEN];
	char *s;

	assert_int_equal(aur_oci_ref_parse("alpine", &ref, err), 0);
	s = aur_oci_ref_string(&ref);
	assert_string_equal(s, "docker.io/library/alpine:latest");
	assert_string_equal(aur_oci_ref_api_host(&ref), "registry-1.docker.io");
	assert_string_equal(aur_oci_ref_reference(&ref), "latest");
	free(s);
	aur_oci_ref_release(&ref);
	assert_int_equal(aur_oci_ref_parse("quay.io/x/y:t@" D1, &ref, err), 0);
	s = aur_oci_ref_string(&ref);
	assert_string_equal(s, "quay.io/x/y:t@" D1);
	assert_string_equal(aur_oci_ref_api_host(&ref), "quay.io");
	assert_string_equal(aur_oci_ref_reference(&ref), D1);
	free(s);
	aur_oci_ref_release(&ref);
}

static void test_source_prefixes(void **state)
{
	char *dir = make_temp_dir(), *with_tag, *in;
	struct aur_oci_source src;
	char err[AUR_OCI_ERRLEN];

	assert_int_equal(aur_oci_source_parse("docker://alpine", &src, err), 0);
	assert_int_equal(src.kind, AUR_OCI_SRC_DAEMON);
	assert_string_equal(src.ref.path, "library/alpine");
	aur_oci_source_release(&src);
	assert_int_equal(
		aur_oci_source_parse("docker:quay.io/a/b:1", &src, err), 0);
	assert_int_equal(src.kind, AUR_OCI_SRC_DAEMON);
	assert_string_equal(src.ref.domain, "quay.io");
	aur_oci_source_release(&src);

	/* oci: an existing directory is a layout, with or without a tag */
	in = aur_printf("oci:%s", dir);
	assert_int_equal(aur_oci_source_parse(in, &src, err), 0);
	assert_int_equal(src.kind, AUR_OCI_SRC_LAYOUT);
	assert_string_equal(src.path, dir);
	assert_null(src.tag);
	aur_oci_source_release(&src);
	free(in);
	with_tag = aur_printf("oci://%s:v3.0.0", dir);
	assert_int_equal(aur_oci_source_parse(with_tag, &src, err), 0);
	assert_int_equal(src.kind, AUR_OCI_SRC_LAYOUT);
	assert_string_equal(src.tag, "v3.0.0");
	aur_oci_source_release(&src);
	free(with_tag);
	/* ... else a registry reference */
	assert_int_equal(aur_oci_source_parse("oci:quay.io/x/y:z", &src, err),
			 0);
	assert_int_equal(src.kind, AUR_OCI_SRC_REGISTRY);
	assert_string_equal(src.ref.tag, "z");
	aur_oci_source_release(&src);

	assert_int_equal(aur_oci_source_parse("ocifile:/a/b.tar", &src, err),
			 0);
	assert_int_equal(src.kind, AUR_OCI_SRC_ARCHIVE);
	assert_string_equal(src.path, "/a/b.tar");
	aur_oci_source_release(&src);
	assert_int_equal(aur_oci_source_parse("file:///a/b.tar", &src, err), 0);
	assert_int_equal(src.kind, AUR_OCI_SRC_ARCHIVE);
	assert_string_equal(src.path, "/a/b.tar");
	aur_oci_source_release(&src);
	assert_int_equal(aur_oci_source_parse("dir:rel/root", &src, err), 0);
	assert_int_equal(src.kind, AUR_OCI_SRC_DIR);
	assert_int_equal(src.path[0], '/');
	aur_oci_source_release(&src);
	assert_int_equal(aur_oci_source_parse("dir:", &src, err), -EINVAL);
	assert_int_equal(aur_oci_source_parse("quay.io/kairos/core", &src, err),
			 0);
	assert_int_equal(src.kind, AUR_OCI_SRC_REGISTRY);
	assert_string_equal(src.ref.tag, "latest");
	aur_oci_source_release(&src);
	remove_tree(dir);
	free(dir);
	print_message("docker:, oci: (layout or reference), ocifile:, file:, "
		      "dir: and bare references classified\n");
}

static void test_digest_and_members(void **state)
{
	static const char *const unsafe[] = {
		"",	 "/etc/passwd", "../x", "a/../../x", "a//b",
		"a/./b", ".",		"./",	"a/..",
	};
	char *m;

	assert_true(aur_oci_digest_valid(D1));
	assert_false(aur_oci_digest_valid("sha256:" HEX64 "0"));
	assert_false(aur_oci_digest_valid("sha256:0123"));
	assert_false(aur_oci_digest_valid("sha512:" HEX64));
	assert_false(aur_oci_digest_valid(
		"sha256:0123456789ABCDEF0123456789abcdef0123456789abcdef012345"
		"6789abcdef"));
	for (size_t i = 0; i < AUR_ARRAY_SIZE(unsafe); i++) {
		m = aur_oci_member_name(unsafe[i]);
		if (m)
			fail_msg("unsafe member '%s' accepted", unsafe[i]);
	}
	m = aur_oci_member_name("./blobs/sha256/ab");
	assert_string_equal(m, "blobs/sha256/ab");
	free(m);
	m = aur_oci_member_name("a..b/layer.tar");
	assert_string_equal(m, "a..b/layer.tar");
	free(m);
	print_message("%zu unsafe archive member names refused\n",
		      AUR_ARRAY_SIZE(unsafe));
}

/* ---- documents ---- */

/* JSON templates: "@x" stands for "sha256:" and 64 times x. Caller
 * frees. */
static char *expand(const char *t)
{
	size_t n = strlen(t) * 40 + 1, o = 0;
	char *s = malloc(n);

	assert_non_null(s);
	for (; *t; t++) {
		if (*t == '@' && t[1]) {
			o += (size_t)snprintf(s + o, n - o, "sha256:");
			memset(s + o, t[1], 64);
			o += 64;
			t++;
		} else {
			s[o++] = *t;
		}
	}
	s[o] = '\0';
	return s;
}

static const char index_tmpl[] =
	"{'schemaVersion':2,'mediaType':"
	"'application/vnd.oci.image.index.v1+json','manifests':["
	"{'digest':'@a','size':100,'platform':{'os':'linux',"
	"'architecture':'amd64'}},"
	"{'digest':'@b','size':100,'platform':{'os':'linux',"
	"'architecture':'arm64','variant':'v8'}},"
	"{'digest':'@c','size':100,'platform':{'os':'linux',"
	"'architecture':'arm','variant':'v6'}},"
	"{'digest':'@d','size':100,'platform':{'os':'linux',"
	"'architecture':'arm','variant':'v7'}},"
	"{'digest':'@e','size':100,'platform':{'os':'windows',"
	"'architecture':'amd64'}},"
	"{'digest':'@f','size':100,'platform':{'os':'linux',"
	"'architecture':'unknown'}}]}";

/* A template with ' for " (and @x digests) as real JSON. */
static char *json(const char *t)
{
	char *s = expand(t);

	for (char *p = s; *p; p++)
		if (*p == '\'')
			*p = '"';
	return s;
}

static void expect_select(const char *doc, const char *arch, char hex)
{
	struct aur_oci_platform want;
	struct aur_oci_desc d;
	char err[AUR_OCI_ERRLEN] = "";

	assert_int_equal(aur_oci_platform_init(&want, arch), 0);
	if (aur_oci_index_select(doc, strlen(doc), &want, &d, err) != 0)
		fail_msg("%s: %s", arch, err);
	assert_int_equal(d.digest[7], hex);
	assert_int_equal(d.size, 100);
}

static void test_index_select(void **state)
{
	char *index = json(index_tmpl);
	char *list = json("{'schemaVersion':2,'mediaType':'application/"
			  "vnd.docker.distribution.manifest.list.v2+json',"
			  "'manifests':[{'digest':'@1','size':100,'platform':"
			  "{'os':'linux','architecture':'arm64'}},"
			  "{'digest':'@2','size':100,'platform':"
			  "{'os':'linux','architecture':'amd64'}}]}");
	struct aur_oci_platform want;
	struct aur_oci_desc d;
	enum aur_oci_doc_kind kind;
	char err[AUR_OCI_ERRLEN];

	expect_select(index, "amd64", 'a');
	expect_select(index, "x86_64", 'a');
	expect_select(index, "arm64", 'b');
	expect_select(index, "aarch64", 'b');
	expect_select(index, "arm64/v8", 'b');
	expect_select(index, "arm", 'd'); /* arm means arm/v7 */
	expect_select(index, "arm/v6", 'c');
	expect_select(list, "arm64", '1');
	expect_select(list, "amd64", '2');
	assert_int_equal(aur_oci_doc_kind(list, strlen(list), NULL, &kind, err),
			 0);
	assert_int_equal(kind, AUR_OCI_DOC_INDEX);

	/* none for riscv64: the error lists what there is */
	assert_int_equal(aur_oci_platform_init(&want, "riscv64"), 0);
	assert_int_equal(
		aur_oci_index_select(index, strlen(index), &want, &d, err),
		-ENOENT);
	assert_non_null(strstr(err, "linux/riscv64"));
	assert_non_null(strstr(err,
			       "linux/amd64, linux/arm64/v8, linux/arm/v6, "
			       "linux/arm/v7, windows/amd64"));
	assert_int_equal(aur_oci_platform_init(&want, "sparc"), -EINVAL);
	/* the host's platform is one we know */
	assert_int_equal(aur_oci_platform_init(&want, NULL), 0);
	assert_string_equal(want.os, "linux");
	print_message("platforms chosen from an OCI index and a Docker list; "
		      "host arch is %s; missing one lists: %s\n",
		      want.arch, err);
	free(index);
	free(list);
}

static void test_doc_kinds(void **state)
{
	static const struct {
		const char *json, *type;
		int r;
		enum aur_oci_doc_kind kind;
	} cases[] = {
		{"{\"schemaVersion\":1,\"name\":\"x\"}", NULL, -ENOTSUP, 0},
		{"{\"schemaVersion\":2,\"mediaType\":\"application/"
		 "vnd.docker.distribution.manifest.v1+prettyjws\"}",
		 NULL, -ENOTSUP, 0},
		{"{\"schemaVersion\":2}",
		 "application/vnd.docker.distribution.manifest.v1+json",
		 -ENOTSUP, 0},
		{"{\"schemaVersion\":2,\"manifests\":[]}", NULL, 0,
		 AUR_OCI_DOC_INDEX},
		{"{\"schemaVersion\":2,\"config\":{}}", NULL, 0,
		 AUR_OCI_DOC_MANIFEST},
		{"{\"schemaVersion\":2,\"config\":{}}",
		 "application/vnd.oci.image.manifest.v1+json; charset=utf-8", 0,
		 AUR_OCI_DOC_MANIFEST},
		{"{\"schemaVersion\":2,\"mediaType\":\"text/html\"}", NULL,
		 -EBADMSG, 0},
		{"{\"a\":1,\"a\":2}", NULL, -EBADMSG, 0},
		{"[1,2]", NULL, -EBADMSG, 0},
		{"not json", NULL, -EBADMSG, 0},
	};

	for (size_t i = 0; i < AUR_ARRAY_SIZE(cases); i++) {
		enum aur_oci_doc_kind kind;
		char err[AUR_OCI_ERRLEN] = "";
		int r = aur_oci_doc_kind(cases[i].json, strlen(cases[i].json),
					 cases[i].type, &kind, err);

		if (r != cases[i].r)
			fail_msg("case %zu: %d, not %d (%s)", i, r, cases[i].r,
				 err);
		if (r == 0)
			assert_int_equal(kind, cases[i].kind);
		if (r == -ENOTSUP)
			assert_non_null(strstr(err, "schema 1"));
	}
	print_message("%zu documents classified; schema 1 refused by name\n",
		      AUR_ARRAY_SIZE(cases));
}

#define MANIFEST_HEAD                                                      \
	"{'schemaVersion':2,'mediaType':'application/"                     \
	"vnd.docker.distribution.manifest.v2+json','config':{'mediaType':" \
	"'application/vnd.docker.container.image.v1+json','digest':'@0',"  \
	"'size':1234},'layers':["

static void test_manifest_parse(void **state)
{
	char *ok = json(MANIFEST_HEAD
			"{'mediaType':'application/"
			"vnd.docker.image.rootfs.diff.tar.gzip','digest':"
			"'@1','size':7},{'mediaType':'application/"
			"vnd.oci.image.layer.v1.tar+zstd','digest':'@2',"
			"'size':7},{'mediaType':'application/"
			"vnd.oci.image.layer.v1.tar','digest':'@3','size':"
			"7}]}");
	static const struct {
		const char *tmpl, *why;
		int r;
	} bad[] = {
		{MANIFEST_HEAD "{'mediaType':'application/"
			       "vnd.docker.image.rootfs.foreign.diff.tar.gzip',"
			       "'digest':'@1','size':7}]}",
		 "foreign", -ENOTSUP},
		{MANIFEST_HEAD "{'mediaType':'application/"
			       "vnd.oci.image.layer.v1.tar+gzip+encrypted',"
			       "'digest':'@1','size':7}]}",
		 "encrypted", -ENOTSUP},
		{MANIFEST_HEAD "{'mediaType':'application/x-squashfs','digest':"
			       "'@1','size':7}]}",
		 "unknown", -ENOTSUP},
		{MANIFEST_HEAD "{'digest':'sha256:12','size':7}]}",
		 "not sha256", -EBADMSG},
		{MANIFEST_HEAD "]}", "1 to", -EBADMSG},
		{"{'schemaVersion':1}", "schema 1", -ENOTSUP},
		{"{'schemaVersion':2,'config':{'digest':'@0','size':-1},"
		 "'layers':[]}",
		 "size", -EBADMSG},
	};
	struct aur_oci_manifest m;
	char err[AUR_OCI_ERRLEN];

	assert_int_equal(aur_oci_manifest_parse(ok, strlen(ok), &m, err), 0);
	assert_int_equal(m.config.digest[7], '0');
	assert_int_equal(m.config.size, 1234);
	assert_int_equal(m.nlayers, 3);
	assert_int_equal(m.layers[1].digest[7], '2');
	assert_int_equal(m.layers[2].size, 7);
	aur_oci_manifest_release(&m);
	free(ok);
	for (size_t i = 0; i < AUR_ARRAY_SIZE(bad); i++) {
		char *doc = json(bad[i].tmpl);
		int r = aur_oci_manifest_parse(doc, strlen(doc), &m, err);

		if (r != bad[i].r || !strstr(err, bad[i].why))
			fail_msg("case %zu: %d '%s'", i, r, err);
		free(doc);
	}
	print_message("manifest with 3 layer types read; %zu bad ones "
		      "refused\n",
		      AUR_ARRAY_SIZE(bad));
}

static void test_too_many_layers(void **state)
{
	size_t cap = 200 + (AUR_OCI_LAYERS_MAX + 1) * 120;
	char *json = malloc(cap);
	struct aur_oci_manifest m;
	char err[AUR_OCI_ERRLEN];
	size_t n;

	n = (size_t)snprintf(json, cap,
			     "{\"schemaVersion\":2,\"config\":{\"digest\":\"" D1
			     "\",\"size\":1},\"layers\":[");
	for (unsigned i = 0; i <= AUR_OCI_LAYERS_MAX; i++)
		n += (size_t)snprintf(json + n, cap - n,
				      "%s{\"digest\":\"" D1 "\",\"size\":1}",
				      i ? "," : "");
	n += (size_t)snprintf(json + n, cap - n, "]}");
	assert_int_equal(aur_oci_manifest_parse(json, n, &m, err), -EBADMSG);
	assert_non_null(strstr(err, "layers"));
	free(json);
}

static void test_config_parse(void **state)
{
	static const char ok[] =
		"{\"architecture\":\"arm64\",\"os\":\"linux\",\"variant\":"
		"\"v8\",\"config\":{},\"rootfs\":{\"type\":\"layers\","
		"\"diff_ids\":[\"" D1 "\",\"" D1 "\"]}}";
	static const char *const bad[] = {
		"{\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[\"sha256:"
		"abc\"]}}",
		"{\"rootfs\":{\"type\":\"tar\",\"diff_ids\":[]}}",
		"{\"rootfs\":{\"type\":\"layers\"}}",
		"{\"os\":\"linux-but-with-a-name-far-too-long\",\"rootfs\":"
		"{\"type\":\"layers\",\"diff_ids\":[]}}",
		"[]",
	};
	struct aur_oci_config c;
	char err[AUR_OCI_ERRLEN];

	assert_int_equal(aur_oci_config_parse(ok, sizeof(ok) - 1, &c, err), 0);
	assert_string_equal(c.platform.arch, "arm64");
	assert_string_equal(c.platform.os, "linux");
	assert_string_equal(c.platform.variant, "v8");
	assert_int_equal(c.ndiff_ids, 2);
	assert_string_equal(c.diff_ids[0], D1);
	assert_string_equal(c.diff_ids[1], D1);
	aur_oci_config_release(&c);
	for (size_t i = 0; i < AUR_ARRAY_SIZE(bad); i++)
		if (aur_oci_config_parse(bad[i], strlen(bad[i]), &c, err) !=
		    -EBADMSG)
			fail_msg("bad config %zu accepted", i);
	print_message("config diff_ids and platform read; %zu bad configs "
		      "refused\n",
		      AUR_ARRAY_SIZE(bad));
}

static void test_layout_tags_and_docker_manifest(void **state)
{
	char *layout = json(
		"{'schemaVersion':2,'manifests':[{'digest':'@1','size':1,"
		"'annotations':{'org.opencontainers.image.ref.name':'v1'}},"
		"{'digest':'@2','size':1,'annotations':{'org.opencontainers."
		"image.ref.name':'docker.io/x/y:latest'}}]}");
	char *one = json("{'schemaVersion':2,'manifests':[{'digest':'@3',"
			 "'size':1}]}");
	static const char dm[] =
		"[{\"Config\":\"c.json\",\"RepoTags\":[\"x:1\"],\"Layers\":["
		"\"./a/layer.tar\",\"b.tar\"]},{\"Config\":\"d.json\","
		"\"RepoTags\":[\"x:2\"],\"Layers\":[\"e.tar\"]}]";
	static const char evil[] =
		"[{\"Config\":\"c.json\",\"Layers\":[\"../../etc/shadow\"]}]";
	struct aur_oci_docker_archive d;
	struct aur_oci_desc desc;
	char err[AUR_OCI_ERRLEN];

	assert_int_equal(aur_oci_index_find_tag(layout, strlen(layout), "v1",
						&desc, err),
			 0);
	assert_int_equal(desc.digest[7], '1');
	assert_int_equal(aur_oci_index_find_tag(layout, strlen(layout), NULL,
						&desc, err),
			 0);
	assert_int_equal(desc.digest[7], '2'); /* "latest" is the default */
	assert_int_equal(aur_oci_index_find_tag(layout, strlen(layout), "v9",
						&desc, err),
			 -ENOENT);
	assert_non_null(strstr(err, "v1, docker.io/x/y:latest"));
	assert_int_equal(
		aur_oci_index_find_tag(one, strlen(one), NULL, &desc, err), 0);
	assert_int_equal(desc.digest[7], '3');
	free(layout);
	free(one);

	assert_int_equal(
		aur_oci_docker_manifest_parse(dm, sizeof(dm) - 1, "2", &d, err),
		0);
	assert_string_equal(d.config, "d.json");
	aur_oci_docker_archive_release(&d);
	assert_int_equal(
		aur_oci_docker_manifest_parse(dm, sizeof(dm) - 1, "1", &d, err),
		0);
	assert_int_equal(d.nlayers, 2);
	assert_string_equal(d.layers[0], "a/layer.tar");
	aur_oci_docker_archive_release(&d);
	assert_int_equal(aur_oci_docker_manifest_parse(dm, sizeof(dm) - 1, NULL,
						       &d, err),
			 -ENOENT);
	assert_non_null(strstr(err, "2 images"));
	assert_int_equal(aur_oci_docker_manifest_parse(evil, sizeof(evil) - 1,
						       NULL, &d, err),
			 -EBADMSG);
	assert_non_null(strstr(err, "unsafe"));
}

/* ---- auth ---- */

static void test_challenge(void **state)
{
	struct aur_oci_challenge c;

	assert_int_equal(
		aur_oci_challenge_parse(
			"Bearer realm=\"https://auth.docker.io/token\","
			"service=\"registry.docker.io\",scope=\"repository:"
			"library/alpine:pull\"",
			&c),
		0);
	assert_int_equal(c.scheme, AUR_OCI_AUTH_BEARER);
	assert_string_equal(c.realm, "https://auth.docker.io/token");
	assert_string_equal(c.service, "registry.docker.io");
	assert_string_equal(c.scope, "repository:library/alpine:pull");
	/* case, spaces, unquoted values, escapes, commas in quotes,
	 * unknown params */
	assert_int_equal(aur_oci_challenge_parse(
				 "bearer  realm = \"https://h/t?a=1,b=2\" , "
				 "error=\"insufficient_scope\",service=quay.io,"
				 "scope=\"a\\\"b\"",
				 &c),
			 0);
	assert_string_equal(c.realm, "https://h/t?a=1,b=2");
	assert_string_equal(c.service, "quay.io");
	assert_string_equal(c.scope, "a\"b");
	assert_int_equal(
		aur_oci_challenge_parse("Basic realm=\"Registry\"", &c), 0);
	assert_int_equal(c.scheme, AUR_OCI_AUTH_BASIC);
	assert_int_equal(aur_oci_challenge_parse("Basic", &c), 0);
	assert_int_equal(aur_oci_challenge_parse("Negotiate abc", &c),
			 -ENOTSUP);
	assert_int_equal(aur_oci_challenge_parse("Bearer service=\"x\"", &c),
			 -EINVAL); /* no realm */
	assert_int_equal(aur_oci_challenge_parse("Bearer realm=\"x", &c),
			 -EINVAL);
	assert_int_equal(aur_oci_challenge_parse("Bearer realm", &c), -EINVAL);
	{
		char big[1200] = "Bearer realm=\"";
		size_t n = strlen(big);

		memset(big + n, 'r', 1100);
		snprintf(big + n + 1100, sizeof(big) - n - 1100, "\"");
		assert_int_equal(aur_oci_challenge_parse(big, &c), -EINVAL);
	}
	print_message("WWW-Authenticate: Bearer/Basic parsed; unclosed, "
		      "realm-less and oversized challenges refused\n");
}

static void test_dockercfg(void **state)
{
	char *dir = make_temp_dir(), *path = aur_printf("%s/config.json", dir);
	static const char cfg[] =
		"{\"auths\":{"
		"\"https://index.docker.io/v1/\":{\"auth\":\"aHViOmh1Yg==\"},"
		"\"quay.io\":{\"auth\":\"cXVheTpxdWF5\"},"
		"\"http://127.0.0.1:5000\":{\"username\":\"u\",\"password\":"
		"\"p:w\"},"
		"\"evil.example\":{\"auth\":\"a\\r\\nX-Injected: 1\"},"
		"\"empty.example\":{}"
		"},\"credsStore\":\"desktop\"}";
	char *auth;

	write_file(path, cfg, sizeof(cfg) - 1);
	assert_int_equal(aur_oci_dockercfg_lookup(path, "docker.io", &auth), 0);
	assert_string_equal(auth, "aHViOmh1Yg==");
	free(auth);
	assert_int_equal(
		aur_oci_dockercfg_lookup(path, "registry-1.docker.io", &auth),
		0);
	free(auth);
	assert_int_equal(aur_oci_dockercfg_lookup(path, "Quay.io", &auth), 0);
	assert_string_equal(auth, "cXVheTpxdWF5");
	free(auth);
	/* username and password become base64 "u:p:w" */
	assert_int_equal(
		aur_oci_dockercfg_lookup(path, "127.0.0.1:5000", &auth), 0);
	assert_string_equal(auth, "dTpwOnc=");
	free(auth);
	assert_int_equal(aur_oci_dockercfg_lookup(path, "127.0.0.1", &auth),
			 -ENOENT);
	assert_int_equal(aur_oci_dockercfg_lookup(path, "evil.example", &auth),
			 -ENOENT);
	assert_int_equal(aur_oci_dockercfg_lookup(path, "empty.example", &auth),
			 -ENOENT);
	assert_int_equal(aur_oci_dockercfg_lookup(path, "ghcr.io", &auth),
			 -ENOENT);

	/* where the file is: $DOCKER_CONFIG, else $HOME/.docker */
	setenv("DOCKER_CONFIG", dir, 1);
	auth = aur_oci_dockercfg_path();
	assert_string_equal(auth, path);
	free(auth);
	unsetenv("DOCKER_CONFIG");
	setenv("HOME", "/home/x", 1);
	auth = aur_oci_dockercfg_path();
	assert_string_equal(auth, "/home/x/.docker/config.json");
	free(auth);
	remove_tree(dir);
	free(dir);
	free(path);
	print_message("credentials found by host, index.docker.io alias, "
		      "username/password; header injection refused\n");
}

static void test_token(void **state)
{
	static const char a[] = "{\"token\":\"abc.def\",\"expires_in\":300}";
	static const char b[] = "{\"access_token\":\"xyz\"}";
	static const char c[] = "{\"token\":\"a\\r\\nX: y\"}";
	static const char d[] = "{\"token\":\"\"}";
	char *t;

	assert_int_equal(aur_oci_token_parse(a, sizeof(a) - 1, &t), 0);
	assert_string_equal(t, "abc.def");
	free(t);
	assert_int_equal(aur_oci_token_parse(b, sizeof(b) - 1, &t), 0);
	assert_string_equal(t, "xyz");
	free(t);
	assert_int_equal(aur_oci_token_parse(c, sizeof(c) - 1, &t), -EBADMSG);
	assert_int_equal(aur_oci_token_parse(d, sizeof(d) - 1, &t), -EBADMSG);
	assert_int_equal(aur_oci_token_parse("x", 1, &t), -EBADMSG);
}

static void test_schemes(void **state)
{
	static const struct {
		const char *host;
		bool insecure;
		int n;
	} cases[] = {
		{"quay.io", false, 1},
		{"quay.io", true, 2},
		{"localhost", false, 2},
		{"localhost:5000", false, 2},
		{"127.0.0.1:5000", false, 2},
		{"[::1]:5000", false, 2},
		{"127.0.0.2:5000", false, 1},
		{"localhost.evil.com", false, 1},
		{"registry.test:80", false, 1},
	};

	for (size_t i = 0; i < AUR_ARRAY_SIZE(cases); i++) {
		const char *s[2];
		int n = aur_oci_schemes(cases[i].host, cases[i].insecure, s);

		if (n != cases[i].n)
			fail_msg("%s: %d schemes", cases[i].host, n);
		assert_string_equal(s[0], "https");
		if (n == 2)
			assert_string_equal(s[1], "http");
	}
	print_message("plain HTTP only for localhost/127.0.0.1/::1 or "
		      "insecure (%zu hosts)\n",
		      AUR_ARRAY_SIZE(cases));
}

/* ---- the layer store ---- */

#define TAR_LEN (3 * (1u << 20) + 777)

struct store_fixture {
	char *dir, *state;
	uint8_t *tar;
	char diff_id[AUR_OCI_DIGEST_LEN];
};

static void digest_str(const void *p, size_t n, char out[AUR_OCI_DIGEST_LEN])
{
	unsigned char d[32];
	char hex[65];

	aur_sha256(p, n, d);
	aur_sha256_hex(d, hex);
	snprintf(out, AUR_OCI_DIGEST_LEN, "sha256:%s", hex);
}

static int store_setup(void **state)
{
	struct store_fixture *f = calloc(1, sizeof(*f));

	f->dir = make_temp_dir();
	f->state = aur_printf("%s/state", f->dir);
	f->tar = malloc(TAR_LEN);
	/* compressible, not trivial */
	for (size_t i = 0; i < TAR_LEN; i++)
		f->tar[i] =
			(uint8_t)((i % 4096 < 2048) ? 'a' + i % 7
						    : (i * 2654435761u) >> 13);
	digest_str(f->tar, TAR_LEN, f->diff_id);
	capture_logs();
	*state = f;
	return 0;
}

static int store_teardown(void **state)
{
	struct store_fixture *f = *state;

	release_logs();
	remove_tree(f->dir);
	free(f->dir);
	free(f->state);
	free(f->tar);
	free(f);
	return 0;
}

static size_t gzip_bytes(const uint8_t *in, size_t n, uint8_t **out)
{
	z_stream z = {0};
	size_t cap = compressBound((uLong)n) + 64;

	*out = malloc(cap);
	assert_int_equal(deflateInit2(&z, 6, Z_DEFLATED, 16 + MAX_WBITS, 8,
				      Z_DEFAULT_STRATEGY),
			 Z_OK);
	z.next_in = (Bytef *)in;
	z.avail_in = (uInt)n;
	z.next_out = *out;
	z.avail_out = (uInt)cap;
	assert_int_equal(deflate(&z, Z_FINISH), Z_STREAM_END);
	deflateEnd(&z);
	return cap - z.avail_out;
}

static size_t zstd_bytes(const uint8_t *in, size_t n, uint8_t **out)
{
	size_t cap = ZSTD_compressBound(n), r;

	*out = malloc(cap);
	r = ZSTD_compress(*out, cap, in, n, 3);
	assert_false(ZSTD_isError(r));
	return r;
}

/* Feeds a buffer in uneven pieces and counts the calls. */
struct mem_feed {
	const uint8_t *p;
	size_t n;
	int calls;
};

static int mem_feed(void *ctx, aur_fetch_sink sink, void *sink_ctx,
		    char err[AUR_OCI_ERRLEN])
{
	struct mem_feed *m = ctx;

	m->calls++;
	for (size_t off = 0, step = 1; off < m->n; step = step * 3 + 1) {
		size_t k = AUR_MIN(step % 300000 + 1, m->n - off);
		int r = sink(sink_ctx, m->p + off, k);

		if (r < 0)
			return r;
		off += k;
	}
	return 0;
}

static int count_entries(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;

	if (!d)
		return 0;
	while ((e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..") &&
		    !strstr(e->d_name, ".lock"))
			n++;
	closedir(d);
	return n;
}

static void expect_stored(struct store_fixture *f, const uint8_t *blob,
			  size_t n, const char *what)
{
	char blob_digest[AUR_OCI_DIGEST_LEN], err[AUR_OCI_ERRLEN] = "";
	struct mem_feed m = {blob, n, 0};
	struct aur_oci_layer layer = {0};
	char *data;
	size_t len;
	bool fetched;

	digest_str(blob, n, blob_digest);
	if (aur_oci_store_layer(f->state, f->diff_id, blob_digest, mem_feed, &m,
				NULL, &layer, &fetched, err) != 0)
		fail_msg("%s: %s", what, err);
	assert_true(fetched);
	assert_int_equal(layer.size, TAR_LEN);
	assert_int_equal(aur_read_file(layer.path, 8u << 20, &data, &len), 0);
	assert_int_equal(len, TAR_LEN);
	assert_memory_equal(data, f->tar, TAR_LEN);
	assert_non_null(strstr(layer.path, f->diff_id + 7));
	free(data);
	free(layer.path);
	/* stored: the second time nothing is fed */
	m.calls = 0;
	assert_int_equal(aur_oci_store_layer(f->state, f->diff_id, blob_digest,
					     mem_feed, &m, NULL, &layer,
					     &fetched, err),
			 0);
	assert_false(fetched);
	assert_int_equal(m.calls, 0);
	free(layer.path);
	print_message("%s layer: %zu blob bytes -> %u tar bytes, both digests "
		      "checked, reused without a fetch\n",
		      what, n, TAR_LEN);
}

static void wipe_layers(struct store_fixture *f)
{
	char *layers = aur_printf("%s/layers", f->state);

	remove_tree(layers);
	free(layers);
}

static void test_store_formats(void **state)
{
	struct store_fixture *f = *state;
	uint8_t *gz, *zs, *two;
	size_t ngz = gzip_bytes(f->tar, TAR_LEN, &gz);
	size_t nzs = zstd_bytes(f->tar, TAR_LEN, &zs);
	size_t half = TAR_LEN / 2, n1, n2;
	uint8_t *p1, *p2;

	expect_stored(f, gz, ngz, "gzip");
	wipe_layers(f);
	expect_stored(f, zs, nzs, "zstd");
	wipe_layers(f);
	expect_stored(f, f->tar, TAR_LEN, "plain");
	wipe_layers(f);
	/* two gzip members, as pigz or cat a.gz b.gz make */
	n1 = gzip_bytes(f->tar, half, &p1);
	n2 = gzip_bytes(f->tar + half, TAR_LEN - half, &p2);
	two = malloc(n1 + n2);
	memcpy(two, p1, n1);
	memcpy(two + n1, p2, n2);
	expect_stored(f, two, n1 + n2, "two-member gzip");
	free(p1);
	free(p2);
	free(two);
	free(gz);
	free(zs);
}

/* A layer that must be refused: nothing may be left under layers/. */
static void expect_refused(struct store_fixture *f, const uint8_t *blob,
			   size_t n, const char *blob_digest,
			   const char *diff_id, const char *why)
{
	struct mem_feed m = {blob, n, 0};
	struct aur_oci_layer layer = {0};
	char err[AUR_OCI_ERRLEN] = "", *layers;
	bool fetched;

	assert_int_equal(aur_oci_store_layer(f->state, diff_id, blob_digest,
					     mem_feed, &m, NULL, &layer,
					     &fetched, err),
			 -EBADMSG);
	if (!strstr(err, why))
		fail_msg("'%s' does not say '%s'", err, why);
	assert_null(layer.path);
	assert_int_equal(aur_oci_store_lookup(f->state, diff_id, &layer),
			 -ENOENT);
	layers = aur_printf("%s/layers", f->state);
	assert_int_equal(count_entries(layers), 0);
	free(layers);
	print_message("refused (%s), nothing left in the store\n", err);
}

static void test_store_refuses(void **state)
{
	struct store_fixture *f = *state;
	char good[AUR_OCI_DIGEST_LEN], bad[AUR_OCI_DIGEST_LEN];
	uint8_t *gz, *zs;
	size_t ngz = gzip_bytes(f->tar, TAR_LEN, &gz);
	size_t nzs = zstd_bytes(f->tar, TAR_LEN, &zs);

	digest_str(gz, ngz, good);
	/* the registry sent other bytes than the manifest names */
	expect_refused(f, gz, ngz, D1, f->diff_id, "blob digest mismatch");
	/* a blob that matches the manifest but not the config */
	expect_refused(f, gz, ngz, good, D1, "diff_id");
	/* corrupt compressed data */
	gz[ngz / 2] ^= 0x55;
	digest_str(gz, ngz, bad);
	expect_refused(f, gz, ngz, bad, f->diff_id, "corrupt gzip");
	/* truncated streams */
	digest_str(zs, nzs - 10, bad);
	expect_refused(f, zs, nzs - 10, bad, f->diff_id, "truncated");
	gz[ngz / 2] ^= 0x55;
	digest_str(gz, ngz - 100, bad);
	expect_refused(f, gz, ngz - 100, bad, f->diff_id, "truncated");
	/* a plain tar with one byte changed */
	f->tar[100] ^= 1;
	digest_str(f->tar, TAR_LEN, bad);
	expect_refused(f, f->tar, TAR_LEN, bad, f->diff_id, "diff_id");
	f->tar[100] ^= 1;
	free(gz);
	free(zs);
}

/* Two processes store the same layer: one feeds it, the other waits on
 * the lock and finds it stored. */
static void test_store_shared(void **state)
{
	struct store_fixture *f = *state;
	char *counter = aur_printf("%s/feeds", f->dir);
	pid_t pids[2];
	char *data;
	size_t len;

	for (int i = 0; i < 2; i++) {
		pids[i] = fork();
		assert_true(pids[i] >= 0);
		if (pids[i] == 0) {
			struct mem_feed m = {f->tar, TAR_LEN, 0};
			struct aur_oci_layer layer;
			char err[AUR_OCI_ERRLEN];
			bool fetched;
			int r = aur_oci_store_layer(f->state, f->diff_id, NULL,
						    mem_feed, &m, NULL, &layer,
						    &fetched, err);
			int fd = open(counter, O_WRONLY | O_CREAT | O_APPEND,
				      0644);

			if (fetched && fd >= 0 && write(fd, "x", 1) != 1)
				r = -EIO;
			_exit(r == 0 ? 0 : 1);
		}
	}
	for (int i = 0; i < 2; i++) {
		int st;

		assert_int_equal(waitpid(pids[i], &st, 0), pids[i]);
		assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	}
	assert_int_equal(aur_read_file(counter, 16, &data, &len), 0);
	assert_int_equal(len, 1);
	free(data);
	free(counter);
	print_message("two processes, one layer: fed once, both succeed\n");
}

static void test_store_configs_and_refs(void **state)
{
	struct store_fixture *f = *state;
	static const char cfg[] = "{\"rootfs\":{}}";
	struct aur_oci_resolution res = {0}, got;
	char digest[AUR_OCI_DIGEST_LEN], *buf, *path;
	size_t len;

	digest_str(cfg, sizeof(cfg) - 1, digest);
	assert_int_equal(aur_oci_store_config_put(f->state, digest, cfg,
						  sizeof(cfg) - 1),
			 0);
	assert_int_equal(aur_oci_store_config_get(f->state, digest, &buf, &len),
			 0);
	assert_string_equal(buf, cfg);
	free(buf);
	/* a config changed on disk is not believed */
	path = aur_printf("%s/oci/configs/%s.json", f->state, digest + 7);
	write_file(path, "{}", 2);
	assert_int_equal(aur_oci_store_config_get(f->state, digest, &buf, &len),
			 -EBADMSG);
	free(path);
	assert_int_equal(
		aur_oci_store_config_put(f->state, "sha256:../../x", cfg, 1),
		-EINVAL);

	snprintf(res.manifest, sizeof(res.manifest), "%s", D1);
	snprintf(res.config, sizeof(res.config), "%s", digest);
	snprintf(res.origin, sizeof(res.origin), "registry");
	assert_int_equal(
		aur_oci_store_ref_put(f->state, "a\nlinux/amd64/", &res), 0);
	assert_int_equal(
		aur_oci_store_ref_get(f->state, "a\nlinux/amd64/", &got), 0);
	assert_string_equal(got.manifest, D1);
	assert_string_equal(got.config, digest);
	assert_true(got.when > 0);
	assert_int_equal(
		aur_oci_store_ref_get(f->state, "a\nlinux/arm64/", &got),
		-ENOENT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ref_valid),
		cmocka_unit_test(test_ref_invalid),
		cmocka_unit_test(test_ref_string),
		cmocka_unit_test(test_source_prefixes),
		cmocka_unit_test(test_digest_and_members),
		cmocka_unit_test(test_index_select),
		cmocka_unit_test(test_doc_kinds),
		cmocka_unit_test(test_manifest_parse),
		cmocka_unit_test(test_too_many_layers),
		cmocka_unit_test(test_config_parse),
		cmocka_unit_test(test_layout_tags_and_docker_manifest),
		cmocka_unit_test(test_challenge),
		cmocka_unit_test(test_dockercfg),
		cmocka_unit_test(test_token),
		cmocka_unit_test(test_schemes),
		cmocka_unit_test_setup_teardown(test_store_formats, store_setup,
						store_teardown),
		cmocka_unit_test_setup_teardown(test_store_refuses, store_setup,
						store_teardown),
		cmocka_unit_test_setup_teardown(test_store_shared, store_setup,
						store_teardown),
		cmocka_unit_test_setup_teardown(test_store_configs_and_refs,
						store_setup, store_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
