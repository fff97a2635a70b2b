// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The servers a mount starts (netboot.h): the config turned into each
 * server's options, opened (bound) at start-up, started after the fork.
 */
#include <aurora/config.h>
#include <aurora/dhcp.h>
#include <aurora/http.h>
#include <aurora/log.h>
#include <aurora/netboot.h>
#include <aurora/tftp.h>
#include <aurora/tree.h>
#include <aurora/util.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_LISTEN_ADDR ":8080"
#define TFTP_PORT 69

struct aur_netboot {
	struct aur_tree *tree;
	struct aur_dhcp_server *dhcp;
	struct aur_tftp_server *tftp;
	struct aur_http_server *http; /* netboot_http_port */
	struct aur_http_server *artifacts; /* listen_addr */
	char *http_listen;
};

/* A machine asked the ProxyDHCP what to boot: its directory appears. */
static int machine_seen(void *ctx, const char *mac, int arch, bool ipxe)
{
	struct aur_netboot *nb = ctx;
	AUR_AUTOFREE char *path = aur_printf("/netboot/%s", mac);

	if (!path)
		return -ENOMEM;
	return aur_tree_find(nb->tree, path) ? 0 : -errno;
}

/* Say that a server is left out, and why; a bad option (EINVAL) and
 * ENOMEM are fatal. */
static int left_out(const char *what, int r)
{
	if (r == -ENOMEM || r == -EINVAL)
		return r;
	aur_err("%s not started: %s", what, strerror(-r));
	return 0;
}

static int open_netboot_servers(struct aur_netboot *nb,
				const struct aur_config *cfg)
{
	struct aur_dhcp_opts dhcp;
	struct aur_tftp_opts tftp = {0};
	struct aur_http_opts http = {0};
	const char *addr = aur_config_netboot_addr(cfg);
	uint16_t port = aur_config_netboot_port(cfg);
	int r;

	aur_dhcp_opts_init(&dhcp);
	dhcp.listen_addr = addr;
	dhcp.http_port = port;
	dhcp.seen = machine_seen;
	dhcp.seen_ctx = nb;
	r = aur_dhcp_open(&dhcp, &nb->dhcp);
	if (r < 0 && (r = left_out("ProxyDHCP", r)) < 0)
		return r;

	tftp.tree = nb->tree;
	tftp.listen_addr = addr;
	tftp.port = TFTP_PORT;
	r = aur_tftp_open(&tftp, &nb->tftp);
	if (r < 0 && (r = left_out("TFTP server", r)) < 0)
		return r;

	/* IPv4 only: the ProxyDHCP refuses anything else */
	nb->http_listen = aur_printf("%s:%u", addr ? addr : "", port);
	if (!nb->http_listen)
		return -ENOMEM;
	http.tree = nb->tree;
	http.listen = nb->http_listen;
	http.name = "HTTP";
	r = aur_http_open(&http, &nb->http);
	if (r < 0 && (r = left_out("netboot HTTP server", r)) < 0)
		return r;
	return 0;
}

/* Whether the netboot HTTP server already listens where the artifact
 * server would: it serves the same tree, so one server is enough. */
static bool netboot_http_covers(const struct aur_netboot *nb,
				const struct aur_config *cfg,
				const char *listen)
{
	const char *netboot_host = aur_config_netboot_addr(cfg);
	char host[256];
	uint16_t port;

	if (!nb->http ||
	    aur_http_split_listen(listen, host, sizeof(host), &port) < 0)
		return false;
	/* the netboot server on every address, or on the same host */
	return port == aur_config_netboot_port(cfg) &&
	       (!netboot_host || strcmp(host, netboot_host) == 0);
}

static int open_artifact_server(struct aur_netboot *nb,
				const struct aur_config *cfg)
{
	struct aur_http_opts http = {0};
	int r;

	http.tree = nb->tree;
	http.listen = cfg->listen_addr && *cfg->listen_addr
			      ? cfg->listen_addr
			      : DEFAULT_LISTEN_ADDR;
	if (netboot_http_covers(nb, cfg, http.listen)) {
		aur_info("artifacts: served by the netboot HTTP server on "
			 "'%s'",
			 nb->http_listen);
		return 0;
	}
	http.name = "artifacts";
	r = aur_http_open(&http, &nb->artifacts);
	return r < 0 ? left_out("artifact HTTP server", r) : 0;
}

int aur_netboot_open(const struct aur_config *cfg, struct aur_tree *tree,
		     struct aur_netboot **out)
{
	struct aur_netboot *nb = calloc(1, sizeof(*nb));
	int r = 0;

	if (!nb)
		return -ENOMEM;
	nb->tree = tree;
	if (!cfg->disable_netboot)
		r = open_netboot_servers(nb, cfg);
	/* as AuroraBoot: the artifact server serves ISOs, so disable_iso
	 * turns it off too */
	if (r == 0 && !cfg->disable_http_server && !cfg->disable_iso)
		r = open_artifact_server(nb, cfg);
	if (r < 0) {
		aur_netboot_close(nb);
		return r;
	}
	*out = nb;
	return 0;
}

int aur_netboot_start(struct aur_netboot *nb)
{
	int r = 0;

	if (nb->dhcp)
		r = aur_dhcp_start(nb->dhcp);
	if (r == 0 && nb->tftp)
		r = aur_tftp_start(nb->tftp);
	if (r == 0 && nb->http)
		r = aur_http_start(nb->http);
	if (r == 0 && nb->artifacts)
		r = aur_http_start(nb->artifacts);
	return r;
}

void aur_netboot_close(struct aur_netboot *nb)
{
	if (!nb)
		return;
	aur_dhcp_close(nb->dhcp);
	aur_tftp_close(nb->tftp);
	aur_http_close(nb->http);
	aur_http_close(nb->artifacts);
	free(nb->http_listen);
	free(nb);
}
