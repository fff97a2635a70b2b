// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Fuzz target: a hostile base ISO (volume descriptors, directory records,
 * Rock Ridge and Joliet names, path tables, the El Torito catalog, MBR,
 * GPT and APM) given to the custom ISO editor with a few additions, then
 * every byte of the result read back through its extent map.
 */
#include <aurora/extmap.h>
#include <aurora/isoedit.h>
#include <aurora/log.h>
#include <aurora/source.h>

#include <stdlib.h>
#include <sys/stat.h>

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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char config[] = "#cloud-config\nhostname: fuzz\n";
	static const uint8_t big[5000] = {1};
	struct aur_mem_source base, cfg, file;
	struct aur_iso_addition adds[4];
	struct aur_iso_edit *edit = NULL;
	struct aur_extmap map;
	uint8_t *buf;

	aur_mem_source_init(&base, data, size);
	aur_mem_source_init(&cfg, config, sizeof(config) - 1);
	aur_mem_source_init(&file, big, sizeof(big));
	adds[0] = (struct aur_iso_addition){.path = "/config.yaml",
					    .src = &cfg.src,
					    .size = cfg.src.size,
					    .mode = S_IFREG | 0644};
	adds[1] = (struct aur_iso_addition){.path = "/boot/new/deep/file.bin",
					    .src = &file.src,
					    .size = file.src.size,
					    .mode = S_IFREG | 0600};
	adds[2] = (struct aur_iso_addition){.path = "/a/b/hello.txt",
					    .src = &cfg.src,
					    .size = cfg.src.size,
					    .mode = S_IFREG | 0644};
	adds[3] = (struct aur_iso_addition){
		.path = "/empty-dir", .is_dir = true, .mode = S_IFDIR | 0755};
	aur_extmap_init(&map);
	if (aur_iso_edit(&base.src, size, "fuzz", adds, 4, &map, &edit) == 0) {
		aur_extmap_check(&map);
		if (map.size < size)
			abort(); /* an edit only ever inserts */
		buf = malloc(1 << 16);
		for (uint64_t off = 0; buf && off < map.size; off += 1 << 16)
			if (aur_extmap_pread(&map, buf, 1 << 16, off) < 0)
				abort(); /* memory sources cannot fail */
		free(buf);
	}
	aur_extmap_release(&map);
	aur_iso_edit_free(edit);
	return 0;
}
