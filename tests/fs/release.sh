#!/usr/bin/env bash
# release.sh - the release ISO through a real mount: byte identity (direct
# and through a GitHub-like redirect), the checksum file, laziness, reuse
# of the cache after a remount, the cloud-config file, read-only-ness, and
# the daemon and mount(8) entry points.
. "$(dirname "$0")/lib.sh"
ensure_demo

REL=$DEMO_RELEASE_DIR
ISO=$DEMO_ARTIFACT.iso
start_httpd web "$DEMO_RELEASE_ROOT"
# shellcheck disable=SC2207
ARGS=($(release_args "$web_URL"))
STATE=$T/state
M=$T/mnt

cat >"$T/cc.yaml" <<'YAML'
#cloud-config
hostname: [[ .node.name ]]
token: "[[[ .token ]]]"
runcmd: [[echo, "{{ .NotATemplate }}"]]
YAML

mount_afs "$M" "${ARGS[@]}" --set state_dir="$STATE" --set node.name=n1 \
	--set token=abc --cloud-config "$T/cc.yaml"
# the mount opens the release: its size (one byte) and published checksum
[ "$(body_bytes "$web_LOG" "$ISO")" -le 1 ] || fail "mounting fetched the ISO"
[ "$(body_bytes "$web_LOG")" -le $((1 + $(stat -c %s "$REL/$ISO.sha256"))) ] ||
	fail "mounting fetched more than a byte and the checksum"
pass "mount fetched a byte of the ISO and its checksum"

# stat: the true size, no download
ls "$M/iso" | grep -qx "$ISO" || fail "no $ISO in: $(ls "$M/iso")"
[ "$(stat -c %s "$M/iso/$ISO")" = "$(stat -c %s "$REL/$ISO")" ] || fail "size differs"
sent=$(body_bytes "$web_LOG" "$ISO")
[ "$sent" -le 1 ] || fail "stat fetched $sent bytes of the ISO"
pass "stat shows the true size, fetched $sent byte(s)"
# the checksum file: sha256sum format, right digest, no ISO download
expected="$(cut -d' ' -f1 "$REL/$ISO.sha256")  $ISO"
[ "$(cat "$M/iso/$ISO.sha256")" = "$expected" ] || fail "checksum file: $(cat "$M/iso/$ISO.sha256")"
[ "$(body_bytes "$web_LOG" "$ISO")" -le 1 ] || fail "reading the checksum file fetched the ISO"
pass "checksum file is '$expected'"

# a full listing sizes the custom ISO too: that reads the base's metadata
ls -l "$M" "$M/iso" >/dev/null
sent=$(body_bytes "$web_LOG" "$ISO")
[ "$sent" -le $((4 << 20)) ] || fail "ls -l fetched $sent bytes of the ISO"
pass "ls -l fetched $sent bytes (the base's metadata, for the custom ISO's size)"

# the netboot files are views of the ISO's own
cmp "$M/netboot/kernel" "$DEMO_OUTDIR/kernel" || fail "netboot/kernel differs from the ISO's"
cmp "$M/netboot/initrd" "$DEMO_OUTDIR/initrd" || fail "netboot/initrd differs"
cmp "$M/netboot/rootfs.squashfs" "$DEMO_OUTDIR/rootfs.squashfs" || fail "netboot/rootfs.squashfs differs"
pass "netboot kernel, initrd, rootfs.squashfs are the ISO's files"

# the cloud-config: rendered with --set, other syntax untouched
printf '#cloud-config\nhostname: n1\ntoken: "abc"\nruncmd: [[echo, "{{ .NotATemplate }}"]]\n' >"$T/cc.want"
cmp "$M/config.yaml" "$T/cc.want" || fail "config.yaml: $(cat "$M/config.yaml")"
# --set pairs that only the template uses are not unknown config keys
if grep "unknown key" "$AFS_LOG"; then fail "template data warned about as unknown keys"; fi
pass "config.yaml rendered"

# the status report is read anew at each open, and empty with nothing built
[ "$(stat -c %s "$M/status")" = 0 ] || fail "status has a size"
cat "$M/status" >"$T/status" || fail "status unreadable"
[ ! -s "$T/status" ] || fail "status of a release mount: $(cat "$T/status")"
pass "status readable"

# byte identity and the verified cache
cmp "$M/iso/$ISO" "$REL/$ISO" || fail "ISO differs from the release asset"
(cd "$M/iso" && sha256sum -c "$ISO.sha256") >/dev/null || fail "sha256sum -c failed"
grep -q "complete and verified" "$AFS_LOG" || fail "no verification logged"
pass "ISO byte-identical and verified"

# read-only
if (echo x >"$M/iso/$ISO") 2>"$T/err"; then fail "write succeeded"; fi
grep -qi "read-only" "$T/err" || fail "write error was: $(cat "$T/err")"
if touch "$M/new" 2>/dev/null; then fail "create succeeded"; fi
pass "writes fail with EROFS"

# remount: a full read fetches nothing
unmount_afs "$M" "$AFS_PID"
before=$(requests "$web_LOG")
mount_afs "$M" "${ARGS[@]}" --set state_dir="$STATE"
cmp "$M/iso/$ISO" "$REL/$ISO" || fail "ISO differs after remount"
[ "$(requests "$web_LOG")" = "$before" ] || fail "remount talked to the server"
pass "remount reuses the cache without any request"
unmount_afs "$M" "$AFS_PID"

# through a redirect, like github.com
start_httpd gh "$DEMO_RELEASE_ROOT" --redirect
# shellcheck disable=SC2207
GH_ARGS=($(release_args "$gh_URL"))
mount_afs "$M" "${GH_ARGS[@]}" --set state_dir="$T/state-gh"
cmp "$M/iso/$ISO" "$REL/$ISO" || fail "ISO differs through a redirect"
grep -q '"status": 302' "$gh_LOG" || fail "the redirect was not exercised"
pass "redirects are followed"
unmount_afs "$M" "$AFS_PID"

# daemon mode: the command returns once mounted, the next line reads
"$AURORAFS" "${ARGS[@]}" --set state_dir="$STATE" --log-file "$T/aurorafs-daemon.log" "$M" ||
	fail "daemon mode failed"
at_exit "unmount_afs '$M'"
cmp "$M/iso/$ISO" "$REL/$ISO" || fail "daemon mode: ISO differs"
pass "daemon mode"
unmount_afs "$M"
wait_for 10 eval "! pgrep -f 'aurorafs.*$M' >/dev/null" || fail "daemon kept running"

# mount(8) and an fstab-style line, through mount.fuse3 ("fuse.aurorafs"
# needs aurorafs in mount's PATH; "fuse" with PROGRAM#SOURCE does not)
cat >"$T/aurora.yaml" <<YAML
release_server: $web_URL
repository: $DEMO_REPO
release_version: $DEMO_VERSION
artifact_version: $DEMO_VERSION
flavor: demo
flavor_release: "1.0"
state_dir: $STATE
YAML
mount -t fuse "$AURORAFS#$T/aurora.yaml" "$M" \
	-o allow_other,set.iso.override_name=lab,log_file="$T/aurorafs-mount.log" ||
	fail "mount -t fuse failed"
at_exit "unmount_afs '$M'"
cmp "$M/iso/lab.iso" "$REL/$ISO" || fail "mount: iso/lab.iso differs"
findmnt -n -o FSTYPE,OPTIONS "$M" | grep -q '^fuse.aurorafs *ro,.*allow_other' ||
	fail "not a read-only fuse.aurorafs mount: $(findmnt -n -o FSTYPE,OPTIONS "$M")"
pass "mount -t fuse 'aurorafs#CONFIG' with aurorafs options in -o"
unmount_afs "$M"

# the config and the cloud-config from URLs, and the cloud-config on stdin
mkdir -p "$T/web"
cp "$T/aurora.yaml" "$T/web/aurora.yaml"
cp "$T/cc.yaml" "$T/web/cc.yaml"
start_httpd cfg "$T/web"
mount_afs "$M" --set node.name=n2 --cloud-config "$cfg_URL/cc.yaml" "$cfg_URL/aurora.yaml"
grep -qx 'hostname: n2' "$M/config.yaml" || fail "cloud-config from a URL: $(cat "$M/config.yaml")"
cmp "$M/iso/$ISO" "$REL/$ISO" || fail "config from a URL: ISO differs"
unmount_afs "$M" "$AFS_PID"
setsid "$AURORAFS" -f --set node.name=n3 --cloud-config - "file://$T/aurora.yaml" "$M" \
	<"$T/cc.yaml" >"$T/aurorafs-stdin.log" 2>&1 &
pid=$!
wait_for 15 is_mounted "$M" || fail "mount with the cloud-config on stdin failed: $(cat "$T/aurorafs-stdin.log")"
grep -qx 'hostname: n3' "$M/config.yaml" || fail "cloud-config from stdin: $(cat "$M/config.yaml")"
unmount_afs "$M" "$pid"
if "$AURORAFS" -f "$cfg_URL/missing.yaml" "$M" 2>"$T/err"; then fail "a missing config URL was accepted"; fi
grep -q "missing.yaml': HTTP 404" "$T/err" || fail "missing config URL: $(cat "$T/err")"
pass "config and cloud-config from http and file URLs, cloud-config from stdin"
