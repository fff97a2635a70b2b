// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * aurorafs-mkiso - the custom ISO builder without a mount: write BASE with
 * files added or replaced to OUT (or describe the result). The same code
 * serves /iso/<name>.custom.iso in the filesystem; this front end is for
 * scripts and for looking at the layout.
 *
 *   aurorafs-mkiso [-v] BASE.iso OUT.iso [ADDITION]...
 *
 * where an ADDITION is
 *   /ISO-PATH->TARGET      a symbolic link (Rock Ridge) to TARGET (the
 *                          first "->" separates: ISO paths cannot hold
 *                          "->", targets can hold anything)
 *   /ISO-PATH=LOCAL-FILE   the file's content, mode and mtime (the last
 *                          '=' separates: ISO paths can hold '=')
 *   /ISO-PATH/             an empty directory (a trailing '/')
 * applied in order: a later addition of a path replaces an earlier one.
 * OUT may be "-" for standard output, which can be a pipe: the image is
 * written front to back. -v prints the extent map and where the delta
 * went on standard error.
 */
#include <aurora/extmap.h>
#include <aurora/isoedit.h>
#include <aurora/log.h>
#include <aurora/source.h>
#include <aurora/util.h>

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define COPY_STEP (4u << 20)

static void dump(const struct aur_extmap *m)
{
	uint64_t delta_at = 0, delta_len = 0;

	for (size_t i = 0; i < m->n; i++) {
		const struct aur_extent *x = &m->v[i];
		bool base = strcmp(x->what, "base ISO") == 0 ||
			    strcmp(x->what, "patched block") == 0;

		fprintf(stderr, "%12llu %12llu  %s\n",
			(unsigned long long)x->start,
			(unsigned long long)x->len, x->what);
		if (!base && !delta_len)
			delta_at = x->start;
		if (!base)
			delta_len = x->start + x->len - delta_at;
	}
	fprintf(stderr, "delta: %llu bytes at byte %llu\n",
		(unsigned long long)delta_len, (unsigned long long)delta_at);
}

/* write(2) all of @buf, front to back: works on pipes too */
static int write_full(int fd, const uint8_t *buf, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, buf, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -errno;
		buf += w;
		n -= (size_t)w;
	}
	return 0;
}

static int copy_out(const struct aur_extmap *m, const char *path)
{
	bool to_stdout = strcmp(path, "-") == 0;
	int fd = to_stdout
			 ? STDOUT_FILENO
			 : open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
				0644);
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
		r = write_full(fd, buf, (size_t)n);
		off += (uint64_t)n;
	}
	if (!to_stdout && fd >= 0 && close(fd) < 0 && r == 0)
		r = -errno;
out:
	free(buf);
	return r;
}

struct inputs {
	struct aur_iso_addition *adds;
	struct aur_file_source *files; /* files[i] for adds[i] */
	size_t n;
};

/* Parse one ADDITION; 0, or 2 for a usage error, 1 for an I/O error. */
static int parse_addition(struct inputs *in, char *arg)
{
	struct aur_iso_addition *a = &in->adds[in->n];
	struct aur_file_source *f = &in->files[in->n];
	char *eq = strrchr(arg, '='), *arrow = strstr(arg, "->");
	struct stat st;
	int r;

	memset(a, 0, sizeof(*a));
	f->fd = -1;
	if (arg[0] != '/')
		goto usage;
	if (arrow) {
		*arrow = '\0';
		*a = (struct aur_iso_addition){
			.path = arg,
			.mode = S_IFLNK | 0777,
			.link = arrow + 2,
		};
		if (!*a->link)
			goto usage;
	} else if (arg[strlen(arg) - 1] == '/') {
		*a = (struct aur_iso_addition){
			.path = arg,
			.is_dir = true,
			.mode = S_IFDIR | 0755,
		};
	} else if (eq) {
		*eq = '\0';
		r = aur_file_source_open(f, eq + 1);
		if (r == 0 && fstat(f->fd, &st) < 0)
			r = -errno;
		if (r < 0) {
			aur_err("cannot open '%s': %s", eq + 1, strerror(-r));
			return 1;
		}
		*a = (struct aur_iso_addition){
			.path = arg,
			.src = &f->src,
			.size = f->src.size,
			.mode = st.st_mode,
			.mtime = st.st_mtime,
		};
	} else {
		goto usage;
	}
	in->n++;
	return 0;
usage:
	aur_err("'%s': expected /ISO-PATH=LOCAL-FILE, /ISO-PATH->TARGET or "
		"/ISO-PATH/",
		arg);
	return 2;
}

int main(int argc, char **argv)
{
	struct inputs in = {0};
	struct aur_file_source base;
	struct aur_iso_edit *edit = NULL;
	struct aur_extmap map;
	int verbose = 0, i = 1, r = 0;

	if (argc > 1 && strcmp(argv[1], "-v") == 0) {
		verbose = 1;
		i++;
	}
	if (argc - i < 2) {
		fprintf(stderr,
			"usage: %s [-v] BASE.iso OUT.iso [/ISO-PATH=LOCAL-FILE "
			"| /ISO-PATH->TARGET | /ISO-PATH/]...\n",
			argv[0]);
		return 2;
	}
	in.adds = calloc((size_t)argc, sizeof(*in.adds));
	in.files = calloc((size_t)argc, sizeof(*in.files));
	if (!in.adds || !in.files) {
		aur_err("out of memory");
		return 1;
	}
	r = aur_file_source_open(&base, argv[i]);
	if (r < 0) {
		aur_err("cannot open '%s': %s", argv[i], strerror(-r));
		return 1;
	}
	for (int a = i + 2; a < argc && r == 0; a++)
		r = parse_addition(&in, argv[a]);
	aur_extmap_init(&map);
	if (r == 0) {
		r = aur_iso_edit(&base.src, base.src.size, argv[i], in.adds,
				 in.n, &map, &edit);
		r = r < 0 ? 1 : 0;
	}
	if (r == 0) {
		int w;

		if (verbose)
			dump(&map);
		w = copy_out(&map, argv[i + 1]);
		if (w < 0) {
			aur_err("cannot write '%s': %s", argv[i + 1],
				strerror(-w));
			r = 1;
		}
	}
	aur_extmap_release(&map);
	aur_iso_edit_free(edit);
	for (size_t a = 0; a < in.n; a++)
		if (in.files[a].fd >= 0)
			aur_file_source_close(&in.files[a]);
	free(in.adds);
	free(in.files);
	aur_file_source_close(&base);
	return r;
}
