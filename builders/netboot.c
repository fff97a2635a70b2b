// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The netboot files beside /netboot/kernel, initrd and rootfs.squashfs:
 *
 *   /netboot/ipxe              an iPXE script that chains to the machine's
 *   /netboot/<mac>/ipxe        the machine's script: kernel, initrd and the
 *                              command line AuroraBoot gives
 *   /netboot/<mac>/config.yaml its cloud-config (template values of
 *                              machines.<mac> over machines.default)
 *   /netboot/default/...       the same for a machine without values
 *   /netboot/config.yaml       the default machine's cloud-config
 *   /netboot/undionly.kpxe, ipxe.efi, snponly.efi  the iPXE binaries
 *
 * A machine's directory exists for every MAC address, in any spelling
 * (colons or dashes, any case): looking one up makes the machine's one
 * directory, named by the canonical spelling, and every other spelling is
 * an alias of it. So a directory is listed once its machine has been seen
 * (by the ProxyDHCP, or by a client asking for its files). Their number is
 * bounded: past AUR_NETBOOT_MAX_MACHINES, a new machine's name is an alias
 * of /netboot/default.
 *
 * The scripts are static files, the same through FUSE, HTTP, TFTP or an
 * nginx serving the mount, so they cannot use the request's Host header
 * as AuroraBoot's do: the base URL of the files is netboot.url when set,
 * else http://<netboot_listen_addr>:<netboot_http_port> when the address
 * is a specific one, else iPXE works it out at boot from the ProxyDHCP
 * answer that sent it here (its server identifier).
 */
#include <aurora/builder.h>
#include <aurora/cloudconfig.h>
#include <aurora/config.h>
#include <aurora/log.h>
#include <aurora/source.h>
#include <aurora/tree.h>
#include <aurora/util.h>

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#define AUR_NETBOOT_MAX_MACHINES 4096
#define DEFAULT_IPXE_DIR "/usr/lib/ipxe"

/* AuroraBoot's command line: before root=, between root= and
 * config_url=, after config_url= (reference 6.2) */
#define CMDLINE_BEFORE_ROOT \
	"rd.live.overlay.overlayfs rd.neednet=1 ip=dhcp rd.cos.disable"
#define CMDLINE_AFTER_ROOT "netboot nodepair.enable"
#define CMDLINE_AFTER_CONFIG "console=tty1 console=ttyS0 console=tty0"

static const char *const ipxe_binaries[] = {"undionly.kpxe", "ipxe.efi",
					    "snponly.efi"};

struct machine {
	struct netboot *nb;
	uint8_t mac[6];
	bool is_default; /* no MAC: /netboot/default */
};

/* An iPXE binary of the tree: the file at @path on this machine. */
struct ipxe_binary {
	char *path;
	struct aur_file_source src;
};

struct netboot {
	struct aur_build_ctx *bctx;
	char *base_setup; /* iPXE lines that set ${aurora-base} */
	struct machine fallback; /* the default machine */
	struct aur_node *default_dir;
	pthread_mutex_t lock; /* machines */
	struct machine **machines;
	size_t nmachines;
	bool full_said;
	struct ipxe_binary binaries[AUR_ARRAY_SIZE(ipxe_binaries)];
};

/* ---- scripts ---- */

/* The iPXE lines that set ${aurora-base}, the URL /netboot/... is under. */
static char *base_setup(const struct aur_config *cfg)
{
	unsigned port = aur_config_netboot_port(cfg);
	const char *addr = aur_config_netboot_addr(cfg);

	if (cfg->netboot.url && *cfg->netboot.url) {
		size_t len = strlen(cfg->netboot.url);

		while (len > 0 && cfg->netboot.url[len - 1] == '/')
			len--;
		return aur_printf("set aurora-base %.*s\n", (int)len,
				  cfg->netboot.url);
	}
	if (addr)
		return aur_printf("set aurora-base http://%s:%u\n", addr, port);
	return aur_printf("isset ${proxydhcp/dhcp-server} && "
			  "set aurora-server ${proxydhcp/dhcp-server} || "
			  "set aurora-server ${next-server}\n"
			  "set aurora-base http://${aurora-server}:%u\n",
			  port);
}

/* The kernel command line for machine @m (AuroraBoot's, reference 6.2). */
static char *cmdline(const struct machine *m)
{
	const struct aur_build_ctx *b = m->nb->bctx;
	const char *user = b->cfg->netboot.cmdline;
	char dir[AUR_MAC_STRLEN] = "default";
	AUR_AUTOFREE char *config = NULL;
	const char *root = "root=live:${aurora-base}/netboot/rootfs.squashfs";

	if (!m->is_default)
		aur_mac_format(m->mac, dir);
	config = b->cloud_config_template
			 ? aur_printf(" config_url=${aurora-base}/netboot/%s/"
				      "config.yaml",
				      dir)
			 : strdup("");
	if (!config)
		return NULL;
	if (user && *user)
		return aur_printf("%s%s %s", root, config, user);
	return aur_printf(CMDLINE_BEFORE_ROOT " %s " CMDLINE_AFTER_ROOT
					      "%s " CMDLINE_AFTER_CONFIG,
			  root, config);
}

static char *machine_script(const struct machine *m)
{
	AUR_AUTOFREE char *line = cmdline(m);

	if (!line)
		return NULL;
	return aur_printf("#!ipxe\n%s"
			  "kernel ${aurora-base}/netboot/kernel initrd=initrd "
			  "%s\n"
			  "initrd --name initrd ${aurora-base}/netboot/initrd\n"
			  "boot\n",
			  m->nb->base_setup, line);
}

/* /netboot/ipxe: on to the machine's own script. */
static char *chain_script(const struct netboot *nb)
{
	return aur_printf("#!ipxe\n%s"
			  "chain ${aurora-base}/netboot/${mac:hexhyp}/ipxe\n",
			  nb->base_setup);
}

static int add_text(struct aur_image *img, char *text, size_t len,
		    const char *what)
{
	if (!text)
		return -ENOMEM;
	img->priv = text;
	return len ? aur_extmap_add_mem(&img->map, what, text, len) : 0;
}

static int build_script(void *ctx, struct aur_image *img)
{
	struct machine *m = ctx;
	char *text = machine_script(m);

	img->mtime = m->nb->bctx->cloud_config_mtime;
	return add_text(img, text, text ? strlen(text) : 0, "iPXE script");
}

static int build_chain(void *ctx, struct aur_image *img)
{
	struct netboot *nb = ctx;
	char *text = chain_script(nb);

	img->mtime = nb->bctx->cloud_config_mtime;
	return add_text(img, text, text ? strlen(text) : 0, "iPXE script");
}

static int build_config(void *ctx, struct aur_image *img)
{
	struct machine *m = ctx;
	const struct aur_build_ctx *b = m->nb->bctx;
	char *text = NULL;
	size_t len = 0;
	int r = aur_cloud_config_render_machine(
		b->cfg, b->cloud_config_template, b->cloud_config_template_len,
		b->cloud_config_origin, m->is_default ? NULL : m->mac, &text,
		&len);

	if (r < 0)
		return r;
	img->mtime = b->cloud_config_mtime;
	return add_text(img, text, len, "cloud-config");
}

static void release_text(void *ctx, struct aur_image *img)
{
	free(img->priv);
	img->priv = NULL;
}

static const struct aur_file_ops script_ops = {.build = build_script,
					       .release = release_text};
static const struct aur_file_ops config_ops = {.build = build_config,
					       .release = release_text};
static const struct aur_file_ops chain_ops = {.build = build_chain,
					      .release = release_text};

/* ---- machines ---- */

static int add_machine_files(struct netboot *nb, struct machine *m,
			     const char *dir)
{
	AUR_AUTOFREE char *script = aur_printf("%s/ipxe", dir);
	AUR_AUTOFREE char *config = aur_printf("%s/config.yaml", dir);
	int r;

	if (!script || !config)
		return -ENOMEM;
	r = aur_tree_add_file(nb->bctx->tree, script, &script_ops, m, NULL);
	if (r == 0 && nb->bctx->cloud_config_template)
		r = aur_tree_add_file(nb->bctx->tree, config, &config_ops, m,
				      NULL);
	return r;
}

/* The directory of machine @mac in @dir (/netboot), made if need be (or,
 * past the bound, the default machine's). NULL with errno. */
static struct aur_node *machine_dir(struct netboot *nb, struct aur_node *dir,
				    const uint8_t mac[6])
{
	char name[AUR_MAC_STRLEN];
	AUR_AUTOFREE char *path = NULL;
	struct aur_node *n = NULL;
	struct machine *m, **v;
	int r;

	aur_mac_format(mac, name);
	path = aur_printf("/netboot/%s", name);
	if (!path)
		return NULL;
	pthread_mutex_lock(&nb->lock);
	n = aur_tree_child(nb->bctx->tree, dir, name);
	if (!n && nb->nmachines >= AUR_NETBOOT_MAX_MACHINES) {
		if (!nb->full_said)
			aur_warn("netboot: %d machines have their own files "
				 "already; %s and later ones get "
				 "/netboot/default's",
				 AUR_NETBOOT_MAX_MACHINES, name);
		nb->full_said = true;
		n = nb->default_dir;
	}
	if (n) {
		pthread_mutex_unlock(&nb->lock);
		return n;
	}
	m = calloc(1, sizeof(*m));
	v = m ? realloc(nb->machines, (nb->nmachines + 1) * sizeof(*v)) : NULL;
	if (!v) {
		free(m);
		pthread_mutex_unlock(&nb->lock);
		errno = ENOMEM;
		return NULL;
	}
	nb->machines = v;
	nb->machines[nb->nmachines++] = m;
	m->nb = nb;
	memcpy(m->mac, mac, sizeof(m->mac));
	r = add_machine_files(nb, m, path);
	if (r == 0)
		r = aur_tree_add_dir(nb->bctx->tree, path, NULL, NULL, &n);
	pthread_mutex_unlock(&nb->lock);
	if (r < 0) {
		errno = -r;
		return NULL;
	}
	return n;
}

static struct aur_node *lookup_machine(void *ctx, struct aur_tree *t,
				       struct aur_node *dir, const char *name)
{
	uint8_t mac[6];

	if (aur_mac_parse(name, mac) < 0) {
		errno = ENOENT;
		return NULL;
	}
	return machine_dir(ctx, dir, mac);
}

static const struct aur_dir_ops netboot_dir_ops = {.lookup = lookup_machine};

/* ---- iPXE binaries ---- */

static int build_binary(void *ctx, struct aur_image *img)
{
	struct ipxe_binary *bin = ctx;
	struct stat st;
	int r = aur_file_source_open(&bin->src, bin->path);

	if (r < 0) {
		aur_err("netboot: cannot open '%s': %s", bin->path,
			strerror(-r));
		return r;
	}
	if (fstat(bin->src.fd, &st) == 0)
		img->mtime = st.st_mtime;
	return aur_extmap_add_source(&img->map, bin->path, &bin->src.src, 0,
				     bin->src.src.size);
}

static void release_binary(void *ctx, struct aur_image *img)
{
	aur_file_source_close(&((struct ipxe_binary *)ctx)->src);
}

static const struct aur_file_ops binary_ops = {.build = build_binary,
					       .release = release_binary};

/* Add the iPXE binaries: netboot.ipxe_dir's, else Debian's. A missing one
 * is said once and left out. */
static int add_binaries(struct netboot *nb)
{
	const char *dir = nb->bctx->cfg->netboot.ipxe_dir &&
					  *nb->bctx->cfg->netboot.ipxe_dir
				  ? nb->bctx->cfg->netboot.ipxe_dir
				  : DEFAULT_IPXE_DIR;

	for (size_t i = 0; i < AUR_ARRAY_SIZE(ipxe_binaries); i++) {
		struct ipxe_binary *bin = &nb->binaries[i];
		AUR_AUTOFREE char *file =
			aur_printf("/netboot/%s", ipxe_binaries[i]);
		struct stat st;
		int r;

		bin->src.fd = -1;
		bin->path = aur_printf("%s/%s", dir, ipxe_binaries[i]);
		if (!bin->path || !file)
			return -ENOMEM;
		if (stat(bin->path, &st) < 0 || !S_ISREG(st.st_mode)) {
			aur_warn("netboot: no iPXE binary '%s' (install "
				 "Debian's ipxe, or set netboot.ipxe_dir): "
				 "/netboot/%s is left out",
				 bin->path, ipxe_binaries[i]);
			continue;
		}
		r = aur_tree_add_file(nb->bctx->tree, file, &binary_ops, bin,
				      NULL);
		if (r < 0)
			return r;
	}
	return 0;
}

/* ---- set-up ---- */

static void netboot_free(void *ctx)
{
	struct netboot *nb = ctx;

	for (size_t i = 0; i < nb->nmachines; i++)
		free(nb->machines[i]);
	free(nb->machines);
	for (size_t i = 0; i < AUR_ARRAY_SIZE(ipxe_binaries); i++)
		free(nb->binaries[i].path);
	free(nb->base_setup);
	pthread_mutex_destroy(&nb->lock);
	free(nb);
}

static int add_files(struct aur_build_ctx *ctx)
{
	struct netboot *nb = calloc(1, sizeof(*nb));
	int r;

	if (!nb)
		return -ENOMEM;
	pthread_mutex_init(&nb->lock, NULL);
	nb->bctx = ctx;
	nb->fallback.nb = nb;
	nb->fallback.is_default = true;
	for (size_t i = 0; i < AUR_ARRAY_SIZE(ipxe_binaries); i++)
		nb->binaries[i].src.fd = -1;
	r = aur_tree_on_free(ctx->tree, netboot_free, nb);
	if (r < 0) {
		netboot_free(nb);
		return r;
	}
	nb->base_setup = base_setup(ctx->cfg);
	if (!nb->base_setup)
		return -ENOMEM;
	r = aur_tree_add_dir(ctx->tree, "/netboot", &netboot_dir_ops, nb, NULL);
	if (r == 0)
		r = aur_tree_add_file(ctx->tree, "/netboot/ipxe", &chain_ops,
				      nb, NULL);
	if (r == 0 && ctx->cloud_config_template)
		r = aur_tree_add_file(ctx->tree, "/netboot/config.yaml",
				      &config_ops, &nb->fallback, NULL);
	if (r == 0)
		r = add_machine_files(nb, &nb->fallback, "/netboot/default");
	if (r == 0)
		r = aur_tree_add_dir(ctx->tree, "/netboot/default", NULL, NULL,
				     &nb->default_dir);
	if (r == 0)
		r = add_binaries(nb);
	return r;
}

const struct aur_builder aur_builder_netboot = {
	.name = "netboot",
	.needs = AUR_NEEDS(AUR_PRODUCT_KERNEL) | AUR_NEEDS(AUR_PRODUCT_INITRD) |
		 AUR_NEEDS(AUR_PRODUCT_SQUASHFS),
	.add_files = add_files,
};
