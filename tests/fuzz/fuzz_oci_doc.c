// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Fuzz target: what registries, layouts and archives send - indexes (with
 * a platform to choose), layout tags, manifests, image configs,
 * docker-archive manifest.json, token answers and WWW-Authenticate
 * challenges. The first byte chooses the parser (and the platform); the
 * rest is the document.
 */
#include "oci_i.h"

#include <aurora/log.h>

#include <stdlib.h>
#include <string.h>

static void quiet(void *ctx, int level, const char *msg)
{
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	aur_log_set_sink(quiet, NULL);
	return 0;
}

static const char *const arches[] = {"amd64", "arm64", "arm", "riscv64"};

static void parse(unsigned op, const char *doc, size_t len)
{
	char err[AUR_OCI_ERRLEN];
	struct aur_oci_platform want;
	struct aur_oci_docker_archive d;
	struct aur_oci_manifest m;
	struct aur_oci_config c;
	struct aur_oci_challenge ch;
	enum aur_oci_doc_kind kind;
	struct aur_oci_desc desc;
	char *token;

	switch (op % 8) {
	case 0:
		aur_oci_doc_kind(doc, len, NULL, &kind, err);
		break;
	case 1:
		aur_oci_platform_init(&want, arches[(op >> 3) % 4]);
		aur_oci_index_select(doc, len, &want, &desc, err);
		break;
	case 2:
		aur_oci_index_find_tag(
			doc, len, (op >> 3) & 1 ? "latest" : NULL, &desc, err);
		break;
	case 3:
		if (aur_oci_manifest_parse(doc, len, &m, err) == 0)
			aur_oci_manifest_release(&m);
		break;
	case 4:
		if (aur_oci_config_parse(doc, len, &c, err) == 0)
			aur_oci_config_release(&c);
		break;
	case 5:
		if (aur_oci_docker_manifest_parse(
			    doc, len, (op >> 3) & 1 ? "1" : NULL, &d, err) == 0)
			aur_oci_docker_archive_release(&d);
		break;
	case 6:
		if (aur_oci_token_parse(doc, len, &token) == 0)
			free(token);
		break;
	default:
		aur_oci_challenge_parse(doc, &ch);
		break;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *doc;

	if (size < 1)
		return 0;
	/* an exact-size copy, so ASan sees reads past the end */
	doc = malloc(size);
	if (!doc)
		return 0;
	memcpy(doc, data + 1, size - 1);
	doc[size - 1] = '\0';
	parse(data[0], doc, size - 1);
	free(doc);
	return 0;
}
