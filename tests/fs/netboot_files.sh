#!/usr/bin/env bash
# netboot_files.sh - the netboot files through a real mount: the iPXE
# scripts and their command line (AuroraBoot's, netboot.cmdline's), the
# base URL (worked out by iPXE, netboot_listen_addr, netboot.url), the
# per-machine directories (any spelling of a MAC is the machine's one
# directory, listed once seen), per-machine cloud-configs from the machines
# key or the config's cloud_config, the iPXE binaries (Debian's,
# netboot.ipxe_dir's), and bad machines keys.
. "$(dirname "$0")/lib.sh"
ensure_demo

start_httpd web "$DEMO_RELEASE_ROOT"
# shellcheck disable=SC2207
REL=($(release_args "$web_URL"))
M=$T/mnt
N=$M/netboot
cat >"$T/cc.yaml" <<'YAML'
#cloud-config
hostname: "[[ .hostname ]]"
role: "[[ .role ]]"
mac: "[[ .mac ]]"
token: "[[ .token ]]"
YAML
cat >"$T/config.yaml" <<'YAML'
machines:
  default:
    hostname: anonymous
    role: worker
  52-54-00-A0-77-01:
    hostname: node-1
    role: master
YAML
mount_afs "$M" "$T/config.yaml" "${REL[@]}" --cloud-config "$T/cc.yaml" --set token=t0k \
	--set machines.52:54:00:a0:77:02.hostname=node-2 --set state_dir="$T/state"

# -- what is there before any machine is seen
ls "$N" >"$T/ls"
for f in config.yaml default initrd ipxe ipxe.efi kernel rootfs.squashfs snponly.efi undionly.kpxe; do
	grep -qx "$f" "$T/ls" || fail "no /netboot/$f: $(tr '\n' ' ' <"$T/ls")"
done
[ "$(wc -l <"$T/ls")" = 9 ] || fail "unexpected entries: $(tr '\n' ' ' <"$T/ls")"
for f in undionly.kpxe ipxe.efi snponly.efi; do
	cmp "$N/$f" "/usr/lib/ipxe/$f" || fail "$f is not Debian's"
done
cmp "$N/kernel" "$DEMO_KERNEL" || fail "kernel"
pass "/netboot lists the boot files, the scripts, the default machine and Debian's iPXE binaries"

# -- per machine: every spelling is the one directory, listed once seen
want_config() { # FILE HOSTNAME ROLE MAC
	printf '#cloud-config\nhostname: "%s"\nrole: "%s"\nmac: "%s"\ntoken: "t0k"\n' "$2" "$3" "$4" |
		cmp - "$1" || fail "$1: $(cat "$1")"
}
want_config "$N/52-54-00-A0-77-01/config.yaml" node-1 master 52:54:00:a0:77:01
want_config "$N/52:54:00:a0:77:01/config.yaml" node-1 master 52:54:00:a0:77:01
want_config "$N/52:54:00:A0:77:02/config.yaml" node-2 worker 52:54:00:a0:77:02
want_config "$N/0a-0b-0c-0d-0e-0f/config.yaml" anonymous worker 0a:0b:0c:0d:0e:0f
want_config "$N/config.yaml" anonymous worker ""
want_config "$N/default/config.yaml" anonymous worker ""
ls "$N" | grep -E '^[0-9a-f:]{17}$' | sort >"$T/machines"
printf '0a:0b:0c:0d:0e:0f\n52:54:00:a0:77:01\n52:54:00:a0:77:02\n' | cmp - "$T/machines" ||
	fail "machines listed: $(tr '\n' ' ' <"$T/machines")"
for bad in 52:54:00:a0:77 52-54:00-a0:77-01 52:54:00:a0:77:0g nothing 52:54:00:a0:77:01:02; do
	if [ -e "$N/$bad" ]; then fail "/netboot/$bad exists"; fi
done
ls "$N" | grep -q '^52-54' && fail "an alias spelling is listed"
pass "per-machine directories: any spelling, one canonical directory listed once seen, machines values over default, --set machines too"

# -- the scripts: AuroraBoot's command line, the base URL from iPXE
S=$N/52:54:00:a0:77:01/ipxe
head -n1 "$S" | grep -qx '#!ipxe' || fail "not an iPXE script"
grep -qx 'isset ${proxydhcp/dhcp-server} && set aurora-server ${proxydhcp/dhcp-server} || set aurora-server ${next-server}' "$S" ||
	fail "no server from the ProxyDHCP answer: $(cat "$S")"
grep -qx 'set aurora-base http://${aurora-server}:8090' "$S" || fail "base URL: $(cat "$S")"
want='kernel ${aurora-base}/netboot/kernel initrd=initrd rd.live.overlay.overlayfs rd.neednet=1 ip=dhcp rd.cos.disable root=live:${aurora-base}/netboot/rootfs.squashfs netboot nodepair.enable config_url=${aurora-base}/netboot/52:54:00:a0:77:01/config.yaml console=tty1 console=ttyS0 console=tty0'
grep -qxF "$want" "$S" || fail "kernel line: $(grep kernel "$S")"
grep -qxF 'initrd --name initrd ${aurora-base}/netboot/initrd' "$S" || fail "initrd line"
tail -n1 "$S" | grep -qx boot || fail "no boot"
grep -qF 'config_url=${aurora-base}/netboot/default/config.yaml' "$N/default/ipxe" || fail "default script"
grep -qxF 'chain ${aurora-base}/netboot/${mac:hexhyp}/ipxe' "$N/ipxe" || fail "/netboot/ipxe: $(cat "$N/ipxe")"
unmount_afs "$M" "$AFS_PID"
pass "iPXE scripts: AuroraBoot's command line, per-machine config_url, base URL from the ProxyDHCP answer"

# -- netboot.cmdline, netboot_listen_addr, netboot.url, netboot.ipxe_dir; no cloud-config
mkdir -p "$T/ipxe"
head -c 1000 /dev/urandom >"$T/ipxe/ipxe.efi"
mount_afs "$M" "${REL[@]}" --cloud-config "$T/cc.yaml" --set netboot.cmdline="console=ttyS0 panic=5" \
	--set netboot_listen_addr=10.1.2.3 --set netboot_http_port=8123 --set netboot.ipxe_dir="$T/ipxe" \
	--set state_dir="$T/state"
S=$N/aa:bb:cc:dd:ee:ff/ipxe
grep -qx 'set aurora-base http://10.1.2.3:8123' "$S" || fail "listen address: $(cat "$S")"
grep -qxF 'kernel ${aurora-base}/netboot/kernel initrd=initrd root=live:${aurora-base}/netboot/rootfs.squashfs config_url=${aurora-base}/netboot/aa:bb:cc:dd:ee:ff/config.yaml console=ttyS0 panic=5' "$S" ||
	fail "netboot.cmdline: $(grep kernel "$S")"
cmp "$N/ipxe.efi" "$T/ipxe/ipxe.efi" || fail "netboot.ipxe_dir's ipxe.efi"
[ ! -e "$N/undionly.kpxe" ] || fail "a binary missing from netboot.ipxe_dir is served"
grep -q "no iPXE binary '$T/ipxe/undionly.kpxe'" "$AFS_LOG" || fail "missing binary not said: $(cat "$AFS_LOG")"
unmount_afs "$M" "$AFS_PID"
mount_afs "$M" "${REL[@]}" --set netboot.url=http://boot.example:81/ --set state_dir="$T/state"
S=$N/default/ipxe
grep -qx 'set aurora-base http://boot.example:81' "$S" || fail "netboot.url: $(cat "$S")"
grep -q config_url "$S" && fail "config_url without a cloud-config"
[ ! -e "$N/config.yaml" ] && [ ! -e "$N/default/config.yaml" ] || fail "config.yaml without a cloud-config"
unmount_afs "$M" "$AFS_PID"
pass "netboot.cmdline, netboot_listen_addr and port, netboot.url, netboot.ipxe_dir; no cloud-config, no config_url"

# -- the config's cloud_config key: the same template as --cloud-config
{
	cat "$T/config.yaml"
	printf 'cloud_config: |\n'
	sed 's/^/  /' "$T/cc.yaml"
} >"$T/config-cc.yaml"
mount_afs "$M" "$T/config-cc.yaml" "${REL[@]}" --set state_dir="$T/state"
want_cc() { printf '#cloud-config\nhostname: "%s"\nrole: "%s"\nmac: "%s"\ntoken: ""\n' "$@"; }
cmp -s "$M/config.yaml" <(want_cc anonymous worker "") || fail "/config.yaml from cloud_config: $(cat "$M/config.yaml")"
cmp -s "$N/52:54:00:a0:77:01/config.yaml" <(want_cc node-1 master 52:54:00:a0:77:01) ||
	fail "a machine's config from cloud_config: $(cat "$N/52:54:00:a0:77:01/config.yaml")"
grep -q config_url "$N/default/ipxe" || fail "no config_url with the cloud_config key"
unmount_afs "$M" "$AFS_PID"
pass "the config's cloud_config key: rendered for /config.yaml and per machine"

# -- bad machines keys: start-up errors with file:line
printf 'machines:\n  not-a-mac:\n    hostname: x\n' >"$T/bad1.yaml"
printf 'machines:\n  52:54:00:a0:77:01: just-a-string\n' >"$T/bad2.yaml"
printf 'machines: [a, b]\n' >"$T/bad3.yaml"
for b in bad1 bad2 bad3; do
	if "$AURORAFS" -f "$T/$b.yaml" "${REL[@]}" "$M" 2>"$T/err"; then fail "$b accepted"; fi
	grep -q "$T/$b.yaml:[123]: .*machines" "$T/err" || fail "$b: $(cat "$T/err")"
done
pass "bad machines keys refused at start-up with file:line"
