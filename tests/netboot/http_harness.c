// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * http_harness - the HTTP server on a directory, for tests and benchmarks
 * with real clients: every file below DIR at its path, plus files the
 * options add to reach every read path of the server:
 *
 *   --mixed PATH=PART,...  generated file made of runs, each PART one of
 *                          mem:FILE (FILE's bytes, held in memory),
 *                          zero:LEN, or file:FILE:OFF:LEN (a range of FILE)
 *   --pending PATH=FILE[:MS]
 *                          FILE's bytes behind a source that says they are
 *                          still being downloaded (no sendfile for them),
 *                          each read of them taking MS milliseconds more
 *   --slow PATH=MS         a small file whose build takes MS milliseconds
 *   --broken PATH          a file whose build fails
 *   --listen ADDR --name NAME --timeout S --per-ip N --limit N
 *
 * Prints "port N" once serving, and stops (cleanly) at the end of stdin.
 */
#include "dirtree.h"

#include <aurora/http.h>
#include <aurora/log.h>
#include <aurora/source.h>
#include <aurora/tree.h>
#include <aurora/util.h>

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define FILE_MAX (1ull << 32)
#define HARNESS_MTIME 1700000000

enum part_kind { PART_MEM, PART_ZERO, PART_FILE };

struct part {
	enum part_kind kind;
	char *mem;
	size_t mem_len;
	struct aur_file_source src;
	uint64_t off, len;
};

/* A generated file: parts in order (--mixed), or one part (--pending,
 * --slow, --broken). */
struct gen_file {
	struct part *parts;
	size_t nparts;
	unsigned delay_ms;
	bool broken;
};

static void sleep_ms(unsigned ms)
{
	struct timespec t = {ms / 1000, (long)(ms % 1000) * 1000000};

	nanosleep(&t, NULL);
}

static void free_gen(void *ctx)
{
	struct gen_file *g = ctx;

	for (size_t i = 0; i < g->nparts; i++) {
		free(g->parts[i].mem);
		if (g->parts[i].kind == PART_FILE)
			aur_file_source_close(&g->parts[i].src);
	}
	free(g->parts);
	free(g);
}

static int build_gen(void *ctx, struct aur_image *img)
{
	struct gen_file *g = ctx;
	int r = 0;

	sleep_ms(g->delay_ms);
	if (g->broken) {
		aur_err("harness: this file never builds");
		return -EIO;
	}
	img->mtime = HARNESS_MTIME;
	for (size_t i = 0; i < g->nparts && r == 0; i++) {
		struct part *p = &g->parts[i];

		if (p->kind == PART_MEM)
			r = aur_extmap_add_mem(&img->map, "mem", p->mem,
					       p->mem_len);
		else if (p->kind == PART_ZERO)
			r = aur_extmap_add_zero(&img->map, "zero", p->len);
		else
			r = aur_extmap_add_source(&img->map, "file",
						  &p->src.src, p->off, p->len);
	}
	return r;
}

static const struct aur_file_ops gen_ops = {.build = build_gen};

/* One part of a --mixed spec: "mem:FILE", "zero:LEN", "file:FILE:OFF:LEN" */
static int parse_part(char *s, struct part *p)
{
	char *f[4], *save = NULL;
	size_t n = 0;

	memset(p, 0, sizeof(*p));
	p->src.fd = -1;
	for (char *t = strtok_r(s, ":", &save); t && n < 4;
	     t = strtok_r(NULL, ":", &save))
		f[n++] = t;
	if (n == 2 && !strcmp(f[0], "mem")) {
		p->kind = PART_MEM;
		return aur_read_file(f[1], FILE_MAX, &p->mem, &p->mem_len);
	}
	if (n == 2 && !strcmp(f[0], "zero")) {
		p->kind = PART_ZERO;
		return aur_parse_u64(f[1], &p->len);
	}
	if (n == 4 && !strcmp(f[0], "file")) {
		p->kind = PART_FILE;
		if (aur_parse_u64(f[2], &p->off) < 0 ||
		    aur_parse_u64(f[3], &p->len) < 0)
			return -EINVAL;
		return aur_file_source_open(&p->src, f[1]);
	}
	return -EINVAL;
}

static int add_gen(struct aur_tree *t, const char *path, struct gen_file *g)
{
	int r = aur_tree_on_free(t, free_gen, g);

	if (r < 0) {
		free_gen(g);
		return r;
	}
	return aur_tree_add_file(t, path, &gen_ops, g, NULL);
}

/* "PATH=PART,PART..." */
static int add_mixed(struct aur_tree *t, char *arg)
{
	char *eq = strchr(arg, '='), *save = NULL;
	struct gen_file *g = calloc(1, sizeof(*g));
	int r = 0;

	if (!g || !eq) {
		free(g);
		return -EINVAL;
	}
	*eq = '\0';
	for (char *s = strtok_r(eq + 1, ",", &save); s && r == 0;
	     s = strtok_r(NULL, ",", &save)) {
		struct part *v =
			realloc(g->parts, (g->nparts + 1) * sizeof(*v));

		if (!v) {
			r = -ENOMEM;
			break;
		}
		g->parts = v;
		r = parse_part(s, &g->parts[g->nparts]);
		if (r == 0)
			g->nparts++;
	}
	if (r < 0) {
		free_gen(g);
		return r;
	}
	return add_gen(t, arg, g);
}

/* A file whose bytes are those of a local file, served through a source
 * that says they are still being downloaded. */
struct pending_source {
	struct aur_source src;
	int fd;
	unsigned delay_ms;
};

static int pending_get_run(struct aur_source *src, uint64_t off, size_t n,
			   struct aur_run *run)
{
	struct pending_source *ps = (struct pending_source *)src;

	sleep_ms(ps->delay_ms);
	run->kind = AUR_RUN_FD;
	run->fd = ps->fd;
	run->fd_off = off;
	run->len = n;
	return 0;
}

static enum aur_trust pending_trust(struct aur_source *src)
{
	return AUR_TRUST_PENDING;
}

static const struct aur_source_ops pending_ops = {
	.get_run = pending_get_run,
	.trust = pending_trust,
};

static int build_pending(void *ctx, struct aur_image *img)
{
	struct pending_source *ps = ctx;

	img->mtime = HARNESS_MTIME;
	return aur_extmap_add_source(&img->map, "pending", &ps->src, 0,
				     ps->src.size);
}

static void free_pending(void *ctx)
{
	struct pending_source *ps = ctx;

	close(ps->fd);
	free(ps);
}

static const struct aur_file_ops pending_file_ops = {.build = build_pending};

/* "PATH=FILE" or "PATH=FILE:MS" */
static int add_pending(struct aur_tree *t, char *arg)
{
	char *eq = strchr(arg, '='), *colon;
	struct aur_file_source fs = {.fd = -1};
	struct pending_source *ps;
	uint64_t ms = 0;
	int r;

	if (!eq)
		return -EINVAL;
	*eq = '\0';
	colon = strchr(eq + 1, ':');
	if (colon) {
		*colon = '\0';
		if (aur_parse_u64(colon + 1, &ms) < 0 || ms > 60000)
			return -EINVAL;
	}
	r = aur_file_source_open(&fs, eq + 1);
	if (r < 0)
		return r;
	ps = calloc(1, sizeof(*ps));
	if (!ps) {
		aur_file_source_close(&fs);
		return -ENOMEM;
	}
	ps->src.ops = &pending_ops;
	ps->src.size = fs.src.size;
	ps->fd = fs.fd; /* taken over from the file source */
	ps->delay_ms = (unsigned)ms;
	r = aur_tree_on_free(t, free_pending, ps);
	if (r < 0) {
		free_pending(ps);
		return r;
	}
	return aur_tree_add_file(t, arg, &pending_file_ops, ps, NULL);
}

static const char slow_bytes[] = "built slowly\n";

/* "PATH=MS" (--slow) or "PATH" (--broken) */
static int add_slow(struct aur_tree *t, char *arg, bool broken)
{
	char *eq = strchr(arg, '=');
	struct gen_file *g;
	uint64_t ms = 0;

	if (!broken && (!eq || aur_parse_u64(eq + 1, &ms) < 0))
		return -EINVAL;
	if (eq)
		*eq = '\0';
	g = calloc(1, sizeof(*g));
	if (!g)
		return -ENOMEM;
	g->parts = calloc(1, sizeof(*g->parts));
	if (!g->parts || !(g->parts[0].mem = strdup(slow_bytes))) {
		free_gen(g);
		return -ENOMEM;
	}
	g->nparts = 1;
	g->parts[0].kind = PART_MEM;
	g->parts[0].mem_len = sizeof(slow_bytes) - 1;
	g->delay_ms = (unsigned)ms;
	g->broken = broken;
	return add_gen(t, arg, g);
}

static int number(const char *s, unsigned *out)
{
	uint64_t v;

	if (aur_parse_u64(s, &v) < 0 || v > 1000000)
		return -EINVAL;
	*out = (unsigned)v;
	return 0;
}

static int usage(void)
{
	fprintf(stderr, "usage: http_harness [--listen ADDR] [--name NAME] "
			"[--timeout S] [--per-ip N] [--limit N] "
			"[--mixed PATH=PART,...] [--pending PATH=FILE[:MS]] "
			"[--slow PATH=MS] [--broken PATH] DIR\n");
	return 2;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"listen", required_argument, NULL, 'l'},
		{"name", required_argument, NULL, 'n'},
		{"timeout", required_argument, NULL, 't'},
		{"per-ip", required_argument, NULL, 'p'},
		{"limit", required_argument, NULL, 'c'},
		{"mixed", required_argument, NULL, 'm'},
		{"pending", required_argument, NULL, 'd'},
		{"slow", required_argument, NULL, 's'},
		{"broken", required_argument, NULL, 'b'},
		{NULL, 0, NULL, 0},
	};
	struct aur_http_opts o = {.listen = "127.0.0.1:0"};
	struct aur_http_server *srv = NULL;
	struct aur_tree *t;
	char **extra = calloc((size_t)argc, sizeof(*extra));
	int *kinds = calloc((size_t)argc, sizeof(*kinds));
	int n = 0, c, r = 0;
	char buf[256];

	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case 'l':
			o.listen = optarg;
			break;
		case 'n':
			o.name = optarg;
			break;
		case 't':
			r |= number(optarg, &o.timeout_s);
			break;
		case 'p':
			r |= number(optarg, &o.max_per_ip);
			break;
		case 'c':
			r |= number(optarg, &o.max_connections);
			break;
		case 'm':
		case 'd':
		case 's':
		case 'b':
			kinds[n] = c;
			extra[n++] = optarg;
			break;
		default:
			return usage();
		}
	}
	if (r || optind != argc - 1)
		return usage();
	t = dirtree_new(argv[optind]);
	if (!t) {
		fprintf(stderr, "http_harness: cannot read '%s': %s\n",
			argv[optind], strerror(errno));
		return 1;
	}
	for (int i = 0; i < n && r == 0; i++) {
		if (kinds[i] == 'm')
			r = add_mixed(t, extra[i]);
		else if (kinds[i] == 'd')
			r = add_pending(t, extra[i]);
		else
			r = add_slow(t, extra[i], kinds[i] == 'b');
		if (r < 0)
			fprintf(stderr, "http_harness: bad file '%s': %s\n",
				extra[i], strerror(-r));
	}
	free(extra);
	free(kinds);
	o.tree = t;
	if (r == 0)
		r = aur_http_open(&o, &srv);
	if (r == 0)
		r = aur_http_start(srv);
	if (r == 0) {
		printf("port %u\n", aur_http_port(srv));
		fflush(stdout);
		while (fread(buf, 1, sizeof(buf), stdin) > 0)
			;
	}
	aur_http_close(srv);
	aur_tree_free(t);
	return r == 0 ? 0 : 1;
}
