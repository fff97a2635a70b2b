// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * replay - run every file of the given directories (or the given files)
 * through a fuzz target's LLVMFuzzerTestOneInput, as the unit suite does
 * with the committed corpora. Built with gcc or clang, no libFuzzer.
 */
#include <dirent.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <aurora/util.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv) __attribute__((weak));

#define INPUT_MAX (16u << 20)

static int run_file(const char *path)
{
	char *buf;
	size_t len;
	int r = aur_read_file(path, INPUT_MAX, &buf, &len);

	if (r < 0) {
		fprintf(stderr, "replay: cannot read '%s'\n", path);
		return -1;
	}
	LLVMFuzzerTestOneInput((const uint8_t *)buf, len);
	free(buf);
	return 0;
}

static int run_dir(const char *dir, unsigned *count)
{
	struct dirent **names;
	int n = scandir(dir, &names, NULL, alphasort), bad = 0;

	if (n < 0) {
		fprintf(stderr, "replay: cannot list '%s'\n", dir);
		return -1;
	}
	for (int i = 0; i < n; i++) {
		char *path = aur_printf("%s/%s", dir, names[i]->d_name);
		struct stat st;

		if (path && stat(path, &st) == 0 && S_ISREG(st.st_mode)) {
			bad |= run_file(path);
			(*count)++;
		}
		free(path);
		free(names[i]);
	}
	free(names);
	return bad;
}

int main(int argc, char **argv)
{
	unsigned count = 0;
	int bad = 0;

	if (LLVMFuzzerInitialize)
		LLVMFuzzerInitialize(&argc, &argv);
	for (int i = 1; i < argc; i++) {
		struct stat st;

		if (stat(argv[i], &st) == 0 && S_ISDIR(st.st_mode)) {
			bad |= run_dir(argv[i], &count);
		} else {
			bad |= run_file(argv[i]);
			count++;
		}
	}
	printf("replay: %u inputs\n", count);
	return bad ? 1 : 0;
}
