// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * aurorafs: mount the artifacts of an AuroraBoot config as a read-only
 * FUSE filesystem. main() loads and checks everything that can be wrong
 * before mounting (config, cloud-config, state_dir), then mounts, detaches
 * (unless -f) and serves until unmounted.
 */
#include "cli.h"
#include "ops.h"

#include <aurora/builder.h>
#include <aurora/cloudconfig.h>
#include <aurora/config.h>
#include <aurora/fetch.h>
#include <aurora/kv.h>
#include <aurora/log.h>
#include <aurora/tree.h>
#include <aurora/util.h>

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define CONFIG_MAX (4u << 20)

static int load_config(const struct aur_cli *cli, struct aur_kv *sets,
		       struct aur_config **cfg)
{
	AUR_AUTOFREE char *text = NULL;
	size_t len = 0;
	int r;

	if (cli->config && aur_is_url(cli->config)) {
		char err[AUR_FETCH_ERRLEN];

		r = aur_fetch_all(cli->config, CONFIG_MAX, &text, &len, err);
		if (r < 0) {
			aur_err("cannot fetch config %s", err);
			aur_kv_free(sets);
			return r;
		}
	} else if (cli->config) {
		r = aur_read_file(cli->config, CONFIG_MAX, &text, &len);
		if (r < 0) {
			aur_err("cannot read config '%s': %s", cli->config,
				strerror(-r));
			aur_kv_free(sets);
			return r;
		}
	}
	r = aur_config_load(text, len, cli->config ? cli->config : "--set",
			    sets, cfg);
	if (r < 0)
		return r;
	r = aur_config_validate(*cfg);
	if (r < 0) {
		aur_config_free(*cfg);
		*cfg = NULL;
	}
	return r;
}

/* state_dir, or a per-user cache directory: kept across mounts. */
static char *default_state_dir(void)
{
	const char *xdg = getenv("XDG_CACHE_HOME");
	const char *home = getenv("HOME");

	if (geteuid() == 0)
		return strdup("/var/cache/aurorafs");
	if (xdg && *xdg)
		return aur_printf("%s/aurorafs", xdg);
	return aur_printf("%s/.cache/aurorafs", home && *home ? home : "/tmp");
}

static int prepare_state_dir(const struct aur_config *cfg, char **out)
{
	char *dir = cfg->state_dir && *cfg->state_dir ? strdup(cfg->state_dir)
						      : default_state_dir();
	int r;

	if (!dir)
		return -ENOMEM;
	r = aur_mkdir_p(dir, 0755);
	if (r == 0 && access(dir, W_OK) < 0)
		r = -errno;
	if (r < 0) {
		aur_err("state_dir '%s' is not a writable directory: %s", dir,
			strerror(-r));
		free(dir);
		return r;
	}
	*out = dir;
	return 0;
}

/* The cloud-config's file mtime, or now (stdin, URL, config key). */
static time_t cloud_config_mtime(const struct aur_cli *cli,
				 const struct aur_config *cfg)
{
	struct stat st;
	const char *file = cli->cloud_config;

	if (!file && cfg->cloud_config && cli->config &&
	    !aur_is_url(cli->config))
		file = cli->config;
	if (file && strcmp(file, "-") != 0 && stat(file, &st) == 0)
		return st.st_mtime;
	return time(NULL);
}

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

/* Once detached, stderr is /dev/null: log to --log-file or syslog. */
static void redirect_logs(const struct aur_cli *cli)
{
	int fd;

	if (!cli->log_file) {
		aur_log_use_syslog(1);
		return;
	}
	fd = open(cli->log_file, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC,
		  0644);
	if (fd < 0) {
		aur_log_use_syslog(1);
		aur_err("cannot open log file '%s': %s", cli->log_file,
			strerror(errno));
		return;
	}
	dup2(fd, STDERR_FILENO);
	close(fd);
}

static int serve(const struct aur_cli *cli, struct aur_tree *tree,
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
	if (fuse_session_mount(se, cli->mountpoint) != 0)
		goto out_signals;
	aur_info("mounted on '%s'", cli->mountpoint);
	/* the mount exists now: the caller may return (like sshfs) */
	if (fuse_daemonize(cli->foreground) != 0)
		goto out_unmount;
	if (!cli->foreground)
		redirect_logs(cli);
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
	struct aur_build_ctx bctx = {0};
	struct aur_config *cfg = NULL;
	struct aur_tree *tree = NULL;
	struct aur_cli cli;
	AUR_AUTOFREE char *raw_cc = NULL;
	AUR_AUTOFREE char *cloud = NULL;
	AUR_AUTOFREE char *state_dir = NULL;
	size_t raw_len = 0, cloud_len = 0;
	struct aur_kv *sets;
	int r, status = 1;

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
	sets = cli.sets;
	cli.sets = NULL;
	if (load_config(&cli, sets, &cfg) < 0)
		goto out;
	if (cli.cloud_config &&
	    aur_cloud_config_read(cli.cloud_config, &raw_cc, &raw_len) < 0)
		goto out;
	if (aur_cloud_config_render(cfg, raw_cc, raw_len,
				    cli.cloud_config ? cli.cloud_config : "",
				    &cloud, &cloud_len) < 0)
		goto out;
	r = prepare_state_dir(cfg, &state_dir);
	if (r < 0)
		goto out;
	tree = aur_tree_new(time(NULL));
	if (!tree)
		goto out;
	bctx.cfg = cfg;
	bctx.state_dir = state_dir;
	bctx.cloud_config = cloud;
	bctx.cloud_config_len = cloud_len;
	bctx.cloud_config_mtime = cloud_config_mtime(&cli, cfg);
	bctx.tree = tree;
	if (aur_builders_add_all(&bctx) < 0)
		goto out;
	status = serve(&cli, tree, argv[0]);
out:
	aur_tree_free(tree);
	aur_config_free(cfg);
	aur_cli_release(&cli);
	aur_fetch_global_cleanup();
	return status;
}
