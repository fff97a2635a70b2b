#!/usr/bin/env bash
# squashfs_incr.sh - incremental squashfs builds through the mount: the
# /netboot/rootfs.squashfs of an image, then of a new tag with one small
# layer more, built from the first one's blocks (the log says how many it
# copied and compressed) and byte for byte what a fresh state_dir builds
# for that tag; unsquashfs reads it back as the layers say. A corrupt index
# in the store is warned about and left unused, with the same bytes.
. "$(dirname "$0")/lib.sh"
ensure_demo

M=$T/mnt
S=$T/state
L=$T/layout

# -- the layout: the demo image, a layer of mixed data, then small layers ----
# (umoci raw add-layer: umoci 0.4.7's insert writes tars cut short)
cp -a "$DEMO_IMAGE_OCI" "$L"
mkdir -p "$T/big/opt/data" "$T/one/etc" "$T/two/etc"
python3 - "$T/big/opt/data" <<'PY'
import os, random, sys
r = random.Random(11)
words = [b"kairos", b"aurorafs", b"squashfs", b"layer", b"block", b"\n"]
for i in range(45):
    n = r.choice([r.randint(0, 8 << 10), r.randint(8 << 10, 300 << 10),
                  r.randint(1 << 20, 2 << 20)])
    kind = i % 3
    if kind == 0:
        data = r.randbytes(n)
    elif kind == 1:
        data = b" ".join(r.choice(words) for _ in range(n // 6))[:n]
    else:
        data = bytes(n // 2) + r.randbytes(n - n // 2)
    with open(os.path.join(sys.argv[1], f"f{i:02}"), "wb") as f:
        f.write(data)
PY
echo "one" >"$T/one/etc/incr-one"
echo "two" >"$T/two/etc/incr-two"
for l in big one two; do tar --numeric-owner -C "$T/$l" -cf "$T/$l.tar" .; done
umoci raw add-layer --image "$L:v3.0.0" --tag big "$T/big.tar"
umoci raw add-layer --image "$L:big" --tag one "$T/one.tar"
umoci raw add-layer --image "$L:one" --tag two "$T/two.tar"

# squashfs_of TAG STATE_DIR OUT: the tag's /netboot/rootfs.squashfs
squashfs_of() {
	mount_afs "$M" --set "container_image=oci:$L:$1" --set state_dir="$2"
	cp "$M/netboot/rootfs.squashfs" "$3"
	unmount_afs "$M" "$AFS_PID"
}

# reused: "N M" from the log line of the last build that used a cache
reused() {
	sed -n 's/.*squashfs of the rootfs: \([0-9]*\) blocks .* copied from the last image, \([0-9]*\) .*/\1 \2/p' "$AFS_LOG"
}

# -- a first build, then a new tag built from its blocks --------------------
squashfs_of big "$S" "$T/big.sqfs"
[ -z "$(reused)" ] || fail "the first build had a cache: $(reused)"
[ "$(grep -l AURSQIX1 "$S"/store/* | wc -l)" = 1 ] || fail "no index kept next to the first squashfs"
squashfs_of one "$S" "$T/one.sqfs"
read -r copied compressed <<<"$(reused)"
[ -n "${copied:-}" ] || fail "the new tag did not use the cache: $(grep squashfs "$AFS_LOG")"
if [ "$copied" -lt 20 ] || [ "$compressed" -gt 2 ]; then
	fail "$copied blocks copied and $compressed compressed for one small layer"
fi
squashfs_of one "$T/cold" "$T/one-cold.sqfs"
cmp "$T/one.sqfs" "$T/one-cold.sqfs" || fail "the squashfs built from the cache is not the cold build's"
pass "a new tag: $copied blocks copied, $compressed compressed, the cold build's bytes"

rm -rf "$T/want" "$T/sq"
cp -a "$DEMO_ROOTFS" "$T/want"
cp -a "$T/big/." "$T/one/." "$T/want/"
unsquashfs -q -n -d "$T/sq" "$T/one.sqfs" >/dev/null || fail "unsquashfs cannot read the squashfs"
diff -r --no-dereference "$T/sq" "$T/want" >"$T/diff" || fail "the squashfs is not the layers: $(head -3 "$T/diff")"
pass "unsquashfs reads the new tag's squashfs as its layers"

# -- a corrupt index: warned about, not used, the same bytes -----------------
# (byte 100: in the first entry, after the 88-byte header)
grep -l AURSQIX1 "$S"/store/* | while read -r f; do
	printf '\xff' | dd of="$f" bs=1 seek=100 conv=notrunc status=none
done
squashfs_of two "$S" "$T/two.sqfs"
grep -q "warning: squashfs cache .*do not match their digest: not used" "$AFS_LOG" ||
	fail "no warning about the corrupt index: $(grep squashfs "$AFS_LOG")"
[ -z "$(reused)" ] || fail "a corrupt index was used"
squashfs_of two "$T/cold2" "$T/two-cold.sqfs"
cmp "$T/two.sqfs" "$T/two-cold.sqfs" || fail "a corrupt cache changed the bytes"
pass "a corrupt index in the store: a warning, a full build, the same bytes"
