// SPDX-License-Identifier: GPL-2.0-or-later
#include "cli.h"

#include <aurora/config.h>
#include <aurora/kv.h>
#include <aurora/log.h>
#include <aurora/util.h>

#include <errno.h>
#include <string.h>

const char aur_cli_usage[] =
	"usage: aurorafs [OPTIONS] [CONFIG] MOUNTPOINT\n"
	"\n"
	"Mount a read-only filesystem of the bootable artifacts described by\n"
	"an AuroraBoot CONFIG (a YAML file, or an http, https or file URL).\n"
	"Each file is built when it is first read, and cached in state_dir.\n"
	"\n"
	"options:\n"
	"  --set KEY=VALUE        set a config key (dotted keys nest; the\n"
	"                         last one wins; repeatable)\n"
	"  --cloud-config SOURCE  cloud-config to embed: a file, an URL, or -\n"
	"                         for standard input ([[ .key ]] and\n"
	"                         [[[ .key ]]] are replaced by --set values)\n"
	"  --debug                log debug messages\n"
	"  --log-file PATH        where the detached daemon logs (default:\n"
	"                         STATE_DIR/aurorafs.log; 'syslog' for "
	"syslog)\n"
	"  -f, --foreground       do not detach; log to standard error\n"
	"  -d                     --debug, -f and libfuse's debug output\n"
	"  -o OPT[,OPT...]        mount options: allow_other and the usual\n"
	"                         ones, plus cloud_config=SOURCE,\n"
	"                         state_dir=DIR, set.KEY=VALUE, log_file=PATH\n"
	"  -h, --help             show this help\n"
	"  -V, --version          show the version\n";

static int add_fuse_opt(struct aur_cli *cli, const char *opt)
{
	char *s;

	if (cli->fuse_opts)
		s = aur_printf("%s,%s", cli->fuse_opts, opt);
	else
		s = strdup(opt);
	if (!s)
		return -ENOMEM;
	free(cli->fuse_opts);
	cli->fuse_opts = s;
	return 0;
}

static int replace(char **dst, const char *value)
{
	char *s = strdup(value);

	if (!s)
		return -ENOMEM;
	free(*dst);
	*dst = s;
	return 0;
}

/* Split one -o argument; keep ours, pass the rest to libfuse. */
static int parse_mount_opts(struct aur_cli *cli, const char *arg)
{
	AUR_AUTOFREE char *copy = strdup(arg);
	char *opt, *save = NULL;
	int r = 0;

	if (!copy)
		return -ENOMEM;
	for (opt = strtok_r(copy, ",", &save); opt && r == 0;
	     opt = strtok_r(NULL, ",", &save)) {
		if (aur_startswith(opt, "cloud_config="))
			r = replace(&cli->cloud_config, opt + 13);
		else if (aur_startswith(opt, "log_file="))
			r = replace(&cli->log_file, opt + 9);
		else if (aur_startswith(opt, "state_dir="))
			r = aur_config_add_set(&cli->sets, opt);
		else if (aur_startswith(opt, "set."))
			r = aur_config_add_set(&cli->sets, opt + 4);
		else if (strcmp(opt, "debug") == 0)
			cli->debug = cli->fuse_debug = true;
		else if (strcmp(opt, "rw") == 0)
			; /* mount(8) adds it by default: the mount is ro */
		else
			r = add_fuse_opt(cli, opt);
	}
	return r;
}

/* "--name value" or "--name=value": the value, advancing *i as needed. */
static const char *opt_value(int argc, char **argv, int *i, const char *name)
{
	size_t n = strlen(name);
	const char *a = argv[*i];

	if (strncmp(a, name, n) != 0)
		return NULL;
	if (a[n] == '=' && a[n + 1] != '\0')
		return a + n + 1;
	if (a[n] != '\0' && a[n] != '=')
		return NULL;
	if (a[n] == '=' || *i + 1 >= argc) {
		aur_err("option '%s' needs a value", name);
		return "";
	}
	return argv[++*i];
}

int aur_cli_parse(int argc, char **argv, struct aur_cli *cli)
{
	const char *pos[2];
	int npos = 0, r = 0;

	memset(cli, 0, sizeof(*cli));
	for (int i = 1; i < argc && r == 0; i++) {
		const char *a = argv[i], *v;

		if ((v = opt_value(argc, argv, &i, "--set"))) {
			r = *v ? aur_config_add_set(&cli->sets, v) : -EINVAL;
		} else if ((v = opt_value(argc, argv, &i, "--cloud-config"))) {
			r = *v ? replace(&cli->cloud_config, v) : -EINVAL;
		} else if ((v = opt_value(argc, argv, &i, "--log-file"))) {
			r = *v ? replace(&cli->log_file, v) : -EINVAL;
		} else if (strcmp(a, "--debug") == 0) {
			cli->debug = true;
		} else if (strcmp(a, "-f") == 0 ||
			   strcmp(a, "--foreground") == 0) {
			cli->foreground = true;
		} else if (strcmp(a, "-d") == 0) {
			cli->debug = cli->fuse_debug = cli->foreground = true;
		} else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
			cli->help = true;
		} else if (strcmp(a, "-V") == 0 ||
			   strcmp(a, "--version") == 0) {
			cli->version = true;
		} else if (strcmp(a, "-o") == 0) {
			if (i + 1 >= argc) {
				aur_err("option '-o' needs a value");
				r = -EINVAL;
			} else {
				r = parse_mount_opts(cli, argv[++i]);
			}
		} else if (aur_startswith(a, "-o")) {
			r = parse_mount_opts(cli, a + 2);
		} else if (a[0] == '-' && a[1] != '\0') {
			aur_err("unknown option '%s' (see --help)", a);
			r = -EINVAL;
		} else if (npos < 2) {
			pos[npos++] = a;
		} else {
			aur_err("unexpected argument '%s': expected [CONFIG] "
				"MOUNTPOINT",
				a);
			r = -EINVAL;
		}
	}
	if (r == 0 && !cli->help && !cli->version) {
		if (npos == 0) {
			aur_err("missing MOUNTPOINT (see --help)");
			r = -EINVAL;
		} else {
			cli->config = npos == 2 ? pos[0] : NULL;
			cli->mountpoint = pos[npos - 1];
		}
	}
	if (r < 0) {
		aur_cli_release(cli);
		return r == -ENOMEM ? r : -EINVAL;
	}
	return 0;
}

void aur_cli_release(struct aur_cli *cli)
{
	aur_kv_free(cli->sets);
	free(cli->cloud_config);
	free(cli->log_file);
	free(cli->fuse_opts);
	memset(cli, 0, sizeof(*cli));
}
