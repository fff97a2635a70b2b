// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Fuzz target: container_image values - source prefixes and registry
 * references. A reference that parses must print as a string that parses
 * to the same reference (normalisation is stable).
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

static void round_trip(const struct aur_oci_ref *ref)
{
	char err[AUR_OCI_ERRLEN];
	struct aur_oci_ref again;
	char *s = aur_oci_ref_string(ref), *t;

	if (!s)
		return;
	if (aur_oci_ref_parse(s, &again, err) != 0)
		abort(); /* a normalised reference must parse */
	t = aur_oci_ref_string(&again);
	if (t && strcmp(s, t) != 0)
		abort(); /* and print the same */
	free(t);
	free(s);
	aur_oci_ref_release(&again);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);
	char err[AUR_OCI_ERRLEN];
	struct aur_oci_source src;
	struct aur_oci_ref ref;

	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	if (aur_oci_ref_parse(s, &ref, err) == 0) {
		round_trip(&ref);
		aur_oci_ref_release(&ref);
	}
	if (aur_oci_source_parse(s, &src, err) == 0)
		aur_oci_source_release(&src);
	free(s);
	return 0;
}
