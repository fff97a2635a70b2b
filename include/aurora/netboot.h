/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * netboot.h - the network servers a mount starts, as AuroraBoot starts
 * them: unless disable_netboot, a ProxyDHCP (UDP 67 and 4011), TFTP (UDP
 * 69) and the netboot HTTP server (netboot_http_port, 8090), all on
 * netboot_listen_addr; unless disable_http_server or disable_iso, the
 * artifact HTTP server (listen_addr, ":8080"). Every one serves the mount's
 * tree, and a machine the ProxyDHCP sees gets its /netboot/<mac> directory.
 *
 * A server that cannot bind its port (in use, or a privileged port for a
 * user without the right) is said in the log and left out; the mount and
 * the other servers go on.
 */
#ifndef AURORA_NETBOOT_H
#define AURORA_NETBOOT_H

struct aur_config;
struct aur_tree;
struct aur_netboot;

/* Check the addresses and ports of @cfg and bind the servers' sockets
 * (before the daemon forks, so that what fails is said at start-up).
 * -EINVAL (logged) for a port or address that is not one; -ENOMEM. @tree
 * must outlive the servers. */
int aur_netboot_open(const struct aur_config *cfg, struct aur_tree *tree,
		     struct aur_netboot **out);

/* Start the servers' threads (after the fork). 0 or -errno (logged). */
int aur_netboot_start(struct aur_netboot *nb);

/* Stop every server and free @nb. NULL-safe. */
void aur_netboot_close(struct aur_netboot *nb);

#endif
