#!/usr/bin/env bash
# mksquashfs.sh - aurorafs-mksquashfs on a real directory (devices, fifos,
# sockets, hard links, long symlinks, xattrs, owners, a 1,500-name
# directory) and on layer tars with whiteouts: what unsquashfs extracts,
# what the kernel mounts and what GRUB reads is the tree (treecmp.py), and
# sqfsdiff finds no difference from mksquashfs's image of the same tree;
# an image built from an earlier one's blocks (-i, -r) is the same bytes.
# Needs root (devices, owners, xattrs, loop mounts): else exit 77.
set -euo pipefail

: "${MKSQUASHFS:?MKSQUASHFS must name aurorafs-mksquashfs}"
HERE=$(cd "$(dirname "$0")" && pwd)
TREECMP=$HERE/treecmp.py

[ "$(id -u)" = 0 ] || { echo "SKIP: needs root"; exit 77; }
for t in unsquashfs mksquashfs sqfsdiff setfattr tar python3; do
	command -v "$t" >/dev/null || { echo "SKIP: no $t"; exit 77; }
done

T=$(mktemp -d /tmp/aurorafs-sqfs.XXXXXX)
cleanup() {
	mountpoint -q "$T/mnt" 2>/dev/null && umount "$T/mnt"
	rm -rf "$T"
}
trap cleanup EXIT

log() { printf '[%s] %s\n' "$(date +%T)" "$*" >&2; }
fail() { log "FAIL: $*"; exit 1; }
pass() { log "ok: $*"; }

# extract IMAGE DIR: unsquashfs's copy of IMAGE in DIR (replaced)
extract() {
	rm -rf "$2"
	unsquashfs -no-progress -d "$2" "$1" >/dev/null
}

make_tree() {
	local s=$T/src i
	mkdir -p "$s"/{bin,etc,dev,run,many} "$s/with space/"$'\xc3\xbc\x01'
	printf 'odd' >"$s/with space/"$'\xc3\xbc\x01/\xff'

	head -c 3000000 /dev/urandom >"$s/bin/random"
	head -c 2000000 <(yes 'a line of text') >"$s/etc/text"
	: >"$s/empty"
	printf x >"$s/one"
	head -c 1048576 /dev/zero >"$s/exactly-a-block-of-zeros"
	truncate -s 5M "$s/sparse"
	printf 'tail' >>"$s/sparse"
	ln "$s/bin/random" "$s/bin/random2"
	ln "$s/bin/random" "$s/etc/random3"
	ln -s ../etc/text "$s/bin/text-link"
	ln -s "/$(printf 'x%.0s' $(seq 1 4000))" "$s/long-link"
	mknod "$s/dev/null" c 1 3
	mknod "$s/dev/sda" b 8 0
	mkfifo "$s/run/fifo"
	python3 -c 'import socket,sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])' "$s/run/sock"
	for i in $(seq 1 1500); do : >"$s/many/a-file-with-a-rather-long-name-$i"; done
	setfattr -n user.comment -v hello "$s/etc/text"
	setfattr -n security.capability -v 0sAQAAAgAgAAAAAAAAAAAAAAAAAAA= "$s/bin/random"
	setfattr -n trusted.overlay.opaque -v y "$s/etc"
	chown 1000:100 "$s/etc/text"
	chown -h 65534:65534 "$s/bin/text-link"
	chmod 1777 "$s/run"
	chmod 0700 "$s/dev"
	find "$s" -mindepth 1 -exec touch -h -d @1700000000 {} +
	touch -h -d @1000000000 "$s/bin/text-link"
	touch -d @1600000000 "$s"
}

make_tree

"$MKSQUASHFS" "$T/src" "$T/ours.sqfs"
extract "$T/ours.sqfs" "$T/x"
python3 "$TREECMP" "$T/src" "$T/x" || fail "unsquashfs: the image is not the tree"
pass "unsquashfs extracts the directory as it is"

mksquashfs "$T/src" "$T/theirs.sqfs" -noappend -no-progress -quiet -b 1M >/dev/null
# where the two writers chose a basic inode and the other an extended one
# (a sparse file, a directory just over 64 KiB), sqfsdiff says so and goes
# on: that is encoding, not content
rc=0
sqfsdiff -T --old "$T/ours.sqfs" --new "$T/theirs.sqfs" >"$T/diff" || rc=$?
[ "$rc" -le 1 ] || fail "sqfsdiff cannot compare the images"
if grep -v -E ' has (an extended|a basic) type$' "$T/diff"; then
	fail "sqfsdiff: differs from mksquashfs's image"
fi
pass "sqfsdiff: the same files, owners, modes and times as mksquashfs's image"

mkdir "$T/mnt"
if mount -t squashfs -o loop,ro "$T/ours.sqfs" "$T/mnt" 2>/dev/null; then
	python3 "$TREECMP" "$T/src" "$T/mnt" || fail "kernel: the mount is not the tree"
	umount "$T/mnt"
	pass "the kernel mounts the tree"
else
	log "cannot loop-mount a squashfs here: kernel check skipped"
fi

if command -v grub-fstest >/dev/null; then
	for f in etc/text bin/random sparse one exactly-a-block-of-zeros; do
		grub-fstest "$T/ours.sqfs" cat "/$f" >"$T/grub.out"
		cmp -s "$T/grub.out" "$T/src/$f" || fail "grub: /$f differs"
	done
	pass "GRUB reads the files"
fi

# the same bytes whatever the threads
"$MKSQUASHFS" -j 1 "$T/src" "$T/one-thread.sqfs"
cmp -s "$T/ours.sqfs" "$T/one-thread.sqfs" || fail "-j 1 gives other bytes"
pass "one thread or several: the same bytes"

# layers: an opaque directory and a whiteout over the first layer
tar --xattrs --xattrs-include='*' --numeric-owner -C "$T/src" -cf "$T/l1.tar" . 2>/dev/null
mkdir -p "$T/l2/bin" "$T/l2/etc"
: >"$T/l2/bin/.wh..wh..opq"
: >"$T/l2/etc/.wh.text"
echo new >"$T/l2/bin/new"
touch -d @1700000000 "$T/l2/bin/new" "$T/l2/bin" "$T/l2/etc" "$T/l2"
tar --numeric-owner -C "$T/l2" -cf "$T/l2.tar" .
"$MKSQUASHFS" -c xz "$T/l1.tar" "$T/l2.tar" "$T/layers.sqfs"
cp -a "$T/src" "$T/want"
rm -rf "$T/want/bin"/* "$T/want/etc/text" "$T/want/run/sock" # tar skips sockets
cp -a "$T/l2/bin/new" "$T/want/bin/new"
touch -h -d @1700000000 "$T/want/bin" "$T/want/etc" "$T/want/run" "$T/want"
chmod 0755 "$T/want/bin" "$T/want/etc" "$T/want"
setfattr -x trusted.overlay.opaque "$T/want/etc"
extract "$T/layers.sqfs" "$T/y"
python3 "$TREECMP" "$T/want" "$T/y" || fail "layers: the image is not the flattened tree"
pass "two layer tars, with an opaque directory and a whiteout (xz)"

# incremental: -i keeps the index, -r builds from an earlier image's
# blocks; the bytes are those of a build without it, even from a bad index
"$MKSQUASHFS" -i "$T/l1.tar" "$T/base.sqfs"
[ -s "$T/base.sqfs.index" ] || fail "-i wrote no index"
"$MKSQUASHFS" "$T/l1.tar" "$T/l2.tar" "$T/cold.sqfs"
"$MKSQUASHFS" -r "$T/base.sqfs" "$T/l1.tar" "$T/l2.tar" "$T/warm.sqfs" 2>"$T/err"
grep -q -E "^cache: [1-9][0-9]* blocks .* reused, .* compressed, 0 refused" "$T/err" ||
	fail "the blocks of the first image were not reused: $(cat "$T/err")"
cmp -s "$T/warm.sqfs" "$T/cold.sqfs" || fail "-r gives other bytes"
# (byte 200: in the second entry, after the 88-byte header)
printf 'X' | dd of="$T/base.sqfs.index" bs=1 seek=200 conv=notrunc status=none
"$MKSQUASHFS" -r "$T/base.sqfs" "$T/l1.tar" "$T/l2.tar" "$T/warm2.sqfs" 2>"$T/err"
grep -q "do not match their digest: not used" "$T/err" || fail "a corrupt index is not warned about"
cmp -s "$T/warm2.sqfs" "$T/cold.sqfs" || fail "a corrupt index changes the bytes"
pass "-i and -r: the blocks of an earlier image, the same bytes, a bad index refused"

# errors: nothing is left behind
if "$MKSQUASHFS" "$T/nowhere" "$T/bad.sqfs" 2>"$T/err"; then
	fail "a missing input succeeds"
fi
grep -q "nowhere" "$T/err" || fail "the message does not name the input"
head -c 10000 "$T/l1.tar" >"$T/cut.tar"
if "$MKSQUASHFS" "$T/cut.tar" "$T/bad.sqfs" 2>"$T/err"; then
	fail "a truncated tar succeeds"
fi
[ -z "$(find "$T" -maxdepth 1 -name 'bad.sqfs*')" ] || fail "a failed build left a file"
pass "bad input fails, naming it, and leaves nothing"
