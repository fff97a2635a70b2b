// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * aurorafs-mkiso - the custom ISO builder without a mount: write BASE with
 * files added or replaced to OUT (or describe the result). The same code
 * serves /iso/<name>.custom.iso in the filesystem; this front end is for
 * scripts and for looking at the layout.
 *
 *   aurorafs-mkiso [-v] BASE.iso OUT.iso [ISO-PATH=LOCAL-FILE]...
 *
 * OUT may be "-" for standard output. -v prints the extent map.
 */
#include <aurora/extmap.h>
#include <aurora/isoedit.h>
#include <aurora/log.h>
#include <aurora/source.h>
#include <aurora/util.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define COPY_STEP (4u << 20)

static void dump(const struct aur_extmap *m)
{
	for (size_t i = 0; i < m->n; i++)
		fprintf(stderr, "%12llu %12llu  %s\n",
			(unsigned long long)m->v[i].start,
			(unsigned long long)m->v[i].len, m->v[i].what);
}

static int copy_out(const struct aur_extmap *m, const char *path)
{
	int fd = strcmp(path, "-") == 0
			 ? STDOUT_FILENO
			 : open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	uint8_t *buf = malloc(COPY_STEP);
	int r = 0;

	if (fd < 0 || !buf) {
		r = fd < 0 ? -errno : -ENOMEM;
		goto out;
	}
	for (uint64_t off = 0; off < m->size && r == 0;) {
		ssize_t n = aur_extmap_pread(m, buf, COPY_STEP, off);

		if (n <= 0) {
			r = n < 0 ? (int)n : -EIO;
			break;
		}
		r = aur_pwrite_full(fd, buf, (size_t)n, off);
		off += (uint64_t)n;
	}
out:
	if (fd > STDOUT_FILENO)
		close(fd);
	free(buf);
	return r;
}

int main(int argc, char **argv)
{
	struct aur_iso_addition adds[64];
	struct aur_file_source files[64];
	struct aur_file_source base;
	struct aur_iso_edit *edit = NULL;
	struct aur_extmap map;
	int verbose = 0, nadds = 0, i = 1, r;

	if (argc > 1 && strcmp(argv[1], "-v") == 0) {
		verbose = 1;
		i++;
	}
	if (argc - i < 2 || argc - i - 2 > 64) {
		fprintf(stderr,
			"usage: %s [-v] BASE.iso OUT.iso "
			"[ISO-PATH=LOCAL-FILE]...\n",
			argv[0]);
		return 2;
	}
	r = aur_file_source_open(&base, argv[i]);
	if (r < 0) {
		aur_err("cannot open '%s': %s", argv[i], strerror(-r));
		return 1;
	}
	for (int a = i + 2; a < argc; a++, nadds++) {
		char *eq = strchr(argv[a], '=');
		struct stat st;

		if (!eq || argv[a][0] != '/') {
			aur_err("'%s': expected /ISO-PATH=LOCAL-FILE", argv[a]);
			return 2;
		}
		*eq = '\0';
		r = aur_file_source_open(&files[nadds], eq + 1);
		if (r < 0 || fstat(files[nadds].fd, &st) < 0) {
			aur_err("cannot open '%s': %s", eq + 1, strerror(-r));
			return 1;
		}
		adds[nadds] = (struct aur_iso_addition){
			.path = argv[a],
			.src = &files[nadds].src,
			.size = files[nadds].src.size,
			.mode = st.st_mode,
			.mtime = st.st_mtime,
		};
	}
	aur_extmap_init(&map);
	r = aur_iso_edit(&base.src, base.src.size, argv[i], adds, (size_t)nadds,
			 &map, &edit);
	if (r == 0) {
		if (verbose)
			dump(&map);
		r = copy_out(&map, argv[i + 1]);
		if (r < 0)
			aur_err("cannot write '%s': %s", argv[i + 1],
				strerror(-r));
	}
	aur_extmap_release(&map);
	aur_iso_edit_free(edit);
	for (int a = 0; a < nadds; a++)
		aur_file_source_close(&files[a]);
	aur_file_source_close(&base);
	return r < 0 ? 1 : 0;
}
