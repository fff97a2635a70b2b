#!/usr/bin/env bash
# demo.sh - the main job on the embedded default, from a fresh machine:
# install what is missing, build aurorafs and the project's demo OS (a
# Debian kernel and busybox, published as a Kairos-style release under
# build/demo/release), mount aurorafs on it, show what the mount offers,
# and boot the custom ISO straight from the mount under QEMU.
#
# Usage: tools/demo.sh [MOUNTPOINT]      (default /tmp/aurorafs-demo)
# env: DEMO_BOOT=0 to skip the QEMU boot.
# The mount stays up afterwards; unmount with: fusermount3 -u MOUNTPOINT
set -euo pipefail
cd "$(dirname "$0")/.."
MNT=${1:-/tmp/aurorafs-demo}

tools/deps.sh
[ -d build ] || meson setup build
ninja -C build
tools/demo-os/build.sh build/demo
. build/demo/demo.env

mkdir -p "$MNT"
mountpoint -q "$MNT" && fusermount3 -u "$MNT"
cat >build/demo-aurora.yaml <<YAML
# AuroraBoot config for the demo release (file:// stands in for GitHub)
release_server: file://$PWD/build/demo/release
repository: $DEMO_REPO
release_version: $DEMO_VERSION
artifact_version: $DEMO_VERSION
flavor: demo
flavor_release: "1.0"
state_dir: $PWD/build/demo-state
# the demo's mount stays up: no ProxyDHCP answering on this machine's
# network, no HTTP servers on every address (drop these to netboot from it)
disable_netboot: true
disable_http_server: true
YAML
cat >build/demo-cloud-config.yaml <<'YAML'
#cloud-config
hostname: [[ .node.name ]]
users:
  - name: kairos
    passwd: kairos
install:
  auto: true
YAML

echo "== mounting: build/fs/aurorafs --cloud-config ... --set node.name=demo-node build/demo-aurora.yaml $MNT"
build/fs/aurorafs --cloud-config build/demo-cloud-config.yaml --set node.name=demo-node \
	build/demo-aurora.yaml "$MNT"
ls -lR "$MNT"
echo "== the rendered cloud-config"
cat "$MNT/config.yaml"
echo "== the release ISO, checked against the release's checksum"
(cd "$MNT/iso" && sha256sum -c "$DEMO_ARTIFACT.iso.sha256")
echo "== the custom ISO carries it at /config.yaml"
isoinfo -R -i "$MNT/iso/$DEMO_ARTIFACT.custom.iso" -x /config.yaml
if [ "${DEMO_BOOT:-1}" != 0 ]; then
	echo "== booting $MNT/iso/$DEMO_ARTIFACT.custom.iso (BIOS, CD-ROM) under QEMU"
	tools/demo-os/boot.sh "$MNT/iso/$DEMO_ARTIFACT.custom.iso" bios cdrom
fi
echo "== mounted on $MNT (unmount with: fusermount3 -u $MNT)"
