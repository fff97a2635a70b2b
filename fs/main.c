// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * aurorafs: mount the artifacts of an AuroraBoot config as a read-only
 * FUSE filesystem. main() sets up the instance (instance.h: everything
 * that can be wrong is checked before mounting), binds the network
 * servers' ports (netboot.h), mounts, detaches (unless -f), starts the
 * servers and serves until unmounted. A detached daemon logs to --log-file, or
 * to <state_dir>/aurorafs.log, and says where on standard error first.
 */
#include "cli.h"
#include "ops.h"

#include <aurora/fetch.h>
#include <aurora/instance.h>
#include <aurora/netboot.h>
#include <aurora/log.h>
#include <aurora/util.h>

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static int build_fuse_args(const struct aur_cli *cli, struct fuse_args *args,
			   const char *argv0)
{
	AUR_AUTOFREE char *opts = aur_printf(
		"%s%sfsname=aurorafs,subtype=aurorafs,default_permissions,ro",
		cli->fuse_opts ? cli->fuse_opts : "",
		cli->fuse_opts ? "," : "");

	if (!opts || fuse_opt_add_arg(args, argv0) < 0 ||
	    fuse_opt_add_arg(args, "-o") < 0 || fuse_opt_add_arg(args, opts))
		return -ENOMEM;
	if (cli->fuse_debug && fuse_opt_add_arg(args, "-d") < 0)
		return -ENOMEM;
	return 0;
}

/* Where a detached daemon logs: --log-file, else a file in state_dir.
 * "syslog" means syslog. Absolute, since the daemon changes to "/". */
static char *log_destination(const struct aur_cli *cli,
			     const struct aur_instance *in)
{
	if (cli->log_file && strcmp(cli->log_file, "syslog") == 0)
		return strdup("syslog");
	if (cli->log_file)
		return aur_absolute_path(cli->log_file);
	return aur_printf("%s/aurorafs.log", in->state_dir);
}

/* Open the log file before detaching, so that a bad path is an error the
 * user sees. Returns the fd, -1 for syslog, or -errno. */
static int open_log(const char *dest)
{
	int fd;

	if (strcmp(dest, "syslog") == 0)
		return -1;
	fd = open(dest, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
	if (fd < 0) {
		aur_err("cannot open log file '%s': %s", dest, strerror(errno));
		return -errno;
	}
	return fd;
}

/* Once detached, stderr is /dev/null: log to a copy of @log_fd, or
 * syslog. */
static void redirect_logs(int log_fd)
{
	if (log_fd < 0) {
		aur_log_use_syslog(1);
		return;
	}
	dup2(log_fd, STDERR_FILENO);
}

static int serve(const struct aur_cli *cli, struct aur_tree *tree,
		 const char *mountpoint, int log_fd, struct aur_netboot *nb,
		 const char *argv0)
{
	struct fuse_args args = FUSE_ARGS_INIT(0, NULL);
	struct aur_fs fs = {.tree = tree, .uid = getuid(), .gid = getgid()};
	struct fuse_loop_config *loop = NULL;
	struct fuse_session *se = NULL;
	int r = 1;

	if (build_fuse_args(cli, &args, argv0) < 0)
		goto out;
	se = fuse_session_new(&args, &aur_fs_ops, sizeof(aur_fs_ops), &fs);
	if (!se)
		goto out;
	if (fuse_set_signal_handlers(se) != 0)
		goto out_session;
	if (fuse_session_mount(se, mountpoint) != 0)
		goto out_signals;
	aur_info("mounted on '%s'", mountpoint);
	/* the mount exists now: the caller may return (like sshfs) */
	if (fuse_daemonize(cli->foreground) != 0)
		goto out_unmount;
	if (!cli->foreground)
		redirect_logs(log_fd);
	/* threads only now: they would not survive the fork */
	if (aur_netboot_start(nb) < 0)
		goto out_unmount;
	loop = fuse_loop_cfg_create();
	if (!loop)
		goto out_unmount;
	fuse_loop_cfg_set_max_threads(loop, 32);
	fuse_loop_cfg_set_idle_threads(loop, 8);
	r = fuse_session_loop_mt(se, loop) ? 1 : 0;
	fuse_loop_cfg_destroy(loop);
out_unmount:
	fuse_session_unmount(se);
out_signals:
	fuse_remove_signal_handlers(se);
out_session:
	fuse_session_destroy(se);
out:
	fuse_opt_free_args(&args);
	return r;
}

int main(int argc, char **argv)
{
	struct aur_instance *in = NULL;
	struct aur_netboot *nb = NULL;
	struct aur_instance_args args;
	AUR_AUTOFREE char *mountpoint = NULL;
	AUR_AUTOFREE char *log_dest = NULL;
	struct aur_cli cli;
	int log_fd = -1, status = 1;

	if (aur_cli_parse(argc, argv, &cli) < 0)
		return 1;
	if (cli.help) {
		fputs(aur_cli_usage, stdout);
		aur_cli_release(&cli);
		return 0;
	}
	if (cli.version) {
		printf("aurorafs %s (libfuse %d)\n", AURORAFS_VERSION,
		       fuse_version());
		aur_cli_release(&cli);
		return 0;
	}
	if (cli.debug)
		aur_log_set_level(LOG_DEBUG);
	if (aur_fetch_global_init() < 0) {
		aur_err("cannot initialise libcurl");
		goto out;
	}
	args.config = cli.config;
	args.sets = cli.sets;
	args.cloud_config = cli.cloud_config;
	cli.sets = NULL;
	if (aur_instance_open(&args, &in) < 0)
		goto out;
	/* bind the servers' ports now, so that what fails is said here */
	if (aur_netboot_open(in->cfg, in->tree, &nb) < 0)
		goto out;
	/* the daemon changes to "/": resolve what is relative now */
	mountpoint = aur_absolute_path(cli.mountpoint);
	if (!mountpoint) {
		aur_err("mountpoint '%s': %s", cli.mountpoint, strerror(errno));
		goto out;
	}
	if (!cli.foreground) {
		log_dest = log_destination(&cli, in);
		if (!log_dest)
			goto out;
		log_fd = open_log(log_dest);
		if (log_fd < -1)
			goto out;
		aur_info("logging to %s once detached", log_dest);
	}
	status = serve(&cli, in->tree, mountpoint, log_fd, nb, argv[0]);
out:
	if (log_fd >= 0)
		close(log_fd);
	aur_netboot_close(nb);
	aur_instance_close(in);
	aur_cli_release(&cli);
	aur_fetch_global_cleanup();
	return status;
}
