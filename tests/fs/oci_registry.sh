#!/usr/bin/env bash
# oci_registry.sh - container images from a real registry: docker-registry
# on loopback, the demo image pushed by skopeo as OCI with gzip layers,
# with zstd layers, as Docker schema 2, and as a multi-arch index. Pulled
# by tag and by digest; platform choice; layers verified and flattening to
# the demo rootfs; one store shared by every pull (a layer is fetched
# once, a remount fetches nothing); the stored resolution when the
# registry is down; a corrupted blob refused; two pulls at once; the pull
# time and the disk used.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/oci_lib.sh"
need_skopeo
ensure_demo

start_registry reg
R=127.0.0.1:$reg_PORT
push "oci:$DEMO_IMAGE_OCI:latest" "docker://$R/demo:latest"
push "oci:$DEMO_IMAGE_OCI:$DEMO_VERSION" "docker://$R/demo:$DEMO_VERSION"
push "oci:$DEMO_IMAGE_OCI_ZSTD:latest" "docker://$R/demo:zstd" --preserve-digests
push "oci:$DEMO_IMAGE_OCI:latest" "docker://$R/demo:v2s2" --format v2s2
push "oci:$DEMO_IMAGE_OCI:multi" "docker://$R/demo:multi" --all
push "oci:$DEMO_IMAGE_OCI:latest" "docker://$R/other/name:1"
pass "skopeo pushed the demo image to docker-registry on $R"

# by tag, from an empty store: time it
S=$T/state
start=$(date +%s%N)
must_pull "$S" "$R/demo:latest" --progress
end=$(date +%s%N)
check_image "by tag"
[ "$(out manifest)" = "$DEMO_IMAGE_MANIFEST_GZIP" ] || fail "manifest $(out manifest)"
grep -q "3 of 3 layers fetched from the registry" "$PULL_LOG" || fail "$(cat "$PULL_LOG")"
[ "$(blob_gets "$reg_LOG")" = 4 ] || fail "expected 4 blob GETs (config + 3 layers), got $(blob_gets "$reg_LOG")"
read -r _ got total < <(grep '^progress' "$PULL_LOG" | tail -n1)
if [ "$total" -le 0 ] || [ "$got" != "$total" ]; then fail "progress ended at $got of $total"; fi
disk=$(du -sb "$S" | cut -f1)
awk -v ns=$((end - start)) -v b="$total" -v l="$DEMO_IMAGE_SIZE" -v d="$disk" 'BEGIN {
	printf "pulled %d compressed bytes in %.2f s (%.0f MB/s; %.0f MB/s of tar written); store: %d bytes for %d layer bytes\n",
		b, ns / 1e9, b / ns * 1e3, l / ns * 1e3, d, l }' >"$T/numbers"
pass "$(cat "$T/numbers")"
# nothing but layers, configs, resolutions and lock files in the store
leftovers=$(find "$S" -type f ! -name '*.tar' ! -name '*.lock' ! -path '*/oci/configs/*' ! -path '*/oci/refs/*')
[ -z "$leftovers" ] || fail "unexpected files in the store: $leftovers"

# the same tag again: the manifest is asked for, no blob is fetched
must_pull "$S" "$R/demo:latest"
grep -q "0 of 3 layers fetched" "$PULL_LOG" || fail "$(cat "$PULL_LOG")"
[ "$(blob_gets "$reg_LOG")" = 4 ] || fail "a second pull fetched blobs"
pass "pulling again: the manifest only, no blob"

# by digest, under another name: same layers, nothing fetched
must_pull "$S" "$R/other/name@$DEMO_IMAGE_MANIFEST_GZIP"
check_image "by digest"
[ "$(blob_gets "$reg_LOG")" = 4 ] || fail "by digest fetched blobs again"
# tag and digest: the digest wins
must_pull "$S" "$R/demo:nonexistent-tag@$DEMO_IMAGE_MANIFEST_GZIP"
[ "$(out manifest)" = "$DEMO_IMAGE_MANIFEST_GZIP" ] || fail "tag@digest"
pass "name@digest and name:tag@digest pull the pinned manifest"

# zstd layers and Docker schema 2: new stores so every layer is fetched
must_pull "$T/state-zstd" "$R/demo:zstd"
check_image "zstd layers"
[ "$(out manifest)" = "$DEMO_IMAGE_MANIFEST_ZSTD" ] || fail "zstd manifest $(out manifest)"
must_pull "$T/state-v2s2" "$R/demo:v2s2"
check_image "Docker schema 2"
# in the shared store, the zstd image has the gzip image's diff_ids
must_pull "$S" "$R/demo:zstd"
grep -q "0 of 3 layers fetched" "$PULL_LOG" || fail "zstd image refetched layers"
pass "gzip and zstd variants share the stored layers (same diff_ids)"

# a multi-arch index: the host's platform, --arch, and none that fits
must_pull "$T/state-multi" "$R/demo:multi"
check_image "index, host platform"
[ "$(out arch)" = amd64 ] || fail "arch $(out arch)"
must_pull "$T/state-multi" "$R/demo:multi" --arch arm64
[ "$(out arch)" = arm64 ] || fail "arm64 gave $(out arch)"
[ "$(diff_ids)" = "$DEMO_IMAGE_DIFF_IDS" ] || fail "arm64 layers"
must_pull "$T/state-multi" "$R/demo:multi" --arch aarch64
[ "$(out arch)" = arm64 ] || fail "aarch64 gave $(out arch)"
must_refuse "$T/state-multi" "$R/demo:multi" "no image for linux/riscv64; available: linux/amd64, linux/arm64/v8" --arch riscv64
pass "index: amd64 for the host, arm64 on request; riscv64 refused listing the platforms"

# what is not there
must_refuse "$T/x" "$R/demo:nope" "HTTP 404 \(no such repository, tag or digest\)"
must_refuse "$T/x" "$R/nope" "no such repository"
must_refuse "$T/x" "$R/Demo" "repository name must be lowercase"
must_refuse "$T/x" "$R/demo@sha256:1234" "sha256: and 64"
[ ! -e "$T/x/layers" ] || [ -z "$(ls -A "$T/x/layers")" ] || fail "failed pulls left layers"
pass "missing tag/repository and malformed references refused with a clear error"

# the registry is down: the stored resolution serves the tag (with a
# warning); a digest-pinned source does not even ask
kill_group "$reg_PID"
must_pull "$S" "$R/demo:latest"
[ "$(out origin)" = cache ] || fail "origin $(out origin)"
grep -q "warning: .*using the resolution stored at" "$PULL_LOG" || fail "no warning: $(cat "$PULL_LOG")"
check_image "registry down, tag"
must_pull "$S" "$R/other/name@$DEMO_IMAGE_MANIFEST_GZIP"
[ "$(out origin)" = cache ] || fail "pinned origin $(out origin)"
grep -q "pinned by digest and already stored" "$PULL_LOG" || fail "$(cat "$PULL_LOG")"
must_refuse "$T/empty" "$R/demo:latest" "Couldn't connect|Connection refused"
pass "registry down: cached resolution used and said so; a fresh store fails clearly"

# a corrupted blob in the registry's storage is refused, nothing stored
start_registry reg2
R2=127.0.0.1:$reg2_PORT
push "oci:$DEMO_IMAGE_OCI:latest" "docker://$R2/demo:latest"
big=$(python3 - "$DEMO_IMAGE_OCI" <<'PY'
import json, os, sys
lay = sys.argv[1]
idx = json.load(open(os.path.join(lay, "index.json")))
m = json.load(open(os.path.join(lay, "blobs", "sha256", idx["manifests"][0]["digest"][7:])))
print(max(m["layers"], key=lambda l: l["size"])["digest"][7:])
PY
)
data=$(find "$reg2_DATA" -path "*/blobs/sha256/*/$big/data")
[ -f "$data" ] || fail "no blob data for $big in the registry"
printf 'X' | dd of="$data" bs=1 seek=5000 conv=notrunc status=none
must_refuse "$T/state-bad" "$R2/demo:latest" "blob digest mismatch|corrupt gzip"
n=$(find "$T/state-bad/layers" -name '*.tar*' | wc -l)
[ "$n" -le 2 ] || fail "$n layer files after a refused pull"
for f in "$T/state-bad/layers"/*.tar; do
	[ -f "$f" ] || continue
	[ "sha256:$(sha256sum "$f" | cut -d' ' -f1)" != "sha256:$big" ] || fail "corrupt layer stored"
done
find "$T/state-bad/layers" -name '*.tmp' | grep -q . && fail "temporary file left behind"
pass "corrupted blob refused ($(grep -o -E 'blob digest mismatch|corrupt gzip[^,]*' "$PULL_LOG" | head -1)); the good layers kept, no partial file"

# two pulls at once into one store: each layer is fetched once
start_registry reg3
R3=127.0.0.1:$reg3_PORT
push "oci:$DEMO_IMAGE_OCI:latest" "docker://$R3/demo:latest"
S3=$T/state-shared
"$AURORAFS_PULL" "$S3" "$R3/demo:latest" >"$T/a.out" 2>"$T/a.log" &
a=$!
"$AURORAFS_PULL" "$S3" "$R3/demo:latest" >"$T/b.out" 2>"$T/b.log" &
b=$!
wait $a || fail "first concurrent pull: $(cat "$T/a.log")"
wait $b || fail "second concurrent pull: $(cat "$T/b.log")"
cmp -s "$T/a.out" "$T/b.out" || fail "the two pulls disagree"
gets=$(grep -c '"GET /v2/demo/blobs/sha256:[0-9a-f]* HTTP/1.1" 200 [0-9]\{4,\}' "$reg3_LOG" || true)
layer_gets=$(grep '"GET /v2/demo/blobs/' "$reg3_LOG" | grep -c -v "$(cut -d: -f2 <<<"$DEMO_IMAGE_CONFIG_DIGEST")" || true)
[ "$layer_gets" = 3 ] || fail "two concurrent pulls made $layer_gets layer GETs (want 3)"
pass "two concurrent pulls, one store: 3 layer GETs in all ($gets large bodies)"
