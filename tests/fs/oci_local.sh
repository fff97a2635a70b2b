#!/usr/bin/env bash
# oci_local.sh - images on disk: the demo OCI layouts (default tag, named
# tags, zstd layers, a multi-arch index), OCI and docker archives (the
# demo's own and skopeo's), a layout written by skopeo, dir: sources; and
# hostile ones refused: a blob symlinked out of the layout, a layout whose
# blobs do not match their digests, archives with "../" or absolute
# member names, a docker-archive naming a member outside it, an index.json
# over the size bound.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/oci_lib.sh"
ensure_demo

S=$T/state
must_pull "$S" "oci:$DEMO_IMAGE_OCI"
check_image "layout, default tag"
[ "$(out origin)" = layout ] || fail "origin $(out origin)"
[ "$(out manifest)" = "$DEMO_IMAGE_MANIFEST_GZIP" ] || fail "manifest $(out manifest)"
must_pull "$S" "oci://$DEMO_IMAGE_OCI:$DEMO_VERSION"
check_image "layout, tag $DEMO_VERSION"
grep -q "all 3 layers already stored" "$PULL_LOG" || fail "layers read again: $(cat "$PULL_LOG")"
must_pull "$T/state-zstd" "oci:$DEMO_IMAGE_OCI_ZSTD:latest"
check_image "layout, zstd layers"
must_pull "$S" "oci:$DEMO_IMAGE_OCI:multi" --arch arm64
[ "$(out arch)" = arm64 ] || fail "multi arm64: $(out arch)"
must_refuse "$S" "oci:$DEMO_IMAGE_OCI:nope" "no image tagged 'nope' in the layout; tags: latest, $DEMO_VERSION, multi"
pass "layout tags: default, named, multi-arch; a missing tag lists the tags"

must_pull "$T/state-oa" "ocifile:$DEMO_IMAGE_OCI_ARCHIVE"
check_image "OCI archive"
must_pull "$T/state-da" "ocifile:$DEMO_IMAGE_DOCKER_ARCHIVE"
check_image "docker-archive"
[ "$(out origin)" = archive ] || fail "origin $(out origin)"
must_pull "$T/state-da" "file:$DEMO_IMAGE_DOCKER_ARCHIVE"
grep -q "all 3 layers already stored" "$PULL_LOG" || fail "file: read layers again"

if command -v skopeo >/dev/null; then
	skopeo copy -q "oci:$DEMO_IMAGE_OCI:latest" "docker-archive:$T/sk-docker.tar:demo/x:1" ||
		fail "skopeo docker-archive"
	skopeo copy -q "oci:$DEMO_IMAGE_OCI:latest" "oci-archive:$T/sk-oci.tar:sometag" ||
		fail "skopeo oci-archive"
	skopeo copy -q "oci:$DEMO_IMAGE_OCI_ZSTD:latest" "oci:$T/sk-layout:foo" ||
		fail "skopeo oci layout"
	must_pull "$T/state-sk1" "ocifile:$T/sk-docker.tar"
	check_image "skopeo docker-archive"
	must_pull "$T/state-sk2" "ocifile:$T/sk-oci.tar"
	check_image "skopeo OCI archive"
	must_pull "$T/state-sk3" "oci:$T/sk-layout:foo"
	check_image "skopeo OCI layout"
else
	log "no skopeo: archives written by skopeo not tried"
fi

# an OCI archive made with tar(1): "./" entries are the root, not unsafe
tar -C "$DEMO_IMAGE_OCI" -cf "$T/tar-oci.tar" .
[ "$(tar -tf "$T/tar-oci.tar" | awk 'NR == 1')" = ./ ] || fail "tar wrote no ./ entry"
must_pull "$T/state-tar" "ocifile:$T/tar-oci.tar"
check_image "OCI archive by tar(1) with ./ entries"

# dir: sources are directories, not images
must_pull "$S" "dir:$DEMO_ROOTFS"
if [ "$(out dir)" != "$DEMO_ROOTFS" ] || [ "$(out origin)" != dir ]; then fail "dir: $(cat "$PULL_OUT")"; fi
grep -q '^layer' "$PULL_OUT" && fail "dir: has layers"
must_refuse "$S" "dir:$T/none" "No such file"
must_refuse "$S" "dir:$DEMO_IMAGE_DOCKER_ARCHIVE" "Not a directory"
must_refuse "$S" "ocifile:$T/none.tar" "No such file"
must_refuse "$S" "oci:$DEMO_ROOTFS" "not an OCI image layout"
pass "dir: gives the directory; missing paths and wrong kinds refused"

# ---- hostile layouts ----
big=$(python3 - "$DEMO_IMAGE_OCI" <<'PY'
import json, os, sys
lay = sys.argv[1]
idx = json.load(open(os.path.join(lay, "index.json")))
m = json.load(open(os.path.join(lay, "blobs", "sha256", idx["manifests"][0]["digest"][7:])))
print(max(m["layers"], key=lambda l: l["size"])["digest"][7:], m["config"]["digest"][7:])
PY
)
read -r big cfg <<<"$big"

# a blob that is a symlink out of the layout is not followed
L=$T/evil-link
cp -a "$DEMO_IMAGE_OCI" "$L"
cp "$L/blobs/sha256/$big" "$T/outside-blob"
ln -sf "$T/outside-blob" "$L/blobs/sha256/$big"
must_refuse "$T/s-link" "oci:$L" "blobs/sha256/$big': Invalid cross-device link"
[ -z "$(find "$T/s-link/layers" -name "*.tar" -size +5M 2>/dev/null)" ] || fail "the big layer got stored"
# ... while a symlink staying inside it is fine
mkdir -p "$L/data"
mv "$T/outside-blob" "$L/data/$big"
ln -sf "../../data/$big" "$L/blobs/sha256/$big"
must_pull "$T/s-link" "oci:$L"
check_image "layout with an in-layout symlink"
pass "layout blob symlinked outside refused (RESOLVE_BENEATH), inside accepted"

# blobs that are not what their digests say
L=$T/evil-bytes
cp -a "$DEMO_IMAGE_OCI" "$L"
printf 'X' | dd of="$L/blobs/sha256/$big" bs=1 seek=3000 conv=notrunc status=none
must_refuse "$T/s-bytes" "oci:$L" "blob digest mismatch|corrupt gzip"
[ -z "$(find "$T/s-bytes" -name '*.tmp')" ] || fail "temporary file left"
L=$T/evil-config
cp -a "$DEMO_IMAGE_OCI" "$L"
sed -i 's/amd64/arm64/' "$L/blobs/sha256/$cfg"
must_refuse "$T/s-cfg" "oci:$L" "blob sha256:$cfg does not match its digest"
L=$T/evil-index
mkdir -p "$L/blobs/sha256"
cp "$DEMO_IMAGE_OCI/oci-layout" "$L/"
printf '{"schemaVersion":2,"manifests":[{"digest":"sha256:../../../../etc/passwd","size":1}]}' >"$L/index.json"
must_refuse "$T/s-idx" "oci:$L" "is not sha256:<64 hex>"
python3 -c 'import sys; sys.stdout.write("{\"manifests\":[" + " " * (5 << 20) + "]}")' >"$L/index.json"
must_refuse "$T/s-idx" "oci:$L" "File too large"
pass "changed layer, changed config, traversal digest and oversized index.json refused"

# ---- hostile archives ----
evil_tar() { # OUT NAME...: a tar of the demo OCI layout plus members NAME
	python3 - "$DEMO_IMAGE_OCI" "$@" <<'PY'
import io, os, sys, tarfile
lay, out, extra = sys.argv[1], sys.argv[2], sys.argv[3:]
with tarfile.open(out, "w") as t:
    for name in extra:
        i = tarfile.TarInfo(name)
        i.size = 4
        t.addfile(i, io.BytesIO(b"evil"))
    t.add(lay, arcname=".")
PY
}
evil_tar "$T/dotdot.tar" "../escape"
must_refuse "$T/s-tar" "ocifile:$T/dotdot.tar" "unsafe member name '../escape'"
evil_tar "$T/abs.tar" "/etc/evil"
must_refuse "$T/s-tar" "ocifile:$T/abs.tar" "unsafe member name '/etc/evil'"
evil_tar "$T/deep.tar" "blobs/../../x"
must_refuse "$T/s-tar" "ocifile:$T/deep.tar" "unsafe member name"
python3 - "$T/dm.tar" <<'PY'
import io, sys, tarfile
with tarfile.open(sys.argv[1], "w") as t:
    for name, data in (("manifest.json", b'[{"Config":"c.json","Layers":["../../etc/passwd"]}]'),):
        i = tarfile.TarInfo(name)
        i.size = len(data)
        t.addfile(i, io.BytesIO(data))
PY
must_refuse "$T/s-tar" "ocifile:$T/dm.tar" "manifest.json names an unsafe member '../../etc/passwd'"
head -c 100000 "$DEMO_IMAGE_DOCKER_ARCHIVE" >"$T/short.tar"
must_refuse "$T/s-tar" "ocifile:$T/short.tar" "no member manifest.json|truncated|Truncated|unexpected end"
[ ! -e "$T/s-tar/layers" ] || [ -z "$(find "$T/s-tar/layers" -name '*.tar')" ] || fail "hostile archives stored layers"
pass "archives with ../, absolute or escaping member names, and truncated ones refused"
