// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * aurorafs-pull - pull a container image into a state_dir the way the
 * filesystem does, without mounting anything, and describe the result:
 *
 *   aurorafs-pull [--arch ARCH] [--insecure] [--progress] [--debug]
 *                 STATE_DIR SOURCE
 *
 * SOURCE is a container_image value (see README). Prints key=value lines
 * (source, origin, manifest, config, os, arch, variant, dir) and one
 * "layer <diff_id> <size> <path>" line per layer, bottom first.
 */
#include <aurora/fetch.h>
#include <aurora/log.h>
#include <aurora/oci.h>
#include <aurora/util.h>

#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

static void progress(void *ctx, uint64_t done, uint64_t total)
{
	fprintf(stderr, "progress %" PRIu64 " %" PRIu64 "\n", done, total);
}

static void usage(FILE *f)
{
	fprintf(f, "usage: aurorafs-pull [--arch ARCH] [--insecure] "
		   "[--progress] [--debug] STATE_DIR SOURCE\n");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"arch", required_argument, NULL, 'a'},
		{"insecure", no_argument, NULL, 'k'},
		{"progress", no_argument, NULL, 'p'},
		{"debug", no_argument, NULL, 'd'},
		{"help", no_argument, NULL, 'h'},
		{0},
	};
	struct aur_oci_opts o = {0};
	struct aur_oci_image *img;
	char *state;
	int c, r;

	while ((c = getopt_long(argc, argv, "a:kpdh", opts, NULL)) != -1) {
		switch (c) {
		case 'a':
			o.arch = optarg;
			break;
		case 'k':
			o.insecure = true;
			break;
		case 'p':
			o.progress = progress;
			break;
		case 'd':
			aur_log_set_level(LOG_DEBUG);
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (argc - optind != 2) {
		usage(stderr);
		return 2;
	}
	state = aur_absolute_path(argv[optind]);
	if (!state || aur_mkdir_p(state, 0755) < 0 ||
	    aur_fetch_global_init() < 0) {
		fprintf(stderr, "aurorafs-pull: cannot set up '%s'\n",
			argv[optind]);
		return 1;
	}
	o.state_dir = state;
	r = aur_oci_pull(argv[optind + 1], &o, &img);
	if (r == 0) {
		printf("source=%s\norigin=%s\nmanifest=%s\nconfig=%s\n",
		       img->source, aur_oci_origin_name(img->origin),
		       img->manifest_digest, img->config_digest);
		printf("os=%s\narch=%s\nvariant=%s\n", img->os ? img->os : "",
		       img->arch ? img->arch : "",
		       img->variant ? img->variant : "");
		if (img->dir)
			printf("dir=%s\n", img->dir);
		for (size_t i = 0; i < img->nlayers; i++)
			printf("layer %s %" PRIu64 " %s\n",
			       img->layers[i].diff_id, img->layers[i].size,
			       img->layers[i].path);
		aur_oci_image_free(img);
	}
	aur_fetch_global_cleanup();
	free(state);
	return r == 0 ? 0 : 1;
}
