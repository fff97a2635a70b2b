// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * tftp_harness - the TFTP server alone, serving a directory of the test
 * machine (dirtree.h), for tests with real clients and for bench/tftp.sh.
 *
 *   tftp_harness DIR [--listen ADDR] [--port N] [--port-file FILE]
 *                [--max-blksize N] [--max-transfers N] [--timeout-ms N]
 *                [--retries N] [--max-timeout-s N]
 *
 * Serves until SIGTERM or SIGINT. Once it listens, the port is written to
 * FILE (atomically: a script waits for the file to exist). Logs go to
 * stderr.
 */
#include "dirtree.h"

#include <aurora/log.h>
#include <aurora/tftp.h>
#include <aurora/tree.h>
#include <aurora/util.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

static int usage(void)
{
	fprintf(stderr,
		"usage: tftp_harness DIR [--listen ADDR] [--port N] "
		"[--port-file FILE] [--max-blksize N] [--max-transfers N] "
		"[--timeout-ms N] [--retries N] [--max-timeout-s N]\n");
	return 2;
}

enum num_opt {
	PORT,
	MAX_BLKSIZE,
	MAX_TRANSFERS,
	TIMEOUT_MS,
	RETRIES,
	MAX_TIMEOUT_S,
	NNUM
};

static const struct {
	const char *name;
	uint64_t max;
} num_opts[NNUM] = {
	[PORT] = {"--port", UINT16_MAX},
	[MAX_BLKSIZE] = {"--max-blksize", UINT32_MAX},
	[MAX_TRANSFERS] = {"--max-transfers", 100000},
	[TIMEOUT_MS] = {"--timeout-ms", 600000},
	[RETRIES] = {"--retries", 100},
	[MAX_TIMEOUT_S] = {"--max-timeout-s", 255},
};

static void set_number(struct aur_tftp_opts *o, enum num_opt which, uint64_t v)
{
	switch (which) {
	case PORT:
		o->port = (uint16_t)v;
		break;
	case MAX_BLKSIZE:
		o->max_blksize = (uint32_t)v;
		break;
	case MAX_TRANSFERS:
		o->max_transfers = (unsigned)v;
		break;
	case TIMEOUT_MS:
		o->timeout_ms = (unsigned)v;
		break;
	case RETRIES:
		o->retries = (unsigned)v;
		break;
	case MAX_TIMEOUT_S:
		o->max_timeout_s = (unsigned)v;
		break;
	case NNUM:
		break;
	}
}

/* A numeric option @opt with its value @val: 1 if @opt is not one, 0 once
 * set, -EINVAL for a bad value. */
static int number_option(struct aur_tftp_opts *o, const char *opt,
			 const char *val)
{
	for (int i = 0; i < NNUM; i++) {
		uint64_t v;

		if (strcmp(opt, num_opts[i].name) != 0)
			continue;
		if (!val || aur_parse_u64(val, &v) < 0 || v > num_opts[i].max) {
			fprintf(stderr,
				"tftp_harness: %s needs a number up to %llu\n",
				opt, (unsigned long long)num_opts[i].max);
			return -EINVAL;
		}
		set_number(o, (enum num_opt)i, v);
		return 0;
	}
	return 1;
}

static int parse_args(int argc, char **argv, struct aur_tftp_opts *o,
		      const char **port_file)
{
	for (int i = 2; i < argc; i += 2) {
		const char *opt = argv[i], *val = argv[i + 1];
		int r;

		if (!strcmp(opt, "--listen") && val) {
			o->listen_addr = val;
			continue;
		}
		if (!strcmp(opt, "--port-file") && val) {
			*port_file = val;
			continue;
		}
		r = number_option(o, opt, val);
		if (r > 0)
			return usage();
		if (r < 0)
			return 2;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct aur_tftp_opts o = {0};
	struct aur_tftp_server *srv = NULL;
	const char *port_file = NULL;
	struct aur_tree *tree;
	sigset_t sigs;
	int sig, r;

	if (argc < 2 || argv[1][0] == '-')
		return usage();
	r = parse_args(argc, argv, &o, &port_file);
	if (r)
		return r;
	/* blocked before any thread starts, so that all inherit it */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	tree = dirtree_new(argv[1]);
	if (!tree) {
		fprintf(stderr, "tftp_harness: cannot read '%s': %s\n", argv[1],
			strerror(errno));
		return 1;
	}
	o.tree = tree;
	r = aur_tftp_open(&o, &srv);
	if (r == 0)
		r = aur_tftp_start(srv);
	if (r == 0 && port_file) {
		char text[16];
		int n = snprintf(text, sizeof(text), "%u\n",
				 aur_tftp_port(srv));

		r = aur_write_file_atomic(port_file, text, (size_t)n, 0644);
	}
	if (r == 0)
		sigwait(&sigs, &sig);
	else
		fprintf(stderr, "tftp_harness: %s\n", strerror(-r));
	aur_tftp_close(srv);
	aur_tree_free(tree);
	return r == 0 ? 0 : 1;
}
