#!/usr/bin/env bash
# deps.sh - install the Debian packages aurorafs needs to build, test and
# run its demo. Idempotent: it only calls apt-get for what is missing.
set -euo pipefail

PKGS=(
	# build
	gcc clang clang-format meson ninja-build pkg-config git
	libfuse3-dev libcurl4-openssl-dev libarchive-dev libyaml-dev
	libssl-dev libcmocka-dev libclang-rt-14-dev libjansson-dev zlib1g-dev
	libzstd-dev libext2fs-dev libsquashfs-dev libmicrohttpd-dev libdeflate-dev
	# run
	fuse3 ca-certificates
	# the demo OS and the tests
	busybox-static cpio kmod xorriso grub-common grub-pc-bin
	grub-efi-amd64-bin mtools dosfstools squashfs-tools isolinux
	syslinux-common genisoimage fdisk gdisk e2fsprogs ovmf qemu-system-x86
	qemu-utils python3 curl util-linux procps zstd squashfs-tools-ng attr
	# container image sources: a registry, a daemon and image tools to test
	# against
	docker-registry skopeo podman umoci
	# netboot: iPXE binaries to serve, and peers and clients to test with
	ipxe dnsmasq nginx-light tftpd-hpa atftp tftp-hpa iproute2 iptables strace
)

missing=()
for p in "${PKGS[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
		missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
	echo "deps: all ${#PKGS[@]} packages are installed"
	exit 0
fi
[ "$(id -u)" = 0 ] || { echo "deps: run as root to install: ${missing[*]}" >&2; exit 1; }
echo "deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -q --no-install-recommends "${missing[@]}"
