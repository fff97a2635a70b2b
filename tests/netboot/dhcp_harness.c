// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * dhcp-harness - the ProxyDHCP server alone, for the tests that drive it
 * with real clients:
 *
 *   dhcp-harness [--listen ADDR] [--port N] [--pxe-port N]
 *                [--client-port N] [--http-port N] [--bios FILE]
 *                [--efi FILE] [--http-efi FILE] [--script FILE]
 *                [--machines N] [--debug]
 *
 * Prints "ready <port> <pxe-port>" once answering, then one line
 * "seen <mac> <arch> <ipxe 0|1>" per call of the "seen" callback, which
 * accepts the first N distinct machines (--machines; default unlimited)
 * and refuses the others with ENOSPC. Logs go to stderr (--debug: every
 * message, answered or not). Runs until SIGTERM or SIGINT; exit status 0, or 1
 * if the server did not start.
 */
#include <aurora/dhcp.h>
#include <aurora/log.h>
#include <aurora/util.h>

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MACHINES_MAX 4096

struct machines {
	unsigned long limit;
	size_t count;
	char mac[MACHINES_MAX][18];
};

static bool known(const struct machines *ms, const char *mac)
{
	for (size_t i = 0; i < ms->count; i++)
		if (strcmp(ms->mac[i], mac) == 0)
			return true;
	return false;
}

static int seen(void *ctx, const char *mac, int arch, bool ipxe)
{
	struct machines *ms = ctx;

	printf("seen %s %d %d\n", mac, arch, ipxe ? 1 : 0);
	fflush(stdout);
	if (known(ms, mac))
		return 0;
	if (ms->count >= ms->limit || ms->count >= MACHINES_MAX)
		return -ENOSPC;
	snprintf(ms->mac[ms->count++], sizeof(ms->mac[0]), "%s", mac);
	return 0;
}

static int port_arg(const char *s, uint16_t *out)
{
	uint64_t v;

	if (aur_parse_u64(s, &v) < 0 || v > UINT16_MAX) {
		fprintf(stderr, "dhcp-harness: bad port '%s'\n", s);
		return -1;
	}
	*out = (uint16_t)v;
	return 0;
}

static int parse_args(int argc, char **argv, struct aur_dhcp_opts *o,
		      struct machines *ms)
{
	static const struct option longopts[] = {
		{"listen", required_argument, NULL, 'l'},
		{"port", required_argument, NULL, 'p'},
		{"pxe-port", required_argument, NULL, 'x'},
		{"client-port", required_argument, NULL, 'c'},
		{"http-port", required_argument, NULL, 'h'},
		{"bios", required_argument, NULL, 'b'},
		{"efi", required_argument, NULL, 'e'},
		{"http-efi", required_argument, NULL, 'H'},
		{"script", required_argument, NULL, 's'},
		{"machines", required_argument, NULL, 'm'},
		{"debug", no_argument, NULL, 'd'},
		{NULL, 0, NULL, 0},
	};
	uint64_t limit;
	int c, r = 0;

	while (r == 0 &&
	       (c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case 'l':
			o->listen_addr = optarg;
			break;
		case 'p':
			r = port_arg(optarg, &o->port);
			break;
		case 'x':
			r = port_arg(optarg, &o->pxe_port);
			break;
		case 'c':
			r = port_arg(optarg, &o->client_port);
			break;
		case 'h':
			r = port_arg(optarg, &o->http_port);
			break;
		case 'b':
			o->bios_file = optarg;
			break;
		case 'e':
			o->efi_file = optarg;
			break;
		case 'H':
			o->http_efi_file = optarg;
			break;
		case 's':
			o->ipxe_script = optarg;
			break;
		case 'd':
			aur_log_set_level(LOG_DEBUG);
			break;
		case 'm':
			r = aur_parse_u64(optarg, &limit);
			ms->limit = (unsigned long)limit;
			break;
		default:
			r = -1;
		}
	}
	if (r == 0 && optind != argc)
		r = -1;
	return r;
}

int main(int argc, char **argv)
{
	static struct machines ms = {.limit = MACHINES_MAX};
	struct aur_dhcp_opts o;
	struct aur_dhcp_server *s;
	sigset_t stop;
	int sig;

	aur_dhcp_opts_init(&o);
	o.seen = seen;
	o.seen_ctx = &ms;
	if (parse_args(argc, argv, &o, &ms) < 0) {
		fprintf(stderr,
			"usage: dhcp-harness [--listen ADDR] [--port N] "
			"[--pxe-port N] [--client-port N] [--http-port N] "
			"[--bios F] [--efi F] [--http-efi F] [--script F] "
			"[--machines N] [--debug]\n");
		return 2;
	}
	sigemptyset(&stop);
	sigaddset(&stop, SIGTERM);
	sigaddset(&stop, SIGINT);
	pthread_sigmask(SIG_BLOCK, &stop, NULL);
	aur_log_set_repeat_window(0);
	if (aur_dhcp_open(&o, &s) < 0)
		return 1;
	if (aur_dhcp_start(s) < 0) {
		aur_dhcp_close(s);
		return 1;
	}
	printf("ready %u %u\n", aur_dhcp_port(s), aur_dhcp_pxe_port(s));
	fflush(stdout);
	sigwait(&stop, &sig);
	aur_dhcp_close(s);
	return 0;
}
